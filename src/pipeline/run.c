/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run engine: DAG instances and task instances built as the run goes,
 * input binding, conditions, trigger strategies, loops, retries, DAG outputs,
 * and the event loop that drives the executor. See run.h for the semantics.
 */
#include "pipeline/run.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/ids.h"
#include "exec/exec.h"
#include "pipeline/cel.h"
#include "pipeline/digest.h"
#include "pipeline/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <unistd.h>

extern char **environ;

struct dag_inst;

struct task_inst {
	const struct tr_pipeline_task *t;
	struct dag_inst *parent;
	enum tr_task_state state;
	char *path;		    /* "train", "for-loop-2/0/train" */
	json_t *params, *artifacts; /* bound inputs, once ready */
	json_t *outputs;	    /* {"parameters": {}, "artifacts": {}} */
	char *message;		    /* why it failed or was skipped */
	int attempts;		    /* attempts started */
	int64_t not_before_ms;	    /* retry backoff: start no earlier */
	struct tr_attempt *attempt;
	json_t *exec_input;
	int64_t start_ms, end_ms;
	bool announced; /* in the summary's start order */
	bool started;	/* inputs bound and checked in this execution */
	bool cached;	/* outputs taken from the task cache */
	bool cacheable; /* a success becomes a cache entry */
	char fingerprint[65];
	char *attempt_dir;     /* the current or last attempt's folder */
	char tracking_run[64]; /* the current or last attempt's tracking (MLflow) run, or "" */
	uint64_t gpus;	       /* GPUs assigned to the running attempt */
	json_t *digests;       /* [{uri, sha256, size}] of the outputs an attempt wrote */
	/* a task whose component is a DAG */
	struct dag_inst **children;
	size_t n_children, cap_children;
	json_t *items; /* loop items, or NULL */
	size_t next_item;
	size_t first_open; /* children before it are done */
	size_t kids_done;  /* children done, wherever they are */
	bool kids_failed;  /* some finished child failed */
};

struct dag_inst {
	const struct tr_pipeline_component *comp;
	const struct tr_pipeline_dag *dag;
	struct task_inst *owner; /* NULL for the root */
	char *path;		 /* "" for the root */
	json_t *params, *artifacts;
	struct task_inst *tasks;
	size_t n;
	bool done, failed;
};

struct tr_run {
	const struct tr_pipeline_spec *spec;
	struct tr_run_options o;
	char *run_id, *run_name, *root, *python_dir;
	char create_time[40];
	struct dag_inst *top;
	int running;
	int parallelism;
	bool failed;	/* a task failed: start nothing new (unless keep_going) */
	bool cancelled; /* Ctrl-C, SIGTERM or the pipeline timeout */
	char *cancel_reason;
	int64_t started_ms;
	int epfd, sigfd;
	int ctlfd;	      /* eventfd: tr_run_cancel()/tr_run_detach() from other threads */
	atomic_int ctl;	      /* CTL_CANCEL | CTL_DETACH, set by those */
	char ctl_reason[128]; /* tr_run_cancel()'s reason, written before CTL_CANCEL */
	bool detached;
	int kfp_importable;	  /* -1 unknown, 0 no, 1 yes */
	struct task_inst **order; /* tasks in the order they started */
	size_t n_order, cap_order;
	enum tr_task_state state;
	uint64_t changes;    /* state changes so far: a pass that made some may enable more */
	enum tr_err hook_rc; /* a persist hook failed: the run stops */
	struct tr_buf hook_err;
	/* attempts prepared and recorded in this pass, spawned together once their
	 * records are durable (one commit for the batch, not one per task) */
	struct spawn *queue;
	size_t n_queue, cap_queue;
	int64_t *overhead_us; /* "inputs ready" -> "spawn returned", per attempt */
	size_t n_overhead, cap_overhead;
	int n_gpus;	    /* /dev/nvidiaN devices; -1 until counted */
	uint64_t gpus_used; /* bit i: GPU i is assigned to a running attempt */
};

struct spawn {
	struct task_inst *ti;
	const struct tr_pipeline_container *ct;
	char **argv, **envv;
	char *dir, *out;
	int64_t ready_us;
};

