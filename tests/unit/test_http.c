/* Tests for net/http.c: a real server on 127.0.0.1:0 whose loop runs in a background
 * thread, driven by plain blocking client sockets that check responses byte for byte
 * (framing, keep-alive, pipelining, limits, timeouts, aborts, streaming, stop). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "net/http.h"

/* ---- server fixture: one server, its loop in a thread ------------------------------------ */

typedef struct fx {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    sl_http_server_t *srv;
    int port;
    atomic_int aborts;       /* on_abort calls */
    atomic_int late_answers; /* answers given to requests whose connection had died */
    atomic_int stopped;      /* stop callback ran */
} fx_t;

/* An answer given later, from a timer. */
typedef struct pending {
    uv_timer_t timer;
    sl_http_req_t *req;
    fx_t *fx;
    int chunks; /* for /stream_slow: chunks written so far */
} pending_t;

static sl_http_config_t default_cfg(void) {
    sl_http_config_t cfg = {.host = "127.0.0.1",
                            .port = 0,
                            .max_request_bytes = 2 << 20,
                            .max_header_bytes = 8192,
                            .max_connections = 64,
                            .idle_timeout_ms = 10000,
                            .request_timeout_ms = 10000};
    return cfg;
}

static void echo(sl_http_req_t *req) {
    static const char *names[] = {"", "GET", "POST", "PUT", "DELETE", "HEAD", "OTHER"};
    const char *x = sl_http_header(req, "x-test");
    size_t cap = 1024 + strlen(req->path) + strlen(req->query) + (x ? strlen(x) : 0) + 256;
    char *out = malloc(cap);
    assert_non_null(out);
    int n = snprintf(out, cap,
                     "{\"method\":\"%s\",\"path\":\"%s\",\"query\":\"%s\",\"body_len\":%zu,"
                     "\"content_type\":\"%s\",\"x_test\":\"%s\",\"body\":\"%.*s\"}",
                     names[req->method], req->path, req->query, req->body_len, req->content_type,
                     x ? x : "", req->body_len <= 200 ? (int)req->body_len : 0, req->body ? req->body : "");
    sl_http_respond(req, 200, "application/json", "X-Echo: 1\r\n", out, (size_t)n);
    free(out);
}

static void on_pending_closed(uv_handle_t *h) { free(h->data); }

static void pending_done(pending_t *p) {
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_pending_closed);
}

static void on_abort_pending(sl_http_req_t *req) {
    pending_t *p = req->data;
    atomic_fetch_add(&p->fx->aborts, 1);
    pending_done(p);
}

static void on_async_timer(uv_timer_t *t) {
    pending_t *p = t->data;
    echo(p->req);
    pending_done(p);
}

static void on_noabort_timer(uv_timer_t *t) {
    pending_t *p = t->data;
    atomic_fetch_add(&p->fx->late_answers, 1);
    sl_http_respond(p->req, 200, "text/plain", NULL, "late", 4);
    pending_done(p);
}

static void on_slow_chunk(uv_timer_t *t) {
    pending_t *p = t->data;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "chunk %d\n", p->chunks++);
    assert_true(sl_http_stream_write(p->req, buf, (size_t)n) >= 0);
}

static pending_t *pending_new(fx_t *fx, sl_http_req_t *req) {
    pending_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->req = req;
    p->fx = fx;
    p->timer.data = p;
    uv_timer_init(&fx->loop, &p->timer);
    return p;
}

static uint64_t query_ms(const sl_http_req_t *req) {
    const char *ms = strstr(req->query, "ms=");
    return ms ? strtoull(ms + 3, NULL, 10) : 50;
}

