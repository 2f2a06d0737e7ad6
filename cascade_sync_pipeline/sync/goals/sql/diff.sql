-- sync.diff for one workspace on the classic API: the operations that make Cascade's goals and
-- tasks match sync.desired_state, field by field. Needs the temp tables of fields.sql.
-- Params: $workspace, $run_id, $on_delete_task.
WITH
current AS (
    SELECT cascade_type, cascade_id, payload FROM sync.cascade_items WHERE workspace = $workspace
),

names AS (
    SELECT item_id, name FROM sync.desired_state WHERE workspace = $workspace
),

-- Items the ID map holds for this workspace that should no longer exist as they are (gone from the
-- source, filtered out, or now of the other Cascade type).
retired AS (
    SELECT
        m.item_id, m.cascade_type, c.cascade_id, c.payload ->> 'status' AS status,
        c.payload ->> 'is_complete' AS is_complete,
        COALESCE(c.payload ->> 'task', trim(concat_ws(' ', c.payload ->> 'action', c.payload ->> 'details')))
            AS name
    FROM sync.id_map AS m
    INNER JOIN current AS c ON c.cascade_type = m.cascade_type AND c.cascade_id = TRY_CAST(m.cascade_id AS BIGINT)
    WHERE
        m.workspace = $workspace
        AND NOT EXISTS (SELECT 1 FROM identity AS i WHERE i.item_id = m.item_id AND i.cascade_type = m.cascade_type)
),

ops AS (
    -- create: every field the new goal or task gets
    SELECT
        'create' AS op, f.cascade_type, f.item_id, NULL::BIGINT AS cascade_id, f.field,
        NULL AS before, f.value AS after
    FROM desired_fields AS f INNER JOIN identity AS i USING (item_id, cascade_type)
    WHERE i.cascade_id IS NULL AND f.value <> ''
    UNION ALL
    -- link: the source item's Cascade ID field names an existing goal or task the ID map does not hold
    SELECT
        'link' AS op, i.cascade_type, i.item_id, i.cascade_id, 'id' AS field, NULL AS before,
        CAST(i.cascade_id AS VARCHAR) AS after
    FROM identity AS i
    WHERE NOT i.in_map AND i.cascade_id IS NOT NULL
    UNION ALL
    -- update: only the fields whose value differs
    SELECT 'update' AS op, f.cascade_type, f.item_id, i.cascade_id, f.field, cf.value AS before, f.value AS after
    FROM desired_fields AS f
    INNER JOIN identity AS i USING (item_id, cascade_type)
    INNER JOIN current_fields AS cf
        ON cf.cascade_type = i.cascade_type AND cf.cascade_id = i.cascade_id AND cf.field = f.field
    WHERE f.value IS DISTINCT FROM cf.value
    UNION ALL
    -- gone from the source: a goal is archived (never deleted); a task completed or deleted (on_delete_task)
    SELECT 'archive' AS op, cascade_type, item_id, cascade_id, 'status' AS field, status AS before, 'ARCHI' AS after
    FROM retired WHERE cascade_type = 'goal' AND status IS DISTINCT FROM 'ARCHI'
    UNION ALL
    SELECT
        'complete' AS op, cascade_type, item_id, cascade_id, 'is_complete' AS field, is_complete AS before,
        '1' AS after
    FROM retired WHERE cascade_type = 'task' AND $on_delete_task = 'complete' AND is_complete IS DISTINCT FROM '1'
    UNION ALL
    SELECT
        'delete' AS op, cascade_type, item_id, cascade_id, 'id' AS field, CAST(cascade_id AS VARCHAR) AS before,
        NULL AS after
    FROM retired WHERE cascade_type = 'task' AND $on_delete_task = 'delete'
)

SELECT
    $workspace AS workspace, $run_id AS run_id, ops.op, ops.cascade_type, ops.item_id,
    CAST(ops.cascade_id AS VARCHAR) AS cascade_id, ops.field, ops.before, ops.after,
    COALESCE(n.name, r.name, ops.item_id) AS item_name, NULL::TIMESTAMP AS applied_at
FROM ops
LEFT JOIN names AS n ON n.item_id = ops.item_id
LEFT JOIN retired AS r ON r.item_id = ops.item_id AND r.cascade_type = ops.cascade_type
