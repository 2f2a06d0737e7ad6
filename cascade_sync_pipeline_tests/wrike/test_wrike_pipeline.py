"""Wrike into staging end to end: Dagster assets over real HTTP against the emulator, compared
field by field with the generator's ground truth; request budgets; incremental runs; partition
isolation; OAuth; failures that name the workspace and the fix."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline.definitions import build_definitions
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike import authorize_url, exchange_code
from cascade_sync_pipeline_tests.support.helpers import failure_message
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_pipeline_tests.support.wrike_setup import (
    STAGING_KEYS,
    differences,
    materialize,
    metadata,
    small_dataset,
    staged,
    start_emulator,
    token_env,
    wrike_config,
)
from cascade_sync_sandbox.wrike.generator import expected_staging

pytestmark = pytest.mark.slow  # every test materializes the Wrike assets through Dagster

PAGE = 1000
SANDBOX_CONFIG = REPO_ROOT / "config" / "sandbox.yaml"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Two Wrike accounts (wrike-1, wrike-2), each on its own emulator."""
    datasets = [small_dataset(11), small_dataset(12, tasks=150)]
    running = [start_emulator(ds, rate_limit=100_000) for ds in datasets]
    for i, ds in enumerate(datasets, start=1):
        monkeypatch.setenv(token_env(i), ds.permanent_token)
    config = wrike_config([server.url for _, server in running], duckdb=str(tmp_path / "wh.duckdb"))
    yield datasets[0], running[0][0], config
    for _, server in running:
        server.stop()


def assert_matches_truth(config, key: str, dataset) -> None:
    truth = expected_staging(dataset, key)
    for table, columns in STAGING_KEYS.items():
        problems = differences(staged(config, table, key), truth[table], columns)
        assert not problems, f"{table}: {len(problems)} differences, first: {problems[:3]}"


def minimum_requests(dataset, *, full: bool, changed: int = 0) -> int:
    """Hierarchy calls (spaces, folder tree, folders by id) + one page per task listing (+ reference lists)."""
    hierarchy = 2 + math.ceil(len(dataset.folders) / 100)
    if not full:
        return hierarchy + len(dataset.spaces) + 1
    live = [t for t in dataset.tasks if t["scope"] == "WsTask"]
    pages = sum(
        max(1, math.ceil(sum(1 for t in live if set(t["parentIds"]) & _subtree(dataset, s["id"])) / PAGE))
        for s in dataset.spaces
    )
    return hierarchy + pages + 1 + 3


def _subtree(dataset, space_id: str) -> set[str]:
    found, frontier = {space_id}, [space_id]
    while frontier:
        frontier = [f["id"] for f in dataset.folders if f["parentIds"][0] in frontier]
        found.update(frontier)
    return found


def test_staging_matches_ground_truth_field_by_field(world):
    dataset, emulator, config = world
    result = materialize(config, "wrike-1")
    assert result.success
    assert_matches_truth(config, "wrike-1", dataset)
    items = staged(config, "work_items", "wrike-1")
    assert {r["item_type"] for r in items} == {"project", "task", "subtask", "milestone"}
    assert {r["status_category"] for r in items} == {"not_started", "in_progress", "done", "deferred", "cancelled"}
    assert any(r["is_archived"] for r in items) and any(r["cascade_id"] for r in items)
    values = {r["field_type"] for r in staged(config, "custom_field_values", "wrike-1")}
    assert {"Contacts", "Multiple", "Currency", "Percentage", "Numeric", "DropDown", "Date", "Checkbox"} <= values


