"""The Cascade emulator: the contract in ``cascade_sync_pipeline/cascade/openapi.yaml`` served
under ``/api/v2`` over real HTTP, with an in-memory store, per-token rate limits and fault injection.

    emulator = CascadeEmulator()
    with emulator.serve() as server:          # running EmulatorServer on 127.0.0.1, free port
        base_url = server.url + "/api/v2"     # token: SANDBOX_TOKEN

Besides the shared fault kinds (see ``sandbox/server.py``) it understands ``reset_after_write``:
the write is stored, then the connection is dropped before the answer, as when a response is lost.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from datetime import date
from typing import Any

from flask import Response, g, jsonify, request

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from . import seed
from .model import COLLECTIONS, STATUSES, ApiError, CascadeStore, View, invalid

SANDBOX_TOKEN = "cascade-sandbox-token"
API_PREFIX = "/api/v2"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
READ_ONLY_ROLE = "read"

STRATEGY_COLLECTIONS = ("plans", "focus-areas", "objectives", "actions", "measures")
CF_COLLECTIONS = ("objectives", "actions", "measures")
SUB_COLLECTIONS = ("milestones", "checklist-items")
_COMMON_PARAMS = {"offset", "limit", "id"}
_STRATEGY_PARAMS = _COMMON_PARAMS | {"archived", "external_source", "external_workspace", "external_item_id"}
# query parameter -> (kind of filter); "ids" filters take comma-separated integers
FILTERS: dict[str, dict[str, str]] = {
    "plan": {},
    "focus_area": {"plan_id": "ids"},
    "objective": {"plan_id": "ids", "focus_area_id": "ids", "parent_objective_id": "ids"},
    "action": {"objective_id": "ids", "status": "statuses"},
    "measure": {"objective_id": "ids"},
    "user": {"email": "emails"},
    "custom_field": {"applies_to": "kind"},
}


class CascadeEmulator:
    """An in-memory Cascade with the contract's endpoints, seeded with one plan.

    tokens: bearer token -> role; the role ``"read"`` may only read (403 on writes), any other may
    write. ``today`` pins the date health is computed for (default: the real date); it can be
    changed later through the attribute or ``POST /_sandbox/cascade/today``.
    """

    def __init__(self, *, tokens: dict[str, str] | None = None, rate_limit: int = 600,
                 rate_window: float = 60.0, seed_plan: bool = True,
                 users: list[dict[str, str]] | None = None, today: date | None = None) -> None:
        self.tokens = dict(tokens) if tokens is not None else {SANDBOX_TOKEN: "write"}
        self.today = today
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.store = CascadeStore(today=lambda: self.today or date.today())
        self._writes = 0
        self._writes_lock = threading.Lock()
        seed.seed_users(self.store, users if users is not None else seed.DEFAULT_USERS)
        seed.seed_custom_fields(self.store)
        if seed_plan:
            seed.seed_plan(self.store)
        self.app = make_app("cascade-emulator", self.log, self.faults)
        _register(self.app, self)

    @property
    def writes(self) -> int:
        """Successful POST/PATCH/PUT/DELETE calls under /api/v2 (a dropped answer still counts)."""
        return self._writes

    def count_write(self) -> None:
        with self._writes_lock:
            self._writes += 1

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve on 127.0.0.1 (port 0: a free one), already running. Both ``server =
        emulator.serve(); ...; server.stop()`` and ``with emulator.serve() as server:`` work."""
        return EmulatorServer(self.app, port=port).start()

    def items(self, kind: str, *, include_archived: bool = True) -> list[dict]:
        """Every item of a kind ("action" or "actions", ...) as the API renders it, health included."""
        kind = COLLECTIONS.get(kind, kind)
        with self.store.lock:
            view = View(self.store)
            rows = [view.render(kind, item) for item in sorted(self.store.table(kind).values(),
                                                               key=lambda i: i["id"])]
        rows = [r for r in rows if include_archived or not r.get("archived")]
        return copy.deepcopy(rows)

    def item(self, kind: str, item_id: int) -> dict:
        kind = COLLECTIONS.get(kind, kind)
        with self.store.lock:
            return copy.deepcopy(View(self.store).render(kind, self.store.get(kind, item_id)))

    def state(self) -> dict[str, Any]:
        return {
            "today": (self.today or date.today()).isoformat(),
            "writes": self.writes,
            "items": {collection: self.items(kind) for collection, kind in COLLECTIONS.items()},
        }


