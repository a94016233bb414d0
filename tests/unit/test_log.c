/* Unit tests for storage/log and storage/segment: the partition log on a real file system (a
 * mkdtemp directory). Appends and reads, segment rolls, the sparse index, close and reopen,
 * lost or bad index files, crash recovery (torn tail, flipped bits), the durable offset,
 * rollback, retention, a full disk (a small tmpfs, when we may mount one) and a failed fsync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "sluice.h"
#include "storage/batch.h"
#include "storage/log.h"
#include "storage/segment.h"

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct fixture {
    char root[64]; /* the mkdtemp directory */
    char dir[96];  /* the log directory inside it */
} fixture_t;

static int setup(void **state) {
    fixture_t *f = calloc(1, sizeof(*f));
    strcpy(f->root, "/tmp/sluice-test-log-XXXXXX");
    if (!mkdtemp(f->root)) return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/p0", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", f->root);
    free(f);
    return 0;
}

static sl_log_t *open_log(const char *dir, uint64_t segment_bytes, int unclean) {
    sl_log_config_t cfg = {.segment_bytes = segment_bytes, .segment_ms = 0};
    sl_log_t *log = NULL;
    int rc = sl_log_open(dir, &cfg, unclean, &log);
    if (rc) fail_msg("sl_log_open(%s): %s", dir, sl_strerror(rc));
    return log;
}

/* The value of record i of the batch with tag `tag`, padded with 'x' to at least vlen bytes. */
static size_t make_value(char *buf, size_t cap, int tag, int i, size_t vlen) {
    int n = snprintf(buf, cap, "v%d.%d:", tag, i);
    size_t len = (size_t)n;
    while (len < vlen && len < cap) buf[len++] = 'x';
    return len;
}

/* Appends one batch of nrec records (values tagged with `tag`), returns its base offset. */
static int append_batch_rc(sl_log_t *log, int tag, int nrec, size_t vlen, int64_t ts,
                           int64_t *base, sl_log_mark_t *mark_out) {
    sl_buf_t out = SL_BUF_INIT;
    sl_batch_builder_t b;
    static char val[1 << 20];
    assert_int_equal(sl_batch_begin(&b, &out), 0);
    for (int i = 0; i < nrec; i++) {
        size_t n = make_value(val, sizeof(val), tag, i, vlen);
        char key[16];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(sl_batch_add(&b, ts + i, key, kl, val, (int32_t)n), 0);
    }
    assert_int_equal(sl_batch_finish(&b), 0);
    sl_log_mark_t mark;
    int rc = sl_log_append(log, out.data, out.len, sl_now_ms(), &mark, base);
    if (mark_out) *mark_out = mark;
    sl_buf_free(&out);
    return rc;
}

static int64_t append_batch(sl_log_t *log, int tag, int nrec, size_t vlen, int64_t ts) {
    int64_t base = -1;
    int rc = append_batch_rc(log, tag, nrec, vlen, ts, &base, NULL);
    if (rc) fail_msg("append: %s", sl_strerror(rc));
    return base;
}

static void sync_log(sl_log_t *log) {
    sl_log_sync_t job;
    int rc = sl_log_sync_prepare(log, &job);
    assert_true(rc >= 0);
    if (rc == 1) {
        sl_log_sync_run(&job);
        assert_int_equal(sl_log_sync_finish(log, &job), 0);
    }
    assert_int_equal(log->durable_offset, log->next_offset);
}

typedef struct got {
    int64_t offset[4096];
    int tag[4096], idx[4096];
    size_t n;
} got_t;

/* Reads every record from `from` on, as a consumer would. 0 or the read's error. */
static int collect(sl_log_t *log, int64_t from, size_t max_bytes, got_t *g) {
    sl_buf_t out = SL_BUF_INIT;
    g->n = 0;
    int64_t next = from;
    for (;;) {
        int rc = sl_log_read(log, next, max_bytes, &out);
        if (rc) {
            sl_buf_free(&out);
            return rc;
        }
        if (out.len == 0) break;
        size_t pos = 0;
        int64_t before = next;
        while (pos < out.len) {
            sl_batch_header_t h;
            assert_int_equal(sl_batch_parse_header(out.data + pos, out.len - pos, &h), 0);
            assert_int_equal(sl_batch_check_crc(out.data + pos, &h), 0);
            sl_batch_iter_t it;
            sl_batch_record_t r;
            sl_batch_iter_init(&it, out.data + pos, &h);
            int irc;
            while ((irc = sl_batch_iter_next(&it, &r)) == 1) {
                if (r.offset < next) continue;
                assert_true(g->n < 4096);
                int tag = -1, i = -1;
                assert_int_equal(sscanf(r.value, "v%d.%d:", &tag, &i), 2);
                g->offset[g->n] = r.offset;
                g->tag[g->n] = tag;
                g->idx[g->n] = i;
                g->n++;
                next = r.offset + 1;
            }
            assert_int_equal(irc, 0);
            pos += sl_batch_size(&h);
        }
        assert_true(next > before); /* progress */
    }
    sl_buf_free(&out);
    return 0;
}

