-- The warehouse contract: schemas raw, staging and sync. Every table carries `workspace`
-- (the partition key) so one partition can be replaced without touching another.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS sync;

CREATE TABLE IF NOT EXISTS staging.work_items (
    workspace       VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    item_id         VARCHAR NOT NULL,
    item_type       VARCHAR NOT NULL,   -- task | subtask | milestone | project
    parent_id       VARCHAR,
    container_id    VARCHAR,
    title           VARCHAR,
    description     VARCHAR,
    status          VARCHAR,
    status_category VARCHAR,            -- not_started | in_progress | done | deferred | cancelled
    start_at        TIMESTAMP,          -- UTC
    due_at          TIMESTAMP,
    completed_at    TIMESTAMP,
    created_at      TIMESTAMP,
    updated_at      TIMESTAMP,
    assignee_ids    VARCHAR[],
    url             VARCHAR,
    cascade_id      VARCHAR,
    is_archived     BOOLEAN NOT NULL,
    priority        VARCHAR,            -- the source's own priority name (ClickUp priority, Wrike importance)
    PRIMARY KEY (workspace, item_id)
);

CREATE TABLE IF NOT EXISTS staging.custom_field_values (
    workspace  VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    item_id    VARCHAR NOT NULL,
    field_id   VARCHAR NOT NULL,
    field_name VARCHAR NOT NULL,
    field_type VARCHAR NOT NULL,
    value      VARCHAR,
    PRIMARY KEY (workspace, item_id, field_id)
);

CREATE TABLE IF NOT EXISTS staging.containers (
    workspace      VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    container_id   VARCHAR NOT NULL,
    container_type VARCHAR NOT NULL,   -- space | folder | list | project
    name           VARCHAR,
    parent_id      VARCHAR,
    PRIMARY KEY (workspace, container_id)
);

CREATE TABLE IF NOT EXISTS staging.users (
    workspace VARCHAR NOT NULL,
    source    VARCHAR NOT NULL,
    user_id   VARCHAR NOT NULL,
    name      VARCHAR,
    email     VARCHAR,
    PRIMARY KEY (workspace, user_id)
);

CREATE TABLE IF NOT EXISTS sync.extract_state (
    workspace    VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    stream       VARCHAR NOT NULL,
    watermark    VARCHAR,            -- the source's own cursor (ClickUp: ms epoch of date_updated)
    last_full_at TIMESTAMP,
    last_run_at  TIMESTAMP,
    PRIMARY KEY (workspace, stream)
);

-- Checklist items of source items (ClickUp task checklists), flattened.
CREATE TABLE IF NOT EXISTS staging.checklist_items (
    workspace         VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    item_id           VARCHAR NOT NULL,   -- the work item holding the checklist
    checklist_item_id VARCHAR NOT NULL,
    name              VARCHAR,
    is_resolved       BOOLEAN NOT NULL,
    position          INTEGER NOT NULL,   -- 1-based across the item's checklists
    PRIMARY KEY (workspace, checklist_item_id)
);

