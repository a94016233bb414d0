/* HTTP API v1: routes, request parsing, responses (docs/API.md). Translation only: bodies are
 * validated with json/, work is done by the engine (sluice.h), and answers are built here.
 * Long polls and SSE streams hold their request until data arrives, a timer fires or the
 * client goes away (on_abort). */
#include "net/api.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "json/doc.h"
#include "json/event.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_BATCH 1000
#define SSE_HIGH_WATER (1u << 20)
#define FETCH_DEFAULT_LIMIT 1000
#define FETCH_MAX_LIMIT 100000
#define FETCH_DEFAULT_BYTES (1u << 20)
#define FETCH_MAX_BYTES (64u << 20)   /* accepted in max_bytes ... */
#define FETCH_RESPONSE_BYTES (16u << 20) /* ... but one response holds at most this: building it
                                           * blocks the loop, so bigger asks are served in parts */

/* Latency histogram buckets (seconds) for /metrics. */
static const double lat_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof(lat_buckets) / sizeof(lat_buckets[0]))

enum { R_PRODUCE, R_FETCH, R_OTHER, R_COUNT };
static const char *route_names[R_COUNT] = {"produce", "fetch", "other"};

typedef struct pending pending_t;
typedef struct sse_slot {
    pending_t *p;
    uint32_t i;
} sse_slot_t;

struct sl_api {
    uv_loop_t *loop;
    sl_engine_t *e;
    sl_http_server_t *http;
    sl_api_limits_t lim;
    uint64_t lat_count[R_COUNT][NBUCKETS + 1];
    double lat_sum[R_COUNT];
    uint64_t status_count[6];  /* by first digit */
    sl_sql_t *sql;             /* the continuous-SQL service (NULL: /v1/sql answers 503) */
    sl_cluster_t *cluster;     /* NULL: a single node */
    pending_t *pending;        /* long polls and streams in flight */
    int parsing;               /* produce bodies being parsed on the thread pool */
    int stopping;
};

/* A request the API holds past its handler: produce/commit waiting for fsync, long polls,
 * SSE streams. */
struct pending {
    sl_api_t *api;
    sl_http_req_t *req;        /* NULL once the client went away */
    int route;
    uint64_t t0;
    pending_t *prev, *next;
    uv_timer_t timer;          /* long-poll deadline / SSE keep-alive */
    int timer_on;
    sl_watch_t *watch;
    sl_watch_t **watches;      /* SSE: one per partition */
    /* what to do */
    int kind;                  /* P_FETCH, P_GROUP, P_SSE, P_WRITE */
    char topic[SL_TOPIC_NAME_MAX + 1];
    uint32_t partition;
    int64_t offset;
    size_t limit, max_bytes;
    char group[256], member[64];
    /* SSE */
    struct sse_slot *slots;
    int64_t *pos;
    uint32_t nparts;
    uint64_t last_write;
    int closing;
    sl_cluster_call_t *call;   /* a read forwarded to another node */
};
enum { P_FETCH = 1, P_GROUP, P_SSE, P_WRITE, P_VIEW_SSE };

/* ---- responses -------------------------------------------------------------------------------- */

static void observe(sl_api_t *api, int route, uint64_t t0, int status) {
    double s = (double)(sl_mono_ns() - t0) / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && s > lat_buckets[b]) b++;
    api->lat_count[route][b]++;
    api->lat_sum[route] += s;
    if (status >= 100 && status < 600) api->status_count[status / 100]++;
}

static void respond_buf(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, int status,
                        const char *ctype, const char *extra, sl_buf_t *b) {
    observe(api, route, t0, status);
    size_t len;
    char *body = sl_buf_steal(b, &len);
    if (!body) {
        sl_http_respond(req, status, ctype, extra, "", 0);
        return;
    }
    sl_http_respond_owned(req, status, ctype, extra, body, len);
}

static int error_status(int code) {
    switch (-code) {
    case SL_ENOTFOUND: return 404;
    case SL_EEXIST: return 409;
    case SL_ESTALE: return 409;
    case SL_ENOTASSIGNED: return 409;
    case SL_ENOSPC: return 507;
    case SL_EINVAL: return 400;
    case SL_ERANGE: return 416;
    case SL_ECLOSED: return 503;
    case SL_ETOOBIG: return 413;
    case SL_ENOLEADER: return 503;
    case SL_EUNAVAIL: return 503;
    case SL_ETIMEDOUT: return 504;
    case SL_ESEQUENCE: return 409;
    case SL_ECONFLICT: return 409;
    case SL_EREMOVED: return 503;
    default: return 500;
    }
}

/* Writes {"error":{"code":..,"message":..[,extra]}} with extra being ready JSON members. */
static void send_error(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, int status,
                       const char *code, const char *extra_members, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static const char *error_headers; /* extra headers for the next send_error (Retry-After) */

static void send_error(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, int status,
                       const char *code, const char *extra_members, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *hdrs = error_headers;
    error_headers = NULL;
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"error\":{\"code\":\"");
    sl_buf_append(&b, code, strlen(code));
    sl_buf_lit(&b, "\",\"message\":\"");
    sl_buf_json_escape(&b, msg, strlen(msg));
    sl_buf_putc(&b, '"');
    if (extra_members && *extra_members) {
        sl_buf_putc(&b, ',');
        sl_buf_append(&b, extra_members, strlen(extra_members));
    }
    sl_buf_lit(&b, "}}\n");
    respond_buf(api, req, route, t0, status, "application/json", hdrs, &b);
}

static const char *engine_code(int rc) {
    switch (-rc) {
    case SL_ENOSPC: return "disk_full";
    case SL_ECLOSED: return "shutting_down";
    case SL_ENOMEM: return "out_of_memory";
    case SL_ENOLEADER: return "no_leader";
    case SL_EUNAVAIL: return "unavailable";
    case SL_ETIMEDOUT: return "timeout";
    case SL_ESEQUENCE: return "sequence_out_of_order";
    case SL_ECONFLICT: return "conflict";
    case SL_EREMOVED: return "removed";
    case SL_ENOTFOUND: return "not_found";
    case SL_EEXIST: return "exists";
    default: return "internal";
    }
}

static void send_engine_error(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, int rc,
                              const char *what) {
    int st = error_status(rc);
    if (st == 500) sl_error("%s: %s", what, sl_strerror(rc));
    const char *code = engine_code(rc);
    if (-rc == SL_ENOLEADER || -rc == SL_EUNAVAIL || -rc == SL_ETIMEDOUT) error_headers = "Retry-After: 1\r\n";
    if (-rc == SL_ENOSPC)
        send_error(api, req, route, t0, 507, code, NULL,
                   "%s: the disk is full; nothing of this request was stored, retry later", what);
    else send_error(api, req, route, t0, st, code, NULL, "%s: %s", what, sl_strerror(rc));
}

static void send_json_error(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0,
                            const sl_json_error_t *je) {
    char extra[160] = "";
    size_t n = 0;
    if (je->index >= 0) n += (size_t)snprintf(extra + n, sizeof(extra) - n, "\"index\":%ld,", je->index);
    n += (size_t)snprintf(extra + n, sizeof(extra) - n, "\"offset\":%zu", je->offset);
    if (je->limit) snprintf(extra + n, sizeof(extra) - n, ",\"limit\":%zu", je->limit);
    send_error(api, req, route, t0, je->status ? je->status : 400, je->code ? je->code : "invalid_json",
               extra, "%s", je->message);
}

/* ---- pending requests ------------------------------------------------------------------------- */

static void pending_timer_closed(uv_handle_t *h) {
    pending_t *p = h->data;
    free(p->pos);
    free(p->watches);
    free(p->slots);
    free(p);
}

static void pending_unwatch(pending_t *p) {
    if (p->call && p->api->cluster) sl_cluster_call_cancel(p->api->cluster, p->call);
    p->call = NULL;
    if (p->watch) sl_watch_cancel(p->watch);
    p->watch = NULL;
    if (p->watches) {
        for (uint32_t i = 0; i < p->nparts; i++) {
            if (p->watches[i]) sl_watch_cancel(p->watches[i]);
            p->watches[i] = NULL;
        }
    }
}

/* Ends a pending: no more callbacks; freed once its timer handle is closed. */
static void pending_free(pending_t *p) {
    if (p->closing) return;
    p->closing = 1;
    pending_unwatch(p);
    if (p->prev) p->prev->next = p->next;
    else if (p->api->pending == p) p->api->pending = p->next;
    if (p->next) p->next->prev = p->prev;
    uv_close((uv_handle_t *)&p->timer, pending_timer_closed);
}

static void pending_abort(sl_http_req_t *req) {
    pending_t *p = req->data;
    if (p->kind == P_GROUP) sl_group_poll_done(p->api->e, p->group, p->member);
    p->req = NULL;
    pending_free(p);
}

static pending_t *pending_new(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, int kind,
                              int abortable) {
    pending_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->api = api;
    p->req = req;
    p->route = route;
    p->t0 = t0;
    p->kind = kind;
    uv_timer_init(api->loop, &p->timer);
    p->timer.data = p;
    p->next = api->pending;
    if (api->pending) api->pending->prev = p;
    api->pending = p;
    req->data = p;
    if (abortable) req->on_abort = pending_abort;
    return p;
}

/* ---- query strings ---------------------------------------------------------------------------- */

