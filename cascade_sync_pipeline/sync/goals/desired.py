"""The desired Cascade state of one workspace: staging + mapping rules -> sync.desired_state (SQL),
then each goal's title split into the API's ``action`` and ``details`` (cut with a warning when
too long, never rejected)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.cascade.classic_wire import split_title
from cascade_sync_pipeline.config import CascadeUser, ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.goals import mapping
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

if TYPE_CHECKING:
    import pandas as pd

SQL_PACKAGE = "cascade_sync_pipeline.sync.goals.sql"


def build_desired_state(
    con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, users: list[CascadeUser]
) -> int:
    """Replace the workspace's rows of sync.desired_state; return how many goals and tasks should exist."""
    mapping.register_lookups(con, ws, users)
    with Warehouse.transaction(con):
        count = Warehouse.merge_partition(
            con, "sync.desired_state", ws.key, sql_text(SQL_PACKAGE, "desired_state.sql"), mapping.sql_params(ws)
        )
        _split_titles(con, ws.key)
    _require_parents(con, ws)
    return count


def _split_titles(con: duckdb.DuckDBPyConnection, workspace: str) -> None:
    """Fill action, details and title_warnings of the goals the merge (re)wrote."""
    import pandas as pd

    goals = con.execute(
        "SELECT item_id, name FROM sync.desired_state WHERE workspace = ? AND cascade_type = 'goal' AND action IS NULL",
        [workspace],
    ).fetchall()
    if not goals:
        return
    rows = []
    for item_id, name in goals:
        action, details, warnings = split_title(name)
        rows.append((item_id, action or "(untitled)", details, warnings))
    frame = pd.DataFrame(rows, columns=["item_id", "action", "details", "warnings"])
    con.register("split_frame", frame)
    try:
        con.execute(
            "UPDATE sync.desired_state AS d SET action = f.action, details = f.details, "
            "title_warnings = CAST(f.warnings AS VARCHAR[]) FROM split_frame AS f "
            "WHERE d.workspace = ? AND d.item_id = f.item_id",
            [workspace],
        )
    finally:
        con.unregister("split_frame")


def _require_parents(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> None:
    """Tasks need a goal; say which containers hold tasks without one, and how to give them one."""
    rows = con.execute(
        """
        SELECT COALESCE(container_id, '(none)') AS container, count(*) AS items,
               list(item_id ORDER BY item_id)[:3] AS examples
        FROM sync.desired_state
        WHERE workspace = ? AND cascade_type = 'task' AND parent_item_id IS NULL AND parent_goal_id IS NULL
        GROUP BY ALL ORDER BY container
        """,
        [ws.key],
    ).fetchall()
    if rows:
        where = "; ".join(f"{n} tasks of container {c} (e.g. {', '.join(ex)})" for c, n, ex in rows)
        raise mapping.MappingError(
            f"workspace '{ws.key}': no Cascade goal for {where}: let their containers become goals "
            "(mapping.goals_from), give mapping.target (or a mapping.by_container entry) a parent_goal_id, or set "
            "mapping.tasks_as: project"
        )


def summary(con: duckdb.DuckDBPyConnection, workspace: str) -> pd.DataFrame:
    """Goals and tasks per kind and outcome, for the asset's metadata."""
    return con.execute(
        "SELECT cascade_type, COALESCE(goal_kind, item_type) AS kind, COALESCE(outcome, '(unmapped)') AS outcome, "
        "count(*) AS items FROM sync.desired_state WHERE workspace = ? GROUP BY ALL ORDER BY ALL",
        [workspace],
    ).df()


def title_warnings(con: duckdb.DuckDBPyConnection, workspace: str) -> list[str]:
    """One line per goal whose title had to be cut, naming the source item."""
    return [
        f"{item_id} '{name[:60]}': {'; '.join(warnings)}"
        for item_id, name, warnings in con.execute(
            "SELECT item_id, name, title_warnings FROM sync.desired_state WHERE workspace = ? "
            "AND len(title_warnings) > 0 ORDER BY item_id",
            [workspace],
        ).fetchall()
    ]
