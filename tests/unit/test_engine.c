/* Engine tests: topics, the produce path (partitioning, acknowledgement after durability,
 * atomicity), fetch and watches, consumer groups and committed offsets, and restart — all
 * in-process on a libuv loop, through sluice.h only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <fcntl.h>

#include "core/hash.h"
#include "engine/internal.h"
#include "sluice.h"

typedef struct fixture {
    uv_loop_t loop;
    sl_engine_t *e;
    char dir[64];
    sl_engine_config_t cfg;
} fixture_t;

static void open_engine(fixture_t *f) {
    assert_int_equal(sl_engine_open(&f->loop, &f->cfg, &f->e), 0);
}

static void closed_cb(void *arg) { *(int *)arg = 1; }

static void close_engine(fixture_t *f) {
    int closed = 0;
    sl_engine_close(f->e, closed_cb, &closed);
    while (!closed) uv_run(&f->loop, UV_RUN_ONCE);
    f->e = NULL;
}

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sl-engine-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    uv_loop_init(&f->loop);
    sl_engine_config_defaults(&f->cfg);
    f->cfg.data_dir = f->dir;
    f->cfg.session_check_ms = 20;
    open_engine(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    if (f->e) close_engine(f);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

typedef struct ack {
    int done, status;
    sl_offset_t offs[64];
    size_t n;
} ack_t;

static void on_ack(void *ud, int status, const sl_offset_t *o, size_t n) {
    ack_t *a = ud;
    a->done = 1;
    a->status = status;
    a->n = n;
    if (o) memcpy(a->offs, o, n * sizeof(*o));
}

static void wait_for(fixture_t *f, const int *flag) {
    for (int i = 0; i < 100000 && !*flag; i++) uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static void make_topic(fixture_t *f, const char *name, uint32_t parts) {
    sl_topic_config_t c;
    sl_topic_config_init(&c, name);
    c.partitions = parts;
    assert_int_equal(sl_topic_create(f->e, &c), 0);
}

static void produce(fixture_t *f, const char *topic, sl_record_t *r, size_t n, ack_t *a) {
    memset(a, 0, sizeof(*a));
    assert_int_equal(sl_produce(f->e, topic, r, n, on_ack, a), 0);
    assert_false(a->done); /* never acknowledged before the fsync */
    wait_for(f, &a->done);
    assert_int_equal(a->status, 0);
    assert_int_equal(a->n, n);
}

