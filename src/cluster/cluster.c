/* The cluster: node lifecycle, RPC plumbing, the metadata group, status.
 * Partition groups (replication, produce, segment copy) are in part.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/codec.h"
#include "cluster/internal.h"
#include "cluster/part.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"

void sl_cluster_config_defaults(sl_cluster_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->election_timeout_ms = 1000;
    cfg->heartbeat_timeout_ms = 100;
    cfg->snapshot_threshold = 4096;
    cfg->snapshot_trailing = 2048;
    cfg->raft_log_bytes = 4u << 20;
    cfg->request_timeout_ms = 10000;
}

/* "1@host:port,2@host:port" into ids and addresses. */
static int parse_members(const char *s, uint64_t *ids, char (*addrs)[256], size_t *n, const char **why) {
    *n = 0;
    if (!s || !*s) {
        if (why) *why = "--cluster is empty";
        return -SL_EINVAL;
    }
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[300];
        if (len == 0 || len >= sizeof(item)) {
            if (why) *why = "--cluster: an empty or too long entry (want id@host:port,...)";
            return -SL_EINVAL;
        }
        memcpy(item, p, len);
        item[len] = 0;
        char *at = strchr(item, '@');
        char *end;
        unsigned long long id = at ? strtoull(item, &end, 10) : 0;
        struct sockaddr_storage sa;
        if (!at || end != at || id == 0 || id > 0x7fffffffULL || sl_parse_hostport(at + 1, &sa)) {
            if (why) *why = "--cluster: each entry is id@host:port with id 1..2147483647 and a numeric IP";
            return -SL_EINVAL;
        }
        if (*n == MAX_NODES) {
            if (why) *why = "--cluster: at most 64 nodes";
            return -SL_EINVAL;
        }
        for (size_t i = 0; i < *n; i++)
            if (ids[i] == id) {
                if (why) *why = "--cluster: a node id appears twice";
                return -SL_EINVAL;
            }
        ids[*n] = id;
        snprintf(addrs[*n], 256, "%s", at + 1);
        (*n)++;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

int sl_cluster_config_check(const sl_cluster_config_t *cfg, const char **why) {
    uint64_t ids[MAX_NODES];
    char addrs[MAX_NODES][256];
    size_t n;
    int rc = parse_members(cfg->members, ids, addrs, &n, why);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == cfg->node_id) return 0;
    if (why) *why = "--node-id is not in --cluster";
    return -SL_EINVAL;
}

uint64_t sl_cluster_node_id(sl_cluster_t *c) { return c->self; }
const char *sl_cluster_address(sl_cluster_t *c) { return c->self_addr; }

uint64_t sl__cluster_now_ms(void) { return (uint64_t)(sl_mono_ns() / 1000000); }

int sl__mkdir_p(const char *dir) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) return -SL_EINVAL;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return -SL_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -SL_EIO;
    return 0;
}

const node_t *sl__node_find(sl_cluster_t *c, uint64_t id) {
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i].id == id) return &c->nodes[i];
    return NULL;
}

/* ---- RPC calls -------------------------------------------------------------------------------- */

call_t *sl__call_new(sl_cluster_t *c, uint64_t to, uint8_t type, uint64_t timeout_ms,
                     void (*done)(call_t *, int, const char *, size_t), void *ud) {
    call_t *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->c = c;
    k->id = ++c->call_seq;
    k->to = to;
    k->type = type;
    k->deadline_ms = sl__cluster_now_ms() + timeout_ms;
    k->done = done;
    k->ud = ud;
    k->next = c->calls;
    if (c->calls) c->calls->prev = k;
    c->calls = k;
    return k;
}

static void call_unlink(sl_cluster_t *c, call_t *k) {
    if (k->prev) k->prev->next = k->next;
    else c->calls = k->next;
    if (k->next) k->next->prev = k->prev;
}

/* Ends a call with an error (timeout, peer down, closing). */
void sl__call_fail(sl_cluster_t *c, call_t *k, int status) {
    call_unlink(c, k);
    k->done(k, status, NULL, 0);
    free(k);
}

int sl__call_send(sl_cluster_t *c, call_t *k, const sl_buf_t *payload) {
    if (sl_mux_send(c->mux, k->to, k->type, k->id, payload->data, payload->len)) {
        sl__call_fail(c, k, -SL_EUNAVAIL);
        return -1;
    }
    return 0;
}

void sl_cluster_call_cancel(sl_cluster_t *c, sl_cluster_call_t *call) {
    call_t *k = (call_t *)call;
    call_unlink(c, k);
    if (k->type == RPC_FETCH || k->type == RPC_HTTP) free(k->ud2); /* their callers' contexts */
    free(k);
}

static void calls_expire(sl_cluster_t *c, uint64_t now) {
    for (call_t *k = c->calls, *next; k; k = next) {
        next = k->next;
        if (k->deadline_ms <= now) sl__call_fail(c, k, -SL_ETIMEDOUT);
    }
}

/* The connection to a peer broke. The calls on it fail at the next tick, not now: this can be
 * reported from inside sl_mux_send, while a caller is still holding the call it is sending. */
static void peer_down(void *ud, uint64_t peer) {
    sl_cluster_t *c = ud;
    uint64_t seq = c->call_seq; /* calls made up to now went (or were going) on the broken connection */
    for (size_t i = 0; i < c->ndown; i++)
        if (c->down[i].peer == peer) {
            c->down[i].seq = seq;
            return;
        }
    if (c->ndown < MAX_NODES) c->down[c->ndown++] = (struct peer_down){peer, seq};
}

static void peers_down_apply(sl_cluster_t *c) {
    size_t n = c->ndown;
    struct peer_down d[MAX_NODES];
    memcpy(d, c->down, n * sizeof(d[0]));
    c->ndown = 0;
    for (size_t i = 0; i < n; i++)
        for (call_t *k = c->calls, *next; k; k = next) {
            next = k->next;
            if (k->to == d[i].peer && k->id <= d[i].seq) sl__call_fail(c, k, -SL_EUNAVAIL);
        }
}

void sl__reply(sl_cluster_t *c, uint64_t to, uint8_t type, uint64_t corr, const sl_buf_t *b) {
    if (sl_mux_send(c->mux, to, type, corr, b->data, b->len))
        sl_debug("cluster: reply to node %" PRIu64 " not sent", to);
}

static void http_serve(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len);

static void on_rpc(void *ud, uint64_t from, uint8_t type, uint64_t corr, const char *p, size_t len) {
    sl_cluster_t *c = ud;
    if (type % 2 == 0) { /* a reply: find the call */
        for (call_t *k = c->calls; k; k = k->next) {
            if (k->id == corr && k->to == from) {
                call_unlink(c, k);
                k->done(k, 0, p, len);
                free(k);
                return;
            }
        }
        return; /* late: already timed out */
    }
    switch (type) {
    case RPC_PRODUCE: sl__part_serve_produce(c, from, corr, p, len); break;
    case RPC_FETCH: sl__part_serve_fetch(c, from, corr, p, len); break;
    case RPC_COPY: sl__part_serve_copy(c, from, corr, p, len); break;
    case RPC_META: sl__meta_serve(c, from, corr, p, len); break;
    case RPC_HTTP: http_serve(c, from, corr, p, len); break;
    case RPC_STEPDOWN: sl__part_serve_stepdown(c, from, p, len); break;
    case RPC_LEFT_ASK:
    case RPC_LEFT: sl__part_serve_left(c, from, type, p, len); break;
    default: sl_debug("cluster: unknown RPC %u from node %" PRIu64, type, from);
    }
}

/* ---- metadata state ------------------------------------------------------------------------- */

mtopic_t *sl__topic_find_meta(sl_cluster_t *c, const char *name) {
    for (size_t i = 0; i < c->ntopics; i++)
        if (!strcmp(c->topics[i]->cfg.name, name)) return c->topics[i];
    return NULL;
}

static void mtopic_free(mtopic_t *t) {
    if (!t) return;
    free(t->replicas);
    free(t->boot);
    free(t);
}

