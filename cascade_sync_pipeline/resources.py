"""Dagster resources: the warehouse file and the API clients, configured from the sync config.

Source tokens are read from the env var each workspace names, when a run needs them, so one
workspace with a missing token fails alone instead of failing every workspace's runs.
"""

from pathlib import Path

import dagster as dg

from cascade_sync_pipeline.cascade.classic import ClassicClient
from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.config import (
    CascadeConnection,
    CascadeOAuthSettings,
    ClickUpWorkspace,
    SyncConfig,
    WrikeWorkspace,
)
from cascade_sync_pipeline.http import RetryPolicy
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_pipeline.wrike.client import WrikeClient


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse holding the raw, staging and sync schemas: one file at ``path``, or with
    ``layout: per_workspace`` one file per workspace under the directory ``path``."""

    path: str
    layout: str = "single"

    def get(self, workspace: str) -> Warehouse:
        """The warehouse file that holds ``workspace`` (the run's partition key)."""
        if self.layout == "per_workspace":
            return Warehouse(Path(self.path) / f"{workspace}.duckdb")
        return Warehouse(self.path)


class ClickUpResource(dg.ConfigurableResource):
    """Opens ClickUp API clients for configured workspaces."""

    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    def client(self, ws: ClickUpWorkspace) -> ClickUpClient:
        return ClickUpClient.for_workspace(
            ws, timeout=self.timeout_s, retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s)
        )


class WrikeResource(dg.ConfigurableResource):
    """Opens Wrike API clients: the permanent token from the workspace's ``token_env``, or its OAuth
    session (token store refreshed and rotated during the run), read when a run needs it."""

    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    def client(self, ws: WrikeWorkspace) -> WrikeClient:
        return WrikeClient.from_workspace(
            ws, timeout=self.timeout_s, retry=RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s)
        )


class CascadeResource(dg.ConfigurableResource):
    """The Cascade API the config names (``cascade.api``). Credentials are read from the env vars
    the config names when a step calls Cascade, like the source tokens: a missing one fails that
    step with the variable's name instead of failing every run (extract-only runs included)."""

    api: str
    base_url: str
    token_env: str | None = None
    workspace_id: str | None = None
    oauth_client_id_env: str | None = None
    oauth_client_secret_env: str | None = None
    oauth_token_store: str | None = None
    oauth_authorize_url: str | None = None
    oauth_token_url: str | None = None
    timeout_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0

    @classmethod
    def from_connection(cls, connection: CascadeConnection) -> "CascadeResource":
        oauth = connection.oauth
        return cls(
            api=connection.api,
            base_url=connection.base_url,
            token_env=connection.token_env,
            workspace_id=connection.workspace_id,
            oauth_client_id_env=oauth.client_id_env if oauth else None,
            oauth_client_secret_env=oauth.client_secret_env if oauth else None,
            oauth_token_store=oauth.token_store if oauth else None,
            oauth_authorize_url=oauth.authorize_url if oauth else None,
            oauth_token_url=oauth.token_url if oauth else None,
        )

    def connection(self) -> CascadeConnection:
        # model_validate: the fields here are optional, and the models' own checks reject what is missing.
        oauth = None
        if self.oauth_token_store:
            oauth = CascadeOAuthSettings.model_validate(
                {
                    "client_id_env": self.oauth_client_id_env,
                    "client_secret_env": self.oauth_client_secret_env,
                    "token_store": self.oauth_token_store,
                    "authorize_url": self.oauth_authorize_url,
                    "token_url": self.oauth_token_url,
                }
            )
        return CascadeConnection.model_validate(
            {
                "api": self.api,
                "base_url": self.base_url,
                "token_env": self.token_env,
                "oauth": oauth,
                "workspace_id": self.workspace_id,
            }
        )

    def client(self, workspace: str = "cascade") -> ClassicClient | IntegrationsClient:
        retry = RetryPolicy(max_rate_limit_wait=self.max_rate_limit_wait_s)
        if self.api == "classic":
            assert self.token_env is not None  # a classic connection is validated to name its token's env var
            return ClassicClient.from_env(
                self.base_url, self.token_env, workspace=workspace, timeout=self.timeout_s, retry=retry
            )
        return IntegrationsClient.from_connection(
            self.connection(), workspace=workspace, timeout=self.timeout_s, retry=retry
        )


def build_resources(config: SyncConfig) -> dict:
    return {
        "warehouse": WarehouseResource(path=config.duckdb_path, layout=config.warehouse.layout),
        **({"cascade": CascadeResource.from_connection(config.cascade)} if config.cascade else {}),
        "clickup": ClickUpResource(),
        "wrike": WrikeResource(),
    }
