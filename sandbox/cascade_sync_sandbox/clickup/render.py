"""The model as ClickUp API v2 JSON (shapes and key order of source-apis.md A4 and real payloads)."""

from __future__ import annotations

from typing import Any

from . import names
from .model import ClickUpDataset, CustomField, Folder, Space, Task, TaskList, Team, User

_LIST_COLORS = (("green", "#6bc950"), ("yellow", "#f9d900"), ("red", "#e50000"))
_FEATURES = {
    "due_dates": {"enabled": True, "start_date": True, "remap_due_dates": False, "remap_closed_due_date": False},
    "time_tracking": {"enabled": True},
    "tags": {"enabled": True},
    "time_estimates": {"enabled": True},
    "checklists": {"enabled": True},
    "custom_fields": {"enabled": True},
    "remap_dependencies": {"enabled": True},
    "dependency_warning": {"enabled": True},
    "portfolios": {"enabled": True},
}
_SHARING = {
    "public": False,
    "public_share_expires_on": None,
    "public_fields": [
        "assignees",
        "priority",
        "due_date",
        "content",
        "comments",
        "attachments",
        "customFields",
        "subtasks",
        "tags",
        "checklists",
        "coverimage",
    ],
    "token": None,
    "seo_optimized": False,
}


def ms(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_json(user: User) -> dict[str, Any]:
    """A user as it appears in assignees, watchers, people fields and webhook history items."""
    return {
        "id": user.id,
        "username": user.username,
        "color": user.color,
        "initials": user.initials,
        "email": user.email,
        "profilePicture": user.profile_picture,
    }


def me_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "color": user.color,
        "profilePicture": user.profile_picture,
        "initials": user.initials,
        "week_start_day": 1,
        "global_font_support": True,
        "timezone": "Etc/UTC",
    }


def member_json(ds: ClickUpDataset, user_id: int) -> dict[str, Any]:
    user = ds.users[user_id]
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "color": user.color,
            "profilePicture": user.profile_picture,
            "initials": user.initials,
            "role": 1 if user_id == ds.admin_user_id else 3,
        }
    }


def team_json(ds: ClickUpDataset, team: Team) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "color": team.color,
        "avatar": team.avatar,
        "members": [member_json(ds, u) for u in team.member_ids],
    }


def space_json(ds: ClickUpDataset, space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "name": space.name,
        "private": space.private,
        "color": space.color,
        "avatar": None,
        "admin_can_manage": True,
        "archived": space.archived,
        "members": [member_json(ds, u) for u in ds.teams[space.team_id].member_ids],
        "statuses": [
            {"status": s.name, "type": s.type, "orderindex": s.orderindex, "color": s.color} for s in space.statuses
        ],
        "multiple_assignees": True,
        "features": _FEATURES,
    }


def _space_ref(space: Space) -> dict[str, Any]:
    return {"id": space.id, "name": space.name, "access": True}


def folder_ref(ds: ClickUpDataset, lst: TaskList) -> dict[str, Any]:
    """The ``folder`` of a list or task; folderless lists sit in the space's hidden placeholder."""
    if lst.folder_id is None:
        return {"id": ds.spaces[lst.space_id].hidden_folder_id, "name": "hidden", "hidden": True, "access": True}
    folder = ds.folders[lst.folder_id]
    return {"id": folder.id, "name": folder.name, "hidden": folder.hidden, "access": True}


def list_json(ds: ClickUpDataset, lst: TaskList, task_count: int, *, detailed: bool = False) -> dict[str, Any]:
    color_name, color = _LIST_COLORS[int(lst.id) % len(_LIST_COLORS)]
    priority = names.PRIORITIES[int(lst.id) % 4 + 1]
    out: dict[str, Any] = {
        "id": lst.id,
        "name": lst.name,
        "orderindex": lst.orderindex,
        "content": lst.content,
        "status": {"status": color_name, "color": color, "hide_label": True},
        "priority": {"priority": priority["priority"], "color": priority["color"]},
        "assignee": None,
        "task_count": str(task_count),
        "due_date": ms(lst.due_date),
    }
    if detailed:
        out["due_date_time"] = False
    out["start_date"] = None
    if detailed:
        out["start_date_time"] = None
    out["folder"] = folder_ref(ds, lst)
    out["space"] = _space_ref(ds.spaces[lst.space_id])
    if detailed:
        out["inbound_address"] = (
            f"a.t.{lst.id}.{lst.status_ids[next(iter(lst.status_ids))][-8:].lower()}@tasks.clickup.com"
        )
    out["archived"] = lst.archived
    out["override_statuses"] = False
    if detailed:
        out["statuses"] = [
            {
                "id": lst.status_ids[s.name],
                "status": s.name,
                "orderindex": s.orderindex,
                "color": s.color,
                "type": s.type,
            }
            for s in ds.list_statuses(lst.id)
        ]
    out["permission_level"] = "create"
    return out