/* Offsets must run from `first` without gaps, `count` of them. */
static void expect_offsets(const got_t *g, int64_t first, size_t count) {
    assert_int_equal(g->n, count);
    for (size_t i = 0; i < g->n; i++) assert_int_equal(g->offset[i], first + (int64_t)i);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void flip_byte(const char *path, uint64_t pos, unsigned char mask) {
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)pos), 1);
    c ^= mask;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)pos), 1);
    close(fd);
}

static char *sibling(const char *log_path, const char *ext) {
    static char p[256];
    snprintf(p, sizeof(p), "%.*s%s", (int)(strlen(log_path) - 4), log_path, ext);
    return p;
}

static char *copy_str(const char *s) {
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

/* ---- append, read, roll, index ----------------------------------------------------------- */

static void log_append_and_read_back(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    assert_int_equal(log->next_offset, 0);
    for (int b = 0; b < 10; b++) assert_int_equal(append_batch(log, b, 3, 20, 1000 + b), b * 3);
    assert_int_equal(log->next_offset, 30);
    sync_log(log);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 30);
    for (size_t i = 0; i < 30; i++) {
        assert_int_equal(g->tag[i], (int)i / 3);
        assert_int_equal(g->idx[i], (int)i % 3);
    }
    /* From the middle, and at the end. */
    assert_int_equal(collect(log, 17, 1 << 20, g), 0);
    expect_offsets(g, 17, 13);
    assert_int_equal(collect(log, 30, 1 << 20, g), 0);
    assert_int_equal(g->n, 0);
    assert_int_equal(collect(log, 1000, 1 << 20, g), 0);
    assert_int_equal(g->n, 0);
    free(g);
    sl_log_close(log);
}

static void log_segments_roll_and_reads_cross_them(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1024, 0);
    for (int b = 0; b < 60; b++) append_batch(log, b, 2, 100, 1000 + b);
    sync_log(log);
    assert_true(log->nsegs >= 10);
    /* Each segment file holds whole batches and stays under segment_bytes (one batch fits). */
    int files = 0;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".log")) files++;
    closedir(d);
    assert_int_equal(files, (int)log->nsegs);
    for (size_t i = 0; i < log->nsegs; i++) {
        assert_true(log->segs[i]->size <= 1024);
        if (i > 0) assert_int_equal(log->segs[i]->base_offset, log->segs[i - 1]->next_offset);
    }
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 120);
    /* Small reads, one batch at a time, walk over every boundary. */
    assert_int_equal(collect(log, 0, 1, g), 0);
    expect_offsets(g, 0, 120);
    /* From a segment's first offset, and from just before it. */
    int64_t b3 = log->segs[3]->base_offset;
    assert_int_equal(collect(log, b3, 1 << 20, g), 0);
    expect_offsets(g, b3, (size_t)(120 - b3));
    assert_int_equal(collect(log, b3 - 1, 300, g), 0);
    expect_offsets(g, b3 - 1, (size_t)(120 - b3 + 1));
    free(g);
    sl_log_close(log);
}

static void log_read_from_middle_of_batch_returns_that_batch(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 2048, 0);
    for (int b = 0; b < 30; b++) append_batch(log, b, 4, 60, 1000);
    sync_log(log);
    assert_true(log->nsegs > 2);
    sl_buf_t out = SL_BUF_INIT;
    for (int64_t off = 0; off < 120; off++) {
        assert_int_equal(sl_log_read(log, off, 1, &out), 0);
        assert_true(out.len > 0);
        sl_batch_header_t h;
        assert_int_equal(sl_batch_parse_header(out.data, out.len, &h), 0);
        assert_int_equal(h.base_offset, off - off % 4);
        assert_int_equal(sl_batch_size(&h), out.len); /* exactly one batch with max_bytes 1 */
    }
    sl_buf_free(&out);
    sl_log_close(log);
}

static void log_index_lookup_with_many_small_batches(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 64 << 20, 0);
    for (int b = 0; b < 600; b++) append_batch(log, b, 1, 40, 1000 + b);
    sync_log(log);
    assert_int_equal(log->nsegs, 1);
    sl_segment_t *s = log->segs[0];
    assert_true(s->size > 8 * SL_INDEX_INTERVAL_BYTES);
    assert_true(s->idx_n >= 8);
    /* Index points are ascending, start at the first batch, and name real batch starts. */
    assert_int_equal(s->idx[0].rel, 0);
    assert_int_equal(s->idx[0].pos, 0);
    uint64_t batch_size = s->size / 600;
    for (size_t i = 1; i < s->idx_n; i++) {
        assert_true(s->idx[i].rel > s->idx[i - 1].rel);
        assert_true(s->idx[i].pos - s->idx[i - 1].pos >= SL_INDEX_INTERVAL_BYTES);
        assert_int_equal(s->idx[i].pos, s->idx[i].rel * batch_size); /* all batches same size */
    }
    /* lookup: the last point at or before the offset. */
    for (int64_t off = 0; off < 600; off++) {
        uint64_t pos = sl_segment_lookup(s, off);
        assert_true(pos <= (uint64_t)off * batch_size);
        assert_true((uint64_t)off * batch_size - pos < SL_INDEX_INTERVAL_BYTES + batch_size);
    }
    sl_buf_t out = SL_BUF_INIT;
    for (int64_t off = 0; off < 600; off += 7) {
        assert_int_equal(sl_log_read(log, off, 1, &out), 0);
        sl_batch_header_t h;
        assert_int_equal(sl_batch_parse_header(out.data, out.len, &h), 0);
        assert_int_equal(h.base_offset, off);
    }
    sl_buf_free(&out);
    sl_log_close(log);
}

