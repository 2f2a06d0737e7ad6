-- staging.work_items for one ClickUp workspace. Params: $workspace, $cascade_id_field.
-- Status categories come from the status type, overridden by the temp table status_overrides.
-- Each payload is parsed once (json_transform into the fields used here), not once per field.
WITH t AS (
    SELECT workspace, json_transform(payload, '{
        "id": "VARCHAR", "custom_item_id": "VARCHAR", "parent": "VARCHAR", "list": {"id": "VARCHAR"},
        "name": "VARCHAR", "text_content": "VARCHAR", "status": {"status": "VARCHAR", "type": "VARCHAR"},
        "start_date": "VARCHAR", "due_date": "VARCHAR", "date_done": "VARCHAR", "date_closed": "VARCHAR",
        "date_created": "VARCHAR", "date_updated": "VARCHAR", "assignees": [{"id": "VARCHAR"}], "url": "VARCHAR",
        "custom_fields": [{"name": "VARCHAR", "value": "VARCHAR"}], "archived": "VARCHAR",
        "priority": {"priority": "VARCHAR"}}') AS p
    FROM raw.clickup_tasks
    WHERE workspace = $workspace
)

SELECT
    t.workspace,
    'clickup' AS source,
    p.id AS item_id,
    CASE
        WHEN TRY_CAST(p.custom_item_id AS INTEGER) = 1 THEN 'milestone'
        WHEN p.parent IS NOT NULL THEN 'subtask'
        ELSE 'task'
    END AS item_type,
    p.parent AS parent_id,
    p.list.id AS container_id,
    p.name AS title,
    NULLIF(p.text_content, '') AS description,
    p.status.status AS status,
    COALESCE(o.category, CASE p.status.type
        WHEN 'open' THEN 'not_started'
        WHEN 'custom' THEN 'in_progress'
        WHEN 'done' THEN 'done'
        WHEN 'closed' THEN 'done'
    END) AS status_category,
    ms_to_ts(p.start_date) AS start_at,
    ms_to_ts(p.due_date) AS due_at,
    ms_to_ts(COALESCE(p.date_done, p.date_closed)) AS completed_at,
    ms_to_ts(p.date_created) AS created_at,
    ms_to_ts(p.date_updated) AS updated_at,
    COALESCE(list_transform(p.assignees, LAMBDA a: a.id), [])::VARCHAR[] AS assignee_ids,
    p.url AS url,
    list_filter(p.custom_fields, LAMBDA f: f.name = $cascade_id_field AND f.value <> '')[1].value
        AS cascade_id,
    COALESCE(TRY_CAST(p.archived AS BOOLEAN), FALSE) AS is_archived,
    p.priority.priority AS priority
FROM t
LEFT JOIN status_overrides AS o ON o.status = lower(p.status.status)
