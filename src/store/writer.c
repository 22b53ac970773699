/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The group-commit writer: one thread owns the write connection. It takes
 * everything queued, opens one transaction, applies each write in its own
 * savepoint (a failing write is rolled back alone), appends the audit entries
 * in the same transaction, commits once, and only then completes every write.
 * So many concurrent requests share one fsync, and every acknowledged write
 * is durable. Control-plane writes get one audit entry each; data-plane writes
 * of one commit are summarised in one entry per run.
 */
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "governance/audit.h"
#include "store/store_internal.h"

#include <sodium.h>
#include <string.h>

#define MAX_BATCH  1024
#define MAX_GROUPS 64

struct data_group {
	char resource[160];
	uint32_t ok, rejected, metrics, params, tags;
	crypto_hash_sha256_state digest;
};

static void ignore_rollback(struct tr_db *db, const char *sql)
{
	struct tr_buf e = TR_BUF_INIT;
	if (tr_db_exec(db, sql, &e))
		tr_buf_reset(&e);
	tr_buf_release(&e);
}

static struct data_group *group_for(struct data_group *g, int *n, const char *resource)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(g[i].resource, resource))
			return &g[i];
	if (*n == MAX_GROUPS)
		return NULL;
	struct data_group *x = &g[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->resource, sizeof(x->resource), "%s", resource);
	crypto_hash_sha256_init(&x->digest);
	return x;
}

static enum tr_err flush_groups(struct tr_db *db, struct data_group *g, int *n, int64_t now,
				struct tr_buf *err)
{
	for (int i = 0; i < *n; i++) {
		unsigned char h[32];
		char hex[65], detail[200];
		crypto_hash_sha256_final(&g[i].digest, h);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", h[k]);
		snprintf(
		    detail, sizeof(detail), "requests=%u rejected=%u metrics=%u params=%u tags=%u",
		    g[i].ok + g[i].rejected, g[i].rejected, g[i].metrics, g[i].params, g[i].tags);
		struct tr_audit_entry e = {now,
					   "anonymous",
					   "data.write",
					   g[i].resource,
					   g[i].rejected ? (g[i].ok ? "partial" : "rejected")
							 : "ok",
					   detail,
					   hex};
		enum tr_err rc = tr_audit_append(db, &e, err);
		if (rc)
			return rc;
	}
	*n = 0;
	return TR_OK;
}

static enum tr_err audit_control(struct tr_db *db, struct tr_write *w, int64_t now,
				 struct tr_buf *err)
{
	char outcome[96];
	if (w->rc)
		snprintf(outcome, sizeof(outcome), "rejected: %s", tr_err_code_name(w->rc));
	else
		snprintf(outcome, sizeof(outcome), "ok");
	struct tr_audit_entry e = {now,
				   w->actor ? w->actor : "anonymous",
				   w->action ? w->action : "unknown",
				   w->resource[0] ? w->resource : "-",
				   outcome,
				   w->rc ? tr_buf_str(&w->err) : "",
				   w->request_digest};
	return tr_audit_append(db, &e, err);
}

/* Applies one batch in one transaction; sets each write's rc. */
static void apply_batch(struct tr_store *s, struct tr_write *batch)
{
	struct tr_db *db = s->wdb;
	struct tr_buf err = TR_BUF_INIT;
	struct data_group groups[MAX_GROUPS];
	int n_groups = 0;
	struct tr_store_tx tx = {s, db, tr_clock_now_ms()};
	enum tr_err rc = tr_db_exec(db, "BEGIN IMMEDIATE", &err);
	for (struct tr_write *w = batch; w && !rc; w = w->next) {
		rc = tr_db_exec(db, "SAVEPOINT w", &err);
		if (rc)
			break;
		w->rc = w->apply(&tx, w, &w->err);
		if (w->rc) {
			json_decref(w->result);
			w->result = NULL;
			rc = tr_db_exec(db, "ROLLBACK TO w", &err);
		}
		if (!rc)
			rc = tr_db_exec(db, "RELEASE w", &err);
		if (rc)
			break;
		if (w->audit_class == TR_AUDIT_CONTROL) {
			rc = audit_control(db, w, tx.now_ms, &err);
			continue;
		}
		struct data_group *g =
		    group_for(groups, &n_groups, w->resource[0] ? w->resource : "-");
		if (!g) {
			rc = flush_groups(db, groups, &n_groups, tx.now_ms, &err);
			if (rc)
				break;
			g = group_for(groups, &n_groups, w->resource[0] ? w->resource : "-");
		}
		if (w->rc)
			g->rejected++;
		else
			g->ok++;
		g->metrics += w->rc ? 0 : w->n_metrics;
		g->params += w->rc ? 0 : w->n_params;
		g->tags += w->rc ? 0 : w->n_tags;
		crypto_hash_sha256_update(&g->digest, (const unsigned char *)w->request_digest,
					  strlen(w->request_digest));
	}
	if (!rc)
		rc = flush_groups(db, groups, &n_groups, tx.now_ms, &err);
	if (!rc)
		rc = tr_db_exec(db, "COMMIT", &err);
	if (rc) {
		tr_log_error("store: write batch failed: %s", tr_buf_str(&err));
		ignore_rollback(db, "ROLLBACK");
		if (rc != TR_ERR_IO_ERROR)
			rc = TR_ERR_TEMPORARILY_UNAVAILABLE;
		for (struct tr_write *w = batch; w; w = w->next) {
			json_decref(w->result);
			w->result = NULL;
			w->rc = tr_fail(&w->err, rc, "the store could not commit: %s",
					tr_buf_str(&err));
		}
	}
	tr_buf_release(&err);
}

