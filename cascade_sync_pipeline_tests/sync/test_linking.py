"""The sync on Cascade's Integrations API (the linking engine) end to end, over real HTTP: ClickUp and
Wrike emulators, the Integrations emulator seeded from their Cascade ID fields and the config links,
the chain materialized through Dagster with the real resources. Expectations come from the
generators' datasets (``linking_world.Truth``), never from the SQL under test."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import timedelta

import dagster as dg
import pytest

from cascade_sync_pipeline.sync.linking import values as linking_values
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline_tests.support.linking_world import (
    CASCADE_TOKEN_ENV,
    CU,
    OLD_PLAN,
    PLAN,
    PUT_PATH,
    WR,
    Expected,
    World,
    approx_equal,
    utc_today,
)
from cascade_sync_sandbox.integrations import SANDBOX_CLIENT_SECRET
from cascade_sync_sandbox.server import Fault

pytestmark = pytest.mark.slow  # the linking chain end to end (several seconds each)

HISTORY_DAYS_PER_CALL = 366  # what the connector's int32 history payload is sent in; see push.py


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch)
    yield world
    world.stop()


@pytest.fixture
def both(tmp_path, monkeypatch):
    world = World(tmp_path, monkeypatch, wrike_tasks=70)
    yield world
    world.stop()


def wrong_values(world: World, expected: Expected) -> dict:
    held = world.values_held()
    return {i: (held.get(i), v) for i, v in expected.values.items() if not approx_equal(held.get(i), v)}


def history_links(world: World, key: str = CU):
    return [link for link in world.links[key] if link.source_kind == "container" and link.cascade_type == "measure"]


def history_calls(world: World, key: str = CU) -> int:
    truth, today = world.truth(key), utc_today()
    return sum(math.ceil(len(truth.history(link, today)) / HISTORY_DAYS_PER_CALL) for link in history_links(world, key))


def value_puts(run) -> list[tuple[str, str]]:
    return sorted(p for p in run.puts() if p[0] != "history")


def assert_history(world: World, key: str = CU) -> None:
    truth, today = world.truth(key), utc_today()
    for link in history_links(world, key):
        want = truth.history(link, today)
        got = world.cascade.measure(link.cascade_id)["history"]
        assert want, f"{link.rule}: the dataset has no completed work before today"
        assert set(got) == set(want), (link.rule, sorted(set(got) ^ set(want))[:5])
        # History values are whole numbers on the wire (int32): a sum with cents is rounded.
        off = {d: (got[d], v) for d, v in want.items() if abs(got[d] - v) > 0.5}
        assert not off, (link.rule, list(off.items())[:5])


# --- 1. the first sync ------------------------------------------------------------------------------
def test_clickup_and_wrike_first_sync_push_the_ground_truth(both):
    world = both
    config = world.config()
    expected = {}
    for key in (CU, WR):
        run = world.sync(config, key)
        assert run.success, run.failure()
        expected[key] = world.expected(key)
        want = expected[key]
        assert len(want.values) >= 8 and not want.held_back, want
        assert not wrong_values(world, want)
        assert value_puts(run) == sorted((want.kinds[i], i) for i in want.values), "each value PUT once"
        row = world.run_row(run.run_id, key)
        assert row["status"] == "succeeded", row
        assert row["cascade_writes"] == run.writes == len(run.puts()) == len(want.values) + history_calls(world, key)

        truth = world.truth(key)
        linked = [r for r in truth.items.values() if r["cascade_id"] in want.values]
        done = [r["cascade_id"] for r in linked if truth.done(r["item_id"])]
        partly = [r["cascade_id"] for r in linked if 0 < truth.progress(r["item_id"]) < 100]
        assert done and partly, "the dataset links done items and items part way"
        assert all(world.value(i) == 100 for i in done)
        for link in world.links[key]:
            if link.source_kind == "container":
                assert approx_equal(world.value(link.cascade_id), truth.container_value(link)), link.rule
            else:
                assert approx_equal(world.value(link.cascade_id), truth.numbers[(link.source_id, link.field)])
        assert_history(world, key)

    # Wrike's progress rule is a custom field (Confidence): at least one linked open item takes it.
    wtruth = world.truth(WR)
    assert any(
        (r["item_id"], "Confidence") in wtruth.numbers and not wtruth.done(r["item_id"])
        for r in wtruth.items.values()
        if r["cascade_id"] in expected[WR].values
    )
    # Nothing else in Cascade was touched: the unknown id, the other plan's action, unlinked items.
    assert set(world.values_held()) == set(expected[CU].values) | set(expected[WR].values)
    assert world.value(world.other_plan_claim[0]) is None


# --- 2. a re-run without change ---------------------------------------------------------------------
@pytest.mark.parametrize("key", [CU, WR])
def test_a_second_run_without_change_writes_nothing(tmp_path, monkeypatch, key):
    world = World(tmp_path, monkeypatch, wrike_tasks=70 if key == WR else 0)
    try:
        config = world.config()
        first = world.sync(config, key)
        assert first.success, first.failure()
        writes = world.cascade.writes
        # The write-back put the config item link's measure id into that item's Cascade ID field.
        second = world.sync(config, key)
        assert second.success, second.failure()
        assert second.writes == 0 and world.cascade.writes == writes and second.puts() == []
        assert world.rows("SELECT * FROM sync.diff WHERE workspace = ?", [key]) == []
        row = world.run_row(second.run_id, key)
        expected = world.expected(key)
        assert (row["status"], row["cascade_writes"], row["unchanged"]) == ("succeeded", 0, len(expected.values))
        assert not wrong_values(world, expected)
    finally:
        world.stop()


def test_a_dry_run_writes_nothing_and_the_next_run_pushes_what_it_planned(world):
    dry = world.sync(world.config(clickup={"dry_run": True}))
    assert dry.success, dry.failure()
    assert dry.writes == 0 and dry.puts() == []
    [publish] = [
        e.materialization.metadata
        for e in dry.result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "clickup/cascade_publish"
    ]
    planned = publish["planned_set_action"].value + publish["planned_set_measure"].value
    assert publish["dry_run"].value is True and planned > 0
    row = world.run_row(dry.run_id)
    assert (row["status"], row["dry_run"], row["updated"], row["cascade_writes"]) == ("dry_run", True, planned, 0)

    run = world.sync(world.config())
    assert run.success, run.failure()
    assert len(value_puts(run)) == planned and not wrong_values(world, world.expected())


# --- 3. one task done -------------------------------------------------------------------------------
def test_a_task_moved_to_done_changes_exactly_its_action(world):
    config = world.config()
    assert world.sync(config).success
    before, truth = world.expected(), world.truth()
    containers = [link for link in world.links[CU] if link.source_kind == "container"]
    candidates = [
        (-sum(i in truth.scope(link.source_id) for link in containers), i, r["cascade_id"])
        for i, r in truth.items.items()
        if r["item_type"] == "task"
        and not r["is_archived"]
        and not truth.done(i)
        and before.kinds.get(r["cascade_id"]) == "action"
        and before.claims[r["cascade_id"]] == [i]
    ]
    _, task_id, action_id = min(candidates)
    world.set_status(task_id, "done")
    after = world.expected()
    changed = {i: v for i, v in after.values.items() if not approx_equal(before.values.get(i), v)}
    assert changed[action_id] == 100
    assert set(changed) - {action_id} <= {link.cascade_id for link in containers}

    run = world.sync(config)
    assert run.success, run.failure()
    assert value_puts(run) == sorted((after.kinds[i], i) for i in changed), (task_id, changed)
    assert run.writes == len(run.puts()) == len(changed), "no history: the task was done today"
    assert world.value(action_id) == 100
    assert not wrong_values(world, after)


def test_a_webhook_run_reads_only_the_named_tasks_and_ends_where_a_full_sync_ends(world):
    """The live fast path: an ``items`` run reads one task per request (no hierarchy, no listing), writes
    exactly the values that changed, and leaves the state a full sync would; a task outside the
    workspace costs no write; a deleted task drops out of its action; the watermark does not move."""
    config = world.config()
    assert world.sync(config).success
    before = world.expected()
    task_id, action_id = world.open_task()
    with Warehouse(config.duckdb_path).connect(read_only=True) as con:
        watermark = con.execute("SELECT watermark FROM sync.extract_state WHERE workspace = ?", [CU]).fetchall()
    world.set_status(task_id, "done")
    after = world.expected()
    changed = {i: v for i, v in after.values.items() if not approx_equal(before.values.get(i), v)}
    reads = world.clickup.log.count("GET", r"^/api/v2/")

    run = world.sync(config, extract={"mode": "items", "item_ids": [task_id]})
    assert run.success, run.failure()
    assert world.clickup.log.count("GET", r"^/api/v2/") - reads == 1  # GET /task/{id}, nothing else
    assert run.writes == len(changed) and world.value(action_id) == 100
    assert not wrong_values(world, after)
    with Warehouse(config.duckdb_path).connect(read_only=True) as con:
        assert con.execute("SELECT watermark FROM sync.extract_state WHERE workspace = ?", [CU]).fetchall() == watermark

    unknown = world.sync(config, extract={"mode": "items", "item_ids": ["no-such-task"]})
    assert unknown.success and unknown.writes == 0

    world.clickup.delete_task(task_id)
    gone = world.expected()
    assert world.sync(config, extract={"mode": "items", "item_ids": [task_id]}).success
    assert not wrong_values(world, gone)
    full = world.sync(config)
    assert full.success and full.writes == 0  # the items runs left what a full sync leaves


def test_a_wrike_webhook_run_reads_only_the_named_tasks_in_one_call(both):
    world = both
    config = world.config()
    assert world.sync(config, WR).success
    before = world.expected(WR)
    task_id, action_id = world.open_task(WR)
    world.wrike.update_task(task_id, status="Completed")
    after = world.expected(WR)
    changed = {i: v for i, v in after.values.items() if not approx_equal(before.values.get(i), v)}
    reads = world.wrike.log.count("GET", r"^/api/v4/")
    run = world.sync(config, WR, extract={"mode": "items", "item_ids": [task_id, "IEAAAAAAKQNOSUCHTASK"]})
    assert run.success, run.failure()
    assert world.wrike.log.count("GET", r"^/api/v4/") - reads <= 3  # the batch, then one by one past the unknown id
    assert run.writes == len(changed) and world.value(action_id) == 100
    assert not wrong_values(world, after)
    assert world.sync(config, WR).writes == 0


# --- 4. ids that name nothing, or another plan's action ---------------------------------------------
def test_unknown_and_other_plan_ids_are_named_and_skipped(world):
    truth = world.truth()
    existing = world.plan_items()
    typo_item = next(
        i
        for i, r in sorted(truth.items.items())
        if r["item_type"] == "task" and not r["cascade_id"] and i not in {link.source_id for link in world.links[CU]}
    )
    real = sorted(i for i, k in existing.items() if k == "action" and i.startswith("act-"))[0]
    typo = real[:-2] + real[-1] + real[-2]  # two digits swapped
    if typo in existing or typo == real:
        typo = real + "0"
    world.set_cascade_id(typo_item, typo)

    run = world.sync(world.config())
    assert run.success, run.failure()
    check = run.checks()["cascade_links_valid"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    for cascade_id, item_id in (world.unknown_claim, world.other_plan_claim, (typo, typo_item)):
        assert item_id in check.description and f"'{cascade_id}'" in check.description, (item_id, cascade_id)
    assert OLD_PLAN in check.description, "says which plan the foreign id belongs to"
    problems = {
        (r["problem"], r["item_id"], r["cascade_id"])
        for r in world.rows("SELECT * FROM sync.link_problems WHERE workspace = ?", [CU])
    }
    assert problems == {
        ("unknown_id", world.unknown_claim[1], world.unknown_claim[0]),
        ("other_plan", world.other_plan_claim[1], world.other_plan_claim[0]),
        ("unknown_id", typo_item, typo),
    }
    skipped = {world.unknown_claim[0], world.other_plan_claim[0], typo}
    assert not skipped & {i for _, i in run.puts()}
    assert world.value(world.other_plan_claim[0]) is None
    expected = world.expected()
    assert len(expected.values) >= 8 and not wrong_values(world, expected)


# --- 5. config links are pinned ---------------------------------------------------------------------
def test_config_links_by_name_are_pinned_across_renames(world):
    config = world.config()
    assert world.sync(config).success
    pins = world.rows("SELECT link, source_id, cascade_id FROM sync.links ORDER BY link")
    assert len(pins) == len(world.links[CU])
    share, weighted = world.links[CU][0], world.links[CU][1]
    world.rename_list(share.source_id, "Launch Plan (renamed)")
    world.rename_cascade_item(weighted.cascade_id, "Folder points shipped")
    truth = world.truth()
    t1 = next(i for i in truth.scope(share.source_id) if not truth.done(i))
    t2 = next(
        (
            i
            for i in truth.scope(weighted.source_id)
            if not truth.done(i) and i != t1 and (i, weighted.weight_field) in truth.numbers
        ),
        None,
    ) or next(i for i in truth.scope(weighted.source_id) if not truth.done(i) and i != t1)
    before = world.expected()
    world.set_status(t1, "done")
    world.set_status(t2, "done")
    after = world.expected()
    for link in (share, weighted):
        assert after.values[link.cascade_id] != before.values[link.cascade_id]

    run = world.sync(config)
    assert run.success, run.failure()
    assert {("action", share.cascade_id), ("action", weighted.cascade_id)} <= set(run.puts())
    assert not wrong_values(world, after)
    assert world.rows("SELECT link, source_id, cascade_id FROM sync.links ORDER BY link") == pins
    renamed = world.rows("SELECT * FROM sync.link_problems WHERE workspace = ? AND problem = 'renamed'", [CU])
    assert any(
        r["cascade_id"] == share.cascade_id
        and share.source_id in r["message"]
        and "Launch Plan (renamed)" in r["message"]
        for r in renamed
    ), renamed
    assert any(
        r["cascade_id"] == weighted.cascade_id
        and weighted.cascade_id in r["message"]
        and "Folder points shipped" in r["message"]
        for r in renamed
    ), renamed
    assert "Launch Plan (renamed)" in run.checks()["cascade_links_valid"].description


# --- 6. two links, two values, one action -----------------------------------------------------------
def test_two_items_claiming_one_action_with_different_values_hold_it_back(world):
    truth = world.truth()
    plain = world.expected()
    linked = {link.source_id for link in world.links[CU]}
    first_item, action_id = next(
        (i, r["cascade_id"])
        for i, r in sorted(truth.items.items())
        if plain.kinds.get(r["cascade_id"]) == "action" and r["item_type"] == "task"
    )
    second_item = next(
        i
        for i, r in sorted(truth.items.items())
        if r["item_type"] == "task"
        and not r["cascade_id"]
        and i not in linked
        and truth.progress(i) != truth.progress(first_item)
    )
    world.set_cascade_id(second_item, action_id)
    expected = world.expected()
    assert expected.held_back == {action_id: sorted([first_item, second_item])}

    run = world.sync(world.config())
    assert run.success, run.failure()
    assert action_id not in {i for _, i in run.puts()} and world.value(action_id) is None
    assert world.writes_of(action_id) == []
    check = run.checks()["one_value_per_cascade_item"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert action_id in check.description and first_item in check.description and second_item in check.description
    assert not wrong_values(world, expected)
    assert value_puts(run) == sorted((expected.kinds[i], i) for i in expected.values)


# --- 7. the mass-zeroing guard ----------------------------------------------------------------------
def test_a_run_that_would_zero_most_values_is_blocked_before_writing(world):
    config = world.config()
    assert world.sync(config).success
    before, truth = world.expected(), world.truth()
    held_before = world.values_held()
    for item_id, row in truth.items.items():
        if row["status_category"] in ("done", "in_progress"):
            world.set_status(item_id, "to do")
    after = world.expected()
    positive = {i for i, v in before.values.items() if v > 0}
    zeroed = sorted(i for i in positive if after.values.get(i) == 0)
    assert len(zeroed) > 0.5 * len(positive) >= 2, "the scenario zeroes most linked values"

    writes = world.cascade.writes
    run = world.sync(config)
    assert not run.success
    assert "clickup/cascade_publish" not in run.materialized()
    assert world.cascade.writes == writes and run.puts() == []
    assert world.values_held() == held_before
    check = run.checks()["no_mass_zeroing"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    row = world.run_row(run.run_id)
    assert row["status"] == "blocked" and row["cascade_writes"] in (None, 0)
    for text in (check.description, row["message"]):
        assert f"{len(zeroed)} of {len(positive)}" in text, text
        missing = [i for i in zeroed if i not in text]
        assert not missing, f"not named: {missing} in {text}"

    # Publishing alone afterwards (re-materializing the asset in the UI) must not push the blocked diff.
    alone = world.sync(config, only="publish")
    assert world.cascade.writes == writes and alone.puts() == [], alone.failure()
    assert world.values_held() == held_before
    assert not alone.success and "stopped by its checks" in alone.failure() and row["run_id"] in alone.failure()


# --- 8. a publish killed partway --------------------------------------------------------------------
@pytest.mark.parametrize("resume", ["whole_run", "publish_alone"])
def test_a_killed_publish_resumes_to_the_uninterrupted_result(world, resume):
    """``publish_alone`` is what Dagster's re-execution from the failed step does."""
    config = world.config()
    expected = world.expected()
    calls = history_calls(world)
    uninterrupted = len(expected.values) + calls
    ok_first = calls + 3
    # PUT number ok_first+1 is stored but its answer is lost; its five retries are refused at the door.
    world.cascade.faults.add(Fault(kind="reset_after_write", method="PUT", path=PUT_PATH, after=ok_first, times=1))
    world.cascade.faults.add(Fault(kind="reset", method="PUT", path=PUT_PATH, times=5))

    killed = world.sync(config)
    assert not killed.success
    assert "kept failing" in killed.failure(), killed.failure()
    lost = killed.puts(status=0)[0]
    assert killed.writes == ok_first + 1
    row = world.run_row(killed.run_id)
    assert row["status"] == "failed" and row["cascade_writes"] == ok_first, row

    world.cascade.faults.clear()
    rerun = world.sync(config, only="publish" if resume == "publish_alone" else None)
    assert rerun.success, rerun.failure()
    assert not wrong_values(world, expected)
    assert set(world.values_held()) == set(expected.values)
    assert_history(world)
    assert killed.writes + rerun.writes == uninterrupted + 1, "only the value whose answer was lost is PUT twice"
    assert lost in rerun.puts()
    twice = {i for i in expected.values if len([w for w in world.writes_of(i) if "value" in w]) != 1}
    assert twice == ({lost[1]} if lost[0] != "history" else set()), twice


