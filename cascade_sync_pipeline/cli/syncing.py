"""Syncing chosen workspaces from a terminal: one in-process run per workspace partition, never beside
another run of the same workspace, and the summary a person reads afterwards."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.definitions import build_definitions, sync_job_name
from cascade_sync_pipeline.orchestration.instance import local_instance, process_tags, running_elsewhere
from cascade_sync_pipeline.orchestration.run_config import sync_run_config
from cascade_sync_pipeline.sync import runs
from cascade_sync_pipeline.warehouse.store import Warehouse


def _root_cause(error) -> str:
    """The message a user can act on: Dagster wraps the client's error in its own."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def step_log(config: SyncConfig) -> Path:
    """Where Dagster's per-step events of terminal runs go: beside the warehouse, not on the terminal."""
    root = Path(config.duckdb_path)
    return (root if config.warehouse.layout == "per_workspace" else root.parent) / "cascade-sync.log"


def sync_workspaces(
    config: SyncConfig,
    keys: list[str],
    *,
    mode: str = "auto",
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Materialize each workspace's partition of its source's job; one failure does not stop the rest.
    Dagster's event log goes to :func:`step_log` (the Dagster UI has it too); ``progress`` gets a line
    per workspace as it starts and ends."""
    defs = build_definitions(config)
    instance = local_instance()
    log = step_log(config)
    log.parent.mkdir(parents=True, exist_ok=True)
    return {
        key: _sync_one(config, defs, instance, key, mode, dry_run, log, progress or (lambda line: None)) for key in keys
    }


def _sync_one(
    config: SyncConfig, defs, instance, key: str, mode: str, dry_run: bool, log: Path, progress: Callable[[str], None]
) -> dict:
    ws = config.workspace(key)
    job = defs.resolve_job_def(sync_job_name(ws.source))
    run_config = sync_run_config(ws.source, mode, dry_run=dry_run if config.cascade is not None else None)
    busy = running_elsewhere(instance, key)
    if busy:
        progress(f"  {key}: not started, {busy}")
        return {"success": False, "run_id": None, "requests": 0, "seconds": 0.0, "error": busy}
    progress(f"  {key} ({ws.source}): syncing…")
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as out, contextlib.redirect_stderr(out):
        result = job.execute_in_process(
            partition_key=key, instance=instance, run_config=run_config, raise_on_error=False, tags=process_tags()
        )
    requests = 0
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if event.asset_key.path[-1] == "raw_tasks" and "requests" in meta:
            requests = meta["requests"].value
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        error = _root_cause(failures[0].step_failure_data.error) if failures else "run failed"
    seconds = round(time.monotonic() - started, 1)
    progress(f"  {key} ({ws.source}): {'done' if result.success else 'failed'} in {seconds}s")
    return {
        "success": result.success,
        "run_id": result.run_id,
        "requests": requests,
        "seconds": seconds,
        "error": error,
    }


def print_summary(config: SyncConfig, outcomes: dict[str, dict], *, cascade_only: bool = False) -> None:
    for key, outcome in outcomes.items():
        with Warehouse(config.warehouse_path(key)).connect() as con:
            ws = config.workspace(key)
            if not outcome["success"]:
                print(f"✗ {key} ({ws.source}) failed: {outcome['error']}")
                if blocked := runs.blocked_reason(con, key, outcome["run_id"]):
                    print(f"    {blocked}")
                continue
            linking = config.cascade is not None and config.cascade.api == "integrations"
            cascade = runs.summary_line(con, key, outcome["run_id"], ws.source, linking=linking)
            if cascade_only:
                print(f"✓ {key} ({ws.source}): {cascade}")
                continue
            if linking:
                cascade += "\n    " + _links_line(con, key)
            counts = dict(
                con.execute(
                    "SELECT item_type, count(*) FROM staging.work_items WHERE workspace = ? GROUP BY 1 ORDER BY 1",
                    [key],
                ).fetchall()
            )
            categories = dict(
                con.execute(
                    "SELECT status_category, count(*) FROM staging.work_items WHERE workspace = ? GROUP BY 1 ORDER BY 1",
                    [key],
                ).fetchall()
            )
            others = {
                t: con.execute(f"SELECT count(*) FROM staging.{t} WHERE workspace = ?", [key]).fetchall()[0][0]
                for t in ("custom_field_values", "containers", "users")
            }
            total = sum(counts.values())
            print(
                f"✓ {key} ({ws.source}): {total} work items {counts} in {outcome['seconds']}s, "
                f"{outcome['requests']} API requests"
            )
            print(
                f"    status categories {categories}; {others['custom_field_values']} custom field values, "
                f"{others['containers']} containers, {others['users']} users"
            )
            print(f"    {cascade}")
    layout = " (one file per workspace)" if config.warehouse.layout == "per_workspace" else ""
    print(
        f"Warehouse: {config.duckdb_path}{layout}, schemas raw, staging, sync; Dagster's step log: {step_log(config)}"
    )


def _links_line(con, key: str) -> str:
    """How the workspace's links were made, and the first problem found with them."""
    by = dict(
        con.execute(
            "SELECT linked_by, count(DISTINCT cascade_id) FROM sync.desired_values WHERE workspace = ? GROUP BY 1",
            [key],
        ).fetchall()
    )
    problems = con.execute(
        "SELECT count(*), min(message) FROM sync.link_problems WHERE workspace = ?", [key]
    ).fetchall()[0]
    line = (
        f"links: {by.get('field', 0)} by the Cascade ID field, "
        f"{by.get('config_item', 0) + by.get('config_container', 0)} from the config"
    )
    if problems[0]:
        line += f"; {problems[0]} skipped (sync.link_problems), e.g. {problems[1]}"
    return line
