"""The batching recorder: results reach the warehouse file in batches (by count or by time), and
whatever waits is recorded when the block ends, an error included; the lock is free in between."""

from __future__ import annotations

import time

import duckdb
import pytest

from cascade_sync_pipeline.sync.recorder import BatchRecorder
from cascade_sync_pipeline.warehouse.store import Warehouse


def _insert(con: duckdb.DuckDBPyConnection, results: list[int]) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS recorded (n INTEGER, batch INTEGER)")
    batch = con.execute("SELECT COALESCE(max(batch), 0) + 1 FROM recorded").fetchall()[0][0]
    con.executemany("INSERT INTO recorded VALUES (?, ?)", [[n, batch] for n in results])


def _batches(warehouse: Warehouse) -> list[list[int]]:
    """What the file holds, batch by batch (opened as any other step would, so the lock must be free)."""
    with warehouse.connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS recorded (n INTEGER, batch INTEGER)")
        rows = con.execute("SELECT list(n ORDER BY n) FROM recorded GROUP BY batch ORDER BY batch").fetchall()
    return [row[0] for row in rows]


def test_results_are_recorded_every_n_and_the_rest_at_the_end(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    seen = []
    with BatchRecorder[int](warehouse, _insert, every=3) as recorder:
        for n in range(1, 8):
            recorder.add(n)
            seen.append(_batches(warehouse))
    assert seen == [[], [], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3]], [[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 5, 6]]]
    assert _batches(warehouse) == [[1, 2, 3], [4, 5, 6], [7]]


def test_results_are_recorded_once_the_time_has_passed(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    with BatchRecorder[int](warehouse, _insert, every=1000, seconds=2.0) as recorder:
        recorder.add(1)
        assert _batches(warehouse) == []
        time.sleep(2.1)
        recorder.add(2)
        assert _batches(warehouse) == [[1, 2]]
        recorder.add(3)
        assert _batches(warehouse) == [[1, 2]]
    assert _batches(warehouse) == [[1, 2], [3]]


def test_an_error_still_records_what_was_done_before_it(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    with pytest.raises(RuntimeError, match="the remote system refused"):
        with BatchRecorder[int](warehouse, _insert, every=50, seconds=60) as recorder:
            recorder.add(1)
            recorder.add(2)
            raise RuntimeError("the remote system refused")
    assert _batches(warehouse) == [[1, 2]]


def test_a_flush_with_nothing_waiting_writes_nothing(tmp_path):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    with BatchRecorder[int](warehouse, _insert, every=2) as recorder:
        recorder.add(1)
        recorder.add(2)
        recorder.flush()
    assert _batches(warehouse) == [[1, 2]]
