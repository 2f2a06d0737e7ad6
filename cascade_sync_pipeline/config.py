"""The sync configuration: one YAML file, validated before anything runs.

Secrets never live here: a workspace names the *environment variable* that holds its token.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, overload

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from cascade_sync_pipeline.config_rules import api_url, cron_or_frequency, read_yaml
from cascade_sync_pipeline.mapping_rules import LinkRule, MappingRules, ProgressRule, StatusCategory, Strict

CONFIG_ENV = "CASCADE_SYNC_CONFIG"
DUCKDB_ENV = "CASCADE_SYNC_DUCKDB"
DEFAULT_DUCKDB_PATH = "data/cascade_sync.duckdb"

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_SHAPES = (re.compile(r"^pk_\w{6,}"), re.compile(r"^eyJ[\w-]{10,}"))
# A part (between underscores) that looks generated rather than named: long, with digits in it
# (OAuth client secrets, API keys); names like CLICKUP_TOKEN_ACME_2024 have short parts.
_GENERATED_PART = re.compile(
    r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9]{16,}$"
    r"|^(?=(?:\D*\d){4})(?:[A-Z0-9]{20,}|[a-z0-9]{20,})$"
)

Frequency = Literal["hourly", "daily", "weekly"]
__all__ = [
    "CascadeConnection",
    "CascadeOAuthSettings",
    "CascadeUser",
    "ClickUpWorkspace",
    "ConfigError",
    "LinkRule",
    "MappingRules",
    "ProgressRule",
    "SyncConfig",
    "WrikeWorkspace",
    "load_config",
    "parse_config",
    "secret_from_env",
]


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the field to fix."""


def _env_name(value: str) -> str:
    if (
        not _ENV_NAME.match(value)
        or any(p.match(value) for p in _SECRET_SHAPES)
        or any(_GENERATED_PART.match(part) for part in value.split("_"))
    ):
        raise ValueError("must be the NAME of an environment variable (e.g. CLICKUP_TOKEN), never the secret itself")
    return value


class CascadeOAuthSettings(Strict):
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
        return api_url(v, "https://auth.go.cascade.app/oauth/token")


class CascadeUser(Strict):
    """One Cascade person (classic API): the email the sources know them by, their user id and the
    id of the role they hold (goals belong to roles). The API lists no users, so the table is
    kept in the config (``cascade.users`` or a CSV file ``cascade.users_file``)."""

    email: str
    role_id: int = Field(gt=0)
    user_id: int | None = Field(default=None, gt=0)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        v = v.strip().lower()
        if "@" not in v:
            raise ValueError(f"'{v}' is not an email address")
        return v


