/* The SQL service (sluice.h, "continuous SQL"): the catalog of streams, views and sinks and its
 * file, statement execution with JSON answers, the driver that feeds each continuous query from
 * the partition logs on the libuv thread pool, and exactly-once checkpoints.
 *
 * Exactly-once. A query's checkpoint holds, written atomically (tmp file, fdatasync, rename,
 * directory fsync): the next offset of every source partition, the operator state, the view's
 * rows, and for a sink the output records produced since the previous checkpoint together with
 * the sink partitions' end offsets before them. Output records are appended to the sink topic
 * only after the checkpoint that holds them is durable, and the next checkpoint waits for that
 * append to be acknowledged. After a crash the query restarts from its checkpoint; the records
 * the checkpoint holds that are not in the sink yet (end offset - saved end offset tells how
 * many of each partition landed) are appended then. So the sink receives each output record
 * once, and the view equals what an uninterrupted run computes. Like Flink's exactly-once Kafka
 * sink, sink records become visible at checkpoints (checkpoint_interval, default 1 s).
 *
 *   checkpoint file:  "SLCK" u32 version | u64 body length | body | u32 crc32c(body)
 *   body:             u64 query-state length, query state (exec/query.c)
 *                     u64 view-state length, view rows (exec/view.c)
 *                     u32 sink partitions, i64 end offset each, u64 seq,
 *                     u64 records, { u32 partition, u32 length, bytes } per record       */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "exec/expr.h"
#include "exec/query.h"
#include "exec/view.h"
#include "sluice.h"
#include "sql/ast.h"
#include "sql/plan.h"

#define CKPT_MAGIC 0x4b434c53u /* "SLCK" */
#define CKPT_VERSION 1

enum { OBJ_STREAM = 0, OBJ_VIEW = 1, OBJ_SINK = 2 };

typedef struct stream_ent {
    char *name, *text;
    sl_arena_t arena;
    sl_stream_def_t *def;
} stream_ent_t;

typedef struct job job_t;
/* Fetch results of one batch: res[i] came from partition part[i]. */
typedef struct fbatch {
    sl_fetch_result_t *res;
    uint32_t *part;
    size_t n, cap;
} fbatch_t;
typedef struct wslot {
    job_t *j;
    uint32_t p;
} wslot_t;

struct sl_sql {
    sl_engine_t *e;
    uv_loop_t *loop;
    sl_sql_config_t cfg;
    char *dir;                     /* <data>/sql */
    stream_ent_t **streams;
    size_t nstreams;
    job_t **jobs;
    size_t njobs;
    sl_catalog_t cat;
    int closing, restoring;
    size_t live_jobs;              /* allocated jobs, including dropped ones still finishing */
    sl_buf_t unrestored;           /* catalog entries that failed to restore, kept as they were */
    void (*close_cb)(void *);
    void *close_arg;
};

struct job {
    sl_sql_t *s;
    int kind;                      /* OBJ_VIEW or OBJ_SINK */
    char *name, *text, *topic, *sink_topic;
    const stream_ent_t *stream;
    sl_query_t *q;
    sl_view_t *view;
    uv_mutex_t mu;                 /* held by the worker while it runs a batch */
    uint32_t nparts, sink_parts;
    int append_only;
    const sl_pcol_t *cols;
    int ncols;
    /* driver */
    uv_work_t work;
    uv_timer_t timer;
    int busy, stopped, dropping, timer_closed;
    sl_watch_t **watches;
    struct wslot *wslots;          /* (job, partition) for each watch's callback */
    fbatch_t cur, next;            /* the batch being processed; the one fetched ahead meanwhile */
    int64_t *fpos;                 /* next offset to fetch per partition (ahead of the query's) */
    uint32_t rr;                   /* the partition to start the next fetch at */
    /* checkpoints */
    uint64_t last_ckpt_ms, ckpts, ckpt_ns_last, ckpt_events, last_work_ms;
    int time_driven;               /* PROCTIME windows or idle partitions: batches on a clock */
    int ckpt_due, ckpt_written, ckpt_failed;
    char ckpt_err[256];
    /* sink */
    sl_buf_t pending, flushing;    /* records { u32 partition, u32 length, bytes } */
    size_t npending, nflushing;
    int flush_inflight;
    int64_t *base;                 /* sink end offsets before `flushing` */
    uint64_t seq;
    char *error;
    uint64_t sink_errors;
    uint64_t memory_limit;
    char limit_err[256];           /* set by a batch that crossed memory_limit */
    sl_qscan_t **scanners;         /* per scan thread (none: the batch is scanned serially) */
    int nscan;
};

/* One thread's share of a batch: events [from, to) in batch order. */
typedef struct scan_part {
    job_t *j;
    sl_qscan_t *sc;
    size_t from, to;
    int64_t now;
    pthread_t tid;
} scan_part_t;

static void *scan_thread(void *arg) {
    scan_part_t *sp = arg;
    job_t *j = sp->j;
    sl_qscan_begin(sp->sc, sp->now);
    size_t base = 0;
    for (size_t i = 0; i < j->cur.n; i++) {
        sl_fetch_result_t *r = &j->cur.res[i];
        size_t lo = sp->from > base ? sp->from - base : 0, hi = sp->to - base;
        if (sp->to <= base) break;
        if (hi > r->count) hi = r->count;
        for (size_t k = lo; k < hi; k++) {
            const sl_fetched_t *f = &r->recs[k];
            if (sl_qscan_push_json(sp->sc, j->cur.part[i], f->offset, f->value, f->value_len)) return NULL;
        }
        base += r->count;
    }
    return NULL;
}

/* Scans the batch on nscan threads (this one included), then applies the scanners' output in
 * batch order. 0, or -1 when a thread could not start (the caller scans serially then). */
static int scan_parallel(job_t *j, size_t total, int64_t now) {
    scan_part_t parts[16];
    int n = j->nscan < 16 ? j->nscan : 16;
    for (int t = 0; t < n; t++) {
        parts[t].j = j;
        parts[t].sc = j->scanners[t];
        parts[t].from = total * (size_t)t / (size_t)n;
        parts[t].to = total * (size_t)(t + 1) / (size_t)n;
        parts[t].now = now;
    }
    int started = 1;
    for (; started < n; started++)
        if (pthread_create(&parts[started].tid, NULL, scan_thread, &parts[started])) break;
    scan_thread(&parts[0]);
    for (int t = 1; t < started; t++) pthread_join(parts[t].tid, NULL);
    if (started < n) {
        /* the missing shares are scanned here, in order, before anything is applied */
        for (int t = started; t < n; t++) scan_thread(&parts[t]);
    }
    for (int t = 0; t < n; t++)
        if (sl_query_consume(j->q, j->scanners[t])) break;
    return 0;
}

/* ---- small helpers ------------------------------------------------------------------------- */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static stream_ent_t *find_stream(sl_sql_t *s, const char *name) {
    for (size_t i = 0; i < s->nstreams; i++)
        if (!strcasecmp(s->streams[i]->name, name)) return s->streams[i];
    return NULL;
}

static job_t *find_job(sl_sql_t *s, const char *name, int kind) {
    for (size_t i = 0; i < s->njobs; i++)
        if (!strcasecmp(s->jobs[i]->name, name) && (kind < 0 || s->jobs[i]->kind == kind)) return s->jobs[i];
    return NULL;
}

static const sl_stream_def_t *cat_stream(void *ud, const char *name) {
    stream_ent_t *st = find_stream(ud, name);
    return st ? st->def : NULL;
}

static const sl_view_def_t *cat_view(void *ud, const char *name) {
    job_t *j = find_job(ud, name, OBJ_VIEW);
    if (!j) return NULL;
    static __thread sl_view_def_t vd;
    vd.name = j->name;
    vd.cols = (sl_pcol_t *)j->cols;
    vd.ncols = j->ncols;
    return &vd;
}

static int write_file_durably(const char *dir, const char *name, const void *data, size_t len) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fdatasync(fd) || close(fd)) return -1;
    if (rename(tmp, path)) return -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

static int read_file(const char *path, char **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 1 : -1;
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return -1;
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

/* ---- catalog file -------------------------------------------------------------------------- */

/* <data>/sql/catalog: per object "<kind> <name> <length>\n<statement text>\n", in creation
 * order, rewritten whole (atomically) on every change. */
static int save_catalog(sl_sql_t *s) {
    if (s->restoring) return 0;
    sl_buf_t b = SL_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < s->nstreams; i++)
        rc |= sl_buf_printf(&b, "stream %s %zu\n%s\n", s->streams[i]->name, strlen(s->streams[i]->text),
                            s->streams[i]->text);
    for (size_t i = 0; i < s->njobs; i++) {
        job_t *j = s->jobs[i];
        if (j->dropping) continue;
        rc |= sl_buf_printf(&b, "%s %s %zu\n%s\n", j->kind == OBJ_VIEW ? "view" : "sink", j->name,
                            strlen(j->text), j->text);
    }
    /* definitions that could not start (a missing topic, a corrupt checkpoint) are not lost */
    if (s->unrestored.len) rc |= sl_buf_append(&b, s->unrestored.data, s->unrestored.len);
    if (!rc) rc = write_file_durably(s->dir, "catalog", b.data ? b.data : "", b.len);
    sl_buf_free(&b);
    if (rc) sl_error("sql: cannot write %s/catalog: %s", s->dir, strerror(errno));
    return rc ? -1 : 0;
}

/* ---- results ------------------------------------------------------------------------------- */

