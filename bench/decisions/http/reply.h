/* The reply every candidate server sends: about 40 bytes shaped like sluice's produce answer,
 * carrying the number of body bytes the server received so that the pipelining and chunked
 * checks can tell the responses apart and see that the whole body arrived. */
#ifndef BENCH_REPLY_H
#define BENCH_REPLY_H

#include <stdio.h>

static inline int bench_reply(char *out, size_t cap, size_t body_len)
{
    return snprintf(out, cap, "{\"offsets\":[1000000],\"received\":%zu}\n", body_len);
}

#endif
