/* Unit tests for json/event: the four body shapes, exact spans of each event's text, key and
 * timestamp extraction by JSON Pointer, and the errors a client gets (with the event index and
 * a byte offset inside that event) for bad JSON, bad UTF-8, deep nesting, size limits, empty
 * bodies and malformed records bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/event.h"
#include "sluice.h"

typedef struct parsed {
    int rc;
    const char *body;
    size_t len;
    sl_json_events_t ev;
    sl_json_error_t err;
} parsed_t;

static sl_json_opts_t opts(const char *key, const char *ts) {
    sl_json_opts_t o = {.key_ptr = key, .ts_ptr = ts, .max_event_bytes = 0, .max_events = 0,
                        .max_depth = SL_JSON_MAX_DEPTH};
    return o;
}

static parsed_t *parse_n(const char *body, size_t len, sl_body_kind_t kind, const sl_json_opts_t *o) {
    parsed_t *p = calloc(1, sizeof(*p));
    /* An exact-size heap copy, so a read past the body is caught by ASan. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    p->body = copy;
    p->len = len;
    p->rc = sl_json_parse_body(copy, len, kind, o, &p->ev, &p->err);
    return p;
}

static parsed_t *parse(const char *body, sl_body_kind_t kind, const char *key, const char *ts) {
    sl_json_opts_t o = opts(key, ts);
    return parse_n(body, strlen(body), kind, &o);
}

static void done(parsed_t *p) {
    if (p->rc == 0) sl_json_events_free(&p->ev);
    free((void *)p->body);
    free(p);
}

static void ok_n(const parsed_t *p, size_t n) {
    if (p->rc != 0)
        fail_msg("parse failed: %s (%s, index %ld, offset %zu)", p->err.message, p->err.code,
                 p->err.index, p->err.offset);
    assert_int_equal(p->ev.n, n);
}

static void span_is(const parsed_t *p, size_t i, const char *text) {
    const sl_json_event_t *e = &p->ev.ev[i];
    assert_true(e->start + e->len <= p->len);
    if (e->len != strlen(text) || memcmp(p->body + e->start, text, e->len) != 0)
        fail_msg("event %zu: span \"%.*s\", want \"%s\"", i, (int)e->len, p->body + e->start, text);
}

static void key_is(const parsed_t *p, size_t i, const char *key) {
    const sl_json_event_t *e = &p->ev.ev[i];
    if (!key) {
        if (e->has_key) fail_msg("event %zu: unexpected key", i);
        return;
    }
    if (!e->has_key) fail_msg("event %zu: no key, want \"%s\"", i, key);
    assert_true(e->key_off + e->key_len <= p->ev.keys.len);
    if (e->key_len != strlen(key) || memcmp(p->ev.keys.data + e->key_off, key, e->key_len) != 0)
        fail_msg("event %zu: key \"%.*s\", want \"%s\"", i, (int)e->key_len,
                 p->ev.keys.data + e->key_off, key);
}

static void err_is(const parsed_t *p, int status, const char *code, long index) {
    if (p->rc == 0) fail_msg("parsed %zu events, want error %s", p->ev.n, code);
    assert_int_equal(p->err.status, status);
    assert_non_null(p->err.code);
    if (strcmp(p->err.code, code) != 0) fail_msg("code %s (%s), want %s", p->err.code, p->err.message, code);
    if (p->err.index != index)
        fail_msg("index %ld, want %ld (%s)", p->err.index, index, p->err.message);
    assert_true(p->err.message[0] != 0);
}

/* The error offset lies inside [lo, hi] of the body. */
static void err_offset_in(const parsed_t *p, size_t lo, size_t hi) {
    if (p->err.offset < lo || p->err.offset > hi)
        fail_msg("offset %zu not in [%zu, %zu] (%s)", p->err.offset, lo, hi, p->err.message);
}

static size_t pos_of(const char *body, const char *needle) {
    const char *s = strstr(body, needle);
    assert_non_null(s);
    return (size_t)(s - body);
}

/* ---- shapes and spans -------------------------------------------------------------------- */

static void json_single_object(void **state) {
    (void)state;
    parsed_t *p = parse("  {\"a\": 1,\n \"b\" : [1,  2] , \"c\":{}}  \n", SL_BODY_JSON, NULL, NULL);
    ok_n(p, 1);
    span_is(p, 0, "{\"a\": 1,\n \"b\" : [1,  2] , \"c\":{}}");
    key_is(p, 0, NULL);
    assert_int_equal(p->ev.ev[0].timestamp, -1);
    assert_int_equal(p->ev.ev[0].partition, -1);
    done(p);
}

