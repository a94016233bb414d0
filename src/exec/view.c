/* Materialized view contents (see view.h): a hash table of encoded rows with a doubly linked
 * insertion order, and a ring of the latest changes rendered as JSON lines. */
#include "exec/view.h"

#include <stdlib.h>
#include <string.h>

#include "exec/expr.h"
#include "exec/query.h"

typedef struct vrow vrow_t;
struct vrow {
    vrow_t *hnext, *prev, *next;
    uint64_t hash;
    uint32_t klen, rlen;
    char *key;                     /* klen bytes, then the encoded row (rlen bytes) */
};

struct sl_view {
    sl_pcol_t *cols;
    int ncols;
    vrow_t **b;
    size_t nb, n;
    vrow_t *head, *tail;
    uint64_t bytes, next_id;
    sl_value_t *tmp;
    sl_buf_t enc;
    /* change feed */
    char *feed[SL_VIEW_FEED];
    uint32_t feedlen[SL_VIEW_FEED];
    uint64_t seq;                  /* sequence of the last change */
};

static uint64_t vhash(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

sl_view_t *sl_view_new(const sl_pcol_t *cols, int ncols) {
    sl_view_t *v = calloc(1, sizeof(*v));
    if (!v) return NULL;
    v->cols = calloc((size_t)ncols + 1, sizeof(*v->cols));
    v->tmp = calloc((size_t)ncols + 1, sizeof(*v->tmp));
    if (!v->cols || !v->tmp) {
        sl_view_free(v);
        return NULL;
    }
    for (int i = 0; i < ncols; i++) {
        v->cols[i].type = cols[i].type;
        v->cols[i].name = strdup(cols[i].name);
        if (!v->cols[i].name) {
            v->ncols = i;
            sl_view_free(v);
            return NULL;
        }
    }
    v->ncols = ncols;
    return v;
}

void sl_view_free(sl_view_t *v) {
    if (!v) return;
    vrow_t *r = v->head;
    while (r) {
        vrow_t *n = r->next;
        free(r->key);
        free(r);
        r = n;
    }
    for (int i = 0; i < v->ncols; i++) free((char *)v->cols[i].name);
    for (int i = 0; i < SL_VIEW_FEED; i++) free(v->feed[i]);
    free(v->cols);
    free(v->tmp);
    free(v->b);
    sl_buf_free(&v->enc);
    free(v);
}

static vrow_t *find(const sl_view_t *v, const char *key, size_t klen, uint64_t h) {
    if (!v->nb) return NULL;
    for (vrow_t *r = v->b[h & (v->nb - 1)]; r; r = r->hnext)
        if (r->hash == h && r->klen == klen && !memcmp(r->key, key, klen)) return r;
    return NULL;
}

static int grow(sl_view_t *v) {
    size_t nb = v->nb ? v->nb * 2 : 64;
    vrow_t **b = calloc(nb, sizeof(*b));
    if (!b) return -1;
    for (vrow_t *r = v->head; r; r = r->next) {
        r->hnext = b[r->hash & (nb - 1)];
        b[r->hash & (nb - 1)] = r;
    }
    free(v->b);
    v->b = b;
    v->nb = nb;
    return 0;
}

static void unlink_row(sl_view_t *v, vrow_t *r) {
    vrow_t **pp = &v->b[r->hash & (v->nb - 1)];
    while (*pp != r) pp = &(*pp)->hnext;
    *pp = r->hnext;
    if (r->prev) r->prev->next = r->next;
    else v->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else v->tail = r->prev;
    v->n--;
    v->bytes -= sizeof(*r) + r->klen + r->rlen;
    free(r->key);
    free(r);
}

static int feed_add(sl_view_t *v, int change, const sl_value_t *row) {
    static const char *ops[] = {"", "insert", "update", "delete"};
    sl_buf_t b = SL_BUF_INIT;
    v->seq++;
    if (sl_buf_printf(&b, "{\"seq\":%llu,\"op\":\"%s\",\"row\":", (unsigned long long)v->seq, ops[change]) ||
        sl_row_json(&b, v->cols, v->ncols, row) || sl_buf_lit(&b, "}\n")) {
        sl_buf_free(&b);
        return -1;
    }
    size_t slot = v->seq % SL_VIEW_FEED;
    free(v->feed[slot]);
    v->feedlen[slot] = (uint32_t)b.len;
    v->feed[slot] = sl_buf_steal(&b, NULL);
    return 0;
}

int sl_view_apply(sl_view_t *v, int change, const char *key, size_t klen, const sl_value_t *row) {
    char idkey[8];
    if (!key) {
        uint64_t id = v->next_id++;
        memcpy(idkey, &id, 8);
        key = idkey;
        klen = 8;
    }
    uint64_t h = vhash(key, klen);
    vrow_t *r = find(v, key, klen, h);
    if (change == SL_CHANGE_DELETE) {
        if (r) unlink_row(v, r);
        return feed_add(v, change, row);
    }
    v->enc.len = 0;
    if (sl_row_encode(&v->enc, v->cols, v->ncols, row)) return -1;
    char *mem = malloc(klen + v->enc.len + 1);
    if (!mem) return -1;
    memcpy(mem, key, klen);
    if (v->enc.len) memcpy(mem + klen, v->enc.data, v->enc.len);
    if (r) {
        v->bytes += v->enc.len;
        v->bytes -= r->rlen;
        free(r->key);
        r->key = mem;
        r->rlen = (uint32_t)v->enc.len;
        return feed_add(v, r ? SL_CHANGE_UPDATE : change, row);
    }
    if (v->n >= v->nb && grow(v)) {
        free(mem);
        return -1;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        free(mem);
        return -1;
    }
    r->hash = h;
    r->key = mem;
    r->klen = (uint32_t)klen;
    r->rlen = (uint32_t)v->enc.len;
    r->hnext = v->b[h & (v->nb - 1)];
    v->b[h & (v->nb - 1)] = r;
    r->prev = v->tail;
    if (v->tail) v->tail->next = r;
    else v->head = r;
    v->tail = r;
    v->n++;
    v->bytes += sizeof(*r) + klen + r->rlen;
    return feed_add(v, SL_CHANGE_INSERT, row);
}

size_t sl_view_rows(const sl_view_t *v) { return v->n; }
uint64_t sl_view_bytes(const sl_view_t *v) { return v->bytes; }
uint64_t sl_view_seq(const sl_view_t *v) { return v->seq; }

int sl_view_scan(const sl_view_t *v, int (*fn)(void *ud, const sl_value_t *row), void *ud) {
    for (vrow_t *r = v->head; r; r = r->next) {
        if (!sl_row_decode(r->key + r->klen, r->rlen, v->cols, v->ncols, v->tmp)) return -1;
        int rc = fn(ud, v->tmp);
        if (rc) return rc;
    }
    return 0;
}

int sl_row_json(sl_buf_t *out, const sl_pcol_t *cols, int n, const sl_value_t *row) {
    int rc = sl_buf_putc(out, '{');
    for (int i = 0; i < n; i++) {
        if (i) rc |= sl_buf_putc(out, ',');
        rc |= sl_buf_putc(out, '"');
        rc |= sl_buf_json_escape(out, cols[i].name, strlen(cols[i].name));
        rc |= sl_buf_lit(out, "\":");
        rc |= sl_value_json(out, cols[i].type, &row[i]);
    }
    return rc | sl_buf_putc(out, '}');
}

typedef struct render {
    sl_buf_t *out;
    const sl_view_t *v;
    int ndjson, first;
} render_t;

static int render_row(void *ud, const sl_value_t *row) {
    render_t *r = ud;
    int rc = 0;
    if (!r->ndjson && !r->first) rc |= sl_buf_putc(r->out, ',');
    r->first = 0;
    rc |= sl_row_json(r->out, r->v->cols, r->v->ncols, row);
    if (r->ndjson) rc |= sl_buf_putc(r->out, '\n');
    return rc ? -1 : 0;
}

int sl_view_render(const sl_view_t *v, int ndjson, sl_buf_t *out) {
    int rc = 0;
    if (!ndjson) {
        rc |= sl_buf_lit(out, "{\"columns\":[");
        for (int i = 0; i < v->ncols; i++) {
            rc |= sl_buf_printf(out, "%s{\"name\":\"", i ? "," : "");
            rc |= sl_buf_json_escape(out, v->cols[i].name, strlen(v->cols[i].name));
            rc |= sl_buf_printf(out, "\",\"type\":\"%s\"}", sl_type_name(v->cols[i].type));
        }
        rc |= sl_buf_lit(out, "],\"rows\":[");
    }
    render_t r = {out, v, ndjson, 1};
    rc |= sl_view_scan(v, render_row, &r);
    if (!ndjson) rc |= sl_buf_lit(out, "]}");
    return rc ? -1 : 0;
}

long sl_view_changes(const sl_view_t *v, uint64_t after, size_t max, sl_buf_t *out, uint64_t *last) {
    *last = after;
    if (after >= v->seq) return 0;
    if (v->seq - after > SL_VIEW_FEED) return -1;
    long n = 0;
    for (uint64_t s = after + 1; s <= v->seq && (size_t)n < max; s++) {
        size_t slot = s % SL_VIEW_FEED;
        if (sl_buf_append(out, v->feed[slot], v->feedlen[slot])) return -1;
        *last = s;
        n++;
    }
    return n;
}

int sl_view_save(const sl_view_t *v, sl_buf_t *out) {
    uint64_t n = v->n;
    if (sl_buf_append(out, &n, 8) || sl_buf_append(out, &v->next_id, 8)) return -1;
    for (vrow_t *r = v->head; r; r = r->next)
        if (sl_buf_append(out, &r->klen, 4) || sl_buf_append(out, &r->rlen, 4) ||
            sl_buf_append(out, r->key, (size_t)r->klen + r->rlen))
            return -1;
    return 0;
}

int sl_view_load(sl_view_t *v, const char *p, size_t len) {
    uint64_t n, next;
    if (len < 16) return -1;
    memcpy(&n, p, 8);
    memcpy(&next, p + 8, 8);
    size_t off = 16;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t kl, rl;
        if (len - off < 8) return -1;
        memcpy(&kl, p + off, 4);
        memcpy(&rl, p + off + 4, 4);
        off += 8;
        if (len - off < (size_t)kl + rl) return -1;
        if (!sl_row_decode(p + off + kl, rl, v->cols, v->ncols, v->tmp)) return -1;
        if (sl_view_apply(v, SL_CHANGE_INSERT, p + off, kl, v->tmp)) return -1;
        off += (size_t)kl + rl;
    }
    v->next_id = next;
    return off == len ? 0 : -1;
}
