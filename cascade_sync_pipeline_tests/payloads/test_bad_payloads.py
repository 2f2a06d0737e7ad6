"""Bad payloads name the item and cost nothing: unreadable or out-of-range timestamps, a task without an
id, a non-string error field, a non-numeric rate-limit header and an answer without its list, served by
the emulators' fault injection over real HTTP; and Wrike status categories and an unlistable Recycle Bin."""

from __future__ import annotations

import dagster as dg
import pytest

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.clickup.client import ClickUpClient, ClickUpError
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.client import WrikeClient
from cascade_sync_pipeline_tests.support import wrike_setup
from cascade_sync_pipeline_tests.support.clickup_setup import STATUS_OVERRIDES, clickup_config, start_emulator
from cascade_sync_pipeline_tests.support.helpers import failure_message
from cascade_sync_pipeline_tests.support.wrike_setup import materialize as materialize_wrike
from cascade_sync_pipeline_tests.support.wrike_setup import small_dataset, staged, token_env, wrike_config
from cascade_sync_sandbox.clickup.generator import expected_staging
from cascade_sync_sandbox.clickup.generator import generate as generate_clickup
from cascade_sync_sandbox.server import Fault


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def rows(config, sql: str, *params):
    with Warehouse(config.duckdb_path).connect() as con:
        return con.execute(sql, list(params)).fetchall()


# --- ClickUp ---------------------------------------------------------------------------------------------------


@pytest.fixture
def clickup(tmp_path, monkeypatch):
    dataset = generate_clickup(7, teams=1, tasks_per_team=40)
    emulator, server = start_emulator(dataset, rate_limit=10_000)
    team_id = next(iter(dataset.teams))
    monkeypatch.setenv("TEST_CLICKUP_TOKEN_1", dataset.grant([team_id]))
    config = clickup_config(server.url, [team_id], duckdb=str(tmp_path / "wh.duckdb"))
    yield dataset, emulator, config, server.url
    server.stop()


