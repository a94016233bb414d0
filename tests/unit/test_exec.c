/* Unit tests for exec/ and json/extract: statements are parsed and bound for real, then the
 * query is driven by hand (push events, end batches) and its output rows collected. Covers
 * field extraction by JSON Pointer, expressions and NULL logic, filter/project, updating
 * aggregates (insert/update/delete through HAVING), TUMBLE/HOP/CUMULATE/SESSION windows with
 * watermarks and late events, idle partitions holding the watermark, DISTINCT and FILTER,
 * the memory limit, checkpoint save/load round trips, and views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "exec/expr.h"
#include "exec/query.h"
#include "exec/view.h"
#include "json/doc.h"
#include "json/extract.h"
#include "sql/ast.h"
#include "sql/plan.h"

/* ---- json/extract ---------------------------------------------------------------------------- */

static void extract_fields(void **state) {
    (void)state;
    const char *ptrs[] = {"/a", "/b/c", "/s", "/arr", "/obj", "/missing", "/t~1x", "/n"};
    sl_jx_t *x;
    assert_int_equal(sl_jx_new(ptrs, 8, &x), 0);
    sl_arena_t a = SL_ARENA_INIT;
    sl_jx_field_t f[8];
    const char *ev = "{\"a\":12,\"b\":{\"c\":true,\"a\":5},\"s\":\"h\\u00e9\\n\",\"arr\":[1,{\"a\":2}],"
                     "\"obj\":{\"k\":[1]},\"t/x\":-1.5e3,\"n\":null}";
    assert_int_equal(sl_jx_run(x, ev, strlen(ev), f, &a), 0);
    assert_int_equal(f[0].kind, SL_J_NUMBER);
    assert_string_equal(f[0].p, "12");
    assert_int_equal(f[1].kind, SL_J_BOOL);
    assert_int_equal(f[1].b, 1);
    assert_int_equal(f[2].kind, SL_J_STRING);
    assert_int_equal(f[2].n, 4);
    assert_memory_equal(f[2].p, "h\xc3\xa9\n", 4);
    assert_int_equal(f[3].kind, SL_J_ARRAY);
    assert_int_equal(f[3].n, strlen("[1,{\"a\":2}]"));
    assert_memory_equal(f[3].p, "[1,{\"a\":2}]", f[3].n);
    assert_int_equal(f[4].kind, SL_J_OBJECT);
    assert_memory_equal(f[4].p, "{\"k\":[1]}", f[4].n);
    assert_int_equal(f[5].kind, SL_J_NONE);
    assert_int_equal(f[6].kind, SL_J_NUMBER);
    assert_string_equal(f[6].p, "-1.5e3");
    assert_int_equal(f[7].kind, SL_J_NULL);
    /* the same extractor, reused; invalid input, then valid again */
    assert_int_equal(sl_jx_run(x, "{\"a\":", 5, f, &a), -1);
    assert_int_equal(sl_jx_run(x, "{\"a\":\"z\"}", 9, f, &a), 0);
    assert_int_equal(f[0].kind, SL_J_STRING);
    assert_int_equal(f[1].kind, SL_J_NONE);
    /* a top-level scalar has no fields */
    assert_int_equal(sl_jx_run(x, "7", 1, f, &a), 0);
    assert_int_equal(f[0].kind, SL_J_NONE);
    sl_jx_free(x);
    sl_arena_free(&a);
    const char *bad[] = {"nope"};
    assert_int_equal(sl_jx_new(bad, 1, &x), -1);
}

/* ---- a harness: stream + query from SQL text --------------------------------------------------- */

typedef struct harness {
    sl_arena_t ast, st_arena;
    sl_stream_def_t *stream;
    sl_query_t *q;
    sl_buf_t out;                  /* emitted rows as "op row-json\n" */
    int nrows;
    const sl_pcol_t *cols;
    int ncols;
    sl_view_t *view;
    int64_t off[16];               /* next offset per partition */
} harness_t;

static const sl_stream_def_t *h_stream(void *ud, const char *name) {
    harness_t *h = ud;
    return !strcmp(name, h->stream->name) ? h->stream : NULL;
}

