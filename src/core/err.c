/* SPDX-License-Identifier: Apache-2.0 */
/* The error table's accessors; see err.h for the table itself. */
#include "core/err.h"
#include "core/buf.h"

struct entry {
	const char *code;
	int status;
	const char *text;
};

static const struct entry table[] = {
#define TR_ERR_ROW(name, code, status, text) {code, status, text},
    TR_ERR_MAP(TR_ERR_ROW)
#undef TR_ERR_ROW
};

static const struct entry *lookup(enum tr_err e)
{
	if ((unsigned)e >= TR_ERR__COUNT)
		e = TR_ERR_INTERNAL_ERROR;
	return &table[e];
}

const char *tr_strerror(enum tr_err e)
{
	return lookup(e)->text;
}
const char *tr_err_code_name(enum tr_err e)
{
	return lookup(e)->code;
}
int tr_err_http_status(enum tr_err e)
{
	return lookup(e)->status;
}

enum tr_err tr_fail(struct tr_buf *err, enum tr_err code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		tr_buf_reset(err);
		va_start(ap, fmt);
		tr_buf_vappendf(err, fmt, ap);
		va_end(ap);
	}
	return code;
}