class CascadeConnection(Strict):
    """Which Cascade API the sync speaks and how it signs in.

    ``integrations``: the current platform's Integrations API (links source work to existing
    actions and measures and pushes their values; ``workspace_id`` required; a bearer token or
    OAuth). ``classic``: the classic API of ``https://{instance}.executestrategy.net/api/v2``
    (creates and maintains goals and tasks; a bearer token; ``users`` maps owners' emails to
    Cascade users and roles).
    """

    api: Literal["integrations", "classic"]
    base_url: str
    token_env: str | None = None
    oauth: CascadeOAuthSettings | None = None
    workspace_id: str | None = None
    reassert_hours: float | None = Field(
        default=24,
        gt=0,
        description="Re-send a value that has not changed when it was last pushed longer ago than this, so a "
        "value a person changed by hand in Cascade is put right; null: never.",
    )
    users: list[CascadeUser] = Field(default_factory=list)
    users_file: str | None = Field(
        default=None,
        description="A CSV file (columns email, role_id and optionally user_id) read into users; "
        "relative to the config file.",
    )

    _check_env = field_validator("token_env")(classmethod(lambda cls, v: None if v is None else _env_name(v)))

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return api_url(
            v, "https://integrations-region-redirect.go.cascade.app or https://acme.executestrategy.net/api/v2"
        )

    @field_validator("workspace_id", mode="before")
    @classmethod
    def _id_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="before")
    @classmethod
    def _read_users_file(cls, data: object, info: ValidationInfo) -> object:
        if not isinstance(data, dict) or not data.get("users_file"):
            return data
        base = Path((info.context or {}).get("base_dir") or ".")
        return {**data, "users": [*(data.get("users") or []), *_users_csv(base / str(data["users_file"]))]}

    @model_validator(mode="after")
    def _credentials(self) -> CascadeConnection:
        if self.api == "integrations":
            if not self.workspace_id:
                raise ValueError(
                    "workspace_id: name the Cascade workspace id (`cascade-sync cascade discover` lists "
                    "the ones the credential sees)"
                )
            if (self.token_env is None) == (self.oauth is None):
                raise ValueError(
                    "token_env: give the NAME of the env var holding an access token, or an oauth block "
                    "(client_id_env, client_secret_env, token_store), exactly one"
                )
            if self.users or self.users_file:
                raise ValueError("users: only the classic API needs a table of Cascade users")
            return self
        if self.token_env is None:
            raise ValueError(
                "token_env: give the NAME of the env var holding the Cascade API token (Profile > "
                "System > Security > + Add Token)"
            )
        if self.oauth is not None:
            raise ValueError("oauth: only the integrations API signs in with OAuth")
        if self.workspace_id is not None:
            raise ValueError("workspace_id: only the integrations API has workspaces (a classic instance is its host)")
        seen: set[str] = set()
        for i, user in enumerate(self.users):
            if user.email in seen:
                raise ValueError(f"users.{i}.email: '{user.email}' is listed twice")
            seen.add(user.email)
        return self


def _users_csv(path: Path) -> list[dict]:
    """The rows of a users CSV file (email, role_id[, user_id]), with errors naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ValueError(f"users_file: cannot read {path} ({err.strerror or err})") from None
    rows = []
    reader = csv.DictReader(text.splitlines())
    missing = {"email", "role_id"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(
            f"users_file: {path} needs a header line with email, role_id (and optionally user_id); "
            f"missing {', '.join(sorted(missing))}"
        )
    for line, row in enumerate(reader, start=2):
        try:
            rows.append(
                {
                    "email": row["email"],
                    "role_id": int(row["role_id"]),
                    **({"user_id": int(row["user_id"])} if (row.get("user_id") or "").strip() else {}),
                }
            )
        except (TypeError, ValueError):
            raise ValueError(f"users_file: {path} line {line}: role_id and user_id must be integers") from None
    return rows


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
    """Validate a config; files it names (``cascade.users_file``) are read relative to ``origin``'s
    folder when ``origin`` is a file, else to the working directory."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the file must hold a mapping with 'workspaces' and 'cascade'")
    base_dir = Path(origin).parent if Path(origin).is_file() else Path(".")
    try:
        return SyncConfig.model_validate(data, context={"base_dir": str(base_dir)})
    except ValidationError as err:
        raise ConfigError(f"invalid configuration in {origin}:\n{_describe(err, data)}") from None


def config_path() -> Path:
    """The config file named by $CASCADE_SYNC_CONFIG; there is no default (a product that fell back to
    the sandbox's config would sync the wrong company without a word)."""
    named = os.environ.get(CONFIG_ENV, "").strip()
    if not named:
        raise ConfigError(
            f"no config file: set {CONFIG_ENV} to the path of your YAML config (or pass --config); "
            "config/sandbox.yaml is the sandbox company's, for `cascade-sync demo`"
        )
    return Path(named)


def load_config(path: str | Path | None = None) -> SyncConfig:
    path = Path(path) if path else config_path()
    if not path.exists():
        raise ConfigError(f"configuration file '{path}' not found; set {CONFIG_ENV} to the path of your YAML config")
    try:  # repeated keys and an empty file are errors, not silently "the last one" or "nothing"
        data = read_yaml(path.read_text(), str(path))
    except ValueError as err:
        raise ConfigError(str(err)) from None
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