static void log_reads_batches_larger_than_the_read_window(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 64 << 20, 0);
    append_batch(log, 0, 1, 10, 1000);
    append_batch(log, 1, 1, 600 << 10, 1000); /* > 256 KiB */
    for (int b = 2; b < 2000; b++) append_batch(log, b, 1, 300, 1000); /* ~650 KiB more */
    append_batch(log, 2000, 1, 700 << 10, 1000);
    append_batch(log, 2001, 1, 10, 1000);
    sync_log(log);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 64 << 20, g), 0);
    expect_offsets(g, 0, 2002);
    assert_int_equal(collect(log, 0, 1, g), 0);
    expect_offsets(g, 0, 2002);
    assert_int_equal(collect(log, 1, 1000, g), 0);
    expect_offsets(g, 1, 2001);
    assert_int_equal(collect(log, 1500, 100 << 10, g), 0);
    expect_offsets(g, 1500, 502);
    for (size_t i = 0; i < g->n; i++) assert_int_equal(g->tag[i], 1500 + (int)i);
    free(g);
    sl_log_close(log);
}

static void log_read_max_bytes_zero_still_returns_a_batch(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    append_batch(log, 0, 2, 10, 1000);
    sync_log(log);
    sl_buf_t out = SL_BUF_INIT;
    /* "up to about max_bytes (at least one batch)" */
    assert_int_equal(sl_log_read(log, 0, 0, &out), 0);
    assert_true(out.len > 0);
    sl_buf_free(&out);
    sl_log_close(log);
}

/* ---- close, reopen, index files ---------------------------------------------------------- */

static void log_reopen_keeps_everything(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 4096, 0);
    for (int b = 0; b < 80; b++) append_batch(log, b, 3, 50, 1000 + b);
    sync_log(log);
    int64_t next = log->next_offset;
    size_t nsegs = log->nsegs;
    uint64_t bytes = sl_log_bytes(log);
    sl_log_close(log);
    log = open_log(f->dir, 4096, 0);
    assert_int_equal(log->next_offset, next);
    assert_int_equal(log->durable_offset, next);
    assert_int_equal(log->nsegs, nsegs);
    assert_int_equal(sl_log_bytes(log), bytes);
    assert_int_equal(log->truncated_bytes, 0);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 240);
    /* Appends continue where they stopped. */
    assert_int_equal(append_batch(log, 80, 3, 50, 2000), next);
    sync_log(log);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 243);
    assert_int_equal(g->tag[242], 80);
    sl_log_close(log);
    /* And once more, unclean this time. */
    log = open_log(f->dir, 4096, 1);
    assert_int_equal(log->next_offset, 243);
    assert_int_equal(log->truncated_bytes, 0);
    sl_log_close(log);
    free(g);
}

static void log_reopen_empty(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 4096, 0);
    sl_log_close(log);
    log = open_log(f->dir, 4096, 1);
    assert_int_equal(log->next_offset, 0);
    assert_int_equal(log->nsegs, 1);
    assert_int_equal(append_batch(log, 0, 1, 10, 1), 0);
    sl_log_close(log);
}

/* Appends 200 batches over a few segments of 16 KiB and closes; returns the path of the
 * first segment (malloc'ed). */
static char *fill_and_close(const char *dir) {
    sl_log_t *log = open_log(dir, 16384, 0);
    for (int b = 0; b < 200; b++) append_batch(log, b, 2, 60, 1000 + b);
    sync_log(log);
    assert_true(log->nsegs >= 3);
    assert_true(log->segs[0]->idx_n >= 3);
    char *p = copy_str(log->segs[0]->path);
    sl_log_close(log);
    return p;
}

static void check_all_400(const char *dir, int unclean) {
    sl_log_t *log = open_log(dir, 16384, unclean);
    assert_int_equal(log->next_offset, 400);
    assert_int_equal(log->truncated_bytes, 0);
    assert_true(log->segs[0]->idx_n >= 3); /* rebuilt */
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 400);
    for (int64_t off = 0; off < 400; off += 3) {
        assert_int_equal(collect(log, off, 1, g), 0);
        expect_offsets(g, off, (size_t)(400 - off));
        if (off > 30) off += 40;
    }
    free(g);
    sl_log_close(log);
}

