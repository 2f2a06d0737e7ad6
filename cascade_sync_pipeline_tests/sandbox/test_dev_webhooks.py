"""`cascade-sync dev` on config/sandbox.yaml: the start-up registers every workspace's webhook at the
receiver it serves, ClickUp's and Wrike's, against the emulators on loopback (free ports here).

Wrike calls the receiver while the webhook is created (the secret handshake), so this also holds the
order: the receiver must answer before registration starts, holding the secret registration uses."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import yaml

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import INBOX_ENV
from cascade_sync_pipeline_tests.support.paths import REPO_ROOT
from cascade_sync_sandbox.company import PORTS, start_sandbox
from cascade_sync_sandbox.live import dev_webhooks


@pytest.fixture
def restored_env(tmp_path) -> Iterator[None]:
    """The start-up exports tokens and secrets into os.environ, as `cascade-sync dev` needs; undo it."""
    saved = dict(os.environ)
    os.environ[INBOX_ENV] = str(tmp_path / "inbox.sqlite")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pointed_at(sandbox) -> dict:
    """config/sandbox.yaml with the emulators' fixed ports replaced by the ones the sandbox got."""
    data = yaml.safe_load((REPO_ROOT / "config" / "sandbox.yaml").read_text())
    for name, fixed in PORTS.items():
        real = sandbox.servers[name].port
        for section in [data["cascade"], *data["workspaces"]]:
            section["base_url"] = re.sub(rf":{fixed}(?=/|$)", f":{real}", section["base_url"])
    return data


def test_dev_registers_the_clickup_and_wrike_webhooks_at_its_receiver(restored_env):
    with start_sandbox(clickup_tasks_per_team=20, ports=dict.fromkeys(PORTS, 0)) as sandbox:
        config = parse_config(pointed_at(sandbox))
        with dev_webhooks(config, sandbox, port=0) as dev:
            url = dev.receiver.url
            lines = dev.registrations
            wrike_hooks = [h.view() for h in sandbox.wrike.webhooks.hooks.values()]
            clickup_hooks = [h.json() for h in sandbox.clickup.webhooks.hooks.values()]

    for ws in config.workspaces:
        assert f"{ws.key}: webhook created -> {url}/webhooks/{ws.source}/{ws.key}" in lines, lines
    # The webhook exists in Wrike only when the handshake with the receiver succeeded.
    assert [(h["hookUrl"], h["status"]) for h in wrike_hooks] == [(f"{url}/webhooks/wrike/acme-delivery", "Active")]
    assert sorted(h["endpoint"] for h in clickup_hooks) == [
        f"{url}/webhooks/clickup/acme-ops",
        f"{url}/webhooks/clickup/acme-product",
    ]
