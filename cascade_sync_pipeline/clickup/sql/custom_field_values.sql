-- staging.custom_field_values for one ClickUp workspace: one row per task and field that has a
-- value, rendered as a person reads it (an option's name, not its index). Param: $workspace.
-- Each payload is parsed once, into the fields used here.
WITH entries AS (
    SELECT workspace, p.id AS item_id, unnest(p.custom_fields) AS f
    FROM (
        SELECT workspace, json_transform(payload, '{"id": "VARCHAR", "custom_fields": [
            {"id": "VARCHAR", "name": "VARCHAR", "type": "VARCHAR", "value": "JSON",
             "type_config": {"options": [{"id": "VARCHAR", "name": "VARCHAR", "label": "VARCHAR", "orderindex": "VARCHAR"}]}}]}') AS p
        FROM raw.clickup_tasks
        WHERE workspace = $workspace
    ) AS tasks
),

valued AS (
    -- An entry without an id cannot be keyed, and one field twice on a task is kept once.
    SELECT
        workspace, item_id, f.id AS field_id, COALESCE(f.name, f.id) AS field_name,
        COALESCE(f.type, 'unknown') AS field_type, f.value AS v, f.type_config.options AS options
    FROM entries
    WHERE f.value IS NOT NULL AND f.id IS NOT NULL AND item_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY item_id, f.id) = 1
)

SELECT
    workspace,
    'clickup' AS source,
    item_id,
    field_id,
    field_name,
    field_type,
    CASE field_type
        WHEN 'drop_down'
            THEN
                list_filter(
                    options, LAMBDA o: TRY_CAST(o.orderindex AS INTEGER) = TRY_CAST(v ->> '$' AS INTEGER)
                )[1].name
        WHEN 'labels'
            THEN
                array_to_string(list_transform(
                    json_extract_string(v, '$[*]'),
                    LAMBDA id: COALESCE(
                        list_filter(options, LAMBDA o: o.id = id)[1].label,
                        list_filter(options, LAMBDA o: o.id = id)[1].name, id
                    )
                ), ', ')
        WHEN 'users' THEN array_to_string(json_extract_string(v, '$[*].username'), ', ')
        WHEN 'tasks'
            THEN
                array_to_string(
                    COALESCE(json_extract_string(v, '$[*].name'), json_extract_string(v, '$[*].id')), ', '
                )
        WHEN 'date' THEN strftime(ms_to_ts(v ->> '$'), '%Y-%m-%dT%H:%M:%SZ')
        WHEN 'checkbox' THEN CAST(TRY_CAST(v ->> '$' AS BOOLEAN) AS VARCHAR)
        WHEN 'number' THEN number_text(v ->> '$')
        WHEN 'currency' THEN number_text(v ->> '$')
        WHEN 'emoji' THEN number_text(v ->> '$')
        WHEN 'manual_progress' THEN number_text(v ->> 'percent_completed') || '%'
        WHEN 'automatic_progress' THEN number_text(v ->> 'percent_completed') || '%'
        WHEN 'location' THEN v ->> 'formatted_address'
        ELSE v ->> '$'
    END AS value
FROM valued
