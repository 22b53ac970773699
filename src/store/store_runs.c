/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs: lifecycle (create, update, delete, restore), params (write-once),
 * tags, log-batch (all or nothing), dataset inputs, the 2.x log-model
 * history, and get/search returning MLflow's Run shape. Every write checks,
 * inside the writer's transaction, that the run exists and is active.
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/ids.h"
#include "core/json.h"
#include "store/search.h"
#include "store/store_internal.h"
#include "store/store_metrics.h"

#include <stdlib.h>
#include <string.h>

static json_t *run_info_json(struct tr_db *db, struct tr_db_stmt *st)
{
	char exp[24];
	snprintf(exp, sizeof(exp), "%lld", (long long)tr_db_col_int64(db, st, 2));
	const char *id = tr_db_col_text(db, st, 0);
	json_t *info = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "run_id", id, "run_uuid", id, "run_name",
	    tr_db_col_text(db, st, 1), "experiment_id", exp, "user_id", tr_db_col_text(db, st, 3),
	    "status", tr_db_col_text(db, st, 4), "artifact_uri", tr_db_col_text(db, st, 8),
	    "lifecycle_stage", tr_db_col_text(db, st, 7));
	if (!tr_db_col_is_null(db, st, 5))
		json_object_set_new(info, "start_time", json_integer(tr_db_col_int64(db, st, 5)));
	if (!tr_db_col_is_null(db, st, 6))
		json_object_set_new(info, "end_time", json_integer(tr_db_col_int64(db, st, 6)));
	return info;
}

/* Appends ITEM to the array KEY of OBJ, creating the array on first use. */
static void push(json_t *obj, const char *key, json_t *item)
{
	json_t *arr = json_object_get(obj, key);
	if (!arr) {
		arr = json_array();
		json_object_set_new(obj, key, arr);
	}
	json_array_append_new(arr, item);
}

/* "SELECT ... <col> IN (?,...,?) ORDER BY <order>" over IDS[FROM, TO), bound. */
static enum tr_err prepare_in(struct tr_db *db, const char *select, const char *col,
			      const char *const *ids, size_t from, size_t to, const char *order,
			      struct tr_db_stmt **st, struct tr_buf *err)
{
	struct tr_buf sql = TR_BUF_INIT;
	tr_buf_appendf(&sql, "%s %s IN (", select, col);
	for (size_t i = from; i < to; i++)
		tr_buf_appends(&sql, i > from ? ",?" : "?");
	tr_buf_appendf(&sql, ") ORDER BY %s", order);
	enum tr_err rc = tr_db_prepare(db, tr_buf_str(&sql), st, err);
	tr_buf_release(&sql);
	if (rc)
		return rc;
	for (size_t i = from; i < to; i++)
		tr_db_bind_text(db, *st, (int)(i - from + 1), ids[i]);
	return TR_OK;
}

/* Runs a prepared IN query, handing each row to ADD(ctx, row). */
static enum tr_err each_row(struct tr_db *db, struct tr_db_stmt *st,
			    void (*add)(struct tr_db *db, struct tr_db_stmt *st, json_t *ctx),
			    json_t *ctx, struct tr_buf *err)
{
	enum tr_err rc = TR_OK;
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		add(db, st, ctx);
	}
	tr_db_done(db, st);
	return rc;
}

static void add_metric(struct tr_db *db, struct tr_db_stmt *st, json_t *by_id)
{
	json_t *run = json_object_get(by_id, tr_db_col_text(db, st, 0));
	push(json_object_get(run, "data"), "metrics", store_metric_row_json(db, st, 1));
}

static json_t *kv_row(struct tr_db *db, struct tr_db_stmt *st)
{
	json_t *kv = json_object();
	tr_json_put_str(kv, "key", tr_db_col_text(db, st, 1));
	tr_json_put_str(kv, "value", tr_db_col_text(db, st, 2));
	return kv;
}

static void add_param(struct tr_db *db, struct tr_db_stmt *st, json_t *by_id)
{
	json_t *run = json_object_get(by_id, tr_db_col_text(db, st, 0));
	push(json_object_get(run, "data"), "params", kv_row(db, st));
}

static void add_tag(struct tr_db *db, struct tr_db_stmt *st, json_t *by_id)
{
	json_t *run = json_object_get(by_id, tr_db_col_text(db, st, 0));
	push(json_object_get(run, "data"), "tags", kv_row(db, st));
}