typedef struct exec_out {
    sl_buf_t results;              /* the "results" array's elements, comma separated */
    int nresults;
    int status;                    /* 200 unless an error */
    sl_buf_t error;                /* the error object, when status != 200 */
} exec_out_t;

static void out_sep(exec_out_t *o) {
    if (o->nresults++) sl_buf_putc(&o->results, ',');
}

static void out_message(exec_out_t *o, const char *stmt, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void out_message(exec_out_t *o, const char *stmt, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    out_sep(o);
    sl_buf_printf(&o->results, "{\"statement\":\"%s\",\"message\":\"", stmt);
    sl_buf_json_escape(&o->results, msg, strlen(msg));
    sl_buf_lit(&o->results, "\"}");
}

static void out_error(exec_out_t *o, int status, const char *code, int stmt_index, const sl_pos_t *pos,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void out_error(exec_out_t *o, int status, const char *code, int stmt_index, const sl_pos_t *pos,
                      const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->status = status;
    o->error.len = 0;
    sl_buf_printf(&o->error, "{\"code\":\"%s\",\"message\":\"", code);
    sl_buf_json_escape(&o->error, msg, strlen(msg));
    sl_buf_putc(&o->error, '"');
    if (pos && pos->line) sl_buf_printf(&o->error, ",\"line\":%u,\"column\":%u", pos->line, pos->col);
    if (stmt_index > 0) sl_buf_printf(&o->error, ",\"statement\":%d", stmt_index);
    sl_buf_putc(&o->error, '}');
}

/* A result table: columns + rows (each row a JSON object already rendered). */
static void out_table_begin(exec_out_t *o, const char *stmt, const sl_pcol_t *cols, int n) {
    out_sep(o);
    sl_buf_printf(&o->results, "{\"statement\":\"%s\",\"columns\":[", stmt);
    for (int i = 0; i < n; i++) {
        sl_buf_printf(&o->results, "%s{\"name\":\"", i ? "," : "");
        sl_buf_json_escape(&o->results, cols[i].name, strlen(cols[i].name));
        sl_buf_printf(&o->results, "\",\"type\":\"%s\"}", sl_type_name(cols[i].type));
    }
    sl_buf_lit(&o->results, "],\"rows\":[");
}

/* ---- the driver ---------------------------------------------------------------------------- */

static void fbatch_clear(fbatch_t *b) {
    for (size_t i = 0; i < b->n; i++) sl_fetch_result_free(&b->res[i]);
    b->n = 0;
}

static void pump(job_t *j);
static void job_free(job_t *j);
static void close_step(sl_sql_t *s);

static void job_fail(job_t *j, const char *msg) {
    if (j->error) return;
    j->error = strdup(msg);
    sl_error("sql: query %s stopped: %s", j->name, msg);
}

/* Query output, on the worker thread under j->mu. */
static void on_emit(void *ud, int change, const char *key, size_t klen, const sl_value_t *row) {
    job_t *j = ud;
    if (j->view) {
        if (sl_view_apply(j->view, change, key, klen, row)) j->ckpt_failed = 1;
        return;
    }
    static const char *ops[] = {"", "+I", "+U", "-D"};
    sl_buf_t *b = &j->pending;
    size_t at = b->len;
    uint32_t part = (uint32_t)(j->seq++ % j->sink_parts), len = 0;
    if (sl_buf_append(b, &part, 4) || sl_buf_append(b, &len, 4) ||
        sl_row_json(b, j->cols, j->ncols, row)) {
        b->len = at;
        j->ckpt_failed = 1;
        return;
    }
    if (!j->append_only) {
        /* an updating query's records say what changed: Flink's RowKind, as "op" */
        b->len--;
        sl_buf_printf(b, ",\"op\":\"%s\"}", ops[change]);
    }
    len = (uint32_t)(b->len - at - 8);
    memcpy(b->data + at + 4, &len, 4);
    j->npending++;
}

static int build_checkpoint(job_t *j, sl_buf_t *body) {
    size_t at = body->len;
    uint64_t n = 0;
    if (sl_buf_append(body, &n, 8) || sl_query_save(j->q, body)) return -1;
    n = body->len - at - 8;
    memcpy(body->data + at, &n, 8);
    at = body->len;
    n = 0;
    if (sl_buf_append(body, &n, 8)) return -1;
    if (j->view && sl_view_save(j->view, body)) return -1;
    n = body->len - at - 8;
    memcpy(body->data + at, &n, 8);
    uint32_t sp = j->view ? 0 : j->sink_parts;
    if (sl_buf_append(body, &sp, 4)) return -1;
    for (uint32_t i = 0; i < sp; i++)
        if (sl_buf_append(body, &j->base[i], 8)) return -1;
    uint64_t cnt = j->nflushing;
    if (sl_buf_append(body, &j->seq, 8) || sl_buf_append(body, &cnt, 8) ||
        sl_buf_append(body, j->flushing.data, j->flushing.len))
        return -1;
    return 0;
}

static int write_checkpoint(job_t *j) {
    uint64_t t0 = sl_mono_ns();
    sl_buf_t b = SL_BUF_INIT;
    uint32_t magic = CKPT_MAGIC, ver = CKPT_VERSION;
    uint64_t len = 0;
    int rc = -1;
    if (sl_buf_append(&b, &magic, 4) || sl_buf_append(&b, &ver, 4) || sl_buf_append(&b, &len, 8)) goto out;
    if (build_checkpoint(j, &b)) goto out;
    len = b.len - 16;
    memcpy(b.data + 8, &len, 8);
    uint32_t crc = sl_crc32c(0, b.data + 16, len);
    if (sl_buf_append(&b, &crc, 4)) goto out;
    char dir[4096], name[600];
    snprintf(dir, sizeof(dir), "%s/checkpoints", j->s->dir);
    snprintf(name, sizeof(name), "%s.ckpt", j->name);
    rc = write_file_durably(dir, name, b.data, b.len);
    if (rc) snprintf(j->ckpt_err, sizeof(j->ckpt_err), "cannot write checkpoint: %s", strerror(errno));
out:
    sl_buf_free(&b);
    j->ckpt_ns_last = sl_mono_ns() - t0;
    return rc;
}

static void work_cb(uv_work_t *w) {
    job_t *j = w->data;
    int64_t now = sl_now_ms();
    uint64_t t0 = sl_mono_ns();
    uv_mutex_lock(&j->mu);
    sl_query_begin(j->q, now);
    size_t total = 0;
    for (size_t i = 0; i < j->cur.n; i++) total += j->cur.res[i].count;
    if (j->nscan > 1 && total >= 2048) {
        scan_parallel(j, total, now);
    } else {
        for (size_t i = 0; i < j->cur.n && !sl_query_error(j->q); i++) {
            sl_fetch_result_t *r = &j->cur.res[i];
            for (size_t k = 0; k < r->count; k++) {
                const sl_fetched_t *f = &r->recs[k];
                if (sl_query_push_json(j->q, j->cur.part[i], f->offset, f->timestamp, f->value, f->value_len))
                    break;
            }
        }
    }
    sl_query_end(j->q, now);
    if (j->view && j->memory_limit && !j->error) {
        /* the view's rows count against the query's memory_limit too */
        sl_query_stats_t qs;
        sl_query_stats(j->q, &qs);
        uint64_t used = qs.state_bytes + sl_view_bytes(j->view);
        if (used > j->memory_limit)
            snprintf(j->limit_err, sizeof(j->limit_err),
                     "the view's rows and the query's state (%" PRIu64 " bytes) are over its memory_limit of %" PRIu64
                     " bytes; raise 'memory_limit' in WITH (...)", used, j->memory_limit);
    }
    j->ckpt_written = 0;
    if (j->ckpt_due && !sl_query_error(j->q) && !j->ckpt_failed && !j->dropping) {
        /* the records produced so far go into this checkpoint, then to the sink */
        sl_buf_t t = j->flushing;
        j->flushing = j->pending;
        j->pending = t;
        j->pending.len = 0;
        j->nflushing = j->npending;
        j->npending = 0;
        if (write_checkpoint(j) == 0) {
            j->ckpt_written = 1;
        } else {
            /* keep the records for the next attempt */
            sl_buf_append(&j->flushing, j->pending.data, j->pending.len);
            t = j->pending;
            j->pending = j->flushing;
            j->flushing = t;
            j->flushing.len = 0;
            j->npending += j->nflushing;
            j->nflushing = 0;
        }
    }
    uv_mutex_unlock(&j->mu);
    sl_debug("sql: %s: batch of %zu events in %.2f ms", j->name, total, (double)(sl_mono_ns() - t0) / 1e6);
}

static void produce_cb(void *ud, int status, const sl_offset_t *offsets, size_t n) {
    job_t *j = ud;
    (void)offsets;
    (void)n;
    j->flush_inflight = 0;
    if (status == -SL_ENOTFOUND) {
        char msg[400];
        snprintf(msg, sizeof(msg), "sink topic %.300s no longer exists", j->sink_topic);
        job_fail(j, msg);
    } else if (status) {
        /* Not acknowledged: the records stay in the checkpoint; retry on the next pump. */
        j->sink_errors++;
        sl_warn("sql: sink %s: appending to topic %s failed: %s (will retry)", j->name, j->sink_topic,
                sl_strerror(status));
        j->flush_inflight = -1;
    } else {
        j->flushing.len = 0;
        j->nflushing = 0;
    }
    if (j->dropping) {
        if (!j->busy) job_free(j);
        return;
    }
    if (j->s->closing) {
        close_step(j->s);
        return;
    }
    pump(j);
}

/* Appends the `flushing` records (skipping, per partition, the first skip[p] of them). */
static int flush_sink(job_t *j, const int64_t *skip) {
    if (!j->nflushing) return 0;
    sl_record_t *recs = calloc(j->nflushing, sizeof(*recs));
    int64_t *seen = calloc(j->sink_parts, sizeof(*seen));
    if (!recs || !seen) {
        free(recs);
        free(seen);
        return -SL_ENOMEM;
    }
    size_t n = 0, off = 0;
    while (off + 8 <= j->flushing.len) {
        uint32_t part, len;
        memcpy(&part, j->flushing.data + off, 4);
        memcpy(&len, j->flushing.data + off + 4, 4);
        const char *v = j->flushing.data + off + 8;
        off += 8 + (size_t)len;
        if (part >= j->sink_parts) continue;
        if (skip && seen[part]++ < skip[part]) continue;
        recs[n].value = v;
        recs[n].value_len = len;
        recs[n].timestamp = -1;
        recs[n].partition = (int32_t)part;
        n++;
    }
    free(seen);
    if (!n) {
        free(recs);
        j->flushing.len = 0;
        j->nflushing = 0;
        return 0;
    }
    j->flush_inflight = 1;
    int rc = sl_produce(j->s->e, j->sink_topic, recs, n, produce_cb, j);
    free(recs);
    if (rc == -SL_ENOTFOUND) {
        char msg[400];
        snprintf(msg, sizeof(msg), "sink topic %.300s no longer exists", j->sink_topic);
        j->flush_inflight = 0;
        job_fail(j, msg);
    } else if (rc) {
        j->flush_inflight = -1;
    }
    return rc;
}

static void after_work_cb(uv_work_t *w, int status) {
    job_t *j = w->data;
    (void)status;
    j->busy = 0;
    fbatch_clear(&j->cur);
    if (j->ckpt_due) {
        j->ckpt_due = 0;
        j->last_ckpt_ms = sl_mono_ms();
        if (j->ckpt_written) {
            sl_query_stats_t qs;
            sl_query_stats(j->q, &qs);
            j->ckpt_events = qs.events_in;
            j->ckpts++;
            if (!j->view && j->nflushing) flush_sink(j, NULL);
        } else if (j->ckpt_err[0] || j->ckpt_failed) {
            sl_error("sql: query %s: checkpoint failed: %s", j->name, j->ckpt_err[0] ? j->ckpt_err : "out of memory");
        }
    }
    if (sl_query_error(j->q)) job_fail(j, sl_query_error(j->q));
    if (j->limit_err[0]) job_fail(j, j->limit_err);
    if (j->dropping) {
        if (j->flush_inflight != 1) job_free(j);
        return;
    }
    if (j->s->closing) {
        close_step(j->s);
        return;
    }
    pump(j);
}

static void watch_cb(void *ud, int status) {
    wslot_t *w = ud;
    job_t *j = w->j;
    (void)status;
    /* the watch that fired freed itself; the others are cancelled and pump re-arms them all */
    j->watches[w->p] = NULL;
    for (uint32_t p = 0; p < j->nparts; p++)
        if (j->watches[p]) {
            sl_watch_cancel(j->watches[p]);
            j->watches[p] = NULL;
        }
    pump(j);
}

static void timer_cb(uv_timer_t *t) { pump(t->data); }

static void arm_watches(job_t *j) {
    for (uint32_t p = 0; p < j->nparts; p++) {
        if (j->watches[p]) continue;
        int64_t pos = j->fpos[p] < 0 ? 0 : j->fpos[p];
        if (sl_watch(j->s->e, j->topic, p, pos, watch_cb, &j->wslots[p], &j->watches[p])) j->watches[p] = NULL;
    }
}

static void cancel_watches(job_t *j) {
    if (!j->watches) return;
    for (uint32_t p = 0; p < j->nparts; p++)
        if (j->watches[p]) {
            sl_watch_cancel(j->watches[p]);
            j->watches[p] = NULL;
        }
}

/* Fetches up to batch_events events, round-robin over the partitions from fpos, into b. 0, or
 * -1 when the query failed (its source is gone). */
static int fetch_batch(job_t *j, fbatch_t *b) {
    sl_sql_t *s = j->s;
    size_t budget = s->cfg.batch_events, bytes = 8u << 20;
    for (uint32_t k = 0; k < j->nparts && budget && bytes; k++) {
        uint32_t p = (j->rr + k) % j->nparts;
        int64_t pos = j->fpos[p];
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 16;
            sl_fetch_result_t *nr = realloc(b->res, sizeof(*nr) * cap);
            if (nr) b->res = nr;
            uint32_t *np = realloc(b->part, sizeof(*np) * cap);
            if (np) b->part = np;
            if (!nr || !np) break;
            b->cap = cap;
        }
        sl_fetch_result_t *r = &b->res[b->n];
        memset(r, 0, sizeof(*r));
        int rc = sl_fetch(s->e, j->topic, p, pos, budget, bytes, r);
        if (rc == -SL_ERANGE && pos >= 0 && pos < r->earliest_offset) {
            sl_warn("sql: query %s: partition %u offsets %" PRId64 "..%" PRId64 " were deleted by retention; "
                    "continuing at %" PRId64, j->name, p, pos, r->earliest_offset - 1, r->earliest_offset);
            rc = sl_fetch(s->e, j->topic, p, r->earliest_offset, budget, bytes, r);
        }
        if (rc) {
            if (rc == -SL_ENOTFOUND) {
                char msg[300];
                snprintf(msg, sizeof(msg), "source topic %s no longer exists", j->topic);
                job_fail(j, msg);
                return -1;
            }
            continue;
        }
        if (!r->count) {
            sl_fetch_result_free(r);
            continue;
        }
        j->fpos[p] = r->next_offset;
        budget -= r->count < budget ? r->count : budget;
        size_t used = 0;
        for (size_t i = 0; i < r->count; i++) used += r->recs[i].value_len;
        bytes = used < bytes ? bytes - used : 0;
        b->part[b->n++] = p;
    }
    j->rr++;
    return 0;
}

/* Drives a query: one batch runs on the pool while the next is fetched on the loop. */
static void pump(job_t *j) {
    sl_sql_t *s = j->s;
    if (j->error || j->stopped || j->dropping || s->closing) return;
    if (j->flush_inflight == -1 && !j->busy) {
        /* retry a failed sink append */
        j->flush_inflight = 0;
        if (flush_sink(j, NULL)) return;
    }
    if (!j->next.n && fetch_batch(j, &j->next)) return;
    if (j->busy) return; /* the batch fetched ahead waits for after_work_cb */
    uint64_t now = sl_mono_ms();
    sl_query_stats_t qs;
    sl_query_stats(j->q, &qs);
    if (!j->ckpt_due && j->flush_inflight == 0 && now - j->last_ckpt_ms >= s->cfg.checkpoint_interval_ms &&
        (qs.events_in != j->ckpt_events || j->npending)) {
        j->ckpt_due = 1;
        if (!j->view) {
            for (uint32_t p = 0; p < j->sink_parts; p++) {
                sl_partition_stats_t ps;
                if (sl_partition_stats(s->e, j->sink_topic, p, &ps)) {
                    j->ckpt_due = 0;
                    break;
                }
                j->base[p] = ps.latest_offset;
            }
        }
    }
    if (!j->next.n && !j->ckpt_due && !(j->time_driven && now - j->last_work_ms >= 100)) {
        /* Nothing to read: wait for data (watches) or the clock (the timer). */
        arm_watches(j);
        return;
    }
    j->last_work_ms = now;
    cancel_watches(j);
    fbatch_t t = j->cur;
    j->cur = j->next;
    j->next = t;
    j->busy = 1;
    j->work.data = j;
    uv_queue_work(s->loop, &j->work, work_cb, after_work_cb);
    fetch_batch(j, &j->next);
}

/* ---- jobs: create, recover, free ----------------------------------------------------------- */

static void job_final_free(uv_handle_t *h) {
    job_t *j = h->data;
    sl_sql_t *s = j->s;
    fbatch_clear(&j->cur);
    fbatch_clear(&j->next);
    free(j->cur.res);
    free(j->cur.part);
    free(j->next.res);
    free(j->next.part);
    free(j->fpos);
    free(j->watches);
    free(j->wslots);
    for (int i = 0; i < j->nscan; i++) sl_qscan_free(j->scanners[i]);
    free(j->scanners);
    sl_query_free(j->q);
    sl_view_free(j->view);
    sl_buf_free(&j->pending);
    sl_buf_free(&j->flushing);
    free(j->base);
    free(j->name);
    free(j->text);
    free(j->topic);
    free(j->sink_topic);
    free(j->error);
    uv_mutex_destroy(&j->mu);
    free(j);
    s->live_jobs--;
    if (s->closing) close_step(s);
}

/* Detaches j from the loop; its memory goes once the timer handle is closed. */
static void job_free(job_t *j) {
    if (j->timer_closed) return;
    j->timer_closed = 1;
    cancel_watches(j);
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, job_final_free);
}