const char *tr_task_state_name(enum tr_task_state s)
{
	static const char *const names[] = {"PENDING", "RUNNING", "SUCCEEDED",
					    "FAILED",  "SKIPPED", "CANCELLED"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

static bool terminal(enum tr_task_state s)
{
	return s >= TR_TASK_SUCCEEDED;
}

static json_t *empty_outputs(void)
{
	return json_pack("{s:{},s:{}}", "parameters", "artifacts");
}

/* ---- instances ------------------------------------------------------------- */

static char *join_path(const char *a, const char *b)
{
	struct tr_buf p = TR_BUF_INIT;
	tr_buf_appendf(&p, "%s%s%s", a, *a ? "/" : "", b);
	return tr_buf_detach(&p);
}

/* A DAG instance of component C with inputs PARAMS and ARTIFACTS (stolen);
 * the component's input defaults fill what is missing. */
static struct dag_inst *dag_new(const struct tr_pipeline_component *c, struct task_inst *owner,
				const char *path, json_t *params, json_t *artifacts)
{
	struct dag_inst *d = tr_xcalloc(1, sizeof(*d));
	d->comp = c;
	d->dag = tr_pipeline_component_dag(c);
	d->owner = owner;
	d->path = tr_xstrdup(path);
	d->params = params;
	d->artifacts = artifacts;
	for (size_t i = 0; i < tr_pipeline_component_n_inputs(c); i++) {
		const struct tr_pipeline_io *io = tr_pipeline_component_input(c, i);
		if (!io->artifact && io->default_value && !json_object_get(params, io->name))
			json_object_set(params, io->name, io->default_value);
	}
	d->n = tr_pipeline_dag_n_tasks(d->dag);
	d->tasks = tr_xcalloc(d->n ? d->n : 1, sizeof(*d->tasks));
	for (size_t i = 0; i < d->n; i++) {
		struct task_inst *ti = &d->tasks[i];
		ti->t = tr_pipeline_dag_task(d->dag, i);
		ti->parent = d;
		ti->path = join_path(path, tr_pipeline_task_name(ti->t));
	}
	return d;
}

static void dag_free(struct dag_inst *d);

static void task_release(struct task_inst *ti)
{
	free(ti->path);
	free(ti->message);
	free(ti->attempt_dir);
	json_decref(ti->digests);
	json_decref(ti->params);
	json_decref(ti->artifacts);
	json_decref(ti->outputs);
	json_decref(ti->exec_input);
	json_decref(ti->items);
	tr_exec_free(ti->attempt);
	for (size_t i = 0; i < ti->n_children; i++)
		dag_free(ti->children[i]);
	free(ti->children);
}

static void dag_free(struct dag_inst *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		task_release(&d->tasks[i]);
	free(d->tasks);
	free(d->path);
	json_decref(d->params);
	json_decref(d->artifacts);
	free(d);
}

/* ---- state changes ------------------------------------------------------------ */

static void set_state(struct tr_run *r, struct task_inst *ti, enum tr_task_state st,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct tr_exec_result;
static json_t *artifact_digests(json_t *arts_map);
static void attempt_ended(struct tr_run *r, struct task_inst *ti, const char *state,
			  const struct tr_exec_result *res, const char *message);

static void set_state(struct tr_run *r, struct task_inst *ti, enum tr_task_state st,
		      const char *fmt, ...)
{
	ti->state = st;
	r->changes++;
	if (fmt) {
		struct tr_buf m = TR_BUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		tr_buf_vappendf(&m, fmt, ap);
		va_end(ap);
		free(ti->message);
		ti->message = tr_buf_detach(&m);
	}
	if (st == TR_TASK_RUNNING && !ti->start_ms)
		ti->start_ms = tr_clock_now_ms();
	if (terminal(st))
		ti->end_ms = tr_clock_now_ms();
	if (terminal(st) && !ti->start_ms) /* decided without running: cached, skipped */
		ti->start_ms = ti->end_ms;
	if (!ti->announced) {
		ti->announced = true;
		if (r->n_order == r->cap_order) {
			r->cap_order = r->cap_order ? 2 * r->cap_order : 64;
			r->order = tr_xrealloc(r->order, r->cap_order * sizeof(*r->order));
		}
		r->order[r->n_order++] = ti;
	}
	if (st == TR_TASK_FAILED && !r->o.keep_going)
		r->failed = true;
	if (r->o.hooks && r->o.hooks->persist && !r->hook_rc) {
		json_t *t =
		    json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:b,s:b}", "path", ti->path, "state",
			      tr_task_state_name(st), "attempts", ti->attempts, "attempt_dir",
			      ti->attempt_dir ? ti->attempt_dir : "", "message",
			      ti->message ? ti->message : "", "fingerprint", ti->fingerprint,
			      "cacheable", ti->cacheable, "cached", ti->cached);
		if (ti->outputs && st == TR_TASK_SUCCEEDED)
			json_object_set(t, "outputs", ti->outputs);
		if (ti->digests && st == TR_TASK_SUCCEEDED && !ti->cached)
			json_object_set(t, "artifact_digests", ti->digests);
		if (ti->start_ms)
			json_object_set_new(t, "start_ms", json_integer(ti->start_ms));
		if (ti->end_ms)
			json_object_set_new(t, "end_ms", json_integer(ti->end_ms));
		if (ti->tracking_run[0])
			json_object_set_new(t, "mlflow_run_id", json_string(ti->tracking_run));
		r->hook_rc = r->o.hooks->persist(r->o.hooks->ctx, t, &r->hook_err);
		json_decref(t);
	}
	if (r->o.on_change)
		r->o.on_change(r->o.ctx, ti->path, st, ti->message);
}

/* ---- binding inputs ------------------------------------------------------------ */

static struct task_inst *sibling(struct dag_inst *d, const char *name)
{
	const struct tr_pipeline_task *t = tr_pipeline_dag_task_find(d->dag, name);
	return t ? &d->tasks[tr_pipeline_task_index(t)] : NULL;
}

static json_t *final_status(struct tr_run *r, struct task_inst *p)
{
	const char *state = p->state == TR_TASK_SUCCEEDED   ? "SUCCEEDED"
			    : p->state == TR_TASK_CANCELLED ? "CANCELLED"
			    : p->state == TR_TASK_SKIPPED   ? "SKIPPED"
							    : "FAILED";
	json_t *st = json_pack("{s:s,s:s,s:s}", "state", state, "pipelineJobResourceName",
			       r->run_id, "pipelineTaskName", p->path);
	json_object_set_new(st, "error",
			    p->message && p->state != TR_TASK_SUCCEEDED
				? json_pack("{s:s}", "message", p->message)
				: json_object());
	return st;
}

/* Applies a parameterExpressionSelector to V (stolen); a new value or NULL. */
static json_t *select_value(const struct tr_pipeline_binding *b, json_t *v, struct tr_buf *err)
{
	if (!b->selector_expr || !v)
		return v;
	char *text = json_is_string(v) ? tr_xstrdup(json_string_value(v))
				       : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *ctx = json_pack("{s:s}", "string_value", text);
	json_t *out = NULL;
	if (tr_cel_eval(b->selector_expr, ctx, &out, err))
		out = NULL;
	free(text);
	json_decref(ctx);
	json_decref(v);
	return out;
}

/*
 * Binds TI's inputs from constants, the parent DAG's inputs and sibling
 * outputs. Returns TR_OK; *MISSING_FROM names a producer whose output the
 * task needs but did not get (skipped upstream), or stays NULL.
 */
static enum tr_err bind_inputs(struct tr_run *r, struct task_inst *ti, const char **missing_from,
			       struct tr_buf *err)
{
	json_t *params = json_object(), *arts = json_object();
	*missing_from = NULL;
	for (size_t i = 0; i < tr_pipeline_task_n_bindings(ti->t); i++) {
		const struct tr_pipeline_binding *b = tr_pipeline_task_binding(ti->t, i);
		json_t *v = NULL;
		struct task_inst *p;
		switch (b->kind) {
		case TR_BIND_CONSTANT:
			v = json_incref(b->constant);
			break;
		case TR_BIND_COMPONENT_INPUT:
			v = json_incref(json_object_get(b->artifact ? ti->parent->artifacts
								    : ti->parent->params,
							b->parent_input));
			break;
		case TR_BIND_TASK_OUTPUT:
			p = sibling(ti->parent, b->producer);
			if (p && p->outputs)
				v = json_incref(json_object_get(
				    json_object_get(p->outputs,
						    b->artifact ? "artifacts" : "parameters"),
				    b->output_key));
			if (!v && p && p->state != TR_TASK_SUCCEEDED)
				*missing_from = b->producer;
			break;
		case TR_BIND_TASK_FINAL_STATUS:
			p = sibling(ti->parent, b->producer);
			if (p)
				v = final_status(r, p);
			break;
		}
		if (!b->artifact)
			v = select_value(b, v, err);
		if (v)
			json_object_set_new(b->artifact ? arts : params, b->name, v);
	}
	json_decref(ti->params);
	json_decref(ti->artifacts);
	ti->params = params;
	ti->artifacts = arts;
	return TR_OK;
}

/* ---- DAG outputs --------------------------------------------------------------- */

/* The outputs of finished DAG instance D from its dag.outputs selectors. */
static json_t *dag_outputs(struct dag_inst *d)
{
	json_t *out = empty_outputs();
	for (size_t i = 0; i < tr_pipeline_dag_n_outputs(d->dag); i++) {
		const struct tr_pipeline_dag_output *o = tr_pipeline_dag_output(d->dag, i);
		for (size_t k = 0; k < o->n_selectors; k++) {
			struct task_inst *p = sibling(d, o->selectors[k].producer);
			json_t *v =
			    p && p->outputs
				? json_object_get(json_object_get(p->outputs, o->artifact
										  ? "artifacts"
										  : "parameters"),
						  o->selectors[k].output_key)
				: NULL;
			if (v) { /* dsl.OneOf: the branch that ran */
				json_object_set(
				    json_object_get(out, o->artifact ? "artifacts" : "parameters"),
				    o->name, v);
				break;
			}
		}
	}
	return out;
}

/* A loop's outputs: each output of the body collected over the iterations, in
 * item order (parameters as lists, artifacts as one list). */
static json_t *collect_iterations(struct task_inst *ti)
{
	json_t *out = empty_outputs();
	json_t *ps = json_object_get(out, "parameters"), *as = json_object_get(out, "artifacts");
	const struct tr_pipeline_dag *dag =
	    tr_pipeline_component_dag(tr_pipeline_task_component(ti->t));
	for (size_t i = 0; i < tr_pipeline_dag_n_outputs(dag); i++) {
		const struct tr_pipeline_dag_output *o = tr_pipeline_dag_output(dag, i);
		json_object_set_new(o->artifact ? as : ps, o->name, json_array());
	}
	for (size_t c = 0; c < ti->n_children; c++) {
		json_t *co = dag_outputs(ti->children[c]);
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(co, "parameters"), k, v)
		    json_array_append(json_object_get(ps, k), v);
		json_object_foreach(json_object_get(co, "artifacts"), k, v)
		    json_array_extend(json_object_get(as, k), v);
		json_decref(co);
	}
	return out;
}

/* ---- starting tasks ------------------------------------------------------------- */

