"""A workspace's mapping rules as the temp tables and parameters ``desired_state.sql`` reads.

Everything here comes from the config: the classic API lists no focus areas, templates or users,
so placements are ids and owners are matched through the configured table of Cascade users
(``cascade.users``). Source items themselves are never matched by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from cascade_sync_pipeline.config import CascadeUser, ClickUpWorkspace, ConfigError, WrikeWorkspace

if TYPE_CHECKING:
    import pandas as pd

SCHEMAS = {
    "map_placements": "container_key VARCHAR, focus_area_ids BIGINT[], parent_goal_id BIGINT",
    "map_status_rules": "status VARCHAR, outcome VARCHAR",
    "map_status_fallback": "category VARCHAR, outcome VARCHAR",
    "map_weights": "priority VARCHAR, weight_id INTEGER",
    "cascade_users": "email VARCHAR, role_id BIGINT",
}


class MappingError(ConfigError):
    """The mapping rules do not fit the workspace's data; the message names the workspace and field."""


def lookups(ws: ClickUpWorkspace | WrikeWorkspace, users: list[CascadeUser]) -> dict[str, pd.DataFrame]:
    """The rows of each temp table (see ``SCHEMAS``)."""
    import pandas as pd

    rules = ws.mapping
    placements: list[list[Any]] = (
        [[None, list(rules.target.focus_area_ids), rules.target.parent_goal_id]] if rules.target else []
    )
    placements += [[p.container, list(p.focus_area_ids), p.parent_goal_id] for p in rules.by_container]
    rows = {
        "map_placements": placements,
        "map_status_rules": list(rules.status_rules.items()),
        "map_status_fallback": list(rules.status_fallback.items()),
        "map_weights": list(rules.weights.items()),
        "cascade_users": [[u.email, u.role_id] for u in users],
    }
    return {
        name: pd.DataFrame(values, columns=[c.split()[0] for c in SCHEMAS[name].split(", ")])
        for name, values in rows.items()
    }


def register_lookups(
    con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace, users: list[CascadeUser]
) -> dict[str, int]:
    """Create the temp tables ``desired_state.sql`` reads; return their sizes for metadata."""
    frames = lookups(ws, users)
    for table, frame in frames.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({SCHEMAS[table]})")
        if len(frame):
            con.register("frame", frame)
            con.execute(f"INSERT INTO {table} SELECT * FROM frame")
            con.unregister("frame")
    return {table: len(frame) for table, frame in frames.items()}


def sql_params(ws: ClickUpWorkspace | WrikeWorkspace) -> dict:
    """The scalar and list parameters of ``desired_state.sql``."""
    rules = ws.mapping
    return {
        "workspace": ws.key,
        "source": ws.source,
        "item_types": list(rules.item_types),
        "include_archived": rules.include_archived,
        "statuses": [s.strip().lower() for s in rules.statuses],
        "exclude_statuses": [s.strip().lower() for s in rules.exclude_statuses],
        "containers": list(rules.containers),
        "goal_containers": rules.container_goals(ws.source),
        "tasks_as": rules.tasks_as,
        "checklists": rules.checklists_as_tasks,
        "goal_progress": rules.goal_progress,
        "progress_rule": rules.progress.source,
        "progress_field": rules.progress.custom_field or "",
        "default_weight": rules.default_weight,
        "goal_days": rules.default_goal_days,
        "objective_template": rules.templates.objective,
        "project_template": rules.templates.project,
        "kpi_template": rules.templates.kpi,
    }
