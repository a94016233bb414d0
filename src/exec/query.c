/* The physical pipeline of a continuous query (see query.h).
 *
 * Rows flow through: extraction of the referenced columns from the event's JSON (json/extract),
 * the "pre" stages (filters and projections below the aggregate), then either straight to the
 * "post" stages and the output, or into the aggregate:
 *   - no window:  one hash table group key -> accumulators; groups touched by a batch are
 *                 re-emitted at the end of the batch as inserts, updates or deletes;
 *   - TUMBLE/HOP/CUMULATE: open windows sorted by end, each a hash table; a window is emitted
 *                 once, when the watermark passes its end, and then freed;
 *   - SESSION:    per group key a list of sessions, merged as events bridge their gaps.
 * Watermark: per source partition the largest event time minus the declared bound minus 1 ms
 * (Flink's bounded-out-of-orderness generator); the query's watermark is the minimum over
 * partitions not idle for longer than the stream's idle_timeout. A window [start, end) fires
 * when watermark >= end - 1; an event whose every window has fired is late: dropped, counted.
 *
 * State memory is counted (keys, accumulators, DISTINCT sets, strings) against memory_limit. */
#include "exec/query.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "exec/expr.h"
#include "json/doc.h"
#include "json/extract.h"

/* ---- row encoding -------------------------------------------------------------------------- */

static int enc_value(sl_buf_t *b, sl_type_t t, const sl_value_t *v) {
    if (sl_buf_reserve(b, 13)) return -1;
    b->data[b->len++] = (char)(v->null ? 1 : 0);
    if (t == SL_TYPE_VARCHAR) {
        uint32_t n = v->null ? 0 : v->u.s.n;
        memcpy(b->data + b->len, &n, 4);
        b->len += 4;
        return n ? sl_buf_append(b, v->u.s.p, n) : 0;
    }
    uint64_t x = 0;
    if (!v->null) {
        if (t == SL_TYPE_DOUBLE) {
            double d = v->u.d == 0 ? 0.0 : v->u.d; /* -0.0 and 0.0 group together */
            memcpy(&x, &d, 8);
        } else {
            x = (uint64_t)v->u.i;
        }
    }
    memcpy(b->data + b->len, &x, 8);
    b->len += 8;
    return 0;
}

static size_t dec_value(const char *p, size_t len, sl_type_t t, sl_value_t *v) {
    if (len < 1) return 0;
    v->null = (uint8_t)p[0];
    if (t == SL_TYPE_VARCHAR) {
        uint32_t n;
        if (len < 5) return 0;
        memcpy(&n, p + 1, 4);
        if (len - 5 < n) return 0;
        v->u.s.p = p + 5;
        v->u.s.n = n;
        return 5 + (size_t)n;
    }
    if (len < 9) return 0;
    memcpy(&v->u.i, p + 1, 8);
    return 9;
}

int sl_row_encode(sl_buf_t *out, const sl_pcol_t *cols, int n, const sl_value_t *row) {
    for (int i = 0; i < n; i++)
        if (enc_value(out, cols[i].type, &row[i])) return -1;
    return 0;
}

size_t sl_row_decode(const char *p, size_t len, const sl_pcol_t *cols, int n, sl_value_t *row) {
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t k = dec_value(p + off, len - off, cols[i].type, &row[i]);
        if (!k) return 0;
        off += k;
    }
    return off;
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        h = (h ^ k) * 0xc4ceb9fe1a85ec53ull;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    if (n) memcpy(&k, p, n);
    h ^= k * 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

/* ---- state: DISTINCT sets, accumulators, group tables -------------------------------------- */

/* A DISTINCT set: encoded values, each with a mask of the aggregates that counted it. The
 * DISTINCT aggregates over one argument share one set (q15/q16 count DISTINCT bidder four
 * times under four FILTERs: one set, four bits), as Flink's distinct views do. */
typedef struct dset {
    uint64_t *h;
    char **v;
    uint32_t *n;
    uint64_t *m;
    size_t cap, count;
} dset_t;

typedef struct acc {
    int64_t n;                     /* inputs counted (or distinct values) */
    union {
        int64_t i;
        double d;
    } sum;
    uint8_t has;                   /* MIN/MAX holds a value */
    sl_value_t mm;                 /* MIN/MAX (strings owned, capacity mmcap) */
    uint32_t mmcap;
    dset_t *ds;
} acc_t;

typedef struct gent gent_t;
struct gent {
    gent_t *next;                  /* hash chain */
    gent_t *dnext;                 /* dirty list (updating aggregates) */
    gent_t *sess;                  /* SESSION: this key's sessions (a key head has no accs used) */
    uint64_t hash;
    char *key;
    uint32_t klen;
    uint8_t dirty;
    char *prev;                    /* updating aggregates: the row last emitted (encoded) */
    uint32_t prevlen;
    int64_t start, end;            /* SESSION: the session's bounds */
    acc_t acc[];
};

typedef struct gtab {
    gent_t **b;
    size_t nb, n;
} gtab_t;

typedef struct win {
    int64_t start, end;
    gtab_t tab;
} win_t;

typedef struct stage {
    int filter;
    sl_cexpr_t pred;
    sl_cexpr_t *exprs;
    int n;
    sl_value_t *out;
} stage_t;

typedef struct part {
    int64_t next_offset;
    int64_t max_ts;
    int64_t last_active;
    int seen;
} part_t;

struct sl_query {
    sl_arena_t plan_arena;
    const sl_plan_t *plan, *agg;
    const sl_stream_def_t *stream;
    sl_query_config_t cfg;
    const sl_pcol_t *out_cols;
    int nout;
    /* scan */
    int ncols;
    int need[SL_JX_MAX_FIELDS];    /* stream column of each extracted field */
    int nneed;
    sl_jx_t *jx;
    sl_jx_field_t fields[SL_JX_MAX_FIELDS];
    sl_value_t *row;               /* the stream's columns for the current event */
    /* stages */
    stage_t *pre, *post;
    int npre, npost;
    const sl_plan_t **pre_plans;   /* the plan node of each pre stage (scanners compile their own) */
    const sl_pcol_t *prow_cols;    /* the columns of a row after the pre stages */
    int nprow;
    sl_value_t *prow;              /* a decoded scanner row */
    /* aggregate */
    sl_cexpr_t *keys, *args, *filters;
    int nkeys, naggs;
    /* DISTINCT sharing: dlead[i] = the aggregate whose set aggregate i uses (-1: not DISTINCT);
     * dbit[i] = its bit in that set's masks; a leader lists its members in dmemb[i][0..dn[i]) */
    int *dlead, *dbit, *dn, **dmemb;
    /* FILTER (WHERE ...) results of the current row: fid[i] = the first aggregate with the same
     * filter as aggregate i (-1: none); fres[fid] = -2 until tested for this row, then 0/1 */
    int *fid;
    int8_t *fres;
    sl_value_t *kv, *aggrow;
    sl_window_t win;
    sl_pcol_t *keycols;            /* key column types (for encoding) */
    gtab_t tab;                    /* no window: groups; SESSION: key heads */
    win_t *wins;
    size_t nwins, capwins;
    gent_t *dirty;
    sl_buf_t kbuf, ebuf, rbuf;
    /* time */
    part_t *parts;
    uint32_t nparts;
    int64_t watermark, now;
    int64_t created;
    /* evaluation */
    sl_arena_t batch;
    sl_eval_t ev;
    /* accounting */
    uint64_t state_bytes, events_in, rows_out, late, bad;
    uint64_t scan_limit_nulls;     /* limit_nulls counted by scanners (sl_query_consume) */
    char *error;
};

static void qfail(sl_query_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qfail(sl_query_t *q, const char *fmt, ...) {
    if (q->error) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    q->error = strdup(msg);
}

static void *salloc(sl_query_t *q, size_t n) {
    void *p = calloc(1, n);
    if (p) q->state_bytes += n;
    return p;
}
static void sfree(sl_query_t *q, void *p, size_t n) {
    if (!p) return;
    q->state_bytes -= n;
    free(p);
}

static int over_limit(sl_query_t *q) {
    if (q->cfg.memory_limit && q->state_bytes > q->cfg.memory_limit) {
        qfail(q, "the query's state (%" PRIu64 " bytes) is over its memory_limit of %" PRIu64 " bytes; raise "
                 "'memory_limit' in WITH (...) or group by fewer distinct keys",
              q->state_bytes, q->cfg.memory_limit);
        return 1;
    }
    return 0;
}

#define DSET_SLOT_BYTES (sizeof(uint64_t) * 2 + sizeof(char *) + sizeof(uint32_t))

/* Adds value v with the mask bits; *fresh gets the bits it did not have before. 0 or -1. */
static int dset_add(sl_query_t *q, dset_t *s, const char *v, uint32_t n, uint64_t h, uint64_t bits,
                    uint64_t *fresh) {
    if (s->count * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        uint64_t *nh = calloc(cap, sizeof(*nh)), *nm = calloc(cap, sizeof(*nm));
        char **nv = calloc(cap, sizeof(*nv));
        uint32_t *nn = calloc(cap, sizeof(*nn));
        if (!nh || !nv || !nn || !nm) {
            free(nh), free(nv), free(nn), free(nm);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i]) continue;
            size_t j = s->h[i] & (cap - 1);
            while (nv[j]) j = (j + 1) & (cap - 1);
            nh[j] = s->h[i], nv[j] = s->v[i], nn[j] = s->n[i], nm[j] = s->m[i];
        }
        q->state_bytes += (cap - s->cap) * DSET_SLOT_BYTES;
        free(s->h), free(s->v), free(s->n), free(s->m);
        s->h = nh, s->v = nv, s->n = nn, s->m = nm, s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->v[j]) {
        if (s->h[j] == h && s->n[j] == n && (!n || !memcmp(s->v[j], v, n))) {
            *fresh = bits & ~s->m[j];
            s->m[j] |= bits;
            return 0;
        }
        j = (j + 1) & (s->cap - 1);
    }
    char *c = malloc(n ? n : 1);
    if (!c) return -1;
    if (n) memcpy(c, v, n);
    q->state_bytes += n + 16;
    s->h[j] = h, s->v[j] = c, s->n[j] = n, s->m[j] = bits;
    s->count++;
    *fresh = bits;
    return 0;
}

