/* sl_sql_parse(): the SQL front end's driver, and the AST builders the grammar's actions call
 * (parse_int.h). The driver copies the input into the arena (NUL-terminated for re2c), lexes it
 * (lexer.re), cuts it into statements at ';', pushes each statement's tokens through a fresh
 * lemon parser (grammar.y), then checks the finished tree's depth and records its text.
 *
 * Literal conventions (ast.h leaves these to the parser):
 *   digits        BIGINT if the value fits an int64, else DOUBLE (-9223372036854775808 is BIGINT);
 *   1.5, 1e3, .5  DOUBLE; a literal beyond DOUBLE's range is an error;
 *   -<literal>    folded: the literal negated (numbers and INTERVALs), starting at the '-';
 *   INTERVAL      milliseconds, day-time units only (DAY, HOUR, MINUTE, SECOND, plurals too);
 *   TIMESTAMP     'yyyy-MM-dd[ HH:mm[:ss[.fffffffff]]]' as epoch milliseconds UTC (truncated).
 * Depth: sl__sql_enter bounds the brackets, CASEs and prefix operators open while parsing (that
 * bounds lemon's stack); check_depth bounds the finished tree, where long operator chains
 * (a + b + c ...) nest too. Both report "expression nested too deeply ... (SL_SQL_MAX_DEPTH)". */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grammar.h"
#include "core/clock.h"
#include "sql/parse_int.h"

/* ---- errors and memory --------------------------------------------------------------------- */

void sl__sql_errorf(sl__sql_ctx_t *ctx, sl_pos_t pos, const char *fmt, ...) {
    if (ctx->failed) return;
    ctx->failed = 1;
    ctx->err->pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err->message, sizeof(ctx->err->message), fmt, ap);
    va_end(ap);
}

static void fail_oom(sl__sql_ctx_t *ctx) { sl__sql_errorf(ctx, ctx->pos, "out of memory while parsing SQL"); }

/* At most 40 bytes of p[0..n) for a message: cut at a character boundary (then "..."), control
 * bytes shown as spaces. out must hold 48 bytes. */
static void excerpt(const char *p, size_t n, char *out) {
    size_t k = n;
    if (k > 40) {
        k = 40;
        while (k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80) k--;
    }
    for (size_t i = 0; i < k; i++) out[i] = (unsigned char)p[i] < 0x20 ? ' ' : p[i];
    if (k < n) memcpy(out + k, "...", 3), k += 3;
    out[k] = 0;
}

void sl__sql_syntax_error(sl__sql_ctx_t *ctx, int major, const sl__sql_tok_t *t) {
    if (major == 0 && t->n == 0) {
        sl__sql_errorf(ctx, t->pos, "syntax error at line %u, column %u: unexpected end of input", t->pos.line,
                       t->pos.col);
        return;
    }
    char x[48];
    excerpt(t->p, t->n, x);
    sl__sql_errorf(ctx, t->pos, "syntax error at line %u, column %u: unexpected %s", t->pos.line, t->pos.col, x);
}

void *sl__sql_alloc(sl__sql_ctx_t *ctx, size_t n) {
    if (ctx->failed) return NULL;
    void *p = sl_arena_zalloc(ctx->a, n);
    if (!p) fail_oom(ctx);
    return p;
}

void *sl__sql_push(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, size_t sz) {
    if (ctx->failed) return NULL;
    if (v->n == v->cap) {
        assert(v->cap < UINT32_MAX / 2);
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        void *nv = sl__sql_alloc(ctx, (size_t)cap * sz);
        if (!nv) return NULL;
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sz);
        v->v = nv;
        v->cap = cap;
    }
    void *slot = (char *)v->v + (size_t)v->n++ * sz;
    memset(slot, 0, sz);
    return slot;
}

void sl__sql_push_ptr(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, void *p) {
    void **slot = sl__sql_push(ctx, v, sizeof(void *));
    if (slot) *slot = p;
}

/* Room for one more element in an arena array of n elements whose capacity n implies (0, 4, 8,
 * 16, ...): the array, moved when it was full, or NULL. */
static void *grow(sl__sql_ctx_t *ctx, void *arr, size_t n, size_t sz) {
    size_t cap = 0;
    if (n) {
        cap = 4;
        while (cap < n) cap *= 2;
    }
    if (n < cap) return arr;
    void *na = sl__sql_alloc(ctx, (cap ? cap * 2 : 4) * sz);
    if (na && n) memcpy(na, arr, n * sz);
    return na;
}

/* ---- nesting ------------------------------------------------------------------------------- */

