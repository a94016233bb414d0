/* Unit tests for the SQL parser (sql/parse.c, grammar.y, lexer.re) through sl_sql_parse() and
 * the S-expression dump (sql/ast_dump.c): every statement form, operator precedence, literals
 * (integers, decimals, strings, INTERVAL, TIMESTAMP), identifiers and keywords, special call
 * forms, window TVFs, comments and statement splitting, every error message with its line and
 * column, the three limits, and the Nexmark queries (Flink's text) with exact dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "sql/ast.h"
#include "sql/ast_dump.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Parses sql (which must succeed) and returns the statements' dumps joined by '\n' (malloc'd). */
static char *dump_all(const char *sql, size_t *count) {
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    int rc = sl_sql_parse(&a, sql, strlen(sql), &st, &n, &err);
    if (rc) fail_msg("parse failed: %s\n  in: %s", err.message, sql);
    sl_buf_t b = SL_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i) assert_int_equal(sl_buf_putc(&b, '\n'), 0);
        assert_int_equal(sl_ast_dump_stmt(&b, &st[i]), 0);
    }
    assert_int_equal(sl_buf_putc(&b, 0), 0);
    sl_arena_free(&a);
    if (count) *count = n;
    return sl_buf_steal(&b, NULL);
}

static void expect_dump(const char *sql, const char *want) {
    char *got = dump_all(sql, NULL);
    assert_string_equal(got, want);
    free(got);
}

/* The dump of SELECT <expr>, without the (select (items ...)) around it. */
static void expect_expr(const char *expr, const char *want) {
    char sql[4096], full[4096];
    snprintf(sql, sizeof(sql), "SELECT %s", expr);
    snprintf(full, sizeof(full), "(select (items %s))", want);
    expect_dump(sql, full);
}

static void expect_error(const char *sql, size_t len, unsigned line, unsigned col, const char *msg) {
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = (sl_ast_stmt_t *)&a; /* must be reset to NULL */
    size_t n = 99;
    sl_sql_error_t err;
    int rc = sl_sql_parse(&a, sql, len, &st, &n, &err);
    if (rc == 0) fail_msg("parse succeeded but should fail: %s", sql);
    assert_int_equal(rc, -1);
    assert_null(st);
    assert_int_equal(n, 0);
    assert_string_equal(err.message, msg);
    assert_int_equal(err.pos.line, line);
    assert_int_equal(err.pos.col, col);
    sl_arena_free(&a);
}
#define ERR(sql, line, col, msg) expect_error((sql), strlen(sql), (line), (col), (msg))

/* Parses one statement into arena a (the caller frees it). */
static sl_ast_stmt_t *parse1(sl_arena_t *a, const char *sql) {
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    if (sl_sql_parse(a, sql, strlen(sql), &st, &n, &err)) fail_msg("parse failed: %s", err.message);
    assert_int_equal(n, 1);
    return st;
}

/* The first select item's expression of a one-statement SELECT. */
static const sl_ast_expr_t *item0(sl_arena_t *a, const char *sql) {
    sl_ast_stmt_t *st = parse1(a, sql);
    assert_int_equal(st->kind, SL_AS_SELECT);
    return st->select->items[0].expr;
}

/* ---- Nexmark ------------------------------------------------------------------------------ */

static const char *const nexmark[] = {
    /* q0 */ "SELECT auction, bidder, price, dateTime, extra FROM bid",
    /* q1 */ "SELECT auction, bidder, 0.908 * price as price, dateTime, extra FROM bid",
    /* q2 */ "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0",
    /* q11 */
    "SELECT B.bidder, count(*) as bid_count, SESSION_START(B.dateTime, INTERVAL '10' SECOND) as starttime, "
    "SESSION_END(B.dateTime, INTERVAL '10' SECOND) as endtime FROM bid B GROUP BY B.bidder, "
    "SESSION(B.dateTime, INTERVAL '10' SECOND)",
    /* q12 */
    "SELECT B.bidder, count(*) as bid_count, TUMBLE_START(B.p_time, INTERVAL '10' SECOND) as starttime, "
    "TUMBLE_END(B.p_time, INTERVAL '10' SECOND) as endtime FROM (SELECT *, PROCTIME() as p_time FROM bid) B "
    "GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)",
    /* q14 */
    "SELECT auction, bidder, 0.908 * price as price, CASE WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 "
    "THEN 'dayTime' WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime' ELSE 'otherTime' END AS "
    "bidTimeType, dateTime, extra, count_char(extra, 'c') AS c_counts FROM bid WHERE 0.908 * price > 1000000 AND "
    "0.908 * price < 50000000",
    /* q15 */
    "SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`, count(*) AS total_bids, count(*) filter (where price "
    "< 10000) AS rank1_bids, count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids, count(*) "
    "filter (where price >= 1000000) AS rank3_bids, count(distinct bidder) AS total_bidders, count(distinct "
    "bidder) filter (where price < 10000) AS rank1_bidders, count(distinct bidder) filter (where price >= 10000 "
    "and price < 1000000) AS rank2_bidders, count(distinct bidder) filter (where price >= 1000000) AS "
    "rank3_bidders, count(distinct auction) AS total_auctions, count(distinct auction) filter (where price < "
    "10000) AS rank1_auctions, count(distinct auction) filter (where price >= 10000 and price < 1000000) AS "
    "rank2_auctions, count(distinct auction) filter (where price >= 1000000) AS rank3_auctions FROM bid GROUP "
    "BY DATE_FORMAT(dateTime, 'yyyy-MM-dd')",
    /* q16 */
    "SELECT channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`, max(DATE_FORMAT(dateTime, 'HH:mm')) as "
    "`minute`, count(*) AS total_bids, count(*) filter (where price < 10000) AS rank1_bids, count(distinct "
    "bidder) AS total_bidders, count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders, "
    "count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions FROM bid GROUP "
    "BY channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd')",
    /* q17 */
    "SELECT auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd') as `day`, count(*) AS total_bids, count(*) filter "
    "(where price < 10000) AS rank1_bids, min(price) AS min_price, max(price) AS max_price, avg(price) AS "
    "avg_price, sum(price) AS sum_price FROM bid GROUP BY auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd')",
    /* q21 */
    "SELECT auction, bidder, price, channel, CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = "
    "'google' THEN '1' WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3' ELSE "
    "REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id FROM bid where REGEXP_EXTRACT(url, "
    "'(&|^)channel_id=([^&]*)', 2) is not null or lower(channel) in ('apple', 'google', 'facebook', 'baidu')",
    /* q22 */
    "SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) as dir1, SPLIT_INDEX(url, '/', 4) as "
    "dir2, SPLIT_INDEX(url, '/', 5) as dir3 FROM bid",
};
#define NEXMARK_N (sizeof(nexmark) / sizeof(nexmark[0]))

static const char *const nexmark_ddl =
    "CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime "
    "TIMESTAMP(3), extra VARCHAR, WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND) WITH (topic = 'bid', "
    "format = 'json')";

static const char *const nexmark_tvf =
    "SELECT window_start, window_end, COUNT(*) FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' "
    "SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end";

static void nexmark_queries_parse(void **state) {
    (void)state;
    for (size_t i = 0; i < NEXMARK_N; i++) {
        sl_arena_t a = SL_ARENA_INIT;
        char sql[4096];
        sl_ast_stmt_t *st = parse1(&a, nexmark[i]);
        assert_int_equal(st->kind, SL_AS_SELECT);
        assert_string_equal(st->text, nexmark[i]);
        /* With a trailing ';', and as INSERT INTO out ... */
        snprintf(sql, sizeof(sql), "INSERT INTO out %s;", nexmark[i]);
        st = parse1(&a, sql);
        assert_int_equal(st->kind, SL_AS_INSERT);
        assert_string_equal(st->name, "out");
        assert_string_equal(st->topic, "out");
        assert_non_null(st->select);
        sql[strlen(sql) - 1] = 0;
        assert_string_equal(st->text, sql);
        sl_arena_free(&a);

        char *plain = dump_all(nexmark[i], NULL);
        snprintf(sql, sizeof(sql), "INSERT INTO out %s", nexmark[i]);
        char *ins = dump_all(sql, NULL);
        char want[8192];
        snprintf(want, sizeof(want), "(insert out %s)", plain);
        assert_string_equal(ins, want);
        free(plain);
        free(ins);
    }
    /* All of them in one text, with the DDL and the TVF query. */
    char *all = malloc(65536);
    assert_non_null(all);
    snprintf(all, 65536, "%s;\n", nexmark_ddl);
    for (size_t i = 0; i < NEXMARK_N; i++) {
        strcat(all, nexmark[i]);
        strcat(all, ";\n");
    }
    strcat(all, nexmark_tvf);
    size_t n;
    char *d = dump_all(all, &n);
    assert_int_equal(n, NEXMARK_N + 2);
    free(d);
    free(all);
}