static void node_upsert(sl_cluster_t *c, uint64_t id, const char *addr, const char *http) {
    node_t *n = (node_t *)sl__node_find(c, id);
    if (!n) {
        if (c->nnodes == MAX_NODES) return;
        n = &c->nodes[c->nnodes++];
        memset(n, 0, sizeof(*n));
        n->id = id;
    }
    if (addr && *addr) snprintf(n->addr, sizeof(n->addr), "%s", addr);
    if (http && *http) snprintf(n->http, sizeof(n->http), "%s", http);
    if (id != c->self && n->addr[0]) sl_mux_set_peer(c->mux, id, n->addr);
}

static void encode_topic(sl_buf_t *b, const mtopic_t *t) {
    const sl_topic_config_t *cf = &t->cfg;
    sl_w_str(b, cf->name);
    sl_w_u32(b, cf->partitions);
    sl_w_str(b, cf->key);
    sl_w_str(b, cf->timestamp);
    sl_w_i64(b, cf->retention_ms);
    sl_w_i64(b, cf->retention_bytes);
    sl_w_u64(b, cf->segment_bytes);
    sl_w_u64(b, cf->segment_ms);
    sl_w_i64(b, cf->created_ms);
    sl_w_u32(b, t->rf);
    sl_w_u64(b, t->inc);
    for (size_t i = 0; i < (size_t)cf->partitions * t->rf; i++) sl_w_u64(b, t->replicas[i]);
}

static mtopic_t *decode_topic(sl_reader_t *r) {
    mtopic_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    sl_topic_config_t *cf = &t->cfg;
    sl_r_str(r, cf->name, sizeof(cf->name));
    cf->partitions = sl_r_u32(r);
    sl_r_str(r, cf->key, sizeof(cf->key));
    sl_r_str(r, cf->timestamp, sizeof(cf->timestamp));
    cf->retention_ms = sl_r_i64(r);
    cf->retention_bytes = sl_r_i64(r);
    cf->segment_bytes = sl_r_u64(r);
    cf->segment_ms = sl_r_u64(r);
    cf->created_ms = sl_r_i64(r);
    t->rf = sl_r_u32(r);
    t->inc = sl_r_u64(r);
    if (r->bad || cf->partitions == 0 || cf->partitions > SL_PARTITIONS_MAX || t->rf == 0 || t->rf > 5) {
        free(t);
        r->bad = 1;
        return NULL;
    }
    t->replicas = malloc((size_t)cf->partitions * t->rf * sizeof(uint64_t));
    if (!t->replicas) {
        free(t);
        r->bad = 1;
        return NULL;
    }
    for (size_t i = 0; i < (size_t)cf->partitions * t->rf; i++) t->replicas[i] = sl_r_u64(r);
    t->boot = malloc((size_t)cf->partitions * t->rf * sizeof(uint64_t));
    if (r->bad || !t->boot) {
        r->bad = 1;
        mtopic_free(t);
        return NULL;
    }
    memcpy(t->boot, t->replicas, (size_t)cf->partitions * t->rf * sizeof(uint64_t));
    return t;
}

/* Snapshots (SLS2 on) carry the placement at creation after each topic. */
static void encode_boot(sl_buf_t *b, const mtopic_t *t) {
    for (size_t i = 0; i < (size_t)t->cfg.partitions * t->rf; i++) sl_w_u64(b, t->boot[i]);
}

static void decode_boot(sl_reader_t *r, mtopic_t *t) {
    for (size_t i = 0; i < (size_t)t->cfg.partitions * t->rf; i++) t->boot[i] = sl_r_u64(r);
}

static int topics_add(sl_cluster_t *c, mtopic_t *t) {
    if (c->ntopics == c->topics_cap) {
        size_t cap = c->topics_cap ? c->topics_cap * 2 : 16;
        mtopic_t **v = realloc(c->topics, cap * sizeof(*v));
        if (!v) return -SL_ENOMEM;
        c->topics = v;
        c->topics_cap = cap;
    }
    c->topics[c->ntopics++] = t;
    return 0;
}

static void topics_remove(sl_cluster_t *c, mtopic_t *t) {
    for (size_t i = 0; i < c->ntopics; i++)
        if (c->topics[i] == t) {
            c->topics[i] = c->topics[--c->ntopics];
            return;
        }
}

/* ---- metadata group: commands ---------------------------------------------------------------- */

enum { CMD_NODE = 1, CMD_TOPIC_CREATE, CMD_TOPIC_DELETE, CMD_OFFSETS, CMD_NODE_ADD, CMD_NODE_REMOVE };

/* Committed offsets: group, then (topic, partition, offset) entries. Stored by every node in
 * its engine, so the group coordinator of any later term has them. */
static int offsets_decode_store(sl_cluster_t *c, sl_reader_t *r) {
    char group[SL_TOPIC_NAME_MAX + 1];
    sl_r_str(r, group, sizeof(group));
    uint32_t n = sl_r_u32(r);
    if (r->bad || n > 1000000) return -SL_ECORRUPT;
    sl_commit_t *cm = calloc(n + 1, sizeof(*cm));
    char (*topics)[SL_TOPIC_NAME_MAX + 1] = calloc(n + 1, sizeof(*topics));
    if (!cm || !topics) {
        free(cm);
        free(topics);
        return -SL_ENOMEM;
    }
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        sl_r_str(r, topics[i], sizeof(topics[i]));
        cm[i].topic = topics[i];
        cm[i].partition = sl_r_u32(r);
        cm[i].offset = sl_r_i64(r);
    }
    int rc = r->bad ? -SL_ECORRUPT : (n ? sl_group_offsets_store(c->e, group, cm, n, NULL, NULL) : 0);
    free(cm);
    free(topics);
    return rc;
}
/* Replica slots a node's removal moves, or -SL_E* with msg when it cannot be removed. */
static long remove_check(sl_cluster_t *c, uint64_t id, char *msg, size_t msglen) {
    const node_t *n = sl__node_find(c, id);
    if (!n || n->removed) {
        snprintf(msg, msglen, "no node %" PRIu64 " in the cluster", id);
        return -SL_ENOTFOUND;
    }
    size_t left = 0;
    for (size_t i = 0; i < c->nnodes; i++)
        if (!c->nodes[i].removed && c->nodes[i].id != id) left++;
    if (left == 0) {
        snprintf(msg, msglen, "node %" PRIu64 " is the last node of the cluster", id);
        return -SL_ECONFLICT;
    }
    long moved = 0;
    for (size_t i = 0; i < c->ntopics; i++) {
        mtopic_t *t = c->topics[i];
        if (t->rf > left) {
            snprintf(msg, msglen, "topic \"%s\" has replication_factor %u; without node %" PRIu64
                     " the cluster has %zu nodes", t->cfg.name, t->rf, id, left);
            return -SL_ECONFLICT;
        }
        for (size_t k = 0; k < (size_t)t->cfg.partitions * t->rf; k++)
            if (t->replicas[k] == id) moved++;
    }
    return moved;
}

/* Each replica of the node goes to the member holding the fewest replicas that is not in that
 * partition's set yet (the lowest id among equals): the same choice on every node. The new
 * replica takes the removed one's place in the list, so it also becomes the preferred leader
 * where the removed node was. */
