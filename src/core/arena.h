/* Arenas: bump allocation from a chain of chunks, freed all at once (nginx's pools).
 * The SQL parser puts a statement's AST in one; the query engine puts the strings a batch of
 * events produces in one and resets it after the batch. */
#ifndef SL_CORE_ARENA_H
#define SL_CORE_ARENA_H
#include <stddef.h>

typedef struct sl_arena_chunk sl_arena_chunk_t;

typedef struct sl_arena {
    sl_arena_chunk_t *head;     /* newest chunk first */
    char *p, *end;              /* free space in head */
    size_t bytes;               /* bytes obtained from malloc, for memory accounting */
} sl_arena_t;

#define SL_ARENA_INIT {NULL, NULL, NULL, 0}

void sl_arena_init(sl_arena_t *a);
/* n bytes aligned to 8, or NULL when out of memory. */
void *sl_arena_alloc(sl_arena_t *a, size_t n);
void *sl_arena_zalloc(sl_arena_t *a, size_t n);
/* A NUL-terminated copy of s[0..n). */
char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t n);
/* Forgets every allocation but keeps the newest chunk for reuse. */
void sl_arena_reset(sl_arena_t *a);
void sl_arena_free(sl_arena_t *a);

#endif
