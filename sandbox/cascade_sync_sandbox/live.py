"""The sandbox, live: emulators, signed webhooks into the receiver, and `dagster dev` on top.

`cascade-sync dev` starts everything a new user needs to watch the sync react: schedules and
sensors run in the Dagster daemon; a change made in the sandbox (for example
`curl -X POST 127.0.0.1:8701/_sandbox/clickup/update_task -d '{"task_id": "…", "name": "…"}'`)
reaches the receiver as a signed webhook, lands in the inbox, and the live runner
(`cascade-sync webhooks run`) syncs exactly that task of that workspace's partition.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.orchestration.instance import ROOT, dagster_home
from cascade_sync_pipeline.orchestration.webhooks.inbox import Inbox, open_inbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
from cascade_sync_pipeline.orchestration.webhooks.register import (
    open_clickup,
    open_wrike,
    register_clickup,
    register_wrike,
)
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer
from cascade_sync_sandbox.company import start_sandbox

RECEIVER_PORT = 8710
HEALTH_TIMEOUT_S = 10.0


def register_sandbox_webhooks(config: SyncConfig, public_url: str) -> list[str]:
    """Point every configured workspace's webhooks at the receiver; return what was done."""
    done = []
    for ws in config.workspaces:
        env = ws.webhook_secret_env  # the only name the receiver reads the secret from
        try:
            if ws.source == "wrike":
                if env:
                    os.environ.setdefault(env, secrets.token_hex(16))
                with open_wrike(ws) as client:
                    registration = register_wrike(client, ws, public_url)
            else:
                with open_clickup(ws) as client:
                    registration = register_clickup(client, ws, public_url)
        except SourceApiError as err:
            done.append(f"{ws.key}: webhook not registered ({err})")
            continue
        if registration.secret and env:
            os.environ[env] = registration.secret
        done.append(f"{ws.key}: webhook {registration.action} -> {registration.endpoint}")
    return done


def second_terminal(sandbox, config: SyncConfig, home: Path) -> str:
    """What a person pastes into a second terminal to query the warehouse, run the CLI against the same
    sandbox, and make a change that reaches Cascade through a webhook."""
    exports = {
        **sandbox.env_for(config),
        "CASCADE_SYNC_CONFIG": os.environ.get("CASCADE_SYNC_CONFIG", ""),
        "CASCADE_SYNC_DUCKDB": config.duckdb_path,
        "DAGSTER_HOME": str(home),
    }
    lines = ["", "In a second terminal (sandbox tokens, not secrets):"]
    lines += [f"  export {name}={value}" for name, value in exports.items() if value]
    clickup = next(iter(config.workspaces_of("clickup")), None)
    if clickup is not None and sandbox.clickup is not None:
        task = next(t for t in sandbox.clickup.dataset.tasks.values() if str(t.team_id) == clickup.team_id)
        lines += [
            f"Change a task of {clickup.key}; the live runner syncs it to Cascade within seconds:",
            f"  curl -X POST {sandbox.servers['clickup'].url}/_sandbox/clickup/update_task "
            "-H 'content-type: application/json' "
            f"""-d '{{"task_id": "{task.id}", "name": "Renamed in ClickUp"}}'""",
        ]
    lines += ["Re-sync one workspace from the terminal: .venv/bin/cascade-sync sync KEY", ""]
    return "\n".join(lines)


@dataclass
class DevWebhooks:
    """The receiver `cascade-sync dev` serves and what registering the sandbox webhooks at it did."""

    receiver: ReceiverServer
    inbox: Inbox
    registrations: list[str]


@contextlib.contextmanager
def dev_webhooks(config: SyncConfig, sandbox, *, port: int = RECEIVER_PORT) -> Iterator[DevWebhooks]:
    """The sandbox tokens exported, the receiver serving on ``port`` (0: a free one) and every
    workspace's webhook registered at it; the receiver stops on the way out."""
    sandbox.export_env(config)
    inbox = open_inbox().create()
    # The production server (waitress, with its timeouts and caps), in this process. It must answer
    # before registering: Wrike calls the hookUrl for the secret handshake while creating the webhook.
    with ReceiverServer(create_receiver_app(config, inbox), port=port) as receiver:
        wait_until_healthy(receiver.url)
        yield DevWebhooks(receiver, inbox, register_sandbox_webhooks(config, receiver.url))


def wait_until_healthy(url: str, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """Return once ``url``/healthz answers 200; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the webhook receiver at {url} did not answer /healthz within {timeout:g} s")
        time.sleep(0.05)


def run_dev(config: SyncConfig, *, port: int = 3000) -> int:
    """Serve the sandbox, the webhook receiver and the Dagster UI until Ctrl-C."""
    home = dagster_home()
    with (
        start_sandbox(cascade_api=config.cascade.api if config.cascade else "integrations") as sandbox,
        dev_webhooks(config, sandbox) as dev,
    ):
        for line in dev.registrations:
            print(line)
        print(f"Webhook receiver: {dev.receiver.url}/webhooks/<source>/<key> (inbox {dev.inbox.path})")
        for name, server in sandbox.servers.items():
            print(f"{name} emulator: {server.url}")
        print(f"Dagster UI: http://127.0.0.1:{port} (DAGSTER_HOME={home})")
        print(second_terminal(sandbox, config, home))
        bin_dir = Path(sys.executable).parent
        # The live runner syncs a workspace a second or two after its webhook; the sensors stay its fallback.
        runner = subprocess.Popen([str(bin_dir / "cascade-sync"), "webhooks", "run"], cwd=ROOT, env=os.environ.copy())
        proc = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", str(ROOT / "workspace.yaml"), "-p", str(port)],
            cwd=ROOT,
            env=os.environ.copy(),
        )
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait(timeout=60)
        finally:
            runner.terminate()  # it finishes the run in flight first
            runner.wait(timeout=120)
