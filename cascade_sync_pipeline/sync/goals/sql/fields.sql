-- Temp tables of the classic engine's diff: identity, then desired and current fields of goals and
-- tasks as comparable text, one row per item and field, so "no change" is plain equality.
-- Statements are run one by one; each takes the parameter workspace.

-- Identity: the ID map; else the goal or task the source item's Cascade ID field names, when it
-- exists in Cascade and no other source item is mapped to it (a person stored it, or the ID map
-- was lost and the write-back kept it).
CREATE OR REPLACE TEMP TABLE identity AS
SELECT
    d.item_id, d.cascade_type, COALESCE(TRY_CAST(m.cascade_id AS BIGINT), c.cascade_id) AS cascade_id,
    m.cascade_id IS NOT NULL AS in_map
FROM sync.desired_state AS d
LEFT JOIN sync.id_map AS m
    ON m.workspace = d.workspace AND m.item_id = d.item_id AND m.cascade_type = d.cascade_type
LEFT JOIN sync.cascade_items AS c
    ON
        m.cascade_id IS NULL AND c.workspace = d.workspace AND c.cascade_type = d.cascade_type
        AND c.item_id = d.item_id AND c.cascade_id = TRY_CAST(trim(d.claimed_cascade_id) AS BIGINT)
WHERE d.workspace = $workspace;

-- Fields each Cascade type has, as the API names them. A NULL desired value means "not ours to
-- set" (no owner found, no template configured, progress tracked by Cascade, no task date).
CREATE OR REPLACE TEMP TABLE desired_fields AS
WITH wide AS (
    SELECT
        d.item_id, d.cascade_type,
        CASE
            WHEN d.parent_item_id IS NULL THEN CAST(d.parent_goal_id AS VARCHAR)
            ELSE COALESCE(CAST(p.cascade_id AS VARCHAR), 'new:' || d.parent_item_id)
        END AS parent_ref,
        d.action, d.details, d.status, number_text(CAST(d.progress AS VARCHAR)) AS progress, d.tracking_type,
        CASE WHEN d.cascade_type = 'goal' THEN '0' END AS initial,
        CASE WHEN d.cascade_type = 'goal' THEN '100' END AS target,
        strftime(d.start_date, '%Y-%m-%d') AS start_date, strftime(d.due_date, '%Y-%m-%d') AS due_date,
        CAST(d.weight_id AS VARCHAR) AS weight_id, CAST(d.role_id AS VARCHAR) AS role_id,
        CAST(d.template_id AS VARCHAR) AS entity_template_id,
        CAST(list_sort(d.focus_area_ids) AS VARCHAR) AS direct_focus_area_ids,
        d.name AS task, COALESCE(d.description, '') AS comment, CAST(d.is_complete AS VARCHAR) AS is_complete
    FROM sync.desired_state AS d
    LEFT JOIN identity AS p ON p.item_id = d.parent_item_id
    WHERE d.workspace = $workspace
),

goals AS (
    SELECT
        item_id, cascade_type, action, details, status, progress, tracking_type, initial, target,
        start_date AS start_time, due_date AS end_time, weight_id, role_id, entity_template_id,
        direct_focus_area_ids,
        CASE WHEN parent_ref IS NULL THEN '[]' ELSE '[' || parent_ref || ']' END AS aligned_to_ids
    FROM wide WHERE cascade_type = 'goal'
),

tasks AS (
    SELECT
        item_id, cascade_type, task, comment, is_complete, parent_ref AS goal_id, start_date, due_date,
        weight_id, role_id
    FROM wide WHERE cascade_type = 'task'
)

FROM goals UNPIVOT (value FOR field IN (COLUMNS(* EXCLUDE (item_id, cascade_type))))
UNION ALL
FROM tasks UNPIVOT (value FOR field IN (COLUMNS(* EXCLUDE (item_id, cascade_type))));

-- What Cascade holds, rendered the same way. Dates are compared as UTC days (Cascade answers
-- ISO 8601 times); a list of ids is compared sorted.
CREATE OR REPLACE TEMP TABLE current_fields AS
WITH parsed AS (
    SELECT cascade_type, cascade_id, json_transform(payload, '{
        "action": "VARCHAR", "details": "VARCHAR", "status": "VARCHAR", "progress": "VARCHAR",
        "tracking_type": "VARCHAR", "initial": "VARCHAR", "target": "VARCHAR", "start_time": "VARCHAR",
        "end_time": "VARCHAR", "weight_id": "VARCHAR", "role_id": "VARCHAR", "entity_template_id": "VARCHAR",
        "direct_focus_area_ids": "BIGINT[]", "aligned_to_ids": "BIGINT[]", "task": "VARCHAR", "comment": "VARCHAR",
        "is_complete": "VARCHAR", "goal_id": "VARCHAR", "start_date": "VARCHAR", "due_date": "VARCHAR"}') AS p
    FROM sync.cascade_items WHERE workspace = $workspace
),

goals AS (
    SELECT
        cascade_type, cascade_id, p.action, COALESCE(p.details, '') AS details, p.status,
        number_text(p.progress) AS progress, p.tracking_type, number_text(p.initial) AS initial,
        number_text(p.target) AS target, utc_day(p.start_time) AS start_time, utc_day(p.end_time) AS end_time,
        p.weight_id, p.role_id, p.entity_template_id,
        CAST(list_sort(COALESCE(p.direct_focus_area_ids, [])) AS VARCHAR) AS direct_focus_area_ids,
        CAST(list_sort(COALESCE(p.aligned_to_ids, [])) AS VARCHAR) AS aligned_to_ids
    FROM parsed WHERE cascade_type = 'goal'
),

tasks AS (
    SELECT
        cascade_type, cascade_id, p.task, COALESCE(p.comment, '') AS comment, p.is_complete, p.goal_id,
        utc_day(p.start_date) AS start_date, utc_day(p.due_date) AS due_date, p.weight_id, p.role_id
    FROM parsed WHERE cascade_type = 'task'
)

FROM goals UNPIVOT INCLUDE NULLS (value FOR field IN (COLUMNS(* EXCLUDE (cascade_type, cascade_id))))
UNION ALL
FROM tasks UNPIVOT INCLUDE NULLS (value FOR field IN (COLUMNS(* EXCLUDE (cascade_type, cascade_id))));
