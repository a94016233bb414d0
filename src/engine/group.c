/* Consumer groups: membership with session timeouts, sticky assignment of partitions, fetch
 * positions, and committed offsets.
 *
 * Membership lives in memory (a restarted server starts with empty groups; members rejoin, as
 * Kafka clients do after a coordinator moves). Committed offsets are durable: each commit is a
 * record batch appended to an internal log, <data>/groups/offsets, and acknowledged after the
 * group-commit fsync covers it, exactly like produced events. Record key:
 * "<group> NUL <topic> NUL <partition>", value: the offset in decimal ("-1" = forget it).
 * At open the log is read from the start; the last record of each key wins. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/log.h"
#include "engine/internal.h"

typedef struct committed {
    char *topic;
    uint32_t partition;
    int64_t offset;
} committed_t;

typedef struct member {
    char id[64];
    char **topics;
    size_t ntopics;
    uint64_t session_ms;
    int reset_latest;
    uint64_t last_seen;
    int polling;               /* a long poll is in flight: the member is alive */
    int64_t known_gen;
    sl_tp_t *tps;
    int64_t *pos;              /* fetch position per tp, -1 = start from the committed offset */
    size_t ntps;
    size_t rr;                 /* round-robin start for the next fetch */
} member_t;

struct sl_group {
    char *name;
    int64_t generation;
    member_t **members;
    size_t nmembers;
    committed_t *offs;         /* sorted by (topic, partition) */
    size_t noffs, offs_cap;
};

/* ---- committed offsets map ------------------------------------------------------------------ */

static int cmp_tp(const char *t1, uint32_t p1, const char *t2, uint32_t p2) {
    int c = strcmp(t1, t2);
    if (c) return c;
    return p1 < p2 ? -1 : p1 > p2;
}

static size_t offs_pos(const sl_group_t *g, const char *topic, uint32_t part, int *found) {
    size_t lo = 0, hi = g->noffs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_tp(g->offs[mid].topic, g->offs[mid].partition, topic, part);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static int64_t offs_get(const sl_group_t *g, const char *topic, uint32_t part) {
    int found;
    size_t i = offs_pos(g, topic, part, &found);
    return found ? g->offs[i].offset : -1;
}

static int offs_set(sl_group_t *g, const char *topic, uint32_t part, int64_t off) {
    int found;
    size_t i = offs_pos(g, topic, part, &found);
    if (found) {
        if (off < 0) {
            free(g->offs[i].topic);
            memmove(g->offs + i, g->offs + i + 1, (g->noffs - i - 1) * sizeof(*g->offs));
            g->noffs--;
        } else {
            g->offs[i].offset = off;
        }
        return 0;
    }
    if (off < 0) return 0;
    if (g->noffs == g->offs_cap) {
        size_t cap = g->offs_cap ? g->offs_cap * 2 : 16;
        committed_t *v = realloc(g->offs, cap * sizeof(*v));
        if (!v) return -SL_ENOMEM;
        g->offs = v;
        g->offs_cap = cap;
    }
    char *t = strdup(topic);
    if (!t) return -SL_ENOMEM;
    memmove(g->offs + i + 1, g->offs + i, (g->noffs - i) * sizeof(*g->offs));
    g->offs[i] = (committed_t){t, part, off};
    g->noffs++;
    return 0;
}

/* ---- groups ------------------------------------------------------------------------------------ */

static sl_group_t *group_find(sl_engine_t *e, const char *name) {
    for (size_t i = 0; i < e->ngroups; i++)
        if (strcmp(e->groups[i]->name, name) == 0) return e->groups[i];
    return NULL;
}

static sl_group_t *group_get(sl_engine_t *e, const char *name) {
    sl_group_t *g = group_find(e, name);
    if (g) return g;
    if (e->ngroups == e->groups_cap) {
        size_t cap = e->groups_cap ? e->groups_cap * 2 : 8;
        sl_group_t **v = realloc(e->groups, cap * sizeof(*v));
        if (!v) return NULL;
        e->groups = v;
        e->groups_cap = cap;
    }
    g = calloc(1, sizeof(*g));
    if (!g || !(g->name = strdup(name))) {
        free(g);
        return NULL;
    }
    e->groups[e->ngroups++] = g;
    return g;
}

static void member_free(member_t *m) {
    for (size_t i = 0; i < m->ntopics; i++) free(m->topics[i]);
    free(m->topics);
    for (size_t i = 0; i < m->ntps; i++) free(m->tps[i].topic);
    free(m->tps);
    free(m->pos);
    free(m);
}

static int member_subscribes(const member_t *m, const char *topic) {
    for (size_t i = 0; i < m->ntopics; i++)
        if (strcmp(m->topics[i], topic) == 0) return 1;
    return 0;
}

static int group_subscribes(const sl_group_t *g, const char *topic) {
    for (size_t i = 0; i < g->nmembers; i++)
        if (member_subscribes(g->members[i], topic)) return 1;
    return 0;
}

static member_t *member_find(const sl_group_t *g, const char *id) {
    for (size_t i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i]->id, id) == 0) return g->members[i];
    return NULL;
}

