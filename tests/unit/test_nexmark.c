/* Unit tests for the Nexmark generator (bench/nexmark/nexmark.c, compiled in here since the
 * unit tests link libsluice only): java.util.Random bit for bit against values printed by Java
 * 17, the Beam model (kinds 1:3:46, sequential person and auction ids, hot and cold picks,
 * idealized sizes, the 100 us timeline), determinism, whole events against a Java run of
 * Beam's generator logic, and JSON that a strict parser reads back to the typed event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../bench/nexmark/nexmark.c"

/* ---- helpers ---------------------------------------------------------------------------- */

static nx_config_t defaults(void) {
    nx_config_t cfg;
    nx_config_defaults(&cfg);
    return cfg;
}

/* Event n's JSON (untyped) into a fresh heap string of exactly the bound's size, so ASan sees
 * any write past it. */
static char *event_json(const nx_config_t *cfg, uint64_t n, nx_event_t *ev, char *scratch,
                        size_t scratch_len, size_t *len) {
    assert_int_equal(nx_event_at(cfg, n, ev, scratch, scratch_len), 0);
    size_t cap = nx_event_json_bound(ev);
    char *out = malloc(cap + 1);
    assert_non_null(out);
    *len = nx_event_json(ev, out, cap);
    assert_true(*len > 0 && *len <= cap);
    out[*len] = '\0';
    return out;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Base-0 ids by Beam's epoch arithmetic, restated here for the default 1:3:46 proportions. */
static int64_t last_person0(int64_t id) {
    int64_t epoch = id / 50, off = id % 50;
    return epoch + (off >= 1 ? 0 : off);
}

static int64_t last_auction0(int64_t id) {
    int64_t epoch = id / 50, off = id % 50;
    if (off < 1) return (epoch - 1) * 3 + 2;
    if (off >= 4) return epoch * 3 + 2;
    return epoch * 3 + off - 1;
}

/* ---- a strict JSON reader for flat objects ------------------------------------------------
 * Reads {"key":value,...} where every value is a string or an integer, checks that the keys are
 * exactly `keys` in order, and decodes each value: strings (escapes undone) into str[i] (NUL
 * bytes kept, length in str_len[i]), integers into num[i]. Fails the test on anything else:
 * raw control bytes in strings, unknown escapes, leading zeros, trailing bytes. */

#define MAX_FIELDS 12
typedef struct flat {
    char str[MAX_FIELDS][1024];
    size_t str_len[MAX_FIELDS];
    int64_t num[MAX_FIELDS];
    int is_str[MAX_FIELDS];
} flat_t;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static const char *read_string(const char *p, const char *end, char *out, size_t cap,
                               size_t *out_len) {
    if (p >= end || *p != '"') fail_msg("expected '\"' at %.20s", p);
    p++;
    size_t n = 0;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20) fail_msg("raw control byte 0x%02x in a string", c);
        if (c == '\\') {
            if (p >= end) fail_msg("escape at end");
            char e = *p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (end - p < 4) fail_msg("short \\u escape");
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) fail_msg("bad hex digit in \\u escape");
                    v = v * 16 + h;
                }
                if (v > 0x7f) fail_msg("\\u escape above ASCII: the generator never needs one");
                c = (unsigned char)v;
                p += 4;
                break;
            }
            default: fail_msg("unknown escape \\%c", e);
            }
        }
        if (n + 1 >= cap) fail_msg("string longer than %zu", cap);
        out[n++] = (char)c;
    }
    if (p >= end) fail_msg("unterminated string");
    out[n] = '\0';
    *out_len = n;
    return p + 1;
}