static void handler(sl_http_req_t *req, void *ud) {
    fx_t *fx = ud;
    if (strcmp(req->path, "/async") == 0) {
        pending_t *p = pending_new(fx, req);
        req->data = p;
        req->on_abort = on_abort_pending;
        uv_timer_start(&p->timer, on_async_timer, query_ms(req), 0);
    } else if (strcmp(req->path, "/noabort") == 0) {
        pending_t *p = pending_new(fx, req);
        uv_timer_start(&p->timer, on_noabort_timer, query_ms(req), 0);
    } else if (strcmp(req->path, "/stream") == 0) {
        sl_http_stream_start(req, 200, "text/plain", NULL);
        assert_true(sl_http_stream_write(req, "one", 3) >= 0);
        assert_true(sl_http_stream_write(req, "two", 3) >= 0);
        assert_true(sl_http_stream_write(req, "three", 5) >= 0);
        sl_http_stream_end(req);
    } else if (strcmp(req->path, "/stream_slow") == 0) {
        pending_t *p = pending_new(fx, req);
        req->data = p;
        req->on_abort = on_abort_pending;
        sl_http_stream_start(req, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
        uv_timer_start(&p->timer, on_slow_chunk, 0, 20);
    } else if (strcmp(req->path, "/large") == 0) { /* n bytes of one letter taken from the query */
        size_t n = strtoull(req->query + 2, NULL, 10);
        char *body = malloc(n);
        assert_non_null(body);
        memset(body, req->query[0], n);
        sl_http_respond_owned(req, 200, "application/octet-stream", NULL, body, n);
    } else if (strcmp(req->path, "/nocontent") == 0) {
        sl_http_respond(req, 204, NULL, NULL, "", 0);
    } else if (strcmp(req->path, "/owned") == 0) {
        char *body = strdup("owned body");
        sl_http_respond_owned(req, 201, "text/plain", NULL, body, strlen(body));
    } else if (strcmp(req->path, "/stats") == 0) {
        sl_http_stats_t st;
        char out[512];
        sl_http_server_stats(fx->srv, &st);
        typedef unsigned long long ull;
        int n = snprintf(out, sizeof(out),
                         "accepted=%llu rejected=%llu open=%llu requests=%llu timeouts=%llu in=%llu out=%llu",
                         (ull)st.connections_accepted, (ull)st.connections_rejected, (ull)st.connections_open,
                         (ull)st.requests, (ull)st.timeouts, (ull)st.bytes_in, (ull)st.bytes_out);
        sl_http_respond(req, 200, "text/plain", NULL, out, (size_t)n);
    } else {
        echo(req);
    }
}

static void on_stopped(void *arg) { atomic_fetch_add(&((fx_t *)arg)->stopped, 1); }

static void on_wake(uv_async_t *a) {
    fx_t *fx = a->data;
    sl_http_server_stop(fx->srv, on_stopped, fx);
    uv_close((uv_handle_t *)&fx->wake, NULL);
}

static void *loop_main(void *arg) {
    fx_t *fx = arg;
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    return NULL;
}

static fx_t *fx_start(const sl_http_config_t *cfg) {
    fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(sl_http_server_start(&fx->loop, cfg, handler, fx, &fx->srv), 0);
    fx->port = sl_http_server_port(fx->srv);
    assert_true(fx->port > 0);
    fx->wake.data = fx;
    assert_int_equal(uv_async_init(&fx->loop, &fx->wake, on_wake), 0);
    assert_int_equal(pthread_create(&fx->thread, NULL, loop_main, fx), 0);
    return fx;
}

/* Stops the server from its loop, waits for the loop to run dry and checks that every
 * handle was closed (uv_loop_close fails with UV_EBUSY otherwise). */
static void fx_stop(fx_t *fx) {
    uv_async_send(&fx->wake);
    assert_int_equal(pthread_join(fx->thread, NULL), 0);
    assert_int_equal(atomic_load(&fx->stopped), 1);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
}

/* ---- blocking client ------------------------------------------------------------------- */

typedef struct cli {
    int fd;
    size_t len;
    char buf[1 << 23];
} cli_t;

typedef struct resp {
    int status;
    char head[8192]; /* status line and headers, NUL-terminated */
    char *body;      /* NUL-terminated */
    size_t body_len;
    char raw[8192];  /* the bytes of a chunked body as they came */
    size_t raw_len;
} resp_t;

static cli_t *cli_open(int port) {
    cli_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return c;
}

static void cli_close(cli_t *c) {
    close(c->fd);
    free(c);
}

static void cli_send(cli_t *c, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void cli_sends(cli_t *c, const char *s) { cli_send(c, s, strlen(s)); }

/* Reads more into the buffer: bytes read, 0 on EOF, -1 on error or timeout. */
static int cli_fill(cli_t *c) {
    assert_true(c->len < sizeof(c->buf));
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n > 0) c->len += (size_t)n;
    return n < 0 ? -1 : (int)n;
}

static void cli_consume(cli_t *c, size_t n) {
    assert_true(n <= c->len);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Waits until at least n bytes are buffered. */
static void cli_need(cli_t *c, size_t n) {
    while (c->len < n) assert_true(cli_fill(c) > 0);
}

static const char *head_value(const resp_t *r, const char *name) {
    static char val[256];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl, *e = strstr(v, "\r\n");
            while (*v == ' ') v++;
            snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
            return val;
        }
    }
    return NULL;
}

