-- staging.containers for one ClickUp workspace: spaces, visible folders and lists. Param: $workspace.
SELECT
    workspace,
    'clickup' AS source,
    object_id AS container_id,
    object_type AS container_type,
    payload ->> 'name' AS name,
    CASE WHEN object_type = 'space' THEN NULL ELSE parent_id END AS parent_id
FROM raw.clickup_hierarchy
WHERE workspace = $workspace AND object_type IN ('space', 'folder', 'list')
