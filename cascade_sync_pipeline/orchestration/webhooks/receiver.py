"""The webhook receiver: verifies each delivery's signature and stores it in the inbox before answering.

Routes (one per configured workspace and source):

- ``POST /webhooks/clickup/<key>``: ``X-Signature`` must be the hex HMAC-SHA256 of the raw body, keyed
  with the secret in the env var the workspace names in ``webhook_secret_env``.
- ``POST /webhooks/wrike/<key>``: a request carrying ``X-Hook-Secret`` is Wrike's handshake, answered
  with ``X-Hook-Secret: hex(HMAC-SHA256(secret, challenge))``; every delivery must carry
  ``X-Hook-Signature``, the hex HMAC-SHA256 of the raw body.

Answers: 200 once the event is committed to the inbox; 401 unsigned, forged or a malformed signature
(anything but 64 hex digits); 413 a body over ``max_body_bytes`` (at most that many bytes plus one are
read, whatever the Content-Length or chunking says); 400 a signed body that is not a JSON payload of
the source (deep nesting included) or whose events are all older than ``max_event_age``; 404 unknown
workspace or a workspace of the other source; 503 when the workspace's secret is not configured.

Replays: a body already stored for the same source and workspace gets 200 with ``"status":
"duplicate"`` and is not stored again (the sources retry deliveries they think failed, and a non-2xx
would count against the webhook's health). Events are kept for ``keep`` (at least ``max_event_age``),
pruned at most every ``prune_every`` while deliveries arrive, so every delivery young enough to be
accepted is also young enough to be recognised as a replay.

The app is plain WSGI (Flask); :mod:`.server` serves it in production (waitress, with timeouts and caps).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from flask import Flask, Response, jsonify, request

from cascade_sync_pipeline.config import ClickUpWorkspace, SyncConfig, WrikeWorkspace
from cascade_sync_pipeline.orchestration.webhooks.inbox import Inbox

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_EVENT_AGE = timedelta(days=1)
DEFAULT_KEEP = timedelta(days=30)
DEFAULT_PRUNE_EVERY = timedelta(hours=1)
_CHALLENGE = re.compile(r"[A-Za-z0-9]{1,100}")  # Wrike's challenges are alphanumeric, at most 100 long
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")  # hex HMAC-SHA256
_CLICKUP_ITEM_FIELDS = ("task_id", "list_id", "folder_id", "space_id")
_WRIKE_ITEM_FIELDS = ("taskId", "folderId")
_READ_CHUNK = 64 * 1024


def signature(secret: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` keyed with ``secret``, as both sources sign."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def well_formed_signature(claimed: str | None) -> TypeGuard[str]:
    """64 hex digits (surrounding spaces allowed): anything else is refused before any comparison."""
    return claimed is not None and _SIGNATURE.fullmatch(claimed.strip()) is not None


def signed_by(secret: str, body: bytes, claimed: str | None) -> bool:
    return well_formed_signature(claimed) and hmac.compare_digest(
        signature(secret, body).encode(), claimed.strip().lower().encode()
    )


def _answer(http_status: int, **body) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response


def _unique(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v not in (None, "") and not isinstance(v, (dict, list))))


def clickup_event(payload: object) -> tuple[str, list[str]] | None:
    """(event type, ids of the items it names) of a ClickUp delivery, or None if it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str) or not payload["event"]:
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


