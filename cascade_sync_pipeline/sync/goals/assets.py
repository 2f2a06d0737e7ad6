"""The create-and-maintain engine's assets of one source on Cascade's classic API, in its workspace
partitions: desired state, diff (with blocking checks) and publish. Thin Dagster code over the
plain modules beside it."""

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
from cascade_sync_pipeline.sync.goals import checks, desired, diff, publish
from cascade_sync_pipeline.sync.publish_step import Planned, Published, RunCounts, publish_step


def build_goal_assets(
    config: SyncConfig, source: str, partitions_def: dg.PartitionsDefinition, upstream: Sequence[dg.AssetKey]
) -> list:
    """Desired state, diff and publish of ``source`` on the create-and-maintain engine."""
    workspaces = {ws.key: ws for ws in config.workspaces_of(source)}
    keys = cascade_keys(source)
    common = SourceAssetArgs(group_name=source, owners=OWNERS, partitions_def=partitions_def)

    users = list(config.cascade.users) if config.cascade else []

    @dg.asset(
        key=keys["desired_state"],
        deps=list(upstream),
        kinds={"cascade", "duckdb", "sql"},
        **common,
    )
    def cascade_desired_state(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """The goals and tasks Cascade should hold for this workspace (sync.desired_state): which source
        items and containers become goals or tasks, their parent goal or focus areas, title (split
        into action and details), status, progress and tracking type, dates, owner role and weight,
        from the staging tables, the workspace's mapping rules and the configured Cascade users."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        with warehouse.get(context.partition_key).connect() as con:
            runs.start(con, ws.key, run_id, started_at(context), ws.dry_run)
            with failing_run(con, ws.key, run_id):
                count = desired.build_desired_state(con, ws, users)
            summary = desired.summary(con, ws.key)
            cut = desired.title_warnings(con, ws.key)
        for line in cut[:20]:
            context.log.warning(f"workspace '{ws.key}': title cut to fit Cascade: {line}")
        return dg.MaterializeResult(
            metadata={
                "workspace": ws.key,
                "dagster/row_count": count,
                "table": "sync.desired_state",
                "by_kind_and_outcome": md(summary),
                "titles_cut": len(cut),
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
    def cascade_diff(context: dg.AssetExecutionContext, warehouse: WarehouseResource, cascade: CascadeResource):
        """The operations that make Cascade match the desired state (sync.diff), after reading back by
        id the goals and tasks Cascade holds: create, link (a Cascade ID a person stored), update (only
        the fields that differ, before → after), archive (goals gone from the source), complete or
        delete (tasks gone). The preview below is the dry run: read it before anything is written. Its
        blocking checks stop the publish on problems a person must fix, naming the items."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        store = warehouse.get(context.partition_key)
        with store.connect() as con:
            runs.start(con, ws.key, run_id, started_at(context), ws.dry_run)
            with failing_run(con, ws.key, run_id):
                ids = diff.wanted(con, ws)
        # Cascade is read without the warehouse open, so other workspaces' steps are not held up.
        with cascade.client(ws.key) as client, failing_run(store, ws.key, run_id):
            current = diff.read_current(client, ids)
        with store.connect() as con:
            with failing_run(con, ws.key, run_id):
                held = diff.store_current(con, ws, current)
                counts = diff.build_diff(con, ws, run_id)
            judged = judge_diff(context, con, ws, run_id, checks.run_all(con, ws), diff.unchanged_count(con, ws.key))
            preview = diff.preview(con, ws.key)
            rows = con.execute("SELECT count(*) FROM sync.diff WHERE workspace = ?", [ws.key]).fetchall()[0][0]
        return dg.MaterializeResult(
            metadata={
                "workspace": ws.key,
                "dagster/row_count": rows,
                "table": "sync.diff",
                **{f"items_to_{op}": n for op, n in counts.items()},
                "cascade_items_held": held,
                "preview": md(preview),
                "cascade_requests": client.stats.requests,
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
        """This workspace's diff applied to Cascade's classic API, goal by goal and task by task, each
        create recorded in sync.id_map at once (a killed run resumes where it stopped and never creates
        a goal or task twice); the warehouse is let go every few seconds so other workspaces' steps
        get their turn. The run's figures go to sync.runs."""
        ws = workspaces[context.partition_key]
        store = warehouse.get(context.partition_key)

        def plan(con) -> Planned:
            ops = diff.op_counts(con, ws.key, pending_only=True)
            archived = sum(ops[op] for op in diff.RETIRE_OPS)
            return Planned(ops, RunCounts(created=ops["create"], updated=ops["update"], archived=archived))

        def send(client, _: None) -> Published:
            result = publish.publish(store, client, ws)
            return Published(
                RunCounts(created=result.created, updated=result.updated, archived=result.archived),
                f"{result.created} created, {result.updated} updated, {result.archived} archived, "
                f"{result.writes} Cascade writes",
                {
                    "created": result.created,
                    "updated": result.updated,
                    "archived": result.archived,
                    "linked": result.linked,
                    "recovered_creates": result.recovered,
                    "cascade_writes": result.writes,
                },
            )

        dry_run = ws.dry_run or config.dry_run
        return publish_step(context, ws, dry_run, store, cascade, plan=plan, prepare=lambda con: None, send=send)

    return [cascade_desired_state, cascade_diff, cascade_publish]
