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
# A part (between underscores) that looks generated rather than named: long, with digits in it
# (OAuth client secrets, API keys); names like CLICKUP_TOKEN_ACME_2024 have short parts.
_GENERATED_PART = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9]{16,}$"
                             r"|^(?=(?:\D*\d){4})(?:[A-Z0-9]{20,}|[a-z0-9]{20,})$")

StatusCategory = Literal["not_started", "in_progress", "done", "deferred", "cancelled"]
Frequency = Literal["hourly", "daily", "weekly"]


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the field to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if (not _ENV_NAME.match(value) or any(p.match(value) for p in _SECRET_SHAPES)
            or any(_GENERATED_PART.match(part) for part in value.split("_"))):
        raise ValueError(
            "must be the NAME of an environment variable (e.g. CLICKUP_TOKEN), never the secret itself"
        )
    return value


class CascadeOAuthSettings(_Strict):
    """OAuth 2.0 (authorization code) of the Integrations API; secrets are env var NAMES.

    ``token_store`` is the file the bootstrap (``cascade-sync cascade authorize|exchange``) writes
    and every run refreshes (JSON, mode 0600, replaced atomically)."""

    client_id_env: str
    client_secret_env: str
    token_store: str
    authorize_url: str = "https://integrations-router.go.cascade.app/authorize"
    token_url: str = "https://auth.go.cascade.app/oauth/token"

    _check_envs = field_validator("client_id_env", "client_secret_env")(classmethod(lambda cls, v: _env_name(v)))

    @field_validator("authorize_url", "token_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return v


class CascadeConnection(_Strict):
    """Which Cascade API the sync speaks and how it signs in.

    ``integrations``: the current platform's Integrations API (links source work to existing
    actions and measures and pushes their values; ``workspace_id`` required; a bearer token or
    OAuth). ``contract``: the project's earlier draft contract (``cascade/openapi.yaml``), which no
    real Cascade serves; kept for the create-and-maintain engine until the classic API replaces it.
    """

    api: Literal["integrations", "contract"]
    base_url: str
    token_env: str | None = None
    oauth: CascadeOAuthSettings | None = None
    workspace_id: str | None = None
    reassert_hours: float | None = Field(
        default=24, gt=0,
        description="Re-send a value that has not changed when it was last pushed longer ago than this, so a "
                    "value a person changed by hand in Cascade is put right; null: never.")

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: None if v is None else _env_name(v)))

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be the API's http(s) URL, e.g. https://integrations-region-redirect.go.cascade.app")
        return v.rstrip("/")

    @field_validator("workspace_id", mode="before")
    @classmethod
    def _id_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _credentials(self) -> CascadeConnection:
        if self.api == "integrations":
            if not self.workspace_id:
                raise ValueError("workspace_id: name the Cascade workspace id (`cascade-sync cascade discover` lists "
                                 "the ones the credential sees)")
            if (self.token_env is None) == (self.oauth is None):
                raise ValueError("token_env: give the NAME of the env var holding an access token, or an oauth block "
                                 "(client_id_env, client_secret_env, token_store), exactly one")
        elif self.token_env is None:
            raise ValueError("token_env: give the NAME of the env var holding the Cascade API token")
        elif self.oauth is not None:
            raise ValueError("oauth: only the integrations API signs in with OAuth")
        return self


class ClickUpScope(_Strict):
    """What to sync inside the workspace; each entry is an ID or an exact name. Empty means everything."""

    spaces: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list)
    lists: list[str] = Field(default_factory=list)

    @property
    def is_everything(self) -> bool:
        return not (self.spaces or self.folders or self.lists)


class WrikeScope(_Strict):
    """What to sync in a Wrike account; each entry is an ID or an exact title. Empty means everything."""

    spaces: list[str] = Field(default_factory=list)
    folders: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)

    @property
    def is_everything(self) -> bool:
        return not (self.spaces or self.folders or self.projects)


CascadeStatus = Literal["To Do", "In Progress", "On Hold", "Done", "Won't Do"]
ItemType = Literal["task", "subtask", "milestone", "project"]

DEFAULT_STATUS_FALLBACK: dict[str, str] = {
    "not_started": "To Do", "in_progress": "In Progress", "done": "Done",
    "deferred": "On Hold", "cancelled": "Won't Do",
}


class CascadeTarget(_Strict):
    """Where synced items land in Cascade; each value is a Cascade ID or an exact name."""

    plan: str | None = None
    focus_area: str | None = None
    objective: str | None = None


class ContainerTarget(CascadeTarget):
    """A different Cascade target for the items of one source container (list, folder, space, project)."""

    container: str


class ProgressRule(_Strict):
    """How an item's progress is computed when it is not done (done is always 100 %)."""

    source: Literal["status", "subtasks", "checklist", "custom_field"] = "subtasks"
    custom_field: str | None = None

    @model_validator(mode="after")
    def _field_named(self) -> ProgressRule:
        if self.source == "custom_field" and not self.custom_field:
            raise ValueError("custom_field: name the source custom field that holds the progress")
        return self


