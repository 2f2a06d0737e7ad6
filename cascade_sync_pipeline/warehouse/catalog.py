"""The whole warehouse in one read-only DuckDB connection, whatever its layout.

With ``layout: per_workspace`` each workspace's runs write their own file, so runs of different
workspaces never wait on each other. The catalog attaches every file read-only and puts one view per
table over all of them (``UNION ALL BY NAME``), so ``SELECT … FROM staging.work_items`` still spans
every workspace in one statement. While the catalog is open it holds each file's writer lock: a run
of a workspace waits for the query to end instead of failing on DuckDB's own file lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from cascade_sync_pipeline.warehouse.store import Warehouse

SCHEMAS = ("raw", "staging", "sync")


@contextlib.contextmanager
def open_catalog(files: dict[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with a view per table of ``SCHEMAS`` over the warehouse ``files``
    (workspace key → DuckDB file; keys that share a file are attached once)."""
    paths = sorted({path.resolve() for path in files.values() if path.exists()})
    con = duckdb.connect()
    with contextlib.ExitStack() as held:
        for path in paths:
            held.enter_context(Warehouse(path).locked())
        aliases = [f"w{i}" for i in range(len(paths))]
        for alias, path in zip(aliases, paths, strict=True):
            con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
        tables = con.execute(
            "SELECT schema_name, table_name, list(database_name ORDER BY database_name) FROM duckdb_tables() "
            "WHERE database_name IN (SELECT unnest($aliases)) AND schema_name IN (SELECT unnest($schemas)) "
            "GROUP BY ALL ORDER BY ALL",
            {"aliases": aliases, "schemas": list(SCHEMAS)},
        ).fetchall()
        for schema in SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for schema, table, databases in tables:
            union = " UNION ALL BY NAME ".join(f"SELECT * FROM {db}.{schema}.{table}" for db in databases)
            con.execute(f"CREATE VIEW {schema}.{table} AS {union}")
        try:
            yield con
        finally:
            con.close()
