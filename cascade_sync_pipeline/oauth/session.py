"""A workspace's live OAuth session: refresh with a write-ahead, crash-safe refresh-token rotation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout

from cascade_sync_pipeline.http import RetryPolicy, SourceApiError, redact
from cascade_sync_pipeline.oauth.grant import _TokenEndpoint
from cascade_sync_pipeline.oauth.provider import (
    Checkpoint,
    OAuthProvider,
    TokenState,
    _default_workspace,
    _no_checkpoint,
    parse_token_answer,
)
from cascade_sync_pipeline.oauth.store import TokenStore, _store_for

log = logging.getLogger("cascade_sync_pipeline.oauth")


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
        """Rotate the tokens (see the package docstring); ``rejected`` is an access token the API refused."""
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
