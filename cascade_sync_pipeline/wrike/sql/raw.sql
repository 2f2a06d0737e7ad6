-- Raw Wrike extracts: API payloads kept verbatim as received, one row per object.
CREATE TABLE IF NOT EXISTS raw.wrike_hierarchy (
    workspace    VARCHAR NOT NULL,
    object_type  VARCHAR NOT NULL,   -- space | folder | project (a folder with a `project` object)
    object_id    VARCHAR NOT NULL,
    parent_id    VARCHAR,            -- first parentIds entry; NULL for spaces
    payload      JSON NOT NULL,
    extracted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wrike_custom_fields (
    workspace    VARCHAR NOT NULL,
    field_id     VARCHAR NOT NULL,
    payload      JSON NOT NULL,
    extracted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wrike_workflows (
    workspace    VARCHAR NOT NULL,
    workflow_id  VARCHAR NOT NULL,
    payload      JSON NOT NULL,
    extracted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wrike_contacts (
    workspace    VARCHAR NOT NULL,
    contact_id   VARCHAR NOT NULL,
    payload      JSON NOT NULL,
    extracted_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wrike_tasks (
    workspace    VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    updated_date VARCHAR,            -- Wrike's updatedDate (yyyy-MM-ddTHH:mm:ssZ, sorts as text)
    payload      JSON NOT NULL,
    extracted_at TIMESTAMP NOT NULL
);
