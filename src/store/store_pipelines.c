/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pipeline runs in the store: the run, each task's state (written before the
 * scheduler acts on it: "attempt N starting" is committed before the spawn,
 * so a killed run resumes without running a succeeded task again), and the
 * task cache (fingerprint -> recorded outputs).
 */
#include "core/alloc.h"
#include "core/json.h"
#include "store/store_internal.h"

#include <string.h>

static const char *str_or(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : def;
}

/* V as JSON text, or "{}" when V is NULL: a new string. */
static char *dump_object(json_t *v, size_t flags)
{
	return v ? json_dumps(v, flags) : tr_xstrdup("{}");
}

enum tr_err tr_store_pipeline_run_put(struct tr_store_tx *tx, struct tr_write *w,
				      struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_req_str(w->args, "run_id", &id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_run/%.140s", id);
	json_t *params = json_object_get(w->args, "params");
	char *ptext = dump_object(params, JSON_COMPACT | JSON_SORT_KEYS);
	const char *state = str_or(w->args, "state", "RUNNING");
	bool finished = strcmp(state, "RUNNING") && strcmp(state, "PENDING");
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO pipeline_runs (run_id, name, spec_path, spec_sha256, params, "
		       "root, state, created_ms, finished_ms) VALUES (?,?,?,?,?,?,?,?,?) ON "
		       "CONFLICT (run_id) DO UPDATE SET state = excluded.state, finished_ms = "
		       "excluded.finished_ms",
		       finished ? "tttttttii" : "tttttttin", id, str_or(w->args, "name", ""),
		       str_or(w->args, "spec_path", ""), str_or(w->args, "spec_sha256", ""), ptext,
		       str_or(w->args, "root", ""), state, tx->now_ms, tx->now_ms);
	free(ptext);
	return rc;
}

enum tr_err tr_store_pipeline_task_put(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err)
{
	const char *run, *path;
	enum tr_err rc = tr_json_req_str(w->args, "run_id", &run, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "path", &path, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_run/%.140s", run);
	json_t *outs = json_object_get(w->args, "outputs");
	char *otext = outs ? json_dumps(outs, JSON_COMPACT) : NULL;
	const char *state = str_or(w->args, "state", "PENDING");
	const char *fp = str_or(w->args, "fingerprint", "");
	int64_t start = json_integer_value(json_object_get(w->args, "start_ms"));
	int64_t end = json_integer_value(json_object_get(w->args, "end_ms"));
	bool cached = json_is_true(json_object_get(w->args, "cached"));
	struct tr_db_stmt *st;
	rc = tr_db_prepare(
	    tx->db,
	    "INSERT INTO pipeline_tasks (run_id, path, state, attempts, attempt_dir, "
	    "outputs, message, fingerprint, cached, start_ms, end_ms, mlflow_run_id) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id, path) DO UPDATE SET "
	    "state = excluded.state, attempts = excluded.attempts, attempt_dir = "
	    "excluded.attempt_dir, outputs = excluded.outputs, message = "
	    "excluded.message, fingerprint = excluded.fingerprint, cached = "
	    "excluded.cached, start_ms = excluded.start_ms, end_ms = excluded.end_ms, "
	    "mlflow_run_id = excluded.mlflow_run_id",
	    &st, err);
	if (!rc) {
		tr_db_bind_text(tx->db, st, 1, run);
		tr_db_bind_text(tx->db, st, 2, path);
		tr_db_bind_text(tx->db, st, 3, state);
		tr_db_bind_int64(tx->db, st, 4,
				 json_integer_value(json_object_get(w->args, "attempts")));
		tr_db_bind_text(tx->db, st, 5, str_or(w->args, "attempt_dir", ""));
		if (otext)
			tr_db_bind_text(tx->db, st, 6, otext);
		else
			tr_db_bind_null(tx->db, st, 6);
		tr_db_bind_text(tx->db, st, 7, str_or(w->args, "message", ""));
		tr_db_bind_text(tx->db, st, 8, fp);
		tr_db_bind_int64(tx->db, st, 9, cached);
		if (start)
			tr_db_bind_int64(tx->db, st, 10, start);
		else
			tr_db_bind_null(tx->db, st, 10);
		if (end)
			tr_db_bind_int64(tx->db, st, 11, end);
		else
			tr_db_bind_null(tx->db, st, 11);
		tr_db_bind_text(tx->db, st, 12, str_or(w->args, "mlflow_run_id", ""));
		bool row;
		rc = tr_db_step(tx->db, st, &row, err);
		tr_db_done(tx->db, st);
	}
	/* a success that ran (not one taken from the cache) becomes a cache entry */
	if (!rc && *fp && otext && !cached && !strcmp(state, "SUCCEEDED") &&
	    json_is_true(json_object_get(w->args, "cacheable")))
		rc = tr_db_run(
		    tx->db, err,
		    "INSERT INTO pipeline_cache (fingerprint, pipeline, run_id, path, "
		    "outputs, created_ms) VALUES (?,?,?,?,?,?) ON CONFLICT (fingerprint) "
		    "DO UPDATE SET run_id = excluded.run_id, path = excluded.path, "
		    "outputs = excluded.outputs, created_ms = excluded.created_ms",
		    "ttttti", fp, str_or(w->args, "pipeline", ""), run, path, otext, tx->now_ms);
	free(otext);
	return rc;
}

enum tr_err tr_store_pipeline_cache_purge(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	bool present;
	int64_t before = 0;
	enum tr_err rc = tr_json_int64(w->args, "before_ms", &before, &present, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_cache");
	rc = present ? tr_db_run(tx->db, err, "DELETE FROM pipeline_cache WHERE created_ms < ?",
				 "i", before)
		     : tr_db_exec(tx->db, "DELETE FROM pipeline_cache", err);
	if (!rc)
		w->result = json_pack("{s:I}", "removed", (json_int_t)tr_db_changes(tx->db));
	return rc;
}

enum tr_err tr_store_pipeline_cache_get(struct tr_store *s, const char *fingerprint,
					json_t **outputs, struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	bool row = false;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc =
	    tr_db_prepare(db, "SELECT outputs FROM pipeline_cache WHERE fingerprint = ?", &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, fingerprint);
		rc = tr_db_step(db, st, &row, err);
		if (!rc && row)
			*outputs = json_loads(tr_db_col_text(db, st, 0), 0, NULL);
		tr_db_done(db, st);
	}
	store_reader_put(s, db);
	if (!rc && (!row || !*outputs))
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "no cache entry");
	return rc;
}

enum tr_err tr_store_pipeline_run_get(struct tr_store *s, const char *run_id, json_t **out,
				      struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	bool row = false;
	json_t *run = NULL;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = tr_db_prepare(db,
			   "SELECT name, spec_path, spec_sha256, params, root, state, created_ms, "
			   "finished_ms, experiment_id, display_name, description, storage_state, "
			   "spec_text, pipeline_id, pipeline_version_id, recurring_run_id, "
			   "runtime_config, state_history, error, source, options "
			   "FROM pipeline_runs WHERE run_id = ?",
			   &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, run_id);
		rc = tr_db_step(db, st, &row, err);
		if (!rc && row) {
			run = json_pack(
			    "{s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:{}}", "run_id", run_id, "name",
			    tr_db_col_text(db, st, 0), "spec_path", tr_db_col_text(db, st, 1),
			    "spec_sha256", tr_db_col_text(db, st, 2), "params",
			    json_loads(tr_db_col_text(db, st, 3), 0, NULL), "root",
			    tr_db_col_text(db, st, 4), "state", tr_db_col_text(db, st, 5),
			    "created_ms", (json_int_t)tr_db_col_int64(db, st, 6), "tasks");
			if (!tr_db_col_is_null(db, st, 7))
				json_object_set_new(run, "finished_ms",
						    json_integer(tr_db_col_int64(db, st, 7)));
			static const char *const text_cols[] = {
			    "experiment_id",	   "display_name",     "description",
			    "storage_state",	   "spec_text",	       "pipeline_id",
			    "pipeline_version_id", "recurring_run_id", NULL};
			for (int k = 0; text_cols[k]; k++)
				if (!tr_db_col_is_null(db, st, 8 + k))
					json_object_set_new(
					    run, text_cols[k],
					    json_string(tr_db_col_text(db, st, 8 + k)));
			json_object_set_new(run, "runtime_config",
					    json_loads(tr_db_col_text(db, st, 16), 0, NULL));
			json_object_set_new(run, "state_history",
					    json_loads(tr_db_col_text(db, st, 17), 0, NULL));
			json_object_set_new(run, "error", json_string(tr_db_col_text(db, st, 18)));
			json_object_set_new(run, "source", json_string(tr_db_col_text(db, st, 19)));
			json_object_set_new(run, "options",
					    json_loads(tr_db_col_text(db, st, 20), 0, NULL));
		}
		tr_db_done(db, st);
	}
	if (!rc && !run)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "no pipeline run '%s'", run_id);
	if (!rc)
		rc = tr_db_prepare(
		    db,
		    "SELECT path, state, attempts, attempt_dir, outputs, message, "
		    "cached, mlflow_run_id, start_ms, end_ms FROM pipeline_tasks WHERE "
		    "run_id = ?",
		    &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, run_id);
		json_t *tasks = json_object_get(run, "tasks");
		while (!rc) {
			rc = tr_db_step(db, st, &row, err);
			if (rc || !row)
				break;
			json_t *t = json_pack(
			    "{s:s,s:I,s:s,s:s,s:b}", "state", tr_db_col_text(db, st, 1), "attempts",
			    (json_int_t)tr_db_col_int64(db, st, 2), "attempt_dir",
			    tr_db_col_text(db, st, 3), "message", tr_db_col_text(db, st, 5),
			    "cached", tr_db_col_int64(db, st, 6) != 0);
			if (!tr_db_col_is_null(db, st, 4))
				json_object_set_new(t, "outputs",
						    json_loads(tr_db_col_text(db, st, 4), 0, NULL));
			if (*tr_db_col_text(db, st, 7))
				json_object_set_new(t, "mlflow_run_id",
						    json_string(tr_db_col_text(db, st, 7)));
			if (!tr_db_col_is_null(db, st, 8))
				json_object_set_new(t, "start_ms",
						    json_integer(tr_db_col_int64(db, st, 8)));
			if (!tr_db_col_is_null(db, st, 9))
				json_object_set_new(t, "end_ms",
						    json_integer(tr_db_col_int64(db, st, 9)));
			json_object_set_new(tasks, tr_db_col_text(db, st, 0), t);
		}
		tr_db_done(db, st);
	}
	store_reader_put(s, db);
	if (rc) {
		json_decref(run);
		return rc;
	}
	*out = run;
	return TR_OK;
}

