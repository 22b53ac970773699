/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pipelines in the server (service.h). One mutex guards the queue of waiting
 * runs, the list of executing ones and the event ring; each executing run has
 * a thread of its own running the engine (run.h), whose tracking hooks make
 * each attempt an MLflow child run of the pipeline run's parent run.
 */
#include "pipeline/service.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "exec/exec.h"
#include "pipeline/diag.h"
#include "pipeline/recorder.h"
#include "pipeline/run.h"
#include "pipeline/spec.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define EVENT_RING    4096
#define MAX_PARAM_LEN 6000 /* MLflow's limit on a param value */

struct job {
	char run_id[64];
	struct tr_pipelines *p;
	struct tr_run *run;	  /* while executing; under p->lock */
	bool terminate_requested; /* under p->lock */
	pthread_t thread;
	struct job *next;
};

struct tr_pipelines {
	struct tr_store *store;
	char *artifact_root, *runs_root, *tracking_uri, *step_user, *python_dir;
	int max_runs, parallelism;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a run ended, or an event was added */
	struct job *waiting;	/* FIFO */
	struct job *active;
	int n_active;
	bool stopping;
	/* events: a ring of the last EVENT_RING, sequence numbers from 1 */
	json_t *ring[EVENT_RING];
	uint64_t seq;
	/* threads of runs that ended, joined later (a thread cannot join itself) */
	pthread_t *ended;
	size_t n_ended, cap_ended;
};

/* ---- events -------------------------------------------------------------------- */

static void event_add(struct tr_pipelines *p, const char *run_id, const char *kind,
		      const char *path, const char *state, const char *message)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:I}", "run_id", run_id, "kind", kind, "state", state,
			      "time_ms", (json_int_t)tr_clock_now_ms());
	if (path)
		json_object_set_new(e, "path", json_string(path));
	if (message && *message)
		json_object_set_new(e, "message", json_string(message));
	pthread_mutex_lock(&p->lock);
	uint64_t seq = ++p->seq;
	json_object_set_new(e, "seq", json_integer((json_int_t)seq));
	json_decref(p->ring[seq % EVENT_RING]);
	p->ring[seq % EVENT_RING] = e;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

uint64_t tr_pipelines_last_seq(struct tr_pipelines *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t seq = p->seq;
	pthread_mutex_unlock(&p->lock);
	return seq;
}

