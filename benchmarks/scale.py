"""Compute at scale: the ClickUp staging build for N tasks already in `raw` (default 1,000,000),
each step in a child process: its wall time, CPU time and peak RSS, beside the pandas reference.

Steps: fill `raw` (not measured against a goal) → first build of the partition → rebuild with no
change (a scheduled full refresh) → rebuild after 1 % of the tasks changed → the pandas version
of the same normalization, checked row for row against the SQL output on a sample of items.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Figure, Report

NAME = "scale"
WORKSPACE = "scale"
WALL_GOAL_S = 60.0
RSS_GOAL_MIB = 2048.0
CHANGED_SHARE = 0.01
SAMPLE_ITEMS = 20_000


def child(step: str, db: Path, *args: object) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.scale_child", step, str(db), WORKSPACE, *map(str, args)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"scale step {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step_figures(label: str, result: dict, goals: bool = True) -> list[Figure]:
    return [
        Figure(NAME, f"{label}: wall time", round(result["wall_s"], 1), "s", WALL_GOAL_S if goals else None),
        Figure(NAME, f"{label}: peak RSS", round(result["peak_rss_mib"]), "MiB", RSS_GOAL_MIB if goals else None),
        Figure(NAME, f"{label}: CPU time", round(result["cpu_s"], 1), "s"),
    ]


def run(report: Report, tasks: int = 1_000_000, workdir: str | None = None, with_pandas: bool = True) -> None:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        db = Path(tmp) / "scale.duckdb"
        filled = child("fill", db, tasks)
        report.add(Figure(NAME, "raw tasks filled (setup)", filled["counts"]["raw.clickup_tasks"], "tasks"),
                   Figure(NAME, "setup: fill raw", round(filled["wall_s"], 1), "s"))
        first = child("sql", db)
        report.add(*_step_figures("staging, first build", first))
        report.add(Figure(NAME, "staging rows (work items / field values / checklist items)",
                          " / ".join(str(first["counts"][f"staging.{t}"])
                                     for t in ("work_items", "custom_field_values", "checklist_items"))))
        report.add(*_step_figures("staging, rebuild, nothing changed", child("sql", db)))
        touched = child("touch", db, CHANGED_SHARE)
        changed = child("sql", db)
        report.add(*_step_figures(f"staging, rebuild, {touched['changed_tasks']} tasks changed (names edited)", changed))
        if with_pandas:
            reference = child("pandas", db, SAMPLE_ITEMS)
            report.add(*_step_figures("pandas reference (frames only, no write)", reference, goals=False))
            report.add(Figure(NAME, f"pandas rows == SQL rows on {reference['sample_items']:,} items",
                              "yes" if reference["same_rows_as_sql"] else f"NO: {reference['mismatched_tables']}"),
                       Figure(NAME, "SQL first build speed-up over pandas",
                              round(reference["wall_s"] / first["wall_s"], 1), "x"))
