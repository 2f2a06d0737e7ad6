"""The classic engine's mapping rules over real HTTP (ClickUp and classic Cascade emulators), checked
against the generator's dataset: status rules and fallback, filters, progress rules, owners by email
through the configured users, weights from priorities, over-long titles, configured parent goals,
and errors that name the workspace and the field to fix."""

from __future__ import annotations

import duckdb
import pytest

from cascade_sync_pipeline.config import ConfigError, parse_config
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline_tests.support.classic_world import CLICKUP_MAPPING, CU, WR, ClassicWorld


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = ClassicWorld(tmp_path, monkeypatch)
    yield world
    world.stop()


def desired(world: ClassicWorld) -> dict[str, dict]:
    return {r["item_id"]: r for r in world.rows("SELECT * FROM sync.desired_state WHERE workspace = ?", [CU])}


@pytest.mark.slow
def test_status_rules_then_fallback_and_an_unmapped_status_blocks_publish(world):
    fallback = {"not_started": "open", "done": "complete", "deferred": "open", "cancelled": "archived"}
    result = world.sync(
        world.config({**CLICKUP_MAPPING, "status_rules": {"Review": "complete"}, "status_fallback": fallback})
    )
    rows, tasks = desired(world), world.top_level()
    want = {t.id: ("complete" if t.status == "review" else fallback.get(world.category(t))) for t in tasks.values()}
    assert {k: rows[k]["outcome"] for k in tasks} == want
    assert {k: rows[k]["is_complete"] for k in tasks if want[k]} == {
        k: int(v in ("complete", "archived")) for k, v in want.items() if v
    }
    unmapped = sorted(k for k, v in want.items() if v is None)
    assert unmapped, "the dataset should hold in-progress statuses other than 'review'"
    check = result.checks()["status_rules_complete"]
    assert not check.passed and "'in progress'" in check.description and unmapped[0] in check.description
    assert "mapping.status_rules" in check.description
    assert not result.success and result.writes == 0 and "clickup/cascade_publish" not in result.materialized()


@pytest.mark.slow
def test_filters_choose_the_items_that_drive_cascade(world):
    archived = next(t for t in world.dataset.tasks.values() if t.archived)
    space = world.dataset.spaces[world.dataset.lists[archived.list_id].space_id]
    lists = {lid for lid, lst in world.dataset.lists.items() if lst.space_id == space.id}
    world.sync(
        world.config(
            {
                **CLICKUP_MAPPING,
                "containers": [space.name],
                "exclude_statuses": ["Cancelled"],
                "item_types": ["task", "subtask"],
                "include_archived": True,
            }
        ),
        until="desired_state",
    )
    want = {
        t.id
        for t in world.dataset.tasks.values()
        if t.list_id in lists and t.status != "cancelled" and t.custom_item_id == 0
    }
    rows = desired(world)
    assert {k for k, r in rows.items() if r["cascade_type"] == "task"} == want
    assert {k for k, r in rows.items() if r["cascade_type"] == "goal"} == {
        world.dataset.tasks[k].list_id for k in want
    }  # each list holding a chosen item is a goal
    assert any(world.dataset.tasks[k].archived for k in want) and any(world.dataset.tasks[k].parent for k in want)
    for k in want:  # a subtask is a task on the goal of its parent's list
        task = world.dataset.tasks[k]
        home = world.dataset.tasks[task.parent].list_id if task.parent in want else task.list_id
        assert rows[k]["parent_item_id"] == home, k

    world.sync(world.config({**CLICKUP_MAPPING, "statuses": ["To Do", "in progress"]}), only="desired_state")
    want = {t.id for t in world.top_level().values() if t.status in ("to do", "in progress")}
    assert {k for k, r in desired(world).items() if r["cascade_type"] == "task"} == want


def expected_progress(world: ClassicWorld, task, rule: str) -> float:
    category = world.category(task)
    if category == "done":
        return 100.0
    if rule == "subtasks":
        subs = [s for s in world.dataset.tasks.values() if s.parent == task.id and not s.archived]
        if subs:
            return round(100.0 * sum(world.category(s) == "done" for s in subs) / len(subs), 2)
    if rule == "checklist":
        items = [i for c in task.checklists for i in c.items]
        if items:
            return round(100.0 * sum(i.resolved for i in items) / len(items), 2)
    if rule == "custom_field":
        field = next(f for f in world.dataset.list_fields(task.list_id) if f.name == "Progress")
        if field.id in task.values:
            return float(task.values[field.id]["percent_completed"])
    return 50.0 if category == "in_progress" else 0.0


