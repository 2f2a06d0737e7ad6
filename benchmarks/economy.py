"""Request economy and publish economy on the sandbox company on Cascade's classic API
(config/sandbox-classic.yaml, every configured workspace).

Per workspace, counted in the emulators' request logs:

* a full sync: source requests beside the minimum the seeded data allows (goal ≤ 1.05 ×);
* a no-change incremental sync: task-listing requests (goal ≤ 1) plus the hierarchy check;
* publish economy: Cascade write calls beside the goals and tasks that changed (goal: equal), for
  the first sync (everything new), a sync after edits in the source, and the no-change sync (0);
  Cascade reads (the read-back by id) beside the least they can be.

Minimum of a full ClickUp read: the hierarchy (``/team``, ``/team/{id}/space``, and per space its
folders and its folderless lists), one custom-field-definition call per list — counted as part
of the hierarchy: ClickUp has no bulk endpoint for list-level fields and the write-back looks the
"Cascade ID" field up per list in them — and one page per 100 tasks of each task listing (active
and archived; an empty listing still costs its one request). Minimum of a full Wrike read: spaces,
the folder tree, the folder and project models (100 per call), one task-listing page
per 1,000 tasks of each listing (one per space, as the extract reads them, plus the Recycle Bin) and
the three reference lists; the account-wide alternative is shown beside it.
"""

from __future__ import annotations

import math
import time

from benchmarks.company import CLASSIC_CONFIG, CLICKUP_KINDS, WRIKE_KINDS, Company, classify, company
from benchmarks.report import Figure, Report
from cascade_sync_pipeline.warehouse.store import Warehouse

NAME = "economy"
PUBLISH = "publish"
FULL_RATIO_GOAL = 1.05


def clickup_minimum(ds, team_id: str) -> dict[str, int]:
    team = ds.teams[team_id]
    tasks = [t for t in ds.tasks.values() if t.team_id == team_id]
    archived = sum(t.archived for t in tasks)
    return {
        "hierarchy": 2 + 2 * len(team.space_ids),
        "field definitions": len(ds.team_list_ids(team_id)),
        "task listing": max(1, math.ceil((len(tasks) - archived) / 100)) + max(1, math.ceil(archived / 100)),
    }


def _subtree(ds, space_id: str) -> set[str]:
    found, frontier = {space_id}, [space_id]
    while frontier:
        frontier = [f["id"] for f in ds.folders if f["parentIds"] and f["parentIds"][0] in frontier]
        found.update(frontier)
    return found


def wrike_minimum(ds) -> dict[str, int]:
    """Per listing the extract makes: one per space (1,000 tasks a page) and the Recycle Bin's."""
    live = [t for t in ds.tasks if t.get("scope") != "RbTask"]
    pages = sum(
        max(1, math.ceil(sum(1 for t in live if set(t["parentIds"]) & _subtree(ds, s["id"])) / 1000)) for s in ds.spaces
    )
    return {"hierarchy": 2 + math.ceil(len(ds.folders) / 100), "reference lists": 3, "task listing": pages + 1}


def wrike_account_wide_listing(ds) -> int:
    """Listing pages if tasks were read account-wide (GET /tasks) plus the Recycle Bin."""
    return max(1, math.ceil(sum(t.get("scope") != "RbTask" for t in ds.tasks) / 1000)) + 1


def _source_counts(co: Company, source: str) -> dict[str, int]:
    kinds = CLICKUP_KINDS if source == "clickup" else WRIKE_KINDS
    return classify(list(co.emulator(source).log.entries), kinds)


def _measured_sync(co: Company, key: str, source: str, mode: str, dry_run: bool = False) -> tuple[dict, dict, int]:
    emulator, cascade = co.emulator(source), co.emulator("cascade")
    emulator.log.clear()
    cascade.log.clear()
    writes = cascade.writes
    outcome = co.sync(key, mode, dry_run=dry_run)
    outcome["cascade_reads"] = cascade.log.count("GET")
    outcome["cascade_requests"] = len(cascade.log.entries)
    return outcome, _source_counts(co, source), cascade.writes - writes


def _least_reads(co: Company, key: str) -> int:
    """The read-back by id: one request per 50 ids of each kind (a page holds 100)."""
    with Warehouse(co.config.duckdb_path).connect(read_only=True) as con:
        counts = dict(
            con.execute(
                "SELECT cascade_type, count(*) FROM sync.id_map WHERE workspace = ? GROUP BY 1", [key]
            ).fetchall()
        )
    return sum(math.ceil(n / 50) for n in counts.values())


def _changed(run: dict) -> int:
    return sum(run[k] or 0 for k in ("created", "updated", "archived"))