static int load_checkpoint(job_t *j, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/checkpoints/%s.ckpt", j->s->dir, j->name);
    char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc == 1) return 0; /* none yet: start from the beginning of the stream */
    if (rc) {
        snprintf(err, errlen, "cannot read the checkpoint of %.200s: %s", j->name, strerror(errno));
        return -1;
    }
    uint32_t magic, ver, crc;
    uint64_t blen, ql, vl, seq, cnt;
    const char *p = buf, *end = buf + len;
#define NEED(n) do { if ((size_t)(end - p) < (size_t)(n)) goto corrupt; } while (0)
    NEED(16);
    memcpy(&magic, p, 4);
    memcpy(&ver, p + 4, 4);
    memcpy(&blen, p + 8, 8);
    p += 16;
    if (magic != CKPT_MAGIC || ver != CKPT_VERSION || blen + 20 != len) goto corrupt;
    memcpy(&crc, buf + 16 + blen, 4);
    if (crc != sl_crc32c(0, buf + 16, blen)) goto corrupt;
    end = buf + 16 + blen;
    NEED(8);
    memcpy(&ql, p, 8);
    p += 8;
    NEED(ql);
    if (sl_query_load(j->q, p, ql)) goto corrupt;
    p += ql;
    NEED(8);
    memcpy(&vl, p, 8);
    p += 8;
    NEED(vl);
    if (j->view && sl_view_load(j->view, p, vl)) goto corrupt;
    p += vl;
    uint32_t sp;
    NEED(4);
    memcpy(&sp, p, 4);
    p += 4;
    if (!j->view && sp != j->sink_parts) {
        snprintf(err, errlen, "the checkpoint of %s was taken with %u sink partitions, topic %s now has %u",
                 j->name, sp, j->sink_topic, j->sink_parts);
        free(buf);
        return -1;
    }
    NEED((size_t)sp * 8 + 16);
    for (uint32_t i = 0; i < sp; i++) memcpy(&j->base[i], p + 8 * i, 8);
    p += (size_t)sp * 8;
    memcpy(&seq, p, 8);
    memcpy(&cnt, p + 8, 8);
    p += 16;
    j->seq = seq;
    if (sl_buf_append(&j->flushing, p, (size_t)(end - p))) goto corrupt;
    j->nflushing = cnt;