static void read_flat(const char *s, size_t len, const char *const *keys, size_t nkeys,
                      flat_t *f) {
    const char *p = s, *end = s + len;
    char key[64];
    size_t key_len;
    memset(f, 0, sizeof(*f));
    if (p >= end || *p++ != '{') fail_msg("expected '{'");
    for (size_t i = 0; i < nkeys; i++) {
        p = read_string(p, end, key, sizeof(key), &key_len);
        if (strcmp(key, keys[i])) fail_msg("key %zu is \"%s\", expected \"%s\"", i, key, keys[i]);
        if (p >= end || *p++ != ':') fail_msg("expected ':' after \"%s\"", key);
        if (p < end && *p == '"') {
            f->is_str[i] = 1;
            p = read_string(p, end, f->str[i], sizeof(f->str[i]), &f->str_len[i]);
        } else {
            int neg = p < end && *p == '-';
            if (neg) p++;
            if (p >= end || *p < '0' || *p > '9') fail_msg("expected a value for \"%s\"", key);
            if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
                fail_msg("leading zero in \"%s\"", key);
            int64_t v = 0;
            while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
            f->num[i] = neg ? -v : v;
        }
        char want = i + 1 < nkeys ? ',' : '}';
        if (p >= end || *p++ != want) fail_msg("expected '%c' after \"%s\"", want, key);
    }
    if (p != end) fail_msg("%zu bytes after the object", (size_t)(end - p));
}

static void assert_field_str(const flat_t *f, int i, const char *s, size_t n) {
    assert_true(f->is_str[i]);
    assert_int_equal(f->str_len[i], n);
    assert_memory_equal(f->str[i], s, n);
}

static void fmt_time(int64_t ms, char *out) {
    nx_event_t ev = {.kind = NX_BID};
    ev.bid.channel = ev.bid.url = ev.bid.extra = "";
    ev.bid.date_time_ms = ms;
    char buf[512];
    size_t n = nx_event_json(&ev, buf, sizeof(buf));
    buf[n] = '\0';
    const char *t = strstr(buf, "\"dateTime\":\"");
    assert_non_null(t);
    memcpy(out, t + 12, 24);
    out[24] = '\0';
}

static const char *const BID_KEYS[] = {"auction", "bidder", "price", "channel",
                                       "url",     "dateTime", "extra"};
static const char *const PERSON_KEYS[] = {"id",   "name",  "emailAddress", "creditCard",
                                          "city", "state", "dateTime",     "extra"};
static const char *const AUCTION_KEYS[] = {"id",       "itemName", "description", "initialBid",
                                           "reserve",  "dateTime", "expires",     "seller",
                                           "category", "extra"};

/* ---- java.util.Random --------------------------------------------------------------------
 * Expected values printed by OpenJDK 17: new Random(seed), then nextInt(), nextInt(100),
 * nextInt(13), nextInt(2^30 + 1), nextInt(2^31 - 1), nextInt(16), nextLong() in that order on
 * one instance, and nextDouble() first on a fresh one. */

typedef struct jr_case {
    int64_t seed;
    int32_t next_int, i100, i13, i2p30, imax, i16;
    int64_t next_long;
    uint64_t double_bits;
} jr_case_t;

static const jr_case_t JR_CASES[] = {
    {0, -1155484576, 48, 10, 663681053, 1182054491, 1, -7423979211207825555LL,
     0x3fe764168ea6ca89ULL},
    {1, -1155869325, 88, 7, 874970313, 446064254, 0, 6137546356583794141LL,
     0x3fe7635aa8cdc4e6ULL},
    {42, -1170105035, 63, 9, 102948884, 662969970, 15, 5111195811822994797LL,
     0x3fe74833a06ff457ULL},
    {-1, 1155099827, 25, 9, 894294477, 857465478, 13, 1042927417093027072LL,
     0x3fd1365b2708722cULL},
    {123456789, -1442945365, 0, 11, 547328344, 838606290, 3, -1967508324443428465LL,
     0x3fe53fccd61b45a8ULL},
    {INT64_MIN, -1155484576, 48, 10, 663681053, 1182054491, 1, -7423979211207825555LL,
     0x3fe764168ea6ca89ULL},
    {1436918400000LL, -298772530, 1, 11, 220151072, 645356360, 9, -5924651955547443086LL,
     0x3fedc622fc7bd048ULL},
};

