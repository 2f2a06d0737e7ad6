"""Wrike OAuth 2.0: the Wrike provider for :mod:`cascade_sync_pipeline.oauth` (which holds the
token store, refresh and crash-safe rotation), the old Wrike-only call shapes, and the bootstrap CLI.

Bootstrap (once per workspace, by a person)::

    python -m cascade_sync_pipeline.wrike authorize --workspace KEY --redirect-uri URI
    # open the printed URL, approve, copy ?code=... from the redirect
    python -m cascade_sync_pipeline.wrike exchange --workspace KEY --redirect-uri URI --code CODE

Wrike rotates the refresh token on every refresh. Its token answer names the ``host`` of the
account's data center; every API call then goes to ``https://{host}/api/v4`` (see ``client.py``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from cascade_sync_pipeline import oauth as _oauth
from cascade_sync_pipeline.oauth import (  # noqa: F401  (re-exported: older imports name them here)
    STORE_VERSION, Checkpoint, OAuthProvider, TokenState, TokenStore, parse_token_answer,
)
from cascade_sync_pipeline.wrike.errors import WrikeAuthError

LOGIN_URL = "https://login.wrike.com"
BOOTSTRAP = ("python -m cascade_sync_pipeline.wrike authorize --workspace {workspace} --redirect-uri <uri>, "
             "then ... exchange --workspace {workspace} --redirect-uri <uri> --code <code>")


def wrike_provider(login_url: str = LOGIN_URL) -> OAuthProvider:
    """Wrike's OAuth server at ``login_url`` (the sandbox serves it on loopback in tests)."""
    login = login_url.rstrip("/")
    return OAuthProvider(name="Wrike", authorize_url=f"{login}/oauth2/authorize/v4",
                         token_url=f"{login}/oauth2/token", bootstrap=BOOTSTRAP, error_class=WrikeAuthError,
                         client_settings="the Wrike App Console")


def bootstrap_hint(workspace: str) -> str:
    return wrike_provider().bootstrap_for(workspace)


def authorize_url(client_id: str, redirect_uri: str | None = None, state: str | None = None, *,
                  login_url: str = LOGIN_URL, scope: str | None = None) -> str:
    """The URL a person opens to approve the integration (authorization-code flow)."""
    return _oauth.authorize_url(wrike_provider(login_url), client_id, redirect_uri, state, scope=scope)


def exchange_code(code: str, *, client_id: str, client_secret: str, store: TokenStore | str | Path,
                  redirect_uri: str | None = None, login_url: str = LOGIN_URL, workspace: str = "wrike",
                  clock: Callable[[], float] = time.time, transport: httpx.BaseTransport | None = None) -> TokenState:
    """Trade an authorization code for tokens and save them in the store."""
    return _oauth.exchange_code(code, provider=wrike_provider(login_url), client_id=client_id,
                                client_secret=client_secret, store=store, redirect_uri=redirect_uri,
                                workspace=workspace, clock=clock, transport=transport)


class OAuthSession(_oauth.OAuthSession):
    """A workspace's live Wrike OAuth credentials (the generic session with the Wrike provider)."""

    def __init__(self, store: TokenStore | str | Path, *, client_id: str, client_secret: str,
                 login_url: str = LOGIN_URL, workspace: str = "wrike", **kwargs: Any) -> None:
        super().__init__(store, provider=wrike_provider(login_url), client_id=client_id,
                         client_secret=client_secret, workspace=workspace, **kwargs)


# --- the bootstrap CLI ---------------------------------------------------------------------------

def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Merge --workspace settings from the config with explicit flags (flags win)."""
    out: dict[str, Any] = {"login_url": LOGIN_URL}
    if args.workspace:
        from cascade_sync_pipeline.config import load_config

        ws = load_config(args.config).workspace(args.workspace)
        oauth = getattr(ws, "oauth", None)
        if oauth is None:
            raise SystemExit(f"workspace '{args.workspace}' has no oauth block in the config")
        out.update(client_id_env=oauth.client_id_env, client_secret_env=oauth.client_secret_env,
                   token_store=oauth.token_store, login_url=oauth.login_url)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cascade_sync_pipeline.wrike",
                                     description="Bootstrap Wrike OAuth 2.0 tokens for a workspace.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("authorize", "exchange", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--workspace", help="workspace key; reads the oauth block from the config")
        cmd.add_argument("--config", help="config path (default: $CASCADE_SYNC_CONFIG)")
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
    args = parser.parse_args(argv)
    settings = _settings(args)
    provider = wrike_provider(settings["login_url"])

    if args.command == "authorize":
        return _oauth.run_bootstrap("authorize", provider, client_id=_env(settings.get("client_id_env"), "client id"),
                                    redirect_uri=args.redirect_uri, state=args.state, scope=args.scope,
                                    workspace=settings["workspace"])
    if not settings.get("token_store"):
        raise SystemExit("give --token-store PATH or --workspace KEY")
    if args.command == "exchange":
        return _oauth.run_bootstrap("exchange", provider, client_id=_env(settings.get("client_id_env"), "client id"),
                                    client_secret=_env(settings.get("client_secret_env"), "client secret"),
                                    token_store=settings["token_store"], redirect_uri=args.redirect_uri,
                                    code=args.code, workspace=settings["workspace"])
    return _oauth.run_bootstrap("status", provider, token_store=settings["token_store"],
                                workspace=settings["workspace"])


if __name__ == "__main__":
    raise SystemExit(main())
