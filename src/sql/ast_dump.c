/* The S-expression dump of a parsed statement (the shapes are listed in ast_dump.h). Recursion
 * follows the tree, whose depth the parser bounds (SL_SQL_MAX_DEPTH). Buffer errors are sticky:
 * every writer returns early once one failed, and the caller sees -1. */
#include "sql/ast_dump.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dump {
    sl_buf_t *out;
    int failed;
} dump_t;

static void put(dump_t *d, const char *s) {
    if (!d->failed && sl_buf_append(d->out, s, strlen(s))) d->failed = 1;
}

static void putn(dump_t *d, const char *s, size_t n) {
    if (!d->failed && sl_buf_append(d->out, s, n)) d->failed = 1;
}

/* 'text' with quotes doubled, as SQL writes it. */
static void put_quoted(dump_t *d, const char *s, size_t n) {
    put(d, "'");
    for (size_t i = 0; i < n; i++) putn(d, s[i] == '\'' ? "''" : s + i, s[i] == '\'' ? 2 : 1);
    put(d, "'");
}

static const char *type_name(sl_type_t t) {
    switch (t) {
    case SL_TYPE_NULL: return "NULL";
    case SL_TYPE_BOOLEAN: return "BOOLEAN";
    case SL_TYPE_BIGINT: return "BIGINT";
    case SL_TYPE_DOUBLE: return "DOUBLE";
    case SL_TYPE_VARCHAR: return "VARCHAR";
    case SL_TYPE_TIMESTAMP: return "TIMESTAMP";
    case SL_TYPE_INTERVAL: return "INTERVAL";
    }
    return "?";
}

/* The shortest %g form that reads back as the same double, with a '.' added when it would
 * otherwise look like an integer. */
static void put_double(dump_t *d, double v) {
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof(b), "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    if (!strpbrk(b, ".eEn")) strcat(b, ".0");
    put(d, b);
}

static void put_i64(dump_t *d, int64_t v) {
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    put(d, b);
}

static const char *op_name(sl_op_t op) {
    switch (op) {
    case SL_OP_NEG: return "neg";
    case SL_OP_NOT: return "not";
    case SL_OP_ADD: return "+";
    case SL_OP_SUB: return "-";
    case SL_OP_MUL: return "*";
    case SL_OP_DIV: return "/";
    case SL_OP_MOD: return "%";
    case SL_OP_CONCAT: return "||";
    case SL_OP_EQ: return "=";
    case SL_OP_NE: return "<>";
    case SL_OP_LT: return "<";
    case SL_OP_LE: return "<=";
    case SL_OP_GT: return ">";
    case SL_OP_GE: return ">=";
    case SL_OP_AND: return "and";
    case SL_OP_OR: return "or";
    }
    return "?";
}

static void dump_select(dump_t *d, const sl_ast_select_t *s);

