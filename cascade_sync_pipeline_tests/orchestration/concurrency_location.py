"""A tiny code location for the run-queue test: a partitioned asset that takes a couple of seconds, and a
sensor that asks, on its first tick, for two runs of one partition and one of another (as a schedule tick
and a webhook of the same workspace would)."""

import time

import dagster as dg

PARTITIONS = dg.StaticPartitionsDefinition(["acme-eng", "acme-ops"])


@dg.asset(partitions_def=PARTITIONS)
def slow_sync(context: dg.AssetExecutionContext) -> None:
    time.sleep(1.5)
    context.log.info(f"synced {context.partition_key}")


slow_sync_job = dg.define_asset_job("slow_sync_job", selection=[slow_sync])


@dg.sensor(job=slow_sync_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def overlapping_triggers(context: dg.SensorEvaluationContext):
    if context.cursor:
        return dg.SkipReason("already requested")
    context.update_cursor("done")
    return [
        dg.RunRequest(partition_key=key, run_key=f"{key}:{trigger}", tags={"trigger": trigger})
        for key, trigger in (("acme-eng", "schedule"), ("acme-eng", "webhook"), ("acme-ops", "schedule"))
    ]


defs = dg.Definitions(assets=[slow_sync], jobs=[slow_sync_job], sensors=[overlapping_triggers])
