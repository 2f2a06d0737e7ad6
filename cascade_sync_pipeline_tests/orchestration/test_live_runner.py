"""The live runner: a webhook sync runs in a warm process once the workspace's events are quiet, on the
Dagster instance like any run, never beside another run of the workspace; the sensors leave what it
claims and take over what it gives back. ClickUp and the Integrations emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from cascade_sync_pipeline.definitions import build_definitions
from cascade_sync_pipeline.orchestration.instance import process_tags
from cascade_sync_pipeline.orchestration.sensors import build_webhook_sensor
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox
from cascade_sync_pipeline.orchestration.webhooks.runner import RUNNER_TAG, LiveRunner
from cascade_sync_pipeline_tests.support.linking_world import CLICKUP_TOKEN_ENV, CU, World

pytestmark = pytest.mark.slow  # a linking world and runs on a Dagster instance


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A linking world after its first full sync."""
    world = World(tmp_path, monkeypatch)
    assert world.sync(world.config()).success
    yield world
    world.stop()


def status_event(inbox: WebhookInbox, task_id: str, at: datetime) -> int:
    body = f'{{"event": "taskStatusUpdated", "task_id": "{task_id}", "at": "{at.isoformat()}"}}'.encode()
    event_id = inbox.add(
        source="clickup", workspace=CU, event_type="taskStatusUpdated", item_ids=[task_id], body=body, received_at=at
    )
    assert event_id is not None
    return event_id


def sensor_requests(config, inbox: WebhookInbox, instance, clock: Clock) -> list[dg.RunRequest]:
    sensor = build_webhook_sensor(config, "clickup", "clickup_sync", inbox_path=inbox.path, clock=clock)
    repository = build_definitions(config).get_repository_def()
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=repository))
    return list(result.run_requests or [])


def test_an_edit_syncs_once_quiet_in_one_read_and_the_sensor_leaves_it(world, tmp_path):
    config = world.config()
    task_id, action_id = world.open_task()
    inbox, clock = WebhookInbox(tmp_path / "inbox.sqlite"), Clock()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        runner = LiveRunner(config, instance, inbox, clock=clock)
        world.set_status(task_id, "done")
        reads = world.clickup.log.count("GET", r"^/api/v2/")
        event_id = status_event(inbox, task_id, clock.now)
        assert runner.tick() == []  # not quiet for 0.3 s yet
        clock.wait(0.5)
        [done] = runner.tick()
        assert done.success and done.workspace == CU and done.items == 1, done
        assert world.clickup.log.count("GET", r"^/api/v2/") - reads == 1  # GET /task/{id}
        assert world.value(action_id) == 100
        run = instance.get_run_by_id(done.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == CU and run.tags[RUNNER_TAG] == "true"
        assert run.tags["trigger"] == "webhook"
        assert [(c.from_id, c.up_to_id, c.run_id) for c in inbox.claims_after("clickup", 0)] == [
            (event_id, event_id, done.run_id)
        ]
        clock.wait(1)
        assert runner.tick() == []
        clock.wait(60)
        assert sensor_requests(config, inbox, instance, clock) == []  # claimed: not run twice


def test_it_waits_for_a_run_of_the_workspace_and_gives_a_failed_run_to_the_sensor(world, tmp_path, monkeypatch):
    config = world.config()
    task_id, _ = world.open_task()
    inbox, clock = WebhookInbox(tmp_path / "inbox.sqlite"), Clock()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        runner = LiveRunner(config, instance, inbox, clock=clock)
        running = DagsterRun(  # a terminal's sync, say: this process is its process
            job_name="clickup_sync",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": CU, **process_tags()},
        )
        instance.add_run(running)
        world.set_status(task_id, "done")
        status_event(inbox, task_id, clock.now)
        clock.wait(1)
        assert runner.tick() == [] and inbox.frontier("clickup") == {}  # never beside the workspace's run
        instance.delete_run(running.run_id)
        monkeypatch.delenv(CLICKUP_TOKEN_ENV)
        [failed] = runner.tick()
        assert not failed.success
        assert inbox.frontier("clickup") == {}  # the claim is given back
        clock.wait(1)
        assert runner.tick() == []  # the workspace rests
        clock.wait(30)
        [request] = sensor_requests(config, inbox, instance, clock)  # the sensor's path takes the event
        assert request.partition_key == CU
        assert request.run_config["ops"]["clickup_raw_extract"]["config"]["item_ids"] == [task_id]