-- Source item <-> Cascade item: the only identity the sync trusts.
CREATE TABLE IF NOT EXISTS sync.id_map (
    workspace       VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    item_id         VARCHAR NOT NULL,
    cascade_type    VARCHAR NOT NULL,   -- action | measure (Integrations API); goal | task (classic API)
    cascade_id      VARCHAR NOT NULL,   -- text: the Integrations API's ids are strings
    first_synced_at TIMESTAMP NOT NULL,
    last_synced_at  TIMESTAMP NOT NULL,
    written_back_id VARCHAR,            -- the Cascade ID last written into the source's ID field
    parent_item_id  VARCHAR,            -- unused since 0.3.0 (the invented contract's milestones)
    linked_by       VARCHAR,            -- field | config_item | config_container | created
    PRIMARY KEY (workspace, item_id),
    UNIQUE (cascade_type, cascade_id)
);

-- What Cascade should hold for one workspace (classic API: goals and tasks), from staging and the
-- mapping rules. Rebuilt every run.
CREATE TABLE IF NOT EXISTS sync.desired_state (
    workspace           VARCHAR NOT NULL,
    source              VARCHAR NOT NULL,
    item_id             VARCHAR NOT NULL,   -- a work item, a container that becomes a goal, or a checklist item
    -- the source's type: task | subtask | milestone | project | space | folder | list | checklist_item
    item_type           VARCHAR NOT NULL,
    cascade_type        VARCHAR NOT NULL,   -- goal | task
    goal_kind           VARCHAR,            -- goals: objective | project | kpi
    template_id         BIGINT,             -- goals: entity_template_id of the kind (NULL: Cascade's default)
    parent_item_id      VARCHAR,            -- the item or container whose goal is the parent goal / holds the task
    parent_goal_id      BIGINT,             -- a configured Cascade goal as parent (no goal above in the source)
    focus_area_ids      BIGINT[],           -- top-level goals: where they land
    name                VARCHAR NOT NULL,   -- the source title
    action              VARCHAR,            -- goals: the title's first word (<= 25 characters)
    details             VARCHAR,            -- goals: the rest of the title (<= 300 characters)
    description         VARCHAR,            -- tasks: the comment
    outcome             VARCHAR,            -- open | complete | archived; NULL: no status rule nor fallback
    status              VARCHAR,            -- goals: APPRO | ARCHI
    is_complete         INTEGER,            -- tasks: 0 | 1
    progress            DOUBLE,             -- goals tracked MANUAL: 0-100
    tracking_type       VARCHAR,            -- goals: MANUAL | TASKS
    start_date          DATE,
    due_date            DATE,
    role_id             BIGINT,             -- the owner's Cascade role (first assignee in cascade.users)
    weight_id           INTEGER NOT NULL,   -- 1 (highest) to 4, from the priority
    unmatched_assignees VARCHAR[],
    title_warnings      VARCHAR[],          -- what was cut from a goal's title to fit action and details
    source_status       VARCHAR,
    status_category     VARCHAR,
    claimed_cascade_id  VARCHAR,            -- the value of the source item's Cascade ID field
    container_id        VARCHAR,
    url                 VARCHAR,
    PRIMARY KEY (workspace, item_id)
);

-- Goals and tasks of a workspace as Cascade answered this run (read back by id, archived ones too).
CREATE TABLE IF NOT EXISTS sync.cascade_items (
    workspace    VARCHAR NOT NULL,
    cascade_type VARCHAR NOT NULL,        -- goal | task
    cascade_id   BIGINT NOT NULL,
    item_id      VARCHAR,                 -- the source item it is mapped to (sync.id_map) or claimed by
    payload      JSON NOT NULL,
    fetched_at   TIMESTAMP NOT NULL
);

-- Creates sent (or about to be sent) whose Cascade id is not recorded yet: a run killed between a
-- create and its sync.id_map row leaves one here, and the next run looks for the item before
-- creating it again (the classic API has no idempotency key).
CREATE TABLE IF NOT EXISTS sync.create_attempts (
    workspace     VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,
    cascade_type  VARCHAR NOT NULL,
    look_after_id BIGINT NOT NULL,        -- the highest id known before the create: the new one is above it
    body          JSON NOT NULL,          -- what was sent (no secret), to recognise the stored item
    attempted_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace, item_id)
);

-- The operations that make Cascade match the desired state, field by field (the dry-run preview).
CREATE TABLE IF NOT EXISTS sync.diff (
    workspace    VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    -- set | history (links); create | update | link | archive | complete | delete (goals and tasks)
    op           VARCHAR NOT NULL,
    cascade_type VARCHAR NOT NULL,
    item_id      VARCHAR NOT NULL,
    cascade_id   VARCHAR,
    field        VARCHAR NOT NULL,
    before       VARCHAR,
    after        VARCHAR,
    item_name    VARCHAR,
    applied_at   TIMESTAMP
);

-- One row per sync of one workspace.
CREATE TABLE IF NOT EXISTS sync.runs (
    workspace       VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    status          VARCHAR NOT NULL,     -- running | blocked | dry_run | succeeded | failed
    items_read      INTEGER,
    created         INTEGER,
    updated         INTEGER,
    archived        INTEGER,
    unchanged       INTEGER,
    cascade_writes  INTEGER,
    source_requests INTEGER,
    dry_run         BOOLEAN NOT NULL,
    message         VARCHAR,              -- why a run was blocked or failed
    PRIMARY KEY (workspace, run_id)
);

-- Links set in the config (Integrations API), each side resolved once and pinned by id.
CREATE TABLE IF NOT EXISTS sync.links (
    workspace    VARCHAR NOT NULL,
    link         VARCHAR NOT NULL,        -- the config entry as a person reads it
    source_kind  VARCHAR NOT NULL,        -- container | item
    source_id    VARCHAR NOT NULL,
    source_name  VARCHAR,                 -- its name when pinned
    cascade_type VARCHAR NOT NULL,        -- action | measure
    cascade_id   VARCHAR NOT NULL,
    cascade_name VARCHAR,
    pinned_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace, link)
);

