"""One run per workspace at a time, enforced by the shipped instance settings (config/dagster.yaml) and
Dagster's own daemon: two runs of the same partition never overlap, runs of different partitions do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cascade_sync_pipeline_tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
BIN = Path(sys.executable).parent
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def test_shipped_instance_settings_limit_runs_per_partition():
    settings = yaml.safe_load((ROOT / "config/dagster.yaml").read_text())
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in settings[
        "run_queue"
    ]["tag_concurrency_limits"]


def overlaps(a, b) -> bool:
    return a.start_time < b.end_time and b.start_time < a.end_time


@pytest.mark.slow
def test_the_daemon_never_overlaps_two_runs_of_one_partition(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config/dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env = dict(os.environ, DAGSTER_HOME=str(home))
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "cascade_sync_pipeline_tests.orchestration.concurrency_location"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 150
            while True:
                records = instance.get_run_records()
                if len(records) == 3 and all(r.dagster_run.status in TERMINAL for r in records):
                    break
                assert daemon.poll() is None, "the daemon exited"
                assert time.monotonic() < deadline, [(r.dagster_run.tags, r.dagster_run.status) for r in records]
                time.sleep(0.5)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    by_partition: dict[str, list] = {}
    for record in records:
        by_partition.setdefault(record.dagster_run.tags["dagster/partition"], []).append(record)
    eng_schedule, eng_webhook = by_partition["acme-eng"]
    [ops] = by_partition["acme-ops"]
    assert not overlaps(eng_schedule, eng_webhook)  # the same workspace: one after the other
    assert overlaps(ops, eng_schedule) or overlaps(ops, eng_webhook)  # another workspace: side by side
