"""Webhook sensors: turn the inbox's new events into one run per workspace.

A burst of edits produces many deliveries; the sensor waits until a workspace's newest event is
`debounce` seconds old and then requests a single run covering all of them. When every event of that
run is about tasks and they name at most ``ITEMS_PER_RUN`` of them, the run reads just those tasks
(extract mode ``items``: one request per ClickUp task, one per 100 Wrike tasks); otherwise it reads
the changes since the last run (``incremental``). The scheduled runs stay the reconciliation that
catches lost events. The cursor (JSON) holds the last inbox event id the
sensor is done with, plus, for workspaces already requested past that id, how far each was covered,
so no event is skipped while another workspace is still settling.

Events the live runner (``webhooks/runner.py``) has claimed are its own, and while it is alive the
sensor waits ``RUNNER_GRACE`` before it takes any event the runner has left: the sensor is then the
fallback for a busy or stopped runner.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.orchestration.run_config import sync_run_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import Claim, Inbox, InboxEvent, open_inbox

DEBOUNCE_ENV = "CASCADE_SYNC_WEBHOOK_DEBOUNCE_SECONDS"
DEFAULT_DEBOUNCE_SECONDS = 1.0
MINIMUM_INTERVAL_SECONDS = 1  # the daemon's own loop sets the floor
ITEMS_PER_RUN = 100
TASK_EVENT = {"clickup": re.compile(r"^task[A-Z]"), "wrike": re.compile(r"^Task[A-Z]")}


def debounce_from_env() -> float:
    """Seconds a workspace must be quiet before its webhook run: env or 1."""
    raw = os.environ.get(DEBOUNCE_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_DEBOUNCE_SECONDS
    except ValueError:
        raise ValueError(f"{DEBOUNCE_ENV} must be a number of seconds, got {raw!r}") from None


RUNNER_GRACE = timedelta(seconds=30)
RUNNER_ALIVE = timedelta(seconds=15)


def runner_alive(inbox: Inbox, now: datetime) -> bool:
    """Whether the live runner (``cascade-sync webhooks run``) said it was alive within ``RUNNER_ALIVE``."""
    seen = inbox.runner_seen_at()
    return seen is not None and now - seen < RUNNER_ALIVE


def sensor_name(source: str) -> str:
    return f"{source}_webhook_sensor"


@dataclass
class WebhookCursor:
    """How far the sensor has read: every event up to ``last_event_id`` is handled, and each
    workspace in ``requested`` is covered up to its id. ``inbox_id`` names the inbox file those ids
    belong to: a replaced file starts its ids at 1 again, and the sensor then starts over."""

    last_event_id: int = 0
    requested: dict[str, int] = field(default_factory=dict)
    inbox_id: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> WebhookCursor:
        data = json.loads(text) if text else {}
        return cls(
            int(data.get("last_event_id", 0)),
            {k: int(v) for k, v in data.get("requested", {}).items()},
            data.get("inbox_id"),
        )

    def dump(self) -> str:
        data = {"last_event_id": self.last_event_id, "requested": self.requested}
        if self.inbox_id:
            data["inbox_id"] = self.inbox_id
        return json.dumps(data, sort_keys=True)

    def for_inbox(self, inbox_id: str | None, last_id: int) -> tuple[WebhookCursor, str | None]:
        """This cursor if it belongs to the inbox (id ``inbox_id``, newest event ``last_id``), else a fresh
        one; with the reason when it starts over. A cursor from before inbox ids adopts the current one."""
        if self.inbox_id is not None and inbox_id is not None and self.inbox_id != inbox_id:
            return WebhookCursor(inbox_id=inbox_id), f"the inbox was replaced (id {self.inbox_id} -> {inbox_id})"
        if self.last_event_id > last_id:
            return (
                WebhookCursor(inbox_id=inbox_id),
                f"the inbox holds events up to id {last_id}, below the cursor's {self.last_event_id}",
            )
        return WebhookCursor(self.last_event_id, dict(self.requested), inbox_id or self.inbox_id), None


@dataclass(frozen=True)
class WorkspaceRun:
    """One run to request: a workspace, the newest inbox event it covers, and the tasks its events
    name when they are all task events (else empty: the run reads every change)."""

    workspace: str
    max_event_id: int
    events: int
    task_ids: tuple[str, ...] = ()
    first_event_id: int = 0


def named_tasks(source: str, events: list[InboxEvent]) -> tuple[str, ...]:
    """The tasks a run's events name, when every event is about tasks and names some; else ()."""
    pattern = TASK_EVENT[source]
    if not all(e.item_ids and all(pattern.match(t) for t in e.event_type.split(",")) for e in events):
        return ()
    return tuple(dict.fromkeys(i for e in events for i in e.item_ids))


@dataclass
class WebhookPlan:
    runs: list[WorkspaceRun]
    cursor: WebhookCursor
    settling: list[str]
    unknown: list[str]


