"""The Wrike API v4 session under :class:`~cascade_sync_pipeline.wrike.client.WrikeClient`: credentials,
the host to call, rate limits, errors, and reading Wrike's answers and pages.

Built on :class:`ApiSession` (retries, rate-limit waits, request counting). Wrike specifics:
``Authorization: bearer <token>`` with a permanent token or an :class:`OAuthSession` (refreshed
before expiry and on 401; the ``host`` of the token answer is used for every call); a 429 waits
``Retry-After`` or backs off; redirects are refused; secrets are redacted from every error; paged
queries follow ``nextPageToken`` to the end. Plain Python: no Dagster imports.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, Self

import httpx

from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, header_seconds
from cascade_sync_pipeline.wrike.errors import WrikeApiError, describe, redact, wrap
from cascade_sync_pipeline.wrike.oauth import OAuthSession, TokenStore, bootstrap_hint

MAX_PAGE_SIZE = 1000
DEFAULT_OVERLAP = timedelta(minutes=5)


class WrikeSession(ApiSession):
    """One Wrike account, seen through one credential, for one workspace of the config."""

    source = "wrike"

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        token: str | None = None,
        oauth: OAuthSession | None = None,
        token_env: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        overlap: timedelta = DEFAULT_OVERLAP,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (token is None) == (oauth is None):
            raise ValueError("give exactly one of token= (a permanent token) or oauth= (an OAuthSession)")
        super().__init__(base_url, workspace=workspace, timeout=timeout, retry=retry, sleep=sleep, transport=transport)
        self.configured_base_url = base_url.rstrip("/")
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.overlap = overlap
        self._token = token.strip() if token is not None else None
        self._oauth = oauth
        self._token_env = token_env
        self._consecutive_429 = 0
        self._http.event_hooks["response"] = [self._refuse_redirect]
        self._follow_host()

    @classmethod
    def from_workspace(cls, ws: Any, *, env: Mapping[str, str] | None = None, **kwargs: Any) -> Self:
        """A client for a ``WrikeWorkspace`` of the config, reading secrets from ``env`` (default os.environ)."""
        env = os.environ if env is None else env
        oauth_cfg = getattr(ws, "oauth", None)
        if oauth_cfg is not None:
            missing = [n for n in (oauth_cfg.client_id_env, oauth_cfg.client_secret_env) if not env.get(n)]
            if missing:
                raise WrikeApiError(
                    f"workspace '{ws.key}': env var(s) {', '.join(missing)} (the Wrike OAuth client "
                    "id/secret from the App Console) are not set",
                    code="missing_secret",
                    workspace=ws.key,
                )
            session = OAuthSession(
                TokenStore(oauth_cfg.token_store),
                client_id=env[oauth_cfg.client_id_env].strip(),
                client_secret=env[oauth_cfg.client_secret_env].strip(),
                login_url=oauth_cfg.login_url,
                workspace=ws.key,
            )
            return cls(ws.base_url, workspace=ws.key, oauth=session, **kwargs)
        token = (env.get(ws.token_env or "") or "").strip()  # a pasted token often ends in a newline
        if not token:
            raise WrikeApiError(
                f"workspace '{ws.key}': env var {ws.token_env} is not set; put the Wrike permanent "
                "access token there (Wrike App Console > your app > Obtain token)",
                code="missing_secret",
                workspace=ws.key,
            )
        return cls(ws.base_url, workspace=ws.key, token=token, token_env=ws.token_env, **kwargs)

    def __repr__(self) -> str:
        auth = "oauth" if self._oauth else "permanent token"
        return f"{type(self).__name__}(workspace='{self.workspace}', base_url='{self._http.base_url}', auth='{auth}')"

    # --- ApiSession hooks ----------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._oauth is None:
            return {"Authorization": f"bearer {self._token}"}
        token = self._oauth.access_token()
        self._follow_host()
        return {"Authorization": f"bearer {token}"}

    def refresh_auth(self, response: httpx.Response) -> bool:
        if self._oauth is None:
            return False
        self._oauth.refresh(rejected=_token_of(response.request))
        self._follow_host()
        return True

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            return None
        self._consecutive_429 += 1
        retry_after = header_seconds(response.headers.get("Retry-After"))  # seconds or an HTTP date
        if retry_after is not None:
            return min(retry_after, 3600.0)
        return min(30.0, 2.0 ** (self._consecutive_429 - 1))

    def pace(self, response: httpx.Response) -> float:
        self._consecutive_429 = 0
        if self._oauth is not None:
            self._oauth.confirm(_token_of(response.request))
        return 0.0

    def error_for(self, response: httpx.Response, payload: Any) -> SourceApiError:
        payload = payload if isinstance(payload, dict) else {}
        code = _text(payload.get("error"))
        message, retryable = describe(
            workspace=self.workspace,
            status=response.status_code,
            code=code,
            description=_text(payload.get("errorDescription")),
            method=response.request.method,
            path=response.request.url.path,
            auth_fix=self._auth_fix(),
            base_url=self.configured_base_url,
        )
        return WrikeApiError(
            redact(message, self._secrets()),
            status=response.status_code,
            code=code,
            workspace=self.workspace,
            retryable=retryable,
        )

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None, data: Any = None) -> Any:
        try:
            return super().request(method, path, params=params, json_body=json_body, data=data)
        except WrikeApiError as exc:
            exc.args = (redact(str(exc), self._secrets()),)
            raise
        except SourceApiError as exc:
            raise wrap(exc, self._secrets()) from None

    # --- answers and pages -------------------------------------------------------------------------
    def iter_tasks(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        """Follow ``nextPageToken`` to the end (repeating the filters, as Wrike's staff advise)."""
        seen_tokens: set[str] = set()
        query = dict(params, pageSize=self.page_size)
        while True:
            answer = self.get(path, query)
            page = self._data(answer)
            yield from page
            token = answer.get("nextPageToken") if isinstance(answer, dict) else None
            if not token or not page:
                return
            if token in seen_tokens:
                raise WrikeApiError(
                    f"workspace '{self.workspace}': Wrike repeated a nextPageToken on {path}; "
                    "stopping to avoid a loop, retry the run",
                    code="paging_loop",
                    workspace=self.workspace,
                    retryable=True,
                )
            seen_tokens.add(token)
            query = dict(params, pageSize=self.page_size, nextPageToken=token)

    def _data(self, answer: Any, of: str | None = None) -> list[dict]:
        """The answer's data list; ``of`` names what it lists when every entry must carry an id (tasks
        are checked one by one by the extract, which skips and reports the bad ones)."""
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise WrikeApiError(
                f"workspace '{self.workspace}': Wrike answered without a data list; the base_url "
                f"({self.configured_base_url}) may not point at the Wrike API v4",
                code="unexpected_answer",
                workspace=self.workspace,
                retryable=True,
            )
        for entry in answer["data"] if of else ():
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
                title = entry.get("title") if isinstance(entry, dict) else None
                raise WrikeApiError(
                    f"workspace '{self.workspace}': Wrike answered with a {of} without an id (title "
                    f"{str(title)[:80]!r}); nothing was stored or replaced. Retry the run; if it persists, the "
                    "object is damaged in Wrike",
                    code="unexpected_answer",
                    workspace=self.workspace,
                    retryable=True,
                )
        return answer["data"]

    # --- internals ---------------------------------------------------------------------------------
    def _follow_host(self) -> None:
        host = self._oauth.host if self._oauth is not None else None
        if not host:
            return
        target = api_base_for_host(host, self.configured_base_url)
        if str(self._http.base_url).rstrip("/") != target:
            self._http.base_url = target

    def _refuse_redirect(self, response: httpx.Response) -> None:
        if 300 <= response.status_code < 400:
            response.read()
            raise self.error_for(response, _json_or_none(response))

    def _auth_fix(self) -> str:
        if self._oauth is not None:
            return (
                f"the OAuth refresh failed or the grant was revoked; re-run the OAuth bootstrap: "
                f"{bootstrap_hint(self.workspace)}"
            )
        where = f"env {self._token_env}" if self._token_env else "the token passed to the client"
        return f"replace the permanent token in {where} (Wrike App Console > your app > Obtain token)"

    def _secrets(self) -> list[str]:
        found = [self._token] if self._token else []
        if self._oauth is not None:
            found += self._oauth.secrets()
        return found

    def close(self) -> None:
        super().close()
        if self._oauth is not None:
            self._oauth.close()


def api_base_for_host(host: str, configured_base_url: str) -> str:
    """``{scheme}://{host}/api/v4``, keeping the configured scheme (https in production)."""
    if "://" in host:
        return host.rstrip("/") + ("" if host.rstrip("/").endswith("/api/v4") else "/api/v4")
    scheme = httpx.URL(configured_base_url).scheme or "https"
    return f"{scheme}://{host}/api/v4"


def _token_of(request: httpx.Request) -> str:
    return request.headers.get("Authorization", "").partition(" ")[2]


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    """An error field as text: Wrike sends strings, but a proxy or an API change may send anything."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)[:200]
