/* HTTP/1.1 server on a libuv loop, framing by http-parser (libhttp-parser-dev).
 *
 * It owns connections, request framing (Content-Length and chunked bodies, keep-alive,
 * pipelining, Expect: 100-continue), limits (connections, request size, header size,
 * idle and slow-request timeouts) and response writing. It knows nothing of sluice's
 * API: every complete request is handed to one handler callback, which answers at
 * once or later (asynchronously, on the loop thread) with sl_http_respond() or a
 * streamed response. Pipelined requests on one connection are handled one at a time,
 * in order: the next is not handed out until the current response is complete.
 *
 * Ownership of a request: the server allocates the sl_http_req_t and hands it to the
 * handler, which holds it until it calls sl_http_respond(), sl_http_respond_owned() or
 * sl_http_stream_end(); from that call on, req is the server's again and must not be
 * touched. If the connection dies while the handler holds req (peer EOF or reset, a
 * failed write, sl_http_server_stop()):
 *   - with req->on_abort set, the server calls it once (on the loop, never from inside
 *     one of the sl_http_* calls below) and frees req when it returns; the handler must
 *     forget req in on_abort and not answer it;
 *   - with on_abort NULL, req stays allocated, detached from the connection: the handler
 *     answers it as usual (nothing is written, sl_http_stream_write returns < 0) and that
 *     call frees it. Such a req may outlive the server.
 * Do not call sl_http_server_stop() from inside the handler while holding a req. */
#ifndef SL_NET_HTTP_H
#define SL_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_http_server sl_http_server_t;
typedef struct sl_http_req sl_http_req_t;

/* Request methods handed to the handler (others get 405 from the server itself). */
enum { SL_HTTP_GET = 1, SL_HTTP_POST, SL_HTTP_PUT, SL_HTTP_DELETE, SL_HTTP_HEAD, SL_HTTP_OTHER };

typedef struct sl_http_config {
    const char *host;              /* "127.0.0.1" */
    int port;                      /* 0 = ephemeral (read back with sl_http_server_port) */
    size_t max_request_bytes;      /* body limit; over it -> 413, connection closed */
    size_t max_header_bytes;       /* request line + headers; over it -> 431 */
    int max_connections;           /* beyond it a new connection gets 503 and is closed; 0 = no limit */
    uint64_t idle_timeout_ms;      /* keep-alive connection with no request in progress; 0 = none */
    uint64_t request_timeout_ms;   /* a started request whose headers+body do not arrive in time -> 408;
                                      0 = none */
} sl_http_config_t;

struct sl_http_req {
    int method;                    /* SL_HTTP_* */
    const char *path;              /* NUL-terminated, percent-decoded, without the query */
    const char *query;             /* NUL-terminated raw query string (no '?'), "" if none */
    /* path, query, content_type, body and sl_http_header() values live as long as req. */
    const char *content_type;      /* NUL-terminated media type, lower-cased, no parameters; "" if none */
    char *body;                    /* de-chunked body, NUL-terminated (body[body_len] == 0); NULL if empty */
    size_t body_len;
    int keep_alive;                /* the server decided: 1 keep, 0 close after this response (the
                                      handler may set 0 before answering to close) */
    void *data;                    /* free for the handler */
    /* Called once if the peer disconnects before the response is complete (e.g. during a
     * long poll or an SSE stream). After it returns, req is gone: do not respond. */
    void (*on_abort)(sl_http_req_t *req);
};

/* Called on the loop thread with a complete request. The handler must eventually call
 * exactly one of sl_http_respond() or sl_http_stream_start() ... sl_http_stream_end(),
 * unless on_abort fires first. */
typedef void (*sl_http_handler_cb)(sl_http_req_t *req, void *ud);

/* 0 or a negative uv error (UV_EINVAL for a zero byte limit, UV_EADDRINUSE, ...). After a
 * failure past uv_tcp_init the listener is closed asynchronously: run the loop once more
 * to release it. cfg is copied; cfg->host need not outlive the call. */
int sl_http_server_start(uv_loop_t *loop, const sl_http_config_t *cfg, sl_http_handler_cb handler,
                         void *ud, sl_http_server_t **out);
int sl_http_server_port(sl_http_server_t *srv);                 /* the bound port */
/* Stops accepting, closes every connection (pending requests get on_abort) and frees the
 * server once libuv has closed all handles; cb (may be NULL) runs then. */
void sl_http_server_stop(sl_http_server_t *srv, void (*cb)(void *arg), void *arg);

/* Counters for /metrics. */
typedef struct sl_http_stats {
    uint64_t connections_accepted, connections_rejected, connections_open;
    uint64_t requests, bytes_in, bytes_out;
    uint64_t timeouts;             /* 408s sent and peers closed for not reading; idle keep-alive closes are not counted */
} sl_http_stats_t;
void sl_http_server_stats(sl_http_server_t *srv, sl_http_stats_t *out);

/* A query-string parameter of req->query, decoded into out (NUL-terminated). 1 found, 0 absent,
 * -1 malformed (bad %XX, encoded NUL) or not fitting in outlen. */
int sl_http_query_param(const char *query, const char *name, char *out, size_t outlen);

/* A request made inside the process (a node forwarding one it received): handed to a handler
 * like any other; its answer goes to sink instead of a connection (streamed answers get 501).
 * headers: name, value, name, value... (nheaders counts both). The bytes are copied. */
typedef void (*sl_http_sink_cb)(void *ud, int status, const char *content_type, const char *extra_headers,
                                const char *body, size_t body_len);
sl_http_req_t *sl_http_req_new(int method, const char *path, const char *query, const char *content_type,
                               const char *const *headers, size_t nheaders, const char *body,
                               size_t body_len, sl_http_sink_cb sink, void *ud);

/* Value of a request header (case-insensitive name), NUL-terminated, or NULL. */
const char *sl_http_header(sl_http_req_t *req, const char *name);

/* A whole response. extra_headers is NULL or "Name: value\r\n..." lines. The body is
 * copied; req is finished and freed by the server once written. */
void sl_http_respond(sl_http_req_t *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t body_len);

/* Same, but the server takes ownership of body (a malloc'ed buffer) instead of copying it. */
void sl_http_respond_owned(sl_http_req_t *req, int status, const char *content_type,
                           const char *extra_headers, char *body, size_t body_len);

/* Streamed response (chunked transfer encoding): SSE and large fetches. */
void sl_http_stream_start(sl_http_req_t *req, int status, const char *content_type,
                          const char *extra_headers);
/* Queues one chunk (copied). Returns the bytes queued on this connection and not yet
 * written, so a producer can slow down; or a negative value if the connection is gone. */
int64_t sl_http_stream_write(sl_http_req_t *req, const char *data, size_t len);
void sl_http_stream_end(sl_http_req_t *req);

#endif
