/* EXPLAIN: a plan printed one node a line, the sink first, each input indented below its
 * consumer, with expressions written back as SQL over the input's column names. */
#include <inttypes.h>
#include <stdio.h>

#include "sql/plan.h"

static const char *op_text(sl_op_t op) {
    static const char *t[] = {"-", "NOT ", "+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=",
                              ">", ">=", "AND", "OR"};
    return t[op];
}

static const char *col_name(const sl_plan_t *in, int col, char *buf, size_t n) {
    if (in && col >= 0 && col < in->ncols) return in->cols[col].name;
    snprintf(buf, n, "$%d", col);
    return buf;
}

int sl_bexpr_print(sl_buf_t *out, const sl_bexpr_t *e, const sl_plan_t *in) {
    char tmp[32];
    int rc = 0;
    switch (e->kind) {
    case SL_BX_CONST:
        if (e->val.null) return sl_buf_lit(out, "NULL");
        switch (e->type) {
        case SL_TYPE_BOOLEAN: return sl_buf_printf(out, "%s", e->val.u.i ? "TRUE" : "FALSE");
        case SL_TYPE_DOUBLE: return sl_buf_printf(out, "%.17g", e->val.u.d);
        case SL_TYPE_VARCHAR:
            rc |= sl_buf_putc(out, '\'');
            for (uint32_t i = 0; i < e->val.u.s.n; i++) {
                if (e->val.u.s.p[i] == '\'') rc |= sl_buf_putc(out, '\'');
                rc |= sl_buf_putc(out, e->val.u.s.p[i]);
            }
            return rc | sl_buf_putc(out, '\'');
        case SL_TYPE_INTERVAL: return sl_buf_printf(out, "INTERVAL '%" PRId64 "' MILLISECOND", e->val.u.i);
        case SL_TYPE_TIMESTAMP: return sl_buf_printf(out, "TIMESTAMP_MS %" PRId64, e->val.u.i);
        default: return sl_buf_printf(out, "%" PRId64, e->val.u.i);
        }
    case SL_BX_COL: return sl_buf_printf(out, "%s", col_name(in, e->col, tmp, sizeof(tmp)));
    case SL_BX_OP:
        if (e->nargs == 1) {
            rc |= sl_buf_printf(out, "%s", op_text(e->op));
            return rc | sl_bexpr_print(out, e->args[0], in);
        }
        rc |= sl_buf_putc(out, '(');
        rc |= sl_bexpr_print(out, e->args[0], in);
        rc |= sl_buf_printf(out, " %s ", op_text(e->op));
        rc |= sl_bexpr_print(out, e->args[1], in);
        return rc | sl_buf_putc(out, ')');
    case SL_BX_CALL:
    case SL_BX_COALESCE:
    case SL_BX_NULLIF:
        rc |= sl_buf_printf(out, "%s(", e->kind == SL_BX_CALL ? sl_fn_name(e->fn)
                                       : e->kind == SL_BX_COALESCE ? "COALESCE" : "NULLIF");
        for (int i = 0; i < e->nargs; i++) {
            if (i) rc |= sl_buf_lit(out, ", ");
            rc |= sl_bexpr_print(out, e->args[i], in);
        }
        return rc | sl_buf_putc(out, ')');
    case SL_BX_CASE:
        rc |= sl_buf_lit(out, "CASE");
        for (int i = 0; i + 1 < e->nargs || (i + 1 == e->nargs && !e->has_else); i += 2) {
            if (i + 1 >= e->nargs) break;
            rc |= sl_buf_lit(out, " WHEN ");
            rc |= sl_bexpr_print(out, e->args[i], in);
            rc |= sl_buf_lit(out, " THEN ");
            rc |= sl_bexpr_print(out, e->args[i + 1], in);
        }
        if (e->has_else) {
            rc |= sl_buf_lit(out, " ELSE ");
            rc |= sl_bexpr_print(out, e->args[e->nargs - 1], in);
        }
        return rc | sl_buf_lit(out, " END");
    case SL_BX_CAST:
        rc |= sl_buf_lit(out, "CAST(");
        rc |= sl_bexpr_print(out, e->args[0], in);
        return rc | sl_buf_printf(out, " AS %s)", sl_type_name(e->type));
    case SL_BX_IS_NULL:
        rc |= sl_bexpr_print(out, e->args[0], in);
        return rc | sl_buf_printf(out, " IS %sNULL", e->negated ? "NOT " : "");
    case SL_BX_IS_BOOL:
        rc |= sl_bexpr_print(out, e->args[0], in);
        return rc | sl_buf_printf(out, " IS %s%s", e->negated ? "NOT " : "", e->bool_value ? "TRUE" : "FALSE");
    case SL_BX_IN:
        rc |= sl_bexpr_print(out, e->args[0], in);
        rc |= sl_buf_printf(out, " %sIN (", e->negated ? "NOT " : "");
        for (int i = 1; i < e->nargs; i++) {
            if (i > 1) rc |= sl_buf_lit(out, ", ");
            rc |= sl_bexpr_print(out, e->args[i], in);
        }
        return rc | sl_buf_putc(out, ')');
    }
    return rc;
}

