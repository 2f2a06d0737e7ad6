"""The Cascade connection: which API, how it signs in (token or OAuth) and the table of Cascade users."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cascade_sync_pipeline.config.common import _env_name
from cascade_sync_pipeline.config_rules import api_url
from cascade_sync_pipeline.mapping_rules import Strict


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
