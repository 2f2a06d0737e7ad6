"""A deterministic generator of realistic ClickUp accounts for the sandbox.

Same arguments give byte-identical data: every choice comes from one ``random.Random(seed)`` and
every timestamp from a fixed base epoch, never the wall clock. ID shapes follow real ClickUp data
(source-apis.md A1): numeric-string ids for teams, spaces, folders and lists, int user ids, short
lowercase task ids, UUID custom field ids and ``sc<list_id>_<random>`` status ids.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from . import names
from .model import (
    Checklist,
    ChecklistItem,
    ClickUpDataset,
    CustomField,
    Folder,
    Space,
    Status,
    Task,
    TaskList,
    Team,
    User,
)
from .truth import expected_staging

__all__ = ["BASE_EPOCH_MS", "generate", "expected_staging"]

BASE_EPOCH_MS = 1_736_154_000_000  # 2025-01-06T09:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR

_TASK_ID_CHARS = string.digits + string.ascii_lowercase


class _Ids:
    """Unique, realistic-looking ids drawn from the generator's random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def numeric(self, prefix: str, digits: int) -> str:
        return self._unique(lambda: prefix + "".join(self.rng.choices(string.digits, k=digits)))

    def task(self) -> str:
        return self._unique(lambda: "86" + "".join(self.rng.choices(_TASK_ID_CHARS, k=7)))

    def user(self) -> int:
        return int(self._unique(lambda: str(self.rng.randrange(10_000_000, 99_999_999))))

    def uuid(self) -> str:
        return self._unique(lambda: str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))

    def status(self, list_id: str) -> str:
        return self._unique(
            lambda: f"sc{list_id}_" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=8))
        )


def _pick_count(rng: random.Random, population: list[int], ratio: float) -> set[int]:
    count = min(len(population), round(len(population) * ratio))
    return set(rng.sample(population, count))


def _cycle_name(pool: tuple[str, ...], index: int) -> str:
    base = pool[index % len(pool)]
    return base if index < len(pool) else f"{base} {index // len(pool) + 1}"


def generate(
    seed: int = 1,
    *,
    teams: int = 1,
    tasks_per_team: int = 300,
    users_per_team: int = 12,
    spaces_per_team: int = 2,
    folders_per_space: int = 2,
    lists_per_folder: int = 2,
    folderless_lists_per_space: int = 1,
    subtask_ratio: float = 0.2,
    milestone_ratio: float = 0.03,
    closed_ratio: float = 0.2,
    archived_ratio: float = 0.05,
    multi_list_ratio: float = 0.05,
    cascade_id_ratio: float = 0.1,
    first_team_id: int = 9010099710,
) -> ClickUpDataset:
    """Build a ClickUp account: ``teams`` Workspaces, each with its members, hierarchy and tasks.

    The ratios are exact shares of each team's tasks (rounded). One owner belongs to every
    Workspace; ``dataset.admin_token`` is that owner's personal token with every team granted.
    """
    if lists_per_folder * folders_per_space + folderless_lists_per_space < 1:
        raise ValueError("every space needs at least one list to hold tasks")
    rng = random.Random(seed)
    ids = _Ids(rng)
    ds = ClickUpDataset(
        seed=seed,
        users={},
        teams={},
        spaces={},
        folders={},
        lists={},
        fields={},
        tasks={},
        admin_user_id=0,
        _token_rng=random.Random(f"clickup-tokens:{seed}"),
    )
    people = _People(rng, ids)
    for t in range(teams):
        team = _make_team(ds, rng, ids, people, t, first_team_id, users_per_team)
        for s in range(spaces_per_team):
            _make_space(
                ds,
                rng,
                ids,
                team,
                t * spaces_per_team + s,
                folders_per_space,
                lists_per_folder,
                folderless_lists_per_space,
            )
        _make_tasks(
            ds,
            rng,
            ids,
            team,
            people.company_of(team.id),
            tasks_per_team,
            subtask_ratio,
            milestone_ratio,
            closed_ratio,
            archived_ratio,
            multi_list_ratio,
            cascade_id_ratio,
        )
    ds.admin_token = ds.grant(list(ds.teams))
    return ds


