/* SPDX-License-Identifier: Apache-2.0 */
/* Wrappers over the driver ops table; the store never calls db->ops directly. */
#include "store/db.h"

#include <stdarg.h>
#include <string.h>
#include <stdlib.h>

enum tr_err tr_db_open(const struct tr_db_ops *driver, const char *path, bool readonly,
		       struct tr_db **out, struct tr_buf *err)
{
	return driver->open(path, readonly, out, err);
}

void tr_db_close(struct tr_db *db)
{
	if (db)
		db->ops->close(db);
}

enum tr_err tr_db_exec(struct tr_db *db, const char *sql, struct tr_buf *err)
{
	return db->ops->exec(db, sql, err);
}

enum tr_err tr_db_prepare(struct tr_db *db, const char *sql, struct tr_db_stmt **out,
			  struct tr_buf *err)
{
	return db->ops->prepare(db, sql, out, err);
}

void tr_db_done(struct tr_db *db, struct tr_db_stmt *st)
{
	if (st)
		db->ops->done(st);
}

void tr_db_reset(struct tr_db *db, struct tr_db_stmt *st)
{
	db->ops->reset(st);
}

void tr_db_bind_text(struct tr_db *db, struct tr_db_stmt *st, int idx, const char *s)
{
	if (s)
		db->ops->bind_text(st, idx, s);
	else
		db->ops->bind_null(st, idx);
}

void tr_db_bind_int64(struct tr_db *db, struct tr_db_stmt *st, int idx, int64_t v)
{
	db->ops->bind_int64(st, idx, v);
}

void tr_db_bind_double(struct tr_db *db, struct tr_db_stmt *st, int idx, double v)
{
	db->ops->bind_double(st, idx, v);
}

void tr_db_bind_null(struct tr_db *db, struct tr_db_stmt *st, int idx)
{
	db->ops->bind_null(st, idx);
}

void tr_db_bind_blob(struct tr_db *db, struct tr_db_stmt *st, int idx, const void *data, size_t len)
{
	db->ops->bind_blob(st, idx, data, len);
}

const void *tr_db_col_blob(struct tr_db *db, struct tr_db_stmt *st, int col, size_t *len)
{
	return db->ops->col_blob(st, col, len);
}

enum tr_err tr_db_step(struct tr_db *db, struct tr_db_stmt *st, bool *row, struct tr_buf *err)
{
	return db->ops->step(st, row, err);
}

int64_t tr_db_col_int64(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	return db->ops->col_int64(st, col);
}

double tr_db_col_double(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	return db->ops->col_double(st, col);
}

const char *tr_db_col_text(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	return db->ops->col_text(st, col);
}

bool tr_db_col_is_null(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	return db->ops->col_is_null(st, col);
}

int64_t tr_db_changes(struct tr_db *db)
{
	return db->ops->changes(db);
}

enum tr_err tr_db_run(struct tr_db *db, struct tr_buf *err, const char *sql, const char *types, ...)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	/* a bind list that does not match the SQL is a programming error: refuse it
	 * before reading any argument */
	if ((int)strlen(types) != db->ops->param_count(st)) {
		tr_db_done(db, st);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR,
			       "internal error: %zu binds given for %d parameters", strlen(types),
			       db->ops->param_count(st));
	}
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		switch (types[i]) {
		case 't':
			tr_db_bind_text(db, st, i + 1, va_arg(ap, const char *));
			break;
		case 'i':
			tr_db_bind_int64(db, st, i + 1, va_arg(ap, int64_t));
			break;
		case 'd':
			tr_db_bind_double(db, st, i + 1, va_arg(ap, double));
			break;
		default:
			tr_db_bind_null(db, st, i + 1);
			break;
		}
	}
	va_end(ap);
	bool row = true;
	while (!rc && row)
		rc = tr_db_step(db, st, &row, err);
	tr_db_done(db, st);
	return rc;
}

enum tr_err tr_db_backup(struct tr_db *db, const char *path, struct tr_buf *err)
{
	return db->ops->backup(db, path, err);
}