static void depth_error(sl__sql_ctx_t *ctx, sl_pos_t pos) {
    sl__sql_errorf(ctx, pos,
                   "expression nested too deeply at line %u, column %u: more than %d levels (SL_SQL_MAX_DEPTH); "
                   "split it into smaller expressions or views",
                   pos.line, pos.col, SL_SQL_MAX_DEPTH);
}

void sl__sql_enter(sl__sql_ctx_t *ctx, sl_pos_t pos) {
    if (ctx->failed) return;
    if (++ctx->depth > SL_SQL_MAX_DEPTH) depth_error(ctx, pos);
}

void sl__sql_leave(sl__sql_ctx_t *ctx) {
    if (ctx->failed) return;
    assert(ctx->depth > 0);
    ctx->depth--;
}

/* ---- token text ---------------------------------------------------------------------------- */

/* Copies p[0..n) dropping one of every doubled quote q; NUL bytes are refused (names and option
 * values are C strings). */
static char *unquote(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t, const char *p, size_t n, char q,
                     uint32_t *len, const char *what) {
    if (ctx->failed) return NULL;
    if (memchr(p, 0, n)) {
        sl__sql_errorf(ctx, t->pos, "syntax error at line %u, column %u: %s contains a NUL byte", t->pos.line,
                       t->pos.col, what);
        return NULL;
    }
    char *out = sl__sql_alloc(ctx, n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = p[i];
        if (p[i] == q) {
            assert(i + 1 < n && p[i + 1] == q); /* the lexer only accepts doubled quotes inside */
            i++;
        }
    }
    out[k] = 0;
    if (len) *len = (uint32_t)k;
    return out;
}

const char *sl__sql_ident(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    if (ctx->failed) return NULL;
    if (t->p[0] == '`' || t->p[0] == '"') {
        assert(t->n > 2 && t->p[t->n - 1] == t->p[0]);
        return unquote(ctx, t, t->p + 1, t->n - 2, t->p[0], NULL, "a quoted identifier");
    }
    return unquote(ctx, t, t->p, t->n, 0, NULL, "an identifier");
}

const char *sl__sql_string(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t, uint32_t *n) {
    *n = 0;
    if (ctx->failed) return NULL;
    assert(t->n >= 2 && t->p[0] == '\'' && t->p[t->n - 1] == '\'');
    return unquote(ctx, t, t->p + 1, t->n - 2, '\'', n, "a string literal");
}

const char *sl__sql_text(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    if (ctx->failed) return NULL;
    char *s = sl_arena_strndup(ctx->a, t->p, t->n);
    if (!s) fail_oom(ctx);
    return s;
}

/* ---- literals ------------------------------------------------------------------------------ */

static sl_ast_expr_t *new_expr(sl__sql_ctx_t *ctx, sl_ast_expr_kind_t kind, sl_pos_t pos) {
    sl_ast_expr_t *e = sl__sql_alloc(ctx, sizeof(*e));
    if (!e) return NULL;
    e->kind = kind;
    e->pos = pos;
    return e;
}

static sl_ast_expr_t *new_lit(sl__sql_ctx_t *ctx, sl_type_t type, sl_pos_t pos) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_LITERAL, pos);
    if (e) e->lit_type = type;
    return e;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* strtod over the token (copied: the source is not NUL-terminated at the token's end). */
static int tok_double(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t, double *d) {
    char *s = sl_arena_strndup(ctx->a, t->p, t->n);
    if (!s) {
        fail_oom(ctx);
        return -1;
    }
    char *end;
    *d = strtod(s, &end);
    if (end != s + t->n || isinf(*d)) {
        char x[48];
        excerpt(t->p, t->n, x);
        sl__sql_errorf(ctx, t->pos,
                       "syntax error at line %u, column %u: invalid number %s (beyond the range of DOUBLE)",
                       t->pos.line, t->pos.col, x);
        return -1;
    }
    return 0;
}

sl_ast_expr_t *sl__sql_lit_int(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    if (ctx->failed) return NULL;
    uint64_t v = 0;
    int over = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        unsigned d = (unsigned)(t->p[i] - '0');
        assert(d <= 9);
        if (v > (UINT64_MAX - d) / 10) over = 1;
        else v = v * 10 + d;
    }
    if (!over && v <= (uint64_t)INT64_MAX) {
        sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_BIGINT, t->pos);
        if (e) e->lit.u.i = (int64_t)v;
        return e;
    }
    double d;
    if (tok_double(ctx, t, &d)) return NULL;
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_DOUBLE, t->pos);
    if (!e) return NULL;
    e->lit.u.d = d;
    if (!over && v == (uint64_t)INT64_MAX + 1) ctx->int_min = e;
    return e;
}