static void test_jrandom_matches_java(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(JR_CASES) / sizeof(JR_CASES[0]); i++) {
        const jr_case_t *c = &JR_CASES[i];
        nx_jrandom_t r;
        nx_jrandom_seed(&r, c->seed);
        assert_int_equal(nx_jrandom_next_int(&r), c->next_int);
        assert_int_equal(nx_jrandom_next_int_bound(&r, 100), c->i100);
        assert_int_equal(nx_jrandom_next_int_bound(&r, 13), c->i13);
        assert_int_equal(nx_jrandom_next_int_bound(&r, (1 << 30) + 1), c->i2p30);
        assert_int_equal(nx_jrandom_next_int_bound(&r, INT32_MAX), c->imax);
        assert_int_equal(nx_jrandom_next_int_bound(&r, 16), c->i16);
        assert_int_equal(nx_jrandom_next_long(&r), c->next_long);
        nx_jrandom_seed(&r, c->seed);
        double d = nx_jrandom_next_double(&r);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        assert_int_equal(bits, c->double_bits);
    }
}

/* nextInt(2^30 + 1) rejects about half its draws (the last block of 2^31 is short): the loop
 * must draw again exactly as Java does, or every later value shifts. */
static void test_jrandom_rejection_loop(void **state) {
    (void)state;
    static const int32_t want[8] = {20678044,  747989380, 1053566254, 755731200,
                                    259278708, 542588911, 178712961,  234738279};
    nx_jrandom_t r;
    nx_jrandom_seed(&r, 7);
    for (int i = 0; i < 8; i++)
        assert_int_equal(nx_jrandom_next_int_bound(&r, (1 << 30) + 1), want[i]);
    assert_int_equal(nx_jrandom_next_int(&r), -1539251611);
}

/* ---- the model ---------------------------------------------------------------------------- */

static void test_config_defaults_are_beams(void **state) {
    (void)state;
    nx_config_t c = defaults();
    assert_int_equal(c.first_event_id, 0);
    assert_int_equal(c.base_time_ms, 1436918400000LL);
    assert_int_equal(c.first_event_rate, 10000);
    assert_int_equal(c.num_event_generators, 1);
    assert_int_equal(c.person_proportion, 1);
    assert_int_equal(c.auction_proportion, 3);
    assert_int_equal(c.bid_proportion, 46);
    assert_int_equal(c.hot_auction_ratio, 2);
    assert_int_equal(c.hot_sellers_ratio, 4);
    assert_int_equal(c.hot_bidders_ratio, 4);
    assert_int_equal(c.num_in_flight_auctions, 100);
    assert_int_equal(c.num_active_people, 1000);
    assert_int_equal(c.avg_person_bytes, 200);
    assert_int_equal(c.avg_auction_bytes, 500);
    assert_int_equal(c.avg_bid_bytes, 100);
    assert_int_equal(nx_config_check(&c), 0);
    assert_true(nx_scratch_size(&c) <= NX_SCRATCH_BYTES);
    assert_int_equal(nx_inter_event_delay_us(&c), 100);
}

static void test_config_check_rejects_bad_knobs(void **state) {
    (void)state;
    nx_config_t c = defaults();
    c.hot_auction_ratio = 0;
    assert_int_equal(nx_config_check(&c), -EINVAL);
    c = defaults();
    c.bid_proportion = -1;
    assert_int_equal(nx_config_check(&c), -EINVAL);
    c = defaults();
    c.first_event_rate = 0;
    assert_int_equal(nx_config_check(&c), -EINVAL);
    c = defaults();
    c.num_active_people = 0;
    assert_int_equal(nx_config_check(&c), -EINVAL);
    c = defaults();
    c.avg_bid_bytes = -5;
    assert_int_equal(nx_config_check(&c), -EINVAL);
}

static void test_scratch_too_small_is_enospc(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[64];
    nx_event_t ev;
    assert_int_equal(nx_event_at(&c, 4, &ev, scratch, sizeof(scratch)), -ENOSPC);
    c.avg_auction_bytes = 5000;
    char *big = malloc(nx_scratch_size(&c));
    assert_non_null(big);
    assert_int_equal(nx_event_at(&c, 1, &ev, big, NX_SCRATCH_BYTES), -ENOSPC);
    assert_int_equal(nx_event_at(&c, 1, &ev, big, nx_scratch_size(&c)), 0);
    assert_int_equal(ev.kind, NX_AUCTION);
    assert_true(ev.auction.extra_len > 3000);
    free(big);
}

