"""What Cascade's classic API would hold after publishing a workspace's desired state, written
straight into ``sync.id_map`` and ``sync.cascade_items`` (no HTTP): the starting point of a diff at
scale.

Every desired goal and task gets a Cascade id and a payload in the shape the classic client reads
back, with exactly the desired values, so the diff of an unchanged workspace is empty; ``drift``
then renames a share of the tasks in Cascade, which the next diff must turn into updates.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from cascade_sync_pipeline.warehouse.store import Warehouse

FIRST_ID = 10_000_000

_PUBLISHED = """
WITH ids AS (
    SELECT d.*, $first + row_number() OVER (PARTITION BY d.cascade_type ORDER BY d.item_id) AS cascade_id
    FROM sync.desired_state AS d WHERE d.workspace = $ws
)
SELECT i.*, COALESCE(p.cascade_id, i.parent_goal_id) AS parent_id
FROM ids AS i LEFT JOIN ids AS p ON p.item_id = i.parent_item_id AND p.cascade_type = 'goal'
"""

_PAYLOAD = """
CASE WHEN cascade_type = 'goal' THEN to_json({
    'id': cascade_id, 'action': action, 'details': details, 'status': status, 'progress': progress,
    'tracking_type': tracking_type, 'initial': 0, 'target': 100,
    'start_time': strftime(start_date, '%Y-%m-%dT00:00:00Z'), 'end_time': strftime(due_date, '%Y-%m-%dT00:00:00Z'),
    'weight_id': weight_id, 'role_id': role_id, 'entity_template_id': template_id,
    'direct_focus_area_ids': focus_area_ids,
    'aligned_to_ids': CASE WHEN parent_id IS NULL THEN [] ELSE [parent_id] END})
ELSE to_json({
    'id': cascade_id, 'task': name, 'comment': description, 'is_complete': is_complete, 'goal_id': parent_id,
    'start_date': strftime(start_date, '%Y-%m-%dT00:00:00Z'), 'due_date': strftime(due_date, '%Y-%m-%dT00:00:00Z'),
    'weight_id': weight_id, 'role_id': role_id})
END
"""


def publish_all(con: duckdb.DuckDBPyConnection, workspace: str) -> int:
    """Fill the workspace's ID map and Cascade copy as a complete, successful publish would."""
    at = datetime.now(UTC).replace(tzinfo=None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE published AS {_PUBLISHED}", {"ws": workspace, "first": FIRST_ID})
    with Warehouse.transaction(con):
        Warehouse.replace_partition(
            con,
            "sync.id_map",
            workspace,
            "SELECT workspace, source, item_id, cascade_type, CAST(cascade_id AS VARCHAR) AS cascade_id, "
            "$at AS first_synced_at, $at AS last_synced_at, CAST(cascade_id AS VARCHAR) AS written_back_id, "
            "'created' AS linked_by FROM published",
            {"at": at},
        )
        count = Warehouse.replace_partition(
            con,
            "sync.cascade_items",
            workspace,
            f"SELECT workspace, cascade_type, cascade_id, item_id, {_PAYLOAD} AS payload, $at AS fetched_at "
            "FROM published",
            {"at": at},
        )
    con.execute("DROP TABLE published")
    return count


def drift(con: duckdb.DuckDBPyConnection, workspace: str, share: float) -> int:
    """Someone renamed ``share`` of the workspace's Cascade tasks; return how many."""
    where = "workspace = $ws AND cascade_type = 'task' AND hash(item_id) % 10000 < $cut"
    params = {"ws": workspace, "cut": int(share * 10000)}
    con.execute(
        f"UPDATE sync.cascade_items SET payload = json_merge_patch(payload, "
        f"json_object('task', 'Renamed in Cascade')) WHERE {where}",
        params,
    )
    return con.execute(f"SELECT count(*) FROM sync.cascade_items WHERE {where}", params).fetchall()[0][0]
