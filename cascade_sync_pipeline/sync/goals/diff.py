"""Desired vs current: fetch what Cascade holds for a workspace, then compute sync.diff in SQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb
import pandas as pd

from cascade_sync_pipeline.cascade.client import CascadeClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

SQL_PACKAGE = "cascade_sync_pipeline.sync.goals.sql"
STRATEGY_KINDS = ("objective", "action", "measure")
CHILD_KINDS = ("milestone", "checklist_item")
OPS = ("create", "update", "unarchive", "link", "archive", "wont_do", "remove")


def fetch_current(con: duckdb.DuckDBPyConnection, client: CascadeClient,
                  ws: ClickUpWorkspace | WrikeWorkspace) -> int:
    """Replace sync.cascade_items for the workspace with what Cascade holds now; return the count.

    Objectives, actions and measures are listed by external_ref (archived ones too), so an item a
    killed run created but never recorded is found; milestones and checklist items are read per
    action that has (or should have) some.
    """
    kinds = [k for (k,) in con.execute(
        "SELECT DISTINCT cascade_type FROM (SELECT cascade_type FROM sync.desired_state WHERE workspace = $ws "
        "UNION ALL SELECT cascade_type FROM sync.id_map WHERE workspace = $ws)", {"ws": ws.key}).fetchall()]
    rows: list[tuple[str, int, str | None, str]] = []
    for kind in STRATEGY_KINDS:
        if kind in kinds or (kind == "action" and set(CHILD_KINDS) & set(kinds)):
            for item_id, item in client.synced_items(kind, ws.source, ws.key).items():
                rows.append((kind, item["id"], item_id, json.dumps(item)))
    actions = {item_id: cascade_id for kind, cascade_id, item_id, _ in rows if kind == "action"}
    parents = con.execute(
        "SELECT DISTINCT cascade_type, parent_item_id FROM (SELECT cascade_type, parent_item_id "
        "FROM sync.desired_state WHERE workspace = $ws "
        "UNION ALL SELECT cascade_type, parent_item_id FROM sync.id_map WHERE workspace = $ws) "
        "WHERE cascade_type IN ('milestone', 'checklist_item') AND parent_item_id IS NOT NULL ORDER BY ALL",
        {"ws": ws.key}).fetchall()
    for kind, parent_item in parents:
        action_id = actions.get(parent_item)
        if action_id is None:
            continue
        children = client.milestones(action_id) if kind == "milestone" else client.checklist_items(action_id)
        for child in children:
            ref = child.get("external_ref") or {}
            if ref.get("source") == ws.source and ref.get("workspace") == ws.key:
                rows.append((kind, child["id"], ref.get("item_id"), json.dumps(child)))
    frame = pd.DataFrame(rows, columns=["cascade_type", "cascade_id", "item_id", "payload"])
    con.register("fetched", frame)
    try:
        with Warehouse.transaction(con):
            count = Warehouse.replace_partition(
                con, "sync.cascade_items", ws.key,
                "SELECT $ws AS workspace, cascade_type, CAST(cascade_id AS BIGINT) AS cascade_id, item_id, "
                "payload::JSON AS payload, $at AS fetched_at FROM fetched",
                {"ws": ws.key, "at": datetime.now(timezone.utc).replace(tzinfo=None)})
    finally:
        con.unregister("fetched")
    return count


def build_diff(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, run_id: str) -> dict[str, int]:
    """Replace the workspace's sync.diff with this run's operations; return items per operation."""
    for statement in sql_text(SQL_PACKAGE, "fields.sql").split(";\n"):
        if statement.strip():
            con.execute(statement, {"workspace": ws.key} if "$workspace" in statement else None)
    params = {"workspace": ws.key, "run_id": run_id, "on_delete": ws.mapping.on_delete}
    with Warehouse.transaction(con):
        Warehouse.replace_partition(con, "sync.diff", ws.key, sql_text(SQL_PACKAGE, "diff.sql"), params)
    return op_counts(con, ws.key)


def op_counts(con: duckdb.DuckDBPyConnection, workspace: str, *, pending_only: bool = False) -> dict[str, int]:
    pending = "AND applied_at IS NULL" if pending_only else ""
    counts = dict(con.execute(
        f"SELECT op, count(DISTINCT (cascade_type, item_id)) FROM sync.diff WHERE workspace = ? {pending} GROUP BY op",
        [workspace]).fetchall())
    return {op: counts.get(op, 0) for op in OPS}


def unchanged_count(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Desired items Cascade already holds exactly as desired."""
    return con.execute(
        "SELECT count(*) FROM sync.desired_state AS d WHERE d.workspace = $ws AND NOT EXISTS "
        "(SELECT 1 FROM sync.diff AS x WHERE x.workspace = $ws AND x.item_id = d.item_id "
        " AND x.cascade_type = d.cascade_type)", {"ws": workspace}).fetchall()[0][0]


def preview(con: duckdb.DuckDBPyConnection, workspace: str, limit: int = 40) -> pd.DataFrame:
    """The diff as a person reads it: changes to existing items field by field (before → after),
    then one line per new item."""
    return con.execute(
        """
        WITH lines AS (
            SELECT op, cascade_type, item_id, item_name, field,
                   COALESCE(left(before, 40), '∅') || ' → ' || COALESCE(left(after, 40), '∅') AS change
            FROM sync.diff WHERE workspace = $ws AND op <> 'create'
            UNION ALL
            SELECT 'create', cascade_type, item_id, any_value(item_name), '(new)',
                   left(string_agg(field || ': ' || left(after, 30), '; ' ORDER BY field), 120)
            FROM sync.diff WHERE workspace = $ws AND op = 'create' AND field <> 'name'
            GROUP BY ALL
        )
        SELECT op, cascade_type AS type, left(item_name, 48) || ' (' || item_id || ')' AS item, field, change
        FROM lines
        ORDER BY array_position(['update', 'unarchive', 'wont_do', 'archive', 'remove', 'link', 'create'], op),
                 item_id, field
        LIMIT $limit
        """, {"ws": workspace, "limit": limit}).df()