json_t *tr_pipelines_events(struct tr_pipelines *p, const char *run_id, uint64_t after, size_t max,
			    int timeout_ms)
{
	json_t *out = json_array();
	int64_t deadline = tr_clock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		uint64_t first = p->seq >= EVENT_RING ? p->seq - EVENT_RING + 1 : 1;
		uint64_t from = after + 1;
		if (from < first) {
			json_array_append_new(out, json_pack("{s:s,s:I}", "kind", "gap", "seq",
							     (json_int_t)(first - 1)));
			from = first;
		}
		for (uint64_t s = from; s <= p->seq && json_array_size(out) < max; s++) {
			json_t *e = p->ring[s % EVENT_RING];
			if (!e)
				continue;
			if (run_id &&
			    strcmp(run_id, json_string_value(json_object_get(e, "run_id"))))
				continue;
			json_array_append(out, e);
		}
		if (json_array_size(out) || p->stopping || timeout_ms <= 0)
			break;
		int64_t now = tr_clock_now_ms();
		if (now >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t wait = deadline - now;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		after = p->seq; /* nothing matched up to here */
		pthread_cond_timedwait(&p->changed, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return out;
}

/* ---- store writes ---------------------------------------------------------------- */

static enum tr_err write_sync(struct tr_store *s, tr_write_fn apply, json_t *args,
			      const char *action, const char *actor, json_t **result,
			      struct tr_buf *err)
{
	struct tr_write w = {0};
	w.apply = apply;
	w.args = args;
	w.action = action;
	w.actor = actor ? actor : "pipelines";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(s, &w);
	if (rc)
		tr_buf_append(err, w.err.data ? w.err.data : "", w.err.len);
	else if (result)
		*result = json_incref(w.result);
	tr_write_release(&w);
	json_decref(args);
	return rc;
}

/* Records run RUN_ID's new STATE (and ERROR, if any) and says so to listeners. */
static void set_run_state(struct tr_pipelines *p, const char *run_id, const char *state,
			  const char *error, const char *actor)
{
	json_t *args = json_pack("{s:s,s:s}", "run_id", run_id, "state", state);
	if (error)
		json_object_set_new(args, "error", json_string(error));
	struct tr_buf err = TR_BUF_INIT;
	if (write_sync(p->store, tr_store_pipeline_run_update, args, "pipelines.run.state", actor,
		       NULL, &err))
		tr_log_error("pipeline run %s: cannot record state %s: %s", run_id, state,
			     tr_buf_str(&err));
	tr_buf_release(&err);
	event_add(p, run_id, "run", NULL, state, error);
}

/* ---- tracking: each attempt an MLflow child run ---------------------------------- */

struct tracking {
	struct tr_pipelines *p;
	struct tr_recorder *rec;
	const char *run_id, *experiment_id;
	struct tr_run_hooks base; /* the recorder's persist/flush/cache_get */
};

static json_t *tag(const char *k, const char *v)
{
	return json_pack("{s:s,s:s}", "key", k, "value", v ? v : "");
}

static enum tr_err attempt_begin(void *ctx, json_t *a, char run_id[64], struct tr_buf *env,
				 struct tr_buf *err)
{
	struct tracking *t = ctx;
	const char *path = json_string_value(json_object_get(a, "path"));
	int attempt = (int)json_integer_value(json_object_get(a, "attempt"));
	char num[16], name[300];
	snprintf(num, sizeof(num), "%d", attempt);
	if (attempt > 1)
		snprintf(name, sizeof(name), "%.250s (attempt %d)", path, attempt);
	else
		snprintf(name, sizeof(name), "%.250s", path);
	json_t *tags = json_pack(
	    "[o,o,o,o,o,o]", tag("mlflow.parentRunId", t->run_id),
	    tag("trellis.pipeline_run_id", t->run_id), tag("trellis.task_path", path),
	    tag("trellis.attempt", num), tag("mlflow.source.type", "JOB"),
	    tag("mlflow.source.name", json_string_value(json_object_get(a, "component"))));
	json_t *res = NULL;
	enum tr_err rc = write_sync(t->p->store, tr_store_run_create,
				    json_pack("{s:s,s:s,s:o}", "experiment_id", t->experiment_id,
					      "run_name", name, "tags", tags),
				    "runs.create", "pipelines", &res, err);
	const char *id = json_string_value(
	    json_object_get(json_object_get(json_object_get(res, "run"), "info"), "run_id"));
	if (!rc && !id)
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "the task's run has no id");
	if (rc) {
		json_decref(res);
		return rc;
	}
	snprintf(run_id, 64, "%s", id);
	json_decref(res);
	/* the resolved input parameters, as params */
	json_t *params = json_object_get(a, "params");
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v)
	{
		if (strlen(k) > 250)
			continue;
		char *text;
		double d = json_is_real(v) ? json_real_value(v) : 0.5;
		if (json_is_string(v)) {
			text = tr_xstrdup(json_string_value(v));
		} else if (d == floor(d) && fabs(d) < 9e15) { /* 2.0 from protobuf JSON: 2 */
			struct tr_buf b = TR_BUF_INIT;
			tr_buf_appendf(&b, "%lld", (long long)d);
			text = tr_buf_detach(&b);
		} else {
			text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
		}
		if (!text)
			continue;
		if (strlen(text) > MAX_PARAM_LEN)
			text[MAX_PARAM_LEN] = '\0';
		tr_recorder_submit(
		    t->rec, tr_store_run_log_param,
		    json_pack("{s:s,s:s,s:s}", "run_id", run_id, "key", k, "value", text),
		    "runs.log-parameter", TR_AUDIT_DATA);
		free(text);
	}
	/* lineage: the task is tracked as this run, both are part of the
	 * pipeline run, and the task consumed its input files (by content) */
	char task_node[600], run_node[100], prun_node[100];
	snprintf(task_node, sizeof(task_node), "task:%s/%.500s", t->run_id, path);
	snprintf(run_node, sizeof(run_node), "run:%s", run_id);
	snprintf(prun_node, sizeof(prun_node), "pipeline_run:%s", t->run_id);
	json_t *edges = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]", "src", task_node,
				  "dst", run_node, "relation", "tracked_as", "src", task_node,
				  "dst", prun_node, "relation", "part_of", "src", run_node, "dst",
				  prun_node, "relation", "part_of");
	size_t di;
	json_t *dg;
	json_array_foreach(json_object_get(a, "input_digests"), di, dg)
	{
		char node[80];
		snprintf(node, sizeof(node), "artifact:%s",
			 json_string_value(json_object_get(dg, "sha256")));
		json_array_append_new(edges, json_pack("{s:s,s:s,s:s}", "src", node, "dst",
						       task_node, "relation", "consumed"));
	}
	tr_recorder_submit(t->rec, tr_store_lineage_link, json_pack("{s:o}", "edges", edges),
			   "lineage.link", TR_AUDIT_DATA);
	/* what the step's mlflow client needs to log to this run */
	tr_buf_appendf(env, "MLFLOW_TRACKING_URI=%s", t->p->tracking_uri);
	tr_buf_appendc(env, '\0');
	tr_buf_appendf(env, "MLFLOW_RUN_ID=%s", run_id);
	tr_buf_appendc(env, '\0');
	tr_buf_appendf(env, "MLFLOW_EXPERIMENT_ID=%s", t->experiment_id);
	tr_buf_appendc(env, '\0');
	return TR_OK;
}