typedef struct slot {
    const char *topic;
    uint32_t partition;
    int owner;                 /* member index or -1 */
} slot_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sticky rebalance: every member keeps what it owned (if still subscribed and within its fair
 * share), the rest goes to the least-loaded subscribed member. Bumps the generation and sends
 * every member back to its committed offsets. */
static int rebalance(sl_engine_t *e, sl_group_t *g) {
    int rc = -SL_ENOMEM;
    size_t ntopics = 0, nslots = 0;
    char **topics = NULL;
    slot_t *slots = NULL;
    size_t *load = NULL;
    for (size_t i = 0; i < g->nmembers; i++) ntopics += g->members[i]->ntopics;
    topics = malloc((ntopics + 1) * sizeof(*topics));
    load = calloc(g->nmembers + 1, sizeof(*load));
    if (!topics || !load) goto out;
    ntopics = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        for (size_t k = 0; k < g->members[i]->ntopics; k++) topics[ntopics++] = g->members[i]->topics[k];
    qsort(topics, ntopics, sizeof(*topics), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < ntopics; i++)
        if (u == 0 || strcmp(topics[u - 1], topics[i])) topics[u++] = topics[i];
    ntopics = u;
    size_t total = 0;
    for (size_t i = 0; i < ntopics; i++) {
        sl_topic_t *t = sl__topic_find(e, topics[i]);
        if (t) total += t->cfg.partitions;
    }
    slots = malloc((total + 1) * sizeof(*slots));
    if (!slots) goto out;
    for (size_t i = 0; i < ntopics; i++) {
        sl_topic_t *t = sl__topic_find(e, topics[i]);
        for (uint32_t p = 0; t && p < t->cfg.partitions; p++)
            slots[nslots++] = (slot_t){t->cfg.name, p, -1};
    }
    size_t quota = g->nmembers ? (nslots + g->nmembers - 1) / g->nmembers : 0;
    /* Pass 1: keep previous owners. */
    for (size_t s = 0; s < nslots; s++) {
        for (size_t m = 0; m < g->nmembers && slots[s].owner < 0; m++) {
            member_t *mb = g->members[m];
            if (load[m] >= quota || !member_subscribes(mb, slots[s].topic)) continue;
            for (size_t k = 0; k < mb->ntps; k++) {
                if (mb->tps[k].partition == slots[s].partition && !strcmp(mb->tps[k].topic, slots[s].topic)) {
                    slots[s].owner = (int)m;
                    load[m]++;
                    break;
                }
            }
        }
    }
    /* Pass 2: the rest to the least loaded subscriber. */
    for (size_t s = 0; s < nslots; s++) {
        if (slots[s].owner >= 0) continue;
        int best = -1;
        for (size_t m = 0; m < g->nmembers; m++) {
            if (!member_subscribes(g->members[m], slots[s].topic)) continue;
            if (best < 0 || load[m] < load[best]) best = (int)m;
        }
        if (best >= 0) {
            slots[s].owner = best;
            load[best]++;
        }
    }
    /* Install. */
    for (size_t m = 0; m < g->nmembers; m++) {
        member_t *mb = g->members[m];
        sl_tp_t *tps = calloc(load[m] + 1, sizeof(*tps));
        int64_t *pos = malloc((load[m] + 1) * sizeof(*pos));
        if (!tps || !pos) {
            free(tps);
            free(pos);
            goto out;
        }
        size_t n = 0;
        for (size_t s = 0; s < nslots; s++) {
            if (slots[s].owner != (int)m) continue;
            tps[n].topic = strdup(slots[s].topic);
            tps[n].partition = slots[s].partition;
            pos[n] = -1;
            if (!tps[n].topic) {
                for (size_t k = 0; k < n; k++) free(tps[k].topic);
                free(tps);
                free(pos);
                goto out;
            }
            n++;
        }
        for (size_t k = 0; k < mb->ntps; k++) free(mb->tps[k].topic);
        free(mb->tps);
        free(mb->pos);
        mb->tps = tps;
        mb->pos = pos;
        mb->ntps = n;
        mb->rr = 0;
    }
    g->generation++;
    sl_info("group %s: generation %" PRId64 ", %zu members, %zu partitions", g->name, g->generation,
            g->nmembers, nslots);
    rc = 0;
out:
    free(topics);
    free(slots);
    free(load);
    return rc;
}

