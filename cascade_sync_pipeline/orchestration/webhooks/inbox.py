"""The webhook inbox: a SQLite file the receiver appends to and the sensors read.

SQLite rather than the DuckDB warehouse: the receiver is a separate long-running process and DuckDB
allows one writing process per file. WAL lets the sensors read while the receiver writes, and
``synchronous=FULL`` makes a committed event survive a power cut, so a 200 is only sent for an
event that is on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

INBOX_ENV = "CASCADE_SYNC_WEBHOOK_INBOX"
DEFAULT_INBOX_PATH = "data/webhook_inbox.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    item_ids    TEXT NOT NULL,
    body_sha256 TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, id);
"""


def _stamp(moment: datetime) -> str:
    # One fixed width, so text order is time order.
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def inbox_path() -> Path:
    """Where the inbox lives: env ``CASCADE_SYNC_WEBHOOK_INBOX`` or ``data/webhook_inbox.sqlite``."""
    return Path(os.environ.get(INBOX_ENV) or DEFAULT_INBOX_PATH)


@dataclass(frozen=True)
class InboxEvent:
    """One accepted delivery, as the sensors see it."""

    id: int
    received_at: datetime
    source: str
    workspace: str
    event_type: str
    item_ids: list[str]


class WebhookInbox:
    """Append-only store of verified webhook deliveries, de-duplicated by the SHA-256 of the body."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else inbox_path()

    def __repr__(self) -> str:
        return f"WebhookInbox({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    def create(self) -> WebhookInbox:
        """Create the file and table if missing; safe to call on every start."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
        return self

    def add(self, *, source: str, workspace: str, event_type: str, item_ids: list[str], body: bytes,
            received_at: datetime | None = None) -> int | None:
        """Store one delivery durably; return its id, or None when this exact body was stored before."""
        received_at = received_at or datetime.now(timezone.utc)
        digest = hashlib.sha256(body).hexdigest()
        with closing(self._connect()) as con:
            cursor = con.execute(
                "INSERT INTO events (received_at, source, workspace, event_type, item_ids, body_sha256, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (body_sha256) DO NOTHING",
                [_stamp(received_at), source, workspace, event_type,
                 json.dumps(item_ids), digest, body.decode("utf-8", errors="replace")])
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def events_after(self, source: str, after_id: int, limit: int = 10_000) -> list[InboxEvent]:
        """The source's events with an id above ``after_id``, oldest first."""
        if not self.exists():
            return []
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT id, received_at, source, workspace, event_type, item_ids FROM events "
                "WHERE source = ? AND id > ? ORDER BY id LIMIT ?", [source, after_id, limit]).fetchall()
        return [InboxEvent(id=r[0], received_at=datetime.fromisoformat(r[1]), source=r[2], workspace=r[3],
                           event_type=r[4], item_ids=json.loads(r[5])) for r in rows]

    def prune(self, before: datetime) -> int:
        """Delete events received before ``before``; the replay window is as long as events are kept."""
        if not self.exists():
            return 0
        with closing(self._connect()) as con:
            return con.execute("DELETE FROM events WHERE received_at < ?",
                               [_stamp(before)]).rowcount
