"""Per-workspace schedules: cron from the config, RUNNING by default, one partitioned run per tick."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from cascade_sync_pipeline.config import ConfigError, parse_config
from cascade_sync_pipeline.definitions import build_definitions, sync_job_name
from cascade_sync_pipeline.orchestration.schedules import build_schedules, minute_offset

TICK = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def tick(defs: dg.Definitions, name: str, instance: dg.DagsterInstance, when: datetime = TICK) -> list[dg.RunRequest]:
    """Evaluate one tick of a schedule the way the daemon does, with its repository."""
    repository = defs.get_repository_def()
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repository)
    return repository.get_schedule_def(name).evaluate_tick(context).run_requests


def clickup(key: str, schedule: str, team_id: str = "901") -> dict:
    return {"key": key, "source": "clickup", "team_id": team_id, "token_env": "TEST_TOKEN", "schedule": schedule}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    config = parse_config(
        {
            "workspaces": [
                clickup("acme-hourly", "hourly"),
                clickup("acme-daily", "daily"),
                clickup("acme-weekly", "weekly"),
                clickup("acme-cron", "15 2 * * 3"),
            ]
        }
    )
    return build_definitions(config)


def test_cron_per_frequency_with_a_stable_minute_per_workspace(defs):
    crons = {s.name: s.cron_schedule for s in defs.get_repository_def().schedule_defs}
    assert crons == {
        "acme_hourly_schedule": f"{minute_offset('acme-hourly')} * * * *",
        "acme_daily_schedule": f"{minute_offset('acme-daily')} 6 * * *",
        "acme_weekly_schedule": f"{minute_offset('acme-weekly')} 6 * * 1",
        "acme_cron_schedule": "15 2 * * 3",
    }


def test_minute_offsets_spread_workspaces_across_the_hour():
    minutes = {minute_offset(f"workspace-{i}") for i in range(30)}
    assert len(minutes) >= 15 and minutes <= set(range(60))
    assert minute_offset("acme-eng") == minute_offset("acme-eng")


def test_schedules_run_by_default_in_utc_against_the_source_job(defs):
    for schedule in defs.get_repository_def().schedule_defs:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        assert schedule.execution_timezone == "UTC"
        assert schedule.job_name == "clickup_sync"


@pytest.mark.slow
def test_tick_requests_the_workspace_partition_in_auto_mode(defs):
    with dg.instance_for_test() as instance:
        [request] = tick(defs, "acme_daily_schedule", instance)
    assert request.partition_key == "acme-daily"
    assert request.run_key == "acme-daily:2026-03-02T07:00:00+00:00"
    assert {"workspace": "acme-daily", "trigger": "schedule"}.items() <= request.tags.items()
    assert request.run_config == {"ops": {"clickup_raw_extract": {"config": {"mode": "auto"}}}}
    job = defs.resolve_job_def("clickup_sync")
    assert request.partition_key in job.partitions_def.get_partition_keys()
    assert dg.validate_run_config(job, request.run_config)


@pytest.mark.slow
def test_every_tick_has_its_own_run_key(defs):
    with dg.instance_for_test() as instance:
        keys = {tick(defs, "acme_hourly_schedule", instance, when)[0].run_key for when in (TICK, TICK.replace(hour=8))}
    assert len(keys) == 2


def test_keys_that_would_share_a_schedule_name_are_refused():
    config = parse_config({"workspaces": [clickup("acme-eng", "hourly"), clickup("acme_eng", "hourly", "902")]})
    with pytest.raises(ConfigError, match="'acme-eng' and 'acme_eng' would share the schedule name"):
        build_schedules(config, sync_job_name)


@pytest.mark.slow
def test_wrike_workspace_schedule_targets_the_wrike_job():
    config = parse_config(
        {
            "workspaces": [
                clickup("acme-eng", "hourly"),
                {"key": "acme-pm", "source": "wrike", "token_env": "TEST_WR", "schedule": "daily"},
            ]
        }
    )
    defs = build_definitions(config)
    names = {s.name for s in defs.get_repository_def().schedule_defs}
    if "wrike_sync" not in {job.name for job in defs.jobs}:
        assert names == {"acme_eng_schedule"}  # no Wrike job yet: no schedule pointing at nothing
        pytest.skip("the Wrike assets and job are not built yet")
    assert defs.get_repository_def().get_schedule_def("acme_pm_schedule").job_name == "wrike_sync"
    with dg.instance_for_test() as instance:
        [request] = tick(defs, "acme_pm_schedule", instance)
    assert request.partition_key == "acme-pm"
    assert dg.validate_run_config(defs.resolve_job_def("wrike_sync"), request.run_config)
