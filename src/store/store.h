/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: the one API over experiments, runs, params, metrics, tags,
 * datasets and the audit log. One SQL implementation over the tr_db driver
 * ops table (store_*.c).
 *
 * Reads run on any thread, each on a pooled connection of its own, and return
 * entities as new jansson objects already in MLflow's wire shape (that shape
 * is the domain model every API of ours speaks).
 *
 * Writes never run on the caller's thread: a struct tr_write is handed to the
 * group-commit writer (writer.c), which applies everything queued in one
 * transaction (one savepoint per write, so a bad write fails alone), appends
 * the audit entries in that same transaction, commits once (one fsync), and
 * then completes every write. Checks that read state (params write-once, run
 * still active) run inside the writer's transaction.
 *
 * Lifecycle: tr_store_open() -> reads/writes from many threads ->
 * tr_store_close() (drains the writer queue first).
 */
#ifndef TR_STORE_STORE_H
#define TR_STORE_STORE_H

#include "core/buf.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_store;
struct tr_store_tx;
struct tr_write;

#define TR_SCHEMA_VERSION 6

struct tr_store_opts {
	/* mlflow-artifacts: URI prefix that experiments' artifact locations start with */
	const char *artifact_root; /* default "mlflow-artifacts:" */
	/* Migrate an empty store automatically (server start). An older schema is
	 * always refused with "run `trellis db upgrade`" unless UPGRADE is set. */
	bool upgrade;
};

/*
 * Opens the store at URI (sqlite:///relative, sqlite:////absolute, or a plain
 * path). Returns a new store; close with tr_store_close().
 */