static void dset_free(sl_query_t *q, dset_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i]) {
            q->state_bytes -= s->n[i] + 16;
            free(s->v[i]);
        }
    q->state_bytes -= s->cap * DSET_SLOT_BYTES;
    free(s->h), free(s->v), free(s->n), free(s->m);
    sfree(q, s, sizeof(*s));
}

static size_t gent_size(const sl_query_t *q) { return sizeof(gent_t) + sizeof(acc_t) * (size_t)q->naggs; }

static void acc_clear(sl_query_t *q, acc_t *a) {
    if (a->mmcap) sfree(q, (void *)a->mm.u.s.p, a->mmcap);
    dset_free(q, a->ds);
    memset(a, 0, sizeof(*a));
}

static void gent_free(sl_query_t *q, gent_t *e) {
    for (int i = 0; i < q->naggs; i++) acc_clear(q, &e->acc[i]);
    gent_t *s = e->sess;
    while (s) {
        gent_t *n = s->next;
        gent_free(q, s);
        s = n;
    }
    sfree(q, e->key, e->klen ? e->klen : 0);
    sfree(q, e->prev, e->prevlen);
    sfree(q, e, gent_size(q));
}

static gent_t *gent_new(sl_query_t *q, const char *key, uint32_t klen, uint64_t h) {
    gent_t *e = salloc(q, gent_size(q));
    if (!e) return NULL;
    e->hash = h;
    if (klen) {
        if (!(e->key = salloc(q, klen))) {
            sfree(q, e, gent_size(q));
            return NULL;
        }
        memcpy(e->key, key, klen);
    }
    e->klen = klen;
    return e;
}

