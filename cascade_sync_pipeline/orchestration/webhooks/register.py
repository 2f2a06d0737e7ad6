"""Registering the receiver's URLs with the sources, idempotently.

ClickUp: a workspace's webhook is found by its endpoint (`<public-url>/webhooks/clickup/<key>`) among
`GET /team/{team_id}/webhook`; it is created when missing (all events) and re-activated when
`failing` or `suspended`. ClickUp generates the signing secret and returns it only on creation: it
is printed once to stdout with the env var to put it in, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cascade_sync_pipeline.clickup.client import ClickUpClient
from cascade_sync_pipeline.config import ClickUpWorkspace, secret_from_env

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
    hooks = client.request("GET", f"/team/{ws.team_id}/webhook").get("webhooks", [])
    hook = next((h for h in hooks if h.get("endpoint") == endpoint), None)
    if hook is None:
        created = client.request("POST", f"/team/{ws.team_id}/webhook",
                                 json_body={"endpoint": endpoint, "events": ["*"]})
        webhook = created.get("webhook") or created
        return Registration(ws.key, "clickup", "created", endpoint, str(created.get("id") or webhook.get("id")),
                            secret=webhook.get("secret"))
    health = (hook.get("health") or {}).get("status", "active")
    if health in UNHEALTHY:
        client.request("PUT", f"/webhook/{hook['id']}",
                       json_body={"endpoint": endpoint, "events": hook.get("events") or "*", "status": "active"})
        return Registration(ws.key, "clickup", "reactivated", endpoint, str(hook["id"]), note=f"was {health}")
    return Registration(ws.key, "clickup", "active", endpoint, str(hook["id"]))


def open_clickup(ws: ClickUpWorkspace) -> ClickUpClient:
    token = secret_from_env(ws.token_env, owner=f"workspace '{ws.key}' (token_env)",
                            what="ClickUp personal API token (pk_...)")
    return ClickUpClient(ws.base_url, token, workspace=ws.key, token_env=ws.token_env, team_id=ws.team_id)


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
    elif r.action != "skipped" and not secret_env:
        out(f"  Workspace '{r.workspace}' has no webhook_secret_env, so the receiver rejects its deliveries; "
            "the secret of an existing webhook is not shown again: delete the webhook and register anew.")
