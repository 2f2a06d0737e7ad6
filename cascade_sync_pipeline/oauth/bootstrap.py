"""The bootstrap CLI: print the authorize URL, exchange a code for tokens, describe the stored tokens."""

from __future__ import annotations

import secrets as _secrets
import sys
import time
from pathlib import Path

import httpx

from cascade_sync_pipeline.http import SourceApiError, redact
from cascade_sync_pipeline.oauth.grant import authorize_url, exchange_code
from cascade_sync_pipeline.oauth.provider import OAuthProvider, _default_workspace
from cascade_sync_pipeline.oauth.store import TokenStore, _store_for


def run_bootstrap(
    command: str,
    provider: OAuthProvider,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    token_store: TokenStore | str | Path | None = None,
    redirect_uri: str | None = None,
    code: str | None = None,
    state: str | None = None,
    workspace: str | None = None,
    scope: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """``authorize`` prints the URL to open, ``exchange`` stores the tokens for ``code``, ``status``
    describes the stored tokens. Prints what a person needs (never a secret) and returns the exit code."""
    workspace = workspace or _default_workspace(provider)
    if command == "authorize":
        if not client_id:
            return _usage(f"the {provider.name} OAuth client id is needed to authorize")
        state = state or _secrets.token_urlsafe(12)
        print(authorize_url(provider, client_id, redirect_uri, state, scope=scope))
        print(f"state={state}  (check that the redirect carries the same state)", file=sys.stderr)
        return 0
    if command not in ("exchange", "status"):
        return _usage(f"unknown command '{command}': use authorize, exchange or status")
    if token_store is None:
        return _usage("give the token store (--token-store PATH or --workspace KEY)")
    store = _store_for(token_store, provider, workspace)
    if command == "exchange":
        return _exchange(
            provider,
            store,
            client_id=client_id,
            client_secret=client_secret,
            code=code,
            redirect_uri=redirect_uri,
            workspace=workspace,
            transport=transport,
        )
    return _status(store)


def _exchange(
    provider: OAuthProvider,
    store: TokenStore,
    *,
    client_id: str | None,
    client_secret: str | None,
    code: str | None,
    redirect_uri: str | None,
    workspace: str,
    transport: httpx.BaseTransport | None,
) -> int:
    if not (client_id and client_secret and code):
        return _usage(f"exchange needs the {provider.name} OAuth client id, client secret and the code")
    try:
        state = exchange_code(
            code,
            provider=provider,
            client_id=client_id,
            client_secret=client_secret,
            store=store,
            redirect_uri=redirect_uri,
            workspace=workspace,
            transport=transport,
        )
    except SourceApiError as exc:
        print(redact(str(exc), [client_secret, code]), file=sys.stderr)
        return 1
    print(f"stored tokens in {store.path}" + (f"; API host {state.host}" if state.host else ""))
    return 0


def _status(store: TokenStore) -> int:
    try:
        with store.lock():
            state = store.load()
    except SourceApiError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if state is None:
        print(f"no tokens in {store.path}")
        return 1
    left = state.expires_at - time.time()
    print(
        (f"host {state.host}; " if state.host else "")
        + f"access token {f'expires in {left:.0f}s' if left > 0 else 'expired'}; "
        f"generation {state.generation}; rotation {'proven' if state.proven else 'not yet proven'}"
    )
    return 0


def _usage(message: str) -> int:
    print(message, file=sys.stderr)
    return 2