static bool kfp_importable(struct tr_run *r, char *const *envp)
{
	if (r->kfp_importable >= 0)
		return r->kfp_importable;
	/* the python3 the steps will find: the first on their PATH (posix_spawnp
	 * would search ours) */
	const char *path = envp[0] + strlen("PATH=");
	char exe[4096] = "";
	for (const char *p = path; *p && !*exe;) {
		size_t n = strcspn(p, ":");
		snprintf(exe, sizeof(exe), "%.*s/python3", (int)n, p);
		if (access(exe, X_OK))
			*exe = 0;
		p += n + (p[n] == ':');
	}
	char *argv[] = {exe, "-c", "import kfp.dsl.executor_main", NULL};
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int status = 1;
	if (*exe && posix_spawn(&pid, exe, &fa, NULL, argv, envp) == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	r->kfp_importable = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return r->kfp_importable;
}

/* The PATH steps see: --python's folder first. A new string. */
static char *step_path(struct tr_run *r)
{
	const char *path = getenv("PATH");
	struct tr_buf p = TR_BUF_INIT;
	if (r->python_dir)
		tr_buf_appendf(&p, "%s:", r->python_dir);
	tr_buf_appends(&p, path ? path : "/usr/local/bin:/usr/bin:/bin");
	return tr_buf_detach(&p);
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Makes PATH and the folders above it that are missing: the deepest first,
 * going up only as far as needed (one mkdir for a new leaf in an existing
 * folder, not one per component). */
static int mkdirs_at(char *p)
{
	if (!mkdir(p, 0755) || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return errno;
	char *slash = strrchr(p, '/');
	if (!slash || slash == p)
		return ENOENT;
	*slash = '\0';
	int e = mkdirs_at(p);
	*slash = '/';
	if (e)
		return e;
	return !mkdir(p, 0755) || errno == EEXIST ? 0 : errno;
}

static enum tr_err mkdirs(const char *path, struct tr_buf *err)
{
	char *p = tr_xstrdup(path);
	int e = mkdirs_at(p);
	enum tr_err rc =
	    e ? tr_fail(err, TR_ERR_IO_ERROR, "cannot create %s: %s", path, strerror(e)) : TR_OK;
	free(p);
	return rc;
}

static void run_values(struct tr_run *r, struct task_inst *ti, struct tr_run_values *rv)
{
	memset(rv, 0, sizeof(*rv));
	rv->job_name = r->run_name;
	rv->job_resource_name = r->run_id;
	rv->job_uuid = r->run_id;
	rv->task_name = tr_pipeline_task_name(ti->t);
	rv->task_uuid = ti->path;
	rv->pipeline_root = r->root;
	rv->create_time_utc = r->create_time;
	rv->schedule_time_utc = r->create_time;
	rv->workspace_path = r->root;
}

static int count_gpus(void)
{
	int n = 0;
	char dev[32];
	for (int i = 0; i < 64; i++) {
		snprintf(dev, sizeof(dev), "/dev/nvidia%d", i);
		if (access(dev, F_OK) == 0)
			n = i + 1;
	}
	return n;
}

/*
 * Assigns the GPUs a step asks for (accelerator count) to TI, as the
 * CUDA_VISIBLE_DEVICES value in VISIBLE; false with a message in WHY when the
 * machine has too few (a clear refusal, never a silent CPU run).
 */
static bool assign_gpus(struct tr_run *r, struct task_inst *ti,
			const struct tr_pipeline_container *ct, struct tr_buf *visible,
			struct tr_buf *why)
{
	const char *want_s = ct->resources.accelerator_count;
	char *end;
	long want = want_s ? strtol(want_s, &end, 10) : 0;
	if (!want_s || want <= 0)
		return true;
	if (r->n_gpus < 0)
		r->n_gpus = count_gpus();
	int free_n = 0;
	for (int i = 0; i < r->n_gpus; i++)
		free_n += !(r->gpus_used & (1ull << i));
	if (want > r->n_gpus) {
		tr_buf_appendf(why,
			       "the step asks for %ld GPU%s (%s) but this machine has %d; Trellis "
			       "does not run it without them",
			       want, want == 1 ? "" : "s",
			       ct->resources.accelerator_type ? ct->resources.accelerator_type
							      : "any type",
			       r->n_gpus);
		return false;
	}
	if (want > free_n)
		return false; /* wait for running steps to release theirs */
	for (int i = 0; i < r->n_gpus && want > 0; i++) {
		if (r->gpus_used & (1ull << i))
			continue;
		r->gpus_used |= 1ull << i;
		ti->gpus |= 1ull << i;
		tr_buf_appendf(visible, "%s%d", visible->len ? "," : "", i);
		want--;
	}
	return true;
}

static void release_gpus(struct tr_run *r, struct task_inst *ti)
{
	r->gpus_used &= ~ti->gpus;
	ti->gpus = 0;
}

/* Starts the next attempt of container task TI. */
static enum tr_err start_attempt(struct tr_run *r, struct task_inst *ti,
				 const struct tr_pipeline_container *ct, struct tr_buf *err)
{
	const struct tr_pipeline_component *c = tr_pipeline_task_component(ti->t);
	struct tr_run_values rv;
	int64_t ready_us = (int64_t)tr_clock_mono_us();
	struct tr_buf gpus = TR_BUF_INIT, why = TR_BUF_INIT;
	if (!assign_gpus(r, ti, ct, &gpus, &why)) {
		enum tr_err grc =
		    why.len ? tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&why))
			    : TR_OK; /* no GPU free yet: try again later */
		tr_buf_release(&gpus);
		tr_buf_release(&why);
		return grc;
	}
	tr_buf_release(&why);
	run_values(r, ti, &rv);
	ti->attempts++;
	struct tr_buf dir = TR_BUF_INIT, out = TR_BUF_INIT;
	tr_buf_appendf(&dir, "%s/%s/%s/%d", r->root, r->run_id, ti->path, ti->attempts);
	tr_buf_appendf(&out, "%s/out", tr_buf_str(&dir));
	char **argv = NULL, *path = step_path(r);
	size_t argc = 0;
	json_t *ei = NULL;
	char **envv = NULL;
	enum tr_err rc = mkdirs(tr_buf_str(&out), err);
	if (!rc)
		rc = tr_resolve_executor_input(c, ti->params, ti->artifacts, &rv, tr_buf_str(&out),
					       &ei, err);
	if (!rc)
		rc = tr_resolve_argv(ct, ei, &rv, &argv, &argc, err);
	/* the step's environment: PATH, the run's variables, the component's env */
	size_t n_extra = 0;
	while (r->o.env && r->o.env[n_extra])
		n_extra++;
	envv = tr_xcalloc(n_extra + ct->n_env + 3, sizeof(*envv));
	size_t ne = 0;
	struct tr_buf pe = TR_BUF_INIT;
	tr_buf_appendf(&pe, "PATH=%s", path);
	envv[ne++] = tr_buf_detach(&pe);
	for (size_t i = 0; i < n_extra; i++)
		envv[ne++] = tr_xstrdup(r->o.env[i]);
	if (gpus.len) {
		struct tr_buf e = TR_BUF_INIT;
		tr_buf_appendf(&e, "CUDA_VISIBLE_DEVICES=%s", tr_buf_str(&gpus));
		envv[ne++] = tr_buf_detach(&e);
	}
	tr_buf_release(&gpus);
	for (size_t i = 0; !rc && i < ct->n_env; i++) {
		char *v = NULL;
		rc = tr_resolve_string(ct->env[i].value ? ct->env[i].value : "", ti->params, &rv,
				       &v, err);
		if (!rc) {
			struct tr_buf e = TR_BUF_INIT;
			tr_buf_appendf(&e, "%s=%s", ct->env[i].name, v);
			envv[ne++] = tr_buf_detach(&e);
		}
		free(v);
	}
	ti->tracking_run[0] = '\0';
	if (!rc && r->o.hooks && r->o.hooks->attempt_begin) {
		/* the attempt's tracking run, and what the step needs to log to it */
		struct tr_buf env = TR_BUF_INIT;
		json_t *a = json_pack(
		    "{s:s,s:i,s:s,s:o,s:o,s:s}", "path", ti->path, "attempt", ti->attempts,
		    "component", tr_pipeline_component_name(c) ? tr_pipeline_component_name(c) : "",
		    "params", ti->params ? json_incref(ti->params) : json_object(), "input_digests",
		    artifact_digests(ti->artifacts), "attempt_dir", tr_buf_str(&dir));
		rc = r->o.hooks->attempt_begin(r->o.hooks->ctx, a, ti->tracking_run, &env, err);
		json_decref(a);
		ti->tracking_run[sizeof(ti->tracking_run) - 1] = '\0';
		size_t n_lines = 0;
		for (size_t i = 0; i < env.len; i++)
			n_lines += env.data[i] == '\0';
		if (!rc && n_lines) {
			envv = tr_xrealloc(envv, (ne + n_lines + 1) * sizeof(*envv));
			for (size_t i = 0; i < env.len; i += strlen(env.data + i) + 1)
				envv[ne++] = tr_xstrdup(env.data + i);
			envv[ne] = NULL;
		}
		tr_buf_release(&env);
	}
	if (!rc && argc > 2 && !strcmp(argv[0], "sh") && !strcmp(argv[1], "-c") &&
	    strstr(argv[2], "kfp==")) {
		char **penv = tr_xcalloc(2, sizeof(char *));
		penv[0] = envv[0];
		if (kfp_importable(r, penv))
			tr_resolve_skip_kfp_install(argv, &argc);
		free(penv);
	}
	if (!rc) {
		tr_exec_free(ti->attempt);
		ti->attempt = NULL;
		free(ti->attempt_dir);
		ti->attempt_dir = tr_xstrdup(tr_buf_str(&dir));
		/* write-ahead: "attempt N starting in DIR" is recorded before the spawn */
		if (ct->image && *ct->image)
			set_state(r, ti, TR_TASK_RUNNING,
				  "image %s is not pulled: the step runs on the host", ct->image);
		else
			set_state(r, ti, TR_TASK_RUNNING, NULL);
		json_decref(ti->exec_input);
		ti->exec_input = ei;
		ei = NULL;
		if (r->n_queue == r->cap_queue) {
			r->cap_queue = r->cap_queue ? 2 * r->cap_queue : 64;
			r->queue = tr_xrealloc(r->queue, r->cap_queue * sizeof(*r->queue));
		}
		r->queue[r->n_queue++] = (struct spawn){
		    .ti = ti,
		    .ct = ct,
		    .argv = argv,
		    .envv = envv,
		    .dir = tr_buf_detach(&dir),
		    .out = tr_buf_detach(&out),
		    .ready_us = ready_us,
		};
		argv = envv = NULL;
		r->running++; /* the slot is taken from now on */
	}
	json_decref(ei);
	tr_resolve_argv_free(argv);
	free_strv(envv);
	free(path);
	tr_buf_release(&dir);
	tr_buf_release(&out);
	return rc;
}

static void spawn_release(struct spawn *sp)
{
	tr_resolve_argv_free(sp->argv);
	free_strv(sp->envv);
	free(sp->dir);
	free(sp->out);
}

/* Makes the queued attempts' records durable (one flush), then spawns them. */
static void spawn_queued(struct tr_run *r)
{
	if (!r->n_queue)
		return;
	if (!r->hook_rc && r->o.hooks && r->o.hooks->flush)
		r->hook_rc = r->o.hooks->flush(r->o.hooks->ctx, &r->hook_err);
	for (size_t i = 0; i < r->n_queue; i++) {
		struct spawn *sp = &r->queue[i];
		struct task_inst *ti = sp->ti;
		enum tr_err rc = r->hook_rc;
		struct tr_buf why = TR_BUF_INIT;
		if (rc) {
			tr_buf_appendf(&why, "cannot record the task: %s",
				       tr_buf_str(&r->hook_err));
		} else {
			struct tr_exec_request req = {0};
			const char *writable[] = {"out", NULL}; /* relative to the attempt folder */
			/* other runs' folders are out of sight: the pipelines folder is
			 * hidden but for this run's own */
			struct tr_buf run_dir = TR_BUF_INIT;
			tr_buf_appendf(&run_dir, "%s/%s", r->root, r->run_id);
			const char *hide[] = {r->root, NULL},
				   *keep[] = {tr_buf_str(&run_dir), NULL};
			req.hide = hide;
			req.keep = keep;
			req.dir = sp->dir;
			req.argv = (const char *const *)sp->argv;
			req.env = (const char *const *)sp->envv;
			req.cwd = sp->out;
			req.memory = sp->ct->resources.memory_limit;
			req.cpu = sp->ct->resources.cpu_limit;
			req.timeout_ms = tr_pipeline_task_timeout_ms(ti->t);
			req.writable = writable;
			rc = tr_exec_start(r->o.ex, &req, &ti->attempt, &why);
			tr_buf_release(&run_dir);
		}
		if (!rc) {
			if (r->n_overhead == r->cap_overhead) {
				r->cap_overhead = r->cap_overhead ? 2 * r->cap_overhead : 256;
				r->overhead_us =
				    tr_xrealloc(r->overhead_us, r->cap_overhead * sizeof(int64_t));
			}
			r->overhead_us[r->n_overhead++] =
			    (int64_t)tr_clock_mono_us() - sp->ready_us;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ti};
			int fd = tr_exec_fd(ti->attempt);
			if (fd >= 0 && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev))
				rc = tr_fail(&why, TR_ERR_INTERNAL_ERROR, "epoll: %s",
					     strerror(errno));
		}
		if (rc) { /* could not start: the attempt fails, the run goes on */
			r->running--;
			release_gpus(r, ti);
			tr_exec_free(ti->attempt);
			ti->attempt = NULL;
			set_state(r, ti, TR_TASK_FAILED, "%s", tr_buf_str(&why));
			attempt_ended(r, ti, "FAILED", NULL, tr_buf_str(&why));
		}
		tr_buf_release(&why);
		spawn_release(sp);
	}
	r->n_queue = 0;
}

