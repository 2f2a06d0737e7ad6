"""Scale-out: the code location, its schedules and sensors, and a backfill, with 1,000 ClickUp workspaces.

The sandbox generates ``WORKSPACES`` (1,000) small ClickUp Workspaces (``TASKS_PER_TEAM`` tasks each) in one
ClickUp emulator (in this process, on a free port, no rate limit to speak of); every workspace gets its
own token, minted by the emulator for that team alone, in its own environment variable. The config has no
``cascade`` block, so the code location extracts and stages only (raw -> staging, no Cascade assets).

1. Definitions load time. In this process: ``build_definitions(config)`` (first call and median of three)
   and ``get_repository_def()``. In fresh processes: the code location loaded the way Dagster's run
   workers and code server load it (``ReconstructableRepository.for_module(...).get_definition()``; wall
   time of the whole process, interpreter start included, median of three), beside the same with one
   workspace, a breakdown (import of Dagster and the product, reading and validating the YAML, building
   the definitions), and ``dagster definitions validate`` (CLI wall time). Goal: <= 2 s.
2. Tick times, in this process: every schedule's tick (``build_schedule_context`` with the repository,
   ``evaluate_tick``), and the webhook sensor's ticks (``build_sensor_context(instance, repository_def)``,
   ``evaluate_tick``) on an empty inbox, one workspace's burst, every workspace at once and a burst still
   settling, on the SQLite inbox and on the PostgreSQL inbox. Max and p95 per tick; goal <= 1 s each.
   Then (context, unless ``--daemon-ticks 0``) ``dagster-daemon run`` with every schedule at the product's
   default (hourly, the minute from the key) and the run queue paused, on a fresh PostgreSQL instance until
   the scheduler has stored every schedule's state and one whole minute of ticks is done, then restarted for
   one more minute: tick times from the instance's tick storage (steady-state tick time, the first pass, the
   lag after a restart) and the webhook sensor's ticks.
3. A backfill of ``partitions`` (default 200) of the 1,000 partitions (evenly spread keys, the same for
   both layouts) through the daemon's run queue with ``max_concurrent_runs: 4`` (config/dagster-postgres.yaml
   copied into a temporary DAGSTER_HOME, only that value changed), on PostgreSQL storage, twice: the
   per-workspace warehouse layout, then the single file, each on a fresh database of the same PostgreSQL
   server, so only the layout differs. Per layout: throughput in partitions/minute (from the daemon's start
   to the last run's end), failed runs, DuckDB lock errors in the runs' event logs, compute logs and the
   daemon log, the workspaces whose staging rows are in the warehouse afterwards, and where a run's time
   goes (run process launch, step process launch, step work, lock held). Goal: per-workspace >= 3 x single.
   Schedules are set to a cron that does not fire during the benchmark, so only the backfill's runs run.

On 2 cores the backfills run about 3 partitions a minute per layout, so the default of 200 partitions takes
over two hours; ``--partitions 24`` keeps the whole benchmark near 25 minutes.

Knobs: ``python -m benchmarks --only scale-out --partitions N --daemon-ticks SECONDS`` (at most, per daemon
start; 0 skips the daemon's ticks) or env
``CASCADE_SYNC_BENCH_SCALE_OUT_PARTITIONS`` / ``CASCADE_SYNC_BENCH_SCALE_OUT_DAEMON_TICKS``;
``CASCADE_SYNC_BENCH_SCALE_OUT_WORKSPACES`` changes the workspace count (for trying the harness quickly).
Every process started here (daemon and what it starts, PostgreSQL, the emulator) is stopped on the way
out, failures and SIGTERM included.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from benchmarks.processes import Background, dagster_daemon, terminate_as_exit
from benchmarks.report import Figure, Report

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NAME = "scale-out"
MODULE = "cascade_sync_pipeline.definitions"
PARTITIONS_ENV = "CASCADE_SYNC_BENCH_SCALE_OUT_PARTITIONS"
DAEMON_TICKS_ENV = "CASCADE_SYNC_BENCH_SCALE_OUT_DAEMON_TICKS"
WORKSPACES_ENV = "CASCADE_SYNC_BENCH_SCALE_OUT_WORKSPACES"
DEFAULT_PARTITIONS = 200
DEFAULT_DAEMON_TICK_SECONDS = 300.0  # at most, per daemon start (two starts)
WORKSPACES = 1000
TASKS_PER_TEAM = 10
CONCURRENT_RUNS = 4
SEED = 2024
LOAD_GOAL_S = 2.0
TICK_GOAL_S = 1.0
SPEEDUP_GOAL = 3.0
NEVER = "0 0 1 1 *"  # Jan 1, 00:00 UTC: no schedule run among the backfill's runs
BACKFILL_SECONDS_PER_PARTITION = 30.0  # time budget of one backfill (at least 15 minutes), then it is cut short
LOCK_ERRORS = re.compile(
    r"Could not set lock|Conflicting lock|WarehouseLockTimeout|stayed locked by|database is locked", re.IGNORECASE
)
IN_PROGRESS = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING", "MANAGED"}

_LOAD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
mode = sys.argv[1]
out = {}
import dagster
out["import_dagster_s"] = time.perf_counter() - t0
if mode == "dagster":
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    t = time.perf_counter()
    repo = ReconstructableRepository.for_module(sys.argv[2], "defs", sys.argv[3]).get_definition()
    out["load_s"] = time.perf_counter() - t
else:
    t = time.perf_counter()
    import cascade_sync_pipeline.definitions as module
    from cascade_sync_pipeline.config import config_path, parse_config
    out["import_product_s"] = time.perf_counter() - t
    path = config_path()
    text = path.read_text()
    t = time.perf_counter()
    try:
        from cascade_sync_pipeline.config_rules import read_yaml
        data = read_yaml(text, str(path))
    except ImportError:
        import yaml
        data = yaml.safe_load(text)
    out["read_yaml_s"] = time.perf_counter() - t
    t = time.perf_counter()
    import yaml
    yaml.load(text, Loader=yaml.CSafeLoader)
    out["read_yaml_libyaml_s"] = time.perf_counter() - t
    t = time.perf_counter()
    config = parse_config(data, str(path))
    out["parse_config_s"] = time.perf_counter() - t
    t = time.perf_counter()
    defs = module.build_definitions(config)
    out["build_definitions_s"] = time.perf_counter() - t
    t = time.perf_counter()
    from cascade_sync_pipeline.orchestration.schedules import build_schedules
    build_schedules(config, module.sync_job_name)
    out["build_schedules_again_s"] = time.perf_counter() - t
    t = time.perf_counter()
    repo = defs.get_repository_def()
    out["repository_def_s"] = time.perf_counter() - t
out["schedules"] = len(repo.schedule_defs)
out["inside_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def _say(line: str) -> None:
    print(f"[scale-out {time.strftime('%H:%M:%S')}] {line}", file=sys.__stderr__, flush=True)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1), nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the world: a ClickUp emulator with 1,000 Workspaces and their tokens --------------------------------


@dataclass
class World:
    workdir: Path
    url: str
    keys: list[str]
    workspaces: list[dict]  # the config's workspace entries (no schedule)
    tokens: dict[str, str]  # env var name -> token
    emulator: Any

    def config(self, layout: str, warehouse: Path, *, schedule: str | None = None) -> dict:
        entries = [dict(ws, schedule=schedule) if schedule else dict(ws) for ws in self.workspaces]
        return {"warehouse": {"layout": layout, "path": str(warehouse)}, "workspaces": entries}

    def write_config(self, name: str, data: dict) -> Path:
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


@contextlib.contextmanager
def world(workdir: Path, workspaces: int) -> Iterator[World]:
    from cascade_sync_sandbox.clickup.app import ClickUpEmulator
    from cascade_sync_sandbox.clickup.generator import generate

    started = time.perf_counter()
    dataset = generate(SEED, teams=workspaces, tasks_per_team=TASKS_PER_TEAM)
    emulator = ClickUpEmulator(dataset, rate_limit=10_000_000)
    server = emulator.serve(port=0)
    try:
        url = f"http://127.0.0.1:{server.port}"
        keys, entries, tokens = [], [], {}
        for i, team_id in enumerate(sorted(dataset.teams)):
            key, env_name = f"ws-{i:04d}", f"CLICKUP_TOKEN_WS_{i:04d}"
            tokens[env_name] = emulator.grant([team_id])
            keys.append(key)
            entries.append(
                {
                    "key": key,
                    "source": "clickup",
                    "base_url": f"{url}/api/v2",
                    "team_id": team_id,
                    "token_env": env_name,
                }
            )
        _say(
            f"sandbox: {workspaces} ClickUp workspaces, {len(dataset.tasks)} tasks ({time.perf_counter() - started:.1f} s)"
        )
        yield World(workdir, url, keys, entries, tokens, emulator)
    finally:
        server.stop()


@contextlib.contextmanager
def _environment(values: dict[str, str], drop: tuple[str, ...] = ("CASCADE_SYNC_DUCKDB",)) -> Iterator[None]:
    """This process's environment with ``values`` set, put back as it was on the way out."""
    saved = dict(os.environ)
    for name in drop:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ---- 1. definitions load time ----------------------------------------------------------------------------


