"""The webhook receiver over real HTTP, its SQLite inbox, and webhook registration with ClickUp."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cascade_sync_pipeline import cli
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer
from cascade_sync_sandbox.clickup import ClickUpEmulator
from cascade_sync_sandbox.clickup import generate as generate_clickup
from cascade_sync_sandbox.wrike import WrikeEmulator
from cascade_sync_sandbox.wrike import generate as generate_wrike
from cascade_sync_sandbox.wrike.webhooks import WebhookHub

CLICKUP_SECRET = "O94IM25S7PXBPYTMNXLLET230SRP0S89COR7B1YOJ2ZIE8WQNK5UUKEF26W0Z5GA"
WRIKE_SECRET = "wrike-shared-secret-123"
WORKSPACES = [
    {
        "key": "acme-eng",
        "source": "clickup",
        "team_id": "901",
        "token_env": "TEST_CU_TOKEN",
        "webhook_secret_env": "TEST_CU_WEBHOOK_SECRET",
    },
    {"key": "acme-ops", "source": "clickup", "team_id": "902", "token_env": "TEST_CU_TOKEN"},
    {"key": "acme-pm", "source": "wrike", "token_env": "TEST_WR_TOKEN", "webhook_secret_env": "TEST_WR_WEBHOOK_SECRET"},
]
TASK_STATUS = {
    "event": "taskStatusUpdated",
    "task_id": "1vj38vv",
    "webhook_id": "7fa3ec74",
    "history_items": [{"id": "2800787326392370170", "field": "status", "after": {"status": "in progress"}}],
}
NOW = datetime.now(UTC).replace(microsecond=0)
WRIKE_EVENTS = [
    {
        "taskId": "MAAAAAEOud3s",
        "webhookId": "IEAAIKU5",
        "eventAuthorId": "KUAAXTKP",
        "eventType": "TaskStatusChanged",
        "oldStatus": "Active",
        "status": "Completed",
        "lastUpdatedDate": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    },
    {
        "taskId": "MAAAAAEOud3t",
        "webhookId": "IEAAIKU5",
        "eventAuthorId": "KUAAXTKP",
        "eventType": "TaskTitleChanged",
        "title": "New title",
        "lastUpdatedDate": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    },
]


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def rows(path) -> list[dict]:
    with closing(sqlite3.connect(path)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM events ORDER BY id")]


@pytest.fixture(scope="module")
def served_receiver(tmp_path_factory):
    """One receiver for the module (stopping a server takes half a second); tests get an empty inbox."""
    inbox = WebhookInbox(tmp_path_factory.mktemp("receiver") / "inbox.sqlite")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEST_CU_WEBHOOK_SECRET", CLICKUP_SECRET)
        env.setenv("TEST_WR_WEBHOOK_SECRET", WRIKE_SECRET)
        app = create_receiver_app(parse_config({"workspaces": WORKSPACES}), inbox)
        with ReceiverServer(app) as server, httpx.Client(base_url=server.url) as http:
            yield http, inbox.path


@pytest.fixture
def receiver(served_receiver):
    with closing(sqlite3.connect(served_receiver[1])) as con, con:
        con.execute("DELETE FROM events")
    return served_receiver


def post_clickup(http, key: str, body: bytes, secret: str | None = CLICKUP_SECRET, **headers) -> httpx.Response:
    if secret is not None:
        headers.setdefault("X-Signature", hex_hmac(secret, body))
    return http.post(f"/webhooks/clickup/{key}", content=body, headers={"Content-Type": "application/json", **headers})


# --- ClickUp deliveries --------------------------------------------------------------------------------


def test_signed_clickup_delivery_is_on_disk_when_answered(receiver):
    http, path = receiver
    body = json.dumps(TASK_STATUS, separators=(",", ":")).encode()
    answer = post_clickup(http, "acme-eng", body)
    stored = rows(path)  # a separate connection, right after the answer
    assert answer.status_code == 200 and answer.json() == {"status": "stored", "id": stored[0]["id"]}
    assert len(stored) == 1
    event = stored[0]
    assert (event["source"], event["workspace"], event["event_type"]) == ("clickup", "acme-eng", "taskStatusUpdated")
    assert json.loads(event["item_ids"]) == ["1vj38vv"]
    assert event["body"].encode() == body and event["body_sha256"] == hashlib.sha256(body).hexdigest()
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_signature_is_checked_on_the_raw_bytes(receiver):
    http, path = receiver
    body = json.dumps(TASK_STATUS, indent=2).encode()  # whitespace a re-serializing receiver would lose
    assert post_clickup(http, "acme-eng", body).status_code == 200
    assert rows(path)[0]["body"].encode() == body


@pytest.mark.parametrize(
    "headers, secret",
    [
        ({}, None),
        ({}, "not-the-secret"),
        ({"X-Signature": ""}, None),
        ({"X-Signature": hex_hmac(CLICKUP_SECRET, b'{"event":"taskDeleted","task_id":"other"}')}, None),
    ],
    ids=["unsigned", "forged", "empty", "signature-of-another-body"],
)
def test_unsigned_or_forged_clickup_delivery_is_rejected(receiver, headers, secret):
    http, path = receiver
    answer = post_clickup(http, "acme-eng", json.dumps(TASK_STATUS).encode(), secret=secret, **headers)
    assert answer.status_code == 401
    assert rows(path) == []


def test_replayed_delivery_is_acknowledged_but_not_stored_twice(receiver):
    http, path = receiver
    body = json.dumps(TASK_STATUS).encode()
    first, replay = post_clickup(http, "acme-eng", body), post_clickup(http, "acme-eng", body)
    assert first.json()["status"] == "stored"
    assert replay.status_code == 200 and replay.json() == {"status": "duplicate"}
    other = post_clickup(http, "acme-eng", json.dumps({**TASK_STATUS, "task_id": "2ab"}).encode())
    assert other.json()["status"] == "stored"
    assert [json.loads(r["item_ids"]) for r in rows(path)] == [["1vj38vv"], ["2ab"]]


@pytest.mark.parametrize(
    "path",
    ["/webhooks/clickup/nobody", "/webhooks/clickup/acme-pm", "/webhooks/wrike/acme-eng"],
    ids=["unknown", "wrike-key-on-clickup-route", "clickup-key-on-wrike-route"],
)
def test_unknown_workspace_or_wrong_source_is_404(receiver, path):
    http, inbox_path = receiver
    body = json.dumps(TASK_STATUS).encode()
    secret = CLICKUP_SECRET if "clickup" in path else WRIKE_SECRET
    answer = http.post(
        path, content=body, headers={"X-Signature": hex_hmac(secret, body), "X-Hook-Signature": hex_hmac(secret, body)}
    )
    assert answer.status_code == 404
    assert rows(inbox_path) == []


def test_workspace_without_a_secret_is_refused(receiver):
    http, path = receiver
    answer = post_clickup(http, "acme-ops", json.dumps(TASK_STATUS).encode(), secret="anything")
    assert answer.status_code == 503 and "not configured" in answer.json()["error"]
    assert rows(path) == []


def test_signed_body_that_is_not_a_payload_is_400(receiver):
    http, path = receiver
    for body in (b"not json", b'["a list"]'):
        assert post_clickup(http, "acme-eng", body).status_code == 400
    assert rows(path) == []


def test_secrets_and_signatures_stay_out_of_logs_and_answers(receiver, caplog):
    http, _ = receiver
    caplog.set_level(logging.DEBUG)
    body = json.dumps(TASK_STATUS).encode()
    answers = [
        post_clickup(http, "acme-eng", body, secret="forged"),
        post_clickup(http, "acme-eng", body),
        post_clickup(http, "acme-ops", body),
    ]
    assert [a.status_code for a in answers] == [401, 200, 503]
    assert "rejected clickup delivery for workspace 'acme-eng'" in caplog.text
    for text in [caplog.text] + [a.text for a in answers]:
        assert CLICKUP_SECRET not in text and hex_hmac(CLICKUP_SECRET, body) not in text


# --- Wrike ----------------------------------------------------------------------------------------------


def test_wrike_handshake_answers_the_hmac_of_the_challenge(receiver):
    http, path = receiver
    body, challenge = b'{"requestType":"WebHook secret verification"}', "aZ09" * 16
    answer = http.post(
        "/webhooks/wrike/acme-pm",
        content=body,
        headers={"X-Hook-Secret": challenge, "X-Hook-Signature": hex_hmac(WRIKE_SECRET, body)},
    )
    assert answer.status_code == 200
    assert answer.headers["X-Hook-Secret"] == hex_hmac(WRIKE_SECRET, challenge.encode())
    assert rows(path) == []  # a handshake is not an event


@pytest.mark.parametrize(
    "challenge, signature, status",
    [
        ("abc123", "0" * 64, 401),
        ('[{"taskId":"X","eventType":"TaskDeleted"}]', None, 400),
    ],
    ids=["forged-signature", "challenge-that-is-a-payload"],
)
def test_wrike_handshake_is_not_a_signing_oracle(receiver, challenge, signature, status):
    http, _ = receiver
    headers = {"X-Hook-Secret": challenge}
    if signature:
        headers["X-Hook-Signature"] = signature
    answer = http.post("/webhooks/wrike/acme-pm", content=b"{}", headers=headers)
    assert answer.status_code == status and "X-Hook-Secret" not in answer.headers


def test_signed_wrike_delivery_is_stored_and_unsigned_or_forged_rejected(receiver):
    http, path = receiver
    body = json.dumps(WRIKE_EVENTS).encode()
    assert http.post("/webhooks/wrike/acme-pm", content=body).status_code == 401
    assert (
        http.post(
            "/webhooks/wrike/acme-pm", content=body, headers={"X-Hook-Signature": hex_hmac("wrong", body)}
        ).status_code
        == 401
    )
    answer = http.post(
        "/webhooks/wrike/acme-pm", content=body, headers={"X-Hook-Signature": hex_hmac(WRIKE_SECRET, body)}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "stored"
    [event] = rows(path)
    assert (event["source"], event["workspace"]) == ("wrike", "acme-pm")
    assert event["event_type"] == "TaskStatusChanged,TaskTitleChanged"
    assert json.loads(event["item_ids"]) == ["MAAAAAEOud3s", "MAAAAAEOud3t"]


def test_wrike_emulator_registers_and_delivers_to_the_receiver(receiver):
    http, path = receiver
    hub = WebhookHub("IEAAIKU5", new_id=lambda: "IEAAIKU5JAACF5JK", attempts=1)
    hook = hub.create(
        hook_url=str(http.base_url.join("/webhooks/wrike/acme-pm")),
        secret=WRIKE_SECRET,
        events=None,
        recursive=False,
        folder_id="MQAAAAEN9zQV",
    )
    [delivery] = hub.publish(
        [{"taskId": "MAAAAAEOud3s", "eventType": "TaskCreated", "lastUpdatedDate": WRIKE_EVENTS[0]["lastUpdatedDate"]}],
        covers=lambda h: True,
    )
    assert hook.status == "Active" and delivery.ok
    [event] = rows(path)
    assert (event["workspace"], event["event_type"], event["body"].encode()) == (
        "acme-pm",
        "TaskCreated",
        delivery.body,
    )


# --- the serve command ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_serve_command_receives_deliveries(tmp_path):
    config_file = tmp_path / "sync.yaml"
    config_file.write_text(json.dumps({"workspaces": WORKSPACES[:1]}))
    env = {
        "TEST_CU_WEBHOOK_SECRET": CLICKUP_SECRET,
        "CASCADE_SYNC_WEBHOOK_INBOX": str(tmp_path / "in.sqlite"),
        "PATH": "/usr/bin:/bin",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cascade_sync_pipeline.cli",
            "--config",
            str(config_file),
            "webhooks",
            "serve",
            "--port",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        while "receiving webhooks on" not in line:
            line = process.stderr.readline()
            assert line, "the receiver exited before listening"
        base = line.split("on ")[1].split("/webhooks")[0]
        body = json.dumps(TASK_STATUS).encode()
        answer = httpx.post(
            f"{base}/webhooks/clickup/acme-eng", content=body, headers={"X-Signature": hex_hmac(CLICKUP_SECRET, body)}
        )
        assert answer.status_code == 200
        assert rows(tmp_path / "in.sqlite")[0]["event_type"] == "taskStatusUpdated"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- registration with the ClickUp emulator ---------------------------------------------------------------


@pytest.fixture
def clickup_and_receiver(tmp_path, monkeypatch):
    """The ClickUp emulator, a receiver, and a config file whose workspace points at both."""
    dataset = generate_clickup(5, teams=1, tasks_per_team=12)
    emulator = ClickUpEmulator(dataset, webhook_retry_delay=0.05)
    team_id = next(iter(dataset.teams))
    monkeypatch.setenv("TEST_CU_TOKEN", dataset.admin_token)
    monkeypatch.delenv("TEST_CU_WEBHOOK_SECRET", raising=False)
    workspace = dict(WORKSPACES[0], team_id=team_id)
    inbox = WebhookInbox(tmp_path / "inbox.sqlite")
    with (
        emulator.serve(port=0) as api,
        ReceiverServer(create_receiver_app(parse_config({"workspaces": [workspace]}), inbox)) as receiver,
    ):
        workspace["base_url"] = f"{api.url}/api/v2"
        config_file = tmp_path / "sync.yaml"
        config_file.write_text(json.dumps({"workspaces": [workspace]}))
        yield emulator, receiver.url, str(config_file), inbox.path


def register(config_file: str, public_url: str, capsys) -> tuple[int, str]:
    code = cli.main(["--config", config_file, "webhooks", "register", "--public-url", public_url, "acme-eng"])
    return code, capsys.readouterr().out


def test_registration_creates_once_prints_the_secret_once_and_deliveries_arrive(
    clickup_and_receiver, capsys, caplog, monkeypatch
):
    emulator, public_url, config_file, inbox_path = clickup_and_receiver
    caplog.set_level(logging.DEBUG)
    code, out = register(config_file, public_url, capsys)
    [hook] = emulator.webhooks.hooks.values()
    assert code == 0 and hook.endpoint == f"{public_url}/webhooks/clickup/acme-eng" and hook.events == ["*"]
    assert f"export TEST_CU_WEBHOOK_SECRET={hook.secret}" in out
    assert hook.secret not in caplog.text

    code, out = register(config_file, public_url, capsys)
    assert code == 0 and "webhook active" in out and hook.secret not in out
    assert len(emulator.webhooks.hooks) == 1

    monkeypatch.setenv("TEST_CU_WEBHOOK_SECRET", hook.secret)
    task_id = next(iter(emulator.dataset.tasks))
    emulator.update_task(task_id, name="Renamed by the webhook test")
    assert emulator.flush_webhooks(timeout=10)
    assert all(d.ok for d in emulator.webhooks.deliveries) and emulator.webhooks.deliveries
    stored = rows(inbox_path)
    assert {(r["workspace"], json.loads(r["item_ids"])[0]) for r in stored} == {("acme-eng", task_id)}
    assert len(stored) == len(emulator.webhooks.deliveries)


def test_registration_reactivates_a_suspended_webhook(clickup_and_receiver, capsys):
    emulator, public_url, config_file, _ = clickup_and_receiver
    register(config_file, public_url, capsys)
    [hook] = emulator.webhooks.hooks.values()
    emulator.webhooks.update(hook, None, None, "suspended")
    code, out = register(config_file, public_url, capsys)
    assert code == 0 and "webhook reactivated" in out and "was suspended" in out
    assert hook.status == "active" and len(emulator.webhooks.hooks) == 1


def test_registration_failure_names_the_workspace(clickup_and_receiver, capsys, monkeypatch):
    _, public_url, config_file, _ = clickup_and_receiver
    monkeypatch.setenv("TEST_CU_TOKEN", "pk_0_REVOKED")
    code = cli.main(["--config", config_file, "webhooks", "register", "--public-url", public_url])
    err = capsys.readouterr().err
    assert code == 1 and "acme-eng (clickup): registration failed" in err and "TEST_CU_TOKEN" in err


# --- registration with the Wrike emulator ----------------------------------------------------------------


@pytest.fixture
def wrike_and_receiver(tmp_path, monkeypatch):
    """The Wrike emulator, a receiver holding the workspace's secret, and a config file for both."""
    emulator = WrikeEmulator(generate_wrike(4, spaces=1, projects_per_space=1, tasks=6, users=2))
    monkeypatch.setenv("TEST_WR_TOKEN", emulator.dataset.permanent_token)
    monkeypatch.setenv("TEST_WR_WEBHOOK_SECRET", WRIKE_SECRET)
    workspace = dict(WORKSPACES[2])
    inbox = WebhookInbox(tmp_path / "inbox.sqlite")
    with (
        emulator.serve(port=0) as api,
        ReceiverServer(create_receiver_app(parse_config({"workspaces": [workspace]}), inbox)) as receiver,
    ):
        workspace["base_url"] = f"{api.url}/api/v4"
        config_file = tmp_path / "sync.yaml"
        config_file.write_text(json.dumps({"workspaces": [workspace]}))
        yield emulator, receiver.url, str(config_file), inbox.path


