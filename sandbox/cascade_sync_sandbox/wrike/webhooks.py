"""Wrike webhooks in the sandbox: registration with the secret handshake, signed event delivery.

Handshake (when a webhook is created with a ``secret``): the emulator POSTs
``{"requestType":"WebHook secret verification"}`` to ``hookUrl`` with ``X-Hook-Secret: <challenge>``
(and ``X-Hook-Signature`` over that body). The receiver must answer 200 with the header
``X-Hook-Secret: hex(HMAC-SHA256(secret, challenge))``; otherwise creation fails with
400 ``invalid_request`` and no webhook exists.

Delivery: every change POSTs a JSON *array* of events to each Active webhook whose scope covers
the task (a folder webhook: tasks in that folder, or in its subtree when ``recursive``; a space
webhook: tasks in the space; an account webhook: all) and whose ``events`` list (if any) names the
event type. With a secret, ``X-Hook-Signature = hex(HMAC-SHA256(secret, raw body))``. A delivery is
tried ``attempts`` times; after ``suspend_after`` failed deliveries in a row the webhook is
``Suspended`` until ``PUT /webhooks/{id}?status=Active``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx

from cascade_sync_sandbox.wrike.protocol import ApiError

HANDSHAKE_BODY = b'{"requestType":"WebHook secret verification"}'
TASK_EVENTS = frozenset(
    {
        "TaskCreated",
        "TaskDeleted",
        "TaskTitleChanged",
        "TaskImportanceChanged",
        "TaskStatusChanged",
        "TaskDatesChanged",
        "TaskParentsAdded",
        "TaskParentsRemoved",
        "TaskResponsiblesAdded",
        "TaskResponsiblesRemoved",
        "TaskSharedsAdded",
        "TaskSharedsRemoved",
        "TaskDescriptionChanged",
        "TaskCustomFieldChanged",
        "TaskApprovalStatusChanged",
        "TaskApprovalDecisionChanged",
        "TaskApprovalDecisionReset",
        "AttachmentAdded",
        "AttachmentDeleted",
        "CommentAdded",
        "CommentDeleted",
        "TimelogChanged",
        "FolderCreated",
        "FolderDeleted",
        "FolderTitleChanged",
        "ProjectDatesChanged",
        "ProjectOwnersAdded",
        "ProjectOwnersRemoved",
        "ProjectStatusChanged",
    }
)


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    id: str
    account_id: str
    hook_url: str
    events: list[str] | None
    recursive: bool
    folder_id: str | None = None
    space_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    status: str = "Active"
    failures: int = 0

    def view(self) -> dict:
        out: dict = {"id": self.id, "accountId": self.account_id}
        if self.folder_id:
            out["folderId"] = self.folder_id
        if self.space_id:
            out["spaceId"] = self.space_id
        out["hookUrl"] = self.hook_url
        if self.events is not None:
            out["events"] = list(self.events)
        out.update(recursive=self.recursive, status=self.status)
        return out


@dataclass
class Delivery:
    webhook_id: str
    events: list[dict]
    body: bytes
    ok: bool
    statuses: list[int]


class WebhookHub:
    """The webhooks of one account and the deliveries made to them."""

    def __init__(
        self,
        account_id: str,
        new_id: Callable[[], str],
        *,
        attempts: int = 3,
        suspend_after: int = 3,
        timeout: float = 5.0,
    ) -> None:
        self.account_id = account_id
        self._new_id = new_id
        self.attempts = attempts
        self.suspend_after = suspend_after
        self.timeout = timeout
        self.hooks: dict[str, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    def create(
        self,
        *,
        hook_url: str,
        secret: str | None,
        events: list[str] | None,
        recursive: bool,
        folder_id: str | None = None,
        space_id: str | None = None,
    ) -> Webhook:
        _check_hook_url(hook_url)
        if events is not None:
            unknown = sorted(set(events) - TASK_EVENTS)
            if unknown:
                raise ApiError(400, "invalid_parameter", f"Parameter 'events' has unknown event types {unknown}")
        if secret is not None:
            if not secret or len(secret) > 100:
                raise ApiError(400, "invalid_parameter", "Parameter 'secret' must be 1..100 characters")
            self._handshake(hook_url, secret)
        hook = Webhook(
            self._new_id(),
            self.account_id,
            hook_url,
            events,
            recursive and folder_id is not None,
            folder_id=folder_id,
            space_id=space_id,
            secret=secret,
        )
        with self._lock:
            self.hooks[hook.id] = hook
        return hook

    def _handshake(self, hook_url: str, secret: str) -> None:
        challenge = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(64))
        headers = {
            "Content-Type": "application/json",
            "X-Hook-Secret": challenge,
            "X-Hook-Signature": hmac_hex(secret, HANDSHAKE_BODY),
        }
        try:
            answer = httpx.post(hook_url, content=HANDSHAKE_BODY, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ApiError(
                400,
                "invalid_request",
                f"Webhook secret verification failed: hookUrl unreachable ({type(exc).__name__})",
            ) from None
        if answer.status_code != 200:
            raise ApiError(
                400,
                "invalid_request",
                f"Webhook secret verification failed: hookUrl answered HTTP {answer.status_code}",
            )
        expected = hmac_hex(secret, challenge.encode())
        if not hmac.compare_digest(answer.headers.get("X-Hook-Secret", ""), expected):
            raise ApiError(
                400,
                "invalid_request",
                "Webhook secret verification failed: X-Hook-Secret in the answer is not HMAC-SHA256(secret, challenge)",
            )

    def get(self, hook_id: str) -> Webhook:
        with self._lock:
            hook = self.hooks.get(hook_id)
        if hook is None:
            raise ApiError(404, "resource_not_found", f"Webhook '{hook_id}' not found")
        return hook

    def set_status(self, hook_id: str, status: str) -> Webhook:
        if status not in ("Active", "Suspended"):
            raise ApiError(400, "invalid_parameter", "Parameter 'status' must be Active or Suspended")
        hook = self.get(hook_id)
        hook.status = status
        hook.failures = 0
        return hook

    def delete(self, hook_id: str) -> None:
        self.get(hook_id)
        with self._lock:
            self.hooks.pop(hook_id, None)

    def publish(self, events: list[dict], covers: Callable[[Webhook], bool]) -> list[Delivery]:
        """Deliver ``events`` (one change) to every Active webhook that covers it."""
        made = []
        with self._lock:
            hooks = [h for h in self.hooks.values() if h.status == "Active"]
        for hook in hooks:
            if not covers(hook):
                continue
            chosen = [
                dict(e, webhookId=hook.id) for e in events if hook.events is None or e["eventType"] in hook.events
            ]
            if chosen:
                made.append(self._deliver(hook, chosen))
        return made

    def _deliver(self, hook: Webhook, events: list[dict]) -> Delivery:
        body = json.dumps(events, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if hook.secret:
            headers["X-Hook-Signature"] = hmac_hex(hook.secret, body)
        statuses = []
        for _ in range(self.attempts):
            try:
                answer = httpx.post(hook.hook_url, content=body, headers=headers, timeout=self.timeout)
                statuses.append(answer.status_code)
                if 200 <= answer.status_code < 300:
                    break
            except httpx.HTTPError:
                statuses.append(0)
        ok = bool(statuses) and 200 <= statuses[-1] < 300
        hook.failures = 0 if ok else hook.failures + 1
        if hook.failures >= self.suspend_after:
            hook.status = "Suspended"
        delivery = Delivery(hook.id, events, body, ok, statuses)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery


def _check_hook_url(url: str) -> None:
    parsed = urlparse(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ApiError(400, "invalid_parameter", "Parameter 'hookUrl' must be an https URL")