/* Reads one response (head_only: the request was HEAD). A chunked body is de-chunked into
 * body and kept raw in raw. */
static resp_t *cli_response(cli_t *c, int head_only) {
    resp_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    char *end;
    for (;;) {
        if (c->len && (end = memmem(c->buf, c->len, "\r\n\r\n", 4))) break;
        assert_true(cli_fill(c) > 0);
    }
    size_t hl = (size_t)(end - c->buf) + 4;
    assert_true(hl < sizeof(r->head));
    memcpy(r->head, c->buf, hl);
    cli_consume(c, hl);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
    const char *te = head_value(r, "Transfer-Encoding"), *cl = head_value(r, "Content-Length");
    if (head_only) {
        r->body = calloc(1, 1);
    } else if (te) {
        assert_string_equal(te, "chunked");
        r->body = calloc(1, 1);
        for (;;) {
            char *eol;
            for (;;) {
                if (c->len && (eol = memmem(c->buf, c->len, "\r\n", 2))) break;
                assert_true(cli_fill(c) > 0);
            }
            size_t size = strtoul(c->buf, NULL, 16), line = (size_t)(eol - c->buf) + 2;
            cli_need(c, line + size + 2);
            assert_true(r->raw_len + line + size + 2 <= sizeof(r->raw));
            memcpy(r->raw + r->raw_len, c->buf, line + size + 2);
            r->raw_len += line + size + 2;
            assert_memory_equal(c->buf + line + size, "\r\n", 2);
            r->body = realloc(r->body, r->body_len + size + 1);
            memcpy(r->body + r->body_len, c->buf + line, size);
            r->body_len += size;
            r->body[r->body_len] = 0;
            cli_consume(c, line + size + 2);
            if (size == 0) break;
        }
    } else if (cl) {
        r->body_len = strtoul(cl, NULL, 10);
        cli_need(c, r->body_len);
        r->body = malloc(r->body_len + 1);
        memcpy(r->body, c->buf, r->body_len);
        r->body[r->body_len] = 0;
        cli_consume(c, r->body_len);
    } else { /* until EOF */
        int n;
        while ((n = cli_fill(c)) > 0) {}
        assert_int_equal(n, 0);
        r->body = malloc(c->len + 1);
        memcpy(r->body, c->buf, c->len);
        r->body_len = c->len;
        r->body[r->body_len] = 0;
        cli_consume(c, c->len);
    }
    return r;
}

static void resp_free(resp_t *r) {
    free(r->body);
    free(r);
}

/* The server closed: nothing more buffered or arriving, then EOF. */
static void cli_expect_eof(cli_t *c) {
    assert_int_equal(c->len, 0);
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof(b), 0);
    assert_int_equal(n, 0);
}

/* One request, one response, status checked. */
static resp_t *roundtrip(cli_t *c, const char *req, int status) {
    cli_sends(c, req);
    resp_t *r = cli_response(c, strncmp(req, "HEAD ", 5) == 0);
    assert_int_equal(r->status, status);
    return r;
}

static void sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls an atomic counter until it reaches want (or 3 s pass). */
static int wait_for(atomic_int *v, int want) {
    for (int i = 0; i < 300 && atomic_load(v) < want; i++) sleep_ms(10);
    return atomic_load(v);
}

