"""Webhook sensors: inbox events become one debounced, incremental run per workspace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.definitions import build_definitions
from cascade_sync_pipeline.orchestration.sensors import (
    DEBOUNCE_ENV,
    ITEMS_PER_RUN,
    build_webhook_sensor,
    debounce_from_env,
)
from cascade_sync_pipeline.orchestration.webhooks.inbox import INBOX_ENV, Claim, Inbox, WebhookInbox, open_inbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app, signature
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer

pytestmark = pytest.mark.slow  # each test evaluates sensors on a Dagster instance (about 3 s each)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CONFIG = parse_config(
    {
        "workspaces": [
            {
                "key": key,
                "source": "clickup",
                "team_id": team,
                "token_env": "TEST_TOKEN",
                "webhook_secret_env": "TEST_HOOK",
            }
            for key, team in (("acme-eng", "901"), ("acme-ops", "902"))
        ]
    }
)
INCREMENTAL = {"ops": {"clickup_raw_extract": {"config": {"mode": "incremental"}}}}


def items(*task_ids: str) -> dict:
    return {"ops": {"clickup_raw_extract": {"config": {"mode": "items", "item_ids": list(task_ids)}}}}


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return build_definitions(CONFIG).get_repository_def()


@pytest.fixture(params=["sqlite", "postgres"])
def inbox(request, tmp_path) -> Inbox:
    """The inbox in each store it can live in: a SQLite file, or PostgreSQL (several machines)."""
    if request.param == "postgres":
        return open_inbox(request.getfixturevalue("postgres").fresh_database(f"inbox_{tmp_path.name}").url).create()
    return WebhookInbox(tmp_path / "inbox.sqlite").create()


class Clock:
    """The sensor's notion of now, moved by the test instead of by waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def event(inbox: Inbox, workspace: str, task_id: str, at: datetime, source: str = "clickup") -> int:
    body = json.dumps({"event": "taskUpdated", "task_id": task_id, "at": at.isoformat()}).encode()
    return inbox.add(
        source=source, workspace=workspace, event_type="taskUpdated", item_ids=[task_id], body=body, received_at=at
    )


def run_key(inbox: Inbox, workspace: str, event_id: int) -> str:
    return f"{workspace}:webhook:{inbox.inbox_id()[:8]}:{event_id}"