def materialize_clickup(config, mode: str = "full") -> dg.ExecuteInProcessResult:
    return dg.materialize(
        build_clickup_assets(config, workspace_partitions(config, "clickup")).assets,
        partition_key="team-1",
        resources={"warehouse": WarehouseResource(path=config.duckdb_path), "clickup": ClickUpResource()},
        run_config={"ops": {"clickup_raw_extract": {"config": {"mode": mode}}}},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_clickup_bad_values_are_left_out_and_a_task_without_id_is_skipped_naming_each(clickup):
    dataset, emulator, config, _ = clickup
    emulator.faults.add(
        Fault(
            kind="edit",
            path=r"/team/\d+/task$",
            edits={
                "tasks.0.date_updated": "not-a-number",
                "tasks.1.due_date": "99999999999999999999",  # past year 9999 (and past BIGINT)
                "tasks.2.date_created": "-99999999999999999",
                "tasks.3.start_date": {"ms": 1},
                "tasks.5": "not a task",
            },
            drop=["tasks.4.id"],
        )
    )
    result = materialize_clickup(config)
    assert result.success, failure_message(result)
    check = check_results(result)["read_problems"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    problems = check.metadata["problems"].value
    listed = {line.split(" | ")[0].strip("| ").strip(): line for line in problems.splitlines()[2:]}
    named = [item for item in listed if item.startswith("task ") and "#" not in item]
    assert len(named) == 4 and check.metadata["items_skipped"].value == 2
    assert any("#5 of the listing" in item for item in listed) and any("#6 of the listing" in item for item in listed)
    staged_items = {
        r[0]: r[1:]
        for r in rows(
            config,
            "SELECT item_id, updated_at, due_at, created_at, start_at "
            "FROM staging.work_items WHERE workspace = 'team-1'",
        )
    }
    by_field = {line.split(" | ")[1]: item for item, line in listed.items() if item in named}
    assert staged_items[by_field["date_updated"].removeprefix("task ")][0] is None
    assert staged_items[by_field["due_date"].removeprefix("task ")][1] is None
    assert staged_items[by_field["date_created"].removeprefix("task ")][2] is None
    assert staged_items[by_field["start_date"].removeprefix("task ")][3] is None
    truth = expected_staging(dataset, next(iter(dataset.teams)), "team-1", status_categories=STATUS_OVERRIDES)
    assert len(staged_items) == len(truth["work_items"]) - 2  # the task without id, the one replaced by a string


@pytest.mark.slow
def test_clickup_answer_without_its_list_stops_before_anything_is_replaced(clickup):
    _, emulator, config, _ = clickup
    assert materialize_clickup(config).success
    before = rows(config, "SELECT count(*) FROM raw.clickup_tasks WHERE workspace = 'team-1'")[0][0]
    assert before > 0
    emulator.faults.add(Fault(kind="edit", path=r"/team/\d+/task$", drop=["tasks"]))
    result = materialize_clickup(config)
    assert not result.success
    message = failure_message(result)
    assert "workspace 'team-1'" in message and "without its 'tasks' list" in message
    assert rows(config, "SELECT count(*) FROM raw.clickup_tasks WHERE workspace = 'team-1'")[0][0] == before
    assert rows(config, "SELECT count(*) FROM staging.work_items WHERE workspace = 'team-1'")[0][0] == before
    emulator.faults.add(Fault(kind="edit", path=r"/space/\d+/folder$", edits={"folders": {"oops": 1}}))
    result = materialize_clickup(config)
    assert not result.success and "without its 'folders' list" in failure_message(result)


def test_clickup_error_fields_that_are_not_text_still_give_the_named_error(clickup):
    _, emulator, config, url = clickup
    emulator.faults.add(
        Fault(kind="status", status=401, path=r"/team$", body='{"err": {"why": ["nested"]}, "ECODE": ["OAUTH_025"]}')
    )
    with ClickUpClient.for_workspace(config.workspaces[0]) as client:
        with pytest.raises(ClickUpError) as err:
            client.teams()
    assert "workspace 'team-1'" in str(err.value) and "HTTP 401" in str(err.value) and "nested" in str(err.value)


@pytest.mark.parametrize("reset", ["soon", "NaN", "inf", "", "1e999"])
def test_clickup_rate_limit_headers_that_are_not_numbers_fall_back_to_a_default_wait(clickup, reset):
    _, emulator, config, _ = clickup
    emulator.faults.add(
        Fault(
            kind="status",
            status=429,
            path=r"/team$",
            headers={"X-RateLimit-Reset": reset},
            body='{"err": "Rate limit reached", "ECODE": "APP_002"}',
        )
    )
    emulator.faults.add(
        Fault(kind="edit", path=r"/team/\d+/space$", headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    )
    waits: list[float] = []
    ws = config.workspaces[0]
    with ClickUpClient.for_workspace(ws, sleep=waits.append) as client:
        assert client.teams() and client.spaces(ws.team_id) is not None
    assert waits[0] == pytest.approx(60.05) and waits[1] == pytest.approx(0.05)


@pytest.mark.slow
def test_clickup_hierarchy_objects_without_their_ids_name_the_object_and_replace_nothing(clickup):
    _, emulator, config, _ = clickup
    assert materialize_clickup(config).success
    before = rows(config, "SELECT count(*) FROM raw.clickup_hierarchy WHERE workspace = 'team-1'")[0][0]
    for path, drop, named in (
        (r"/space/\d+/folder$", "folders.0.id", "a folder"),
        (r"/team/\d+/space$", "spaces.0.id", "a space"),
    ):
        emulator.faults.add(Fault(kind="edit", path=path, drop=[drop]))
        result = materialize_clickup(config)
        assert not result.success
        message = failure_message(result)
        assert "workspace 'team-1'" in message and f"{named} without an id" in message, message
        assert "KeyError" not in message, message
        assert rows(config, "SELECT count(*) FROM raw.clickup_hierarchy WHERE workspace = 'team-1'")[0][0] == before


# --- Wrike -----------------------------------------------------------------------------------------------------


@pytest.fixture
def wrike(tmp_path, monkeypatch):
    dataset = small_dataset(11, tasks=200)
    emulator, server = wrike_setup.start_emulator(dataset, rate_limit=100_000)
    monkeypatch.setenv(token_env(1), dataset.permanent_token)
    config = wrike_config([server.url], duckdb=str(tmp_path / "wh.duckdb"))
    yield dataset, emulator, config
    server.stop()


@pytest.mark.slow
def test_wrike_bad_values_are_left_out_and_a_task_without_id_is_skipped(wrike):
    dataset, emulator, config = wrike
    # Every space's listing (a task listed in two spaces must look the same in both).
    emulator.faults.add(
        Fault(
            kind="edit",
            path=r"/spaces/[^/]+/tasks$",
            times=100,
            edits={
                "data.0.updatedDate": 12345,
                "data.1.dates": {"type": "Planned", "due": "9999-99-99T00:00:00"},
                "data.2.createdDate": "yesterday",
            },
            drop=["data.3.id"],
        )
    )
    result = materialize_wrike(config, "wrike-1", raise_on_error=False)
    assert result.success, failure_message(result)
    check = check_results(result)["read_problems"]
    assert not check.passed and check.metadata["items_skipped"].value >= 1
    problems = check.metadata["problems"].value
    for field in ("| updatedDate | 12345 |", "| dates.due |", '| createdDate | "yesterday" |', "| id | null |"):
        assert field in problems, field
    left_out = [
        line.split(" | ")[0].removeprefix("| task ")
        for line in problems.splitlines()[2:]
        if "staged without it" in line
    ]
    items = {r["item_id"]: r for r in staged(config, "work_items", "wrike-1")}
    assert left_out and all(item in items for item in left_out)  # kept, without the bad value


@pytest.mark.slow
def test_wrike_status_categories_follow_the_size_of_the_active_group_and_config_overrides(wrike, tmp_path):
    dataset, emulator, config = wrike
    statuses = {s["id"]: (s, wf) for wf in dataset.workflows for s in wf["customStatuses"]}
    shipped = next(s for s, wf in statuses.values() if s["name"] == "Shipped")  # by id: this workflow's only
    data = config.model_dump(mode="json", exclude_defaults=True)
    data["workspaces"][0]["status_categories"] = {"In Review": "deferred", shipped["id"]: "cancelled"}
    config = parse_config(data)
    assert materialize_wrike(config, "wrike-1").success
    items = {r["item_id"]: r for r in staged(config, "work_items", "wrike-1")}
    seen = set()
    for task in dataset.tasks:
        status, workflow = statuses[task["customStatusId"]]
        actives = [s for s in workflow["customStatuses"] if s["group"] == "Active"]
        row = items[task["id"]]
        if status["name"] == "In Review":  # by name: in every workflow that has it
            expected = "deferred"
        elif status["id"] == shipped["id"]:
            expected = "cancelled"
        elif status["group"] != "Active":
            continue
        elif len(actives) == 1:
            expected = "in_progress"  # Wrike's default workflow: Active alone means work in progress
        else:
            expected = "not_started" if status["id"] == actives[0]["id"] else "in_progress"
        assert row["status_category"] == expected, (task["id"], status["name"])
        seen.add((status["name"], expected))
    assert {
        ("Active", "in_progress"),
        ("New", "not_started"),
        ("In Review", "deferred"),
        ("Shipped", "cancelled"),
    } <= seen
    other_shipped = [
        t
        for t in dataset.tasks
        if statuses[t["customStatusId"]][0]["name"] == "Shipped" and t["customStatusId"] != shipped["id"]
    ]
    assert all(items[t["id"]]["status_category"] == "done" for t in other_shipped)


@pytest.mark.slow
@pytest.mark.parametrize("status, code", [(403, "access_forbidden"), (404, "resource_not_found")])
def test_an_unlistable_recycle_bin_is_reported_and_the_rest_is_synced(wrike, status, code):
    dataset, emulator, config = wrike
    recycle_bin = dataset.recycle_bin_id() if callable(getattr(dataset, "recycle_bin_id", None)) else None
    emulator.faults.add(
        Fault(
            kind="status",
            status=status,
            times=100,
            path=rf"/folders/{recycle_bin or '[^/]+'}/tasks$",
            body=f'{{"error": "{code}", "errorDescription": "Recycle Bin"}}',
        )
    )
    for mode in ("full", "incremental"):
        result = materialize_wrike(config, "wrike-1", mode, raise_on_error=False)
        assert result.success, failure_message(result)
        check = check_results(result)["read_problems"]
        notes = check.metadata["notes"].value
        assert not check.passed and "Recycle Bin could not be listed" in notes and f"HTTP {status}" in notes
        assert "next full read" in notes
    live = [t for t in dataset.tasks if t["scope"] == "WsTask"]
    items = staged(config, "work_items", "wrike-1")
    assert {r["item_id"] for r in items if r["item_type"] != "project"} == {t["id"] for t in live}
    assert not any(r["is_archived"] for r in items)


def test_wrike_rate_limit_header_that_is_a_date_or_garbage(wrike):
    _, emulator, config = wrike
    for retry_after in ("soon", "Wed, 21 Oct 2015 07:28:00 GMT"):
        emulator.faults.add(
            Fault(
                kind="status",
                status=429,
                path=r"/spaces$",
                headers={"Retry-After": retry_after},
                body='{"error": "rate_limit_exceeded"}',
            )
        )
    waits: list[float] = []
    with WrikeClient.from_workspace(config.workspaces[0], sleep=waits.append) as client:
        assert client.spaces()
    assert waits == [1.0, 0.0]  # garbage: the exponential default (first step); a past date: no wait


@pytest.mark.slow
def test_wrike_folders_without_their_ids_name_the_answer_and_replace_nothing(wrike):
    dataset, emulator, config = wrike
    assert materialize_wrike(config, "wrike-1", raise_on_error=False).success
    before = staged(config, "work_items", "wrike-1")
    emulator.faults.add(Fault(kind="edit", path=r"/folders/[^/]+$", times=100, drop=["data.0.id"]))
    result = materialize_wrike(config, "wrike-1", raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "workspace 'wrike-1'" in message and "without an id" in message and "KeyError" not in message, message
    assert staged(config, "work_items", "wrike-1") == before
