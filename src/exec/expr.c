/* Compiled expressions (see expr.h): the compiler that flattens a bound expression into postfix
 * code, the evaluator, and the value conversions (casts, comparison, JSON output).
 *
 * SQL semantics kept here: NULL propagates through operators and comparisons; AND/OR use
 * three-valued logic; integer arithmetic wraps on overflow as Java's long does (Flink); division
 * or MOD by zero gives NULL rather than failing the query; a DOUBLE result that is not finite is
 * NULL. */
#include "exec/expr.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"

/* ---- compiling ----------------------------------------------------------------------------- */

typedef struct cbuild {
    sl_cexpr_t *ce;
    int cap, ccap;
    char *err;
    size_t errlen;
} cbuild_t;

static int emit(cbuild_t *b, sl_cinstr_t ins) {
    if (b->ce->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        sl_cinstr_t *nc = realloc(b->ce->code, sizeof(*nc) * (size_t)cap);
        if (!nc) return -1;
        b->ce->code = nc;
        b->cap = cap;
    }
    b->ce->code[b->ce->n++] = ins;
    return 0;
}

static int add_const(cbuild_t *b, const sl_value_t *v) {
    if (b->ce->nconsts == b->ccap) {
        int cap = b->ccap ? b->ccap * 2 : 8;
        sl_value_t *nv = realloc(b->ce->consts, sizeof(*nv) * (size_t)cap);
        if (!nv) return -1;
        b->ce->consts = nv;
        b->ccap = cap;
    }
    b->ce->consts[b->ce->nconsts] = *v;
    return b->ce->nconsts++;
}

static int compile(cbuild_t *b, const sl_bexpr_t *e) {
    sl_cinstr_t ins;
    memset(&ins, 0, sizeof(ins));
    ins.kind = (uint8_t)e->kind;
    ins.type = (uint8_t)e->type;
    ins.op = (uint8_t)e->op;
    ins.nargs = e->nargs;
    ins.flags = (uint8_t)(e->negated | e->has_else << 1 | e->bool_value << 2);
    if (e->nargs) ins.argtype = (uint8_t)e->args[0]->type;
    for (int i = 0; i < e->nargs; i++) {
        if (compile(b, e->args[i])) return -1;
    }
    switch (e->kind) {
    case SL_BX_CONST:
        if ((ins.arg = add_const(b, &e->val)) < 0) return -1;
        break;
    case SL_BX_COL: ins.arg = e->col; break;
    case SL_BX_CALL: {
        ins.arg = (int32_t)e->fn;
        sl_type_t argt[64];
        const sl_value_t *consts[64];
        assert(e->nargs <= 64);
        for (int i = 0; i < e->nargs; i++) {
            argt[i] = e->args[i]->type;
            consts[i] = e->args[i]->kind == SL_BX_CONST ? &e->args[i]->val : NULL;
        }
        if (sl_fn_prepare(e->fn, argt, consts, e->nargs, &ins.state, b->err, b->errlen)) return -2;
        break;
    }
    default: break;
    }
    return emit(b, ins) ? (ins.kind == SL_BX_CALL ? (sl_fn_release((sl_fn_t)ins.arg, ins.state), -1) : -1) : 0;
}

/* Depth of the stack needed: computed by a walk (each node needs max over children of
 * (children before it + child's need)). */
static int need(const sl_bexpr_t *e) {
    int m = 1;
    for (int i = 0; i < e->nargs; i++) {
        int n = i + need(e->args[i]);
        if (n > m) m = n;
    }
    return m;
}

int sl_cexpr_compile(sl_cexpr_t *ce, const sl_bexpr_t *e, char *err, size_t errlen) {
    memset(ce, 0, sizeof(*ce));
    cbuild_t b;
    memset(&b, 0, sizeof(b));
    b.ce = ce;
    b.err = err;
    b.errlen = errlen;
    int rc = compile(&b, e);
    if (rc) {
        if (rc == -1) snprintf(err, errlen, "out of memory compiling an expression");
        sl_cexpr_free(ce);
        return -1;
    }
    ce->maxstack = need(e) + 1;
    ce->type = e->type;
    ce->is_col = e->kind == SL_BX_COL;
    ce->col = e->col;
    return 0;
}