static void test_proportions_exact(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES];
    uint64_t count[3] = {0, 0, 0};
    for (uint64_t n = 0; n < 50000; n++) {
        nx_event_t ev;
        assert_int_equal(nx_event_at(&c, n, &ev, scratch, sizeof(scratch)), 0);
        assert_int_equal(ev.kind, nx_kind_at(&c, n));
        nx_kind_t want = n % 50 == 0 ? NX_PERSON : n % 50 < 4 ? NX_AUCTION : NX_BID;
        assert_int_equal(ev.kind, want);
        count[ev.kind]++;
    }
    assert_int_equal(count[NX_PERSON], 1000);
    assert_int_equal(count[NX_AUCTION], 3000);
    assert_int_equal(count[NX_BID], 46000);
}

static void test_determinism(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char s1[NX_SCRATCH_BYTES], s2[NX_SCRATCH_BYTES];
    enum { N = 2000 };
    uint64_t forward[N];
    for (uint64_t n = 0; n < N; n++) {
        nx_event_t ev;
        size_t len;
        char *j = event_json(&c, n, &ev, s1, sizeof(s1), &len);
        forward[n] = fnv1a(0xcbf29ce484222325ULL, j, len);
        free(j);
    }
    /* Backwards, with another scratch: the same events. */
    for (uint64_t n = N; n-- > 0;) {
        nx_event_t ev;
        size_t len;
        char *j = event_json(&c, n, &ev, s2, sizeof(s2), &len);
        assert_int_equal(fnv1a(0xcbf29ce484222325ULL, j, len), forward[n]);
        free(j);
    }
}

/* Persons and auctions take the next id in turn; every id a bid, auction or seller names is
 * either Beam's hot one or a cold pick from the window Beam allows. */
static void test_ids_follow_beams_hot_and_cold_logic(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES];
    int64_t next_person = 1000, next_auction = 1000;
    uint64_t bids = 0, hot_auction = 0, hot_bidder = 0, auctions = 0, hot_seller = 0,
             hot_channel = 0, channel_id = 0;
    for (int64_t n = 0; n < 50000; n++) {
        nx_event_t ev;
        assert_int_equal(nx_event_at(&c, (uint64_t)n, &ev, scratch, sizeof(scratch)), 0);
        int64_t lp = last_person0(n), la = last_auction0(n);
        int64_t people = lp + 1, active = people < 1000 ? people : 1000;
        switch (ev.kind) {
        case NX_PERSON:
            assert_int_equal(ev.person.id, next_person++);
            break;
        case NX_AUCTION: {
            const nx_auction_t *a = &ev.auction;
            auctions++;
            assert_int_equal(a->id, next_auction++);
            int64_t s0 = a->seller - 1000;
            if (s0 == lp / 100 * 100) hot_seller++;
            else assert_true(s0 >= people - active && s0 < people + 10);
            assert_true(a->category >= 10 && a->category <= 14);
            assert_true(a->initial_bid >= 100 && a->initial_bid <= 100000000);
            assert_true(a->reserve > a->initial_bid);
            /* Expires within twice the time until the auction 100 auctions later. */
            assert_true(a->expires_ms > a->date_time_ms);
            assert_true(a->expires_ms - a->date_time_ms <= 2 * 167 + 1);
            break;
        }
        case NX_BID: {
            const nx_bid_t *b = &ev.bid;
            bids++;
            int64_t a0 = b->auction - 1000, b0 = b->bidder - 1000;
            if (a0 == la / 100 * 100) hot_auction++;
            else assert_true(a0 >= (la - 100 > 0 ? la - 100 : 0) && a0 <= la + 10);
            if (b0 == lp / 100 * 100 + 1) hot_bidder++;
            else assert_true(b0 >= people - active && b0 < people + 10);
            assert_true(b->price >= 100 && b->price <= 100000000);
            assert_true(b->url_len > 24 && !memcmp(b->url, "https://www.nexmark.com/", 24));
            if (b->channel_len < 8 || memcmp(b->channel, "channel-", 8)) {
                hot_channel++;
                assert_null(memchr(b->url, '&', b->url_len));
            } else {
                int64_t ch = strtol(b->channel + 8, NULL, 10);
                assert_true(ch >= 0 && ch < NX_CHANNELS_NUMBER);
                if (memmem(b->url, b->url_len, "&channel_id=", 12)) channel_id++;
            }
            break;
        }
        }
    }
    /* P(hot) is 1 - 1/ratio, plus cold picks that land on the hot id. Beam seeds a Random per
     * event with consecutive ids, and the first draws of such Randoms are correlated, so the
     * shares drift from that: hot auctions are 47.1% of these 46,000 bids, hot sellers 71.8%
     * of the auctions (the Java reference gives the same events). */
    assert_true(hot_auction > bids * 45 / 100 && hot_auction < bids * 56 / 100);
    assert_true(hot_bidder > bids * 72 / 100 && hot_bidder < bids * 80 / 100);
    assert_true(hot_seller > auctions * 68 / 100 && hot_seller < auctions * 82 / 100);
    assert_true(hot_channel > bids * 48 / 100 && hot_channel < bids * 53 / 100);
    uint64_t cold = bids - hot_channel;
    assert_true(channel_id > cold * 87 / 100 && channel_id < cold * 93 / 100);
}

