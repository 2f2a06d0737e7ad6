"""ClickUp assets, one partition per ClickUp workspace: raw extracts, then the staging slice."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
import dagster as dg

from cascade_sync_pipeline.clickup import load
from cascade_sync_pipeline.clickup.extract import extract_items, extract_workspace
from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.resources import ClickUpResource, WarehouseResource
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

GROUP = "clickup"
OWNERS = ["team:data"]
RAW_HIERARCHY = dg.AssetKey(["clickup", "raw_hierarchy"])
RAW_CUSTOM_FIELDS = dg.AssetKey(["clickup", "raw_custom_fields"])
RAW_TASKS = dg.AssetKey(["clickup", "raw_tasks"])
STAGING_KEYS = {table: dg.AssetKey(["clickup", table]) for table in load.STAGING_TABLES}


def build_clickup_assets(config: SyncConfig, partitions_def: dg.PartitionsDefinition) -> SourceAssets:
    workspaces = {ws.key: ws for ws in config.workspaces_of("clickup")}
    common = SourceAssetArgs(group_name=GROUP, owners=OWNERS, partitions_def=partitions_def)

    @dg.multi_asset(
        name="clickup_raw_extract",
        specs=[
            dg.AssetSpec(
                RAW_HIERARCHY,
                kinds={"clickup", "duckdb"},
                **common,
                description="The Workspace, its spaces, folders and lists in scope, as ClickUp sent them "
                "(table raw.clickup_hierarchy).",
            ),
            dg.AssetSpec(
                RAW_CUSTOM_FIELDS,
                kinds={"clickup", "duckdb"},
                **common,
                description="Custom field definitions of every list in scope (raw.clickup_custom_fields); "
                "re-read by full extracts, kept as they were by incremental ones.",
            ),
            dg.AssetSpec(
                RAW_TASKS,
                kinds={"clickup", "duckdb"},
                **common,
                description="Every task in scope — closed, archived and subtasks included — verbatim, "
                "one row per task (raw.clickup_tasks).",
            ),
        ],
        check_specs=[read_problems_spec(RAW_TASKS)],
        partitions_def=partitions_def,
    )
    def clickup_raw_extract(
        context: dg.AssetExecutionContext, config: ExtractConfig, clickup: ClickUpResource, warehouse: WarehouseResource
    ):
        """Read one ClickUp workspace (full, or changes since the last run) and store the payloads verbatim."""
        import pandas as pd

        ws = workspaces[context.partition_key]
        store = warehouse.get(context.partition_key)
        with store.connect() as con:
            watermark, last_full_at = load.extract_state(con, ws.key)
            stored, lists = load.stored_scope(con, ws.key)
        read = choose_read(config, watermark, last_full_at, ws.full_refresh_hours)
        with clickup.client(ws) as client:
            if read.item_ids:  # only what the webhook named; the scope is the one the last full read stored
                scope = None if ws.scope.is_everything else lists
                extract = extract_items(client, ws, read.item_ids, stored=stored, lists=scope)
            else:
                extract = extract_workspace(client, ws, since_ms=read.since)
            stats = client.stats
        with store.connect() as con:
            counts = load.write_raw(con, ws.key, extract)
        context.log.info(
            f"workspace '{ws.key}': {extract.mode} extract, {len(extract.tasks)} tasks read "
            f"in {stats.requests} requests"
        )

        run = {"workspace": ws.key, "mode": extract.mode, **stats.as_metadata()}
        yield dg.MaterializeResult(
            asset_key=RAW_HIERARCHY,
            metadata={
                **run,
                "dagster/row_count": counts["raw.clickup_hierarchy"],
                "lists_in_scope": len(extract.scoped_list_ids),
                "hierarchy_read": extract.hierarchy is not None,
            },
        )
        # Always reported, so steps that read the definitions are not skipped on incremental runs.
        yield dg.MaterializeResult(
            asset_key=RAW_CUSTOM_FIELDS,
            metadata={
                **run,
                "dagster/row_count": counts["raw.clickup_custom_fields"],
                "refreshed": extract.custom_fields is not None,
            },
        )
        preview = pd.DataFrame(
            [
                {
                    "id": t["id"],
                    "name": t.get("name"),
                    "status": _name(t.get("status"), "status"),
                    "list": _name(t.get("list"), "name"),
                    "archived": t.get("archived"),
                }
                for t in extract.tasks[:10]
            ]
        )
        yield dg.MaterializeResult(
            asset_key=RAW_TASKS,
            metadata={
                **run,
                "dagster/row_count": counts["raw.clickup_tasks"],
                "tasks_read": len(extract.tasks),
                "since_ms": read.since if read.since is not None else "full",
                "preview": markdown_preview(preview),
                "payload_problems": len(extract.problems),
                "kept_newer_stored": extract.written.get("kept_newer", 0),
                "deleted": extract.written.get("deleted", 0),
            },
        )
        yield read_problems_result(context, RAW_TASKS, ws.key, extract.problems)

    @dg.multi_asset(
        name="clickup_staging",
        specs=[
            dg.AssetSpec(
                STAGING_KEYS["work_items"],
                deps=[RAW_TASKS, RAW_HIERARCHY],
                kinds={"duckdb", "sql"},
                **common,
                description="This workspace's rows of staging.work_items: one typed row per task.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["custom_field_values"],
                deps=[RAW_TASKS],
                kinds={"duckdb", "sql"},
                **common,
                description="This workspace's rows of staging.custom_field_values, as a person reads them.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["containers"],
                deps=[RAW_HIERARCHY],
                kinds={"duckdb", "sql"},
                **common,
                description="This workspace's rows of staging.containers: spaces, folders, lists.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["users"],
                deps=[RAW_HIERARCHY],
                kinds={"duckdb", "sql"},
                **common,
                description="This workspace's rows of staging.users: the Workspace's members.",
            ),
            dg.AssetSpec(
                STAGING_KEYS["checklist_items"],
                deps=[RAW_TASKS],
                kinds={"duckdb", "sql"},
                **common,
                description="This workspace's rows of staging.checklist_items: the items of task checklists.",
            ),
        ],
        partitions_def=partitions_def,
    )
    def clickup_staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Normalize the raw ClickUp payloads into the shared staging tables with DuckDB SQL."""
        ws = workspaces[context.partition_key]
        with warehouse.get(context.partition_key).connect() as con:
            counts = load.build_staging(con, ws)
            yield from staging_results(con, ws.key, counts, STAGING_KEYS)

    return SourceAssets(
        assets=[clickup_raw_extract, clickup_staging],
        staging=list(STAGING_KEYS.values()),
        field_definitions=[RAW_CUSTOM_FIELDS],
    )


def _name(value, key: str):
    return value.get(key) if isinstance(value, dict) else None
