/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/store: the store struct, transactions and the reader pool. */
#ifndef TR_STORE_INTERNAL_H
#define TR_STORE_INTERNAL_H

#include "store/db.h"
#include "store/search.h"
#include "store/store.h"

#include <pthread.h>

struct reader {
	struct tr_db *db;
	struct reader *next;
};

struct tr_store {
	const struct tr_db_ops *driver;
	char *path;
	char *artifact_root;
	struct tr_db *wdb; /* the writer's connection */
	pthread_mutex_t pool_lock;
	struct reader *free_readers;
	/* writer queue */
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct tr_write *q_head, *q_tail;
	bool stopping;
	bool writer_dead;
	pthread_t writer;
	bool writer_started;
	uint64_t n_batches, n_writes; /* under q_lock */
};

struct tr_store_tx {
	struct tr_store *s;
	struct tr_db *db;
	int64_t now_ms;
};

/* Borrows a read connection; give it back with store_reader_put(). */
enum tr_err store_reader_get(struct tr_store *s, struct tr_db **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
void store_reader_put(struct tr_store *s, struct tr_db *db);

/* Writer thread lifecycle (writer.c). */
enum tr_err store_writer_start(struct tr_store *s, struct tr_buf *err)
    __attribute__((warn_unused_result));
void store_writer_stop(struct tr_store *s);

/* Migrations (migrations.c): the version found (-1: empty store, no schema_version
 * table), and bringing a store from FROM (-1 or a version) to TR_SCHEMA_VERSION. */
enum tr_err store_schema_version(struct tr_db *db, int *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err store_migrate(struct tr_db *db, int from, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Resolves a store URI to a driver and a path (uri.c). PATH is a new string. */
enum tr_err tr_store_uri_parse(const char *uri, const struct tr_db_ops **driver, char **path,
			       struct tr_buf *err) __attribute__((warn_unused_result));

/* The columns store_run_json() reads, in its order. */
#define RUN_COLS                                                                                   \
	"r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "     \
	"r.lifecycle_stage, r.artifact_uri"

/* Shared readers used by several store files. */
/* A run from a row of RUN_COLS with its data: a new object, or NULL on error. */
json_t *store_run_json(struct tr_db *db, struct tr_db_stmt *row, struct tr_buf *err);
/* A run's info from a row of RUN_COLS with empty data, inputs and outputs
 * (new object), to be filled by store_runs_fill(). */
json_t *store_run_skeleton(struct tr_db *db, struct tr_db_stmt *row);
/* Loads metrics, params, tags and dataset inputs of every run skeleton in
 * RUNS with one query per kind (not one per run). */
enum tr_err store_runs_fill(struct tr_db *db, json_t *runs, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err store_run_check_active(struct tr_db *db, const char *run_id, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The Experiment object ID on DB (a new object); RESOURCE_DOES_NOT_EXIST when absent. */
enum tr_err store_experiment_load(struct tr_db *db, const char *id, json_t **out,
				  struct tr_buf *err) __attribute__((warn_unused_result));
/* Base64 page tokens {"offset": N}. */
enum tr_err store_page_token_parse(const char *token, int64_t *offset, struct tr_buf *err)
    __attribute__((warn_unused_result));
char *store_page_token_make(int64_t offset);
/* The arguments every search shares, read and checked once. */
struct store_search {
	struct tr_search_query q; /* compiled filter and order_by */
	int64_t max_results;	  /* 1..50000, default 1000 */
	int64_t offset;		  /* from the page token */
	int view_type;		  /* 1 active only, 2 deleted only, 3 all */
};

/* Reads filter, order_by, max_results, page_token and the view type (under
 * VIEW_KEY) from ARGS and compiles the query for TARGET. Release with
 * store_search_release(), also on failure. */
enum tr_err store_search_parse(json_t *args, enum tr_search_target target, const char *view_key,
			       struct store_search *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The same with MAX_RESULTS defaulting to DEF_MAX and at most CAP; VIEW_KEY
 * may be NULL for searches without a view type. */
enum tr_err store_search_parse_limits(json_t *args, enum tr_search_target target,
				      const char *view_key, int64_t def_max, int64_t cap,
				      struct store_search *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
void store_search_release(struct store_search *ss);
/* "<alias>.lifecycle_stage = ..." for the view type (static text). */
const char *store_search_view_sql(const struct store_search *ss, bool runs);
/* Binds the compiled query's values on ST from position *IDX on. */
void store_search_bind(struct tr_db *db, struct tr_db_stmt *st, const struct store_search *ss,
		       int *idx);
/* A key/value object of a tags or params list: key required and valid,
 * value a string ("" when absent). WHAT is "tag" or "param". */
enum tr_err store_kv_parse(json_t *obj, const char *what, const char **key, const char **value,
			   struct tr_buf *err) __attribute__((warn_unused_result));

/* The SQLite query plan (EXPLAIN QUERY PLAN, one step a line) of the first
 * query runs/search would run for ARGS; tests use it to keep the index walk
 * from regressing into a scan. */
enum tr_err store_run_search_explain(struct tr_store *s, json_t *args, struct tr_buf *plan,
				     struct tr_buf *err) __attribute__((warn_unused_result));

/* Copies the points of MS that carry a model_id of a stored logged model
 * into that model's metrics (MLflow 3 log_model); others are skipped. */
enum tr_err store_logged_model_metrics(struct tr_store_tx *tx, const char *run_id,
				       const struct tr_metric *ms, size_t n, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Appends {"key", "value"} objects to LIST, one per row of SQL (columns
 * key, value) run with ID bound first and, when VERSION >= 0, VERSION second:
 * the tags and params lists of registry and logged-model entities. */
enum tr_err store_kv_rows(struct tr_db *db, const char *sql, const char *id, int64_t version,
			  json_t *list, struct tr_buf *err) __attribute__((warn_unused_result));

/* The run id from ARGS: run_id, falling back to the legacy run_uuid. */
enum tr_err store_args_run_id(json_t *args, const char **out, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Lineage (store_lineage.c), inside the writing transaction. */
/* Whether NODE is "<known kind>:<non-empty id>", at most 512 bytes, without
 * control characters; the reason goes to WHY (may be NULL) when not. */
/* The owner an artifact PATH names by its shape: "<exp>/<run>/..." (a run) or
 * "<exp>/models/<model id>/..." (a logged model, *MODEL). *ID gets the
 * owner's id and *ROOT the artifact location the owner must have
 * ("mlflow-artifacts:/<exp>/<id>/artifacts"), both new strings; *REST points
 * into PATH after the id. False (nothing allocated) for any other shape. */
bool store_artifact_owner(const char *path, bool *model, char **id, char **root, const char **rest);
bool store_lineage_node_valid(const char *node, struct tr_buf *why);
/* Adds the edge SRC -> DST of RELATION (kept if it exists already);
 * INVALID_PARAMETER_VALUE for a bad name or relation. */
enum tr_err store_lineage_link(struct tr_store_tx *tx, const char *src, const char *dst,
			       const char *relation, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Producers for the store's own writes. Each links only what it can name
 * validly and never fails for lineage's sake except on a database error.
 * An artifact at PATH with SHA: run:<id> or logged_model:<id> produced it
 * (<exp>/<run>/artifacts/..., <exp>/models/<id>/artifacts/... of a stored
 * run or logged model) or task:<run>/<task path> did
 * (pipelines/<run>/<task path>/<attempt>/out/...). */
enum tr_err store_lineage_artifact(struct tr_store_tx *tx, const char *path, const char *sha,
				   struct tr_buf *err) __attribute__((warn_unused_result));
/* A new model version: run -> it and logged model -> it (registered_from),
 * and every artifact stored at or beneath STORAGE (an mlflow-artifacts: URI,
 * at most 1,000 distinct digests) -> it (registered_from). */
enum tr_err store_lineage_model_version(struct tr_store_tx *tx, const char *name, int64_t version,
					const char *run_id, const char *model_id,
					const char *storage, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* A new logged model of RUN_ID: run -> logged_model (relation logged_model). */
enum tr_err store_lineage_logged_model(struct tr_store_tx *tx, const char *run_id,
				       const char *model_id, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* A dataset input: dataset:<DIGEST> consumed run:<RUN_ID>, and, when SOURCE's
 * "uri" (or "url", "path") is mlflow-artifacts:/<p> or runs:/<run>/<p>
 * naming one stored file, dataset:<DIGEST> same_content artifact:<sha256>. */
enum tr_err store_lineage_dataset(struct tr_store_tx *tx, const char *run_id, const char *digest,
				  const char *source, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
