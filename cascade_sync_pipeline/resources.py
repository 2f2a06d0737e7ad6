"""Dagster resources: the warehouse file and the API clients, configured from the sync config.

Source tokens are read from the env var each workspace names, when a run needs them, so one
workspace with a missing token fails alone instead of failing every workspace's runs.
"""

from __future__ import annotations

import dagster as dg

from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.config import ClickUpWorkspace, SyncConfig, secret_from_env
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline.warehouse.store import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file holding the raw, staging and sync schemas."""

    path: str

    def get(self) -> Warehouse:
        return Warehouse(self.path)


class ClickUpResource(dg.ConfigurableResource):
    """Opens ClickUp API clients for configured workspaces."""

    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    def client(self, ws: ClickUpWorkspace) -> ClickUpClient:
        token = secret_from_env(ws.token_env, owner=f"workspace '{ws.key}' (token_env)",
                                what="ClickUp personal API token (pk_...)")
        return ClickUpClient(ws.base_url, token, workspace=ws.key, token_env=ws.token_env, team_id=ws.team_id,
                             timeout=self.timeout_s, retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s))


def build_resources(config: SyncConfig) -> dict:
    return {
        "warehouse": WarehouseResource(path=config.duckdb_path),
        "clickup": ClickUpResource(),
    }
