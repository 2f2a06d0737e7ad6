"""A backfill of every workspace through Dagster's own daemon: the runs of both sources go side by
side without lock failures, and one workspace's failure stops no other. Twice: on the local instance
with the single warehouse file, and on a PostgreSQL instance (config/dagster-postgres.yaml) with one
warehouse file per workspace and the webhook inbox in PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.warehouse.catalog import open_catalog
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_sandbox.company import start_sandbox

pytestmark = pytest.mark.slow  # a backfill through Dagster's own daemon

ROOT = REPO_ROOT
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


@pytest.fixture(params=["local-single-file", "postgres-per-workspace"])
def backfill_env(request, tmp_path, monkeypatch):
    sandbox = start_sandbox(clickup_tasks_per_team=150, ports={"clickup": 0, "wrike": 0, "cascade": 0})
    data = sandbox_config(sandbox)
    home = tmp_path / "dagster_home"
    home.mkdir()
    extra: dict[str, str] = {}
    if request.param == "postgres-per-workspace":
        pg = request.getfixturevalue("postgres")
        data["warehouse"] = {"layout": "per_workspace", "path": str(tmp_path / "warehouse")}
        shutil.copy(ROOT / "config/dagster-postgres.yaml", home / "dagster.yaml")
        db = pg.fresh_database(f"backfill_{tmp_path.name}")
        extra = {**db.env(), "CASCADE_SYNC_WEBHOOK_INBOX": db.url}
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
    else:
        data["warehouse"] = {"path": str(tmp_path / "wh.duckdb")}
        shutil.copy(ROOT / "config/dagster.yaml", home / "dagster.yaml")
        extra = {"CASCADE_SYNC_WEBHOOK_INBOX": str(tmp_path / "inbox.sqlite")}
    config_path = tmp_path / "sync.yaml"
    config_path.write_text(yaml.safe_dump(data))
    env = dict(
        os.environ,
        **sandbox.env_for(parse_config(data)),
        **extra,
        DAGSTER_HOME=str(home),
        CASCADE_SYNC_CONFIG=str(config_path),
    )
    env.pop("CASCADE_SYNC_DUCKDB", None)
    env.pop("CLICKUP_TOKEN_ACME_OPS")  # this workspace will fail; the others must not care
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield env, parse_config(data)
    sandbox.stop()


def test_backfill_of_every_partition(backfill_env):
    env, config = backfill_env
    target = ["-m", "cascade_sync_pipeline.definitions"]
    for job in ("clickup_sync", "wrike_sync"):
        done = subprocess.run(
            [str(BIN / "dagster"), "job", "backfill", *target, "-j", job, "--all", "all", "--noprompt"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
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
                # every step in the run's own process: no step process loads the code location again
                assert not instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    with open_catalog(config.warehouse_files()) as con:
        counts = dict(con.execute("SELECT workspace, count(*) FROM staging.work_items GROUP BY 1").fetchall())
    assert counts.get("acme-product", 0) > 0 and counts.get("acme-delivery", 0) > 0
    assert "acme-ops" not in counts
