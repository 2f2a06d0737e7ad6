-- sync.diff for one workspace on the Integrations API: the values to push, before (what this sync
-- last pushed, since the API reads nothing back) -> after. Params: $workspace, $run_id,
-- $reassert_before (a value pushed before this time is sent again even if unchanged; NULL: never).
WITH
desired AS (
    SELECT
        cascade_type, cascade_id, any_value(cascade_name) AS name, min(value) AS value,
        string_agg(DISTINCT item_id, ', ' ORDER BY item_id) AS items
    FROM sync.desired_values
    WHERE workspace = $workspace AND blocked IS NULL
    GROUP BY ALL
),

sets AS (
    SELECT
        'set' AS op, d.cascade_type, d.items AS item_id, d.cascade_id,
        CASE d.cascade_type WHEN 'action' THEN 'progress' ELSE 'value' END AS field,
        number_text(CAST(round(p.value, 4) AS VARCHAR)) AS before,
        number_text(CAST(round(d.value, 4) AS VARCHAR)) AS after, d.name AS item_name
    FROM desired AS d
    LEFT JOIN sync.pushed_values AS p
        ON p.workspace = $workspace AND p.cascade_type = d.cascade_type AND p.cascade_id = d.cascade_id
    WHERE p.value IS NULL OR round(p.value, 4) <> round(d.value, 4) OR p.pushed_at < $reassert_before
),

last_day AS (
    SELECT cascade_id, max(day) AS day FROM sync.pushed_history WHERE workspace = $workspace GROUP BY ALL
),

history AS (
    SELECT
        'history' AS op, 'measure' AS cascade_type, any_value(d.items) AS item_id, h.cascade_id,
        'history' AS field, CAST(any_value(l.day) AS VARCHAR) AS before,
        count(*) || ' day(s), ' || min(h.day) || ' to ' || max(h.day) AS after, any_value(d.name) AS item_name
    FROM sync.desired_history AS h
    INNER JOIN desired AS d ON d.cascade_type = 'measure' AND d.cascade_id = h.cascade_id
    LEFT JOIN last_day AS l ON l.cascade_id = h.cascade_id
    WHERE h.workspace = $workspace AND h.day > COALESCE(l.day, DATE '0001-01-01')
    GROUP BY h.cascade_id
)

SELECT
    $workspace AS workspace, $run_id AS run_id, op, cascade_type, item_id, cascade_id, field, before, after,
    item_name, NULL::TIMESTAMP AS applied_at
FROM (
    SELECT * FROM sets
    UNION ALL
    SELECT * FROM history
) AS ops
