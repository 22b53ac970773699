/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arena: a chain of blocks; allocation bumps a pointer in the newest block,
 * a request larger than a block gets a block of its own.
 */
#include "core/arena.h"
#include "core/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (16 * 1024)

struct block {
	struct block *next;
	size_t used, size;
	_Alignas(16) unsigned char mem[];
};

struct tr_arena {
	struct block *head;
};

struct tr_arena *tr_arena_new(void)
{
	return tr_xcalloc(1, sizeof(struct tr_arena));
}

void tr_arena_free(struct tr_arena *a)
{
	if (!a)
		return;
	struct block *b = a->head;
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

void *tr_arena_alloc(struct tr_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
		b = tr_xmalloc(sizeof(*b) + size);
		b->used = 0;
		b->size = size;
		if (a->head && n > BLOCK_SIZE) { /* keep bumping in the current block */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->mem + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *tr_arena_strndup(struct tr_arena *a, const char *s, size_t n)
{
	char *p = tr_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *tr_arena_strdup(struct tr_arena *a, const char *s)
{
	return tr_arena_strndup(a, s, strlen(s));
}

char *tr_arena_sprintf(struct tr_arena *a, const char *fmt, ...)
{
	va_list ap, cp;
	va_start(ap, fmt);
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		n = 0;
	char *p = tr_arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