static int fill_assignment(const sl_group_t *g, const member_t *m, sl_assignment_t *out) {
    memset(out, 0, sizeof(*out));
    snprintf(out->member_id, sizeof(out->member_id), "%s", m->id);
    out->generation = g->generation;
    out->tps = calloc(m->ntps + 1, sizeof(*out->tps));
    if (!out->tps) return -SL_ENOMEM;
    for (size_t i = 0; i < m->ntps; i++) {
        out->tps[i].partition = m->tps[i].partition;
        if (!(out->tps[i].topic = strdup(m->tps[i].topic))) {
            sl_assignment_free(out);
            return -SL_ENOMEM;
        }
        out->count++;
    }
    return 0;
}

void sl_assignment_free(sl_assignment_t *a) {
    for (size_t i = 0; i < a->count; i++) free(a->tps[i].topic);
    free(a->tps);
    a->tps = NULL;
    a->count = 0;
}

int sl_group_join(sl_engine_t *e, const char *group, const sl_join_config_t *cfg,
                  sl_assignment_t *out) {
    if (!cfg->topic_count) return -SL_EINVAL;
    for (size_t i = 0; i < cfg->topic_count; i++)
        if (!sl__topic_find(e, cfg->topics[i])) return -SL_ENOTFOUND;
    sl_group_t *g = group_get(e, group);
    member_t *m = calloc(1, sizeof(*m));
    if (!g || !m) goto nomem;
    if (!(m->topics = calloc(cfg->topic_count, sizeof(*m->topics)))) goto nomem;
    for (size_t i = 0; i < cfg->topic_count; i++) {
        if (!(m->topics[i] = strdup(cfg->topics[i]))) goto nomem;
        m->ntopics++;
    }
    snprintf(m->id, sizeof(m->id), "m-%" PRIx64 "-%" PRIx64, (uint64_t)sl_now_ms(), ++e->member_seq);
    m->session_ms = cfg->session_timeout_ms ? cfg->session_timeout_ms : 10000;
    m->reset_latest = cfg->reset_latest;
    m->last_seen = sl_mono_ms();
    member_t **v = realloc(g->members, (g->nmembers + 1) * sizeof(*v));
    if (!v) goto nomem;
    g->members = v;
    g->members[g->nmembers++] = m;
    if (rebalance(e, g)) {
        g->nmembers--;
        m = NULL;
        member_free(g->members[g->nmembers]);
        return -SL_ENOMEM;
    }
    m->known_gen = g->generation;
    return fill_assignment(g, m, out);
nomem:
    if (m) member_free(m);
    return -SL_ENOMEM;
}

static void member_remove(sl_engine_t *e, sl_group_t *g, size_t i, const char *why) {
    sl_info("group %s: member %s %s", g->name, g->members[i]->id, why);
    member_free(g->members[i]);
    memmove(g->members + i, g->members + i + 1, (g->nmembers - i - 1) * sizeof(*g->members));
    g->nmembers--;
    if (rebalance(e, g)) sl_error("group %s: rebalance failed: out of memory", g->name);
}

int sl_group_leave(sl_engine_t *e, const char *group, const char *member) {
    sl_group_t *g = group_find(e, group);
    if (!g) return -SL_ENOTFOUND;
    for (size_t i = 0; i < g->nmembers; i++) {
        if (strcmp(g->members[i]->id, member)) continue;
        member_remove(e, g, i, "left");
        return 0;
    }
    return -SL_ENOTFOUND;
}