static void h_emit(void *ud, int change, const char *key, size_t klen, const sl_value_t *row) {
    harness_t *h = ud;
    static const char *ops[] = {"", "+", "~", "-"};
    sl_buf_printf(&h->out, "%s", ops[change]);
    sl_row_json(&h->out, h->cols, h->ncols, row);
    sl_buf_putc(&h->out, '\n');
    h->nrows++;
    if (h->view) assert_int_equal(sl_view_apply(h->view, change, key, klen, row), 0);
}

#define STREAM_SQL                                                                                 \
    "CREATE STREAM s (k VARCHAR, v BIGINT, d DOUBLE, ts TIMESTAMP(3), "                            \
    "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (topic='t')"

/* Sets up stream + query; returns the bind/create error text or NULL. */
static const char *h_init(harness_t *h, const char *stream_sql, const char *select_sql, uint32_t parts,
                          uint64_t memory_limit) {
    static char err[512];
    memset(h, 0, sizeof(*h));
    sl_arena_init(&h->ast);
    sl_arena_init(&h->st_arena);
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t e;
    assert_int_equal(sl_sql_parse(&h->st_arena, stream_sql, strlen(stream_sql), &st, &n, &e), 0);
    h->stream = sl_bind_stream(&h->st_arena, &st[0], &e);
    if (!h->stream) {
        snprintf(err, sizeof(err), "%s", e.message);
        return err;
    }
    if (sl_sql_parse(&h->ast, select_sql, strlen(select_sql), &st, &n, &e)) {
        snprintf(err, sizeof(err), "%s", e.message);
        return err;
    }
    sl_catalog_t cat = {h, h_stream, NULL};
    sl_arena_t pa = SL_ARENA_INIT;
    sl_plan_t *p = sl_bind_select(&pa, &cat, st[0].select, 1, &e);
    if (!p) {
        sl_arena_free(&pa);
        snprintf(err, sizeof(err), "%s", e.message);
        return err;
    }
    sl_query_config_t qc = {memory_limit, h_emit, h};
    if (sl_query_create(&pa, p, &qc, &h->q, err, sizeof(err))) return err;
    h->cols = sl_query_columns(h->q, &h->ncols);
    assert_int_equal(sl_query_set_partitions(h->q, parts), 0);
    return NULL;
}

static void h_free(harness_t *h) {
    sl_query_free(h->q);
    sl_view_free(h->view);
    sl_arena_free(&h->ast);
    sl_arena_free(&h->st_arena);
    sl_buf_free(&h->out);
}

/* Pushes one batch of events "p|json" lines (partition, then the event). */
static void h_push(harness_t *h, const char *const *evs, size_t n) {
    int64_t *off = h->off;
    sl_query_begin(h->q, 1000);
    for (size_t i = 0; i < n; i++) {
        uint32_t p = (uint32_t)(evs[i][0] - '0');
        const char *json = evs[i] + 2;
        assert_int_equal(sl_query_push_json(h->q, p, off[p]++, 0, json, strlen(json)), 0);
    }
    assert_int_equal(sl_query_end(h->q, 1000), 0);
}

static const char *h_out(harness_t *h) {
    sl_buf_putc(&h->out, 0);
    h->out.len--;
    return h->out.data ? h->out.data : "";
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void filter_project(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT UPPER(k) AS K, v * 2 AS v2, v / 0 AS z, CASE WHEN d > 1 THEN 'big' ELSE 'small' END AS c, "
                       "COALESCE(k, 'none') AS kk, k IS NULL AS isn FROM s WHERE v BETWEEN 1 AND 10 OR v IS NULL",
                       1, 0));
    const char *evs[] = {"0|{\"k\":\"ab\",\"v\":3,\"d\":2.5,\"ts\":0}", "0|{\"k\":\"x\",\"v\":30,\"ts\":1}",
                         "0|{\"d\":0.5,\"ts\":\"1970-01-01T00:00:00.002Z\"}", "0|{\"k\":7,\"v\":\"oops\"}"};
    h_push(&h, evs, 4);
    assert_string_equal(h_out(&h),
                        "+{\"K\":\"AB\",\"v2\":6,\"z\":null,\"c\":\"big\",\"kk\":\"ab\",\"isn\":false}\n"
                        "+{\"K\":null,\"v2\":null,\"z\":null,\"c\":\"small\",\"kk\":\"none\",\"isn\":true}\n"
                        "+{\"K\":\"7\",\"v2\":null,\"z\":null,\"c\":\"small\",\"kk\":\"7\",\"isn\":false}\n");
    sl_query_stats_t st;
    sl_query_stats(h.q, &st);
    assert_int_equal(st.events_in, 4);
    assert_true(st.bad_fields >= 3); /* missing k/v/d fields and the string "oops" for v */
    h_free(&h);
}

