/* The Nexmark event model (see nexmark.h): java.util.Random, Beam's person/auction/bid
 * generators and event timeline, nexmark-flink's bid channel and url, and a JSON writer that
 * uses no snprintf. Every event is a pure function of (configuration, event number): its Random
 * is seeded with the event id, as Beam's Generator.nextEvent() does, so events can be made in any
 * order, by any number of threads, and always come out the same. */
#include "nexmark.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* Copies a string literal to p; evaluates to the end. */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* ---- java.util.Random ------------------------------------------------------------------
 *
 * The 48-bit linear congruential generator java.util.Random's specification fixes:
 *   seed' = (seed * 0x5DEECE66D + 0xB) mod 2^48,  next(bits) = (int)(seed' >>> (48 - bits))
 * All arithmetic is unsigned here (wrapping is what Java's long does); results are converted to
 * the signed Java types at the end. The state is kept mod 2^64 rather than 2^48 (2^48 divides
 * 2^64, so the low 48 bits are the same) and masked only when read, which keeps the mask off
 * the multiply chain that bounds the generator's speed. */

#define JR_MULT 0x5DEECE66DULL
#define JR_ADD 0xBULL
#define JR_MASK ((1ULL << 48) - 1)

static inline void jr_seed(nx_jrandom_t *r, int64_t seed) {
    r->seed = ((uint64_t)seed ^ JR_MULT) & JR_MASK;
}

static inline int32_t jr_next(nx_jrandom_t *r, int bits) {
    r->seed = r->seed * JR_MULT + JR_ADD;
    return (int32_t)(uint32_t)((r->seed & JR_MASK) >> (48 - bits));
}

/* nextInt(bound): a power of two takes the high bits; otherwise r % bound, redrawn while r falls
 * in the last, incomplete block of `bound` values (Java spots it by int overflow of
 * u - r + (bound - 1), done here in uint32 to keep C's signed overflow out of it). */
static inline int32_t jr_next_int_bound(nx_jrandom_t *r, int32_t bound) {
    assert(bound > 0);
    int32_t x = jr_next(r, 31);
    int32_t m = bound - 1;
    if ((bound & m) == 0) return (int32_t)(((int64_t)bound * x) >> 31);
    for (int32_t u = x; (int32_t)((uint32_t)u - (uint32_t)(x = u % bound) + (uint32_t)m) < 0;
         u = jr_next(r, 31))
        ;
    return x;
}

static inline int64_t jr_next_long(nx_jrandom_t *r) {
    uint64_t hi = (uint64_t)(int64_t)jr_next(r, 32);
    uint64_t lo = (uint64_t)(int64_t)jr_next(r, 32);
    return (int64_t)((hi << 32) + lo);
}

static inline double jr_next_double(nx_jrandom_t *r) {
    uint64_t hi = (uint64_t)jr_next(r, 26);
    uint64_t lo = (uint64_t)jr_next(r, 27);
    return (double)((hi << 27) + lo) * 0x1.0p-53;
}

void nx_jrandom_seed(nx_jrandom_t *r, int64_t seed) { jr_seed(r, seed); }
int32_t nx_jrandom_next_int(nx_jrandom_t *r) { return jr_next(r, 32); }
int32_t nx_jrandom_next_int_bound(nx_jrandom_t *r, int32_t bound) {
    return jr_next_int_bound(r, bound);
}
int64_t nx_jrandom_next_long(nx_jrandom_t *r) { return jr_next_long(r); }
double nx_jrandom_next_double(nx_jrandom_t *r) { return jr_next_double(r); }

/* Java's Math.round(double) for the finite, non-negative values used here: the nearest long,
 * ties up. Done on floor() and the exact difference, not floor(x + 0.5), which can round up a
 * value just below a tie. */
static inline int64_t java_round(double x) {
    double f = floor(x);
    return (int64_t)f + (x - f >= 0.5 ? 1 : 0);
}

/* Beam's LongGenerator.nextLong(random, n): uniform in [0, n) below 2^31 - 1, else a (skewed)
 * |nextLong() % n|. */
static inline int64_t next_long_below(nx_jrandom_t *r, int64_t n) {
    assert(n > 0);
    if (n < INT32_MAX) return jr_next_int_bound(r, (int32_t)n);
    int64_t v = jr_next_long(r) % n;
    return v < 0 ? -v : v;
}

/* ---- configuration and timeline --------------------------------------------------------- */

#define HOT_AUCTION_RATIO 100 /* the hot auction/bidder/seller: first (bidder: second) of each */
#define HOT_BIDDER_RATIO 100  /* batch of 100 ids, as in Beam's generators                     */
#define HOT_SELLER_RATIO 100
#define PERSON_ID_LEAD 10 /* ids not yet created that cold picks may name */
#define AUCTION_ID_LEAD 10
#define NUM_CATEGORIES 5
#define MIN_STRING_LENGTH 3
#define HOT_CHANNELS_RATIO 2 /* nexmark-flink: half the bids come from the 4 hot channels */

void nx_config_defaults(nx_config_t *cfg) {
    *cfg = (nx_config_t){
        .first_event_id = 0,
        .events = 100000,
        .base_time_ms = NX_BASE_TIME_MS,
        .first_event_rate = 10000,
        .num_event_generators = 1,
        .person_proportion = 1,
        .auction_proportion = 3,
        .bid_proportion = 46,
        .hot_auction_ratio = 2,
        .hot_sellers_ratio = 4,
        .hot_bidders_ratio = 4,
        .num_in_flight_auctions = 100,
        .num_active_people = 1000,
        .avg_person_bytes = 200,
        .avg_auction_bytes = 500,
        .avg_bid_bytes = 100,
    };
}

#define NX_MAX_AVG_BYTES (1 << 20)

int nx_config_check(const nx_config_t *cfg) {
    if (cfg->first_event_rate <= 0 || cfg->num_event_generators <= 0) return -EINVAL;
    if (cfg->person_proportion <= 0 || cfg->auction_proportion <= 0 || cfg->bid_proportion <= 0)
        return -EINVAL;
    if ((int64_t)cfg->person_proportion + cfg->auction_proportion + cfg->bid_proportion > 1000000)
        return -EINVAL;
    if (cfg->hot_auction_ratio <= 0 || cfg->hot_sellers_ratio <= 0 || cfg->hot_bidders_ratio <= 0)
        return -EINVAL;
    if (cfg->num_in_flight_auctions <= 0 || cfg->num_active_people <= 0) return -EINVAL;
    if (cfg->avg_person_bytes < 0 || cfg->avg_auction_bytes < 0 || cfg->avg_bid_bytes < 0)
        return -EINVAL;
    if (cfg->avg_person_bytes > NX_MAX_AVG_BYTES || cfg->avg_auction_bytes > NX_MAX_AVG_BYTES ||
        cfg->avg_bid_bytes > NX_MAX_AVG_BYTES)
        return -EINVAL;
    if (cfg->first_event_id > (uint64_t)INT64_MAX / 2) return -EINVAL;
    return 0;
}

/* Longest `extra` for an average size: nextExtra() draws from [d - delta, d + delta) with
 * d = avg - currentSize and delta = round(d / 5); at most avg + avg / 5 + 1, and
 * next_exact_string() writes up to 5 bytes past it. */
static size_t extra_max(int32_t avg) { return (size_t)avg + (size_t)avg / 5 + 2 + 5; }

/* Fixed parts of the scratch layout, each an upper bound:
 *   person:  name 14, email 15, credit card 19            -> 48
 *   auction: item name 19, description 99                  -> 118
 *   bid:     channel "channel-9999" 12, url 24 + 14 + 17 + 12 + 11 = 78 -> 90 */
#define SCRATCH_FIXED 256

size_t nx_scratch_size(const nx_config_t *cfg) {
    size_t m = extra_max(cfg->avg_person_bytes);
    if (extra_max(cfg->avg_auction_bytes) > m) m = extra_max(cfg->avg_auction_bytes);
    if (extra_max(cfg->avg_bid_bytes) > m) m = extra_max(cfg->avg_bid_bytes);
    return SCRATCH_FIXED + m;
}

/* Beam's RateUnit.PER_SECOND.rateToPeriodUs(rate) * numEventGenerators: a whole number of
 * microseconds, rounded to nearest. */
int64_t nx_inter_event_delay_us(const nx_config_t *cfg) {
    uint32_t rate = (uint32_t)cfg->first_event_rate; /* > 0: 32-bit division is enough */
    return (int64_t)((1000000u + rate / 2) / rate) * cfg->num_event_generators;
}

/* GeneratorConfig.timestampAndInterEventDelayUsForEvent() for a constant rate: the
 * microseconds are truncated to milliseconds after multiplying, so with 100 us the timestamps
 * go 0,0,0,0,0,0,0,0,0,0,1,1,... ms past the base time. */
int64_t nx_timestamp_ms(const nx_config_t *cfg, uint64_t event_number) {
    return cfg->base_time_ms + (int64_t)event_number * nx_inter_event_delay_us(cfg) / 1000;
}

static inline int64_t total_proportion(const nx_config_t *cfg) {
    return (int64_t)cfg->person_proportion + cfg->auction_proportion + cfg->bid_proportion;
}

static inline int64_t event_id_of(const nx_config_t *cfg, uint64_t event_number) {
    return (int64_t)(cfg->first_event_id + event_number);
}

/* An event id as epoch * total_proportion + offset: the one division per event that every id
 * computation below shares (in 32 bits while the id fits: a 64-bit divide costs several times
 * more). */
typedef struct pos {
    int64_t epoch, offset;
} pos_t;

static inline pos_t pos_of(const nx_config_t *cfg, int64_t event_id) {
    uint64_t id = (uint64_t)event_id;
    uint32_t total = (uint32_t)total_proportion(cfg);
    uint64_t epoch = id <= UINT32_MAX ? (uint32_t)id / total : id / total;
    return (pos_t){(int64_t)epoch, (int64_t)(id - epoch * total)};
}

static inline nx_kind_t kind_of(const nx_config_t *cfg, pos_t at) {
    if (at.offset < cfg->person_proportion) return NX_PERSON;
    if (at.offset < cfg->person_proportion + cfg->auction_proportion) return NX_AUCTION;
    return NX_BID;
}

nx_kind_t nx_kind_at(const nx_config_t *cfg, uint64_t event_number) {
    return kind_of(cfg, pos_of(cfg, event_id_of(cfg, event_number)));
}

const char *nx_kind_name(nx_kind_t kind) {
    switch (kind) {
    case NX_PERSON: return "person";
    case NX_AUCTION: return "auction";
    case NX_BID: return "bid";
    }
    return "?";
}

/* The last person id (base 0) made at or before this event. */
static inline int64_t last_base0_person_id(const nx_config_t *cfg, pos_t at) {
    int64_t offset = at.offset;
    if (offset >= cfg->person_proportion) offset = cfg->person_proportion - 1;
    return at.epoch * cfg->person_proportion + offset;
}

/* The last auction id (base 0) made at or before this event: -1 before the first. */
static inline int64_t last_base0_auction_id(const nx_config_t *cfg, pos_t at) {
    int64_t epoch = at.epoch, offset = at.offset;
    if (offset < cfg->person_proportion) {
        epoch--;
        offset = cfg->auction_proportion - 1;
    } else if (offset >= cfg->person_proportion + cfg->auction_proportion) {
        offset = cfg->auction_proportion - 1;
    } else {
        offset -= cfg->person_proportion;
    }
    return epoch * cfg->auction_proportion + offset;
}

/* A cold person: one of the last num_active_people, or up to PERSON_ID_LEAD not made yet. */
static inline int64_t next_base0_person_id(const nx_config_t *cfg, nx_jrandom_t *r, pos_t at) {
    int64_t num_people = last_base0_person_id(cfg, at) + 1;
    int64_t active = num_people < cfg->num_active_people ? num_people : cfg->num_active_people;
    int64_t n = next_long_below(r, active + PERSON_ID_LEAD);
    return num_people - active + n;
}

/* A cold auction: one of the last num_in_flight_auctions, or up to AUCTION_ID_LEAD ahead. */
static inline int64_t next_base0_auction_id(const nx_config_t *cfg, nx_jrandom_t *r, pos_t at) {
    int64_t max_auction = last_base0_auction_id(cfg, at);
    int64_t min_auction = max_auction - cfg->num_in_flight_auctions;
    if (min_auction < 0) min_auction = 0;
    return min_auction + next_long_below(r, max_auction - min_auction + 1 + AUCTION_ID_LEAD);
}

/* Beam's PriceGenerator: log-uniform cents from 100 ($1) to 100,000,000 ($1M). */
static inline int64_t next_price(nx_jrandom_t *r) {
    return java_round(pow(10.0, jr_next_double(r) * 6.0) * 100.0);
}

/* ---- strings ---------------------------------------------------------------------------- */

/* StringsGenerator.nextString(random, maxLength, special): 3..maxLength-1 characters, each
 * `special` with probability 1/13, else a..z; then Java's trim() (drop bytes <= ' ' at both
 * ends, which only a ' ' special can be). Writes at dst, returns the trimmed length. */
static size_t next_string(nx_jrandom_t *r, char *dst, int32_t max_length, char special) {
    nx_jrandom_t jr = *r; /* a local state: stores through dst cannot alias it */
    int32_t len = MIN_STRING_LENGTH + jr_next_int_bound(&jr, max_length - MIN_STRING_LENGTH);
    for (int32_t i = 0; i < len; i++)
        dst[i] = jr_next_int_bound(&jr, 13) == 0 ? special
                                                 : (char)('a' + jr_next_int_bound(&jr, 26));
    *r = jr;
    size_t lo = 0, hi = (size_t)len;
    while (lo < hi && (unsigned char)dst[lo] <= ' ') lo++;
    while (hi > lo && (unsigned char)dst[hi - 1] <= ' ') hi--;
    if (lo > 0) memmove(dst, dst + lo, hi - lo);
    return hi - lo;
}

/* Two characters of nextExactString() for each m in [0, 676): PAIRS[0][m] is 'a' + m % 26 then
 * 'a' + m / 26, for a non-negative Random int; PAIRS[1][m] is 'a' - m % 26 then 'a' - m / 26,
 * for a negative one (Java's % and / keep the sign). Built by the preprocessor: 700 entries,
 * the last 24 unused. */
#define NX_P(m, s) {(char)('a' + (s) * ((m) % 26)), (char)('a' + (s) * ((m) / 26))}
#define NX_P10(m, s)                                                                           \
    NX_P(m, s), NX_P(m + 1, s), NX_P(m + 2, s), NX_P(m + 3, s), NX_P(m + 4, s),                \
        NX_P(m + 5, s), NX_P(m + 6, s), NX_P(m + 7, s), NX_P(m + 8, s), NX_P(m + 9, s)
#define NX_P100(m, s)                                                                          \
    NX_P10(m, s), NX_P10(m + 10, s), NX_P10(m + 20, s), NX_P10(m + 30, s), NX_P10(m + 40, s),  \
        NX_P10(m + 50, s), NX_P10(m + 60, s), NX_P10(m + 70, s), NX_P10(m + 80, s),            \
        NX_P10(m + 90, s)
#define NX_P700(s)                                                                             \
    {NX_P100(0, s), NX_P100(100, s), NX_P100(200, s), NX_P100(300, s), NX_P100(400, s),        \
     NX_P100(500, s), NX_P100(600, s)}
static const char PAIRS[2][700][2] = {NX_P700(1), NX_P700(-1)};

/* StringsGenerator.nextExactString(): six characters per nextInt() rnd, the k-th being
 * 'a' + (rnd / 26^k) % 26 (Java divides rnd by 26 after each character). rnd may be negative,
 * and Java's % keeps the sign (as C's does), so characters run from 'a' - 25 ('H') to 'z',
 * including '\\' and '[' ']' '^' '_' '`': JSON writers must escape. Here the digits come two at a
 * time, in unsigned arithmetic on |rnd|, from the PAIRS of rnd's sign. Whole groups of six are
 * written, up to 5 bytes past `length` (nx_scratch_size() leaves room): the first characters of
 * a group are the same whether or not the rest are used. */
static void next_exact_string(nx_jrandom_t *r, char *dst, size_t length) {
    nx_jrandom_t jr = *r; /* a local state: stores through dst cannot alias it */
    for (size_t i = 0; i < length; i += 6) {
        int32_t rnd = jr_next(&jr, 32);
        const char(*t)[2] = PAIRS[rnd < 0];
        uint32_t u = rnd < 0 ? 0u - (uint32_t)rnd : (uint32_t)rnd;
        uint32_t q1 = u / 676, q2 = u / (676 * 676), q3 = u / (676 * 676 * 676);
        memcpy(dst + i, t[u - q1 * 676], 2);
        memcpy(dst + i + 2, t[q1 - q2 * 676], 2);
        memcpy(dst + i + 4, t[q2 - q3 * 676], 2);
    }
    *r = jr;
}

/* StringsGenerator.nextExtra(): a string making currentSize + its length average
 * desired_average. Returns its length. */
static size_t next_extra(nx_jrandom_t *r, char *dst, int32_t current_size,
                         int32_t desired_average) {
    if (current_size > desired_average) return 0;
    int32_t d = desired_average - current_size;
    int32_t delta = (int32_t)java_round(d * 0.2);
    int32_t size = d - delta + (delta == 0 ? 0 : jr_next_int_bound(r, 2 * delta));
    next_exact_string(r, dst, (size_t)size);
    return (size_t)size;
}

/* "00".."99": two decimal digits per lookup. */
static const char DIGITS2[201] = "0001020304050607080910111213141516171819"
                                 "2021222324252627282930313233343536373839"
                                 "4041424344454647484950515253545556575859"
                                 "6061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* Decimal digits of v at p, two at a time; returns the end. */
static inline char *put_uint(char *p, uint64_t v) {
    char tmp[20];
    char *t = tmp + sizeof(tmp);
    while (v >= 100) {
        t -= 2;
        memcpy(t, DIGITS2 + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, DIGITS2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

static inline char *put_int(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_uint(p, (uint64_t)v);
}

/* ---- persons ---------------------------------------------------------------------------- */

typedef struct nx__str {
    const char *s;
    size_t len;
} nx__str_t;
#define NX_S(lit) {lit, sizeof(lit) - 1}

static const nx__str_t US_STATES[] = {NX_S("AZ"), NX_S("CA"), NX_S("ID"),
                                      NX_S("OR"), NX_S("WA"), NX_S("WY")};
static const nx__str_t US_CITIES[] = {
    NX_S("Phoenix"), NX_S("Los Angeles"), NX_S("San Francisco"), NX_S("Boise"),
    NX_S("Portland"), NX_S("Bend"), NX_S("Redmond"), NX_S("Seattle"), NX_S("Kent"),
    NX_S("Cheyenne")};
static const nx__str_t FIRST_NAMES[] = {
    NX_S("Peter"), NX_S("Paul"), NX_S("Luke"), NX_S("John"), NX_S("Saul"), NX_S("Vicky"),
    NX_S("Kate"), NX_S("Julie"), NX_S("Sarah"), NX_S("Deiter"), NX_S("Walter")};
static const nx__str_t LAST_NAMES[] = {
    NX_S("Shultz"), NX_S("Abrams"), NX_S("Spencer"), NX_S("White"), NX_S("Bartels"),
    NX_S("Walton"), NX_S("Smith"), NX_S("Jones"), NX_S("Noris")};
#define NX_COUNT(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))

static void make_person(const nx_config_t *cfg, nx_jrandom_t *r, pos_t at, int64_t ts,
                        nx_person_t *p, char *scratch) {
    char *w = scratch;
    p->id = last_base0_person_id(cfg, at) + NX_FIRST_PERSON_ID;

    const nx__str_t *first = &FIRST_NAMES[jr_next_int_bound(r, NX_COUNT(FIRST_NAMES))];
    const nx__str_t *last = &LAST_NAMES[jr_next_int_bound(r, NX_COUNT(LAST_NAMES))];
    p->name = w;
    memcpy(w, first->s, first->len);
    w += first->len;
    *w++ = ' ';
    memcpy(w, last->s, last->len);
    w += last->len;
    p->name_len = (size_t)(w - p->name);

    p->email_address = w;
    w += next_string(r, w, 7, ' ');
    *w++ = '@';
    w += next_string(r, w, 5, ' ');
    memcpy(w, ".com", 4);
    w += 4;
    p->email_address_len = (size_t)(w - p->email_address);

    p->credit_card = w;
    for (int i = 0; i < 4; i++) {
        int32_t v = jr_next_int_bound(r, 10000);
        if (i > 0) *w++ = ' ';
        w[0] = (char)('0' + v / 1000);
        w[1] = (char)('0' + v / 100 % 10);
        w[2] = (char)('0' + v / 10 % 10);
        w[3] = (char)('0' + v % 10);
        w += 4;
    }
    p->credit_card_len = (size_t)(w - p->credit_card);

    const nx__str_t *city = &US_CITIES[jr_next_int_bound(r, NX_COUNT(US_CITIES))];
    const nx__str_t *state = &US_STATES[jr_next_int_bound(r, NX_COUNT(US_STATES))];
    p->city = city->s;
    p->city_len = city->len;
    p->state = state->s;
    p->state_len = state->len;

    int32_t current = (int32_t)(8 + p->name_len + p->email_address_len + p->credit_card_len +
                                p->city_len + p->state_len);
    p->extra = w;
    p->extra_len = next_extra(r, w, current, cfg->avg_person_bytes);
    p->date_time_ms = ts;
}

/* ---- auctions --------------------------------------------------------------------------- */

/* AuctionGenerator.nextAuctionLengthMs(): uniform in [1, 2 * horizon], the horizon being how far
 * ahead in event time the auction num_in_flight_auctions later will be made. */
static int64_t next_auction_length_ms(const nx_config_t *cfg, nx_jrandom_t *r,
                                      uint64_t event_number, int64_t ts) {
    uint64_t events_ahead = (uint64_t)((int64_t)cfg->num_in_flight_auctions *
                                       total_proportion(cfg) / cfg->auction_proportion);
    int64_t horizon = nx_timestamp_ms(cfg, event_number + events_ahead) - ts;
    return 1 + next_long_below(r, horizon * 2 > 1 ? horizon * 2 : 1);
}

static void make_auction(const nx_config_t *cfg, nx_jrandom_t *r, uint64_t event_number,
                         pos_t at, int64_t ts, nx_auction_t *a, char *scratch) {
    char *w = scratch;
    a->id = last_base0_auction_id(cfg, at) + NX_FIRST_AUCTION_ID;

    int64_t seller;
    if (jr_next_int_bound(r, cfg->hot_sellers_ratio) > 0)
        seller = last_base0_person_id(cfg, at) / HOT_SELLER_RATIO * HOT_SELLER_RATIO;
    else
        seller = next_base0_person_id(cfg, r, at);
    a->seller = seller + NX_FIRST_PERSON_ID;
    a->category = NX_FIRST_CATEGORY_ID + jr_next_int_bound(r, NUM_CATEGORIES);
    a->initial_bid = next_price(r);
    a->date_time_ms = ts;
    a->expires_ms = ts + next_auction_length_ms(cfg, r, event_number, ts);

    a->item_name = w;
    a->item_name_len = next_string(r, w, 20, ' ');
    w += a->item_name_len;
    a->description = w;
    a->description_len = next_string(r, w, 100, ' ');
    w += a->description_len;
    a->reserve = a->initial_bid + next_price(r);

    int32_t current = (int32_t)(8 + a->item_name_len + a->description_len + 8 + 8 + 8 + 8 + 8);
    a->extra = w;
    a->extra_len = next_extra(r, w, current, cfg->avg_auction_bytes);
}

/* ---- bids ------------------------------------------------------------------------------- */

/* nexmark-flink's BidGenerator.getBaseUrl(): "https://www.nexmark.com/", a path of three 3-4
 * character segments of a..z and '_' (nextString(random, 5, '_') each), then
 * "/item.htm?query=1". nexmark-flink draws them from an unseeded Random once per JVM; here
 * channel c's path comes from new Random(c) and hot channel i's from
 * new Random(NX_CHANNELS_NUMBER + i), so they are the same on every run. */
#define URL_PREFIX "https://www.nexmark.com/"
#define URL_SUFFIX "/item.htm?query=1"
#define URL_PATH_MAX 14 /* "abcd/abcd/abcd" */

static size_t put_url_path(nx_jrandom_t *r, char *w) {
    char *start = w;
    for (int i = 0; i < 3; i++) {
        if (i > 0) *w++ = '/';
        w += next_string(r, w, 5, '_');
    }
    return (size_t)(w - start);
}

static inline uint32_t reverse_bits32(uint32_t v) {
    v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
    v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
    v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
    v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
    return (v >> 16) | (v << 16);
}

/* The channels, each a pure function of its number, made once (nexmark-flink caches them
 * too): ~24 serial Random steps per url would otherwise be a third of a bid's cost. Cold
 * channel c is "channel-<c>" with a url that 9 times in 10 (nextInt(10) > 0 on the url's
 * Random, after the path) ends in "&channel_id=<Math.abs(Integer.reverse(c))>" — Math.abs
 * keeps INT_MIN negative, so channel 1's id is -2147483648, as in nexmark-flink. The cold
 * table keeps only what varies, 16 bytes a channel (160 KB, so lookups mostly hit L2):
 *
 *   +---------------------------+----------+--------+
 *   | path "abc/ab_d/xyz" (14)  | path_len | has_id |
 *   +---------------------------+----------+--------+
 *
 * and a bid assembles its name and url in scratch. The four hot channels are kept whole. */
typedef struct channel {
    char path[URL_PATH_MAX];
    uint8_t path_len, has_id;
} channel_t;

typedef struct hot_channel {
    nx__str_t name;
    char url[sizeof(URL_PREFIX) + URL_PATH_MAX + sizeof(URL_SUFFIX)];
    size_t url_len;
} hot_channel_t;

static channel_t CHANNELS[NX_CHANNELS_NUMBER];
static hot_channel_t HOT_CHANNELS[] = {
    {.name = NX_S("Google")}, {.name = NX_S("Facebook")}, {.name = NX_S("Baidu")},
    {.name = NX_S("Apple")}};
#define NUM_HOT_CHANNELS NX_COUNT(HOT_CHANNELS)
static pthread_once_t channels_once = PTHREAD_ONCE_INIT;

static void channels_build(void) {
    char path[64];
    nx_jrandom_t ur;
    for (int32_t c = 0; c < NX_CHANNELS_NUMBER; c++) {
        jr_seed(&ur, c);
        size_t n = put_url_path(&ur, path);
        assert(n <= URL_PATH_MAX);
        memcpy(CHANNELS[c].path, path, n);
        CHANNELS[c].path_len = (uint8_t)n;
        CHANNELS[c].has_id = jr_next_int_bound(&ur, 10) > 0;
    }
    for (int32_t i = 0; i < NUM_HOT_CHANNELS; i++) {
        hot_channel_t *h = &HOT_CHANNELS[i];
        jr_seed(&ur, NX_CHANNELS_NUMBER + i);
        char *w = PUT_LIT(h->url, URL_PREFIX);
        w += put_url_path(&ur, w);
        w = PUT_LIT(w, URL_SUFFIX);
        h->url_len = (size_t)(w - h->url);
    }
}

/* Cold channel c's name and url at w (at most 12 + 24 + 14 + 17 + 12 + 11 = 90 bytes); returns
 * the end. */
static char *put_cold_channel(int32_t c, nx_bid_t *b, char *w) {
    const channel_t *ch = &CHANNELS[c];
    b->channel = w;
    w = put_uint(PUT_LIT(w, "channel-"), (uint64_t)c);
    b->channel_len = (size_t)(w - b->channel);
    b->url = w;
    w = PUT_LIT(w, URL_PREFIX);
    memcpy(w, ch->path, URL_PATH_MAX);
    w = PUT_LIT(w + ch->path_len, URL_SUFFIX);
    if (ch->has_id) {
        int32_t rev = (int32_t)reverse_bits32((uint32_t)c);
        w = put_int(PUT_LIT(w, "&channel_id="),
                    rev == INT32_MIN ? rev : (rev < 0 ? -(int64_t)rev : rev));
    }
    b->url_len = (size_t)(w - b->url);
    return w;
}

static void make_bid(const nx_config_t *cfg, nx_jrandom_t *r, pos_t at, int64_t ts,
                     nx_bid_t *b, char *scratch) {
    int64_t auction;
    if (jr_next_int_bound(r, cfg->hot_auction_ratio) > 0)
        auction = last_base0_auction_id(cfg, at) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO;
    else
        auction = next_base0_auction_id(cfg, r, at);
    b->auction = auction + NX_FIRST_AUCTION_ID;

    int64_t bidder;
    if (jr_next_int_bound(r, cfg->hot_bidders_ratio) > 0)
        bidder = last_base0_person_id(cfg, at) / HOT_BIDDER_RATIO * HOT_BIDDER_RATIO + 1;
    else
        bidder = next_base0_person_id(cfg, r, at);
    b->bidder = bidder + NX_FIRST_PERSON_ID;
    b->price = next_price(r);

    /* nexmark-flink's channel pick: half the bids from a hot channel. */
    pthread_once(&channels_once, channels_build);
    char *w = scratch;
    if (jr_next_int_bound(r, HOT_CHANNELS_RATIO) > 0) {
        const hot_channel_t *h = &HOT_CHANNELS[jr_next_int_bound(r, NUM_HOT_CHANNELS)];
        b->channel = h->name.s;
        b->channel_len = h->name.len;
        b->url = h->url;
        b->url_len = h->url_len;
    } else {
        w = put_cold_channel(jr_next_int_bound(r, NX_CHANNELS_NUMBER), b, w);
    }

    /* Beam's idealized bid size counts the four longs only, not channel and url (nor does
     * nexmark-flink's): extra is ~68 bytes. */
    b->extra = w;
    b->extra_len = next_extra(r, w, 8 + 8 + 8 + 8, cfg->avg_bid_bytes);
    b->date_time_ms = ts;
}

int nx_event_at(const nx_config_t *cfg, uint64_t event_number, nx_event_t *out, char *scratch,
                size_t scratch_len) {
    assert(nx_config_check(cfg) == 0);
    if (scratch_len < nx_scratch_size(cfg)) return -ENOSPC;
    int64_t event_id = event_id_of(cfg, event_number);
    int64_t ts = nx_timestamp_ms(cfg, event_number);
    pos_t at = pos_of(cfg, event_id);
    nx_jrandom_t r;
    jr_seed(&r, event_id);
    out->kind = kind_of(cfg, at);
    switch (out->kind) {
    case NX_PERSON: make_person(cfg, &r, at, ts, &out->person, scratch); break;
    case NX_AUCTION: make_auction(cfg, &r, event_number, at, ts, &out->auction, scratch); break;
    case NX_BID: make_bid(cfg, &r, at, ts, &out->bid, scratch); break;
    }
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* 1 for the bytes a JSON string cannot hold as they are: '"', '\\' and controls. */
static const unsigned char JSON_ESCAPE[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

static inline char *put_json_char(char *p, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    if (!JSON_ESCAPE[c]) {
        *p++ = (char)c;
        return p;
    }
    *p++ = '\\';
    switch (c) {
    case '"': *p++ = '"'; break;
    case '\\': *p++ = '\\'; break;
    case '\n': *p++ = 'n'; break;
    case '\r': *p++ = 'r'; break;
    case '\t': *p++ = 't'; break;
    case '\b': *p++ = 'b'; break;
    case '\f': *p++ = 'f'; break;
    default:
        memcpy(p, "u00", 3);
        p[3] = hex[c >> 4];
        p[4] = hex[c & 15];
        p += 5;
    }
    return p;
}

/* The bytes of v that are '"', '\\' or below 0x20, as their high bits (the has-zero-byte and
 * has-less-than tricks). A borrow can mark a byte above a true match, never below one, so the
 * lowest marked byte is exactly the first byte to escape. */
static inline uint64_t swar_escape_mask(uint64_t v) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t low = (v - ones * 0x20) & ~v;
    uint64_t q = v ^ (ones * '"');
    uint64_t b = v ^ (ones * '\\');
    q = (q - ones) & ~q;
    b = (b - ones) & ~b;
    return (low | q | b) & highs;
}

/* A JSON string: 8 bytes at a time up to the first byte that needs escaping, that byte
 * escaped, and on from the byte after it. The last partial word is read as the string's last 8
 * bytes, shifted down, with the bytes already written replaced by 'A' above it. Whole words are
 * stored even when only part of one is kept: up to 7 bytes past the end, which
 * nx_event_json_bound() leaves room for and later writes overwrite. */
static char *put_json_string(char *p, const char *s, size_t len) {
    *p++ = '"';
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (i + 8 <= len) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        memcpy(p, &v, 8);
        uint64_t m = swar_escape_mask(v);
        if (!m) {
            p += 8;
            i += 8;
            continue;
        }
        size_t k = (size_t)__builtin_ctzll(m) / 8;
        p = put_json_char(p + k, (unsigned char)s[i + k]);
        i += k + 1;
    }
    while (len >= 8 && i < len) {
        size_t rest = len - i; /* 1..7 */
        uint64_t v;
        memcpy(&v, s + len - 8, 8);
        v = (v >> (8 * (8 - rest))) | (0x4141414141414141ULL << (8 * rest));
        memcpy(p, &v, 8);
        uint64_t m = swar_escape_mask(v);
        size_t k = m ? (size_t)__builtin_ctzll(m) / 8 : rest;
        if (k >= rest) {
            p += rest;
            break;
        }
        p = put_json_char(p + k, (unsigned char)s[i + k]);
        i += k + 1;
    }
    if (len < 8) /* shorter strings (and big-endian machines) go byte by byte */
#endif
        for (; i < len; i++) p = put_json_char(p, (unsigned char)s[i]);
    *p++ = '"';
    return p;
}

/* RFC 3339 UTC with milliseconds, in quotes: "YYYY-MM-DDTHH:MM:SS.mmmZ", 26 bytes. The civil
 * date of a day comes from Howard Hinnant's civil_from_days (proleptic Gregorian, 400-year
 * eras; years outside 0..9999 are clamped) and is kept per thread for the next event, which is
 * nearly always on the same day. */
#define JSON_TIME_BYTES 26
#define MS_PER_DAY 86400000

typedef struct date_cache {
    int64_t day_start_ms; /* INT64_MIN: empty */
    char ymd[10];
} date_cache_t;

static _Thread_local date_cache_t date_cache = {INT64_MIN, {0}};

static void date_fill(date_cache_t *c, int64_t ms) {
    int64_t days = ms >= 0 ? ms / MS_PER_DAY : -((-ms + MS_PER_DAY - 1) / MS_PER_DAY);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2) y++;
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    char *p = c->ymd;
    memcpy(p, DIGITS2 + 2 * (y / 100), 2);
    memcpy(p + 2, DIGITS2 + 2 * (y % 100), 2);
    p[4] = '-';
    memcpy(p + 5, DIGITS2 + 2 * m, 2);
    p[7] = '-';
    memcpy(p + 8, DIGITS2 + 2 * d, 2);
    c->day_start_ms = days * MS_PER_DAY;
}

static char *put_json_time(char *p, int64_t ms) {
    date_cache_t *c = &date_cache;
    if (c->day_start_ms == INT64_MIN || ms < c->day_start_ms ||
        ms - c->day_start_ms >= MS_PER_DAY)
        date_fill(c, ms);
    uint32_t ms_of_day = (uint32_t)(ms - c->day_start_ms);
    uint32_t secs = ms_of_day / 1000, milli = ms_of_day % 1000;
    *p++ = '"';
    memcpy(p, c->ymd, 10);
    p[10] = 'T';
    memcpy(p + 11, DIGITS2 + 2 * (secs / 3600), 2);
    p[13] = ':';
    memcpy(p + 14, DIGITS2 + 2 * (secs / 60 % 60), 2);
    p[16] = ':';
    memcpy(p + 17, DIGITS2 + 2 * (secs % 60), 2);
    p[19] = '.';
    p[20] = (char)('0' + milli / 100);
    memcpy(p + 21, DIGITS2 + 2 * (milli % 100), 2);
    p[23] = 'Z';
    p[24] = '"';
    return p + 25;
}

/* Worst case: keys and punctuation (< 160 bytes for any kind), 20 bytes per number, 26 per
 * timestamp, 6 per string byte plus quotes, the "type" member, and the 7 bytes
 * put_json_string() may store past its end. */
size_t nx_event_json_bound(const nx_event_t *ev) {
    size_t strings = 0;
    switch (ev->kind) {
    case NX_PERSON: {
        const nx_person_t *p = &ev->person;
        strings = p->name_len + p->email_address_len + p->credit_card_len + p->city_len +
                  p->state_len + p->extra_len;
        break;
    }
    case NX_AUCTION: {
        const nx_auction_t *a = &ev->auction;
        strings = a->item_name_len + a->description_len + a->extra_len;
        break;
    }
    case NX_BID: {
        const nx_bid_t *b = &ev->bid;
        strings = b->channel_len + b->url_len + b->extra_len;
        break;
    }
    }
    return 200 + 24 + 6 * 20 + 2 * JSON_TIME_BYTES + 6 * strings + 2 * 6 + 8;
}

static size_t json_write(const nx_event_t *ev, char *out, size_t cap, int typed) {
    if (cap < nx_event_json_bound(ev)) return 0;
    char *p = out;
    *p++ = '{';
    if (typed) {
        p = PUT_LIT(p, "\"type\":\"");
        const char *name = nx_kind_name(ev->kind);
        size_t n = strlen(name);
        memcpy(p, name, n);
        p += n;
        p = PUT_LIT(p, "\",");
    }
    switch (ev->kind) {
    case NX_PERSON: {
        const nx_person_t *e = &ev->person;
        p = put_int(PUT_LIT(p, "\"id\":"), e->id);
        p = put_json_string(PUT_LIT(p, ",\"name\":"), e->name, e->name_len);
        p = put_json_string(PUT_LIT(p, ",\"emailAddress\":"), e->email_address,
                            e->email_address_len);
        p = put_json_string(PUT_LIT(p, ",\"creditCard\":"), e->credit_card, e->credit_card_len);
        p = put_json_string(PUT_LIT(p, ",\"city\":"), e->city, e->city_len);
        p = put_json_string(PUT_LIT(p, ",\"state\":"), e->state, e->state_len);
        p = put_json_time(PUT_LIT(p, ",\"dateTime\":"), e->date_time_ms);
        p = put_json_string(PUT_LIT(p, ",\"extra\":"), e->extra, e->extra_len);
        break;
    }
    case NX_AUCTION: {
        const nx_auction_t *e = &ev->auction;
        p = put_int(PUT_LIT(p, "\"id\":"), e->id);
        p = put_json_string(PUT_LIT(p, ",\"itemName\":"), e->item_name, e->item_name_len);
        p = put_json_string(PUT_LIT(p, ",\"description\":"), e->description, e->description_len);
        p = put_int(PUT_LIT(p, ",\"initialBid\":"), e->initial_bid);
        p = put_int(PUT_LIT(p, ",\"reserve\":"), e->reserve);
        p = put_json_time(PUT_LIT(p, ",\"dateTime\":"), e->date_time_ms);
        p = put_json_time(PUT_LIT(p, ",\"expires\":"), e->expires_ms);
        p = put_int(PUT_LIT(p, ",\"seller\":"), e->seller);
        p = put_int(PUT_LIT(p, ",\"category\":"), e->category);
        p = put_json_string(PUT_LIT(p, ",\"extra\":"), e->extra, e->extra_len);
        break;
    }
    case NX_BID: {
        const nx_bid_t *e = &ev->bid;
        p = put_int(PUT_LIT(p, "\"auction\":"), e->auction);
        p = put_int(PUT_LIT(p, ",\"bidder\":"), e->bidder);
        p = put_int(PUT_LIT(p, ",\"price\":"), e->price);
        p = put_json_string(PUT_LIT(p, ",\"channel\":"), e->channel, e->channel_len);
        p = put_json_string(PUT_LIT(p, ",\"url\":"), e->url, e->url_len);
        p = put_json_time(PUT_LIT(p, ",\"dateTime\":"), e->date_time_ms);
        p = put_json_string(PUT_LIT(p, ",\"extra\":"), e->extra, e->extra_len);
        break;
    }
    }
    *p++ = '}';
    assert((size_t)(p - out) <= cap);
    return (size_t)(p - out);
}

size_t nx_event_json(const nx_event_t *ev, char *out, size_t cap) {
    return json_write(ev, out, cap, 0);
}

size_t nx_event_json_typed(const nx_event_t *ev, char *out, size_t cap) {
    return json_write(ev, out, cap, 1);
}