static void json_single_scalar(void **state) {
    (void)state;
    const char *bodies[] = {"\"hello world\"", "42", "-1.5e10", "true", "false", "null", "\"\""};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char b[64];
        snprintf(b, sizeof(b), " %s\n", bodies[i]);
        parsed_t *p = parse(b, SL_BODY_JSON, NULL, NULL);
        ok_n(p, 1);
        span_is(p, 0, bodies[i]);
        done(p);
    }
}

static void json_array_of_values(void **state) {
    (void)state;
    parsed_t *p = parse("[ {\"a\" : 1} , 2,\"s, t\" ,\n[1, [ 2 ]],null,true,false,{\"x\": { \"y\" :[ ] }},-0.5e-3 ]",
                        SL_BODY_JSON, NULL, NULL);
    ok_n(p, 9);
    span_is(p, 0, "{\"a\" : 1}");
    span_is(p, 1, "2");
    span_is(p, 2, "\"s, t\"");
    span_is(p, 3, "[1, [ 2 ]]");
    span_is(p, 4, "null");
    span_is(p, 5, "true");
    span_is(p, 6, "false");
    span_is(p, 7, "{\"x\": { \"y\" :[ ] }}");
    span_is(p, 8, "-0.5e-3");
    done(p);
}

static void json_array_wrapping_an_array_event(void **state) {
    (void)state;
    parsed_t *p = parse("[[1,2], [3]]", SL_BODY_JSON, NULL, NULL);
    ok_n(p, 2);
    span_is(p, 0, "[1,2]");
    span_is(p, 1, "[3]");
    done(p);
}

static void json_number_at_end_of_body(void **state) {
    (void)state;
    /* yajl only emits a number at the very end when the parse completes. */
    parsed_t *p = parse("12345", SL_BODY_JSON, NULL, NULL);
    ok_n(p, 1);
    span_is(p, 0, "12345");
    done(p);
    p = parse("{\"a\":1}\n7", SL_BODY_NDJSON, NULL, NULL);
    ok_n(p, 2);
    span_is(p, 1, "7");
    done(p);
}

static void ndjson_lines(void **state) {
    (void)state;
    parsed_t *p = parse("{\"a\":1}\n\n  {\"b\": 2}\r\n\"s\"\r\n\r\n42\n[1, 2]\n  \n", SL_BODY_NDJSON, NULL, NULL);
    ok_n(p, 5);
    span_is(p, 0, "{\"a\":1}");
    span_is(p, 1, "{\"b\": 2}");
    span_is(p, 2, "\"s\"");
    span_is(p, 3, "42");
    span_is(p, 4, "[1, 2]");
    done(p);
}

static void ndjson_last_line_without_newline(void **state) {
    (void)state;
    parsed_t *p = parse("{\"a\":1}\n{\"b\":2}", SL_BODY_NDJSON, NULL, NULL);
    ok_n(p, 2);
    span_is(p, 1, "{\"b\":2}");
    done(p);
}

static void records_shape(void **state) {
    (void)state;
    parsed_t *p = parse("{\"records\":[\n"
                        " {\"value\":{\"x\": 1},\"key\":\"k1\"},\n"
                        " {\"partition\":3,\"value\":[1, 2]},\n"
                        " {\"key\":12,\"value\":\"s\",\"partition\":0},\n"
                        " {\"key\":{\"a\": [1]},\"value\":null, \"headers\": {\"h\": [1]}},\n"
                        " {\"key\":null,\"value\":true}\n"
                        "]}",
                        SL_BODY_RECORDS, NULL, NULL);
    ok_n(p, 5);
    span_is(p, 0, "{\"x\": 1}");
    span_is(p, 1, "[1, 2]");
    span_is(p, 2, "\"s\"");
    span_is(p, 3, "null");
    span_is(p, 4, "true");
    key_is(p, 0, "k1");
    key_is(p, 1, NULL);
    key_is(p, 2, "12");
    key_is(p, 3, "{\"a\": [1]}");
    key_is(p, 4, NULL);
    assert_int_equal(p->ev.ev[0].partition, -1);
    assert_int_equal(p->ev.ev[1].partition, 3);
    assert_int_equal(p->ev.ev[2].partition, 0);
    assert_int_equal(p->ev.ev[3].partition, -1);
    done(p);
}

