/* Bound expressions and logical plans: what the binder (sql/bind.c) makes of an AST, and what the
 * executor (exec/) compiles and runs. Names are resolved, every expression has its type, casts are
 * explicit, and each plan node lists the columns it produces (so a later join node is just a node
 * with two inputs: `input` becomes `inputs[2]` without touching the others).
 *
 * A continuous query is a chain, read bottom-up:
 *
 *   SCAN stream ─> [PROJECT] ─> [FILTER] ─> [AGGREGATE (windowed or not)] ─> [FILTER having]
 *               ─> PROJECT ─> (sink: a view or a topic)
 *
 * Everything lives in the plan's arena. */
#ifndef SL_SQL_PLAN_H
#define SL_SQL_PLAN_H
#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/buf.h"
#include "sql/ast.h"
#include "sql/func.h"
#include "sql/types.h"

/* ---- bound expressions ----------------------------------------------------------------- */

typedef enum sl_bx_kind {
    SL_BX_CONST,       /* val */
    SL_BX_COL,         /* col: index into the input node's columns */
    SL_BX_OP,          /* op over args[0] (unary) or args[0], args[1] */
    SL_BX_CALL,        /* fn(args) */
    SL_BX_CASE,        /* args = when0, then0, when1, then1, ..., [else]; has_else */
    SL_BX_CAST,        /* args[0] to type */
    SL_BX_IS_NULL,     /* args[0] IS [NOT] NULL */
    SL_BX_IS_BOOL,     /* args[0] IS [NOT] TRUE/FALSE (bool_value) */
    SL_BX_IN,          /* args[0] [NOT] IN (args[1..]) */
    SL_BX_COALESCE,    /* first non-NULL of args */
    SL_BX_NULLIF,      /* NULLIF(args[0], args[1]) */
} sl_bx_kind_t;

typedef struct sl_bexpr sl_bexpr_t;
struct sl_bexpr {
    sl_bx_kind_t kind;
    sl_type_t type;
    sl_op_t op;
    uint8_t negated, has_else, bool_value;
    int col;
    sl_fn_t fn;
    sl_value_t val;
    sl_bexpr_t **args;
    int nargs;
    sl_pos_t pos;
};

/* ---- plan nodes ------------------------------------------------------------------------ */

typedef struct sl_pcol {
    const char *name;
    sl_type_t type;
} sl_pcol_t;

/* A stream as declared by CREATE STREAM (the binder's view of the catalog). */
typedef struct sl_stream_def {
    const char *name;
    const char *topic;
    sl_pcol_t *cols;
    const char **paths;            /* JSON Pointer per column */
    int ncols;
    int wm_col;                    /* the event-time column, -1 = none (ingest time) */
    int64_t wm_delay_ms;           /* WATERMARK FOR c AS c - INTERVAL: the bound */
    int on_error_fail;             /* 'on_error' = 'fail' */
    int64_t idle_timeout_ms;       /* 'idle_timeout' (ms); 0 = never idle */
} sl_stream_def_t;

/* A materialized view's schema, for ad-hoc SELECTs over it. */
typedef struct sl_view_def {
    const char *name;
    sl_pcol_t *cols;
    int ncols;
} sl_view_def_t;

typedef enum sl_plan_kind {
    SL_PN_SCAN,        /* a stream: all its columns, in declaration order */
    SL_PN_VIEW_SCAN,   /* an ad-hoc read of a materialized view */
    SL_PN_VALUES,      /* SELECT without FROM: one empty row */
    SL_PN_PROJECT,     /* exprs over the input */
    SL_PN_FILTER,      /* pred over the input; output = input columns */
    SL_PN_AGGREGATE,   /* group keys + window + aggregates */
    SL_PN_SORT,        /* ad-hoc only: ORDER BY / LIMIT */
} sl_plan_kind_t;

