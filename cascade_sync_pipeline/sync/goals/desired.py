"""The desired Cascade state of one workspace: staging + mapping rules -> sync.desired_state (SQL)."""

from __future__ import annotations

import duckdb

from cascade_sync_pipeline.sync.goals import mapping
from cascade_sync_pipeline.cascade.client import CascadeClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

SQL_PACKAGE = "cascade_sync_pipeline.sync.goals.sql"


def build_desired_state(con: duckdb.DuckDBPyConnection, client: CascadeClient,
                        ws: ClickUpWorkspace | WrikeWorkspace) -> int:
    """Replace the workspace's rows of sync.desired_state; return how many items should exist."""
    mapping.register_lookups(con, client, ws.key, ws.mapping)
    params = mapping.sql_params(ws.key, ws.source, ws.mapping)
    with Warehouse.transaction(con):
        count = Warehouse.merge_partition(con, "sync.desired_state", ws.key,
                                            sql_text(SQL_PACKAGE, "desired_state.sql"), params)
    _require_parents(con, ws.key)
    return count


def _require_parents(con: duckdb.DuckDBPyConnection, workspace: str) -> None:
    """Actions and measures need an objective; say which containers lack one and how to give it."""
    rows = con.execute(
        """
        SELECT cascade_type, COALESCE(container_id, '(none)') AS container, count(*) AS items,
               list(item_id ORDER BY item_id)[:3] AS examples
        FROM sync.desired_state
        WHERE workspace = ?
          AND ((cascade_type IN ('action', 'measure') AND parent_item_id IS NULL AND parent_cascade_id IS NULL)
               OR (cascade_type = 'objective' AND plan_id IS NULL))
        GROUP BY ALL ORDER BY container
        """, [workspace]).fetchall()
    if rows:
        where = "; ".join(f"{n} {kind}s of container {c} (e.g. {', '.join(ex)})" for kind, c, n, ex in rows)
        raise mapping.MappingError(
            f"workspace '{workspace}': no Cascade parent for {where}: set mapping.target.objective (a plan for "
            "objectives), or a mapping.by_container entry for those containers")


def summary(con: duckdb.DuckDBPyConnection, workspace: str):
    """Items per Cascade type and status, for the asset's metadata."""
    return con.execute(
        "SELECT cascade_type, COALESCE(status, '(unmapped)') AS status, count(*) AS items "
        "FROM sync.desired_state WHERE workspace = ? GROUP BY ALL ORDER BY ALL", [workspace]).df()
