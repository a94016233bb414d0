/* Parser internals shared by the three pieces of the SQL front end: the re2c lexer (lexer.re),
 * the lemon grammar (grammar.y, whose actions build the AST through the sl__sql_* helpers
 * below) and the driver (parse.c, which also implements those helpers). Nothing here is
 * visible outside src/sql; the public entry point is sl_sql_parse() in ast.h. */
#ifndef SL_SQL_PARSE_INT_H
#define SL_SQL_PARSE_INT_H
#include <stddef.h>
#include <stdint.h>
#include "sql/ast.h"

/* A token: its bytes in the NUL-terminated copy of the input and where it starts. Literal
 * values (numbers, unescaped strings and quoted identifiers) are decoded by the grammar
 * actions that use them, so the token stays small (it is lemon's stack entry payload). */
typedef struct sl__sql_tok {
    const char *p;
    uint32_t n;
    sl_pos_t pos;
} sl__sql_tok_t;

/* The lexer's state. src[len] is a NUL sentinel (re2c's end-of-input check); positions are
 * computed by scanning forward from the last one asked for, so asking in order is O(n) total. */
typedef struct sl__sql_lexer {
    const char *src, *cur, *lim;    /* lim = src + len */
    const char *mark;               /* the byte whose position is (line, col) */
    uint32_t line, col;
} sl__sql_lexer_t;

void sl__sql_lex_init(sl__sql_lexer_t *lx, const char *src, size_t len);
/* The next token into *tok: returns its code (TK_* from grammar.h), 0 at the end of the input
 * (tok->pos is then the end position), or -1 with err filled for a lexical error. */
int sl__sql_lex(sl__sql_lexer_t *lx, sl__sql_tok_t *tok, sl_sql_error_t *err);
/* The position of p (p must not be before the last position asked for). */
sl_pos_t sl__sql_lex_pos(sl__sql_lexer_t *lx, const char *p);

/* A growable array in the arena (old blocks are simply abandoned when it grows). */
typedef struct sl__sql_vec {
    void *v;
    uint32_t n, cap;
} sl__sql_vec_t;

/* The parse context lemon passes to every action (%extra_argument). */
typedef struct sl__sql_ctx {
    sl_arena_t *a;
    sl_sql_error_t *err;
    int failed;                     /* err is filled: the driver feeds no more tokens */
    int accepted;                   /* the statement was accepted */
    sl_ast_stmt_t *stmt;            /* the accepted statement */
    uint32_t depth;                 /* open brackets, CASEs and prefix operators right now */
    sl_pos_t pos;                   /* the token being fed (for stack-overflow messages) */
    const sl_ast_expr_t *int_min;   /* the literal 9223372036854775808 (a DOUBLE unless a
                                       unary minus makes it INT64_MIN) */
} sl__sql_ctx_t;

/* lemon's entry points (%name sl_sqlparse_). */
void *sl_sqlparse_Alloc(void *(*mallocProc)(size_t));
void sl_sqlparse_Free(void *p, void (*freeProc)(void *));
void sl_sqlparse_(void *p, int major, sl__sql_tok_t minor, sl__sql_ctx_t *ctx);

/* ---- helpers for the grammar actions (parse.c) ---------------------------------------------
 * Every helper does nothing and returns NULL once ctx->failed is set, and accepts NULL operands
 * then, so the actions that still run after a failure (within the same token) are harmless. */

