"""What Cascade would hold after publishing a workspace's desired state, written straight into
``sync.id_map`` and ``sync.cascade_items`` (no HTTP): the starting point of a diff at scale.

Every desired item gets a Cascade id and a payload in the shape the Cascade client returns, with
exactly the desired values, so the diff of an unchanged workspace is empty; ``drift`` then edits
the names of a share of the actions in Cascade, which the next diff must turn into updates.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from cascade_sync_pipeline.warehouse.store import Warehouse

FIRST_ID = 10_000_000

_PUBLISHED = """
WITH ids AS (
    SELECT d.*, $first + row_number() OVER (ORDER BY d.cascade_type, d.item_id) AS cascade_id
    FROM sync.desired_state AS d WHERE d.workspace = $ws
)
SELECT i.*, p.cascade_id AS parent_id
FROM ids AS i LEFT JOIN ids AS p ON p.item_id = i.parent_item_id
"""

_PAYLOAD = """
CASE WHEN cascade_type IN ('checklist_item', 'milestone') THEN to_json({
    'id': cascade_id, 'action_id': parent_id, 'name': name, 'completed': completed, 'position': position,
    'due_date': strftime(due_date, '%Y-%m-%d'), 'progress_value': progress,
    'external_ref': {'source': source, 'workspace': workspace, 'item_id': item_id}})
ELSE to_json({
    'id': cascade_id, 'name': name, 'description': description,
    'objective_id': COALESCE(parent_id, parent_cascade_id), 'plan_id': plan_id, 'focus_area_id': focus_area_id,
    'owner_ids': CASE WHEN owner_id IS NULL THEN [] ELSE [owner_id] END, 'collaborator_ids': collaborator_ids,
    'start_date': strftime(start_date, '%Y-%m-%d'), 'due_date': strftime(due_date, '%Y-%m-%d'),
    'status': status, 'progress': progress, 'archived': false,
    'custom_field_values': list_transform(custom_fields,
        lambda cf: {'field_id': cf.field_id, 'name': cf.name, 'value': cf.value}),
    'external_ref': {'source': source, 'workspace': workspace, 'item_id': item_id}})
END
"""


def publish_all(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Fill the workspace's ID map and Cascade copy as a complete, successful publish would."""
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE published AS {_PUBLISHED}", {"ws": workspace, "first": FIRST_ID})
    with Warehouse.transaction(con):
        Warehouse.replace_partition(
            con, "sync.id_map", workspace,
            "SELECT workspace, source, item_id, cascade_type, cascade_id, $at AS first_synced_at, "
            "$at AS last_synced_at, CAST(cascade_id AS VARCHAR) AS written_back_id, "
            "CASE WHEN cascade_type IN ('checklist_item', 'milestone') THEN parent_item_id END AS parent_item_id "
            "FROM published", {"at": at})
        count = Warehouse.replace_partition(
            con, "sync.cascade_items", workspace,
            f"SELECT workspace, cascade_type, cascade_id, item_id, {_PAYLOAD} AS payload, $at AS fetched_at "
            "FROM published", {"at": at})
    con.execute("DROP TABLE published")
    return count


def drift(con: duckdb.DuckDBPyConnection, workspace: str, share: float) -> int:
    """Someone renamed ``share`` of the workspace's actions in Cascade; return how many."""
    where = "workspace = $ws AND cascade_type = 'action' AND hash(item_id) % 10000 < $cut"
    params = {"ws": workspace, "cut": int(share * 10000)}
    con.execute(f"UPDATE sync.cascade_items SET payload = json_merge_patch(payload, "
                f"json_object('name', 'Renamed in Cascade')) WHERE {where}", params)
    return con.execute(f"SELECT count(*) FROM sync.cascade_items WHERE {where}", params).fetchall()[0][0]
