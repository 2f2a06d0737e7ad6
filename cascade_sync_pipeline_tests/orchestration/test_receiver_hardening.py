"""The webhook receiver facing the internet, over real HTTP on loopback (the production server, waitress):
malformed signatures, bodies that do not parse, oversized and chunked bodies, replays across workspaces,
stale deliveries, pruning while running, and inbox files from before these rules."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.orchestration.webhooks.inbox import WebhookInbox
from cascade_sync_pipeline.orchestration.webhooks.receiver import create_receiver_app
from cascade_sync_pipeline.orchestration.webhooks.server import ReceiverServer, ServerLimits

SECRET = "receiver-hardening-secret"
WRIKE_SECRET = "wrike-hardening-secret"
LIMIT = 64 * 1024
CONFIG = parse_config(
    {
        "workspaces": [
            {
                "key": "acme-eng",
                "source": "clickup",
                "team_id": "901",
                "token_env": "T",
                "webhook_secret_env": "HARD_CU_1",
            },
            {
                "key": "acme-ops",
                "source": "clickup",
                "team_id": "902",
                "token_env": "T",
                "webhook_secret_env": "HARD_CU_2",
            },
            {"key": "acme-pm", "source": "wrike", "token_env": "T", "webhook_secret_env": "HARD_WR"},
        ]
    }
)


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stored(path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute("SELECT source, workspace, body FROM events ORDER BY id").fetchall()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def secrets_env(monkeypatch):
    for name in ("HARD_CU_1", "HARD_CU_2"):
        monkeypatch.setenv(name, SECRET)
    monkeypatch.setenv("HARD_WR", WRIKE_SECRET)


def serve(tmp_path, *, server_limit: int = LIMIT, **app_options):
    inbox = WebhookInbox(tmp_path / "inbox.sqlite")
    app = create_receiver_app(CONFIG, inbox, max_body_bytes=LIMIT, **app_options)
    return ReceiverServer(app, limits=ServerLimits(max_body_bytes=server_limit)), inbox.path


@pytest.fixture
def receiver(tmp_path, secrets_env):
    server, path = serve(tmp_path)
    with server, httpx.Client(base_url=server.url, timeout=10) as http:
        yield http, path


EVENT = json.dumps({"event": "taskUpdated", "task_id": "86abc", "webhook_id": "w"}).encode()


# --- signatures -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claimed",
    [
        "é".encode() * 32,  # non-ASCII (UTF-8 bytes on the wire)
        "ü".encode("latin-1") * 64,  # non-ASCII (Latin-1)
        b"a" * 63,
        b"a" * 65,
        b"g" * 64,  # wrong length, not hex
        b"0x" + b"a" * 62,
        b"a" * 32 + b" " + b"a" * 31,
    ],
    ids=["utf8", "latin1", "63-hex", "65-hex", "not-hex", "0x-prefix", "inner-space"],
)
@pytest.mark.parametrize("route", ["clickup", "wrike", "wrike-handshake"])
def test_a_malformed_signature_is_401_never_500(receiver, claimed, route):
    http, path = receiver
    if route == "clickup":
        answer = http.post("/webhooks/clickup/acme-eng", content=EVENT, headers={"X-Signature": claimed})
    else:
        headers = {"X-Hook-Signature": claimed}
        if route == "wrike-handshake":
            headers["X-Hook-Secret"] = "abc123"
        answer = http.post("/webhooks/wrike/acme-pm", content=b"[]", headers=headers)
    assert answer.status_code == 401, answer.text
    assert "X-Hook-Secret" not in answer.headers and stored(path) == []


# --- bodies that do not parse -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"event": "taskUpdated", "task_id": ' + b"1" * 5000 + b"}",  # an integer Python refuses to parse
        b'{"event": "taskUpdated", "task_id": "\xff\xfe"}',  # not UTF-8
        b'{"event": "taskUpdated"',  # cut short
        b'{"event": ["not", "a", "name"]}',
        b'{"event": ""}',
        b"",
    ],
    ids=[
        "nested-arrays",
        "nested-objects",
        "huge-integer",
        "not-utf8",
        "truncated",
        "event-not-text",
        "empty-event",
        "empty",
    ],
)
def test_a_signed_body_that_does_not_parse_is_400(receiver, body):
    http, path = receiver
    answer = http.post("/webhooks/clickup/acme-eng", content=body, headers={"X-Signature": sign(body)})
    assert answer.status_code == 400, answer.text
    nested = b"[" * 20_000 + b"]" * 20_000
    answer = http.post(
        "/webhooks/wrike/acme-pm", content=nested, headers={"X-Hook-Signature": sign(nested, WRIKE_SECRET)}
    )
    assert answer.status_code == 400
    assert stored(path) == []


# --- body size ---------------------------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A delivery padded with spaces to ``size`` bytes: still valid JSON when cut anywhere past the payload."""
    return EVENT + b" " * (size - len(EVENT))