static int64_t backoff_ms(const struct tr_pipeline_retry *p, int attempt)
{
	double d = (double)p->backoff_ms;
	for (int i = 1; i < attempt; i++)
		d *= p->factor > 0 ? p->factor : 2;
	int64_t max = p->max_backoff_ms > 0 ? p->max_backoff_ms : 3600000;
	return d > (double)max ? max : (int64_t)d;
}

/* The content digests [{uri, sha256, size}] of the artifact files ARTS
 * ({name: [artifact]}) names (those that exist): of a task's outputs, recorded
 * with the task so that lineage and the cache name content, and of its
 * inputs, for the tracking hook. A new array. */
static json_t *artifact_digests(json_t *arts_map)
{
	json_t *list = json_array();
	const char *name;
	json_t *arts;
	json_object_foreach(arts_map, name, arts)
	{
		size_t i;
		json_t *a;
		json_array_foreach(arts, i, a)
		{
			const char *uri = json_string_value(json_object_get(a, "uri"));
			char hex[65];
			struct stat sb;
			struct tr_buf err = TR_BUF_INIT;
			if (uri && *uri == '/' && !stat(uri, &sb) &&
			    !tr_digest_path(uri, hex, &err))
				json_array_append_new(
				    list,
				    json_pack("{s:s,s:s,s:I}", "uri", uri, "sha256", hex, "size",
					      (json_int_t)(S_ISREG(sb.st_mode) ? sb.st_size : 0)));
			tr_buf_release(&err);
		}
	}
	return list;
}

/* Tells the tracking hook how attempt ti->attempts ended (RES may be NULL:
 * it never ran, or its supervisor left no status). */
static void attempt_ended(struct tr_run *r, struct task_inst *ti, const char *state,
			  const struct tr_exec_result *res, const char *message)
{
	if (!r->o.hooks || !r->o.hooks->attempt_end)
		return;
	json_t *a = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s}", "path", ti->path, "attempt",
			      ti->attempts, "mlflow_run_id", ti->tracking_run, "state", state,
			      "message", message ? message : "", "attempt_dir",
			      ti->attempt_dir ? ti->attempt_dir : "");
	if (res) {
		json_object_set_new(a, "reason", json_string(tr_exec_reason_name(res->reason)));
		json_object_set_new(a, "exit_code", json_integer(res->exit_code));
		json_object_set_new(a, "signal", json_integer(res->signal));
		json_object_set_new(a, "start_ms", json_integer(res->start_ms));
		json_object_set_new(a, "end_ms", json_integer(res->end_ms));
		json_object_set_new(a, "peak_rss_bytes",
				    json_integer((json_int_t)res->peak_rss_bytes));
	}
	if (ti->outputs && !strcmp(state, "SUCCEEDED"))
		json_object_set(a, "outputs", ti->outputs);
	r->o.hooks->attempt_end(r->o.hooks->ctx, a);
	json_decref(a);
}

