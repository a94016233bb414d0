/* The binder: resolves the names of an AST against the catalog and the FROM clause, checks and
 * infers types (inserting explicit casts), finds aggregates and windows, and builds the logical
 * plan of sql/plan.h. Every error names the position of the node at fault. */
#include "sql/plan.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One column visible to expressions: its name, the relation alias qualifying it, and whether it
 * is a time attribute (1 = event time with a watermark, 2 = processing time). */
typedef struct scol {
    const char *name;
    const char *qual;
    sl_type_t type;
    int timeattr;
} scol_t;

typedef struct scope {
    scol_t *cols;
    int ncols;
    /* Window TVF: its three virtual columns sit at win_base, +1, +2 (start, end, time). */
    int win_base;                  /* -1 = none */
    sl_window_t window;
} scope_t;

/* Aggregation context: keys (bound over the input scope), aggregates found so far, window. */
typedef struct aggctx {
    sl_bexpr_t **keys;
    int nkeys;
    sl_agg_t *aggs;
    int naggs, cap;
    int windowed;
    sl_window_t window;
    const sl_ast_expr_t *win_call; /* the legacy GROUP BY TUMBLE(...) call, to match TUMBLE_START */
} aggctx_t;

typedef struct ctx {
    sl_arena_t *a;
    const sl_catalog_t *cat;
    sl_sql_error_t *err;
    int continuous;
    int failed;
} ctx_t;

static void fail(ctx_t *c, sl_pos_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(ctx_t *c, sl_pos_t pos, const char *fmt, ...) {
    if (c->failed) return;
    c->failed = 1;
    c->err->pos = pos;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err->message, sizeof(c->err->message), "%s (line %u, column %u)", msg, pos.line,
             pos.col);
}

static sl_bexpr_t *bx_new(ctx_t *c, sl_bx_kind_t kind, sl_type_t type, sl_pos_t pos, int nargs) {
    sl_bexpr_t *e = sl_arena_zalloc(c->a, sizeof(*e));
    if (!e) return NULL;
    e->kind = kind;
    e->type = type;
    e->pos = pos;
    e->col = -1;
    if (nargs) {
        e->args = sl_arena_zalloc(c->a, sizeof(*e->args) * (size_t)nargs);
        if (!e->args) return NULL;
        e->nargs = nargs;
    }
    return e;
}

static sl_bexpr_t *bx_col(ctx_t *c, int col, sl_type_t type, sl_pos_t pos) {
    sl_bexpr_t *e = bx_new(c, SL_BX_COL, type, pos, 0);
    if (e) e->col = col;
    return e;
}

/* Inserts a cast of e to t unless it already has that type. A NULL literal simply takes t. */
static sl_bexpr_t *cast_to(ctx_t *c, sl_bexpr_t *e, sl_type_t t) {
    if (!e || e->type == t) return e;
    if (e->kind == SL_BX_CONST && e->val.null) {
        e->type = t;
        return e;
    }
    sl_bexpr_t *x = bx_new(c, SL_BX_CAST, t, e->pos, 1);
    if (!x) return NULL;
    x->args[0] = e;
    return x;
}

static int cast_allowed(sl_type_t from, sl_type_t to) {
    if (from == to || from == SL_TYPE_NULL || from == SL_TYPE_VARCHAR || to == SL_TYPE_VARCHAR)
        return 1;
    if (sl_type_numeric(from) && sl_type_numeric(to)) return 1;
    if ((from == SL_TYPE_BOOLEAN && to == SL_TYPE_BIGINT) || (from == SL_TYPE_BIGINT && to == SL_TYPE_BOOLEAN))
        return 1;
    if ((from == SL_TYPE_BIGINT && (to == SL_TYPE_TIMESTAMP || to == SL_TYPE_INTERVAL)) ||
        ((from == SL_TYPE_TIMESTAMP || from == SL_TYPE_INTERVAL) && to == SL_TYPE_BIGINT))
        return 1;
    return 0;
}

/* The type two operands are compared or combined in; SL_TYPE_NULL only when both are NULL. -1 if
 * they do not mix. */
static int common_type(sl_type_t x, sl_type_t y) {
    if (x == y) return (int)x;
    if (x == SL_TYPE_NULL) return (int)y;
    if (y == SL_TYPE_NULL) return (int)x;
    if (sl_type_numeric(x) && sl_type_numeric(y)) return SL_TYPE_DOUBLE;
    if ((x == SL_TYPE_VARCHAR && y == SL_TYPE_TIMESTAMP) || (x == SL_TYPE_TIMESTAMP && y == SL_TYPE_VARCHAR))
        return SL_TYPE_TIMESTAMP;
    return -1;
}

static int is_agg_name(const char *n) {
    return !strcasecmp(n, "COUNT") || !strcasecmp(n, "SUM") || !strcasecmp(n, "MIN") ||
           !strcasecmp(n, "MAX") || !strcasecmp(n, "AVG");
}

static int is_group_window_name(const char *n) {
    return !strcasecmp(n, "TUMBLE") || !strcasecmp(n, "HOP") || !strcasecmp(n, "SESSION");
}

/* TUMBLE_START, HOP_END, SESSION_ROWTIME, ...: 1 start, 2 end, 3 rowtime; 0 otherwise. */
static int group_window_aux(const char *n) {
    const char *u = strchr(n, '_');
    if (!u) return 0;
    size_t k = (size_t)(u - n);
    if (!((k == 6 && !strncasecmp(n, "TUMBLE", 6)) || (k == 3 && !strncasecmp(n, "HOP", 3)) ||
          (k == 7 && !strncasecmp(n, "SESSION", 7))))
        return 0;
    if (!strcasecmp(u + 1, "START")) return 1;
    if (!strcasecmp(u + 1, "END")) return 2;
    if (!strcasecmp(u + 1, "ROWTIME")) return 3;
    return 0;
}

static int ast_contains_agg(const sl_ast_expr_t *e) {
    if (!e) return 0;
    if (e->kind == SL_AX_CALL && (is_agg_name(e->name) || group_window_aux(e->name))) return 1;
    if (ast_contains_agg(e->a) || ast_contains_agg(e->b) || ast_contains_agg(e->c)) return 1;
    for (size_t i = 0; i < e->count; i++)
        if (ast_contains_agg(e->list[i])) return 1;
    return 0;
}

int sl_bexpr_equal(const sl_bexpr_t *x, const sl_bexpr_t *y) {
    if (x->kind != y->kind || x->type != y->type || x->nargs != y->nargs) return 0;
    switch (x->kind) {
    case SL_BX_CONST:
        if (x->val.null != y->val.null) return 0;
        if (x->val.null) return 1;
        if (x->type == SL_TYPE_VARCHAR)
            return x->val.u.s.n == y->val.u.s.n && (!x->val.u.s.n || !memcmp(x->val.u.s.p, y->val.u.s.p, x->val.u.s.n));
        if (x->type == SL_TYPE_DOUBLE) return x->val.u.d == y->val.u.d;
        return x->val.u.i == y->val.u.i;
    case SL_BX_COL: return x->col == y->col;
    case SL_BX_OP: if (x->op != y->op) return 0; break;
    case SL_BX_CALL: if (x->fn != y->fn) return 0; break;
    default:
        if (x->negated != y->negated || x->has_else != y->has_else || x->bool_value != y->bool_value)
            return 0;
    }
    for (int i = 0; i < x->nargs; i++)
        if (!sl_bexpr_equal(x->args[i], y->args[i])) return 0;
    return 1;
}

/* ---- expressions --------------------------------------------------------------------------- */

static sl_bexpr_t *bind_expr(ctx_t *c, const sl_ast_expr_t *x, const scope_t *s, aggctx_t *ag);