def test_requests_full_then_unchanged_incremental(world):
    dataset, emulator, config = world
    full = metadata(materialize(config, "wrike-1"))
    assert full["wrike/raw_tasks"]["mode"] == "full"
    assert full["wrike/raw_tasks"]["requests"] == emulator.log.count() == minimum_requests(dataset, full=True)
    assert all(full[f"wrike/raw_{name}"]["refreshed"] for name in ("custom_fields", "workflows", "contacts"))
    raw = full["wrike/raw_tasks"]["dagster/row_count"]
    assert raw == len(dataset.tasks) == full["wrike/work_items"]["dagster/row_count"] - len(dataset.projects)

    emulator.log.clear()
    again = metadata(materialize(config, "wrike-1"))  # auto: the full read is recent, so incremental
    assert again["wrike/raw_tasks"]["mode"] == "incremental"
    assert again["wrike/raw_tasks"]["requests"] == emulator.log.count() == minimum_requests(dataset, full=False)
    assert not any(again[f"wrike/raw_{name}"]["refreshed"] for name in ("custom_fields", "workflows", "contacts"))
    assert emulator.log.count(path=r"/(customfields|workflows|contacts)$") == 0
    assert again["wrike/raw_tasks"]["tasks_read"] < 5  # only the overlap window
    assert_matches_truth(config, "wrike-1", dataset)


def test_incremental_run_applies_changes_deletions_and_new_tasks(world):
    dataset, emulator, config = world
    assert materialize(config, "wrike-1").success
    live = [t for t in emulator.dataset.tasks if t["scope"] == "WsTask" and not t["subTaskIds"]]
    changed, deleted = live[0], live[1]
    done = next(
        s
        for wf in emulator.dataset.workflows
        for s in wf["customStatuses"]
        if s["group"] == "Completed" and emulator.workflow_of(changed) is wf
    )
    emulator.update_task(changed["id"], title="Renamed since the last run", customStatusId=done["id"])
    emulator.delete_task(deleted["id"])
    created = emulator.create_task(dataset.projects[0]["id"], "Created since the last run")

    emulator.log.clear()
    result = metadata(materialize(config, "wrike-1", mode="incremental"))
    assert result["wrike/raw_tasks"]["mode"] == "incremental"
    assert emulator.log.count(path=r"/tasks$") == len(dataset.spaces) + 1  # one page per listing
    rows = {r["item_id"]: r for r in staged(config, "work_items", "wrike-1")}
    assert rows[changed["id"]]["title"] == "Renamed since the last run"
    assert rows[changed["id"]]["status_category"] == "done" and rows[changed["id"]]["completed_at"]
    assert rows[deleted["id"]]["is_archived"]
    assert rows[created["id"]]["item_type"] == "task" and rows[created["id"]]["status_category"] == "not_started"
    assert_matches_truth(config, "wrike-1", emulator.dataset)


def test_incremental_run_rereads_a_reference_list_only_when_needed(world):
    dataset, emulator, config = world
    assert materialize(config, "wrike-1").success
    newcomer = dict(
        emulator.dataset.contacts[0],
        id="KUANEW01",
        firstName="Nadia",
        lastName="Park",
        primaryEmail="nadia.park@northwind.example",
        me=False,
    )
    emulator.dataset.contacts.append(newcomer)
    task = next(t for t in emulator.dataset.tasks if t["scope"] == "WsTask")
    emulator.update_task(task["id"], responsibleIds=["KUANEW01"])

    emulator.log.clear()
    result = metadata(materialize(config, "wrike-1"))
    assert result["wrike/raw_contacts"]["refreshed"] and not result["wrike/raw_workflows"]["refreshed"]
    assert emulator.log.count(path=r"/contacts$") == 1 and emulator.log.count(path=r"/workflows$") == 0
    users = {r["user_id"]: r for r in staged(config, "users", "wrike-1")}
    assert users["KUANEW01"]["email"] == "nadia.park@northwind.example"
    assert_matches_truth(config, "wrike-1", emulator.dataset)


def test_partitions_are_isolated(world):
    dataset, emulator, config = world
    assert materialize(config, "wrike-1").success
    assert materialize(config, "wrike-2").success
    before = {t: staged(config, t, "wrike-2") for t in STAGING_KEYS}
    assert before["work_items"] and before["users"]
    task = next(t for t in emulator.dataset.tasks if t["scope"] == "WsTask")
    emulator.update_task(task["id"], title="Renamed by the isolation test")
    assert materialize(config, "wrike-1", mode="full").success
    assert {t: staged(config, t, "wrike-2") for t in STAGING_KEYS} == before
    titles = {r["item_id"]: r["title"] for r in staged(config, "work_items", "wrike-1")}
    assert titles[task["id"]] == "Renamed by the isolation test"
    with Warehouse(config.duckdb_path).connect() as con:
        sources = con.execute("SELECT DISTINCT source FROM staging.work_items").fetchall()
    assert sources == [("wrike",)]


