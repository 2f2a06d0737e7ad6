"""Ground truth: the staging rows a correct sync must produce for one ClickUp Workspace.

Computed from the generator's own model, never by parsing API JSON, so a test that compares a
sync's staging tables with these rows checks the whole path (HTTP, parsing, normalization).
Columns are exactly those of ``cascade_sync_pipeline/warehouse/schema.sql``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from .model import ClickUpDataset, CustomField, Task
from .names import PRIORITIES

SOURCE = "clickup"
_EPOCH = datetime(1970, 1, 1)
_CATEGORY_BY_TYPE = {"open": "not_started", "custom": "in_progress", "done": "done", "closed": "done"}


def ms_to_datetime(ms: int | str | None) -> datetime | None:
    """A ms-epoch value as a naive UTC datetime (exact to the millisecond)."""
    return None if ms is None else _EPOCH + timedelta(milliseconds=int(ms))


def number_text(value: Any) -> str:
    """42 -> '42', 42.0 -> '42', 12.5 -> '12.5'."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def field_value_text(ds: ClickUpDataset, cf: CustomField, value: Any) -> str:
    """The text a person reads for a stored custom field value (an option's name, not its index)."""
    kind = cf.type
    if kind == "drop_down":
        return next(o["name"] for o in cf.type_config["options"] if o["orderindex"] == value)
    if kind == "labels":
        by_id = {o["id"]: o["label"] for o in cf.type_config["options"]}
        return ", ".join(by_id[v] for v in value)
    if kind == "users":
        return ", ".join(ds.users[u].username for u in value)
    if kind == "date":
        return ms_to_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "checkbox":
        return "true" if value in (True, "true") else "false"
    if kind in ("number", "currency"):
        return number_text(value)
    if kind in ("manual_progress", "automatic_progress"):
        return number_text(value["percent_completed"]) + "%"
    return str(value)


def status_category(ds: ClickUpDataset, task: Task, overrides: dict[str, str]) -> str:
    status = ds.task_status(task)
    return overrides.get(status.name.lower(), _CATEGORY_BY_TYPE[status.type])


def _work_item(
    ds: ClickUpDataset, task: Task, workspace: str, cascade_field: str, overrides: dict[str, str]
) -> dict[str, Any]:
    cascade_id = None
    for cf in ds.list_fields(task.list_id):
        if cf.type == "short_text" and cf.name == cascade_field and cf.id in task.values:
            cascade_id = task.values[cf.id]
    if task.custom_item_id == 1:
        item_type = "milestone"
    else:
        item_type = "subtask" if task.parent else "task"
    return {
        "workspace": workspace,
        "source": SOURCE,
        "item_id": task.id,
        "item_type": item_type,
        "parent_id": task.parent,
        "container_id": task.list_id,
        "title": task.name,
        "description": task.text_content or None,
        "status": task.status,
        "status_category": status_category(ds, task, overrides),
        "start_at": ms_to_datetime(task.start_date),
        "due_at": ms_to_datetime(task.due_date),
        "completed_at": ms_to_datetime(task.date_done if task.date_done is not None else task.date_closed),
        "created_at": ms_to_datetime(task.date_created),
        "updated_at": ms_to_datetime(task.date_updated),
        "assignee_ids": [str(u) for u in task.assignee_ids],
        "url": f"https://app.clickup.com/t/{task.id}",
        "cascade_id": cascade_id,
        "is_archived": task.archived,
        "priority": PRIORITIES[task.priority]["priority"] if task.priority else None,
    }


def _containers(ds: ClickUpDataset, team_id: str, workspace: str, denied: set[str]) -> list[dict[str, Any]]:
    def row(container_id: str, kind: str, name: str, parent: str | None) -> dict[str, Any]:
        return {
            "workspace": workspace,
            "source": SOURCE,
            "container_id": container_id,
            "container_type": kind,
            "name": name,
            "parent_id": parent,
        }

    rows = []
    for space_id in ds.teams[team_id].space_ids:
        space = ds.spaces[space_id]
        rows.append(row(space.id, "space", space.name, None))
        for folder_id in space.folder_ids:
            folder = ds.folders[folder_id]
            if not folder.hidden:
                rows.append(row(folder.id, "folder", folder.name, space.id))
            for list_id in folder.list_ids:
                if list_id not in denied:
                    rows.append(row(list_id, "list", ds.lists[list_id].name, folder.id))
        for list_id in space.folderless_list_ids:
            if list_id not in denied:
                rows.append(row(list_id, "list", ds.lists[list_id].name, space.id))
    return rows


def expected_staging(
    dataset: ClickUpDataset,
    team_id: str,
    workspace: str,
    *,
    cascade_id_field: str = "Cascade ID",
    status_categories: dict[str, str] | None = None,
    denied_list_ids: Iterable[str] = (),
) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``staging.work_items``, ``custom_field_values``, ``containers`` and ``users``.

    Tasks whose home list is in ``denied_list_ids`` (and those lists) are left out, as a token
    without access to them would never see them.
    """
    team_id = str(team_id)
    denied = {str(x) for x in denied_list_ids}
    overrides = {k.lower(): v for k, v in (status_categories or {}).items()}
    team_lists = set(dataset.team_list_ids(team_id)) - denied
    tasks = [t for t in dataset.tasks.values() if t.team_id == team_id and t.list_id in team_lists]
    work_items = [_work_item(dataset, t, workspace, cascade_id_field, overrides) for t in tasks]
    values = []
    for task in tasks:
        for cf in dataset.list_fields(task.list_id):
            if cf.id in task.values:
                values.append(
                    {
                        "workspace": workspace,
                        "source": SOURCE,
                        "item_id": task.id,
                        "field_id": cf.id,
                        "field_name": cf.name,
                        "field_type": cf.type,
                        "value": field_value_text(dataset, cf, task.values[cf.id]),
                    }
                )
    users = [
        {
            "workspace": workspace,
            "source": SOURCE,
            "user_id": str(u),
            "name": dataset.users[u].username,
            "email": dataset.users[u].email,
        }
        for u in dataset.teams[team_id].member_ids
    ]
    return {
        "work_items": work_items,
        "custom_field_values": values,
        "containers": _containers(dataset, team_id, workspace, denied),
        "users": users,
    }
