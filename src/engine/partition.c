/* One partition at run time: its log, group commit and the requests waiting on it.
 *
 * Group commit: appends happen on the loop thread as requests arrive. At most one fdatasync
 * job per partition runs on libuv's thread pool; whatever was appended while it ran is
 * covered by the next one, so one fsync acknowledges every request that arrived meanwhile.
 * Waiters are kept in a FIFO ordered by target offset; when a job finishes, the durable
 * offset moves and every waiter at or below it is released, and long-poll watches fire. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "engine/internal.h"

int sl__partition_open(sl_engine_t *e, sl_topic_t *t, uint32_t id, const char *dir,
                       sl_partition_t **out) {
    sl_partition_t *p = calloc(1, sizeof(*p));
    if (!p) return -SL_ENOMEM;
    p->e = e;
    p->topic = t;
    p->id = id;
    sl_log_config_t lc = {
        .segment_bytes = t && t->cfg.segment_bytes ? t->cfg.segment_bytes : e->cfg.segment_bytes,
        .segment_ms = t && t->cfg.segment_ms ? t->cfg.segment_ms : e->cfg.segment_ms,
    };
    int rc = sl_log_open(dir, &lc, e->unclean, &p->log);
    if (rc) {
        free(p);
        return rc;
    }
    /* With fsync=always the sync job writes and syncs; the loop thread makes no write calls
     * (a write that meets a journal commit can stall for milliseconds). */
    p->log->queue_writes = e->cfg.fsync == SL_FSYNC_ALWAYS;
    *out = p;
    return 0;
}

static void fire_watch(sl_watch_t *w, int status);

void sl__partition_fail_all(sl_partition_t *p, int status) {
    while (p->wq_len) {
        waiter_t *w = &p->waiters[p->wq_head];
        p->wq_head = (p->wq_head + 1) % p->wq_cap;
        p->wq_len--;
        if (!w->req->status) w->req->status = status;
        if (--w->req->pending == 0) sl__ready_push(p->e, w->req);
    }
    while (p->watches) fire_watch(p->watches, status);
}

void sl__partition_free(sl_partition_t *p, int destroy) {
    assert(!p->sync_running);
    sl__partition_fail_all(p, -SL_ECLOSED);
    if (destroy) sl_log_destroy(p->log);
    else sl_log_close(p->log);
    free(p->waiters);
    free(p);
}

int sl__partition_append(sl_partition_t *p, char *batch, size_t len, sl_log_mark_t *mark,
                         int64_t *base) {
    int rc = sl_log_append_owned(p->log, batch, len, sl_now_ms(), mark, base);
    if (rc == 0 && p->e->cfg.fsync != SL_FSYNC_ALWAYS) {
        /* Without fsync per request, what is written is what readers and acks see. */
        p->log->durable_offset = p->log->next_offset;
    }
    return rc;
}

int sl__partition_wait(sl_partition_t *p, produce_req_t *r, int64_t target) {
    if (p->log->durable_offset >= target) return 0;
    if (p->wq_len == p->wq_cap) {
        size_t cap = p->wq_cap ? p->wq_cap * 2 : 16;
        waiter_t *q = malloc(cap * sizeof(*q));
        if (!q) return -SL_ENOMEM;
        for (size_t i = 0; i < p->wq_len; i++) q[i] = p->waiters[(p->wq_head + i) % p->wq_cap];
        free(p->waiters);
        p->waiters = q;
        p->wq_cap = cap;
        p->wq_head = 0;
    }
    assert(p->wq_len == 0 ||
           p->waiters[(p->wq_head + p->wq_len - 1) % p->wq_cap].target <= target);
    p->waiters[(p->wq_head + p->wq_len) % p->wq_cap] = (waiter_t){r, target};
    p->wq_len++;
    r->pending++;
    return 0;
}

/* ---- watches (long polls) ------------------------------------------------------------------- */

static void watch_unlink(sl_watch_t *w) {
    if (!w->p) return;
    if (w->prev) w->prev->next = w->next;
    else w->p->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    w->p = NULL;
    w->prev = w->next = NULL;
}

static void free_group_watch(sl_watch_t *parent) {
    for (size_t i = 0; i < parent->nchildren; i++) {
        watch_unlink(parent->children[i]);
        free(parent->children[i]);
    }
    free(parent->children);
    free(parent);
}

static void fire_watch(sl_watch_t *w, int status) {
    watch_unlink(w);
    sl_watch_t *top = w->parent ? w->parent : w;
    sl_watch_cb cb = top->cb;
    void *ud = top->ud;
    if (w->parent) free_group_watch(w->parent);
    else free(w);
    cb(ud, status);
}

void sl__partition_published(sl_partition_t *p) {
    int64_t durable = p->log->durable_offset;
    while (p->wq_len && p->waiters[p->wq_head].target <= durable) {
        produce_req_t *r = p->waiters[p->wq_head].req;
        p->wq_head = (p->wq_head + 1) % p->wq_cap;
        p->wq_len--;
        if (--r->pending == 0) sl__ready_push(p->e, r);
    }
    /* Fire watches for offsets now readable. A callback may add new watches (at the head), so
     * restart from the head after each one; each pass removes the watch it fires. */
    for (;;) {
        sl_watch_t *w = p->watches;
        while (w && w->offset >= durable) w = w->next;
        if (!w) break;
        fire_watch(w, 0);
    }
}

