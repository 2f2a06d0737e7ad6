"""A backfill of every workspace through Dagster's own daemon: the runs of both sources go side by
side into one DuckDB file without lock failures, and one workspace's failure stops no other."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from cascade_sync_pipeline.config import parse_config
from cascade_sync_sandbox.company import start_sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def sandbox_config(sandbox) -> dict:
    """config/sandbox.yaml pointed at a sandbox served on free ports."""
    data = yaml.safe_load((ROOT / "config/sandbox.yaml").read_text())
    ports = {"clickup": "8701", "wrike": "8702", "cascade": "8703"}
    for name, port in ports.items():
        real = str(sandbox.servers[name].port)
        for section in [data["cascade"], *data["workspaces"]]:
            section["base_url"] = re.sub(rf":{port}(?=/|$)", f":{real}", section["base_url"])
    return data


@pytest.fixture
def backfill_env(tmp_path, monkeypatch):
    sandbox = start_sandbox(clickup_tasks_per_team=150, ports={"clickup": 0, "wrike": 0, "cascade": 0})
    data = sandbox_config(sandbox)
    config_path = tmp_path / "sync.yaml"
    config_path.write_text(yaml.safe_dump(data))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config/dagster.yaml", home / "dagster.yaml")
    env = dict(
        os.environ,
        **sandbox.env_for(parse_config(data)),
        DAGSTER_HOME=str(home),
        CASCADE_SYNC_CONFIG=str(config_path),
        CASCADE_SYNC_DUCKDB=str(tmp_path / "wh.duckdb"),
        CASCADE_SYNC_WEBHOOK_INBOX=str(tmp_path / "inbox.sqlite"),
    )
    env.pop("CLICKUP_TOKEN_ACME_OPS")  # this workspace will fail; the others must not care
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield env, tmp_path
    sandbox.stop()


def test_backfill_of_every_partition(backfill_env):
    env, tmp_path = backfill_env
    target = ["-m", "cascade_sync_pipeline.definitions"]
    for job in ("clickup_sync", "wrike_sync"):
        subprocess.run(
            [str(BIN / "dagster"), "job", "backfill", *target, "-j", job, "--all", "all", "--noprompt"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", *target],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 240
            while True:
                runs = [r for r in instance.get_runs() if r.tags.get("dagster/backfill")]
                if len(runs) == 3 and all(r.status in TERMINAL for r in runs):
                    break
                assert time.monotonic() < deadline, [(r.tags.get("dagster/partition"), r.status) for r in runs]
                time.sleep(1)
            status = {r.tags["dagster/partition"]: r.status for r in runs}
            assert status == {
                "acme-product": dg.DagsterRunStatus.SUCCESS,
                "acme-delivery": dg.DagsterRunStatus.SUCCESS,
                "acme-ops": dg.DagsterRunStatus.FAILURE,
            }
            failed = next(r for r in runs if r.tags["dagster/partition"] == "acme-ops")
            messages = " ".join(
                str(e.dagster_event.event_specific_data.error)
                for e in instance.all_logs(failed.run_id)
                if e.dagster_event and e.dagster_event.is_step_failure
            )
            assert "CLICKUP_TOKEN_ACME_OPS is not set" in messages
            for run in runs:
                logs = " ".join(e.user_message for e in instance.all_logs(run.run_id))
                assert "Could not set lock" not in logs and "Conflicting lock" not in logs
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    counts = dict(con.execute("SELECT workspace, count(*) FROM staging.work_items GROUP BY 1").fetchall())
    con.close()
    assert counts.get("acme-product", 0) > 0 and counts.get("acme-delivery", 0) > 0
    assert "acme-ops" not in counts