static int node_remove_apply(sl_cluster_t *c, uint64_t id, char *msg, size_t msglen) {
    long moved = remove_check(c, id, msg, msglen);
    if (moved < 0) return (int)moved;
    node_t *n = (node_t *)sl__node_find(c, id);
    n->removed = 1;
    if (id == c->self) c->removed = 1;
    size_t load[MAX_NODES] = {0};
    for (size_t ti = 0; ti < c->ntopics; ti++) {
        mtopic_t *t = c->topics[ti];
        for (size_t k = 0; k < (size_t)t->cfg.partitions * t->rf; k++)
            for (size_t i = 0; i < c->nnodes; i++)
                if (c->nodes[i].id == t->replicas[k]) load[i]++;
    }
    for (size_t ti = 0; ti < c->ntopics; ti++) {
        mtopic_t *t = c->topics[ti];
        for (uint32_t p = 0; p < t->cfg.partitions; p++) {
            uint64_t *set = &t->replicas[(size_t)p * t->rf];
            int changed = 0;
            for (uint32_t j = 0; j < t->rf; j++) {
                if (set[j] != id) continue;
                size_t best = SIZE_MAX;
                for (size_t i = 0; i < c->nnodes; i++) {
                    if (c->nodes[i].removed) continue;
                    int in = 0;
                    for (uint32_t k = 0; k < t->rf; k++)
                        if (set[k] == c->nodes[i].id) in = 1;
                    if (in) continue;
                    if (best == SIZE_MAX || load[i] < load[best] ||
                        (load[i] == load[best] && c->nodes[i].id < c->nodes[best].id))
                        best = i;
                }
                if (best == SIZE_MAX) continue; /* remove_check makes this impossible */
                set[j] = c->nodes[best].id;
                load[best]++;
                changed = 1;
            }
            if (changed) sl__part_placement(c, t, p);
        }
    }
    sl_info("cluster: node %" PRIu64 " removed; %ld partition replicas move to other nodes", id, moved);
    return 0;
}

#define META_MAGIC 0x534c4d31u /* "SLM1" */
#define SNAP_MAGIC1 0x534c5331u /* "SLS1": before membership changes */
#define SNAP_MAGIC 0x534c5332u  /* "SLS2": nodes carry a removed flag, topics their first placement */

/* A command's own status goes back to its proposer; the state changes the same way on every
 * node (nothing here may depend on local conditions). */
static int meta_apply_cmd(sl_cluster_t *c, sl_reader_t *r, char *msg, size_t msglen) {
    uint8_t cmd = sl_r_u8(r);
    switch (cmd) {
    case CMD_NODE: {               /* a node telling its addresses */
        uint64_t id = sl_r_u64(r);
        char addr[256], http[256];
        sl_r_str(r, addr, sizeof(addr));
        sl_r_str(r, http, sizeof(http));
        if (r->bad) return -SL_ECORRUPT;
        const node_t *n = sl__node_find(c, id);
        if (n && n->removed) {
            snprintf(msg, msglen, "node %" PRIu64 " was removed from the cluster", id);
            return -SL_ECONFLICT;
        }
        node_upsert(c, id, addr, http);
        return 0;
    }
    case CMD_NODE_ADD: {
        uint64_t id = sl_r_u64(r);
        char addr[256];
        sl_r_str(r, addr, sizeof(addr));
        if (r->bad || !id || !addr[0]) return -SL_ECORRUPT;
        node_t *n = (node_t *)sl__node_find(c, id);
        if (n && !n->removed && n->addr[0] && strcmp(n->addr, addr)) {
            snprintf(msg, msglen, "node %" PRIu64 " is a member with address %s", id, n->addr);
            return -SL_ECONFLICT;
        }
        if (!n && c->nnodes == MAX_NODES) {
            snprintf(msg, msglen, "a cluster has at most %d nodes", MAX_NODES);
            return -SL_ETOOBIG;
        }
        if (n && n->removed) n->http[0] = 0; /* it tells its HTTP address again */
        node_upsert(c, id, addr, NULL);
        n = (node_t *)sl__node_find(c, id);
        if (n) n->removed = 0;
        if (id == c->self) c->removed = 0;
        return 0;
    }
    case CMD_NODE_REMOVE: {
        uint64_t id = sl_r_u64(r);
        if (r->bad) return -SL_ECORRUPT;
        return node_remove_apply(c, id, msg, msglen);
    }
    case CMD_TOPIC_CREATE: {
        mtopic_t *t = decode_topic(r);
        if (!t) return -SL_ECORRUPT;
        if (sl__topic_find_meta(c, t->cfg.name)) {
            snprintf(msg, msglen, "topic \"%s\" already exists", t->cfg.name);
            mtopic_free(t);
            return -SL_EEXIST;
        }
        if (topics_add(c, t)) {
            mtopic_free(t);
            return -SL_ENOMEM;
        }
        sl__part_topic_start(c, t);
        return 0;
    }
    case CMD_OFFSETS: {
        int rc = offsets_decode_store(c, r);
        if (rc && rc != -SL_ECORRUPT) sl_error("cluster: storing committed offsets: %s", sl_strerror(rc));
        return rc == -SL_ECORRUPT ? rc : 0;
    }
    case CMD_TOPIC_DELETE: {
        char name[SL_TOPIC_NAME_MAX + 1];
        sl_r_str(r, name, sizeof(name));
        if (r->bad) return -SL_ECORRUPT;
        mtopic_t *t = sl__topic_find_meta(c, name);
        if (!t) {
            snprintf(msg, msglen, "no topic \"%s\"", name);
            return -SL_ENOTFOUND;
        }
        topics_remove(c, t);
        sl__part_topic_stop(c, t, 1);
        mtopic_free(t);
        return 0;
    }
    }
    return -SL_ECORRUPT;
}

static void meta_waits_check(sl_cluster_t *c, uint64_t now);

static int meta_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    group_t *g = fsm->data;
    sl_cluster_t *c = g->c;
    *result = NULL;
    sl_reader_t r;
    sl_r_init(&r, buf->base, buf->len);
    uint32_t magic = sl_r_u32(&r);
    uint64_t origin = sl_r_u64(&r), epoch = sl_r_u64(&r), serial = sl_r_u64(&r);
    char msg[512] = "";
    int status = magic == META_MAGIC && !r.bad ? meta_apply_cmd(c, &r, msg, sizeof(msg)) : -SL_ECORRUPT;
    if (status == -SL_ECORRUPT) sl_error("cluster: a metadata entry failed to decode; skipped");
    if (origin == c->self && epoch == c->epoch) {
        for (prop_t *p = g->props; p; p = p->next) {
            if (p->serial != serial || p->applied) continue;
            p->applied = 1;
            /* index: this entry is applied once last_applied reaches the next one */
            p->meta_done(c, p->meta_ud, status, msg[0] ? msg : NULL, raft_last_applied(&g->raft) + 1);
            break;
        }
    }
    meta_waits_check(c, sl__cluster_now_ms());
    return 0;
}

int sl__snapshot_bufs(sl_buf_t *b, struct raft_buffer *bufs[], unsigned *n) {
    struct raft_buffer *v = raft_malloc(sizeof(*v));
    void *data = b->data ? raft_malloc(b->len) : NULL;
    if (!v || !data) {
        raft_free(v);
        raft_free(data);
        sl_buf_free(b);
        return RAFT_NOMEM;
    }
    memcpy(data, b->data, b->len);
    v->base = data;
    v->len = b->len;
    sl_buf_free(b);
    *bufs = v;
    *n = 1;
    return 0;
}

static int meta_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    group_t *g = fsm->data;
    sl_cluster_t *c = g->c;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u32(&b, SNAP_MAGIC);
    sl_w_u32(&b, (uint32_t)c->nnodes);
    for (size_t i = 0; i < c->nnodes; i++) {
        sl_w_u64(&b, c->nodes[i].id);
        sl_w_str(&b, c->nodes[i].addr);
        sl_w_str(&b, c->nodes[i].http);
        sl_w_u8(&b, (uint8_t)c->nodes[i].removed);
    }
    sl_w_u32(&b, (uint32_t)c->ntopics);
    for (size_t i = 0; i < c->ntopics; i++) {
        encode_topic(&b, c->topics[i]);
        encode_boot(&b, c->topics[i]);
    }
    /* every group's committed offsets, as this node's engine holds them (it applied them all) */
    char **names = NULL;
    size_t ng = 0;
    if (sl_group_list(c->e, &names, &ng)) ng = 0;
    sl_w_u32(&b, (uint32_t)ng);
    for (size_t i = 0; i < ng; i++) {
        sl_group_info_t gi;
        memset(&gi, 0, sizeof(gi));
        int ok = sl_group_describe(c->e, names[i], &gi) == 0;
        sl_w_str(&b, names[i]);
        uint32_t nc = 0;
        for (size_t k = 0; ok && k < gi.offset_count; k++)
            if (gi.offsets[k].committed >= 0) nc++;
        sl_w_u32(&b, nc);
        for (size_t k = 0; ok && k < gi.offset_count; k++) {
            if (gi.offsets[k].committed < 0) continue;
            sl_w_str(&b, gi.offsets[k].tp.topic);
            sl_w_u32(&b, gi.offsets[k].tp.partition);
            sl_w_i64(&b, gi.offsets[k].committed);
        }
        if (ok) sl_group_info_free(&gi);
    }
    if (names) sl_names_free(names, ng);
    c->snapshots++;
    return sl__snapshot_bufs(&b, bufs, n);
}

