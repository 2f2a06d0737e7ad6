"""Schedules and webhook sensors for the sync jobs that exist in the code location."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.orchestration.schedules import build_schedules
from cascade_sync_pipeline.orchestration.sensors import build_webhook_sensor


def sources_with_jobs(config: SyncConfig, defs: dg.Definitions, job_name: Callable[[str], str]) -> list[str]:
    """The config's sources, in order, whose sync job ``defs`` defines (named by ``job_name(source)``)."""
    defined = {job.name for job in defs.jobs or []}
    return [s for s in dict.fromkeys(ws.source for ws in config.workspaces) if job_name(s) in defined]


def build_orchestration_defs(
    config: SyncConfig, defs_so_far: dg.Definitions, job_name: Callable[[str], str]
) -> dg.Definitions:
    """Schedules and sensors targeting the jobs of ``defs_so_far``, named by ``job_name(source)``.

    A source whose job is not defined (no workspace of it, or its assets not built) gets neither.
    """
    sources = sources_with_jobs(config, defs_so_far, job_name)
    return dg.Definitions(
        schedules=build_schedules(config, job_name, set(sources)),
        sensors=[build_webhook_sensor(config, source, job_name(source)) for source in sources],
    )
