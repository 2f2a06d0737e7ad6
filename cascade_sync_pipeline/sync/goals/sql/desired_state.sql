-- sync.desired_state for one workspace on the classic API: every goal and task Cascade should hold,
-- as it should hold it (titles are split into action/details afterwards, in Python: desired.py).
-- Params: see sync/goals/mapping.py sql_params. Temp tables from register_lookups: map_placements,
-- map_status_rules, map_status_fallback, map_weights, cascade_users.
WITH RECURSIVE
items AS (
    SELECT * FROM staging.work_items WHERE workspace = $workspace
),

containers AS (
    SELECT container_id, container_type, parent_id, name FROM staging.containers WHERE workspace = $workspace
),

-- Every container with its ancestors, itself first (depth 0).
container_up (container_id, ancestor_id, depth) AS (
    SELECT container_id, container_id AS ancestor_id, 0 AS depth FROM containers
    UNION ALL
    SELECT u.container_id, c.parent_id, u.depth + 1
    FROM container_up AS u INNER JOIN containers AS c ON c.container_id = u.ancestor_id
    WHERE c.parent_id IS NOT NULL AND u.depth < 32
),

-- Every container around an item, nearest first (its list or project at depth 0); a Wrike
-- project also meets itself at depth -1 (by_container and containers may name it).
ancestry AS (
    SELECT item_id, container_id, depth FROM container_chain($workspace)
    UNION ALL
    SELECT item_id, item_id AS container_id, -1 AS depth FROM items WHERE item_type = 'project'
),

named_ancestry AS (
    SELECT a.*, COALESCE(c.name, i.title) AS name, c.container_type
    FROM ancestry AS a
    LEFT JOIN containers AS c ON c.container_id = a.container_id
    LEFT JOIN items AS i ON a.depth = -1 AND i.item_id = a.item_id
),

in_scope AS (
    SELECT i.*
    FROM items AS i
    WHERE
        ($include_archived OR NOT i.is_archived)
        AND (len($statuses) = 0 OR list_contains($statuses::VARCHAR[], lower(i.status)))
        AND NOT list_contains($exclude_statuses::VARCHAR[], lower(COALESCE(i.status, '')))
        AND (
            len($containers) = 0
            OR list_contains($containers::VARCHAR[], i.item_id)
            OR EXISTS (
                SELECT 1
                FROM named_ancestry AS a
                WHERE
                    a.item_id = i.item_id
                    AND (
                        list_contains($containers::VARCHAR[], a.container_id)
                        OR list_contains($containers::VARCHAR[], a.name)
                    )
            )
        )
),

chosen AS (
    SELECT * FROM in_scope WHERE list_contains($item_types::VARCHAR[], item_type)
),

-- Subtasks (of subtasks): the topmost chosen item above an item through parent_id, if any.
item_up (item_id, ancestor_id, depth) AS (
    SELECT item_id, parent_id, 1 FROM chosen WHERE parent_id IS NOT NULL
    UNION ALL
    SELECT u.item_id, i.parent_id, u.depth + 1
    FROM item_up AS u INNER JOIN items AS i ON i.item_id = u.ancestor_id
    WHERE i.parent_id IS NOT NULL AND u.depth < 16
),

root_of AS (
    SELECT u.item_id, arg_max(u.ancestor_id, u.depth) AS root_id
    FROM item_up AS u INNER JOIN chosen AS c ON c.item_id = u.ancestor_id
    GROUP BY u.item_id
),

-- A project, or (tasks_as: project | kpi) a task without a chosen parent, is a goal; everything else a task.
typed AS (
    SELECT
        c.*, r.root_id,
        CASE WHEN r.root_id IS NULL AND (c.item_type = 'project' OR $tasks_as <> 'task') THEN 'goal' ELSE 'task' END
            AS cascade_type,
        CASE
            WHEN r.root_id IS NOT NULL THEN NULL
            WHEN c.item_type = 'project' THEN 'objective'
            WHEN $tasks_as <> 'task' THEN $tasks_as
        END AS goal_kind
    FROM chosen AS c LEFT JOIN root_of AS r USING (item_id)
),

-- Containers of a chosen type that hold a chosen item (at any depth) become goals.
goal_containers AS (
    SELECT DISTINCT c.container_id, c.container_type, c.name
    FROM named_ancestry AS a
    INNER JOIN typed AS t ON t.item_id = a.item_id
    INNER JOIN containers AS c ON c.container_id = a.container_id
    WHERE a.depth >= 0 AND list_contains($goal_containers::VARCHAR[], c.container_type)
),

goal_nodes AS (
    SELECT container_id AS node_id FROM goal_containers
    UNION ALL
    SELECT item_id FROM typed WHERE cascade_type = 'goal'
),

-- The nearest goal above an item or a container goal (its parent goal, or the goal a task sits on).
item_goal_above AS (
    SELECT a.item_id, arg_min(a.container_id, a.depth) AS node_id
    FROM ancestry AS a INNER JOIN goal_nodes AS g ON g.node_id = a.container_id
    WHERE a.depth >= 0
    GROUP BY a.item_id
),

