"""The classic Cascade emulator over real HTTP, held to Cascade's own connector definition
(``shared/reference/cascade/classic-connector.swagger.json``): every goal and task operation is
served with its documented status, answers and the client's requests conform to the connector's
schemas, and the documented traps (status defaults to DRAFT, 1-based offsets, comma-separated ids)
behave as documented. Also: 400 naming the field, 401, 403, 404, 429 and the after-write faults."""

from __future__ import annotations

import json

import httpx
import pytest

from cascade_sync_pipeline.cascade.classic import ClassicClient
from cascade_sync_pipeline_tests.support.connector_spec import CLASSIC_SWAGGER, classic_connector
from cascade_sync_pipeline_tests.support.helpers import CLASSIC_BASE as BASE
from cascade_sync_sandbox.classic import SANDBOX_TOKEN, ClassicEmulator
from cascade_sync_sandbox.server import Fault

GOAL_BODY = {
    "action": "Increase",
    "details": "revenue in EMEA",
    "start_time": "2025-01-01",
    "end_time": "2025-12-31",
    "weight_id": 1,
}


@pytest.fixture
def api(base_url):
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=10) as client:
        yield client


def checked(response: httpx.Response) -> dict | None:
    """The answer, after checking it against the connector's schema for its operation and status."""
    body = response.json() if response.content else None
    if body is not None:
        classic_connector().validate_response(
            response.request.method, response.request.url.path, response.status_code, body
        )
    return body


def send(api: httpx.Client, method: str, path: str, body: dict | None = None) -> httpx.Response:
    """A request whose body is first checked against the connector's request schema."""
    if body is not None:
        classic_connector().validate_request(method, BASE + path, body)
    return api.request(method, path, json=body)


def test_connector_definition_is_where_the_tests_expect_it():
    assert CLASSIC_SWAGGER.is_file(), f"classic connector definition missing: expected it at {CLASSIC_SWAGGER}"
    assert classic_connector().doc["basePath"].rstrip("/") == BASE


def test_every_goal_and_task_operation_is_served_with_its_documented_status(api, emulator):
    goal = emulator.add_goal(action="Seed", details="goal")
    spare = emulator.add_goal(action="Spare", details="goal")
    task = emulator.add_task(task="Seed task", goal_id=goal["id"])
    bodies = {
        "/goals": {"goal": GOAL_BODY},
        "/goals/{id}": {"goal": {"progress": 40, "status": "APPRO"}},
        "/tasks": {"task": {"task": "Write the plan", "goal_id": goal["id"]}},
        "/tasks/{id}": {"task": {"is_complete": 1}},
    }
    ids = {"/goals/{id}": spare["id"], "/tasks/{id}": task["id"]}
    operations = [(m, t, op) for m, t, op in classic_connector().operations() if t.split("/")[1] in ("goals", "tasks")]
    assert len(operations) == 10
    # DELETEs last, so the PUT and GET of the same item still find it
    for method, template, operation in sorted(operations, key=lambda o: (o[0] == "DELETE", o[1])):
        path = template.replace("{id}", str(ids.get(template, "")))
        body = bodies[template] if method in ("POST", "PUT") else None
        response = send(api, method, path, body)
        documented = [int(code) for code in operation["responses"]]
        assert response.status_code in documented, (method, template, response.status_code, response.text)
        checked(response)
    assert set(emulator.goals) == {goal["id"], max(emulator.goals)}  # spare deleted, one created
    assert task["id"] not in emulator.tasks


def test_answers_conform_to_the_connector_schemas(api, emulator):
    parent = checked(send(api, "POST", "/goals", {"goal": {**GOAL_BODY, "status": "APPRO"}}))["goal"]
    child = checked(
        send(
            api,
            "POST",
            "/goals",
            {
                "goal": {
                    **GOAL_BODY,
                    "action": "Open",
                    "details": "Berlin office",
                    "aligned_to_ids": [parent["id"]],
                    "target": 3,
                }
            },
        )
    )["goal"]
    created = checked(
        send(
            api,
            "POST",
            "/tasks",
            {"task": {"task": "Sign lease", "goal_id": child["id"], "is_complete": 1, "due_date": "1740787200"}},
        )
    )
    assert created["tasks"]["completed_user_id"] == str(emulator.integration_user["id"])  # as documented there
    checked(send(api, "PUT", f"/tasks/{created['tasks']['id']}", {"task": {"comment": "signed"}}))
    checked(api.get(f"/goals/{child['id']}"))
    checked(api.get(f"/tasks/{created['tasks']['id']}"))
    goals = checked(api.get("/goals", params={"status": "APPRO,DRAFT"}))["goals"]
    tasks = checked(api.get("/tasks"))["tasks"]
    for goal in goals:  # each listed goal against the schema of the documented list item
        classic_connector().validate_response("GET", BASE + "/goals", 200, {"goal": goal})
    assert {g["id"] for g in goals} == {parent["id"], child["id"]} and len(tasks) == 1


