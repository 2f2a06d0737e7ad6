"""Desired values, diff and publish of one source on the Integrations API, in the source's
workspace partitions. Thin Dagster code over links.py, values.py, push.py and checks.py."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
from collections.abc import Sequence

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.resources import CascadeResource, WarehouseResource
from cascade_sync_pipeline.sync import runs
from cascade_sync_pipeline.sync.assets import (
    OWNERS,
    PublishConfig,
    SourceAssetArgs,
    cascade_keys,
    diff_check_specs,
    failing_run,
    judge_diff,
    md,
    started_at,
)
from cascade_sync_pipeline.sync.linking import checks, links, push, values
from cascade_sync_pipeline.sync.publish_step import Planned, Published, RunCounts, publish_step


def build_link_assets(
    config: SyncConfig, source: str, partitions_def: dg.PartitionsDefinition, upstream: Sequence[dg.AssetKey]
) -> list:
    workspaces = {ws.key: ws for ws in config.workspaces_of(source)}
    connection = config.cascade
    # Built only for `api: integrations`, whose validation requires a workspace_id.
    assert connection is not None and connection.workspace_id is not None
    workspace_id = connection.workspace_id
    keys = cascade_keys(source)
    common = SourceAssetArgs(group_name=source, owners=OWNERS, partitions_def=partitions_def)

    @dg.asset(
        key=keys["desired_state"],
        deps=list(upstream),
        kinds={"cascade", "duckdb", "sql"},
        **common,
    )
    def cascade_desired_state(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, cascade: CascadeResource
    ):
        """The value each linked Cascade action and measure should hold (sync.desired_values) and the
        measures' daily history (sync.desired_history): links from the items' Cascade ID field and
        from mapping.links (pinned in sync.links), values from staging and the progress rules."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        store = warehouse.get(context.partition_key)
        with store.connect() as con:
            runs.start(con, ws.key, run_id, started_at(context), ws.dry_run)
        with failing_run(store, ws.key, run_id), cascade.client(ws.key) as client:
            plan = links.load_plan(client, workspace_id, ws)  # Cascade first, no lock held
            with store.connect() as con:
                foreign = links.foreign_claims(con, plan, ws)
            if foreign:
                links.load_foreign(client, plan)
            with store.connect() as con:
                built = values.build(con, plan, ws)
                summary = values.summary(con, ws.key)
        return dg.MaterializeResult(
            metadata={
                "workspace": ws.key,
                "plan": f"{built.plan.name} ({built.plan.id})",
                "dagster/row_count": built.values,
                "table": "sync.desired_values",
                "links": md(summary),
                "link_problems": built.problems,
                "held_back": built.blocked,
                "cascade_requests": client.stats.requests,
            }
        )

    check_specs = diff_check_specs(checks.CHECKS, keys["diff"])

    @dg.asset(
        key=keys["diff"],
        deps=[keys["desired_state"]],
        kinds={"cascade", "duckdb", "sql"},
        check_specs=check_specs,
        **common,
    )
    def cascade_diff(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """The values to push (sync.diff): each action's progress and measure's value that differs from
        what this sync last pushed (before → after, and why), plus the measures' new history days.
        The preview is the dry run. A run that would zero many values at once is stopped."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        with warehouse.get(context.partition_key).connect() as con:
            runs.start(con, ws.key, run_id, started_at(context), ws.dry_run)
            with failing_run(con, ws.key, run_id):
                counts = push.build_diff(con, ws, run_id, connection.reassert_hours)
            judged = judge_diff(context, con, ws, run_id, checks.run_all(con, ws), push.unchanged_count(con, ws.key))
            preview = push.preview(con, ws.key)
        return dg.MaterializeResult(
            metadata={
                "workspace": ws.key,
                "dagster/row_count": sum(counts.values()),
                "table": "sync.diff",
                **{f"to_{op}": n for op, n in counts.items()},
                "preview": md(preview),
            },
            check_results=judged,
        )

    @dg.asset(
        key=keys["publish"],
        deps=[keys["diff"]],
        kinds={"cascade"},
        **common,
    )
    def cascade_publish(
        context: dg.AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource, cascade: CascadeResource
    ):
        """This workspace's changed values sent to Cascade, each recorded in sync.pushed_values as soon
        as Cascade took it (a killed run resumes where it stopped); the run's figures go to sync.runs."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        store = warehouse.get(context.partition_key)

        def plan(con) -> Planned:
            ops = push.op_counts(con, ws.key, pending_only=True)
            return Planned(ops, RunCounts(created=0, updated=ops["set_action"] + ops["set_measure"], archived=0))

        def send(client, items: list[push.ValueToPush]) -> Published:
            result = push.publish(store, client, workspace_id, ws, run_id, items)
            return Published(
                RunCounts(created=0, updated=result.actions + result.measures, archived=0),
                f"{result.actions} action and {result.measures} measure values, "
                f"{result.history_days} history days, {result.writes} Cascade writes",
                {
                    "actions_set": result.actions,
                    "measures_set": result.measures,
                    "history_days": result.history_days,
                    "cascade_writes": result.writes,
                },
            )

        dry_run = ws.dry_run or config.dry_run
        return publish_step(
            context, ws, dry_run, store, cascade, plan=plan, prepare=lambda con: push.pending(con, ws), send=send
        )

    return [cascade_desired_state, cascade_diff, cascade_publish]
