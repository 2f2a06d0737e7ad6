"""The sync configuration: one YAML file, validated before anything runs.

Secrets never live here: a workspace names the *environment variable* that holds its token.
"""

from __future__ import annotations

from cascade_sync_pipeline.config.cascade import CascadeConnection, CascadeOAuthSettings, CascadeUser
from cascade_sync_pipeline.config.cascade import _users_csv as _users_csv
from cascade_sync_pipeline.config.common import CONFIG_ENV, DEFAULT_DUCKDB_PATH, DUCKDB_ENV, ConfigError
from cascade_sync_pipeline.config.common import _env_name as _env_name
from cascade_sync_pipeline.config.loading import _describe as _describe
from cascade_sync_pipeline.config.loading import config_path, load_config, parse_config, secret_from_env
from cascade_sync_pipeline.config.model import SyncConfig, WarehouseSettings
from cascade_sync_pipeline.config.sources import (
    ClickUpScope,
    ClickUpWorkspace,
    Frequency,
    Workspace,
    WrikeOAuthSettings,
    WrikeScope,
    WrikeWorkspace,
)
from cascade_sync_pipeline.mapping_rules import LinkRule, MappingRules, ProgressRule

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_DUCKDB_PATH",
    "DUCKDB_ENV",
    "CascadeConnection",
    "CascadeOAuthSettings",
    "CascadeUser",
    "ClickUpScope",
    "ClickUpWorkspace",
    "ConfigError",
    "Frequency",
    "LinkRule",
    "MappingRules",
    "ProgressRule",
    "SyncConfig",
    "WarehouseSettings",
    "Workspace",
    "WrikeOAuthSettings",
    "WrikeScope",
    "WrikeWorkspace",
    "config_path",
    "load_config",
    "parse_config",
    "secret_from_env",
]
