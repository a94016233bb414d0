/* The scalar functions of sql/func.h, run once per row (exec/func.h), with Flink SQL semantics.
 *
 * Strings are UTF-8 and every position or length counts code points. A result that is a slice of
 * an argument (SUBSTRING, TRIM, SPLIT_INDEX, REGEXP_EXTRACT, an unchanged LOWER/UPPER/REPLACE)
 * points into that argument; anything built is allocated in ctx->arena. Nothing mallocs per row:
 * sl_fn_prepare compiles a constant regex / LIKE pattern / DATE_FORMAT pattern once, and when the
 * pattern comes with each row the call site's state caches the last one compiled.
 * LOWER and UPPER map ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (the one-to-one
 * mappings that keep a character's UTF-8 length: no ß -> SS); other characters pass unchanged.
 * Regexes are PCRE2 in UTF mode (close to Java's syntax for what queries use), JIT-compiled.
 * Timestamps are UTC epoch milliseconds, split with civil-from-days arithmetic (no gmtime_r). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "exec/func.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "core/clock.h"

/* ---- results, errors, bytes ------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static inline void set_null(sl_value_t *o) {
    o->null = 1;
    o->u.i = 0;
}
static inline void set_int(sl_value_t *o, int64_t v) {
    o->null = 0;
    o->u.i = v;
}
static inline void set_dbl(sl_value_t *o, double v) {
    o->null = 0;
    o->u.d = v;
}
static inline void set_str(sl_value_t *o, const void *p, size_t n) {
    assert(n <= UINT32_MAX);
    o->null = 0;
    o->u.s.p = (const char *)p;
    o->u.s.n = (uint32_t)n;
}

/* A VARCHAR's bytes; an empty string may carry a NULL pointer. */
static inline const unsigned char *str_p(const sl_value_t *v) {
    return v->u.s.p ? (const unsigned char *)v->u.s.p : (const unsigned char *)"";
}

static inline int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Code points in s[0..n): every byte that does not continue a sequence starts one. Eight bytes
 * at a time: a continuation byte is 10xxxxxx, so bit 7 set and bit 6 (shifted up to 7) clear. */
static size_t cp_count(const unsigned char *s, size_t n) {
    size_t cont = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t x = (w & ~(w << 1) & 0x8080808080808080ull) >> 7;
        cont += (size_t)((x * 0x0101010101010101ull) >> 56);   /* sums the eight 0/1 bytes */
    }
    for (; i < n; i++) cont += is_cont(s[i]);
    return n - cont;
}

/* The first needle[0..m) in hay[0..n), m > 0: memchr for its first byte, then compare, which
 * beats glibc's memmem on the short strings events carry; long ones go to memmem (linear). */
static const unsigned char *find(const unsigned char *hay, size_t n, const unsigned char *needle,
                                 size_t m) {
    assert(m > 0);
    if (m > n) return NULL;
    if (n > 1024 && m > 1) return memmem(hay, n, needle, m);
    const unsigned char *p = hay, *last = hay + (n - m);
    while (p <= last && (p = memchr(p, needle[0], (size_t)(last - p) + 1))) {
        if (p[m - 1] == needle[m - 1] && memcmp(p + 1, needle + 1, m - 1) == 0) return p;
        p++;
    }
    return NULL;
}

/* The byte offset k code points after pos, stopping at n; *left (if given) gets the number of
 * code points the string was short by. */
static size_t cp_skip(const unsigned char *s, size_t n, size_t pos, uint64_t k, uint64_t *left) {
    while (k && pos < n) {
        pos++;
        while (pos < n && is_cont(s[pos])) pos++;
        k--;
    }
    if (left) *left = k;
    return pos;
}

/* The end of the character starting at s[i]. */
static inline size_t cp_end(const unsigned char *s, size_t n, size_t i) {
    i++;
    while (i < n && is_cont(s[i])) i++;
    return i;
}

/* s[0..n) equals the upper-case ASCII word w, ignoring case. */
static int word_is(const unsigned char *s, size_t n, const char *w) {
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
        if (w[i] == 0 || (unsigned char)w[i] != c) return 0;
    }
    return w[i] == 0;
}

/* The text of a pattern of n bytes in a message: at most 64 bytes of it. */
#define SHOWN(n) ((n) > 64 ? 64 : (int)(n))

