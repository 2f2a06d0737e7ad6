"""One schedule per workspace, from its `schedule` setting, requesting that workspace's partition.

Schedules send mode `auto`: the extract itself decides whether a full re-read is due
(`full_refresh_hours`), so a reconciliation needs no schedule of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from cascade_sync_pipeline.config import ConfigError, SyncConfig
from cascade_sync_pipeline.orchestration.run_config import sync_run_config

DAILY_HOUR = 6
WEEKLY_DAY = 1  # Monday


def minute_offset(key: str) -> int:
    """A minute of the hour derived from the key alone, so workspaces do not all start at once."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 60


def cron_for(key: str, frequency: str) -> str:
    """The cron expression of a workspace's `schedule` (hourly, daily, weekly or a cron of its own)."""
    minute = minute_offset(key)
    if frequency == "hourly":
        return f"{minute} * * * *"
    if frequency == "daily":
        return f"{minute} {DAILY_HOUR} * * *"
    if frequency == "weekly":
        return f"{minute} {DAILY_HOUR} * * {WEEKLY_DAY}"
    return frequency


def schedule_name(key: str) -> str:
    # Dagster names allow only letters, digits and underscores.
    return f"{key.replace('-', '_')}_schedule"


def build_workspace_schedule(key: str, source: str, frequency: str, job_name: str) -> dg.ScheduleDefinition:
    """The schedule of one workspace: one run of its source's job for its partition per tick."""
    run_config = sync_run_config(source, "auto")

    def workspace_schedule(context):  # unannotated: Dagster then skips reading type hints, 1,000 times over
        tick = context.scheduled_execution_time or datetime.now(UTC)
        return dg.RunRequest(
            partition_key=key,
            run_key=f"{key}:{tick.astimezone(UTC).isoformat()}",
            run_config=run_config,
            tags={"workspace": key, "trigger": "schedule"},
        )

    return dg.ScheduleDefinition(
        name=schedule_name(key),
        cron_schedule=cron_for(key, frequency),
        job_name=job_name,
        execution_fn=workspace_schedule,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Sync workspace '{key}' ({source}, {frequency}); the extract decides when a full read is due.",
        tags={"workspace": key},
    )


def build_schedules(
    config: SyncConfig, job_name: Callable[[str], str], sources: set[str] | None = None
) -> list[dg.ScheduleDefinition]:
    """A schedule for every workspace whose source is in ``sources`` (default: all)."""
    schedules: list[dg.ScheduleDefinition] = []
    owners: dict[str, str] = {}  # schedule name -> workspace key
    for ws in config.workspaces:
        if sources is not None and ws.source not in sources:
            continue
        name = schedule_name(ws.key)
        if name in owners:
            raise ConfigError(
                f"workspaces '{owners[name]}' and '{ws.key}' would share the schedule name "
                f"'{name}'; rename one of the keys"
            )
        owners[name] = ws.key
        schedules.append(build_workspace_schedule(ws.key, ws.source, ws.schedule, job_name(ws.source)))
    return schedules
