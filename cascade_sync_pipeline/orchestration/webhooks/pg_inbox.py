"""The webhook inbox in PostgreSQL, for deployments where the receiver and the code location run on
different machines (Kubernetes: the receiver's pods and the code server's pod share no disk).

Chosen when ``CASCADE_SYNC_WEBHOOK_INBOX`` (or ``--inbox``) is a ``postgresql://`` URL; the tables live
in the schema ``cascade_sync_inbox``. Same contract as the SQLite inbox: an event is committed before
the receiver answers 200, duplicates (same source, workspace and body) are stored once, ids only grow,
and the random ``inbox_id`` written at creation lets a sensor notice that the store was replaced;
the live runner's claims work as in ``inbox.py``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extras

from cascade_sync_pipeline.orchestration.webhooks.inbox import RUNNER_SEEN_AT, Claim, InboxEvent

SCHEMA = "cascade_sync_inbox"
_CREATE = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.events (
    id          BIGSERIAL PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    item_ids    JSONB NOT NULL,
    body_sha256 TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (source, workspace, body_sha256)
);
CREATE INDEX IF NOT EXISTS events_by_source ON {SCHEMA}.events (source, id);
CREATE INDEX IF NOT EXISTS events_by_time ON {SCHEMA}.events (received_at);
CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.claims (
    source     TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    after_id   BIGINT NOT NULL,
    from_id    BIGINT NOT NULL,
    up_to_id   BIGINT NOT NULL,
    run_id     TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source, workspace, after_id)
);
"""


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresInbox:
    """Append-only store of verified webhook deliveries in PostgreSQL."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.path = _without_password(url)  # what logs and messages show

    def __repr__(self) -> str:
        return f"PostgresInbox({self.path!r})"

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with closing(psycopg2.connect(self._url, connect_timeout=10)) as con:
            with con, con.cursor() as cursor:  # one transaction, committed on leaving
                yield cursor

    def exists(self) -> bool:
        with self._cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.events"])
            return bool(cur.fetchone()[0])

    def create(self) -> PostgresInbox:
        with self._cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [SCHEMA])  # replicas starting together
            cur.execute(_CREATE)
            cur.execute(
                f"INSERT INTO {SCHEMA}.meta (key, value) VALUES ('inbox_id', %s) ON CONFLICT (key) DO NOTHING",
                [uuid.uuid4().hex],
            )
        return self

    def inbox_id(self) -> str | None:
        if not self.exists():
            return None
        with self._cursor() as cur:
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'inbox_id'")
            row = cur.fetchone()
        return row[0] if row else None

    def last_id(self) -> int:
        if not self.exists():
            return 0
        with self._cursor() as cur:
            cur.execute(f"SELECT COALESCE(max(id), 0) FROM {SCHEMA}.events")
            return int(cur.fetchone()[0])

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
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.events (received_at, source, workspace, event_type, item_ids, body_sha256, body) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source, workspace, body_sha256) DO NOTHING RETURNING id",
                [
                    received_at or datetime.now(UTC),
                    source,
                    workspace,
                    event_type,
                    json.dumps(item_ids),
                    hashlib.sha256(body).hexdigest(),
                    body.decode("utf-8", errors="replace"),
                ],
            )
            row = cur.fetchone()
        return int(row[0]) if row else None

    def events_after(self, source: str, after_id: int, limit: int = 10_000) -> list[InboxEvent]:
        if not self.exists():
            return []
        with self._cursor() as cur:
            cur.execute(
                f"SELECT id, received_at, source, workspace, event_type, item_ids FROM {SCHEMA}.events "
                "WHERE source = %s AND id > %s ORDER BY id LIMIT %s",
                [source, after_id, limit],
            )
            rows = cur.fetchall()
        return [InboxEvent.from_row(r) for r in rows]

    def frontier(self, source: str) -> dict[str, int]:
        if not self.exists():
            return {}
        with self._cursor() as cur:
            cur.execute(f"SELECT workspace, max(up_to_id) FROM {SCHEMA}.claims WHERE source = %s GROUP BY 1", [source])
            return {ws: int(up_to) for ws, up_to in cur.fetchall()}

    def claims_after(self, source: str, after_id: int) -> list[Claim]:
        if not self.exists():
            return []
        with self._cursor() as cur:
            cur.execute(
                f"SELECT workspace, from_id, up_to_id, run_id FROM {SCHEMA}.claims WHERE source = %s AND up_to_id > %s",
                [source, after_id],
            )
            return [Claim(ws, int(a), int(b), run) for ws, a, b, run in cur.fetchall()]

    def claim(self, source: str, claims: Sequence[tuple[int, Claim]]) -> bool:
        rows = [(source, c.workspace, after, c.from_id, c.up_to_id, c.run_id) for after, c in claims]
        if not rows:
            return True
        with closing(psycopg2.connect(self._url, connect_timeout=10)) as con:
            try:
                with con.cursor() as cur:
                    inserted = psycopg2.extras.execute_values(
                        cur,
                        f"INSERT INTO {SCHEMA}.claims (source, workspace, after_id, from_id, up_to_id, run_id) "
                        "VALUES %s ON CONFLICT DO NOTHING RETURNING 1",
                        rows,
                        fetch=True,
                        page_size=len(rows),
                    )
                if len(inserted) != len(rows):
                    con.rollback()
                    return False
                con.commit()
            except BaseException:
                con.rollback()
                raise
        return True

    def release(self, source: str, claim: Claim) -> bool:
        with self._cursor() as cur:
            cur.execute(
                f"DELETE FROM {SCHEMA}.claims WHERE source = %s AND workspace = %s AND run_id = %s AND NOT EXISTS "
                f"(SELECT 1 FROM {SCHEMA}.claims AS later WHERE later.source = %s AND later.workspace = %s "
                "AND later.after_id = %s)",
                [source, claim.workspace, claim.run_id, source, claim.workspace, claim.up_to_id],
            )
            return cur.rowcount == 1

    def runner_seen(self, at: datetime | None = None) -> None:
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [RUNNER_SEEN_AT, (at or datetime.now(UTC)).isoformat()],
            )

    def runner_seen_at(self) -> datetime | None:
        if not self.exists():
            return None
        with self._cursor() as cur:
            cur.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", [RUNNER_SEEN_AT])
            row = cur.fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def prune(self, before: datetime) -> int:
        if not self.exists():
            return 0
        with self._cursor() as cur:
            cur.execute(
                f"DELETE FROM {SCHEMA}.claims AS c WHERE claimed_at < %s AND EXISTS (SELECT 1 FROM {SCHEMA}.claims "
                "AS later WHERE later.source = c.source AND later.workspace = c.workspace AND later.after_id = c.up_to_id)",
                [before],
            )
            cur.execute(f"DELETE FROM {SCHEMA}.events WHERE received_at < %s", [before])
            return cur.rowcount
