-- staging.work_items for one Wrike workspace: projects (folders with a `project` object) and
-- tasks, subtasks and milestones, Recycle Bin included. Params: $workspace, $cascade_id_field.
-- `status` is the custom status name; its category comes from the workflow group (Active is
-- `in_progress`, except a workflow's first Active status when its Active group has several statuses:
-- that one is `not_started`; with Wrike's default workflow, Active alone, open work is in progress),
-- overridden by the temp table status_overrides (keyed by lowercase status name or custom status id).
WITH workflows AS (
    SELECT json_extract(payload, '$.customStatuses[*]') AS statuses
    FROM raw.wrike_workflows
    WHERE workspace = $workspace
),

statuses AS (
    SELECT DISTINCT ON (s ->> 'id')
        s ->> 'id' AS status_id,
        s ->> 'name' AS name,
        CASE s ->> 'group'
            WHEN 'Active'
                THEN
                    CASE
                        WHEN s ->> 'id' = first_active AND active_count > 1
                            THEN 'not_started'
                        ELSE 'in_progress'
                    END
            WHEN 'Completed' THEN 'done'
            WHEN 'Deferred' THEN 'deferred'
            WHEN 'Cancelled' THEN 'cancelled'
        END AS category
    FROM (
        SELECT
            unnest(statuses) AS s,
            list_filter(statuses, LAMBDA x: (x ->> 'group') = 'Active')[1] ->> 'id' AS first_active,
            len(list_filter(statuses, LAMBDA x: (x ->> 'group') = 'Active')) AS active_count
        FROM workflows
    ) AS workflow_statuses
),

cascade_fields AS (
    SELECT field_id FROM raw.wrike_custom_fields
    WHERE workspace = $workspace AND (payload ->> 'title') = $cascade_id_field
),

items AS (
    SELECT
        workspace,
        p,
        'project' AS item_type,
        NULL::VARCHAR AS parent_id,
        p -> 'project' ->> 'customStatusId' AS status_id,
        p -> 'project' ->> 'startDate' AS start_text,
        p -> 'project' ->> 'endDate' AS due_text,
        p -> 'project' ->> 'completedDate' AS completed_text,
        json_extract_string(p, '$.project.ownerIds[*]') AS assignees,
        NULL::VARCHAR AS priority
    FROM (
        SELECT workspace, payload AS p FROM raw.wrike_hierarchy
        WHERE workspace = $workspace AND object_type = 'project'
    ) AS projects
    UNION ALL
    SELECT
        workspace,
        p,
        CASE
            WHEN json_array_length(p, '$.superTaskIds') > 0 THEN 'subtask'
            WHEN (p -> 'dates' ->> 'type') = 'Milestone' THEN 'milestone'
            ELSE 'task'
        END AS item_type,
        p -> 'superTaskIds' ->> 0 AS parent_id,
        p ->> 'customStatusId' AS status_id,
        p -> 'dates' ->> 'start' AS start_text,
        p -> 'dates' ->> 'due' AS due_text,
        p ->> 'completedDate' AS completed_text,
        json_extract_string(p, '$.responsibleIds[*]') AS assignees,
        p ->> 'importance' AS priority
    FROM (SELECT workspace, payload AS p FROM raw.wrike_tasks WHERE workspace = $workspace) AS tasks
)

SELECT
    i.workspace,
    'wrike' AS source,
    p ->> 'id' AS item_id,
    i.item_type,
    i.parent_id,
    p -> 'parentIds' ->> 0 AS container_id,
    p ->> 'title' AS title,
    p ->> 'description' AS description,
    s.name AS status,
    COALESCE(o.category, s.category) AS status_category,
    wrike_ts(i.start_text) AS start_at,
    wrike_ts(i.due_text) AS due_at,
    wrike_ts(i.completed_text) AS completed_at,
    wrike_ts(p ->> 'createdDate') AS created_at,
    wrike_ts(p ->> 'updatedDate') AS updated_at,
    COALESCE(i.assignees, [])::VARCHAR[] AS assignee_ids,
    p ->> 'permalink' AS url,
    (
        SELECT f ->> 'value'
        FROM (SELECT unnest(json_extract(p, '$.customFields[*]')) AS f) AS entries
        WHERE (f ->> 'id') IN (SELECT field_id FROM cascade_fields) AND COALESCE(f ->> 'value', '') <> ''
        LIMIT 1
    ) AS cascade_id,
    starts_with(COALESCE(p ->> 'scope', ''), 'Rb') AS is_archived,
    i.priority
FROM items AS i
LEFT JOIN statuses AS s ON s.status_id = i.status_id
LEFT JOIN status_overrides AS o ON o.status = lower(s.name) OR o.status = lower(s.status_id)
