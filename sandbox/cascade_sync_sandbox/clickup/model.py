"""The ClickUp sandbox's data model: plain dataclasses the generator fills and the emulator serves.

Timestamps are int milliseconds since the epoch here and become ms strings only in API JSON.
Custom field values are stored in the shape ClickUp returns them on GET (drop_down: option
orderindex; labels: option ids; date: ms string; checkbox: "true"/"false"; manual_progress:
``{"current", "percent_completed"}``), except ``users`` fields, stored as a list of user ids.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class User:
    id: int
    username: str
    email: str
    color: str
    initials: str
    profile_picture: str | None


@dataclass
class Status:
    name: str
    type: str  # open | custom | done | closed
    color: str
    orderindex: int


@dataclass
class Team:
    id: str
    name: str
    color: str
    avatar: str | None
    member_ids: list[int]
    space_ids: list[str] = field(default_factory=list)


@dataclass
class Space:
    id: str
    team_id: str
    name: str
    color: str
    private: bool
    statuses: list[Status]
    hidden_folder_id: str  # the placeholder folder that holds folderless lists
    folder_ids: list[str] = field(default_factory=list)
    folderless_list_ids: list[str] = field(default_factory=list)
    field_ids: list[str] = field(default_factory=list)
    archived: bool = False


@dataclass
class Folder:
    id: str
    space_id: str
    name: str
    orderindex: int
    list_ids: list[str] = field(default_factory=list)
    hidden: bool = False
    archived: bool = False


@dataclass
class TaskList:
    id: str
    space_id: str
    folder_id: str | None  # None for a folderless list
    name: str
    orderindex: int
    content: str
    due_date: int | None
    status_ids: dict[str, str]  # status name -> "sc<list_id>_<random>"
    archived: bool = False


@dataclass
class CustomField:
    id: str
    name: str
    type: str
    type_config: dict[str, Any]
    date_created: int
    hide_from_guests: bool = False
    required: bool = False


@dataclass
class ChecklistItem:
    id: str
    name: str
    orderindex: int
    resolved: bool
    date_created: int


@dataclass
class Checklist:
    id: str
    name: str
    orderindex: int
    creator_id: int
    date_created: int
    items: list[ChecklistItem]


@dataclass
class Task:
    id: str
    team_id: str
    list_id: str  # the home list
    name: str
    text_content: str
    status: str  # a status name of the home list's space
    orderindex: str
    date_created: int
    date_updated: int
    date_closed: int | None
    date_done: int | None
    archived: bool
    creator_id: int
    assignee_ids: list[int]
    watcher_ids: list[int]
    tags: list[str]
    checklists: list[Checklist]
    parent: str | None
    top_level_parent: str | None
    custom_item_id: int  # 0 task, 1 milestone
    priority: int | None  # 1 urgent .. 4 low
    due_date: int | None
    start_date: int | None
    points: float | None
    time_estimate: int | None
    time_spent: int | None
    values: dict[str, Any]  # custom field id -> stored value (see module docstring)
    other_list_ids: list[str] = field(default_factory=list)  # Tasks in Multiple Lists


@dataclass
class TokenGrant:
    """What one API token may see: its user, the granted Workspaces, and lists withheld from it."""

    token: str
    user_id: int
    team_ids: set[str]
    denied_list_ids: set[str] = field(default_factory=set)
    oauth: bool = False
    revoked: bool = False


_ALNUM_UPPER = string.ascii_uppercase + string.digits


@dataclass
class ClickUpDataset:
    """Everything one sandbox ClickUp account holds, indexed by id (dicts keep generation order)."""

    seed: int
    users: dict[int, User]
    teams: dict[str, Team]
    spaces: dict[str, Space]
    folders: dict[str, Folder]
    lists: dict[str, TaskList]
    fields: dict[str, CustomField]
    tasks: dict[str, Task]
    admin_user_id: int
    grants: dict[str, TokenGrant] = field(default_factory=dict)
    admin_token: str = ""
    _token_rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def grant(
        self,
        team_ids: Iterable[str],
        denied_list_ids: Iterable[str] = (),
        *,
        user_id: int | None = None,
        oauth: bool = False,
    ) -> str:
        """Mint a token that sees only ``team_ids`` and none of ``denied_list_ids``.

        Personal tokens look like ``pk_<userid>_<32 uppercase alnum>`` and are sent raw; with
        ``oauth=True`` the token is ``<userid>_<64 hex>`` and is sent as ``Bearer <token>``.
        """
        user_id = self.admin_user_id if user_id is None else user_id
        teams = {str(t) for t in team_ids}
        unknown = teams - set(self.teams)
        if unknown:
            raise KeyError(f"unknown team ids: {sorted(unknown)}")
        if oauth:
            token = f"{user_id}_{self._token_rng.getrandbits(256):064x}"
        else:
            token = f"pk_{user_id}_" + "".join(self._token_rng.choices(_ALNUM_UPPER, k=32))
        self.grants[token] = TokenGrant(token, user_id, teams, {str(x) for x in denied_list_ids}, oauth)
        return token

    # Lookups the emulator and the ground truth share.
    def list_team(self, list_id: str) -> str:
        return self.spaces[self.lists[list_id].space_id].team_id

    def list_fields(self, list_id: str) -> list[CustomField]:
        return [self.fields[f] for f in self.spaces[self.lists[list_id].space_id].field_ids]

    def list_statuses(self, list_id: str) -> list[Status]:
        return self.spaces[self.lists[list_id].space_id].statuses

    def task_status(self, task: Task) -> Status:
        for status in self.list_statuses(task.list_id):
            if status.name == task.status:
                return status
        raise KeyError(f"task {task.id} has status {task.status!r}, unknown to list {task.list_id}")

    def team_list_ids(self, team_id: str) -> list[str]:
        out: list[str] = []
        for space_id in self.teams[team_id].space_ids:
            space = self.spaces[space_id]
            for folder_id in space.folder_ids:
                out.extend(self.folders[folder_id].list_ids)
            out.extend(space.folderless_list_ids)
        return out

    def newest_ms(self) -> int:
        """The latest timestamp anywhere in the data (the emulator's clock never goes below it)."""
        newest = 0
        for task in self.tasks.values():
            newest = max(newest, task.date_updated, task.date_closed or 0, task.date_done or 0)
        return newest

    def to_json(self) -> str:
        """A canonical serialization of the generated data, for determinism checks."""
        payload = {
            name: [asdict(v) for v in getattr(self, name).values()]
            for name in ("users", "teams", "spaces", "folders", "lists", "fields", "tasks")
        }
        payload["grants"] = [
            [g.token, g.user_id, sorted(g.team_ids), sorted(g.denied_list_ids)] for g in self.grants.values()
        ]
        return json.dumps(payload, sort_keys=True, default=sorted)
