/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics of a pipeline load: every problem found, each with the file,
 * line and column (1-based) it is about, so `trellis pipeline validate` can
 * report them all at once instead of stopping at the first.
 * Caller storage: struct tr_diags d = TR_DIAGS_INIT; ... tr_diags_release(&d);
 * Not thread-safe.
 */
#ifndef TR_PIPELINE_DIAG_H
#define TR_PIPELINE_DIAG_H

#include <stdarg.h>
#include <stddef.h>

struct tr_buf;

enum tr_diag_level { TR_DIAG_ERROR, TR_DIAG_WARNING };

struct tr_diag {
	enum tr_diag_level level;
	int line, col; /* 1-based; 0 when the problem has no position */
	char *msg;     /* lowercase, no final period */
};

struct tr_diags {
	const char *file; /* borrowed; the name used when formatting */
	struct tr_diag *v;
	size_t n, cap;
	size_t errors, warnings;
};

#define TR_DIAGS_INIT                                                                              \
	{                                                                                          \
		NULL, NULL, 0, 0, 0, 0                                                             \
	}

/* Frees every message; D is empty and reusable afterwards. */
void tr_diags_release(struct tr_diags *d);
/* Appends one diagnostic. */
void tr_diags_add(struct tr_diags *d, enum tr_diag_level level, int line, int col, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));
/* The same with a va_list, for the loaders' own formatting wrappers. */
void tr_diags_vadd(struct tr_diags *d, enum tr_diag_level level, int line, int col, const char *fmt,
		   va_list ap) __attribute__((format(printf, 5, 0)));
/* Sorts by position (stable) and appends one line per diagnostic to OUT:
 * "FILE:LINE:COL: error: MSG\n", or "FILE: error: MSG\n" without a position. */
void tr_diags_format(struct tr_diags *d, struct tr_buf *out);

#endif
