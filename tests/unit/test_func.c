/* Unit tests for the scalar function library: resolution (sql/func.c: names, aliases, arity,
 * implicit casts, exact error messages), type names (sql/types.c) and every implementation
 * (exec/func.c) on ordinary values, NULLs, multibyte UTF-8 and boundaries. Each evaluation runs
 * twice, once with every argument a constant (prepare compiles patterns) and once with none
 * (the call site compiles per row), and both answers must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "core/arena.h"
#include "exec/func.h"
#include "sql/func.h"
#include "sql/types.h"

#define NOW_MS 1700000000123LL
#define NEXMARK_BASE 1436918400000LL /* 2015-07-15T00:00:00Z */

static sl_arena_t arena = SL_ARENA_INIT;
static char err[256];

/* ---- typed argument values -------------------------------------------------------------- */

typedef struct tv {
    sl_type_t t;
    sl_value_t v;
} tv_t;

static tv_t S(const char *s) {
    tv_t a = {SL_TYPE_VARCHAR, {0}};
    a.v.u.s.p = s;
    a.v.u.s.n = (uint32_t)strlen(s);
    return a;
}
static tv_t SN(const char *s, size_t n) {
    tv_t a = S(s);
    a.v.u.s.n = (uint32_t)n;
    return a;
}
static tv_t I(int64_t i) {
    tv_t a = {SL_TYPE_BIGINT, {0}};
    a.v.u.i = i;
    return a;
}
static tv_t D(double d) {
    tv_t a = {SL_TYPE_DOUBLE, {0}};
    a.v.u.d = d;
    return a;
}
static tv_t TS(int64_t ms) {
    tv_t a = {SL_TYPE_TIMESTAMP, {0}};
    a.v.u.i = ms;
    return a;
}
static tv_t NUL(sl_type_t t) {
    tv_t a = {t, {0}};
    a.v.null = 1;
    return a;
}

#define ARGS(...) (const tv_t[]){__VA_ARGS__}, (int)(sizeof((const tv_t[]){__VA_ARGS__}) / sizeof(tv_t))

/* ---- evaluation in both modes ----------------------------------------------------------- */

static int same_value(sl_type_t t, const sl_value_t *a, const sl_value_t *b) {
    if (a->null || b->null) return a->null == b->null;
    if (t == SL_TYPE_VARCHAR)
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    if (t == SL_TYPE_DOUBLE)
        return (isnan(a->u.d) && isnan(b->u.d)) || memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    return a->u.i == b->u.i;
}

/* Resolves and runs name(a...), constant and per-row; fails the test on any error. */
static sl_value_t eval(const char *name, const tv_t *a, int n, sl_type_t *ret_out) {
    sl_type_t argt[8], want[8], ret;
    sl_fn_t id;
    sl_value_t v[8], res[2];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++) argt[i] = a[i].t;
    if (sl_fn_resolve(name, strlen(name), argt, n, &id, &ret, want, err, sizeof(err)) != 0)
        fail_msg("resolve %s: %s", name, err);
    for (int i = 0; i < n; i++) {
        v[i] = a[i].v;
        if (!v[i].null && a[i].t == SL_TYPE_BIGINT && want[i] == SL_TYPE_DOUBLE) v[i].u.d = (double)a[i].v.u.i;
        else if (!v[i].null && a[i].t != want[i]) fail_msg("%s: argument %d needs a cast the test cannot do", name, i);
    }
    for (int mode = 0; mode < 2; mode++) {
        const sl_value_t *consts[8];
        for (int i = 0; i < n; i++) consts[i] = mode ? &v[i] : NULL;
        void *state;
        if (sl_fn_prepare(id, want, consts, n, &state, err, sizeof(err)) != 0)
            fail_msg("prepare %s (%s): %s", name, mode ? "constant" : "per row", err);
        sl_fn_ctx_t ctx = {&arena, state, NOW_MS, err, sizeof(err), 0};
        if (sl_fn_call(id, &ctx, v, n, &res[mode]) != 0)
            fail_msg("call %s (%s): %s", name, mode ? "constant" : "per row", err);
        sl_value_t again;                       /* a second row through the same call site */
        if (sl_fn_call(id, &ctx, v, n, &again) != 0 || !same_value(ret, &again, &res[mode]))
            fail_msg("%s: second call differs", name);
        sl_fn_release(id, state);
    }
    if (!same_value(ret, &res[0], &res[1])) fail_msg("%s: constant and per-row answers differ", name);
    if (ret_out) *ret_out = ret;
    return res[0];
}

/* 1 and the string in buf, or 0 for NULL. */
static int eval_str(const char *name, char *buf, size_t cap, const tv_t *a, int n) {
    sl_type_t ret;
    sl_value_t r = eval(name, a, n, &ret);
    assert_int_equal(ret, SL_TYPE_VARCHAR);
    if (r.null) return 0;
    assert_true(r.u.s.n < cap);
    if (r.u.s.n) memcpy(buf, r.u.s.p, r.u.s.n);
    buf[r.u.s.n] = 0;
    return 1;
}

static sl_value_t eval_typed(const char *name, sl_type_t want_ret, const tv_t *a, int n) {
    sl_type_t ret;
    sl_value_t r = eval(name, a, n, &ret);
    assert_int_equal(ret, want_ret);
    return r;
}

#define EXPECT_STR(want, name, ...)                                                  \
    do {                                                                             \
        char got_[512];                                                              \
        assert_int_equal(eval_str(name, got_, sizeof(got_), ARGS(__VA_ARGS__)), 1);  \
        assert_string_equal(got_, want);                                             \
    } while (0)
#define EXPECT_NULL_STR(name, ...)                                                   \
    do {                                                                             \
        char got_[512];                                                              \
        assert_int_equal(eval_str(name, got_, sizeof(got_), ARGS(__VA_ARGS__)), 0);  \
    } while (0)
#define EXPECT_INT(want, name, ...)                                                  \
    do {                                                                             \
        sl_value_t r_ = eval_typed(name, SL_TYPE_BIGINT, ARGS(__VA_ARGS__));         \
        assert_false(r_.null);                                                       \
        assert_int_equal(r_.u.i, (int64_t)(want));                                   \
    } while (0)
#define EXPECT_BOOL(want, name, ...)                                                 \
    do {                                                                             \
        sl_value_t r_ = eval_typed(name, SL_TYPE_BOOLEAN, ARGS(__VA_ARGS__));        \
        assert_false(r_.null);                                                       \
        assert_int_equal(r_.u.i, (want));                                            \
    } while (0)
#define EXPECT_DBL(want, name, ...)                                                  \
    do {                                                                             \
        sl_value_t r_ = eval_typed(name, SL_TYPE_DOUBLE, ARGS(__VA_ARGS__));         \
        assert_false(r_.null);                                                       \
        if (r_.u.d != (double)(want)) fail_msg("%s: got %.17g, want %.17g", name, r_.u.d, (double)(want)); \
    } while (0)
#define EXPECT_NULL(ret, name, ...)                                                  \
    do {                                                                             \
        sl_value_t r_ = eval_typed(name, ret, ARGS(__VA_ARGS__));                    \
        assert_true(r_.null);                                                        \
    } while (0)

/* Prepares name(a...) with every argument constant and expects prepare to fail with msg; then
 * prepares with none constant and expects the call to fail with the same message. */
