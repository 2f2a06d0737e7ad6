"""Fault drills, end to end: the ClickUp assets (and, where it matters, the whole chain) materialized
through Dagster over real HTTP while the emulators misbehave. Each drill ends in the staging a clean
run produces (the generator's ground truth) or in a clear error that leaves the partition as it was:
nothing lost, nothing duplicated.

The client-level fault paths are in clickup/test_clickup_client.py; a run killed during the Cascade
publish and the write-back is in sync/test_classic_kill_resume.py; signed, forged and replayed webhooks
in orchestration/test_webhooks.py. The longer soak of the same drills is scripts/soak.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import httpx
import pytest
import yaml
from flask import request

from cascade_sync_pipeline.clickup.assets import build_clickup_assets
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.partitions import workspace_partitions
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.oauth import authorize_url, exchange_code
from cascade_sync_pipeline_tests.support import wrike_setup
from cascade_sync_pipeline_tests.support.helpers import failure_message
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_sandbox.clickup.app import ClickUpEmulator
from cascade_sync_sandbox.clickup.generator import expected_staging, generate

pytestmark = pytest.mark.slow  # fault and kill drills, end to end

ROOT = REPO_ROOT
KEY = "drill"
TOKEN_ENV = "DRILL_CLICKUP_TOKEN"
STATUS_OVERRIDES = {"on hold": "deferred", "cancelled": "cancelled"}
STAGING_KEYS = {
    "work_items": ("item_id",),
    "custom_field_values": ("item_id", "field_id"),
    "containers": ("container_id",),
    "users": ("user_id",),
}
PARTITION_TABLES = (
    "raw.clickup_hierarchy",
    "raw.clickup_custom_fields",
    "raw.clickup_tasks",
    "staging.work_items",
    "staging.custom_field_values",
    "staging.containers",
    "staging.users",
    "staging.checklist_items",
    "sync.extract_state",
)
LISTING = r"/team/\d+/task$"
RATE_LIMITED = '{"err":"Rate limit reached","ECODE":"APP_002"}'


class Triggers:
    """Test-side actions fired when the emulator receives a matching request (before it answers)."""

    def __init__(self, app) -> None:
        self._rules: list[list] = []
        self._lock = threading.Lock()
        app.before_request(self._fire)

    def on(self, path: str, action: Callable[[], None], *, after: int = 0) -> None:
        """Run ``action`` once, when the ``after + 1``-th request matching ``path`` arrives."""
        with self._lock:
            self._rules.append([re.compile(path), after, action])

    def _fire(self) -> None:
        with self._lock:
            due = []
            for rule in self._rules:
                if rule[2] is not None and rule[0].search(request.path):
                    if rule[1] == 0:
                        due.append(rule[2])
                        rule[2] = None
                    else:
                        rule[1] -= 1
        for action in due:
            action()


class Drill:
    """One ClickUp Workspace on a loopback emulator, a config for it and a warehouse in tmp_path."""

    def __init__(self, tmp_path: Path, monkeypatch, *, tasks: int = 250, seed: int = 21, **emulator) -> None:
        self.dataset = generate(seed, teams=1, tasks_per_team=tasks)
        self.team_id = next(iter(self.dataset.teams))
        self.emulator = ClickUpEmulator(self.dataset, **{"rate_limit": 100_000, **emulator})
        self.triggers = Triggers(self.emulator.app)
        self.server = self.emulator.serve(port=0)
        self.token = self.dataset.grant([self.team_id])
        self.monkeypatch = monkeypatch
        monkeypatch.setenv(TOKEN_ENV, self.token)
        self.duckdb = str(tmp_path / "warehouse.duckdb")
        self.instance = dg.DagsterInstance.ephemeral()

    def raw_config(self, **workspace) -> dict:
        return {
            "warehouse": {"path": self.duckdb},
            "workspaces": [
                {
                    "key": KEY,
                    "source": "clickup",
                    "base_url": f"{self.server.url}/api/v2",
                    "team_id": self.team_id,
                    "token_env": TOKEN_ENV,
                    "status_categories": STATUS_OVERRIDES,
                    **workspace,
                }
            ],
        }

    def config(self, **workspace):
        return parse_config(self.raw_config(**workspace))

    def materialize(self, mode: str = "full", *, timeout_s: float = 5.0, **workspace) -> dg.ExecuteInProcessResult:
        config = self.config(**workspace)
        return dg.materialize(
            build_clickup_assets(config, workspace_partitions(config, "clickup")).assets,
            partition_key=KEY,
            instance=self.instance,
            raise_on_error=False,
            resources={
                "warehouse": WarehouseResource(path=self.duckdb),
                "clickup": ClickUpResource(timeout_s=timeout_s),
            },
            run_config={"ops": {"clickup_raw_extract": {"config": {"mode": mode}}}},
        )

    # --- reading back -------------------------------------------------------------------------------
    def rows(self, sql: str, params=()) -> list[tuple]:
        with Warehouse(self.duckdb).connect(read_only=True) as con:
            return con.execute(sql, params).fetchall()

    def partition(self) -> dict[str, list[tuple]]:
        """Every row of the workspace's partition (raw, staging, extract state), in a stable order."""
        out = {}
        with Warehouse(self.duckdb).connect(read_only=True) as con:
            for table in PARTITION_TABLES:
                out[table] = sorted(
                    map(repr, con.execute(f"SELECT * FROM {table} WHERE workspace = ?", [KEY]).fetchall())
                )
        return out

    def staged(self, table: str) -> list[dict]:
        with Warehouse(self.duckdb).connect(read_only=True) as con:
            cursor = con.execute(f"SELECT * FROM staging.{table} WHERE workspace = ?", [KEY])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r, strict=False)) for r in cursor.fetchall()]
        for row in rows:
            if row.get("assignee_ids") is not None:
                row["assignee_ids"] = list(row["assignee_ids"])
        return rows

    def assert_clean_result(self, denied_lists: tuple[str, ...] = ()) -> None:
        """Staging equals the ground truth of the emulator's current data; raw holds each task once."""
        truth = expected_staging(
            self.dataset, self.team_id, KEY, status_categories=STATUS_OVERRIDES, denied_list_ids=denied_lists
        )
        for table, key in STAGING_KEYS.items():
            got = self.staged(table)
            keyed = {tuple(r[k] for k in key): r for r in got}
            want = {tuple(r[k] for k in key): r for r in truth[table]}
            assert len(keyed) == len(got), f"{table}: duplicate rows"
            assert set(keyed) == set(want), f"{table}: missing {set(want) - set(keyed)}, extra {set(keyed) - set(want)}"
            wrong = [(k, c) for k in want for c in want[k] if keyed[k][c] != want[k][c]]
            assert not wrong, f"{table}: {len(wrong)} wrong values, first {wrong[:3]}"
        raw = self.rows("SELECT count(*), count(DISTINCT task_id) FROM raw.clickup_tasks WHERE workspace = ?", [KEY])
        assert raw[0][0] == raw[0][1] == len(truth["work_items"])

    def stop(self) -> None:
        self.server.stop()


