"""The longer soak: the fault drills of cascade_sync_pipeline_tests/clickup/test_fault_drills.py, at random, on
the whole sandbox company on Cascade's classic API (config/sandbox-classic.yaml: two ClickUp
Workspaces, a Wrike account, a classic Cascade instance), round after round.

Each round edits the sources (renames, status changes, moves, deletions, new tasks), then runs one
drill against one workspace: a burst of transient faults (5xx, resets, truncated and HTML bodies,
lost Cascade answers), a 429 storm from a second client sharing the token, `cascade-sync sync` killed
during the extract or during the publish, a token revoked mid-run (ClickUp, Cascade), access lost to
one list, a full disk (a tiny tmpfs, where this machine lets us mount one). Then it settles: a clean
full sync must succeed and the workspace must be exactly right — staging equal to the generator's
ground truth, every source item in Cascade exactly once, the ID map consistent — and one more sync
must write nothing. Every goal and task in Cascade must belong to exactly one ID map row.

    .venv/bin/python scripts/soak.py --minutes 15            # prints a JSON summary; exit 1 on a violation
    .venv/bin/python scripts/soak.py --rounds 5 --seed 3 --tasks 800
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.company import CLASSIC_CONFIG, Company, company  # noqa: E402
from cascade_sync_pipeline.warehouse.store import Warehouse  # noqa: E402
from cascade_sync_pipeline_tests.clickup.test_fault_drills import ON_A_SMALL_DISK, Triggers, _small_disk_runner  # noqa: E402
from cascade_sync_pipeline_tests.support.wrike_setup import STAGING_KEYS, differences, staged  # noqa: E402
from cascade_sync_sandbox.clickup.generator import expected_staging as clickup_truth  # noqa: E402
from cascade_sync_sandbox.server import RateLimiter  # noqa: E402
from cascade_sync_sandbox.wrike import expected_staging as wrike_truth  # noqa: E402

CREATES = r"/api/v2/(goals|tasks)$"
LISTING = {"clickup": r"/api/v2/team/\d+/task$", "wrike": r"/api/v4/(spaces|folders)/[^/]+/tasks$"}
SOURCE_PATHS = {
    "clickup": [r"/team$", r"/space/\d+/folder$", r"/list/\d+/field$", r"/team/\d+/task$"],
    "wrike": [r"/spaces$", r"/api/v4/folders$", r"/(spaces|folders)/[^/]+/tasks$", r"/customfields$"],
}
DRILLS = (
    "transient",
    "storm",
    "kill_extract",
    "kill_publish",
    "revoked_source",
    "revoked_cascade",
    "lost_list",
    "disk_full",
)


class Soak:
    def __init__(self, co: Company, rng: random.Random) -> None:
        self.co, self.rng = co, rng
        self.triggers = {name: Triggers(co.emulator(name).app) for name in ("clickup", "wrike", "cascade")}
        self.denied: dict[str, set[str]] = {}
        self.small_disk = _small_disk_runner()
        self.invocations = 0
        self.config_file = co.workdir / "soak.yaml"
        self.config_file.write_text(yaml.safe_dump(co.raw_config))

    # --- the sources change ---------------------------------------------------------------------------
    def edit_sources(self, ws) -> list[str]:
        done = []
        for _ in range(self.rng.randint(2, 8)):
            try:
                done.append(self._edit_clickup(ws) if ws.source == "clickup" else self._edit_wrike())
            except Exception as err:  # e.g. a task deleted by an earlier edit: just skip that edit
                done.append(f"skipped ({type(err).__name__})")
        return done

    def _edit_clickup(self, ws) -> str:
        emu, rng = self.co.sandbox.clickup, self.rng
        ds = emu.dataset
        lists = ds.team_list_ids(ws.team_id)
        top = [t for t in ds.tasks.values() if t.team_id == ws.team_id and t.parent is None]
        task = rng.choice(top)
        op = rng.choice(("rename", "status", "move", "delete", "create"))
        if op == "rename":
            emu.update_task(task.id, name=f"Soak rename {rng.randrange(10**6)}")
        elif op == "status":
            emu.update_task(task.id, status=rng.choice(ds.list_statuses(task.list_id)).name)
        elif op == "move":
            emu.move_task(task.id, rng.choice([x for x in lists if x != task.list_id]))
        elif op == "delete":
            emu.delete_task(task.id)
        else:
            emu.create_task(rng.choice(lists), name=f"Soak new task {rng.randrange(10**6)}")
        return f"clickup {op}"

    def _edit_wrike(self) -> str:
        emu, rng = self.co.sandbox.wrike, self.rng
        live = [t for t in emu.dataset.tasks if t["scope"] == "WsTask" and not t["superTaskIds"]]
        task = rng.choice(live)
        projects = [f["id"] for f in emu.dataset.folders if "project" in f]
        op = rng.choice(("rename", "importance", "move", "delete", "create"))
        if op == "rename":
            emu.update_task(task["id"], title=f"Soak rename {rng.randrange(10**6)}")
        elif op == "importance":
            emu.update_task(task["id"], importance=rng.choice(("High", "Normal", "Low")))
        elif op == "move":
            emu.move_task(task["id"], rng.choice(projects))
        elif op == "delete":
            emu.delete_task(task["id"])
        else:
            emu.create_task(rng.choice(projects), f"Soak new task {rng.randrange(10**6)}")
        return f"wrike {op}"

    # --- the drills -------------------------------------------------------------------------------
    def run(self, drill: str, ws) -> str:
        return getattr(self, f"_{drill}")(ws)

    def _transient(self, ws) -> str:
        faults = []
        for _ in range(self.rng.randint(3, 8)):
            kind = self.rng.choice(("status", "reset", "truncate", "html"))
            fault = {
                "kind": kind,
                "path": self.rng.choice(SOURCE_PATHS[ws.source]),
                "times": self.rng.randint(1, 2),
                "after": self.rng.randint(0, 2),
            }
            if kind == "status":
                fault["status"] = self.rng.choice((500, 502, 503, 504))
            self.co.emulator(ws.source).faults.add(**fault)
            faults.append(f"{kind}{fault.get('status', '')}")
        self.co.sandbox.cascade.faults.add(
            kind="reset_after_write", method="POST", path=CREATES, times=1, after=self.rng.randint(0, 3)
        )
        self.co.sync(ws.key, "full")
        return f"succeeded through {', '.join(faults)} and a lost Cascade answer"

    def _storm(self, ws) -> str:
        emu = self.co.emulator(ws.source)
        saved, emu.limiter = emu.limiter, RateLimiter(40, 2.0)
        token = os.environ[ws.token_env]
        url, headers = (
            (f"{ws.base_url}/team", {"Authorization": token})
            if ws.source == "clickup"
            else (f"{ws.base_url}/spaces", {"Authorization": f"bearer {token}"})
        )
        stop, refused = threading.Event(), Counter()

        def neighbour() -> None:  # another integration on the same token
            with httpx.Client(timeout=5) as http:
                while not stop.is_set():
                    refused[http.get(url, headers=headers).status_code] += 1
                    time.sleep(0.02)

        thread = threading.Thread(target=neighbour, daemon=True)
        thread.start()
        try:
            outcome = self.co.sync(ws.key, "full")
        finally:
            stop.set()
            thread.join()
            emu.limiter = saved
        return f"succeeded in {outcome['seconds']}s while a neighbour got {refused[429]} 429s"

    def _cli(
        self, key: str, *, prefix: list[str] | None = None, extra_env: dict | None = None, kill_when=None
    ) -> tuple[int, str]:
        # Each command its own Dagster instance: a run killed by a drill stays STARTED in its instance,
        # where the CLI refuses the workspace's next run until an operator cancels it.
        self.invocations += 1
        home = self.co.workdir / f"dagster_home-{self.invocations}"
        home.mkdir()
        env = {
            **os.environ,
            "CASCADE_SYNC_CONFIG": str(self.config_file),
            "DAGSTER_HOME": str(home),
            **(extra_env or {}),
        }
        command = [*(prefix or []), sys.executable, "-m", "cascade_sync_pipeline.cli", "sync", key, "--mode", "full"]
        proc = subprocess.Popen(
            command, env=env, cwd=self.co.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        killer = threading.Thread(target=self._kill_when, args=(proc, kill_when), daemon=True)
        if kill_when is not None:
            killer.start()
        output = proc.communicate(timeout=600)[0]
        return proc.returncode, output

    @staticmethod
    def _kill_when(proc: subprocess.Popen, condition) -> None:
        while proc.poll() is None:
            if condition():
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.005)

    def _kill_extract(self, ws) -> str:
        arrived, release = threading.Event(), threading.Event()

        def hold() -> None:
            arrived.set()
            release.wait(60)

        self.triggers[ws.source].on(LISTING[ws.source], hold, after=self.rng.randint(0, 1))
        try:
            code, _ = self._cli(ws.key, kill_when=arrived.is_set)
        finally:
            release.set()
        return "killed during the extract" if code == -signal.SIGKILL else f"finished before the kill (exit {code})"

    def _rename_synced(self, ws, count: int) -> None:
        """Rename some source items that have a Cascade task, so the next publish has writes to do."""
        with Warehouse(self.co.config.duckdb_path).connect(read_only=True) as con:
            items = [
                i
                for (i,) in con.execute(
                    "SELECT m.item_id FROM sync.id_map AS m JOIN staging.work_items AS w USING (workspace, item_id) "
                    "WHERE m.workspace = ? ORDER BY m.item_id",
                    [ws.key],
                ).fetchall()
            ]
        emu = self.co.emulator(ws.source)
        for item in self.rng.sample(items, min(count, len(items))):
            try:
                if ws.source == "clickup":
                    emu.update_task(item, name=f"Soak publish {self.rng.randrange(10**6)}")
                else:
                    emu.update_task(item, title=f"Soak publish {self.rng.randrange(10**6)}")
            except Exception:  # deleted meanwhile
                pass

    def _kill_publish(self, ws) -> str:
        self._rename_synced(ws, 8)
        cascade = self.co.sandbox.cascade
        start, after = cascade.writes, self.rng.randint(1, 6)
        code, _ = self._cli(ws.key, kill_when=lambda: cascade.writes >= start + after)
        return (
            f"killed after {cascade.writes - start} Cascade writes"
            if code == -signal.SIGKILL
            else f"finished before the kill (exit {code}, {cascade.writes - start} writes)"
        )

    def _expect_failure(self, ws, must_name: str) -> str:
        try:
            self.co.sync(ws.key, "full")
        except RuntimeError as err:
            if must_name not in str(err):
                raise AssertionError(f"the failure does not name {must_name}: {err}") from None
            return f"failed clearly ({must_name} named)"
        raise AssertionError("the run succeeded although its credential was revoked")

    def _revoked_source(self, ws) -> str:
        if ws.source != "clickup":
            return self._revoked_cascade(ws)
        emu, token = self.co.sandbox.clickup, os.environ[ws.token_env]
        self.triggers["clickup"].on(LISTING["clickup"], lambda: emu.revoke_token(token))
        outcome = self._expect_failure(ws, ws.token_env)
        os.environ[ws.token_env] = emu.grant([ws.team_id])  # the operator puts a new token in place
        self.denied.pop(ws.key, None)
        return outcome

    def _revoked_cascade(self, ws) -> str:
        cascade, env = self.co.sandbox.cascade, self.co.config.cascade.token_env
        token = os.environ[env]
        user = cascade.tokens[token]
        self.triggers["cascade"].on(r"/api/v2/(goals|tasks)$", lambda: cascade.tokens.pop(token, None))
        try:
            return self._expect_failure(ws, env)
        finally:
            cascade.tokens[token] = user

    def _lost_list(self, ws) -> str:
        if ws.source != "clickup":
            return self._transient(ws)
        emu = self.co.sandbox.clickup
        lost = self.rng.choice(emu.dataset.team_list_ids(ws.team_id))
        emu.deny_list(os.environ[ws.token_env], lost)
        self.denied.setdefault(ws.key, set()).add(lost)
        self.co.sync(ws.key, "full")
        self.co.sync(ws.key, "full")  # the first run's write-back changed tasks after its extract read them
        problems = self.staging_problems(ws)
        if problems:
            raise AssertionError(f"after losing list {lost}: {problems[:3]}")
        os.environ[ws.token_env] = emu.grant([ws.team_id])  # access given back (a new token)
        self.denied.pop(ws.key, None)
        return f"list {lost} dropped while access was lost"

    def _disk_full(self, ws) -> str:
        if self.small_disk is None:
            return self._kill_extract(ws)
        path = Path(self.co.config.duckdb_path)
        disk, out = self.co.workdir / "disk", self.co.workdir / "disk-out"
        for d in (disk, out):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        size = path.stat().st_size // 1024 + 256
        code, output = self._cli(
            ws.key,
            prefix=[*self.small_disk, "sh", "-c", ON_A_SMALL_DISK, "sh"],
            extra_env={"SIZE": str(size), "DISK": str(disk), "OUT": str(out), "SOURCE": str(path)},
        )
        if code != 1 or "could not be written" not in output:
            raise AssertionError(f"a full disk should fail the run clearly (exit {code}): {output[-800:]}")
        for stale in path.parent.glob(path.name + ".wal"):
            stale.unlink()
        for left in out.glob("warehouse.duckdb*"):  # carry on from what the failed run left
            shutil.copy(left, path.parent / left.name.replace("warehouse.duckdb", path.name))
        return "failed clearly on a full disk"

    # --- settling and checking --------------------------------------------------------------------
    def staging_problems(self, ws) -> list[str]:
        if ws.source == "clickup":
            truth = clickup_truth(
                self.co.sandbox.clickup.dataset,
                ws.team_id,
                ws.key,
                cascade_id_field=ws.cascade_id_field,
                status_categories=dict(ws.status_categories),
                denied_list_ids=self.denied.get(ws.key, ()),
            )
        else:
            truth = wrike_truth(self.co.sandbox.wrike.dataset, ws.key, cascade_id_field=ws.cascade_id_field)
        return [
            f"{table}: {p}"
            for table, key in STAGING_KEYS.items()
            for p in differences(staged(self.co.config, table, ws.key), truth[table], key)
        ]

    def cascade_problems(self, ws) -> list[str]:
        """Each goal and task in Cascade belongs to one ID map row (of some workspace): none is a
        duplicate; the workspace's rows point at items Cascade holds; every desired item is mapped."""
        cascade = self.co.sandbox.cascade
        held = {("goal", i) for i in cascade.goals} | {("task", i) for i in cascade.tasks}
        with Warehouse(self.co.config.duckdb_path).connect(read_only=True) as con:
            every = con.execute(
                "SELECT cascade_type, CAST(cascade_id AS BIGINT), workspace, item_id FROM sync.id_map"
            ).fetchall()
            desired = con.execute(
                "SELECT cascade_type, item_id FROM sync.desired_state WHERE workspace = ?", [ws.key]
            ).fetchall()
        owners = Counter((k, i) for k, i, _, _ in every)
        problems = [f"{k} {i} has {n} ID map rows" for (k, i), n in owners.items() if n > 1]
        problems += [f"{k} {i} belongs to no source item (a duplicate?)" for k, i in sorted(held - set(owners))]
        problems += [
            f"id_map {k} {item} -> {i}, which Cascade does not hold"
            for k, i, w, item in every
            if w == ws.key and (k, i) not in held
        ]
        mapped = {(k, item) for k, _, w, item in every if w == ws.key}
        problems += [f"desired {k} {i} has no Cascade item" for k, i in desired if (k, i) not in mapped]
        return problems

    def settle(self, ws) -> dict:
        for name in ("clickup", "wrike", "cascade"):
            self.co.emulator(name).faults.clear()
        self.co.sync(ws.key, "full")
        writes = self.co.sandbox.cascade.writes
        self.co.sync(ws.key, "full")
        return {
            "staging": self.staging_problems(ws),
            "cascade": self.cascade_problems(ws),
            "writes_on_a_second_sync": self.co.sandbox.cascade.writes - writes,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, help="stop after this many rounds (whichever comes first)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per ClickUp Workspace")
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args(argv)
    import logging
    import warnings

    logging.getLogger("dagster").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60
    rounds, violations = [], 0
    with company(clickup_tasks_per_team=args.tasks, config_file=CLASSIC_CONFIG) as co:
        soak = Soak(co, rng)
        for ws in co.config.workspaces:
            co.sync(ws.key, "full")
        while time.monotonic() < deadline and (args.rounds is None or len(rounds) < args.rounds):
            ws, drill = rng.choice(co.config.workspaces), rng.choice(DRILLS)
            started = time.monotonic()
            entry = {"round": len(rounds) + 1, "workspace": ws.key, "drill": drill, "edits": soak.edit_sources(ws)}
            try:
                entry["outcome"] = soak.run(drill, ws)
                entry["settled"] = soak.settle(ws)
                ok = (
                    not entry["settled"]["staging"]
                    and not entry["settled"]["cascade"]
                    and entry["settled"]["writes_on_a_second_sync"] == 0
                )
            except Exception as err:
                entry["outcome"], ok = f"VIOLATION: {type(err).__name__}: {err}"[:2000], False
            entry["ok"], entry["seconds"] = ok, round(time.monotonic() - started, 1)
            violations += not ok
            rounds.append(entry)
            print(
                json.dumps({k: entry[k] for k in ("round", "workspace", "drill", "ok", "seconds", "outcome")}),
                file=sys.stderr,
                flush=True,
            )
    summary = {
        "seed": args.seed,
        "rounds": len(rounds),
        "violations": violations,
        "drills": dict(Counter(r["drill"] for r in rounds)),
        "log": rounds,
    }
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
