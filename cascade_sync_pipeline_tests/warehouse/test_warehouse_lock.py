"""A writer that waits too long for the warehouse says who holds it and what to do."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from cascade_sync_pipeline.warehouse.store import LOCK_TIMEOUT_ENV, Warehouse, WarehouseLockTimeout

HOLD = """
import sys, time
from cascade_sync_pipeline.warehouse.store import Warehouse
with Warehouse(sys.argv[1]).connect():
    print("holding", flush=True)
    time.sleep(30)
"""


def test_a_lock_wait_that_times_out_names_the_holder(tmp_path, monkeypatch):
    path = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "--marker-of-the-holder"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "1")
        started = time.monotonic()
        with pytest.raises(WarehouseLockTimeout) as caught:
            with Warehouse(path).connect():
                pass
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert f"process {holder.pid}" in message and "--marker-of-the-holder" in message, message
        assert f"{path}.lock" in message and "again" in message
    finally:
        holder.kill()
        holder.wait()
    with Warehouse(path).connect() as con:  # released with the process; the note is gone with it
        assert con.execute("SELECT 1").fetchall() == [(1,)]