class LinkRule(_Strict):
    """A link set in the config: a source container or item to one Cascade action or measure.

    Each side is an id or an exact name; names are resolved at the first run and pinned.
    An action takes the linked item's progress, or the share of done items of a container
    (weighted by ``weight_field`` when given). A measure takes ``value``: ``count_done`` or
    ``sum`` (of ``field``, done items) over a container, ``field`` (a numeric field) or
    ``progress`` of an item."""

    container: str | None = None
    item: str | None = None
    action: str | None = None
    measure: str | None = None
    weight_field: str | None = None
    value: Literal["count_done", "sum", "field", "progress"] | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> LinkRule:
        if (self.container is None) == (self.item is None):
            raise ValueError("give exactly one of container (a list, folder, space or project) or item (a task)")
        if (self.action is None) == (self.measure is None):
            raise ValueError("give exactly one of action or measure (its id or exact name in the plan)")
        if self.action is not None and self.value is not None:
            raise ValueError("value: an action takes progress; value applies to measures")
        if self.weight_field is not None and (self.action is None or self.container is None):
            raise ValueError("weight_field: only for an action linked to a container")
        allowed = ("count_done", "sum") if self.container is not None else ("field", "progress")
        if self.value is not None and self.value not in allowed:
            raise ValueError(f"value: a measure linked to a{' container' if self.container else 'n item'} takes "
                             f"one of {', '.join(allowed)}")
        if self.value in ("sum", "field") and not self.field:
            raise ValueError(f"field: name the numeric source field that value '{self.value}' reads")
        return self

    @property
    def measure_value(self) -> str:
        if self.value is not None:
            return self.value
        if self.container is not None:
            return "sum" if self.field else "count_done"
        return "field" if self.field else "progress"

    @property
    def label(self) -> str:
        source = f"container '{self.container}'" if self.container is not None else f"item '{self.item}'"
        target = f"action '{self.action}'" if self.action is not None else f"measure '{self.measure}'"
        return f"{source} -> {target}"


class MappingRules(_Strict):
    """How one workspace's items become Cascade items.

    On the Integrations API only ``plan``, ``links``, ``progress``, ``measure_field`` and
    ``max_zeroed_share`` apply (it links to existing items); the rest drive the create-and-maintain
    engine."""

    plan: str | None = Field(default=None, description="The Cascade plan (id or exact name) the links point into.")
    links: list[LinkRule] = Field(default_factory=list)
    measure_field: str | None = Field(
        default=None, description="Numeric source field a measure linked through the Cascade ID field takes "
                                  "(default: the item's progress).")
    max_zeroed_share: float = Field(
        default=0.5, ge=0, le=1,
        description="A run that would drop more than this share of the linked values (that were above 0) to 0 "
                    "at once stops before writing, naming the cause.")

    target: CascadeTarget = Field(default_factory=CascadeTarget)
    by_container: list[ContainerTarget] = Field(default_factory=list)
    item_types: list[ItemType] = Field(
        default_factory=lambda: ["task", "milestone", "project"],
        description="Source item types that drive Cascade; subtasks left out still count for the subtasks progress rule.")
    tasks_as: Literal["action", "measure"] = "action"
    milestones_as: Literal["action_milestones", "actions", "ignore"] = "action_milestones"
    checklists_as_items: bool = True
    statuses: list[str] = Field(default_factory=list, description="Only items in these source statuses (empty: all).")
    exclude_statuses: list[str] = Field(default_factory=list)
    containers: list[str] = Field(default_factory=list, description="Only items of these lists/projects (ID or name).")
    include_archived: bool = False
    status_rules: dict[str, CascadeStatus] = Field(default_factory=dict)
    status_fallback: dict[StatusCategory, CascadeStatus] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_FALLBACK))
    progress: ProgressRule = Field(default_factory=ProgressRule)
    custom_fields: dict[str, str] = Field(
        default_factory=dict, description="Source custom field name -> Cascade custom field name.")
    on_delete: Literal["archive", "wont_do"] = "archive"
    unmatched_owners: Literal["block", "warn"] = Field(
        default="block", description="An assignee with no Cascade user (by email) stops the publish, or only warns.")


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
    mapping: MappingRules = Field(default_factory=MappingRules)
    dry_run: bool = Field(default=False, description="Stop at the diff: compute and show it, write nothing.")
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


class WrikeOAuthSettings(_Strict):
    """OAuth 2.0 (authorization-code) credentials of a Wrike workspace; secrets are env var NAMES.

    ``token_store`` is the file the bootstrap (``python -m cascade_sync_pipeline.wrike.oauth``)
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
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://login.wrike.com")
        return v.rstrip("/")


class WrikeWorkspace(_WorkspaceBase):
    """A Wrike account: a permanent token (``token_env``) or OAuth 2.0 (``oauth``), exactly one."""

    source: Literal["wrike"]
    base_url: str = "https://www.wrike.com/api/v4"
    token_env: str | None = None
    oauth: WrikeOAuthSettings | None = None
    scope: WrikeScope = Field(default_factory=WrikeScope)

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: None if v is None else _env_name(v)))

    @model_validator(mode="after")
    def _one_credential(self) -> WrikeWorkspace:
        if self.oauth is None and self.token_env is None:
            raise ValueError("token_env: give the NAME of the env var holding a Wrike permanent token, or an "
                             "oauth block (client_id_env, client_secret_env, token_store)")
        if self.oauth is not None and self.token_env is not None:
            raise ValueError("token_env: leave it out when an oauth block is given; OAuth tokens live in "
                             "oauth.token_store")
        return self


Workspace = Annotated[ClickUpWorkspace | WrikeWorkspace, Field(discriminator="source")]


class WarehouseSettings(_Strict):
    path: str = DEFAULT_DUCKDB_PATH


class SyncConfig(_Strict):
    cascade: CascadeConnection | None = Field(
        default=None, description="Without it the code location extracts and stages only (no Cascade assets).")
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
                raise ValueError(f"workspaces.{i}(key={ws.key}).mapping.plan: name the Cascade plan (id or exact "
                                 "name) this workspace's links point into")
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