static int find_col(ctx_t *c, const scope_t *s, const char *qual, const char *name, sl_pos_t pos) {
    int found = -1;
    for (int i = 0; i < s->ncols; i++) {
        if (strcasecmp(s->cols[i].name, name)) continue;
        if (qual && (!s->cols[i].qual || strcasecmp(s->cols[i].qual, qual))) continue;
        if (found >= 0) {
            fail(c, pos, "column %s is ambiguous", name);
            return -1;
        }
        found = i;
    }
    if (found < 0) {
        if (qual)
            fail(c, pos, "unknown column %s.%s", qual, name);
        else
            fail(c, pos, "unknown column %s", name);
    }
    return found;
}

static sl_bexpr_t *bind_arith(ctx_t *c, sl_op_t op, sl_bexpr_t *l, sl_bexpr_t *r, sl_pos_t pos) {
    sl_type_t lt = l->type, rt = r->type, t;
    static const char *names[] = {"-", "NOT", "+", "-", "*", "/", "%", "||"};
    if (op == SL_OP_CONCAT) {
        if (!cast_allowed(lt, SL_TYPE_VARCHAR) || !cast_allowed(rt, SL_TYPE_VARCHAR)) goto bad;
        sl_bexpr_t *e = bx_new(c, SL_BX_CALL, SL_TYPE_VARCHAR, pos, 2);
        if (!e) return NULL;
        e->fn = SL_FN_CONCAT;
        e->args[0] = cast_to(c, l, SL_TYPE_VARCHAR);
        e->args[1] = cast_to(c, r, SL_TYPE_VARCHAR);
        return e;
    }
    if (lt == SL_TYPE_NULL) lt = rt == SL_TYPE_NULL ? SL_TYPE_BIGINT : rt;
    if (rt == SL_TYPE_NULL) rt = lt;
    if (sl_type_numeric(lt) && sl_type_numeric(rt)) {
        t = (lt == SL_TYPE_DOUBLE || rt == SL_TYPE_DOUBLE) ? SL_TYPE_DOUBLE : SL_TYPE_BIGINT;
        l = cast_to(c, l, t);
        r = cast_to(c, r, t);
    } else if (lt == SL_TYPE_TIMESTAMP && rt == SL_TYPE_INTERVAL && (op == SL_OP_ADD || op == SL_OP_SUB)) {
        t = SL_TYPE_TIMESTAMP;
    } else if (lt == SL_TYPE_INTERVAL && rt == SL_TYPE_TIMESTAMP && op == SL_OP_ADD) {
        t = SL_TYPE_TIMESTAMP;
        sl_bexpr_t *tmp = l;
        l = r;
        r = tmp;
    } else if (lt == SL_TYPE_INTERVAL && rt == SL_TYPE_INTERVAL && (op == SL_OP_ADD || op == SL_OP_SUB)) {
        t = SL_TYPE_INTERVAL;
    } else if (lt == SL_TYPE_INTERVAL && rt == SL_TYPE_BIGINT && (op == SL_OP_MUL || op == SL_OP_DIV)) {
        t = SL_TYPE_INTERVAL;
    } else {
        goto bad;
    }
    sl_bexpr_t *e = bx_new(c, SL_BX_OP, t, pos, 2);
    if (!e) return NULL;
    e->op = op;
    e->args[0] = l;
    e->args[1] = r;
    return e;
bad:
    fail(c, pos, "operator %s cannot take %s and %s", names[op], sl_type_name(l->type),
         sl_type_name(r->type));
    return NULL;
}

static sl_bexpr_t *bind_compare(ctx_t *c, sl_op_t op, sl_bexpr_t *l, sl_bexpr_t *r, sl_pos_t pos) {
    int t = common_type(l->type, r->type);
    if (t < 0 || t == SL_TYPE_INTERVAL + 100) {
        fail(c, pos, "cannot compare %s with %s", sl_type_name(l->type), sl_type_name(r->type));
        return NULL;
    }
    if (t == SL_TYPE_NULL) t = SL_TYPE_BIGINT;
    sl_bexpr_t *e = bx_new(c, SL_BX_OP, SL_TYPE_BOOLEAN, pos, 2);
    if (!e) return NULL;
    e->op = op;
    e->args[0] = cast_to(c, l, (sl_type_t)t);
    e->args[1] = cast_to(c, r, (sl_type_t)t);
    return e;
}

/* NOT e, for the negated forms NOT LIKE and NOT BETWEEN. */
static sl_bexpr_t *negate(ctx_t *c, sl_bexpr_t *e, sl_pos_t pos) {
    sl_bexpr_t *n = bx_new(c, SL_BX_OP, SL_TYPE_BOOLEAN, pos, 1);
    if (!n) return NULL;
    n->op = SL_OP_NOT;
    n->args[0] = e;
    return n;
}

static sl_bexpr_t *need_bool(ctx_t *c, sl_bexpr_t *e, const char *what) {
    if (!e) return NULL;
    if (e->type == SL_TYPE_NULL) return cast_to(c, e, SL_TYPE_BOOLEAN);
    if (e->type != SL_TYPE_BOOLEAN) {
        fail(c, e->pos, "%s must be BOOLEAN, not %s", what, sl_type_name(e->type));
        return NULL;
    }
    return e;
}

static sl_bexpr_t *bind_call(ctx_t *c, const sl_ast_expr_t *x, const scope_t *s, aggctx_t *ag) {
    const char *n = x->name;
    if (is_agg_name(n)) {
        fail(c, x->pos, "aggregate %s is not allowed here", n);
        return NULL;
    }
    if (is_group_window_name(n) || group_window_aux(n)) {
        fail(c, x->pos, "%s is only allowed in GROUP BY (or its _START/_END in the select list of a grouped query)", n);
        return NULL;
    }
    if (x->filter || x->distinct || x->star) {
        fail(c, x->pos, "DISTINCT, * and FILTER apply only to aggregates, not %s", n);
        return NULL;
    }
    int nargs = (int)x->count;
    sl_bexpr_t **args = nargs ? sl_arena_zalloc(c->a, sizeof(*args) * (size_t)nargs) : NULL;
    if (nargs && !args) return NULL;
    for (int i = 0; i < nargs; i++)
        if (!(args[i] = bind_expr(c, x->list[i], s, ag))) return NULL;
    if (!strcasecmp(n, "COALESCE") || !strcasecmp(n, "NULLIF")) {
        int nullif = !strcasecmp(n, "NULLIF");
        if (nargs < 1 || (nullif && nargs != 2)) {
            fail(c, x->pos, "%s takes %s", n, nullif ? "2 arguments" : "at least 1 argument");
            return NULL;
        }
        int t = SL_TYPE_NULL;
        for (int i = 0; i < nargs; i++) {
            t = common_type((sl_type_t)t, args[i]->type);
            if (t < 0) {
                fail(c, args[i]->pos, "%s arguments must have one type; got %s", n, sl_type_name(args[i]->type));
                return NULL;
            }
        }
        sl_bexpr_t *e = bx_new(c, nullif ? SL_BX_NULLIF : SL_BX_COALESCE, (sl_type_t)t, x->pos, 0);
        if (!e) return NULL;
        for (int i = 0; i < nargs; i++) args[i] = cast_to(c, args[i], (sl_type_t)t);
        e->args = args;
        e->nargs = nargs;
        return e;
    }
    sl_type_t argt[64], want[64], ret;
    sl_fn_t id;
    if (nargs > 64) {
        fail(c, x->pos, "%s: too many arguments (at most 64)", n);
        return NULL;
    }
    for (int i = 0; i < nargs; i++) argt[i] = args[i]->type;
    char msg[160];
    if (sl_fn_resolve(n, strlen(n), argt, nargs, &id, &ret, want, msg, sizeof(msg))) {
        fail(c, x->pos, "%s", msg);
        return NULL;
    }
    for (int i = 0; i < nargs; i++) {
        if (want[i] != argt[i] && !cast_allowed(argt[i], want[i])) {
            fail(c, args[i]->pos, "%s: cannot convert %s to %s", n, sl_type_name(argt[i]),
                 sl_type_name(want[i]));
            return NULL;
        }
        args[i] = cast_to(c, args[i], want[i]);
    }
    sl_bexpr_t *e = bx_new(c, SL_BX_CALL, ret, x->pos, 0);
    if (!e) return NULL;
    e->fn = id;
    e->args = args;
    e->nargs = nargs;
    return e;
}

