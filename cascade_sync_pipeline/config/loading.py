"""Loading the config: read and validate the YAML file, describe what is wrong, read secrets from the env."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from cascade_sync_pipeline.config.common import CONFIG_ENV, ConfigError
from cascade_sync_pipeline.config.model import SyncConfig
from cascade_sync_pipeline.config_rules import read_yaml


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
