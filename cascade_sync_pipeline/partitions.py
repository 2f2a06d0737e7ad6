"""One partition per configured workspace, keyed by its `key`, one definition per source.

A ClickUp asset only lists ClickUp workspaces: a Wrike workspace's key would mean nothing there.
Every asset of a source's chain (raw → staging → Cascade) shares its source's definition, so a
backfill of one key re-syncs exactly that workspace.
"""

from __future__ import annotations

import dagster as dg

from cascade_sync_pipeline.config import SyncConfig


def workspace_partitions(config: SyncConfig, source: str) -> dg.StaticPartitionsDefinition | None:
    keys = [ws.key for ws in config.workspaces_of(source)]
    return dg.StaticPartitionsDefinition(keys) if keys else None