/* Binds an aggregate call into the aggregation context: returns a column reference to the
 * aggregate's output (index = nkeys + window columns + its number). */
static sl_bexpr_t *bind_agg_call(ctx_t *c, const sl_ast_expr_t *x, const scope_t *s, aggctx_t *ag) {
    sl_agg_t g;
    memset(&g, 0, sizeof(g));
    const char *n = x->name;
    if (x->count > 1 || (!x->star && x->count == 0)) {
        fail(c, x->pos, "%s takes one argument", n);
        return NULL;
    }
    if (x->star && strcasecmp(n, "COUNT")) {
        fail(c, x->pos, "%s(*) is not allowed; only COUNT(*)", n);
        return NULL;
    }
    if (x->count == 1) {
        if (ast_contains_agg(x->list[0])) {
            fail(c, x->list[0]->pos, "aggregates cannot be nested");
            return NULL;
        }
        if (!(g.arg = bind_expr(c, x->list[0], s, NULL))) return NULL;
    }
    if (x->filter) {
        if (ast_contains_agg(x->filter)) {
            fail(c, x->filter->pos, "FILTER cannot contain an aggregate");
            return NULL;
        }
        if (!(g.filter = need_bool(c, bind_expr(c, x->filter, s, NULL), "FILTER (WHERE ...)")))
            return NULL;
    }
    g.distinct = x->distinct;
    sl_type_t at = g.arg ? g.arg->type : SL_TYPE_BIGINT;
    if (!strcasecmp(n, "COUNT")) {
        g.fn = x->star ? SL_AGG_COUNT_STAR : SL_AGG_COUNT;
        g.type = SL_TYPE_BIGINT;
    } else if (!strcasecmp(n, "SUM") || !strcasecmp(n, "AVG")) {
        g.fn = !strcasecmp(n, "SUM") ? SL_AGG_SUM : SL_AGG_AVG;
        if (at == SL_TYPE_NULL) g.arg = cast_to(c, g.arg, at = SL_TYPE_BIGINT);
        if (!sl_type_numeric(at) && at != SL_TYPE_INTERVAL) {
            fail(c, x->pos, "%s needs a numeric argument, not %s", n, sl_type_name(at));
            return NULL;
        }
        g.type = at;
    } else {
        g.fn = !strcasecmp(n, "MIN") ? SL_AGG_MIN : SL_AGG_MAX;
        if (at == SL_TYPE_NULL) g.arg = cast_to(c, g.arg, at = SL_TYPE_BIGINT);
        g.type = at;
    }
    /* The same aggregate twice is computed once. */
    for (int i = 0; i < ag->naggs; i++) {
        sl_agg_t *o = &ag->aggs[i];
        if (o->fn == g.fn && o->distinct == g.distinct && !o->arg == !g.arg &&
            (!o->arg || sl_bexpr_equal(o->arg, g.arg)) && !o->filter == !g.filter &&
            (!o->filter || sl_bexpr_equal(o->filter, g.filter)))
            return bx_col(c, ag->nkeys + (ag->windowed ? 2 : 0) + i, o->type, x->pos);
    }
    if (ag->naggs == ag->cap) {
        int cap = ag->cap ? ag->cap * 2 : 8;
        sl_agg_t *na = sl_arena_alloc(c->a, sizeof(*na) * (size_t)cap);
        if (!na) return NULL;
        if (ag->naggs) memcpy(na, ag->aggs, sizeof(*na) * (size_t)ag->naggs);
        ag->aggs = na;
        ag->cap = cap;
    }
    ag->aggs[ag->naggs] = g;
    int col = ag->nkeys + (ag->windowed ? 2 : 0) + ag->naggs;
    ag->naggs++;
    return bx_col(c, col, g.type, x->pos);
}

static int64_t interval_arg(ctx_t *c, const sl_ast_expr_t *x, const char *what) {
    if (!x || x->kind != SL_AX_LITERAL || x->lit_type != SL_TYPE_INTERVAL || x->lit.null) {
        fail(c, x ? x->pos : (sl_pos_t){0, 0}, "%s must be an INTERVAL literal", what);
        return -1;
    }
    if (x->lit.u.i <= 0) {
        fail(c, x->pos, "%s must be positive", what);
        return -1;
    }
    return x->lit.u.i;
}

