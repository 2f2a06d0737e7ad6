"""The OAuth error, what differs per provider, the stored token state and the token-answer parser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cascade_sync_pipeline.http import SourceApiError

Checkpoint = Callable[[str], None]


def _no_checkpoint(_step: str) -> None:
    return None


class OAuthError(SourceApiError):
    """OAuth credentials cannot be used (rejected, expired for good, or the token store is unusable)."""


@dataclass(frozen=True)
class OAuthProvider:
    """What one OAuth 2.0 server needs that the others do not; the rest of this package is shared.

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


def _default_workspace(provider: OAuthProvider) -> str:
    return provider.name.lower()


def parse_token_answer(payload: Any) -> tuple[str, str | None, float, str | None]:
    """(access_token, refresh_token, expires_in seconds, host) from a token answer."""
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise ValueError("the token answer has no access_token")
    try:
        expires_in = float(payload.get("expires_in", 3600))  # some answers send "3600" as a string
    except (TypeError, ValueError):
        expires_in = 3600.0
    return payload["access_token"], payload.get("refresh_token"), expires_in, payload.get("host")
