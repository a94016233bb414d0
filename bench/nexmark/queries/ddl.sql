-- The Nexmark bid stream over the topic 'bid' (one JSON object per record, as nexmark-gen
-- writes them), with nexmark-flink's field names and its 4-second bounded-out-of-orderness
-- watermark. Persons and auctions are not declared: the queries in this folder need no join.
CREATE STREAM bid (
    auction  BIGINT,
    bidder   BIGINT,
    price    BIGINT,
    channel  VARCHAR,
    url      VARCHAR,
    dateTime TIMESTAMP(3),
    extra    VARCHAR,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (topic = 'bid', format = 'json');
