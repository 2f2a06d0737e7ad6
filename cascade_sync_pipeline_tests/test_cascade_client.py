"""CascadeClient against the Cascade emulator over real HTTP: paging, chunked filters, partial
updates, idempotent creates under lost answers, rate-limit waits, retries and error messages."""

from __future__ import annotations

import time
from datetime import date

import pytest

from cascade_sync_pipeline.cascade import CascadeApiError, CascadeClient, ExternalRef, changed_fields
from cascade_sync_pipeline.cascade.client import _retry_after_seconds
from cascade_sync_pipeline.config import CascadeConnection
from cascade_sync_pipeline.http import RetryPolicy, SourceApiError
from cascade_sync_pipeline.sandbox.cascade import CascadeEmulator
from cascade_sync_pipeline.sandbox.server import EmulatorServer, Fault
from cascade_sync_pipeline_tests.helpers import AppSwitch

SECRET = "s3cr3t-cascade-token-value"
READ_TOKEN = "reader-token"


@pytest.fixture(scope="module")
def switch():
    switch = AppSwitch()
    with EmulatorServer(switch) as srv:
        switch.url = srv.url + "/api/v2"
        yield switch


@pytest.fixture
def emulator(switch) -> CascadeEmulator:
    emulator = CascadeEmulator(tokens={SECRET: "write", READ_TOKEN: "read"}, today=date(2027, 7, 2))
    switch.app = emulator.app
    return emulator


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(switch, emulator, sleeps):
    with CascadeClient(switch.url, SECRET, sleep=sleeps.append, page_size=10) as client:
        yield client


@pytest.fixture
def objective_id(client) -> int:
    plan = client.list_items("plan")[0]
    return client.create("objective", {"plan_id": plan["id"], "name": "Client tests"})["id"]


def ref(item_id: str) -> ExternalRef:
    return ExternalRef("clickup", "acme-eng", item_id)


def seed_actions(emulator: CascadeEmulator, objective_id: int, count: int) -> list[int]:
    """Many actions straight into the store: the listing, not the creating, is under test."""
    return [emulator.store.create("action", {"objective_id": objective_id, "name": f"task {i}",
                                             "external_ref": ref(f"t{i}").as_dict()})["id"]
            for i in range(count)]


# --- reads --------------------------------------------------------------------------------------
def test_list_pages_to_the_end(emulator, client, objective_id):
    ids = seed_actions(emulator, objective_id, 37)
    rows = client.list_items("action", objective_id=objective_id)
    assert [r["id"] for r in rows] == ids
    assert emulator.log.count(method="GET", path=r"/actions$") == 4  # 10 + 10 + 10 + 7


def test_list_follows_a_server_capped_page_size(emulator, switch, objective_id):
    ids = seed_actions(emulator, objective_id, 230)
    with CascadeClient(switch.url, SECRET, page_size=500) as big_pages:
        rows = big_pages.list_items("action", objective_id=[objective_id])
    assert [r["id"] for r in rows] == ids  # served 200 + 30 although 500 were asked for


def test_id_filters_are_chunked(emulator, switch, objective_id):
    ids = seed_actions(emulator, objective_id, 12)
    with CascadeClient(switch.url, SECRET, ids_per_request=5) as client:
        rows = client.list_items("action", ids=ids[::-1] + [999999])
    assert sorted(r["id"] for r in rows) == ids
    assert emulator.log.count(method="GET", path=r"/actions$") == 3  # 13 ids in chunks of 5


def test_synced_items_and_find_by_external_ref(emulator, client, objective_id):
    seed_actions(emulator, objective_id, 3)
    archived = client.find_by_external_ref(ref("t1"), kind="action")
    client.archive("action", archived["id"])
    synced = client.synced_items("action", "clickup", "acme-eng")
    assert sorted(synced) == ["t0", "t1", "t2"] and synced["t1"]["archived"] is True
    assert sorted(client.synced_items("action", "clickup", "acme-eng", item_ids=["t2", "zz"])) == ["t2"]
    assert client.find_by_external_ref({"source": "clickup", "workspace": "acme-eng", "item_id": "t2"})["name"] == "task 2"
    assert client.find_by_external_ref(ref("missing")) is None
    assert client.get_item("action", 987654, missing_ok=True) is None


