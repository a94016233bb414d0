/* The abstract syntax tree the parser (sql/parse.c, from grammar.y and lexer.re) produces and the
 * binder (sql/bind.c) consumes. Every node lives in the statement's arena; lists are arrays with
 * a count. Every node records where it starts (line and column, both 1-based) so the binder's
 * messages can point at it. Names are NUL-terminated copies; quoted identifiers (`x` or "x")
 * keep their case, bare ones keep the case as written (the binder compares case-insensitively). */
#ifndef SL_SQL_AST_H
#define SL_SQL_AST_H
#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "sql/types.h"

typedef struct sl_pos {
    uint32_t line, col;
} sl_pos_t;

/* ---- expressions ----------------------------------------------------------------------- */

typedef enum sl_ast_expr_kind {
    SL_AX_LITERAL,     /* lit_type + lit (VARCHAR literals point into the arena) */
    SL_AX_COLUMN,      /* [qualifier.]name */
    SL_AX_STAR,        /* [qualifier.]* in a select list, or the * of COUNT(*) */
    SL_AX_UNARY,       /* op (SL_OP_NEG, SL_OP_NOT), a */
    SL_AX_BINARY,      /* op, a, b */
    SL_AX_IS_NULL,     /* a IS [NOT] NULL (negated) */
    SL_AX_IS_BOOL,     /* a IS [NOT] TRUE / FALSE: bool_value, negated */
    SL_AX_LIKE,        /* a [NOT] LIKE b [ESCAPE c] */
    SL_AX_IN,          /* a [NOT] IN (list...) */
    SL_AX_BETWEEN,     /* a [NOT] BETWEEN b AND c */
    SL_AX_CASE,        /* CASE [a] WHEN list[2i] THEN list[2i+1] ... [ELSE b] END */
    SL_AX_CAST,        /* CAST(a AS cast_type) */
    SL_AX_CALL,        /* name(list...) [FILTER (WHERE filter)], distinct, star = COUNT(*) */
} sl_ast_expr_kind_t;

typedef enum sl_op {
    SL_OP_NEG, SL_OP_NOT,
    SL_OP_ADD, SL_OP_SUB, SL_OP_MUL, SL_OP_DIV, SL_OP_MOD, SL_OP_CONCAT,
    SL_OP_EQ, SL_OP_NE, SL_OP_LT, SL_OP_LE, SL_OP_GT, SL_OP_GE,
    SL_OP_AND, SL_OP_OR,
} sl_op_t;

typedef struct sl_ast_expr sl_ast_expr_t;
struct sl_ast_expr {
    sl_ast_expr_kind_t kind;
    sl_pos_t pos;
    sl_op_t op;
    uint8_t negated;           /* NOT LIKE, NOT IN, NOT BETWEEN, IS NOT NULL, IS NOT TRUE */
    uint8_t distinct;          /* COUNT(DISTINCT x) */
    uint8_t star;              /* COUNT(*) */
    uint8_t bool_value;        /* IS [NOT] TRUE (1) / FALSE (0) */
    sl_type_t lit_type;        /* SL_AX_LITERAL: NULL, BOOLEAN, BIGINT, DOUBLE, VARCHAR, INTERVAL,
                                  TIMESTAMP (TIMESTAMP '2015-07-15 00:00:00' literals) */
    sl_value_t lit;
    sl_type_t cast_type;       /* SL_AX_CAST */
    const char *qualifier;     /* SL_AX_COLUMN / SL_AX_STAR: table alias or NULL */
    const char *name;          /* SL_AX_COLUMN: column; SL_AX_CALL: function name as written */
    sl_ast_expr_t *a, *b, *c;  /* operands; CASE: a = operand (or NULL), b = ELSE (or NULL) */
    sl_ast_expr_t **list;      /* IN list, CALL arguments, CASE when/then pairs */
    size_t count;
    sl_ast_expr_t *filter;     /* aggregate FILTER (WHERE ...) or NULL */
};

/* Special call forms map onto SL_AX_CALL with these names and argument lists:
 *   EXTRACT(HOUR FROM ts)                  -> EXTRACT('HOUR', ts)
 *   SUBSTRING(s FROM i [FOR n])            -> SUBSTRING(s, i [, n])
 *   TRIM([BOTH|LEADING|TRAILING] [c] FROM s) -> TRIM('BOTH'|'LEADING'|'TRAILING', c or ' ', s)
 *   TRIM(s)                                -> TRIM('BOTH', ' ', s)
 *   POSITION(a IN b)                       -> POSITION(a, b)
 *   CURRENT_TIMESTAMP (no parentheses)     -> CURRENT_TIMESTAMP()
 *   COALESCE, NULLIF, TUMBLE_START, ...    -> ordinary calls; the binder gives them meaning.
 * INTERVAL literals: INTERVAL '10' SECOND, INTERVAL '1' MINUTE, INTERVAL '2' HOUR,
 * INTERVAL '1' DAY, INTERVAL '1.5' SECOND, INTERVAL '00:01:30' HOUR TO SECOND (lit.u.i = ms). */

/* ---- queries --------------------------------------------------------------------------- */

typedef struct sl_ast_select sl_ast_select_t;

typedef struct sl_ast_item {   /* one select-list entry */
    sl_ast_expr_t *expr;       /* SL_AX_STAR for * and t.* */
    const char *alias;         /* AS alias, or NULL */
    sl_pos_t pos;
} sl_ast_item_t;

