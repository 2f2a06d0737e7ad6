"""Wrike failures as messages that say what to do: the workspace key, Wrike's error code, the fix.

Wrike answers errors as ``{"errorDescription": "...", "error": "<code>"}``. Every message built
here passes through :func:`redact`, so a token or client secret that an answer (or a proxy)
echoed back never reaches a log or a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cascade_sync_pipeline.http import SourceApiError, redact

_ENTITY = re.compile(r"/(folders|spaces|tasks|contacts|customfields|webhooks)/([^/?]+)")
_NOUN = {
    "folders": "folder",
    "spaces": "space",
    "tasks": "task",
    "contacts": "contact",
    "customfields": "custom field",
    "webhooks": "webhook",
}


class WrikeApiError(SourceApiError):
    """A Wrike call failed for good; ``code`` is Wrike's error code (e.g. ``not_authorized``)."""


class WrikeAuthError(WrikeApiError):
    """The credentials cannot be used (rejected, expired for good, or the token store is unusable)."""


def entity_of(path: str) -> str | None:
    """'folder IEAB...' for a path such as /api/v4/folders/IEAB.../tasks, else None."""
    match = _ENTITY.search(path)
    if not match:
        return None
    ids = match.group(2)
    noun = _NOUN[match.group(1)]
    return f"{noun} {ids}" if "," not in ids else f"{noun}s {ids}"


def describe(
    *,
    workspace: str,
    status: int,
    code: str | None,
    description: str | None,
    method: str,
    path: str,
    auth_fix: str,
    base_url: str,
) -> tuple[str, bool]:
    """The message for a failed call and whether retrying later may help."""
    what = f"HTTP {status} {code or 'no error code'}" + (f": {description}" if description else "")
    head = f"workspace '{workspace}': Wrike refused {method} {path} ({what})"
    entity = entity_of(path) or "the requested item"
    if status == 401 or code == "not_authorized":
        return f"{head}. The access token is invalid, expired or revoked: {auth_fix}", False
    if code == "access_forbidden" or (status == 403 and code != "not_allowed"):
        return (
            f"{head}. The token's Wrike user lacks access to {entity}: share it with that user in Wrike, "
            f"or remove it from the workspace scope in the config",
            False,
        )
    if code == "not_allowed":
        return (
            f"{head}. Wrike does not allow this for the token's user on {entity}: the user lacks access "
            f"to it or the account's plan/licence forbids the call; share {entity} with that user or "
            "use a token of a user with a full licence",
            False,
        )
    if code == "resource_not_found" or (status == 404 and code != "method_not_found"):
        return (
            f"{head}. {entity[0].upper() + entity[1:]} does not exist for this token: it was deleted or "
            "the ID in the workspace config is wrong",
            False,
        )
    if code == "method_not_found":
        return f"{head}. This API path does not exist: check that base_url ({base_url}) ends in /api/v4", False
    if 300 <= status < 400:
        return (
            f"{head}. The account lives on another Wrike host (data center): set base_url to "
            "https://<host>/api/v4 with the host your account uses (www.wrike.com, app-eu.wrike.com, "
            "app-us2.wrike.com), or use OAuth, whose token answer names the host",
            False,
        )
    if status == 429 or code in ("rate_limit_exceeded", "too_many_requests"):
        return (
            f"{head}. Wrike's rate limit (about 400 requests per minute per token) is still in force; "
            "give the sync its own token or run it less often",
            True,
        )
    if status >= 500 or code == "server_error":
        return f"{head}. Wrike had a server error; retry the run later", True
    return (
        f"{head}. Wrike rejected the request's parameters; this is a client bug or an API change: "
        "report it with this message",
        False,
    )


def wrap(exc: SourceApiError, secrets: Iterable[str | None], code: str | None = None) -> WrikeApiError:
    """A generic session error (retries exhausted, rate limit) as a redacted WrikeApiError."""
    message = redact(str(exc), secrets)
    if exc.status == 429 or exc.code == "RATE_LIMITED":
        code = code or "rate_limit_exceeded"
        message += " (Wrike allows about 400 requests per minute per token)"
    return WrikeApiError(
        message,
        status=exc.status,
        code=code or exc.code or "server_error",
        workspace=exc.workspace,
        retryable=exc.retryable,
    )
