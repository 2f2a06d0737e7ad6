"""Wrike OAuth 2.0: the Wrike provider for :mod:`cascade_sync_pipeline.oauth` (which holds the
token store, refresh and crash-safe rotation) and the Wrike-only call shapes.

Bootstrap (once per workspace, by a person)::

    cascade-sync wrike authorize --workspace KEY --redirect-uri URI
    # open the printed URL, approve, copy ?code=... from the redirect
    cascade-sync wrike exchange --workspace KEY --redirect-uri URI --code CODE

Wrike rotates the refresh token on every refresh. Its token answer names the ``host`` of the
account's data center; every API call then goes to ``https://{host}/api/v4`` (see ``client.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cascade_sync_pipeline import oauth as _oauth
from cascade_sync_pipeline.oauth import (  # noqa: F401  (re-exported: older imports name them here)
    STORE_VERSION,
    Checkpoint,
    OAuthProvider,
    TokenState,
    TokenStore,
    parse_token_answer,
)
from cascade_sync_pipeline.wrike.errors import WrikeAuthError

LOGIN_URL = "https://login.wrike.com"
BOOTSTRAP = (
    "cascade-sync wrike authorize --workspace {workspace} --redirect-uri <uri>, "
    "then ... exchange --workspace {workspace} --redirect-uri <uri> --code <code>"
)


def wrike_provider(login_url: str = LOGIN_URL) -> OAuthProvider:
    """Wrike's OAuth server at ``login_url`` (the sandbox serves it on loopback in tests)."""
    login = login_url.rstrip("/")
    return OAuthProvider(
        name="Wrike",
        authorize_url=f"{login}/oauth2/authorize/v4",
        token_url=f"{login}/oauth2/token",
        bootstrap=BOOTSTRAP,
        error_class=WrikeAuthError,
        client_settings="the Wrike App Console",
    )


def bootstrap_hint(workspace: str) -> str:
    return wrike_provider().bootstrap_for(workspace)


def authorize_url(
    client_id: str,
    redirect_uri: str | None = None,
    state: str | None = None,
    *,
    login_url: str = LOGIN_URL,
    scope: str | None = None,
) -> str:
    """The URL a person opens to approve the integration (authorization-code flow)."""
    return _oauth.authorize_url(wrike_provider(login_url), client_id, redirect_uri, state, scope=scope)


def exchange_code(
    code: str,
    *,
    client_id: str,
    client_secret: str,
    store: TokenStore | str | Path,
    redirect_uri: str | None = None,
    login_url: str = LOGIN_URL,
    workspace: str = "wrike",
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> TokenState:
    """Trade an authorization code for tokens and save them in the store."""
    return _oauth.exchange_code(
        code,
        provider=wrike_provider(login_url),
        client_id=client_id,
        client_secret=client_secret,
        store=store,
        redirect_uri=redirect_uri,
        workspace=workspace,
        clock=clock,
        transport=transport,
    )


class OAuthSession(_oauth.OAuthSession):
    """A workspace's live Wrike OAuth credentials (the generic session with the Wrike provider)."""

    def __init__(
        self,
        store: TokenStore | str | Path,
        *,
        client_id: str,
        client_secret: str,
        login_url: str = LOGIN_URL,
        workspace: str = "wrike",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            store,
            provider=wrike_provider(login_url),
            client_id=client_id,
            client_secret=client_secret,
            workspace=workspace,
            **kwargs,
        )