static sl_bexpr_t *bind_expr(ctx_t *c, const sl_ast_expr_t *x, const scope_t *s, aggctx_t *ag) {
    if (c->failed || !x) return NULL;
    if (ag) {
        /* In a grouped query: aggregates, window bounds and group keys become references to the
         * aggregate's output; anything else is built from those. */
        if (x->kind == SL_AX_CALL && is_agg_name(x->name)) return bind_agg_call(c, x, s, ag);
        int aux = x->kind == SL_AX_CALL ? group_window_aux(x->name) : 0;
        if (aux) {
            if (!ag->win_call || strncasecmp(x->name, ag->win_call->name, strlen(ag->win_call->name))) {
                fail(c, x->pos, "%s needs the query to GROUP BY %.*s(...)", x->name,
                     (int)(strchr(x->name, '_') - x->name), x->name);
                return NULL;
            }
            /* Arguments must repeat the GROUP BY window's: checked by binding both. */
            if (x->count != ag->win_call->count) {
                fail(c, x->pos, "%s must have the same arguments as the GROUP BY window", x->name);
                return NULL;
            }
            int col = ag->nkeys + (aux == 1 ? 0 : 1);
            sl_bexpr_t *e = bx_col(c, col, SL_TYPE_TIMESTAMP, x->pos);
            if (e && aux == 3) { /* rowtime = end - 1 ms */
                sl_bexpr_t *one = bx_new(c, SL_BX_CONST, SL_TYPE_INTERVAL, x->pos, 0);
                if (!one) return NULL;
                one->val.u.i = 1;
                return bind_arith(c, SL_OP_SUB, e, one, x->pos);
            }
            return e;
        }
        if (!ast_contains_agg(x)) {
            if (s->win_base >= 0 && x->kind == SL_AX_COLUMN) {
                for (int w = 0; w < 2; w++)
                    if (!strcasecmp(x->name, w ? "window_end" : "window_start")) {
                        if (!ag->windowed) {
                            fail(c, x->pos, "%s must be in GROUP BY", x->name);
                            return NULL;
                        }
                        return bx_col(c, ag->nkeys + w, SL_TYPE_TIMESTAMP, x->pos);
                    }
            }
            sl_bexpr_t *e = bind_expr(c, x, s, NULL);
            if (!e) return NULL;
            for (int i = 0; i < ag->nkeys; i++)
                if (sl_bexpr_equal(e, ag->keys[i])) return bx_col(c, i, e->type, x->pos);
            if (e->kind == SL_BX_CONST) return e;
            if (x->kind == SL_AX_COLUMN) {
                fail(c, x->pos, "column %s must appear in GROUP BY or be used in an aggregate", x->name);
                return NULL;
            }
            /* fall through: rebuild from the parts, each of which must be grouped */
        }
    }
    sl_bexpr_t *e, *l, *r;
    switch (x->kind) {
    case SL_AX_LITERAL:
        e = bx_new(c, SL_BX_CONST, x->lit_type, x->pos, 0);
        if (!e) return NULL;
        e->val = x->lit;
        if (x->lit_type == SL_TYPE_VARCHAR && !x->lit.null) {
            /* the plan outlives the statement's AST: strings are copied into its arena */
            char *p = sl_arena_strndup(c->a, x->lit.u.s.p, x->lit.u.s.n);
            if (!p) return NULL;
            e->val.u.s.p = p;
        }
        return e;
    case SL_AX_COLUMN: {
        int i = find_col(c, s, x->qualifier, x->name, x->pos);
        if (i < 0) return NULL;
        if (s->win_base >= 0 && i >= s->win_base) {
            fail(c, x->pos, "%s is only available after GROUP BY window_start, window_end", x->name);
            return NULL;
        }
        return bx_col(c, i, s->cols[i].type, x->pos);
    }
    case SL_AX_STAR:
        fail(c, x->pos, "* is not allowed here");
        return NULL;
    case SL_AX_UNARY:
        if (!(l = bind_expr(c, x->a, s, ag))) return NULL;
        if (x->op == SL_OP_NOT) {
            if (!(l = need_bool(c, l, "the operand of NOT"))) return NULL;
            e = bx_new(c, SL_BX_OP, SL_TYPE_BOOLEAN, x->pos, 1);
        } else {
            if (!sl_type_numeric(l->type) && l->type != SL_TYPE_INTERVAL && l->type != SL_TYPE_NULL) {
                fail(c, x->pos, "unary - needs a number, not %s", sl_type_name(l->type));
                return NULL;
            }
            e = bx_new(c, SL_BX_OP, l->type == SL_TYPE_NULL ? SL_TYPE_BIGINT : l->type, x->pos, 1);
        }
        if (!e) return NULL;
        e->op = x->op;
        e->args[0] = l;
        return e;
    case SL_AX_BINARY:
        if (!(l = bind_expr(c, x->a, s, ag)) || !(r = bind_expr(c, x->b, s, ag))) return NULL;
        switch (x->op) {
        case SL_OP_AND:
        case SL_OP_OR:
            if (!(l = need_bool(c, l, x->op == SL_OP_AND ? "an operand of AND" : "an operand of OR")) ||
                !(r = need_bool(c, r, x->op == SL_OP_AND ? "an operand of AND" : "an operand of OR")))
                return NULL;
            e = bx_new(c, SL_BX_OP, SL_TYPE_BOOLEAN, x->pos, 2);
            if (!e) return NULL;
            e->op = x->op;
            e->args[0] = l;
            e->args[1] = r;
            return e;
        case SL_OP_EQ: case SL_OP_NE: case SL_OP_LT: case SL_OP_LE: case SL_OP_GT: case SL_OP_GE:
            return bind_compare(c, x->op, l, r, x->pos);
        case SL_OP_MOD: {
            sl_type_t at[2] = {l->type, r->type}, want[2], ret;
            sl_fn_t id;
            char msg[160];
            if (sl_fn_resolve("MOD", 3, at, 2, &id, &ret, want, msg, sizeof(msg))) {
                fail(c, x->pos, "%s", msg);
                return NULL;
            }
            e = bx_new(c, SL_BX_CALL, ret, x->pos, 2);
            if (!e) return NULL;
            e->fn = id;
            e->args[0] = cast_to(c, l, want[0]);
            e->args[1] = cast_to(c, r, want[1]);
            return e;
        }
        default:
            return bind_arith(c, x->op, l, r, x->pos);
        }
    case SL_AX_IS_NULL:
        if (!(l = bind_expr(c, x->a, s, ag))) return NULL;
        e = bx_new(c, SL_BX_IS_NULL, SL_TYPE_BOOLEAN, x->pos, 1);
        if (!e) return NULL;
        e->negated = x->negated;
        e->args[0] = l;
        return e;
    case SL_AX_IS_BOOL:
        if (!(l = need_bool(c, bind_expr(c, x->a, s, ag), "the operand of IS TRUE/FALSE"))) return NULL;
        e = bx_new(c, SL_BX_IS_BOOL, SL_TYPE_BOOLEAN, x->pos, 1);
        if (!e) return NULL;
        e->negated = x->negated;
        e->bool_value = x->bool_value;
        e->args[0] = l;
        return e;
    case SL_AX_LIKE: {
        if (!(l = bind_expr(c, x->a, s, ag)) || !(r = bind_expr(c, x->b, s, ag))) return NULL;
        sl_bexpr_t *esc = NULL;
        if (x->c && !(esc = bind_expr(c, x->c, s, ag))) return NULL;
        sl_bexpr_t *parts[3] = {l, r, esc};
        for (int i = 0; i < (esc ? 3 : 2); i++)
            if (parts[i]->type != SL_TYPE_VARCHAR && parts[i]->type != SL_TYPE_NULL) {
                fail(c, parts[i]->pos, "LIKE needs VARCHAR operands, not %s", sl_type_name(parts[i]->type));
                return NULL;
            }
        e = bx_new(c, SL_BX_CALL, SL_TYPE_BOOLEAN, x->pos, esc ? 3 : 2);
        if (!e) return NULL;
        e->fn = SL_FN_LIKE;
        for (int i = 0; i < e->nargs; i++) e->args[i] = cast_to(c, parts[i], SL_TYPE_VARCHAR);
        return x->negated ? negate(c, e, x->pos) : e;
    }
    case SL_AX_IN: {
        if (!(l = bind_expr(c, x->a, s, ag))) return NULL;
        e = bx_new(c, SL_BX_IN, SL_TYPE_BOOLEAN, x->pos, (int)x->count + 1);
        if (!e) return NULL;
        e->negated = x->negated;
        int t = l->type;
        for (size_t i = 0; i < x->count; i++) {
            if (!(e->args[i + 1] = bind_expr(c, x->list[i], s, ag))) return NULL;
            if ((t = common_type((sl_type_t)t, e->args[i + 1]->type)) < 0) {
                fail(c, x->list[i]->pos, "IN list value of type %s does not match %s",
                     sl_type_name(e->args[i + 1]->type), sl_type_name(l->type));
                return NULL;
            }
        }
        if (t == SL_TYPE_NULL) t = SL_TYPE_BIGINT;
        e->args[0] = cast_to(c, l, (sl_type_t)t);
        for (int i = 1; i < e->nargs; i++) e->args[i] = cast_to(c, e->args[i], (sl_type_t)t);
        return e;
    }
    case SL_AX_BETWEEN: {
        sl_bexpr_t *lo, *hi, *v2;
        if (!(l = bind_expr(c, x->a, s, ag)) || !(lo = bind_expr(c, x->b, s, ag)) ||
            !(hi = bind_expr(c, x->c, s, ag)) || !(v2 = bind_expr(c, x->a, s, ag)))
            return NULL;
        sl_bexpr_t *ge = bind_compare(c, SL_OP_GE, l, lo, x->pos);
        sl_bexpr_t *le = bind_compare(c, SL_OP_LE, v2, hi, x->pos);
        if (!ge || !le) return NULL;
        e = bx_new(c, SL_BX_OP, SL_TYPE_BOOLEAN, x->pos, 2);
        if (!e) return NULL;
        e->op = SL_OP_AND;
        e->args[0] = ge;
        e->args[1] = le;
        return x->negated ? negate(c, e, x->pos) : e;
    }
    case SL_AX_CASE: {
        size_t pairs = x->count / 2;
        int has_else = x->b != NULL;
        e = bx_new(c, SL_BX_CASE, SL_TYPE_NULL, x->pos, (int)(pairs * 2) + has_else);
        if (!e) return NULL;
        e->has_else = (uint8_t)has_else;
        sl_bexpr_t *operand = NULL;
        if (x->a && !(operand = bind_expr(c, x->a, s, ag))) return NULL;
        int t = SL_TYPE_NULL;
        for (size_t i = 0; i < pairs; i++) {
            sl_bexpr_t *w = bind_expr(c, x->list[2 * i], s, ag);
            if (!w) return NULL;
            if (operand) {
                /* CASE a WHEN v: compare a copy of the operand (bound again) with v */
                sl_bexpr_t *a2 = bind_expr(c, x->a, s, ag);
                if (!a2 || !(w = bind_compare(c, SL_OP_EQ, a2, w, x->list[2 * i]->pos))) return NULL;
            } else if (!(w = need_bool(c, w, "a WHEN condition"))) {
                return NULL;
            }
            e->args[2 * i] = w;
            if (!(e->args[2 * i + 1] = bind_expr(c, x->list[2 * i + 1], s, ag))) return NULL;
            if ((t = common_type((sl_type_t)t, e->args[2 * i + 1]->type)) < 0) {
                fail(c, x->list[2 * i + 1]->pos, "CASE branches have different types (%s)",
                     sl_type_name(e->args[2 * i + 1]->type));
                return NULL;
            }
        }
        if (has_else) {
            sl_bexpr_t *el = bind_expr(c, x->b, s, ag);
            if (!el) return NULL;
            if ((t = common_type((sl_type_t)t, el->type)) < 0) {
                fail(c, x->b->pos, "CASE branches have different types (ELSE is %s)", sl_type_name(el->type));
                return NULL;
            }
            e->args[2 * pairs] = el;
        }
        if (t == SL_TYPE_NULL) t = SL_TYPE_VARCHAR;
        e->type = (sl_type_t)t;
        for (size_t i = 0; i < pairs; i++) e->args[2 * i + 1] = cast_to(c, e->args[2 * i + 1], e->type);
        if (has_else) e->args[2 * pairs] = cast_to(c, e->args[2 * pairs], e->type);
        return e;
    }
    case SL_AX_CAST:
        if (!(l = bind_expr(c, x->a, s, ag))) return NULL;
        if (!cast_allowed(l->type, x->cast_type)) {
            fail(c, x->pos, "cannot CAST %s to %s", sl_type_name(l->type), sl_type_name(x->cast_type));
            return NULL;
        }
        if (l->type == x->cast_type) return l;
        e = bx_new(c, SL_BX_CAST, x->cast_type, x->pos, 1);
        if (!e) return NULL;
        e->args[0] = l;
        return e;
    case SL_AX_CALL:
        return bind_call(c, x, s, ag);
    }
    fail(c, x->pos, "unsupported expression");
    return NULL;
}

