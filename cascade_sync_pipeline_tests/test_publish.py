"""The Cascade side end to end over real HTTP (ClickUp and Cascade emulators): the first sync creates
what the ground truth says, a re-run writes nothing, renames/moves/deletions keep identity, the diff
preview and dry run, blocking checks, write-back into ClickUp, and a lost create answer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml

from cascade_sync_pipeline import cli
from cascade_sync_pipeline.sandbox.server import Fault
from cascade_sync_pipeline_tests.cascade_fixtures import FALLBACK, KEY, OBJECTIVE, OTHER_OBJECTIVE, World


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch)
    yield world
    world.stop()


def expected_status(world: World, task) -> str:
    category = world.category(task)
    by_category = {"deferred": "On Hold", "cancelled": "Won't Do"}
    return by_category.get(category) or FALLBACK[world.dataset.task_status(task).type]


def day(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date().isoformat() if ms else None


def test_first_sync_creates_the_ground_truth_and_a_rerun_writes_nothing(world):
    first = world.sync(world.config())
    assert first.success, first.failure()
    tasks = world.top_level()
    actions = world.synced("action")
    assert set(actions) == set(tasks)
    objective = world.objective_id(OBJECTIVE)
    emails = {u.id: u.email for u in world.dataset.users.values()}
    for task_id, task in tasks.items():
        action = actions[task_id]
        owners = [world.user_id(emails[u]) for u in task.assignee_ids]
        assert action["name"] == task.name and action["objective_id"] == objective
        assert action["status"] == expected_status(world, task), task.status
        if world.category(task) == "done":
            assert action["progress"] == 100
        assert action["owner_ids"] == owners[:1] and sorted(action["collaborator_ids"]) == sorted(owners[1:])
        assert action["due_date"] == day(task.due_date)
        assert action["description"] == (task.text_content or None)
    checklist = world.synced("checklist_item")
    want_items = {i.id: (t.id, i.name, i.resolved) for t in tasks.values() for c in t.checklists for i in c.items}
    assert want_items, "the dataset should hold checklists"
    assert {k: (actions[want_items[k][0]]["id"], v["name"], v["completed"]) for k, v in checklist.items()} == \
        {k: (actions[t]["id"], name, resolved) for k, (t, name, resolved) in want_items.items()}

    id_map = {r["item_id"]: r for r in world.rows("SELECT * FROM sync.id_map WHERE workspace = ?", [KEY])}
    assert {k: (r["cascade_type"], r["cascade_id"]) for k, r in id_map.items()} == \
        {**{k: ("action", str(a["id"])) for k, a in actions.items()},
         **{k: ("checklist_item", str(c["id"])) for k, c in checklist.items()}}
    # Write-back: every synced task holds its Cascade ID in ClickUp, written once.
    assert {t: world.cascade_id_value(t) for t in tasks} == {t: str(actions[t]["id"]) for t in tasks}
    assert first.field_writes == len(tasks) and first.writes == len(actions) + len(checklist)

    again = world.sync(world.config(), mode="auto")
    assert again.success, again.failure()
    assert (again.writes, again.field_writes) == (0, 0)
    runs = world.rows("SELECT * FROM sync.runs WHERE workspace = ? ORDER BY started_at", [KEY])
    assert [(r["status"], r["created"], r["cascade_writes"]) for r in runs] == \
        [("succeeded", len(actions) + len(checklist), first.writes), ("succeeded", 0, 0)]
    assert runs[1]["unchanged"] == len(actions) + len(checklist) and runs[1]["items_read"] == len(world.dataset.tasks)
    extract = [s.metadata("clickup/raw_tasks")["requests"] for s in (first, again)]
    assert [r["source_requests"] for r in runs] == [extract[0] + len(tasks), extract[1]]


def test_rename_move_and_delete_keep_the_cascade_identity(world):
    home, other = world.busiest_lists()
    config = world.config({"target": {"objective": OBJECTIVE}, "containers": [home, other],
                           "by_container": [{"container": other, "objective": OTHER_OBJECTIVE}]})
    assert world.sync(config).success
    before = world.synced("action")
    renamed, moved, deleted, shelved = sorted(world.top_level(lists=[home]))[:4]
    world.clickup.update_task(renamed, name="Renamed in ClickUp")
    world.clickup.move_task(moved, world.list_id(other))
    world.clickup.delete_task(deleted)
    world.clickup.update_task(shelved, archived=True)

    preview = world.sync(config, until="diff")
    assert preview.writes == 0 and preview.field_writes == 0
    diff = {(r["op"], r["item_id"], r["field"]): (r["before"], r["after"])
            for r in world.rows("SELECT * FROM sync.diff WHERE workspace = ?", [KEY])}
    old_name = world.synced("action")[renamed]["name"]
    assert diff == {
        ("update", renamed, "name"): (old_name, "Renamed in ClickUp"),
        ("update", moved, "objective_id"): (str(world.objective_id(OBJECTIVE)),
                                            str(world.objective_id(OTHER_OBJECTIVE))),
        ("archive", deleted, "archived"): ("false", "true"),
        ("archive", shelved, "archived"): ("false", "true"),
    }
    text = preview.metadata("clickup/cascade_diff")["preview"]
    assert f"{old_name} → Renamed in ClickUp" in text and "archive" in text

    applied = world.sync(config)
    assert applied.success, applied.failure()
    assert applied.writes == 4 and applied.field_writes == 0
    after = world.synced("action")
    assert {k: v["id"] for k, v in after.items()} == {k: v["id"] for k, v in before.items()}
    assert after[renamed]["name"] == "Renamed in ClickUp"
    assert after[moved]["objective_id"] == world.objective_id(OTHER_OBJECTIVE)
    assert {k for k, v in after.items() if v["archived"]} == {deleted, shelved}

    world.clickup.update_task(shelved, archived=False)
    restored = world.sync(config, mode="auto")
    assert [(r["op"], r["item_id"]) for r in world.rows("SELECT DISTINCT op, item_id FROM sync.diff")] == \
        [("unarchive", shelved)]
    assert restored.writes == 1 and not world.synced("action")[shelved]["archived"]
    assert world.sync(config, mode="auto").writes == 0


def test_deletion_marks_wont_do_and_a_restored_task_comes_back(world):
    config = world.config({"target": {"objective": OBJECTIVE}, "on_delete": "wont_do"})
    assert world.sync(config).success
    victim = next(t for t in sorted(world.top_level()) if world.category(world.dataset.tasks[t]) != "cancelled")
    world.clickup.update_task(victim, archived=True)
    assert world.sync(config).writes == 1
    action = world.synced("action")[victim]
    assert action["status"] == "Won't Do" and not action["archived"]
    world.clickup.update_task(victim, archived=False)
    assert world.sync(config).writes == 1
    assert world.synced("action")[victim]["status"] == expected_status(world, world.dataset.tasks[victim])


def test_workspace_dry_run_writes_nothing(world):
    result = world.sync(world.config(dry_run=True))
    assert result.success and (result.writes, result.field_writes) == (0, 0)
    counts = result.metadata("clickup/cascade_diff")
    assert counts["items_to_create"] > 0 and result.metadata("clickup/cascade_publish")["dry_run"] is True
    assert world.rows("SELECT count(*) AS n FROM sync.id_map")[0]["n"] == 0
    assert world.rows("SELECT status, dry_run, created FROM sync.runs") == \
        [{"status": "dry_run", "dry_run": True, "created": counts["items_to_create"]}]


def test_blocking_checks_stop_publish_and_name_the_items(world):
    assert world.sync(world.config()).success
    original, copy = sorted(world.top_level())[:2]
    world.clickup.update_task(copy, name="Copy", custom_fields={"Cascade ID": world.cascade_id_value(original)})
    result = world.sync(world.config())
    check = result.checks()["unique_cascade_claims"]
    assert not check.passed and original in check.description and copy in check.description
    assert "clickup/cascade_publish" not in result.materialized() and result.writes == 0
    run = world.rows("SELECT status, message FROM sync.runs ORDER BY started_at DESC LIMIT 1")[0]
    assert run["status"] == "blocked" and copy in run["message"]

    world.clickup.update_task(copy, custom_fields={"Cascade ID": None})
    task_id, action = sorted(world.synced("action").items())[0]
    world.cascade.store.delete("action", action["id"])
    result = world.sync(world.config())
    check = result.checks()["cascade_items_present"]
    assert not check.passed and f"action {action['id']} (source item {task_id})" in check.description
    assert "sync.id_map" in check.description and result.writes == 0
    assert result.checks()["unique_cascade_claims"].passed


def test_write_back_error_names_workspace_item_and_field(world):
    result = world.sync(world.config(cascade_id_field="Strategy Ref"))
    assert not result.success and result.writes > 0
    message = result.failure()
    some_task = sorted(world.top_level())[0]
    assert f"workspace '{KEY}'" in message and "'Strategy Ref'" in message and some_task in message
    assert "cascade_id_field" in message
    assert world.rows("SELECT status FROM sync.runs") == [{"status": "failed"}]


def test_lost_answers_and_unrecorded_creates_never_duplicate(world):
    world.cascade.faults.add(Fault("reset_after_write", method="POST", path=r"/actions$", after=3))
    result = world.sync(world.config())
    assert result.success, result.failure()
    assert set(world.synced("action")) == set(world.top_level())
    assert len(world.cascade.items("action")) == len(world.top_level())
    assert result.metadata("clickup/cascade_publish")["recovered_creates"] == 1

    lost = sorted(world.top_level())[:4]
    world.rows("DELETE FROM sync.id_map WHERE list_contains(?, item_id)", [lost])  # as if the run died there
    world.clickup.update_task(lost[0], name="Changed meanwhile")
    result = world.sync(world.config())
    assert result.success, result.failure()
    ops = {(r["op"], r["item_id"]) for r in world.rows("SELECT DISTINCT op, item_id FROM sync.diff")}
    assert ops == {("link", k) for k in lost} | {("update", lost[0])}
    assert (result.writes, result.field_writes) == (1, 0)
    assert len(world.cascade.items("action")) == len(world.top_level())
    assert {r["item_id"] for r in world.rows("SELECT item_id FROM sync.id_map")} >= set(lost)


def test_milestone_subtasks_become_action_milestones(world):
    parent = sorted(world.top_level())[0]
    list_id = world.dataset.tasks[parent].list_id
    day_ms = 86_400_000
    first = world.clickup.create_task(list_id, name="Beta ready", parent=parent, custom_item_id=1,
                                      due_date=1_767_225_600_000, status="done")
    second = world.clickup.create_task(list_id, name="GA", parent=parent, custom_item_id=1,
                                       due_date=1_767_225_600_000 + 30 * day_ms)
    config = world.config({"target": {"objective": OBJECTIVE}})
    assert world.sync(config).success
    action = world.synced("action")[parent]
    milestones = world.synced("milestone")
    assert {k: (m["action_id"], m["name"], m["completed"], m["due_date"], m["progress_value"])
            for k, m in milestones.items()} == {
        first: (action["id"], "Beta ready", True, "2026-01-01", 50),
        second: (action["id"], "GA", False, "2026-01-31", 100)}
    assert first not in world.synced("action") and world.cascade_id_value(first) == str(milestones[first]["id"])

    world.clickup.delete_task(first)
    result = world.sync(config)
    assert [(r["op"], r["item_id"]) for r in world.rows("SELECT DISTINCT op, item_id FROM sync.diff")] \
        == [("remove", first)]
    assert result.writes == 1 and set(world.synced("milestone")) == {second}
    assert world.sync(config).writes == 0


def test_tasks_as_measures(world):
    result = world.sync(world.config({"target": {"objective": OBJECTIVE}, "tasks_as": "measure",
                                      "progress": {"source": "status"}}))
    assert result.success, result.failure()
    measures = world.synced("measure")
    assert set(measures) == set(world.top_level()) and not world.synced("action")
    for task_id, task in world.top_level().items():
        category = world.category(task)
        want = 100 if category == "done" else 50 if category == "in_progress" else 0
        m = measures[task_id]
        assert (m["initial_value"], m["target_value"], m["unit"], m["current_value"]) == (0, 100, "%", want)
    assert world.sync(world.config({"target": {"objective": OBJECTIVE}, "tasks_as": "measure",
                                    "progress": {"source": "status"}}), mode="auto").writes == 0


def test_the_cli_prints_what_it_created_then_that_nothing_changed(world, tmp_path, monkeypatch, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(world.raw_config()))
    monkeypatch.setenv("CASCADE_SYNC_CONFIG", str(path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["sync", KEY, "--mode", "full"]) == 0
    created = len(world.synced("action")) + len(world.synced("checklist_item"))
    assert f"Cascade (succeeded): {created} created, 0 updated, 0 archived, 0 unchanged; {created} Cascade writes" \
        in capsys.readouterr().out
    assert cli.main(["sync", KEY]) == 0
    assert f"Cascade: nothing changed ({created} items already in step), 0 Cascade writes" in capsys.readouterr().out

    victim = sorted(world.top_level())[0]
    world.cascade.store.delete("action", world.synced("action")[victim]["id"])
    assert cli.main(["sync", KEY]) == 1
    out = capsys.readouterr().out
    assert "nothing written to Cascade; fix first:" in out and f"(source item {victim})" in out