sl_ast_expr_t *sl__sql_lit_dec(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    if (ctx->failed) return NULL;
    double d;
    if (tok_double(ctx, t, &d)) return NULL;
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_DOUBLE, t->pos);
    if (e) e->lit.u.d = d;
    return e;
}

sl_ast_expr_t *sl__sql_lit_str(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    uint32_t n;
    const char *s = sl__sql_string(ctx, t, &n);
    if (!s) return NULL;
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_VARCHAR, t->pos);
    if (!e) return NULL;
    e->lit.u.s.p = s;
    e->lit.u.s.n = n;
    return e;
}

sl_ast_expr_t *sl__sql_lit_simple(sl__sql_ctx_t *ctx, sl_type_t type, int64_t v, sl_pos_t pos) {
    assert(type == SL_TYPE_NULL || type == SL_TYPE_BOOLEAN);
    sl_ast_expr_t *e = new_lit(ctx, type, pos);
    if (!e) return NULL;
    e->lit.null = type == SL_TYPE_NULL;
    e->lit.u.i = v;
    return e;
}

static const char *const unit_name[] = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"};
static const int64_t unit_ms[] = {0, 0, 86400000, 3600000, 60000, 1000};

/* The interval qualifier from [TO to] (single when from == to): day-time units, largest first. */
static int check_qualifier(sl__sql_ctx_t *ctx, const sl__sql_tok_t *from, const sl__sql_tok_t *to) {
    if (ctx->failed) return -1;
    assert(from->n <= SL__UNIT_SECOND && to->n <= SL__UNIT_SECOND);
    const sl__sql_tok_t *ym = from->n <= SL__UNIT_MONTH ? from : to->n <= SL__UNIT_MONTH ? to : NULL;
    if (ym) {
        sl__sql_errorf(ctx, ym->pos,
                       "unsupported interval at line %u, column %u: %s intervals are not supported, only DAY, "
                       "HOUR, MINUTE and SECOND",
                       ym->pos.line, ym->pos.col, unit_name[ym->n]);
        return -1;
    }
    if (from != to && to->n <= from->n) {
        sl__sql_errorf(ctx, to->pos,
                       "invalid interval at line %u, column %u: %s TO %s; the unit after TO must be smaller",
                       to->pos.line, to->pos.col, unit_name[from->n], unit_name[to->n]);
        return -1;
    }
    return 0;
}

void sl__sql_interval_type(sl__sql_ctx_t *ctx, const sl__sql_tok_t *from, const sl__sql_tok_t *to) {
    check_qualifier(ctx, from, to);
}

/* Parses s[0..n) as the fields from..to of a day-time interval: "[-]d h:m:s.fff" shapes, the
 * first field unbounded, the others below 24 / 60, a fraction (at most 9 digits, kept to the
 * millisecond) only on SECOND. 0 and *ms, or -1. */
static int parse_interval(const char *s, size_t n, int from, int to, int64_t *ms) {
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    while (n > i && s[n - 1] == ' ') n--;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    int64_t total = 0;
    for (int u = from; u <= to; u++) {
        if (u > from && (i >= n || s[i++] != (u == SL__UNIT_HOUR ? ' ' : ':'))) return -1;
        if (i >= n || !is_digit(s[i])) return -1;
        uint64_t v = 0;
        while (i < n && is_digit(s[i])) {
            if (v > (uint64_t)INT64_MAX / 10) return -1;
            v = v * 10 + (uint64_t)(s[i++] - '0');
        }
        if (u > from && v >= (u == SL__UNIT_HOUR ? 24u : 60u)) return -1;
        if (v > (uint64_t)((INT64_MAX - total) / unit_ms[u])) return -1;
        total += (int64_t)v * unit_ms[u];
        if (u == SL__UNIT_SECOND && i < n && s[i] == '.') {
            i++;
            int k = 0;
            int64_t f = 0;
            for (; i < n && is_digit(s[i]); i++, k++)
                if (k < 3) f = f * 10 + (s[i] - '0');
            if (k == 0 || k > 9) return -1;
            for (; k < 3; k++) f *= 10;
            if (total > INT64_MAX - f) return -1;
            total += f;
        }
    }
    if (i != n) return -1;
    *ms = neg ? -total : total;
    return 0;
}