static void dump_expr(dump_t *d, const sl_ast_expr_t *e) {
    assert(e);
    switch (e->kind) {
    case SL_AX_LITERAL:
        if (e->lit.null) {
            put(d, "null");
            return;
        }
        switch (e->lit_type) {
        case SL_TYPE_BOOLEAN: put(d, e->lit.u.i ? "true" : "false"); return;
        case SL_TYPE_BIGINT: put_i64(d, e->lit.u.i); return;
        case SL_TYPE_DOUBLE: put_double(d, e->lit.u.d); return;
        case SL_TYPE_VARCHAR: put_quoted(d, e->lit.u.s.p, e->lit.u.s.n); return;
        case SL_TYPE_INTERVAL:
        case SL_TYPE_TIMESTAMP:
            put(d, e->lit_type == SL_TYPE_INTERVAL ? "(interval " : "(timestamp ");
            put_i64(d, e->lit.u.i);
            put(d, ")");
            return;
        case SL_TYPE_NULL: put(d, "null"); return;
        }
        return;
    case SL_AX_COLUMN:
        put(d, "(col ");
        if (e->qualifier) put(d, e->qualifier), put(d, ".");
        put(d, e->name);
        put(d, ")");
        return;
    case SL_AX_STAR:
        if (e->qualifier) put(d, e->qualifier), put(d, ".");
        put(d, "*");
        return;
    case SL_AX_UNARY:
    case SL_AX_BINARY:
        put(d, "(");
        put(d, op_name(e->op));
        put(d, " ");
        dump_expr(d, e->a);
        if (e->kind == SL_AX_BINARY) put(d, " "), dump_expr(d, e->b);
        put(d, ")");
        return;
    case SL_AX_IS_NULL:
    case SL_AX_IS_BOOL:
        put(d, e->negated ? "(is-not-" : "(is-");
        put(d, e->kind == SL_AX_IS_NULL ? "null " : e->bool_value ? "true " : "false ");
        dump_expr(d, e->a);
        put(d, ")");
        return;
    case SL_AX_LIKE:
    case SL_AX_BETWEEN:
        put(d, e->negated ? "(not-" : "(");
        put(d, e->kind == SL_AX_LIKE ? "like " : "between ");
        dump_expr(d, e->a);
        put(d, " ");
        dump_expr(d, e->b);
        if (e->c) put(d, " "), dump_expr(d, e->c);
        put(d, ")");
        return;
    case SL_AX_IN:
        put(d, e->negated ? "(not-in " : "(in ");
        dump_expr(d, e->a);
        for (size_t i = 0; i < e->count; i++) put(d, " "), dump_expr(d, e->list[i]);
        put(d, ")");
        return;
    case SL_AX_CASE:
        put(d, "(case");
        if (e->a) put(d, " "), dump_expr(d, e->a);
        for (size_t i = 0; i + 1 < e->count; i += 2) {
            put(d, " (when ");
            dump_expr(d, e->list[i]);
            put(d, " ");
            dump_expr(d, e->list[i + 1]);
            put(d, ")");
        }
        if (e->b) put(d, " (else "), dump_expr(d, e->b), put(d, ")");
        put(d, ")");
        return;
    case SL_AX_CAST:
        put(d, "(cast ");
        dump_expr(d, e->a);
        put(d, " ");
        put(d, type_name(e->cast_type));
        put(d, ")");
        return;
    case SL_AX_CALL:
        put(d, "(call ");
        put(d, e->name);
        if (e->distinct) put(d, " distinct");
        if (e->star) put(d, " *");
        for (size_t i = 0; i < e->count; i++) put(d, " "), dump_expr(d, e->list[i]);
        if (e->filter) put(d, " (filter "), dump_expr(d, e->filter), put(d, ")");
        put(d, ")");
        return;
    }
}

static void dump_from(dump_t *d, const sl_ast_from_t *f) {
    static const char *const wname[] = {"tumble", "hop", "cumulate", "session"};
    if (f->alias) put(d, "(as ");
    switch (f->kind) {
    case SL_AF_TABLE:
        put(d, "(table ");
        put(d, f->name);
        put(d, ")");
        break;
    case SL_AF_SUBQUERY:
        dump_select(d, f->sub);
        break;
    case SL_AF_WINDOW:
        put(d, "(");
        put(d, wname[f->wkind]);
        put(d, " ");
        dump_from(d, f->input);
        put(d, " (descriptor ");
        put(d, f->descriptor);
        put(d, ")");
        for (size_t i = 0; i < f->wargc; i++) put(d, " "), dump_expr(d, f->wargs[i]);
        put(d, ")");
        break;
    }
    if (f->alias) put(d, " "), put(d, f->alias), put(d, ")");
}

static void dump_list(dump_t *d, const char *head, sl_ast_expr_t *const *l, size_t n) {
    put(d, head);
    for (size_t i = 0; i < n; i++) put(d, " "), dump_expr(d, l[i]);
    put(d, ")");
}

