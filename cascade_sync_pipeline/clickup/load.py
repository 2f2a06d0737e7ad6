"""Land a ClickUp extract in `raw` and rebuild the workspace's slice of `staging` with SQL.

Both steps replace exactly one workspace's rows inside one transaction, so a re-run (or a run
killed half-way) never leaves a partition half-written and never touches another partition.

Tasks keep the newer version: a stored task whose ``date_updated`` is later than the extract's is
left as it is (an older read finishing after a newer one never overwrites it), and a full read
removes only the tasks it did not see that were stored before it began.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.clickup.extract import ClickUpExtract
from cascade_sync_pipeline.config import ClickUpWorkspace
from cascade_sync_pipeline.payloads import ms_value
from cascade_sync_pipeline.warehouse.staging import SOURCE_STAGING_TABLES, rebuild_staging
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

if TYPE_CHECKING:
    import pandas as pd

SQL_PACKAGE = "cascade_sync_pipeline.clickup.sql"
RAW_TABLES = ("raw.clickup_hierarchy", "raw.clickup_custom_fields", "raw.clickup_tasks")
STAGING_TABLES = SOURCE_STAGING_TABLES["clickup"]
STREAM = "tasks"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_text(SQL_PACKAGE, "raw.sql"))


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def write_raw(
    con: duckdb.DuckDBPyConnection, workspace: str, extract: ClickUpExtract, extracted_at: datetime | None = None
) -> dict[str, int]:
    """Store the payloads verbatim; return how many rows each raw table now holds for the workspace."""
    ensure_raw_tables(con)
    at = (extracted_at or datetime.now(UTC)).replace(tzinfo=None)
    hierarchy = _frame(
        [
            {
                "object_type": r.object_type,
                "object_id": r.object_id,
                "parent_id": r.parent_id,
                "payload": json.dumps(r.payload),
            }
            for r in extract.hierarchy or []
        ],
        ["object_type", "object_id", "parent_id", "payload"],
    )
    tasks = _frame(
        [
            {"task_id": str(t["id"]), "date_updated_ms": ms_value(t.get("date_updated")), "payload": json.dumps(t)}
            for t in extract.tasks
            if isinstance(t, dict) and t.get("id")
        ],
        ["task_id", "date_updated_ms", "payload"],
    )
    tasks["date_updated_ms"] = tasks["date_updated_ms"].astype("Int64")
    con.register("hierarchy", hierarchy)
    con.register("tasks", tasks)
    with Warehouse.transaction(con):
        if extract.hierarchy is not None:
            Warehouse.replace_partition(
                con,
                "raw.clickup_hierarchy",
                workspace,
                "SELECT $ws AS workspace, object_type, object_id, parent_id, payload::JSON AS payload, "
                "$at AS extracted_at FROM hierarchy",
                {"ws": workspace, "at": at},
            )
        if extract.custom_fields is not None:
            fields = _frame(
                [{"list_id": lid, "field_id": f["id"], "payload": json.dumps(f)} for lid, f in extract.custom_fields],
                ["list_id", "field_id", "payload"],
            )
            con.register("fields", fields)
            Warehouse.replace_partition(
                con,
                "raw.clickup_custom_fields",
                workspace,
                "SELECT $ws AS workspace, list_id, field_id, payload::JSON AS payload, $at AS extracted_at FROM fields",
                {"ws": workspace, "at": at},
            )
        extract.written = Warehouse.upsert_newer(
            con,
            "raw.clickup_tasks",
            workspace,
            key="task_id",
            version="{row}.date_updated_ms",
            select_sql="SELECT $ws AS workspace, task_id, date_updated_ms, payload::JSON AS payload, "
            "$at AS extracted_at FROM tasks",
            params={"ws": workspace, "at": at},
            full_read_started=(extract.read_started_at or at) if extract.mode == "full" else None,
        )
        if extract.deleted:
            con.execute(
                "DELETE FROM raw.clickup_tasks WHERE workspace = ? AND list_contains(?, task_id)",
                [workspace, extract.deleted],
            )
            extract.written["deleted"] = len(extract.deleted)
        _save_state(con, workspace, extract.mode, at)
    for view in ("hierarchy", "tasks", "fields"):
        con.unregister(view)
    return Warehouse.table_counts(con, RAW_TABLES, workspace)


def _save_state(con: duckdb.DuckDBPyConnection, workspace: str, mode: str, at: datetime) -> None:
    con.execute(
        """
        INSERT INTO sync.extract_state (workspace, source, stream, watermark, last_full_at, last_run_at)
        SELECT $ws, 'clickup', $stream, CAST(max(date_updated_ms) AS VARCHAR),
               CASE WHEN $full THEN $at END, $at
        FROM raw.clickup_tasks WHERE workspace = $ws
        ON CONFLICT (workspace, stream) DO UPDATE SET
            -- an items read saw a few tasks, not every change up to their time: the watermark stays
            watermark = CASE WHEN $items THEN sync.extract_state.watermark ELSE excluded.watermark END,
            last_full_at = COALESCE(excluded.last_full_at, sync.extract_state.last_full_at),
            last_run_at = excluded.last_run_at
        """,
        {"ws": workspace, "stream": STREAM, "full": mode == "full", "items": mode == "items", "at": at},
    )


def extract_state(con: duckdb.DuckDBPyConnection, workspace: str) -> tuple[int | None, datetime | None]:
    """(watermark in ms, time of the last full extract) for the workspace, or (None, None)."""
    row = con.execute(
        "SELECT watermark, last_full_at FROM sync.extract_state WHERE workspace = ? AND stream = ?", [workspace, STREAM]
    ).fetchall()
    if not row:
        return None, None
    watermark, last_full_at = row[0]
    return (int(watermark) if watermark else None), last_full_at


def build_staging(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace) -> dict[str, int]:
    """Rebuild the workspace's rows of the staging tables from `raw`; return the row counts."""
    ensure_raw_tables(con)
    return rebuild_staging(con, ws, SQL_PACKAGE, STAGING_TABLES)


def stored_scope(con: duckdb.DuckDBPyConnection, workspace: str) -> tuple[set[str], set[str]]:
    """(the workspace's stored task ids, its stored list ids) for an items read."""
    ensure_raw_tables(con)
    tasks = {
        r[0] for r in con.execute("SELECT task_id FROM raw.clickup_tasks WHERE workspace = ?", [workspace]).fetchall()
    }
    lists = {
        r[0]
        for r in con.execute(
            "SELECT object_id FROM raw.clickup_hierarchy WHERE workspace = ? AND object_type = 'list'", [workspace]
        ).fetchall()
    }
    return tasks, lists
