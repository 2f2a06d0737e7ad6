"""A deterministic generator of realistic ClickUp accounts for the sandbox.

Same arguments give byte-identical data: every choice comes from one ``random.Random(seed)`` and
every timestamp from a fixed base epoch, never the wall clock. ID shapes follow real ClickUp data
(source-apis.md A1): numeric-string ids for teams, spaces, folders and lists, int user ids, short
lowercase task ids, UUID custom field ids and ``sc<list_id>_<random>`` status ids.

This module assembles the account (Workspaces, spaces, folders, lists, tasks); the ids, people and
custom field values come from ``builder.py``, the word pools from ``names.py``.
"""

from __future__ import annotations

import random

from . import names
from .builder import BASE_EPOCH_MS, DAY, HOUR, Ids, People, cycle_name, make_fields, make_values, pick_count
from .model import Checklist, ChecklistItem, ClickUpDataset, Folder, Space, Status, Task, TaskList, Team
from .truth import expected_staging

__all__ = ["BASE_EPOCH_MS", "generate", "expected_staging"]


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
    ids = Ids(rng)
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
    people = People(rng, ids)
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


def _make_team(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: Ids,
    people: People,
    index: int,
    first_team_id: int,
    users_per_team: int,
) -> Team:
    team_id = str(first_team_id + index)
    company = cycle_name(names.COMPANIES, index).replace(" ", "")
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
        name=cycle_name(names.WORKSPACE_NAMES, index),
        color=rng.choice(names.SPACE_COLORS),
        avatar=None,
        member_ids=members,
    )
    ds.teams[team_id] = team
    return team


def _make_space(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: Ids,
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
        name=cycle_name(names.SPACE_NAMES, index),
        color=rng.choice(names.SPACE_COLORS),
        private=False,
        statuses=statuses,
        hidden_folder_id=ids.numeric("9011", 7),
    )
    space.field_ids = make_fields(ds, ids, BASE_EPOCH_MS - rng.randrange(30, 400) * DAY)
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
            name=cycle_name(names.FOLDER_NAMES, index * folders_per_space + f),
            orderindex=f,
        )
        for i in range(lists_per_folder):
            folder.list_ids.append(new_list(folder.id, cycle_name(names.LIST_NAMES, list_counter), i))
            list_counter += 1
        ds.folders[folder.id] = folder
        space.folder_ids.append(folder.id)
    for i in range(folderless):
        name = cycle_name(names.FOLDERLESS_LIST_NAMES, index * folderless + i)
        space.folderless_list_ids.append(new_list(None, name, i))


def _make_tasks(
    ds: ClickUpDataset,
    rng: random.Random,
    ids: Ids,
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
    subtasks = pick_count(rng, list(range(1, count)), subtask_ratio)
    top_level = [i for i in range(count) if i not in subtasks]
    milestones = pick_count(rng, top_level, milestone_ratio)
    closed = pick_count(rng, list(range(count)), closed_ratio)
    archived = pick_count(rng, list(range(count)), archived_ratio)
    multi_list = pick_count(rng, top_level, multi_list_ratio)
    with_cascade_id = pick_count(rng, list(range(count)), cascade_id_ratio)
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
        task.values = make_values(ds, rng, team, space, company, task)
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
    ids: Ids,
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
