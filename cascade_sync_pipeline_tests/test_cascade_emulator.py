"""The Cascade emulator over real HTTP: computed health, status effects, roll-ups, paging, filters,
error bodies, rate limits, fault injection, and agreement with the OpenAPI contract."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cascade_sync_pipeline.cascade import OPENAPI_PATH
from cascade_sync_pipeline.sandbox.cascade import PLAN_NAME, SANDBOX_TOKEN, CascadeEmulator
from cascade_sync_pipeline.sandbox.server import EmulatorServer, Fault
from cascade_sync_pipeline_tests.helpers import AppSwitch

TODAY = date(2027, 7, 2)  # day 182 of the 364-day window 2027-01-01 → 2027-12-31: expected 50 %
READ_TOKEN = "read-only-token"


@pytest.fixture(scope="module")
def switch():
    switch = AppSwitch()
    with EmulatorServer(switch) as srv:
        switch.server = srv
        yield switch


@pytest.fixture
def emulator(switch) -> CascadeEmulator:
    emulator = CascadeEmulator(tokens={SANDBOX_TOKEN: "write", READ_TOKEN: "read"}, today=TODAY)
    switch.app = emulator.app
    return emulator


@pytest.fixture
def server(switch, emulator) -> EmulatorServer:
    return switch.server


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url + "/api/v2",
                      headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=10) as client:
        yield client


@pytest.fixture
def objective_id(api) -> int:
    """An objective with no success criteria yet."""
    plan = api.get("/plans").json()["data"][0]
    return api.post("/objectives", json={"plan_id": plan["id"], "name": "Test objective"}).json()["data"]["id"]


def make_action(api, objective_id: int, **fields) -> dict:
    body = {"objective_id": objective_id, "name": fields.pop("name", "An action"),
            "start_date": "2027-01-01", "due_date": "2027-12-31", **fields}
    response = api.post("/actions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def error_of(response: httpx.Response) -> dict:
    return response.json()["error"]


# --- seed ---------------------------------------------------------------------------------------
def test_seed_has_plan_focus_areas_objectives_users_and_fields(api):
    plans = api.get("/plans").json()["data"]
    assert [p["name"] for p in plans] == [PLAN_NAME]
    areas = api.get("/focus-areas", params={"plan_id": plans[0]["id"]}).json()["data"]
    assert {"Grow Revenue", "Delight Customers", "Operational Excellence"} <= {a["name"] for a in areas}
    objectives = api.get("/objectives", params={"plan_id": plans[0]["id"]}).json()
    assert objectives["meta"]["total"] >= 4
    fields = {f["name"]: f["type"] for f in api.get("/custom-fields").json()["data"]}
    assert fields["Source URL"] == "text" and fields["Story Points"] == "number" and "Priority Tier" in fields
    assert all("@" in u["email"] for u in api.get("/users").json()["data"])


def test_users_are_configurable_and_match_email_case_insensitively(switch):
    emulator = CascadeEmulator(users=[{"name": "Dana", "email": "dana@corp.test"},
                                      {"name": "Eli", "email": "eli@corp.test"}], seed_plan=False)
    switch.app = emulator.app
    rows = httpx.get(switch.server.url + "/api/v2/users", params={"email": "DANA@corp.test,nobody@x.test"},
                     headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}).json()["data"]
    assert [u["name"] for u in rows] == ["Dana"]
    assert emulator.items("plan") == []


# --- health -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "health"), [
    ({"progress": 50}, "On Track"),                                 # ratio 1.00
    ({"progress": 47.5}, "On Track"),                               # ratio 0.95, the boundary
    ({"progress": 45}, "Behind"),                                   # ratio 0.90
    ({"progress": 42}, "At Risk"),                                  # ratio 0.84
    ({"progress": 100}, "Achieved"),
    ({"progress": 0, "start_date": "2027-08-01"}, "Not Started"),   # starts in the future
    ({"progress": 10, "due_date": None}, "Not Tracked"),            # no expected-progress line
    ({"progress": 0, "start_date": "2027-07-02"}, "On Track"),      # starts today: expected 0 %
    ({"progress": 96, "start_date": "2027-01-01", "due_date": "2027-06-30"}, "On Track"),  # past due: expected 100 %
    ({"progress": 80, "start_date": "2027-01-01", "due_date": "2027-06-30"}, "At Risk"),
])
def test_action_health_is_progress_against_expected_progress(api, objective_id, fields, health):
    action = make_action(api, objective_id, **fields)
    assert action["health"] == health


def test_measure_progress_and_health_handle_inverse_and_exceeded_targets(api, objective_id):
    common = {"objective_id": objective_id, "start_date": "2027-01-01", "due_date": "2027-12-31", "unit": "%"}
    halfway = api.post("/measures", json={**common, "name": "Churn", "initial_value": 8, "target_value": 5,
                                          "current_value": 6.5}).json()["data"]
    assert (halfway["progress"], halfway["health"]) == (50.0, "On Track")
    beyond = api.post("/measures", json={**common, "name": "NPS", "initial_value": 10, "target_value": 40,
                                         "current_value": 55}).json()["data"]
    assert (beyond["progress"], beyond["health"]) == (150.0, "Exceeded")
    maintain = api.post("/measures", json={**common, "name": "Uptime", "initial_value": 99.9,
                                           "target_value": 99.9, "current_value": 99.9}).json()["data"]
    assert (maintain["progress"], maintain["health"]) == (None, "On Track")


def test_health_follows_the_emulator_clock(emulator, api, objective_id):
    action = make_action(api, objective_id, progress=30)
    assert action["health"] == "At Risk"
    emulator.today = date(2027, 4, 10)  # expected ≈ 27 %
    assert api.get(f"/actions/{action['id']}").json()["data"]["health"] == "On Track"


# --- status effects -----------------------------------------------------------------------------
def test_done_keeps_progress_and_overrides_health(api, objective_id):
    early = make_action(api, objective_id, progress=30, status="Done")
    assert (early["progress"], early["health"]) == (30, "On Track")
    finished = make_action(api, objective_id, progress=100, status="Done")
    assert finished["health"] == "Achieved"


def test_on_hold_has_no_effect_on_health(api, objective_id):
    running = make_action(api, objective_id, progress=45, status="In Progress")
    held = make_action(api, objective_id, progress=45, status="On Hold")
    assert running["health"] == held["health"] == "Behind"


def test_wont_do_leaves_the_parent_average(api, objective_id):
    make_action(api, objective_id, progress=40)
    dropped = make_action(api, objective_id, progress=0)
    assert api.get(f"/objectives/{objective_id}").json()["data"]["progress"] == 20.0
    patched = api.patch(f"/actions/{dropped['id']}", json={"status": "Won't Do"}).json()["data"]
    assert patched["health"] == "Not Tracked"
    assert api.get(f"/objectives/{objective_id}").json()["data"]["progress"] == 40.0


# --- roll-ups and tracking types ------------------------------------------------------------------
def test_objective_progress_averages_actions_and_measures_without_archived(api, objective_id):
    empty = api.get(f"/objectives/{objective_id}").json()["data"]
    assert (empty["progress"], empty["health"]) == (None, "Not Started")
    make_action(api, objective_id, progress=60)
    api.post("/measures", json={"objective_id": objective_id, "name": "Revenue", "initial_value": 0,
                                "target_value": 200, "current_value": 50, "start_date": "2027-01-01",
                                "due_date": "2027-12-31"})
    archived = make_action(api, objective_id, progress=0)
    api.patch(f"/actions/{archived['id']}", json={"archived": True})
    objective = api.get(f"/objectives/{objective_id}").json()["data"]
    assert objective["progress"] == 42.5  # (60 + 25) / 2
    # criteria ratios 1.0 (capped from 1.2) and 0.5 → 0.75 → At Risk
    assert objective["health"] == "At Risk"


def test_objective_is_achieved_when_every_criterion_is(api, objective_id):
    make_action(api, objective_id, progress=100)
    make_action(api, objective_id, progress=30, status="Won't Do")
    assert api.get(f"/objectives/{objective_id}").json()["data"]["health"] == "Achieved"


def test_checklist_tracking_counts_completed_items(api, objective_id):
    action = make_action(api, objective_id, tracking_type="checklist")
    items = [api.post(f"/actions/{action['id']}/checklist-items", json={"name": f"step {i}"}).json()["data"]
             for i in range(3)]
    assert [i["position"] for i in items] == [1, 2, 3]
    api.patch(f"/actions/{action['id']}/checklist-items/{items[2]['id']}", json={"completed": True})
    assert api.get(f"/actions/{action['id']}").json()["data"]["progress"] == 33.33
    refused = api.patch(f"/actions/{action['id']}", json={"progress": 80})
    assert refused.status_code == 422 and error_of(refused)["details"]["field"] == "progress"


def test_milestones_count_only_in_order(api, objective_id):
    action = make_action(api, objective_id, tracking_type="milestones")
    path = f"/actions/{action['id']}/milestones"
    first = api.post(path, json={"name": "Design", "progress_value": 25}).json()["data"]
    second = api.post(path, json={"name": "Build", "progress_value": 75}).json()["data"]
    api.post(path, json={"name": "Launch", "progress_value": 100})
    api.patch(f"{path}/{second['id']}", json={"completed": True})
    assert api.get(f"/actions/{action['id']}").json()["data"]["progress"] == 0  # Design still open
    api.patch(f"{path}/{first['id']}", json={"completed": True})
    assert api.get(f"/actions/{action['id']}").json()["data"]["progress"] == 75
    assert api.delete(f"{path}/{second['id']}").status_code == 204
    assert [m["name"] for m in api.get(path).json()["data"]] == ["Design", "Launch"]


# --- paging and filters -------------------------------------------------------------------------
def test_offset_is_one_based_and_limit_is_capped(api, objective_id):
    ids = [make_action(api, objective_id, name=f"a{i}")["id"] for i in range(7)]
    first = api.get("/actions", params={"objective_id": objective_id, "limit": 3}).json()
    assert [a["id"] for a in first["data"]] == ids[:3]
    assert first["meta"] == {"offset": 1, "limit": 3, "count": 3, "total": 7}
    third = api.get("/actions", params={"objective_id": objective_id, "limit": 3, "offset": 7}).json()
    assert [a["id"] for a in third["data"]] == ids[6:]
    past_end = api.get("/actions", params={"objective_id": objective_id, "offset": 50}).json()
    assert past_end["data"] == [] and past_end["meta"]["total"] == 7
    assert api.get("/actions", params={"limit": 5000}).json()["meta"]["limit"] == 200
    zero = api.get("/actions", params={"offset": 0})
    assert zero.status_code == 422
    assert error_of(zero)["details"]["field"] == "offset" and "1-based" in error_of(zero)["message"]


def test_comma_separated_filters(api, objective_id):
    a, b, c = (make_action(api, objective_id, name=n, status=s)
               for n, s in (("a", "To Do"), ("b", "Done"), ("c", "In Progress")))
    by_id = api.get("/actions", params={"id": f"{a['id']},{c['id']}"}).json()["data"]
    assert [x["name"] for x in by_id] == ["a", "c"]
    by_status = api.get("/actions", params={"status": "Done,In Progress"}).json()["data"]
    assert {x["name"] for x in by_status} == {"b", "c"}
    bad = api.get("/actions", params={"id": "1,two"})
    assert bad.status_code == 422 and error_of(bad)["details"]["field"] == "id"
    unknown = api.get("/actions", params={"objective": objective_id})
    assert unknown.status_code == 422 and error_of(unknown)["details"]["field"] == "objective"


def test_external_ref_filters_and_archived_listing(api, objective_id):
    ref = {"source": "wrike", "workspace": "acme-pmo", "item_id": "IEAAAB1"}
    action = make_action(api, objective_id, external_ref=ref)
    make_action(api, objective_id, external_ref={**ref, "item_id": "IEAAAB2"})
    api.patch(f"/actions/{action['id']}", json={"archived": True})
    query = {"external_source": "wrike", "external_workspace": "acme-pmo", "external_item_id": "IEAAAB1,IEAAAB9"}
    assert api.get("/actions", params=query).json()["data"] == []
    found = api.get("/actions", params={**query, "archived": "any"}).json()["data"]
    assert [x["id"] for x in found] == [action["id"]] and found[0]["archived"] is True
    workspace_items = api.get("/actions", params={"external_workspace": "acme-pmo", "archived": "any"}).json()
    assert workspace_items["meta"]["total"] == 2


# --- errors -------------------------------------------------------------------------------------
def test_validation_names_the_field(api, objective_id):
    cases = [
        ({"objective_id": objective_id}, "name"),
        ({"objective_id": objective_id, "name": "x", "status": "Finished"}, "status"),
        ({"objective_id": objective_id, "name": "x", "progress": 140}, "progress"),
        ({"objective_id": objective_id, "name": "x", "owner_ids": [99999]}, "owner_ids"),
        ({"objective_id": objective_id, "name": "x", "start_date": "2027-05-01", "due_date": "2027-04-01"}, "due_date"),
        ({"objective_id": objective_id, "name": "x", "due_date": "31/12/2027"}, "due_date"),
        ({"objective_id": 424242, "name": "x"}, "objective_id"),
        ({"objective_id": objective_id, "name": "x", "health": "On Track"}, "health"),
        ({"objective_id": objective_id, "name": "x", "external_ref": {"source": "clickup"}}, "external_ref"),
        ({"objective_id": objective_id, "name": "x", "custom_field_values": [{"field_id": 1, "value": "a"}]},
         "custom_field_values[0].field_id"),
    ]
    for body, field in cases:
        response = api.post("/actions", json=body)
        assert response.status_code == 422, body
        error = error_of(response)
        assert error["code"] == "VALIDATION_FAILED" and error["details"]["field"] == field, error
        assert error["message"].startswith(field)


def test_custom_field_values_merge_validate_and_clear(api, objective_id):
    fields = {f["name"]: f["id"] for f in api.get("/custom-fields").json()["data"]}
    action = make_action(api, objective_id)
    path = f"/actions/{action['id']}/custom-field-values"
    api.patch(path, json={"values": [{"field_id": fields["Story Points"], "value": 5}]})
    values = api.patch(path, json={"values": [{"field_id": fields["Source URL"], "value": "https://x/1"}]}).json()
    assert {v["name"]: v["value"] for v in values["data"]} == {"Source URL": "https://x/1", "Story Points": 5}
    wrong_type = api.patch(path, json={"values": [{"field_id": fields["Story Points"], "value": "five"}]})
    assert wrong_type.status_code == 422 and error_of(wrong_type)["details"]["field"] == "values[0].value"
    wrong_kind = api.patch(f"/objectives/{objective_id}/custom-field-values",
                           json={"values": [{"field_id": fields["Story Points"], "value": 3}]})
    assert wrong_kind.status_code == 422 and "does not apply to objectives" in error_of(wrong_kind)["message"]
    cleared = api.patch(path, json={"values": [{"field_id": fields["Story Points"], "value": None}]}).json()
    assert [v["name"] for v in cleared["data"]] == ["Source URL"]


def test_not_found_conflict_and_method_errors(api, objective_id):
    missing = api.get("/actions/987654")
    assert missing.status_code == 404
    assert error_of(missing) == {"code": "NOT_FOUND", "message": "action 987654 does not exist",
                                 "details": {"type": "action", "id": 987654}}
    ref = {"source": "clickup", "workspace": "acme-eng", "item_id": "86abc"}
    first = make_action(api, objective_id, external_ref=ref)
    again = api.post("/actions", json={"objective_id": objective_id, "name": "dup", "external_ref": ref})
    assert again.status_code == 409
    assert error_of(again)["code"] == "EXTERNAL_REF_CONFLICT"
    assert error_of(again)["details"] == {"field": "external_ref", "existing_type": "action",
                                          "existing_id": first["id"]}
    other = make_action(api, objective_id)
    steal = api.patch(f"/actions/{other['id']}", json={"external_ref": ref})
    assert steal.status_code == 409
    refused = api.delete(f"/actions/{first['id']}")
    assert refused.status_code == 405 and "archived" in error_of(refused)["message"]


def test_auth_errors(server, api):
    no_token = httpx.get(server.url + "/api/v2/plans")
    assert no_token.status_code == 401 and error_of(no_token)["code"] == "UNAUTHORIZED"
    wrong = httpx.get(server.url + "/api/v2/plans", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    reader = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert httpx.get(server.url + "/api/v2/plans", headers=reader).status_code == 200
    forbidden = httpx.post(server.url + "/api/v2/plans", headers=reader, json={"name": "x"})
    assert forbidden.status_code == 403 and error_of(forbidden)["code"] == "FORBIDDEN"


def test_rate_limit_answers_429_with_retry_after(switch):
    emulator = CascadeEmulator(rate_limit=2, rate_window=1.0, seed_plan=False)
    switch.app = emulator.app
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    answers = [httpx.get(switch.server.url + "/api/v2/users", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    limited = answers[2]
    assert limited.headers["Retry-After"] == "1"
    assert error_of(limited)["code"] == "RATE_LIMITED" and error_of(limited)["details"]["retry_after"] == 1
    assert answers[0].headers["X-RateLimit-Remaining"] == "1"


# --- counters, faults, state ----------------------------------------------------------------------
def test_writes_count_only_successful_changes(emulator, api, objective_id):
    before = emulator.writes
    action = make_action(api, objective_id)
    api.patch(f"/actions/{action['id']}", json={"progress": 10})
    api.patch(f"/actions/{action['id']}", json={"progress": 1000})   # 422
    api.get(f"/actions/{action['id']}")
    api.delete(f"/actions/{action['id']}")                           # 405
    assert emulator.writes - before == 2
    assert emulator.log.count(method="PATCH", path=r"/actions/\d+$", status=422) == 1


def test_reset_after_write_stores_then_drops_the_answer(emulator, api, objective_id):
    emulator.faults.add(Fault(kind="reset_after_write", method="POST", path=r"/actions$"))
    before = emulator.writes
    with pytest.raises(httpx.TransportError):
        api.post("/actions", json={"objective_id": objective_id, "name": "lost answer"})
    assert [a["name"] for a in emulator.items("action")] == ["lost answer"]
    assert emulator.writes == before + 1
    assert emulator.log.count(method="POST", status=0) == 1


def test_state_endpoint_dumps_items_for_another_process(server, emulator, api, objective_id):
    make_action(api, objective_id, name="visible")
    state = httpx.get(server.url + "/_sandbox/cascade/state").json()
    assert state["today"] == TODAY.isoformat() and state["writes"] == emulator.writes
    assert [a["name"] for a in state["items"]["actions"]] == ["visible"]
    assert state["items"]["plans"][0]["name"] == PLAN_NAME
    moved = httpx.post(server.url + "/_sandbox/cascade/today", json={"today": "2027-02-01"}).json()
    assert moved == {"today": "2027-02-01"} and emulator.today == date(2027, 2, 1)


# --- the contract -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(OPENAPI_PATH.read_text())


def schema_validator(spec: dict, name: str) -> Draft202012Validator:
    registry = Registry().with_resource("urn:cascade", Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:cascade#/components/schemas/{name}"}, registry=registry)


def test_every_route_is_in_the_contract_and_back(emulator, spec):
    served = set()
    for rule in emulator.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v2/"):
            path = re.sub(r"<(?:\w+:)?\w+>", "{}", rule.rule.removeprefix("/api/v2"))
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(re.sub(r"\{\w+\}", "{}", path), method)
                  for path, ops in spec["paths"].items() for method in ops if method != "parameters"}
    assert served == documented


def test_responses_match_the_contract_schemas(spec, api, objective_id):
    fields = {f["name"]: f["id"] for f in api.get("/custom-fields").json()["data"]}
    ref = {"source": "clickup", "workspace": "acme-eng", "item_id": "t-1"}
    action = api.post("/actions", json={
        "objective_id": objective_id, "name": "Contract", "owner_ids": [api.get("/users").json()["data"][0]["id"]],
        "due_date": "2027-09-30", "progress": 12.5, "external_ref": ref,
        "custom_field_values": [{"field_id": fields["Story Points"], "value": 8}],
    }).json()
    milestone = api.post(f"/actions/{action['data']['id']}/milestones", json={"name": "m", "progress_value": 50}).json()
    checklist = api.post(f"/actions/{action['data']['id']}/checklist-items", json={"name": "c"}).json()
    api.post("/measures", json={"objective_id": objective_id, "name": "M", "initial_value": 1, "target_value": 2})
    samples = {
        "PlanList": api.get("/plans").json(),
        "FocusAreaList": api.get("/focus-areas").json(),
        "ObjectiveList": api.get("/objectives").json(),
        "ObjectiveEnvelope": api.get(f"/objectives/{objective_id}").json(),
        "ActionEnvelope": action,
        "ActionList": api.get("/actions", params={"archived": "any"}).json(),
        "MeasureList": api.get("/measures").json(),
        "MilestoneEnvelope": milestone,
        "MilestoneList": api.get(f"/actions/{action['data']['id']}/milestones").json(),
        "ChecklistItemEnvelope": checklist,
        "ChecklistItemList": api.get(f"/actions/{action['data']['id']}/checklist-items").json(),
        "UserList": api.get("/users").json(),
        "UserEnvelope": api.get(f"/users/{api.get('/users').json()['data'][0]['id']}").json(),
        "CustomFieldList": api.get("/custom-fields").json(),
        "Error": api.post("/actions", json={"objective_id": objective_id, "name": "x", "external_ref": ref}).json(),
    }
    for name, body in samples.items():
        errors = [e.message for e in schema_validator(spec, name).iter_errors(body)]
        assert not errors, (name, errors[:3])


def test_contract_schemas_reject_drift(spec, api):
    plan = api.get("/plans").json()
    drifted = {**plan["data"][0], "colour": "blue"}
    assert not schema_validator(spec, "Plan").is_valid(drifted)
    assert not schema_validator(spec, "ListMeta").is_valid({"offset": 0, "limit": 1, "count": 0, "total": 0})


def test_serve_returns_a_running_server_that_also_enters_a_with_block():
    emulator = CascadeEmulator(seed_plan=False)
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    server = emulator.serve()
    try:
        assert httpx.get(server.url + "/api/v2/users", headers=headers).status_code == 200
    finally:
        server.stop()
    with emulator.serve() as again:
        assert httpx.get(again.url + "/api/v2/custom-fields", headers=headers).json()["meta"]["total"] >= 3
