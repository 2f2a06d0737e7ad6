"""Diff and publish on the Integrations API: push exactly the values that changed.

The API reads no value back, so "what Cascade holds" is what this sync last pushed
(``sync.pushed_values``, ``sync.pushed_history``). Each PUT is recorded at once; a PUT sets a
value, so one whose answer was lost is simply sent again, and a killed run re-run ends where an
uninterrupted run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pandas as pd

from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

SQL_PACKAGE = "cascade_sync_pipeline.sync.linking.sql"
HISTORY_DAYS_PER_CALL = 366


class BlockedDiffError(RuntimeError):
    """The diff waiting to be published was stopped by a blocking check; it must not be sent."""


@dataclass
class PushResult:
    actions: int = 0
    measures: int = 0
    history_days: int = 0
    writes: int = 0


def build_diff(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, run_id: str,
               reassert_hours: float | None) -> dict[str, int]:
    """Replace the workspace's sync.diff with the values this run would push; counts per op."""
    reassert_before = now() - timedelta(hours=reassert_hours) if reassert_hours else None
    params = {"workspace": ws.key, "run_id": run_id, "reassert_before": reassert_before}
    with Warehouse.transaction(con):
        Warehouse.replace_partition(con, "sync.diff", ws.key, sql_text(SQL_PACKAGE, "diff.sql"), params)
    return op_counts(con, ws.key)


def op_counts(con: duckdb.DuckDBPyConnection, workspace: str, *, pending_only: bool = False) -> dict[str, int]:
    pending = "AND applied_at IS NULL" if pending_only else ""
    counts = dict(con.execute(f"SELECT op || '_' || cascade_type, count(*) FROM sync.diff WHERE workspace = ? "
                              f"{pending} GROUP BY ALL", [workspace]).fetchall())
    return {op: counts.get(op, 0) for op in ("set_action", "set_measure", "history_measure")}