/* Beam's idealized sizes (the longs at 8 bytes, strings at their length, extra included)
 * average 200, 500 and 100 bytes. */
static void test_average_sizes(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES];
    double sum[3] = {0, 0, 0};
    uint64_t count[3] = {0, 0, 0};
    for (uint64_t n = 0; n < 100000; n++) {
        nx_event_t ev;
        assert_int_equal(nx_event_at(&c, n, &ev, scratch, sizeof(scratch)), 0);
        size_t size = 0;
        if (ev.kind == NX_PERSON) {
            const nx_person_t *p = &ev.person;
            size = 8 + p->name_len + p->email_address_len + p->credit_card_len + p->city_len +
                   p->state_len + p->extra_len;
        } else if (ev.kind == NX_AUCTION) {
            const nx_auction_t *a = &ev.auction;
            size = 8 + a->item_name_len + a->description_len + 5 * 8 + a->extra_len;
        } else {
            size = 4 * 8 + ev.bid.extra_len;
        }
        sum[ev.kind] += (double)size;
        count[ev.kind]++;
    }
    double person = sum[NX_PERSON] / (double)count[NX_PERSON];
    double auction = sum[NX_AUCTION] / (double)count[NX_AUCTION];
    double bid = sum[NX_BID] / (double)count[NX_BID];
    print_message("average idealized sizes: person %.1f, auction %.1f, bid %.1f\n", person,
                  auction, bid);
    assert_true(person > 194 && person < 206);
    assert_true(auction > 485 && auction < 515);
    assert_true(bid > 97 && bid < 103);
}

static void test_timestamps(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES];
    /* 100 us apart, truncated to ms after multiplying: ten events per millisecond. */
    for (uint64_t n = 0; n < 1000; n++) {
        nx_event_t ev;
        assert_int_equal(nx_event_at(&c, n, &ev, scratch, sizeof(scratch)), 0);
        int64_t want = 1436918400000LL + (int64_t)(n * 100 / 1000);
        assert_int_equal(nx_timestamp_ms(&c, n), want);
        int64_t got = ev.kind == NX_PERSON    ? ev.person.date_time_ms
                      : ev.kind == NX_AUCTION ? ev.auction.date_time_ms
                                              : ev.bid.date_time_ms;
        assert_int_equal(got, want);
    }
    assert_int_equal(nx_timestamp_ms(&c, 9), 1436918400000LL);
    assert_int_equal(nx_timestamp_ms(&c, 10), 1436918400001LL);
    assert_int_equal(nx_timestamp_ms(&c, 864000000), 1436918400000LL + 86400000);

    char t[32];
    fmt_time(1436918400000LL, t);
    assert_string_equal(t, "2015-07-15T00:00:00.000Z");
    fmt_time(1436918400000LL + 1234, t);
    assert_string_equal(t, "2015-07-15T00:00:01.234Z");
    fmt_time(1436918400000LL + 86400000 - 1, t);
    assert_string_equal(t, "2015-07-15T23:59:59.999Z");
    fmt_time(1436918400000LL + 86400000, t);
    assert_string_equal(t, "2015-07-16T00:00:00.000Z");
    fmt_time(951782400000LL, t); /* a leap day */
    assert_string_equal(t, "2000-02-29T00:00:00.000Z");
    fmt_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    fmt_time(-1, t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
}