def evaluate(sensor: dg.SensorDefinition, repository, instance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor, result.skip_message


def test_events_of_two_workspaces_give_one_run_each(repository, inbox):
    ids = [
        event(inbox, ws, f"t{i}", T0 + timedelta(seconds=i))
        for i, ws in enumerate(["acme-eng", "acme-ops", "acme-eng", "acme-eng", "acme-ops"])
    ]
    sensor = build_webhook_sensor(
        CONFIG,
        "clickup",
        "clickup_sync",
        inbox_path=inbox.path,
        debounce_seconds=10,
        clock=Clock(T0 + timedelta(seconds=30)),
    )
    with dg.instance_for_test() as instance:
        requests, cursor, _ = evaluate(sensor, repository, instance, None)
        assert [(r.partition_key, r.run_key) for r in requests] == [
            ("acme-eng", run_key(inbox, "acme-eng", ids[3])),
            ("acme-ops", run_key(inbox, "acme-ops", ids[4])),
        ]
        # task events: each run reads just the tasks its events name, in one process
        assert [r.run_config for r in requests] == [items("t0", "t2", "t3"), items("t1", "t4")]
        for request in requests:
            assert {"trigger": "webhook", "workspace": request.partition_key}.items() <= request.tags.items()
        assert [r.tags["webhook_events"] for r in requests] == ["3", "2"]
        assert json.loads(cursor)["last_event_id"] == ids[-1]

        again, _, skip = evaluate(sensor, repository, instance, cursor)
        assert again == [] and skip == "no new webhook events"
    job = repository.get_job("clickup_sync")
    assert dg.validate_run_config(job, INCREMENTAL) and dg.validate_run_config(job, items("t0"))


def test_events_that_are_not_all_about_tasks_or_name_too_many_read_every_change(repository, inbox):
    event(inbox, "acme-eng", "t1", T0)
    body = json.dumps({"event": "listUpdated", "list_id": "l1"}).encode()
    inbox.add(
        source="clickup", workspace="acme-eng", event_type="listUpdated", item_ids=["l1"], body=body, received_at=T0
    )
    for i in range(ITEMS_PER_RUN + 1):
        event(inbox, "acme-ops", f"many{i}", T0)
    sensor = build_webhook_sensor(
        CONFIG,
        "clickup",
        "clickup_sync",
        inbox_path=inbox.path,
        debounce_seconds=1,
        clock=Clock(T0 + timedelta(seconds=5)),
    )
    with dg.instance_for_test() as instance:
        requests, _, _ = evaluate(sensor, repository, instance, None)
    assert [(r.partition_key, r.run_config) for r in requests] == [("acme-eng", INCREMENTAL), ("acme-ops", INCREMENTAL)]


def test_a_burst_waits_until_quiet_then_gives_exactly_one_run(repository, inbox):
    clock = Clock(T0)
    sensor = build_webhook_sensor(
        CONFIG, "clickup", "clickup_sync", inbox_path=inbox.path, debounce_seconds=10, clock=clock
    )
    with dg.instance_for_test() as instance:
        cursor = None
        ids = []
        for second in (0, 3, 6, 9):
            ids.append(event(inbox, "acme-eng", f"t{second}", T0 + timedelta(seconds=second)))
            clock.now = T0 + timedelta(seconds=second + 1)
            requests, cursor, skip = evaluate(sensor, repository, instance, cursor)
            assert requests == [] and "waiting for acme-eng" in skip
            assert json.loads(cursor)["last_event_id"] == 0  # nothing handled yet
        clock.now = T0 + timedelta(seconds=19)
        [request], cursor, _ = evaluate(sensor, repository, instance, cursor)
        assert request.run_key == run_key(inbox, "acme-eng", ids[-1]) and request.tags["webhook_events"] == "4"
        assert json.loads(cursor) == {"last_event_id": ids[-1], "requested": {}, "inbox_id": inbox.inbox_id()}
        assert evaluate(sensor, repository, instance, cursor)[0] == []


def test_cursor_stops_before_a_workspace_still_settling(repository, inbox):
    clock = Clock(T0 + timedelta(seconds=12))
    sensor = build_webhook_sensor(
        CONFIG, "clickup", "clickup_sync", inbox_path=inbox.path, debounce_seconds=10, clock=clock
    )
    ops_first = event(inbox, "acme-ops", "o1", T0)
    eng = event(inbox, "acme-eng", "e1", T0)
    ops_last = event(inbox, "acme-ops", "o2", T0 + timedelta(seconds=8))  # acme-ops not quiet yet at +12s
    with dg.instance_for_test() as instance:
        [request], cursor, _ = evaluate(sensor, repository, instance, None)
        assert request.run_key == run_key(inbox, "acme-eng", eng)
        assert json.loads(cursor) == {
            "last_event_id": ops_first - 1,
            "requested": {"acme-eng": eng},
            "inbox_id": inbox.inbox_id(),
        }

        assert evaluate(sensor, repository, instance, cursor)[0] == []  # acme-eng not requested twice

        clock.now = T0 + timedelta(seconds=20)
        [request], cursor, _ = evaluate(sensor, repository, instance, cursor)
        assert (request.partition_key, request.run_key) == ("acme-ops", run_key(inbox, "acme-ops", ops_last))
        assert request.tags["webhook_events"] == "2"
        assert json.loads(cursor) == {"last_event_id": ops_last, "requested": {}, "inbox_id": inbox.inbox_id()}


def test_other_sources_and_unconfigured_workspaces_are_passed_over(repository, inbox):
    wrike = event(inbox, "acme-pm", "w1", T0, source="wrike")
    gone = event(inbox, "retired-team", "x1", T0)
    sensor = build_webhook_sensor(
        CONFIG,
        "clickup",
        "clickup_sync",
        inbox_path=inbox.path,
        debounce_seconds=10,
        clock=Clock(T0 + timedelta(minutes=1)),
    )
    with dg.instance_for_test() as instance:
        requests, cursor, _ = evaluate(sensor, repository, instance, None)
    assert requests == [] and wrike < gone and json.loads(cursor)["last_event_id"] == gone


def test_no_inbox_yet_is_a_skip_that_says_what_to_start(repository, tmp_path):
    sensor = build_webhook_sensor(CONFIG, "clickup", "clickup_sync", inbox_path=tmp_path / "missing.sqlite")
    with dg.instance_for_test() as instance:
        requests, cursor, skip = evaluate(sensor, repository, instance, None)
    assert requests == [] and cursor is None and "cascade-sync webhooks serve" in skip


def test_code_location_sensor_turns_received_webhooks_into_runs(tmp_path, monkeypatch):
    monkeypatch.setenv(INBOX_ENV, str(tmp_path / "inbox.sqlite"))
    monkeypatch.setenv("TEST_HOOK", "sensor-test-secret")
    assert debounce_from_env() == 1
    monkeypatch.setenv(DEBOUNCE_ENV, "0")
    defs = build_definitions(CONFIG)
    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def("clickup_webhook_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 1 and sensor.job_name == "clickup_sync"
    assert {s.name for s in repository.sensor_defs} == {"clickup_webhook_sensor"}  # no Wrike job, no Wrike sensor

    with ReceiverServer(create_receiver_app(CONFIG, WebhookInbox())) as server:
        body = json.dumps({"event": "taskCreated", "task_id": "abc1", "webhook_id": "w"}).encode()
        answer = httpx.post(
            f"{server.url}/webhooks/clickup/acme-ops",
            content=body,
            headers={"X-Signature": signature("sensor-test-secret", body)},
        )
    assert answer.status_code == 200
    with dg.instance_for_test() as instance:
        [request], _, _ = evaluate(sensor, repository, instance, None)
    assert (request.partition_key, request.run_key) == (
        "acme-ops",
        run_key(WebhookInbox(), "acme-ops", answer.json()["id"]),
    )


def test_a_replaced_inbox_is_noticed_and_read_from_the_start(repository, tmp_path):
    path = tmp_path / "inbox.sqlite"
    inbox = WebhookInbox(path).create()
    sensor = build_webhook_sensor(
        CONFIG, "clickup", "clickup_sync", inbox_path=path, debounce_seconds=10, clock=Clock(T0 + timedelta(minutes=5))
    )
    with dg.instance_for_test() as instance:
        ids = [event(inbox, "acme-eng", f"t{i}", T0) for i in range(5)]
        [first], cursor, _ = evaluate(sensor, repository, instance, None)
        assert json.loads(cursor)["last_event_id"] == ids[-1]

        path.unlink()  # restored from a backup, moved, deleted by hand: ids start at 1 again
        replaced = WebhookInbox(path).create()
        new = event(replaced, "acme-eng", "after-the-swap", T0 + timedelta(seconds=1))
        assert new == 1 and replaced.inbox_id() != json.loads(cursor)["inbox_id"]
        [request], cursor, _ = evaluate(sensor, repository, instance, cursor)
        assert request.partition_key == "acme-eng" and request.tags["webhook_events"] == "1"
        assert request.run_key != first.run_key and request.run_key == run_key(replaced, "acme-eng", new)
        assert json.loads(cursor) == {"last_event_id": new, "requested": {}, "inbox_id": replaced.inbox_id()}


def test_a_cursor_past_the_inbox_starts_over_even_without_inbox_ids(repository, tmp_path):
    # A cursor written before inbox ids, against a file whose ids were reset.
    inbox = WebhookInbox(tmp_path / "inbox.sqlite").create()
    new = event(inbox, "acme-ops", "o1", T0)
    sensor = build_webhook_sensor(
        CONFIG,
        "clickup",
        "clickup_sync",
        inbox_path=inbox.path,
        debounce_seconds=10,
        clock=Clock(T0 + timedelta(minutes=5)),
    )
    with dg.instance_for_test() as instance:
        [request], cursor, _ = evaluate(
            sensor, repository, instance, json.dumps({"last_event_id": 40, "requested": {}})
        )
    assert request.partition_key == "acme-ops" and json.loads(cursor)["last_event_id"] == new


# --- beside the live runner ------------------------------------------------------------------------------------


def test_claims_chain_per_workspace_and_only_one_of_two_claimers_wins(inbox):
    a, b = event(inbox, "acme-eng", "t1", T0), event(inbox, "acme-eng", "t2", T0)
    assert inbox.claim("clickup", [(0, Claim("acme-eng", a, a, "run-1"))])
    assert not inbox.claim("clickup", [(0, Claim("acme-eng", a, b, "run-2"))])  # read the same frontier: lost
    assert inbox.claim("clickup", [(a, Claim("acme-eng", b, b, "run-3"))])
    assert inbox.frontier("clickup") == {"acme-eng": b} and inbox.frontier("wrike") == {}
    assert not inbox.release("clickup", Claim("acme-eng", a, a, "run-1"))  # a later claim follows it
    assert inbox.release("clickup", Claim("acme-eng", b, b, "run-3"))
    assert inbox.frontier("clickup") == {"acme-eng": a}
    assert inbox.claim("clickup", [(a, Claim("acme-eng", b, b, "run-4"))])
    c = event(inbox, "acme-ops", "t3", T0)  # all or nothing: one frontier taken, no claim of the other either
    assert not inbox.claim("clickup", [(0, Claim("acme-ops", c, c, "run-5")), (a, Claim("acme-eng", b, b, "run-6"))])
    assert "acme-ops" not in inbox.frontier("clickup")
    inbox.prune(datetime.now(UTC) + timedelta(days=1))  # every event, and every claim but the frontier
    assert [c.run_id for c in inbox.claims_after("clickup", 0)] == ["run-4"]
    assert inbox.frontier("clickup") == {"acme-eng": b}


def test_the_runners_claimed_events_are_passed_over_and_while_it_lives_it_is_given_time(repository, inbox):
    first, second = event(inbox, "acme-eng", "t1", T0), event(inbox, "acme-eng", "t2", T0 + timedelta(seconds=1))
    assert inbox.claim("clickup", [(0, Claim("acme-eng", first, second, "live-run"))])
    third = event(inbox, "acme-ops", "t3", T0 + timedelta(seconds=2))
    inbox.runner_seen(T0 + timedelta(seconds=5))
    clock = Clock(T0 + timedelta(seconds=10))
    sensor = build_webhook_sensor(
        CONFIG, "clickup", "clickup_sync", inbox_path=inbox.path, debounce_seconds=1, clock=clock
    )
    with dg.instance_for_test() as instance:
        requests, cursor, skip = evaluate(sensor, repository, instance, None)
        assert requests == [] and skip == "waiting for acme-ops to be quiet for 30s"  # the live runner's turn
        clock.now = T0 + timedelta(seconds=40)  # the runner has not been seen for 35 s, and left acme-ops
        requests, cursor, _ = evaluate(sensor, repository, instance, cursor)
        assert [(r.partition_key, r.run_config) for r in requests] == [("acme-ops", items("t3"))]
        assert json.loads(cursor)["last_event_id"] == third
        assert inbox.frontier("clickup") == {"acme-eng": second, "acme-ops": third}  # so the runner leaves it
        again, _, skip = evaluate(sensor, repository, instance, cursor)
        assert again == [] and skip == "no new webhook events"


class RunnerFirst(Clock):
    """Now, as the sensor reads it after the inbox: the live runner claims the events at that moment."""

    def __init__(self, now: datetime, inbox: Inbox, claim: Claim) -> None:
        super().__init__(now)
        self.inbox, self.claim = inbox, claim

    def __call__(self) -> datetime:
        if self.claim is not None:
            assert self.inbox.claim("clickup", [(0, self.claim)])
            self.claim = None
        return self.now


def test_a_sensor_that_loses_the_claim_to_the_runner_requests_nothing_and_reads_again(repository, inbox):
    only = event(inbox, "acme-eng", "t1", T0)
    clock = RunnerFirst(T0 + timedelta(seconds=5), inbox, Claim("acme-eng", only, only, "live-run"))
    sensor = build_webhook_sensor(
        CONFIG, "clickup", "clickup_sync", inbox_path=inbox.path, debounce_seconds=1, clock=clock
    )
    with dg.instance_for_test() as instance:
        requests, cursor, skip = evaluate(sensor, repository, instance, None)
        assert requests == [] and cursor is None and "claimed some of these events first" in skip
        requests, cursor, skip = evaluate(sensor, repository, instance, None)
        assert requests == [] and skip == "no new webhook events" and json.loads(cursor)["last_event_id"] == only