/* CTX is {"runs": by_id, "inputs": input id -> DatasetInput}. */
static void add_input(struct tr_db *db, struct tr_db_stmt *st, json_t *ctx)
{
	json_t *ds = json_pack("{s:s,s:s,s:s,s:s}", "name", tr_db_col_text(db, st, 2), "digest",
			       tr_db_col_text(db, st, 3), "source_type", tr_db_col_text(db, st, 4),
			       "source", tr_db_col_text(db, st, 5));
	if (!tr_db_col_is_null(db, st, 6))
		json_object_set_new(ds, "schema", json_string(tr_db_col_text(db, st, 6)));
	if (!tr_db_col_is_null(db, st, 7))
		json_object_set_new(ds, "profile", json_string(tr_db_col_text(db, st, 7)));
	json_t *di = json_pack("{s:o}", "dataset", ds);
	json_object_set(json_object_get(ctx, "inputs"), tr_db_col_text(db, st, 1), di);
	json_t *run = json_object_get(json_object_get(ctx, "runs"), tr_db_col_text(db, st, 0));
	push(json_object_get(run, "inputs"), "dataset_inputs", di);
}

static void add_input_tag(struct tr_db *db, struct tr_db_stmt *st, json_t *inputs)
{
	push(json_object_get(inputs, tr_db_col_text(db, st, 0)), "tags", kv_row(db, st));
}

static void add_output(struct tr_db *db, struct tr_db_stmt *st, json_t *by_id)
{
	json_t *run = json_object_get(by_id, tr_db_col_text(db, st, 0));
	push(json_object_get(run, "outputs"), "model_outputs",
	     json_pack("{s:s,s:I}", "model_id", tr_db_col_text(db, st, 1), "step",
		       (json_int_t)tr_db_col_int64(db, st, 2)));
}

#define FILL_CHUNK 250 /* ids per IN list: well under every driver's bind limit */

/* Runs one IN query per chunk of IDS. */
static enum tr_err fill_kind(struct tr_db *db, const char *select, const char *col,
			     const char *order, const char *const *ids, size_t n,
			     void (*add)(struct tr_db *, struct tr_db_stmt *, json_t *),
			     json_t *ctx, struct tr_buf *err)
{
	enum tr_err rc = TR_OK;
	for (size_t from = 0; !rc && from < n; from += FILL_CHUNK) {
		size_t to = from + FILL_CHUNK < n ? from + FILL_CHUNK : n;
		struct tr_db_stmt *st;
		rc = prepare_in(db, select, col, ids, from, to, order, &st, err);
		if (!rc)
			rc = each_row(db, st, add, ctx, err);
	}
	return rc;
}

enum tr_err store_runs_fill(struct tr_db *db, json_t *runs, struct tr_buf *err)
{
	size_t n = json_array_size(runs);
	if (!n)
		return TR_OK;
	const char **ids = tr_xmalloc(n * sizeof(*ids));
	json_t *by_id = json_object();	/* run id -> run (borrowed through the object) */
	json_t *inputs = json_object(); /* input id -> DatasetInput */
	json_t *ctx = json_pack("{s:O,s:O}", "runs", by_id, "inputs", inputs);
	size_t i;
	json_t *run;
	json_array_foreach(runs, i, run)
	{
		ids[i] = json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
		json_object_set(by_id, ids[i], run);
	}
	enum tr_err rc = fill_kind(db,
				   "SELECT run_uuid, key, step, timestamp, value, is_nan FROM"
				   " latest_metrics WHERE",
				   "run_uuid", "run_uuid, key", ids, n, add_metric, by_id, err);
	if (!rc)
		rc = fill_kind(db, "SELECT run_uuid, key, value FROM params WHERE", "run_uuid",
			       "run_uuid, key", ids, n, add_param, by_id, err);
	if (!rc)
		rc = fill_kind(db, "SELECT run_uuid, key, value FROM tags WHERE", "run_uuid",
			       "run_uuid, key", ids, n, add_tag, by_id, err);
	if (!rc)
		rc = fill_kind(db, "SELECT run_uuid, model_id, step FROM run_outputs WHERE",
			       "run_uuid", "run_uuid, step, model_id", ids, n, add_output, by_id,
			       err);
	if (!rc)
		rc = fill_kind(
		    db,
		    "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.source_type,"
		    " d.source, d.schema, d.profile FROM inputs i JOIN datasets d ON"
		    " d.dataset_uuid = i.source_id WHERE i.destination_type = 'RUN' AND"
		    " i.source_type = 'DATASET' AND",
		    "i.destination_id", "i.rowid", ids, n, add_input, ctx, err);
	size_t n_in = json_object_size(inputs);
	if (!rc && n_in) {
		const char **in_ids = tr_xmalloc(n_in * sizeof(*in_ids));
		const char *key;
		json_t *di;
		size_t k = 0;
		json_object_foreach(inputs, key, di) in_ids[k++] = key;
		rc = fill_kind(db, "SELECT input_uuid, key, value FROM input_tags WHERE",
			       "input_uuid", "input_uuid, key", in_ids, n_in, add_input_tag, inputs,
			       err);
		free(in_ids);
	}
	json_decref(ctx);
	json_decref(inputs);
	json_decref(by_id);
	free(ids);
	return rc;
}