/* Event ids seed the Random; event numbers set the time. With first_event_id = 7, event 0 is
 * event id 7's data at event number 0's time (Beam's split generators). */
static void test_first_event_id_shifts_data_not_time(void **state) {
    (void)state;
    nx_config_t base = defaults(), shifted = defaults();
    shifted.first_event_id = 7;
    char s1[NX_SCRATCH_BYTES], s2[NX_SCRATCH_BYTES];
    nx_event_t a, b;
    assert_int_equal(nx_event_at(&base, 7, &a, s1, sizeof(s1)), 0);
    assert_int_equal(nx_event_at(&shifted, 0, &b, s2, sizeof(s2)), 0);
    assert_int_equal(a.kind, NX_BID);
    assert_int_equal(b.kind, NX_BID);
    assert_int_equal(a.bid.auction, b.bid.auction);
    assert_int_equal(a.bid.bidder, b.bid.bidder);
    assert_int_equal(a.bid.price, b.bid.price);
    assert_int_equal(a.bid.extra_len, b.bid.extra_len);
    assert_memory_equal(a.bid.extra, b.bid.extra, a.bid.extra_len);
    assert_int_equal(b.bid.date_time_ms, 1436918400000LL);
    assert_int_equal(nx_kind_at(&shifted, 43), NX_PERSON);
}

/* Whole events against a Java run of Beam's generator (java.util.Random seeded with the event
 * id; the person, auction and bid generators as Beam has them, nexmark-flink's channel and url
 * drawn after the bid price, urls seeded as nexmark.c documents), printed in this JSON form.
 * A few lines verbatim, and the FNV-1a 64 digest of events 0..9999, each line ending in '\n'
 * (2,824,508 bytes). */
static void test_events_match_java_reference(void **state) {
    (void)state;
    static const struct {
        uint64_t n;
        const char *json;
    } lines[] = {
        {0, "{\"id\":1000,\"name\":\"Peter Jones\",\"emailAddress\":\"nhd@xcat.com\","
            "\"creditCard\":\"7241 7320 9143 4888\",\"city\":\"Portland\",\"state\":\"WY\","
            "\"dateTime\":\"2015-07-15T00:00:00.000Z\",\"extra\":\"WN_HS_bnpkkiwhwana_L^`KZjdgs"
            "id`K]MLU[aaOH`ztxbulvlxtkn_ZZ^T\\\\mqgdjzvlkymsmfrhkfVYSXK_OY[aVYVKa\\\\X^]RO]OYg"
            "uwiduWJNQLLaMLHOTaHY_J[YKWaUOSJN_VHWXZ]`SgbnjqeVVQ\\\\[[\"}"},
        {4, "{\"auction\":1000,\"bidder\":1001,\"price\":32530001,\"channel\":\"Google\","
            "\"url\":\"https://www.nexmark.com/cozb/_r_/r_cg/item.htm?query=1\","
            "\"dateTime\":\"2015-07-15T00:00:00.000Z\",\"extra\":\"sbolvyqwgticfdrwdyiyofziYMU"
            "\\\\Z`UaTQO][NX\\\\RM]WPYTOuwogvszlx\"}"},
        {7, "{\"auction\":1000,\"bidder\":1001,\"price\":3126206,\"channel\":\"channel-6254\","
            "\"url\":\"https://www.nexmark.com/vlg/suo/kiyd/item.htm?query=1&channel_id="
            "1981284352\",\"dateTime\":\"2015-07-15T00:00:00.000Z\",\"extra\":\"KUUY`RJaVNU`^Q"
            "IWNHgdvnfxZQ]H_PbustqrpqasinNX`Q[_YKKNP\\\\woaecePJPO[X\"}"},
        {12345, "{\"auction\":1710,\"bidder\":1201,\"price\":31819124,\"channel\":\"channel-1375"
                "\",\"url\":\"https://www.nexmark.com/ijhk/p_l/vvl/item.htm?query=1&channel_id="
                "90177536\",\"dateTime\":\"2015-07-15T00:00:01.234Z\",\"extra\":\"fxwpdhubxcumcc"
                "tffwU[HZY]qcsizf`ZJO^\\\\`HJKMayknkupkswmffS]\\\\ZWHZ]M^S\\\\fdloyq\"}"},
    };
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES];
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        nx_event_t ev;
        size_t len;
        char *j = event_json(&c, lines[i].n, &ev, scratch, sizeof(scratch), &len);
        assert_string_equal(j, lines[i].json);
        free(j);
    }
    uint64_t h = 0xcbf29ce484222325ULL, bytes = 0;
    for (uint64_t n = 0; n < 10000; n++) {
        nx_event_t ev;
        size_t len;
        char *j = event_json(&c, n, &ev, scratch, sizeof(scratch), &len);
        h = fnv1a(fnv1a(h, j, len), "\n", 1);
        bytes += len + 1;
        free(j);
    }
    assert_int_equal(bytes, 2824508);
    assert_int_equal(h, 0x8c08618aa6180ed8ULL);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

