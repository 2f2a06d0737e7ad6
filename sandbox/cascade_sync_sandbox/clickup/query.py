"""Task listing: the filters, ordering and 100-per-page paging of GET /list/{id}/task and
GET /team/{id}/task (source-apis.md A3, A5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from werkzeug.datastructures import MultiDict

from .errors import ApiError
from .model import ClickUpDataset, Task

PAGE_SIZE = 100
_ORDER_KEYS: dict[str, Callable[[Task], tuple]] = {
    "id": lambda t: (t.id,),
    "created": lambda t: (t.date_created, t.id),
    "updated": lambda t: (t.date_updated, t.id),
    "due_date": lambda t: (t.due_date is None, t.due_date or 0, t.id),
}
_DATE_FILTERS = {
    "date_created": "date_created",
    "date_updated": "date_updated",
    "due_date": "due_date",
    "date_done": "date_done",
}


def flag(args: MultiDict, name: str, default: bool = False) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("true", "1", "yes")


def many(args: MultiDict, name: str) -> list[str]:
    """Values of an array parameter, sent as ``name[]=a&name[]=b`` (or without the brackets)."""
    return [v for key in (f"{name}[]", name) for v in args.getlist(key) if v != ""]


def _int_arg(args: MultiDict, name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer (ms since the epoch)", "INPUT_003") from None


def select_tasks(ds: ClickUpDataset, candidates: Iterable[Task], args: MultiDict, *, team_endpoint: bool) -> list[Task]:
    """Apply the query filters to ``candidates`` and order the result."""
    include_closed = flag(args, "include_closed")
    want_subtasks = flag(args, "subtasks")
    archived = flag(args, "archived")
    statuses = {s.lower() for s in many(args, "statuses")}
    assignees = {int(a) for a in many(args, "assignees") if a.lstrip("-").isdigit()}
    custom_items = {int(c) for c in many(args, "custom_items") if c.lstrip("-").isdigit()}
    parent = args.get("parent") if team_endpoint else None
    bounds = []
    for param, attr in _DATE_FILTERS.items():
        low, high = _int_arg(args, f"{param}_gt"), _int_arg(args, f"{param}_lt")
        if low is not None or high is not None:
            bounds.append((attr, low, high))
    locations: list[tuple[str, set[str]]] = []
    if team_endpoint:
        for param, kind in (("space_ids", "space"), ("project_ids", "folder"), ("list_ids", "list")):
            wanted = set(many(args, param))
            if wanted:
                locations.append((kind, wanted))

    out = []
    for task in candidates:
        if task.archived != archived:
            continue
        if parent is not None:
            if task.parent != parent:
                continue
        elif task.parent and not want_subtasks:
            continue
        if not include_closed and ds.task_status(task).type == "closed":
            continue
        if statuses and task.status.lower() not in statuses:
            continue
        if assignees and not assignees.intersection(task.assignee_ids):
            continue
        if custom_items and task.custom_item_id not in custom_items:
            continue
        if not _in_bounds(task, bounds) or not _in_locations(ds, task, locations):
            continue
        out.append(task)
    order_by = args.get("order_by") or "created"
    key = _ORDER_KEYS.get(order_by)
    if key is None:
        raise ApiError(400, f"order_by must be one of {', '.join(_ORDER_KEYS)}", "INPUT_004")
    out.sort(key=key, reverse=flag(args, "reverse"))
    return out


def _in_bounds(task: Task, bounds: list[tuple[str, int | None, int | None]]) -> bool:
    for attr, low, high in bounds:
        value = getattr(task, attr)
        if value is None:
            return False
        # ClickUp's *_gt includes the bound itself (observed by tap-clickup); *_lt is strict.
        if low is not None and value < low:
            return False
        if high is not None and value >= high:
            return False
    return True


def _in_locations(ds: ClickUpDataset, task: Task, locations: list[tuple[str, set[str]]]) -> bool:
    if not locations:
        return True
    lst = ds.lists[task.list_id]
    home = {"space": lst.space_id, "folder": lst.folder_id, "list": lst.id}
    return any(home[kind] in wanted for kind, wanted in locations)


def page_of(tasks: list[Task], args: MultiDict) -> tuple[list[Task], bool]:
    """One page of 100 (page sizes requested by the client are ignored, as ClickUp does)."""
    try:
        page = max(int(args.get("page") or 0), 0)
    except ValueError:
        raise ApiError(400, "page must be an integer", "INPUT_002") from None
    start = page * PAGE_SIZE
    chunk = tasks[start : start + PAGE_SIZE]
    return chunk, start + PAGE_SIZE >= len(tasks)
