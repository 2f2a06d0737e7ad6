"""The Integrations API emulator, held to Cascade's connector definition over real HTTP on loopback.

The connector (``shared/reference/cascade/integrations-connector.swagger.json``) is the only fact
about this API, so every route it defines must be served, every answer must validate against it
and every body shape it defines must be accepted; what the emulator adds beyond it (errors, limits,
token lifetimes) is checked against the assumptions its docstring lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cascade_sync_pipeline_tests.support.connector_spec import REFERENCE_DIR, ConnectorSpec
from cascade_sync_sandbox.integrations import (
    CONNECTOR_SCOPE,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TOKEN,
    SANDBOX_USER,
    IntegrationsEmulator,
)
from cascade_sync_sandbox.server import EmulatorServer, Fault

SPEC_PATH = REFERENCE_DIR / "integrations-connector.swagger.json"
OTHER_TOKEN, OTHER_USER = "other-user-token", "user-other"
REDIRECT = "http://127.0.0.1:8787/cascade/callback"


@pytest.fixture(scope="module")
def spec() -> ConnectorSpec:
    return ConnectorSpec(SPEC_PATH)  # a missing file raises AssertionError naming where it was expected


@dataclass
class World:
    emulator: IntegrationsEmulator
    server: EmulatorServer
    api: httpx.Client
    ws: str
    plan: str
    plan2: str
    action: str
    action2: str
    measure: str
    other_ws: str
    other_plan: str
    other_action: str

    def body(self, key: str, value, **overrides) -> dict:
        return {"workspace_id": self.ws, "plan_id": self.plan, key: value, **overrides}


def _seed(emulator: IntegrationsEmulator) -> dict[str, str]:
    ws = emulator.add_workspace("Acme", members=[SANDBOX_USER])["id"]
    plan = emulator.add_plan(ws, "FY26 Strategy")["id"]
    plan2 = emulator.add_plan(ws, "Operations", team="Ops")["id"]
    other_ws = emulator.add_workspace("Other Co", members=[OTHER_USER])["id"]
    other_plan = emulator.add_plan(other_ws, "Their plan", owner=OTHER_USER)["id"]
    return {
        "ws": ws,
        "plan": plan,
        "plan2": plan2,
        "other_ws": other_ws,
        "other_plan": other_plan,
        "action": emulator.add_action(plan, "Ship v2", id="act-12345")["id"],
        "action2": emulator.add_action(plan2, "Hire a team")["id"],
        "measure": emulator.add_measure(plan, "ARR", id="msr-1")["id"],
        "other_action": emulator.add_action(other_plan, "Not yours")["id"],
    }


def _client(server: EmulatorServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


@pytest.fixture
def world():
    emulator = IntegrationsEmulator(tokens={SANDBOX_TOKEN: SANDBOX_USER, OTHER_TOKEN: OTHER_USER})
    ids = _seed(emulator)
    with emulator.serve() as server, _client(server, SANDBOX_TOKEN) as api:
        yield World(emulator, server, api, **ids)


def call(spec: ConnectorSpec, client: httpx.Client, method: str, path: str, *, json=None, params=None):
    """A conformant request (checked against the connector first) whose 200 answer must conform too."""
    spec.validate_request(method, path, json, query=params)
    response = client.request(method, path, json=json, params=params)
    assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
    spec.validate_response(method, path, 200, response.json())
    return response.json()


def _error(response: httpx.Response, status: int, *needles: str) -> str:
    assert response.status_code == status, f"expected {status}, got {response.status_code} {response.text}"
    message = response.json()["message"]
    assert isinstance(message, str) and message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ---- the connector is there and the validator bites ----------------------------------------------
def test_connector_definition_is_present():
    assert SPEC_PATH.is_file(), f"the Integrations connector definition must be at {SPEC_PATH}"


def test_missing_definition_fails_loudly_naming_the_path(tmp_path):
    with pytest.raises(AssertionError, match=str(tmp_path / "absent.json")):
        ConnectorSpec(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/v2/users/me/workspaces", {"workspaces": [{"id": 17, "displayName": "Acme"}]}),
        ("GET", "/v2/users/me/workspaces", {"workspaces": {"id": "w"}}),
        ("GET", "/v2/workspaces/w/plans", {"plans": [{"id": "p", "collaborators": "none"}]}),
        ("GET", "/v2/plans/p/measures", {"measures": [{"id": "m", "name": None}]}),
        ("PUT", "/v2/actions/a", {"message": 200}),
    ],
)
def test_validator_refuses_wrong_answers(spec, method, path, body):
    with pytest.raises(AssertionError, match="does not conform"):
        spec.validate_response(method, path, 200, body)


@pytest.mark.parametrize(
    "path,body,query,needle",
    [
        ("/v2/actions/a", {"workspace_id": "w", "action_value": 1}, None, "'plan_id' is a required property"),
        ("/v2/actions/a", {"workspace_id": "w", "plan_id": "p", "action_value": "1"}, None, "not of type 'number'"),
        ("/v2/measures/m", {"workspace_id": "w", "plan_id": "p", "measure_value": float("nan")}, None, "'double'"),
        (
            "/v2/measures/historical/m",
            {"workspace_id": "w", "plan_id": "p", "historical_data": [{"date": "2024-02-30", "value": 1}]},
            None,
            "'date'",
        ),
        (
            "/v2/measures/historical/m",
            {"workspace_id": "w", "plan_id": "p", "historical_data": [{"date": "2024-02-01", "value": 1.5}]},
            None,
            "'integer'",
        ),
        (
            "/v2/measures/historical/m",
            {"workspace_id": "w", "plan_id": "p", "historical_data": [{"date": "2024-02-01", "value": 2**31}]},
            None,
            "'int32'",
        ),
    ],
)
def test_validator_refuses_wrong_requests(spec, path, body, query, needle):
    with pytest.raises(AssertionError, match=needle.replace("(", r"\(")):
        spec.validate_request("PUT", path, body, query=query)


def test_validator_checks_query_and_matching(spec):
    with pytest.raises(AssertionError, match="'workspace_id' is missing"):
        spec.validate_request("GET", "/v2/plans/p/actions", None, query={})
    with pytest.raises(AssertionError, match="no operation"):
        spec.operation("GET", "/v2/actions/a")
    assert spec.operation("PUT", "/v2/measures/historical/m")[0] == "/v2/measures/historical/{measureId}"
    assert spec.operation("PUT", "/v2/measures/m")[0] == "/v2/measures/{measureId}"
    assert spec.validate_request("GET", "/v2/plans/p/actions?x=1", None, query={"workspace_id": "w"})


# ---- every route, every shape ---------------------------------------------------------------------
def _sample_requests(w: World) -> dict[tuple[str, str], tuple[str, dict | None, dict | None]]:
    """One conformant request per /v2 operation of the connector: (method, template) -> (path, body, query)."""
    return {
        ("GET", "/v2/users/me/workspaces"): ("/v2/users/me/workspaces", None, None),
        ("GET", "/v2/workspaces/{plan_workspace_id}/plans"): (f"/v2/workspaces/{w.ws}/plans", None, None),
        ("GET", "/v2/plans/{measure_plan_id}/measures"): (f"/v2/plans/{w.plan}/measures", None, {"workspace_id": w.ws}),
        ("GET", "/v2/plans/{action_plan_id}/actions"): (f"/v2/plans/{w.plan}/actions", None, {"workspace_id": w.ws}),
        ("PUT", "/v2/actions/{actionId}"): (f"/v2/actions/{w.action}", w.body("action_value", 62.5), None),
        ("PUT", "/v2/measures/{measureId}"): (f"/v2/measures/{w.measure}", w.body("measure_value", 1250.75), None),
        ("PUT", "/v2/measures/historical/{measureId}"): (
            f"/v2/measures/historical/{w.measure}",
            w.body("historical_data", [{"date": "2026-01-31", "value": 900}, {"date": "2026-02-28", "value": 1100}]),
            None,
        ),
    }


def test_every_v2_operation_of_the_connector_is_served_and_conforms(spec, world):
    defined = {(m, t) for m, t, _ in spec.operations() if t.startswith("/v2/")}
    samples = _sample_requests(world)
    assert set(samples) == defined, "the sample table must cover exactly the connector's /v2 operations"
    for (method, template), (path, body, query) in samples.items():
        assert spec.validate_request(method, path, body, query=query) == template
        call(spec, world.api, method, path, json=body, params=query)
    served = {
        (m, re.sub(r"<[^>]+>", "{}", r.rule))
        for r in world.emulator.app.url_map.iter_rules()
        for m in r.methods - {"HEAD", "OPTIONS"}
        if r.rule.startswith("/v2/")
    }
    assert served == {(m, re.sub(r"\{[^}]+\}", "{}", t)) for m, t in defined}, "no /v2 route beyond the connector's"


def test_deprecated_v1_twins_answer_404_pointing_to_v2(spec, world):
    for method, template, operation in spec.operations():
        if template.startswith("/v1/"):
            assert operation.get("deprecated") is True
            path = template.replace("{", "x").replace("}", "")
            _error(world.api.request(method, path, json={}), 404, "/v2")


def test_get_answers_conform_for_every_user_and_shape(spec, world):
    mine = call(spec, world.api, "GET", "/v2/users/me/workspaces")
    assert mine == {"workspaces": [{"id": world.ws, "displayName": "Acme"}]}
    plans = call(spec, world.api, "GET", f"/v2/workspaces/{world.ws}/plans")["plans"]
    assert [p["name"] for p in plans] == ["FY26 Strategy", "Operations"]
    assert plans[1] == {
        "id": world.plan2,
        "name": "Operations",
        "workspaceId": world.ws,
        "owner": SANDBOX_USER,
        "collaborators": [],
        "team": "Ops",
    }
    actions = call(spec, world.api, "GET", f"/v2/plans/{world.plan}/actions", params={"workspace_id": world.ws})
    assert actions == {"actions": [{"id": "act-12345", "workspaceId": world.ws, "name": "Ship v2"}]}
    empty = call(spec, world.api, "GET", f"/v2/plans/{world.plan2}/measures", params={"workspace_id": world.ws})
    assert empty == {"measures": []}
    with _client(world.server, OTHER_TOKEN) as theirs:
        assert call(spec, theirs, "GET", "/v2/users/me/workspaces")["workspaces"][0]["id"] == world.other_ws
        call(spec, theirs, "GET", f"/v2/plans/{world.other_plan}/actions", params={"workspace_id": world.other_ws})


def test_a_user_sees_only_workspaces_they_are_a_member_of(world):
    _error(world.api.get(f"/v2/workspaces/{world.other_ws}/plans"), 404, world.other_ws)
    _error(world.api.get(f"/v2/plans/{world.other_plan}/actions", params={"workspace_id": world.other_ws}), 404)
    body = {"workspace_id": world.other_ws, "plan_id": world.other_plan, "action_value": 5}
    _error(world.api.put(f"/v2/actions/{world.other_action}", json=body), 404, world.other_action)
    assert world.emulator.action(world.other_action)["value"] is None


# ---- writes ------------------------------------------------------------------------------------
def test_puts_are_stored_and_read_back_through_the_state_endpoint(spec, world):
    api, w = world.api, world
    call(spec, api, "PUT", f"/v2/actions/{w.action}", json=w.body("action_value", 40))
    call(spec, api, "PUT", f"/v2/actions/{w.action}", json=w.body("action_value", 62.5))
    call(spec, api, "PUT", f"/v2/measures/{w.measure}", json=w.body("measure_value", -3.25))
    history = [{"date": "2026-01-31", "value": 900}, {"date": "2026-02-28", "value": 1100}]
    call(spec, api, "PUT", f"/v2/measures/historical/{w.measure}", json=w.body("historical_data", history))
    call(
        spec,
        api,
        "PUT",
        f"/v2/measures/historical/{w.measure}",
        json=w.body("historical_data", [{"date": "2026-01-31", "value": 950}]),
    )
    call(spec, api, "PUT", f"/v2/measures/historical/{w.measure}", json={"workspace_id": w.ws, "plan_id": w.plan})

    state = httpx.get(w.server.url + "/_sandbox/integrations/state").json()
    assert state["actions"][w.action] == {"name": "Ship v2", "planId": w.plan, "workspaceId": w.ws, "value": 62.5}
    assert state["actions"][w.action2]["value"] is None
    assert state["measures"][w.measure] == {
        "name": "ARR",
        "planId": w.plan,
        "workspaceId": w.ws,
        "value": -3.25,
        "history": {"2026-01-31": 950, "2026-02-28": 1100},
    }
    assert state["writes"] == w.emulator.writes == 6
    assert [x["value"] for x in w.emulator.action(w.action)["writes"]] == [40, 62.5]
    assert w.emulator.measure(w.measure)["history"] == {"2026-01-31": 950, "2026-02-28": 1100}
    assert w.emulator.log.count("PUT", status=200) == 6


def _bad_bodies(w: World) -> list[tuple[str, str, object, str, bool]]:
    """(path, label, body, word the message must hold, whether the connector's schema refuses it too)."""
    act, msr, hist = f"/v2/actions/{w.action}", f"/v2/measures/{w.measure}", f"/v2/measures/historical/{w.measure}"

    def day(date, value) -> dict:  # a good first entry, so that an all-or-nothing check is needed
        return w.body("historical_data", [{"date": "2026-01-31", "value": 1}, {"date": date, "value": value}])

    return [
        (act, "missing plan_id", {"workspace_id": w.ws, "action_value": 5}, "plan_id", True),
        (act, "missing value", {"workspace_id": w.ws, "plan_id": w.plan}, "action_value", True),
        (act, "string value", w.body("action_value", "50"), "action_value", True),
        (act, "boolean value", w.body("action_value", True), "action_value", True),
        (msr, "string measure value", w.body("measure_value", "1.5"), "measure_value", True),
        (act, "action of another plan", w.body("action_value", 5, plan_id=w.plan2), w.plan2, False),
        (act, "another workspace", w.body("action_value", 5, workspace_id=w.other_ws), w.other_ws, False),
        (msr, "integer plan id", w.body("measure_value", 5, plan_id=7), "plan_id", True),
        (hist, "non-integer history value", day("2026-02-28", 2.5), "historical_data[1].value", True),
        (hist, "string history value", day("2026-02-28", "3"), "historical_data[1].value", True),
        (hist, "history value beyond int32", day("2026-02-28", 2**31), "32 bits", True),
        (hist, "impossible date", day("2026-02-30", 3), "historical_data[1].date", True),
        (hist, "US date", day("02/28/2026", 3), "YYYY-MM-DD", True),
        (hist, "history not a list", w.body("historical_data", {"2026-01-31": 3}), "historical_data", True),
        (act, "array body", [w.body("action_value", 5)], "JSON object", True),
    ]


def test_bad_bodies_are_refused_with_400_naming_the_problem(spec, world):
    for path, label, body, needle, schema_refuses in _bad_bodies(world):
        response = world.api.put(path, json=body)
        assert response.status_code == 400, f"{label}: {response.status_code} {response.text}"
        assert needle in response.json()["message"], f"{label}: {response.json()}"
        if schema_refuses:
            with pytest.raises(AssertionError):
                spec.validate_request("PUT", path, body)
    assert world.emulator.writes == 0
    assert world.emulator.action(world.action)["value"] is None
    assert world.emulator.measure(world.measure)["history"] == {}  # a bad entry stores none of its body


def test_a_body_that_is_not_json_is_refused(world):
    response = world.api.put(
        f"/v2/actions/{world.action}",
        content=b"action_value=5",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _error(response, 400, "application/json")


def test_unknown_ids_answer_404(world):
    w = world
    _error(w.api.put("/v2/actions/act-missing", json=w.body("action_value", 1)), 404, "act-missing")
    _error(w.api.put("/v2/measures/msr-missing", json=w.body("measure_value", 1)), 404, "msr-missing")
    _error(w.api.put("/v2/measures/historical/msr-missing", json=w.body("historical_data", [])), 404, "msr-missing")
    _error(w.api.get("/v2/workspaces/ws-missing/plans"), 404, "ws-missing")
    _error(w.api.get("/v2/plans/plan-missing/measures", params={"workspace_id": w.ws}), 404, "plan-missing")
    _error(w.api.delete(f"/v2/actions/{w.action}"), 404, "Cannot DELETE")


def test_listing_a_plan_needs_its_own_workspace_id(world):
    _error(world.api.get(f"/v2/plans/{world.plan}/actions"), 400, "workspace_id")
    _error(
        world.api.get(f"/v2/plans/{world.plan}/measures", params={"workspace_id": world.other_ws}), 400, world.other_ws
    )


# ---- auth, limits, faults ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {SANDBOX_TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
def test_a_missing_or_unknown_token_is_401(world, headers):
    response = httpx.get(world.server.url + "/v2/users/me/workspaces", headers=headers)
    _error(response, 401, "token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_rate_limit_answers_429_with_retry_after_per_token():
    emulator = IntegrationsEmulator(
        tokens={SANDBOX_TOKEN: SANDBOX_USER, OTHER_TOKEN: OTHER_USER}, rate_limit=3, rate_window=30
    )
    with emulator.serve() as server, _client(server, SANDBOX_TOKEN) as api, _client(server, OTHER_TOKEN) as other:
        assert [api.get("/v2/users/me/workspaces").status_code for _ in range(3)] == [200, 200, 200]
        response = api.get("/v2/users/me/workspaces")
        _error(response, 429, "retry after")
        assert 1 <= int(response.headers["Retry-After"]) <= 30
        assert other.get("/v2/users/me/workspaces").status_code == 200
        assert emulator.log.count(status=429) == 1


def test_fault_injection_drops_and_fails_requests(world):
    w = world
    w.emulator.faults.add(Fault(kind="reset", method="GET", path="/workspaces$"))
    with pytest.raises(httpx.TransportError):
        w.api.get("/v2/users/me/workspaces")
    assert w.api.get("/v2/users/me/workspaces").status_code == 200
    httpx.post(w.server.url + "/_sandbox/faults", json={"kind": "status", "status": 503, "path": "/actions/"})
    assert w.api.put(f"/v2/actions/{w.action}", json=w.body("action_value", 1)).status_code == 503
    assert w.emulator.writes == 0 and w.emulator.action(w.action)["value"] is None
    w.emulator.faults.add(Fault(kind="reset_after_write", method="PUT"))
    with pytest.raises(httpx.TransportError):
        w.api.put(f"/v2/actions/{w.action}", json=w.body("action_value", 77))
    assert w.emulator.action(w.action)["value"] == 77 and w.emulator.writes == 1  # stored, answer lost
    assert w.emulator.log.count("PUT", status=0) == 1


# ---- seeding --------------------------------------------------------------------------------------
def test_seeding_ids_are_strings_deterministic_and_checked():
    first, second = IntegrationsEmulator(), IntegrationsEmulator()
    assert _seed(first) == _seed(second)
    ids = _seed(IntegrationsEmulator())
    assert all(isinstance(v, str) and not v.isdigit() for v in ids.values())
    with pytest.raises(ValueError, match="already used"):
        first.add_action(ids["plan"], "Again", id="act-12345")
    with pytest.raises(KeyError):
        first.add_measure("no-such-plan", "X")
    with pytest.raises(ValueError):
        first.add_action(ids["plan"], "Slash", id="a/b")


# ---- OAuth 2.0 ------------------------------------------------------------------------------------
def _authorize(
    server: EmulatorServer, *, client_id: str = SANDBOX_CLIENT_ID, scope: str = CONNECTOR_SCOPE, state: str = "xyz"
) -> str:
    response = httpx.get(
        server.url + "/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": state,
            "scope": scope,
        },
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def _token(server: EmulatorServer, **form) -> httpx.Response:
    form = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET, **form}
    return httpx.post(server.url + "/oauth/token", data=form)


def _oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["error_description"]


def test_oauth_code_flow_refresh_rotation_and_expiry(spec, world):
    w = world
    code = _authorize(w.server)
    first = _token(w.server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    pair = first.json()
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 3600 and pair["scope"] == CONNECTOR_SCOPE
    assert set(pair) == {"access_token", "refresh_token", "expires_in", "token_type", "scope"}
    with _client(w.server, pair["access_token"]) as api:
        assert call(spec, api, "GET", "/v2/users/me/workspaces")["workspaces"][0]["id"] == w.ws
        call(spec, api, "PUT", f"/v2/actions/{w.action}", json=w.body("action_value", 10))

    _oauth_error(
        _token(w.server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT), 400, "invalid_grant"
    )  # codes are single-use

    second = _token(w.server, grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
    assert second["refresh_token"] != pair["refresh_token"]
    _oauth_error(
        _token(w.server, grant_type="refresh_token", refresh_token=pair["refresh_token"]), 400, "invalid_grant"
    )  # rotated: the used one is dead
    third = _token(w.server, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200

    w.emulator.advance(3601)
    for token in (pair["access_token"], third.json()["access_token"]):
        with _client(w.server, token) as api:
            _error(api.get("/v2/users/me/workspaces"), 401, "expired")
    fresh = _token(w.server, grant_type="refresh_token", refresh_token=third.json()["refresh_token"]).json()
    with _client(w.server, fresh["access_token"]) as api:
        assert api.get("/v2/users/me/workspaces").status_code == 200


def test_oauth_refresh_without_rotation_keeps_the_refresh_token():
    emulator = IntegrationsEmulator(rotate_refresh_tokens=False, access_token_ttl=60)
    with emulator.serve() as server:
        pair = _token(server, grant_type="authorization_code", code=_authorize(server), redirect_uri=REDIRECT).json()
        assert pair["expires_in"] == 60
        for _ in range(2):
            again = _token(server, grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
            assert again["refresh_token"] == pair["refresh_token"]


def test_oauth_errors_follow_rfc_6749(world):
    server = world.server
    unknown = httpx.get(
        server.url + "/authorize", params={"client_id": "nobody", "redirect_uri": REDIRECT, "response_type": "code"}
    )
    _oauth_error(unknown, 400, "invalid_client")
    implicit = httpx.get(
        server.url + "/authorize",
        params={"client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "token", "state": "s"},
    )
    assert parse_qs(urlsplit(implicit.headers["Location"]).query)["error"] == ["unsupported_response_type"]
    code = _authorize(server)
    _oauth_error(
        _token(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_secret="wrong"),
        401,
        "invalid_client",
    )
    _oauth_error(
        _token(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "/other"),
        400,
        "invalid_grant",
    )
    _oauth_error(_token(server, grant_type="authorization_code", code=_authorize(server)), 400, "invalid_grant")
    _oauth_error(_token(server, grant_type="password"), 400, "unsupported_grant_type")
    _oauth_error(_token(server), 400, "invalid_request")
    _oauth_error(_token(server, grant_type="refresh_token", refresh_token="never-issued"), 400, "invalid_grant")
    stale = _authorize(server)
    world.emulator.advance(601)
    _oauth_error(
        _token(server, grant_type="authorization_code", code=stale, redirect_uri=REDIRECT), 400, "invalid_grant"
    )


def test_oauth_basic_auth_scope_and_the_clients_user(world):
    w = world
    w.emulator.add_oauth_client("their-app", "their-secret", user=OTHER_USER)
    code = _authorize(w.server, client_id="their-app", scope="openid profile email")
    response = httpx.post(
        w.server.url + "/oauth/token",
        auth=("their-app", "their-secret"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    answer = response.json()
    assert "refresh_token" not in answer and answer["scope"] == "openid profile email"  # no offline_access
    with _client(w.server, answer["access_token"]) as api:
        assert [x["id"] for x in api.get("/v2/users/me/workspaces").json()["workspaces"]] == [w.other_ws]
