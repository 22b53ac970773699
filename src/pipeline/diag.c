/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics list: a growable array of positioned messages. Loaders keep
 * going after a problem and add every one; the caller decides, from the error
 * count, whether the pipeline may run.
 */
#include "pipeline/diag.h"
#include "core/alloc.h"
#include "core/buf.h"

#include <stdarg.h>
#include <stdlib.h>

void tr_diags_release(struct tr_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	d->v = NULL;
	d->n = d->cap = d->errors = d->warnings = 0;
}

void tr_diags_add(struct tr_diags *d, enum tr_diag_level level, int line, int col, const char *fmt,
		  ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr_diags_vadd(d, level, line, col, fmt, ap);
	va_end(ap);
}

void tr_diags_vadd(struct tr_diags *d, enum tr_diag_level level, int line, int col, const char *fmt,
		   va_list ap)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = tr_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_vappendf(&b, fmt, ap);
	d->v[d->n++] = (struct tr_diag){level, line, col, tr_buf_detach(&b)};
	if (level == TR_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

static int by_position(const struct tr_diag *a, const struct tr_diag *b)
{
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void tr_diags_format(struct tr_diags *d, struct tr_buf *out)
{
	/* insertion sort: stable, and lists are short */
	for (size_t i = 1; i < d->n; i++) {
		struct tr_diag x = d->v[i];
		size_t j = i;
		while (j > 0 && by_position(&d->v[j - 1], &x) > 0) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = x;
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct tr_diag *x = &d->v[i];
		const char *file = d->file ? d->file : "<input>";
		const char *level = x->level == TR_DIAG_ERROR ? "error" : "warning";
		if (x->line > 0)
			tr_buf_appendf(out, "%s:%d:%d: %s: %s\n", file, x->line, x->col, level,
				       x->msg);
		else /* about the whole file: too large, unreadable, too many tasks */
			tr_buf_appendf(out, "%s: %s: %s\n", file, level, x->msg);
	}
}