/* Finds or (create = 1) inserts the entry of key in t. */
static gent_t *gtab_get(sl_query_t *q, gtab_t *t, const char *key, uint32_t klen, int create) {
    uint64_t h = hash_bytes(key, klen);
    if (t->nb) {
        for (gent_t *e = t->b[h & (t->nb - 1)]; e; e = e->next)
            if (e->hash == h && e->klen == klen && (!klen || !memcmp(e->key, key, klen))) return e;
    }
    if (!create) return NULL;
    if (t->n >= t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 16;
        gent_t **b = calloc(nb, sizeof(*b));
        if (!b) return NULL;
        for (size_t i = 0; i < t->nb; i++) {
            gent_t *e = t->b[i];
            while (e) {
                gent_t *n = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
                e = n;
            }
        }
        q->state_bytes += (nb - t->nb) * sizeof(*b);
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    gent_t *e = gent_new(q, key, klen, h);
    if (!e) return NULL;
    e->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    t->n++;
    return e;
}

static void gtab_free(sl_query_t *q, gtab_t *t) {
    for (size_t i = 0; i < t->nb; i++) {
        gent_t *e = t->b[i];
        while (e) {
            gent_t *n = e->next;
            gent_free(q, e);
            e = n;
        }
    }
    q->state_bytes -= t->nb * sizeof(*t->b);
    free(t->b);
    memset(t, 0, sizeof(*t));
}

/* ---- accumulators -------------------------------------------------------------------------- */

static int mm_set(sl_query_t *q, acc_t *a, sl_type_t t, const sl_value_t *v) {
    if (t != SL_TYPE_VARCHAR) {
        a->mm = *v;
        a->has = 1;
        return 0;
    }
    if (v->u.s.n > a->mmcap || !a->mmcap) {
        uint32_t cap = v->u.s.n < 16 ? 16 : v->u.s.n;
        char *p = salloc(q, cap);
        if (!p) return -1;
        if (a->mmcap) sfree(q, (void *)a->mm.u.s.p, a->mmcap);
        a->mm.u.s.p = p;
        a->mmcap = cap;
    }
    memcpy((char *)a->mm.u.s.p, v->u.s.p, v->u.s.n);
    a->mm.u.s.n = v->u.s.n;
    a->mm.null = 0;
    a->has = 1;
    return 0;
}

/* Adds one non-NULL input value v to a (distinct already checked by the caller). */
static int acc_add(sl_query_t *q, const sl_agg_t *g, acc_t *a, const sl_value_t *v) {
    sl_type_t t = g->arg ? g->arg->type : SL_TYPE_BIGINT;
    switch (g->fn) {
    case SL_AGG_COUNT_STAR:
    case SL_AGG_COUNT: a->n++; break;
    case SL_AGG_SUM:
    case SL_AGG_AVG:
        a->n++;
        if (t == SL_TYPE_DOUBLE) a->sum.d += v->u.d;
        else a->sum.i = (int64_t)((uint64_t)a->sum.i + (uint64_t)v->u.i);
        break;
    case SL_AGG_MIN:
        if (!a->has || sl_value_cmp(t, v, &a->mm) < 0) return mm_set(q, a, t, v);
        break;
    case SL_AGG_MAX:
        if (!a->has || sl_value_cmp(t, v, &a->mm) > 0) return mm_set(q, a, t, v);
        break;
    }
    return 0;
}

/* Feeds one input row to the accumulators of e. */
/* Aggregate i's FILTER on the current row, each distinct filter tested once per row. */
static int filter_pass(sl_query_t *q, int i, const sl_value_t *row) {
    int f = q->fid[i];
    if (f < 0) return 1;
    if (q->fres[f] == -2) {
        int r = sl_cexpr_test(&q->filters[f], row, &q->ev);
        if (r < 0) return -1;
        q->fres[f] = (int8_t)r;
    }
    return q->fres[f];
}

static int accumulate(sl_query_t *q, gent_t *e, const sl_value_t *row) {
    const sl_plan_t *ap = q->agg;
    for (int i = 0; i < q->naggs; i++) {
        const sl_agg_t *g = &ap->aggs[i];
        if (g->distinct && g->arg) continue; /* below, by set */
        if (g->filter) {
            int r = filter_pass(q, i, row);
            if (r < 0) return -1;
            if (!r) continue;
        }
        sl_value_t v;
        v.null = 0;
        v.u.i = 0;
        if (g->arg) {
            if (sl_cexpr_eval(&q->args[i], row, &q->ev, &v)) return -1;
            if (v.null) continue;
        }
        if (acc_add(q, g, &e->acc[i], &v)) return -1;
    }
    /* DISTINCT: per shared set, the argument once and a bit per member whose FILTER passed */
    for (int i = 0; q->dlead && i < q->naggs; i++) {
        if (q->dlead[i] != i) continue;
        const sl_agg_t *g = &ap->aggs[i];
        sl_value_t v;
        if (sl_cexpr_eval(&q->args[i], row, &q->ev, &v)) return -1;
        if (v.null) continue;
        uint64_t bits = 0;
        for (int k = 0; k < q->dn[i]; k++) {
            int m = q->dmemb[i][k];
            if (ap->aggs[m].filter) {
                int r = filter_pass(q, m, row);
                if (r < 0) return -1;
                if (!r) continue;
            }
            bits |= 1ull << k;
        }
        if (!bits) continue;
        acc_t *a = &e->acc[i];
        if (!a->ds && !(a->ds = salloc(q, sizeof(dset_t)))) return -1;
        q->ebuf.len = 0;
        if (enc_value(&q->ebuf, g->arg->type, &v)) return -1;
        uint64_t fresh;
        if (dset_add(q, a->ds, q->ebuf.data, (uint32_t)q->ebuf.len, hash_bytes(q->ebuf.data, q->ebuf.len), bits, &fresh))
            return -1;
        for (int k = 0; k < q->dn[i]; k++)
            if (fresh >> k & 1) {
                int m = q->dmemb[i][k];
                if (acc_add(q, &ap->aggs[m], &e->acc[m], &v)) return -1;
            }
    }
    return 0;
}

/* Merges src's accumulators into dst (SESSION windows joining). */
static int acc_merge(sl_query_t *q, gent_t *dst, gent_t *src) {
    for (int i = 0; i < q->naggs; i++) {
        const sl_agg_t *g = &q->agg->aggs[i];
        acc_t *d = &dst->acc[i], *s = &src->acc[i];
        sl_type_t t = g->arg ? g->arg->type : SL_TYPE_BIGINT;
        if (g->distinct && g->arg) {
            if (q->dlead[i] != i || !s->ds) continue; /* the leader merges for its members */
            if (!d->ds && !(d->ds = salloc(q, sizeof(dset_t)))) return -1;
            for (size_t k = 0; k < s->ds->cap; k++) {
                if (!s->ds->v[k]) continue;
                uint64_t fresh;
                if (dset_add(q, d->ds, s->ds->v[k], s->ds->n[k], s->ds->h[k], s->ds->m[k], &fresh)) return -1;
                if (!fresh) continue;
                sl_value_t v;
                if (!dec_value(s->ds->v[k], s->ds->n[k], t, &v)) return -1;
                for (int b = 0; b < q->dn[i]; b++)
                    if (fresh >> b & 1) {
                        int m = q->dmemb[i][b];
                        if (acc_add(q, &q->agg->aggs[m], &dst->acc[m], &v)) return -1;
                    }
            }
            continue;
        }
        switch (g->fn) {
        case SL_AGG_COUNT_STAR:
        case SL_AGG_COUNT: d->n += s->n; break;
        case SL_AGG_SUM:
        case SL_AGG_AVG:
            d->n += s->n;
            if (t == SL_TYPE_DOUBLE) d->sum.d += s->sum.d;
            else d->sum.i = (int64_t)((uint64_t)d->sum.i + (uint64_t)s->sum.i);
            break;
        case SL_AGG_MIN:
        case SL_AGG_MAX:
            if (s->has && acc_add(q, g, d, &s->mm)) return -1;
            break;
        }
    }
    return 0;
}

static void acc_final(const sl_agg_t *g, const acc_t *a, sl_value_t *out) {
    sl_type_t t = g->arg ? g->arg->type : SL_TYPE_BIGINT;
    out->null = 0;
    switch (g->fn) {
    case SL_AGG_COUNT_STAR:
    case SL_AGG_COUNT: out->u.i = a->n; return;
    case SL_AGG_SUM:
        if (!a->n) { out->null = 1; return; }
        if (t == SL_TYPE_DOUBLE) out->u.d = a->sum.d;
        else out->u.i = a->sum.i;
        return;
    case SL_AGG_AVG:
        if (!a->n) { out->null = 1; return; }
        if (t == SL_TYPE_DOUBLE) out->u.d = a->sum.d / (double)a->n;
        else out->u.i = a->sum.i / a->n;   /* Flink: AVG of BIGINT is a BIGINT, truncated */
        return;
    case SL_AGG_MIN:
    case SL_AGG_MAX:
        if (!a->has) { out->null = 1; return; }
        *out = a->mm;
        return;
    }
}

/* ---- stages and output --------------------------------------------------------------------- */

static int run_stages(sl_query_t *q, stage_t *st, int n, const sl_value_t **row) {
    const sl_value_t *cur = *row;
    for (int i = 0; i < n; i++) {
        if (st[i].filter) {
            int r = sl_cexpr_test(&st[i].pred, cur, &q->ev);
            if (r <= 0) return r < 0 ? -1 : 0;
        } else {
            for (int k = 0; k < st[i].n; k++)
                if (sl_cexpr_eval(&st[i].exprs[k], cur, &q->ev, &st[i].out[k])) return -1;
            cur = st[i].out;
        }
    }
    *row = cur;
    return 1;
}

static int emit_row(sl_query_t *q, int change, const char *key, size_t klen, const sl_value_t *row) {
    q->rows_out++;
    if (q->cfg.emit) q->cfg.emit(q->cfg.emit_ud, change, key, klen, row);
    return 0;
}

/* Builds the aggregate's output row for entry e (window bounds ws/we) and runs it through the
 * post stages; returns 1 with *out set when it passes (HAVING), 0 when filtered, -1 on error. */
static int agg_output(sl_query_t *q, const gent_t *e, int64_t ws, int64_t we, const sl_value_t **out) {
    sl_value_t *r = q->aggrow;
    if (q->nkeys && !sl_row_decode(e->key, e->klen, q->keycols, q->nkeys, r)) {
        qfail(q, "internal error: undecodable group key");
        return -1;
    }
    int o = q->nkeys;
    if (q->win.kind != SL_WIN_NONE) {
        r[o].null = 0;
        r[o++].u.i = ws;
        r[o].null = 0;
        r[o++].u.i = we;
    }
    for (int i = 0; i < q->naggs; i++) acc_final(&q->agg->aggs[i], &e->acc[i], &r[o + i]);
    const sl_value_t *row = r;
    int rc = run_stages(q, q->post, q->npost, &row);
    if (rc < 0) {
        qfail(q, "%s", q->ev.err);
        return -1;
    }
    *out = row;
    return rc;
}

static int emit_window_entry(sl_query_t *q, gent_t *e, int64_t ws, int64_t we) {
    const sl_value_t *row;
    int rc = agg_output(q, e, ws, we, &row);
    if (rc <= 0) return rc;
    q->kbuf.len = 0;
    if ((e->klen && sl_buf_append(&q->kbuf, e->key, e->klen)) || sl_buf_append(&q->kbuf, &we, 8)) return -1;
    return emit_row(q, SL_CHANGE_INSERT, q->kbuf.data, q->kbuf.len, row);
}

/* Updating aggregate: re-emits a group whose accumulators changed. The group's key identifies
 * its row downstream; a query without GROUP BY has one group with an empty key, passed as "" (not
 * NULL, which a view takes for "append a new row") so that its single row is updated in place. */
static int flush_entry(sl_query_t *q, gent_t *e) {
    const char *key = e->key ? e->key : "";
    const sl_value_t *row;
    int rc = agg_output(q, e, 0, 0, &row);
    if (rc < 0) return -1;
    if (rc == 0) {
        if (e->prev) {
            sl_value_t *old = q->aggrow; /* the old row, decoded (post columns) */
            if (!sl_row_decode(e->prev, e->prevlen, q->out_cols, q->nout, old)) return -1;
            emit_row(q, SL_CHANGE_DELETE, key, e->klen, old);
            sfree(q, e->prev, e->prevlen);
            e->prev = NULL;
            e->prevlen = 0;
        }
        return 0;
    }
    q->rbuf.len = 0;
    if (sl_row_encode(&q->rbuf, q->out_cols, q->nout, row)) return -1;
    if (e->prev && e->prevlen == q->rbuf.len && (!q->rbuf.len || !memcmp(e->prev, q->rbuf.data, q->rbuf.len)))
        return 0;
    int change = e->prev ? SL_CHANGE_UPDATE : SL_CHANGE_INSERT;
    if (e->prevlen != q->rbuf.len) {
        char *p = salloc(q, q->rbuf.len ? q->rbuf.len : 1);
        if (!p) return -1;
        sfree(q, e->prev, e->prevlen);
        e->prev = p;
        e->prevlen = (uint32_t)q->rbuf.len;
    }
    if (q->rbuf.len) memcpy(e->prev, q->rbuf.data, q->rbuf.len);
    return emit_row(q, change, key, e->klen, row);
}

/* ---- windows ------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static win_t *window_get(sl_query_t *q, int64_t start, int64_t end) {
    size_t lo = 0, hi = q->nwins;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (q->wins[mid].end < end) lo = mid + 1;
        else hi = mid;
    }
    if (lo < q->nwins && q->wins[lo].end == end) return &q->wins[lo];
    if (q->nwins == q->capwins) {
        size_t cap = q->capwins ? q->capwins * 2 : 16;
        win_t *nw = realloc(q->wins, sizeof(*nw) * cap);
        if (!nw) return NULL;
        q->state_bytes += (cap - q->capwins) * sizeof(*nw);
        q->wins = nw;
        q->capwins = cap;
    }
    memmove(&q->wins[lo + 1], &q->wins[lo], sizeof(*q->wins) * (q->nwins - lo));
    memset(&q->wins[lo], 0, sizeof(*q->wins));
    q->wins[lo].start = start;
    q->wins[lo].end = end;
    q->nwins++;
    return &q->wins[lo];
}

static int add_to_window(sl_query_t *q, int64_t ws, int64_t we, const sl_value_t *row) {
    win_t *w = window_get(q, ws, we);
    if (!w) return -1;
    gent_t *e = gtab_get(q, &w->tab, q->kbuf.data, (uint32_t)q->kbuf.len, 1);
    if (!e) return -1;
    return accumulate(q, e, row);
}

static int session_add(sl_query_t *q, int64_t t, const sl_value_t *row) {
    gent_t *head = gtab_get(q, &q->tab, q->kbuf.data, (uint32_t)q->kbuf.len, 1);
    if (!head) return -1;
    gent_t *s = gent_new(q, NULL, 0, 0);
    if (!s) return -1;
    s->start = t;
    s->end = t + q->win.size_ms;
    if (accumulate(q, s, row)) {
        gent_free(q, s);
        return -1;
    }
    /* Merge every session that touches [start, end) into s (Flink's TimeWindow.intersects). */
    gent_t **pp = &head->sess;
    while (*pp) {
        gent_t *o = *pp;
        if (o->start <= s->end && o->end >= s->start) {
            if (acc_merge(q, s, o)) return -1;
            if (o->start < s->start) s->start = o->start;
            if (o->end > s->end) s->end = o->end;
            *pp = o->next;
            o->next = NULL;
            gent_free(q, o);
            pp = &head->sess; /* the grown session may now touch earlier ones */
            continue;
        }
        pp = &o->next;
    }
    s->next = head->sess;
    head->sess = s;
    return 0;
}

