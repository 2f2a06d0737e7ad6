"""The DuckDB warehouse: one file, opened briefly, writes serialised across processes.

DuckDB allows one writing process per file, so every connection that may write takes a file
lock beside the database first. Partitioned writes go through :meth:`Warehouse.replace_partition`,
which deletes the workspace's rows and inserts the new ones in one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

LOCK_TIMEOUT_S = 600
LOCK_TIMEOUT_ENV = "CASCADE_SYNC_LOCK_TIMEOUT"


def lock_timeout() -> float:
    """Seconds a writer waits for the warehouse lock (env CASCADE_SYNC_LOCK_TIMEOUT, default 600)."""
    return float(os.environ.get(LOCK_TIMEOUT_ENV) or LOCK_TIMEOUT_S)


# DuckDB's memory budget per connection (it spills to <file>.tmp beyond it); its own default is 80 % of RAM.
MEMORY_ENV = "CASCADE_SYNC_DUCKDB_MEMORY"
DEFAULT_MEMORY_LIMIT = "1536MB"
_WRITE_FAILURE = re.compile(
    r"Could not (write|open|truncate|sync)|Cannot open file|No space left|Read-only file system|"
    r"Permission denied|Disk quota|File too large"
)


class WarehouseWriteError(RuntimeError):
    """The warehouse file could not be written (disk full, read-only, ...); the transaction was rolled back."""

    def __init__(self, path: Path, err: Exception) -> None:
        detail = str(err).strip().splitlines()[0]
        super().__init__(
            f"the warehouse {path} could not be written ({detail}); nothing of this step was stored "
            "and the data already there is intact: free space on that disk (or set CASCADE_SYNC_DUCKDB "
            "to a file on a disk with room) and run again"
        )


def sql_text(package: str, name: str) -> str:
    """Read a packaged SQL file, e.g. ``sql_text("cascade_sync_pipeline.clickup", "staging.sql")``."""
    return resources.files(package).joinpath(name).read_text()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | Mapping = ()):
    """The single value a query returns (DuckDB wants every result read to the end)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def _text_cascade_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Files made before Cascade ids became text (0.2.0) get text ids, rows kept."""
    types = dict(
        con.execute(
            "SELECT table_name, data_type FROM duckdb_columns() WHERE schema_name = 'sync' "
            "AND table_name IN ('id_map', 'diff') AND column_name = 'cascade_id'"
        ).fetchall()
    )
    if types.get("diff") == "BIGINT":
        con.execute("ALTER TABLE sync.diff ALTER cascade_id TYPE VARCHAR")
    if types.get("id_map") == "BIGINT":  # a UNIQUE column cannot change type in place
        with Warehouse.transaction(con):
            con.execute("ALTER TABLE sync.id_map RENAME TO id_map_bigint")
            con.execute(sql_text("cascade_sync_pipeline.warehouse", "schema.sql"))
            con.execute(
                "INSERT INTO sync.id_map BY NAME SELECT * REPLACE (CAST(cascade_id AS VARCHAR) AS cascade_id) "
                "FROM sync.id_map_bigint"
            )
            con.execute("DROP TABLE sync.id_map_bigint")


def _drop_contract_desired_state(con: duckdb.DuckDBPyConnection) -> None:
    """Files made before the classic engine (0.3.0) hold sync.desired_state in the invented contract's
    shape; it is rebuilt every run, so it is dropped and made again in the new shape."""
    columns = {
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'sync' AND table_name = 'desired_state'"
        ).fetchall()
    }
    if columns and "tracking_type" not in columns:
        con.execute("DROP TABLE sync.desired_state")


class WarehouseLockTimeout(RuntimeError):
    """Another process kept the warehouse's writer lock longer than the lock timeout; says which."""

    def __init__(self, path: Path, holder: Path) -> None:
        try:
            who = json.loads(holder.read_text())
        except (OSError, ValueError):
            who = {}
        since = f", for {time.time() - who['since']:.0f} s" if who.get("since") else ""
        run = f", Dagster run {who['run_id']}" if who.get("run_id") else ""
        held = (
            f"process {who.get('pid')} ({who.get('command') or '?'}{run}{since})"
            if who
            else "a process that left no note"
        )
        super().__init__(
            f"the warehouse {path} stayed locked by {held} for more than {lock_timeout():.0f} s; let that run finish (or "
            f"cancel it in the Dagster UI), then run this one again. If that process no longer exists, delete "
            f"{path}.lock and {holder}"
        )


