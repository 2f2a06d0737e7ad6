"""Defensive reading of source payloads: a bad value names its workspace and item, and costs that value
(or that item), never the workspace's run.

Per case (both sources):

- an item that is not a JSON object, or has no usable ``id`` (missing, empty, not text or a number): the
  item is skipped, with a problem naming its position and title; it cannot be stored or matched;
- a timestamp that is not a number of milliseconds (ClickUp) or not a date (Wrike), or lies outside years
  1 to 9999: the item is kept and staged without that value (NULL), with a problem naming the field;
- a 200 answer without its list (handled by the clients): the run stops before anything is replaced.

Problems are reported in the raw tasks' materialization metadata and by the warning check
``payload_problems`` on the raw tasks asset. Plain Python: no Dagster imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Years 1 to 9999, the range a timestamp can be staged in (and a Python datetime can hold).
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999
CLICKUP_TIMESTAMPS = ("date_updated", "date_created", "date_done", "date_closed", "start_date", "due_date")


@dataclass(frozen=True)
class PayloadProblem:
    """One unusable value of one item."""

    workspace: str
    item: str  # "task 86abc" or "task #12 of the listing ('Title')"
    field: str
    value: str  # the offending value, shortened
    consequence: str  # "skipped" | "staged without it"

    @property
    def message(self) -> str:
        return f"workspace '{self.workspace}': {self.item}: {self.field} = {self.value} {self.consequence}"

    def as_row(self) -> dict[str, str]:
        return {"item": self.item, "field": self.field, "value": self.value, "consequence": self.consequence}


def shown(value: Any, limit: int = 60) -> str:
    """A value as a person reads it in a message, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def item_id(value: Any) -> str | None:
    """An item id as text: a non-empty string or an integer; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def ms_value(value: Any) -> int | None:
    """Milliseconds since the epoch from an integer or a string of digits, within years 1 to 9999 (as the
    staging's ``ms_to_ts`` reads them)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    return value if MIN_MS <= value <= MAX_MS else None


def wrike_time(value: Any) -> datetime | None:
    """A Wrike date or timestamp (``yyyy-MM-ddTHH:mm:ssZ``, a local date-time, a date), naive; None otherwise."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip("Z")[:19]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _title(item: Mapping, key: str) -> str:
    title = item.get(key)
    return f" ({shown(title, 40)})" if isinstance(title, str) and title else ""


def check_items(
    workspace: str, items: Iterable[Any], *, kind: str, title_key: str, timestamps: Iterable[str], is_time
) -> tuple[list[dict], list[PayloadProblem]]:
    """(the items that can be stored, the problems found): items without a usable id are left out;
    each timestamp ``is_time`` rejects is reported (the staging reads it as NULL)."""
    kept: list[dict] = []
    problems: list[PayloadProblem] = []
    timestamps = tuple(timestamps)
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(
                PayloadProblem(
                    workspace,
                    f"{kind} #{position} of the listing",
                    "(item)",
                    shown(item),
                    "is not a JSON object: skipped",
                )
            )
            continue
        identity = item_id(item.get("id"))
        if identity is None:
            problems.append(
                PayloadProblem(
                    workspace,
                    f"{kind} #{position} of the listing{_title(item, title_key)}",
                    "id",
                    shown(item.get("id")),
                    "is not a usable id: skipped",
                )
            )
            continue
        if identity != item["id"]:
            item = {**item, "id": identity}
        for name in timestamps:
            value = _get_path(item, name)
            if value not in (None, "") and is_time(value) is None:
                problems.append(
                    PayloadProblem(
                        workspace,
                        f"{kind} {identity}",
                        name,
                        shown(value),
                        "is not a readable time (years 1 to 9999): staged without it",
                    )
                )
        kept.append(item)
    return kept, problems


def _get_path(item: Mapping, dotted: str) -> Any:
    value: Any = item
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def check_clickup_tasks(workspace: str, tasks: Iterable[Any]) -> tuple[list[dict], list[PayloadProblem]]:
    return check_items(workspace, tasks, kind="task", title_key="name", timestamps=CLICKUP_TIMESTAMPS, is_time=ms_value)


WRIKE_TIMESTAMPS = ("updatedDate", "createdDate", "completedDate", "dates.start", "dates.due")


def check_wrike_tasks(workspace: str, tasks: Iterable[Any]) -> tuple[list[dict], list[PayloadProblem]]:
    return check_items(
        workspace, tasks, kind="task", title_key="title", timestamps=WRIKE_TIMESTAMPS, is_time=wrike_time
    )


def problems_markdown(problems: list[PayloadProblem], limit: int = 50) -> str:
    """A table of the first ``limit`` problems for Dagster metadata."""
    if not problems:
        return "_none_"
    rows = ["| item | field | value | what happened |", "|---|---|---|---|"]
    for p in problems[:limit]:
        cells = [p.item, p.field, p.value, p.consequence]
        rows.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    if len(problems) > limit:
        rows.append(f"\n… and {len(problems) - limit} more")
    return "\n".join(rows)
