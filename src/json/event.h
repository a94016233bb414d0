/* Validating request bodies of JSON events and picking fields out of them by JSON Pointer,
 * in one pass over the body (yajl's callback parser). The four body shapes of
 * POST /v1/topics/{t}/events: one value, an array of values, NDJSON, and the REST-proxy
 * {"records":[{"key","value","partition"}]}. */
#ifndef SL_JSON_EVENT_H
#define SL_JSON_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SL_JSON_MAX_DEPTH 64

typedef enum {
    SL_BODY_JSON = 0,      /* one value, or an array whose elements are the events */
    SL_BODY_NDJSON,        /* one value per line */
    SL_BODY_RECORDS,       /* {"records":[{"key":…,"value":…,"partition":…},…]} */
} sl_body_kind_t;

typedef struct sl_json_event {
    size_t start, len;     /* the event's original JSON text: body[start .. start+len) */
    size_t key_off, key_len; /* key bytes, in the key arena (see sl_json_events_t) */
    int has_key;
    int64_t timestamp;     /* epoch ms from the timestamp pointer, or -1 */
    int32_t partition;     /* records shape: explicit partition, else -1 */
} sl_json_event_t;

typedef struct sl_json_events {
    sl_json_event_t *ev;
    size_t n, cap;
    sl_buf_t keys;         /* key bytes of all events, back to back */
} sl_json_events_t;

typedef struct sl_json_opts {
    const char *key_ptr;   /* JSON Pointer or NULL/"" */
    const char *ts_ptr;    /* JSON Pointer or NULL/"" */
    size_t max_event_bytes;
    size_t max_events;
    int max_depth;         /* nesting limit of one event */
} sl_json_opts_t;

typedef struct sl_json_error {
    int status;            /* HTTP status to answer with: 400 or 413 */
    const char *code;      /* invalid_json, invalid_utf8, too_deep, event_too_large, empty_request, bad_request */
    char message[300];
    long index;            /* event index, -1 if not about one event */
    size_t offset;         /* byte offset in the body */
    size_t limit;          /* the limit crossed, 0 if none */
} sl_json_error_t;

/* Parses and validates the whole body. 0 and out filled (out is reset first; free it with
 * sl_json_events_free), or -1 and err filled. */
int sl_json_parse_body(const char *body, size_t len, sl_body_kind_t kind, const sl_json_opts_t *o,
                       sl_json_events_t *out, sl_json_error_t *err);
void sl_json_events_free(sl_json_events_t *evs);

/* Offset of the first byte of s that is not well-formed UTF-8, or len. */
size_t sl_utf8_check(const char *s, size_t len);

/* Checks that s is a valid JSON Pointer (RFC 6901: "" or "/a/b~1c"). */
int sl_json_pointer_valid(const char *s);

/* Validates one whole JSON text (a request body for the other endpoints). 0 or -1 with err. */
int sl_json_validate(const char *text, size_t len, int max_depth, sl_json_error_t *err);

#endif