container_goal_above AS (
    SELECT u.container_id, arg_min(u.ancestor_id, u.depth) AS node_id
    FROM container_up AS u
    INNER JOIN goal_containers AS gc ON gc.container_id = u.container_id
    INNER JOIN goal_nodes AS g ON g.node_id = u.ancestor_id
    WHERE u.depth > 0
    GROUP BY u.container_id
),

-- Where a unit lands when no goal is above it: the nearest by_container entry, else the default target.
placement_of AS (
    SELECT
        a.item_id AS unit_id,
        arg_min({'focus_area_ids': p.focus_area_ids, 'parent_goal_id': p.parent_goal_id}, a.depth) AS p
    FROM named_ancestry AS a INNER JOIN map_placements AS p ON p.container_key IN (a.container_id, a.name)
    GROUP BY a.item_id
    UNION ALL
    SELECT
        u.container_id AS unit_id,
        arg_min({'focus_area_ids': p.focus_area_ids, 'parent_goal_id': p.parent_goal_id}, u.depth) AS p
    FROM container_up AS u
    INNER JOIN goal_containers AS gc ON gc.container_id = u.container_id
    INNER JOIN containers AS c ON c.container_id = u.ancestor_id
    INNER JOIN map_placements AS p ON p.container_key IN (c.container_id, c.name)
    GROUP BY u.container_id
),

default_placement AS (
    SELECT {'focus_area_ids': focus_area_ids, 'parent_goal_id': parent_goal_id} AS p
    FROM map_placements WHERE container_key IS NULL
),

assignees AS (
    SELECT item_id, unnest(assignee_ids) AS user_id, generate_subscripts(assignee_ids, 1) AS pos
    FROM typed
),

owners AS (
    SELECT
        a.item_id,
        arg_min(cu.role_id, a.pos) FILTER (WHERE cu.role_id IS NOT NULL) AS role_id,
        list(COALESCE(u.name, a.user_id) || ' <' || COALESCE(u.email, 'no email') || '>' ORDER BY a.pos)
        FILTER (WHERE cu.role_id IS NULL) AS unmatched
    FROM assignees AS a
    LEFT JOIN staging.users AS u ON u.workspace = $workspace AND u.user_id = a.user_id
    LEFT JOIN cascade_users AS cu ON cu.email = lower(trim(u.email))
    GROUP BY a.item_id
),

work AS (
    SELECT
        t.*,
        COALESCE(r.outcome, f.outcome) AS outcome,
        COALESCE(w.weight_id, $default_weight) AS weight_id,
        CASE WHEN COALESCE(r.outcome, f.outcome) = 'complete' THEN 100.0 ELSE ip.progress END AS item_progress,
        -- Goals need both dates: the start (else created), the due date (else default_goal_days later).
        CAST(COALESCE(t.start_at, t.created_at, t.due_at) AS DATE) AS goal_start_raw,
        COALESCE(
            CAST(t.due_at AS DATE),
            CAST(CAST(COALESCE(t.start_at, t.created_at) AS DATE) + to_days($goal_days) AS DATE)
        ) AS goal_end
    FROM typed AS t
    LEFT JOIN map_status_rules AS r ON r.status = lower(trim(t.status))
    LEFT JOIN map_status_fallback AS f ON f.category = t.status_category
    LEFT JOIN map_weights AS w ON w.priority = lower(trim(t.priority))
    LEFT JOIN item_progress($workspace, $progress_rule, $progress_field) AS ip ON ip.item_id = t.item_id
),

dated AS (
    SELECT * EXCLUDE (goal_start_raw), least(goal_start_raw, goal_end) AS goal_start FROM work
),

-- A container goal spans the items below it and is as far along as the share of them that is done.
container_facts AS (
    SELECT
        gc.container_id, min(d.goal_start) AS goal_start, max(d.goal_end) AS goal_end,
        round(100.0 * count(*) FILTER (WHERE d.outcome = 'complete') / count(*), 2) AS progress
    FROM goal_containers AS gc
    INNER JOIN ancestry AS a ON a.container_id = gc.container_id AND a.depth >= 0
    INNER JOIN dated AS d ON d.item_id = a.item_id
    GROUP BY gc.container_id
),

