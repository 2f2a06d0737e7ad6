"""The classic API's wire format, kept apart from the client: ids (integers, sometimes sent as
strings), times (Unix seconds or ISO 8601), list and object answers under singular or plural
names, the identifying fields of a create, and :func:`split_title` for the sync engine.

Assumed (not in the connector definition): see ``classic.py``; in particular dates of a listed
item match a create body's within one day (the server may render midnight of another time zone).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .errors import CascadeApiError

GOAL_STATUSES = ("APPRO", "DRAFT", "ARCHI")
ACTION_MAX, DETAILS_MAX = 25, 300
MAX_FILTER_CHARS = 1500  # keeps a chunk's query string well under common 8 KB URL limits
TIME_FIELDS = frozenset({"start_time", "end_time", "start_date", "due_date"})
ID_FIELDS = frozenset({"id", "goal_id", "role_id", "creator_id", "user_id", "completed_user_id", "entity_template_id"})


@dataclass(frozen=True)
class Kind:
    name: str  # "goal" / "task": the singular wrapper of bodies
    path: str  # "/goals"
    creator_field: str  # who created it: goal creator_id, task user_id
    key_fields: tuple[str, ...]  # identifying fields compared exactly
    date_fields: tuple[str, ...]  # identifying dates, compared within a day

    def label(self, body: Mapping[str, Any]) -> str:
        if self.name == "goal":
            words = (norm_text(body.get("action")), norm_text(body.get("details")))
            return f"new goal '{' '.join(w for w in words if w)}'"
        return f"new task '{norm_text(body.get('task'))}' on goal {body.get('goal_id')}"


GOAL = Kind(
    "goal",
    "/goals",
    "creator_id",
    ("action", "details", "aligned_to_ids", "direct_focus_area_ids"),
    ("start_time", "end_time"),
)
TASK = Kind("task", "/tasks", "user_id", ("task", "goal_id"), ("due_date",))


def split_title(title: str) -> tuple[str, str, list[str]]:
    """A source title as the API's ``action`` (first word, <= 25 chars) and ``details`` (the rest,
    <= 300 chars); over-long parts are cut, with a warning naming what was cut. Never raises."""
    words = str(title or "").split()
    if not words:
        return "", "", ["the title is empty: Cascade requires an action word; give the source item a title"]
    action, details, warnings = words[0], " ".join(words[1:]), []
    if len(action) > ACTION_MAX:
        warnings.append(f"action cut to {ACTION_MAX} characters: '{action}' became '{action[:ACTION_MAX]}'")
        action = action[:ACTION_MAX]
    if len(details) > DETAILS_MAX:
        room = details[: DETAILS_MAX - 1]  # one character is left for the ellipsis
        kept = room.rsplit(" ", 1)[0] if " " in room else room
        dropped = details[len(kept) :].strip()
        warnings.append(
            f"details cut from {len(details)} to {len(kept) + 1} characters; dropped "
            f"'{dropped[:60]}{'…' if len(dropped) > 60 else ''}'"
        )
        details = kept + "…"
    return action, details, warnings


def matches_body(kind: Kind, body: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Whether a listed item carries the identifying fields of a create body."""
    for field in kind.key_fields:
        want, have = body.get(field), row.get(field)
        if field.endswith("_ids"):
            if sorted(as_list(want)) != sorted(as_list(have)):
                return False
        elif field in ID_FIELDS:
            if want != have:
                return False
        elif norm_text(want) != norm_text(have):
            return False
    for field in kind.date_fields:
        want, have = utc_day(body.get(field)), utc_day(row.get(field))
        if (want is None) != (have is None) or (want and have and abs((want - have).days) > 1):
            return False
    return True


def to_wire(body: Mapping[str, Any]) -> dict[str, Any]:
    """A body as the API takes it: ids as integers, times as strings (Unix seconds or ISO 8601)."""
    out: dict[str, Any] = {}
    for field, value in dict(body).items():
        if value is not None and field in TIME_FIELDS:
            value = time_text(value)
        elif value is not None and field in ID_FIELDS:
            value = as_id(value)
        elif field.endswith("_ids") and value is not None:
            value = [as_id(v) for v in as_list(value)]
        out[field] = value
    return out


def normalize_row(row: dict) -> dict:
    """Ids of an answer as integers (some answers carry them as strings)."""
    out = dict(row)
    for field, value in row.items():
        if field in ID_FIELDS and isinstance(value, str) and value.strip().isdigit():
            out[field] = int(value)
        elif field.endswith("_ids") and isinstance(value, list):
            out[field] = [int(v) if isinstance(v, str) and v.strip().isdigit() else v for v in value]
    return out


def rows_of(name: str, payload: Any) -> list[dict]:
    """The rows of a list answer: a list under the plural or the singular name, or one object."""
    for value in (
        [payload]
        if isinstance(payload, list)
        else [payload.get(f"{name}s"), payload.get(name)]
        if isinstance(payload, dict)
        else []
    ):
        if isinstance(value, list):
            return [normalize_row(row) for row in value if isinstance(row, dict)]
        if isinstance(value, dict):
            return [normalize_row(value)] if value else []
    if isinstance(payload, dict) and not payload:
        return []
    raise CascadeApiError(
        f"Cascade answered a {name} list with an unexpected body ({shape_of(payload)}); "
        "the classic connector definition may be outdated",
        code="UNEXPECTED_BODY",
    )


def item_of(name: str, payload: Any) -> dict:
    """The object of an answer, under the singular or plural name (POST /tasks answers "tasks")."""
    if isinstance(payload, dict):
        for key in (name, f"{name}s"):
            value = payload.get(key)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if isinstance(value, dict):
                return normalize_row(value)
    raise CascadeApiError(
        f"Cascade answered without a {name} object ({shape_of(payload)}); the classic "
        "connector definition may be outdated",
        code="UNEXPECTED_BODY",
    )


def as_id(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"a Cascade id is an integer or a string of digits, not {value!r}")


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def ids_or_none(value: Any) -> list[int] | None:
    return None if value is None else [as_id(v) for v in as_list(value)]


def query_params(filters: Mapping[str, Any]) -> dict[str, str]:
    return {k: ",".join(str(v) for v in as_list(value)) for k, value in filters.items() if value is not None}


def known_filters(filters: Mapping[str, Any], known: frozenset, what: str) -> None:
    unknown = sorted(set(filters) - known)
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a filter of the {what} list; filters: {', '.join(sorted(known))}")


def status_param(status: Any) -> str:
    values = [s.strip().upper() for v in as_list(status) for s in str(v).split(",") if s.strip()]
    bad = [s for s in values if s not in GOAL_STATUSES]
    if not values or bad:
        raise ValueError(f"goal status must be among {', '.join(GOAL_STATUSES)} (got {status!r})")
    return ",".join(dict.fromkeys(values))


def norm_text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def time_text(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value))
    return str(value)


def utc_day(value: Any) -> date | None:
    """A time in any accepted form (Unix seconds, ISO 8601 date or datetime) as its UTC date."""
    if value is None or value == "":
        return None
    text = time_text(value).strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text), UTC).date()
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date()


def shape_of(payload: Any) -> str:
    return f"keys {sorted(payload)[:5]}" if isinstance(payload, dict) else type(payload).__name__


def chunks(values: list[str], max_items: int, max_chars: int = MAX_FILTER_CHARS) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        if chunk and (len(chunk) >= max_items or sum(len(v) + 1 for v in chunk) + len(value) > max_chars):
            yield chunk
            chunk = []
        chunk.append(value)
    if chunk:
        yield chunk
