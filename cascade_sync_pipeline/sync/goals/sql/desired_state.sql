-- sync.desired_state for one workspace: every source item that should exist in Cascade, as Cascade
-- should hold it. Params: see cascade/mapping.py sql_params. Temp tables from register_lookups:
-- map_targets, map_status_rules, map_status_fallback, cascade_users, map_custom_fields.
WITH RECURSIVE
items AS (
    SELECT * FROM staging.work_items WHERE workspace = $workspace
),
containers AS (
    SELECT container_id, parent_id, name FROM staging.containers WHERE workspace = $workspace
),
-- Every container around an item, nearest first: its list or project, then folders, then the space.
chain(item_id, container_id, depth) AS (
    SELECT item_id, container_id, 0 FROM items WHERE container_id IS NOT NULL
    UNION ALL
    SELECT chain.item_id, c.parent_id, chain.depth + 1
    FROM chain JOIN containers AS c ON c.container_id = chain.container_id
    WHERE c.parent_id IS NOT NULL AND chain.depth < 32
),
ancestry AS (
    SELECT chain.item_id, chain.container_id, chain.depth, c.name
    FROM chain LEFT JOIN containers AS c ON c.container_id = chain.container_id
),
in_scope AS (
    SELECT i.*
    FROM items AS i
    WHERE ($include_archived OR NOT i.is_archived)
      AND (len($statuses) = 0 OR list_contains($statuses, lower(i.status)))
      AND NOT list_contains($exclude_statuses, lower(COALESCE(i.status, '')))
      AND (len($containers) = 0
           OR list_contains($containers, i.item_id)
           OR (i.item_type = 'project' AND list_contains($containers, i.title))
           OR EXISTS (SELECT 1 FROM ancestry AS a WHERE a.item_id = i.item_id
                      AND (list_contains($containers, a.container_id) OR list_contains($containers, a.name))))
),
chosen AS (
    SELECT * FROM in_scope
    WHERE list_contains($item_types, item_type)
      AND NOT (item_type = 'milestone' AND $milestones_as = 'ignore')
),
typed AS (
    -- A milestone becomes a milestone of its parent's action when it has one, otherwise an item like a task.
    SELECT c.*,
        CASE
            WHEN c.item_type = 'project' THEN 'objective'
            WHEN c.item_type = 'milestone' AND $milestones_as = 'action_milestones'
                 AND p.item_id IS NOT NULL AND $tasks_as = 'action' THEN 'milestone'
            ELSE $tasks_as
        END AS cascade_type
    FROM chosen AS c
    LEFT JOIN chosen AS p ON p.item_id = c.parent_id AND p.item_type IN ('task', 'subtask')
),
-- The nearest enclosing project synced as an objective (Wrike: tasks of a project, nested projects).
project_of AS (
    SELECT a.item_id, arg_min(a.container_id, a.depth) AS project_item_id
    FROM ancestry AS a JOIN typed AS p ON p.item_id = a.container_id AND p.cascade_type = 'objective'
    WHERE a.container_id <> a.item_id
    GROUP BY a.item_id
),
-- The configured target: the nearest container with a by_container entry, else the default.
override AS (
    SELECT a.item_id, arg_min({'plan_id': t.plan_id, 'focus_area_id': t.focus_area_id,
                               'objective_id': t.objective_id}, a.depth) AS t
    FROM ancestry AS a
    JOIN map_targets AS t ON t.container_key IN (a.container_id, a.name)
    GROUP BY a.item_id
),
targeted AS (
    SELECT ty.*, pr.project_item_id,
        COALESCE(o.t.plan_id, d.plan_id) AS plan_id,
        CASE WHEN o.item_id IS NOT NULL THEN o.t.focus_area_id ELSE d.focus_area_id END AS focus_area_id,
        CASE WHEN o.item_id IS NOT NULL THEN o.t.objective_id ELSE d.objective_id END AS objective_id
    FROM typed AS ty
    LEFT JOIN project_of AS pr ON pr.item_id = ty.item_id
    LEFT JOIN override AS o ON o.item_id = ty.item_id
    LEFT JOIN map_targets AS d ON d.container_key IS NULL
),
subtask_share AS (
    SELECT parent_id AS item_id, count(*) AS total, count(*) FILTER (WHERE status_category = 'done') AS done
    FROM items WHERE item_type = 'subtask' AND NOT is_archived AND parent_id IS NOT NULL
    GROUP BY parent_id
),
checklist_share AS (
    SELECT item_id, count(*) AS total, count(*) FILTER (WHERE is_resolved) AS done
    FROM staging.checklist_items WHERE workspace = $workspace
    GROUP BY item_id
),
progress_field AS (
    SELECT item_id, TRY_CAST(trim(replace(value, '%', '')) AS DOUBLE) AS value
    FROM staging.custom_field_values
    WHERE workspace = $workspace AND field_name = $progress_field
),
assignees AS (
    SELECT item_id, unnest(assignee_ids) AS user_id, generate_subscripts(assignee_ids, 1) AS pos
    FROM typed
),
assignee_matches AS (
    SELECT a.item_id, a.pos, cu.user_id AS cascade_user_id,
           COALESCE(u.name, a.user_id) || ' <' || COALESCE(u.email, 'no email') || '>' AS label
    FROM assignees AS a
    LEFT JOIN staging.users AS u ON u.workspace = $workspace AND u.user_id = a.user_id
    LEFT JOIN cascade_users AS cu ON cu.email = lower(trim(u.email))
    QUALIFY cascade_user_id IS NULL
         OR row_number() OVER (PARTITION BY a.item_id, cu.user_id ORDER BY a.pos) = 1
),
owners AS (
    SELECT item_id,
        list(cascade_user_id ORDER BY pos) FILTER (WHERE cascade_user_id IS NOT NULL) AS matched,
        list(label ORDER BY pos) FILTER (WHERE cascade_user_id IS NULL) AS unmatched
    FROM assignee_matches
    GROUP BY item_id
),
field_values AS (
    SELECT t.item_id,
        list({'field_id': f.field_id, 'name': f.cascade_name, 'type': f.field_type,
              'value': CASE f.field_type
                           WHEN 'number' THEN number_text(NULLIF(trim(replace(v.value, '%', '')), ''))
                           WHEN 'date' THEN left(v.value, 10)
                           ELSE v.value
                       END}
             ORDER BY f.field_id) AS custom_fields
    FROM targeted AS t
    JOIN map_custom_fields AS f ON list_contains(f.applies_to, t.cascade_type)
    LEFT JOIN staging.custom_field_values AS v
        ON v.workspace = $workspace AND v.item_id = t.item_id AND v.field_name = f.source_name
    GROUP BY t.item_id
),
milestone_rank AS (
    SELECT item_id,
        round(100.0 * row_number() OVER w / count(*) OVER (PARTITION BY parent_id), 2) AS progress_value
    FROM typed WHERE cascade_type = 'milestone'
    WINDOW w AS (PARTITION BY parent_id ORDER BY due_at NULLS LAST, created_at, item_id)
),
work AS (
    SELECT
        t.workspace, $source AS source, t.item_id, t.item_type, t.cascade_type,
        CASE
            WHEN t.cascade_type = 'milestone' THEN t.parent_id
            ELSE t.project_item_id
        END AS parent_item_id,
        CASE
            WHEN t.cascade_type = 'milestone' OR t.project_item_id IS NOT NULL THEN NULL
            ELSE t.objective_id
        END AS parent_cascade_id,
        CASE WHEN t.cascade_type = 'objective' THEN t.plan_id END AS plan_id,
        CASE WHEN t.cascade_type = 'objective' THEN t.focus_area_id END AS focus_area_id,
        left(COALESCE(NULLIF(trim(t.title), ''), '(untitled ' || t.item_id || ')'), 255) AS name,
        left(NULLIF(t.description, ''), 20000) AS description,
        COALESCE(r.cascade_status, f.cascade_status) AS status,
        CASE
            WHEN t.status_category = 'done' THEN 100.0
            WHEN $progress_rule = 'subtasks' AND s.total > 0 THEN round(100.0 * s.done / s.total, 2)
            WHEN $progress_rule = 'checklist' AND c.total > 0 THEN round(100.0 * c.done / c.total, 2)
            WHEN $progress_rule = 'custom_field' AND p.value IS NOT NULL THEN least(greatest(p.value, 0), 100)
            WHEN t.status_category = 'in_progress' THEN 50.0
            ELSE 0.0
        END AS progress,
        CASE WHEN t.cascade_type = 'milestone' THEN t.status_category = 'done' END AS completed,
        CAST(NULL AS INTEGER) AS position,
        CASE WHEN CAST(t.due_at AS DATE) < CAST(t.start_at AS DATE) THEN NULL
             ELSE CAST(t.start_at AS DATE) END AS start_date,
        CAST(t.due_at AS DATE) AS due_date,
        o.matched[1] AS owner_id,
        COALESCE(o.matched[2:], []) AS collaborator_ids,
        COALESCE(o.unmatched, []) AS unmatched_assignees,
        COALESCE(fv.custom_fields, []) AS custom_fields,
        t.status AS source_status, t.status_category,
        t.cascade_id AS claimed_cascade_id, t.container_id, t.url,
        m.progress_value
    FROM targeted AS t
    LEFT JOIN map_status_rules AS r ON r.status = lower(trim(t.status))
    LEFT JOIN map_status_fallback AS f ON f.category = t.status_category
    LEFT JOIN subtask_share AS s ON s.item_id = t.item_id
    LEFT JOIN checklist_share AS c ON c.item_id = t.item_id
    LEFT JOIN progress_field AS p ON p.item_id = t.item_id
    LEFT JOIN owners AS o ON o.item_id = t.item_id
    LEFT JOIN field_values AS fv ON fv.item_id = t.item_id
    LEFT JOIN milestone_rank AS m ON m.item_id = t.item_id
)
SELECT * EXCLUDE (progress_value) REPLACE (
    CASE WHEN cascade_type = 'milestone' THEN progress_value ELSE progress END AS progress)
FROM work
UNION ALL BY NAME
SELECT
    k.workspace, $source AS source, k.checklist_item_id AS item_id, 'checklist_item' AS item_type,
    'checklist_item' AS cascade_type, k.item_id AS parent_item_id,
    left(COALESCE(NULLIF(trim(k.name), ''), '(untitled)'), 255) AS name,
    k.is_resolved AS completed, k.position,
    [] AS collaborator_ids, [] AS unmatched_assignees, [] AS custom_fields
FROM staging.checklist_items AS k
JOIN typed AS parent ON parent.item_id = k.item_id AND parent.cascade_type = 'action'
WHERE k.workspace = $workspace AND $checklists