sl_ast_expr_t *sl__sql_lit_interval(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *s,
                                    const sl__sql_tok_t *from, const sl__sql_tok_t *to) {
    if (check_qualifier(ctx, from, to)) return NULL;
    uint32_t n;
    const char *text = sl__sql_string(ctx, s, &n);
    if (!text) return NULL;
    int64_t ms;
    if (parse_interval(text, n, (int)from->n, (int)to->n, &ms)) {
        static const char *const shape[] = {"", "", "d", "h", "m", "s[.fff]"};
        char want[32] = "", x[48];
        for (uint32_t u = from->n; u <= to->n; u++) {
            if (u > from->n) strcat(want, u == SL__UNIT_HOUR ? " " : ":");
            strcat(want, shape[u]);
        }
        excerpt(s->p, s->n, x);
        if (from == to)
            sl__sql_errorf(ctx, s->pos,
                           "invalid INTERVAL at line %u, column %u: %s is not a valid %s interval ('[-]%s')",
                           s->pos.line, s->pos.col, x, unit_name[from->n], want);
        else
            sl__sql_errorf(ctx, s->pos,
                           "invalid INTERVAL at line %u, column %u: %s is not a valid %s TO %s interval ('[-]%s')",
                           s->pos.line, s->pos.col, x, unit_name[from->n], unit_name[to->n], want);
        return NULL;
    }
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_INTERVAL, pos);
    if (e) e->lit.u.i = ms;
    return e;
}

/* Reads min..max digits at s[*i] into *v. */
static int read_digits(const char *s, size_t n, size_t *i, int min, int max, int *v) {
    int k = 0;
    *v = 0;
    while (*i < n && k < max && is_digit(s[*i])) {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k >= min && !(*i < n && is_digit(s[*i])) ? 0 : -1;
}

/* 'yyyy-MM-dd[ HH:mm[:ss[.f...]]]' (fields after the year 1 or 2 digits, at most 9 fraction
 * digits) into epoch milliseconds UTC. */
static int parse_timestamp(const char *s, size_t n, int64_t *ms) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (read_digits(s, n, &i, 4, 4, &y) || i >= n || s[i++] != '-') return -1;
    if (read_digits(s, n, &i, 1, 2, &mo) || i >= n || s[i++] != '-') return -1;
    if (read_digits(s, n, &i, 1, 2, &d)) return -1;
    if (i < n) {
        if (s[i++] != ' ' || read_digits(s, n, &i, 1, 2, &h) || i >= n || s[i++] != ':' ||
            read_digits(s, n, &i, 1, 2, &mi))
            return -1;
        if (i < n && (s[i++] != ':' || read_digits(s, n, &i, 1, 2, &sec))) return -1;
        if (i < n) {
            int f, k;
            size_t at = ++i;
            if (s[at - 1] != '.' || read_digits(s, n, &i, 1, 9, &f)) return -1;
            for (k = (int)(i - at), frac = f; k > 3; k--) frac /= 10;
            for (; k < 3; k++) frac *= 10;
        }
    }
    if (i != n) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return -1;
    if (h > 23 || mi > 59 || sec > 59) return -1;
    *ms = ((sl_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
    return 0;
}

sl_ast_expr_t *sl__sql_lit_timestamp(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *s) {
    uint32_t n;
    const char *text = sl__sql_string(ctx, s, &n);
    if (!text) return NULL;
    int64_t ms;
    if (parse_timestamp(text, n, &ms)) {
        char x[48];
        excerpt(s->p, s->n, x);
        sl__sql_errorf(ctx, s->pos,
                       "invalid TIMESTAMP at line %u, column %u: %s is not a valid 'yyyy-MM-dd HH:mm:ss[.SSS]'",
                       s->pos.line, s->pos.col, x);
        return NULL;
    }
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_TIMESTAMP, pos);
    if (e) e->lit.u.i = ms;
    return e;
}

sl_ast_expr_t *sl__sql_name_lit(sl__sql_ctx_t *ctx, const char *s, sl_pos_t pos) {
    sl_ast_expr_t *e = new_lit(ctx, SL_TYPE_VARCHAR, pos);
    if (!e) return NULL;
    e->lit.u.s.p = s;
    e->lit.u.s.n = (uint32_t)strlen(s);
    return e;
}

sl_ast_expr_t *sl__sql_word_lit(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    char *w = (char *)sl__sql_ident(ctx, t);
    if (!w) return NULL;
    for (char *p = w; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return sl__sql_name_lit(ctx, w, t->pos);
}

/* ---- expressions --------------------------------------------------------------------------- */

sl_ast_expr_t *sl__sql_column(sl__sql_ctx_t *ctx, const sl__sql_tok_t *qual, const sl__sql_tok_t *name) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_COLUMN, qual ? qual->pos : name->pos);
    if (!e) return NULL;
    if (qual) e->qualifier = sl__sql_ident(ctx, qual);
    e->name = sl__sql_ident(ctx, name);
    return e;
}

sl_ast_expr_t *sl__sql_star(sl__sql_ctx_t *ctx, const sl__sql_tok_t *qual, sl_pos_t pos) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_STAR, pos);
    if (e && qual) e->qualifier = sl__sql_ident(ctx, qual);
    return e;
}