static int meta_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    group_t *g = fsm->data;
    sl_cluster_t *c = g->c;
    sl_reader_t r;
    sl_r_init(&r, buf->base, buf->len);
    uint32_t magic = sl_r_u32(&r);
    if (magic != SNAP_MAGIC && magic != SNAP_MAGIC1) return RAFT_MALFORMED; /* raft frees buf on errors */
    int v2 = magic == SNAP_MAGIC;
    uint32_t nn = sl_r_u32(&r);
    for (uint32_t i = 0; i < nn && !r.bad; i++) {
        uint64_t id = sl_r_u64(&r);
        char addr[256], http[256];
        sl_r_str(&r, addr, sizeof(addr));
        sl_r_str(&r, http, sizeof(http));
        int removed = v2 ? sl_r_u8(&r) : 0;
        if (r.bad) break;
        node_upsert(c, id, addr, http);
        node_t *n = (node_t *)sl__node_find(c, id);
        if (n) n->removed = removed;
        if (id == c->self) c->removed = removed;
    }
    uint32_t nt = sl_r_u32(&r);
    mtopic_t **fresh = calloc(nt + 1, sizeof(*fresh));
    size_t nf = 0;
    for (uint32_t i = 0; i < nt && !r.bad && fresh; i++) {
        mtopic_t *t = decode_topic(&r);
        if (t && v2) decode_boot(&r, t);
        if (t) fresh[nf++] = t;
    }
    uint32_t ng = sl_r_u32(&r);
    for (uint32_t i = 0; i < ng && !r.bad; i++) offsets_decode_store(c, &r);
    if (r.bad || !fresh) {
        for (size_t i = 0; i < nf; i++) mtopic_free(fresh[i]);
        free(fresh);
        return RAFT_MALFORMED;
    }
    raft_free(buf->base);
    /* Topics gone or re-created: stop them; new ones: start. */
    for (size_t i = c->ntopics; i-- > 0;) {
        mtopic_t *old = c->topics[i];
        int keep = 0;
        for (size_t k = 0; k < nf; k++)
            if (!strcmp(fresh[k]->cfg.name, old->cfg.name) && fresh[k]->inc == old->inc) keep = 1;
        if (!keep) {
            topics_remove(c, old);
            sl__part_topic_stop(c, old, 1);
            mtopic_free(old);
        }
    }
    for (size_t k = 0; k < nf; k++) {
        mtopic_t *old = sl__topic_find_meta(c, fresh[k]->cfg.name);
        if (old) { /* the same incarnation: its placement may have moved since */
            size_t np = old->cfg.partitions, rf = old->rf;
            for (uint32_t p = 0; p < np; p++) {
                if (!memcmp(&old->replicas[p * rf], &fresh[k]->replicas[p * rf], rf * sizeof(uint64_t))) continue;
                memcpy(&old->replicas[p * rf], &fresh[k]->replicas[p * rf], rf * sizeof(uint64_t));
                sl__part_placement(c, old, p);
            }
            mtopic_free(fresh[k]);
            continue;
        }
        if (topics_add(c, fresh[k])) {
            mtopic_free(fresh[k]);
            continue;
        }
        sl__part_topic_start(c, fresh[k]);
    }
    free(fresh);
    c->restores++;
    return 0;
}

/* ---- metadata proposals --------------------------------------------------------------------- */

static void meta_apply_cb(struct raft_apply *req, int status, void *result) {
    (void)result;
    prop_t *p = req->data;
    group_t *g = p->g;
    for (prop_t **pp = &g->props; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (!p->applied) {
        int st = status == RAFT_NOTLEADER ? -SL_ENOLEADER
                 : status == RAFT_LEADERSHIPLOST ? -SL_ETIMEDOUT
                 : status == RAFT_SHUTDOWN ? -SL_ECLOSED
                 : -SL_EIO;
        p->meta_done(g->c, p->meta_ud, st, NULL, 0);
    }
    free(p);
}

/* Proposes cmd (the bytes after the header) to the metadata group, here (we lead) or at the
 * leader. done runs once, with the index at which it is applied. */
static void meta_forward_done(call_t *k, int status, const char *p, size_t len);

void sl__meta_propose(sl_cluster_t *c, const sl_buf_t *cmd, meta_done_fn done, void *ud) {
    group_t *g = c->meta;
    if (c->closing || !g || !g->started) {
        done(c, ud, -SL_ECLOSED, NULL, 0);
        return;
    }
    if (raft_state(&g->raft) == RAFT_LEADER && raft_transferee(&g->raft) == 0) {
        prop_t *p = calloc(1, sizeof(*p));
        size_t elen = (cmd->len + 28 + 7) & ~(size_t)7; /* raft_uv wants 8-byte multiples */
        struct raft_buffer rb = {raft_calloc(1, elen), elen};
        if (!p || !rb.base) {
            free(p);
            raft_free(rb.base);
            done(c, ud, -SL_ENOMEM, NULL, 0);
            return;
        }
        p->g = g;
        p->serial = ++c->serial;
        p->meta_done = done;
        p->meta_ud = ud;
        unsigned char *h = rb.base;
        sl_be32_put(h, META_MAGIC);
        sl_be64_put(h + 4, c->self);
        sl_be64_put(h + 12, c->epoch);
        sl_be64_put(h + 20, p->serial);
        memcpy(h + 28, cmd->data, cmd->len);
        p->req.data = p;
        p->next = g->props;
        g->props = p;
        int rv = raft_apply(&g->raft, &p->req, &rb, 1, meta_apply_cb);
        if (rv) { /* see group_flush (part.c) for who owns the buffer now */
            if (rv == RAFT_NOTLEADER || rv == RAFT_NOSPACE) raft_free(rb.base);

            sl_debug("cluster: metadata proposal refused: %s", raft_strerror(rv));
            g->props = p->next;
            free(p);
            done(c, ud, rv == RAFT_NOTLEADER ? -SL_ENOLEADER : -SL_EIO, NULL, 0);
        }
        return;
    }
    raft_id leader;
    const char *addr;
    raft_leader(&g->raft, &leader, &addr);
    if (!leader || leader == c->self) {
        done(c, ud, -SL_ENOLEADER, NULL, 0);
        return;
    }
    call_t *k = sl__call_new(c, leader, RPC_META, c->cfg.request_timeout_ms, meta_forward_done, ud);
    if (!k) {
        done(c, ud, -SL_ENOMEM, NULL, 0);
        return;
    }
    k->ud2 = (void *)done;
    sl__call_send(c, k, cmd);
}

static void meta_forward_done(call_t *k, int status, const char *p, size_t len) {
    meta_done_fn done = (meta_done_fn)k->ud2;
    if (status) {
        done(k->c, k->ud, status, NULL, 0);
        return;
    }
    sl_reader_t r;
    sl_r_init(&r, p, len);
    int st = (int32_t)sl_r_u32(&r);
    uint64_t index = sl_r_u64(&r);
    char msg[512];
    sl_r_str(&r, msg, sizeof(msg));
    if (r.bad) {
        done(k->c, k->ud, -SL_ECORRUPT, NULL, 0);
        return;
    }
    done(k->c, k->ud, st, msg[0] ? msg : NULL, index);
}

typedef struct meta_serve {
    uint64_t from, corr;
} meta_serve_t;

static void meta_served(sl_cluster_t *c, void *ud, int status, const char *msg, uint64_t index) {
    meta_serve_t *m = ud;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u32(&b, (uint32_t)status);
    sl_w_u64(&b, index);
    sl_w_str(&b, msg ? msg : "");
    sl__reply(c, m->from, RPC_META_R, m->corr, &b);
    sl_buf_free(&b);
    free(m);
}

void sl__meta_serve(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len) {
    meta_serve_t *m = malloc(sizeof(*m));
    if (!m) return;
    m->from = from;
    m->corr = corr;
    sl_buf_t cmd = {(char *)p, len, len};
    group_t *g = c->meta;
    if (!g || raft_state(&g->raft) != RAFT_LEADER) { /* no second hop: the caller retries */
        meta_served(c, m, -SL_ENOLEADER, NULL, 0);
        return;
    }
    sl__meta_propose(c, &cmd, meta_served, m);
}

/* Waiting until this node's metadata has applied index (read-your-writes for the caller). */
static void meta_waits_check(sl_cluster_t *c, uint64_t now) {
    if (!c->meta) return;
    raft_index applied = raft_last_applied(&c->meta->raft);
    for (meta_wait_t **pp = &c->waits; *pp;) {
        meta_wait_t *w = *pp;
        int ready = w->index <= applied, late = now >= w->deadline_ms || c->closing;
        if (!ready && !late) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->cb(w->ud, ready ? w->status : -SL_ETIMEDOUT, w->msg);
        free(w->msg);
        free(w);
    }
}

typedef struct user_op {
    sl_cluster_done_cb cb;
    void *ud;
} user_op_t;

static void user_op_done(sl_cluster_t *c, void *ud, int status, const char *msg, uint64_t index) {
    user_op_t *u = ud;
    meta_wait_t *w = status == 0 ? calloc(1, sizeof(*w)) : NULL;
    if (!w) {
        u->cb(u->ud, status, msg);
        free(u);
        return;
    }
    w->index = index;
    w->deadline_ms = sl__cluster_now_ms() + c->cfg.request_timeout_ms;
    w->cb = u->cb;
    w->ud = u->ud;
    w->status = status;
    w->msg = msg ? strdup(msg) : NULL;
    w->next = c->waits;
    c->waits = w;
    free(u);
    meta_waits_check(c, sl__cluster_now_ms());
}

/* Proposes the command in b (freed here) for an API caller; cb once this node applied it. */
static int user_propose(sl_cluster_t *c, sl_buf_t *b, sl_cluster_done_cb cb, void *ud) {
    user_op_t *u = malloc(sizeof(*u));
    if (!u || !b->data) {
        free(u);
        sl_buf_free(b);
        return -SL_ENOMEM;
    }
    u->cb = cb;
    u->ud = ud;
    sl__meta_propose(c, b, user_op_done, u);
    sl_buf_free(b);
    return 0;
}

/* The members' ids (removed nodes left out unless with_removed), ascending. */
static size_t nodes_sorted_ex(sl_cluster_t *c, uint64_t *ids, int with_removed) {
    size_t n = 0;
    for (size_t i = 0; i < c->nnodes; i++)
        if (with_removed || !c->nodes[i].removed) ids[n++] = c->nodes[i].id;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && ids[k - 1] > ids[k]; k--) {
            uint64_t t = ids[k];
            ids[k] = ids[k - 1];
            ids[k - 1] = t;
        }
    return n;
}

