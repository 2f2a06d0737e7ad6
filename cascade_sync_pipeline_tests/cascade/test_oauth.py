"""The generic OAuth 2.0 module against a tiny standard token server on loopback, shaped like Cascade's:
RFC 6749 form posts, ``error``/``error_description`` errors, no ``host`` in the token answer, and a
switch for whether refresh tokens rotate (Cascade's behaviour is not known, so both must work)."""

from __future__ import annotations

import json
import logging
import secrets
import stat
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from flask import Flask, jsonify, redirect, request

from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.oauth import (
    OAuthProvider,
    OAuthSession,
    TokenStore,
    authorize_url,
    exchange_code,
    run_bootstrap,
)
from cascade_sync_sandbox.server import EmulatorServer

CLIENT_ID = "cascade-test-client"
CLIENT_SECRET = "Zr8TqW3nLk5YpV2xBm7HcD4gJs9Fa1Eu6Qo0Ni3Rt8Ky"
REDIRECT = "http://localhost:9/callback"
SCOPE = "openid profile email offline_access"
BOOTSTRAP = "cascade-sync cascade authorize, then cascade-sync cascade exchange --code <code>"


class CascadeTestAuthError(SourceApiError):
    """Stands in for the Cascade client's auth error: the provider decides what is raised."""


class TokenServer:
    """A standard OAuth 2.0 authorization server plus one protected endpoint (``/api/me``).

    Refused refresh tokens are echoed in ``error_description`` (some servers do), so the tests see
    that the client redacts what the server sends back.
    """

    def __init__(self, *, rotate: bool, expires_in: int = 3600) -> None:
        self.rotate = rotate
        self.expires_in = expires_in
        self.codes: dict[str, str] = {}
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.grants: list[str] = []
        self.scopes: list[str | None] = []
        self._lock = threading.Lock()

    def app(self) -> Flask:
        app = Flask("oauth-test-server")
        app.get("/authorize")(self._authorize)
        app.post("/oauth/token")(self._token)
        app.get("/api/me")(self._me)
        return app

    def revoke(self, token: str) -> None:
        with self._lock:
            self.access.discard(token)
            self.refresh.discard(token)

    def _authorize(self):
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code" or not args.get("redirect_uri"):
            return jsonify({"error": "invalid_request"}), 400
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.codes[code] = args["redirect_uri"]
            self.scopes.append(args.get("scope"))
        return redirect(f"{args['redirect_uri']}?code={code}&state={args.get('state', '')}", code=302)

    def _token(self):
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return jsonify({"error": "invalid_client", "error_description": "Unauthorized"}), 401
        grant = form.get("grant_type")
        with self._lock:
            self.grants.append(grant)
            if grant == "authorization_code":
                if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                    return jsonify({"error": "invalid_grant", "error_description": "Invalid authorization code"}), 403
                return jsonify(self._issue(with_refresh=True))
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self.refresh:
                    return jsonify(
                        {"error": "invalid_grant", "error_description": f"Unknown or invalid refresh token {token}"}
                    ), 403
                if self.rotate:
                    self.refresh.discard(token)
                return jsonify(self._issue(with_refresh=self.rotate))
        return jsonify({"error": "unsupported_grant_type"}), 400

    def _issue(self, *, with_refresh: bool) -> dict:
        answer = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": SCOPE,
            "id_token": "eyJ.not-checked.here",
        }
        self.access.add(answer["access_token"])
        if with_refresh:
            answer["refresh_token"] = secrets.token_urlsafe(24)
            self.refresh.add(answer["refresh_token"])
        return answer

    def _me(self):
        token = request.headers.get("Authorization", "").partition(" ")[2]
        if token not in self.access:
            return jsonify({"error": "invalid_token"}), 401
        return jsonify({"ok": True})


def _serve(rotate: bool):
    server = TokenServer(rotate=rotate)
    http = EmulatorServer(server.app(), port=0).start()
    provider = OAuthProvider(
        name="Cascade",
        authorize_url=f"{http.url}/authorize",
        token_url=f"{http.url}/oauth/token",
        scope=SCOPE,
        bootstrap=BOOTSTRAP,
        error_class=CascadeTestAuthError,
    )
    return server, http, provider


@pytest.fixture
def rotating():
    server, http, provider = _serve(rotate=True)
    yield server, http, provider
    http.stop()


@pytest.fixture
def fixed():
    server, http, provider = _serve(rotate=False)
    yield server, http, provider
    http.stop()


def _bootstrap(provider: OAuthProvider, store: Path, clock=None):
    """Approve (the test server consents at once) and trade the code for tokens."""
    url = authorize_url(provider, CLIENT_ID, REDIRECT, "st4te")
    query = parse_qs(urlparse(url).query)
    assert query == {
        "client_id": [CLIENT_ID],
        "response_type": ["code"],
        "redirect_uri": [REDIRECT],
        "state": ["st4te"],
        "scope": [SCOPE],
    }
    location = parse_qs(urlparse(httpx.get(url).headers["Location"]).query)
    assert location["state"] == ["st4te"]
    extra = {"clock": clock} if clock else {}
    return exchange_code(
        location["code"][0],
        provider=provider,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        store=store,
        redirect_uri=REDIRECT,
        workspace="cascade",
        **extra,
    )


def _session(provider: OAuthProvider, store: Path, **kwargs) -> OAuthSession:
    return OAuthSession(
        store, provider=provider, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, workspace="cascade", **kwargs
    )


