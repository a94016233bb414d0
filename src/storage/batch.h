/* Kafka RecordBatch v2: the on-disk (and later on-the-wire) unit of the partition log. */
#ifndef SL_STORAGE_BATCH_H
#define SL_STORAGE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SL_BATCH_HEADER_SIZE 61
#define SL_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength: bytes not counted in batchLength */
#define SL_BATCH_MAGIC 2
#define SL_BATCH_MAX_BYTES (64u << 20) /* a sanity bound for recovery and decoding */

typedef struct sl_batch_header {
    int64_t base_offset;
    int32_t length;            /* batchLength: bytes after the length field */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t count;
} sl_batch_header_t;

typedef struct sl_batch_record {
    int64_t offset;            /* absolute: base_offset + offset delta */
    int64_t timestamp;         /* absolute: base_timestamp + timestamp delta */
    const char *key;           /* NULL if the key is null (length -1) */
    int32_t key_len;
    const char *value;         /* NULL if null */
    int32_t value_len;
    int32_t header_count;
} sl_batch_record_t;

/* Builder: records are appended into out (after a reserved header); finish writes the header
 * and CRC. base_offset is written as 0: the log patches it at append time (the CRC does not
 * cover it). */
typedef struct sl_batch_builder {
    sl_buf_t *out;
    size_t start;              /* where the batch begins in out */
    int32_t count;
    int64_t base_ts, max_ts;
} sl_batch_builder_t;

int sl_batch_begin(sl_batch_builder_t *b, sl_buf_t *out);
int sl_batch_add(sl_batch_builder_t *b, int64_t timestamp, const char *key, int32_t key_len,
                 const char *value, int32_t value_len);
/* Finishes the batch; returns 0 or -SL_E*. The batch is out->data[start .. out->len). */
int sl_batch_finish(sl_batch_builder_t *b);

/* Patches the base offset of an encoded batch in place. */
void sl_batch_set_base_offset(char *batch, int64_t base_offset);

/* Parses the fixed header of the batch at p (avail bytes there). Returns 0, or -SL_ECORRUPT
 * if the header is malformed (bad magic, length out of bounds), or -SL_ERANGE if avail is
 * shorter than the batch claims (a torn tail, or more bytes are needed). */
int sl_batch_parse_header(const char *p, size_t avail, sl_batch_header_t *h);
/* Checks the CRC32C of a whole batch of which the header was parsed. 0 or -SL_ECORRUPT. */
int sl_batch_check_crc(const char *p, const sl_batch_header_t *h);
/* Total bytes of the batch on disk. */
static inline size_t sl_batch_size(const sl_batch_header_t *h) {
    return (size_t)h->length + SL_BATCH_LOG_OVERHEAD;
}

/* Iterates over the records of a parsed, CRC-checked batch. */
typedef struct sl_batch_iter {
    const unsigned char *p, *end;
    sl_batch_header_t h;
    int32_t index;
} sl_batch_iter_t;
void sl_batch_iter_init(sl_batch_iter_t *it, const char *batch, const sl_batch_header_t *h);
/* 1 and *r filled; 0 at the end; -SL_ECORRUPT on a malformed record. */
int sl_batch_iter_next(sl_batch_iter_t *it, sl_batch_record_t *r);

#endif