static void dump_select(dump_t *d, const sl_ast_select_t *s) {
    assert(s && s->item_count > 0);
    put(d, s->distinct ? "(select distinct (items" : "(select (items");
    for (size_t i = 0; i < s->item_count; i++) {
        const sl_ast_item_t *it = &s->items[i];
        put(d, " ");
        if (it->alias) put(d, "(as ");
        dump_expr(d, it->expr);
        if (it->alias) put(d, " "), put(d, it->alias), put(d, ")");
    }
    put(d, ")");
    if (s->from) put(d, " (from "), dump_from(d, s->from), put(d, ")");
    if (s->where) put(d, " (where "), dump_expr(d, s->where), put(d, ")");
    if (s->group_count) dump_list(d, " (group-by", s->group_by, s->group_count);
    if (s->having) put(d, " (having "), dump_expr(d, s->having), put(d, ")");
    if (s->order_count) {
        put(d, " (order-by");
        for (size_t i = 0; i < s->order_count; i++) {
            put(d, s->order_by[i].desc ? " (desc " : " (asc ");
            dump_expr(d, s->order_by[i].expr);
            put(d, ")");
        }
        put(d, ")");
    }
    if (s->limit >= 0) put(d, " (limit "), put_i64(d, s->limit), put(d, ")");
    put(d, ")");
}

static void dump_options(dump_t *d, const sl_ast_stmt_t *s) {
    if (!s->option_count) return;
    put(d, " (with");
    for (size_t i = 0; i < s->option_count; i++) {
        put(d, " (");
        put(d, s->options[i].key);
        put(d, " ");
        put_quoted(d, s->options[i].value, strlen(s->options[i].value));
        put(d, ")");
    }
    put(d, ")");
}

static void dump_head(dump_t *d, const char *what, const sl_ast_stmt_t *s) {
    put(d, what);
    put(d, s->name);
    if (s->if_not_exists) put(d, " if-not-exists");
}

int sl_ast_dump_stmt(sl_buf_t *out, const sl_ast_stmt_t *s) {
    static const char *const objs[] = {"stream", "view", "sink", "queries"};
    static const char *const shows[] = {"streams", "views", "sinks", "queries"};
    dump_t d = {out, 0};
    assert(s);
    switch (s->kind) {
    case SL_AS_SELECT:
        dump_select(&d, s->select);
        break;
    case SL_AS_EXPLAIN:
        put(&d, "(explain ");
        dump_select(&d, s->select);
        put(&d, ")");
        break;
    case SL_AS_INSERT:
        put(&d, "(insert ");
        put(&d, s->name);
        put(&d, " ");
        dump_select(&d, s->select);
        put(&d, ")");
        break;
    case SL_AS_CREATE_STREAM:
        dump_head(&d, "(create-stream ", s);
        put(&d, " (columns");
        for (size_t i = 0; i < s->column_count; i++) {
            const sl_ast_column_t *c = &s->columns[i];
            put(&d, " (");
            put(&d, c->name);
            put(&d, " ");
            put(&d, type_name(c->type));
            if (c->path) put(&d, " (path "), put_quoted(&d, c->path, strlen(c->path)), put(&d, ")");
            put(&d, ")");
        }
        put(&d, ")");
        if (s->wm_column) {
            put(&d, " (watermark ");
            put(&d, s->wm_column);
            put(&d, " ");
            dump_expr(&d, s->wm_expr);
            put(&d, ")");
        }
        dump_options(&d, s);
        put(&d, ")");
        break;
    case SL_AS_CREATE_VIEW:
        dump_head(&d, "(create-view ", s);
        dump_options(&d, s);
        put(&d, " ");
        dump_select(&d, s->select);
        put(&d, ")");
        break;
    case SL_AS_CREATE_SINK:
        dump_head(&d, "(create-sink ", s);
        put(&d, " (topic ");
        put_quoted(&d, s->topic, strlen(s->topic));
        put(&d, ")");
        dump_options(&d, s);
        put(&d, " ");
        dump_select(&d, s->select);
        put(&d, ")");
        break;
    case SL_AS_SHOW:
        put(&d, "(show ");
        put(&d, shows[s->object]);
        put(&d, ")");
        break;
    case SL_AS_DESCRIBE:
        put(&d, "(describe ");
        put(&d, s->name);
        put(&d, ")");
        break;
    case SL_AS_DROP:
        put(&d, "(drop ");
        put(&d, objs[s->object]);
        if (s->if_exists) put(&d, " if-exists");
        put(&d, " ");
        put(&d, s->name);
        put(&d, ")");
        break;
    }
    return d.failed ? -1 : 0;
}
