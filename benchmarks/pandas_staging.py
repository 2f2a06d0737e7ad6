"""The ClickUp staging normalization written the straightforward way: read the raw payloads in
chunks, ``json.loads`` each one, walk the dicts in Python and build pandas DataFrames.

Same rules and the same output columns as ``cascade_sync_pipeline/clickup/sql/work_items.sql``,
``custom_field_values.sql`` and ``checklist_items.sql``; the scale benchmark runs it beside the
SQL and checks that both give the same rows. It only builds the frames (it does not write them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

CATEGORY_BY_TYPE = {"open": "not_started", "custom": "in_progress", "done": "done", "closed": "done"}
CHUNK = 50_000


def raw_payloads(con: duckdb.DuckDBPyConnection, workspace: str, chunk: int = CHUNK) -> Iterator[list[dict]]:
    cursor = con.execute("SELECT payload FROM raw.clickup_tasks WHERE workspace = ?", [workspace])
    while rows := cursor.fetchmany(chunk):
        yield [json.loads(r[0]) for r in rows]


def _ts(ms: Any) -> datetime | None:
    try:
        return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, UTC).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


def _number_text(x: Any) -> str | None:
    try:
        number = float(x)
    except (TypeError, ValueError):
        return None if x is None else str(x)
    return str(int(number)) if number.is_integer() else repr(number)


def _bool_text(x: Any) -> str | None:
    text = str(x).lower()
    return "true" if text in ("true", "t", "1") else "false" if text in ("false", "f", "0") else None


def value_text(kind: str, v: Any, options: list[dict]) -> str | None:
    """A custom field value as a person reads it (the SQL's CASE, in Python)."""
    if kind == "drop_down":
        hit = [o for o in options if str(o.get("orderindex")) == str(v)]
        return hit[0].get("name") if hit else None
    if kind == "labels":
        by_id = {o.get("id"): o for o in options}
        return ", ".join((by_id.get(i) or {}).get("label") or (by_id.get(i) or {}).get("name") or i for i in v)
    if kind == "users":
        return ", ".join(u.get("username") for u in v)
    if kind == "tasks":
        return ", ".join(t.get("name") or t.get("id") for t in v)
    if kind == "date":
        stamp = _ts(v)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else None
    if kind == "checkbox":
        return _bool_text(v)
    if kind in ("number", "currency", "emoji"):
        return _number_text(v)
    if kind in ("manual_progress", "automatic_progress"):
        text = _number_text(v.get("percent_completed"))
        return None if text is None else text + "%"
    if kind == "location":
        return v.get("formatted_address")
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def work_items(tasks: list[dict], workspace: str, overrides: dict[str, str], cascade_field: str) -> pd.DataFrame:
    rows = []
    for p in tasks:
        status = p.get("status") or {}
        cascade_id = next(
            (
                str(f["value"])
                for f in p.get("custom_fields") or []
                if f.get("name") == cascade_field and f.get("value") not in (None, "")
            ),
            None,
        )
        kind = "milestone" if str(p.get("custom_item_id")) == "1" else "subtask" if p.get("parent") else "task"
        rows.append(
            {
                "workspace": workspace,
                "source": "clickup",
                "item_id": p["id"],
                "item_type": kind,
                "parent_id": p.get("parent"),
                "container_id": (p.get("list") or {}).get("id"),
                "title": p.get("name"),
                "description": p.get("text_content") or None,
                "status": status.get("status"),
                "status_category": overrides.get(
                    str(status.get("status")).lower(), CATEGORY_BY_TYPE.get(status.get("type"))
                ),
                "start_at": _ts(p.get("start_date")),
                "due_at": _ts(p.get("due_date")),
                "completed_at": _ts(p.get("date_done") or p.get("date_closed")),
                "created_at": _ts(p.get("date_created")),
                "updated_at": _ts(p.get("date_updated")),
                "assignee_ids": [str(a["id"]) for a in p.get("assignees") or []],
                "url": p.get("url"),
                "cascade_id": cascade_id,
                "is_archived": _bool_text(p.get("archived")) == "true",
                "priority": (p.get("priority") or {}).get("priority"),
            }
        )
    return pd.DataFrame(rows)


def custom_field_values(tasks: list[dict], workspace: str) -> pd.DataFrame:
    rows = []
    for p in tasks:
        for f in p.get("custom_fields") or []:
            if f.get("value") is None:
                continue
            options = (f.get("type_config") or {}).get("options") or []
            rows.append(
                {
                    "workspace": workspace,
                    "source": "clickup",
                    "item_id": p["id"],
                    "field_id": f["id"],
                    "field_name": f["name"],
                    "field_type": f["type"],
                    "value": value_text(f["type"], f["value"], options),
                }
            )
    return pd.DataFrame(rows)


def checklist_items(tasks: list[dict], workspace: str) -> pd.DataFrame:
    rows = []
    for p in tasks:
        entries = []
        for checklist in p.get("checklists") or []:
            for item in checklist.get("items") or []:
                entries.append(
                    (int(checklist.get("orderindex") or 0), int(item.get("orderindex") or 0), item["id"], item)
                )
        for position, (_, _, _, item) in enumerate(sorted(entries, key=lambda e: e[:3]), start=1):
            rows.append(
                {
                    "workspace": workspace,
                    "source": "clickup",
                    "item_id": p["id"],
                    "checklist_item_id": item["id"],
                    "name": item.get("name"),
                    "is_resolved": bool(item.get("resolved")),
                    "position": position,
                }
            )
    return pd.DataFrame(rows)


def build(
    con: duckdb.DuckDBPyConnection,
    workspace: str,
    *,
    overrides: dict[str, str] | None = None,
    cascade_field: str = "Cascade ID",
) -> dict[str, pd.DataFrame]:
    """The three task-derived staging tables of ``workspace`` as DataFrames."""
    overrides = {k.lower(): v for k, v in (overrides or {}).items()}
    parts: dict[str, list[pd.DataFrame]] = {"work_items": [], "custom_field_values": [], "checklist_items": []}
    for tasks in raw_payloads(con, workspace):
        parts["work_items"].append(work_items(tasks, workspace, overrides, cascade_field))
        parts["custom_field_values"].append(custom_field_values(tasks, workspace))
        parts["checklist_items"].append(checklist_items(tasks, workspace))
    return {name: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame() for name, frames in parts.items()}
