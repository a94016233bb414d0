/* Partition groups: each partition's Raft group over its replica set.
 *
 * The state machine is the partition log (engine/replica.h). A Raft entry holds items, each
 * one Kafka record batch with the idempotent producer's id, sequence and batch number; many
 * HTTP requests share one entry (group commit through Raft). Applying an entry appends its
 * batches in order on every replica, so offsets agree everywhere; the node that proposed it
 * completes its waiting requests as it applies it (the entry names its origin).
 *
 * Snapshots are a manifest (the log's end offset and the producers' last sequences), taken
 * after the log is fsynced up to that end. A replica restoring a manifest its log does not
 * reach copies the missing batches from another replica, in CRC-checked chunks, while the
 * entries that arrive meanwhile wait in memory; one whose log reaches past it cuts the rest
 * (those entries will be applied again). */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/codec.h"
#include "cluster/part.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "storage/batch.h"

#define ENTRY_MAGIC 0x534c5031u   /* "SLP1" */
#define MANIFEST_MAGIC 0x534c4d46u /* "SLMF" */
#define ENTRY_HEADER 32

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int raft_status(int rv) {
    switch (rv) {
    case 0: return 0;
    case RAFT_NOTLEADER: return -SL_ENOLEADER;
    case RAFT_LEADERSHIPLOST: return -SL_ETIMEDOUT;
    case RAFT_SHUTDOWN: return -SL_ECLOSED;
    case RAFT_NOMEM: return -SL_ENOMEM;
    default: return -SL_EIO;
    }
}

static group_t *group_find(sl_cluster_t *c, const char *topic, uint32_t partition) {
    for (group_t *g = c->groups; g; g = g->next)
        if (!g->closing && g->partition == partition && !strcmp(g->topic, topic)) return g;
    return NULL;
}

static int is_leader(group_t *g) { return g->started && !g->closing && raft_state(&g->raft) == RAFT_LEADER; }

/* A partition group named in a message: topic, incarnation, partition. */
static void group_id_write(sl_buf_t *b, const group_t *g) {
    sl_w_str(b, g->topic);
    sl_w_u64(b, g->inc);
    sl_w_u32(b, g->partition);
}

/* The group a message names, if this node has it (that incarnation), else NULL. */
static group_t *group_id_read(sl_cluster_t *c, sl_reader_t *r) {
    char topic[SL_TOPIC_NAME_MAX + 1];
    sl_r_str(r, topic, sizeof(topic));
    uint64_t inc = sl_r_u64(r);
    uint32_t partition = sl_r_u32(r);
    group_t *g = r->bad ? NULL : group_find(c, topic, partition);
    return g && g->inc == inc ? g : NULL;
}

/* A one-way message about g to node `to` (RPC_STEPDOWN, RPC_LEFT_ASK, RPC_LEFT). */
static void send_group_msg(group_t *g, uint64_t to, uint8_t type) {
    sl_buf_t b = SL_BUF_INIT;
    group_id_write(&b, g);
    if (b.data) sl_mux_send(g->c->mux, to, type, 0, b.data, b.len);
    sl_buf_free(&b);
}

static int in_set(const uint64_t *set, uint32_t n, uint64_t id) {
    for (uint32_t i = 0; i < n; i++)
        if (set[i] == id) return 1;
    return 0;
}

