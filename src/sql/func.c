/* The scalar function catalog (func.h): one signature per function, the names that reach it
 * (aliases included), and sl_fn_resolve, which checks a call's arity and argument types and says
 * which implicit casts the binder must insert. The implicit casts are Flink's few: BIGINT widens
 * to DOUBLE, the NULL type goes anywhere, CONCAT casts any argument to VARCHAR and DATE_FORMAT
 * casts a VARCHAR timestamp to TIMESTAMP(3). Nothing else converts silently. */
#include "sql/func.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* What a parameter accepts (and the argument is cast to). */
typedef enum param {
    P_STR,      /* VARCHAR */
    P_INT,      /* BIGINT */
    P_DBL,      /* DOUBLE; a BIGINT is widened */
    P_NUM,      /* BIGINT or DOUBLE; all P_NUM arguments of a call unify to DOUBLE if one is */
    P_TS,       /* TIMESTAMP(3) */
    P_TS_STR,   /* TIMESTAMP(3), or a VARCHAR cast to it */
    P_ANY_STR,  /* any type, cast to VARCHAR */
} param_t;

/* RET_NUM: the unified type of the P_NUM arguments (BIGINT in, BIGINT out). */
#define RET_NUM (-1)
#define VARIADIC (-1)

typedef struct sig {
    const char *name;     /* canonical name, sl_fn_name() */
    int min, max;         /* argument count; max = VARIADIC repeats the last parameter */
    param_t p[3];
    int ret;              /* an sl_type_t, or RET_NUM */
    int pure;
} sig_t;

