"""Wrike into Cascade over real HTTP (Wrike and Cascade emulators): projects become objectives in the
configured plan and focus area, their tasks actions under them, Cascade IDs go back into the Wrike
tasks' custom field, and a re-run writes nothing."""

from __future__ import annotations


import dagster as dg
import pytest

from cascade_sync_pipeline.sync.assets import build_cascade_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.definitions import STAGING_TABLES
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import CascadeResource, WarehouseResource, WrikeResource
from cascade_sync_pipeline.sandbox.cascade import SANDBOX_TOKEN, CascadeEmulator
from cascade_sync_pipeline.sandbox.company import sandbox_people
from cascade_sync_pipeline.sandbox.wrike import WrikeEmulator, expected_staging, generate
from cascade_sync_pipeline.wrike.assets import build_wrike_assets

KEY = "wrike-1"
PROJECTS = ["Mobile App Relaunch", "EMEA Expansion"]
FALLBACK = {"not_started": "To Do", "in_progress": "In Progress", "done": "Done", "deferred": "On Hold",
            "cancelled": "Won't Do"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    dataset = generate(11, tasks=150)
    wrike = WrikeEmulator(dataset, rate_limit=100_000)
    cascade = CascadeEmulator(users=sandbox_people(wrike_dataset=dataset), rate_limit=100_000)
    servers = [wrike.serve(port=0), cascade.serve(port=0)]
    monkeypatch.setenv("TEST_WRIKE_TOKEN", dataset.permanent_token)
    monkeypatch.setenv("TEST_CASCADE_TOKEN", SANDBOX_TOKEN)
    config = parse_config({
        "warehouse": {"path": str(tmp_path / "wh.duckdb")},
        "cascade": {"api": "contract", "base_url": servers[1].url + "/api/v2", "token_env": "TEST_CASCADE_TOKEN"},
        "workspaces": [{"key": KEY, "source": "wrike", "base_url": servers[0].url + "/api/v4",
                        "token_env": "TEST_WRIKE_TOKEN",
                        "mapping": {"containers": PROJECTS,
                                    "target": {"plan": "FY2027 Strategy", "focus_area": "Grow Revenue"},
                                    "status_rules": {"failed": "Won't Do"},
                                    "custom_fields": {"Budget": "Budget", "Story Points": "Story Points"}}}]})
    yield dataset, wrike, cascade, config
    for server in servers:
        server.stop()


def sync(config, cascade: CascadeEmulator) -> tuple[dg.ExecuteInProcessResult, int]:
    partitions = workspace_partitions(config, "wrike")
    source = build_wrike_assets(config, partitions)
    staging = [key for a in source for key in a.keys if key.path[-1] in STAGING_TABLES]
    assets = source + build_cascade_assets(config, "wrike", partitions, staging)
    writes = cascade.writes
    result = dg.materialize(assets, partition_key=KEY, raise_on_error=False, resources={
        "warehouse": WarehouseResource(path=config.duckdb_path), "wrike": WrikeResource(),
        "cascade": CascadeResource.from_connection(config.cascade)})
    return result, cascade.writes - writes


def synced(cascade: CascadeEmulator, kind: str) -> dict[str, dict]:
    return {i["external_ref"]["item_id"]: i for i in cascade.items(kind)
            if (i.get("external_ref") or {}).get("workspace") == KEY}


def test_projects_become_objectives_and_their_tasks_actions(world):
    dataset, wrike, cascade, config = world
    result, writes = sync(config, cascade)
    assert result.success, [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]

    truth = expected_staging(dataset, KEY)["work_items"]
    projects = {r["item_id"]: r for r in truth if r["item_type"] == "project" and r["title"] in PROJECTS}
    tasks = {r["item_id"]: r for r in truth if r["item_type"] in ("task", "milestone")
             and r["container_id"] in projects and not r["is_archived"]}
    plan = next(p for p in cascade.items("plan") if p["name"] == "FY2027 Strategy")
    area = next(a for a in cascade.items("focus_area") if a["name"] == "Grow Revenue")
    objectives, actions = synced(cascade, "objective"), synced(cascade, "action")
    assert set(objectives) == set(projects) and set(actions) == set(tasks)
    emails = {c["id"]: c.get("primaryEmail") for c in dataset.contacts}
    users = {u["email"]: u["id"] for u in cascade.items("user")}
    for item_id, project in projects.items():
        objective = objectives[item_id]
        assert (objective["name"], objective["plan_id"], objective["focus_area_id"]) == \
            (project["title"], plan["id"], area["id"])
        assert objective["status"] == FALLBACK[project["status_category"]]
        assert objective["owner_ids"] == [users[emails[project["assignee_ids"][0]]]]
    for item_id, task in tasks.items():
        action = actions[item_id]
        want = "Won't Do" if task["status"] == "Failed" else FALLBACK[task["status_category"]]
        assert (action["name"], action["status"]) == (task["title"], want)
        assert action["objective_id"] == objectives[task["container_id"]]["id"]
    assert writes == len(objectives) + len(actions)
    budgets = {r["item_id"]: float(r["value"]) for r in expected_staging(dataset, KEY)["custom_field_values"]
               if r["field_name"] == "Budget" and r["item_id"] in projects}
    assert {k: {v["name"]: v["value"] for v in o["custom_field_values"]}.get("Budget") for k, o in objectives.items()} \
        == {k: budgets.get(k) for k in projects}

    field_id = next(f["id"] for f in wrike.dataset.custom_fields if f["title"] == "Cascade ID")
    held = {t["id"]: next((cf["value"] for cf in t.get("customFields", []) if cf["id"] == field_id), None)
            for t in wrike.dataset.tasks if t["id"] in tasks}
    assert held == {k: str(a["id"]) for k, a in actions.items()}

    wrike.log.clear()
    again, writes = sync(config, cascade)
    assert again.success and writes == 0
    assert wrike.log.count("PUT") == 0
