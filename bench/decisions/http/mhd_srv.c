/* Candidate (b): libmicrohttpd 0.9.75. Two ways to run it:
 *   mhd_srv PORT thread  MHD_USE_EPOLL_INTERNAL_THREAD: MHD's own thread polls and calls us there
 *                        (sluice's loop would then need a hand-off to its libuv thread).
 *   mhd_srv PORT uv      MHD_USE_EPOLL without a thread: MHD's epoll fd is watched by a uv_poll_t
 *                        on the libuv loop, MHD_run() is called when it is readable and again
 *                        when MHD_get_timeout() says so (0 ms while it has buffered work, e.g.
 *                        pipelined requests already read), so everything runs on the loop thread.
 * An optional third argument sets MHD_OPTION_CONNECTION_MEMORY_LIMIT in KiB (default 32 KiB),
 * which bounds MHD's read buffer and so the size of each upload_data chunk.
 * The access handler is called once for headers, then once per chunk of upload data, then
 * once with *upload_data_size == 0; we copy the chunks into one buffer, as sluice needs. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "reply.h"

typedef struct body {
    char *buf;
    size_t len, cap;
} body_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    body_t *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        if (b->len + len > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + len)
                cap *= 2;
            char *nb = realloc(b->buf, cap);
            if (!nb)
                return MHD_NO;
            b->buf = nb;
            b->cap = cap;
        }
        memcpy(b->buf + b->len, upload_data, len);
        b->len += len;
        *upload_data_size = 0;
        return MHD_YES;
    }
    char reply[128];
    int n = bench_reply(reply, sizeof reply, b->len);
    struct MHD_Response *resp = MHD_create_response_from_buffer((size_t)n, reply, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    body_t *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

static struct MHD_Daemon *daemon_;
static uv_timer_t timer;

static void drive(void);
static void on_poll(uv_poll_t *p, int status, int events) { drive(); }
static void on_timer(uv_timer_t *t) { drive(); }

static void drive(void)
{
    MHD_UNSIGNED_LONG_LONG ms;
    MHD_run(daemon_);
    if (MHD_get_timeout(daemon_, &ms) == MHD_YES)
        uv_timer_start(&timer, on_timer, ms, 0);
    else
        uv_timer_stop(&timer);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int on_uv = argc > 2 && strcmp(argv[2], "uv") == 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t mem = argc > 3 ? (size_t)atoi(argv[3]) * 1024 : 32 * 1024;
    unsigned flags = on_uv ? MHD_USE_EPOLL : MHD_USE_EPOLL_INTERNAL_THREAD;

    daemon_ = MHD_start_daemon(flags | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
                               on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 10000u,
                               MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_END);
    if (!daemon_) {
        fprintf(stderr, "mhd_srv: cannot start\n");
        return 1;
    }
    if (!on_uv) {
        for (;;)
            pause();
    }
    uv_loop_t *loop = uv_default_loop();
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_t poll;
    uv_poll_init(loop, &poll, info->epoll_fd);
    uv_poll_start(&poll, UV_READABLE, on_poll);
    uv_timer_init(loop, &timer);
    drive();
    return uv_run(loop, UV_RUN_DEFAULT);
}