static uint64_t leader_of(group_t *g) {
    raft_id id;
    const char *addr;
    raft_leader(&g->raft, &id, &addr);
    return id;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void sreq_free(sreq_t *s) {
    for (uint32_t b = 0; b < s->nb; b++) free(s->batches ? s->batches[b] : NULL);
    free(s->batches);
    free(s->blens);
    free(s->counts);
    free(s->bases);
    free(s->idx);
    free(s);
}

static void creq_part_done(creq_t *r, int status) {
    if (status && !r->status) r->status = status;
    if (--r->pending > 0) return;
    if (r->status) r->cb(r->ud, r->status, NULL, 0);
    else r->cb(r->ud, 0, r->offsets, r->n);
    free(r->offsets);
    free(r);
}

/* The part for one partition is over: answer the local request or the forwarding node. */
static void sreq_finish(sreq_t *s) {
    sl_cluster_t *c = s->c;
    if (s->parent) {
        if (!s->status) {
            size_t k = 0;
            for (uint32_t b = 0; b < s->nb; b++)
                for (uint32_t j = 0; j < s->counts[b]; j++, k++) {
                    s->parent->offsets[s->idx[k]].partition = s->partition;
                    s->parent->offsets[s->idx[k]].offset = s->bases[b] + j;
                }
        }
        creq_part_done(s->parent, s->status);
    } else {
        sl_buf_t b = SL_BUF_INIT;
        sl_w_u32(&b, (uint32_t)s->status);
        sl_w_u32(&b, s->nb);
        for (uint32_t i = 0; i < s->nb; i++) sl_w_i64(&b, s->bases[i]);
        sl__reply(c, s->reply_to, RPC_PRODUCE_R, s->reply_corr, &b);
        sl_buf_free(&b);
    }
    sreq_free(s);
}

static void waiter_result(waiter_t *w, int64_t result) {
    sreq_t *s = w->s;
    if (result < 0) {
        if (!s->status) s->status = (int)result;
    } else {
        s->bases[w->batch] = result;
    }
    if (--s->pending == 0) sreq_finish(s);
}

/* ---- proposals ----------------------------------------------------------------------------- */

static void fail_pending(group_t *g, int status) {
    size_t n = g->npw;
    waiter_t *w = g->pw;
    g->pw = NULL;
    g->npw = g->cappw = 0;
    g->pend.len = 0;
    g->pend_items = 0;
    for (size_t i = 0; i < n; i++) waiter_result(&w[i], status);
    free(w);
}

static void part_apply_cb(struct raft_apply *req, int status, void *result) {
    (void)result;
    prop_t *p = req->data;
    group_t *g = p->g;
    for (prop_t **pp = &g->props; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    g->inflight--;
    if (!p->applied) {
        /* Not applied here: failed, or (leadership lost) maybe committed later. Either way
         * the client retries; with its sequence number the retry is not appended twice. */
        int st = status ? raft_status(status) : -SL_ETIMEDOUT;
        for (size_t i = 0; i < p->nw; i++) waiter_result(&p->w[i], st);
    }
    free(p->w);
    free(p);
    if (g->npw && !g->closing) sl__flush_schedule(g->c);
}

static void forward_produce(sl_cluster_t *c, sreq_t *s, uint64_t to);
static void wait_leader(sl_cluster_t *c, sreq_t *s);

/* Requests queued here while leadership moved away (a transfer, an election lost): send them
 * whole to the new leader instead of failing them; none of their batches was proposed yet. */
static void reroute_pending(group_t *g) {
    sl_cluster_t *c = g->c;
    uint64_t l = g->started ? leader_of(g) : 0;
    size_t n = g->npw;
    waiter_t *w = g->pw;
    g->pw = NULL;
    g->npw = g->cappw = 0;
    g->pend.len = 0;
    g->pend_items = 0;
    for (size_t i = 0; i < n;) {
        /* a run of one request's batches; whole (all batches, none proposed) it moves on */
        sreq_t *s = w[i].s;
        size_t k = i + 1;
        while (k < n && w[k].s == s) k++;
        int whole = w[i].batch == 0 && (uint32_t)(k - i) == s->nb && s->pending == (int)s->nb;
        if (!whole) {
            /* part of the request was proposed and may commit: its outcome is unknown */
            for (size_t j = i; j < k; j++) waiter_result(&w[j], -SL_ETIMEDOUT);
        } else if (s->hops >= 2) {
            for (size_t j = i; j < k; j++) waiter_result(&w[j], -SL_ENOLEADER);
        } else if (!l || l == c->self) {
            wait_leader(c, s);
        } else {
            forward_produce(c, s, l);
        }
        i = k;
    }
    free(w);
}

static void group_flush(group_t *g) {
    sl_cluster_t *c = g->c;
    if (!g->npw || g->inflight >= MAX_INFLIGHT) return;
    if (is_leader(g) && raft_transferee(&g->raft) != 0) return; /* held until the transfer ends */
    if (!is_leader(g)) {
        reroute_pending(g);
        return;
    }
    prop_t *p = calloc(1, sizeof(*p));
    size_t elen = (ENTRY_HEADER + g->pend.len + 7) & ~(size_t)7; /* raft_uv wants 8-byte multiples */
    struct raft_buffer rb = {raft_malloc(elen), elen};
    if (!p || !rb.base) {
        free(p);
        raft_free(rb.base);
        fail_pending(g, -SL_ENOMEM);
        return;
    }
    p->g = g;
    p->serial = ++c->serial;
    unsigned char *h = rb.base;
    sl_be32_put(h, ENTRY_MAGIC);
    sl_be64_put(h + 4, c->self);
    sl_be64_put(h + 12, c->epoch);
    sl_be64_put(h + 20, p->serial);
    sl_be32_put(h + 28, g->pend_items);
    memcpy(h + ENTRY_HEADER, g->pend.data, g->pend.len);
    memset(h + ENTRY_HEADER + g->pend.len, 0, elen - ENTRY_HEADER - g->pend.len);
    p->w = g->pw;
    p->nw = g->npw;
    g->pw = NULL;
    g->npw = g->cappw = 0;
    g->pend.len = 0;
    g->pend_items = 0;
    p->req.data = p;
    p->next = g->props;
    g->props = p;
    g->inflight++;
    int rv = raft_apply(&g->raft, &p->req, &rb, 1, part_apply_cb);
    if (rv) {
        /* Refused before raft took the entry (not leader, no space: checked with a test
         * program under ASan) the buffer is still ours; a failure further in (the disk write)
         * frees it inside raft. Leadership and a running transfer were checked above. */
        if (rv == RAFT_NOTLEADER || rv == RAFT_NOSPACE) raft_free(rb.base);

        g->props = p->next;
        g->inflight--;
        for (size_t i = 0; i < p->nw; i++) waiter_result(&p->w[i], raft_status(rv));
        free(p->w);
        free(p);
        return;
    }
    c->proposals++;
}

void sl__part_flush_all(sl_cluster_t *c) {
    for (group_t *g = c->groups; g; g = g->next)
        if (g->npw) group_flush(g);
}

/* Queues the batches of s into g's next proposal. */
static void group_enqueue(group_t *g, sreq_t *s) {
    for (uint32_t b = 0; b < s->nb; b++) {
        if (g->npw == g->cappw) {
            size_t cap = g->cappw ? g->cappw * 2 : 16;
            waiter_t *v = realloc(g->pw, cap * sizeof(*v));
            if (!v) {
                /* the batches queued so far stay; the rest fail */
                for (uint32_t k = b; k < s->nb; k++) waiter_result(&(waiter_t){s, k}, -SL_ENOMEM);
                return;
            }
            g->pw = v;
            g->cappw = cap;
        }
        sl_w_u64(&g->pend, s->pid);
        sl_w_i64(&g->pend, s->seq);
        sl_w_u32(&g->pend, b);
        sl_w_bytes(&g->pend, s->batches[b], s->blens[b]);
        g->pend_items++;
        g->pw[g->npw++] = (waiter_t){s, b};
        if (g->pend.len >= MAX_ENTRY_BYTES) group_flush(g);
    }
    sl__flush_schedule(g->c);
}

/* ---- forwarding produce ----------------------------------------------------------------------- */

static void fwd_produce_done(call_t *k, int status, const char *p, size_t len) {
    sreq_t *s = k->ud;
    s->fwd = NULL;
    if (!status) {
        sl_reader_t r;
        sl_r_init(&r, p, len);
        status = (int32_t)sl_r_u32(&r);
        uint32_t nb = sl_r_u32(&r);
        if (!r.bad && !status && nb == s->nb)
            for (uint32_t i = 0; i < nb; i++) s->bases[i] = sl_r_i64(&r);
        if (r.bad || (!status && nb != s->nb)) status = -SL_ECORRUPT;
    }
    /* Routed to a node that does not lead it (any more): no_leader means nothing of it was
     * proposed, so the node that took the request routes it again, transparently; a broken
     * connection leaves the outcome open, so only an idempotent request is sent again. */
    if (s->parent && (status == -SL_ENOLEADER || (status == -SL_EUNAVAIL && s->pid))) {
        wait_leader(s->c, s);
        return;
    }
    s->status = status;
    sreq_finish(s);
}

static void forward_produce(sl_cluster_t *c, sreq_t *s, uint64_t to) {
    call_t *k = sl__call_new(c, to, RPC_PRODUCE, c->cfg.request_timeout_ms, fwd_produce_done, s);
    if (!k) {
        s->status = -SL_ENOMEM;
        sreq_finish(s);
        return;
    }
    s->fwd = k;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_str(&b, s->topic);
    sl_w_u64(&b, s->inc);
    sl_w_u32(&b, s->partition);
    sl_w_u64(&b, s->pid);
    sl_w_i64(&b, s->seq);
    sl_w_u8(&b, (uint8_t)(s->hops + 1));
    sl_w_u32(&b, s->nb);
    for (uint32_t i = 0; i < s->nb; i++) sl_w_bytes(&b, s->batches[i], s->blens[i]);
    c->forwarded++;
    if (!b.data) {
        sl__call_fail(c, k, -SL_ENOMEM);
        return;
    }
    sl__call_send(c, k, &b);
    sl_buf_free(&b);
}

/* No leader is known for s's partition right now (an election, a leadership transfer): s waits
 * and is routed again at the next ticks, for up to three election timeouts, before its client
 * gets 503 no_leader. Only the node that took the request waits; forwarded ones answer. */
static void wait_leader(sl_cluster_t *c, sreq_t *s) {
    uint64_t now = sl__cluster_now_ms();
    if (!s->wait_until) s->wait_until = now + 3ull * c->cfg.election_timeout_ms;
    if (s->hops > 0 || now >= s->wait_until || c->closing) {
        s->status = -SL_ENOLEADER;
        sreq_finish(s);
        return;
    }
    s->wnext = c->waiting;
    c->waiting = s;
}

static void route_produce(sl_cluster_t *c, mtopic_t *t, sreq_t *s);

/* From the tick: route the waiting parts again. */
static void waiting_retry(sl_cluster_t *c) {
    sreq_t *s = c->waiting;
    c->waiting = NULL;
    while (s) {
        sreq_t *next = s->wnext;
        s->wnext = NULL;
        mtopic_t *t = sl__topic_find_meta(c, s->topic);
        if (c->closing || !t || t->inc != s->inc) {
            s->status = c->closing ? -SL_ECLOSED : -SL_ENOTFOUND;
            sreq_finish(s);
        } else {
            route_produce(c, t, s);
        }
        s = next;
    }
}

/* Sends s where its partition is led: queued here, or forwarded. */
static void route_produce(sl_cluster_t *c, mtopic_t *t, sreq_t *s) {
    group_t *g = group_find(c, s->topic, s->partition);
    if (g && g->inc == s->inc) {
        if (is_leader(g) && !g->catching && !g->failed) {
            group_enqueue(g, s);
            return;
        }
        uint64_t l = leader_of(g);
        if (l && l != c->self && s->hops < 2) {
            forward_produce(c, s, l);
            return;
        }
        wait_leader(c, s);
        return;
    }
    if (t && s->hops < 2) { /* not a replica here: ask the preferred leader, then the others */
        uint64_t to = t->replicas[(size_t)s->partition * t->rf + s->attempts++ % t->rf];
        if (to != c->self) {
            forward_produce(c, s, to);
            return;
        }
    }
    wait_leader(c, s);
}

void sl__part_serve_produce(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len) {
    sreq_t *s = calloc(1, sizeof(*s));
    if (!s) return;
    s->c = c;
    s->reply_to = from;
    s->reply_corr = corr;
    sl_reader_t r;
    sl_r_init(&r, p, len);
    sl_r_str(&r, s->topic, sizeof(s->topic));
    s->inc = sl_r_u64(&r);
    s->partition = sl_r_u32(&r);
    s->pid = sl_r_u64(&r);
    s->seq = sl_r_i64(&r);
    s->hops = sl_r_u8(&r);
    s->nb = sl_r_u32(&r);
    if (r.bad || s->nb == 0 || s->nb > 4096) {
        s->nb = 0;
        s->status = -SL_ECORRUPT;
        sreq_finish(s);
        return;
    }
    s->batches = calloc(s->nb, sizeof(char *));
    s->blens = calloc(s->nb, sizeof(size_t));
    s->bases = calloc(s->nb, sizeof(int64_t));
    s->counts = calloc(s->nb, sizeof(uint32_t));
    if (!s->batches || !s->blens || !s->bases || !s->counts) {
        s->status = -SL_ENOMEM;
        sreq_finish(s);
        return;
    }
    for (uint32_t i = 0; i < s->nb; i++) {
        size_t n;
        const char *d = sl_r_bytes(&r, &n);
        if (!d || !(s->batches[i] = malloc(n ? n : 1))) {
            s->status = r.bad ? -SL_ECORRUPT : -SL_ENOMEM;
            sreq_finish(s);
            return;
        }
        memcpy(s->batches[i], d, n);
        s->blens[i] = n;
    }
    s->pending = (int)s->nb;
    mtopic_t *t = sl__topic_find_meta(c, s->topic);
    if (!t || t->inc != s->inc) {
        s->status = t ? -SL_ENOTFOUND : -SL_ENOLEADER; /* our metadata may lag: retry */
        sreq_finish(s);
        return;
    }
    route_produce(c, t, s);
}

/* ---- produce (the HTTP side) -------------------------------------------------------------------- */

int sl_cluster_produce(sl_cluster_t *c, const char *topic, const sl_record_t *recs, size_t n,
                       uint64_t pid, int64_t seq, sl_produce_cb cb, void *ud) {
    if (c->closing) return -SL_ECLOSED;
    mtopic_t *t = sl__topic_find_meta(c, topic);
    sl_topic_config_t local;
    /* A topic held here but not (yet) in the metadata: a restarted node replaying it. */
    if (!t) return sl_topic_get(c->e, topic, &local) == 0 ? -SL_ENOLEADER : -SL_ENOTFOUND;
    if (n == 0) return -SL_EINVAL;
    uint32_t np = t->cfg.partitions;
    uint32_t *part = malloc(n * sizeof(*part));
    uint32_t *count = calloc(np + 1, sizeof(*count));
    uint32_t *order = malloc(n * sizeof(*order));
    creq_t *r = calloc(1, sizeof(*r));
    sl_offset_t *offsets = malloc(n * sizeof(*offsets));
    int rc = -SL_ENOMEM;
    if (!part || !count || !order || !r || !offsets) goto fail;
    /* Keyless events: sticky per request, as on one node; an idempotent producer's go to one
     * partition chosen by its id, so a retry lands where the first try did (and is found by
     * the partition's deduplication) and the producer's events keep their order. */
    static uint32_t sticky;
    uint32_t stick = pid ? (uint32_t)(pid % np) : sticky++ % np;
    for (size_t i = 0; i < n; i++) {
        const sl_record_t *x = &recs[i];
        if (x->partition >= 0) {
            if ((uint32_t)x->partition >= np) {
                rc = -SL_ERANGE;
                goto fail;
            }
            part[i] = (uint32_t)x->partition;
        } else if (x->key) {
            part[i] = sl_kafka_partition(x->key, x->key_len, np);
        } else {
            part[i] = stick;
        }
        count[part[i] + 1]++;
    }
    for (uint32_t p = 0; p < np; p++) count[p + 1] += count[p];
    for (size_t i = 0; i < n; i++) order[count[part[i]]++] = (uint32_t)i;
    /* Build every part before sending any, so an encoding error changes nothing. */
    size_t nparts = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || part[order[i + 1]] != part[order[i]]) nparts++;
    sreq_t **parts = calloc(nparts, sizeof(*parts));
    if (!parts) goto fail;
    int64_t now = sl_now_ms();
    size_t start = 0, pi = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && part[order[i + 1]] == part[order[i]]) continue;
        sreq_t *s = calloc(1, sizeof(*s));
        if (!s) goto fail_parts;
        parts[pi++] = s;
        s->c = c;
        s->parent = r;
        snprintf(s->topic, sizeof(s->topic), "%s", topic);
        s->inc = t->inc;
        s->partition = part[order[i]];
        s->pid = pid;
        s->seq = seq;
        s->n = i + 1 - start;
        s->idx = malloc(s->n * sizeof(uint32_t));
        if (!s->idx) goto fail_parts;
        memcpy(s->idx, order + start, s->n * sizeof(uint32_t));
        /* batches of at most ~512 KiB */
        size_t k = 0;
        while (k < s->n) {
            sl_buf_t bb = SL_BUF_INIT;
            sl_batch_builder_t bld;
            if (sl_batch_begin(&bld, &bb)) goto fail_parts;
            size_t first = k;
            while (k < s->n && (k == first || bb.len < (512u << 10))) {
                const sl_record_t *x = &recs[s->idx[k]];
                if ((rc = sl_batch_add(&bld, x->timestamp >= 0 ? x->timestamp : now, x->key,
                                       (int32_t)x->key_len, x->value, (int32_t)x->value_len))) {
                    sl_buf_free(&bb);
                    goto fail_parts;
                }
                k++;
            }
            if ((rc = sl_batch_finish(&bld))) {
                sl_buf_free(&bb);
                goto fail_parts;
            }
            uint32_t nb = s->nb + 1;
            char **vb = realloc(s->batches, nb * sizeof(char *));
            if (vb) s->batches = vb;
            size_t *vl = realloc(s->blens, nb * sizeof(size_t));
            if (vl) s->blens = vl;
            uint32_t *vc = realloc(s->counts, nb * sizeof(uint32_t));
            if (vc) s->counts = vc;
            int64_t *vs = realloc(s->bases, nb * sizeof(int64_t));
            if (vs) s->bases = vs;
            if (!vb || !vl || !vc || !vs) {
                sl_buf_free(&bb);
                rc = -SL_ENOMEM;
                goto fail_parts;
            }
            s->batches[s->nb] = sl_buf_steal(&bb, &s->blens[s->nb]);
            s->counts[s->nb] = (uint32_t)(k - first);
            s->bases[s->nb] = -1;
            s->nb = nb;
        }
        s->pending = (int)s->nb;
        start = i + 1;
    }
    r->c = c;
    r->cb = cb;
    r->ud = ud;
    r->offsets = offsets;
    r->n = n;
    r->pending = (int)nparts + 1; /* held while routing */
    for (size_t i = 0; i < nparts; i++) route_produce(c, t, parts[i]);
    free(parts);
    free(part);
    free(count);
    free(order);
    creq_part_done(r, 0);
    return 0;
