"""The Wrike API v4 client the sync uses: reads of the hierarchy and tasks, and the Cascade ID write-back.

Built on :class:`~cascade_sync_pipeline.wrike.session.WrikeSession` (credentials, host, rate limits,
errors, paging). Task queries always send ``pageSize`` and follow ``nextPageToken`` to the end, because
Wrike silently stops at 1,000 tasks without it; incremental reads ask for ``updatedDate >= since -
overlap`` and de-duplicate by id. Plain Python: no Dagster imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from cascade_sync_pipeline.payloads import item_id, wrike_time
from cascade_sync_pipeline.wrike.errors import WrikeApiError
from cascade_sync_pipeline.wrike.session import DEFAULT_OVERLAP, MAX_PAGE_SIZE, WrikeSession, api_base_for_host

__all__ = [
    "DEFAULT_OVERLAP",
    "MAX_PAGE_SIZE",
    "TASK_FIELDS",
    "WrikeClient",
    "api_base_for_host",
    "latest_update",
    "latest_versions",
    "wrike_timestamp",
]

# Optional task fields the staging needs (Wrike leaves them out of query results unless asked).
TASK_FIELDS = (
    "description",
    "briefDescription",
    "parentIds",
    "superParentIds",
    "responsibleIds",
    "authorIds",
    "superTaskIds",
    "subTaskIds",
    "customFields",
)
MAX_IDS_PER_CALL = 100


def _chunks(ids: list[str], size: int = MAX_IDS_PER_CALL) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def wrike_timestamp(moment: datetime) -> str:
    """UTC ``yyyy-MM-ddTHH:mm:ssZ``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_update(tasks: Iterable[Mapping]) -> str | None:
    """The newest readable ``updatedDate`` among tasks, for the next watermark (unreadable ones are ignored)."""
    moments = {t["updatedDate"]: m for t in tasks if isinstance(t, Mapping) and (m := wrike_time(t.get("updatedDate")))}
    return max(moments, key=moments.__getitem__, default=None)


