/* SPDX-License-Identifier: Apache-2.0 */
/* A pipeline run's records in the store; see recorder.h. */
#include "pipeline/recorder.h"
#include "core/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tr_recorder {
	struct tr_store *store;
	char *run_id, *pipeline, *artifact_root, *actor;
	pthread_mutex_t lock;
	pthread_cond_t done;
	size_t outstanding;
	enum tr_err first_rc;
	struct tr_buf first_err;
};

struct pending {
	struct tr_write w;
	struct tr_recorder *rec;
};

static void pending_done(struct tr_write *w, void *ctx)
{
	struct pending *p = ctx;
	struct tr_recorder *rec = p->rec;
	pthread_mutex_lock(&rec->lock);
	if (w->rc && !rec->first_rc) {
		rec->first_rc = w->rc;
		tr_buf_append(&rec->first_err, w->err.data ? w->err.data : "", w->err.len);
	}
	if (--rec->outstanding == 0)
		pthread_cond_broadcast(&rec->done);
	pthread_mutex_unlock(&rec->lock);
	json_decref(w->args);
	tr_write_release(w);
	free(p);
}

struct tr_recorder *tr_recorder_new(struct tr_store *store, const char *run_id,
				    const char *pipeline, const char *artifact_root,
				    const char *actor)
{
	struct tr_recorder *rec = tr_xcalloc(1, sizeof(*rec));
	rec->store = store;
	rec->run_id = tr_xstrdup(run_id);
	rec->pipeline = tr_xstrdup(pipeline ? pipeline : "");
	rec->artifact_root = artifact_root ? tr_xstrdup(artifact_root) : NULL;
	rec->actor = tr_xstrdup(actor ? actor : "trellis");
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->done, NULL);
	tr_buf_init(&rec->first_err);
	return rec;
}

void tr_recorder_free(struct tr_recorder *rec)
{
	if (!rec)
		return;
	struct tr_buf ignore = TR_BUF_INIT;
	if (tr_recorder_flush(rec, &ignore))
		tr_buf_reset(&ignore);
	tr_buf_release(&ignore);
	pthread_mutex_destroy(&rec->lock);
	pthread_cond_destroy(&rec->done);
	tr_buf_release(&rec->first_err);
	free(rec->run_id);
	free(rec->pipeline);
	free(rec->artifact_root);
	free(rec->actor);
	free(rec);
}

void tr_recorder_submit(struct tr_recorder *rec, tr_write_fn apply, json_t *args,
			const char *action, enum tr_audit_class cls)
{
	struct pending *p = tr_xcalloc(1, sizeof(*p));
	p->rec = rec;
	p->w.apply = apply;
	p->w.args = args;
	p->w.action = action;
	p->w.actor = rec->actor;
	p->w.audit_class = cls;
	p->w.on_done = pending_done;
	p->w.ctx = p;
	pthread_mutex_lock(&rec->lock);
	rec->outstanding++;
	pthread_mutex_unlock(&rec->lock);
	tr_store_submit(rec->store, &p->w);
}

/* Output files of a step are recorded like uploads: path (relative to the
 * artifact root), size and SHA-256, so lineage and gc see them. */
static void record_digests(struct tr_recorder *rec, json_t *digests)
{
	size_t i, n = rec->artifact_root ? strlen(rec->artifact_root) : 0;
	json_t *d;
	json_array_foreach(digests, i, d)
	{
		const char *uri = json_string_value(json_object_get(d, "uri"));
		if (!n || !uri || strncmp(uri, rec->artifact_root, n) || uri[n] != '/')
			continue;
		tr_recorder_submit(rec, tr_store_artifact_record,
				   json_pack("{s:s,s:O,s:O}", "path", uri + n + 1, "size",
					     json_object_get(d, "size"), "sha256",
					     json_object_get(d, "sha256")),
				   "artifacts.record", TR_AUDIT_DATA);
	}
}

static enum tr_err persist(void *ctx, json_t *task, struct tr_buf *err)
{
	struct tr_recorder *rec = ctx;
	record_digests(rec, json_object_get(task, "artifact_digests"));
	json_object_set_new(task, "run_id", json_string(rec->run_id));
	json_object_set_new(task, "pipeline", json_string(rec->pipeline));
	tr_recorder_submit(rec, tr_store_pipeline_task_put, json_incref(task), "pipelines.task",
			   TR_AUDIT_DATA);
	(void)err;
	return TR_OK;
}

enum tr_err tr_recorder_flush(struct tr_recorder *rec, struct tr_buf *err)
{
	pthread_mutex_lock(&rec->lock);
	while (rec->outstanding)
		pthread_cond_wait(&rec->done, &rec->lock);
	enum tr_err rc = rec->first_rc;
	if (rc)
		tr_buf_append(err, rec->first_err.data, rec->first_err.len);
	pthread_mutex_unlock(&rec->lock);
	return rc;
}

static enum tr_err flush(void *ctx, struct tr_buf *err)
{
	return tr_recorder_flush(ctx, err);
}

static json_t *cache_get(void *ctx, const char *fingerprint)
{
	struct tr_recorder *rec = ctx;
	json_t *outs = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_store_pipeline_cache_get(rec->store, fingerprint, &outs, &err))
		outs = NULL;
	tr_buf_release(&err);
	return outs;
}

void tr_recorder_hooks(struct tr_recorder *rec, struct tr_run_hooks *hooks)
{
	hooks->persist = persist;
	hooks->flush = flush;
	hooks->cache_get = cache_get;
	hooks->ctx = rec;
}

enum tr_err tr_recorder_put_run(struct tr_store *s, json_t *args, const char *actor,
				struct tr_buf *err)
{
	struct tr_write w = {0};
	w.apply = tr_store_pipeline_run_put;
	w.args = args;
	w.action = "pipelines.run";
	w.actor = actor ? actor : "trellis";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(s, &w);
	if (rc)
		tr_buf_append(err, w.err.data ? w.err.data : "", w.err.len);
	tr_write_release(&w);
	return rc;
}