#undef NEED
    free(buf);
    sl_query_stats_t qs;
    sl_query_stats(j->q, &qs);
    j->ckpt_events = qs.events_in;
    if (!j->view && j->nflushing) {
        /* Append what this checkpoint holds and the sink does not have yet. */
        int64_t *skip = calloc(j->sink_parts, sizeof(*skip));
        if (!skip) return -1;
        for (uint32_t i = 0; i < j->sink_parts; i++) {
            sl_partition_stats_t ps;
            if (sl_partition_stats(j->s->e, j->sink_topic, i, &ps) == 0) {
                skip[i] = ps.latest_offset - j->base[i];
                if (skip[i] < 0) skip[i] = 0;
            }
        }
        int frc = flush_sink(j, skip);
        free(skip);
        if (frc) {
            snprintf(err, errlen, "cannot append the checkpoint's records to %s: %s", j->sink_topic, sl_strerror(frc));
            return -1;
        }
    } else {
        j->flushing.len = 0;
        j->nflushing = 0;
    }
    sl_info("sql: query %s resumed from its checkpoint (%" PRIu64 " events read before)", j->name, qs.events_in);
    return 0;
corrupt:
    free(buf);
    snprintf(err, errlen, "the checkpoint of %.200s (sql/checkpoints/%.200s.ckpt) is corrupt: it failed its checksum "
             "or structure check", j->name, j->name);
    return -1;
}

static int64_t parse_bytes(const char *v) {
    char *end;
    double n = strtod(v, &end);
    if (end == v || n < 0) return -1;
    while (*end == ' ') end++;
    double mul = 1;
    if (!*end || !strcasecmp(end, "b")) mul = 1;
    else if (!strcasecmp(end, "kb") || !strcasecmp(end, "k") || !strcasecmp(end, "kib")) mul = 1024;
    else if (!strcasecmp(end, "mb") || !strcasecmp(end, "m") || !strcasecmp(end, "mib")) mul = 1048576;
    else if (!strcasecmp(end, "gb") || !strcasecmp(end, "g") || !strcasecmp(end, "gib")) mul = 1073741824.0;
    else return -1;
    return (int64_t)(n * mul);
}

/* The stream a continuous SELECT reads (through subqueries and window TVFs). */
static const char *select_source(const sl_ast_select_t *sel) {
    const sl_ast_from_t *f = sel ? sel->from : NULL;
    while (f) {
        if (f->kind == SL_AF_TABLE) return f->name;
        if (f->kind == SL_AF_SUBQUERY) f = f->sub ? f->sub->from : NULL;
        else f = f->input;
    }
    return NULL;
}

