"""Run a source's staging SQL for one workspace: one statement per staging table, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

# The staging tables every source fills (schema.sql), in the order their SQL runs; Wrike has no checklists.
STAGING_TABLES = ("work_items", "custom_field_values", "containers", "users", "checklist_items")
SOURCE_STAGING_TABLES = {"clickup": STAGING_TABLES, "wrike": STAGING_TABLES[:4]}


def rebuild_staging(
    con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, sql_package: str, tables: Sequence[str]
) -> dict[str, int]:
    """Rebuild the workspace's rows of ``staging.<table>`` from ``<sql_package>/<table>.sql``; return the
    row counts. The SQL reads ``$workspace`` (and ``$cascade_id_field`` for work items) and the temp table
    ``status_overrides`` (the workspace's ``status_categories``, by lowercase status name)."""
    con.execute("CREATE OR REPLACE TEMP TABLE status_overrides (status VARCHAR PRIMARY KEY, category VARCHAR)")
    if ws.status_categories:
        con.executemany(
            "INSERT INTO status_overrides VALUES (?, ?)",
            [(name.lower(), cat) for name, cat in ws.status_categories.items()],
        )
    counts = {}
    with Warehouse.transaction(con):
        for table in tables:
            params = {"workspace": ws.key}
            if table == "work_items":
                params["cascade_id_field"] = ws.cascade_id_field
            sql = sql_text(sql_package, f"{table}.sql")
            counts[f"staging.{table}"] = Warehouse.merge_partition(con, f"staging.{table}", ws.key, sql, params)
    return counts
