"""Cascade assets of one source, in the source's workspace partitions: desired state, diff (with
blocking checks), publish and write-back. Thin Dagster code over the plain modules beside it."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
import contextlib
from datetime import datetime, timezone
from typing import Sequence

import dagster as dg
import pandas as pd

from cascade_sync_pipeline.sync import runs, writeback
from cascade_sync_pipeline.sync.goals import checks, desired, diff, publish
from cascade_sync_pipeline.config import SyncConfig

OWNERS = ["team:data"]
STAGES = ("desired_state", "diff", "publish", "write_back")
ID_FIELDS = {"clickup": writeback.ClickUpIdField, "wrike": writeback.WrikeIdField}


def cascade_keys(source: str) -> dict[str, dg.AssetKey]:
    return {stage: dg.AssetKey([source, f"cascade_{stage}"]) for stage in STAGES}


class PublishConfig(dg.Config):
    """`dry_run` stops at the diff for this run, as a workspace's `dry_run: true` does for every run."""

    dry_run: bool = False


def _md(df: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(df.to_markdown(index=False) if len(df) else "_nothing_")


def _started_at(context) -> datetime | None:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is None or record.start_time is None:
        return None
    return datetime.fromtimestamp(record.start_time, timezone.utc).replace(tzinfo=None)


@contextlib.contextmanager
def _failing_run(con, workspace: str, run_id: str, **values):
    """Any error marks the workspace's sync.runs row failed before it propagates."""
    try:
        yield
    except BaseException as err:
        runs.update(con, workspace, run_id, status="failed", finished_at=runs.now(), message=str(err)[:4000],
                    **values)
        raise


def _source_requests(context, source: str) -> int:
    """HTTP calls this run made to the source, as its extract steps reported them."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    per_step: dict[str, int] = {}
    for record in records:
        entry = record.event_log_entry
        materialization = entry.asset_materialization
        requests = materialization.metadata.get("requests") if materialization else None
        if requests is not None and materialization.asset_key.path[0] == source:
            per_step[entry.step_key] = max(per_step.get(entry.step_key, 0), int(requests.value))
    return sum(per_step.values())


def _check_result(outcome: checks.Outcome, workspace: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name, passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        description=outcome.message(workspace),
        metadata={"workspace": workspace, "problems": len(outcome.problems),
                  "items": dg.MetadataValue.md("\n".join(f"- {p}" for p in outcome.problems[:50]) or "_none_")})


def build_cascade_assets(config: SyncConfig, source: str, partitions_def: dg.PartitionsDefinition,
                         upstream: Sequence[dg.AssetKey], field_definitions: Sequence[dg.AssetKey] = ()) -> list:
    """The Cascade chain of ``source``; ``upstream`` are the source's staging assets and
    ``field_definitions`` its raw custom field definitions (the write-back looks its field up there)."""
    workspaces = {ws.key: ws for ws in config.workspaces_of(source)}
    keys = cascade_keys(source)
    common = dict(group_name=source, owners=OWNERS, partitions_def=partitions_def)

    @dg.asset(key=keys["desired_state"], deps=list(upstream), kinds={"cascade", "duckdb", "sql"},
              required_resource_keys={"warehouse", "cascade"}, **common)
    def cascade_desired_state(context: dg.AssetExecutionContext):
        """What Cascade should hold for this workspace (sync.desired_state): one row per source item,
        its Cascade type, parent, status, progress, dates, owners and custom fields, from the
        staging tables and the workspace's mapping rules (names resolved to Cascade IDs)."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        with context.resources.cascade.client(ws.key) as client, \
                context.resources.warehouse.get().connect() as con:
            runs.start(con, ws.key, run_id, _started_at(context), ws.dry_run)
            with _failing_run(con, ws.key, run_id):
                count = desired.build_desired_state(con, client, ws)
            summary = desired.summary(con, ws.key)
        return dg.MaterializeResult(metadata={
            "workspace": ws.key, "dagster/row_count": count, "table": "sync.desired_state",
            "by_type_and_status": _md(summary), "cascade_requests": client.stats.requests})

    check_specs = [dg.AssetCheckSpec(fn.__name__, asset=keys["diff"], blocking=True,
                                     description=(fn.__doc__ or "").strip() or None) for fn in checks.CHECKS]

    @dg.asset(key=keys["diff"], deps=[keys["desired_state"]], kinds={"cascade", "duckdb", "sql"},
              check_specs=check_specs, required_resource_keys={"warehouse", "cascade"}, **common)
    def cascade_diff(context: dg.AssetExecutionContext):
        """The operations that make Cascade match the desired state (sync.diff): create, update (only
        the fields that differ, before → after), archive / Won't Do for items gone from the source,
        unarchive. The preview below is the dry run: read it before anything is written. Its blocking
        checks stop the publish on problems a person must fix, naming the items."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        with context.resources.cascade.client(ws.key) as client, \
                context.resources.warehouse.get().connect() as con:
            runs.start(con, ws.key, run_id, _started_at(context), ws.dry_run)
            with _failing_run(con, ws.key, run_id):
                held = diff.fetch_current(con, client, ws)
                counts = diff.build_diff(con, ws, run_id)
            outcomes = checks.run_all(con, ws)
            blocked = [o.message(ws.key) for o in outcomes if o.blocking and not o.passed]
            items_read = con.execute("SELECT count(*) FROM staging.work_items WHERE workspace = ?",
                                     [ws.key]).fetchall()[0][0]
            runs.update(con, ws.key, run_id, items_read=items_read, unchanged=diff.unchanged_count(con, ws.key),
                        **({"status": "blocked", "finished_at": runs.now(), "message": " | ".join(blocked)}
                           if blocked else {}))
            preview = diff.preview(con, ws.key)
            rows = con.execute("SELECT count(*) FROM sync.diff WHERE workspace = ?", [ws.key]).fetchall()[0][0]
        for message in blocked:
            context.log.error(message)
        return dg.MaterializeResult(
            metadata={"workspace": ws.key, "dagster/row_count": rows, "table": "sync.diff",
                      **{f"items_to_{op}": n for op, n in counts.items()}, "cascade_items_held": held,
                      "preview": _md(preview), "cascade_requests": client.stats.requests},
            check_results=[_check_result(o, ws.key) for o in outcomes])

    @dg.asset(key=keys["publish"], deps=[keys["diff"]], kinds={"cascade"},
              required_resource_keys={"warehouse", "cascade"}, **common)
    def cascade_publish(context: dg.AssetExecutionContext, config: PublishConfig):
        """This workspace's diff applied to Cascade, item by item, each result recorded in sync.id_map at
        once (a killed run resumes where it stopped); the run's figures go to sync.runs."""
        ws = workspaces[context.partition_key]
        dry_run = ws.dry_run or config.dry_run
        run_id = context.run.run_id
        with context.resources.warehouse.get().connect() as con:
            runs.start(con, ws.key, run_id, _started_at(context), dry_run)  # a re-executed step
            planned = diff.op_counts(con, ws.key, pending_only=True)
            if dry_run:
                runs.update(con, ws.key, run_id, status="dry_run", dry_run=True, finished_at=runs.now(),
                            created=planned["create"], updated=planned["update"] + planned["unarchive"],
                            archived=planned["archive"] + planned["wont_do"] + planned["remove"], cascade_writes=0)
                context.log.info(f"workspace '{ws.key}': dry run, nothing written to Cascade")
                return dg.MaterializeResult(metadata={"workspace": ws.key, "dry_run": True,
                                                      **{f"planned_{op}": n for op, n in planned.items()}})
            with context.resources.cascade.client(ws.key) as client:
                with _failing_run(con, ws.key, run_id):
                    try:
                        result = publish.publish(con, client, ws)
                    finally:
                        runs.update(con, ws.key, run_id, cascade_writes=client.writes)
            runs.update(con, ws.key, run_id, dry_run=False, created=result.created, updated=result.updated,
                        archived=result.archived)
        context.log.info(f"workspace '{ws.key}': {result.created} created, {result.updated} updated, "
                         f"{result.archived} archived, {result.writes} Cascade writes")
        return dg.MaterializeResult(metadata={
            "workspace": ws.key, "dry_run": False, "created": result.created, "updated": result.updated,
            "archived": result.archived, "linked": result.linked, "recovered_creates": result.recovered,
            "cascade_writes": result.writes, "cascade_requests": client.stats.requests})

    @dg.asset(key=keys["write_back"], deps=[keys["publish"], *field_definitions], kinds={source, "cascade"},
              required_resource_keys={"warehouse", source}, **common)
    def cascade_write_back(context: dg.AssetExecutionContext):
        """Each new Cascade ID written into the source item's cross-system-ID custom field (the
        workspace's `cascade_id_field`, "Cascade ID" by default), once: never when the source holds
        it already or it was written before."""
        ws = workspaces[context.partition_key]
        run_id = context.run.run_id
        with context.resources.warehouse.get().connect() as con:
            runs.start(con, ws.key, run_id, _started_at(context), ws.dry_run)
            run = runs.get(con, ws.key, run_id)
            if run["dry_run"]:
                return dg.MaterializeResult(metadata={"workspace": ws.key, "dry_run": True, "written": 0})
            with getattr(context.resources, source).client(ws) as client, _failing_run(con, ws.key, run_id):
                try:
                    result = writeback.write_back(con, ws, ID_FIELDS[source](client, ws))
                finally:
                    requests = _source_requests(context, source) + client.stats.requests
                    runs.update(con, ws.key, run_id, source_requests=requests)
            runs.update(con, ws.key, run_id, status="succeeded", finished_at=runs.now())
        return dg.MaterializeResult(metadata={
            "workspace": ws.key, "written": result.written, "already_held": result.already_held,
            "source_write_requests": client.stats.requests})

    return [cascade_desired_state, cascade_diff, cascade_publish, cascade_write_back]
