/* One segment of a partition log: <base offset, 20 digits>.log holding record batches, with a
 * sparse offset index (.index) and time index (.timeindex) beside it. Internal to storage/. */
#ifndef SL_STORAGE_SEGMENT_H
#define SL_STORAGE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include "storage/batch.h"

/* Batches waiting to be written, each a malloc'ed buffer owned by the list. */
typedef struct sl_chunks {
    struct iovec *iov;
    size_t n, cap;
    uint64_t bytes;
} sl_chunks_t;

/* One sparse-index point: the batch starting at file position pos has base offset
 * base + rel, and max_ts is the largest timestamp in the segment up to and including it. */
typedef struct sl_index_entry {
    uint32_t rel;
    uint32_t pos;
    int64_t max_ts;
} sl_index_entry_t;

typedef struct sl_segment {
    int64_t base_offset;       /* offset of its first record (also in the file name) */
    int64_t next_offset;       /* one past its last record */
    int fd;
    uint64_t size;             /* bytes of whole batches, including those still queued */
    uint64_t written;          /* bytes handed to the file (pwrite done or in flight) */
    uint64_t readable;         /* bytes known to be in the file: reads stop here */
    uint64_t synced;           /* bytes known to be on disk */
    sl_chunks_t pend;          /* queued batches: file bytes [written, size) */
    uint64_t reserved;         /* allocated with fallocate up to here */
    uint64_t zeroed;           /* the file holds written bytes (data or zeros) up to here */
    int64_t max_ts;            /* largest record timestamp, -1 if empty */
    int64_t created_ms;        /* when its first batch was written (for segment_ms) */
    sl_index_entry_t *idx;
    size_t idx_n, idx_cap;
    uint64_t bytes_since_index;
    int sync_ref;              /* > 0 while an fsync job holds its fd */
    int no_falloc;             /* fallocate unsupported by the filesystem */
    char *path;                /* the .log path */
} sl_segment_t;

#define SL_INDEX_INTERVAL_BYTES 4096
#define SL_SEGMENT_PREALLOC (1u << 20)

/* Creates a new, empty segment file (O_EXCL unless it exists empty). */
int sl_segment_create(const char *dir, int64_t base_offset, sl_segment_t **out);
/* Opens an existing segment and loads or rebuilds its index. With check_all, every batch is
 * read and CRC-checked (the tail after a crash); a torn or corrupt tail is cut off and the
 * bytes cut are reported in *truncated. */
int sl_segment_open(const char *dir, int64_t base_offset, int check_all, uint64_t *truncated,
                    sl_segment_t **out);
/* Appends an encoded batch (base offset already set). Space is reserved first (a full disk
 * fails here). With queue, the bytes wait in s->pend for the next sync job to write them (no
 * syscall on the caller's thread); otherwise they are written now. On failure nothing of the
 * batch is left. */
int sl_segment_append(sl_segment_t *s, char *batch, size_t len, const sl_batch_header_t *h,
                      int queue, int owned);
/* With owned, batch is a malloc'ed buffer that the segment takes on success (queued, or freed
 * once written); on failure the caller keeps it. */
void sl_chunks_free(sl_chunks_t *c);
/* Undoes appends: drops queued bytes or cuts the file back to size, and index entries past it. */
int sl_segment_truncate(sl_segment_t *s, uint64_t size, int64_t next_offset, int64_t max_ts);
/* File position of the batch holding offset (or the first one after), from the index. */
uint64_t sl_segment_lookup(const sl_segment_t *s, int64_t offset);
/* Writes .index and .timeindex (not fsynced: they are rebuilt when missing or stale). */
int sl_segment_write_index(sl_segment_t *s);
/* Closes the files; with unlink_files removes .log, .index and .timeindex too. */
void sl_segment_close(sl_segment_t *s, int unlink_files);
/* Drops reserved-but-unused space at the end (when the segment stops being active). */
void sl_segment_trim(sl_segment_t *s);

#endif