fail_parts:
    for (size_t i = 0; i < pi; i++) sreq_free(parts[i]);
    free(parts);
fail:
    free(part);
    free(count);
    free(order);
    free(r);
    free(offsets);
    return rc;
}

/* ---- the state machine ---------------------------------------------------------------------- */

static dedupe_t *ded_find(group_t *g, uint64_t pid) {
    for (size_t i = 0; i < g->nded; i++)
        if (g->ded[i].pid == pid) return &g->ded[i];
    return NULL;
}

static dedupe_t *ded_add(group_t *g, uint64_t pid) {
    if (g->nded == DEDUPE_MAX) { /* forget the least recently used producer */
        size_t lru = 0;
        for (size_t i = 1; i < g->nded; i++)
            if (g->ded[i].used < g->ded[lru].used) lru = i;
        free(g->ded[lru].bases);
        g->ded[lru] = g->ded[--g->nded];
    }
    if (g->nded == g->capded) {
        size_t cap = g->capded ? g->capded * 2 : 16;
        dedupe_t *v = realloc(g->ded, cap * sizeof(*v));
        if (!v) return NULL;
        g->ded = v;
        g->capded = cap;
    }
    dedupe_t *d = &g->ded[g->nded++];
    memset(d, 0, sizeof(*d));
    d->pid = pid;
    d->seq = -1;
    return d;
}

static int ded_set(dedupe_t *d, uint32_t sub, int64_t base) {
    if (sub >= d->nsub) {
        int64_t *v = realloc(d->bases, (sub + 1) * sizeof(int64_t));
        if (!v) return -SL_ENOMEM;
        for (uint32_t i = d->nsub; i <= sub; i++) v[i] = -1;
        d->bases = v;
        d->nsub = sub + 1;
    }
    d->bases[sub] = base;
    return 0;
}

/* In replay: 1 if the batch is the one already in the log at the cursor (*base set), 0 if it
 * must be appended (the log ends there, or differs: then the rest is cut). */
static int replay_match(group_t *g, const char *batch, size_t len, int64_t *base) {
    int64_t end = sl_replica_end(g->rep);
    if (g->cursor >= end) {
        g->replay = 0;
        return 0;
    }
    sl_batch_header_t h;
    if (len < SL_BATCH_HEADER_SIZE || sl_batch_parse_header(batch, len, &h)) return 0;
    uint32_t count = (uint32_t)h.last_offset_delta + 1, lcrc = 0, lcount = 0;
    if (g->cursor < sl_replica_start(g->rep)) { /* removed by retention since: it was there */
        *base = g->cursor;
        g->cursor += count;
        return 1;
    }
    if (sl_replica_batch_at(g->rep, g->cursor, &lcrc, &lcount) == 0 && lcrc == h.crc && lcount == count) {
        *base = g->cursor;
        g->cursor += count;
        return 1;
    }
    sl_warn("cluster: %s: the log differs from the replayed entries at offset %" PRId64 "; cutting it there",
            g->name, g->cursor);
    g->replay = 0;
    if (sl_replica_truncate(g->rep, g->cursor)) g->failed = 1;
    return 0;
}

/* Applies one entry's items; results[i] gets each item's base offset or -SL_E*. */
static void apply_items(group_t *g, sl_reader_t *r, uint32_t nitems, int64_t *results) {
    sl_cluster_t *c = g->c;
    for (uint32_t i = 0; i < nitems; i++) {
        uint64_t pid = sl_r_u64(r);
        int64_t seq = sl_r_i64(r);
        uint32_t sub = sl_r_u32(r);
        size_t len;
        const char *batch = sl_r_bytes(r, &len);
        if (r->bad) {
            for (uint32_t k = i; k < nitems; k++) results[k] = -SL_ECORRUPT;
            return;
        }
        dedupe_t *d = NULL;
        if (pid) {
            d = ded_find(g, pid);
            if (d) {
                d->used = ++g->ded_clock;
                if (seq < d->seq) {
                    results[i] = -SL_ESEQUENCE;
                    continue;
                }
                if (seq == d->seq && sub < d->nsub && d->bases[sub] >= 0) {
                    results[i] = d->bases[sub]; /* a retry: already appended */
                    c->dedupe_hits++;
                    continue;
                }
            }
        }
        int64_t base;
        int rc;
        if (g->replay && !g->failed && replay_match(g, batch, len, &base)) rc = 0;
        else rc = g->failed ? -SL_EFAILED : sl_replica_append(g->rep, batch, len, -1, &base);
        if (rc) {
            /* Every replica applies the same entries; a replica that cannot has diverged and
             * must stop applying (a restart recovers it from its peers). */
            if (!g->failed) sl_error("cluster: %s: append failed (%s); this replica stops applying", g->name, sl_strerror(rc));
            g->failed = 1;
            results[i] = rc;
            continue;
        }
        results[i] = base;
        if (pid) {
            if (!d) d = ded_add(g, pid);
            if (d) {
                if (seq > d->seq) {
                    d->seq = seq;
                    for (uint32_t k = 0; k < d->nsub; k++) d->bases[k] = -1;
                }
                d->used = ++g->ded_clock;
                ded_set(d, sub, base);
            }
        }
    }
}