static void records_other_fields_ignored(void **state) {
    (void)state;
    parsed_t *p = parse("{\"schema\":{\"records\":[{\"value\":0}]},\"n\":1,\"records\":[{\"value\":{\"v\":1}}],"
                        "\"tail\":[[]]}",
                        SL_BODY_RECORDS, NULL, NULL);
    ok_n(p, 1);
    span_is(p, 0, "{\"v\":1}");
    done(p);
}

static void records_explicit_key_beats_pointer(void **state) {
    (void)state;
    parsed_t *p = parse("{\"records\":[{\"value\":{\"id\":\"from-value\"},\"key\":\"explicit\"},"
                        "{\"key\":\"first\",\"value\":{\"id\":\"v\"}},{\"value\":{\"id\":\"only\"}}]}",
                        SL_BODY_RECORDS, "/id", NULL);
    ok_n(p, 3);
    key_is(p, 0, "explicit");
    key_is(p, 1, "first");
    key_is(p, 2, "only");
    done(p);
}

static void spans_with_form_feed_whitespace(void **state) {
    (void)state;
    /* RFC 8259 whitespace is space, tab, LF, CR only. yajl also skips \f and \v; then either
     * the body is refused or the span is exactly the value, never the stray byte. */
    parsed_t *p = parse("[\f1,\v\"a\"]", SL_BODY_JSON, NULL, NULL);
    if (p->rc == 0) {
        ok_n(p, 2);
        span_is(p, 0, "1");
        span_is(p, 1, "\"a\"");
    } else {
        err_is(p, 400, "invalid_json", p->err.index);
    }
    done(p);
}

/* ---- keys by pointer --------------------------------------------------------------------- */

static void key_kinds(void **state) {
    (void)state;
    parsed_t *p = parse("[{\"k\":\"a\\\"b\\u00e9\\n\"},{\"k\": -1.5e3 },{\"k\": {\"x\" : [1, 2]} },"
                        "{\"k\":[ 1,2 ]},{\"j\":1},{\"k\":null},{\"k\":true},{\"k\":\"\"},\"scalar\"]",
                        SL_BODY_JSON, "/k", NULL);
    ok_n(p, 9);
    key_is(p, 0, "a\"b\xc3\xa9\n");
    key_is(p, 1, "-1.5e3");
    key_is(p, 2, "{\"x\" : [1, 2]}");
    key_is(p, 3, "[ 1,2 ]");
    key_is(p, 4, NULL);
    key_is(p, 5, NULL);
    key_is(p, 6, "true");
    key_is(p, 7, "");
    key_is(p, 8, NULL);
    done(p);
}

static void key_nested_pointer(void **state) {
    (void)state;
    parsed_t *p = parse("[{\"a\":{\"b\":\"x\",\"c\":\"y\"},\"b\":\"no\"},"
                        "{\"b\":\"no\",\"a\":{\"c\":{\"b\":\"deeper\"},\"b\":\"x2\"}},"
                        "{\"a\":{\"c\":{\"b\":\"deeper\"}}},"
                        "{\"x\":{\"a\":{\"b\":\"wrong\"}}},"
                        "{\"a\":[{\"b\":\"in array\"}]}]",
                        SL_BODY_JSON, "/a/b", NULL);
    ok_n(p, 5);
    key_is(p, 0, "x");
    key_is(p, 1, "x2");
    key_is(p, 2, NULL);
    key_is(p, 3, NULL);
    key_is(p, 4, NULL);
    done(p);
}

static void key_array_index(void **state) {
    (void)state;
    parsed_t *p = parse("[{\"arr\":[\"a\",\"b\",\"c\"]},{\"arr\":[{\"x\":1},\"b2\"]},"
                        "{\"arr\":[[1,2],{\"y\":[3]}]},{\"arr\":[\"only\"]},{\"arr\":{\"1\":\"map\"}}]",
                        SL_BODY_JSON, "/arr/1", NULL);
    ok_n(p, 5);
    key_is(p, 0, "b");
    key_is(p, 1, "b2");
    key_is(p, 2, "{\"y\":[3]}");
    key_is(p, 3, NULL);
    key_is(p, 4, "map"); /* "1" names a member of an object too */
    done(p);
    p = parse("{\"arr\":[\"a\",\"b\"]}", SL_BODY_JSON, "/arr/01", NULL);
    ok_n(p, 1);
    key_is(p, 0, NULL); /* no leading zeros */
    done(p);
    p = parse("{\"arr\":[[0,1,2],[10,11,12]]}", SL_BODY_JSON, "/arr/1/2", NULL);
    ok_n(p, 1);
    key_is(p, 0, "12");
    done(p);
}

