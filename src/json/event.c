/* One pass of yajl's callback parser over a request body: validates every event (syntax,
 * UTF-8, nesting), finds each event's original text span, and extracts the key and the event
 * time by JSON Pointer as it goes, without building a tree.
 *
 * Span tracking: yajl reports, during each callback, how many bytes it has consumed — just
 * past the current token. A container's start is therefore consumed-1 at start_map/array; a
 * scalar's start is found by skipping whitespace, ',' and ':' from the end of the previous
 * token. Numbers at the very end of the body are only emitted by yajl_complete_parse, so a
 * number's end is found by scanning its characters. */
#include "json/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/clock.h"
#include "sluice.h"

#define PTR_MAX_TOKENS 32
#define NPTR 2 /* 0: key, 1: timestamp */

typedef struct pointer {
    int n;                            /* tokens; -1 = no pointer */
    char *tok[PTR_MAX_TOKENS];
    size_t tlen[PTR_MAX_TOKENS];
    char buf[SL_POINTER_MAX + 1];
} pointer_t;

typedef struct frame {
    unsigned char is_map;
    unsigned char ok[NPTR];           /* this container's path equals the pointer's prefix */
    unsigned char key_hit[NPTR];      /* maps: the current key equals the next token */
    long index;                       /* arrays: index of the current element */
    size_t start;                     /* where the container began */
} frame_t;

enum { CAP_NONE = 0, CAP_STRING, CAP_RAW };

typedef struct ctx {
    const char *body;
    size_t len;
    sl_body_kind_t kind;
    const sl_json_opts_t *o;
    yajl_handle h;
    sl_json_events_t *out;
    sl_json_error_t *err;
    pointer_t ptr[NPTR];
    size_t last_end;                  /* end of the previous token */
    int depth;                        /* open containers in the body */
    int ev_base;                      /* body depth of an event's root value (0, 1 or 3) */
    int in_event;
    sl_json_event_t cur;
    frame_t st[SL_JSON_MAX_DEPTH + 8];
    /* capture of the pointer targets of the current event */
    int cap_kind[NPTR];
    int cap_depth[NPTR];              /* body depth of a container being captured */
    size_t cap_start[NPTR];
    /* records shape */
    int rec_field;                    /* 0 none, 1 key, 2 value, 3 partition, 4 other */
    int rec_has_value, rec_has_key;
    size_t rec_key_off, rec_key_len;
    int saw_records;
    int ignore_from;                  /* >0: inside a container to skip, opened at depth ignore_from-1 */
    size_t rec_key_start;             /* a record's "key" that is an object or array */
    int failed;
} ctx_t;

static int fail(ctx_t *c, int status, const char *code, size_t offset, size_t limit,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(ctx_t *c, int status, const char *code, size_t offset, size_t limit,
                const char *fmt, ...) {
    if (c->failed) return 0;
    c->failed = 1;
    c->err->status = status;
    c->err->code = code;
    c->err->index = c->in_event ? (long)c->out->n : -1;
    c->err->offset = offset;
    c->err->limit = limit;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    return 0; /* yajl: cancel */
}

static size_t consumed(ctx_t *c) { return yajl_get_bytes_consumed(c->h); }

/* Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no over-long forms,
 * no surrogates, nothing past U+10FFFF), or len if all is well. ASCII runs go 8 bytes at a time. */
size_t sl_utf8_check(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) n = 1;
        else if (c == 0xe0) { n = 2; lo = 0xa0; }
        else if (c == 0xed) { n = 2; hi = 0x9f; }
        else if (c >= 0xe1 && c <= 0xef) n = 2;
        else if (c == 0xf0) { n = 3; lo = 0x90; }
        else if (c >= 0xf1 && c <= 0xf3) n = 3;
        else if (c == 0xf4) { n = 3; hi = 0x8f; }
        else return i;
        if (i + n >= len) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80) return i;
        i += n + 1;
    }
    return len;
}