/* Reads an unsigned integer parameter within [lo, hi]. 0 ok (default if absent), -1 bad. */
static int query_u64(const char *q, const char *name, uint64_t lo, uint64_t hi, uint64_t def,
                     uint64_t *out) {
    char v[32];
    int rc = sl_http_query_param(q, name, v, sizeof(v));
    if (rc < 0) return -1;
    if (rc == 0) {
        *out = def;
        return 0;
    }
    if (!v[0]) return -1;
    uint64_t x = 0;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9' || x > (UINT64_MAX - 9) / 10) return -1;
        x = x * 10 + (uint64_t)(*c - '0');
    }
    if (x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

/* ---- path routing ---------------------------------------------------------------------------- */

#define MAX_SEGS 8

/* Splits "/v1/topics/x/events" into segments (pointers into buf). Returns the count or -1. */
static int split_path(const char *path, char *buf, size_t buflen, char **segs) {
    size_t n = strlen(path);
    if (n + 1 > buflen) return -1;
    memcpy(buf, path, n + 1);
    int ns = 0;
    char *p = buf;
    while (*p == '/') p++;
    while (*p) {
        if (ns == MAX_SEGS) return -1;
        segs[ns++] = p;
        char *s = strchr(p, '/');
        if (!s) break;
        *s = 0;
        p = s + 1;
    }
    return ns;
}

static int parse_u32(const char *s, uint32_t *out) {
    if (!*s || strlen(s) > 10) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---- JSON building ---------------------------------------------------------------------------- */

static void json_str(sl_buf_t *b, const char *s) {
    sl_buf_putc(b, '"');
    sl_buf_json_escape(b, s, strlen(s));
    sl_buf_putc(b, '"');
}

static void json_topic(sl_buf_t *b, const sl_topic_config_t *c) {
    sl_buf_lit(b, "{\"name\":");
    json_str(b, c->name);
    sl_buf_printf(b, ",\"partitions\":%u,\"key\":", c->partitions);
    if (c->key[0]) json_str(b, c->key);
    else sl_buf_lit(b, "null");
    sl_buf_lit(b, ",\"timestamp\":");
    if (c->timestamp[0]) json_str(b, c->timestamp);
    else sl_buf_lit(b, "null");
    sl_buf_printf(b,
                  ",\"retention_ms\":%" PRId64 ",\"retention_bytes\":%" PRId64
                  ",\"segment_bytes\":%" PRIu64 ",\"segment_ms\":%" PRIu64 ",\"created_ms\":%" PRId64,
                  c->retention_ms, c->retention_bytes, c->segment_bytes, c->segment_ms, c->created_ms);
}

/* One fetched record as an NDJSON line. The fixed parts are written straight into reserved
 * room (this runs once per event served: the fetch profile put formatting near the top). */
static void json_record(sl_buf_t *b, const char *topic, uint32_t partition, const sl_fetched_t *r) {
    size_t tl = strlen(topic); /* topic names need no escaping */
    if (sl_buf_reserve(b, r->value_len + tl + 128)) return;
    char *w = b->data + b->len;
#define PUT(lit) (memcpy(w, lit, sizeof(lit) - 1), w += sizeof(lit) - 1)
    PUT("{\"topic\":\"");
    memcpy(w, topic, tl);
    w += tl;
    PUT("\",\"partition\":");
    w += sl_u64_to_dec(w, partition);
    PUT(",\"offset\":");
    w += sl_u64_to_dec(w, (uint64_t)r->offset);
    PUT(",\"timestamp\":");
    /* The records of a batch mostly share one timestamp: format it once. */
    static __thread int64_t last_ts = INT64_MIN;
    static __thread char ts_txt[24];
    static __thread size_t ts_len;
    if (r->timestamp != last_ts) {
        last_ts = r->timestamp;
        ts_len = 0;
        if (r->timestamp < 0) ts_txt[ts_len++] = '-';
        ts_len += sl_u64_to_dec(ts_txt + ts_len, r->timestamp < 0 ? (uint64_t)0 - (uint64_t)r->timestamp
                                                                  : (uint64_t)r->timestamp);
    }
    memcpy(w, ts_txt, ts_len);
    w += ts_len;
    PUT(",\"key\":");
    b->len = (size_t)(w - b->data);
    if (r->key) {
        sl_buf_putc(b, '"');
        sl_buf_json_escape(b, r->key, r->key_len);
        sl_buf_putc(b, '"');
    } else {
        sl_buf_lit(b, "null");
    }
    sl_buf_lit(b, ",\"value\":");
    if (r->value) sl_buf_append(b, r->value, r->value_len);
    else sl_buf_lit(b, "null");
    sl_buf_lit(b, "}\n");
#undef PUT
}

static void json_assignment(sl_buf_t *b, const sl_tp_t *tps, size_t n) {
    sl_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) sl_buf_putc(b, ',');
        sl_buf_lit(b, "{\"topic\":");
        json_str(b, tps[i].topic);
        sl_buf_printf(b, ",\"partition\":%u}", tps[i].partition);
    }
    sl_buf_putc(b, ']');
}

/* ---- topics ----------------------------------------------------------------------------------- */

#define ERR(status, code, ...) send_error(api, req, route, t0, status, code, NULL, __VA_ARGS__)

/* ---- topics in a cluster: agreed through the metadata group ------------------------------------- */

static void json_rf(sl_api_t *api, sl_buf_t *b, const char *topic) {
    uint32_t rf = 1;
    if (api->cluster) sl_cluster_topic_get(api->cluster, topic, NULL, &rf);
    sl_buf_printf(b, ",\"replication_factor\":%u", rf);
}