static void three_valued_logic(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT v > 1 AND k = 'a' AS a, v > 1 OR k = 'a' AS o, NOT (v > 1) AS n, v IN (1, NULL) AS i, "
                       "k LIKE 'a%' AS l FROM s", 1, 0));
    const char *evs[] = {"0|{\"k\":\"ab\"}", "0|{\"v\":2}", "0|{\"v\":1,\"k\":\"a\"}"};
    h_push(&h, evs, 3);
    assert_string_equal(h_out(&h),
                        "+{\"a\":false,\"o\":null,\"n\":null,\"i\":null,\"l\":true}\n"
                        "+{\"a\":null,\"o\":true,\"n\":false,\"i\":null,\"l\":null}\n"
                        "+{\"a\":false,\"o\":true,\"n\":true,\"i\":true,\"l\":true}\n");
    h_free(&h);
}

static void updating_aggregate(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT k, COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a, MIN(k) AS mk, COUNT(DISTINCT v) AS dv, "
                       "COUNT(*) FILTER (WHERE v > 1) AS f FROM s GROUP BY k HAVING COUNT(*) < 3",
                       1, 0));
    const char *b1[] = {"0|{\"k\":\"a\",\"v\":1}", "0|{\"k\":\"a\",\"v\":2}", "0|{\"k\":\"b\"}"};
    h_push(&h, b1, 3);
    const char *b2[] = {"0|{\"k\":\"a\",\"v\":2}", "0|{\"k\":\"b\",\"v\":-3}"};
    h_push(&h, b2, 2);
    /* batch 1: a and b inserted (one change each, coalesced per batch); batch 2: a reaches 3 rows
     * and leaves HAVING (delete), b is updated; AVG of BIGINT truncates toward zero */
    const char *out = h_out(&h);
    assert_non_null(strstr(out, "+{\"k\":\"a\",\"n\":2,\"s\":3,\"a\":1,\"mk\":\"a\",\"dv\":2,\"f\":1}\n"));
    assert_non_null(strstr(out, "+{\"k\":\"b\",\"n\":1,\"s\":null,\"a\":null,\"mk\":\"b\",\"dv\":0,\"f\":0}\n"));
    assert_non_null(strstr(out, "-{\"k\":\"a\",\"n\":2,\"s\":3,\"a\":1,\"mk\":\"a\",\"dv\":2,\"f\":1}\n"));
    assert_non_null(strstr(out, "~{\"k\":\"b\",\"n\":2,\"s\":-3,\"a\":-3,\"mk\":\"b\",\"dv\":1,\"f\":0}\n"));
    assert_int_equal(h.nrows, 4);
    h_free(&h);
}

