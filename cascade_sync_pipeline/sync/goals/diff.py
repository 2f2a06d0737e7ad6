"""Desired vs current on the classic API: read back by id what Cascade holds for a workspace, then
compute sync.diff in SQL (create, link, update field by field, archive, complete, delete)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.cascade.classic import GOAL_STATUSES, ClassicClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

if TYPE_CHECKING:
    import pandas as pd

SQL_PACKAGE = "cascade_sync_pipeline.sync.goals.sql"
OPS = ("create", "link", "update", "archive", "complete", "delete")
RETIRE_OPS = ("archive", "complete", "delete")

# The goals and tasks to read back: those the ID map holds, those the source items' Cascade ID
# fields name (when no other item is mapped to them), and the configured parent goals.
_WANTED = """
SELECT DISTINCT cascade_type, cascade_id, first(item_id ORDER BY rank, item_id) OVER (
    PARTITION BY cascade_type, cascade_id) AS item_id
FROM (
    SELECT cascade_type, TRY_CAST(cascade_id AS BIGINT) AS cascade_id, item_id, 0 AS rank
    FROM sync.id_map WHERE workspace = $ws AND cascade_type IN ('goal', 'task')
    UNION ALL
    SELECT d.cascade_type, TRY_CAST(trim(d.claimed_cascade_id) AS BIGINT), d.item_id, 1
    FROM sync.desired_state AS d
    WHERE d.workspace = $ws AND TRY_CAST(trim(d.claimed_cascade_id) AS BIGINT) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM sync.id_map AS m WHERE m.cascade_type = d.cascade_type
                      AND m.cascade_id = CAST(TRY_CAST(trim(d.claimed_cascade_id) AS BIGINT) AS VARCHAR))
      AND NOT EXISTS (SELECT 1 FROM sync.id_map AS m WHERE m.workspace = $ws AND m.item_id = d.item_id)
    UNION ALL
    SELECT 'goal', parent_goal_id, NULL, 2 FROM sync.desired_state WHERE workspace = $ws AND parent_goal_id IS NOT NULL
)
WHERE cascade_id IS NOT NULL
"""


def wanted(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> list[tuple[str, int, str | None]]:
    """The goals and tasks to read back, each with the source item it belongs to (or None)."""
    return [
        (kind, int(cascade_id), item_id)
        for kind, cascade_id, item_id in con.execute(_WANTED, {"ws": ws.key}).fetchall()
    ]


def read_current(
    client: ClassicClient, ids: list[tuple[str, int, str | None]]
) -> list[tuple[str, int, str | None, str]]:
    """What Cascade holds of them, read by id (goals in every status); ids Cascade no longer knows are
    simply absent. Plain HTTP: called without the warehouse open."""
    owner = {(kind, cascade_id): item_id for kind, cascade_id, item_id in ids}
    goal_ids = sorted(i for kind, i, _ in ids if kind == "goal")
    task_ids = sorted(i for kind, i, _ in ids if kind == "task")
    found = [("goal", g) for g in (client.list_goals(status=GOAL_STATUSES, ids=goal_ids) if goal_ids else [])]
    found += [("task", t) for t in (client.list_tasks(ids=task_ids) if task_ids else [])]
    return [(kind, item["id"], owner.get((kind, item["id"])), json.dumps(item)) for kind, item in found]


def store_current(
    con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, rows: list[tuple[str, int, str | None, str]]
) -> int:
    """Replace sync.cascade_items for the workspace with ``rows``; return how many."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["cascade_type", "cascade_id", "item_id", "payload"])
    con.register("fetched", frame)
    try:
        with Warehouse.transaction(con):
            return Warehouse.replace_partition(
                con,
                "sync.cascade_items",
                ws.key,
                "SELECT $ws AS workspace, cascade_type, CAST(cascade_id AS BIGINT) AS cascade_id, item_id, "
                "payload::JSON AS payload, $at AS fetched_at FROM fetched",
                {"ws": ws.key, "at": datetime.now(UTC).replace(tzinfo=None)},
            )
    finally:
        con.unregister("fetched")


def build_diff(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, run_id: str) -> dict[str, int]:
    """Replace the workspace's sync.diff with this run's operations; return items per operation."""
    for statement in sql_text(SQL_PACKAGE, "fields.sql").split(";\n"):
        if statement.strip():
            con.execute(statement, {"workspace": ws.key})
    params = {"workspace": ws.key, "run_id": run_id, "on_delete_task": ws.mapping.on_delete_task}
    with Warehouse.transaction(con):
        Warehouse.replace_partition(con, "sync.diff", ws.key, sql_text(SQL_PACKAGE, "diff.sql"), params)
    return op_counts(con, ws.key)


def op_counts(con: duckdb.DuckDBPyConnection, workspace: str, *, pending_only: bool = False) -> dict[str, int]:
    pending = "AND applied_at IS NULL" if pending_only else ""
    counts = dict(
        con.execute(
            f"SELECT op, count(DISTINCT (cascade_type, item_id)) FROM sync.diff WHERE workspace = ? {pending} GROUP BY op",
            [workspace],
        ).fetchall()
    )
    return {op: counts.get(op, 0) for op in OPS}


def unchanged_count(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Desired goals and tasks Cascade already holds exactly as desired."""
    return con.execute(
        "SELECT count(*) FROM sync.desired_state AS d WHERE d.workspace = $ws AND NOT EXISTS "
        "(SELECT 1 FROM sync.diff AS x WHERE x.workspace = $ws AND x.item_id = d.item_id "
        " AND x.cascade_type = d.cascade_type)",
        {"ws": workspace},
    ).fetchall()[0][0]


def preview(con: duckdb.DuckDBPyConnection, workspace: str, limit: int = 40) -> pd.DataFrame:
    """The diff as a person reads it: changes to existing goals and tasks field by field (before →
    after), then one line per new one."""
    return con.execute(
        """
        WITH lines AS (
            SELECT op, cascade_type, item_id, item_name, field,
                   COALESCE(left(before, 40), '∅') || ' → ' || COALESCE(left(after, 40), '∅') AS change
            FROM sync.diff WHERE workspace = $ws AND op <> 'create'
            UNION ALL
            SELECT 'create', cascade_type, item_id, any_value(item_name), '(new)',
                   left(string_agg(field || ': ' || left(after, 30), '; ' ORDER BY field), 120)
            FROM sync.diff WHERE workspace = $ws AND op = 'create'
            GROUP BY ALL
        )
        SELECT op, cascade_type AS type, left(item_name, 48) || ' (' || item_id || ')' AS item, field, change
        FROM lines
        ORDER BY array_position(['update', 'link', 'archive', 'complete', 'delete', 'create'], op), item_id, field
        LIMIT $limit
        """,
        {"ws": workspace, "limit": limit},
    ).df()
