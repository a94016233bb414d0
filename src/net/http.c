/* HTTP/1.1 server on one libuv loop: accepts connections, frames requests with http_parser
 * (Content-Length, chunked, keep-alive, pipelining, Expect: 100-continue), enforces the
 * limits of sl_http_config_t, hands each complete request to the handler one at a time per
 * connection and writes whole or chunk-streamed responses in order. Who owns a
 * sl_http_req_t when is explained in http.h; how a connection moves between states is
 * drawn above enum conn_state. */
#include "net/http.h"

#include <assert.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

#define SL_HTTP_BACKLOG 1024
#define SL_HTTP_READ_BUF (64 * 1024)       /* one read buffer shared by every connection */
#define SL_HTTP_LINGER_MS 2000             /* after the last response: drain the peer this long */
#define SL_HTTP_WRITE_HIGH_WATER (1 << 20) /* pipelined requests wait while more is unwritten */
#define SL_HTTP_KEEP_BUF (16 * 1024)       /* per-connection buffers up to this size are reused */

/* A connection's life:
 *
 *   accept --> IDLE --first byte--> READING --message complete--> HANDLING
 *               ^  (idle timer)       (request timer)     (no timer) |
 *               +-------- response queued, keep-alive ---------------+
 *
 *   any state --error response / Connection: close--> CLOSING (FIN after the queued writes,
 *   then read and discard until EOF or SL_HTTP_LINGER_MS) --> closed --> freed once libuv
 *   has closed both handles. Bytes that arrive while the handler holds a request, or while
 *   too much output is unwritten (wait_drain), are kept unparsed in conn.pend. */
enum conn_state { C_IDLE, C_READING, C_HANDLING, C_CLOSING };

/* Which parser data callback ran last, to glue header pieces split across reads. */
enum { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

typedef struct conn conn_t;
typedef struct http_req http_req_t;

struct http_req {
    sl_http_req_t pub;          /* first member: the handler's pointer is ours */
    conn_t *conn;               /* NULL once detached from a dead connection */
    char *sb;                   /* url\0 name\0value\0 ... path\0 query\0 content-type\0 */
    size_t sb_len, sb_cap;
    uint32_t *hdrs;             /* pairs of offsets into sb: name, value */
    size_t nhdrs, hdrs_cap;     /* nhdrs counts offsets, two per header */
    size_t url_len, hdr_bytes;  /* hdr_bytes approximates request line + headers on the wire */
    char *body_buf;
    size_t body_cap;
    int last_cb;
    unsigned headers_done : 1, in_handler : 1, streaming : 1, chunked_out : 1, head : 1, aborting : 1;
    sl_http_sink_cb sink;       /* a request made in the process (sl_http_req_new): gets the answer */
    void *sink_ud;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;           /* idle, request, linger or resume, never two at once */
    uv_shutdown_t shutdown;
    sl_http_server_t *srv;
    conn_t *prev, *next;
    http_parser parser;
    http_req_t *req;            /* allocated at the first request, reused for the next */
    char *pend;                 /* unparsed input: pend[pend_off .. pend_len) */
    size_t pend_off, pend_len, pend_cap;
    enum conn_state state;
    int handles;                /* uv handles not yet closed: tcp, timer */
    unsigned rejected : 1, reading : 1, closed : 1, shutting : 1, shut : 1, eof : 1,
        in_feed : 1, wait_drain : 1, broken : 1;
    uint64_t write_progress;    /* loop time of the last write progress while output waits */
};

struct sl_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    sl_http_config_t cfg;
    size_t pend_limit;          /* unparsed input kept per connection before reads stop */
    sl_http_handler_cb handler;
    void *ud;
    conn_t *conns;
    sl_http_stats_t stats;
    uv_timer_t sweep;           /* closes connections whose peer stopped reading */
    size_t refs;                /* listener + sweep timer + connections not yet freed */
    int stopping;
    void (*stop_cb)(void *arg);
    void *stop_arg;
    char rbuf[SL_HTTP_READ_BUF];
};

/* What the socket did not take at once (see conn_out): copies in data[], and a body
 * handed over by sl_http_respond_owned written from where it is. */
typedef struct wreq {
    uv_write_t w;
    char *owned;                /* freed once written */
    size_t len;                 /* bytes in the write, for bytes_out */
    char data[];
} wreq_t;

static void conn_close(conn_t *c);
static void conn_finish(conn_t *c);
static void conn_drain(conn_t *c);
static void conn_fail(conn_t *c, int status, const char *code, const char *msg, uint64_t limit);

/* ---- small byte helpers ---------------------------------------------------------------- */

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_hex(char *p, uint64_t v) {
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* uv_buf_init() takes an unsigned int length; bodies may be larger. */
static uv_buf_t buf_of(char *base, size_t len) {
    uv_buf_t b;
    b.base = base;
    b.len = len;
    return b;
}

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

/* Decodes %XX escapes of in[0..n) into out (at most n bytes, no NUL). Returns the decoded
 * length, or -1 for a truncated or non-hex escape or an encoded NUL. */
static long percent_decode(const char *in, size_t n, char *out) {
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            *o++ = in[i];
            continue;
        }
        if (n - i < 3) return -1;
        int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) return -1;
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    return (long)(o - out);
}

/* Finds name in a raw query string ("a=1&b=x%20y") and copies its value, '+' and %XX decoded
 * and NUL-terminated, into out. 1 found, 0 absent, -1 malformed or longer than outlen - 1. */