static const sig_t SIGS[SL_FN_COUNT_] = {
    [SL_FN_LOWER] = {"LOWER", 1, 1, {P_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_UPPER] = {"UPPER", 1, 1, {P_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_CHAR_LENGTH] = {"CHAR_LENGTH", 1, 1, {P_STR}, SL_TYPE_BIGINT, 1},
    [SL_FN_SUBSTRING] = {"SUBSTRING", 2, 3, {P_STR, P_INT, P_INT}, SL_TYPE_VARCHAR, 1},
    [SL_FN_TRIM] = {"TRIM", 3, 3, {P_STR, P_STR, P_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_CONCAT] = {"CONCAT", 1, VARIADIC, {P_ANY_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_SPLIT_INDEX] = {"SPLIT_INDEX", 3, 3, {P_STR, P_STR, P_INT}, SL_TYPE_VARCHAR, 1},
    [SL_FN_REGEXP_EXTRACT] = {"REGEXP_EXTRACT", 2, 3, {P_STR, P_STR, P_INT}, SL_TYPE_VARCHAR, 1},
    [SL_FN_LIKE] = {"LIKE", 2, 3, {P_STR, P_STR, P_STR}, SL_TYPE_BOOLEAN, 1},
    [SL_FN_MOD] = {"MOD", 2, 2, {P_NUM, P_NUM}, RET_NUM, 1},
    [SL_FN_ABS] = {"ABS", 1, 1, {P_NUM}, RET_NUM, 1},
    [SL_FN_ROUND] = {"ROUND", 1, 2, {P_NUM, P_INT}, RET_NUM, 1},
    [SL_FN_EXTRACT] = {"EXTRACT", 2, 2, {P_STR, P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_YEAR] = {"YEAR", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_MONTH] = {"MONTH", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_DAYOFMONTH] = {"DAYOFMONTH", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_HOUR] = {"HOUR", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_MINUTE] = {"MINUTE", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_SECOND] = {"SECOND", 1, 1, {P_TS}, SL_TYPE_BIGINT, 1},
    [SL_FN_DATE_FORMAT] = {"DATE_FORMAT", 2, 2, {P_TS_STR, P_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_CURRENT_TIMESTAMP] = {"CURRENT_TIMESTAMP", 0, 0, {P_STR}, SL_TYPE_TIMESTAMP, 0},
    [SL_FN_PROCTIME] = {"PROCTIME", 0, 0, {P_STR}, SL_TYPE_TIMESTAMP, 0},
    [SL_FN_COUNT_CHAR] = {"COUNT_CHAR", 2, 2, {P_STR, P_STR}, SL_TYPE_BIGINT, 1},
    [SL_FN_POSITION] = {"POSITION", 2, 2, {P_STR, P_STR}, SL_TYPE_BIGINT, 1},
    [SL_FN_REPLACE] = {"REPLACE", 3, 3, {P_STR, P_STR, P_STR}, SL_TYPE_VARCHAR, 1},
    [SL_FN_FLOOR] = {"FLOOR", 1, 1, {P_NUM}, RET_NUM, 1},
    [SL_FN_CEIL] = {"CEIL", 1, 1, {P_NUM}, RET_NUM, 1},
    [SL_FN_POWER] = {"POWER", 2, 2, {P_DBL, P_DBL}, SL_TYPE_DOUBLE, 1},
    [SL_FN_SQRT] = {"SQRT", 1, 1, {P_DBL}, SL_TYPE_DOUBLE, 1},
    [SL_FN_TO_TIMESTAMP] = {"TO_TIMESTAMP", 1, 1, {P_STR}, SL_TYPE_TIMESTAMP, 1},
};

/* Every name a call may use. Aliases are spelled as Flink documents them. */
static const struct {
    const char *name;
    sl_fn_t id;
} NAMES[] = {
    {"LOWER", SL_FN_LOWER},
    {"UPPER", SL_FN_UPPER},
    {"CHAR_LENGTH", SL_FN_CHAR_LENGTH},
    {"CHARACTER_LENGTH", SL_FN_CHAR_LENGTH},
    {"SUBSTRING", SL_FN_SUBSTRING},
    {"SUBSTR", SL_FN_SUBSTRING},
    {"TRIM", SL_FN_TRIM},
    {"CONCAT", SL_FN_CONCAT},
    {"SPLIT_INDEX", SL_FN_SPLIT_INDEX},
    {"REGEXP_EXTRACT", SL_FN_REGEXP_EXTRACT},
    {"LIKE", SL_FN_LIKE},
    {"MOD", SL_FN_MOD},
    {"ABS", SL_FN_ABS},
    {"ROUND", SL_FN_ROUND},
    {"EXTRACT", SL_FN_EXTRACT},
    {"YEAR", SL_FN_YEAR},
    {"MONTH", SL_FN_MONTH},
    {"DAYOFMONTH", SL_FN_DAYOFMONTH},
    {"HOUR", SL_FN_HOUR},
    {"MINUTE", SL_FN_MINUTE},
    {"SECOND", SL_FN_SECOND},
    {"DATE_FORMAT", SL_FN_DATE_FORMAT},
    {"CURRENT_TIMESTAMP", SL_FN_CURRENT_TIMESTAMP},
    {"NOW", SL_FN_CURRENT_TIMESTAMP},
    {"PROCTIME", SL_FN_PROCTIME},
    {"COUNT_CHAR", SL_FN_COUNT_CHAR},
    {"POSITION", SL_FN_POSITION},
    {"REPLACE", SL_FN_REPLACE},
    {"FLOOR", SL_FN_FLOOR},
    {"CEIL", SL_FN_CEIL},
    {"CEILING", SL_FN_CEIL},
    {"POWER", SL_FN_POWER},
    {"SQRT", SL_FN_SQRT},
    {"TO_TIMESTAMP", SL_FN_TO_TIMESTAMP},
};

const char *sl_fn_name(sl_fn_t id) {
    assert(id >= 0 && id < SL_FN_COUNT_);
    return SIGS[id].name;
}

int sl_fn_pure(sl_fn_t id) {
    assert(id >= 0 && id < SL_FN_COUNT_);
    return SIGS[id].pure;
}

static int name_is(const char *canon, const char *name, size_t n) {
    size_t i = 0;
    for (; i < n; i++) {
        char c = name[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (canon[i] == 0 || canon[i] != c) return 0;
    }
    return canon[i] == 0;
}

static const char *param_name(param_t p) {
    switch (p) {
    case P_STR: return "VARCHAR";
    case P_INT: return "BIGINT";
    case P_DBL: return "DOUBLE";
    case P_NUM: return "NUMERIC";
    case P_TS: return "TIMESTAMP(3)";
    case P_TS_STR: return "TIMESTAMP(3)";
    case P_ANY_STR: return "VARCHAR";
    }
    return "?";
}

/* Appends to err[*at..errlen), keeping it NUL-terminated and never overrunning. */
static void put(char *err, size_t errlen, size_t *at, const char *s) {
    assert(*at < errlen);
    while (*s && *at + 1 < errlen) err[(*at)++] = *s++;
    err[*at] = 0;
}

/* "NAME takes (VARCHAR, BIGINT [, BIGINT]), got (VARCHAR)" */
static int mismatch(const char *name, const sig_t *s, const sl_type_t *argt, int nargs, char *err,
                    size_t errlen) {
    if (!err || errlen == 0) return -1;
    size_t at = 0;
    err[0] = 0;
    put(err, errlen, &at, name);
    put(err, errlen, &at, " takes (");
    int shown = s->max == VARIADIC ? s->min : s->max;
    for (int i = 0; i < shown; i++) {
        if (i == s->min) put(err, errlen, &at, " [");
        if (i) put(err, errlen, &at, ", ");
        put(err, errlen, &at, param_name(s->p[i]));
    }
    if (s->max == VARIADIC) put(err, errlen, &at, ", ...");
    else if (s->max > s->min) put(err, errlen, &at, "]");
    put(err, errlen, &at, "), got (");
    for (int i = 0; i < nargs; i++) {
        if (i) put(err, errlen, &at, ", ");
        put(err, errlen, &at, sl_type_name(argt[i]));
    }
    put(err, errlen, &at, ")");
    return -1;
}

/* The type an argument of type t is cast to for parameter p, or -1 if it does not fit.
 * P_NUM answers with t itself (NULL as BIGINT); the caller unifies. */
static int accept(param_t p, sl_type_t t) {
    switch (p) {
    case P_STR: return t == SL_TYPE_VARCHAR || t == SL_TYPE_NULL ? SL_TYPE_VARCHAR : -1;
    case P_INT: return t == SL_TYPE_BIGINT || t == SL_TYPE_NULL ? SL_TYPE_BIGINT : -1;
    case P_DBL: return sl_type_numeric(t) || t == SL_TYPE_NULL ? SL_TYPE_DOUBLE : -1;
    case P_NUM: return t == SL_TYPE_NULL ? SL_TYPE_BIGINT : sl_type_numeric(t) ? (int)t : -1;
    case P_TS: return t == SL_TYPE_TIMESTAMP || t == SL_TYPE_NULL ? SL_TYPE_TIMESTAMP : -1;
    case P_TS_STR:
        return t == SL_TYPE_TIMESTAMP || t == SL_TYPE_VARCHAR || t == SL_TYPE_NULL
                   ? SL_TYPE_TIMESTAMP : -1;
    case P_ANY_STR: return SL_TYPE_VARCHAR;
    }
    return -1;
}

int sl_fn_resolve(const char *name, size_t n, const sl_type_t *argt, int nargs, sl_fn_t *id,
                  sl_type_t *ret, sl_type_t *want, char *err, size_t errlen) {
    assert(name && nargs >= 0 && (nargs == 0 || (argt && want)));
    const char *shown = NULL;
    sl_fn_t fn = SL_FN_COUNT_;
    for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
        if (name_is(NAMES[i].name, name, n)) {
            shown = NAMES[i].name;
            fn = NAMES[i].id;
            break;
        }
    }
    if (!shown) {
        if (err && errlen)
            snprintf(err, errlen, "unknown function %.*s", n > 128 ? 128 : (int)n, name);
        return -1;
    }
    const sig_t *s = &SIGS[fn];
    if (nargs < s->min || (s->max != VARIADIC && nargs > s->max))
        return mismatch(shown, s, argt, nargs, err, errlen);
    int nparams = s->max == VARIADIC ? s->min : s->max;
    sl_type_t num = SL_TYPE_BIGINT;
    for (int i = 0; i < nargs; i++) {
        param_t p = s->p[i < nparams ? i : nparams - 1];
        int w = accept(p, argt[i]);
        if (w < 0) return mismatch(shown, s, argt, nargs, err, errlen);
        want[i] = (sl_type_t)w;
        if (p == P_NUM && w == SL_TYPE_DOUBLE) num = SL_TYPE_DOUBLE;
    }
    for (int i = 0; i < nargs; i++)
        if (s->p[i < nparams ? i : nparams - 1] == P_NUM) want[i] = num;
    *id = fn;
    *ret = s->ret == RET_NUM ? num : (sl_type_t)s->ret;
    return 0;
}
