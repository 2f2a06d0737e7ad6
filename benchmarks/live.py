"""Live sync: how long a change made in ClickUp or Wrike takes to reach Cascade, through the webhook path.

The whole production path, on the sandbox company (config/sandbox.yaml on free ports, a small company):
the emulators fire signed webhooks at the receiver (in this process, the production waitress server),
which stores them in the inbox; the live runner (``cascade-sync webhooks run``, a subprocess) claims the
workspace's events once quiet and runs the sync in its warm process, beside the Dagster daemon
(``dagster-daemon run``, a subprocess) whose webhook sensors are the fallback; the run pushes the new
value to the Cascade emulator. With env ``CASCADE_SYNC_BENCH_LIVE_RUNNER=0`` no runner starts, and the
sensors launch every run through the daemon's run queue (the path before the runner). With env
``CASCADE_SYNC_BENCH_LIVE_INSTANCE=postgres`` the Dagster instance and the inbox are on a throwaway
PostgreSQL (config/dagster-postgres.yaml), as in production; by default SQLite, as ``make dev``. Nothing of the product is called directly after the first full sync
(``cascade-sync sync --mode full``, a subprocess).

Per source (ClickUp: acme-product; Wrike: acme-delivery), ``changes`` single edits, one at a time and the
sources taking turns (each edit waits until the one before has reached Cascade and its runs have ended,
so it has the machine to itself): a task linked to a Cascade action by its Cascade ID field is set to a
done status, then back to its old status, and so on. For each edit:

* latency: from the edit to the Cascade emulator holding the action's new progress (its in-memory
  state is polled every ``POLL_S``; goals p50 <= 3 s, p95 <= 5 s);
* source requests (the source emulator's request log; goal <= 2 per edit) and Cascade writes (PUTs,
  attributed to the workspace by the ids they write; goal: equal to the values that changed, counted by
  diffing the Cascade emulator's state, a measure's history counting as one);
* stages, read from the inbox and the Dagster instance: edit -> inbox row (webhook received), inbox row
  -> run created (debounce, and the runner's poll or the sensor interval), created -> launched (the run
  queue dequeues it: RUN_STARTING; none for the runner's runs), launched -> run started (the run's
  process starts: RUN_START), run started -> Cascade value changed, value changed -> run ended; inside
  the run, each step's own work.

Then a burst: ``BURST_EDITS`` status edits to acme-product within ``BURST_SECONDS``; reported: the runs it
caused, the time from the last edit to the edited actions holding their final progress and to the last
Cascade write, and whether that state is final: a full sync afterwards (the CLI, daemon stopped) must
write nothing to Cascade.

Benchmark-only setting (the product is not changed): every schedule gets a cron that does not fire
during the run (Jan 1, 00:00), so no schedule tick lands among the measured runs. The debounce is the product's (env ``CASCADE_SYNC_WEBHOOK_DEBOUNCE_SECONDS``, passed
through when set).

Knobs: ``python -m benchmarks --only live --changes N`` or env ``CASCADE_SYNC_BENCH_LIVE_CHANGES`` (edits per
source, default 30); env ``CASCADE_SYNC_BENCH_LIVE_BUDGET_SECONDS`` (default 840): no new single edit starts
after that long (0: no limit), so a slow product still finishes in about 20 minutes; fewer edits than
asked for are reported as a missed goal.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks.processes import Background, dagster_daemon, terminate_as_exit
from benchmarks.report import Figure, Report

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NAME = "live"
CHANGES_ENV = "CASCADE_SYNC_BENCH_LIVE_CHANGES"
BUDGET_ENV = "CASCADE_SYNC_BENCH_LIVE_BUDGET_SECONDS"
RUNNER_ENV = "CASCADE_SYNC_BENCH_LIVE_RUNNER"
INSTANCE_ENV = "CASCADE_SYNC_BENCH_LIVE_INSTANCE"
DEFAULT_CHANGES = 30
DEFAULT_BUDGET_S = 840.0  # for the single edits; with setup and the burst the benchmark stays near 20 minutes
CLICKUP_TASKS_PER_TEAM = 300
CLICKUP_KEY = "acme-product"
WRIKE_KEY = "acme-delivery"
BURST_KEY = CLICKUP_KEY
BURST_EDITS = 100
BURST_SECONDS = 10.0
BURST_ITEMS = 20
POLL_S = 0.02
CHANGE_TIMEOUT_S = 240.0  # one edit that has not reached Cascade by then counts as lost
SETTLE_TIMEOUT_S = 300.0
NEVER = "0 0 1 1 *"  # Jan 1, 00:00 UTC: no schedule tick during a run of this benchmark
GOAL_P50_S, GOAL_P95_S, GOAL_SOURCE_REQUESTS = 3.0, 5.0, 2
IN_PROGRESS = ("QUEUED", "NOT_STARTED", "MANAGED", "STARTING", "STARTED", "CANCELING")
STAGES = (
    "edit -> inbox row",
    "inbox row -> run created",
    "run created -> launched (dequeued)",
    "launched -> run started",
    "run started -> Cascade value",
    "Cascade value -> run ended",
)


def changes_from_env(default: int = DEFAULT_CHANGES) -> int:
    raw = os.environ.get(CHANGES_ENV, "").strip()
    return int(raw) if raw else default


# ---- the stack: sandbox, config, receiver, Dagster home, daemon ------------------------------------


@dataclass
class Stack:
    sandbox: Any
    config: Any
    raw: dict
    workdir: Path
    config_path: Path
    home: Path
    inbox_path: Any  # a SQLite file, or a postgresql:// URL
    env: dict[str, str]
    registrations: list[str]
    daemon: Background | None = None
    runner: Background | None = None
    _instance: Any = None

    @property
    def instance(self):
        if self._instance is None:
            import dagster as dg

            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """``cascade-sync --config CFG ARGS`` with the stack's environment."""
        return subprocess.run(
            [str(BIN / "cascade-sync"), "--config", str(self.config_path), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_daemon(self) -> None:
        self.daemon = dagster_daemon(self.env, self.workdir / "daemon.log")
        self.daemon.start()

    def start_runner(self) -> None:
        """The live runner (``cascade-sync webhooks run``), beside the daemon as in production."""
        argv = [str(BIN / "cascade-sync"), "--config", str(self.config_path), "webhooks", "run"]
        self.runner = Background(argv, self.env, self.workdir / "runner.log")
        self.runner.start()

    def stop_daemon(self) -> None:
        for process in (self.runner, self.daemon):
            if process is not None:
                process.stop()
        self.runner = self.daemon = None

    def alive(self) -> bool:
        """The daemon runs, and the live runner too when one was started."""
        return self.daemon is not None and all(p is None or p.alive() for p in (self.runner, self.daemon))

    def tails(self, chars: int = 3000) -> str:
        return "\n".join(p.tail(chars) for p in (self.daemon, self.runner) if p is not None)


def _pointed_config(sandbox, workdir: Path) -> dict:
    """config/sandbox.yaml pointed at the sandbox's free ports, with this benchmark's own settings."""
    raw = yaml.safe_load((ROOT / "config" / "sandbox.yaml").read_text())
    ports = {"clickup": "8701", "wrike": "8702", "cascade": "8703"}
    for name, port in ports.items():
        real = str(sandbox.servers[name].port)
        for section in [raw["cascade"], *raw["workspaces"]]:
            section["base_url"] = re.sub(rf":{port}(?=/|$)", f":{real}", section["base_url"])
    raw["warehouse"] = {"path": str(workdir / "warehouse.duckdb")}
    for ws in raw["workspaces"]:
        ws["schedule"] = NEVER
    return raw


@contextlib.contextmanager
def live_stack(
    *, workdir: str | None = None, tasks_per_team: int = CLICKUP_TASKS_PER_TEAM, postgres: bool = False
) -> Iterator[Stack]:
    """The sandbox on free ports, its config, the receiver (in this process) with the sandbox webhooks
    registered at it, and a Dagster home (``postgres``: the instance and the inbox on a throwaway
    PostgreSQL, as config/dagster-postgres.yaml sets it up); the daemon is started by the caller.
    Everything started here is stopped on the way out, failures included."""
    from cascade_sync_pipeline.config import parse_config
    from cascade_sync_pipeline.orchestration.webhooks.inbox import INBOX_ENV, open_inbox
    from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
    from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer
    from cascade_sync_sandbox.company import start_sandbox
    from cascade_sync_sandbox.live import register_sandbox_webhooks

    saved = dict(os.environ)
    stack: Stack | None = None
    with (
        terminate_as_exit(),
        tempfile.TemporaryDirectory(prefix="live-bench-", dir=workdir) as tmp,
        start_sandbox(ports={"clickup": 0, "wrike": 0, "cascade": 0}, clickup_tasks_per_team=tasks_per_team) as sandbox,
        contextlib.ExitStack() as extra,
    ):
        try:
            work = Path(tmp)
            raw = _pointed_config(sandbox, work)
            config_path = work / "sync.yaml"
            config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
            config = parse_config(raw, str(config_path))
            home = work / "dagster_home"
            home.mkdir()
            instance_file = "dagster-postgres.yaml" if postgres else "dagster.yaml"
            shutil.copy(ROOT / "config" / instance_file, home / "dagster.yaml")
            inbox_path: Any = work / "inbox.sqlite"
            if postgres:
                from cascade_sync_sandbox.postgres import postgres_server

                pg = extra.enter_context(postgres_server())
                os.environ.update(pg.env())
                inbox_path = pg.fresh_database("live_inbox").url
            os.environ.pop("CASCADE_SYNC_DUCKDB", None)
            os.environ.update(
                DAGSTER_HOME=str(home), CASCADE_SYNC_CONFIG=str(config_path), **{INBOX_ENV: str(inbox_path)}
            )
            sandbox.export_env(config)
            inbox = open_inbox(inbox_path).create()
            # The receiver reads each workspace's secret from this process's environment per delivery.
            with ReceiverServer(create_receiver_app(config, inbox)) as receiver:
                registrations = register_sandbox_webhooks(config, receiver.url)
                broken = [line for line in registrations if "webhook created" not in line]
                if broken:
                    raise RuntimeError(f"sandbox webhooks not registered: {broken}")
                env = dict(os.environ)
                stack = Stack(sandbox, config, raw, work, config_path, home, inbox_path, env, registrations)
                try:
                    yield stack
                finally:
                    stack.stop_daemon()
                    if stack._instance is not None:
                        stack._instance.dispose()
        finally:
            os.environ.clear()
            os.environ.update(saved)


# ---- reading the inbox and the Dagster instance ----------------------------------------------------


def _inbox_events(stack: Stack, source: str, after_id: int):
    from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox

    return open_inbox(stack.inbox_path).events_after(source, after_id)


def _last_inbox_id(stack: Stack) -> int:
    from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox

    return open_inbox(stack.inbox_path).last_id()


def _frontier(stack: Stack, source: str) -> dict[str, int]:
    from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox

    return open_inbox(stack.inbox_path).frontier(source)


def _run_of(stack: Stack, source: str, event, runs):
    """The run that covered ``event``: by the claim on it (the runner's run id, or the sensor's run key)."""
    from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox

    claims = open_inbox(stack.inbox_path).claims_after(source, event.id - 1)
    claim = next((c for c in claims if c.covers(event)), None)
    if claim is not None:
        for r in runs:
            if claim.run_id in (r.dagster_run.run_id, r.dagster_run.tags.get("dagster/run_key")):
                return r
    return runs[-1]


def _runs(stack: Stack, key: str, *, since: float | None = None) -> list:
    import dagster as dg

    created_after = datetime.fromtimestamp(since, UTC) if since is not None else None
    records = stack.instance.get_run_records(
        dg.RunsFilter(tags={"dagster/partition": key}, created_after=created_after)
    )
    return sorted(records, key=lambda r: r.create_timestamp)


def _busy(records) -> bool:
    return any(r.dagster_run.status.value in IN_PROGRESS for r in records)


def settle(stack: Stack, key: str, source: str, *, since: float | None = None, timeout: float = SETTLE_TIMEOUT_S):
    """Wait until every inbox event of ``key`` is covered by a webhook run and no run of ``key`` is in
    progress; return the runs of ``key`` created after ``since``."""
    deadline = time.monotonic() + timeout
    while True:
        if not stack.alive():
            raise RuntimeError(f"the Dagster daemon or the live runner exited:\n{stack.tails()}")
        events = [e for e in _inbox_events(stack, source, 0) if e.workspace == key]
        records = _runs(stack, key)
        covered = _frontier(stack, source).get(key, 0)  # the live runner and the sensors claim what they run
        newest = max((e.id for e in events), default=0)
        if newest <= covered and not _busy(records):
            return [r for r in records if since is None or r.create_timestamp.timestamp() >= since]
        if time.monotonic() > deadline:
            states = [(r.dagster_run.run_id[:8], r.dagster_run.status.value) for r in records[-5:]]
            raise TimeoutError(
                f"{key}: not settled after {timeout:.0f}s (events to {newest}, covered to "
                f"{covered}, runs {states})\n{stack.tails()}"
            )
        time.sleep(0.25)


def wait_for_daemon(stack: Stack, sensors: set[str], *, runner: bool, timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until the daemon has loaded the code location (each of ``sensors`` has ticked once) and its
    run queue runs, and (``runner``) the live runner has said it is alive, so the first edit does not pay
    for their start."""
    from dagster._core.scheduler.instigation import InstigatorType

    from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox

    deadline = time.monotonic() + timeout
    while True:
        if not stack.alive():
            raise RuntimeError(f"the Dagster daemon or the live runner exited:\n{stack.tails()}")
        states = stack.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        ticked = {
            s.instigator_name
            for s in states
            if stack.instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1)
        }
        alive = not runner or open_inbox(stack.inbox_path).runner_seen_at() is not None
        if sensors <= ticked and "QUEUED_RUN_COORDINATOR" in stack.instance.get_daemon_heartbeats() and alive:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon did not tick {sorted(sensors - ticked)} in {timeout:.0f}s\n{stack.tails()}")
        time.sleep(0.25)


def _run_timeline(stack: Stack, run_id: str) -> dict[str, Any]:
    """Times (epoch seconds) of the run's launch (RUN_STARTING: the run queue dequeued it and the launcher
    starts its process) and start, and per step: worker launch (the executor starts the step's
    process), step start, step end."""
    import dagster as dg

    kinds = {dg.DagsterEventType.RUN_STARTING, dg.DagsterEventType.RUN_START}
    steps: dict[str, dict[str, float]] = {}
    out: dict[str, Any] = {"steps": steps}
    for record in stack.instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind in kinds:
            out.setdefault(kind.name, entry.timestamp)
        elif kind == dg.DagsterEventType.STEP_WORKER_STARTING:
            steps.setdefault(event.step_key, {}).setdefault("launch", entry.timestamp)
        elif event.is_step_start:
            steps.setdefault(event.step_key, {}).setdefault("start", entry.timestamp)
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            steps.setdefault(event.step_key, {})["end"] = entry.timestamp
    return out


# ---- counting: source requests, Cascade writes, Cascade values ----------------------------------------


_PUT = re.compile(r"^/v2/(actions|measures|measures/historical)/([^/]+)$")


def _cascade_state(cascade, ids: set[str]) -> dict[tuple[str, str], Any]:
    """(kind, id) -> value, and (history, id) -> history, of the given Cascade items."""
    snap = cascade.store.snapshot()
    state: dict[tuple[str, str], Any] = {}
    for kind in ("actions", "measures"):
        for item_id, item in snap[kind].items():
            if item_id in ids:
                state[(kind, item_id)] = item["value"]
                if kind == "measures":
                    state[("history", item_id)] = item["history"]
    return state


def _changed_values(before: dict, after: dict) -> int:
    """Values that differ: each current value, and each measure whose history changed (one PUT writes it)."""
    changed = 0
    for key, old in before.items():
        new = after.get(key)
        if key[0] == "history":
            days = set(old) | set(new or {})
            changed += 1 if any(old.get(d) != (new or {}).get(d) for d in days) else 0
        elif old != new:
            changed += 1
    return changed


def _cascade_calls(entries: list[tuple[str, str, int]], ids: set[str]) -> tuple[int, int]:
    """(writes to ``ids``, reads) among Cascade log entries."""
    writes = reads = 0
    for method, path, status in entries:
        if method == "PUT" and status == 200:
            m = _PUT.match(path)
            writes += 1 if m and m.group(2) in ids else 0
        elif method == "GET":
            reads += 1
    return writes, reads


# ---- one edit, measured ---------------------------------------------------------------------------------


@dataclass
class Target:
    item_id: str
    cascade_id: str
    value: float  # the action's progress before any edit
    status: str  # the task's status (ClickUp name, Wrike customStatusId) before any edit


@dataclass
class Change:
    source: str
    key: str
    item_id: str
    latency: float | None
    source_requests: int
    cascade_writes: int
    cascade_reads: int
    changed_values: int
    runs: int
    deliveries: int
    stages: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    failed_runs: list[str] = field(default_factory=list)


class Source:
    """Edits of one workspace's linked tasks through the emulator's webhook-firing controls."""

    def __init__(self, stack: Stack, source: str, key: str, targets: list[Target], ids: set[str]) -> None:
        self.stack, self.source, self.key, self.targets, self.ids = stack, source, key, targets, ids
        self.emulator = stack.sandbox.clickup if source == "clickup" else stack.sandbox.wrike
        self.changes: list[Change] = []

    def set_status(self, target: Target, done: bool) -> None:
        if self.source == "clickup":
            self.emulator.update_task(target.item_id, status="complete" if done else target.status)
        elif done:
            self.emulator.update_task(target.item_id, status="Completed")
        else:
            self.emulator.update_task(target.item_id, customStatusId=target.status)

    def edit(self, log: Callable[[str], None]) -> Change:
        """The next edit (a linked task to done, or back to its old status), measured until its runs end."""
        i = len(self.changes)
        stack, cascade = self.stack, self.stack.sandbox.cascade
        target = self.targets[(i // 2) % len(self.targets)]
        done = i % 2 == 0
        expected = 100.0 if done else target.value
        settle(stack, self.key, self.source)
        before_source = len(self.emulator.log.entries)
        before_cascade = len(cascade.log.entries)
        before_state = _cascade_state(cascade, self.ids)
        before_inbox = _last_inbox_id(stack)
        t0 = time.time()
        self.set_status(target, done)
        latency = None
        while time.time() - t0 < CHANGE_TIMEOUT_S:
            if cascade.action(target.cascade_id)["value"] == expected:
                latency = time.time() - t0
                break
            time.sleep(POLL_S)
        seen = t0 + latency if latency is not None else math.nan
        runs = settle(stack, self.key, self.source, since=t0 - 1)
        events = [e for e in _inbox_events(stack, self.source, before_inbox) if e.workspace == self.key]
        writes, reads = _cascade_calls(cascade.log.entries[before_cascade:], self.ids)
        change = Change(
            self.source,
            self.key,
            target.item_id,
            latency,
            source_requests=len(self.emulator.log.entries) - before_source,
            cascade_writes=writes,
            cascade_reads=reads,
            changed_values=_changed_values(before_state, _cascade_state(cascade, self.ids)),
            runs=len(runs),
            deliveries=len(events),
        )
        change.failed_runs = [
            r.dagster_run.run_id for r in runs if r.dagster_run.status.value not in ("SUCCESS", "CANCELED")
        ]
        for run_id in change.failed_runs:
            log(f"  {self.key} #{i + 1}: run {run_id} failed: {_failure(stack, run_id)}")
        webhook_runs = [r for r in runs if r.dagster_run.tags.get("trigger") == "webhook"]
        if events and webhook_runs:
            try:
                change.stages, change.steps = _stages(stack, t0, seen, events, webhook_runs)
            except Exception as err:  # a timeline that cannot be read must not cost the edit's other figures
                log(f"  {self.key} #{i + 1}: stages not read: {type(err).__name__}: {err}")
        self.changes.append(change)
        shown = "lost" if latency is None else f"{latency:.1f}s"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in change.stages.items())
        log(
            f"  {self.key} #{i + 1}: {target.item_id} {'done' if done else 'back'} -> {shown}; "
            f"{change.source_requests} source requests, {writes} writes / {change.changed_values} changed, "
            f"{len(runs)} runs; stages (s): {stages}"
        )
        return change


def _failure(stack: Stack, run_id: str) -> str:
    """Why a run failed: its step failures' and engine errors' root causes, else its failure message."""
    reasons = []
    for entry in stack.instance.all_logs(run_id):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None) if event is not None else None
        if error is None:
            continue
        while error.cause is not None:
            error = error.cause
        where = event.step_key or event.event_type.name
        reasons.append(f"{where}: {entry.user_message[:300]} [{error.cls_name}: {error.message.strip()[:300]}]")
    if reasons:
        return " | ".join(reasons)
    failures = [e.user_message for e in stack.instance.all_logs(run_id) if "FAILURE" in str(e.dagster_event_type)]
    return failures[0][:500] if failures else "no failure event"


def _stages(stack: Stack, t0: float, seen: float, events, runs) -> tuple[dict[str, float], dict[str, float]]:
    """Where one edit's time went: the stages from the edit to its run's end, and each step's time."""
    run = _run_of(stack, events[-1].source, events[-1], runs)
    timeline = _run_timeline(stack, run.dagster_run.run_id)
    received = [e.received_at.timestamp() for e in events]
    created = run.create_timestamp.timestamp()
    launched = timeline.get("RUN_STARTING", math.nan)
    started = run.start_time or timeline.get("RUN_START", math.nan)
    ended = run.end_time or math.nan
    stages = dict(
        zip(
            STAGES,
            (
                min(received) - t0,
                created - max(received),
                launched - created,
                started - launched,
                seen - started,
                ended - seen,
            ),
            strict=True,
        )
    )
    steps = timeline["steps"]
    stages["run: started -> ended"] = ended - started
    stages["run: step processes launching (sum)"] = sum(
        s.get("start", math.nan) - s.get("launch", math.nan) for s in steps.values() if "launch" in s
    )
    stages["run: steps' own work (sum)"] = sum(
        s.get("end", math.nan) - s.get("start", math.nan) for s in steps.values()
    )
    times = {f"{k}: process launch": s.get("start", math.nan) - s["launch"] for k, s in steps.items() if "launch" in s}
    times |= {f"{k}: work": s.get("end", math.nan) - s.get("start", math.nan) for k, s in steps.items()}
    return stages, times


# ---- what the benchmark reads from the warehouse, before the daemon writes to it -----------------------


def _targets(stack: Stack, key: str, limit: int) -> tuple[list[Target], set[str]]:
    from cascade_sync_pipeline.warehouse.store import Warehouse

    with Warehouse(stack.config.duckdb_path).connect(read_only=True) as con:
        rows = con.execute(
            "SELECT d.item_id, d.cascade_id, d.value, w.status FROM sync.desired_values AS d "
            "JOIN staging.work_items AS w USING (workspace, item_id) "
            "WHERE d.workspace = ? AND d.linked_by = 'field' AND d.cascade_type = 'action' AND d.blocked IS NULL "
            "AND d.value < 100 AND w.item_type = 'task' AND w.status_category IN ('not_started', 'in_progress') "
            "AND d.cascade_id IN (SELECT cascade_id FROM sync.desired_values WHERE cascade_type = 'action' "
            "  GROUP BY cascade_id HAVING count(*) = 1) "
            "ORDER BY d.item_id LIMIT ?",
            [key, limit],
        ).fetchall()
        ids = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT cascade_id FROM sync.desired_values WHERE workspace = ?", [key]
            ).fetchall()
        }
    targets = [Target(item_id, cascade_id, value, status) for item_id, cascade_id, value, status in rows]
    if not targets:
        raise RuntimeError(f"{key}: no task linked to a Cascade action by its Cascade ID field")
    return targets, ids


