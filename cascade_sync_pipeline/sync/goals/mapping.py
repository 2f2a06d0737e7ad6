"""A workspace's mapping rules resolved against Cascade, as temp tables the desired-state SQL joins.

Names in the config (plans, focus areas, objectives, custom fields) are looked up in Cascade
once per run; source items themselves are never matched by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from cascade_sync_pipeline.cascade.client import CascadeClient
from cascade_sync_pipeline.config import CascadeTarget, ConfigError, MappingRules


class MappingError(ConfigError):
    """The mapping rules do not fit what Cascade holds; the message names the workspace and field."""


@dataclass(frozen=True)
class Target:
    plan_id: int | None
    focus_area_id: int | None
    objective_id: int | None


class _Catalog:
    """Plans, focus areas and objectives of Cascade, read once and matched by id or exact name."""

    def __init__(self, client: CascadeClient, workspace: str) -> None:
        self.client = client
        self.workspace = workspace
        self._cache: dict[str, list[dict]] = {}

    def items(self, kind: str) -> list[dict]:
        if kind not in self._cache:
            self._cache[kind] = self.client.list_items(kind)
        return self._cache[kind]

    def find(self, kind: str, value: str, where: str, **within: int | None) -> dict:
        candidates = [i for i in self.items(kind) if all(v is None or i.get(k) == v for k, v in within.items())]
        by_id = [i for i in candidates if str(i["id"]) == value.strip()]
        found = by_id or [i for i in candidates if i["name"] == value]
        label = kind.replace("_", " ")
        scope = "".join(f" in {k.removesuffix('_id').replace('_', ' ')} {v}" for k, v in within.items() if v)
        if not found:
            names = ", ".join(repr(i["name"]) for i in candidates[:10]) or "none"
            raise MappingError(f"workspace '{self.workspace}': {where} '{value}' matches no active Cascade {label}"
                               f"{scope}; give an exact name or id (candidates: {names})")
        if len(found) > 1:
            ids = ", ".join(str(i["id"]) for i in found)
            raise MappingError(f"workspace '{self.workspace}': {where} '{value}' names {len(found)} Cascade "
                               f"{label}s{scope} (ids {ids}); give the id instead")
        return found[0]

    def resolve(self, target: CascadeTarget, where: str, default_plan: int | None = None) -> Target:
        plan_id = self.find("plan", target.plan, f"{where}.plan")["id"] if target.plan else default_plan
        focus_id = None
        if target.focus_area:
            area = self.find("focus_area", target.focus_area, f"{where}.focus_area", plan_id=plan_id)
            focus_id, plan_id = area["id"], area["plan_id"]
        if not target.objective:
            return Target(plan_id, focus_id, None)
        objective = self.find("objective", target.objective, f"{where}.objective", plan_id=plan_id,
                              focus_area_id=focus_id)
        return Target(objective["plan_id"], objective.get("focus_area_id"), objective["id"])


def resolve_targets(client: CascadeClient, workspace: str, rules: MappingRules) -> dict[str | None, Target]:
    """The default target (key None) and one per ``by_container`` entry (key: its container)."""
    catalog = _Catalog(client, workspace)
    default = catalog.resolve(rules.target, "mapping.target")
    targets: dict[str | None, Target] = {None: default}
    for i, entry in enumerate(rules.by_container):
        targets[entry.container] = catalog.resolve(entry, f"mapping.by_container[{i}]", default.plan_id)
    return targets


def resolve_custom_fields(client: CascadeClient, workspace: str, rules: MappingRules) -> pd.DataFrame:
    """One row per mapped field: source name, Cascade field id, name, type and the kinds it applies to."""
    columns = ["source_name", "field_id", "cascade_name", "field_type", "applies_to"]
    if not rules.custom_fields:
        return pd.DataFrame(columns=columns)
    definitions = {f["name"]: f for f in client.custom_fields()}
    rows = []
    for source_name, cascade_name in rules.custom_fields.items():
        field = definitions.get(cascade_name)
        if field is None:
            known = ", ".join(repr(n) for n in sorted(definitions)) or "none"
            raise MappingError(f"workspace '{workspace}': mapping.custom_fields['{source_name}']: Cascade has no "
                               f"custom field named '{cascade_name}' (it has {known}); an admin creates it under "
                               "Admin > Templates, or fix the name")
        rows.append([source_name, field["id"], cascade_name, field["type"], list(field["applies_to"])])
    return pd.DataFrame(rows, columns=columns)


def register_lookups(con: duckdb.DuckDBPyConnection, client: CascadeClient, workspace: str,
                     rules: MappingRules) -> dict[str, int]:
    """Create the temp tables ``desired_state.sql`` reads; return their sizes for metadata."""
    targets = resolve_targets(client, workspace, rules)
    frames = {
        "map_targets": pd.DataFrame(
            [[key, t.plan_id, t.focus_area_id, t.objective_id] for key, t in targets.items()],
            columns=["container_key", "plan_id", "focus_area_id", "objective_id"]),
        "map_status_rules": pd.DataFrame(
            [[name.strip().lower(), status] for name, status in rules.status_rules.items()],
            columns=["status", "cascade_status"]),
        "map_status_fallback": pd.DataFrame(list(rules.status_fallback.items()),
                                            columns=["category", "cascade_status"]),
        "cascade_users": pd.DataFrame(
            [[email, user["id"]] for email, user in client.users_by_email().items()],
            columns=["email", "user_id"]),
        "map_custom_fields": resolve_custom_fields(client, workspace, rules),
    }
    schema = {
        "map_targets": "container_key VARCHAR, plan_id BIGINT, focus_area_id BIGINT, objective_id BIGINT",
        "map_status_rules": "status VARCHAR, cascade_status VARCHAR",
        "map_status_fallback": "category VARCHAR, cascade_status VARCHAR",
        "cascade_users": "email VARCHAR, user_id BIGINT",
        "map_custom_fields": "source_name VARCHAR, field_id BIGINT, cascade_name VARCHAR, field_type VARCHAR, "
                             "applies_to VARCHAR[]",
    }
    for table, frame in frames.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({schema[table]})")
        if len(frame):
            con.register("frame", frame)
            con.execute(f"INSERT INTO {table} SELECT * FROM frame")
            con.unregister("frame")
    return {table: len(frame) for table, frame in frames.items()}


def sql_params(workspace: str, source: str, rules: MappingRules) -> dict:
    """The scalar and list parameters of ``desired_state.sql``."""
    return {
        "workspace": workspace, "source": source,
        "item_types": list(rules.item_types), "tasks_as": rules.tasks_as, "milestones_as": rules.milestones_as,
        "checklists": rules.checklists_as_items, "include_archived": rules.include_archived,
        "statuses": [s.strip().lower() for s in rules.statuses],
        "exclude_statuses": [s.strip().lower() for s in rules.exclude_statuses],
        "containers": list(rules.containers),
        "progress_rule": rules.progress.source, "progress_field": rules.progress.custom_field or "",
    }
