/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bump allocator freed in one call: one arena per HTTP request, per parse.
 * Not thread-safe; an arena belongs to one thread at a time.
 */
#ifndef TR_CORE_ARENA_H
#define TR_CORE_ARENA_H

#include <stddef.h>

struct tr_arena;

/* Returns a new arena; free with tr_arena_free(). */
struct tr_arena *tr_arena_new(void);
/* Frees the arena and everything allocated from it. NULL is a no-op. */
void tr_arena_free(struct tr_arena *a);
/* Zeroed memory, 16-byte aligned, valid until the arena is freed. */
void *tr_arena_alloc(struct tr_arena *a, size_t n);
char *tr_arena_strdup(struct tr_arena *a, const char *s);
char *tr_arena_strndup(struct tr_arena *a, const char *s, size_t n);
char *tr_arena_sprintf(struct tr_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
