"""Problems a person must fix before a workspace's diff may be published, each naming the items.

Plain SQL over the sync tables; the Dagster asset checks in ``assets.py`` only report these.
"""

from __future__ import annotations

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.checks import Outcome, lines


def status_rules_complete(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """Every synced item's source status has a status rule or a fallback for its category."""
    problems = lines(con, """
        SELECT 'status ''' || COALESCE(source_status, '(none)') || ''' (category '
               || COALESCE(status_category, 'unknown') || ') of ' || count(*) || ' item(s): '
               || array_to_string(list(item_id || ' ''' || left(name, 40) || '''' ORDER BY item_id)[:3], ', ')
        FROM sync.desired_state
        WHERE workspace = $ws AND status IS NULL AND cascade_type IN ('objective', 'action')
        GROUP BY source_status, status_category ORDER BY source_status
        """, ws.key)
    return Outcome("status_rules_complete", problems,
                   "add the status to mapping.status_rules, or give its category a mapping.status_fallback")


def unique_cascade_claims(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """No Cascade item is claimed by two source items (through the Cascade ID field or the ID map)."""
    problems = lines(con, """
        WITH claims AS (
            SELECT item_id, trim(claimed_cascade_id) AS claim, 'its ' || $field || ' field' AS via
            FROM sync.desired_state
            WHERE workspace = $ws AND claimed_cascade_id IS NOT NULL AND trim(claimed_cascade_id) <> ''
            UNION
            SELECT item_id, CAST(cascade_id AS VARCHAR), 'the ID map' FROM sync.id_map WHERE workspace = $ws
        )
        SELECT 'Cascade item ' || claim || ' is claimed by ' || array_to_string(list(DISTINCT who ORDER BY who), ', ')
        FROM (SELECT claim, item_id, item_id || ' (via ' || via || ')' AS who FROM claims)
        GROUP BY claim HAVING count(DISTINCT item_id) > 1 ORDER BY claim
        """, ws.key, field=ws.cascade_id_field)
    return Outcome("unique_cascade_claims", problems,
                   f"clear the '{ws.cascade_id_field}' field of the source item that is a copy (a duplicated task "
                   "keeps the original's value); each Cascade item belongs to one source item")


def owners_found(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """Every assignee of a synced item is a Cascade user (matched by email)."""
    problems = lines(con, """
        SELECT person || ' (assigned to ' || count(*) || ' item(s), e.g. '
               || array_to_string(list(item_id ORDER BY item_id)[:3], ', ') || ')'
        FROM (SELECT item_id, unnest(unmatched_assignees) AS person FROM sync.desired_state WHERE workspace = $ws)
        GROUP BY person ORDER BY person
        """, ws.key)
    return Outcome("owners_found", problems,
                   "invite these people to Cascade with the same email address (owners are matched by email), or "
                   "set mapping.unmatched_owners: warn to sync without them",
                   blocking=ws.mapping.unmatched_owners == "block")


def cascade_items_present(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """Every Cascade item in the ID map still exists in Cascade."""
    problems = lines(con, """
        SELECT m.cascade_type || ' ' || m.cascade_id || ' (source item ' || m.item_id || ')'
        FROM sync.id_map AS m
        WHERE m.workspace = $ws
          AND NOT EXISTS (SELECT 1 FROM sync.cascade_items AS c WHERE c.workspace = $ws
                          AND c.cascade_type = m.cascade_type AND c.cascade_id = m.cascade_id)
          AND (m.cascade_type NOT IN ('milestone', 'checklist_item')
               OR EXISTS (SELECT 1 FROM sync.cascade_items AS a WHERE a.workspace = $ws
                          AND a.cascade_type = 'action' AND a.item_id = m.parent_item_id))
        ORDER BY m.cascade_type, m.cascade_id
        """, ws.key)
    return Outcome("cascade_items_present", problems,
                   "these Cascade items were deleted or lost their external_ref; restore them in Cascade, or delete "
                   "their rows from sync.id_map (workspace and item_id) so the next run creates them again")


CHECKS = (status_rules_complete, unique_cascade_claims, owners_found, cascade_items_present)


def run_all(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> list[Outcome]:
    return [check(con, ws) for check in CHECKS]