/* Grows *p (elements of size elem) to hold at least need; -1 when out of memory. */
static int grow(void *pp, size_t *cap, size_t need, size_t elem) {
    void **p = pp;
    if (need <= *cap && *p) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* The text a per-row pattern was compiled from, so an unchanged pattern is not recompiled. */
typedef struct key {
    char *p;
    size_t n, cap;
    int valid;
} pat_key_t;

static int key_same(const pat_key_t *k, const unsigned char *p, size_t n) {
    return k->valid && k->n == n && (n == 0 || memcmp(k->p, p, n) == 0);
}

static int key_set(pat_key_t *k, const unsigned char *p, size_t n) {
    k->valid = 0;
    if (grow(&k->p, &k->cap, n + 1, 1) < 0) return -1;
    if (n) memcpy(k->p, p, n);
    k->n = n;
    k->valid = 1;
    return 0;
}

/* ---- numeric call sites: the argument type, fixed in prepare ----------------------------- */

static const sl_type_t NUM_BIGINT = SL_TYPE_BIGINT, NUM_DOUBLE = SL_TYPE_DOUBLE;

static inline int num_is_double(const sl_fn_ctx_t *ctx) {
    assert(ctx->state == &NUM_BIGINT || ctx->state == &NUM_DOUBLE);
    return ctx->state == &NUM_DOUBLE;
}

/* ---- LOWER / UPPER ---------------------------------------------------------------------- */

/* Case mappings for U+0080..U+07FF that stay in that range (two UTF-8 bytes each way). */
static uint32_t lower2(uint32_t c) {
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    if (c >= 0x100 && c <= 0x17F) {
        if ((c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return c | 1;                                    /* even upper, odd lower */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;                      /* odd upper, even lower */
        if (c == 0x178) return 0xFF;
        return c;
    }
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 0x25;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 0x3F;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    return c;
}

static uint32_t upper2(uint32_t c) {
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if (c == 0xB5) return 0x39C;
    if (c >= 0x100 && c <= 0x17F) {
        if ((c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return c & ~(uint32_t)1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c : c - 1;
        return c;
    }
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
    if (c == 0x3C2) return 0x3A3;                            /* final sigma */
    if (c >= 0x3B1 && c <= 0x3CB) return c - 0x20;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    return c;
}

static int fn_case(sl_fn_ctx_t *ctx, const sl_value_t *a, int upper, sl_value_t *out) {
    const unsigned char *s = str_p(a);
    size_t n = a->u.s.n, i = 0;
    unsigned char lo = upper ? 'a' : 'A', hi = upper ? 'z' : 'Z';
    while (i < n && s[i] < 0x80 && (s[i] < lo || s[i] > hi)) i++;
    if (i == n) {                                          /* nothing to change: share the bytes */
        set_str(out, s, n);
        return 0;
    }
    unsigned char *r = sl_arena_alloc(ctx->arena, n);
    if (!r) return fail(ctx->err, ctx->errlen, "%s: out of memory", upper ? "UPPER" : "LOWER");
    memcpy(r, s, i);
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            r[i++] = c >= lo && c <= hi ? (unsigned char)(c ^ 0x20) : c;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < n && is_cont(s[i + 1])) {
            uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            uint32_t m = cp >= 0x80 ? (upper ? upper2(cp) : lower2(cp)) : cp;
            assert(cp < 0x80 || (m >= 0x80 && m <= 0x7FF));
            if (m == cp) {
                r[i] = c;
                r[i + 1] = s[i + 1];
            } else {
                r[i] = (unsigned char)(0xC0 | (m >> 6));
                r[i + 1] = (unsigned char)(0x80 | (m & 0x3F));
            }
            i += 2;
        } else {
            r[i] = c;
            i++;
        }
    }
    set_str(out, r, n);
    return 0;
}

/* ---- SUBSTRING, TRIM, CONCAT, SPLIT_INDEX, POSITION, REPLACE, COUNT_CHAR ------------------- */

/* Flink's SqlFunctionUtils.subString: start 1 is the first character, 0 counts as 1, a negative
 * start counts from the end; a start past the end gives ''; a negative length gives NULL. */
static int fn_substring(const sl_value_t *a, int nargs, sl_value_t *out) {
    const unsigned char *s = str_p(&a[0]);
    size_t n = a[0].u.s.n, from = 0;
    int64_t start = a[1].u.i;
    int64_t len = nargs > 2 ? a[2].u.i : INT64_MAX;
    if (len < 0) {
        set_null(out);
        return 0;
    }
    if (start > 0) {
        uint64_t left;
        from = cp_skip(s, n, 0, (uint64_t)start - 1, &left);
        if (left || from >= n) from = n;
    } else if (start < 0) {
        uint64_t back = (uint64_t)0 - (uint64_t)start, count = cp_count(s, n);
        from = back > count ? n : cp_skip(s, n, 0, count - back, NULL);
    }
    size_t to = (uint64_t)len >= n - from ? n : cp_skip(s, n, from, (uint64_t)len, NULL);
    set_str(out, s + from, to - from);
    return 0;
}

enum { TRIM_LEADING = 1, TRIM_TRAILING = 2, TRIM_BOTH = 3 };

static int trim_mode(const sl_value_t *m) {
    const unsigned char *p = str_p(m);
    if (word_is(p, m->u.s.n, "BOTH")) return TRIM_BOTH;
    if (word_is(p, m->u.s.n, "LEADING")) return TRIM_LEADING;
    if (word_is(p, m->u.s.n, "TRAILING")) return TRIM_TRAILING;
    return 0;
}

/* 1 if the character c[0..len) is one of the characters of set[0..sn). */
static int in_set(const unsigned char *c, size_t len, const unsigned char *set, size_t sn) {
    for (size_t i = 0; i < sn;) {
        size_t j = cp_end(set, sn, i);
        if (j - i == len && memcmp(set + i, c, len) == 0) return 1;
        i = j;
    }
    return 0;
}

/* TRIM(mode, chars, s): removes from the chosen ends every character that is in chars. */
static int fn_trim(sl_fn_ctx_t *ctx, const sl_value_t *a, sl_value_t *out) {
    int mode = trim_mode(&a[0]);
    if (!mode)
        return fail(ctx->err, ctx->errlen, "TRIM: unknown mode '%.*s'; use BOTH, LEADING or TRAILING",
                    SHOWN(a[0].u.s.n), (const char *)str_p(&a[0]));
    const unsigned char *set = str_p(&a[1]), *s = str_p(&a[2]);
    size_t sn = a[1].u.s.n, b = 0, e = a[2].u.s.n;
    if (sn == 1 && set[0] < 0x80) {
        if (mode & TRIM_LEADING)
            while (b < e && s[b] == set[0]) b++;
        if (mode & TRIM_TRAILING)
            while (e > b && s[e - 1] == set[0]) e--;
    } else if (sn) {
        if (mode & TRIM_LEADING) {
            while (b < e) {
                size_t j = cp_end(s, e, b);
                if (!in_set(s + b, j - b, set, sn)) break;
                b = j;
            }
        }
        if (mode & TRIM_TRAILING) {
            while (e > b) {
                size_t j = e - 1;
                while (j > b && is_cont(s[j])) j--;
                if (!in_set(s + j, e - j, set, sn)) break;
                e = j;
            }
        }
    }
    set_str(out, s + b, e - b);
    return 0;
}

static int fn_concat(sl_fn_ctx_t *ctx, const sl_value_t *a, int nargs, sl_value_t *out) {
    uint64_t total = 0;
    for (int i = 0; i < nargs; i++) total += a[i].u.s.n;
    if (total > UINT32_MAX) return fail(ctx->err, ctx->errlen, "CONCAT: result longer than 4 GiB");
    if (nargs == 1 || total == 0) {
        set_str(out, nargs ? str_p(&a[0]) : (const unsigned char *)"", total);
        return 0;
    }
    char *r = sl_arena_alloc(ctx->arena, (size_t)total);
    if (!r) return fail(ctx->err, ctx->errlen, "CONCAT: out of memory");
    size_t at = 0;
    for (int i = 0; i < nargs; i++) {
        if (a[i].u.s.n) memcpy(r + at, str_p(&a[i]), a[i].u.s.n);
        at += a[i].u.s.n;
    }
    set_str(out, r, at);
    return 0;
}

/* Java's Character.isWhitespace, ASCII part: what an empty SPLIT_INDEX delimiter splits on. */
static inline int java_space(unsigned char c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
}

/* SPLIT_INDEX(s, delim, i): field i (0-based) of s split at every delim, empty fields kept
 * (commons-lang splitByWholeSeparatorPreserveAllTokens, as Flink): NULL when i is negative or
 * past the last field, and for an empty s. An empty delim splits at each whitespace. */
static void fn_split_index(const sl_value_t *a, sl_value_t *out) {
    const unsigned char *s = str_p(&a[0]), *d = str_p(&a[1]);
    size_t n = a[0].u.s.n, dn = a[1].u.s.n, b = 0;
    int64_t k = a[2].u.i;
    if (k < 0 || n == 0) {
        set_null(out);
        return;
    }
    if (dn == 0) {
        for (size_t i = 0;; i++) {
            if (i == n || java_space(s[i])) {
                if (k == 0) {
                    set_str(out, s + b, i - b);
                    return;
                }
                if (i == n) break;
                k--;
                b = i + 1;
            }
        }
        set_null(out);
        return;
    }
    for (; k > 0; k--) {
        const unsigned char *hit = find(s + b, n - b, d, dn);
        if (!hit) {
            set_null(out);
            return;
        }
        b = (size_t)(hit - s) + dn;
    }
    const unsigned char *hit = find(s + b, n - b, d, dn);
    set_str(out, s + b, (hit ? (size_t)(hit - s) : n) - b);
}

/* POSITION(needle, s): 1-based character position of the first needle in s, 0 if absent. */
static void fn_position(const sl_value_t *a, sl_value_t *out) {
    const unsigned char *needle = str_p(&a[0]), *s = str_p(&a[1]);
    size_t nn = a[0].u.s.n, n = a[1].u.s.n;
    if (nn == 0) {
        set_int(out, 1);
        return;
    }
    const unsigned char *hit = find(s, n, needle, nn);
    set_int(out, hit ? (int64_t)cp_count(s, (size_t)(hit - s)) + 1 : 0);
}

/* REPLACE(s, from, to): every non-overlapping from, left to right, becomes to. An empty from
 * puts to between every two characters and at both ends (Java's String.replace, by character). */
static int fn_replace(sl_fn_ctx_t *ctx, const sl_value_t *a, sl_value_t *out) {
    const unsigned char *s = str_p(&a[0]), *f = str_p(&a[1]), *t = str_p(&a[2]);
    size_t n = a[0].u.s.n, fn = a[1].u.s.n, tn = a[2].u.s.n;
    uint64_t hits = 0;
    if (fn == 0) {
        hits = cp_count(s, n) + 1;
    } else {
        for (const unsigned char *p = s; (p = find(p, n - (size_t)(p - s), f, fn)); p += fn) hits++;
    }
    if (hits == 0 || (fn == tn && memcmp(f, t, fn) == 0)) {
        set_str(out, s, n);
        return 0;
    }
    uint64_t total = n - hits * fn + hits * tn;
    if (total > UINT32_MAX) return fail(ctx->err, ctx->errlen, "REPLACE: result longer than 4 GiB");
    unsigned char *r = sl_arena_alloc(ctx->arena, total ? (size_t)total : 1);
    if (!r) return fail(ctx->err, ctx->errlen, "REPLACE: out of memory");
    size_t w = 0, i = 0;
    if (fn == 0) {
        for (;;) {
            memcpy(r + w, t, tn);
            w += tn;
            if (i == n) break;
            size_t j = cp_end(s, n, i);
            memcpy(r + w, s + i, j - i);
            w += j - i;
            i = j;
        }
    } else {
        const unsigned char *p;
        while ((p = find(s + i, n - i, f, fn))) {
            size_t at = (size_t)(p - s);
            memcpy(r + w, s + i, at - i);
            w += at - i;
            memcpy(r + w, t, tn);
            w += tn;
            i = at + fn;
        }
        memcpy(r + w, s + i, n - i);
        w += n - i;
    }
    assert(w == total);
    set_str(out, r, w);
    return 0;
}

/* COUNT_CHAR(s, c): how many times c occurs in s (non-overlapping; c is meant to be one
 * character, Nexmark's UDF, but a longer c is counted as a substring). 0 for an empty c. */
static void fn_count_char(const sl_value_t *a, sl_value_t *out) {
    const unsigned char *s = str_p(&a[0]), *c = str_p(&a[1]);
    size_t n = a[0].u.s.n, cn = a[1].u.s.n;
    int64_t count = 0;
    if (cn == 1) {
        for (const unsigned char *p = s, *end = s + n; (p = memchr(p, c[0], (size_t)(end - p))); p++)
            count++;
    } else if (cn > 1) {
        for (const unsigned char *p = s; (p = find(p, n - (size_t)(p - s), c, cn)); p += cn) count++;
    }
    set_int(out, count);
}

/* ---- REGEXP_EXTRACT --------------------------------------------------------------------- */

typedef struct rx_state {
    int constant;              /* the regex was given once and compiled in prepare */
    pcre2_code *code;          /* NULL until a regex compiled (or for a constant NULL regex) */
    pcre2_match_data *md;
    int jit;
    uint32_t groups;           /* capture groups the regex defines */
    pat_key_t key;             /* per-row regexes: the one code was compiled from */
} rx_state_t;

static void rx_clear(rx_state_t *st) {
    pcre2_match_data_free(st->md);
    pcre2_code_free(st->code);
    st->md = NULL;
    st->code = NULL;
}

static int rx_compile(rx_state_t *st, const unsigned char *p, size_t n, char *err, size_t errlen) {
    rx_clear(st);
    int code;
    PCRE2_SIZE off;
    st->code = pcre2_compile((PCRE2_SPTR)p, n, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
    if (!st->code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0) strcpy((char *)msg, "unknown error");
        return fail(err, errlen, "REGEXP_EXTRACT: invalid regular expression at offset %zu: %s",
                    (size_t)off, (const char *)msg);
    }
    st->jit = pcre2_jit_compile(st->code, PCRE2_JIT_COMPLETE) == 0;
    st->md = pcre2_match_data_create_from_pattern(st->code, NULL);
    if (!st->md) {
        rx_clear(st);
        return fail(err, errlen, "REGEXP_EXTRACT: out of memory");
    }
    pcre2_pattern_info(st->code, PCRE2_INFO_CAPTURECOUNT, &st->groups);
    return 0;
}

/* REGEXP_EXTRACT(s, regex [, group]): the group (default 0, the whole match: Flink's
 * SqlFunctionUtils.regexpExtract) of the first match; NULL when nothing matches, when the group
 * did not take part in the match, or when it is negative or beyond the regex's groups. */
static int fn_regexp_extract(sl_fn_ctx_t *ctx, const sl_value_t *a, int nargs, sl_value_t *out) {
    rx_state_t *st = ctx->state;
    assert(st);
    const unsigned char *s = str_p(&a[0]);
    if (!st->constant && !key_same(&st->key, str_p(&a[1]), a[1].u.s.n)) {
        st->key.valid = 0;
        if (rx_compile(st, str_p(&a[1]), a[1].u.s.n, ctx->err, ctx->errlen) < 0) return -1;
        if (key_set(&st->key, str_p(&a[1]), a[1].u.s.n) < 0)
            return fail(ctx->err, ctx->errlen, "REGEXP_EXTRACT: out of memory");
    }
    assert(st->code && st->md);
    int64_t g = nargs > 2 ? a[2].u.i : 0;
    if (g < 0 || g > (int64_t)st->groups) {
        set_null(out);
        return 0;
    }
    int rc = st->jit ? pcre2_jit_match(st->code, s, a[0].u.s.n, 0, 0, st->md, NULL)
                     : pcre2_match(st->code, s, a[0].u.s.n, 0, 0, st->md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && rc != PCRE2_ERROR_PARTIAL) {
        /* a resource limit (backtracking, depth, heap): Flink would have an answer, so the NULL
         * is counted (the query's limit_nulls) instead of passing for "no match" */
        ctx->limit_nulls++;
        set_null(out);
        return 0;
    }
    if (rc <= 0 || g >= rc) {             /* no match, or the group is unset */
        set_null(out);
        return 0;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
    if (ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] < ov[2 * g]) {   /* unset; \K oddities */
        set_null(out);
        return 0;
    }
    set_str(out, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    return 0;
}

/* ---- LIKE ------------------------------------------------------------------------------- */

/* A LIKE pattern is compiled into segments, the pieces between its '%'s. Without a '%' there is
 * one segment that must span the whole string. With one, the first segment is anchored at the
 * start, the last at the end, and those between match at their leftmost place, which is
 * optimal because a segment always spans the same number of characters:
 *
 *   'ab_c%x%_yz'  ->  [lit "ab", skip 1, lit "c"] % [lit "x"] % [skip 1, lit "yz"]
 */
typedef struct like_piece {
    uint32_t off, len;         /* len > 0: the literal bytes lit[off, off + len) */
    uint32_t skip;             /* len == 0: that many characters, whatever they are ('_') */
} like_piece_t;

typedef struct like_seg {
    uint32_t first, count;     /* pieces[first, first + count) */
    uint32_t chars;            /* how many characters a match of the segment spans */
} like_seg_t;

typedef struct like_state {
    int constant;              /* pattern and escape given once, compiled in prepare */
    int compiled;
    pat_key_t kpat, kesc;      /* per-row patterns: what the segments were compiled from */
    like_piece_t *pieces;
    size_t piececap, npieces;
    like_seg_t *segs;
    size_t segcap, nsegs;
    unsigned char *lit;
    size_t litcap, litlen;
    int star;                  /* the pattern has a '%' */
} like_state_t;

static void like_add(like_state_t *st, const unsigned char *c, size_t len) {
    like_seg_t *seg = &st->segs[st->nsegs - 1];
    like_piece_t *last = seg->count ? &st->pieces[st->npieces - 1] : NULL;
    if (c) {
        if (last && last->len && last->off + last->len == st->litlen) {
            last->len += (uint32_t)len;
        } else {
            st->pieces[st->npieces++] = (like_piece_t){(uint32_t)st->litlen, (uint32_t)len, 0};
            seg->count++;
        }
        memcpy(st->lit + st->litlen, c, len);
        st->litlen += len;
    } else if (last && !last->len) {
        last->skip++;
    } else {
        st->pieces[st->npieces++] = (like_piece_t){0, 0, 1};
        seg->count++;
    }
    seg->chars++;
}

/* Compiles pattern p (with escape e, en = 0 for none) into st. */
static int like_compile(like_state_t *st, const unsigned char *p, size_t pn, const unsigned char *e,
                        size_t en, int has_esc, char *err, size_t errlen) {
    st->compiled = 0;
    if (has_esc && (en == 0 || cp_end(e, en, 0) != en))
        return fail(err, errlen, "LIKE: the escape must be one character, got '%.*s'", SHOWN(en),
                    (const char *)e);
    if (pn > UINT32_MAX) return fail(err, errlen, "LIKE: pattern too long");
    if (grow(&st->pieces, &st->piececap, pn + 1, sizeof(like_piece_t)) < 0 ||
        grow(&st->segs, &st->segcap, pn + 1, sizeof(like_seg_t)) < 0 ||
        grow(&st->lit, &st->litcap, pn + 1, 1) < 0)
        return fail(err, errlen, "LIKE: out of memory");
    st->npieces = st->litlen = 0;
    st->nsegs = 1;
    st->segs[0] = (like_seg_t){0, 0, 0};
    st->star = 0;
    for (size_t i = 0; i < pn;) {
        size_t j = cp_end(p, pn, i);
        if (en && j - i == en && memcmp(p + i, e, en) == 0) {
            if (j == pn) return fail(err, errlen, "LIKE: the pattern ends with the escape character");
            size_t k = cp_end(p, pn, j);
            if (!((k - j == 1 && (p[j] == '%' || p[j] == '_')) ||
                  (k - j == en && memcmp(p + j, e, en) == 0)))
                return fail(err, errlen,
                            "LIKE: invalid escape sequence at offset %zu of the pattern; the escape "
                            "may only precede %%, _ or itself", i);
            like_add(st, p + j, k - j);
            i = k;
        } else if (p[i] == '%') {
            st->star = 1;
            st->segs[st->nsegs++] = (like_seg_t){(uint32_t)st->npieces, 0, 0};
            i = j;
        } else {
            like_add(st, p[i] == '_' ? NULL : p + i, j - i);
            i = j;
        }
    }
    st->compiled = 1;
    return 0;
}

/* Matches segment g at s[pos..n); returns where the match ends, or -1. */
static int64_t like_seg_at(const like_state_t *st, const like_seg_t *g, const unsigned char *s,
                           size_t n, size_t pos) {
    for (uint32_t i = 0; i < g->count; i++) {
        const like_piece_t *pc = &st->pieces[g->first + i];
        if (pc->len) {
            if (n - pos < pc->len || memcmp(s + pos, st->lit + pc->off, pc->len) != 0) return -1;
            pos += pc->len;
        } else {
            uint64_t left;
            pos = cp_skip(s, n, pos, pc->skip, &left);
            if (left) return -1;
        }
    }
    return (int64_t)pos;
}

/* The leftmost match of segment g in s[*pos..n); moves *pos past it. */
static int like_seg_find(const like_state_t *st, const like_seg_t *g, const unsigned char *s,
                         size_t n, size_t *pos) {
    const like_piece_t *first = &st->pieces[g->first];
    size_t at = *pos;
    while (at <= n) {
        if (first->len) {
            const unsigned char *hit = find(s + at, n - at, st->lit + first->off, first->len);
            if (!hit) return 0;
            at = (size_t)(hit - s);
        }
        int64_t end = like_seg_at(st, g, s, n, at);
        if (end >= 0) {
            *pos = (size_t)end;
            return 1;
        }
        if (at == n) return 0;
        at = first->len ? at + 1 : cp_end(s, n, at);
    }
    return 0;
}

static int like_match(const like_state_t *st, const unsigned char *s, size_t n) {
    assert(st->compiled && st->nsegs >= 1);
    const like_seg_t *head = &st->segs[0];
    if (!st->star) return like_seg_at(st, head, s, n, 0) == (int64_t)n;
    int64_t p = like_seg_at(st, head, s, n, 0);
    if (p < 0) return 0;
    const like_seg_t *tail = &st->segs[st->nsegs - 1];
    size_t limit = n;
    if (tail->count) {
        size_t q = n;
        for (uint32_t k = 0; k < tail->chars; k++) {
            if (q == 0) return 0;
            q--;
            while (q > 0 && is_cont(s[q])) q--;
        }
        if (q < (size_t)p || like_seg_at(st, tail, s, n, q) != (int64_t)n) return 0;
        limit = q;
    }
    size_t pos = (size_t)p;
    for (size_t i = 1; i + 1 < st->nsegs; i++) {
        if (st->segs[i].count && !like_seg_find(st, &st->segs[i], s, limit, &pos)) return 0;
    }
    return 1;
}

static void like_free(like_state_t *st) {
    free(st->pieces);
    free(st->segs);
    free(st->lit);
    free(st->kpat.p);
    free(st->kesc.p);
    free(st);
}

static int fn_like(sl_fn_ctx_t *ctx, const sl_value_t *a, int nargs, sl_value_t *out) {
    like_state_t *st = ctx->state;
    assert(st);
    const unsigned char *p = str_p(&a[1]), *e = nargs > 2 ? str_p(&a[2]) : NULL;
    size_t pn = a[1].u.s.n, en = nargs > 2 ? a[2].u.s.n : 0;
    if (!st->constant &&
        !(st->compiled && key_same(&st->kpat, p, pn) && key_same(&st->kesc, e ? e : p, en))) {
        if (like_compile(st, p, pn, e, en, nargs > 2, ctx->err, ctx->errlen) < 0) return -1;
        if (key_set(&st->kpat, p, pn) < 0 || key_set(&st->kesc, e ? e : p, en) < 0) {
            st->compiled = 0;
            return fail(ctx->err, ctx->errlen, "LIKE: out of memory");
        }
    }
    set_int(out, like_match(st, str_p(&a[0]), a[0].u.s.n));
    return 0;
}

/* ---- numbers ---------------------------------------------------------------------------- */

static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Rounds x half away from zero at 10^-d by the decimal digits of its shortest representation,
 * as Flink does (BigDecimal.valueOf(x), i.e. Double.toString, then HALF_UP): ROUND(2.675, 2)
 * is 2.68 although the double 2.675 lies a hair below it. */
static double round_decimal(double x, int64_t d) {
    char buf[40], dg[24];
    int nd = 0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    const char *q = buf;
    int neg = *q == '-';
    if (neg) q++;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') dg[nd++] = *q;
    assert(*q == 'e' && nd > 0);
    int e10 = atoi(q + 1);                 /* x = d0.d1d2... * 10^e10 */
    int64_t keep = e10 + d + 1;            /* digits at or above 10^-d */
    if (keep >= nd) return x;
    if (keep < 0 || (keep == 0 && dg[0] < '5')) return 0.0;
    if (keep == 0) {
        snprintf(buf, sizeof(buf), "%s1e%d", neg ? "-" : "", e10 + 1);
        return strtod(buf, NULL);
    }
    int i = (int)keep - 1;
    if (dg[keep] >= '5') {
        while (i >= 0 && dg[i] == '9') dg[i--] = '0';
        if (i < 0) {
            snprintf(buf, sizeof(buf), "%s1e%d", neg ? "-" : "", e10 + 1);
            return strtod(buf, NULL);
        }
        dg[i]++;
    }
    snprintf(buf, sizeof(buf), "%s%c.%.*se%d", neg ? "-" : "", dg[0], (int)keep - 1, dg + 1, e10);
    double r = strtod(buf, NULL);
    return r == 0 ? 0.0 : r;
}

static double round_double(double x, int64_t d) {
    if (!isfinite(x) || x == 0) return x;
    if (d > 400) return x;
    if (d < -400) return 0.0;
    if (d >= 0 && d <= 22) {
        /* Fast path: x * 10^d is exact enough to see which way to round unless it is within
         * 2^-10 of a tie; only near-ties need the decimal digits. */
        double p = P10[d], y = x * p;
        if (fabs(y) < 0x1p40) {
            double t = trunc(y), f = fabs(y - t);
            if (fabs(f - 0.5) > 0x1p-10) {
                double r = f > 0.5 ? t + copysign(1.0, y) : t;
                return r == 0 ? 0.0 : r / p;
            }
        }
    }
    return round_decimal(x, d);
}

/* ROUND of a BIGINT to 10^-d: unchanged for d >= 0, else half away from zero; NULL (returns -1)
 * when the result does not fit. */
static int round_bigint(int64_t x, int64_t d, int64_t *r) {
    if (d >= 0) {
        *r = x;
        return 0;
    }
    if (d < -19) {
        *r = 0;
        return 0;
    }
    if (d == -19) {                        /* 10^19 > INT64_MAX: 0, or a result that overflows */
        if (x > -5000000000000000000 && x < 5000000000000000000) {
            *r = 0;
            return 0;
        }
        return -1;
    }
    int64_t p = (int64_t)P10[-d], q = x / p, rem = x % p;
    if (rem < 0) rem = -rem;
    if (rem >= p - rem) q += x < 0 ? -1 : 1;
    return __builtin_mul_overflow(q, p, r) ? -1 : 0;
}

static int fn_numeric(sl_fn_t id, sl_fn_ctx_t *ctx, const sl_value_t *a, int nargs, sl_value_t *out) {
    int dbl = num_is_double(ctx);
    switch (id) {
    case SL_FN_MOD:
        if (dbl) {
            if (a[1].u.d == 0) set_null(out);
            else set_dbl(out, fmod(a[0].u.d, a[1].u.d));
        } else {
            if (a[1].u.i == 0) set_null(out);
            else set_int(out, a[1].u.i == -1 ? 0 : a[0].u.i % a[1].u.i);
        }
        return 0;
    case SL_FN_ABS:
        if (dbl) set_dbl(out, fabs(a[0].u.d));
        else set_int(out, a[0].u.i < 0 ? (int64_t)(0 - (uint64_t)a[0].u.i) : a[0].u.i);
        return 0;
    case SL_FN_ROUND: {
        int64_t d = nargs > 1 ? a[1].u.i : 0, r;
        if (dbl) set_dbl(out, round_double(a[0].u.d, d));
        else if (round_bigint(a[0].u.i, d, &r) < 0) set_null(out);
        else set_int(out, r);
        return 0;
    }
    case SL_FN_FLOOR:
        if (dbl) set_dbl(out, floor(a[0].u.d));
        else set_int(out, a[0].u.i);
        return 0;
    case SL_FN_CEIL:
        if (dbl) set_dbl(out, ceil(a[0].u.d));
        else set_int(out, a[0].u.i);
        return 0;
    default: break;
    }
    assert(!"not a numeric function");
    return -1;
}

/* ---- time ------------------------------------------------------------------------------- */

static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static inline int64_t floor_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

static inline int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* A UTC instant split into its calendar fields. */
typedef struct civil {
    int64_t days;              /* since 1970-01-01 */
    int64_t year;
    int month, day;            /* 1-based */
    int ms_of_day;
} civil_t;

static void civil_from_ms(int64_t ms, civil_t *c) {
    c->days = floor_div(ms, 86400000);
    c->ms_of_day = (int)floor_mod(ms, 86400000);
    sl_civil_from_days(c->days, &c->year, &c->month, &c->day);
}

static int day_of_year(const civil_t *c) {
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    return before[c->month - 1] + c->day + (c->month > 2 && is_leap(c->year));
}

/* 1 = Monday .. 7 = Sunday (1970-01-01 was a Thursday). */
static inline int iso_dow(int64_t days) { return (int)floor_mod(days + 3, 7) + 1; }

/* ISO 8601 weeks in year y: 53 when it starts on a Thursday, or is a leap year starting on a
 * Wednesday (p(y) is the weekday of December 31). */
static int iso_weeks(int64_t y) {
#define P(y) floor_mod((y) + floor_div((y), 4) - floor_div((y), 100) + floor_div((y), 400), 7)
    return 52 + (P(y) == 4 || P(y - 1) == 3);
#undef P
}

static int iso_week(const civil_t *c, int64_t *week_year) {
    int w = (day_of_year(c) - iso_dow(c->days) + 10) / 7;
    *week_year = c->year;
    if (w < 1) {
        *week_year = c->year - 1;
        return iso_weeks(c->year - 1);
    }
    if (w > iso_weeks(c->year)) {
        *week_year = c->year + 1;
        return 1;
    }
    return w;
}

typedef enum unit {
    U_YEAR, U_QUARTER, U_MONTH, U_WEEK, U_DAY, U_DOY, U_DOW, U_ISODOW, U_ISOYEAR, U_HOUR, U_MINUTE,
    U_SECOND, U_MILLISECOND, U_MICROSECOND, U_EPOCH, U_DECADE, U_CENTURY, U_MILLENNIUM,
} unit_t;

static const struct unit_name {
    const char *name;
    unit_t unit;
} UNITS[] = {
    {"YEAR", U_YEAR},       {"QUARTER", U_QUARTER},         {"MONTH", U_MONTH},
    {"WEEK", U_WEEK},       {"DAY", U_DAY},                 {"DOY", U_DOY},
    {"DOW", U_DOW},         {"ISODOW", U_ISODOW},           {"ISOYEAR", U_ISOYEAR},
    {"HOUR", U_HOUR},       {"MINUTE", U_MINUTE},           {"SECOND", U_SECOND},
    {"MILLISECOND", U_MILLISECOND}, {"MICROSECOND", U_MICROSECOND}, {"EPOCH", U_EPOCH},
    {"DECADE", U_DECADE},   {"CENTURY", U_CENTURY},         {"MILLENNIUM", U_MILLENNIUM},
};
#define UNIT_LIST "YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, ISODOW, ISOYEAR, HOUR, MINUTE, " \
                  "SECOND, MILLISECOND, MICROSECOND, EPOCH, DECADE, CENTURY or MILLENNIUM"

static const struct unit_name *unit_find(const sl_value_t *v) {
    for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]); i++)
        if (word_is(str_p(v), v->u.s.n, UNITS[i].name)) return &UNITS[i];
    return NULL;
}

/* EXTRACT(unit FROM ts) over UTC. Fields are floor-based, so they stay in range before 1970
 * too (Flink's Java '%' gives negative hours there); EPOCH truncates toward zero as Flink's
 * `utcTs / 1000`; MILLISECOND is the millisecond of the second, 0..999, as Flink's
 * DateTimeUtils (not Calcite's seconds * 1000 + ms); DOW is 1 = Sunday .. 7 = Saturday. */
static int64_t extract(unit_t u, int64_t ms) {
    switch (u) {
    case U_HOUR: return floor_mod(ms, 86400000) / 3600000;
    case U_MINUTE: return floor_mod(ms, 3600000) / 60000;
    case U_SECOND: return floor_mod(ms, 60000) / 1000;
    case U_MILLISECOND: return floor_mod(ms, 1000);
    case U_MICROSECOND: return floor_mod(ms, 1000) * 1000;
    case U_EPOCH: return ms / 1000;
    case U_DOW: return floor_mod(floor_div(ms, 86400000) + 4, 7) + 1;
    case U_ISODOW: return iso_dow(floor_div(ms, 86400000));
    default: break;
    }
    civil_t c;
    civil_from_ms(ms, &c);
    int64_t wy;
    switch (u) {
    case U_YEAR: return c.year;
    case U_QUARTER: return (c.month + 2) / 3;
    case U_MONTH: return c.month;
    case U_DAY: return c.day;
    case U_DOY: return day_of_year(&c);
    case U_WEEK: return iso_week(&c, &wy);
    case U_ISOYEAR: iso_week(&c, &wy); return wy;
    case U_DECADE: return c.year / 10;
    case U_CENTURY: return c.year > 0 ? (c.year + 99) / 100 : (c.year - 99) / 100;
    case U_MILLENNIUM: return c.year > 0 ? (c.year + 999) / 1000 : (c.year - 999) / 1000;
    default: break;
    }
    assert(!"unit handled above");
    return 0;
}

/* TO_TIMESTAMP(s): RFC 3339 ('2015-07-15T00:00:00Z', '...+02:00'), or 'yyyy-MM-dd',
 * 'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd HH:mm:ss[.fff]' read as UTC; NULL if it is none of these. */
static int parse_timestamp(const char *s, size_t n, int64_t *ms) {
    if (sl_parse_rfc3339(s, n, ms) == 0) return 0;
    static const char *const tails[] = {[10] = " 00:00:00Z", [16] = ":00Z"};
    const char *tail = n == 10 || n == 16 ? tails[n] : "Z";
    char buf[64];
    size_t tn = strlen(tail);
    if (n < 10 || n + tn > sizeof(buf)) return -1;
    memcpy(buf, s, n);
    memcpy(buf + n, tail, tn);
    return sl_parse_rfc3339(buf, n + tn, ms);
}

/* ---- DATE_FORMAT ------------------------------------------------------------------------ */

/* A DATE_FORMAT pattern is parsed into ops: literal text, or a field with its letter count.
 * Letters follow java.time.DateTimeFormatter (which Flink's DATE_FORMAT uses): y/u year (yy: two
 * digits), M/L month (M, MM, MMM Jul, MMMM July, MMMMM J), d day, D day of year, H hour 0-23,
 * h 1-12, k 1-24, K 0-11, m minute, s second, S fraction of the second (SSS milliseconds),
 * E weekday (EEE Wed, EEEE Wednesday), a AM/PM; 'text' quotes, '' is a quote. All UTC. */
typedef enum df_kind {
    DF_LIT, DF_YEAR, DF_YEAR2, DF_MONTH, DF_MONTH_TEXT, DF_DAY, DF_DOY, DF_HOUR, DF_HOUR12,
    DF_HOUR24, DF_HOUR11, DF_MINUTE, DF_SECOND, DF_FRACTION, DF_WEEKDAY, DF_AMPM,
} df_kind_t;

typedef struct df_op {
    uint8_t kind, width;       /* width: letter count (text fields: 3 short, 4 full, 5 narrow) */
    uint32_t off, len;         /* DF_LIT: lit[off, off + len) */
} df_op_t;

typedef struct df_state {
    int constant;
    int compiled;
    pat_key_t key;
    df_op_t *ops;
    size_t opcap, nops;
    char *lit;
    size_t litcap, litlen;
    size_t maxout;             /* bytes a formatted value can take */
} df_state_t;

static const char *const MONTHS[12] = {"January", "February", "March",     "April",
                                       "May",     "June",     "July",      "August",
                                       "September", "October", "November", "December"};
static const char *const WEEKDAYS[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

static void df_lit(df_state_t *st, const char *p, size_t n) {
    df_op_t *last = st->nops ? &st->ops[st->nops - 1] : NULL;
    if (last && last->kind == DF_LIT && last->off + last->len == st->litlen) {
        last->len += (uint32_t)n;
    } else {
        st->ops[st->nops++] = (df_op_t){DF_LIT, 0, (uint32_t)st->litlen, (uint32_t)n};
    }
    memcpy(st->lit + st->litlen, p, n);
    st->litlen += n;
    st->maxout += n;
}

static int df_compile(df_state_t *st, const char *p, size_t n, char *err, size_t errlen) {
    st->compiled = 0;
    if (n > 4096) return fail(err, errlen, "DATE_FORMAT: pattern longer than 4096 bytes");
    if (grow(&st->ops, &st->opcap, n + 1, sizeof(df_op_t)) < 0 ||
        grow(&st->lit, &st->litcap, n + 1, 1) < 0)
        return fail(err, errlen, "DATE_FORMAT: out of memory");
    st->nops = st->litlen = st->maxout = 0;
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c == '\'') {
            if (i + 1 < n && p[i + 1] == '\'') {
                df_lit(st, "'", 1);
                i += 2;
                continue;
            }
            size_t j = i + 1;
            for (;;) {
                if (j >= n)
                    return fail(err, errlen,
                                "DATE_FORMAT: unterminated quote at offset %zu of the pattern", i);
                if (p[j] == '\'') {
                    if (j + 1 < n && p[j + 1] == '\'') {
                        df_lit(st, "'", 1);
                        j += 2;
                        continue;
                    }
                    break;
                }
                df_lit(st, p + j, 1);
                j++;
            }
            i = j + 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            df_lit(st, p + i, 1);
            i++;
            continue;
        }
        size_t k = 1;
        while (i + k < n && p[i + k] == c) k++;
        int kind, max = 2;
        switch (c) {
        case 'y': case 'u': kind = k == 2 ? DF_YEAR2 : DF_YEAR; max = 9; break;
        case 'M': case 'L': kind = k <= 2 ? DF_MONTH : DF_MONTH_TEXT; max = 5; break;
        case 'd': kind = DF_DAY; break;
        case 'D': kind = DF_DOY; max = 3; break;
        case 'H': kind = DF_HOUR; break;
        case 'h': kind = DF_HOUR12; break;
        case 'k': kind = DF_HOUR24; break;
        case 'K': kind = DF_HOUR11; break;
        case 'm': kind = DF_MINUTE; break;
        case 's': kind = DF_SECOND; break;
        case 'S': kind = DF_FRACTION; max = 9; break;
        case 'E': kind = DF_WEEKDAY; max = 5; break;
        case 'a': kind = DF_AMPM; max = 1; break;
        default:
            return fail(err, errlen, "DATE_FORMAT: unsupported pattern letter '%c' at offset %zu",
                        c, i);
        }
        if (k > (size_t)max)
            return fail(err, errlen, "DATE_FORMAT: too many '%c' letters at offset %zu (at most %d)",
                        c, i, max);
        uint8_t width = (uint8_t)k;
        if (kind == DF_WEEKDAY && k < 3) width = 3;
        st->ops[st->nops++] = (df_op_t){(uint8_t)kind, width, 0, 0};
        st->maxout += 24;                  /* a sign and 20 digits, or a name of up to 9 bytes */
        i += k;
    }
    st->compiled = 1;
    return 0;
}