int sl__watch_partition(sl_partition_t *p, int64_t offset, sl_watch_cb cb, void *ud,
                        sl_watch_t *parent, sl_watch_t **out) {
    sl_watch_t *w = calloc(1, sizeof(*w));
    if (!w) return -SL_ENOMEM;
    w->e = p->e;
    w->offset = offset;
    w->cb = cb;
    w->ud = ud;
    w->parent = parent;
    w->p = p;
    w->next = p->watches; /* at the head of the partition's list */
    if (p->watches) p->watches->prev = w;
    p->watches = w;
    *out = w;
    return 0;
}

void sl_watch_cancel(sl_watch_t *w) {
    if (!w) return;
    if (w->children || w->nchildren) {
        free_group_watch(w);
        return;
    }
    watch_unlink(w);
    free(w);
}

/* ---- sync ----------------------------------------------------------------------------------- */

static void sync_work(uv_work_t *req) {
    sl_partition_t *p = req->data;
    sl_log_sync_run(&p->job);
}

static void sync_after(uv_work_t *req, int status) {
    sl_partition_t *p = req->data;
    sl_engine_t *e = p->e;
    (void)status;
    p->sync_running = 0;
    e->syncs_running--;
    e->stats.fsyncs++;
    e->stats.fsync_ns_total += p->job.ns;
    int rc = sl_log_sync_finish(p->log, &p->job);
    if (p->replicated) {
        sl__replica_synced(p, rc);
    } else if (rc) {
        sl__partition_fail_all(p, -SL_EIO);
    } else {
        sl__partition_published(p);
        if (!e->closing && e->cfg.fsync == SL_FSYNC_ALWAYS) sl__partition_kick(p);
    }
    if (e->closing && e->syncs_running == 0) {
        sl__engine_close_continue(e); /* engine.c finishes the close */
    }
}

void sl__partition_kick_prepared(sl_partition_t *p) {
    p->sync_running = 1;
    p->e->syncs_running++;
    p->work.data = p;
    uv_queue_work(p->e->loop, &p->work, sync_work, sync_after);
}

void sl__partition_kick(sl_partition_t *p) {
    if (p->sync_running) return;
    int rc = sl_log_sync_prepare(p->log, &p->job);
    if (rc < 0) {
        sl_error("sync prepare: %s", sl_strerror(rc));
        return;
    }
    if (rc == 0) {
        sl__partition_published(p);
        return;
    }
    p->sync_running = 1;
    p->e->syncs_running++;
    p->work.data = p;
    uv_queue_work(p->e->loop, &p->work, sync_work, sync_after);
}

void sl__partition_sync_now(sl_partition_t *p) {
    assert(!p->sync_running);
    if (sl_log_sync_prepare(p->log, &p->job) == 1) {
        sl_log_sync_run(&p->job);
        if (sl_log_sync_finish(p->log, &p->job)) sl__partition_fail_all(p, -SL_EIO);
    }
    sl__partition_published(p);
}

/* ---- reads ---------------------------------------------------------------------------------- */

/* Decodes durable records from offset on into res (which owns the bytes read), at most
 * max_count and, after the first, max_bytes of keys and values (*used gets how many).
 * res->next_offset is where to continue; 0 records means nothing durable there yet. */
int sl__partition_read(sl_partition_t *p, int64_t offset, size_t max_count, size_t max_bytes,
                       sl_fetch_result_t *res, size_t *used) {
    int rc;
    size_t cap = 0;
    *used = 0;
    res->next_offset = offset;
    sl_buf_t *buf = calloc(1, sizeof(*buf));
    if (!buf) return -SL_ENOMEM;
    res->priv_ = buf;
    if ((rc = sl_log_read(p->log, offset, max_bytes, buf))) goto failed;
    for (size_t pos = 0; pos < buf->len && res->count < max_count;) {
        sl_batch_header_t h;
        if (sl_batch_parse_header(buf->data + pos, buf->len - pos, &h)) {
            rc = -SL_ECORRUPT;
            goto failed;
        }
        sl_batch_iter_t it;
        sl_batch_record_t r;
        sl_batch_iter_init(&it, buf->data + pos, &h);
        while (res->count < max_count && (rc = sl_batch_iter_next(&it, &r)) == 1) {
            if (r.offset < offset) continue;
            if (res->count > 0 && *used + (size_t)r.value_len + (size_t)r.key_len > max_bytes) {
                rc = 0;
                pos = buf->len; /* full: at least one record, then up to max_bytes of keys and values */
                break;
            }
            if (res->count == cap) {
                cap = cap ? cap * 2 : 64;
                sl_fetched_t *v = realloc(res->recs, cap * sizeof(*v));
                if (!v) {
                    rc = -SL_ENOMEM;
                    goto failed;
                }
                res->recs = v;
            }
            res->recs[res->count++] = (sl_fetched_t){r.offset, r.timestamp, r.key, (size_t)r.key_len,
                                                     r.value, (size_t)r.value_len};
            *used += (size_t)r.value_len + (size_t)r.key_len;
            res->next_offset = r.offset + 1;
        }
        if (rc < 0) goto failed;
        if (pos < buf->len) pos += sl_batch_size(&h);
    }
    return 0;
failed:
    sl_fetch_result_free(res);
    return rc;
}
