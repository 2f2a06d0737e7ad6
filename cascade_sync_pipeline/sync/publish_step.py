"""The publish step both engines share: open the run, stop at a dry run, else send with no warehouse
lock held and record the figures in sync.runs (a failure marks the run failed). The engine says what
is planned, what to read before sending, and how to send."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import dagster as dg
import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.resources import CascadeResource
from cascade_sync_pipeline.sync import runs
from cascade_sync_pipeline.sync.assets import failing_run, started_at
from cascade_sync_pipeline.warehouse.store import Warehouse

T = TypeVar("T")


@dataclass(frozen=True)
class RunCounts:
    """The figures of sync.runs a publish fills in."""

    created: int
    updated: int
    archived: int


@dataclass(frozen=True)
class Planned:
    """What the diff still has to send: the pending operations per op, and as sync.runs counts them."""

    ops: Mapping[str, int]
    counts: RunCounts


@dataclass(frozen=True)
class Published:
    """What the engine sent: its sync.runs figures, the log line's words and the step's metadata."""

    counts: RunCounts
    summary: str
    metadata: Mapping[str, Any]


def publish_step(
    context: dg.AssetExecutionContext,
    ws: ClickUpWorkspace | WrikeWorkspace,
    dry_run: bool,
    store: Warehouse,
    cascade: CascadeResource,
    *,
    plan: Callable[[duckdb.DuckDBPyConnection], Planned],
    prepare: Callable[[duckdb.DuckDBPyConnection], T],
    send: Callable[[Any, T], Published],
) -> dg.MaterializeResult:
    """``plan`` counts what is pending (a dry run records it and stops); ``prepare`` reads what to send
    with the warehouse open; ``send`` calls Cascade with it, the warehouse closed."""
    run_id = context.run.run_id
    with store.connect() as con:
        runs.start(con, ws.key, run_id, started_at(context), dry_run)  # a re-executed step
        planned = plan(con)
        if dry_run:
            runs.update(
                con,
                ws.key,
                run_id,
                status="dry_run",
                dry_run=True,
                finished_at=runs.now(),
                created=planned.counts.created,
                updated=planned.counts.updated,
                archived=planned.counts.archived,
                cascade_writes=0,
            )
            context.log.info(f"workspace '{ws.key}': dry run, nothing written to Cascade")
            return dg.MaterializeResult(
                metadata={"workspace": ws.key, "dry_run": True, **{f"planned_{op}": n for op, n in planned.ops.items()}}
            )
        with failing_run(con, ws.key, run_id):
            prepared = prepare(con)
    with cascade.client(ws.key) as client, failing_run(store, ws.key, run_id):
        try:
            result = send(client, prepared)
        finally:
            with store.connect() as con:
                runs.update(con, ws.key, run_id, cascade_writes=client.writes)
    with store.connect() as con:
        runs.update(
            con,
            ws.key,
            run_id,
            dry_run=False,
            created=result.counts.created,
            updated=result.counts.updated,
            archived=result.counts.archived,
        )
    context.log.info(f"workspace '{ws.key}': {result.summary}")
    return dg.MaterializeResult(
        metadata={
            "workspace": ws.key,
            "dry_run": False,
            **result.metadata,
            "cascade_requests": client.stats.requests,
        }
    )
