"""One measured step of the scale benchmark, in its own process so that its peak memory is its own.

    python -m benchmarks.scale_child fill   DB WORKSPACE TASKS
    python -m benchmarks.scale_child sql    DB WORKSPACE          # the project's staging build
    python -m benchmarks.scale_child desired DB WORKSPACE         # sync.desired_state (classic API goals and tasks)
    python -m benchmarks.scale_child publish DB WORKSPACE SHARE   # setup: Cascade holds it all, SHARE renamed there
    python -m benchmarks.scale_child diff   DB WORKSPACE          # sync.diff against what Cascade holds
    python -m benchmarks.scale_child pandas DB WORKSPACE SAMPLE   # the pandas reference, checked on SAMPLE items
    python -m benchmarks.scale_child touch  DB WORKSPACE SHARE    # change SHARE of the raw tasks (a rename)

Prints one JSON line: wall and CPU seconds, peak RSS (MiB) and what the step produced.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import duckdb
import pandas as pd

from cascade_sync_pipeline.clickup import load
from cascade_sync_pipeline.config import parse_config
from cascade_sync_pipeline.warehouse.store import Warehouse

STATUS_OVERRIDES = {"on hold": "deferred", "cancelled": "cancelled"}
KEYS = {
    "work_items": ["item_id"],
    "custom_field_values": ["item_id", "field_id"],
    "checklist_items": ["checklist_item_id"],
}


MAPPING = {
    "target": {"focus_area_ids": [201]},
    "goals_from": ["list"],
    "status_rules": {"review": "open"},
    "templates": {"objective": 1},
}


def workspace_config(key: str):
    return parse_config(
        {
            "workspaces": [
                {
                    "key": key,
                    "source": "clickup",
                    "team_id": "1",
                    "token_env": "UNUSED_TOKEN",
                    "status_categories": STATUS_OVERRIDES,
                    "mapping": MAPPING,
                }
            ]
        }
    ).workspaces[0]


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def fill(db: str, workspace: str, tasks: int) -> dict[str, Any]:
    from benchmarks.synth import fill_raw

    with Warehouse(db).connect() as con:
        return {"counts": fill_raw(con, workspace, tasks)}


def sql(db: str, workspace: str) -> dict[str, Any]:
    with Warehouse(db).connect() as con:
        return {"counts": load.build_staging(con, workspace_config(workspace))}


def desired_state(db: str, workspace: str) -> dict[str, Any]:
    """The desired goals and tasks, owners matched through a users table holding the workspace's people."""
    from cascade_sync_pipeline.config import CascadeUser
    from cascade_sync_pipeline.sync.goals import desired

    with Warehouse(db).connect() as con:
        users = [
            CascadeUser(email=e, role_id=100 + i, user_id=i + 1)
            for i, (e,) in enumerate(
                con.execute(
                    "SELECT DISTINCT email FROM staging.users WHERE workspace = ? AND email IS NOT NULL ORDER BY 1",
                    [workspace],
                ).fetchall()
            )
        ]
        count = desired.build_desired_state(con, workspace_config(workspace), users)
        kinds = dict(
            con.execute(
                "SELECT cascade_type, count(*) FROM sync.desired_state WHERE workspace = ? GROUP BY ALL", [workspace]
            ).fetchall()
        )
    return {"counts": {"sync.desired_state": count}, "kinds": kinds}


def publish(db: str, workspace: str, share: float) -> dict[str, Any]:
    from benchmarks.synth_cascade import drift, publish_all

    with Warehouse(db).connect() as con:
        return {"cascade_items": publish_all(con, workspace), "renamed_in_cascade": drift(con, workspace, share)}


def diff_step(db: str, workspace: str) -> dict[str, Any]:
    from cascade_sync_pipeline.sync.goals import diff

    with Warehouse(db).connect() as con:
        ops = diff.build_diff(con, workspace_config(workspace), "scale-benchmark")
        rows = con.execute("SELECT count(*) FROM sync.diff WHERE workspace = ?", [workspace]).fetchall()[0][0]
    return {"ops": ops, "counts": {"sync.diff": rows}}


def touch(db: str, workspace: str, share: float) -> dict[str, Any]:
    with Warehouse(db).connect() as con:
        con.execute(
            'UPDATE raw.clickup_tasks SET payload = replace(payload, \'"name": "\', \'"name": "Renamed \') '
            "WHERE workspace = ? AND hash(task_id) % 10000 < ?",
            [workspace, int(share * 10000)],
        )
        changed = con.execute(
            "SELECT count(*) FROM raw.clickup_tasks WHERE workspace = ? AND hash(task_id) % 10000 < ?",
            [workspace, int(share * 10000)],
        ).fetchall()[0][0]
    return {"changed_tasks": changed}


def _rows(df: pd.DataFrame, key: list[str]) -> list[tuple]:
    df = df.sort_values(key).reset_index(drop=True)
    out = []
    for record in df.astype(object).itertuples(index=False):
        out.append(
            tuple(
                tuple(v)
                if hasattr(v, "__len__") and not isinstance(v, str)
                else (
                    None
                    if v is None or v is pd.NaT or (isinstance(v, float) and v != v)
                    else (v.to_pydatetime() if hasattr(v, "to_pydatetime") else v)
                )
                for v in record
            )
        )
    return out


def pandas_build(db: str, workspace: str, sample: int) -> dict[str, Any]:
    from benchmarks import pandas_staging

    cpu0, wall0 = _usage()[0], time.perf_counter()
    con = duckdb.connect(db, read_only=True)
    frames = pandas_staging.build(con, workspace, overrides=STATUS_OVERRIDES)
    wall, (cpu, rss) = time.perf_counter() - wall0, _usage()
    counts = {f"staging.{name}": len(df) for name, df in frames.items()}
    # Same rows as the SQL build? Compared on the items of a sample (after the measurement).
    ids = sorted(frames["work_items"]["item_id"])[:sample]
    con.execute("CREATE TEMP TABLE sample_ids AS SELECT unnest(?::VARCHAR[]) AS item_id", [ids])
    mismatched = []
    for name, key in KEYS.items():
        ours = frames[name][frames[name]["item_id"].isin(set(ids))] if len(frames[name]) else frames[name]
        theirs = con.execute(
            f"SELECT * FROM staging.{name} WHERE workspace = ? AND item_id IN (SELECT item_id FROM sample_ids)",
            [workspace],
        ).df()
        if len(ours) != len(theirs) or _rows(ours[list(theirs.columns)], key) != _rows(theirs, key):
            mismatched.append(name)
    return {
        "wall_s": wall,
        "cpu_s": cpu - cpu0,
        "peak_rss_mib": rss,
        "counts": counts,
        "sample_items": len(ids),
        "same_rows_as_sql": not mismatched,
        "mismatched_tables": mismatched,
    }


def main(argv: list[str]) -> int:
    step, db, workspace, *rest = argv
    cpu0, wall0 = _usage()[0], time.perf_counter()
    if step == "pandas":
        result = pandas_build(db, workspace, int(rest[0]))
    else:
        result = {
            "fill": lambda: fill(db, workspace, int(rest[0])),
            "sql": lambda: sql(db, workspace),
            "desired": lambda: desired_state(db, workspace),
            "diff": lambda: diff_step(db, workspace),
            "publish": lambda: publish(db, workspace, float(rest[0])),
            "touch": lambda: touch(db, workspace, float(rest[0])),
        }[step]()
        cpu, rss = _usage()
        result = {"wall_s": time.perf_counter() - wall0, "cpu_s": cpu - cpu0, "peak_rss_mib": rss, **result}
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