# Which schema and upgrades a file has had, so a connection skips them when it is current: a run opens
# its warehouse a few dozen times, and running them costs ~25 ms each time. Any file that does not
# hold this version (new, from an older release, restored from a backup) gets them.
SCHEMA_VERSION = hashlib.sha256(
    (sql_text("cascade_sync_pipeline.warehouse", "schema.sql") + "upgrades: 0.2 text ids, 0.3 desired_state").encode()
).hexdigest()[:16]


def _schema_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        return con.execute("SELECT version FROM sync.schema_version").fetchall() == [(SCHEMA_VERSION,)]
    except duckdb.CatalogException:
        return False


class Warehouse:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if read_only and self.path.exists():
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                con.execute(sql_text("cascade_sync_pipeline.warehouse", "macros.sql"))
                yield con
            finally:
                con.close()
            return
        with self.locked(), self._write_failures():
            con = duckdb.connect(str(self.path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                con.execute("SET memory_limit = ?", [os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT])
                if not _schema_is_current(con):
                    _drop_contract_desired_state(con)
                    con.execute(sql_text("cascade_sync_pipeline.warehouse", "schema.sql"))
                    _text_cascade_ids(con)
                    con.execute("CREATE OR REPLACE TABLE sync.schema_version AS SELECT ? AS version", [SCHEMA_VERSION])
                con.execute(sql_text("cascade_sync_pipeline.warehouse", "macros.sql"))
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The writer's lock, with a note beside it saying who holds it, so a wait that times out
        can name the holder."""
        lock = FileLock(f"{self.path}.lock", timeout=lock_timeout())
        holder = Path(f"{self.path}.lock.holder")
        try:
            lock.acquire()
        except Timeout:
            raise WarehouseLockTimeout(self.path, holder) from None
        try:
            holder.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "since": time.time(),
                        "command": " ".join(sys.argv)[:300],
                        "run_id": os.environ.get("DAGSTER_RUN_ID"),
                    }
                )
            )
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    @contextlib.contextmanager
    def _write_failures(self) -> Iterator[None]:
        """DuckDB's I/O errors, restated with the file and what to do (its own text is kept in the message)."""
        try:
            yield
        except duckdb.Error as err:
            if not _WRITE_FAILURE.search(str(err)):
                raise
            raise WarehouseWriteError(self.path, err) from None

    @staticmethod
    @contextlib.contextmanager
    def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @staticmethod
    def replace_partition(
        con: duckdb.DuckDBPyConnection, table: str, workspace: str, select_sql: str, params: Sequence | Mapping = ()
    ) -> int:
        """Replace ``workspace``'s rows of ``table`` with the rows of ``select_sql``; return the count.

        Call inside :meth:`transaction` so that readers never see the partition half-written.
        """
        con.execute(f"DELETE FROM {table} WHERE workspace = ?", [workspace])
        con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params)
        return scalar(con, f"SELECT count(*) FROM {table} WHERE workspace = ?", [workspace])

    @staticmethod
    def upsert_newer(
        con: duckdb.DuckDBPyConnection,
        table: str,
        workspace: str,
        *,
        key: str,
        version: str,
        select_sql: str,
        params: Mapping,
        full_read_started: datetime | None = None,
    ) -> dict[str, int]:
        """Write the rows of ``select_sql`` into ``workspace``'s
        rows of ``table``, one row per ``key``, keeping the newer version of each: a stored row is replaced
        unless both versions are known and the stored one is newer. ``version`` is a SQL expression of the
        row's update time with ``{row}`` for the table alias.

        With ``full_read_started`` the rows are a complete read: stored rows it lacks are deleted, except
        those stored after the read began (another run's newer extract). Call inside :meth:`transaction`.
        Returns how many rows were written, kept because the stored one is newer, and removed.
        """
        old, new = version.format(row="s"), version.format(row="n")
        con.execute(f"CREATE OR REPLACE TEMP TABLE upsert_rows AS {select_sql}", params)
        ws = {"ws": workspace}
        kept = scalar(
            con,
            f"SELECT count(*) FROM {table} AS s JOIN upsert_rows AS n ON s.{key} = n.{key} "
            f"WHERE s.workspace = $ws AND {old} IS NOT NULL AND {new} IS NOT NULL AND {new} < {old}",
            ws,
        )
        con.execute(
            f"DELETE FROM {table} AS s USING upsert_rows AS n WHERE s.workspace = $ws AND s.{key} = n.{key} "
            f"AND NOT ({old} IS NOT NULL AND {new} IS NOT NULL AND {new} < {old})",
            ws,
        )
        removed = 0
        if full_read_started is not None:
            started = (
                full_read_started.astimezone(UTC).replace(tzinfo=None)
                if full_read_started.tzinfo
                else full_read_started
            )
            removed = con.execute(
                f"DELETE FROM {table} AS s WHERE s.workspace = $ws AND s.extracted_at <= $started "
                f"AND NOT EXISTS (SELECT 1 FROM upsert_rows AS n WHERE n.{key} = s.{key})",
                {**ws, "started": started},
            ).fetchall()[0][0]
        written = con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM upsert_rows AS n "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS s WHERE s.workspace = $ws AND s.{key} = n.{key})",
            ws,
        ).fetchall()[0][0]
        con.execute("DROP TABLE upsert_rows")
        return {"written": written, "kept_newer": kept, "removed": removed}

    @staticmethod
    def merge_partition(
        con: duckdb.DuckDBPyConnection, table: str, workspace: str, select_sql: str, params: Mapping
    ) -> int:
        """Like :meth:`replace_partition` (same rows afterwards), but rows that did not change stay in
        place: only rows that differ (by primary key and a hash of every column) are deleted and inserted.

        Deleting and re-inserting millions of identical primary keys in one transaction costs DuckDB's
        index several times the work of computing the rows; a rebuild usually changes few of them.
        """
        schema, name = table.split(".")
        primary = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = ? "
            "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            [schema, name],
        ).fetchall()
        if (
            not primary
            or scalar(con, f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE workspace = ? LIMIT 1)", [workspace])
            == 0
        ):
            return Warehouse.replace_partition(con, table, workspace, select_sql, params)
        key: list[str] = list(primary[0][0])
        cols = ", ".join(
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? "
                "AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE merge_delta AS
            SELECT n.*, {", ".join(f"o.{k} AS old_{k}" for k in key)}
            FROM (SELECT {cols}, hash({cols}) AS row_hash FROM ({select_sql})) AS n
            FULL JOIN (SELECT {", ".join(key)}, hash({cols}) AS row_hash FROM {table} WHERE workspace = $merge_ws) AS o
              ON {" AND ".join(f"n.{k} = o.{k}" for k in key)}
            WHERE n.row_hash IS DISTINCT FROM o.row_hash""",
            {**dict(params), "merge_ws": workspace},
        )
        con.execute(
            f"DELETE FROM {table} USING merge_delta AS d WHERE " + " AND ".join(f"{table}.{k} = d.old_{k}" for k in key)
        )
        con.execute(f"INSERT INTO {table} BY NAME SELECT {cols} FROM merge_delta WHERE {key[0]} IS NOT NULL")
        con.execute("DROP TABLE merge_delta")
        return scalar(con, f"SELECT count(*) FROM {table} WHERE workspace = ?", [workspace])

    @staticmethod
    def table_counts(con: duckdb.DuckDBPyConnection, tables: Sequence[str], workspace: str) -> dict[str, int]:
        return {t: scalar(con, f"SELECT count(*) FROM {t} WHERE workspace = ?", [workspace]) for t in tables}
