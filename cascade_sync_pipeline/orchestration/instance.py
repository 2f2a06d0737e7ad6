"""The Dagster instance the CLI and `cascade-sync dev` share: DAGSTER_HOME, with the project's
instance settings (run queue, retries, no telemetry) copied in on first use."""

from __future__ import annotations

import os
import shutil
import sys
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
