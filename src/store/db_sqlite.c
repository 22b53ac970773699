/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite driver: WAL journal with synchronous=FULL (an acknowledged commit
 * is on disk), case-sensitive LIKE as MLflow has it, and a per-connection
 * cache of prepared statements keyed by SQL text. A statement already in use
 * (the same SQL nested) gets a fresh uncached copy, finalized on done().
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "store/db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

/* How long one read statement may run (a pathological filter over a large
 * experiment); the request then fails with a clear 400. */
#define READ_LIMIT_US (10u * 1000u * 1000u)

#define CACHE_SLOTS 96

struct tr_db_stmt {
	sqlite3_stmt *st;
	struct sqlite_conn *conn;
	char *sql; /* NULL for an uncached statement */
	uint64_t hash;
	bool in_use;
	uint64_t last_used;
};

struct sqlite_conn {
	struct tr_db base;
	sqlite3 *db;
	bool readonly;
	uint64_t deadline_us; /* reads: a statement running past this is interrupted */
	struct tr_db_stmt cache[CACHE_SLOTS];
	uint64_t tick;
};

static uint64_t hash_sql(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int over_deadline(void *arg)
{
	struct sqlite_conn *c = arg;
	return c->deadline_us && mono_us() > c->deadline_us;
}

static enum tr_err map_rc(sqlite3 *db, int rc, struct tr_buf *err)
{
	if (rc == SQLITE_INTERRUPT)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the query ran longer than %u s and was stopped: narrow the filter",
			       READ_LIMIT_US / 1000000u);
	int ext = sqlite3_extended_errcode(db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return tr_fail(err, TR_ERR_RESOURCE_ALREADY_EXISTS, "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return tr_fail(err, TR_ERR_TEMPORARILY_UNAVAILABLE, "database busy: %s",
			       sqlite3_errmsg(db));
	if (rc == SQLITE_CONSTRAINT)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_FULL || rc == SQLITE_IOERR)
		return tr_fail(err, TR_ERR_IO_ERROR, "storage error: %s", sqlite3_errmsg(db));
	return tr_fail(err, TR_ERR_INTERNAL_ERROR, "database error: %s", sqlite3_errmsg(db));
}

static enum tr_err sq_exec(struct tr_db *base, const char *sql, struct tr_buf *err)
{
	struct sqlite_conn *c = (struct sqlite_conn *)base;
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		enum tr_err e = map_rc(c->db, rc, err);
		if (err && msg) {
			tr_buf_reset(err);
			tr_buf_appendf(err, "database error: %s", msg);
		}
		sqlite3_free(msg);
		return e;
	}
	return TR_OK;
}