static void topic_lifecycle(void **state) {
    fixture_t *f = *state;
    sl_topic_config_t c;
    const char *why;
    sl_topic_config_init(&c, "bad/name");
    assert_int_equal(sl_topic_config_check(&c, &why), -SL_EINVAL);
    assert_non_null(why);
    sl_topic_config_init(&c, "..");
    assert_int_equal(sl_topic_create(f->e, &c), -SL_EINVAL);
    sl_topic_config_init(&c, "t");
    c.partitions = 4097;
    assert_int_equal(sl_topic_create(f->e, &c), -SL_EINVAL);
    make_topic(f, "b", 2);
    make_topic(f, "a", 1);
    sl_topic_config_init(&c, "a");
    assert_int_equal(sl_topic_create(f->e, &c), -SL_EEXIST);
    char **names;
    size_t n;
    assert_int_equal(sl_topic_list(f->e, &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    sl_names_free(names, n);
    assert_int_equal(sl_topic_delete(f->e, "a"), 0);
    assert_int_equal(sl_topic_get(f->e, "a", &c), -SL_ENOTFOUND);
    assert_int_equal(sl_topic_delete(f->e, "a"), -SL_ENOTFOUND);
    /* The deleted name can be created again, empty. */
    make_topic(f, "a", 3);
    sl_partition_stats_t st;
    assert_int_equal(sl_partition_stats(f->e, "a", 2, &st), 0);
    assert_int_equal(st.latest_offset, 0);
    assert_int_equal(sl_partition_stats(f->e, "a", 3, &st), -SL_ENOTFOUND);
}

static void produce_partitions_and_fetch(void **state) {
    fixture_t *f = *state;
    make_topic(f, "t", 4);
    sl_record_t r[6] = {
        {.key = "user-1", .key_len = 6, .value = "{\"a\":1}", .value_len = 7, .timestamp = 1000, .partition = -1},
        {.key = "user-2", .key_len = 6, .value = "{\"a\":2}", .value_len = 7, .timestamp = -1, .partition = -1},
        {.key = "user-1", .key_len = 6, .value = "{\"a\":3}", .value_len = 7, .timestamp = 1002, .partition = -1},
        {.value = "4", .value_len = 1, .timestamp = 5, .partition = 3},
        {.value = "5", .value_len = 1, .timestamp = 6, .partition = -1},
        {.value = "6", .value_len = 1, .timestamp = 7, .partition = -1},
    };
    ack_t a;
    produce(f, "t", r, 6, &a);
    uint32_t p1 = sl_kafka_partition("user-1", 6, 4);
    assert_int_equal(a.offs[0].partition, p1);
    assert_int_equal(a.offs[2].partition, p1);
    assert_true(a.offs[2].offset > a.offs[0].offset); /* request order within a partition */
    assert_int_equal(a.offs[1].partition, sl_kafka_partition("user-2", 6, 4));
    assert_int_equal(a.offs[3].partition, 3);
    assert_int_equal(a.offs[4].partition, a.offs[5].partition); /* sticky within a request */
    sl_fetch_result_t res;
    assert_int_equal(sl_fetch(f->e, "t", p1, SL_OFFSET_EARLIEST, 100, 1 << 20, &res), 0);
    int found = 0;
    for (size_t i = 0; i < res.count; i++) {
        if (res.recs[i].value_len == 7 && !memcmp(res.recs[i].value, "{\"a\":1}", 7)) {
            assert_int_equal(res.recs[i].timestamp, 1000);
            assert_int_equal(res.recs[i].key_len, 6);
            assert_memory_equal(res.recs[i].key, "user-1", 6);
            found++;
        }
    }
    assert_int_equal(found, 1);
    assert_int_equal(res.next_offset, res.latest_offset);
    sl_fetch_result_free(&res);
    /* Limits and ranges. */
    assert_int_equal(sl_fetch(f->e, "t", p1, 1, 1, 1 << 20, &res), 0);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.recs[0].offset, 1);
    sl_fetch_result_free(&res);
    assert_int_equal(sl_fetch(f->e, "t", p1, 99, 1, 1 << 20, &res), -SL_ERANGE);
    assert_true(res.latest_offset >= a.offs[2].offset + 1);
    assert_int_equal(sl_fetch(f->e, "t", 9, 0, 1, 1 << 20, &res), -SL_ENOTFOUND);
    assert_int_equal(sl_fetch(f->e, "nope", 0, 0, 1, 1 << 20, &res), -SL_ENOTFOUND);
    /* An explicit partition out of range refuses the whole request. */
    sl_record_t bad[2] = {{.value = "1", .value_len = 1, .partition = 0, .timestamp = -1},
                          {.value = "2", .value_len = 1, .partition = 7, .timestamp = -1}};
    sl_partition_stats_t st;
    sl_partition_stats(f->e, "t", 0, &st);
    assert_int_not_equal(sl_produce(f->e, "t", bad, 2, on_ack, &a), 0);
    sl_partition_stats_t st2;
    sl_partition_stats(f->e, "t", 0, &st2);
    assert_int_equal(st.latest_offset, st2.latest_offset);
}

static void watch_fired(void *ud, int status) {
    int *p = ud;
    *p = status == 0 ? 1 : -1;
}

static void watch_wakes_on_durable_data(void **state) {
    fixture_t *f = *state;
    make_topic(f, "w", 1);
    int fired = 0;
    sl_watch_t *w;
    assert_int_equal(sl_watch(f->e, "w", 0, SL_OFFSET_LATEST, watch_fired, &fired, &w), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(fired, 0);
    sl_record_t r = {.value = "1", .value_len = 1, .timestamp = -1, .partition = -1};
    ack_t a;
    produce(f, "w", &r, 1, &a);
    assert_int_equal(fired, 1);
    /* A cancelled watch never fires. */
    int fired2 = 0;
    assert_int_equal(sl_watch(f->e, "w", 0, 1, watch_fired, &fired2, &w), 0);
    sl_watch_cancel(w);
    produce(f, "w", &r, 1, &a);
    assert_int_equal(fired2, 0);
    /* Deleting the topic wakes watchers with an error. */
    int fired3 = 0;
    assert_int_equal(sl_watch(f->e, "w", 0, 2, watch_fired, &fired3, &w), 0);
    assert_int_equal(sl_topic_delete(f->e, "w"), 0);
    assert_int_equal(fired3, -1);
}

static void restart_keeps_topics_data_and_offsets(void **state) {
    fixture_t *f = *state;
    sl_topic_config_t c;
    sl_topic_config_init(&c, "keep");
    c.partitions = 2;
    snprintf(c.key, sizeof(c.key), "/id");
    c.retention_bytes = 12345;
    assert_int_equal(sl_topic_create(f->e, &c), 0);
    sl_record_t r[3] = {{.value = "x", .value_len = 1, .partition = 0, .timestamp = -1},
                        {.value = "y", .value_len = 1, .partition = 0, .timestamp = -1},
                        {.value = "z", .value_len = 1, .partition = 1, .timestamp = -1}};
    ack_t a;
    produce(f, "keep", r, 3, &a);
    const char *topics[] = {"keep"};
    sl_join_config_t jc = {.topics = topics, .topic_count = 1};
    sl_assignment_t as;
    assert_int_equal(sl_group_join(f->e, "g", &jc, &as), 0);
    assert_int_equal(as.count, 2);
    sl_commit_t cm = {"keep", 0, 2};
    int done = 0;
    assert_int_equal(sl_group_commit(f->e, "g", as.member_id, as.generation, &cm, 1, watch_fired, &done), 0);
    wait_for(f, &done);
    assert_int_equal(done, 1);
    sl_assignment_free(&as);
    close_engine(f);
    open_engine(f);
    sl_topic_config_t c2;
    assert_int_equal(sl_topic_get(f->e, "keep", &c2), 0);
    assert_int_equal(c2.partitions, 2);
    assert_string_equal(c2.key, "/id");
    assert_int_equal(c2.retention_bytes, 12345);
    sl_partition_stats_t st;
    assert_int_equal(sl_partition_stats(f->e, "keep", 0, &st), 0);
    assert_int_equal(st.latest_offset, 2);
    sl_group_info_t gi;
    assert_int_equal(sl_group_describe(f->e, "g", &gi), 0);
    assert_int_equal(gi.member_count, 0); /* membership is not kept; offsets are */
    int seen = 0;
    for (size_t i = 0; i < gi.offset_count; i++)
        if (gi.offsets[i].tp.partition == 0 && !strcmp(gi.offsets[i].tp.topic, "keep")) {
            assert_int_equal(gi.offsets[i].committed, 2);
            assert_int_equal(gi.offsets[i].latest, 2);
            seen = 1;
        }
    assert_true(seen);
    sl_group_info_free(&gi);
}

static int owners_ok(fixture_t *f, const char *group, size_t nparts) {
    sl_group_info_t gi;
    assert_int_equal(sl_group_describe(f->e, group, &gi), 0);
    int *owned = calloc(nparts, sizeof(int));
    size_t total = 0;
    for (size_t m = 0; m < gi.member_count; m++)
        for (size_t k = 0; k < gi.members[m].tp_count; k++) {
            owned[gi.members[m].tps[k].partition]++;
            total++;
        }
    int ok = total == nparts;
    for (size_t i = 0; i < nparts; i++) ok &= owned[i] == 1;
    free(owned);
    sl_group_info_free(&gi);
    return ok;
}

static void groups_rebalance_sticky_and_stale(void **state) {
    fixture_t *f = *state;
    make_topic(f, "g6", 6);
    const char *topics[] = {"g6"};
    sl_join_config_t jc = {.topics = topics, .topic_count = 1, .session_timeout_ms = 100000};
    sl_assignment_t a1, a2, a3, hb;
    assert_int_equal(sl_group_join(f->e, "grp", &jc, &a1), 0);
    assert_int_equal(a1.count, 6);
    assert_true(owners_ok(f, "grp", 6));
    assert_int_equal(sl_group_join(f->e, "grp", &jc, &a2), 0);
    assert_int_equal(a2.count, 3);
    assert_true(owners_ok(f, "grp", 6));
    /* The first member hears of the rebalance once, and kept three of its partitions. */
    assert_int_equal(sl_group_heartbeat(f->e, "grp", a1.member_id, &hb), 1);
    assert_int_equal(hb.count, 3);
    assert_int_equal(hb.generation, a2.generation);
    sl_assignment_free(&hb);
    assert_int_equal(sl_group_heartbeat(f->e, "grp", a1.member_id, &hb), 0);
    jc.session_timeout_ms = 100; /* the third will time out */
    assert_int_equal(sl_group_join(f->e, "grp", &jc, &a3), 0);
    assert_int_equal(a3.count, 2);
    assert_true(owners_ok(f, "grp", 6));
    /* A commit from the old generation is refused; one for a partition not owned too. */
    sl_commit_t cm = {"g6", a3.tps[0].partition, 1};
    int done = 0;
    assert_int_equal(sl_group_commit(f->e, "grp", a3.member_id, a1.generation, &cm, 1, watch_fired, &done),
                     -SL_ESTALE);
    sl_commit_t other = {"g6", a2.tps[0].partition, 1};
    assert_int_equal(sl_group_commit(f->e, "grp", a3.member_id, -1, &other, 1, watch_fired, &done),
                     -SL_ENOTASSIGNED);
    /* Session timeout: the third member stops heartbeating and is removed. */
    for (int i = 0; i < 200; i++) {
        usleep(5000);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        sl_group_heartbeat(f->e, "grp", a1.member_id, &hb) == 1 ? sl_assignment_free(&hb) : (void)0;
        sl_group_heartbeat(f->e, "grp", a2.member_id, &hb) == 1 ? sl_assignment_free(&hb) : (void)0;
    }
    assert_int_equal(sl_group_heartbeat(f->e, "grp", a3.member_id, &hb), -SL_ENOTFOUND);
    assert_true(owners_ok(f, "grp", 6));
    assert_int_equal(sl_group_leave(f->e, "grp", a2.member_id), 0);
    assert_int_equal(sl_group_leave(f->e, "grp", a2.member_id), -SL_ENOTFOUND);
    assert_true(owners_ok(f, "grp", 6));
    sl_assignment_free(&a1);
    sl_assignment_free(&a2);
    sl_assignment_free(&a3);
}

static void group_fetch_resumes_from_commits(void **state) {
    fixture_t *f = *state;
    make_topic(f, "gf", 1);
    sl_record_t r[5];
    for (int i = 0; i < 5; i++) r[i] = (sl_record_t){.value = "v", .value_len = 1, .timestamp = -1, .partition = 0};
    ack_t a;
    produce(f, "gf", r, 5, &a);
    const char *topics[] = {"gf"};
    sl_join_config_t jc = {.topics = topics, .topic_count = 1};
    sl_assignment_t as;
    assert_int_equal(sl_group_join(f->e, "c", &jc, &as), 0);
    sl_group_fetch_t *gf;
    size_t n;
    assert_int_equal(sl_group_fetch(f->e, "c", as.member_id, 2, 1 << 20, &gf, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gf[0].res.count, 2);
    assert_int_equal(gf[0].res.recs[0].offset, 0);
    sl_group_fetch_free(gf, n);
    assert_int_equal(sl_group_fetch(f->e, "c", as.member_id, 2, 1 << 20, &gf, &n), 0);
    assert_int_equal(gf[0].res.recs[0].offset, 2); /* the position moved on */
    sl_group_fetch_free(gf, n);
    sl_commit_t cm = {"gf", 0, 4};
    int done = 0;
    assert_int_equal(sl_group_commit(f->e, "c", as.member_id, as.generation, &cm, 1, watch_fired, &done), 0);
    wait_for(f, &done);
    assert_int_equal(sl_group_leave(f->e, "c", as.member_id), 0);
    sl_assignment_free(&as);
    /* A new member starts from the commit. */
    assert_int_equal(sl_group_join(f->e, "c", &jc, &as), 0);
    assert_int_equal(sl_group_fetch(f->e, "c", as.member_id, 10, 1 << 20, &gf, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gf[0].res.count, 1);
    assert_int_equal(gf[0].res.recs[0].offset, 4);
    sl_group_fetch_free(gf, n);
    sl_assignment_free(&as);
}

static void fsync_never_acks_after_write(void **state) {
    fixture_t *f = *state;
    close_engine(f);
    f->cfg.fsync = SL_FSYNC_NEVER;
    open_engine(f);
    make_topic(f, "n", 1);
    sl_record_t r = {.value = "1", .value_len = 1, .timestamp = -1, .partition = -1};
    ack_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(sl_produce(f->e, "n", &r, 1, on_ack, &a), 0);
    sl_partition_stats_t st;
    sl_partition_stats(f->e, "n", 0, &st);
    assert_int_equal(st.latest_offset, 1); /* visible at once */
    wait_for(f, &a.done);
    assert_int_equal(a.status, 0);
}


/* Committed offsets live in a log that is compacted online: many commits later, the log is
 * small again, and a restart still finds the last offset of every partition. */
static void offsets_log_compacts_and_survives_restart(void **state) {
    fixture_t *f = *state;
    close_engine(f);
    f->cfg.offsets_compact_bytes = 16384;
    f->cfg.retention_check_ms = 10; /* the compaction runs on the retention timer */
    open_engine(f);
    make_topic(f, "oc", 3);
    const char *topics[] = {"oc"};
    sl_join_config_t jc = {.topics = topics, .topic_count = 1, .session_timeout_ms = 600000};
    sl_assignment_t as;
    assert_int_equal(sl_group_join(f->e, "cg", &jc, &as), 0);
    for (int i = 1; i <= 600; i++) {
        sl_commit_t cm[3] = {{"oc", 0, i}, {"oc", 1, 2 * i}, {"oc", 2, 3 * i}};
        int done = 0;
        assert_int_equal(sl_group_commit(f->e, "cg", as.member_id, as.generation, cm, 3, watch_fired, &done), 0);
        wait_for(f, &done);
        assert_int_equal(done, 1);
        if (i % 100 == 0) { /* let the retention timer run */
            for (int k = 0; k < 5; k++) {
                usleep(12000);
                uv_run(&f->loop, UV_RUN_NOWAIT);
            }
        }
    }
    for (int k = 0; k < 10; k++) {
        usleep(12000);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    sl_assignment_free(&as);
    /* 600 commits of 3 offsets are ~ 60 KiB of records: compaction must have started new
     * segments from snapshots and deleted the first one. */
    char path[160];
    snprintf(path, sizeof(path), "%s/groups/offsets/00000000000000000000.log", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    close_engine(f);
    open_engine(f);
    sl_group_info_t gi;
    assert_int_equal(sl_group_describe(f->e, "cg", &gi), 0);
    int seen = 0;
    for (size_t i = 0; i < gi.offset_count; i++) {
        const sl_offset_info_t *o = &gi.offsets[i];
        assert_string_equal(o->tp.topic, "oc");
        assert_int_equal(o->committed, 600 * (int64_t)(o->tp.partition + 1));
        seen++;
    }
    assert_int_equal(seen, 3);
    sl_group_info_free(&gi);
}


/* An I/O error in the sync job (injected: the tail segment's descriptor is swapped for a
 * read-only one, so the job's write fails with EBADF): the waiting request gets -SL_EIO, the
 * partition refuses further writes with -SL_EFAILED, other partitions and all reads go on, and
 * a restart recovers exactly the durable data. */
static void sync_error_fails_partition_not_engine(void **state) {
    fixture_t *f = *state;
    make_topic(f, "io", 2);
    sl_record_t ok = {.value = "{\"v\":1}", .value_len = 7, .partition = 0, .timestamp = -1};
    ack_t a;
    produce(f, "io", &ok, 1, &a);
    sl_topic_t *t = sl__topic_find(f->e, "io");
    assert_non_null(t);
    sl_segment_t *seg = t->parts[0]->log->segs[t->parts[0]->log->nsegs - 1];
    int ro = open(seg->path, O_RDONLY);
    assert_true(ro >= 0);
    int saved = dup(seg->fd);
    assert_int_equal(dup2(ro, seg->fd), seg->fd);
    close(ro);
    memset(&a, 0, sizeof(a));
    assert_int_equal(sl_produce(f->e, "io", &ok, 1, on_ack, &a), 0);
    wait_for(f, &a.done);
    assert_int_equal(a.status, -SL_EIO);
    assert_int_equal(sl_produce(f->e, "io", &ok, 1, on_ack, &a), -SL_EFAILED);
    /* The other partition still takes writes; reads of partition 0 still serve what was durable. */
    sl_record_t other = ok;
    other.partition = 1;
    produce(f, "io", &other, 1, &a);
    sl_fetch_result_t res;
    assert_int_equal(sl_fetch(f->e, "io", 0, SL_OFFSET_EARLIEST, 10, 1 << 20, &res), 0);
    assert_int_equal(res.count, 1);
    sl_fetch_result_free(&res);
    assert_int_equal(dup2(saved, seg->fd), seg->fd); /* restore, so close can write the index */
    close(saved);
    close_engine(f);
    open_engine(f);
    sl_partition_stats_t st;
    assert_int_equal(sl_partition_stats(f->e, "io", 0, &st), 0);
    assert_int_equal(st.latest_offset, 1);
    produce(f, "io", &ok, 1, &a); /* writable again after the restart */
    assert_int_equal(a.offs[0].offset, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(topic_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(produce_partitions_and_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(watch_wakes_on_durable_data, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_keeps_topics_data_and_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_rebalance_sticky_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(group_fetch_resumes_from_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(fsync_never_acks_after_write, setup, teardown),
        cmocka_unit_test_setup_teardown(offsets_log_compacts_and_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(sync_error_fails_partition_not_engine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
