-- sync.desired_history for one workspace: each container-linked measure's value per day, from the
-- first completion up to yesterday (today's value is the measure's current value). A day's value is
-- what the measure's rule gives over the items done by the end of that day.
-- Needs the temp table link_scope. Params: $workspace, $today.
WITH done AS (
    SELECT cascade_id, done_on AS day, sum(COALESCE(amount, 0)) AS amount
    FROM link_scope
    WHERE
        done AND done_on IS NOT NULL AND done_on < $today
        AND cascade_id IN (SELECT cascade_id FROM links_now WHERE cascade_type = 'measure')
    GROUP BY ALL
),

days AS (
    SELECT
        cascade_id, CAST(unnest(generate_series(min(day), CAST($today AS DATE) - 1, INTERVAL 1 DAY)) AS DATE)
            AS day
    FROM done GROUP BY cascade_id
)

SELECT
    $workspace AS workspace, d.cascade_id, d.day,
    sum(COALESCE(x.amount, 0)) OVER (PARTITION BY d.cascade_id ORDER BY d.day) AS value
FROM days AS d LEFT JOIN done AS x ON x.cascade_id = d.cascade_id AND x.day = d.day
