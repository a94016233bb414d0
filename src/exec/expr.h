/* Compiled expressions: a bound expression (sql/plan.h) flattened once into postfix code over a
 * small value stack, then evaluated per row. Function call sites are prepared at compile time
 * (constant regexes compiled, DATE_FORMAT patterns parsed). Also the value conversions the
 * executor shares: casts, SQL comparison, and writing a value as JSON. */
#ifndef SL_EXEC_EXPR_H
#define SL_EXEC_EXPR_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "exec/func.h"
#include "sql/plan.h"

typedef struct sl_cinstr {
    uint8_t kind;          /* sl_bx_kind_t */
    uint8_t type;          /* result type */
    uint8_t op;            /* SL_BX_OP */
    uint8_t flags;         /* negated / has_else / bool_value */
    uint8_t argtype;       /* type of the first operand (casts, comparisons) */
    int32_t nargs;
    int32_t arg;           /* SL_BX_COL: column; SL_BX_CONST: const index; SL_BX_CALL: fn id */
    void *state;           /* a prepared function call site */
} sl_cinstr_t;

typedef struct sl_cexpr {
    sl_cinstr_t *code;
    int n, maxstack;
    sl_value_t *consts;
    int nconsts;
    sl_type_t type;
    int is_col;            /* the whole expression is one column reference (col) */
    int col;
} sl_cexpr_t;

/* The context of an evaluation: a string arena, the wall clock, an error buffer and a stack
 * (at least maxstack values; exec_ctx_stack grows it). */
typedef struct sl_eval {
    sl_fn_ctx_t fn;
    sl_value_t *stack;
    int stack_cap;
    char err[256];
} sl_eval_t;

int sl_cexpr_compile(sl_cexpr_t *ce, const sl_bexpr_t *e, char *err, size_t errlen);
void sl_cexpr_free(sl_cexpr_t *ce);
int sl_eval_init(sl_eval_t *ev, sl_arena_t *arena);
void sl_eval_free(sl_eval_t *ev);
/* Evaluates ce over row into *out. 0, or -1 with ev->err set (a function's row error). */
int sl_cexpr_eval(const sl_cexpr_t *ce, const sl_value_t *row, sl_eval_t *ev, sl_value_t *out);
/* A predicate: 1 when TRUE, 0 when FALSE or NULL, -1 on error. */
int sl_cexpr_test(const sl_cexpr_t *ce, const sl_value_t *row, sl_eval_t *ev);

/* Converts v of type from to type to (strings into arena). Unconvertible values become NULL. */
void sl_value_cast(sl_type_t from, sl_type_t to, const sl_value_t *v, sl_value_t *out, sl_arena_t *arena);
/* <0, 0, >0 comparing two non-NULL values of type t (VARCHAR bytewise). */
int sl_value_cmp(sl_type_t t, const sl_value_t *a, const sl_value_t *b);
/* Appends v as a JSON value: numbers, strings, true/false, null; TIMESTAMP as an RFC 3339 UTC
 * string with milliseconds; INTERVAL as milliseconds. */
int sl_value_json(sl_buf_t *out, sl_type_t t, const sl_value_t *v);
/* "2015-07-15T00:00:00.000Z" (24 bytes, no NUL) */
size_t sl_ts_format(char *out, int64_t ms);

#endif