static void nexmark_dumps(void **state) {
    (void)state;
    expect_dump(nexmark[0], "(select (items (col auction) (col bidder) (col price) (col dateTime) (col extra)) "
                            "(from (table bid)))");
    expect_dump(nexmark[1], "(select (items (col auction) (col bidder) (as (* 0.908 (col price)) price) "
                            "(col dateTime) (col extra)) (from (table bid)))");
    expect_dump(nexmark[2], "(select (items (col auction) (col price)) (from (table bid)) "
                            "(where (= (call MOD (col auction) 123) 0)))");
    expect_dump(nexmark[3],
                "(select (items (col B.bidder) (as (call count *) bid_count) (as (call SESSION_START "
                "(col B.dateTime) (interval 10000)) starttime) (as (call SESSION_END (col B.dateTime) "
                "(interval 10000)) endtime)) (from (as (table bid) B)) (group-by (col B.bidder) (call SESSION "
                "(col B.dateTime) (interval 10000))))");
    expect_dump(nexmark[4],
                "(select (items (col B.bidder) (as (call count *) bid_count) (as (call TUMBLE_START "
                "(col B.p_time) (interval 10000)) starttime) (as (call TUMBLE_END (col B.p_time) "
                "(interval 10000)) endtime)) (from (as (select (items * (as (call PROCTIME) p_time)) "
                "(from (table bid))) B)) (group-by (col B.bidder) (call TUMBLE (col B.p_time) (interval 10000))))");
    expect_dump(nexmark[5],
                "(select (items (col auction) (col bidder) (as (* 0.908 (col price)) price) (as (case (when "
                "(and (>= (call HOUR (col dateTime)) 8) (<= (call HOUR (col dateTime)) 18)) 'dayTime') (when "
                "(or (<= (call HOUR (col dateTime)) 6) (>= (call HOUR (col dateTime)) 20)) 'nightTime') (else "
                "'otherTime')) bidTimeType) (col dateTime) (col extra) (as (call count_char (col extra) 'c') "
                "c_counts)) (from (table bid)) (where (and (> (* 0.908 (col price)) 1000000) (< (* 0.908 "
                "(col price)) 50000000))))");
    expect_dump(nexmark[8],
                "(select (items (col auction) (as (call DATE_FORMAT (col dateTime) 'yyyy-MM-dd') day) (as (call "
                "count *) total_bids) (as (call count * (filter (< (col price) 10000))) rank1_bids) (as (call "
                "min (col price)) min_price) (as (call max (col price)) max_price) (as (call avg (col price)) "
                "avg_price) (as (call sum (col price)) sum_price)) (from (table bid)) (group-by (col auction) "
                "(call DATE_FORMAT (col dateTime) 'yyyy-MM-dd')))");
    expect_dump(nexmark[9],
                "(select (items (col auction) (col bidder) (col price) (col channel) (as (case (when (= (call "
                "lower (col channel)) 'apple') '0') (when (= (call lower (col channel)) 'google') '1') (when (= "
                "(call lower (col channel)) 'facebook') '2') (when (= (call lower (col channel)) 'baidu') '3') "
                "(else (call REGEXP_EXTRACT (col url) '(&|^)channel_id=([^&]*)' 2))) channel_id)) (from (table "
                "bid)) (where (or (is-not-null (call REGEXP_EXTRACT (col url) '(&|^)channel_id=([^&]*)' 2)) (in "
                "(call lower (col channel)) 'apple' 'google' 'facebook' 'baidu'))))");
    expect_dump(nexmark_ddl,
                "(create-stream bid (columns (auction BIGINT) (bidder BIGINT) (price BIGINT) (channel VARCHAR) "
                "(url VARCHAR) (dateTime TIMESTAMP) (extra VARCHAR)) (watermark dateTime (- (col dateTime) "
                "(interval 4000))) (with (topic 'bid') (format 'json')))");
    expect_dump(nexmark_tvf, "(select (items (col window_start) (col window_end) (call COUNT *)) (from (hop (table "
                             "bid) (descriptor dateTime) (interval 2000) (interval 10000))) (group-by "
                             "(col window_start) (col window_end)))");
}

/* COUNT(*) is star = 1 with no arguments; FILTER and DISTINCT land on the call. */
static void nexmark_q15_fields(void **state) {
    (void)state;
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, nexmark[6]);
    const sl_ast_select_t *s = st->select;
    assert_int_equal(s->item_count, 13);
    assert_string_equal(s->items[0].alias, "day");
    const sl_ast_expr_t *c = s->items[1].expr;
    assert_int_equal(c->kind, SL_AX_CALL);
    assert_string_equal(c->name, "count");
    assert_int_equal(c->star, 1);
    assert_int_equal(c->count, 0);
    assert_null(c->filter);
    c = s->items[7].expr;
    assert_int_equal(c->distinct, 1);
    assert_int_equal(c->star, 0);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->list[0]->kind, SL_AX_COLUMN);
    assert_non_null(c->filter);
    assert_int_equal(c->filter->op, SL_OP_AND);
    assert_int_equal(s->group_count, 1);
    assert_int_equal(s->limit, -1);
    sl_arena_free(&a);
}

/* ---- statement forms ---------------------------------------------------------------------- */

static void create_stream_forms(void **state) {
    (void)state;
    expect_dump("CREATE STREAM IF NOT EXISTS s (a BOOLEAN, b BIGINT, c INT, d INTEGER, e SMALLINT, f TINYINT, "
                "g DOUBLE, h FLOAT, i REAL, j DECIMAL, k DECIMAL(10), l DECIMAL(10, 2), m VARCHAR, n VARCHAR(20), "
                "o STRING, p CHAR, q CHAR(3), r TIMESTAMP, s TIMESTAMP(3), t TIMESTAMP_LTZ, u TIMESTAMP_LTZ(3), "
                "v INTERVAL, w INTERVAL DAY TO SECOND, x INTERVAL SECOND)",
                "(create-stream s if-not-exists (columns (a BOOLEAN) (b BIGINT) (c BIGINT) (d BIGINT) (e BIGINT) "
                "(f BIGINT) (g DOUBLE) (h DOUBLE) (i DOUBLE) (j DOUBLE) (k DOUBLE) (l DOUBLE) (m VARCHAR) "
                "(n VARCHAR) (o VARCHAR) (p VARCHAR) (q VARCHAR) (r TIMESTAMP) (s TIMESTAMP) (t TIMESTAMP) "
                "(u TIMESTAMP) (v INTERVAL) (w INTERVAL) (x INTERVAL)))");
    /* CREATE TABLE is a synonym; PATH, quoted and dotted option keys, non-string values. */
    expect_dump("create table `My Stream` (id bigint PATH '/user/id', ts timestamp(3) path '/ts', "
                "WATERMARK FOR ts AS ts) with ('connector' = 'kafka', scan.startup.mode = 'earliest', "
                "partitions = 3, strict = true, lax = FALSE, 'it''s' = 'o''k')",
                "(create-stream My Stream (columns (id BIGINT (path '/user/id')) (ts TIMESTAMP (path '/ts'))) "
                "(watermark ts (col ts)) (with (connector 'kafka') (scan.startup.mode 'earliest') "
                "(partitions '3') (strict 'true') (lax 'false') (it's 'o''k')))");
    /* The watermark may come first. */
    expect_dump("CREATE STREAM s (WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE, ts TIMESTAMP(3))",
                "(create-stream s (columns (ts TIMESTAMP)) (watermark ts (- (col ts) (interval 60000))))");

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, "CREATE STREAM s (\n  a BIGINT,\n  b VARCHAR PATH '/x/b'\n) WITH (topic = 't')");
    assert_int_equal(st->kind, SL_AS_CREATE_STREAM);
    assert_string_equal(st->name, "s");
    assert_int_equal(st->if_not_exists, 0);
    assert_int_equal(st->column_count, 2);
    assert_null(st->columns[0].path);
    assert_string_equal(st->columns[1].path, "/x/b");
    assert_int_equal(st->columns[1].type, SL_TYPE_VARCHAR);
    assert_int_equal(st->columns[1].pos.line, 3);
    assert_int_equal(st->columns[1].pos.col, 3);
    assert_null(st->wm_column);
    assert_null(st->wm_expr);
    assert_int_equal(st->option_count, 1);
    assert_string_equal(st->options[0].key, "topic");
    assert_string_equal(st->options[0].value, "t");
    assert_int_equal(st->options[0].pos.line, 4);
    assert_int_equal(st->options[0].pos.col, 9);
    assert_null(st->select);
    sl_arena_free(&a);
}

