"""`cascade-sync webhooks run`: the live runner says it is alive in the inbox, so the sensors give it
time, and stops cleanly on SIGTERM (a Kubernetes rollout, Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox

pytestmark = pytest.mark.slow  # a process that loads Dagster

CLI = Path(sys.executable).parent / "cascade-sync"


def test_the_runner_beats_in_the_inbox_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "sync.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "warehouse": {"path": str(tmp_path / "wh.duckdb")},
                "workspaces": [{"key": "acme-eng", "source": "clickup", "team_id": "901", "token_env": "T"}],
            }
        )
    )
    inbox = WebhookInbox(tmp_path / "inbox.sqlite")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "CASCADE_SYNC_WEBHOOK_INBOX": str(inbox.path)}
    runner = subprocess.Popen(
        [str(CLI), "--config", str(config), "webhooks", "run"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while inbox.runner_seen_at() is None:
            assert runner.poll() is None, runner.stderr.read()
            assert time.monotonic() < deadline, "the runner never said it was alive"
            time.sleep(0.1)
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
        assert "running the webhook syncs of clickup" in runner.stderr.read()
    finally:
        if runner.poll() is None:
            runner.kill()
