/* murmur2 as Kafka's Utils.murmur2 computes it (so a Kafka client picks the same partition for
 * the same key), and a small string hash for in-memory tables. */
#include "core/hash.h"

int32_t sl_murmur2(const void *data, size_t len) {
    const unsigned char *p = data;
    const uint32_t seed = 0x9747b28cu, m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        size_t j = i * 4;
        uint32_t k = (uint32_t)p[j] | (uint32_t)p[j + 1] << 8 | (uint32_t)p[j + 2] << 16 |
                     (uint32_t)p[j + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    size_t tail = len & ~(size_t)3;
    switch (len % 4) {
    case 3: h ^= (uint32_t)p[tail + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)p[tail + 1] << 8;  /* fall through */
    case 1:
        h ^= p[tail];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

uint32_t sl_kafka_partition(const void *key, size_t len, uint32_t partitions) {
    return ((uint32_t)sl_murmur2(key, len) & 0x7fffffffu) % partitions;
}

uint64_t sl_hash_str(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
