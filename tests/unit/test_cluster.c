/* Unit tests for cluster/: the member-list parser, the bounds-checked codec, the mux's RPC
 * channel between two nodes on one loop (frames both ways, a peer that goes away), and the
 * storage calls replicas rely on (cut back to a batch boundary, find a batch's header, restart
 * a log at an offset) on a real file system. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "cluster/codec.h"
#include "cluster/mux.h"
#include "sluice.h"
#include "storage/batch.h"
#include "storage/log.h"

/* ---- config ------------------------------------------------------------------------------------- */

static void config_member_lists(void **state) {
    (void)state;
    sl_cluster_config_t c;
    sl_cluster_config_defaults(&c);
    const char *why = NULL;
    c.node_id = 2;
    c.members = "1@127.0.0.1:7001,2@127.0.0.1:7002,3@[::1]:7003";
    assert_int_equal(sl_cluster_config_check(&c, &why), 0);
    c.node_id = 4;
    assert_int_equal(sl_cluster_config_check(&c, &why), -SL_EINVAL);
    assert_non_null(strstr(why, "not in --cluster"));
    const char *bad[] = {"", "1@127.0.0.1", "x@127.0.0.1:1", "0@127.0.0.1:1", "1@127.0.0.1:1,1@127.0.0.1:2",
                         "1@localhost:7001", "1@127.0.0.1:70000", "1@127.0.0.1:7001,,2@127.0.0.1:7002"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c.node_id = 1;
        c.members = bad[i];
        why = NULL;
        assert_int_equal(sl_cluster_config_check(&c, &why), -SL_EINVAL);
        assert_non_null(why);
    }
}

/* ---- codec -------------------------------------------------------------------------------------- */

static void codec_round_trip_and_bounds(void **state) {
    (void)state;
    sl_buf_t b = SL_BUF_INIT;
    sl_w_u8(&b, 7);
    sl_w_u32(&b, 0xdeadbeef);
    sl_w_i64(&b, -5);
    sl_w_str(&b, "topic");
    sl_reader_t r;
    sl_r_init(&r, b.data, b.len);
    assert_int_equal(sl_r_u8(&r), 7);
    assert_int_equal(sl_r_u32(&r), 0xdeadbeef);
    assert_int_equal(sl_r_i64(&r), -5);
    char s[8];
    sl_r_str(&r, s, sizeof(s));
    assert_string_equal(s, "topic");
    assert_int_equal(r.bad, 0);
    assert_int_equal(sl_r_u8(&r), 0); /* past the end: bad, no read */
    assert_int_equal(r.bad, 1);
    /* a length prefix larger than the message */
    sl_r_init(&r, b.data, b.len - 2);
    sl_r_u8(&r);
    sl_r_u32(&r);
    sl_r_i64(&r);
    size_t n;
    assert_null(sl_r_bytes(&r, &n));
    assert_int_equal(r.bad, 1);
    /* a string that does not fit the caller's buffer */
    sl_r_init(&r, b.data + 13, b.len - 13);
    char tiny[4];
    sl_r_str(&r, tiny, sizeof(tiny));
    assert_int_equal(r.bad, 1);
    sl_buf_free(&b);
}

/* ---- mux ---------------------------------------------------------------------------------------- */

typedef struct rpc_log {
    int frames;
    uint64_t from;
    uint8_t type;
    uint64_t corr;
    char payload[64];
    int down;
    uv_loop_t *loop;
} rpc_log_t;

static void on_rpc(void *ud, uint64_t from, uint8_t type, uint64_t corr, const char *p, size_t len) {
    rpc_log_t *l = ud;
    l->frames++;
    l->from = from;
    l->type = type;
    l->corr = corr;
    snprintf(l->payload, sizeof(l->payload), "%.*s", (int)len, p);
}

static void on_down(void *ud, uint64_t peer) {
    rpc_log_t *l = ud;
    (void)peer;
    l->down++;
}

