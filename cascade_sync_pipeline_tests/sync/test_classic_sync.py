"""The classic engine end to end over real HTTP (ClickUp, Wrike and classic Cascade emulators): the
first sync creates the goals and tasks the mapping describes (checked against the generators'
ground truth), a re-run writes nothing, edits become field updates (the dry-run preview shows
them), a deletion archives or completes, the mass-change guard and the other blocking checks stop
the publish naming the items, lost answers and a lost ID map never duplicate anything."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import date, timedelta

import pytest
import yaml
from flask import request

from cascade_sync_pipeline import cli
from cascade_sync_pipeline.cascade.classic import ClassicClient
from cascade_sync_pipeline.cascade.classic_wire import split_title
from cascade_sync_pipeline.sync import writeback
from cascade_sync_pipeline.sync.goals import publish
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline_tests.support.classic_world import (
    CASCADE_TOKEN_ENV,
    CLICKUP_MAPPING,
    CU,
    FIELD_WRITE,
    GROW,
    OPERATE,
    TEMPLATES,
    WR,
    ClassicWorld,
    day,
)
from cascade_sync_pipeline_tests.support.connector_spec import classic_connector
from cascade_sync_sandbox.server import Fault
from cascade_sync_sandbox.wrike import expected_staging as wrike_truth

pytestmark = pytest.mark.slow  # the classic chain end to end (over 3 s each)


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = ClassicWorld(tmp_path, monkeypatch)
    yield world
    world.stop()


def goal_span(task) -> tuple[str, str]:
    """The dates a goal made of the item gets: its start (else creation), its due date (else 90 days on)."""
    start = date.fromisoformat(day(task.start_date or task.date_created or task.due_date))
    end = (
        date.fromisoformat(day(task.due_date))
        if task.due_date
        else date.fromisoformat(day(task.start_date or task.date_created)) + timedelta(days=90)
    )
    return min(start, end).isoformat(), end.isoformat()


def test_clickup_first_sync_creates_the_goals_and_tasks_of_the_mapping_and_a_rerun_writes_nothing(world):
    first = world.sync(world.config())
    assert first.success, first.failure()
    chosen = world.top_level()
    assert chosen and any(world.category(t) == "done" for t in chosen.values())
    by_list: dict[str, list] = {}
    for task in chosen.values():
        by_list.setdefault(task.list_id, []).append(task)

    goals = {}
    for list_id, tasks in by_list.items():
        name = world.dataset.lists[list_id].name
        goal = goals[list_id] = world.list_goal(name)
        action, details, _ = split_title(name)
        spans = [goal_span(t) for t in tasks]
        done = sum(world.category(t) == "done" for t in tasks)
        assert (
            goal["action"],
            goal["details"],
            goal["status"],
            goal["direct_focus_area_ids"],
            goal["aligned_to_ids"],
            goal["entity_template_id"],
            goal["tracking_type"],
        ) == (action, details, "APPRO", [GROW], [], TEMPLATES["objective"], "MANUAL"), name
        assert goal["progress"] == round(100 * done / len(tasks), 2)
        assert (goal["start_time"][:10], goal["end_time"][:10]) == (min(s for s, _ in spans), max(e for _, e in spans))
    assert len(world.cascade.goals) == len(by_list)  # lists without a synced task stay out

    held = world.tasks_by_source(chosen)  # write-back: each task holds its Cascade task id
    for task_id, task in chosen.items():
        cascade = held[task_id]
        assert cascade is not None, task_id
        want = {
            "task": task.name,
            "goal_id": goals[task.list_id]["id"],
            "weight_id": world.weight(task),
            "is_complete": int(world.category(task) in ("done", "cancelled")),
            "comment": task.text_content or None,
            "due_date": day(task.due_date),
            "start_date": day(task.start_date),
            "role_id": world.owner_role(task),
        }
        got = {k: cascade.get(k) for k in want} | {
            k: (cascade.get(k) or "")[:10] or None for k in ("due_date", "start_date")
        }
        if want["role_id"] is None:  # no assignee with a Cascade user: the creator's role stays
            got["role_id"] = None
        assert got == want, task_id
    assert len(world.cascade.tasks) == len(chosen)

    id_map = {
        r["item_id"]: (r["cascade_type"], r["cascade_id"], r["linked_by"])
        for r in world.rows("SELECT * FROM sync.id_map WHERE workspace = ?", [CU])
    }
    assert id_map == {
        **{t: ("task", str(held[t]["id"]), "created") for t in chosen},
        **{lid: ("goal", str(g["id"]), "created") for lid, g in goals.items()},
    }
    assert first.writes == len(goals) + len(chosen) and first.source_writes == len(chosen)

    again = world.sync(world.config(), mode="auto")
    assert again.success, again.failure()
    assert (again.writes, again.source_writes) == (0, 0)
    runs = world.rows("SELECT * FROM sync.runs WHERE workspace = ? ORDER BY started_at", [CU])
    assert [(r["status"], r["created"], r["cascade_writes"]) for r in runs] == [
        ("succeeded", len(goals) + len(chosen), first.writes),
        ("succeeded", 0, 0),
    ]
    assert runs[1]["unchanged"] == len(goals) + len(chosen) and runs[1]["items_read"] == len(world.dataset.tasks)


def test_wrike_projects_become_goals_with_their_tasks_and_get_the_cascade_id_back(world):
    first = world.sync(world.config(), WR)
    assert first.success, first.failure()
    truth = wrike_truth(world.wrike_ds, WR)
    items = {r["item_id"]: r for r in truth["work_items"] if not r["is_archived"]}
    folders = {c["container_id"]: c for c in truth["containers"]}
    projects = {k: r for k, r in items.items() if r["item_type"] == "project"}
    tasks = {k: r for k, r in items.items() if r["item_type"] in ("task", "milestone")}
    folder_goals = {
        r["container_id"]
        for r in [*tasks.values(), *projects.values()]
        if folders.get(r["container_id"], {}).get("container_type") == "folder"
    }
    assert projects and tasks and folder_goals

    mapped = {
        r["item_id"]: int(r["cascade_id"])
        for r in world.rows("SELECT * FROM sync.id_map WHERE workspace = ? AND cascade_type = 'goal'", [WR])
    }
    assert set(mapped) == set(projects) | folder_goals
    goal_of = {}
    for item_id, project in projects.items():
        goal = world.cascade.goals[int(world.wrike_cascade_id(item_id))]  # written into the project (a folder)
        action, details, _ = split_title(project["title"])
        parent = mapped.get(project["container_id"])
        assert (goal["action"], goal["details"], goal["entity_template_id"]) == (
            action,
            details,
            TEMPLATES["objective"],
        )
        assert (goal["direct_focus_area_ids"], goal["aligned_to_ids"]) == (
            ([], [parent]) if parent else ([OPERATE], [])
        )
        goal_of[item_id] = goal["id"]
    for folder_id in folder_goals:
        goal = world.cascade.goals[mapped[folder_id]]
        assert (" ".join(filter(None, (goal["action"], goal["details"]))), goal["direct_focus_area_ids"]) == (
            folders[folder_id]["name"],
            [OPERATE],
        )
        goal_of[folder_id] = goal["id"]
    for item_id, task in tasks.items():
        cascade = world.cascade.tasks[int(world.wrike_cascade_id(item_id))]
        want_complete = int(task["status_category"] in ("done", "cancelled"))
        assert (cascade["task"], cascade["is_complete"]) == (task["title"], want_complete), item_id
        assert cascade["goal_id"] == goal_of[task["container_id"]], item_id
    assert len(world.cascade.tasks) == len(tasks)
    assert first.source_writes == len(tasks) + len(projects)

    world.wrike.log.clear()
    again = world.sync(world.config(), WR, mode="auto")
    assert again.success and (again.writes, again.source_writes) == (0, 0)
    assert world.wrike.log.count("PUT") == 0


def test_edits_become_field_updates_and_a_deletion_completes_or_archives(world):
    config = world.config()
    assert world.sync(config).success
    tasks = sorted(t for t, task in world.top_level().items() if world.category(task) == "not_started")
    renamed, moved, deleted, shelved = tasks[:4]
    old_name = world.dataset.tasks[renamed].name
    other_list = next(
        lid for lid in {t.list_id for t in world.top_level().values()} if lid != world.dataset.tasks[moved].list_id
    )
    before = world.tasks_by_source([renamed, moved, deleted, shelved])
    world.clickup.update_task(renamed, name="Renamed in ClickUp")
    world.clickup.move_task(moved, other_list)
    world.clickup.delete_task(deleted)
    world.clickup.update_task(shelved, archived=True)

    preview = world.sync(config, until="diff")
    assert preview.writes == 0 and preview.source_writes == 0
    diff = {
        (r["op"], r["item_id"], r["field"]): (r["before"], r["after"])
        for r in world.rows(
            "SELECT * FROM sync.diff WHERE workspace = ? AND op <> 'update' OR "
            "(workspace = ? AND field IN ('task', 'goal_id'))",
            [CU, CU],
        )
    }
    new_goal = str(world.list_goal(world.dataset.lists[other_list].name)["id"])
    assert diff == {
        ("update", renamed, "task"): (old_name, "Renamed in ClickUp"),
        ("update", moved, "goal_id"): (str(before[moved]["goal_id"]), new_goal),
        ("complete", deleted, "is_complete"): ("0", "1"),
        ("complete", shelved, "is_complete"): ("0", "1"),
    }
    assert f"{old_name} → Renamed in ClickUp" in preview.metadata("clickup/cascade_diff")["preview"]

    applied = world.sync(config)
    assert applied.success, applied.failure()
    after = {t: world.cascade.tasks[before[t]["id"]] for t in before}  # the same Cascade tasks, changed
    assert after[renamed]["task"] == "Renamed in ClickUp" and after[moved]["goal_id"] == int(new_goal)
    assert after[deleted]["is_complete"] == after[shelved]["is_complete"] == 1
    assert len(world.cascade.tasks) == len(world.top_level()) + 2  # nothing created, nothing deleted

    world.clickup.update_task(shelved, archived=False)
    restored = world.sync(config, mode="auto")
    assert world.cascade.tasks[before[shelved]["id"]]["is_complete"] == 0 and restored.writes >= 1


def record_requests(world: ClassicWorld) -> list[tuple]:
    """Every request Cascade receives, as (method, path, JSON body, query)."""
    sent: list[tuple] = []

    @world.cascade.app.before_request
    def _record():
        if request.path.startswith("/api/v2/"):
            sent.append((request.method, request.path, request.get_json(silent=True), dict(request.args)))

    return sent


def test_tasks_as_goals_with_checklists_and_a_deleted_goal_is_archived_never_deleted(world):
    sent = record_requests(world)
    mapping = {**CLICKUP_MAPPING, "tasks_as": "project", "on_delete_task": "delete", "goal_progress": "tasks"}
    config = world.config(mapping)
    assert world.sync(config).success
    chosen = world.top_level()
    with_list = {t: task for t, task in chosen.items() if task.checklists}
    assert with_list, "the dataset should hold checklists"
    ids = {
        r["item_id"]: int(r["cascade_id"]) for r in world.rows("SELECT * FROM sync.id_map WHERE workspace = ?", [CU])
    }
    for task_id, task in chosen.items():
        goal = world.cascade.goals[ids[task_id]]
        assert goal["aligned_to_ids"] == [world.list_goal(world.dataset.lists[task.list_id].name)["id"]]
        assert (goal["entity_template_id"], goal["tracking_type"], goal["direct_focus_area_ids"]) == (
            TEMPLATES["project"],
            "TASKS",
            [],
        )
        assert goal["status"] == ("ARCHI" if world.category(task) == "cancelled" else "APPRO")
        items = [i for c in task.checklists for i in c.items]
        got = sorted((t["task"], t["is_complete"]) for t in world.cascade.tasks.values() if t["goal_id"] == goal["id"])
        assert got == sorted((i.name, int(i.resolved)) for i in items), task_id

    victim = next(t for t in sorted(with_list) if world.category(chosen[t]) != "cancelled")
    checklist_tasks = [ids[i.id] for c in chosen[victim].checklists for i in c.items]
    goals = len(world.cascade.goals)
    world.clickup.delete_task(victim)
    result = world.sync(config)
    assert result.success, result.failure()
    assert world.cascade.goals[ids[victim]]["status"] == "ARCHI" and len(world.cascade.goals) == goals
    assert not set(checklist_tasks) & set(world.cascade.tasks)  # on_delete_task: delete
    ops = {
        (r["op"], r["item_id"])
        for r in world.rows("SELECT DISTINCT op, item_id FROM sync.diff WHERE workspace = ? AND op <> 'update'", [CU])
    }
    assert ops == {("archive", victim)} | {("delete", i.id) for c in chosen[victim].checklists for i in c.items}
    assert world.sync(config).writes == 0
    # Every request the engine sent (creates, reads by id, updates, archive, deletes) is one the connector defines.
    assert {m for m, *_ in sent} == {"GET", "POST", "PUT", "DELETE"}
    for method, path, body, query in sent:
        classic_connector().validate_request(method, path, body, query=query)


def test_switching_tasks_to_goals_completes_the_old_tasks_and_creates_goals(world):
    assert world.sync(world.config()).success
    chosen = world.top_level()
    old = world.tasks_by_source(chosen)
    switched = world.sync(
        world.config({**CLICKUP_MAPPING, "tasks_as": "project", "checklists_as_tasks": False, "max_archived_share": 1})
    )
    assert switched.success, switched.failure()
    assert all(world.cascade.tasks[t["id"]]["is_complete"] == 1 for t in old.values())
    for task_id, task in chosen.items():
        goal = world.cascade.goals[int(world.cascade_id_value(task_id))]  # the new goal's id, written back
        assert goal["action"] == split_title(task.name)[0], task_id
    assert (
        world.sync(world.config({**CLICKUP_MAPPING, "tasks_as": "project", "checklists_as_tasks": False})).writes == 0
    )


def test_dry_run_writes_nothing(world):
    result = world.sync(world.config(dry_run=True))
    assert result.success and (result.writes, result.source_writes) == (0, 0)
    counts = result.metadata("clickup/cascade_diff")
    assert counts["items_to_create"] > 0 and result.metadata("clickup/cascade_publish")["dry_run"] is True
    assert world.rows("SELECT count(*) AS n FROM sync.id_map")[0]["n"] == 0
    assert world.rows("SELECT status, dry_run, created FROM sync.runs") == [
        {"status": "dry_run", "dry_run": True, "created": counts["items_to_create"]}
    ]


def test_mass_deletion_is_blocked_naming_the_items_until_the_share_is_raised(world):
    config = world.config()
    assert world.sync(config).success
    doomed = sorted(world.top_level())[: len(world.top_level()) // 2]
    for task_id in doomed:
        world.clickup.delete_task(task_id)
    blocked = world.sync(config)
    check = blocked.checks()["no_mass_archiving"]
    assert not check.passed and not blocked.success and blocked.writes == 0
    named = re.findall(r"\(source item (\w+)\)", check.description)
    assert "mapping.max_archived_share" in check.description and len(named) >= 10 and set(named) <= set(doomed)
    assert "clickup/cascade_publish" not in blocked.materialized()

    held = world.rows("SELECT item_id, cascade_id FROM sync.id_map WHERE list_contains(?, item_id)", [doomed])
    allowed = world.sync(world.config({**CLICKUP_MAPPING, "max_archived_share": 0.9}))
    assert allowed.success, allowed.failure()
    assert len(held) == len(doomed) and all(world.cascade.tasks[int(r["cascade_id"])]["is_complete"] for r in held)


def test_blocking_checks_name_the_items_and_the_fix(world):
    assert world.sync(world.config()).success
    original, copy = sorted(world.top_level())[:2]
    world.clickup.update_task(copy, custom_fields={"Cascade ID": world.cascade_id_value(original)})
    result = world.sync(world.config())
    check = result.checks()["unique_cascade_claims"]
    assert not check.passed and original in check.description and copy in check.description
    assert "clickup/cascade_publish" not in result.materialized() and result.writes == 0
    run = world.rows("SELECT status, message FROM sync.runs ORDER BY started_at DESC LIMIT 1")[0]
    assert run["status"] == "blocked" and copy in run["message"]

    world.clickup.update_task(copy, custom_fields={"Cascade ID": world.cascade_id_value(copy)})
    gone = world.tasks_by_source([original])[original]
    world.cascade.store.delete_task(gone["id"])
    result = world.sync(world.config())
    check = result.checks()["cascade_items_present"]
    assert not check.passed and f"task {gone['id']} (source item {original})" in check.description
    assert "sync.id_map" in check.description and result.writes == 0


def test_lost_answers_and_lost_id_map_rows_never_duplicate(world):
    for path in ("/goals$", "/tasks$"):
        world.cascade.faults.add(Fault("reset_after_write", method="POST", path=path, after=2, times=2))
        world.cascade.faults.add(Fault("status_after_write", status=502, method="POST", path=path, after=3))
    first = world.sync(world.config())
    assert first.success, first.failure()
    assert first.metadata("clickup/cascade_publish")["recovered_creates"] == 6
    assert len(world.cascade.tasks) == len(world.top_level())
    assert Counter(world.cascade_id_value(t) for t in world.top_level()).most_common(1)[0][1] == 1

    # The tasks' ID map rows are lost: the Cascade IDs written back into ClickUp restore identity.
    world.rows("DELETE FROM sync.id_map WHERE cascade_type = 'task'")
    world.clickup.update_task(sorted(world.top_level())[0], name="Changed meanwhile")
    relinked = world.sync(world.config())
    assert relinked.success, relinked.failure()
    ops = Counter(r["op"] for r in world.rows("SELECT DISTINCT op, item_id FROM sync.diff"))
    assert ops == {"link": len(world.top_level()), "update": 1} and relinked.source_writes == 0
    assert len(world.cascade.tasks) == len(world.top_level())


def test_a_slow_publish_lets_other_steps_open_the_warehouse(tmp_path, monkeypatch):
    world = ClassicWorld(tmp_path, monkeypatch, clickup_tasks=30)
    try:
        _slow_publish(world)
    finally:
        world.stop()


def _slow_publish(world: ClassicWorld) -> None:
    config = world.config()
    assert world.sync(config, until="diff").success
    world.cascade.faults.add(Fault("delay", method="POST", path="/(goals|tasks)$", seconds=0.06, times=1000))
    done: dict = {}

    def run() -> None:
        with ClassicClient.from_env(world.url("cascade"), CASCADE_TOKEN_ENV, workspace=CU) as client:
            done["result"] = publish.publish(Warehouse(world.duckdb), client, config.workspace(CU), hold_seconds=0.3)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.8)
    started = time.monotonic()
    with Warehouse(world.duckdb).connect() as con:  # another workspace's step, while Cascade is slow
        mapped = con.execute("SELECT count(*) FROM sync.id_map").fetchall()[0][0]
    waited = time.monotonic() - started
    assert thread.is_alive(), "the publish should still be running"
    thread.join(120)
    assert waited < 1.0 and 0 < mapped < done["result"].created  # got in half-way through
    assert done["result"].created == len(world.cascade.goals) + len(world.cascade.tasks)


def test_the_cli_prints_what_it_created_then_that_nothing_changed(world, tmp_path, monkeypatch, capsys):
    path = tmp_path / "config.yaml"
    raw = world.raw_config()
    raw["workspaces"] = raw["workspaces"][:1]
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("CASCADE_SYNC_CONFIG", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # the CLI's instance, this test's own
    assert cli.main(["sync", CU, "--mode", "full"]) == 0
    created = len(world.cascade.goals) + len(world.cascade.tasks)
    assert (
        f"Cascade (succeeded): {created} created, 0 updated, 0 archived, 0 unchanged; {created} Cascade writes"
        in capsys.readouterr().out
    )
    assert cli.main(["sync", CU]) == 0
    assert f"Cascade: nothing changed ({created} items already in step), 0 Cascade writes" in capsys.readouterr().out


def test_a_slow_write_back_lets_other_steps_open_the_warehouse(tmp_path, monkeypatch):
    """While ClickUp is slow to take the Cascade IDs, another run opens the warehouse at once, and the
    IDs written so far are already recorded (before, the write-back held the lock to the end)."""
    world = ClassicWorld(tmp_path, monkeypatch, clickup_tasks=30)
    try:
        config = world.config()
        assert world.sync(config, until="publish").success
        world.clickup.faults.add(Fault("delay", method="POST", path=FIELD_WRITE, seconds=0.1, times=1000))
        done: dict = {}
        thread = threading.Thread(target=lambda: done.update(run=world.sync(config, only="write_back")))
        thread.start()
        deadline = time.monotonic() + 60
        while world.clickup.log.count("POST", FIELD_WRITE) < 14 and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        with Warehouse(world.duckdb).connect() as con:  # another workspace's step, while ClickUp is slow
            recorded = con.execute("SELECT count(*) FROM sync.id_map WHERE written_back_id IS NOT NULL").fetchall()[0][
                0
            ]
        waited = time.monotonic() - started
        assert thread.is_alive(), "the write-back should still be running"
        thread.join(120)
        assert done["run"].success, done["run"].failure()
        assert waited < 1.0 and 0 < recorded < done["run"].source_writes, (waited, recorded)
        with Warehouse(world.duckdb).connect() as con:
            assert writeback.pending(con, CU) == []
    finally:
        world.stop()