static void metric(struct tracking *t, const char *run_id, const char *key, double value,
		   int64_t ts)
{
	if (!isfinite(value) || strlen(key) > 250)
		return;
	tr_recorder_submit(t->rec, tr_store_run_log_metric,
			   json_pack("{s:s,s:s,s:f,s:I,s:I}", "run_id", run_id, "key", key, "value",
				     value, "timestamp", (json_int_t)ts, "step", 0),
			   "runs.log-metric", TR_AUDIT_DATA);
}

static void attempt_end(void *ctx, json_t *a)
{
	struct tracking *t = ctx;
	const char *run_id = json_string_value(json_object_get(a, "mlflow_run_id"));
	if (!run_id || !*run_id)
		return;
	const char *state = json_string_value(json_object_get(a, "state"));
	int64_t now = tr_clock_now_ms();
	json_t *start = json_object_get(a, "start_ms"), *end = json_object_get(a, "end_ms");
	if (json_is_integer(start) && json_is_integer(end) && json_integer_value(start) > 0)
		metric(t, run_id, "system/duration_seconds",
		       (double)(json_integer_value(end) - json_integer_value(start)) / 1000.0, now);
	if (json_is_integer(json_object_get(a, "exit_code")))
		metric(t, run_id, "system/exit_code",
		       (double)json_integer_value(json_object_get(a, "exit_code")), now);
	json_int_t peak = json_integer_value(json_object_get(a, "peak_rss_bytes"));
	if (peak > 0)
		metric(t, run_id, "system/peak_memory_megabytes", (double)peak / 1048576.0, now);
	/* KFP Metrics artifacts, mirrored */
	json_t *arts = json_object_get(json_object_get(a, "outputs"), "artifacts");
	const char *name;
	json_t *list;
	json_object_foreach(arts, name, list)
	{
		size_t i;
		json_t *art;
		json_array_foreach(list, i, art)
		{
			const char *title = json_string_value(
			    json_object_get(json_object_get(art, "type"), "schemaTitle"));
			if (!title || strcmp(title, "system.Metrics"))
				continue;
			const char *mk;
			json_t *mv;
			json_object_foreach(json_object_get(art, "metadata"), mk, mv)
			{
				if (json_is_number(mv))
					metric(t, run_id, mk, json_number_value(mv), now);
			}
		}
	}
	const char *status = !strcmp(state, "SUCCEEDED")   ? "FINISHED"
			     : !strcmp(state, "CANCELLED") ? "KILLED"
							   : "FAILED";
	tr_recorder_submit(t->rec, tr_store_run_update,
			   json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", status,
				     "end_time", (json_int_t)now),
			   "runs.update", TR_AUDIT_CONTROL);
}

static enum tr_err persist_via(void *ctx, json_t *task, struct tr_buf *err)
{
	struct tracking *t = ctx;
	return t->base.persist(t->base.ctx, task, err);
}

static enum tr_err flush_via(void *ctx, struct tr_buf *err)
{
	struct tracking *t = ctx;
	return t->base.flush(t->base.ctx, err);
}