static void expect_error(const char *name, const char *msg, const tv_t *a, int n) {
    sl_type_t argt[8] = {SL_TYPE_NULL}, want[8], ret;
    sl_fn_t id;
    sl_value_t v[8], out;
    for (int i = 0; i < n; i++) {
        argt[i] = a[i].t;
        v[i] = a[i].v;
    }
    assert_int_equal(sl_fn_resolve(name, strlen(name), argt, n, &id, &ret, want, err, sizeof(err)), 0);
    const sl_value_t *consts[8];
    void *state = (void *)1;
    for (int i = 0; i < n; i++) consts[i] = &v[i];
    err[0] = 0;
    assert_int_equal(sl_fn_prepare(id, want, consts, n, &state, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    for (int i = 0; i < n; i++) consts[i] = NULL;
    assert_int_equal(sl_fn_prepare(id, want, consts, n, &state, err, sizeof(err)), 0);
    sl_fn_ctx_t ctx = {&arena, state, NOW_MS, err, sizeof(err), 0};
    err[0] = 0;
    assert_int_equal(sl_fn_call(id, &ctx, v, n, &out), -1);
    assert_string_equal(err, msg);
    sl_fn_release(id, state);
}
#define EXPECT_ERROR(msg, name, ...) expect_error(name, msg, ARGS(__VA_ARGS__))

/* ---- resolution ------------------------------------------------------------------------- */

static int resolve(const char *name, const sl_type_t *argt, int n, sl_fn_t *id, sl_type_t *ret,
                   sl_type_t *want) {
    err[0] = 0;
    return sl_fn_resolve(name, strlen(name), argt, n, id, ret, want, err, sizeof(err));
}

static void resolve_names_and_aliases(void **state) {
    (void)state;
    static const struct {
        const char *name;
        sl_fn_t id;
    } cases[] = {
        {"char_length", SL_FN_CHAR_LENGTH}, {"CHARACTER_LENGTH", SL_FN_CHAR_LENGTH},
        {"Lower", SL_FN_LOWER},             {"upper", SL_FN_UPPER},
        {"substr", SL_FN_SUBSTRING},        {"SUBSTRING", SL_FN_SUBSTRING},
        {"count_char", SL_FN_COUNT_CHAR},   {"Position", SL_FN_POSITION},
        {"replace", SL_FN_REPLACE},         {"to_timestamp", SL_FN_TO_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_type_t argt[3] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_VARCHAR}, want[3], ret;
        sl_fn_t id;
        int n = cases[i].id == SL_FN_SUBSTRING ? 2 : cases[i].id == SL_FN_REPLACE ? 3
              : cases[i].id == SL_FN_COUNT_CHAR || cases[i].id == SL_FN_POSITION ? 2 : 1;
        if (cases[i].id == SL_FN_SUBSTRING) argt[1] = SL_TYPE_BIGINT;
        assert_int_equal(resolve(cases[i].name, argt, n, &id, &ret, want), 0);
        assert_int_equal(id, cases[i].id);
    }
    sl_type_t ts = SL_TYPE_TIMESTAMP, want[2], ret;
    sl_fn_t id;
    assert_int_equal(resolve("DayOfMonth", &ts, 1, &id, &ret, want), 0);
    assert_int_equal(id, SL_FN_DAYOFMONTH);
    assert_int_equal(ret, SL_TYPE_BIGINT);
    sl_type_t d = SL_TYPE_DOUBLE;
    assert_int_equal(resolve("ceiling", &d, 1, &id, &ret, want), 0);
    assert_int_equal(id, SL_FN_CEIL);
    assert_int_equal(resolve("now", NULL, 0, &id, &ret, want), 0);
    assert_int_equal(id, SL_FN_CURRENT_TIMESTAMP);
    assert_int_equal(ret, SL_TYPE_TIMESTAMP);
    assert_int_equal(resolve("PROCTIME", NULL, 0, &id, &ret, want), 0);
    assert_int_equal(id, SL_FN_PROCTIME);
    assert_int_equal(ret, SL_TYPE_TIMESTAMP);
    /* the name is n bytes, not NUL-terminated */
    assert_int_equal(sl_fn_resolve("LOWERCASE", 5, (sl_type_t[]){SL_TYPE_VARCHAR}, 1, &id, &ret, want,
                                   err, sizeof(err)), 0);
    assert_int_equal(id, SL_FN_LOWER);
}

static void resolve_numeric_types(void **state) {
    (void)state;
    sl_type_t want[2], ret;
    sl_fn_t id;
    sl_type_t bb[2] = {SL_TYPE_BIGINT, SL_TYPE_BIGINT}, bd[2] = {SL_TYPE_BIGINT, SL_TYPE_DOUBLE};
    sl_type_t db[2] = {SL_TYPE_DOUBLE, SL_TYPE_BIGINT}, nn[2] = {SL_TYPE_NULL, SL_TYPE_NULL};

    assert_int_equal(resolve("POWER", bb, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_DOUBLE);
    assert_int_equal(want[0], SL_TYPE_DOUBLE);
    assert_int_equal(want[1], SL_TYPE_DOUBLE);
    assert_int_equal(resolve("SQRT", bb, 1, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_DOUBLE);
    assert_int_equal(want[0], SL_TYPE_DOUBLE);

    assert_int_equal(resolve("MOD", bb, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_BIGINT);
    assert_int_equal(want[0], SL_TYPE_BIGINT);
    assert_int_equal(want[1], SL_TYPE_BIGINT);
    assert_int_equal(resolve("MOD", bd, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_DOUBLE);
    assert_int_equal(want[0], SL_TYPE_DOUBLE);
    assert_int_equal(want[1], SL_TYPE_DOUBLE);

    const char *keep[] = {"ABS", "FLOOR", "CEIL", "ROUND"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(resolve(keep[i], bb, 1, &id, &ret, want), 0);
        assert_int_equal(ret, SL_TYPE_BIGINT);
        assert_int_equal(resolve(keep[i], db, 1, &id, &ret, want), 0);
        assert_int_equal(ret, SL_TYPE_DOUBLE);
        assert_int_equal(want[0], SL_TYPE_DOUBLE);
        assert_int_equal(resolve(keep[i], nn, 1, &id, &ret, want), 0);
        assert_int_equal(ret, SL_TYPE_BIGINT);
        assert_int_equal(want[0], SL_TYPE_BIGINT);
    }
    /* ROUND's digits stay BIGINT when the value is DOUBLE */
    assert_int_equal(resolve("ROUND", db, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_DOUBLE);
    assert_int_equal(want[0], SL_TYPE_DOUBLE);
    assert_int_equal(want[1], SL_TYPE_BIGINT);
}

static void resolve_casts(void **state) {
    (void)state;
    sl_type_t want[4], ret;
    sl_fn_t id;
    sl_type_t mixed[4] = {SL_TYPE_VARCHAR, SL_TYPE_BIGINT, SL_TYPE_TIMESTAMP, SL_TYPE_BOOLEAN};
    assert_int_equal(resolve("CONCAT", mixed, 4, &id, &ret, want), 0);
    assert_int_equal(id, SL_FN_CONCAT);
    assert_int_equal(ret, SL_TYPE_VARCHAR);
    for (int i = 0; i < 4; i++) assert_int_equal(want[i], SL_TYPE_VARCHAR);

    sl_type_t nulls[3] = {SL_TYPE_NULL, SL_TYPE_NULL, SL_TYPE_NULL};
    assert_int_equal(resolve("SPLIT_INDEX", nulls, 3, &id, &ret, want), 0);
    assert_int_equal(want[0], SL_TYPE_VARCHAR);
    assert_int_equal(want[1], SL_TYPE_VARCHAR);
    assert_int_equal(want[2], SL_TYPE_BIGINT);

    sl_type_t vv[2] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR};
    assert_int_equal(resolve("DATE_FORMAT", vv, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_VARCHAR);
    assert_int_equal(want[0], SL_TYPE_TIMESTAMP);
    assert_int_equal(want[1], SL_TYPE_VARCHAR);
    sl_type_t tv2[2] = {SL_TYPE_TIMESTAMP, SL_TYPE_VARCHAR};
    assert_int_equal(resolve("date_format", tv2, 2, &id, &ret, want), 0);
    assert_int_equal(want[0], SL_TYPE_TIMESTAMP);

    sl_type_t ex[2] = {SL_TYPE_VARCHAR, SL_TYPE_TIMESTAMP};
    assert_int_equal(resolve("EXTRACT", ex, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_BIGINT);
    const char *parts[] = {"YEAR", "MONTH", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(resolve(parts[i], &ex[1], 1, &id, &ret, want), 0);
        assert_int_equal(ret, SL_TYPE_BIGINT);
    }
    sl_type_t like[3] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_VARCHAR};
    assert_int_equal(resolve("LIKE", like, 2, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_BOOLEAN);
    assert_int_equal(resolve("LIKE", like, 3, &id, &ret, want), 0);
    assert_int_equal(resolve("TO_TIMESTAMP", like, 1, &id, &ret, want), 0);
    assert_int_equal(ret, SL_TYPE_TIMESTAMP);
}

static void resolve_errors(void **state) {
    (void)state;
    static const struct {
        const char *name;
        sl_type_t argt[4];
        int n;
        const char *msg;
    } cases[] = {
        {"SPLIT_INDEX", {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR}, 2,
         "SPLIT_INDEX takes (VARCHAR, VARCHAR, BIGINT), got (VARCHAR, VARCHAR)"},
        {"split_index", {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_DOUBLE}, 3,
         "SPLIT_INDEX takes (VARCHAR, VARCHAR, BIGINT), got (VARCHAR, VARCHAR, DOUBLE)"},
        {"SUBSTRING", {SL_TYPE_BIGINT, SL_TYPE_BIGINT}, 2,
         "SUBSTRING takes (VARCHAR, BIGINT [, BIGINT]), got (BIGINT, BIGINT)"},
        {"substr", {SL_TYPE_VARCHAR}, 1, "SUBSTR takes (VARCHAR, BIGINT [, BIGINT]), got (VARCHAR)"},
        {"ABS", {SL_TYPE_VARCHAR}, 1, "ABS takes (NUMERIC), got (VARCHAR)"},
        {"ROUND", {SL_TYPE_DOUBLE, SL_TYPE_DOUBLE}, 2, "ROUND takes (NUMERIC [, BIGINT]), got (DOUBLE, DOUBLE)"},
        {"MOD", {SL_TYPE_BIGINT}, 1, "MOD takes (NUMERIC, NUMERIC), got (BIGINT)"},
        {"CONCAT", {SL_TYPE_VARCHAR}, 0, "CONCAT takes (VARCHAR, ...), got ()"},
        {"HOUR", {SL_TYPE_VARCHAR}, 1, "HOUR takes (TIMESTAMP(3)), got (VARCHAR)"},
        {"EXTRACT", {SL_TYPE_VARCHAR, SL_TYPE_BIGINT}, 2, "EXTRACT takes (VARCHAR, TIMESTAMP(3)), got (VARCHAR, BIGINT)"},
        {"CURRENT_TIMESTAMP", {SL_TYPE_BIGINT}, 1, "CURRENT_TIMESTAMP takes (), got (BIGINT)"},
        {"UPPER", {SL_TYPE_INTERVAL}, 1, "UPPER takes (VARCHAR), got (INTERVAL)"},
        {"LIKE", {SL_TYPE_VARCHAR}, 1, "LIKE takes (VARCHAR, VARCHAR [, VARCHAR]), got (VARCHAR)"},
        {"REGEXP_EXTRACT", {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_VARCHAR}, 3,
         "REGEXP_EXTRACT takes (VARCHAR, VARCHAR [, BIGINT]), got (VARCHAR, VARCHAR, VARCHAR)"},
        {"DATE_FORMAT", {SL_TYPE_BIGINT, SL_TYPE_VARCHAR}, 2,
         "DATE_FORMAT takes (TIMESTAMP(3), VARCHAR), got (BIGINT, VARCHAR)"},
        {"POWER", {SL_TYPE_BOOLEAN, SL_TYPE_NULL}, 2, "POWER takes (DOUBLE, DOUBLE), got (BOOLEAN, NULL)"},
        {"FOO", {SL_TYPE_BIGINT}, 1, "unknown function FOO"},
        {"my_udf", {SL_TYPE_BIGINT}, 1, "unknown function my_udf"},
        {"LOWERX", {SL_TYPE_VARCHAR}, 1, "unknown function LOWERX"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_type_t want[4], ret;
        sl_fn_t id;
        assert_int_equal(resolve(cases[i].name, cases[i].argt, cases[i].n, &id, &ret, want), -1);
        assert_string_equal(err, cases[i].msg);
    }
    /* a short buffer still gets a terminated (truncated) message */
    char small[10];
    sl_type_t want[2], ret, v = SL_TYPE_VARCHAR;
    sl_fn_t id;
    memset(small, 'x', sizeof(small));
    assert_int_equal(sl_fn_resolve("ABS", 3, &v, 1, &id, &ret, want, small, sizeof(small)), -1);
    assert_string_equal(small, "ABS takes");
    memset(small, 'x', sizeof(small));
    assert_int_equal(sl_fn_resolve("NOPE", 4, &v, 1, &id, &ret, want, small, sizeof(small)), -1);
    assert_string_equal(small, "unknown f");
}

static void names_purity_and_types(void **state) {
    (void)state;
    for (int i = 0; i < SL_FN_COUNT_; i++) {
        const char *name = sl_fn_name((sl_fn_t)i);
        assert_non_null(name);
        for (int j = 0; j < i; j++) assert_string_not_equal(name, sl_fn_name((sl_fn_t)j));
        int impure = i == SL_FN_CURRENT_TIMESTAMP || i == SL_FN_PROCTIME;
        assert_int_equal(sl_fn_pure((sl_fn_t)i), !impure);
    }
    assert_string_equal(sl_fn_name(SL_FN_CHAR_LENGTH), "CHAR_LENGTH");
    assert_string_equal(sl_fn_name(SL_FN_DAYOFMONTH), "DAYOFMONTH");
    assert_string_equal(sl_fn_name(SL_FN_COUNT_CHAR), "COUNT_CHAR");
    assert_string_equal(sl_type_name(SL_TYPE_NULL), "NULL");
    assert_string_equal(sl_type_name(SL_TYPE_BOOLEAN), "BOOLEAN");
    assert_string_equal(sl_type_name(SL_TYPE_BIGINT), "BIGINT");
    assert_string_equal(sl_type_name(SL_TYPE_DOUBLE), "DOUBLE");
    assert_string_equal(sl_type_name(SL_TYPE_VARCHAR), "VARCHAR");
    assert_string_equal(sl_type_name(SL_TYPE_TIMESTAMP), "TIMESTAMP(3)");
    assert_string_equal(sl_type_name(SL_TYPE_INTERVAL), "INTERVAL");
}

/* ---- strings ---------------------------------------------------------------------------- */

static void lower_upper(void **state) {
    (void)state;
    EXPECT_STR("hello, world 42", "LOWER", S("HeLLo, World 42"));
    EXPECT_STR("HELLO, WORLD 42", "UPPER", S("HeLLo, World 42"));
    EXPECT_STR("", "LOWER", S(""));
    EXPECT_STR("äöü straße éÿ", "LOWER", S("ÄÖÜ STRAßE ÉŸ"));
    EXPECT_STR("ÄÖÜ STRAßE ÉŸ", "UPPER", S("äöü straße éÿ"));
    EXPECT_STR("ΣΊΣΥΦΟΣ", "UPPER", S("Σίσυφος"));
    EXPECT_STR("σίσυφοσ", "LOWER", S("ΣΊΣΥΦΟΣ"));
    EXPECT_STR("ПРИВЕТ, ЁЖ", "UPPER", S("привет, ёж"));
    EXPECT_STR("привет, ёж", "LOWER", S("ПРИВЕТ, ЁЖ"));
    EXPECT_STR("ĀĂŁŽ", "UPPER", S("āăłž"));
    EXPECT_STR("āăłž", "LOWER", S("ĀĂŁŽ"));
    EXPECT_STR("日本語 ABC 😀", "UPPER", S("日本語 abc 😀"));
    EXPECT_NULL_STR("LOWER", NUL(SL_TYPE_VARCHAR));
    EXPECT_NULL_STR("UPPER", NUL(SL_TYPE_NULL));

    /* nothing to change: the argument's bytes come back, nothing is copied */
    tv_t a = S("already lower 123");
    sl_value_t r = eval("LOWER", &a, 1, NULL);
    assert_ptr_equal(r.u.s.p, a.v.u.s.p);
    /* invalid UTF-8 passes through without harm */
    EXPECT_STR("\xC3X\xFF", "UPPER", SN("\xC3x\xFF", 3));
}

static void char_length(void **state) {
    (void)state;
    EXPECT_INT(0, "CHAR_LENGTH", S(""));
    EXPECT_INT(3, "CHAR_LENGTH", S("abc"));
    EXPECT_INT(5, "CHARACTER_LENGTH", S("héllo"));
    EXPECT_INT(3, "char_length", S("日本語"));
    EXPECT_INT(2, "CHAR_LENGTH", S("😀a"));
    EXPECT_INT(4, "CHAR_LENGTH", SN("a\0b\0", 4));
    EXPECT_NULL(SL_TYPE_BIGINT, "CHAR_LENGTH", NUL(SL_TYPE_VARCHAR));
}

static void substring(void **state) {
    (void)state;
    EXPECT_STR("ello", "SUBSTRING", S("hello"), I(2));
    EXPECT_STR("ell", "SUBSTRING", S("hello"), I(2), I(3));
    EXPECT_STR("hello", "SUBSTRING", S("hello"), I(1));
    EXPECT_STR("he", "SUBSTRING", S("hello"), I(0), I(2));   /* start 0 counts as 1 (Flink) */
    EXPECT_STR("llo", "SUBSTRING", S("hello"), I(-3));       /* negative start: from the end */
    EXPECT_STR("ll", "SUBSTRING", S("hello"), I(-3), I(2));
    EXPECT_STR("hello", "SUBSTRING", S("hello"), I(-5));
    EXPECT_STR("", "SUBSTRING", S("hello"), I(-6));
    EXPECT_STR("", "SUBSTRING", S("hello"), I(6));           /* past the end */
    EXPECT_STR("", "SUBSTRING", S("hello"), I(100), I(2));
    EXPECT_STR("o", "SUBSTRING", S("hello"), I(5), I(100));
    EXPECT_STR("", "SUBSTRING", S("hello"), I(2), I(0));
    EXPECT_STR("", "SUBSTRING", S(""), I(1), I(3));
    EXPECT_STR("", "SUBSTRING", S("hello"), I(INT64_MIN + 1), I(INT64_MAX));
    EXPECT_STR("", "SUBSTRING", S("hello"), I(INT64_MIN));
    EXPECT_STR("hello", "SUBSTRING", S("hello"), I(1), I(INT64_MAX));
    EXPECT_NULL_STR("SUBSTRING", S("hello"), I(2), I(-1));  /* negative length: NULL (Flink) */
    EXPECT_STR("語テ", "SUBSTRING", S("日本語テキスト"), I(3), I(2));
    EXPECT_STR("é", "SUBSTR", S("héllo"), I(2), I(1));
    EXPECT_STR("ト", "SUBSTRING", S("日本語テキスト"), I(-1));
    EXPECT_STR("😀", "SUBSTRING", S("a😀b"), I(2), I(1));
    EXPECT_NULL_STR("SUBSTRING", NUL(SL_TYPE_VARCHAR), I(1));
    EXPECT_NULL_STR("SUBSTRING", S("abc"), NUL(SL_TYPE_BIGINT));
    EXPECT_NULL_STR("SUBSTRING", S("abc"), I(1), NUL(SL_TYPE_NULL));
}

static void trim(void **state) {
    (void)state;
    EXPECT_STR("ab", "TRIM", S("BOTH"), S(" "), S("  ab  "));
    EXPECT_STR("ab  ", "TRIM", S("LEADING"), S(" "), S("  ab  "));
    EXPECT_STR("  ab", "TRIM", S("TRAILING"), S(" "), S("  ab  "));
    EXPECT_STR("a b", "TRIM", S("both"), S(" "), S(" a b "));
    EXPECT_STR("", "TRIM", S("BOTH"), S(" "), S("    "));
    EXPECT_STR("", "TRIM", S("BOTH"), S(" "), S(""));
    EXPECT_STR("a", "TRIM", S("BOTH"), S("xy"), S("xyxayyx"));   /* chars is a set */
    EXPECT_STR("ayyx", "TRIM", S("LEADING"), S("yx"), S("xyxayyx"));
    EXPECT_STR("a", "TRIM", S("BOTH"), S("★"), S("★★a★"));
    EXPECT_STR("日本", "TRIM", S("BOTH"), S("★ é"), S(" é★日本★ é"));
    EXPECT_STR(" ab ", "TRIM", S("BOTH"), S(""), S(" ab "));
    EXPECT_STR("b", "TRIM", S("BOTH"), S("a"), S("aaabaaa"));
    EXPECT_NULL_STR("TRIM", S("BOTH"), NUL(SL_TYPE_VARCHAR), S("x"));
    EXPECT_NULL_STR("TRIM", S("BOTH"), S(" "), NUL(SL_TYPE_VARCHAR));
    EXPECT_NULL_STR("TRIM", NUL(SL_TYPE_VARCHAR), S(" "), S("x"));
    EXPECT_ERROR("TRIM: unknown mode 'MIDDLE'; use BOTH, LEADING or TRAILING", "TRIM", S("MIDDLE"), S(" "),
                 S(" x "));
}

static void concat(void **state) {
    (void)state;
    EXPECT_STR("abc", "CONCAT", S("a"), S("b"), S("c"));
    EXPECT_STR("ab", "CONCAT", S("a"), S(""), S("b"));
    EXPECT_STR("", "CONCAT", S(""), S(""));
    EXPECT_STR("solo", "CONCAT", S("solo"));
    EXPECT_STR("日本語😀", "CONCAT", S("日本"), S("語"), S("😀"));
    EXPECT_NULL_STR("CONCAT", S("a"), NUL(SL_TYPE_VARCHAR), S("c"));
    EXPECT_NULL_STR("CONCAT", NUL(SL_TYPE_NULL));
}

static void split_index(void **state) {
    (void)state;
    EXPECT_STR("a", "SPLIT_INDEX", S("a,b,c"), S(","), I(0));
    EXPECT_STR("b", "SPLIT_INDEX", S("a,b,c"), S(","), I(1));
    EXPECT_STR("c", "SPLIT_INDEX", S("a,b,c"), S(","), I(2));
    EXPECT_NULL_STR("SPLIT_INDEX", S("a,b,c"), S(","), I(3));
    EXPECT_NULL_STR("SPLIT_INDEX", S("a,b,c"), S(","), I(-1));
    EXPECT_NULL_STR("SPLIT_INDEX", S("a,b,c"), S(","), I(INT64_MAX));
    EXPECT_STR("", "SPLIT_INDEX", S("a,,c"), S(","), I(1));       /* empty fields are kept */
    EXPECT_STR("c", "SPLIT_INDEX", S("a,,c"), S(","), I(2));
    EXPECT_STR("", "SPLIT_INDEX", S("a,"), S(","), I(1));
    EXPECT_STR("", "SPLIT_INDEX", S(",a"), S(","), I(0));
    EXPECT_STR("abc", "SPLIT_INDEX", S("abc"), S(","), I(0));
    EXPECT_NULL_STR("SPLIT_INDEX", S("abc"), S(","), I(1));
    EXPECT_NULL_STR("SPLIT_INDEX", S(""), S(","), I(0));          /* no fields at all */
    EXPECT_STR("b", "SPLIT_INDEX", S("a::b::c"), S("::"), I(1));  /* multi-character delimiter */
    EXPECT_STR(":b", "SPLIT_INDEX", S("a:::b"), S("::"), I(1));
    EXPECT_STR("z", "SPLIT_INDEX", S("x→y→z"), S("→"), I(2));
    EXPECT_STR("b", "SPLIT_INDEX", S("a b\tc"), S(""), I(1));     /* empty: whitespace */
    EXPECT_STR("c", "SPLIT_INDEX", S("a b\tc"), S(""), I(2));
    EXPECT_NULL_STR("SPLIT_INDEX", NUL(SL_TYPE_VARCHAR), S(","), I(0));
    EXPECT_NULL_STR("SPLIT_INDEX", S("a"), NUL(SL_TYPE_VARCHAR), I(0));
    EXPECT_NULL_STR("SPLIT_INDEX", S("a"), S(","), NUL(SL_TYPE_BIGINT));
}

static void position_replace_count_char(void **state) {
    (void)state;
    EXPECT_INT(4, "POSITION", S("lo"), S("hello"));
    EXPECT_INT(1, "POSITION", S("h"), S("hello"));
    EXPECT_INT(0, "POSITION", S("x"), S("hello"));
    EXPECT_INT(1, "POSITION", S(""), S("abc"));
    EXPECT_INT(0, "POSITION", S("abc"), S(""));
    EXPECT_INT(3, "POSITION", S("語"), S("日本語"));
    EXPECT_INT(3, "POSITION", S("c"), S("éèc"));
    EXPECT_NULL(SL_TYPE_BIGINT, "POSITION", NUL(SL_TYPE_VARCHAR), S("abc"));

    EXPECT_STR("hello flink", "REPLACE", S("hello world"), S("world"), S("flink"));
    EXPECT_STR("zab", "REPLACE", S("ababab"), S("abab"), S("z"));
    EXPECT_STR("xxx", "REPLACE", S("aaa"), S("a"), S("x"));
    EXPECT_STR("", "REPLACE", S("aaa"), S("a"), S(""));
    EXPECT_STR("abc", "REPLACE", S("abc"), S("z"), S("y"));
    EXPECT_STR("-a-b-c-", "REPLACE", S("abc"), S(""), S("-"));
    EXPECT_STR("|日|本|", "REPLACE", S("日本"), S(""), S("|"));
    EXPECT_STR("|", "REPLACE", S(""), S(""), S("|"));
    EXPECT_STR("日本語", "REPLACE", S("日本go"), S("go"), S("語"));
    EXPECT_NULL_STR("REPLACE", S("abc"), NUL(SL_TYPE_VARCHAR), S("x"));
    EXPECT_NULL_STR("REPLACE", S("abc"), S("b"), NUL(SL_TYPE_VARCHAR));

    EXPECT_INT(2, "COUNT_CHAR", S("hello"), S("l"));
    EXPECT_INT(0, "COUNT_CHAR", S("hello"), S("z"));
    EXPECT_INT(0, "COUNT_CHAR", S(""), S("a"));
    EXPECT_INT(0, "COUNT_CHAR", S("aaa"), S(""));
    EXPECT_INT(2, "COUNT_CHAR", S("日本日"), S("日"));
    EXPECT_INT(2, "COUNT_CHAR", S("abab"), S("ab"));
    EXPECT_INT(5, "count_char", S("a,b,c,d,e,f"), S(","));
    EXPECT_NULL(SL_TYPE_BIGINT, "COUNT_CHAR", S("abc"), NUL(SL_TYPE_VARCHAR));
}

/* ---- REGEXP_EXTRACT --------------------------------------------------------------------- */

static void regexp_extract(void **state) {
    (void)state;
    EXPECT_STR("bar", "REGEXP_EXTRACT", S("foothebar"), S("foo(.*?)(bar)"), I(2));   /* Flink's doc */
    EXPECT_STR("the", "REGEXP_EXTRACT", S("foothebar"), S("foo(.*?)(bar)"), I(1));
    EXPECT_STR("foothebar", "REGEXP_EXTRACT", S("foothebar"), S("foo(.*?)(bar)"), I(0));
    EXPECT_STR("foothebar", "REGEXP_EXTRACT", S("foothebar"), S("foo(.*?)(bar)"));   /* default 0 */
    EXPECT_STR("100", "REGEXP_EXTRACT", S("x 100-200"), S("(\\d+)-(\\d+)"), I(1));
    EXPECT_STR("", "REGEXP_EXTRACT", S("ab"), S("a(x*)b"), I(1));                    /* empty group */
    EXPECT_NULL_STR("REGEXP_EXTRACT", S("foo"), S("bar(.*)"), I(1));                 /* no match */
    EXPECT_NULL_STR("REGEXP_EXTRACT", S("b"), S("(a)|(b)"), I(1));                   /* unset group */
    EXPECT_STR("b", "REGEXP_EXTRACT", S("b"), S("(a)|(b)"), I(2));
    EXPECT_STR("本", "REGEXP_EXTRACT", S("日本語"), S("(.)語"), I(1));                /* UTF-8 mode */
    EXPECT_STR("abc", "REGEXP_EXTRACT", SN("\xff\xfe abc", 6), S("[a-z]+"));         /* invalid UTF-8 */
    EXPECT_STR("", "REGEXP_EXTRACT", S(""), S("x*"));
    EXPECT_NULL_STR("REGEXP_EXTRACT", NUL(SL_TYPE_VARCHAR), S("a"));
    EXPECT_NULL_STR("REGEXP_EXTRACT", S("a"), NUL(SL_TYPE_VARCHAR));
    EXPECT_NULL_STR("REGEXP_EXTRACT", S("a"), S("(a)"), NUL(SL_TYPE_BIGINT));
}

static void regexp_extract_errors(void **state) {
    (void)state;
    EXPECT_ERROR("REGEXP_EXTRACT: invalid regular expression at offset 4: missing closing parenthesis",
                 "REGEXP_EXTRACT", S("abc"), S("(abc"));
    EXPECT_ERROR("REGEXP_EXTRACT: invalid regular expression at offset 2: quantifier does not follow a "
                 "repeatable item", "REGEXP_EXTRACT", S("abc"), S("a**"));

    /* a constant group the regex does not have is a prepare error ... */
    sl_type_t argt[3] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_BIGINT};
    sl_value_t re = S("f(o)o").v, g = I(2).v, neg = I(-1).v;
    void *st = NULL;
    const sl_value_t *consts[3] = {NULL, &re, &g};
    assert_int_equal(sl_fn_prepare(SL_FN_REGEXP_EXTRACT, argt, consts, 3, &st, err, sizeof(err)), -1);
    assert_string_equal(err, "REGEXP_EXTRACT: group 2 does not exist; the regular expression has 1 group "
                             "(0 is the whole match)");
    consts[2] = &neg;
    assert_int_equal(sl_fn_prepare(SL_FN_REGEXP_EXTRACT, argt, consts, 3, &st, err, sizeof(err)), -1);
    /* ... and NULL when it comes with the row (Flink catches the exception and answers NULL) */
    consts[2] = NULL;
    assert_int_equal(sl_fn_prepare(SL_FN_REGEXP_EXTRACT, argt, consts, 3, &st, err, sizeof(err)), 0);
    sl_fn_ctx_t ctx = {&arena, st, NOW_MS, err, sizeof(err), 0};
    sl_value_t a[3] = {S("foo").v, re, g}, out;
    assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 3, &out), 0);
    assert_true(out.null);
    a[2] = neg;
    assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 3, &out), 0);
    assert_true(out.null);
    a[2] = I(1).v;
    assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 3, &out), 0);
    assert_false(out.null);
    assert_int_equal(out.u.s.n, 1);
    sl_fn_release(SL_FN_REGEXP_EXTRACT, st);
}

/* A catastrophically backtracking pattern hits PCRE2's match limit: the answer is NULL, and it
 * is counted in limit_nulls rather than passing for "no match". */
static void regexp_match_limit_counted(void **state) {
    (void)state;
    sl_type_t argt[2] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR};
    sl_value_t re = S("^(a+)+$").v;
    const sl_value_t *consts[2] = {NULL, &re};
    void *st = NULL;
    assert_int_equal(sl_fn_prepare(SL_FN_REGEXP_EXTRACT, argt, consts, 2, &st, err, sizeof(err)), 0);
    sl_fn_ctx_t ctx = {&arena, st, NOW_MS, err, sizeof(err), 0};
    sl_value_t a[2] = {S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab").v, re}, out;
    assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 2, &out), 0);
    assert_true(out.null);
    assert_int_equal(ctx.limit_nulls, 1);
    /* an ordinary miss is not counted */
    a[0] = S("b").v;
    assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 2, &out), 0);
    assert_true(out.null);
    assert_int_equal(ctx.limit_nulls, 1);
    sl_fn_release(SL_FN_REGEXP_EXTRACT, st);
}

