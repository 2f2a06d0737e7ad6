-- Helpers every transform may use. Temporary: they live with the connection, not in the file.
-- Milliseconds since the epoch as a timestamp; NULL for anything else or outside years 1 to 9999
-- (the range payloads.ms_value accepts), so one bad value never fails a whole statement.
CREATE OR REPLACE TEMP MACRO ms_to_ts(x) AS CASE
    WHEN
        regexp_full_match(trim(CAST(x AS VARCHAR)), '-?[0-9]{1,19}')
        AND TRY_CAST(trim(CAST(x AS VARCHAR)) AS BIGINT) BETWEEN -62135596800000 AND 253402300799999
        THEN make_timestamp(TRY_CAST(trim(CAST(x AS VARCHAR)) AS BIGINT) * 1000)
END;
CREATE OR REPLACE TEMP MACRO number_text(x) AS CASE
    WHEN TRY_CAST(x AS DOUBLE) IS NULL THEN x
    WHEN TRY_CAST(x AS DOUBLE) = trunc(TRY_CAST(x AS DOUBLE))
        THEN CAST(CAST(TRY_CAST(x AS DOUBLE) AS HUGEINT) AS VARCHAR)
    ELSE CAST(TRY_CAST(x AS DOUBLE) AS VARCHAR)
END;

-- Every container around each item of a workspace, nearest first: its list or project (depth 0),
-- then folders, then the space.
CREATE OR REPLACE TEMP MACRO container_chain(ws) AS TABLE
    WITH RECURSIVE chain (item_id, container_id, depth) AS (
        SELECT item_id, container_id, 0 FROM staging.work_items WHERE workspace = ws AND container_id IS NOT NULL
        UNION ALL
        SELECT chain.item_id, c.parent_id, chain.depth + 1
        FROM chain INNER JOIN staging.containers AS c ON c.workspace = ws AND c.container_id = chain.container_id
        WHERE c.parent_id IS NOT NULL AND chain.depth < 32
    )

    SELECT * FROM chain;

-- Each item's own progress (0-100) and how it was reached: done is 100; otherwise the progress
-- rule (share of done subtasks, of resolved checklist items, or a numeric field), then the status
-- (in progress 50, else 0).
CREATE OR REPLACE TEMP MACRO item_progress(ws, rule, progress_field) AS TABLE
    WITH
    subtask_share AS (
        SELECT parent_id AS item_id, count(*) AS total, count(*) FILTER (WHERE status_category = 'done') AS done
        FROM staging.work_items
        WHERE workspace = ws AND item_type = 'subtask' AND NOT is_archived AND parent_id IS NOT NULL
        GROUP BY parent_id
    ),

    checklist_share AS (
        SELECT item_id, count(*) AS total, count(*) FILTER (WHERE is_resolved) AS done
        FROM staging.checklist_items WHERE workspace = ws
        GROUP BY item_id
    ),

    field_value AS (
        SELECT item_id, TRY_CAST(trim(replace(value, '%', '')) AS DOUBLE) AS number
        FROM staging.custom_field_values WHERE workspace = ws AND field_name = progress_field
    )

    SELECT
        i.item_id,
        CASE
            WHEN i.status_category = 'done' THEN 100.0
            WHEN rule = 'subtasks' AND s.total > 0 THEN round(100.0 * s.done / s.total, 2)
            WHEN rule = 'checklist' AND c.total > 0 THEN round(100.0 * c.done / c.total, 2)
            WHEN rule = 'custom_field' AND f.number IS NOT NULL THEN least(greatest(f.number, 0), 100)
            WHEN i.status_category = 'in_progress' THEN 50.0
            ELSE 0.0
        END AS progress,
        CASE
            WHEN i.status_category = 'done' THEN 'done'
            WHEN rule = 'subtasks' AND s.total > 0 THEN s.done || ' of ' || s.total || ' subtasks done'
            WHEN rule = 'checklist' AND c.total > 0 THEN c.done || ' of ' || c.total || ' checklist items done'
            WHEN rule = 'custom_field' AND f.number IS NOT NULL THEN progress_field || ' ' || f.number
            ELSE 'status ' || COALESCE(i.status, '?') || ' (' || COALESCE(i.status_category, '?') || ')'
        END AS basis
    FROM staging.work_items AS i
    LEFT JOIN subtask_share AS s ON s.item_id = i.item_id
    LEFT JOIN checklist_share AS c ON c.item_id = i.item_id
    LEFT JOIN field_value AS f ON f.item_id = i.item_id
    WHERE i.workspace = ws;

-- A time as Cascade's classic API answers it (ISO 8601, or Unix seconds) as its UTC day 'YYYY-MM-DD'.
CREATE OR REPLACE TEMP MACRO utc_day(x) AS CASE
    WHEN x IS NULL OR trim(x) = '' THEN NULL
    WHEN regexp_full_match(trim(x), '-?[0-9]+') THEN strftime(to_timestamp(CAST(trim(x) AS BIGINT)), '%Y-%m-%d')
    ELSE COALESCE(strftime(CAST(TRY_CAST(trim(x) AS TIMESTAMPTZ) AS DATE), '%Y-%m-%d'), left(trim(x), 10))
END;
