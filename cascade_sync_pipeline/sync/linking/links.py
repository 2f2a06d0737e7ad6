"""Links between source work and Cascade actions and measures, resolved to ids.

Two kinds of link: the source item's Cascade ID field (a person stored the id there, as both
seed guides recommend; it is never overwritten), and entries of ``mapping.links`` in the config
(a container or item, by id or exact name, to an action or measure by id or exact name). Config
names are resolved at the first run and pinned in ``sync.links``, so a rename on either side
neither breaks nor silently moves a link; a later mismatch is reported. Problems never stop the
other links: each is recorded in ``sync.link_problems`` and shown by a warning check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline.config import ClickUpWorkspace, ConfigError, LinkRule, WrikeWorkspace
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.warehouse.store import Warehouse

if TYPE_CHECKING:
    pass

LINK_COLUMNS = [
    "link",
    "source_kind",
    "source_id",
    "cascade_type",
    "cascade_id",
    "cascade_name",
    "measure_value",
    "field",
    "weight_field",
    "linked_by",
]


class LinkError(ConfigError):
    """The workspace's plan cannot be used; the message names the workspace, the plan and the fix."""


@dataclass
class Plan:
    workspace_id: str
    id: str
    name: str
    items: dict[str, tuple[str, str]]  # cascade id -> (action | measure, name)
    others: list[tuple[str, str]] = field(default_factory=list)  # the workspace's other plans: (id, name)
    foreign: dict[str, tuple[str, str]] = field(default_factory=dict)  # their items: id -> (what, plan name)

    def find(self, kind: str, value: str) -> list[str]:
        """Ids of ``kind`` matching ``value`` as an id, else as an exact name."""
        if self.items.get(value, ("", ""))[0] == kind:
            return [value]
        return [i for i, (k, name) in self.items.items() if k == kind and name == value]


@dataclass
class Resolution:
    links: list[list] = field(default_factory=list)
    problems: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)

    def problem(self, kind: str, item_id: str | None, cascade_id: str | None, message: str) -> None:
        self.problems.append((kind, item_id, cascade_id, message))


def load_plan(client: IntegrationsClient, workspace_id: str, ws: ClickUpWorkspace | WrikeWorkspace) -> Plan:
    """The workspace's plan (``mapping.plan``, id or exact name) with its actions and measures."""
    wanted = ws.mapping.plan or ""
    plans = client.plans(workspace_id)
    found = [p for p in plans if p["id"] == wanted] or [p for p in plans if p.get("name") == wanted]
    if len(found) != 1:
        names = ", ".join(f"'{p.get('name')}' ({p['id']})" for p in plans[:12]) or "none"
        how = "matches no plan" if not found else f"names {len(found)} plans; give the id instead"
        raise LinkError(
            f"workspace '{ws.key}': mapping.plan '{wanted}' {how} in Cascade workspace {workspace_id} "
            f"(plans the credential sees: {names})"
        )
    plan = found[0]
    items = {a["id"]: ("action", a.get("name") or "") for a in client.actions(workspace_id, plan["id"])}
    items |= {m["id"]: ("measure", m.get("name") or "") for m in client.measures(workspace_id, plan["id"])}
    others = [(p["id"], p.get("name") or p["id"]) for p in plans if p["id"] != plan["id"]]
    return Plan(workspace_id, plan["id"], plan.get("name") or plan["id"], items, others)


def foreign_claims(con: duckdb.DuckDBPyConnection, plan: Plan, ws: ClickUpWorkspace | WrikeWorkspace) -> int:
    """How many stored Cascade IDs name nothing in the plan (then ``load_foreign`` says where they belong)."""
    claims = [
        c
        for (c,) in con.execute(
            "SELECT DISTINCT trim(cascade_id) FROM staging.work_items WHERE workspace = ? "
            "AND NULLIF(trim(cascade_id), '') IS NOT NULL",
            [ws.key],
        ).fetchall()
    ]
    return sum(c not in plan.items for c in claims)