json_t *store_run_skeleton(struct tr_db *db, struct tr_db_stmt *row)
{
	return json_pack("{s:o,s:{},s:{},s:{}}", "info", run_info_json(db, row), "data", "inputs",
			 "outputs");
}

json_t *store_run_json(struct tr_db *db, struct tr_db_stmt *row, struct tr_buf *err)
{
	json_t *one = json_pack("[o]", store_run_skeleton(db, row));
	enum tr_err rc = store_runs_fill(db, one, err);
	json_t *run = rc ? NULL : json_incref(json_array_get(one, 0));
	json_decref(one);
	return run;
}

/* Loads a run on DB: a new {"info","data",...} object in *OUT. */
static enum tr_err run_load(struct tr_db *db, const char *run_id, json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc =
	    tr_db_prepare(db, "SELECT " RUN_COLS " FROM runs r WHERE r.run_uuid = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	rc = tr_db_step(db, st, &row, err);
	json_t *run = NULL;
	if (!rc && row) {
		run = store_run_json(db, st, err);
		if (!run)
			rc = TR_ERR_INTERNAL_ERROR;
	}
	tr_db_done(db, st);
	if (!rc && !run)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found",
			     run_id);
	if (!rc)
		*out = run;
	return rc;
}

enum tr_err tr_store_run_get(struct tr_store *s, const char *run_id, json_t **out,
			     struct tr_buf *err)
{
	struct tr_db *db;
	json_t *run = NULL;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = run_load(db, run_id, &run, err);
	store_reader_put(s, db);
	if (!rc)
		*out = json_pack("{s:o}", "run", run);
	return rc;
}

/* Reads the run's lifecycle stage and experiment; RESOURCE_DOES_NOT_EXIST when absent. */
static enum tr_err run_stage(struct tr_db *db, const char *run_id, char stage[16], int64_t *exp,
			     struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row) {
		snprintf(stage, 16, "%s", tr_db_col_text(db, st, 0));
		if (exp)
			*exp = tr_db_col_int64(db, st, 1);
	}
	tr_db_done(db, st);
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found",
			     run_id);
	return rc;
}

enum tr_err store_run_check_active(struct tr_db *db, const char *run_id, struct tr_buf *err)
{
	char stage[16];
	enum tr_err rc = run_stage(db, run_id, stage, NULL, err);
	if (!rc && strcmp(stage, "active"))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "The run %s must be in the 'active' state. Current state is %s.",
			     run_id, stage);
	return rc;
}

