"""A seeded Wrike account for the sandbox.

``generate(seed)`` builds a deterministic account (``random.Random(seed)``, a fixed base time, no
wall clock): spaces, a folder tree of plain folders and projects, tasks with subtasks,
milestones and Recycle Bin items, contacts, workflows with custom statuses, and custom fields of
the common types. Payload shapes follow the Wrike API v4 captures in the reference notes.

The building blocks (ids, contacts, workflows, custom fields) are in ``builder.py``, the word pools
in ``names.py``, the account model in ``model.py``. ``expected_staging(dataset, workspace)``, the
staging rows a correct sync must produce from an account, is in ``truth.py``; it is re-exported
here, where callers have always imported it from.
"""

from __future__ import annotations

from datetime import timedelta

from cascade_sync_sandbox.wrike.builder import BASE_TIME, HOST, Builder
from cascade_sync_sandbox.wrike.model import WrikeDataset, brief_description, parse_wrike_datetime, wrike_time
from cascade_sync_sandbox.wrike.names import (
    DEFAULT_WORKFLOW,
    DELIVERY_WORKFLOW,
    FOLDER_TITLES,
    NOTES,
    OBJECTS,
    PROJECT_STATUS,
    PROJECT_TITLES,
    PROJECT_WORKFLOW,
    SPACE_TITLES,
    VERBS,
)
from cascade_sync_sandbox.wrike.truth import expected_staging

__all__ = ["BASE_TIME", "WrikeDataset", "expected_staging", "generate", "parse_wrike_datetime"]


