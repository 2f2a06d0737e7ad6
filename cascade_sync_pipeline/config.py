"""The sync configuration: one YAML file, validated before anything runs.

Secrets never live here: a workspace names the *environment variable* that holds its token.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "CASCADE_SYNC_CONFIG"
DUCKDB_ENV = "CASCADE_SYNC_DUCKDB"
DEFAULT_CONFIG_PATH = "config/sandbox.yaml"
DEFAULT_DUCKDB_PATH = "data/cascade_sync.duckdb"

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_SHAPES = (re.compile(r"^pk_\w{6,}"), re.compile(r"^eyJ[\w-]{10,}"))

StatusCategory = Literal["not_started", "in_progress", "done", "deferred", "cancelled"]
Frequency = Literal["hourly", "daily", "weekly"]


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the field to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value) or any(p.match(value) for p in _SECRET_SHAPES):
        raise ValueError(
            "must be the NAME of an environment variable (e.g. CLICKUP_TOKEN), never the secret itself"
        )
    return value


class CascadeConnection(_Strict):
    base_url: str = "http://127.0.0.1:8703/api/v2"
    token_env: str = "CASCADE_TOKEN"

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: _env_name(v)))


class ClickUpScope(_Strict):
    """What to sync inside the workspace; each entry is an ID or an exact name. Empty means everything."""

    spaces: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list)
    lists: list[str] = Field(default_factory=list)

    @property
    def is_everything(self) -> bool:
        return not (self.spaces or self.folders or self.lists)


class _WorkspaceBase(_Strict):
    key: str
    name: str | None = None
    token_env: str
    webhook_secret_env: str | None = Field(
        default=None,
        description="NAME of the env var holding the webhook signing secret; without it the receiver "
                    "rejects this workspace's webhook deliveries.",
    )
    cascade_id_field: str = "Cascade ID"
    schedule: Frequency | str = "hourly"
    full_refresh_hours: float = Field(
        default=24, gt=0,
        description="A scheduled run re-reads everything (catching deletions and archivals) when the last "
                    "full extract is older than this; in between it reads only what changed.",
    )
    status_categories: dict[str, StatusCategory] = Field(
        default_factory=dict,
        description="Overrides of the status category by source status name (case-insensitive).",
    )

    @field_validator("key")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("must be a lowercase slug such as 'acme-eng' (letters, digits, '-' or '_')")
        return v

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: _env_name(v)))
    _check_webhook_env = field_validator("webhook_secret_env")(
        classmethod(lambda cls, v: None if v is None else _env_name(v)))

    @field_validator("schedule")
    @classmethod
    def _cron_or_frequency(cls, v: str) -> str:
        if v in ("hourly", "daily", "weekly") or len(v.split()) == 5:
            return v
        raise ValueError("must be hourly, daily, weekly or a five-field cron expression")

    @property
    def display_name(self) -> str:
        return self.name or self.key


class ClickUpWorkspace(_WorkspaceBase):
    source: Literal["clickup"]
    base_url: str = "https://api.clickup.com/api/v2"
    team_id: str
    scope: ClickUpScope = Field(default_factory=ClickUpScope)

    @field_validator("team_id", mode="before")
    @classmethod
    def _team_id_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v


class WrikeWorkspace(_WorkspaceBase):
    source: Literal["wrike"]
    base_url: str = "https://www.wrike.com/api/v4"


Workspace = Annotated[ClickUpWorkspace | WrikeWorkspace, Field(discriminator="source")]


class WarehouseSettings(_Strict):
    path: str = DEFAULT_DUCKDB_PATH


class SyncConfig(_Strict):
    cascade: CascadeConnection = Field(default_factory=CascadeConnection)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    workspaces: list[Workspace] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_keys(self) -> SyncConfig:
        seen: set[str] = set()
        for i, ws in enumerate(self.workspaces):
            if ws.key in seen:
                raise ValueError(f"workspaces.{i}.key: '{ws.key}' is used by two workspaces; keys must be unique")
            seen.add(ws.key)
        return self

    def workspace(self, key: str) -> ClickUpWorkspace | WrikeWorkspace:
        for ws in self.workspaces:
            if ws.key == key:
                return ws
        raise ConfigError(f"no workspace with key '{key}' in the configuration")

    def workspaces_of(self, source: str) -> list[ClickUpWorkspace | WrikeWorkspace]:
        return [ws for ws in self.workspaces if ws.source == source]

    @property
    def duckdb_path(self) -> str:
        return os.environ.get(DUCKDB_ENV) or self.warehouse.path


def _describe(err: ValidationError, data: dict) -> str:
    lines = []
    for e in err.errors():
        loc = list(e["loc"])
        # Name the workspace by its key, not only its index, so the user finds it in the file.
        if len(loc) >= 2 and loc[0] == "workspaces" and isinstance(loc[1], int):
            try:
                key = data["workspaces"][loc[1]].get("key")
            except (KeyError, IndexError, AttributeError, TypeError):
                key = None
            if key:
                loc[1] = f"{loc[1]}(key={key})"
            if len(loc) > 2 and loc[2] in ("clickup", "wrike"):
                del loc[2]
        path = ".".join(str(p) for p in loc) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict, origin: str = "<config>") -> SyncConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the file must hold a mapping with 'workspaces' and 'cascade'")
    try:
        return SyncConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"invalid configuration in {origin}:\n{_describe(err, data)}") from None


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path | None = None) -> SyncConfig:
    path = Path(path) if path else config_path()
    if not path.exists():
        raise ConfigError(
            f"configuration file '{path}' not found; set {CONFIG_ENV} to the path of your YAML config"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    return parse_config(data, str(path))


def secret_from_env(env_name: str, *, owner: str, what: str = "API token") -> str:
    """Read a secret from the environment at run time, with an error that says which variable to set."""
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(
            f"{owner}: environment variable {env_name} is not set; export it with the {what} "
            f"(the config names the variable, never the secret)"
        )
    return value