static void *writer_main(void *arg)
{
	struct tr_store *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->q_lock);
		while (!s->q_head && !s->stopping)
			pthread_cond_wait(&s->q_cond, &s->q_lock);
		if (!s->q_head && s->stopping) {
			pthread_mutex_unlock(&s->q_lock);
			break;
		}
		struct tr_write *batch = s->q_head, *last = batch;
		int n = 1;
		while (last->next && n < MAX_BATCH) {
			last = last->next;
			n++;
		}
		s->q_head = last->next;
		if (!s->q_head)
			s->q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->q_lock);

		apply_batch(s, batch);

		pthread_mutex_lock(&s->q_lock);
		s->n_batches++;
		s->n_writes += (uint64_t)n;
		pthread_mutex_unlock(&s->q_lock);
		for (struct tr_write *w = batch, *next; w; w = next) {
			next = w->next;
			w->next = NULL;
			w->on_done(w, w->ctx);
		}
	}
	return NULL;
}

enum tr_err store_writer_start(struct tr_store *s, struct tr_buf *err)
{
	if (pthread_create(&s->writer, NULL, writer_main, s))
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start the writer thread");
	s->writer_started = true;
	return TR_OK;
}

void store_writer_stop(struct tr_store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->q_lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->q_cond);
	pthread_mutex_unlock(&s->q_lock);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
}

void tr_store_submit(struct tr_store *s, struct tr_write *w)
{
	w->next = NULL;
	w->rc = TR_OK;
	pthread_mutex_lock(&s->q_lock);
	if (s->stopping || !s->writer_started) {
		pthread_mutex_unlock(&s->q_lock);
		w->rc =
		    tr_fail(&w->err, TR_ERR_TEMPORARILY_UNAVAILABLE, "the server is shutting down");
		w->on_done(w, w->ctx);
		return;
	}
	if (s->q_tail)
		s->q_tail->next = w;
	else
		s->q_head = w;
	s->q_tail = w;
	pthread_cond_signal(&s->q_cond);
	pthread_mutex_unlock(&s->q_lock);
}

struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_done(struct tr_write *w, void *ctx)
{
	struct sync_wait *sw = ctx;
	pthread_mutex_lock(&sw->lock);
	sw->done = true;
	pthread_cond_signal(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

enum tr_err tr_store_write_sync(struct tr_store *s, struct tr_write *w)
{
	struct sync_wait sw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	w->on_done = sync_done;
	w->ctx = &sw;
	tr_store_submit(s, w);
	pthread_mutex_lock(&sw.lock);
	while (!sw.done)
		pthread_cond_wait(&sw.cond, &sw.lock);
	pthread_mutex_unlock(&sw.lock);
	return w->rc;
}

void tr_write_release(struct tr_write *w)
{
	tr_buf_release(&w->err);
	json_decref(w->result);
	w->result = NULL;
}

enum tr_err tr_store_reject(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	/* The request was refused before reaching the store; only its audit
	 * entry is written. The handler's message stays in w->err. */
	return w->reject ? w->reject : TR_ERR_INVALID_PARAMETER_VALUE;
}
