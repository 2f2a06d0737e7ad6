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
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, drop_answer, make_app
from .model import COMPLETION_CRITERIA, STATUSES, TARGET_FLOWS, ApiError, ClassicStore, View, invalid

SANDBOX_TOKEN = "cascade-classic-sandbox-token"
API_PREFIX = "/api/v2"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
SCOPES = (
    "User Importer (Bulk)",
    "Goal Progress & Milestones (Bulk)",
    "Roles & Users",
    "Strategy Model",
    "Goals",
    "Tasks",
    "Issues",
    "Updates",
)
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
AFTER_WRITE_FAULTS = frozenset({"reset_after_write", "status_after_write", "delay_after_write"})
INTEGRATION_USER = ("Cascade Integration", "integration@sandbox.example")

# query parameter -> (stored field, how to match); "ids" and "enum" take comma-separated values
GOAL_FILTERS: dict[str, tuple[str, str, tuple]] = {
    "id": ("id", "ids", ()),
    "role_id": ("role_id", "ids", ()),
    "creator_id": ("creator_id", "ids", ()),
    "status": ("status", "enum", STATUSES),
    "completion_criteria": ("completion_criteria", "enum", COMPLETION_CRITERIA),
    "target_flow": ("target_flow", "enum", TARGET_FLOWS),
    "action": ("action", "text", ()),
    "detail": ("details", "text", ()),
}
TASK_FILTERS: dict[str, tuple[str, str, tuple]] = {
    "id": ("id", "ids", ()),
    "goal_id": ("goal_id", "ids", ()),
    "user_id": ("user_id", "ids", ()),
    "is_complete": ("is_complete", "ids", ()),
}


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
        _register(self.app, self)

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


# --- HTTP layer -----------------------------------------------------------------------------------
def _register(app, emu: ClassicEmulator) -> None:
    store = emu.store

    @app.before_request
    def _authenticate():
        if not request.path.startswith(API_PREFIX + "/"):
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        user_id = emu.tokens.get(token) if token else None
        if user_id is None or user_id not in store.table("user"):
            raise ApiError(
                401,
                "missing or unknown bearer token; send 'Authorization: Bearer <token>' with a "
                "token made under Profile > System > Security > + Add Token",
            )
        allowed, _remaining, reset_at = emu.limiter.hit(token)
        if not allowed:
            g.retry_after = max(1, math.ceil(reset_at - time.time()))
            raise ApiError(
                429,
                f"rate limit of {emu.limiter.limit} requests per {emu.limiter.window:g}s "
                f"exceeded; retry after {g.retry_after}s",
            )
        scope = {"goals": "Goals", "tasks": "Tasks"}.get(request.path[len(API_PREFIX) + 1 :].split("/")[0])
        if scope and scope not in emu.scopes.get(token, SCOPES):
            raise ApiError(403, f"this token lacks the '{scope}' scope")
        g.user_id = user_id
        return None

    @app.after_request
    def _count_and_fault(response: Response):
        if not request.path.startswith(API_PREFIX + "/"):
            return response
        if getattr(g, "retry_after", None) is not None:
            response.headers["Retry-After"] = str(g.retry_after)
        if request.method in WRITE_METHODS and 200 <= response.status_code < 300:
            emu.count_write()
        fault = getattr(g, "fault", None)
        if fault is None or fault.kind not in AFTER_WRITE_FAULTS:
            return response
        if fault.kind == "delay_after_write":
            time.sleep(fault.seconds)
            return response
        if fault.kind == "status_after_write":
            return Response(
                fault.body or json.dumps({"message": "injected fault", "code": fault.status}),
                status=fault.status,
                mimetype="application/json",
            )
        drop_answer(emu.log)
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(404)
    def _no_route(_exc):
        return jsonify(ApiError(404, f"no endpoint {request.path}").body()), 404

    @app.errorhandler(405)
    def _bad_method(_exc):
        return jsonify(ApiError(405, f"{request.method} is not allowed on {request.path}").body()), 405

    _goal_routes(app, store)
    _task_routes(app, store)

    @app.get("/_sandbox/classic/state")
    def _state():
        return jsonify(emu.state())

    @app.post("/_sandbox/classic/users")
    def _add_user():
        body = request.get_json(force=True, silent=True) or {}
        return jsonify(emu.add_user(body["name"], body["email"], body.get("role_id"))), 201

    @app.post("/_sandbox/classic/focus_areas")
    def _add_focus_area():
        body = request.get_json(force=True, silent=True) or {}
        return jsonify({"id": emu.add_focus_area(body["name"])}), 201


