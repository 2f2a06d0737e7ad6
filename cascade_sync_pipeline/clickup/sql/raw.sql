-- Raw ClickUp extracts: payloads kept verbatim as received, one row per object.
CREATE TABLE IF NOT EXISTS raw.clickup_hierarchy (
    workspace     VARCHAR NOT NULL,
    object_type   VARCHAR NOT NULL,   -- team | space | folder | list
    object_id     VARCHAR NOT NULL,
    parent_id     VARCHAR,
    payload       JSON NOT NULL,
    extracted_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.clickup_custom_fields (
    workspace     VARCHAR NOT NULL,
    list_id       VARCHAR NOT NULL,
    field_id      VARCHAR NOT NULL,
    payload       JSON NOT NULL,
    extracted_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.clickup_tasks (
    workspace        VARCHAR NOT NULL,
    task_id          VARCHAR NOT NULL,
    date_updated_ms  BIGINT,
    payload          JSON NOT NULL,
    extracted_at     TIMESTAMP NOT NULL
);
