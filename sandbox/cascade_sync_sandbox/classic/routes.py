"""The HTTP layer of the classic emulator: the token, rate-limit and scope guard on ``/api/v2``,
write counting and the after-write faults, error answers, the goal and task routes, and the
``/_sandbox/classic/...`` seeding routes. List filters and paging are ``query.py``'s."""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, request

from ..server import drop_answer
from .errors import ApiError, invalid
from .model import ClassicStore
from .query import GOAL_FILTERS, TASK_FILTERS, select_page
from .render import View

if TYPE_CHECKING:
    from .app import ClassicEmulator

API_PREFIX = "/api/v2"
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


def register_routes(app, emu: ClassicEmulator) -> None:
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
            rows = select_page(store.table("goal").values(), GOAL_FILTERS, defaults={"status": "DRAFT"})
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
            rows = select_page(store.table("task").values(), TASK_FILTERS)
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