static void log_reopen_with_index_deleted(void **state) {
    fixture_t *f = *state;
    char *seg0 = fill_and_close(f->dir);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int removed = 0;
    while ((de = readdir(d))) {
        if (strstr(de->d_name, ".index") || strstr(de->d_name, ".timeindex")) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
            assert_int_equal(unlink(p), 0);
            removed++;
        }
    }
    closedir(d);
    assert_true(removed >= 4);
    check_all_400(f->dir, 0);
    free(seg0);
}

static void log_reopen_with_only_offset_index_deleted(void **state) {
    fixture_t *f = *state;
    char *seg0 = fill_and_close(f->dir);
    /* The .index gone, the .timeindex kept. */
    assert_int_equal(unlink(sibling(seg0, ".index")), 0);
    check_all_400(f->dir, 0);
    free(seg0);
}

static void write_garbage(const char *path, size_t len, unsigned seed) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    srand(seed);
    for (size_t i = 0; i < len; i++) fputc(rand() & 0xff, fp);
    fclose(fp);
}

static void log_reopen_with_index_garbage(void **state) {
    fixture_t *f = *state;
    char *seg0 = fill_and_close(f->dir);
    /* Random bytes of plausible sizes. */
    write_garbage(sibling(seg0, ".index"), 8 * 5, 1);
    write_garbage(sibling(seg0, ".timeindex"), 12 * 5, 2);
    check_all_400(f->dir, 0);
    /* Sizes that do not match each other. */
    write_garbage(sibling(seg0, ".index"), 13, 3);
    write_garbage(sibling(seg0, ".timeindex"), 12, 4);
    check_all_400(f->dir, 0);
    /* Empty files. */
    write_garbage(sibling(seg0, ".index"), 0, 5);
    write_garbage(sibling(seg0, ".timeindex"), 0, 6);
    check_all_400(f->dir, 1);
    free(seg0);
}

static void log_reopen_with_index_plausible_but_wrong(void **state) {
    fixture_t *f = *state;
    char *seg0 = fill_and_close(f->dir);
    /* An index whose interior point names a position inside a batch, while its last point is
     * right (what a stray write or a partial page could leave): reads must not trust it blindly. */
    char *ip = copy_str(sibling(seg0, ".index"));
    uint64_t isz = file_size(ip);
    assert_true(isz >= 24);
    flip_byte(ip, 8 + 7, 0x04); /* entry 1, low byte of its position: moves it by 4 */
    check_all_400(f->dir, 0);
    free(ip);
    free(seg0);
}

static void log_reopen_with_stale_index(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 64 << 20, 0);
    for (int b = 0; b < 100; b++) append_batch(log, b, 1, 100, 1000);
    sync_log(log);
    char *seg0 = copy_str(log->segs[0]->path);
    sl_log_close(log);
    /* Keep the index of the first close; append more, close, put the old index back: the
     * state after a crash that lost the newer index (it is never fsynced). */
    char cmd[1200], stem[256];
    snprintf(stem, sizeof(stem), "%.*s", (int)strlen(seg0) - 4, seg0);
    snprintf(cmd, sizeof(cmd), "cp '%s.index' '%s.index.old' && cp '%s.timeindex' '%s.timeindex.old'",
             stem, stem, stem, stem);
    assert_int_equal(system(cmd), 0);
    log = open_log(f->dir, 64 << 20, 0);
    for (int b = 100; b < 250; b++) append_batch(log, b, 1, 100, 1000);
    sync_log(log);
    sl_log_close(log);
    snprintf(cmd, sizeof(cmd), "mv '%s.index.old' '%s.index' && mv '%s.timeindex.old' '%s.timeindex'",
             stem, stem, stem, stem);
    assert_int_equal(system(cmd), 0);
    log = open_log(f->dir, 64 << 20, 0);
    assert_int_equal(log->next_offset, 250);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 250);
    assert_int_equal(collect(log, 200, 1, g), 0);
    expect_offsets(g, 200, 50);
    /* New appends still get index points. */
    size_t idx_before = log->segs[0]->idx_n;
    for (int b = 250; b < 350; b++) append_batch(log, b, 1, 100, 1000);
    assert_true(log->segs[0]->idx_n > idx_before);
    free(g);
    free(seg0);
    sl_log_close(log);
}

/* ---- recovery ---------------------------------------------------------------------------- */

/* 10 batches of 3 records in one segment, closed. Returns the segment path; *last_pos and
 * *last_size describe the last batch. */
static char *ten_batches(const char *dir, uint64_t *last_pos, uint64_t *last_size) {
    sl_log_t *log = open_log(dir, 1 << 20, 0);
    for (int b = 0; b < 10; b++) {
        uint64_t before = sl_log_bytes(log);
        append_batch(log, b, 3, 40, 1000 + b);
        *last_pos = before;
        *last_size = sl_log_bytes(log) - before;
    }
    sync_log(log);
    char *p = copy_str(log->segs[log->nsegs - 1]->path);
    sl_log_close(log);
    assert_int_equal(file_size(p), *last_pos + *last_size);
    return p;
}

