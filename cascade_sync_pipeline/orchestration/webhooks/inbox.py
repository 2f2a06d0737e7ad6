"""The webhook inbox: a SQLite file the receiver appends to and the sensors read (or, for several
machines, the same in PostgreSQL: ``pg_inbox.py``; ``open_inbox`` picks by the location).

SQLite rather than the DuckDB warehouse: the receiver is a separate long-running process and DuckDB
allows one writing process per file. WAL lets the sensors read while the receiver writes, and
``synchronous=FULL`` makes a committed event survive a power cut, so a 200 is only sent for an
event that is on disk.

Each file carries a random ``inbox_id`` (table ``meta``), written when the file is created. Event ids
start again at 1 in a new file, so a sensor keeps the inbox id in its cursor and starts over when the
file was replaced (deleted, restored from a backup, moved) instead of waiting for ids it already passed.

A delivery is a duplicate when the same body was already stored for the same source and workspace
(``UNIQUE (source, workspace, body_sha256)``); the same body sent to two workspaces is two events.

The live runner (``runner.py``) claims the events it runs, so the sensors leave them alone: a claim
covers one workspace's events ``from_id``..``up_to_id`` and names the one before it by ``after_id``
(the previous claim's ``up_to_id``, 0 for the first). Two runners reading the same frontier both try
to insert the same ``after_id``; the primary key lets one of them win.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

INBOX_ENV = "CASCADE_SYNC_WEBHOOK_INBOX"
DEFAULT_INBOX_PATH = "data/webhook_inbox.sqlite"

_EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    item_ids    TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (source, workspace, body_sha256)
);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, id);
CREATE INDEX IF NOT EXISTS events_by_time ON events (received_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    source     TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    after_id   INTEGER NOT NULL,
    from_id    INTEGER NOT NULL,
    up_to_id   INTEGER NOT NULL,
    run_id     TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (source, workspace, after_id)
);
"""
_COLUMNS = "id, received_at, source, workspace, event_type, item_ids, body_sha256, body"


def _stamp(moment: datetime) -> str:
    # One fixed width, so text order is time order.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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

    @classmethod
    def from_row(cls, row) -> InboxEvent:
        """From ``id, received_at, source, workspace, event_type, item_ids``, whichever store read them."""
        received_at = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
        item_ids = row[5] if isinstance(row[5], list) else json.loads(row[5])
        return cls(row[0], received_at, row[2], row[3], row[4], item_ids)


@dataclass(frozen=True)
class Claim:
    """The live runner's claim on one workspace's events ``from_id``..``up_to_id`` (run ``run_id``)."""

    workspace: str
    from_id: int
    up_to_id: int
    run_id: str

    def covers(self, event: InboxEvent) -> bool:
        return event.workspace == self.workspace and self.from_id <= event.id <= self.up_to_id


RUNNER_SEEN_AT = "live_runner_seen_at"