static json_t *cache_get_via(void *ctx, const char *fingerprint)
{
	struct tracking *t = ctx;
	return t->base.cache_get(t->base.ctx, fingerprint);
}

static void on_change(void *ctx, const char *path, enum tr_task_state st, const char *message)
{
	struct tracking *t = ctx;
	event_add(t->p, t->run_id, "task", path, tr_task_state_name(st), message);
}

/* ---- executing a run -------------------------------------------------------------- */

static const char *kfp_state(enum tr_task_state st)
{
	switch (st) {
	case TR_TASK_SUCCEEDED:
		return "SUCCEEDED";
	case TR_TASK_CANCELLED:
		return "CANCELED";
	case TR_TASK_RUNNING:
		return "RUNNING";
	default:
		return "FAILED";
	}
}

static void job_ended(struct tr_pipelines *p, struct job *j);

/* Executes job J to its end (or until the service stops). */
static void execute(struct job *j)
{
	struct tr_pipelines *p = j->p;
	struct tr_buf err = TR_BUF_INIT;
	json_t *rec = NULL;
	struct tr_pipeline_spec *spec = NULL;
	struct tr_executor *ex = NULL;
	struct tr_recorder *recorder = NULL;
	struct tr_run *run = NULL;
	const char *final = NULL;
	if (tr_store_pipeline_run_get(p->store, j->run_id, &rec, &err)) {
		tr_log_error("pipeline run %s: %s", j->run_id, tr_buf_str(&err));
		goto out;
	}
	const char *text = json_string_value(json_object_get(rec, "spec_text"));
	struct tr_diags d = TR_DIAGS_INIT;
	if (!text || tr_pipeline_load_buf(text, strlen(text), NULL, &spec, &d)) {
		struct tr_buf msg = TR_BUF_INIT;
		tr_diags_format(&d, &msg);
		tr_diags_release(&d);
		set_run_state(p, j->run_id, "FAILED",
			      msg.len ? tr_buf_str(&msg) : "the run has no pipeline", "pipelines");
		tr_buf_release(&msg);
		goto out;
	}
	tr_diags_release(&d);
	/* the run folders' folder, made with the first run */
	if (mkdir(p->runs_root, 0755) && errno != EEXIST) {
		tr_buf_appendf(&err, "cannot create %s: %s", p->runs_root, strerror(errno));
		set_run_state(p, j->run_id, "FAILED", tr_buf_str(&err), "pipelines");
		goto out;
	}
	struct tr_executor_config ecfg = {.user = p->step_user};
	if (tr_executor_open("local", &ecfg, &ex, &err)) {
		set_run_state(p, j->run_id, "FAILED", tr_buf_str(&err), "pipelines");
		goto out;
	}
	recorder = tr_recorder_new(p->store, j->run_id, tr_pipeline_name(spec), p->artifact_root,
				   "pipelines");
	struct tracking t = {.p = p,
			     .rec = recorder,
			     .run_id = j->run_id,
			     .experiment_id =
				 json_string_value(json_object_get(rec, "experiment_id"))};
	if (!t.experiment_id || !*t.experiment_id)
		t.experiment_id = "0";
	/* one context for every hook: the recorder's are reached through T */
	tr_recorder_hooks(recorder, &t.base);
	struct tr_run_hooks hooks = {.persist = persist_via,
				     .flush = flush_via,
				     .cache_get = cache_get_via,
				     .attempt_begin = attempt_begin,
				     .attempt_end = attempt_end,
				     .ctx = &t};
	struct tr_run_hooks *hp = &hooks;
	json_t *opts = json_object_get(rec, "options");
	struct tr_run_options o = {
	    .run_id = j->run_id,
	    .run_name = json_string_value(json_object_get(rec, "display_name")),
	    .root = p->runs_root,
	    .params = json_object_get(rec, "params"),
	    .parallelism = p->parallelism,
	    .python_dir = p->python_dir,
	    .ex = ex,
	    .hooks = hp,
	    .no_cache = json_is_true(json_object_get(opts, "no_cache")),
	    .prior = json_object_get(rec, "tasks"),
	    .no_signals = true,
	    .on_change = on_change,
	    .ctx = &t,
	};
	if (tr_run_new(spec, &o, &run, &err)) {
		set_run_state(p, j->run_id, "FAILED", tr_buf_str(&err), "pipelines");
		goto out;
	}
	pthread_mutex_lock(&p->lock);
	j->run = run;
	bool terminate = j->terminate_requested;
	pthread_mutex_unlock(&p->lock);
	if (terminate)
		tr_run_cancel(run, "terminated");
	set_run_state(p, j->run_id, terminate ? "CANCELING" : "RUNNING", NULL, "pipelines");
	enum tr_err rc = tr_run_execute(run, &err);
	pthread_mutex_lock(&p->lock);
	j->run = NULL;
	terminate = j->terminate_requested;
	pthread_mutex_unlock(&p->lock);
	struct tr_buf ferr = TR_BUF_INIT;
	if (tr_recorder_flush(recorder, &ferr) && !rc)
		rc = tr_fail(&err, TR_ERR_IO_ERROR, "cannot record the run: %s", tr_buf_str(&ferr));
	tr_buf_release(&ferr);
	if (!rc && tr_run_state(run) == TR_TASK_RUNNING)
		goto out; /* detached: the next start resumes it */
	final = rc ? "FAILED" : terminate ? "CANCELED" : kfp_state(tr_run_state(run));
	if (!rc && !strcmp(final, "FAILED")) { /* say which task, and why */
		json_t *sum = tr_run_summary(run), *task;
		size_t i;
		json_array_foreach(json_object_get(sum, "tasks"), i, task)
		{
			if (strcmp(json_string_value(json_object_get(task, "state")), "FAILED"))
				continue;
			const char *m = json_string_value(json_object_get(task, "message"));
			tr_buf_appendf(&err, "task %s failed%s%s",
				       json_string_value(json_object_get(task, "path")),
				       m && *m ? ": " : "", m ? m : "");
			break;
		}
		json_decref(sum);
	}
	set_run_state(p, j->run_id, final, err.len ? tr_buf_str(&err) : NULL, "pipelines");
out:
	tr_run_free(run);
	tr_recorder_free(recorder);
	tr_executor_close(ex);
	tr_pipeline_spec_free(spec);
	json_decref(rec);
	tr_buf_release(&err);
	job_ended(p, j);
}