static void create_view_sink_insert(void **state) {
    (void)state;
    expect_dump("CREATE MATERIALIZED VIEW v AS SELECT a FROM s",
                "(create-view v (select (items (col a)) (from (table s))))");
    expect_dump("create materialized view if not exists v with (retention = '1 h') as select count(*) from s",
                "(create-view v if-not-exists (with (retention '1 h')) (select (items (call count *)) "
                "(from (table s))))");
    expect_dump("CREATE SINK k INTO TOPIC 'out-topic' AS SELECT * FROM s",
                "(create-sink k (topic 'out-topic') (select (items *) (from (table s))))");
    expect_dump("CREATE SINK IF NOT EXISTS k INTO TOPIC 't' WITH (format = 'json') AS SELECT s.* FROM s",
                "(create-sink k if-not-exists (topic 't') (with (format 'json')) (select (items s.*) "
                "(from (table s))))");
    expect_dump("INSERT INTO out SELECT a, b AS c FROM s", "(insert out (select (items (col a) (as (col b) c)) "
                                                            "(from (table s))))");
    expect_dump("EXPLAIN SELECT 1", "(explain (select (items 1)))");

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, "CREATE SINK k INTO TOPIC 'a''b' AS SELECT 1");
    assert_int_equal(st->kind, SL_AS_CREATE_SINK);
    assert_string_equal(st->topic, "a'b");
    assert_string_equal(st->name, "k");
    st = parse1(&a, "CREATE MATERIALIZED VIEW v AS SELECT 1");
    assert_int_equal(st->kind, SL_AS_CREATE_VIEW);
    assert_int_equal(st->option_count, 0);
    assert_null(st->options);
    st = parse1(&a, "explain select 1");
    assert_int_equal(st->kind, SL_AS_EXPLAIN);
    assert_non_null(st->select);
    sl_arena_free(&a);
}

static void show_describe_drop(void **state) {
    (void)state;
    expect_dump("SHOW STREAMS; show tables; Show Views; SHOW MATERIALIZED VIEWS; show sinks; show queries",
                "(show streams)\n(show streams)\n(show views)\n(show views)\n(show sinks)\n(show queries)");
    expect_dump("DESCRIBE bid; desc `my view`", "(describe bid)\n(describe my view)");
    expect_dump("DROP STREAM s; DROP TABLE IF EXISTS t; drop view v; DROP MATERIALIZED VIEW IF EXISTS mv; "
                "drop sink k",
                "(drop stream s)\n(drop stream if-exists t)\n(drop view v)\n(drop view if-exists mv)\n"
                "(drop sink k)");

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, "show queries");
    assert_int_equal(st->kind, SL_AS_SHOW);
    assert_int_equal(st->object, SL_OBJ_QUERY);
    st = parse1(&a, "drop sink if exists k");
    assert_int_equal(st->kind, SL_AS_DROP);
    assert_int_equal(st->object, SL_OBJ_SINK);
    assert_int_equal(st->if_exists, 1);
    assert_string_equal(st->name, "k");
    st = parse1(&a, "describe x");
    assert_int_equal(st->kind, SL_AS_DESCRIBE);
    assert_string_equal(st->name, "x");
    sl_arena_free(&a);
}

static void select_clauses(void **state) {
    (void)state;
    expect_dump("SELECT DISTINCT a FROM t", "(select distinct (items (col a)) (from (table t)))");
    expect_dump("SELECT ALL a FROM t", "(select (items (col a)) (from (table t)))");
    expect_dump("SELECT 1 + 1", "(select (items (+ 1 1)))");
    expect_dump("SELECT *, t.*, a b, c AS d, e + 1 f FROM t AS x",
                "(select (items * t.* (as (col a) b) (as (col c) d) (as (+ (col e) 1) f)) (from (as (table t) x)))");
    expect_dump("SELECT a, count(*) FROM t WHERE b > 1 GROUP BY a HAVING count(*) > 2 ORDER BY a DESC, 2, "
                "count(*) ASC LIMIT 10",
                "(select (items (col a) (call count *)) (from (table t)) (where (> (col b) 1)) (group-by (col a)) "
                "(having (> (call count *) 2)) (order-by (desc (col a)) (asc 2) (asc (call count *))) (limit 10))");
    expect_dump("SELECT a FROM t LIMIT 0", "(select (items (col a)) (from (table t)) (limit 0))");
    expect_dump("SELECT x.a FROM (SELECT a FROM t WHERE a > 0) x",
                "(select (items (col x.a)) (from (as (select (items (col a)) (from (table t)) (where (> (col a) 0))) "
                "x)))");
    expect_dump("SELECT a FROM (SELECT a FROM t)", "(select (items (col a)) (from (select (items (col a)) (from "
                                                   "(table t)))))");

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, "SELECT a, b AS c\nFROM t tt");
    const sl_ast_select_t *s = st->select;
    assert_int_equal(s->pos.line, 1);
    assert_int_equal(s->pos.col, 1);
    assert_int_equal(s->item_count, 2);
    assert_null(s->items[0].alias);
    assert_string_equal(s->items[1].alias, "c");
    assert_int_equal(s->items[1].pos.col, 11);
    assert_int_equal(s->from->kind, SL_AF_TABLE);
    assert_string_equal(s->from->name, "t");
    assert_string_equal(s->from->alias, "tt");
    assert_int_equal(s->from->pos.line, 2);
    assert_int_equal(s->from->pos.col, 6);
    assert_null(s->where);
    assert_null(s->having);
    assert_int_equal(s->group_count, 0);
    assert_int_equal(s->order_count, 0);
    assert_int_equal(s->limit, -1);
    assert_int_equal(s->distinct, 0);
    st = parse1(&a, "SELECT * FROM t");
    assert_int_equal(st->select->items[0].expr->kind, SL_AX_STAR);
    assert_null(st->select->items[0].expr->qualifier);
    st = parse1(&a, "SELECT q.* FROM t q");
    assert_int_equal(st->select->items[0].expr->kind, SL_AX_STAR);
    assert_string_equal(st->select->items[0].expr->qualifier, "q");
    st = parse1(&a, "SELECT 1");
    assert_null(st->select->from);
    sl_arena_free(&a);
}

