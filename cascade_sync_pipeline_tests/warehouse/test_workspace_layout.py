"""The per-workspace warehouse layout: each workspace's runs write their own DuckDB file (so a run of
one workspace never waits for another's), and the catalog reads them all as one warehouse."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import pytest

from cascade_sync_pipeline import cli
from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_pipeline.warehouse.catalog import open_catalog
from cascade_sync_pipeline.warehouse.store import LOCK_TIMEOUT_ENV, Warehouse, WarehouseLockTimeout
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, small_dataset, start_emulator

HOLD = """
import sys, time
from cascade_sync_pipeline.warehouse.store import Warehouse
with Warehouse(sys.argv[1]).connect():
    print("holding", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def two_workspaces(tmp_path, monkeypatch):
    dataset = small_dataset(5, tasks_per_team=60)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    team_ids = list(dataset.teams)
    for i, team_id in enumerate(team_ids):
        monkeypatch.setenv(f"TEST_CLICKUP_TOKEN_{i + 1}", dataset.grant([team_id]))
    raw = clickup_config(server.url, team_ids).model_dump(mode="json", exclude_none=True)
    raw["warehouse"] = {"layout": "per_workspace", "path": str(tmp_path / "warehouse")}
    yield dataset, parse_config(raw)
    server.stop()


def sync(config, key: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        build_clickup_assets(config, workspace_partitions(config, "clickup")).assets,
        partition_key=key,
        resources={
            "warehouse": WarehouseResource(path=config.duckdb_path, layout=config.warehouse.layout),
            "clickup": ClickUpResource(),
        },
        run_config={"ops": {"clickup_raw_extract": {"config": {"mode": "full"}}}},
        raise_on_error=False,
    )


def test_each_workspace_writes_its_own_file_and_the_catalog_reads_them_as_one(two_workspaces, tmp_path, capsys):
    dataset, config = two_workspaces
    for key in ("team-1", "team-2"):
        assert sync(config, key).success
    files = config.warehouse_files()
    assert files == {key: tmp_path / "warehouse" / f"{key}.duckdb" for key in ("team-1", "team-2")}
    for key, path in files.items():
        with Warehouse(path).connect(read_only=True) as con:
            assert con.execute("SELECT DISTINCT workspace FROM staging.work_items").fetchall() == [(key,)]

    expected = {
        f"team-{i + 1}": sum(1 for t in dataset.tasks.values() if str(t.team_id) == team)
        for i, team in enumerate(dataset.teams)
    }
    with open_catalog(files) as con:
        counts = dict(con.execute("SELECT workspace, count(*) FROM staging.work_items GROUP BY ALL").fetchall())
        assert counts == expected
        with pytest.raises(Exception, match="read-only"):  # the files are attached read-only
            con.execute("DELETE FROM w0.staging.work_items")

    assert (
        cli.main(
            [
                "--config",
                str(_write(config, tmp_path)),
                "warehouse",
                "sql",
                "SELECT workspace, count(*) AS n FROM staging.work_items GROUP BY ALL ORDER BY 1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert all(f"| {key} " in printed and str(n) in printed for key, n in expected.items()), printed


def test_a_run_of_one_workspace_does_not_wait_for_another_workspaces_lock(two_workspaces, monkeypatch):
    _, config = two_workspaces
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(config.warehouse_path("team-1"))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "2")
        started = time.monotonic()
        assert sync(config, "team-2").success  # its own file: no wait
        assert time.monotonic() - started < 30
        with pytest.raises(WarehouseLockTimeout):  # the held workspace's own file still waits, and says why
            with Warehouse(config.warehouse_path("team-1")).connect():
                pass
    finally:
        holder.kill()
        holder.wait()


def _write(config, tmp_path):
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True)))
    return path
