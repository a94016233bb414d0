/* The engine's face towards cluster/: partitions replicated by Raft.
 *
 * A replicated partition's log is the Raft group's state machine. Batches reach it only
 * through sl_replica_append, in Raft's commit order, on every replica alike; they are visible
 * to readers at once (they are committed: a majority holds them fsynced in its Raft log) and
 * are fsynced lazily, when the group takes a snapshot (sl_replica_sync), since the Raft log
 * covers them until then. Calls are made on the engine's loop thread. */
#ifndef SL_ENGINE_REPLICA_H
#define SL_ENGINE_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sluice.h"

typedef struct sl_partition sl_replica_t;

/* The partition as a replica: from now on it takes no produce calls and is not fsynced per
 * append. -SL_ENOTFOUND / -SL_ERANGE. */
int sl_replica_get(sl_engine_t *e, const char *topic, uint32_t partition, sl_replica_t **out);
/* Appends an encoded batch (copied; its base offset is set to the log's end). With
 * expect_base >= 0 the batch must start there (a copied batch) and its CRC is checked.
 * *base gets its base offset. 0 or -SL_E*. */
int sl_replica_append(sl_replica_t *r, const char *batch, size_t len, int64_t expect_base,
                      int64_t *base);
int64_t sl_replica_end(sl_replica_t *r);      /* next offset */
int64_t sl_replica_start(sl_replica_t *r);    /* first offset held */
/* The CRC and record count of the batch starting at offset (-SL_ENOTFOUND if none does). */
int sl_replica_batch_at(sl_replica_t *r, int64_t offset, uint32_t *crc, uint32_t *count);
/* The first batch from `from` on whose header or CRC is bad: 1 (*bad set), 0 none. */
int sl_replica_find_corrupt(sl_replica_t *r, int64_t from, int64_t *bad);
/* Cuts the log back to end at offset (a batch boundary). */
int sl_replica_truncate(sl_replica_t *r, int64_t offset);
/* Deletes every segment and starts the log afresh at offset (a replica too far behind, whose
 * copy starts where the leader's log starts). */
int sl_replica_reset(sl_replica_t *r, int64_t offset);
/* Whole batches from the one holding offset on, up to about max_bytes, CRC-checked. */
int sl_replica_read(sl_replica_t *r, int64_t offset, size_t max_bytes, sl_buf_t *out);
/* Starts (or keeps going) background fdatasync jobs on the thread pool. */
void sl_replica_sync_background(sl_replica_t *r);
/* Makes everything appended so far durable now, blocking (fdatasync of the segments the
 * background jobs have not covered yet; usually only the tail). 0 or -SL_EIO. */
int sl_replica_sync(sl_replica_t *r);
/* The same sync done on another thread: fills fds with duplicates of the descriptors to sync
 * (the segments the background jobs have not covered yet, then the directory if it changed),
 * up to cap; returns how many, or -SL_EIO / -SL_ETOOBIG (more than cap: sync here instead).
 * The caller runs sl_replica_sync_fds_run on them, from any thread, and closes them. */
int sl_replica_sync_fds(sl_replica_t *r, int *fds, size_t cap);
int sl_replica_sync_fds_run(const int *fds, size_t n); /* 0 or -SL_EIO */

#endif