/* The run id from args, recorded as the write's audit resource, and checked active. */
static enum tr_err tx_active_run(struct tr_store_tx *tx, struct tr_write *w, const char **run_id,
				 struct tr_buf *err)
{
	enum tr_err rc = store_args_run_id(w->args, run_id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", *run_id);
	return store_run_check_active(tx->db, *run_id, err);
}

static enum tr_err put_tag(struct tr_store_tx *tx, const char *run_id, const char *k, const char *v,
			   struct tr_buf *err)
{
	size_t n = tr_utf8_prefix_bytes(v, TR_MAX_TAG_VALUE);
	char *val = tr_xstrndup(v, n); /* MLflow's server truncates long tag values */
	enum tr_err rc =
	    tr_db_run(tx->db, err,
		      "INSERT INTO tags (run_uuid, key, value) VALUES (?,?,?)"
		      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
		      "ttt", run_id, k, val);
	if (!rc && !strcmp(k, "mlflow.runName"))
		rc = tr_db_run(tx->db, err, "UPDATE runs SET name = ? WHERE run_uuid = ?", "tt",
			       val, run_id);
	free(val);
	return rc;
}

static enum tr_err put_param(struct tr_store_tx *tx, const char *run_id, const char *k,
			     const char *v, struct tr_buf *err)
{
	size_t n = tr_utf8_prefix_bytes(v, TR_MAX_PARAM_VALUE);
	char *val = tr_xstrndup(v, n);
	enum tr_err rc = tr_db_run(tx->db, err,
				   "INSERT INTO params (run_uuid, key, value) VALUES (?,?,?)"
				   " ON CONFLICT (run_uuid, key) DO NOTHING",
				   "ttt", run_id, k, val);
	if (!rc && tr_db_changes(tx->db) == 0) {
		struct tr_db_stmt *st;
		bool row;
		rc = tr_db_prepare(
		    tx->db, "SELECT value FROM params WHERE run_uuid = ? AND key = ?", &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, run_id);
			tr_db_bind_text(tx->db, st, 2, k);
			rc = tr_db_step(tx->db, st, &row, err);
			if (!rc && row && strcmp(tr_db_col_text(tx->db, st, 0), val))
				rc = tr_fail(
				    err, TR_ERR_INVALID_PARAMETER_VALUE,
				    "Changing param values is not allowed. Param with key='%s' "
				    "was already logged with value='%s' for run ID='%s'. "
				    "Attempted logging new value '%s'.",
				    k, tr_db_col_text(tx->db, st, 0), run_id, val);
			tr_db_done(tx->db, st);
		}
	}
	free(val);
	return rc;
}

enum tr_err tr_store_run_create(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *exp_id, *user, *name;
	int64_t start = 0;
	bool has_start;
	json_t *tags = NULL;
	enum tr_err rc = tr_json_str(w->args, "experiment_id", &exp_id, err);
	if (!rc)
		rc = tr_json_str(w->args, "user_id", &user, err);
	if (!rc)
		rc = tr_json_str(w->args, "run_name", &name, err);
	if (!rc)
		rc = tr_json_int64(w->args, "start_time", &start, &has_start, err);
	if (!rc)
		rc = tr_json_array(w->args, "tags", &tags, err);
	if (rc)
		goto out;
	if (!exp_id || !*exp_id)
		exp_id = "0";
	snprintf(w->resource, sizeof(w->resource), "experiment/%.140s", exp_id);
	json_t *exp = NULL;
	rc = store_experiment_load(tx->db, exp_id, &exp, err);
	if (rc)
		goto out;
	const char *stage = json_string_value(json_object_get(exp, "lifecycle_stage"));
	if (strcmp(stage, "active")) {
		rc =
		    tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "The experiment %s must be in the 'active' state. Current state is %s.",
			    exp_id, stage);
		json_decref(exp);
		goto out;
	}
	const char *tag_name = NULL;
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *k, *v;
		rc = store_kv_parse(t, "tag", &k, &v, err);
		if (rc) {
			json_decref(exp);
			goto out;
		}
		if (!strcmp(k, "mlflow.runName"))
			tag_name = v;
	}
	if (name && *name && tag_name && strcmp(name, tag_name)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Both 'run_name' argument and 'mlflow.runName' tag are specified, but "
			     "with different values (run_name='%s', mlflow.runName='%s').",
			     name, tag_name);
		json_decref(exp);
		goto out;
	}
	char gen[64];
	if (!name || !*name)
		name = tag_name;
	if (!name || !*name) {
		tr_ids_run_name(gen, sizeof(gen));
		name = gen;
	}
	char run_id[33];
	tr_ids_run_id(run_id);
	struct tr_buf uri = TR_BUF_INIT;
	tr_buf_appendf(&uri, "%s/%s/artifacts",
		       json_string_value(json_object_get(exp, "artifact_location")), run_id);
	int64_t exp_num =
	    strtoll(json_string_value(json_object_get(exp, "experiment_id")), NULL, 10);
	json_decref(exp);
	rc = tr_db_run(
	    tx->db, err,
	    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time,"
	    " lifecycle_stage, artifact_uri) VALUES (?,?,?,?,'RUNNING',?,'active',?)",
	    "ttitit", run_id, name, exp_num, user ? user : "", has_start ? start : tx->now_ms,
	    tr_buf_str(&uri));
	tr_buf_release(&uri);
	if (rc)
		goto out;
	json_array_foreach(tags, i, t)
	{
		const char *k, *v;
		rc = store_kv_parse(t, "tag", &k, &v, err);
		if (!rc && strcmp(k, "mlflow.runName"))
			rc = put_tag(tx, run_id, k, v, err);
		if (rc)
			goto out;
	}
	rc = put_tag(tx, run_id, "mlflow.runName", name, err);
	if (rc)
		goto out;
	snprintf(w->resource, sizeof(w->resource), "run/%s", run_id);
	json_t *run = NULL;
	rc = run_load(tx->db, run_id, &run, err);
	if (!rc)
		w->result = json_pack("{s:o}", "run", run);
