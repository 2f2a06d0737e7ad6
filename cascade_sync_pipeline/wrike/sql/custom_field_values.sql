-- staging.custom_field_values for one Wrike workspace: one row per entry in a task's, project's
-- or folder's customFields whose definition is known, rendered as a person reads it (contact ids
-- become names, numbers lose trailing zeros, multi-selects read 'A, B'). Param: $workspace.
WITH entries AS (
    SELECT payload ->> 'id' AS item_id, unnest(json_extract(payload, '$.customFields[*]')) AS f
    FROM raw.wrike_tasks
    WHERE workspace = $workspace
    UNION ALL
    SELECT object_id, unnest(json_extract(payload, '$.customFields[*]')) AS f
    FROM raw.wrike_hierarchy
    WHERE workspace = $workspace AND object_type IN ('folder', 'project')
),

contact_names AS (
    SELECT
        map_from_entries(list((contact_id, concat_ws(' ', payload ->> 'firstName', payload ->> 'lastName'))))
            AS names
    FROM raw.wrike_contacts
    WHERE workspace = $workspace
)

SELECT
    $workspace AS workspace,
    'wrike' AS source,
    e.item_id,
    d.field_id,
    COALESCE(d.payload ->> 'title', d.field_id) AS field_name,
    COALESCE(d.payload ->> 'type', 'unknown') AS field_type,
    CASE d.payload ->> 'type'
        WHEN 'Numeric' THEN wrike_number(e.f ->> 'value')
        WHEN 'Currency' THEN wrike_number(e.f ->> 'value')
        WHEN 'Percentage' THEN wrike_number(e.f ->> 'value')
        WHEN 'Contacts'
            THEN
                array_to_string(
                    list_transform(wrike_parts(e.f ->> 'value'), LAMBDA c: COALESCE(n.names[c], c)), ', '
                )
        WHEN 'Multiple' THEN array_to_string(wrike_parts(e.f ->> 'value'), ', ')
        ELSE e.f ->> 'value'
    END AS value
FROM entries AS e
INNER JOIN raw.wrike_custom_fields AS d ON d.workspace = $workspace AND d.field_id = (e.f ->> 'id')
CROSS JOIN contact_names AS n
WHERE e.item_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY e.item_id, d.field_id) = 1  -- one field twice on an item: kept once