def load_foreign(client: IntegrationsClient, plan: Plan) -> None:
    """Actions and measures of the workspace's other plans, to say where a foreign id belongs."""
    for other_id, name in plan.others:
        plan.foreign |= {a["id"]: ("an action", name) for a in client.actions(plan.workspace_id, other_id)}
        plan.foreign |= {m["id"]: ("a measure", name) for m in client.measures(plan.workspace_id, other_id)}


def resolve(con: duckdb.DuckDBPyConnection, plan: Plan, ws: ClickUpWorkspace | WrikeWorkspace) -> Resolution:
    """Every link of the workspace this run, pins recorded, problems collected. No Cascade call: the
    plan (and the other plans' items, when needed) were read before the warehouse was opened."""
    out = Resolution()
    claimed = _field_claims(con, plan, ws, out)
    for rule in ws.mapping.links:
        _config_link(con, plan, ws, rule, claimed, out)
    return out


def _field_claims(
    con: duckdb.DuckDBPyConnection, plan: Plan, ws: ClickUpWorkspace | WrikeWorkspace, out: Resolution
) -> dict[str, str]:
    rows = con.execute(
        "SELECT item_id, title, trim(cascade_id) FROM staging.work_items WHERE workspace = ? "
        "AND NULLIF(trim(cascade_id), '') IS NOT NULL ORDER BY item_id",
        [ws.key],
    ).fetchall()
    claimed: dict[str, str] = {}
    for item_id, title, cascade_id in rows:
        claimed[item_id] = cascade_id
        kind = plan.items.get(cascade_id, (None, None))[0]
        if kind is not None:
            rule = "field" if ws.mapping.measure_field and kind == "measure" else "progress"
            out.links.append(
                [
                    f"{ws.cascade_id_field} of item {item_id}",
                    "item",
                    item_id,
                    kind,
                    cascade_id,
                    plan.items[cascade_id][1],
                    rule,
                    ws.mapping.measure_field,
                    None,
                    "field",
                ]
            )
            continue
        where = plan.foreign.get(cascade_id)
        said = (
            f"{where[0]} of plan '{where[1]}', not of plan '{plan.name}' (the workspace's mapping.plan)"
            if where
            else f"no action or measure of plan '{plan.name}' (a typo, or an item deleted in Cascade)"
        )
        out.problem(
            "other_plan" if where else "unknown_id",
            item_id,
            cascade_id,
            f"item {item_id} '{(title or '')[:60]}': its '{ws.cascade_id_field}' field holds '{cascade_id}', "
            f"which is {said}; fix the field in the source item",
        )
    return claimed


def source_names(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, kind: str) -> dict[str, str]:
    if kind == "item":
        sql = "SELECT item_id, COALESCE(title, '') FROM staging.work_items WHERE workspace = ?"
    else:
        sql = (
            "SELECT container_id, COALESCE(name, '') FROM staging.containers WHERE workspace = ? "
            "UNION SELECT item_id, COALESCE(title, '') FROM staging.work_items WHERE workspace = ? "
            "AND item_type = 'project'"
        )
    return dict(con.execute(sql, [ws.key] * sql.count("?")).fetchall())


