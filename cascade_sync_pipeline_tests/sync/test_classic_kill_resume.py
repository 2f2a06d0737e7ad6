"""Kill and resume on the classic API: `cascade-sync sync` runs in a subprocess against the emulators
while Cascade loses answers after storing creates, and is killed (SIGKILL) while a create's answer
is on its way (the goal or task is stored, its id not yet recorded), then again at a random point of
the write-back. The next run must end exactly where an uninterrupted run ends: the same goals and
tasks (no duplicate, nothing lost), a consistent ID map, each Cascade ID written into ClickUp once."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from cascade_sync_pipeline_tests.support.classic_world import CLICKUP_MAPPING, CU, FIELD_WRITE, ClassicWorld
from cascade_sync_sandbox.server import Fault

pytestmark = pytest.mark.slow  # a kill drill

MAPPING = {**CLICKUP_MAPPING, "tasks_as": "project"}  # list goals, task goals aligned to them, checklist tasks
VOLATILE = (
    "id",
    "created_at",
    "updated_at",
    "title",
    "aligned_from_ids",
    "ancestor_ids",
    "descendant_ids",
    "task_ids",
    "completed_at",
)


def snapshot(world: ClassicWorld) -> dict:
    """Every goal and task in Cascade keyed by its source item (parents by source item too); an item
    the ID map does not name is a duplicate and fails the test."""
    mapped = {(r["cascade_type"], int(r["cascade_id"])): r["item_id"] for r in world.rows("SELECT * FROM sync.id_map")}
    out = {}
    for kind, items in (("goal", world.cascade.goals), ("task", world.cascade.tasks)):
        for cascade_id, item in items.items():
            source = mapped.get((kind, cascade_id))
            assert source is not None, f"{kind} {cascade_id} ({item.get('task') or item.get('details')}) is a duplicate"
            out[(kind, source)] = {
                **{k: v for k, v in item.items() if k not in VOLATILE},
                "aligned_to_ids": [mapped[("goal", g)] for g in item.get("aligned_to_ids", [])],
                "goal_id": mapped.get(("goal", item.get("goal_id"))),
            }
    return out


def run_cli(env: dict, home, log, kill_when=None) -> int:
    """`cascade-sync sync` in a subprocess with its own Dagster instance (``home``): a killed run stays
    STARTED in its instance, where the CLI would refuse the next run of the workspace until an operator
    cancels it; the resumed run is a new process on a new instance, as after that cancel."""
    home.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cascade_sync_pipeline.cli", "sync", CU, "--mode", "full"],
        env={**env, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when is not None and kill_when():
            proc.kill()
            break
        time.sleep(0.005)
    return proc.wait(timeout=30)


def test_a_run_killed_with_a_create_in_flight_and_in_write_back_resumes_to_the_clean_result(tmp_path, monkeypatch):
    (tmp_path / "clean").mkdir()
    clean = ClassicWorld(tmp_path / "clean", monkeypatch, seed=9, clickup_tasks=40)
    try:
        reference = clean.sync(clean.config(MAPPING))
        assert reference.success, reference.failure()
        want = snapshot(clean)
    finally:
        clean.stop()

    (tmp_path / "killed").mkdir()
    world = ClassicWorld(tmp_path / "killed", monkeypatch, seed=9, clickup_tasks=40)
    try:
        config_path = tmp_path / "killed" / "config.yaml"
        raw = world.raw_config(MAPPING)
        raw["workspaces"] = raw["workspaces"][:1]
        config_path.write_text(yaml.safe_dump(raw))
        env = {**os.environ, "CASCADE_SYNC_CONFIG": str(config_path), "CASCADE_SYNC_DUCKDB": world.duckdb}
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        # The n-th create is stored, then answered only after 2 s: the run is killed meanwhile. Later creates
        # (of the runs that follow) lose their answers after being stored, at random.
        nth = rng.randrange(3, reference.writes - 3)
        in_flight = world.cascade.faults.add(
            Fault("delay_after_write", method="POST", path=r"/(goals|tasks)$", seconds=2, after=nth)
        )
        for path in ("/goals$", "/tasks$"):
            world.cascade.faults.add(
                Fault("reset_after_write", method="POST", path=path, after=rng.randrange(0, 4), times=2)
            )
        in_write_back = rng.randrange(1, reference.source_writes)
        taken: list[float] = []

        def create_in_flight() -> bool:  # the delayed create was stored a moment ago; its answer is not back
            if in_flight.times == 0 and not taken:
                taken.append(time.monotonic())
            return bool(taken) and time.monotonic() - taken[0] > 0.5

        field_writes = lambda: world.clickup.log.count("POST", FIELD_WRITE)
        log_path = tmp_path / "cli.log"
        with open(log_path, "w") as log:
            first = run_cli(env, tmp_path / "home-1", log, create_in_flight)
            attempts = world.rows("SELECT * FROM sync.create_attempts")
            stored = len(world.cascade.goals) + len(world.cascade.tasks)
            recorded = world.rows("SELECT count(*) AS n FROM sync.id_map")[0]["n"]
            second = run_cli(env, tmp_path / "home-2", log, lambda: field_writes() >= in_write_back)
        context = (
            f"seed {seed}: killed with create {nth + 1} in flight, then after {in_write_back} ClickUp field "
            f"writes; log: {log_path.read_text()[-2000:]}"
        )
        assert (first, second) == (-9, -9) and field_writes() >= in_write_back, context
        assert len(attempts) == 1 and stored == recorded + 1, context  # stored in Cascade, not yet recorded

        finished = world.sync(world.config(MAPPING))
        assert finished.success, finished.failure() + context
        assert snapshot(world) == want, context
        assert world.rows("SELECT count(*) AS n FROM sync.create_attempts")[0]["n"] == 0, context
        assert len(world.cascade.goals) + len(world.cascade.tasks) == len(want), context

        chosen = world.top_level()
        ids = {r["item_id"]: r["cascade_id"] for r in world.rows("SELECT * FROM sync.id_map")}
        assert {t: world.cascade_id_value(t) for t in chosen} == {t: ids[t] for t in chosen}, context
        per_task = Counter(
            re.search(r"/task/([^/]+)/field/", p).group(1)
            for m, p, _ in world.clickup.log.entries
            if m == "POST" and "/field/" in p
        )
        assert set(per_task) == set(chosen) and max(per_task.values()) == 1, context

        again = world.sync(world.config(MAPPING))
        assert again.success and (again.writes, again.source_writes) == (0, 0), context
    finally:
        world.stop()
