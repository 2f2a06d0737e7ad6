"""Shared by the config models: the env var names, ConfigError and the check that a field names an env var."""

from __future__ import annotations

import re

CONFIG_ENV = "CASCADE_SYNC_CONFIG"
DUCKDB_ENV = "CASCADE_SYNC_DUCKDB"
DEFAULT_DUCKDB_PATH = "data/cascade_sync.duckdb"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_SHAPES = (re.compile(r"^pk_\w{6,}"), re.compile(r"^eyJ[\w-]{10,}"))
# A part (between underscores) that looks generated rather than named: long, with digits in it
# (OAuth client secrets, API keys); names like CLICKUP_TOKEN_ACME_2024 have short parts.
_GENERATED_PART = re.compile(
    r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9]{16,}$"
    r"|^(?=(?:\D*\d){4})(?:[A-Z0-9]{20,}|[a-z0-9]{20,})$"
)


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