enum tr_err tr_store_open(const char *uri, const struct tr_store_opts *opts,
			  struct tr_store **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Commits every queued write and stops the writer; later writes fail at once
 * with TEMPORARILY_UNAVAILABLE, reads still work. Used at shutdown before the
 * HTTP server stops, so every suspended request gets its answer. */
void tr_store_drain(struct tr_store *s);
/* Drains pending writes, stops the writer, closes every connection. NULL is a no-op. */
void tr_store_close(struct tr_store *s);
/* The schema version found in the store at URI (-1 for an empty store). */
enum tr_err tr_store_schema_version(const char *uri, int *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Writes a consistent copy of the store to a new SQLite file at PATH. */
enum tr_err tr_store_backup(struct tr_store *s, const char *path, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Counters for /metrics: committed write batches and writes. Thread-safe. */
void tr_store_stats(struct tr_store *s, uint64_t *batches, uint64_t *writes);

/* ---- typed write arguments -------------------------------------------- */

/* One metric point as MLflow's Metric message carries it. */
struct tr_metric {
	const char *key;
	double value; /* NaN and ±Inf as themselves */
	int64_t timestamp;
	int64_t step;
	const char *model_id, *dataset_name, *dataset_digest; /* MLflow 3, may be NULL */
};

struct tr_kv {
	const char *key;
	const char *value;
};

/* runs/log-batch's arguments, parsed by the submitter (the ingest hot path
 * reads request bodies straight into this, see api/log_batch_json.c). The
 * strings and arrays belong to the submitter. */
struct tr_log_batch {
	const char *run_id;
	struct tr_metric *metrics;
	size_t n_metrics;
	struct tr_kv *params;
	size_t n_params;
	struct tr_kv *tags;
	size_t n_tags;
};

/* ---- writes ---------------------------------------------------------- */

/* A write operation: runs on the writer thread inside a savepoint. */
typedef enum tr_err (*tr_write_fn)(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);

enum tr_audit_class { TR_AUDIT_CONTROL, TR_AUDIT_DATA };

struct tr_write {
	/* set by the submitter */
	tr_write_fn apply;
	json_t *args;	     /* the request arguments, borrowed until on_done */
	const void *payload; /* typed arguments where the op takes them (log-batch:
				struct tr_log_batch), borrowed until on_done */
	const char *action;  /* audit action, e.g. "experiments.create" (static) */
	enum tr_audit_class audit_class;
	const char *actor;				/* "anonymous" until auth exists */
	char request_digest[65];			/* hex BLAKE2b-256 of the request body */
	void (*on_done)(struct tr_write *w, void *ctx); /* called on the writer thread */
	void *ctx;
	enum tr_err reject; /* with apply = tr_store_reject: the code to record */
	/* set by apply / the writer */
	enum tr_err rc;
	struct tr_buf err;  /* empty at submit; the message when rc != TR_OK (with
			       tr_store_reject: preset by the submitter); release with
			       tr_write_release() */
	json_t *result;	    /* a new reference, may be NULL; the submitter owns it */
	char resource[160]; /* audit resource, e.g. "run/<id>" */
	uint32_t n_metrics, n_params, n_tags; /* data-plane counts for the audit entry */
	struct tr_write *next;		      /* writer queue link */
};

/* Queues W; its on_done runs on the writer thread after commit (or failure). */
void tr_store_submit(struct tr_store *s, struct tr_write *w);
/* Queues W and blocks until it is done; returns w->rc. */
enum tr_err tr_store_write_sync(struct tr_store *s, struct tr_write *w);
/* Releases what the writer left in W (err, result). */
void tr_write_release(struct tr_write *w);

/* Write operations (tr_write_fn), reading their arguments from w->args in
 * MLflow's request shape (already parsed and type-checked JSON). */
enum tr_err tr_store_experiment_create(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err);
enum tr_err tr_store_experiment_update(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err);
enum tr_err tr_store_experiment_delete(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err);
enum tr_err tr_store_experiment_restore(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err);
enum tr_err tr_store_experiment_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err);
enum tr_err tr_store_experiment_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_run_create(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_update(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_delete(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_restore(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_log_metric(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_log_param(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_set_tag(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_delete_tag(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
/* Takes w->payload, a struct tr_log_batch; all of it is stored or none. */
enum tr_err tr_store_run_log_batch(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_log_inputs(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
enum tr_err tr_store_run_log_model(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
/* Records an artifact the caller stored: ARGS {"path", "size", "sha256"}; or,
 * with {"path", "deleted": true}, forgets PATH and everything beneath it. */
enum tr_err tr_store_artifact_record(struct tr_store_tx *tx, struct tr_write *w,
				     struct tr_buf *err);
/* Removes a deleted run for good: its params, tags, metrics, inputs, artifact
 * records and the run itself (ARGS {"run_id"}); INVALID_STATE unless deleted. */
enum tr_err tr_store_run_purge(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
/* Model registry writes (store_registry.c), ARGS in MLflow's request shapes.
 * model_version_create resolves "source" (mlflow-artifacts:, runs: or models:
 * URIs of stored objects only) to the location get-download-uri answers. */
enum tr_err tr_store_registered_model_create(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
enum tr_err tr_store_registered_model_rename(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
enum tr_err tr_store_registered_model_update(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
enum tr_err tr_store_registered_model_delete(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
enum tr_err tr_store_registered_model_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					      struct tr_buf *err);
enum tr_err tr_store_registered_model_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
						 struct tr_buf *err);
enum tr_err tr_store_registered_model_set_alias(struct tr_store_tx *tx, struct tr_write *w,
						struct tr_buf *err);
enum tr_err tr_store_registered_model_delete_alias(struct tr_store_tx *tx, struct tr_write *w,
						   struct tr_buf *err);
enum tr_err tr_store_model_version_create(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_model_version_update(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_model_version_delete(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_model_version_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_model_version_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					      struct tr_buf *err);
enum tr_err tr_store_model_version_transition_stage(struct tr_store_tx *tx, struct tr_write *w,
						    struct tr_buf *err);
/* MLflow 3 logged models (store_logged_models.c); MODEL_ID comes in ARGS
 * (the API copies it from the URL path). */
enum tr_err tr_store_logged_model_create(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_logged_model_finalize(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_logged_model_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_logged_model_set_tags(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_logged_model_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
enum tr_err tr_store_logged_model_log_params(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err);
/* runs/outputs: links logged models to the run that produced them. */
enum tr_err tr_store_run_log_outputs(struct tr_store_tx *tx, struct tr_write *w,
				     struct tr_buf *err);
/* Pipeline runs (store_pipelines.c). run_put: ARGS {run_id, name, spec_path,
 * spec_sha256, params, root, state}; inserts the run or updates its state.
 * task_put: ARGS {run_id, path, state, attempts, attempt_dir, outputs,
 * message, fingerprint, cached, start_ms, end_ms, cacheable, pipeline};
 * a SUCCEEDED cacheable task that ran also becomes the cache entry of its
 * fingerprint. cache_purge: ARGS {before_ms?}; result {"removed": N}. */
enum tr_err tr_store_pipeline_run_put(struct tr_store_tx *tx, struct tr_write *w,
				      struct tr_buf *err);
enum tr_err tr_store_pipeline_task_put(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err);
enum tr_err tr_store_pipeline_cache_purge(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
/* Pipeline runs submitted to the server. run_submit: ARGS {display_name,
 * experiment_id?, description?, name (the pipeline's), spec_text,
 * spec_sha256, params, runtime_config, options, root, pipeline_id?,
 * pipeline_version_id?, recurring_run_id?, tags: [{key, value}] of the
 * parent MLflow run, user_id?}: creates the parent MLflow run and the pipeline
 * run (PENDING) under the same id in one transaction; result {"run_id"}.
 * run_update: ARGS {run_id, state?, error?, storage_state?}: a new state is
 * appended to the run's state history, and the parent MLflow run's status
 * follows (FINISHED, FAILED, KILLED). run_delete: ARGS {run_id}: the run, its
 * tasks, and its MLflow runs (marked deleted). */
enum tr_err tr_store_pipeline_run_submit(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_pipeline_run_update(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_pipeline_run_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
/* Appends only the audit entry (a request rejected before it reached the store). */
enum tr_err tr_store_reject(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);

/* ---- reads ----------------------------------------------------------- */

/* Each returns a new JSON object (free with json_decref) in MLflow's response
 * shape, e.g. {"experiment": {...}}; RESOURCE_DOES_NOT_EXIST when missing. */
enum tr_err tr_store_experiment_get(struct tr_store *s, const char *id, json_t **out,
				    struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_experiment_get_by_name(struct tr_store *s, const char *name, json_t **out,
					    struct tr_buf *err) __attribute__((warn_unused_result));
/* ARGS in experiments/search's request shape. */
enum tr_err tr_store_experiment_search(struct tr_store *s, json_t *args, json_t **out,
				       struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_run_get(struct tr_store *s, const char *run_id, json_t **out,
			     struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_run_search(struct tr_store *s, json_t *args, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_metric_history(struct tr_store *s, json_t *args, json_t **out,
				    struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_metric_history_bulk_interval(struct tr_store *s, json_t *args, json_t **out,
						  struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Model registry and logged-model reads, ARGS in MLflow's request shapes;
 * each answers its MLflow response object. */
enum tr_err tr_store_registered_model_get(struct tr_store *s, json_t *args, json_t **out,
					  struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_registered_model_search(struct tr_store *s, json_t *args, json_t **out,
					     struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_registered_model_latest_versions(struct tr_store *s, json_t *args,
						      json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_model_version_get(struct tr_store *s, json_t *args, json_t **out,
				       struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_model_version_by_alias(struct tr_store *s, json_t *args, json_t **out,
					    struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_model_version_search(struct tr_store *s, json_t *args, json_t **out,
					  struct tr_buf *err) __attribute__((warn_unused_result));
/* {"artifact_uri": the version's storage location} */
enum tr_err tr_store_model_version_download_uri(struct tr_store *s, json_t *args, json_t **out,
						struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_logged_model_get(struct tr_store *s, json_t *args, json_t **out,
				      struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_logged_model_search(struct tr_store *s, json_t *args, json_t **out,
					 struct tr_buf *err) __attribute__((warn_unused_result));

/* The outputs recorded for cache FINGERPRINT (new object);
 * RESOURCE_DOES_NOT_EXIST when there is none. */
enum tr_err tr_store_pipeline_cache_get(struct tr_store *s, const char *fingerprint,
					json_t **outputs, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Pipeline run RUN_ID with its tasks: {run_id, name, spec_path, spec_sha256,
 * params, root, state, created_ms, tasks: {path: {state, attempts,
 * attempt_dir, outputs?, message, cached}}} (new object). */
enum tr_err tr_store_pipeline_run_get(struct tr_store *s, const char *run_id, json_t **out,
				      struct tr_buf *err) __attribute__((warn_unused_result));

/* The ids of server pipeline runs not finished (PENDING, RUNNING, CANCELING),
 * oldest first: a new array. */
enum tr_err tr_store_pipeline_runs_unfinished(struct tr_store *s, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Runs deleted at or before CUTOFF_MS, oldest first: a new array of
 * {run_id, artifact_uri, deleted_time, artifact_files, artifact_bytes}. */
enum tr_err tr_store_runs_deleted_before(struct tr_store *s, int64_t cutoff_ms, json_t **out,
					 struct tr_buf *err) __attribute__((warn_unused_result));

/* ---- KFP pipelines (store_kfp.c) ------------------------------------- */

/*
 * A list query over one table, built by the KFP API's list parser
 * (api/kfp.h, tr_kfp_list_parse()): WHERE is a boolean SQL expression ("" for
 * none) over the columns the API's field table names, with '?' placeholders;
 * BINDS an array with one string, integer or real per placeholder, in order;
 * ORDER_BY a column list; LIMIT rows from OFFSET. All borrowed.
 */
struct tr_store_list {
	const char *where;
	json_t *binds;
	const char *order_by;
	int64_t limit, offset;
};

/* Writes (tr_write_fn). ARGS:
 * - kfp_experiment_create: experiments/create's (name, tags); result: the
 *   experiment as a KFP row (see tr_store_kfp_experiment_list()).
 * - kfp_experiment_delete: {experiment_id}; MLflow's delete, but deleting a
 *   deleted experiment is not an error (KFP's delete is idempotent).
 * - kfp_experiment_restore: {experiment_id}; MLflow's restore, idempotent.
 * - kfp_pipeline_upload: {name, display_name?, description?, tags? (object),
 *   spec_text, code_source_url?}; creates the pipeline and its first version
 *   (same name); result: the pipeline row. RESOURCE_ALREADY_EXISTS on a
 *   duplicate name.
 * - kfp_version_upload: {pipeline_id, name, display_name?, description?,
 *   tags?, spec_text, code_source_url?}; result: the version row (without
 *   spec_text). RESOURCE_DOES_NOT_EXIST for an unknown pipeline,
 *   RESOURCE_ALREADY_EXISTS for a name the pipeline already has.
 * - kfp_pipeline_delete: {pipeline_id}; deletes its versions too (cascade).
 * - kfp_version_delete: {pipeline_id, pipeline_version_id}. */
enum tr_err tr_store_kfp_experiment_create(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_kfp_experiment_delete(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_kfp_experiment_restore(struct tr_store_tx *tx, struct tr_write *w,
					    struct tr_buf *err);
enum tr_err tr_store_kfp_pipeline_upload(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_kfp_version_upload(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err);
enum tr_err tr_store_kfp_pipeline_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
enum tr_err tr_store_kfp_version_delete(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err);

/* Lists: a new array of rows in *ROWS and the number of all matches in
 * *TOTAL. Experiment rows: {experiment_id, name, lifecycle_stage,
 * creation_time, description} (columns for Q: e.experiment_id, e.name,
 * e.lifecycle_stage, e.creation_time). Pipeline rows: {pipeline_id, name,
 * display_name, description, created_ms, tags}. Version rows:
 * {pipeline_version_id, pipeline_id, name, display_name, description,
 * created_ms, code_source_url, tags}, of PIPELINE_ID only. */
enum tr_err tr_store_kfp_experiment_list(struct tr_store *s, const struct tr_store_list *q,
					 json_t **rows, int64_t *total, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_kfp_pipeline_list(struct tr_store *s, const struct tr_store_list *q,
				       json_t **rows, int64_t *total, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_kfp_version_list(struct tr_store *s, const char *pipeline_id,
				      const struct tr_store_list *q, json_t **rows, int64_t *total,
				      struct tr_buf *err) __attribute__((warn_unused_result));
/* One row (new object); RESOURCE_DOES_NOT_EXIST when missing. The experiment
 * by its id; the pipeline by id, or by name when BY_NAME; the version of
 * PIPELINE_ID with spec_text added. */
enum tr_err tr_store_kfp_experiment_get(struct tr_store *s, const char *id, json_t **out,
					struct tr_buf *err) __attribute__((warn_unused_result));
enum tr_err tr_store_kfp_pipeline_get(struct tr_store *s, const char *id, bool by_name,
				      json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_store_kfp_version_get(struct tr_store *s, const char *pipeline_id,
				     const char *version_id, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The stored YAML of version VERSION_ID of PIPELINE_ID (NULL or "": its
 * latest version) as a new string in *SPEC_TEXT (free with free()), and, when
 * RESOLVED_VERSION_ID is not NULL, that version's id as a new string there.
 * RESOURCE_DOES_NOT_EXIST when missing. For the KFP runs API. */
enum tr_err tr_store_kfp_version_spec(struct tr_store *s, const char *pipeline_id,
				      const char *version_id, char **spec_text /* OUT */,
				      char **resolved_version_id /* OUT, may be NULL */,
				      struct tr_buf *err) __attribute__((warn_unused_result));

/* The ids of server pipeline runs (of EXPERIMENT_ID when not NULL) matching Q,
 * a new array in *IDS, and the number of all matches in *TOTAL. Columns for
 * Q: run_id, display_name, state, experiment_id, created_ms, finished_ms,
 * storage_state, description, recurring_run_id. */
enum tr_err tr_store_kfp_run_list(struct tr_store *s, const char *experiment_id,
				  const struct tr_store_list *q, json_t **ids, int64_t *total,
				  struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * Recurring runs (kfp_recurring_runs). Writes (tr_write_fn), audited as
 * "kfp.recurringruns.<verb>". ARGS:
 * - kfp_recurring_create: {display_name, description?, experiment_id? (""
 *   is "0"), spec_text (the inline pipeline as text) | pipeline_id,
 *   pipeline_version_id? ("" : the latest version at fire time),
 *   runtime_config? (object), max_concurrency? (1..10, default 1; number or
 *   string), trigger (KFP's, see pipeline/cron.h), mode? ("ENABLE" default,
 *   "DISABLE"), no_catchup? (bool)}. INVALID_PARAMETER_VALUE for an empty
 *   name, a bad trigger or concurrency; RESOURCE_DOES_NOT_EXIST for an
 *   unknown experiment or pipeline version. Result: the row. When enabled,
 *   next_fire_ms is the trigger's next time after now.
 * - kfp_recurring_enable / kfp_recurring_disable: {recurring_run_id};
 *   enabling recomputes next_fire_ms from now (no catch-up).
 * - kfp_recurring_delete: {recurring_run_id}; runs it made stay.
 * - kfp_recurring_fired: {recurring_run_id, last_fire_ms, next_fire_ms (0:
 *   none, the schedule is done), error? ("" clears)}: the scheduler's record
 *   of a fire (or a skipped or failed one); next_fire_ms is kept NULL when
 *   the run was disabled meanwhile.
 * Rows: {recurring_run_id, display_name, description, experiment_id,
 * spec_text? (absent for a version reference), pipeline_id,
 * pipeline_version_id, runtime_config (object), max_concurrency, trigger
 * (object), enabled, no_catchup, created_ms, updated_ms, next_fire_ms (0:
 * none), last_fire_ms (0: never), error}.
 */
enum tr_err tr_store_kfp_recurring_create(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_kfp_recurring_enable(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_kfp_recurring_disable(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err);
enum tr_err tr_store_kfp_recurring_delete(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err);
enum tr_err tr_store_kfp_recurring_fired(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err);
/* One row as a new object in *OUT; RESOURCE_DOES_NOT_EXIST when missing. */
enum tr_err tr_store_kfp_recurring_get(struct tr_store *s, const char *id, json_t **out,
				       struct tr_buf *err) __attribute__((warn_unused_result));
/* The rows (of EXPERIMENT_ID when not NULL) matching Q, a new array in *ROWS,
 * and the number of all matches in *TOTAL. Columns for Q: recurring_run_id,
 * display_name, description, created_ms, updated_ms, experiment_id. */
enum tr_err tr_store_kfp_recurring_list(struct tr_store *s, const char *experiment_id,
					const struct tr_store_list *q, json_t **rows,
					int64_t *total, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* For the scheduler: the enabled rows whose next fire is at or before NOW_MS
 * (a new array, earliest first) and in *EARLIEST_MS the next fire after NOW_MS
 * of the others (0: none). */
enum tr_err tr_store_kfp_recurring_due(struct tr_store *s, int64_t now_ms, json_t **rows /* OUT */,
				       int64_t *earliest_ms /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The number of unfinished (PENDING, RUNNING, CANCELING) pipeline runs that
 * recurring run ID made, into *COUNT. */
enum tr_err tr_store_kfp_recurring_active(struct tr_store *s, const char *id,
					  int64_t *count /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* ---- Lineage (store_lineage.c) ----------------------------------------
 * One graph over nodes named "<kind>:<id>" (kinds: artifact:<sha256>,
 * run:<run id>, pipeline_run:<id>, task:<pipeline run id>/<task path>,
 * logged_model:<model id>, model_version:<name>/<version>,
 * dataset:<mlflow digest>) with edges src -> dst of relations produced,
 * consumed, registered_from, logged_model, part_of, tracked_as and
 * same_content. See docs/api.md "Lineage". */

#define TR_LINEAGE_MAX_DEPTH 20

/* Adds edges: ARGS {"edges": [{"src", "dst", "relation"}, ...]} (at most
 * 10,000); every name and relation is checked, all are added or none. An
 * edge that exists already is kept as it is. */
enum tr_err tr_store_lineage_link(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err);
/* The graph around NODE, breadth-first: DIRECTION "upstream" follows edges
 * backwards (what made NODE), "downstream" forwards (what used it), "both"
 * (or NULL) does one walk each way; DEPTH is 1..TR_LINEAGE_MAX_DEPTH; at
 * most 5,000 nodes ("truncated": true beyond). same_content edges are
 * followed both ways. *OUT is a new object {root, nodes: [{id, kind,
 * exists, details...}], edges: [{src, dst, relation}], truncated}; a node
 * without edges answers just itself. INVALID_PARAMETER_VALUE for a bad name,
 * direction or depth. */
enum tr_err tr_store_lineage_query(struct tr_store *s, const char *node, const char *direction,
				   int depth, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* What made model version NAME/VERSION: the upstream walk to full depth plus
 * what the runs and tasks in it produced and the pipeline runs they are part
 * of, with "summary": {runs, pipeline_runs, tasks, logged_models, artifacts,
 * input_digests} (new object). RESOURCE_DOES_NOT_EXIST for an unknown or
 * deleted version. */
enum tr_err tr_store_lineage_model_version(struct tr_store *s, const char *name,
					   const char *version, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* What used the data DIGEST: the downstream walk from dataset:<DIGEST>, or
 * from artifact:<DIGEST> for a 64-hex SHA-256, with "summary": {runs, tasks,
 * model_versions} (new object). */
enum tr_err tr_store_lineage_dataset(struct tr_store *s, const char *digest, json_t **out,
				     struct tr_buf *err) __attribute__((warn_unused_result));

/* ---- audit ----------------------------------------------------------- */

/* Walks the audit chain. Returns TR_OK with the entry count, or DATA_LOSS
 * with the first broken entry's sequence number in *BAD_SEQ and ERR. */
enum tr_err tr_store_audit_verify(struct tr_store *s, int64_t *count, int64_t *bad_seq,
				  struct tr_buf *err) __attribute__((warn_unused_result));

#endif
