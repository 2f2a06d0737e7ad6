"""The live runner: a long-lived process that runs webhook syncs itself, a second or two after the edit.

The sensors' path costs seconds before a run even starts: the sensor loop wakes every 5 s, the run
queue every second, and each run is a new process that imports Dagster and loads the code location.
The runner loads the definitions and resources once, reads the inbox a few times a second, and once a
workspace's events have been quiet for ``debounce`` (or the oldest has waited ``max_wait``) it claims
them and executes the same run the sensor would request (``webhook_run_config``) in its own process,
on the Dagster instance: the run, its steps, checks and materializations show in the UI as any other.

One run per workspace still holds: the runner starts no run while one of the workspace is queued or in
progress, and the run queue counts the runner's run while it is in progress. Its claims keep the
sensors off its events; a run that fails gives its claim back and the workspace rests for
``FAILED_REST``, so the sensor (and the daemon's run retries) take those events after its grace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.orchestration.definitions import sources_with_jobs
from cascade_sync_pipeline.orchestration.instance import process_tags, running_elsewhere
from cascade_sync_pipeline.orchestration.sensors import (
    WebhookCursor,
    WorkspaceRun,
    plan_runs,
    webhook_run_config,
    webhook_run_tags,
)
from cascade_sync_pipeline.orchestration.webhooks.inbox import Claim, Inbox

FAILED_REST = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=5)
RUNNER_TAG = "cascade-sync/live-runner"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class LiveRun:
    """What one of the runner's runs did."""

    source: str
    workspace: str
    run_id: str
    events: int
    items: int
    success: bool
    seconds: float


class LiveRunner:
    """Runs the webhook syncs of ``config``'s workspaces from ``inbox`` on ``instance``, one ``tick`` at a time."""

    def __init__(
        self,
        config: SyncConfig,
        instance: dg.DagsterInstance,
        inbox: Inbox,
        *,
        debounce: timedelta = timedelta(seconds=0.3),
        max_wait: timedelta = timedelta(seconds=3),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        from cascade_sync_pipeline.definitions import build_definitions, sync_job_name

        defs = build_definitions(config)
        sources = sources_with_jobs(config, defs, sync_job_name)
        self.jobs = {s: defs.resolve_job_def(sync_job_name(s)) for s in sources}
        self.known = {s: {ws.key for ws in config.workspaces if ws.source == s} for s in self.jobs}
        self.instance, self.inbox = instance, inbox.create()
        self.debounce, self.max_wait, self.clock, self.log = debounce, max_wait, clock, log
        start = self.inbox.last_id()  # what arrived before the runner started is the sensors'
        self.read_from = dict.fromkeys(self.jobs, start)
        self.resting: dict[str, datetime] = {}
        self.beat_at: datetime | None = None

    def tick(self) -> list[LiveRun]:
        """Run every workspace whose events are due; return what ran."""
        now = self.clock()
        if self.beat_at is None or now - self.beat_at >= HEARTBEAT:
            self.inbox.runner_seen(now)
            self.beat_at = now
        return [done for source in self.jobs for done in self._tick(source, now)]

    def _tick(self, source: str, now: datetime) -> list[LiveRun]:
        events = self.inbox.events_after(source, self.read_from[source])
        if not events:
            return []
        claims = self.inbox.claims_after(source, self.read_from[source])
        unclaimed = [e for e in events if e.workspace in self.known[source] and not any(c.covers(e) for c in claims)]
        cursor = WebhookCursor(self.read_from[source])
        plan = plan_runs(unclaimed, self.known[source], cursor, now, self.debounce, source, max_wait=self.max_wait)
        frontier = self.inbox.frontier(source)
        done, left = [], {e.workspace: e.id for e in reversed(unclaimed)}  # each workspace's first pending id
        for run in plan.runs:
            if self.resting.get(run.workspace, now) > now or self._busy(run.workspace):
                continue
            claim = Claim(run.workspace, run.first_event_id, run.max_event_id, str(uuid.uuid4()))
            if not self.inbox.claim(source, [(frontier.get(run.workspace, 0), claim)]):
                continue  # a sensor or another runner took them first; the next tick reads again
            left.pop(run.workspace)
            done.append(self._execute(source, run, claim))
        self.read_from[source] = min(left.values()) - 1 if left else events[-1].id
        return done

    def _busy(self, workspace: str) -> bool:
        """A run of the workspace is in progress, or queued (it will start soon; the events wait for it)."""
        queued = self.instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": workspace}, statuses=[dg.DagsterRunStatus.QUEUED]), limit=1
        )
        return bool(queued) or running_elsewhere(self.instance, workspace) is not None

    def _execute(self, source: str, run: WorkspaceRun, claim: Claim) -> LiveRun:
        started = self.clock()
        result = self.jobs[source].execute_in_process(
            run_config={**webhook_run_config(source, run), **QUIET_LOGS},
            instance=self.instance,
            partition_key=run.workspace,
            run_id=claim.run_id,
            raise_on_error=False,
            tags={**webhook_run_tags(run), RUNNER_TAG: "true", **process_tags()},
        )
        seconds = (self.clock() - started).total_seconds()
        if not result.success:
            self.inbox.release(source, claim)
            self.resting[run.workspace] = self.clock() + FAILED_REST
        what = f"{len(run.task_ids)} tasks" if run.task_ids else "every change"
        self.log(
            f"{run.workspace} ({source}): {run.events} events, {what}: "
            f"{'done' if result.success else 'failed, left to the sensor'} in {seconds:.1f}s (run {claim.run_id})"
        )
        return LiveRun(source, run.workspace, claim.run_id, run.events, len(run.task_ids), result.success, seconds)