# --- HTTP layer -------------------------------------------------------------------------------------
def _register(app, emu: CascadeEmulator) -> None:
    store = emu.store

    @app.before_request
    def _authenticate():
        if not request.path.startswith(API_PREFIX + "/"):
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token or token not in emu.tokens:
            raise ApiError(401, "UNAUTHORIZED", "missing or unknown bearer token; send "
                           "'Authorization: Bearer <API token>' with a token from System > Security", {})
        allowed, remaining, reset_at = emu.limiter.hit(token)
        g.rate = (emu.limiter.limit, remaining)
        if not allowed:
            retry_after = max(1, math.ceil(reset_at - time.time()))
            g.retry_after = retry_after
            raise ApiError(429, "RATE_LIMITED",
                           f"rate limit of {emu.limiter.limit} requests per {emu.limiter.window:g}s exceeded; "
                           f"retry after {retry_after}s", {"retry_after": retry_after})
        if request.method in WRITE_METHODS and emu.tokens[token] == READ_ONLY_ROLE:
            raise ApiError(403, "FORBIDDEN", "the user behind this token may only read; issue the "
                           "integration's token to a user with edit rights on the plan", {})
        return None

    @app.after_request
    def _count_and_drop(response: Response):
        if not request.path.startswith(API_PREFIX + "/"):
            return response
        rate = getattr(g, "rate", None)
        if rate is not None:
            response.headers["X-RateLimit-Limit"] = str(rate[0])
            response.headers["X-RateLimit-Remaining"] = str(rate[1])
        if getattr(g, "retry_after", None) is not None:
            response.headers["Retry-After"] = str(g.retry_after)
        if request.method in WRITE_METHODS and 200 <= response.status_code < 300:
            emu.count_write()
        fault = getattr(g, "fault", None)
        if fault is not None and fault.kind == "reset_after_write":
            # Record before dropping: the client sees the drop at once and may look at the log.
            emu.log.record(request.method, request.path, 0)
            g.reset = True  # the shared logger must not record it a second time
            _drop_connection()
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(404)
    def _no_route(_exc):
        return jsonify(ApiError(404, "NOT_FOUND", f"no endpoint {request.path}", {}).body()), 404

    @app.errorhandler(405)
    def _bad_method(_exc):
        hint = " Cascade items are archived, not deleted: PATCH {\"archived\": true}." \
            if request.method == "DELETE" else ""
        body = ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}.{hint}", {})
        return jsonify(body.body()), 405

    for collection in STRATEGY_COLLECTIONS + ("users", "custom-fields"):
        _collection_routes(app, store, collection)
    for collection in CF_COLLECTIONS:
        _custom_value_routes(app, store, collection)
    for collection in SUB_COLLECTIONS:
        _action_child_routes(app, store, collection)

    @app.get("/_sandbox/cascade/state")
    def _state():
        return jsonify(emu.state())

    @app.post("/_sandbox/cascade/today")
    def _set_today():
        body = request.get_json(force=True, silent=True) or {}
        emu.today = date.fromisoformat(body["today"]) if body.get("today") else None
        return jsonify({"today": (emu.today or date.today()).isoformat()})


def _drop_connection() -> None:
    import socket

    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _collection_routes(app, store: CascadeStore, collection: str) -> None:
    kind = COLLECTIONS[collection]
    base = f"{API_PREFIX}/{collection}"
    writable = collection in STRATEGY_COLLECTIONS

    def list_items():
        allowed = (_STRATEGY_PARAMS if writable else _COMMON_PARAMS) | set(FILTERS[kind])
        offset, limit = _paging()
        tests = _parse_filters(kind, allowed)
        with store.lock:
            view = View(store)
            rows = [i for i in sorted(store.table(kind).values(), key=lambda i: i["id"])
                    if all(test(i) for test in tests)]
            page = [view.render(kind, i) for i in rows[offset - 1: offset - 1 + limit]]
        return _page(page, offset, limit, len(rows))

    def get_item(item_id: int):
        with store.lock:
            return jsonify({"data": View(store).render(kind, store.get(kind, item_id))})

    app.add_url_rule(base, f"list_{kind}", list_items, methods=["GET"])
    app.add_url_rule(f"{base}/<int:item_id>", f"get_{kind}", get_item, methods=["GET"])
    if not writable:
        return

    def create_item():
        with store.lock:
            item = store.create(kind, _body())
            return jsonify({"data": View(store).render(kind, item)}), 201

    def update_item(item_id: int):
        with store.lock:
            item = store.update(kind, item_id, _body())
            return jsonify({"data": View(store).render(kind, item)})

    app.add_url_rule(base, f"create_{kind}", create_item, methods=["POST"])
    app.add_url_rule(f"{base}/<int:item_id>", f"update_{kind}", update_item, methods=["PATCH"])


def _custom_value_routes(app, store: CascadeStore, collection: str) -> None:
    kind = COLLECTIONS[collection]

    def values(item_id: int):
        with store.lock:
            if request.method == "PATCH":
                item = store.set_custom_values(kind, item_id, _body())
            else:
                item = store.get(kind, item_id)
            return jsonify({"data": View(store).render(kind, item)["custom_field_values"]})

    app.add_url_rule(f"{API_PREFIX}/{collection}/<int:item_id>/custom-field-values", f"cf_{kind}", values,
                     methods=["GET", "PATCH"])