def _config_link(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    ws: ClickUpWorkspace | WrikeWorkspace,
    rule: LinkRule,
    claimed: dict[str, str],
    out: Resolution,
) -> None:
    kind = "container" if rule.container is not None else "item"
    wanted_source = rule.container if rule.container is not None else rule.item
    cascade_type = "action" if rule.action is not None else "measure"
    wanted_cascade = rule.action if rule.action is not None else rule.measure
    assert wanted_cascade is not None  # LinkRule's validation requires an action or a measure
    names = source_names(con, ws, kind)
    pin = con.execute(
        "SELECT source_id, cascade_id FROM sync.links WHERE workspace = ? AND link = ?", [ws.key, rule.label]
    ).fetchall()
    if pin:
        source_id, cascade_id = pin[0]
        if source_id not in names or cascade_id not in plan.items:
            gone = f"{kind} {source_id}" if source_id not in names else f"{cascade_type} {cascade_id}"
            out.problem(
                "vanished",
                source_id,
                cascade_id,
                f"link {rule.label}: the pinned {gone} no longer exists (deleted, or out of the workspace's "
                "scope); fix the link in the config, then delete its row from sync.links to pin it again",
            )
            return
        for side, wanted, now_name, pinned in (
            (kind, wanted_source, names[source_id], source_id),
            (cascade_type, wanted_cascade, plan.items[cascade_id][1], cascade_id),
        ):
            if wanted not in (pinned, now_name):
                out.problem(
                    "renamed",
                    source_id,
                    cascade_id,
                    f"link {rule.label}: the {side} pinned at the first run ({pinned}) is now named "
                    f"'{now_name}'; the link still points at it. Write its id in the config to silence this",
                )
    else:
        sources = (
            [wanted_source] if wanted_source in names else sorted(i for i, n in names.items() if n == wanted_source)
        )
        targets = plan.find(cascade_type, wanted_cascade)
        if len(sources) != 1 or len(targets) != 1:
            side, count = (kind, len(sources)) if len(sources) != 1 else (cascade_type, len(targets))
            where = "in the workspace's staging tables" if side == kind else f"in plan '{plan.name}'"
            out.problem(
                "unresolved",
                sources[0] if len(sources) == 1 else None,
                targets[0] if len(targets) == 1 else None,
                f"link {rule.label}: {'no' if count == 0 else count} {side}s match {where}; give an exact "
                "name or the id",
            )
            return
        source_id, cascade_id = sources[0], targets[0]
        con.execute(
            "INSERT INTO sync.links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ws.key,
                rule.label,
                kind,
                source_id,
                names[source_id],
                cascade_type,
                cascade_id,
                plan.items[cascade_id][1],
                now(),
            ],
        )
    if kind == "item" and claimed.get(source_id) not in (None, cascade_id):
        out.problem(
            "shadowed",
            source_id,
            cascade_id,
            f"link {rule.label}: item {source_id}'s '{ws.cascade_id_field}' field holds "
            f"'{claimed[source_id]}', which wins over the config; remove one of the two",
        )
        return
    if kind == "item" and claimed.get(source_id) == cascade_id:
        # The field holds the config's own id (the write-back put it there after the first run): one link,
        # and the config says how its value is computed.
        out.links = [link for link in out.links if not (link[9] == "field" and link[2] == source_id)]
    out.links.append(
        [
            rule.label,
            kind,
            source_id,
            cascade_type,
            cascade_id,
            plan.items[cascade_id][1],
            rule.measure_value,
            rule.field,
            rule.weight_field,
            f"config_{kind}",
        ]
    )


def register(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, found: Resolution) -> None:
    """The temp table ``links_now`` the value SQL reads, and this run's ``sync.link_problems``."""
    import pandas as pd

    frame = pd.DataFrame(found.links, columns=LINK_COLUMNS).astype(object)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE links_now (link VARCHAR, source_kind VARCHAR, source_id VARCHAR, "
        "cascade_type VARCHAR, cascade_id VARCHAR, cascade_name VARCHAR, measure_value VARCHAR, "
        "field VARCHAR, weight_field VARCHAR, linked_by VARCHAR)"
    )
    problems = pd.DataFrame(found.problems, columns=["problem", "item_id", "cascade_id", "message"]).astype(object)
    with Warehouse.transaction(con):
        if len(frame):
            con.execute("INSERT INTO links_now SELECT * FROM frame")
        con.execute("DELETE FROM sync.link_problems WHERE workspace = ?", [ws.key])
        if len(problems):
            con.execute("INSERT INTO sync.link_problems SELECT ?, * FROM problems", [ws.key])