/* Writes v in decimal, zero-padded to width digits. */
static char *put_num(char *w, int64_t v, int width) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *w++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n < width) tmp[n++] = '0';
    while (n) *w++ = tmp[--n];
    return w;
}

static char *put_text(char *w, const char *name, int width) {
    size_t n = width == 3 ? 3 : width == 5 ? 1 : strlen(name);
    memcpy(w, name, n);
    return w + n;
}

static size_t df_format(const df_state_t *st, int64_t ms, char *out) {
    civil_t c;
    civil_from_ms(ms, &c);
    int hour = c.ms_of_day / 3600000, msec = c.ms_of_day % 1000;
    char *w = out;
    for (size_t i = 0; i < st->nops; i++) {
        const df_op_t *op = &st->ops[i];
        switch ((df_kind_t)op->kind) {
        case DF_LIT: memcpy(w, st->lit + op->off, op->len); w += op->len; break;
        case DF_YEAR: w = put_num(w, c.year, op->width); break;
        case DF_YEAR2: w = put_num(w, floor_mod(c.year, 100), 2); break;
        case DF_MONTH: w = put_num(w, c.month, op->width); break;
        case DF_MONTH_TEXT: w = put_text(w, MONTHS[c.month - 1], op->width); break;
        case DF_DAY: w = put_num(w, c.day, op->width); break;
        case DF_DOY: w = put_num(w, day_of_year(&c), op->width); break;
        case DF_HOUR: w = put_num(w, hour, op->width); break;
        case DF_HOUR12: w = put_num(w, hour % 12 ? hour % 12 : 12, op->width); break;
        case DF_HOUR24: w = put_num(w, hour ? hour : 24, op->width); break;
        case DF_HOUR11: w = put_num(w, hour % 12, op->width); break;
        case DF_MINUTE: w = put_num(w, c.ms_of_day / 60000 % 60, op->width); break;
        case DF_SECOND: w = put_num(w, c.ms_of_day / 1000 % 60, op->width); break;
        case DF_FRACTION: {
            char digits[10];
            put_num(digits, (int64_t)msec * 1000000, 9);
            memcpy(w, digits, op->width);
            w += op->width;
            break;
        }
        case DF_WEEKDAY: w = put_text(w, WEEKDAYS[iso_dow(c.days) - 1], op->width); break;
        case DF_AMPM: memcpy(w, hour < 12 ? "AM" : "PM", 2); w += 2; break;
        }
    }
    assert((size_t)(w - out) <= st->maxout);
    return (size_t)(w - out);
}

