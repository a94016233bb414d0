/* Candidate (a): h2o 2.2.5 as a library. Built twice from this file:
 *   h2o_srv         on libuv (Debian's libh2o is the libuv build): h2o sockets wrap uv_tcp_t,
 *                   so h2o shares the loop with anything else on libuv (libraft).
 *   h2o_evloop_srv  with -DH2O_USE_LIBUV=0 against libh2o-evloop: h2o's own epoll loop,
 *                   the variant upstream's server uses; it cannot share a uv loop.
 * h2o 2.2 buffers the whole request body (req->entity, de-chunked) before calling the handler.
 * Usage: h2o_srv PORT */
#include <h2o.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#if H2O_USE_LIBUV
#include <uv.h>
#endif

#include "reply.h"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return -1;
    char *body = h2o_mem_alloc_pool(&req->pool, 128);
    int blen = bench_reply(body, 128, req->entity.base ? req->entity.len : 0);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = (size_t)blen;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, (size_t)blen);
    return 0;
}

#if H2O_USE_LIBUV
static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0)
        return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof *conn);
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    h2o_accept(&accept_ctx, h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free));
}

static int serve(int port)
{
    uv_loop_t *loop = uv_default_loop();
    static uv_tcp_t listener;
    struct sockaddr_in addr;
    h2o_context_init(&ctx, loop, &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &listener);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&listener, 1024, on_accept) != 0)
        return -1;
    return uv_run(loop, UV_RUN_DEFAULT);
}
#else
static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

static int serve(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd, one = 1;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 1024))
        return -1;
    h2o_socket_read_start(h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ), on_accept);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
        ;
    return 0;
}
#endif

int main(int argc, char **argv)
{
    h2o_config_init(&config);
    config.max_request_entity_size = 64 * 1024 * 1024;
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = on_req;
    if (serve(argc > 1 ? atoi(argv[1]) : 8080) < 0) {
        fprintf(stderr, "h2o_srv: cannot listen\n");
        return 1;
    }
    return 0;
}