/* A per-row regex (and LIKE pattern, DATE_FORMAT pattern) that changes between rows is
 * recompiled; one that fails leaves the call site usable for the next row. */
static void per_row_patterns_change(void **state) {
    (void)state;
    sl_type_t argt[3] = {SL_TYPE_VARCHAR, SL_TYPE_VARCHAR, SL_TYPE_VARCHAR};
    const sl_value_t *none[3] = {NULL, NULL, NULL};
    void *st;
    sl_value_t out;

    assert_int_equal(sl_fn_prepare(SL_FN_REGEXP_EXTRACT, argt, none, 2, &st, err, sizeof(err)), 0);
    sl_fn_ctx_t ctx = {&arena, st, NOW_MS, err, sizeof(err), 0};
    const char *rows[][3] = {{"abc123", "[0-9]+", "123"}, {"abc123", "[a-z]+", "abc"}, {"abc123", "(", NULL},
                             {"abc123", "c1", "c1"},      {"abc123", "c1", "c1"}};
    for (size_t i = 0; i < 5; i++) {
        sl_value_t a[2] = {S(rows[i][0]).v, S(rows[i][1]).v};
        if (!rows[i][2]) {
            assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 2, &out), -1);
            continue;
        }
        assert_int_equal(sl_fn_call(SL_FN_REGEXP_EXTRACT, &ctx, a, 2, &out), 0);
        assert_int_equal(out.u.s.n, strlen(rows[i][2]));
        assert_memory_equal(out.u.s.p, rows[i][2], out.u.s.n);
    }
    sl_fn_release(SL_FN_REGEXP_EXTRACT, st);

    assert_int_equal(sl_fn_prepare(SL_FN_LIKE, argt, none, 3, &st, err, sizeof(err)), 0);
    ctx.state = st;
    const char *like[][4] = {{"a%b", "a%", "!", "1"},  {"a%b", "a!%%", "!", "1"}, {"a%b", "a!%", "!", "0"},
                             {"a%b", "a!x", "!", "e"}, {"a%b", "a!%_", "!", "1"}, {"a%b", "a#%_", "#", "1"},
                             {"axb", "a#%_", "#", "0"}};
    for (size_t i = 0; i < 7; i++) {
        sl_value_t a[3] = {S(like[i][0]).v, S(like[i][1]).v, S(like[i][2]).v};
        int rc = sl_fn_call(SL_FN_LIKE, &ctx, a, 3, &out);
        if (like[i][3][0] == 'e') {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(out.u.i, like[i][3][0] - '0');
    }
    sl_fn_release(SL_FN_LIKE, st);

    sl_type_t dft[2] = {SL_TYPE_TIMESTAMP, SL_TYPE_VARCHAR};
    assert_int_equal(sl_fn_prepare(SL_FN_DATE_FORMAT, dft, none, 2, &st, err, sizeof(err)), 0);
    ctx.state = st;
    const char *fmts[][2] = {{"yyyy", "2015"}, {"MM/dd", "07/15"}, {"Q", NULL}, {"EEE", "Wed"}, {"EEE", "Wed"}};
    for (size_t i = 0; i < 5; i++) {
        sl_value_t a[2] = {TS(NEXMARK_BASE).v, S(fmts[i][0]).v};
        if (!fmts[i][1]) {
            assert_int_equal(sl_fn_call(SL_FN_DATE_FORMAT, &ctx, a, 2, &out), -1);
            continue;
        }
        assert_int_equal(sl_fn_call(SL_FN_DATE_FORMAT, &ctx, a, 2, &out), 0);
        assert_int_equal(out.u.s.n, strlen(fmts[i][1]));
        assert_memory_equal(out.u.s.p, fmts[i][1], out.u.s.n);
    }
    sl_fn_release(SL_FN_DATE_FORMAT, st);
}