sl_ast_expr_t *sl__sql_unary(sl__sql_ctx_t *ctx, sl_op_t op, sl_ast_expr_t *a, sl_pos_t pos) {
    assert(op == SL_OP_NEG || op == SL_OP_NOT);
    if (ctx->failed) return NULL;
    assert(a);
    if (op == SL_OP_NEG && a->kind == SL_AX_LITERAL && !a->lit.null) {
        switch (a->lit_type) {
        case SL_TYPE_BIGINT:
        case SL_TYPE_INTERVAL:
            if (a->lit.u.i == INT64_MIN) break; /* - -9223372036854775808 stays an operation */
            a->lit.u.i = -a->lit.u.i;
            a->pos = pos;
            return a;
        case SL_TYPE_DOUBLE:
            if (a == ctx->int_min) {
                a->lit_type = SL_TYPE_BIGINT;
                a->lit.u.i = INT64_MIN;
                ctx->int_min = NULL;
            } else {
                a->lit.u.d = -a->lit.u.d;
            }
            a->pos = pos;
            return a;
        default:
            break;
        }
    }
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_UNARY, pos);
    if (!e) return NULL;
    e->op = op;
    e->a = a;
    return e;
}

sl_ast_expr_t *sl__sql_binary(sl__sql_ctx_t *ctx, sl_op_t op, sl_ast_expr_t *a, sl_ast_expr_t *b) {
    if (ctx->failed) return NULL;
    assert(a && b);
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_BINARY, a->pos);
    if (!e) return NULL;
    e->op = op;
    e->a = a;
    e->b = b;
    return e;
}

sl_ast_expr_t *sl__sql_pred(sl__sql_ctx_t *ctx, sl_ast_expr_kind_t kind, int negated, sl_ast_expr_t *a,
                            sl_ast_expr_t *b, sl_ast_expr_t *c) {
    if (ctx->failed) return NULL;
    assert(a);
    sl_ast_expr_t *e = new_expr(ctx, kind, a->pos);
    if (!e) return NULL;
    e->negated = (uint8_t)negated;
    e->a = a;
    e->b = b;
    e->c = c;
    return e;
}

sl_ast_expr_t *sl__sql_is_bool(sl__sql_ctx_t *ctx, sl_ast_expr_t *a, int negated, int value) {
    sl_ast_expr_t *e = sl__sql_pred(ctx, SL_AX_IS_BOOL, negated, a, NULL, NULL);
    if (e) e->bool_value = (uint8_t)value;
    return e;
}

sl_ast_expr_t *sl__sql_in(sl__sql_ctx_t *ctx, int negated, sl_ast_expr_t *a, const sl__sql_vec_t *list) {
    sl_ast_expr_t *e = sl__sql_pred(ctx, SL_AX_IN, negated, a, NULL, NULL);
    if (!e) return NULL;
    e->list = list->v;
    e->count = list->n;
    return e;
}

sl_ast_expr_t *sl__sql_case(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_expr_t *operand,
                            const sl__sql_vec_t *whens, sl_ast_expr_t *els) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_CASE, pos);
    if (!e) return NULL;
    assert(whens->n >= 2 && whens->n % 2 == 0);
    e->a = operand;
    e->b = els;
    e->list = whens->v;
    e->count = whens->n;
    return e;
}

sl_ast_expr_t *sl__sql_cast(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_expr_t *a, sl_type_t type) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_CAST, pos);
    if (!e) return NULL;
    e->a = a;
    e->cast_type = type;
    return e;
}

sl_ast_expr_t *sl__sql_call_tok(sl__sql_ctx_t *ctx, const sl__sql_tok_t *name, const sl__sql_vec_t *args,
                                int distinct, int star, sl_ast_expr_t *filter) {
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_CALL, name->pos);
    if (!e) return NULL;
    e->name = sl__sql_ident(ctx, name);
    if (args) {
        e->list = args->v;
        e->count = args->n;
    }
    e->distinct = (uint8_t)distinct;
    e->star = (uint8_t)star;
    e->filter = filter;
    return e;
}

sl_ast_expr_t *sl__sql_call(sl__sql_ctx_t *ctx, const char *name, sl_pos_t pos, int nargs, sl_ast_expr_t *a,
                            sl_ast_expr_t *b, sl_ast_expr_t *c) {
    assert(nargs >= 0 && nargs <= 3);
    sl_ast_expr_t *e = new_expr(ctx, SL_AX_CALL, pos);
    if (!e) return NULL;
    e->name = name;
    if (nargs) {
        sl_ast_expr_t **l = sl__sql_alloc(ctx, sizeof(*l) * (size_t)nargs);
        if (!l) return NULL;
        sl_ast_expr_t *v[3] = {a, b, c};
        for (int i = 0; i < nargs; i++) l[i] = v[i];
        e->list = l;
        e->count = (size_t)nargs;
    }
    return e;
}

