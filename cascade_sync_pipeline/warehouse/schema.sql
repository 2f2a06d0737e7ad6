-- The warehouse contract: schemas raw, staging and sync. Every table carries `workspace`
-- (the partition key) so one partition can be replaced without touching another.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS sync;

CREATE TABLE IF NOT EXISTS staging.work_items (
    workspace        VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    item_id          VARCHAR NOT NULL,
    item_type        VARCHAR NOT NULL,   -- task | subtask | milestone | project
    parent_id        VARCHAR,
    container_id     VARCHAR,
    title            VARCHAR,
    description      VARCHAR,
    status           VARCHAR,
    status_category  VARCHAR,            -- not_started | in_progress | done | deferred | cancelled
    start_at         TIMESTAMP,          -- UTC
    due_at           TIMESTAMP,
    completed_at     TIMESTAMP,
    created_at       TIMESTAMP,
    updated_at       TIMESTAMP,
    assignee_ids     VARCHAR[],
    url              VARCHAR,
    cascade_id       VARCHAR,
    is_archived      BOOLEAN NOT NULL,
    PRIMARY KEY (workspace, item_id)
);

CREATE TABLE IF NOT EXISTS staging.custom_field_values (
    workspace   VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    field_id    VARCHAR NOT NULL,
    field_name  VARCHAR NOT NULL,
    field_type  VARCHAR NOT NULL,
    value       VARCHAR,
    PRIMARY KEY (workspace, item_id, field_id)
);

CREATE TABLE IF NOT EXISTS staging.containers (
    workspace       VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    container_id    VARCHAR NOT NULL,
    container_type  VARCHAR NOT NULL,   -- space | folder | list | project
    name            VARCHAR,
    parent_id       VARCHAR,
    PRIMARY KEY (workspace, container_id)
);

CREATE TABLE IF NOT EXISTS staging.users (
    workspace  VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    user_id    VARCHAR NOT NULL,
    name       VARCHAR,
    email      VARCHAR,
    PRIMARY KEY (workspace, user_id)
);

CREATE TABLE IF NOT EXISTS sync.extract_state (
    workspace        VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    stream           VARCHAR NOT NULL,
    watermark        VARCHAR,            -- the source's own cursor (ClickUp: ms epoch of date_updated)
    last_full_at     TIMESTAMP,
    last_run_at      TIMESTAMP,
    PRIMARY KEY (workspace, stream)
);
