"""The Integrations API emulator: Cascade's current-platform API as its Power Platform connector
defines it (``shared/reference/cascade/integrations-connector.swagger.json``), over real HTTP.

    emulator = IntegrationsEmulator()
    ws = emulator.add_workspace("Acme"); plan = emulator.add_plan(ws["id"], "FY26")
    act = emulator.add_action(plan["id"], "Ship v2", id="act-12345")
    with emulator.serve() as server:                   # 127.0.0.1, free port
        base_url = server.url                          # paths /v2/..., token SANDBOX_TOKEN

Routes (the connector's shapes): ``GET /v2/users/me/workspaces``, ``GET /v2/workspaces/{id}/plans``,
``GET /v2/plans/{id}/actions?workspace_id=``, ``GET /v2/plans/{id}/measures?workspace_id=``,
``PUT /v2/actions/{id}``, ``PUT /v2/measures/{id}``, ``PUT /v2/measures/historical/{id}``; OAuth at
``GET /authorize`` and ``POST /oauth/token`` (``oauth.py``). Sandbox endpoints (no auth, not
logged, never faulted): the shared ``/_sandbox/faults`` and ``/_sandbox/requests``, plus
``GET /_sandbox/integrations/state`` (every action and measure with its values, and ``writes``),
``POST /_sandbox/integrations/advance`` ``{"seconds"}`` (moves the token clock) and
``POST /_sandbox/integrations/expire_access_tokens``. Besides the shared fault kinds it understands
``reset_after_write``: the PUT is stored, then the connection drops before the answer.

Assumed (not in the connector definition)
-----------------------------------------
The connector gives paths, body and answer schemas, the OAuth URLs and scope; nothing else. Every
choice below is the sandbox's, made so that a client built against it cannot lean on a guess:

* Errors: API errors answer ``{"message": "..."}`` and nothing more; 400 for a bad body or query
  (not a JSON object or not ``Content-Type: application/json``, a required field missing, a wrong
  type, a non-finite number, a bad date, a history value that is not a JSON integer in int32 range,
  an item whose plan or workspace is not the body's, a ``workspace_id`` query that is not the
  plan's), 404 for an unknown id *and* for one in a workspace the user is not a member of (no 403),
  401 for a missing, unknown or expired bearer token (with ``WWW-Authenticate: Bearer``), and 404
  ``{"message": "Cannot PUT /path"}`` for an unknown route or a method a route does not take.
* PUT checks run in this order: body shape (400), the id (404), the id's plan and workspace (400).
* ``/v1`` twins (deprecated in the connector) are not served: 404 with a message naming ``/v2``.
* Rate limit: fixed window per bearer token, ``rate_limit`` requests per ``rate_window`` seconds
  (600/60 s); beyond it 429 ``{"message"}`` with ``Retry-After`` in whole seconds. The OAuth
  endpoints are not limited.
* Tokens: opaque strings, not JWTs. Access tokens live ``access_token_ttl`` seconds (3600,
  ``expires_in``); codes are single-use and live 600 s; refresh tokens never expire. With
  ``rotate_refresh_tokens`` (default) a refresh answers a new refresh token and the used one is
  refused (``invalid_grant``) -- reusing it does not revoke the new one; without rotation the same
  refresh token is answered again. A refresh token is issued only when the scope has
  ``offline_access``; a missing ``scope`` means the connector's. A refresh keeps the granted scope
  and does not cut short access tokens issued before.
* OAuth: any absolute http(s) ``redirect_uri`` is accepted (no registered list) and must be repeated
  exactly at the token step; client credentials in the form or HTTP Basic; unknown client 400 at
  authorize, 401 ``invalid_client`` at the token step; other token errors 400. Issued tokens act as
  the client's user (``SANDBOX_USER`` for clients given to the constructor). The three hosts
  (``integrations-region-redirect``, ``integrations-router``, ``auth``) are one loopback server.
* Ids are strings; generated ones are UUID-shaped and deterministic in creation order (never
  numeric), given ones any string without ``/``.
* Values: ``action_value`` and ``measure_value`` accept any finite number (no 0-100 range);
  ``measure_value`` sets the current value only and writes no history; a history PUT sets the days
  given (a later PUT of a day overwrites it; a day repeated in one body: the last wins), is checked
  whole before anything is stored, needs ``date`` and ``value`` in each entry although the
  connector's item schema requires neither, and leaves the current value alone. ``historical_data``
  is optional in the connector: missing or ``[]`` answers 200 and stores nothing. Unknown body keys
  are ignored. Answers ``{"message": "<kind> <id> updated"}``.
* Lists are not paged: every item in one answer, in creation order. A workspace seeded with
  ``members=None`` is visible to every user. A plan's ``owner`` is a user id, ``team`` a name.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from typing import Any

from flask import Response, g, jsonify, redirect, request

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, drop_answer, make_app
from .model import SANDBOX_USER, ApiError, IntegrationsStore
from .oauth import Clock, OAuthError, OAuthServer

SANDBOX_TOKEN = "cascade-integrations-sandbox-token"
SANDBOX_CLIENT_ID = "cascade-integrations-sandbox-client"
SANDBOX_CLIENT_SECRET = "cascade-integrations-sandbox-secret"
API_PREFIX = "/v2"
_API_ROOTS = ("/v1/", "/v2/")


class IntegrationsEmulator:
    """An in-memory Cascade (current platform) behind the Integrations API, empty until seeded.

    tokens: static bearer token -> user id (default ``{SANDBOX_TOKEN: SANDBOX_USER}``); they never
    expire. oauth_clients: client id -> secret, whose issued tokens act as ``SANDBOX_USER``
    (default one sandbox client); :meth:`add_oauth_client` adds one acting as another user.
    """

    def __init__(
        self,
        *,
        tokens: dict[str, str] | None = None,
        rate_limit: int = 600,
        rate_window: float = 60.0,
        oauth_clients: dict[str, str] | None = None,
        access_token_ttl: float = 3600,
        rotate_refresh_tokens: bool = True,
    ) -> None:
        self.tokens = dict(tokens) if tokens is not None else {SANDBOX_TOKEN: SANDBOX_USER}
        self.clock = Clock()
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.store = IntegrationsStore()
        self.oauth = OAuthServer(
            self.clock, access_token_ttl=access_token_ttl, rotate_refresh_tokens=rotate_refresh_tokens
        )
        clients = oauth_clients if oauth_clients is not None else {SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}
        for client_id, secret in clients.items():
            self.oauth.add_client(client_id, secret, SANDBOX_USER)
        self._writes = 0
        self._writes_lock = threading.Lock()
        self.app = make_app("cascade-integrations-sandbox", self.log, self.faults)
        _register(self.app, self)

    def __repr__(self) -> str:
        s = self.store
        return (
            f"IntegrationsEmulator(workspaces={len(s.workspaces)}, plans={len(s.plans)}, "
            f"actions={len(s.actions)}, measures={len(s.measures)}, writes={self.writes})"
        )

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve on 127.0.0.1 (port 0: a free one), already running; ``with emulator.serve() as s:``."""
        return EmulatorServer(self.app, port=port).start()

    # --- seeding ---------------------------------------------------------------------------------
    def add_workspace(self, name: str, *, id: str | None = None, members: list[str] | None = None) -> dict:
        """A workspace; ``members`` (user ids) see it, None: every user does."""
        return self.store.add_workspace(name, id=id, members=members)

    def add_plan(
        self,
        workspace_id: str,
        name: str,
        *,
        id: str | None = None,
        owner: str = SANDBOX_USER,
        team: str = "Strategy Team",
        collaborators: list | None = None,
    ) -> dict:
        return self.store.add_plan(workspace_id, name, id=id, owner=owner, team=team, collaborators=collaborators)

    def add_action(self, plan_id: str, name: str, *, id: str | None = None) -> dict:
        return self.store.add_action(plan_id, name, id=id)

    def add_measure(self, plan_id: str, name: str, *, id: str | None = None) -> dict:
        return self.store.add_measure(plan_id, name, id=id)

    def add_token(self, token: str, user: str) -> None:
        self.tokens[token] = user

    def add_oauth_client(self, client_id: str, secret: str, *, user: str = SANDBOX_USER) -> None:
        self.oauth.add_client(client_id, secret, user)

    # --- inspection ------------------------------------------------------------------------------
    def action(self, action_id: str) -> dict:
        """The action with ``value`` (last progress pushed, None before any) and ``writes``."""
        with self.store.lock:
            return copy.deepcopy(self.store.actions[action_id])

    def measure(self, measure_id: str) -> dict:
        """The measure with ``value``, ``history`` (date -> value) and ``writes``."""
        with self.store.lock:
            return copy.deepcopy(self.store.measures[measure_id])

    @property
    def writes(self) -> int:
        """Successful PUTs (a PUT whose answer a ``reset_after_write`` fault dropped still counts)."""
        return self._writes

    def state(self) -> dict[str, Any]:
        return {**self.store.snapshot(), "writes": self.writes}

    # --- test controls ---------------------------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Move the token clock forward (access tokens and codes expire by it)."""
        return self.clock.advance(seconds)

    def expire_access_tokens(self) -> int:
        return self.oauth.expire_access_tokens()

    def revoke(self, token: str) -> bool:
        """Forget an issued access or refresh token, or a static one."""
        return self.tokens.pop(token, None) is not None or self.oauth.revoke(token)

    def _user_of(self, token: str) -> str | None:
        return self.tokens.get(token) or self.oauth.user_of(token)

    def _count_write(self) -> None:
        with self._writes_lock:
            self._writes += 1