void sl__groups_check_sessions(sl_engine_t *e) {
    uint64_t now = sl_mono_ms();
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        for (size_t i = 0; i < g->nmembers;) {
            member_t *m = g->members[i];
            if (!m->polling && now - m->last_seen > m->session_ms) {
                member_remove(e, g, i, "timed out");
                continue;
            }
            i++;
        }
    }
}

int sl_group_heartbeat(sl_engine_t *e, const char *group, const char *member, sl_assignment_t *out) {
    sl_group_t *g = group_find(e, group);
    member_t *m = g ? member_find(g, member) : NULL;
    if (!m) return -SL_ENOTFOUND;
    m->last_seen = sl_mono_ms();
    if (m->known_gen == g->generation) return 0;
    int rc = fill_assignment(g, m, out);
    if (rc) return rc;
    m->known_gen = g->generation;
    return 1;
}

/* Resolves a member's position on tp i. */
static int64_t member_position(sl_engine_t *e, sl_group_t *g, member_t *m, size_t i) {
    if (m->pos[i] >= 0) return m->pos[i];
    int64_t c = offs_get(g, m->tps[i].topic, m->tps[i].partition);
    if (c >= 0) return c;
    return m->reset_latest ? SL_OFFSET_LATEST : SL_OFFSET_EARLIEST;
    (void)e;
}

int sl_group_fetch(sl_engine_t *e, const char *group, const char *member, size_t max_count,
                   size_t max_bytes, sl_group_fetch_t **out, size_t *nout) {
    sl_group_t *g = group_find(e, group);
    member_t *m = g ? member_find(g, member) : NULL;
    *out = NULL;
    *nout = 0;
    if (!m) return -SL_ENOTFOUND;
    m->last_seen = sl_mono_ms();
    sl_group_fetch_t *v = calloc(m->ntps + 1, sizeof(*v));
    if (!v) return -SL_ENOMEM;
    size_t n = 0;
    for (size_t k = 0; k < m->ntps && max_count > 0 && max_bytes > 0; k++) {
        size_t i = (m->rr + k) % m->ntps;
        int64_t pos = member_position(e, g, m, i);
        sl_fetch_result_t res;
        int rc = sl_fetch(e, m->tps[i].topic, m->tps[i].partition, pos, max_count, max_bytes, &res);
        if (rc == -SL_ERANGE) {
            /* Retention passed the committed offset (or the log is shorter): restart at the
             * nearest valid end, as Kafka's auto.offset.reset does. */
            int64_t fix = pos < res.earliest_offset ? res.earliest_offset : res.latest_offset;
            rc = sl_fetch(e, m->tps[i].topic, m->tps[i].partition, fix, max_count, max_bytes, &res);
        }
        if (rc == -SL_ENOTFOUND) continue; /* the topic went away; a rebalance follows */
        if (rc) {
            sl_group_fetch_free(v, n);
            return rc;
        }
        m->pos[i] = res.next_offset;
        if (res.count == 0) {
            sl_fetch_result_free(&res);
            continue;
        }
        size_t bytes = 0;
        for (size_t r = 0; r < res.count; r++) bytes += res.recs[r].value_len + res.recs[r].key_len;
        max_count -= res.count;
        max_bytes = bytes >= max_bytes ? 0 : max_bytes - bytes;
        v[n].tp.partition = m->tps[i].partition;
        v[n].tp.topic = strdup(m->tps[i].topic);
        v[n].res = res;
        n++;
        if (!v[n - 1].tp.topic) {
            sl_group_fetch_free(v, n);
            return -SL_ENOMEM;
        }
    }
    if (m->ntps) m->rr = (m->rr + 1) % m->ntps;
    *out = v;
    *nout = n;
    return 0;
}

void sl_group_fetch_free(sl_group_fetch_t *f, size_t n) {
    if (!f) return;
    for (size_t i = 0; i < n; i++) {
        free(f[i].tp.topic);
        sl_fetch_result_free(&f[i].res);
    }
    free(f);
}

