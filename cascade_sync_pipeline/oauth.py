"""OAuth 2.0 (authorization-code grant) for every API the sync logs in to: the one-time bootstrap,
refresh during runs, and a token store that survives a crash at any point of a refresh-token rotation.

What differs per API (Wrike, Cascade, ...) is an :class:`OAuthProvider`: its name for messages,
the authorize and token URLs, the scope, the command that re-runs the bootstrap and the error class.
Everything else is here, once. Plain Python: no Dagster imports.

Bootstrap (once per workspace, by a person): open :func:`authorize_url`, approve, copy ``?code=...``
from the redirect and pass it to :func:`exchange_code` (:func:`run_bootstrap` is the CLI of both).

Why rotation needs care: a server that rotates refresh tokens answers a refresh with a *new* one and
the old one stops working once used. If the process dies after the server rotated but before the new
token is safely on disk, the integration is stranded and a person must bootstrap again. Whether a
server rotates is not always known up front, so both answers work: without a new ``refresh_token``
the one just used is kept. The store is a JSON file (mode 0600) written atomically: write
``<store>.tmp``, fsync, ``os.replace``, fsync the directory; each version carries a generation number
and a checksum. A refresh runs under a file lock and goes through these steps (``checkpoint`` names in
brackets; tests crash the process at each):

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
   one is tried. A refresh that did not rotate has nothing to prove and is saved as proven.

Crash outcomes: before step 3 the old token is untouched; after step 4 the new one is on disk.
The one window no client can close is between the server committing the rotation and step 4's
fsync (the answer exists only in memory). There the next run gets ``invalid_grant`` and a message
that says to re-run the bootstrap (or, against a server with a reuse grace for just-used refresh
tokens, it recovers with the previous token). Secrets never appear in reprs, logs or errors.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets as _secrets
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from filelock import FileLock, Timeout

from cascade_sync_pipeline.http import ApiSession, RetryPolicy, SourceApiError, redact

STORE_VERSION = 1
log = logging.getLogger(__name__)

Checkpoint = Callable[[str], None]


def _no_checkpoint(_step: str) -> None:
    return None


class OAuthError(SourceApiError):
    """OAuth credentials cannot be used (rejected, expired for good, or the token store is unusable)."""


@dataclass(frozen=True)
class OAuthProvider:
    """What one OAuth 2.0 server needs that the others do not; the rest of this module is shared.

    ``bootstrap`` names the command(s) that re-run the bootstrap, with ``{workspace}`` where the
    workspace key goes: every message that says "re-run the bootstrap" spells it out, so the person
    reading a failed run knows what to type. ``client_settings`` says where the client id and secret
    come from (for an ``invalid_client`` answer).
    """

    name: str
    authorize_url: str
    token_url: str
    scope: str | None = None
    bootstrap: str = "the OAuth bootstrap (authorize, then exchange) for workspace {workspace}"
    error_class: type[SourceApiError] = OAuthError
    client_settings: str | None = None

    def bootstrap_for(self, workspace: str) -> str:
        """The bootstrap command for ``workspace`` (``str.replace``: the text may hold other braces)."""
        return self.bootstrap.replace("{workspace}", workspace)

    def error(self, message: str, **kwargs: Any) -> SourceApiError:
        return self.error_class(message, **kwargs)


@dataclass
class TokenState:
    """What the store holds. Token fields are kept out of ``repr``; ``host`` is None unless the
    token answer names one (Wrike's names the data center the account lives on)."""

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
    """One workspace's OAuth tokens in a 0600 JSON file, replaced atomically on every save.

    ``provider`` and ``workspace`` only shape the message for a damaged file; a session or the
    bootstrap fills them in when the store was built without them.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        checkpoint: Checkpoint | None = None,
        provider: OAuthProvider | None = None,
        workspace: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.temp_path = self.path.with_name(self.path.name + ".tmp")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.provider = provider
        self.workspace = workspace
        self._checkpoint = checkpoint or _no_checkpoint

    def __repr__(self) -> str:
        return f"TokenStore('{self.path}')"

    def lock(self, timeout: float = 120.0) -> FileLock:
        self._private_directory()
        self._refuse_link(self.lock_path)
        return FileLock(str(self.lock_path), timeout=timeout)

    def _private_directory(self) -> None:
        """The store's directory exists, is a directory of this user and has mode 0700 (created so, or
        tightened); a directory of another user, or a shared one (sticky, e.g. /tmp), is refused."""
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise self._unsafe(f"{directory} is not a directory")
        if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX:
            raise self._unsafe(
                f"its directory {directory} is shared (another owner, or a sticky directory such as "
                "/tmp): put the token store in a directory of its own, e.g. data/tokens/"
            )
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(directory, 0o700)
            log.warning(
                "made %s private (mode 0700, was %o): it holds the %s token store",
                directory,
                stat.S_IMODE(info.st_mode),
                self._name(),
            )

    def _refuse_link(self, path: Path) -> None:
        if path.is_symlink():
            raise self._unsafe(
                f"{path} is a symbolic link, which the token store never follows (it could point "
                "the tokens at another file): replace the link with the file itself"
            )

    def _unsafe(self, reason: str) -> SourceApiError:
        message = f"token store {self.path}: {reason}"
        if self.workspace:
            message = f"workspace '{self.workspace}': {message}"
        error = self.provider.error if self.provider else OAuthError
        return error(message, code="token_store_unsafe", workspace=self.workspace)

    def load(self) -> TokenState | None:
        """The newest complete version; adopts a fsynced temp file left by a crash. Call under lock."""
        for path in (self.path, self.temp_path):
            self._refuse_link(path)
        current = self._read(self.path)
        pending = self._read(self.temp_path) if self.temp_path.exists() else None
        if pending is not None and (current is None or pending.generation > current.generation):
            os.replace(self.temp_path, self.path)
            self._fsync_dir()
            log.warning("recovered %s tokens from an interrupted save (%s)", self._name(), self.temp_path)
            return pending
        if self.temp_path.exists():
            try:
                self.temp_path.unlink()  # a torn or stale write; the main file is authoritative
            except OSError:
                pass
        if current is None and self.path.exists():
            raise self._damaged()
        return current

    def save(self, state: TokenState, step: str) -> None:
        """Write ``state`` atomically (temp + fsync + os.replace + directory fsync), mode 0600."""
        body = asdict(state)
        payload = {"version": STORE_VERSION, "state": body, "sha256": _digest(body)}
        data = json.dumps(payload, indent=1).encode()
        self._private_directory()
        self._refuse_link(self.path)
        try:  # O_NOFOLLOW: a link planted at the temp path is refused, not written through
            fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise self._unsafe(f"{self.temp_path} is a symbolic link; remove it") from None
            raise
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

    def _damaged(self) -> SourceApiError:
        message = f"token store {self.path} is damaged (bad checksum or not JSON); re-run the OAuth bootstrap"
        if self.workspace:
            message = f"workspace '{self.workspace}': {message}"
        if self.provider is None:
            return OAuthError(message, code="token_store_damaged", workspace=self.workspace)
        workspace = self.workspace or _default_workspace(self.provider)
        return self.provider.error(
            f"{message}: {self.provider.bootstrap_for(workspace)}", code="token_store_damaged", workspace=self.workspace
        )

    def _name(self) -> str:
        return self.provider.name if self.provider else "OAuth"

    def _read(self, path: Path) -> TokenState | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                payload = json.loads(handle.read())
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


def _default_workspace(provider: OAuthProvider) -> str:
    return provider.name.lower()


def _store_for(
    store: TokenStore | str | Path, provider: OAuthProvider, workspace: str, checkpoint: Checkpoint | None = None
) -> TokenStore:
    """A TokenStore for ``store``; one built without a provider learns it, for its error messages."""
    if not isinstance(store, TokenStore):
        return TokenStore(store, checkpoint=checkpoint, provider=provider, workspace=workspace)
    if store.provider is None:
        store.provider, store.workspace = provider, store.workspace or workspace
    return store


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


def parse_token_answer(payload: Any) -> tuple[str, str | None, float, str | None]:
    """(access_token, refresh_token, expires_in seconds, host) from a token answer."""
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise ValueError("the token answer has no access_token")
    try:
        expires_in = float(payload.get("expires_in", 3600))  # some answers send "3600" as a string
    except (TypeError, ValueError):
        expires_in = 3600.0
    return payload["access_token"], payload.get("refresh_token"), expires_in, payload.get("host")


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


class OAuthSession:
    """Live OAuth credentials of one workspace, refreshed from and persisted to a TokenStore."""

    def __init__(
        self,
        store: TokenStore | str | Path,
        *,
        provider: OAuthProvider,
        client_id: str,
        client_secret: str,
        workspace: str | None = None,
        refresh_margin: float = 120.0,
        clock: Callable[[], float] = time.time,
        checkpoint: Checkpoint | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.workspace = workspace or _default_workspace(provider)
        self.store = _store_for(store, provider, self.workspace, checkpoint)
        self.client_id = client_id
        self._client_secret = client_secret
        self.refresh_margin = refresh_margin
        self.refreshes = 0
        self._clock = clock
        self._checkpoint = checkpoint or _no_checkpoint
        self._endpoint = _TokenEndpoint(
            provider,
            workspace=self.workspace,
            secrets=self.secrets,
            transport=transport,
            retry=retry or RetryPolicy(max_attempts=3),
            sleep=sleep,
        )
        with self._locked():
            state = self.store.load()
        if state is None:
            raise self._error(
                f"no {provider.name} OAuth tokens in {self.store.path}; run the bootstrap: {self._bootstrap()}",
                code="no_tokens",
            )
        self._state = state

    def __repr__(self) -> str:
        return (
            f"OAuthSession(provider='{self.provider.name}', workspace='{self.workspace}', "
            f"store='{self.store.path}', host={self.host!r})"
        )

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
                raise self._error(
                    f"the token store {self.store.path} vanished; run the bootstrap: {self._bootstrap()}",
                    code="no_tokens",
                )
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
            raise self._error(
                f"cannot write the token store {self.store.path} ({type(exc).__name__}: {exc.strerror or exc}); "
                "the refresh was not attempted, so the stored refresh token is still valid: make the file "
                "writable and run again",
                code="token_store_unwritable",
            ) from None
        self._state = marked

    def _rotate(self, disk: TokenState) -> None:
        candidates = [disk.refresh_token]
        if not disk.proven and disk.previous_refresh_token not in (None, "", disk.refresh_token):
            candidates.append(disk.previous_refresh_token)
        last_error: SourceApiError | None = None
        for refresh_token in candidates:
            self._checkpoint("before_refresh_request")
            try:
                with_secret = {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                }
                payload = self._endpoint.post(with_secret)
            except self.provider.error_class as exc:
                if exc.code != "invalid_grant":
                    raise
                last_error = exc
                continue
            self._checkpoint("refresh_response_received")
            self._adopt(payload, refresh_token, disk)
            return
        raise self._error(
            f"{self.provider.name} refused the stored refresh token (invalid_grant: it was revoked, expired, or "
            f"spent by a run that crashed before saving its successor); re-run the OAuth bootstrap: "
            f"{self._bootstrap()}",
            status=last_error.status if last_error else 400,
            code="invalid_grant",
        )

    def _adopt(self, payload: Any, spent: str, disk: TokenState) -> None:
        """Save a refresh answer before its tokens are used. Without a new refresh token (a server
        that does not rotate) the one just used stays, and there is no previous token to fall back to."""
        access, new_refresh, expires_in, host = parse_token_answer(payload)
        refresh = new_refresh if new_refresh and new_refresh != spent else spent
        rotated = refresh != spent
        state = TokenState(
            access,
            refresh,
            self._clock() + expires_in,
            host or disk.host,
            previous_refresh_token=spent if rotated else None,
            proven=not rotated,
            generation=self._state.generation + 1,
        )
        self._save_rotated(state)
        self._state = state
        self.refreshes += 1
        log.info(
            "workspace %s: refreshed the %s access token (expires in %.0fs%s; refresh token %s)",
            self.workspace,
            self.provider.name,
            expires_in,
            f", host {state.host}" if state.host else "",
            "rotated" if rotated else "kept",
        )

    def _save_rotated(self, rotated: TokenState) -> None:
        error: OSError | None = None
        for attempt in range(3):
            try:
                self.store.save(rotated, "rotated")
                return
            except OSError as exc:
                error = exc
                time.sleep(0.05 * (attempt + 1))
        raise self._error(
            f"{self.provider.name} issued new tokens but they could not be saved to {self.store.path} "
            f"({type(error).__name__}: {getattr(error, 'strerror', None) or error}); the old refresh token may "
            f"already be spent, so fix the file system and re-run the OAuth bootstrap: {self._bootstrap()}",
            code="token_store_unwritable",
        )

    def _locked(self):
        lock = self.store.lock()
        try:
            lock.acquire()
        except Timeout:
            raise self._error(
                f"another process holds {self.store.lock_path} for more than two minutes; is a "
                "refresh stuck? remove the lock file if no sync is running",
                code="token_store_locked",
            ) from None
        return _Release(lock)

    def _bootstrap(self) -> str:
        return self.provider.bootstrap_for(self.workspace)

    def _error(self, message: str, **kwargs: Any) -> SourceApiError:
        """An auth error naming the workspace, redacted: a path or OS message must not carry a secret."""
        text = redact(f"workspace '{self.workspace}': {message}", self.secrets())
        return self.provider.error(text, workspace=self.workspace, **kwargs)

    def close(self) -> None:
        self._endpoint.close()


class _Release:
    def __init__(self, lock: FileLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        self._lock.release()


# --- the bootstrap CLI ---------------------------------------------------------------------------


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