def _goal_routes(app, store: ClassicStore) -> None:
    base = f"{API_PREFIX}/goals"

    def list_goals():
        with store.lock:
            rows = _select(store.table("goal").values(), GOAL_FILTERS, defaults={"status": "DRAFT"})
            view = View(store)
            return jsonify({"goals": [view.goal(row) for row in rows]})

    def create_goal():
        row = store.create_goal(g.user_id, _unwrap("goal"))
        with store.lock:
            return jsonify({"goal": View(store).goal(row)}), 201

    def one_goal(goal_id: int):
        if request.method == "DELETE":
            store.delete_goal(goal_id)
            return Response(status=204)
        row = store.update_goal(goal_id, _unwrap("goal")) if request.method == "PUT" else store.get("goal", goal_id)
        with store.lock:
            return jsonify({"goal": View(store).goal(row)})

    app.add_url_rule(base, "list_goals", list_goals, methods=["GET"])
    app.add_url_rule(base, "create_goal", create_goal, methods=["POST"])
    app.add_url_rule(f"{base}/<int:goal_id>", "goal", one_goal, methods=["GET", "PUT", "DELETE"])


def _task_routes(app, store: ClassicStore) -> None:
    base = f"{API_PREFIX}/tasks"

    def list_tasks():
        with store.lock:
            rows = _select(store.table("task").values(), TASK_FILTERS)
            return jsonify({"tasks": [View.task(row) for row in rows]})

    def create_task():
        answer = View.task(store.create_task(g.user_id, _unwrap("task")))
        if "completed_user_id" in answer:
            answer["completed_user_id"] = str(answer["completed_user_id"])
        return jsonify({"tasks": answer}), 200

    def one_task(task_id: int):
        if request.method == "DELETE":
            store.delete_task(task_id)
            return Response(status=204)
        if request.method == "PUT":
            row = store.update_task(g.user_id, task_id, _unwrap("task"))
        else:
            row = store.get("task", task_id)
        return jsonify({"task": View.task(row)})

    app.add_url_rule(base, "list_tasks", list_tasks, methods=["GET"])
    app.add_url_rule(base, "create_task", create_task, methods=["POST"])
    app.add_url_rule(f"{base}/<int:task_id>", "task", one_task, methods=["GET", "PUT", "DELETE"])


# --- request parsing ----------------------------------------------------------------------------
def _unwrap(name: str) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or name not in body:
        raise invalid(name, f'the body must be JSON wrapping the {name} as {{"{name}": {{...}}}}')
    return body[name]


def _int_param(name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"must be an integer (got {raw!r})") from None
    if value < lo or (hi is not None and value > hi):
        hint = "; offsets are 1-based: the first item is offset=1" if name == "offset" else ""
        bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise invalid(name, f"must be {bounds} (got {value}){hint}")
    return value


def _csv(name: str) -> list[str]:
    values = [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]
    if not values:
        raise invalid(name, "must list at least one value")
    return values


def _test(param: str, field: str, form: str, choices: tuple, raw: list[str] | None) -> Callable[[dict], bool]:
    values = raw if raw is not None else _csv(param)
    if form == "ids":
        try:
            wanted: set[Any] = {int(v) for v in values}
        except ValueError:
            raise invalid(param, f"must be comma-separated integers (got {','.join(values)!r})") from None
        return lambda row: row.get(field) in wanted
    if form == "enum":
        bad = [v for v in values if v not in choices]
        if bad:
            raise invalid(param, f"unknown value {bad[0]!r}; one of {', '.join(choices)}")
        return lambda row: row.get(field) in set(values)
    needles = [v.lower() for v in values]
    return lambda row: any(n in (row.get(field) or "").lower() for n in needles)


def _select(rows, filters: dict[str, tuple[str, str, tuple]], defaults: dict[str, str] | None = None) -> list[dict]:
    """The page of ``rows`` (by id) that the query's filters and paging select."""
    unknown = sorted(set(request.args) - set(filters) - {"offset", "limit"})
    if unknown:
        raise invalid(unknown[0], f"is not a filter of this list; filters: {', '.join(filters)}, offset, limit")
    offset = _int_param("offset", 1, 1)
    limit = _int_param("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    tests = [_test(p, *filters[p], None) for p in request.args if p in filters]
    tests += [_test(p, *filters[p], [v]) for p, v in (defaults or {}).items() if p not in request.args]
    matched = [row for row in sorted(list(rows), key=lambda r: r["id"]) if all(t(row) for t in tests)]
    return matched[offset - 1 : offset - 1 + limit]