def _me(http: EmulatorServer, token: str) -> int:
    return httpx.get(f"{http.url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _stored(store: Path) -> dict:
    return json.loads(store.read_text())["state"]


def test_exchanges_a_code_and_refreshes_before_expiry(rotating, tmp_path):
    server, http, provider = rotating
    store = tmp_path / "cascade.tokens.json"
    now = [1_000_000.0]
    state = _bootstrap(provider, store, clock=lambda: now[0])
    assert state.host is None and state.expires_at == now[0] + 3600
    assert server.scopes == [SCOPE] and server.grants == ["authorization_code"]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600

    session = _session(provider, store, clock=lambda: now[0])
    first = session.access_token()
    assert first == state.access_token and session.refreshes == 0 and _me(http, first) == 200
    now[0] += 3600 - 60  # inside the two-minute refresh margin
    second = session.access_token()
    assert second != first and session.refreshes == 1 and server.grants[-1] == "refresh_token"
    on_disk = _stored(store)
    assert on_disk["refresh_token"] != state.refresh_token and on_disk["host"] is None
    assert not on_disk["proven"] and on_disk["previous_refresh_token"] == state.refresh_token
    assert _me(http, second) == 200
    session.confirm(second)  # the new pair works: the spent refresh token is dropped
    assert _stored(store)["proven"] and _stored(store)["previous_refresh_token"] is None
    session.close()


def test_refreshes_on_a_rejected_token_from_a_server_that_does_not_rotate(fixed, tmp_path):
    server, http, provider = fixed
    store = tmp_path / "cascade.tokens.json"
    original = _bootstrap(provider, store).refresh_token
    session = _session(provider, store)
    token = session.access_token()
    server.revoke(token)  # e.g. Cascade ended the session early
    assert _me(http, token) == 401
    session.refresh(rejected=token)
    fresh = session.access_token()
    assert fresh != token and _me(http, fresh) == 200
    on_disk = _stored(store)
    assert on_disk["refresh_token"] == original and on_disk["proven"] and on_disk["previous_refresh_token"] is None
    session.confirm(fresh)
    session.refresh(rejected=fresh)  # the kept refresh token works again, in this process ...
    session.close()
    later = _session(provider, store)  # ... and in the next one
    later.refresh(rejected=later.access_token())
    assert _me(http, later.access_token()) == 200 and _stored(store)["refresh_token"] == original
    assert server.grants.count("refresh_token") == 3
    later.close()


def test_invalid_grant_names_the_provider_and_its_bootstrap_without_secrets(rotating, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server, http, provider = rotating
    store = tmp_path / "cascade.tokens.json"
    state = _bootstrap(provider, store)
    session = _session(provider, store)
    server.revoke(state.refresh_token)  # the grant was withdrawn in Cascade
    server.revoke(state.access_token)
    with pytest.raises(CascadeTestAuthError) as err:
        session.refresh(rejected=state.access_token)
    text = str(err.value)
    assert err.value.code == "invalid_grant" and err.value.workspace == "cascade"
    assert "workspace 'cascade'" in text and "Cascade refused" in text and BOOTSTRAP in text
    refused = server.grants.count("refresh_token")
    assert refused == 1  # a proven pair has no previous refresh token to fall back to
    everything = text + caplog.text + repr(session) + repr(session.state) + repr(session.store)
    for secret in (CLIENT_SECRET, state.access_token, state.refresh_token):
        assert secret not in everything
    session.close()


def test_token_endpoint_errors_are_redacted_and_name_the_fix(rotating, tmp_path):
    server, http, provider = rotating
    store = tmp_path / "cascade.tokens.json"
    state = _bootstrap(provider, store)
    wrong = OAuthSession(
        store, provider=provider, client_id=CLIENT_ID, client_secret="not-the-secret-123", workspace="cascade"
    )
    with pytest.raises(CascadeTestAuthError) as err:
        wrong.refresh()
    assert err.value.code == "invalid_client" and "client_id/client_secret" in str(err.value)
    assert "not-the-secret-123" not in str(err.value) and state.refresh_token not in str(err.value)
    wrong.close()
    server.revoke(state.refresh_token)  # the server now echoes the refused token in error_description
    session = _session(provider, store)
    with pytest.raises(CascadeTestAuthError) as err:
        session.refresh()
    assert "invalid_grant" in str(err.value) and state.refresh_token not in str(err.value)
    session.close()


def test_run_bootstrap_prints_the_url_stores_tokens_and_reports_status(fixed, tmp_path, capsys):
    server, http, provider = fixed
    store = tmp_path / "cascade.tokens.json"
    assert (
        run_bootstrap(
            "authorize", provider, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="abc", workspace="cascade"
        )
        == 0
    )
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"{http.url}/authorize?") and "state=abc" in url and "offline_access" in url
    code = parse_qs(urlparse(httpx.get(url).headers["Location"]).query)["code"][0]
    kwargs = dict(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_store=store,
        redirect_uri=REDIRECT,
        code=code,
        workspace="cascade",
    )
    assert run_bootstrap("exchange", provider, **kwargs) == 0
    out = capsys.readouterr()
    assert f"stored tokens in {store}" in out.out and "host" not in out.out
    assert run_bootstrap("exchange", provider, **kwargs) == 1  # a code works once
    out = capsys.readouterr()
    assert "invalid_grant" in out.err and BOOTSTRAP in out.err and CLIENT_SECRET not in out.out + out.err
    assert run_bootstrap("status", provider, token_store=TokenStore(store), workspace="cascade") == 0
    assert "expires in" in capsys.readouterr().out