def _wrike_status_ids(stack: Stack, targets: list[Target]) -> list[Target]:
    """Wrike tasks are put back by their custom status id (the staging table holds the status name)."""
    tasks = stack.sandbox.wrike.tasks_by_id
    return [Target(t.item_id, t.cascade_id, t.value, tasks[t.item_id]["customStatusId"]) for t in targets]


# ---- the burst --------------------------------------------------------------------------------------------


BURST_STATUSES = ("complete", "to do", "complete", "in progress", "complete")  # each differs from the one before


def _burst(stack: Stack, targets: list[Target], ids: set[str], report: Report, log: Callable[[str], None]) -> None:
    clickup, cascade = stack.sandbox.clickup, stack.sandbox.cascade
    items = targets[:BURST_ITEMS]
    settle(stack, BURST_KEY, "clickup")
    before_source, before_cascade = len(clickup.log.entries), len(cascade.log.entries)
    before_state = _cascade_state(cascade, ids)
    last_write = [math.nan]
    stop = threading.Event()

    def watch() -> None:  # when the Cascade emulator last accepted a write
        seen = cascade.writes
        while not stop.is_set():
            if cascade.writes != seen:
                seen, last_write[0] = cascade.writes, time.time()
            time.sleep(POLL_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.time()
    gap = BURST_SECONDS / BURST_EDITS * 0.9
    final: dict[str, str] = {}  # cascade id -> the task's last status
    for k in range(BURST_EDITS):
        target = items[k % len(items)]
        status = BURST_STATUSES[(k // len(items)) % len(BURST_STATUSES)]
        clickup.update_task(target.item_id, status=status)
        final[target.cascade_id] = status
        time.sleep(max(0.0, started + (k + 1) * gap - time.time()))
    ended = time.time()
    done = [cascade_id for cascade_id, status in final.items() if status == "complete"]  # progress 100
    held = math.nan
    while time.time() - ended < SETTLE_TIMEOUT_S:
        if all(cascade.action(c)["value"] == 100.0 for c in done):
            held = time.time() - ended
            break
        time.sleep(POLL_S)
    runs = settle(stack, BURST_KEY, "clickup", since=started - 1)
    stop.set()
    watcher.join(timeout=5)
    source_requests = len(clickup.log.entries) - before_source
    writes, _ = _cascade_calls(cascade.log.entries[before_cascade:], ids)
    changed = _changed_values(before_state, _cascade_state(cascade, ids))
    log(f"  burst: {BURST_EDITS} edits in {ended - started:.1f}s, {len(runs)} runs, final after {held:.1f}s")

    # Is that state the one a full sync computes? The daemon stops first, so no run overlaps the check.
    stack.stop_daemon()
    before_full = len(cascade.log.entries)
    full = stack.cli("sync", BURST_KEY, "--mode", "full")
    if full.returncode != 0:
        raise RuntimeError(f"full sync after the burst failed:\n{full.stdout[-2000:]}\n{full.stderr[-2000:]}")
    full_writes, _ = _cascade_calls(cascade.log.entries[before_full:], ids)

    report.add(
        Figure(
            NAME,
            f"burst: {BURST_EDITS} edits to {BURST_KEY}, seconds taken",
            round(ended - started, 1),
            "s",
            BURST_SECONDS,
            "<=",
        ),
        Figure(
            NAME,
            "burst: runs it caused",
            len(runs),
            "runs",
            note="webhook runs of the workspace, created from "
            "the first edit until every inbox event was covered and no run was left",
        ),
        Figure(NAME, "burst: last edit -> edited actions hold their final progress", _round(held), "s"),
        Figure(NAME, "burst: last edit -> last Cascade write", _round(last_write[0] - ended), "s"),
        Figure(NAME, "burst: source requests", source_requests, "requests"),
        Figure(
            NAME,
            "burst: Cascade writes",
            writes,
            "PUTs",
            note=f"{changed} values differ between before and after the burst; a run during the burst also "
            "writes the states it saw then (the live runner runs a workspace whose events keep coming every 3 s)",
        ),
        Figure(
            NAME,
            "burst: full sync afterwards, Cascade writes",
            full_writes,
            "PUTs",
            0,
            "==",
            "0: the burst left Cascade in the state a full sync computes",
        ),
    )


# ---- figures ---------------------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)  # nearest rank
    return ordered[rank]


def _median(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def _source_figures(report: Report, src: Source, wanted: int, budget: float | None) -> None:
    changes = src.changes
    n = len(changes)
    label = f"{src.source} ({src.key})"
    why = f"stopped by the time budget of {budget:.0f}s (env {BUDGET_ENV})" if budget is not None else ""
    report.add(Figure(NAME, f"{label}: single edits measured", n, "edits", wanted, ">=", why))
    if not n:
        return
    latencies = [c.latency for c in changes if c.latency is not None]
    lost = n - len(latencies)
    counted = latencies + [CHANGE_TIMEOUT_S] * lost  # a lost edit counts as the timeout: no flattering
    total = {k: sum(getattr(c, k) for c in changes) for k in ("source_requests", "cascade_writes", "cascade_reads")}
    report.add(
        Figure(NAME, f"{label}: edits lost (not in Cascade within {CHANGE_TIMEOUT_S:.0f}s)", lost, "edits", 0, "=="),
        Figure(
            NAME,
            f"{label}: latency p50",
            _round(_percentile(counted, 50)),
            "s",
            GOAL_P50_S,
            "<=",
            "edit -> the Cascade emulator holds the action's new progress (nearest-rank percentiles)",
        ),
        Figure(NAME, f"{label}: latency p95", _round(_percentile(counted, 95)), "s", GOAL_P95_S, "<="),
        Figure(NAME, f"{label}: latency max", _round(max(counted)), "s"),
        Figure(
            NAME,
            f"{label}: source requests per edit (mean)",
            _round(total["source_requests"] / n),
            "requests",
            GOAL_SOURCE_REQUESTS,
            "<=",
            "the source emulator's request log, from the edit until its runs ended",
        ),
        Figure(
            NAME,
            f"{label}: source requests per edit (max)",
            max(c.source_requests for c in changes),
            "requests",
            GOAL_SOURCE_REQUESTS,
            "<=",
        ),
        Figure(NAME, f"{label}: Cascade writes per edit (mean)", _round(total["cascade_writes"] / n), "PUTs"),
        Figure(
            NAME,
            f"{label}: Cascade writes, all edits",
            total["cascade_writes"],
            "PUTs",
            sum(c.changed_values for c in changes),
            "==",
            "goal: the Cascade values that changed (current values, and history per measure), diffed in the emulator",
        ),
        Figure(NAME, f"{label}: Cascade reads per edit (mean)", _round(total["cascade_reads"] / n), "GETs"),
        Figure(NAME, f"{label}: runs per edit (mean)", _round(sum(c.runs for c in changes) / n), "runs"),
        Figure(
            NAME,
            f"{label}: runs that failed",
            sum(len(c.failed_runs) for c in changes),
            "runs",
            0,
            "==",
            "a failed run is retried once by the instance (run_retries); the edit's latency includes the retry",
        ),
        Figure(
            NAME,
            f"{label}: webhook deliveries per edit (mean)",
            _round(sum(c.deliveries for c in changes) / n),
            "events",
        ),
    )
    # Stages of edits whose runs all succeeded (a failed run and its retry would blur them; their
    # latency is in the percentiles above).
    staged = [c for c in changes if c.stages and not c.failed_runs]
    report.add(Figure(NAME, f"{label}: edits broken into stages", len(staged), "edits"))
    for stage in dict.fromkeys(k for c in staged for k in c.stages):
        values = [c.stages.get(stage, math.nan) for c in staged]
        report.add(Figure(NAME, f"{label}: stage {stage} (median)", _round(_median(values)), "s"))
    for step in sorted({s for c in staged for s in c.steps}):
        values = [c.steps.get(step, math.nan) for c in staged]
        report.add(Figure(NAME, f"{label}: step {step} (median)", _round(_median(values)), "s"))


# ---- the benchmark ---------------------------------------------------------------------------------------


def budget_from_env(default: float = DEFAULT_BUDGET_S) -> float:
    raw = os.environ.get(BUDGET_ENV, "").strip()
    return float(raw) if raw else default


def run(report: Report, *, changes: int | None = None, log: Callable[[str], None] | None = None) -> None:
    from cascade_sync_pipeline.orchestration.sensors import DEBOUNCE_ENV, MINIMUM_INTERVAL_SECONDS, debounce_from_env

    n = changes if changes is not None else changes_from_env()
    budget = budget_from_env()
    with_runner = os.environ.get(RUNNER_ENV, "1").strip() != "0"
    on_postgres = os.environ.get(INSTANCE_ENV, "sqlite").strip() == "postgres"
    say = log or (lambda line: print(line, file=sys.__stderr__, flush=True))
    started = time.monotonic()
    with live_stack(postgres=on_postgres) as stack:
        report.add(
            Figure(
                NAME,
                "webhook debounce (product setting)",
                debounce_from_env(),
                "s",
                note=f"env {DEBOUNCE_ENV}; the sensors' minimum interval is {MINIMUM_INTERVAL_SECONDS}s",
            ),
            Figure(
                NAME,
                "live runner (cascade-sync webhooks run) beside the daemon",
                "yes" if with_runner else "no",
                "",
                note=f"env {RUNNER_ENV}=0 measures the sensors' path alone",
            ),
            Figure(
                NAME,
                "Dagster instance and inbox",
                "PostgreSQL" if on_postgres else "SQLite (as make dev)",
                "",
                note=f"env {INSTANCE_ENV}=postgres: config/dagster-postgres.yaml and the inbox on a throwaway server",
            ),
        )
        first = time.monotonic()
        full = stack.cli("sync", "--mode", "full")
        if full.returncode != 0:
            raise RuntimeError(f"first full sync failed:\n{full.stdout[-3000:]}\n{full.stderr[-3000:]}")
        report.add(Figure(NAME, "first full sync of every workspace (CLI)", round(time.monotonic() - first, 1), "s"))
        clickup_targets, clickup_ids = _targets(stack, CLICKUP_KEY, max(BURST_ITEMS, math.ceil(n / 2)))
        wrike_targets, wrike_ids = _targets(stack, WRIKE_KEY, math.ceil(n / 2))
        wrike_targets = _wrike_status_ids(stack, wrike_targets)
        say(f"  {len(clickup_targets)} ClickUp and {len(wrike_targets)} Wrike linked tasks to edit")

        stack.start_daemon()
        ready = time.monotonic()
        if with_runner:
            stack.start_runner()
        wait_for_daemon(stack, {"clickup_webhook_sensor", "wrike_webhook_sensor"}, runner=with_runner)
        for key, source in ((CLICKUP_KEY, "clickup"), ("acme-ops", "clickup"), (WRIKE_KEY, "wrike")):
            settle(stack, key, source)  # the first sync's own webhooks (write-back), if any, are handled first
        report.add(
            Figure(
                NAME, "daemon start -> sensors ticking, nothing left to run", round(time.monotonic() - ready, 1), "s"
            )
        )

        # One edit at a time, the sources taking turns, so each edit has the machine to itself and both
        # sources get as many edits when the time budget stops the sequence early.
        sources = [
            Source(stack, "clickup", CLICKUP_KEY, clickup_targets, clickup_ids),
            Source(stack, "wrike", WRIKE_KEY, wrike_targets, wrike_ids),
        ]
        phase = time.monotonic()
        out_of_time = False
        for _ in range(n):
            for src in sources:
                if budget > 0 and time.monotonic() - phase > budget:
                    out_of_time = True
                    break
                src.edit(say)
            if out_of_time:
                break
        for src in sources:
            _source_figures(report, src, n, budget if out_of_time else None)
        report.add(Figure(NAME, "single edits, whole sequence", round(time.monotonic() - phase, 1), "s"))

        _burst(stack, clickup_targets, clickup_ids, report, say)
    report.add(Figure(NAME, "whole benchmark", round(time.monotonic() - started, 1), "s"))