# --- HTTP layer ----------------------------------------------------------------------------------
def _register(app, emu: IntegrationsEmulator) -> None:
    _guards(app, emu)
    _errors(app)
    _read_routes(app, emu)
    _write_routes(app, emu)
    _oauth_routes(app, emu)
    _control_routes(app, emu)


def _is_api() -> bool:
    return request.path.startswith(_API_ROOTS)


def _guards(app, emu: IntegrationsEmulator) -> None:
    @app.before_request
    def _authenticate():
        if not _is_api():
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        user = emu._user_of(token) if token else None
        if user is None:
            raise ApiError(401, "missing, unknown or expired access token; send 'Authorization: Bearer <token>'")
        g.user = user
        allowed, _, reset_at = emu.limiter.hit(token)
        if not allowed:
            g.retry_after = max(1, math.ceil(reset_at - time.time()))
            raise ApiError(
                429,
                f"Too many requests: at most {emu.limiter.limit} per "
                f"{emu.limiter.window:g} s; retry after {g.retry_after} s",
            )
        return None

    @app.after_request
    def _after(response: Response):
        if not _is_api():
            return response
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        if response.status_code == 429:
            response.headers["Retry-After"] = str(getattr(g, "retry_after", 1))
        if request.method == "PUT" and request.path.startswith(API_PREFIX + "/") and response.status_code < 300:
            emu._count_write()
            fault = getattr(g, "fault", None)
            if fault is not None and fault.kind == "reset_after_write":
                drop_answer(emu.log)
        return response