static void apply_entry(group_t *g, const char *data, size_t len) {
    sl_cluster_t *c = g->c;
    sl_reader_t r;
    sl_r_init(&r, data, len);
    uint32_t magic = sl_r_u32(&r);
    uint64_t origin = sl_r_u64(&r), epoch = sl_r_u64(&r), serial = sl_r_u64(&r);
    uint32_t nitems = sl_r_u32(&r);
    if (r.bad || magic != ENTRY_MAGIC || nitems > (1u << 20)) {
        sl_error("cluster: %s: an entry failed to decode; skipped", g->name);
        return;
    }
    int64_t stackres[64];
    int64_t *results = nitems <= 64 ? stackres : malloc(nitems * sizeof(int64_t));
    if (!results) {
        g->failed = 1;
        return;
    }
    apply_items(g, &r, nitems, results);
    if (origin == c->self && epoch == c->epoch) {
        for (prop_t *p = g->props; p; p = p->next) {
            if (p->serial != serial || p->applied) continue;
            p->applied = 1;
            for (size_t i = 0; i < p->nw && i < nitems; i++) waiter_result(&p->w[i], results[i]);
            p->nw = 0;
            break;
        }
    }
    if (results != stackres) free(results);
    if (g->rep) sl_replica_sync_background(g->rep);
}

unsigned sl__snap_threshold(sl_cluster_t *c, uint64_t avg) {
    uint64_t t = c->cfg.raft_log_bytes / (avg ? avg : 1);
    if (t > c->cfg.snapshot_threshold) t = c->cfg.snapshot_threshold;
    return t < 64 ? 64 : (unsigned)t;
}

/* At least 64: a follower less than that many entries behind is sent entries, not a snapshot
 * (which, racing with a snapshot of its own, is what crashes raft 0.22.1: part_snapshot). */
unsigned sl__snap_trailing(sl_cluster_t *c, unsigned threshold) {
    unsigned t = threshold / 2;
    if (t > c->cfg.snapshot_trailing) t = c->cfg.snapshot_trailing;
    return t < 64 ? 64 : t;
}

/* Raft keeps its log in memory (and loads it whole at start), so what bounds it is bytes, not
 * entries: one client's entries hold one event, a busy partition's up to 1 MiB. Every 64
 * entries the threshold follows their average size; a change under a quarter is left alone.
 * Never while a snapshot is being taken or stored: raft_uv drops the segments before the
 * trailing entries with the number it was given when the store began, raft its in-memory log
 * with the number current when it ends; they had better agree. */
static void apply_size(group_t *g, size_t len) {
    g->size_bytes += len;
    if (++g->size_entries < 64) return;
    if (g->raft.snapshot._pending.term != 0 || g->raft.snapshot._put.data != NULL) return;
    unsigned t = sl__snap_threshold(g->c, g->size_bytes / g->size_entries);
    g->size_bytes = g->size_entries = 0;
    unsigned cur = g->snap_threshold;
    if (t == cur || (t > cur - cur / 4 && t < cur + cur / 4)) return;
    g->snap_threshold = t;
    raft_set_snapshot_threshold(&g->raft, t);
    raft_set_snapshot_trailing(&g->raft, sl__snap_trailing(g->c, t));
}

static int part_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    group_t *g = fsm->data;
    *result = NULL;
    apply_size(g, buf->len);
    if (g->closing || !g->rep) return 0;
    if (g->catching) { /* the log is being copied: apply in order once it is complete */
        qentry_t *q = malloc(sizeof(*q));
        if (q) q->data = malloc(buf->len ? buf->len : 1);
        if (!q || !q->data) {
            free(q);
            g->failed = 1;
            return 0;
        }
        memcpy(q->data, buf->base, buf->len);
        q->len = buf->len;
        q->next = NULL;
        if (g->qtail) g->qtail->next = q;
        else g->qhead = q;
        g->qtail = q;
        return 0;
    }
    apply_entry(g, buf->base, buf->len);
    return 0;
}

static int part_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    group_t *g = fsm->data;
    sl_cluster_t *c = g->c;
    if (!g->rep || g->catching || g->failed || g->nsnap_fds) return RAFT_BUSY;
    /* A follower that started or installed a snapshot lately may be sent another one while it
     * catches up; raft 0.22.1 crashes when an installed snapshot arrives while one of our own
     * is being taken (a NULL dereference in the legacy layer's snapshot callback, seen on
     * restarted nodes in bench/cluster.py's failovers), so such a follower waits. */
    if (!is_leader(g) && sl__cluster_now_ms() < g->quiet_until_ms) return RAFT_BUSY;
    /* The manifest claims the log up to its end: that must be durable before raft stores the
     * manifest and drops the entries it covers. part_snapshot_async does it on a worker
     * thread, on duplicates of the descriptors taken here (the loop may roll or close
     * segments meanwhile); a sync over more segments than that holds is done here. */
    int nf = sl_replica_sync_fds(g->rep, g->snap_fds, sizeof(g->snap_fds) / sizeof(g->snap_fds[0]));
    if (nf == -SL_ETOOBIG) nf = sl_replica_sync(g->rep) ? -SL_EIO : 0;
    if (nf < 0) return RAFT_IOERR;
    g->nsnap_fds = nf;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u32(&b, MANIFEST_MAGIC);
    sl_w_i64(&b, sl_replica_start(g->rep));
    sl_w_i64(&b, sl_replica_end(g->rep));
    sl_w_u64(&b, c->self);
    sl_w_u32(&b, (uint32_t)g->nded);
    for (size_t i = 0; i < g->nded; i++) {
        dedupe_t *d = &g->ded[i];
        sl_w_u64(&b, d->pid);
        sl_w_i64(&b, d->seq);
        sl_w_u64(&b, d->used);
        sl_w_u32(&b, d->nsub);
        for (uint32_t k = 0; k < d->nsub; k++) sl_w_i64(&b, d->bases[k]);
    }
    sl_w_u64(&b, g->ded_clock);
    c->snapshots++;
    int rv = sl__snapshot_bufs(&b, bufs, n);
    if (rv) /* raft calls no finalize after a failed snapshot */
        while (g->nsnap_fds > 0) close(g->snap_fds[--g->nsnap_fds]);
    return rv;
}

/* On a raft_uv worker thread, between part_snapshot and the store of its manifest. */
static int part_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    (void)bufs;
    (void)n;
    group_t *g = fsm->data;
    return sl_replica_sync_fds_run(g->snap_fds, (size_t)g->nsnap_fds) ? RAFT_IOERR : 0;
}

static int part_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    group_t *g = fsm->data;
    while (g->nsnap_fds > 0) close(g->snap_fds[--g->nsnap_fds]);
    for (unsigned i = 0; i < *n; i++) raft_free((*bufs)[i].base);
    raft_free(*bufs);
    *bufs = NULL;
    *n = 0;
    return 0;
}

static void copy_next(group_t *g);

static int part_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    group_t *g = fsm->data;
    sl_cluster_t *c = g->c;
    sl_reader_t r;
    sl_r_init(&r, buf->base, buf->len);
    uint32_t magic = sl_r_u32(&r);
    int64_t start = sl_r_i64(&r), end = sl_r_i64(&r);
    uint64_t maker = sl_r_u64(&r);
    uint32_t nd = sl_r_u32(&r);
    (void)start;
    /* On an error raft frees the buffer itself; on success it is ours. */
    if (magic != MANIFEST_MAGIC || r.bad || !g->rep) return RAFT_MALFORMED;
    g->quiet_until_ms = sl__cluster_now_ms() + 10000;
    for (size_t i = 0; i < g->nded; i++) free(g->ded[i].bases);
    g->nded = 0;
    for (uint32_t i = 0; i < nd && !r.bad; i++) {
        dedupe_t *d = ded_add(g, sl_r_u64(&r));
        if (!d) break;
        d->seq = sl_r_i64(&r);
        d->used = sl_r_u64(&r);
        uint32_t ns = sl_r_u32(&r);
        for (uint32_t k = 0; k < ns && !r.bad; k++) ded_set(d, k, sl_r_i64(&r));
    }
    g->ded_clock = sl_r_u64(&r);
    if (r.bad) return RAFT_MALFORMED;
    /* Entries queued for an earlier copy are older than this snapshot: drop them. */
    while (g->qhead) {
        qentry_t *q = g->qhead;
        g->qhead = q->next;
        free(q->data);
        free(q);
    }
    g->qtail = NULL;
    raft_free(buf->base); /* ours from here on: every return below is a success for raft */
    int64_t local = sl_replica_end(g->rep);
    c->restores++;
    g->replay = 0;
    if (local > end) { /* entries after the snapshot will be applied again: match them */
        g->replay = 1;
        g->cursor = end;
    } else if (local < end) {
        sl_info("cluster: %s: log ends at %" PRId64 ", snapshot at %" PRId64 ": copying from a peer",
                g->name, local, end);
        g->catching = 1;
        g->catch_target = end;
        g->catch_from = maker != c->self ? maker : 0;
        g->catch_started_ns = sl_mono_ns();
        g->copied_bytes = 0;
        g->copy_retry_at = 0;
        copy_next(g);
    }
    return 0;
}

/* ---- segment copy --------------------------------------------------------------------------------- */

static uint64_t copy_source(group_t *g) {
    sl_cluster_t *c = g->c;
    uint64_t l = leader_of(g);
    if (l && l != c->self) return l;
    if (g->catch_from) return g->catch_from;
    for (uint32_t i = 0; i < g->rf; i++)
        if (g->replicas[i] != c->self) return g->replicas[i];
    return 0;
}

static void catch_done(group_t *g) {
    sl_cluster_t *c = g->c;
    double secs = (double)(sl_mono_ns() - g->catch_started_ns) / 1e9;
    sl_info("cluster: %s: copied %" PRIu64 " bytes from peers in %.2f s (%.1f MB/s); applying %s",
            g->name, g->copied_bytes, secs, secs > 0 ? (double)g->copied_bytes / secs / 1e6 : 0.0,
            g->qhead ? "queued entries" : "new entries");
    g->catching = 0;
    c->copies++;
    while (g->qhead && !g->catching) {
        qentry_t *q = g->qhead;
        g->qhead = q->next;
        if (!g->qhead) g->qtail = NULL;
        apply_entry(g, q->data, q->len);
        free(q->data);
        free(q);
    }
}