static size_t nodes_sorted(sl_cluster_t *c, uint64_t *ids) { return nodes_sorted_ex(c, ids, 0); }

int sl_cluster_topic_create(sl_cluster_t *c, const sl_topic_config_t *cfg, uint32_t rf,
                            sl_cluster_done_cb cb, void *ud) {
    uint64_t ids[MAX_NODES];
    size_t n = nodes_sorted(c, ids);
    if (n == 0) return -SL_ENOLEADER;
    if (rf == 0) rf = n < 3 ? (uint32_t)n : 3;
    if (rf > n || rf > 5) return -SL_ERANGE;
    if (sl__topic_find_meta(c, cfg->name)) return -SL_EEXIST;
    mtopic_t t;
    memset(&t, 0, sizeof(t));
    t.cfg = *cfg;
    t.cfg.created_ms = sl_now_ms();
    t.rf = rf;
    /* The incarnation tells this topic from an earlier one of the same name. */
    t.inc = (uint64_t)t.cfg.created_ms * 1000 + (uint64_t)(sl_mono_ns() % 1000);
    t.replicas = malloc((size_t)cfg->partitions * rf * sizeof(uint64_t));
    if (!t.replicas) return -SL_ENOMEM;
    /* Replica sets rotate over the nodes; where partition 0 starts depends on the name, so
     * several topics do not all lead from the same node. */
    uint32_t start = sl_kafka_partition(cfg->name, strlen(cfg->name), (uint32_t)n);
    for (uint32_t p = 0; p < cfg->partitions; p++)
        for (uint32_t j = 0; j < rf; j++) t.replicas[(size_t)p * rf + j] = ids[(start + p + j) % n];
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_TOPIC_CREATE);
    encode_topic(&b, &t);
    free(t.replicas);
    return user_propose(c, &b, cb, ud);
}

int sl_cluster_topic_delete(sl_cluster_t *c, const char *name, sl_cluster_done_cb cb, void *ud) {
    if (!sl__topic_find_meta(c, name)) return -SL_ENOTFOUND;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_TOPIC_DELETE);
    sl_w_str(&b, name);
    return user_propose(c, &b, cb, ud);
}

int sl_cluster_node_add(sl_cluster_t *c, uint64_t id, const char *address, sl_cluster_done_cb cb, void *ud) {
    struct sockaddr_storage sa;
    if (!id || id > 0x7fffffffULL || !address || strlen(address) >= 256 || sl_parse_hostport(address, &sa))
        return -SL_EINVAL;
    const node_t *n = sl__node_find(c, id);
    if (n && !n->removed && n->addr[0] && strcmp(n->addr, address)) return -SL_ECONFLICT;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_NODE_ADD);
    sl_w_u64(&b, id);
    sl_w_str(&b, address);
    return user_propose(c, &b, cb, ud);
}

int sl_cluster_node_remove(sl_cluster_t *c, uint64_t id, size_t *moved, sl_cluster_done_cb cb, void *ud) {
    char msg[256];
    long m = remove_check(c, id, msg, sizeof(msg));
    if (m < 0) return (int)m;
    if (moved) *moved = (size_t)m;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_NODE_REMOVE);
    sl_w_u64(&b, id);
    return user_propose(c, &b, cb, ud);
}

int sl_cluster_removed(sl_cluster_t *c) { return c->removed; }

int sl_cluster_topic_get(sl_cluster_t *c, const char *name, sl_topic_config_t *cfg, uint32_t *rf) {
    mtopic_t *t = sl__topic_find_meta(c, name);
    if (!t) return -SL_ENOTFOUND;
    if (cfg) *cfg = t->cfg;
    if (rf) *rf = t->rf;
    return 0;
}

int sl_cluster_topic_list(sl_cluster_t *c, char ***names, size_t *count) {
    char **v = calloc(c->ntopics + 1, sizeof(*v));
    if (!v) return -SL_ENOMEM;
    for (size_t i = 0; i < c->ntopics; i++) {
        v[i] = strdup(c->topics[i]->cfg.name);
        if (!v[i]) {
            sl_names_free(v, i);
            return -SL_ENOMEM;
        }
    }
    /* sorted, like the engine's list */
    for (size_t i = 1; i < c->ntopics; i++)
        for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
            char *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    *names = v;
    *count = c->ntopics;
    return 0;
}

int sl_cluster_offsets_commit(sl_cluster_t *c, const char *group, const sl_commit_t *cm, size_t n,
                              sl_cluster_done_cb cb, void *ud) {
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_OFFSETS);
    sl_w_str(&b, group);
    sl_w_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        sl_w_str(&b, cm[i].topic);
        sl_w_u32(&b, cm[i].partition);
        sl_w_i64(&b, cm[i].offset);
    }
    return user_propose(c, &b, cb, ud);
}

