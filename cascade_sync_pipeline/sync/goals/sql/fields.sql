-- Temp views of desired and current Cascade fields as comparable text, one row per item and field.
-- Both sides render a value the same way, so "no change" is plain equality.
-- Statements are run one by one; those that read the workspace take the parameter workspace.
CREATE OR REPLACE TEMP TABLE type_fields AS
SELECT * FROM (VALUES
    ('objective', 'name'), ('objective', 'description'), ('objective', 'plan_id'),
    ('objective', 'focus_area_id'), ('objective', 'parent_objective_id'), ('objective', 'owner_ids'),
    ('objective', 'collaborator_ids'), ('objective', 'start_date'), ('objective', 'due_date'),
    ('objective', 'status'),
    ('action', 'name'), ('action', 'description'), ('action', 'objective_id'), ('action', 'owner_ids'),
    ('action', 'collaborator_ids'), ('action', 'start_date'), ('action', 'due_date'), ('action', 'status'),
    ('action', 'progress'),
    ('measure', 'name'), ('measure', 'description'), ('measure', 'objective_id'), ('measure', 'owner_ids'),
    ('measure', 'collaborator_ids'), ('measure', 'start_date'), ('measure', 'due_date'),
    ('measure', 'current_value'), ('measure', 'initial_value'), ('measure', 'target_value'), ('measure', 'unit'),
    ('milestone', 'name'), ('milestone', 'due_date'), ('milestone', 'completed'), ('milestone', 'progress_value'),
    ('checklist_item', 'name'), ('checklist_item', 'completed'), ('checklist_item', 'position')
) AS t(cascade_type, field);

-- Identity: the ID map first; else an item Cascade already holds under this item's external_ref
-- (created by a run that died before it could record the ID).
CREATE OR REPLACE TEMP TABLE identity AS
SELECT d.item_id, d.cascade_type, COALESCE(TRY_CAST(m.cascade_id AS BIGINT), c.cascade_id) AS cascade_id,
       m.cascade_id IS NOT NULL AS in_map
FROM sync.desired_state AS d
LEFT JOIN sync.id_map AS m
    ON m.workspace = d.workspace AND m.item_id = d.item_id AND m.cascade_type = d.cascade_type
LEFT JOIN sync.cascade_items AS c
    ON c.workspace = d.workspace AND c.item_id = d.item_id AND c.cascade_type = d.cascade_type
WHERE d.workspace = $workspace;

CREATE OR REPLACE TEMP TABLE desired_fields AS
WITH wide AS (
    SELECT d.item_id, d.cascade_type, d.name, NULLIF(d.description, '') AS description,
        CAST(d.plan_id AS VARCHAR) AS plan_id,
        CAST(d.focus_area_id AS VARCHAR) AS focus_area_id,
        CASE WHEN d.parent_item_id IS NULL THEN CAST(d.parent_cascade_id AS VARCHAR)
             ELSE COALESCE(CAST(p.cascade_id AS VARCHAR), 'new:' || d.parent_item_id) END AS parent_ref,
        CAST(list_sort(CASE WHEN d.owner_id IS NULL THEN [] ELSE [d.owner_id] END) AS VARCHAR) AS owner_ids,
        CAST(list_sort(list_distinct(d.collaborator_ids)) AS VARCHAR) AS collaborator_ids,
        strftime(d.start_date, '%Y-%m-%d') AS start_date,
        strftime(d.due_date, '%Y-%m-%d') AS due_date,
        d.status,
        number_text(CAST(d.progress AS VARCHAR)) AS progress,
        CAST(d.completed AS VARCHAR) AS completed,
        CAST(d.position AS VARCHAR) AS position,
        '0' AS initial_value, '100' AS target_value, '%' AS unit
    FROM sync.desired_state AS d
    LEFT JOIN identity AS p ON p.item_id = d.parent_item_id
    WHERE d.workspace = $workspace
),
renamed AS (
    SELECT * EXCLUDE (parent_ref),
        parent_ref AS objective_id, parent_ref AS parent_objective_id,
        progress AS current_value, progress AS progress_value
    FROM wide
),
long AS (
    FROM renamed UNPIVOT INCLUDE NULLS (value FOR field IN (COLUMNS(* EXCLUDE (item_id, cascade_type))))
)
SELECT long.* FROM long JOIN type_fields USING (cascade_type, field)
UNION ALL
SELECT d.item_id, d.cascade_type, 'cf:' || cf.name AS field, cf.value
FROM (SELECT item_id, cascade_type, unnest(custom_fields) AS cf
      FROM sync.desired_state WHERE workspace = $workspace) AS d;

CREATE OR REPLACE TEMP TABLE current_fields AS
WITH parsed AS (
    -- Each payload is parsed once into the scalar fields compared here (kept as JSON, read as text below),
    -- the two id lists are read as before, so a JSON null there stays what it was.
    SELECT cascade_type, cascade_id, item_id, payload -> 'owner_ids' AS owner_ids,
        payload -> 'collaborator_ids' AS collaborator_ids,
        json_transform(payload, '{"name": "JSON", "description": "JSON", "plan_id": "JSON", "focus_area_id": "JSON",
            "parent_objective_id": "JSON", "objective_id": "JSON", "start_date": "JSON", "due_date": "JSON",
            "status": "JSON", "progress": "JSON", "completed": "JSON", "position": "JSON", "initial_value": "JSON",
            "target_value": "JSON", "unit": "JSON", "current_value": "JSON", "progress_value": "JSON"}') AS p
    FROM sync.cascade_items WHERE workspace = $workspace
),
wide AS (
    SELECT cascade_type, cascade_id, item_id,
        p.name ->> '$' AS name, NULLIF(p.description ->> '$', '') AS description,
        p.plan_id ->> '$' AS plan_id, p.focus_area_id ->> '$' AS focus_area_id,
        p.parent_objective_id ->> '$' AS parent_objective_id, p.objective_id ->> '$' AS objective_id,
        CAST(list_sort(CAST(COALESCE(owner_ids, '[]') AS BIGINT[])) AS VARCHAR) AS owner_ids,
        CAST(list_sort(list_distinct(CAST(COALESCE(collaborator_ids, '[]') AS BIGINT[]))) AS VARCHAR)
            AS collaborator_ids,
        p.start_date ->> '$' AS start_date, p.due_date ->> '$' AS due_date, p.status ->> '$' AS status,
        number_text(p.progress ->> '$') AS progress, p.completed ->> '$' AS completed, p.position ->> '$' AS position,
        number_text(p.initial_value ->> '$') AS initial_value, number_text(p.target_value ->> '$') AS target_value,
        p.unit ->> '$' AS unit, number_text(p.current_value ->> '$') AS current_value,
        number_text(p.progress_value ->> '$') AS progress_value
    FROM parsed
),
long AS (
    FROM wide UNPIVOT INCLUDE NULLS (value FOR field IN (COLUMNS(* EXCLUDE (cascade_type, cascade_id, item_id))))
)
SELECT long.* FROM long JOIN type_fields USING (cascade_type, field)
UNION ALL
SELECT cascade_type, cascade_id, item_id, 'cf:' || (v ->> 'name') AS field,
    CASE WHEN json_type(v, '$.value') IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN number_text(v ->> 'value')
         ELSE v ->> 'value' END AS value
FROM (SELECT cascade_type, cascade_id, item_id, unnest(json_extract(payload, '$.custom_field_values[*]')) AS v
      FROM sync.cascade_items WHERE workspace = $workspace);