/* ---- runs submitted to the server ---------------------------------------------- */

static bool terminal_state(const char *st)
{
	return !strcmp(st, "SUCCEEDED") || !strcmp(st, "FAILED") || !strcmp(st, "CANCELED") ||
	       !strcmp(st, "SKIPPED");
}

/* MLflow's run status for a pipeline run's state. */
static const char *mlflow_status(const char *st)
{
	if (!strcmp(st, "SUCCEEDED") || !strcmp(st, "SKIPPED"))
		return "FINISHED";
	if (!strcmp(st, "FAILED"))
		return "FAILED";
	if (!strcmp(st, "CANCELED"))
		return "KILLED";
	return "RUNNING";
}

enum tr_err tr_store_pipeline_run_submit(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *display;
	enum tr_err rc = tr_json_req_str(w->args, "display_name", &display, err);
	if (rc)
		return rc;
	if (!*display)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "The run name is empty");
	/* the parent MLflow run first: its id is the pipeline run's */
	json_t *tags = json_object_get(w->args, "tags");
	struct tr_write inner = {0};
	inner.args = json_pack("{s:s,s:s,s:o,s:s}", "experiment_id",
			       str_or(w->args, "experiment_id", "0"), "run_name", display, "tags",
			       json_is_array(tags) ? json_incref(tags) : json_array(), "user_id",
			       str_or(w->args, "user_id", ""));
	rc = tr_store_run_create(tx, &inner, err);
	json_decref(inner.args);
	const char *id =
	    rc ? NULL
	       : json_string_value(json_object_get(
		     json_object_get(json_object_get(inner.result, "run"), "info"), "run_id"));
	if (!rc && !id)
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "the run was created without an id");
	char run_id[64] = "";
	if (!rc)
		snprintf(run_id, sizeof(run_id), "%s", id);
	json_decref(inner.result);
	tr_buf_release(&inner.err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_run/%s", run_id);
	json_t *params = json_object_get(w->args, "params");
	json_t *rtc = json_object_get(w->args, "runtime_config");
	json_t *opts = json_object_get(w->args, "options");
	char *ptext = dump_object(params, JSON_COMPACT | JSON_SORT_KEYS);
	char *rtext = dump_object(rtc, JSON_COMPACT | JSON_SORT_KEYS);
	char *otext = dump_object(opts, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *hist =
	    json_pack("[{s:I,s:s}]", "update_ms", (json_int_t)tx->now_ms, "state", "PENDING");
	char *htext = json_dumps(hist, JSON_COMPACT);
	json_decref(hist);
	struct tr_buf root = TR_BUF_INIT;
	tr_buf_appendf(&root, "%s", str_or(w->args, "root", ""));
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO pipeline_runs (run_id, name, spec_path, spec_sha256, params, "
		       "root, state, created_ms, experiment_id, display_name, description, "
		       "spec_text, pipeline_id, pipeline_version_id, recurring_run_id, "
		       "runtime_config, state_history, source, options) VALUES "
		       "(?,?,'',?,?,?,'PENDING',?,?,?,?,?,?,?,?,?,?,'server',?)",
		       "tttttitttttttttt", run_id, str_or(w->args, "name", ""),
		       str_or(w->args, "spec_sha256", ""), ptext, tr_buf_str(&root), tx->now_ms,
		       str_or(w->args, "experiment_id", "0"), display,
		       str_or(w->args, "description", ""), str_or(w->args, "spec_text", ""),
		       str_or(w->args, "pipeline_id", ""),
		       str_or(w->args, "pipeline_version_id", ""),
		       str_or(w->args, "recurring_run_id", ""), rtext, htext, otext);
	free(ptext);
	free(rtext);
	free(otext);
	free(htext);
	tr_buf_release(&root);
	if (!rc)
		w->result = json_pack("{s:s}", "run_id", run_id);
	return rc;
}

enum tr_err tr_store_pipeline_run_update(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_req_str(w->args, "run_id", &id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_run/%.140s", id);
	struct tr_db_stmt *st;
	bool row = false;
	char *hist_text = NULL, *cur = NULL;
	rc = tr_db_prepare(
	    tx->db, "SELECT state, state_history FROM pipeline_runs WHERE run_id = ?", &st, err);
	if (!rc) {
		tr_db_bind_text(tx->db, st, 1, id);
		rc = tr_db_step(tx->db, st, &row, err);
		if (!rc && row) {
			cur = tr_xstrdup(tr_db_col_text(tx->db, st, 0));
			hist_text = tr_xstrdup(tr_db_col_text(tx->db, st, 1));
		}
		tr_db_done(tx->db, st);
	}
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run %s not found", id);
	const char *state = json_string_value(json_object_get(w->args, "state"));
	if (!rc && state && strcmp(state, cur)) {
		json_t *hist = json_loads(hist_text, 0, NULL);
		if (!json_is_array(hist)) {
			json_decref(hist);
			hist = json_array();
		}
		json_array_append_new(hist, json_pack("{s:I,s:s}", "update_ms",
						      (json_int_t)tx->now_ms, "state", state));
		char *h = json_dumps(hist, JSON_COMPACT);
		json_decref(hist);
		bool fin = terminal_state(state);
		if (fin)
			rc = tr_db_run(tx->db, err,
				       "UPDATE pipeline_runs SET state = ?, state_history = ?, "
				       "finished_ms = ? WHERE run_id = ?",
				       "ttit", state, h, tx->now_ms, id);
		else
			rc = tr_db_run(tx->db, err,
				       "UPDATE pipeline_runs SET state = ?, state_history = ?, "
				       "finished_ms = NULL WHERE run_id = ?",
				       "ttt", state, h, id);
		free(h);
		/* the parent MLflow run follows */
		if (!rc && fin)
			rc =
			    tr_db_run(tx->db, err,
				      "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
				      "tit", mlflow_status(state), tx->now_ms, id);
		else if (!rc)
			rc = tr_db_run(
			    tx->db, err,
			    "UPDATE runs SET status = ?, end_time = NULL WHERE run_uuid = ?", "tt",
			    mlflow_status(state), id);
	}
	const char *e = json_string_value(json_object_get(w->args, "error"));
	if (!rc && e)
		rc = tr_db_run(tx->db, err, "UPDATE pipeline_runs SET error = ? WHERE run_id = ?",
			       "tt", e, id);
	const char *ss = json_string_value(json_object_get(w->args, "storage_state"));
	if (!rc && ss)
		rc = tr_db_run(tx->db, err,
			       "UPDATE pipeline_runs SET storage_state = ? WHERE run_id = ?", "tt",
			       ss, id);
	free(cur);
	free(hist_text);
	return rc;
}

enum tr_err tr_store_pipeline_run_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_req_str(w->args, "run_id", &id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "pipeline_run/%.140s", id);
	rc = tr_db_run(tx->db, err, "DELETE FROM pipeline_runs WHERE run_id = ?", "t", id);
	if (!rc && !tr_db_changes(tx->db))
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run %s not found", id);
	if (!rc)
		rc = tr_db_run(tx->db, err, "DELETE FROM pipeline_tasks WHERE run_id = ?", "t", id);
	/* its MLflow runs go with it, as a deleted MLflow run would (gc purges them later) */
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
			       "WHERE lifecycle_stage = 'active' AND (run_uuid = ? OR run_uuid IN "
			       "(SELECT run_uuid FROM tags WHERE key = 'mlflow.parentRunId' AND "
			       "value = ?))",
			       "itt", tx->now_ms, id, id);
	return rc;
}

enum tr_err tr_store_pipeline_runs_unfinished(struct tr_store *s, json_t **out, struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	json_t *ids = json_array();
	st = NULL;
	rc = tr_db_prepare(db,
			   "SELECT run_id FROM pipeline_runs WHERE source = 'server' AND state IN "
			   "('PENDING', 'RUNNING', 'CANCELING') ORDER BY created_ms, run_id",
			   &st, err);
	while (!rc) {
		bool row;
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(ids, json_string(tr_db_col_text(db, st, 0)));
	}
	if (st)
		tr_db_done(db, st);
	store_reader_put(s, db);
	if (rc) {
		json_decref(ids);
		return rc;
	}
	*out = ids;
	return TR_OK;
}
