/* Hashes: murmur2 exactly as Kafka's default partitioner computes it. */
#ifndef SL_CORE_HASH_H
#define SL_CORE_HASH_H
#include <stddef.h>
#include <stdint.h>

/* org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit value. */
int32_t sl_murmur2(const void *data, size_t len);
/* Kafka's partition for a key: toPositive(murmur2(key)) % partitions. */
uint32_t sl_kafka_partition(const void *key, size_t len, uint32_t partitions);
/* FNV-1a 64, for hash tables of names. */
uint64_t sl_hash_str(const char *s, size_t len);

#endif
