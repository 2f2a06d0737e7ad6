"""`cascade-sync wrike authorize|exchange|status`: the Wrike OAuth 2.0 bootstrap of a workspace."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cascade_sync_pipeline import oauth as _oauth
from cascade_sync_pipeline.config import load_config
from cascade_sync_pipeline.wrike.oauth import LOGIN_URL, wrike_provider


def add_commands(sub: argparse._SubParsersAction) -> None:
    wrike = sub.add_parser("wrike", help="the Wrike OAuth 2.0 bootstrap of a workspace")
    actions = wrike.add_subparsers(dest="action", required=True)
    for name in ("authorize", "exchange", "status"):
        cmd = actions.add_parser(name)
        cmd.add_argument("--workspace", help="workspace key; reads the oauth block from the config")
        cmd.add_argument("--client-id-env", dest="client_id_env")
        cmd.add_argument("--client-secret-env", dest="client_secret_env")
        cmd.add_argument("--token-store", dest="token_store")
        cmd.add_argument("--login-url", dest="login_url")
        if name in ("authorize", "exchange"):
            cmd.add_argument("--redirect-uri", dest="redirect_uri")
        if name == "authorize":
            cmd.add_argument("--state")
            cmd.add_argument("--scope")
        if name == "exchange":
            cmd.add_argument("--code", required=True)
    wrike.set_defaults(func=_wrike)


def _wrike(args: argparse.Namespace) -> int:
    settings = _settings(args)
    provider = wrike_provider(settings["login_url"])

    if args.action == "authorize":
        return _oauth.run_bootstrap(
            "authorize",
            provider,
            client_id=_env(settings.get("client_id_env"), "client id"),
            redirect_uri=args.redirect_uri,
            state=args.state,
            scope=args.scope,
            workspace=settings["workspace"],
        )
    if not settings.get("token_store"):
        raise SystemExit("give --token-store PATH or --workspace KEY")
    if args.action == "exchange":
        return _oauth.run_bootstrap(
            "exchange",
            provider,
            client_id=_env(settings.get("client_id_env"), "client id"),
            client_secret=_env(settings.get("client_secret_env"), "client secret"),
            token_store=settings["token_store"],
            redirect_uri=args.redirect_uri,
            code=args.code,
            workspace=settings["workspace"],
        )
    return _oauth.run_bootstrap(
        "status", provider, token_store=settings["token_store"], workspace=settings["workspace"]
    )


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Merge --workspace settings from the config with explicit flags (flags win)."""
    out: dict[str, Any] = {"login_url": LOGIN_URL}
    if args.workspace:
        ws = load_config(args.config).workspace(args.workspace)
        oauth = getattr(ws, "oauth", None)
        if oauth is None:
            raise SystemExit(f"workspace '{args.workspace}' has no oauth block in the config")
        out.update(
            client_id_env=oauth.client_id_env,
            client_secret_env=oauth.client_secret_env,
            token_store=oauth.token_store,
            login_url=oauth.login_url,
        )
    for key in ("client_id_env", "client_secret_env", "token_store", "login_url"):
        if getattr(args, key, None):
            out[key] = getattr(args, key)
    out["workspace"] = args.workspace or "wrike"
    return out


def _env(name: str | None, what: str) -> str:
    if not name:
        raise SystemExit(f"name the env var holding the {what} (--{what.replace(' ', '-')}-env or --workspace)")
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"env var {name} (the Wrike OAuth {what}) is not set")
    return value
