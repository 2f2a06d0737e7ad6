"""The HTTP behaviour every API client shares: bounded retries with backoff on transient
failures, rate-limit waits, request counting, and errors that never carry a secret.

Clients subclass :class:`ApiSession` and supply what differs per API: how to read a rate-limit
answer, and how to turn an error response into a message that names the fix.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret of six or more characters replaced by ``***``; an answer (or a
    proxy) may echo a token back, and such text must not reach a log or a traceback."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


def header_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A delay header (``Retry-After``) as seconds: a number, or an HTTP date; None when absent or unreadable
    (a proxy or an API change may send anything: the caller falls back to its default wait)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def header_epoch(value: str | None) -> float | None:
    """An epoch-seconds header (ClickUp's ``X-RateLimit-Reset``); None when absent or not a finite number."""
    if value is None:
        return None
    try:
        epoch = float(value.strip())
    except ValueError:
        return None
    return epoch if math.isfinite(epoch) else None


class SourceApiError(RuntimeError):
    """An API call failed for good. ``str()`` names the workspace, the code and the likely fix."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        workspace: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.workspace = workspace
        self.retryable = retryable


@dataclass
class RequestStats:
    """What a run cost: every HTTP attempt, split by outcome."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited_responses": self.rate_limited,
            "rate_limit_wait_seconds": round(self.waited_seconds, 2),
        }


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_rate_limit_wait: float = 300.0  # give up on a rate limit only after this much waiting

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay * (0.5 + random.random() / 2)


class ApiSession:
    """A retrying JSON client bound to one API base URL and one credential."""

    source = "api"
    error_class: type[SourceApiError] = SourceApiError

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.workspace = workspace
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self._sleep = sleep
        self._rate_waited = 0.0
        # Redirects are never followed: the credential would go to whatever address the answer names.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, follow_redirects=False
        )

    # --- hooks -------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited response, or None if it is not one."""
        if response.status_code == 429:
            wait = header_seconds(response.headers.get("Retry-After"))
            return 1.0 if wait is None else wait
        return None

    def pace(self, response: httpx.Response) -> float:
        """Seconds to pause after a successful response, to avoid the next 429. Default none."""
        return 0.0

    def refresh_auth(self, response: httpx.Response) -> bool:
        """Called on 401; return True when credentials were refreshed and the call may be retried."""
        return False

    def error_for(self, response: httpx.Response, payload: Any) -> SourceApiError:
        return SourceApiError(
            f"workspace '{self.workspace}': {self.source} answered HTTP {response.status_code} "
            f"on {response.request.method} {response.request.url.path}",
            status=response.status_code,
            workspace=self.workspace,
        )

    # --- the call ----------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None, data: Any = None) -> Any:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self._http.request(
                    method, path, params=params, json=json_body, data=data, headers=self.auth_headers()
                )
            except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as exc:
                # Not transient: the request itself cannot be sent (a header value with a line break or
                # another character HTTP forbids, typically a pasted token; a base_url without http(s)).
                # The transport's message may quote the header, so it is neither kept nor chained.
                raise self.error_class(
                    f"workspace '{self.workspace}': {self.source} could not be called ({type(exc).__name__} on "
                    f"{method} {path}): the request is malformed; check that the token's env var holds the token "
                    "alone (no line breaks or other control characters) and that base_url is an http(s) URL",
                    workspace=self.workspace,
                    code="BAD_REQUEST_SETUP",
                ) from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                self._retry_or_raise(attempt, f"{type(exc).__name__} on {method} {path}")
                continue
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1

            wait = self.rate_limit_wait(response)
            if wait is not None:
                self.stats.rate_limited += 1
                self._wait_for_rate_limit(wait, path)
                attempt -= 1  # a rate-limit wait is not a failed attempt
                continue
            if status in TRANSIENT_STATUSES:
                self._retry_or_raise(attempt, f"HTTP {status} on {method} {path}", status=status)
                continue
            if 300 <= status < 400:
                raise self.redirect_error(response)
            if status == 401 and not refreshed and self.refresh_auth(response):
                refreshed = True
                attempt -= 1
                continue
            try:
                payload = response.json() if response.content else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                if status < 400:
                    # A 2xx body that does not parse was cut off or replaced on the way: retry.
                    self._retry_or_raise(attempt, f"unreadable body on {method} {path}", status=status)
                    continue
                payload = None
            if status >= 400:
                raise self.error_for(response, payload)
            pause = self.pace(response)
            if pause > 0:
                self._wait_for_rate_limit(pause, path)
            return payload

    def redirect_error(self, response: httpx.Response) -> SourceApiError:
        """A 3xx is a configuration error: base_url is not the API's own address. Never followed, never
        retried, so the credential is not sent to the address the answer names."""
        target = httpx.URL(response.headers.get("Location", ""))
        where = f" to {target.scheme}://{target.host}" if target.host else ""
        return self.error_class(
            f"workspace '{self.workspace}': {self.source} answered HTTP {response.status_code} (a redirect{where}) "
            f"to {response.request.method} {response.request.url.path}; configuration error: base_url "
            f"({self._http.base_url}) is not the API's address (an http URL redirected to https, another host or "
            "data center, a proxy): set base_url to the address the API answers on itself; redirects are not "
            "followed, so the token was not sent on",
            status=response.status_code,
            code="REDIRECT",
            workspace=self.workspace,
        )

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params)

    def _retry_or_raise(self, attempt: int, what: str, status: int | None = None) -> None:
        if attempt >= self.retry.max_attempts:
            # Called while handling a transport error: never chain it (its text may quote a request header).
            raise self.error_class(
                f"workspace '{self.workspace}': {self.source} kept failing ({what}) after "
                f"{attempt} attempts; the service may be down, retry the run later",
                status=status,
                workspace=self.workspace,
                retryable=True,
            ) from None
        self.stats.retries += 1
        self._sleep(self.retry.backoff(attempt))

    def _wait_for_rate_limit(self, seconds: float, path: str) -> None:
        seconds = max(0.0, seconds)
        if self._rate_waited + seconds > self.retry.max_rate_limit_wait:
            raise self.error_class(
                f"workspace '{self.workspace}': {self.source} rate limit still in force on {path} "
                f"(another {seconds:.0f}s to wait after {self._rate_waited:.0f}s, over the "
                f"{self.retry.max_rate_limit_wait:.0f}s this run may wait); "
                "another integration may share this token: give the sync its own token or run it less often",
                status=429,
                code="RATE_LIMITED",
                workspace=self.workspace,
                retryable=True,
            )
        self._rate_waited += seconds
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