static void tumble_watermark_late(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT window_start, window_end, k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), "
                       "INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k",
                       1, 0));
    /* watermark = max ts - 1000 - 1; window [0,10000) fires when watermark >= 9999, i.e. max ts >= 11000 */
    const char *b1[] = {"0|{\"k\":\"a\",\"ts\":1000}", "0|{\"k\":\"a\",\"ts\":9999}", "0|{\"k\":\"b\",\"ts\":10999}",
                        "0|{\"k\":\"a\",\"ts\":5000}"};
    h_push(&h, b1, 4);
    assert_int_equal(h.nrows, 0);
    const char *b2[] = {"0|{\"k\":\"b\",\"ts\":11000}", "0|{\"k\":\"a\",\"ts\":9000}"};
    h_push(&h, b2, 2);
    /* the window closed at the end of batch 2 (watermarks advance per batch), so the ts=9000
     * event of the same batch still counted */
    assert_string_equal(h_out(&h),
                        "+{\"window_start\":\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:00:10.000Z\","
                        "\"k\":\"a\",\"n\":4}\n");
    const char *b3[] = {"0|{\"k\":\"a\",\"ts\":9500}", "0|{\"ts\":30000}"};
    h_push(&h, b3, 2);
    sl_query_stats_t st;
    sl_query_stats(h.q, &st);
    assert_int_equal(st.late_events, 1);
    assert_int_equal(st.watermark, 30000 - 1000 - 1);
    assert_int_equal(h.nrows, 2); /* + window [10,20) for b */
    assert_non_null(strstr(h_out(&h), "\"window_end\":\"1970-01-01T00:00:20.000Z\",\"k\":\"b\",\"n\":2}"));
    h_free(&h);
}

static void hop_and_cumulate(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), "
                       "INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end",
                       1, 0));
    const char *b1[] = {"0|{\"ts\":7000}", "0|{\"ts\":100000}"};
    h_push(&h, b1, 2);
    /* 7000 is in [0,10000) and [5000,15000) */
    assert_string_equal(h_out(&h),
                        "+{\"window_start\":\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:00:10.000Z\",\"n\":1}\n"
                        "+{\"window_start\":\"1970-01-01T00:00:05.000Z\",\"window_end\":\"1970-01-01T00:00:15.000Z\",\"n\":1}\n");
    h_free(&h);
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT window_start, window_end, SUM(v) AS s FROM TABLE(CUMULATE(TABLE s, DESCRIPTOR(ts), "
                       "INTERVAL '2' SECOND, INTERVAL '6' SECOND)) GROUP BY window_start, window_end",
                       1, 0));
    const char *b2[] = {"0|{\"v\":1,\"ts\":500}", "0|{\"v\":10,\"ts\":3000}", "0|{\"v\":100,\"ts\":50000}"};
    h_push(&h, b2, 3);
    assert_string_equal(h_out(&h),
                        "+{\"window_start\":\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:00:02.000Z\",\"s\":1}\n"
                        "+{\"window_start\":\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:00:04.000Z\",\"s\":11}\n"
                        "+{\"window_start\":\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:00:06.000Z\",\"s\":11}\n");
    h_free(&h);
}

static void session_merge(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT k, SESSION_START(ts, INTERVAL '2' SECOND) AS s, SESSION_END(ts, INTERVAL '2' SECOND) AS e, "
                       "COUNT(*) AS n FROM s GROUP BY k, SESSION(ts, INTERVAL '2' SECOND)",
                       1, 0));
    /* a: 0, 5000, then 2500 bridges nothing (gap 2 s: [0,2000) [2500,4500) [5000,7000)) but 4500
     * touches [2500,4500) and [5000,7000)? [4500,6500) intersects both: they merge into [2500,7000) */
    const char *b1[] = {"0|{\"k\":\"a\",\"ts\":0}", "0|{\"k\":\"a\",\"ts\":5000}", "0|{\"k\":\"a\",\"ts\":2500}",
                        "0|{\"k\":\"a\",\"ts\":4500}", "0|{\"k\":\"z\",\"ts\":60000}"};
    h_push(&h, b1, 5);
    const char *out = h_out(&h);
    assert_non_null(strstr(out, "+{\"k\":\"a\",\"s\":\"1970-01-01T00:00:00.000Z\",\"e\":\"1970-01-01T00:00:02.000Z\",\"n\":1}\n"));
    assert_non_null(strstr(out, "+{\"k\":\"a\",\"s\":\"1970-01-01T00:00:02.500Z\",\"e\":\"1970-01-01T00:00:07.000Z\",\"n\":3}\n"));
    assert_int_equal(h.nrows, 2);
    h_free(&h);
}