static void df_free(df_state_t *st) {
    free(st->ops);
    free(st->lit);
    free(st->key.p);
    free(st);
}

static int fn_date_format(sl_fn_ctx_t *ctx, const sl_value_t *a, sl_value_t *out) {
    df_state_t *st = ctx->state;
    assert(st);
    const unsigned char *p = str_p(&a[1]);
    size_t pn = a[1].u.s.n;
    if (!st->constant && !(st->compiled && key_same(&st->key, p, pn))) {
        if (df_compile(st, (const char *)p, pn, ctx->err, ctx->errlen) < 0) return -1;
        if (key_set(&st->key, p, pn) < 0) {
            st->compiled = 0;
            return fail(ctx->err, ctx->errlen, "DATE_FORMAT: out of memory");
        }
    }
    char buf[256], *r;
    size_t n;
    if (st->maxout <= sizeof(buf)) {
        n = df_format(st, a[0].u.i, buf);
        r = sl_arena_alloc(ctx->arena, n ? n : 1);
        if (r) memcpy(r, buf, n);
    } else {
        r = sl_arena_alloc(ctx->arena, st->maxout);
        n = r ? df_format(st, a[0].u.i, r) : 0;
    }
    if (!r) return fail(ctx->err, ctx->errlen, "DATE_FORMAT: out of memory");
    set_str(out, r, n);
    return 0;
}

