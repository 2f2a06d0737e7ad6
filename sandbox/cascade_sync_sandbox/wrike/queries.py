"""Task queries as Wrike answers them: filters, sort, opt-in fields and the paging rules.

Paging (per the Wrike staff post on ``nextPageToken``): with ``pageSize`` (1..1000) the answer
carries ``responseSize`` (the total) and ``nextPageToken`` until the last page; without it a
query returns at most 1,000 tasks and no token, except that ``descendants=false`` lifts the cap.
The emulator keeps the ordered id list of the first page's query behind each token, so later
pages are stable while tasks change (they show each task's current state).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cascade_sync_sandbox.wrike.model import TASK_OPTIONAL_FIELDS, parse_wrike_datetime
from cascade_sync_sandbox.wrike.protocol import (
    ApiError,
    bool_value,
    int_value,
    json_value,
    list_value,
    reject_unknown,
)

UNPAGED_CAP = 1000
MAX_PAGE_SIZE = 1000
DEFAULT_TASK_FIELDS = (
    "id",
    "accountId",
    "title",
    "status",
    "importance",
    "createdDate",
    "updatedDate",
    "completedDate",
    "dates",
    "scope",
    "customStatusId",
    "permalink",
    "priority",
)
# Returned by GET /tasks/{ids} only when asked for, like the paid-plan fields.
ON_REQUEST_ONLY = frozenset({"attachmentCount", "recurrent"})
TASK_QUERY_PARAMS = frozenset(
    {
        "descendants",
        "subTasks",
        "title",
        "status",
        "importance",
        "type",
        "customStatuses",
        "createdDate",
        "updatedDate",
        "completedDate",
        "startDate",
        "dueDate",
        "responsibles",
        "authors",
        "permalink",
        "limit",
        "sortField",
        "sortOrder",
        "pageSize",
        "nextPageToken",
        "fields",
    }
)
STATUS_GROUPS = ("Active", "Completed", "Deferred", "Cancelled")
_IMPORTANCE_RANK = {"High": 0, "Normal": 1, "Low": 2}
_SORT_KEYS: dict[str, Callable[[dict], Any]] = {
    "UpdatedDate": lambda t: t["updatedDate"],
    "CreatedDate": lambda t: t["createdDate"],
    "CompletedDate": lambda t: t.get("completedDate") or "",
    "DueDate": lambda t: t["dates"].get("due") or "",
    "Title": lambda t: t["title"].lower(),
    "Importance": lambda t: _IMPORTANCE_RANK.get(t["importance"], 1),
    "Status": lambda t: STATUS_GROUPS.index(t["status"]) if t["status"] in STATUS_GROUPS else 9,
}


def requested_fields(values: dict) -> set[str]:
    fields = list_value(values, "fields") or []
    unknown = [f for f in fields if f not in TASK_OPTIONAL_FIELDS]
    if unknown:
        raise ApiError(
            400,
            "invalid_parameter",
            f"Parameter 'fields' has unknown values {unknown}; allowed: {list(TASK_OPTIONAL_FIELDS)}",
        )
    return set(fields)


def task_view(task: dict, fields: set[str], *, full: bool = False) -> dict:
    """The task as an answer shows it: default fields, plus ``fields`` (or all for GET by id)."""
    view = {}
    for key, value in task.items():
        if key in DEFAULT_TASK_FIELDS or key in fields or (full and key not in ON_REQUEST_ONLY):
            view[key] = value
    if "attachmentCount" in fields:
        view["attachmentCount"] = 0
    if "recurrent" in fields:
        view["recurrent"] = False
    return view


def _range(values: dict, name: str) -> tuple[datetime | None, datetime | None] | None:
    spec = json_value(values, name)
    if spec is None:
        return None
    if not isinstance(spec, dict) or not ({"start", "end", "equal"} & set(spec)):
        raise ApiError(
            400,
            "invalid_parameter",
            f'Parameter \'{name}\' must be JSON like {{"start":"2026-01-01T00:00:00Z","end":...}}',
        )
    try:
        if "equal" in spec:
            point = parse_wrike_datetime(spec["equal"])
            return point, point
        return parse_wrike_datetime(spec.get("start")), parse_wrike_datetime(spec.get("end"))
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter", f"Parameter '{name}' has a malformed date") from None


def _in_range(value: str | None, bounds: tuple[datetime | None, datetime | None]) -> bool:
    if not value:
        return False
    moment = parse_wrike_datetime(value)
    start, end = bounds
    if start is not None and moment < start:
        return False
    return end is None or moment <= end


def _filters(values: dict) -> list[Callable[[dict], bool]]:
    checks: list[Callable[[dict], bool]] = []
    statuses = list_value(values, "status")
    if statuses:
        bad = [s for s in statuses if s not in STATUS_GROUPS]
        if bad:
            raise ApiError(400, "invalid_parameter", f"Parameter 'status' has unknown values {bad}")
        checks.append(lambda t: t["status"] in statuses)
    importance = list_value(values, "importance")
    if importance:
        checks.append(lambda t: t["importance"] in importance)
    types = list_value(values, "type")
    if types:
        checks.append(lambda t: t["dates"]["type"] in types)
    custom = list_value(values, "customStatuses")
    if custom:
        checks.append(lambda t: t["customStatusId"] in custom)
    title = values.get("title")
    if title:
        checks.append(lambda t: title.lower() in t["title"].lower())
    permalink = values.get("permalink")
    if permalink:
        checks.append(lambda t: t["permalink"] == permalink)
    responsibles = list_value(values, "responsibles")
    if responsibles:
        checks.append(lambda t: bool(set(responsibles) & set(t.get("responsibleIds", []))))
    authors = list_value(values, "authors")
    if authors:
        checks.append(lambda t: bool(set(authors) & set(t.get("authorIds", []))))
    for name, getter in (
        ("createdDate", lambda t: t["createdDate"]),
        ("updatedDate", lambda t: t["updatedDate"]),
        ("completedDate", lambda t: t.get("completedDate")),
        ("startDate", lambda t: t["dates"].get("start")),
        ("dueDate", lambda t: t["dates"].get("due")),
    ):
        bounds = _range(values, name)
        if bounds is not None:
            checks.append(lambda t, b=bounds, g=getter: _in_range(g(t), b))
    return checks


class Pager:
    """Remembers the ordered result of a paged query behind each opaque ``nextPageToken``."""

    def __init__(self) -> None:
        self._pages: dict[str, dict] = {}
        self._lock = threading.Lock()

    def issue(self, ids: list[str], offset: int, page_size: int, fields: set[str]) -> str:
        token = secrets.token_urlsafe(18).replace("-", "A").replace("_", "B")
        with self._lock:
            self._pages[token] = {"ids": ids, "offset": offset, "page_size": page_size, "fields": fields}
        return token

    def take(self, token: str) -> dict:
        with self._lock:
            page = self._pages.get(token)
        if page is None:
            raise ApiError(400, "invalid_parameter", "Parameter 'nextPageToken' is invalid")
        return page


def answer_task_query(
    values: dict, candidates: list[dict], tasks_by_id: dict[str, dict], pager: Pager, *, descendants: bool
) -> dict:
    """Filter, sort and page ``candidates``; the return value is the JSON answer (kind tasks)."""
    reject_unknown(values, set(TASK_QUERY_PARAMS))
    fields = requested_fields(values)
    page_size = int_value(values, "pageSize", minimum=1, maximum=MAX_PAGE_SIZE)
    token = values.get("nextPageToken")
    if token:
        page = pager.take(token)
        size = page_size or page["page_size"]
        fields = fields or page["fields"]
        ids, start = page["ids"], page["offset"]
        chunk = ids[start : start + size]
        answer = {
            "kind": "tasks",
            "responseSize": len(ids),
            "data": [task_view(tasks_by_id[i], fields) for i in chunk if i in tasks_by_id],
        }
        if start + size < len(ids):
            answer["nextPageToken"] = pager.issue(ids, start + size, size, fields)
        return answer

    checks = _filters(values)
    selected = [t for t in candidates if all(check(t) for check in checks)]
    sort_field = values.get("sortField", "UpdatedDate")
    if sort_field not in _SORT_KEYS:
        raise ApiError(400, "invalid_parameter", f"Parameter 'sortField' must be one of {list(_SORT_KEYS)}")
    order = values.get("sortOrder", "Asc" if sort_field == "Title" else "Desc")
    if order not in ("Asc", "Desc"):
        raise ApiError(400, "invalid_parameter", "Parameter 'sortOrder' must be Asc or Desc")
    selected.sort(key=lambda t: t["id"])
    selected.sort(key=_SORT_KEYS[sort_field], reverse=order == "Desc")
    limit = int_value(values, "limit", minimum=1, maximum=10**9)
    if limit:
        selected = selected[:limit]

    if page_size is None:
        if descendants:
            selected = selected[:UNPAGED_CAP]
        return {"kind": "tasks", "data": [task_view(t, fields) for t in selected]}
    ids = [t["id"] for t in selected]
    answer = {"kind": "tasks", "responseSize": len(ids), "data": [task_view(t, fields) for t in selected[:page_size]]}
    if len(ids) > page_size:
        answer["nextPageToken"] = pager.issue(ids, page_size, page_size, fields)
    return answer


def descendants_flag(values: dict) -> bool:
    return bool_value(values, "descendants", True)


def subtasks_flag(values: dict) -> bool:
    return bool_value(values, "subTasks", False)
