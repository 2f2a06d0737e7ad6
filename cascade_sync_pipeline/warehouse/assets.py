"""What every source's Dagster assets share: the extract mode, the choice between a full and an
incremental read, and the staging materializations with their previews."""

# No `from __future__ import annotations`: Dagster resolves the config annotation at definition time.
from datetime import datetime, timedelta, timezone
from typing import Literal, Mapping

import dagster as dg
import duckdb
import pandas as pd


class ExtractConfig(dg.Config):
    """How much to read: `auto` reads only changes unless a reconciliation is due."""

    mode: Literal["auto", "full", "incremental"] = "auto"


def choose_since(mode: str, watermark, last_full_at: datetime | None, full_every_hours: float,
                 now: datetime | None = None):
    """The watermark to read changes from, or None for a full read."""
    if mode == "full" or watermark is None:
        return None
    if mode == "incremental":
        return watermark
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    if last_full_at is None or now - last_full_at >= timedelta(hours=full_every_hours):
        return None
    return watermark


def markdown_preview(df: pd.DataFrame, rows: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(df.head(rows).to_markdown(index=False) if len(df) else "_no rows_")


def staging_results(con: duckdb.DuckDBPyConnection, workspace: str, counts: Mapping[str, int],
                    keys: Mapping[str, dg.AssetKey]):
    """One materialization per staging table of the workspace; work items carry a preview and the
    count per status category and item type."""
    items = con.execute(
        "SELECT item_id, item_type, title, status, status_category, due_at, assignee_ids, cascade_id "
        "FROM staging.work_items WHERE workspace = ? ORDER BY updated_at DESC LIMIT 10", [workspace]).df()
    by_category = con.execute(
        "SELECT status_category, item_type, count(*) AS items FROM staging.work_items WHERE workspace = ? "
        "GROUP BY ALL ORDER BY ALL", [workspace]).df()
    for table, key in keys.items():
        metadata = {"workspace": workspace, "dagster/row_count": counts[f"staging.{table}"],
                    "table": f"staging.{table}"}
        if table == "work_items":
            metadata |= {"preview": markdown_preview(items), "by_status_category": markdown_preview(by_category, 50)}
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
