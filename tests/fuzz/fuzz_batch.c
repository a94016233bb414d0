/* libFuzzer target for the RecordBatch v2 codec (storage/batch): walks the input as back-to-back
 * batches the way recovery and reads do — parse the header, check the CRC, iterate the records —
 * from an exact-size copy, so any read past the end is caught by AddressSanitizer. Whatever
 * decodes whole is re-encoded with the builder and decoded again: the records must come back
 * field for field. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "storage/batch.h"

#define MAX_RECS 4096

static void check(int cond) {
    if (!cond) abort();
}

/* Re-encodes recs[0..n) and checks the result decodes to the same records. */
static void reencode(const sl_batch_record_t *recs, int32_t n) {
    sl_buf_t out = SL_BUF_INIT;
    sl_batch_builder_t b;
    check(sl_batch_begin(&b, &out) == 0);
    for (int32_t i = 0; i < n; i++)
        check(sl_batch_add(&b, recs[i].timestamp, recs[i].key, recs[i].key_len, recs[i].value,
                           recs[i].value_len) == 0);
    check(sl_batch_finish(&b) == 0);
    sl_batch_header_t h;
    check(sl_batch_parse_header(out.data, out.len, &h) == 0);
    check(sl_batch_size(&h) == out.len);
    check(sl_batch_check_crc(out.data, &h) == 0);
    check(h.count == n && h.last_offset_delta == n - 1 && h.magic == 2);
    sl_batch_iter_t it;
    sl_batch_record_t r;
    sl_batch_iter_init(&it, out.data, &h);
    for (int32_t i = 0; i < n; i++) {
        check(sl_batch_iter_next(&it, &r) == 1);
        check(r.offset == i);
        check(r.timestamp == recs[i].timestamp);
        check((r.key == NULL) == (recs[i].key == NULL));
        check(r.key_len == recs[i].key_len && r.value_len == recs[i].value_len);
        check((r.value == NULL) == (recs[i].value == NULL));
        if (r.key_len) check(memcmp(r.key, recs[i].key, (size_t)r.key_len) == 0);
        if (r.value_len) check(memcmp(r.value, recs[i].value, (size_t)r.value_len) == 0);
        check(r.header_count == 0);
    }
    check(sl_batch_iter_next(&it, &r) == 0);
    sl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    static sl_batch_record_t recs[MAX_RECS];
    size_t pos = 0;
    while (pos < size) {
        sl_batch_header_t h;
        int rc = sl_batch_parse_header(buf + pos, size - pos, &h);
        if (rc) {
            check(rc == -SL_ERANGE || rc == -SL_ECORRUPT);
            break;
        }
        size_t bs = sl_batch_size(&h);
        check(bs >= SL_BATCH_HEADER_SIZE && bs <= size - pos);
        int crc_ok = sl_batch_check_crc(buf + pos, &h) == 0;
        /* Iterate even when the CRC fails: the iterator must be safe on any bytes. */
        sl_batch_iter_t it;
        sl_batch_record_t r;
        sl_batch_iter_init(&it, buf + pos, &h);
        int32_t n = 0;
        int all_plain = 1;
        while ((rc = sl_batch_iter_next(&it, &r)) == 1) {
            const char *lo = buf + pos + SL_BATCH_HEADER_SIZE, *hi = buf + pos + bs;
            check(r.key_len >= 0 && r.value_len >= 0);
            if (r.key) check(r.key >= lo && r.key + r.key_len <= hi);
            if (r.value) check(r.value >= lo && r.value + r.value_len <= hi);
            check(r.offset >= h.base_offset && r.offset <= h.base_offset + h.last_offset_delta);
            if (r.header_count) all_plain = 0;
            if (n < MAX_RECS) recs[n] = r;
            n++;
        }
        check(rc == 0 || rc == -SL_ECORRUPT);
        check(n <= h.count);
        if (rc == 0 && crc_ok && all_plain && n > 0 && n <= MAX_RECS) reencode(recs, n);
        pos += bs;
    }
    free(buf);
    return 0;
}
