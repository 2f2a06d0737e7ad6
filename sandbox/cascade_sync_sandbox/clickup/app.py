"""The ClickUp API v2 emulator: a Flask app on the shared sandbox base, serving a dataset.

The emulator owns (and mutates) the dataset it is given: writes over HTTP and the in-process
helpers change it, so ``expected_staging(emulator.dataset, ...)`` stays the ground truth after
any change. Everything is indexed by team and list, so listings stay fast at 10,000 tasks.
"""

from __future__ import annotations

import copy
import json
import math
import random
import threading
import time
from collections.abc import Iterable
from typing import Any

from flask import Response, g, jsonify, request

from ..server import EmulatorServer, FaultPlan, RateLimiter, RequestLog, make_app
from . import errors
from .errors import ApiError
from .model import ClickUpDataset, Folder, Space, Task, TaskList, Team, TokenGrant, User
from .render import task_json
from .routes import register_admin, register_api
from .webhooks import WebhookHub
from .writes import UPDATE_KEYS, Event, TaskWriter

API_PREFIX = "/api/v2"


class ClickUpEmulator:
    """ClickUp's REST API over a :class:`ClickUpDataset`, with per-token rate limits (A6)."""

    def __init__(
        self,
        dataset: ClickUpDataset,
        *,
        rate_limit: int = 100,
        rate_window: float = 60.0,
        webhook_retry_delay: float = 0.5,
    ) -> None:
        self.dataset = dataset
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.app = make_app("clickup-emulator", self.log, self.faults)
        self.webhooks = WebhookHub(random.Random(f"clickup-webhooks:{dataset.seed}"), retry_delay=webhook_retry_delay)
        self.writer = TaskWriter(dataset, random.Random(f"clickup-runtime:{dataset.seed}"))
        self.lock = threading.RLock()
        self._clock_floor = dataset.newest_ms()
        self._by_list: dict[str, dict[str, None]] = {list_id: {} for list_id in dataset.lists}
        self._timl: dict[str, dict[str, None]] = {list_id: {} for list_id in dataset.lists}
        self._by_team: dict[str, dict[str, None]] = {team_id: {} for team_id in dataset.teams}
        self._children: dict[str, dict[str, None]] = {}
        for task in dataset.tasks.values():
            self._index(task)
        self._install_rate_limit()
        register_api(self)
        register_admin(self)

    def serve(self, port: int = 0) -> EmulatorServer:
        """Serve the app on 127.0.0.1 (port 0: a free port), already running. Both
        ``server = emulator.serve(); ...; server.stop()`` and ``with emulator.serve() as server:`` work."""
        return EmulatorServer(self.app, port=port).start()

    def now_ms(self) -> int:
        """The emulator's clock: real time, but never at or before the dataset's newest date or
        the previous tick, so every change moves ``date_updated`` forward."""
        with self.lock:
            self._clock_floor = max(int(time.time() * 1000), self._clock_floor + 1)
            return self._clock_floor

    # ---- indexes -------------------------------------------------------------------------------
    def _index(self, task: Task) -> None:
        self._by_list[task.list_id][task.id] = None
        self._by_team[task.team_id][task.id] = None
        for other in task.other_list_ids:
            self._timl[other][task.id] = None
        if task.parent:
            self._children.setdefault(task.parent, {})[task.id] = None

    def reindex(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self._unindex_everywhere(task.id)
            self._index(task)

    def _unindex_everywhere(self, task_id: str) -> None:
        for index in (self._by_list, self._by_team, self._timl, self._children):
            for members in index.values():
                members.pop(task_id, None)

    def tasks_in_list(self, list_id: str, *, include_timl: bool = False) -> list[Task]:
        ids = list(self._by_list[list_id])
        if include_timl:
            ids += [t for t in self._timl[list_id] if t not in self._by_list[list_id]]
        return [self.dataset.tasks[t] for t in ids]

    def tasks_in_team(self, team_id: str) -> list[Task]:
        return [self.dataset.tasks[t] for t in self._by_team[team_id]]

    def subtasks_of(self, task_id: str) -> list[Task]:
        out = []
        for child_id in self._children.get(task_id, {}):
            out.append(self.dataset.tasks[child_id])
            out.extend(self.subtasks_of(child_id))
        return sorted(out, key=lambda t: (t.date_created, t.id))

    def list_task_count(self, list_id: str) -> int:
        return len(self._by_list[list_id])

    # ---- rate limit and auth -------------------------------------------------------------------
    def _install_rate_limit(self) -> None:
        app = self.app

        @app.before_request
        def _limit():
            if not request.path.startswith(API_PREFIX):
                return None
            g.rate = self.limiter.hit(request.headers.get("Authorization", ""))
            if not g.rate[0]:
                error = errors.rate_limited()
                return Response(_json_bytes(error.body()), status=error.status, mimetype="application/json")
            return None

        @app.after_request
        def _rate_headers(response: Response):
            if request.path.startswith(API_PREFIX):
                rate = getattr(g, "rate", None) or self.limiter.hit(request.headers.get("Authorization", ""))
                response.headers["X-RateLimit-Limit"] = str(self.limiter.limit)
                response.headers["X-RateLimit-Remaining"] = str(rate[1])
                response.headers["X-RateLimit-Reset"] = str(math.ceil(rate[2]))
            return response

        @app.errorhandler(ApiError)
        def _api_error(error: ApiError):
            return jsonify(error.body()), error.status

    def authorize(self) -> TokenGrant:
        """The grant of the request's token: raw ``pk_...`` or ``Bearer <oauth token>``."""
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise errors.header_required()
        if header.lower().startswith("bearer "):
            grant = self.dataset.grants.get(header[7:].strip())
            if grant is None or not grant.oauth or grant.revoked:
                raise errors.oauth_token_not_found()
            return grant
        grant = self.dataset.grants.get(header)
        if grant is None or grant.oauth or grant.revoked:
            raise errors.token_invalid()
        return grant

    def team_for(self, grant: TokenGrant, team_id: str) -> Team:
        team = self.dataset.teams.get(team_id)
        if team is None or team_id not in grant.team_ids:
            raise errors.team_not_authorized()
        return team

    def space_for(self, grant: TokenGrant, space_id: str) -> Space:
        space = self.dataset.spaces.get(space_id)
        if space is None:
            raise errors.not_found("Space")
        self.team_for(grant, space.team_id)
        return space

    def folder_for(self, grant: TokenGrant, folder_id: str) -> Folder:
        folder = self.dataset.folders.get(folder_id)
        if folder is None or folder.hidden:
            raise errors.not_found("Folder")
        self.space_for(grant, folder.space_id)
        return folder

    def list_for(self, grant: TokenGrant, list_id: str) -> TaskList:
        lst = self.dataset.lists.get(list_id)
        if lst is None:
            raise errors.list_not_found()
        self.space_for(grant, lst.space_id)
        if list_id in grant.denied_list_ids:
            raise errors.team_not_authorized()
        return lst

    def task_for(self, grant: TokenGrant, task_id: str) -> Task:
        task = self.dataset.tasks.get(task_id)
        if task is None:
            raise errors.task_not_found()
        if task.team_id not in grant.team_ids or task.list_id in grant.denied_list_ids:
            raise errors.team_not_authorized()
        return task

    def visible(self, grant: TokenGrant, tasks: Iterable[Task]) -> list[Task]:
        return [t for t in tasks if t.list_id not in grant.denied_list_ids]

    # ---- changes and their webhooks ------------------------------------------------------------
    def publish(self, events: list[Event], task: Task) -> None:
        lst = self.dataset.lists[task.list_id]
        where = {
            "team_id": task.team_id,
            "space_id": lst.space_id,
            "folder_id": lst.folder_id,
            "list_ids": {lst.id, *task.other_list_ids},
            "task_id": task.id,
        }
        for event in events:
            self.webhooks.dispatch(event, where)

    def _actor(self) -> User:
        return self.dataset.users[self.dataset.admin_user_id]

    def _task(self, task_id: str) -> Task:
        task = self.dataset.tasks.get(task_id)
        if task is None:
            raise errors.task_not_found()
        return task

    def change_task(self, task: Task, body: dict[str, Any], actor: User) -> dict[str, Any]:
        """Apply a PUT /task body (plus optional ``custom_fields``) as ``actor``; returns the task JSON."""
        with self.lock:
            now = self.now_ms()
            custom = body.pop("custom_fields", None) or {}
            snapshot = copy.deepcopy(task)
            try:
                events = self.writer.update(task, body, actor, now)
                events += self._set_fields(task, custom, actor, now)
            except ApiError:
                task.__dict__.update(snapshot.__dict__)  # a rejected request changes nothing
                raise
            self.reindex([task, *self.subtasks_of(task.id)])
            self.publish(events, task)
            return task_json(self.dataset, task)

    def _set_fields(self, task: Task, custom: dict[str, Any], actor: User, now: int) -> list[Event]:
        events: list[Event] = []
        for key, value in custom.items():
            field = next((f for f in self.dataset.list_fields(task.list_id) if key in (f.id, f.name)), None)
            if field is None:
                raise errors.bad_request(f"No custom field {key!r} on the task's list", "FIELD_002")
            if value is None:
                events += self.writer.remove_field(task, field.id, actor, now)
            else:
                events += self.writer.set_field(task, field.id, {"value": value}, actor, now)
        return events

    def update_task(self, task_id: str, **changes: Any) -> dict[str, Any]:
        """Change a task as ClickUp's UI would. ``changes`` uses the PUT /task body vocabulary
        (name, description, status, priority, due_date, start_date, archived, points,
        time_estimate, parent, assignees={"add":[..],"rem":[..]}) plus ``custom_fields``:
        a mapping of field id or field name to a value in the Set Custom Field Value format
        (None removes the value). Returns the task's JSON."""
        unknown = set(changes) - UPDATE_KEYS - {"custom_fields"}
        if unknown:
            raise errors.bad_request(
                f"update_task got unknown fields {sorted(unknown)}; use {sorted(UPDATE_KEYS)} or custom_fields"
            )
        with self.lock:
            return self.change_task(self._task(task_id), changes, self._actor())

    def create_task(self, list_id: str, **fields: Any) -> str:
        """Create a task in ``list_id``: ``name`` required, then the PUT vocabulary (``assignees`` may
        be a plain list of ids) and ``custom_fields`` as in :meth:`update_task`. Returns its id."""
        with self.lock:
            custom = fields.pop("custom_fields", None) or {}
            now = self.now_ms()
            task, events = self.writer.create(str(list_id), fields, self._actor(), now)
            self._index(task)
            try:
                events += self._set_fields(task, custom, self._actor(), now)
            except ApiError:
                self._unindex_everywhere(task.id)
                del self.dataset.tasks[task.id]
                raise
            self.publish(events, task)
            return task.id

    def delete_task(self, task_id: str) -> None:
        """Delete a task and its subtasks (ClickUp deletes them together); sends taskDeleted."""
        with self.lock:
            task = self._task(task_id)
            doomed = [task, *self.subtasks_of(task_id)]
            for victim in doomed:
                self.publish([Event("taskDeleted", victim.id, None)], victim)
            for victim in doomed:
                self._unindex_everywhere(victim.id)
                self._children.pop(victim.id, None)
                del self.dataset.tasks[victim.id]

    def move_task(self, task_id: str, list_id: str) -> None:
        """Give a task (and its subtasks) a new home list in the same Workspace; sends taskMoved."""
        with self.lock:
            task = self._task(task_id)
            events = self.writer.move(task, str(list_id), self._actor(), self.now_ms())
            self.reindex([task, *self.subtasks_of(task.id)])
            self.publish(events, task)

    def revoke_token(self, token: str) -> None:
        """The token stops working at once (401 Token invalid), as after a regeneration."""
        with self.lock:
            self.dataset.grants[token].revoked = True

    def deny_list(self, token: str, list_id: str) -> None:
        """Withdraw ``token``'s access to one list (a permission gap)."""
        with self.lock:
            if str(list_id) not in self.dataset.lists:
                raise errors.list_not_found()
            self.dataset.grants[token].denied_list_ids.add(str(list_id))

    def grant(
        self,
        team_ids: Iterable[str],
        denied_list_ids: Iterable[str] = (),
        *,
        user_id: int | None = None,
        oauth: bool = False,
    ) -> str:
        with self.lock:
            return self.dataset.grant(team_ids, denied_list_ids, user_id=user_id, oauth=oauth)

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait for queued webhook deliveries to finish (tests and the demo)."""
        return self.webhooks.flush(timeout)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
