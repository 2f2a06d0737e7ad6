"""The ground truth of the Wrike sandbox: the staging rows a correct sync must produce.

``expected_staging(dataset, workspace)`` is the ground truth for the staging tables. The Wrike
staging SQL is written against these rules:

work_items (one row per project and per task, Recycle Bin included)
  * A folder with a ``project`` object is a work item: ``item_type='project'``,
    ``parent_id`` NULL, ``container_id`` = its first ``parentIds`` entry (a folder or the space),
    ``title``/``description``/``createdDate``/``updatedDate``/``permalink`` of the folder,
    ``start_at``/``due_at``/``completed_at`` from ``project.startDate``/``endDate``/``completedDate``,
    ``assignee_ids`` = ``project.ownerIds``, status from ``project.customStatusId``.
  * A task whose ``superTaskIds`` is non-empty is a ``subtask`` with ``parent_id`` = the first
    super task id (this wins over the milestone rule); otherwise ``dates.type == 'Milestone'``
    makes a ``milestone``; otherwise a ``task``. ``parent_id`` is NULL for tasks and milestones.
  * ``container_id`` of a task = its first ``parentIds`` entry. Subtasks here carry their super
    task's folders in ``parentIds`` (as when created inside a project view), so the rule holds.
  * ``status`` = the name of the custom status (``customStatusId``, looked up in /workflows).
    ``status_category`` from the status's group: Active -> ``in_progress``, except the first
    Active status of a workflow whose Active group has several statuses (the default new status)
    -> ``not_started`` (Wrike's default workflow has ``Active`` alone: in progress); Completed ->
    ``done``; Deferred -> ``deferred``; Cancelled -> ``cancelled``.
  * Dates are naive UTC datetimes. ``createdDate``/``updatedDate``/``completedDate`` end in ``Z``;
    ``dates.start``/``dates.due`` are local date-times without ``Z`` (taken as UTC) or date-only;
    a date-only value such as ``2026-03-01`` means midnight. Missing dates are NULL (a Backlog
    task has neither; a milestone has only ``due``). ``completed_at`` from ``completedDate``
    (only tasks in the Completed group carry one).
  * ``assignee_ids`` = ``responsibleIds`` (in order; empty list when none), ``url`` = ``permalink``,
    ``description`` verbatim (Wrike sends HTML; empty string stays empty),
    ``is_archived`` = ``scope`` is ``RbTask``/``RbFolder`` (in the Recycle Bin; such tasks keep
    their original ``parentIds``), ``cascade_id`` = value of the custom field titled
    ``cascade_id_field`` or NULL.

custom_field_values (one row per entry in a task's or project's ``customFields``)
  * ``field_name``/``field_type`` = the definition's ``title``/``type``; ``value`` as a person
    reads it: Text, DropDown (already the option text) and Date (``YYYY-MM-DD``) verbatim;
    Checkbox ``'true'``/``'false'``; Numeric, Currency and Percentage without trailing zeros
    after the point (``'5.0'`` -> ``'5'``, ``'1250.50'`` -> ``'1250.5'``); Contacts = the contact
    ids (comma-separated) replaced by ``'First Last'`` joined with ``', '``; Multiple = the
    comma-separated options joined with ``', '``. The Cascade ID field is included here too.

containers
  * Spaces (``'space'``, parent NULL), plain folders (``'folder'``) and projects (``'project'``)
    with ``parent_id`` = first ``parentIds`` entry. The Root and Recycle Bin pseudo-folders are
    not containers.

users
  * Contacts of ``type == 'Person'`` (groups are skipped): ``user_id`` = id,
    ``name`` = ``'First Last'``, ``email`` = ``primaryEmail``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cascade_sync_sandbox.wrike.model import WrikeDataset, parse_wrike_datetime

GROUP_CATEGORY = {"Completed": "done", "Deferred": "deferred", "Cancelled": "cancelled"}


def status_category(status: dict, workflow: dict) -> str:
    """The staging category of a custom status, per the rules in the module docstring."""
    if status["group"] == "Active":
        active = [s for s in workflow["customStatuses"] if s["group"] == "Active"]
        return "not_started" if len(active) > 1 and status["id"] == active[0]["id"] else "in_progress"
    return GROUP_CATEGORY[status["group"]]


def _plain_number(raw: str) -> str:
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return raw
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def display_value(field_type: str, raw: str | None, contact_names: dict[str, str]) -> str | None:
    """A custom field value as a person reads it (see the module docstring)."""
    if raw is None:
        return None
    if field_type in ("Numeric", "Currency", "Percentage"):
        return _plain_number(raw)
    if field_type == "Contacts":
        return ", ".join(contact_names.get(cid.strip(), cid.strip()) for cid in raw.split(",") if cid.strip())
    if field_type == "Multiple":
        return ", ".join(part.strip() for part in raw.split(",") if part.strip())
    return raw


def expected_staging(
    dataset: WrikeDataset, workspace: str, *, cascade_id_field: str = "Cascade ID"
) -> dict[str, list[dict]]:
    """The staging rows (exact columns of warehouse/schema.sql) a full sync of ``dataset`` yields."""
    statuses = {s["id"]: (s, wf) for wf in dataset.workflows for s in wf["customStatuses"]}
    fields = {f["id"]: f for f in dataset.custom_fields}
    names = {c["id"]: f"{c['firstName']} {c['lastName']}" for c in dataset.contacts}
    base = {"workspace": workspace, "source": "wrike"}

    def status_of(custom_status_id: str | None) -> tuple[str | None, str | None]:
        if custom_status_id not in statuses:
            return None, None
        status, wf = statuses[custom_status_id]
        return status["name"], status_category(status, wf)

    def cascade_id(entity: dict) -> str | None:
        for cf in entity.get("customFields", []):
            definition = fields.get(cf["id"])
            if definition and definition["title"] == cascade_id_field and cf.get("value"):
                return cf["value"]
        return None

    work_items, values = [], []
    for folder in dataset.folders:
        project = folder.get("project")
        if project is None:
            continue
        status, category = status_of(project.get("customStatusId"))
        work_items.append(
            {
                **base,
                "item_id": folder["id"],
                "item_type": "project",
                "parent_id": None,
                "container_id": folder["parentIds"][0] if folder["parentIds"] else None,
                "title": folder["title"],
                "description": folder.get("description"),
                "status": status,
                "status_category": category,
                "start_at": parse_wrike_datetime(project.get("startDate")),
                "due_at": parse_wrike_datetime(project.get("endDate")),
                "completed_at": parse_wrike_datetime(project.get("completedDate")),
                "created_at": parse_wrike_datetime(folder["createdDate"]),
                "updated_at": parse_wrike_datetime(folder["updatedDate"]),
                "assignee_ids": list(project.get("ownerIds", [])),
                "url": folder.get("permalink"),
                "cascade_id": cascade_id(folder),
                "is_archived": folder["scope"].startswith("Rb"),
                "priority": None,
            }
        )
    for task in dataset.tasks:
        if task.get("superTaskIds"):
            item_type, parent_id = "subtask", task["superTaskIds"][0]
        elif task["dates"]["type"] == "Milestone":
            item_type, parent_id = "milestone", None
        else:
            item_type, parent_id = "task", None
        status, category = status_of(task.get("customStatusId"))
        work_items.append(
            {
                **base,
                "item_id": task["id"],
                "item_type": item_type,
                "parent_id": parent_id,
                "container_id": task["parentIds"][0] if task.get("parentIds") else None,
                "title": task["title"],
                "description": task.get("description"),
                "status": status,
                "status_category": category,
                "start_at": parse_wrike_datetime(task["dates"].get("start")),
                "due_at": parse_wrike_datetime(task["dates"].get("due")),
                "completed_at": parse_wrike_datetime(task.get("completedDate")),
                "created_at": parse_wrike_datetime(task["createdDate"]),
                "updated_at": parse_wrike_datetime(task["updatedDate"]),
                "assignee_ids": list(task.get("responsibleIds", [])),
                "url": task.get("permalink"),
                "cascade_id": cascade_id(task),
                "is_archived": task["scope"].startswith("Rb"),
                "priority": task.get("importance"),
            }
        )
    for entity in dataset.folders + dataset.tasks:
        for cf in entity.get("customFields", []):
            definition = fields.get(cf["id"])
            if definition is None:
                continue
            values.append(
                {
                    **base,
                    "item_id": entity["id"],
                    "field_id": cf["id"],
                    "field_name": definition["title"],
                    "field_type": definition["type"],
                    "value": display_value(definition["type"], cf.get("value"), names),
                }
            )
    containers = [
        {**base, "container_id": s["id"], "container_type": "space", "name": s["title"], "parent_id": None}
        for s in dataset.spaces
    ]
    containers += [
        {
            **base,
            "container_id": f["id"],
            "container_type": "project" if "project" in f else "folder",
            "name": f["title"],
            "parent_id": f["parentIds"][0] if f["parentIds"] else None,
        }
        for f in dataset.folders
        if not f["scope"].startswith("Rb")
    ]
    users = [
        {**base, "user_id": c["id"], "name": f"{c['firstName']} {c['lastName']}", "email": c.get("primaryEmail")}
        for c in dataset.contacts
        if c["type"] == "Person"
    ]
    return {"work_items": work_items, "custom_field_values": values, "containers": containers, "users": users}
