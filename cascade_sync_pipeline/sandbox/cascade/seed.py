"""What a fresh sandbox Cascade holds: users, custom field definitions and one strategic plan.

Names are fixed so that configs and tests can target them ("FY2027 Strategy", "Grow Revenue", ...).
Pass the same people to the ClickUp and Wrike sandboxes so owners match by email.
"""

from __future__ import annotations

from .model import CascadeStore

PLAN_NAME = "FY2027 Strategy"

DEFAULT_USERS: tuple[dict[str, str], ...] = (
    {"name": "Cascade Integration", "email": "integration@acme.example"},
    {"name": "Ada Lovelace", "email": "ada@acme.example"},
    {"name": "Grace Hopper", "email": "grace@acme.example"},
    {"name": "Alan Turing", "email": "alan@acme.example"},
    {"name": "Katherine Johnson", "email": "katherine@acme.example"},
    {"name": "Linus Torvalds", "email": "linus@acme.example"},
)

CUSTOM_FIELDS: tuple[dict, ...] = (
    {"name": "Source URL", "type": "text", "applies_to": ["objective", "action", "measure"], "options": None},
    {"name": "Source Status", "type": "text", "applies_to": ["objective", "action", "measure"], "options": None},
    {"name": "Story Points", "type": "number", "applies_to": ["action"], "options": None},
    {"name": "Priority Tier", "type": "text", "applies_to": ["objective", "action"], "options": None},
    {"name": "Budget", "type": "number", "applies_to": ["objective"], "options": None},
)

# focus area -> objectives (name, start, due)
STRATEGY: dict[str, list[tuple[str, str, str]]] = {
    "Grow Revenue": [("Launch self-serve pricing", "2027-01-01", "2027-06-30"),
                     ("Expand into EMEA", "2027-01-01", "2027-12-31")],
    "Delight Customers": [("Reduce churn below 5%", "2027-01-01", "2027-12-31"),
                          ("Ship the mobile app", "2027-03-01", "2027-09-30")],
    "Operational Excellence": [("Automate month-end close", "2027-01-01", "2027-06-30")],
}


def seed_users(store: CascadeStore, users: list[dict[str, str]] | tuple[dict[str, str], ...]) -> None:
    for user in users:
        store.insert_raw("user", name=user["name"], email=user["email"])


def seed_custom_fields(store: CascadeStore) -> None:
    for definition in CUSTOM_FIELDS:
        store.insert_raw("custom_field", **{k: (list(v) if isinstance(v, list) else v)
                                            for k, v in definition.items()})


def seed_plan(store: CascadeStore) -> None:
    """One plan with focus areas and objectives, plus one hand-made measure nobody syncs."""
    owner = next(iter(store.table("user")), None)
    owners = [owner] if owner is not None else []
    plan = store.create("plan", {"name": PLAN_NAME, "description": "Company strategy for fiscal 2027.",
                                 "owner_ids": owners, "start_date": "2027-01-01", "due_date": "2027-12-31"})
    for area_name, objectives in STRATEGY.items():
        area = store.create("focus_area", {"plan_id": plan["id"], "name": area_name, "owner_ids": owners})
        for name, start, due in objectives:
            objective = store.create("objective", {
                "plan_id": plan["id"], "focus_area_id": area["id"], "name": name,
                "owner_ids": owners, "start_date": start, "due_date": due, "status": "In Progress",
            })
            if name.startswith("Reduce churn"):
                store.create("measure", {
                    "objective_id": objective["id"], "name": "Monthly logo churn", "unit": "%",
                    "initial_value": 8, "target_value": 5, "current_value": 7.4,
                    "start_date": start, "due_date": due,
                })