def plan_runs(
    events: list[InboxEvent],
    known: set[str],
    cursor: WebhookCursor,
    now: datetime,
    debounce: timedelta,
    source: str = "clickup",
    *,
    read_to: int | None = None,
    max_wait: timedelta | None = None,
) -> WebhookPlan:
    """Decide which workspaces get a run now and how far the cursor may move. A workspace is due once
    its newest event is ``debounce`` old, or (given ``max_wait``) its oldest is that old, so a steady
    stream of edits still syncs. ``read_to``: the newest id read when ``events`` leaves some out."""
    pending: dict[str, list[InboxEvent]] = defaultdict(list)
    unknown = set()
    for event in events:
        if event.workspace not in known:
            unknown.add(event.workspace)
        elif event.id > cursor.requested.get(event.workspace, 0):
            pending[event.workspace].append(event)

    runs, settling, requested = [], [], dict(cursor.requested)
    oldest_unhandled = None
    for workspace, group in sorted(pending.items()):
        quiet = now - max(e.received_at for e in group) >= debounce
        overdue = max_wait is not None and now - min(e.received_at for e in group) >= max_wait
        if not (quiet or overdue):
            settling.append(workspace)
            first = group[0].id
            oldest_unhandled = first if oldest_unhandled is None else min(oldest_unhandled, first)
            continue
        runs.append(WorkspaceRun(workspace, group[-1].id, len(group), named_tasks(source, group), group[0].id))
        requested[workspace] = group[-1].id

    read_to = read_to if read_to is not None else events[-1].id if events else cursor.last_event_id
    last = read_to if oldest_unhandled is None else oldest_unhandled - 1
    last = max(last, cursor.last_event_id)
    requested = {ws: i for ws, i in requested.items() if i > last}
    return WebhookPlan(runs, WebhookCursor(last, requested, cursor.inbox_id), settling, sorted(unknown))


def run_key(run: WorkspaceRun, inbox_id: str | None) -> str:
    """Unique per inbox file, so the runs of a replaced inbox (whose ids start again) are not taken for old ones."""
    inbox = f"{inbox_id[:8]}:" if inbox_id else ""
    return f"{run.workspace}:webhook:{inbox}{run.max_event_id}"


def is_sensor_claim(claim: Claim) -> bool:
    return ":webhook:" in claim.run_id


def claim_runs(inbox: Inbox, source: str, plan: WebhookPlan, claims: list[Claim], frontier: dict[str, int]) -> bool:
    """Claim the events of the plan's runs (each under its run key) past the ``frontier`` the plan was
    made on, so the live runner leaves them; False when it took some first. A claim this sensor already
    made (an evaluation repeated after the daemon stopped) stands: Dagster's run key keeps that run from
    being requested twice."""
    made = {c.run_id for c in claims}
    keys = [(run, run_key(run, plan.cursor.inbox_id)) for run in plan.runs]
    new = [
        (frontier.get(run.workspace, 0), Claim(run.workspace, run.first_event_id, run.max_event_id, key))
        for run, key in keys
        if key not in made
    ]
    return inbox.claim(source, new)


def webhook_run_tags(run: WorkspaceRun) -> dict[str, str]:
    """The tags of a webhook run, whether the sensor requests it or the live runner executes it."""
    return {"trigger": "webhook", "workspace": run.workspace, "webhook_events": str(run.events)}


def webhook_run_config(source: str, run: WorkspaceRun) -> dict:
    """The items its events name when there are few enough, else every change."""
    if 0 < len(run.task_ids) <= ITEMS_PER_RUN:
        return sync_run_config(source, "items", item_ids=run.task_ids)
    return sync_run_config(source, "incremental")


def build_webhook_sensor(
    config: SyncConfig,
    source: str,
    job_name: str,
    *,
    inbox_path: str | Path | None = None,
    debounce_seconds: float | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dg.SensorDefinition:
    """The sensor turning ``source`` webhook events into incremental runs of ``job_name``.

    ``inbox_path`` defaults to the env var at evaluation time; ``clock`` gives "now" (UTC).
    """
    known = {ws.key for ws in config.workspaces_of(source)}
    debounce = timedelta(seconds=debounce_from_env() if debounce_seconds is None else debounce_seconds)
    now = clock or (lambda: datetime.now(UTC))

    @dg.sensor(
        name=sensor_name(source),
        job_name=job_name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One {source} sync per workspace once its webhook events have been quiet for "
        f"{debounce.total_seconds():g}s: of the tasks they name (up to {ITEMS_PER_RUN}), else of every change.",
    )
    def webhook_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        inbox = open_inbox(inbox_path)
        if not inbox.exists():
            return dg.SkipReason(
                f"no webhook inbox at {inbox.path} yet; start the receiver with `cascade-sync webhooks serve`"
            )
        cursor, restart = WebhookCursor.parse(context.cursor).for_inbox(inbox.inbox_id(), inbox.last_id())
        if restart:
            context.log.warning(f"{restart}: reading the {source} webhook events of {inbox.path} from the start")
        events = inbox.events_after(source, cursor.last_event_id)
        claims, frontier = inbox.claims_after(source, cursor.last_event_id), inbox.frontier(source)
        theirs = [c for c in claims if not is_sensor_claim(c)]  # this sensor's own are in its cursor
        unclaimed = [e for e in events if not any(c.covers(e) for c in theirs)]
        at = now()
        wait = debounce
        if runner_alive(inbox, at):
            wait = max(debounce, RUNNER_GRACE)  # the live runner has them; this sensor steps in if it does not
        plan = plan_runs(unclaimed, known, cursor, at, wait, source, read_to=events[-1].id if events else None)
        if plan.unknown:
            context.log.warning(
                f"ignored {source} webhook events for workspaces no longer configured: {', '.join(plan.unknown)}"
            )
        if not claim_runs(inbox, source, plan, claims, frontier):
            return dg.SkipReason("the live runner claimed some of these events first; reading them again")
        requests = [
            dg.RunRequest(
                partition_key=run.workspace,
                run_key=run_key(run, plan.cursor.inbox_id),
                run_config=webhook_run_config(source, run),
                tags=webhook_run_tags(run),
            )
            for run in plan.runs
        ]
        skip = None
        if not requests:
            skip = (
                f"waiting for {', '.join(plan.settling)} to be quiet for {wait.total_seconds():g}s"
                if plan.settling
                else "no new webhook events"
            )
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor.dump(), skip_reason=skip)

    return webhook_sensor
