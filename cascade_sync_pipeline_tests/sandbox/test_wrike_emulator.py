"""The Wrike emulator and its generator, exercised over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import datetime
from importlib import resources
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from flask import Flask, Response, request

from cascade_sync_sandbox.server import EmulatorServer
from cascade_sync_sandbox.wrike import WrikeEmulator, expected_staging, generate
from cascade_sync_sandbox.wrike.generator import parse_wrike_datetime

API = "/api/v4"


def _client(server: EmulatorServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url + API, headers=headers, timeout=10)


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def ro():
    """A read-only sandbox shared by the tests that never write."""
    ds = generate(3, tasks=600)
    emulator = WrikeEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server, _client(server, ds.permanent_token) as client:
        yield ds, emulator, client


@pytest.fixture
def rw():
    """A fresh sandbox for tests that change data."""
    ds = generate(5, tasks=150)
    emulator = WrikeEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server, _client(server, ds.permanent_token) as client:
        yield ds, emulator, client, server


@pytest.fixture(scope="module")
def big():
    """2,500 tasks in one project, for the paging rules."""
    ds = generate(
        9,
        spaces=1,
        projects_per_space=1,
        folders_per_space=0,
        tasks=2500,
        subtask_ratio=0,
        recycled_ratio=0,
        milestone_ratio=0,
    )
    emulator = WrikeEmulator(ds, rate_limit=100_000)
    with emulator.serve() as server, _client(server, ds.permanent_token) as client:
        yield ds, emulator, client


class Receiver:
    """A webhook endpoint on loopback that answers the handshake (or not) and records deliveries."""

    def __init__(self, secret: str | None, *, answer_handshake: bool = True, status: int = 200) -> None:
        self.secret, self.answer_handshake, self.status = secret, answer_handshake, status
        self.handshakes: list[dict] = []
        self.deliveries: list[tuple[bytes, dict]] = []
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            challenge = request.headers.get("X-Hook-Secret")
            if challenge is not None:
                self.handshakes.append(
                    {
                        "challenge": challenge,
                        "body": request.get_data(),
                        "signature": request.headers.get("X-Hook-Signature"),
                    }
                )
                answer = Response(status=200)
                if self.answer_handshake:
                    answer.headers["X-Hook-Secret"] = _hmac(self.secret, challenge.encode())
                else:
                    answer.headers["X-Hook-Secret"] = challenge  # echoing is not the protocol
                return answer
            self.deliveries.append((request.get_data(), dict(request.headers)))
            return Response(status=self.status)

        self.server = EmulatorServer(app).start()
        self.url = self.server.url + "/hook"

    def close(self) -> None:
        self.server.stop()


# --- generator ------------------------------------------------------------------------------------


def test_generator_is_deterministic_and_realistic():
    a, b, c = generate(4), generate(4), generate(5)
    assert a.tasks == b.tasks and a.folders == b.folders and a.contacts == b.contacts
    assert a.tasks != c.tasks
    id_shape = re.compile(rf"^{a.account_id}(KQ|I4|I5|JM|JU|K4)[A-Z2-7]{{6}}$|^{a.account_id}JMAAAAA[A-D]$")
    for entity in a.tasks + a.folders + a.spaces + a.custom_fields + a.workflows:
        assert id_shape.match(entity["id"]), entity["id"]
    assert all(re.match(r"^KUA[A-Z2-7]{5}$", c["id"]) for c in a.contacts)
    assert len({t["id"] for t in a.tasks}) == 400
    assert sum(bool(t["superTaskIds"]) for t in a.tasks) == 80
    assert sum(t["dates"]["type"] == "Milestone" for t in a.tasks) == 20
    assert sum(t["scope"] == "RbTask" for t in a.tasks) == 12
    assert {f["type"] for f in a.custom_fields} >= {
        "Text",
        "DropDown",
        "Numeric",
        "Currency",
        "Percentage",
        "Date",
        "Checkbox",
        "Contacts",
        "Multiple",
    }
    assert any("spaceId" in f for f in a.custom_fields) and any("spaceId" not in f for f in a.custom_fields)
    assert all(isinstance(cf["value"], str) for t in a.tasks for cf in t["customFields"])
    groups = {s["group"] for w in a.workflows for s in w["customStatuses"]}
    assert groups == {"Active", "Completed", "Deferred", "Cancelled"}
    for task in a.tasks:
        status = next(s for w in a.workflows for s in w["customStatuses"] if s["id"] == task["customStatusId"])
        assert task["status"] == status["group"]
        assert ("completedDate" in task) == (status["group"] == "Completed")
        assert task["createdDate"] <= task["updatedDate"]
    assert len(a.projects) == 8 and all(
        {"ownerIds", "status", "customStatusId", "startDate", "endDate", "createdDate"} <= set(p["project"])
        for p in a.projects
    )
    assert "eyJ" in a.permanent_token and a.permanent_token not in repr(a)


def _schema_columns() -> dict[str, list[str]]:
    sql = resources.files("cascade_sync_pipeline.warehouse").joinpath("schema.sql").read_text()
    tables = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS staging\.(\w+) \((.*?)\n\);", sql, re.S):
        tables[name] = [
            line.split()[0]
            for line in body.strip().splitlines()
            if line.strip() and not line.strip().startswith(("PRIMARY", "--"))
        ]
    return tables


def test_expected_staging_follows_the_documented_rules():
    ds = generate(6)
    truth = expected_staging(ds, "acme-wrike")
    columns = _schema_columns()
    for table, rows in truth.items():
        assert rows, table
        assert all(list(row) == columns[table] for row in rows), table
    items = {r["item_id"]: r for r in truth["work_items"]}
    assert len(items) == len(ds.tasks) + len(ds.projects)
    statuses = {s["id"]: (s, w) for w in ds.workflows for s in w["customStatuses"]}
    for task in ds.tasks:
        row = items[task["id"]]
        if task["superTaskIds"]:
            assert row["item_type"] == "subtask" and row["parent_id"] == task["superTaskIds"][0]
        elif task["dates"]["type"] == "Milestone":
            assert row["item_type"] == "milestone" and row["start_at"] is None and row["due_at"] is not None
        else:
            assert row["item_type"] == "task" and row["parent_id"] is None
        status, wf = statuses[task["customStatusId"]]
        active = [s for s in wf["customStatuses"] if s["group"] == "Active"]
        expected = {"Completed": "done", "Deferred": "deferred", "Cancelled": "cancelled"}.get(
            status["group"], "not_started" if len(active) > 1 and status is active[0] else "in_progress"
        )
        assert (row["status"], row["status_category"]) == (status["name"], expected)
        assert row["container_id"] == task["parentIds"][0]
        assert row["is_archived"] == (task["scope"] == "RbTask")
        assert row["assignee_ids"] == task["responsibleIds"] and row["url"] == task["permalink"]
    assert {r["item_type"] for r in items.values()} == {"task", "subtask", "milestone", "project"}
    assert {r["status_category"] for r in items.values()} == {
        "not_started",
        "in_progress",
        "done",
        "deferred",
        "cancelled",
    }
    date_only = next(t for t in ds.tasks if len(t["dates"].get("start", "x" * 19)) == 10)
    assert items[date_only["id"]]["start_at"] == datetime.strptime(date_only["dates"]["start"], "%Y-%m-%d")
    cascade = ds.custom_field("Cascade ID")["id"]
    tagged = [t for t in ds.tasks if any(cf["id"] == cascade for cf in t["customFields"])]
    assert len(tagged) == 40 and all(items[t["id"]]["cascade_id"] for t in tagged)
    values = truth["custom_field_values"]
    names = {f"{c['firstName']} {c['lastName']}" for c in ds.contacts}
    for row in values:
        if row["field_type"] == "Contacts":
            assert all(part in names for part in row["value"].split(", "))
        if row["field_type"] in ("Numeric", "Currency", "Percentage"):
            assert not row["value"].endswith(".0") and not re.search(r"\.\d*0$", row["value"])
        if row["field_type"] == "Checkbox":
            assert row["value"] in ("true", "false")
    assert any(r["field_type"] == "Numeric" for r in values)
    kinds = {r["container_type"] for r in truth["containers"]}
    assert kinds == {"space", "folder", "project"}
    assert len(truth["users"]) == 12 and all("@" in u["email"] and " " in u["name"] for u in truth["users"])


# --- envelope, fields, errors -------------------------------------------------------------------


def test_envelope_kinds_and_opt_in_fields(ro):
    ds, _, client = ro
    for path, kind in (
        ("/spaces", "spaces"),
        ("/folders", "folderTree"),
        ("/customfields", "customfields"),
        ("/contacts", "contacts"),
        ("/workflows", "workflows"),
        ("/tasks", "tasks"),
    ):
        body = client.get(path).json()
        assert body["kind"] == kind and isinstance(body["data"], list) and body["data"], path
    assert "members" not in client.get("/spaces").json()["data"][0]
    assert client.get("/spaces", params={"fields": '["members"]'}).json()["data"][0]["members"]
    tree = client.get("/folders").json()["data"]
    assert {e["scope"] for e in tree} >= {"WsRoot", "RbRoot", "WsFolder"}
    project = ds.projects[0]
    plain = client.get(f"/folders/{project['id']}/tasks").json()["data"]
    assert plain and not any({"responsibleIds", "customFields", "parentIds", "description"} & set(t) for t in plain)
    wanted = '["responsibleIds","customFields","parentIds","description","superTaskIds"]'
    rich = client.get(f"/folders/{project['id']}/tasks", params={"fields": wanted}).json()["data"]
    assert all({"responsibleIds", "customFields", "parentIds", "description", "superTaskIds"} <= set(t) for t in rich)
    unquoted = client.get(f"/folders/{project['id']}/tasks", params={"fields": "[parentIds,customFields]"})
    assert all("parentIds" in t for t in unquoted.json()["data"])
    by_id = client.get(f"/tasks/{plain[0]['id']}").json()["data"][0]
    assert {"description", "parentIds", "customFields", "subTaskIds"} <= set(by_id) and "attachmentCount" not in by_id
    bad = client.get("/tasks", params={"fields": '["nope"]'})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_parameter"
    full = client.get(f"/folders/{project['id']}").json()
    assert full["kind"] == "folders" and full["data"][0]["project"]["ownerIds"] == project["project"]["ownerIds"]
    assert client.get("/contacts", params={"me": "true"}).json()["data"][0]["id"] == ds.me["id"]
    space_fields = client.get(f"/spaces/{ds.spaces[0]['id']}/customfields").json()["data"]
    assert space_fields and all(f["spaceId"] == ds.spaces[0]["id"] for f in space_fields)


def test_errors_have_wrike_shape_and_codes(ro):
    ds, emulator, client = ro
    with httpx.Client(base_url=str(client.base_url)) as anonymous:
        missing = anonymous.get("/spaces")
        assert missing.status_code == 401 and missing.json()["error"] == "not_authorized"
        bad = anonymous.get("/spaces", headers={"Authorization": "bearer eyJnotarealtoken"})
        assert bad.json() == {"errorDescription": "Access token is unknown or invalid", "error": "not_authorized"}
        by_query = anonymous.get("/spaces", params={"access_token": ds.permanent_token})
        assert by_query.status_code == 200
        capital = anonymous.get("/spaces", headers={"Authorization": f"Bearer {ds.permanent_token}"})
        assert capital.status_code == 200
    cases = [
        (client.get("/tasks/IEAXXXXXKQAAAAAA"), 404, "resource_not_found"),
        (client.get("/folders/IEAXXXXXI4AAAAAA/tasks"), 404, "resource_not_found"),
        (client.get("/nothing/here"), 404, "method_not_found"),
        (client.get("/tasks/" + ",".join(t["id"] for t in ds.tasks[:101])), 400, "invalid_parameter"),
        (client.get("/tasks", params={"updatedDate": "{not json"}), 400, "invalid_parameter"),
        (client.get("/tasks", params={"pageSize": 1001}), 400, "invalid_parameter"),
        (client.get("/tasks", params={"bogus": "1"}), 400, "invalid_parameter"),
        (client.delete("/spaces"), 400, "invalid_request"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert set(response.json()) == {"errorDescription", "error"} and response.json()["error"] == code
    folder = ds.projects[1]["id"]
    emulator.deny(folder)
    try:
        denied = client.get(f"/folders/{folder}/tasks")
        assert denied.status_code == 403 and denied.json()["error"] == "access_forbidden"
        emulator.deny(folder, "not_allowed")
        assert client.get(f"/folders/{folder}").json()["error"] == "not_allowed"
    finally:
        emulator.deny(folder, "")
    assert client.get(f"/folders/{folder}/tasks").status_code == 200


# --- task queries --------------------------------------------------------------------------------


@pytest.mark.slow
def test_paging_with_next_page_token_reaches_every_task(big):
    ds, _, client = big
    project = ds.projects[0]["id"]
    seen, sizes, token = [], [], None
    while True:
        params = {"pageSize": 1000, "descendants": "true"} | ({"nextPageToken": token} if token else {})
        body = client.get(f"/folders/{project}/tasks", params=params).json()
        assert body["responseSize"] == 2500
        seen += [t["id"] for t in body["data"]]
        sizes.append(len(body["data"]))
        token = body.get("nextPageToken")
        if not token:
            break
    assert sizes == [1000, 1000, 500]
    assert len(seen) == len(set(seen)) == 2500 and set(seen) == {t["id"] for t in ds.tasks}
    updated = [ds.task(i)["updatedDate"] for i in seen]
    assert updated == sorted(updated, reverse=True)  # default sort: updatedDate descending
    small = client.get(f"/folders/{project}/tasks", params={"pageSize": 7}).json()
    again = client.get(f"/folders/{project}/tasks", params={"pageSize": 7, "nextPageToken": small["nextPageToken"]})
    assert [t["id"] for t in again.json()["data"]] == seen[7:14]
    bogus = client.get(f"/folders/{project}/tasks", params={"nextPageToken": "nope"})
    assert bogus.status_code == 400 and bogus.json()["error"] == "invalid_parameter"


def test_without_page_size_task_queries_stop_at_1000(big):
    ds, _, client = big
    project, space = ds.projects[0]["id"], ds.spaces[0]["id"]
    for path in (f"/folders/{project}/tasks", f"/spaces/{space}/tasks", "/tasks"):
        body = client.get(path).json()
        assert len(body["data"]) == 1000 and "nextPageToken" not in body and "responseSize" not in body, path
    direct = client.get(f"/folders/{project}/tasks", params={"descendants": "false"}).json()
    assert len(direct["data"]) == 2500  # descendants=false: "no limits are applied"


def test_updated_date_filter_subtasks_and_descendants(ro):
    ds, _, client = ro
    space = ds.spaces[0]["id"]
    threshold = "2026-04-01T00:00:00Z"
    body = client.get(
        f"/spaces/{space}/tasks",
        params={"updatedDate": json.dumps({"start": threshold}), "subTasks": "true", "pageSize": 1000},
    ).json()
    got = {t["id"] for t in body["data"]}
    space_folders = {f["id"] for f in ds.folders if _in_space(ds, f["id"], space)}
    expected = {
        t["id"]
        for t in ds.tasks
        if t["scope"] == "WsTask" and set(t["parentIds"]) & space_folders and t["updatedDate"] >= threshold
    }
    assert got == expected and got
    window = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-15T00:00:00Z"}
    ranged = client.get("/tasks", params={"updatedDate": json.dumps(window), "subTasks": "true"}).json()["data"]
    assert ranged and all(window["start"] <= t["updatedDate"] <= window["end"] for t in ranged)

    no_subs = client.get(f"/spaces/{space}/tasks", params={"pageSize": 1000, "fields": '["superTaskIds"]'}).json()
    with_subs = client.get(
        f"/spaces/{space}/tasks", params={"pageSize": 1000, "subTasks": "true", "fields": '["superTaskIds"]'}
    ).json()
    assert not any(t["superTaskIds"] for t in no_subs["data"])
    assert any(t["superTaskIds"] for t in with_subs["data"])
    assert with_subs["responseSize"] == len(
        {t["id"] for t in ds.tasks if t["scope"] == "WsTask" and set(t["parentIds"]) & space_folders}
    )

    plain = next(f for f in ds.folders if "project" not in f and f["childIds"] and _in_space(ds, f["id"], space))
    deep = client.get(f"/folders/{plain['id']}/tasks", params={"subTasks": "true", "pageSize": 1000}).json()
    flat = client.get(f"/folders/{plain['id']}/tasks", params={"subTasks": "true", "descendants": "false"}).json()
    subtree = {plain["id"], *plain["childIds"]}
    assert {t["id"] for t in deep["data"]} == {
        t["id"] for t in ds.tasks if t["scope"] == "WsTask" and set(t["parentIds"]) & subtree
    }
    assert {t["id"] for t in flat["data"]} == {
        t["id"] for t in ds.tasks if t["scope"] == "WsTask" and plain["id"] in t["parentIds"]
    }
    assert len(flat["data"]) < len(deep["data"])


def _in_space(ds, folder_id: str, space_id: str) -> bool:
    by_id = {f["id"]: f for f in ds.folders}
    while folder_id in by_id:
        folder_id = by_id[folder_id]["parentIds"][0]
    return folder_id == space_id


def test_recycle_bin_tasks_only_by_recycle_bin_or_id(ro):
    ds, _, client = ro
    recycled = {t["id"] for t in ds.tasks if t["scope"] == "RbTask"}
    assert recycled
    everything = client.get("/tasks", params={"subTasks": "true", "pageSize": 1000}).json()["data"]
    assert not recycled & {t["id"] for t in everything}
    for space in ds.spaces:
        listed = client.get(f"/spaces/{space['id']}/tasks", params={"subTasks": "true", "pageSize": 1000}).json()
        assert not recycled & {t["id"] for t in listed["data"]}
    bin_tasks = client.get(f"/folders/{ds.recycle_bin_id}/tasks", params={"subTasks": "true"}).json()["data"]
    assert {t["id"] for t in bin_tasks} == recycled and {t["scope"] for t in bin_tasks} == {"RbTask"}
    one = client.get(f"/tasks/{sorted(recycled)[0]}").json()["data"][0]
    assert one["scope"] == "RbTask" and one["parentIds"]
    account = client.get("/account").json()["data"][0]
    assert account["recycleBinId"] == ds.recycle_bin_id


@pytest.mark.slow
def test_rate_limit_is_per_token_and_answers_429():
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds, rate_limit=5, rate_window=1.0)
    with emulator.serve() as server, _client(server, ds.permanent_token) as client:
        statuses = [client.get("/spaces").status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        limited = client.get("/spaces")
        assert limited.json() == {
            "errorDescription": "Rate limit exceeded, try again later",
            "error": "rate_limit_exceeded",
        }
        assert limited.headers["Retry-After"] == "1"
        oauth = _token(
            server,
            ds,
            grant_type="authorization_code",
            code=_authorize(server, ds),
            redirect_uri="http://localhost:9/cb",
        ).json()
        with _client(server, oauth["access_token"]) as other:
            assert other.get("/spaces").status_code == 200  # another token has its own budget
        time.sleep(1.05)
        assert client.get("/spaces").status_code == 200


# --- writes ----------------------------------------------------------------------------------------


def test_put_task_custom_fields_as_form_query_and_json(rw):
    ds, emulator, client, _ = rw
    field = ds.custom_field("Cascade ID")["id"]
    task = next(t for t in ds.tasks if t["scope"] == "WsTask")["id"]

    def value_of(body: dict) -> str | None:
        return next((cf["value"] for cf in body["data"][0]["customFields"] if cf["id"] == field), None)

    as_form = client.put(f"/tasks/{task}", data={"customFields": json.dumps([{"id": field, "value": "c-form"}])})
    assert as_form.status_code == 200 and value_of(as_form.json()) == "c-form"
    as_query = client.put(f"/tasks/{task}", params={"customFields": json.dumps([{"id": field, "value": "c-query"}])})
    assert value_of(as_query.json()) == "c-query"
    as_json = client.put(f"/tasks/{task}", json={"customFields": [{"id": field, "value": "c-json"}]})
    assert value_of(as_json.json()) == "c-json"
    assert value_of(client.get(f"/tasks/{task}").json()) == "c-json"
    assert emulator.dataset.task(task)["updatedDate"] > ds.task(task)["updatedDate"]
    unknown = client.put(f"/tasks/{task}", json={"customFields": [{"id": "IEAXXXXXJUAAAAAA", "value": "x"}]})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_parameter"
    checkbox = ds.custom_field("Customer Facing")["id"]
    wrong = client.put(f"/tasks/{task}", json={"customFields": [{"id": checkbox, "value": "maybe"}]})
    assert wrong.status_code == 400
    done = client.put(f"/tasks/{task}", data={"status": "Completed"}).json()["data"][0]
    assert done["status"] == "Completed" and "completedDate" in done
    active = next(s for w in ds.workflows for s in w["customStatuses"] if s["group"] == "Active")
    reopened = client.put(f"/tasks/{task}", data={"customStatus": active["id"]}).json()["data"][0]
    assert reopened["customStatusId"] == active["id"] and "completedDate" not in reopened
    assert ds.task(task)["customFields"] != emulator.dataset.task(task)["customFields"]  # the input is untouched


def test_delete_and_create_task(rw):
    ds, emulator, client, _ = rw
    project = ds.projects[0]["id"]
    created = client.post(f"/folders/{project}/tasks", data={"title": "Fresh task"}).json()["data"][0]
    assert created["parentIds"] == [project] and created["scope"] == "WsTask"
    gone = client.delete(f"/tasks/{created['id']}").json()["data"][0]
    assert gone["scope"] == "RbTask"
    bin_ids = {t["id"] for t in client.get(f"/folders/{ds.recycle_bin_id}/tasks").json()["data"]}
    assert created["id"] in bin_ids
    listed = client.get(f"/folders/{project}/tasks", params={"pageSize": 1000}).json()["data"]
    assert created["id"] not in {t["id"] for t in listed}
    assert client.post(f"/folders/{project}/tasks", data={}).json()["error"] == "parameter_required"


# --- OAuth 2.0 --------------------------------------------------------------------------------------


def _authorize(server: EmulatorServer, ds, redirect_uri: str = "http://localhost:9/cb", state: str = "s1") -> str:
    answer = httpx.get(
        server.url + "/oauth2/authorize/v4",
        params={"client_id": ds.oauth_client_id, "response_type": "code", "redirect_uri": redirect_uri, "state": state},
    )
    assert answer.status_code == 302
    location = urlparse(answer.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri and query["state"] == [state]
    return query["code"][0]


def _token(server: EmulatorServer, ds, **form) -> httpx.Response:
    return httpx.post(
        server.url + "/oauth2/token",
        data={"client_id": ds.oauth_client_id, "client_secret": ds.oauth_client_secret, **form},
    )


@pytest.mark.slow
def test_oauth_code_grant_refresh_rotation_and_expiry():
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds, access_token_ttl=1)
    with emulator.serve() as server:
        code = _authorize(server, ds)
        first = _token(server, ds, grant_type="authorization_code", code=code, redirect_uri="http://localhost:9/cb")
        body = first.json()
        assert first.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 1
        assert body["host"] == f"127.0.0.1:{server.port}" and body["refresh_token"] and body["access_token"]
        reused = _token(server, ds, grant_type="authorization_code", code=code, redirect_uri="http://localhost:9/cb")
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        other_uri = _token(
            server,
            ds,
            grant_type="authorization_code",
            code=_authorize(server, ds),
            redirect_uri="http://localhost:9/other",
        )
        assert other_uri.json()["error"] == "invalid_grant"
        wrong_secret = httpx.post(
            server.url + "/oauth2/token",
            params={
                "client_id": ds.oauth_client_id,
                "client_secret": "nope",
                "grant_type": "refresh_token",
                "refresh_token": body["refresh_token"],
            },
        )
        assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"

        with _client(server, body["access_token"]) as client:
            assert client.get("/spaces").status_code == 200
            time.sleep(1.1)
            expired = client.get("/spaces")
            assert expired.status_code == 401 and expired.json()["error"] == "not_authorized"

        rotated = _token(server, ds, grant_type="refresh_token", refresh_token=body["refresh_token"]).json()
        assert rotated["refresh_token"] != body["refresh_token"] and rotated["access_token"] != body["access_token"]
        spent = _token(server, ds, grant_type="refresh_token", refresh_token=body["refresh_token"])
        assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
        with _client(server, rotated["access_token"]) as client:
            assert client.get("/spaces").status_code == 200
        as_query = httpx.post(
            server.url + "/oauth2/token",
            params={
                "client_id": ds.oauth_client_id,
                "client_secret": ds.oauth_client_secret,
                "grant_type": "refresh_token",
                "refresh_token": rotated["refresh_token"],
            },
        )
        assert as_query.status_code == 200
        assert _token(server, ds, grant_type="password").json()["error"] == "unsupported_grant_type"


def test_oauth_test_controls_and_reuse_grace():
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds, refresh_reuse_grace=30)
    with emulator.serve() as server:
        body = _token(
            server,
            ds,
            grant_type="authorization_code",
            code=_authorize(server, ds),
            redirect_uri="http://localhost:9/cb",
        ).json()
        with _client(server, body["access_token"]) as client:
            assert client.get("/spaces").status_code == 200
            assert emulator.expire_access_tokens() == 1
            assert client.get("/spaces").status_code == 401
        again = httpx.post(server.url + "/_sandbox/wrike/expire_access_tokens", json={})
        assert again.json() == {"ok": True, "result": 1}
        first = _token(server, ds, grant_type="refresh_token", refresh_token=body["refresh_token"])
        replay = _token(server, ds, grant_type="refresh_token", refresh_token=body["refresh_token"])
        assert first.status_code == replay.status_code == 200  # within the reuse grace
        assert emulator.revoke_token(ds.permanent_token)
        with _client(server, ds.permanent_token) as client:
            assert client.get("/spaces").status_code == 401


def test_api_host_switch_answers_300_on_the_wrong_host():
    ds = generate(2, tasks=20)
    emulator = WrikeEmulator(ds)
    with emulator.serve() as login, emulator.serve() as api:
        emulator.api_host = emulator.oauth.token_host = f"127.0.0.1:{api.port}"
        body = _token(
            login, ds, grant_type="authorization_code", code=_authorize(login, ds), redirect_uri="http://localhost:9/cb"
        ).json()
        assert body["host"] == f"127.0.0.1:{api.port}"
        with _client(login, body["access_token"]) as wrong, _client(api, body["access_token"]) as right:
            assert wrong.get("/spaces").status_code == 300
            assert right.get("/spaces").status_code == 200


# --- webhooks ---------------------------------------------------------------------------------------


def test_webhook_handshake_then_signed_events(rw):
    ds, emulator, client, server = rw
    secret = "s3cret-for-hooks"
    receiver = Receiver(secret)
    try:
        project = ds.projects[0]
        created = client.post(
            f"/folders/{project['id']}/webhooks", data={"hookUrl": receiver.url, "secret": secret}
        ).json()["data"][0]
        assert created["folderId"] == project["id"] and created["status"] == "Active"
        assert "secret" not in created
        [shake] = receiver.handshakes
        assert len(shake["challenge"]) <= 100 and shake["signature"] == _hmac(secret, shake["body"])
        assert client.get("/webhooks").json()["data"] == [created]

        task = next(
            t
            for t in ds.tasks
            if t["parentIds"][0] == project["id"] and t["scope"] == "WsTask" and t["status"] == "Active"
        )
        wf = emulator.workflow_of(task)
        done = next(s for s in wf["customStatuses"] if s["group"] == "Completed")
        emulator.update_task(task["id"], customStatusId=done["id"], title="Renamed")
        [(raw, headers)] = receiver.deliveries
        assert headers["X-Hook-Signature"] == _hmac(secret, raw)
        events = json.loads(raw)
        assert isinstance(events, list)
        by_type = {e["eventType"]: e for e in events}
        assert by_type["TaskTitleChanged"]["title"] == "Renamed"
        status = by_type["TaskStatusChanged"]
        assert (status["oldStatus"], status["status"], status["customStatusId"]) == ("Active", "Completed", done["id"])
        assert all(
            e["taskId"] == task["id"]
            and e["webhookId"] == created["id"]
            and e["eventAuthorId"]
            and e["lastUpdatedDate"].endswith("Z")
            for e in events
        )

        outside = next(t for t in ds.tasks if project["id"] not in t["parentIds"] and t["scope"] == "WsTask")
        emulator.update_task(outside["id"], title="Elsewhere")
        assert len(receiver.deliveries) == 1

        field = ds.custom_field("Cascade ID")["id"]
        put = client.put(f"/tasks/{task['id']}", json={"customFields": [{"id": field, "value": "cid-1"}]})
        assert put.status_code == 200
        event = json.loads(receiver.deliveries[-1][0])[0]
        assert (event["eventType"], event["customFieldId"], event["value"]) == (
            "TaskCustomFieldChanged",
            field,
            "cid-1",
        )

        over_http = httpx.post(server.url + "/_sandbox/wrike/delete_task", json={"task_id": task["id"]})
        assert over_http.status_code == 200 and over_http.json()["result"]["scope"] == "RbTask"
        assert json.loads(receiver.deliveries[-1][0])[0]["eventType"] == "TaskDeleted"

        assert (
            client.put(f"/webhooks/{created['id']}", params={"status": "Suspended"}).json()["data"][0]["status"]
            == "Suspended"
        )
        count = len(receiver.deliveries)
        emulator.create_task(project["id"], "Unheard")
        assert len(receiver.deliveries) == count
        assert client.delete(f"/webhooks/{created['id']}").status_code == 200
        assert client.get("/webhooks").json()["data"] == []
    finally:
        receiver.close()


def test_webhook_handshake_must_be_answered_with_the_hmac(rw):
    ds, _, client, _ = rw
    receiver = Receiver("k3y", answer_handshake=False)
    try:
        failed = client.post(f"/spaces/{ds.spaces[0]['id']}/webhooks", data={"hookUrl": receiver.url, "secret": "k3y"})
        assert failed.status_code == 400 and failed.json()["error"] == "invalid_request"
        assert "verification" in failed.json()["errorDescription"]
        assert client.get("/webhooks").json()["data"] == []
        insecure = client.post("/webhooks", data={"hookUrl": "http://example.com/hook"})
        assert insecure.status_code == 400 and insecure.json()["error"] == "invalid_parameter"
    finally:
        receiver.close()


@pytest.mark.slow
def test_space_webhook_event_filter_move_and_suspension(rw):
    ds, emulator, client, _ = rw
    receiver = Receiver(None, status=500)
    try:
        space = ds.spaces[0]["id"]
        hook = client.post(
            f"/spaces/{space}/webhooks",
            data={"hookUrl": receiver.url, "events": "[TaskParentsAdded,TaskParentsRemoved]"},
        ).json()["data"][0]
        assert hook["spaceId"] == space and hook["events"] == ["TaskParentsAdded", "TaskParentsRemoved"]
        assert receiver.handshakes == []  # no secret, no handshake
        in_space = [f for f in ds.folders if _in_space(ds, f["id"], space)]
        task = next(t for t in ds.tasks if t["parentIds"][0] == in_space[0]["id"] and t["scope"] == "WsTask")
        emulator.update_task(task["id"], title="Not subscribed")
        assert receiver.deliveries == []
        emulator.move_task(task["id"], in_space[1]["id"])
        events = json.loads(receiver.deliveries[0][0])
        assert {e["eventType"] for e in events} == {"TaskParentsAdded", "TaskParentsRemoved"}
        assert "X-Hook-Signature" not in receiver.deliveries[0][1]
        assert len(receiver.deliveries) == 3  # three attempts at a failing receiver
        for target in (in_space[0]["id"], in_space[1]["id"]):
            emulator.move_task(task["id"], target)
        assert client.get(f"/webhooks/{hook['id']}").json()["data"][0]["status"] == "Suspended"
        reactivated = client.put(f"/webhooks/{hook['id']}", params={"status": "Active"}).json()["data"][0]
        assert reactivated["status"] == "Active"
    finally:
        receiver.close()


def test_dates_parse_to_naive_utc():
    assert parse_wrike_datetime("2026-03-01") == datetime(2026, 3, 1)
    assert parse_wrike_datetime("2026-03-01T09:30:00") == datetime(2026, 3, 1, 9, 30)
    assert parse_wrike_datetime("2026-03-01T09:30:00Z") == datetime(2026, 3, 1, 9, 30)
    assert parse_wrike_datetime(None) is None