def test_every_body_the_client_sends_conforms_to_the_request_schemas(base_url, emulator):
    sent: list[tuple[str, str, dict | None, dict]] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            sent.append((request.method, request.url.path, body, dict(request.url.params)))
            return super().handle_request(request)

    focus = emulator.add_focus_area("Growth")
    with ClassicClient(base_url, SANDBOX_TOKEN, transport=Recording()) as client:
        goal = client.create_goal({**GOAL_BODY, "direct_focus_area_ids": [focus], "target": 12.5, "is_private": 0})
        child = client.create_goal(
            {
                **GOAL_BODY,
                "action": "Hire",
                "aligned_to_ids": [str(goal["id"])],
                "start_time": 1735689600,
                "end_time": "2025-06-30T00:00:00Z",
            }
        )
        client.update_goal(child["id"], {"status": "APPRO", "progress": 50, "weight_id": 2})
        task = client.create_task({"task": "Post the job ad", "goal_id": str(child["id"]), "due_date": "2025-02-01"})
        client.update_task(task["id"], {"is_complete": 1})
        client.list_goals(status=["APPRO", "DRAFT"], ids=[goal["id"], child["id"]])
        client.list_tasks(goal_id=child["id"])
        client.delete_task(task["id"])
        client.delete_goal(child["id"])
    assert {m for m, *_ in sent} == {"GET", "POST", "PUT", "DELETE"}
    for method, path, body, query in sent:
        classic_connector().validate_request(method, path, body, query=query)


def test_goal_list_status_defaults_to_draft(api, emulator):
    for status in ("APPRO", "DRAFT", "ARCHI"):
        emulator.add_goal(action="Goal", details=status.lower(), status=status)
    assert [g["status"] for g in api.get("/goals").json()["goals"]] == ["DRAFT"]
    both = api.get("/goals", params={"status": "APPRO,ARCHI"}).json()["goals"]
    assert sorted(g["status"] for g in both) == ["APPRO", "ARCHI"]
    assert api.get("/goals", params={"status": "DONE"}).json()["field"] == "status"


def test_offset_is_one_based_and_counts_items(api, emulator):
    ids = [emulator.add_goal(action="Goal", details=str(i))["id"] for i in range(7)]

    def page(offset: int) -> list[int]:
        return [g["id"] for g in api.get("/goals", params={"offset": offset, "limit": 3}).json()["goals"]]

    assert page(1) == ids[0:3] and page(4) == ids[3:6] and page(7) == ids[6:] and page(8) == []
    assert [g["id"] for g in api.get("/goals").json()["goals"]] == ids  # default offset 1
    answer = api.get("/goals", params={"offset": 0})
    assert answer.status_code == 400 and answer.json()["field"] == "offset" and "1-based" in answer.json()["message"]
    assert api.get("/goals", params={"limit": 201}).json()["field"] == "limit"