def _child_load(mode: str, config_path: Path, home: Path) -> tuple[float, dict]:
    env = dict(os.environ, CASCADE_SYNC_CONFIG=str(config_path), DAGSTER_HOME=str(home))
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, mode, MODULE, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"loading the code location ({mode}) failed:\n{done.stderr[-3000:]}")
    return wall, {**json.loads(done.stdout.strip().splitlines()[-1]), "cpu_s": _children_cpu() - cpu}


def _validate_wall(config_path: Path, home: Path) -> float:
    env = dict(os.environ, CASCADE_SYNC_CONFIG=str(config_path), DAGSTER_HOME=str(home))
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", MODULE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dagster definitions validate failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def measure_load(report: Report, w: World) -> None:
    from cascade_sync_pipeline.config import parse_config
    from cascade_sync_pipeline.definitions import build_definitions

    n = len(w.keys)
    data = w.config("per_workspace", w.workdir / "load-warehouse")
    started = time.perf_counter()
    config = parse_config(data)
    parse_s = time.perf_counter() - started
    builds, repos = [], []
    for _ in range(3):
        started = time.perf_counter()
        defs = build_definitions(config)
        builds.append(time.perf_counter() - started)
        started = time.perf_counter()
        defs.get_repository_def()
        repos.append(time.perf_counter() - started)
    report.add(
        Figure(
            NAME,
            f"build_definitions(config), {n:,} workspaces, in-process (first call)",
            round(builds[0], 3),
            "s",
            LOAD_GOAL_S,
            note=f"median of 3 {statistics.median(builds):.3f} s; get_repository_def() {repos[0]:.3f} s first, "
            f"{statistics.median(repos):.3f} s median; parse_config of the {n:,} entries {parse_s:.3f} s "
            f"(load {_load()})",
        )
    )

    home = w.workdir / "load-home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    many = w.write_config("load-many", data)
    one = w.write_config("load-one", {**data, "workspaces": data["workspaces"][:1]})
    with _environment(w.tokens):
        walls, insides = [], []
        for _ in range(3):
            wall, inside = _child_load("dagster", many, home)
            walls.append(wall)
            insides.append(inside)
        one_walls = [_child_load("dagster", one, home)[0] for _ in range(2)]
        _, parts = _child_load("parts", many, home)
        _, one_parts = _child_load("parts", one, home)
        validate_many = _validate_wall(many, home)
        validate_one = _validate_wall(one, home)
    median = statistics.median(walls)
    inside = insides[walls.index(median)]
    report.add(
        Figure(
            NAME,
            f"code location load in a fresh process ({n:,} workspaces, Dagster's loader)",
            round(median, 2),
            "s",
            LOAD_GOAL_S,
            note=f"wall of `python -c` (interpreter start, import dagster {inside['import_dagster_s']:.2f} s, "
            f"ReconstructableRepository.for_module(...).get_definition() {inside['load_s']:.2f} s); median of "
            f"{', '.join(f'{x:.2f}' for x in walls)} s, CPU {statistics.median(i['cpu_s'] for i in insides):.2f} s; the same with 1 workspace: "
            f"{statistics.median(one_walls):.2f} s, so {n:,} workspaces add "
            f"{median - statistics.median(one_walls):.2f} s. The one-workspace figure is Dagster's own floor: its "
            "loader imports dagster._utils.test (the storage layer, SQLAlchemy, Alembic: ~0.8 s) before the module "
            f"runs. Every run process pays this load once; steps run in it (in-process executor) (load {_load()})",
        ),
        Figure(
            NAME,
            f"  breakdown ({n:,} workspaces): import product / read YAML / validate / build / repository",
            round(
                parts["import_product_s"]
                + parts["read_yaml_s"]
                + parts["parse_config_s"]
                + parts["build_definitions_s"]
                + parts["repository_def_s"],
                2,
            ),
            "s",
            note=f"import dagster {parts['import_dagster_s']:.2f} s (outside this sum), import of the product "
            f"(pandas, duckdb, httpx...) {parts['import_product_s']:.2f} s, read_yaml {parts['read_yaml_s']:.2f} s "
            f"(the same text with yaml.CSafeLoader: {parts['read_yaml_libyaml_s']:.2f} s), parse_config "
            f"{parts['parse_config_s']:.2f} s, build_definitions {parts['build_definitions_s']:.2f} s "
            f"(build_schedules alone, warm: {parts['build_schedules_again_s']:.2f} s), get_repository_def "
            f"{parts['repository_def_s']:.2f} s. With 1 workspace: read_yaml {one_parts['read_yaml_s']:.3f} s, "
            f"build_definitions {one_parts['build_definitions_s']:.2f} s",
        ),
        Figure(
            NAME,
            f"dagster definitions validate -m {MODULE} ({n:,} workspaces)",
            round(validate_many, 2),
            "s",
            note=f"CLI wall time (context; its own CLI start-up and snapshotting included); 1 workspace: "
            f"{validate_one:.2f} s",
        ),
    )


