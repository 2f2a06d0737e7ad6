"""The building blocks of the Wrike generator: Wrike-style ids, and a seeded :class:`Builder`
that makes contacts, workflows, custom field definitions and field values from one random stream."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cascade_sync_sandbox.wrike.names import FIRST_NAMES, LAST_NAMES, NOTES

BASE_TIME = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
HOST = "www.wrike.com"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Ids:
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


class Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
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
