/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database driver ops table under the one SQL store (SQLite's VFS idea):
 * a driver opens a connection and prepares, binds, steps and reads statements.
 * store_*.c speak only through the tr_db_*() wrappers below, so a PostgreSQL
 * driver can be added without touching the store. SQL is written with '?'
 * placeholders; a driver that needs $n renders them itself.
 *
 * A connection belongs to one thread at a time. Prepared statements are cached
 * per connection by SQL text: tr_db_prepare() returns a reset statement that
 * the caller hands back with tr_db_done().
 */
#ifndef TR_STORE_DB_H
#define TR_STORE_DB_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_buf;
struct tr_db_stmt;

struct tr_db {
	const struct tr_db_ops *ops; /* first member of every driver's connection struct */
};

struct tr_db_ops {
	const char *name; /* "sqlite" */
	enum tr_err (*open)(const char *path, bool readonly, struct tr_db **out,
			    struct tr_buf *err);
	void (*close)(struct tr_db *db);
	enum tr_err (*exec)(struct tr_db *db, const char *sql, struct tr_buf *err);
	enum tr_err (*prepare)(struct tr_db *db, const char *sql, struct tr_db_stmt **out,
			       struct tr_buf *err);
	void (*done)(struct tr_db_stmt *st);
	void (*reset)(struct tr_db_stmt *st); /* ready to bind and step again */
	void (*bind_text)(struct tr_db_stmt *st, int idx, const char *s);
	void (*bind_int64)(struct tr_db_stmt *st, int idx, int64_t v);
	void (*bind_double)(struct tr_db_stmt *st, int idx, double v);
	void (*bind_null)(struct tr_db_stmt *st, int idx);
	void (*bind_blob)(struct tr_db_stmt *st, int idx, const void *data, size_t len);
	int (*param_count)(struct tr_db_stmt *st); /* the statement's largest parameter index */
	/* TR_OK with *row true for a row, false when done; an error otherwise.
	 * A unique-constraint violation is TR_ERR_RESOURCE_ALREADY_EXISTS. */
	enum tr_err (*step)(struct tr_db_stmt *st, bool *row, struct tr_buf *err);
	int64_t (*col_int64)(struct tr_db_stmt *st, int col);
	double (*col_double)(struct tr_db_stmt *st, int col);
	const char *(*col_text)(struct tr_db_stmt *st, int col); /* "" for NULL */
	bool (*col_is_null)(struct tr_db_stmt *st, int col);
	const void *(*col_blob)(struct tr_db_stmt *st, int col, size_t *len);
	int64_t (*changes)(struct tr_db *db);
	/* A consistent copy of the whole database into a new file at PATH. */
	enum tr_err (*backup)(struct tr_db *db, const char *path, struct tr_buf *err);
};

extern const struct tr_db_ops tr_db_sqlite_ops;

/* Opens a connection with DRIVER on PATH. Returns a new connection; close
 * with tr_db_close(). */
enum tr_err tr_db_open(const struct tr_db_ops *driver, const char *path, bool readonly,
		       struct tr_db **out, struct tr_buf *err) __attribute__((warn_unused_result));
void tr_db_close(struct tr_db *db);
enum tr_err tr_db_exec(struct tr_db *db, const char *sql, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* A cached, reset statement for SQL; hand it back with tr_db_done(). */
enum tr_err tr_db_prepare(struct tr_db *db, const char *sql, struct tr_db_stmt **out,
			  struct tr_buf *err) __attribute__((warn_unused_result));
void tr_db_done(struct tr_db *db, struct tr_db_stmt *st);
/* Resets ST for another round of binds and steps, keeping it. */
void tr_db_reset(struct tr_db *db, struct tr_db_stmt *st);
void tr_db_bind_text(struct tr_db *db, struct tr_db_stmt *st, int idx, const char *s);
void tr_db_bind_int64(struct tr_db *db, struct tr_db_stmt *st, int idx, int64_t v);
void tr_db_bind_double(struct tr_db *db, struct tr_db_stmt *st, int idx, double v);
void tr_db_bind_null(struct tr_db *db, struct tr_db_stmt *st, int idx);
void tr_db_bind_blob(struct tr_db *db, struct tr_db_stmt *st, int idx, const void *data,
		     size_t len);
enum tr_err tr_db_step(struct tr_db *db, struct tr_db_stmt *st, bool *row, struct tr_buf *err)
    __attribute__((warn_unused_result));
int64_t tr_db_col_int64(struct tr_db *db, struct tr_db_stmt *st, int col);
double tr_db_col_double(struct tr_db *db, struct tr_db_stmt *st, int col);
const char *tr_db_col_text(struct tr_db *db, struct tr_db_stmt *st, int col);
bool tr_db_col_is_null(struct tr_db *db, struct tr_db_stmt *st, int col);
/* Borrowed; valid until the next step, reset or done on ST. */
const void *tr_db_col_blob(struct tr_db *db, struct tr_db_stmt *st, int col, size_t *len);
int64_t tr_db_changes(struct tr_db *db);

/* Copies the database consistently (a snapshot, while others keep writing) to
 * a new file at PATH. */
enum tr_err tr_db_backup(struct tr_db *db, const char *path, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Runs SQL with no result rows; binds given as a printf-like type string:
 * 't' text, 'i' int64, 'd' double, 'n' null. E.g. tr_db_run(db, err, sql, "ti", s, n). */
enum tr_err tr_db_run(struct tr_db *db, struct tr_buf *err, const char *sql, const char *types, ...)
    __attribute__((warn_unused_result));

#endif
