"""The goal and task schemas of the classic API: the enums, the field validators, which fields
are required, read-only or defaulted on create, and how a write body is checked against them.
The rules themselves are listed in ``model.py``'s docstring."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import invalid

if TYPE_CHECKING:
    from .model import ClassicStore

STATUSES = ("APPRO", "DRAFT", "ARCHI")
COMPLETION_CRITERIA = ("TARGET-REACHED", "TARGET-DEADLINE-REACHED")
TARGET_FLOWS = ("OVER", "UNDER", "NONE")
TRACKING_TYPES = ("MANUAL", "SUBGOAL-SUM", "SUBGOAL-MEAN", "WEIGHTED-MEAN", "TASKS")
ACTION_MAX = 25
DETAILS_MAX = 300


def parse_time(field: str, value: Any) -> datetime:
    """Unix seconds (number or digit string) or ISO 8601 (date or datetime) -> aware UTC datetime."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return datetime.fromtimestamp(int(value), UTC)
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, OverflowError, OSError):
        raise invalid(field, f"must be Unix seconds or ISO 8601 (got {value!r})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- field validators: (store, field, value) -> stored value, or raise invalid(...) -------------
Validator = Callable[["ClassicStore", str, Any], Any]


def text(max_len: int | None = None, *, empty: bool = False, nullable: bool = False) -> Validator:
    def check(_store, field, value):
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise invalid(field, "must be a non-empty string" if not empty else "must be a string")
        if max_len is not None and len(value) > max_len:
            raise invalid(field, f"must be at most {max_len} characters (got {len(value)})")
        return value

    return check


def one_of(values: tuple) -> Validator:
    def check(_store, field, value):
        if isinstance(value, bool) or value not in values:
            raise invalid(field, f"must be one of {', '.join(map(str, values))} (got {value!r})")
        return value

    return check


def number(_store, field, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(field, f"must be a number (got {value!r})")
    return value


def positive_int(_store, field, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(field, f"must be a positive integer id (got {value!r})")
    return value


def a_time(nullable: bool = False) -> Validator:
    def check(_store, field, value):
        if value is None and nullable:
            return None
        return parse_time(field, value)

    return check


def ref(kind: str) -> Validator:
    def check(store: ClassicStore, field, value):
        positive_int(store, field, value)
        if value not in store.table(kind):
            raise invalid(field, f"{kind.replace('_', ' ')} {value} does not exist")
        return value

    return check


def refs(kind: str) -> Validator:
    def check(store: ClassicStore, field, value):
        if not isinstance(value, list):
            raise invalid(field, f"must be a list of {kind.replace('_', ' ')} ids")
        return list(dict.fromkeys(ref(kind)(store, field, v) for v in value))

    return check


GOAL_FIELDS: dict[str, Validator] = {
    "role_id": ref("role"),
    "status": one_of(STATUSES),
    "completion_criteria": one_of(COMPLETION_CRITERIA),
    "target_flow": one_of(TARGET_FLOWS),
    "action": text(ACTION_MAX),
    "details": text(DETAILS_MAX, empty=True),
    "initial": number,
    "progress": number,
    "target": number,
    "start_time": a_time(),
    "end_time": a_time(),
    "weight_id": one_of((1, 2, 3, 4)),
    "is_private": one_of((0, 1)),
    "tracking_type": one_of(TRACKING_TYPES),
    "entity_template_id": positive_int,
    "direct_focus_area_ids": refs("focus_area"),
    "aligned_to_ids": refs("goal"),
    "aligned_from_ids": refs("goal"),
}
GOAL_REQUIRED = ("action", "details", "start_time", "end_time", "weight_id")
GOAL_READ_ONLY = frozenset(
    {
        "id",
        "creator_id",
        "title",
        "created_at",
        "updated_at",
        "inherited_focus_area_ids",
        "ancestor_ids",
        "descendant_ids",
        "issue_ids",
        "task_ids",
    }
)
GOAL_DEFAULTS = {
    "status": "DRAFT",
    "completion_criteria": "TARGET-REACHED",
    "target_flow": "OVER",
    "initial": 0,
    "progress": 0,
    "target": 100,
    "is_private": 0,
    "tracking_type": "MANUAL",
    "entity_template_id": 1,
    "direct_focus_area_ids": [],
    "aligned_to_ids": [],
}

TASK_FIELDS: dict[str, Validator] = {
    "task": text(),
    "comment": text(empty=True, nullable=True),
    "is_complete": one_of((0, 1)),
    "role_id": ref("role"),
    "goal_id": ref("goal"),
    "start_date": a_time(nullable=True),
    "due_date": a_time(nullable=True),
    "weight_id": one_of((1, 2, 3, 4)),
    "entity_template_id": positive_int,
}
TASK_REQUIRED = ("task", "goal_id")
TASK_READ_ONLY = frozenset({"id", "user_id", "completed_user_id", "completed_at", "created_at", "updated_at"})
TASK_DEFAULTS = {"is_complete": 0, "weight_id": 2, "entity_template_id": 1}


def validate(
    store: ClassicStore, fields: dict[str, Validator], read_only: frozenset, body: Any, required: Iterable[str] = ()
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    missing = [f for f in required if f not in body]
    if missing:
        raise invalid(missing[0], "is required")
    out = {}
    for field, value in body.items():
        if field in read_only:
            continue
        if field not in fields:
            raise invalid(field, "is not a field of this resource")
        out[field] = fields[field](store, field, value)
    return out