# ---- 2. schedule and sensor ticks, in this process ---------------------------------------------------------


def _add_events(inbox, keys: list[str], per_key: int, received_at: datetime, tag: str) -> None:
    for key in keys:
        for j in range(per_key):
            body = json.dumps({"event": "taskUpdated", "task_id": f"{key}-{tag}-{j}", "history_items": []}).encode()
            inbox.add(
                source="clickup",
                workspace=key,
                event_type="taskUpdated",
                item_ids=[f"{key}-{tag}-{j}"],
                body=body,
                received_at=received_at,
            )


def _sensor_scenarios(repo, instance, inbox_location: str, keys: list[str]) -> list[tuple[str, float, int]]:
    """(scenario, seconds, run requests) per sensor tick, on the inbox at ``inbox_location`` (created empty)."""
    import dagster as dg

    from cascade_sync_pipeline.orchestration.webhooks.inbox import INBOX_ENV, open_inbox

    out: list[tuple[str, float, int]] = []
    with _environment({INBOX_ENV: inbox_location}):
        inbox = open_inbox(inbox_location).create()
        for sensor in repo.sensor_defs:
            cursor: str | None = None

            def tick(label: str, sensor=sensor) -> None:
                nonlocal cursor
                started = time.perf_counter()
                context = dg.build_sensor_context(instance=instance, repository_def=repo, cursor=cursor)
                data = sensor.evaluate_tick(context)
                seconds = time.perf_counter() - started
                cursor = data.cursor if data.cursor is not None else cursor
                out.append((f"{sensor.name}: {label}", seconds, len(data.run_requests or [])))

            for _ in range(5):
                tick("empty inbox")
            old = datetime.now(UTC) - timedelta(minutes=5)
            _add_events(inbox, keys[:1], 20, old, "one")
            tick("one workspace, 20 events")
            for _ in range(3):
                tick("nothing new")
            _add_events(inbox, keys, 1, old, "all")
            tick(f"every workspace ({len(keys):,}) at once")
            # Fresh events of many workspaces: settling while the debounce lasts (when storing them took
            # longer than the debounce, as it can on a loaded machine, the tick requests their runs instead).
            fresh = keys[: len(keys) // 10]
            _add_events(inbox, fresh, 1, datetime.now(UTC), "fresh")
            tick(f"fresh events of {len(fresh):,} workspaces")
            tick("the tick after")
    return out


def measure_ticks(report: Report, w: World, pg) -> None:
    import dagster as dg

    from cascade_sync_pipeline.config import parse_config
    from cascade_sync_pipeline.definitions import build_definitions

    config = parse_config(w.config("per_workspace", w.workdir / "ticks-warehouse"))
    repo = build_definitions(config).get_repository_def()
    instance = dg.DagsterInstance.ephemeral()
    try:
        tick_time = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        seconds, slowest = [], ("", 0.0)
        requests = 0
        for schedule in repo.schedule_defs:
            started = time.perf_counter()
            context = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=tick_time, repository_def=repo
            )
            data = schedule.evaluate_tick(context)
            took = time.perf_counter() - started
            seconds.append(took)
            requests += len(data.run_requests or [])
            if took > slowest[1]:
                slowest = (schedule.name, took)
        note = (
            f"{len(seconds):,} schedules, one tick each ({requests:,} run requests); median "
            f"{statistics.median(seconds) * 1000:.1f} ms, slowest {slowest[0]}; all {sum(seconds):.2f} s (load {_load()})"
        )
        report.add(
            Figure(
                NAME, "schedule tick (in-process evaluation): max", round(max(seconds), 4), "s", TICK_GOAL_S, note=note
            ),
            Figure(NAME, "schedule tick (in-process evaluation): p95", round(_pct(seconds, 0.95), 4), "s", TICK_GOAL_S),
        )

        ticks = _sensor_scenarios(repo, instance, str(w.workdir / "ticks-inbox.sqlite"), w.keys)
        if pg is not None:
            db = pg.fresh_database("scale_out_ticks_inbox")
            ticks += [
                (f"{label} [PostgreSQL inbox]", s, r)
                for label, s, r in _sensor_scenarios(repo, instance, db.url, w.keys)
            ]
        values = [s for _, s, _ in ticks]
        worst = max(ticks, key=lambda t: t[1])
        per_scenario: dict[str, float] = {}
        for label, s, r in ticks:
            name = f"{label.split(': ', 1)[1]} ({r:,} runs)"
            per_scenario[name] = max(per_scenario.get(name, 0.0), s)
        report.add(
            Figure(
                NAME,
                "webhook sensor tick (in-process evaluation): max",
                round(max(values), 4),
                "s",
                TICK_GOAL_S,
                note=f"{len(values)} ticks of {', '.join(s.name for s in repo.sensor_defs)} (the only sensor: no "
                f"Wrike workspace is configured); slowest: {worst[0]} ({worst[2]:,} run requests). Max per "
                f"scenario: " + "; ".join(f"{k} {v:.3f} s" for k, v in per_scenario.items()),
            ),
            Figure(
                NAME, "webhook sensor tick (in-process evaluation): p95", round(_pct(values, 0.95), 4), "s", TICK_GOAL_S
            ),
        )
    finally:
        instance.dispose()


