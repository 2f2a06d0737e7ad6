-- staging.checklist_items for one ClickUp workspace: every item of every checklist of a task,
-- numbered across the task's checklists in their order. Param: $workspace.
WITH lists AS (
    SELECT workspace, payload ->> 'id' AS item_id, unnest(json_extract(payload, '$.checklists[*]')) AS c
    FROM raw.clickup_tasks
    WHERE workspace = $workspace
),

entries AS (
    SELECT
        workspace, item_id, TRY_CAST(c ->> 'orderindex' AS INTEGER) AS list_order,
        unnest(json_extract(c, '$.items[*]')) AS i
    FROM lists
)

SELECT
    workspace,
    'clickup' AS source,
    item_id,
    i ->> 'id' AS checklist_item_id,
    i ->> 'name' AS name,
    COALESCE(TRY_CAST(i ->> 'resolved' AS BOOLEAN), FALSE) AS is_resolved,
    CAST(row_number() OVER (
        PARTITION BY item_id ORDER BY list_order, TRY_CAST(i ->> 'orderindex' AS INTEGER), i ->> 'id'
    ) AS INTEGER) AS position
FROM entries
WHERE i ->> 'id' IS NOT NULL  -- an item without an id cannot be keyed; an id seen twice is kept once
QUALIFY row_number() OVER (PARTITION BY i ->> 'id' ORDER BY item_id) = 1