class WrikeClient(WrikeSession):
    """The Wrike endpoints the sync calls: the hierarchy, tasks, custom fields, contacts, workflows,
    the Cascade ID write-back and webhooks."""

    _recycle_bin_id: str | None = None  # learned on first use

    # --- reads -----------------------------------------------------------------------------------
    def account(self) -> dict:
        return self._data(self.get("/account"))[0]

    def spaces(self, *, include_archived: bool = False) -> list[dict]:
        return self._data(self.get("/spaces", {"withArchived": _flag(include_archived)}), "space")

    def folder_tree(self, space_id: str | None = None) -> list[dict]:
        """Tree entries (id, title, childIds, scope, project) of a space, or of the whole account."""
        path = f"/spaces/{space_id}/folders" if space_id else "/folders"
        return [f for f in self._data(self.get(path), "folder") if f.get("id") != space_id]

    def folders(self, ids: Iterable[str]) -> list[dict]:
        """Full folder/project models (parentIds, description, project, customFields, ...), 100 ids a call."""
        out: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            out += self._data(self.get(f"/folders/{','.join(chunk)}"), "folder")
        return out

    def space_folders(self, space_id: str) -> list[dict]:
        """Every folder and project below a space, as full models."""
        tree = self.folder_tree(space_id)
        return self.folders([f["id"] for f in tree if f.get("scope", "WsFolder") == "WsFolder"])

    def projects(self, space_id: str) -> list[dict]:
        return [f for f in self.space_folders(space_id) if "project" in f]

    def tasks_in_folder(
        self,
        folder_id: str,
        *,
        updated_since: datetime | str | None = None,
        descendants: bool = True,
        subtasks: bool = True,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        """Tasks of a folder or project (and its subfolders), subtasks included, every page."""
        params = self._task_params(updated_since, fields, descendants=descendants, subtasks=subtasks)
        return latest_versions(self.iter_tasks(f"/folders/{folder_id}/tasks", params))

    def tasks_in_space(
        self,
        space_id: str,
        *,
        updated_since: datetime | str | None = None,
        subtasks: bool = True,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        params = self._task_params(updated_since, fields, descendants=True, subtasks=subtasks)
        return latest_versions(self.iter_tasks(f"/spaces/{space_id}/tasks", params))

    def tasks_in_folders(
        self,
        folder_ids: Iterable[str],
        *,
        updated_since: datetime | str | None = None,
        fields: Iterable[str] = TASK_FIELDS,
    ) -> list[dict]:
        """Tasks of several folders/projects; a task in two of them (or in a subfolder) appears once."""
        merged: list[dict] = []
        for folder_id in dict.fromkeys(folder_ids):
            merged += self.tasks_in_folder(folder_id, updated_since=updated_since, fields=fields)
        return latest_versions(merged)

    def recycled_tasks(
        self, *, updated_since: datetime | str | None = None, fields: Iterable[str] = TASK_FIELDS
    ) -> list[dict]:
        """Tasks in the Recycle Bin (``scope: RbTask``), so deletions reach Cascade as archives."""
        params = self._task_params(updated_since, fields, descendants=True, subtasks=True)
        return latest_versions(self.iter_tasks(f"/folders/{self.recycle_bin_id()}/tasks", params))

    def recycle_bin_id(self) -> str:
        if self._recycle_bin_id is None:
            account = self.account()
            self._recycle_bin_id = account.get("recycleBinId") or next(
                f["id"] for f in self.folder_tree() if f.get("scope") == "RbRoot"
            )
        return self._recycle_bin_id

    def tasks(self, ids: Iterable[str], *, fields: Iterable[str] = ()) -> list[dict]:
        """Tasks by id with all standard fields, 100 ids a call."""
        out: list[dict] = []
        extra = {"fields": json.dumps(list(fields))} if fields else None
        for chunk in _chunks(list(dict.fromkeys(ids))):
            out += self._data(self.get(f"/tasks/{','.join(chunk)}", extra))
        return out

    def custom_fields(self) -> list[dict]:
        return self._data(self.get("/customfields"), "custom field")

    def custom_field_ids(self) -> dict[str, str]:
        """Custom field title -> id (for titles used by one field only; see custom_field_id)."""
        by_title: dict[str, list[str]] = {}
        for definition in self.custom_fields():
            by_title.setdefault(definition["title"], []).append(definition["id"])
        return {title: ids[0] for title, ids in by_title.items() if len(ids) == 1}

    def custom_field_id(self, title: str, *, space_id: str | None = None) -> str:
        """The id of the custom field called ``title`` (account-wide, or in ``space_id``)."""
        matches = [
            f
            for f in self.custom_fields()
            if f["title"] == title and (space_id is None or f.get("spaceId") in (None, space_id))
        ]
        if len(matches) == 1:
            return matches[0]["id"]
        if not matches:
            raise WrikeApiError(
                f"workspace '{self.workspace}': Wrike has no custom field named '{title}'; create a "
                "Text custom field with that name (Account Management > Custom fields) or name "
                "another one in the workspace config (cascade_id_field)",
                code="custom_field_missing",
                workspace=self.workspace,
            )
        raise WrikeApiError(
            f"workspace '{self.workspace}': {len(matches)} Wrike custom fields are named '{title}' "
            f"({', '.join(f['id'] for f in matches)}); rename all but one",
            code="custom_field_ambiguous",
            workspace=self.workspace,
        )

    def contacts(self) -> list[dict]:
        return self._data(self.get("/contacts"))

    def workflows(self) -> list[dict]:
        return self._data(self.get("/workflows"), "workflow")

    # --- writes ------------------------------------------------------------------------------------
    def set_custom_field(self, task_id: str, field_id: str, value: str | None) -> dict:
        """Set (or with None clear) one custom field of a task; returns the updated task."""
        entry = {"id": field_id, "value": value}
        answer = self.request("PUT", f"/tasks/{task_id}", data={"customFields": json.dumps([entry])})
        return self._data(answer)[0]

    def set_folder_custom_field(self, folder_id: str, field_id: str, value: str | None) -> dict:
        """Set (or with None clear) one custom field of a folder or project; returns the updated folder."""
        entry = {"id": field_id, "value": value}
        answer = self.request("PUT", f"/folders/{folder_id}", data={"customFields": json.dumps([entry])})
        return self._data(answer)[0]

    def create_webhook(
        self,
        hook_url: str,
        *,
        folder_id: str | None = None,
        space_id: str | None = None,
        secret: str | None = None,
        events: Iterable[str] | None = None,
        recursive: bool = False,
    ) -> dict:
        """Register a webhook on a folder, a space or (neither given) the whole account."""
        if folder_id and space_id:
            raise ValueError("a webhook watches a folder or a space, not both")
        path = (
            f"/folders/{folder_id}/webhooks"
            if folder_id
            else f"/spaces/{space_id}/webhooks"
            if space_id
            else "/webhooks"
        )
        form: dict[str, str] = {"hookUrl": hook_url}
        if secret:
            form["secret"] = secret
        if events is not None:
            form["events"] = "[" + ",".join(events) + "]"
        if folder_id and recursive:
            form["recursive"] = "true"
        return self._data(self.request("POST", path, data=form))[0]

    def webhooks(self) -> list[dict]:
        return self._data(self.get("/webhooks"))

    def set_webhook_status(self, webhook_id: str, status: str) -> dict:
        return self._data(self.request("PUT", f"/webhooks/{webhook_id}", params={"status": status}))[0]

    def delete_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/webhooks/{webhook_id}")

    # --- internals ---------------------------------------------------------------------------------
    def _task_params(
        self, updated_since: datetime | str | None, fields: Iterable[str], *, descendants: bool, subtasks: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"descendants": _flag(descendants), "subTasks": _flag(subtasks)}
        fields = list(fields)
        if fields:
            params["fields"] = json.dumps(fields)
        if updated_since is not None:
            since = updated_since if isinstance(updated_since, datetime) else _parse(updated_since)
            params["updatedDate"] = json.dumps({"start": wrike_timestamp(since - self.overlap)})
        return params


def latest_versions(tasks: Iterable[dict]) -> list[dict]:
    """One entry per id, the most recently updated version winning (an unreadable ``updatedDate`` counts as
    oldest); first-seen order kept. Entries without a usable id pass through untouched, for the extract to
    report and leave out."""
    by_id: dict[str, dict] = {}
    unusable: list = []
    oldest = datetime.min
    for task in tasks:
        identity = item_id(task.get("id")) if isinstance(task, dict) else None
        if identity is None:
            unusable.append(task)
            continue
        current = by_id.get(identity)
        if current is None or (wrike_time(task.get("updatedDate")) or oldest) >= (
            wrike_time(current.get("updatedDate")) or oldest
        ):
            by_id[identity] = task
    return list(by_id.values()) + unusable


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