void sl_cexpr_free(sl_cexpr_t *ce) {
    for (int i = 0; i < ce->n; i++)
        if (ce->code[i].kind == SL_BX_CALL) sl_fn_release((sl_fn_t)ce->code[i].arg, ce->code[i].state);
    free(ce->code);
    free(ce->consts);
    memset(ce, 0, sizeof(*ce));
}

int sl_eval_init(sl_eval_t *ev, sl_arena_t *arena) {
    memset(ev, 0, sizeof(*ev));
    ev->fn.arena = arena;
    ev->fn.err = ev->err;
    ev->fn.errlen = sizeof(ev->err);
    ev->stack_cap = 64;
    ev->stack = malloc(sizeof(*ev->stack) * (size_t)ev->stack_cap);
    return ev->stack ? 0 : -1;
}

void sl_eval_free(sl_eval_t *ev) {
    free(ev->stack);
    ev->stack = NULL;
}

/* ---- values -------------------------------------------------------------------------------- */

int sl_value_cmp(sl_type_t t, const sl_value_t *a, const sl_value_t *b) {
    switch (t) {
    case SL_TYPE_DOUBLE: return a->u.d < b->u.d ? -1 : a->u.d > b->u.d;
    case SL_TYPE_VARCHAR: {
        uint32_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (r) return r;
        return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
    }
    default: return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    }
}

static void put2(char *p, unsigned v) {
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* "2015-07-15T00:00:00.000Z" when sep = 'T' and zone = 1; "2015-07-15 00:00:00.000" otherwise. */
static size_t ts_text(char *out, int64_t ms, char sep, int zone) {
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    int mo, d;
    sl_civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999) {
        int n = snprintf(out, 32, "%" PRId64, ms);
        return n > 0 ? (size_t)n : 0;
    }
    unsigned yy = (unsigned)y;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    put2(out + 2, yy % 100);
    out[4] = '-';
    put2(out + 5, (unsigned)mo);
    out[7] = '-';
    put2(out + 8, (unsigned)d);
    out[10] = sep;
    unsigned h = (unsigned)(rem / 3600000), mi = (unsigned)(rem / 60000 % 60), s = (unsigned)(rem / 1000 % 60),
             f = (unsigned)(rem % 1000);
    put2(out + 11, h);
    out[13] = ':';
    put2(out + 14, mi);
    out[16] = ':';
    put2(out + 17, s);
    out[19] = '.';
    out[20] = (char)('0' + f / 100);
    put2(out + 21, f % 100);
    if (zone) {
        out[23] = 'Z';
        return 24;
    }
    return 23;
}

size_t sl_ts_format(char *out, int64_t ms) { return ts_text(out, ms, 'T', 1); }

static size_t double_text(char *buf, double d) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 40, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (!strpbrk(buf, ".eEn")) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = 0;
    }
    return (size_t)n;
}

static int parse_ts_text(const char *p, size_t n, int64_t *out) {
    while (n && (*p == ' ')) p++, n--;
    while (n && p[n - 1] == ' ') n--;
    if (!sl_parse_rfc3339(p, n, out)) return 0;
    /* 'yyyy-MM-dd HH:mm:ss[.SSS]' or 'yyyy-MM-dd' without a zone: UTC */
    char tmp[48];
    if (n == 10 && n + 10 < sizeof(tmp)) {
        memcpy(tmp, p, n);
        memcpy(tmp + n, "T00:00:00Z", 10);
        return sl_parse_rfc3339(tmp, n + 10, out);
    }
    if (n >= 19 && n + 1 < sizeof(tmp)) {
        memcpy(tmp, p, n);
        tmp[n] = 'Z';
        return sl_parse_rfc3339(tmp, n + 1, out);
    }
    return -1;
}