static void expect_27_then_appendable(sl_log_t *log) {
    assert_int_equal(log->next_offset, 27);
    assert_int_equal(log->durable_offset, 27);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 27);
    assert_int_equal(g->tag[26], 8);
    assert_int_equal(append_batch(log, 99, 2, 10, 5000), 27);
    sync_log(log);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 29);
    assert_int_equal(g->tag[27], 99);
    free(g);
}

static void log_recovery_cuts_torn_tail(void **state) {
    fixture_t *f = *state;
    uint64_t pos, size;
    char *seg = ten_batches(f->dir, &pos, &size);
    assert_int_equal(truncate(seg, (off_t)(pos + size - 7)), 0);
    sl_log_t *log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->truncated_bytes, size - 7);
    assert_int_equal(file_size(seg), pos);
    expect_27_then_appendable(log);
    sl_log_close(log);
    free(seg);
}

static void log_recovery_cuts_torn_header(void **state) {
    fixture_t *f = *state;
    uint64_t pos, size;
    char *seg = ten_batches(f->dir, &pos, &size);
    assert_int_equal(truncate(seg, (off_t)(pos + 30)), 0); /* half a header */
    sl_log_t *log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->truncated_bytes, 30);
    expect_27_then_appendable(log);
    sl_log_close(log);
    free(seg);
}

static void log_recovery_torn_tail_on_clean_open_too(void **state) {
    fixture_t *f = *state;
    uint64_t pos, size;
    char *seg = ten_batches(f->dir, &pos, &size);
    assert_int_equal(truncate(seg, (off_t)(pos + size - 1)), 0);
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    assert_int_equal(log->truncated_bytes, size - 1);
    expect_27_then_appendable(log);
    sl_log_close(log);
    free(seg);
}

static void log_recovery_cuts_zero_filled_tail(void **state) {
    fixture_t *f = *state;
    uint64_t pos, size;
    char *seg = ten_batches(f->dir, &pos, &size);
    /* Zeros after the data: written ahead on purpose (small syncs), or a crash after the file
     * grew but before the data reached it. Either way they are cut, without being reported as
     * damage, and the file ends where the data does. */
    assert_int_equal(truncate(seg, (off_t)(pos + size + 4096)), 0);
    sl_log_t *log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->truncated_bytes, 0);
    assert_int_equal(log->next_offset, 30);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal((uint64_t)st.st_size, pos + size);
    sl_log_close(log);
    free(seg);
}

static void log_recovery_cuts_flipped_bit_in_last_batch(void **state) {
    fixture_t *f = *state;
    uint64_t pos, size;
    char *seg = ten_batches(f->dir, &pos, &size);
    flip_byte(seg, pos + size - 5, 0x01); /* inside the last record's value */
    sl_log_t *log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->truncated_bytes, size);
    expect_27_then_appendable(log);
    sl_log_close(log);
    free(seg);
}

static void log_corrupt_batch_in_older_segment_not_served(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 2048, 0);
    for (int b = 0; b < 40; b++) append_batch(log, b, 2, 100, 1000 + b);
    sync_log(log);
    assert_true(log->nsegs >= 4);
    char *seg0 = copy_str(log->segs[0]->path);
    int64_t seg1_base = log->segs[1]->base_offset;
    sl_log_close(log);
    /* Batch 1 of the first segment holds offsets 2 and 3; flip a value byte in it. */
    sl_batch_header_t h;
    char hdr[SL_BATCH_HEADER_SIZE];
    int fd = open(seg0, O_RDONLY);
    assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    close(fd);
    assert_int_equal(sl_batch_parse_header(hdr, sizeof(hdr), &h), -SL_ERANGE); /* header only */
    uint64_t b1 = sl_batch_size(&h);
    flip_byte(seg0, b1 + 100, 0x20);

    log = open_log(f->dir, 2048, 1);
    assert_int_equal(log->truncated_bytes, 0); /* only the last segment is checked at open */
    assert_int_equal(log->next_offset, 80);
    sl_buf_t out = SL_BUF_INIT;
    assert_int_equal(sl_log_read(log, 2, 1 << 20, &out), -SL_ECORRUPT);
    assert_int_equal(sl_log_read(log, 3, 1, &out), -SL_ECORRUPT);
    /* A read from 0 may hand out batch 0, but never the corrupt one. */
    int rc = sl_log_read(log, 0, 1 << 20, &out);
    assert_true(rc == -SL_ECORRUPT || (rc == 0 && out.len == b1));
    assert_int_equal(sl_log_read(log, 0, 1, &out), 0);
    assert_int_equal(out.len, b1);
    /* Later data is still served. */
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 4, 1 << 20, g), 0);
    expect_offsets(g, 4, 76);
    assert_int_equal(collect(log, seg1_base, 1, g), 0);
    expect_offsets(g, seg1_base, (size_t)(80 - seg1_base));
    free(g);
    sl_buf_free(&out);
    sl_log_close(log);
    free(seg0);
}