/* Reads a finished attempt: outputs on success, else a retry or a failure. */
static void finish_attempt(struct tr_run *r, struct task_inst *ti)
{
	struct tr_exec_result res;
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = tr_exec_result(ti->attempt, &res, &why);
	r->running--;
	release_gpus(r, ti);
	bool ok = !rc && res.reason == TR_EXEC_EXITED && res.exit_code == 0;
	if (rc)
		tr_buf_appendf(&why, " (attempt %d)", ti->attempts);
	else if (!ok)
		tr_buf_appends(&why, res.message);
	if (ok) {
		json_t *outs = NULL;
		const struct tr_pipeline_component *c = tr_pipeline_task_component(ti->t);
		if (tr_resolve_collect_outputs(c, ti->exec_input, &outs, &why)) {
			ok = false;
		} else {
			json_decref(ti->outputs);
			ti->outputs = outs;
			json_decref(ti->digests);
			ti->digests = artifact_digests(json_object_get(outs, "artifacts"));
		}
	}
	tr_exec_free(ti->attempt);
	ti->attempt = NULL;
	if (ok && ti->attempts > 1) /* the retry notes are history now */
		set_state(r, ti, TR_TASK_SUCCEEDED, "succeeded on attempt %d", ti->attempts);
	else if (ok)
		set_state(r, ti, TR_TASK_SUCCEEDED, NULL);
	if (ok) {
		attempt_ended(r, ti, "SUCCEEDED", &res, NULL);
	} else {
		const struct tr_pipeline_retry *p = tr_pipeline_task_retry(ti->t);
		bool retry = p && ti->attempts <= p->max_retries && !r->cancelled &&
			     !(rc == TR_OK && res.reason == TR_EXEC_CANCELLED);
		bool cancelled = !rc && res.reason == TR_EXEC_CANCELLED && !retry;
		attempt_ended(r, ti,
			      retry	  ? "RETRYING"
			      : cancelled ? "CANCELLED"
					  : "FAILED",
			      rc ? NULL : &res, tr_buf_str(&why));
		if (retry) {
			ti->not_before_ms = tr_clock_now_ms() + backoff_ms(p, ti->attempts);
			set_state(r, ti, TR_TASK_PENDING,
				  /* inputs stay bound */ "attempt %d failed: %s; retrying",
				  ti->attempts, tr_buf_str(&why));
		} else {
			enum tr_task_state st = !rc && res.reason == TR_EXEC_CANCELLED
						    ? TR_TASK_CANCELLED
						    : TR_TASK_FAILED;
			/* stopped by the run (its timeout, Ctrl-C): say why */
			if (st == TR_TASK_CANCELLED && r->cancel_reason &&
			    strcmp(r->cancel_reason, "cancelled"))
				set_state(r, ti, st, "cancelled: %s", r->cancel_reason);
			else
				set_state(r, ti, st, "%s", tr_buf_str(&why));
		}
	}
	tr_buf_release(&why);
}

/* An importer: its artifact output made from the URI, no process. */
static void run_importer(struct tr_run *r, struct task_inst *ti,
			 const struct tr_pipeline_importer *im)
{
	struct tr_run_values rv;
	run_values(r, ti, &rv);
	json_t *uri_v =
	    im->uri_constant ? im->uri_constant : json_object_get(ti->params, im->uri_parameter);
	struct tr_buf err = TR_BUF_INIT;
	char *uri = NULL;
	if (!json_is_string(uri_v) ||
	    tr_resolve_string(json_string_value(uri_v), ti->params, &rv, &uri, &err)) {
		set_state(r, ti, TR_TASK_FAILED, "importer: no artifact URI %s", tr_buf_str(&err));
		tr_buf_release(&err);
		return;
	}
	json_t *meta = im->metadata ? json_deep_copy(im->metadata) : json_object();
	json_t *art = json_pack(
	    "{s:s,s:s,s:{s:s,s:s},s:o}", "name", "artifact", "uri", uri, "type", "schemaTitle",
	    im->schema_title ? im->schema_title : "system.Artifact", "schemaVersion",
	    im->schema_version ? im->schema_version : "0.0.1", "metadata", meta);
	json_decref(ti->outputs);
	ti->outputs = empty_outputs();
	json_object_set_new(json_object_get(ti->outputs, "artifacts"), "artifact",
			    json_pack("[o]", art));
	free(uri);
	set_state(r, ti, TR_TASK_RUNNING, NULL);
	set_state(r, ti, TR_TASK_SUCCEEDED, NULL);
}

/* The items of loop task TI, or NULL with a message. */
static json_t *loop_items(struct task_inst *ti, const struct tr_pipeline_iterator *it)
{
	if (it->raw_items)
		return json_incref(it->raw_items);
	json_t *v = json_object_get(it->kind == TR_ITER_ARTIFACT ? ti->artifacts : ti->params,
				    it->items_input);
	if (json_is_string(v)) /* a list passed as JSON text */
		return json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
	return json_is_array(v) ? json_incref(v) : NULL;
}

/* Adds body DAG instances of loop task TI up to its parallelism. */
static void loop_fill(struct tr_run *r, struct task_inst *ti)
{
	const struct tr_pipeline_iterator *it = tr_pipeline_task_iterator(ti->t);
	size_t active = ti->n_children - ti->kids_done;
	/* Iterations are opened as they can run, not all at once: without a
	 * parallelismLimit, a few times the run's slots are open (each pass steps
	 * the open ones, so a 10,000-item loop must not cost 10,000 per pass). */
	int64_t cap = it->parallelism > 0 ? it->parallelism : 4 * (int64_t)r->parallelism + 16;
	while (ti->next_item < json_array_size(ti->items) && (int64_t)active < cap &&
	       !r->cancelled && !r->failed) {
		size_t k = ti->next_item++;
		/* shallow: the values are shared, only the item's key differs */
		json_t *params = json_copy(ti->params), *arts = json_copy(ti->artifacts);
		json_t *item = json_array_get(ti->items, k);
		if (it->kind == TR_ITER_ARTIFACT)
			json_object_set_new(arts, it->item_input, json_pack("[O]", item));
		else
			json_object_set(params, it->item_input, item);
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", k);
		char *p = join_path(ti->path, idx);
		if (ti->n_children == ti->cap_children) {
			ti->cap_children = ti->cap_children ? 2 * ti->cap_children : 8;
			ti->children =
			    tr_xrealloc(ti->children, ti->cap_children * sizeof(*ti->children));
		}
		ti->children[ti->n_children++] =
		    dag_new(tr_pipeline_task_component(ti->t), ti, p, params, arts);
		free(p);
		active++;
		r->changes++; /* a new iteration to step */
	}
}

/* ---- the task cache and resume ------------------------------------------------- */

static json_t *args_json(const struct tr_pipeline_arg *a, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		switch (a[i].kind) {
		case TR_ARG_STRING:
			json_array_append_new(list, json_string(a[i].text ? a[i].text : ""));
			break;
		case TR_ARG_CONCAT:
			json_array_append_new(list, json_pack("{s:o}", "Concat",
							      args_json(a[i].items, a[i].n_items)));
			break;
		case TR_ARG_IF_PRESENT:
			json_array_append_new(
			    list, json_pack("{s:{s:s,s:o,s:o}}", "IfPresent", "InputName",
					    a[i].input_name ? a[i].input_name : "", "Then",
					    args_json(a[i].items, a[i].n_items), "Else",
					    args_json(a[i].else_items, a[i].n_else)));
			break;
		}
	}
	return list;
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, (const unsigned char *)text, len);
	tr_ids_hex(d, sizeof(d), out);
}

/*
 * The cache key of container task TI: the component (name, image, command and
 * args templates, env), the resolved input parameters and the content digests
 * of the input artifacts (never the per-run values Trellis injects). False
 * when an input artifact cannot be read (then nothing is cached).
 */
static bool fingerprint(struct tr_run *r, struct task_inst *ti,
			const struct tr_pipeline_container *ct, char out[65])
{
	const struct tr_pipeline_component *c = tr_pipeline_task_component(ti->t);
	const char *key = tr_pipeline_task_cache_key(ti->t);
	if (key && *key) {
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appends(&b, tr_pipeline_component_name(c));
		tr_buf_appendc(&b, 0);
		tr_buf_appends(&b, key);
		sha256_hex(b.data, b.len, out);
		tr_buf_release(&b);
		return true;
	}
	struct tr_run_values rv;
	run_values(r, ti, &rv);
	json_t *ei = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_resolve_executor_input(c, ti->params, ti->artifacts, &rv, "/nonexistent", &ei,
				      &err)) {
		tr_buf_release(&err);
		return false;
	}
	json_t *env = json_array();
	for (size_t i = 0; i < ct->n_env; i++)
		json_array_append_new(env, json_pack("[s,s]", ct->env[i].name,
						     ct->env[i].value ? ct->env[i].value : ""));
	json_t *arts = json_object();
	const char *name;
	json_t *list;
	bool ok = true;
	json_object_foreach(ti->artifacts, name, list)
	{
		json_t *digests = json_array();
		size_t i;
		json_t *a;
		json_array_foreach(list, i, a)
		{
			char hex[65];
			const char *uri = json_string_value(json_object_get(a, "uri"));
			if (!uri || tr_digest_path(uri, hex, &err)) {
				ok = false;
				tr_buf_reset(&err);
				break;
			}
			json_array_append_new(digests, json_pack("{s:O?,s:s,s:O?}", "type",
								 json_object_get(a, "type"),
								 "digest", hex, "metadata",
								 json_object_get(a, "metadata")));
		}
		json_object_set_new(arts, name, digests);
	}
	json_t *k = json_pack(
	    "{s:s,s:s,s:o,s:o,s:o,s:O?,s:o}", "component", tr_pipeline_component_name(c), "image",
	    ct->image ? ct->image : "", "command", args_json(ct->command, ct->n_command), "args",
	    args_json(ct->args, ct->n_args), "env", env, "parameters",
	    json_object_get(json_object_get(ei, "inputs"), "parameterValues"), "artifacts", arts);
	char *text = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	if (ok)
		sha256_hex(text, strlen(text), out);
	free(text);
	json_decref(k);
	json_decref(ei);
	tr_buf_release(&err);
	return ok;
}

