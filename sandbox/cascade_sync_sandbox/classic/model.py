"""The emulated classic Cascade's in-memory store: users and roles, focus areas, goals and tasks,
their validation and how the API renders them.

Facts (``shared/reference/cascade``): goal and task fields, the enums, the required create fields,
``action`` <= 25 and ``details`` <= 300 characters, ``weight_id`` 1-4, times in Unix seconds or
ISO 8601, integer ids, goals belong to roles and each user holds one role.

Assumed (not in the connector definition):
- Ids are assigned in increasing order per kind (goals from 1001, tasks from 5001, users from 1,
  roles from 101, focus areas from 201); a deleted id is never reused.
- Errors answer ``{"message", "code", "status"}`` like the documented DELETE body, plus ``field``
  naming the offending field; the message starts with the field name.
- A field the resource does not have is rejected with 400 naming it (the real API may ignore it;
  being strict catches a client that misspells a field). Read-only fields (``id``, ``title``,
  ``creator_id``, ``created_at``...) are accepted and ignored; ``creator_id`` and a task's
  ``user_id`` are always the token's user.
- ``details`` may be an empty string (a one-word title); ``action`` and ``task`` may not.
- ``end_time`` may not precede ``start_time`` nor ``due_date`` precede ``start_date``.
- Times are answered as ISO 8601 UTC strings (``2025-03-31T00:00:00Z``); a date without a time is
  midnight UTC; a naive datetime is UTC.
- Fields without a value are left out of answers (never ``null``): the connector's schemas type
  them as integer or string only.
- Defaults on create: status DRAFT, completion_criteria TARGET-REACHED, target_flow OVER, initial 0,
  progress 0, target 100, is_private 0, tracking_type MANUAL, entity_template_id 1, role_id the
  user's role; tasks: is_complete 0, weight_id 2, entity_template_id 1.
- ``title`` = action + details + " to <target>" + " by <end date>" (e.g. "Increase revenue to 100
  by 31 Dec 2025").
- ``aligned_from_ids`` on a write sets the goal's children (each child gets the goal among its
  ``aligned_to_ids``; children left out lose it). Alignment cycles are rejected with 400.
- Deleting a goal deletes its tasks and unlinks its children; ``issue_ids`` is always empty.
- Completing a task (``is_complete`` 1) sets ``completed_user_id`` and ``completed_at``; 0 clears them.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

STATUSES = ("APPRO", "DRAFT", "ARCHI")
COMPLETION_CRITERIA = ("TARGET-REACHED", "TARGET-DEADLINE-REACHED")
TARGET_FLOWS = ("OVER", "UNDER", "NONE")
TRACKING_TYPES = ("MANUAL", "SUBGOAL-SUM", "SUBGOAL-MEAN", "WEIGHTED-MEAN", "TASKS")
ACTION_MAX = 25
DETAILS_MAX = 300
FIRST_ID = {"user": 1, "role": 101, "focus_area": 201, "goal": 1001, "task": 5001}


class ApiError(Exception):
    """An answer other than success; ``body()`` is the (assumed) error body."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.status, "status": HTTPStatus(self.status).phrase}
        if self.field:
            body["field"] = self.field
        return body


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", field)


def not_found(kind: str, item_id: Any) -> ApiError:
    return ApiError(404, f"{kind} {item_id} does not exist")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def render_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


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


