"""Diff and publish on the Integrations API: push exactly the values that changed.

The API reads no value back, so "what Cascade holds" is what this sync last pushed
(``sync.pushed_values``, ``sync.pushed_history``). Cascade is called with no warehouse lock held;
results are recorded in short transactions. A PUT sets a value, so one whose answer was lost, or
that was not recorded yet when a run died, is simply sent again: a killed run re-run ends where an
uninterrupted run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.recorder import BatchRecorder
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

if TYPE_CHECKING:
    import pandas as pd

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


def build_diff(
    con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, run_id: str, reassert_hours: float | None
) -> dict[str, int]:
    """Replace the workspace's sync.diff with the values this run would push; counts per op."""
    reassert_before = now() - timedelta(hours=reassert_hours) if reassert_hours else None
    params = {"workspace": ws.key, "run_id": run_id, "reassert_before": reassert_before}
    with Warehouse.transaction(con):
        Warehouse.replace_partition(con, "sync.diff", ws.key, sql_text(SQL_PACKAGE, "diff.sql"), params)
    return op_counts(con, ws.key)


def op_counts(con: duckdb.DuckDBPyConnection, workspace: str, *, pending_only: bool = False) -> dict[str, int]:
    pending = "AND applied_at IS NULL" if pending_only else ""
    counts = dict(
        con.execute(
            f"SELECT op || '_' || cascade_type, count(*) FROM sync.diff WHERE workspace = ? {pending} GROUP BY ALL",
            [workspace],
        ).fetchall()
    )
    return {op: counts.get(op, 0) for op in ("set_action", "set_measure", "history_measure")}


def unchanged_count(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Linked Cascade items whose value is already what was last pushed."""
    return con.execute(
        "SELECT count(DISTINCT (cascade_type, cascade_id)) FROM sync.desired_values AS d WHERE d.workspace = $ws "
        "AND d.blocked IS NULL AND NOT EXISTS (SELECT 1 FROM sync.diff AS x WHERE x.workspace = $ws AND x.op = 'set' "
        "AND x.cascade_id = d.cascade_id AND x.cascade_type = d.cascade_type)",
        {"ws": workspace},
    ).fetchall()[0][0]


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
        """,
        {"ws": workspace, "limit": limit},
    ).df()


@dataclass(frozen=True)
class ValueToPush:
    op: str
    cascade_type: str
    cascade_id: str
    plan_id: str
    value: float
    basis: str | None
    days: list[tuple[date, float]]  # history: the days after the last one pushed, oldest first