/* Cached outputs are used only while their artifact files still exist. */
static bool outputs_present(json_t *outs)
{
	const char *name;
	json_t *list;
	json_object_foreach(json_object_get(outs, "artifacts"), name, list)
	{
		size_t i;
		json_t *a;
		json_array_foreach(list, i, a)
		{
			const char *uri = json_string_value(json_object_get(a, "uri"));
			if (uri && *uri == '/' && access(uri, F_OK))
				return false;
		}
	}
	return true;
}

/* Re-attaches container task TI to the attempt a previous execution started in
 * DIR. Fails when its supervisor is gone without a status (run it again). */
static enum tr_err adopt(struct tr_run *r, struct task_inst *ti, const char *dir,
			 struct tr_buf *err)
{
	struct tr_run_values rv;
	run_values(r, ti, &rv);
	struct tr_buf out = TR_BUF_INIT;
	tr_buf_appendf(&out, "%s/out", dir);
	json_t *ei = NULL;
	enum tr_err rc = tr_resolve_executor_input(tr_pipeline_task_component(ti->t), ti->params,
						   ti->artifacts, &rv, tr_buf_str(&out), &ei, err);
	tr_buf_release(&out);
	struct tr_attempt *a = NULL;
	if (!rc)
		rc = tr_exec_adopt(r->o.ex, dir, &a, err);
	if (rc) {
		json_decref(ei);
		return rc;
	}
	json_decref(ti->exec_input);
	ti->exec_input = ei;
	ti->attempt = a;
	free(ti->attempt_dir);
	ti->attempt_dir = tr_xstrdup(dir);
	r->running++;
	set_state(r, ti, TR_TASK_RUNNING, "re-adopted after a restart");
	int fd = tr_exec_fd(a);
	if (fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ti};
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev))
			return tr_fail(err, TR_ERR_INTERNAL_ERROR, "epoll: %s", strerror(errno));
		return TR_OK;
	}
	finish_attempt(r, ti); /* it ended while nobody watched */
	return TR_OK;
}

/* What a previous execution recorded for TI decides: outputs of a success are
 * kept, an attempt in flight is re-adopted. True when TI needs nothing more. */
static bool from_prior(struct tr_run *r, struct task_inst *ti,
		       const struct tr_pipeline_executor *ex)
{
	json_t *p = r->o.prior ? json_object_get(r->o.prior, ti->path) : NULL;
	if (!p || !ex)
		return false;
	const char *st = json_string_value(json_object_get(p, "state"));
	ti->attempts = (int)json_integer_value(json_object_get(p, "attempts"));
	const char *tracked = json_string_value(json_object_get(p, "mlflow_run_id"));
	snprintf(ti->tracking_run, sizeof(ti->tracking_run), "%s", tracked ? tracked : "");
	json_t *outs = json_object_get(p, "outputs");
	if (st && !strcmp(st, "SUCCEEDED") && json_is_object(outs)) {
		json_decref(ti->outputs);
		ti->outputs = json_incref(outs);
		ti->cached = json_is_true(json_object_get(p, "cached"));
		set_state(r, ti, TR_TASK_SUCCEEDED, "succeeded before the resume");
		return true;
	}
	const char *dir = json_string_value(json_object_get(p, "attempt_dir"));
	if (st && !strcmp(st, "RUNNING") && dir && *dir &&
	    tr_pipeline_executor_kind(ex) == TR_EXEC_CONTAINER) {
		struct tr_buf err = TR_BUF_INIT;
		enum tr_err rc = adopt(r, ti, dir, &err);
		tr_buf_release(&err);
		if (!rc)
			return true;
	}
	return false; /* failed, cancelled, or died with its supervisor: run again */
}

/* Makes pending task TI start if it can: binds, checks upstream and condition,
 * then runs an importer, starts a container attempt, or opens sub-DAGs. */
static enum tr_err try_start(struct tr_run *r, struct task_inst *ti, int64_t now, int64_t *wake,
			     struct tr_buf *err)
{
	struct dag_inst *d = ti->parent;
	bool completed_only = tr_pipeline_task_strategy(ti->t) == TR_TRIGGER_ALL_UPSTREAM_COMPLETED;
	const char *bad_dep = NULL;
	for (size_t k = 0; k < tr_pipeline_task_n_deps(ti->t); k++) {
		struct task_inst *dep = &d->tasks[tr_pipeline_task_dep(ti->t, k)];
		if (!terminal(dep->state))
			return TR_OK; /* not yet */
		if (dep->state != TR_TASK_SUCCEEDED && !bad_dep)
			bad_dep = tr_pipeline_task_name(dep->t);
	}
	if (ti->not_before_ms > now) { /* a retry waiting out its backoff */
		if (!*wake || ti->not_before_ms < *wake)
			*wake = ti->not_before_ms;
		return TR_OK;
	}
	if (!ti->started && (r->cancelled || (r->failed && !completed_only)))
		return TR_OK; /* left pending: closed at the end */
	if (bad_dep && !completed_only) {
		struct task_inst *dep = sibling(d, bad_dep);
		set_state(r, ti, TR_TASK_SKIPPED, "upstream task %s %s", bad_dep,
			  dep->state == TR_TASK_SKIPPED ? "was skipped" : "did not succeed");
		return TR_OK;
	}
	const struct tr_pipeline_component *c = tr_pipeline_task_component(ti->t);
	const struct tr_pipeline_executor *ex = tr_pipeline_component_executor(c);
	if (!ti->started) { /* the first time: bind and check the condition */
		const char *missing = NULL;
		enum tr_err rc = bind_inputs(r, ti, &missing, err);
		if (rc)
			return rc;
		if (missing && !completed_only) {
			set_state(r, ti, TR_TASK_SKIPPED, "no output from %s", missing);
			return TR_OK;
		}
		const struct tr_cel *cond = tr_pipeline_task_condition(ti->t);
		if (cond) {
			json_t *ctx =
			    json_pack("{s:{s:O}}", "inputs", "parameter_values", ti->params);
			bool yes = false;
			struct tr_buf why = TR_BUF_INIT;
			rc = tr_cel_eval_bool(cond, ctx, &yes, &why);
			json_decref(ctx);
			if (rc) {
				set_state(r, ti, TR_TASK_FAILED, "condition %s: %s",
					  tr_pipeline_task_condition_text(ti->t), tr_buf_str(&why));
				tr_buf_release(&why);
				return TR_OK;
			}
			tr_buf_release(&why);
			if (!yes) {
				set_state(r, ti, TR_TASK_SKIPPED, "condition is false: %s",
					  tr_pipeline_task_condition_text(ti->t));
				return TR_OK;
			}
		}
		ti->started = true;
		if (from_prior(r, ti, ex))
			return TR_OK;
		if (ex && tr_pipeline_executor_kind(ex) == TR_EXEC_CONTAINER &&
		    tr_pipeline_task_cache_enabled(ti->t)) {
			ti->cacheable =
			    fingerprint(r, ti, tr_pipeline_executor_container(ex), ti->fingerprint);
			json_t *hit =
			    ti->cacheable && !r->o.no_cache && r->o.hooks && r->o.hooks->cache_get
				? r->o.hooks->cache_get(r->o.hooks->ctx, ti->fingerprint)
				: NULL;
			if (hit && outputs_present(hit)) {
				json_decref(ti->outputs);
				ti->outputs = hit;
				ti->cached = true;
				set_state(r, ti, TR_TASK_SUCCEEDED, "cached");
				return TR_OK;
			}
			json_decref(hit);
		}
	}
	if (!ex) { /* a sub-DAG: a condition branch, a nested pipeline or a loop */
		const struct tr_pipeline_iterator *it = tr_pipeline_task_iterator(ti->t);
		ti->attempts = 1;
		if (it->kind != TR_ITER_NONE) {
			ti->items = loop_items(ti, it);
			if (!ti->items) {
				set_state(r, ti, TR_TASK_FAILED, "loop items are not a list");
				return TR_OK;
			}
			set_state(r, ti, TR_TASK_RUNNING, NULL);
			loop_fill(r, ti);
		} else {
			ti->children = tr_xcalloc(1, sizeof(*ti->children));
			ti->n_children = ti->cap_children = 1;
			ti->children[0] = dag_new(c, ti, ti->path, json_incref(ti->params),
						  json_incref(ti->artifacts));
			set_state(r, ti, TR_TASK_RUNNING, NULL);
		}
		return TR_OK;
	}
	if (tr_pipeline_executor_kind(ex) == TR_EXEC_IMPORTER) {
		run_importer(r, ti, tr_pipeline_executor_importer(ex));
		return TR_OK;
	}
	if (r->running >= r->parallelism)
		return TR_OK; /* a slot frees when an attempt ends */
	/* bound earlier but waiting for a slot (or a retry's backoff): once the
	 * run is cancelled, or failed, no attempt starts any more */
	if (ti->started && (r->cancelled || (r->failed && !completed_only)))
		return TR_OK;
	enum tr_err rc = start_attempt(r, ti, tr_pipeline_executor_container(ex), err);
	if (rc) { /* could not even start: the task fails, the run goes on */
		set_state(r, ti, TR_TASK_FAILED, "%s", tr_buf_str(err));
		if (ti->tracking_run[0])
			attempt_ended(r, ti, "FAILED", NULL, tr_buf_str(err));
		tr_buf_reset(err);
	}
	return TR_OK;
}

