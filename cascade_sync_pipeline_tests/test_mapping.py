"""Mapping rules over real HTTP (ClickUp and Cascade emulators), checked against the generator's
dataset: status rules and fallback, filters, progress rules, owners by email, custom fields by
name, and targets by name or id with errors that name the field to fix."""

from __future__ import annotations

import pytest

from cascade_sync_pipeline_tests.cascade_fixtures import KEY, OBJECTIVE, World


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch)
    yield world
    world.stop()


def desired(world: World) -> dict[str, dict]:
    return {r["item_id"]: r for r in world.rows("SELECT * FROM sync.desired_state WHERE workspace = ?", [KEY])}


def test_status_rules_then_fallback_and_an_unmapped_status_blocks_publish(world):
    fallback = {"not_started": "To Do", "done": "Done", "deferred": "On Hold", "cancelled": "Won't Do"}
    result = world.sync(world.config({"target": {"objective": OBJECTIVE}, "status_rules": {"Review": "On Hold"},
                                      "status_fallback": fallback}))
    rows = desired(world)
    tasks = world.top_level()
    want = {t.id: ("On Hold" if t.status == "review" else fallback.get(world.category(t))) for t in tasks.values()}
    assert {k: rows[k]["status"] for k in tasks} == want
    unmapped = sorted(k for k, v in want.items() if v is None)
    assert unmapped, "the dataset should hold in-progress statuses other than 'review'"
    check = result.checks()["status_rules_complete"]
    assert not check.passed and "'in progress'" in check.description and unmapped[0] in check.description
    assert "mapping.status_rules" in check.description
    assert not result.success and result.writes == 0 and "clickup/cascade_publish" not in result.materialized()


def test_filters_choose_the_items_that_drive_cascade(world):
    archived = next(t for t in world.dataset.tasks.values() if t.archived)
    space = world.dataset.spaces[world.dataset.lists[archived.list_id].space_id]
    lists = {lid for lid, lst in world.dataset.lists.items() if lst.space_id == space.id}
    world.sync(world.config({"target": {"objective": OBJECTIVE}, "containers": [space.name],
                             "exclude_statuses": ["Cancelled"], "item_types": ["task", "subtask"],
                             "include_archived": True}), until="desired_state")
    want = {t.id for t in world.dataset.tasks.values()
            if t.list_id in lists and t.status != "cancelled" and t.custom_item_id == 0}
    rows = desired(world)
    assert {k for k, r in rows.items() if r["cascade_type"] == "action"} == want
    assert any(world.dataset.tasks[k].archived for k in want) and any(world.dataset.tasks[k].parent for k in want)
    assert any(t.status == "cancelled" for t in world.dataset.tasks.values() if t.list_id in lists)

    world.sync(world.config({"target": {"objective": OBJECTIVE}, "statuses": ["To Do", "in progress"]}),
               only="desired_state")
    want = {t.id for t in world.top_level().values() if t.status in ("to do", "in progress")}
    assert {k for k, r in desired(world).items() if r["cascade_type"] == "action"} == want


def expected_progress(world: World, task, rule: str) -> float:
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


def test_progress_rules(world):
    for i, rule in enumerate(["subtasks", "checklist", "custom_field", "status"]):
        progress = {"source": rule, **({"custom_field": "Progress"} if rule == "custom_field" else {})}
        config = world.config({"target": {"objective": OBJECTIVE}, "progress": progress})
        world.sync(config, until="desired_state") if i == 0 else world.sync(config, only="desired_state")
        rows = desired(world)
        tasks = world.top_level()
        want = {k: expected_progress(world, t, rule) for k, t in tasks.items()}
        assert {k: rows[k]["progress"] for k in tasks} == want, rule
        by_status = {k: expected_progress(world, t, "status") for k, t in tasks.items()}
        assert rule == "status" or any(want[k] != by_status[k] for k in tasks), f"no task exercises {rule}"


def test_owners_are_matched_by_email_and_unknown_people_block_or_warn(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, drop_people=3)
    try:
        known = {u["email"] for u in world.cascade.items("user")}
        assigned = {u for t in world.top_level().values() for u in t.assignee_ids}
        missing = [u for u in world.dataset.users.values() if u.email not in known and u.id in assigned]
        assert missing
        blocked = world.sync(world.config())
        check = blocked.checks()["owners_found"]
        assert not check.passed and all(f"{u.username} <{u.email}>" in check.description for u in missing)
        assert blocked.writes == 0 and not blocked.success

        warned = world.sync(world.config({"target": {"objective": OBJECTIVE}, "unmatched_owners": "warn"}))
        assert warned.success, warned.failure()
        check = warned.checks()["owners_found"]
        assert not check.passed and check.severity.value == "WARN"
        emails = {u.id: u.email for u in world.dataset.users.values()}
        actions = world.synced("action")
        for task_id, task in world.top_level().items():
            matched = [world.user_id(emails[u]) for u in task.assignee_ids if emails[u] in known]
            assert actions[task_id]["owner_ids"] == matched[:1]
            assert sorted(actions[task_id]["collaborator_ids"]) == sorted(matched[1:])
    finally:
        world.stop()


def test_custom_fields_are_mapped_by_name_on_both_sides(world):
    mapping = {"target": {"objective": OBJECTIVE},
               "custom_fields": {"Story Points": "Story Points", "Priority Tier": "Priority Tier", "Budget": "Budget"}}
    result = world.sync(world.config(mapping))
    assert result.success, result.failure()
    actions = world.synced("action")
    for task_id, task in world.top_level().items():
        fields = {f.name: f for f in world.dataset.list_fields(task.list_id)}
        want = {}
        points = task.values.get(fields["Story Points"].id)
        if points is not None:
            want["Story Points"] = points
        tier = task.values.get(fields["Priority Tier"].id)
        if tier is not None:
            want["Priority Tier"] = fields["Priority Tier"].type_config["options"][tier]["name"]
        got = {v["name"]: v["value"] for v in actions[task_id]["custom_field_values"]}
        assert got == want, task_id  # Budget applies to objectives only, so actions never get it
    assert world.sync(world.config(mapping)).writes == 0

    bad = world.sync(world.config({**mapping, "custom_fields": {"Notes": "Release Notes"}}), only="desired_state")
    message = bad.failure()
    assert f"workspace '{KEY}'" in message and "mapping.custom_fields['Notes']" in message
    assert "'Release Notes'" in message and "'Story Points'" in message


def test_targets_by_id_and_errors_that_name_the_field(world):
    objective_id = world.objective_id(OBJECTIVE)
    world.sync(world.config({"target": {"objective": str(objective_id)}}), until="desired_state")
    assert {r["parent_cascade_id"] for r in desired(world).values() if r["cascade_type"] == "action"} == {objective_id}

    unknown = world.sync(world.config({"target": {"objective": "Conquer Mars"}}), only="desired_state")
    message = unknown.failure()
    assert f"workspace '{KEY}'" in message and "mapping.target.objective 'Conquer Mars'" in message
    assert repr(OBJECTIVE) in message

    untargeted = world.sync(world.config({}), only="desired_state")
    assert "set mapping.target.objective" in untargeted.failure()
    assert world.rows("SELECT status FROM sync.runs WHERE status = 'failed'") == [{"status": "failed"}] * 2