static size_t skip_sep(const ctx_t *c, size_t p) {
    while (p < c->len) {
        char ch = c->body[p];
        /* yajl also takes \f and \v as whitespace */
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == ',' || ch == ':' ||
            ch == '\f' || ch == '\v')
            p++;
        else break;
    }
    return p;
}

static int pointer_parse(pointer_t *p, const char *s) {
    p->n = -1;
    if (!s || !*s) return 0;
    size_t n = strlen(s);
    if (s[0] != '/' || n > SL_POINTER_MAX) return -1;
    memcpy(p->buf, s, n + 1);
    p->n = 0;
    char *w = p->buf, *r = p->buf;
    while (*r == '/') {
        if (p->n == PTR_MAX_TOKENS) return -1;
        r++;
        p->tok[p->n] = w;
        char *t = w;
        while (*r && *r != '/') {
            if (*r == '~') {
                if (r[1] == '0') *w++ = '~';
                else if (r[1] == '1') *w++ = '/';
                else return -1;
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        p->tlen[p->n++] = (size_t)(w - t);
        *w++ = 0; /* w never passes r: unescaping only shrinks */
    }
    return 0;
}

int sl_json_pointer_valid(const char *s) {
    pointer_t p;
    return pointer_parse(&p, s) == 0 ? 1 : 0;
}

static int push_event(ctx_t *c) {
    sl_json_events_t *e = c->out;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        sl_json_event_t *p = realloc(e->ev, cap * sizeof(*p));
        if (!p) return -1;
        e->ev = p;
        e->cap = cap;
    }
    e->ev[e->n++] = c->cur;
    return 0;
}

/* Does array index i match token t? (RFC 6901: decimal, no leading zeros) */
static int index_matches(const char *t, size_t tl, long i) {
    if (tl == 0 || tl > 18 || (tl > 1 && t[0] == '0')) return 0;
    long v = 0;
    for (size_t k = 0; k < tl; k++) {
        if (t[k] < '0' || t[k] > '9') return 0;
        v = v * 10 + (t[k] - '0');
    }
    return v == i;
}

/* Called when a value begins at body depth c->depth (inside the current container, or as an
 * event root). Returns, per pointer, whether this value is exactly the pointer's target (2),
 * a prefix of it (1), or neither (0). */
static void value_match(ctx_t *c, int m[NPTR]) {
    int rel = c->depth - c->ev_base; /* open containers inside the event */
    for (int k = 0; k < NPTR; k++) {
        const pointer_t *p = &c->ptr[k];
        m[k] = 0;
        if (p->n < 0) continue;
        if (rel == 0) {
            m[k] = p->n == 0 ? 2 : 1;
            continue;
        }
        const frame_t *f = &c->st[c->depth - 1];
        if (!f->ok[k] || rel > p->n) continue;
        int hit = f->is_map ? f->key_hit[k] : index_matches(p->tok[rel - 1], p->tlen[rel - 1], f->index);
        if (hit) m[k] = rel == p->n ? 2 : 1;
    }
}

static int key_store(ctx_t *c, const char *s, size_t n, size_t *off) {
    *off = c->out->keys.len;
    return sl_buf_append(&c->out->keys, s, n);
}

static void set_ts_number(ctx_t *c, const char *s, size_t n) {
    char tmp[64];
    if (n >= sizeof(tmp)) return;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end == 0) {
        c->cur.timestamp = v;
        return;
    }
    double d = strtod(tmp, &end);
    if (*end == 0 && d >= 0 && d < 9.2e18) c->cur.timestamp = (int64_t)d;
}

