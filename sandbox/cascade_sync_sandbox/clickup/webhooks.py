"""Webhook registrations and signed deliveries, per source-apis.md A8.

Deliveries run on one background thread: each event is POSTed with ``X-Signature`` = hex
HMAC-SHA256(secret, raw body), a 7 s timeout and up to 5 tries. After the fifth failure the
event is dropped and ``fail_count`` rises (health ``failing``); at 100 the webhook is
``suspended``, and a 410 answer suspends it at once. A success resets it to ``active``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import random
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .writes import Event

MAX_TRIES = 5
SUSPEND_AT = 100
TIMEOUT_SECONDS = 7.0
IDLE_EXIT_SECONDS = 5.0


@dataclass
class Webhook:
    id: str
    userid: int
    team_id: str
    endpoint: str
    client_id: str
    events: list[str]
    secret: str
    task_id: str | None = None
    list_id: str | None = None
    folder_id: str | None = None
    space_id: str | None = None
    status: str = "active"
    fail_count: int = 0

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userid": self.userid,
            "team_id": int(self.team_id),
            "endpoint": self.endpoint,
            "client_id": self.client_id,
            "events": list(self.events),
            "task_id": self.task_id,
            "list_id": self.list_id,
            "folder_id": self.folder_id,
            "space_id": self.space_id,
            "health": {"status": self.status, "fail_count": self.fail_count},
            "secret": self.secret,
        }

    def wants(self, event: str, where: dict[str, Any]) -> bool:
        if self.status == "suspended" or where["team_id"] != self.team_id:
            return False
        if "*" not in self.events and event not in self.events:
            return False
        return (
            (self.task_id is None or self.task_id == where["task_id"])
            and (self.list_id is None or self.list_id in where["list_ids"])
            and (self.folder_id is None or self.folder_id == where["folder_id"])
            and (self.space_id is None or self.space_id == where["space_id"])
        )


@dataclass
class Delivery:
    """One event's delivery outcome: ``status`` is the last HTTP status (None: no answer)."""

    webhook_id: str
    event: str
    task_id: str
    attempts: int
    status: int | None
    ok: bool
    body: bytes = field(repr=False, default=b"")


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookHub:
    def __init__(self, rng: random.Random, *, retry_delay: float = 0.5, timeout: float = TIMEOUT_SECONDS) -> None:
        self.hooks: dict[str, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self.retry_delay = retry_delay
        self.timeout = timeout
        self._rng = rng
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Webhook, Event, bytes]] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

    # ---- management ----------------------------------------------------------------------------
    def create(
        self, userid: int, team_id: str, endpoint: str, events: list[str], location: dict[str, str | None]
    ) -> Webhook:
        with self._lock:
            hook_id = "-".join("".join(self._rng.choices("0123456789abcdef", k=n)) for n in (8, 4, 4, 4, 12))
            alnum = string.ascii_uppercase + string.digits
            hook = Webhook(
                id=hook_id,
                userid=userid,
                team_id=team_id,
                endpoint=endpoint,
                client_id="".join(self._rng.choices(alnum, k=32)),
                events=events,
                secret="".join(self._rng.choices(alnum, k=64)),
                **location,
            )
            self.hooks[hook.id] = hook
            return hook

    def owned_by(self, userid: int, team_id: str) -> list[Webhook]:
        with self._lock:
            return [h for h in self.hooks.values() if h.userid == userid and h.team_id == team_id]

    def update(self, hook: Webhook, endpoint: str | None, events: list[str] | None, status: str | None) -> None:
        with self._lock:
            if endpoint is not None:
                hook.endpoint = endpoint
            if events is not None:
                hook.events = events
            if status == "active":
                hook.status, hook.fail_count = "active", 0
            elif status is not None:
                hook.status = status

    def delete(self, hook_id: str) -> None:
        with self._lock:
            self.hooks.pop(hook_id, None)

    # ---- delivery ------------------------------------------------------------------------------
    def dispatch(self, event: Event, where: dict[str, Any]) -> int:
        """Queue ``event`` for every matching webhook; returns how many deliveries were queued."""
        with self._lock:
            targets = [h for h in self.hooks.values() if h.wants(event.name, where)]
            for hook in targets:
                payload: dict[str, Any] = {"event": event.name, "task_id": event.task_id, "webhook_id": hook.id}
                if event.history_items is not None:
                    payload["history_items"] = event.history_items
                body = json.dumps(payload, separators=(",", ":")).encode()
                self._pending += 1
                self._queue.put((hook, event, body))
            if targets and self._worker is None:
                self._worker = threading.Thread(target=self._run, daemon=True, name="clickup-webhooks")
                self._worker.start()
        return len(targets)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has finished; False if ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                try:
                    hook, event, body = self._queue.get(timeout=IDLE_EXIT_SECONDS)
                except queue.Empty:
                    with self._lock:  # dispatch() starts a new worker if this one has left
                        if self._queue.empty():
                            self._worker = None
                            return
                    continue
                try:
                    self._deliver(client, hook, event, body)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _deliver(self, client: httpx.Client, hook: Webhook, event: Event, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Signature": sign(hook.secret, body)}
        status: int | None = None
        for attempt in range(1, MAX_TRIES + 1):
            try:
                status = client.post(hook.endpoint, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            if status is not None and 200 <= status < 300:
                with self._lock:
                    hook.status, hook.fail_count = "active", 0
                    self.deliveries.append(Delivery(hook.id, event.name, event.task_id, attempt, status, True, body))
                return
            if status == 410:
                break
            if attempt < MAX_TRIES:
                time.sleep(self.retry_delay)
        with self._lock:
            if status == 410:
                hook.status = "suspended"
            else:
                hook.fail_count += 1
                hook.status = "suspended" if hook.fail_count >= SUSPEND_AT else "failing"
            self.deliveries.append(Delivery(hook.id, event.name, event.task_id, attempt, status, False, body))