out:
	json_decref(tags);
	return rc;
}

enum tr_err tr_store_run_update(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id, *status, *name;
	int64_t end = 0;
	bool has_end;
	int status_num;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = tr_json_int64(w->args, "end_time", &end, &has_end, err);
	if (!rc)
		rc = tr_json_str(w->args, "run_name", &name, err);
	if (!rc) {
		json_t *v = json_object_get(w->args, "status");
		status = json_is_string(v) ? json_string_value(v) : NULL;
		if (json_is_integer(v)) {
			static const char *names[] = {NULL,	  "RUNNING", "SCHEDULED",
						      "FINISHED", "FAILED",  "KILLED"};
			json_int_t n = json_integer_value(v);
			if (n < 1 || n > 5)
				rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					     "Invalid run status %lld", (long long)n);
			else
				status = names[n];
		} else if (status) {
			rc = tr_validate_run_status(status, &status_num, err);
		}
	}
	if (!rc && status)
		rc = tr_db_run(tx->db, err, "UPDATE runs SET status = ? WHERE run_uuid = ?", "tt",
			       status, run_id);
	if (!rc && has_end)
		rc = tr_db_run(tx->db, err, "UPDATE runs SET end_time = ? WHERE run_uuid = ?", "it",
			       end, run_id);
	if (!rc && name && *name)
		rc = put_tag(tx, run_id, "mlflow.runName", name, err);
	json_t *run = NULL;
	if (!rc)
		rc = run_load(tx->db, run_id, &run, err);
	if (!rc) {
		w->result = json_pack("{s:O}", "run_info", json_object_get(run, "info"));
		json_decref(run);
	}
	return rc;
}

static enum tr_err run_set_stage(struct tr_store_tx *tx, struct tr_write *w, bool deleted,
				 struct tr_buf *err)
{
	const char *run_id;
	char stage[16];
	int64_t exp = 0;
	enum tr_err rc = store_args_run_id(w->args, &run_id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", run_id);
	rc = run_stage(tx->db, run_id, stage, &exp, err);
	if (rc)
		return rc;
	if (!deleted) {
		/* a run of a deleted experiment stays deleted with it */
		struct tr_db_stmt *st;
		bool row;
		rc = tr_db_prepare(
		    tx->db, "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", &st,
		    err);
		if (rc)
			return rc;
		tr_db_bind_int64(tx->db, st, 1, exp);
		rc = tr_db_step(tx->db, st, &row, err);
		bool exp_deleted = !rc && row && strcmp(tr_db_col_text(tx->db, st, 0), "active");
		tr_db_done(tx->db, st);
		if (exp_deleted)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Cannot restore run %s: its experiment %lld is deleted",
				       run_id, (long long)exp);
	}
	if (deleted)
		return tr_db_run(tx->db, err,
				 "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
				 "WHERE run_uuid = ?",
				 "it", tx->now_ms, run_id);
	return tr_db_run(
	    tx->db, err,
	    "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?",
	    "t", run_id);
}

enum tr_err tr_store_run_delete(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	return run_set_stage(tx, w, true, err);
}

enum tr_err tr_store_run_restore(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	return run_set_stage(tx, w, false, err);
}

enum tr_err tr_store_run_set_tag(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id, *k, *v;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = store_kv_parse(w->args, "tag", &k, &v, err);
	if (!rc)
		rc = put_tag(tx, run_id, k, v, err);
	w->n_tags = 1;
	return rc;
}

enum tr_err tr_store_run_delete_tag(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id, *k;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "key", &k, err);
	if (!rc)
		rc = tr_db_run(tx->db, err, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", "tt",
			       run_id, k);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "No tag with name: %s in run with id %s", k, run_id);
	w->n_tags = 1;
	return rc;
}