static int aggregate_row(sl_query_t *q, const sl_value_t *row) {
    memset(q->fres, -2, (size_t)q->naggs + 1); /* a new row: no FILTER tested yet */
    q->kbuf.len = 0;
    for (int i = 0; i < q->nkeys; i++) {
        if (sl_cexpr_eval(&q->keys[i], row, &q->ev, &q->kv[i])) return -1;
        if (enc_value(&q->kbuf, q->keycols[i].type, &q->kv[i])) return -1;
    }
    if (q->win.kind == SL_WIN_NONE) {
        gent_t *e = gtab_get(q, &q->tab, q->kbuf.data, (uint32_t)q->kbuf.len, 1);
        if (!e) return -1;
        if (!e->dirty) {
            e->dirty = 1;
            e->dnext = q->dirty;
            q->dirty = e;
        }
        return accumulate(q, e, row);
    }
    const sl_value_t *tv = &row[q->win.time_col];
    if (tv->null) {
        q->bad++;
        return 0;
    }
    int64_t t = tv->u.i, wm = q->watermark;
    int64_t size = q->win.size_ms, slide = q->win.slide_ms, off = q->win.offset_ms;
    int any = 0;
    switch (q->win.kind) {
    case SL_WIN_TUMBLE: {
        int64_t s = floor_div(t - off, size) * size + off;
        if (s + size - 1 > wm) {
            any = 1;
            if (add_to_window(q, s, s + size, row)) return -1;
        }
        break;
    }
    case SL_WIN_HOP: {
        int64_t last = floor_div(t - off, slide) * slide + off;
        for (int64_t s = last; s > t - size; s -= slide) {
            if (s + size - 1 <= wm) continue;
            any = 1;
            if (add_to_window(q, s, s + size, row)) return -1;
        }
        break;
    }
    case SL_WIN_CUMULATE: {
        int64_t ps = floor_div(t - off, size) * size + off;
        for (int64_t e = ps + (floor_div(t - ps, slide) + 1) * slide; e <= ps + size; e += slide) {
            if (e - 1 <= wm) continue;
            any = 1;
            if (add_to_window(q, ps, e, row)) return -1;
        }
        break;
    }
    case SL_WIN_SESSION:
        if (t + size - 1 > wm) {
            any = 1;
            if (session_add(q, t, row)) return -1;
        }
        break;
    case SL_WIN_NONE: break;
    }
    if (!any) q->late++;
    return 0;
}

