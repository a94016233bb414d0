/* `sluice serve`: reads flags and SLUICE_* environment variables (flags win) into the server
 * configuration and runs the server. The table of settings is docs/CONFIG.md (and README). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "net/server.h"

enum {
    OPT_LISTEN = 1000, OPT_DATA, OPT_FSYNC, OPT_SEG_BYTES, OPT_SEG_MS, OPT_MAX_REQ, OPT_MAX_EVENT, OPT_MAX_EVENTS,
    OPT_MAX_CONN, OPT_MAX_HDR, OPT_IDLE, OPT_REQ_TIMEOUT, OPT_RET_CHECK, OPT_SESS_CHECK, OPT_SQL_CKPT, OPT_SQL_MEM, OPT_SQL_THREADS, OPT_LOG,
    OPT_NODE_ID, OPT_CLUSTER, OPT_ELECTION, OPT_HEARTBEAT, OPT_HELP, OPT_JOIN,
};

typedef struct setting {
    const char *flag, *env;
    int id;
    const char *help;
} setting_t;

static const setting_t settings[] = {
    {"listen", "SLUICE_LISTEN", OPT_LISTEN, "HOST:PORT to serve HTTP on (127.0.0.1:8080; port 0 = any free)"},
    {"data-dir", "SLUICE_DATA_DIR", OPT_DATA, "data directory (./data)"},
    {"fsync", "SLUICE_FSYNC", OPT_FSYNC, "always | interval:<ms> | never (always)"},
    {"segment-bytes", "SLUICE_SEGMENT_BYTES", OPT_SEG_BYTES, "default segment size of new topics (134217728)"},
    {"segment-ms", "SLUICE_SEGMENT_MS", OPT_SEG_MS, "default segment age of new topics (604800000)"},
    {"max-request-bytes", "SLUICE_MAX_REQUEST_BYTES", OPT_MAX_REQ, "largest request body (67108864)"},
    {"max-event-bytes", "SLUICE_MAX_EVENT_BYTES", OPT_MAX_EVENT, "largest event (1048576)"},
    {"max-events", "SLUICE_MAX_EVENTS", OPT_MAX_EVENTS, "most events in one request (1000000)"},
    {"max-connections", "SLUICE_MAX_CONNECTIONS", OPT_MAX_CONN, "open connections (1024)"},
    {"max-header-bytes", "SLUICE_MAX_HEADER_BYTES", OPT_MAX_HDR, "request line and headers (16384)"},
    {"idle-timeout-ms", "SLUICE_IDLE_TIMEOUT_MS", OPT_IDLE, "close idle keep-alive connections after (60000)"},
    {"request-timeout-ms", "SLUICE_REQUEST_TIMEOUT_MS", OPT_REQ_TIMEOUT, "a request must arrive whole within (30000)"},
    {"retention-check-ms", "SLUICE_RETENTION_CHECK_MS", OPT_RET_CHECK, "how often retention runs (1000)"},
    {"session-check-ms", "SLUICE_SESSION_CHECK_MS", OPT_SESS_CHECK, "how often group sessions are checked (200)"},
    {"sql-checkpoint-ms", "SLUICE_SQL_CHECKPOINT_MS", OPT_SQL_CKPT, "how often each continuous query checkpoints (1000)"},
    {"sql-memory-limit", "SLUICE_SQL_MEMORY_LIMIT", OPT_SQL_MEM, "default state limit of a query, bytes (536870912)"},
    {"sql-scan-threads", "SLUICE_SQL_SCAN_THREADS", OPT_SQL_THREADS, "threads scanning one query's batch (CPUs)"},
    {"log-level", "SLUICE_LOG_LEVEL", OPT_LOG, "debug | info | warn | error (info)"},
    {"node-id", "SLUICE_NODE_ID", OPT_NODE_ID, "this node's id in --cluster (docs/CLUSTER.md)"},
    {"cluster", "SLUICE_CLUSTER", OPT_CLUSTER, "id@host:port,... of the cluster's nodes (none: one node)"},
    {"election-timeout-ms", "SLUICE_ELECTION_TIMEOUT_MS", OPT_ELECTION, "Raft election timeout (1000)"},
    {"heartbeat-timeout-ms", "SLUICE_HEARTBEAT_TIMEOUT_MS", OPT_HEARTBEAT, "Raft heartbeat interval (100)"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: sluice serve [options]\n\nStarts the sluice server. Every option can also be "
               "set by its environment variable; a flag wins.\n\n");
    for (size_t i = 0; i < NSETTINGS; i++)
        fprintf(f, "  --%-20s %-26s %s\n", settings[i].flag, settings[i].env, settings[i].help);
    fprintf(f, "  --%-20s %-26s %s\n", "join", "SLUICE_JOIN=1",
            "join a running cluster (then `sluice cluster add ID@HOST:PORT`) instead of bootstrapping one");
    fprintf(f, "  --help\n");
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static char listen_host[256];

static int apply(sl_server_config_t *c, int id, const char *v) {
    uint64_t n = 0;
    switch (id) {
    case OPT_LISTEN: {
        const char *colon = strrchr(v, ':');
        if (!colon || colon == v || (size_t)(colon - v) >= sizeof(listen_host) ||
            parse_u64(colon + 1, &n) || n > 65535)
            return -1;
        memcpy(listen_host, v, (size_t)(colon - v));
        listen_host[colon - v] = 0;
        c->http.host = listen_host;
        c->http.port = (int)n;
        return 0;
    }
    case OPT_DATA:
        if (!*v) return -1;
        c->engine.data_dir = v;
        return 0;
    case OPT_FSYNC:
        if (!strcmp(v, "always")) c->engine.fsync = SL_FSYNC_ALWAYS;
        else if (!strcmp(v, "never")) c->engine.fsync = SL_FSYNC_NEVER;
        else if (!strncmp(v, "interval:", 9) && !parse_u64(v + 9, &n) && n > 0) {
            c->engine.fsync = SL_FSYNC_INTERVAL;
            c->engine.fsync_interval_ms = n;
        } else return -1;
        return 0;
    case OPT_CLUSTER:
        if (!*v) return -1;
        c->cluster.members = v;
        return 0;
    case OPT_LOG: {
        int l = sl_log_parse_level(v);
        if (l < 0) return -1;
        sl_log_set_level(l);
        return 0;
    }
    }
    if (parse_u64(v, &n)) return -1;
    switch (id) {
    case OPT_SEG_BYTES:
        if (n < 1024 || n > 4294967295ull) return -1;
        c->engine.segment_bytes = n;
        break;
    case OPT_SEG_MS: if (!n) return -1; c->engine.segment_ms = n; break;
    case OPT_MAX_REQ:
        if (n < 1024) return -1;
        c->http.max_request_bytes = c->limits.max_request_bytes = n;
        break;
    case OPT_MAX_EVENT: if (!n) return -1; c->limits.max_event_bytes = n; break;
    case OPT_MAX_EVENTS: if (!n) return -1; c->limits.max_events = n; break;
    case OPT_MAX_CONN: if (!n || n > 1000000) return -1; c->http.max_connections = (int)n; break;
    case OPT_MAX_HDR: if (n < 1024) return -1; c->http.max_header_bytes = n; break;
    case OPT_IDLE: if (!n) return -1; c->http.idle_timeout_ms = n; break;
    case OPT_REQ_TIMEOUT: if (!n) return -1; c->http.request_timeout_ms = n; break;
    case OPT_RET_CHECK: if (!n) return -1; c->engine.retention_check_ms = n; break;
    case OPT_SESS_CHECK: if (!n) return -1; c->engine.session_check_ms = n; break;
    case OPT_SQL_CKPT: if (!n) return -1; c->sql.checkpoint_interval_ms = n; break;
    case OPT_SQL_MEM: if (n < 4096) return -1; c->sql.memory_limit = n; break;
    case OPT_SQL_THREADS: if (!n || n > 16) return -1; c->sql.scan_threads = n; break;
    case OPT_NODE_ID: if (!n || n > 2147483647) return -1; c->cluster.node_id = n; break;
    case OPT_ELECTION: if (n < 50 || n > 60000) return -1; c->cluster.election_timeout_ms = (unsigned)n; break;
    case OPT_HEARTBEAT: if (n < 10 || n > 10000) return -1; c->cluster.heartbeat_timeout_ms = (unsigned)n; break;
    default: return -1;
    }
    return 0;
}

int sl_cli_serve(int argc, char **argv) {
    sl_server_config_t cfg;
    sl_server_config_defaults(&cfg);
    const char *lv = getenv("SLUICE_LOG_LEVEL");
    if (lv && sl_log_parse_level(lv) >= 0) sl_log_set_level(sl_log_parse_level(lv));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (v && apply(&cfg, settings[i].id, v)) {
            fprintf(stderr, "sluice serve: bad value for %s: \"%s\" (%s)\n", settings[i].env, v,
                    settings[i].help);
            return 2;
        }
    }
    const char *jv = getenv("SLUICE_JOIN");
    if (jv && *jv && strcmp(jv, "0")) cfg.cluster.join = 1;
    struct option opts[NSETTINGS + 3];
    for (size_t i = 0; i < NSETTINGS; i++)
        opts[i] = (struct option){settings[i].flag, required_argument, NULL, settings[i].id};
    opts[NSETTINGS] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[NSETTINGS + 1] = (struct option){"join", no_argument, NULL, OPT_JOIN};
    opts[NSETTINGS + 2] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_HELP || c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == '?') {
            usage(stderr);
            return 2;
        }
        if (c == OPT_JOIN) {
            cfg.cluster.join = 1;
            continue;
        }
        if (apply(&cfg, c, optarg)) {
            for (size_t i = 0; i < NSETTINGS; i++)
                if (settings[i].id == c)
                    fprintf(stderr, "sluice serve: bad value for --%s: \"%s\" (%s)\n", settings[i].flag,
                            optarg, settings[i].help);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sluice serve: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (cfg.cluster.join && !cfg.cluster.members) {
        fprintf(stderr, "sluice serve: --join needs --node-id and --cluster (with this node's id@host:port)\n");
        return 2;
    }
    if (cfg.cluster.members || cfg.cluster.node_id) {
        const char *why = "--cluster and --node-id go together";
        if (!cfg.cluster.members || !cfg.cluster.node_id || sl_cluster_config_check(&cfg.cluster, &why)) {
            fprintf(stderr, "sluice serve: %s\n", why);
            return 2;
        }
    }
    return sl_server_run(&cfg);
}