def generate(
    seed: int = 1,
    *,
    spaces: int = 2,
    projects_per_space: int = 4,
    folders_per_space: int = 1,
    tasks: int = 400,
    users: int = 12,
    subtask_ratio: float = 0.2,
    milestone_ratio: float = 0.05,
    recycled_ratio: float = 0.03,
    cascade_id_ratio: float = 0.1,
) -> WrikeDataset:
    """Build a deterministic Wrike account; the same arguments always give the same data."""
    if spaces < 1 or users < 1:
        raise ValueError("a Wrike sandbox needs at least one space and one user")
    if tasks and projects_per_space + folders_per_space < 1:
        raise ValueError("tasks need a folder or project to live in: raise projects_per_space or folders_per_space")
    b = Builder(seed)
    rng = b.rng
    ds = WrikeDataset(
        seed=seed,
        account_id=b.account,
        host=HOST,
        base_time=BASE_TIME,
        permanent_token=b.token("eyJ0dCI6InAiLCJhbGciOiJIUzI1NiIsInR2IjoiMSJ9.", 96),
        oauth_client_id=b.token("", 8),
        oauth_client_secret=b.token("", 64),
    )
    ds.contacts = b.contacts(users)
    people = [c["id"] for c in ds.contacts if c["type"] == "Person"]

    default_wf = b.workflow("Default Workflow", DEFAULT_WORKFLOW, standard=True, standard_ids=True)
    project_wf = b.workflow("Project Workflow", PROJECT_WORKFLOW)
    ds.workflows = [default_wf, project_wf]
    status_by_id = {s["id"]: s for s in default_wf["customStatuses"] + project_wf["customStatuses"]}

    containers: list[dict] = []
    for s in range(spaces):
        space_id = b.ids.entity("I5")
        delivery_wf = b.workflow(
            f"{SPACE_TITLES[s % len(SPACE_TITLES)]} Delivery", DELIVERY_WORKFLOW, space_id=space_id
        )
        ds.workflows.append(delivery_wf)
        status_by_id.update({st["id"]: st for st in delivery_wf["customStatuses"]})
        title = SPACE_TITLES[s % len(SPACE_TITLES)] + ("" if s < len(SPACE_TITLES) else f" {s}")
        ds.spaces.append(
            {
                "id": space_id,
                "title": title,
                "avatarUrl": f"https://{HOST}/static/spaceicons2/v3/6/6-planet.png",
                "accessType": "Public",
                "archived": False,
                "members": [
                    {"id": p, "accessRoleId": f"{b.account}ND777777", "isManager": i == 0} for i, p in enumerate(people)
                ],
                "guestRoleId": f"{b.account}ND777777",
                "defaultProjectWorkflowId": project_wf["id"],
                "defaultTaskWorkflowId": delivery_wf["id"],
            }
        )
        workflows = [delivery_wf, default_wf]
        plain = []
        for f in range(folders_per_space):
            plain.append(
                _folder(
                    b,
                    ds,
                    FOLDER_TITLES[f % len(FOLDER_TITLES)] + ("" if f < len(FOLDER_TITLES) else f" {f}"),
                    space_id,
                    workflows[f % 2]["id"],
                )
            )
        for p in range(projects_per_space):
            parent = plain[(p // 2) % len(plain)]["id"] if plain and p % 2 == 1 else space_id
            name = PROJECT_TITLES[(s * projects_per_space + p) % len(PROJECT_TITLES)]
            project = _folder(b, ds, name, parent, workflows[p % 2]["id"])
            created = project["createdDate"]
            pstatus = b.pick_status(project_wf)
            start = BASE_TIME + timedelta(days=rng.randint(-200, 30))
            end = start + timedelta(days=rng.randint(30, 240))
            project["project"] = {
                "authorId": people[0],
                "ownerIds": rng.sample(people, rng.randint(1, min(2, len(people)))),
                "status": PROJECT_STATUS[pstatus["name"]],
                "customStatusId": pstatus["id"],
                "startDate": start.strftime("%Y-%m-%d"),
                "endDate": end.strftime("%Y-%m-%d"),
                "createdDate": created,
            }
            if pstatus["group"] == "Completed":
                project["project"]["completedDate"] = project["updatedDate"]
        containers.extend(f for f in ds.folders if _space_of(ds, f) == space_id)
    _link_children(ds)

    ds.custom_fields = b.custom_fields([s["id"] for s in ds.spaces], people)
    workflow_by_id = {wf["id"]: wf for wf in ds.workflows}
    _make_tasks(
        b,
        ds,
        containers,
        workflow_by_id,
        people,
        tasks=tasks,
        subtask_ratio=subtask_ratio,
        milestone_ratio=milestone_ratio,
        recycled_ratio=recycled_ratio,
    )
    _set_custom_fields(b, ds, people, cascade_id_ratio)
    return ds


def _folder(b: Builder, ds: WrikeDataset, title: str, parent_id: str, workflow_id: str) -> dict:
    created = b.moment(420, 200)
    updated = b.between(created, BASE_TIME - timedelta(days=1))
    folder = {
        "id": b.ids.entity("I4"),
        "accountId": b.account,
        "title": title,
        "createdDate": wrike_time(created),
        "updatedDate": wrike_time(updated),
        "description": b.rng.choice(["", f"<p>Everything for {title}.</p>"]),
        "sharedIds": [c["id"] for c in ds.contacts[:3]],
        "parentIds": [parent_id],
        "childIds": [],
        "superParentIds": [],
        "scope": "WsFolder",
        "hasAttachments": False,
        "permalink": b.ids.permalink(ds.host),
        "workflowId": workflow_id,
        "metadata": [],
        "customFields": [],
        "customColumnIds": [],
    }
    ds.folders.append(folder)
    return folder


def _space_of(ds: WrikeDataset, folder: dict) -> str:
    space_ids = {s["id"] for s in ds.spaces}
    by_id = {f["id"]: f for f in ds.folders}
    current = folder
    while current["parentIds"][0] not in space_ids:
        current = by_id[current["parentIds"][0]]
    return current["parentIds"][0]


def _link_children(ds: WrikeDataset) -> None:
    by_id = {f["id"]: f for f in ds.folders}
    for f in ds.folders:
        parent = by_id.get(f["parentIds"][0])
        if parent is not None and f["id"] not in parent["childIds"]:
            parent["childIds"].append(f["id"])


def _new_task(b: Builder, ds: WrikeDataset, parents: list[str], wf: dict, people: list[str], milestone: bool) -> dict:
    rng = b.rng
    status = b.pick_status(wf)
    created = b.moment(400, 20)
    updated = b.between(created, BASE_TIME)
    completed = b.between(created, updated) if status["group"] == "Completed" else None
    title = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    description = rng.choice(
        ["", f"<p>{title} for the {rng.choice(OBJECTS)}.</p>", f"Owner notes:<br />{rng.choice(NOTES)}"]
    )
    task = {
        "id": b.ids.entity("KQ"),
        "accountId": b.account,
        "title": title,
        "description": description,
        "briefDescription": brief_description(description),
        "parentIds": list(parents),
        "superParentIds": [],
        "sharedIds": people[:2],
        "responsibleIds": rng.sample(people, rng.choice([0, 1, 1, 1, 2]) if len(people) > 1 else 1),
        "status": status["group"],
        "importance": rng.choice(["High", "Normal", "Normal", "Low"]),
        "createdDate": wrike_time(created),
        "updatedDate": wrike_time(updated),
    }
    if completed is not None:
        task["completedDate"] = wrike_time(completed)
    task.update(
        {
            "dates": _task_dates(b, milestone),
            "scope": "WsTask",
            "authorIds": [rng.choice(people)],
            "customStatusId": status["id"],
            "hasAttachments": False,
            "permalink": b.ids.permalink(ds.host),
            "priority": f"{rng.getrandbits(96):024x}",
            "followedByMe": False,
            "followerIds": [],
            "superTaskIds": [],
            "subTaskIds": [],
            "dependencyIds": [],
            "metadata": [],
            "customFields": [],
        }
    )
    return task


def _make_tasks(
    b: Builder,
    ds: WrikeDataset,
    containers: list[dict],
    workflow_by_id: dict,
    people: list[str],
    *,
    tasks: int,
    subtask_ratio: float,
    milestone_ratio: float,
    recycled_ratio: float,
) -> None:
    if tasks <= 0:
        return
    rng = b.rng
    n_sub = min(round(tasks * subtask_ratio), tasks - 1)
    n_top = tasks - n_sub
    milestones = set(rng.sample(range(n_top), min(round(tasks * milestone_ratio), n_top)))
    weights = [3 if "project" in c else 1 for c in containers]
    top: list[dict] = []
    for i in range(n_top):
        home = rng.choices(containers, weights)[0]
        parents = [home["id"]]
        if len(containers) > 1 and rng.random() < 0.06:
            parents.append(rng.choice([c for c in containers if c["id"] != home["id"]])["id"])
        top.append(_new_task(b, ds, parents, workflow_by_id[home["workflowId"]], people, i in milestones))
    supers = [t for t in top if t["dates"]["type"] != "Milestone"] or top
    subs = []
    for _ in range(n_sub):
        parent = rng.choice(supers)
        home = next(c for c in containers if c["id"] == parent["parentIds"][0])
        sub = _new_task(b, ds, parent["parentIds"], workflow_by_id[home["workflowId"]], people, False)
        sub["superTaskIds"] = [parent["id"]]
        parent["subTaskIds"].append(sub["id"])
        subs.append(sub)
    ds.tasks = top + subs
    candidates = [t for t in ds.tasks if not t["subTaskIds"]]
    by_id = {t["id"]: t for t in ds.tasks}
    for task in rng.sample(candidates, min(round(tasks * recycled_ratio), len(candidates))):
        task["scope"] = "RbTask"
        for super_id in task["superTaskIds"]:
            by_id[super_id]["subTaskIds"].remove(task["id"])


def _set_custom_fields(b: Builder, ds: WrikeDataset, people: list[str], cascade_id_ratio: float) -> None:
    rng = b.rng
    cascade = ds.custom_field("Cascade ID")
    others = [f for f in ds.custom_fields if f["id"] != cascade["id"]]
    folder_space = {f["id"]: _space_of(ds, f) for f in ds.folders}
    for task in ds.tasks:
        space_id = folder_space[task["parentIds"][0]]
        for definition in others:
            if definition.get("spaceId", space_id) == space_id and rng.random() < 0.3:
                task["customFields"].append({"id": definition["id"], "value": b.field_value(definition, people)})
    for task in rng.sample(ds.tasks, round(len(ds.tasks) * cascade_id_ratio)):
        task["customFields"].insert(0, {"id": cascade["id"], "value": b.cascade_id()})
    projects = ds.projects
    budget, target = ds.custom_field("Budget"), ds.custom_field("Target Date")
    for project in projects:
        for definition in (budget, target):
            if rng.random() < 0.5:
                project["customFields"].append({"id": definition["id"], "value": b.field_value(definition, people)})
    if projects and cascade_id_ratio > 0:
        for project in rng.sample(projects, max(1, round(len(projects) * cascade_id_ratio))):
            project["customFields"].insert(0, {"id": cascade["id"], "value": b.cascade_id()})


def _task_dates(b: Builder, milestone: bool) -> dict:
    rng = b.rng
    if milestone:
        due = BASE_TIME + timedelta(days=rng.randint(-120, 120))
        return {"type": "Milestone", "due": due.strftime("%Y-%m-%dT17:00:00")}
    if rng.random() < 0.2:
        return {"type": "Backlog"}
    start = (BASE_TIME + timedelta(days=rng.randint(-150, 90))).replace(hour=9, minute=0, second=0)
    days = rng.randint(0, 20)
    due = start + timedelta(days=days)
    date_only = rng.random() < 0.25
    fmt = "%Y-%m-%d" if date_only else "%Y-%m-%dT%H:%M:%S"
    return {
        "type": "Planned",
        "duration": (days + 1) * 480,
        "start": start.strftime(fmt),
        "due": due.replace(hour=17).strftime(fmt),
        "workOnWeekends": False,
    }
