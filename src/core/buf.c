/* SPDX-License-Identifier: Apache-2.0 */
/* Growable NUL-terminated buffer; doubles its capacity so appends are amortised O(1). */
#include "core/buf.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tr_buf_init(struct tr_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void tr_buf_release(struct tr_buf *b)
{
	free(b->data);
	tr_buf_init(b);
}

void tr_buf_reset(struct tr_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void tr_buf_grow(struct tr_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = tr_xrealloc(b->data, cap);
	b->cap = cap;
}

void tr_buf_append(struct tr_buf *b, const void *data, size_t len)
{
	tr_buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void tr_buf_appends(struct tr_buf *b, const char *s)
{
	tr_buf_append(b, s, strlen(s));
}

void tr_buf_appendc(struct tr_buf *b, char c)
{
	tr_buf_append(b, &c, 1);
}

void tr_buf_vappendf(struct tr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	tr_buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void tr_buf_appendf(struct tr_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr_buf_vappendf(b, fmt, ap);
	va_end(ap);
}

const char *tr_buf_str(const struct tr_buf *b)
{
	return b->data ? b->data : "";
}

char *tr_buf_detach(struct tr_buf *b)
{
	char *s = b->data ? b->data : tr_xstrdup("");
	tr_buf_init(b);
	return s;
}