def _ms_time(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clickup_event_time(payload: object) -> datetime | None:
    """The newest ``history_items[].date`` (ms) of a ClickUp delivery; None when it carries none."""
    items = payload.get("history_items") if isinstance(payload, dict) else None
    times = [_ms_time(i.get("date")) for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return max((t for t in times if t), default=None)


def wrike_event_time(payload: object) -> datetime | None:
    """The newest ``lastUpdatedDate`` of a Wrike delivery's events; None when none carries one."""
    events = [payload] if isinstance(payload, dict) else payload if isinstance(payload, list) else []
    return max(
        (t for t in (_iso_time(e.get("lastUpdatedDate")) for e in events if isinstance(e, dict)) if t), default=None
    )


_PARSERS = {"clickup": clickup_event, "wrike": wrike_event}
_EVENT_TIMES = {"clickup": clickup_event_time, "wrike": wrike_event_time}


def parse_delivery(source: str, body: bytes) -> tuple[Any, tuple[str, list[str]]] | None:
    """(JSON payload, (event type, item ids)) of a delivery body, or None when it is not one of
    ``source``'s payloads: not UTF-8 JSON, nested too deep to parse, or the wrong shape."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        return None
    parsed = _PARSERS[source](payload)
    return None if parsed is None else (payload, parsed)


class BodyTooLarge(Exception):
    pass


def read_body(limit: int) -> bytes:
    """The request body, reading at most ``limit + 1`` bytes; BodyTooLarge when it is longer than ``limit``.

    A declared Content-Length over the limit is refused without reading; a chunked body (no length)
    is read up to one byte past the limit, so a body cut at the limit is never mistaken for a whole one.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge()
    stream = request.stream
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise BodyTooLarge()
    return b"".join(chunks)


def create_receiver_app(
    config: SyncConfig,
    inbox: Inbox,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_event_age: timedelta | None = DEFAULT_MAX_EVENT_AGE,
    keep: timedelta = DEFAULT_KEEP,
    prune_every: timedelta = DEFAULT_PRUNE_EVERY,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    """The Flask app receiving ClickUp and Wrike webhooks for the configured workspaces.

    ``max_event_age``: a delivery whose newest event time (ClickUp ``history_items[].date``, Wrike
    ``lastUpdatedDate``) is older is refused (None: no limit); ``keep``: how long events stay in the inbox
    for replay detection, raised to ``max_event_age`` when shorter; ``prune_every``: how often old events
    are deleted while deliveries arrive.
    """
    now = clock or (lambda: datetime.now(UTC))
    if max_event_age is not None and keep < max_event_age:
        logger.warning(
            "keeping inbox events for %s, the maximum event age, instead of %s: a shorter window "
            "would let an accepted delivery be replayed",
            max_event_age,
            keep,
        )
        keep = max_event_age
    inbox.create()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = None  # read_body enforces the limit, chunked bodies included
    workspaces: dict[tuple[str, str], ClickUpWorkspace | WrikeWorkspace] = {
        (ws.source, ws.key): ws for ws in config.workspaces
    }
    prune_lock = threading.Lock()
    next_prune = [now()]

    def prune_if_due() -> None:
        moment = now()
        if moment < next_prune[0] or not prune_lock.acquire(blocking=False):
            return
        try:
            next_prune[0] = moment + prune_every
            pruned = inbox.prune(moment - keep)
            if pruned:
                logger.info("pruned %d inbox events received before %s", pruned, (moment - keep).isoformat())
        finally:
            prune_lock.release()

    def secret_or_failure(source: str, key: str) -> str | Response:
        ws = workspaces.get((source, key))
        if ws is None:
            return _answer(404, error=f"no {source} workspace '{key}' is configured here")
        secret = os.environ.get(ws.webhook_secret_env, "").strip() if ws.webhook_secret_env else ""
        if not secret:
            where = (
                f"environment variable {ws.webhook_secret_env} is not set"
                if ws.webhook_secret_env
                else "the workspace has no webhook_secret_env in the config"
            )
            logger.error("refused %s delivery for workspace '%s': %s", source, key, where)
            return _answer(503, error=f"webhook secret for workspace '{key}' is not configured")
        return secret

    def body_or_failure(source: str, key: str) -> bytes | Response:
        try:
            return read_body(max_body_bytes)
        except BodyTooLarge:
            logger.warning("refused %s delivery for workspace '%s': body over %d bytes", source, key, max_body_bytes)
            return _answer(413, error=f"body is larger than {max_body_bytes} bytes")

    def store(source: str, key: str, body: bytes) -> Response:
        parsed = parse_delivery(source, body)
        if parsed is None:
            return _answer(400, error=f"body is not a {source} webhook payload")
        payload, (event_type, item_ids) = parsed
        happened = _EVENT_TIMES[source](payload)
        if max_event_age is not None and happened is not None and now() - happened > max_event_age:
            logger.warning(
                "refused %s delivery for workspace '%s' (%s): its newest event is from %s, older than "
                "%s; a replay or a very late retry (the next full read catches up)",
                source,
                key,
                event_type,
                happened.isoformat(),
                max_event_age,
            )
            return _answer(400, error=f"delivery is older than {max_event_age}; stale deliveries are refused")
        prune_if_due()
        event_id = inbox.add(
            source=source, workspace=key, event_type=event_type, item_ids=item_ids, body=body, received_at=now()
        )
        if event_id is None:
            logger.info("%s delivery for workspace '%s' (%s) was already stored; ignored", source, key, event_type)
            return _answer(200, status="duplicate")
        logger.info("%s delivery for workspace '%s' (%s) stored as event %d", source, key, event_type, event_id)
        return _answer(200, status="stored", id=event_id)

    def rejected(source: str, key: str, header: str, claimed: str | None) -> Response:
        if not claimed:
            reason, hint = f"missing {header} header", ""
        elif not well_formed_signature(claimed):
            reason, hint = f"malformed {header} header (not 64 hex digits)", ""
        else:
            reason = "signature does not match"
            hint = "; if the webhook was re-created, update the workspace's webhook secret"
        logger.warning("rejected %s delivery for workspace '%s': %s%s", source, key, reason, hint)
        return _answer(401, error=reason)

    @app.post("/webhooks/clickup/<workspace_key>")
    def clickup_delivery(workspace_key: str) -> Response:
        secret = secret_or_failure("clickup", workspace_key)
        if isinstance(secret, Response):
            return secret
        body = body_or_failure("clickup", workspace_key)
        if isinstance(body, Response):
            return body
        claimed = request.headers.get("X-Signature")
        if not signed_by(secret, body, claimed):
            return rejected("clickup", workspace_key, "X-Signature", claimed)
        return store("clickup", workspace_key, body)

    @app.post("/webhooks/wrike/<workspace_key>")
    def wrike_delivery(workspace_key: str) -> Response:
        secret = secret_or_failure("wrike", workspace_key)
        if isinstance(secret, Response):
            return secret
        body = body_or_failure("wrike", workspace_key)
        if isinstance(body, Response):
            return body
        claimed = request.headers.get("X-Hook-Signature")
        challenge = request.headers.get("X-Hook-Secret")
        if challenge is not None:
            return wrike_handshake(workspace_key, secret, challenge, body, claimed)
        if not signed_by(secret, body, claimed):
            return rejected("wrike", workspace_key, "X-Hook-Signature", claimed)
        return store("wrike", workspace_key, body)

    def wrike_handshake(key: str, secret: str, challenge: str, body: bytes, claimed: str | None) -> Response:
        # A challenge must not be a JSON body, or this answer would sign a forged delivery.
        if not _CHALLENGE.fullmatch(challenge):
            return _answer(400, error="X-Hook-Secret must be 1 to 100 letters or digits")
        if claimed is not None and not signed_by(secret, body, claimed):
            return rejected("wrike", key, "X-Hook-Signature", claimed)
        logger.info("answered the Wrike webhook handshake for workspace '%s'", key)
        response = _answer(200, status="verified")
        response.headers["X-Hook-Secret"] = signature(secret, challenge.encode())
        return response

    @app.get("/healthz")
    def health() -> Response:
        return _answer(200, ok=True)

    return app
