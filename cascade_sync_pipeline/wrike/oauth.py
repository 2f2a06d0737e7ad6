"""Wrike OAuth 2.0 for the sync: the one-time bootstrap, refresh during runs, and a token store
that survives a crash at any point of a refresh-token rotation.

Bootstrap (once per workspace, by a person)::

    python -m cascade_sync_pipeline.wrike authorize --workspace KEY --redirect-uri URI
    # open the printed URL, approve, copy ?code=... from the redirect
    python -m cascade_sync_pipeline.wrike exchange --workspace KEY --redirect-uri URI --code CODE

The token answer names the ``host`` of the account's data center; every API call then goes to
``https://{host}/api/v4``.

Why rotation needs care: Wrike answers a refresh with a *new* refresh token and the old one stops
working once used. If the process dies after Wrike rotated but before the new token is safely on
disk, the integration is stranded and a person must bootstrap again. The store is a JSON file
(mode 0600) written atomically: write ``<store>.tmp``, fsync, ``os.replace``, fsync the directory;
each version carries a generation number and a checksum. A refresh runs under a file lock and
goes through these steps (``checkpoint`` names in brackets; tests crash the process at each):

1. Reload the store under the lock. If another process already rotated, adopt its tokens.
2. Save a write-ahead marker (``refresh_started``). This proves the store is writable *before*
   the old refresh token is spent; if it is not, we stop with the old token still valid.
3. POST the refresh [``before_refresh_request``] and receive the new pair
   [``refresh_response_received``].
4. Save the new pair at once, before it is used [``rotated:temp_written``, ``rotated:replaced``],
   keeping the refresh token just spent as ``previous_refresh_token`` and ``proven=false``.
   A crash after the temp file is fsynced but before the rename is recovered on the next load:
   a complete temp file (valid checksum, newer generation) is adopted.
5. The first successful API call with the new access token proves the pair; only then is the
   previous refresh token dropped [``proven:replaced``]. Until then, if the new refresh token is
   refused (``invalid_grant``: e.g. the token server never committed the rotation), the previous
   one is tried.

Crash outcomes: before step 3 the old token is untouched; after step 4 the new one is on disk.
The one window no client can close is between Wrike committing the rotation and step 4's fsync
(the answer exists only in memory). There the next run gets ``invalid_grant`` and a message that
says to re-run the bootstrap (or, against a server with a reuse grace for just-used refresh
tokens, it recovers with the previous token). Secrets never appear in reprs, logs or errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets as _secrets
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import httpx
from filelock import FileLock, Timeout

from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError
from cascade_sync_pipeline.wrike.errors import WrikeAuthError, redact

LOGIN_URL = "https://login.wrike.com"
STORE_VERSION = 1
log = logging.getLogger(__name__)

Checkpoint = Callable[[str], None]


def _no_checkpoint(_step: str) -> None:
    return None


@dataclass
class TokenState:
    """What the store holds. Token fields are kept out of ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    host: str | None
    previous_refresh_token: str | None = field(default=None, repr=False)
    proven: bool = True
    refresh_started_at: float | None = None
    generation: int = 0

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.refresh_token, self.previous_refresh_token) if s]