/* A scalar value ended at `end` (begins at `start`); `str` is its decoded content when a string. */
static int on_scalar(ctx_t *c, size_t start, size_t end, const char *str, size_t slen, int is_null) {
    int m[NPTR] = {0, 0};
    if (c->in_event) value_match(c, m);
    if (m[0] == 2 && !is_null && !c->rec_has_key) {
        size_t off;
        int rc = str ? key_store(c, str, slen, &off) : key_store(c, c->body + start, end - start, &off);
        if (rc) return fail(c, 500, "internal", start, 0, "out of memory");
        c->cur.key_off = off;
        c->cur.key_len = str ? slen : end - start;
        c->cur.has_key = 1;
    }
    if (m[1] == 2) {
        if (str) {
            int64_t ms;
            if (sl_parse_rfc3339(str, slen, &ms) == 0) c->cur.timestamp = ms;
        } else if (!is_null) {
            set_ts_number(c, c->body + start, end - start);
        }
    }
    if (c->in_event && c->depth > c->ev_base) {
        frame_t *f = &c->st[c->depth - 1];
        if (!f->is_map) f->index++;
    }
    return 1;
}

static void event_begin(ctx_t *c, size_t start) {
    int32_t part = c->kind == SL_BODY_RECORDS ? c->cur.partition : -1;
    c->in_event = 1;
    memset(&c->cur, 0, sizeof(c->cur));
    c->cur.start = start;
    c->cur.timestamp = -1;
    c->cur.partition = part;
}

static int event_end(ctx_t *c, size_t end) {
    c->in_event = 0;
    c->cur.len = end - c->cur.start;
    if (c->o->max_event_bytes && c->cur.len > c->o->max_event_bytes) {
        c->in_event = 1; /* so the error names the index */
        return fail(c, 413, "event_too_large", c->cur.start, c->o->max_event_bytes,
                    "event %zu is %zu bytes, over max_event_bytes (%zu)", c->out->n, c->cur.len,
                    c->o->max_event_bytes);
    }
    if (c->o->max_events && c->out->n >= c->o->max_events) {
        c->in_event = 1;
        return fail(c, 413, "request_too_large", c->cur.start, c->o->max_events,
                    "more than %zu events in one request", c->o->max_events);
    }
    if (c->kind == SL_BODY_RECORDS) {
        c->rec_has_value = 1; /* the record's end pushes it */
        return 1;
    }
    if (push_event(c)) return fail(c, 500, "internal", end, 0, "out of memory");
    return 1;
}

/* Is a value starting at body depth c->depth the root of an event? */
static int at_event_root(const ctx_t *c) {
    if (c->in_event) return 0;
    switch (c->kind) {
    case SL_BODY_NDJSON: return c->depth == 0;
    case SL_BODY_JSON: return c->depth == 1 && c->ev_base == 1;
    case SL_BODY_RECORDS: return c->depth == 3 && c->rec_field == 2;
    }
    return 0;
}

static void ndjson_check_newline(ctx_t *c, size_t start) {
    /* Two values on one line are not NDJSON. */
    if (c->kind != SL_BODY_NDJSON || c->out->n == 0) return;
    const sl_json_event_t *prev = &c->out->ev[c->out->n - 1];
    for (size_t i = prev->start + prev->len; i < start; i++)
        if (c->body[i] == '\n') return;
    c->in_event = 1; /* the error is about this event */
    fail(c, 400, "invalid_json", start, 0,
         "event %zu starts on the same line as event %zu: NDJSON needs one value per line",
         c->out->n, c->out->n - 1);
}

static int records_scalar_field(ctx_t *c, size_t start, size_t end, const char *str, size_t slen,
                                int is_null) {
    /* A scalar directly inside a record object (body depth 3, not an event root). */
    if (c->rec_field == 1) {
        if (!is_null) {
            const char *s = str ? str : c->body + start;
            size_t n = str ? slen : end - start;
            size_t off;
            if (key_store(c, s, n, &off)) return fail(c, 500, "internal", start, 0, "out of memory");
            c->rec_key_off = off;
            c->rec_key_len = n;
            c->rec_has_key = 1;
        }
    } else if (c->rec_field == 3) {
        char *e;
        char tmp[32];
        size_t n = end - start;
        if (str || is_null || n >= sizeof(tmp)) goto bad_partition;
        memcpy(tmp, c->body + start, n);
        tmp[n] = 0;
        long v = strtol(tmp, &e, 10);
        if (*e || v < 0 || v >= SL_PARTITIONS_MAX) goto bad_partition;
        c->cur.partition = (int32_t)v;
    }
    return 1;
bad_partition:
    c->in_event = 1;
    return fail(c, 400, "bad_request", start, 0,
                "record %zu: \"partition\" must be an integer from 0 to %d", c->out->n,
                SL_PARTITIONS_MAX - 1);
}