int sl_http_query_param(const char *query, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && memcmp(p, name, nl) == 0 && (len == nl || p[nl] == '=')) {
            size_t vl = len > nl ? len - nl - 1 : 0;
            if (vl >= outlen) return -1; /* decoding only shrinks: vl bounds the result */
            for (size_t i = 0; i < vl; i++) out[i] = p[nl + 1 + i] == '+' ? ' ' : p[nl + 1 + i];
            long n = percent_decode(out, vl, out); /* in place: the output never passes the input */
            if (n < 0) return -1;
            out[n] = 0;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* ---- per-request storage --------------------------------------------------------------- */

static int sb_reserve(http_req_t *r, size_t extra) {
    if (r->sb_len + extra <= r->sb_cap) return 0;
    size_t cap = r->sb_cap ? r->sb_cap : 1024;
    while (cap < r->sb_len + extra) cap *= 2;
    char *p = realloc(r->sb, cap);
    if (!p) return -1;
    r->sb = p;
    r->sb_cap = cap;
    return 0;
}

static int sb_append(http_req_t *r, const char *s, size_t n) {
    if (sb_reserve(r, n) < 0) return -1;
    memcpy(r->sb + r->sb_len, s, n);
    r->sb_len += n;
    return 0;
}

static int sb_nul(http_req_t *r) { return sb_append(r, "", 1); }

static int hdrs_push(http_req_t *r, size_t off) {
    if (r->nhdrs == r->hdrs_cap) {
        size_t cap = r->hdrs_cap ? r->hdrs_cap * 2 : 32;
        uint32_t *p = realloc(r->hdrs, cap * sizeof(*p));
        if (!p) return -1;
        r->hdrs = p;
        r->hdrs_cap = cap;
    }
    assert(off <= UINT32_MAX);
    r->hdrs[r->nhdrs++] = (uint32_t)off;
    return 0;
}

static void req_free(http_req_t *r) {
    free(r->sb);
    free(r->hdrs);
    free(r->body_buf);
    free(r);
}

/* Ready for the next request on the connection; big buffers are not kept around. */
static void req_reset(http_req_t *r) {
    if (r->body_cap > SL_HTTP_KEEP_BUF) {
        free(r->body_buf);
        r->body_buf = NULL;
        r->body_cap = 0;
    }
    if (r->sb_cap > SL_HTTP_KEEP_BUF) {
        free(r->sb);
        r->sb = NULL;
        r->sb_cap = 0;
    }
    r->sb_len = r->nhdrs = r->url_len = r->hdr_bytes = 0;
    r->last_cb = CB_NONE;
    r->headers_done = r->in_handler = r->streaming = r->chunked_out = r->head = 0;
    r->pub = (sl_http_req_t){.path = "", .query = "", .content_type = ""};
}

/* Terminates the piece being collected (url, header name or value) before the next one. */
static int req_end_piece(http_req_t *r) {
    switch (r->last_cb) {
    case CB_FIELD: /* a name without a value callback: give it an empty value */
        if (sb_nul(r) < 0 || hdrs_push(r, r->sb_len) < 0) return -1;
        return sb_nul(r);
    case CB_URL:
    case CB_VALUE:
        return sb_nul(r);
    default:
        return 0;
    }
}

static const char *req_find_header(const http_req_t *r, const char *name) {
    for (size_t i = 0; i + 1 < r->nhdrs; i += 2)
        if (strcasecmp(r->sb + r->hdrs[i], name) == 0) return r->sb + r->hdrs[i + 1];
    return NULL;
}

/* ---- writing --------------------------------------------------------------------------- */

static void on_write(uv_write_t *w, int status) {
    wreq_t *wr = (wreq_t *)w;
    conn_t *c = w->data;
    if (status == 0) c->srv->stats.bytes_out += wr->len;
    c->write_progress = uv_now(c->srv->loop);
    free(wr->owned);
    free(wr);
    if (status < 0) {
        if (status != UV_ECANCELED) conn_close(c);
        return;
    }
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (c->wait_drain && queued <= SL_HTTP_WRITE_HIGH_WATER / 2) {
        c->wait_drain = 0;
        conn_drain(c);
    }
}

static void on_broken(uv_timer_t *t) { conn_close(t->data); }

/* A write could not be queued. Closing here could run on_abort while a handler is inside
 * a call with its req, so the close (and on_abort) happen on the next loop turn. */
static void conn_break(conn_t *c) {
    c->broken = 1;
    uv_timer_start(&c->timer, on_broken, 0, 0);
}

/* Sends bufs[0..n): what the socket takes now goes out with uv_try_write (no request, no
 * callback, no epoll change), the rest is queued with one uv_write. Only owned (NULL, or
 * the malloc'ed base of one of bufs) must outlive the call: it is freed once written. The
 * other unwritten bytes are copied. uv_try_write refuses while anything is queued, so the
 * order of bytes on the wire is the order of calls. */
static int conn_out(conn_t *c, const uv_buf_t *bufs, unsigned n, char *owned) {
    uv_buf_t rest[3];
    int rest_owned[3];
    unsigned m = 0;
    size_t total = 0, done = 0, copy = 0, skip;
    wreq_t *w;
    assert(n <= 3 && !c->closed);
    for (unsigned i = 0; i < n; i++) total += bufs[i].len;
    int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (rc >= 0) done = (size_t)rc;
    else if (rc != UV_EAGAIN) goto failed;
    c->srv->stats.bytes_out += done;
    if (done == total) {
        free(owned);
        return 0;
    }

    skip = done;
    for (unsigned i = 0; i < n; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        rest[m] = buf_of(bufs[i].base + skip, bufs[i].len - skip);
        rest_owned[m] = owned && bufs[i].base == owned;
        if (!rest_owned[m]) copy += rest[m].len;
        skip = 0;
        m++;
    }
    w = malloc(sizeof(*w) + copy);
    if (!w) {
        rc = UV_ENOMEM;
        goto failed;
    }
    char *p = w->data;
    for (unsigned j = 0; j < m; j++) {
        if (rest_owned[j]) continue;
        memcpy(p, rest[j].base, rest[j].len);
        rest[j].base = p;
        p += rest[j].len;
    }
    w->owned = owned;
    w->len = total - done;
    w->w.data = c;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
        c->write_progress = uv_now(c->srv->loop); /* the wait for this write starts now */
    rc = uv_write(&w->w, (uv_stream_t *)&c->tcp, rest, m, on_write);
    if (rc < 0) {
        free(w);
        goto failed;
    }
    return 0;

failed:
    sl_debug("http: write failed: %s", uv_strerror(rc));
    free(owned);
    conn_break(c);
    return rc;
}

static size_t head_max(const char *reason, const char *ctype, const char *extra) {
    return 160 + strlen(reason) + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0);
}

