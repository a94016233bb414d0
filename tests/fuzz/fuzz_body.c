/* libFuzzer target for request bodies (json/event): runs sl_json_parse_body over the input as
 * each of the three body kinds, with a key and a timestamp pointer, from an exact-size copy.
 * On success every event's span must lie inside the body, in order, without overlap, and be a
 * JSON value on its own; every key must lie inside the key arena. On failure the error must
 * carry a status, a code and an offset inside the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/event.h"
#include "sluice.h"

static void check(int cond) {
    if (!cond) abort();
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    /* yajl also takes \f and \v as whitespace; spans skip them like any whitespace (fixed, see
     * tests/unit/test_json.c spans_with_form_feed_whitespace), so every body is checked. */
    int odd_ws = 0;
    static const sl_body_kind_t kinds[] = {SL_BODY_JSON, SL_BODY_NDJSON, SL_BODY_RECORDS};
    for (size_t k = 0; k < 3; k++) {
        sl_json_opts_t o = {.key_ptr = "/id", .ts_ptr = "/ts", .max_event_bytes = 0, .max_events = 0,
                            .max_depth = SL_JSON_MAX_DEPTH};
        if (size && (data[0] & 1)) o.key_ptr = "/a/0";
        if (size && (data[0] & 2)) o.max_event_bytes = 64;
        sl_json_events_t ev;
        sl_json_error_t err;
        int rc = sl_json_parse_body(body, size, kinds[k], &o, &ev, &err);
        if (rc) {
            check(rc == -1);
            check(err.status == 400 || err.status == 413);
            check(err.code != NULL && err.message[0] != 0);
            check(err.offset <= size);
            check(ev.ev == NULL && ev.n == 0);
            continue;
        }
        check(ev.n > 0);
        size_t prev_end = 0;
        for (size_t i = 0; i < ev.n; i++) {
            const sl_json_event_t *e = &ev.ev[i];
            check(e->len > 0);
            check(e->start <= size && e->len <= size - e->start);
            check(e->start >= prev_end);
            prev_end = e->start + e->len;
            if (e->has_key) check(e->key_off <= ev.keys.len && e->key_len <= ev.keys.len - e->key_off);
            check(e->partition >= -1 && e->partition < SL_PARTITIONS_MAX);
            if (o.max_event_bytes) check(e->len <= o.max_event_bytes);
            if (odd_ws) continue;
            check(!is_ws(body[e->start]) && !is_ws(body[e->start + e->len - 1]));
            sl_json_error_t verr;
            check(sl_json_validate(body + e->start, e->len, SL_JSON_MAX_DEPTH, &verr) == 0);
        }
        sl_json_events_free(&ev);
    }
    free(body);
    return 0;
}
