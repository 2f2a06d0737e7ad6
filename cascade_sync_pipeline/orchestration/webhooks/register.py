"""Registering the receiver's URLs with the sources, idempotently.

ClickUp: a workspace's webhook is found by its endpoint (`<public-url>/webhooks/clickup/<key>`) among
`GET /team/{team_id}/webhook`; it is created when missing (all events) and re-activated when
`failing` or `suspended`. ClickUp generates the signing secret and returns it only on creation: it
is printed once to stdout with the env var to put it in, never logged.

Wrike: the secret is ours, read from the workspace's `webhook_secret_env` (the receiver must hold the
same one and be reachable, since Wrike calls it for the handshake while creating the webhook). The
webhook watches the whole account (the workspace syncs everything its token sees); it is found by
`hookUrl` among `GET /webhooks`, created with `POST /webhooks` when missing and set back to Active
when Suspended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.config import ClickUpWorkspace, ConfigError, secret_from_env

UNHEALTHY = ("failing", "suspended")


def endpoint_for(public_url: str, source: str, key: str) -> str:
    """The receiver URL a source must call for one workspace."""
    return f"{public_url.rstrip('/')}/webhooks/{source}/{key}"


def suggested_secret_env(source: str, key: str) -> str:
    return f"{source.upper()}_WEBHOOK_SECRET_{key.upper().replace('-', '_')}"


@dataclass
class Registration:
    """What registration did for one workspace; ``secret`` is set only when a webhook was just created."""

    workspace: str
    source: str
    action: str  # created | reactivated | active | skipped
    endpoint: str
    webhook_id: str | None = None
    note: str = ""
    secret: str | None = field(default=None, repr=False)


def register_clickup(client: ClickUpClient, ws: ClickUpWorkspace, public_url: str) -> Registration:
    """Make sure the team has one healthy webhook pointing at this workspace's receiver URL."""
    endpoint = endpoint_for(public_url, "clickup", ws.key)
    hooks = client.listing(f"/team/{ws.team_id}/webhook", "webhooks")
    hook = next((h for h in hooks if h.get("endpoint") == endpoint), None)
    if hook is None:
        created = client.request(
            "POST", f"/team/{ws.team_id}/webhook", json_body={"endpoint": endpoint, "events": ["*"]}
        )
        webhook = created.get("webhook") or created
        return Registration(
            ws.key,
            "clickup",
            "created",
            endpoint,
            str(created.get("id") or webhook.get("id")),
            secret=webhook.get("secret"),
        )
    health = (hook.get("health") or {}).get("status", "active")
    if health in UNHEALTHY:
        client.request(
            "PUT",
            f"/webhook/{hook['id']}",
            json_body={"endpoint": endpoint, "events": hook.get("events") or "*", "status": "active"},
        )
        return Registration(ws.key, "clickup", "reactivated", endpoint, str(hook["id"]), note=f"was {health}")
    return Registration(ws.key, "clickup", "active", endpoint, str(hook["id"]))


def unready(ws: Any, public_url: str) -> Registration | None:
    """A skipped registration when the workspace lacks what registering needs, before any API call."""
    if ws.source == "wrike" and not ws.webhook_secret_env:
        return Registration(
            ws.key,
            "wrike",
            "skipped",
            endpoint_for(public_url, "wrike", ws.key),
            note="set webhook_secret_env to the NAME of an env var holding a secret you choose "
            "(1 to 100 characters), give the receiver the same variable, and run this again",
        )
    return None


def register_wrike(client: Any, ws: Any, public_url: str) -> Registration:
    """Make sure the account has one Active webhook calling this workspace's receiver URL.

    ``client`` is a ``WrikeClient`` (its ``webhooks``, ``create_webhook``, ``set_webhook_status``).
    """
    not_ready = unready(ws, public_url)
    if not_ready:
        return not_ready
    endpoint = endpoint_for(public_url, "wrike", ws.key)
    secret = secret_from_env(
        ws.webhook_secret_env,
        owner=f"workspace '{ws.key}' (webhook_secret_env)",
        what="Wrike webhook secret (a random string you choose, up to 100 characters)",
    )
    hook = next((h for h in client.webhooks() if h.get("hookUrl") == endpoint), None)
    if hook is None:
        created = client.create_webhook(endpoint, secret=secret)
        return Registration(ws.key, "wrike", "created", endpoint, created.get("id"))
    if hook.get("status") != "Active":
        client.set_webhook_status(hook["id"], "Active")
        return Registration(ws.key, "wrike", "reactivated", endpoint, hook["id"], note=f"was {hook.get('status')}")
    return Registration(ws.key, "wrike", "active", endpoint, hook["id"])


def open_wrike(ws: Any) -> Any:
    """A Wrike client for the workspace; ConfigError when the Wrike client is not installed."""
    try:
        from cascade_sync_pipeline.wrike.client import WrikeClient
    except ImportError:
        raise ConfigError("the Wrike client (cascade_sync_pipeline.wrike.client) is not available") from None
    return WrikeClient.from_workspace(ws)


def open_clickup(ws: ClickUpWorkspace) -> ClickUpClient:
    return ClickUpClient.for_workspace(ws)


def report(registration: Registration, secret_env: str | None, out: Callable[[str], None] = print) -> None:
    """Tell the operator what happened and, once, where the new secret goes."""
    r = registration
    line = f"{r.workspace} ({r.source}): webhook {r.action}"
    line += f" [{r.webhook_id}]" if r.webhook_id else ""
    out(f"{line} -> {r.endpoint}" + (f" ({r.note})" if r.note else ""))
    if r.secret:
        env = secret_env or suggested_secret_env(r.source, r.workspace)
        out("  The signing secret is shown only now. Set it where the receiver reads it, then restart the receiver:")
        out(f"    export {env}={r.secret}")
        if not secret_env:
            out(f"  and add `webhook_secret_env: {env}` to workspace '{r.workspace}' in the config.")
    elif r.source == "clickup" and r.action != "skipped" and not secret_env:
        out(
            f"  Workspace '{r.workspace}' has no webhook_secret_env, so the receiver rejects its deliveries; "
            "the secret of an existing webhook is not shown again: delete the webhook and register anew."
        )