void sl_value_cast(sl_type_t from, sl_type_t to, const sl_value_t *v, sl_value_t *out, sl_arena_t *arena) {
    if (v->null || from == to || from == SL_TYPE_NULL) {
        *out = *v;
        if (from == SL_TYPE_NULL) out->null = 1;
        return;
    }
    out->null = 0;
    char buf[48];
    switch (to) {
    case SL_TYPE_VARCHAR: {
        size_t n;
        switch (from) {
        case SL_TYPE_BOOLEAN: n = (size_t)snprintf(buf, sizeof(buf), "%s", v->u.i ? "TRUE" : "FALSE"); break;
        case SL_TYPE_DOUBLE:
            if (!isfinite(v->u.d)) { out->null = 1; return; }
            n = double_text(buf, v->u.d);
            break;
        case SL_TYPE_TIMESTAMP: n = ts_text(buf, v->u.i, ' ', 0); break;
        default: n = (size_t)snprintf(buf, sizeof(buf), "%" PRId64, v->u.i); break;
        }
        char *s = sl_arena_alloc(arena, n);
        if (!s) { out->null = 1; return; }
        memcpy(s, buf, n);
        out->u.s.p = s;
        out->u.s.n = (uint32_t)n;
        return;
    }
    case SL_TYPE_DOUBLE:
        if (from == SL_TYPE_VARCHAR) {
            size_t n = v->u.s.n < sizeof(buf) - 1 ? v->u.s.n : sizeof(buf) - 1;
            memcpy(buf, v->u.s.p, n);
            buf[n] = 0;
            char *end;
            errno = 0;
            double d = strtod(buf, &end);
            while (*end == ' ') end++;
            if (end == buf || *end || v->u.s.n >= sizeof(buf) - 1 || !isfinite(d)) out->null = 1;
            out->u.d = d;
        } else {
            out->u.d = (double)v->u.i;
        }
        return;
    case SL_TYPE_BIGINT:
    case SL_TYPE_BOOLEAN:
    case SL_TYPE_TIMESTAMP:
    case SL_TYPE_INTERVAL:
        if (from == SL_TYPE_DOUBLE) {
            if (!(v->u.d > -9.2233720368547758e18 && v->u.d < 9.2233720368547758e18)) { out->null = 1; return; }
            out->u.i = (int64_t)v->u.d;
        } else if (from == SL_TYPE_VARCHAR) {
            if (to == SL_TYPE_TIMESTAMP) {
                if (parse_ts_text(v->u.s.p, v->u.s.n, &out->u.i)) out->null = 1;
                return;
            }
            if (to == SL_TYPE_BOOLEAN) {
                const char *p = v->u.s.p;
                uint32_t n = v->u.s.n;
                if (n == 4 && !strncasecmp(p, "true", 4)) out->u.i = 1;
                else if (n == 5 && !strncasecmp(p, "false", 5)) out->u.i = 0;
                else out->null = 1;
                return;
            }
            size_t n = v->u.s.n < sizeof(buf) - 1 ? v->u.s.n : sizeof(buf) - 1;
            memcpy(buf, v->u.s.p, n);
            buf[n] = 0;
            char *end, *p = buf;
            while (*p == ' ') p++;
            errno = 0;
            long long x = strtoll(p, &end, 10);
            while (*end == ' ') end++;
            if (end == p || *end || errno || v->u.s.n >= sizeof(buf) - 1) out->null = 1;
            out->u.i = x;
        } else {
            out->u.i = v->u.i;
        }
        if (to == SL_TYPE_BOOLEAN && !out->null) out->u.i = out->u.i != 0;
        return;
    case SL_TYPE_NULL: out->null = 1; return;
    }
}