def test_users_and_custom_field_lookups(client):
    by_email = client.users_by_email()
    assert by_email["ada@acme.example"]["name"] == "Ada Lovelace"
    assert [u["name"] for u in client.users(emails=["GRACE@acme.example"])] == ["Grace Hopper"]
    action_fields = client.custom_field_ids("action")
    assert {"Source URL", "Story Points", "Priority Tier"} <= set(action_fields)
    assert "Budget" not in action_fields and "Budget" in client.custom_field_ids()


# --- writes -------------------------------------------------------------------------------------
def test_create_update_archive_count_writes(emulator, client, objective_id):
    before, client_before = emulator.writes, client.writes
    action = client.create("action", {"objective_id": objective_id, "name": "Ship", "progress": 10,
                                      "external_ref": ref("86a")})
    updated = client.update("action", action["id"], {"progress": 55, "status": "In Progress"})
    assert (updated["progress"], updated["status"]) == (55, "In Progress")
    archived = client.archive("action", action["id"])
    assert archived["archived"] is True
    assert action["id"] not in [a["id"] for a in client.list_items("action")]
    assert action["id"] in [a["id"] for a in client.list_items("action", archived=None)]
    assert client.unarchive("action", action["id"])["archived"] is False
    assert client.writes - client_before == emulator.writes - before == 4
    assert emulator.log.count(method="DELETE") == 0


def test_update_sends_only_changed_fields(emulator, client, objective_id):
    action = client.create("action", {"objective_id": objective_id, "name": "Old", "owner_ids": [102, 103]})
    writes = emulator.writes
    # Read-only fields (health, type, created_at...) ride along in `desired`: sending them would be a 422.
    desired = {**action, "owner_ids": [103, 102]}
    assert client.update("action", action["id"], desired, current=action) == action
    assert emulator.writes == writes  # nothing differed: no request at all
    renamed = client.update("action", action["id"], {**action, "name": "New"}, current=action)
    assert renamed["name"] == "New" and emulator.writes == writes + 1


def test_changed_fields_compares_sets_and_custom_values():
    current = {"name": "A", "owner_ids": [1, 2], "external_ref": {"source": "wrike", "workspace": "w", "item_id": "1"},
               "custom_field_values": [{"field_id": 7, "name": "Source URL", "value": "u"}]}
    desired = {"name": "A", "owner_ids": [2, 1], "external_ref": ExternalRef("wrike", "w", "1"),
               "custom_field_values": [{"field_id": 7, "value": "u"}, {"field_id": 8, "value": None},
                                       {"field_id": 9, "value": 3}]}
    assert changed_fields(current, desired) == {"custom_field_values": [{"field_id": 9, "value": 3}]}


def test_custom_field_values(client, objective_id):
    fields = client.custom_field_ids("action")
    action = client.create("action", {"objective_id": objective_id, "name": "CF"})
    client.set_custom_field_values("action", action["id"], {fields["Story Points"]: 8, fields["Source URL"]: "https://x"})
    values = client.set_custom_field_values("action", action["id"], {fields["Source URL"]: None})
    assert [(v["name"], v["value"]) for v in values] == [("Story Points", 8)]
    assert client.custom_field_values("action", action["id"]) == values