/* Writes the status line and headers at p; content_length < 0: no Content-Length (chunked,
 * or a status without a body). */
static char *head_put(char *p, int status, const char *reason, const char *ctype,
                      const char *extra, int64_t content_length, int chunked, int keep_alive) {
    assert(status >= 100 && status <= 999);
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    p = PUT_LIT(p, "\r\n");
    if (ctype && *ctype) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, ctype, strlen(ctype));
        p = PUT_LIT(p, "\r\n");
    }
    if (content_length >= 0) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_u64(p, (uint64_t)content_length);
        p = PUT_LIT(p, "\r\n");
    } else if (chunked) {
        p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (extra) p = put(p, extra, strlen(extra));
    if (keep_alive) p = PUT_LIT(p, "Connection: keep-alive\r\n\r\n");
    else p = PUT_LIT(p, "Connection: close\r\n\r\n");
    return p;
}

/* A response head and, unless streaming (content_length < 0), its whole body: one write of
 * two buffers. A body in owned is sent from where it is and freed once written. */
static int conn_send(conn_t *c, int status, const char *ctype, const char *extra, int64_t content_length,
                     int chunked, int keep_alive, const char *body, size_t len, char *owned) {
    const char *reason = http_status_str((enum http_status)status);
    size_t hmax = head_max(reason, ctype, extra);
    char stack[1024], *head = hmax <= sizeof(stack) ? stack : malloc(hmax);
    if (!head) {
        free(owned);
        conn_break(c);
        return UV_ENOMEM;
    }
    char *p = head_put(head, status, reason, ctype, extra, content_length, chunked, keep_alive);
    assert((size_t)(p - head) <= hmax);
    uv_buf_t bufs[2] = {buf_of(head, (size_t)(p - head)), buf_of(owned ? owned : (char *)body, len)};
    int rc = conn_out(c, bufs, 2, owned);
    if (head != stack) free(head);
    return rc;
}

static void json_escape_put(char **pp, char *end, const char *s) {
    char *p = *pp;
    for (; *s && p + 6 < end; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch < 0x20) {
            p += snprintf(p, (size_t)(end - p), "\\u%04x", ch);
        } else {
            *p++ = (char)ch;
        }
    }
    *pp = p;
}

/* The server's own error: JSON body, Connection: close, then the connection winds down.
 * limit 0 leaves the "limit" field out. */
static void conn_fail(conn_t *c, int status, const char *code, const char *msg, uint64_t limit) {
    assert(c->state != C_HANDLING);
    if (c->closed || c->state == C_CLOSING) return;
    char body[512], *p = body, *end = body + sizeof(body) - 40;
    p = PUT_LIT(p, "{\"error\":{\"code\":\"");
    p = put(p, code, strlen(code));
    p = PUT_LIT(p, "\",\"message\":\"");
    json_escape_put(&p, end, msg);
    *p++ = '"';
    if (limit) {
        p = PUT_LIT(p, ",\"limit\":");
        p = put_u64(p, limit);
    }
    p = PUT_LIT(p, "}}");
    sl_debug("http: %d %s: %s", status, code, msg);
    c->state = C_CLOSING; /* stops conn_feed; conn_finish then takes over */
    size_t len = (size_t)(p - body);
    if (conn_send(c, status, "application/json", NULL, (int64_t)len, 0, 0, body, len, NULL) < 0) return;
    conn_finish(c);
}

/* ---- connection lifetime --------------------------------------------------------------- */

static void srv_unref(sl_http_server_t *srv) {
    assert(srv->refs > 0);
    if (--srv->refs > 0 || !srv->stopping) return;
    void (*cb)(void *) = srv->stop_cb;
    void *arg = srv->stop_arg;
    free(srv);
    if (cb) cb(arg);
}

static void on_conn_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    if (--c->handles > 0) return;
    sl_http_server_t *srv = c->srv;
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (!c->rejected) srv->stats.connections_open--;
    if (c->req) req_free(c->req);
    free(c->pend);
    free(c);
    srv_unref(srv);
}

/* The peer is gone while the handler holds c->req: on_abort then free, or detach (see http.h). */
static void conn_abort_req(conn_t *c) {
    http_req_t *r = c->req;
    assert(r && r->in_handler);
    c->req = NULL;
    r->conn = NULL;
    if (!r->pub.on_abort) return;
    r->aborting = 1;
    r->pub.on_abort(&r->pub);
    req_free(r);
}