static int gent_cmp(const void *a, const void *b) {
    const gent_t *x = *(gent_t *const *)a, *y = *(gent_t *const *)b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = n ? memcmp(x->key, y->key, n) : 0;
    return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Emits and frees what the watermark closed. */
static int fire(sl_query_t *q) {
    int64_t wm = q->watermark;
    if (q->win.kind == SL_WIN_SESSION) {
        for (size_t b = 0; b < q->tab.nb; b++) {
            gent_t **hp = &q->tab.b[b];
            while (*hp) {
                gent_t *head = *hp;
                gent_t **pp = &head->sess;
                while (*pp) {
                    gent_t *s = *pp;
                    if (s->end - 1 <= wm) {
                        /* the key lives in the head */
                        s->key = head->key;
                        s->klen = head->klen;
                        int rc = emit_window_entry(q, s, s->start, s->end);
                        s->key = NULL;
                        s->klen = 0;
                        if (rc < 0) return -1;
                        *pp = s->next;
                        s->next = NULL;
                        gent_free(q, s);
                        continue;
                    }
                    pp = &s->next;
                }
                if (!head->sess) {
                    *hp = head->next;
                    head->next = NULL;
                    gent_free(q, head);
                    q->tab.n--;
                    continue;
                }
                hp = &head->next;
            }
        }
        return 0;
    }
    size_t k = 0;
    while (k < q->nwins && q->wins[k].end - 1 <= wm) {
        win_t *w = &q->wins[k];
        /* Emit in a deterministic order: by encoded key. */
        size_t n = w->tab.n, m = 0;
        gent_t **all = n ? malloc(sizeof(*all) * n) : NULL;
        if (n && !all) return -1;
        for (size_t b = 0; b < w->tab.nb; b++)
            for (gent_t *e = w->tab.b[b]; e; e = e->next) all[m++] = e;
        qsort(all, m, sizeof(*all), gent_cmp);
        for (size_t i = 0; i < m; i++)
            if (emit_window_entry(q, all[i], w->start, w->end) < 0) {
                free(all);
                return -1;
            }
        free(all);
        gtab_free(q, &w->tab);
        k++;
    }
    if (k) {
        memmove(q->wins, q->wins + k, sizeof(*q->wins) * (q->nwins - k));
        q->nwins -= k;
    }
    return 0;
}

/* The query's watermark: the minimum over partitions that are not idle. When every partition is
 * idle, the maximum over them (Flink's StatusWatermarkValve does the same), so that a stream
 * whose partitions all went quiet still closes its windows. Never moves back. */
static void advance_watermark(sl_query_t *q, int64_t now) {
    if (q->win.kind != SL_WIN_NONE && q->win.proctime) {
        if (now - 1 > q->watermark) q->watermark = now - 1;
        return;
    }
    if (!q->stream || q->stream->wm_col < 0) return;
    int64_t idle = q->stream->idle_timeout_ms, wm = INT64_MAX, all_max = INT64_MIN;
    int active = 0;
    for (uint32_t p = 0; p < q->nparts; p++) {
        part_t *pt = &q->parts[p];
        int64_t w = pt->max_ts - q->stream->wm_delay_ms - 1;
        if (pt->seen && w > all_max) all_max = w;
        int64_t last = pt->seen ? pt->last_active : q->created;
        if (idle > 0 && now - last > idle) continue;
        active++;
        if (!pt->seen) return; /* an active partition that has seen nothing holds the watermark */
        if (w < wm) wm = w;
    }
    if (!active) wm = all_max;
    if (wm != INT64_MIN && wm != INT64_MAX && wm > q->watermark) q->watermark = wm;
}

/* ---- scan ---------------------------------------------------------------------------------- */

static int field_value(sl_arena_t *arena, const sl_jx_field_t *f, sl_type_t t, sl_value_t *v) {
    v->null = 1;
    v->u.i = 0;
    switch (f->kind) {
    case SL_J_NONE: return -1;
    case SL_J_NULL: return 0;
    case SL_J_BOOL:
        if (t == SL_TYPE_BOOLEAN) { v->null = 0; v->u.i = f->b; return 0; }
        if (t == SL_TYPE_VARCHAR) {
            v->null = 0;
            v->u.s.p = f->b ? "true" : "false";
            v->u.s.n = f->b ? 4 : 5;
            return 0;
        }
        return -1;
    case SL_J_NUMBER: {
        char *end;
        if (t == SL_TYPE_VARCHAR) {
            v->null = 0;
            v->u.s.p = f->p;
            v->u.s.n = (uint32_t)f->n;
            return 0;
        }
        if (t == SL_TYPE_DOUBLE) {
            v->u.d = strtod(f->p, &end);
            v->null = 0;
            return 0;
        }
        if (t == SL_TYPE_BIGINT || t == SL_TYPE_TIMESTAMP) {
            long long x = strtoll(f->p, &end, 10);
            if (*end) {
                /* 12.0 or 1e3: accepted when integral */
                double d = strtod(f->p, &end);
                if (d != floor(d) || !(d > -9.2e18 && d < 9.2e18)) return -1;
                x = (long long)d;
            }
            v->null = 0;
            v->u.i = x;
            return 0;
        }
        return -1;
    }
    case SL_J_STRING:
        if (t == SL_TYPE_VARCHAR) {
            v->null = 0;
            v->u.s.p = f->p;
            v->u.s.n = (uint32_t)f->n;
            return 0;
        }
        if (t == SL_TYPE_TIMESTAMP) {
            sl_value_t s;
            s.null = 0;
            s.u.s.p = f->p;
            s.u.s.n = (uint32_t)f->n;
            sl_value_cast(SL_TYPE_VARCHAR, SL_TYPE_TIMESTAMP, &s, v, arena);
            return v->null ? -1 : 0;
        }
        return -1;
    default:
        if (t == SL_TYPE_VARCHAR) {
            v->null = 0;
            v->u.s.p = f->p;
            v->u.s.n = (uint32_t)f->n;
            return 0;
        }
        return -1;
    }
}

/* The source position and the partition's event time advance with every event read, whether
 * or not it passes the filters. */
static void saw_event(sl_query_t *q, uint32_t partition, int64_t offset, int has_ts, int64_t ts) {
    q->events_in++;
    part_t *pt = &q->parts[partition];
    pt->next_offset = offset + 1;
    pt->last_active = q->now;
    if (has_ts) {
        if (!pt->seen || ts > pt->max_ts) pt->max_ts = ts;
        pt->seen = 1;
    }
}

static int after_pre(sl_query_t *q, uint32_t partition, int64_t offset, const sl_value_t *cur);

static int process(sl_query_t *q, uint32_t partition, int64_t offset, const sl_value_t *row) {
    const sl_stream_def_t *sd = q->stream;
    int has_ts = sd && sd->wm_col >= 0 && !row[sd->wm_col].null;
    saw_event(q, partition, offset, has_ts, has_ts ? row[sd->wm_col].u.i : 0);
    const sl_value_t *cur = row;
    int rc = run_stages(q, q->pre, q->npre, &cur);
    if (rc < 0) {
        if (q->ev.err[0]) qfail(q, "partition %u offset %" PRId64 ": %s", partition, offset, q->ev.err);
        else qfail(q, "out of memory");
        return -1;
    }
    if (!rc) return 0;
    return after_pre(q, partition, offset, cur);
}

/* What follows the pre stages: the post stages and the output, or the aggregate. */
static int after_pre(sl_query_t *q, uint32_t partition, int64_t offset, const sl_value_t *cur) {
    int rc;
    if (!q->agg) {
        const sl_value_t *o = cur;
        rc = run_stages(q, q->post, q->npost, &o);
        if (rc < 0) goto fail;
        if (rc) emit_row(q, SL_CHANGE_INSERT, NULL, 0, o);
        return 0;
    }
    if (aggregate_row(q, cur)) goto fail;
    return over_limit(q) ? -1 : 0;
fail:
    if (q->ev.err[0]) qfail(q, "partition %u offset %" PRId64 ": %s", partition, offset, q->ev.err);
    else qfail(q, "out of memory");
    return -1;
}

/* Fills row (the stream's columns) from one event's JSON. Returns 0, or 1 when 'on_error' =
 * 'fail' rejects the event (err says why). *bad counts fields that read as NULL. */
static int scan_fields(const sl_query_t *q, sl_jx_t *jx, sl_jx_field_t *fields, sl_arena_t *arena,
                       sl_value_t *row, uint32_t partition, int64_t offset, const char *json, size_t len,
                       uint64_t *bad, char *err, size_t errlen) {
    const sl_stream_def_t *sd = q->stream;
    for (int i = 0; i < q->ncols; i++) {
        row[i].null = 1;
        row[i].u.i = 0;
    }
    if (q->nneed && sl_jx_run(jx, json, len, fields, arena)) {
        (*bad)++;
        if (sd->on_error_fail) {
            snprintf(err, errlen, "partition %u offset %" PRId64 ": the event is not valid JSON", partition, offset);
            return 1;
        }
        return 0;
    }
    for (int i = 0; i < q->nneed; i++) {
        int c = q->need[i];
        if (field_value(arena, &fields[i], sd->cols[c].type, &row[c])) {
            (*bad)++;
            if (sd->on_error_fail) {
                static const char *kinds[] = {"nothing", "null", "a boolean", "a number", "a string",
                                              "an object", "an array"};
                snprintf(err, errlen, "partition %u offset %" PRId64 ": column %s (at %s) is %s, expected %s",
                         partition, offset, sd->cols[c].name, sd->paths[c],
                         fields[i].kind == SL_J_NONE ? "missing" : kinds[fields[i].kind],
                         sl_type_name(sd->cols[c].type));
                return 1;
            }
        }
    }
    return 0;
}

int sl_query_push_json(sl_query_t *q, uint32_t partition, int64_t offset, int64_t ingest_ms,
                       const char *json, size_t len) {
    (void)ingest_ms; /* without an event-time column, time is the clock's (PROCTIME) */
    if (q->error || !q->stream) return -1;
    if (partition >= q->nparts) return -1;
    char err[400];
    if (scan_fields(q, q->jx, q->fields, &q->batch, q->row, partition, offset, json, len, &q->bad, err,
                    sizeof(err))) {
        qfail(q, "%s", err);
        return 1;
    }
    return process(q, partition, offset, q->row);
}

/* ---- parallel scanning ----------------------------------------------------------------------- */

/* A scanner is the part of a query's work that can run on another thread: JSON extraction and
 * the stages below the aggregate. Each has its own extractor, compiled stages (function call
 * sites hold per-site state such as regex match data), evaluation context and arena. What it
 * produces is a list of records, applied to the query later, serially and in scan order, so the
 * result is exactly that of a serial run. A record's row stays as values: its strings point into
 * the scanner's arena or into the event text, both alive until the next sl_qscan_begin. */
enum { SCAN_HAS_TS = 1, SCAN_PASS = 2, SCAN_ERROR = 4 };

typedef struct scan_rec {
    uint32_t part, bad;
    uint8_t fl;
    int64_t off, ts;
    size_t row;                    /* index of the row's first value in vals */
} scan_rec_t;

struct sl_qscan {
    const sl_query_t *q;
    sl_jx_t *jx;
    sl_jx_field_t fields[SL_JX_MAX_FIELDS];
    sl_value_t *row;
    stage_t *pre;
    int npre;
    sl_arena_t arena;
    sl_eval_t ev;
    scan_rec_t *recs;
    size_t nrecs, caprecs;
    sl_value_t *vals;
    size_t nvals, capvals;
    char err[400];                 /* the error of the last record, when it is SCAN_ERROR */
    int failed;                    /* stop scanning after an error record */
};

static int compile_stage(sl_query_t *q, const sl_plan_t *p, stage_t *st, char *err, size_t errlen);
static void free_stages(stage_t *st, int n);

int sl_qscan_new(const sl_query_t *q, sl_qscan_t **out) {
    if (!q->stream) return -1;
    sl_qscan_t *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    s->q = q;
    sl_arena_init(&s->arena);
    char err[256];
    const char *ptrs[SL_JX_MAX_FIELDS];
    for (int i = 0; i < q->nneed; i++) ptrs[i] = q->stream->paths[q->need[i]];
    if (sl_eval_init(&s->ev, &s->arena) || sl_jx_new(ptrs, q->nneed, &s->jx) ||
        !(s->row = calloc((size_t)q->ncols + 1, sizeof(*s->row))) ||
        !(s->pre = calloc((size_t)q->npre + 1, sizeof(stage_t))))
        goto fail;
    for (int i = 0; i < q->npre; i++) {
        s->npre++;
        if (compile_stage((sl_query_t *)q, q->pre_plans[i], &s->pre[i], err, sizeof(err))) goto fail;
    }
    *out = s;
    return 0;
fail:
    sl_qscan_free(s);
    return -1;
}

void sl_qscan_free(sl_qscan_t *s) {
    if (!s) return;
    if (s->pre) free_stages(s->pre, s->npre);
    sl_jx_free(s->jx);
    free(s->row);
    sl_eval_free(&s->ev);
    sl_arena_free(&s->arena);
    free(s->recs);
    free(s->vals);
    free(s);
}

void sl_qscan_begin(sl_qscan_t *s, int64_t now_ms) {
    s->nrecs = s->nvals = 0;
    s->failed = 0;
    s->ev.fn.now_ms = now_ms;
    s->ev.err[0] = 0;
    sl_arena_reset(&s->arena);
}

static scan_rec_t *scan_put(sl_qscan_t *s, uint32_t part, int64_t off, int fl, int64_t ts, uint32_t bad) {
    if (s->nrecs == s->caprecs) {
        size_t cap = s->caprecs ? s->caprecs * 2 : 1024;
        scan_rec_t *n = realloc(s->recs, sizeof(*n) * cap);
        if (!n) return NULL;
        s->recs = n;
        s->caprecs = cap;
    }
    scan_rec_t *r = &s->recs[s->nrecs++];
    *r = (scan_rec_t){part, bad, (uint8_t)fl, off, ts, s->nvals};
    return r;
}

static void scan_error(sl_qscan_t *s, uint32_t part, int64_t off, const char *msg) {
    snprintf(s->err, sizeof(s->err), "%s", msg);
    if (!scan_put(s, part, off, SCAN_ERROR, 0, 0) && s->nrecs) s->recs[s->nrecs - 1].fl = SCAN_ERROR;
    s->failed = 1;
}

int sl_qscan_push_json(sl_qscan_t *s, uint32_t partition, int64_t offset, const char *json, size_t len) {
    const sl_query_t *q = s->q;
    if (s->failed) return -1;
    char err[400];
    uint64_t bad = 0;
    if (scan_fields(q, s->jx, s->fields, &s->arena, s->row, partition, offset, json, len, &bad, err, sizeof(err))) {
        scan_error(s, partition, offset, err);
        return -1;
    }
    const sl_stream_def_t *sd = q->stream;
    int has_ts = sd->wm_col >= 0 && !s->row[sd->wm_col].null;
    int64_t ts = has_ts ? s->row[sd->wm_col].u.i : 0;
    const sl_value_t *cur = s->row;
    int rc = 1;
    for (int i = 0; i < s->npre && rc > 0; i++) {
        stage_t *st = &s->pre[i];
        if (st->filter) {
            rc = sl_cexpr_test(&st->pred, cur, &s->ev);
        } else {
            for (int k = 0; k < st->n && rc > 0; k++)
                if (sl_cexpr_eval(&st->exprs[k], cur, &s->ev, &st->out[k])) rc = -1;
            cur = st->out;
        }
    }
    if (rc < 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "partition %u offset %" PRId64 ": %s", partition, offset,
                 s->ev.err[0] ? s->ev.err : "out of memory");
        scan_error(s, partition, offset, msg);
        return -1;
    }
    size_t n = (size_t)q->nprow;
    if (rc && s->nvals + n > s->capvals) {
        size_t cap = s->capvals ? s->capvals * 2 : 4096;
        while (cap < s->nvals + n) cap *= 2;
        sl_value_t *nv = realloc(s->vals, sizeof(*nv) * cap);
        if (!nv) {
            scan_error(s, partition, offset, "out of memory");
            return -1;
        }
        s->vals = nv;
        s->capvals = cap;
    }
    if (!scan_put(s, partition, offset, (has_ts ? SCAN_HAS_TS : 0) | (rc ? SCAN_PASS : 0), ts, (uint32_t)bad)) {
        scan_error(s, partition, offset, "out of memory");
        return -1;
    }
    if (rc) {
        memcpy(&s->vals[s->nvals], cur, sizeof(*cur) * n);
        s->nvals += n;
    }
    return 0;
}