# ---- Dagster homes, the daemon, and reading the instance ---------------------------------------------------


@dataclass
class Deployment:
    label: str
    home: Path
    config_path: Path
    config: Any
    env: dict[str, str]
    log: Path
    daemon: Background | None = None

    def start_daemon(self) -> float:
        self.daemon = dagster_daemon(self.env, self.log, MODULE)
        return self.daemon.start()

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        _reap(self.home)

    def daemon_alive(self) -> bool:
        return self.daemon is not None and self.daemon.alive()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _reap(home: Path) -> None:
    """Kill, by pid, any process still running with this deployment's DAGSTER_HOME (a run or step process
    that left the daemon's process group); only processes this benchmark started carry it."""
    marker = f"DAGSTER_HOME={home}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


@contextlib.contextmanager
def deployment(
    w: World, pg, label: str, *, layout: str, schedule: str | None, max_concurrent_runs: int
) -> Iterator[Deployment]:
    """A fresh PostgreSQL database, a DAGSTER_HOME holding config/dagster-postgres.yaml with
    ``max_concurrent_runs`` changed, a sync config of every workspace, and the PostgreSQL webhook inbox."""
    from cascade_sync_pipeline.config import parse_config
    from cascade_sync_pipeline.orchestration.webhooks.inbox import INBOX_ENV, open_inbox

    db = pg.fresh_database(f"scale_out_{label}")
    home = w.workdir / f"home-{label}"
    home.mkdir()
    settings = yaml.safe_load((ROOT / "config" / "dagster-postgres.yaml").read_text())
    settings["run_queue"]["max_concurrent_runs"] = max_concurrent_runs
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    warehouse = w.workdir / f"warehouse-{label}"
    if layout == "single":
        warehouse.mkdir()
        warehouse = warehouse / "warehouse.duckdb"
    data = w.config(layout, warehouse, schedule=schedule)
    config_path = w.write_config(f"sync-{label}", data)
    open_inbox(db.url).create()
    env = dict(
        os.environ,
        **w.tokens,
        **db.env(),
        DAGSTER_HOME=str(home),
        CASCADE_SYNC_CONFIG=str(config_path),
        **{INBOX_ENV: db.url},
    )
    env.pop("CASCADE_SYNC_DUCKDB", None)
    dep = Deployment(
        label, home, config_path, parse_config(data, str(config_path)), env, w.workdir / f"daemon-{label}.log"
    )
    try:
        with _environment({**db.env(), "DAGSTER_HOME": str(home)}):
            yield dep
    finally:
        dep.stop_daemon()


def _instance(dep: Deployment):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(dep.home))


