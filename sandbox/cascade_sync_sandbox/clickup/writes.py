"""Task writes (PUT /task, Set/Remove Custom Field Value, and the sandbox's create/move helpers),
each returning the webhook events ClickUp would send for the change (shapes of A8). How a custom
field value is coerced per field type is ``field_values.py``'s."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from . import names
from .errors import ApiError, bad_request
from .field_values import coerce_value, parse_number
from .model import ClickUpDataset, CustomField, Status, Task, User
from .render import field_json, ms, user_json

UPDATE_KEYS = frozenset(
    {
        "name",
        "description",
        "markdown_content",
        "status",
        "priority",
        "due_date",
        "due_date_time",
        "start_date",
        "start_date_time",
        "archived",
        "points",
        "time_estimate",
        "custom_item_id",
        "assignees",
        "group_assignees",
        "watchers",
        "parent",
    }
)


@dataclass
class Event:
    """One webhook event; ``history_items`` is None for taskDeleted, which carries none."""

    name: str
    task_id: str
    history_items: list[dict[str, Any]] | None


def _as_ms(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be ms since the epoch or null", "INPUT_003") from None


def _status_brief(status: Status | None) -> dict[str, Any]:
    if status is None:
        return {"status": None, "color": "#000000", "type": "removed", "orderindex": -1}
    return {"status": status.name, "color": status.color, "orderindex": status.orderindex, "type": status.type}


class TaskWriter:
    """Applies changes to the model. The caller holds the emulator's lock and re-indexes."""

    def __init__(self, ds: ClickUpDataset, rng: random.Random) -> None:
        self.ds = ds
        self.rng = rng

    def history(
        self, task: Task, actor: User, now: int, field: str, before: Any, after: Any, **extra: Any
    ) -> dict[str, Any]:
        item = {
            "id": str(self.rng.randrange(10**18, 10**19)),
            "type": 1,
            "date": str(now),
            "field": field,
            "parent_id": task.list_id,
            "data": extra.pop("data", {}),
            "source": None,
            "user": user_json(actor),
            "before": before,
            "after": after,
        }
        item.update(extra)
        return item

    def find_status(self, task_or_list: Task | str, name: Any) -> Status:
        list_id = task_or_list.list_id if isinstance(task_or_list, Task) else task_or_list
        for status in self.ds.list_statuses(list_id):
            if isinstance(name, str) and status.name.lower() == name.strip().lower():
                return status
        raise bad_request(f"Status {name!r} does not exist on this list", "ITEM_114")

    def _set_status(self, task: Task, status: Status, now: int) -> None:
        task.status = status.name
        task.date_done = now if status.type in ("done", "closed") else None
        task.date_closed = now if status.type == "closed" else None

    def update(self, task: Task, body: dict[str, Any], actor: User, now: int) -> list[Event]:
        """Apply a PUT /task/{id} body; unknown keys are ignored, as ClickUp does."""
        events: list[Event] = []

        def emit(name: str, item: dict[str, Any]) -> None:
            events.append(Event(name, task.id, [item]))
            if name != "taskUpdated":
                events.append(Event("taskUpdated", task.id, [item]))

        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise bad_request("Task name invalid", "INPUT_005")
            emit("taskUpdated", self.history(task, actor, now, "name", task.name, body["name"]))
            task.name = body["name"]
        for key in ("description", "markdown_content"):
            if key in body:
                text = "" if body[key] in (None, " ") else str(body[key])
                emit("taskUpdated", self.history(task, actor, now, "content", task.text_content, text))
                task.text_content = text
        if "status" in body:
            old = self.ds.task_status(task)
            new = self.find_status(task, body["status"])
            if new.name != old.name:
                self._set_status(task, new, now)
                emit(
                    "taskStatusUpdated",
                    self.history(
                        task,
                        actor,
                        now,
                        "status",
                        _status_brief(old),
                        _status_brief(new),
                        data={"status_type": new.type},
                    ),
                )
        if "priority" in body:
            value = body["priority"]
            if value is not None and (isinstance(value, bool) or value not in (1, 2, 3, 4, "1", "2", "3", "4")):
                raise bad_request("Priority must be 1 (urgent) to 4 (low) or null", "INPUT_006")
            new_priority = int(value) if value is not None else None
            emit(
                "taskPriorityUpdated",
                self.history(
                    task,
                    actor,
                    now,
                    "priority",
                    names.PRIORITIES.get(task.priority),
                    names.PRIORITIES.get(new_priority),
                ),
            )
            task.priority = new_priority
        for key, event in (("due_date", "taskDueDateUpdated"), ("start_date", "taskUpdated")):
            if key in body:
                value = _as_ms(body[key], key)
                emit(event, self.history(task, actor, now, key, ms(getattr(task, key)), ms(value)))
                setattr(task, key, value)
        if "archived" in body:
            if not isinstance(body["archived"], bool):
                raise bad_request("archived must be true or false")
            emit("taskUpdated", self.history(task, actor, now, "archived", int(task.archived), int(body["archived"])))
            task.archived = body["archived"]
        for key in ("points", "time_estimate"):
            if key in body:
                try:
                    value = None if body[key] is None else parse_number(body[key])
                except (TypeError, ValueError):
                    raise bad_request(f"{key} must be a number or null") from None
                if key == "time_estimate" and value is not None:
                    value = int(value)
                name = "taskTimeEstimateUpdated" if key == "time_estimate" else "taskUpdated"
                emit(name, self.history(task, actor, now, key, getattr(task, key), value))
                setattr(task, key, value)
        if "custom_item_id" in body:
            if not isinstance(body["custom_item_id"], int) or isinstance(body["custom_item_id"], bool):
                raise bad_request("custom_item_id must be an integer")
            task.custom_item_id = body["custom_item_id"]
        if "assignees" in body:
            events.extend(self._assignees(task, body["assignees"], actor, now))
        if "parent" in body:
            events.extend(self._parent(task, body["parent"], actor, now))
        task.date_updated = now
        return events

    def _assignees(self, task: Task, change: Any, actor: User, now: int) -> list[Event]:
        if not isinstance(change, dict):
            raise bad_request('assignees must be {"add": [...], "rem": [...]}')
        members = set(self.ds.teams[task.team_id].member_ids)
        events = []
        for op, field in (("add", "assignee_add"), ("rem", "assignee_rem")):
            for raw in change.get(op) or []:
                try:
                    user_id = int(raw)
                except (TypeError, ValueError):
                    raise bad_request(f"assignee {raw!r} is not a user id") from None
                if user_id not in members:
                    raise bad_request(f"User {user_id} is not a member of this Workspace", "ITEM_057")
                present = user_id in task.assignee_ids
                if op == "add" and not present:
                    task.assignee_ids.append(user_id)
                    if user_id not in task.watcher_ids:
                        task.watcher_ids.append(user_id)
                elif op == "rem" and present:
                    task.assignee_ids.remove(user_id)
                else:
                    continue
                user = user_json(self.ds.users[user_id])
                item = self.history(
                    task, actor, now, field, None if op == "add" else user, user if op == "add" else None
                )
                events += [Event("taskAssigneeUpdated", task.id, [item]), Event("taskUpdated", task.id, [item])]
        return events

    def _parent(self, task: Task, parent_id: Any, actor: User, now: int) -> list[Event]:
        if parent_id is None:
            raise bad_request("parent cannot be null: a subtask cannot be made a top-level task this way", "ITEM_140")
        parent = self.ds.tasks.get(str(parent_id))
        if parent is None or parent.team_id != task.team_id:
            raise bad_request(f"Parent task {parent_id!r} not found", "ITEM_013")
        ancestor: Task | None = parent
        while ancestor is not None:
            if ancestor.id == task.id:
                raise bad_request("A task cannot become a subtask of itself or of its own subtask", "ITEM_141")
            ancestor = self.ds.tasks.get(ancestor.parent) if ancestor.parent else None
        before = task.parent
        task.parent = parent.id
        self._retop(task, parent.top_level_parent or parent.id, parent.list_id, now)
        return [Event("taskUpdated", task.id, [self.history(task, actor, now, "parent", before, parent.id)])]

    def _retop(self, task: Task, top: str, list_id: str, now: int) -> None:
        task.top_level_parent = top
        task.list_id = list_id
        task.date_updated = now
        for child in self.ds.tasks.values():
            if child.parent == task.id:
                self._retop(child, top, list_id, now)

    # ---- custom fields -------------------------------------------------------------------------
    def field_of(self, task: Task, field_id: str) -> CustomField:
        for cf in self.ds.list_fields(task.list_id):
            if cf.id == field_id:
                return cf
        raise bad_request("Custom field not found on this task's list", "FIELD_002")

    def set_field(self, task: Task, field_id: str, body: Any, actor: User, now: int) -> list[Event]:
        cf = self.field_of(task, field_id)
        if not isinstance(body, dict) or "value" not in body:
            raise bad_request('Body must be {"value": ...}', "FIELD_001")
        before = task.values.get(cf.id)
        task.values[cf.id] = coerce_value(self.ds, task, cf, body["value"], before)
        task.date_updated = now
        return self._field_events(task, cf, before, task.values[cf.id], actor, now)

    def remove_field(self, task: Task, field_id: str, actor: User, now: int) -> list[Event]:
        cf = self.field_of(task, field_id)
        before = task.values.pop(cf.id, None)
        task.date_updated = now
        return self._field_events(task, cf, before, None, actor, now)

    def _field_events(self, task: Task, cf: CustomField, before: Any, after: Any, actor: User, now: int) -> list[Event]:
        item = self.history(task, actor, now, "custom_field", before, after, custom_field=field_json(cf))
        return [Event("taskUpdated", task.id, [item])]

    # ---- sandbox helpers -----------------------------------------------------------------------
    def new_task_id(self) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        while True:
            task_id = "86" + "".join(self.rng.choices(alphabet, k=7))
            if task_id not in self.ds.tasks:
                return task_id

    def create(self, list_id: str, fields: dict[str, Any], actor: User, now: int) -> tuple[Task, list[Event]]:
        """A new task in ``list_id``. ``fields`` uses the PUT vocabulary; ``assignees`` is a list of ids."""
        if list_id not in self.ds.lists:
            raise ApiError(404, "List not found", "ITEM_015")
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("Task name invalid", "INPUT_005")
        status = (
            self.find_status(list_id, fields["status"]) if fields.get("status") else self.ds.list_statuses(list_id)[0]
        )
        task = Task(
            id=self.new_task_id(),
            team_id=self.ds.list_team(list_id),
            list_id=list_id,
            name=name,
            text_content="",
            status=status.name,
            orderindex=f"{self.rng.randrange(10**6, 10**9)}." + "0" * 32,
            date_created=now,
            date_updated=now,
            date_closed=None,
            date_done=None,
            archived=False,
            creator_id=actor.id,
            assignee_ids=[],
            watcher_ids=[actor.id],
            tags=[],
            checklists=[],
            parent=None,
            top_level_parent=None,
            custom_item_id=0,
            priority=None,
            due_date=None,
            start_date=None,
            points=None,
            time_estimate=None,
            time_spent=None,
            values={},
        )
        self._set_status(task, status, now)
        self.ds.tasks[task.id] = task
        rest = {k: v for k, v in fields.items() if k not in ("name", "status")}
        if isinstance(rest.get("assignees"), list):
            rest["assignees"] = {"add": rest["assignees"]}
        try:
            self.update(task, rest, actor, now)
        except ApiError:
            del self.ds.tasks[task.id]
            raise
        task.date_updated = now
        items = [
            self.history(task, actor, now, "status", _status_brief(None), _status_brief(status)),
            self.history(task, actor, now, "task_creation", None, None),
        ]
        return task, [Event("taskCreated", task.id, items), Event("taskStatusUpdated", task.id, items[:1])]

    def move(self, task: Task, list_id: str, actor: User, now: int) -> list[Event]:
        """Change the home list; subtasks follow their parent, the status is kept by name or by type."""
        if list_id not in self.ds.lists or self.ds.list_team(list_id) != task.team_id:
            raise bad_request("The target list is not in the task's Workspace", "ITEM_015")
        before = self._section(task.list_id)
        self._relocate(task, list_id, now)
        task.date_updated = now
        item = self.history(task, actor, now, "section_moved", before, self._section(list_id))
        return [Event("taskMoved", task.id, [item])]

    def _relocate(self, task: Task, list_id: str, now: int) -> None:
        if task.status not in {s.name for s in self.ds.list_statuses(list_id)}:
            old = self.ds.task_status(task)
            same_type = [s for s in self.ds.list_statuses(list_id) if s.type == old.type]
            self._set_status(task, (same_type or self.ds.list_statuses(list_id))[0], now)
        task.list_id = list_id
        task.other_list_ids = [x for x in task.other_list_ids if x != list_id]
        task.date_updated = now
        for child in self.ds.tasks.values():
            if child.parent == task.id:
                self._relocate(child, list_id, now)

    def _section(self, list_id: str) -> dict[str, Any]:
        lst = self.ds.lists[list_id]
        space = self.ds.spaces[lst.space_id]
        if lst.folder_id is None:
            category = {"id": space.hidden_folder_id, "name": "hidden", "hidden": True}
        else:
            folder = self.ds.folders[lst.folder_id]
            category = {"id": folder.id, "name": folder.name, "hidden": folder.hidden}
        return {"id": lst.id, "name": lst.name, "category": category, "project": {"id": space.id, "name": space.name}}
