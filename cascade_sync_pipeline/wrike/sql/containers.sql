-- staging.containers for one Wrike workspace: spaces, plain folders and projects; the Root and
-- Recycle Bin pseudo-folders and folders in the Recycle Bin are not containers. Param: $workspace.
SELECT
    workspace,
    'wrike' AS source,
    object_id AS container_id,
    object_type AS container_type,
    payload ->> 'title' AS name,
    parent_id
FROM raw.wrike_hierarchy
WHERE workspace = $workspace AND NOT starts_with(COALESCE(payload ->> 'scope', ''), 'Rb')
