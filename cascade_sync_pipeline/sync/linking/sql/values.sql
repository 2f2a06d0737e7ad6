-- sync.desired_values for one workspace: the value each linked Cascade action or measure should hold.
-- Temp tables links_now (from links.py) and link_scope (scope.sql): link, source_kind, source_id, cascade_type, cascade_id,
-- cascade_name, measure_value, field, weight_field, linked_by.
-- Params: $workspace, $source, $plan_id, $progress_rule, $progress_field.
WITH
items AS (
    SELECT * FROM staging.work_items WHERE workspace = $workspace
),
subtask_share AS (
    SELECT parent_id AS item_id, count(*) AS total, count(*) FILTER (WHERE status_category = 'done') AS done
    FROM items WHERE item_type = 'subtask' AND NOT is_archived AND parent_id IS NOT NULL
    GROUP BY parent_id
),
checklist_share AS (
    SELECT item_id, count(*) AS total, count(*) FILTER (WHERE is_resolved) AS done
    FROM staging.checklist_items WHERE workspace = $workspace
    GROUP BY item_id
),
numbers AS (
    SELECT item_id, field_name, TRY_CAST(trim(replace(value, '%', '')) AS DOUBLE) AS number
    FROM staging.custom_field_values WHERE workspace = $workspace
),
-- An item's own progress: done is 100; otherwise the workspace's progress rule, then its status.
progress AS (
    SELECT i.item_id,
        CASE
            WHEN i.status_category = 'done' THEN 100.0
            WHEN $progress_rule = 'subtasks' AND s.total > 0 THEN round(100.0 * s.done / s.total, 2)
            WHEN $progress_rule = 'checklist' AND c.total > 0 THEN round(100.0 * c.done / c.total, 2)
            WHEN $progress_rule = 'custom_field' AND n.number IS NOT NULL THEN least(greatest(n.number, 0), 100)
            WHEN i.status_category = 'in_progress' THEN 50.0
            ELSE 0.0
        END AS value,
        CASE
            WHEN i.status_category = 'done' THEN 'done'
            WHEN $progress_rule = 'subtasks' AND s.total > 0 THEN s.done || ' of ' || s.total || ' subtasks done'
            WHEN $progress_rule = 'checklist' AND c.total > 0 THEN c.done || ' of ' || c.total || ' checklist items done'
            WHEN $progress_rule = 'custom_field' AND n.number IS NOT NULL THEN $progress_field || ' ' || n.number
            ELSE 'status ' || COALESCE(i.status, '?') || ' (' || COALESCE(i.status_category, '?') || ')'
        END AS basis
    FROM items AS i
    LEFT JOIN subtask_share AS s ON s.item_id = i.item_id
    LEFT JOIN checklist_share AS c ON c.item_id = i.item_id
    LEFT JOIN numbers AS n ON n.item_id = i.item_id AND n.field_name = $progress_field
),
container_values AS (
    SELECT l.link, l.cascade_type, l.cascade_id,
        CASE
            WHEN l.cascade_type = 'measure' AND l.measure_value = 'sum'
                THEN COALESCE(sum(s.amount) FILTER (WHERE s.done), 0)
            WHEN l.cascade_type = 'measure' THEN count(s.item_id) FILTER (WHERE s.done)
            WHEN l.weight_field IS NOT NULL AND COALESCE(sum(s.weight), 0) > 0
                THEN round(100.0 * COALESCE(sum(s.weight) FILTER (WHERE s.done), 0) / sum(s.weight), 2)
            WHEN count(s.item_id) > 0 THEN round(100.0 * count(s.item_id) FILTER (WHERE s.done) / count(s.item_id), 2)
            ELSE 0.0
        END AS value,
        CASE
            WHEN count(s.item_id) = 0 THEN 'no items'
            WHEN l.cascade_type = 'measure' AND l.measure_value = 'sum'
                THEN 'sum of ' || l.field || ' over ' || count(s.item_id) FILTER (WHERE s.done) || ' done items'
            WHEN l.weight_field IS NOT NULL AND COALESCE(sum(s.weight), 0) > 0
                THEN COALESCE(sum(s.weight) FILTER (WHERE s.done), 0) || ' of ' || sum(s.weight) || ' '
                     || l.weight_field || ' done'
            ELSE count(s.item_id) FILTER (WHERE s.done) || ' of ' || count(s.item_id) || ' items done'
        END AS basis
    FROM links_now AS l
    LEFT JOIN link_scope AS s ON s.link = l.link
    WHERE l.source_kind = 'container'
    GROUP BY l.link, l.cascade_type, l.cascade_id, l.measure_value, l.field, l.weight_field
),
item_values AS (
    SELECT l.link, l.cascade_type, l.cascade_id,
        CASE WHEN l.cascade_type = 'measure' AND l.measure_value = 'field' THEN n.number ELSE p.value END AS value,
        CASE WHEN l.cascade_type = 'measure' AND l.measure_value = 'field' THEN l.field || ' ' || n.number
             ELSE p.basis END AS basis
    FROM links_now AS l
    JOIN progress AS p ON p.item_id = l.source_id
    LEFT JOIN numbers AS n ON n.item_id = l.source_id AND n.field_name = l.field
    WHERE l.source_kind = 'item'
),
valued AS (
    SELECT * FROM container_values UNION ALL SELECT * FROM item_values
)
SELECT $workspace AS workspace, $source AS source, l.cascade_type, l.cascade_id, l.cascade_name, $plan_id AS plan_id,
       l.source_id AS item_id, l.linked_by, v.value, v.basis, CAST(NULL AS VARCHAR) AS blocked
FROM links_now AS l
JOIN valued AS v ON v.link = l.link
WHERE v.value IS NOT NULL
