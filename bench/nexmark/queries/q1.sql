-- Nexmark Query 1: currency conversion (nexmark-flink q1.sql).
-- Adapted: 0.908 * price is DOUBLE in sluice (no DECIMAL(23, 3) type).
SELECT
    auction,
    bidder,
    0.908 * price as price, -- convert dollar to euro
    dateTime,
    extra
FROM bid;