/* ---- queries ------------------------------------------------------------------------------- */

sl_ast_item_t *sl__sql_item(sl__sql_ctx_t *ctx, sl_ast_expr_t *e, const sl__sql_tok_t *alias) {
    sl_ast_item_t *it = sl__sql_alloc(ctx, sizeof(*it));
    if (!it) return NULL;
    assert(e);
    it->expr = e;
    it->pos = e->pos;
    if (alias && alias->p) it->alias = sl__sql_ident(ctx, alias);
    return it;
}

void sl__sql_order(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, sl_ast_expr_t *e, int desc) {
    sl_ast_order_t *o = sl__sql_push(ctx, v, sizeof(*o));
    if (!o) return;
    o->expr = e;
    o->desc = (uint8_t)desc;
}

sl_ast_from_t *sl__sql_from_table(sl__sql_ctx_t *ctx, const sl__sql_tok_t *name) {
    sl_ast_from_t *f = sl__sql_alloc(ctx, sizeof(*f));
    if (!f) return NULL;
    f->kind = SL_AF_TABLE;
    f->pos = name->pos;
    f->name = sl__sql_ident(ctx, name);
    return f;
}

sl_ast_from_t *sl__sql_from_sub(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_select_t *sub) {
    sl_ast_from_t *f = sl__sql_alloc(ctx, sizeof(*f));
    if (!f) return NULL;
    f->kind = SL_AF_SUBQUERY;
    f->pos = pos;
    f->sub = sub;
    return f;
}

sl_ast_from_t *sl__sql_from_window(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *fn,
                                   sl_ast_from_t *input, const sl__sql_tok_t *descriptor,
                                   const sl__sql_vec_t *args) {
    static const struct {
        const char *name;
        sl_ast_window_kind_t kind;
    } kinds[] = {{"TUMBLE", SL_AW_TUMBLE}, {"HOP", SL_AW_HOP}, {"CUMULATE", SL_AW_CUMULATE}, {"SESSION", SL_AW_SESSION}};
    const char *name = sl__sql_ident(ctx, fn);
    if (!name) return NULL;
    size_t k = 0;
    while (k < sizeof(kinds) / sizeof(kinds[0]) && strcasecmp(name, kinds[k].name)) k++;
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        char x[48];
        excerpt(fn->p, fn->n, x);
        sl__sql_errorf(ctx, fn->pos,
                       "unknown window function %s at line %u, column %u: expected TUMBLE, HOP, CUMULATE or SESSION",
                       x, fn->pos.line, fn->pos.col);
        return NULL;
    }
    sl_ast_from_t *f = sl__sql_alloc(ctx, sizeof(*f));
    if (!f) return NULL;
    f->kind = SL_AF_WINDOW;
    f->pos = pos;
    f->wkind = kinds[k].kind;
    f->input = input;
    f->descriptor = sl__sql_ident(ctx, descriptor);
    f->wargs = args->v;
    f->wargc = args->n;
    return f;
}

sl_ast_from_t *sl__sql_from_alias(sl__sql_ctx_t *ctx, sl_ast_from_t *f, const sl__sql_tok_t *alias) {
    if (f && alias->p) f->alias = sl__sql_ident(ctx, alias);
    return f;
}

sl_ast_select_t *sl__sql_select(sl__sql_ctx_t *ctx, sl_pos_t pos, int distinct, const sl__sql_vec_t *items,
                                sl_ast_from_t *from, sl_ast_expr_t *where, const sl__sql_vec_t *group,
                                sl_ast_expr_t *having, const sl__sql_vec_t *order, int64_t limit) {
    sl_ast_select_t *s = sl__sql_alloc(ctx, sizeof(*s));
    if (!s) return NULL;
    assert(items->n > 0);
    sl_ast_item_t *it = sl__sql_alloc(ctx, sizeof(*it) * items->n);
    if (!it) return NULL;
    for (uint32_t i = 0; i < items->n; i++) it[i] = *((sl_ast_item_t **)items->v)[i];
    s->pos = pos;
    s->distinct = (uint8_t)distinct;
    s->items = it;
    s->item_count = items->n;
    s->from = from;
    s->where = where;
    s->group_by = group->v;
    s->group_count = group->n;
    s->having = having;
    s->order_by = order->v;
    s->order_count = order->n;
    s->limit = limit;
    return s;
}

