"""The extract of a webhook run (`items`): only the named tasks, one request each, within the
workspace's scope; the hierarchy, the field definitions and the watermark stay as the last read left them."""

from __future__ import annotations

import dagster as dg
import pytest

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline_tests.support.clickup_setup import clickup_config, small_dataset, start_emulator


@pytest.fixture
def scoped(tmp_path, monkeypatch):
    dataset = small_dataset(11, tasks_per_team=40)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    team_ids = list(dataset.teams)
    monkeypatch.setenv("TEST_CLICKUP_TOKEN_1", dataset.grant(team_ids))  # the token sees both teams
    home = sorted({t.list_id for t in dataset.tasks.values() if str(t.team_id) == team_ids[0]})[0]
    config = clickup_config(server.url, team_ids[:1], scope={"lists": [home]}, duckdb=str(tmp_path / "wh.duckdb"))
    yield dataset, emulator, config, home
    server.stop()


def run(config, extract: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        build_clickup_assets(config, workspace_partitions(config, "clickup")).assets,
        partition_key="team-1",
        resources={"warehouse": WarehouseResource(path=config.duckdb_path), "clickup": ClickUpResource()},
        run_config={"ops": {"clickup_raw_extract": {"config": extract}}},
        raise_on_error=False,
    )


def state(config):
    with Warehouse(config.duckdb_path).connect(read_only=True) as con:
        return {
            "tasks": con.execute("SELECT task_id, payload->>'name' FROM raw.clickup_tasks ORDER BY 1").fetchall(),
            "hierarchy": con.execute("SELECT count(*), max(extracted_at) FROM raw.clickup_hierarchy").fetchall(),
            "watermark": con.execute("SELECT watermark FROM sync.extract_state").fetchall(),
            "staged": con.execute("SELECT item_id, title FROM staging.work_items ORDER BY 1").fetchall(),
        }


def test_only_the_named_tasks_in_scope_are_read_and_nothing_else_moves(scoped):
    dataset, emulator, config, home = scoped
    team = config.workspace("team-1").team_id
    assert run(config, {"mode": "full"}).success
    inside = sorted(t.id for t in dataset.tasks.values() if t.list_id == home and not t.parent)[0]
    other_list = next(t.id for t in dataset.tasks.values() if str(t.team_id) == team and t.list_id != home)
    other_team = next(t.id for t in dataset.tasks.values() if str(t.team_id) != team)
    for task_id in (inside, other_list, other_team):
        emulator.update_task(task_id, name=f"Renamed {task_id}")
    before, requests = state(config), len(emulator.log.entries)

    assert run(config, {"mode": "items", "item_ids": [inside, other_list, other_team]}).success
    assert [(m, p) for m, p, *_ in emulator.log.entries[requests:]] == [
        ("GET", f"/api/v2/task/{task_id}") for task_id in (inside, other_list, other_team)
    ]
    after = state(config)
    assert (after["hierarchy"], after["watermark"]) == (before["hierarchy"], before["watermark"])
    changed = set(after["staged"]) - set(before["staged"])
    assert changed == {(inside, f"Renamed {inside}")}  # out of scope and other Workspace: no row moves

    emulator.delete_task(inside)
    assert run(config, {"mode": "items", "item_ids": [inside]}).success
    assert inside not in {item for item, _ in state(config)["staged"]}
