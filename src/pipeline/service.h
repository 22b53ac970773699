/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pipelines in the server: runs submitted through an API are recorded (a
 * parent MLflow run and a pipeline run under the same id, PENDING), wait for
 * a free run slot, then execute on a thread of their own with the engine of
 * run.h. Every task attempt is an MLflow child run of the parent (its
 * resolved input parameters as params, tags linking back to the pipeline run
 * and task); the step's environment names that run, so mlflow.log_metric()
 * inside a step lands on it. Task durations, exit codes and peak memory are
 * logged as system metrics, and KFP Metrics artifacts are mirrored as
 * metrics.
 *
 * Runs survive the server: tr_pipelines_stop() detaches running runs (their
 * supervisors go on), and tr_pipelines_start() resumes every unfinished run
 * from what its tasks recorded, re-adopting live attempts.
 *
 * Lifecycle: tr_pipelines_start() -> submit/terminate/retry from any thread
 * -> tr_pipelines_stop().
 */
#ifndef TR_PIPELINE_SERVICE_H
#define TR_PIPELINE_SERVICE_H

#include "core/buf.h"
#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

struct tr_pipelines;

struct tr_pipelines_config {
	struct tr_store *store;	   /* borrowed; must outlive the service */
	const char *artifact_root; /* the artifact store's folder; runs go in <it>/pipelines */
	const char *tracking_uri;  /* MLFLOW_TRACKING_URI for steps, e.g. http://127.0.0.1:5000 */
	int max_runs;		   /* runs executing at once; 0: 4 (the others wait PENDING) */
	int parallelism;	   /* running tasks per run; 0: number of cores */
	const char *step_user;	   /* steps' user when the server is root; NULL: nobody */
	const char *python_dir;	   /* a folder put first on the steps' PATH; may be NULL */
};

/* Starts the service and resumes the unfinished runs found in the store.
 * Returns a new service; stop with tr_pipelines_stop(). */
enum tr_err tr_pipelines_start(const struct tr_pipelines_config *cfg, struct tr_pipelines **out,
			       struct tr_buf *err) __attribute__((warn_unused_result));
/* Stops starting runs, detaches the running ones (their attempts go on and
 * are re-adopted at the next start), waits for their threads, frees P. */
void tr_pipelines_stop(struct tr_pipelines *p);

struct tr_pipeline_submit {
	const char *spec_text; /* KFP IR (YAML or JSON) or Trellis YAML */
	size_t spec_len;
	const char *experiment_id; /* NULL or "": "0", MLflow's Default */
	const char *display_name;  /* required */
	const char *description;
	json_t *params;		 /* {"name": value}; borrowed; NULL: none */
	json_t *runtime_config;	 /* KFP's runtime_config as given, kept for the API; borrowed */
	const char *pipeline_id; /* where the spec came from, when it came from a version */
	const char *pipeline_version_id;
	const char *recurring_run_id;
	bool no_cache;
	const char *actor; /* the audit log's actor */
};

/* Validates and records a run, then queues it. RUN_ID gets its id (the
 * parent MLflow run's). An invalid pipeline or parameters is
 * INVALID_PARAMETER_VALUE with every problem (file:line:col) in ERR. */
enum tr_err tr_pipelines_submit(struct tr_pipelines *p, const struct tr_pipeline_submit *req,
				char run_id[64] /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Terminates a run: a waiting one ends CANCELED at once; a running one goes
 * CANCELING (attempts are cancelled, exit handlers run) and then CANCELED.
 * A finished run is INVALID_STATE; an unknown one RESOURCE_DOES_NOT_EXIST. */
enum tr_err tr_pipelines_terminate(struct tr_pipelines *p, const char *run_id, const char *actor,
				   struct tr_buf *err) __attribute__((warn_unused_result));
/* Runs a FAILED or CANCELED run again in place: tasks that succeeded keep
 * their outputs, the others run again (new attempts). Any other state is
 * INVALID_STATE. */
enum tr_err tr_pipelines_retry(struct tr_pipelines *p, const char *run_id, const char *actor,
			       struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * Events, for live views: every task state change and run state change of
 * every run, as JSON {"seq", "run_id", "kind": "task"|"run", "path"?,
 * "state", "message"?, "time_ms"}. tr_pipelines_events() returns the events
 * after sequence number AFTER (at most MAX, oldest first; a new array),
 * waiting up to TIMEOUT_MS for one when there is none; RUN_ID filters (NULL:
 * all). Events are kept in a bounded ring: a reader that falls behind gets
 * {"kind": "gap"} first.
 */
json_t *tr_pipelines_events(struct tr_pipelines *p, const char *run_id, uint64_t after, size_t max,
			    int timeout_ms);

/* The sequence number of the newest event (0: none yet). */
uint64_t tr_pipelines_last_seq(struct tr_pipelines *p);

#endif
