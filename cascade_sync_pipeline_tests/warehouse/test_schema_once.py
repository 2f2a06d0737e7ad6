"""A process gives each warehouse file its schema once; a file replaced under the same path (deleted,
restored from a backup) is a new file and gets it again."""

from __future__ import annotations

import shutil

from cascade_sync_pipeline.warehouse.store import Warehouse


def tables(warehouse: Warehouse) -> set[str]:
    with warehouse.connect() as con:
        return {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def test_a_replaced_file_gets_the_schema_again(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    first = tables(warehouse)
    assert {"staging.work_items", "sync.id_map", "sync.pushed_values"} <= first
    with warehouse.connect() as con:
        con.execute(
            "INSERT INTO sync.id_map (workspace, source, item_id, cascade_type, cascade_id, first_synced_at, "
            "last_synced_at) VALUES ('w', 'clickup', 'i', 'action', 'c', now(), now())"
        )
    backup = tmp_path / "backup.duckdb"
    shutil.copy(warehouse.path, backup)

    warehouse.path.unlink()
    assert tables(warehouse) == first  # a new, empty file: the schema again
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*) FROM sync.id_map").fetchall() == [(0,)]

    warehouse.path.unlink()
    shutil.copy(backup, warehouse.path)  # restored: its rows are back, and its tables
    assert tables(warehouse) == first
    with warehouse.connect() as con:
        assert con.execute("SELECT cascade_id FROM sync.id_map").fetchall() == [("c",)]