/* Records an error (the first one wins) and sets ctx->failed. */
void sl__sql_errorf(sl__sql_ctx_t *ctx, sl_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* lemon's %syntax_error: "syntax error at line L, column C: unexpected <token>". */
void sl__sql_syntax_error(sl__sql_ctx_t *ctx, int major, const sl__sql_tok_t *t);
void *sl__sql_alloc(sl__sql_ctx_t *ctx, size_t n);
/* Vectors: of pointers (push_ptr) or of structs (push, returning the zeroed new element). */
void *sl__sql_push(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, size_t sz);
void sl__sql_push_ptr(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, void *p);

/* Nesting while parsing: every '(', CASE and prefix operator (-, +, NOT) enters a level as it is
 * read; its ')', END or reduction leaves it. Entering level SL_SQL_MAX_DEPTH + 1 fails, so the
 * parser's stack stays small (a few entries per level) whatever the input. */
void sl__sql_enter(sl__sql_ctx_t *ctx, sl_pos_t pos);
void sl__sql_leave(sl__sql_ctx_t *ctx);

/* Token text: identifiers (bare as written, `x` and "x" unquoted), string literal contents
 * ('' unescaped, *n = length), the raw text. All NUL-terminated arena copies. */
const char *sl__sql_ident(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);
const char *sl__sql_string(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t, uint32_t *n);
const char *sl__sql_text(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);

/* ---- expressions ---- */
enum { SL__UNIT_YEAR, SL__UNIT_MONTH, SL__UNIT_DAY, SL__UNIT_HOUR, SL__UNIT_MINUTE, SL__UNIT_SECOND };
sl_ast_expr_t *sl__sql_lit_int(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);
sl_ast_expr_t *sl__sql_lit_dec(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);
sl_ast_expr_t *sl__sql_lit_str(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);
/* NULL, BOOLEAN (v = 0/1). */
sl_ast_expr_t *sl__sql_lit_simple(sl__sql_ctx_t *ctx, sl_type_t type, int64_t v, sl_pos_t pos);
/* INTERVAL 's' from [TO to]: from/to are iunit tokens whose n holds the SL__UNIT_* (to == from
 * for a single unit). */
sl_ast_expr_t *sl__sql_lit_interval(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *s,
                                    const sl__sql_tok_t *from, const sl__sql_tok_t *to);
/* The INTERVAL type's qualifier: day-time units only, from before to. */
void sl__sql_interval_type(sl__sql_ctx_t *ctx, const sl__sql_tok_t *from, const sl__sql_tok_t *to);
sl_ast_expr_t *sl__sql_lit_timestamp(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *s);
/* A VARCHAR literal: the word (identifier) upper-cased, or the C string s. */
sl_ast_expr_t *sl__sql_word_lit(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);
sl_ast_expr_t *sl__sql_name_lit(sl__sql_ctx_t *ctx, const char *s, sl_pos_t pos);
sl_ast_expr_t *sl__sql_column(sl__sql_ctx_t *ctx, const sl__sql_tok_t *qual, const sl__sql_tok_t *name);
sl_ast_expr_t *sl__sql_star(sl__sql_ctx_t *ctx, const sl__sql_tok_t *qual, sl_pos_t pos);
/* Unary minus folds into numeric and INTERVAL literals (-5 is the literal -5). */
sl_ast_expr_t *sl__sql_unary(sl__sql_ctx_t *ctx, sl_op_t op, sl_ast_expr_t *a, sl_pos_t pos);
sl_ast_expr_t *sl__sql_binary(sl__sql_ctx_t *ctx, sl_op_t op, sl_ast_expr_t *a, sl_ast_expr_t *b);
/* IS NULL, LIKE, BETWEEN: operands a, b, c; the node starts where a does. */
sl_ast_expr_t *sl__sql_pred(sl__sql_ctx_t *ctx, sl_ast_expr_kind_t kind, int negated, sl_ast_expr_t *a,
                            sl_ast_expr_t *b, sl_ast_expr_t *c);
sl_ast_expr_t *sl__sql_is_bool(sl__sql_ctx_t *ctx, sl_ast_expr_t *a, int negated, int value);
sl_ast_expr_t *sl__sql_in(sl__sql_ctx_t *ctx, int negated, sl_ast_expr_t *a, const sl__sql_vec_t *list);
sl_ast_expr_t *sl__sql_case(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_expr_t *operand,
                            const sl__sql_vec_t *whens, sl_ast_expr_t *els);
sl_ast_expr_t *sl__sql_cast(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_expr_t *a, sl_type_t type);
/* name(args) as written; COUNT(*) is star = 1 with no arguments. */
sl_ast_expr_t *sl__sql_call_tok(sl__sql_ctx_t *ctx, const sl__sql_tok_t *name, const sl__sql_vec_t *args,
                                int distinct, int star, sl_ast_expr_t *filter);
/* A special form's call: the fixed name and nargs (0..3) of a, b, c. */
sl_ast_expr_t *sl__sql_call(sl__sql_ctx_t *ctx, const char *name, sl_pos_t pos, int nargs, sl_ast_expr_t *a,
                            sl_ast_expr_t *b, sl_ast_expr_t *c);

/* ---- queries ---- */
sl_ast_item_t *sl__sql_item(sl__sql_ctx_t *ctx, sl_ast_expr_t *e, const sl__sql_tok_t *alias);
void sl__sql_order(sl__sql_ctx_t *ctx, sl__sql_vec_t *v, sl_ast_expr_t *e, int desc);
sl_ast_from_t *sl__sql_from_table(sl__sql_ctx_t *ctx, const sl__sql_tok_t *name);
sl_ast_from_t *sl__sql_from_sub(sl__sql_ctx_t *ctx, sl_pos_t pos, sl_ast_select_t *sub);
sl_ast_from_t *sl__sql_from_window(sl__sql_ctx_t *ctx, sl_pos_t pos, const sl__sql_tok_t *fn,
                                   sl_ast_from_t *input, const sl__sql_tok_t *descriptor,
                                   const sl__sql_vec_t *args);
/* Sets f's alias (alias->p NULL = none) and returns f. */
sl_ast_from_t *sl__sql_from_alias(sl__sql_ctx_t *ctx, sl_ast_from_t *f, const sl__sql_tok_t *alias);
/* items: sl_ast_item_t *; group: sl_ast_expr_t *; order: sl_ast_order_t. */
sl_ast_select_t *sl__sql_select(sl__sql_ctx_t *ctx, sl_pos_t pos, int distinct, const sl__sql_vec_t *items,
                                sl_ast_from_t *from, sl_ast_expr_t *where, const sl__sql_vec_t *group,
                                sl_ast_expr_t *having, const sl__sql_vec_t *order, int64_t limit);
int64_t sl__sql_limit(sl__sql_ctx_t *ctx, const sl__sql_tok_t *t);

/* ---- statements ---- */
sl_ast_stmt_t *sl__sql_stmt(sl__sql_ctx_t *ctx, sl_ast_stmt_kind_t kind);
/* path->p NULL = no PATH. */
void sl__sql_column_def(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, const sl__sql_tok_t *name, sl_type_t type,
                        const sl__sql_tok_t *path);
void sl__sql_watermark(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, sl_pos_t pos, const sl__sql_tok_t *col,
                       sl_ast_expr_t *e);
/* A WITH option's key: a string, a name, or prev's key + "." + a name. */
sl_ast_option_t *sl__sql_option_key(sl__sql_ctx_t *ctx, sl_ast_option_t *prev, const sl__sql_tok_t *t,
                                    int is_string);
/* opts: sl_ast_option_t *. */
void sl__sql_options(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s, const sl__sql_vec_t *opts);
/* The start symbol's action. */
void sl__sql_accept(sl__sql_ctx_t *ctx, sl_ast_stmt_t *s);

#endif
