"""The DuckDB warehouse: one file, opened briefly, writes serialised across processes.

DuckDB allows one writing process per file, so every connection that may write takes a file
lock beside the database first. Partitioned writes go through :meth:`Warehouse.replace_partition`,
which deletes the workspace's rows and inserts the new ones in one transaction.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import duckdb
from filelock import FileLock

LOCK_TIMEOUT_S = 600


def sql_text(package: str, name: str) -> str:
    """Read a packaged SQL file, e.g. ``sql_text("cascade_sync_pipeline.clickup", "staging.sql")``."""
    return resources.files(package).joinpath(name).read_text()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | Mapping = ()):
    """The single value a query returns (DuckDB wants every result read to the end)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


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
        with FileLock(f"{self.path}.lock", timeout=LOCK_TIMEOUT_S):
            con = duckdb.connect(str(self.path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                con.execute(sql_text("cascade_sync_pipeline.warehouse", "schema.sql"))
                con.execute(sql_text("cascade_sync_pipeline.warehouse", "macros.sql"))
                yield con
            finally:
                con.close()

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
    def replace_partition(con: duckdb.DuckDBPyConnection, table: str, workspace: str,
                          select_sql: str, params: Sequence | Mapping = ()) -> int:
        """Replace ``workspace``'s rows of ``table`` with the rows of ``select_sql``; return the count.

        Call inside :meth:`transaction` so that readers never see the partition half-written.
        """
        con.execute(f"DELETE FROM {table} WHERE workspace = ?", [workspace])
        con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params)
        return scalar(con, f"SELECT count(*) FROM {table} WHERE workspace = ?", [workspace])

    @staticmethod
    def table_counts(con: duckdb.DuckDBPyConnection, tables: Sequence[str], workspace: str) -> dict[str, int]:
        return {
            t: scalar(con, f"SELECT count(*) FROM {t} WHERE workspace = ?", [workspace])
            for t in tables
        }
