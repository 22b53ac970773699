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

#define RUN_COLS                                                                                   \
	"r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "     \
	"r.lifecycle_stage, r.artifact_uri"

static json_t *kv_list(struct tr_db *db, const char *sql, const char *run_id, struct tr_buf *err,
		       enum tr_err *rc)
{
	struct tr_db_stmt *st;
	*rc = tr_db_prepare(db, sql, &st, err);
	if (*rc)
		return NULL;
	tr_db_bind_text(db, st, 1, run_id);
	json_t *list = json_array();
	bool row = true;
	while (!*rc) {
		*rc = tr_db_step(db, st, &row, err);
		if (*rc || !row)
			break;
		json_array_append_new(list, json_pack("{s:s,s:s}", "key", tr_db_col_text(db, st, 0),
						      "value", tr_db_col_text(db, st, 1)));
	}
	tr_db_done(db, st);
	return list;
}

static void set_nonempty(json_t *obj, const char *key, json_t *list)
{
	if (list && json_array_size(list))
		json_object_set_new(obj, key, list);
	else
		json_decref(list);
}

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

static json_t *run_inputs_json(struct tr_db *db, const char *run_id, struct tr_buf *err,
			       enum tr_err *rc)
{
	struct tr_db_stmt *st;
	json_t *inputs = json_object();
	*rc = tr_db_prepare(
	    db,
	    "SELECT i.input_uuid, d.name, d.digest, d.source_type, d.source, d.schema,"
	    " d.profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id"
	    " WHERE i.destination_id = ? AND i.destination_type = 'RUN'"
	    " AND i.source_type = 'DATASET' ORDER BY i.rowid",
	    &st, err);
	if (*rc)
		return inputs;
	tr_db_bind_text(db, st, 1, run_id);
	json_t *list = json_array();
	bool row = true;
	while (!*rc) {
		*rc = tr_db_step(db, st, &row, err);
		if (*rc || !row)
			break;
		json_t *ds =
		    json_pack("{s:s,s:s,s:s,s:s}", "name", tr_db_col_text(db, st, 1), "digest",
			      tr_db_col_text(db, st, 2), "source_type", tr_db_col_text(db, st, 3),
			      "source", tr_db_col_text(db, st, 4));
		if (!tr_db_col_is_null(db, st, 5))
			json_object_set_new(ds, "schema", json_string(tr_db_col_text(db, st, 5)));
		if (!tr_db_col_is_null(db, st, 6))
			json_object_set_new(ds, "profile", json_string(tr_db_col_text(db, st, 6)));
		json_t *di =
		    json_pack("{s:o,s:s}", "dataset", ds, "input_uuid", tr_db_col_text(db, st, 0));
		json_array_append_new(list, di);
	}
	tr_db_done(db, st);
	size_t i;
	json_t *di;
	json_array_foreach(list, i, di)
	{
		if (*rc)
			break;
		json_t *tags = kv_list(
		    db, "SELECT key, value FROM input_tags WHERE input_uuid = ? ORDER BY key",
		    json_string_value(json_object_get(di, "input_uuid")), err, rc);
		json_object_del(di, "input_uuid");
		set_nonempty(di, "tags", tags);
	}
	set_nonempty(inputs, "dataset_inputs", list);
	return inputs;
}

json_t *store_run_json(struct tr_db *db, struct tr_db_stmt *row, struct tr_buf *err)
{
	/* The row's statement must stay valid: copy what we need first. */
	json_t *info = run_info_json(db, row);
	char *id = tr_xstrdup(tr_db_col_text(db, row, 0));
	enum tr_err rc = TR_OK;
	json_t *data = json_object();
	json_t *metrics = store_latest_metrics_json(db, id, err, &rc);
	set_nonempty(data, "metrics", metrics);
	if (!rc)
		set_nonempty(
		    data, "params",
		    kv_list(db, "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", id,
			    err, &rc));
	if (!rc)
		set_nonempty(data, "tags",
			     kv_list(db,
				     "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key",
				     id, err, &rc));
	json_t *inputs = rc ? json_object() : run_inputs_json(db, id, err, &rc);
	free(id);
	json_t *run = json_pack("{s:o,s:o,s:o,s:{}}", "info", info, "data", data, "inputs", inputs,
				"outputs");
	if (rc) {
		json_decref(run);
		return NULL;
	}
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
	w->n_metrics = 1;
	return rc;
}