/* Reads the server's counters through the /stats route on a fresh connection. */
static void stats_text(fx_t *fx, char *out, size_t cap) {
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    snprintf(out, cap, "%s", r->body);
    resp_free(r);
    cli_close(c);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_get_exact_bytes(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "GET /hello?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nX-Test: abc\r\n\r\n");
    const char *body = "{\"method\":\"GET\",\"path\":\"/hello\",\"query\":\"x=1&y=%20\",\"body_len\":0,"
                       "\"content_type\":\"\",\"x_test\":\"abc\",\"body\":\"\"}";
    char want[1024];
    int n = snprintf(want, sizeof(want),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "X-Echo: 1\r\nConnection: keep-alive\r\n\r\n%s",
                     strlen(body), body);
    cli_need(c, (size_t)n);
    assert_int_equal(c->len, n);
    assert_memory_equal(c->buf, want, (size_t)n);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_post_content_length(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c,
                          "POST /topics/t1 HTTP/1.1\r\nHost: t\r\n"
                          "Content-Type: Application/JSON ; charset=UTF-8\r\n"
                          "Content-Length: 11\r\n\r\nhello world",
                          200);
    assert_non_null(strstr(r->body, "\"method\":\"POST\",\"path\":\"/topics/t1\""));
    assert_non_null(strstr(r->body, "\"body_len\":11,\"content_type\":\"application/json\""));
    assert_non_null(strstr(r->body, "\"body\":\"hello world\""));
    resp_free(r);
    r = roundtrip(c, "PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx", 200);
    assert_non_null(strstr(r->body, "\"method\":\"PUT\",\"path\":\"/p\",\"query\":\"\",\"body_len\":1"));
    resp_free(r);
    r = roundtrip(c, "DELETE /d HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"method\":\"DELETE\",\"path\":\"/d\",\"query\":\"\",\"body_len\":0"));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_post_chunked(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c,
                          "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nX-Test: v\r\n\r\n"
                          "3\r\nabc\r\n5;ext=1\r\ndefgh\r\n2\r\nij\r\n0\r\nX-Trailer: t\r\n\r\n",
                          200);
    assert_non_null(strstr(r->body, "\"body_len\":10"));
    assert_non_null(strstr(r->body, "\"x_test\":\"v\",\"body\":\"abcdefghij\""));
    resp_free(r);
    /* the connection is still in step: trailers were consumed */
    r = roundtrip(c, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"path\":\"/after\""));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

/* Headers and body arriving a byte at a time are glued back together. */
static void test_split_bytes(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    const char *req = "POST /split%20path?q=1 HTTP/1.1\r\nHost: t\r\nX-Test: split value\r\n"
                      "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
    for (const char *p = req; *p; p++) {
        cli_send(c, p, 1);
        if ((p - req) % 16 == 0) sleep_ms(1);
    }
    resp_t *r = cli_response(c, 0);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\"path\":\"/split path\",\"query\":\"q=1\",\"body_len\":4"));
    assert_non_null(
        strstr(r->body, "\"content_type\":\"text/plain\",\"x_test\":\"split value\",\"body\":\"abcd\""));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void expect_paths(cli_t *c, const char **paths, int n) {
    for (int i = 0; i < n; i++) {
        resp_t *r = cli_response(c, 0);
        char want[64];
        snprintf(want, sizeof(want), "\"path\":\"%s\"", paths[i]);
        assert_int_equal(r->status, 200);
        assert_non_null(strstr(r->body, want));
        resp_free(r);
    }
}

