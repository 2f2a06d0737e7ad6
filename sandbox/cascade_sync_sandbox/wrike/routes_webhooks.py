"""The Wrike emulator's webhook routes: list and get, create on a folder, a space or the account,
``PUT /webhooks/{id}`` (status) and delete. Delivery is ``webhooks.py``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import jsonify

from cascade_sync_sandbox.wrike.protocol import API, ApiError, bool_value, envelope, list_value, params, reject_unknown

if TYPE_CHECKING:
    from cascade_sync_sandbox.wrike.app import WrikeEmulator


def register_webhook_routes(emu: WrikeEmulator) -> None:
    app = emu.app

    @app.get(f"{API}/webhooks")
    def _webhooks():
        return jsonify(envelope("webhooks", [h.view() for h in list(emu.webhooks.hooks.values())]))

    @app.get(f"{API}/webhooks/<hook_id>")
    def _webhook(hook_id: str):
        return jsonify(envelope("webhooks", [emu.webhooks.get(hook_id).view()]))

    def _create_webhook(folder_id: str | None = None, space_id: str | None = None):
        values = params()
        reject_unknown(values, {"hookUrl", "secret", "events", "recursive"})
        if not values.get("hookUrl"):
            raise ApiError(400, "parameter_required", "Parameter 'hookUrl' is required")
        with emu._lock:
            if folder_id:
                emu._folder(folder_id)
            if space_id:
                emu._space(space_id)
        hook = emu.webhooks.create(
            hook_url=values["hookUrl"],
            secret=values.get("secret"),
            events=list_value(values, "events"),
            recursive=bool_value(values, "recursive", False),
            folder_id=folder_id,
            space_id=space_id,
        )
        return jsonify(envelope("webhooks", [hook.view()]))

    app.add_url_rule(
        f"{API}/folders/<folder_id>/webhooks",
        "folder_webhooks",
        lambda folder_id: _create_webhook(folder_id=folder_id),
        methods=["POST"],
    )
    app.add_url_rule(
        f"{API}/spaces/<space_id>/webhooks",
        "space_webhooks",
        lambda space_id: _create_webhook(space_id=space_id),
        methods=["POST"],
    )
    app.add_url_rule(f"{API}/webhooks", "account_webhooks", lambda: _create_webhook(), methods=["POST"])

    @app.put(f"{API}/webhooks/<hook_id>")
    def _webhook_status(hook_id: str):
        values = params()
        reject_unknown(values, {"status"})
        if "status" not in values:
            raise ApiError(400, "parameter_required", "Parameter 'status' is required")
        return jsonify(envelope("webhooks", [emu.webhooks.set_status(hook_id, values["status"]).view()]))

    @app.delete(f"{API}/webhooks/<hook_id>")
    def _delete_webhook(hook_id: str):
        emu.webhooks.delete(hook_id)
        return jsonify(envelope("webhooks", []))