def _edit_source(co: Company, key: str, source: str) -> str:
    """A day of edits in the source: rename two synced items, change one's status, delete one."""
    with Warehouse(co.config.duckdb_path).connect(read_only=True) as con:
        items = [
            r[0]
            for r in con.execute(
                "SELECT m.item_id FROM sync.id_map AS m JOIN staging.work_items AS w USING (workspace, item_id) "
                "WHERE m.workspace = ? AND w.item_type = 'task' AND NOT w.is_archived "
                "ORDER BY m.item_id LIMIT 4",
                [key],
            ).fetchall()
        ]
    if len(items) < 4:
        return "no edits (fewer than 4 synced tasks)"
    emulator = co.emulator(source)
    if source == "clickup":
        ds = emulator.dataset
        emulator.update_task(items[0], name="Renamed in the economy benchmark")
        emulator.update_task(items[1], name="Renamed again in the economy benchmark")
        task = ds.tasks[items[2]]
        other = next(s.name for s in ds.list_statuses(task.list_id) if s.name != task.status and s.type != "closed")
        emulator.update_task(items[2], status=other)
        emulator.delete_task(items[3])
    else:
        emulator.update_task(items[0], title="Renamed in the economy benchmark")
        emulator.update_task(items[1], title="Renamed again in the economy benchmark")
        emulator.update_task(items[2], importance="High")
        emulator.delete_task(items[3])
    return "2 renames, 1 status change, 1 deletion" if source == "clickup" else "2 renames, 1 importance, 1 deletion"


def _workspace(report: Report, co: Company, ws) -> None:
    key, source = ws.key, ws.source
    emulator = co.emulator(source)
    minimum = clickup_minimum(emulator.dataset, ws.team_id) if source == "clickup" else wrike_minimum(emulator.dataset)
    reads = list(minimum)

    # 1. Reads: a full sync as a dry run (nothing written anywhere), then a no-change incremental one.
    started = time.monotonic()
    _, counts, writes = _measured_sync(co, key, source, "full", dry_run=True)
    seconds = time.monotonic() - started
    spent, least = sum(counts[k] for k in reads), sum(minimum.values())
    report.add(
        Figure(NAME, f"{key}: full sync, source reads", spent, "req", note=str({k: counts[k] for k in reads})),
        Figure(NAME, f"{key}: full sync, minimum the data allows", least, "req", note=str(minimum)),
        Figure(NAME, f"{key}: full sync, reads ÷ minimum", round(spent / least, 3), "x", FULL_RATIO_GOAL),
        Figure(NAME, f"{key}: full sync, other source requests", counts["other"] + counts["write-back"], "req", 0),
        Figure(NAME, f"{key}: full sync (dry run), wall time", round(seconds, 1), "s"),
    )
    if source == "wrike":
        report.add(
            Figure(
                NAME,
                f"{key}: full sync, task-listing pages if listed account-wide (GET /tasks)",
                wrike_account_wide_listing(emulator.dataset),
                "req",
                note=f"the extract lists per space: {counts['task listing']} pages",
            )
        )
    _, counts, writes = _measured_sync(co, key, source, "auto", dry_run=True)
    report.add(
        Figure(NAME, f"{key}: no-change incremental, task-listing requests", counts["task listing"], "req", 1),
        Figure(
            NAME, f"{key}: no-change incremental, hierarchy check", counts["hierarchy"], "req", minimum["hierarchy"]
        ),
        Figure(
            NAME,
            f"{key}: no-change incremental, other source requests",
            sum(v for k, v in counts.items() if k not in ("task listing", "hierarchy", "429")),
            "req",
            0,
            note=str(counts),
        ),
    )

    # 2. Writes: the first real sync creates everything; the next ones write nothing until the source changes.
    full, counts, writes = _measured_sync(co, key, source, "full")
    run = full["run"]
    report.add(
        Figure(
            PUBLISH,
            f"{key}: first sync, Cascade writes == items created/updated/archived",
            writes,
            "writes",
            _changed(run),
            "==",
            note=f"created {run['created']}, updated {run['updated']}, archived {run['archived']}",
        ),
        Figure(PUBLISH, f"{key}: first sync, source write-back calls", counts["write-back"], "req"),
        Figure(
            PUBLISH,
            f"{key}: first sync, Cascade requests (writes, reads, 429s)",
            full["cascade_requests"],
            "req",
            note=f"{full['cascade_reads']} reads",
        ),
        Figure(PUBLISH, f"{key}: first sync (extract → write-back), wall time", full["seconds"], "s"),
        Figure(
            NAME,
            f"{key}: first sync, source reads besides the write-back",
            sum(counts[k] for k in reads),
            "req",
            least,
            note=str(counts),
        ),
    )
    again, counts, writes = _measured_sync(co, key, source, "auto")
    report.add(
        Figure(
            PUBLISH,
            f"{key}: no-change sync, Cascade reads (by id)",
            again["cascade_reads"],
            "req",
            _least_reads(co, key),
        ),
        Figure(
            NAME,
            f"{key}: incremental after the write-back, task-listing requests",
            counts["task listing"],
            "req",
            note="the write-back sets a custom field, which moves date_updated: those tasks are read once more "
            "(and by every incremental within the 5-minute overlap of the newest change)",
        ),
        Figure(PUBLISH, f"{key}: no-change sync, Cascade writes", writes, "writes", 0, "=="),
    )
    edits = _edit_source(co, key, source)
    changed, counts, writes = _measured_sync(co, key, source, "full")
    run = changed["run"]
    report.add(
        Figure(
            PUBLISH,
            f"{key}: after edits ({edits}), Cascade writes == changed items",
            writes,
            "writes",
            _changed(run),
            "==",
            note=f"created {run['created']}, updated {run['updated']}, archived {run['archived']}",
        )
    )


def run(report: Report) -> None:
    with company(config_file=CLASSIC_CONFIG) as co:
        for ws in co.config.workspaces:
            _workspace(report, co, ws)
