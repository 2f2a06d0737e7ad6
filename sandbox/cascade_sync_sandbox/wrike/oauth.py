"""The sandbox's Wrike OAuth 2.0 server (authorization-code flow) and token registry.

* ``GET /oauth2/authorize[/v4]?client_id&response_type=code[&redirect_uri][&state]`` consents at
  once (the sandbox user always says yes) and redirects to ``redirect_uri?code=...&state=...``.
* ``POST /oauth2/token`` (form body or query) with ``grant_type=authorization_code`` (``code``,
  ``client_id``, ``client_secret``, ``redirect_uri`` if the authorize step had one) or
  ``grant_type=refresh_token`` answers ``{access_token, refresh_token, token_type, expires_in,
  host}``. Codes are single-use and live ``code_ttl`` seconds; access tokens ``access_token_ttl``.
* Refresh tokens rotate: a refresh token stops working once it has been used, and the answer
  carries a new one. ``refresh_reuse_grace`` (default 0: strict) lets a just-used refresh token be
  used again for that many seconds, as some providers do so that a lost token answer is not fatal.
* ``host`` is the host the API must be called on: ``token_host`` when set, else the host the
  token request came to.

Errors use Wrike's shape ``{"errorDescription", "error"}`` with the OAuth codes
(``invalid_client``, ``invalid_grant``, ``invalid_request``, ``unsupported_grant_type``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from cascade_sync_sandbox.wrike.protocol import ApiError

TOKEN_PREFIX = "eyJ0dCI6InAiLCJhbGciOiJIUzI1NiIsInR2IjoiMSJ9."
DEFAULT_REDIRECT_URI = "http://localhost:8787/wrike/callback"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str | None
    expires_at: float


@dataclass
class _Spent:
    used_at: float


class OAuthServer:
    """Tokens the sandbox accepts: the permanent token and the OAuth pairs it has issued."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        permanent_token: str,
        access_token_ttl: float = 3600,
        refresh_reuse_grace: float = 0.0,
        code_ttl: float = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.refresh_reuse_grace = refresh_reuse_grace
        self.code_ttl = code_ttl
        self.token_host: str | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._permanent = {permanent_token}
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._spent: dict[str, _Spent] = {}
        self._codes: dict[str, _Code] = {}
        self.issued = 0  # token answers given, for tests and figures

    def __repr__(self) -> str:
        return f"OAuthServer(client_id='{self.client_id}', live_access_tokens={len(self._access)})"

    # --- the API side --------------------------------------------------------------------------
    def is_valid_access_token(self, token: str) -> bool:
        with self._lock:
            if token in self._permanent:
                return True
            expires_at = self._access.get(token)
            return expires_at is not None and self._clock() < expires_at

    # --- test controls -------------------------------------------------------------------------
    def expire_access_tokens(self) -> int:
        """Make every issued access token expired now (the permanent token is unaffected)."""
        with self._lock:
            for token in self._access:
                self._access[token] = 0.0
            return len(self._access)

    def revoke(self, token: str) -> bool:
        """Forget a token of any kind: permanent, access or refresh."""
        with self._lock:
            found = token in self._permanent or token in self._access or token in self._refresh
            self._permanent.discard(token)
            self._access.pop(token, None)
            self._refresh.discard(token)
            self._spent.pop(token, None)
            return found

    def is_live_refresh_token(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh

    # --- the OAuth endpoints -------------------------------------------------------------------
    def authorize(self, values: dict) -> str:
        """Validate an authorize request and return the redirect location with a fresh code."""
        if values.get("client_id") != self.client_id:
            raise ApiError(400, "invalid_client", "Unknown client_id")
        redirect_uri = values.get("redirect_uri")
        target = redirect_uri or DEFAULT_REDIRECT_URI
        extra = {"state": values["state"]} if values.get("state") is not None else {}
        if values.get("response_type", "code") != "code":
            return _with_query(target, {"error": "unsupported_response_type", **extra})
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(self.client_id, redirect_uri, self._clock() + self.code_ttl)
        return _with_query(target, {"code": code, **extra})

    def token(self, values: dict, request_host: str) -> dict:
        """Answer a token request (both grants); raises ApiError with an OAuth code on failure."""
        if values.get("client_id") != self.client_id or not secrets.compare_digest(
            str(values.get("client_secret", "")), self._client_secret
        ):
            raise ApiError(401, "invalid_client", "Client authentication failed (client_id or client_secret)")
        grant = values.get("grant_type")
        if grant == "authorization_code":
            self._redeem_code(values)
        elif grant == "refresh_token":
            self._spend_refresh_token(values)
        elif grant is None:
            raise ApiError(400, "invalid_request", "Parameter 'grant_type' is required")
        else:
            raise ApiError(400, "unsupported_grant_type", f"Grant type '{grant}' is not supported")
        return self._issue(request_host)

    def _redeem_code(self, values: dict) -> None:
        code = values.get("code")
        if not code:
            raise ApiError(400, "invalid_request", "Parameter 'code' is required")
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at < self._clock():
            raise ApiError(400, "invalid_grant", "Authorization code is invalid, expired or already used")
        if grant.redirect_uri is not None and values.get("redirect_uri") != grant.redirect_uri:
            raise ApiError(400, "invalid_grant", "redirect_uri does not match the one used to authorize")

    def _spend_refresh_token(self, values: dict) -> None:
        token = values.get("refresh_token")
        if not token:
            raise ApiError(400, "invalid_request", "Parameter 'refresh_token' is required")
        now = self._clock()
        with self._lock:
            if token in self._refresh:
                self._refresh.discard(token)
                self._spent[token] = _Spent(now)
                return
            spent = self._spent.get(token)
            if spent is not None and now - spent.used_at <= self.refresh_reuse_grace:
                return
        raise ApiError(400, "invalid_grant", "Refresh token is invalid, revoked or already used")

    def _issue(self, request_host: str) -> dict:
        access = TOKEN_PREFIX + secrets.token_urlsafe(48)
        refresh = secrets.token_urlsafe(40)
        with self._lock:
            self._access[access] = self._clock() + self.access_token_ttl
            self._refresh.add(refresh)
            self.issued += 1
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": int(self.access_token_ttl),
            "host": self.token_host or request_host,
        }


def _with_query(url: str, values: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(values)