enum tr_err tr_store_run_log_param(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id, *k, *v;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = store_kv_parse(w->args, "param", &k, &v, err);
	if (!rc)
		rc = put_param(tx, run_id, k, v, err);
	w->n_params = 1;
	return rc;
}

enum tr_err tr_store_run_log_metric(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id;
	struct tr_metric m;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = store_metric_parse(w->args, &m, err);
	if (!rc)
		rc = store_metrics_insert(tx->db, run_id, &m, 1, err);
	if (!rc)
		rc = store_logged_model_metrics(tx, run_id, &m, 1, err);
	w->n_metrics = 1;
	return rc;
}

enum tr_err tr_store_run_log_batch(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const struct tr_log_batch *b = w->payload;
	if (!b || !b->run_id || !*b->run_id)
		return tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Missing value for required parameter 'run_id'. See the API docs for "
		    "more information about request parameters.");
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", b->run_id);
	w->n_metrics = (uint32_t)b->n_metrics;
	w->n_params = (uint32_t)b->n_params;
	w->n_tags = (uint32_t)b->n_tags;
	enum tr_err rc = tr_validate_batch_sizes(b->n_metrics, b->n_params, b->n_tags, err);
	/* validate everything before writing anything */
	for (size_t i = 0; !rc && i < b->n_metrics; i++) {
		const struct tr_metric *m = &b->metrics[i];
		/* series arrive key by key: check a name once per run of equal keys */
		if (i && !strcmp(m->key, b->metrics[i - 1].key))
			rc = tr_validate_metric_timestamp(m->timestamp, m->key, err);
		else
			rc = store_metric_check(m, err);
	}
	for (size_t i = 0; !rc && i < b->n_params; i++) {
		rc = tr_validate_key("param", b->params[i].key, err);
		for (size_t j = 0; !rc && j < i; j++)
			if (!strcmp(b->params[i].key, b->params[j].key))
				rc = tr_fail(
				    err, TR_ERR_INVALID_PARAMETER_VALUE,
				    "Duplicate parameter keys have been submitted: ['%s']. "
				    "Please ensure the request contains only one param value "
				    "per param key.",
				    b->params[i].key);
	}
	for (size_t i = 0; !rc && i < b->n_tags; i++)
		rc = tr_validate_key("tag", b->tags[i].key, err);
	if (!rc)
		rc = store_run_check_active(tx->db, b->run_id, err);
	for (size_t i = 0; !rc && i < b->n_params; i++)
		rc = put_param(tx, b->run_id, b->params[i].key, b->params[i].value, err);
	for (size_t i = 0; !rc && i < b->n_tags; i++)
		rc = put_tag(tx, b->run_id, b->tags[i].key, b->tags[i].value, err);
	if (!rc && b->n_metrics)
		rc = store_metrics_insert(tx->db, b->run_id, b->metrics, b->n_metrics, err);
	if (!rc && b->n_metrics)
		rc = store_logged_model_metrics(tx, b->run_id, b->metrics, b->n_metrics, err);
	return rc;
}