/* Creates and starts the query of a view or sink. 0, or an HTTP status with the error in o. */
static int job_create(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, int kind, const char *name,
                      const char *sink_topic, exec_out_t *o) {
    char err[512];
    sl_sql_error_t serr;
    memset(&serr, 0, sizeof(serr));
    sl_arena_t a;
    sl_arena_init(&a);
    uint64_t memory_limit = s->cfg.memory_limit;
    uint32_t sink_parts = 1;
    for (size_t i = 0; i < st->option_count; i++) {
        const sl_ast_option_t *op = &st->options[i];
        if (!strcasecmp(op->key, "memory_limit")) {
            int64_t v = parse_bytes(op->value);
            if (v <= 0) {
                out_error(o, 400, "sql_error", idx, &op->pos, "memory_limit '%s' is not a size such as '64 MB'", op->value);
                return 400;
            }
            memory_limit = (uint64_t)v;
        } else if (!strcasecmp(op->key, "partitions") && kind == OBJ_SINK) {
            long v = strtol(op->value, NULL, 10);
            if (v < 1 || v > SL_PARTITIONS_MAX) {
                out_error(o, 400, "sql_error", idx, &op->pos, "partitions must be 1..%d", SL_PARTITIONS_MAX);
                return 400;
            }
            sink_parts = (uint32_t)v;
        } else {
            out_error(o, 400, "sql_error", idx, &op->pos, "unknown option '%s' (known: memory_limit%s)", op->key,
                      kind == OBJ_SINK ? ", partitions" : "");
            return 400;
        }
    }
    sl_plan_t *plan = sl_bind_select(&a, &s->cat, st->select, 1, &serr);
    if (!plan) {
        sl_arena_free(&a);
        out_error(o, 400, "sql_error", idx, &serr.pos, "%s", serr.message);
        return 400;
    }
    const char *src = select_source(st->select);
    stream_ent_t *se = src ? find_stream(s, src) : NULL;
    if (!se) {
        sl_arena_free(&a);
        out_error(o, 400, "sql_error", idx, &st->pos, "a continuous query must read a stream");
        return 400;
    }
    sl_topic_config_t tc;
    if (sl_topic_get(s->e, se->def->topic, &tc)) {
        sl_arena_free(&a);
        out_error(o, 404, "topic_not_found", idx, &st->pos, "stream %s reads topic %s, which does not exist",
                  se->name, se->def->topic);
        return 404;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (!j) {
        sl_arena_free(&a);
        out_error(o, 500, "out_of_memory", idx, NULL, "out of memory");
        return 500;
    }
    j->s = s;
    s->live_jobs++;
    j->kind = kind;
    j->stream = se;
    j->memory_limit = memory_limit;
    uv_mutex_init(&j->mu);
    j->timer.data = j;
    uv_timer_init(s->loop, &j->timer);
    sl_query_config_t qc = {memory_limit, on_emit, j};
    if (!(j->name = xstrdup(name)) || !(j->text = xstrdup(st->text)) || !(j->topic = xstrdup(se->def->topic)))
        goto oom;
    if (sl_query_create(&a, plan, &qc, &j->q, err, sizeof(err))) {
        out_error(o, 400, "sql_error", idx, &st->pos, "%s", err);
        goto failed;
    }
    j->cols = sl_query_columns(j->q, &j->ncols);
    j->append_only = sl_query_append_only(j->q);
    j->nparts = tc.partitions;
    if (sl_query_set_partitions(j->q, j->nparts) || !(j->watches = calloc(j->nparts, sizeof(*j->watches))) ||
        !(j->wslots = calloc(j->nparts, sizeof(*j->wslots))))
        goto oom;
    for (uint32_t p = 0; p < j->nparts; p++) j->wslots[p] = (wslot_t){j, p};
    int threads = (int)s->cfg.scan_threads;
    if (threads > 16) threads = 16;
    if (threads > 1) {
        if (!(j->scanners = calloc((size_t)threads, sizeof(*j->scanners)))) goto oom;
        for (; j->nscan < threads; j->nscan++)
            if (sl_qscan_new(j->q, &j->scanners[j->nscan])) goto oom;
    }
    j->time_driven = sl_query_clock_driven(j->q);
    if (kind == OBJ_VIEW) {
        if (!(j->view = sl_view_new(j->cols, j->ncols))) goto oom;
    } else {
        if (!(j->sink_topic = xstrdup(sink_topic))) goto oom;
        sl_topic_config_t sc;
        int rc = sl_topic_get(s->e, sink_topic, &sc);
        if (rc == -SL_ENOTFOUND) {
            sl_topic_config_init(&sc, sink_topic);
            sc.partitions = sink_parts;
            const char *why = NULL;
            if (sl_topic_config_check(&sc, &why)) {
                out_error(o, 400, "sql_error", idx, &st->pos, "sink topic '%s': %s", sink_topic, why ? why : "invalid");
                goto failed;
            }
            rc = sl_topic_create(s->e, &sc);
        }
        if (rc) {
            out_error(o, 500, "engine_error", idx, &st->pos, "sink topic %s: %s", sink_topic, sl_strerror(rc));
            goto failed;
        }
        if (!strcasecmp(sink_topic, se->def->topic)) {
            out_error(o, 400, "sql_error", idx, &st->pos, "a query cannot write into the topic it reads (%s)", sink_topic);
            goto failed;
        }
        j->sink_parts = sc.partitions;
        if (!(j->base = calloc(j->sink_parts, sizeof(*j->base)))) goto oom;
    }
    if (load_checkpoint(j, err, sizeof(err))) {
        out_error(o, 500, "checkpoint_error", idx, &st->pos, "%s", err);
        goto failed;
    }
    if (!(j->fpos = calloc(j->nparts, sizeof(*j->fpos)))) goto oom;
    for (uint32_t p = 0; p < j->nparts; p++) {
        int64_t pos = sl_query_position(j->q, p);
        j->fpos[p] = pos < 0 ? SL_OFFSET_EARLIEST : pos;
    }
    job_t **nj = realloc(s->jobs, sizeof(*nj) * (s->njobs + 1));
    if (!nj) goto oom;
    s->jobs = nj;
    s->jobs[s->njobs++] = j;
    j->last_ckpt_ms = sl_mono_ms();
    uv_timer_start(&j->timer, timer_cb, 100, 100);
    pump(j);
    return 0;
oom:
    out_error(o, 500, "out_of_memory", idx, NULL, "out of memory");
failed:
    sl_arena_free(&a);
    j->stopped = 1;
    if (j->flush_inflight == 1) {
        /* the recovery append holds j; it is freed when the append finishes */
        j->dropping = 1;
        return o->status;
    }
    job_free(j);
    return o->status;
}

/* ---- statements ---------------------------------------------------------------------------- */

static int name_taken(sl_sql_t *s, const char *name) {
    return find_stream(s, name) || find_job(s, name, -1);
}

static void exec_create_stream(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o) {
    if (name_taken(s, st->name)) {
        if (st->if_not_exists && find_stream(s, st->name)) {
            out_message(o, "CREATE STREAM", "stream %s already exists", st->name);
            return;
        }
        out_error(o, 409, "already_exists", idx, &st->pos, "%s already exists", st->name);
        return;
    }
    stream_ent_t *se = calloc(1, sizeof(*se));
    if (!se) goto oom;
    sl_arena_init(&se->arena);
    sl_sql_error_t err;
    memset(&err, 0, sizeof(err));
    se->def = sl_bind_stream(&se->arena, st, &err);
    if (!se->def) {
        out_error(o, 400, "sql_error", idx, &err.pos, "%s", err.message);
        goto failed;
    }
    /* the definition points into the statement's arena: copy it into the stream's own */
    sl_stream_def_t *d = se->def;
    d->name = sl_arena_strndup(&se->arena, d->name, strlen(d->name));
    d->topic = sl_arena_strndup(&se->arena, d->topic, strlen(d->topic));
    for (int i = 0; i < d->ncols; i++) {
        d->cols[i].name = sl_arena_strndup(&se->arena, d->cols[i].name, strlen(d->cols[i].name));
        d->paths[i] = sl_arena_strndup(&se->arena, d->paths[i], strlen(d->paths[i]));
    }
    sl_topic_config_t tc;
    if (sl_topic_get(s->e, d->topic, &tc)) {
        out_error(o, 404, "topic_not_found", idx, &st->pos,
                  "topic %s does not exist; create it first (POST /v1/topics or sluice topic create)", d->topic);
        goto failed;
    }
    if (!(se->name = strdup(st->name)) || !(se->text = strdup(st->text))) goto oom;
    stream_ent_t **ns = realloc(s->streams, sizeof(*ns) * (s->nstreams + 1));
    if (!ns) goto oom;
    s->streams = ns;
    s->streams[s->nstreams++] = se;
    save_catalog(s);
    out_message(o, "CREATE STREAM", "created stream %s (%d columns) over topic %s", se->name, d->ncols, d->topic);
    return;
oom:
    out_error(o, 500, "out_of_memory", idx, NULL, "out of memory");
failed:
    if (se) {
        free(se->name);
        free(se->text);
        sl_arena_free(&se->arena);
        free(se);
    }
}

static void exec_create_job(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o, const char *forced_name) {
    int kind = st->kind == SL_AS_CREATE_VIEW ? OBJ_VIEW : OBJ_SINK;
    const char *label = st->kind == SL_AS_CREATE_VIEW ? "CREATE MATERIALIZED VIEW"
                        : st->kind == SL_AS_CREATE_SINK ? "CREATE SINK" : "INSERT";
    char name[300];
    const char *topic = st->topic;
    if (st->kind == SL_AS_INSERT) {
        stream_ent_t *target = find_stream(s, st->name);
        topic = target ? target->def->topic : st->name;
        if (forced_name) {
            snprintf(name, sizeof(name), "%s", forced_name);
        } else {
            for (int k = 1;; k++) {
                snprintf(name, sizeof(name), "insert_%s_%d", st->name, k);
                if (!name_taken(s, name)) break;
            }
        }
    } else {
        snprintf(name, sizeof(name), "%s", st->name);
        if (name_taken(s, name)) {
            job_t *ex = find_job(s, name, kind);
            if (st->if_not_exists && ex) {
                out_message(o, label, "%s already exists", name);
                return;
            }
            out_error(o, 409, "already_exists", idx, &st->pos, "%s already exists", name);
            return;
        }
    }
    if (job_create(s, st, idx, kind, name, topic, o)) return;
    save_catalog(s);
    if (kind == OBJ_VIEW) out_message(o, label, "created materialized view %s", name);
    else out_message(o, label, "created sink %s into topic %s", name, topic);
}

/* Ad-hoc SELECT: the plan runs once over a view's rows (or one empty row without FROM). */
typedef struct adhoc {
    sl_sql_t *s;
    sl_query_t *q;
    sl_buf_t rows;                 /* encoded result rows */
    size_t n, cap;
    int truncated;
    const sl_pcol_t *cols;
    int ncols;
    int64_t pushed;
} adhoc_t;

static void adhoc_emit(void *ud, int change, const char *key, size_t klen, const sl_value_t *row) {
    adhoc_t *h = ud;
    (void)key;
    (void)klen;
    if (change == SL_CHANGE_DELETE) return;
    if (h->n >= h->cap) {
        h->truncated = 1;
        return;
    }
    if (sl_row_encode(&h->rows, h->cols, h->ncols, row) == 0) h->n++;
}

static int adhoc_push(void *ud, const sl_value_t *row) {
    adhoc_t *h = ud;
    return sl_query_push_row(h->q, 0, h->pushed++, row) ? 1 : 0;
}

typedef struct sortrow {
    const char *p;
    size_t len;
    sl_value_t *keys;
} sortrow_t;

typedef struct sortctx {
    const sl_plan_t *sort;
} sortctx_t;

static int sort_cmp(const void *a, const void *b, void *arg) {
    const sortctx_t *c = arg;
    const sortrow_t *x = a, *y = b;
    for (int i = 0; i < c->sort->nsort; i++) {
        const sl_value_t *u = &x->keys[i], *v = &y->keys[i];
        int r;
        if (u->null || v->null) r = u->null && v->null ? 0 : u->null ? -1 : 1; /* NULLs first */
        else r = sl_value_cmp(c->sort->sort_keys[i]->type, u, v);
        if (c->sort->sort_desc[i]) r = -r;
        if (r) return r;
    }
    return x->p < y->p ? -1 : x->p > y->p;
}

static void exec_select(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o) {
    sl_sql_error_t serr;
    memset(&serr, 0, sizeof(serr));
    sl_arena_t a;
    sl_arena_init(&a);
    sl_plan_t *plan = sl_bind_select(&a, &s->cat, st->select, 0, &serr);
    if (!plan) {
        sl_arena_free(&a);
        out_error(o, 400, "sql_error", idx, &serr.pos, "%s", serr.message);
        return;
    }
    const sl_plan_t *sort = plan->kind == SL_PN_SORT ? plan : NULL;
    const sl_plan_t *top = sort ? plan->input : plan;
    const sl_plan_t *bottom = top;
    while (bottom->input) bottom = bottom->input;
    job_t *j = bottom->kind == SL_PN_VIEW_SCAN ? find_job(s, bottom->view->name, OBJ_VIEW) : NULL;
    adhoc_t h;
    memset(&h, 0, sizeof(h));
    h.s = s;
    h.cap = s->cfg.max_result_rows;
    h.cols = top->cols;
    h.ncols = top->ncols;
    char err[512];
    sl_query_config_t qc = {s->cfg.memory_limit, adhoc_emit, &h};
    if (sl_query_create(&a, top, &qc, &h.q, err, sizeof(err))) {
        out_error(o, 400, "sql_error", idx, &st->pos, "%s", err);
        return;
    }
    int64_t now = sl_now_ms();
    sl_query_begin(h.q, now);
    if (j) {
        uv_mutex_lock(&j->mu);
        sl_view_scan(j->view, adhoc_push, &h);
        uv_mutex_unlock(&j->mu);
    } else {
        sl_value_t none;
        memset(&none, 0, sizeof(none));
        sl_query_push_row(h.q, 0, 0, &none);
    }
    sl_query_end(h.q, now);
    if (sl_query_error(h.q)) {
        out_error(o, 400, "sql_error", idx, &st->pos, "%s", sl_query_error(h.q));
        goto out;
    }
    /* rows, then ORDER BY / LIMIT */
    sortrow_t *rows = calloc(h.n + 1, sizeof(*rows));
    sl_value_t *vals = calloc((h.n + 1) * (size_t)(h.ncols + 1), sizeof(*vals));
    sl_value_t *keys = sort ? calloc((h.n + 1) * (size_t)(sort->nsort + 1), sizeof(*keys)) : NULL;
    sl_cexpr_t *kx = sort ? calloc((size_t)sort->nsort + 1, sizeof(*kx)) : NULL;
    sl_arena_t ka;
    sl_arena_init(&ka);
    sl_eval_t ev;
    int ok = rows && vals && (!sort || (keys && kx)) && sl_eval_init(&ev, &ka) == 0;
    size_t off = 0;
    for (size_t i = 0; ok && i < h.n; i++) {
        size_t k = sl_row_decode(h.rows.data + off, h.rows.len - off, h.cols, h.ncols, vals + i * (size_t)(h.ncols + 1));
        rows[i].p = h.rows.data + off;
        rows[i].len = k;
        off += k;
    }
    if (ok && sort) {
        for (int k = 0; k < sort->nsort; k++)
            if (sl_cexpr_compile(&kx[k], sort->sort_keys[k], err, sizeof(err))) ok = 0;
        for (size_t i = 0; ok && i < h.n; i++) {
            rows[i].keys = keys + i * (size_t)(sort->nsort + 1);
            for (int k = 0; k < sort->nsort; k++)
                sl_cexpr_eval(&kx[k], vals + i * (size_t)(h.ncols + 1), &ev, &rows[i].keys[k]);
        }
        sortctx_t sc = {sort};
        if (ok) qsort_r(rows, h.n, sizeof(*rows), sort_cmp, &sc);
    }
    if (!ok) {
        out_error(o, 500, "out_of_memory", idx, NULL, "out of memory");
    } else {
        size_t limit = h.n;
        if (sort && sort->limit >= 0 && (size_t)sort->limit < limit) limit = (size_t)sort->limit;
        out_table_begin(o, "SELECT", h.cols, h.ncols);
        sl_value_t *tmp = calloc((size_t)h.ncols + 1, sizeof(*tmp));
        for (size_t i = 0; tmp && i < limit; i++) {
            if (i) sl_buf_putc(&o->results, ',');
            sl_row_decode(rows[i].p, rows[i].len, h.cols, h.ncols, tmp);
            sl_row_json(&o->results, h.cols, h.ncols, tmp);
        }
        free(tmp);
        sl_buf_lit(&o->results, "]");
        if (h.truncated)
            sl_buf_printf(&o->results, ",\"truncated\":true,\"max_result_rows\":%zu", s->cfg.max_result_rows);
        sl_buf_putc(&o->results, '}');
    }
    if (sort && kx)
        for (int k = 0; k < sort->nsort; k++) sl_cexpr_free(&kx[k]);
    if (ok || rows) sl_eval_free(&ev);
    sl_arena_free(&ka);
    free(kx);
    free(keys);
    free(vals);
    free(rows);
out:
    sl_query_free(h.q);
    sl_buf_free(&h.rows);
}

static void exec_explain(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o) {
    sl_sql_error_t serr;
    memset(&serr, 0, sizeof(serr));
    sl_arena_t a;
    sl_arena_init(&a);
    const char *src = select_source(st->select);
    int continuous = src && find_stream(s, src);
    sl_plan_t *plan = sl_bind_select(&a, &s->cat, st->select, continuous, &serr);
    if (!plan) {
        out_error(o, 400, "sql_error", idx, &serr.pos, "%s", serr.message);
    } else {
        sl_buf_t b = SL_BUF_INIT;
        sl_plan_explain(&b, plan);
        out_sep(o);
        sl_buf_lit(&o->results, "{\"statement\":\"EXPLAIN\",\"plan\":\"");
        sl_buf_json_escape(&o->results, b.data ? b.data : "", b.len);
        sl_buf_lit(&o->results, "\"}");
        sl_buf_free(&b);
    }
    sl_arena_free(&a);
}

static void cell_str(sl_buf_t *b, const char *k, const char *v, int first) {
    if (!first) sl_buf_putc(b, ',');
    sl_buf_printf(b, "\"%s\":", k);
    if (!v) {
        sl_buf_lit(b, "null");
        return;
    }
    sl_buf_putc(b, '"');
    sl_buf_json_escape(b, v, strlen(v));
    sl_buf_putc(b, '"');
}

static void cell_int(sl_buf_t *b, const char *k, int64_t v) { sl_buf_printf(b, ",\"%s\":%" PRId64, k, v); }

static const char *job_status(const job_t *j) {
    if (j->error) return "failed";
    return "running";
}

static void exec_show(sl_sql_t *s, const sl_ast_stmt_t *st, exec_out_t *o) {
    sl_buf_t *b = &o->results;
    if (st->object == SL_OBJ_STREAM) {
        static const sl_pcol_t cols[] = {{"name", SL_TYPE_VARCHAR}, {"topic", SL_TYPE_VARCHAR},
                                         {"columns", SL_TYPE_BIGINT}, {"watermark", SL_TYPE_VARCHAR}};
        out_table_begin(o, "SHOW", cols, 4);
        for (size_t i = 0; i < s->nstreams; i++) {
            const sl_stream_def_t *d = s->streams[i]->def;
            char wm[300] = "";
            if (d->wm_col >= 0)
                snprintf(wm, sizeof(wm), "%s - %" PRId64 " ms", d->cols[d->wm_col].name, d->wm_delay_ms);
            sl_buf_printf(b, "%s{", i ? "," : "");
            cell_str(b, "name", s->streams[i]->name, 1);
            cell_str(b, "topic", d->topic, 0);
            cell_int(b, "columns", d->ncols);
            cell_str(b, "watermark", d->wm_col >= 0 ? wm : NULL, 0);
            sl_buf_putc(b, '}');
        }
        sl_buf_lit(b, "]}");
        return;
    }
    static const sl_pcol_t cols[] = {{"name", SL_TYPE_VARCHAR}, {"kind", SL_TYPE_VARCHAR},
                                     {"stream", SL_TYPE_VARCHAR}, {"target", SL_TYPE_VARCHAR},
                                     {"status", SL_TYPE_VARCHAR}, {"events_in", SL_TYPE_BIGINT},
                                     {"rows_out", SL_TYPE_BIGINT}, {"late_events", SL_TYPE_BIGINT}};
    out_table_begin(o, "SHOW", cols, 8);
    int first = 1;
    for (size_t i = 0; i < s->njobs; i++) {
        job_t *j = s->jobs[i];
        if ((st->object == SL_OBJ_VIEW && j->kind != OBJ_VIEW) || (st->object == SL_OBJ_SINK && j->kind != OBJ_SINK))
            continue;
        sl_query_stats_t qs;
        uv_mutex_lock(&j->mu);
        sl_query_stats(j->q, &qs);
        uv_mutex_unlock(&j->mu);
        sl_buf_printf(b, "%s{", first ? "" : ",");
        first = 0;
        cell_str(b, "name", j->name, 1);
        cell_str(b, "kind", j->kind == OBJ_VIEW ? "view" : "sink", 0);
        cell_str(b, "stream", j->stream->name, 0);
        cell_str(b, "target", j->kind == OBJ_VIEW ? NULL : j->sink_topic, 0);
        cell_str(b, "status", job_status(j), 0);
        cell_int(b, "events_in", (int64_t)qs.events_in);
        cell_int(b, "rows_out", (int64_t)qs.rows_out);
        cell_int(b, "late_events", (int64_t)qs.late_events);
        sl_buf_putc(b, '}');
    }
    sl_buf_lit(b, "]}");
}

static void exec_describe(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o) {
    sl_buf_t *b = &o->results;
    static const sl_pcol_t cols[] = {{"column", SL_TYPE_VARCHAR}, {"type", SL_TYPE_VARCHAR}, {"path", SL_TYPE_VARCHAR}};
    stream_ent_t *se = find_stream(s, st->name);
    if (se) {
        const sl_stream_def_t *d = se->def;
        out_table_begin(o, "DESCRIBE", cols, 3);
        for (int i = 0; i < d->ncols; i++) {
            sl_buf_printf(b, "%s{", i ? "," : "");
            cell_str(b, "column", d->cols[i].name, 1);
            cell_str(b, "type", sl_type_name(d->cols[i].type), 0);
            cell_str(b, "path", d->paths[i], 0);
            sl_buf_putc(b, '}');
        }
        sl_buf_lit(b, "]");
        cell_str(b, "kind", "stream", 0);
        cell_str(b, "topic", d->topic, 0);
        if (d->wm_col >= 0) {
            sl_buf_printf(b, ",\"watermark\":{\"column\":\"%s\",\"delay_ms\":%" PRId64 "}", d->cols[d->wm_col].name,
                          d->wm_delay_ms);
        }
        cell_str(b, "definition", se->text, 0);
        sl_buf_putc(b, '}');
        return;
    }
    job_t *j = find_job(s, st->name, -1);
    if (!j) {
        out_error(o, 404, "not_found", idx, &st->pos, "no stream, view or sink named %s", st->name);
        return;
    }
    out_table_begin(o, "DESCRIBE", cols, 3);
    for (int i = 0; i < j->ncols; i++) {
        sl_buf_printf(b, "%s{", i ? "," : "");
        cell_str(b, "column", j->cols[i].name, 1);
        cell_str(b, "type", sl_type_name(j->cols[i].type), 0);
        cell_str(b, "path", NULL, 0);
        sl_buf_putc(b, '}');
    }
    sl_buf_lit(b, "]");
    sl_query_stats_t qs;
    uv_mutex_lock(&j->mu);
    sl_query_stats(j->q, &qs);
    size_t vrows = j->view ? sl_view_rows(j->view) : 0;
    int64_t *pos = calloc(j->nparts + 1, sizeof(*pos));
    for (uint32_t p = 0; pos && p < j->nparts; p++) pos[p] = sl_query_position(j->q, p);
    uv_mutex_unlock(&j->mu);
    cell_str(b, "kind", j->kind == OBJ_VIEW ? "view" : "sink", 0);
    cell_str(b, "stream", j->stream->name, 0);
    if (j->kind == OBJ_SINK) cell_str(b, "topic", j->sink_topic, 0);
    cell_str(b, "status", job_status(j), 0);
    cell_str(b, "error", j->error, 0);
    cell_str(b, "definition", j->text, 0);
    cell_str(b, "output", j->append_only ? "append-only" : "updates", 0);
    sl_buf_lit(b, ",\"stats\":{");
    sl_buf_printf(b, "\"events_in\":%" PRIu64 ",\"rows_out\":%" PRIu64 ",\"late_events\":%" PRIu64
                     ",\"bad_fields\":%" PRIu64 ",\"limit_nulls\":%" PRIu64 ",\"state_bytes\":%" PRIu64
                     ",\"checkpoints\":%" PRIu64
                     ",\"last_checkpoint_ms\":%.3f",
                  qs.events_in, qs.rows_out, qs.late_events, qs.bad_fields, qs.limit_nulls, qs.state_bytes, j->ckpts,
                  (double)j->ckpt_ns_last / 1e6);
    if (j->view) sl_buf_printf(b, ",\"rows\":%zu", vrows);
    if (qs.watermark != INT64_MIN) {
        sl_value_t wv = {0, {.i = qs.watermark}};
        sl_buf_lit(b, ",\"watermark\":");
        sl_value_json(b, SL_TYPE_TIMESTAMP, &wv);
    }
    sl_buf_lit(b, ",\"positions\":[");
    for (uint32_t p = 0; pos && p < j->nparts; p++) sl_buf_printf(b, "%s%" PRId64, p ? "," : "", pos[p]);
    free(pos);
    sl_buf_lit(b, "]}}");
}

static void exec_drop(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o) {
    if (st->object == SL_OBJ_STREAM) {
        stream_ent_t *se = find_stream(s, st->name);
        if (!se) {
            if (st->if_exists) return out_message(o, "DROP", "no stream %s", st->name);
            return out_error(o, 404, "not_found", idx, &st->pos, "no stream named %s", st->name);
        }
        for (size_t i = 0; i < s->njobs; i++)
            if (s->jobs[i]->stream == se)
                return out_error(o, 409, "in_use", idx, &st->pos, "stream %s is read by %s; drop it first",
                                 se->name, s->jobs[i]->name);
        for (size_t i = 0; i < s->nstreams; i++)
            if (s->streams[i] == se) {
                memmove(&s->streams[i], &s->streams[i + 1], sizeof(*s->streams) * (s->nstreams - i - 1));
                s->nstreams--;
                break;
            }
        char name[300];
        snprintf(name, sizeof(name), "%s", se->name);
        free(se->name);
        free(se->text);
        sl_arena_free(&se->arena);
        free(se);
        save_catalog(s);
        return out_message(o, "DROP", "dropped stream %s", name);
    }
    int kind = st->object == SL_OBJ_VIEW ? OBJ_VIEW : st->object == SL_OBJ_SINK ? OBJ_SINK : -1;
    job_t *j = find_job(s, st->name, kind);
    if (!j) {
        if (st->if_exists) return out_message(o, "DROP", "no %s %s", kind == OBJ_VIEW ? "view" : "sink", st->name);
        return out_error(o, 404, "not_found", idx, &st->pos, "no %s named %s",
                         kind == OBJ_VIEW ? "view" : kind == OBJ_SINK ? "sink" : "query", st->name);
    }
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i] == j) {
            memmove(&s->jobs[i], &s->jobs[i + 1], sizeof(*s->jobs) * (s->njobs - i - 1));
            s->njobs--;
            break;
        }
    char path[4096], name[300];
    snprintf(path, sizeof(path), "%s/checkpoints/%s.ckpt", s->dir, j->name);
    snprintf(name, sizeof(name), "%s", j->name);
    save_catalog(s);
    unlink(path);
    uv_mutex_lock(&j->mu); /* a running batch sees it before it would write a checkpoint */
    j->dropping = 1;
    uv_mutex_unlock(&j->mu);
    cancel_watches(j);
    if (!j->busy && j->flush_inflight != 1) job_free(j);
    out_message(o, "DROP", "dropped %s %s", kind == OBJ_VIEW ? "view" : "sink", name);
}

