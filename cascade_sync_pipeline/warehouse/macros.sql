-- Helpers every transform may use. Temporary: they live with the connection, not in the file.
CREATE OR REPLACE TEMP MACRO ms_to_ts(x) AS make_timestamp(TRY_CAST(x AS BIGINT) * 1000);
CREATE OR REPLACE TEMP MACRO number_text(x) AS CASE
    WHEN TRY_CAST(x AS DOUBLE) IS NULL THEN x
    WHEN TRY_CAST(x AS DOUBLE) = trunc(TRY_CAST(x AS DOUBLE))
        THEN CAST(CAST(TRY_CAST(x AS DOUBLE) AS HUGEINT) AS VARCHAR)
    ELSE CAST(TRY_CAST(x AS DOUBLE) AS VARCHAR)
END;