static void *job_thread(void *arg)
{
	execute(arg);
	return NULL;
}

/* Starts waiting runs while slots are free; under p->lock. */
static void start_waiting(struct tr_pipelines *p)
{
	while (!p->stopping && p->waiting && p->n_active < p->max_runs) {
		struct job *j = p->waiting;
		p->waiting = j->next;
		j->next = p->active;
		p->active = j;
		p->n_active++;
		if (pthread_create(&j->thread, NULL, job_thread, j)) {
			tr_log_error("pipeline run %s: cannot start a thread", j->run_id);
			p->active = j->next;
			p->n_active--;
			free(j);
		}
	}
}

static void job_ended(struct tr_pipelines *p, struct job *j)
{
	pthread_mutex_lock(&p->lock);
	for (struct job **q = &p->active; *q; q = &(*q)->next)
		if (*q == j) {
			*q = j->next;
			break;
		}
	p->n_active--;
	if (p->n_ended == p->cap_ended) {
		p->cap_ended = p->cap_ended ? 2 * p->cap_ended : 16;
		p->ended = tr_xrealloc(p->ended, p->cap_ended * sizeof(*p->ended));
	}
	p->ended[p->n_ended++] = j->thread;
	free(j);
	start_waiting(p);
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

/* Queues run RUN_ID; under p->lock. */
static void enqueue(struct tr_pipelines *p, const char *run_id, bool terminate)
{
	struct job *j = tr_xcalloc(1, sizeof(*j));
	snprintf(j->run_id, sizeof(j->run_id), "%s", run_id);
	j->p = p;
	j->terminate_requested = terminate;
	struct job **q = &p->waiting;
	while (*q)
		q = &(*q)->next;
	*q = j;
	start_waiting(p);
}

/* ---- the API ---------------------------------------------------------------------- */

enum tr_err tr_pipelines_start(const struct tr_pipelines_config *cfg, struct tr_pipelines **out,
			       struct tr_buf *err)
{
	struct tr_pipelines *p = tr_xcalloc(1, sizeof(*p));
	p->store = cfg->store;
	p->artifact_root = tr_xstrdup(cfg->artifact_root);
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "%s/pipelines", cfg->artifact_root);
	p->runs_root = tr_buf_detach(&b);
	p->tracking_uri = tr_xstrdup(cfg->tracking_uri ? cfg->tracking_uri : "");
	p->step_user = cfg->step_user ? tr_xstrdup(cfg->step_user) : NULL;
	p->python_dir = cfg->python_dir ? tr_xstrdup(cfg->python_dir) : NULL;
	p->max_runs = cfg->max_runs > 0 ? cfg->max_runs : 4;
	p->parallelism = cfg->parallelism;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	/* runs the last server left unfinished go on */
	json_t *ids = NULL;
	if (tr_store_pipeline_runs_unfinished(p->store, &ids, err)) {
		tr_pipelines_stop(p);
		return TR_ERR_IO_ERROR;
	}
	size_t i;
	json_t *id;
	pthread_mutex_lock(&p->lock);
	json_array_foreach(ids, i, id)
	{
		json_t *rec = NULL;
		struct tr_buf e = TR_BUF_INIT;
		bool canceling = false;
		if (!tr_store_pipeline_run_get(p->store, json_string_value(id), &rec, &e))
			canceling =
			    !strcmp(json_string_value(json_object_get(rec, "state")), "CANCELING");
		json_decref(rec);
		tr_buf_release(&e);
		tr_log_info("resuming pipeline run %s", json_string_value(id));
		enqueue(p, json_string_value(id), canceling);
	}
	pthread_mutex_unlock(&p->lock);
	json_decref(ids);
	*out = p;
	return TR_OK;
}