def folder_json(ds: ClickUpDataset, folder: Folder, lists: list[dict[str, Any]], task_count: int) -> dict[str, Any]:
    return {
        "id": folder.id,
        "name": folder.name,
        "orderindex": folder.orderindex,
        "override_statuses": False,
        "hidden": folder.hidden,
        "space": _space_ref(ds.spaces[folder.space_id]),
        "task_count": str(task_count),
        "archived": folder.archived,
        "lists": lists,
    }


def field_json(cf: CustomField) -> dict[str, Any]:
    return {
        "id": cf.id,
        "name": cf.name,
        "type": cf.type,
        "type_config": cf.type_config,
        "date_created": str(cf.date_created),
        "hide_from_guests": cf.hide_from_guests,
        "required": cf.required,
    }


def field_value_json(ds: ClickUpDataset, cf: CustomField, value: Any) -> Any:
    if cf.type == "users":
        return [user_json(ds.users[u]) for u in value]
    return value


def status_json(ds: ClickUpDataset, task: Task) -> dict[str, Any]:
    status = ds.task_status(task)
    return {
        "id": ds.lists[task.list_id].status_ids[status.name],
        "status": status.name,
        "color": status.color,
        "orderindex": status.orderindex,
        "type": status.type,
    }


def _checklist_json(task: Task, checklist) -> dict[str, Any]:
    resolved = sum(1 for i in checklist.items if i.resolved)
    return {
        "id": checklist.id,
        "task_id": task.id,
        "name": checklist.name,
        "date_created": str(checklist.date_created),
        "orderindex": checklist.orderindex,
        "creator": checklist.creator_id,
        "resolved": resolved,
        "unresolved": len(checklist.items) - resolved,
        "items": [
            {
                "id": i.id,
                "name": i.name,
                "orderindex": i.orderindex,
                "assignee": None,
                "group_assignee": None,
                "resolved": i.resolved,
                "parent": None,
                "date_created": str(i.date_created),
                "children": [],
            }
            for i in checklist.items
        ],
    }


_TAG_COLORS = {name: (fg, bg) for name, fg, bg in names.TAGS}


def task_json(ds: ClickUpDataset, task: Task, *, markdown: bool = False) -> dict[str, Any]:
    lst = ds.lists[task.list_id]
    creator = ds.users[task.creator_id]
    custom_fields = []
    for cf in ds.list_fields(task.list_id):
        entry = {
            "id": cf.id,
            "name": cf.name,
            "type": cf.type,
            "type_config": cf.type_config,
            "date_created": str(cf.date_created),
            "hide_from_guests": cf.hide_from_guests,
        }
        if cf.id in task.values:
            entry["value"] = field_value_json(ds, cf, task.values[cf.id])
        entry["required"] = cf.required
        custom_fields.append(entry)
    out: dict[str, Any] = {
        "id": task.id,
        "custom_id": None,
        "custom_item_id": task.custom_item_id,
        "name": task.name,
        "text_content": task.text_content,
        "description": task.text_content,
    }
    if markdown:
        out["markdown_description"] = task.text_content
    folder = folder_ref(ds, lst)
    out.update(
        {
            "status": status_json(ds, task),
            "orderindex": task.orderindex,
            "date_created": ms(task.date_created),
            "date_updated": ms(task.date_updated),
            "date_closed": ms(task.date_closed),
            "date_done": ms(task.date_done),
            "archived": task.archived,
            "creator": {
                "id": creator.id,
                "username": creator.username,
                "color": creator.color,
                "email": creator.email,
                "profilePicture": creator.profile_picture,
            },
            "assignees": [user_json(ds.users[u]) for u in task.assignee_ids],
            "group_assignees": [],
            "watchers": [user_json(ds.users[u]) for u in task.watcher_ids],
            "checklists": [_checklist_json(task, c) for c in task.checklists],
            "tags": [
                {
                    "name": t,
                    "tag_fg": _TAG_COLORS.get(t, ("#000000", "#000000"))[0],
                    "tag_bg": _TAG_COLORS.get(t, ("#000000", "#000000"))[1],
                    "creator": ds.admin_user_id,
                }
                for t in task.tags
            ],
            "parent": task.parent,
            "top_level_parent": task.top_level_parent,
            "priority": dict(names.PRIORITIES[task.priority]) if task.priority else None,
            "due_date": ms(task.due_date),
            "start_date": ms(task.start_date),
            "points": task.points,
            "time_estimate": task.time_estimate,
        }
    )
    if task.time_spent:
        out["time_spent"] = task.time_spent
    out.update(
        {
            "custom_fields": custom_fields,
            "dependencies": [],
            "linked_tasks": [],
            "locations": [{"id": x, "name": ds.lists[x].name} for x in task.other_list_ids],
            "team_id": task.team_id,
            "url": f"https://app.clickup.com/t/{task.id}",
            "sharing": _SHARING,
            "permission_level": "create",
            "list": {"id": lst.id, "name": lst.name, "access": True},
            "project": folder,
            "folder": folder,
            "space": {"id": lst.space_id},
        }
    )
    return out