static enum tr_err dataset_input(struct tr_store_tx *tx, const char *run_id, int64_t exp,
				 json_t *di, struct tr_buf *err)
{
	json_t *ds = json_object_get(di, "dataset");
	const char *name, *digest, *stype, *source, *schema, *profile;
	if (!json_is_object(ds))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "dataset input needs a 'dataset' object");
	enum tr_err rc = tr_json_req_str(ds, "name", &name, err);
	if (!rc)
		rc = tr_json_req_str(ds, "digest", &digest, err);
	if (!rc)
		rc = tr_json_req_str(ds, "source_type", &stype, err);
	if (!rc)
		rc = tr_json_req_str(ds, "source", &source, err);
	if (!rc)
		rc = tr_json_str(ds, "schema", &schema, err);
	if (!rc)
		rc = tr_json_str(ds, "profile", &profile, err);
	if (!rc)
		rc = tr_validate_dataset(name, digest, stype, source, schema, profile, err);
	if (rc)
		return rc;
	char ds_id[33], in_id[33];
	tr_ids_run_id(ds_id);
	rc = tr_db_run(
	    tx->db, err,
	    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source,"
	    " schema, profile) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (experiment_id, name, digest)"
	    " DO NOTHING",
	    "titttttt", ds_id, exp, name, digest, stype, source, schema, profile);
	if (rc)
		return rc;
	struct tr_db_stmt *st;
	bool row;
	rc = tr_db_prepare(
	    tx->db,
	    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
	    &st, err);
	if (rc)
		return rc;
	tr_db_bind_int64(tx->db, st, 1, exp);
	tr_db_bind_text(tx->db, st, 2, name);
	tr_db_bind_text(tx->db, st, 3, digest);
	rc = tr_db_step(tx->db, st, &row, err);
	if (!rc && row)
		snprintf(ds_id, sizeof(ds_id), "%s", tr_db_col_text(tx->db, st, 0));
	tr_db_done(tx->db, st);
	if (rc)
		return rc;
	tr_ids_run_id(in_id);
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
		       "destination_id)"
		       " VALUES (?, 'DATASET', ?, 'RUN', ?) ON CONFLICT (source_type, source_id,"
		       " destination_type, destination_id) DO NOTHING",
		       "ttt", in_id, ds_id, run_id);
	if (rc)
		return rc;
	int64_t linked = tr_db_changes(tx->db);
	rc = store_lineage_dataset(tx, run_id, digest, source, err);
	if (rc)
		return rc;
	if (linked == 0)
		return TR_OK; /* already linked: MLflow keeps the first input's tags */
	json_t *tags = json_object_get(di, "tags");
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *k, *v;
		rc = tr_json_req_str(t, "key", &k, err);
		if (!rc)
			rc = tr_json_req_str(t, "value", &v, err);
		if (!rc)
			rc = tr_validate_input_tag(k, v, err);
		if (!rc)
			rc = tr_db_run(
			    tx->db, err,
			    "INSERT INTO input_tags (input_uuid, key, value) VALUES (?,?,?)"
			    " ON CONFLICT (input_uuid, key) DO UPDATE SET value = excluded.value",
			    "ttt", in_id, k, v);
		if (rc)
			return rc;
	}
	return TR_OK;
}

enum tr_err tr_store_run_log_inputs(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id;
	json_t *list = NULL;
	char stage[16];
	int64_t exp = 0;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = run_stage(tx->db, run_id, stage, &exp, err);
	if (!rc)
		rc = tr_json_array(w->args, "datasets", &list, err);
	size_t i;
	json_t *di;
	json_array_foreach(list, i, di)
	{
		if (rc)
			break;
		if (!json_is_object(di))
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "datasets must be objects");
		else
			rc = dataset_input(tx, run_id, exp, di, err);
	}
	json_decref(list);
	return rc;
}

enum tr_err tr_store_run_log_model(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id, *model_json;
	enum tr_err rc = tx_active_run(tx, w, &run_id, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "model_json", &model_json, err);
	if (rc)
		return rc;
	json_t *model = json_loads(model_json, JSON_DECODE_ANY, NULL);
	static const char *const required[] = {"artifact_path", "flavors", "utc_time_created",
					       "run_id"};
	for (size_t i = 0; !rc && i < 4; i++)
		if (!json_is_object(model) || !json_object_get(model, required[i]))
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "Model json is missing mandatory fields: '%s'", required[i]);
	json_t *history = NULL;
	if (!rc) {
		struct tr_db_stmt *st;
		bool row;
		rc = tr_db_prepare(tx->db,
				   "SELECT value FROM tags WHERE run_uuid = ? AND key = "
				   "'mlflow.log-model.history'",
				   &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, run_id);
			rc = tr_db_step(tx->db, st, &row, err);
			if (!rc && row)
				history = json_loads(tr_db_col_text(tx->db, st, 0), 0, NULL);
			tr_db_done(tx->db, st);
		}
	}
	if (!rc) {
		if (!json_is_array(history)) {
			json_decref(history);
			history = json_array();
		}
		json_array_append(history, model);
		char *s = tr_json_dump(history);
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO tags (run_uuid, key, value) VALUES (?, "
			       "'mlflow.log-model.history', ?)"
			       " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
			       "tt", run_id, s);
		free(s);
	}
	json_decref(history);
	json_decref(model);
	return rc;
}

/* ---- garbage collection ---- */

/* A model version (alias mv) that needs run r: made from it, or stored in
 * its artifacts. Such runs are never purged. */
#define MV_USES_RUN                                                                                \
	"mv.current_stage <> 'Deleted_Internal' AND (mv.run_id = r.run_uuid OR "                   \
	"mv.storage_location = r.artifact_uri OR substr(mv.storage_location, 1, "                  \
	"length(r.artifact_uri) + 1) = r.artifact_uri || '/')"

