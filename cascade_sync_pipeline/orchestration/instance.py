"""The Dagster instance the CLI and `cascade-sync dev` share: DAGSTER_HOME, with the project's
instance settings (run queue, retries, no telemetry) copied in on first use; and the check that keeps
runs a process executes itself (outside the run queue) to one per workspace."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "config/dagster.yaml"


def dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and SETTINGS.exists():
        shutil.copy(SETTINGS, home / "dagster.yaml")
    elif (home / "dagster.yaml").exists() and "dagster/partition" not in (home / "dagster.yaml").read_text():
        print(
            f"warning: {home / 'dagster.yaml'} has no per-workspace run limit, so two runs of one workspace may "
            f"overlap; add the run_queue.tag_concurrency_limits entry of {SETTINGS} to it",
            file=sys.stderr,
        )
    return home


def local_instance() -> dg.DagsterInstance:
    """The persistent instance in DAGSTER_HOME, so runs started here show in the UI."""
    dagster_home()
    return dg.DagsterInstance.get()


PID_TAG, HOST_TAG = "cascade-sync/pid", "cascade-sync/host"


def process_tags() -> dict[str, str]:
    """Tags of a run this process executes itself (a terminal's sync, the live runner's), so a later one
    can tell whether the process still lives."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _died(run) -> bool:
    if run.tags.get(HOST_TAG) != socket.gethostname() or not run.tags.get(PID_TAG, "").isdigit():
        return False
    try:
        os.kill(int(run.tags[PID_TAG]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


STALE_AFTER_S = 1800


def _silent_for(instance, run_id: str) -> float:
    """Seconds since the run's last event."""
    records = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    return time.time() - records[0].event_log_entry.timestamp if records else float("inf")


def running_elsewhere(instance, key: str) -> str | None:
    """Why a run of workspace ``key`` may not start now: one is already in progress (a schedule tick,
    a webhook run, another terminal). The run queue keeps daemon runs to one per workspace; runs a
    process executes itself do not go through the queue, so they look first. A run whose process is
    gone (killed) is marked failed instead of blocking the workspace for ever."""
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    records = instance.get_run_records(
        dg.RunsFilter(tags={"dagster/partition": key}, statuses=list(IN_PROGRESS_RUN_STATUSES))
    )
    for record in records:
        run = record.dagster_run
        if _died(run):
            instance.report_run_failed(run, f"its process {run.tags[PID_TAG]} ended without finishing the run")
            continue
        if PID_TAG not in run.tags and _silent_for(instance, run.run_id) > STALE_AFTER_S:
            continue  # left behind by a process that died before runs carried their pid; Dagster's run monitoring owns it
        return (
            f"workspace '{key}': run {run.run_id} ({run.job_name}, {run.status.value}) is already syncing it; "
            "wait for it to end (the Dagster UI shows it) or cancel it there, then run this again"
        )
    return None