/* Closes at once (idempotent). Freed in on_conn_closed once both handles are closed. */
static void conn_close(conn_t *c) {
    if (c->closed) return;
    c->closed = 1;
    c->state = C_CLOSING;
    if (c->req && c->req->in_handler) conn_abort_req(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_linger_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_shutdown(uv_shutdown_t *sr, int status) {
    conn_t *c = sr->data;
    c->shut = 1;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_linger_timeout, SL_HTTP_LINGER_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* The last response is queued: send FIN after it, then read and discard what the peer
 * still sends until it closes, so that it sees the response rather than a reset. */
static void conn_finish(conn_t *c) {
    if (c->closed || c->shutting) return;
    c->state = C_CLOSING;
    c->shutting = 1;
    uv_timer_stop(&c->timer);
    if (!c->reading && !c->eof && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) conn_close(c);
}

static void on_idle_timeout(uv_timer_t *t) {
    conn_t *c = t->data;
    assert(c->state == C_IDLE);
    conn_close(c);
}

static void on_request_timeout(uv_timer_t *t) {
    conn_t *c = t->data;
    assert(c->state == C_READING);
    c->srv->stats.timeouts++;
    conn_fail(c, 408, "request_timeout",
              "the request line, headers and body did not arrive within request_timeout_ms",
              c->srv->cfg.request_timeout_ms);
}

static void conn_arm_idle(conn_t *c) {
    if (c->state != C_IDLE || c->wait_drain || c->broken) return;
    uint64_t ms = c->srv->cfg.idle_timeout_ms;
    if (ms) uv_timer_start(&c->timer, on_idle_timeout, ms, 0);
    else uv_timer_stop(&c->timer);
}

/* ---- parser callbacks ------------------------------------------------------------------ */

/* Counts n more bytes of request line + headers; over the limit -> 431. */
static int req_count_head(conn_t *c, size_t n) {
    http_req_t *r = c->req;
    r->hdr_bytes += n;
    if (r->hdr_bytes <= c->srv->cfg.max_header_bytes) return 0;
    conn_fail(c, 431, "headers_too_large", "the request line and headers exceed max_header_bytes",
              c->srv->cfg.max_header_bytes);
    return -1;
}

static int on_message_begin(http_parser *p) {
    conn_t *c = p->data;
    if (!c->req) {
        c->req = calloc(1, sizeof(*c->req));
        if (!c->req) {
            conn_close(c);
            return -1;
        }
        c->req->conn = c;
    }
    req_reset(c->req);
    c->state = C_READING;
    if (c->srv->cfg.request_timeout_ms)
        uv_timer_start(&c->timer, on_request_timeout, c->srv->cfg.request_timeout_ms, 0);
    else uv_timer_stop(&c->timer);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
    conn_t *c = p->data;
    http_req_t *r = c->req;
    if (req_count_head(c, r->last_cb == CB_NONE ? n + 16 : n) < 0) return -1; /* 16: method, version */
    r->last_cb = CB_URL;
    r->url_len += n;
    if (sb_append(r, at, n) == 0) return 0;
    conn_close(c);
    return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
    conn_t *c = p->data;
    http_req_t *r = c->req;
    if (r->headers_done) return 0; /* chunked trailers: ignored, sb must not move any more */
    if (req_count_head(c, r->last_cb == CB_FIELD ? n : n + 4) < 0) return -1; /* 4: ": ", CRLF */
    if (r->last_cb != CB_FIELD && (req_end_piece(r) < 0 || hdrs_push(r, r->sb_len) < 0)) goto failed;
    r->last_cb = CB_FIELD;
    if (sb_append(r, at, n) < 0) goto failed;
    return 0;
failed:
    conn_close(c);
    return -1;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    conn_t *c = p->data;
    http_req_t *r = c->req;
    if (r->headers_done) return 0;
    if (req_count_head(c, n) < 0) return -1;
    if (r->last_cb != CB_VALUE && (sb_nul(r) < 0 || hdrs_push(r, r->sb_len) < 0)) goto failed;
    r->last_cb = CB_VALUE;
    if (sb_append(r, at, n) < 0) goto failed;
    return 0;
failed:
    conn_close(c);
    return -1;
}

static int method_of(unsigned m) {
    switch (m) {
    case HTTP_GET: return SL_HTTP_GET;
    case HTTP_POST: return SL_HTTP_POST;
    case HTTP_PUT: return SL_HTTP_PUT;
    case HTTP_DELETE: return SL_HTTP_DELETE;
    case HTTP_HEAD: return SL_HTTP_HEAD;
    default: return SL_HTTP_OTHER;
    }
}

/* Splits the target into the decoded path and the raw query, and the media type out of
 * Content-Type, all appended to sb; the pointers are set once sb stops moving. */
static int req_split_target(conn_t *c) {
    http_req_t *r = c->req;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(r->sb, r->url_len, 0, &u) != 0) {
        conn_fail(c, 400, "bad_request", "malformed HTTP request: invalid request target", 0);
        return -1;
    }
    const char *ct = req_find_header(r, "content-type");
    size_t ct_off = ct ? (size_t)(ct - r->sb) : 0, ct_len = ct ? strlen(ct) : 0;
    if (sb_reserve(r, r->url_len + ct_len + 4) < 0) goto failed;

    size_t path_off = r->sb_len;
    if (u.field_set & (1 << UF_PATH)) {
        const char *raw = r->sb + u.field_data[UF_PATH].off;
        long n = percent_decode(raw, u.field_data[UF_PATH].len, r->sb + r->sb_len);
        if (n < 0) {
            conn_fail(c, 400, "bad_request", "invalid percent-encoding in the request path", 0);
            return -1;
        }
        r->sb_len += (size_t)n;
    } else {
        r->sb[r->sb_len++] = '/';
    }
    r->sb[r->sb_len++] = 0;

    size_t query_off = r->sb_len;
    if (u.field_set & (1 << UF_QUERY)) {
        memcpy(r->sb + r->sb_len, r->sb + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        r->sb_len += u.field_data[UF_QUERY].len;
    }
    r->sb[r->sb_len++] = 0;

    size_t type_off = r->sb_len;
    if (ct) {
        const char *s = r->sb + ct_off, *e = s + ct_len, *semi = memchr(s, ';', ct_len);
        if (semi) e = semi;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        char *o = r->sb + r->sb_len;
        while (s < e) *o++ = lower(*s++);
        r->sb_len = (size_t)(o - r->sb);
    }
    r->sb[r->sb_len++] = 0;
    assert(r->sb_len <= r->sb_cap);

    r->pub.path = r->sb + path_off;
    r->pub.query = r->sb + query_off;
    r->pub.content_type = r->sb + type_off;
    return 0;
failed:
    conn_close(c);
    return -1;
}

static int on_headers_complete(http_parser *p) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    conn_t *c = p->data;
    http_req_t *r = c->req;
    const sl_http_config_t *cfg = &c->srv->cfg;
    if (req_count_head(c, 2) < 0) return -1;
    if (req_end_piece(r) < 0) {
        conn_close(c);
        return -1;
    }
    r->last_cb = CB_NONE;
    r->headers_done = 1;
    r->pub.method = method_of(p->method);
    if (r->pub.method == SL_HTTP_OTHER) {
        char msg[128];
        snprintf(msg, sizeof(msg), "method %s is not supported; use GET, POST, PUT, DELETE or HEAD",
                 http_method_str((enum http_method)p->method));
        conn_fail(c, 405, "method_not_allowed", msg, 0);
        return -1;
    }
    r->head = r->pub.method == SL_HTTP_HEAD;
    if (req_split_target(c) < 0) return -1;
    r->pub.keep_alive = http_should_keep_alive(p) && !c->srv->stopping;

    uint64_t expect_body = 0;
    if (p->flags & F_CHUNKED) {
        expect_body = 1;
    } else if (p->flags & F_CONTENTLENGTH) {
        expect_body = p->content_length;
        if (expect_body > cfg->max_request_bytes) {
            conn_fail(c, 413, "request_too_large", "the request body is larger than max_request_bytes",
                      cfg->max_request_bytes);
            return -1;
        }
        if (expect_body + 1 > r->body_cap) { /* pre-size: bounded by the limit just checked */
            free(r->body_buf);
            r->body_cap = 0;
            r->body_buf = malloc(expect_body + 1);
            if (!r->body_buf) {
                conn_close(c);
                return -1;
            }
            r->body_cap = expect_body + 1;
        }
    }
    const char *expect = req_find_header(r, "expect");
    if (expect && expect_body && p->http_minor >= 1 && strcasecmp(expect, "100-continue") == 0) {
        uv_buf_t b = buf_of((char *)cont, sizeof(cont) - 1);
        conn_out(c, &b, 1, NULL);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    conn_t *c = p->data;
    http_req_t *r = c->req;
    size_t max = c->srv->cfg.max_request_bytes, need = r->pub.body_len + n;
    if (need > max) { /* only a chunked body can get here: Content-Length was checked */
        conn_fail(c, 413, "request_too_large", "the request body is larger than max_request_bytes", max);
        return -1;
    }
    if (need + 1 > r->body_cap) {
        size_t cap = r->body_cap < 4096 ? 4096 : r->body_cap * 2;
        if (cap < need + 1) cap = need + 1;
        if (cap > max + 1) cap = max + 1;
        char *b = realloc(r->body_buf, cap);
        if (!b) {
            conn_close(c);
            return -1;
        }
        r->body_buf = b;
        r->body_cap = cap;
    }
    memcpy(r->body_buf + r->pub.body_len, at, n);
    r->pub.body_len = need;
    return 0;
}

static int on_message_complete(http_parser *p) {
    conn_t *c = p->data;
    http_req_t *r = c->req;
    uv_timer_stop(&c->timer);
    if (r->pub.body_len) {
        r->body_buf[r->pub.body_len] = 0;
        r->pub.body = r->body_buf;
    }
    if (p->upgrade) r->pub.keep_alive = 0; /* no protocol switch here: answer, then close */
    http_parser_pause(p, 1);                /* conn_feed hands the request out */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading and dispatch -------------------------------------------------------------- */

static int conn_can_parse(const conn_t *c) {
    return (c->state == C_IDLE || c->state == C_READING) && !c->wait_drain && !c->broken;
}

static void conn_dispatch(conn_t *c) {
    http_req_t *r = c->req;
    assert(r && !r->in_handler);
    c->state = C_HANDLING;
    r->in_handler = 1;
    c->srv->stats.requests++;
    c->srv->handler(&r->pub, c->srv->ud);
}

/* Parses data[0..len) until it is used up or a request is held by the handler (or output
 * backs up, or the connection winds down). Returns the bytes consumed. Requests answered
 * synchronously are followed by the next pipelined one in the same loop. */
static size_t conn_feed(conn_t *c, const char *data, size_t len) {
    size_t off = 0;
    assert(!c->in_feed);
    c->in_feed = 1;
    while (off < len && conn_can_parse(c)) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, data + off, len - off);
        off += n;
        if (c->state == C_CLOSING) break; /* a callback failed the request */
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            conn_dispatch(c);
            if (c->state == C_IDLE &&
                uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SL_HTTP_WRITE_HIGH_WATER)
                c->wait_drain = 1;
        } else if (e == HPE_HEADER_OVERFLOW) {
            conn_fail(c, 431, "headers_too_large", "the request line and headers exceed max_header_bytes",
                      c->srv->cfg.max_header_bytes);
        } else if (e != HPE_OK) {
            char msg[160];
            snprintf(msg, sizeof(msg), "malformed HTTP request: %s", http_errno_description(e));
            conn_fail(c, 400, "bad_request", msg, 0);
        } else if (n == 0) {
            break;
        }
    }
    c->in_feed = 0;
    conn_arm_idle(c);
    return off;
}

/* Parses what was kept in pend, if the connection may parse now. */
static void conn_drain(conn_t *c) {
    if (c->closed) return;
    if (c->pend_len > c->pend_off && conn_can_parse(c)) {
        size_t n = conn_feed(c, c->pend + c->pend_off, c->pend_len - c->pend_off);
        if (c->state == C_CLOSING) return;
        c->pend_off += n;
    }
    if (c->pend_off == c->pend_len) {
        c->pend_off = c->pend_len = 0;
        if (c->pend_cap > SL_HTTP_KEEP_BUF) {
            free(c->pend);
            c->pend = NULL;
            c->pend_cap = 0;
        }
    }
    if (!c->reading && !c->eof && c->pend_len - c->pend_off <= c->srv->pend_limit &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    conn_arm_idle(c);
}

static int pend_append(conn_t *c, const char *data, size_t n) {
    if (c->pend_off) {
        memmove(c->pend, c->pend + c->pend_off, c->pend_len - c->pend_off);
        c->pend_len -= c->pend_off;
        c->pend_off = 0;
    }
    if (c->pend_len + n > c->pend_cap) {
        size_t cap = c->pend_cap ? c->pend_cap * 2 : 4096;
        while (cap < c->pend_len + n) cap *= 2;
        char *p = realloc(c->pend, cap);
        if (!p) return -1;
        c->pend = p;
        c->pend_cap = cap;
    }
    memcpy(c->pend + c->pend_len, data, n);
    c->pend_len += n;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    conn_t *c = h->data;
    *buf = buf_of(c->srv->rbuf, sizeof(c->srv->rbuf));
}

/* EOF or a read error. */
static void conn_on_eof(conn_t *c, int err) {
    if (err != UV_EOF) sl_debug("http: read: %s", uv_strerror((int)err));
    c->eof = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    if (c->state == C_CLOSING) {
        if (c->shut || err != UV_EOF) conn_close(c); /* else on_shutdown closes */
    } else if (c->state == C_HANDLING || err != UV_EOF ||
               uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        conn_close(c);
    } else {
        conn_finish(c); /* half-closed peer: let the queued responses out first */
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn_t *c = s->data;
    if (nread < 0) {
        conn_on_eof(c, (int)nread);
        return;
    }
    if (nread == 0) return;
    c->srv->stats.bytes_in += (uint64_t)nread;
    if (c->state == C_CLOSING) return; /* draining before close */
    size_t n = (size_t)nread, used = 0;
    if (c->pend_len == c->pend_off && conn_can_parse(c)) used = conn_feed(c, buf->base, n);
    if (used == n || c->state == C_CLOSING) return;
    if (pend_append(c, buf->base + used, n - used) < 0) {
        conn_close(c);
        return;
    }
    conn_drain(c);
    if (c->reading && c->pend_len - c->pend_off > c->srv->pend_limit) {
        uv_read_stop(s); /* resumes in conn_drain once the handler has answered */
        c->reading = 0;
    }
}

static void on_resume(uv_timer_t *t) { conn_drain(t->data); }

/* ---- accepting ------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status) {
    sl_http_server_t *srv = server->data;
    if (status < 0) {
        sl_warn("http: accept: %s", uv_strerror(status));
        return;
    }
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sl_error("http: out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    c->tcp.data = c->timer.data = c;
    c->state = C_IDLE;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->handles = 2;
    c->rejected = 1; /* until counted as open below */
    c->next = srv->conns;
    if (c->next) c->next->prev = c;
    srv->conns = c;
    srv->refs++;
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (rc < 0) {
        sl_warn("http: accept: %s", uv_strerror(rc));
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (srv->cfg.max_connections > 0 && srv->stats.connections_open >= (uint64_t)srv->cfg.max_connections) {
        srv->stats.connections_rejected++;
        conn_fail(c, 503, "too_many_connections",
                  "the server has max_connections open connections; retry later",
                  (uint64_t)srv->cfg.max_connections);
        return;
    }
    c->rejected = 0;
    srv->stats.connections_accepted++;
    srv->stats.connections_open++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_close(c);
        return;
    }
    c->reading = 1;
    conn_arm_idle(c);
}

/* ---- public API ------------------------------------------------------------------------ */

static void on_listener_closed(uv_handle_t *h) { srv_unref(h->data); }

/* A peer that stops reading would pin its queued output (up to a whole fetch response) for
 * ever: once output has waited idle_timeout_ms without any progress, the connection goes. */
static void on_sweep(uv_timer_t *t) {
    sl_http_server_t *srv = t->data;
    uint64_t now = uv_now(srv->loop), limit = srv->cfg.idle_timeout_ms;
    for (conn_t *c = srv->conns; c; c = c->next) {
        if (c->closed || c->broken) continue;
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) continue;
        if (now - c->write_progress < limit) continue;
        sl_info("http: closing a connection whose peer stopped reading (%zu bytes waiting)",
                uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp));
        srv->stats.timeouts++;
        conn_break(c);
    }
}

