"""Wrike assets, one partition per Wrike workspace: raw extracts, then the staging slice."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
from typing import TYPE_CHECKING

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.resources import WarehouseResource, WrikeResource
from cascade_sync_pipeline.warehouse.assets import (
    ExtractConfig,
    SourceAssetArgs,
    SourceAssets,
    choose_read,
    markdown_preview,
    read_problems_result,
    read_problems_spec,
    staging_results,
)
from cascade_sync_pipeline.wrike import load
from cascade_sync_pipeline.wrike.extract import REFERENCE_LISTS, extract_account, extract_items

if TYPE_CHECKING:
    import pandas as pd

GROUP = "wrike"
OWNERS = ["team:data"]
RAW_HIERARCHY = dg.AssetKey(["wrike", "raw_hierarchy"])
RAW_TASKS = dg.AssetKey(["wrike", "raw_tasks"])
RAW_REFERENCE = {name: dg.AssetKey(["wrike", f"raw_{name}"]) for name in REFERENCE_LISTS}
STAGING_KEYS = {table: dg.AssetKey(["wrike", table]) for table in load.STAGING_TABLES}
_REFERENCE_DOCS = {
    "custom_fields": "Custom field definitions (id, title, type, options) as Wrike sent them (raw.wrike_custom_fields).",
    "workflows": "Workflows with their custom statuses and status groups (raw.wrike_workflows).",
    "contacts": "Contacts: people and groups, with names and emails (raw.wrike_contacts).",
}
_REFRESH_NOTE = (
    " Read by every full extract; an incremental one re-reads it only when a changed item points at "
    "an id it lacks, and otherwise records `refreshed: false` (the stored copy is kept)."
)


def _task_preview(tasks: list[dict]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "id": t["id"],
                "title": t.get("title"),
                "status": t.get("status"),
                "type": t["dates"].get("type") if isinstance(t.get("dates"), dict) else None,
                "scope": t.get("scope"),
                "updated": t.get("updatedDate"),
            }
            for t in tasks[:10]
        ]
    )


def build_wrike_assets(config: SyncConfig, partitions_def: dg.PartitionsDefinition) -> SourceAssets:
    workspaces = {ws.key: ws for ws in config.workspaces_of("wrike")}
    common = SourceAssetArgs(group_name=GROUP, owners=OWNERS, partitions_def=partitions_def)
    raw_kinds = {"wrike", "duckdb"}

    @dg.multi_asset(
        name="wrike_raw_extract",
        specs=[
            dg.AssetSpec(
                RAW_HIERARCHY,
                kinds=raw_kinds,
                **common,
                description="Spaces, plain folders and projects (folders with project owners, dates and "
                "status) as Wrike sent them, re-read every run (raw.wrike_hierarchy).",
            ),
            *[
                dg.AssetSpec(key, kinds=raw_kinds, **common, description=_REFERENCE_DOCS[name] + _REFRESH_NOTE)
                for name, key in RAW_REFERENCE.items()
            ],
            dg.AssetSpec(
                RAW_TASKS,
                kinds=raw_kinds,
                **common,
                description="Every task of every space — subtasks, milestones and Recycle Bin tasks "
                "included — verbatim, one row per task (raw.wrike_tasks).",
            ),
        ],
        check_specs=[read_problems_spec(RAW_TASKS)],
        partitions_def=partitions_def,
    )
    def wrike_raw_extract(
        context: dg.AssetExecutionContext, config: ExtractConfig, wrike: WrikeResource, warehouse: WarehouseResource
    ):
        """Read one Wrike account (full, or tasks changed since the last run) and store the payloads verbatim."""
        ws = workspaces[context.partition_key]
        store = warehouse.get(context.partition_key)
        with store.connect() as con:
            watermark, last_full_at = load.extract_state(con, ws.key)
            known = load.known_references(con, ws.key)
            folders = load.stored_folders(con, ws.key)
        read = choose_read(config, watermark, last_full_at, ws.full_refresh_hours)
        with wrike.client(ws) as client:
            if read.item_ids:  # only what the webhook named; the scope is the one the last full read stored
                extract = extract_items(
                    client, ws, read.item_ids, folders=folders, everything=ws.scope.is_everything, known=known
                )
            else:
                extract = extract_account(client, ws, since=read.since, known=known)
            stats = client.stats
        with store.connect() as con:
            counts = load.write_raw(con, ws.key, extract)
        context.log.info(
            f"workspace '{ws.key}': {extract.mode} extract, {len(extract.tasks)} tasks and "
            f"{len(extract.projects)} projects read in {stats.requests} requests"
        )

        run = {"workspace": ws.key, "mode": extract.mode, **stats.as_metadata()}
        yield dg.MaterializeResult(
            asset_key=RAW_HIERARCHY,
            metadata={
                **run,
                "dagster/row_count": counts["raw.wrike_hierarchy"],
                "spaces": len(extract.spaces or []),
                "projects": len(extract.projects),
                "folders": len(extract.folders or []) - len(extract.projects),
                "hierarchy_read": extract.spaces is not None,
            },
        )
        for name, key in RAW_REFERENCE.items():
            refreshed = getattr(extract, name) is not None
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={**run, "dagster/row_count": counts[load.REFERENCE_TABLES[name][0]], "refreshed": refreshed},
            )
        yield dg.MaterializeResult(
            asset_key=RAW_TASKS,
            metadata={
                **run,
                "dagster/row_count": counts["raw.wrike_tasks"],
                "tasks_read": len(extract.tasks),
                "updated_since": read.since or "full",
                "preview": markdown_preview(_task_preview(extract.tasks)),
                "payload_problems": len(extract.problems),
                "kept_newer_stored": extract.written.get("kept_newer", 0),
                "recycle_bin_listed": not any("Recycle Bin" in n for n in extract.notes),
            },
        )
        yield read_problems_result(context, RAW_TASKS, ws.key, extract.problems, extract.notes)

    @dg.multi_asset(
        name="wrike_staging",
        specs=[
            dg.AssetSpec(
                STAGING_KEYS["work_items"],
                kinds={"duckdb", "sql"},
                **common,
                deps=[RAW_TASKS, RAW_HIERARCHY, RAW_REFERENCE["workflows"], RAW_REFERENCE["custom_fields"]],
                description="This workspace's rows of staging.work_items: one typed row per project, "
                "task, subtask and milestone, status category from the workflow group.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["custom_field_values"],
                kinds={"duckdb", "sql"},
                **common,
                deps=[RAW_TASKS, RAW_HIERARCHY, RAW_REFERENCE["custom_fields"], RAW_REFERENCE["contacts"]],
                description="This workspace's rows of staging.custom_field_values, as a person reads "
                "them (contact names, plain numbers).",
            ),
            dg.AssetSpec(
                STAGING_KEYS["containers"],
                kinds={"duckdb", "sql"},
                deps=[RAW_HIERARCHY],
                **common,
                description="This workspace's rows of staging.containers: spaces, folders and projects.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["users"],
                kinds={"duckdb", "sql"},
                deps=[RAW_REFERENCE["contacts"]],
                **common,
                description="This workspace's rows of staging.users: the account's people with emails.",
            ),
        ],
        partitions_def=partitions_def,
    )
    def wrike_staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Normalize the raw Wrike payloads into the shared staging tables with DuckDB SQL."""
        ws = workspaces[context.partition_key]
        with warehouse.get(context.partition_key).connect() as con:
            counts = load.build_staging(con, ws)
            yield from staging_results(con, ws.key, counts, STAGING_KEYS)

    return SourceAssets(
        assets=[wrike_raw_extract, wrike_staging],
        staging=list(STAGING_KEYS.values()),
        field_definitions=[RAW_REFERENCE["custom_fields"]],
    )