def _tick_durations(instance, kind) -> list[tuple[str, float, float, float]]:
    """(name, timestamp, end_timestamp, duration) of every finished tick of ``kind`` in the instance."""
    out = []
    for state in instance.all_instigator_state(instigator_type=kind):
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10_000):
            if tick.end_timestamp is not None:
                out.append(
                    (tick.instigator_name, tick.timestamp, tick.end_timestamp, tick.end_timestamp - tick.timestamp)
                )
    return out


# ---- 3. the backfill ------------------------------------------------------------------------------------


@dataclass
class Backfill:
    layout: str
    partitions: int
    submit_s: float = 0.0
    window_s: float = 0.0
    steady_s: float = 0.0
    succeeded: int = 0
    failed_runs: int = 0
    retries: int = 0
    runs: int = 0
    lock_errors: int = 0  # event log entries (messages, step failures) of the runs
    lock_error_lines: int = 0  # lines of the daemon log and the runs' compute logs
    lock_error_samples: list[str] = field(default_factory=list)
    staged_workspaces: int = 0
    timed_out: bool = False
    concurrency: float = 0.0
    lock_busy_share: float = 0.0
    lock_holders_mean: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    load_during: list[float] = field(default_factory=list)
    sensor_ticks: list[float] = field(default_factory=list)
    cpu_s: float = 0.0

    @property
    def throughput(self) -> float:
        return self.succeeded / self.window_s * 60 if self.window_s > 0 else 0.0

    @property
    def steady_throughput(self) -> float:
        return self.succeeded / self.steady_s * 60 if self.steady_s > 0 else 0.0


class _LockSampler(threading.Thread):
    """Samples the warehouse's lock notes (``<file>.lock.holder``, written while a writer holds the lock)."""

    def __init__(self, directory: Path, period: float = 0.05) -> None:
        super().__init__(daemon=True, name="lock-sampler")
        self.pattern = str(directory / "*.lock.holder")
        self.period = period
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.samples.append(len(glob.glob(self.pattern)))


def _select(keys: list[str], count: int) -> list[str]:
    """``count`` keys spread evenly over ``keys``."""
    count = min(count, len(keys))
    return [keys[i * len(keys) // count] for i in range(count)]


def run_backfill(w: World, pg, layout: str, selected: list[str]) -> Backfill:
    import dagster as dg

    result = Backfill(layout, len(selected))
    label = f"backfill_{layout}"
    with deployment(w, pg, label, layout=layout, schedule=NEVER, max_concurrent_runs=CONCURRENT_RUNS) as dep:
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(BIN / "dagster"),
                "job",
                "backfill",
                "-m",
                MODULE,
                "-j",
                "clickup_sync",
                "--partitions",
                ",".join(selected),
                "--noprompt",
            ],
            cwd=ROOT,
            env=dep.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        result.submit_s = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"dagster job backfill ({layout}) failed:\n{done.stderr[-3000:]}")
        warehouse_dir = dep.config.warehouse_path(selected[0]).parent
        warehouse_dir.mkdir(parents=True, exist_ok=True)
        sampler = _LockSampler(warehouse_dir)
        instance = _instance(dep)
        cpu_before = _children_cpu()
        try:
            daemon_started = dep.start_daemon()
            sampler.start()
            budget = max(900.0, len(selected) * BACKFILL_SECONDS_PER_PARTITION)
            deadline = time.monotonic() + budget
            all_done_since: float | None = None
            last_report = time.monotonic()
            while True:
                time.sleep(2)
                if not dep.daemon_alive():
                    raise RuntimeError(f"the Dagster daemon exited:\n{dep.tail()}")
                records = instance.get_run_records(dg.RunsFilter(job_name="clickup_sync"))
                statuses = [r.dagster_run.status.value for r in records]
                covered = {r.dagster_run.tags.get("dagster/partition") for r in records}
                busy = any(s in IN_PROGRESS for s in statuses)
                finished = sum(s not in IN_PROGRESS for s in statuses)
                if time.monotonic() - last_report > 30:
                    result.load_during.append(os.getloadavg()[0])
                    _say(f"{layout}: {finished}/{len(selected)} runs finished (load {_load()})")
                    last_report = time.monotonic()
                if len(covered) >= len(selected) and not busy:
                    # A failed run may still get its retry (run_retries); give the daemon a moment.
                    failed = any(s == "FAILURE" for s in statuses)
                    all_done_since = all_done_since or time.monotonic()
                    if not failed or time.monotonic() - all_done_since > 20:
                        break
                else:
                    all_done_since = None
                if time.monotonic() > deadline:
                    result.timed_out = True
                    _say(f"{layout}: time budget of {budget:.0f} s spent; reporting the runs finished so far")
                    break
            sampler.stop.set()
            sampler.join(timeout=5)
            result.load_during.append(os.getloadavg()[0])
            _collect(result, instance, dep, daemon_started, selected)
            result.sensor_ticks = [d for *_, d in _tick_durations(instance, _instigator_type("SENSOR"))]
        finally:
            sampler.stop.set()
            dep.stop_daemon()
            instance.dispose()
        result.cpu_s = _children_cpu() - cpu_before
        if sampler.samples:
            result.lock_busy_share = sum(1 for s in sampler.samples if s) / len(sampler.samples)
            result.lock_holders_mean = statistics.fmean(sampler.samples)
        result.lock_error_lines = _grep_lock_errors(result, [dep.log, *sorted((dep.home / "storage").rglob("*"))])
        result.staged_workspaces = _staged(dep.config, selected)
    return result


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that have ended and were waited for: the
    daemon, and through it the code server, the run processes and their step processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _instigator_type(name: str):
    from dagster._core.scheduler.instigation import InstigatorType

    return InstigatorType[name]