@pytest.mark.slow
def test_goal_progress_follows_the_progress_rule(world):
    for i, rule in enumerate(["subtasks", "checklist", "custom_field", "status"]):
        progress = {"source": rule, **({"custom_field": "Progress"} if rule == "custom_field" else {})}
        config = world.config({**CLICKUP_MAPPING, "tasks_as": "kpi", "progress": progress})
        world.sync(config, until="desired_state") if i == 0 else world.sync(config, only="desired_state")
        rows, tasks = desired(world), world.top_level()
        want = {k: expected_progress(world, t, rule) for k, t in tasks.items()}
        assert {k: rows[k]["progress"] for k in tasks} == want, rule
        assert {rows[k]["goal_kind"] for k in tasks} == {"kpi"} and {rows[k]["tracking_type"] for k in tasks} == {
            "MANUAL"
        }
        by_status = {k: expected_progress(world, t, "status") for k, t in tasks.items()}
        assert rule == "status" or any(want[k] != by_status[k] for k in tasks), f"no task exercises {rule}"


@pytest.mark.slow
def test_owners_are_matched_by_email_and_unknown_people_block_or_warn(tmp_path, monkeypatch):
    world = ClassicWorld(tmp_path, monkeypatch, drop_people=25)
    try:
        known = {u["email"] for u in world.users}
        missing = {
            u: world.dataset.users[u]
            for t in world.top_level().values()
            for u in t.assignee_ids
            if world.dataset.users[u].email not in known
        }.values()
        assert missing
        blocked = world.sync(world.config())
        check = blocked.checks()["owners_found"]
        assert not check.passed and all(f"{u.username} <{u.email}>" in check.description for u in missing)
        assert "cascade.users" in check.description and blocked.writes == 0 and not blocked.success

        warned = world.sync(world.config({**CLICKUP_MAPPING, "unmatched_owners": "warn"}))
        assert warned.success, warned.failure()
        check = warned.checks()["owners_found"]
        assert not check.passed and check.severity.value == "WARN"
        held = world.tasks_by_source(world.top_level())
        for task_id, task in world.top_level().items():
            want = world.owner_role(task)  # the first assignee who is a Cascade user
            assert held[task_id]["role_id"] == (want or world.cascade.integration_user["role_id"]), task_id
    finally:
        world.stop()


@pytest.mark.slow
def test_weights_come_from_the_priority_rule(world):
    mapping = {**CLICKUP_MAPPING, "weights": {"Urgent": 1, "high": 1, "normal": 2, "low": 4}, "default_weight": 4}
    world.sync(world.config(mapping), until="desired_state")
    rule = {None: 4, 1: 1, 2: 1, 3: 2, 4: 4}
    tasks = world.top_level()
    assert {k: r["weight_id"] for k, r in desired(world).items() if k in tasks} == {
        k: rule[t.priority] for k, t in tasks.items()
    }
    assert len({t.priority for t in tasks.values()}) >= 3


@pytest.mark.slow
def test_over_long_titles_are_cut_with_a_warning_naming_the_item(world):
    victim = sorted(world.top_level())[0]
    long_word, rest = "Internationalisationprojectplan", "for the " + "market " * 60
    world.clickup.update_task(victim, name=f"{long_word} {rest}")
    result = world.sync(world.config({**CLICKUP_MAPPING, "tasks_as": "project"}))
    assert result.success, result.failure()  # never rejected mid-run
    check = result.checks()["titles_fit"]
    assert not check.passed and check.severity.value == "WARN" and victim in check.description
    assert f"'{long_word}' became '{long_word[:25]}'" in check.description
    goal = world.cascade.goals[int(world.cascade_id_value(victim))]
    assert goal["action"] == long_word[:25] and len(goal["details"]) <= 300 and goal["details"].endswith("…")
    assert world.sync(world.config({**CLICKUP_MAPPING, "tasks_as": "project"})).writes == 0


