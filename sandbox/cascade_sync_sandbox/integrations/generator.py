"""The sandbox company's Cascade on the Integrations API: one workspace, this year's plan and last
year's, seeded from the ClickUp and Wrike sandboxes so their Cascade ID fields mean something.

Most Cascade IDs stored in the source items name an action (every tenth a measure) of the
current plan; a few name one of last year's plan, a few name nothing (typos), so the demo shows
each way a link can go wrong. The config links of ``config/sandbox.yaml`` point at the actions
and measures named in ``CONFIG_LINKED``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .app import IntegrationsEmulator

WORKSPACE_ID = "ws-acme"
PLAN_ID = "plan-fy2027"
OLD_PLAN_ID = "plan-fy2026"
CONFIG_LINKED = {
    "action": ["Launch Plan delivered", "Ship the mobile app", "EMEA Expansion"],
    "measure": ["Roadmap tasks done", "Launch story points delivered", "EMEA tasks done"],
}
# Not linked anywhere: `cascade-sync links suggest` offers the containers of the same name.
UNLINKED = {"action": ["Website Relaunch", "Data Platform Migration"], "measure": ["Pricing Refresh"]}
TYPOS_EVERY = 50  # every 50th stored id names nothing
OTHER_PLAN_EVERY = 37  # every 37th belongs to last year's plan
MEASURE_EVERY = 10


def seed_plans(emulator: IntegrationsEmulator, claims: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Create the workspace, both plans and one action or measure per stored (id, title) claim."""
    emulator.add_workspace("Acme", id=WORKSPACE_ID)
    emulator.add_plan(WORKSPACE_ID, "FY2027 Strategy", id=PLAN_ID)
    emulator.add_plan(WORKSPACE_ID, "FY2026 Strategy", id=OLD_PLAN_ID)
    for table in (CONFIG_LINKED, UNLINKED):
        for kind, names in table.items():
            add = emulator.add_action if kind == "action" else emulator.add_measure
            for name in names:
                add(PLAN_ID, name)
    counts = {
        "actions": len(CONFIG_LINKED["action"]) + len(UNLINKED["action"]),
        "measures": len(CONFIG_LINKED["measure"]) + len(UNLINKED["measure"]),
        "typos": 0,
        "other_plan": 0,
    }
    for n, (cascade_id, title) in enumerate(sorted(set(claims)), start=1):
        if n % TYPOS_EVERY == 0:
            counts["typos"] += 1
        elif n % OTHER_PLAN_EVERY == 0:
            emulator.add_action(OLD_PLAN_ID, title, id=cascade_id)
            counts["other_plan"] += 1
        elif n % MEASURE_EVERY == 0:
            emulator.add_measure(PLAN_ID, title, id=cascade_id)
            counts["measures"] += 1
        else:
            emulator.add_action(PLAN_ID, title, id=cascade_id)
            counts["actions"] += 1
    return counts


def clickup_claims(dataset) -> list[tuple[str, str]]:
    fields = {fid for fid, f in dataset.fields.items() if f.name == "Cascade ID"}
    return [
        (value, task.name)
        for task in dataset.tasks.values()
        for fid, value in task.values.items()
        if fid in fields and value
    ]


def wrike_claims(dataset) -> list[tuple[str, str]]:
    field_id = dataset.custom_field("Cascade ID")["id"]
    return [
        (entry["value"], task["title"])
        for task in dataset.tasks
        for entry in task.get("customFields", [])
        if entry["id"] == field_id and entry.get("value")
    ]