int sl_http_server_start(uv_loop_t *loop, const sl_http_config_t *cfg, sl_http_handler_cb handler,
                         void *ud, sl_http_server_t **out) {
    struct sockaddr_storage addr;
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    int rc;
    if (!handler || cfg->max_request_bytes == 0 || cfg->max_header_bytes == 0 || cfg->port < 0 ||
        cfg->port > 65535)
        return UV_EINVAL;
    if (strchr(host, ':')) rc = uv_ip6_addr(host, cfg->port, (struct sockaddr_in6 *)&addr);
    else rc = uv_ip4_addr(host, cfg->port, (struct sockaddr_in *)&addr);
    if (rc < 0) return rc;

    sl_http_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv) return UV_ENOMEM;
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->cfg.host = NULL; /* not kept: the caller's string may not outlive the server */
    srv->pend_limit = cfg->max_header_bytes + cfg->max_request_bytes;
    srv->handler = handler;
    srv->ud = ud;
    srv->refs = 1;
    if (cfg->max_header_bytes > HTTP_MAX_HEADER_SIZE) /* the parser's own cap (global) must not be lower */
        http_parser_set_max_header_size(cfg->max_header_bytes > UINT32_MAX ? UINT32_MAX
                                                                           : (uint32_t)cfg->max_header_bytes);

    rc = uv_tcp_init(loop, &srv->listener);
    if (rc < 0) goto failed_init;
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc < 0) goto failed_listen;
    rc = uv_listen((uv_stream_t *)&srv->listener, SL_HTTP_BACKLOG, on_connection);
    if (rc < 0) goto failed_listen;
    if (cfg->idle_timeout_ms) {
        uv_timer_init(loop, &srv->sweep);
        srv->sweep.data = srv;
        srv->refs++;
        uint64_t every = cfg->idle_timeout_ms < 4000 ? cfg->idle_timeout_ms / 4 + 1 : 1000;
        uv_timer_start(&srv->sweep, on_sweep, every, every);
    }
    sl_info("http: listening on %s:%d", host, sl_http_server_port(srv));
    *out = srv;
    return 0;

