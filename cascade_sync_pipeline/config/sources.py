"""The source workspaces: ClickUp and Wrike workspace models, their scopes and Wrike's OAuth settings."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from cascade_sync_pipeline.config.common import _SECRET_SHAPES, _env_name
from cascade_sync_pipeline.config_rules import api_url, cron_or_frequency
from cascade_sync_pipeline.mapping_rules import MappingRules, StatusCategory, Strict

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

Frequency = Literal["hourly", "daily", "weekly"]


class ClickUpScope(Strict):
    """What to sync inside the workspace; each entry is an ID or an exact name. Empty means everything."""

    spaces: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list)
    lists: list[str] = Field(default_factory=list)

    @property
    def is_everything(self) -> bool:
        return not (self.spaces or self.folders or self.lists)


class WrikeScope(Strict):
    """What to sync in a Wrike account; each entry is an ID or an exact title. Empty means everything."""

    spaces: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)

    @property
    def is_everything(self) -> bool:
        return not (self.spaces or self.folders or self.projects)


class _WorkspaceBase(Strict):
    key: str
    name: str | None = None
    token_env: str | None = None  # required by ClickUp; declared here to keep its place in the field order
    webhook_secret_env: str | None = Field(
        default=None,
        description="NAME of the env var holding the webhook signing secret; without it the receiver "
        "rejects this workspace's webhook deliveries.",
    )
    cascade_id_field: str = "Cascade ID"
    mapping: MappingRules = Field(default_factory=MappingRules)
    dry_run: bool = Field(default=False, description="Stop at the diff: compute and show it, write nothing.")
    schedule: Frequency | str = "hourly"
    full_refresh_hours: float = Field(
        default=24,
        gt=0,
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

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: None if v is None else _env_name(v)))
    _check_webhook_env = field_validator("webhook_secret_env")(
        classmethod(lambda cls, v: None if v is None else _env_name(v))
    )

    @field_validator("schedule")
    @classmethod
    def _cron_or_frequency(cls, v: str) -> str:
        return cron_or_frequency(v)  # Dagster's own cron validation, so a bad one names its workspace here

    @property
    def display_name(self) -> str:
        return self.name or self.key


class ClickUpWorkspace(_WorkspaceBase):
    source: Literal["clickup"]
    token_env: str
    base_url: str = "https://api.clickup.com/api/v2"
    team_id: str
    scope: ClickUpScope = Field(default_factory=ClickUpScope)

    _check_base_url = field_validator("base_url")(
        classmethod(lambda cls, v: api_url(v, "https://api.clickup.com/api/v2"))
    )

    @field_validator("team_id", mode="before")
    @classmethod
    def _team_id_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v


class WrikeOAuthSettings(Strict):
    """OAuth 2.0 (authorization-code) credentials of a Wrike workspace; secrets are env var NAMES.

    ``token_store`` is the file the bootstrap (``cascade-sync wrike``)
    writes and every run refreshes (JSON, mode 0600, replaced atomically).
    """

    client_id_env: str
    client_secret_env: str
    token_store: str
    login_url: str = "https://login.wrike.com"

    _check_envs = field_validator("client_id_env", "client_secret_env")(classmethod(lambda cls, v: _env_name(v)))

    @field_validator("token_store")
    @classmethod
    def _store_path(cls, v: str) -> str:
        if not v.strip() or any(p.match(v) for p in _SECRET_SHAPES):
            raise ValueError("must be the path of the token store file (e.g. data/wrike-acme.tokens.json)")
        return v

    @field_validator("login_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return api_url(v, "https://login.wrike.com")


class WrikeWorkspace(_WorkspaceBase):
    """A Wrike account: a permanent token (``token_env``) or OAuth 2.0 (``oauth``), exactly one."""

    source: Literal["wrike"]
    base_url: str = "https://www.wrike.com/api/v4"
    oauth: WrikeOAuthSettings | None = None
    scope: WrikeScope = Field(default_factory=WrikeScope)

    _check_base_url = field_validator("base_url")(
        classmethod(lambda cls, v: api_url(v, "https://www.wrike.com/api/v4 (or your data center's host)"))
    )

    @model_validator(mode="after")
    def _one_credential(self) -> WrikeWorkspace:
        if self.oauth is None and self.token_env is None:
            raise ValueError(
                "token_env: give the NAME of the env var holding a Wrike permanent token, or an "
                "oauth block (client_id_env, client_secret_env, token_store)"
            )
        if self.oauth is not None and self.token_env is not None:
            raise ValueError(
                "token_env: leave it out when an oauth block is given; OAuth tokens live in oauth.token_store"
            )
        return self


Workspace = Annotated[ClickUpWorkspace | WrikeWorkspace, Field(discriminator="source")]