class TokenStore:
    """One workspace's OAuth tokens in a 0600 JSON file, replaced atomically on every save."""

    def __init__(self, path: str | Path, *, checkpoint: Checkpoint | None = None) -> None:
        self.path = Path(path)
        self.temp_path = self.path.with_name(self.path.name + ".tmp")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._checkpoint = checkpoint or _no_checkpoint

    def __repr__(self) -> str:
        return f"TokenStore('{self.path}')"

    def lock(self, timeout: float = 120.0) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.lock_path), timeout=timeout)

    def load(self) -> TokenState | None:
        """The newest complete version; adopts a fsynced temp file left by a crash. Call under lock."""
        current = self._read(self.path)
        pending = self._read(self.temp_path) if self.temp_path.exists() else None
        if pending is not None and (current is None or pending.generation > current.generation):
            os.replace(self.temp_path, self.path)
            self._fsync_dir()
            log.warning("recovered Wrike tokens from an interrupted save (%s)", self.temp_path)
            return pending
        if self.temp_path.exists():
            try:
                self.temp_path.unlink()  # a torn or stale write; the main file is authoritative
            except OSError:
                pass
        if current is None and self.path.exists():
            raise WrikeAuthError(
                f"token store {self.path} is damaged (bad checksum or not JSON); re-run the OAuth bootstrap "
                "(python -m cascade_sync_pipeline.wrike authorize / exchange)", code="token_store_damaged")
        return current

    def save(self, state: TokenState, step: str) -> None:
        """Write ``state`` atomically (temp + fsync + os.replace + directory fsync), mode 0600."""
        body = asdict(state)
        payload = {"version": STORE_VERSION, "state": body, "sha256": _digest(body)}
        data = json.dumps(payload, indent=1).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._checkpoint(f"{step}:temp_written")
        os.replace(self.temp_path, self.path)
        self._fsync_dir()
        self._checkpoint(f"{step}:replaced")

    def _read(self, path: Path) -> TokenState | None:
        try:
            payload = json.loads(path.read_text())
            body = payload["state"]
            if payload.get("version") != STORE_VERSION or payload.get("sha256") != _digest(body):
                return None
            return TokenState(**body)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class _TokenEndpoint(ApiSession):
    """POSTs to ``{login_url}/oauth2/token`` with ApiSession's retries on transient failures."""

    source = "wrike-oauth"

    def __init__(self, login_url: str, *, workspace: str, secrets: Callable[[], list[str]], **kwargs: Any) -> None:
        super().__init__(login_url, workspace=workspace, **kwargs)
        self._secrets = secrets

    def error_for(self, response: httpx.Response, payload: Any) -> SourceApiError:
        payload = payload if isinstance(payload, dict) else {}
        code = payload.get("error") or f"http_{response.status_code}"
        description = payload.get("errorDescription") or payload.get("error_description") or ""
        message = (f"workspace '{self.workspace}': Wrike's token endpoint refused the request "
                   f"(HTTP {response.status_code} {code}: {description})")
        if code == "invalid_client":
            message += ("; the OAuth client_id/client_secret are wrong: check the env vars named in the "
                        "workspace's oauth block against the Wrike App Console")
        else:
            message += "; re-run the OAuth bootstrap (python -m cascade_sync_pipeline.wrike authorize / exchange)"
        return WrikeAuthError(redact(message, self._secrets()), status=response.status_code, code=code,
                               workspace=self.workspace)


def parse_token_answer(payload: Any) -> tuple[str, str | None, float, str | None]:
    """(access_token, refresh_token, expires_in seconds, host) from a token answer."""
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise ValueError("the token answer has no access_token")
    try:
        expires_in = float(payload.get("expires_in", 3600))  # some answers send "3600" as a string
    except (TypeError, ValueError):
        expires_in = 3600.0
    return payload["access_token"], payload.get("refresh_token"), expires_in, payload.get("host")


def authorize_url(client_id: str, redirect_uri: str | None = None, state: str | None = None, *,
                  login_url: str = LOGIN_URL, scope: str | None = None) -> str:
    """The URL a person opens to approve the integration (authorization-code flow)."""
    query = {"client_id": client_id, "response_type": "code"}
    if redirect_uri:
        query["redirect_uri"] = redirect_uri
    if state:
        query["state"] = state
    if scope:
        query["scope"] = scope
    return f"{login_url.rstrip('/')}/oauth2/authorize/v4?{urlencode(query)}"


def exchange_code(code: str, *, client_id: str, client_secret: str, store: TokenStore | str | Path,
                  redirect_uri: str | None = None, login_url: str = LOGIN_URL, workspace: str = "wrike",
                  clock: Callable[[], float] = time.time, transport: httpx.BaseTransport | None = None) -> TokenState:
    """Trade an authorization code for tokens and save them in the store."""
    store = store if isinstance(store, TokenStore) else TokenStore(store)
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": client_secret}
    if redirect_uri:
        form["redirect_uri"] = redirect_uri
    endpoint = _TokenEndpoint(login_url, workspace=workspace, secrets=lambda: [client_secret, code],
                              transport=transport, retry=RetryPolicy(max_attempts=3))
    with endpoint:
        payload = endpoint.request("POST", "/oauth2/token", data=form)
    access, refresh, expires_in, host = parse_token_answer(payload)
    if not refresh:
        raise WrikeAuthError(f"workspace '{workspace}': Wrike's token answer has no refresh_token",
                             code="no_refresh_token", workspace=workspace)
    with store.lock():
        old = store.load() if store.path.exists() else None
        state = TokenState(access, refresh, clock() + expires_in, host, proven=True,
                           generation=(old.generation + 1) if old else 1)
        store.save(state, "exchanged")
    log.info("workspace %s: stored Wrike OAuth tokens in %s (host %s)", workspace, store.path, host)
    return state