static void window_tvfs(void **state) {
    (void)state;
    expect_dump("SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
                "(select (items *) (from (tumble (table bid) (descriptor ts) (interval 600000))))");
    expect_dump("SELECT * FROM TABLE(tumble(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '5' MINUTE)) w",
                "(select (items *) (from (as (tumble (table bid) (descriptor ts) (interval 3600000) "
                "(interval 300000)) w)))");
    expect_dump("SELECT * FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) "
                "AS w",
                "(select (items *) (from (as (cumulate (table bid) (descriptor ts) (interval 60000) "
                "(interval 3600000)) w)))");
    expect_dump("SELECT * FROM TABLE(SESSION(TABLE bid, DESCRIPTOR(ts), INTERVAL '30' SECOND))",
                "(select (items *) (from (session (table bid) (descriptor ts) (interval 30000))))");
    expect_dump("SELECT * FROM TABLE(HOP((SELECT * FROM bid WHERE price > 0), DESCRIPTOR(ts), INTERVAL '5' "
                "SECOND, INTERVAL '10' SECOND))",
                "(select (items *) (from (hop (select (items *) (from (table bid)) (where (> (col price) 0))) "
                "(descriptor ts) (interval 5000) (interval 10000))))");

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st = parse1(&a, nexmark_tvf);
    const sl_ast_from_t *f = st->select->from;
    assert_int_equal(f->kind, SL_AF_WINDOW);
    assert_int_equal(f->wkind, SL_AW_HOP);
    assert_int_equal(f->pos.col, 48);
    assert_null(f->alias);
    assert_non_null(f->input);
    assert_int_equal(f->input->kind, SL_AF_TABLE);
    assert_string_equal(f->input->name, "bid");
    assert_string_equal(f->descriptor, "dateTime");
    assert_int_equal(f->wargc, 2);
    assert_int_equal(f->wargs[0]->lit_type, SL_TYPE_INTERVAL);
    assert_int_equal(f->wargs[0]->lit.u.i, 2000); /* HOP (slide, size) */
    assert_int_equal(f->wargs[1]->lit.u.i, 10000);
    st = parse1(&a, "SELECT * FROM TABLE(HOP((SELECT a FROM bid), DESCRIPTOR(ts), INTERVAL '1' SECOND, "
                    "INTERVAL '2' SECOND))");
    assert_int_equal(st->select->from->input->kind, SL_AF_SUBQUERY);
    sl_arena_free(&a);
}

/* ---- expressions -------------------------------------------------------------------------- */

static void precedence(void **state) {
    (void)state;
    /* OR < AND < NOT < comparison / IS / LIKE / IN / BETWEEN < || < + - < * / % < unary minus */
    expect_expr("a OR b AND c", "(or (col a) (and (col b) (col c)))");
    expect_expr("a AND b OR c", "(or (and (col a) (col b)) (col c))");
    expect_expr("NOT a AND b", "(and (not (col a)) (col b))");
    expect_expr("NOT a OR NOT b", "(or (not (col a)) (not (col b)))");
    expect_expr("NOT a = b", "(not (= (col a) (col b)))");
    expect_expr("a AND NOT b = c", "(and (col a) (not (= (col b) (col c))))");
    expect_expr("NOT a IS NULL", "(not (is-null (col a)))");
    expect_expr("NOT a LIKE b", "(not (like (col a) (col b)))");
    expect_expr("NOT a IN (1)", "(not (in (col a) 1))");
    expect_expr("NOT a BETWEEN 1 AND 2", "(not (between (col a) 1 2))");
    expect_expr("a = b || c", "(= (col a) (|| (col b) (col c)))");
    expect_expr("a || b = c", "(= (|| (col a) (col b)) (col c))");
    expect_expr("a || b + c", "(|| (col a) (+ (col b) (col c)))");
    expect_expr("a + b || c", "(|| (+ (col a) (col b)) (col c))");
    expect_expr("a + b * c", "(+ (col a) (* (col b) (col c)))");
    expect_expr("a * b + c", "(+ (* (col a) (col b)) (col c))");
    expect_expr("a - b - c", "(- (- (col a) (col b)) (col c))");
    expect_expr("a / b * c % d", "(% (* (/ (col a) (col b)) (col c)) (col d))");
    expect_expr("-a * b", "(* (neg (col a)) (col b))");
    expect_expr("a * -b", "(* (col a) (neg (col b)))");
    expect_expr("- a + b", "(+ (neg (col a)) (col b))");
    expect_expr("+a - -b", "(- (col a) (neg (col b)))");
    expect_expr("(a + b) * c", "(* (+ (col a) (col b)) (col c))");
    expect_expr("a < b AND c >= d OR e <> f AND g != h", "(or (and (< (col a) (col b)) (>= (col c) (col d))) (and "
                                                         "(<> (col e) (col f)) (<> (col g) (col h))))");
    expect_expr("a <= b", "(<= (col a) (col b))");
    expect_expr("a > b", "(> (col a) (col b))");
    expect_expr("a + 1 > b * 2", "(> (+ (col a) 1) (* (col b) 2))");
    expect_expr("a BETWEEN 1 AND 2 AND b", "(and (between (col a) 1 2) (col b))");
    expect_expr("a BETWEEN b + 1 AND c * 2", "(between (col a) (+ (col b) 1) (* (col c) 2))");
    expect_expr("a NOT BETWEEN 1 AND 2 OR b", "(or (not-between (col a) 1 2) (col b))");
    expect_expr("a + 1 IN (1, 2) AND b", "(and (in (+ (col a) 1) 1 2) (col b))");
    expect_expr("a LIKE 'x' || '%' ESCAPE '!' AND b", "(and (like (col a) (|| 'x' '%') '!') (col b))");
    expect_expr("a NOT LIKE b OR c", "(or (not-like (col a) (col b)) (col c))");
    expect_expr("a IS NOT NULL AND b IS NULL", "(and (is-not-null (col a)) (is-null (col b)))");
    expect_expr("a = 1 IS TRUE", "(is-true (= (col a) 1))");
    expect_expr("a IS NOT TRUE OR a IS FALSE OR a IS NOT FALSE",
                "(or (or (is-not-true (col a)) (is-false (col a))) (is-not-false (col a)))");
    expect_expr("a = b = c", "(= (= (col a) (col b)) (col c))");
}

static void literals(void **state) {
    (void)state;
    expect_expr("0, 42, 9223372036854775807, -9223372036854775808, 9223372036854775808, "
                "123456789012345678901234567890, 00012",
                "0 42 9223372036854775807 -9223372036854775808 9.223372036854776e+18 1.2345678901234568e+29 12");
    expect_expr("0.908, 1.5, .5, 5., 1e3, 1.5E-3, 2e+2, -0.5, 5.0", "0.908 1.5 0.5 5.0 1000.0 0.0015 200.0 -0.5 5.0");
    expect_expr("'abc', '', 'it''s', '''', 'a\nb', 'caf\xc3\xa9'", "'abc' '' 'it''s' '''' 'a\nb' 'caf\xc3\xa9'");
    expect_expr("TRUE, false, NULL, null", "true false null null");
    expect_expr("-5, - 5, -(5), - -5, -9223372036854775807 - 1", "-5 -5 -5 5 (- -9223372036854775807 1)");
    expect_expr("- -9223372036854775808", "(neg -9223372036854775808)");
    expect_expr("-'a', -NULL, -TRUE", "(neg 'a') (neg null) (neg true)");

    sl_arena_t a = SL_ARENA_INIT;
    const sl_ast_expr_t *e = item0(&a, "SELECT 9223372036854775807");
    assert_int_equal(e->kind, SL_AX_LITERAL);
    assert_int_equal(e->lit_type, SL_TYPE_BIGINT);
    assert_true(e->lit.u.i == INT64_MAX);
    e = item0(&a, "SELECT -9223372036854775808");
    assert_int_equal(e->lit_type, SL_TYPE_BIGINT);
    assert_true(e->lit.u.i == INT64_MIN);
    assert_int_equal(e->pos.col, 8);
    e = item0(&a, "SELECT 9223372036854775808");
    assert_int_equal(e->lit_type, SL_TYPE_DOUBLE);
    assert_true(e->lit.u.d == 9223372036854775808.0);
    e = item0(&a, "SELECT 0.908");
    assert_int_equal(e->lit_type, SL_TYPE_DOUBLE);
    assert_true(e->lit.u.d == 0.908);
    assert_int_equal(e->lit.null, 0);
    e = item0(&a, "SELECT 'it''s'");
    assert_int_equal(e->lit_type, SL_TYPE_VARCHAR);
    assert_int_equal(e->lit.u.s.n, 4);
    assert_memory_equal(e->lit.u.s.p, "it's", 4);
    e = item0(&a, "SELECT NULL");
    assert_int_equal(e->lit_type, SL_TYPE_NULL);
    assert_int_equal(e->lit.null, 1);
    e = item0(&a, "SELECT FALSE");
    assert_int_equal(e->lit_type, SL_TYPE_BOOLEAN);
    assert_int_equal(e->lit.u.i, 0);
    e = item0(&a, "SELECT true");
    assert_int_equal(e->lit.u.i, 1);
    e = item0(&a, "SELECT  - 7");
    assert_int_equal(e->lit.u.i, -7);
    assert_int_equal(e->pos.col, 9); /* a folded literal starts at its '-' */
    sl_arena_free(&a);
}

