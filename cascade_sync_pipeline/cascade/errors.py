"""Errors of the Cascade clients, and the fixes their messages name.

Kept apart from the clients so that every Cascade client (the classic API's, the Integrations
API's) raises the same class and phrases the same fix the same way. Messages name the workspace
key, the item, the HTTP status and what to do; they never carry a token.
"""

from __future__ import annotations

from typing import Any

from ..http import SourceApiError

TOKEN_HELP = "make a new one under Profile > System > Security > + Add Token"


class CascadeApiError(SourceApiError):
    """A Cascade call failed for good; ``str()`` names the workspace, the item, the status and the fix.

    ``item`` is what the call was about ("goal 12", "new goal 'Increase revenue'"); ``details``
    carries what a caller needs to act on it (for an unknown create outcome: ``kind``,
    ``look_after_id`` and the identifying fields).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        workspace: str | None = None,
        item: str | None = None,
        details: dict | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, status=status, code=code, workspace=workspace, retryable=retryable)
        self.item = item
        self.details = details or {}


def fix_for(status: int, *, token_env: str, item: str, server_says: str, field: str | None) -> str:
    """What to do about an error answer, by status, in one sentence."""
    if status == 401:
        return (
            f"the Cascade token in env {token_env} is invalid or expired: {TOKEN_HELP} "
            f"(Enterprise plan, a user with System permission) and store it in {token_env}"
        )
    if status == 403:
        return (
            f"the Cascade user behind the token in env {token_env}, or the token's scopes, lack access "
            f"to {item}: give the token the Goals and Tasks scopes and issue it to a user who may edit "
            f"these goals{_quote(server_says)}"
        )
    if status == 404:
        return (
            f"{item} does not exist (deleted in Cascade, or a wrong id in the config): drop it from "
            "sync.id_map so the next run re-creates it, or fix the configured id"
        )
    if status == 400:
        named = f"field '{field}'" if field else "the field the message names"
        return f"fix {named} in the source item or the mapping rules{_quote(server_says)}"
    return server_says or "unexpected answer"


def _quote(server_says: str) -> str:
    return f" (Cascade says: {server_says})" if server_says else ""


def error_message(workspace: str, status: int, item: str, fix: str) -> str:
    return f"workspace '{workspace}': Cascade answered HTTP {status} on {item}: {fix}"


def field_of(payload: Any) -> tuple[str, str | None]:
    """The server's message and the field it names (``field``, else the text before ':')."""
    if not isinstance(payload, dict):
        return "", None
    message = str(payload.get("message") or payload.get("error") or "").strip()
    field = payload.get("field")
    if not field and ":" in message:
        head = message.split(":", 1)[0].strip()
        field = head if head.replace("_", "").isalnum() else None
    return message, str(field) if field else None
