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
import threading
from typing import Any

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from .model import SANDBOX_USER, IntegrationsStore
from .oauth import Clock, OAuthServer
from .routes import API_PREFIX, register_routes

__all__ = ["API_PREFIX", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "SANDBOX_TOKEN", "IntegrationsEmulator"]

SANDBOX_TOKEN = "cascade-integrations-sandbox-token"
SANDBOX_CLIENT_ID = "cascade-integrations-sandbox-client"
SANDBOX_CLIENT_SECRET = "cascade-integrations-sandbox-secret"


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
        register_routes(self.app, self)

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
