"""Every raw upsert keeps the newer version of a task: an extract read before a change but written after
a newer one (two overlapping runs of one workspace) never overwrites it, and a full read removes only
what was stored before it began. Real reads over HTTP from the emulators, our loaders into DuckDB."""

from __future__ import annotations

import pytest

from cascade_sync_pipeline.clickup import load as clickup_load
from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.clickup.extract import extract_workspace
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike import load as wrike_load
from cascade_sync_pipeline.wrike.client import WrikeClient
from cascade_sync_pipeline.wrike.extract import extract_account
from cascade_sync_pipeline_tests.support import wrike_setup
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, start_emulator
from cascade_sync_sandbox.clickup.generator import generate


@pytest.fixture
def clickup(tmp_path, monkeypatch):
    dataset = generate(9, teams=1, tasks_per_team=30)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    team_id = next(iter(dataset.teams))
    monkeypatch.setenv("TEST_CLICKUP_TOKEN_1", dataset.grant([team_id]))
    config = clickup_config(server.url, [team_id], duckdb=str(tmp_path / "wh.duckdb"))
    yield emulator, config
    server.stop()


def read_clickup(config, since_ms=None):
    ws = config.workspaces[0]
    with ClickUpClient.for_workspace(ws) as client:
        return extract_workspace(client, ws, since_ms=since_ms)


def test_an_older_clickup_extract_written_last_keeps_the_newer_rows(clickup):
    emulator, config = clickup
    ws = config.workspaces[0]
    first = read_clickup(config)
    with Warehouse(config.duckdb_path).connect() as con:
        clickup_load.write_raw(con, ws.key, first)
    target = max(first.tasks, key=lambda t: int(t["date_updated"]))["id"]  # in every incremental read below

    older_incremental = read_clickup(config, since_ms=first.max_updated_ms)
    older_full = read_clickup(config)
    emulator.update_task(target, name="Renamed after the older reads")
    created = emulator.create_task(first.tasks[0]["list"]["id"], name="Created after the older reads")
    newer = read_clickup(config, since_ms=first.max_updated_ms)
    assert {t["id"] for t in newer.tasks} >= {target, created}

    with Warehouse(config.duckdb_path).connect() as con:
        clickup_load.write_raw(con, ws.key, newer)
        clickup_load.write_raw(con, ws.key, older_incremental)  # the slower run finishes last
        assert older_incremental.written["kept_newer"] >= 1
        clickup_load.write_raw(con, ws.key, older_full)  # and a full read that began before both
        assert older_full.written["kept_newer"] >= 1 and older_full.written["removed"] == 0
        clickup_load.build_staging(con, ws)
        raw = dict(
            con.execute(
                "SELECT task_id, payload ->> 'name' FROM raw.clickup_tasks WHERE workspace = 'team-1'"
            ).fetchall()
        )
        staged = dict(
            con.execute("SELECT item_id, title FROM staging.work_items WHERE workspace = 'team-1'").fetchall()
        )
    assert raw[target] == staged[target] == "Renamed after the older reads"
    assert staged[created] == "Created after the older reads"  # stored after the full read began: kept


def test_a_full_clickup_read_still_removes_what_was_deleted_before_it(clickup):
    emulator, config = clickup
    ws = config.workspaces[0]
    first = read_clickup(config)
    with Warehouse(config.duckdb_path).connect() as con:
        clickup_load.write_raw(con, ws.key, first)
    doomed = next(t["id"] for t in first.tasks if not t.get("parent") and not emulator.subtasks_of(t["id"]))
    emulator.delete_task(doomed)
    later = read_clickup(config)
    with Warehouse(config.duckdb_path).connect() as con:
        clickup_load.write_raw(con, ws.key, later)
        ids = {r[0] for r in con.execute("SELECT task_id FROM raw.clickup_tasks WHERE workspace = 'team-1'").fetchall()}
    assert later.written["removed"] == 1 and doomed not in ids and len(ids) == len(first.tasks) - 1


def test_an_older_wrike_extract_written_last_keeps_the_newer_rows(tmp_path, monkeypatch):
    dataset = wrike_setup.small_dataset(11, tasks=120)
    emulator, server = wrike_setup.start_emulator(dataset, rate_limit=100_000)
    monkeypatch.setenv(wrike_setup.token_env(1), dataset.permanent_token)
    config = wrike_setup.wrike_config([server.url], duckdb=str(tmp_path / "wh.duckdb"))
    ws = config.workspaces[0]
    try:

        def read(since=None):
            with WrikeClient.from_workspace(ws) as client:
                return extract_account(client, ws, since=since)

        first = read()
        with Warehouse(config.duckdb_path).connect() as con:
            wrike_load.write_raw(con, ws.key, first)
        live = [t for t in first.tasks if t["scope"] == "WsTask"]
        target = sorted(live, key=lambda t: t["updatedDate"])[0]["id"]  # the oldest: the change makes it newer
        older_full = read()
        emulator.update_task(target, title="Renamed after the older read")
        newer = read(since=first.max_updated)
        assert target in {t["id"] for t in newer.tasks}
        with Warehouse(config.duckdb_path).connect() as con:
            wrike_load.write_raw(con, ws.key, newer)
            wrike_load.write_raw(con, ws.key, older_full)
            assert older_full.written["kept_newer"] == 1
            wrike_load.build_staging(con, ws)
            title = con.execute(
                "SELECT title FROM staging.work_items WHERE workspace = 'wrike-1' AND item_id = ?", [target]
            ).fetchone()[0]
            watermark = con.execute("SELECT watermark FROM sync.extract_state WHERE workspace = 'wrike-1'").fetchone()[
                0
            ]
        assert title == "Renamed after the older read"
        assert watermark == newer.max_updated
    finally:
        server.stop()
