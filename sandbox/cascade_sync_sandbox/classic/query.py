"""List queries of the classic API: the filters ``GET /goals`` and ``GET /tasks`` take (query
parameter -> stored field and how it matches) and the 1-based ``offset``/``limit`` paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from .errors import invalid
from .schema import COMPLETION_CRITERIA, STATUSES, TARGET_FLOWS

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# query parameter -> (stored field, how to match); "ids" and "enum" take comma-separated values
GOAL_FILTERS: dict[str, tuple[str, str, tuple]] = {
    "id": ("id", "ids", ()),
    "role_id": ("role_id", "ids", ()),
    "creator_id": ("creator_id", "ids", ()),
    "status": ("status", "enum", STATUSES),
    "completion_criteria": ("completion_criteria", "enum", COMPLETION_CRITERIA),
    "target_flow": ("target_flow", "enum", TARGET_FLOWS),
    "action": ("action", "text", ()),
    "detail": ("details", "text", ()),
}
TASK_FILTERS: dict[str, tuple[str, str, tuple]] = {
    "id": ("id", "ids", ()),
    "goal_id": ("goal_id", "ids", ()),
    "user_id": ("user_id", "ids", ()),
    "is_complete": ("is_complete", "ids", ()),
}


def _int_param(name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"must be an integer (got {raw!r})") from None
    if value < lo or (hi is not None and value > hi):
        hint = "; offsets are 1-based: the first item is offset=1" if name == "offset" else ""
        bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise invalid(name, f"must be {bounds} (got {value}){hint}")
    return value


def _csv(name: str) -> list[str]:
    values = [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]
    if not values:
        raise invalid(name, "must list at least one value")
    return values


def _test(param: str, field: str, form: str, choices: tuple, raw: list[str] | None) -> Callable[[dict], bool]:
    values = raw if raw is not None else _csv(param)
    if form == "ids":
        try:
            wanted: set[Any] = {int(v) for v in values}
        except ValueError:
            raise invalid(param, f"must be comma-separated integers (got {','.join(values)!r})") from None
        return lambda row: row.get(field) in wanted
    if form == "enum":
        bad = [v for v in values if v not in choices]
        if bad:
            raise invalid(param, f"unknown value {bad[0]!r}; one of {', '.join(choices)}")
        return lambda row: row.get(field) in set(values)
    needles = [v.lower() for v in values]
    return lambda row: any(n in (row.get(field) or "").lower() for n in needles)


def select_page(rows, filters: dict[str, tuple[str, str, tuple]], defaults: dict[str, str] | None = None) -> list[dict]:
    """The page of ``rows`` (by id) that the query's filters and paging select."""
    unknown = sorted(set(request.args) - set(filters) - {"offset", "limit"})
    if unknown:
        raise invalid(unknown[0], f"is not a filter of this list; filters: {', '.join(filters)}, offset, limit")
    offset = _int_param("offset", 1, 1)
    limit = _int_param("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    tests = [_test(p, *filters[p], None) for p in request.args if p in filters]
    tests += [_test(p, *filters[p], [v]) for p, v in (defaults or {}).items() if p not in request.args]
    matched = [row for row in sorted(list(rows), key=lambda r: r["id"]) if all(t(row) for t in tests)]
    return matched[offset - 1 : offset - 1 + limit]
