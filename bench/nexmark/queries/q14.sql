-- Nexmark Query 14: calculation (nexmark-flink q14.sql).
-- Adapted: count_char is a sluice built-in (COUNT_CHAR), so nexmark-flink's
-- `CREATE FUNCTION count_char AS 'com.github.nexmark.flink.udf.CountChar'` is dropped; and
-- 0.908 * price is DOUBLE (no DECIMAL(23, 3) type).
SELECT
    auction,
    bidder,
    0.908 * price as price,
    CASE
        WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
        WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    dateTime,
    extra,
    count_char(extra, 'c') AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