/* ---- LIKE ------------------------------------------------------------------------------- */

static void like(void **state) {
    (void)state;
    static const struct {
        const char *s, *p;
        int want;
    } cases[] = {
        {"abc", "abc", 1},    {"abc", "ab", 0},       {"ab", "abc", 0},     {"abc", "a%", 1},
        {"abc", "%c", 1},     {"abc", "%b%", 1},      {"abc", "%d%", 0},    {"abc", "a_c", 1},
        {"abc", "_", 0},      {"abc", "___", 1},      {"abc", "%", 1},      {"", "%", 1},
        {"", "_", 0},         {"", "", 1},            {"a", "", 0},         {"aXbXc", "%b%c", 1},
        {"aaa", "%a%a%a%", 1}, {"aa", "%a%a%a%", 0},  {"ab", "a%%b", 1},    {"abab", "ab%ab", 1},
        {"aba", "ab%ba", 0},  {"abcab", "ab%ab", 1},  {"x", "%_", 1},       {"", "%_", 0},
        {"xyz", "%_z", 1},    {"xyz", "_%_%_", 1},    {"xy", "_%_%_", 0},   {"hello world", "%o w%", 1},
        {"hello world", "h%o%o%d", 1}, {"hello world", "h%o%o%x", 0}, {"a\nb", "a%b", 1},
        {"a\nb", "a_b", 1},   {"ABC", "abc", 0},      {"日本語", "日_語", 1}, {"日本語", "___", 1},
        {"日本語", "__", 0},  {"日本語", "%語", 1},   {"日本語", "日%", 1},  {"日本語", "%本%", 1},
        {"日本語", "_本_", 1}, {"日本語", "%_語", 1}, {"日本語", "____", 0}, {"Auction 42", "Auction%", 1},
        {"xxabcxx", "%abc%", 1}, {"xxabxcxx", "%abc%", 0}, {"mississippi", "%iss%pi", 1},
        {"mississippi", "m%ss%ss%pi", 1}, {"mississippi", "m%ss%ss%ss%", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_value_t r = eval_typed("LIKE", SL_TYPE_BOOLEAN, ARGS(S(cases[i].s), S(cases[i].p)));
        if (r.null || r.u.i != cases[i].want)
            fail_msg("'%s' LIKE '%s': got %d, want %d", cases[i].s, cases[i].p, (int)r.u.i, cases[i].want);
    }
    EXPECT_BOOL(1, "LIKE", S("100%"), S("100!%"), S("!"));
    EXPECT_BOOL(0, "LIKE", S("1000"), S("100!%"), S("!"));
    EXPECT_BOOL(1, "LIKE", S("a_b"), S("a!_b"), S("!"));
    EXPECT_BOOL(0, "LIKE", S("axb"), S("a!_b"), S("!"));
    EXPECT_BOOL(1, "LIKE", S("a!b"), S("a!!b"), S("!"));
    EXPECT_BOOL(1, "LIKE", S("50% off"), S("%!%%"), S("!"));
    EXPECT_BOOL(1, "LIKE", S("a%"), S("a★%"), S("★"));               /* multibyte escape */
    EXPECT_BOOL(1, "LIKE", S("a%b"), S("a%%b"), S("%"));            /* '%' as the escape */
    EXPECT_BOOL(0, "LIKE", S("axb"), S("a%%b"), S("%"));
    EXPECT_BOOL(1, "LIKE", S("x_y"), S("%\\_%"), S("\\"));
    EXPECT_BOOL(0, "LIKE", S("xy"), S("%\\_%"), S("\\"));
    EXPECT_NULL(SL_TYPE_BOOLEAN, "LIKE", NUL(SL_TYPE_VARCHAR), S("a"));
    EXPECT_NULL(SL_TYPE_BOOLEAN, "LIKE", S("a"), NUL(SL_TYPE_VARCHAR));
    EXPECT_NULL(SL_TYPE_BOOLEAN, "LIKE", S("a"), S("a"), NUL(SL_TYPE_VARCHAR));

    EXPECT_ERROR("LIKE: invalid escape sequence at offset 1 of the pattern; the escape may only precede "
                 "%, _ or itself", "LIKE", S("ab"), S("a!b"), S("!"));
    EXPECT_ERROR("LIKE: the pattern ends with the escape character", "LIKE", S("ab"), S("ab!"), S("!"));
    EXPECT_ERROR("LIKE: the escape must be one character, got 'ab'", "LIKE", S("ab"), S("ab"), S("ab"));
    EXPECT_ERROR("LIKE: the escape must be one character, got ''", "LIKE", S("ab"), S("ab"), S(""));
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void mod_abs(void **state) {
    (void)state;
    EXPECT_INT(1, "MOD", I(7), I(3));
    EXPECT_INT(-1, "MOD", I(-7), I(3));       /* the sign of the dividend */
    EXPECT_INT(1, "MOD", I(7), I(-3));
    EXPECT_INT(-1, "MOD", I(-7), I(-3));
    EXPECT_INT(0, "MOD", I(6), I(3));
    EXPECT_INT(0, "MOD", I(INT64_MIN), I(-1));
    EXPECT_NULL(SL_TYPE_BIGINT, "MOD", I(7), I(0));
    EXPECT_DBL(1.5, "MOD", D(7.5), I(2));
    EXPECT_DBL(-1.5, "MOD", D(-7.5), D(2));
    EXPECT_NULL(SL_TYPE_DOUBLE, "MOD", D(1), D(0));
    EXPECT_NULL(SL_TYPE_BIGINT, "MOD", NUL(SL_TYPE_BIGINT), I(2));

    EXPECT_INT(5, "ABS", I(-5));
    EXPECT_INT(5, "ABS", I(5));
    EXPECT_INT(0, "ABS", I(0));
    EXPECT_INT(INT64_MAX, "ABS", I(-INT64_MAX));
    EXPECT_INT(INT64_MIN, "ABS", I(INT64_MIN));  /* wraps, as Java's Math.abs */
    EXPECT_DBL(2.5, "ABS", D(-2.5));
    EXPECT_DBL(0.0, "ABS", D(-0.0));
    EXPECT_NULL(SL_TYPE_DOUBLE, "ABS", NUL(SL_TYPE_DOUBLE));
}

static void round_floor_ceil(void **state) {
    (void)state;
    EXPECT_DBL(3.0, "ROUND", D(2.5));                 /* half away from zero */
    EXPECT_DBL(-3.0, "ROUND", D(-2.5));
    EXPECT_DBL(2.0, "ROUND", D(2.4999));
    EXPECT_DBL(1.0, "ROUND", D(0.5));
    EXPECT_DBL(-1.0, "ROUND", D(-0.5));
    EXPECT_DBL(0.0, "ROUND", D(-0.4));
    EXPECT_DBL(1.01, "ROUND", D(1.005), I(2));        /* by the decimal digits, as Flink */
    EXPECT_DBL(2.68, "ROUND", D(2.675), I(2));
    EXPECT_DBL(-2.68, "ROUND", D(-2.675), I(2));
    EXPECT_DBL(123.5, "ROUND", D(123.456), I(1));
    EXPECT_DBL(10.0, "ROUND", D(9.99), I(1));
    EXPECT_DBL(1200.0, "ROUND", D(1234.5678), I(-2)); /* negative digits */
    EXPECT_DBL(2000.0, "ROUND", D(1500.0), I(-3));
    EXPECT_DBL(0.0, "ROUND", D(499.0), I(-3));
    EXPECT_DBL(1.23e-5, "ROUND", D(1.23456789e-5), I(7));
    EXPECT_DBL(1e300, "ROUND", D(1e300), I(2));
    EXPECT_DBL(0.1, "ROUND", D(0.1), I(20));
    EXPECT_DBL(0.3, "ROUND", D(0.1 + 0.2), I(15));
    EXPECT_DBL(3e-8, "ROUND", D(2.5e-8), I(8));
    EXPECT_INT(5, "ROUND", I(5));
    EXPECT_INT(1234, "ROUND", I(1234), I(2));
    EXPECT_INT(1200, "ROUND", I(1249), I(-2));
    EXPECT_INT(1300, "ROUND", I(1250), I(-2));
    EXPECT_INT(-1300, "ROUND", I(-1250), I(-2));
    EXPECT_INT(20, "ROUND", I(15), I(-1));
    EXPECT_INT(0, "ROUND", I(4999999999999999999LL), I(-19));
    EXPECT_INT(0, "ROUND", I(INT64_MAX), I(-20));
    EXPECT_NULL(SL_TYPE_BIGINT, "ROUND", I(5000000000000000000LL), I(-19));
    EXPECT_NULL(SL_TYPE_BIGINT, "ROUND", I(INT64_MAX), I(-1));   /* does not fit */
    EXPECT_NULL(SL_TYPE_DOUBLE, "ROUND", D(1.5), NUL(SL_TYPE_BIGINT));

    EXPECT_DBL(2.0, "FLOOR", D(2.5));
    EXPECT_DBL(-3.0, "FLOOR", D(-2.5));
    EXPECT_DBL(3.0, "CEIL", D(2.5));
    EXPECT_DBL(-2.0, "CEILING", D(-2.5));
    EXPECT_INT(7, "FLOOR", I(7));
    EXPECT_INT(-7, "CEIL", I(-7));
    EXPECT_NULL(SL_TYPE_DOUBLE, "FLOOR", NUL(SL_TYPE_DOUBLE));
}

static void power_sqrt(void **state) {
    (void)state;
    EXPECT_DBL(1024.0, "POWER", I(2), I(10));         /* BIGINTs widen to DOUBLE */
    EXPECT_DBL(0.5, "POWER", D(2), I(-1));
    EXPECT_DBL(1.0, "POWER", D(0), D(0));
    EXPECT_DBL(4.0, "SQRT", I(16));
    EXPECT_DBL(sqrt(2.0), "SQRT", D(2));
    EXPECT_DBL(0.0, "SQRT", D(0));
    EXPECT_NULL(SL_TYPE_DOUBLE, "SQRT", D(-1));
    EXPECT_NULL(SL_TYPE_DOUBLE, "POWER", NUL(SL_TYPE_NULL), D(2));
}

/* ---- time ------------------------------------------------------------------------------- */

static void time_fields(void **state) {
    (void)state;
    static const struct {
        int64_t ms;
        int64_t year, month, day, hour, minute, second, milli, dow, doy, week, quarter, epoch, isoyear;
    } cases[] = {
        /* 2015-07-15T00:00:00Z, a Wednesday (DOW 4: 1 = Sunday) */
        {1436918400000LL, 2015, 7, 15, 0, 0, 0, 0, 4, 196, 29, 3, 1436918400LL, 2015},
        /* 2016-02-29T12:34:56.789Z, a leap day */
        {1456749296789LL, 2016, 2, 29, 12, 34, 56, 789, 2, 60, 9, 1, 1456749296LL, 2016},
        /* 2000-12-31T23:59:59.999Z: day 366 of a leap century year, ISO week 52 */
        {978307199999LL, 2000, 12, 31, 23, 59, 59, 999, 1, 366, 52, 4, 978307199LL, 2000},
        /* 1969-12-31T23:59:59.999Z, one millisecond before the epoch */
        {-1LL, 1969, 12, 31, 23, 59, 59, 999, 4, 365, 1, 4, 0, 1970},
        /* 1900-03-01T06:07:08.009Z: 1900 is not a leap year */
        {-2203869171991LL, 1900, 3, 1, 6, 7, 8, 9, 5, 60, 9, 1, -2203869171LL, 1900},
        /* 2021-01-01: ISO week 53 of 2020 */
        {1609459200000LL, 2021, 1, 1, 0, 0, 0, 0, 6, 1, 53, 1, 1609459200LL, 2020},
        /* 2008-12-29: ISO week 1 of 2009 */
        {1230508800000LL, 2008, 12, 29, 0, 0, 0, 0, 2, 364, 1, 4, 1230508800LL, 2009},
        /* 1600-02-29: a leap day four centuries back */
        {-11670998400000LL, 1600, 2, 29, 0, 0, 0, 0, 3, 60, 9, 1, -11670998400LL, 1600},
        /* 0001-01-01 */
        {-62135596800000LL, 1, 1, 1, 0, 0, 0, 0, 2, 1, 1, 1, -62135596800LL, 1},
        /* 2020-12-31: day 366, week 53 */
        {1609372800000LL, 2020, 12, 31, 0, 0, 0, 0, 5, 366, 53, 4, 1609372800LL, 2020},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tv_t ts = TS(cases[i].ms);
        EXPECT_INT(cases[i].year, "YEAR", ts);
        EXPECT_INT(cases[i].month, "MONTH", ts);
        EXPECT_INT(cases[i].day, "DAYOFMONTH", ts);
        EXPECT_INT(cases[i].hour, "HOUR", ts);
        EXPECT_INT(cases[i].minute, "MINUTE", ts);
        EXPECT_INT(cases[i].second, "SECOND", ts);
        EXPECT_INT(cases[i].year, "EXTRACT", S("YEAR"), ts);
        EXPECT_INT(cases[i].month, "EXTRACT", S("MONTH"), ts);
        EXPECT_INT(cases[i].day, "EXTRACT", S("DAY"), ts);
        EXPECT_INT(cases[i].hour, "EXTRACT", S("HOUR"), ts);
        EXPECT_INT(cases[i].minute, "EXTRACT", S("MINUTE"), ts);
        EXPECT_INT(cases[i].second, "EXTRACT", S("SECOND"), ts);
        EXPECT_INT(cases[i].milli, "EXTRACT", S("MILLISECOND"), ts);
        EXPECT_INT(cases[i].milli * 1000, "EXTRACT", S("MICROSECOND"), ts);
        EXPECT_INT(cases[i].dow, "EXTRACT", S("DOW"), ts);
        EXPECT_INT((cases[i].dow + 5) % 7 + 1, "EXTRACT", S("ISODOW"), ts);
        EXPECT_INT(cases[i].doy, "EXTRACT", S("DOY"), ts);
        EXPECT_INT(cases[i].week, "EXTRACT", S("WEEK"), ts);
        EXPECT_INT(cases[i].isoyear, "EXTRACT", S("ISOYEAR"), ts);
        EXPECT_INT(cases[i].quarter, "EXTRACT", S("QUARTER"), ts);
        EXPECT_INT(cases[i].epoch, "EXTRACT", S("EPOCH"), ts);
    }
    EXPECT_INT(201, "EXTRACT", S("DECADE"), TS(NEXMARK_BASE));
    EXPECT_INT(21, "EXTRACT", S("CENTURY"), TS(NEXMARK_BASE));
    EXPECT_INT(3, "EXTRACT", S("MILLENNIUM"), TS(NEXMARK_BASE));
    EXPECT_INT(20, "EXTRACT", S("CENTURY"), TS(978307199999LL));
    EXPECT_INT(-1, "EXTRACT", S("EPOCH"), TS(-1500));            /* truncated toward zero */
    EXPECT_INT(2015, "extract", S("year"), TS(NEXMARK_BASE));    /* units in any case */
    /* java.time: +292278994-08-17T07:12:55.807Z and -292275055-05-16T16:47:04.192Z */
    EXPECT_INT(292278994, "YEAR", TS(INT64_MAX));
    EXPECT_INT(8, "MONTH", TS(INT64_MAX));
    EXPECT_INT(17, "DAYOFMONTH", TS(INT64_MAX));
    EXPECT_INT(7, "HOUR", TS(INT64_MAX));
    EXPECT_INT(-292275055, "YEAR", TS(INT64_MIN));
    EXPECT_INT(5, "MONTH", TS(INT64_MIN));
    EXPECT_INT(16, "DAYOFMONTH", TS(INT64_MIN));
    EXPECT_INT(16, "HOUR", TS(INT64_MIN));
    EXPECT_INT(192, "EXTRACT", S("MILLISECOND"), TS(INT64_MIN));
    EXPECT_NULL(SL_TYPE_BIGINT, "HOUR", NUL(SL_TYPE_TIMESTAMP));
    EXPECT_NULL(SL_TYPE_BIGINT, "EXTRACT", S("HOUR"), NUL(SL_TYPE_NULL));
    EXPECT_ERROR("EXTRACT: unknown unit 'FORTNIGHT'; use YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, "
                 "ISODOW, ISOYEAR, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, EPOCH, DECADE, "
                 "CENTURY or MILLENNIUM", "EXTRACT", S("FORTNIGHT"), TS(0));
}

/* Every day from 1890 to 2110 round-trips through the calendar fields. */
static void time_fields_every_day(void **state) {
    (void)state;
    int64_t y = 1890, m = 1, d = 1, dow = 4;   /* 1890-01-01 was a Wednesday: DOW 4 */
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t day0 = -29219;                     /* 1890-01-01 in days since 1970 */
    int doy = 1;
    sl_type_t ts = SL_TYPE_TIMESTAMP, want, ret;
    sl_fn_t id;
    assert_int_equal(resolve("YEAR", &ts, 1, &id, &ret, &want), 0);
    for (int64_t day = day0; y < 2110; day++) {
        int64_t ms = day * 86400000 + 86399999;
        sl_value_t v = TS(ms).v, out;
        sl_fn_ctx_t ctx = {&arena, NULL, 0, err, sizeof(err), 0};
        assert_int_equal(sl_fn_call(SL_FN_YEAR, &ctx, &v, 1, &out), 0);
        assert_int_equal(out.u.i, y);
        assert_int_equal(sl_fn_call(SL_FN_MONTH, &ctx, &v, 1, &out), 0);
        assert_int_equal(out.u.i, m);
        assert_int_equal(sl_fn_call(SL_FN_DAYOFMONTH, &ctx, &v, 1, &out), 0);
        assert_int_equal(out.u.i, d);
        sl_value_t ex[2] = {S("DOW").v, v};
        assert_int_equal(sl_fn_call(SL_FN_EXTRACT, &ctx, ex, 2, &out), 0);
        assert_int_equal(out.u.i, dow);
        ex[0] = S("DOY").v;
        assert_int_equal(sl_fn_call(SL_FN_EXTRACT, &ctx, ex, 2, &out), 0);
        assert_int_equal(out.u.i, doy);
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int len = mdays[m - 1] + (m == 2 && leap);
        dow = dow % 7 + 1;
        doy++;
        if (++d > len) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
                doy = 1;
            }
        }
    }
}