enum tr_err tr_store_runs_deleted_before(struct tr_store *s, int64_t cutoff_ms, json_t **out,
					 struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = tr_db_prepare(
	    db,
	    "SELECT r.run_uuid, r.artifact_uri, r.deleted_time,"
	    " (SELECT count(*) FROM artifacts a WHERE substr(a.path, 1, length(r.artifact_uri) - "
	    "17)"
	    "   = substr(r.artifact_uri, 19) || '/'),"
	    " (SELECT coalesce(sum(a.size), 0) FROM artifacts a WHERE"
	    "   substr(a.path, 1, length(r.artifact_uri) - 17) = substr(r.artifact_uri, 19) || "
	    "'/'),"
	    " (SELECT mv.name || '/' || mv.version FROM model_versions mv WHERE " MV_USES_RUN
	    " LIMIT 1)"
	    " FROM runs r WHERE r.lifecycle_stage = 'deleted' AND r.deleted_time IS NOT NULL"
	    " AND r.deleted_time <= ? ORDER BY r.deleted_time",
	    &st, err);
	if (rc) {
		store_reader_put(s, db);
		return rc;
	}
	tr_db_bind_int64(db, st, 1, cutoff_ms);
	json_t *list = json_array();
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_t *r = json_object();
		tr_json_put_str(r, "run_id", tr_db_col_text(db, st, 0));
		tr_json_put_str(r, "artifact_uri", tr_db_col_text(db, st, 1));
		tr_json_put_int(r, "deleted_time", tr_db_col_int64(db, st, 2));
		tr_json_put_int(r, "artifact_files", tr_db_col_int64(db, st, 3));
		tr_json_put_int(r, "artifact_bytes", tr_db_col_int64(db, st, 4));
		if (!tr_db_col_is_null(db, st, 5))
			tr_json_put_str(r, "model_version", tr_db_col_text(db, st, 5));
		json_array_append_new(list, r);
	}
	tr_db_done(db, st);
	store_reader_put(s, db);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return TR_OK;
}

enum tr_err tr_store_run_purge(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id;
	char stage[16];
	enum tr_err rc = store_args_run_id(w->args, &run_id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", run_id);
	rc = run_stage(tx->db, run_id, stage, NULL, err);
	if (!rc && strcmp(stage, "deleted"))
		return tr_fail(err, TR_ERR_INVALID_STATE, "run '%s' is not deleted", run_id);
	if (!rc) {
		struct tr_db_stmt *st;
		bool row = false;
		rc = tr_db_prepare(
		    tx->db,
		    "SELECT mv.name, mv.version FROM runs r JOIN model_versions mv ON "
		    " " MV_USES_RUN " WHERE r.run_uuid = ? LIMIT 1",
		    &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, run_id);
			rc = tr_db_step(tx->db, st, &row, err);
			if (!rc && row)
				rc = tr_fail(err, TR_ERR_INVALID_STATE,
					     "run '%s' is kept: model version %s/%lld uses it",
					     run_id, tr_db_col_text(tx->db, st, 0),
					     (long long)tr_db_col_int64(tx->db, st, 1));
			tr_db_done(tx->db, st);
		}
	}
	static const char *const sql[] = {
	    "DELETE FROM params WHERE run_uuid = ?",
	    "DELETE FROM tags WHERE run_uuid = ?",
	    "DELETE FROM latest_metrics WHERE run_uuid = ?",
	    "DELETE FROM metric_chunks WHERE run_uuid = ?",
	    "DELETE FROM input_tags WHERE input_uuid IN (SELECT input_uuid FROM inputs WHERE"
	    " destination_type = 'RUN' AND destination_id = ?)",
	    "DELETE FROM inputs WHERE destination_type = 'RUN' AND destination_id = ?",
	    "DELETE FROM artifacts WHERE substr(path, 1, length((SELECT artifact_uri FROM runs "
	    "WHERE"
	    " run_uuid = ?1)) - 17) = substr((SELECT artifact_uri FROM runs WHERE run_uuid = ?1), "
	    "19)"
	    " || '/'",
	    "DELETE FROM runs WHERE run_uuid = ?",
	};
	for (size_t i = 0; !rc && i < sizeof(sql) / sizeof(sql[0]); i++)
		rc = tr_db_run(tx->db, err, sql[i], "t", run_id);
	return rc;
}
