-- Wrike value helpers for the staging SQL (temporary: they live with the connection).
-- Any Wrike date or timestamp as naive UTC: '...Z', a local date-time, or a date (midnight).
CREATE OR REPLACE TEMP MACRO wrike_ts(x) AS TRY_CAST(left(rtrim(x, 'Z'), 19) AS TIMESTAMP);
-- A Numeric/Currency/Percentage value without trailing zeros after the point ('5.0' -> '5').
CREATE OR REPLACE TEMP MACRO wrike_number(x) AS COALESCE(
    regexp_replace(regexp_replace(CAST(TRY_CAST(x AS DECIMAL(38, 18)) AS VARCHAR), '(\.\d*?)0+$', '\1'), '\.$', ''),
    x
);
-- A comma-separated Wrike list value as trimmed, non-empty parts.
CREATE OR REPLACE TEMP MACRO wrike_parts(x) AS list_filter(
    list_transform(string_split(x, ','), LAMBDA p: trim(p)), LAMBDA p: p <> ''
);