def chunks(body: bytes, size: int = 8192):
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_and_never_stored_cut_short(receiver, chunked):
    http, path = receiver
    whole = padded(LIMIT)
    longer = whole + b"X" * 100  # signed over its first LIMIT bytes: valid JSON if it were cut there
    for body, expected in ((longer, 413), (padded(LIMIT + 1), 413), (whole, 200)):
        answer = http.post(
            "/webhooks/clickup/acme-eng",
            headers={"X-Signature": sign(whole)},
            content=chunks(body) if chunked else body,
        )
        assert answer.status_code == expected, answer.text
    assert [len(row[2]) for row in stored(path)] == [LIMIT]


@pytest.mark.parametrize("declared", [LIMIT + 1, 1 << 30])
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(receiver, declared):
    http, _ = receiver
    port = int(str(http.base_url).rsplit(":", 1)[1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhooks/clickup/acme-eng HTTP/1.1\r\nHost: x\r\nX-Signature: "
            + b"0" * 64
            + f"\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 413")  # at once: no body byte was sent


# --- replays and age ---------------------------------------------------------------------------------------


def test_the_replay_key_is_source_workspace_and_body(receiver):
    http, path = receiver
    headers = {"X-Signature": sign(EVENT)}
    answers = [
        http.post(f"/webhooks/clickup/{key}", content=EVENT, headers=headers).json()["status"]
        for key in ("acme-eng", "acme-ops", "acme-eng", "acme-ops")
    ]
    assert answers == ["stored", "stored", "duplicate", "duplicate"]
    assert [row[:2] for row in stored(path)] == [("clickup", "acme-eng"), ("clickup", "acme-ops")]


def test_deliveries_older_than_the_maximum_age_are_refused(tmp_path, secrets_env):
    now = datetime.now(UTC)
    server, path = serve(tmp_path, max_event_age=timedelta(hours=6))

    def clickup(at: datetime) -> bytes:
        return json.dumps(
            {
                "event": "taskUpdated",
                "task_id": "86abc",
                "webhook_id": "w",
                "history_items": [{"id": "1", "date": str(int(at.timestamp() * 1000)), "field": "name"}],
            }
        ).encode()

    def wrike(at: datetime) -> bytes:
        return json.dumps(
            [
                {
                    "taskId": "MAAAAAEO",
                    "eventType": "TaskTitleChanged",
                    "lastUpdatedDate": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ]
        ).encode()

    with server, httpx.Client(base_url=server.url, timeout=10) as http:
        old, fresh = now - timedelta(hours=7), now - timedelta(minutes=5)
        assert (
            http.post(
                "/webhooks/clickup/acme-eng", content=clickup(old), headers={"X-Signature": sign(clickup(old))}
            ).status_code
            == 400
        )
        assert (
            http.post(
                "/webhooks/wrike/acme-pm",
                content=wrike(old),
                headers={"X-Hook-Signature": sign(wrike(old), WRIKE_SECRET)},
            ).status_code
            == 400
        )
        assert (
            http.post(
                "/webhooks/clickup/acme-eng", content=clickup(fresh), headers={"X-Signature": sign(clickup(fresh))}
            ).status_code
            == 200
        )
        assert (
            http.post(
                "/webhooks/wrike/acme-pm",
                content=wrike(fresh),
                headers={"X-Hook-Signature": sign(wrike(fresh), WRIKE_SECRET)},
            ).status_code
            == 200
        )
        # A delivery without an event time (ClickUp's taskDeleted) is judged by the replay window alone.
        assert (
            http.post("/webhooks/clickup/acme-eng", content=EVENT, headers={"X-Signature": sign(EVENT)}).status_code
            == 200
        )
    assert len(stored(path)) == 3


def test_old_events_are_pruned_while_the_receiver_runs(tmp_path, secrets_env):
    start = datetime.now(UTC)
    clock = Clock(start)
    server, path = serve(
        tmp_path, max_event_age=timedelta(hours=1), keep=timedelta(hours=2), prune_every=timedelta(hours=1), clock=clock
    )
    inbox = WebhookInbox(path)
    with server, httpx.Client(base_url=server.url, timeout=10) as http:

        def deliver(task: str) -> None:
            body = json.dumps({"event": "taskUpdated", "task_id": task}).encode()
            assert (
                http.post("/webhooks/clickup/acme-eng", content=body, headers={"X-Signature": sign(body)}).json()[
                    "status"
                ]
                == "stored"
            )

        deliver("first")
        inbox.add(
            source="clickup",
            workspace="acme-eng",
            event_type="taskUpdated",
            item_ids=["ancient"],
            body=b'{"event":"taskUpdated","task_id":"ancient"}',
            received_at=start - timedelta(days=3),
        )
        clock.now = start + timedelta(minutes=30)  # the next pruning is not due yet
        deliver("second")
        assert len(stored(path)) == 3
        clock.now = start + timedelta(hours=2, minutes=15)  # due: older than two hours goes
        deliver("third")
    assert [json.loads(row[2])["task_id"] for row in stored(path)] == ["second", "third"]


def test_a_keep_window_shorter_than_the_maximum_age_is_widened(tmp_path, secrets_env, caplog):
    serve(tmp_path, max_event_age=timedelta(days=2), keep=timedelta(hours=1))
    assert "instead of 1:00:00" in caplog.text


# --- inbox files from before ----------------------------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, source TEXT NOT NULL, workspace TEXT NOT NULL,
    event_type TEXT NOT NULL, item_ids TEXT NOT NULL, body_sha256 TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE INDEX events_by_source ON events (source, id);
"""


def test_an_inbox_from_before_gets_the_wider_replay_key_and_an_id_with_its_events_kept(tmp_path):
    path = tmp_path / "inbox.sqlite"
    with closing(sqlite3.connect(path)) as con, con:
        con.executescript(OLD_SCHEMA)
        for i in (1, 2, 7):
            con.execute(
                "INSERT INTO events VALUES (?, '2026-11-30T00:00:00.000000+00:00', 'clickup', 'acme-eng', "
                "'taskUpdated', '[]', ?, ?)",
                [i, hashlib.sha256(str(i).encode()).hexdigest(), str(i)],
            )
    inbox = WebhookInbox(path)
    assert inbox.inbox_id() is None
    inbox.create()
    assert inbox.inbox_id() and len(inbox.inbox_id()) == 32
    assert [e.id for e in inbox.events_after("clickup", 0)] == [1, 2, 7]
    assert inbox.add(source="clickup", workspace="acme-ops", event_type="t", item_ids=[], body=b"7") == 8
    assert inbox.add(source="clickup", workspace="acme-eng", event_type="t", item_ids=[], body=b"7") is None
    first_id = inbox.inbox_id()
    assert inbox.create().inbox_id() == first_id  # stable across starts


# --- slow clients ------------------------------------------------------------------------------------------------


def test_a_client_sending_half_its_headers_is_cut_off_after_the_request_timeout(tmp_path, secrets_env):
    inbox = WebhookInbox(tmp_path / "inbox.sqlite")
    limits = ServerLimits(threads=2, request_timeout=1.0, idle_timeout=60, cleanup_interval=0.2)
    with ReceiverServer(create_receiver_app(CONFIG, inbox), limits=limits) as server:
        with (
            socket.create_connection((server.host, server.port), timeout=5) as half,
            socket.create_connection((server.host, server.port), timeout=5) as trickle,
        ):
            half.sendall(b"POST /webhooks/clickup/acme-eng HTTP/1.1\r\nHost: x\r\n")
            trickle.sendall(b"POST /webhooks/clickup/acme-eng HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            opened, cut_off = time.monotonic(), None
            while time.monotonic() - opened < 4:  # a byte every 0.1 s: never idle, never complete
                try:
                    trickle.send(b"a")
                except OSError:
                    cut_off = time.monotonic() - opened
                    break
                time.sleep(0.1)
            assert cut_off is not None and 1.0 <= cut_off < 3.0
            half.settimeout(2)
            assert half.recv(1) == b""  # closed by the server, not answered
            # Meanwhile, and after, signed deliveries are answered at once.
            answer = httpx.post(
                f"{server.url}/webhooks/clickup/acme-eng",
                content=EVENT,
                headers={"X-Signature": sign(EVENT)},
                timeout=2,
            )
            assert answer.status_code == 200