# --- 9. measure history ------------------------------------------------------------------------------
def test_measure_history_is_backfilled_once_then_appended(world, monkeypatch):
    config = world.config()
    first = world.sync(config)
    assert first.success, first.failure()
    links = history_links(world)
    assert {link.measure_value for link in links} == {"count_done", "sum"}
    assert_history(world)
    truth, today = world.truth(), utc_today()
    for link in links:
        sent = [w["historical_data"] for w in world.writes_of(link.cascade_id) if "historical_data" in w]
        days = [entry["date"] for body in sent for entry in body]
        assert len(days) == len(set(days)) == len(truth.history(link, today)), "every day sent once"
        assert max(days) == (today - timedelta(days=1)).isoformat()

    second = world.sync(config)
    assert second.success and second.puts() == []

    # The code has no clock parameter: values.today() is the seam that says which day it is.
    monkeypatch.setattr(linking_values, "today", lambda: today + timedelta(days=2))
    third = world.sync(config)
    assert third.success, third.failure()
    assert sorted(third.puts()) == sorted(("history", link.cascade_id) for link in links)
    truth = world.truth()
    for link in links:
        want = truth.history(link, today + timedelta(days=2))
        body = world.writes_of(link.cascade_id)[-1]["historical_data"]
        assert [e["date"] for e in body] == [today.isoformat(), (today + timedelta(days=1)).isoformat()]
        assert all(abs(e["value"] - want[e["date"]]) <= 0.5 for e in body), (body, want)


