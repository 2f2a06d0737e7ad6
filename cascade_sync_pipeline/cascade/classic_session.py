"""The session under :class:`~cascade_sync_pipeline.cascade.classic.ClassicClient`: the bearer token,
errors in words ("goal 12", "new task 'X' on goal 3"), listings (every page, or by id in chunks) and the
calls that are safe to repeat (GET, PUT, DELETE), which :class:`~cascade_sync_pipeline.http.ApiSession`
retries. Creates are not safe to repeat; classic.py adds them, and lists what is assumed of the API.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

import httpx

from ..http import ApiSession, RetryPolicy, redact
from .classic_wire import (
    GOAL,
    TASK,
    as_id,
    as_list,
    chunks,
    ids_or_none,
    item_of,
    known_filters,
    query_params,
    rows_of,
    status_param,
    to_wire,
)
from .errors import CascadeApiError, error_message, field_of, fix_for

GOAL_FILTERS = frozenset({"role_id", "completion_criteria", "target_flow", "action", "detail"})
TASK_FILTERS = frozenset({"is_complete"})
FIRST_OFFSET = 1


class ClassicSession(ApiSession):
    """Goals and tasks of one classic Cascade instance, with one bearer token: everything but creates."""

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
    def from_env(cls, base_url: str, token_env: str = "CASCADE_TOKEN", **kwargs: Any) -> Self:
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
        return f"{type(self).__name__}(base_url={str(self._http.base_url)!r}, token_env={self.token_env!r})"

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

    # --- writes (PUT and DELETE, safe to repeat) ---------------------------------------------------
    def update_goal(self, goal_id: int | str, changes: Mapping[str, Any]) -> dict:
        return self._put("goal", f"/goals/{as_id(goal_id)}", changes)

    def update_task(self, task_id: int | str, changes: Mapping[str, Any]) -> dict:
        return self._put("task", f"/tasks/{as_id(task_id)}", changes)

    def delete_goal(self, goal_id: int | str) -> None:
        self._delete(f"/goals/{as_id(goal_id)}")

    def delete_task(self, task_id: int | str) -> None:
        self._delete(f"/tasks/{as_id(task_id)}")

    # --- ids known to exist: a lost create is looked for above them --------------------------------
    def last_known_id(self, kind: str) -> int:
        """The highest goal or task id this client knows to exist: the next one created is above it."""
        return self._high_water[kind]

    def known_ids(self, kind: str, ids: Iterable[Any]) -> None:
        """Ids known to exist already (e.g. recorded in the warehouse): a create whose answer is lost is
        looked for above them, so an older item with the same title is never taken for the new one."""
        for item_id in ids:
            self._note(kind, as_id(item_id))

    def _note(self, name: str, item_id: Any) -> None:
        if isinstance(item_id, int) and not isinstance(item_id, bool):
            self._high_water[name] = max(self._high_water[name], item_id)

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