static void exec_stmt(sl_sql_t *s, const sl_ast_stmt_t *st, int idx, exec_out_t *o, const char *forced_name) {
    switch (st->kind) {
    case SL_AS_CREATE_STREAM: exec_create_stream(s, st, idx, o); break;
    case SL_AS_CREATE_VIEW:
    case SL_AS_CREATE_SINK:
    case SL_AS_INSERT: exec_create_job(s, st, idx, o, forced_name); break;
    case SL_AS_SELECT: exec_select(s, st, idx, o); break;
    case SL_AS_EXPLAIN: exec_explain(s, st, idx, o); break;
    case SL_AS_SHOW: exec_show(s, st, o); break;
    case SL_AS_DESCRIBE: exec_describe(s, st, idx, o); break;
    case SL_AS_DROP: exec_drop(s, st, idx, o); break;
    }
}

/* Which statement (from 1) holds line:col of text: the ';' outside strings, quoted names and
 * comments before it, plus one. */
static int statement_at(const char *t, size_t len, sl_pos_t pos) {
    uint32_t line = 1, col = 1;
    int stmt = 1;
    for (size_t i = 0; i < len; i++) {
        if (line > pos.line || (line == pos.line && col >= pos.col)) break;
        char c = t[i];
        if (c == '\'' || c == '"' || c == '`') {
            /* skip to the closing quote ('' doubles it), counting lines */
            size_t k = i + 1;
            while (k < len && !(t[k] == c && (k + 1 >= len || t[k + 1] != c))) {
                if (t[k] == c) k++;
                if (t[k] == '\n') line++, col = 0;
                k++, col++;
            }
            col += 2;
            i = k;
            continue;
        }
        if (c == '-' && i + 1 < len && t[i + 1] == '-') {
            while (i < len && t[i] != '\n') i++;
            line++, col = 1;
            continue;
        }
        if (c == '/' && i + 1 < len && t[i + 1] == '*') {
            i += 2, col += 2;
            while (i + 1 < len && !(t[i] == '*' && t[i + 1] == '/')) {
                if (t[i] == '\n') line++, col = 0;
                i++, col++;
            }
            i++, col += 2;
            continue;
        }
        if (c == ';') stmt++;
        if (c == '\n') line++, col = 1;
        else col++;
    }
    return stmt;
}