/* HOP (slide, size) and CUMULATE (step, size): the size must be a whole number of steps. */
static int sliding(ctx_t *c, sl_window_t *w, sl_window_kind_t kind, const sl_ast_expr_t *step,
                   const sl_ast_expr_t *size) {
    const char *name = kind == SL_WIN_HOP ? "HOP" : "CUMULATE", *sname = kind == SL_WIN_HOP ? "slide" : "step";
    char what[32];
    w->kind = kind;
    snprintf(what, sizeof(what), "%s %s", name, sname);
    w->slide_ms = interval_arg(c, step, what);
    snprintf(what, sizeof(what), "%s size", name);
    w->size_ms = interval_arg(c, size, what);
    if (!c->failed && w->size_ms % w->slide_ms) {
        fail(c, size->pos, "%s size must be a multiple of its %s", name, sname);
        return -1;
    }
    return c->failed ? -1 : 0;
}

/* ---- FROM ---------------------------------------------------------------------------------- */

static sl_plan_t *plan_new(ctx_t *c, sl_plan_kind_t kind, sl_plan_t *input, int ncols) {
    sl_plan_t *p = sl_arena_zalloc(c->a, sizeof(*p));
    if (!p) return NULL;
    p->kind = kind;
    p->input = input;
    p->ncols = ncols;
    p->limit = -1;
    if (ncols && !(p->cols = sl_arena_zalloc(c->a, sizeof(*p->cols) * (size_t)ncols))) return NULL;
    return p;
}

static sl_plan_t *bind_select_q(ctx_t *c, const sl_ast_select_t *sel, scope_t *out_scope);

static sl_plan_t *bind_from(ctx_t *c, const sl_ast_from_t *f, scope_t *s) {
    sl_plan_t *p = NULL;
    memset(s, 0, sizeof(*s));
    s->win_base = -1;
    switch (f->kind) {
    case SL_AF_TABLE: {
        const sl_stream_def_t *sd = c->cat->stream ? c->cat->stream(c->cat->ud, f->name) : NULL;
        const sl_view_def_t *vd = c->cat->view ? c->cat->view(c->cat->ud, f->name) : NULL;
        if (c->continuous && !sd) {
            fail(c, f->pos, vd ? "%s is a view; continuous queries read streams (CREATE STREAM)"
                               : "unknown stream %s", f->name);
            return NULL;
        }
        if (!c->continuous && !vd) {
            fail(c, f->pos, sd ? "%s is a stream; an ad-hoc SELECT reads a materialized view "
                                 "(CREATE MATERIALIZED VIEW v AS SELECT ... FROM %s)"
                               : "unknown view %s", f->name, f->name);
            return NULL;
        }
        int n = sd ? sd->ncols : vd->ncols;
        if (!(p = plan_new(c, sd ? SL_PN_SCAN : SL_PN_VIEW_SCAN, NULL, n))) return NULL;
        p->stream = sd;
        p->view = vd;
        if (!(s->cols = sl_arena_zalloc(c->a, sizeof(*s->cols) * (size_t)n))) return NULL;
        s->ncols = n;
        for (int i = 0; i < n; i++) {
            p->cols[i] = sd ? sd->cols[i] : vd->cols[i];
            s->cols[i].name = p->cols[i].name;
            s->cols[i].type = p->cols[i].type;
            s->cols[i].qual = f->alias ? f->alias : f->name;
            s->cols[i].timeattr = sd && sd->wm_col == i ? 1 : 0;
        }
        return p;
    }
    case SL_AF_SUBQUERY: {
        if (!(p = bind_select_q(c, f->sub, s))) return NULL;
        for (int i = 0; i < s->ncols; i++) s->cols[i].qual = f->alias;
        return p;
    }
    case SL_AF_WINDOW: {
        if (!(p = bind_from(c, f->input, s))) return NULL;
        if (f->alias)
            for (int i = 0; i < s->ncols; i++) s->cols[i].qual = f->alias;
        int tc = find_col(c, s, NULL, f->descriptor, f->pos);
        if (tc < 0) return NULL;
        if (!s->cols[tc].timeattr) {
            fail(c, f->pos, "DESCRIPTOR(%s) must name a time attribute: the stream's WATERMARK column or PROCTIME()",
                 f->descriptor);
            return NULL;
        }
        sl_window_t *w = &s->window;
        w->time_col = tc;
        w->proctime = s->cols[tc].timeattr == 2;
        /* TUMBLE(size [, offset]), HOP(slide, size [, offset]), CUMULATE(step, size [, offset]),
         * SESSION(gap): a session has no offset, so exactly one interval. */
        size_t want_min = f->wkind == SL_AW_TUMBLE || f->wkind == SL_AW_SESSION ? 1 : 2;
        size_t want_max = f->wkind == SL_AW_SESSION ? 1 : want_min + 1;
        if (f->wargc < want_min || f->wargc > want_max) {
            if (want_min == want_max) fail(c, f->pos, "window function takes %zu interval argument", want_min);
            else fail(c, f->pos, "window function takes %zu or %zu interval arguments", want_min, want_max);
            return NULL;
        }
        switch (f->wkind) {
        case SL_AW_TUMBLE:
            w->kind = SL_WIN_TUMBLE;
            w->size_ms = w->slide_ms = interval_arg(c, f->wargs[0], "TUMBLE size");
            break;
        case SL_AW_HOP:
            if (sliding(c, w, SL_WIN_HOP, f->wargs[0], f->wargs[1])) return NULL;
            break;
        case SL_AW_CUMULATE:
            if (sliding(c, w, SL_WIN_CUMULATE, f->wargs[0], f->wargs[1])) return NULL;
            break;
        case SL_AW_SESSION:
            w->kind = SL_WIN_SESSION;
            w->size_ms = interval_arg(c, f->wargs[0], "SESSION gap");
            break;
        }
        if (f->wargc == want_min + 1 && f->wkind != SL_AW_SESSION) {
            const sl_ast_expr_t *o = f->wargs[want_min];
            if (o->kind != SL_AX_LITERAL || o->lit_type != SL_TYPE_INTERVAL) {
                fail(c, o->pos, "window offset must be an INTERVAL literal");
                return NULL;
            }
            w->offset_ms = o->lit.u.i;
        }
        if (c->failed) return NULL;
        scol_t *nc = sl_arena_zalloc(c->a, sizeof(*nc) * (size_t)(s->ncols + 3));
        if (!nc) return NULL;
        memcpy(nc, s->cols, sizeof(*nc) * (size_t)s->ncols);
        static const char *wn[3] = {"window_start", "window_end", "window_time"};
        for (int i = 0; i < 3; i++) {
            nc[s->ncols + i].name = wn[i];
            nc[s->ncols + i].type = SL_TYPE_TIMESTAMP;
            nc[s->ncols + i].qual = f->alias;
        }
        s->win_base = s->ncols;
        s->cols = nc;
        s->ncols += 3;
        return p;
    }
    }
    return NULL;
}

