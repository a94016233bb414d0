/* Candidate (c): libuv + http-parser, the straightforward way: read into a 64 KiB buffer,
 * feed http-parser, append body bytes to a growing per-connection buffer (sluice needs the
 * whole de-chunked body), and on message-complete queue one uv_write with the reply.
 * Pipelined requests in one read are answered in order because uv_write keeps order.
 * Usage: uvhp_srv PORT */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "reply.h"

typedef struct conn {
    uv_tcp_t tcp;
    http_parser parser;
    char *body;
    size_t body_len, body_cap;
    char rbuf[65536];
} conn_t;

typedef struct wreq {
    uv_write_t w;
    char buf[256];
} wreq_t;

static http_parser_settings settings;

static int on_message_begin(http_parser *p)
{
    conn_t *c = p->data;
    c->body_len = 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + len)
            cap *= 2;
        char *nb = realloc(c->body, cap);
        if (!nb)
            return -1;
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static void on_written(uv_write_t *w, int status)
{
    free(w);
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    char body[128];
    int blen = bench_reply(body, sizeof body, c->body_len);
    wreq_t *w = malloc(sizeof *w);
    int n = snprintf(w->buf, sizeof w->buf,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
                     blen, http_should_keep_alive(p) ? "" : "Connection: close\r\n", body);
    uv_buf_t b = uv_buf_init(w->buf, (unsigned)n);
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        free(w);
    return 0;
}

static void on_close(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    free(c->body);
    free(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = (conn_t *)h;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = (conn_t *)s;
    if (nread < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    size_t used = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    if (c->parser.http_errno != HPE_OK || used != (size_t)nread)
        uv_close((uv_handle_t *)s, on_close);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    settings.on_message_begin = on_message_begin;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 8080, &addr);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 1024, on_connection) != 0) {
        fprintf(stderr, "uvhp_srv: cannot listen\n");
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
