"""The classic Cascade emulator: Goals and Tasks of ``classic-connector.swagger.json`` served under
``/api/v2`` over real HTTP, with an in-memory store, per-token rate limits and fault injection.

    emulator = ClassicEmulator()
    with emulator.serve() as server:          # running EmulatorServer on 127.0.0.1, free port
        base_url = server.url + "/api/v2"     # token: SANDBOX_TOKEN (the seeded integration user)

Documented behaviour it reproduces: bodies and answers wrap one object under the singular name;
``POST /goals`` answers 201, ``POST /tasks`` answers **200** under ``"tasks"``; ``GET /tasks``
answers ``{"tasks": [...]}``; DELETE answers 204; ``GET /goals`` filters ``role_id``,
``creator_id``, ``status`` (default **DRAFT** when absent), ``completion_criteria``,
``target_flow``, ``action``, ``detail``; multi-value filters are comma-separated; paging is
``offset`` (default 1) and ``limit``.

Besides the shared fault kinds (``sandbox/server.py``) it understands three that act *after* a
write was applied: ``reset_after_write`` (drop the connection without an answer),
``status_after_write`` (answer ``status`` instead, e.g. 502) and ``delay_after_write`` (answer
only after ``seconds``, past a client's timeout). A plain ``reset``/``status`` fault answers
before anything is stored.

Assumed (not in the connector definition):
- ``GET /goals`` answers ``{"goals": [...]}`` (the connector shows ``{"goal": {...}}``, evidently
  simplified); ``GET /tasks`` answers a list under ``"tasks"`` as documented.
- ``offset`` counts items, 1 = the first item (offset 0 is a 400); ``limit`` defaults to 50 and
  may be at most 200 (a larger limit is a 400 rather than silently capped, so a client that stops
  at a short page cannot be misled). No totals or paging metadata are sent.
- ``id`` filters both lists; ``GET /tasks`` (no filters in the connector) also filters
  ``goal_id``, ``user_id`` (the task's creator) and ``is_complete``. ``action`` and ``detail``
  match case-insensitive substrings of ``action``/``details``; other filters match exactly.
  A query parameter the list does not know is a 400 naming it.
- The ``POST /tasks`` answer carries ``completed_user_id`` as a string (as the connector's
  schema types it there); everywhere else ids are integers.
- 401 for a missing/unknown token, 403 when the token lacks the scope (``Goals``/``Tasks``),
  404 for an unknown id, 429 with ``Retry-After`` (seconds) over the per-token limit. A request
  refused with 401/403/429 stores nothing. The ``Instance`` header is not needed (the instance is
  the host).
- A token acts as one user (``tokens``: token -> user id); user ids, roles and focus areas are
  seeded in-process or at ``/_sandbox/classic/...`` since the API has no endpoint for them.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from .model import ClassicStore
from .render import View
from .routes import API_PREFIX, SCOPES, register_routes

__all__ = ["API_PREFIX", "INTEGRATION_USER", "SANDBOX_TOKEN", "SCOPES", "ClassicEmulator"]

SANDBOX_TOKEN = "cascade-classic-sandbox-token"
INTEGRATION_USER = ("Cascade Integration", "integration@sandbox.example")


class ClassicEmulator:
    """An in-memory classic Cascade instance with one seeded integration user.

    tokens: bearer token -> user id (default ``{SANDBOX_TOKEN: <integration user>}``); every token
    has all scopes unless given others with :meth:`add_token`.
    """

    def __init__(
        self, *, tokens: dict[str, int] | None = None, rate_limit: int = 600, rate_window: float = 60.0
    ) -> None:
        self.store = ClassicStore()
        self.integration_user = self.store.add_user(*INTEGRATION_USER)
        default = {SANDBOX_TOKEN: self.integration_user["id"]}
        self.tokens: dict[str, int] = dict(tokens) if tokens is not None else default
        self.scopes: dict[str, frozenset[str]] = {}
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window)
        self._writes = 0
        self._writes_lock = threading.Lock()
        self.app = make_app("cascade-classic-emulator", self.log, self.faults)
        register_routes(self.app, self)

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve on 127.0.0.1 (port 0: a free one), already running; usable as a context manager."""
        return EmulatorServer(self.app, port=port).start()

    # --- seeding (no API for these) ------------------------------------------------------------
    def add_user(self, name: str, email: str, role_id: int | None = None) -> dict:
        """A user holding a new role (or ``role_id``): ``{"id", "role_id"}``."""
        return self.store.add_user(name, email, role_id)

    def add_token(self, token: str, user_id: int, scopes: tuple[str, ...] | None = None) -> None:
        self.store.get("user", user_id)
        self.tokens[token] = user_id
        if scopes is not None:
            self.scopes[token] = frozenset(scopes)

    def add_focus_area(self, name: str) -> int:
        return self.store.add_focus_area(name)

    def add_goal(self, *, creator_id: int | None = None, **fields: Any) -> dict:
        """Seed a goal (not counted as a write); start/end/weight default to 2025 and 2."""
        body = {"start_time": "2025-01-01", "end_time": "2025-12-31", "weight_id": 2, "details": "", **fields}
        row = self.store.create_goal(creator_id or self.integration_user["id"], body)
        return self.goal(row["id"])

    def add_task(self, *, creator_id: int | None = None, **fields: Any) -> dict:
        row = self.store.create_task(creator_id or self.integration_user["id"], fields)
        return self.task(row["id"])

    # --- in-process inspection -------------------------------------------------------------------
    @property
    def goals(self) -> dict[int, dict]:
        """Every goal as the API renders it, by id (a copy)."""
        with self.store.lock:
            view = View(self.store)
            return {gid: view.goal(row) for gid, row in sorted(self.store.table("goal").items())}

    @property
    def tasks(self) -> dict[int, dict]:
        with self.store.lock:
            return {tid: View.task(row) for tid, row in sorted(self.store.table("task").items())}

    def goal(self, goal_id: int) -> dict:
        with self.store.lock:
            return View(self.store).goal(self.store.get("goal", goal_id))

    def task(self, task_id: int) -> dict:
        with self.store.lock:
            return View.task(self.store.get("task", task_id))

    @property
    def writes(self) -> int:
        """Successful POST/PUT/DELETE under /api/v2 (one whose answer was then lost still counts)."""
        return self._writes

    def count_write(self) -> None:
        with self._writes_lock:
            self._writes += 1

    def state(self) -> dict[str, Any]:
        users = copy.deepcopy(self.store.table("user"))
        return {
            "writes": self.writes,
            "users": list(users.values()),
            "goals": list(self.goals.values()),
            "tasks": list(self.tasks.values()),
        }