static int scalar(ctx_t *c, size_t end, const char *str, size_t slen, int is_null) {
    size_t start = skip_sep(c, c->last_end);
    c->last_end = end;
    if (c->kind == SL_BODY_RECORDS && c->ignore_from) return 1;
    if (c->kind == SL_BODY_RECORDS && !c->in_event && c->depth == 3 && c->rec_field != 2)
        return records_scalar_field(c, start, end, str, slen, is_null);
    if (c->kind == SL_BODY_RECORDS && !c->in_event && c->depth < 3) {
        if (c->depth == 1 && c->rec_field == 5)
            return fail(c, 400, "bad_request", start, 0, "\"records\" must be an array");
        if (c->depth == 2) {
            c->in_event = 1;
            return fail(c, 400, "bad_request", start, 0, "record %zu must be an object", c->out->n);
        }
        if (c->depth == 0)
            return fail(c, 400, "bad_request", start, 0,
                        "the body must be an object {\"records\":[...]}");
        return 1; /* a field other than "records" at depth 1: ignored */
    }
    int root = at_event_root(c);
    if (root) {
        ndjson_check_newline(c, start);
        if (c->failed) return 0;
        event_begin(c, start);
    }
    if (c->kind == SL_BODY_JSON && c->depth == 0) {
        /* a single scalar event: the whole body */
        c->ev_base = 0;
        event_begin(c, start);
        root = 1;
    }
    if (!on_scalar(c, start, end, str, slen, is_null)) return 0;
    if (root) return event_end(c, end);
    return 1;
}

static int cb_null(void *ctx) {
    ctx_t *c = ctx;
    return scalar(c, consumed(c), NULL, 0, 1);
}

static int cb_boolean(void *ctx, int v) {
    ctx_t *c = ctx;
    size_t start = skip_sep(c, c->last_end);
    return scalar(c, start + (v ? 4 : 5), NULL, 0, 0);
}