static void date_format(void **state) {
    (void)state;
    EXPECT_STR("2015-07-15", "DATE_FORMAT", TS(NEXMARK_BASE), S("yyyy-MM-dd"));
    EXPECT_STR("2015-07-15 00:00:00", "DATE_FORMAT", TS(NEXMARK_BASE), S("yyyy-MM-dd HH:mm:ss"));
    EXPECT_STR("2016-02-29T12:34:56.789", "DATE_FORMAT", TS(1456749296789LL), S("yyyy-MM-dd'T'HH:mm:ss.SSS"));
    EXPECT_STR("16/2/29 12:34:56", "DATE_FORMAT", TS(1456749296789LL), S("yy/M/d H:m:s"));
    EXPECT_STR("Mon, 29 Feb 2016", "DATE_FORMAT", TS(1456749296789LL), S("EEE, d MMM yyyy"));
    EXPECT_STR("Monday February F", "DATE_FORMAT", TS(1456749296789LL), S("EEEE MMMM MMMMM"));
    EXPECT_STR("12 PM 12 00", "DATE_FORMAT", TS(1456749296789LL), S("h a HH KK"));
    EXPECT_STR("12 AM 24 0", "DATE_FORMAT", TS(NEXMARK_BASE), S("hh a kk K"));
    EXPECT_STR("'2016' o'clock", "DATE_FORMAT", TS(1456749296789LL), S("''yyyy'' 'o''clock'"));
    EXPECT_STR("060 60", "DATE_FORMAT", TS(1456749296789LL), S("DDD D"));
    EXPECT_STR("7 78 789000", "DATE_FORMAT", TS(1456749296789LL), S("S SS SSSSSS"));
    EXPECT_STR("1969-12-31 23:59:59.999", "DATE_FORMAT", TS(-1), S("yyyy-MM-dd HH:mm:ss.SSS"));
    EXPECT_STR("1900-03-01 06:07:08.009", "DATE_FORMAT", TS(-2203869171991LL), S("yyyy-MM-dd HH:mm:ss.SSS"));
    EXPECT_STR("0001-01-01 1", "DATE_FORMAT", TS(-62135596800000LL), S("yyyy-MM-dd y"));
    EXPECT_STR("2015年07月15日", "DATE_FORMAT", TS(NEXMARK_BASE), S("yyyy年MM月dd日"));
    EXPECT_STR("", "DATE_FORMAT", TS(NEXMARK_BASE), S(""));
    EXPECT_STR("-: /", "DATE_FORMAT", TS(NEXMARK_BASE), S("-: /"));
    EXPECT_NULL_STR("DATE_FORMAT", NUL(SL_TYPE_TIMESTAMP), S("yyyy"));
    EXPECT_NULL_STR("DATE_FORMAT", TS(0), NUL(SL_TYPE_VARCHAR));
    EXPECT_ERROR("DATE_FORMAT: unsupported pattern letter 'Q' at offset 5", "DATE_FORMAT", TS(0), S("yyyy-QQ"));
    EXPECT_ERROR("DATE_FORMAT: unterminated quote at offset 5 of the pattern", "DATE_FORMAT", TS(0),
                 S("yyyy 'at"));
    EXPECT_ERROR("DATE_FORMAT: too many 'd' letters at offset 0 (at most 2)", "DATE_FORMAT", TS(0), S("ddd"));

    /* a long pattern (output beyond the stack buffer) */
    char pat[600];
    size_t n = 0;
    while (n + 11 < sizeof(pat)) {
        memcpy(pat + n, "yyyy-MM-dd ", 11);
        n += 11;
    }
    pat[n] = 0;
    sl_value_t r = eval_typed("DATE_FORMAT", SL_TYPE_VARCHAR, ARGS(TS(NEXMARK_BASE), S(pat)));
    assert_int_equal(r.u.s.n, n);
    assert_memory_equal(r.u.s.p, "2015-07-15 2015-07-15 ", 22);
}