def test_milestones_and_checklist_items_drive_progress(client, objective_id):
    action = client.create("action", {"objective_id": objective_id, "name": "Tracked", "tracking_type": "checklist"})
    items = [client.create_checklist_item(action["id"], {"name": n, "external_ref": ref(f"chk-{n}")}) for n in "abcd"]
    client.update_checklist_item(action["id"], items[0]["id"], {"completed": True})
    client.delete_checklist_item(action["id"], items[3]["id"])
    assert [i["name"] for i in client.checklist_items(action["id"])] == ["a", "b", "c"]
    assert client.get_item("action", action["id"])["progress"] == 33.33
    client.update("action", action["id"], {"tracking_type": "milestones"})
    first = client.create_milestone(action["id"], {"name": "alpha", "progress_value": 40})
    client.create_milestone(action["id"], {"name": "beta", "progress_value": 100})
    client.update_milestone(action["id"], first["id"], {"completed": True}, current=first)
    assert [m["name"] for m in client.milestones(action["id"])] == ["alpha", "beta"]
    assert client.get_item("action", action["id"])["progress"] == 40
    again = client.create_checklist_item(action["id"], {"name": "a", "external_ref": ref("chk-a")})
    assert again["id"] == items[0]["id"]


# --- idempotent creates -------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["reset_after_write", "truncate"])
def test_create_whose_answer_is_lost_does_not_duplicate(emulator, client, objective_id, fault):
    emulator.faults.add(Fault(kind=fault, method="POST", path=r"/actions$"))
    before, client_before = emulator.writes, client.writes
    action = client.create("action", {"objective_id": objective_id, "name": "Exactly once", "external_ref": ref("x1")})
    stored = [a for a in emulator.items("action") if a["name"] == "Exactly once"]
    assert [a["id"] for a in stored] == [action["id"]]
    assert emulator.log.count(method="POST", path=r"/actions$") == 2  # the lost one and the 409
    assert emulator.log.count(method="POST", path=r"/actions$", status=409) == 1
    assert client.writes - client_before == emulator.writes - before == 1
    assert client.recovered_creates == 1 and client.stats.retries == 1


def test_create_returns_the_item_a_previous_run_made(emulator, client, objective_id):
    first = client.create("action", {"objective_id": objective_id, "name": "Once", "external_ref": ref("p1")})
    writes = client.writes
    again = client.create("action", {"objective_id": objective_id, "name": "Once", "external_ref": ref("p1")})
    assert again["id"] == first["id"] and client.writes == writes and client.recovered_creates == 1


def test_create_conflicting_with_another_kind_is_an_error(client, objective_id):
    plan = client.list_items("plan")[0]
    client.create("objective", {"plan_id": plan["id"], "name": "Project", "external_ref": ref("proj-1")})
    with pytest.raises(CascadeApiError) as caught:
        client.create("action", {"objective_id": objective_id, "name": "Task", "external_ref": ref("proj-1")})
    message = str(caught.value)
    assert caught.value.status == 409 and caught.value.details["existing_type"] == "objective"
    assert "already maps to objective" in message and "mapping rules" in message


def test_delete_whose_answer_is_lost_is_not_an_error(emulator, client, objective_id):
    action = client.create("action", {"objective_id": objective_id, "name": "Checks", "tracking_type": "checklist"})
    item = client.create_checklist_item(action["id"], {"name": "only"})
    emulator.faults.add(Fault(kind="reset_after_write", method="DELETE", path=r"/checklist-items/\d+$"))
    writes = client.writes
    client.delete_checklist_item(action["id"], item["id"])
    assert client.checklist_items(action["id"]) == [] and client.writes == writes + 1
    assert emulator.log.count(method="DELETE", status=404) == 1


# --- retries and rate limits ----------------------------------------------------------------------
def test_429_waits_for_retry_after_then_succeeds(switch):
    emulator = CascadeEmulator(tokens={SECRET: "write"}, rate_limit=3, rate_window=1.0)
    switch.app = emulator.app
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    with CascadeClient(switch.url, SECRET, sleep=sleep) as client:
        started = time.monotonic()
        names = [client.get_item("plan", client.list_items("plan")[0]["id"])["name"] for _ in range(2)]
        elapsed = time.monotonic() - started
    assert names == ["FY2027 Strategy"] * 2
    assert client.stats.rate_limited >= 1 and emulator.log.count(status=429) == client.stats.rate_limited
    assert waited and all(w == 1.0 for w in waited) and elapsed < 5


