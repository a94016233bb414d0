/* CRC32C (Castagnoli), as Kafka's RecordBatch v2 uses it. */
#ifndef SL_CORE_CRC32C_H
#define SL_CORE_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over buf[0..len). Uses SSE4.2 when the CPU has it. */
uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table-driven path, exposed so tests can compare both. */
uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