static int cb_number(void *ctx, const char *s, size_t n) {
    ctx_t *c = ctx;
    size_t start = skip_sep(c, c->last_end);
    (void)s;
    return scalar(c, start + n, NULL, 0, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
    ctx_t *c = ctx;
    return scalar(c, consumed(c), (const char *)s, n, 0);
}

static int open_container(ctx_t *c, int is_map) {
    size_t start = consumed(c) - 1;
    c->last_end = start + 1;
    if (c->kind == SL_BODY_JSON && c->depth == 0) {
        if (is_map) {
            c->ev_base = 0;
        } else {
            /* The body is an array: each element is an event. (A single event that is itself an
             * array is sent wrapped: [[1,2]].) */
            c->ev_base = 1;
            c->st[0] = (frame_t){.is_map = 0, .start = start};
            c->depth = 1;
            return 1;
        }
    }
    if (c->kind == SL_BODY_RECORDS && !c->in_event) {
        if (c->ignore_from || (c->depth == 1 && c->rec_field != 5) ||
            (c->depth == 3 && c->rec_field != 2)) {
            /* A field we do not read (or a record's "key" object, kept as raw text): skip it. */
            if (!c->ignore_from) {
                c->ignore_from = c->depth + 1;
                if (c->depth == 3 && c->rec_field == 3) {
                    c->in_event = 1;
                    return fail(c, 400, "bad_request", start, 0,
                                "record %zu: \"partition\" must be an integer", c->out->n);
                }
                c->rec_key_start = start;
            }
            c->depth++;
            return 1;
        }
        if (c->depth == 0 && !is_map)
            return fail(c, 400, "bad_request", start, 0, "the body must be an object {\"records\":[...]}");
        if (c->depth == 1 && c->rec_field == 5 && is_map)
            return fail(c, 400, "bad_request", start, 0, "\"records\" must be an array");
        if (c->depth == 2) {
            if (!is_map) {
                c->in_event = 1;
                return fail(c, 400, "bad_request", start, 0, "record %zu must be an object", c->out->n);
            }
            c->rec_has_value = c->rec_has_key = 0;
            c->rec_field = 0;
            memset(&c->cur, 0, sizeof(c->cur));
            c->cur.partition = -1;
            c->cur.timestamp = -1;
        }
    }
    int root = at_event_root(c) || (c->kind == SL_BODY_JSON && c->depth == 0);
    if (root) {
        ndjson_check_newline(c, start);
        if (c->failed) return 0;
        event_begin(c, start);
    }
    int m[NPTR] = {0, 0};
    if (c->in_event) {
        int rel = c->depth - c->ev_base;
        if (rel >= c->o->max_depth)
            return fail(c, 400, "too_deep", start, (size_t)c->o->max_depth,
                        "event %zu nests deeper than %d levels", c->out->n, c->o->max_depth);
        value_match(c, m);
    }
    if (c->depth >= (int)(sizeof(c->st) / sizeof(c->st[0])))
        return fail(c, 400, "too_deep", start, (size_t)c->o->max_depth, "nesting too deep");
    frame_t *f = &c->st[c->depth];
    memset(f, 0, sizeof(*f));
    f->is_map = (unsigned char)is_map;
    f->start = start;
    for (int k = 0; k < NPTR; k++) {
        f->ok[k] = m[k] == 1;
        if (m[k] == 2 && c->cap_kind[k] == CAP_NONE) {
            c->cap_kind[k] = CAP_RAW;
            c->cap_depth[k] = c->depth;
            c->cap_start[k] = start;
        }
    }
    c->depth++;
    return 1;
}

static int close_container(ctx_t *c) {
    size_t end = consumed(c);
    c->last_end = end;
    c->depth--;
    if (c->kind == SL_BODY_JSON && c->depth == 0 && c->ev_base == 1) return 1; /* the outer array */
    if (c->kind == SL_BODY_RECORDS && c->ignore_from) {
        if (c->depth + 1 == c->ignore_from) {
            c->ignore_from = 0;
            if (c->depth == 3 && c->rec_field == 1) {
                size_t off;
                if (key_store(c, c->body + c->rec_key_start, end - c->rec_key_start, &off))
                    return fail(c, 500, "internal", end, 0, "out of memory");
                c->rec_key_off = off;
                c->rec_key_len = end - c->rec_key_start;
                c->rec_has_key = 1;
            }
        }
        return 1;
    }
    if (c->in_event) {
        for (int k = 0; k < NPTR; k++) {
            if (c->cap_kind[k] != CAP_RAW || c->cap_depth[k] != c->depth) continue;
            c->cap_kind[k] = CAP_NONE;
            if (k == 0 && !c->rec_has_key) {
                size_t off;
                if (key_store(c, c->body + c->cap_start[k], end - c->cap_start[k], &off))
                    return fail(c, 500, "internal", end, 0, "out of memory");
                c->cur.key_off = off;
                c->cur.key_len = end - c->cap_start[k];
                c->cur.has_key = 1;
            }
        }
        if (c->depth == c->ev_base) {
            if (!event_end(c, end)) return 0;
        } else {
            frame_t *f = &c->st[c->depth - 1];
            if (!f->is_map) f->index++;
        }
        return 1;
    }
    if (c->kind == SL_BODY_RECORDS && c->depth == 2) {
        /* end of one record */
        if (!c->rec_has_value) {
            c->in_event = 1;
            return fail(c, 400, "bad_request", c->st[2].start, 0, "record %zu has no \"value\"",
                        c->out->n);
        }
        if (c->rec_has_key) {
            c->cur.key_off = c->rec_key_off;
            c->cur.key_len = c->rec_key_len;
            c->cur.has_key = 1;
        }
        if (push_event(c)) return fail(c, 500, "internal", end, 0, "out of memory");
        c->rec_field = 0;
    }
    return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, 1); }
