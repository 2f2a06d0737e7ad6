"""How a change lands on a Wrike task or folder: the checks, the in-place edit, and the webhook
events each change causes (``TaskTitleChanged``, ``TaskStatusChanged``, ...), then their delivery
to the webhooks whose scope covers the task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cascade_sync_sandbox.wrike.model import brief_description, wrike_time
from cascade_sync_sandbox.wrike.protocol import ApiError
from cascade_sync_sandbox.wrike.webhooks import Webhook

UPDATE_KEYS = {
    "title",
    "description",
    "importance",
    "status",
    "customStatusId",
    "dates",
    "responsibleIds",
    "addResponsibles",
    "removeResponsibles",
    "customFields",
}


class TaskChanges:
    """Applies changes to the live account and publishes their events. A mixin of
    :class:`~cascade_sync_sandbox.wrike.app.WrikeEmulator`, whose public change methods call it
    with the lock held (``_publish`` runs after the lock is released)."""

    def _permalink(self) -> str:
        return f"https://{self.dataset.host}/open.htm?id={self._rng.randint(5_000_000_000, 9_999_999_999)}"

    def _event(self, task: dict, event_type: str, **extra: Any) -> dict:
        return {
            "taskId": task["id"],
            "webhookId": None,
            "eventAuthorId": self.dataset.me["id"],
            "eventType": event_type,
            "lastUpdatedDate": wrike_time(self.now()),
            **extra,
        }

    def _apply(self, task: dict, changes: dict) -> list[dict]:
        """Apply changes to a task in place and return the webhook events they cause."""
        unknown = set(changes) - UPDATE_KEYS - {"parentIds"}
        if unknown:
            raise ApiError(400, "invalid_parameter", f"Unsupported task changes: {sorted(unknown)}")
        events: list[dict] = []
        for key, event_type in (
            ("title", "TaskTitleChanged"),
            ("description", "TaskDescriptionChanged"),
            ("importance", "TaskImportanceChanged"),
        ):
            if key in changes and changes[key] != task[key]:
                if key == "importance" and changes[key] not in ("High", "Normal", "Low"):
                    raise ApiError(400, "invalid_parameter", "Parameter 'importance' must be High, Normal or Low")
                old, task[key] = task[key], changes[key]
                if key == "description":
                    task["briefDescription"] = brief_description(task[key])
                events.append(self._event(task, event_type, oldValue=old, **{key: task[key]}))
        if "status" in changes or "customStatusId" in changes:
            events += self._change_status(task, changes.get("customStatusId"), changes.get("status"))
        if "dates" in changes and changes["dates"] != task["dates"]:
            dates = changes["dates"]
            if not isinstance(dates, dict) or dates.get("type", "Planned") not in ("Backlog", "Milestone", "Planned"):
                raise ApiError(
                    400, "invalid_parameter", "Parameter 'dates' must be an object with type Backlog|Milestone|Planned"
                )
            old, task["dates"] = (
                task["dates"],
                {"type": dates.get("type", "Planned"), **{k: v for k, v in dates.items() if k != "type"}},
            )
            events.append(self._event(task, "TaskDatesChanged", oldValue=old, dates=task["dates"]))
        events += self._change_people(task, changes)
        if "parentIds" in changes:
            events += self._change_parents(task, list(changes["parentIds"]))
        if "customFields" in changes:
            events += self._change_fields(task, changes["customFields"])
        return events

    def _change_status(self, task: dict, custom_status_id: str | None, group: str | None) -> list[dict]:
        if custom_status_id is None:
            wf = self.workflow_of(task)
            match = [s for s in wf["customStatuses"] if s["group"] == group]
            if not match:
                raise ApiError(
                    400, "invalid_parameter", "Parameter 'status' must be Active, Completed, Deferred or Cancelled"
                )
            custom_status_id = match[0]["id"]
        status = self.statuses_by_id.get(custom_status_id)
        if status is None:
            raise ApiError(400, "invalid_parameter", f"Custom status '{custom_status_id}' does not exist")
        if status["id"] == task["customStatusId"]:
            return []
        old_group, old_id = task["status"], task["customStatusId"]
        task["status"], task["customStatusId"] = status["group"], status["id"]
        if status["group"] == "Completed" and "completedDate" not in task:
            items = list(task.items())
            at = [k for k, _ in items].index("updatedDate") + 1
            items.insert(at, ("completedDate", wrike_time(self.now())))
            task.clear()
            task.update(items)
        elif status["group"] != "Completed":
            task.pop("completedDate", None)
        return [
            self._event(
                task,
                "TaskStatusChanged",
                oldStatus=old_group,
                status=status["group"],
                oldCustomStatusId=old_id,
                customStatusId=status["id"],
            )
        ]

    def _change_people(self, task: dict, changes: dict) -> list[dict]:
        current = list(task["responsibleIds"])
        wanted = list(changes["responsibleIds"]) if "responsibleIds" in changes else list(current)
        wanted += [c for c in changes.get("addResponsibles", []) if c not in wanted]
        wanted = [c for c in wanted if c not in changes.get("removeResponsibles", [])]
        known = {c["id"] for c in self.dataset.contacts}
        if any(c not in known for c in wanted):
            raise ApiError(400, "invalid_parameter", "Unknown contact id among responsibles")
        task["responsibleIds"] = wanted
        events = []
        added = [c for c in wanted if c not in current]
        removed = [c for c in current if c not in wanted]
        if added:
            events.append(self._event(task, "TaskResponsiblesAdded", addedResponsibles=added))
        if removed:
            events.append(self._event(task, "TaskResponsiblesRemoved", removedResponsibles=removed))
        return events

    def _change_parents(self, task: dict, wanted: list[str]) -> list[dict]:
        for folder_id in wanted:
            if folder_id not in self.folders_by_id and folder_id not in self.spaces_by_id:
                raise ApiError(400, "invalid_parameter", f"Folder '{folder_id}' does not exist")
        current = list(task["parentIds"])
        task["parentIds"] = wanted
        events = []
        removed = [p for p in current if p not in wanted]
        added = [p for p in wanted if p not in current]
        if removed:
            events.append(self._event(task, "TaskParentsRemoved", removedParents=removed))
        if added:
            events.append(self._event(task, "TaskParentsAdded", addedParents=added))
        return events

    def _change_fields(self, task: dict, custom_fields: Any) -> list[dict]:
        if isinstance(custom_fields, dict):
            custom_fields = [{"id": k, "value": v} for k, v in custom_fields.items()]
        if not isinstance(custom_fields, list):
            raise ApiError(400, "invalid_parameter", "Parameter 'customFields' must be a JSON array of {id, value}")
        events = []
        for item in custom_fields:
            if not isinstance(item, dict) or "id" not in item:
                raise ApiError(400, "invalid_parameter", "Each customFields entry needs an 'id'")
            definition = self.fields_by_id.get(item["id"])
            if definition is None:
                raise ApiError(400, "invalid_parameter", f"Custom field '{item['id']}' does not exist")
            value = item.get("value")
            if value is not None and not isinstance(value, str):
                raise ApiError(400, "invalid_parameter", f"Custom field '{item['id']}': value must be a string")
            _validate_field_value(definition, value)
            entries = task["customFields"]
            old = next((e["value"] for e in entries if e["id"] == item["id"]), None)
            if value in (None, ""):
                task["customFields"] = [e for e in entries if e["id"] != item["id"]]
                value = None
            elif old is None:
                entries.append({"id": item["id"], "value": value})
            else:
                next(e for e in entries if e["id"] == item["id"])["value"] = value
            if old != value:
                events.append(
                    self._event(
                        task, "TaskCustomFieldChanged", customFieldId=item["id"], oldValue=old or "", value=value or ""
                    )
                )
        return events

    def _publish(self, events: list[dict], task: dict, other_parents: list[str]) -> None:
        if not events:
            return
        folders = set(task["parentIds"]) | set(other_parents)

        def covers(hook: Webhook) -> bool:
            if hook.folder_id:
                if hook.recursive:
                    return any(hook.folder_id in self._ancestors(f) for f in folders)
                return hook.folder_id in folders
            if hook.space_id:
                return any(self.space_of(f) == hook.space_id for f in folders)
            return True

        self.webhooks.publish(events, covers)


def _validate_field_value(definition: dict, value: str | None) -> None:
    if value in (None, ""):
        return
    if len(value) > 2000:
        raise ApiError(400, "invalid_parameter", f"Custom field '{definition['title']}': at most 2000 characters")
    ftype, settings = definition["type"], definition.get("settings", {})
    bad = False
    if ftype in ("Numeric", "Currency", "Percentage"):
        try:
            float(value)
        except ValueError:
            bad = True
    elif ftype == "Checkbox":
        bad = value not in ("true", "false")
    elif ftype == "DropDown" and not settings.get("allowOtherValues"):
        bad = value not in settings.get("values", [])
    elif ftype == "Date":
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            bad = True
    if bad:
        raise ApiError(
            400, "invalid_parameter", f"Custom field '{definition['title']}' ({ftype}) does not accept the value given"
        )
