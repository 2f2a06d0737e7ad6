"""Onboarding without reading tables: what the Cascade credential sees, and suggested links.

``catalog`` lists the workspaces, plans, actions and measures; ``suggestions`` puts a workspace's
source containers and items (from staging) next to its plan's actions and measures, matched by
exact or close name (DuckDB's Jaro-Winkler similarity), for a person to confirm. ``confirm_item``
writes the chosen Cascade id into the item's Cascade ID field (never over a value a person
stored); a container link is a config entry, which ``config_entry`` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.linking.links import LinkError, Plan, source_names
from cascade_sync_pipeline.sync.writeback import Pending

if TYPE_CHECKING:
    import pandas as pd

CLOSE_ENOUGH = 0.9


def catalog(client: IntegrationsClient, workspace_id: str | None = None) -> pd.DataFrame:
    """One row per workspace, plan, action and measure the credential sees (one workspace if given)."""
    import pandas as pd

    rows = []
    for ws in client.workspaces():
        if workspace_id and ws["id"] != workspace_id:
            continue
        rows.append(["workspace", ws["id"], ws.get("displayName"), None])
        for plan in client.plans(ws["id"]):
            rows.append(["plan", plan["id"], plan.get("name"), ws["id"]])
            rows += [["action", a["id"], a.get("name"), plan["id"]] for a in client.actions(ws["id"], plan["id"])]
            rows += [["measure", m["id"], m.get("name"), plan["id"]] for m in client.measures(ws["id"], plan["id"])]
    return pd.DataFrame(rows, columns=["kind", "id", "name", "parent_id"])


def suggestions(
    con: duckdb.DuckDBPyConnection, plan: Plan, ws: ClickUpWorkspace | WrikeWorkspace, threshold: float = CLOSE_ENOUGH
) -> pd.DataFrame:
    """Unlinked source containers and items whose name matches an action or measure of the plan."""
    import pandas as pd

    targets = pd.DataFrame(
        [[i, kind, name] for i, (kind, name) in plan.items.items()],
        columns=["cascade_id", "cascade_type", "cascade_name"],
    )
    con.register("plan_items", targets)
    try:
        return con.execute(
            """
            WITH source AS (
                SELECT 'container' AS kind, container_id AS id, name, container_type AS type
                FROM staging.containers WHERE workspace = $ws
                UNION ALL
                SELECT 'item', item_id, title, item_type FROM staging.work_items
                WHERE workspace = $ws AND NULLIF(trim(cascade_id), '') IS NULL AND NOT is_archived
            ),
            scored AS (
                SELECT s.*, p.cascade_type, p.cascade_id, p.cascade_name,
                       jaro_winkler_similarity(lower(s.name), lower(p.cascade_name)) AS score
                FROM source AS s, plan_items AS p
                WHERE s.name IS NOT NULL AND p.cascade_name <> ''
                  AND NOT EXISTS (SELECT 1 FROM sync.desired_values AS d WHERE d.cascade_id = p.cascade_id)
                  AND NOT EXISTS (SELECT 1 FROM sync.id_map AS m WHERE m.cascade_id = p.cascade_id)
            )
            SELECT kind, type, id, name, cascade_type, cascade_id, cascade_name,
                   CASE WHEN name = cascade_name THEN 'exact' ELSE 'close (' || round(score, 2) || ')' END AS match
            FROM scored WHERE score >= $threshold
            QUALIFY row_number() OVER (PARTITION BY kind, id ORDER BY score DESC, cascade_id) = 1
            ORDER BY score DESC, kind, name
            """,
            {"ws": ws.key, "threshold": threshold},
        ).df()
    finally:
        con.unregister("plan_items")


def config_entry(
    con: duckdb.DuckDBPyConnection, plan: Plan, ws: ClickUpWorkspace | WrikeWorkspace, container: str, cascade_id: str
) -> str:
    """The ``mapping.links`` entry that links a container (id or exact name, checked against staging),
    for a person to paste into the config."""
    kind = plan.items.get(cascade_id, (None,))[0]
    if kind is None:
        raise LinkError(
            f"workspace '{ws.key}': '{cascade_id}' is no action or measure of plan '{plan.name}'; "
            "`cascade-sync links suggest` lists them"
        )
    names = source_names(con, ws, "container")
    found = [container] if container in names else [i for i, n in names.items() if n == container]
    if len(found) != 1:
        raise LinkError(
            f"workspace '{ws.key}': container '{container}' matches {len(found) or 'no'} containers in "
            "staging; give its id (sync the workspace first if it is new)"
        )
    return f"- {{container: '{container}', {kind}: '{cascade_id}'}}"


def confirm_item(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    ws: ClickUpWorkspace | WrikeWorkspace,
    id_field,
    item_id: str,
    cascade_id: str,
) -> str:
    """Write ``cascade_id`` into the item's Cascade ID field; return what was done."""
    if cascade_id not in plan.items:
        raise LinkError(
            f"workspace '{ws.key}': '{cascade_id}' is no action or measure of plan '{plan.name}'; "
            "`cascade-sync links suggest` lists them"
        )
    found = con.execute(
        "SELECT item_type, container_id, NULLIF(trim(cascade_id), '') FROM staging.work_items "
        "WHERE workspace = ? AND item_id = ?",
        [ws.key, item_id],
    ).fetchall()
    if not found:
        raise LinkError(
            f"workspace '{ws.key}': no item {item_id} in staging; sync the workspace first "
            f"(cascade-sync sync {ws.key} --dry-run)"
        )
    item_type, container_id, held = found[0]
    if held == cascade_id:
        return f"item {item_id} already holds {cascade_id} in '{ws.cascade_id_field}'"
    if held:
        raise LinkError(
            f"workspace '{ws.key}': item {item_id}'s '{ws.cascade_id_field}' field holds '{held}', "
            "which a person stored; clear it in the source first if the link should change"
        )
    pending = Pending(item_id, item_type, container_id, cascade_id, held=False)
    field_id = id_field.field_ids(con, [pending]).get(item_id)
    if field_id is None:
        raise LinkError(f"workspace '{ws.key}': {id_field.missing_field(pending)}")
    id_field.write(pending, field_id)
    kind, name = plan.items[cascade_id]
    return f"item {item_id}: wrote {kind} {cascade_id} '{name}' into '{ws.cascade_id_field}'"
