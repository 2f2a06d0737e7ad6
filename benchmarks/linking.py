"""Push economy on Cascade's Integrations API, on the sandbox company (config/sandbox.yaml).

Per workspace, counted in the Cascade emulator's request log:

* first sync: Cascade writes beside the values there are to push (one PUT per linked action or
  measure, plus one historical PUT per year of history per container-linked measure; goal: equal),
  and Cascade reads (goal: 3 — plans, actions, measures — plus, when a stored id is not in the
  plan, two per other plan of the workspace, to say where that id belongs);
* a no-change sync: Cascade writes (goal: 0);
* after moving a few field-linked ClickUp tasks to done: writes beside the values that changed
  (goal: equal; at least one per moved task) and the time of that incremental run.
"""

from __future__ import annotations

import math
import time

from benchmarks.company import company
from benchmarks.report import Figure, Report
from cascade_sync_pipeline.sync.linking.push import HISTORY_DAYS_PER_CALL
from cascade_sync_pipeline.warehouse.store import Warehouse

NAME = "linking"
MOVED_TASKS = 5


def _cascade_calls(sandbox) -> tuple[int, int]:
    entries = list(sandbox.cascade.log.entries)
    writes = sum(1 for method, _, status in entries if method == "PUT" and status == 200)
    reads = sum(1 for method, _, _ in entries if method == "GET")
    return reads, writes


def _expected_writes(con, key: str) -> int:
    values = con.execute(
        "SELECT count(DISTINCT (cascade_type, cascade_id)) FROM sync.desired_values "
        "WHERE workspace = ? AND blocked IS NULL",
        [key],
    ).fetchall()[0][0]
    days = con.execute(
        "SELECT count(*) FROM sync.desired_history WHERE workspace = ? GROUP BY cascade_id", [key]
    ).fetchall()
    return values + sum(math.ceil(n / HISTORY_DAYS_PER_CALL) for (n,) in days)


def run(report: Report) -> None:
    with company() as co:
        cascade = co.sandbox.cascade
        for ws in co.config.workspaces:
            cascade.log.clear()
            started = time.monotonic()
            co.sync(ws.key, "full")
            seconds = time.monotonic() - started
            reads, writes = _cascade_calls(co.sandbox)
            with Warehouse(co.config.duckdb_path).connect(read_only=True) as con:
                expected = _expected_writes(con, ws.key)
                foreign = con.execute(
                    "SELECT count(*) FROM sync.link_problems WHERE workspace = ? "
                    "AND problem IN ('other_plan', 'unknown_id')",
                    [ws.key],
                ).fetchall()[0][0]
            report.add(
                Figure(
                    NAME,
                    f"{ws.key}: first sync, Cascade writes",
                    writes,
                    "PUTs",
                    expected,
                    "==",
                    "one per linked value plus one per year of each measure's history",
                ),
                Figure(
                    NAME,
                    f"{ws.key}: first sync, Cascade reads",
                    reads,
                    "GETs",
                    3 + (2 if foreign else 0),
                    "<=",
                    "plans, actions, measures (+ the other plan's, to say where an unknown id belongs)",
                ),
                Figure(NAME, f"{ws.key}: first sync, whole run", round(seconds, 1), "s"),
            )
            cascade.log.clear()
            co.sync(ws.key, "incremental")
            report.add(
                Figure(
                    NAME, f"{ws.key}: no-change sync, Cascade writes", _cascade_calls(co.sandbox)[1], "PUTs", 0, "=="
                )
            )

        key = co.config.workspaces[0].key
        with Warehouse(co.config.duckdb_path).connect(read_only=True) as con:
            moved = [
                row[0]
                for row in con.execute(
                    "SELECT d.item_id FROM sync.desired_values AS d JOIN staging.work_items AS w USING (workspace, item_id) "
                    "WHERE d.workspace = ? AND d.linked_by = 'field' AND d.cascade_type = 'action' AND d.value < 100 "
                    "AND w.item_type = 'task' AND d.blocked IS NULL ORDER BY d.item_id LIMIT ?",
                    [key, MOVED_TASKS],
                ).fetchall()
            ]
        for task_id in moved:
            co.sandbox.clickup.update_task(task_id, status="complete")
        cascade.log.clear()
        started = time.monotonic()
        co.sync(key, "incremental")
        seconds = time.monotonic() - started
        writes = _cascade_calls(co.sandbox)[1]
        with Warehouse(co.config.duckdb_path).connect(read_only=True) as con:
            changed = con.execute(
                "SELECT count(*) FROM sync.diff WHERE workspace = ? AND op = 'set'", [key]
            ).fetchall()[0][0]
        report.add(
            Figure(
                NAME,
                f"{key}: {len(moved)} tasks moved to done, Cascade writes",
                writes,
                "PUTs",
                changed,
                "==",
                "the values that changed: those tasks' actions and the container links holding them",
            ),
            Figure(
                NAME, f"{key}: {len(moved)} tasks moved to done, values changed", changed, "values", len(moved), ">="
            ),
            Figure(NAME, f"{key}: incremental run after the edits", round(seconds, 1), "s"),
        )