static void interval_literals(void **state) {
    (void)state;
    expect_expr("INTERVAL '10' SECOND, INTERVAL '1' MINUTE, INTERVAL '2' HOUR, INTERVAL '1' DAY",
                "(interval 10000) (interval 60000) (interval 7200000) (interval 86400000)");
    expect_expr("INTERVAL '10' SECONDS, INTERVAL '10' MINUTES, INTERVAL '2' HOURS, INTERVAL '3' DAYS",
                "(interval 10000) (interval 600000) (interval 7200000) (interval 259200000)");
    expect_expr("interval '1.5' second, INTERVAL '0.001' SECOND, INTERVAL '1.23456' SECOND, INTERVAL ' 7 ' SECOND",
                "(interval 1500) (interval 1) (interval 1234) (interval 7000)");
    expect_expr("INTERVAL '00:01:30' HOUR TO SECOND, INTERVAL '1:30' HOUR TO MINUTE, INTERVAL '2:03.5' MINUTE TO "
                "SECOND",
                "(interval 90000) (interval 5400000) (interval 123500)");
    expect_expr("INTERVAL '1 02' DAY TO HOUR, INTERVAL '1 02:03' DAY TO MINUTE, INTERVAL '1 02:03:04.005' DAY TO "
                "SECOND",
                "(interval 93600000) (interval 93780000) (interval 93784005)");
    expect_expr("INTERVAL '-10' SECOND, INTERVAL '+10' SECOND, -INTERVAL '10' SECOND, INTERVAL '-1 00:00:01' DAY "
                "TO SECOND",
                "(interval -10000) (interval 10000) (interval -10000) (interval -86401000)");
    expect_expr("INTERVAL '100' HOUR, INTERVAL '90' MINUTE", "(interval 360000000) (interval 5400000)");
    expect_expr("ts - INTERVAL '4' SECOND", "(- (col ts) (interval 4000))");

    sl_arena_t a = SL_ARENA_INIT;
    const sl_ast_expr_t *e = item0(&a, "SELECT INTERVAL '10' SECOND");
    assert_int_equal(e->kind, SL_AX_LITERAL);
    assert_int_equal(e->lit_type, SL_TYPE_INTERVAL);
    assert_int_equal(e->lit.u.i, 10000);
    assert_int_equal(e->pos.col, 8);
    sl_arena_free(&a);

    ERR("SELECT INTERVAL '1.5' HOUR", 1, 17,
        "invalid INTERVAL at line 1, column 17: '1.5' is not a valid HOUR interval ('[-]h')");
    ERR("SELECT INTERVAL 'ten' SECOND", 1, 17,
        "invalid INTERVAL at line 1, column 17: 'ten' is not a valid SECOND interval ('[-]s[.fff]')");
    ERR("SELECT INTERVAL '' SECOND", 1, 17,
        "invalid INTERVAL at line 1, column 17: '' is not a valid SECOND interval ('[-]s[.fff]')");
    ERR("SELECT INTERVAL '1.1234567891' SECOND", 1, 17,
        "invalid INTERVAL at line 1, column 17: '1.1234567891' is not a valid SECOND interval ('[-]s[.fff]')");
    ERR("SELECT INTERVAL '1:60' HOUR TO MINUTE", 1, 17,
        "invalid INTERVAL at line 1, column 17: '1:60' is not a valid HOUR TO MINUTE interval ('[-]h:m')");
    ERR("SELECT INTERVAL '1 24:00:00' DAY TO SECOND", 1, 17,
        "invalid INTERVAL at line 1, column 17: '1 24:00:00' is not a valid DAY TO SECOND interval "
        "('[-]d h:m:s[.fff]')");
    ERR("SELECT INTERVAL '1:30' DAY TO HOUR", 1, 17,
        "invalid INTERVAL at line 1, column 17: '1:30' is not a valid DAY TO HOUR interval ('[-]d h')");
    ERR("SELECT INTERVAL '99999999999999999' DAY", 1, 17,
        "invalid INTERVAL at line 1, column 17: '99999999999999999' is not a valid DAY interval ('[-]d')");
    ERR("SELECT INTERVAL '1' YEAR", 1, 21,
        "unsupported interval at line 1, column 21: YEAR intervals are not supported, only DAY, HOUR, MINUTE and "
        "SECOND");
    ERR("SELECT INTERVAL '1-2' YEAR TO MONTH", 1, 23,
        "unsupported interval at line 1, column 23: YEAR intervals are not supported, only DAY, HOUR, MINUTE and "
        "SECOND");
    ERR("SELECT INTERVAL '3' MONTHS", 1, 21,
        "unsupported interval at line 1, column 21: MONTH intervals are not supported, only DAY, HOUR, MINUTE and "
        "SECOND");
    ERR("SELECT INTERVAL '1 2' SECOND TO MINUTE", 1, 33,
        "invalid interval at line 1, column 33: SECOND TO MINUTE; the unit after TO must be smaller");
    ERR("SELECT INTERVAL '1' HOUR TO HOUR", 1, 29,
        "invalid interval at line 1, column 29: HOUR TO HOUR; the unit after TO must be smaller");
    ERR("CREATE STREAM s (a INTERVAL YEAR)", 1, 29,
        "unsupported interval at line 1, column 29: YEAR intervals are not supported, only DAY, HOUR, MINUTE and "
        "SECOND");
    ERR("SELECT INTERVAL 10 SECOND", 1, 17, "syntax error at line 1, column 17: unexpected 10");
}

static void timestamp_literals(void **state) {
    (void)state;
    expect_expr("TIMESTAMP '2015-07-15 00:00:00', TIMESTAMP '1970-01-01 00:00:00', TIMESTAMP '1970-01-01'",
                "(timestamp 1436918400000) (timestamp 0) (timestamp 0)");
    expect_expr("TIMESTAMP '2000-02-29 23:59:59.123', TIMESTAMP '2000-02-29 23:59:59.123456789', "
                "timestamp '2000-2-9 1:2:3.4', TIMESTAMP '2024-12-31 23:59'",
                "(timestamp 951868799123) (timestamp 951868799123) (timestamp 950058123400) "
                "(timestamp 1735689540000)");
    expect_expr("TIMESTAMP '1969-12-31 23:59:59.999', TIMESTAMP '0001-01-01 00:00:00', TIMESTAMP "
                "'9999-12-31 23:59:59'",
                "(timestamp -1) (timestamp -62135596800000) (timestamp 253402300799000)");
    expect_expr("ts > TIMESTAMP '2015-07-15 00:00:00'", "(> (col ts) (timestamp 1436918400000))");

    sl_arena_t a = SL_ARENA_INIT;
    const sl_ast_expr_t *e = item0(&a, "SELECT TIMESTAMP '2015-07-15 00:00:00'");
    assert_int_equal(e->lit_type, SL_TYPE_TIMESTAMP);
    assert_true(e->lit.u.i == INT64_C(1436918400000));
    assert_int_equal(e->pos.col, 8);
    sl_arena_free(&a);

    static const char *const bad[] = {
        "2015-02-29 00:00:00", "2015-13-01 00:00:00", "2015-00-01", "2015-04-31", "2015-07-15 24:00:00",
        "2015-07-15 00:60:00", "2015-07-15 00:00:60", "2015-07-15T00:00:00", "15-07-15", "2015-07-15 ",
        "2015-07-15 00", "2015-07-15 00:00:00.", "2015-07-15 00:00:00.1234567890", "2015-07-15 00:00:00Z",
        "", "1900-02-29", "2015-007-15",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char sql[128], msg[256];
        snprintf(sql, sizeof(sql), "SELECT a,\n  TIMESTAMP '%s' FROM t", bad[i]);
        snprintf(msg, sizeof(msg),
                 "invalid TIMESTAMP at line 2, column 13: '%s' is not a valid 'yyyy-MM-dd HH:mm:ss[.SSS]'", bad[i]);
        ERR(sql, 2, 13, msg);
    }
    /* 2000 was a leap year, 1900 was not. */
    expect_expr("TIMESTAMP '2000-02-29'", "(timestamp 951782400000)");
}