def test_rate_limited_run_waits_and_completes(tmp_path, monkeypatch):
    dataset = small_dataset(13, tasks=120)
    emulator, server = start_emulator(dataset, rate_limit=4, rate_window=1.0)
    monkeypatch.setenv(token_env(1), dataset.permanent_token)
    config = wrike_config([server.url], duckdb=str(tmp_path / "wh.duckdb"))
    try:
        raw = metadata(materialize(config, "wrike-1"))["wrike/raw_tasks"]
    finally:
        server.stop()
    assert raw["rate_limited_responses"] > 0 and emulator.log.count(status=429) == raw["rate_limited_responses"]
    assert_matches_truth(config, "wrike-1", dataset)


def test_oauth_workspace_refreshes_an_expired_access_token(tmp_path, monkeypatch):
    dataset = small_dataset(14, tasks=80)
    emulator, server = start_emulator(dataset, rate_limit=100_000)
    store = tmp_path / "wrike.tokens.json"
    monkeypatch.setenv("TEST_WRIKE_CLIENT_ID", dataset.oauth_client_id)
    monkeypatch.setenv("TEST_WRIKE_CLIENT_SECRET", dataset.oauth_client_secret)
    oauth = {
        "client_id_env": "TEST_WRIKE_CLIENT_ID",
        "client_secret_env": "TEST_WRIKE_CLIENT_SECRET",
        "token_store": str(store),
        "login_url": server.url,
    }
    config = wrike_config([server.url], duckdb=str(tmp_path / "wh.duckdb"), oauth=oauth)
    try:
        redirect = "http://localhost:9/callback"
        answer = httpx.get(authorize_url(dataset.oauth_client_id, redirect, "s", login_url=server.url))
        code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
        exchange_code(
            code,
            client_id=dataset.oauth_client_id,
            client_secret=dataset.oauth_client_secret,
            store=store,
            redirect_uri=redirect,
            login_url=server.url,
            workspace="wrike-1",
        )
        first = store.read_text()
        emulator.expire_access_tokens()
        result = materialize(config, "wrike-1")
    finally:
        server.stop()
    assert result.success
    assert emulator.log.count(status=401) == 1 and store.read_text() != first  # refreshed, rotation saved
    assert_matches_truth(config, "wrike-1", dataset)


def test_failures_name_the_workspace_code_and_fix_without_the_token(world, monkeypatch):
    dataset, emulator, config = world
    monkeypatch.delenv(token_env(1))
    missing = failure_message(materialize(config, "wrike-1", raise_on_error=False))
    assert "workspace 'wrike-1'" in missing and token_env(1) in missing and "permanent" in missing

    monkeypatch.setenv(token_env(1), dataset.permanent_token)
    emulator.revoke_token(dataset.permanent_token)
    result = materialize(config, "wrike-1", raise_on_error=False)
    message = failure_message(result)
    assert not result.success
    assert "workspace 'wrike-1'" in message and "not_authorized" in message and token_env(1) in message
    assert dataset.permanent_token not in message
    assert not staged(config, "work_items", "wrike-1")


def test_code_location_gives_wrike_its_own_partitions():
    defs = build_definitions(load_config(SANDBOX_CONFIG))
    wrike_keys = [ws.key for ws in load_config(SANDBOX_CONFIG).workspaces_of("wrike")]
    assert wrike_keys
    assert defs.resolve_job_def("wrike_sync").partitions_def.get_partition_keys() == wrike_keys
    assert not set(wrike_keys) & set(defs.resolve_job_def("clickup_sync").partitions_def.get_partition_keys())
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {"wrike/raw_tasks", "wrike/raw_hierarchy", "wrike/work_items", "wrike/users"} <= set(specs)
    assert all(
        s.group_name == "wrike" and s.owners and s.description for k, s in specs.items() if k.startswith("wrike/")
    )