@pytest.mark.slow
def test_a_configured_parent_goal_takes_the_tasks_and_a_missing_one_blocks(world):
    parent = world.cascade.add_goal(action="Company", details="goals 2026", status="APPRO")
    mapping = {"target": {"parent_goal_id": parent["id"]}, "goals_from": []}
    result = world.sync(world.config(mapping))
    assert result.success, result.failure()
    assert {t["goal_id"] for t in world.cascade.tasks.values()} == {parent["id"]}
    assert len(world.cascade.tasks) == len(world.top_level()) and len(world.cascade.goals) == 1

    missing = world.sync(world.config({**mapping, "target": {"parent_goal_id": 999}}))
    check = missing.checks()["cascade_items_present"]
    assert not check.passed and "goal 999 (a configured parent_goal_id" in check.description and missing.writes == 0


@pytest.mark.slow
def test_a_wrong_focus_area_names_the_setting(world):
    result = world.sync(world.config({**CLICKUP_MAPPING, "target": {"focus_area_ids": [999]}}))
    message = result.failure()
    assert not result.success and f"workspace '{CU}'" in message and "direct_focus_area_ids" in message
    assert "mapping.target.focus_area_ids" in message


@pytest.mark.parametrize(
    "mapping, expected",
    [
        ({}, f"workspaces.0(key={CU}).mapping.target: say where top-level goals land"),
        ({"target": {"focus_area_ids": [1], "parent_goal_id": 2}}, "give focus_area_ids"),
        ({"target": {"focus_area_ids": [1]}, "goals_from": []}, "goals_from: tasks become Cascade tasks"),
        ({"target": {"focus_area_ids": [1]}, "weights": {"high": 7}}, "'high': a weight_id is 1 (highest) to 4"),
        ({"target": {"focus_area_ids": [1]}, "status_rules": {"done": "finished"}}, "status_rules.done"),
    ],
)
def test_classic_config_errors_name_the_workspace_and_field(world, mapping, expected):
    with pytest.raises(ConfigError) as err:
        world.config(mapping)
    assert expected in str(err.value)


def test_wrike_goals_from_and_users_errors(world, tmp_path):
    with pytest.raises(ConfigError, match=rf"workspaces.1\(key={WR}\).mapping.goals_from: wrike has no 'list'"):
        world.config(wrike={"target": {"focus_area_ids": [1]}, "goals_from": ["list"]})
    raw = world.raw_config()
    raw["cascade"]["users"] = [*world.users, world.users[0]]
    with pytest.raises(ConfigError, match=r"cascade: users.\d+.email: '.*' is listed twice"):
        parse_config(raw)
    (tmp_path / "users.csv").write_text("email,user_id,role_id\nann@acme.example,4,not-a-number\n")
    raw["cascade"] = {**raw["cascade"], "users": [], "users_file": "users.csv"}
    config_file = tmp_path / "sync.yaml"
    config_file.write_text("")
    with pytest.raises(ConfigError, match=r"users_file: .*users.csv line 2: role_id and user_id must be integers"):
        parse_config(raw, str(config_file))
    (tmp_path / "users.csv").write_text("email,user_id,role_id\nAnn@Acme.example,4,104\n")
    assert parse_config(raw, str(config_file)).cascade.users[0].model_dump() == {
        "email": "ann@acme.example",
        "user_id": 4,
        "role_id": 104,
    }


def test_a_warehouse_of_the_invented_contract_opens_with_the_classic_tables(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA sync")
    con.execute(
        "CREATE TABLE sync.desired_state (workspace VARCHAR, item_id VARCHAR, cascade_type VARCHAR, "
        "plan_id BIGINT, collaborator_ids BIGINT[], PRIMARY KEY (workspace, item_id))"
    )
    con.execute("INSERT INTO sync.desired_state VALUES ('acme', 't1', 'action', 1, [])")
    con.close()
    with Warehouse(path).connect() as con:
        columns = {
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'sync' AND table_name = 'desired_state'"
            ).fetchall()
        }
        assert {"tracking_type", "focus_area_ids", "action", "details"} <= columns and "plan_id" not in columns
        assert con.execute("SELECT count(*) FROM sync.create_attempts").fetchall() == [(0,)]
