"""Rate-limit saturation: a full ClickUp sync (extract and staging, through Dagster) against an
emulator whose per-token limit is ClickUp's 100 requests a minute scaled down to the same rate in
a shorter window (20 per 12 s), with enough tasks that the run needs several windows.

Goal: the extract's wall time ≤ 1.10 × the bound the limit sets (requests ÷ limit × window), the
run succeeds, and no 429 is answered (the client paces itself on X-RateLimit-Remaining/Reset).
ClickUp's X-RateLimit-Reset is whole epoch seconds, so each wait may overshoot the true reset by
up to a second: a short window magnifies that, which is why the window is not shorter than 12 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import dagster as dg

from benchmarks.report import Figure, Report
from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import generate

NAME = "rate limit"
LIMIT, WINDOW = 20, 12.0
TASKS = 5000
GOAL_RATIO = 1.10
TOKEN_ENV = "BENCH_CLICKUP_TOKEN"


def _step_seconds(instance: dg.DagsterInstance, run_id: str, step: str) -> float:
    times = {
        e.dagster_event.event_type_value: e.timestamp
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.step_key == step
    }
    return times["STEP_SUCCESS"] - times["STEP_START"]


def run(report: Report, tasks: int = TASKS, limit: int = LIMIT, window: float = WINDOW) -> None:
    import os

    dataset = generate(7, teams=1, tasks_per_team=tasks)
    team_id = next(iter(dataset.teams))
    emulator = ClickUpEmulator(dataset, rate_limit=limit, rate_window=window)
    with tempfile.TemporaryDirectory() as tmp, emulator.serve(port=0) as server:
        os.environ[TOKEN_ENV] = dataset.grant([team_id])
        config = parse_config(
            {
                "warehouse": {"path": str(Path(tmp) / "rate.duckdb")},
                "workspaces": [
                    {
                        "key": "rate-limited",
                        "source": "clickup",
                        "base_url": f"{server.url}/api/v2",
                        "team_id": team_id,
                        "token_env": TOKEN_ENV,
                    }
                ],
            }
        )
        assets = build_clickup_assets(config, workspace_partitions(config, "clickup")).assets
        instance = dg.DagsterInstance.ephemeral()
        started = time.monotonic()
        result = dg.materialize(
            assets,
            partition_key="rate-limited",
            raise_on_error=False,
            instance=instance,
            resources={"warehouse": WarehouseResource(path=config.duckdb_path), "clickup": ClickUpResource()},
            run_config={"ops": {"clickup_raw_extract": {"config": {"mode": "full"}}}},
        )
        total = time.monotonic() - started
        os.environ.pop(TOKEN_ENV, None)
    refused = emulator.log.count(status=429)
    answered = emulator.log.count() - refused
    extract = _step_seconds(instance, result.run_id, "clickup_raw_extract") if result.success else float("nan")
    bound = answered / limit * window
    floor = (answered - 1) // limit * window  # the earliest the last request can be answered
    report.add(
        Figure(NAME, "limit", f"{limit} requests / {window:g} s per token (ClickUp's 100/min rate)"),
        Figure(NAME, "run succeeded", "yes" if result.success else "NO"),
        Figure(NAME, "requests answered", answered, "req"),
        Figure(NAME, "429 answers", refused, "req", 0),
        Figure(
            NAME,
            "bound (requests ÷ limit × window)",
            round(bound, 1),
            "s",
            note=f"the last window can start no earlier than {floor:g} s",
        ),
        Figure(NAME, "extract wall time", round(extract, 1), "s"),
        Figure(NAME, "extract wall time ÷ bound", round(extract / bound, 3), "x", GOAL_RATIO),
        Figure(NAME, "whole run wall time (extract, staging, Dagster)", round(total, 1), "s"),
    )
