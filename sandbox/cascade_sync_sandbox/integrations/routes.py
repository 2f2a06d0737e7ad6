"""The HTTP layer of the Integrations API emulator: the token and rate-limit guard on ``/v1``
and ``/v2``, write counting and the ``reset_after_write`` fault, error answers, the read and
write routes of the connector, the OAuth endpoints and the ``/_sandbox/integrations/...``
controls. What each answer means is listed in ``app.py``'s docstring."""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

from flask import Response, g, jsonify, redirect, request

from ..server import drop_answer
from .model import ApiError
from .oauth import OAuthError

if TYPE_CHECKING:
    from .app import IntegrationsEmulator

API_PREFIX = "/v2"
_API_ROOTS = ("/v1/", "/v2/")


def register_routes(app, emu: IntegrationsEmulator) -> None:
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
