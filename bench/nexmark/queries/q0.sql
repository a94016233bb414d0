-- Nexmark Query 0: pass through (nexmark-flink q0.sql). The SELECT as in nexmark-flink; the
-- INSERT INTO a blackhole table becomes the body of a view or sink in sluice.
SELECT auction, bidder, price, dateTime, extra FROM bid;