int64_t sl__sql_limit(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (v > ((uint64_t)INT64_MAX - 9) / 10) {
            sl__sql_errorf(ctx, t->pos, "LIMIT too large at line %u, column %u: at most %lld", t->pos.line,
                           t->pos.col, (long long)INT64_MAX);
            return -1;
        }
        v = v * 10 + (uint64_t)(t->p[i] - '0');
    }
    return (int64_t)v;
}

/* ---- statements ---------------------------------------------------------------------------- */

sl_ast_stmt_t *sl__sql_stmt(sl__sql_ctx_t *ctx, sl_ast_stmt_kind_t kind) {
    sl_ast_stmt_t *s = sl__sql_alloc(ctx, sizeof(*s));
    if (s) s->kind = kind;
    return s;
}

void sl__sql_column_def(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, const sl__sql_tok_t *name, sl_type_t type,
                        const sl__sql_tok_t *path) {
    if (ctx->failed) return;
    assert(s && s->kind == SL_AS_CREATE_STREAM);
    sl_ast_column_t *cols = grow(ctx, s->columns, s->column_count, sizeof(*cols));
    if (!cols) return;
    s->columns = cols;
    sl_ast_column_t *c = &cols[s->column_count++];
    memset(c, 0, sizeof(*c));
    c->name = sl__sql_ident(ctx, name);
    c->type = type;
    c->pos = name->pos;
    if (path->p) {
        uint32_t n;
        c->path = sl__sql_string(ctx, path, &n);
    }
}

void sl__sql_watermark(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, sl_pos_t pos, const sl__sql_tok_t *col,
                       sl_ast_expr_t *e) {
    if (ctx->failed) return;
    assert(s && s->kind == SL_AS_CREATE_STREAM);
    if (s->wm_column) {
        sl__sql_errorf(ctx, pos, "duplicate WATERMARK at line %u, column %u: a stream has at most one", pos.line,
                       pos.col);
        return;
    }
    s->wm_column = sl__sql_ident(ctx, col);
    s->wm_expr = e;
}

sl_ast_option_t *sl__sql_option_key(sl__sql_ctx_t *ctx, sl_ast_option_t *prev, const sl__sql_tok_t *t,
                                    int is_string) {
    if (ctx->failed) return NULL;
    uint32_t n;
    const char *part = is_string ? sl__sql_string(ctx, t, &n) : sl__sql_ident(ctx, t);
    if (!part) return NULL;
    if (prev) {
        size_t a = strlen(prev->key), b = strlen(part);
        char *k = sl__sql_alloc(ctx, a + b + 2);
        if (!k) return NULL;
        memcpy(k, prev->key, a);
        k[a] = '.';
        memcpy(k + a + 1, part, b + 1);
        prev->key = k;
        return prev;
    }
    sl_ast_option_t *o = sl__sql_alloc(ctx, sizeof(*o));
    if (!o) return NULL;
    o->key = part;
    o->pos = t->pos;
    return o;
}

void sl__sql_options(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, const sl__sql_vec_t *opts) {
    if (ctx->failed || !opts->n) return;
    sl_ast_option_t *o = sl__sql_alloc(ctx, sizeof(*o) * opts->n);
    if (!o) return;
    for (uint32_t i = 0; i < opts->n; i++) o[i] = *((sl_ast_option_t **)opts->v)[i];
    s->options = o;
    s->option_count = opts->n;
}

void sl__sql_accept(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s) {
    if (ctx->failed) return;
    assert(s);
    ctx->stmt = s;
}

/* ---- the finished tree's depth ------------------------------------------------------------- */

/* Each expression node with operands, and each subquery, is one level; leaves are free. The
 * recursion stops at the limit, so it never goes deeper than SL_SQL_MAX_DEPTH + 1 frames. */
static int depth_select(const sl_ast_select_t *s, unsigned level, sl_pos_t *at);

static int depth_expr(const sl_ast_expr_t *e, unsigned level, sl_pos_t *at) {
    if (!e || (!e->a && !e->b && !e->c && !e->count && !e->filter)) return 0;
    if (++level > SL_SQL_MAX_DEPTH) {
        *at = e->pos;
        return -1;
    }
    if (depth_expr(e->a, level, at) || depth_expr(e->b, level, at) || depth_expr(e->c, level, at) ||
        depth_expr(e->filter, level, at))
        return -1;
    for (size_t i = 0; i < e->count; i++)
        if (depth_expr(e->list[i], level, at)) return -1;
    return 0;
}

static int depth_from(const sl_ast_from_t *f, unsigned level, sl_pos_t *at) {
    if (!f) return 0;
    switch (f->kind) {
    case SL_AF_TABLE:
        return 0;
    case SL_AF_SUBQUERY:
        return depth_select(f->sub, level + 1, at);
    case SL_AF_WINDOW:
        for (size_t i = 0; i < f->wargc; i++)
            if (depth_expr(f->wargs[i], level, at)) return -1;
        return depth_from(f->input, level, at);
    }
    return 0;
}

