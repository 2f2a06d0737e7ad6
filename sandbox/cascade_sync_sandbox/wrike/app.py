"""The Wrike API v4 emulator: the account of a :class:`WrikeDataset` over real HTTP.

Routes are host-agnostic under ``/api/v4`` (see the route table in ``_routes``); the OAuth 2.0
endpoints live at ``/oauth2/...`` on the same server (``oauth.py``), webhooks in ``webhooks.py``,
task query semantics in ``queries.py``. Every ``/api/v4`` call needs ``Authorization: bearer
<token>`` (the dataset's permanent token or an OAuth access token; ``access_token`` as a query or
form parameter works too) and is rate limited per token (``rate_limit`` per ``rate_window``
seconds, 429 ``rate_limit_exceeded``).

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

import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import jsonify, redirect, request

from cascade_sync_sandbox.server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from cascade_sync_sandbox.wrike.generator import (
    WrikeDataset,
    brief_description,
    parse_wrike_datetime,
    wrike_time,
)
from cascade_sync_sandbox.wrike.oauth import OAuthServer
from cascade_sync_sandbox.wrike.protocol import (
    ApiError,
    bool_value,
    envelope,
    json_value,
    list_value,
    params,
    reject_unknown,
    split_ids,
)
from cascade_sync_sandbox.wrike.queries import (
    Pager,
    answer_task_query,
    descendants_flag,
    requested_fields,
    subtasks_flag,
    task_view,
)
from cascade_sync_sandbox.wrike.webhooks import Webhook, WebhookHub

API = "/api/v4"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_UPDATE_KEYS = {
    "title",
    "description",
    "importance",
    "status",
    "customStatusId",
    "dates",
    "responsibleIds",
    "addResponsibles",
    "removeResponsibles",
    "customFields",
}


class WrikeEmulator:
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
        self._routes()

    def __repr__(self) -> str:
        return f"WrikeEmulator({self.dataset!r})"

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve on 127.0.0.1 (port 0: a free one), already running. Both ``server =
        emulator.serve(); ...; server.stop()`` and ``with emulator.serve() as server:`` work."""
        return EmulatorServer(self.app, port=port).start()

    # --- state helpers -------------------------------------------------------------------------
    def _reindex(self) -> None:
        ds = self.dataset
        self.tasks_by_id = {t["id"]: t for t in ds.tasks}
        self.folders_by_id = {f["id"]: f for f in ds.folders}
        self.spaces_by_id = {s["id"]: s for s in ds.spaces}
        self.workflows_by_id = {w["id"]: w for w in ds.workflows}
        self.statuses_by_id = {s["id"]: s for w in ds.workflows for s in w["customStatuses"]}
        self.fields_by_id = {f["id"]: f for f in ds.custom_fields}
        self.children: dict[str, list[str]] = {}
        for folder in ds.folders:
            for parent in folder["parentIds"]:
                self.children.setdefault(parent, []).append(folder["id"])

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

    def subtree(self, folder_id: str, descendants: bool = True) -> set[str]:
        """The folder (or space) id and, with ``descendants``, every folder below it."""
        found = {folder_id}
        frontier = [folder_id] if descendants else []
        while frontier:
            frontier = [c for f in frontier for c in self.children.get(f, []) if c not in found]
            found.update(frontier)
        return found

    def listed_folders(self, parent_id: str, descendants: bool) -> set[str]:
        """Folders a folder listing shows below ``parent_id``: its subtree or its direct children."""
        if descendants:
            return self.subtree(parent_id) - {parent_id}
        return set(self.children.get(parent_id, []))

    def space_of(self, folder_id: str) -> str | None:
        seen = set()
        current = folder_id
        while current not in self.spaces_by_id:
            folder = self.folders_by_id.get(current)
            if folder is None or not folder["parentIds"] or current in seen:
                return None
            seen.add(current)
            current = folder["parentIds"][0]
        return current

    def workflow_of(self, task: dict) -> dict:
        for parent in task.get("parentIds", []):
            folder = self.folders_by_id.get(parent)
            if folder and folder.get("workflowId") in self.workflows_by_id:
                return self.workflows_by_id[folder["workflowId"]]
        for super_id in task.get("superTaskIds", []):
            if super_id in self.tasks_by_id:
                return self.workflow_of(self.tasks_by_id[super_id])
        return next(w for w in self.dataset.workflows if w["standard"])

    def _check_access(self, *entity_ids: str) -> None:
        for entity_id in entity_ids:
            code = self.denied.get(entity_id)
            if code:
                raise ApiError(
                    403,
                    code,
                    f"Access to '{entity_id}' is forbidden for this user"
                    if code == "access_forbidden"
                    else f"Operation on '{entity_id}' is not allowed for this user (license or quota)",
                )

    def _folder(self, folder_id: str) -> dict:
        folder = self.folders_by_id.get(folder_id)
        if folder is None:
            raise ApiError(404, "resource_not_found", f"Folder '{folder_id}' not found")
        self._check_access(folder_id)
        return folder

    def _space(self, space_id: str) -> dict:
        space = self.spaces_by_id.get(space_id)
        if space is None:
            raise ApiError(404, "resource_not_found", f"Space '{space_id}' not found")
        self._check_access(space_id)
        return space

    def _task(self, task_id: str) -> dict:
        task = self.tasks_by_id.get(task_id)
        if task is None:
            raise ApiError(404, "resource_not_found", f"Task '{task_id}' not found")
        self._check_access(task_id, *task.get("parentIds", []))
        return task

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
        """Change a task as a Wrike user would; keys use Wrike names (see ``_UPDATE_KEYS``)."""
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

    def _task_for_change(self, task_id: str) -> dict:
        task = self.tasks_by_id.get(task_id)
        if task is None:
            raise ApiError(404, "resource_not_found", f"Task '{task_id}' not found")
        return task

    def _permalink(self) -> str:
        return f"https://{self.dataset.host}/open.htm?id={self._rng.randint(5_000_000_000, 9_999_999_999)}"

    def _event(self, task: dict, event_type: str, **extra: Any) -> dict:
        return {
            "taskId": task["id"],
            "webhookId": None,
            "eventAuthorId": self.dataset.me["id"],
            "eventType": event_type,
            "lastUpdatedDate": wrike_time(self.now()),
            **extra,
        }

    def _apply(self, task: dict, changes: dict) -> list[dict]:
        """Apply changes to a task in place and return the webhook events they cause."""
        unknown = set(changes) - _UPDATE_KEYS - {"parentIds"}
        if unknown:
            raise ApiError(400, "invalid_parameter", f"Unsupported task changes: {sorted(unknown)}")
        events: list[dict] = []
        for key, event_type in (
            ("title", "TaskTitleChanged"),
            ("description", "TaskDescriptionChanged"),
            ("importance", "TaskImportanceChanged"),
        ):
            if key in changes and changes[key] != task[key]:
                if key == "importance" and changes[key] not in ("High", "Normal", "Low"):
                    raise ApiError(400, "invalid_parameter", "Parameter 'importance' must be High, Normal or Low")
                old, task[key] = task[key], changes[key]
                if key == "description":
                    task["briefDescription"] = brief_description(task[key])
                events.append(self._event(task, event_type, oldValue=old, **{key: task[key]}))
        if "status" in changes or "customStatusId" in changes:
            events += self._change_status(task, changes.get("customStatusId"), changes.get("status"))
        if "dates" in changes and changes["dates"] != task["dates"]:
            dates = changes["dates"]
            if not isinstance(dates, dict) or dates.get("type", "Planned") not in ("Backlog", "Milestone", "Planned"):
                raise ApiError(
                    400, "invalid_parameter", "Parameter 'dates' must be an object with type Backlog|Milestone|Planned"
                )
            old, task["dates"] = (
                task["dates"],
                {"type": dates.get("type", "Planned"), **{k: v for k, v in dates.items() if k != "type"}},
            )
            events.append(self._event(task, "TaskDatesChanged", oldValue=old, dates=task["dates"]))
        events += self._change_people(task, changes)
        if "parentIds" in changes:
            events += self._change_parents(task, list(changes["parentIds"]))
        if "customFields" in changes:
            events += self._change_fields(task, changes["customFields"])
        return events

    def _change_status(self, task: dict, custom_status_id: str | None, group: str | None) -> list[dict]:
        if custom_status_id is None:
            wf = self.workflow_of(task)
            match = [s for s in wf["customStatuses"] if s["group"] == group]
            if not match:
                raise ApiError(
                    400, "invalid_parameter", "Parameter 'status' must be Active, Completed, Deferred or Cancelled"
                )
            custom_status_id = match[0]["id"]
        status = self.statuses_by_id.get(custom_status_id)
        if status is None:
            raise ApiError(400, "invalid_parameter", f"Custom status '{custom_status_id}' does not exist")
        if status["id"] == task["customStatusId"]:
            return []
        old_group, old_id = task["status"], task["customStatusId"]
        task["status"], task["customStatusId"] = status["group"], status["id"]
        if status["group"] == "Completed" and "completedDate" not in task:
            items = list(task.items())
            at = [k for k, _ in items].index("updatedDate") + 1
            items.insert(at, ("completedDate", wrike_time(self.now())))
            task.clear()
            task.update(items)
        elif status["group"] != "Completed":
            task.pop("completedDate", None)
        return [
            self._event(
                task,
                "TaskStatusChanged",
                oldStatus=old_group,
                status=status["group"],
                oldCustomStatusId=old_id,
                customStatusId=status["id"],
            )
        ]

    def _change_people(self, task: dict, changes: dict) -> list[dict]:
        current = list(task["responsibleIds"])
        wanted = list(changes["responsibleIds"]) if "responsibleIds" in changes else list(current)
        wanted += [c for c in changes.get("addResponsibles", []) if c not in wanted]
        wanted = [c for c in wanted if c not in changes.get("removeResponsibles", [])]
        known = {c["id"] for c in self.dataset.contacts}
        if any(c not in known for c in wanted):
            raise ApiError(400, "invalid_parameter", "Unknown contact id among responsibles")
        task["responsibleIds"] = wanted
        events = []
        added = [c for c in wanted if c not in current]
        removed = [c for c in current if c not in wanted]
        if added:
            events.append(self._event(task, "TaskResponsiblesAdded", addedResponsibles=added))
        if removed:
            events.append(self._event(task, "TaskResponsiblesRemoved", removedResponsibles=removed))
        return events

    def _change_parents(self, task: dict, wanted: list[str]) -> list[dict]:
        for folder_id in wanted:
            if folder_id not in self.folders_by_id and folder_id not in self.spaces_by_id:
                raise ApiError(400, "invalid_parameter", f"Folder '{folder_id}' does not exist")
        current = list(task["parentIds"])
        task["parentIds"] = wanted
        events = []
        removed = [p for p in current if p not in wanted]
        added = [p for p in wanted if p not in current]
        if removed:
            events.append(self._event(task, "TaskParentsRemoved", removedParents=removed))
        if added:
            events.append(self._event(task, "TaskParentsAdded", addedParents=added))
        return events

    def _change_fields(self, task: dict, custom_fields: Any) -> list[dict]:
        if isinstance(custom_fields, dict):
            custom_fields = [{"id": k, "value": v} for k, v in custom_fields.items()]
        if not isinstance(custom_fields, list):
            raise ApiError(400, "invalid_parameter", "Parameter 'customFields' must be a JSON array of {id, value}")
        events = []
        for item in custom_fields:
            if not isinstance(item, dict) or "id" not in item:
                raise ApiError(400, "invalid_parameter", "Each customFields entry needs an 'id'")
            definition = self.fields_by_id.get(item["id"])
            if definition is None:
                raise ApiError(400, "invalid_parameter", f"Custom field '{item['id']}' does not exist")
            value = item.get("value")
            if value is not None and not isinstance(value, str):
                raise ApiError(400, "invalid_parameter", f"Custom field '{item['id']}': value must be a string")
            _validate_field_value(definition, value)
            entries = task["customFields"]
            old = next((e["value"] for e in entries if e["id"] == item["id"]), None)
            if value in (None, ""):
                task["customFields"] = [e for e in entries if e["id"] != item["id"]]
                value = None
            elif old is None:
                entries.append({"id": item["id"], "value": value})
            else:
                next(e for e in entries if e["id"] == item["id"])["value"] = value
            if old != value:
                events.append(
                    self._event(
                        task, "TaskCustomFieldChanged", customFieldId=item["id"], oldValue=old or "", value=value or ""
                    )
                )
        return events

    def _publish(self, events: list[dict], task: dict, other_parents: list[str]) -> None:
        if not events:
            return
        folders = set(task["parentIds"]) | set(other_parents)

        def covers(hook: Webhook) -> bool:
            if hook.folder_id:
                if hook.recursive:
                    return any(hook.folder_id in self._ancestors(f) for f in folders)
                return hook.folder_id in folders
            if hook.space_id:
                return any(self.space_of(f) == hook.space_id for f in folders)
            return True

        self.webhooks.publish(events, covers)

    def _ancestors(self, folder_id: str) -> set[str]:
        found = {folder_id}
        current = self.folders_by_id.get(folder_id)
        while current and current["parentIds"] and current["parentIds"][0] not in found:
            found.add(current["parentIds"][0])
            current = self.folders_by_id.get(current["parentIds"][0])
        return found

    # --- HTTP ------------------------------------------------------------------------------------
    def _routes(self) -> None:
        app = self.app

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
            return _api_error(
                ApiError(400, "invalid_request", f"Invalid HTTP method {request.method} for {request.path}")
            )

        @app.before_request
        def _guard():
            if not request.path.startswith(API + "/"):
                return None
            if self.api_host and request.host != self.api_host:
                raise ApiError(
                    300,
                    "invalid_request",
                    "This account is served by another host; use the host from the OAuth token answer",
                )
            token = self._authenticate()
            allowed, _, reset = self.limiter.hit(token)
            if not allowed:
                response = jsonify(
                    {"errorDescription": "Rate limit exceeded, try again later", "error": "rate_limit_exceeded"}
                )
                response.status_code = 429
                if self.send_retry_after:
                    response.headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
                return response
            return None

        self._oauth_routes()
        self._read_routes()
        self._write_routes()
        self._control_routes()

    def _authenticate(self) -> str:
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
        if not self.oauth.is_valid_access_token(token):
            raise ApiError(401, "not_authorized", "Access token is unknown or invalid")
        return token

    def _oauth_routes(self) -> None:
        app = self.app

        @app.route("/oauth2/authorize", methods=["GET", "POST"])
        @app.route("/oauth2/authorize/v4", methods=["GET", "POST"])
        def _authorize():
            return redirect(self.oauth.authorize(dict(request.values.items())), code=302)

        @app.post("/oauth2/token")
        def _token():
            values = dict(request.values.items())
            if request.is_json and isinstance(request.get_json(silent=True), dict):
                values.update(request.get_json())
            return jsonify(self.oauth.token(values, request.host))

    def _read_routes(self) -> None:
        app = self.app

        @app.get(f"{API}/version")
        def _version():
            return jsonify(envelope("version", [{"major": 4, "minor": 0}]))

        @app.get(f"{API}/account")
        def _account():
            ds = self.dataset
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

        @app.get(f"{API}/spaces")
        def _spaces():
            values = params()
            reject_unknown(values, {"withArchived", "userIsMember", "fields"})
            with_members = "members" in (list_value(values, "fields") or [])
            archived = bool_value(values, "withArchived", False)
            with self._lock:
                data = [_space_view(s, with_members) for s in self.dataset.spaces if archived or not s["archived"]]
            return jsonify(envelope("spaces", data))

        @app.get(f"{API}/spaces/<space_id>")
        def _space(space_id: str):
            values = params()
            with_members = "members" in (list_value(values, "fields") or [])
            with self._lock:
                return jsonify(envelope("spaces", [_space_view(self._space(space_id), with_members)]))

        @app.get(f"{API}/folders")
        def _folder_tree():
            values = params()
            reject_unknown(values, {"project", "descendants", "fields", "deleted"})
            with self._lock:
                ds = self.dataset
                if "project" in values:
                    return jsonify(envelope("folders", self._full_folders(ds.folders, values)))
                recycled = [f["id"] for f in ds.folders if f["scope"] == "RbFolder"]
                tree = [
                    {"id": ds.root_id, "title": "Root", "childIds": [s["id"] for s in ds.spaces], "scope": "WsRoot"},
                    {"id": ds.recycle_bin_id, "title": "Recycle Bin", "childIds": recycled, "scope": "RbRoot"},
                ]
                tree += [
                    {
                        "id": s["id"],
                        "title": s["title"],
                        "childIds": self.children.get(s["id"], []),
                        "scope": "WsFolder",
                        "space": True,
                    }
                    for s in ds.spaces
                ]
                tree += [_tree_entry(f) for f in ds.folders]
            return jsonify(envelope("folderTree", tree))

        @app.get(f"{API}/spaces/<space_id>/folders")
        def _space_folders(space_id: str):
            values = params()
            reject_unknown(values, {"project", "descendants", "fields", "deleted"})
            with self._lock:
                self._space(space_id)
                scope = self.listed_folders(space_id, descendants_flag(values))
                folders = [f for f in self.dataset.folders if f["id"] in scope and f["scope"] == "WsFolder"]
                if "project" in values:
                    return jsonify(envelope("folders", self._full_folders(folders, values)))
                return jsonify(envelope("folderTree", [_tree_entry(f) for f in folders]))

        @app.get(f"{API}/folders/<folder_id>/folders")
        def _sub_folders(folder_id: str):
            values = params()
            reject_unknown(values, {"project", "descendants", "fields", "deleted"})
            with self._lock:
                self._folder(folder_id)
                scope = {folder_id} | self.listed_folders(folder_id, descendants_flag(values))
                folders = [f for f in self.dataset.folders if f["id"] in scope]
                if "project" in values:
                    return jsonify(envelope("folders", self._full_folders(folders, values)))
                return jsonify(envelope("folderTree", [_tree_entry(f) for f in folders]))

        @app.get(f"{API}/folders/<ids>")
        def _folders_by_id(ids: str):
            with self._lock:
                data = [self._folder(i) for i in split_ids(ids)]
            return jsonify(envelope("folders", data))

        @app.get(f"{API}/tasks")
        def _all_tasks():
            values = params()
            with self._lock:
                candidates = self._with_subtasks(
                    [t for t in self.dataset.tasks if t["scope"] == "WsTask"], subtasks_flag(values)
                )
                return jsonify(answer_task_query(values, candidates, self.tasks_by_id, self.pager, descendants=True))

        @app.get(f"{API}/folders/<folder_id>/tasks")
        def _folder_tasks(folder_id: str):
            values = params()
            with self._lock:
                descendants = descendants_flag(values)
                if folder_id == self.dataset.recycle_bin_id:
                    candidates = [t for t in self.dataset.tasks if t["scope"] == "RbTask"]
                    if not subtasks_flag(values):
                        candidates = [t for t in candidates if not t["superTaskIds"]]
                elif folder_id == self.dataset.root_id:
                    candidates = [t for t in self.dataset.tasks if t["scope"] == "WsTask"]
                    candidates = self._with_subtasks(candidates, subtasks_flag(values))
                else:
                    if folder_id in self.spaces_by_id:
                        self._space(folder_id)
                    else:
                        self._folder(folder_id)
                    candidates = self._tasks_in(self.subtree(folder_id, descendants), subtasks_flag(values))
                return jsonify(
                    answer_task_query(values, candidates, self.tasks_by_id, self.pager, descendants=descendants)
                )

        @app.get(f"{API}/spaces/<space_id>/tasks")
        def _space_tasks(space_id: str):
            values = params()
            with self._lock:
                self._space(space_id)
                descendants = descendants_flag(values)
                candidates = self._tasks_in(self.subtree(space_id, descendants), subtasks_flag(values))
                return jsonify(
                    answer_task_query(values, candidates, self.tasks_by_id, self.pager, descendants=descendants)
                )

        @app.get(f"{API}/tasks/<ids>")
        def _tasks_by_id(ids: str):
            values = params()
            reject_unknown(values, {"fields"})
            fields = requested_fields(values)
            with self._lock:
                data = [task_view(self._task(i), fields, full=True) for i in split_ids(ids)]
            return jsonify(envelope("tasks", data))

        @app.get(f"{API}/customfields")
        def _custom_fields():
            with self._lock:
                return jsonify(envelope("customfields", list(self.dataset.custom_fields)))

        @app.get(f"{API}/customfields/<ids>")
        def _custom_fields_by_id(ids: str):
            with self._lock:
                data = []
                for field_id in split_ids(ids):
                    if field_id not in self.fields_by_id:
                        raise ApiError(404, "resource_not_found", f"Custom field '{field_id}' not found")
                    data.append(self.fields_by_id[field_id])
            return jsonify(envelope("customfields", data))

        @app.get(f"{API}/spaces/<space_id>/customfields")
        def _space_custom_fields(space_id: str):
            with self._lock:
                self._space(space_id)
                data = [f for f in self.dataset.custom_fields if f.get("spaceId") == space_id]
            return jsonify(envelope("customfields", data))

        @app.get(f"{API}/workflows")
        def _workflows():
            with self._lock:
                return jsonify(envelope("workflows", list(self.dataset.workflows)))

        @app.get(f"{API}/spaces/<space_id>/workflows")
        def _space_workflows(space_id: str):
            with self._lock:
                self._space(space_id)
                data = [w for w in self.dataset.workflows if w.get("spaceId") == space_id]
            return jsonify(envelope("workflows", data))

        @app.get(f"{API}/contacts")
        def _contacts():
            values = params()
            reject_unknown(values, {"me", "deleted", "types", "fields", "metadata"})
            me = bool_value(values, "me", False)
            types = list_value(values, "types")
            deleted = values.get("deleted")
            with self._lock:
                data = [
                    c
                    for c in self.dataset.contacts
                    if (not me or c.get("me"))
                    and (not types or c["type"] in types)
                    and (deleted is None or c["deleted"] == bool_value(values, "deleted", False))
                ]
            return jsonify(envelope("contacts", data))

        @app.get(f"{API}/contacts/<ids>")
        def _contacts_by_id(ids: str):
            with self._lock:
                by_id = {c["id"]: c for c in self.dataset.contacts}
                data = []
                for contact_id in split_ids(ids):
                    if contact_id not in by_id:
                        raise ApiError(404, "resource_not_found", f"Contact '{contact_id}' not found")
                    data.append(by_id[contact_id])
            return jsonify(envelope("contacts", data))

        @app.get(f"{API}/webhooks")
        def _webhooks():
            return jsonify(envelope("webhooks", [h.view() for h in list(self.webhooks.hooks.values())]))

        @app.get(f"{API}/webhooks/<hook_id>")
        def _webhook(hook_id: str):
            return jsonify(envelope("webhooks", [self.webhooks.get(hook_id).view()]))

    def _write_routes(self) -> None:
        app = self.app

        @app.put(f"{API}/tasks/<task_id>")
        def _modify_task(task_id: str):
            values = params()
            reject_unknown(
                values,
                {
                    "title",
                    "description",
                    "status",
                    "importance",
                    "dates",
                    "addResponsibles",
                    "removeResponsibles",
                    "addParents",
                    "removeParents",
                    "customFields",
                    "customStatus",
                    "fields",
                },
            )
            with self._lock:
                task = self._task(task_id)
                changes: dict[str, Any] = {
                    k: values[k] for k in ("title", "description", "importance", "status") if k in values
                }
                if "customStatus" in values:
                    changes["customStatusId"] = values["customStatus"]
                if "dates" in values:
                    changes["dates"] = json_value(values, "dates")
                for key in ("addResponsibles", "removeResponsibles"):
                    if key in values:
                        changes[key] = list_value(values, key)
                if "addParents" in values or "removeParents" in values:
                    parents = list(task["parentIds"])
                    parents += [p for p in list_value(values, "addParents") or [] if p not in parents]
                    drop = list_value(values, "removeParents") or []
                    changes["parentIds"] = [p for p in parents if p not in drop]
                if "customFields" in values:
                    changes["customFields"] = json_value(values, "customFields")
            return jsonify(envelope("tasks", [self.update_task(task_id, **changes)]))

        @app.put(f"{API}/folders/<folder_id>")
        def _modify_folder(folder_id: str):
            values = params()
            reject_unknown(values, {"title", "description", "customFields"})
            changes: dict[str, Any] = {k: values[k] for k in ("title", "description") if k in values}
            if "customFields" in values:
                changes["customFields"] = json_value(values, "customFields")
            return jsonify(envelope("folders", [self.update_folder(folder_id, **changes)]))

        @app.delete(f"{API}/tasks/<task_id>")
        def _delete_task(task_id: str):
            with self._lock:
                self._task(task_id)
            return jsonify(envelope("tasks", [self.delete_task(task_id)]))

        @app.post(f"{API}/folders/<folder_id>/tasks")
        def _create_task(folder_id: str):
            values = params()
            reject_unknown(
                values,
                {
                    "title",
                    "description",
                    "status",
                    "importance",
                    "dates",
                    "responsibles",
                    "customFields",
                    "customStatus",
                    "superTasks",
                    "fields",
                },
            )
            if not values.get("title"):
                raise ApiError(400, "parameter_required", "Parameter 'title' is required")
            fields: dict[str, Any] = {k: values[k] for k in ("description", "importance", "status") if k in values}
            if "customStatus" in values:
                fields["customStatusId"] = values["customStatus"]
            if "dates" in values:
                fields["dates"] = json_value(values, "dates")
            if "responsibles" in values:
                fields["responsibleIds"] = list_value(values, "responsibles")
            if "customFields" in values:
                fields["customFields"] = json_value(values, "customFields")
            if "superTasks" in values:
                fields["superTaskIds"] = list_value(values, "superTasks")
            return jsonify(envelope("tasks", [self.create_task(folder_id, values["title"], **fields)]))

        def _create_webhook(folder_id: str | None = None, space_id: str | None = None):
            values = params()
            reject_unknown(values, {"hookUrl", "secret", "events", "recursive"})
            if not values.get("hookUrl"):
                raise ApiError(400, "parameter_required", "Parameter 'hookUrl' is required")
            with self._lock:
                if folder_id:
                    self._folder(folder_id)
                if space_id:
                    self._space(space_id)
            hook = self.webhooks.create(
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
            return jsonify(envelope("webhooks", [self.webhooks.set_status(hook_id, values["status"]).view()]))

        @app.delete(f"{API}/webhooks/<hook_id>")
        def _delete_webhook(hook_id: str):
            self.webhooks.delete(hook_id)
            return jsonify(envelope("webhooks", []))

    def _control_routes(self) -> None:
        actions = {
            "update_task": self.update_task,
            "create_task": self.create_task,
            "delete_task": self.delete_task,
            "move_task": self.move_task,
            "update_folder": self.update_folder,
            "expire_access_tokens": self.expire_access_tokens,
            "revoke_token": self.revoke_token,
            "deny": self.deny,
        }

        @self.app.post("/_sandbox/wrike/<action>")
        def _control(action: str):
            if action not in actions:
                raise ApiError(404, "method_not_found", f"Unknown sandbox action '{action}'; try {sorted(actions)}")
            kwargs = request.get_json(silent=True) or {}
            try:
                result = actions[action](**kwargs)
            except TypeError as exc:
                raise ApiError(400, "invalid_parameter", f"Bad arguments for '{action}': {exc}") from None
            return jsonify({"ok": True, "result": result})

    # --- views ------------------------------------------------------------------------------------
    def _full_folders(self, folders: list[dict], values: dict) -> list[dict]:
        want_project = bool_value(values, "project", True)
        return [f for f in folders if ("project" in f) == want_project]

    def _tasks_in(self, folder_ids: set[str], subtasks: bool) -> list[dict]:
        base = [t for t in self.dataset.tasks if t["scope"] == "WsTask" and folder_ids.intersection(t["parentIds"])]
        return self._with_subtasks(base, subtasks)

    def _with_subtasks(self, tasks: list[dict], subtasks: bool) -> list[dict]:
        if not subtasks:
            return [t for t in tasks if not t["superTaskIds"]]
        seen = {t["id"] for t in tasks}
        out = list(tasks)
        frontier = tasks
        while frontier:
            nxt = []
            for task in frontier:
                for sub_id in task["subTaskIds"]:
                    sub = self.tasks_by_id.get(sub_id)
                    if sub is not None and sub_id not in seen and sub["scope"] == "WsTask":
                        seen.add(sub_id)
                        nxt.append(sub)
            out += nxt
            frontier = nxt
        return out


def _space_view(space: dict, with_members: bool) -> dict:
    return {k: v for k, v in space.items() if k != "members" or with_members}


def _tree_entry(folder: dict) -> dict:
    entry = {
        "id": folder["id"],
        "title": folder["title"],
        "childIds": list(folder["childIds"]),
        "scope": folder["scope"],
    }
    if "project" in folder:
        project = folder["project"]
        entry["project"] = {
            k: project[k] for k in ("authorId", "ownerIds", "customStatusId", "createdDate") if k in project
        }
    return entry


def _validate_field_value(definition: dict, value: str | None) -> None:
    if value in (None, ""):
        return
    if len(value) > 2000:
        raise ApiError(400, "invalid_parameter", f"Custom field '{definition['title']}': at most 2000 characters")
    ftype, settings = definition["type"], definition.get("settings", {})
    bad = False
    if ftype in ("Numeric", "Currency", "Percentage"):
        try:
            float(value)
        except ValueError:
            bad = True
    elif ftype == "Checkbox":
        bad = value not in ("true", "false")
    elif ftype == "DropDown" and not settings.get("allowOtherValues"):
        bad = value not in settings.get("values", [])
    elif ftype == "Date":
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            bad = True
    if bad:
        raise ApiError(
            400, "invalid_parameter", f"Custom field '{definition['title']}' ({ftype}) does not accept the value given"
        )