uint64_t sl_cluster_meta_leader(sl_cluster_t *c) {
    if (!c->meta || !c->meta->started) return 0;
    raft_id id;
    const char *addr;
    raft_leader(&c->meta->raft, &id, &addr);
    return id;
}

/* ---- forwarded HTTP requests --------------------------------------------------------------------- */

void sl_cluster_set_http(sl_cluster_t *c, sl_cluster_http_serve_fn fn, void *ud) {
    c->http_fn = fn;
    c->http_ud = ud;
}

typedef struct http_reply {
    sl_cluster_t *c;
    uint64_t from, corr;
} http_reply_t;

static void http_served(void *ud, int status, const char *ctype, const char *extra, const char *body, size_t len) {
    http_reply_t *h = ud;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u32(&b, (uint32_t)status);
    sl_w_str(&b, ctype ? ctype : "");
    sl_w_str(&b, extra ? extra : "");
    sl_w_bytes(&b, body ? body : "", len);
    if (!h->c->closing) sl__reply(h->c, h->from, RPC_HTTP_R, h->corr, &b);
    sl_buf_free(&b);
    free(h);
}

static void http_serve(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len) {
    sl_reader_t r;
    sl_r_init(&r, p, len);
    int method = sl_r_u8(&r);
    char path[2048], query[4096], ctype[256];
    sl_r_str(&r, path, sizeof(path));
    sl_r_str(&r, query, sizeof(query));
    sl_r_str(&r, ctype, sizeof(ctype));
    size_t blen;
    const char *body = sl_r_bytes(&r, &blen);
    if (r.bad || !c->http_fn) return; /* the caller times out */
    http_reply_t *h = malloc(sizeof(*h));
    if (!h) return;
    h->c = c;
    h->from = from;
    h->corr = corr;
    c->http_fn(c->http_ud, method, path, query, ctype, body, blen, http_served, h);
}

typedef struct http_fwd {
    sl_cluster_http_reply_cb cb;
    void *ud;
} http_fwd_t;

static void http_forwarded(call_t *k, int status, const char *p, size_t len) {
    http_fwd_t f = *(http_fwd_t *)k->ud2;
    free(k->ud2);
    if (status) {
        f.cb(f.ud, status, NULL, NULL, NULL, 0);
        return;
    }
    sl_reader_t r;
    sl_r_init(&r, p, len);
    int st = (int)sl_r_u32(&r);
    char ctype[256], extra[1024];
    sl_r_str(&r, ctype, sizeof(ctype));
    sl_r_str(&r, extra, sizeof(extra));
    size_t blen;
    const char *body = sl_r_bytes(&r, &blen);
    if (r.bad) {
        f.cb(f.ud, -SL_ECORRUPT, NULL, NULL, NULL, 0);
        return;
    }
    f.cb(f.ud, st, ctype, extra[0] ? extra : NULL, body, blen);
}

int sl_cluster_http_forward(sl_cluster_t *c, uint64_t node, int method, const char *path, const char *query,
                            const char *ctype, const char *body, size_t len, uint64_t timeout_ms,
                            sl_cluster_http_reply_cb cb, void *ud, sl_cluster_call_t **out) {
    http_fwd_t *f = malloc(sizeof(*f));
    if (!f) return -SL_ENOMEM;
    f->cb = cb;
    f->ud = ud;
    call_t *k = sl__call_new(c, node, RPC_HTTP, timeout_ms, http_forwarded, NULL);
    if (!k) {
        free(f);
        return -SL_ENOMEM;
    }
    k->ud2 = f;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, (uint8_t)method);
    sl_w_str(&b, path);
    sl_w_str(&b, query);
    sl_w_str(&b, ctype);
    sl_w_bytes(&b, body ? body : "", len);
    c->forwarded++;
    *out = (sl_cluster_call_t *)k;
    if (!b.data || sl_mux_send(c->mux, node, RPC_HTTP, k->id, b.data, b.len)) {
        sl_buf_free(&b);
        k->ud2 = NULL; /* freed below */
        sl_cluster_call_cancel(c, *out);
        free(f);
        *out = NULL;
        return -SL_EUNAVAIL;
    }
    sl_buf_free(&b);
    return 0;
}

/* ---- node registration and ticks -------------------------------------------------------------- */

static void register_done(sl_cluster_t *c, void *ud, int status, const char *msg, uint64_t index) {
    (void)ud;
    (void)msg;
    (void)index;
    if (status == 0) c->registered = 1;
}

static void maybe_register(sl_cluster_t *c, uint64_t now) {
    if (c->registered || now - c->last_register_ms < 500) return;
    const node_t *n = sl__node_find(c, c->self);
    if (n && !strcmp(n->addr, c->self_addr) && !strcmp(n->http, c->http)) {
        c->registered = 1;
        return;
    }
    raft_id leader;
    const char *addr;
    raft_leader(&c->meta->raft, &leader, &addr);
    if (!leader) return;
    c->last_register_ms = now;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, CMD_NODE);
    sl_w_u64(&b, c->self);
    sl_w_str(&b, c->self_addr);
    sl_w_str(&b, c->http);
    sl__meta_propose(c, &b, register_done, NULL);
    sl_buf_free(&b);
}

static void transfer_free(struct raft_transfer *req) { free(req); }

/* Hands g's leadership to node `to` (0: the voter raft finds most up to date). */
void sl__raft_transfer(group_t *g, uint64_t to) {
    struct raft_transfer *tr = calloc(1, sizeof(*tr));
    if (tr && raft_transfer(&g->raft, tr, to, transfer_free)) free(tr);
}

static void change_done(struct raft_change *req, int status) {
    (void)status;
    free(req);
}

/* One membership change of a Raft group, asked of raft (its leader); raft allows one at a time
 * and refuses another (RAFT_CANTCHANGE) until the last is committed: the next tick tries again. */
int sl__raft_change(group_t *g, int op, uint64_t id, const char *addr, int role) {
    struct raft_change *req = calloc(1, sizeof(*req));
    if (!req) return RAFT_NOMEM;
    int rv = op == 'a' ? raft_add(&g->raft, req, id, addr, change_done)
           : op == 's' ? raft_assign(&g->raft, req, id, role, change_done)
                       : raft_remove(&g->raft, req, id, change_done);
    if (rv) free(req);
    else sl_info("cluster: %s: %s node %" PRIu64 "%s", g->name, op == 'a' ? "adding" : op == 's' ? "promoting" : "removing",
                 id, op == 's' ? (role == RAFT_VOTER ? " to voter" : role == RAFT_STANDBY ? " to standby" : " to spare") : "");
    return rv;
}

int sl__conf_role(const struct raft_configuration *conf, uint64_t id) {
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id == id) return conf->servers[i].role;
    return -1;
}

/* The metadata leader makes the metadata group's configuration follow the member list: a new
 * member joins as a spare, then becomes a voter while there are fewer than 5 (raft catches it
 * up before it votes) or a standby; a removed member leaves (the leader hands over first). */