/* 10,000 events read back by a strict parser give the typed events' exact fields. */
static void test_json_reads_back(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char *scratch = malloc(nx_scratch_size(&c)); /* exact size: ASan catches overruns */
    assert_non_null(scratch);
    flat_t *f = malloc(sizeof(*f));
    assert_non_null(f);
    char t[32], t2[32];
    for (uint64_t n = 0; n < 10000; n++) {
        nx_event_t ev;
        size_t len;
        char *j = event_json(&c, n, &ev, scratch, nx_scratch_size(&c), &len);
        switch (ev.kind) {
        case NX_PERSON: {
            const nx_person_t *p = &ev.person;
            read_flat(j, len, PERSON_KEYS, 8, f);
            assert_int_equal(f->num[0], p->id);
            assert_field_str(f, 1, p->name, p->name_len);
            assert_field_str(f, 2, p->email_address, p->email_address_len);
            assert_field_str(f, 3, p->credit_card, p->credit_card_len);
            assert_field_str(f, 4, p->city, p->city_len);
            assert_field_str(f, 5, p->state, p->state_len);
            fmt_time(p->date_time_ms, t);
            assert_field_str(f, 6, t, 24);
            assert_field_str(f, 7, p->extra, p->extra_len);
            assert_int_equal(p->credit_card_len, 19);
            assert_non_null(memchr(p->email_address, '@', p->email_address_len));
            break;
        }
        case NX_AUCTION: {
            const nx_auction_t *a = &ev.auction;
            read_flat(j, len, AUCTION_KEYS, 10, f);
            assert_int_equal(f->num[0], a->id);
            assert_field_str(f, 1, a->item_name, a->item_name_len);
            assert_field_str(f, 2, a->description, a->description_len);
            assert_int_equal(f->num[3], a->initial_bid);
            assert_int_equal(f->num[4], a->reserve);
            fmt_time(a->date_time_ms, t);
            fmt_time(a->expires_ms, t2);
            assert_field_str(f, 5, t, 24);
            assert_field_str(f, 6, t2, 24);
            assert_int_equal(f->num[7], a->seller);
            assert_int_equal(f->num[8], a->category);
            assert_field_str(f, 9, a->extra, a->extra_len);
            break;
        }
        case NX_BID: {
            const nx_bid_t *b = &ev.bid;
            read_flat(j, len, BID_KEYS, 7, f);
            assert_int_equal(f->num[0], b->auction);
            assert_int_equal(f->num[1], b->bidder);
            assert_int_equal(f->num[2], b->price);
            assert_field_str(f, 3, b->channel, b->channel_len);
            assert_field_str(f, 4, b->url, b->url_len);
            fmt_time(b->date_time_ms, t);
            assert_field_str(f, 5, t, 24);
            assert_field_str(f, 6, b->extra, b->extra_len);
            break;
        }
        }
        free(j);
    }
    free(f);
    free(scratch);
}

