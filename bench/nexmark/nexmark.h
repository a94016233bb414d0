/* A deterministic Nexmark event generator: persons, auctions and bids as Apache Beam's Nexmark
 * generator makes them (java.util.Random seeded per event with the event id, so the same event
 * number always yields the same event, and values match Beam's for the same configuration), with
 * the bid channel and url that nexmark-flink added. The library allocates nothing: an event's
 * strings point into a caller's scratch buffer or at static tables. nexmark_gen.c is its CLI. */
#ifndef SLUICE_BENCH_NEXMARK_H
#define SLUICE_BENCH_NEXMARK_H

#include <stddef.h>
#include <stdint.h>

#define NX_BASE_TIME_MS 1436918400000LL /* 2015-07-15T00:00:00Z, Beam's event-time origin */
#define NX_FIRST_PERSON_ID 1000
#define NX_FIRST_AUCTION_ID 1000
#define NX_FIRST_CATEGORY_ID 10
#define NX_CHANNELS_NUMBER 10000 /* distinct cold bid channels (nexmark-flink) */

/* Scratch bytes nx_event_at() needs under nx_config_defaults(); other configurations: ask
 * nx_scratch_size(). */
#define NX_SCRATCH_BYTES 1024

/* Knobs, each with Beam's NexmarkConfiguration default (set by nx_config_defaults()):
 *
 *   field                    default          meaning
 *   first_event_id           0                added to the event number to give the event id,
 *                                             which seeds the event's Random and picks its kind
 *   events                   100000           how many events a driver should make (Beam's
 *                                             numEvents); nx_event_at() does not read it
 *   base_time_ms             1436918400000    timestamp of event number 0
 *   first_event_rate         10000            events per second over all generators
 *   num_event_generators     1                generators sharing that rate (Beam's default is
 *                                             100, each on its own timeline; one generator makes
 *                                             one dense timeline: 100 us between events)
 *   person/auction/bid_proportion 1/3/46      kind of event id e is picked by e % 50
 *   hot_auction_ratio        2                1 - 1/ratio of bids go to the hot auction
 *   hot_sellers_ratio        4                1 - 1/ratio of auctions are by the hot seller
 *   hot_bidders_ratio        4                1 - 1/ratio of bids are by the hot bidder
 *   num_in_flight_auctions   100              cold bids pick among the last 100 auctions (+10)
 *   num_active_people        1000             cold sellers/bidders among the last 1000 (+10)
 *   avg_person/auction/bid_bytes 200/500/100  `extra` pads each kind to this idealized size */
typedef struct nx_config {
    uint64_t first_event_id;
    uint64_t events;
    int64_t base_time_ms;
    int32_t first_event_rate;
    int32_t num_event_generators;
    int32_t person_proportion;
    int32_t auction_proportion;
    int32_t bid_proportion;
    int32_t hot_auction_ratio;
    int32_t hot_sellers_ratio;
    int32_t hot_bidders_ratio;
    int32_t num_in_flight_auctions;
    int32_t num_active_people;
    int32_t avg_person_bytes;
    int32_t avg_auction_bytes;
    int32_t avg_bid_bytes;
} nx_config_t;

typedef enum { NX_PERSON = 0, NX_AUCTION = 1, NX_BID = 2 } nx_kind_t;

typedef struct nx_person {
    int64_t id;
    const char *name, *email_address, *credit_card, *city, *state, *extra;
    size_t name_len, email_address_len, credit_card_len, city_len, state_len, extra_len;
    int64_t date_time_ms;
} nx_person_t;

typedef struct nx_auction {
    int64_t id;
    const char *item_name, *description, *extra;
    size_t item_name_len, description_len, extra_len;
    int64_t initial_bid, reserve;
    int64_t date_time_ms, expires_ms;
    int64_t seller, category;
} nx_auction_t;

typedef struct nx_bid {
    int64_t auction, bidder, price;
    const char *channel, *url, *extra;
    size_t channel_len, url_len, extra_len;
    int64_t date_time_ms;
} nx_bid_t;

typedef struct nx_event {
    nx_kind_t kind;
    union {
        nx_person_t person;
        nx_auction_t auction;
        nx_bid_t bid;
    };
} nx_event_t;

void nx_config_defaults(nx_config_t *cfg);
/* 0, or -EINVAL when a ratio, proportion, rate or size is out of range. nx_event_at() asserts
 * a valid configuration; drivers that take knobs from users call this first. */
int nx_config_check(const nx_config_t *cfg);
/* Scratch bytes nx_event_at() needs for any event of this configuration. */
size_t nx_scratch_size(const nx_config_t *cfg);

/* Beam's inter-event delay, in microseconds, and the event-time of an event number. */
int64_t nx_inter_event_delay_us(const nx_config_t *cfg);
int64_t nx_timestamp_ms(const nx_config_t *cfg, uint64_t event_number);
/* The kind of an event number, without generating the event. */
nx_kind_t nx_kind_at(const nx_config_t *cfg, uint64_t event_number);
const char *nx_kind_name(nx_kind_t kind);

/* Fills *out with event `event_number` (a pure function of the configuration and the number;
 * first_event_id + event_number must stay below 2^63). Its strings point into scratch, or at
 * static tables; they live until scratch is reused. Thread-safe. Returns 0, or -ENOSPC if
 * scratch_len < nx_scratch_size(cfg). */
int nx_event_at(const nx_config_t *cfg, uint64_t event_number, nx_event_t *out, char *scratch,
                size_t scratch_len);

/* Writes the event as one JSON object (no newline, no NUL) with nexmark-flink's field names;
 * timestamps are RFC 3339 UTC strings with milliseconds ("2015-07-15T00:00:00.100Z"). Returns
 * the bytes written, or 0 if cap < nx_event_json_bound(ev) (the worst case, every string byte
 * escaped). The _typed form puts "type":"person"|"auction"|"bid" first. */
size_t nx_event_json(const nx_event_t *ev, char *out, size_t cap);
size_t nx_event_json_typed(const nx_event_t *ev, char *out, size_t cap);
size_t nx_event_json_bound(const nx_event_t *ev);

/* java.util.Random, bit for bit (the 48-bit LCG of its specification). Exposed for tests. */
typedef struct nx_jrandom {
    uint64_t seed;
} nx_jrandom_t;

void nx_jrandom_seed(nx_jrandom_t *r, int64_t seed);        /* new Random(seed) */
int32_t nx_jrandom_next_int(nx_jrandom_t *r);                /* nextInt() */
int32_t nx_jrandom_next_int_bound(nx_jrandom_t *r, int32_t bound); /* nextInt(bound), bound > 0 */
int64_t nx_jrandom_next_long(nx_jrandom_t *r);               /* nextLong() */
double nx_jrandom_next_double(nx_jrandom_t *r);              /* nextDouble() */

#endif
