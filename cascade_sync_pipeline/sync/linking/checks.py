"""What a person should know, or must fix, before a workspace's values are pushed.

Warnings name each item and id and never stop the other links; the mass-zeroing guard blocks.
"""

from __future__ import annotations

import duckdb

from cascade_sync_pipeline.config import ClickUpWorkspace, WrikeWorkspace
from cascade_sync_pipeline.sync.checks import Outcome, lines


def cascade_links_valid(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """Every Cascade ID in a source item and every configured link names an action or measure of the plan."""
    problems = lines(
        con, "SELECT message FROM sync.link_problems WHERE workspace = $ws ORDER BY problem, item_id", ws.key
    )
    return Outcome(
        "cascade_links_valid",
        problems,
        "each item or link named here was skipped; the others were synced",
        blocking=False,
    )


def one_value_per_cascade_item(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """No Cascade item is given two different values by two links (in this or another workspace)."""
    problems = lines(
        con,
        """
        SELECT cascade_type || ' ' || cascade_id || ' ''' || COALESCE(cascade_name, '') || ''' is claimed with '
               || 'different values by ' || any_value(blocked)
        FROM sync.desired_values WHERE workspace = $ws AND blocked IS NOT NULL
        GROUP BY cascade_type, cascade_id, cascade_name ORDER BY cascade_id
        """,
        ws.key,
    )
    return Outcome(
        "one_value_per_cascade_item",
        problems,
        "these Cascade items were held back: keep one link per Cascade item (clear the Cascade ID field of "
        "the copy, or drop one config link)",
        blocking=False,
    )


def no_mass_zeroing(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> Outcome:
    """The run does not drop more than mapping.max_zeroed_share of the linked values to 0 at once."""
    zeroed, live = con.execute(
        """
        SELECT (SELECT count(*) FROM sync.diff WHERE workspace = $ws AND op = 'set' AND after = '0'
                AND TRY_CAST(before AS DOUBLE) > 0),
               (SELECT count(*) FROM sync.pushed_values AS p WHERE p.workspace = $ws AND p.value > 0
                AND EXISTS (SELECT 1 FROM sync.desired_values AS d WHERE d.workspace = $ws
                            AND d.cascade_id = p.cascade_id AND d.cascade_type = p.cascade_type))
        """,
        {"ws": ws.key},
    ).fetchall()[0]
    if zeroed < 2 or zeroed <= ws.mapping.max_zeroed_share * live:
        return Outcome("no_mass_zeroing")
    problems = lines(
        con,
        """
        SELECT d.cascade_type || ' ''' || COALESCE(d.item_name, '') || ''' (' || d.cascade_id || '): ' || d.before
               || ' -> 0, was ' || COALESCE(p.basis, '?') || ', now ' || COALESCE(v.basis, '?')
               || ' (source ' || d.item_id || ')'
        FROM sync.diff AS d
        LEFT JOIN sync.pushed_values AS p ON p.workspace = d.workspace AND p.cascade_id = d.cascade_id
        LEFT JOIN (SELECT cascade_id, any_value(basis) AS basis FROM sync.desired_values WHERE workspace = $ws
                   GROUP BY ALL) AS v ON v.cascade_id = d.cascade_id
        WHERE d.workspace = $ws AND d.op = 'set' AND d.after = '0' AND TRY_CAST(d.before AS DOUBLE) > 0
        ORDER BY d.cascade_id
        """,
        ws.key,
    )
    return Outcome(
        "no_mass_zeroing",
        [f"{zeroed} of {live} linked values would drop to 0 at once"] + problems,
        "a list or project may have been deleted, moved out of scope, or read back empty; check the source, "
        "then re-run. If the drop is real, raise mapping.max_zeroed_share for one run",
    )


CHECKS = (cascade_links_valid, one_value_per_cascade_item, no_mass_zeroing)


def run_all(con: duckdb.DuckDBPyConnection, ws: ClickUpWorkspace | WrikeWorkspace) -> list[Outcome]:
    return [check(con, ws) for check in CHECKS]
