"""The crash-safe token store: one workspace's tokens in a private JSON file, replaced atomically."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.oauth.provider import (
    Checkpoint,
    OAuthError,
    OAuthProvider,
    TokenState,
    _default_workspace,
    _no_checkpoint,
)

STORE_VERSION = 1
log = logging.getLogger("cascade_sync_pipeline.oauth")


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


def _store_for(
    store: TokenStore | str | Path, provider: OAuthProvider, workspace: str, checkpoint: Checkpoint | None = None
) -> TokenStore:
    """A TokenStore for ``store``; one built without a provider learns it, for its error messages."""
    if not isinstance(store, TokenStore):
        return TokenStore(store, checkpoint=checkpoint, provider=provider, workspace=workspace)
    if store.provider is None:
        store.provider, store.workspace = provider, store.workspace or workspace
    return store