def _action_child_routes(app, store: CascadeStore, collection: str) -> None:
    kind = COLLECTIONS[collection]
    base = f"{API_PREFIX}/actions/<int:action_id>/{collection}"

    def _owned(action_id: int, item_id: int) -> dict:
        item = store.get(kind, item_id)
        if item["action_id"] != action_id:
            raise ApiError(404, "NOT_FOUND", f"{kind.replace('_', ' ')} {item_id} does not belong to action "
                           f"{action_id}", {"type": kind, "id": item_id})
        return item

    def list_children(action_id: int):
        _reject_unknown_params(_COMMON_PARAMS - {"id"})
        offset, limit = _paging()
        with store.lock:
            store.get("action", action_id)
            rows = sorted(store._children(kind, action_id), key=lambda i: (i["position"], i["id"]))
            view = View(store)
            page = [view.render(kind, i) for i in rows[offset - 1: offset - 1 + limit]]
        return _page(page, offset, limit, len(rows))

    def create_child(action_id: int):
        with store.lock:
            store.get("action", action_id)
            item = store.create(kind, _body(), parent_id=action_id)
            return jsonify({"data": View(store).render(kind, item)}), 201

    def child(action_id: int, item_id: int):
        with store.lock:
            store.get("action", action_id)
            item = _owned(action_id, item_id)
            if request.method == "DELETE":
                store.delete(kind, item_id)
                return Response(status=204)
            if request.method == "PATCH":
                item = store.update(kind, item_id, _body())
            return jsonify({"data": View(store).render(kind, item)})

    app.add_url_rule(base, f"list_{kind}", list_children, methods=["GET"])
    app.add_url_rule(base, f"create_{kind}", create_child, methods=["POST"])
    app.add_url_rule(f"{base}/<int:item_id>", f"item_{kind}", child, methods=["GET", "PATCH", "DELETE"])


# --- request parsing --------------------------------------------------------------------------------
def _body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "BAD_REQUEST", "the request body must be JSON (Content-Type: application/json)", {})
    return body


def _int_param(name: str, default: int, lo: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"must be an integer (got {raw!r})") from None
    if value < lo:
        hint = "; offsets are 1-based: the first item is offset=1" if name == "offset" else ""
        raise invalid(name, f"must be >= {lo} (got {value}){hint}")
    return value


def _paging() -> tuple[int, int]:
    return _int_param("offset", 1, 1), min(_int_param("limit", DEFAULT_LIMIT, 1), MAX_LIMIT)


def _page(rows: list[dict], offset: int, limit: int, total: int):
    return jsonify({"data": rows, "meta": {"offset": offset, "limit": limit, "count": len(rows), "total": total}})


def _csv(name: str) -> list[str] | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values:
        raise invalid(name, "must list at least one value")
    return values


def _csv_ints(name: str) -> set[int] | None:
    values = _csv(name)
    if values is None:
        return None
    try:
        return {int(v) for v in values}
    except ValueError:
        raise invalid(name, f"must be comma-separated integer ids (got {request.args[name]!r})") from None


def _reject_unknown_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise invalid(unknown[0], f"is not a query parameter of this list; allowed: {', '.join(sorted(allowed))}")


def _parse_filters(kind: str, allowed: set[str]) -> list:
    """The request's query filters as predicates over stored items; 422 names a bad parameter."""
    _reject_unknown_params(allowed)
    tests = []
    ids = _csv_ints("id")
    if ids is not None:
        tests.append(lambda i: i["id"] in ids)
    if "archived" in allowed:
        archived = request.args.get("archived", "false")
        if archived not in ("true", "false", "any"):
            raise invalid("archived", f"must be true, false or any (got {archived!r})")
        if archived != "any":
            wanted = archived == "true"
            tests.append(lambda i: i["archived"] == wanted)
        for param, key in (("external_source", "source"), ("external_workspace", "workspace")):
            value = request.args.get(param)
            if value is not None:
                tests.append(lambda i, k=key, v=value: (i["external_ref"] or {}).get(k) == v)
        item_ids = _csv("external_item_id")
        if item_ids is not None:
            wanted_ids = set(item_ids)
            tests.append(lambda i: (i["external_ref"] or {}).get("item_id") in wanted_ids)
    for param, form in FILTERS[kind].items():
        if param not in request.args:
            continue
        if form == "ids":
            values = _csv_ints(param)
            tests.append(lambda i, p=param, v=values: i.get(p) in v)
        elif form == "statuses":
            statuses = _csv(param)
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise invalid(param, f"unknown status {bad[0]!r}; one of {', '.join(STATUSES)}")
            tests.append(lambda i, v=set(statuses): i.get("status") in v)
        elif form == "emails":
            emails = {e.lower() for e in _csv(param)}
            tests.append(lambda i, v=emails: i["email"].lower() in v)
        elif form == "kind":
            value = request.args[param]
            tests.append(lambda i, v=value: v in i["applies_to"])
    return tests