/* ---- SELECT -------------------------------------------------------------------------------- */

static const char *item_name(ctx_t *c, const sl_ast_item_t *it, int index) {
    if (it->alias) return sl_arena_strndup(c->a, it->alias, strlen(it->alias));
    if (it->expr->kind == SL_AX_COLUMN) return sl_arena_strndup(c->a, it->expr->name, strlen(it->expr->name));
    char buf[32];
    snprintf(buf, sizeof(buf), "EXPR$%d", index);
    return sl_arena_strndup(c->a, buf, strlen(buf));
}

/* Keeps a time attribute visible through a projection of a plain column or PROCTIME(). */
static int expr_timeattr(const sl_bexpr_t *e, const scope_t *in) {
    if (e->kind == SL_BX_COL && in && e->col < in->ncols) return in->cols[e->col].timeattr;
    if (e->kind == SL_BX_CALL && e->fn == SL_FN_PROCTIME) return 2;
    return 0;
}

static int group_window(ctx_t *c, const sl_ast_expr_t *g, const scope_t *s, aggctx_t *ag) {
    if (ag->windowed) {
        fail(c, g->pos, "GROUP BY may hold only one window");
        return -1;
    }
    sl_window_t *w = &ag->window;
    const char *n = g->name;
    size_t want = !strcasecmp(n, "HOP") ? 3 : 2;
    if (g->count != want) {
        fail(c, g->pos, "%s takes %zu arguments", n, want);
        return -1;
    }
    if (g->list[0]->kind != SL_AX_COLUMN) {
        fail(c, g->list[0]->pos, "the first argument of %s must be a time attribute column", n);
        return -1;
    }
    int tc = find_col(c, s, g->list[0]->qualifier, g->list[0]->name, g->list[0]->pos);
    if (tc < 0) return -1;
    if (!s->cols[tc].timeattr) {
        fail(c, g->list[0]->pos, "%s must be a time attribute: the stream's WATERMARK column or PROCTIME()",
             g->list[0]->name);
        return -1;
    }
    w->time_col = tc;
    w->proctime = s->cols[tc].timeattr == 2;
    if (!strcasecmp(n, "TUMBLE")) {
        w->kind = SL_WIN_TUMBLE;
        w->size_ms = w->slide_ms = interval_arg(c, g->list[1], "TUMBLE size");
    } else if (!strcasecmp(n, "HOP")) {
        if (sliding(c, w, SL_WIN_HOP, g->list[1], g->list[2])) return -1;
    } else {
        w->kind = SL_WIN_SESSION;
        w->size_ms = interval_arg(c, g->list[1], "SESSION gap");
    }
    if (c->failed) return -1;
    ag->windowed = 1;
    ag->win_call = g;
    return 0;
}