int sl_value_json(sl_buf_t *out, sl_type_t t, const sl_value_t *v) {
    if (v->null) return sl_buf_lit(out, "null");
    char buf[48];
    switch (t) {
    case SL_TYPE_BOOLEAN: return v->u.i ? sl_buf_lit(out, "true") : sl_buf_lit(out, "false");
    case SL_TYPE_DOUBLE:
        if (!isfinite(v->u.d)) return sl_buf_lit(out, "null");
        return sl_buf_append(out, buf, double_text(buf, v->u.d));
    case SL_TYPE_VARCHAR: {
        int rc = sl_buf_putc(out, '"');
        rc |= sl_buf_json_escape(out, v->u.s.p, v->u.s.n);
        return rc | sl_buf_putc(out, '"');
    }
    case SL_TYPE_TIMESTAMP: {
        size_t n = sl_ts_format(buf + 1, v->u.i);
        buf[0] = '"';
        buf[n + 1] = '"';
        return sl_buf_append(out, buf, n + 2);
    }
    default: return sl_buf_append_i64(out, v->u.i);
    }
}

/* ---- evaluating ---------------------------------------------------------------------------- */

static inline int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static void eval_op(const sl_cinstr_t *in, sl_value_t *a, const sl_value_t *b) {
    sl_op_t op = (sl_op_t)in->op;
    if (in->nargs == 1) {
        if (a->null) return;
        if (op == SL_OP_NOT) a->u.i = !a->u.i;
        else if (in->type == SL_TYPE_DOUBLE) a->u.d = -a->u.d;
        else a->u.i = wrap_sub(0, a->u.i);
        return;
    }
    if (op == SL_OP_AND) {
        /* FALSE wins over NULL */
        if ((!a->null && !a->u.i) || (!b->null && !b->u.i)) { a->null = 0; a->u.i = 0; }
        else if (a->null || b->null) a->null = 1;
        else a->u.i = 1;
        return;
    }
    if (op == SL_OP_OR) {
        if ((!a->null && a->u.i) || (!b->null && b->u.i)) { a->null = 0; a->u.i = 1; }
        else if (a->null || b->null) a->null = 1;
        else a->u.i = 0;
        return;
    }
    if (a->null || b->null) {
        a->null = 1;
        return;
    }
    if (op >= SL_OP_EQ && op <= SL_OP_GE) {
        int c = sl_value_cmp((sl_type_t)in->argtype, a, b);
        int r;
        switch (op) {
        case SL_OP_EQ: r = c == 0; break;
        case SL_OP_NE: r = c != 0; break;
        case SL_OP_LT: r = c < 0; break;
        case SL_OP_LE: r = c <= 0; break;
        case SL_OP_GT: r = c > 0; break;
        default: r = c >= 0; break;
        }
        a->u.i = r;
        return;
    }
    if (in->type == SL_TYPE_DOUBLE) {
        double x = a->u.d, y = b->u.d, r;
        switch (op) {
        case SL_OP_ADD: r = x + y; break;
        case SL_OP_SUB: r = x - y; break;
        case SL_OP_MUL: r = x * y; break;
        default:
            if (y == 0) { a->null = 1; return; }
            r = x / y;
        }
        if (!isfinite(r)) a->null = 1;
        a->u.d = r;
        return;
    }
    int64_t x = a->u.i, y = b->u.i;
    switch (op) {
    case SL_OP_ADD: a->u.i = wrap_add(x, y); break;
    case SL_OP_SUB: a->u.i = wrap_sub(x, y); break;
    case SL_OP_MUL: a->u.i = wrap_mul(x, y); break;
    default:
        if (y == 0) { a->null = 1; return; }
        a->u.i = (y == -1) ? wrap_sub(0, x) : x / y;
    }
}

