/* Field extraction by JSON Pointer (see extract.h). One yajl handle per extractor, reused from
 * event to event (multiple top-level values allowed, a newline fed after each). At depth d the
 * parser keeps the set of pointers whose first d tokens match the current path, as a bitmask. */
#include "json/extract.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "json/doc.h"

#define MAX_DEPTH 66

typedef struct tok {
    char *s;
    size_t n;
} tok_t;

struct sl_jx {
    yajl_handle h;
    int n;
    tok_t *toks[SL_JX_MAX_FIELDS];
    int ntok[SL_JX_MAX_FIELDS];
    /* per event */
    sl_jx_field_t *out;
    sl_arena_t *arena;
    const char *text;
    int depth;                     /* 0 = outside the top value */
    uint64_t mask[MAX_DEPTH];      /* pointers matching the path down to depth d */
    uint64_t cur;                  /* pointers matching the member about to be read */
    int in_array[MAX_DEPTH];
    size_t cstart[MAX_DEPTH];      /* where a container value started (for OBJECT/ARRAY text) */
    uint64_t cmask[MAX_DEPTH];     /* pointers that the container at depth d completes */
};

/* The pointers that end exactly at the value being read now. */
static uint64_t ending(sl_jx_t *x) {
    if (x->depth == 0 || x->in_array[x->depth]) return 0;
    uint64_t m = x->cur, r = 0;
    while (m) {
        int i = __builtin_ctzll(m);
        m &= m - 1;
        if (x->ntok[i] == x->depth) r |= 1ull << i;
    }
    return r;
}

static void set(sl_jx_t *x, uint64_t m, int kind, const char *p, size_t n, int b) {
    while (m) {
        int i = __builtin_ctzll(m);
        m &= m - 1;
        x->out[i].kind = kind;
        x->out[i].p = p;
        x->out[i].n = n;
        x->out[i].b = b;
    }
}

static int cb_null(void *ctx) {
    sl_jx_t *x = ctx;
    set(x, ending(x), SL_J_NULL, NULL, 0, 0);
    return 1;
}
static int cb_bool(void *ctx, int b) {
    sl_jx_t *x = ctx;
    set(x, ending(x), SL_J_BOOL, NULL, 0, b);
    return 1;
}
static int cb_number(void *ctx, const char *s, size_t n) {
    sl_jx_t *x = ctx;
    uint64_t m = ending(x);
    if (m) {
        char *c = sl_arena_strndup(x->arena, s, n);
        if (!c) return 0;
        set(x, m, SL_J_NUMBER, c, n, 0);
    }
    return 1;
}
static int cb_string(void *ctx, const unsigned char *s, size_t n) {
    sl_jx_t *x = ctx;
    uint64_t m = ending(x);
    if (m) {
        char *c = sl_arena_strndup(x->arena, (const char *)s, n);
        if (!c) return 0;
        set(x, m, SL_J_STRING, c, n, 0);
    }
    return 1;
}

static size_t here(sl_jx_t *x) { return yajl_get_bytes_consumed(x->h); }

static int open_container(sl_jx_t *x, int array) {
    uint64_t end = ending(x);
    uint64_t pass = (x->depth == 0) ? ~0ull >> (64 - x->n) : (x->in_array[x->depth] ? 0 : x->cur);
    if (x->n == 0) pass = 0;
    if (x->depth + 1 >= MAX_DEPTH) return 0;
    x->depth++;
    x->mask[x->depth] = pass & ~end;
    x->in_array[x->depth] = array;
    x->cmask[x->depth] = end;
    x->cstart[x->depth] = here(x) - 1;
    return 1;
}

static int close_container(sl_jx_t *x, int kind) {
    if (x->cmask[x->depth]) {
        size_t s = x->cstart[x->depth];
        set(x, x->cmask[x->depth], kind, x->text + s, here(x) - s, 0);
    }
    x->depth--;
    return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, 0); }
static int cb_end_map(void *ctx) { return close_container(ctx, SL_J_OBJECT); }
static int cb_start_array(void *ctx) { return open_container(ctx, 1); }
static int cb_end_array(void *ctx) { return close_container(ctx, SL_J_ARRAY); }

static int cb_key(void *ctx, const unsigned char *k, size_t n) {
    sl_jx_t *x = ctx;
    uint64_t m = x->mask[x->depth], r = 0;
    int d = x->depth - 1;          /* token index */
    while (m) {
        int i = __builtin_ctzll(m);
        m &= m - 1;
        if (x->ntok[i] > d && x->toks[i][d].n == n && !memcmp(x->toks[i][d].s, k, n)) r |= 1ull << i;
    }
    x->cur = r;
    return 1;
}

static const yajl_callbacks callbacks = {cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
                                         cb_start_map, cb_key, cb_end_map, cb_start_array, cb_end_array};

int sl_jx_new(const char *const *pointers, int n, sl_jx_t **out) {
    if (n < 0 || n > SL_JX_MAX_FIELDS) return -1;
    sl_jx_t *x = calloc(1, sizeof(*x));
    if (!x) return -1;
    x->n = n;
    for (int i = 0; i < n; i++) {
        const char *p = pointers[i];
        if (p[0] != '/') goto fail;
        int cnt = 0;
        for (const char *q = p; *q; q++) cnt += *q == '/';
        x->toks[i] = calloc((size_t)cnt, sizeof(tok_t));
        if (!x->toks[i]) goto fail;
        x->ntok[i] = cnt;
        const char *q = p + 1;
        for (int t = 0; t < cnt; t++) {
            const char *e = strchr(q, '/');
            size_t len = e ? (size_t)(e - q) : strlen(q);
            char *s = malloc(len + 1), *w = s;
            if (!s) goto fail;
            for (size_t j = 0; j < len; j++) {
                if (q[j] == '~' && j + 1 < len && (q[j + 1] == '0' || q[j + 1] == '1')) {
                    *w++ = q[j + 1] == '0' ? '~' : '/';
                    j++;
                } else {
                    *w++ = q[j];
                }
            }
            *w = 0;
            x->toks[i][t].s = s;
            x->toks[i][t].n = (size_t)(w - s);
            q += len + 1;
        }
    }
    x->h = yajl_alloc(&callbacks, NULL, x);
    if (!x->h) goto fail;
    yajl_config(x->h, yajl_allow_multiple_values, 1);
    *out = x;
    return 0;
fail:
    sl_jx_free(x);
    return -1;
}

void sl_jx_free(sl_jx_t *x) {
    if (!x) return;
    for (int i = 0; i < x->n; i++) {
        if (!x->toks[i]) continue;
        for (int t = 0; t < x->ntok[i]; t++) free(x->toks[i][t].s);
        free(x->toks[i]);
    }
    if (x->h) yajl_free(x->h);
    free(x);
}

int sl_jx_run(sl_jx_t *x, const char *json, size_t len, sl_jx_field_t *fields, sl_arena_t *arena) {
    memset(fields, 0, sizeof(*fields) * (size_t)x->n);
    x->out = fields;
    x->arena = arena;
    x->text = json;
    x->depth = 0;
    x->cur = 0;
    x->in_array[0] = 0;
    x->mask[0] = 0;
    if (yajl_parse(x->h, (const unsigned char *)json, len) != yajl_status_ok ||
        yajl_parse(x->h, (const unsigned char *)"\n", 1) != yajl_status_ok || x->depth != 0) {
        /* The handle is unusable after an error: start a fresh one. */
        yajl_free(x->h);
        x->h = yajl_alloc(&callbacks, NULL, x);
        if (x->h) yajl_config(x->h, yajl_allow_multiple_values, 1);
        return -1;
    }
    return 0;
}