static sl_plan_t *bind_select_q(ctx_t *c, const sl_ast_select_t *sel, scope_t *os) {
    scope_t s;
    sl_plan_t *p;
    if (sel->from) {
        if (!(p = bind_from(c, sel->from, &s))) return NULL;
    } else {
        if (c->continuous) {
            fail(c, sel->pos, "a continuous query needs FROM a stream");
            return NULL;
        }
        memset(&s, 0, sizeof(s));
        s.win_base = -1;
        if (!(p = plan_new(c, SL_PN_VALUES, NULL, 0))) return NULL;
    }
    if (sel->where) {
        if (ast_contains_agg(sel->where)) {
            fail(c, sel->where->pos, "WHERE cannot contain aggregates (use HAVING)");
            return NULL;
        }
        sl_bexpr_t *pred = need_bool(c, bind_expr(c, sel->where, &s, NULL), "WHERE");
        if (!pred) return NULL;
        sl_plan_t *f = plan_new(c, SL_PN_FILTER, p, p->ncols);
        if (!f) return NULL;
        memcpy(f->cols, p->cols, sizeof(*f->cols) * (size_t)p->ncols);
        f->pred = pred;
        p = f;
    }
    int grouped = sel->group_count > 0 || (sel->having != NULL);
    for (size_t i = 0; i < sel->item_count && !grouped; i++)
        if (ast_contains_agg(sel->items[i].expr)) grouped = 1;
    /* SELECT DISTINCT a, b is planned as SELECT a, b ... GROUP BY a, b (as Flink does): an
     * aggregate without aggregate functions whose groups are the distinct rows. Over a grouped
     * query it would need a second aggregation, which is not supported: refused, not ignored. */
    if (sel->distinct) {
        if (grouped) {
            fail(c, sel->pos, "SELECT DISTINCT cannot be combined with GROUP BY, HAVING or aggregates");
            return NULL;
        }
        grouped = 1;
    }

    /* The input the select list sees, and the scope it is bound in. */
    aggctx_t agc, *ag = NULL;
    memset(&agc, 0, sizeof(agc));
    if (grouped) {
        ag = &agc;
        agc.keys = sl_arena_zalloc(c->a, sizeof(*agc.keys) *
                                             (sel->group_count + (sel->distinct ? sel->item_count : 0) + 1));
        if (!agc.keys) return NULL;
        for (size_t i = 0; sel->distinct && i < sel->item_count; i++) {
            const sl_ast_expr_t *x = sel->items[i].expr;
            if (x->kind == SL_AX_STAR) {
                fail(c, x->pos, "SELECT DISTINCT * is not supported; name the columns");
                return NULL;
            }
            sl_bexpr_t *k = bind_expr(c, x, &s, NULL);
            if (!k) return NULL;
            agc.keys[agc.nkeys++] = k;
        }
        int saw_ws = 0, saw_we = 0;
        for (size_t i = 0; i < sel->group_count; i++) {
            const sl_ast_expr_t *g = sel->group_by[i];
            if (g->kind == SL_AX_CALL && is_group_window_name(g->name)) {
                if (group_window(c, g, &s, ag)) return NULL;
                continue;
            }
            if (s.win_base >= 0 && g->kind == SL_AX_COLUMN &&
                (!strcasecmp(g->name, "window_start") || !strcasecmp(g->name, "window_end"))) {
                if (!strcasecmp(g->name, "window_start")) saw_ws = 1; else saw_we = 1;
                continue;
            }
            if (ast_contains_agg(g)) {
                fail(c, g->pos, "GROUP BY cannot contain aggregates");
                return NULL;
            }
            sl_bexpr_t *k = bind_expr(c, g, &s, NULL);
            if (!k) return NULL;
            agc.keys[agc.nkeys++] = k;
        }
        if (s.win_base >= 0) {
            if (!saw_ws || !saw_we) {
                fail(c, sel->pos, "a window TVF query must GROUP BY window_start, window_end");
                return NULL;
            }
            if (agc.windowed) {
                fail(c, sel->pos, "GROUP BY TUMBLE/HOP/SESSION cannot be combined with a window TVF");
                return NULL;
            }
            agc.windowed = 1;
            agc.window = s.window;
        }
        if (c->continuous && !agc.windowed) {
            /* an updating aggregate: fine (a view updated in place) */
        }
    } else if (s.win_base >= 0) {
        fail(c, sel->pos, "a window TVF is only supported with GROUP BY window_start, window_end");
        return NULL;
    }

    /* Select list. */
    size_t nitems = 0;
    for (size_t i = 0; i < sel->item_count; i++) {
        const sl_ast_expr_t *x = sel->items[i].expr;
        if (x->kind == SL_AX_STAR) {
            if (grouped) {
                fail(c, x->pos, "SELECT * cannot be used with GROUP BY");
                return NULL;
            }
            int cnt = 0;
            for (int j = 0; j < (s.win_base >= 0 ? s.win_base : s.ncols); j++)
                if (!x->qualifier || (s.cols[j].qual && !strcasecmp(s.cols[j].qual, x->qualifier))) cnt++;
            if (!cnt) {
                fail(c, x->pos, "%s.* matches no relation", x->qualifier ? x->qualifier : "");
                return NULL;
            }
            nitems += (size_t)cnt;
        } else {
            nitems++;
        }
    }
    sl_bexpr_t **exprs = sl_arena_zalloc(c->a, sizeof(*exprs) * (nitems + 1));
    const char **names = sl_arena_zalloc(c->a, sizeof(*names) * (nitems + 1));
    int *tattr = sl_arena_zalloc(c->a, sizeof(int) * (nitems + 1));
    if (!exprs || !names || !tattr) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < sel->item_count; i++) {
        const sl_ast_item_t *it = &sel->items[i];
        if (it->expr->kind == SL_AX_STAR) {
            for (int j = 0; j < s.ncols && (s.win_base < 0 || j < s.win_base); j++) {
                if (it->expr->qualifier &&
                    (!s.cols[j].qual || strcasecmp(s.cols[j].qual, it->expr->qualifier)))
                    continue;
                if (!(exprs[k] = bx_col(c, j, s.cols[j].type, it->pos))) return NULL;
                names[k] = s.cols[j].name;
                tattr[k] = s.cols[j].timeattr;
                k++;
            }
            continue;
        }
        if (!(exprs[k] = bind_expr(c, it->expr, &s, ag))) return NULL;
        names[k] = item_name(c, it, (int)k);
        tattr[k] = ag ? 0 : expr_timeattr(exprs[k], &s);
        k++;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(names[i], names[j])) {
                fail(c, sel->items[i < sel->item_count ? i : 0].pos,
                     "duplicate output column %s (give one an alias with AS)", names[i]);
                return NULL;
            }
    sl_bexpr_t *having = NULL;
    if (sel->having && !(having = need_bool(c, bind_expr(c, sel->having, &s, ag), "HAVING"))) return NULL;

    if (grouped) {
        int nout = agc.nkeys + (agc.windowed ? 2 : 0) + agc.naggs;
        sl_plan_t *a = plan_new(c, SL_PN_AGGREGATE, p, nout);
        if (!a) return NULL;
        a->keys = agc.keys;
        a->nkeys = agc.nkeys;
        a->window = agc.window;
        if (!agc.windowed) a->window.kind = SL_WIN_NONE;
        a->aggs = agc.aggs;
        a->naggs = agc.naggs;
        int o = 0;
        for (int i = 0; i < agc.nkeys; i++, o++) {
            char buf[24];
            snprintf(buf, sizeof(buf), "$key%d", i);
            a->cols[o].name = sl_arena_strndup(c->a, buf, strlen(buf));
            a->cols[o].type = agc.keys[i]->type;
        }
        if (agc.windowed) {
            a->cols[o].name = "window_start";
            a->cols[o++].type = SL_TYPE_TIMESTAMP;
            a->cols[o].name = "window_end";
            a->cols[o++].type = SL_TYPE_TIMESTAMP;
        }
        for (int i = 0; i < agc.naggs; i++, o++) {
            char buf[24];
            snprintf(buf, sizeof(buf), "$agg%d", i);
            a->cols[o].name = sl_arena_strndup(c->a, buf, strlen(buf));
            a->cols[o].type = agc.aggs[i].type;
        }
        p = a;
        if (having) {
            sl_plan_t *f = plan_new(c, SL_PN_FILTER, p, p->ncols);
            if (!f) return NULL;
            memcpy(f->cols, p->cols, sizeof(*f->cols) * (size_t)p->ncols);
            f->pred = having;
            p = f;
        }
    }
    sl_plan_t *pr = plan_new(c, SL_PN_PROJECT, p, (int)k);
    if (!pr) return NULL;
    pr->exprs = exprs;
    for (size_t i = 0; i < k; i++) {
        pr->cols[i].name = names[i];
        pr->cols[i].type = exprs[i]->type == SL_TYPE_NULL ? SL_TYPE_VARCHAR : exprs[i]->type;
    }
    p = pr;
    if (sel->order_count || sel->limit >= 0) {
        if (c->continuous) {
            fail(c, sel->pos, "ORDER BY and LIMIT are only allowed in ad-hoc reads of a view");
            return NULL;
        }
        sl_plan_t *so = plan_new(c, SL_PN_SORT, p, p->ncols);
        if (!so) return NULL;
        memcpy(so->cols, p->cols, sizeof(*so->cols) * (size_t)p->ncols);
        so->limit = sel->limit;
        so->nsort = (int)sel->order_count;
        if (so->nsort) {
            so->sort_keys = sl_arena_zalloc(c->a, sizeof(*so->sort_keys) * (size_t)so->nsort);
            so->sort_desc = sl_arena_zalloc(c->a, (size_t)so->nsort);
            if (!so->sort_keys || !so->sort_desc) return NULL;
        }
        /* ORDER BY names an output column (or its position). */
        scope_t ps;
        memset(&ps, 0, sizeof(ps));
        ps.win_base = -1;
        ps.ncols = p->ncols;
        if (!(ps.cols = sl_arena_zalloc(c->a, sizeof(*ps.cols) * (size_t)(p->ncols + 1)))) return NULL;
        for (int i = 0; i < p->ncols; i++) {
            ps.cols[i].name = p->cols[i].name;
            ps.cols[i].type = p->cols[i].type;
        }
        for (int i = 0; i < so->nsort; i++) {
            const sl_ast_expr_t *ox = sel->order_by[i].expr;
            if (ox->kind == SL_AX_LITERAL && ox->lit_type == SL_TYPE_BIGINT) {
                if (ox->lit.u.i < 1 || ox->lit.u.i > p->ncols) {
                    fail(c, ox->pos, "ORDER BY position %lld is not in the select list", (long long)ox->lit.u.i);
                    return NULL;
                }
                so->sort_keys[i] = bx_col(c, (int)ox->lit.u.i - 1, p->cols[ox->lit.u.i - 1].type, ox->pos);
            } else if (!(so->sort_keys[i] = bind_expr(c, ox, &ps, NULL))) {
                return NULL;
            }
            so->sort_desc[i] = sel->order_by[i].desc;
        }
        p = so;
    }
    if (os) {
        memset(os, 0, sizeof(*os));
        os->win_base = -1;
        os->ncols = p->ncols;
        if (!(os->cols = sl_arena_zalloc(c->a, sizeof(*os->cols) * (size_t)(p->ncols + 1)))) return NULL;
        for (int i = 0; i < p->ncols; i++) {
            os->cols[i].name = p->cols[i].name;
            os->cols[i].type = p->cols[i].type;
            os->cols[i].timeattr = i < (int)k ? tattr[i] : 0;
        }
    }
    return p;
}