def _collect(result: Backfill, instance, dep: Deployment, daemon_started: float, selected: list[str]) -> None:
    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(job_name="clickup_sync"))
    result.runs = len(records)
    result.failed_runs = sum(r.dagster_run.status == dg.DagsterRunStatus.FAILURE for r in records)
    result.retries = sum(1 for r in records if r.dagster_run.tags.get("dagster/retry_number"))
    latest: dict[str, Any] = {}
    for r in sorted(records, key=lambda r: r.create_timestamp):
        latest[r.dagster_run.tags.get("dagster/partition")] = r
    succeeded = [r for k, r in latest.items() if k in selected and r.dagster_run.status == dg.DagsterRunStatus.SUCCESS]
    result.succeeded = len(succeeded)
    ended = [r.end_time for r in records if r.end_time]
    if ended:
        result.window_s = max(ended) - daemon_started
    stages: dict[str, list[float]] = {}
    busy = 0.0
    first_launch = None
    for r in records:
        times = _run_timeline(instance, r.dagster_run.run_id, result)
        launch = times.get("RUN_STARTING")
        if launch is not None:
            first_launch = launch if first_launch is None else min(first_launch, launch)
        if launch is not None and r.end_time:
            busy += r.end_time - launch
            stages.setdefault("run wall (launch -> end)", []).append(r.end_time - launch)
        if launch is not None and times.get("RUN_START") is not None:
            stages.setdefault("run process launch (RUN_STARTING -> RUN_START)", []).append(times["RUN_START"] - launch)
        for step, t in times["steps"].items():
            short = step.replace("clickup_", "")
            if "launch" in t and "start" in t:
                stages.setdefault(f"{short}: step process launch", []).append(t["start"] - t["launch"])
            if "start" in t and "end" in t:
                stages.setdefault(f"{short}: step work", []).append(t["end"] - t["start"])
    if ended and first_launch is not None:
        result.steady_s = max(ended) - first_launch
    if result.window_s > 0:
        result.concurrency = busy / result.window_s
    result.stages = {k: statistics.median(v) for k, v in stages.items()}


def _run_timeline(instance, run_id: str, result: Backfill) -> dict[str, Any]:
    """Times of RUN_STARTING and RUN_START, and per step worker launch, start and end; and the run's
    lock errors (messages and step failures)."""
    import dagster as dg

    steps: dict[str, dict[str, float]] = {}
    out: dict[str, Any] = {"steps": steps}
    for record in instance.get_records_for_run(run_id, limit=10_000).records:
        entry = record.event_log_entry
        text = entry.user_message or ""
        event = entry.dagster_event
        if event is not None and event.is_step_failure:
            text += " " + str(event.event_specific_data.error)
        if LOCK_ERRORS.search(text):
            result.lock_errors += 1
            if len(result.lock_error_samples) < 3:
                result.lock_error_samples.append(text.strip()[:300])
        if event is None:
            continue
        kind = event.event_type
        if kind in (dg.DagsterEventType.RUN_STARTING, dg.DagsterEventType.RUN_START):
            out.setdefault(kind.name, entry.timestamp)
        elif kind == dg.DagsterEventType.STEP_WORKER_STARTING:
            steps.setdefault(event.step_key, {}).setdefault("launch", entry.timestamp)
        elif event.is_step_start:
            steps.setdefault(event.step_key, {}).setdefault("start", entry.timestamp)
        elif event.is_step_success or event.is_step_failure:
            steps.setdefault(event.step_key, {})["end"] = entry.timestamp
    return out


def _grep_lock_errors(result: Backfill, files: list[Path]) -> int:
    """Lock errors in the daemon log and the runs' compute logs (stdout/stderr of every step)."""
    found = 0
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if LOCK_ERRORS.search(line):
                found += 1
                if len(result.lock_error_samples) < 3:
                    result.lock_error_samples.append(f"{path.name}: {line.strip()[:300]}")
    return found


def _staged(config, selected: list[str]) -> int:
    """How many of the selected workspaces have rows in staging.work_items afterwards."""
    from cascade_sync_pipeline.warehouse.catalog import open_catalog

    files = {k: config.warehouse_path(k) for k in selected}
    with open_catalog(files) as con:
        try:
            rows = con.execute(
                "SELECT workspace, count(*) FROM staging.work_items GROUP BY 1 HAVING count(*) > 0"
            ).fetchall()
        except Exception:  # no staging table at all: nothing was staged
            return 0
    return len({ws for ws, _ in rows} & set(selected))


