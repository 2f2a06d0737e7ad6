-- staging.users for one ClickUp workspace: the Workspace's members. Param: $workspace.
WITH members AS (
    SELECT workspace, unnest(json_extract(payload, '$.members[*].user')) AS u
    FROM raw.clickup_hierarchy
    WHERE workspace = $workspace AND object_type = 'team'
)

SELECT DISTINCT ON (u ->> 'id')
    workspace,
    'clickup' AS source,
    u ->> 'id' AS user_id,
    u ->> 'username' AS name,
    u ->> 'email' AS email
FROM members
WHERE u ->> 'id' IS NOT NULL