def _validate(
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


class ClassicStore:
    """Every table of the emulated instance, guarded by one lock (``with store.lock:``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[int, dict]] = {kind: {} for kind in FIRST_ID}
        self._ids = {kind: itertools.count(first) for kind, first in FIRST_ID.items()}

    def table(self, kind: str) -> dict[int, dict]:
        return self.tables[kind]

    def get(self, kind: str, item_id: int) -> dict:
        item = self.tables[kind].get(item_id)
        if item is None:
            raise not_found(kind, item_id)
        return item

    def _insert(self, kind: str, row: dict) -> dict:
        row["id"] = next(self._ids[kind])
        self.tables[kind][row["id"]] = row
        return row

    # --- people and focus areas (no endpoint: seeded in-process) ------------------------------
    def add_user(self, name: str, email: str, role_id: int | None = None) -> dict:
        with self.lock:
            if role_id is None:
                role_id = self._insert("role", {"name": f"{name}'s role"})["id"]
            self.get("role", role_id)
            user = self._insert("user", {"name": name, "email": email, "role_id": role_id})
            return {"id": user["id"], "role_id": role_id}

    def add_focus_area(self, name: str) -> int:
        with self.lock:
            return self._insert("focus_area", {"name": name})["id"]

    # --- goals ---------------------------------------------------------------------------------
    def create_goal(self, user_id: int, body: Any) -> dict:
        with self.lock:
            fields = _validate(self, GOAL_FIELDS, GOAL_READ_ONLY, body, GOAL_REQUIRED)
            children = fields.pop("aligned_from_ids", None)
            row = {
                **copy.deepcopy(GOAL_DEFAULTS),
                "role_id": self.get("user", user_id)["role_id"],
                **fields,
                "creator_id": user_id,
                "created_at": now(),
                "updated_at": now(),
            }
            _check_span(row, "start_time", "end_time")
            self._check_no_cycle(None, row["aligned_to_ids"], children or [])
            self._insert("goal", row)
            if children is not None:
                self._set_children(row["id"], children)
            return row

    def update_goal(self, goal_id: int, body: Any) -> dict:
        with self.lock:
            row = self.get("goal", goal_id)
            fields = _validate(self, GOAL_FIELDS, GOAL_READ_ONLY, body)
            children = fields.pop("aligned_from_ids", None)
            merged = {**row, **fields}
            _check_span(merged, "start_time", "end_time")
            self._check_no_cycle(
                goal_id, merged["aligned_to_ids"], children if children is not None else self.children(goal_id)
            )
            row.update(fields, updated_at=now())
            if children is not None:
                self._set_children(goal_id, children)
            return row

    def delete_goal(self, goal_id: int) -> None:
        with self.lock:
            self.get("goal", goal_id)
            del self.tables["goal"][goal_id]
            for task_id in [t["id"] for t in self.tables["task"].values() if t["goal_id"] == goal_id]:
                del self.tables["task"][task_id]
            for goal in self.tables["goal"].values():
                if goal_id in goal["aligned_to_ids"]:
                    goal["aligned_to_ids"] = [g for g in goal["aligned_to_ids"] if g != goal_id]

    def children(self, goal_id: int) -> list[int]:
        return [g["id"] for g in self.tables["goal"].values() if goal_id in g["aligned_to_ids"]]

    def _set_children(self, goal_id: int, children: list[int]) -> None:
        for goal in self.tables["goal"].values():
            linked = goal_id in goal["aligned_to_ids"]
            if goal["id"] in children and not linked:
                goal["aligned_to_ids"] = [*goal["aligned_to_ids"], goal_id]
            elif goal["id"] not in children and linked:
                goal["aligned_to_ids"] = [g for g in goal["aligned_to_ids"] if g != goal_id]

    def _check_no_cycle(self, goal_id: int | None, parents: list[int], children: list[int]) -> None:
        """A goal may not be aligned to itself or to one of its own descendants."""
        below = set(children)
        frontier = list(children)
        while frontier:
            for child in self.children(frontier.pop()):
                if child not in below:
                    below.add(child)
                    frontier.append(child)
        for field, ids in (("aligned_to_ids", parents), ("aligned_from_ids", children)):
            if goal_id in ids or (field == "aligned_to_ids" and below & set(ids)):
                raise invalid(field, "would align the goal to itself or to one of its descendants (alignment cycle)")

    # --- tasks ---------------------------------------------------------------------------------
    def create_task(self, user_id: int, body: Any) -> dict:
        with self.lock:
            fields = _validate(self, TASK_FIELDS, TASK_READ_ONLY, body, TASK_REQUIRED)
            row = {
                **TASK_DEFAULTS,
                "role_id": self.get("user", user_id)["role_id"],
                **fields,
                "user_id": user_id,
                "created_at": now(),
                "updated_at": now(),
            }
            _check_span(row, "start_date", "due_date")
            _completion(row, user_id, was_complete=0)
            return self._insert("task", row)

    def update_task(self, user_id: int, task_id: int, body: Any) -> dict:
        with self.lock:
            row = self.get("task", task_id)
            fields = _validate(self, TASK_FIELDS, TASK_READ_ONLY, body)
            _check_span({**row, **fields}, "start_date", "due_date")
            was_complete = row["is_complete"]
            row.update(fields, updated_at=now())
            _completion(row, user_id, was_complete)
            return row

    def delete_task(self, task_id: int) -> None:
        with self.lock:
            self.get("task", task_id)
            del self.tables["task"][task_id]


def _check_span(row: dict, start: str, end: str) -> None:
    if row.get(start) and row.get(end) and row[end] < row[start]:
        raise invalid(end, f"must not be before {start} ({render_time(row[end])} < {render_time(row[start])})")


def _completion(row: dict, user_id: int, was_complete: int) -> None:
    if row["is_complete"] and not was_complete:
        row.update(completed_user_id=user_id, completed_at=now())
    elif not row["is_complete"]:
        row.update(completed_user_id=None, completed_at=None)


class View:
    """Renders stored rows as the API answers them, with the derived goal fields computed once
    per request (children, tasks by goal)."""

    def __init__(self, store: ClassicStore) -> None:
        self.store = store
        goals = store.table("goal")
        self._children: dict[int, list[int]] = {gid: [] for gid in goals}
        for goal in goals.values():
            for parent in goal["aligned_to_ids"]:
                self._children.setdefault(parent, []).append(goal["id"])
        self._tasks: dict[int, list[int]] = {}
        for task in store.table("task").values():
            self._tasks.setdefault(task["goal_id"], []).append(task["id"])

    def _walk(self, start: int, step: Callable[[int], list[int]]) -> list[int]:
        seen: list[int] = []
        frontier = list(step(start))
        while frontier:
            node = frontier.pop(0)
            if node not in seen:
                seen.append(node)
                frontier.extend(step(node))
        return seen

    def goal(self, row: dict) -> dict:
        goals = self.store.table("goal")
        ancestors = self._walk(row["id"], lambda g: goals[g]["aligned_to_ids"] if g in goals else [])
        inherited = (
            sorted({fa for a in ancestors for fa in goals[a]["direct_focus_area_ids"]}) if row["aligned_to_ids"] else []
        )
        out = {
            "id": row["id"],
            "role_id": row["role_id"],
            "creator_id": row["creator_id"],
            "status": row["status"],
            "completion_criteria": row["completion_criteria"],
            "target_flow": row["target_flow"],
            "action": row["action"],
            "details": row["details"],
            "title": goal_title(row),
            "initial": row["initial"],
            "progress": row["progress"],
            "target": row["target"],
            "start_time": render_time(row["start_time"]),
            "end_time": render_time(row["end_time"]),
            "weight_id": row["weight_id"],
            "is_private": row["is_private"],
            "tracking_type": row["tracking_type"],
            "entity_template_id": row["entity_template_id"],
            "direct_focus_area_ids": list(row["direct_focus_area_ids"]),
            "inherited_focus_area_ids": inherited,
            "aligned_to_ids": list(row["aligned_to_ids"]),
            "aligned_from_ids": sorted(self._children[row["id"]]),
            "ancestor_ids": ancestors,
            "descendant_ids": self._walk(row["id"], lambda g: self._children.get(g, [])),
            "issue_ids": [],
            "task_ids": sorted(self._tasks.get(row["id"], [])),
            "created_at": render_time(row["created_at"]),
            "updated_at": render_time(row["updated_at"]),
        }
        return out

    @staticmethod
    def task(row: dict) -> dict:
        out = {
            key: row.get(key)
            for key in (
                "id",
                "task",
                "comment",
                "is_complete",
                "goal_id",
                "user_id",
                "role_id",
                "completed_user_id",
                "weight_id",
                "entity_template_id",
            )
        }
        for key in ("start_date", "due_date", "completed_at", "created_at", "updated_at"):
            out[key] = render_time(row.get(key))
        return {k: v for k, v in out.items() if v is not None}


def goal_title(row: dict) -> str:
    """The read-only title: the action, the details, the target and the due date in words."""
    title = " ".join(part for part in (row["action"], row["details"]) if part)
    if row.get("target") is not None:
        title += f" to {row['target']:g}"
    return f"{title} by {row['end_time'].strftime('%d %b %Y')}"