def _errors(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(OAuthError)
    def _oauth_error(exc: OAuthError):
        response = jsonify(exc.body())
        response.status_code = exc.status
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _no_route(_exc):
        message = f"Cannot {request.method} {request.path}"
        if request.path.startswith("/v1/"):
            message += ": the /v1 routes are deprecated and not served by the sandbox; use /v2"
        return jsonify({"message": message}), 404


def _read_routes(app, emu: IntegrationsEmulator) -> None:
    store = emu.store

    @app.get(f"{API_PREFIX}/users/me/workspaces")
    def _workspaces():
        with store.lock:
            rows = [{"id": w["id"], "displayName": w["displayName"]} for w in store.visible_workspaces(g.user)]
        return jsonify({"workspaces": rows})

    @app.get(f"{API_PREFIX}/workspaces/<workspace_id>/plans")
    def _plans(workspace_id: str):
        with store.lock:
            store.workspace_for(g.user, workspace_id)
            rows = [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "workspaceId": p["workspaceId"],
                    "owner": p["owner"],
                    "collaborators": copy.deepcopy(p["collaborators"]),
                    "team": p["team"],
                }
                for p in store.plans.values()
                if p["workspaceId"] == workspace_id
            ]
        return jsonify({"plans": rows})

    @app.get(f"{API_PREFIX}/plans/<plan_id>/actions")
    def _actions(plan_id: str):
        with store.lock:
            items = store.children(g.user, "action", plan_id, request.args.get("workspace_id"))
            rows = [{"id": a["id"], "workspaceId": a["workspaceId"], "name": a["name"]} for a in items]
        return jsonify({"actions": rows})

    @app.get(f"{API_PREFIX}/plans/<plan_id>/measures")
    def _measures(plan_id: str):
        with store.lock:
            items = store.children(g.user, "measure", plan_id, request.args.get("workspace_id"))
            rows = [{"id": m["id"], "name": m["name"], "workspaceId": m["workspaceId"]} for m in items]
        return jsonify({"measures": rows})


def _json_body() -> Any:
    if not request.is_json:
        raise ApiError(400, "request body must be JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "request body is not valid JSON")
    return body


def _write_routes(app, emu: IntegrationsEmulator) -> None:
    store = emu.store

    @app.put(f"{API_PREFIX}/actions/<action_id>")
    def _update_action(action_id: str):
        store.set_value(g.user, "action", action_id, _json_body())
        return jsonify({"message": f"action {action_id} updated"})

    @app.put(f"{API_PREFIX}/measures/<measure_id>")
    def _update_measure(measure_id: str):
        store.set_value(g.user, "measure", measure_id, _json_body())
        return jsonify({"message": f"measure {measure_id} updated"})

    @app.put(f"{API_PREFIX}/measures/historical/<measure_id>")
    def _update_history(measure_id: str):
        store.set_history(g.user, measure_id, _json_body())
        return jsonify({"message": f"measure {measure_id} historical values updated"})


def _oauth_routes(app, emu: IntegrationsEmulator) -> None:
    @app.get("/authorize")
    def _authorize():
        return redirect(emu.oauth.authorize(dict(request.args.items())), code=302)

    @app.post("/oauth/token")
    def _token():
        values = dict(request.form.items())
        if request.is_json and isinstance(request.get_json(silent=True), dict):
            values.update(request.get_json())
        response = jsonify(emu.oauth.token(values, request.headers.get("Authorization")))
        response.headers["Cache-Control"] = "no-store"
        return response


def _control_routes(app, emu: IntegrationsEmulator) -> None:
    @app.get("/_sandbox/integrations/state")
    def _state():
        return jsonify(emu.state())

    @app.post("/_sandbox/integrations/advance")
    def _advance():
        seconds = (request.get_json(silent=True) or {}).get("seconds", 0)
        return jsonify({"ok": True, "now": emu.advance(float(seconds))})

    @app.post("/_sandbox/integrations/expire_access_tokens")
    def _expire():
        return jsonify({"ok": True, "expired": emu.expire_access_tokens()})