static const char *agg_name(sl_agg_fn_t f) {
    static const char *n[] = {"COUNT", "COUNT", "SUM", "MIN", "MAX", "AVG"};
    return n[f];
}

static int explain_node(sl_buf_t *out, const sl_plan_t *p, int depth) {
    int rc = sl_buf_printf(out, "%*s", depth * 2, "");
    const sl_plan_t *in = p->input;
    switch (p->kind) {
    case SL_PN_SCAN:
        rc |= sl_buf_printf(out, "Scan stream=%s topic=%s columns=[", p->stream->name, p->stream->topic);
        for (int i = 0; i < p->ncols; i++)
            rc |= sl_buf_printf(out, "%s%s %s", i ? ", " : "", p->cols[i].name, sl_type_name(p->cols[i].type));
        rc |= sl_buf_putc(out, ']');
        if (p->stream->wm_col >= 0)
            rc |= sl_buf_printf(out, " watermark=%s - %" PRId64 " ms", p->cols[p->stream->wm_col].name,
                                p->stream->wm_delay_ms);
        break;
    case SL_PN_VIEW_SCAN: rc |= sl_buf_printf(out, "ViewScan view=%s", p->view->name); break;
    case SL_PN_VALUES: rc |= sl_buf_lit(out, "Values (one row)"); break;
    case SL_PN_PROJECT:
        rc |= sl_buf_lit(out, "Project ");
        for (int i = 0; i < p->ncols; i++) {
            if (i) rc |= sl_buf_lit(out, ", ");
            rc |= sl_bexpr_print(out, p->exprs[i], in);
            rc |= sl_buf_printf(out, " AS %s", p->cols[i].name);
        }
        break;
    case SL_PN_FILTER:
        rc |= sl_buf_lit(out, "Filter ");
        rc |= sl_bexpr_print(out, p->pred, in);
        break;
    case SL_PN_AGGREGATE: {
        static const char *wk[] = {"none", "TUMBLE", "HOP", "CUMULATE", "SESSION"};
        rc |= sl_buf_printf(out, "Aggregate");
        if (p->window.kind != SL_WIN_NONE) {
            rc |= sl_buf_printf(out, " window=%s(%s, size=%" PRId64 " ms", wk[p->window.kind],
                                in->cols[p->window.time_col].name, p->window.size_ms);
            if (p->window.kind == SL_WIN_HOP || p->window.kind == SL_WIN_CUMULATE)
                rc |= sl_buf_printf(out, ", %s=%" PRId64 " ms", p->window.kind == SL_WIN_HOP ? "slide" : "step",
                                    p->window.slide_ms);
            if (p->window.offset_ms) rc |= sl_buf_printf(out, ", offset=%" PRId64 " ms", p->window.offset_ms);
            rc |= sl_buf_printf(out, ")%s emit=on-watermark", p->window.proctime ? " proctime" : "");
        } else {
            rc |= sl_buf_lit(out, " emit=updates");
        }
        rc |= sl_buf_lit(out, " keys=[");
        for (int i = 0; i < p->nkeys; i++) {
            if (i) rc |= sl_buf_lit(out, ", ");
            rc |= sl_bexpr_print(out, p->keys[i], in);
        }
        rc |= sl_buf_lit(out, "] aggs=[");
        for (int i = 0; i < p->naggs; i++) {
            const sl_agg_t *g = &p->aggs[i];
            if (i) rc |= sl_buf_lit(out, ", ");
            rc |= sl_buf_printf(out, "%s(%s", agg_name(g->fn), g->distinct ? "DISTINCT " : "");
            if (g->arg) rc |= sl_bexpr_print(out, g->arg, in);
            else rc |= sl_buf_putc(out, '*');
            rc |= sl_buf_putc(out, ')');
            if (g->filter) {
                rc |= sl_buf_lit(out, " FILTER (WHERE ");
                rc |= sl_bexpr_print(out, g->filter, in);
                rc |= sl_buf_putc(out, ')');
            }
        }
        rc |= sl_buf_putc(out, ']');
        break;
    }
    case SL_PN_SORT:
        rc |= sl_buf_lit(out, "Sort");
        for (int i = 0; i < p->nsort; i++) {
            rc |= sl_buf_lit(out, i ? ", " : " by ");
            rc |= sl_bexpr_print(out, p->sort_keys[i], in);
            if (p->sort_desc[i]) rc |= sl_buf_lit(out, " DESC");
        }
        if (p->limit >= 0) rc |= sl_buf_printf(out, " limit=%" PRId64, p->limit);
        break;
    }
    rc |= sl_buf_putc(out, '\n');
    if (in) rc |= explain_node(out, in, depth + 1);
    return rc;
}

int sl_plan_explain(sl_buf_t *out, const sl_plan_t *p) { return explain_node(out, p, 0); }
