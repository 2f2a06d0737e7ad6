"""The emulated classic Cascade's in-memory store: users and roles, focus areas, goals and tasks.

The rules below cover the store, its validation (``schema.py``: enums, validators, required and
read-only fields, defaults) and how the API renders it (``render.py``); the error answers are
``errors.py``'s.

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
from datetime import UTC, datetime
from typing import Any

from .errors import invalid, not_found
from .render import render_time
from .schema import (
    GOAL_DEFAULTS,
    GOAL_FIELDS,
    GOAL_READ_ONLY,
    GOAL_REQUIRED,
    TASK_DEFAULTS,
    TASK_FIELDS,
    TASK_READ_ONLY,
    TASK_REQUIRED,
    validate,
)

FIRST_ID = {"user": 1, "role": 101, "focus_area": 201, "goal": 1001, "task": 5001}


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


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
            fields = validate(self, GOAL_FIELDS, GOAL_READ_ONLY, body, GOAL_REQUIRED)
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
            fields = validate(self, GOAL_FIELDS, GOAL_READ_ONLY, body)
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
            fields = validate(self, TASK_FIELDS, TASK_READ_ONLY, body, TASK_REQUIRED)
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
            fields = validate(self, TASK_FIELDS, TASK_READ_ONLY, body)
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
