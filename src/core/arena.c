/* Arenas (see arena.h). Chunks grow geometrically from 4 KiB up to 1 MiB; a request larger than
 * a chunk gets a chunk of its own. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sl_arena_chunk {
    sl_arena_chunk_t *next;
    size_t size;                /* usable bytes after the header */
    max_align_t data[];
};

#define ARENA_MIN 4096
#define ARENA_MAX (1u << 20)

void sl_arena_init(sl_arena_t *a) {
    a->head = NULL;
    a->p = a->end = NULL;
    a->bytes = 0;
}

void *sl_arena_alloc(sl_arena_t *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (n == 0) n = 8;
    if ((size_t)(a->end - a->p) >= n && a->p) {
        void *r = a->p;
        a->p += n;
        return r;
    }
    size_t size = a->head ? a->head->size * 2 : ARENA_MIN;
    if (size > ARENA_MAX) size = ARENA_MAX;
    if (size < n) size = n;
    sl_arena_chunk_t *c = malloc(sizeof(*c) + size);
    if (!c) return NULL;
    c->size = size;
    c->next = a->head;
    a->head = c;
    a->bytes += sizeof(*c) + size;
    a->p = (char *)c->data + n;
    a->end = (char *)c->data + size;
    return c->data;
}

void *sl_arena_zalloc(sl_arena_t *a, size_t n) {
    void *p = sl_arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t n) {
    char *r = sl_arena_alloc(a, n + 1);
    if (!r) return NULL;
    if (n) memcpy(r, s, n);
    r[n] = 0;
    return r;
}

void sl_arena_reset(sl_arena_t *a) {
    if (!a->head) return;
    sl_arena_chunk_t *keep = a->head, *c = keep->next;
    while (c) {
        sl_arena_chunk_t *next = c->next;
        a->bytes -= sizeof(*c) + c->size;
        free(c);
        c = next;
    }
    keep->next = NULL;
    a->p = (char *)keep->data;
    a->end = a->p + keep->size;
}

void sl_arena_free(sl_arena_t *a) {
    sl_arena_chunk_t *c = a->head;
    while (c) {
        sl_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    sl_arena_init(a);
}
