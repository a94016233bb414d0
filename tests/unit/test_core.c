/* Unit tests for core/: CRC32C (known vectors, hardware vs. table path, incremental use),
 * zig-zag varints (known encodings, round trips, malformed input), Kafka's murmur2 and
 * partition choice, sl_buf (JSON escaping, integer text) and the RFC 3339 parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/hash.h"
#include "core/varint.h"
#include "sluice.h"

/* ---- CRC32C ------------------------------------------------------------------------------ */

static void crc_check_value(void **state) {
    (void)state;
    /* The CRC catalogue's check value for CRC-32C (iSCSI). */
    assert_int_equal(sl_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(sl_crc32c_sw(0, "123456789", 9), 0xE3069283u);
}

static void crc_rfc3720_vectors(void **state) {
    (void)state;
    /* RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of 0xFF, ascending, descending. */
    unsigned char b[32];
    memset(b, 0, sizeof(b));
    assert_int_equal(sl_crc32c(0, b, 32), 0x8A9136AAu);
    assert_int_equal(sl_crc32c_sw(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(sl_crc32c(0, b, 32), 0x62A8AB43u);
    assert_int_equal(sl_crc32c_sw(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)i;
    assert_int_equal(sl_crc32c(0, b, 32), 0x46DD794Eu);
    assert_int_equal(sl_crc32c_sw(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)(31 - i);
    assert_int_equal(sl_crc32c(0, b, 32), 0x113FDB5Cu);
    assert_int_equal(sl_crc32c_sw(0, b, 32), 0x113FDB5Cu);
}

static void crc_empty_is_identity(void **state) {
    (void)state;
    assert_int_equal(sl_crc32c(0, "", 0), 0);
    assert_int_equal(sl_crc32c(0x12345678u, "", 0), 0x12345678u);
    assert_int_equal(sl_crc32c_sw(0x12345678u, "", 0), 0x12345678u);
}

static void crc_hw_sw_agree_random(void **state) {
    (void)state;
    enum { MAXLEN = 4096 };
    unsigned char *buf = malloc(MAXLEN + 16);
    assert_non_null(buf);
    srand(12345);
    for (int iter = 0; iter < 3000; iter++) {
        size_t align = (size_t)(rand() % 16);
        size_t len = (size_t)(rand() % (iter < 200 ? 40 : MAXLEN));
        for (size_t i = 0; i < len; i++) buf[align + i] = (unsigned char)rand();
        uint32_t seed = iter % 3 ? 0 : (uint32_t)rand();
        assert_int_equal(sl_crc32c(seed, buf + align, len), sl_crc32c_sw(seed, buf + align, len));
    }
    free(buf);
}

static void crc_incremental_equals_one_shot(void **state) {
    (void)state;
    unsigned char buf[1000];
    srand(777);
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)rand();
    uint32_t whole = sl_crc32c(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 7) {
        assert_int_equal(sl_crc32c(sl_crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut), whole);
        assert_int_equal(sl_crc32c_sw(sl_crc32c_sw(0, buf, cut), buf + cut, sizeof(buf) - cut),
                         whole);
    }
    /* byte by byte */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof(buf); i++) c = sl_crc32c(c, buf + i, 1);
    assert_int_equal(c, whole);
}

/* ---- varints ----------------------------------------------------------------------------- */

static void expect_varint(int32_t v, const char *hex_bytes, size_t n) {
    unsigned char out[SL_VARLONG_MAX];
    size_t w = sl_varint_put(out, v);
    assert_int_equal(w, n);
    assert_int_equal(sl_varint_size(v), n);
    assert_memory_equal(out, hex_bytes, n);
    int32_t back = 0x5a5a5a5a;
    assert_int_equal(sl_varint_get(out, w, &back), n);
    assert_int_equal(back, v);
    /* The same value as a varlong has the same encoding. */
    w = sl_varlong_put(out, v);
    assert_int_equal(w, n);
    assert_memory_equal(out, hex_bytes, n);
}

static void varint_known_encodings(void **state) {
    (void)state;
    expect_varint(0, "\x00", 1);
    expect_varint(-1, "\x01", 1);
    expect_varint(1, "\x02", 1);
    expect_varint(-2, "\x03", 1);
    expect_varint(63, "\x7e", 1);
    expect_varint(-64, "\x7f", 1);
    expect_varint(64, "\x80\x01", 2);
    expect_varint(-65, "\x81\x01", 2);
    expect_varint(300, "\xd8\x04", 2);
    expect_varint(INT32_MAX, "\xfe\xff\xff\xff\x0f", 5);
    expect_varint(INT32_MIN, "\xff\xff\xff\xff\x0f", 5);
}

static void varlong_known_encodings(void **state) {
    (void)state;
    unsigned char out[SL_VARLONG_MAX];
    assert_int_equal(sl_varlong_put(out, INT64_MAX), 10);
    assert_memory_equal(out, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    assert_int_equal(sl_varlong_put(out, INT64_MIN), 10);
    assert_memory_equal(out, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    assert_int_equal(sl_varlong_size(INT64_MIN), 10);
    assert_int_equal(sl_varlong_put(out, (int64_t)1 << 32), 5);
    assert_memory_equal(out, "\x80\x80\x80\x80\x20", 5);
}

static void varint_zigzag_round_trip_edges(void **state) {
    (void)state;
    const int32_t v32[] = {0, -1, 1, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1, 127, -128};
    for (size_t i = 0; i < sizeof(v32) / sizeof(v32[0]); i++) {
        unsigned char b[SL_VARLONG_MAX];
        int32_t back;
        size_t n = sl_varint_put(b, v32[i]);
        assert_true(n >= 1 && n <= SL_VARINT_MAX);
        assert_int_equal(n, sl_varint_size(v32[i]));
        assert_int_equal(sl_varint_get(b, n, &back), n);
        assert_int_equal(back, v32[i]);
    }
    const int64_t v64[] = {0, -1, 1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, INT64_MIN + 1,
                           INT64_MAX - 1, (int64_t)1 << 62, -((int64_t)1 << 62)};
    for (size_t i = 0; i < sizeof(v64) / sizeof(v64[0]); i++) {
        unsigned char b[SL_VARLONG_MAX];
        int64_t back;
        size_t n = sl_varlong_put(b, v64[i]);
        assert_true(n >= 1 && n <= SL_VARLONG_MAX);
        assert_int_equal(n, sl_varlong_size(v64[i]));
        assert_int_equal(sl_varlong_get(b, n, &back), n);
        assert_true(back == v64[i]);
    }
}

static void varint_round_trip_random(void **state) {
    (void)state;
    srand(99);
    for (int i = 0; i < 100000; i++) {
        uint64_t u = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
        u >>= rand() % 64;
        int64_t v = (int64_t)u * (rand() & 1 ? -1 : 1);
        unsigned char b[SL_VARLONG_MAX];
        int64_t back;
        size_t n = sl_varlong_put(b, v);
        assert_int_equal(sl_varlong_get(b, n, &back), n);
        assert_true(back == v);
        int32_t v32 = (int32_t)(uint32_t)u, b32;
        n = sl_varint_put(b, v32);
        assert_int_equal(sl_varint_get(b, n, &b32), n);
        assert_int_equal(b32, v32);
    }
}

static void varint_truncated_rejected(void **state) {
    (void)state;
    int32_t v;
    int64_t w;
    assert_int_equal(sl_varint_get((const unsigned char *)"", 0, &v), 0);
    assert_int_equal(sl_varint_get((const unsigned char *)"\x80", 1, &v), 0);
    assert_int_equal(sl_varint_get((const unsigned char *)"\xff\xff\xff\xff", 4, &v), 0);
    assert_int_equal(sl_varlong_get((const unsigned char *)"", 0, &w), 0);
    assert_int_equal(sl_varlong_get((const unsigned char *)"\x80\x80", 2, &w), 0);
    /* A complete encoding read with a too-short length is truncated too. */
    unsigned char b[SL_VARLONG_MAX];
    size_t n = sl_varlong_put(b, INT64_MIN);
    for (size_t k = 0; k < n; k++) assert_int_equal(sl_varlong_get(b, k, &w), 0);
}

static void varint_over_long_rejected(void **state) {
    (void)state;
    int32_t v;
    int64_t w;
    /* Six bytes for a 32-bit varint. */
    assert_int_equal(sl_varint_get((const unsigned char *)"\x80\x80\x80\x80\x80\x00", 6, &v), 0);
    /* Five bytes whose value needs more than 32 bits. */
    assert_int_equal(sl_varint_get((const unsigned char *)"\xff\xff\xff\xff\x1f", 5, &v), 0);
    assert_int_equal(sl_varint_get((const unsigned char *)"\x80\x80\x80\x80\x10", 5, &v), 0);
    /* Eleven bytes for a varlong, and a tenth byte carrying more than one bit. */
    assert_int_equal(
        sl_varlong_get((const unsigned char *)"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11, &w),
        0);
    assert_int_equal(
        sl_varlong_get((const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, &w), 0);
    /* ... while the largest legal ten-byte one reads. */
    assert_int_equal(
        sl_varlong_get((const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, &w), 10);
    assert_true(w == INT64_MIN);
}

static void varint_reads_only_its_bytes(void **state) {
    (void)state;
    int32_t v;
    /* Trailing bytes after a complete varint are not consumed. */
    assert_int_equal(sl_varint_get((const unsigned char *)"\xd8\x04\xff\xff", 4, &v), 2);
    assert_int_equal(v, 300);
}

/* ---- murmur2 and partitions --------------------------------------------------------------- */

static int32_t mm(const char *s) { return sl_murmur2(s, strlen(s)); }

static void murmur2_kafka_utils_test_values(void **state) {
    (void)state;
    /* apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
     * (testMurmur2), as quoted with a link by kafka_ex's MurmurTest. */
    assert_int_equal(mm("21"), -973932308);
    assert_int_equal(mm("foobar"), -790332482);
    assert_int_equal(mm("a-little-bit-long-string"), -985981536);
    assert_int_equal(mm("a-little-bit-longer-string"), -1486304829);
    assert_int_equal(mm("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    assert_int_equal(mm("abc"), 479470107);
}

static void kafka_partition_matches_java_client(void **state) {
    (void)state;
    /* kafka-python test/test_partitioner.py test_murmur2_java_compatibility: partitions out of
     * 1000 "compare[d] with output from Kafka's org.apache.kafka.clients.producer.Partitioner". */
    assert_int_equal(sl_kafka_partition("", 0, 1000), 681);
    assert_int_equal(sl_kafka_partition("a", 1, 1000), 524);
    assert_int_equal(sl_kafka_partition("ab", 2, 1000), 434);
    assert_int_equal(sl_kafka_partition("abc", 3, 1000), 107);
    assert_int_equal(sl_kafka_partition("123456789", 9, 1000), 566);
    assert_int_equal(sl_kafka_partition("\x00 ", 2, 1000), 742);
}

static void kafka_partition_is_to_positive_mod(void **state) {
    (void)state;
    /* toPositive(h) = h & 0x7fffffff, then % n (not abs(h) % n). */
    const char *keys[] = {"21", "foobar", "a-little-bit-long-string", "abc", "x"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint32_t pos = (uint32_t)mm(keys[i]) & 0x7fffffffu;
        for (uint32_t n = 1; n <= 64; n++)
            assert_int_equal(sl_kafka_partition(keys[i], strlen(keys[i]), n), pos % n);
        assert_int_equal(sl_kafka_partition(keys[i], strlen(keys[i]), 1), 0);
    }
    /* "foobar" hashes negative: toPositive differs from abs here. */
    assert_int_equal(sl_kafka_partition("foobar", 6, 1000), (uint32_t)(-790332482 & 0x7fffffff) % 1000);
}

static void hash_str_fnv1a(void **state) {
    (void)state;
    /* FNV-1a 64 reference values. */
    assert_true(sl_hash_str("", 0) == 0xcbf29ce484222325ull);
    assert_true(sl_hash_str("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(sl_hash_str("foobar", 6) == 0x85944171f73967e8ull);
}

/* ---- buf --------------------------------------------------------------------------------- */

static void buf_json_escape_specials(void **state) {
    (void)state;
    sl_buf_t b = SL_BUF_INIT;
    const char in[] = "a\"b\\c\nd\re\tf\bg\fh\x01i\x1fj\x7fk/\xc3\xa9";
    assert_int_equal(sl_buf_json_escape(&b, in, sizeof(in) - 1), 0);
    const char want[] = "a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0001i\\u001fj\x7fk/\xc3\xa9";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    sl_buf_free(&b);
}

static void buf_json_escape_nul_and_all_controls(void **state) {
    (void)state;
    sl_buf_t b = SL_BUF_INIT;
    char in[32];
    for (int i = 0; i < 32; i++) in[i] = (char)i;
    assert_int_equal(sl_buf_json_escape(&b, in, 32), 0);
    /* Every control character is escaped: none survives raw. */
    for (size_t i = 0; i < b.len; i++) assert_true((unsigned char)b.data[i] >= 0x20);
    assert_memory_equal(b.data, "\\u0000\\u0001", 12);
    sl_buf_free(&b);
    assert_int_equal(sl_buf_json_escape(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    sl_buf_free(&b);
}

static void buf_append_i64_edges(void **state) {
    (void)state;
    struct {
        int64_t v;
        const char *s;
    } cases[] = {{0, "0"},
                 {-1, "-1"},
                 {7, "7"},
                 {-10, "-10"},
                 {INT64_MAX, "9223372036854775807"},
                 {INT64_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_buf_t b = SL_BUF_INIT;
        assert_int_equal(sl_buf_append_i64(&b, cases[i].v), 0);
        assert_int_equal(b.len, strlen(cases[i].s));
        assert_memory_equal(b.data, cases[i].s, b.len);
        sl_buf_free(&b);
    }
    sl_buf_t b = SL_BUF_INIT;
    assert_int_equal(sl_buf_append_u64(&b, UINT64_MAX), 0);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, "18446744073709551615", 20);
    sl_buf_free(&b);
}

static void buf_grows_and_steals(void **state) {
    (void)state;
    sl_buf_t b = SL_BUF_INIT;
    for (int i = 0; i < 1000; i++) assert_int_equal(sl_buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    assert_true(b.cap >= b.len);
    assert_memory_equal(b.data, "0,1,2,", 6);
    size_t len;
    char *p = sl_buf_steal(&b, &len);
    assert_int_equal(len, 2000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(p);
    assert_int_equal(sl_buf_lit(&b, "abc"), 0);
    assert_int_equal(sl_buf_putc(&b, 'd'), 0);
    assert_memory_equal(b.data, "abcd", 4);
    sl_buf_free(&b);
}

static void buf_big_endian_helpers(void **state) {
    (void)state;
    unsigned char p[8];
    sl_be64_put(p, 0x0102030405060708ull);
    assert_memory_equal(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(sl_be64_get(p) == 0x0102030405060708ull);
    sl_be32_put(p, 0xdeadbeefu);
    assert_int_equal(sl_be32_get(p), 0xdeadbeefu);
    sl_be16_put(p, 0xfffe);
    assert_int_equal(sl_be16_get(p), 0xfffe);
}

/* ---- RFC 3339 ---------------------------------------------------------------------------- */

static int64_t ts(const char *s) {
    int64_t ms = INT64_MIN;
    return sl_parse_rfc3339(s, strlen(s), &ms) == 0 ? ms : INT64_MIN;
}

static void rfc3339_utc(void **state) {
    (void)state;
    assert_true(ts("1970-01-01T00:00:00Z") == 0);
    assert_true(ts("2000-01-01T00:00:00Z") == 946684800000LL);
    assert_true(ts("2015-07-15T00:00:00Z") == 1436918400000LL);
    assert_true(ts("2015-07-15t00:00:00z") == 1436918400000LL);
    assert_true(ts("2015-07-15 00:00:00Z") == 1436918400000LL);
    assert_true(ts("1969-12-31T23:59:59Z") == -1000);
    assert_true(ts("2038-01-19T03:14:08Z") == 2147483648000LL);
}

static void rfc3339_offsets(void **state) {
    (void)state;
    assert_true(ts("1970-01-01T01:00:00+01:00") == 0);
    assert_true(ts("1969-12-31T23:00:00-01:00") == 0);
    assert_true(ts("1970-01-01T05:30:00+05:30") == 0);
    assert_true(ts("2015-07-15T02:00:00.123+02:00") == 1436918400123LL);
    assert_true(ts("2015-07-15T00:00:00-00:00") == 1436918400000LL);
}

static void rfc3339_fractions(void **state) {
    (void)state;
    assert_true(ts("1970-01-01T00:00:00.5Z") == 500);
    assert_true(ts("1970-01-01T00:00:00.05Z") == 50);
    assert_true(ts("1970-01-01T00:00:00.123Z") == 123);
    assert_true(ts("1970-01-01T00:00:00.123999999Z") == 123); /* truncated to ms */
    assert_true(ts("1970-01-01T00:00:01.000001Z") == 1000);
}

static void rfc3339_leap_days(void **state) {
    (void)state;
    assert_true(ts("2000-02-29T00:00:00Z") == 951782400000LL); /* divisible by 400 */
    assert_true(ts("2024-02-29T12:00:00Z") == 1709208000000LL);
    assert_true(ts("1900-02-29T00:00:00Z") == INT64_MIN); /* divisible by 100 only */
    assert_true(ts("2100-02-29T00:00:00Z") == INT64_MIN);
    assert_true(ts("2023-02-29T00:00:00Z") == INT64_MIN);
    assert_true(ts("2024-02-30T00:00:00Z") == INT64_MIN);
    assert_true(ts("2024-04-31T00:00:00Z") == INT64_MIN);
    assert_true(ts("2024-12-31T23:59:59Z") == 1735689599000LL);
}

static void rfc3339_agrees_with_timegm(void **state) {
    (void)state;
    srand(4242);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int i = 0; i < 5000; i++) {
        struct tm tm = {0};
        tm.tm_year = 1970 + rand() % 300 - 1900;
        tm.tm_mon = rand() % 12;
        tm.tm_mday = 1 + rand() % mdays[tm.tm_mon];
        tm.tm_hour = rand() % 24;
        tm.tm_min = rand() % 60;
        tm.tm_sec = rand() % 60;
        char s[64];
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
        int64_t want = (int64_t)timegm(&tm) * 1000;
        assert_true(ts(s) == want);
    }
}

static void rfc3339_rejects(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "2015-07-15",
        "2015-07-15T00:00:00",       /* no zone */
        "2015-07-15T00:00Z",         /* no seconds */
        "2015-7-15T00:00:00Z",
        "2015-07-15X00:00:00Z",
        "2015-13-01T00:00:00Z",
        "2015-00-01T00:00:00Z",
        "2015-07-00T00:00:00Z",
        "2015-07-32T00:00:00Z",
        "2015-07-15T24:00:00Z",
        "2015-07-15T00:60:00Z",
        "2015-07-15T00:00:61Z",
        "2015-07-15T00:00:00.Z",     /* no fraction digits */
        "2015-07-15T00:00:00ZZ",
        "2015-07-15T00:00:00Z ",
        "2015-07-15T00:00:00+0100",
        "2015-07-15T00:00:00+01",
        "2015-07-15T00:00:00+24:00",
        "2015-07-15T00:00:00+01:60",
        "2015-07-15T00:00:00+01:00x",
        "2015-07-15T0a:00:00Z",
        "+015-07-15T00:00:00Z",
        " 2015-07-15T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (sl_parse_rfc3339(bad[i], strlen(bad[i]), &ms) != -1) fail_msg("accepted \"%s\"", bad[i]);
        assert_true(ms == 42); /* untouched */
    }
}

static void rfc3339_respects_len(void **state) {
    (void)state;
    /* The text is not NUL-terminated: only len bytes count. */
    const char s[] = "2015-07-15T00:00:00Zgarbage";
    int64_t ms;
    assert_int_equal(sl_parse_rfc3339(s, 20, &ms), 0);
    assert_true(ms == 1436918400000LL);
    assert_int_equal(sl_parse_rfc3339(s, 19, &ms), -1);
}

static void strerror_covers_codes(void **state) {
    (void)state;
    for (int e = 0; e <= SL_EFAILED; e++) {
        assert_non_null(sl_strerror(e));
        assert_string_not_equal(sl_strerror(-e), "unknown error");
    }
    assert_string_equal(sl_strerror(-SL_ENOSPC), sl_strerror(SL_ENOSPC));
    assert_string_equal(sl_strerror(999), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_check_value),
        cmocka_unit_test(crc_rfc3720_vectors),
        cmocka_unit_test(crc_empty_is_identity),
        cmocka_unit_test(crc_hw_sw_agree_random),
        cmocka_unit_test(crc_incremental_equals_one_shot),
        cmocka_unit_test(varint_known_encodings),
        cmocka_unit_test(varlong_known_encodings),
        cmocka_unit_test(varint_zigzag_round_trip_edges),
        cmocka_unit_test(varint_round_trip_random),
        cmocka_unit_test(varint_truncated_rejected),
        cmocka_unit_test(varint_over_long_rejected),
        cmocka_unit_test(varint_reads_only_its_bytes),
        cmocka_unit_test(murmur2_kafka_utils_test_values),
        cmocka_unit_test(kafka_partition_matches_java_client),
        cmocka_unit_test(kafka_partition_is_to_positive_mod),
        cmocka_unit_test(hash_str_fnv1a),
        cmocka_unit_test(buf_json_escape_specials),
        cmocka_unit_test(buf_json_escape_nul_and_all_controls),
        cmocka_unit_test(buf_append_i64_edges),
        cmocka_unit_test(buf_grows_and_steals),
        cmocka_unit_test(buf_big_endian_helpers),
        cmocka_unit_test(rfc3339_utc),
        cmocka_unit_test(rfc3339_offsets),
        cmocka_unit_test(rfc3339_fractions),
        cmocka_unit_test(rfc3339_leap_days),
        cmocka_unit_test(rfc3339_agrees_with_timegm),
        cmocka_unit_test(rfc3339_rejects),
        cmocka_unit_test(rfc3339_respects_len),
        cmocka_unit_test(strerror_covers_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