def report_backfill(report: Report, b: Backfill) -> None:
    what = "per-workspace files" if b.layout == "per_workspace" else "single file"
    stages = "; ".join(f"{k} {v:.2f} s" for k, v in b.stages.items())
    lock = (
        f"the single file's lock held {b.lock_busy_share:.0%} of the time"
        if b.layout == "single"
        else f"on average {b.lock_holders_mean:.2f} of the files' locks held at once (at least one held {b.lock_busy_share:.0%} of the time)"
    )
    cut = f"; CUT SHORT at the time budget: {b.succeeded} of {b.partitions} done" if b.timed_out else ""
    load = ", ".join(f"{x:.1f}" for x in b.load_during)
    report.add(
        Figure(
            NAME,
            f"backfill, {what}: throughput ({b.partitions} partitions, {CONCURRENT_RUNS} concurrent runs)",
            round(b.throughput, 2),
            "partitions/min",
            note=f"{b.succeeded} partitions succeeded in {b.window_s:.0f} s from the daemon's start to the last run's "
            f"end ({b.steady_throughput:.2f}/min from the first run's launch); backfill submission (CLI) "
            f"{b.submit_s:.1f} s before that; runs in progress on average {b.concurrency:.2f} of "
            f"{CONCURRENT_RUNS}; {lock}; medians per run: {stages}; 1-min load during: {load}{cut}",
        ),
        Figure(
            NAME,
            f"backfill, {what}: CPU per partition (daemon, code server, run and step processes)",
            round(b.cpu_s / b.succeeded, 1) if b.succeeded else None,
            "s",
            note=f"{b.cpu_s:.0f} CPU s in all (getrusage of the reaped process tree); with {os.cpu_count()} CPUs "
            f"that alone allows at most {60 * (os.cpu_count() or 1) * b.succeeded / b.cpu_s:.1f} partitions/min "
            f"with the machine to itself"
            if b.cpu_s > 0 and b.succeeded
            else "",
        ),
        Figure(
            NAME,
            f"backfill, {what}: failed runs",
            b.failed_runs,
            "",
            0,
            "==",
            note=f"{b.runs} runs in all, {b.retries} of them retries (run_retries max 1)" if b.retries else "",
        ),
        Figure(
            NAME,
            f"backfill, {what}: DuckDB lock errors in run and daemon logs",
            b.lock_errors + b.lock_error_lines,
            "",
            0,
            "==",
            note=f"{b.lock_errors} in the runs' event logs, {b.lock_error_lines} lines of the compute logs and the "
            f"daemon log (patterns: {LOCK_ERRORS.pattern})"
            + (": " + " | ".join(b.lock_error_samples) if b.lock_error_samples else ""),
        ),
        Figure(NAME, f"backfill, {what}: workspaces staged afterwards", b.staged_workspaces, "", b.partitions, "=="),
    )


# ---- optional: the daemon's own ticks with 1,000 schedules -------------------------------------------------


def _schedule_ticks(instance, names: set[str] | None = None, limit: int = 10_000) -> dict[str, list]:
    """Finished ticks per schedule name (all schedules, or ``names``)."""
    out: dict[str, list] = {}
    for state in instance.all_instigator_state(instigator_type=_instigator_type("SCHEDULE")):
        if names is None or state.instigator_name in names:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=limit)
            out[state.instigator_name] = [t for t in ticks if t.end_timestamp is not None]
    return out


