/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pipeline runs in the store: the run, each task's state (written before the
 * scheduler acts on it: "attempt N starting" is committed before the spawn,
 * so a killed run resumes without running a succeeded task again), and the
 * task cache (fingerprint -> recorded outputs).
 */
#include "core/json.h"
#include "store/store_internal.h"

#include <string.h>

static const char *str_or(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : def;
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
	char *ptext = json_dumps(params ? params : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
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
	rc =
	    tr_db_prepare(tx->db,
			  "INSERT INTO pipeline_tasks (run_id, path, state, attempts, attempt_dir, "
			  "outputs, message, fingerprint, cached, start_ms, end_ms) VALUES "
			  "(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id, path) DO UPDATE SET "
			  "state = excluded.state, attempts = excluded.attempts, attempt_dir = "
			  "excluded.attempt_dir, outputs = excluded.outputs, message = "
			  "excluded.message, fingerprint = excluded.fingerprint, cached = "
			  "excluded.cached, start_ms = excluded.start_ms, end_ms = excluded.end_ms",
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
			   "SELECT name, spec_path, spec_sha256, params, root, state, created_ms "
			   "FROM pipeline_runs WHERE run_id = ?",
			   &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, run_id);
		rc = tr_db_step(db, st, &row, err);
		if (!rc && row)
			run = json_pack(
			    "{s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:I,s:{}}", "run_id", run_id, "name",
			    tr_db_col_text(db, st, 0), "spec_path", tr_db_col_text(db, st, 1),
			    "spec_sha256", tr_db_col_text(db, st, 2), "params",
			    json_loads(tr_db_col_text(db, st, 3), 0, NULL), "root",
			    tr_db_col_text(db, st, 4), "state", tr_db_col_text(db, st, 5),
			    "created_ms", (json_int_t)tr_db_col_int64(db, st, 6), "tasks");
		tr_db_done(db, st);
	}
	if (!rc && !run)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "no pipeline run '%s'", run_id);
	if (!rc)
		rc = tr_db_prepare(db,
				   "SELECT path, state, attempts, attempt_dir, outputs, message, "
				   "cached FROM pipeline_tasks WHERE run_id = ?",
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
