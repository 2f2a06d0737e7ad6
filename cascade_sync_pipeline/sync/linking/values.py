"""The values linked Cascade items should hold: links + staging -> sync.desired_values (SQL).

An action takes the progress of its linked item (done is 100; otherwise the workspace's progress
rule) or the share of done work of its linked container; a measure takes a numeric field, an
item's progress, or a count or sum over its linked container, and a daily history of that
aggregate from the completion dates. Two links that disagree on one Cascade item hold it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.linking import links
from cascade_sync_pipeline.sync.runs import now
from cascade_sync_pipeline.warehouse.store import Warehouse, sql_text

SQL_PACKAGE = "cascade_sync_pipeline.sync.linking.sql"


@dataclass(frozen=True)
class DesiredValues:
    plan: links.Plan
    values: int
    problems: int
    blocked: int


def today() -> date:
    return datetime.now(UTC).date()


def build(
    con: duckdb.DuckDBPyConnection, plan: links.Plan, ws: ClickUpWorkspace | WrikeWorkspace, on: date | None = None
) -> DesiredValues:
    """Resolve the links, compute every linked value and the measures' history up to the day before
    ``on`` (default today, UTC), and record the id map. Reads Cascade nothing: ``plan`` was loaded first."""
    found = links.resolve(con, plan, ws)
    links.register(con, ws, found)
    con.execute(sql_text(SQL_PACKAGE, "scope.sql"), {"workspace": ws.key})
    params = {
        "workspace": ws.key,
        "source": ws.source,
        "plan_id": plan.id,
        "progress_rule": ws.mapping.progress.source,
        "progress_field": ws.mapping.progress.custom_field or "",
    }
    with Warehouse.transaction(con):
        count = Warehouse.replace_partition(
            con, "sync.desired_values", ws.key, sql_text(SQL_PACKAGE, "values.sql"), params
        )
        Warehouse.replace_partition(
            con,
            "sync.desired_history",
            ws.key,
            sql_text(SQL_PACKAGE, "history.sql"),
            {"workspace": ws.key, "today": on or today()},
        )
        blocked = _hold_back_disagreements(con, ws.key)
        _record_links(con, ws)
    return DesiredValues(plan, count, len(found.problems), blocked)


def _hold_back_disagreements(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """A Cascade item two links (here or in another workspace) give different values is held back."""
    con.execute(
        """
        UPDATE sync.desired_values AS d SET blocked = x.who
        FROM (
            SELECT cascade_type, cascade_id,
                   string_agg(DISTINCT workspace || ' item ' || item_id || ' (' || number_text(CAST(round(value, 4)
                              AS VARCHAR)) || ')', ', ' ORDER BY workspace || ' item ' || item_id || ' ('
                              || number_text(CAST(round(value, 4) AS VARCHAR)) || ')') AS who
            FROM sync.desired_values
            WHERE cascade_id IN (SELECT cascade_id FROM sync.desired_values WHERE workspace = $ws)
            GROUP BY ALL HAVING count(DISTINCT round(value, 4)) > 1
        ) AS x
        WHERE d.workspace = $ws AND d.cascade_type = x.cascade_type AND d.cascade_id = x.cascade_id
        """,
        {"ws": workspace},
    )
    return con.execute(
        "SELECT count(DISTINCT cascade_id) FROM sync.desired_values WHERE workspace = ? AND blocked IS NOT NULL",
        [workspace],
    ).fetchall()[0][0]


def _record_links(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> None:
    """sync.id_map holds this run's links: one Cascade item per source item and one source item per
    Cascade item (a person's field first); first_synced_at and the write-back record survive."""
    params = {"ws": ws.key, "source": ws.source, "at": now()}
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE new_links AS
        SELECT v.item_id, v.cascade_type, v.cascade_id, v.linked_by FROM (
            SELECT *, row_number() OVER (PARTITION BY item_id ORDER BY linked_by = 'field' DESC, cascade_id) AS n
            FROM sync.desired_values WHERE workspace = $ws AND blocked IS NULL
        ) AS v
        WHERE v.n = 1 AND NOT EXISTS (SELECT 1 FROM sync.id_map AS m WHERE m.workspace <> $ws
                                      AND m.cascade_type = v.cascade_type AND m.cascade_id = v.cascade_id)
        QUALIFY row_number() OVER (PARTITION BY v.cascade_type, v.cascade_id
                                   ORDER BY v.linked_by = 'field' DESC, v.item_id) = 1
        """,
        {"ws": ws.key},
    )
    con.execute(
        "DELETE FROM sync.id_map AS m WHERE m.workspace = $ws AND NOT EXISTS (SELECT 1 FROM new_links AS n "
        "WHERE n.item_id = m.item_id AND n.cascade_id = m.cascade_id AND n.cascade_type = m.cascade_type)",
        {"ws": ws.key},
    )
    con.execute(
        """
        INSERT INTO sync.id_map (workspace, source, item_id, cascade_type, cascade_id, first_synced_at, last_synced_at,
                                 linked_by)
        SELECT $ws, $source, item_id, cascade_type, cascade_id, $at, $at, linked_by FROM new_links
        ON CONFLICT (workspace, item_id) DO UPDATE SET linked_by = excluded.linked_by
        """,
        params,
    )


def summary(con: duckdb.DuckDBPyConnection, workspace: str):
    """Linked values by type and how they were linked, for the asset's metadata."""
    return con.execute(
        "SELECT cascade_type, linked_by, count(*) AS links, round(avg(value), 1) AS mean_value, "
        "count(*) FILTER (WHERE blocked IS NOT NULL) AS held_back "
        "FROM sync.desired_values WHERE workspace = ? GROUP BY ALL ORDER BY ALL",
        [workspace],
    ).df()
