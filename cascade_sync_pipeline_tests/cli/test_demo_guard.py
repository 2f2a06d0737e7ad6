"""The demo forgets the sync state of the workspaces it runs, so it refuses any endpoint that is not
the sandbox on this machine, and never writes the warehouse CASCADE_SYNC_DUCKDB names."""

from __future__ import annotations

import pytest
import yaml

from cascade_sync_pipeline.cli import main
from cascade_sync_pipeline.config import DUCKDB_ENV, load_config
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_sandbox.commands import sandbox_only

ROOT = REPO_ROOT


@pytest.mark.parametrize(
    "where, url",
    [
        ("cascade", "https://integrations-region-redirect.go.cascade.app"),
        ("workspace", "https://api.clickup.com/api/v2"),
        ("workspace", "http://127.0.0.1:9999/api/v2"),
    ],
)
def test_demo_refuses_endpoints_outside_the_sandbox(tmp_path, capsys, where, url):
    data = yaml.safe_load((ROOT / "config/sandbox.yaml").read_text())
    (data["cascade"] if where == "cascade" else data["workspaces"][0])["base_url"] = url
    path = tmp_path / "prod.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["--config", str(path), "demo"]) == 2
    err = capsys.readouterr().err
    assert url in err and ("cascade.base_url" if where == "cascade" else "key=acme-product") in err


def test_demo_uses_its_own_warehouse(monkeypatch, capsys):
    monkeypatch.setenv(DUCKDB_ENV, "/srv/production/cascade_sync.duckdb")
    config = sandbox_only(load_config(ROOT / "config/sandbox.yaml"))
    assert config.duckdb_path == config.warehouse.path != "/srv/production/cascade_sync.duckdb"
    assert "ignored" in capsys.readouterr().out


@pytest.mark.slow
def test_a_terminal_sync_refuses_a_workspace_another_run_is_syncing(tmp_path, monkeypatch):
    """Runs started from a terminal do not pass the run queue, so they check for a run of the same
    workspace in progress and refuse, naming it; other workspaces are not held up."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    from cascade_sync_pipeline.cli.syncing import sync_workspaces

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    config = load_config(ROOT / "config/sandbox.yaml")
    with _instance(tmp_path) as instance:
        instance.add_run(
            DagsterRun(
                job_name="clickup_sync",
                run_id="0f1e2d3c-busy",
                status=DagsterRunStatus.STARTED,
                tags={"dagster/partition": "acme-product"},
            )
        )
        instance.report_engine_event("syncing", instance.get_run_by_id("0f1e2d3c-busy"))
    outcome = sync_workspaces(config, ["acme-product"])["acme-product"]
    assert not outcome["success"] and "0f1e2d3c-busy" in outcome["error"] and "acme-product" in outcome["error"]


def _instance(tmp_path):
    import dagster as dg

    from cascade_sync_pipeline.orchestration.instance import dagster_home

    dagster_home()
    return dg.DagsterInstance.get()


@pytest.mark.slow
def test_a_run_whose_terminal_process_died_does_not_block_the_workspace(tmp_path, monkeypatch):
    """A sync killed in a terminal leaves its run STARTED; the next one marks it failed and goes on."""
    import subprocess
    import sys

    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    from cascade_sync_pipeline.orchestration.instance import HOST_TAG, PID_TAG, running_elsewhere

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with _instance(tmp_path) as instance:
        instance.add_run(
            DagsterRun(
                job_name="clickup_sync",
                run_id="0f1e2d3c-dead",
                status=DagsterRunStatus.STARTED,
                tags={"dagster/partition": "acme-product", PID_TAG: dead, HOST_TAG: __import__("socket").gethostname()},
            )
        )
        assert running_elsewhere(instance, "acme-product") is None
        assert instance.get_run_by_id("0f1e2d3c-dead").status == DagsterRunStatus.FAILURE


@pytest.mark.slow
def test_an_untagged_run_silent_for_long_does_not_block_but_a_live_one_does(tmp_path, monkeypatch):
    """A STARTED run without the terminal's process tag (left by an older version, or launched
    elsewhere) blocks the workspace only while it still records events."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    from cascade_sync_pipeline.orchestration import instance as cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with _instance(tmp_path) as instance:
        instance.add_run(
            DagsterRun(
                job_name="clickup_sync",
                run_id="0f1e2d3c-quiet",
                status=DagsterRunStatus.STARTED,
                tags={"dagster/partition": "acme-product"},
            )
        )
        assert cli.running_elsewhere(instance, "acme-product") is None  # no event at all
        instance.report_engine_event("still working", instance.get_run_by_id("0f1e2d3c-quiet"))
        assert "0f1e2d3c-quiet" in cli.running_elsewhere(instance, "acme-product")
        monkeypatch.setattr(cli, "STALE_AFTER_S", -1)
        assert cli.running_elsewhere(instance, "acme-product") is None
