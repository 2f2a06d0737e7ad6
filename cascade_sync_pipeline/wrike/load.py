"""Land a Wrike extract in `raw` and rebuild the workspace's slice of `staging` with SQL.

Both steps replace exactly one workspace's rows inside one transaction, so a re-run (or a run
killed half-way) never leaves a partition half-written and never touches another partition.
The hierarchy is replaced on every run; tasks are upserted by id keeping the newer version (a stored
task whose ``updatedDate`` is later than the extract's stays as it is, so an older read finishing after
a newer one never overwrites it), and a full read removes the tasks it did not see that were stored
before it began; a reference list (custom fields, workflows, contacts) is replaced whenever it was read
and otherwise kept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.config import WrikeWorkspace
from cascade_sync_pipeline.warehouse.staging import SOURCE_STAGING_TABLES, rebuild_staging
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text
from cascade_sync_pipeline.wrike.extract import KnownReferences, WrikeExtract

if TYPE_CHECKING:
    import pandas as pd

SQL_PACKAGE = "cascade_sync_pipeline.wrike.sql"
RAW_TABLES = (
    "raw.wrike_hierarchy",
    "raw.wrike_custom_fields",
    "raw.wrike_workflows",
    "raw.wrike_contacts",
    "raw.wrike_tasks",
)
STAGING_TABLES = SOURCE_STAGING_TABLES["wrike"]
STREAM = "tasks"
# reference list -> (raw table, id column)
REFERENCE_TABLES = {
    "custom_fields": ("raw.wrike_custom_fields", "field_id"),
    "workflows": ("raw.wrike_workflows", "workflow_id"),
    "contacts": ("raw.wrike_contacts", "contact_id"),
}


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_text(SQL_PACKAGE, "raw.sql"))


def _hierarchy_rows(extract: WrikeExtract) -> pd.DataFrame:
    import pandas as pd

    rows = [
        {"object_type": "space", "object_id": s["id"], "parent_id": None, "payload": json.dumps(s)}
        for s in extract.spaces or []
    ]
    rows += [
        {
            "object_type": "project" if "project" in f else "folder",
            "object_id": f["id"],
            "parent_id": (f.get("parentIds") or [None])[0],
            "payload": json.dumps(f),
        }
        for f in extract.folders or []
    ]
    return pd.DataFrame(rows, columns=["object_type", "object_id", "parent_id", "payload"])


def write_raw(
    con: duckdb.DuckDBPyConnection, workspace: str, extract: WrikeExtract, extracted_at: datetime | None = None
) -> dict[str, int]:
    """Store the payloads verbatim; return how many rows each raw table now holds for the workspace."""
    import pandas as pd

    ensure_raw_tables(con)
    con.execute(sql_text(SQL_PACKAGE, "macros.sql"))  # wrike_ts: the tasks' update times compared
    at = (extracted_at or datetime.now(UTC)).replace(tzinfo=None)
    params = {"ws": workspace, "at": at}
    tasks = pd.DataFrame(
        [
            {"task_id": str(t["id"]), "updated_date": _text(t.get("updatedDate")), "payload": json.dumps(t)}
            for t in extract.tasks
            if isinstance(t, dict) and t.get("id")
        ],
        columns=["task_id", "updated_date", "payload"],
    )
    views = {"hierarchy_rows": _hierarchy_rows(extract), "task_rows": tasks}
    for name, (_, id_column) in REFERENCE_TABLES.items():
        objects = getattr(extract, name)
        if objects is not None:
            views[f"{name}_rows"] = pd.DataFrame(
                [{id_column: o["id"], "payload": json.dumps(o)} for o in objects], columns=[id_column, "payload"]
            )
    for view, frame in views.items():
        con.register(view, frame)
    try:
        with Warehouse.transaction(con):
            if extract.spaces is not None:
                Warehouse.replace_partition(
                    con,
                    "raw.wrike_hierarchy",
                    workspace,
                    "SELECT $ws AS workspace, object_type, object_id, parent_id, payload::JSON AS payload, "
                    "$at AS extracted_at FROM hierarchy_rows",
                    params,
                )
            for name, (table, id_column) in REFERENCE_TABLES.items():
                if f"{name}_rows" in views:
                    Warehouse.replace_partition(
                        con,
                        table,
                        workspace,
                        f"SELECT $ws AS workspace, {id_column}, payload::JSON AS payload, $at AS extracted_at "
                        f"FROM {name}_rows",
                        params,
                    )
            extract.written = Warehouse.upsert_newer(
                con,
                "raw.wrike_tasks",
                workspace,
                key="task_id",
                version="wrike_ts({row}.updated_date)",
                select_sql="SELECT $ws AS workspace, task_id, updated_date, payload::JSON AS payload, "
                "$at AS extracted_at FROM task_rows",
                params=params,
                full_read_started=(extract.read_started_at or at) if extract.mode == "full" else None,
            )
            _save_state(con, workspace, extract.mode, at)
    finally:
        for view in views:
            con.unregister(view)
    return Warehouse.table_counts(con, RAW_TABLES, workspace)


def _save_state(con: duckdb.DuckDBPyConnection, workspace: str, mode: str, at: datetime) -> None:
    con.execute(
        """
        INSERT INTO sync.extract_state (workspace, source, stream, watermark, last_full_at, last_run_at)
        SELECT $ws, 'wrike', $stream, arg_max(updated_date, wrike_ts(updated_date)), CASE WHEN $full THEN $at END, $at
        FROM raw.wrike_tasks WHERE workspace = $ws
        ON CONFLICT (workspace, stream) DO UPDATE SET
            -- an items read saw a few tasks, not every change up to their time: the watermark stays
            watermark = CASE WHEN $items THEN sync.extract_state.watermark ELSE excluded.watermark END,
            last_full_at = COALESCE(excluded.last_full_at, sync.extract_state.last_full_at),
            last_run_at = excluded.last_run_at
        """,
        {"ws": workspace, "stream": STREAM, "full": mode == "full", "items": mode == "items", "at": at},
    )


def extract_state(con: duckdb.DuckDBPyConnection, workspace: str) -> tuple[str | None, datetime | None]:
    """(watermark: the newest task ``updatedDate`` stored, time of the last full extract), or (None, None)."""
    rows = con.execute(
        "SELECT watermark, last_full_at FROM sync.extract_state "
        "WHERE workspace = ? AND stream = ? AND source = 'wrike'",
        [workspace, STREAM],
    ).fetchall()
    if not rows:
        return None, None
    return rows[0][0] or None, rows[0][1]


def known_references(con: duckdb.DuckDBPyConnection, workspace: str) -> KnownReferences:
    """The custom field, custom status and contact ids whose definitions the warehouse holds."""
    ensure_raw_tables(con)

    def ids(sql: str) -> frozenset[str]:
        return frozenset(row[0] for row in con.execute(sql, {"ws": workspace}).fetchall())

    return KnownReferences(
        field_ids=ids("SELECT field_id FROM raw.wrike_custom_fields WHERE workspace = $ws"),
        status_ids=ids(
            "SELECT unnest(json_extract_string(payload, '$.customStatuses[*].id')) "
            "FROM raw.wrike_workflows WHERE workspace = $ws"
        ),
        contact_ids=ids("SELECT contact_id FROM raw.wrike_contacts WHERE workspace = $ws"),
        contacts_field_ids=ids(
            "SELECT field_id FROM raw.wrike_custom_fields WHERE workspace = $ws AND (payload ->> 'type') = 'Contacts'"
        ),
    )


def build_staging(con: duckdb.DuckDBPyConnection, ws: WrikeWorkspace) -> dict[str, int]:
    """Rebuild the workspace's rows of the four staging tables from `raw`; return the row counts."""
    ensure_raw_tables(con)
    con.execute(sql_text(SQL_PACKAGE, "macros.sql"))
    return rebuild_staging(con, ws, SQL_PACKAGE, STAGING_TABLES)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def stored_folders(con: duckdb.DuckDBPyConnection, workspace: str) -> set[str]:
    """The folders and projects the last hierarchy read kept in scope (an items read checks against them)."""
    ensure_raw_tables(con)
    rows = con.execute(
        "SELECT object_id FROM raw.wrike_hierarchy WHERE workspace = ? AND object_type IN ('folder', 'project', 'space')",
        [workspace],
    ).fetchall()
    return {r[0] for r in rows}