static void clocks_and_to_timestamp(void **state) {
    (void)state;
    sl_value_t out;
    sl_fn_ctx_t ctx = {&arena, NULL, NOW_MS, err, sizeof(err), 0};
    assert_int_equal(sl_fn_call(SL_FN_CURRENT_TIMESTAMP, &ctx, NULL, 0, &out), 0);
    assert_false(out.null);
    assert_int_equal(out.u.i, NOW_MS);
    assert_int_equal(sl_fn_call(SL_FN_PROCTIME, &ctx, NULL, 0, &out), 0);
    assert_int_equal(out.u.i, NOW_MS);

    static const struct {
        const char *s;
        int64_t ms;
        int ok;
    } cases[] = {
        {"2015-07-15T00:00:00Z", NEXMARK_BASE, 1},
        {"2015-07-15T02:00:00+02:00", NEXMARK_BASE, 1},
        {"2015-07-14T22:00:00.000-02:00", NEXMARK_BASE, 1},
        {"2015-07-15 00:00:00", NEXMARK_BASE, 1},
        {"2015-07-15 00:00", NEXMARK_BASE, 1},
        {"2015-07-15", NEXMARK_BASE, 1},
        {"2016-02-29 12:34:56.789", 1456749296789LL, 1},
        {"2016-02-29 12:34:56.7", 1456749296700LL, 1},
        {"1969-12-31 23:59:59.999", -1, 1},
        {"2015-02-29 00:00:00", 0, 0},
        {"2015-13-01 00:00:00", 0, 0},
        {"2015-07-15 24:00:00", 0, 0},
        {"2015-07-15 00:00:00 junk", 0, 0},
        {"garbage", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_value_t r = eval_typed("TO_TIMESTAMP", SL_TYPE_TIMESTAMP, ARGS(S(cases[i].s)));
        if (r.null != !cases[i].ok || (cases[i].ok && r.u.i != cases[i].ms))
            fail_msg("TO_TIMESTAMP('%s'): got %s %lld", cases[i].s, r.null ? "NULL" : "",
                     (long long)r.u.i);
    }
    EXPECT_NULL(SL_TYPE_TIMESTAMP, "TO_TIMESTAMP", NUL(SL_TYPE_VARCHAR));
}

/* ---- NULL in, NULL out, for every function and every argument ---------------------------- */

static void null_in_null_out(void **state) {
    (void)state;
    static const struct {
        const char *name;
        tv_t args[3];
        int n;
    } calls[] = {
        {"LOWER", {{SL_TYPE_VARCHAR, {0}}}, 1},
        {"UPPER", {{SL_TYPE_VARCHAR, {0}}}, 1},
        {"CHAR_LENGTH", {{SL_TYPE_VARCHAR, {0}}}, 1},
        {"SUBSTRING", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_BIGINT, {0}}, {SL_TYPE_BIGINT, {0}}}, 3},
        {"CONCAT", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}}, 3},
        {"SPLIT_INDEX", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}, {SL_TYPE_BIGINT, {0}}}, 3},
        {"COUNT_CHAR", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}}, 2},
        {"POSITION", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}}, 2},
        {"REPLACE", {{SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}, {SL_TYPE_VARCHAR, {0}}}, 3},
        {"MOD", {{SL_TYPE_BIGINT, {0}}, {SL_TYPE_BIGINT, {0}}}, 2},
        {"ABS", {{SL_TYPE_DOUBLE, {0}}}, 1},
        {"ROUND", {{SL_TYPE_DOUBLE, {0}}, {SL_TYPE_BIGINT, {0}}}, 2},
        {"FLOOR", {{SL_TYPE_DOUBLE, {0}}}, 1},
        {"CEIL", {{SL_TYPE_BIGINT, {0}}}, 1},
        {"POWER", {{SL_TYPE_DOUBLE, {0}}, {SL_TYPE_DOUBLE, {0}}}, 2},
        {"SQRT", {{SL_TYPE_DOUBLE, {0}}}, 1},
        {"YEAR", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"MONTH", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"DAYOFMONTH", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"HOUR", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"MINUTE", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"SECOND", {{SL_TYPE_TIMESTAMP, {0}}}, 1},
        {"TO_TIMESTAMP", {{SL_TYPE_VARCHAR, {0}}}, 1},
    };
    for (size_t c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
        for (int k = 0; k < calls[c].n; k++) {
            tv_t a[3];
            memcpy(a, calls[c].args, sizeof(a));
            for (int i = 0; i < calls[c].n; i++)
                if (a[i].t == SL_TYPE_VARCHAR) a[i].v.u.s.p = "1";
            for (int i = 0; i < calls[c].n; i++)
                if (a[i].t == SL_TYPE_VARCHAR) a[i].v.u.s.n = 1;
            a[k].v.null = 1;
            sl_value_t r = eval(calls[c].name, a, calls[c].n, NULL);
            if (!r.null) fail_msg("%s with NULL argument %d is not NULL", calls[c].name, k);
        }
    }
}

