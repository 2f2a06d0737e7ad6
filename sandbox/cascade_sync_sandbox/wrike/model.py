"""A Wrike account in memory: :class:`WrikeDataset` holds the API models (plain dicts) of one
account, with the timestamp formats they use; :class:`AccountIndex` is the emulator's live state
around it (lookups by id, the folder tree, access checks and the task sets queries start from)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cascade_sync_sandbox.wrike.protocol import ApiError

# Optional task fields: absent from query results unless asked for with ``fields``.
TASK_OPTIONAL_FIELDS = (
    "description",
    "briefDescription",
    "parentIds",
    "superParentIds",
    "sharedIds",
    "responsibleIds",
    "authorIds",
    "hasAttachments",
    "attachmentCount",
    "recurrent",
    "superTaskIds",
    "subTaskIds",
    "dependencyIds",
    "metadata",
    "customFields",
)


def wrike_time(dt: datetime) -> str:
    """Wrike's UTC timestamp format, ``yyyy-MM-dd'T'HH:mm:ss'Z'``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_wrike_datetime(value: str | None) -> datetime | None:
    """Any Wrike date or timestamp as a naive UTC datetime (date-only means midnight)."""
    if not value:
        return None
    text = value.rstrip("Z")
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d")
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")


def brief_description(description: str) -> str:
    """Wrike's ``briefDescription``: the description as plain text, at most 250 characters."""
    return " ".join(re.sub(r"<[^>]+>", " ", description).split())[:250]


@dataclass(repr=False)
class WrikeDataset:
    """One Wrike account as the API returns it; lists hold the full API models."""

    seed: int
    account_id: str
    host: str
    base_time: datetime
    permanent_token: str
    oauth_client_id: str
    oauth_client_secret: str
    spaces: list[dict] = field(default_factory=list)
    folders: list[dict] = field(default_factory=list)  # plain folders and projects, full models
    tasks: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    workflows: list[dict] = field(default_factory=list)
    custom_fields: list[dict] = field(default_factory=list)

    @property
    def root_id(self) -> str:
        return f"{self.account_id}I7777777"

    @property
    def recycle_bin_id(self) -> str:
        return f"{self.account_id}I7777776"

    @property
    def me(self) -> dict:
        return next(c for c in self.contacts if c.get("me"))

    @property
    def projects(self) -> list[dict]:
        return [f for f in self.folders if "project" in f]

    def task(self, task_id: str) -> dict:
        return next(t for t in self.tasks if t["id"] == task_id)

    def folder(self, folder_id: str) -> dict:
        return next(f for f in self.folders if f["id"] == folder_id)

    def custom_field(self, title: str) -> dict:
        return next(f for f in self.custom_fields if f["title"] == title)

    def copy(self) -> WrikeDataset:
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return (
            f"WrikeDataset(seed={self.seed}, account_id='{self.account_id}', spaces={len(self.spaces)}, "
            f"folders={len(self.folders)}, tasks={len(self.tasks)}, contacts={len(self.contacts)})"
        )


