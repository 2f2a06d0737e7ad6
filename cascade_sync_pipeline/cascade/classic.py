"""The client of Cascade's classic API (``https://{instance}.executestrategy.net/api/v2``): Goals
and Tasks, as ``shared/reference/cascade/classic-connector.swagger.json`` describes them.

Plain Python, no Dagster. Built on :class:`~cascade_sync_pipeline.http.ApiSession` (retries of
5xx, timeouts and resets, 429 waits, request counting). Reads, PUTs and DELETEs are safe to repeat
and are retried. A create is not: the API has no idempotency key, no external reference and no
conflict answer, so a POST whose answer was lost is never simply sent again. Instead the client
looks for what that POST may have stored (see :meth:`ClassicClient._create`): adopted when exactly
one item matches, sent again only when none does, and an error that says so when it cannot look.

Assumed (not in the connector definition):
- Ids grow with every create, so an item our POST stored has an id above every id seen before it.
- ``GET /goals`` may answer its list under ``"goals"`` or (as documented) under ``"goal"``; both
  are read, as is a single object under either. ``POST /tasks`` answers under ``"tasks"``.
- ``offset`` counts items from 1 (not pages); a page shorter than ``limit`` is the last one; the
  server does not cap ``limit`` below ``page_size`` (100).
- ``GET /goals?creator_id=`` and ``GET /tasks?goal_id=&user_id=`` filter exactly; a task's
  ``user_id`` is its creator (connector: "ID of the user that created the Task"). Substring
  filters (``action``, ``detail``) are never relied on to find a lost create.
- A 429 and a connection that could not be opened stored nothing; any other failure after the
  request was sent (timeout, reset, 5xx, an unreadable 2xx) may have stored it.
- A server that timed out may still store the create a moment later: after a timeout the client
  waits ``settle_seconds`` before it looks. A create stored later still is the residual risk.
- The server may render a date at midnight of another time zone, so dates match within a day.
- Error answers carry ``message`` (and maybe ``field``), like the documented DELETE body.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from ..http import ApiSession, RetryPolicy, redact
from .classic_wire import (
    GOAL,
    GOAL_STATUSES,
    TASK,
    Kind,
    as_id,
    as_list,
    chunks,
    ids_or_none,
    item_of,
    known_filters,
    matches_body,
    query_params,
    rows_of,
    split_title,
    status_param,
    to_wire,
)
from .errors import CascadeApiError, error_message, field_of, fix_for

__all__ = ["GOAL_STATUSES", "CascadeApiError", "ClassicClient", "split_title"]

GOAL_FILTERS = frozenset({"role_id", "completion_criteria", "target_flow", "action", "detail"})
TASK_FILTERS = frozenset({"is_complete"})
FIRST_OFFSET = 1


class _LostAnswer(Exception):
    """A create was sent and may have been stored, but no usable answer came back. After a
    timeout the server may still be working on it (``timed_out``); after a reset or a 5xx it is done."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ClassicClient(ApiSession):
    """Goals and tasks of one classic Cascade instance, with one bearer token.

    ``writes`` counts calls that changed Cascade; ``recovered_creates`` counts creates whose answer
    was lost and whose stored item was found and adopted instead of being created again.
    ``creator_id`` is the token's user (learned from the first create answer when not given).
    A caller that records its creates elsewhere tells the client which ids exist already
    (:meth:`known_ids`), notes the floor before each create (:meth:`last_known_id`) and, after a
    crash, asks for the item an earlier create stored (:meth:`find_created`).
    """

    source = "Cascade"
    error_class = CascadeApiError

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        workspace: str = "cascade",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        page_size: int = 100,
        creator_id: int | None = None,
        token_env: str = "CASCADE_TOKEN",
        ids_per_request: int = 50,
        settle_seconds: float = 1.0,
    ) -> None:
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, sleep=sleep, transport=transport)
        self.__token = token
        self.token_env = token_env
        self.page_size = page_size
        self.ids_per_request = ids_per_request
        self.creator_id = as_id(creator_id) if creator_id is not None else None
        self.settle_seconds = settle_seconds  # after a timeout, let a slow server finish storing before we look
        self.writes = 0
        self.recovered_creates = 0
        self._high_water = {"goal": 0, "task": 0}
        self._unresolved: dict[tuple, int] = {}  # creates of unknown outcome -> id floor to look above
        self._base_path = httpx.URL(base_url.rstrip("/")).path

    @classmethod
    def from_env(cls, base_url: str, token_env: str = "CASCADE_TOKEN", **kwargs: Any) -> ClassicClient:
        token = os.environ.get(token_env, "").strip()
        if not token:
            workspace = kwargs.get("workspace", "cascade")
            raise CascadeApiError(
                f"workspace '{workspace}': env {token_env} is empty or not set: put a Cascade API "
                "token there (Profile > System > Security > + Add Token; Enterprise plan)",
                code="NO_TOKEN",
                workspace=workspace,
            )
        return cls(base_url, token, token_env=token_env, **kwargs)

    def __repr__(self) -> str:
        return f"ClassicClient(base_url={str(self._http.base_url)!r}, token_env={self.token_env!r})"

    # --- ApiSession hooks ----------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__token}", "Accept": "application/json"}

    def error_for(self, response: httpx.Response, payload: Any) -> CascadeApiError:
        server_says, field = field_of(payload)
        server_says = self._redact(server_says)
        item = self._describe(response.request)
        status = response.status_code
        fix = fix_for(status, token_env=self.token_env, item=item, server_says=server_says, field=field)
        return CascadeApiError(
            error_message(self.workspace, status, item, fix),
            status=status,
            code=f"HTTP_{status}",
            workspace=self.workspace,
            item=item,
            details={"field": field} if field else {},
        )

    # --- reads ---------------------------------------------------------------------------------
    def list_goals(
        self,
        *,
        status: str | list[str] | tuple[str, ...],
        ids: Any = None,
        creator_id: int | str | None = None,
        **filters: Any,
    ) -> list[dict]:
        """Goals in the given status(es), all pages. ``status`` is required: the API would
        silently answer DRAFT goals only. Filters: role_id, completion_criteria, target_flow,
        action, detail (lists are sent comma-separated)."""
        known_filters(filters, GOAL_FILTERS, "goals")
        params: dict[str, Any] = {"status": status_param(status), **query_params(filters)}
        if creator_id is not None:
            params["creator_id"] = as_id(creator_id)
        return self._listing("goal", params, ids)

    def list_tasks(self, *, ids: Any = None, goal_id: Any = None, user_id: Any = None, **filters: Any) -> list[dict]:
        """Tasks, all pages; ``goal_id``/``user_id`` (creator) take one id or a list."""
        known_filters(filters, TASK_FILTERS, "tasks")
        params = query_params({"goal_id": ids_or_none(goal_id), "user_id": ids_or_none(user_id), **filters})
        return self._listing("task", params, ids)

    def get_goal(self, goal_id: int | str) -> dict:
        return self._item("goal", self.request("GET", f"/goals/{as_id(goal_id)}"))

    def get_task(self, task_id: int | str) -> dict:
        return self._item("task", self.request("GET", f"/tasks/{as_id(task_id)}"))

    # --- writes --------------------------------------------------------------------------------
    def create_goal(self, body: Mapping[str, Any], *, look_after_id: int | None = None) -> dict:
        """Create a goal (``action``, ``details``, ``start_time``, ``end_time``, ``weight_id``
        required; see :func:`split_title`). ``look_after_id``: a previous run lost this create's
        answer (``CascadeApiError.details["look_after_id"]``): look for it above that id first."""
        return self._create(GOAL, body, look_after_id)

    def create_task(self, body: Mapping[str, Any], *, look_after_id: int | None = None) -> dict:
        """Create a task (``task`` and ``goal_id`` required); ``look_after_id`` as for goals."""
        return self._create(TASK, body, look_after_id)

    def find_created(self, kind: str, body: Mapping[str, Any], *, after_id: int) -> dict | None:
        """The goal or task a create of ``body`` stored, if one was stored (looked for among the items
        this token's user created with an id above ``after_id``), else None. For a create sent by an
        earlier run that died before it could record the answer; the item found is not counted as a
        write of this client."""
        kind_ = GOAL if kind == "goal" else TASK
        found = self._stored(kind_, to_wire(body), after_id, "an earlier run's create was never recorded")
        if found is not None:
            self.recovered_creates += 1
            self._note(kind_.name, found["id"])
        return found

    def last_known_id(self, kind: str) -> int:
        """The highest goal or task id this client knows to exist: the next one created is above it."""
        return self._high_water[kind]

    def known_ids(self, kind: str, ids: Iterable[Any]) -> None:
        """Ids known to exist already (e.g. recorded in the warehouse): a create whose answer is lost is
        looked for above them, so an older item with the same title is never taken for the new one."""
        for item_id in ids:
            self._note(kind, as_id(item_id))

    def update_goal(self, goal_id: int | str, changes: Mapping[str, Any]) -> dict:
        return self._put("goal", f"/goals/{as_id(goal_id)}", changes)

    def update_task(self, task_id: int | str, changes: Mapping[str, Any]) -> dict:
        return self._put("task", f"/tasks/{as_id(task_id)}", changes)

    def delete_goal(self, goal_id: int | str) -> None:
        self._delete(f"/goals/{as_id(goal_id)}")

    def delete_task(self, task_id: int | str) -> None:
        self._delete(f"/tasks/{as_id(task_id)}")

    # --- the create protocol -------------------------------------------------------------------
    def _create(self, kind: Kind, body: Mapping[str, Any], look_after_id: int | None) -> dict:
        """POST once; on a lost answer look for the stored item instead of sending it again.

        The look lists items created by the token's user (goals in every status, tasks of the
        body's goal) with an id above the highest id known before the first POST, matching the
        identifying fields. One match: adopted. None: the POST was not stored, so it is sent
        again (and the same protocol repeats). The look fails: CREATE_UNKNOWN, nothing re-sent,
        and the next attempt for the same body (this client, or ``look_after_id``) looks first.
        """
        wire = to_wire(body)
        key = (kind.name, json.dumps([wire.get(f) for f in kind.key_fields + kind.date_fields], default=str))
        floor = look_after_id if look_after_id is not None else self._unresolved.get(key)
        if floor is not None:
            found = self._recover(kind, wire, key, floor, "an earlier attempt's answer was lost")
            if found is not None:
                return found
        else:
            floor = self._high_water[kind.name]
        for _attempt in range(self.retry.max_attempts):
            try:
                item = self._post_once(kind, wire)
            except _LostAnswer as lost:
                self._unresolved[key] = floor
                if lost.timed_out:
                    self._sleep(self.settle_seconds)
                found = self._recover(kind, wire, key, floor, str(lost))
                if found is not None:
                    return found
                continue
            self._unresolved.pop(key, None)
            self.writes += 1
            self._note(kind.name, item.get("id"))
            return item
        raise self._unknown(kind, wire, floor, f"{self.retry.max_attempts} answers in a row were lost")

    def _post_once(self, kind: Kind, wire: dict) -> dict:
        """One POST: waits out 429s and retries a connection that never opened (nothing was
        sent), but raises :class:`_LostAnswer` for anything after the request went out."""
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self._http.post(kind.path, json={kind.name: wire}, headers=self.auth_headers())
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._retry_or_raise(attempt, f"{type(exc).__name__} on POST {kind.path}")
                continue
            except httpx.TransportError as exc:
                raise _LostAnswer(
                    f"{type(exc).__name__} after the request was sent",
                    timed_out=isinstance(exc, httpx.TimeoutException),
                ) from exc
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            wait = self.rate_limit_wait(response)
            if wait is not None:
                self.stats.rate_limited += 1
                self._wait_for_rate_limit(wait, kind.path)
                attempt -= 1
                continue
            if status >= 500:
                raise _LostAnswer(f"HTTP {status}")
            try:
                payload = response.json() if response.content else None
            except ValueError:
                payload = None
            if status >= 400:
                raise self.error_for(response, payload)
            try:
                item = self._item(kind.name, payload)
            except CascadeApiError:
                raise _LostAnswer(f"an unreadable HTTP {status} answer") from None
            if self.creator_id is None and item.get(kind.creator_field) is not None:
                self.creator_id = item[kind.creator_field]
            return item

    def _recover(self, kind: Kind, wire: dict, key: tuple, floor: int, why: str) -> dict | None:
        """The one item a lost POST of ``wire`` stored (adopted as this client's write), or None."""
        found = self._stored(kind, wire, floor, why)
        if found is None:
            return None
        self._unresolved.pop(key, None)
        self.writes += 1
        self.recovered_creates += 1
        self._note(kind.name, found["id"])
        return found

    def _note(self, name: str, item_id: Any) -> None:
        if isinstance(item_id, int) and not isinstance(item_id, bool):
            self._high_water[name] = max(self._high_water[name], item_id)

    def _stored(self, kind: Kind, wire: dict, floor: int, why: str) -> dict | None:
        """The one item created by this token's user above ``floor`` that carries ``wire``'s
        identifying fields; None when there is none; an error when there are several."""
        try:
            if kind is GOAL:
                rows = self.list_goals(status=GOAL_STATUSES, creator_id=self.creator_id)
            else:
                rows = self.list_tasks(goal_id=wire.get("goal_id"), user_id=self.creator_id)
        except CascadeApiError as err:
            raise self._unknown(kind, wire, floor, f"{why}, and looking for it failed ({err})") from err
        matches = [
            row
            for row in rows
            if isinstance(row.get("id"), int) and row["id"] > floor and matches_body(kind, wire, row)
        ]
        if len(matches) > 1:
            ids = ", ".join(str(row["id"]) for row in matches)
            raise CascadeApiError(
                f"workspace '{self.workspace}': {kind.label(wire)} matches {kind.name}s {ids}, all created by "
                f"this token's user after id {floor}: keep one, delete the others in Cascade and link the kept "
                "one in sync.id_map",
                code="CREATE_AMBIGUOUS",
                workspace=self.workspace,
                item=kind.label(wire),
                details={"kind": kind.name, "ids": [row["id"] for row in matches]},
            )
        return matches[0] if matches else None

    def _unknown(self, kind: Kind, wire: dict, floor: int, why: str) -> CascadeApiError:
        label = kind.label(wire)
        return CascadeApiError(
            f"workspace '{self.workspace}': the create of {label} may or may not have happened ({why}). It was "
            f"not sent again; the next run will look for it (a {kind.name} created by this token's user with "
            f"id above {floor}) before creating it, so it is not duplicated",
            code="CREATE_UNKNOWN",
            workspace=self.workspace,
            item=label,
            retryable=True,
            details={"kind": kind.name, "look_after_id": floor, "body": wire},
        )

    # --- internals -----------------------------------------------------------------------------
    def _put(self, name: str, path: str, changes: Mapping[str, Any]) -> dict:
        """PUT is idempotent (the same values twice leave the same item), so ApiSession retries it."""
        item = self._item(name, self.request("PUT", path, json_body={name: to_wire(changes)}))
        self.writes += 1
        return item

    def _delete(self, path: str) -> None:
        """DELETE that tolerates "already gone" after a retry: the lost first attempt deleted it."""
        retries_before = self.stats.retries
        try:
            self.request("DELETE", path)
        except CascadeApiError as err:
            if err.status != 404 or self.stats.retries == retries_before:
                raise
        self.writes += 1

    def _listing(self, name: str, params: dict[str, Any], ids: Any) -> list[dict]:
        if ids is None:
            rows = self._paginate(name, params)
        else:
            found: dict[Any, dict] = {}
            for chunk in chunks([str(as_id(i)) for i in as_list(ids)], self.ids_per_request):
                for row in self._paginate(name, {**params, "id": ",".join(chunk)}):
                    found.setdefault(row.get("id"), row)
            rows = list(found.values())
        ints = [row["id"] for row in rows if isinstance(row.get("id"), int)]
        self._high_water[name] = max([self._high_water[name], *ints])
        return rows

    def _paginate(self, name: str, params: dict[str, Any]) -> list[dict]:
        """Every page from offset 1 until a short one (the API sends no totals)."""
        path = f"/{name}s"
        rows: dict[Any, dict] = {}
        offset = FIRST_OFFSET
        while True:
            payload = self.request("GET", path, params={**params, "offset": offset, "limit": self.page_size})
            page = rows_of(name, payload)
            new = [row for row in page if row.get("id") not in rows]
            rows.update((row.get("id"), row) for row in new)
            if len(page) < self.page_size:
                return list(rows.values())
            if not new:
                raise CascadeApiError(
                    f"workspace '{self.workspace}': Cascade listing {path} served a full page "
                    "with no new items (the server ignores 'offset'); report it",
                    code="PAGING",
                    workspace=self.workspace,
                    item=path,
                )
            offset += len(page)

    def _item(self, name: str, payload: Any) -> dict:
        try:
            return item_of(name, payload)
        except CascadeApiError as err:
            err.workspace = self.workspace
            raise

    def _describe(self, request: httpx.Request) -> str:
        """What a call was about, in words: "goal 12", "new task 'X' on goal 3", "goal list"."""
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        parts = [p for p in path.split("/") if p]
        name = parts[0].rstrip("s") if parts else "/"
        if len(parts) > 1:
            return f"{name} {parts[1]}"
        if request.method != "POST":
            return f"{name} list"
        try:
            body = json.loads(request.content or b"{}").get(name) or {}
        except (ValueError, AttributeError):
            body = {}
        return (GOAL if name == "goal" else TASK).label(body) if isinstance(body, dict) else f"new {name}"

    def _redact(self, text: str) -> str:
        return redact(text, [self.__token])
