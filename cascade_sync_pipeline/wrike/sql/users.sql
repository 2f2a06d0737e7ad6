-- staging.users for one Wrike workspace: contacts that are people (groups skipped). Param: $workspace.
SELECT
    workspace,
    'wrike' AS source,
    contact_id AS user_id,
    concat_ws(' ', payload ->> 'firstName', payload ->> 'lastName') AS name,
    payload ->> 'primaryEmail' AS email
FROM raw.wrike_contacts
WHERE workspace = $workspace AND (payload ->> 'type') = 'Person'
