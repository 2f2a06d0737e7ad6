"""The authorization-code grant: the token endpoint, the URL a person opens and the code exchange."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, redact
from cascade_sync_pipeline.oauth.provider import OAuthProvider, TokenState, _default_workspace, parse_token_answer
from cascade_sync_pipeline.oauth.store import TokenStore, _store_for

log = logging.getLogger("cascade_sync_pipeline.oauth")


def _split_url(url: str) -> tuple[str, str]:
    """(origin, path with query) of a full URL: ApiSession wants a base URL and a path."""
    parsed = httpx.URL(url)
    origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
    return origin, parsed.raw_path.decode("ascii") or "/"


class _TokenEndpoint(ApiSession):
    """POSTs to the provider's token URL with ApiSession's retries on transient failures."""

    def __init__(
        self, provider: OAuthProvider, *, workspace: str, secrets: Callable[[], list[str]], **kwargs: Any
    ) -> None:
        base, self.path = _split_url(provider.token_url)
        super().__init__(base, workspace=workspace, **kwargs)
        self.provider = provider
        self.source = f"{provider.name.lower()}-oauth"
        self._secrets = secrets

    def post(self, form: dict[str, str]) -> Any:
        return self.request("POST", self.path, data=form)

    def redirect_error(self, response: httpx.Response) -> SourceApiError:
        """A redirect from the token URL is a configuration error of the provider's (never followed: the
        client secret would go along)."""
        err = super().redirect_error(response)
        return self.provider.error(
            redact(str(err).replace("base_url", "the token URL"), self._secrets()),
            status=err.status,
            code=err.code,
            workspace=self.workspace,
        )

    def error_for(self, response: httpx.Response, payload: Any) -> SourceApiError:
        """RFC 6749 ``error``/``error_description`` (Wrike spells the latter ``errorDescription``)."""
        payload = payload if isinstance(payload, dict) else {}
        code = payload.get("error") or f"http_{response.status_code}"
        description = payload.get("error_description") or payload.get("errorDescription") or ""
        name = self.provider.name
        message = (
            f"workspace '{self.workspace}': {name}'s token endpoint refused the request "
            f"(HTTP {response.status_code} {code}: {description})"
        )
        if code == "invalid_client":
            settings = self.provider.client_settings or f"the {name} OAuth app's settings"
            message += (
                f"; the OAuth client_id/client_secret are wrong: check the env vars named in the "
                f"workspace's oauth block against {settings}"
            )
        else:
            message += f"; re-run the OAuth bootstrap: {self.provider.bootstrap_for(self.workspace)}"
        return self.provider.error(
            redact(message, self._secrets()), status=response.status_code, code=code, workspace=self.workspace
        )


def authorize_url(
    provider: OAuthProvider,
    client_id: str,
    redirect_uri: str | None = None,
    state: str | None = None,
    *,
    scope: str | None = None,
) -> str:
    """The URL a person opens to approve the integration; ``scope`` overrides the provider's."""
    query = {"client_id": client_id, "response_type": "code"}
    if redirect_uri:
        query["redirect_uri"] = redirect_uri
    if state:
        query["state"] = state
    scope = scope or provider.scope
    if scope:
        query["scope"] = scope
    separator = "&" if "?" in provider.authorize_url else "?"
    return f"{provider.authorize_url}{separator}{urlencode(query)}"


def exchange_code(
    code: str,
    *,
    provider: OAuthProvider,
    client_id: str,
    client_secret: str,
    store: TokenStore | str | Path,
    redirect_uri: str | None = None,
    workspace: str | None = None,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> TokenState:
    """Trade an authorization code for tokens and save them in the store."""
    workspace = workspace or _default_workspace(provider)
    store = _store_for(store, provider, workspace)
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "client_secret": client_secret}
    if redirect_uri:
        form["redirect_uri"] = redirect_uri
    endpoint = _TokenEndpoint(
        provider,
        workspace=workspace,
        secrets=lambda: [client_secret, code],
        transport=transport,
        retry=RetryPolicy(max_attempts=3),
    )
    with endpoint:
        payload = endpoint.post(form)
    access, refresh, expires_in, host = parse_token_answer(payload)
    if not refresh:
        hint = f" (was the scope '{provider.scope}' granted?)" if provider.scope else ""
        raise provider.error(
            f"workspace '{workspace}': {provider.name}'s token answer has no refresh_token{hint}",
            code="no_refresh_token",
            workspace=workspace,
        )
    with store.lock():
        old = store.load() if store.path.exists() else None
        state = TokenState(
            access, refresh, clock() + expires_in, host, proven=True, generation=(old.generation + 1) if old else 1
        )
        store.save(state, "exchanged")
    log.info("workspace %s: stored %s OAuth tokens in %s%s", workspace, provider.name, store.path, _on_host(host))
    return state


def _on_host(host: str | None) -> str:
    return f" (host {host})" if host else ""
