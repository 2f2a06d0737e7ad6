-- Temp table link_scope: the work each container link counts (its tasks and milestones anywhere
-- below the container, not archived, not cancelled), with what values.sql and history.sql need.
-- Needs the temp table links_now. Params: $workspace.
CREATE OR REPLACE TEMP TABLE link_scope AS
WITH
items AS (
    SELECT * FROM staging.work_items WHERE workspace = $workspace
),

chain AS (
    SELECT * FROM container_chain($workspace)
),

numbers AS (
    SELECT item_id, field_name, TRY_CAST(trim(replace(value, '%', '')) AS DOUBLE) AS number
    FROM staging.custom_field_values WHERE workspace = $workspace
)

SELECT DISTINCT ON (l.link, i.item_id)
    l.link, l.cascade_id, i.item_id, i.status_category = 'done' AS done,
    CAST(COALESCE(i.completed_at, i.updated_at) AS DATE) AS done_on,
    CASE WHEN l.measure_value = 'sum' THEN n.number ELSE 1.0 END AS amount,
    w.number AS weight
FROM links_now AS l
INNER JOIN chain AS ch ON ch.container_id = l.source_id
INNER JOIN items AS i ON i.item_id = ch.item_id
LEFT JOIN numbers AS n ON n.item_id = i.item_id AND n.field_name = l.field
LEFT JOIN numbers AS w ON w.item_id = i.item_id AND w.field_name = l.weight_field
WHERE
    l.source_kind = 'container' AND i.item_type IN ('task', 'milestone') AND NOT i.is_archived
    AND i.status_category IS DISTINCT FROM 'cancelled'
