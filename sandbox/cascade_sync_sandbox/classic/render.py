"""How the classic API renders stored rows: times as ISO 8601 UTC strings, a goal with its derived
fields (title, alignment ancestors and descendants, inherited focus areas, task ids), a task
without its empty fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import ClassicStore


def render_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


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