-- What a run found wrong with the links (ids naming nothing, renamed or vanished pins), one row each.
CREATE TABLE IF NOT EXISTS sync.link_problems (
    workspace  VARCHAR NOT NULL,
    problem    VARCHAR NOT NULL,        -- unknown_id | other_plan | unresolved | renamed | vanished | shadowed
    item_id    VARCHAR,
    cascade_id VARCHAR,
    message    VARCHAR NOT NULL
);

-- The value each linked Cascade action or measure should hold, and how it was computed.
CREATE TABLE IF NOT EXISTS sync.desired_values (
    workspace    VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    cascade_type VARCHAR NOT NULL,        -- action (progress 0-100) | measure (current value)
    cascade_id   VARCHAR NOT NULL,
    cascade_name VARCHAR,
    plan_id      VARCHAR NOT NULL,
    item_id      VARCHAR NOT NULL,        -- the linked source item or container
    linked_by    VARCHAR NOT NULL,
    value        DOUBLE NOT NULL,
    basis        VARCHAR,                 -- e.g. '5 of 8 done'
    blocked      VARCHAR,                 -- why the value is held back (two sources disagree), else NULL
    PRIMARY KEY (workspace, cascade_type, cascade_id, item_id)
);

-- A measure's daily values up to yesterday, from the completion dates of its linked scope.
CREATE TABLE IF NOT EXISTS sync.desired_history (
    workspace  VARCHAR NOT NULL,
    cascade_id VARCHAR NOT NULL,
    day        DATE NOT NULL,
    value      DOUBLE NOT NULL,
    PRIMARY KEY (workspace, cascade_id, day)
);

-- What the sync last pushed (the Integrations API reads no value back).
CREATE TABLE IF NOT EXISTS sync.pushed_values (
    workspace    VARCHAR NOT NULL,
    cascade_type VARCHAR NOT NULL,
    cascade_id   VARCHAR NOT NULL,
    value        DOUBLE NOT NULL,
    basis        VARCHAR,
    pushed_at    TIMESTAMP NOT NULL,
    run_id       VARCHAR,
    PRIMARY KEY (workspace, cascade_type, cascade_id)
);

CREATE TABLE IF NOT EXISTS sync.pushed_history (
    workspace  VARCHAR NOT NULL,
    cascade_id VARCHAR NOT NULL,
    day        DATE NOT NULL,
    value      DOUBLE NOT NULL,
    pushed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace, cascade_id, day)
);

-- Columns added after the tables first shipped: files created earlier gain them on open.
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS written_back_id VARCHAR;
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS parent_item_id VARCHAR;
ALTER TABLE sync.runs ADD COLUMN IF NOT EXISTS message VARCHAR;
ALTER TABLE sync.id_map ADD COLUMN IF NOT EXISTS linked_by VARCHAR;
ALTER TABLE staging.work_items ADD COLUMN IF NOT EXISTS priority VARCHAR;