item_rows AS (
    SELECT
        d.item_id, d.item_type, d.cascade_type, d.goal_kind,
        CASE
            WHEN d.cascade_type = 'task' AND d.root_id IS NOT NULL
                THEN
                    CASE WHEN root.cascade_type = 'goal' THEN root.item_id ELSE root_goal.node_id END
            ELSE ga.node_id
        END AS parent_item_id,
        COALESCE(CASE WHEN d.root_id IS NOT NULL THEN root_place.p ELSE place.p END, dp.p) AS placement,
        COALESCE(NULLIF(trim(d.title), ''), '(untitled ' || d.item_id || ')') AS name,
        CASE WHEN d.cascade_type = 'task' THEN left(NULLIF(d.description, ''), 20000) END AS description,
        d.outcome,
        CASE WHEN d.cascade_type = 'goal' THEN CASE d.outcome WHEN 'archived' THEN 'ARCHI' ELSE 'APPRO' END END
            AS status,
        CASE WHEN d.cascade_type = 'task' THEN CASE WHEN d.outcome IN ('complete', 'archived') THEN 1 ELSE 0 END END
            AS is_complete,
        CASE WHEN d.cascade_type = 'goal' AND $goal_progress = 'manual' THEN d.item_progress END AS progress,
        CASE WHEN d.cascade_type = 'goal' THEN d.goal_start ELSE CAST(d.start_at AS DATE) END AS start_date,
        CASE WHEN d.cascade_type = 'goal' THEN d.goal_end ELSE CAST(d.due_at AS DATE) END AS due_date,
        o.role_id, d.weight_id,
        COALESCE(o.unmatched, []) AS unmatched_assignees,
        d.status AS source_status, d.status_category, d.cascade_id AS claimed_cascade_id, d.container_id, d.url
    FROM dated AS d
    LEFT JOIN item_goal_above AS ga ON ga.item_id = d.item_id
    LEFT JOIN typed AS root ON root.item_id = d.root_id
    LEFT JOIN item_goal_above AS root_goal ON root_goal.item_id = d.root_id
    LEFT JOIN placement_of AS place ON place.unit_id = d.item_id
    LEFT JOIN placement_of AS root_place ON root_place.unit_id = d.root_id
    LEFT JOIN owners AS o ON o.item_id = d.item_id
    CROSS JOIN default_placement AS dp
),

container_rows AS (
    SELECT
        gc.container_id AS item_id, gc.container_type AS item_type, 'goal' AS cascade_type, 'objective' AS goal_kind,
        above.node_id AS parent_item_id, COALESCE(place.p, dp.p) AS placement,
        COALESCE(NULLIF(trim(gc.name), ''), '(untitled ' || gc.container_id || ')') AS name,
        'open' AS outcome, 'APPRO' AS status,
        CASE WHEN $goal_progress = 'manual' THEN f.progress END AS progress,
        f.goal_start AS start_date, f.goal_end AS due_date,
        $default_weight AS weight_id, gc.container_id AS container_id
    FROM goal_containers AS gc
    INNER JOIN container_facts AS f ON f.container_id = gc.container_id
    LEFT JOIN container_goal_above AS above ON above.container_id = gc.container_id
    LEFT JOIN placement_of AS place ON place.unit_id = gc.container_id
    CROSS JOIN default_placement AS dp
),

checklist_rows AS (
    SELECT
        k.checklist_item_id AS item_id, 'checklist_item' AS item_type, 'task' AS cascade_type,
        k.item_id AS parent_item_id, COALESCE(NULLIF(trim(k.name), ''), '(untitled)') AS name,
        CASE WHEN k.is_resolved THEN 'complete' ELSE 'open' END AS outcome,
        CASE WHEN k.is_resolved THEN 1 ELSE 0 END AS is_complete, $default_weight AS weight_id
    FROM staging.checklist_items AS k
    INNER JOIN typed AS holder ON holder.item_id = k.item_id AND holder.cascade_type = 'goal'
    WHERE k.workspace = $workspace AND $checklists
),

units AS (
    SELECT * FROM item_rows
    UNION ALL BY NAME
    SELECT * FROM container_rows
    UNION ALL BY NAME
    SELECT * FROM checklist_rows
)

SELECT
    $workspace AS workspace, $source AS source, u.item_id, u.item_type, u.cascade_type, u.goal_kind,
    CASE u.goal_kind
        WHEN 'objective' THEN $objective_template WHEN 'project' THEN $project_template
        WHEN 'kpi' THEN $kpi_template
    END AS template_id,
    u.parent_item_id,
    -- A goal with no goal above lands by its placement; a task with no goal above on its placement's goal.
    CASE WHEN u.parent_item_id IS NULL THEN u.placement.parent_goal_id END AS parent_goal_id,
    CASE
        WHEN u.cascade_type = 'goal' AND u.parent_item_id IS NULL AND u.placement.parent_goal_id IS NULL
            THEN u.placement.focus_area_ids
        ELSE []
    END AS focus_area_ids,
    u.name, NULL::VARCHAR AS action, NULL::VARCHAR AS details, u.description, u.outcome, u.status,
    u.is_complete, u.progress,
    CASE WHEN u.cascade_type = 'goal' THEN CASE $goal_progress WHEN 'manual' THEN 'MANUAL' ELSE 'TASKS' END END
        AS tracking_type,
    u.start_date, u.due_date, u.role_id, u.weight_id,
    COALESCE(u.unmatched_assignees, []) AS unmatched_assignees, []::VARCHAR[] AS title_warnings,
    u.source_status, u.status_category, u.claimed_cascade_id, u.container_id, u.url
FROM units AS u