failed_listen:
    /* The handle is initialised: it must be closed, and srv lives until that is done. */
    sl_error("http: cannot listen on %s:%d: %s", host, cfg->port, uv_strerror(rc));
    srv->stopping = 1;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    return rc;
failed_init:
    free(srv);
    return rc;
}

int sl_http_server_port(sl_http_server_t *srv) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) < 0) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void sl_http_server_stop(sl_http_server_t *srv, void (*cb)(void *arg), void *arg) {
    assert(!srv->stopping);
    srv->stopping = 1;
    srv->stop_cb = cb;
    srv->stop_arg = arg;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    if (srv->cfg.idle_timeout_ms) uv_close((uv_handle_t *)&srv->sweep, on_listener_closed);
    for (conn_t *c = srv->conns; c; c = c->next) conn_close(c); /* unlinked only when freed */
}

void sl_http_server_stats(sl_http_server_t *srv, sl_http_stats_t *out) { *out = srv->stats; }

static int sb_put(http_req_t *r, const char *s, size_t n, size_t *off) {
    if (r->sb_len + n + 1 > r->sb_cap) {
        size_t cap = (r->sb_len + n + 1) * 2;
        char *v = realloc(r->sb, cap);
        if (!v) return -1;
        r->sb = v;
        r->sb_cap = cap;
    }
    *off = r->sb_len;
    memcpy(r->sb + r->sb_len, s, n);
    r->sb[r->sb_len + n] = 0;
    r->sb_len += n + 1;
    return 0;
}