class OAuthSession:
    """Live OAuth credentials of one workspace, refreshed from and persisted to a TokenStore."""

    def __init__(self, store: TokenStore | str | Path, *, client_id: str, client_secret: str,
                 login_url: str = LOGIN_URL, workspace: str = "wrike", refresh_margin: float = 120.0,
                 clock: Callable[[], float] = time.time, checkpoint: Checkpoint | None = None,
                 transport: httpx.BaseTransport | None = None, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store if isinstance(store, TokenStore) else TokenStore(store, checkpoint=checkpoint)
        self.client_id = client_id
        self._client_secret = client_secret
        self.workspace = workspace
        self.refresh_margin = refresh_margin
        self.refreshes = 0
        self._clock = clock
        self._checkpoint = checkpoint or _no_checkpoint
        self._endpoint = _TokenEndpoint(login_url, workspace=workspace, secrets=self.secrets, transport=transport,
                                        retry=retry or RetryPolicy(max_attempts=3), sleep=sleep)
        with self._locked():
            state = self.store.load()
        if state is None:
            raise WrikeAuthError(
                f"workspace '{workspace}': no Wrike OAuth tokens in {self.store.path}; run the bootstrap: "
                f"{bootstrap_hint(workspace)}", code="no_tokens", workspace=workspace)
        self._state = state

    def __repr__(self) -> str:
        return f"OAuthSession(workspace='{self.workspace}', store='{self.store.path}', host={self.host!r})"

    @property
    def host(self) -> str | None:
        return self._state.host

    @property
    def state(self) -> TokenState:
        return self._state

    def secrets(self) -> list[str]:
        state = getattr(self, "_state", None)
        return [self._client_secret] + (state.secrets() if state else [])

    def access_token(self) -> str:
        """The current access token, refreshed first when it expires within ``refresh_margin``."""
        if self._state.expires_at - self._clock() <= self.refresh_margin:
            self.refresh()
        return self._state.access_token

    def refresh(self, rejected: str | None = None) -> None:
        """Rotate the tokens (see the module docstring); ``rejected`` is an access token the API refused."""
        with self._locked():
            disk = self.store.load()
            if disk is None:
                raise WrikeAuthError(f"workspace '{self.workspace}': the token store {self.store.path} vanished; "
                                     f"run the bootstrap: {bootstrap_hint(self.workspace)}",
                                     code="no_tokens", workspace=self.workspace)
            fresh = disk.expires_at - self._clock() > self.refresh_margin
            if fresh and disk.access_token != rejected and disk.access_token != self._state.access_token:
                self._state = disk  # another process rotated while we waited for the lock
                return
            self._state = disk
            self._write_ahead(disk)
            self._rotate(disk)

    def confirm(self, used_access_token: str) -> None:
        """Note a successful API call; the first one after a rotation drops the previous refresh token."""
        state = self._state
        if state.proven or used_access_token != state.access_token:
            return
        with self._locked():
            disk = self.store.load()
            if disk is None or disk.access_token != used_access_token or disk.proven:
                return
            proven = replace(disk, proven=True, previous_refresh_token=None, generation=disk.generation + 1)
            self.store.save(proven, "proven")
            self._state = proven

    # --- the rotation --------------------------------------------------------------------------
    def _write_ahead(self, disk: TokenState) -> None:
        marked = replace(disk, refresh_started_at=self._clock(), generation=disk.generation + 1)
        try:
            self.store.save(marked, "refresh_started")
        except OSError as exc:
            raise WrikeAuthError(
                f"workspace '{self.workspace}': cannot write the token store {self.store.path} "
                f"({type(exc).__name__}: {exc.strerror or exc}); the refresh was not attempted, so the stored "
                "refresh token is still valid: make the file writable and run again",
                code="token_store_unwritable", workspace=self.workspace) from None
        self._state = marked

    def _rotate(self, disk: TokenState) -> None:
        candidates = [disk.refresh_token]
        if not disk.proven and disk.previous_refresh_token:
            candidates.append(disk.previous_refresh_token)
        last_error: WrikeAuthError | None = None
        for refresh_token in candidates:
            self._checkpoint("before_refresh_request")
            try:
                with_secret = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                               "client_id": self.client_id, "client_secret": self._client_secret}
                payload = self._endpoint.request("POST", "/oauth2/token", data=with_secret)
            except WrikeAuthError as exc:
                if exc.code != "invalid_grant":
                    raise
                last_error = exc
                continue
            self._checkpoint("refresh_response_received")
            access, new_refresh, expires_in, host = parse_token_answer(payload)
            rotated = TokenState(access, new_refresh or refresh_token, self._clock() + expires_in,
                                 host or disk.host, previous_refresh_token=refresh_token, proven=False,
                                 generation=self._state.generation + 1)
            self._save_rotated(rotated)
            self._state = rotated
            self.refreshes += 1
            log.info("workspace %s: refreshed the Wrike access token (expires in %.0fs, host %s)",
                     self.workspace, expires_in, rotated.host)
            return
        raise WrikeAuthError(
            f"workspace '{self.workspace}': Wrike refused the stored refresh token (invalid_grant: it was revoked, "
            f"expired, or spent by a run that crashed before saving its successor); re-run the OAuth bootstrap: "
            f"{bootstrap_hint(self.workspace)}", status=last_error.status if last_error else 400,
            code="invalid_grant", workspace=self.workspace)

    def _save_rotated(self, rotated: TokenState) -> None:
        error: OSError | None = None
        for attempt in range(3):
            try:
                self.store.save(rotated, "rotated")
                return
            except OSError as exc:
                error = exc
                time.sleep(0.05 * (attempt + 1))
        raise WrikeAuthError(
            f"workspace '{self.workspace}': Wrike issued new tokens but they could not be saved to "
            f"{self.store.path} ({type(error).__name__}: {getattr(error, 'strerror', None) or error}); the old "
            f"refresh token is already spent, so fix the file system and re-run the OAuth bootstrap: "
            f"{bootstrap_hint(self.workspace)}", code="token_store_unwritable", workspace=self.workspace)

    def _locked(self):
        lock = self.store.lock()
        try:
            lock.acquire()
        except Timeout:
            raise WrikeAuthError(f"workspace '{self.workspace}': another process holds {self.store.lock_path} "
                                 "for more than two minutes; is a refresh stuck? remove the lock file if no sync "
                                 "is running", code="token_store_locked", workspace=self.workspace) from None
        return _Release(lock)

    def close(self) -> None:
        self._endpoint.close()