/* ---- durability, rollback ---------------------------------------------------------------- */

static void log_durable_offset_limits_reads(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    sl_buf_t out = SL_BUF_INIT;
    append_batch(log, 0, 2, 10, 1000);
    assert_int_equal(log->next_offset, 2);
    assert_int_equal(log->durable_offset, 0);
    assert_int_equal(sl_log_read(log, 0, 1 << 20, &out), 0);
    assert_int_equal(out.len, 0);

    sl_log_sync_t job;
    assert_int_equal(sl_log_sync_prepare(log, &job), 1);
    assert_int_equal(job.target, 2);
    /* While the job runs, more is appended; none of it is covered by this job. */
    append_batch(log, 1, 2, 10, 1000);
    sl_log_sync_t job2;
    assert_int_equal(sl_log_sync_prepare(log, &job2), 0); /* one job at a time */
    sl_log_sync_run(&job);
    assert_int_equal(sl_log_read(log, 0, 1 << 20, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(sl_log_sync_finish(log, &job), 0);
    assert_int_equal(log->durable_offset, 2);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 2);
    sync_log(log);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 4);
    /* Nothing dirty: prepare says so and publishes. */
    assert_int_equal(sl_log_sync_prepare(log, &job), 0);
    free(g);
    sl_buf_free(&out);
    sl_log_close(log);
}

static void log_durable_across_roll(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 512, 0);
    for (int b = 0; b < 12; b++) append_batch(log, b, 1, 200, 1000);
    assert_true(log->nsegs >= 4);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    assert_int_equal(g->n, 0);
    sync_log(log);
    for (size_t i = 0; i < log->nsegs; i++) assert_int_equal(log->segs[i]->synced, log->segs[i]->size);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 12);
    free(g);
    sl_log_close(log);
}

static void log_rollback_undoes_append(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    append_batch(log, 0, 2, 10, 1000);
    sync_log(log);
    uint64_t bytes = sl_log_bytes(log);
    int64_t base;
    sl_log_mark_t mark;
    assert_int_equal(append_batch_rc(log, 1, 3, 10, 1000, &base, &mark), 0);
    assert_int_equal(base, 2);
    assert_int_equal(log->next_offset, 5);
    assert_int_equal(sl_log_rollback(log, &mark), 0);
    assert_int_equal(log->next_offset, 2);
    assert_int_equal(sl_log_bytes(log), bytes);
    assert_int_equal(file_size(log->segs[0]->path), bytes);
    assert_int_equal(append_batch(log, 2, 1, 10, 1000), 2);
    sync_log(log);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 3);
    assert_int_equal(g->tag[2], 2);
    sl_log_close(log);
    log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->next_offset, 3);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    assert_int_equal(g->tag[2], 2);
    free(g);
    sl_log_close(log);
}

static void log_rollback_of_an_append_that_rolled(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 300, 0);
    append_batch(log, 0, 1, 200, 1000);
    int64_t base;
    sl_log_mark_t mark;
    assert_int_equal(append_batch_rc(log, 1, 1, 200, 1000, &base, &mark), 0);
    assert_int_equal(log->nsegs, 2);
    assert_int_equal(sl_log_rollback(log, &mark), 0);
    assert_int_equal(log->next_offset, 1);
    assert_int_equal(append_batch(log, 2, 1, 200, 1000), 1);
    assert_int_equal(append_batch(log, 3, 1, 200, 1000), 2);
    sync_log(log);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 3);
    assert_int_equal(g->tag[1], 2);
    assert_int_equal(g->tag[2], 3);
    sl_log_close(log);
    log = open_log(f->dir, 300, 1);
    assert_int_equal(log->next_offset, 3);
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 3);
    free(g);
    sl_log_close(log);
}

/* ---- retention --------------------------------------------------------------------------- */

static int count_log_files(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strlen(de->d_name) == 24 && strstr(de->d_name, ".log")) n++;
    closedir(d);
    return n;
}

static void log_retention_by_bytes(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1024, 0);
    for (int b = 0; b < 60; b++) append_batch(log, b, 2, 100, 1000);
    sync_log(log);
    size_t nsegs = log->nsegs;
    uint64_t total = sl_log_bytes(log);
    int64_t limit = (int64_t)total / 2;
    int del = sl_log_retain(log, sl_now_ms(), -1, limit);
    assert_true(del > 0);
    assert_int_equal(log->nsegs, nsegs - (size_t)del);
    assert_int_equal(count_log_files(f->dir), (int)log->nsegs);
    /* Whole segments only: what is left still holds at least the limit, and dropping one more
     * would go under it. */
    assert_true(sl_log_bytes(log) >= (uint64_t)limit);
    assert_true(sl_log_bytes(log) - log->segs[0]->size < (uint64_t)limit);
    int64_t start = sl_log_start_offset(log);
    assert_int_equal(start, log->segs[0]->base_offset);
    assert_true(start > 0);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0); /* from before the start: from the start */
    expect_offsets(g, start, (size_t)(120 - start));
    /* retention_bytes 0 keeps the active segment only. */
    del = sl_log_retain(log, sl_now_ms(), -1, 0);
    assert_int_equal(log->nsegs, 1);
    assert_int_equal(log->next_offset, 120);
    assert_int_equal(count_log_files(f->dir), 1);
    /* Appends go on; reopen sees the same start. */
    assert_int_equal(append_batch(log, 60, 1, 10, 1000), 120);
    sync_log(log);
    int64_t start2 = sl_log_start_offset(log);
    sl_log_close(log);
    log = open_log(f->dir, 1024, 1);
    assert_int_equal(sl_log_start_offset(log), start2);
    assert_int_equal(log->next_offset, 121);
    free(g);
    sl_log_close(log);
}

