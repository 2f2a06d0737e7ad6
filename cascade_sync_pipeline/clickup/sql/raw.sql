-- Raw ClickUp extracts: payloads kept verbatim as received, one row per object.
-- Payloads are stored with ZSTD: several times faster to write and to scan than the default
-- dictionary/FSST string compression for multi-kilobyte JSON documents, and smaller on disk.
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
    payload          JSON NOT NULL USING COMPRESSION zstd,
    extracted_at     TIMESTAMP NOT NULL
);
