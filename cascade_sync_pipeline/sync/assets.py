"""The Cascade chain of one source, in the source's workspace partitions: desired state, diff (with
checks), publish and write-back, on the engine of the configured Cascade API. Thin Dagster code
over the plain modules of ``sync/``; what both engines share lives here."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.sync import runs, writeback
from cascade_sync_pipeline.sync.checks import Outcome
from cascade_sync_pipeline.warehouse.assets import SourceAssetArgs, SourceAssets
from cascade_sync_pipeline.warehouse.store import Warehouse

if TYPE_CHECKING:
    import pandas as pd

OWNERS = ["team:data"]
STAGES = ("desired_state", "diff", "publish", "write_back")


def cascade_keys(source: str) -> dict[str, dg.AssetKey]:
    return {stage: dg.AssetKey([source, f"cascade_{stage}"]) for stage in STAGES}


class PublishConfig(dg.Config):
    """`dry_run` stops at the diff for this run, as a workspace's `dry_run: true` does for every run."""

    dry_run: bool = False


def md(df: "pd.DataFrame") -> dg.MetadataValue:
    return dg.MetadataValue.md(df.to_markdown(index=False) if len(df) else "_nothing_")


def started_at(context) -> datetime | None:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is None or record.start_time is None:
        return None
    return datetime.fromtimestamp(record.start_time, UTC).replace(tzinfo=None)


@contextlib.contextmanager
def failing_run(con, workspace: str, run_id: str, **values):
    """Any error marks the workspace's sync.runs row failed before it propagates. ``con`` is an open
    connection, or the Warehouse to open one from (for steps that hold no lock while calling APIs)."""
    try:
        yield
    except BaseException as err:
        fields = dict(status="failed", finished_at=runs.now(), message=str(err)[:4000], **values)
        if isinstance(con, Warehouse):
            with con.connect() as opened:
                runs.update(opened, workspace, run_id, **fields)
        else:
            runs.update(con, workspace, run_id, **fields)
        raise


def diff_check_specs(functions, diff_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """One check on the diff per check function, named after it and described by its docstring; each
    may block the publish (whether it does is decided per result: warnings never do)."""
    return [
        dg.AssetCheckSpec(fn.__name__, asset=diff_key, blocking=True, description=(fn.__doc__ or "").strip() or None)
        for fn in functions
    ]


def judge_diff(context, con, ws, run_id: str, outcomes: list[Outcome], unchanged: int) -> list[dg.AssetCheckResult]:
    """Record what the diff's checks found in the run's sync.runs row (blocked, with the reasons, when a
    blocking check failed), log each reason, and return the asset check results."""
    blocked = [o.message(ws.key) for o in outcomes if o.blocking and not o.passed]
    items_read = con.execute("SELECT count(*) FROM staging.work_items WHERE workspace = ?", [ws.key]).fetchall()[0][0]
    runs.update(
        con,
        ws.key,
        run_id,
        items_read=items_read,
        unchanged=unchanged,
        **({"status": "blocked", "finished_at": runs.now(), "message": " | ".join(blocked)} if blocked else {}),
    )
    for message in blocked:
        context.log.error(message)
    return [check_result(o, ws.key) for o in outcomes]


def source_requests(context, source: str) -> int:
    """HTTP calls this run made to the source, as its extract steps reported them."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    per_step: dict[str, int] = {}
    for record in records:
        entry = record.event_log_entry
        materialization = entry.asset_materialization
        requests = materialization.metadata.get("requests") if materialization else None
        if requests is not None and materialization.asset_key.path[0] == source:
            per_step[entry.step_key] = max(per_step.get(entry.step_key, 0), int(requests.value))
    return sum(per_step.values())


def check_result(outcome: Outcome, workspace: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        description=outcome.message(workspace),
        metadata={
            "workspace": workspace,
            "problems": len(outcome.problems),
            "items": dg.MetadataValue.md("\n".join(f"- {p}" for p in outcome.problems[:50]) or "_none_"),
        },
    )


def build_write_back_asset(
    config: SyncConfig, source: str, partitions_def: dg.PartitionsDefinition, field_definitions: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    workspaces = {ws.key: ws for ws in config.workspaces_of(source)}
    keys = cascade_keys(source)
    common = SourceAssetArgs(group_name=source, owners=OWNERS, partitions_def=partitions_def)

    @dg.asset(
        key=keys["write_back"],
        deps=[keys["publish"], *field_definitions],
        kinds={source, "cascade"},
        required_resource_keys={"warehouse", source},
        **common,
    )
    def cascade_write_back(context: dg.AssetExecutionContext):
        """Each new Cascade ID written into the source item's cross-system-ID custom field (the
        workspace's `cascade_id_field`, "Cascade ID" by default), once: never when the source holds
        it already or it was written before."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        warehouse = context.resources.warehouse.get(context.partition_key)
        with getattr(context.resources, source).client(ws) as client:
            target = writeback.ID_FIELDS[source](client, ws)
            with warehouse.connect() as con:
                runs.start(con, ws.key, run_id, started_at(context), ws.dry_run)
                run = runs.get(con, ws.key, run_id)
                assert run is not None  # runs.start has just opened it
                if run["dry_run"]:
                    return dg.MaterializeResult(metadata={"workspace": ws.key, "dry_run": True, "written": 0})
                with failing_run(con, ws.key, run_id):
                    planned = writeback.plan(con, ws, target)
            with failing_run(warehouse, ws.key, run_id):
                try:
                    result = writeback.write_back(warehouse, ws, target, planned)
                finally:
                    with warehouse.connect() as con:
                        runs.update(
                            con,
                            ws.key,
                            run_id,
                            source_requests=source_requests(context, source) + client.stats.requests,
                        )
        with warehouse.connect() as con:
            runs.update(con, ws.key, run_id, status="succeeded", finished_at=runs.now())
        return dg.MaterializeResult(
            metadata={
                "workspace": ws.key,
                "written": result.written,
                "already_held": result.already_held,
                "source_write_requests": client.stats.requests,
            }
        )

    return cascade_write_back


def build_cascade_assets(
    config: SyncConfig, source: str, partitions_def: dg.PartitionsDefinition, source_assets: SourceAssets
) -> list[dg.AssetsDefinition]:
    """The Cascade chain of ``source``, built on its staging assets (and, for the write-back, its raw
    custom field definitions, where the Cascade ID field is looked up)."""
    if config.cascade is None:
        return []
    if config.cascade.api == "integrations":
        from cascade_sync_pipeline.sync.linking.assets import build_link_assets as build
    else:
        from cascade_sync_pipeline.sync.goals.assets import build_goal_assets as build
    return [
        *build(config, source, partitions_def, source_assets.staging),
        build_write_back_asset(config, source, partitions_def, source_assets.field_definitions),
    ]