static void partitions_hold_watermark(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL,
                       "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                       "GROUP BY window_start, window_end",
                       2, 0));
    const char *b1[] = {"0|{\"ts\":100}", "0|{\"ts\":50000}"};
    h_push(&h, b1, 2);
    assert_int_equal(h.nrows, 0); /* partition 1 has seen nothing: no watermark */
    const char *b2[] = {"1|{\"ts\":3000}"};
    h_push(&h, b2, 1);
    assert_int_equal(h.nrows, 1); /* min(48999, 1999) closes [0,1000) only */
    h_free(&h);
}

static void memory_limit(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL, "SELECT v, COUNT(*) FROM s GROUP BY v", 1, 4096));
    char evs[200][48];
    const char *p[200];
    for (int i = 0; i < 200; i++) {
        snprintf(evs[i], sizeof(evs[i]), "0|{\"v\":%d}", i);
        p[i] = evs[i];
    }
    sl_query_begin(h.q, 0);
    int rc = 0;
    for (int i = 0; i < 200 && !rc; i++) rc = sl_query_push_json(h.q, 0, i, 0, p[i] + 2, strlen(p[i] + 2));
    assert_int_equal(rc, -1);
    assert_non_null(sl_query_error(h.q));
    assert_non_null(strstr(sl_query_error(h.q), "memory_limit"));
    sl_query_end(h.q, 0);
    h_free(&h);
}

static void on_error_fail(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h,
                       "CREATE STREAM s (k VARCHAR, v BIGINT) WITH (topic='t', 'on_error'='fail')",
                       "SELECT v FROM s", 1, 0));
    sl_query_begin(h.q, 0);
    assert_int_equal(sl_query_push_json(h.q, 0, 0, 0, "{\"v\":1}", 7), 0);
    assert_int_equal(sl_query_push_json(h.q, 0, 1, 0, "{\"v\":\"x\"}", 9), 1);
    assert_non_null(strstr(sl_query_error(h.q), "offset 1"));
    assert_non_null(strstr(sl_query_error(h.q), "column v"));
    sl_query_end(h.q, 0);
    h_free(&h);
}

/* State saved mid-stream and loaded into a fresh query gives the same output as one run. */
static void checkpoint_round_trip(void **state) {
    (void)state;
    const char *sqls[] = {
        "SELECT k, COUNT(*) AS n, COUNT(DISTINCT v) AS d, MAX(k) AS m, SUM(d) AS sd FROM s GROUP BY k",
        "SELECT window_start, k, COUNT(DISTINCT v) AS d, MIN(k) AS m FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), "
        "INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY window_start, window_end, k",
        "SELECT k, SESSION_END(ts, INTERVAL '1' SECOND) AS e, COUNT(*) AS n FROM s GROUP BY k, SESSION(ts, INTERVAL '1' SECOND)",
    };
    for (size_t qi = 0; qi < 3; qi++) {
        char evs[60][96];
        const char *p[60];
        for (int i = 0; i < 60; i++) {
            snprintf(evs[i], sizeof(evs[i]), "0|{\"k\":\"k%d\",\"v\":%d,\"d\":%d.5,\"ts\":%d}", i % 4, i % 7, i,
                     i * 400 + (i % 3) * 300);
            p[i] = evs[i];
        }
        harness_t a, b, c;
        assert_null(h_init(&a, STREAM_SQL, sqls[qi], 1, 0));
        h_push(&a, p, 30);
        h_push(&a, p + 30, 30);
        assert_null(h_init(&b, STREAM_SQL, sqls[qi], 1, 0));
        h_push(&b, p, 30);
        sl_buf_t st = SL_BUF_INIT;
        assert_int_equal(sl_query_save(b.q, &st), 0);
        assert_null(h_init(&c, STREAM_SQL, sqls[qi], 1, 0));
        assert_int_equal(sl_query_load(c.q, st.data, st.len), 0);
        assert_int_equal(sl_query_position(c.q, 0), 30);
        /* a truncated state is refused (and what it had read so far is freed with the query) */
        harness_t d;
        assert_null(h_init(&d, STREAM_SQL, sqls[qi], 1, 0));
        assert_int_equal(sl_query_load(d.q, st.data, st.len - 1), -1);
        h_free(&d);
        h_push(&c, p + 30, 30);
        /* a's output = b's (first half) + c's (second half) */
        sl_buf_t both = SL_BUF_INIT;
        sl_buf_append(&both, b.out.data, b.out.len);
        sl_buf_append(&both, c.out.data, c.out.len);
        sl_buf_putc(&both, 0);
        assert_string_equal(h_out(&a), both.data);
        sl_buf_free(&both);
        sl_buf_free(&st);
        h_free(&a);
        h_free(&b);
        h_free(&c);
    }
}

