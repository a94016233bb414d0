/* libFuzzer target for the HTTP edge (net/http.c over http-parser): every input is sent as the
 * bytes of one client connection to a real server on a libuv loop (127.0.0.1, ephemeral port,
 * small limits so 413/431 paths are reached), then the client half-closes and the loop runs
 * until the server has closed the connection. The handler answers at once, streams, or answers
 * with a 204, by the request's path. Sanitizers catch any memory error; the connection must end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http.h"

static uv_loop_t loop;
static sl_http_server_t *srv;
static int port;

static void handler(sl_http_req_t *req, void *ud) {
    (void)ud;
    if (req->path[0] && req->path[1] == 's') { /* "/s...": a streamed answer */
        sl_http_stream_start(req, 200, "text/plain", NULL);
        sl_http_stream_write(req, req->path, strlen(req->path));
        sl_http_stream_write(req, req->query, strlen(req->query));
        sl_http_stream_end(req);
        return;
    }
    if (req->path[0] && req->path[1] == 'n') {
        sl_http_respond(req, 204, NULL, NULL, "", 0);
        return;
    }
    const char *ct = sl_http_header(req, "x-echo");
    sl_http_respond(req, 200, "application/json", NULL, ct ? ct : (req->body ? req->body : "{}"),
                    ct ? strlen(ct) : req->body_len);
}

static void setup(void) {
    uv_loop_init(&loop);
    sl_http_config_t cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .max_request_bytes = 4096,
        .max_header_bytes = 1024,
        .max_connections = 64,
        .idle_timeout_ms = 0,
        .request_timeout_ms = 0,
    };
    if (sl_http_server_start(&loop, &cfg, handler, NULL, &srv)) abort();
    port = sl_http_server_port(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!srv) setup();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) abort();
    size_t off = 0;
    while (off < size) { /* inputs are far below the loopback socket buffer */
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    for (int i = 0; i < 200000; i++) { /* until the server closes (bounded, never hangs) */
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
    }
    close(fd);
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