static void copy_resp(call_t *k, int status, const char *p, size_t len) {
    group_t *g = k->ud;
    sl_cluster_t *c = k->c;
    g->copy_busy = 0;
    if (g->closing || !g->catching || !g->rep) return;
    sl_reader_t r;
    sl_r_init(&r, p, len);
    int64_t earliest = 0, latest = 0;
    if (!status) {
        status = (int32_t)sl_r_u32(&r);
        earliest = sl_r_i64(&r);
        latest = sl_r_i64(&r);
        if (r.bad) status = -SL_ECORRUPT;
    }
    if (status == -SL_ERANGE && earliest > sl_replica_end(g->rep)) {
        /* The source no longer holds what we lack (retention): start where it starts. */
        sl_warn("cluster: %s: the peer's log starts at %" PRId64 ", after ours ends; restarting the replica there",
                g->name, earliest);
        if (sl_replica_reset(g->rep, earliest)) {
            g->failed = 1;
            return;
        }
        copy_next(g);
        return;
    }
    if (status) {
        g->copy_retry_at = sl__cluster_now_ms() + 200;
        g->catch_from = 0; /* try another source */
        return;
    }
    size_t n;
    const char *data = sl_r_bytes(&r, &n);
    if (!data) {
        g->copy_retry_at = sl__cluster_now_ms() + 200;
        return;
    }
    size_t pos = 0;
    while (pos < n) {
        sl_batch_header_t h;
        if (n - pos < SL_BATCH_HEADER_SIZE || sl_batch_parse_header(data + pos, n - pos, &h) ||
            sl_batch_size(&h) > n - pos) {
            status = -SL_ECORRUPT;
            break;
        }
        size_t bl = sl_batch_size(&h);
        int64_t end = sl_replica_end(g->rep);
        if (h.base_offset + h.last_offset_delta < end) { /* already have it */
            pos += bl;
            continue;
        }
        if (h.base_offset >= g->catch_target) break;
        int64_t base;
        int rc = sl_replica_append(g->rep, data + pos, bl, end, &base);
        if (rc) {
            sl_warn("cluster: %s: a copied batch at %" PRId64 " was refused (%s); retrying", g->name,
                    h.base_offset, sl_strerror(rc));
            status = rc;
            break;
        }
        g->copied_bytes += bl;
        c->copy_bytes += bl;
        pos += bl;
    }
    (void)latest;
    if (status) {
        g->copy_retry_at = sl__cluster_now_ms() + 200;
        g->catch_from = 0;
        return;
    }
    if (sl_replica_end(g->rep) >= g->catch_target) catch_done(g);
    else copy_next(g);
}

static void copy_next(group_t *g) {
    sl_cluster_t *c = g->c;
    if (g->copy_busy || g->closing) return;
    uint64_t src = copy_source(g);
    if (!src) {
        g->copy_retry_at = sl__cluster_now_ms() + 200;
        return;
    }
    call_t *k = sl__call_new(c, src, RPC_COPY, c->cfg.request_timeout_ms, copy_resp, g);
    if (!k) return;
    g->copy_busy = 1;
    sl_buf_t b = SL_BUF_INIT;
    group_id_write(&b, g);
    sl_w_i64(&b, sl_replica_end(g->rep));
    sl_w_u64(&b, COPY_CHUNK);
    sl__call_send(c, k, &b);
    sl_buf_free(&b);
}

void sl__part_serve_copy(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len) {
    sl_reader_t r;
    sl_r_init(&r, p, len);
    group_t *g = group_id_read(c, &r);
    int64_t offset = sl_r_i64(&r);
    uint64_t max = sl_r_u64(&r);
    sl_buf_t out = SL_BUF_INIT, data = SL_BUF_INIT;
    int status = 0;
    int64_t earliest = 0, latest = 0;
    if (r.bad) g = NULL;
    if (!g || !g->rep || g->catching) {
        status = -SL_ENOTFOUND;
    } else {
        earliest = sl_replica_start(g->rep);
        latest = sl_replica_end(g->rep);
        if (offset < earliest || offset > latest) status = -SL_ERANGE;
        else if (offset < latest)
            status = sl_replica_read(g->rep, offset, max > COPY_CHUNK ? COPY_CHUNK : (size_t)max, &data);
        if (status == -SL_ECORRUPT) {
            char topic[SL_TOPIC_NAME_MAX + 1];
            snprintf(topic, sizeof(topic), "%s", g->topic);
            sl_cluster_replica_damaged(c, topic, g->partition, offset);
        }
    }
    sl_w_u32(&out, (uint32_t)status);
    sl_w_i64(&out, earliest);
    sl_w_i64(&out, latest);
    sl_w_bytes(&out, data.data ? data.data : "", data.len);
    sl__reply(c, from, RPC_COPY_R, corr, &out);
    sl_buf_free(&out);
    sl_buf_free(&data);
}

/* ---- repair ------------------------------------------------------------------------------------ */

void sl_cluster_replica_damaged(sl_cluster_t *c, const char *topic, uint32_t partition, int64_t from) {
    group_t *g = group_find(c, topic, partition);
    if (!g || !g->rep || g->catching || g->failed || g->closing) return;
    int64_t bad, end = sl_replica_end(g->rep);
    if (sl_replica_find_corrupt(g->rep, from, &bad) != 1) return;
    sl_error("cluster: %s: the batch at offset %" PRId64 " is damaged on disk; cutting the log there and "
             "copying %" PRId64 "..%" PRId64 " from a peer", g->name, bad, bad, end);
    int rc = sl_replica_truncate(g->rep, bad);
    if (rc) {
        sl_error("cluster: %s: cannot cut the log at %" PRId64 " (%s); the replica stops", g->name, bad, sl_strerror(rc));
        g->failed = 1;
        return;
    }
    /* a replay in progress goes on: the entries queued meanwhile are matched against the
     * copied batches, which are the same */
    g->catching = 1;
    g->catch_target = end;
    g->catch_from = 0;
    g->catch_started_ns = sl_mono_ns();
    g->copied_bytes = 0;
    g->copy_retry_at = 0;
    copy_next(g);
}

/* ---- reads ------------------------------------------------------------------------------------ */

int64_t sl_cluster_read_route(sl_cluster_t *c, const char *topic, uint32_t partition, int replica_any) {
    mtopic_t *t = sl__topic_find_meta(c, topic);
    sl_topic_config_t local;
    if (!t) return sl_topic_get(c->e, topic, &local) == 0 ? (replica_any ? 0 : -SL_ENOLEADER) : -SL_ENOTFOUND;
    if (partition >= t->cfg.partitions) return -SL_ERANGE;
    group_t *g = group_find(c, topic, partition);
    if (g && g->inc == t->inc && !g->catching && !g->failed) {
        if (replica_any || is_leader(g)) return 0;
        uint64_t l = leader_of(g);
        if (l && l != c->self) return (int64_t)l;
        return -SL_ENOLEADER;
    }
    /* not a replica here (or still copying): its preferred leader serves, or passes it on */
    uint64_t to = t->replicas[(size_t)partition * t->rf];
    if (g && leader_of(g) && leader_of(g) != c->self) to = leader_of(g);
    if (to == c->self) return -SL_ENOLEADER;
    return (int64_t)to;
}

struct parked_fetch {
    sl_cluster_t *c;
    uint64_t from, corr;
    char topic[SL_TOPIC_NAME_MAX + 1];
    uint32_t partition;
    int64_t offset;
    uint64_t max_count, max_bytes;
    sl_watch_t *watch;
    uv_timer_t timer;
    parked_fetch_t *prev, *next;
};

static void fetch_answer(sl_cluster_t *c, uint64_t from, uint64_t corr, int status, sl_fetch_result_t *res) {
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u32(&b, (uint32_t)status);
    sl_w_i64(&b, res ? res->earliest_offset : 0);
    sl_w_i64(&b, res ? res->latest_offset : 0);
    sl_w_i64(&b, res ? res->next_offset : 0);
    sl_w_u32(&b, res ? (uint32_t)res->count : 0);
    for (size_t i = 0; res && i < res->count; i++) {
        const sl_fetched_t *f = &res->recs[i];
        sl_w_i64(&b, f->offset);
        sl_w_i64(&b, f->timestamp);
        sl_w_u8(&b, f->key ? 1 : 0);
        sl_w_bytes(&b, f->key ? f->key : "", f->key ? f->key_len : 0);
        sl_w_bytes(&b, f->value, f->value_len);
    }
    sl__reply(c, from, RPC_FETCH_R, corr, &b);
    sl_buf_free(&b);
}

static void parked_timer_closed(uv_handle_t *h) { free(h->data); }

static void parked_finish(parked_fetch_t *pf, int answer) {
    sl_cluster_t *c = pf->c;
    if (pf->prev) pf->prev->next = pf->next;
    else c->parked = pf->next;
    if (pf->next) pf->next->prev = pf->prev;
    if (pf->watch) sl_watch_cancel(pf->watch);
    pf->watch = NULL;
    if (answer) {
        sl_fetch_result_t res;
        int rc = sl_fetch(c->e, pf->topic, pf->partition, pf->offset, pf->max_count, pf->max_bytes, &res);
        fetch_answer(c, pf->from, pf->corr, rc, rc ? NULL : &res);
        if (!rc) sl_fetch_result_free(&res);
    }
    uv_timer_stop(&pf->timer);
    uv_close((uv_handle_t *)&pf->timer, parked_timer_closed);
}

