"""Kill and resume: `cascade-sync sync` runs in a subprocess against the emulators and is killed
(SIGKILL) at a random point of the publish, then again at a random point of the write-back; the
next run must end exactly where an uninterrupted run ends: the same Cascade items (no duplicate,
nothing lost), a consistent ID map, and each Cascade ID written into ClickUp once."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections import Counter

import yaml

from cascade_sync_pipeline_tests.cascade_fixtures import FIELD_WRITE, KEY, World

KINDS = ("objective", "action", "measure", "checklist_item", "milestone")
VOLATILE = ("id", "created_at", "updated_at", "objective_id", "action_id")
MAPPING = {"target": {"objective": "Launch self-serve pricing"},
           "by_container": [{"container": "Launch Plan", "objective": "Expand into EMEA"}]}


def snapshot(world: World) -> dict:
    """Everything the sync put in Cascade, keyed by source item, parents named by source item too."""
    by_id = {item["id"]: (item.get("external_ref") or {}).get("item_id", item.get("name"))
             for kind in KINDS for item in world.cascade.items(kind)}
    out = {}
    for kind in KINDS:
        for item_id, item in world.synced(kind).items():
            out[(kind, item_id)] = {**{k: v for k, v in item.items() if k not in VOLATILE},
                                    "parent": by_id.get(item.get("objective_id") or item.get("action_id"))}
    return out


def run_cli(env: dict, log, kill_when=None) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "cascade_sync_pipeline.cli", "sync", KEY, "--mode", "full"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when is not None and kill_when():
            proc.kill()
            break
        time.sleep(0.001)
    return proc.wait(timeout=30)


def test_a_run_killed_in_publish_and_in_write_back_resumes_to_the_clean_result(tmp_path, monkeypatch):
    (tmp_path / "clean").mkdir()
    clean = World(tmp_path / "clean", monkeypatch, seed=9, tasks=40)
    try:
        reference = clean.sync(clean.config(MAPPING))
        assert reference.success, reference.failure()
        want = snapshot(clean)
        want_map = {r["item_id"]: r["cascade_type"] for r in clean.rows("SELECT * FROM sync.id_map")}
    finally:
        clean.stop()

    (tmp_path / "killed").mkdir()
    world = World(tmp_path / "killed", monkeypatch, seed=9, tasks=40)
    try:
        config_path = tmp_path / "killed" / "config.yaml"
        config_path.write_text(yaml.safe_dump(world.raw_config(MAPPING)))
        env = {**os.environ, "CASCADE_SYNC_CONFIG": str(config_path), "CASCADE_SYNC_DUCKDB": world.duckdb}
        env.pop("DAGSTER_HOME", None)
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        in_publish = rng.randrange(1, reference.writes)
        in_write_back = rng.randrange(1, reference.field_writes)
        field_writes = lambda: world.clickup.log.count("POST", FIELD_WRITE)  # noqa: E731
        with open(tmp_path / "cli.log", "w") as log:
            killed = [run_cli(env, log, lambda: world.cascade.writes >= in_publish),
                      run_cli(env, log, lambda: field_writes() >= in_write_back)]
        context = f"seed {seed}: killed after {in_publish} Cascade writes and {in_write_back} ClickUp field writes; " \
                  f"log: {(tmp_path / 'cli.log').read_text()[-2000:]}"
        assert killed == [-9, -9] and field_writes() >= in_write_back, context
        finished = world.sync(world.config(MAPPING))
        assert finished.success, finished.failure() + context

        assert snapshot(world) == want, context
        counts = Counter(kind for kind in KINDS for item in world.cascade.items(kind) if item.get("external_ref"))
        assert counts == Counter(kind for kind, _ in want), context
        rows = world.rows("SELECT * FROM sync.id_map")
        assert {r["item_id"]: r["cascade_type"] for r in rows} == want_map, context
        synced = {kind: world.synced(kind) for kind in KINDS}
        assert all(str(synced[r["cascade_type"]][r["item_id"]]["id"]) == r["cascade_id"] for r in rows), context

        actions = synced["action"]
        assert {t: world.cascade_id_value(t) for t in actions} == {t: str(a["id"]) for t, a in actions.items()}
        per_task = Counter(re.search(r"/task/([^/]+)/field/", p).group(1)
                           for m, p, _ in world.clickup.log.entries if m == "POST" and "/field/" in p)
        assert set(per_task) == set(actions) and max(per_task.values()) == 1, context

        again = world.sync(world.config(MAPPING))
        assert again.success and (again.writes, again.field_writes) == (0, 0), context
    finally:
        world.stop()