static void key_escaped_pointer_tokens(void **state) {
    (void)state;
    parsed_t *p = parse("[{\"a/b\":{\"c~d\":\"yes\"}},{\"a\":{\"b\":{\"c~d\":\"no\"}}},{\"a~1b\":{\"c~d\":\"no\"}}]",
                        SL_BODY_JSON, "/a~1b/c~0d", NULL);
    ok_n(p, 3);
    key_is(p, 0, "yes");
    key_is(p, 1, NULL);
    key_is(p, 2, NULL);
    done(p);
    p = parse("{\"\":\"empty name\"}", SL_BODY_JSON, "/", NULL);
    ok_n(p, 1);
    key_is(p, 0, "empty name");
    done(p);
}

static void key_per_ndjson_line(void **state) {
    (void)state;
    parsed_t *p = parse("{\"id\":\"a\"}\n{\"other\":1}\n{\"id\":7}\n", SL_BODY_NDJSON, "/id", NULL);
    ok_n(p, 3);
    key_is(p, 0, "a");
    key_is(p, 1, NULL);
    key_is(p, 2, "7");
    done(p);
}

static void pointer_validity(void **state) {
    (void)state;
    assert_int_equal(sl_json_pointer_valid(""), 1);
    assert_int_equal(sl_json_pointer_valid("/"), 1);
    assert_int_equal(sl_json_pointer_valid("/a/b~0~1/0"), 1);
    assert_int_equal(sl_json_pointer_valid("a"), 0);
    assert_int_equal(sl_json_pointer_valid("/a~"), 0);
    assert_int_equal(sl_json_pointer_valid("/a~2"), 0);
    char big[SL_POINTER_MAX + 8];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[sizeof(big) - 1] = 0;
    assert_int_equal(sl_json_pointer_valid(big), 0);
    parsed_t *p = parse("{}", SL_BODY_JSON, "nope", NULL);
    err_is(p, 400, "bad_request", -1);
    done(p);
}

/* ---- timestamps -------------------------------------------------------------------------- */

static void timestamp_by_pointer(void **state) {
    (void)state;
    parsed_t *p = parse("[{\"t\":1436918400000},{\"t\":\"2015-07-15T00:00:00.5Z\"},{\"t\":\"yesterday\"},"
                        "{\"u\":1},{\"t\":null},{\"t\":{\"x\":1}},{\"t\":\"2015-07-15T02:00:00+02:00\"},"
                        "{\"t\":0}]",
                        SL_BODY_JSON, NULL, "/t");
    ok_n(p, 8);
    assert_int_equal(p->ev.ev[0].timestamp, 1436918400000LL);
    assert_int_equal(p->ev.ev[1].timestamp, 1436918400500LL);
    assert_int_equal(p->ev.ev[2].timestamp, -1);
    assert_int_equal(p->ev.ev[3].timestamp, -1);
    assert_int_equal(p->ev.ev[4].timestamp, -1);
    assert_int_equal(p->ev.ev[5].timestamp, -1);
    assert_int_equal(p->ev.ev[6].timestamp, 1436918400000LL);
    assert_int_equal(p->ev.ev[7].timestamp, 0);
    done(p);
}