/* Three scanners over thirds of a batch, consumed in order, give exactly the serial output. */
static void parallel_scan_equals_serial(void **state) {
    (void)state;
    const char *sqls[] = {
        "SELECT UPPER(k) AS u, v * 2 AS w FROM s WHERE v % 3 <> 0",
        "SELECT k, COUNT(*) AS n, SUM(v) AS sv FROM (SELECT k, v FROM s WHERE v > 2) x GROUP BY k",
        "SELECT window_start, k, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '2' SECOND)) "
        "GROUP BY window_start, window_end, k",
    };
    for (size_t qi = 0; qi < 3; qi++) {
        char evs[90][96];
        for (int i = 0; i < 90; i++)
            snprintf(evs[i], sizeof(evs[i]), "{\"k\":\"k%d\",\"v\":%d,\"ts\":%d}", i % 5, i, i * 300 - (i % 4) * 200);
        harness_t a, b;
        assert_null(h_init(&a, STREAM_SQL, sqls[qi], 1, 0));
        assert_null(h_init(&b, STREAM_SQL, sqls[qi], 1, 0));
        sl_qscan_t *sc[3];
        for (int t = 0; t < 3; t++) assert_int_equal(sl_qscan_new(b.q, &sc[t]), 0);
        for (int batch = 0; batch < 3; batch++) {
            sl_query_begin(a.q, 5);
            sl_query_begin(b.q, 5);
            for (int i = batch * 30; i < batch * 30 + 30; i++)
                assert_int_equal(sl_query_push_json(a.q, 0, i, 0, evs[i], strlen(evs[i])), 0);
            for (int t = 0; t < 3; t++) {
                sl_qscan_begin(sc[t], 5);
                for (int i = batch * 30 + t * 10; i < batch * 30 + t * 10 + 10; i++)
                    assert_int_equal(sl_qscan_push_json(sc[t], 0, i, evs[i], strlen(evs[i])), 0);
            }
            for (int t = 0; t < 3; t++) assert_int_equal(sl_query_consume(b.q, sc[t]), 0);
            assert_int_equal(sl_query_end(a.q, 5), 0);
            assert_int_equal(sl_query_end(b.q, 5), 0);
        }
        assert_true(a.nrows > 0);
        assert_string_equal(h_out(&a), h_out(&b));
        sl_query_stats_t sa, sb;
        sl_query_stats(a.q, &sa);
        sl_query_stats(b.q, &sb);
        assert_int_equal(sa.events_in, sb.events_in);
        assert_int_equal(sa.watermark, sb.watermark);
        assert_int_equal(sl_query_position(b.q, 0), 90);
        for (int t = 0; t < 3; t++) sl_qscan_free(sc[t]);
        h_free(&a);
        h_free(&b);
    }
    /* an 'on_error' = 'fail' event in the second scanner's share fails the query there: the
     * first share is applied, nothing after the bad event is */
    harness_t h;
    assert_null(h_init(&h, "CREATE STREAM s (v BIGINT) WITH (topic='t', 'on_error'='fail')", "SELECT v FROM s", 1, 0));
    sl_qscan_t *sc[2];
    for (int t = 0; t < 2; t++) assert_int_equal(sl_qscan_new(h.q, &sc[t]), 0);
    sl_query_begin(h.q, 0);
    sl_qscan_begin(sc[0], 0);
    sl_qscan_begin(sc[1], 0);
    assert_int_equal(sl_qscan_push_json(sc[0], 0, 0, "{\"v\":1}", 7), 0);
    assert_int_equal(sl_qscan_push_json(sc[1], 0, 1, "{\"v\":\"x\"}", 9), -1);
    assert_int_equal(sl_qscan_push_json(sc[1], 0, 2, "{\"v\":3}", 7), -1);
    assert_int_equal(sl_query_consume(h.q, sc[0]), 0);
    assert_int_equal(sl_query_consume(h.q, sc[1]), -1);
    assert_non_null(strstr(sl_query_error(h.q), "offset 1"));
    assert_int_equal(sl_query_position(h.q, 0), 1);
    assert_int_equal(h.nrows, 1);
    sl_query_end(h.q, 0);
    for (int t = 0; t < 2; t++) sl_qscan_free(sc[t]);
    h_free(&h);
}