int sl_sql_execute(sl_sql_t *s, const char *text, size_t len, char **out, size_t *out_len, int *status) {
    exec_out_t o;
    memset(&o, 0, sizeof(o));
    o.status = 200;
    sl_arena_t a;
    sl_arena_init(&a);
    sl_ast_stmt_t *stmts = NULL;
    size_t n = 0;
    sl_sql_error_t err;
    memset(&err, 0, sizeof(err));
    if (s->closing) {
        out_error(&o, 503, "closing", 0, NULL, "the server is shutting down");
    } else if (sl_sql_parse(&a, text, len, &stmts, &n, &err)) {
        out_error(&o, 400, "sql_syntax_error", statement_at(text, len, err.pos), &err.pos, "%s", err.message);
    } else if (!n) {
        out_error(&o, 400, "sql_syntax_error", 0, NULL, "no statement");
    } else {
        for (size_t i = 0; i < n && o.status == 200; i++) exec_stmt(s, &stmts[i], (int)i + 1, &o, NULL);
    }
    sl_arena_free(&a);
    sl_buf_t b = SL_BUF_INIT;
    int rc = 0;
    if (o.status != 200) {
        rc |= sl_buf_lit(&b, "{\"error\":");
        rc |= sl_buf_append(&b, o.error.data, o.error.len);
        rc |= sl_buf_lit(&b, ",\"results\":[");
    } else {
        rc |= sl_buf_lit(&b, "{\"results\":[");
    }
    rc |= sl_buf_append(&b, o.results.data ? o.results.data : "", o.results.len);
    rc |= sl_buf_lit(&b, "]}\n");
    sl_buf_free(&o.results);
    sl_buf_free(&o.error);
    if (rc) {
        sl_buf_free(&b);
        return -SL_ENOMEM;
    }
    *status = o.status;
    *out = sl_buf_steal(&b, out_len);
    return 0;
}

int sl_sql_view_read(sl_sql_t *s, const char *view, int ndjson, char **out, size_t *out_len) {
    job_t *j = find_job(s, view, OBJ_VIEW);
    if (!j) return -SL_ENOTFOUND;
    sl_buf_t b = SL_BUF_INIT;
    uv_mutex_lock(&j->mu);
    int rc = sl_view_render(j->view, ndjson, &b);
    uv_mutex_unlock(&j->mu);
    if (!rc && !ndjson) rc = sl_buf_putc(&b, '\n');
    if (rc) {
        sl_buf_free(&b);
        return -SL_ENOMEM;
    }
    if (!b.data && sl_buf_reserve(&b, 1)) return -SL_ENOMEM;
    *out = sl_buf_steal(&b, out_len);
    return 0;
}

int sl_sql_view_changes(sl_sql_t *s, const char *view, uint64_t after, char **out, size_t *out_len,
                        uint64_t *last) {
    job_t *j = find_job(s, view, OBJ_VIEW);
    if (!j) return -SL_ENOTFOUND;
    sl_buf_t b = SL_BUF_INIT;
    uv_mutex_lock(&j->mu);
    long n = sl_view_changes(j->view, after, 1000, &b, last);
    uv_mutex_unlock(&j->mu);
    if (n < 0) {
        sl_buf_free(&b);
        return -SL_ERANGE;
    }
    if (!b.data && sl_buf_reserve(&b, 1)) return -SL_ENOMEM;
    *out = sl_buf_steal(&b, out_len);
    return 0;
}