void tr_pipelines_stop(struct tr_pipelines *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (struct job *j = p->active; j; j = j->next)
		if (j->run)
			tr_run_detach(j->run);
	pthread_cond_broadcast(&p->changed);
	/* a run between its thread's start and tr_run_new() detaches when it
	 * sees... nothing: wait until every thread is done */
	while (p->n_active) {
		for (struct job *j = p->active; j; j = j->next)
			if (j->run)
				tr_run_detach(j->run);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->changed, &p->lock, &ts);
	}
	while (p->waiting) {
		struct job *j = p->waiting;
		p->waiting = j->next;
		free(j);
	}
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_ended; i++)
		pthread_join(p->ended[i], NULL);
	for (size_t i = 0; i < EVENT_RING; i++)
		json_decref(p->ring[i]);
	free(p->ended);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p->artifact_root);
	free(p->runs_root);
	free(p->tracking_uri);
	free(p->step_user);
	free(p->python_dir);
	free(p);
}

enum tr_err tr_pipelines_submit(struct tr_pipelines *p, const struct tr_pipeline_submit *req,
				char run_id[64], struct tr_buf *err)
{
	if (!req->display_name || !*req->display_name)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "The run name is empty");
	if (!req->spec_text || !req->spec_len)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "The run has no pipeline");
	struct tr_pipeline_spec *spec = NULL;
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = "pipeline";
	enum tr_err rc = tr_pipeline_load_buf(req->spec_text, req->spec_len, NULL, &spec, &d);
	if (rc) {
		tr_diags_format(&d, err);
		tr_diags_release(&d);
		return TR_ERR_INVALID_PARAMETER_VALUE;
	}
	tr_diags_release(&d);
	json_t *params = req->params ? json_incref(req->params) : json_object();
	rc = tr_pipeline_check_params(spec, params, err);
	if (rc) {
		json_decref(params);
		tr_pipeline_spec_free(spec);
		return rc;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)req->spec_text, req->spec_len);
	char sha[65];
	tr_ids_hex(h, sizeof(h), sha);
	json_t *tags =
	    json_pack("[o,o,o,o]", tag("trellis.pipeline", tr_pipeline_name(spec)),
		      tag("trellis.pipeline_run", "true"), tag("mlflow.source.type", "JOB"),
		      tag("mlflow.source.name", tr_pipeline_name(spec)));
	json_t *args = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s%,s:s,s:o,s:o,s:{s:b},s:s,s:o}", "display_name", req->display_name,
	    "experiment_id", req->experiment_id && *req->experiment_id ? req->experiment_id : "0",
	    "description", req->description ? req->description : "", "name", tr_pipeline_name(spec),
	    "spec_text", req->spec_text, req->spec_len, "spec_sha256", sha, "params", params,
	    "runtime_config",
	    req->runtime_config ? json_incref(req->runtime_config) : json_object(), "options",
	    "no_cache", req->no_cache, "root", p->runs_root, "tags", tags);
	tr_pipeline_spec_free(spec);
	if (req->pipeline_id)
		json_object_set_new(args, "pipeline_id", json_string(req->pipeline_id));
	if (req->pipeline_version_id)
		json_object_set_new(args, "pipeline_version_id",
				    json_string(req->pipeline_version_id));
	if (req->recurring_run_id)
		json_object_set_new(args, "recurring_run_id", json_string(req->recurring_run_id));
	if (req->actor)
		json_object_set_new(args, "user_id", json_string(req->actor));
	json_t *res = NULL;
	rc = write_sync(p->store, tr_store_pipeline_run_submit, args, "pipelines.runs.create",
			req->actor, &res, err);
	if (rc)
		return rc;
	snprintf(run_id, 64, "%s", json_string_value(json_object_get(res, "run_id")));
	json_decref(res);
	event_add(p, run_id, "run", NULL, "PENDING", NULL);
	pthread_mutex_lock(&p->lock);
	if (!p->stopping)
		enqueue(p, run_id, false);
	pthread_mutex_unlock(&p->lock);
	return TR_OK;
}

