"""What every source's Dagster assets share: the extract mode, the choice of what to read (the items a
webhook named, the changes since the last run, or everything), and the staging materializations."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import dagster as dg
import duckdb

from cascade_sync_pipeline.payloads import PayloadProblem, problems_markdown

if TYPE_CHECKING:
    import pandas as pd

READ_PROBLEMS = "read_problems"


class SourceAssetArgs(TypedDict):
    """What all the assets of one source pass to ``dg.AssetSpec`` or ``dg.asset`` (as ``**``)."""

    group_name: str
    owners: list[str]
    partitions_def: dg.PartitionsDefinition


@dataclass(frozen=True)
class SourceAssets:
    """What a source's asset builder returns: its assets, and the keys the Cascade assets build on."""

    assets: list[dg.AssetsDefinition]
    staging: list[dg.AssetKey]  # the staging tables of the shared contract
    field_definitions: list[dg.AssetKey]  # the raw custom field definitions (the write-back needs their ids)


class ExtractConfig(dg.Config):
    """How much to read: `auto` reads only changes unless a reconciliation is due; `items` reads only
    ``item_ids`` (a webhook run: the items its events name), keeping everything else as stored."""

    mode: Literal["auto", "full", "incremental", "items"] = "auto"
    item_ids: list[str] = []


@dataclass(frozen=True)
class Read:
    """What one extract reads: only ``item_ids``, else the changes since ``since``, else (neither) everything."""

    item_ids: list[str] | None = None
    since: Any = None


def choose_read(
    config: ExtractConfig,
    watermark: Any,
    last_full_at: datetime | None,
    full_every_hours: float,
    now: datetime | None = None,
) -> Read:
    """Only the items a webhook named (once a full read is stored to keep them beside); else the changes
    since the watermark, unless a full read is asked for or due."""
    if config.mode == "items" and config.item_ids and last_full_at is not None:
        return Read(item_ids=config.item_ids)
    if config.mode == "full" or watermark is None:
        return Read()
    if config.mode == "incremental":
        return Read(since=watermark)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if last_full_at is None or now - last_full_at >= timedelta(hours=full_every_hours):
        return Read()
    return Read(since=watermark)


def markdown_preview(df: "pd.DataFrame", rows: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(df.head(rows).to_markdown(index=False) if len(df) else "_no rows_")


def staging_results(
    con: duckdb.DuckDBPyConnection, workspace: str, counts: Mapping[str, int], keys: Mapping[str, dg.AssetKey]
):
    """One materialization per staging table of the workspace; work items carry a preview and the
    count per status category and item type."""
    items = con.execute(
        "SELECT item_id, item_type, title, status, status_category, due_at, assignee_ids, cascade_id "
        "FROM staging.work_items WHERE workspace = ? ORDER BY updated_at DESC LIMIT 10",
        [workspace],
    ).df()
    by_category = con.execute(
        "SELECT status_category, item_type, count(*) AS items FROM staging.work_items WHERE workspace = ? "
        "GROUP BY ALL ORDER BY ALL",
        [workspace],
    ).df()
    for table, key in keys.items():
        metadata: dict[str, Any] = {
            "workspace": workspace,
            "dagster/row_count": counts[f"staging.{table}"],
            "table": f"staging.{table}",
        }
        if table == "work_items":
            metadata |= {"preview": markdown_preview(items), "by_status_category": markdown_preview(by_category, 50)}
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def read_problems_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The warning check on a source's raw tasks: items skipped, values left out, parts not read."""
    return dg.AssetCheckSpec(
        READ_PROBLEMS,
        asset=asset_key,
        blocking=False,
        description="Warns when the last extract skipped items (no usable id, not an object), staged values "
        "without an unreadable time, or could not read part of the source; names each item.",
    )


def read_problems_result(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    workspace: str,
    problems: list[PayloadProblem],
    notes: list[str] | None = None,
) -> dg.AssetCheckResult:
    """The check result, with every problem logged as a warning (the first 20) and listed in metadata."""
    notes = notes or []
    for problem in problems[:20]:
        context.log.warning(problem.message)
    if len(problems) > 20:
        context.log.warning(f"workspace '{workspace}': {len(problems) - 20} more payload problems (see the check)")
    for note in notes:
        context.log.warning(note)
    skipped = sum("skipped" in p.consequence for p in problems)
    return dg.AssetCheckResult(
        check_name=READ_PROBLEMS,
        asset_key=asset_key,
        passed=not problems and not notes,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"workspace '{workspace}': {skipped} item(s) skipped, {len(problems) - skipped} value(s) "
            f"left out" + "".join(f"; {n}" for n in notes)
        )
        if problems or notes
        else None,
        metadata={
            "workspace": workspace,
            "items_skipped": skipped,
            "values_left_out": len(problems) - skipped,
            "problems": dg.MetadataValue.md(problems_markdown(problems)),
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes) or "_none_"),
        },
    )