class WebhookInbox:
    """Append-only store of verified webhook deliveries, de-duplicated per source, workspace and body."""

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
        """Create the file and tables if missing, and bring an older file up to date; safe on every start."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                _upgrade_dedup_key(con)
                con.execute(_EVENTS)
                for statement in filter(str.strip, _INDEXES.split(";")):
                    con.execute(statement)
                con.execute(
                    "INSERT INTO meta (key, value) VALUES ('inbox_id', ?) ON CONFLICT (key) DO NOTHING",
                    [uuid.uuid4().hex],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return self

    def inbox_id(self) -> str | None:
        """The random id written when this file was created (None for a file the receiver never upgraded)."""
        if not self.exists():
            return None
        with closing(self._connect()) as con:
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'inbox_id'").fetchone()
            except sqlite3.OperationalError:  # no meta table: a file from before inbox ids
                return None
        return row[0] if row else None

    def last_id(self) -> int:
        """The highest event id the file holds (0 when empty)."""
        if not self.exists():
            return 0
        with closing(self._connect()) as con:
            try:
                return con.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    def add(
        self,
        *,
        source: str,
        workspace: str,
        event_type: str,
        item_ids: list[str],
        body: bytes,
        received_at: datetime | None = None,
    ) -> int | None:
        """Store one delivery durably; return its id, or None when this body was already stored for
        this source and workspace."""
        received_at = received_at or datetime.now(UTC)
        digest = hashlib.sha256(body).hexdigest()
        with closing(self._connect()) as con:
            cursor = con.execute(
                "INSERT INTO events (received_at, source, workspace, event_type, item_ids, body_sha256, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, workspace, body_sha256) DO NOTHING",
                [
                    _stamp(received_at),
                    source,
                    workspace,
                    event_type,
                    json.dumps(item_ids),
                    digest,
                    body.decode("utf-8", errors="replace"),
                ],
            )
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def events_after(self, source: str, after_id: int, limit: int = 10_000) -> list[InboxEvent]:
        """The source's events with an id above ``after_id``, oldest first."""
        if not self.exists():
            return []
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT id, received_at, source, workspace, event_type, item_ids FROM events "
                "WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
                [source, after_id, limit],
            ).fetchall()
        return [InboxEvent.from_row(r) for r in rows]

    def frontier(self, source: str) -> dict[str, int]:
        """Per workspace, the last event id the live runner has claimed."""
        if not self.exists():
            return {}
        with closing(self._connect()) as con:
            try:
                return dict(
                    con.execute("SELECT workspace, max(up_to_id) FROM claims WHERE source = ? GROUP BY 1", [source])
                )
            except sqlite3.OperationalError:  # a file the receiver has not upgraded to claims yet
                return {}

    def claims_after(self, source: str, after_id: int) -> list[Claim]:
        """The source's claims that cover any event above ``after_id``."""
        if not self.exists():
            return []
        with closing(self._connect()) as con:
            try:
                rows = con.execute(
                    "SELECT workspace, from_id, up_to_id, run_id FROM claims WHERE source = ? AND up_to_id > ?",
                    [source, after_id],
                ).fetchall()
            except sqlite3.OperationalError:
                return []
        return [Claim(*r) for r in rows]

    def claim(self, source: str, claims: Sequence[tuple[int, Claim]]) -> bool:
        """Record every claim, each after the frontier (``after_id``) it was planned on, in one transaction;
        False, and none recorded, when another claimer took any of those frontiers first."""
        stamp = _stamp(datetime.now(UTC))
        rows = [[source, c.workspace, after, c.from_id, c.up_to_id, c.run_id, stamp] for after, c in claims]
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    inserted = con.execute(
                        "INSERT INTO claims (source, workspace, after_id, from_id, up_to_id, run_id, claimed_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        row,
                    ).rowcount
                    if inserted != 1:
                        con.execute("ROLLBACK")
                        return False
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return True

    def release(self, source: str, claim: Claim) -> bool:
        """Give a claim back (its run failed) while it is still the workspace's last, so the events are
        handled again; False when a later claim already follows it."""
        with closing(self._connect()) as con:
            return (
                con.execute(
                    "DELETE FROM claims WHERE source = ? AND workspace = ? AND run_id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM claims AS later WHERE later.source = ? AND later.workspace = ? AND later.after_id = ?)",
                    [source, claim.workspace, claim.run_id, source, claim.workspace, claim.up_to_id],
                ).rowcount
                == 1
            )

    def runner_seen(self, at: datetime | None = None) -> None:
        """The live runner is alive: it calls this every few seconds."""
        with closing(self._connect()) as con:
            con.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [RUNNER_SEEN_AT, _stamp(at or datetime.now(UTC))],
            )

    def runner_seen_at(self) -> datetime | None:
        """When the live runner last said it was alive (None: never, or no inbox yet)."""
        if not self.exists():
            return None
        with closing(self._connect()) as con:
            try:
                row = con.execute("SELECT value FROM meta WHERE key = ?", [RUNNER_SEEN_AT]).fetchone()
            except sqlite3.OperationalError:
                return None
        return datetime.fromisoformat(row[0]) if row else None

    def prune(self, before: datetime) -> int:
        """Delete events received before ``before``; a replay is recognised as long as its event is kept.
        Claims of that age go too, except each workspace's last (the frontier its next claim names)."""
        if not self.exists():
            return 0
        with closing(self._connect()) as con:
            con.execute(
                "DELETE FROM claims WHERE claimed_at < ? AND EXISTS (SELECT 1 FROM claims AS later WHERE "
                "later.source = claims.source AND later.workspace = claims.workspace AND later.after_id = claims.up_to_id)",
                [_stamp(before)],
            )
            return con.execute("DELETE FROM events WHERE received_at < ?", [_stamp(before)]).rowcount


def _upgrade_dedup_key(con: sqlite3.Connection) -> None:
    """Files made before 0.3 de-duplicated on the body alone (``body_sha256 UNIQUE``), so the same body
    sent to two workspaces was dropped for the second: rebuild the table with the wider key, ids kept."""
    row = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
    if row is None or "UNIQUE (source, workspace, body_sha256)" in row[0]:
        return
    con.execute("ALTER TABLE events RENAME TO events_before_0_3")
    con.execute("DROP INDEX IF EXISTS events_by_source")
    con.execute(_EVENTS)
    con.execute(f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_before_0_3 ORDER BY id")
    con.execute("DROP TABLE events_before_0_3")


class Inbox(Protocol):
    """What the receiver, the sensors and the live runner need of an inbox, whichever store holds it."""

    path: Any

    def exists(self) -> bool: ...

    def create(self) -> Inbox: ...

    def inbox_id(self) -> str | None: ...

    def last_id(self) -> int: ...

    def add(
        self,
        *,
        source: str,
        workspace: str,
        event_type: str,
        item_ids: list[str],
        body: bytes,
        received_at: datetime | None = None,
    ) -> int | None: ...

    def events_after(self, source: str, after_id: int, limit: int = 10_000) -> list[InboxEvent]: ...

    def frontier(self, source: str) -> dict[str, int]: ...

    def claims_after(self, source: str, after_id: int) -> list[Claim]: ...

    def claim(self, source: str, claims: Sequence[tuple[int, Claim]]) -> bool: ...

    def release(self, source: str, claim: Claim) -> bool: ...

    def runner_seen(self, at: datetime | None = None) -> None: ...

    def runner_seen_at(self) -> datetime | None: ...

    def prune(self, before: datetime) -> int: ...


def open_inbox(location: str | Path | None = None) -> Inbox:
    """The inbox at ``location`` (default: env ``CASCADE_SYNC_WEBHOOK_INBOX``, else the SQLite file
    ``data/webhook_inbox.sqlite``): PostgreSQL for a ``postgresql://`` URL, else a SQLite file."""
    from cascade_sync_pipeline.orchestration.webhooks.pg_inbox import PostgresInbox, is_postgres_url

    named = str(location) if location else os.environ.get(INBOX_ENV, "")
    return PostgresInbox(named) if is_postgres_url(named) else WebhookInbox(location)