def register_wrike_cli(config_file: str, public_url: str, capsys) -> tuple[int, str]:
    code = cli.main(["--config", config_file, "webhooks", "register", "--public-url", public_url, "acme-pm"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_wrike_registration_passes_the_handshake_and_deliveries_arrive(wrike_and_receiver, capsys, caplog):
    emulator, public_url, config_file, inbox_path = wrike_and_receiver
    caplog.set_level(logging.DEBUG)
    code, out = register_wrike_cli(config_file, public_url, capsys)
    [hook] = emulator.webhooks.hooks.values()
    assert code == 0 and "acme-pm (wrike): webhook created" in out
    assert hook.hook_url == f"{public_url}/webhooks/wrike/acme-pm" and hook.status == "Active"
    assert WRIKE_SECRET not in out + caplog.text

    task = emulator.dataset.tasks[0]
    emulator.update_task(task["id"], title="Renamed by the webhook test")
    [event] = rows(inbox_path)
    assert (event["workspace"], event["event_type"], json.loads(event["item_ids"])) == (
        "acme-pm",
        "TaskTitleChanged",
        [task["id"]],
    )

    hook.status = "Suspended"
    code, out = register_wrike_cli(config_file, public_url, capsys)
    assert code == 0 and "webhook reactivated" in out and hook.status == "Active"
    code, out = register_wrike_cli(config_file, public_url, capsys)
    assert code == 0 and "webhook active" in out and len(emulator.webhooks.hooks) == 1


def test_wrike_registration_fails_when_the_receiver_has_another_secret(wrike_and_receiver, capsys, monkeypatch):
    emulator, public_url, config_file, _ = wrike_and_receiver
    config = json.loads(Path(config_file).read_text())
    config["workspaces"][0]["webhook_secret_env"] = "TEST_WR_OTHER_SECRET"
    monkeypatch.setenv("TEST_WR_OTHER_SECRET", "a-secret-the-receiver-does-not-hold")
    with open(config_file, "w") as out_file:
        json.dump(config, out_file)
    code, out = register_wrike_cli(config_file, public_url, capsys)
    assert code == 1 and "acme-pm (wrike): registration failed" in out
    assert "verification failed" in out and "reachable at" in out
    assert emulator.webhooks.hooks == {} and "a-secret-the-receiver-does-not-hold" not in out
