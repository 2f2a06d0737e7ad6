"""The webhook receiver: verifies each delivery's signature and stores it in the inbox before answering.

Routes (one per configured workspace and source):

- ``POST /webhooks/clickup/<key>``: ``X-Signature`` must be the hex HMAC-SHA256 of the raw body, keyed
  with the secret in the env var the workspace names in ``webhook_secret_env``.
- ``POST /webhooks/wrike/<key>``: a request carrying ``X-Hook-Secret`` is Wrike's handshake, answered
  with ``X-Hook-Secret: hex(HMAC-SHA256(secret, challenge))``; every delivery must carry
  ``X-Hook-Signature``, the hex HMAC-SHA256 of the raw body.

Answers: 200 once the event is committed to the inbox; 401 unsigned or forged; 404 unknown workspace
or a workspace of the other source; 503 when the workspace's secret is not configured. A replay (a body
already in the inbox) gets 200 with ``"status": "duplicate"`` and is not stored again: the sources
retry deliveries they think failed, and a non-2xx would count against the webhook's health. The
replay window is as long as the inbox keeps events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re

from flask import Flask, Response, jsonify, request

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
_CHALLENGE = re.compile(r"^[A-Za-z0-9]{1,100}$")  # Wrike's challenges are alphanumeric, at most 100 long
_CLICKUP_ITEM_FIELDS = ("task_id", "list_id", "folder_id", "space_id")
_WRIKE_ITEM_FIELDS = ("taskId", "folderId")


def signature(secret: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` keyed with ``secret``, as both sources sign."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _signed_by(secret: str, body: bytes, claimed: str | None) -> bool:
    return bool(claimed) and hmac.compare_digest(signature(secret, body), claimed.strip().lower())


def _answer(http_status: int, **body) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


def _unique(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v not in (None, "")))


def clickup_event(payload: object) -> tuple[str, list[str]] | None:
    """(event type, ids of the items it names) of a ClickUp delivery, or None if it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        return None
    return payload["event"], _unique(payload.get(f) for f in _CLICKUP_ITEM_FIELDS)


def wrike_event(payload: object) -> tuple[str, list[str]] | None:
    """(event types joined by commas, item ids) of a Wrike delivery: a JSON array of events."""
    events = [payload] if isinstance(payload, dict) else payload
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        return None
    types = _unique(e.get("eventType") for e in events)
    ids = _unique(e.get(f) for e in events for f in _WRIKE_ITEM_FIELDS)
    return ",".join(types) or "unknown", ids


_PARSERS = {"clickup": clickup_event, "wrike": wrike_event}


def create_receiver_app(config: SyncConfig, inbox: WebhookInbox) -> Flask:
    """The Flask app receiving ClickUp and Wrike webhooks for the configured workspaces."""
    inbox.create()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    workspaces = {(ws.source, ws.key): ws for ws in config.workspaces}

    def secret_or_failure(source: str, key: str) -> tuple[str | None, Response | None]:
        ws = workspaces.get((source, key))
        if ws is None:
            return None, _answer(404, error=f"no {source} workspace '{key}' is configured here")
        secret = os.environ.get(ws.webhook_secret_env, "").strip() if ws.webhook_secret_env else ""
        if not secret:
            where = (f"environment variable {ws.webhook_secret_env} is not set" if ws.webhook_secret_env
                     else "the workspace has no webhook_secret_env in the config")
            logger.error("refused %s delivery for workspace '%s': %s", source, key, where)
            return None, _answer(503, error=f"webhook secret for workspace '{key}' is not configured")
        return secret, None

    def store(source: str, key: str, body: bytes) -> Response:
        try:
            parsed = _PARSERS[source](json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        if parsed is None:
            return _answer(400, error=f"body is not a {source} webhook payload")
        event_type, item_ids = parsed
        event_id = inbox.add(source=source, workspace=key, event_type=event_type, item_ids=item_ids, body=body)
        if event_id is None:
            logger.info("%s delivery for workspace '%s' (%s) was already stored; ignored", source, key, event_type)
            return _answer(200, status="duplicate")
        logger.info("%s delivery for workspace '%s' (%s) stored as event %d", source, key, event_type, event_id)
        return _answer(200, status="stored", id=event_id)

    def rejected(source: str, key: str, header: str, claimed: str | None) -> Response:
        reason = f"missing {header} header" if not claimed else "signature does not match"
        hint = "" if not claimed else "; if the webhook was re-created, update the workspace's webhook secret"
        logger.warning("rejected %s delivery for workspace '%s': %s%s", source, key, reason, hint)
        return _answer(401, error=reason)

    @app.post("/webhooks/clickup/<workspace_key>")
    def clickup_delivery(workspace_key: str) -> Response:
        secret, failure = secret_or_failure("clickup", workspace_key)
        if failure:
            return failure
        body = request.get_data()
        claimed = request.headers.get("X-Signature")
        if not _signed_by(secret, body, claimed):
            return rejected("clickup", workspace_key, "X-Signature", claimed)
        return store("clickup", workspace_key, body)

    @app.post("/webhooks/wrike/<workspace_key>")
    def wrike_delivery(workspace_key: str) -> Response:
        secret, failure = secret_or_failure("wrike", workspace_key)
        if failure:
            return failure
        body = request.get_data()
        claimed = request.headers.get("X-Hook-Signature")
        challenge = request.headers.get("X-Hook-Secret")
        if challenge is not None:
            return wrike_handshake(workspace_key, secret, challenge, body, claimed)
        if not _signed_by(secret, body, claimed):
            return rejected("wrike", workspace_key, "X-Hook-Signature", claimed)
        return store("wrike", workspace_key, body)

    def wrike_handshake(key: str, secret: str, challenge: str, body: bytes, claimed: str | None) -> Response:
        # A challenge must not be a JSON body, or this answer would sign a forged delivery.
        if not _CHALLENGE.match(challenge):
            return _answer(400, error="X-Hook-Secret must be 1 to 100 letters or digits")
        if claimed is not None and not _signed_by(secret, body, claimed):
            return rejected("wrike", key, "X-Hook-Signature", claimed)
        logger.info("answered the Wrike webhook handshake for workspace '%s'", key)
        response = _answer(200, status="verified")
        response.headers["X-Hook-Secret"] = signature(secret, challenge.encode())
        return response

    @app.get("/healthz")
    def health() -> Response:
        return _answer(200, ok=True)

    return app