class _Release:
    def __init__(self, lock: FileLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        self._lock.release()


def bootstrap_hint(workspace: str) -> str:
    return (f"python -m cascade_sync_pipeline.wrike authorize --workspace {workspace} --redirect-uri <uri>, "
            f"then ... exchange --workspace {workspace} --redirect-uri <uri> --code <code>")


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

    if args.command == "authorize":
        state = args.state or _secrets.token_urlsafe(12)
        print(authorize_url(_env(settings.get("client_id_env"), "client id"), args.redirect_uri, state,
                            login_url=settings["login_url"], scope=args.scope))
        print(f"state={state}  (check that the redirect carries the same state)", file=sys.stderr)
        return 0
    if not settings.get("token_store"):
        raise SystemExit("give --token-store PATH or --workspace KEY")
    if args.command == "exchange":
        try:
            state = exchange_code(args.code, client_id=_env(settings.get("client_id_env"), "client id"),
                                  client_secret=_env(settings.get("client_secret_env"), "client secret"),
                                  store=settings["token_store"], redirect_uri=args.redirect_uri,
                                  login_url=settings["login_url"], workspace=settings["workspace"])
        except WrikeAuthError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"stored tokens in {settings['token_store']}; API host {state.host}")
        return 0
    store = TokenStore(settings["token_store"])
    with store.lock():
        state = store.load()
    if state is None:
        print(f"no tokens in {store.path}")
        return 1
    left = state.expires_at - time.time()
    print(f"host {state.host}; access token {'expires in %.0fs' % left if left > 0 else 'expired'}; "
          f"generation {state.generation}; rotation {'proven' if state.proven else 'not yet proven'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