# --- 10. re-assertion --------------------------------------------------------------------------------
def test_unchanged_values_are_reasserted_after_reassert_hours_and_never_when_null(world):
    often = world.config(cascade={"reassert_hours": 0.0001})  # 0.36 s
    assert world.sync(often).success
    expected = world.expected()
    victim = sorted(i for i, k in expected.kinds.items() if k == "action" and i in expected.values)[0]
    with world.cascade.store.lock:
        world.cascade.store.actions[victim]["value"] = 3.0  # a person changes it by hand in Cascade
    time.sleep(0.6)
    again = world.sync(often)
    assert again.success, again.failure()
    assert value_puts(again) == sorted((expected.kinds[i], i) for i in expected.values)
    assert not [p for p in again.puts() if p[0] == "history"]
    assert world.value(victim) == expected.values[victim]

    never = world.config(cascade={"reassert_hours": None})
    with world.cascade.store.lock:
        world.cascade.store.actions[victim]["value"] = 3.0
    time.sleep(0.6)
    third = world.sync(never)
    assert third.success, third.failure()
    assert third.writes == 0 and third.puts() == []
    assert world.value(victim) == 3.0


# --- 11. OAuth --------------------------------------------------------------------------------------
def test_oauth_bootstrap_sync_and_transparent_refresh_leak_no_secret(world):
    settings = world.oauth_settings()
    stored = [world.bootstrap_oauth(settings)]
    config = world.config(cascade={"oauth": settings})
    assert config.cascade.token_env is None and config.cascade.oauth is not None

    first = world.sync(config)
    assert first.success, first.failure()
    assert first.token_calls == 0
    assert not wrong_values(world, world.expected())
    stored.append(world.stored_tokens(settings))

    world.cascade.expire_access_tokens()
    truth, expected = world.truth(), world.expected()
    world.set_status(
        next(
            i
            for i, r in sorted(truth.items.items())
            if expected.kinds.get(r["cascade_id"]) == "action"
            and expected.claims[r["cascade_id"]] == [i]
            and not truth.done(i)
        ),
        "done",
    )
    second = world.sync(config)
    assert second.success, second.failure()
    assert second.token_calls == 1, "one refresh, shared by the run's steps"
    assert second.writes >= 1 and not wrong_values(world, world.expected())
    stored.append(world.stored_tokens(settings))
    assert stored[-1]["access_token"] != stored[0]["access_token"]

    # A token endpoint that echoes what it was sent: the failure must still name no secret.
    world.cascade.expire_access_tokens()
    echo = json.dumps(
        {
            "error": "invalid_request",
            "error_description": f"refresh token {stored[-1]['refresh_token']} of client secret "
            f"{SANDBOX_CLIENT_SECRET} was refused",
        }
    )
    world.cascade.faults.add(
        Fault(kind="status", method="POST", path=r"^/oauth/token$", status=400, body=echo, times=5)
    )
    third = world.sync(config)
    assert not third.success

    with world.cascade.oauth._lock:  # every access token the emulator ever issued, saved or not
        issued = list(world.cascade.oauth._access)
    secrets = {SANDBOX_CLIENT_SECRET, *issued}
    for state in stored:
        secrets |= {
            v for k, v in state.items() if k in ("access_token", "refresh_token", "previous_refresh_token") and v
        }
    assert len(secrets) >= 4
    texts = [repr(world.rows("SELECT * FROM sync.runs"))]
    for run in (first, second, third):
        texts.append(run.failure())
        texts += [repr(entry) for entry in world.instance.all_logs(run.run_id)]
    leaks = [(s[:12], t[:200]) for t in texts for s in secrets if s in t]
    assert not leaks, leaks
    # ... and the failure still says what happened, with the echoed secrets masked.
    assert "invalid_request: refresh token *** of client secret *** was refused" in third.failure(), third.failure()
    assert "invalid_request" in world.run_row(third.run_id)["message"]