static int depth_select(const sl_ast_select_t *s, unsigned level, sl_pos_t *at) {
    if (!s) return 0;
    if (level > SL_SQL_MAX_DEPTH) {
        *at = s->pos;
        return -1;
    }
    for (size_t i = 0; i < s->item_count; i++)
        if (depth_expr(s->items[i].expr, level, at)) return -1;
    for (size_t i = 0; i < s->group_count; i++)
        if (depth_expr(s->group_by[i], level, at)) return -1;
    for (size_t i = 0; i < s->order_count; i++)
        if (depth_expr(s->order_by[i].expr, level, at)) return -1;
    return depth_from(s->from, level, at) || depth_expr(s->where, level, at) || depth_expr(s->having, level, at);
}

static int check_depth(sl__sql_ctx_t *ctx, const sl_ast_stmt_t *s) {
    sl_pos_t at = {0, 0};
    if (!depth_expr(s->wm_expr, 0, &at) && !depth_select(s->select, 0, &at)) return 0;
    depth_error(ctx, at);
    return -1;
}

/* ---- the driver ---------------------------------------------------------------------------- */

int sl_sql_parse(sl_arena_t *a, const char *text, size_t len, sl_ast_stmt_t **stmts, size_t *count,
                 sl_sql_error_t *err) {
    assert(a && stmts && count && err && (text || !len));
    *stmts = NULL;
    *count = 0;
    memset(err, 0, sizeof(*err));
    if (len > SL_SQL_MAX_TEXT) {
        snprintf(err->message, sizeof(err->message),
                 "SQL text too long: %zu bytes, at most %u (SL_SQL_MAX_TEXT); send fewer statements at a time", len,
                 SL_SQL_MAX_TEXT);
        return -1;
    }
    sl__sql_ctx_t ctx = {.a = a, .err = err};
    sl__sql_vec_t out = {NULL, 0, 0};
    void *parser = NULL;
    const char *first = NULL, *last = NULL; /* the statement's first and past-the-last byte */
    sl_pos_t first_pos = {1, 1};
    char *src = sl_arena_strndup(a, text ? text : "", len);
    if (!src) {
        fail_oom(&ctx);
        goto fail;
    }
    sl__sql_lexer_t lx;
    sl__sql_lex_init(&lx, src, len);
    for (;;) {
        sl__sql_tok_t tok;
        int code = sl__sql_lex(&lx, &tok, err);
        if (code < 0) goto fail;
        ctx.pos = tok.pos;
        if (code != 0 && code != TK_SEMI) {
            if (!parser) {
                if (out.n == SL_SQL_MAX_STATEMENTS) {
                    sl__sql_errorf(&ctx, tok.pos,
                                   "too many statements at line %u, column %u: at most %d (SL_SQL_MAX_STATEMENTS) "
                                   "in one text",
                                   tok.pos.line, tok.pos.col, SL_SQL_MAX_STATEMENTS);
                    goto fail;
                }
                if (!(parser = sl_sqlparse_Alloc(malloc))) {
                    fail_oom(&ctx);
                    goto fail;
                }
                ctx.accepted = 0;
                ctx.stmt = NULL;
                ctx.depth = 0;
                ctx.int_min = NULL;
                first = tok.p;
                first_pos = tok.pos;
            }
            last = tok.p + tok.n;
            sl_sqlparse_(parser, code, tok, &ctx);
            if (ctx.failed) goto fail;
            continue;
        }
        if (parser) { /* end of a statement: ';' or the end of the input */
            sl_sqlparse_(parser, 0, tok, &ctx);
            sl_sqlparse_Free(parser, free);
            parser = NULL;
            if (ctx.failed) goto fail;
            assert(ctx.accepted && ctx.stmt && ctx.depth == 0);
            if (check_depth(&ctx, ctx.stmt)) goto fail;
            sl_ast_stmt_t *s = sl__sql_push(&ctx, &out, sizeof(*s));
            if (!s) goto fail;
            *s = *ctx.stmt;
            s->pos = first_pos;
            if (!(s->text = sl_arena_strndup(a, first, (size_t)(last - first)))) {
                fail_oom(&ctx);
                goto fail;
            }
        }
        if (code == 0) {
            if (out.n == 0) {
                sl__sql_syntax_error(&ctx, 0, &tok);
                goto fail;
            }
            break;
        }
    }
    *stmts = out.v;
    *count = out.n;
    return 0;
fail:
    if (parser) sl_sqlparse_Free(parser, free);
    assert(err->message[0]);
    return -1;
}
