"""Dagster resources: the warehouse file and the API clients, configured from the sync config.

Source tokens are read from the env var each workspace names, when a run needs them, so one
workspace with a missing token fails alone instead of failing every workspace's runs.
"""

from __future__ import annotations

import dagster as dg

from cascade_sync_pipeline.cascade.client import CascadeClient
from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.config import CascadeConnection, ClickUpWorkspace, SyncConfig, WrikeWorkspace
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.client import WrikeClient


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
        return ClickUpClient.for_workspace(ws, timeout=self.timeout_s,
                                           retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s))


class WrikeResource(dg.ConfigurableResource):
    """Opens Wrike API clients: the permanent token from the workspace's ``token_env``, or its OAuth
    session (token store refreshed and rotated during the run), read when a run needs it."""

    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    def client(self, ws: WrikeWorkspace) -> WrikeClient:
        return WrikeClient.from_workspace(ws, timeout=self.timeout_s,
                                          retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s))


class CascadeResource(dg.ConfigurableResource):
    """The Cascade API (see cascade/openapi.yaml). The token is read from ``token_env`` when a step
    calls Cascade, like the source tokens: a missing token fails that step with the variable's name
    instead of failing the config of every run (extract-only runs and schedule ticks included)."""

    base_url: str
    token_env: str = "CASCADE_TOKEN"
    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    def client(self, workspace: str = "cascade") -> CascadeClient:
        return CascadeClient.from_connection(
            CascadeConnection(base_url=self.base_url, token_env=self.token_env), workspace=workspace,
            timeout=self.timeout_s, retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s))


def build_resources(config: SyncConfig) -> dict:
    return {
        "warehouse": WarehouseResource(path=config.duckdb_path),
        "cascade": CascadeResource(base_url=config.cascade.base_url, token_env=config.cascade.token_env),
        "clickup": ClickUpResource(),
        "wrike": WrikeResource(),
    }