static void sq_close(struct tr_db *base)
{
	struct sqlite_conn *c = (struct sqlite_conn *)base;
	for (int i = 0; i < CACHE_SLOTS; i++) {
		sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	sqlite3_close_v2(c->db);
	free(c);
}

static enum tr_err sq_open(const char *path, bool readonly, struct tr_db **out, struct tr_buf *err)
{
	struct sqlite_conn *c = tr_xcalloc(1, sizeof(*c));
	c->base.ops = &tr_db_sqlite_ops;
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	/* a new store is created owner-only (0600); SQLite gives its -wal and -shm
	 * files the database file's mode, so pipeline steps running as another
	 * user can read neither the store nor its audit log */
	if (!readonly && strcmp(path, ":memory:")) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		enum tr_err e = tr_fail(err, TR_ERR_IO_ERROR, "cannot open database '%s': %s", path,
					c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sq_close(&c->base);
		return e;
	}
	sqlite3_extended_result_codes(c->db, 1);
	c->readonly = readonly;
	if (readonly)
		sqlite3_progress_handler(c->db, 10000, over_deadline, c);
	sqlite3_busy_timeout(c->db, 10000);
	enum tr_err e = sq_exec(
	    &c->base,
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA case_sensitive_like=ON; PRAGMA foreign_keys=ON;"
	    "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=16384;",
	    err);
	if (e) {
		sq_close(&c->base);
		return e;
	}
	*out = &c->base;
	return TR_OK;
}

static enum tr_err sq_prepare(struct tr_db *base, const char *sql, struct tr_db_stmt **out,
			      struct tr_buf *err)
{
	struct sqlite_conn *c = (struct sqlite_conn *)base;
	uint64_t h = hash_sql(sql);
	struct tr_db_stmt *victim = NULL;
	bool busy_copy = false;
	c->tick++;
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct tr_db_stmt *s = &c->cache[i];
		if (s->sql && s->hash == h && !strcmp(s->sql, sql)) {
			if (s->in_use) {
				busy_copy = true;
				break;
			}
			s->in_use = true;
			s->last_used = c->tick;
			*out = s;
			return TR_OK;
		}
		if (!s->in_use && (!victim || s->last_used < victim->last_used))
			victim = s;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return map_rc(c->db, rc, err);
	if (busy_copy || !victim) {
		struct tr_db_stmt *s = tr_xcalloc(1, sizeof(*s));
		s->st = st;
		s->conn = c;
		s->in_use = true;
		*out = s;
		return TR_OK;
	}
	sqlite3_finalize(victim->st);
	free(victim->sql);
	victim->st = st;
	victim->conn = c;
	victim->sql = tr_xstrdup(sql);
	victim->hash = h;
	victim->in_use = true;
	victim->last_used = c->tick;
	*out = victim;
	return TR_OK;
}

static void sq_done(struct tr_db_stmt *s)
{
	if (!s->sql) {
		sqlite3_finalize(s->st);
		free(s);
		return;
	}
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
	s->in_use = false;
}

static void sq_reset(struct tr_db_stmt *s)
{
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
}

static void sq_bind_text(struct tr_db_stmt *s, int idx, const char *v)
{
	sqlite3_bind_text(s->st, idx, v, -1, SQLITE_TRANSIENT);
}
static void sq_bind_int64(struct tr_db_stmt *s, int idx, int64_t v)
{
	sqlite3_bind_int64(s->st, idx, v);
}
static void sq_bind_double(struct tr_db_stmt *s, int idx, double v)
{
	sqlite3_bind_double(s->st, idx, v);
}
static void sq_bind_null(struct tr_db_stmt *s, int idx)
{
	sqlite3_bind_null(s->st, idx);
}
static void sq_bind_blob(struct tr_db_stmt *s, int idx, const void *data, size_t len)
{
	sqlite3_bind_blob64(s->st, idx, data, len, SQLITE_TRANSIENT);
}
static const void *sq_col_blob(struct tr_db_stmt *s, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(s->st, col);
	*len = (size_t)sqlite3_column_bytes(s->st, col);
	return p;
}

static enum tr_err sq_step(struct tr_db_stmt *s, bool *row, struct tr_buf *err)
{
	if (s->conn->readonly)
		s->conn->deadline_us = mono_us() + READ_LIMIT_US;
	int rc = sqlite3_step(s->st);
	if (rc == SQLITE_ROW) {
		*row = true;
		return TR_OK;
	}
	*row = false;
	if (rc == SQLITE_DONE)
		return TR_OK;
	return map_rc(s->conn->db, rc, err);
}

static int64_t sq_col_int64(struct tr_db_stmt *s, int col)
{
	return sqlite3_column_int64(s->st, col);
}
static double sq_col_double(struct tr_db_stmt *s, int col)
{
	return sqlite3_column_double(s->st, col);
}
static const char *sq_col_text(struct tr_db_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s->st, col);
	return t ? (const char *)t : "";
}
static bool sq_col_is_null(struct tr_db_stmt *s, int col)
{
	return sqlite3_column_type(s->st, col) == SQLITE_NULL;
}
static int sq_param_count(struct tr_db_stmt *s)
{
	return sqlite3_bind_parameter_count(s->st);
}

static int64_t sq_changes(struct tr_db *base)
{
	return sqlite3_changes64(((struct sqlite_conn *)base)->db);
}

/* The online backup API: copies page by page, restarting if another
 * connection writes meanwhile, so the copy is one consistent snapshot. */
static enum tr_err sq_backup(struct tr_db *base, const char *path, struct tr_buf *err)
{
	struct sqlite_conn *c = (struct sqlite_conn *)base;
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		enum tr_err e = tr_fail(err, TR_ERR_IO_ERROR, "cannot create '%s': %s", path,
					dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close_v2(dst);
		return e;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", c->db, "main");
	if (!b) {
		enum tr_err e =
		    tr_fail(err, TR_ERR_IO_ERROR, "backup failed: %s", sqlite3_errmsg(dst));
		sqlite3_close_v2(dst);
		return e;
	}
	do {
		rc = sqlite3_backup_step(b, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	enum tr_err e = TR_OK;
	if (rc != SQLITE_DONE)
		e = tr_fail(err, TR_ERR_IO_ERROR, "backup failed: %s", sqlite3_errstr(rc));
	else if (sqlite3_exec(dst, "PRAGMA journal_mode=WAL; PRAGMA wal_checkpoint(TRUNCATE);",
			      NULL, NULL, NULL) != SQLITE_OK)
		e = tr_fail(err, TR_ERR_IO_ERROR, "backup failed: %s", sqlite3_errmsg(dst));
	sqlite3_close_v2(dst);
	return e;
}

const struct tr_db_ops tr_db_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .done = sq_done,
    .reset = sq_reset,
    .bind_text = sq_bind_text,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_null = sq_bind_null,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .col_int64 = sq_col_int64,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_is_null = sq_col_is_null,
    .col_blob = sq_col_blob,
    .param_count = sq_param_count,
    .changes = sq_changes,
    .backup = sq_backup,
};