int sl_group_watch(sl_engine_t *e, const char *group, const char *member, sl_watch_cb cb, void *ud,
                   sl_watch_t **out) {
    sl_group_t *g = group_find(e, group);
    member_t *m = g ? member_find(g, member) : NULL;
    if (!m) return -SL_ENOTFOUND;
    sl_watch_t *parent = calloc(1, sizeof(*parent));
    if (!parent) return -SL_ENOMEM;
    parent->e = e;
    parent->cb = cb;
    parent->ud = ud;
    parent->children = calloc(m->ntps + 1, sizeof(*parent->children));
    if (!parent->children) {
        free(parent);
        return -SL_ENOMEM;
    }
    for (size_t i = 0; i < m->ntps; i++) {
        sl_topic_t *t = sl__topic_find(e, m->tps[i].topic);
        if (!t || m->tps[i].partition >= t->cfg.partitions) continue;
        sl_partition_t *p = t->parts[m->tps[i].partition];
        int64_t pos = member_position(e, g, m, i);
        if (pos == SL_OFFSET_LATEST) pos = p->log->durable_offset;
        if (pos == SL_OFFSET_EARLIEST) pos = sl_log_start_offset(p->log);
        sl_watch_t *w;
        if (sl__watch_partition(p, pos, cb, ud, parent, &w)) {
            sl_watch_cancel(parent);
            return -SL_ENOMEM;
        }
        parent->children[parent->nchildren++] = w;
    }
    m->polling = 1;
    *out = parent;
    return 0;
}

/* Marks the end of a member's long poll (net calls it through sl_group_heartbeat too). */
void sl_group_poll_done(sl_engine_t *e, const char *group, const char *member) {
    sl_group_t *g = group_find(e, group);
    member_t *m = g ? member_find(g, member) : NULL;
    if (!m) return;
    m->polling = 0;
    m->last_seen = sl_mono_ms();
}

/* ---- commits -------------------------------------------------------------------------------- */

typedef struct commit_ctx {
    sl_engine_t *e;
    char *group;
    sl_commit_t *c;            /* topics copied */
    size_t n;
    sl_status_cb cb;
    void *ud;
} commit_ctx_t;

static void commit_ctx_free(commit_ctx_t *x) {
    for (size_t i = 0; i < x->n; i++) free((char *)x->c[i].topic);
    free(x->c);
    free(x->group);
    free(x);
}

static void commit_done(void *ud, int status) {
    commit_ctx_t *x = ud;
    if (x->cb) x->cb(x->ud, status);
    commit_ctx_free(x);
}

/* Appends commit records to the offsets log; done(ud, status) when durable. */
static int offsets_append(sl_engine_t *e, const char *group, const sl_commit_t *c, size_t n,
                          void (*done)(void *, int), void *ud) {
    sl_partition_t *p = e->offsets_log;
    sl_batch_builder_t b;
    sl_buf_t buf = SL_BUF_INIT, key = SL_BUF_INIT;
    int rc = sl_batch_begin(&b, &buf);
    int64_t now = sl_now_ms();
    for (size_t i = 0; !rc && i < n; i++) {
        char val[24];
        key.len = 0;
        rc = sl_buf_append(&key, group, strlen(group) + 1);
        if (!rc) rc = sl_buf_append(&key, c[i].topic, strlen(c[i].topic) + 1);
        if (!rc) rc = sl_buf_printf(&key, "%u", c[i].partition);
        int vl = snprintf(val, sizeof(val), "%" PRId64, c[i].offset);
        if (!rc) rc = sl_batch_add(&b, now, key.data, (int32_t)key.len, val, vl);
    }
    if (!rc) rc = sl_batch_finish(&b);
    produce_req_t *req = rc ? NULL : calloc(1, sizeof(*req));
    if (!rc && !req) rc = -SL_ENOMEM;
    sl_log_mark_t mark;
    int64_t base;
    if (!rc) {
        size_t blen = buf.len;
        char *bdata = sl_buf_steal(&buf, NULL);
        rc = sl__partition_append(p, bdata, blen, &mark, &base);
        if (rc) free(bdata);
    }
    sl_buf_free(&buf);
    sl_buf_free(&key);
    if (rc) {
        free(req);
        return rc;
    }
    req->e = e;
    req->done = done;
    req->ud = ud;
    req->pending = 1;
    if ((rc = sl__partition_wait(p, req, p->log->next_offset))) req->status = rc;
    if (e->cfg.fsync == SL_FSYNC_ALWAYS) sl__partition_kick(p);
    if (--req->pending == 0) sl__ready_push(e, req);
    return 0;
}

