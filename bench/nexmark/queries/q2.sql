-- Nexmark Query 2: selection (nexmark-flink q2.sql), bids for every 123rd auction.
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