/* ---- prepare / release / call ----------------------------------------------------------- */

static inline const sl_value_t *const_arg(const sl_value_t *const *consts, int nargs, int i) {
    return consts && i < nargs ? consts[i] : NULL;
}

int sl_fn_prepare(sl_fn_t id, const sl_type_t *argt, const sl_value_t *const *consts, int nargs,
                  void **state, char *err, size_t errlen) {
    assert(id >= 0 && id < SL_FN_COUNT_ && state);
    *state = NULL;
    switch (id) {
    case SL_FN_MOD: case SL_FN_ABS: case SL_FN_ROUND: case SL_FN_FLOOR: case SL_FN_CEIL: {
        int dbl = argt[0] == SL_TYPE_DOUBLE || (id == SL_FN_MOD && argt[1] == SL_TYPE_DOUBLE);
        assert(id != SL_FN_MOD || argt[0] == argt[1] || argt[0] == SL_TYPE_NULL ||
               argt[1] == SL_TYPE_NULL);
        *state = (void *)(dbl ? &NUM_DOUBLE : &NUM_BIGINT);
        return 0;
    }
    case SL_FN_EXTRACT: {
        const sl_value_t *u = const_arg(consts, nargs, 0);
        if (u && !u->null) {
            const struct unit_name *un = unit_find(u);
            if (!un)
                return fail(err, errlen, "EXTRACT: unknown unit '%.*s'; use " UNIT_LIST,
                            SHOWN(u->u.s.n), (const char *)str_p(u));
            *state = (void *)un;
        }
        return 0;
    }
    case SL_FN_TRIM: {
        const sl_value_t *m = const_arg(consts, nargs, 0);
        if (m && !m->null && !trim_mode(m))
            return fail(err, errlen, "TRIM: unknown mode '%.*s'; use BOTH, LEADING or TRAILING",
                        SHOWN(m->u.s.n), (const char *)str_p(m));
        return 0;
    }
    case SL_FN_REGEXP_EXTRACT: {
        rx_state_t *st = calloc(1, sizeof(*st));
        if (!st) return fail(err, errlen, "REGEXP_EXTRACT: out of memory");
        const sl_value_t *re = const_arg(consts, nargs, 1), *g = const_arg(consts, nargs, 2);
        if (re) {
            st->constant = 1;
            if (!re->null) {
                if (rx_compile(st, str_p(re), re->u.s.n, err, errlen) < 0) goto rx_failed;
                if (g && !g->null && (g->u.i < 0 || g->u.i > (int64_t)st->groups)) {
                    fail(err, errlen, "REGEXP_EXTRACT: group %lld does not exist; the regular "
                         "expression has %u group%s (0 is the whole match)", (long long)g->u.i,
                         st->groups, st->groups == 1 ? "" : "s");
                    goto rx_failed;
                }
            }
        }
        *state = st;
        return 0;
    rx_failed:
        rx_clear(st);
        free(st);
        return -1;
    }
    case SL_FN_LIKE: {
        like_state_t *st = calloc(1, sizeof(*st));
        if (!st) return fail(err, errlen, "LIKE: out of memory");
        const sl_value_t *p = const_arg(consts, nargs, 1), *e = const_arg(consts, nargs, 2);
        if (p && (nargs < 3 || e)) {
            st->constant = 1;
            if (!p->null && !(e && e->null) &&
                like_compile(st, str_p(p), p->u.s.n, e ? str_p(e) : NULL, e ? e->u.s.n : 0, e != NULL,
                             err, errlen) < 0) {
                like_free(st);
                return -1;
            }
        }
        *state = st;
        return 0;
    }
    case SL_FN_DATE_FORMAT: {
        df_state_t *st = calloc(1, sizeof(*st));
        if (!st) return fail(err, errlen, "DATE_FORMAT: out of memory");
        const sl_value_t *p = const_arg(consts, nargs, 1);
        if (p) {
            st->constant = 1;
            if (!p->null && df_compile(st, (const char *)str_p(p), p->u.s.n, err, errlen) < 0) {
                df_free(st);
                return -1;
            }
        }
        *state = st;
        return 0;
    }
    default:
        return 0;
    }
}