int sl_sql_view_seq(sl_sql_t *s, const char *view, uint64_t *seq) {
    job_t *j = find_job(s, view, OBJ_VIEW);
    if (!j) return -SL_ENOTFOUND;
    uv_mutex_lock(&j->mu);
    *seq = sl_view_seq(j->view);
    uv_mutex_unlock(&j->mu);
    return 0;
}

int sl_sql_metrics(sl_sql_t *s, char **out, size_t *out_len) {
    sl_buf_t b = SL_BUF_INIT;
    int rc = 0;
    static const char *help[][3] = {
        {"sluice_query_events_in_total", "counter", "Events read by a continuous query."},
        {"sluice_query_rows_out_total", "counter", "Rows a continuous query emitted."},
        {"sluice_query_late_events_total", "counter", "Events dropped because the watermark had passed their windows."},
        {"sluice_query_bad_fields_total", "counter", "Fields missing or of the wrong type (read as NULL)."},
        {"sluice_query_state_bytes", "gauge", "Bytes of operator state."},
        {"sluice_query_watermark_lag_ms", "gauge", "Largest event time seen minus the watermark."},
        {"sluice_query_checkpoints_total", "counter", "Checkpoints written."},
        {"sluice_query_checkpoint_seconds", "gauge", "Duration of the last checkpoint."},
        {"sluice_query_failed", "gauge", "1 when the query stopped on an error."},
        {"sluice_query_limit_nulls_total", "counter", "Function results that are NULL because a resource limit was hit (REGEXP_EXTRACT backtracking)."},
    };
    for (size_t h = 0; h < sizeof(help) / sizeof(help[0]); h++) {
        rc |= sl_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", help[h][0], help[h][2], help[h][0], help[h][1]);
        for (size_t i = 0; i < s->njobs; i++) {
            job_t *j = s->jobs[i];
            sl_query_stats_t qs;
            uv_mutex_lock(&j->mu);
            sl_query_stats(j->q, &qs);
            uv_mutex_unlock(&j->mu);
            double v = 0;
            switch (h) {
            case 0: v = (double)qs.events_in; break;
            case 1: v = (double)qs.rows_out; break;
            case 2: v = (double)qs.late_events; break;
            case 3: v = (double)qs.bad_fields; break;
            case 4: v = (double)qs.state_bytes; break;
            case 5: v = qs.watermark == INT64_MIN || qs.max_event_time == INT64_MIN ? 0
                        : (double)(qs.max_event_time - qs.watermark); break;
            case 6: v = (double)j->ckpts; break;
            case 7: v = (double)j->ckpt_ns_last / 1e9; break;
            case 8: v = j->error ? 1 : 0; break;
            case 9: v = (double)qs.limit_nulls; break;
            }
            rc |= sl_buf_printf(&b, "%s{query=\"%s\"} %.17g\n", help[h][0], j->name, v);
        }
    }
    if (rc || (!b.data && sl_buf_reserve(&b, 1))) {
        sl_buf_free(&b);
        return -SL_ENOMEM;
    }
    *out = sl_buf_steal(&b, out_len);
    return 0;
}

/* ---- open / close -------------------------------------------------------------------------- */

void sl_sql_config_defaults(sl_sql_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->checkpoint_interval_ms = 1000;
    cfg->memory_limit = 512ull << 20;
    cfg->max_result_rows = 100000;
    cfg->batch_events = 16384;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->scan_threads = cpus > 0 ? (size_t)(cpus < 16 ? cpus : 16) : 1;
}

static int mkdir_p(const char *path) {
    if (mkdir(path, 0755) && errno != EEXIST) return -1;
    return 0;
}

static void restore(sl_sql_t *s) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/catalog", s->dir);
    char *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc) {
        if (rc < 0) sl_error("sql: cannot read %s: %s", path, strerror(errno));
        return;
    }
    s->restoring = 1;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char kind[16], name[300];
        size_t tlen;
        int used = 0;
        if (sscanf(p, "%15s %299s %zu\n%n", kind, name, &tlen, &used) != 3 || !used || (size_t)(end - p - used) < tlen) {
            sl_error("sql: %s is damaged at byte %zu; the rest of it is ignored", path, (size_t)(p - buf));
            break;
        }
        const char *text = p + used, *entry = p;
        p += used + tlen + 1;
        sl_arena_t a;
        sl_arena_init(&a);
        sl_ast_stmt_t *stmts;
        size_t n;
        sl_sql_error_t err;
        exec_out_t o;
        memset(&o, 0, sizeof(o));
        o.status = 200;
        int ok = 0;
        if (sl_sql_parse(&a, text, tlen, &stmts, &n, &err) || n != 1) {
            sl_error("sql: cannot restore %s %s: %s", kind, name, err.message);
        } else {
            exec_stmt(s, &stmts[0], 1, &o, strcmp(kind, "stream") ? name : NULL);
            if (o.status != 200)
                sl_error("sql: cannot restore %s %s: %.*s; its definition stays in %s", kind, name,
                         (int)o.error.len, o.error.data, path);
            else
                ok = 1;
            if (ok) sl_info("sql: restored %s %s", kind, name);
        }
        if (!ok) sl_buf_append(&s->unrestored, entry, (size_t)(p - entry) <= (size_t)(end - entry) ? (size_t)(p - entry) : (size_t)(end - entry));
        sl_buf_free(&o.results);
        sl_buf_free(&o.error);
        sl_arena_free(&a);
    }
    s->restoring = 0;
    free(buf);
}

int sl_sql_open(sl_engine_t *e, uv_loop_t *loop, const sl_sql_config_t *cfg, sl_sql_t **out) {
    sl_sql_t *s = calloc(1, sizeof(*s));
    if (!s) return -SL_ENOMEM;
    s->e = e;
    s->loop = loop;
    s->cfg = *cfg;
    if (!s->cfg.checkpoint_interval_ms) s->cfg.checkpoint_interval_ms = 1000;
    if (!s->cfg.max_result_rows) s->cfg.max_result_rows = 100000;
    if (!s->cfg.batch_events) s->cfg.batch_events = 16384;
    size_t n = strlen(cfg->data_dir) + 32;
    char *ck = malloc(n + 16);
    s->dir = malloc(n);
    if (!s->dir || !ck) {
        free(ck);
        free(s->dir);
        free(s);
        return -SL_ENOMEM;
    }
    snprintf(s->dir, n, "%s/sql", cfg->data_dir);
    snprintf(ck, n + 16, "%s/checkpoints", s->dir);
    if (mkdir_p(s->dir) || mkdir_p(ck)) {
        sl_error("sql: cannot create %s: %s", ck, strerror(errno));
        free(ck);
        free(s->dir);
        free(s);
        return -SL_EIO;
    }
    free(ck);
    s->cat.ud = s;
    s->cat.stream = cat_stream;
    s->cat.view = cat_view;
    restore(s);
    *out = s;
    return 0;
}

/* Closing: wait until no batch runs and no sink append is in flight, checkpoint every query,
 * free the jobs (their timers close asynchronously), then the service. */
static void close_step(sl_sql_t *s) {
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i]->busy || s->jobs[i]->flush_inflight == 1) return;
    if (s->njobs) {
        job_t **jobs = s->jobs;
        size_t n = s->njobs;
        s->jobs = NULL;
        s->njobs = 0;
        for (size_t i = 0; i < n; i++) {
            job_t *j = jobs[i];
            cancel_watches(j);
            if (!j->error && !j->dropping) {
                sl_query_stats_t qs;
                sl_query_stats(j->q, &qs);
                int ok = 1;
                if (!j->view) {
                    for (uint32_t p = 0; p < j->sink_parts && ok; p++) {
                        sl_partition_stats_t ps;
                        if (sl_partition_stats(s->e, j->sink_topic, p, &ps)) ok = 0;
                        else j->base[p] = ps.latest_offset;
                    }
                    /* unflushed records (a failed append) stay ahead of the new ones */
                    sl_buf_append(&j->flushing, j->pending.data, j->pending.len);
                    j->nflushing += j->npending;
                }
                if (ok && (qs.events_in != j->ckpt_events || j->nflushing) && write_checkpoint(j))
                    sl_error("sql: query %s: final checkpoint failed: %s", j->name, j->ckpt_err);
            }
            job_free(j);
        }
        free(jobs);
    }
    free(s->jobs); /* an emptied array (every query dropped) */
    s->jobs = NULL;
    if (s->live_jobs) return; /* job_final_free calls close_step again */
    for (size_t i = 0; i < s->nstreams; i++) {
        free(s->streams[i]->name);
        free(s->streams[i]->text);
        sl_arena_free(&s->streams[i]->arena);
        free(s->streams[i]);
    }
    free(s->streams);
    s->streams = NULL;
    s->nstreams = 0;
    sl_buf_free(&s->unrestored);
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;
    if (!cb) return;
    s->close_cb = NULL;
    free(s->dir);
    free(s);
    cb(arg);
}

void sl_sql_close(sl_sql_t *s, void (*cb)(void *arg), void *arg) {
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    for (size_t i = 0; i < s->njobs; i++) {
        cancel_watches(s->jobs[i]);
        uv_timer_stop(&s->jobs[i]->timer);
    }
    close_step(s);
}
