-- sync.diff for one workspace: the operations that make Cascade match sync.desired_state, field by
-- field. Needs the temp tables of fields.sql. Params: $workspace, $run_id, $on_delete.
WITH
current AS (
    SELECT cascade_type, cascade_id, item_id, payload FROM sync.cascade_items WHERE workspace = $workspace
),
names AS (
    SELECT item_id, name FROM sync.desired_state WHERE workspace = $workspace
),
-- Items Cascade holds for this workspace (by the ID map or external_ref) that should no longer exist.
known AS (
    SELECT m.item_id, m.cascade_type, m.cascade_id, m.parent_item_id FROM sync.id_map AS m
    WHERE m.workspace = $workspace
    UNION
    SELECT c.item_id, c.cascade_type, c.cascade_id, NULL FROM current AS c
    WHERE NOT EXISTS (SELECT 1 FROM sync.id_map AS m WHERE m.workspace = $workspace AND m.item_id = c.item_id
                      AND m.cascade_type = c.cascade_type)
),
retired AS (
    SELECT k.*, c.payload ->> 'name' AS name, c.payload ->> 'status' AS status,
           COALESCE(TRY_CAST(c.payload ->> 'archived' AS BOOLEAN), FALSE) AS archived,
           c.payload ->> 'action_id' AS action_id
    FROM known AS k
    JOIN current AS c ON c.cascade_type = k.cascade_type AND c.cascade_id = k.cascade_id
    WHERE NOT EXISTS (SELECT 1 FROM identity AS i WHERE i.item_id = k.item_id AND i.cascade_type = k.cascade_type)
),
ops AS (
    -- create: every field the new item gets
    SELECT 'create' AS op, f.cascade_type, f.item_id, NULL::BIGINT AS cascade_id, f.field,
           NULL AS before, f.value AS after
    FROM desired_fields AS f JOIN identity AS i USING (item_id, cascade_type)
    WHERE i.cascade_id IS NULL AND f.value IS NOT NULL AND f.value <> '[]'
    UNION ALL
    -- link: Cascade holds it under our external_ref, the ID map does not know it yet
    SELECT 'link', i.cascade_type, i.item_id, i.cascade_id, 'cascade_id', NULL, CAST(i.cascade_id AS VARCHAR)
    FROM identity AS i JOIN current AS c ON c.cascade_type = i.cascade_type AND c.cascade_id = i.cascade_id
    WHERE NOT i.in_map
    UNION ALL
    -- update: only the fields whose value differs
    SELECT 'update', f.cascade_type, f.item_id, i.cascade_id, f.field, cf.value, f.value
    FROM desired_fields AS f
    JOIN identity AS i USING (item_id, cascade_type)
    JOIN current AS c ON c.cascade_type = i.cascade_type AND c.cascade_id = i.cascade_id
    LEFT JOIN current_fields AS cf
        ON cf.cascade_type = i.cascade_type AND cf.cascade_id = i.cascade_id AND cf.field = f.field
    WHERE f.value IS DISTINCT FROM cf.value
    UNION ALL
    SELECT 'unarchive', i.cascade_type, i.item_id, i.cascade_id, 'archived', 'true', 'false'
    FROM identity AS i JOIN current AS c ON c.cascade_type = i.cascade_type AND c.cascade_id = i.cascade_id
    WHERE TRY_CAST(c.payload ->> 'archived' AS BOOLEAN)
    UNION ALL
    -- gone from the source (deleted, filtered out, archived): archived or Won't Do, never deleted
    SELECT 'wont_do', cascade_type, item_id, cascade_id, 'status', status, 'Won''t Do'
    FROM retired
    WHERE $on_delete = 'wont_do' AND cascade_type IN ('objective', 'action') AND NOT archived
      AND status IS DISTINCT FROM 'Won''t Do'
    UNION ALL
    SELECT 'archive', cascade_type, item_id, cascade_id, 'archived', 'false', 'true'
    FROM retired
    WHERE cascade_type IN ('objective', 'action', 'measure') AND NOT archived
      AND NOT ($on_delete = 'wont_do' AND cascade_type IN ('objective', 'action'))
    UNION ALL
    -- a checklist item or milestone removed from an item that is still synced
    SELECT 'remove', r.cascade_type, r.item_id, r.cascade_id, 'action_id', r.action_id, NULL
    FROM retired AS r
    WHERE r.cascade_type IN ('milestone', 'checklist_item')
      AND EXISTS (SELECT 1 FROM identity AS a
                  WHERE a.cascade_type = 'action' AND CAST(a.cascade_id AS VARCHAR) = r.action_id)
)
SELECT $workspace AS workspace, $run_id AS run_id, ops.*,
       COALESCE(n.name, r.name, ops.item_id) AS item_name, NULL::TIMESTAMP AS applied_at
FROM ops
LEFT JOIN names AS n ON n.item_id = ops.item_id
LEFT JOIN retired AS r ON r.item_id = ops.item_id AND r.cascade_type = ops.cascade_type