def _wait_for_minute(instance, dep: Deployment, keys: list[str], after: float, deadline: float) -> float | None:
    """Wait for the first minute boundary after ``after`` at which some schedule is due, until every schedule
    due then has finished that tick; return the boundary (epoch seconds), or None at the deadline."""
    from cascade_sync_pipeline.orchestration.schedules import minute_offset, schedule_name

    boundary = math.ceil(after / 60) * 60
    while not (names := {schedule_name(k) for k in keys if minute_offset(k) == int(boundary // 60) % 60}):
        boundary += 60
    while time.time() < deadline:
        if not dep.daemon_alive():
            raise RuntimeError(f"the Dagster daemon exited:\n{dep.tail()}")
        if time.time() >= boundary:
            ticks = _schedule_ticks(instance, names, limit=1)
            if sum(1 for n in names if any(t.timestamp >= boundary for t in ticks.get(n, []))) == len(names):
                return boundary
        time.sleep(3)
    return None


def measure_daemon_ticks(report: Report, w: World, pg, seconds: float) -> None:
    """``dagster-daemon run`` with every schedule at the product's default (hourly, the minute from the key,
    about 17 due each minute) and the run queue paused (max_concurrent_runs 0: scheduled runs are created
    and stay queued). On a fresh instance: until the scheduler has stored the state of every schedule (its
    first pass) and then one whole minute of ticks; then restarted on the same instance, for one minute of
    ticks. At most ``seconds`` per daemon start. Tick times from the instance's tick storage."""
    n = len(w.keys)
    with deployment(w, pg, "daemon_ticks", layout="per_workspace", schedule=None, max_concurrent_runs=0) as dep:
        instance = _instance(dep)
        try:
            fresh = dep.start_daemon()
            deadline = time.time() + seconds
            states_done = None
            while time.time() < deadline and states_done is None:
                time.sleep(3)
                if not dep.daemon_alive():
                    raise RuntimeError(f"the Dagster daemon exited:\n{dep.tail()}")
                stored = instance.all_instigator_state(instigator_type=_instigator_type("SCHEDULE"))
                if len(stored) >= n:
                    states_done = time.time()
            steady = _wait_for_minute(instance, dep, w.keys, states_done or time.time(), deadline)
            dep.stop_daemon()
            restart = dep.start_daemon()
            after_restart = _wait_for_minute(instance, dep, w.keys, restart, time.time() + seconds)
            dep.stop_daemon()
            ticks = [(name, t) for name, ts in _schedule_ticks(instance).items() for t in ts]
            sensors = _tick_durations(instance, _instigator_type("SENSOR"))
        finally:
            dep.stop_daemon()
            instance.dispose()

    def minute(boundary: float | None) -> list[tuple[float, float]]:
        """(scheduled, done) of the ticks scheduled at ``boundary``, by end."""
        if boundary is None:
            return []
        return sorted((t.end_timestamp, t.timestamp) for _, t in ticks if t.timestamp == boundary)

    lags_all = [t.end_timestamp - t.timestamp for _, t in ticks]
    steady_ticks = minute(steady)
    own = [end - max(prev, ts) for (prev, _), (end, ts) in zip(steady_ticks, steady_ticks[1:], strict=False)]
    if steady_ticks:
        own.insert(0, steady_ticks[0][0] - steady_ticks[0][1])
    steady_lag = max((end - ts for end, ts in steady_ticks), default=None)
    restart_lag = max((end - ts for end, ts in minute(after_restart)), default=None)
    first_pass = f"{states_done - fresh:.0f} s" if states_done else f"more than {seconds:.0f} s (cut short)"
    report.add(
        Figure(
            NAME,
            "daemon schedule ticks, steady state: one tick's own time, max",
            round(max(own), 2) if own else None,
            "s",
            note=f"the {len(steady_ticks)} ticks due at one minute once every schedule's state was stored; own time "
            f"= end minus the later of the previous tick's end and the scheduled time (the run request evaluated by "
            f"the code server and the run created in PostgreSQL, one tick after another): median "
            f"{statistics.median(own) if own else 0:.2f} s; the last of that minute was done "
            f"{steady_lag if steady_lag is not None else float('nan'):.1f} s after its scheduled time (load {_load()})",
        ),
        Figure(
            NAME,
            f"daemon, fresh instance: scheduler's first pass over {n:,} schedules",
            round(states_done - fresh, 1) if states_done else None,
            "s",
            note=f"`dagster-daemon run` start until the state of every schedule was stored ({first_pass}); ticks due "
            f"meanwhile wait for it. Scheduled time -> tick done over all {len(ticks)} ticks of both starts: median "
            f"{statistics.median(lags_all) if lags_all else 0:.1f} s, p95 {_pct(lags_all, 0.95) if lags_all else 0:.1f} s, "
            f"max {max(lags_all) if lags_all else 0:.1f} s",
        ),
        Figure(
            NAME,
            "daemon restarted (states stored): first minute's ticks, scheduled time -> last done",
            round(restart_lag, 1) if restart_lag is not None else None,
            "s",
            note=f"the daemon restarted at {datetime.fromtimestamp(restart, UTC):%H:%M:%S}, the first minute with "
            f"ticks due after it at {datetime.fromtimestamp(after_restart, UTC):%H:%M} UTC"
            if after_restart
            else "no whole minute of ticks after the restart within the time allowed",
        ),
    )
    if sensors:
        durations = [d for *_, d in sensors]
        report.add(
            Figure(
                NAME,
                "daemon webhook sensor ticks (empty PostgreSQL inbox, queue paused): max",
                round(max(durations), 2),
                "s",
                note=f"{len(sensors)} ticks; p95 {_pct(durations, 0.95):.2f} s",
            )
        )


# ---- the benchmark ------------------------------------------------------------------------------------------


def run(report: Report, *, partitions: int | None = None, daemon_ticks: float | None = None) -> None:
    from cascade_sync_sandbox.postgres import postgres_server

    partitions = int(partitions if partitions is not None else _env_number(PARTITIONS_ENV, DEFAULT_PARTITIONS))
    daemon_ticks = (
        daemon_ticks if daemon_ticks is not None else _env_number(DAEMON_TICKS_ENV, DEFAULT_DAEMON_TICK_SECONDS)
    )
    workspaces = int(_env_number(WORKSPACES_ENV, WORKSPACES))
    began = time.perf_counter()
    load_start = _load()
    with (
        terminate_as_exit(),
        tempfile.TemporaryDirectory(prefix="scale-out-bench-") as tmp,
        world(Path(tmp), workspaces) as w,
        postgres_server() as pg,
    ):
        _say(f"measuring the definitions load (load {_load()})")
        measure_load(report, w)
        _say(f"measuring schedule and sensor ticks (load {_load()})")
        measure_ticks(report, w, pg)
        selected = _select(w.keys, partitions)
        results = {}
        for layout in ("per_workspace", "single"):
            _say(f"backfill of {len(selected)} partitions, {layout} layout (load {_load()})")
            results[layout] = run_backfill(w, pg, layout, selected)
            report_backfill(report, results[layout])
        per, single = results["per_workspace"], results["single"]
        report.add(
            Figure(
                NAME,
                f"backfill throughput, per-workspace / single file ({CONCURRENT_RUNS} concurrent runs)",
                round(per.throughput / single.throughput, 2) if single.throughput else None,
                "x",
                SPEEDUP_GOAL,
                ">=",
                note=f"{per.throughput:.2f} vs {single.throughput:.2f} partitions/min; both on PostgreSQL storage "
                f"(config/dagster-postgres.yaml, max_concurrent_runs {CONCURRENT_RUNS}), a fresh database each",
            )
        )
        during = per.sensor_ticks + single.sensor_ticks
        if during:
            report.add(
                Figure(
                    NAME,
                    "daemon webhook sensor ticks during the backfills: max",
                    round(max(during), 2),
                    "s",
                    note=f"{len(during)} ticks of the webhook sensor (empty PostgreSQL inbox) from the instances' tick "
                    f"storage, evaluated by the daemon while the backfills ran; p95 {_pct(during, 0.95):.2f} s",
                )
            )
        if daemon_ticks > 0:
            _say(f"the daemon's own ticks for {daemon_ticks:.0f} s (load {_load()})")
            measure_daemon_ticks(report, w, pg, daemon_ticks)
    report.add(
        Figure(
            NAME,
            "benchmark wall time",
            round(time.perf_counter() - began),
            "s",
            note=f"{workspaces:,} workspaces x {TASKS_PER_TEAM} tasks, {len(selected)} partitions backfilled per "
            f"layout, extract + stage only (no cascade block); {os.cpu_count()} CPUs; 1/5/15-min load at the "
            f"start {load_start}, at the end {_load()}",
        )
    )
