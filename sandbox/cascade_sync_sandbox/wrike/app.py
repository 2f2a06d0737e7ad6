"""The Wrike API v4 emulator: the account of a :class:`WrikeDataset` over real HTTP.

Routes are host-agnostic under ``/api/v4`` (``routes.py``, with one ``routes_*.py`` per resource
family); the OAuth 2.0 endpoints live at ``/oauth2/...`` on the same server (``oauth.py``),
webhooks in ``webhooks.py``, task query semantics in ``queries.py``, the live state and its
lookups in ``model.py`` and what a change does in ``writes.py``. Every ``/api/v4`` call needs
``Authorization: bearer <token>`` (the dataset's permanent token or an OAuth access token;
``access_token`` as a query or form parameter works too) and is rate limited per token
(``rate_limit`` per ``rate_window`` seconds, 429 ``rate_limit_exceeded``).

Sandbox choices where Wrike's behaviour is not documented:
  * ``descendants`` defaults to true; ``subTasks`` defaults to false and then tasks that have a
    super task are left out. Subtasks share their super task's folders.
  * ``GET /spaces/{id}/folders`` lists the space's folders without the space itself;
    ``GET /folders/{id}/folders`` lists the folder itself and its subtree.
  * Recycle Bin tasks (``scope: RbTask``) are returned by ``GET /folders/{recycleBinId}/tasks``
    and by id, never by other task queries; they keep their ``parentIds``.
  * When ``api_host`` is set, ``/api/v4`` calls arriving on any other host answer
    300 Multiple Choices (Wrike's wrong-data-center answer).

``PUT /folders/{id}`` changes a folder or project's ``title``, ``description`` and ``customFields``
(custom fields are account-wide and apply to folders as to tasks); it fires no webhook.

Test controls, in process or as ``POST /_sandbox/wrike/<action>`` with a JSON object of keyword
arguments: ``update_task``, ``create_task``, ``delete_task``, ``move_task``, ``update_folder``,
``expire_access_tokens``, ``revoke_token``, ``deny``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cascade_sync_sandbox.server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from cascade_sync_sandbox.wrike.model import AccountIndex, WrikeDataset, parse_wrike_datetime, wrike_time
from cascade_sync_sandbox.wrike.oauth import OAuthServer
from cascade_sync_sandbox.wrike.protocol import API, ApiError
from cascade_sync_sandbox.wrike.queries import Pager, task_view
from cascade_sync_sandbox.wrike.routes import register_routes
from cascade_sync_sandbox.wrike.webhooks import WebhookHub
from cascade_sync_sandbox.wrike.writes import TaskChanges

__all__ = ["API", "WrikeEmulator"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class WrikeEmulator(AccountIndex, TaskChanges):
    """A Wrike account served over HTTP; ``dataset`` is copied, ``self.dataset`` is the live state."""

    def __init__(
        self,
        dataset: WrikeDataset,
        *,
        rate_limit: int = 400,
        rate_window: float = 60.0,
        access_token_ttl: float = 3600,
        refresh_reuse_grace: float = 0.0,
        send_retry_after: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.dataset = dataset.copy()
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.send_retry_after = send_retry_after
        self.api_host: str | None = None
        self.denied: dict[str, str] = {}
        self.pager = Pager()
        self.oauth = OAuthServer(
            client_id=self.dataset.oauth_client_id,
            client_secret=self.dataset.oauth_client_secret,
            permanent_token=self.dataset.permanent_token,
            access_token_ttl=access_token_ttl,
            refresh_reuse_grace=refresh_reuse_grace,
        )
        self._rng = random.Random(f"{self.dataset.seed}-runtime")
        self.webhooks = WebhookHub(self.dataset.account_id, lambda: self._new_id("JA"))
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._reindex()
        self._high_water = max(
            (parse_wrike_datetime(t["updatedDate"]) for t in self.dataset.tasks),
            default=self.dataset.base_time.replace(tzinfo=None),
        ).replace(tzinfo=UTC)
        self.app = make_app("wrike-sandbox", self.log, self.faults)
        register_routes(self)

    def __repr__(self) -> str:
        return f"WrikeEmulator({self.dataset!r})"

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve on 127.0.0.1 (port 0: a free one), already running. Both ``server =
        emulator.serve(); ...; server.stop()`` and ``with emulator.serve() as server:`` work."""
        return EmulatorServer(self.app, port=port).start()

    def _new_id(self, marker: str) -> str:
        with self._lock:
            while True:
                candidate = self.dataset.account_id + marker + "".join(self._rng.choice(_ALPHABET) for _ in range(6))
                if candidate not in self.tasks_by_id and candidate not in self.webhooks.hooks:
                    return candidate

    def now(self) -> datetime:
        """The emulator's clock: wall time, never earlier than the newest change in the data."""
        with self._lock:
            self._high_water = max(self._high_water, self._clock().replace(microsecond=0))
            return self._high_water

    # --- test controls -------------------------------------------------------------------------
    def expire_access_tokens(self) -> int:
        """Expire every OAuth access token issued so far; the next API call with one gets 401."""
        return self.oauth.expire_access_tokens()

    def revoke_token(self, token: str) -> bool:
        """Revoke a permanent, access or refresh token."""
        return self.oauth.revoke(token)

    def deny(self, entity_id: str, error: str = "access_forbidden") -> None:
        """Make calls on a folder, space or task answer 403 with ``error`` (or allow again with '')."""
        if error:
            self.denied[entity_id] = error
        else:
            self.denied.pop(entity_id, None)

    # --- in-process changes (each fires webhooks) -----------------------------------------------
    def update_task(self, task_id: str, **changes: Any) -> dict:
        """Change a task as a Wrike user would; keys use Wrike names (see ``writes.UPDATE_KEYS``)."""
        with self._lock:
            task = self._task_for_change(task_id)
            before_parents = list(task["parentIds"])
            events = self._apply(task, changes)
            if events:
                task["updatedDate"] = wrike_time(self.now())
            snapshot = task_view(task, set(), full=True)
        self._publish(events, task, before_parents)
        return snapshot

    def create_task(self, folder_id: str, title: str, **fields: Any) -> dict:
        """Create a task in a folder or project; ``superTaskIds`` makes it a subtask."""
        with self._lock:
            folder = self._folder(folder_id)
            super_ids = list(fields.pop("superTaskIds", []))
            for super_id in super_ids:
                self._task_for_change(super_id)
            wf = self.workflows_by_id.get(folder.get("workflowId")) or self.workflow_of({"parentIds": []})
            first_active = next(s for s in wf["customStatuses"] if s["group"] == "Active")
            stamp = wrike_time(self.now())
            task = {
                "id": self._new_id("KQ"),
                "accountId": self.dataset.account_id,
                "title": title,
                "description": "",
                "briefDescription": "",
                "parentIds": [folder_id],
                "superParentIds": [],
                "sharedIds": [],
                "responsibleIds": [],
                "status": "Active",
                "importance": "Normal",
                "createdDate": stamp,
                "updatedDate": stamp,
                "dates": {"type": "Backlog"},
                "scope": "WsTask",
                "authorIds": [self.dataset.me["id"]],
                "customStatusId": first_active["id"],
                "hasAttachments": False,
                "permalink": self._permalink(),
                "priority": f"{self._rng.getrandbits(96):024x}",
                "followedByMe": False,
                "followerIds": [],
                "superTaskIds": super_ids,
                "subTaskIds": [],
                "dependencyIds": [],
                "metadata": [],
                "customFields": [],
            }
            self.dataset.tasks.append(task)
            self.tasks_by_id[task["id"]] = task
            for super_id in super_ids:
                self.tasks_by_id[super_id]["subTaskIds"].append(task["id"])
            self._apply(task, fields)
            snapshot = task_view(task, set(), full=True)
        self._publish([self._event(task, "TaskCreated")], task, [])
        return snapshot

    def delete_task(self, task_id: str) -> dict:
        """Move a task (and its subtasks) to the Recycle Bin."""
        with self._lock:
            task = self._task_for_change(task_id)
            stamp = wrike_time(self.now())
            doomed, i = [task], 0
            while i < len(doomed):
                for sub_id in doomed[i]["subTaskIds"]:
                    sub = self.tasks_by_id.get(sub_id)
                    if sub is not None and sub["scope"] == "WsTask" and sub not in doomed:
                        doomed.append(sub)
                i += 1
            for item in doomed:
                item["scope"] = "RbTask"
                item["updatedDate"] = stamp
            for super_id in task["superTaskIds"]:
                parent = self.tasks_by_id.get(super_id)
                if parent and task_id in parent["subTaskIds"]:
                    parent["subTaskIds"].remove(task_id)
            snapshot = task_view(task, set(), full=True)
            events = [(item, self._event(item, "TaskDeleted")) for item in doomed]
        for item, event in events:
            self._publish([event], item, [])
        return snapshot

    def move_task(self, task_id: str, folder_id: str) -> dict:
        """Move a task to another folder or project (replaces all its parents)."""
        with self._lock:
            task = self._task_for_change(task_id)
            self._folder(folder_id)
            before = list(task["parentIds"])
            events = self._apply(task, {"parentIds": [folder_id]})
            if events:
                task["updatedDate"] = wrike_time(self.now())
            snapshot = task_view(task, set(), full=True)
        self._publish(events, task, before)
        return snapshot

    def update_folder(self, folder_id: str, **changes: Any) -> dict:
        """Change a folder or project's ``title``, ``description`` or ``customFields`` (Wrike names)."""
        unknown = set(changes) - {"title", "description", "customFields"}
        if unknown:
            raise ApiError(400, "invalid_parameter", f"Unsupported folder changes: {sorted(unknown)}")
        with self._lock:
            folder = self._folder(folder_id)
            changed = bool(self._change_fields(folder, changes["customFields"])) if "customFields" in changes else False
            for key in ("title", "description"):
                if key in changes and changes[key] != folder.get(key):
                    folder[key], changed = changes[key], True
            if changed:
                folder["updatedDate"] = wrike_time(self.now())
            return dict(folder)