static void parked_wake(void *ud, int status) {
    parked_fetch_t *pf = ud;
    (void)status;
    pf->watch = NULL;
    parked_finish(pf, 1);
}

static void parked_timeout(uv_timer_t *t) { parked_finish(t->data, 1); }

void sl__part_serve_fetch(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len) {
    sl_reader_t r;
    sl_r_init(&r, p, len);
    char topic[SL_TOPIC_NAME_MAX + 1];
    sl_r_str(&r, topic, sizeof(topic));
    uint32_t partition = sl_r_u32(&r);
    int64_t offset = sl_r_i64(&r);
    uint64_t max_count = sl_r_u64(&r), max_bytes = sl_r_u64(&r), timeout = sl_r_u64(&r);
    if (r.bad) return;
    /* A read that must be the leader's: served only if we lead (a follower's copy may lack
     * acknowledged events); otherwise the answer names the leader for one more try. */
    group_t *g = group_find(c, topic, partition);
    if (!g || !is_leader(g) || g->catching || g->failed) {
        sl_buf_t b = SL_BUF_INIT;
        sl_w_u32(&b, (uint32_t)-SL_ENOLEADER);
        sl_w_i64(&b, g && g->started ? (int64_t)leader_of(g) : 0); /* the leader, as a hint */
        sl_w_i64(&b, 0);
        sl_w_i64(&b, 0);
        sl_w_u32(&b, 0);
        sl__reply(c, from, RPC_FETCH_R, corr, &b);
        sl_buf_free(&b);
        return;
    }
    sl_fetch_result_t res;
    int rc = sl_fetch(c->e, topic, partition, offset, max_count, max_bytes, &res);
    if (rc == -SL_ECORRUPT) { /* repair; the caller retries */
        sl_cluster_replica_damaged(c, topic, partition, offset < 0 ? 0 : offset);
        rc = -SL_EUNAVAIL;
    }
    if (rc || res.count > 0 || timeout == 0 || c->closing) {
        fetch_answer(c, from, corr, rc, rc ? NULL : &res);
        if (!rc) sl_fetch_result_free(&res);
        return;
    }
    int64_t at = res.next_offset;
    sl_fetch_result_free(&res);

    parked_fetch_t *pf = calloc(1, sizeof(*pf));
    if (!pf) return;
    pf->c = c;
    pf->from = from;
    pf->corr = corr;
    snprintf(pf->topic, sizeof(pf->topic), "%s", topic);
    pf->partition = partition;
    pf->offset = at;
    pf->max_count = max_count;
    pf->max_bytes = max_bytes;
    if (sl_watch(c->e, topic, partition, at, parked_wake, pf, &pf->watch)) {
        free(pf);
        fetch_answer(c, from, corr, -SL_ENOMEM, NULL);
        return;
    }
    uv_timer_init(c->loop, &pf->timer);
    pf->timer.data = pf;
    uv_timer_start(&pf->timer, parked_timeout, timeout, 0);
    pf->next = c->parked;
    if (c->parked) c->parked->prev = pf;
    c->parked = pf;
}

typedef struct remote_fetch {
    sl_cluster_fetch_cb cb;
    void *ud;
    sl_cluster_call_t **out;       /* the caller's handle, updated when the read is re-sent */
    char topic[SL_TOPIC_NAME_MAX + 1];
    uint32_t partition;
    int64_t offset;
    size_t max_count, max_bytes;
    uint64_t timeout_ms;
    int tries;
} remote_fetch_t;

static int fetch_send(sl_cluster_t *c, uint64_t node, remote_fetch_t *rf);

static void remote_fetch_done(call_t *k, int status, const char *p, size_t len) {
    remote_fetch_t *rfp = k->ud2;
    if (!status && len >= 12 && (int32_t)sl_be32_get((const unsigned char *)p) == -SL_ENOLEADER && rfp->tries < 2) {
        /* the node asked does not lead: ask the one it names */
        uint64_t hint = (uint64_t)(int64_t)sl_be64_get((const unsigned char *)p + 4);
        if (hint && hint != k->c->self && hint != k->to) {
            rfp->tries++;
            if (fetch_send(k->c, hint, rfp) == 0) return;
        }
    }
    remote_fetch_t rf = *rfp;
    *rf.out = NULL;
    free(rfp);
    if (status) {
        rf.cb(rf.ud, status, NULL);
        return;
    }
    sl_reader_t r;
    sl_r_init(&r, p, len);
    int st = (int32_t)sl_r_u32(&r);
    sl_fetch_result_t res;
    memset(&res, 0, sizeof(res));
    res.earliest_offset = sl_r_i64(&r);
    res.latest_offset = sl_r_i64(&r);
    res.next_offset = sl_r_i64(&r);
    uint32_t n = sl_r_u32(&r);
    if (r.bad) {
        rf.cb(rf.ud, -SL_ECORRUPT, NULL);
        return;
    }
    if (st) {
        rf.cb(rf.ud, st, st == -SL_ERANGE ? &res : NULL);
        return;
    }
    /* keep the message: records point into it */
    sl_buf_t *keep = calloc(1, sizeof(*keep));
    res.recs = n ? calloc(n, sizeof(sl_fetched_t)) : NULL;
    if (!keep || (n && !res.recs) || sl_buf_append(keep, p, len)) {
        free(keep);
        free(res.recs);
        rf.cb(rf.ud, -SL_ENOMEM, NULL);
        return;
    }
    res.priv_ = keep;
    sl_r_init(&r, keep->data, keep->len);
    r.p += 4 + 8 + 8 + 8 + 4;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        sl_fetched_t *f = &res.recs[i];
        f->offset = sl_r_i64(&r);
        f->timestamp = sl_r_i64(&r);
        int has_key = sl_r_u8(&r);
        f->key = sl_r_bytes(&r, &f->key_len);
        if (!has_key) f->key = NULL, f->key_len = 0;
        f->value = sl_r_bytes(&r, &f->value_len);
        res.count++;
    }
    if (r.bad) {
        sl_fetch_result_free(&res);
        rf.cb(rf.ud, -SL_ECORRUPT, NULL);
        return;
    }
    rf.cb(rf.ud, 0, &res);
}

static int fetch_send(sl_cluster_t *c, uint64_t node, remote_fetch_t *rf) {
    call_t *k = sl__call_new(c, node, RPC_FETCH, rf->timeout_ms + c->cfg.request_timeout_ms, remote_fetch_done, NULL);
    if (!k) return -SL_ENOMEM;
    k->ud2 = rf;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_str(&b, rf->topic);
    sl_w_u32(&b, rf->partition);
    sl_w_i64(&b, rf->offset);
    sl_w_u64(&b, rf->max_count);
    sl_w_u64(&b, rf->max_bytes);
    sl_w_u64(&b, rf->timeout_ms);
    c->forwarded++;
    *rf->out = (sl_cluster_call_t *)k;
    int bad = !b.data || sl_mux_send(c->mux, node, RPC_FETCH, k->id, b.data, b.len);
    sl_buf_free(&b);
    if (bad) {
        k->ud2 = NULL; /* the caller keeps rf */
        sl_cluster_call_cancel(c, *rf->out);
        *rf->out = NULL;
        return -SL_EUNAVAIL;
    }
    return 0;
}

int sl_cluster_fetch_remote(sl_cluster_t *c, uint64_t node, const char *topic, uint32_t partition,
                            int64_t offset, size_t max_count, size_t max_bytes, uint64_t timeout_ms,
                            sl_cluster_fetch_cb cb, void *ud, sl_cluster_call_t **out) {
    remote_fetch_t *rf = calloc(1, sizeof(*rf));
    if (!rf) return -SL_ENOMEM;
    rf->cb = cb;
    rf->ud = ud;
    rf->out = out;
    snprintf(rf->topic, sizeof(rf->topic), "%s", topic);
    rf->partition = partition;
    rf->offset = offset;
    rf->max_count = max_count;
    rf->max_bytes = max_bytes;
    rf->timeout_ms = timeout_ms;
    int rc = fetch_send(c, node, rf);
    if (rc) free(rf);
    return rc;
}

/* ---- topics: start and stop -------------------------------------------------------------------- */

static void mark_path(sl_cluster_t *c, const char *topic, uint64_t inc, char *out, size_t cap) {
    snprintf(out, cap, "%s/t/%s.%" PRIu64, c->raft_dir, topic, inc);
}

static void topic_local_destroy(sl_cluster_t *c, const char *topic, uint64_t inc) {
    char mark[PATH_MAX];
    mark_path(c, topic, inc, mark, sizeof(mark));
    struct stat st;
    if (stat(mark, &st) == 0) {
        nftw(mark, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        /* the engine's topic is this incarnation's only if no newer one took the name */
        mtopic_t *now = sl__topic_find_meta(c, topic);
        if (!now || now->inc == inc) {
            int rc = sl_topic_delete(c->e, topic);
            if (rc && rc != -SL_ENOTFOUND) sl_warn("cluster: delete of local topic %s: %s", topic, sl_strerror(rc));
        }
    }
}

static int wipe_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    const char *base = path + ftw->base;
    if (flag == FTW_F && strncmp(base, "metadata", 8) != 0) remove(path);
    return 0;
}

static void group_new_ex(sl_cluster_t *c, mtopic_t *t, uint32_t p, int repaired);
static void applied_check(group_t *g);
static void group_new(sl_cluster_t *c, mtopic_t *t, uint32_t p) { group_new_ex(c, t, p, 0); }

