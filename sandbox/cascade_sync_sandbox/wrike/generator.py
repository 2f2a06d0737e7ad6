"""A seeded Wrike account for the sandbox, and the staging rows a correct sync must produce from it.

``generate(seed)`` builds a deterministic account (``random.Random(seed)``, a fixed base time, no
wall clock): spaces, a folder tree of plain folders and projects, tasks with subtasks,
milestones and Recycle Bin items, contacts, workflows with custom statuses, and custom fields of
the common types. Payload shapes follow the Wrike API v4 captures in the reference notes.

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

import copy
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

BASE_TIME = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
HOST = "www.wrike.com"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

FIRST_NAMES = [
    "Jane",
    "Omar",
    "Priya",
    "Lukas",
    "Mei",
    "Carlos",
    "Amara",
    "Tom",
    "Sofia",
    "Kenji",
    "Fatima",
    "Noah",
    "Elena",
    "Ravi",
    "Chloe",
    "Diego",
    "Hana",
    "Ivan",
    "Leila",
    "Marcus",
]
LAST_NAMES = [
    "Smith",
    "Haddad",
    "Raman",
    "Becker",
    "Chen",
    "Ortega",
    "Okafor",
    "Walsh",
    "Rossi",
    "Tanaka",
    "Khan",
    "Murphy",
    "Petrova",
    "Iyer",
    "Dubois",
    "Silva",
    "Kim",
    "Novak",
]
SPACE_TITLES = [
    "Product Delivery",
    "Strategy Office",
    "Operations",
    "Marketing",
    "Customer Success",
    "Finance",
    "People",
]
FOLDER_TITLES = ["Initiatives", "Programs", "Backlog", "Ongoing Work", "Archive Prep", "Shared"]
PROJECT_TITLES = [
    "Mobile App Relaunch",
    "Data Platform Migration",
    "EMEA Expansion",
    "Pricing Refresh",
    "Customer Portal v2",
    "Security Certification",
    "Partner Onboarding",
    "Brand Refresh",
    "Cost Optimisation",
    "Support Automation",
    "Hiring Plan 2026",
    "Analytics Rollout",
]
VERBS = [
    "Draft",
    "Review",
    "Ship",
    "Plan",
    "Design",
    "Test",
    "Migrate",
    "Document",
    "Audit",
    "Prototype",
    "Negotiate",
    "Publish",
    "Automate",
    "Validate",
    "Present",
]
OBJECTS = [
    "onboarding flow",
    "pricing page",
    "Q3 roadmap",
    "vendor contract",
    "API gateway",
    "billing export",
    "release notes",
    "KPI dashboard",
    "support macros",
    "SSO integration",
    "data retention policy",
    "launch checklist",
    "board deck",
    "hiring scorecard",
    "cost model",
    "partner FAQ",
    "load tests",
    "style guide",
]
NOTES = [
    "Needs exec review",
    "Blocked by vendor",
    "Q3 carry-over",
    "Linked to OKR 2.1",
    "Depends on legal sign-off",
    "Quick win",
]

DEFAULT_WORKFLOW = [
    ("Active", "Blue", "Active"),
    ("Completed", "Green", "Completed"),
    ("Deferred", "Gray", "Deferred"),
    ("Cancelled", "Red", "Cancelled"),
]
DELIVERY_WORKFLOW = [
    ("New", "Blue", "Active"),
    ("In Progress", "Turquoise", "Active"),
    ("In Review", "Purple", "Active"),
    ("Shipped", "Green", "Completed"),
    ("Failed", "DarkRed", "Completed"),
    ("On Hold", "Gray", "Deferred"),
    ("Won't Do", "Red", "Cancelled"),
]
PROJECT_WORKFLOW = [
    ("Planned", "Blue", "Active"),
    ("On Track", "Green", "Active"),
    ("At Risk", "Yellow", "Active"),
    ("Off Track", "Red", "Active"),
    ("Done", "DarkCyan", "Completed"),
    ("On Hold", "Gray", "Deferred"),
    ("Cancelled", "Brown", "Cancelled"),
]
PROJECT_STATUS = {
    "Planned": "Custom",
    "On Track": "Green",
    "At Risk": "Yellow",
    "Off Track": "Red",
    "Done": "Completed",
    "On Hold": "OnHold",
    "Cancelled": "Cancelled",
}
GROUP_CATEGORY = {"Completed": "done", "Deferred": "deferred", "Cancelled": "cancelled"}

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


class _Ids:
    """Unique Wrike-style ids: account ``IEAxxxxx`` + a type marker + six characters."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()
        self.permalinks: set[int] = set()
        self.account = "IEA" + self._chars(5)

    def _chars(self, n: int) -> str:
        return "".join(self.rng.choice(_ALPHABET) for _ in range(n))

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def entity(self, marker: str) -> str:
        return self._unique(lambda: self.account + marker + self._chars(6))

    def contact(self) -> str:
        return self._unique(lambda: "KUA" + self._chars(5))

    def permalink(self, host: str) -> str:
        while True:
            number = self.rng.randint(400_000_000, 4_999_999_999)
            if number not in self.permalinks:
                self.permalinks.add(number)
                return f"https://{host}/open.htm?id={number}"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.account = self.ids.account

    # --- small helpers -------------------------------------------------------------------------
    def moment(self, earliest_days: float, latest_days: float) -> datetime:
        """A whole-second instant between ``earliest_days`` and ``latest_days`` before the base time."""
        seconds = self.rng.randint(int(latest_days * 86400), int(earliest_days * 86400))
        return BASE_TIME - timedelta(seconds=seconds)

    def between(self, start: datetime, end: datetime) -> datetime:
        span = max(int((end - start).total_seconds()), 0)
        return start + timedelta(seconds=self.rng.randint(0, span))

    def token(self, prefix: str, length: int) -> str:
        chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self.rng.choice(chars) for _ in range(length))

    # --- entities ------------------------------------------------------------------------------
    def contacts(self, users: int) -> list[dict]:
        pairs = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
        chosen = self.rng.sample(pairs, min(users, len(pairs)))
        contacts = []
        for i, (first, last) in enumerate(chosen):
            email = f"{first}.{last}@northwind.example".lower()
            contact = {
                "id": self.ids.contact(),
                "firstName": first,
                "lastName": last,
                "type": "Person",
                "profiles": [
                    {
                        "accountId": self.account,
                        "email": email,
                        "role": "Collaborator" if i == len(chosen) - 1 and i > 0 else "User",
                        "external": False,
                        "admin": i == 0,
                        "owner": i == 0,
                        "active": True,
                    }
                ],
                "avatarUrl": f"https://{HOST}/avatars//{i:02X}/{first[0]}{last[0]}_v1.png",
                "timezone": self.rng.choice(["Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin"]),
                "locale": "en",
                "deleted": False,
                "title": self.rng.choice(["Engineer", "Manager", "Analyst", "Designer"]),
                "primaryEmail": email,
            }
            if i == 0:
                contact["me"] = True
            contacts.append(contact)
        people = [c["id"] for c in contacts]
        contacts.append(
            {
                "id": self.ids.contact(),
                "firstName": "Strategy",
                "lastName": "Team",
                "type": "Group",
                "profiles": [
                    {
                        "accountId": self.account,
                        "role": "User",
                        "external": False,
                        "admin": False,
                        "owner": False,
                        "active": True,
                    }
                ],
                "avatarUrl": f"https://{HOST}/avatars/group.png",
                "deleted": False,
                "memberIds": people[: max(1, len(people) // 2)],
                "myTeam": False,
            }
        )
        return contacts

    def workflow(
        self, name: str, statuses, *, standard: bool = False, space_id: str | None = None, standard_ids: bool = False
    ) -> dict:
        custom = []
        for i, (status_name, color, group) in enumerate(statuses):
            status_id = f"{self.account}JMAAAAA{'ABCD'[i]}" if standard_ids else self.ids.entity("JM")
            custom.append(
                {
                    "standardName": status_name in ("Active", "Completed", "Deferred", "Cancelled"),
                    "standard": standard,
                    "id": status_id,
                    "name": status_name,
                    "color": color,
                    "group": group,
                    "hidden": False,
                }
            )
        wf = {
            "id": self.ids.entity("K4"),
            "name": name,
            "standard": standard,
            "hidden": False,
            "description": "",
            "customStatuses": custom,
        }
        if space_id:
            wf = {"id": wf["id"], "spaceId": space_id, **{k: v for k, v in wf.items() if k != "id"}}
        return wf

    def pick_status(self, wf: dict) -> dict:
        group = self.rng.choices(["Active", "Completed", "Deferred", "Cancelled"], [60, 25, 8, 7])[0]
        in_group = [s for s in wf["customStatuses"] if s["group"] == group] or wf["customStatuses"]
        if group == "Active" and len(in_group) > 1 and self.rng.random() < 0.4:
            return in_group[0]
        return self.rng.choice(in_group)

    def custom_fields(self, space_ids: list[str], people: list[str]) -> list[dict]:
        defs = [
            ("Cascade ID", "Text", None, {}),
            ("Work Type", "DropDown", None, {"values": ["Feature", "Bug", "Chore", "Research"]}),
            ("Budget", "Currency", None, {"currency": "USD", "decimalPlaces": 2, "aggregation": "Sum"}),
            ("Story Points", "Numeric", None, {"decimalPlaces": 0, "aggregation": "Sum"}),
            ("Confidence", "Percentage", None, {"decimalPlaces": 0, "aggregation": "Average"}),
            ("Target Date", "Date", None, {"allowTime": False}),
            ("Customer Facing", "Checkbox", None, {}),
            ("Reviewer", "Contacts", None, {"contacts": people}),
            ("Teams", "Multiple", None, {"values": ["Platform", "Mobile", "Web", "Data"]}),
            ("Notes", "Text", None, {}),
            ("Priority Tier", "DropDown", 0, {"values": ["Tier 1", "Tier 2", "Tier 3"]}),
            ("Region", "DropDown", 1, {"values": ["North America", "EMEA", "APAC"]}),
        ]
        out = []
        for title, ftype, space_index, extra in defs:
            if space_index is not None and space_index >= len(space_ids):
                continue
            settings: dict[str, Any] = {"inheritanceType": "All", "applicableEntityTypes": ["WorkItem"]}
            if "values" in extra:
                settings.update(
                    values=extra["values"],
                    options=[{"value": v} for v in extra["values"]],
                    optionColorsEnabled=False,
                    allowOtherValues=False,
                )
            settings.update({k: v for k, v in extra.items() if k != "values"})
            settings.update(readOnly=False)
            definition = {"id": self.ids.entity("JU"), "accountId": self.account, "title": title, "type": ftype}
            if space_index is not None:
                definition["spaceId"] = space_ids[space_index]
            definition.update(sharedIds=[], settings=settings, description="", archived=False)
            out.append(definition)
        return out

    def field_value(self, definition: dict, people: list[str]) -> str:
        ftype, settings = definition["type"], definition["settings"]
        rng = self.rng
        if ftype == "DropDown":
            return rng.choice(settings["values"])
        if ftype == "Multiple":
            return ",".join(rng.sample(settings["values"], rng.randint(1, 3)))
        if ftype == "Currency":
            return str(rng.randint(5, 400) * 50 + rng.choice([0.0, 0.0, 0.5, 0.25]))
        if ftype == "Numeric":
            return str(float(rng.choice([1, 2, 3, 5, 8, 13])))
        if ftype == "Percentage":
            pct = rng.randrange(10, 101, 5)
            return rng.choice([str(pct), f"{pct}.0"])
        if ftype == "Date":
            return (BASE_TIME + timedelta(days=rng.randint(-90, 180))).strftime("%Y-%m-%d")
        if ftype == "Checkbox":
            return rng.choice(["true", "false"])
        if ftype == "Contacts":
            return ",".join(rng.sample(people, min(len(people), rng.randint(1, 2))))
        return rng.choice(NOTES)

    def cascade_id(self) -> str:
        raw = f"{self.rng.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _task_dates(b: _Builder, milestone: bool) -> dict:
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


def brief_description(description: str) -> str:
    """Wrike's ``briefDescription``: the description as plain text, at most 250 characters."""
    return " ".join(re.sub(r"<[^>]+>", " ", description).split())[:250]


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
    b = _Builder(seed)
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


def _folder(b: _Builder, ds: WrikeDataset, title: str, parent_id: str, workflow_id: str) -> dict:
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


def _new_task(b: _Builder, ds: WrikeDataset, parents: list[str], wf: dict, people: list[str], milestone: bool) -> dict:
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
    b: _Builder,
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


def _set_custom_fields(b: _Builder, ds: WrikeDataset, people: list[str], cascade_id_ratio: float) -> None:
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


# --- ground truth for staging -------------------------------------------------------------------


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
