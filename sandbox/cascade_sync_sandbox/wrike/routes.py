"""The HTTP layer of the Wrike emulator: error answers, the token and rate-limit guard on
``/api/v4``, the OAuth endpoints, the sandbox controls, and the account-wide reads (version,
account, custom fields, workflows, contacts). The other resource families have their own
modules: ``routes_folders.py`` (spaces and folders), ``routes_tasks.py``, ``routes_webhooks.py``."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from flask import jsonify, redirect, request

from cascade_sync_sandbox.wrike.protocol import (
    API,
    ApiError,
    bool_value,
    envelope,
    list_value,
    params,
    reject_unknown,
    split_ids,
)
from cascade_sync_sandbox.wrike.routes_folders import register_folder_routes
from cascade_sync_sandbox.wrike.routes_tasks import register_task_routes
from cascade_sync_sandbox.wrike.routes_webhooks import register_webhook_routes

if TYPE_CHECKING:
    from cascade_sync_sandbox.wrike.app import WrikeEmulator


def register_routes(emu: WrikeEmulator) -> None:
    """Every route of the emulator, on ``emu.app``."""
    app = emu.app

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = jsonify(exc.body())
        response.status_code = exc.status
        return response

    @app.errorhandler(404)
    def _no_route(_exc):
        return _api_error(ApiError(404, "method_not_found", f"Method {request.method} {request.path} not found"))

    @app.errorhandler(405)
    def _bad_method(_exc):
        return _api_error(ApiError(400, "invalid_request", f"Invalid HTTP method {request.method} for {request.path}"))

    @app.before_request
    def _guard():
        if not request.path.startswith(API + "/"):
            return None
        if emu.api_host and request.host != emu.api_host:
            raise ApiError(
                300,
                "invalid_request",
                "This account is served by another host; use the host from the OAuth token answer",
            )
        token = _authenticate(emu)
        allowed, _, reset = emu.limiter.hit(token)
        if not allowed:
            response = jsonify(
                {"errorDescription": "Rate limit exceeded, try again later", "error": "rate_limit_exceeded"}
            )
            response.status_code = 429
            if emu.send_retry_after:
                response.headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
            return response
        return None

    _oauth_routes(emu)
    _account_routes(emu)
    register_folder_routes(emu)
    register_task_routes(emu)
    register_webhook_routes(emu)
    _control_routes(emu)


def _authenticate(emu: WrikeEmulator) -> str:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "not_authorized", "Authorization header must be 'bearer <token>'")
        token = token.strip()
    else:
        token = request.args.get("access_token") or request.form.get("access_token")
    if not token:
        raise ApiError(401, "not_authorized", "Access token is not specified")
    if not emu.oauth.is_valid_access_token(token):
        raise ApiError(401, "not_authorized", "Access token is unknown or invalid")
    return token


def _oauth_routes(emu: WrikeEmulator) -> None:
    app = emu.app

    @app.route("/oauth2/authorize", methods=["GET", "POST"])
    @app.route("/oauth2/authorize/v4", methods=["GET", "POST"])
    def _authorize():
        return redirect(emu.oauth.authorize(dict(request.values.items())), code=302)

    @app.post("/oauth2/token")
    def _token():
        values = dict(request.values.items())
        if request.is_json and isinstance(request.get_json(silent=True), dict):
            values.update(request.get_json())
        return jsonify(emu.oauth.token(values, request.host))


def _account_routes(emu: WrikeEmulator) -> None:
    app = emu.app

    @app.get(f"{API}/version")
    def _version():
        return jsonify(envelope("version", [{"major": 4, "minor": 0}]))

    @app.get(f"{API}/account")
    def _account():
        ds = emu.dataset
        return jsonify(
            envelope(
                "accounts",
                [
                    {
                        "id": ds.account_id,
                        "name": "Northwind (sandbox)",
                        "dateFormat": "MM/dd/yyyy",
                        "firstDayOfWeek": "Mon",
                        "workDays": ["Mon", "Tue", "Wed", "Thu", "Fri"],
                        "rootFolderId": ds.root_id,
                        "recycleBinId": ds.recycle_bin_id,
                        "createdDate": "2024-01-15T09:00:00Z",
                        "joinedDate": "2024-01-15T09:00:00Z",
                    }
                ],
            )
        )

    @app.get(f"{API}/customfields")
    def _custom_fields():
        with emu._lock:
            return jsonify(envelope("customfields", list(emu.dataset.custom_fields)))

    @app.get(f"{API}/customfields/<ids>")
    def _custom_fields_by_id(ids: str):
        with emu._lock:
            data = []
            for field_id in split_ids(ids):
                if field_id not in emu.fields_by_id:
                    raise ApiError(404, "resource_not_found", f"Custom field '{field_id}' not found")
                data.append(emu.fields_by_id[field_id])
        return jsonify(envelope("customfields", data))

    @app.get(f"{API}/spaces/<space_id>/customfields")
    def _space_custom_fields(space_id: str):
        with emu._lock:
            emu._space(space_id)
            data = [f for f in emu.dataset.custom_fields if f.get("spaceId") == space_id]
        return jsonify(envelope("customfields", data))

    @app.get(f"{API}/workflows")
    def _workflows():
        with emu._lock:
            return jsonify(envelope("workflows", list(emu.dataset.workflows)))

    @app.get(f"{API}/spaces/<space_id>/workflows")
    def _space_workflows(space_id: str):
        with emu._lock:
            emu._space(space_id)
            data = [w for w in emu.dataset.workflows if w.get("spaceId") == space_id]
        return jsonify(envelope("workflows", data))

    @app.get(f"{API}/contacts")
    def _contacts():
        values = params()
        reject_unknown(values, {"me", "deleted", "types", "fields", "metadata"})
        me = bool_value(values, "me", False)
        types = list_value(values, "types")
        deleted = values.get("deleted")
        with emu._lock:
            data = [
                c
                for c in emu.dataset.contacts
                if (not me or c.get("me"))
                and (not types or c["type"] in types)
                and (deleted is None or c["deleted"] == bool_value(values, "deleted", False))
            ]
        return jsonify(envelope("contacts", data))

    @app.get(f"{API}/contacts/<ids>")
    def _contacts_by_id(ids: str):
        with emu._lock:
            by_id = {c["id"]: c for c in emu.dataset.contacts}
            data = []
            for contact_id in split_ids(ids):
                if contact_id not in by_id:
                    raise ApiError(404, "resource_not_found", f"Contact '{contact_id}' not found")
                data.append(by_id[contact_id])
        return jsonify(envelope("contacts", data))


def _control_routes(emu: WrikeEmulator) -> None:
    actions = {
        "update_task": emu.update_task,
        "create_task": emu.create_task,
        "delete_task": emu.delete_task,
        "move_task": emu.move_task,
        "update_folder": emu.update_folder,
        "expire_access_tokens": emu.expire_access_tokens,
        "revoke_token": emu.revoke_token,
        "deny": emu.deny,
    }

    @emu.app.post("/_sandbox/wrike/<action>")
    def _control(action: str):
        if action not in actions:
            raise ApiError(404, "method_not_found", f"Unknown sandbox action '{action}'; try {sorted(actions)}")
        kwargs = request.get_json(silent=True) or {}
        try:
            result = actions[action](**kwargs)
        except TypeError as exc:
            raise ApiError(400, "invalid_parameter", f"Bad arguments for '{action}': {exc}") from None
        return jsonify({"ok": True, "result": result})