int sl_query_consume(sl_query_t *q, sl_qscan_t *s) {
    q->scan_limit_nulls += s->ev.fn.limit_nulls;
    s->ev.fn.limit_nulls = 0;
    for (size_t i = 0; i < s->nrecs && !q->error; i++) {
        const scan_rec_t *r = &s->recs[i];
        if (r->fl & SCAN_ERROR) {
            qfail(q, "%s", s->err);
            break;
        }
        if (r->part >= q->nparts) {
            qfail(q, "internal error: scan record for partition %u", r->part);
            break;
        }
        q->bad += r->bad;
        saw_event(q, r->part, r->off, r->fl & SCAN_HAS_TS, r->ts);
        if (!(r->fl & SCAN_PASS)) continue;
        if (after_pre(q, r->part, r->off, &s->vals[r->row]) < 0) break;
    }
    return q->error ? -1 : 0;
}

int sl_query_push_row(sl_query_t *q, uint32_t partition, int64_t offset, const sl_value_t *row) {
    if (q->error || partition >= q->nparts) return -1;
    return process(q, partition, offset, row);
}

void sl_query_begin(sl_query_t *q, int64_t now_ms) {
    q->now = now_ms;
    q->ev.fn.now_ms = now_ms;
    q->ev.err[0] = 0;
}

int sl_query_end(sl_query_t *q, int64_t now_ms) {
    if (q->error) goto out;
    q->now = now_ms;
    advance_watermark(q, now_ms);
    if (q->agg) {
        if (q->win.kind == SL_WIN_NONE) {
            gent_t *e = q->dirty;
            q->dirty = NULL;
            while (e) {
                gent_t *n = e->dnext;
                e->dirty = 0;
                e->dnext = NULL;
                if (!q->error && flush_entry(q, e)) qfail(q, "out of memory");
                e = n;
            }
        } else if (fire(q)) {
            qfail(q, "out of memory");
        }
    }
out:
    sl_arena_reset(&q->batch);
    return q->error ? -1 : 0;
}

/* ---- building ------------------------------------------------------------------------------ */

static void mark_cols(const sl_bexpr_t *e, uint8_t *used) {
    if (!e) return;
    if (e->kind == SL_BX_COL) used[e->col] = 1;
    for (int i = 0; i < e->nargs; i++) mark_cols(e->args[i], used);
}

static int compile_stage(sl_query_t *q, const sl_plan_t *p, stage_t *st, char *err, size_t errlen) {
    memset(st, 0, sizeof(*st));
    if (p->kind == SL_PN_FILTER) {
        st->filter = 1;
        return sl_cexpr_compile(&st->pred, p->pred, err, errlen);
    }
    st->n = p->ncols;
    st->exprs = calloc((size_t)p->ncols + 1, sizeof(*st->exprs));
    st->out = calloc((size_t)p->ncols + 1, sizeof(*st->out));
    if (!st->exprs || !st->out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < p->ncols; i++)
        if (sl_cexpr_compile(&st->exprs[i], p->exprs[i], err, errlen)) return -1;
    (void)q;
    return 0;
}

static void free_stages(stage_t *st, int n) {
    for (int i = 0; i < n; i++) {
        if (st[i].filter) sl_cexpr_free(&st[i].pred);
        for (int k = 0; k < st[i].n && st[i].exprs; k++) sl_cexpr_free(&st[i].exprs[k]);
        free(st[i].exprs);
        free(st[i].out);
    }
    free(st);
}

