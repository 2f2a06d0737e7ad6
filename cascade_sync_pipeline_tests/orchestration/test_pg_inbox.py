"""The webhook inbox in PostgreSQL (for a receiver and a code location on different machines): the
receiver commits each verified delivery there before answering, stores a replay once, and keeps the
password of the inbox URL out of what it shows."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import open_inbox
from cascade_sync_pipeline.orchestration.webhooks.pg_inbox import PostgresInbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer

SECRET = "pg-inbox-test-secret"
CONFIG = {
    "workspaces": [
        {
            "key": "acme-eng",
            "source": "clickup",
            "team_id": "901",
            "token_env": "TEST_TOKEN",
            "webhook_secret_env": "TEST_CU_WEBHOOK_SECRET",
        }
    ]
}


def test_the_receiver_commits_to_postgres_before_answering_and_stores_a_replay_once(postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_CU_WEBHOOK_SECRET", SECRET)
    inbox = open_inbox(postgres.fresh_database(f"receiver_{tmp_path.name}").url)
    assert isinstance(inbox, PostgresInbox) and not inbox.exists()
    body = json.dumps({"event": "taskStatusUpdated", "task_id": "86abc", "webhook_id": "w1"}).encode()
    headers = {
        "X-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    app = create_receiver_app(parse_config(CONFIG), inbox)
    with ReceiverServer(app) as server, httpx.Client(base_url=server.url) as http:
        first = http.post("/webhooks/clickup/acme-eng", content=body, headers=headers)
        stored = open_inbox(inbox._url).events_after("clickup", 0)  # another connection, right after the answer
        replay = http.post("/webhooks/clickup/acme-eng", content=body, headers=headers)
    assert first.status_code == 200 and first.json()["id"] == stored[0].id
    assert [(e.workspace, e.item_ids) for e in stored] == [("acme-eng", ["86abc"])]
    assert replay.status_code == 200 and len(inbox.events_after("clickup", 0)) == 1
    assert inbox.inbox_id() and inbox.last_id() == stored[0].id


def test_the_inbox_url_password_is_never_shown():
    inbox = PostgresInbox("postgresql://inbox:s3cret-Passw0rd@db.internal:5432/cascade_inbox?sslmode=require")
    assert "s3cret" not in inbox.path and "s3cret" not in repr(inbox)
    assert inbox.path.startswith("postgresql://inbox:***@db.internal:5432/cascade_inbox")


@pytest.mark.parametrize("location", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_a_postgres_url_picks_the_postgres_inbox(location):
    assert isinstance(open_inbox(location), PostgresInbox)