/* Escaping at every position of strings of every length around the 8-byte words the writer
 * scans: each byte that needs it ('"', '\\', controls, NUL) is escaped, everything else kept. */
static void test_json_escapes_everywhere(void **state) {
    (void)state;
    static const char specials[] = {'"', '\\', '\n', '\t', '\0', 0x01, 0x1f, '\r', '\b', '\f'};
    flat_t *f = malloc(sizeof(*f));
    assert_non_null(f);
    char text[40];
    for (size_t len = 0; len <= sizeof(text); len++) {
        for (size_t pos = 0; pos <= len; pos++) {
            for (size_t k = 0; k < sizeof(specials); k++) {
                for (size_t i = 0; i < len; i++) text[i] = (char)('H' + (i * 7) % 50);
                if (pos < len) text[pos] = specials[k];
                if (len > 3 && pos + 3 < len) text[len - 1] = specials[(k + 3) % sizeof(specials)];
                nx_event_t ev = {.kind = NX_BID};
                ev.bid.auction = 1;
                ev.bid.bidder = -2;
                ev.bid.price = INT64_MAX;
                ev.bid.channel = text;
                ev.bid.channel_len = len;
                ev.bid.url = text;
                ev.bid.url_len = len;
                ev.bid.extra = "x";
                ev.bid.extra_len = 1;
                size_t cap = nx_event_json_bound(&ev);
                char *out = malloc(cap);
                assert_non_null(out);
                size_t n = nx_event_json(&ev, out, cap);
                assert_true(n > 0);
                read_flat(out, n, BID_KEYS, 7, f);
                assert_int_equal(f->num[1], -2);
                assert_int_equal(f->num[2], INT64_MAX);
                assert_field_str(f, 3, text, len);
                assert_field_str(f, 4, text, len);
                free(out);
            }
        }
    }
    free(f);
}

static void test_json_typed_and_small_cap(void **state) {
    (void)state;
    nx_config_t c = defaults();
    char scratch[NX_SCRATCH_BYTES], out[4096];
    nx_event_t ev;
    assert_int_equal(nx_event_at(&c, 0, &ev, scratch, sizeof(scratch)), 0);
    size_t n = nx_event_json_typed(&ev, out, sizeof(out));
    assert_true(n > 0);
    assert_memory_equal(out, "{\"type\":\"person\",\"id\":1000,", 27);
    assert_int_equal(nx_event_json(&ev, out, nx_event_json_bound(&ev) - 1), 0);
    assert_int_equal(nx_event_json(&ev, out, 10), 0);
    assert_int_equal(nx_event_at(&c, 1, &ev, scratch, sizeof(scratch)), 0);
    n = nx_event_json_typed(&ev, out, sizeof(out));
    assert_memory_equal(out, "{\"type\":\"auction\",\"id\":1000,", 28);
    assert_int_equal(nx_event_at(&c, 4, &ev, scratch, sizeof(scratch)), 0);
    n = nx_event_json_typed(&ev, out, sizeof(out));
    assert_memory_equal(out, "{\"type\":\"bid\",\"auction\":1000,", 29);
    assert_string_equal(nx_kind_name(NX_BID), "bid");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jrandom_matches_java),
        cmocka_unit_test(test_jrandom_rejection_loop),
        cmocka_unit_test(test_config_defaults_are_beams),
        cmocka_unit_test(test_config_check_rejects_bad_knobs),
        cmocka_unit_test(test_scratch_too_small_is_enospc),
        cmocka_unit_test(test_proportions_exact),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_ids_follow_beams_hot_and_cold_logic),
        cmocka_unit_test(test_average_sizes),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_first_event_id_shifts_data_not_time),
        cmocka_unit_test(test_events_match_java_reference),
        cmocka_unit_test(test_json_reads_back),
        cmocka_unit_test(test_json_escapes_everywhere),
        cmocka_unit_test(test_json_typed_and_small_cap),
    };
    return cmocka_run_group_tests_name("nexmark", tests, NULL, NULL);
}
