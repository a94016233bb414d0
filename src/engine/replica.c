/* Partitions replicated by Raft (engine/replica.h). */
#include "engine/replica.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "engine/internal.h"

int sl_replica_get(sl_engine_t *e, const char *topic, uint32_t partition, sl_replica_t **out) {
    sl_topic_t *t = sl__topic_find(e, topic);
    if (!t || t->deleting) return -SL_ENOTFOUND;
    if (partition >= t->cfg.partitions) return -SL_ERANGE;
    sl_partition_t *p = t->parts[partition];
    if (!p->replicated) {
        p->replicated = 1;
        /* Raft's log is what makes an event durable: the partition log writes at once (no
         * queueing for a sync job) and is fsynced at snapshots. */
        if (p->log->queue_writes && !p->sync_running) sl__partition_sync_now(p);
        p->log->queue_writes = 0;
        p->log->durable_offset = p->log->next_offset;
    }
    *out = p;
    return 0;
}

int sl_replica_append(sl_replica_t *p, const char *batch, size_t len, int64_t expect_base,
                      int64_t *base) {
    sl_batch_header_t h;
    if (len < SL_BATCH_HEADER_SIZE || sl_batch_parse_header(batch, len, &h) || sl_batch_size(&h) != len)
        return -SL_ECORRUPT;
    if (expect_base >= 0) {
        if (h.base_offset != expect_base || expect_base != p->log->next_offset) return -SL_EINVAL;
        if (sl_batch_check_crc(batch, &h)) return -SL_ECORRUPT;
    }
    char *copy = malloc(len);
    if (!copy) return -SL_ENOMEM;
    memcpy(copy, batch, len);
    sl_log_mark_t mark;
    int rc = sl_log_append_owned(p->log, copy, len, sl_now_ms(), &mark, base);
    if (rc) {
        free(copy);
        return rc;
    }
    p->log->durable_offset = p->log->next_offset;
    p->e->stats.batches++;
    p->e->stats.bytes_in += len;
    p->e->stats.events_in += (uint64_t)h.last_offset_delta + 1;
    sl__partition_published(p);
    return 0;
}

int64_t sl_replica_end(sl_replica_t *p) { return p->log->next_offset; }

int sl_replica_batch_at(sl_replica_t *p, int64_t offset, uint32_t *crc, uint32_t *count) {
    sl_batch_header_t h;
    int rc = sl_log_batch_at(p->log, offset, &h);
    if (rc) return rc;
    int64_t bad; /* the header alone does not tell a damaged body: check the whole batch */
    if (sl_log_find_corrupt(p->log, offset, offset + 1, &bad) == 1) return -SL_ECORRUPT;
    *crc = h.crc;
    *count = (uint32_t)h.last_offset_delta + 1;
    return 0;
}

int64_t sl_replica_start(sl_replica_t *p) { return sl_log_start_offset(p->log); }

int sl_replica_find_corrupt(sl_replica_t *p, int64_t from, int64_t *bad) {
    return sl_log_find_corrupt(p->log, from, p->log->next_offset, bad);
}

int sl_replica_truncate(sl_replica_t *p, int64_t offset) {
    if (p->sync_running) return -SL_EIO;
    return sl_log_truncate(p->log, offset);
}

int sl_replica_reset(sl_replica_t *p, int64_t offset) {
    if (p->sync_running) return -SL_EIO;
    return sl_log_reset(p->log, offset);
}

int sl_replica_read(sl_replica_t *p, int64_t offset, size_t max_bytes, sl_buf_t *out) {
    return sl_log_read(p->log, offset, max_bytes, out);
}

void sl__replica_synced(sl_partition_t *p, int status) {
    if (status) {
        sl_error("%s: fdatasync failed; the replica takes no more writes until restart", p->log->dir);
        return;
    }
    /* Keep syncing while there is more: the tail stays close to disk, so a snapshot's own
     * sync (sl_replica_sync) has little left to do. */
    if (!p->e->closing) sl__partition_kick(p);
}

void sl_replica_sync_background(sl_replica_t *p) {
    if (!p->sync_running && !p->e->closing) sl__partition_kick(p);
}

int sl_replica_sync_fds(sl_replica_t *p, int *fds, size_t cap) {
    sl_log_t *log = p->log;
    if (log->failed) return -SL_EIO;
    size_t n = 0;
    int rc = 0;
    for (size_t i = log->nsegs; i-- > 0 && !rc;) {
        sl_segment_t *s = log->segs[i];
        if (s->synced >= s->size) {
            if (i + 1 < log->nsegs) break;
            continue;
        }
        if (n == cap) rc = -SL_ETOOBIG;
        else if ((fds[n] = dup(s->fd)) < 0) rc = -SL_EIO;
        else n++;
    }
    if (!rc && log->dir_dirty) {
        if (n == cap) rc = -SL_ETOOBIG;
        else if ((fds[n] = dup(log->dir_fd)) < 0) rc = -SL_EIO;
        else n++;
    }
    if (rc) {
        while (n) close(fds[--n]);
        return rc;
    }
    return (int)n;
}

int sl_replica_sync_fds_run(const int *fds, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fdatasync(fds[i])) {
            sl_error("fdatasync (a replica's log, for a snapshot): %s", strerror(errno));
            return -SL_EIO;
        }
    return 0;
}

int sl_replica_sync(sl_replica_t *p) {
    sl_log_t *log = p->log;
    if (log->failed) return -SL_EIO;
    for (size_t i = log->nsegs; i-- > 0;) {
        sl_segment_t *s = log->segs[i];
        if (s->synced >= s->size) {
            if (i + 1 < log->nsegs) break;
            continue;
        }
        if (fdatasync(s->fd)) {
            sl_error("fdatasync %s: %s", s->path, strerror(errno));
            return -SL_EIO;
        }
    }
    if (log->dir_dirty && fsync(log->dir_fd)) return -SL_EIO;
    return 0;
}