static void identifiers_and_keywords(void **state) {
    (void)state;
    /* Quoted identifiers keep their case and may hold anything, with the quote doubled. */
    expect_dump("SELECT `Select`, \"From\", `a``b`, \"c\"\"d\", `x y`.`z` FROM `my table`",
                "(select (items (col Select) (col From) (col a`b) (col c\"d) (col x y.z)) (from (table my table)))");
    /* Keywords are case-insensitive; bare identifiers keep their case as written. */
    expect_dump("sElEcT DateTime FrOm Bid wHeRe PRICE > 1",
                "(select (items (col DateTime)) (from (table Bid)) (where (> (col PRICE) 1)))");
    /* Non-ASCII identifiers, $ inside names. */
    expect_dump("SELECT caf\xc3\xa9, a$b FROM t", "(select (items (col caf\xc3\xa9) (col a$b)) (from (table t)))");
    /* Keywords that are also common column names. */
    expect_dump("SELECT day, minute, hour, second, year, month, timestamp, date, value, key, channel, url, extra, "
                "price, window_start, window_end, window_time FROM t",
                "(select (items (col day) (col minute) (col hour) (col second) (col year) (col month) "
                "(col timestamp) (col date) (col value) (col key) (col channel) (col url) (col extra) (col price) "
                "(col window_start) (col window_end) (col window_time)) (from (table t)))");
    expect_dump("SELECT t.day, t.timestamp, hour(ts) AS hour, second + 1 second FROM t day WHERE day.minute > 1 "
                "GROUP BY year, month ORDER BY day DESC",
                "(select (items (col t.day) (col t.timestamp) (as (call hour (col ts)) hour) (as (+ (col second) 1) "
                "second)) (from (as (table t) day)) (where (> (col day.minute) 1)) (group-by (col year) (col month)) "
                "(order-by (desc (col day))))");
    expect_dump("CREATE STREAM s (day VARCHAR, timestamp TIMESTAMP(3), value DOUBLE, key STRING, path VARCHAR, "
                "topic VARCHAR, string STRING, desc VARCHAR, filter INT, position INT)",
                "(create-stream s (columns (day VARCHAR) (timestamp TIMESTAMP) (value DOUBLE) (key VARCHAR) "
                "(path VARCHAR) (topic VARCHAR) (string VARCHAR) (desc VARCHAR) (filter BIGINT) (position BIGINT)))");
    /* The keywords of special forms are plain columns when no '(' follows. */
    expect_dump("SELECT position, trim, extract, substring, position.x FROM t position",
                "(select (items (col position) (col trim) (col extract) (col substring) (col position.x)) "
                "(from (as (table t) position)))");
    /* IF(...) is an ordinary function. */
    expect_expr("IF(a > 1, 'x', 'y')", "(call IF (> (col a) 1) 'x' 'y')");
    expect_dump("INSERT INTO streams SELECT 1; DESCRIBE views; DROP STREAM queries",
                "(insert streams (select (items 1)))\n(describe views)\n(drop stream queries)");
    ERR("SELECT a FROM select", 1, 15, "syntax error at line 1, column 15: unexpected select");
    ERR("SELECT from FROM t", 1, 8, "syntax error at line 1, column 8: unexpected from");
}

static void special_forms(void **state) {
    (void)state;
    expect_expr("EXTRACT(HOUR FROM ts), extract(day from ts), EXTRACT(Epoch FROM ts)",
                "(call EXTRACT 'HOUR' (col ts)) (call EXTRACT 'DAY' (col ts)) (call EXTRACT 'EPOCH' (col ts))");
    expect_expr("SUBSTRING(s FROM 2), SUBSTRING(s FROM 2 FOR 3), SUBSTRING(s, 2, 3), substring(s, 1)",
                "(call SUBSTRING (col s) 2) (call SUBSTRING (col s) 2 3) (call SUBSTRING (col s) 2 3) "
                "(call substring (col s) 1)");
    expect_expr("TRIM(s), TRIM(BOTH FROM s), TRIM(LEADING 'x' FROM s), TRIM(trailing FROM s), TRIM('x' FROM s)",
                "(call TRIM 'BOTH' ' ' (col s)) (call TRIM 'BOTH' ' ' (col s)) (call TRIM 'LEADING' 'x' (col s)) "
                "(call TRIM 'TRAILING' ' ' (col s)) (call TRIM 'BOTH' 'x' (col s))");
    expect_expr("POSITION('a' IN s), POSITION(x IN 'abc' || s), POSITION(lower(x) IN (s))",
                "(call POSITION 'a' (col s)) (call POSITION (col x) (|| 'abc' (col s))) "
                "(call POSITION (call lower (col x)) (col s))");
    expect_expr("CURRENT_TIMESTAMP, current_timestamp - INTERVAL '1' DAY",
                "(call CURRENT_TIMESTAMP) (- (call CURRENT_TIMESTAMP) (interval 86400000))");
    expect_expr("CAST(a AS BIGINT), CAST(a AS VARCHAR(10)), CAST(a AS DOUBLE), CAST(a AS DECIMAL(5, 2)), "
                "CAST(a AS TIMESTAMP(3)), CAST(a AS BOOLEAN), CAST(a AS INTERVAL), cast(a as string)",
                "(cast (col a) BIGINT) (cast (col a) VARCHAR) (cast (col a) DOUBLE) (cast (col a) DOUBLE) "
                "(cast (col a) TIMESTAMP) (cast (col a) BOOLEAN) (cast (col a) INTERVAL) (cast (col a) VARCHAR)");
    expect_expr("CASE WHEN a THEN 1 END, CASE a WHEN 1 THEN 'x' WHEN 2 THEN 'y' ELSE 'z' END",
                "(case (when (col a) 1)) (case (col a) (when 1 'x') (when 2 'y') (else 'z'))");
    expect_expr("CASE WHEN a > 1 THEN CASE b WHEN 1 THEN 2 END ELSE -1 END",
                "(case (when (> (col a) 1) (case (col b) (when 1 2))) (else -1))");
    expect_expr("COUNT(*), count(DISTINCT a, b), sum(ALL a), f(), coalesce(a, b, 0)",
                "(call COUNT *) (call count distinct (col a) (col b)) (call sum (col a)) (call f) "
                "(call coalesce (col a) (col b) 0)");
    expect_expr("count(*) FILTER (WHERE a > 1), sum(b) filter (where c)",
                "(call count * (filter (> (col a) 1))) (call sum (col b) (filter (col c)))");
    expect_expr("PROCTIME(), MOD(a, 2), ((a))", "(call PROCTIME) (call MOD (col a) 2) (col a)");

    sl_arena_t a = SL_ARENA_INIT;
    const sl_ast_expr_t *e = item0(&a, "SELECT CASE x WHEN 1 THEN 2 ELSE 3 END");
    assert_int_equal(e->kind, SL_AX_CASE);
    assert_non_null(e->a);
    assert_non_null(e->b);
    assert_int_equal(e->count, 2);
    e = item0(&a, "SELECT CASE WHEN p THEN 2 END");
    assert_null(e->a);
    assert_null(e->b);
    e = item0(&a, "SELECT CAST(x AS INT)");
    assert_int_equal(e->kind, SL_AX_CAST);
    assert_int_equal(e->cast_type, SL_TYPE_BIGINT);
    e = item0(&a, "SELECT a NOT IN (1, 2, 3)");
    assert_int_equal(e->kind, SL_AX_IN);
    assert_int_equal(e->negated, 1);
    assert_int_equal(e->count, 3);
    e = item0(&a, "SELECT a IS NOT FALSE");
    assert_int_equal(e->kind, SL_AX_IS_BOOL);
    assert_int_equal(e->negated, 1);
    assert_int_equal(e->bool_value, 0);
    e = item0(&a, "SELECT x LIKE 'a%'");
    assert_int_equal(e->kind, SL_AX_LIKE);
    assert_null(e->c);
    e = item0(&a, "SELECT CURRENT_TIMESTAMP");
    assert_int_equal(e->kind, SL_AX_CALL);
    assert_int_equal(e->count, 0);
    assert_string_equal(e->name, "CURRENT_TIMESTAMP");
    /* Positions: a binary node starts where its left operand does; a call at its name. */
    e = item0(&a, "SELECT\n   a +\n  f(b)");
    assert_int_equal(e->pos.line, 2);
    assert_int_equal(e->pos.col, 4);
    assert_int_equal(e->b->pos.line, 3);
    assert_int_equal(e->b->pos.col, 3);
    assert_int_equal(e->b->list[0]->pos.col, 5);
    sl_arena_free(&a);
}