int sl_group_commit_check(sl_engine_t *e, const char *group, const char *member, int64_t generation,
                          const sl_commit_t *c, size_t n) {
    if (e->closing) return -SL_ECLOSED;
    sl_group_t *g = group_find(e, group);
    member_t *m = g ? member_find(g, member) : NULL;
    if (!m) return -SL_ENOTFOUND;
    m->last_seen = sl_mono_ms();
    if (generation >= 0 && generation != g->generation) return -SL_ESTALE;
    for (size_t i = 0; i < n; i++) {
        int owned = 0;
        for (size_t k = 0; k < m->ntps && !owned; k++)
            owned = m->tps[k].partition == c[i].partition && !strcmp(m->tps[k].topic, c[i].topic);
        if (!owned) return -SL_ENOTASSIGNED;
        if (c[i].offset < 0) return -SL_EINVAL;
    }
    return 0;
}

int sl_group_offsets_store(sl_engine_t *e, const char *group, const sl_commit_t *c, size_t n,
                           sl_status_cb cb, void *ud) {
    if (e->closing) return -SL_ECLOSED;
    sl_group_t *g = group_get(e, group);
    if (!g) return -SL_ENOMEM;
    commit_ctx_t *x = calloc(1, sizeof(*x));
    if (!x) return -SL_ENOMEM;
    x->e = e;
    x->cb = cb;
    x->ud = ud;
    x->group = strdup(group);
    x->c = calloc(n + 1, sizeof(*x->c));
    if (!x->group || !x->c) {
        commit_ctx_free(x);
        return -SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        x->c[i] = c[i];
        if (!(x->c[i].topic = strdup(c[i].topic))) {
            commit_ctx_free(x);
            return -SL_ENOMEM;
        }
        x->n++;
    }
    int rc = offsets_append(e, group, c, n, commit_done, x);
    if (rc) {
        commit_ctx_free(x);
        return rc;
    }
    /* The in-memory map follows the log's order (not durability), so a compaction snapshot
     * taken now includes this commit. */
    for (size_t i = 0; i < n; i++) offs_set(g, c[i].topic, c[i].partition, c[i].offset);
    return 0;
}

int sl_group_commit(sl_engine_t *e, const char *group, const char *member, int64_t generation,
                    const sl_commit_t *c, size_t n, sl_status_cb cb, void *ud) {
    int rc = sl_group_commit_check(e, group, member, generation, c, n);
    return rc ? rc : sl_group_offsets_store(e, group, c, n, cb, ud);
}

/* ---- compaction ------------------------------------------------------------------------------ */

/* Keeps the offsets log small: past cfg.offsets_compact_bytes, start a new segment with a snapshot
 * of every group's committed offsets, and once that snapshot is durable delete the segments
 * before it (everything in them is superseded). Called from the engine's retention timer. */
void sl__groups_maintain(sl_engine_t *e) {
    sl_partition_t *p = e->offsets_log;
    if (!p || p->log->failed) return;
    if (e->offsets_snap_at >= 0) {
        if (p->log->durable_offset < e->offsets_snap_end) return;
        if (sl_log_drop_before(p->log, e->offsets_snap_at) > 0) sl__partition_kick(p);
        if (sl_log_start_offset(p->log) >= e->offsets_snap_at) {
            sl_info("committed offsets compacted to %" PRIu64 " bytes", sl_log_bytes(p->log));
            e->offsets_snap_at = -1;
        }
        return;
    }
    if (sl_log_bytes(p->log) < e->cfg.offsets_compact_bytes || sl_log_roll(p->log)) return;
    int64_t at = p->log->next_offset;
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        if (!g->noffs) continue;
        sl_commit_t *c = malloc(g->noffs * sizeof(*c));
        if (!c) return;
        for (size_t i = 0; i < g->noffs; i++) c[i] = (sl_commit_t){g->offs[i].topic, g->offs[i].partition, g->offs[i].offset};
        int rc = offsets_append(e, g->name, c, g->noffs, NULL, NULL);
        free(c);
        if (rc) return; /* retried at the next tick with a new snapshot */
    }
    e->offsets_snap_at = at;
    e->offsets_snap_end = p->log->next_offset;
}

/* ---- describe ------------------------------------------------------------------------------- */