def extract_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return next(
        {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "raw_tasks"
    )


@pytest.fixture
def drill(tmp_path, monkeypatch):
    d = Drill(tmp_path, monkeypatch)
    yield d
    d.stop()


# --- transient faults: retried, and the run ends where a clean run ends ------------------------------

FAULTS = {
    # A 429 storm with ClickUp's body; the emulator's short window keeps each wait under ~2 s.
    "429 storm": [
        dict(kind="status", status=429, body=RATE_LIMITED, path=LISTING, times=2, after=1),
        dict(kind="status", status=429, body=RATE_LIMITED, path=r"/team$", times=1),
    ],
    "5xx burst": [
        dict(kind="status", status=503, path=r"/team$", times=2),
        dict(kind="status", status=500, path=r"/space/\d+/folder$", times=1),
        dict(kind="status", status=502, path=LISTING, times=1, after=1),
        dict(kind="status", status=504, path=r"/list/\d+/field$", times=1),
    ],
    "timeouts": [
        dict(kind="delay", seconds=1.5, path=LISTING, times=1, after=1),
        dict(kind="delay", seconds=1.5, path=r"/list/\d+/field$", times=1),
    ],
    "connection resets": [
        dict(kind="reset", path=LISTING, times=2, after=1),
        dict(kind="reset", path=r"/team/\d+/space$", times=1),
    ],
    "truncated bodies": [
        dict(kind="truncate", path=LISTING, times=2),
        dict(kind="truncate", path=r"/list/\d+/field$", times=1),
    ],
    "HTML bodies": [dict(kind="html", path=LISTING, times=2, after=2), dict(kind="html", path=r"/team$", times=1)],
}


@pytest.mark.parametrize("name", FAULTS)
def test_transient_faults_end_in_the_staging_of_a_clean_run(tmp_path, monkeypatch, name):
    drill = Drill(tmp_path, monkeypatch, rate_window=1.0)
    try:
        added = [drill.emulator.faults.add(**fault) for fault in FAULTS[name]]
        result = drill.materialize(timeout_s=0.75)
        assert result.success, failure_message(result)
        drill.assert_clean_result()
        injected = sum(f["times"] for f in FAULTS[name])
        meta = extract_metadata(result)
        if name == "429 storm":
            assert meta["rate_limited_responses"] == injected == drill.emulator.log.count(status=429)
        else:
            assert meta["retries"] == injected
        assert all(f.times == 0 for f in added), "every injected fault was hit"
    finally:
        drill.stop()


# --- credentials and permissions ---------------------------------------------------------------------


def test_token_revoked_mid_run_fails_clearly_and_leaves_the_partition_as_it_was(drill):
    assert drill.materialize().success
    before = drill.partition()
    task = next(t for t in drill.dataset.tasks.values() if not t.archived)
    drill.emulator.update_task(task.id, name="Renamed before the failed run")
    drill.triggers.on(LISTING, lambda: drill.emulator.revoke_token(drill.token), after=1)

    result = drill.materialize()
    assert not result.success
    text = failure_message(result)
    assert f"workspace '{KEY}'" in text and TOKEN_ENV in text and "Settings > Apps" in text and "OAUTH_025" in text
    assert drill.token not in text
    assert drill.partition() == before

    drill.monkeypatch.setenv(TOKEN_ENV, drill.dataset.grant([drill.team_id]))  # the operator's fix
    assert drill.materialize().success
    drill.assert_clean_result()


def test_access_lost_to_one_list(drill):
    assert drill.materialize().success
    lost = drill.dataset.team_list_ids(drill.team_id)[0]
    lost_tasks = {t.id for t in drill.dataset.tasks.values() if t.list_id == lost}
    assert lost_tasks

    # Mid-run (after the hierarchy was read, at the list's field definitions): a clear error, nothing changed.
    before = drill.partition()
    drill.triggers.on(r"/list/\d+/field$", lambda: drill.emulator.deny_list(drill.token, lost))
    result = drill.materialize()
    assert not result.success
    text = failure_message(result)
    assert f"/list/{lost}/field" in text and "lacks access" in text and drill.team_id in text
    assert drill.partition() == before

    # The next run: the list is no longer visible to the token, so it and its tasks drop out.
    result = drill.materialize()
    assert result.success, failure_message(result)
    drill.assert_clean_result(denied_lists=(lost,))
    staged = {r["item_id"] for r in drill.staged("work_items")}
    assert not staged & lost_tasks

    # A scope that names the list: a clear error naming the config field, partition unchanged.
    before = drill.partition()
    result = drill.materialize(scope={"lists": [lost]})
    assert not result.success
    assert f"scope.lists[0] = '{lost}' matches no list the token can see" in failure_message(result)
    assert drill.partition() == before


def test_moved_renamed_and_deleted_tasks_are_right_after_the_next_full_run(drill):
    assert drill.materialize().success
    ds = drill.dataset
    top = [
        t
        for t in ds.tasks.values()
        if t.parent is None and not t.archived and not any(s.parent == t.id for s in ds.tasks.values())
    ]
    moved, renamed, deleted = top[0], top[1], top[2]
    target = next(x for x in ds.team_list_ids(drill.team_id) if x != moved.list_id)
    drill.emulator.move_task(moved.id, target)
    drill.emulator.update_task(renamed.id, name="Renamed between runs")
    drill.emulator.delete_task(deleted.id)

    result = drill.materialize(mode="auto")  # incremental: sees the move and the rename, not the deletion
    assert result.success and extract_metadata(result)["mode"] == "incremental"
    items = {r["item_id"]: r for r in drill.staged("work_items")}
    assert items[moved.id]["container_id"] == target and items[renamed.id]["title"] == "Renamed between runs"
    assert deleted.id in items

    assert drill.materialize(mode="full").success
    drill.assert_clean_result()
    assert deleted.id not in {r["item_id"] for r in drill.staged("work_items")}


# --- the process dies, the disk fills -------------------------------------------------------------


def _cli_env(drill: Drill, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "drill.yaml"
    config.write_text(yaml.safe_dump(drill.raw_config()))
    env = {k: v for k, v in os.environ.items() if k != "CASCADE_SYNC_DUCKDB"}
    # The test's own Dagster instance: a killed run stays STARTED there, never in the repo's instance
    # (where the CLI would then refuse every later run of this workspace key).
    return env | {
        "CASCADE_SYNC_CONFIG": str(config),
        TOKEN_ENV: os.environ[TOKEN_ENV],
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


SYNC = [sys.executable, "-m", "cascade_sync_pipeline.cli", "sync", KEY, "--mode", "full"]

# Runs the sync with the warehouse on a tmpfs of $SIZE KiB, in a private mount namespace, then copies the
# warehouse out so the test can look at what the failed run left.
ON_A_SMALL_DISK = """
set -e
mount -t tmpfs -o size=${SIZE}k tmpfs "$DISK"
cp "$SOURCE" "$DISK/warehouse.duckdb"
set +e
CASCADE_SYNC_DUCKDB="$DISK/warehouse.duckdb" "$@"
code=$?
cp "$DISK"/warehouse.duckdb* "$OUT"/
exit $code
"""


def _small_disk_runner() -> list[str] | None:
    """``unshare`` that can mount a tmpfs here (as root, or in a user namespace), or None."""
    for flags in (["-rm"], ["-m"]):
        probe = subprocess.run(
            ["unshare", *flags, "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return ["unshare", *flags]
    return None


def test_process_killed_during_extract_then_rerun(drill, tmp_path):
    assert drill.materialize().success
    before = drill.partition()
    renamed = next(t for t in drill.dataset.tasks.values() if not t.archived)
    drill.emulator.update_task(renamed.id, name="Renamed before the killed run")

    arrived, release = threading.Event(), threading.Event()

    def hold() -> None:  # the third task page is on its way when the process dies
        arrived.set()
        release.wait(30)

    drill.triggers.on(LISTING, hold, after=2)
    proc = subprocess.Popen(
        SYNC, env=_cli_env(drill, tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert arrived.wait(60), proc.communicate()[0] if proc.poll() is not None else "no listing request"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        release.set()
    assert proc.returncode == -signal.SIGKILL
    assert drill.partition() == before  # the killed run wrote nothing

    result = drill.materialize()
    assert result.success, failure_message(result)
    drill.assert_clean_result()
    assert {r["item_id"]: r["title"] for r in drill.staged("work_items")}[renamed.id] == "Renamed before the killed run"


def test_disk_full_fails_the_run_clearly_and_keeps_the_previous_partition(drill, tmp_path):
    runner = _small_disk_runner()
    if runner is None:
        pytest.skip("cannot mount a small tmpfs here (needs root or unprivileged user namespaces)")
    assert drill.materialize().success
    before = drill.partition()
    drill.emulator.update_task(next(iter(drill.dataset.tasks)), name="A change that cannot be stored")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir(), out.mkdir()
    size_kib = Path(drill.duckdb).stat().st_size // 1024 + 256  # room for the lock file, not for the new rows
    env = _cli_env(drill, tmp_path) | {
        "SIZE": str(size_kib),
        "DISK": str(disk),
        "OUT": str(out),
        "SOURCE": drill.duckdb,
    }
    done = subprocess.run(
        [*runner, "sh", "-c", ON_A_SMALL_DISK, "sh", *SYNC],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    message = next(line for line in output.splitlines() if line.startswith(f"✗ {KEY} (clickup) failed"))
    assert f"the warehouse {disk / 'warehouse.duckdb'} could not be written" in message
    assert "No space left on device" in message and "data already there is intact" in message
    assert "free space on that disk" in message and "CASCADE_SYNC_DUCKDB" in message

    drill.duckdb = str(out / "warehouse.duckdb")  # what the failed run left behind
    assert drill.partition() == before
    result = drill.materialize()  # space again: the next run catches up
    assert result.success, failure_message(result)
    drill.assert_clean_result()


# --- Wrike: the OAuth refresh fails ------------------------------------------------------------------


def _wrike_partition(duckdb_path: str, key: str) -> dict[str, list[str]]:
    with Warehouse(duckdb_path).connect(read_only=True) as con:
        tables = [
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE (schema_name = 'raw' AND table_name LIKE "
                "'wrike%') OR schema_name = 'staging' OR table_name = 'extract_state' ORDER BY ALL"
            ).fetchall()
        ]
        return {
            t: sorted(map(repr, con.execute(f"SELECT * FROM {t} WHERE workspace = ?", [key]).fetchall()))
            for t in tables
        }


def test_wrike_oauth_refresh_failure_names_the_fix_and_keeps_the_partition(tmp_path, monkeypatch):
    dataset = wrike_setup.small_dataset(17, tasks=80)
    emulator, server = wrike_setup.start_emulator(dataset, rate_limit=100_000)
    store = tmp_path / "wrike.tokens.json"
    monkeypatch.setenv("DRILL_WRIKE_CLIENT_ID", dataset.oauth_client_id)
    monkeypatch.setenv("DRILL_WRIKE_CLIENT_SECRET", dataset.oauth_client_secret)
    oauth = {
        "client_id_env": "DRILL_WRIKE_CLIENT_ID",
        "client_secret_env": "DRILL_WRIKE_CLIENT_SECRET",
        "token_store": str(store),
        "login_url": server.url,
    }
    config = wrike_setup.wrike_config([server.url], duckdb=str(tmp_path / "wh.duckdb"), oauth=oauth)
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
        assert wrike_setup.materialize(config, "wrike-1", mode="full").success
        before = _wrike_partition(config.duckdb_path, "wrike-1")
        tokens = json.loads(store.read_text())["state"]
        emulator.revoke_token(tokens["refresh_token"])  # e.g. the app's access was withdrawn in Wrike
        emulator.expire_access_tokens()
        emulator.update_task(dataset.tasks[0]["id"], title="Changed while the sync cannot log in")

        result = wrike_setup.materialize(config, "wrike-1", mode="full", raise_on_error=False)
    finally:
        server.stop()
    assert not result.success
    text = failure_message(result)
    assert "workspace 'wrike-1'" in text and "invalid_grant" in text
    assert "cascade-sync wrike authorize --workspace wrike-1" in text  # the fix, spelled out
    for secret in (tokens["access_token"], tokens["refresh_token"], dataset.oauth_client_secret):
        assert secret not in text
    assert _wrike_partition(config.duckdb_path, "wrike-1") == before
