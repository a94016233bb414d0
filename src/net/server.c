/* The server process: opens the engine on a libuv loop, serves the HTTP API, and on SIGINT or
 * SIGTERM stops accepting, answers what it holds, syncs and closes the engine, and exits. */
#include "net/server.h"

#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"

typedef struct server {
    uv_loop_t loop;
    sl_engine_t *engine;
    sl_sql_t *sql;
    sl_cluster_t *cluster;
    sl_api_t *api;
    sl_http_server_t *http;
    uv_signal_t sigint, sigterm;
    int stopping;
} server_t;

void sl_server_config_defaults(sl_server_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    sl_engine_config_defaults(&cfg->engine);
    sl_cluster_config_defaults(&cfg->cluster);
    sl_sql_config_defaults(&cfg->sql);
    cfg->http.host = "127.0.0.1";
    cfg->http.port = 8080;
    cfg->http.max_request_bytes = 64u << 20;
    cfg->http.max_header_bytes = 16u << 10;
    cfg->http.max_connections = 1024;
    cfg->http.idle_timeout_ms = 60000;
    cfg->http.request_timeout_ms = 30000;
    cfg->limits.max_request_bytes = cfg->http.max_request_bytes;
    cfg->limits.max_event_bytes = 1u << 20;
    cfg->limits.max_events = 1000000;
    cfg->limits.max_depth = 64;
    cfg->limits.max_timeout_ms = 300000;
}

static void engine_closed(void *arg) {
    server_t *s = arg;
    s->engine = NULL;
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void cluster_closed(void *arg) {
    server_t *s = arg;
    s->cluster = NULL;
    sl_engine_close(s->engine, engine_closed, s);
}

static void sql_closed(void *arg) {
    server_t *s = arg;
    s->sql = NULL;
    if (s->cluster) sl_cluster_close(s->cluster, cluster_closed, s);
    else sl_engine_close(s->engine, engine_closed, s);
}

/* Order: stop HTTP, then the queries (final checkpoints, sink appends finished), then the engine. */
static void http_stopped(void *arg) {
    server_t *s = arg;
    s->http = NULL;
    sl_api_set_sql(s->api, NULL);
    sl_api_set_cluster(s->api, NULL);
    if (s->sql) sl_sql_close(s->sql, sql_closed, s);
    else sql_closed(s);
}

static void on_signal(uv_signal_t *h, int signum) {
    server_t *s = h->data;
    if (s->stopping) {
        sl_warn("second signal: exiting now");
        _exit(1);
    }
    s->stopping = 1;
    sl_info("%s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    sl_api_shutdown(s->api);
    sl_http_server_stop(s->http, http_stopped, s);
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int sl_server_run(const sl_server_config_t *cfg) {
    server_t s;
    memset(&s, 0, sizeof(s));
    signal(SIGPIPE, SIG_IGN);
    /* Fetch and produce buffers of many MiB come and go with every request. Served from the
     * heap instead of fresh mmaps they are reused without page faults (the fetch profile spent
     * ~30 % faulting in zeroed pages); free heap above 128 MiB goes back to the OS. Responses
     * are capped at 16 MiB, under the 32 MiB threshold. */
    if (!mallopt(M_MMAP_THRESHOLD, 32 << 20)) /* glibc's maximum on 64-bit */
        sl_warn("mallopt(M_MMAP_THRESHOLD) refused: large buffers stay mmap'ed");
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    raise_nofile();
    if (!getenv("UV_THREADPOOL_SIZE")) setenv("UV_THREADPOOL_SIZE", "8", 1);
    uv_loop_init(&s.loop);
    int rc = sl_engine_open(&s.loop, &cfg->engine, &s.engine);
    if (rc) {
        fprintf(stderr, "sluice: cannot open the data directory %s: %s\n", cfg->engine.data_dir,
                sl_strerror(rc));
        return 1;
    }
    if (cfg->cluster.members) {
        char http[300];
        sl_cluster_config_t cc = cfg->cluster;
        snprintf(http, sizeof(http), "%s:%d", cfg->http.host, cfg->http.port);
        cc.http_address = http;
        cc.data_dir = cfg->engine.data_dir;
        rc = sl_cluster_open(&s.loop, s.engine, &cc, &s.cluster);
        if (rc) {
            fprintf(stderr, "sluice: cannot start the cluster node: %s\n", sl_strerror(rc));
            if (s.cluster) sl_cluster_close(s.cluster, NULL, NULL);
            uv_run(&s.loop, UV_RUN_DEFAULT);
            sl_engine_close(s.engine, NULL, NULL);
            uv_run(&s.loop, UV_RUN_DEFAULT);
            uv_loop_close(&s.loop);
            return 1;
        }
    }
    sl_sql_config_t sc = cfg->sql;
    sc.data_dir = cfg->engine.data_dir;
    /* Continuous SQL is not replicated yet: a cluster node does not run it (docs/CLUSTER.md). */
    rc = s.cluster ? 0 : sl_sql_open(s.engine, &s.loop, &sc, &s.sql);
    if (rc) {
        fprintf(stderr, "sluice: cannot start continuous SQL in %s/sql: %s\n", cfg->engine.data_dir, sl_strerror(rc));
        if (s.cluster) sl_cluster_close(s.cluster, NULL, NULL);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        sl_engine_close(s.engine, NULL, NULL);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        uv_loop_close(&s.loop);
        return 1;
    }
    sl_api_create(&s.loop, s.engine, &cfg->limits, &s.api);
    sl_api_set_sql(s.api, s.sql);
    sl_api_set_cluster(s.api, s.cluster);
    rc = sl_http_server_start(&s.loop, &cfg->http, sl_api_handle, s.api, &s.http);
    if (rc) {
        fprintf(stderr, "sluice: cannot listen on %s:%d: %s\n", cfg->http.host, cfg->http.port,
                uv_strerror(rc));
        if (s.sql) sl_sql_close(s.sql, NULL, NULL); /* a cluster node has none */
        uv_run(&s.loop, UV_RUN_DEFAULT);
        if (s.cluster) sl_cluster_close(s.cluster, NULL, NULL);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        sl_engine_close(s.engine, NULL, NULL);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        uv_loop_close(&s.loop);
        sl_api_free(s.api);
        return 1;
    }
    sl_api_set_http(s.api, s.http);
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    char abs[PATH_MAX];
    const char *dir = realpath(cfg->engine.data_dir, abs) ? abs : cfg->engine.data_dir;
    printf("sluice %s listening on http://%s:%d, data in %s (fsync=%s)\n", SLUICE_VERSION,
           cfg->http.host, sl_http_server_port(s.http), dir,
           cfg->engine.fsync == SL_FSYNC_ALWAYS ? "always"
           : cfg->engine.fsync == SL_FSYNC_NEVER ? "never" : "interval");
    if (s.cluster)
        printf("node %" PRIu64 ", internal %s\n", sl_cluster_node_id(s.cluster), sl_cluster_address(s.cluster));
    fflush(stdout);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    sl_api_free(s.api);
    if (uv_loop_close(&s.loop)) sl_warn("event loop closed with handles still open");
    return 0;
}