def test_multi_value_filters_are_comma_separated(api, emulator):
    other = emulator.add_user("Ann Lee", "ann@example.com")
    mine = [emulator.add_goal(action="Grow", details=f"market {i}") for i in range(3)]
    hers = emulator.add_goal(action="Cut", details="costs", creator_id=other["id"], target_flow="UNDER")
    ids = f"{mine[0]['id']},{hers['id']}"
    assert {g["id"] for g in api.get("/goals", params={"id": ids}).json()["goals"]} == {mine[0]["id"], hers["id"]}
    by_role = api.get("/goals", params={"role_id": other["role_id"]}).json()["goals"]
    assert [g["id"] for g in by_role] == [hers["id"]] and by_role[0]["creator_id"] == other["id"]
    assert len(api.get("/goals", params={"creator_id": emulator.integration_user["id"]}).json()["goals"]) == 3
    assert [g["id"] for g in api.get("/goals", params={"target_flow": "UNDER"}).json()["goals"]] == [hers["id"]]
    assert len(api.get("/goals", params={"action": "gro", "detail": "market"}).json()["goals"]) == 3
    tasks = [emulator.add_task(task=f"Task {i}", goal_id=mine[i % 2]["id"]) for i in range(4)]
    listed = api.get("/tasks", params={"goal_id": f"{mine[1]['id']}", "id": f"{tasks[1]['id']},{tasks[2]['id']}"})
    assert [t["id"] for t in listed.json()["tasks"]] == [tasks[1]["id"]]
    assert api.get("/tasks", params={"owner": 1}).json()["field"] == "owner"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"weight_id": None}, "weight_id"),
        ({"action": "A" * 26}, "action"),
        ({"details": "d" * 301}, "details"),
        ({"weight_id": 5}, "weight_id"),
        ({"status": "DONE"}, "status"),
        ({"end_time": "2024-01-01"}, "end_time"),
        ({"start_time": "next week"}, "start_time"),
        ({"aligned_to_ids": [999999]}, "aligned_to_ids"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_goal_answers_400_naming_the_field(api, change, field):
    body = {k: v for k, v in {**GOAL_BODY, **change}.items() if v is not None}
    answer = api.post("/goals", json={"goal": body})
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field and answer.json()["message"].startswith(field)
    assert set(answer.json()) >= {"message", "code", "status"}


def test_body_must_wrap_the_object_and_tasks_need_a_goal(api):
    assert api.post("/goals", json=GOAL_BODY).json()["field"] == "goal"
    assert api.post("/tasks", json={"task": {"task": "Orphan"}}).json()["field"] == "goal_id"
    assert api.post("/tasks", json={"task": {"task": "Lost", "goal_id": 4242}}).json()["field"] == "goal_id"


def test_times_accept_unix_seconds_and_iso_8601(api):
    unix = api.post("/goals", json={"goal": {**GOAL_BODY, "start_time": 1735689600, "end_time": "1767139200"}})
    iso = api.post(
        "/goals",
        json={"goal": {**GOAL_BODY, "start_time": "2025-01-01T00:00:00Z", "end_time": "2025-12-31T01:00:00+01:00"}},
    )
    for answer in (unix, iso):
        goal = answer.json()["goal"]
        assert (goal["start_time"], goal["end_time"]) == ("2025-01-01T00:00:00Z", "2025-12-31T00:00:00Z")
    assert iso.json()["goal"]["title"] == "Increase revenue in EMEA to 100 by 31 Dec 2025"


def test_server_sets_creator_role_and_the_derived_ids(api, emulator):
    focus = emulator.add_focus_area("Growth")
    top = api.post("/goals", json={"goal": {**GOAL_BODY, "direct_focus_area_ids": [focus]}}).json()["goal"]
    mid_body = {**GOAL_BODY, "aligned_to_ids": [top["id"]], "creator_id": 77}  # creator_id: read-only, ignored
    mid = api.post("/goals", json={"goal": mid_body}).json()["goal"]
    low = emulator.add_goal(action="Low", details="goal", aligned_to_ids=[mid["id"]])
    task = api.post("/tasks", json={"task": {"task": "Do", "goal_id": mid["id"]}}).json()["tasks"]
    user = emulator.integration_user
    assert (mid["creator_id"], mid["role_id"], mid["status"]) == (user["id"], user["role_id"], "DRAFT")
    assert (task["user_id"], task["role_id"]) == (user["id"], user["role_id"])
    mid = emulator.goal(mid["id"])
    assert mid["aligned_from_ids"] == [low["id"]] and mid["ancestor_ids"] == [top["id"]]
    assert mid["inherited_focus_area_ids"] == [focus] and mid["task_ids"] == [task["id"]]
    assert emulator.goal(top["id"])["descendant_ids"] == [mid["id"], low["id"]]
    cycle = api.put(f"/goals/{top['id']}", json={"goal": {"aligned_to_ids": [low["id"]]}})
    assert cycle.status_code == 400 and cycle.json()["field"] == "aligned_to_ids"
    assert api.delete(f"/goals/{mid['id']}").status_code == 204
    assert task["id"] not in emulator.tasks and emulator.goal(low["id"])["aligned_to_ids"] == []


def test_401_403_404(base_url, api, emulator):
    assert httpx.get(base_url + "/goals").status_code == 401
    wrong = httpx.get(base_url + "/goals", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Add Token" in wrong.json()["message"]
    emulator.add_token("tasks-only", emulator.integration_user["id"], scopes=("Tasks",))
    scoped = httpx.get(base_url + "/goals", headers={"Authorization": "Bearer tasks-only"})
    assert scoped.status_code == 403 and "Goals" in scoped.json()["message"]
    assert api.get("/goals/999999").status_code == 404
    assert api.put("/tasks/1", json={"task": {"task": "x"}}).status_code == 404
    assert api.delete("/goals/999999").json()["code"] == 404
    assert emulator.writes == 0


def test_429_with_retry_after(switch):
    emulator = ClassicEmulator(rate_limit=2, rate_window=30)
    switch.app = emulator.app
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    answers = [httpx.get(switch.server.url + BASE + "/tasks", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 30 and answers[2].json()["code"] == 429


def test_after_write_faults_store_then_lose_the_answer(api, emulator):
    emulator.faults.add(Fault(kind="reset_after_write", method="POST", path="/goals$"))
    with pytest.raises(httpx.TransportError):
        api.post("/goals", json={"goal": GOAL_BODY})
    assert [g["action"] for g in emulator.goals.values()] == ["Increase"] and emulator.writes == 1
    emulator.faults.add(Fault(kind="status_after_write", status=502, method="PUT"))
    goal_id = next(iter(emulator.goals))
    assert api.put(f"/goals/{goal_id}", json={"goal": {"progress": 10}}).status_code == 502
    assert emulator.goal(goal_id)["progress"] == 10 and emulator.writes == 2
    emulator.faults.add(Fault(kind="delay_after_write", seconds=0.5, method="POST", path="/tasks$"))
    with pytest.raises(httpx.ReadTimeout):
        api.post("/tasks", json={"task": {"task": "Slow", "goal_id": goal_id}}, timeout=0.2)
    assert [t["task"] for t in emulator.tasks.values()] == ["Slow"]
    emulator.faults.add(Fault(kind="reset", method="POST", path="/tasks$"))  # before the write: nothing stored
    with pytest.raises(httpx.TransportError):
        api.post("/tasks", json={"task": {"task": "Never", "goal_id": goal_id}})
    assert len(emulator.tasks) == 1 and emulator.log.count("POST", status=0) == 2