static void group_new_ex(sl_cluster_t *c, mtopic_t *t, uint32_t p, int repaired) {
    group_t *g = calloc(1, sizeof(*g));
    if (!g) return;
    g->c = c;
    g->t = t;
    snprintf(g->topic, sizeof(g->topic), "%s", t->cfg.name);
    g->partition = p;
    g->inc = t->inc;
    g->rf = t->rf;
    memcpy(g->replicas, &t->replicas[(size_t)p * t->rf], t->rf * sizeof(uint64_t));
    char name[SL_TOPIC_NAME_MAX + 64], dir[PATH_MAX];
    snprintf(name, sizeof(name), "t/%s/%" PRIu64 "/%u", t->cfg.name, t->inc, p);
    mark_path(c, t->cfg.name, t->inc, dir, sizeof(dir));
    size_t dl = strlen(dir);
    snprintf(dir + dl, sizeof(dir) - dl, "/%u", p);
    g->name = strdup(name);
    g->dir = strdup(dir);
    if (!g->name || !g->dir || sl_replica_get(c->e, t->cfg.name, p, &g->rep)) {
        sl_error("cluster: cannot start the replica of %s", name);
        free(g->name);
        free(g->dir);
        free(g);
        return;
    }
    g->fsm.version = 3;
    g->fsm.data = g;
    g->fsm.apply = part_apply;
    g->fsm.snapshot = part_snapshot;
    g->fsm.restore = part_restore;
    g->fsm.snapshot_finalize = part_snapshot_finalize;
    g->fsm.snapshot_async = part_snapshot_async;
    g->next = c->groups;
    c->groups = g;
    g->replay = 1; /* without a snapshot raft applies its whole log again */
    g->cursor = sl_replica_start(g->rep);
    /* Every replica bootstraps with the placement the topic was created with, whatever it
     * is now: the same first entry on every replica, the later changes come through the log. */
    int rc = sl__group_start(c, g, &t->boot[(size_t)p * t->rf], g->rf);
    if (!rc && !repaired) applied_check(g);
    if (rc) {
        g->failed = 1;
        if (g->started && !repaired) {
            /* Its Raft log is damaged (a closed segment that does not load). Rejoin with an
             * empty log, keeping the term and vote (metadata1/2): the leader then sends a
             * snapshot, and the partition log is matched or copied as after any restart. */
            sl_error("cluster: the Raft log of %s does not load; rebuilding it from the peers", name);
            g->repair = 1;
            sl__group_close(g);
        } else {
            sl_error("cluster: the Raft group %s did not start; its replica here is unavailable", name);
        }
    }
}

void sl__part_topic_start(sl_cluster_t *c, mtopic_t *t) {
    int mine = 0;
    for (size_t i = 0; i < (size_t)t->cfg.partitions * t->rf; i++)
        if (t->replicas[i] == c->self) mine = 1;
    char mark[PATH_MAX];
    mark_path(c, t->cfg.name, t->inc, mark, sizeof(mark));
    struct stat st;
    int have_mark = stat(mark, &st) == 0;
    sl_topic_config_t cur;
    if (sl_topic_get(c->e, t->cfg.name, &cur) == 0 && !have_mark) {
        /* a local topic of an earlier incarnation (or from before the cluster): replace it */
        sl_warn("cluster: replacing the local topic %s with the cluster's", t->cfg.name);
        sl_topic_delete(c->e, t->cfg.name);
    }
    if (sl__mkdir_p(mark)) {
        sl_error("cluster: cannot create %s", mark);
        return;
    }
    if (sl_topic_get(c->e, t->cfg.name, &cur) != 0) {
        sl_topic_config_t cf = t->cfg;
        int rc = sl_topic_create(c->e, &cf);
        if (rc) {
            sl_error("cluster: cannot create the local topic %s: %s", t->cfg.name, sl_strerror(rc));
            return;
        }
    }
    if (!mine) return;
    for (uint32_t p = 0; p < t->cfg.partitions; p++)
        for (uint32_t j = 0; j < t->rf; j++)
            if (t->replicas[(size_t)p * t->rf + j] == c->self) group_new(c, t, p);
}

/* The metadata moved replicas of t's partition p: a replica that arrives here starts its group
 * (it bootstraps with the first placement and waits for the leader to add it); one that
 * leaves stays until the group's configuration no longer has it (sl__part_tick). */
void sl__part_placement(sl_cluster_t *c, mtopic_t *t, uint32_t p) {
    const uint64_t *set = &t->replicas[(size_t)p * t->rf];
    group_t *g = group_find(c, t->cfg.name, p);
    if (g && g->inc == t->inc && !g->closing) {
        memcpy(g->replicas, set, t->rf * sizeof(uint64_t));
        return;
    }
    for (uint32_t j = 0; j < t->rf; j++)
        if (set[j] == c->self) {
            sl_info("cluster: %s/%u: a replica moves to this node", t->cfg.name, p);
            group_new(c, t, p);
            return;
        }
}

static int topic_groups_left(sl_cluster_t *c, const char *topic, uint64_t inc) {
    for (group_t *g = c->groups; g; g = g->next)
        if (g->inc == inc && !strcmp(g->topic, topic)) return 1;
    return 0;
}

static void applied_save(group_t *g);

static void group_stop(group_t *g, int status) {
    if (g->started && !g->repair) applied_save(g);
    g->t = NULL;
    fail_pending(g, status);
    for (prop_t *p = g->props; p; p = p->next) {
        if (p->applied) continue;
        p->applied = 1;
        for (size_t i = 0; i < p->nw; i++) waiter_result(&p->w[i], status);
        p->nw = 0;
    }
    g->rep = NULL;
    sl__group_close(g);
}

void sl__part_topic_stop(sl_cluster_t *c, mtopic_t *t, int destroy) {
    for (group_t *g = c->groups; g; g = g->next) {
        if (g->closing || g->inc != t->inc || strcmp(g->topic, t->cfg.name)) continue;
        g->destroy = destroy;
        group_stop(g, -SL_ENOTFOUND);
    }
    for (parked_fetch_t *pf = c->parked, *next; pf; pf = next) {
        next = pf->next;
        if (!strcmp(pf->topic, t->cfg.name)) parked_finish(pf, 1);
    }
    if (destroy && !topic_groups_left(c, t->cfg.name, t->inc)) topic_local_destroy(c, t->cfg.name, t->inc);
}