int sl_query_create(sl_arena_t *plan_arena, const sl_plan_t *plan, const sl_query_config_t *cfg,
                    sl_query_t **out, char *err, size_t errlen) {
    sl_query_t *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "out of memory");
        sl_arena_free(plan_arena);
        return -1;
    }
    q->plan_arena = *plan_arena;
    sl_arena_init(plan_arena);
    q->plan = plan;
    q->cfg = *cfg;
    q->watermark = INT64_MIN;
    q->created = sl_now_ms();
    sl_arena_init(&q->batch);
    if (sl_eval_init(&q->ev, &q->batch)) goto oom;
    q->out_cols = plan->cols;
    q->nout = plan->ncols;

    /* Walk down: post stages (above the aggregate), the aggregate, pre stages, the scan. */
    const sl_plan_t *chain[64];
    int depth = 0;
    for (const sl_plan_t *p = plan; p; p = p->input) {
        if (depth == 64) {
            snprintf(err, errlen, "the query plan is too deep");
            goto fail;
        }
        chain[depth++] = p;
    }
    const sl_plan_t *scan = chain[depth - 1];
    if (scan->kind != SL_PN_SCAN && scan->kind != SL_PN_VIEW_SCAN && scan->kind != SL_PN_VALUES) {
        snprintf(err, errlen, "a query must read a stream or a view");
        goto fail;
    }
    q->stream = scan->kind == SL_PN_SCAN ? scan->stream : NULL; /* NULL: rows pushed by the caller */
    q->ncols = scan->ncols;
    int aggi = -1;
    for (int i = 0; i < depth; i++)
        if (chain[i]->kind == SL_PN_AGGREGATE) aggi = i;
    int npre = aggi >= 0 ? depth - 1 - aggi - 1 : depth - 1;
    int npost = aggi >= 0 ? aggi : 0;
    q->pre = calloc((size_t)npre + 1, sizeof(stage_t));
    q->post = calloc((size_t)npost + 1, sizeof(stage_t));
    if (!q->pre || !q->post) goto oom;
    q->pre_plans = calloc((size_t)npre + 1, sizeof(*q->pre_plans));
    if (!q->pre_plans) goto oom;
    q->prow_cols = scan->cols;
    q->nprow = scan->ncols;
    for (int i = 0; i < npre; i++) {
        const sl_plan_t *p = chain[depth - 2 - i];
        if (p->kind != SL_PN_FILTER && p->kind != SL_PN_PROJECT) {
            snprintf(err, errlen, "unsupported plan node below the aggregate");
            goto fail;
        }
        q->npre++;
        q->pre_plans[i] = p;
        if (p->kind == SL_PN_PROJECT) {
            q->prow_cols = p->cols;
            q->nprow = p->ncols;
        }
        if (compile_stage(q, p, &q->pre[i], err, errlen)) goto fail;
    }
    if (!(q->prow = calloc((size_t)q->nprow + 1, sizeof(*q->prow)))) goto oom;
    for (int i = 0; i < npost; i++) {
        const sl_plan_t *p = chain[aggi - 1 - i];
        if (p->kind != SL_PN_FILTER && p->kind != SL_PN_PROJECT) {
            snprintf(err, errlen, "unsupported plan node above the aggregate");
            goto fail;
        }
        q->npost++;
        if (compile_stage(q, p, &q->post[i], err, errlen)) goto fail;
    }
    if (aggi >= 0) {
        const sl_plan_t *a = chain[aggi];
        q->agg = a;
        q->win = a->window;
        q->nkeys = a->nkeys;
        q->naggs = a->naggs;
        q->keys = calloc((size_t)a->nkeys + 1, sizeof(*q->keys));
        q->keycols = calloc((size_t)a->nkeys + 1, sizeof(*q->keycols));
        q->kv = calloc((size_t)a->nkeys + 1, sizeof(*q->kv));
        q->args = calloc((size_t)a->naggs + 1, sizeof(*q->args));
        q->filters = calloc((size_t)a->naggs + 1, sizeof(*q->filters));
        q->aggrow = calloc((size_t)(a->ncols > plan->ncols ? a->ncols : plan->ncols) + 1, sizeof(*q->aggrow));
        if (!q->keys || !q->keycols || !q->kv || !q->args || !q->filters || !q->aggrow) goto oom;
        for (int i = 0; i < a->nkeys; i++) {
            if (sl_cexpr_compile(&q->keys[i], a->keys[i], err, errlen)) goto fail;
            q->keycols[i].type = a->keys[i]->type;
            q->keycols[i].name = a->cols[i].name;
        }
        for (int i = 0; i < a->naggs; i++) {
            if (a->aggs[i].arg && sl_cexpr_compile(&q->args[i], a->aggs[i].arg, err, errlen)) goto fail;
            if (a->aggs[i].filter && sl_cexpr_compile(&q->filters[i], a->aggs[i].filter, err, errlen)) goto fail;
        }
        q->fid = calloc((size_t)a->naggs + 1, sizeof(int));
        q->fres = calloc((size_t)a->naggs + 1, 1);
        if (!q->fid || !q->fres) goto oom;
        for (int i = 0; i < a->naggs; i++) {
            q->fid[i] = -1;
            if (!a->aggs[i].filter) continue;
            q->fid[i] = i;
            for (int l = 0; l < i; l++)
                if (a->aggs[l].filter && sl_bexpr_equal(a->aggs[l].filter, a->aggs[i].filter)) {
                    q->fid[i] = q->fid[l];
                    break;
                }
        }
        q->dlead = calloc((size_t)a->naggs + 1, sizeof(int));
        q->dbit = calloc((size_t)a->naggs + 1, sizeof(int));
        q->dn = calloc((size_t)a->naggs + 1, sizeof(int));
        q->dmemb = calloc((size_t)a->naggs + 1, sizeof(int *));
        if (!q->dlead || !q->dbit || !q->dn || !q->dmemb) goto oom;
        for (int i = 0; i < a->naggs; i++) {
            q->dlead[i] = -1;
            if (!a->aggs[i].distinct || !a->aggs[i].arg) continue;
            for (int l = 0; l < i && q->dlead[i] < 0; l++)
                if (q->dlead[l] == l && q->dn[l] < 64 && sl_bexpr_equal(a->aggs[l].arg, a->aggs[i].arg)) q->dlead[i] = l;
            if (q->dlead[i] < 0) {
                q->dlead[i] = i;
                if (!(q->dmemb[i] = calloc(64, sizeof(int)))) goto oom;
            }
            int l = q->dlead[i];
            q->dbit[i] = q->dn[l];
            q->dmemb[l][q->dn[l]++] = i;
        }
        if (q->win.kind != SL_WIN_NONE && !q->win.proctime && (!q->stream || q->stream->wm_col < 0)) {
            snprintf(err, errlen, "stream %s has no WATERMARK, so event-time windows cannot close",
                     q->stream ? q->stream->name : "(none)");
            goto fail;
        }
    }
    /* Which stream columns are referenced anywhere: only those are extracted. */
    uint8_t *used = calloc((size_t)q->ncols + 1, 1);
    if (!used) goto oom;
    /* Filters pass the scan's columns through: the first node above the scan that is not a
     * filter decides what is read; with filters only, everything is. */
    int k = depth - 2;
    for (; k >= 0 && chain[k]->kind == SL_PN_FILTER; k--) mark_cols(chain[k]->pred, used);
    if (k < 0) {
        memset(used, 1, (size_t)q->ncols);
    } else if (chain[k]->kind == SL_PN_PROJECT) {
        for (int i = 0; i < chain[k]->ncols; i++) mark_cols(chain[k]->exprs[i], used);
    } else if (chain[k]->kind == SL_PN_AGGREGATE) {
        const sl_plan_t *a = chain[k];
        for (int i = 0; i < a->nkeys; i++) mark_cols(a->keys[i], used);
        for (int i = 0; i < a->naggs; i++) {
            mark_cols(a->aggs[i].arg, used);
            mark_cols(a->aggs[i].filter, used);
        }
        if (a->window.kind != SL_WIN_NONE) used[a->window.time_col] = 1;
    } else {
        memset(used, 1, (size_t)q->ncols);
    }
    if (q->stream && q->stream->wm_col >= 0) used[q->stream->wm_col] = 1;
    const char *ptrs[SL_JX_MAX_FIELDS];
    for (int i = 0; q->stream && i < q->ncols; i++) {
        if (!used[i]) continue;
        if (q->nneed == SL_JX_MAX_FIELDS) {
            free(used);
            snprintf(err, errlen, "a query may read at most %d columns of a stream", SL_JX_MAX_FIELDS);
            goto fail;
        }
        ptrs[q->nneed] = q->stream->paths[i];
        q->need[q->nneed++] = i;
    }
    free(used);
    if (sl_jx_new(ptrs, q->nneed, &q->jx)) goto oom;
    if (!(q->row = calloc((size_t)q->ncols + 1, sizeof(*q->row)))) goto oom;
    if (sl_query_set_partitions(q, 1)) goto oom;
    *out = q;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    sl_query_free(q);
    return -1;
}

int sl_query_set_partitions(sl_query_t *q, uint32_t n) {
    if (n <= q->nparts) return 0;
    part_t *np = realloc(q->parts, sizeof(*np) * n);
    if (!np) return -1;
    for (uint32_t i = q->nparts; i < n; i++) {
        memset(&np[i], 0, sizeof(np[i]));
        np[i].next_offset = -1;
    }
    q->parts = np;
    q->nparts = n;
    return 0;
}

void sl_query_free(sl_query_t *q) {
    if (!q) return;
    if (q->pre) free_stages(q->pre, q->npre);
    if (q->post) free_stages(q->post, q->npost);
    for (int i = 0; q->keys && i < q->nkeys; i++) sl_cexpr_free(&q->keys[i]);
    for (int i = 0; q->args && i < q->naggs; i++) {
        sl_cexpr_free(&q->args[i]);
        sl_cexpr_free(&q->filters[i]);
    }
    gtab_free(q, &q->tab);
    for (size_t i = 0; i < q->nwins; i++) gtab_free(q, &q->wins[i].tab);
    free(q->wins);
    for (int i = 0; q->dmemb && i < q->naggs; i++) free(q->dmemb[i]);
    free(q->dmemb);
    free(q->fid);
    free(q->fres);
    free(q->dlead);
    free(q->dbit);
    free(q->dn);
    free(q->keys);
    free(q->keycols);
    free(q->kv);
    free(q->args);
    free(q->filters);
    free(q->aggrow);
    free(q->row);
    free(q->prow);
    free(q->pre_plans);
    free(q->parts);
    sl_jx_free(q->jx);
    sl_buf_free(&q->kbuf);
    sl_buf_free(&q->ebuf);
    sl_buf_free(&q->rbuf);
    sl_eval_free(&q->ev);
    sl_arena_free(&q->batch);
    sl_arena_free(&q->plan_arena);
    free(q->error);
    free(q);
}

const sl_pcol_t *sl_query_columns(const sl_query_t *q, int *n) {
    *n = q->nout;
    return q->out_cols;
}

int sl_query_clock_driven(const sl_query_t *q) {
    return (q->agg && q->win.kind != SL_WIN_NONE && q->win.proctime) || (q->stream && q->stream->idle_timeout_ms > 0);
}

int sl_query_append_only(const sl_query_t *q) { return !q->agg || q->win.kind != SL_WIN_NONE; }

int64_t sl_query_position(const sl_query_t *q, uint32_t partition) {
    return partition < q->nparts ? q->parts[partition].next_offset : -1;
}

const char *sl_query_error(const sl_query_t *q) { return q->error; }

void sl_query_stats(const sl_query_t *q, sl_query_stats_t *out) {
    memset(out, 0, sizeof(*out));
    out->events_in = q->events_in;
    out->rows_out = q->rows_out;
    out->late_events = q->late;
    out->bad_fields = q->bad;
    out->limit_nulls = q->ev.fn.limit_nulls + q->scan_limit_nulls;
    out->state_bytes = q->state_bytes;
    out->watermark = q->watermark;
    int64_t m = INT64_MIN;
    for (uint32_t p = 0; p < q->nparts; p++)
        if (q->parts[p].seen && q->parts[p].max_ts > m) m = q->parts[p].max_ts;
    out->max_event_time = m;
}