static int cb_start_array(void *ctx) { return open_container(ctx, 0); }
static int cb_end_map(void *ctx) { return close_container(ctx); }
static int cb_end_array(void *ctx) { return close_container(ctx); }

static int cb_map_key(void *ctx, const unsigned char *key, size_t n) {
    ctx_t *c = ctx;
    c->last_end = consumed(c);
    if (c->kind == SL_BODY_RECORDS && !c->in_event) {
        if (c->ignore_from) return 1;
        if (c->depth == 1) {
            int is_records = n == 7 && memcmp(key, "records", 7) == 0;
            c->rec_field = is_records ? 5 : 4;
            if (is_records) c->saw_records = 1;
        } else if (c->depth == 3) {
            if (n == 3 && memcmp(key, "key", 3) == 0) c->rec_field = 1;
            else if (n == 5 && memcmp(key, "value", 5) == 0) {
                if (c->rec_has_value) {
                    c->in_event = 1;
                    return fail(c, 400, "bad_request", c->last_end, 0, "record %zu has two values",
                                c->out->n);
                }
                c->rec_field = 2;
            } else if (n == 9 && memcmp(key, "partition", 9) == 0) c->rec_field = 3;
            else c->rec_field = 4;
        }
        return 1;
    }
    if (!c->in_event) return 1;
    frame_t *f = &c->st[c->depth - 1];
    int rel = c->depth - c->ev_base; /* this key names a value at pointer token rel-1 */
    for (int k = 0; k < NPTR; k++) {
        const pointer_t *p = &c->ptr[k];
        f->key_hit[k] = f->ok[k] && p->n >= rel && p->tlen[rel - 1] == n &&
                        memcmp(p->tok[rel - 1], key, n) == 0;
    }
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

/* Fills err from a yajl error at the parser's current position. */
static void syntax_error(ctx_t *c, int at_end) {
    /* yajl_complete_parse resets the consumed count: an error there is at the end. */
    size_t off = at_end ? c->len : consumed(c);
    if (off > c->len) off = c->len;
    unsigned char *msg = yajl_get_error(c->h, 0, (const unsigned char *)c->body, c->len);
    const char *m = msg ? (const char *)msg : "syntax error";
    int utf8 = msg && strstr(m, "UTF8") != NULL;
    /* Which event? Count those complete, plus one if we are inside one. */
    c->in_event = 1;
    char clean[160];
    size_t j = 0;
    for (size_t i = 0; m[i] && j + 1 < sizeof(clean); i++) clean[j++] = m[i] == '\n' ? ' ' : m[i];
    while (j && clean[j - 1] == ' ') j--;
    clean[j] = 0;
    fail(c, 400, utf8 ? "invalid_utf8" : "invalid_json", off, 0, "event %zu: %s (byte %zu of the body)",
         c->out->n, clean, off);
    if (msg) yajl_free_error(c->h, msg);
}

int sl_json_parse_body(const char *body, size_t len, sl_body_kind_t kind, const sl_json_opts_t *o,
                       sl_json_events_t *out, sl_json_error_t *err) {
    ctx_t *c = calloc(1, sizeof(*c));
    int rc = -1;
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (!c) {
        err->status = 500;
        err->code = "internal";
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -1;
    }
    c->body = body;
    c->len = len;
    c->kind = kind;
    c->o = o;
    c->out = out;
    c->err = err;
    c->ev_base = kind == SL_BODY_RECORDS ? 3 : 0;
    if (pointer_parse(&c->ptr[0], o->key_ptr) || pointer_parse(&c->ptr[1], o->ts_ptr)) {
        fail(c, 400, "bad_request", 0, 0, "the topic's key or timestamp pointer is invalid");
        goto done;
    }
    c->h = yajl_alloc(&callbacks, NULL, c);
    if (!c->h) goto done;
    if (kind == SL_BODY_NDJSON) yajl_config(c->h, yajl_allow_multiple_values, 1);
    /* UTF-8 is checked once, strictly, by sl_utf8_check below; yajl's own check is laxer. */
    yajl_config(c->h, yajl_dont_validate_strings, 1);
    size_t ws = 0;
    while (ws < len && (body[ws] == ' ' || body[ws] == '\t' || body[ws] == '\n' || body[ws] == '\r'))
        ws++;
    if (ws == len) {
        fail(c, 400, "empty_request", 0, 0, "the request holds no event");
        goto done;
    }
    yajl_status st = yajl_parse(c->h, (const unsigned char *)body, len);
    int at_end = 0;
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(c->h);
        at_end = 1;
    }
    if (st == yajl_status_error && !c->failed) syntax_error(c, at_end);
    if (c->failed) goto done;
    /* yajl lets over-long forms, surrogates and code points past U+10FFFF through. */
    size_t bad = sl_utf8_check(body, len);
    if (bad < len) {
        size_t i = 0;
        while (i < out->n && out->ev[i].start + out->ev[i].len <= bad) i++;
        c->in_event = i < out->n;
        c->out->n = i; /* so the error names the event holding the byte */
        fail(c, 400, "invalid_utf8", bad, 0, "event %zu: invalid UTF-8 at byte %zu of the body", i, bad);
        goto done;
    }
    if (kind == SL_BODY_RECORDS && !c->saw_records) {
        fail(c, 400, "bad_request", 0, 0, "the body must be an object {\"records\":[...]}");
        goto done;
    }
    if (out->n == 0) {
        fail(c, 400, "empty_request", 0, 0, "the request holds no event");
        goto done;
    }
    rc = 0;
done:
    if (rc && kind == SL_BODY_NDJSON && err->index >= 0) {
        /* In NDJSON an event is a line: name the line holding the error, counting non-blank
         * lines (so `{"a":1}}` on line 2 is event 1, not the stray "}" as event 2). */
        size_t off = err->offset < len ? err->offset : (len ? len - 1 : 0);
        long idx = 0;
        int blank = 1;
        for (size_t i = 0; i < off; i++) {
            char ch = body[i];
            if (ch == '\n') {
                if (!blank) idx++;
                blank = 1;
            } else if (ch != ' ' && ch != '\t' && ch != '\r') {
                blank = 0;
            }
        }
        if (err->index != idx) {
            char *colon = strchr(err->message, ':');
            char rest[sizeof(err->message)];
            snprintf(rest, sizeof(rest), "%s", colon && !strncmp(err->message, "event ", 6) ? colon + 1 : err->message);
            snprintf(err->message, sizeof(err->message), "event %ld (line %ld):%.200s", idx, idx + 1, rest);
        }
        err->index = idx;
    }
    if (c->h) yajl_free(c->h);
    free(c);
    if (rc) sl_json_events_free(out);
    return rc;
}

void sl_json_events_free(sl_json_events_t *evs) {
    free(evs->ev);
    sl_buf_free(&evs->keys);
    memset(evs, 0, sizeof(*evs));
}

int sl_json_validate(const char *text, size_t len, int max_depth, sl_json_error_t *err) {
    sl_json_opts_t o = {.max_depth = max_depth};
    sl_json_events_t evs;
    /* One value: parse it as an NDJSON body and require a single event. */
    if (sl_json_parse_body(text, len, SL_BODY_NDJSON, &o, &evs, err)) return -1;
    size_t n = evs.n;
    sl_json_events_free(&evs);
    if (n != 1) {
        memset(err, 0, sizeof(*err));
        err->status = 400;
        err->code = "invalid_json";
        err->index = -1;
        snprintf(err->message, sizeof(err->message), "expected one JSON value, found %zu", n);
        return -1;
    }
    return 0;
}