void sl__part_group_freed(sl_cluster_t *c, group_t *g) {
    if (g == c->meta) {
        c->meta = NULL;
        return;
    }
    for (group_t **pp = &c->groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    while (g->qhead) {
        qentry_t *q = g->qhead;
        g->qhead = q->next;
        free(q->data);
        free(q);
    }
    for (size_t i = 0; i < g->nded; i++) free(g->ded[i].bases);
    free(g->ded);
    sl_buf_free(&g->pend);
    free(g->pw);
    for (call_t *k = c->calls, *next; k; k = next) {
        next = k->next;
        if (k->type == RPC_COPY && k->ud == g) sl__call_fail(c, k, -SL_ECLOSED);
    }
    if (g->destroy && !c->closing && !topic_groups_left(c, g->topic, g->inc))
        topic_local_destroy(c, g->topic, g->inc);
    if (g->drop && !c->closing) { /* moved to another node: its Raft log and data go */
        nftw(g->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        sl_replica_t *rep;
        mtopic_t *t = sl__topic_find_meta(c, g->topic);
        if (t && t->inc == g->inc && sl_replica_get(c->e, g->topic, g->partition, &rep) == 0) sl_replica_reset(rep, 0);
        sl_info("cluster: %s: the replica moved away; its data here is deleted", g->name);
    }
    if (g->repair && !c->closing && g->t) {
        nftw(g->dir, wipe_cb, 16, FTW_PHYS); /* segments and snapshots go; term and vote stay */
        sl_info("cluster: %s: Raft log wiped (term and vote kept); rejoining its group", g->name);
        group_new_ex(c, g->t, g->partition, 1);
        group_t *fresh = group_find(c, g->topic, g->partition);
        if (fresh && fresh != g) fresh->need_reset = 1;
    }
}

void sl__part_close_all(sl_cluster_t *c) {
    while (c->parked) parked_finish(c->parked, 0);
    waiting_retry(c); /* c->closing: they fail */
    for (group_t *g = c->groups; g; g = g->next)
        if (!g->closing) group_stop(g, -SL_ECLOSED);
}


/* The last applied index, written (not fsynced) every second into the group's directory. At
 * start, a Raft log that ends before it has lost entries this replica acknowledged (raft_uv
 * drops a damaged tail when it loads): the group then behaves as one rebuilt empty. */
static void applied_path(group_t *g, char *out, size_t cap) { snprintf(out, cap, "%s/applied", g->dir); }

static void applied_save(group_t *g) {
    char path[PATH_MAX], tmp[PATH_MAX + 8], buf[32];
    applied_path(g, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)raft_last_applied(&g->raft));
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    int ok = fwrite(buf, 1, (size_t)n, f) == (size_t)n;
    if (fclose(f) == 0 && ok) rename(tmp, path);
}

static void applied_check(group_t *g) {
    char path[PATH_MAX];
    applied_path(g, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) return;
    unsigned long long was = 0;
    if (fscanf(f, "%llu", &was) == 1 && raft_last_index(&g->raft) < was) {
        sl_warn("cluster: %s: the Raft log ends at %llu but index %llu was applied before: entries were lost; "
                "asking for a new leader to repair it", g->name, (unsigned long long)raft_last_index(&g->raft), was);
        g->need_reset = 1;
    }
    fclose(f);
}

/* ---- a follower that lost its Raft log ---------------------------------------------------------------
 *
 * A leader keeps, per follower, the highest index it knows the follower stored, and it ignores
 * refusals below it (they look stale). A follower that lost its log after acknowledging entries
 * (a damaged disk, rebuilt empty) is therefore never repaired by that leader. A new leader starts
 * from nothing: the follower asks the leader to hand leadership to another replica. */


/* A replica that moved away asks its group's new replicas whether the group let it go (once it
 * is removed, the leader sends it nothing more, so it cannot tell by itself); the leader answers
 * yes once its committed configuration no longer has it, and the replica deletes its data. */
void sl__part_serve_left(sl_cluster_t *c, uint64_t from, uint8_t type, const char *p, size_t len) {
    sl_reader_t r;
    sl_r_init(&r, p, len);
    group_t *g = group_id_read(c, &r);
    if (!g || g->closing || !g->started) return;
    if (type == RPC_LEFT_ASK) {
        if (is_leader(g) && g->raft.configuration_uncommitted_index == 0 &&
            sl__conf_role(&g->raft.configuration, from) < 0)
            send_group_msg(g, from, RPC_LEFT);
        return;
    }
    if (in_set(g->replicas, g->rf, c->self) || is_leader(g)) return;
    g->drop = 1;
    group_stop(g, -SL_ENOLEADER);
}

void sl__part_serve_stepdown(sl_cluster_t *c, uint64_t from, const char *p, size_t len) {
    sl_reader_t r;
    sl_r_init(&r, p, len);
    group_t *g = group_id_read(c, &r);
    if (!g || !is_leader(g) || raft_transferee(&g->raft) != 0) return;
    raft_id best = 0;
    raft_index best_match = 0;
    for (uint32_t i = 0; i < g->rf; i++) {
        raft_index m = 0;
        if (g->replicas[i] == c->self || g->replicas[i] == from) continue;
        if (raft_match_index(&g->raft, g->replicas[i], &m) == 0 && (!best || m > best_match)) {
            best = g->replicas[i];
            best_match = m;
        }
    }
    sl_warn("cluster: %s: node %" PRIu64 " rebuilt its Raft log; handing leadership to node %" PRIu64
            " so that it is repaired", g->name, from, (uint64_t)best);
    sl__raft_transfer(g, best);
}

/* ---- ticks: copy retries, leader balance ---------------------------------------------------------- */


/* The leader makes the group's configuration follow the placement, one change at a time: a new
 * replica joins as a spare and is promoted to voter (raft catches it up first: a snapshot, then
 * the segment copy of part_restore); only then do replicas no longer placed here leave, the
 * leader itself last, after handing leadership to another voter. */
static void part_reconcile(group_t *g, uint64_t now) {
    sl_cluster_t *c = g->c;
    if (now - g->change_at_ms < 200 || raft_transferee(&g->raft)) return;
    const struct raft_configuration *conf = &g->raft.configuration;
    for (uint32_t j = 0; j < g->rf; j++) {
        int role = sl__conf_role(conf, g->replicas[j]);
        if (role == RAFT_VOTER) continue;
        const node_t *n = sl__node_find(c, g->replicas[j]);
        if (role < 0 && (!n || !n->addr[0])) return; /* its address is not known yet */
        g->change_at_ms = now;
        if (role < 0) sl__raft_change(g, 'a', g->replicas[j], n->addr, 0);
        else sl__raft_change(g, 's', g->replicas[j], NULL, RAFT_VOTER);
        return;
    }
    for (unsigned i = 0; i < conf->n; i++) {
        uint64_t id = conf->servers[i].id;
        if (in_set(g->replicas, g->rf, id)) continue;
        g->change_at_ms = now;
        if (id != c->self) sl__raft_change(g, 'r', id, NULL, 0);
        else sl__raft_transfer(g, 0); /* leaving: another voter leads first */
        return;
    }
}

void sl__part_tick(sl_cluster_t *c, uint64_t now) {
    if (c->waiting) waiting_retry(c);
    int balance = now - c->last_balance_ms >= 2000;
    if (balance) c->last_balance_ms = now;
    for (group_t *g = c->groups; g; g = g->next) {
        if (g->closing || !g->started) continue;
        if (g->catching && !g->copy_busy && now >= g->copy_retry_at) copy_next(g);
        if (now - g->applied_saved_ms >= 1000 && raft_last_applied(&g->raft) != g->applied_saved) {
            g->applied_saved_ms = now;
            g->applied_saved = raft_last_applied(&g->raft);
            applied_save(g);
        }
        if (g->need_reset) {
            /* until the leader that knew our old log has been replaced */
            uint64_t l = leader_of(g);
            if (g->reset_leader && l && l != g->reset_leader) {
                g->need_reset = 0;
                sl_info("cluster: %s: node %" PRIu64 " leads now; the rebuilt replica is repaired from it", g->name, l);
            } else if (l && l != c->self && now - g->reset_sent_ms >= 2000) {
                g->reset_sent_ms = now;
                g->reset_leader = l;
                send_group_msg(g, l, RPC_STEPDOWN);
            }
        }
        /* Requests held while a leadership transfer ran (group_flush holds them) or queued
         * when leadership moved without a proposal finishing: the transfer is over now, so
         * propose them here or send them to the new leader. Nothing else wakes them. */
        if (g->npw) group_flush(g);
        if ((g->failed || g->catching) && is_leader(g) && raft_transferee(&g->raft) == 0) {
            /* a replica that failed or is repairing its log must not lead */
            sl__raft_transfer(g, 0);
            continue;
        }
        if (is_leader(g) && !g->catching && !g->failed) part_reconcile(g, now);
        if (!is_leader(g) && !in_set(g->replicas, g->rf, c->self)) {
            if (sl__conf_role(&g->raft.configuration, c->self) < 0) {
                /* moved away, and the group's configuration has let us go */
                g->drop = 1;
                group_stop(g, -SL_ENOLEADER);
                continue;
            }
            if (now - g->change_at_ms >= 1000) {
                g->change_at_ms = now;
                for (uint32_t j = 0; j < g->rf; j++)
                    if (g->replicas[j] != c->self) send_group_msg(g, g->replicas[j], RPC_LEFT_ASK);
            }
        }
        /* Leaders spread evenly: the first replica is the preferred leader; a leader that is
         * not preferred hands over once the preferred one is caught up. */
        if (balance && is_leader(g) && g->replicas[0] != c->self && !g->inflight && !g->npw) {
            raft_index match = 0;
            int pref_voter = sl__conf_role(&g->raft.configuration, g->replicas[0]) == RAFT_VOTER;
            if (pref_voter && raft_match_index(&g->raft, g->replicas[0], &match) == 0 &&
                match == raft_last_index(&g->raft) && raft_transferee(&g->raft) == 0)
                sl__raft_transfer(g, g->replicas[0]);
        }
    }
}

/* ---- status -------------------------------------------------------------------------------------- */

void sl__part_status_json(sl_cluster_t *c, sl_buf_t *b) {
    int first = 1;
    for (size_t ti = 0; ti < c->ntopics; ti++) {
        mtopic_t *t = c->topics[ti];
        for (uint32_t p = 0; p < t->cfg.partitions; p++) {
            group_t *g = group_find(c, t->cfg.name, p);
            if (!g || g->inc != t->inc) continue;
            sl_buf_printf(b, "%s{\"topic\":\"", first ? "" : ",");
            first = 0;
            sl_buf_json_escape(b, t->cfg.name, strlen(t->cfg.name));
            sl_buf_printf(b, "\",\"partition\":%u,\"leader\":", p);
            uint64_t l = g->started ? leader_of(g) : 0;
            if (l) sl_buf_append_u64(b, l);
            else sl_buf_lit(b, "null");
            sl_buf_lit(b, ",\"replicas\":[");
            for (uint32_t j = 0; j < g->rf; j++) sl_buf_printf(b, "%s%" PRIu64, j ? "," : "", g->replicas[j]);
            sl_buf_lit(b, "],\"voters\":");
            if (g->started) sl__json_role_ids(b, &g->raft.configuration, RAFT_VOTER);
            else sl_buf_lit(b, "[]");
            sl_buf_printf(b, ",\"term\":%llu,\"commit_index\":%llu,\"applied_index\":%llu,"
                          "\"end_offset\":%" PRId64 ",\"catching_up\":%s,\"lag\":",
                          (unsigned long long)raft_current_term(&g->raft),
                          (unsigned long long)raft_commit_index(&g->raft),
                          (unsigned long long)raft_last_applied(&g->raft),
                          g->rep ? sl_replica_end(g->rep) : -1, g->catching ? "true" : "false");
            if (is_leader(g)) {
                sl_buf_putc(b, '{');
                raft_index last = raft_last_index(&g->raft);
                int f = 1;
                for (uint32_t j = 0; j < g->rf; j++) {
                    if (g->replicas[j] == c->self) continue;
                    raft_index m = 0;
                    if (raft_match_index(&g->raft, g->replicas[j], &m)) continue;
                    sl_buf_printf(b, "%s\"%" PRIu64 "\":%llu", f ? "" : ",", g->replicas[j],
                                  (unsigned long long)(last > m ? last - m : 0));
                    f = 0;
                }
                sl_buf_putc(b, '}');
            } else {
                sl_buf_lit(b, "null");
            }
            sl_buf_putc(b, '}');
        }
    }
}
