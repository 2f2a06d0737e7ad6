"""The building blocks of the ClickUp generator: the fixed time base, realistic ids, people, and
the custom fields of a space with the values tasks get for them.

Every choice comes from the generator's one ``random.Random``; see ``generator.py``."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from . import names
from .model import ClickUpDataset, CustomField, Space, Task, Team, User

BASE_EPOCH_MS = 1_736_154_000_000  # 2025-01-06T09:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR

_TASK_ID_CHARS = string.digits + string.ascii_lowercase


class Ids:
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


def pick_count(rng: random.Random, population: list[int], ratio: float) -> set[int]:
    count = min(len(population), round(len(population) * ratio))
    return set(rng.sample(population, count))


def cycle_name(pool: tuple[str, ...], index: int) -> str:
    base = pool[index % len(pool)]
    return base if index < len(pool) else f"{base} {index // len(pool) + 1}"


class People:
    """Unique people; the first one created is the owner who belongs to every Workspace."""

    def __init__(self, rng: random.Random, ids: Ids) -> None:
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


def make_fields(ds: ClickUpDataset, ids: Ids, created: int) -> list[str]:
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


def make_values(
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
