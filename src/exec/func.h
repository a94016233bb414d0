/* Implementations of the scalar functions of sql/func.h.
 *
 * A call site is prepared once (sl_fn_prepare: e.g. a constant regex is compiled, a constant
 * DATE_FORMAT pattern parsed) and then called once per row (sl_fn_call). NULL in, NULL out
 * unless the function says otherwise. Strings a call returns are allocated in ctx->arena (or
 * point into an argument's bytes). */
#ifndef SL_EXEC_FUNC_H
#define SL_EXEC_FUNC_H
#include <stddef.h>
#include "core/arena.h"
#include "sql/func.h"

typedef struct sl_fn_ctx {
    sl_arena_t *arena;      /* for result strings; reset by the caller between batches */
    void *state;            /* what sl_fn_prepare made for this call site (may be NULL) */
    int64_t now_ms;         /* wall clock for CURRENT_TIMESTAMP / PROCTIME */
    char *err;              /* message buffer for -1 returns */
    size_t errlen;
    uint64_t limit_nulls;   /* NULLs given because a resource limit was hit (REGEXP_EXTRACT's
                               match limit on a pathological pattern): counted, not hidden */
} sl_fn_ctx_t;

/* consts[i] is the value of argument i when it is a constant, else NULL. Sets *state (NULL when
 * the function needs none). Returns 0, or -1 with a message in err (e.g. a constant regex that
 * does not compile: "REGEXP_EXTRACT: invalid regular expression at offset 3: missing )"). */
int sl_fn_prepare(sl_fn_t id, const sl_type_t *argt, const sl_value_t *const *consts, int nargs,
                  void **state, char *err, size_t errlen);
void sl_fn_release(sl_fn_t id, void *state);
/* Computes out from args. Returns 0, or -1 with a message in ctx->err (only for errors a
 * row's data can cause that have no NULL answer, e.g. a regex given per row that does not
 * compile). */
int sl_fn_call(sl_fn_t id, sl_fn_ctx_t *ctx, const sl_value_t *args, int nargs, sl_value_t *out);

#endif
