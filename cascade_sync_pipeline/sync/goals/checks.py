"""Problems a person must fix before a workspace's diff may be published, each naming the items.

Plain SQL over the sync tables; the Dagster asset checks in ``assets.py`` only report these.
"""

from __future__ import annotations

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.checks import Outcome, lines
from cascade_sync_pipeline.sync.goals.desired import title_warnings

Workspace = ClickUpWorkspace | WrikeWorkspace


def status_rules_complete(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """Every synced item's source status has a status rule or a fallback for its category."""
    problems = lines(
        con,
        """
        SELECT 'status ''' || COALESCE(source_status, '(none)') || ''' (category '
               || COALESCE(status_category, 'unknown') || ') of ' || count(*) || ' item(s): '
               || array_to_string(list(item_id || ' ''' || left(name, 40) || '''' ORDER BY item_id)[:3], ', ')
        FROM sync.desired_state
        WHERE workspace = $ws AND outcome IS NULL
        GROUP BY source_status, status_category ORDER BY source_status
        """,
        ws.key,
    )
    return Outcome(
        "status_rules_complete",
        problems,
        "add the status to mapping.status_rules (open, complete or archived), or give its category a "
        "mapping.status_fallback",
    )


def unique_cascade_claims(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """No Cascade goal or task is claimed by two source items (through the Cascade ID field or the ID map)."""
    problems = lines(
        con,
        """
        WITH claims AS (
            SELECT cascade_type, item_id, CAST(TRY_CAST(trim(claimed_cascade_id) AS BIGINT) AS VARCHAR) AS claim,
                   'its ' || $field || ' field' AS via
            FROM sync.desired_state
            WHERE workspace = $ws AND TRY_CAST(trim(claimed_cascade_id) AS BIGINT) IS NOT NULL
            UNION
            SELECT cascade_type, item_id, cascade_id, 'the ID map' FROM sync.id_map WHERE workspace = $ws
        )
        SELECT 'Cascade ' || cascade_type || ' ' || claim || ' is claimed by '
               || array_to_string(list(DISTINCT who ORDER BY who), ', ')
        FROM (SELECT cascade_type, claim, item_id, item_id || ' (via ' || via || ')' AS who FROM claims)
        GROUP BY cascade_type, claim HAVING count(DISTINCT item_id) > 1 ORDER BY cascade_type, claim
        """,
        ws.key,
        field=ws.cascade_id_field,
    )
    return Outcome(
        "unique_cascade_claims",
        problems,
        f"clear the '{ws.cascade_id_field}' field of the source item that is a copy (a duplicated task "
        "keeps the original's value); each Cascade goal or task belongs to one source item",
    )


def owners_found(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """Every assignee of a synced item is a Cascade user of the configured table (matched by email)."""
    problems = lines(
        con,
        """
        SELECT person || ' (assigned to ' || count(*) || ' item(s), e.g. '
               || array_to_string(list(item_id ORDER BY item_id)[:3], ', ') || ')'
        FROM (SELECT item_id, unnest(unmatched_assignees) AS person FROM sync.desired_state WHERE workspace = $ws)
        GROUP BY person ORDER BY person
        """,
        ws.key,
    )
    return Outcome(
        "owners_found",
        problems,
        "add these people to cascade.users (email, role_id, user_id from Cascade's user admin; the API "
        "lists no users), or set mapping.unmatched_owners: warn to sync without them",
        blocking=ws.mapping.unmatched_owners == "block",
    )


def cascade_items_present(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """Every goal and task the ID map holds for a synced item, and every configured parent goal, exists."""
    problems = lines(
        con,
        """
        SELECT m.cascade_type || ' ' || m.cascade_id || ' (source item ' || m.item_id || ')'
        FROM sync.id_map AS m
        JOIN sync.desired_state AS d ON d.workspace = m.workspace AND d.item_id = m.item_id
            AND d.cascade_type = m.cascade_type
        WHERE m.workspace = $ws
          AND NOT EXISTS (SELECT 1 FROM sync.cascade_items AS c WHERE c.workspace = $ws
                          AND c.cascade_type = m.cascade_type AND c.cascade_id = TRY_CAST(m.cascade_id AS BIGINT))
        UNION ALL
        SELECT DISTINCT 'goal ' || d.parent_goal_id || ' (a configured parent_goal_id, e.g. of item ' || d.item_id || ')'
        FROM sync.desired_state AS d
        WHERE d.workspace = $ws AND d.parent_goal_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM sync.cascade_items AS c WHERE c.workspace = $ws AND c.cascade_type = 'goal'
                          AND c.cascade_id = d.parent_goal_id)
        ORDER BY 1
        """,
        ws.key,
    )
    return Outcome(
        "cascade_items_present",
        problems,
        "these Cascade goals or tasks were deleted (or the token's user cannot see them): restore them in "
        "Cascade, fix the configured parent_goal_id, or delete the items' rows from sync.id_map "
        "(workspace and item_id) so the next run creates them again",
    )


def no_mass_archiving(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """The run does not archive or delete more than mapping.max_archived_share of the workspace's
    Cascade goals and tasks at once (a lost permission or a wrong filter looks like mass deletion)."""
    retiring, mapped = con.execute(
        """
        SELECT (SELECT count(DISTINCT (cascade_type, item_id)) FROM sync.diff
                WHERE workspace = $ws AND op IN ('archive', 'complete', 'delete')),
               (SELECT count(*) FROM sync.id_map WHERE workspace = $ws AND cascade_type IN ('goal', 'task'))
        """,
        {"ws": ws.key},
    ).fetchall()[0]
    share = ws.mapping.max_archived_share
    if retiring < 2 or retiring <= share * mapped:
        return Outcome("no_mass_archiving")
    items = lines(
        con,
        """
        SELECT op || ' ' || cascade_type || ' ' || cascade_id || ' ''' || left(item_name, 40) || ''' (source item '
               || item_id || ')'
        FROM (SELECT DISTINCT op, cascade_type, cascade_id, item_name, item_id FROM sync.diff
              WHERE workspace = $ws AND op IN ('archive', 'complete', 'delete'))
        ORDER BY item_id
        """,
        ws.key,
    )
    head = (
        f"the run would archive or delete {retiring} of the workspace's {mapped} Cascade goals and tasks "
        f"({retiring / max(mapped, 1):.0%}, more than mapping.max_archived_share {share:.0%})"
    )
    return Outcome(
        "no_mass_archiving",
        [head, *items],
        "check that the token still sees every list or project and that the scope and filters are right "
        "(items the sync cannot see look deleted); if the source really lost them, raise "
        "mapping.max_archived_share for one run",
    )


def titles_fit(con: duckdb.DuckDBPyConnection, ws: Workspace) -> Outcome:
    """Goal titles fit the API's action (25 characters) and details (300); longer ones were cut."""
    return Outcome(
        "titles_fit",
        title_warnings(con, ws.key),
        "shorten these titles in the source if the cut versions read badly (the first word becomes the "
        "goal's action, the rest its details)",
        blocking=False,
    )


CHECKS = (
    status_rules_complete,
    unique_cascade_claims,
    owners_found,
    cascade_items_present,
    no_mass_archiving,
    titles_fit,
)


def run_all(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[Outcome]:
    return [check(con, ws) for check in CHECKS]