static void log_retention_keeps_unsynced_and_active(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1024, 0);
    for (int b = 0; b < 20; b++) append_batch(log, b, 2, 100, 1000);
    size_t nsegs = log->nsegs;
    /* Not yet synced: nothing may go (a reader could not have seen it, and a crash must not
     * leave a hole). */
    assert_int_equal(sl_log_retain(log, INT64_MAX / 2, 0, 0), 0);
    assert_int_equal(log->nsegs, nsegs);
    sync_log(log);
    assert_true(sl_log_retain(log, INT64_MAX / 2, 0, 0) > 0);
    assert_int_equal(log->nsegs, 1);
    /* The active segment is never deleted, however old. */
    assert_int_equal(sl_log_retain(log, INT64_MAX / 2, 0, 0), 0);
    assert_int_equal(log->nsegs, 1);
    sl_log_close(log);
}

static void log_retention_by_time(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1024, 0);
    const int64_t old_ts = 1000000, new_ts = 5000000;
    for (int b = 0; b < 30; b++) append_batch(log, b, 2, 100, old_ts + b);
    for (int b = 30; b < 60; b++) append_batch(log, b, 2, 100, new_ts + b);
    sync_log(log);
    size_t nsegs = log->nsegs;
    /* Retain 1 s before now = new_ts: every segment whose newest record is older goes. */
    int64_t now = new_ts, retention = 1000;
    int del = sl_log_retain(log, now, retention, -1);
    assert_true(del > 0);
    assert_true((size_t)del < nsegs);
    for (size_t i = 0; i < log->nsegs; i++)
        if (i + 1 < log->nsegs) assert_true(log->segs[i]->max_ts >= now - retention);
    /* Every old-only segment is gone: the first remaining one holds a new record. */
    assert_true(log->segs[0]->max_ts >= new_ts);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    int64_t start = sl_log_start_offset(log);
    expect_offsets(g, start, (size_t)(120 - start));
    assert_true(start <= 60); /* no new record was dropped */
    /* A far later now: all but the active segment. */
    sl_log_retain(log, new_ts + 1000000, retention, -1);
    assert_int_equal(log->nsegs, 1);
    free(g);
    sl_log_close(log);
}

/* ---- failures ---------------------------------------------------------------------------- */

static void log_disk_full_keeps_log_whole(void **state) {
    fixture_t *f = *state;
    char mnt[128], dir[160], cmd[300];
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->root);
    snprintf(dir, sizeof(dir), "%s/p0", mnt);
    assert_int_equal(mkdir(mnt, 0755), 0);
    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=2m tmpfs '%s' 2>/dev/null", mnt);
    if (geteuid() != 0 || system(cmd) != 0) {
        print_message("skipping: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)\n");
        skip();
    }
    sl_log_t *log = open_log(dir, 64 << 20, 0);
    int rc = 0, ok = 0;
    int64_t base;
    while (ok < 10000) {
        uint64_t before = sl_log_bytes(log);
        rc = append_batch_rc(log, ok, 4, 1000, 1000, &base, NULL);
        if (rc) {
            assert_int_equal(sl_log_bytes(log), before);
            break;
        }
        ok++;
    }
    assert_int_equal(rc, -SL_ENOSPC);
    assert_true(ok > 100); /* most of 2 MiB was used */
    assert_int_equal(log->next_offset, ok * 4);
    /* Nothing of the refused batch is in the file. */
    assert_int_equal(file_size(log->segs[0]->path), sl_log_bytes(log));
    sync_log(log);
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, (ok - 50) * 4, 1 << 20, g), 0);
    expect_offsets(g, (ok - 50) * 4, 200);
    /* Smaller batches may still fit in what is left; either way the log stays whole. */
    for (int i = 0; i < 100; i++) {
        rc = append_batch_rc(log, 100000 + i, 1, 10, 1000, &base, NULL);
        if (rc) {
            assert_int_equal(rc, -SL_ENOSPC);
            break;
        }
        ok++;
    }
    assert_int_equal(file_size(log->segs[0]->path), sl_log_bytes(log));
    int64_t next = log->next_offset;
    sync_log(log);
    sl_log_close(log);
    log = open_log(dir, 64 << 20, 1);
    assert_int_equal(log->truncated_bytes, 0);
    assert_int_equal(log->next_offset, next);
    assert_int_equal(collect(log, next - 10, 1 << 20, g), 0);
    expect_offsets(g, next - 10, 10);
    sl_log_close(log);
    free(g);
    snprintf(cmd, sizeof(cmd), "umount '%s'", mnt);
    assert_int_equal(system(cmd), 0);
}

