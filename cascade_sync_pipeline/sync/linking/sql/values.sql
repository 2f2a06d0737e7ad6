-- sync.desired_values for one workspace: the value each linked Cascade action or measure should hold.
-- Temp tables links_now (from links.py: link, source_kind, source_id, cascade_type, cascade_id,
-- cascade_name, measure_value, field, weight_field, linked_by) and link_scope (scope.sql).
-- Params: $workspace, $source, $plan_id, $progress_rule, $progress_field.
WITH
numbers AS (
    SELECT item_id, field_name, TRY_CAST(trim(replace(value, '%', '')) AS DOUBLE) AS number
    FROM staging.custom_field_values WHERE workspace = $workspace
),

progress AS (
    SELECT item_id, progress AS value, basis FROM item_progress($workspace, $progress_rule, $progress_field)
),

container_values AS (
    SELECT
        l.link, l.cascade_type, l.cascade_id,
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
                THEN
                    COALESCE(sum(s.weight) FILTER (WHERE s.done), 0) || ' of ' || sum(s.weight) || ' '
                    || l.weight_field || ' done'
            ELSE count(s.item_id) FILTER (WHERE s.done) || ' of ' || count(s.item_id) || ' items done'
        END AS basis
    FROM links_now AS l
    LEFT JOIN link_scope AS s ON s.link = l.link
    WHERE l.source_kind = 'container'
    GROUP BY l.link, l.cascade_type, l.cascade_id, l.measure_value, l.field, l.weight_field
),

item_values AS (
    SELECT
        l.link, l.cascade_type, l.cascade_id,
        CASE WHEN l.cascade_type = 'measure' AND l.measure_value = 'field' THEN n.number ELSE p.value END AS value,
        CASE
            WHEN l.cascade_type = 'measure' AND l.measure_value = 'field' THEN l.field || ' ' || n.number
            ELSE p.basis
        END AS basis
    FROM links_now AS l
    INNER JOIN progress AS p ON p.item_id = l.source_id
    LEFT JOIN numbers AS n ON n.item_id = l.source_id AND n.field_name = l.field
    WHERE l.source_kind = 'item'
),

valued AS (
    SELECT * FROM container_values
    UNION ALL
    SELECT * FROM item_values
)

SELECT
    $workspace AS workspace, $source AS source, l.cascade_type, l.cascade_id, l.cascade_name, $plan_id AS plan_id,
    l.source_id AS item_id, l.linked_by, v.value, v.basis, CAST(NULL AS VARCHAR) AS blocked
FROM links_now AS l
INNER JOIN valued AS v ON v.link = l.link
WHERE v.value IS NOT NULL