/* ---- text, comments, statements ------------------------------------------------------------ */

static void comments_and_statements(void **state) {
    (void)state;
    size_t n;
    char *d = dump_all("-- leading comment\nSELECT a -- trailing\n FROM /* inline */ t; /* between */ SELECT\n"
                       "/* multi\n line */ b FROM u;;  ;\n-- end",
                       &n);
    assert_int_equal(n, 2);
    assert_string_equal(d, "(select (items (col a)) (from (table t)))\n(select (items (col b)) (from (table u)))");
    free(d);

    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    sl_sql_error_t err;
    const char *text = "  SELECT ';' AS x -- c;\n FROM t ;\n\tSELECT /* ; */ 2";
    assert_int_equal(sl_sql_parse(&a, text, strlen(text), &st, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(st[0].text, "SELECT ';' AS x -- c;\n FROM t");
    assert_int_equal(st[0].pos.line, 1);
    assert_int_equal(st[0].pos.col, 3);
    assert_string_equal(st[1].text, "SELECT /* ; */ 2");
    assert_int_equal(st[1].pos.line, 3);
    assert_int_equal(st[1].pos.col, 2);
    assert_int_equal(st[1].kind, SL_AS_SELECT);
    /* Only the first len bytes count, and the text needs no NUL terminator. */
    const char buf[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', '2', 'x'};
    assert_int_equal(sl_sql_parse(&a, buf, 8, &st, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(st[0].text, "SELECT 1");
    /* The same arena serves many parses. */
    for (int i = 0; i < 50; i++) assert_int_equal(sl_sql_parse(&a, nexmark[6], strlen(nexmark[6]), &st, &n, &err), 0);
    sl_arena_free(&a);
    expect_dump("select 1 --", "(select (items 1))");
    expect_dump("select 1 /**/", "(select (items 1))");
    expect_dump("select 1/*x*//2", "(select (items (/ 1 2)))");
    expect_dump("select 1 /* a ** b */ - 2", "(select (items (- 1 2)))");
    expect_dump("select\r\n1\t;", "(select (items 1))");
}

static void error_messages(void **state) {
    (void)state;
    /* Syntax errors: the unexpected token as written, or the end of the input / statement. */
    ERR("SELECT a FROM", 1, 14, "syntax error at line 1, column 14: unexpected end of input");
    ERR("SELECT a FROM;", 1, 14, "syntax error at line 1, column 14: unexpected ;");
    ERR("SELECT a FROM t WHERE", 1, 22, "syntax error at line 1, column 22: unexpected end of input");
    ERR("SELECT a,\n  FROM t", 2, 3, "syntax error at line 2, column 3: unexpected FROM");
    ERR("SELECT 1;\nSELECT 2;\n  SELEC 3", 3, 3, "syntax error at line 3, column 3: unexpected SELEC");
    ERR("SELECT (1", 1, 10, "syntax error at line 1, column 10: unexpected end of input");
    ERR("SELECT 1)", 1, 9, "syntax error at line 1, column 9: unexpected )");
    ERR("SELECT a b c FROM t", 1, 12, "syntax error at line 1, column 12: unexpected c");
    ERR("SELECT 'caf\xc3\xa9' 'x'", 1, 15, "syntax error at line 1, column 15: unexpected 'x'");
    ERR("SELECT 1 'a very long string literal that goes on and on and on' FROM", 1, 10,
        "syntax error at line 1, column 10: unexpected 'a very long string literal that goes on...");
    ERR("CREATE VIEW v AS SELECT 1", 1, 8, "syntax error at line 1, column 8: unexpected VIEW");
    ERR("CREATE STREAM s ()", 1, 18, "syntax error at line 1, column 18: unexpected )");
    ERR("CREATE STREAM s (a)", 1, 19, "syntax error at line 1, column 19: unexpected )");
    ERR("CREATE STREAM s (a INT) WITH (topic = x)", 1, 39, "syntax error at line 1, column 39: unexpected x");
    ERR("CREATE SINK k INTO TOPIC t AS SELECT 1", 1, 26, "syntax error at line 1, column 26: unexpected t");
    ERR("DROP x", 1, 6, "syntax error at line 1, column 6: unexpected x");
    ERR("SHOW", 1, 5, "syntax error at line 1, column 5: unexpected end of input");
    ERR("SELECT a = b = ", 1, 16, "syntax error at line 1, column 16: unexpected end of input");
    ERR("SELECT a NOT NULL", 1, 14, "syntax error at line 1, column 14: unexpected NULL");
    ERR("SELECT count(DISTINCT *)", 1, 23, "syntax error at line 1, column 23: unexpected *");
    ERR("SELECT a IN ()", 1, 14, "syntax error at line 1, column 14: unexpected )");
    ERR("SELECT CASE END", 1, 13, "syntax error at line 1, column 13: unexpected END");
    ERR("SELECT * FROM t ORDER a", 1, 23, "syntax error at line 1, column 23: unexpected a");
    ERR("SELECT 1 LIMIT -1", 1, 16, "syntax error at line 1, column 16: unexpected -");
    ERR("SELECT x FROM (SELECT 1) AS", 1, 28, "syntax error at line 1, column 28: unexpected end of input");
    ERR("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts)))", 1, 51,
        "syntax error at line 1, column 51: unexpected )");
    /* Lexical errors. */
    ERR("SELECT 'abc", 1, 8, "syntax error at line 1, column 8: unterminated string literal (missing closing ')");
    ERR("SELECT 'it''s", 1, 12, "syntax error at line 1, column 12: unterminated string literal (missing closing ')");
    ERR("SELECT `abc FROM t", 1, 8,
        "syntax error at line 1, column 8: unterminated quoted identifier (missing closing `)");
    ERR("SELECT a\n  FROM \"t", 2, 8,
        "syntax error at line 2, column 8: unterminated quoted identifier (missing closing \")");
    ERR("SELECT `` FROM t", 1, 8, "syntax error at line 1, column 8: empty quoted identifier");
    ERR("SELECT 1 /* never closed", 1, 10, "syntax error at line 1, column 10: unterminated comment (missing */)");
    ERR("SELECT # FROM t", 1, 8, "syntax error at line 1, column 8: invalid character '#' (byte 0x23)");
    ERR("SELECT a\n\n  ? b", 3, 3, "syntax error at line 3, column 3: invalid character '?' (byte 0x3F)");
    ERR("SELECT caf\xc3\xa9 @", 1, 13, "syntax error at line 1, column 13: invalid character '@' (byte 0x40)");
    ERR("SELECT a | b", 1, 10, "syntax error at line 1, column 10: invalid character '|' (byte 0x7C)");
    ERR("SELECT !a", 1, 8, "syntax error at line 1, column 8: invalid character '!' (byte 0x21)");
    ERR("SELECT \x01", 1, 8, "syntax error at line 1, column 8: invalid character (byte 0x01)");
    expect_error("SELECT 1\0", 9, 1, 9, "syntax error at line 1, column 9: invalid character (byte 0x00)");
    expect_error("SELECT 'a\0b'", 12, 1, 8, "syntax error at line 1, column 8: a string literal contains a NUL byte");
    expect_error("SELECT `a\0b`", 12, 1, 8,
                 "syntax error at line 1, column 8: a quoted identifier contains a NUL byte");
    ERR("SELECT 12ab", 1, 8, "syntax error at line 1, column 8: invalid number '12ab'");
    ERR("SELECT 1e", 1, 8, "syntax error at line 1, column 8: invalid number '1e'");
    ERR("SELECT 1.5e+", 1, 8, "syntax error at line 1, column 8: invalid number '1.5e+'");
    ERR("SELECT 1.2.3", 1, 8, "syntax error at line 1, column 8: invalid number '1.2.3'");
    ERR("SELECT 1e999", 1, 8, "syntax error at line 1, column 8: invalid number 1e999 (beyond the range of DOUBLE)");
    /* Other errors at their position. */
    ERR("SELECT a FROM t LIMIT 9223372036854775808", 1, 23,
        "LIMIT too large at line 1, column 23: at most 9223372036854775807");
    ERR("CREATE STREAM s (ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)", 2, 27,
        "duplicate WATERMARK at line 2, column 27: a stream has at most one");
    ERR("SELECT * FROM TABLE(SLIDE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND))", 1, 21,
        "unknown window function SLIDE at line 1, column 21: expected TUMBLE, HOP, CUMULATE or SESSION");
    /* Nothing to parse. */
    ERR("", 1, 1, "syntax error at line 1, column 1: unexpected end of input");
    ERR("  ;\n ; -- nothing\n", 3, 1, "syntax error at line 3, column 1: unexpected end of input");
    /* The first error wins: the statement before a bad one does not matter. */
    ERR("SELECT 1; SELECT FROM", 1, 18, "syntax error at line 1, column 18: unexpected FROM");
}

/* ---- limits ------------------------------------------------------------------------------- */

/* head + unit * n + mid + tail_unit * n + tail (malloc'd). */
static char *repeat(const char *head, const char *unit, int n, const char *mid, const char *tail_unit,
                    const char *tail) {
    size_t lh = strlen(head), lu = strlen(unit), lm = strlen(mid), lt = strlen(tail_unit), le = strlen(tail);
    char *s = malloc(lh + (lu + lt) * (size_t)n + lm + le + 1);
    assert_non_null(s);
    char *p = s;
    memcpy(p, head, lh), p += lh;
    for (int i = 0; i < n; i++) memcpy(p, unit, lu), p += lu;
    memcpy(p, mid, lm), p += lm;
    for (int i = 0; i < n; i++) memcpy(p, tail_unit, lt), p += lt;
    memcpy(p, tail, le + 1);
    return s;
}

static void check_depth(const char *head, const char *unit, const char *mid, const char *tail_unit,
                        const char *tail) {
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    char *ok = repeat(head, unit, SL_SQL_MAX_DEPTH, mid, tail_unit, tail);
    if (sl_sql_parse(&a, ok, strlen(ok), &st, &n, &err)) fail_msg("depth %d refused: %s", SL_SQL_MAX_DEPTH, err.message);
    /* The dump recurses through the whole tree. */
    sl_buf_t b = SL_BUF_INIT;
    assert_int_equal(sl_ast_dump_stmt(&b, &st[0]), 0);
    sl_buf_free(&b);
    char *bad = repeat(head, unit, SL_SQL_MAX_DEPTH + 1, mid, tail_unit, tail);
    assert_int_equal(sl_sql_parse(&a, bad, strlen(bad), &st, &n, &err), -1);
    assert_non_null(strstr(err.message, "expression nested too deeply at line 1, column "));
    assert_non_null(strstr(err.message, ": more than 200 levels (SL_SQL_MAX_DEPTH)"));
    assert_int_equal(err.pos.line, 1);
    free(ok);
    free(bad);
    sl_arena_free(&a);
}

static void depth_limit(void **state) {
    (void)state;
    check_depth("SELECT ", "(", "1", ")", "");                                /* brackets */
    check_depth("SELECT ", "f(", "1", ")", "");                               /* calls */
    check_depth("SELECT ", "NOT ", "x", "", "");                              /* prefix operators */
    check_depth("SELECT ", "- ", "x", "", "");
    check_depth("SELECT ", "CASE WHEN ", "x", " THEN 1 END", "");             /* CASE */
    check_depth("SELECT x FROM ", "(SELECT x FROM ", "t", ")", "");           /* subqueries */
    check_depth("SELECT 1", "+ 1", "", "", "");                               /* a long operator chain */
    check_depth("SELECT 1 FROM t WHERE a", " AND a", "", "", "");
    check_depth("SELECT ", "a || (", "1", ")", "");
    check_depth("CREATE STREAM s (ts TIMESTAMP, WATERMARK FOR ts AS ", "(", "ts", ")", ")");
    /* Every precedence level open at once under each bracket: still bounded. */
    char *cascade = repeat("SELECT ", "a OR b AND c = d || e + f * -(", 28, "1", ")", ""); /* 196 levels */
    char *d = dump_all(cascade, NULL);
    free(d);
    free(cascade);
    cascade = repeat("SELECT ", "a OR b AND c = d || e + f * -(", 5000, "1", ")", "");
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    assert_int_equal(sl_sql_parse(&a, cascade, strlen(cascade), &st, &n, &err), -1);
    assert_non_null(strstr(err.message, "expression nested too deeply"));
    sl_arena_free(&a);
    free(cascade);
    /* The exact message and position: the 201st '(' . */
    char *bad = repeat("SELECT ", "(", SL_SQL_MAX_DEPTH + 1, "1", ")", "");
    ERR(bad, 1, 208,
        "expression nested too deeply at line 1, column 208: more than 200 levels (SL_SQL_MAX_DEPTH); split it "
        "into smaller expressions or views");
    free(bad);
    /* Very deep input fails fast, without deep recursion or a huge parser stack. */
    bad = repeat("SELECT ", "(", 200000, "1", ")", "");
    ERR(bad, 1, 208,
        "expression nested too deeply at line 1, column 208: more than 200 levels (SL_SQL_MAX_DEPTH); split it "
        "into smaller expressions or views");
    free(bad);
    bad = repeat("SELECT 1", "+1", 200000, "", "", "");
    ERR(bad, 1, 8,
        "expression nested too deeply at line 1, column 8: more than 200 levels (SL_SQL_MAX_DEPTH); split it "
        "into smaller expressions or views");
    free(bad);
    /* Wide is fine: long lists do not nest. */
    char *wide = repeat("SELECT a FROM t WHERE a IN (0", ", 1", 50000, ")", "", "");
    d = dump_all(wide, NULL);
    free(d);
    free(wide);
}

static void text_and_statement_limits(void **state) {
    (void)state;
    size_t big = SL_SQL_MAX_TEXT;
    char *s = malloc(big + 2);
    assert_non_null(s);
    memset(s, ' ', big + 1);
    memcpy(s, "SELECT 1", 8);
    s[big + 1] = 0;
    sl_arena_t a = SL_ARENA_INIT;
    sl_ast_stmt_t *st;
    size_t n;
    sl_sql_error_t err;
    assert_int_equal(sl_sql_parse(&a, s, big, &st, &n, &err), 0); /* exactly the limit */
    assert_int_equal(n, 1);
    assert_int_equal(sl_sql_parse(&a, s, big + 1, &st, &n, &err), -1);
    assert_string_equal(err.message, "SQL text too long: 1048577 bytes, at most 1048576 (SL_SQL_MAX_TEXT); send "
                                     "fewer statements at a time");
    assert_null(st);
    assert_int_equal(n, 0);
    free(s);

    char *many = repeat("", "SELECT 1;\n", SL_SQL_MAX_STATEMENTS, "", "", "");
    assert_int_equal(sl_sql_parse(&a, many, strlen(many), &st, &n, &err), 0);
    assert_int_equal(n, SL_SQL_MAX_STATEMENTS);
    assert_string_equal(st[SL_SQL_MAX_STATEMENTS - 1].text, "SELECT 1");
    assert_int_equal(st[SL_SQL_MAX_STATEMENTS - 1].pos.line, SL_SQL_MAX_STATEMENTS);
    free(many);
    many = repeat("", "SELECT 1;\n", SL_SQL_MAX_STATEMENTS, " ; SELECT 2", "", "");
    ERR(many, 1001, 4,
        "too many statements at line 1001, column 4: at most 1000 (SL_SQL_MAX_STATEMENTS) in one text");
    free(many);
    sl_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nexmark_queries_parse),
        cmocka_unit_test(nexmark_dumps),
        cmocka_unit_test(nexmark_q15_fields),
        cmocka_unit_test(create_stream_forms),
        cmocka_unit_test(create_view_sink_insert),
        cmocka_unit_test(show_describe_drop),
        cmocka_unit_test(select_clauses),
        cmocka_unit_test(window_tvfs),
        cmocka_unit_test(precedence),
        cmocka_unit_test(literals),
        cmocka_unit_test(interval_literals),
        cmocka_unit_test(timestamp_literals),
        cmocka_unit_test(identifiers_and_keywords),
        cmocka_unit_test(special_forms),
        cmocka_unit_test(comments_and_statements),
        cmocka_unit_test(error_messages),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(text_and_statement_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