static int setup(void **state) {
    (void)state;
    sl_arena_init(&arena);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sl_arena_free(&arena);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolve_names_and_aliases),
        cmocka_unit_test(resolve_numeric_types),
        cmocka_unit_test(resolve_casts),
        cmocka_unit_test(resolve_errors),
        cmocka_unit_test(names_purity_and_types),
        cmocka_unit_test(lower_upper),
        cmocka_unit_test(char_length),
        cmocka_unit_test(substring),
        cmocka_unit_test(trim),
        cmocka_unit_test(concat),
        cmocka_unit_test(split_index),
        cmocka_unit_test(position_replace_count_char),
        cmocka_unit_test(regexp_extract),
        cmocka_unit_test(regexp_extract_errors),
        cmocka_unit_test(per_row_patterns_change),
        cmocka_unit_test(like),
        cmocka_unit_test(mod_abs),
        cmocka_unit_test(round_floor_ceil),
        cmocka_unit_test(power_sqrt),
        cmocka_unit_test(time_fields),
        cmocka_unit_test(time_fields_every_day),
        cmocka_unit_test(date_format),
        cmocka_unit_test(clocks_and_to_timestamp),
        cmocka_unit_test(null_in_null_out),
        cmocka_unit_test(regexp_match_limit_counted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