int sl_group_describe(sl_engine_t *e, const char *group, sl_group_info_t *out) {
    memset(out, 0, sizeof(*out));
    sl_group_t *g = group_find(e, group);
    if (!g) return -SL_ENOTFOUND;
    out->generation = g->generation;
    out->members = calloc(g->nmembers + 1, sizeof(*out->members));
    size_t maxo = g->noffs;
    for (size_t i = 0; i < g->nmembers; i++) maxo += g->members[i]->ntps;
    out->offsets = calloc(maxo + 1, sizeof(*out->offsets));
    if (!out->members || !out->offsets) goto nomem;
    uint64_t now = sl_mono_ms();
    for (size_t i = 0; i < g->nmembers; i++) {
        member_t *m = g->members[i];
        sl_member_info_t *mi = &out->members[out->member_count++];
        snprintf(mi->member_id, sizeof(mi->member_id), "%s", m->id);
        mi->session_timeout_ms = m->session_ms;
        mi->idle_ms = m->polling ? 0 : now - m->last_seen;
        mi->topics = calloc(m->ntopics + 1, sizeof(*mi->topics));
        mi->tps = calloc(m->ntps + 1, sizeof(*mi->tps));
        if (!mi->topics || !mi->tps) goto nomem;
        for (size_t k = 0; k < m->ntopics; k++) {
            if (!(mi->topics[k] = strdup(m->topics[k]))) goto nomem;
            mi->topic_count++;
        }
        for (size_t k = 0; k < m->ntps; k++) {
            if (!(mi->tps[k].topic = strdup(m->tps[k].topic))) goto nomem;
            mi->tps[k].partition = m->tps[k].partition;
            mi->tp_count++;
        }
    }
    /* Offsets: every committed partition, plus assigned ones without a commit. */
    for (size_t i = 0; i < g->noffs; i++) {
        sl_offset_info_t *o = &out->offsets[out->offset_count];
        if (!(o->tp.topic = strdup(g->offs[i].topic))) goto nomem;
        o->tp.partition = g->offs[i].partition;
        o->committed = g->offs[i].offset;
        out->offset_count++;
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        member_t *m = g->members[i];
        for (size_t k = 0; k < m->ntps; k++) {
            if (offs_get(g, m->tps[k].topic, m->tps[k].partition) >= 0) continue;
            sl_offset_info_t *o = &out->offsets[out->offset_count];
            if (!(o->tp.topic = strdup(m->tps[k].topic))) goto nomem;
            o->tp.partition = m->tps[k].partition;
            o->committed = -1;
            out->offset_count++;
        }
    }
    for (size_t i = 0; i < out->offset_count; i++) {
        sl_offset_info_t *o = &out->offsets[i];
        sl_partition_stats_t st;
        o->latest = sl_partition_stats(e, o->tp.topic, o->tp.partition, &st) == 0 ? st.latest_offset : -1;
    }
    return 0;
nomem:
    sl_group_info_free(out);
    return -SL_ENOMEM;
}

void sl_group_info_free(sl_group_info_t *g) {
    for (size_t i = 0; i < g->member_count; i++) {
        sl_member_info_t *m = &g->members[i];
        for (size_t k = 0; k < m->topic_count; k++) free(m->topics[k]);
        free(m->topics);
        for (size_t k = 0; k < m->tp_count; k++) free(m->tps[k].topic);
        free(m->tps);
    }
    free(g->members);
    for (size_t i = 0; i < g->offset_count; i++) free(g->offsets[i].tp.topic);
    free(g->offsets);
    memset(g, 0, sizeof(*g));
}

int sl_group_list(sl_engine_t *e, char ***names, size_t *count) {
    char **v = calloc(e->ngroups + 1, sizeof(*v));
    size_t n = 0;
    if (!v) return -SL_ENOMEM;
    for (size_t i = 0; i < e->ngroups; i++) {
        if (!e->groups[i]->nmembers && !e->groups[i]->noffs) continue;
        if (!(v[n] = strdup(e->groups[i]->name))) {
            sl_names_free(v, n);
            return -SL_ENOMEM;
        }
        n++;
    }
    qsort(v, n, sizeof(*v), cmp_str);
    *names = v;
    *count = n;
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void forget_done(void *ud, int status) {
    (void)ud;
    if (status) sl_warn("could not record forgotten offsets: %s", sl_strerror(status));
}

void sl__groups_topic_deleted(sl_engine_t *e, const char *topic) {
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        sl_commit_t *tomb = calloc(g->noffs + 1, sizeof(*tomb));
        size_t nt = 0;
        for (size_t i = 0; i < g->noffs;) {
            if (strcmp(g->offs[i].topic, topic)) {
                i++;
                continue;
            }
            if (tomb) tomb[nt++] = (sl_commit_t){topic, g->offs[i].partition, -1};
            offs_set(g, topic, g->offs[i].partition, -1);
        }
        if (nt) offsets_append(e, g->name, tomb, nt, forget_done, NULL);
        free(tomb);
        if (group_subscribes(g, topic)) rebalance(e, g);
    }
}

