"""The sandbox's OAuth 2.0 authorization-code server for the Integrations API, and its tokens.

The connector authorizes at ``https://integrations-router.go.cascade.app/authorize`` and gets and
refreshes tokens at ``https://auth.go.cascade.app/oauth/token`` with scope ``openid profile email
offline_access``. The sandbox serves both paths on its one loopback server:

* ``GET /authorize?client_id&redirect_uri&response_type=code&state&scope`` approves at once for a
  known client (the sandbox user always consents) and redirects to ``redirect_uri?code&state``.
  An unknown client or a missing redirect URI answers 400 without redirecting (RFC 6749 §4.1.2.1);
  other errors are redirected as ``?error=...&state=...``.
* ``POST /oauth/token`` (form or JSON body; client credentials in the body or HTTP Basic) with
  ``grant_type=authorization_code`` or ``refresh_token`` answers ``{access_token, refresh_token,
  expires_in, token_type: "Bearer", scope}``; errors ``{error, error_description}`` with 400, or 401
  for ``invalid_client``.

Time comes from :class:`Clock`, which tests move with ``advance(seconds)``.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit

CONNECTOR_SCOPE = "openid profile email offline_access"
KNOWN_SCOPES = frozenset(CONNECTOR_SCOPE.split())
ACCESS_PREFIX = "cio_at_"
REFRESH_PREFIX = "cio_rt_"


class OAuthError(Exception):
    """An RFC 6749 error answer: status, ``error`` code and ``error_description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


class Clock:
    """Wall time plus an offset that tests can move forward, so that expiry needs no sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self()


@dataclass
class _Client:
    secret: str
    user: str


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    expires_at: float


@dataclass
class _Refresh:
    client_id: str
    scope: str
    user: str


class OAuthServer:
    """Registered clients, pending codes and the access and refresh tokens issued from them."""

    def __init__(
        self, clock: Clock, *, access_token_ttl: float = 3600, rotate_refresh_tokens: bool = True, code_ttl: float = 600
    ) -> None:
        self.clock = clock
        self.access_token_ttl = access_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.code_ttl = code_ttl
        self.issued = 0  # token answers given
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (user, expires_at)
        self._refresh: dict[str, _Refresh] = {}

    def add_client(self, client_id: str, secret: str, user: str) -> None:
        with self._lock:
            self._clients[client_id] = _Client(secret, user)

    # --- the API side --------------------------------------------------------------------------
    def user_of(self, access_token: str) -> str | None:
        """The user an issued access token acts as, or None when unknown or expired."""
        with self._lock:
            found = self._access.get(access_token)
        if found is None or self.clock() >= found[1]:
            return None
        return found[0]

    def expire_access_tokens(self) -> int:
        with self._lock:
            for token, (user, _) in self._access.items():
                self._access[token] = (user, 0.0)
            return len(self._access)

    def revoke(self, token: str) -> bool:
        with self._lock:
            return (self._access.pop(token, None) or self._refresh.pop(token, None)) is not None

    def is_live_refresh_token(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh

    # --- GET /authorize --------------------------------------------------------------------------
    def authorize(self, values: dict) -> str:
        """Validate an authorize request; return the redirect location (with a code or an error)."""
        client_id = values.get("client_id")
        with self._lock:
            client = self._clients.get(client_id or "")
        if client is None:
            raise OAuthError(400, "invalid_client", f"Unknown client_id {client_id!r}")
        redirect_uri = values.get("redirect_uri") or ""
        if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
            raise OAuthError(400, "invalid_request", "redirect_uri is required and must be an absolute http(s) URL")
        extra = {"state": values["state"]} if values.get("state") is not None else {}
        if values.get("response_type") != "code":
            return _with_query(
                redirect_uri,
                {
                    "error": "unsupported_response_type",
                    "error_description": "only response_type=code is supported",
                    **extra,
                },
            )
        scope = values.get("scope") or CONNECTOR_SCOPE
        unknown = set(scope.split()) - KNOWN_SCOPES
        if unknown:
            return _with_query(
                redirect_uri,
                {"error": "invalid_scope", "error_description": f"unknown scope {sorted(unknown)}", **extra},
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, scope, client.user, self.clock() + self.code_ttl)
        return _with_query(redirect_uri, {"code": code, **extra})

    # --- POST /oauth/token -----------------------------------------------------------------------
    def token(self, values: dict, authorization: str | None = None) -> dict:
        """Answer a token request of either grant, or raise :class:`OAuthError`."""
        client_id, _ = self._authenticate_client(values, authorization)
        grant = values.get("grant_type")
        if grant == "authorization_code":
            (user, scope), refresh = self._redeem_code(client_id, values), None
        elif grant == "refresh_token":
            user, scope, refresh = self._spend_refresh_token(client_id, values)
        elif not grant:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        else:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
        return self._issue(client_id, user, scope, refresh)

    def _authenticate_client(self, values: dict, authorization: str | None) -> tuple[str, _Client]:
        client_id, secret = values.get("client_id"), values.get("client_secret")
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                basic_id, _, basic_secret = decoded.partition(":")
                client_id, secret = unquote(basic_id), unquote(basic_secret)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed HTTP Basic credentials") from None
        with self._lock:
            client = self._clients.get(client_id or "")
        if client is None or not secrets.compare_digest(str(secret or ""), client.secret):
            raise OAuthError(401, "invalid_client", "client authentication failed (client_id or client_secret)")
        return client_id, client

    def _redeem_code(self, client_id: str, values: dict) -> tuple[str, str]:
        code = values.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "code is required")
        with self._lock:
            grant = self._codes.pop(code, None)  # single use, even when the request then fails
        if grant is None or grant.expires_at <= self.clock():
            raise OAuthError(400, "invalid_grant", "authorization code is invalid, expired or already used")
        if grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "authorization code was issued to another client")
        if values.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the one used to authorize")
        return grant.user, grant.scope

    def _spend_refresh_token(self, client_id: str, values: dict) -> tuple[str, str, str | None]:
        token = values.get("refresh_token")
        if not token:
            raise OAuthError(400, "invalid_request", "refresh_token is required")
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None:
                raise OAuthError(400, "invalid_grant", "refresh token is invalid, revoked or already used")
            if grant.client_id != client_id:
                raise OAuthError(400, "invalid_grant", "refresh token was issued to another client")
            if self.rotate_refresh_tokens:
                del self._refresh[token]
                return grant.user, grant.scope, None
        return grant.user, grant.scope, token

    def _issue(self, client_id: str, user: str, scope: str, keep_refresh: str | None) -> dict:
        access = ACCESS_PREFIX + secrets.token_urlsafe(32)
        answer = {"access_token": access}
        with self._lock:
            self._access[access] = (user, self.clock() + self.access_token_ttl)
            if "offline_access" in scope.split():
                refresh = keep_refresh or REFRESH_PREFIX + secrets.token_urlsafe(32)
                self._refresh[refresh] = _Refresh(client_id, scope, user)
                answer["refresh_token"] = refresh
            self.issued += 1
        answer.update({"expires_in": int(self.access_token_ttl), "token_type": "Bearer", "scope": scope})
        return answer


def _with_query(url: str, values: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(values)
