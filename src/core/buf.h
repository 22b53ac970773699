/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer that is always NUL-terminated (git's strbuf).
 * Caller storage: struct tr_buf b = TR_BUF_INIT; ... tr_buf_release(&b);
 */
#ifndef TR_CORE_BUF_H
#define TR_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct tr_buf {
	char *data; /* never NULL after any append; "" while empty */
	size_t len;
	size_t cap;
};

#define TR_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void tr_buf_init(struct tr_buf *b);
/* Frees the storage; B is empty and reusable afterwards. */
void tr_buf_release(struct tr_buf *b);
/* Empties B, keeping its storage. */
void tr_buf_reset(struct tr_buf *b);
void tr_buf_grow(struct tr_buf *b, size_t extra);
void tr_buf_append(struct tr_buf *b, const void *data, size_t len);
void tr_buf_appends(struct tr_buf *b, const char *s);
void tr_buf_appendc(struct tr_buf *b, char c);
void tr_buf_appendf(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tr_buf_vappendf(struct tr_buf *b, const char *fmt, va_list ap);
/* The contents as a C string; "" for an untouched buffer. Borrowed. */
const char *tr_buf_str(const struct tr_buf *b);
/* Returns the storage (a new string; free with free()) and leaves B empty. */
char *tr_buf_detach(struct tr_buf *b);

#endif