typedef enum sl_agg_fn { SL_AGG_COUNT_STAR, SL_AGG_COUNT, SL_AGG_SUM, SL_AGG_MIN, SL_AGG_MAX, SL_AGG_AVG } sl_agg_fn_t;

typedef struct sl_agg {
    sl_agg_fn_t fn;
    sl_bexpr_t *arg;               /* NULL for COUNT(*) */
    sl_bexpr_t *filter;            /* FILTER (WHERE ...) or NULL */
    uint8_t distinct;
    sl_type_t type;                /* result type */
} sl_agg_t;

typedef enum sl_window_kind { SL_WIN_NONE, SL_WIN_TUMBLE, SL_WIN_HOP, SL_WIN_CUMULATE, SL_WIN_SESSION } sl_window_kind_t;

typedef struct sl_window {
    sl_window_kind_t kind;
    int time_col;                  /* input column holding the time attribute */
    int proctime;                  /* the time attribute is PROCTIME() */
    int64_t size_ms;               /* TUMBLE/HOP/CUMULATE: window size; SESSION: gap */
    int64_t slide_ms;              /* HOP: slide; CUMULATE: step; TUMBLE: = size */
    int64_t offset_ms;             /* window alignment offset */
} sl_window_t;

typedef struct sl_plan sl_plan_t;
struct sl_plan {
    sl_plan_kind_t kind;
    sl_plan_t *input;
    sl_pcol_t *cols;               /* output columns */
    int ncols;
    /* SCAN */
    const sl_stream_def_t *stream;
    /* VIEW_SCAN */
    const sl_view_def_t *view;
    /* PROJECT: exprs[ncols]; FILTER: pred */
    sl_bexpr_t **exprs;
    sl_bexpr_t *pred;
    /* AGGREGATE: output = keys[nkeys] ++ (window_start, window_end when windowed) ++ aggs[naggs] */
    sl_bexpr_t **keys;
    int nkeys;
    sl_window_t window;
    sl_agg_t *aggs;
    int naggs;
    /* SORT */
    sl_bexpr_t **sort_keys;
    uint8_t *sort_desc;
    int nsort;
    int64_t limit;                 /* -1 = none */
};

/* Where a query's event time comes from, for watermarks: the SCAN's stream's wm_col, carried
 * through projections; -1 in a node's output = lost (then windows need PROCTIME). */

/* ---- binding --------------------------------------------------------------------------- */

typedef struct sl_catalog {
    void *ud;
    const sl_stream_def_t *(*stream)(void *ud, const char *name);   /* NULL if none */
    const sl_view_def_t *(*view)(void *ud, const char *name);       /* NULL if none */
} sl_catalog_t;

/* Binds a SELECT into a plan in arena a. continuous = 1 for the body of a view or sink (only
 * streams may be read, ORDER BY/LIMIT are refused), 0 for an ad-hoc read (only views may be
 * read). Returns the plan, or NULL with err filled (position and message). */
sl_plan_t *sl_bind_select(sl_arena_t *a, const sl_catalog_t *cat, const sl_ast_select_t *sel,
                          int continuous, sl_sql_error_t *err);

/* Builds a stream definition from CREATE STREAM. NULL with err on a bad watermark, a duplicate
 * column, a bad option or a bad JSON Pointer. */
sl_stream_def_t *sl_bind_stream(sl_arena_t *a, const sl_ast_stmt_t *st, sl_sql_error_t *err);

/* EXPLAIN text, one node a line, indented by depth. */
int sl_plan_explain(sl_buf_t *out, const sl_plan_t *p);
/* 1 if two bound expressions are the same computation (a GROUP BY key met again in the select
 * list, one DISTINCT argument or FILTER shared by several aggregates). */
int sl_bexpr_equal(const sl_bexpr_t *x, const sl_bexpr_t *y);
/* An expression as SQL-ish text, column references by name of the input's columns. */
int sl_bexpr_print(sl_buf_t *out, const sl_bexpr_t *e, const sl_plan_t *input);

#endif