int sl_cexpr_eval(const sl_cexpr_t *ce, const sl_value_t *row, sl_eval_t *ev, sl_value_t *out) {
    if (ce->is_col) {
        *out = row[ce->col];
        return 0;
    }
    if (ce->maxstack > ev->stack_cap) {
        sl_value_t *ns = realloc(ev->stack, sizeof(*ns) * (size_t)ce->maxstack);
        if (!ns) {
            snprintf(ev->err, sizeof(ev->err), "out of memory");
            return -1;
        }
        ev->stack = ns;
        ev->stack_cap = ce->maxstack;
    }
    sl_value_t *st = ev->stack;
    int sp = 0;
    for (int i = 0; i < ce->n; i++) {
        const sl_cinstr_t *in = &ce->code[i];
        switch ((sl_bx_kind_t)in->kind) {
        case SL_BX_CONST: st[sp++] = ce->consts[in->arg]; break;
        case SL_BX_COL: st[sp++] = row[in->arg]; break;
        case SL_BX_OP:
            if (in->nargs == 1) {
                eval_op(in, &st[sp - 1], NULL);
            } else {
                eval_op(in, &st[sp - 2], &st[sp - 1]);
                sp--;
            }
            break;
        case SL_BX_CALL: {
            sl_value_t r;
            ev->fn.state = in->state;
            if (sl_fn_call((sl_fn_t)in->arg, &ev->fn, &st[sp - in->nargs], in->nargs, &r)) return -1;
            sp -= in->nargs;
            st[sp++] = r;
            break;
        }
        case SL_BX_CASE: {
            sl_value_t *args = &st[sp - in->nargs];
            int has_else = (in->flags >> 1) & 1;
            int pairs = (in->nargs - has_else) / 2;
            sl_value_t r;
            r.null = 1;
            r.u.i = 0;
            int hit = 0;
            for (int k = 0; k < pairs; k++)
                if (!args[2 * k].null && args[2 * k].u.i) {
                    r = args[2 * k + 1];
                    hit = 1;
                    break;
                }
            if (!hit && has_else) r = args[in->nargs - 1];
            sp -= in->nargs;
            st[sp++] = r;
            break;
        }
        case SL_BX_CAST: {
            sl_value_t r;
            sl_value_cast((sl_type_t)in->argtype, (sl_type_t)in->type, &st[sp - 1], &r, ev->fn.arena);
            st[sp - 1] = r;
            break;
        }
        case SL_BX_IS_NULL: {
            int isnull = st[sp - 1].null;
            st[sp - 1].null = 0;
            st[sp - 1].u.i = (in->flags & 1) ? !isnull : isnull;
            break;
        }
        case SL_BX_IS_BOOL: {
            sl_value_t *v = &st[sp - 1];
            int want = (in->flags >> 2) & 1;
            int r = !v->null && (v->u.i != 0) == want;
            v->null = 0;
            v->u.i = (in->flags & 1) ? !r : r;
            break;
        }
        case SL_BX_IN: {
            sl_value_t *args = &st[sp - in->nargs];
            sl_value_t r;
            r.null = 0;
            r.u.i = 0;
            if (args[0].null) {
                r.null = 1;
            } else {
                int saw_null = 0;
                for (int k = 1; k < in->nargs; k++) {
                    if (args[k].null) { saw_null = 1; continue; }
                    if (!sl_value_cmp((sl_type_t)in->argtype, &args[0], &args[k])) { r.u.i = 1; break; }
                }
                if (!r.u.i && saw_null) r.null = 1;
                if (!r.null && (in->flags & 1)) r.u.i = !r.u.i;
            }
            sp -= in->nargs;
            st[sp++] = r;
            break;
        }
        case SL_BX_COALESCE: {
            sl_value_t *args = &st[sp - in->nargs];
            sl_value_t r = args[in->nargs - 1];
            for (int k = 0; k < in->nargs; k++)
                if (!args[k].null) { r = args[k]; break; }
            sp -= in->nargs;
            st[sp++] = r;
            break;
        }
        case SL_BX_NULLIF: {
            sl_value_t *args = &st[sp - 2];
            if (!args[0].null && !args[1].null && !sl_value_cmp((sl_type_t)in->type, &args[0], &args[1]))
                args[0].null = 1;
            sp--;
            break;
        }
        }
    }
    assert(sp == 1);
    *out = st[0];
    if (ce->type == SL_TYPE_DOUBLE && !out->null && !isfinite(out->u.d)) out->null = 1;
    return 0;
}

int sl_cexpr_test(const sl_cexpr_t *ce, const sl_value_t *row, sl_eval_t *ev) {
    sl_value_t v;
    if (sl_cexpr_eval(ce, row, ev, &v)) return -1;
    return !v.null && v.u.i;
}
