"""What a remote system took, recorded in the warehouse in short batches.

The warehouse lock is never held while the remote system is called: results wait in memory and are
recorded every ``every`` results, or once ``seconds`` have passed since the last recording, and on
``flush`` (a ``with`` block flushes on the way out, error or not). A result not yet recorded when the
process dies is the caller's to redo safely on the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

import duckdb

from cascade_sync_pipeline.warehouse.store import Warehouse

T = TypeVar("T")


class BatchRecorder(Generic[T]):
    """Results kept in memory; ``record`` writes a batch of them on a warehouse connection."""

    def __init__(
        self,
        warehouse: Warehouse,
        record: Callable[[duckdb.DuckDBPyConnection, list[T]], None],
        *,
        every: int,
        seconds: float | None = None,
    ) -> None:
        self.warehouse, self.record, self.every, self.seconds = warehouse, record, every, seconds
        self.waiting: list[T] = []
        self.since = time.monotonic()

    def add(self, result: T) -> None:
        self.waiting.append(result)
        if len(self.waiting) >= self.every or (
            self.seconds is not None and time.monotonic() - self.since >= self.seconds
        ):
            self.flush()

    def flush(self) -> None:
        if self.waiting:
            with self.warehouse.connect() as con:
                self.record(con, self.waiting)
            self.waiting = []
        self.since = time.monotonic()

    def __enter__(self) -> BatchRecorder[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.flush()
