/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation that cannot fail: out of memory is fatal here, in one place, so
 * callers never test for NULL. Everything returned is freed with free().
 */
#ifndef TR_CORE_ALLOC_H
#define TR_CORE_ALLOC_H

#include <stddef.h>

void *tr_xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *tr_xcalloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *tr_xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *tr_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *tr_xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

#endif