def test_5xx_is_retried_with_backoff(emulator, client, sleeps):
    emulator.faults.add(Fault(kind="status", status=503, method="GET", path=r"/plans$", times=2))
    assert client.list_items("plan")[0]["name"] == "FY2027 Strategy"
    assert client.stats.retries == 2 and len(sleeps) == 2 and client.stats.by_status[503] == 2


def test_persistent_5xx_gives_up_with_a_retryable_error(emulator, switch):
    emulator.faults.add(Fault(kind="html", method="GET", path=r"/plans$", times=10))
    with CascadeClient(switch.url, SECRET, sleep=lambda s: None, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(SourceApiError) as caught:
            client.list_items("plan")
    assert caught.value.retryable and "after 3 attempts" in str(caught.value)


def test_retry_after_accepts_seconds_and_http_dates():
    assert _retry_after_seconds("0") == 0.0 and _retry_after_seconds("2") == 2.0
    assert _retry_after_seconds(None) == 1.0 and _retry_after_seconds("soon") == 1.0
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


# --- errors -------------------------------------------------------------------------------------
def test_rejected_token_names_the_env_var_and_never_the_token(emulator, switch):
    wrong = "pk_wrong-token-123456"
    with CascadeClient(switch.url, wrong, token_env="ACME_CASCADE_TOKEN") as client:
        with pytest.raises(CascadeApiError) as caught:
            client.list_items("action")
    text = f"{caught.value} {caught.value!r} {caught.value.args} {client!r}"
    assert caught.value.status == 401 and caught.value.code == "UNAUTHORIZED"
    assert "ACME_CASCADE_TOKEN" in str(caught.value) and "System > Security" in str(caught.value)
    assert wrong not in text


def test_forbidden_and_validation_errors_name_item_field_and_fix(emulator, client, switch, objective_id):
    with CascadeClient(switch.url, READ_TOKEN) as reader:
        with pytest.raises(CascadeApiError) as forbidden:
            reader.create("action", {"objective_id": objective_id, "name": "Nope", "external_ref": ref("r1")})
    assert forbidden.value.status == 403 and "edit rights" in str(forbidden.value)
    assert "new action 'Nope' (clickup:acme-eng:r1)" in str(forbidden.value)
    with pytest.raises(CascadeApiError) as invalid:
        client.create("action", {"objective_id": objective_id, "name": "Dates", "start_date": "2027-05-01",
                                 "due_date": "2027-04-01", "external_ref": ref("d1")})
    message = str(invalid.value)
    assert invalid.value.status == 422 and invalid.value.details["field"] == "due_date"
    assert "new action 'Dates' (clickup:acme-eng:d1)" in message and "due_date" in message
    assert "mapping rules" in message and SECRET not in message
    with pytest.raises(CascadeApiError) as missing:
        client.update("action", 987654, {"name": "x"})
    assert missing.value.status == 404 and "action 987654" in str(missing.value)
    assert "sync.id_map" in str(missing.value) and SECRET not in repr(missing.value)


def test_from_connection_reads_the_named_env_var(monkeypatch, switch, emulator):
    connection = CascadeConnection(api="contract", base_url=switch.url, token_env="CASCADE_TEST_TOKEN")
    monkeypatch.delenv("CASCADE_TEST_TOKEN", raising=False)
    with pytest.raises(CascadeApiError, match="env CASCADE_TEST_TOKEN is empty or not set"):
        CascadeClient.from_connection(connection)
    monkeypatch.setenv("CASCADE_TEST_TOKEN", SECRET)
    with CascadeClient.from_connection(connection) as client:
        assert client.list_items("plan")[0]["name"] == "FY2027 Strategy"
        assert SECRET not in repr(client) and client.token_env == "CASCADE_TEST_TOKEN"