static int free_port(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t t;
    uv_tcp_init(&loop, &t);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_bind(&t, (struct sockaddr *)&sa, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return port;
}

static void run_until(uv_loop_t *loop, int *flag, int want) {
    for (int i = 0; i < 2000 && *flag < want; i++) uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
}

static void closed(void *arg) { (*(int *)arg)++; }

static void mux_rpc_both_ways(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char a1[32], a2[32];
    snprintf(a1, sizeof(a1), "127.0.0.1:%d", free_port());
    snprintf(a2, sizeof(a2), "127.0.0.1:%d", free_port());
    sl_mux_t *m1, *m2;
    rpc_log_t l1 = {0}, l2 = {0};
    assert_int_equal(sl_mux_open(&loop, 1, a1, &m1), 0);
    assert_int_equal(sl_mux_open(&loop, 2, a2, &m2), 0);
    sl_mux_set_rpc(m1, on_rpc, on_down, &l1);
    sl_mux_set_rpc(m2, on_rpc, on_down, &l2);
    assert_int_equal(sl_mux_listen(m1), 0);
    assert_int_equal(sl_mux_listen(m2), 0);
    assert_int_equal(sl_mux_set_peer(m1, 2, a2), 0);
    /* unknown peer: refused at once */
    assert_int_equal(sl_mux_send(m1, 9, 3, 1, "x", 1), -1);
    /* queued while connecting, delivered with the sender's id */
    assert_int_equal(sl_mux_send(m1, 2, 3, 77, "hello", 5), 0);
    run_until(&loop, &l2.frames, 1);
    assert_int_equal(l2.frames, 1);
    assert_int_equal(l2.from, 1);
    assert_int_equal(l2.type, 3);
    assert_int_equal(l2.corr, 77);
    assert_string_equal(l2.payload, "hello");
    /* node 2 learned node 1's address from the handshake and answers on its own connection */
    assert_int_equal(sl_mux_send(m2, 1, 4, 77, "world", 5), 0);
    run_until(&loop, &l1.frames, 1);
    assert_int_equal(l1.frames, 1);
    assert_int_equal(l1.from, 2);
    assert_string_equal(l1.payload, "world");
    assert_true(sl_mux_connected(m1, 2));
    /* many frames in a row arrive in order and whole */
    for (int i = 0; i < 100; i++) {
        char p[16];
        int n = snprintf(p, sizeof(p), "f%d", i);
        assert_int_equal(sl_mux_send(m1, 2, 5, (uint64_t)i, p, (size_t)n), 0);
    }
    run_until(&loop, &l2.frames, 101);
    assert_int_equal(l2.frames, 101);
    assert_string_equal(l2.payload, "f99");
    assert_int_equal(l2.corr, 99);
    /* node 2 goes away: node 1 is told its connection broke */
    int done = 0;
    sl_mux_close(m2, closed, &done);
    run_until(&loop, &done, 1);
    run_until(&loop, &l1.down, 1);
    assert_int_equal(l1.down, 1);
    assert_false(sl_mux_connected(m1, 2));
    sl_mux_close(m1, closed, &done);
    run_until(&loop, &done, 2);
    assert_int_equal(done, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void mux_rejects_foreign_connections(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char a1[32];
    int port = free_port();
    snprintf(a1, sizeof(a1), "127.0.0.1:%d", port);
    sl_mux_t *m1;
    rpc_log_t l1 = {0};
    assert_int_equal(sl_mux_open(&loop, 1, a1, &m1), 0);
    sl_mux_set_rpc(m1, on_rpc, on_down, &l1);
    assert_int_equal(sl_mux_listen(m1), 0);
    /* an HTTP client on the internal port: closed without a frame reaching anyone */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    char buf[16];
    ssize_t got = 1;
    for (int i = 0; i < 200 && got != 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        struct timeval tv = {0, 5000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        got = read(fd, buf, sizeof(buf));
    }
    assert_int_equal(got, 0); /* EOF: the mux closed it */
    close(fd);
    assert_int_equal(l1.frames, 0);
    int done = 0;
    sl_mux_close(m1, closed, &done);
    run_until(&loop, &done, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- storage calls for replicas ------------------------------------------------------------------ */

static char *tmpdir(void) {
    char *d = strdup("/tmp/sluice-test-cluster-XXXXXX");
    return mkdtemp(d);
}

static int64_t append_batch(sl_log_t *log, int records, const char *tag) {
    sl_buf_t b = SL_BUF_INIT;
    sl_batch_builder_t bld;
    assert_int_equal(sl_batch_begin(&bld, &b), 0);
    for (int i = 0; i < records; i++) {
        char v[128];
        int n = snprintf(v, sizeof(v), "%s-%d-%0100d", tag, i, 0);
        assert_int_equal(sl_batch_add(&bld, 1000 + i, NULL, -1, v, n), 0);
    }
    assert_int_equal(sl_batch_finish(&bld), 0);
    int64_t base;
    sl_log_mark_t mark;
    assert_int_equal(sl_log_append(log, b.data, b.len, 0, &mark, &base), 0);
    sl_buf_free(&b);
    log->durable_offset = log->next_offset;
    return base;
}

static void log_truncate_batch_at_and_reset(void **state) {
    (void)state;
    char *root = tmpdir();
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/p", root);
    sl_log_config_t cfg = {.segment_bytes = 4096, .segment_ms = 1ull << 40};
    sl_log_t *log;
    assert_int_equal(sl_log_open(dir, &cfg, 0, &log), 0);
    int64_t bases[40];
    for (int i = 0; i < 40; i++) bases[i] = append_batch(log, 5, "x");
    assert_true(log->nsegs > 3); /* several segments */
    assert_int_equal(log->next_offset, 200);
    /* every batch start is found; offsets inside a batch are not starts */
    sl_batch_header_t h;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(sl_log_batch_at(log, bases[i], &h), 0);
        assert_int_equal(h.base_offset, bases[i]);
        assert_int_equal(h.last_offset_delta, 4);
    }
    assert_int_equal(sl_log_batch_at(log, 7, &h), -SL_ENOTFOUND);
    assert_int_equal(sl_log_batch_at(log, 200, &h), -SL_ENOTFOUND);
    /* cut inside a batch: refused, nothing changes */
    assert_int_equal(sl_log_truncate(log, 52), -SL_EINVAL);
    assert_int_equal(log->next_offset, 200);
    /* cut at a boundary in an older segment: later segments go, the log ends there */
    assert_int_equal(sl_log_truncate(log, 60), 0);
    assert_int_equal(log->next_offset, 60);
    assert_int_equal(sl_log_batch_at(log, 60, &h), -SL_ENOTFOUND);
    assert_int_equal(sl_log_batch_at(log, 55, &h), 0);
    /* appends continue from the cut, and survive a reopen */
    assert_int_equal(append_batch(log, 3, "y"), 60);
    sl_log_close(log);
    assert_int_equal(sl_log_open(dir, &cfg, 1, &log), 0);
    assert_int_equal(log->next_offset, 63);
    sl_buf_t out = SL_BUF_INIT;
    assert_int_equal(sl_log_read(log, 60, 1 << 20, &out), 0);
    assert_int_equal(sl_batch_parse_header(out.data, out.len, &h), 0);
    assert_int_equal(h.base_offset, 60);
    sl_buf_free(&out);
    /* reset: everything goes, the log starts over at 1000 */
    assert_int_equal(sl_log_reset(log, 1000), 0);
    assert_int_equal(log->next_offset, 1000);
    assert_int_equal(sl_log_start_offset(log), 1000);
    assert_int_equal(append_batch(log, 2, "z"), 1000);
    sl_log_close(log);
    assert_int_equal(sl_log_open(dir, &cfg, 1, &log), 0);
    assert_int_equal(sl_log_start_offset(log), 1000);
    assert_int_equal(log->next_offset, 1002);
    sl_log_destroy(log);
    rmdir(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_member_lists),
        cmocka_unit_test(codec_round_trip_and_bounds),
        cmocka_unit_test(mux_rpc_both_ways),
        cmocka_unit_test(mux_rejects_foreign_connections),
        cmocka_unit_test(log_truncate_batch_at_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