enum tr_err tr_store_run_log_batch(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id;
	json_t *metrics = NULL, *params = NULL, *tags = NULL;
	struct tr_metric *ms = NULL;
	enum tr_err rc = store_args_run_id(w->args, &run_id, err);
	if (!rc)
		rc = tr_json_array(w->args, "metrics", &metrics, err);
	if (!rc)
		rc = tr_json_array(w->args, "params", &params, err);
	if (!rc)
		rc = tr_json_array(w->args, "tags", &tags, err);
	if (rc)
		goto out;
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", run_id);
	size_t nm = json_array_size(metrics), np = json_array_size(params),
	       nt = json_array_size(tags);
	w->n_metrics = (uint32_t)nm;
	w->n_params = (uint32_t)np;
	w->n_tags = (uint32_t)nt;
	rc = tr_validate_batch_sizes(nm, np, nt, err);
	if (rc)
		goto out;
	/* validate everything before writing anything */
	ms = tr_xcalloc(nm + 1, sizeof(*ms));
	size_t i;
	json_t *x;
	json_array_foreach(metrics, i, x)
	{
		if (!json_is_object(x)) {
			rc =
			    tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "metrics must be objects");
			goto out;
		}
		rc = store_metric_parse(x, &ms[i], err);
		if (rc)
			goto out;
	}
	json_array_foreach(params, i, x)
	{
		const char *k, *v;
		rc = store_kv_parse(x, "param", &k, &v, err);
		if (rc)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(k, json_string_value(
					   json_object_get(json_array_get(params, j), "key")))) {
				rc = tr_fail(
				    err, TR_ERR_INVALID_PARAMETER_VALUE,
				    "Duplicate parameter keys have been submitted: ['%s']. Please "
				    "ensure the request contains only one param value per param "
				    "key.",
				    k);
				goto out;
			}
		}
	}
	json_array_foreach(tags, i, x)
	{
		const char *k, *v;
		rc = store_kv_parse(x, "tag", &k, &v, err);
		if (rc)
			goto out;
	}
	rc = store_run_check_active(tx->db, run_id, err);
	if (rc)
		goto out;
	json_array_foreach(params, i, x)
	{
		rc = put_param(tx, run_id, json_string_value(json_object_get(x, "key")),
			       json_is_string(json_object_get(x, "value"))
				   ? json_string_value(json_object_get(x, "value"))
				   : "",
			       err);
		if (rc)
			goto out;
	}
	json_array_foreach(tags, i, x)
	{
		rc = put_tag(tx, run_id, json_string_value(json_object_get(x, "key")),
			     json_is_string(json_object_get(x, "value"))
				 ? json_string_value(json_object_get(x, "value"))
				 : "",
			     err);
		if (rc)
			goto out;
	}
	if (nm)
		rc = store_metrics_insert(tx->db, run_id, ms, nm, err);
out:
	free(ms);
	json_decref(metrics);
	json_decref(params);
	json_decref(tags);
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
		rc = tr_validate_value_len("dataset", "name", name, TR_MAX_DATASET_NAME, err);
	if (!rc)
		rc = tr_validate_value_len("dataset", "digest", digest, TR_MAX_DATASET_DIGEST, err);
	if (!rc)
		rc = tr_validate_value_len("dataset", "source", source, TR_MAX_DATASET_SOURCE, err);
	if (!rc && schema)
		rc = tr_validate_value_len("dataset", "schema", schema, TR_MAX_DATASET_SCHEMA, err);
	if (!rc && profile)
		rc = tr_validate_value_len("dataset", "profile", profile, TR_MAX_DATASET_PROFILE,
					   err);
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
	if (tr_db_changes(tx->db) == 0)
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
			rc =
			    tr_validate_value_len("input tag", "key", k, TR_MAX_INPUT_TAG_KEY, err);
		if (!rc)
			rc = tr_validate_value_len("input tag", k, v, TR_MAX_INPUT_TAG_VALUE, err);
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

/* ---- search ---- */

/* True for an experiment id this store can hold (a decimal integer). */
static bool numeric_id(json_t *x, int64_t *out)
{
	if (json_is_integer(x)) {
		*out = json_integer_value(x);
		return true;
	}
	const char *id = json_is_string(x) ? json_string_value(x) : NULL;
	if (!id || !*id || strlen(id) > 18 || strspn(id, "0123456789") != strlen(id))
		return false;
	*out = strtoll(id, NULL, 10);
	return true;
}

enum tr_err tr_store_run_search(struct tr_store *s, json_t *args, json_t **out, struct tr_buf *err)
{
	struct store_search ss;
	json_t *exp_ids = NULL, *list = json_array();
	struct tr_db *db = NULL;
	struct tr_buf sql = TR_BUF_INIT;
	enum tr_err rc = store_search_parse(args, TR_SEARCH_RUNS, "run_view_type", &ss, err);
	if (!rc)
		rc = tr_json_array(args, "experiment_ids", &exp_ids, err);
	if (rc)
		goto out;
	/* experiment ids are integers here; anything else matches nothing */
	tr_buf_appends(&sql, "SELECT " RUN_COLS " FROM runs r WHERE r.experiment_id IN (");
	size_t n_ids = 0, i;
	int64_t id;
	json_t *x;
	json_array_foreach(exp_ids, i, x)
	{
		if (numeric_id(x, &id))
			tr_buf_appends(&sql, n_ids++ ? ",?" : "?");
	}
	if (!n_ids)
		goto done; /* no experiments, no runs (as MLflow) */
	tr_buf_appendf(&sql, ") AND %s AND (%s) ORDER BY %s LIMIT ? OFFSET ?",
		       store_search_view_sql(&ss, true), ss.q.where, ss.q.order_by);
	rc = store_reader_get(s, &db, err);
	if (rc)
		goto out;
	struct tr_db_stmt *st;
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out;
	int idx = 1;
	json_array_foreach(exp_ids, i, x)
	{
		if (numeric_id(x, &id))
			tr_db_bind_int64(db, st, idx++, id);
	}
	store_search_bind(db, st, &ss, &idx);
	tr_db_bind_int64(db, st, idx++, ss.max_results);
	tr_db_bind_int64(db, st, idx++, ss.offset);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_t *run = store_run_json(db, st, err);
		if (!run) {
			rc = TR_ERR_INTERNAL_ERROR;
			break;
		}
		json_array_append_new(list, run);
	}
	tr_db_done(db, st);
	if (rc)
		goto out;
done:
	*out = json_object();
	/* as MLflow: a full page may be followed by more */
	if ((int64_t)json_array_size(list) == ss.max_results) {
		char *t = store_page_token_make(ss.offset + ss.max_results);
		json_object_set_new(*out, "next_page_token", json_string(t));
		free(t);
	}
	if (json_array_size(list))
		json_object_set(*out, "runs", list);
out:
	json_decref(list);
	if (db)
		store_reader_put(s, db);
	store_search_release(&ss);
	tr_buf_release(&sql);
	json_decref(exp_ids);
	return rc;
}