static void view_apply_and_save(void **state) {
    (void)state;
    sl_pcol_t cols[2] = {{"k", SL_TYPE_VARCHAR}, {"n", SL_TYPE_BIGINT}};
    sl_view_t *v = sl_view_new(cols, 2);
    assert_non_null(v);
    sl_value_t row[2];
    row[0].null = 0;
    row[0].u.s.p = "a";
    row[0].u.s.n = 1;
    row[1].null = 0;
    row[1].u.i = 1;
    assert_int_equal(sl_view_apply(v, SL_CHANGE_INSERT, "A", 1, row), 0);
    row[1].u.i = 2;
    assert_int_equal(sl_view_apply(v, SL_CHANGE_UPDATE, "A", 1, row), 0);
    row[0].u.s.p = "b";
    assert_int_equal(sl_view_apply(v, SL_CHANGE_INSERT, "B", 1, row), 0);
    assert_int_equal(sl_view_apply(v, SL_CHANGE_DELETE, "B", 1, row), 0);
    assert_int_equal(sl_view_apply(v, SL_CHANGE_INSERT, NULL, 0, row), 0);
    assert_int_equal(sl_view_rows(v), 2);
    sl_buf_t b = SL_BUF_INIT;
    assert_int_equal(sl_view_render(v, 0, &b), 0);
    sl_buf_putc(&b, 0);
    assert_string_equal(b.data, "{\"columns\":[{\"name\":\"k\",\"type\":\"VARCHAR\"},{\"name\":\"n\",\"type\":\"BIGINT\"}],"
                                "\"rows\":[{\"k\":\"a\",\"n\":2},{\"k\":\"b\",\"n\":2}]}");
    b.len = 0;
    uint64_t last;
    assert_int_equal(sl_view_changes(v, 3, 10, &b, &last), 2);
    assert_int_equal(last, 5);
    sl_buf_putc(&b, 0);
    assert_string_equal(b.data, "{\"seq\":4,\"op\":\"delete\",\"row\":{\"k\":\"b\",\"n\":2}}\n"
                                "{\"seq\":5,\"op\":\"insert\",\"row\":{\"k\":\"b\",\"n\":2}}\n");
    b.len = 0;
    assert_int_equal(sl_view_save(v, &b), 0);
    sl_view_t *w = sl_view_new(cols, 2);
    assert_int_equal(sl_view_load(w, b.data, b.len), 0);
    assert_int_equal(sl_view_rows(w), 2);
    assert_int_equal(sl_view_load(w, b.data, b.len - 3), -1);
    sl_buf_free(&b);
    sl_view_free(v);
    sl_view_free(w);
}