def unchanged_count(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Linked Cascade items whose value is already what was last pushed."""
    return con.execute(
        "SELECT count(DISTINCT (cascade_type, cascade_id)) FROM sync.desired_values AS d WHERE d.workspace = $ws "
        "AND d.blocked IS NULL AND NOT EXISTS (SELECT 1 FROM sync.diff AS x WHERE x.workspace = $ws AND x.op = 'set' "
        "AND x.cascade_id = d.cascade_id AND x.cascade_type = d.cascade_type)", {"ws": workspace}).fetchall()[0][0]


def preview(con: duckdb.DuckDBPyConnection, workspace: str, limit: int = 40) -> pd.DataFrame:
    """The push as a person reads it: each Cascade item, its value before -> after, and why."""
    return con.execute(
        """
        SELECT d.op, d.cascade_type AS type, left(COALESCE(d.item_name, ''), 40) || ' (' || d.cascade_id || ')' AS item,
               COALESCE(d.before, '∅') || ' → ' || d.after AS change, left(v.basis, 48) AS why,
               left(d.item_id, 40) AS source
        FROM sync.diff AS d
        LEFT JOIN (SELECT cascade_id, any_value(basis) AS basis FROM sync.desired_values WHERE workspace = $ws
                   GROUP BY ALL) AS v ON v.cascade_id = d.cascade_id
        WHERE d.workspace = $ws
        ORDER BY d.op DESC, d.cascade_type, d.cascade_id
        LIMIT $limit
        """, {"ws": workspace, "limit": limit}).df()


def publish(con: duckdb.DuckDBPyConnection, client: IntegrationsClient, workspace_id: str,
            ws: ClickUpWorkspace | WrikeWorkspace, run_id: str) -> PushResult:
    """Send every pending value of the workspace's diff, recording each as soon as Cascade took it.

    A diff whose run was blocked by a check (e.g. mass zeroing) is refused: publishing it alone later
    (re-materializing this asset) would push exactly what the check stopped."""
    blocked = con.execute("SELECT run_id, message FROM sync.runs WHERE workspace = $ws AND status = 'blocked' "
                          "AND run_id IN (SELECT run_id FROM sync.diff WHERE workspace = $ws)",
                          {"ws": ws.key}).fetchall()
    if blocked:
        raise BlockedDiffError(
            f"workspace '{ws.key}': the diff waiting to be published was stopped by its checks in run "
            f"{blocked[0][0]} ({(blocked[0][1] or '')[:600]}); nothing was written to Cascade. Fix the cause, then "
            "run the whole sync again: it rebuilds the diff and checks it again")
    result = PushResult()
    writes_before = client.writes
    pending = con.execute(
        "SELECT x.op, x.cascade_type, x.cascade_id, any_value(v.plan_id), min(v.value), any_value(v.basis) "
        "FROM sync.diff AS x JOIN sync.desired_values AS v ON v.workspace = x.workspace "
        "AND v.cascade_type = x.cascade_type AND v.cascade_id = x.cascade_id AND v.blocked IS NULL "
        "WHERE x.workspace = ? AND x.applied_at IS NULL GROUP BY ALL ORDER BY x.op, x.cascade_type, x.cascade_id",
        [ws.key]).fetchall()
    for op, kind, cascade_id, plan_id, value, basis in pending:
        if op == "history":
            result.history_days += _push_history(con, client, workspace_id, plan_id, ws.key, cascade_id)
        else:
            setter = client.set_action_value if kind == "action" else client.set_measure_value
            setter(workspace_id, plan_id, cascade_id, value)
            _record_value(con, ws.key, kind, cascade_id, value, basis, run_id)
            result.actions += kind == "action"
            result.measures += kind == "measure"
    result.writes = client.writes - writes_before
    return result


def _record_value(con: duckdb.DuckDBPyConnection, workspace: str, kind: str, cascade_id: str, value: float,
                  basis: str | None, run_id: str) -> None:
    at = now()
    with Warehouse.transaction(con):
        con.execute(
            "INSERT INTO sync.pushed_values VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, cascade_type, "
            "cascade_id) DO UPDATE SET value = excluded.value, basis = excluded.basis, pushed_at = excluded.pushed_at, "
            "run_id = excluded.run_id", [workspace, kind, cascade_id, value, basis, at, run_id])
        con.execute("UPDATE sync.id_map SET last_synced_at = ? WHERE workspace = ? AND cascade_type = ? "
                    "AND cascade_id = ?", [at, workspace, kind, cascade_id])
        con.execute("UPDATE sync.diff SET applied_at = ? WHERE workspace = ? AND op = 'set' AND cascade_type = ? "
                    "AND cascade_id = ?", [at, workspace, kind, cascade_id])


def _push_history(con: duckdb.DuckDBPyConnection, client: IntegrationsClient, workspace_id: str, plan_id: str,
                  workspace: str, cascade_id: str) -> int:
    """The days after the last one pushed, oldest first, in calls of at most a year each."""
    days = con.execute(
        "SELECT day, value FROM sync.desired_history WHERE workspace = $ws AND cascade_id = $id AND day > "
        "COALESCE((SELECT max(day) FROM sync.pushed_history WHERE workspace = $ws AND cascade_id = $id), "
        "DATE '0001-01-01') ORDER BY day", {"ws": workspace, "id": cascade_id}).fetchall()
    for start in range(0, len(days), HISTORY_DAYS_PER_CALL):
        chunk = days[start:start + HISTORY_DAYS_PER_CALL]
        client.set_measure_history(workspace_id, plan_id, cascade_id, chunk)
        at = now()
        # One statement per chunk: executemany costs DuckDB milliseconds per row (a year of days: ~1 s).
        pushed = pd.DataFrame([[workspace, cascade_id, day, value, at] for day, value in chunk],
                              columns=["workspace", "cascade_id", "day", "value", "pushed_at"])
        with Warehouse.transaction(con):
            con.execute("INSERT OR REPLACE INTO sync.pushed_history SELECT * FROM pushed")
    with Warehouse.transaction(con):
        con.execute("UPDATE sync.diff SET applied_at = ? WHERE workspace = ? AND op = 'history' AND cascade_id = ?",
                    [now(), workspace, cascade_id])
    return len(days)