static void test_pipelined(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    expect_paths(c, (const char *[]){"/p1", "/p2"}, 2);
    /* three in one write, the middle one answered later from a timer */
    cli_sends(c, "GET /p1 HTTP/1.1\r\nHost: t\r\n\r\nGET /async?ms=80 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /p3 HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_paths(c, (const char *[]){"/p1", "/async", "/p3"}, 3);
    /* a big pipelined POST behind a pending request is buffered, then parsed */
    size_t big = 300000;
    char *msg = malloc(big + 256);
    int h = snprintf(msg, 256, "GET /async?ms=50 HTTP/1.1\r\nHost: t\r\n\r\nPOST /big HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: %zu\r\n\r\n", big);
    memset(msg + h, 'x', big);
    strcpy(msg + h + big, "GET /p4 HTTP/1.1\r\nHost: t\r\n\r\n");
    cli_sends(c, msg);
    free(msg);
    expect_paths(c, (const char *[]){"/async", "/big", "/p4"}, 3);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

/* Pipelining with back-pressure both ways: responses far bigger than the socket buffers
 * (the server waits for them to drain before parsing on), and more pipelined input than
 * the server buffers while a request is held (reading stops, then resumes). */
static void test_pipelined_backpressure(void **state) {
    sl_http_config_t cfg = default_cfg();
    cfg.max_request_bytes = 2048;
    cfg.max_header_bytes = 1024;
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    const int n = 6;
    const size_t size = 4 << 20; /* well past the loopback socket buffers */
    char req[128];
    for (int i = 0; i < n; i++) {
        snprintf(req, sizeof(req), "GET /large?%c=%zu HTTP/1.1\r\nHost: t\r\n\r\n", 'a' + i, size);
        cli_sends(c, req);
    }
    sleep_ms(100); /* let the server fill its output queue while nothing is read */
    for (int i = 0; i < n; i++) {
        resp_t *r = cli_response(c, 0);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, size);
        assert_true(r->body[0] == 'a' + i && r->body[size - 1] == 'a' + i);
        resp_free(r);
    }
    /* ~20 KB of pipelined requests behind a held one: more than 1024 + 2048 buffered */
    cli_sends(c, "GET /async?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    char *many = malloc(64 * 400);
    size_t len = 0;
    for (int i = 0; i < 400; i++)
        len += (size_t)snprintf(many + len, 64, "GET /m%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    cli_send(c, many, len);
    free(many);
    expect_paths(c, (const char *[]){"/async"}, 1);
    for (int i = 0; i < 400; i++) {
        char path[16];
        snprintf(path, sizeof(path), "/m%d", i);
        expect_paths(c, (const char *[]){path}, 1);
    }
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_keepalive_reuse(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    for (int i = 0; i < 3; i++) {
        resp_t *r = roundtrip(c, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n", 200);
        assert_string_equal(head_value(r, "Connection"), "keep-alive");
        resp_free(r);
    }
    resp_t *r = roundtrip(c, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "accepted=1 rejected=0 open=1 requests=4 timeouts=0"));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

/* A client that half-closes after its request still gets the whole response. */
static void test_half_close(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "GET /large?h=8000000 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(50);
    shutdown(c->fd, SHUT_WR);
    resp_t *r = cli_response(c, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 8000000);
    assert_true(r->body[0] == 'h' && r->body[7999999] == 'h');
    resp_free(r);
    cli_expect_eof(c);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_connection_close(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200);
    assert_string_equal(head_value(r, "Connection"), "close");
    resp_free(r);
    cli_expect_eof(c);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_http10(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "GET /old HTTP/1.0\r\n\r\n", 200);
    assert_string_equal(head_value(r, "Connection"), "close");
    assert_non_null(strstr(r->body, "\"path\":\"/old\""));
    resp_free(r);
    cli_expect_eof(c);
    cli_close(c);

    c = cli_open(fx->port);
    for (int i = 0; i < 2; i++) {
        r = roundtrip(c, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200);
        assert_string_equal(head_value(r, "Connection"), "keep-alive");
        resp_free(r);
    }
    /* a stream to an HTTP/1.0 client: no chunking, the body ends with the connection */
    r = roundtrip(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200);
    assert_null(head_value(r, "Transfer-Encoding"));
    assert_string_equal(head_value(r, "Connection"), "close");
    assert_string_equal(r->body, "onetwothree");
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_expect_continue(void **state) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    cli_need(c, sizeof(cont) - 1);
    assert_memory_equal(c->buf, cont, sizeof(cont) - 1);
    cli_consume(c, sizeof(cont) - 1);
    resp_t *r = roundtrip(c, "12345", 200);
    assert_non_null(strstr(r->body, "\"body_len\":5"));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void expect_error(cli_t *c, int status, const char *body) {
    resp_t *r = cli_response(c, 0);
    assert_int_equal(r->status, status);
    assert_string_equal(head_value(r, "Content-Type"), "application/json");
    assert_string_equal(head_value(r, "Connection"), "close");
    assert_string_equal(r->body, body);
    resp_free(r);
    cli_expect_eof(c);
}

static void test_body_too_large(void **state) {
    static const char err[] = "{\"error\":{\"code\":\"request_too_large\",\"message\":"
                              "\"the request body is larger than max_request_bytes\",\"limit\":1024}}";
    sl_http_config_t cfg = default_cfg();
    cfg.max_request_bytes = 1024;
    fx_t *fx = fx_start(&cfg);
    /* announced too large, with Expect: rejected at once, no 100 Continue */
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "POST /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    expect_error(c, 413, err);
    cli_close(c);
    /* announced too large and sent anyway: the 413 still arrives (no reset), then EOF */
    c = cli_open(fx->port);
    char *body = malloc(65536);
    memset(body, 'y', 65536);
    cli_sends(c, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n");
    cli_send(c, body, 65536);
    free(body);
    expect_error(c, 413, err);
    /* a peer that never closes is dropped after the linger time (2 s) */
    sleep_ms(2300);
    char st[512];
    stats_text(fx, st, sizeof(st));
    assert_non_null(strstr(st, "open=1 "));
    cli_close(c);
    /* a chunked body growing past the limit */
    c = cli_open(fx->port);
    cli_sends(c, "POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 2; i++) {
        cli_sends(c, "258\r\n");
        cli_send(c, chunk, sizeof(chunk));
        cli_sends(c, "\r\n");
    }
    expect_error(c, 413, err);
    cli_close(c);
    /* exactly at the limit is fine */
    c = cli_open(fx->port);
    char *exact = malloc(1024 + 128);
    int h = snprintf(exact, 128, "POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n");
    memset(exact + h, 'a', 1024);
    exact[h + 1024] = 0;
    resp_t *r = roundtrip(c, exact, 200);
    free(exact);
    assert_non_null(strstr(r->body, "\"body_len\":1024"));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_headers_too_large(void **state) {
    sl_http_config_t cfg = default_cfg();
    cfg.max_header_bytes = 1024;
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    char req[4096];
    char big[2000];
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
    cli_sends(c, req);
    expect_error(c, 431, "{\"error\":{\"code\":\"headers_too_large\",\"message\":"
                         "\"the request line and headers exceed max_header_bytes\",\"limit\":1024}}");
    cli_close(c);
    /* many small headers count too */
    c = cli_open(fx->port);
    cli_sends(c, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++) cli_sends(c, "A: b\r\n");
    cli_sends(c, "\r\n");
    resp_t *r = cli_response(c, 0);
    assert_int_equal(r->status, 431);
    resp_free(r);
    cli_close(c);
    /* just under the limit passes */
    c = cli_open(fx->port);
    memset(big, 'h', 900);
    big[900] = 0;
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\nX-Test: %s\r\n\r\n", big);
    r = roundtrip(c, req, 200);
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_max_connections(void **state) {
    sl_http_config_t cfg = default_cfg();
    cfg.max_connections = 2;
    fx_t *fx = fx_start(&cfg);
    cli_t *a = cli_open(fx->port), *b = cli_open(fx->port);
    resp_free(roundtrip(a, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    resp_free(roundtrip(b, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_t *c = cli_open(fx->port);
    expect_error(c, 503, "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the server has "
                         "max_connections open connections; retry later\",\"limit\":2}}");
    cli_close(c);
    resp_t *r = roundtrip(a, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "accepted=2 rejected=1 open=2"));
    resp_free(r);
    /* once one goes away (the server sees it asynchronously), a new connection is served */
    cli_close(b);
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        c = cli_open(fx->port);
        cli_sends(c, "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
        r = cli_response(c, 0);
        status = r->status;
        resp_free(r);
        cli_close(c);
        if (status != 200) sleep_ms(10);
    }
    assert_int_equal(status, 200);
    cli_close(a);
    fx_stop(fx);
    (void)state;
}

static void test_idle_timeout(void **state) {
    sl_http_config_t cfg = default_cfg();
    cfg.idle_timeout_ms = 150;
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_expect_eof(c); /* silently closed, no bytes */
    cli_close(c);
    c = cli_open(fx->port);
    resp_free(roundtrip(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_expect_eof(c);
    cli_close(c);
    /* a long answer is not cut by the idle timeout */
    c = cli_open(fx->port);
    resp_free(roundtrip(c, "GET /async?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_request_timeout(void **state) {
    static const char err[] = "{\"error\":{\"code\":\"request_timeout\",\"message\":\"the request line, "
                              "headers and body did not arrive within request_timeout_ms\",\"limit\":150}}";
    sl_http_config_t cfg = default_cfg();
    cfg.request_timeout_ms = 150;
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "GET / HTTP/1.1\r\nHost: t\r\n");
    expect_error(c, 408, err);
    cli_close(c);
    c = cli_open(fx->port);
    cli_sends(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    expect_error(c, 408, err);
    cli_close(c);
    /* handling time is not request time */
    c = cli_open(fx->port);
    resp_free(roundtrip(c, "GET /async?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_close(c);
    char st[512];
    stats_text(fx, st, sizeof(st));
    assert_non_null(strstr(st, "timeouts=2"));
    fx_stop(fx);
    (void)state;
}

static void test_percent_decoding(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "GET /a%20b/%C3%a9%2F?q=%20x+y HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"path\":\"/a b/\xc3\xa9/\",\"query\":\"q=%20x+y\""));
    resp_free(r);
    r = roundtrip(c, "GET http://example.com:8080/abs/p?z HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"path\":\"/abs/p\",\"query\":\"z\""));
    resp_free(r);
    r = roundtrip(c, "GET http://example.com HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"path\":\"/\",\"query\":\"\""));
    resp_free(r);
    cli_close(c);
    const char *bad[] = {"/bad%zz", "/bad%2", "/bad%", "/nul%00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);
        c = cli_open(fx->port);
        cli_sends(c, req);
        expect_error(c, 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"invalid percent-encoding in "
                             "the request path\"}}");
        cli_close(c);
    }
    fx_stop(fx);
    (void)state;
}

static void test_bad_requests(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "PATCH /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    expect_error(c, 405, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method PATCH is not "
                         "supported; use GET, POST, PUT, DELETE or HEAD\"}}");
    cli_close(c);
    c = cli_open(fx->port);
    cli_sends(c, "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n");
    expect_error(c, 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed HTTP request: invalid "
                         "character in content-length header\"}}");
    cli_close(c);
    c = cli_open(fx->port);
    cli_sends(c, "\x16\x03\x01 hello\r\n\r\n");
    expect_error(c, 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed HTTP request: invalid "
                         "HTTP method\"}}");
    cli_close(c);
    /* no protocol switch: an Upgrade request is answered, then the connection closes */
    c = cli_open(fx->port);
    cli_sends(c, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                 "\x81\x05hello");
    resp_t *up = cli_response(c, 0);
    assert_int_equal(up->status, 200);
    assert_string_equal(head_value(up, "Connection"), "close");
    resp_free(up);
    cli_expect_eof(c);
    cli_close(c);
    /* a good request, then garbage: the first is answered, then the 400 */
    c = cli_open(fx->port);
    cli_sends(c, "GET /fine HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/9.x\r\n\r\n");
    resp_free(cli_response(c, 0));
    resp_t *r = cli_response(c, 0);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "\"code\":\"bad_request\""));
    resp_free(r);
    cli_expect_eof(c);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_head(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_true(atoi(head_value(r, "Content-Length")) > 0);
    resp_free(r);
    r = roundtrip(c, "GET /owned HTTP/1.1\r\nHost: t\r\n\r\n", 201); /* no stray body bytes before it */
    assert_string_equal(r->body, "owned body");
    resp_free(r);
    r = roundtrip(c, "HEAD /owned HTTP/1.1\r\nHost: t\r\n\r\n", 201);
    assert_string_equal(head_value(r, "Content-Length"), "10");
    resp_free(r);
    r = roundtrip(c, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_string_equal(head_value(r, "Transfer-Encoding"), "chunked");
    resp_free(r);
    /* 204: no Content-Length, no body; the connection stays in step */
    cli_sends(c, "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n");
    static const char no_content[] = "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n";
    cli_need(c, sizeof(no_content) - 1);
    assert_memory_equal(c->buf, no_content, sizeof(no_content) - 1);
    cli_consume(c, sizeof(no_content) - 1);
    r = roundtrip(c, "GET /last HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_non_null(strstr(r->body, "\"path\":\"/last\""));
    resp_free(r);
    cli_close(c);
    fx_stop(fx);
    (void)state;
}

static void test_abort_async(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    cli_sends(c, "GET /async?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(50);
    cli_close(c);
    assert_int_equal(wait_for(&fx->aborts, 1), 1);
    /* on_abort NULL: the late answer goes to a detached request and frees it */
    c = cli_open(fx->port);
    cli_sends(c, "GET /noabort?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(20);
    cli_close(c);
    assert_int_equal(wait_for(&fx->late_answers, 1), 1);
    /* the server carries on */
    c = cli_open(fx->port);
    resp_free(roundtrip(c, "GET /still HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_close(c);
    assert_int_equal(atomic_load(&fx->aborts), 1);
    fx_stop(fx);
    (void)state;
}

static void test_stream(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *c = cli_open(fx->port);
    resp_t *r = roundtrip(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_string_equal(head_value(r, "Transfer-Encoding"), "chunked");
    assert_null(head_value(r, "Content-Length"));
    assert_string_equal(r->body, "onetwothree");
    assert_int_equal(r->raw_len, strlen("3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n"));
    assert_memory_equal(r->raw, "3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n", r->raw_len);
    resp_free(r);
    r = roundtrip(c, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    resp_free(r);
    /* an endless stream: the client leaves, on_abort runs */
    cli_sends(c, "GET /stream_slow HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!strstr(c->buf, "chunk 2")) {
        assert_true(cli_fill(c) > 0);
        c->buf[c->len] = 0;
    }
    assert_non_null(strstr(c->buf, "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                                   "Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n"));
    cli_close(c);
    assert_int_equal(wait_for(&fx->aborts, 1), 1);
    fx_stop(fx);
    (void)state;
}

/* stop() with a request in the handler, an idle connection and a half-sent request. */
static void test_stop_with_pending(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    cli_t *a = cli_open(fx->port), *b = cli_open(fx->port), *d = cli_open(fx->port);
    cli_sends(a, "GET /async?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    resp_free(roundtrip(b, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200));
    cli_sends(d, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial");
    cli_sends(b, "GET /stream_slow HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(100);
    fx_stop(fx); /* joins the loop thread: every handle closed, server freed */
    char tmp[65536];
    ssize_t n;
    while ((n = recv(a->fd, tmp, sizeof(tmp), 0)) > 0) {}
    assert_int_equal(n, 0);
    while ((n = recv(d->fd, tmp, sizeof(tmp), 0)) > 0) {}
    assert_int_equal(n, 0);
    cli_close(a);
    cli_close(b);
    cli_close(d);
    (void)state;
}

static void test_start_errors(void **state) {
    sl_http_config_t cfg = default_cfg();
    fx_t *fx = fx_start(&cfg);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    sl_http_server_t *srv = NULL;
    sl_http_config_t busy = cfg;
    busy.port = fx->port;
    assert_int_equal(sl_http_server_start(&loop, &busy, handler, NULL, &srv), UV_EADDRINUSE);
    sl_http_config_t bad = cfg;
    bad.host = "not-an-address";
    assert_int_equal(sl_http_server_start(&loop, &bad, handler, NULL, &srv), UV_EINVAL);
    bad = cfg;
    bad.max_request_bytes = 0;
    assert_int_equal(sl_http_server_start(&loop, &bad, handler, NULL, &srv), UV_EINVAL);
    assert_null(srv);
    uv_run(&loop, UV_RUN_DEFAULT); /* releases the listener of the failed start */
    assert_int_equal(uv_loop_close(&loop), 0);
    fx_stop(fx);
    (void)state;
}

int main(void) {
    sl_log_set_level(SL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_exact_bytes),
        cmocka_unit_test(test_post_content_length),
        cmocka_unit_test(test_post_chunked),
        cmocka_unit_test(test_split_bytes),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_pipelined_backpressure),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_headers_too_large),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_abort_async),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stop_with_pending),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