void sl__groups_topic_created(sl_engine_t *e, const char *topic) {
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        if (group_subscribes(g, topic)) rebalance(e, g);
    }
}

/* Reads the whole offsets log into the groups. */
static int load_offsets(sl_engine_t *e) {
    int64_t off = sl_log_start_offset(e->offsets_log->log);
    size_t loaded = 0;
    for (;;) {
        sl_fetch_result_t res;
        size_t used;
        memset(&res, 0, sizeof(res));
        int rc = sl__partition_read(e->offsets_log, off, 100000, 4u << 20, &res, &used);
        if (rc) sl_error("reading committed offsets: %s", sl_strerror(rc));
        if (rc || res.count == 0) {
            sl_fetch_result_free(&res);
            break;
        }
        for (size_t i = 0; i < res.count; i++) {
            const sl_fetched_t *r = &res.recs[i];
            if (!r->key || !r->value || r->value_len > 20) continue;
            const char *gname = r->key;
            size_t gl = strnlen(gname, r->key_len);
            if (gl + 1 >= r->key_len) continue;
            const char *tname = gname + gl + 1;
            size_t tl = strnlen(tname, r->key_len - gl - 1);
            if (gl + tl + 2 >= r->key_len) continue;
            char pbuf[16], vbuf[24];
            size_t pl = r->key_len - gl - tl - 2;
            if (pl >= sizeof(pbuf)) continue;
            memcpy(pbuf, tname + tl + 1, pl);
            pbuf[pl] = 0;
            memcpy(vbuf, r->value, r->value_len);
            vbuf[r->value_len] = 0;
            sl_group_t *g = group_get(e, gname);
            if (!g) {
                sl_fetch_result_free(&res);
                return -SL_ENOMEM;
            }
            offs_set(g, tname, (uint32_t)strtoul(pbuf, NULL, 10), strtoll(vbuf, NULL, 10));
            loaded++;
        }
        off = res.next_offset;
        sl_fetch_result_free(&res);
    }
    /* Offsets of topics that no longer exist are dropped. */
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        for (size_t i = 0; i < g->noffs;) {
            if (sl__topic_find(e, g->offs[i].topic)) i++;
            else offs_set(g, g->offs[i].topic, g->offs[i].partition, -1);
        }
    }
    if (loaded) sl_info("loaded %zu committed offset records of %zu groups", loaded, e->ngroups);
    return 0;
}

int sl__groups_open(sl_engine_t *e) {
    size_t n = strlen(e->data_dir) + 32;
    char *gdir = malloc(n), *odir = malloc(n);
    int rc = -SL_ENOMEM;
    if (!gdir || !odir) goto out;
    snprintf(gdir, n, "%s/groups", e->data_dir);
    snprintf(odir, n, "%s/groups/offsets", e->data_dir);
    if (mkdir(gdir, 0755) && errno != EEXIST) {
        rc = -SL_EIO;
        goto out;
    }
    if ((rc = sl__partition_open(e, NULL, 0, odir, &e->offsets_log))) goto out;
    rc = load_offsets(e);
out:
    free(gdir);
    free(odir);
    return rc;
}

void sl__groups_free(sl_engine_t *e) {
    for (size_t k = 0; k < e->ngroups; k++) {
        sl_group_t *g = e->groups[k];
        for (size_t i = 0; i < g->nmembers; i++) member_free(g->members[i]);
        free(g->members);
        for (size_t i = 0; i < g->noffs; i++) free(g->offs[i].topic);
        free(g->offs);
        free(g->name);
        free(g);
    }
    free(e->groups);
    e->groups = NULL;
    e->ngroups = 0;
    if (e->offsets_log) sl__partition_free(e->offsets_log, 0);
    e->offsets_log = NULL;
}
