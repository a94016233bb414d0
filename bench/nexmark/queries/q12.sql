-- Nexmark Query 12: processing-time windows (nexmark-flink q12.sql), bids per bidder per
-- 10-second tumbling window of processing time.
-- Adapted: nexmark-flink defines `CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid`
-- and windows TABLE B; sluice has no plain views, so the view's SELECT is inlined as the
-- window TVF's input, written `(SELECT ...)` in place of `TABLE B`.
SELECT
    bidder,
    count(*) as bid_count,
    window_start AS starttime,
    window_end AS endtime
FROM TABLE(
        TUMBLE((SELECT *, PROCTIME() as p_time FROM bid), DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY bidder, window_start, window_end;