static void bind_errors(void **state) {
    (void)state;
    struct {
        const char *sql, *want;
    } cases[] = {
        {"SELECT nope FROM s", "unknown column nope (line 1, column 8)"},
        {"SELECT k FROM s GROUP BY v", "column k must appear in GROUP BY"},
        {"SELECT k FROM s WHERE COUNT(*) > 1", "WHERE cannot contain aggregates"},
        {"SELECT k + 1 FROM s", "operator + cannot take VARCHAR and BIGINT"},
        {"SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(v), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
         "DESCRIPTOR(v) must name a time attribute"},
        {"SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k",
         "must GROUP BY window_start, window_end"},
        {"SELECT TUMBLE_START(ts, INTERVAL '1' SECOND) FROM s GROUP BY k", "needs the query to GROUP BY TUMBLE"},
        {"SELECT * FROM nowhere", "unknown stream nowhere"},
        {"SELECT k FROM s WHERE v", "WHERE must be BOOLEAN"},
        {"SELECT k FROM s ORDER BY k", "ORDER BY and LIMIT are only allowed"},
        {"SELECT k, k FROM s", "duplicate output column k"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_t h;
        const char *err = h_init(&h, STREAM_SQL, cases[i].sql, 1, 0);
        if (!err || !strstr(err, cases[i].want)) fail_msg("%s: got \"%s\", want \"%s\"", cases[i].sql, err ? err : "(ok)", cases[i].want);
        h_free(&h);
    }
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t e;
    const char *bad_streams[] = {
        "CREATE STREAM s (k VARCHAR, k BIGINT)",
        "CREATE STREAM s (k VARCHAR, WATERMARK FOR k AS k)",
        "CREATE STREAM s (ts TIMESTAMP(3), WATERMARK FOR ts AS ts + INTERVAL '1' SECOND)",
        "CREATE STREAM s (k VARCHAR PATH 'nope')",
        "CREATE STREAM s (k VARCHAR) WITH (format='avro')",
        "CREATE STREAM s (k VARCHAR) WITH (colour='red')",
    };
    for (size_t i = 0; i < sizeof(bad_streams) / sizeof(bad_streams[0]); i++) {
        assert_int_equal(sl_sql_parse(&a, bad_streams[i], strlen(bad_streams[i]), &st, &n, &e), 0);
        assert_null(sl_bind_stream(&a, &st[0], &e));
        assert_true(e.pos.line == 1);
    }
    sl_arena_free(&a);
}

static void explain_text(void **state) {
    (void)state;
    harness_t h;
    assert_null(h_init(&h, STREAM_SQL, "SELECT k FROM s", 1, 0));
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t e;
    const char *q = "SELECT k, COUNT(*) FILTER (WHERE v > 1) AS c FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), "
                    "INTERVAL '1' SECOND, INTERVAL '2' SECOND)) WHERE k <> 'x' GROUP BY window_start, window_end, k";
    assert_int_equal(sl_sql_parse(&a, q, strlen(q), &st, &n, &e), 0);
    sl_catalog_t cat = {&h, h_stream, NULL};
    sl_plan_t *p = sl_bind_select(&a, &cat, st[0].select, 1, &e);
    assert_non_null(p);
    sl_buf_t b = SL_BUF_INIT;
    assert_int_equal(sl_plan_explain(&b, p), 0);
    sl_buf_putc(&b, 0);
    assert_string_equal(b.data,
                        "Project $key0 AS k, $agg0 AS c\n"
                        "  Aggregate window=HOP(ts, size=2000 ms, slide=1000 ms) emit=on-watermark keys=[k] "
                        "aggs=[COUNT(*) FILTER (WHERE (v > 1))]\n"
                        "    Filter (k <> 'x')\n"
                        "      Scan stream=s topic=t columns=[k VARCHAR, v BIGINT, d DOUBLE, ts TIMESTAMP(3)] "
                        "watermark=ts - 1000 ms\n");
    sl_buf_free(&b);
    sl_arena_free(&a);
    h_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extract_fields),       cmocka_unit_test(filter_project),
        cmocka_unit_test(three_valued_logic),   cmocka_unit_test(updating_aggregate),
        cmocka_unit_test(tumble_watermark_late), cmocka_unit_test(hop_and_cumulate),
        cmocka_unit_test(session_merge),        cmocka_unit_test(partitions_hold_watermark),
        cmocka_unit_test(memory_limit),         cmocka_unit_test(on_error_fail),
        cmocka_unit_test(checkpoint_round_trip), cmocka_unit_test(parallel_scan_equals_serial),
        cmocka_unit_test(view_apply_and_save),
        cmocka_unit_test(bind_errors),          cmocka_unit_test(explain_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