# --- 12. errors that name the fix -------------------------------------------------------------------
def test_a_plan_naming_nothing_fails_with_the_workspace_the_plan_and_the_plans_available(world):
    config = world.config(clickup_mapping={"plan": "FY2028 Strategy"})
    run = world.sync(config)
    assert not run.success
    message = run.failure()
    for part in (f"'{CU}'", "FY2028 Strategy", PLAN, OLD_PLAN, "Side Projects"):
        assert part in message, (part, message)
    assert world.cascade.writes == 0
    row = world.run_row(run.run_id)
    assert row["status"] == "failed" and "FY2028 Strategy" in row["message"] and PLAN in row["message"]


def test_a_missing_cascade_token_names_the_env_var(world, monkeypatch):
    monkeypatch.delenv(CASCADE_TOKEN_ENV)
    run = world.sync(world.config())
    assert not run.success
    assert CASCADE_TOKEN_ENV in run.failure(), run.failure()
    assert world.cascade.writes == 0 and run.requests == []


def test_cascade_is_called_with_no_warehouse_lock_held(world):
    """While Cascade is slow to answer a PUT, another run opens the warehouse at once: the publish
    holds the lock only to record results (before, it held it for the whole publish)."""
    config = world.config()
    assert world.sync(config, until="diff").success
    slow = world.cascade.faults.add(Fault(kind="delay", method="PUT", path=r"^/v2/", seconds=1.5, times=1))
    waited: list[float] = []

    def another_run() -> None:
        deadline = time.monotonic() + 60
        while slow.times and time.monotonic() < deadline:  # until the slow PUT is being answered
            time.sleep(0.01)
        started = time.monotonic()
        with Warehouse(world.duckdb).connect():
            waited.append(time.monotonic() - started)

    thread = threading.Thread(target=another_run)
    thread.start()
    published = world.sync(config, only="publish")
    thread.join()
    assert published.success, published.failure()
    assert waited and waited[0] < 0.5, waited
