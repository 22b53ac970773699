/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pipeline run: the loaded spec expanded at run time into task instances
 * (sub-DAGs, condition branches, one DAG instance per loop iteration), and
 * the scheduler that starts each task the moment its inputs are ready.
 *
 * The scheduler is one thread and one event loop: epoll over the attempts'
 * pidfds and a signalfd (SIGINT/SIGTERM cancel the run), with the wake-up
 * time of the next retry backoff or timeout as the epoll timeout. Tasks run
 * through an executor (src/exec/exec.h), each attempt in its own folder
 * <root>/<run id>/<task path>/<attempt>/ whose out/ subfolder is the KFP task
 * root (outputs, executor_output.json).
 *
 * Semantics (KFP's, reference/kfp-ir.md §4): a false condition skips a task
 * and the tasks that need its outputs; ALL_UPSTREAM_TASKS_COMPLETED tasks
 * (exit handlers) run whatever their upstream did; after the first failure
 * no new task starts (unless keep_going), running ones finish and exit
 * handlers run; retries follow the task's retry policy with backoff; loops
 * run one body DAG per item, at most parallelismLimit at once, and collect
 * their outputs in item order.
 *
 * Lifecycle: tr_run_new() -> tr_run_execute() -> read states/outputs ->
 * tr_run_free(). One thread.
 */
#ifndef TR_PIPELINE_RUN_H
#define TR_PIPELINE_RUN_H

#include "core/err.h"
#include "pipeline/spec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct tr_buf;
struct tr_executor;
struct tr_run;

enum tr_task_state {
	TR_TASK_PENDING,
	TR_TASK_RUNNING,
	TR_TASK_SUCCEEDED,
	TR_TASK_FAILED,
	TR_TASK_SKIPPED,
	TR_TASK_CANCELLED,
};

/*
 * Persistence and the task cache, both optional (trellis run backs them with
 * the store). PERSIST records a task's state before the engine acts on it:
 * for a container attempt "RUNNING, attempt N, folder F" is recorded before
 * the step is spawned; a failure stops the run. The task is JSON {path,
 * state, attempts, attempt_dir, outputs?, message?, fingerprint, cacheable,
 * cached, start_ms?, end_ms?, artifact_digests?: [{uri, sha256, size}] of the
 * output artifact files a successful attempt wrote}. CACHE_GET returns the outputs recorded for a
 * fingerprint (a new reference) or NULL.
 */
struct tr_run_hooks {
	/* With FLUSH set, PERSIST may be asynchronous: the engine calls FLUSH (which
	 * waits until everything persisted so far is durable) before it spawns the
	 * attempts recorded in a pass, so one commit covers a whole batch. */
	enum tr_err (*persist)(void *ctx, json_t *task, struct tr_buf *err);
	enum tr_err (*flush)(void *ctx, struct tr_buf *err);
	json_t *(*cache_get)(void *ctx, const char *fingerprint);
	/*
	 * Tracking, both optional. ATTEMPT_BEGIN runs before a container attempt
	 * is recorded and spawned, with {path, attempt, component, params (the
	 * resolved input parameters), input_digests ([{uri, sha256, size}] of
	 * the input artifact files), attempt_dir}; it may name the attempt's
	 * tracking run in RUN_ID (then recorded with the task as "mlflow_run_id")
	 * and add "NAME=value" lines, each NUL-terminated, to ENV for the step.
	 * An error fails the attempt (not the run). ATTEMPT_END runs when the
	 * attempt has ended: {path, attempt, mlflow_run_id, state ("SUCCEEDED",
	 * "FAILED", "CANCELLED", or "RETRYING" when another attempt follows),
	 * reason, exit_code, signal, message, start_ms, end_ms, peak_rss_bytes,
	 * attempt_dir, outputs?}.
	 */
	enum tr_err (*attempt_begin)(void *ctx, json_t *attempt, char run_id[64],
				     struct tr_buf *env, struct tr_buf *err);
	void (*attempt_end)(void *ctx, json_t *attempt);
	void *ctx;
};

struct tr_run_options {
	const char *run_id;	/* required: names the run folder */
	const char *run_name;	/* {{$.pipeline_job_name}}; default: the pipeline's name */
	const char *root;	/* required: absolute folder holding <run id>/ */
	json_t *params;		/* pipeline parameters {"name": value}; borrowed */
	int parallelism;	/* running tasks at most; 0: number of cores */
	bool keep_going;	/* start independent tasks after a failure */
	const char *python_dir; /* a folder put first on the steps' PATH (--python) */
	const char *const *env; /* extra "NAME=value" for every step; may be NULL */
	struct tr_executor *ex; /* borrowed */
	const struct tr_run_hooks *hooks; /* may be NULL */
	bool no_cache;			  /* do not reuse cached outputs (still record them) */
	bool no_signals; /* SIGINT/SIGTERM are not the run's (a server): tr_run_cancel() instead */
	/* resume: the tasks a previous execution of this run recorded, {path:
	 * {state, attempts, attempt_dir, outputs?, cached}} (borrowed). A task that
	 * succeeded keeps its outputs and is not run again; an attempt that was
	 * running is re-adopted from its folder, or else run again. */
	json_t *prior;
	/* progress: called on every task state change (may be NULL) */
	void (*on_change)(void *ctx, const char *task_path, enum tr_task_state st,
			  const char *message);
	void *ctx;
};

/* Checks PARAMS ({"name": value}) against SPEC's pipeline parameters: an
 * unknown one or a missing required one is INVALID_PARAMETER_VALUE. */
enum tr_err tr_pipeline_check_params(const struct tr_pipeline_spec *spec, json_t *params,
				     struct tr_buf *err) __attribute__((warn_unused_result));

/* A new run of SPEC (borrowed; must outlive the run). Pipeline parameters are
 * checked against the root component's inputs (unknown or missing required
 * ones are INVALID_PARAMETER_VALUE). Free with tr_run_free(). */
enum tr_err tr_run_new(const struct tr_pipeline_spec *spec, const struct tr_run_options *opts,
		       struct tr_run **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
void tr_run_free(struct tr_run *r);

/* Runs to the end. Returns TR_OK when the run finished (whatever its state;
 * see tr_run_state()), an error when the engine itself could not go on. */
enum tr_err tr_run_execute(struct tr_run *r, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* From any thread, while tr_run_execute() runs (or before): CANCEL stops the
 * run as Ctrl-C does (running attempts are cancelled, exit handlers run);
 * DETACH makes tr_run_execute() return at once, leaving running attempts to
 * their supervisors and the run unfinished (RUNNING), to be resumed later. */
void tr_run_cancel(struct tr_run *r, const char *reason);
void tr_run_detach(struct tr_run *r);

/* SUCCEEDED, FAILED or CANCELLED once executed; RUNNING when detached. */
enum tr_task_state tr_run_state(const struct tr_run *r);
/*
 * The run as JSON (new object): {"run_id", "state", "outputs": {"parameters",
 * "artifacts"} (root DAG outputs), "tasks": [{"path", "state", "attempts",
 * "message"?, "outputs"?, "cached", "start_ms"?, "end_ms"?}, ...] in start order,
 * "scheduler": {"attempts", "overhead_us": {"p50", "p90", "p99", "max"}}}: the
 * time from "inputs ready" to "spawn returned" per attempt.
 */
json_t *tr_run_summary(const struct tr_run *r);

/* The scheduler overhead of each attempt started, in microseconds ("inputs
 * ready" -> "spawn returned"), in start order; *N gets the count. Borrowed. */
const int64_t *tr_run_overheads(const struct tr_run *r, size_t *n);

const char *tr_task_state_name(enum tr_task_state s);

#endif