typedef enum sl_ast_from_kind {
    SL_AF_TABLE,               /* name [AS alias] */
    SL_AF_SUBQUERY,            /* (select) [AS alias] */
    SL_AF_WINDOW,              /* TABLE(TUMBLE|HOP|CUMULATE(TABLE name | (select) ..., DESCRIPTOR(col), ...)) */
} sl_ast_from_kind_t;

typedef enum sl_ast_window_kind { SL_AW_TUMBLE, SL_AW_HOP, SL_AW_CUMULATE, SL_AW_SESSION } sl_ast_window_kind_t;

typedef struct sl_ast_from sl_ast_from_t;
struct sl_ast_from {
    sl_ast_from_kind_t kind;
    sl_pos_t pos;
    const char *name;          /* SL_AF_TABLE */
    sl_ast_select_t *sub;      /* SL_AF_SUBQUERY */
    const char *alias;
    /* SL_AF_WINDOW: the window TVF over `input` (an SL_AF_TABLE or SL_AF_SUBQUERY) */
    sl_ast_window_kind_t wkind;
    sl_ast_from_t *input;
    const char *descriptor;    /* the time column named by DESCRIPTOR(col) */
    sl_ast_expr_t **wargs;     /* the interval arguments in order: TUMBLE (size [, offset]),
                                  HOP (slide, size [, offset]), CUMULATE (step, size [, offset]) */
    size_t wargc;
};

typedef struct sl_ast_order {
    sl_ast_expr_t *expr;
    uint8_t desc;
} sl_ast_order_t;

struct sl_ast_select {
    sl_pos_t pos;
    uint8_t distinct;          /* SELECT DISTINCT */
    sl_ast_item_t *items;
    size_t item_count;
    sl_ast_from_t *from;       /* NULL for SELECT without FROM (e.g. SELECT 1 + 1) */
    sl_ast_expr_t *where;
    sl_ast_expr_t **group_by;  /* may include TUMBLE(ts, i), HOP(ts, slide, size), SESSION(ts, gap) calls */
    size_t group_count;
    sl_ast_expr_t *having;
    sl_ast_order_t *order_by;  /* ad-hoc reads of views only */
    size_t order_count;
    int64_t limit;             /* -1 = none */
};

/* ---- statements ------------------------------------------------------------------------ */

typedef struct sl_ast_option {  /* WITH ('key' = 'value', key = 'value') */
    const char *key;
    const char *value;
    sl_pos_t pos;
} sl_ast_option_t;

typedef struct sl_ast_column {   /* a CREATE STREAM column */
    const char *name;
    sl_type_t type;
    const char *path;          /* PATH '/json/pointer', or NULL = "/" + name */
    sl_pos_t pos;
} sl_ast_column_t;

typedef enum sl_ast_stmt_kind {
    SL_AS_CREATE_STREAM,       /* name, columns, watermark, options */
    SL_AS_CREATE_VIEW,         /* CREATE MATERIALIZED VIEW name [WITH (...)] AS select */
    SL_AS_CREATE_SINK,         /* CREATE SINK name INTO TOPIC 'topic' [WITH (...)] AS select */
    SL_AS_INSERT,              /* INSERT INTO topic_or_stream select: target = name */
    SL_AS_SELECT,
    SL_AS_EXPLAIN,             /* EXPLAIN select (select) */
    SL_AS_SHOW,                /* SHOW STREAMS|VIEWS|SINKS|QUERIES: show_what */
    SL_AS_DESCRIBE,            /* DESCRIBE name */
    SL_AS_DROP,                /* DROP STREAM|VIEW|SINK [IF EXISTS] name: drop_what, if_exists */
} sl_ast_stmt_kind_t;

typedef enum sl_ast_object { SL_OBJ_STREAM, SL_OBJ_VIEW, SL_OBJ_SINK, SL_OBJ_QUERY } sl_ast_object_t;

typedef struct sl_ast_stmt {
    sl_ast_stmt_kind_t kind;
    sl_pos_t pos;
    const char *text;          /* the statement's source text (without the ';'), for catalogs */
    const char *name;
    uint8_t if_exists, if_not_exists, or_replace;
    sl_ast_column_t *columns;
    size_t column_count;
    const char *wm_column;     /* WATERMARK FOR wm_column AS wm_expr, or NULL */
    sl_ast_expr_t *wm_expr;
    sl_ast_option_t *options;
    size_t option_count;
    const char *topic;         /* CREATE SINK ... INTO TOPIC 'topic'; INSERT INTO target */
    sl_ast_select_t *select;
    sl_ast_object_t object;    /* SHOW / DROP */
} sl_ast_stmt_t;

/* Parsing errors carry the position of the offending token and its text. */
typedef struct sl_sql_error {
    sl_pos_t pos;
    char message[256];         /* e.g. "syntax error at line 1, column 8: unexpected FROM" */
} sl_sql_error_t;

/* Parses text[0..len) (one or more statements separated by ';'; a trailing ';' and comments
 * -- ... and / * ... * / allowed) into *stmts (an array in arena a) and *count. Returns 0, or -1
 * with err filled (nothing else is valid then). Limits (each with its own message): text of at
 * most SL_SQL_MAX_TEXT bytes, expressions nested at most SL_SQL_MAX_DEPTH deep, at most
 * SL_SQL_MAX_STATEMENTS statements. */
#define SL_SQL_MAX_TEXT (1u << 20)
#define SL_SQL_MAX_DEPTH 200
#define SL_SQL_MAX_STATEMENTS 1000
int sl_sql_parse(sl_arena_t *a, const char *text, size_t len, sl_ast_stmt_t **stmts, size_t *count,
                 sl_sql_error_t *err);

#endif
