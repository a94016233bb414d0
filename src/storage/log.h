/* A partition log: a directory of segments, appended at the tail, read anywhere, synced in
 * groups, trimmed by retention. Not thread-safe: one owner thread calls everything except
 * sl_log_sync_run, which runs on a worker while the owner goes on appending and reading. */
#ifndef SL_STORAGE_LOG_H
#define SL_STORAGE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "storage/batch.h"
#include "storage/segment.h"

typedef struct sl_log_config {
    uint64_t segment_bytes;    /* roll when the active segment would pass this */
    uint64_t segment_ms;       /* roll when the active segment's first write is this old */
} sl_log_config_t;

typedef struct sl_log {
    char *dir;
    sl_log_config_t cfg;
    sl_segment_t **segs;       /* ascending base offsets; the last one is active */
    size_t nsegs, cap;
    int64_t next_offset;       /* one past the last record written */
    int64_t durable_offset;    /* one past the last record that readers may see */
    int dir_fd;
    int dir_dirty;             /* a segment file was created or removed since the last sync */
    int sync_busy;             /* an fsync job is running */
    int failed;                /* an fsync failed: the log takes no more writes until reopened */
    int queue_writes;          /* appends wait in memory for the sync job to write them */
    uint64_t avg_job_bytes;    /* moving average of bytes written per sync job */
    uint64_t truncated_bytes;  /* cut off at open by recovery */
} sl_log_t;

/* Opens (creating the directory if needed) and recovers: segments are found, indexes loaded or
 * rebuilt, and the last segment (all of it when `unclean`) is CRC-checked and cut at the first
 * torn or corrupt batch. */
int sl_log_open(const char *dir, const sl_log_config_t *cfg, int unclean, sl_log_t **out);
/* Writes indexes and closes. The caller ensures no sync job runs. */
void sl_log_close(sl_log_t *log);
/* Closes and removes every file and the directory. */
void sl_log_destroy(sl_log_t *log);

/* Where the tail was before an append, to undo it (request atomicity across partitions). */
typedef struct sl_log_mark {
    sl_segment_t *seg;
    uint64_t size;
    int64_t next_offset, max_ts;
} sl_log_mark_t;

/* Appends one encoded batch (its base offset is set here); *base_offset gets it. On error
 * (-SL_ENOSPC, -SL_EIO, -SL_EFAILED) nothing of it is in the log. */
int sl_log_append(sl_log_t *log, char *batch, size_t len, int64_t now_ms, sl_log_mark_t *mark,
                  int64_t *base_offset);
/* The same for a malloc'ed batch that the log takes over on success (no copy when queued). */
int sl_log_append_owned(sl_log_t *log, char *batch, size_t len, int64_t now_ms,
                        sl_log_mark_t *mark, int64_t *base_offset);
/* Undoes the append that produced mark (only valid before anything else was appended). */
int sl_log_rollback(sl_log_t *log, const sl_log_mark_t *mark);

/* Group commit, in three steps: prepare (owner thread) picks what must be synced; run (any
 * thread) calls fdatasync; finish (owner thread) publishes the new durable offset. */
typedef struct sl_log_sync {
    sl_segment_t **segs;
    uint64_t *sizes;
    int *fds;
    size_t n;
    sl_chunks_t *writes;       /* queued batches to write first, per segment */
    uint64_t *positions;       /* where they go */
    int zero_fd;               /* -1, or write zeros ahead of the tail's data: */
    uint64_t zero_from, zero_to;
    sl_segment_t *zero_seg;
    int dir_fd;                /* -1 unless the directory must be synced */
    int64_t target;            /* durable offset once this job succeeds */
    int err;                   /* errno of a failed sync */
    uint64_t ns;               /* time spent syncing */
} sl_log_sync_t;
/* 1 if there is something to sync (job filled), 0 if not, -SL_ENOMEM. */
int sl_log_sync_prepare(sl_log_t *log, sl_log_sync_t *job);
void sl_log_sync_run(sl_log_sync_t *job);
/* 0, or -SL_EIO when the sync failed (the log is then marked failed). */
int sl_log_sync_finish(sl_log_t *log, sl_log_sync_t *job);

/* Reads whole batches holding records from `offset` on, up to about max_bytes (at least one
 * batch), never past durable_offset, CRC-checked. out gets the batch bytes; *first_offset
 * and the batches let the caller skip records before offset. 0 with out->len == 0 means no
 * record at or after offset yet. -SL_ECORRUPT if a stored batch fails its CRC. */
int sl_log_read(sl_log_t *log, int64_t offset, size_t max_bytes, sl_buf_t *out);

int64_t sl_log_start_offset(const sl_log_t *log);
uint64_t sl_log_bytes(const sl_log_t *log);

/* Cuts the log back so that `offset` (a batch boundary, or the current end) is the next offset:
 * later segments are deleted and the one holding offset is cut there. Used when a replica
 * restores a Raft snapshot older than what it applied. -SL_EINVAL if offset is not the start
 * of a batch; -SL_EIO while a sync job runs. */
int sl_log_truncate(sl_log_t *log, int64_t offset);

/* The header of the batch starting at offset: 0, -SL_ENOTFOUND (no batch starts there), -SL_EIO. */
int sl_log_batch_at(sl_log_t *log, int64_t offset, sl_batch_header_t *h);

/* Checks the batches holding offsets [from, to) (header and CRC): 1 with *bad = the first bad
 * batch's offset, 0 if all are good, -SL_ENOMEM. */
int sl_log_find_corrupt(sl_log_t *log, int64_t from, int64_t to, int64_t *bad);

/* Deletes every segment and starts empty at offset. */
int sl_log_reset(sl_log_t *log, int64_t offset);

/* Starts a new segment now (if the active one holds anything). */
int sl_log_roll(sl_log_t *log);
/* Deletes whole segments that end at or before offset (never the active one, never one an
 * fsync job holds). Returns how many were deleted. */
int sl_log_drop_before(sl_log_t *log, int64_t offset);

/* Deletes whole old segments (never the active one) past the limits (< 0 = no limit).
 * Returns how many segments were deleted. */
int sl_log_retain(sl_log_t *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes);

#endif
