/* The catalog of scalar functions the binder knows: names, arities, argument types and the
 * result type. The executor's implementations (exec/func.h) are indexed by the same ids.
 * Operators (arithmetic, comparison, AND/OR/NOT, CASE, CAST, COALESCE, IS NULL, IN, BETWEEN)
 * are not functions here: the expression compiler handles them itself. */
#ifndef SL_SQL_FUNC_H
#define SL_SQL_FUNC_H
#include <stddef.h>
#include "sql/types.h"

typedef enum sl_fn {
    SL_FN_LOWER = 0,
    SL_FN_UPPER,
    SL_FN_CHAR_LENGTH,      /* also CHARACTER_LENGTH; counts UTF-8 code points */
    SL_FN_SUBSTRING,        /* SUBSTRING(s, start [, len]) and SUBSTRING(s FROM start [FOR len]); 1-based */
    SL_FN_TRIM,             /* TRIM([BOTH|LEADING|TRAILING] [chars] FROM s): args (mode, chars, s) */
    SL_FN_CONCAT,           /* CONCAT(a, b, ...) and a || b: NULL if any argument is NULL (Flink) */
    SL_FN_SPLIT_INDEX,      /* SPLIT_INDEX(s, delim, index): 0-based field, NULL if out of range */
    SL_FN_REGEXP_EXTRACT,   /* REGEXP_EXTRACT(s, regex [, group]): PCRE2; NULL when no match */
    SL_FN_LIKE,             /* s LIKE pattern [ESCAPE e]: args (s, pattern [, escape]) */
    SL_FN_MOD,              /* MOD(a, b): sign of a; NULL when b = 0 */
    SL_FN_ABS,
    SL_FN_ROUND,            /* ROUND(x [, digits]) half away from zero */
    SL_FN_EXTRACT,          /* EXTRACT(unit FROM ts): args ('YEAR'|'MONTH'|'DAY'|'HOUR'|'MINUTE'|'SECOND'|
                               'MILLISECOND'|'DOW'|'DOY'|'WEEK'|'QUARTER'|'EPOCH', ts) -> BIGINT */
    SL_FN_YEAR, SL_FN_MONTH, SL_FN_DAYOFMONTH, SL_FN_HOUR, SL_FN_MINUTE, SL_FN_SECOND,
    SL_FN_DATE_FORMAT,      /* DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss') Java SimpleDateFormat letters, UTC */
    SL_FN_CURRENT_TIMESTAMP,/* the wall clock, ms (the engine sets it per batch) */
    SL_FN_PROCTIME,         /* same clock; marks a processing-time attribute */
    SL_FN_COUNT_CHAR,       /* count_char(s, c): occurrences of the one-character string c in s */
    SL_FN_POSITION,         /* POSITION(needle IN s): 1-based, 0 when absent */
    SL_FN_REPLACE,          /* REPLACE(s, from, to) */
    SL_FN_FLOOR, SL_FN_CEIL,
    SL_FN_POWER, SL_FN_SQRT,
    SL_FN_TO_TIMESTAMP,     /* TO_TIMESTAMP(varchar) RFC 3339 / 'yyyy-MM-dd HH:mm:ss[.SSS]' */
    SL_FN_COUNT_
} sl_fn_t;

/* Resolves a call: name (case-insensitive, n bytes) with nargs arguments of types argt.
 * On success returns 0, sets *id and *ret, and for each argument sets want[i], the type the
 * argument must be cast to first (equal to argt[i] when no cast is needed; the binder inserts
 * the cast). On failure returns -1 and writes a message naming the function, the arguments it
 * takes and what it got to err (always NUL-terminated), e.g.
 *   "SPLIT_INDEX takes (VARCHAR, VARCHAR, BIGINT), got (VARCHAR, VARCHAR)".
 * An unknown name gives "unknown function FOO". */
int sl_fn_resolve(const char *name, size_t n, const sl_type_t *argt, int nargs, sl_fn_t *id,
                  sl_type_t *ret, sl_type_t *want, char *err, size_t errlen);
const char *sl_fn_name(sl_fn_t id);
/* 1 if the function's result depends only on its arguments (constant folding allowed). */
int sl_fn_pure(sl_fn_t id);

#endif