sl_plan_t *sl_bind_select(sl_arena_t *a, const sl_catalog_t *cat, const sl_ast_select_t *sel,
                          int continuous, sl_sql_error_t *err) {
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.cat = cat;
    c.err = err;
    c.continuous = continuous;
    sl_plan_t *p = bind_select_q(&c, sel, NULL);
    if (!p && !c.failed) fail(&c, sel->pos, "out of memory");
    return c.failed ? NULL : p;
}

/* ---- CREATE STREAM ------------------------------------------------------------------------- */

static int pointer_ok(const char *s) {
    /* RFC 6901: "" or "/" followed by tokens where '~' is followed by 0 or 1. */
    if (!*s) return 1;
    if (*s != '/') return 0;
    for (const char *p = s; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1') return 0;
    return 1;
}

static int parse_duration_ms(const char *v, int64_t *out) {
    /* "5000" (ms), "5 s", "5s", "2 min", "1h", "100ms" */
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0) return -1;
    while (*end == ' ') end++;
    int64_t mul;
    if (!*end || !strcasecmp(end, "ms")) mul = 1;
    else if (!strcasecmp(end, "s") || !strcasecmp(end, "sec") || !strcasecmp(end, "second") || !strcasecmp(end, "seconds")) mul = 1000;
    else if (!strcasecmp(end, "min") || !strcasecmp(end, "minute") || !strcasecmp(end, "minutes")) mul = 60000;
    else if (!strcasecmp(end, "h") || !strcasecmp(end, "hour") || !strcasecmp(end, "hours")) mul = 3600000;
    else return -1;
    *out = (int64_t)n * mul;
    return 0;
}

sl_stream_def_t *sl_bind_stream(sl_arena_t *a, const sl_ast_stmt_t *st, sl_sql_error_t *err) {
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.err = err;
    assert(st->kind == SL_AS_CREATE_STREAM);
    sl_stream_def_t *d = sl_arena_zalloc(a, sizeof(*d));
    if (!d) goto oom;
    d->name = st->name;
    d->ncols = (int)st->column_count;
    d->wm_col = -1;
    if (!st->column_count) {
        fail(&c, st->pos, "a stream needs at least one column");
        return NULL;
    }
    d->cols = sl_arena_zalloc(a, sizeof(*d->cols) * st->column_count);
    d->paths = sl_arena_zalloc(a, sizeof(*d->paths) * st->column_count);
    if (!d->cols || !d->paths) goto oom;
    for (size_t i = 0; i < st->column_count; i++) {
        const sl_ast_column_t *col = &st->columns[i];
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(st->columns[j].name, col->name)) {
                fail(&c, col->pos, "duplicate column %s", col->name);
                return NULL;
            }
        if (col->type == SL_TYPE_INTERVAL || col->type == SL_TYPE_NULL) {
            fail(&c, col->pos, "column %s: type %s cannot be read from JSON", col->name, sl_type_name(col->type));
            return NULL;
        }
        d->cols[i].name = col->name;
        d->cols[i].type = col->type;
        if (col->path) {
            if (!pointer_ok(col->path) || !col->path[0]) {
                fail(&c, col->pos, "column %s: PATH '%s' is not a JSON Pointer such as '/user/id'",
                     col->name, col->path);
                return NULL;
            }
            d->paths[i] = col->path;
        } else {
            size_t n = strlen(col->name);
            char *pth = sl_arena_alloc(a, 2 * n + 2), *q = pth;
            if (!pth) goto oom;
            *q++ = '/';
            for (size_t j = 0; j < n; j++) {
                if (col->name[j] == '~') { *q++ = '~'; *q++ = '0'; }
                else if (col->name[j] == '/') { *q++ = '~'; *q++ = '1'; }
                else *q++ = col->name[j];
            }
            *q = 0;
            d->paths[i] = pth;
        }
    }
    if (st->wm_column) {
        int wc = -1;
        for (int i = 0; i < d->ncols; i++)
            if (!strcasecmp(d->cols[i].name, st->wm_column)) wc = i;
        if (wc < 0) {
            fail(&c, st->wm_expr ? st->wm_expr->pos : st->pos, "WATERMARK FOR names unknown column %s", st->wm_column);
            return NULL;
        }
        if (d->cols[wc].type != SL_TYPE_TIMESTAMP) {
            fail(&c, st->wm_expr->pos, "WATERMARK column %s must be TIMESTAMP(3), not %s", st->wm_column,
                 sl_type_name(d->cols[wc].type));
            return NULL;
        }
        const sl_ast_expr_t *w = st->wm_expr;
        int64_t delay = -1;
        if (w->kind == SL_AX_COLUMN && !strcasecmp(w->name, st->wm_column)) {
            delay = 0;
        } else if (w->kind == SL_AX_BINARY && w->op == SL_OP_SUB && w->a->kind == SL_AX_COLUMN &&
                   !strcasecmp(w->a->name, st->wm_column) && w->b->kind == SL_AX_LITERAL &&
                   w->b->lit_type == SL_TYPE_INTERVAL && w->b->lit.u.i >= 0) {
            delay = w->b->lit.u.i;
        }
        if (delay < 0) {
            fail(&c, w->pos, "the watermark must be `%s` or `%s - INTERVAL '<n>' <unit>`", st->wm_column,
                 st->wm_column);
            return NULL;
        }
        d->wm_col = wc;
        d->wm_delay_ms = delay;
    }
    for (size_t i = 0; i < st->option_count; i++) {
        const sl_ast_option_t *o = &st->options[i];
        if (!strcasecmp(o->key, "topic")) {
            d->topic = o->value;
        } else if (!strcasecmp(o->key, "format") || !strcasecmp(o->key, "value.format")) {
            if (strcasecmp(o->value, "json")) {
                fail(&c, o->pos, "format '%s' is not supported; only 'json'", o->value);
                return NULL;
            }
        } else if (!strcasecmp(o->key, "on_error")) {
            if (!strcasecmp(o->value, "fail")) d->on_error_fail = 1;
            else if (!strcasecmp(o->value, "null")) d->on_error_fail = 0;
            else {
                fail(&c, o->pos, "on_error must be 'null' or 'fail', not '%s'", o->value);
                return NULL;
            }
        } else if (!strcasecmp(o->key, "idle_timeout")) {
            if (parse_duration_ms(o->value, &d->idle_timeout_ms)) {
                fail(&c, o->pos, "idle_timeout '%s' is not a duration such as '5 s' or '500 ms'", o->value);
                return NULL;
            }
        } else if (!strcasecmp(o->key, "connector")) {
            /* Flink DDL carries a connector; sluice streams always read sluice topics. */
        } else {
            fail(&c, o->pos, "unknown stream option '%s' (known: topic, format, on_error, idle_timeout)", o->key);
            return NULL;
        }
    }
    if (!d->topic) d->topic = d->name;
    return d;
oom:
    fail(&c, st->pos, "out of memory");
    return NULL;
}