void sl_fn_release(sl_fn_t id, void *state) {
    if (!state) return;
    switch (id) {
    case SL_FN_REGEXP_EXTRACT:
        rx_clear(state);
        free(((rx_state_t *)state)->key.p);
        free(state);
        break;
    case SL_FN_LIKE: like_free(state); break;
    case SL_FN_DATE_FORMAT: df_free(state); break;
    default: break;                        /* static tags (numeric type, EXTRACT unit) */
    }
}

int sl_fn_call(sl_fn_t id, sl_fn_ctx_t *ctx, const sl_value_t *args, int nargs, sl_value_t *out) {
    assert(id >= 0 && id < SL_FN_COUNT_ && ctx && out && (nargs == 0 || args));
    for (int i = 0; i < nargs; i++) {
        if (args[i].null) {                /* every function here is NULL in, NULL out */
            set_null(out);
            return 0;
        }
    }
    switch (id) {
    case SL_FN_LOWER: return fn_case(ctx, &args[0], 0, out);
    case SL_FN_UPPER: return fn_case(ctx, &args[0], 1, out);
    case SL_FN_CHAR_LENGTH:
        set_int(out, (int64_t)cp_count(str_p(&args[0]), args[0].u.s.n));
        return 0;
    case SL_FN_SUBSTRING: return fn_substring(args, nargs, out);
    case SL_FN_TRIM: return fn_trim(ctx, args, out);
    case SL_FN_CONCAT: return fn_concat(ctx, args, nargs, out);
    case SL_FN_SPLIT_INDEX: fn_split_index(args, out); return 0;
    case SL_FN_REGEXP_EXTRACT: return fn_regexp_extract(ctx, args, nargs, out);
    case SL_FN_LIKE: return fn_like(ctx, args, nargs, out);
    case SL_FN_MOD: case SL_FN_ABS: case SL_FN_ROUND: case SL_FN_FLOOR: case SL_FN_CEIL:
        return fn_numeric(id, ctx, args, nargs, out);
    case SL_FN_EXTRACT: {
        const struct unit_name *un = ctx->state ? ctx->state : unit_find(&args[0]);
        if (!un)
            return fail(ctx->err, ctx->errlen, "EXTRACT: unknown unit '%.*s'; use " UNIT_LIST,
                        SHOWN(args[0].u.s.n), (const char *)str_p(&args[0]));
        set_int(out, extract(un->unit, args[1].u.i));
        return 0;
    }
    case SL_FN_YEAR: set_int(out, extract(U_YEAR, args[0].u.i)); return 0;
    case SL_FN_MONTH: set_int(out, extract(U_MONTH, args[0].u.i)); return 0;
    case SL_FN_DAYOFMONTH: set_int(out, extract(U_DAY, args[0].u.i)); return 0;
    case SL_FN_HOUR: set_int(out, extract(U_HOUR, args[0].u.i)); return 0;
    case SL_FN_MINUTE: set_int(out, extract(U_MINUTE, args[0].u.i)); return 0;
    case SL_FN_SECOND: set_int(out, extract(U_SECOND, args[0].u.i)); return 0;
    case SL_FN_DATE_FORMAT: return fn_date_format(ctx, args, out);
    case SL_FN_CURRENT_TIMESTAMP:
    case SL_FN_PROCTIME: set_int(out, ctx->now_ms); return 0;
    case SL_FN_COUNT_CHAR: fn_count_char(args, out); return 0;
    case SL_FN_POSITION: fn_position(args, out); return 0;
    case SL_FN_REPLACE: return fn_replace(ctx, args, out);
    case SL_FN_POWER: set_dbl(out, pow(args[0].u.d, args[1].u.d)); return 0;
    case SL_FN_SQRT:
        if (args[0].u.d < 0) set_null(out);
        else set_dbl(out, sqrt(args[0].u.d));
        return 0;
    case SL_FN_TO_TIMESTAMP: {
        int64_t ms;
        if (parse_timestamp((const char *)str_p(&args[0]), args[0].u.s.n, &ms) < 0) set_null(out);
        else set_int(out, ms);
        return 0;
    }
    case SL_FN_COUNT_: break;
    }
    assert(!"unknown function id");
    return fail(ctx->err, ctx->errlen, "unknown function id %d", (int)id);
}