class _People:
    """Unique people; the first one created is the owner who belongs to every Workspace."""

    def __init__(self, rng: random.Random, ids: _Ids) -> None:
        self.rng, self.ids = rng, ids
        self.combos = [(first, last) for first in names.FIRST_NAMES for last in names.LAST_NAMES]
        rng.shuffle(self.combos)
        self.count = 0
        self.companies: dict[str, str] = {}

    def company_of(self, team_id: str) -> str:
        return self.companies[team_id]

    def make(self, company: str) -> User:
        first, last = self.combos[self.count % len(self.combos)]
        suffix = "" if self.count < len(self.combos) else str(self.count // len(self.combos) + 1)
        index, self.count = self.count, self.count + 1
        user_id = self.ids.user()
        local = f"{first}.{last}{suffix}".lower().replace("'", "")
        picture = (
            None
            if index % 3 == 0
            else f"https://attachments.clickup.com/profilePictures/{user_id}_{self.rng.randrange(100, 999)}.jpg"
        )
        return User(
            id=user_id,
            username=f"{first} {last}{suffix}",
            email=f"{local}@{company}.com",
            color=self.rng.choice(names.USER_COLORS),
            initials=(first[0] + last[0]).upper(),
            profile_picture=picture,
        )


def _make_team(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: _Ids,
    people: _People,
    index: int,
    first_team_id: int,
    users_per_team: int,
) -> Team:
    team_id = str(first_team_id + index)
    company = _cycle_name(names.COMPANIES, index).replace(" ", "")
    people.companies[team_id] = company
    members: list[int] = []
    if index == 0:
        owner = people.make(company)
        ds.users[owner.id] = owner
        ds.admin_user_id = owner.id
    members.append(ds.admin_user_id)
    while len(members) < max(users_per_team, 1):
        user = people.make(company)
        ds.users[user.id] = user
        members.append(user.id)
    team = Team(
        id=team_id,
        name=_cycle_name(names.WORKSPACE_NAMES, index),
        color=rng.choice(names.SPACE_COLORS),
        avatar=None,
        member_ids=members,
    )
    ds.teams[team_id] = team
    return team


def _make_fields(ds: ClickUpDataset, ids: _Ids, created: int) -> list[str]:
    def options(pool, label_key: str) -> list[dict[str, Any]]:
        out = []
        for i, (name, color) in enumerate(pool):
            option = {"id": ids.uuid(), label_key: name, "color": color, "orderindex": i}
            out.append(option)
        return out

    specs = [
        (
            "Priority Tier",
            "drop_down",
            {
                "sorting": "manual",
                "placeholder": None,
                "new_drop_down": True,
                "options": options(names.DROP_DOWN_OPTIONS, "name"),
            },
        ),
        ("Teams", "labels", {"options": options(names.LABEL_OPTIONS, "label")}),
        ("Story Points", "number", {}),
        ("Budget", "currency", {"precision": 2, "currency_type": "USD"}),
        ("Target Date", "date", {}),
        ("Customer Facing", "checkbox", {}),
        ("Notes", "text", {}),
        ("Spec Link", "url", {}),
        (
            "Reviewers",
            "users",
            {"single_user": False, "include_groups": False, "include_guests": True, "include_team_members": True},
        ),
        ("Progress", "manual_progress", {"start": 0, "end": 100}),
        ("Cascade ID", "short_text", {}),
    ]
    out = []
    for i, (name, kind, config) in enumerate(specs):
        cf = CustomField(id=ids.uuid(), name=name, type=kind, type_config=config, date_created=created + i * 611)
        ds.fields[cf.id] = cf
        out.append(cf.id)
    return out


def _make_space(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: _Ids,
    team: Team,
    index: int,
    folders_per_space: int,
    lists_per_folder: int,
    folderless: int,
) -> None:
    scheme = names.STATUS_SCHEMES[index % len(names.STATUS_SCHEMES)]
    statuses = [Status(name, kind, color, i) for i, (name, kind, color) in enumerate(scheme)]
    space = Space(
        id=ids.numeric("9010", 7),
        team_id=team.id,
        name=_cycle_name(names.SPACE_NAMES, index),
        color=rng.choice(names.SPACE_COLORS),
        private=False,
        statuses=statuses,
        hidden_folder_id=ids.numeric("9011", 7),
    )
    space.field_ids = _make_fields(ds, ids, BASE_EPOCH_MS - rng.randrange(30, 400) * DAY)
    ds.spaces[space.id] = space
    team.space_ids.append(space.id)

    def new_list(folder_id: str | None, name: str, orderindex: int) -> str:
        list_id = ids.numeric("9011", 8)
        content = rng.choice(("", "Owned by the team lead. Triage every Monday.", "Tasks for this quarter."))
        due = BASE_EPOCH_MS + rng.randrange(60, 400) * DAY
        ds.lists[list_id] = TaskList(
            id=list_id,
            space_id=space.id,
            folder_id=folder_id,
            name=name,
            orderindex=orderindex,
            content=content,
            due_date=due,
            status_ids={s.name: ids.status(list_id) for s in statuses},
        )
        return list_id

    list_counter = index * (folders_per_space * lists_per_folder + folderless)
    for f in range(folders_per_space):
        folder = Folder(
            id=ids.numeric("9011", 7),
            space_id=space.id,
            name=_cycle_name(names.FOLDER_NAMES, index * folders_per_space + f),
            orderindex=f,
        )
        for i in range(lists_per_folder):
            folder.list_ids.append(new_list(folder.id, _cycle_name(names.LIST_NAMES, list_counter), i))
            list_counter += 1
        ds.folders[folder.id] = folder
        space.folder_ids.append(folder.id)
    for i in range(folderless):
        name = _cycle_name(names.FOLDERLESS_LIST_NAMES, index * folderless + i)
        space.folderless_list_ids.append(new_list(None, name, i))


def _make_tasks(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: _Ids,
    team: Team,
    company: str,
    count: int,
    subtask_ratio: float,
    milestone_ratio: float,
    closed_ratio: float,
    archived_ratio: float,
    multi_list_ratio: float,
    cascade_id_ratio: float,
) -> None:
    all_lists = ds.team_list_ids(team.id)
    created_times = sorted(BASE_EPOCH_MS + rng.randrange(0, 300 * DAY) for _ in range(count))
    subtasks = _pick_count(rng, list(range(1, count)), subtask_ratio)
    top_level = [i for i in range(count) if i not in subtasks]
    milestones = _pick_count(rng, top_level, milestone_ratio)
    closed = _pick_count(rng, list(range(count)), closed_ratio)
    archived = _pick_count(rng, list(range(count)), archived_ratio)
    multi_list = _pick_count(rng, top_level, multi_list_ratio)
    with_cascade_id = _pick_count(rng, list(range(count)), cascade_id_ratio)
    cascade_ids: set[str] = set()
    made: list[Task] = []
    for i, created in enumerate(created_times):
        parent = None
        if i in subtasks:
            parent = made[rng.randrange(i)]
        list_id = parent.list_id if parent else rng.choice(all_lists)
        space = ds.spaces[ds.lists[list_id].space_id]
        task = _make_task(
            rng, ids, team, space, list_id, created, parent, milestone=i in milestones, closed=i in closed
        )
        task.archived = i in archived
        if i in multi_list:
            siblings = [x for x in all_lists if x != list_id and ds.lists[x].space_id == space.id]
            if siblings:
                task.other_list_ids = rng.sample(siblings, min(len(siblings), rng.choice((1, 1, 2))))
        task.values = _make_values(ds, rng, team, space, company, task)
        if i in with_cascade_id:
            field_id = next(f for f in space.field_ids if ds.fields[f].name == "Cascade ID")
            while True:
                value = f"act-{rng.randrange(10_000, 100_000)}"
                if value not in cascade_ids:
                    break
            cascade_ids.add(value)
            task.values[field_id] = value
        ds.tasks[task.id] = task
        made.append(task)


def _make_task(
    rng: random.Random,
    ids: _Ids,
    team: Team,
    space: Space,
    list_id: str,
    created: int,
    parent: Task | None,
    *,
    milestone: bool,
    closed: bool,
) -> Task:
    if closed:
        status = rng.choice([s for s in space.statuses if s.type == "closed"])
    else:
        open_like = [s for s in space.statuses if s.type != "closed"]
        status = rng.choices(open_like, weights=[35, 30, 12, 8, 15][: len(open_like)])[0]
    updated = created + rng.randrange(0, 40 * DAY)
    date_done = date_closed = None
    if status.type in ("done", "closed"):
        date_done = created + rng.randrange(DAY // 2, 30 * DAY)
        date_closed = date_done if status.type == "closed" else None
        updated = max(updated, date_done + rng.randrange(0, DAY))
    start = due = None
    if rng.random() < 0.4:
        start = (created + rng.randrange(0, 10 * DAY)) // 60_000 * 60_000
    if rng.random() < 0.6:
        due = ((start or created) + rng.randrange(3 * DAY, 45 * DAY)) // 60_000 * 60_000
    creator = rng.choice(team.member_ids)
    assignees = rng.sample(
        team.member_ids, min(len(team.member_ids), rng.choices((0, 1, 2, 3), weights=(15, 55, 22, 8))[0])
    )
    watchers = list(dict.fromkeys([creator, *assignees]))
    obj = rng.choice(names.TASK_OBJECTS)
    if milestone:
        name = f"Milestone: {obj[0].upper()}{obj[1:]} live"
    elif parent:
        name = rng.choice(names.SUBTASK_NAMES)
    else:
        name = f"{rng.choice(names.TASK_VERBS)} {obj}"
    task_id = ids.task()
    checklists = []
    if rng.random() < 0.15:
        items = [
            ChecklistItem(
                id=ids.uuid(),
                name=item,
                orderindex=k,
                resolved=status.type in ("done", "closed") or rng.random() < 0.3,
                date_created=created + k * 1000,
            )
            for k, item in enumerate(rng.sample(names.CHECKLIST_ITEMS, rng.randint(2, 5)))
        ]
        checklists.append(
            Checklist(
                id=ids.uuid(),
                name="Checklist",
                orderindex=0,
                creator_id=creator,
                date_created=created + 500,
                items=items,
            )
        )
    return Task(
        id=task_id,
        team_id=team.id,
        list_id=list_id,
        name=name,
        text_content=rng.choice(names.DESCRIPTIONS) if rng.random() < 0.6 else "",
        status=status.name,
        orderindex=f"{rng.randrange(1_000_000, 999_999_999)}.{'0' * 32}",
        date_created=created,
        date_updated=updated,
        date_closed=date_closed,
        date_done=date_done,
        archived=False,
        creator_id=creator,
        assignee_ids=assignees,
        watcher_ids=watchers,
        tags=sorted(rng.sample([t[0] for t in names.TAGS], rng.randint(1, 2))) if rng.random() < 0.3 else [],
        checklists=checklists,
        parent=parent.id if parent else None,
        top_level_parent=(parent.top_level_parent or parent.id) if parent else None,
        custom_item_id=1 if milestone else 0,
        priority=None if rng.random() < 0.5 else rng.choices((1, 2, 3, 4), weights=(1, 3, 5, 2))[0],
        due_date=due,
        start_date=start,
        points=rng.choice((1, 2, 3, 5, 8)) if rng.random() < 0.15 else None,
        time_estimate=rng.choice((1, 2, 3, 4, 8, 16)) * HOUR if rng.random() < 0.2 else None,
        time_spent=rng.randrange(1, 40) * 15 * 60_000 if rng.random() < 0.25 else None,
        values={},
    )


_FILL_RATES = {
    "drop_down": 0.6,
    "labels": 0.4,
    "number": 0.5,
    "currency": 0.3,
    "date": 0.3,
    "checkbox": 0.5,
    "text": 0.3,
    "url": 0.2,
    "users": 0.3,
    "manual_progress": 0.4,
}


def _make_values(
    ds: ClickUpDataset, rng: random.Random, team: Team, space: Space, company: str, task: Task
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field_id in space.field_ids:
        cf = ds.fields[field_id]
        if rng.random() >= _FILL_RATES.get(cf.type, 0.0):
            continue
        kind = cf.type
        if kind == "drop_down":
            values[field_id] = rng.randrange(len(cf.type_config["options"]))
        elif kind == "labels":
            picked = rng.sample(cf.type_config["options"], rng.randint(1, 3))
            values[field_id] = [o["id"] for o in picked]
        elif kind == "number":
            values[field_id] = rng.choice((1, 2, 3, 5, 8, 13, 0.5, 2.5))
        elif kind == "currency":
            amount = rng.randrange(20, 2000) * 25
            values[field_id] = amount + 0.5 if rng.random() < 0.3 else amount
        elif kind == "date":
            values[field_id] = str((task.date_created + rng.randrange(7, 120) * DAY) // DAY * DAY)
        elif kind == "checkbox":
            values[field_id] = rng.choice(("true", "false"))
        elif kind == "text":
            values[field_id] = rng.choice(names.DESCRIPTIONS)
        elif kind == "url":
            values[field_id] = f"https://docs.{company}.com/specs/{task.id}"
        elif kind == "users":
            values[field_id] = rng.sample(team.member_ids, rng.randint(1, 2))
        elif kind == "manual_progress":
            current = rng.randrange(0, 101, 10)
            values[field_id] = {"current": current, "percent_completed": current}
    return values