static void cluster_topic_created(void *ud, int status, const char *msg) {
    pending_t *p = ud;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    char name[SL_TOPIC_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s", p->topic);
    pending_free(p);
    if (status == -SL_EEXIST) return ERR(409, "topic_exists", "topic \"%s\" already exists", name);
    if (status) {
        if (msg) sl_warn("create topic %s: %s", name, msg);
        return send_engine_error(api, req, route, t0, status, "create topic");
    }
    sl_topic_config_t c;
    if (sl_topic_get(api->e, name, &c) && sl_cluster_topic_get(api->cluster, name, &c, NULL))
        return ERR(404, "topic_not_found", "topic \"%s\" was deleted meanwhile", name);
    sl_buf_t b = SL_BUF_INIT;
    json_topic(&b, &c);
    json_rf(api, &b, name);
    sl_buf_lit(&b, "}\n");
    respond_buf(api, req, route, t0, 201, "application/json", NULL, &b);
}

static void cluster_topic_create(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0,
                                 sl_topic_config_t *cfg, uint32_t rf) {
    pending_t *p = pending_new(api, req, route, t0, P_WRITE, 0);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    snprintf(p->topic, sizeof(p->topic), "%s", cfg->name);
    int rc = sl_cluster_topic_create(api->cluster, cfg, rf, cluster_topic_created, p);
    if (!rc) return;
    pending_free(p);
    req->data = NULL;
    if (rc == -SL_EEXIST) return ERR(409, "topic_exists", "topic \"%s\" already exists", cfg->name);
    if (rc == -SL_ERANGE)
        return ERR(400, "invalid_topic", "\"replication_factor\" %u is more than the cluster's nodes", rf);
    send_engine_error(api, req, route, t0, rc, "create topic");
}

static void cluster_topic_deleted(void *ud, int status, const char *msg) {
    pending_t *p = ud;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    char name[SL_TOPIC_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s", p->topic);
    pending_free(p);
    (void)msg;
    if (status == -SL_ENOTFOUND) return ERR(404, "topic_not_found", "no topic \"%s\"", name);
    if (status) return send_engine_error(api, req, route, t0, status, "delete topic");
    observe(api, route, t0, 204);
    sl_http_respond(req, 204, NULL, NULL, "", 0);
}

/* ---- cluster membership: POST /v1/cluster/nodes, DELETE /v1/cluster/nodes/{id} ----------------- */

static void node_changed(void *ud, int status, const char *msg) {
    pending_t *p = ud;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    uint64_t id = (uint64_t)p->offset;
    size_t moved = p->limit;
    int removing = p->partition;
    char addr[256];
    snprintf(addr, sizeof(addr), "%s", p->group);
    pending_free(p);
    if (status == -SL_ENOTFOUND) return ERR(404, "not_found", "%s", msg ? msg : "no such node");
    if (status == -SL_ECONFLICT) return ERR(409, "conflict", "%s", msg ? msg : "conflicts with the cluster's state");
    if (status) return send_engine_error(api, req, route, t0, status, removing ? "remove node" : "add node");
    sl_buf_t b = SL_BUF_INIT;
    if (removing) {
        sl_buf_printf(&b, "{\"id\":%" PRIu64 ",\"status\":\"removing\",\"moved\":%zu}\n", id, moved);
    } else {
        sl_buf_printf(&b, "{\"id\":%" PRIu64 ",\"address\":\"", id);
        sl_buf_json_escape(&b, addr, strlen(addr));
        sl_buf_lit(&b, "\",\"status\":\"added\"}\n");
    }
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

static void h_node_add(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    sl_json_error_t je;
    sl_jdoc_t *d = NULL;
    if (!req->body_len) return ERR(400, "invalid_node", "the body must be {\"id\":N,\"address\":\"host:port\"}");
    if (sl_jdoc_parse(req->body, req->body_len, &d, &je)) return send_json_error(api, req, route, t0, &je);
    const sl_jval_t *root = sl_jdoc_root(d);
    int64_t id = 0;
    char addr[256] = "";
    const char *why = NULL;
    if (sl_jval_type(root) != SL_J_OBJECT) {
        why = "the body must be a JSON object {\"id\":N,\"address\":\"host:port\"}";
        goto bad;
    }
    for (size_t i = 0; i < sl_jval_len(root); i++) {
        const char *k = sl_jval_key_at(root, i);
        const sl_jval_t *x = sl_jval_get(root, k);
        if (!strcmp(k, "id")) {
            if (sl_jval_int(x, &id) || id < 1 || id > 2147483647LL) {
                why = "\"id\" must be an integer from 1 to 2147483647";
                goto bad;
            }
        } else if (!strcmp(k, "address")) {
            const char *s = sl_jval_str(x);
            if (!s || !*s || strlen(s) >= sizeof(addr)) {
                why = "\"address\" must be the node's internal address, a numeric host:port such as \"10.0.0.4:7000\"";
                goto bad;
            }
            snprintf(addr, sizeof(addr), "%s", s);
        } else {
            ERR(400, "invalid_node", "unknown field \"%s\" (known: id, address)", k); /* k is in d */
            sl_jdoc_free(d);
            return;
        }
    }
    sl_jdoc_free(d);
    d = NULL;
    if (!id || !addr[0]) {
        why = "\"id\" and \"address\" are required";
        goto bad;
    }
    pending_t *p = pending_new(api, req, route, t0, P_WRITE, 0);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    p->offset = id;
    snprintf(p->group, sizeof(p->group), "%s", addr);
    int rc = sl_cluster_node_add(api->cluster, (uint64_t)id, addr, node_changed, p);
    if (!rc) return;
    pending_free(p);
    req->data = NULL;
    if (rc == -SL_ECONFLICT) return ERR(409, "conflict", "node %" PRId64 " is a member with another address", id);
    if (rc == -SL_EINVAL)
        return ERR(400, "invalid_node", "\"address\" must be the node's internal address, a numeric host:port "
                   "such as \"10.0.0.4:7000\"");
    return send_engine_error(api, req, route, t0, rc, "add node");
bad:
    sl_jdoc_free(d);
    send_error(api, req, route, t0, 400, "invalid_node", NULL, "%s", why);
}

static void h_node_remove(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *sid) {
    char *end;
    errno = 0;
    unsigned long long id = strtoull(sid, &end, 10);
    if (!*sid || *end || errno || id < 1 || id > 2147483647ULL || *sid == '-' || *sid == '+')
        return ERR(400, "invalid_node", "node id \"%s\" must be an integer from 1 to 2147483647", sid);
    pending_t *p = pending_new(api, req, route, t0, P_WRITE, 0);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    p->offset = (int64_t)id;
    p->partition = 1;
    size_t moved = 0;
    int rc = sl_cluster_node_remove(api->cluster, id, &moved, node_changed, p);
    p->limit = moved;
    if (!rc) return;
    pending_free(p);
    req->data = NULL;
    if (rc == -SL_ENOTFOUND) return ERR(404, "not_found", "no node %llu in the cluster", id);
    if (rc == -SL_ECONFLICT)
        return ERR(409, "conflict", "node %llu cannot be removed: it is the last node, or some topic's "
                   "replication_factor needs it (GET /v1/topics)", id);
    return send_engine_error(api, req, route, t0, rc, "remove node");
}

static void h_topic_create(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    sl_json_error_t je;
    sl_jdoc_t *d = NULL;
    if (!req->body_len) return ERR(400, "bad_request", "the body must be a JSON object with a \"name\"");
    if (sl_jdoc_parse(req->body, req->body_len, &d, &je)) return send_json_error(api, req, route, t0, &je);
    const sl_jval_t *root = sl_jdoc_root(d);
    sl_topic_config_t cfg;
    sl_topic_config_init(&cfg, NULL);
    const char *why = NULL;
    int64_t v, rf = 0;
    if (sl_jval_type(root) != SL_J_OBJECT) {
        why = "the body must be a JSON object";
        goto bad;
    }
    for (size_t i = 0; i < sl_jval_len(root); i++) {
        const char *k = sl_jval_key_at(root, i);
        const sl_jval_t *x = sl_jval_get(root, k);
        int t = sl_jval_type(x);
        if (!strcmp(k, "name")) {
            const char *s = sl_jval_str(x);
            if (!s || strlen(s) > SL_TOPIC_NAME_MAX || !*s) {
                why = "\"name\" must be a string of 1 to 249 characters";
                goto bad;
            }
            snprintf(cfg.name, sizeof(cfg.name), "%s", s);
        } else if (!strcmp(k, "partitions")) {
            if (sl_jval_int(x, &v) || v < 1 || v > SL_PARTITIONS_MAX) {
                why = "\"partitions\" must be an integer from 1 to 4096";
                goto bad;
            }
            cfg.partitions = (uint32_t)v;
        } else if (!strcmp(k, "key") || !strcmp(k, "timestamp")) {
            char *dst = !strcmp(k, "key") ? cfg.key : cfg.timestamp;
            if (t == SL_J_NULL) continue;
            const char *s = sl_jval_str(x);
            if (!s || (*s && (!sl_json_pointer_valid(s) || strlen(s) > SL_POINTER_MAX))) {
                why = !strcmp(k, "key") ? "\"key\" must be a JSON Pointer such as \"/user_id\""
                                        : "\"timestamp\" must be a JSON Pointer such as \"/ts\"";
                goto bad;
            }
            snprintf(dst, SL_POINTER_MAX + 1, "%s", s);
        } else if (!strcmp(k, "retention_ms") || !strcmp(k, "retention_bytes")) {
            if (sl_jval_int(x, &v) || v < -1) {
                why = "retention_ms and retention_bytes must be integers, -1 (keep everything) or more";
                goto bad;
            }
            if (!strcmp(k, "retention_ms")) cfg.retention_ms = v;
            else cfg.retention_bytes = v;
        } else if (!strcmp(k, "segment_bytes")) {
            if (sl_jval_int(x, &v) || v < 1024 || v > 4294967295LL) {
                why = "\"segment_bytes\" must be an integer from 1024 to 4294967295";
                goto bad;
            }
            cfg.segment_bytes = (uint64_t)v;
        } else if (!strcmp(k, "segment_ms")) {
            if (sl_jval_int(x, &v) || v < 1) {
                why = "\"segment_ms\" must be a positive integer";
                goto bad;
            }
            cfg.segment_ms = (uint64_t)v;
        } else if (!strcmp(k, "replication_factor")) {
            if (sl_jval_int(x, &rf) || rf < 1 || rf > 5) {
                why = "\"replication_factor\" must be an integer from 1 to 5";
                goto bad;
            }
            if (!api->cluster && rf != 1) {
                why = "\"replication_factor\" must be 1 on a single node (start a cluster for more)";
                goto bad;
            }
        } else {
            send_error(api, req, route, t0, 400, "invalid_topic", NULL,
                       "unknown field \"%s\" (known: name, partitions, key, timestamp, "
                       "retention_ms, retention_bytes, segment_bytes, segment_ms, replication_factor)", k);
            sl_jdoc_free(d); /* after: k is in d */
            return;
        }
    }
    sl_jdoc_free(d);
    d = NULL;
    if (!cfg.name[0]) {
        why = "\"name\" is required";
        goto bad;
    }
    if (sl_topic_config_check(&cfg, &why)) goto bad;
    if (api->cluster) return cluster_topic_create(api, req, route, t0, &cfg, (uint32_t)rf);
    int rc = sl_topic_create(api->e, &cfg);
    if (rc == -SL_EEXIST) return ERR(409, "topic_exists", "topic \"%s\" already exists", cfg.name);
    if (rc) return send_engine_error(api, req, route, t0, rc, "create topic");
    sl_buf_t b = SL_BUF_INIT;
    json_topic(&b, &cfg);
    json_rf(api, &b, cfg.name);
    sl_buf_lit(&b, "}\n");
    return respond_buf(api, req, route, t0, 201, "application/json", NULL, &b);
bad:
    sl_jdoc_free(d);
    send_error(api, req, route, t0, 400, "invalid_topic", NULL, "%s", why);
}

static void h_topic_list(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    char **names;
    size_t n;
    int rc = sl_topic_list(api->e, &names, &n);
    if (rc) return send_engine_error(api, req, route, t0, rc, "list topics");
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"topics\":[");
    for (size_t i = 0; i < n; i++) {
        sl_topic_config_t c;
        if (sl_topic_get(api->e, names[i], &c)) continue;
        if (i) sl_buf_putc(&b, ',');
        json_topic(&b, &c);
        json_rf(api, &b, names[i]);
        sl_buf_putc(&b, '}');
    }
    sl_buf_lit(&b, "]}\n");
    sl_names_free(names, n);
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

static void h_topic_describe(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *t) {
    sl_topic_config_t c;
    if (sl_topic_get(api->e, t, &c)) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
    sl_buf_t b = SL_BUF_INIT;
    json_topic(&b, &c);
    json_rf(api, &b, t);
    sl_buf_lit(&b, ",\"partition_stats\":[");
    for (uint32_t i = 0; i < c.partitions; i++) {
        sl_partition_stats_t st;
        if (sl_partition_stats(api->e, t, i, &st)) continue;
        if (i) sl_buf_putc(&b, ',');
        sl_buf_printf(&b,
                      "{\"partition\":%u,\"earliest_offset\":%" PRId64 ",\"latest_offset\":%" PRId64
                      ",\"bytes\":%" PRIu64 ",\"segments\":%u}",
                      i, st.earliest_offset, st.latest_offset, st.bytes, st.segments);
    }
    sl_buf_lit(&b, "]}\n");
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

static void h_topic_delete(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *t) {
    if (api->cluster) {
        pending_t *p = pending_new(api, req, route, t0, P_WRITE, 0);
        if (!p) return ERR(500, "out_of_memory", "out of memory");
        snprintf(p->topic, sizeof(p->topic), "%s", t);
        int rc = sl_cluster_topic_delete(api->cluster, t, cluster_topic_deleted, p);
        if (!rc) return;
        pending_free(p);
        req->data = NULL;
        if (rc == -SL_ENOTFOUND) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
        return send_engine_error(api, req, route, t0, rc, "delete topic");
    }
    int rc = sl_topic_delete(api->e, t);
    if (rc == -SL_ENOTFOUND) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
    if (rc) return send_engine_error(api, req, route, t0, rc, "delete topic");
    observe(api, route, t0, 204);
    sl_http_respond(req, 204, NULL, NULL, "", 0);
}

/* ---- produce ---------------------------------------------------------------------------------- */

static void produce_done(void *ud, int status, const sl_offset_t *offsets, size_t n) {
    pending_t *p = ud;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    pending_free(p);
    if (status) return send_engine_error(api, req, route, t0, status, "produce");
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_reserve(&b, 16 + n * 36);
    sl_buf_lit(&b, "{\"offsets\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) sl_buf_putc(&b, ',');
        sl_buf_lit(&b, "{\"partition\":");
        sl_buf_append_u64(&b, offsets[i].partition);
        sl_buf_lit(&b, ",\"offset\":");
        sl_buf_append_i64(&b, offsets[i].offset);
        sl_buf_putc(&b, '}');
    }
    sl_buf_lit(&b, "]}\n");
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

/* Bodies at least this large are validated on libuv's thread pool, so several requests are
 * parsed on several cores while the loop keeps serving; smaller ones are cheaper inline. */
#define PARSE_OFFLOAD_BYTES (64u << 10)

typedef struct produce_job {
    uv_work_t work;
    sl_api_t *api;
    sl_http_req_t *req;
    int route;
    uint64_t t0;
    sl_topic_config_t c;
    sl_body_kind_t kind;
    sl_json_opts_t o;
    sl_json_events_t evs;
    sl_json_error_t je;
    int rc;
} produce_job_t;

/* Second half of a produce, on the loop: records from the parsed events, into the engine. */
static void produce_parsed(produce_job_t *j) {
    sl_api_t *api = j->api;
    sl_http_req_t *req = j->req;
    int route = j->route;
    uint64_t t0 = j->t0;
    const char *t = j->c.name;
    sl_json_events_t *evs = &j->evs;
    if (j->rc) {
        send_json_error(api, req, route, t0, &j->je);
        return;
    }
    sl_record_t *recs = malloc(evs->n * sizeof(*recs));
    if (!recs) return ERR(500, "out_of_memory", "out of memory");
    for (size_t i = 0; i < evs->n; i++) {
        const sl_json_event_t *ev = &evs->ev[i];
        if (ev->partition >= 0 && (uint32_t)ev->partition >= j->c.partitions) {
            char extra[64];
            snprintf(extra, sizeof(extra), "\"index\":%zu,\"offset\":%zu", i, ev->start);
            free(recs);
            return send_error(api, req, route, t0, 404, "partition_not_found", extra,
                              "event %zu names partition %d; topic \"%s\" has %u partitions", i,
                              ev->partition, t, j->c.partitions);
        }
        recs[i] = (sl_record_t){
            .key = ev->has_key ? evs->keys.data + ev->key_off : NULL,
            .key_len = ev->key_len,
            .value = req->body + ev->start,
            .value_len = ev->len,
            .timestamp = ev->timestamp,
            .partition = ev->partition,
        };
        if (ev->has_key && !recs[i].key) recs[i].key = ""; /* empty key: arena never grew */
    }
    uint64_t pid = 0;
    int64_t seq = 0;
    if (api->cluster) {
        const char *hp = sl_http_header(req, "Sluice-Producer-Id"), *hs = sl_http_header(req, "Sluice-Sequence");
        char *end;
        if (hp) {
            errno = 0;
            unsigned long long v = strtoull(hp, &end, 10);
            if (errno || *end || !*hp || v == 0 || v > INT64_MAX || *hp == '-') {
                free(recs);
                return ERR(400, "bad_request", "Sluice-Producer-Id must be an integer from 1 to 9223372036854775807");
            }
            pid = v;
            if (!hs) {
                free(recs);
                return ERR(400, "bad_request", "Sluice-Producer-Id needs Sluice-Sequence");
            }
            errno = 0;
            v = strtoull(hs, &end, 10);
            if (errno || *end || !*hs || v > INT64_MAX || *hs == '-') {
                free(recs);
                return ERR(400, "bad_request", "Sluice-Sequence must be an integer from 0 to 9223372036854775807");
            }
            seq = (int64_t)v;
        }
    }
    pending_t *p = pending_new(api, req, route, t0, P_WRITE, 0);
    if (!p) {
        free(recs);
        return ERR(500, "out_of_memory", "out of memory");
    }
    int rc = api->cluster ? sl_cluster_produce(api->cluster, t, recs, evs->n, pid, seq, produce_done, p)
                          : sl_produce(api->e, t, recs, evs->n, produce_done, p);
    free(recs);
    if (rc) {
        pending_free(p);
        req->data = NULL;
        if (rc == -SL_ENOTFOUND) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
        return send_engine_error(api, req, route, t0, rc, "produce");
    }
}

static void produce_job_free(produce_job_t *j) {
    sl_json_events_free(&j->evs);
    free(j);
}

static void parse_work(uv_work_t *w) {
    produce_job_t *j = w->data;
    j->rc = sl_json_parse_body(j->req->body, j->req->body_len, j->kind, &j->o, &j->evs, &j->je);
}

static void parse_after(uv_work_t *w, int status) {
    produce_job_t *j = w->data;
    sl_api_t *api = j->api;
    api->parsing--;
    if (api->stopping || status) {
        /* The engine may be gone: answer without touching it. */
        send_error(api, j->req, j->route, j->t0, 503, "shutting_down", NULL,
                   "the server is shutting down; nothing of this request was stored");
    } else {
        produce_parsed(j);
    }
    produce_job_free(j);
}

static void h_produce(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *t) {
    produce_job_t *j = calloc(1, sizeof(*j));
    if (!j) return ERR(500, "out_of_memory", "out of memory");
    if (sl_topic_get(api->e, t, &j->c)) {
        free(j);
        return ERR(404, "topic_not_found", "no topic \"%s\"", t);
    }
    const char *ct = req->content_type;
    /* curl -d sends application/x-www-form-urlencoded: treat it (and text/plain) as JSON. */
    if (!*ct || !strcmp(ct, "application/json") || !strcmp(ct, "application/x-www-form-urlencoded") ||
        !strcmp(ct, "text/plain"))
        j->kind = SL_BODY_JSON;
    else if (!strcmp(ct, "application/x-ndjson") || !strcmp(ct, "application/jsonl") ||
             !strcmp(ct, "application/x-jsonlines"))
        j->kind = SL_BODY_NDJSON;
    else if (!strcmp(ct, "application/vnd.kafka.json.v2+json")) j->kind = SL_BODY_RECORDS;
    else {
        free(j);
        return ERR(415, "unsupported_media_type",
                   "Content-Type %s is not accepted: use application/json, application/x-ndjson "
                   "or application/vnd.kafka.json.v2+json", ct);
    }
    if (!req->body_len) {
        free(j);
        return ERR(400, "empty_request", "the request holds no event");
    }
    j->api = api;
    j->req = req;
    j->route = route;
    j->t0 = t0;
    j->o = (sl_json_opts_t){.key_ptr = j->c.key, .ts_ptr = j->c.timestamp,
                            .max_event_bytes = api->lim.max_event_bytes,
                            .max_events = api->lim.max_events, .max_depth = api->lim.max_depth};
    if (req->body_len >= PARSE_OFFLOAD_BYTES) {
        j->work.data = j;
        if (uv_queue_work(api->loop, &j->work, parse_work, parse_after) == 0) {
            api->parsing++;
            return;
        }
    }
    parse_work(&(uv_work_t){.data = j});
    produce_parsed(j);
    produce_job_free(j);
}

/* ---- fetch ------------------------------------------------------------------------------------ */

static void fetch_answer(pending_t *p, sl_http_req_t *req, int rc, sl_fetch_result_t *res_in) {
    sl_api_t *api = p->api;
    sl_fetch_result_t res;
    if (res_in) res = *res_in;
    else memset(&res, 0, sizeof(res));
    if (rc == -SL_ERANGE) {
        char extra[96];
        snprintf(extra, sizeof(extra), "\"earliest\":%" PRId64 ",\"latest\":%" PRId64,
                 res.earliest_offset, res.latest_offset);
        return send_error(api, req, p->route, p->t0, 416, "offset_out_of_range", extra,
                          "offset %" PRId64 " is outside the log of %s/%u: valid offsets are %" PRId64
                          " to %" PRId64, p->offset, p->topic, p->partition, res.earliest_offset,
                          res.latest_offset);
    }
    if (rc == -SL_ENOTFOUND)
        return send_error(api, req, p->route, p->t0, 404, "topic_not_found", NULL, "no topic \"%s\"",
                          p->topic);
    if (rc == -SL_ECORRUPT && api->cluster) { /* repair this replica from its peers; retry */
        sl_cluster_replica_damaged(api->cluster, p->topic, p->partition, p->offset < 0 ? 0 : p->offset);
        rc = -SL_EUNAVAIL;
    }
    if (rc) return send_engine_error(api, req, p->route, p->t0, rc, "fetch");
    sl_buf_t b = SL_BUF_INIT;
    size_t want = 0;
    if (p->offset < 0) p->offset = res.next_offset; /* earliest/latest resolved remotely */
    for (size_t i = 0; i < res.count; i++)
        want += res.recs[i].value_len + res.recs[i].key_len * 2 + strlen(p->topic) + 100;
    sl_buf_reserve(&b, want);
    for (size_t i = 0; i < res.count; i++) json_record(&b, p->topic, p->partition, &res.recs[i]);
    char extra[64];
    snprintf(extra, sizeof(extra), "Sluice-Next-Offset: %" PRId64 "\r\n", res.next_offset);
    sl_fetch_result_free(&res);
    respond_buf(api, req, p->route, p->t0, 200, "application/x-ndjson", extra, &b);
}

static void fetch_send(pending_t *p, sl_http_req_t *req) {
    sl_fetch_result_t res;
    int rc = sl_fetch(p->api->e, p->topic, p->partition, p->offset, p->limit, p->max_bytes, &res);
    fetch_answer(p, req, rc, &res);
}

/* A read served by another node (the partition's leader) came back. */
static void remote_fetched(void *ud, int status, sl_fetch_result_t *res) {
    pending_t *p = ud;
    sl_http_req_t *req = p->req;
    p->call = NULL;
    if (req) {
        req->on_abort = NULL;
        fetch_answer(p, req, status, res);
    } else if (res) {
        sl_fetch_result_free(res);
    }
    pending_free(p);
}

static int group_answer(pending_t *p, sl_http_req_t *req, int wait);

static void poll_finish(pending_t *p) {
    sl_http_req_t *req = p->req;
    pending_unwatch(p);
    uv_timer_stop(&p->timer);
    req->on_abort = NULL;
    if (p->kind == P_FETCH) fetch_send(p, req);
    else group_answer(p, req, 0);
    pending_free(p);
}

static void poll_timeout(uv_timer_t *t) { poll_finish(t->data); }

static void poll_wake(void *ud, int status) {
    pending_t *p = ud;
    (void)status;
    p->watch = NULL; /* fired watches free themselves */
    poll_finish(p);
}

/* The limit, max_bytes and timeout_ms parameters of the fetch and poll routes. -1 when one is
 * malformed (the 400 is sent). max_bytes comes back capped at FETCH_RESPONSE_BYTES. */
static int poll_params(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, uint64_t *limit,
                       uint64_t *max_bytes, uint64_t *timeout) {
    if (query_u64(req->query, "limit", 1, FETCH_MAX_LIMIT, FETCH_DEFAULT_LIMIT, limit)) {
        ERR(400, "bad_request", "limit must be an integer from 1 to %u", FETCH_MAX_LIMIT);
        return -1;
    }
    if (query_u64(req->query, "max_bytes", 1, FETCH_MAX_BYTES, FETCH_DEFAULT_BYTES, max_bytes)) {
        ERR(400, "bad_request", "max_bytes must be an integer from 1 to %u", FETCH_MAX_BYTES);
        return -1;
    }
    if (query_u64(req->query, "timeout_ms", 0, api->lim.max_timeout_ms, 0, timeout)) {
        ERR(400, "bad_request", "timeout_ms must be an integer from 0 to %" PRIu64,
            api->lim.max_timeout_ms);
        return -1;
    }
    if (*max_bytes > FETCH_RESPONSE_BYTES) *max_bytes = FETCH_RESPONSE_BYTES;
    return 0;
}

static void h_fetch(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *t,
                    const char *pstr) {
    uint32_t part;
    sl_topic_config_t c;
    if (sl_topic_get(api->e, t, &c)) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
    if (parse_u32(pstr, &part) || part >= c.partitions)
        return ERR(404, "partition_not_found", "topic \"%s\" has no partition \"%s\" (it has %u)", t,
                   pstr, c.partitions);
    char ov[32];
    int64_t offset = SL_OFFSET_EARLIEST;
    int q = sl_http_query_param(req->query, "offset", ov, sizeof(ov));
    if (q < 0) return ERR(400, "bad_request", "malformed offset parameter");
    if (q > 0) {
        if (!strcmp(ov, "earliest")) offset = SL_OFFSET_EARLIEST;
        else if (!strcmp(ov, "latest")) offset = SL_OFFSET_LATEST;
        else {
            uint64_t x = 0;
            int ok = ov[0] != 0;
            for (const char *s = ov; *s && ok; s++) {
                ok = *s >= '0' && *s <= '9' && x <= (UINT64_MAX / 10 - 1) / 2;
                x = x * 10 + (uint64_t)(*s - '0');
            }
            if (!ok || x > INT64_MAX)
                return ERR(400, "bad_request", "offset must be a number, \"earliest\" or \"latest\"");
            offset = (int64_t)x;
        }
    }
    uint64_t limit, max_bytes, timeout;
    if (poll_params(api, req, route, t0, &limit, &max_bytes, &timeout)) return;
    int64_t node = 0;
    if (api->cluster) {
        char rv[16];
        int any = sl_http_query_param(req->query, "replica", rv, sizeof(rv)) > 0 && !strcmp(rv, "any");
        node = sl_cluster_read_route(api->cluster, t, part, any);
        if (node < 0) return send_engine_error(api, req, route, t0, (int)node, "fetch");
    }
    pending_t *p = pending_new(api, req, route, t0, P_FETCH, 1);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    snprintf(p->topic, sizeof(p->topic), "%s", t);
    p->partition = part;
    p->limit = limit;
    p->max_bytes = max_bytes;
    if (node > 0) {
        p->offset = offset;
        int rc = sl_cluster_fetch_remote(api->cluster, (uint64_t)node, t, part, offset, limit, max_bytes,
                                         timeout, remote_fetched, p, &p->call);
        if (rc) {
            req->on_abort = NULL;
            pending_free(p);
            req->data = NULL;
            return send_engine_error(api, req, route, t0, rc, "fetch");
        }
        return;
    }
    /* Resolve "latest" now, so a long poll waits for the next event rather than re-reading
     * the end each time. */
    sl_partition_stats_t st;
    sl_partition_stats(api->e, t, part, &st);
    if (offset == SL_OFFSET_LATEST) offset = st.latest_offset;
    if (offset == SL_OFFSET_EARLIEST) offset = st.earliest_offset;
    p->offset = offset;
    if (timeout > 0 && offset == st.latest_offset &&
        sl_watch(api->e, t, part, offset, poll_wake, p, &p->watch) == 0) {
        uv_timer_start(&p->timer, poll_timeout, timeout, 0);
        return;
    }
    req->on_abort = NULL;
    fetch_send(p, req);
    pending_free(p);
}

/* ---- SSE stream --------------------------------------------------------------------------------- */

static void sse_pump(pending_t *p);

static void sse_wake(void *ud, int status) {
    sse_slot_t *slot = ud;
    pending_t *p = slot->p;
    (void)status;
    /* One partition fired (its watch freed itself); drop the others, pump again. */
    p->watches[slot->i] = NULL;
    for (uint32_t i = 0; i < p->nparts; i++) {
        if (!p->watches[i]) continue;
        sl_watch_cancel(p->watches[i]);
        p->watches[i] = NULL;
    }
    sse_pump(p);
}

static void sse_timer(uv_timer_t *t) { sse_pump(t->data); }

/* Sends what is available on every partition, then waits for more (or for the client to drain). */
static void sse_pump(pending_t *p) {
    sl_api_t *api = p->api;
    sl_buf_t b = SL_BUF_INIT;
    int64_t queued = 0;
    size_t sent = 0;
    for (uint32_t i = 0; i < p->nparts; i++) {
        sl_fetch_result_t res;
        int rc = sl_fetch(api->e, p->topic, i, p->pos[i], SSE_BATCH, FETCH_DEFAULT_BYTES, &res);
        if (rc == -SL_ERANGE) {
            p->pos[i] = p->pos[i] < res.earliest_offset ? res.earliest_offset : res.latest_offset;
            rc = sl_fetch(api->e, p->topic, i, p->pos[i], SSE_BATCH, FETCH_DEFAULT_BYTES, &res);
        }
        if (rc == -SL_ENOTFOUND) {
            sl_buf_free(&b);
            static const char end_event[] = "event: end\ndata: {\"reason\":\"topic deleted\"}\n\n";
            sl_http_stream_write(p->req, end_event, sizeof(end_event) - 1);
            sl_http_req_t *req = p->req;
            req->on_abort = NULL;
            sl_http_stream_end(req);
            pending_free(p);
            return;
        }
        if (rc) continue;
        for (size_t k = 0; k < res.count; k++) {
            sl_buf_printf(&b, "id: %u:%" PRId64 "\ndata: ", i, res.recs[k].offset);
            json_record(&b, p->topic, i, &res.recs[k]);
            sl_buf_putc(&b, '\n'); /* json_record ended the data line; a blank line ends the event */
        }
        sent += res.count;
        p->pos[i] = res.next_offset;
        sl_fetch_result_free(&res);
        if (b.len >= (256u << 10)) {
            queued = sl_http_stream_write(p->req, b.data, b.len);
            b.len = 0;
            if (queued < 0) break;
        }
    }
    if (b.len) queued = sl_http_stream_write(p->req, b.data, b.len);
    sl_buf_free(&b);
    if (sent) p->last_write = sl_mono_ms();
    if (queued < 0) return; /* the connection is gone: on_abort follows */
    uint64_t now = sl_mono_ms();
    if (now - p->last_write >= SSE_KEEPALIVE_MS) {
        sl_http_stream_write(p->req, ": keep-alive\n\n", 14);
        p->last_write = now;
    }
    if (queued > (int64_t)SSE_HIGH_WATER || sent >= SSE_BATCH) {
        /* More to send, or the client is slow: come back shortly. */
        uv_timer_start(&p->timer, sse_timer, queued > (int64_t)SSE_HIGH_WATER ? 20 : 0, 0);
        return;
    }
    for (uint32_t i = 0; i < p->nparts; i++)
        if (sl_watch(api->e, p->topic, i, p->pos[i], sse_wake, &p->slots[i], &p->watches[i]))
            p->watches[i] = NULL;
    uv_timer_start(&p->timer, sse_timer, SSE_KEEPALIVE_MS, 0);
}

static void h_stream(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *t) {
    sl_topic_config_t c;
    if (sl_topic_get(api->e, t, &c)) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
    char from[16] = "latest";
    if (sl_http_query_param(req->query, "from", from, sizeof(from)) < 0 ||
        (strcmp(from, "earliest") && strcmp(from, "latest")))
        return ERR(400, "bad_request", "from must be \"earliest\" or \"latest\"");
    pending_t *p = pending_new(api, req, route, t0, P_SSE, 1);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    snprintf(p->topic, sizeof(p->topic), "%s", t);
    p->nparts = c.partitions;
    p->pos = calloc(c.partitions, sizeof(*p->pos));
    p->watches = calloc(c.partitions, sizeof(*p->watches));
    p->slots = calloc(c.partitions, sizeof(*p->slots));
    if (!p->pos || !p->watches || !p->slots) {
        req->on_abort = NULL;
        pending_free(p);
        return ERR(500, "out_of_memory", "out of memory");
    }
    for (uint32_t i = 0; i < c.partitions; i++) {
        sl_partition_stats_t st;
        p->slots[i] = (sse_slot_t){p, i};
        sl_partition_stats(api->e, t, i, &st);
        p->pos[i] = !strcmp(from, "earliest") ? st.earliest_offset : st.latest_offset;
    }
    observe(api, route, t0, 200);
    sl_http_stream_start(req, 200, "text/event-stream", "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    sl_http_stream_write(req, ": connected\n\n", 13);
    p->last_write = sl_mono_ms();
    sse_pump(p);
}

/* ---- groups ------------------------------------------------------------------------------------- */

/* Answers a member's poll: 404 once it is gone, 409 with the new assignment after a rebalance,
 * else the records waiting on its partitions. With wait, and no record waiting, it registers a
 * watch instead and returns 1: the answer comes on wake-up or timeout (poll_finish). */
static int group_answer(pending_t *p, sl_http_req_t *req, int wait) {
    sl_api_t *api = p->api;
    sl_assignment_t a;
    sl_group_fetch_t *f = NULL;
    size_t nf = 0;
    int hb = sl_group_heartbeat(api->e, p->group, p->member, &a), rc = 0;
    if (hb == 0) {
        rc = sl_group_fetch(api->e, p->group, p->member, p->limit, p->max_bytes, &f, &nf);
        if (rc == 0 && nf == 0 && wait) {
            sl_group_fetch_free(f, nf);
            if (sl_group_watch(api->e, p->group, p->member, poll_wake, p, &p->watch) == 0) return 1;
            f = NULL;
        }
    }
    sl_group_poll_done(api->e, p->group, p->member);
    req->on_abort = NULL;
    if (hb == -SL_ENOTFOUND) {
        send_error(api, req, p->route, p->t0, 404, "member_not_found", NULL,
                   "no member \"%s\" in group \"%s\" (it left or timed out): join again",
                   p->member, p->group);
    } else if (hb < 0 || rc < 0) {
        send_engine_error(api, req, p->route, p->t0, hb < 0 ? hb : rc, "poll");
    } else if (hb == 1) {
        sl_buf_t x = SL_BUF_INIT;
        sl_buf_printf(&x, "\"generation\":%" PRId64 ",\"assignment\":", a.generation);
        json_assignment(&x, a.tps, a.count);
        sl_buf_putc(&x, 0);
        sl_assignment_free(&a);
        send_error(api, req, p->route, p->t0, 409, "rebalance", x.data,
                   "group \"%s\" rebalanced: this member's partitions changed; poll again to read "
                   "them from their committed offsets", p->group);
        sl_buf_free(&x);
    } else {
        sl_buf_t b = SL_BUF_INIT;
        for (size_t i = 0; i < nf; i++)
            for (size_t k = 0; k < f[i].res.count; k++)
                json_record(&b, f[i].tp.topic, f[i].tp.partition, &f[i].res.recs[k]);
        respond_buf(api, req, p->route, p->t0, 200, "application/x-ndjson", NULL, &b);
    }
    sl_group_fetch_free(f, nf);
    return 0;
}

static void h_group_poll(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *g,
                         const char *m) {
    uint64_t limit, timeout, max_bytes;
    if (poll_params(api, req, route, t0, &limit, &max_bytes, &timeout)) return;
    pending_t *p = pending_new(api, req, route, t0, P_GROUP, 1);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    snprintf(p->group, sizeof(p->group), "%s", g);
    snprintf(p->member, sizeof(p->member), "%s", m);
    p->limit = limit;
    p->max_bytes = max_bytes;
    if (group_answer(p, req, timeout > 0)) {
        uv_timer_start(&p->timer, poll_timeout, timeout, 0);
        return;
    }
    pending_free(p);
}

static void h_group_join(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *g) {
    sl_json_error_t je;
    sl_jdoc_t *d = NULL;
    if (!req->body_len) return ERR(400, "bad_request", "the body must be {\"topics\":[...]}");
    if (sl_jdoc_parse(req->body, req->body_len, &d, &je)) return send_json_error(api, req, route, t0, &je);
    const sl_jval_t *root = sl_jdoc_root(d), *topics = sl_jval_get(root, "topics");
    const sl_jval_t *sto = sl_jval_get(root, "session_timeout_ms"), *reset = sl_jval_get(root, "auto_offset_reset");
    const char *why = NULL;
    const char *names[256];
    size_t n = sl_jval_len(topics);
    int64_t timeout = 10000;
    int latest = 0;
    if (sl_jval_type(topics) != SL_J_ARRAY || n == 0 || n > 256) why = "\"topics\" must be a non-empty array of topic names (at most 256)";
    for (size_t i = 0; !why && i < n; i++) {
        names[i] = sl_jval_str(sl_jval_at(topics, i));
        if (!names[i] || !sl_name_valid(names[i])) why = "\"topics\" must hold topic names";
    }
    if (!why && sto && (sl_jval_int(sto, &timeout) || timeout < 100 || timeout > 3600000))
        why = "\"session_timeout_ms\" must be an integer from 100 to 3600000";
    if (!why && reset) {
        const char *s = sl_jval_str(reset);
        if (!s || (strcmp(s, "earliest") && strcmp(s, "latest")))
            why = "\"auto_offset_reset\" must be \"earliest\" or \"latest\"";
        else latest = !strcmp(s, "latest");
    }
    if (why) {
        sl_jdoc_free(d);
        return ERR(400, "bad_request", "%s", why);
    }
    sl_join_config_t jc = {.topics = names, .topic_count = n, .session_timeout_ms = (uint64_t)timeout,
                           .reset_latest = latest};
    sl_assignment_t a;
    int rc = sl_group_join(api->e, g, &jc, &a);
    if (rc == -SL_ENOTFOUND) {
        const char *missing = "";
        for (size_t i = 0; i < n; i++) {
            sl_topic_config_t c;
            if (sl_topic_get(api->e, names[i], &c)) {
                missing = names[i];
                break;
            }
        }
        send_error(api, req, route, t0, 404, "topic_not_found", NULL, "no topic \"%s\"", missing);
        sl_jdoc_free(d);
        return;
    }
    sl_jdoc_free(d);
    if (rc) return send_engine_error(api, req, route, t0, rc, "join");
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"member_id\":");
    json_str(&b, a.member_id);
    sl_buf_printf(&b, ",\"generation\":%" PRId64 ",\"assignment\":", a.generation);
    json_assignment(&b, a.tps, a.count);
    sl_buf_lit(&b, "}\n");
    sl_assignment_free(&a);
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

typedef struct commit_wait {
    pending_t *p;
    char *body;                /* the response to send once durable */
    size_t len;
} commit_wait_t;

static void commit_done(void *ud, int status) {
    commit_wait_t *w = ud;
    pending_t *p = w->p;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    pending_free(p);
    if (status) {
        free(w->body);
        free(w);
        return send_engine_error(api, req, route, t0, status, "commit");
    }
    observe(api, route, t0, 200);
    sl_http_respond_owned(req, 200, "application/json", NULL, w->body, w->len);
    free(w);
}

static void commit_agreed(void *ud, int status, const char *msg) {
    (void)msg;
    commit_done(ud, status);
}

static void h_group_commit(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *g,
                           const char *m) {
    sl_json_error_t je;
    sl_jdoc_t *d = NULL;
    if (!req->body_len) return ERR(400, "bad_request", "the body must be {\"offsets\":[...]}");
    if (sl_jdoc_parse(req->body, req->body_len, &d, &je)) return send_json_error(api, req, route, t0, &je);
    const sl_jval_t *root = sl_jdoc_root(d), *offs = sl_jval_get(root, "offsets"),
                    *gen = sl_jval_get(root, "generation");
    int64_t generation = -1;
    size_t n = sl_jval_len(offs);
    const char *why = NULL;
    sl_commit_t *c = calloc(n + 1, sizeof(*c));
    if (!c) {
        sl_jdoc_free(d);
        return ERR(500, "out_of_memory", "out of memory");
    }
    if (gen && (sl_jval_int(gen, &generation) || generation < 0)) why = "\"generation\" must be a non-negative integer";
    if (!why && (sl_jval_type(offs) != SL_J_ARRAY || n == 0))
        why = "\"offsets\" must be a non-empty array of {\"topic\",\"partition\",\"offset\"}";
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"offsets\":[");
    for (size_t i = 0; !why && i < n; i++) {
        const sl_jval_t *o = sl_jval_at(offs, i);
        int64_t part, off;
        c[i].topic = sl_jval_str(sl_jval_get(o, "topic"));
        if (!c[i].topic || sl_jval_int(sl_jval_get(o, "partition"), &part) || part < 0 ||
            part >= SL_PARTITIONS_MAX || sl_jval_int(sl_jval_get(o, "offset"), &off) || off < 0) {
            why = "each offset must be {\"topic\": name, \"partition\": integer, \"offset\": integer >= 0}";
            break;
        }
        c[i].partition = (uint32_t)part;
        c[i].offset = off;
        if (i) sl_buf_putc(&b, ',');
        sl_buf_lit(&b, "{\"topic\":");
        json_str(&b, c[i].topic);
        sl_buf_printf(&b, ",\"partition\":%u,\"offset\":%" PRId64 "}", c[i].partition, off);
    }
    sl_buf_lit(&b, "]}\n");
    if (why) {
        free(c);
        sl_buf_free(&b);
        sl_jdoc_free(d);
        return ERR(400, "bad_request", "%s", why);
    }
    commit_wait_t *w = calloc(1, sizeof(*w));
    pending_t *p = w ? pending_new(api, req, route, t0, P_WRITE, 0) : NULL;
    if (!p) {
        free(w);
        free(c);
        sl_buf_free(&b);
        sl_jdoc_free(d);
        return ERR(500, "out_of_memory", "out of memory");
    }
    w->p = p;
    w->body = sl_buf_steal(&b, &w->len);
    int rc;
    if (api->cluster) { /* checked here, agreed through the metadata group, stored by every node */
        rc = sl_group_commit_check(api->e, g, m, generation, c, n);
        if (!rc) rc = sl_cluster_offsets_commit(api->cluster, g, c, n, commit_agreed, w);
    } else {
        rc = sl_group_commit(api->e, g, m, generation, c, n, commit_done, w);
    }
    free(c);
    sl_jdoc_free(d);
    if (rc == 0) return;
    free(w->body);
    free(w);
    pending_free(p);
    req->data = NULL;
    switch (-rc) {
    case SL_ENOTFOUND:
        return ERR(404, "member_not_found", "no member \"%s\" in group \"%s\" (it left or timed out): join again", m, g);
    case SL_ESTALE:
        return ERR(409, "stale_generation", "generation %" PRId64 " is not the group's current one; "
                   "poll to learn the new assignment", generation);
    case SL_ENOTASSIGNED:
        return ERR(409, "not_assigned", "a committed partition is not assigned to member \"%s\"", m);
    default: return send_engine_error(api, req, route, t0, rc, "commit");
    }
}

static void h_group_leave(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *g,
                          const char *m) {
    int rc = sl_group_leave(api->e, g, m);
    if (rc == -SL_ENOTFOUND) return ERR(404, "member_not_found", "no member \"%s\" in group \"%s\"", m, g);
    if (rc) return send_engine_error(api, req, route, t0, rc, "leave");
    observe(api, route, t0, 204);
    sl_http_respond(req, 204, NULL, NULL, "", 0);
}

static void h_group_describe(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *g) {
    sl_group_info_t gi;
    int rc = sl_group_describe(api->e, g, &gi);
    if (rc == -SL_ENOTFOUND) return ERR(404, "group_not_found", "no group \"%s\"", g);
    if (rc) return send_engine_error(api, req, route, t0, rc, "describe group");
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"group\":");
    json_str(&b, g);
    sl_buf_printf(&b, ",\"generation\":%" PRId64 ",\"members\":[", gi.generation);
    for (size_t i = 0; i < gi.member_count; i++) {
        sl_member_info_t *m = &gi.members[i];
        if (i) sl_buf_putc(&b, ',');
        sl_buf_lit(&b, "{\"member_id\":");
        json_str(&b, m->member_id);
        sl_buf_lit(&b, ",\"topics\":[");
        for (size_t k = 0; k < m->topic_count; k++) {
            if (k) sl_buf_putc(&b, ',');
            json_str(&b, m->topics[k]);
        }
        sl_buf_lit(&b, "],\"assignment\":");
        json_assignment(&b, m->tps, m->tp_count);
        sl_buf_printf(&b, ",\"session_timeout_ms\":%" PRIu64 ",\"idle_ms\":%" PRIu64 "}",
                      m->session_timeout_ms, m->idle_ms);
    }
    sl_buf_lit(&b, "],\"offsets\":[");
    for (size_t i = 0; i < gi.offset_count; i++) {
        sl_offset_info_t *o = &gi.offsets[i];
        if (i) sl_buf_putc(&b, ',');
        sl_buf_lit(&b, "{\"topic\":");
        json_str(&b, o->tp.topic);
        sl_buf_printf(&b, ",\"partition\":%u,\"committed\":", o->tp.partition);
        if (o->committed >= 0) sl_buf_append_i64(&b, o->committed);
        else sl_buf_lit(&b, "null");
        sl_buf_printf(&b, ",\"latest\":%" PRId64 ",\"lag\":", o->latest);
        if (o->committed >= 0 && o->latest >= 0) sl_buf_append_i64(&b, o->latest - o->committed);
        else sl_buf_lit(&b, "null");
        sl_buf_putc(&b, '}');
    }
    sl_buf_lit(&b, "]}\n");
    sl_group_info_free(&gi);
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

static void h_group_list(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    char **names;
    size_t n;
    int rc = sl_group_list(api->e, &names, &n);
    if (rc) return send_engine_error(api, req, route, t0, rc, "list groups");
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_lit(&b, "{\"groups\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) sl_buf_putc(&b, ',');
        json_str(&b, names[i]);
    }
    sl_buf_lit(&b, "]}\n");
    sl_names_free(names, n);
    respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
}

/* ---- metrics ---------------------------------------------------------------------------------- */

static void h_metrics(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    sl_engine_stats_t s;
    sl_engine_stats(api->e, &s);
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_printf(&b,
                  "# HELP sluice_events_in_total Events appended.\n# TYPE sluice_events_in_total counter\n"
                  "sluice_events_in_total %" PRIu64 "\n"
                  "# HELP sluice_bytes_in_total Record-batch bytes appended.\n# TYPE sluice_bytes_in_total counter\n"
                  "sluice_bytes_in_total %" PRIu64 "\n"
                  "# HELP sluice_batches_total Record batches appended.\n# TYPE sluice_batches_total counter\n"
                  "sluice_batches_total %" PRIu64 "\n"
                  "# HELP sluice_events_out_total Events read by fetches.\n# TYPE sluice_events_out_total counter\n"
                  "sluice_events_out_total %" PRIu64 "\n"
                  "# HELP sluice_bytes_out_total Key and value bytes read by fetches.\n# TYPE sluice_bytes_out_total counter\n"
                  "sluice_bytes_out_total %" PRIu64 "\n"
                  "# HELP sluice_fsyncs_total Group-commit fdatasync jobs.\n# TYPE sluice_fsyncs_total counter\n"
                  "sluice_fsyncs_total %" PRIu64 "\n"
                  "# HELP sluice_fsync_seconds_total Time spent in fdatasync.\n# TYPE sluice_fsync_seconds_total counter\n"
                  "sluice_fsync_seconds_total %.6f\n",
                  s.events_in, s.bytes_in, s.batches, s.events_out, s.bytes_out, s.fsyncs,
                  (double)s.fsync_ns_total / 1e9);
    if (api->http) {
        sl_http_stats_t h;
        sl_http_server_stats(api->http, &h);
        sl_buf_printf(&b,
                      "# TYPE sluice_http_connections_open gauge\nsluice_http_connections_open %" PRIu64 "\n"
                      "# TYPE sluice_http_connections_total counter\nsluice_http_connections_total %" PRIu64 "\n"
                      "# TYPE sluice_http_connections_rejected_total counter\nsluice_http_connections_rejected_total %" PRIu64 "\n"
                      "# TYPE sluice_http_requests_total counter\nsluice_http_requests_total %" PRIu64 "\n"
                      "# TYPE sluice_http_bytes_in_total counter\nsluice_http_bytes_in_total %" PRIu64 "\n"
                      "# TYPE sluice_http_bytes_out_total counter\nsluice_http_bytes_out_total %" PRIu64 "\n"
                      "# TYPE sluice_http_timeouts_total counter\nsluice_http_timeouts_total %" PRIu64 "\n",
                      h.connections_open, h.connections_accepted, h.connections_rejected, h.requests,
                      h.bytes_in, h.bytes_out, h.timeouts);
    }
    sl_buf_lit(&b, "# HELP sluice_http_responses_total Responses by status class.\n# TYPE sluice_http_responses_total counter\n");
    for (int i = 1; i < 6; i++)
        sl_buf_printf(&b, "sluice_http_responses_total{class=\"%dxx\"} %" PRIu64 "\n", i, api->status_count[i]);
    sl_buf_lit(&b, "# HELP sluice_http_request_duration_seconds Time to answer (produce: until durable).\n"
                   "# TYPE sluice_http_request_duration_seconds histogram\n");
    for (int r = 0; r < R_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t k = 0; k <= NBUCKETS; k++) {
            cum += api->lat_count[r][k];
            if (k < NBUCKETS)
                sl_buf_printf(&b, "sluice_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                              route_names[r], lat_buckets[k], cum);
            else
                sl_buf_printf(&b, "sluice_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                                  "sluice_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                  "sluice_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                              route_names[r], cum, route_names[r], api->lat_sum[r], route_names[r], cum);
        }
    }
    char **names;
    size_t n;
    if (sl_topic_list(api->e, &names, &n) == 0) {
        sl_buf_lit(&b, "# HELP sluice_partition_latest_offset Next offset to be written (durable).\n"
                       "# TYPE sluice_partition_latest_offset gauge\n");
        for (size_t i = 0; i < n; i++) {
            sl_topic_config_t c;
            if (sl_topic_get(api->e, names[i], &c)) continue;
            for (uint32_t p = 0; p < c.partitions; p++) {
                sl_partition_stats_t st;
                if (sl_partition_stats(api->e, names[i], p, &st)) continue;
                sl_buf_printf(&b, "sluice_partition_latest_offset{topic=\"%s\",partition=\"%u\"} %" PRId64 "\n",
                              names[i], p, st.latest_offset);
                sl_buf_printf(&b, "sluice_partition_earliest_offset{topic=\"%s\",partition=\"%u\"} %" PRId64 "\n",
                              names[i], p, st.earliest_offset);
                sl_buf_printf(&b, "sluice_partition_bytes{topic=\"%s\",partition=\"%u\"} %" PRIu64 "\n",
                              names[i], p, st.bytes);
            }
        }
        sl_names_free(names, n);
    }
    if (sl_group_list(api->e, &names, &n) == 0) {
        sl_buf_lit(&b, "# HELP sluice_group_lag Latest offset minus committed offset.\n# TYPE sluice_group_lag gauge\n");
        for (size_t i = 0; i < n; i++) {
            sl_group_info_t gi;
            if (sl_group_describe(api->e, names[i], &gi)) continue;
            for (size_t k = 0; k < gi.offset_count; k++) {
                sl_offset_info_t *o = &gi.offsets[k];
                if (o->committed < 0 || o->latest < 0) continue;
                sl_buf_lit(&b, "sluice_group_lag{group=\"");
                sl_buf_json_escape(&b, names[i], strlen(names[i]));
                sl_buf_printf(&b, "\",topic=\"%s\",partition=\"%u\"} %" PRId64 "\n", o->tp.topic,
                              o->tp.partition, o->latest - o->committed);
            }
            sl_group_info_free(&gi);
        }
        sl_names_free(names, n);
    }
    if (api->sql) {
        char *qm = NULL;
        size_t qn = 0;
        if (sl_sql_metrics(api->sql, &qm, &qn) == 0) sl_buf_append(&b, qm, qn);
        free(qm);
    }
    if (api->cluster) sl_cluster_metrics(api->cluster, &b);
    respond_buf(api, req, route, t0, 200, "text/plain; version=0.0.4", NULL, &b);
}

/* ---- SQL and views -------------------------------------------------------------------------- */

/* POST /v1/sql: {"sql":"..."} (application/json), or the statements as the body itself
 * (application/sql, text/plain). */
static void h_sql(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    if (api->cluster)
        return ERR(501, "not_in_cluster_mode",
                   "continuous SQL does not run in cluster mode yet (docs/CLUSTER.md): its queries would read one "
                   "node's replicas and its catalog and checkpoints are not replicated");
    if (!api->sql) return ERR(503, "unavailable", "continuous SQL is not running");
    const char *ct = req->content_type;
    const char *text = req->body ? req->body : "";
    size_t len = req->body_len;
    sl_jdoc_t *d = NULL;
    if (!strcmp(ct, "application/json") || !*ct || !strcmp(ct, "application/x-www-form-urlencoded")) {
        sl_json_error_t je;
        if (!req->body_len) return ERR(400, "bad_request", "the body must be {\"sql\": \"...\"}");
        if (sl_jdoc_parse(req->body, req->body_len, &d, &je)) return send_json_error(api, req, route, t0, &je);
        const sl_jval_t *v = sl_jval_get(sl_jdoc_root(d), "sql");
        if (!v || !sl_jval_str(v)) {
            sl_jdoc_free(d);
            return ERR(400, "bad_request", "the body must be {\"sql\": \"...\"} with the statements as a string");
        }
        text = sl_jval_str(v);
        len = strlen(text);
    } else if (strcmp(ct, "application/sql") && strcmp(ct, "text/plain")) {
        return ERR(415, "unsupported_media_type",
                   "Content-Type %s is not accepted: use application/json ({\"sql\": ...}) or application/sql", ct);
    }
    char *out = NULL;
    size_t out_len = 0;
    int status = 200;
    int rc = sl_sql_execute(api->sql, text, len, &out, &out_len, &status);
    sl_jdoc_free(d);
    if (rc) return ERR(500, "out_of_memory", "out of memory");
    sl_buf_t b = {out, out_len, out_len};
    respond_buf(api, req, route, t0, status, "application/json", NULL, &b);
}

static void h_view_read(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *v) {
    if (!api->sql) return ERR(503, "unavailable", "continuous SQL is not running");
    char fmt[16] = "json";
    if (sl_http_query_param(req->query, "format", fmt, sizeof(fmt)) < 0 || (strcmp(fmt, "json") && strcmp(fmt, "ndjson")))
        return ERR(400, "bad_request", "format must be \"json\" or \"ndjson\"");
    int nd = !strcmp(fmt, "ndjson");
    char *out = NULL;
    size_t out_len = 0;
    int rc = sl_sql_view_read(api->sql, v, nd, &out, &out_len);
    if (rc == -SL_ENOTFOUND) return ERR(404, "view_not_found", "no materialized view \"%s\"", v);
    if (rc) return ERR(500, "out_of_memory", "out of memory");
    sl_buf_t b = {out, out_len, out_len};
    respond_buf(api, req, route, t0, 200, nd ? "application/x-ndjson" : "application/json", NULL, &b);
}

/* GET /v1/views/{v}/changes: Server-Sent Events, one per change, id = the change's sequence.
 * Starts after ?after=N (or Last-Event-ID), else at the current end. Polled every 100 ms. */
static void view_sse_pump(uv_timer_t *t) {
    pending_t *p = t->data;
    sl_api_t *api = p->api;
    char *out = NULL;
    size_t len = 0;
    uint64_t last = (uint64_t)p->offset;
    int rc = sl_sql_view_changes(api->sql, p->topic, (uint64_t)p->offset, &out, &len, &last);
    if (rc == -SL_ENOTFOUND || rc == -SL_ERANGE) {
        free(out);
        const char *why = rc == -SL_ENOTFOUND ? "event: end\ndata: {\"reason\":\"view dropped\"}\n\n"
                                              : "event: end\ndata: {\"reason\":\"too far behind: read the view again\"}\n\n";
        sl_http_stream_write(p->req, why, strlen(why));
        sl_http_req_t *req = p->req;
        req->on_abort = NULL;
        sl_http_stream_end(req);
        pending_free(p);
        return;
    }
    uint64_t now = sl_mono_ms();
    if (rc == 0 && len) {
        sl_buf_t b = SL_BUF_INIT;
        uint64_t seq = (uint64_t)p->offset;
        for (size_t i = 0; i < len;) {
            const char *nl = memchr(out + i, '\n', len - i);
            size_t l = nl ? (size_t)(nl - (out + i)) : len - i;
            seq++;
            sl_buf_printf(&b, "id: %" PRIu64 "\ndata: ", seq);
            sl_buf_append(&b, out + i, l);
            sl_buf_lit(&b, "\n\n");
            i += l + 1;
        }
        p->offset = (int64_t)last;
        if (sl_http_stream_write(p->req, b.data, b.len) < 0) {
            sl_buf_free(&b);
            free(out);
            return;
        }
        sl_buf_free(&b);
        p->last_write = now;
    }
    free(out);
    if (now - p->last_write >= SSE_KEEPALIVE_MS) {
        sl_http_stream_write(p->req, ": keep-alive\n\n", 14);
        p->last_write = now;
    }
    uv_timer_start(&p->timer, view_sse_pump, 100, 0);
}

static void h_view_changes(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0, const char *v) {
    if (!api->sql) return ERR(503, "unavailable", "continuous SQL is not running");
    uint64_t seq;
    if (sl_sql_view_seq(api->sql, v, &seq)) return ERR(404, "view_not_found", "no materialized view \"%s\"", v);
    uint64_t after = seq;
    const char *lei = sl_http_header(req, "last-event-id");
    if (lei && *lei) after = strtoull(lei, NULL, 10);
    if (query_u64(req->query, "after", 0, UINT64_MAX / 2, after, &after))
        return ERR(400, "bad_request", "after must be a change sequence number");
    pending_t *p = pending_new(api, req, route, t0, P_VIEW_SSE, 1);
    if (!p) return ERR(500, "out_of_memory", "out of memory");
    snprintf(p->topic, sizeof(p->topic), "%s", v);
    p->offset = (int64_t)after;
    observe(api, route, t0, 200);
    sl_http_stream_start(req, 200, "text/event-stream", "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    sl_http_stream_write(req, ": connected\n\n", 13);
    p->last_write = sl_mono_ms();
    p->timer.data = p;
    view_sse_pump(&p->timer);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

static void method_not_allowed(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0,
                               const char *allowed) {
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allowed);
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_printf(&b, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use %s on %s\"}}\n",
                  allowed, req->path);
    respond_buf(api, req, route, t0, 405, "application/json", hdr, &b);
}

/* ---- forwarding to the group coordinator ----------------------------------------------------------- */

static void forwarded_back(void *ud, int status, const char *ctype, const char *extra, const char *body,
                           size_t len) {
    pending_t *p = ud;
    sl_api_t *api = p->api;
    sl_http_req_t *req = p->req;
    int route = p->route;
    uint64_t t0 = p->t0;
    p->call = NULL;
    req->on_abort = NULL;
    pending_free(p);
    if (status < 0) return send_engine_error(api, req, route, t0, status, "forward to the group coordinator");
    observe(api, route, t0, status);
    sl_http_respond(req, status, ctype && *ctype ? ctype : NULL, extra, body, len);
}

/* Consumer groups live on the metadata leader (their coordinator): a request for one that
 * reaches another node is forwarded whole. 1 if it was (or was answered), 0 to serve it here. */
static int maybe_forward_group(sl_api_t *api, sl_http_req_t *req, int route, uint64_t t0) {
    if (!api->cluster || sl_http_header(req, "Sluice-Forwarded")) return 0;
    uint64_t leader = sl_cluster_meta_leader(api->cluster);
    if (leader == sl_cluster_node_id(api->cluster)) return 0;
    if (!leader) {
        send_engine_error(api, req, route, t0, -SL_ENOLEADER, "consumer groups");
        return 1;
    }
    pending_t *p = pending_new(api, req, route, t0, P_FETCH, 1);
    if (!p) {
        ERR(500, "out_of_memory", "out of memory");
        return 1;
    }
    int rc = sl_cluster_http_forward(api->cluster, leader, req->method, req->path, req->query, req->content_type,
                                     req->body, req->body_len, api->lim.max_timeout_ms + 30000, forwarded_back, p,
                                     &p->call);
    if (rc) {
        req->on_abort = NULL;
        pending_free(p);
        req->data = NULL;
        send_engine_error(api, req, route, t0, rc, "forward to the group coordinator");
    }
    return 1;
}

static void served_for_peer(void *ud, int method, const char *path, const char *query, const char *ctype,
                            const char *body, size_t len, sl_cluster_http_reply_cb reply, void *reply_ud) {
    sl_api_t *api = ud;
    static const char *const hdrs[] = {"Sluice-Forwarded", "1"};
    sl_http_req_t *req = sl_http_req_new(method, path, query, ctype, hdrs, 2, body, len, reply, reply_ud);
    if (!req) {
        reply(reply_ud, 500, "application/json", NULL, "{\"error\":{\"code\":\"out_of_memory\"}}\n", 37);
        return;
    }
    sl_api_handle(req, api);
}

void sl_api_handle(sl_http_req_t *req, void *ud) {
    sl_api_t *api = ud;
    uint64_t t0 = sl_mono_ns();
    int route = R_OTHER;
    char buf[1024];
    char *s[MAX_SEGS];
    int ns = split_path(req->path, buf, sizeof(buf), s);
    int m = req->method;
    if (m == SL_HTTP_HEAD) m = SL_HTTP_GET;
    req->data = NULL;
    if (ns < 0) return ERR(404, "not_found", "no such route");
    if (ns == 1 && !strcmp(s[0], "healthz")) {
        if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
        observe(api, route, t0, 200);
        return sl_http_respond(req, 200, "application/json", NULL, "{\"status\":\"ok\"}\n", 16);
    }
    if (ns == 1 && !strcmp(s[0], "metrics")) {
        if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
        return h_metrics(api, req, route, t0);
    }
    if (ns < 2 || strcmp(s[0], "v1")) return ERR(404, "not_found", "no route %s (see docs/API.md)", req->path);
    if (api->cluster && sl_cluster_removed(api->cluster) && !(ns == 2 && !strcmp(s[1], "cluster"))) {
        error_headers = "Retry-After: 1\r\n";
        return ERR(503, "removed", "this node was removed from the cluster; ask another node");
    }
    if (ns >= 3 && ns <= 4 && !strcmp(s[1], "cluster") && !strcmp(s[2], "nodes")) {
        if (!api->cluster)
            return ERR(404, "not_clustered", "this server runs as a single node (start it with --cluster)");
        if (ns == 3 && m != SL_HTTP_POST) return method_not_allowed(api, req, route, t0, "POST");
        if (ns == 4 && m != SL_HTTP_DELETE) return method_not_allowed(api, req, route, t0, "DELETE");
        return ns == 3 ? h_node_add(api, req, route, t0) : h_node_remove(api, req, route, t0, s[3]);
    }
    if (ns == 2 && !strcmp(s[1], "cluster")) {
        if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
        if (!api->cluster)
            return ERR(404, "not_clustered", "this server runs as a single node (start it with --cluster)");
        sl_buf_t b = SL_BUF_INIT;
        sl_cluster_status_json(api->cluster, &b);
        return respond_buf(api, req, route, t0, 200, "application/json", NULL, &b);
    }
    if (ns == 2 && !strcmp(s[1], "sql")) {
        if (m != SL_HTTP_POST) return method_not_allowed(api, req, route, t0, "POST");
        return h_sql(api, req, route, t0);
    }
    if (!strcmp(s[1], "views") && ns >= 3 && ns <= 4) {
        if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
        if (ns == 3) return h_view_read(api, req, route, t0, s[2]);
        if (!strcmp(s[3], "changes")) return h_view_changes(api, req, route, t0, s[2]);
    }
    if (!strcmp(s[1], "topics")) {
        if (ns == 2) {
            if (m == SL_HTTP_GET) return h_topic_list(api, req, route, t0);
            if (m == SL_HTTP_POST) return h_topic_create(api, req, route, t0);
            return method_not_allowed(api, req, route, t0, "GET, POST");
        }
        const char *t = s[2];
        if (!sl_name_valid(t)) return ERR(404, "topic_not_found", "no topic \"%s\"", t);
        if (ns == 3) {
            if (m == SL_HTTP_GET) return h_topic_describe(api, req, route, t0, t);
            if (m == SL_HTTP_DELETE) return h_topic_delete(api, req, route, t0, t);
            return method_not_allowed(api, req, route, t0, "GET, DELETE");
        }
        if (ns == 4 && !strcmp(s[3], "events")) {
            if (m != SL_HTTP_POST) return method_not_allowed(api, req, route, t0, "POST");
            return h_produce(api, req, R_PRODUCE, t0, t);
        }
        if (ns == 4 && !strcmp(s[3], "stream")) {
            if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
            return h_stream(api, req, route, t0, t);
        }
        if (ns == 6 && !strcmp(s[3], "partitions") && !strcmp(s[5], "events")) {
            if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
            return h_fetch(api, req, R_FETCH, t0, t, s[4]);
        }
    } else if (!strcmp(s[1], "groups")) {
        if (maybe_forward_group(api, req, route, t0)) return;
        if (ns == 2) {
            if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
            return h_group_list(api, req, route, t0);
        }
        const char *g = s[2];
        if (!sl_name_valid(g)) return ERR(400, "bad_request", "group names use the characters [a-zA-Z0-9._-], 1 to 249 of them");
        if (ns == 3) {
            if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
            return h_group_describe(api, req, route, t0, g);
        }
        if (ns == 4 && !strcmp(s[3], "members")) {
            if (m != SL_HTTP_POST) return method_not_allowed(api, req, route, t0, "POST");
            return h_group_join(api, req, route, t0, g);
        }
        if (ns >= 5 && !strcmp(s[3], "members")) {
            const char *mb = s[4];
            if (strlen(mb) >= 64) return ERR(404, "member_not_found", "no member \"%s\"", mb);
            if (ns == 5) {
                if (m != SL_HTTP_DELETE) return method_not_allowed(api, req, route, t0, "DELETE");
                return h_group_leave(api, req, route, t0, g, mb);
            }
            if (ns == 6 && !strcmp(s[5], "events")) {
                if (m != SL_HTTP_GET) return method_not_allowed(api, req, route, t0, "GET");
                return h_group_poll(api, req, R_FETCH, t0, g, mb);
            }
            if (ns == 6 && !strcmp(s[5], "commit")) {
                if (m != SL_HTTP_POST) return method_not_allowed(api, req, route, t0, "POST");
                return h_group_commit(api, req, route, t0, g, mb);
            }
        }
    }
    ERR(404, "not_found", "no route %s (see docs/API.md)", req->path);
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

int sl_api_create(uv_loop_t *loop, sl_engine_t *e, const sl_api_limits_t *limits, sl_api_t **out) {
    sl_api_t *api = calloc(1, sizeof(*api));
    if (!api) return -SL_ENOMEM;
    api->loop = loop;
    api->e = e;
    api->lim = *limits;
    if (!api->lim.max_depth) api->lim.max_depth = SL_JSON_MAX_DEPTH;
    if (!api->lim.max_timeout_ms) api->lim.max_timeout_ms = 300000;
    *out = api;
    return 0;
}

void sl_api_set_http(sl_api_t *api, sl_http_server_t *srv) { api->http = srv; }
void sl_api_set_sql(sl_api_t *api, sl_sql_t *sql) { api->sql = sql; }
void sl_api_set_cluster(sl_api_t *api, sl_cluster_t *c) {
    if (api->cluster && !c) sl_cluster_set_http(api->cluster, NULL, NULL);
    api->cluster = c;
    if (c) sl_cluster_set_http(c, served_for_peer, api);
}

void sl_api_shutdown(sl_api_t *api) {
    api->stopping = 1;
    /* Long polls get their answer now; streams end. Writes waiting for fsync are answered by
     * the engine's close. */
    pending_t *p = api->pending;
    while (p) {
        pending_t *next = p->next;
        if (p->closing || !p->req) {
            p = next;
            continue;
        }
        if (p->kind == P_FETCH || p->kind == P_GROUP) {
            poll_finish(p);
        } else if (p->kind == P_SSE || p->kind == P_VIEW_SSE) {
            sl_http_req_t *req = p->req;
            req->on_abort = NULL;
            sl_http_stream_end(req);
            pending_free(p);
        }
        p = next;
    }
}

void sl_api_free(sl_api_t *api) { free(api); }