static void meta_reconcile(sl_cluster_t *c, uint64_t now) {
    group_t *g = c->meta;
    if (!g || !g->started || g->closing || raft_state(&g->raft) != RAFT_LEADER) return;
    if (now - c->last_meta_change_ms < 200 || raft_transferee(&g->raft)) return;
    const struct raft_configuration *conf = &g->raft.configuration;
    size_t members = 0, voters = 0;
    for (size_t i = 0; i < c->nnodes; i++) {
        const node_t *n = &c->nodes[i];
        if (n->removed) continue;
        members++;
        if (sl__conf_role(conf, n->id) == RAFT_VOTER) voters++;
    }
    size_t want = members < 5 ? members : 5;
    for (unsigned i = 0; i < conf->n; i++) {
        node_t *n = (node_t *)sl__node_find(c, conf->servers[i].id);
        if (n && !n->removed) continue;
        if (n && conf->servers[i].id != c->self) {
            /* The removed node must apply its own removal before it leaves: once out, it is sent
             * nothing, and the partitions it leads would never learn where their replicas go.
             * Its log holds all we applied and it has had a second of heartbeats (the commit
             * index) to apply it; or it has been unreachable for 10 s. */
            if (!n->removed_seen_ms) n->removed_seen_ms = now;
            raft_index m = 0;
            int has = raft_match_index(&g->raft, n->id, &m) == 0 && m >= raft_last_applied(&g->raft);
            if (now - n->removed_seen_ms < (has ? 1000u : 10000u)) continue;
        }
        c->last_meta_change_ms = now;
        if (conf->servers[i].id != c->self) {
            sl__raft_change(g, 'r', conf->servers[i].id, NULL, 0);
        } else { /* leaving: another voter leads first */
            sl__raft_transfer(g, 0);
        }
        return;
    }
    for (size_t i = 0; i < c->nnodes; i++) {
        const node_t *n = &c->nodes[i];
        if (n->removed || !n->addr[0]) continue;
        int role = sl__conf_role(conf, n->id);
        if (role < 0) {
            c->last_meta_change_ms = now;
            sl__raft_change(g, 'a', n->id, n->addr, 0);
            return;
        }
        if (role != RAFT_VOTER && (voters < want || role == RAFT_SPARE)) {
            c->last_meta_change_ms = now;
            sl__raft_change(g, 's', n->id, NULL, voters < want ? RAFT_VOTER : RAFT_STANDBY);
            return;
        }
    }
}

static void tick_cb(uv_timer_t *t) {
    sl_cluster_t *c = t->data;
    uint64_t now = sl__cluster_now_ms();
    peers_down_apply(c);
    calls_expire(c, now);
    meta_waits_check(c, now);
    if (c->closing) return;
    if (c->meta && c->meta->started) {
        if (!c->removed) maybe_register(c, now);
        meta_reconcile(c, now);
    }
    sl__part_tick(c, now);
}

static void flush_cb(uv_timer_t *t) { sl__part_flush_all(t->data); }

void sl__flush_schedule(sl_cluster_t *c) {
    if (!uv_is_active((uv_handle_t *)&c->flush_timer)) uv_timer_start(&c->flush_timer, flush_cb, 0, 0);
}

/* ---- groups: common ------------------------------------------------------------------------ */

static void group_closed(struct raft *r) {
    group_t *g = r->data;
    sl_cluster_t *c = g->c;
    raft_uv_close(&g->io);
    sl_mux_transport_free(&g->tr);
    sl__part_group_freed(c, g);
    free(g->name);
    free(g->dir);
    free(g);
    c->closing_groups--;
    sl__cluster_close_continue(c);
}

void sl__group_close(group_t *g) {
    if (g->closing) return;
    g->closing = 1;
    g->c->closing_groups++;
    if (g->started) {
        raft_close(&g->raft, group_closed);
    } else {
        g->raft.data = g;
        group_closed(&g->raft);
    }
}

int sl__group_start(sl_cluster_t *c, group_t *g, const uint64_t *voters, size_t nvoters) {
    int rc = sl__mkdir_p(g->dir);
    if (rc) {
        sl_error("cluster: cannot create %s", g->dir);
        return rc;
    }
    if (sl_mux_transport(c->mux, g->name, &g->tr)) return -SL_ENOMEM;
    int rv = raft_uv_init(&g->io, c->loop, g->dir, &g->tr);
    if (rv) {
        sl_error("cluster: raft_uv_init %s: %s", g->dir, raft_strerror(rv));
        sl_mux_transport_free(&g->tr);
        return -SL_EIO;
    }
    rv = raft_init(&g->raft, &g->io, &g->fsm, c->self, c->self_addr);
    if (rv) {
        sl_error("cluster: raft_init %s: %s", g->name, raft_strerror(rv));
        raft_uv_close(&g->io);
        sl_mux_transport_free(&g->tr);
        return -SL_EIO;
    }
    g->raft.data = g;
    raft_set_election_timeout(&g->raft, c->cfg.election_timeout_ms);
    raft_set_heartbeat_timeout(&g->raft, c->cfg.heartbeat_timeout_ms);
    raft_set_pre_vote(&g->raft, true);
    if (!g->meta) {
        /* until the entries' size is known (sl__part_apply_size): as if they were 64 KiB */
        g->snap_threshold = sl__snap_threshold(c, 64u << 10);
        raft_set_snapshot_threshold(&g->raft, g->snap_threshold);
        raft_set_snapshot_trailing(&g->raft, sl__snap_trailing(c, g->snap_threshold));
    }
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    for (size_t i = 0; i < nvoters; i++) {
        const char *addr = NULL;
        const node_t *n = sl__node_find(c, voters[i]);
        if (n && n->addr[0]) addr = n->addr;
        for (size_t k = 0; !addr && k < c->nboot; k++)
            if (c->boot_voters[k] == voters[i]) addr = c->boot_addr[k];
        if (!addr) continue;
        raft_configuration_add(&conf, voters[i], addr, RAFT_VOTER);
    }
    /* Without voters (a node joining a running cluster) there is nothing to bootstrap: the
     * leader that adds it sends the group's log. */
    rv = conf.n ? raft_bootstrap(&g->raft, &conf) : RAFT_CANTBOOTSTRAP;
    raft_configuration_close(&conf);
    if (rv && rv != RAFT_CANTBOOTSTRAP) {
        sl_error("cluster: bootstrap %s: %s", g->name, raft_strerror(rv));
        g->started = 1; /* raft_init succeeded: close through raft_close */
        return -SL_EIO;
    }
    g->started = 1;
    g->quiet_until_ms = sl__cluster_now_ms() + 10000; /* see part_snapshot */
    rv = raft_start(&g->raft);
    if (rv) {
        sl_error("cluster: raft_start %s: %s (%s)", g->name, raft_strerror(rv), raft_errmsg(&g->raft));
        return -SL_EIO;
    }
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

int sl_cluster_open(uv_loop_t *loop, sl_engine_t *e, const sl_cluster_config_t *cfg, sl_cluster_t **out) {
    const char *why = NULL;
    int rc = sl_cluster_config_check(cfg, &why);
    if (rc) {
        sl_error("cluster: %s", why);
        return rc;
    }
    sl_cluster_t *c = calloc(1, sizeof(*c));
    if (!c) return -SL_ENOMEM;
    c->loop = loop;
    c->e = e;
    c->cfg = *cfg;
    c->self = cfg->node_id;
    c->data_dir = strdup(cfg->data_dir);
    c->http = strdup(cfg->http_address ? cfg->http_address : "");
    c->members = strdup(cfg->members);
    c->raft_dir = malloc(strlen(cfg->data_dir) + 8);
    if (!c->data_dir || !c->http || !c->members || !c->raft_dir) goto nomem;
    sprintf(c->raft_dir, "%s/raft", cfg->data_dir);
    c->cfg.members = c->members;
    c->cfg.data_dir = c->data_dir;
    c->cfg.http_address = c->http;
    parse_members(cfg->members, c->boot_voters, c->boot_addr, &c->nboot, NULL);
    for (size_t i = 0; i < c->nboot; i++)
        if (c->boot_voters[i] == c->self) snprintf(c->self_addr, sizeof(c->self_addr), "%s", c->boot_addr[i]);
    c->epoch = (uint64_t)sl_now_ms() << 16 ^ (uint64_t)getpid();
    if (sl_mux_open(loop, c->self, c->self_addr, &c->mux)) goto nomem;
    sl_mux_set_rpc(c->mux, on_rpc, peer_down, c);
    for (size_t i = 0; i < c->nboot; i++) node_upsert(c, c->boot_voters[i], c->boot_addr[i], NULL);
    node_upsert(c, c->self, c->self_addr, NULL); /* its HTTP address comes through the metadata */
    rc = sl_mux_listen(c->mux);
    if (rc) {
        sl_error("cluster: cannot listen on %s: %s", c->self_addr, uv_strerror(rc));
        sl_mux_close(c->mux, NULL, NULL);
        free(c->data_dir);
        free(c->http);
        free(c->members);
        free(c->raft_dir);
        free(c);
        return -SL_EIO;
    }
    uv_timer_init(loop, &c->flush_timer);
    uv_timer_init(loop, &c->tick_timer);
    c->flush_timer.data = c->tick_timer.data = c;
    uv_timer_start(&c->tick_timer, tick_cb, 50, 50);
    /* The metadata group: the first five members of --cluster vote. */
    group_t *g = calloc(1, sizeof(*g));
    if (!g) goto nomem;
    g->c = c;
    g->meta = 1;
    g->name = strdup("meta");
    g->dir = malloc(strlen(c->raft_dir) + 8);
    if (!g->name || !g->dir) goto nomem;
    sprintf(g->dir, "%s/meta", c->raft_dir);
    g->fsm.version = 1;
    g->fsm.data = g;
    g->fsm.apply = meta_apply;
    g->fsm.snapshot = meta_snapshot;
    g->fsm.restore = meta_restore;
    c->meta = g;
    uint64_t voters[5];
    size_t nv = c->cfg.join ? 0 : c->nboot < 5 ? c->nboot : 5;
    memcpy(voters, c->boot_voters, nv * sizeof(uint64_t));
    rc = sl__group_start(c, g, voters, nv);
    if (rc) {
        sl_error("cluster: the metadata group did not start");
        *out = c;
        return rc; /* the caller closes */
    }
    sl_info("cluster: node %" PRIu64 " of %zu, internal %s", c->self, c->nboot, c->self_addr);
    *out = c;
    return 0;
nomem:
    /* only reachable before anything asynchronous was started, except the mux */
    if (c->mux) sl_mux_close(c->mux, NULL, NULL);
    free(c->data_dir);
    free(c->http);
    free(c->members);
    free(c->raft_dir);
    free(c);
    return -SL_ENOMEM;
}

static void mux_closed(void *arg) {
    sl_cluster_t *c = arg;
    void (*cb)(void *) = c->close_cb;
    void *cb_arg = c->close_arg;
    for (size_t i = 0; i < c->ntopics; i++) mtopic_free(c->topics[i]);
    free(c->topics);
    free(c->data_dir);
    free(c->http);
    free(c->members);
    free(c->raft_dir);
    free(c);
    if (cb) cb(cb_arg);
}

static void timer_closed(uv_handle_t *h) {
    sl_cluster_t *c = h->data;
    if (h == (uv_handle_t *)&c->tick_timer) sl_mux_close(c->mux, mux_closed, c);
}

void sl__cluster_close_continue(sl_cluster_t *c) {
    if (!c->closing || c->closing_groups > 0 || c->meta || c->groups) return;
    if (c->closing == 2) return;
    c->closing = 2;
    while (c->calls) sl__call_fail(c, c->calls, -SL_ECLOSED);
    meta_waits_check(c, UINT64_MAX);
    uv_close((uv_handle_t *)&c->flush_timer, timer_closed);
    uv_close((uv_handle_t *)&c->tick_timer, timer_closed);
}

void sl_cluster_close(sl_cluster_t *c, void (*cb)(void *arg), void *arg) {
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    sl__part_close_all(c);
    while (c->calls) sl__call_fail(c, c->calls, -SL_ECLOSED);
    meta_waits_check(c, UINT64_MAX);
    if (c->meta) {
        group_t *m = c->meta;
        sl__group_close(m);
    }
    sl__cluster_close_continue(c);
}

/* ---- status -------------------------------------------------------------------------------------- */

/* [ids] of the servers of conf with that role. */
void sl__json_role_ids(sl_buf_t *b, const struct raft_configuration *conf, int role) {
    sl_buf_putc(b, '[');
    int first = 1;
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].role != role) continue;
        sl_buf_printf(b, "%s%" PRIu64, first ? "" : ",", (uint64_t)conf->servers[i].id);
        first = 0;
    }
    sl_buf_putc(b, ']');
}