static void timestamp_nested_and_with_key(void **state) {
    (void)state;
    parsed_t *p = parse("{\"meta\":{\"id\":\"e1\",\"ts\":\"1970-01-01T00:00:01Z\"}}\n"
                        "{\"meta\":{\"ts\":2000,\"id\":\"e2\"}}\n",
                        SL_BODY_NDJSON, "/meta/id", "/meta/ts");
    ok_n(p, 2);
    key_is(p, 0, "e1");
    key_is(p, 1, "e2");
    assert_int_equal(p->ev.ev[0].timestamp, 1000);
    assert_int_equal(p->ev.ev[1].timestamp, 2000);
    done(p);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void error_invalid_json_names_event_and_offset(void **state) {
    (void)state;
    const char *b = "[{\"a\":1},{\"a\":2},\n{\"a\":tru},{\"a\":4}]";
    parsed_t *p = parse(b, SL_BODY_JSON, NULL, NULL);
    err_is(p, 400, "invalid_json", 2);
    size_t s = pos_of(b, "{\"a\":tru}");
    err_offset_in(p, s, s + strlen("{\"a\":tru}"));
    done(p);

    b = "{\"a\":1}\n{\"b\":2}\n{\"c\" 3}\n{\"d\":4}\n";
    p = parse(b, SL_BODY_NDJSON, NULL, NULL);
    err_is(p, 400, "invalid_json", 2);
    s = pos_of(b, "{\"c\" 3}");
    err_offset_in(p, s, s + 7);
    done(p);
}

static void error_premature_end_offset(void **state) {
    (void)state;
    /* A body cut short: the offset is where it ended, inside the unfinished event. */
    const char *b = "[{\"a\":1},{\"a\":";
    parsed_t *p = parse(b, SL_BODY_JSON, NULL, NULL);
    err_is(p, 400, "invalid_json", 1);
    err_offset_in(p, pos_of(b, "{\"a\":"), strlen(b));
    done(p);
    b = "{\"a\":1}\n{\"b\":[1,2";
    p = parse(b, SL_BODY_NDJSON, NULL, NULL);
    err_is(p, 400, "invalid_json", 1);
    err_offset_in(p, pos_of(b, "{\"b\""), strlen(b));
    done(p);
}

static void error_invalid_utf8(void **state) {
    (void)state;
    const char *b = "[\"ok\",\"bad \xff byte\"]";
    parsed_t *p = parse(b, SL_BODY_JSON, NULL, NULL);
    err_is(p, 400, "invalid_utf8", 1);
    err_offset_in(p, pos_of(b, "\"bad"), strlen(b));
    done(p);
    p = parse("{\"k\xc3\":1}", SL_BODY_JSON, NULL, NULL); /* truncated sequence in a name */
    err_is(p, 400, "invalid_utf8", 0);
    done(p);
}

static void error_utf8_overlong_surrogate_out_of_range(void **state) {
    (void)state;
    /* RFC 3629: over-long forms, UTF-16 surrogates and code points past U+10FFFF are invalid. */
    const char *bodies[] = {"{\"a\":1}\n\"\xc0\xaf\"\n", "{\"a\":1}\n\"\xed\xa0\x80\"\n",
                            "{\"a\":1}\n\"\xf5\x80\x80\x80\"\n", "{\"a\":1}\n\"\xe0\x80\xaf\"\n"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        parsed_t *p = parse(bodies[i], SL_BODY_NDJSON, NULL, NULL);
        if (p->rc == 0) fail_msg("accepted invalid UTF-8 in body %zu", i);
        err_is(p, 400, "invalid_utf8", 1);
        done(p);
    }
}

/* Nested containers: depth levels of [ ... ] (or {"a": ...} when objects). */
static char *nest(const char *prefix, int depth, int objects, const char *suffix) {
    size_t cap = strlen(prefix) + strlen(suffix) + (size_t)depth * 6 + 16;
    char *s = malloc(cap), *w = s;
    w += sprintf(w, "%s", prefix);
    for (int i = 0; i < depth; i++) w += sprintf(w, objects ? "{\"a\":" : "[");
    w += sprintf(w, "1");
    for (int i = 0; i < depth; i++) *w++ = objects ? '}' : ']';
    sprintf(w, "%s", suffix);
    return s;
}

static void check_depth(const char *prefix, int objects, const char *suffix, sl_body_kind_t kind,
                        long index) {
    char *ok = nest(prefix, SL_JSON_MAX_DEPTH, objects, suffix);
    parsed_t *p = parse(ok, kind, "/a", "/t");
    ok_n(p, (size_t)index + 1);
    done(p);
    char *deep = nest(prefix, SL_JSON_MAX_DEPTH + 1, objects, suffix);
    p = parse(deep, kind, "/a", "/t");
    err_is(p, 400, "too_deep", index);
    assert_int_equal(p->err.limit, SL_JSON_MAX_DEPTH);
    err_offset_in(p, strlen(prefix), strlen(deep));
    done(p);
    free(ok);
    free(deep);
}

static void error_depth_limit_each_shape(void **state) {
    (void)state;
    check_depth("", 1, "", SL_BODY_JSON, 0);                          /* single object */
    check_depth("[{\"x\":1},", 0, "]", SL_BODY_JSON, 1);              /* array of values */
    check_depth("[2,", 1, "]", SL_BODY_JSON, 1);
    check_depth("{\"x\":1}\n", 0, "\n", SL_BODY_NDJSON, 1);          /* NDJSON */
    check_depth("{\"records\":[{\"value\":1},{\"value\":", 0, "}]}", SL_BODY_RECORDS, 1);
    check_depth("{\"records\":[{\"value\":", 1, ",\"key\":\"k\"}]}", SL_BODY_RECORDS, 0);
}

static void error_event_too_large(void **state) {
    (void)state;
    sl_json_opts_t o = opts(NULL, NULL);
    o.max_event_bytes = 10;
    const char *b = "[\"short\",\"this one is long\",1]";
    parsed_t *p = parse_n(b, strlen(b), SL_BODY_JSON, &o);
    err_is(p, 413, "event_too_large", 1);
    assert_int_equal(p->err.limit, 10);
    err_offset_in(p, pos_of(b, "\"this"), strlen(b));
    done(p);
    /* Exactly at the limit is fine. */
    b = "{\"a\":\"12\"}\n\"12345678\"\n";
    p = parse_n(b, strlen(b), SL_BODY_NDJSON, &o);
    ok_n(p, 2);
    done(p);
    b = "{\"records\":[{\"value\":\"0123456789abc\"}]}";
    p = parse_n(b, strlen(b), SL_BODY_RECORDS, &o);
    err_is(p, 413, "event_too_large", 0);
    done(p);
}

static void error_too_many_events(void **state) {
    (void)state;
    sl_json_opts_t o = opts(NULL, NULL);
    o.max_events = 3;
    parsed_t *p = parse_n("[1,2,3]", 7, SL_BODY_JSON, &o);
    ok_n(p, 3);
    done(p);
    p = parse_n("[1,2,3,4]", 9, SL_BODY_JSON, &o);
    err_is(p, 413, "request_too_large", 3);
    done(p);
}

static void error_two_values_on_one_ndjson_line(void **state) {
    (void)state;
    const char *bodies[] = {"1 2\n", "{\"a\":1} {\"b\":2}\n", "{\"a\":1}{\"b\":2}", "\"x\"\"y\"\n"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        parsed_t *p = parse(bodies[i], SL_BODY_NDJSON, NULL, NULL);
        err_is(p, 400, "invalid_json", 0); /* NDJSON errors name the line */
        done(p);
    }
}

static void error_empty_request(void **state) {
    (void)state;
    struct {
        const char *body;
        sl_body_kind_t kind;
    } cases[] = {{"", SL_BODY_JSON},           {"  \n", SL_BODY_JSON},
                 {"[]", SL_BODY_JSON},         {" [ ] ", SL_BODY_JSON},
                 {"", SL_BODY_NDJSON},         {"\n\r\n\n", SL_BODY_NDJSON},
                 {"{\"records\":[]}", SL_BODY_RECORDS}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parsed_t *p = parse(cases[i].body, cases[i].kind, NULL, NULL);
        if (p->rc == 0 || strcmp(p->err.code, "empty_request") != 0)
            fail_msg("body \"%s\" (kind %d): %s, want empty_request", cases[i].body, cases[i].kind,
                     p->rc ? p->err.code : "accepted");
        assert_int_equal(p->err.status, 400);
        assert_int_equal(p->err.index, -1);
        done(p);
    }
}

static void error_trailing_garbage(void **state) {
    (void)state;
    const char *bodies[] = {"{\"a\":1} x", "{\"a\":1}{\"b\":2}", "[1] [2]", "1 2", "\"s\",",
                            "{\"a\":1}\n{\"b\":2}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        parsed_t *p = parse(bodies[i], SL_BODY_JSON, NULL, NULL);
        if (p->rc == 0) fail_msg("accepted \"%s\"", bodies[i]);
        assert_string_equal(p->err.code, "invalid_json");
        assert_int_equal(p->err.status, 400);
        done(p);
    }
}

static void error_records_shape(void **state) {
    (void)state;
    struct {
        const char *body;
        long index;
    } cases[] = {
        {"[{\"value\":1}]", -1},                                   /* not an object */
        {"5", -1},
        {"{\"x\":[{\"value\":1}]}", -1},                           /* no records */
        {"{\"records\":{\"value\":1}}", -1},                       /* records not an array */
        {"{\"records\":5}", -1},
        {"{\"records\":[{\"value\":1},2]}", 1},                    /* record not an object */
        {"{\"records\":[{\"value\":1},[]]}", 1},
        {"{\"records\":[{\"value\":1},{\"key\":\"k\"}]}", 1},      /* no value */
        {"{\"records\":[{\"value\":1,\"value\":2}]}", 0},          /* two values */
        {"{\"records\":[{\"value\":1,\"partition\":\"1\"}]}", 0},  /* bad partitions */
        {"{\"records\":[{\"value\":1,\"partition\":-1}]}", 0},
        {"{\"records\":[{\"value\":1,\"partition\":1.5}]}", 0},
        {"{\"records\":[{\"value\":1,\"partition\":4096}]}", 0},
        {"{\"records\":[{\"value\":1,\"partition\":{}}]}", 0},
        {"{\"records\":[{\"value\":1,\"partition\":[0]}]}", 0},
        {"{\"records\":[{\"value\":1,\"partition\":null}]}", 0},
        {"{\"records\":[{\"value\":1},{\"value\":2,\"partition\":99999999999999999999}]}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parsed_t *p = parse(cases[i].body, SL_BODY_RECORDS, NULL, NULL);
        if (p->rc == 0) fail_msg("accepted %s", cases[i].body);
        if (strcmp(p->err.code, "bad_request") != 0)
            fail_msg("%s: code %s (%s), want bad_request", cases[i].body, p->err.code, p->err.message);
        assert_int_equal(p->err.status, 400);
        if (p->err.index != cases[i].index)
            fail_msg("%s: index %ld, want %ld (%s)", cases[i].body, p->err.index, cases[i].index,
                     p->err.message);
        done(p);
    }
}

static void validate_single_value(void **state) {
    (void)state;
    sl_json_error_t err;
    assert_int_equal(sl_json_validate("{\"a\":[1,2]}", 11, 64, &err), 0);
    assert_int_equal(sl_json_validate(" 1 ", 3, 64, &err), 0);
    assert_int_equal(sl_json_validate("{\"a\":1}\n{}", 10, 64, &err), -1);
    assert_int_equal(sl_json_validate("{\"a\":}", 6, 64, &err), -1);
    assert_string_equal(err.code, "invalid_json");
    assert_int_equal(sl_json_validate("[[[1]]]", 7, 2, &err), -1);
    assert_string_equal(err.code, "too_deep");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_single_object),
        cmocka_unit_test(json_single_scalar),
        cmocka_unit_test(json_array_of_values),
        cmocka_unit_test(json_array_wrapping_an_array_event),
        cmocka_unit_test(json_number_at_end_of_body),
        cmocka_unit_test(ndjson_lines),
        cmocka_unit_test(ndjson_last_line_without_newline),
        cmocka_unit_test(records_shape),
        cmocka_unit_test(records_other_fields_ignored),
        cmocka_unit_test(records_explicit_key_beats_pointer),
        cmocka_unit_test(spans_with_form_feed_whitespace),
        cmocka_unit_test(key_kinds),
        cmocka_unit_test(key_nested_pointer),
        cmocka_unit_test(key_array_index),
        cmocka_unit_test(key_escaped_pointer_tokens),
        cmocka_unit_test(key_per_ndjson_line),
        cmocka_unit_test(pointer_validity),
        cmocka_unit_test(timestamp_by_pointer),
        cmocka_unit_test(timestamp_nested_and_with_key),
        cmocka_unit_test(error_invalid_json_names_event_and_offset),
        cmocka_unit_test(error_premature_end_offset),
        cmocka_unit_test(error_invalid_utf8),
        cmocka_unit_test(error_utf8_overlong_surrogate_out_of_range),
        cmocka_unit_test(error_depth_limit_each_shape),
        cmocka_unit_test(error_event_too_large),
        cmocka_unit_test(error_too_many_events),
        cmocka_unit_test(error_two_values_on_one_ndjson_line),
        cmocka_unit_test(error_empty_request),
        cmocka_unit_test(error_trailing_garbage),
        cmocka_unit_test(error_records_shape),
        cmocka_unit_test(validate_single_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
