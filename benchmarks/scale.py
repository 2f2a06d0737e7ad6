"""Compute at scale: staging, desired state and diff for N ClickUp tasks already in `raw` (default
1,000,000), each step in a child process: its wall time, CPU time and peak RSS, beside the pandas
reference of the staging normalization.

Scenarios, one after another on the same warehouse:
  first build   – staging, desired state (goals and tasks of the classic API), then the diff
                  against a Cascade that holds every item already, 1 % of the tasks renamed there
                  (written straight into sync.cascade_items / sync.id_map: no HTTP at this scale);
  nothing changed – the same three steps again (a scheduled full refresh);
  1 % changed   – 1 % of the raw tasks edited, the three steps again;
then the pandas reference, checked row for row against the SQL output on a sample of items.
Goals: staging + desired state + diff ≤ 60 s per scenario; every step's peak RSS ≤ 2 GiB.
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
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale_child", step, str(db), WORKSPACE, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale step {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step_figures(label: str, result: dict, rss_goal: bool = True) -> list[Figure]:
    return [
        Figure(NAME, f"{label}: wall time", round(result["wall_s"], 1), "s", note=f"CPU {result['cpu_s']:.1f} s"),
        Figure(NAME, f"{label}: peak RSS", round(result["peak_rss_mib"]), "MiB", RSS_GOAL_MIB if rss_goal else None),
    ]


def _scenario(report: Report, db: Path, label: str) -> dict:
    steps = {"staging": child("sql", db), "desired state": child("desired", db), "diff": child("diff", db)}
    for step, result in steps.items():
        report.add(*_step_figures(f"{label}, {step}", result))
    total = sum(r["wall_s"] for r in steps.values())
    report.add(
        Figure(
            NAME,
            f"{label}: staging + desired state + diff",
            round(total, 1),
            "s",
            WALL_GOAL_S,
            note=f"diff ops {steps['diff']['ops']}",
        )
    )
    return steps


def run(report: Report, tasks: int = 1_000_000, workdir: str | None = None, with_pandas: bool = True) -> None:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        db = Path(tmp) / "scale.duckdb"
        filled = child("fill", db, tasks)
        report.add(
            Figure(
                NAME,
                "raw tasks (setup, not timed against a goal)",
                filled["counts"]["raw.clickup_tasks"],
                "tasks",
                note=f"filled in {filled['wall_s']:.0f} s",
            )
        )
        first = {"staging": child("sql", db), "desired state": child("desired", db)}
        published = child("publish", db, CHANGED_SHARE)
        first["diff"] = child("diff", db)
        for step, result in first.items():
            report.add(*_step_figures(f"first build, {step}", result))
        report.add(
            Figure(
                NAME,
                "first build: staging + desired state + diff",
                round(sum(r["wall_s"] for r in first.values()), 1),
                "s",
                WALL_GOAL_S,
                note=f"diff ops {first['diff']['ops']}",
            ),
            Figure(
                NAME,
                "rows: work items / field values / checklist items / desired items / Cascade items",
                " / ".join(
                    str(first["staging"]["counts"][f"staging.{t}"])
                    for t in ("work_items", "custom_field_values", "checklist_items")
                )
                + f" / {first['desired state']['counts']['sync.desired_state']} / {published['cascade_items']}",
            ),
            Figure(
                NAME,
                "first build: diff updates == tasks renamed in Cascade",
                first["diff"]["ops"]["update"],
                "items",
                published["renamed_in_cascade"],
                "==",
            ),
        )
        _scenario(report, db, "nothing changed")
        touched = child("touch", db, CHANGED_SHARE)
        _scenario(report, db, f"{touched['changed_tasks']} tasks changed")
        if with_pandas:
            reference = child("pandas", db, SAMPLE_ITEMS)
            report.add(*_step_figures("pandas staging reference (frames only, no write)", reference, rss_goal=False))
            report.add(
                Figure(
                    NAME,
                    f"pandas rows == SQL rows on {reference['sample_items']:,} items",
                    "yes" if reference["same_rows_as_sql"] else f"NO: {reference['mismatched_tables']}",
                ),
                Figure(
                    NAME,
                    "SQL staging (first build) speed-up over pandas",
                    round(reference["wall_s"] / first["staging"]["wall_s"], 1),
                    "x",
                ),
            )