static void json_leader(sl_buf_t *b, struct raft *r) {
    raft_id id;
    const char *addr;
    raft_leader(r, &id, &addr);
    if (id) sl_buf_append_u64(b, id);
    else sl_buf_lit(b, "null");
}

int sl_cluster_status_json(sl_cluster_t *c, sl_buf_t *b) {
    sl_buf_printf(b, "{\"node_id\":%" PRIu64 ",\"nodes\":[", c->self);
    uint64_t ids[MAX_NODES];
    size_t n = nodes_sorted_ex(c, ids, 1);
    const struct raft_configuration *conf = c->meta && c->meta->started ? &c->meta->raft.configuration : NULL;
    for (size_t i = 0; i < n; i++) {
        const node_t *nd = sl__node_find(c, ids[i]);
        int role = conf ? sl__conf_role(conf, nd->id) : -1;
        sl_buf_printf(b, "%s{\"id\":%" PRIu64 ",\"address\":\"", i ? "," : "", nd->id);
        sl_buf_json_escape(b, nd->addr, strlen(nd->addr));
        sl_buf_lit(b, "\",\"http\":");
        if (nd->http[0]) {
            sl_buf_putc(b, '"');
            sl_buf_json_escape(b, nd->http, strlen(nd->http));
            sl_buf_putc(b, '"');
        } else {
            sl_buf_lit(b, "null");
        }
        sl_buf_printf(b, ",\"voter\":%s,\"role\":\"%s\",\"removed\":%s,\"reachable\":%s}",
                      role == RAFT_VOTER ? "true" : "false",
                      role == RAFT_VOTER ? "voter" : role == RAFT_STANDBY ? "standby" : role == RAFT_SPARE ? "spare" : "none",
                      nd->removed ? "true" : "false",
                      nd->id == c->self || sl_mux_connected(c->mux, nd->id) ? "true" : "false");
    }
    sl_buf_lit(b, "],\"metadata\":{\"leader\":");
    if (c->meta && c->meta->started) {
        json_leader(b, &c->meta->raft);
        sl_buf_printf(b, ",\"term\":%llu,\"commit_index\":%llu,\"applied_index\":%llu,\"voters\":",
                      (unsigned long long)raft_current_term(&c->meta->raft),
                      (unsigned long long)raft_commit_index(&c->meta->raft),
                      (unsigned long long)raft_last_applied(&c->meta->raft));
        sl__json_role_ids(b, conf, RAFT_VOTER);
        sl_buf_lit(b, ",\"standbys\":");
        sl__json_role_ids(b, conf, RAFT_STANDBY);
        sl_buf_putc(b, '}');
    } else {
        sl_buf_lit(b, "null}");
    }
    sl_buf_lit(b, ",\"partitions\":[");
    sl__part_status_json(c, b);
    sl_buf_lit(b, "]}\n");
    return b->data ? 0 : -SL_ENOMEM;
}

int sl_cluster_metrics(sl_cluster_t *c, sl_buf_t *b) {
    sl_buf_printf(b,
                  "# TYPE sluice_cluster_proposals_total counter\nsluice_cluster_proposals_total %" PRIu64 "\n"
                  "# TYPE sluice_cluster_forwarded_total counter\nsluice_cluster_forwarded_total %" PRIu64 "\n"
                  "# TYPE sluice_cluster_dedupe_hits_total counter\nsluice_cluster_dedupe_hits_total %" PRIu64 "\n"
                  "# TYPE sluice_cluster_snapshots_total counter\nsluice_cluster_snapshots_total %" PRIu64 "\n"
                  "# TYPE sluice_cluster_restores_total counter\nsluice_cluster_restores_total %" PRIu64 "\n"
                  "# TYPE sluice_cluster_copy_bytes_total counter\nsluice_cluster_copy_bytes_total %" PRIu64 "\n",
                  c->proposals, c->forwarded, c->dedupe_hits, c->snapshots, c->restores, c->copy_bytes);
    return b->data ? 0 : -SL_ENOMEM;
}