/* One pass over DAG instance D: starts what is ready, finishes sub-DAG tasks
 * whose children are done, and marks D done when every task is terminal. */
static enum tr_err dag_step(struct tr_run *r, struct dag_inst *d, int64_t now, int64_t *wake,
			    struct tr_buf *err)
{
	bool all_done = true;
	for (size_t i = 0; i < d->n; i++) {
		struct task_inst *ti = &d->tasks[i];
		enum tr_err rc = TR_OK;
		if (ti->state == TR_TASK_PENDING)
			rc = try_start(r, ti, now, wake, err);
		if (rc)
			return rc;
		if (ti->state == TR_TASK_RUNNING && ti->n_children) {
			/* finished iterations are never stepped again: a pass costs
			 * the open ones only, not the whole loop */
			while (ti->first_open < ti->n_children &&
			       ti->children[ti->first_open]->done)
				ti->kids_failed |= ti->children[ti->first_open++]->failed;
			bool kids_done = true;
			for (size_t k = ti->first_open; k < ti->n_children; k++) {
				struct dag_inst *kid = ti->children[k];
				if (!kid->done)
					rc = dag_step(r, kid, now, wake, err);
				if (rc)
					return rc;
				kids_done &= kid->done;
				ti->kids_failed |= kid->failed;
			}
			if (ti->items) {
				size_t before = ti->n_children;
				loop_fill(r, ti);
				kids_done &= ti->n_children == before && /* new ones are open */
					     (ti->next_item >= json_array_size(ti->items) ||
					      r->cancelled || r->failed);
			}
			bool kids_failed = ti->kids_failed;
			if (kids_done) {
				json_decref(ti->outputs);
				ti->outputs = ti->items ? collect_iterations(ti)
							: dag_outputs(ti->children[0]);
				if (kids_failed)
					set_state(r, ti, TR_TASK_FAILED, "a task inside failed");
				else if (r->cancelled)
					set_state(r, ti, TR_TASK_CANCELLED, "%s", r->cancel_reason);
				else
					set_state(r, ti, TR_TASK_SUCCEEDED, NULL);
			}
		} else if (ti->state == TR_TASK_RUNNING && ti->items &&
			   !json_array_size(ti->items)) {
			json_decref(ti->outputs);
			ti->outputs = collect_iterations(ti); /* a loop over nothing */
			set_state(r, ti, TR_TASK_SUCCEEDED, NULL);
		}
		if (!terminal(ti->state))
			all_done = false;
	}
	/* nothing can start any more: close what was left pending */
	if (!all_done && (r->failed || r->cancelled)) {
		bool stuck = true;
		for (size_t i = 0; i < d->n; i++) {
			const struct task_inst *ti = &d->tasks[i];
			if (ti->state == TR_TASK_RUNNING ||
			    (ti->state == TR_TASK_PENDING &&
			     (ti->attempts > 0 ||
			      (!r->cancelled && tr_pipeline_task_strategy(ti->t) ==
						    TR_TRIGGER_ALL_UPSTREAM_COMPLETED))))
				stuck = false;
		}
		if (stuck) {
			for (size_t i = 0; i < d->n; i++)
				if (d->tasks[i].state == TR_TASK_PENDING)
					set_state(r, &d->tasks[i],
						  r->cancelled ? TR_TASK_CANCELLED
							       : TR_TASK_SKIPPED,
						  "not run: %s",
						  r->cancelled ? r->cancel_reason
							       : "an earlier task failed");
			all_done = true;
		}
	}
	if (all_done && !d->done) {
		d->done = true;
		if (d->owner)
			d->owner->kids_done++;
		for (size_t i = 0; i < d->n; i++)
			if (d->tasks[i].state == TR_TASK_FAILED ||
			    d->tasks[i].state == TR_TASK_CANCELLED)
				d->failed = true;
	}
	return TR_OK;
}

/* ---- the run ----------------------------------------------------------------------- */

enum tr_err tr_pipeline_check_params(const struct tr_pipeline_spec *spec, json_t *params,
				     struct tr_buf *err)
{
	const struct tr_pipeline_component *root = tr_pipeline_root(spec);
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v)
	{
		const struct tr_pipeline_io *io = tr_pipeline_component_input_find(root, k);
		if (!io || io->artifact)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "the pipeline has no parameter '%s'", k);
	}
	for (size_t i = 0; i < tr_pipeline_component_n_inputs(root); i++) {
		const struct tr_pipeline_io *io = tr_pipeline_component_input(root, i);
		if (!io->artifact && !io->optional && !io->default_value &&
		    !json_object_get(params, io->name))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "missing value for pipeline parameter '%s' (-p %s=...)",
				       io->name, io->name);
	}
	return TR_OK;
}

enum tr_err tr_run_new(const struct tr_pipeline_spec *spec, const struct tr_run_options *opts,
		       struct tr_run **out, struct tr_buf *err)
{
	if (!opts->run_id || !opts->root || !opts->ex)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "a run needs an id, a root folder and an executor");
	const struct tr_pipeline_component *root = tr_pipeline_root(spec);
	enum tr_err prc = tr_pipeline_check_params(spec, opts->params, err);
	if (prc)
		return prc;
	json_t *params = opts->params ? json_deep_copy(opts->params) : json_object();
	struct tr_run *r = tr_xcalloc(1, sizeof(*r));
	r->spec = spec;
	r->o = *opts;
	r->run_id = tr_xstrdup(opts->run_id);
	r->run_name = tr_xstrdup(opts->run_name ? opts->run_name : tr_pipeline_name(spec));
	r->root = tr_xstrdup(opts->root);
	r->python_dir = opts->python_dir ? tr_xstrdup(opts->python_dir) : NULL;
	r->parallelism =
	    opts->parallelism > 0 ? opts->parallelism : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (r->parallelism < 1)
		r->parallelism = 1;
	r->kfp_importable = -1;
	r->n_gpus = -1;
	r->epfd = r->sigfd = -1;
	r->ctlfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->ctlfd < 0) {
		enum tr_err erc =
		    tr_fail(err, TR_ERR_INTERNAL_ERROR, "eventfd: %s", strerror(errno));
		tr_run_free(r);
		return erc;
	}
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(r->create_time, sizeof(r->create_time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r->top = dag_new(root, NULL, "", params, json_object());
	*out = r;
	return TR_OK;
}

void tr_run_free(struct tr_run *r)
{
	if (!r)
		return;
	dag_free(r->top);
	free(r->order);
	free(r->run_id);
	free(r->run_name);
	free(r->root);
	free(r->python_dir);
	free(r->cancel_reason);
	tr_buf_release(&r->hook_err);
	for (size_t i = 0; i < r->n_queue; i++)
		spawn_release(&r->queue[i]);
	free(r->queue);
	free(r->overhead_us);
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->sigfd >= 0)
		close(r->sigfd);
	if (r->ctlfd >= 0)
		close(r->ctlfd);
	free(r);
}