sl_http_req_t *sl_http_req_new(int method, const char *path, const char *query, const char *content_type,
                               const char *const *headers, size_t nheaders, const char *body,
                               size_t body_len, sl_http_sink_cb sink, void *ud) {
    http_req_t *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    size_t po, qo, to;
    int bad = sb_put(r, path, strlen(path), &po) || sb_put(r, query, strlen(query), &qo) ||
              sb_put(r, content_type, strlen(content_type), &to);
    for (size_t i = 0; !bad && i < nheaders; i++) {
        size_t o;
        if (r->nhdrs + 1 >= r->hdrs_cap) {
            size_t cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
            uint32_t *v = realloc(r->hdrs, cap * sizeof(*v));
            if (!v) {
                bad = 1;
                break;
            }
            r->hdrs = v;
            r->hdrs_cap = cap;
        }
        if ((bad = sb_put(r, headers[i], strlen(headers[i]), &o))) break;
        r->hdrs[r->nhdrs++] = (uint32_t)o;
    }
    if (!bad && body_len) {
        r->body_buf = malloc(body_len + 1);
        if (!r->body_buf) bad = 1;
        else {
            memcpy(r->body_buf, body, body_len);
            r->body_buf[body_len] = 0;
            r->pub.body = r->body_buf;
            r->pub.body_len = body_len;
        }
    }
    if (bad) {
        req_free(r);
        return NULL;
    }
    r->pub.method = method;
    r->pub.path = r->sb + po;
    r->pub.query = r->sb + qo;
    r->pub.content_type = r->sb + to;
    r->pub.keep_alive = 1;
    r->in_handler = 1;
    r->sink = sink;
    r->sink_ud = ud;
    return &r->pub;
}

