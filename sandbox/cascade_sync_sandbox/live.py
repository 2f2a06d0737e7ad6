"""The sandbox, live: emulators, signed webhooks into the receiver, and `dagster dev` on top.

`cascade-sync dev` starts everything a new user needs to watch the sync react: schedules and
sensors run in the Dagster daemon; a change made in the sandbox (for example
`curl -X POST 127.0.0.1:8701/_sandbox/clickup/update_task -d '{"task_id": "…", "name": "…"}'`)
reaches the receiver as a signed webhook, lands in the inbox, and the sensor runs exactly that
workspace's partition.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cascade_sync_pipeline.config import SyncConfig
from cascade_sync_pipeline.http import SourceApiError
from cascade_sync_pipeline.orchestration.instance import ROOT, dagster_home
from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
from cascade_sync_pipeline.orchestration.webhooks.register import (
    open_clickup,
    open_wrike,
    register_clickup,
    register_wrike,
    suggested_secret_env,
)
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer
from cascade_sync_sandbox.company import start_sandbox

RECEIVER_PORT = 8710


def register_sandbox_webhooks(config: SyncConfig, public_url: str) -> list[str]:
    """Point every configured workspace's webhooks at the receiver; return what was done."""
    done = []
    for ws in config.workspaces:
        env = ws.webhook_secret_env or suggested_secret_env(ws.source, ws.key)
        try:
            if ws.source == "wrike":
                os.environ.setdefault(env, secrets.token_hex(16))
                with open_wrike(ws) as client:
                    registration = register_wrike(client, ws, public_url)
            else:
                with open_clickup(ws) as client:
                    registration = register_clickup(client, ws, public_url)
        except SourceApiError as err:
            done.append(f"{ws.key}: webhook not registered ({err})")
            continue
        if registration.secret:
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
            f"Change a task of {clickup.key}; the webhook sensor runs that workspace within seconds:",
            f"  curl -X POST {sandbox.servers['clickup'].url}/_sandbox/clickup/update_task "
            "-H 'content-type: application/json' "
            f"""-d '{{"task_id": "{task.id}", "name": "Renamed in ClickUp"}}'""",
        ]
    lines += ["Re-sync one workspace from the terminal: .venv/bin/cascade-sync sync KEY", ""]
    return "\n".join(lines)


def run_dev(config: SyncConfig, *, port: int = 3000) -> int:
    """Serve the sandbox, the webhook receiver and the Dagster UI until Ctrl-C."""
    home = dagster_home()
    with start_sandbox(cascade_api=config.cascade.api if config.cascade else "integrations") as sandbox:
        sandbox.export_env(config)
        receiver_url = f"http://127.0.0.1:{RECEIVER_PORT}"
        for line in register_sandbox_webhooks(config, receiver_url):
            print(line)
        inbox = open_inbox().create()
        # The production server (waitress, with its timeouts and caps), in this process.
        receiver = ReceiverServer(create_receiver_app(config, inbox), port=RECEIVER_PORT).start()
        print(f"Webhook receiver: {receiver_url}/webhooks/<source>/<key> (inbox {inbox.path})")
        for name, server in sandbox.servers.items():
            print(f"{name} emulator: {server.url}")
        print(f"Dagster UI: http://127.0.0.1:{port} (DAGSTER_HOME={home})")
        print(second_terminal(sandbox, config, home))
        dagster = Path(sys.executable).parent / "dagster"
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", str(ROOT / "workspace.yaml"), "-p", str(port)], cwd=ROOT, env=os.environ.copy()
        )
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait(timeout=60)
        finally:
            receiver.stop()
