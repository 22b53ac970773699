/* SPDX-License-Identifier: Apache-2.0 */
/* Fatal-on-OOM allocation wrappers (git's xmalloc). */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "trellis: out of memory allocating %zu bytes\n", n);
	abort();
}

void *tr_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *tr_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		die_oom(count * size);
	return p;
}

void *tr_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *tr_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = tr_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *tr_xstrdup(const char *s)
{
	return tr_xstrndup(s, strlen(s));
}