/* The recorded state of RUN_ID into STATE (a copy). */
static enum tr_err stored_state(struct tr_pipelines *p, const char *run_id, char *state, size_t cap,
				struct tr_buf *err)
{
	json_t *rec = NULL;
	enum tr_err rc = tr_store_pipeline_run_get(p->store, run_id, &rec, err);
	if (rc)
		return rc;
	snprintf(state, cap, "%s", json_string_value(json_object_get(rec, "state")));
	json_decref(rec);
	return TR_OK;
}

enum tr_err tr_pipelines_terminate(struct tr_pipelines *p, const char *run_id, const char *actor,
				   struct tr_buf *err)
{
	pthread_mutex_lock(&p->lock);
	for (struct job **q = &p->waiting; *q; q = &(*q)->next)
		if (!strcmp((*q)->run_id, run_id)) {
			struct job *j = *q;
			*q = j->next;
			pthread_mutex_unlock(&p->lock);
			free(j);
			set_run_state(p, run_id, "CANCELED", "terminated before it started", actor);
			return TR_OK;
		}
	for (struct job *j = p->active; j; j = j->next)
		if (!strcmp(j->run_id, run_id)) {
			bool again = j->terminate_requested;
			j->terminate_requested = true;
			if (j->run)
				tr_run_cancel(j->run, "terminated");
			pthread_mutex_unlock(&p->lock);
			if (!again)
				set_run_state(p, run_id, "CANCELING", NULL, actor);
			return TR_OK;
		}
	pthread_mutex_unlock(&p->lock);
	char state[32];
	enum tr_err rc = stored_state(p, run_id, state, sizeof(state), err);
	if (rc)
		return rc;
	return tr_fail(err, TR_ERR_INVALID_STATE, "Run %s is %s: there is nothing to terminate",
		       run_id, state);
}

enum tr_err tr_pipelines_retry(struct tr_pipelines *p, const char *run_id, const char *actor,
			       struct tr_buf *err)
{
	char state[32];
	enum tr_err rc = stored_state(p, run_id, state, sizeof(state), err);
	if (rc)
		return rc;
	if (strcmp(state, "FAILED") && strcmp(state, "CANCELED"))
		return tr_fail(err, TR_ERR_INVALID_STATE,
			       "Run %s is %s: only a failed or canceled run can be retried", run_id,
			       state);
	pthread_mutex_lock(&p->lock);
	for (struct job *j = p->active; j; j = j->next)
		if (!strcmp(j->run_id, run_id)) { /* still finishing its records */
			pthread_mutex_unlock(&p->lock);
			return tr_fail(err, TR_ERR_INVALID_STATE, "Run %s is still ending", run_id);
		}
	pthread_mutex_unlock(&p->lock);
	set_run_state(p, run_id, "PENDING", NULL, actor);
	pthread_mutex_lock(&p->lock);
	if (!p->stopping)
		enqueue(p, run_id, false);
	pthread_mutex_unlock(&p->lock);
	return TR_OK;
}