enum { CTL_CANCEL = 1, CTL_DETACH = 2 };

void tr_run_cancel(struct tr_run *r, const char *reason)
{
	if (!(atomic_load(&r->ctl) & CTL_CANCEL)) /* the first reason stays */
		snprintf(r->ctl_reason, sizeof(r->ctl_reason), "%s", reason ? reason : "cancelled");
	atomic_fetch_or(&r->ctl, CTL_CANCEL);
	uint64_t one = 1;
	if (write(r->ctlfd, &one, sizeof(one)) < 0) { /* full: a wake-up is pending anyway */
	}
}

void tr_run_detach(struct tr_run *r)
{
	atomic_fetch_or(&r->ctl, CTL_DETACH);
	uint64_t one = 1;
	if (write(r->ctlfd, &one, sizeof(one)) < 0) {
	}
}

/* Cancels every running attempt under D. */
static void cancel_all(struct dag_inst *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct task_inst *ti = &d->tasks[i];
		if (ti->attempt) {
			struct tr_buf ignore = TR_BUF_INIT;
			if (tr_exec_cancel(ti->attempt, &ignore))
				tr_buf_reset(&ignore);
			tr_buf_release(&ignore);
		}
		for (size_t k = 0; k < ti->n_children; k++)
			cancel_all(ti->children[k]);
	}
}

static void cancel(struct tr_run *r, const char *why)
{
	if (r->cancelled)
		return;
	r->cancelled = true;
	r->cancel_reason = tr_xstrdup(why);
	cancel_all(r->top);
}

enum tr_err tr_run_execute(struct tr_run *r, struct tr_buf *err)
{
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigset_t old;
	pthread_sigmask(r->o.no_signals ? SIG_SETMASK : SIG_BLOCK, r->o.no_signals ? NULL : &mask,
			&old);
	if (!r->o.no_signals)
		r->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->epfd < 0 || (!r->o.no_signals && r->sigfd < 0)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "event loop: %s", strerror(errno));
	}
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
	if (r->sigfd >= 0)
		epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->sigfd, &sev);
	struct epoll_event cev = {.events = EPOLLIN, .data.ptr = &r->ctlfd};
	epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->ctlfd, &cev);
	r->started_ms = tr_clock_now_ms();
	int64_t deadline =
	    tr_pipeline_timeout_ms(r->spec) ? r->started_ms + tr_pipeline_timeout_ms(r->spec) : 0;
	enum tr_err rc = TR_OK;
	while (!rc) {
		int64_t now = tr_clock_now_ms(), wake = 0;
		int ctl = atomic_load(&r->ctl);
		if (ctl & CTL_DETACH) { /* attempts go on under their supervisors */
			r->detached = true;
			break;
		}
		if (ctl & CTL_CANCEL)
			cancel(r, r->ctl_reason);
		if (deadline && now >= deadline)
			cancel(r, "the pipeline timed out");
		/* until nothing changes: a finished task may let a sibling start, a
		 * finished sub-DAG its parent finish, a loop its next iteration */
		uint64_t seen;
		do {
			seen = r->changes;
			wake = 0;
			rc = dag_step(r, r->top, now, &wake, err);
			if (!rc && !r->hook_rc)
				spawn_queued(r);
		} while (!rc && !r->top->done && seen != r->changes && !r->hook_rc);
		if (!rc && r->hook_rc) {
			cancel(r, "the run's state could not be recorded");
			rc = tr_fail(err, r->hook_rc, "cannot record the run: %s",
				     tr_buf_str(&r->hook_err));
		}
		if (rc || r->top->done)
			break;
		if (deadline && (!wake || deadline < wake))
			wake = deadline;
		int timeout = wake ? (int)(wake > now ? wake - now : 0) : -1;
		if (!r->running && timeout < 0) {
			rc = tr_fail(err, TR_ERR_INTERNAL_ERROR,
				     "the run cannot make progress (no task running or ready)");
			break;
		}
		struct epoll_event evs[64];
		int n = epoll_wait(r->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n && !rc; i++) {
			if (evs[i].data.ptr == &r->ctlfd) { /* read at the top of the loop */
				uint64_t v;
				if (read(r->ctlfd, &v, sizeof(v)) < 0) {
				}
				continue;
			}
			struct task_inst *ti = evs[i].data.ptr;
			if (!ti) { /* SIGINT/SIGTERM */
				struct signalfd_siginfo si;
				while (read(r->sigfd, &si, sizeof(si)) == sizeof(si))
					;
				cancel(r, "cancelled");
				continue;
			}
			bool done = false;
			if (!ti->attempt)
				continue;
			rc = tr_exec_poll(ti->attempt, &done, err);
			if (!rc && done) {
				epoll_ctl(r->epfd, EPOLL_CTL_DEL, tr_exec_fd(ti->attempt), NULL);
				finish_attempt(r, ti);
			}
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!rc && r->detached)
		r->state = TR_TASK_RUNNING;
	else if (!rc)
		r->state = r->cancelled	    ? TR_TASK_CANCELLED
			   : r->top->failed ? TR_TASK_FAILED
					    : TR_TASK_SUCCEEDED;
	return rc;
}

enum tr_task_state tr_run_state(const struct tr_run *r)
{
	return r->state;
}

const int64_t *tr_run_overheads(const struct tr_run *r, size_t *n)
{
	*n = r->n_overhead;
	return r->overhead_us;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

json_t *tr_run_summary(const struct tr_run *r)
{
	json_t *tasks = json_array();
	for (size_t i = 0; i < r->n_order; i++) {
		const struct task_inst *ti = r->order[i];
		json_t *t = json_pack("{s:s,s:s,s:i,s:b}", "path", ti->path, "state",
				      tr_task_state_name(ti->state), "attempts", ti->attempts,
				      "cached", ti->cached);
		if (ti->message)
			json_object_set_new(t, "message", json_string(ti->message));
		if (ti->outputs && ti->state == TR_TASK_SUCCEEDED)
			json_object_set(t, "outputs", ti->outputs);
		if (ti->start_ms)
			json_object_set_new(t, "start_ms", json_integer(ti->start_ms));
		if (ti->end_ms)
			json_object_set_new(t, "end_ms", json_integer(ti->end_ms));
		json_array_append_new(tasks, t);
	}
	json_t *outs = r->top->done ? dag_outputs(r->top) : empty_outputs();
	int64_t *v = tr_xcalloc(r->n_overhead + 1, sizeof(*v));
	if (r->n_overhead) /* none when every task was cached or resumed */
		memcpy(v, r->overhead_us, r->n_overhead * sizeof(*v));
	qsort(v, r->n_overhead, sizeof(*v), cmp_i64);
	size_t n = r->n_overhead;
#define PCT(p) (n ? v[(size_t)((double)(n - 1) * (p))] : 0)
	json_t *sched =
	    json_pack("{s:I,s:{s:I,s:I,s:I,s:I}}", "attempts", (json_int_t)n, "overhead_us", "p50",
		      (json_int_t)PCT(0.5), "p90", (json_int_t)PCT(0.9), "p99",
		      (json_int_t)PCT(0.99), "max", (json_int_t)(n ? v[n - 1] : 0));
#undef PCT
	free(v);
	return json_pack("{s:s,s:s,s:o,s:o,s:o}", "run_id", r->run_id, "state",
			 tr_task_state_name(r->state), "outputs", outs, "tasks", tasks, "scheduler",
			 sched);
}
