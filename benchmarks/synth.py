"""Realistic ClickUp raw data at scale, fast: the generator's own task payloads as templates,
copied in DuckDB with fresh task ids, without calling the HTTP API.

``fill_raw(con, ws, tasks)`` leaves ``tasks`` rows in ``raw.clickup_tasks`` (and the workspace's
hierarchy in ``raw.clickup_hierarchy``) for workspace ``ws.key``, as a full extract would.
Every copy keeps the template's shape (custom fields with their type_config, checklists,
assignees, subtasks pointing at a parent of the same copy); only the task ids change, each id
gaining a copy suffix wherever it appears (id, parent, top_level_parent, url, checklist task_id),
and so do checklist and checklist item ids.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import duckdb
import pandas as pd

from cascade_sync_pipeline.clickup.extract import HierarchyRow
from cascade_sync_pipeline.clickup.load import ensure_raw_tables
from cascade_sync_pipeline.warehouse.store import Warehouse
from cascade_sync_sandbox.clickup.generator import generate
from cascade_sync_sandbox.clickup.model import ClickUpDataset
from cascade_sync_sandbox.clickup.render import folder_json, list_json, space_json, task_json, team_json

TEMPLATES = 10_000  # distinct generated tasks the copies are made from


def template_dataset(seed: int = 11, tasks: int = TEMPLATES) -> ClickUpDataset:
    """One Workspace with a wider hierarchy than the demo's (4 spaces, 36 lists)."""
    return generate(
        seed,
        teams=1,
        tasks_per_team=tasks,
        spaces_per_team=4,
        folders_per_space=4,
        lists_per_folder=2,
        folderless_lists_per_space=1,
    )


def hierarchy_rows(ds: ClickUpDataset, team_id: str) -> list[HierarchyRow]:
    """What a full extract stores for the Workspace (the same parents as ``read_hierarchy``)."""
    team = ds.teams[team_id]
    rows = [HierarchyRow("team", team.id, None, team_json(ds, team))]
    for space_id in team.space_ids:
        space = ds.spaces[space_id]
        rows.append(HierarchyRow("space", space.id, team.id, space_json(ds, space)))
        for folder_id in space.folder_ids:
            folder = ds.folders[folder_id]
            lists = [list_json(ds, ds.lists[x], 0) for x in folder.list_ids]
            payload = {k: v for k, v in folder_json(ds, folder, lists, 0).items() if k != "lists"}
            rows.append(HierarchyRow("folder", folder.id, space.id, payload))
            rows += [HierarchyRow("list", x["id"], folder.id, x) for x in lists]
        rows += [HierarchyRow("list", x, space.id, list_json(ds, ds.lists[x], 0)) for x in space.folderless_list_ids]
    return rows


MARK = "~~"  # replaced by each copy's suffix


def _template_payload(ds: ClickUpDataset, task) -> str:
    """The task's API JSON with a copy marker after every id that must stay unique per copy."""
    payload = task_json(ds, task)
    for checklist in payload["checklists"]:
        checklist["id"] += MARK
        for item in checklist["items"]:
            item["id"] += MARK
    text = json.dumps(payload)
    for task_id in {task.id, task.parent, task.top_level_parent} - {None}:
        text = text.replace(task_id, task_id + MARK)
    return text


def _templates_frame(ds: ClickUpDataset) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"n": n, "task_id": task.id, "date_updated_ms": task.date_updated, "payload": _template_payload(ds, task)}
            for n, task in enumerate(ds.tasks.values())
        ]
    )


def fill_raw(
    con: duckdb.DuckDBPyConnection, workspace: str, tasks: int, *, seed: int = 11, templates: int = TEMPLATES
) -> dict[str, int]:
    """Replace ``workspace``'s raw ClickUp rows with ``tasks`` synthetic tasks; return counts."""
    templates = min(templates, tasks)
    ds = template_dataset(seed, templates)
    team_id = next(iter(ds.teams))
    at = datetime.now(UTC).replace(tzinfo=None)
    ensure_raw_tables(con)
    hierarchy = pd.DataFrame(
        [
            {
                "object_type": r.object_type,
                "object_id": r.object_id,
                "parent_id": r.parent_id,
                "payload": json.dumps(r.payload),
            }
            for r in hierarchy_rows(ds, team_id)
        ]
    )
    con.register("synth_hierarchy", hierarchy)
    con.register("synth_templates", _templates_frame(ds))
    copies = math.ceil(tasks / templates)
    width = max(len(str(copies - 1)), 1)
    # Copy k of template t: the copy marker after each id becomes the copy's suffix.
    copy_sql = f"""
        WITH c AS (
            SELECT t.*, lpad(CAST(k AS VARCHAR), {width}, '0') AS sfx
            FROM synth_templates AS t, range({copies}) AS r(k)
            WHERE k * {templates} + t.n < $tasks
        )
        SELECT $ws AS workspace, task_id || sfx AS task_id, date_updated_ms,
               replace(payload, '{MARK}', sfx)::JSON AS payload,
               $at AS extracted_at
        FROM c
    """
    with Warehouse.transaction(con):
        Warehouse.replace_partition(
            con,
            "raw.clickup_hierarchy",
            workspace,
            "SELECT $ws AS workspace, object_type, object_id, parent_id, payload::JSON AS payload, "
            "$at AS extracted_at FROM synth_hierarchy",
            {"ws": workspace, "at": at},
        )
        Warehouse.replace_partition(
            con, "raw.clickup_tasks", workspace, copy_sql, {"ws": workspace, "at": at, "tasks": tasks}
        )
    con.unregister("synth_hierarchy")
    con.unregister("synth_templates")
    return Warehouse.table_counts(con, ("raw.clickup_hierarchy", "raw.clickup_tasks"), workspace)
