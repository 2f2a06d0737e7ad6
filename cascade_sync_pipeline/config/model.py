"""The whole config (SyncConfig): the Cascade connection, the warehouse settings and the workspaces."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, overload

from pydantic import Field, model_validator

from cascade_sync_pipeline.config.cascade import CascadeConnection
from cascade_sync_pipeline.config.common import DEFAULT_DUCKDB_PATH, DUCKDB_ENV, ConfigError
from cascade_sync_pipeline.config.sources import ClickUpWorkspace, Workspace, WrikeWorkspace
from cascade_sync_pipeline.mapping_rules import Strict


class WarehouseSettings(Strict):
    """Where the raw, staging and sync tables live. ``single``: one DuckDB file at ``path``, every
    workspace in it (one writer at a time). ``per_workspace``: ``path`` is a directory holding one file
    per workspace, ``<key>.duckdb``, so runs of different workspaces never wait on each other;
    `cascade-sync warehouse sql` (or ``warehouse.catalog.open_catalog``) reads them all as one."""

    path: str = DEFAULT_DUCKDB_PATH
    layout: Literal["single", "per_workspace"] = "single"


class SyncConfig(Strict):
    cascade: CascadeConnection | None = Field(
        default=None, description="Without it the code location extracts and stages only (no Cascade assets)."
    )
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    workspaces: list[Workspace] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_keys(self) -> SyncConfig:
        seen: set[str] = set()
        for i, ws in enumerate(self.workspaces):
            if ws.key in seen:
                raise ValueError(f"workspaces.{i}.key: '{ws.key}' is used by two workspaces; keys must be unique")
            seen.add(ws.key)
            if self.cascade is not None and self.cascade.api == "integrations" and not ws.mapping.plan:
                raise ValueError(
                    f"workspaces.{i}(key={ws.key}).mapping.plan: name the Cascade plan (id or exact "
                    "name) this workspace's links point into"
                )
            problem = ws.mapping.classic_problem(ws.source) if self.cascade and self.cascade.api == "classic" else None
            if problem:
                raise ValueError(f"workspaces.{i}(key={ws.key}).mapping.{problem}")
        return self

    def workspace(self, key: str) -> ClickUpWorkspace | WrikeWorkspace:
        for ws in self.workspaces:
            if ws.key == key:
                return ws
        raise ConfigError(f"no workspace with key '{key}' in the configuration")

    @overload
    def workspaces_of(self, source: Literal["clickup"]) -> Sequence[ClickUpWorkspace]: ...
    @overload
    def workspaces_of(self, source: Literal["wrike"]) -> Sequence[WrikeWorkspace]: ...
    @overload
    def workspaces_of(self, source: str) -> Sequence[ClickUpWorkspace | WrikeWorkspace]: ...
    def workspaces_of(self, source: str) -> Sequence[ClickUpWorkspace | WrikeWorkspace]:
        return [ws for ws in self.workspaces if ws.source == source]

    @property
    def duckdb_path(self) -> str:
        """The configured warehouse path (a file, or the directory of a per-workspace layout);
        CASCADE_SYNC_DUCKDB overrides it."""
        return os.environ.get(DUCKDB_ENV) or self.warehouse.path

    def warehouse_path(self, key: str) -> Path:
        """The DuckDB file that holds workspace ``key``'s tables."""
        root = Path(self.duckdb_path)
        return root / f"{key}.duckdb" if self.warehouse.layout == "per_workspace" else root

    def warehouse_files(self) -> dict[str, Path]:
        return {ws.key: self.warehouse_path(ws.key) for ws in self.workspaces}
