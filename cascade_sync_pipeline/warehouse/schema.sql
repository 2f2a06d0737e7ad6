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

-- Checklist items of source items (ClickUp task checklists), flattened.
CREATE TABLE IF NOT EXISTS staging.checklist_items (
    workspace          VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    item_id            VARCHAR NOT NULL,   -- the work item holding the checklist
    checklist_item_id  VARCHAR NOT NULL,
    name               VARCHAR,
    is_resolved        BOOLEAN NOT NULL,
    position           INTEGER NOT NULL,   -- 1-based across the item's checklists
    PRIMARY KEY (workspace, checklist_item_id)
);

-- Source item <-> Cascade item: the only identity the sync trusts.
CREATE TABLE IF NOT EXISTS sync.id_map (
    workspace         VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    item_id           VARCHAR NOT NULL,
    cascade_type      VARCHAR NOT NULL,   -- action | measure | objective | milestone | checklist_item | goal | task
    cascade_id        VARCHAR NOT NULL,   -- text: the Integrations API's ids are strings
    first_synced_at   TIMESTAMP NOT NULL,
    last_synced_at    TIMESTAMP NOT NULL,
    written_back_id   VARCHAR,            -- the Cascade ID last written into the source's ID field
    parent_item_id    VARCHAR,            -- milestones and checklist items: the item of their action
    linked_by         VARCHAR,            -- field | config_item | config_container | created
    PRIMARY KEY (workspace, item_id),
    UNIQUE (cascade_type, cascade_id)
);

-- What Cascade should hold for one workspace, from staging and the mapping rules.
CREATE TABLE IF NOT EXISTS sync.desired_state (
    workspace            VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,
    item_id              VARCHAR NOT NULL,
    item_type            VARCHAR NOT NULL,   -- the source's type, or checklist_item
    cascade_type         VARCHAR NOT NULL,
    parent_item_id       VARCHAR,            -- a source item whose Cascade item is the parent
    parent_cascade_id    BIGINT,             -- a configured Cascade objective (or plan for objectives)
    plan_id              BIGINT,
    focus_area_id        BIGINT,
    name                 VARCHAR NOT NULL,
    description          VARCHAR,
    status               VARCHAR,            -- NULL: no status rule nor fallback for the source status
    progress             DOUBLE,
    completed            BOOLEAN,
    position             INTEGER,
    start_date           DATE,
    due_date             DATE,
    owner_id             BIGINT,
    collaborator_ids     BIGINT[],
    unmatched_assignees  VARCHAR[],
    custom_fields        STRUCT(field_id BIGINT, name VARCHAR, type VARCHAR, value VARCHAR)[],
    source_status        VARCHAR,
    status_category      VARCHAR,
    claimed_cascade_id   VARCHAR,
    container_id         VARCHAR,
    url                  VARCHAR,
    PRIMARY KEY (workspace, item_id)
);

-- Cascade items synced from a workspace, as Cascade answered this run (archived ones too).
CREATE TABLE IF NOT EXISTS sync.cascade_items (
    workspace     VARCHAR NOT NULL,
    cascade_type  VARCHAR NOT NULL,
    cascade_id    BIGINT NOT NULL,
    item_id       VARCHAR,                 -- external_ref.item_id
    payload       JSON NOT NULL,
    fetched_at    TIMESTAMP NOT NULL
);

-- The operations that make Cascade match the desired state, field by field (the dry-run preview).
CREATE TABLE IF NOT EXISTS sync.diff (
    workspace     VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    op            VARCHAR NOT NULL,        -- set | history (links); create | update | archive | unarchive | wont_do | link | remove
    cascade_type  VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,
    cascade_id    VARCHAR,
    field         VARCHAR NOT NULL,
    before        VARCHAR,
    after         VARCHAR,
    item_name     VARCHAR,
    applied_at    TIMESTAMP
);

-- One row per sync of one workspace.
CREATE TABLE IF NOT EXISTS sync.runs (
    workspace        VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    status           VARCHAR NOT NULL,     -- running | blocked | dry_run | succeeded | failed
    items_read       INTEGER,
    created          INTEGER,
    updated          INTEGER,
    archived         INTEGER,
    unchanged        INTEGER,
    cascade_writes   INTEGER,
    source_requests  INTEGER,
    dry_run          BOOLEAN NOT NULL,
    message          VARCHAR,              -- why a run was blocked or failed
    PRIMARY KEY (workspace, run_id)
);

-- Links set in the config (Integrations API), each side resolved once and pinned by id.
CREATE TABLE IF NOT EXISTS sync.links (
    workspace     VARCHAR NOT NULL,
    link          VARCHAR NOT NULL,        -- the config entry as a person reads it
    source_kind   VARCHAR NOT NULL,        -- container | item
    source_id     VARCHAR NOT NULL,
    source_name   VARCHAR,                 -- its name when pinned
    cascade_type  VARCHAR NOT NULL,        -- action | measure
    cascade_id    VARCHAR NOT NULL,
    cascade_name  VARCHAR,
    pinned_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace, link)
);

-- What a run found wrong with the links (ids naming nothing, renamed or vanished pins), one row each.
CREATE TABLE IF NOT EXISTS sync.link_problems (
    workspace     VARCHAR NOT NULL,
    problem       VARCHAR NOT NULL,        -- unknown_id | other_plan | unresolved | renamed | vanished | shadowed
    item_id       VARCHAR,
    cascade_id    VARCHAR,
    message       VARCHAR NOT NULL
);

-- The value each linked Cascade action or measure should hold, and how it was computed.
CREATE TABLE IF NOT EXISTS sync.desired_values (
    workspace     VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    cascade_type  VARCHAR NOT NULL,        -- action (progress 0-100) | measure (current value)
    cascade_id    VARCHAR NOT NULL,
    cascade_name  VARCHAR,
    plan_id       VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,        -- the linked source item or container
    linked_by     VARCHAR NOT NULL,
    value         DOUBLE NOT NULL,
    basis         VARCHAR,                 -- e.g. '5 of 8 done'
    blocked       VARCHAR,                 -- why the value is held back (two sources disagree), else NULL
    PRIMARY KEY (workspace, cascade_type, cascade_id, item_id)
);

-- A measure's daily values up to yesterday, from the completion dates of its linked scope.
CREATE TABLE IF NOT EXISTS sync.desired_history (
    workspace   VARCHAR NOT NULL,
    cascade_id  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    value       DOUBLE NOT NULL,
    PRIMARY KEY (workspace, cascade_id, day)
);

-- What the sync last pushed (the Integrations API reads no value back).
CREATE TABLE IF NOT EXISTS sync.pushed_values (
    workspace     VARCHAR NOT NULL,
    cascade_type  VARCHAR NOT NULL,
    cascade_id    VARCHAR NOT NULL,
    value         DOUBLE NOT NULL,
    basis         VARCHAR,
    pushed_at     TIMESTAMP NOT NULL,
    run_id        VARCHAR,
    PRIMARY KEY (workspace, cascade_type, cascade_id)
);

CREATE TABLE IF NOT EXISTS sync.pushed_history (
    workspace   VARCHAR NOT NULL,
    cascade_id  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    value       DOUBLE NOT NULL,
    pushed_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace, cascade_id, day)
);

-- Columns added after the tables first shipped: files created earlier gain them on open.
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS written_back_id VARCHAR;
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS parent_item_id VARCHAR;
ALTER TABLE sync.runs ADD COLUMN IF NOT EXISTS message VARCHAR;
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS linked_by VARCHAR;
