"""sync.runs: one row per sync of one workspace, filled in as the run's steps finish."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

COLUMNS = (
    "finished_at",
    "status",
    "items_read",
    "created",
    "updated",
    "archived",
    "unchanged",
    "cascade_writes",
    "source_requests",
    "dry_run",
    "message",
)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start(
    con: duckdb.DuckDBPyConnection, workspace: str, run_id: str, started_at: datetime | None, dry_run: bool
) -> None:
    """Open the run's row (idempotent: a retried step keeps the first start time)."""
    con.execute(
        "INSERT INTO sync.runs (workspace, run_id, started_at, status, dry_run) VALUES (?, ?, ?, 'running', ?) "
        "ON CONFLICT (workspace, run_id) DO NOTHING",
        [workspace, run_id, started_at or now(), dry_run],
    )


def update(con: duckdb.DuckDBPyConnection, workspace: str, run_id: str, **values) -> None:
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"sync.runs has no column(s) {sorted(unknown)}")
    if not values:
        return
    assignments = ", ".join(f"{column} = ${column}" for column in values)
    con.execute(
        f"UPDATE sync.runs SET {assignments} WHERE workspace = $workspace AND run_id = $run_id",
        {**values, "workspace": workspace, "run_id": run_id},
    )


def get(con: duckdb.DuckDBPyConnection, workspace: str, run_id: str) -> dict | None:
    cursor = con.execute("SELECT * FROM sync.runs WHERE workspace = ? AND run_id = ?", [workspace, run_id])
    rows = cursor.fetchall()
    if not rows:
        return None
    return dict(zip([d[0] for d in cursor.description], rows[0], strict=False))


def summary_line(
    con: duckdb.DuckDBPyConnection, workspace: str, run_id: str, source: str, *, linking: bool = False
) -> str:
    """What the run did in Cascade, in one line (read from sync.runs)."""
    run = get(con, workspace, run_id)
    if run is None:
        return "Cascade: not reached"
    requests = f"{run['source_requests']} {source} requests" if run["source_requests"] is not None else ""
    if run["status"] == "dry_run":
        if linking:
            return f"Cascade (dry run, nothing written): would push {run['updated']} values; see sync.diff"
        return (
            f"Cascade (dry run, nothing written): would create {run['created']}, update {run['updated']}, "
            f"archive {run['archived']}; see sync.diff"
        )
    changed = (run["created"] or 0) + (run["updated"] or 0) + (run["archived"] or 0)
    if linking and run["status"] == "succeeded" and changed:
        return (
            f"Cascade: {run['updated']} linked values pushed, {run['unchanged']} unchanged; "
            f"{run['cascade_writes']} Cascade writes" + (f", {requests}" if requests else "")
        )
    if run["status"] == "succeeded" and changed == 0 and not run["cascade_writes"]:
        return f"Cascade: nothing changed ({run['unchanged']} items already in step), 0 Cascade writes" + (
            f", {requests}" if requests else ""
        )
    return (
        f"Cascade ({run['status']}): {run['created']} created, {run['updated']} updated, {run['archived']} "
        f"archived, {run['unchanged']} unchanged; {run['cascade_writes']} Cascade writes"
        + (f", {requests}" if requests else "")
    )


def blocked_reason(con: duckdb.DuckDBPyConnection, workspace: str, run_id: str) -> str | None:
    """The failed checks' messages when the diff's checks stopped the run, else None."""
    run = get(con, workspace, run_id)
    if run is None or run["status"] != "blocked":
        return None
    return f"nothing written to Cascade; fix first: {run['message']}"


SYNC_TABLES = (
    "sync.id_map",
    "sync.desired_state",
    "sync.cascade_items",
    "sync.create_attempts",
    "sync.diff",
    "sync.runs",
    "sync.extract_state",
    "sync.links",
    "sync.link_problems",
    "sync.desired_values",
    "sync.desired_history",
    "sync.pushed_values",
    "sync.pushed_history",
)


def forget(con: duckdb.DuckDBPyConnection, workspaces: list[str]) -> None:
    """Drop the sync bookkeeping of these workspaces (the sandbox's Cascade is new on every start)."""
    for table in SYNC_TABLES:
        con.execute(f"DELETE FROM {table} WHERE list_contains($ws, workspace)", {"ws": workspaces})