def pending(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> list[ValueToPush]:
    """What the workspace's diff still has to push. A diff whose run was blocked by a check (e.g. mass
    zeroing) is refused: publishing it alone later would push exactly what the check stopped."""
    blocked = con.execute(
        "SELECT run_id, message FROM sync.runs WHERE workspace = $ws AND status = 'blocked' "
        "AND run_id IN (SELECT run_id FROM sync.diff WHERE workspace = $ws)",
        {"ws": ws.key},
    ).fetchall()
    if blocked:
        raise BlockedDiffError(
            f"workspace '{ws.key}': the diff waiting to be published was stopped by its checks in run "
            f"{blocked[0][0]} ({(blocked[0][1] or '')[:600]}); nothing was written to Cascade. Fix the cause, then "
            "run the whole sync again: it rebuilds the diff and checks it again"
        )
    rows = con.execute(
        "SELECT x.op, x.cascade_type, x.cascade_id, any_value(v.plan_id), min(v.value), any_value(v.basis) "
        "FROM sync.diff AS x JOIN sync.desired_values AS v ON v.workspace = x.workspace "
        "AND v.cascade_type = x.cascade_type AND v.cascade_id = x.cascade_id AND v.blocked IS NULL "
        "WHERE x.workspace = ? AND x.applied_at IS NULL GROUP BY ALL ORDER BY x.op, x.cascade_type, x.cascade_id",
        [ws.key],
    ).fetchall()
    out = []
    for op, kind, cascade_id, plan_id, value, basis in rows:
        days = (
            con.execute(
                "SELECT day, value FROM sync.desired_history WHERE workspace = $ws AND cascade_id = $id AND day > "
                "COALESCE((SELECT max(day) FROM sync.pushed_history WHERE workspace = $ws AND cascade_id = $id), "
                "DATE '0001-01-01') ORDER BY day",
                {"ws": ws.key, "id": cascade_id},
            ).fetchall()
            if op == "history"
            else []
        )
        out.append(ValueToPush(op, kind, cascade_id, plan_id, value, basis, days))
    return out


@dataclass(frozen=True)
class _Pushed:
    """What Cascade took: a value set, or one chunk of a measure's history (``done``: its last)."""

    item: ValueToPush
    at: datetime
    days: list[tuple[date, float]] | None = None
    done: bool = False


def _record(con: duckdb.DuckDBPyConnection, pushed: list[_Pushed], workspace: str, run_id: str) -> None:
    """One short transaction: the values and history days Cascade took, and the diff rows they apply."""
    import pandas as pd

    values = pd.DataFrame(
        [
            [workspace, p.item.cascade_type, p.item.cascade_id, p.item.value, p.item.basis, p.at, run_id]
            for p in pushed
            if p.days is None
        ],
        columns=["workspace", "cascade_type", "cascade_id", "value", "basis", "pushed_at", "run_id"],
    ).astype(object)
    days = pd.DataFrame(
        [
            [workspace, p.item.cascade_id, day, value, p.at]
            for p in pushed
            if p.days is not None
            for day, value in p.days
        ],
        columns=["workspace", "cascade_id", "day", "value", "pushed_at"],
    )
    histories = [p.item.cascade_id for p in pushed if p.done]
    with Warehouse.transaction(con):
        if len(values):
            con.execute("INSERT OR REPLACE INTO sync.pushed_values BY NAME SELECT * FROM values")
            con.execute(
                "UPDATE sync.id_map AS m SET last_synced_at = v.pushed_at FROM values AS v "
                "WHERE m.workspace = v.workspace AND m.cascade_type = v.cascade_type "
                "AND m.cascade_id = v.cascade_id"
            )
            con.execute(
                "UPDATE sync.diff AS d SET applied_at = v.pushed_at FROM values AS v "
                "WHERE d.workspace = v.workspace AND d.op = 'set' AND d.cascade_type = v.cascade_type "
                "AND d.cascade_id = v.cascade_id"
            )
        if len(days):
            con.execute("INSERT OR REPLACE INTO sync.pushed_history BY NAME SELECT * FROM days")
        if histories:
            con.execute(
                "UPDATE sync.diff SET applied_at = ? WHERE workspace = ? AND op = 'history' "
                "AND list_contains(?, cascade_id)",
                [now(), workspace, histories],
            )


def publish(
    warehouse: Warehouse,
    client: IntegrationsClient,
    workspace_id: str,
    ws: ClickUpWorkspace | WrikeWorkspace,
    run_id: str,
    items: list[ValueToPush],
    batch: int = 50,
) -> PushResult:
    """Send every pending value. What Cascade took is recorded in short transactions (every ``batch``
    values, each history chunk, and at the end), so the warehouse lock is never held while Cascade is
    called. A value pushed but not yet recorded when a run dies is pushed again by the next run: a PUT
    of a value is safe to repeat."""
    result = PushResult()
    writes_before = client.writes
    recorder = BatchRecorder[_Pushed](warehouse, lambda con, pushed: _record(con, pushed, ws.key, run_id), every=batch)
    with recorder:
        for item in items:
            if item.op == "history":
                for start in range(0, len(item.days), HISTORY_DAYS_PER_CALL):
                    chunk = item.days[start : start + HISTORY_DAYS_PER_CALL]
                    client.set_measure_history(workspace_id, item.plan_id, item.cascade_id, chunk)
                    done = start + HISTORY_DAYS_PER_CALL >= len(item.days)
                    recorder.add(_Pushed(item, now(), chunk, done))
                    recorder.flush()
                result.history_days += len(item.days)
                continue
            setter = client.set_action_value if item.cascade_type == "action" else client.set_measure_value
            setter(workspace_id, item.plan_id, item.cascade_id, item.value)
            recorder.add(_Pushed(item, now()))
            result.actions += item.cascade_type == "action"
            result.measures += item.cascade_type == "measure"
    result.writes = client.writes - writes_before
    return result