const char *sl_http_header(sl_http_req_t *req, const char *name) {
    return req_find_header((http_req_t *)req, name);
}

/* The handler is done with r: free a detached one, else ready the connection for more. */
static void req_done(http_req_t *r) {
    conn_t *c = r->conn;
    if (!c) {
        static const char msg[] = "{\"error\":{\"code\":\"not_forwardable\",\"message\":\"a streamed "
                                  "response cannot be forwarded between nodes\"}}\n";
        if (r->sink && r->streaming) r->sink(r->sink_ud, 501, "application/json", NULL, msg, sizeof(msg) - 1);
        req_free(r);
        return;
    }
    assert(c->req == r && c->state == C_HANDLING);
    int keep = r->pub.keep_alive;
    req_reset(r);
    if (c->broken) {
        conn_close(c);
        return;
    }
    if (!keep || c->srv->stopping) {
        conn_finish(c);
        return;
    }
    c->state = C_IDLE;
    if (c->in_feed) return; /* conn_feed goes on with the next pipelined request */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SL_HTTP_WRITE_HIGH_WATER) {
        c->wait_drain = 1; /* on_write resumes */
        return;
    }
    /* Answered later than the dispatch: parse what is pending on the next loop turn rather
     * than here, where the handler may be iterating its own structures. */
    if (c->pend_len > c->pend_off) uv_timer_start(&c->timer, on_resume, 0, 0);
    else conn_drain(c);
}

/* 1xx, 204 and 304 responses have no body, and 1xx and 204 no Content-Length. */
static int status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

/* A second answer, or one given from inside on_abort, would free r twice. */
static int req_check_answer(http_req_t *r) {
    assert(r->in_handler);
    return r->aborting ? -1 : 0;
}

void sl_http_respond(sl_http_req_t *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t body_len) {
    http_req_t *r = (http_req_t *)req;
    if (req_check_answer(r) < 0) return;
    assert(!r->streaming);
    if (r->sink) r->sink(r->sink_ud, status, content_type, extra_headers, body, body_len);
    int64_t length = status_has_body(status) ? (int64_t)body_len : -1;
    if (r->conn && !r->conn->broken)
        conn_send(r->conn, status, content_type, extra_headers, length, 0, r->pub.keep_alive, body,
                  r->head || length < 0 ? 0 : body_len, NULL);
    req_done(r);
}

void sl_http_respond_owned(sl_http_req_t *req, int status, const char *content_type,
                           const char *extra_headers, char *body, size_t body_len) {
    http_req_t *r = (http_req_t *)req;
    if (req_check_answer(r) < 0) {
        free(body);
        return;
    }
    assert(!r->streaming);
    if (r->sink) r->sink(r->sink_ud, status, content_type, extra_headers, body, body_len);
    int64_t length = status_has_body(status) ? (int64_t)body_len : -1;
    if (!body_len || length < 0 || r->head || !r->conn || r->conn->broken) {
        free(body);
        body = NULL;
    }
    if (r->conn && !r->conn->broken)
        conn_send(r->conn, status, content_type, extra_headers, length, 0, r->pub.keep_alive, NULL,
                  body ? body_len : 0, body);
    req_done(r);
}

void sl_http_stream_start(sl_http_req_t *req, int status, const char *content_type,
                          const char *extra_headers) {
    http_req_t *r = (http_req_t *)req;
    if (req_check_answer(r) < 0) return;
    assert(!r->streaming);
    r->streaming = 1;
    conn_t *c = r->conn;
    if (!c || c->broken) return;
    /* HTTP/1.0 has no chunked encoding: the body runs until the connection closes. */
    r->chunked_out = c->parser.http_major > 1 || c->parser.http_minor >= 1;
    if (!r->chunked_out) r->pub.keep_alive = 0;
    conn_send(c, status, content_type, extra_headers, -1, r->chunked_out, r->pub.keep_alive, NULL, 0, NULL);
}

int64_t sl_http_stream_write(sl_http_req_t *req, const char *data, size_t len) {
    http_req_t *r = (http_req_t *)req;
    if (req_check_answer(r) < 0) return UV_ECANCELED;
    assert(r->streaming);
    conn_t *c = r->conn;
    if (!c || c->broken) return UV_ECONNRESET;
    if (len && !r->head) { /* one chunk: size line, data, CRLF */
        char size[24], *p = size;
        if (r->chunked_out) p = PUT_LIT(put_hex(p, len), "\r\n");
        uv_buf_t bufs[3] = {buf_of(size, (size_t)(p - size)), buf_of((char *)data, len),
                            buf_of("\r\n", r->chunked_out ? 2 : 0)};
        if (conn_out(c, bufs, 3, NULL) < 0) return UV_ECONNRESET;
    }
    return (int64_t)uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

void sl_http_stream_end(sl_http_req_t *req) {
    static const char last[] = "0\r\n\r\n";
    http_req_t *r = (http_req_t *)req;
    if (req_check_answer(r) < 0) return;
    assert(r->streaming);
    conn_t *c = r->conn;
    if (c && !c->broken && r->chunked_out && !r->head) {
        uv_buf_t b = buf_of((char *)last, sizeof(last) - 1);
        conn_out(c, &b, 1, NULL);
    }
    req_done(r);
}