class AccountIndex:
    """The emulator's indexes over its live :class:`WrikeDataset` and the lookups built on them.

    A mixin of :class:`~cascade_sync_sandbox.wrike.app.WrikeEmulator`, which owns ``dataset``
    and ``denied`` and calls :meth:`_reindex` once the dataset is in place."""

    dataset: WrikeDataset
    denied: dict[str, str]

    def _reindex(self) -> None:
        ds = self.dataset
        self.tasks_by_id = {t["id"]: t for t in ds.tasks}
        self.folders_by_id = {f["id"]: f for f in ds.folders}
        self.spaces_by_id = {s["id"]: s for s in ds.spaces}
        self.workflows_by_id = {w["id"]: w for w in ds.workflows}
        self.statuses_by_id = {s["id"]: s for w in ds.workflows for s in w["customStatuses"]}
        self.fields_by_id = {f["id"]: f for f in ds.custom_fields}
        self.children: dict[str, list[str]] = {}
        for folder in ds.folders:
            for parent in folder["parentIds"]:
                self.children.setdefault(parent, []).append(folder["id"])

    def subtree(self, folder_id: str, descendants: bool = True) -> set[str]:
        """The folder (or space) id and, with ``descendants``, every folder below it."""
        found = {folder_id}
        frontier = [folder_id] if descendants else []
        while frontier:
            frontier = [c for f in frontier for c in self.children.get(f, []) if c not in found]
            found.update(frontier)
        return found

    def listed_folders(self, parent_id: str, descendants: bool) -> set[str]:
        """Folders a folder listing shows below ``parent_id``: its subtree or its direct children."""
        if descendants:
            return self.subtree(parent_id) - {parent_id}
        return set(self.children.get(parent_id, []))

    def space_of(self, folder_id: str) -> str | None:
        seen = set()
        current = folder_id
        while current not in self.spaces_by_id:
            folder = self.folders_by_id.get(current)
            if folder is None or not folder["parentIds"] or current in seen:
                return None
            seen.add(current)
            current = folder["parentIds"][0]
        return current

    def workflow_of(self, task: dict) -> dict:
        for parent in task.get("parentIds", []):
            folder = self.folders_by_id.get(parent)
            if folder and folder.get("workflowId") in self.workflows_by_id:
                return self.workflows_by_id[folder["workflowId"]]
        for super_id in task.get("superTaskIds", []):
            if super_id in self.tasks_by_id:
                return self.workflow_of(self.tasks_by_id[super_id])
        return next(w for w in self.dataset.workflows if w["standard"])

    def _check_access(self, *entity_ids: str) -> None:
        for entity_id in entity_ids:
            code = self.denied.get(entity_id)
            if code:
                raise ApiError(
                    403,
                    code,
                    f"Access to '{entity_id}' is forbidden for this user"
                    if code == "access_forbidden"
                    else f"Operation on '{entity_id}' is not allowed for this user (license or quota)",
                )

    def _folder(self, folder_id: str) -> dict:
        folder = self.folders_by_id.get(folder_id)
        if folder is None:
            raise ApiError(404, "resource_not_found", f"Folder '{folder_id}' not found")
        self._check_access(folder_id)
        return folder

    def _space(self, space_id: str) -> dict:
        space = self.spaces_by_id.get(space_id)
        if space is None:
            raise ApiError(404, "resource_not_found", f"Space '{space_id}' not found")
        self._check_access(space_id)
        return space

    def _task(self, task_id: str) -> dict:
        task = self.tasks_by_id.get(task_id)
        if task is None:
            raise ApiError(404, "resource_not_found", f"Task '{task_id}' not found")
        self._check_access(task_id, *task.get("parentIds", []))
        return task

    def _task_for_change(self, task_id: str) -> dict:
        task = self.tasks_by_id.get(task_id)
        if task is None:
            raise ApiError(404, "resource_not_found", f"Task '{task_id}' not found")
        return task

    def _ancestors(self, folder_id: str) -> set[str]:
        found = {folder_id}
        current = self.folders_by_id.get(folder_id)
        while current and current["parentIds"] and current["parentIds"][0] not in found:
            found.add(current["parentIds"][0])
            current = self.folders_by_id.get(current["parentIds"][0])
        return found

    # --- the task sets queries start from --------------------------------------------------------
    def _tasks_in(self, folder_ids: set[str], subtasks: bool) -> list[dict]:
        base = [t for t in self.dataset.tasks if t["scope"] == "WsTask" and folder_ids.intersection(t["parentIds"])]
        return self._with_subtasks(base, subtasks)

    def _with_subtasks(self, tasks: list[dict], subtasks: bool) -> list[dict]:
        if not subtasks:
            return [t for t in tasks if not t["superTaskIds"]]
        seen = {t["id"] for t in tasks}
        out = list(tasks)
        frontier = tasks
        while frontier:
            nxt = []
            for task in frontier:
                for sub_id in task["subTaskIds"]:
                    sub = self.tasks_by_id.get(sub_id)
                    if sub is not None and sub_id not in seen and sub["scope"] == "WsTask":
                        seen.add(sub_id)
                        nxt.append(sub)
            out += nxt
            frontier = nxt
        return out