/* ---- checkpoint state ---------------------------------------------------------------------- */

#define STATE_MAGIC 0x32534c51u /* "QLS2": DISTINCT sets carry member masks */

static int put64(sl_buf_t *b, int64_t v) { return sl_buf_append(b, &v, 8); }
static int put32(sl_buf_t *b, uint32_t v) { return sl_buf_append(b, &v, 4); }

static int save_accs(const sl_query_t *q, sl_buf_t *b, const gent_t *e) {
    for (int i = 0; i < q->naggs; i++) {
        const acc_t *a = &e->acc[i];
        const sl_agg_t *g = &q->agg->aggs[i];
        sl_type_t t = g->arg ? g->arg->type : SL_TYPE_BIGINT;
        if (put64(b, a->n) || sl_buf_append(b, &a->sum, 8) || sl_buf_putc(b, (char)a->has)) return -1;
        if (a->has && enc_value(b, t, &a->mm)) return -1;
        uint32_t n = a->ds ? (uint32_t)a->ds->count : 0;
        if (put32(b, n)) return -1;
        for (size_t k = 0; a->ds && k < a->ds->cap; k++)
            if (a->ds->v[k] && (put32(b, a->ds->n[k]) || sl_buf_append(b, a->ds->v[k], a->ds->n[k]) ||
                                put64(b, (int64_t)a->ds->m[k])))
                return -1;
    }
    return 0;
}

static int save_entry(const sl_query_t *q, sl_buf_t *b, const gent_t *e) {
    if (put32(b, e->klen) || (e->klen && sl_buf_append(b, e->key, e->klen)) || put32(b, e->prevlen) ||
        (e->prevlen && sl_buf_append(b, e->prev, e->prevlen)) || put64(b, e->start) || put64(b, e->end))
        return -1;
    return save_accs(q, b, e);
}

int sl_query_save(const sl_query_t *q, sl_buf_t *b) {
    if (put32(b, STATE_MAGIC) || put32(b, q->nparts)) return -1;
    for (uint32_t p = 0; p < q->nparts; p++)
        if (put64(b, q->parts[p].next_offset) || put64(b, q->parts[p].max_ts) || put32(b, (uint32_t)q->parts[p].seen))
            return -1;
    if (put64(b, q->watermark) || put64(b, (int64_t)q->events_in) || put64(b, (int64_t)q->rows_out) ||
        put64(b, (int64_t)q->late) || put64(b, (int64_t)q->bad))
        return -1;
    if (!q->agg) return 0;
    if (q->win.kind == SL_WIN_NONE || q->win.kind == SL_WIN_SESSION) {
        if (put64(b, (int64_t)q->tab.n)) return -1;
        for (size_t i = 0; i < q->tab.nb; i++)
            for (const gent_t *e = q->tab.b[i]; e; e = e->next) {
                if (save_entry(q, b, e)) return -1;
                if (q->win.kind == SL_WIN_SESSION) {
                    uint32_t ns = 0;
                    for (const gent_t *s = e->sess; s; s = s->next) ns++;
                    if (put32(b, ns)) return -1;
                    for (const gent_t *s = e->sess; s; s = s->next)
                        if (save_entry(q, b, s)) return -1;
                }
            }
        return 0;
    }
    if (put64(b, (int64_t)q->nwins)) return -1;
    for (size_t w = 0; w < q->nwins; w++) {
        const win_t *wi = &q->wins[w];
        if (put64(b, wi->start) || put64(b, wi->end) || put64(b, (int64_t)wi->tab.n)) return -1;
        for (size_t i = 0; i < wi->tab.nb; i++)
            for (const gent_t *e = wi->tab.b[i]; e; e = e->next)
                if (save_entry(q, b, e)) return -1;
    }
    return 0;
}

typedef struct rd {
    const char *p;
    size_t n, off;
    int bad;
} rd_t;

static const char *take(rd_t *r, size_t n) {
    if (r->bad || r->n - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    const char *p = r->p + r->off;
    r->off += n;
    return p;
}
static int64_t get64(rd_t *r) {
    int64_t v = 0;
    const char *p = take(r, 8);
    if (p) memcpy(&v, p, 8);
    return v;
}
static uint32_t get32(rd_t *r) {
    uint32_t v = 0;
    const char *p = take(r, 4);
    if (p) memcpy(&v, p, 4);
    return v;
}

/* Reads one entry into the table t, or (t = NULL) as a new standalone entry (a session), which is
 * freed again when reading fails. Entries in t belong to the query, freed with it. */
static int load_fields(sl_query_t *q, rd_t *r, gent_t *e, const char *prev, uint32_t plen);

static gent_t *load_entry(sl_query_t *q, rd_t *r, gtab_t *t) {
    uint32_t klen = get32(r);
    const char *key = take(r, klen);
    uint32_t plen = get32(r);
    const char *prev = take(r, plen);
    int64_t start = get64(r), end = get64(r);
    if (r->bad) return NULL;
    gent_t *e = t ? gtab_get(q, t, key, klen, 1) : gent_new(q, NULL, 0, 0);
    if (!e) return NULL;
    e->start = start;
    e->end = end;
    if (load_fields(q, r, e, prev, plen)) {
        if (!t) gent_free(q, e);
        return NULL;
    }
    return e;
}

static int load_fields(sl_query_t *q, rd_t *r, gent_t *e, const char *prev, uint32_t plen) {
    if (plen) {
        if (e->prev || !(e->prev = salloc(q, plen))) return -1;
        memcpy(e->prev, prev, plen);
        e->prevlen = plen;
    }
    for (int i = 0; i < q->naggs; i++) {
        acc_t *a = &e->acc[i];
        const sl_agg_t *g = &q->agg->aggs[i];
        sl_type_t ty = g->arg ? g->arg->type : SL_TYPE_BIGINT;
        a->n = get64(r);
        const char *s = take(r, 8);
        if (s) memcpy(&a->sum, s, 8);
        const char *h = take(r, 1);
        if (r->bad) return -1;
        if (*h) {
            sl_value_t v;
            size_t k = dec_value(r->p + r->off, r->n - r->off, ty, &v);
            if (!k) { r->bad = 1; return -1; }
            r->off += k;
            if (mm_set(q, a, ty, &v)) return -1;
        }
        uint32_t nd = get32(r);
        for (uint32_t k = 0; k < nd && !r->bad; k++) {
            uint32_t vl = get32(r);
            const char *v = take(r, vl);
            uint64_t mask = (uint64_t)get64(r), fresh;
            if (r->bad) return -1;
            if (!a->ds && !(a->ds = salloc(q, sizeof(dset_t)))) return -1;
            if (dset_add(q, a->ds, v, vl, hash_bytes(v, vl), mask, &fresh)) return -1;
        }
    }
    return r->bad ? -1 : 0;
}

int sl_query_load(sl_query_t *q, const char *p, size_t n) {
    rd_t r = {p, n, 0, 0};
    if (get32(&r) != STATE_MAGIC) return -1;
    uint32_t np = get32(&r);
    if (r.bad || np > 1u << 20 || sl_query_set_partitions(q, np)) return -1;
    for (uint32_t i = 0; i < np; i++) {
        q->parts[i].next_offset = get64(&r);
        q->parts[i].max_ts = get64(&r);
        q->parts[i].seen = (int)get32(&r);
        q->parts[i].last_active = sl_now_ms();
    }
    q->watermark = get64(&r);
    q->events_in = (uint64_t)get64(&r);
    q->rows_out = (uint64_t)get64(&r);
    q->late = (uint64_t)get64(&r);
    q->bad = (uint64_t)get64(&r);
    if (r.bad) return -1;
    if (!q->agg) return r.off == n ? 0 : -1;
    if (q->win.kind == SL_WIN_NONE || q->win.kind == SL_WIN_SESSION) {
        int64_t cnt = get64(&r);
        for (int64_t i = 0; i < cnt && !r.bad; i++) {
            gent_t *e = load_entry(q, &r, &q->tab);
            if (!e) return -1;
            if (q->win.kind == SL_WIN_SESSION) {
                uint32_t ns = get32(&r);
                gent_t **tail = &e->sess;
                for (uint32_t k = 0; k < ns; k++) {
                    gent_t *s = load_entry(q, &r, NULL);
                    if (!s) return -1;
                    *tail = s;
                    tail = &s->next;
                }
            }
        }
    } else {
        int64_t nw = get64(&r);
        for (int64_t w = 0; w < nw && !r.bad; w++) {
            int64_t ws = get64(&r), we = get64(&r), cnt = get64(&r);
            if (r.bad) return -1;
            win_t *wi = window_get(q, ws, we);
            if (!wi) return -1;
            for (int64_t i = 0; i < cnt; i++)
                if (!load_entry(q, &r, &wi->tab)) return -1;
        }
    }
    return r.bad || r.off != n ? -1 : 0;
}