static void log_fsync_error_fails_the_log(void **state) {
    fixture_t *f = *state;
    sl_log_t *log = open_log(f->dir, 1 << 20, 0);
    append_batch(log, 0, 2, 10, 1000);
    sync_log(log);
    append_batch(log, 1, 2, 10, 1000);
    sl_log_sync_t job;
    assert_int_equal(sl_log_sync_prepare(log, &job), 1);
    assert_int_equal(job.n, 1);
    job.fds[0] = -1; /* fdatasync(-1): EBADF, standing in for EIO from the disk */
    sl_log_sync_run(&job);
    assert_int_equal(job.err, EBADF);
    assert_int_equal(sl_log_sync_finish(log, &job), -SL_EIO);
    assert_int_equal(log->failed, 1);
    assert_int_equal(log->durable_offset, 2); /* nothing more became visible */
    int64_t base;
    assert_int_equal(append_batch_rc(log, 2, 1, 10, 1000, &base, NULL), -SL_EFAILED);
    assert_int_equal(log->next_offset, 4);
    assert_int_equal(sl_log_sync_prepare(log, &job), 0);
    /* What was durable is still served. */
    got_t *g = malloc(sizeof(*g));
    assert_int_equal(collect(log, 0, 1 << 20, g), 0);
    expect_offsets(g, 0, 2);
    sl_log_close(log);
    /* A restart recovers: the second batch was written, and is checked like any tail. */
    log = open_log(f->dir, 1 << 20, 1);
    assert_int_equal(log->failed, 0);
    assert_int_equal(log->next_offset, 4);
    assert_int_equal(append_batch(log, 3, 1, 10, 1000), 4);
    free(g);
    sl_log_close(log);
}

static void log_segment_ms_rolls(void **state) {
    fixture_t *f = *state;
    sl_log_config_t cfg = {.segment_bytes = 1 << 20, .segment_ms = 60000};
    sl_log_t *log;
    assert_int_equal(sl_log_open(f->dir, &cfg, 0, &log), 0);
    append_batch(log, 0, 1, 10, 1000);
    append_batch(log, 1, 1, 10, 1000);
    assert_int_equal(log->nsegs, 1);
    /* An append an hour later rolls. */
    sl_buf_t out = SL_BUF_INIT;
    sl_batch_builder_t b;
    assert_int_equal(sl_batch_begin(&b, &out), 0);
    assert_int_equal(sl_batch_add(&b, 1000, NULL, 0, "v2.0:", 5), 0);
    assert_int_equal(sl_batch_finish(&b), 0);
    sl_log_mark_t mark;
    int64_t base;
    assert_int_equal(sl_log_append(log, out.data, out.len, sl_now_ms() + 3600000, &mark, &base), 0);
    assert_int_equal(base, 2);
    assert_int_equal(log->nsegs, 2);
    assert_int_equal(log->segs[1]->base_offset, 2);
    sl_buf_free(&out);
    sl_log_close(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(log_append_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(log_segments_roll_and_reads_cross_them, setup, teardown),
        cmocka_unit_test_setup_teardown(log_read_from_middle_of_batch_returns_that_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(log_index_lookup_with_many_small_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reads_batches_larger_than_the_read_window, setup, teardown),
        cmocka_unit_test_setup_teardown(log_read_max_bytes_zero_still_returns_a_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_with_index_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_with_only_offset_index_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_with_index_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_with_index_plausible_but_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(log_reopen_with_stale_index, setup, teardown),
        cmocka_unit_test_setup_teardown(log_recovery_cuts_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(log_recovery_cuts_torn_header, setup, teardown),
        cmocka_unit_test_setup_teardown(log_recovery_torn_tail_on_clean_open_too, setup, teardown),
        cmocka_unit_test_setup_teardown(log_recovery_cuts_zero_filled_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(log_recovery_cuts_flipped_bit_in_last_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(log_corrupt_batch_in_older_segment_not_served, setup, teardown),
        cmocka_unit_test_setup_teardown(log_durable_offset_limits_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(log_durable_across_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(log_rollback_undoes_append, setup, teardown),
        cmocka_unit_test_setup_teardown(log_rollback_of_an_append_that_rolled, setup, teardown),
        cmocka_unit_test_setup_teardown(log_retention_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(log_retention_keeps_unsynced_and_active, setup, teardown),
        cmocka_unit_test_setup_teardown(log_retention_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(log_disk_full_keeps_log_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(log_fsync_error_fails_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(log_segment_ms_rolls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
