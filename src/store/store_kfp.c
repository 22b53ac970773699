/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubeflow Pipelines objects in the store: pipelines and their versions
 * (kfp_pipelines, kfp_pipeline_versions; a version keeps the uploaded YAML
 * verbatim in spec_text), and the KFP view of MLflow experiments (the same
 * rows, listed with KFP's filters and a total count).
 *
 * Lists take a struct tr_store_list built by the KFP API's list parser: its
 * WHERE and ORDER BY text name only the columns the API's field tables allow,
 * and every value is bound, never spliced. Rows come back as plain objects of
 * column values; the API renders them in KFP's wire shape.
 *
 * Deleting a pipeline deletes its versions in the same write (cascade).
 *
 * Recurring runs (kfp_recurring_runs) keep their trigger as given and, while
 * enabled, the time of their next fire (NULL when disabled or done); the
 * scheduler (pipeline/schedule.c) reads the due ones and records each fire.
 */
#include "core/alloc.h"
#include "core/ids.h"
#include "core/json.h"
#include "pipeline/cron.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define PIPE_COLS "pipeline_id, name, display_name, description, created_ms, tags"
#define VER_COLS                                                                                   \
	"pipeline_version_id, pipeline_id, name, display_name, description, created_ms, "          \
	"code_source_url, tags"
#define EXP_KFP_COLS                                                                               \
	"e.experiment_id, e.name, e.lifecycle_stage, e.creation_time, (SELECT t.value FROM "       \
	"experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = "                   \
	"'mlflow.note.content')"

typedef json_t *(*row_fn)(struct tr_db *db, struct tr_db_stmt *st);

/* A UUID (8-4-4-4-12 lowercase hex) into OUT, as KFP's ids are. */
static void new_uuid(char out[37])
{
	char hex[33];
	tr_ids_run_id(hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static json_t *tags_col(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	json_t *t = json_loads(tr_db_col_text(db, st, col), 0, NULL);
	if (!json_is_object(t)) {
		json_decref(t);
		t = json_object();
	}
	return t;
}

static json_t *pipeline_row(struct tr_db *db, struct tr_db_stmt *st)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}", "pipeline_id", tr_db_col_text(db, st, 0),
			 "name", tr_db_col_text(db, st, 1), "display_name",
			 tr_db_col_text(db, st, 2), "description", tr_db_col_text(db, st, 3),
			 "created_ms", (json_int_t)tr_db_col_int64(db, st, 4), "tags",
			 tags_col(db, st, 5));
}

static json_t *version_row(struct tr_db *db, struct tr_db_stmt *st)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:o}", "pipeline_version_id",
			 tr_db_col_text(db, st, 0), "pipeline_id", tr_db_col_text(db, st, 1),
			 "name", tr_db_col_text(db, st, 2), "display_name",
			 tr_db_col_text(db, st, 3), "description", tr_db_col_text(db, st, 4),
			 "created_ms", (json_int_t)tr_db_col_int64(db, st, 5), "code_source_url",
			 tr_db_col_text(db, st, 6), "tags", tags_col(db, st, 7));
}

static json_t *experiment_row(struct tr_db *db, struct tr_db_stmt *st)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)tr_db_col_int64(db, st, 0));
	return json_pack("{s:s,s:s,s:s,s:I,s:s}", "experiment_id", id, "name",
			 tr_db_col_text(db, st, 1), "lifecycle_stage", tr_db_col_text(db, st, 2),
			 "creation_time", (json_int_t)tr_db_col_int64(db, st, 3), "description",
			 tr_db_col_text(db, st, 4));
}

/* Binds the values of BINDS (strings, integers, reals) from *IDX on. */
static void bind_values(struct tr_db *db, struct tr_db_stmt *st, json_t *binds, int *idx)
{
	size_t i;
	json_t *v;
	json_array_foreach(binds, i, v)
	{
		if (json_is_integer(v))
			tr_db_bind_int64(db, st, (*idx)++, json_integer_value(v));
		else if (json_is_real(v))
			tr_db_bind_double(db, st, (*idx)++, json_real_value(v));
		else if (json_is_string(v))
			tr_db_bind_text(db, st, (*idx)++, json_string_value(v));
		else
			tr_db_bind_null(db, st, (*idx)++);
	}
}

/*
 * The rows of SELECT COLS FROM FROM WHERE BASE AND (Q->where) in Q's order
 * and page, as a new array in *ROWS, and the count of all matches in *TOTAL.
 * BASE_ARG, when not NULL, is bound to the one '?' in BASE.
 */
static enum tr_err list_rows(struct tr_store *s, const char *cols, const char *from,
			     const char *base, const char *base_arg, const struct tr_store_list *q,
			     row_fn fn, json_t **rows, int64_t *total, struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	struct tr_buf sql = TR_BUF_INIT;
	bool row = false;
	json_t *list = json_array();
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		goto out_free;
	const char *where = q->where && *q->where ? q->where : "1=1";
	tr_buf_appendf(&sql, "SELECT count(*) FROM %s WHERE %s AND (%s)", from, base, where);
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out_put;
	int idx = 1;
	if (base_arg)
		tr_db_bind_text(db, st, idx++, base_arg);
	bind_values(db, st, q->binds, &idx);
	rc = tr_db_step(db, st, &row, err);
	*total = !rc && row ? tr_db_col_int64(db, st, 0) : 0;
	tr_db_done(db, st);
	if (rc)
		goto out_put;
	tr_buf_reset(&sql);
	tr_buf_appendf(&sql, "SELECT %s FROM %s WHERE %s AND (%s) ORDER BY %s LIMIT ? OFFSET ?",
		       cols, from, base, where, q->order_by);
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out_put;
	idx = 1;
	if (base_arg)
		tr_db_bind_text(db, st, idx++, base_arg);
	bind_values(db, st, q->binds, &idx);
	tr_db_bind_int64(db, st, idx++, q->limit);
	tr_db_bind_int64(db, st, idx++, q->offset);
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(list, fn(db, st));
	}
	tr_db_done(db, st);
out_put:
	store_reader_put(s, db);
out_free:
	tr_buf_release(&sql);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*rows = list;
	return TR_OK;
}

/* The one row of SQL (with text KEY1 and, when not NULL, KEY2 bound) through
 * FN into *OUT; RESOURCE_DOES_NOT_EXIST with WHAT when there is none. */
static enum tr_err get_row(struct tr_db *db, const char *sql, const char *key1, const char *key2,
			   row_fn fn, const char *what, json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row = false;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, key1);
	if (key2)
		tr_db_bind_text(db, st, 2, key2);
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		*out = fn(db, st);
	tr_db_done(db, st);
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "%s '%s' not found", what, key1);
	return rc;
}

/* ---- experiments ---- */

enum tr_err tr_store_kfp_experiment_list(struct tr_store *s, const struct tr_store_list *q,
					 json_t **rows, int64_t *total, struct tr_buf *err)
{
	return list_rows(s, EXP_KFP_COLS, "experiments e", "1=1", NULL, q, experiment_row, rows,
			 total, err);
}

/* Experiment ID's row on DB into *OUT. Only the canonical decimal form names
 * an experiment ("01" or "1x" do not), and the lookup uses the primary key. */
static enum tr_err experiment_row_get(struct tr_db *db, const char *id, json_t **out,
				      struct tr_buf *err)
{
	size_t n = id ? strlen(id) : 0;
	bool ok = n > 0 && n <= 18 && strspn(id, "0123456789") == n && (id[0] != '0' || n == 1);
	if (!ok)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "experiment '%.64s' not found",
			       id ? id : "");
	struct tr_db_stmt *st;
	bool row = false;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT " EXP_KFP_COLS " FROM experiments e WHERE e.experiment_id = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_int64(db, st, 1, strtoll(id, NULL, 10));
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		*out = experiment_row(db, st);
	tr_db_done(db, st);
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "experiment '%s' not found", id);
	return rc;
}

enum tr_err tr_store_kfp_experiment_get(struct tr_store *s, const char *id, json_t **out,
					struct tr_buf *err)
{
	struct tr_db *db;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = experiment_row_get(db, id, out, err);
	store_reader_put(s, db);
	return rc;
}

enum tr_err tr_store_kfp_experiment_create(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	enum tr_err rc = tr_store_experiment_create(tx, w, err);
	if (rc)
		return rc;
	const char *id = json_string_value(json_object_get(w->result, "experiment_id"));
	json_t *e = NULL;
	rc = experiment_row_get(tx->db, id, &e, err);
	json_decref(w->result);
	w->result = e;
	return rc;
}

/* MLflow's delete (TO_DELETED) or restore, a no-op when the experiment is
 * already where it would go. */
static enum tr_err experiment_move(struct tr_store_tx *tx, struct tr_write *w, bool to_deleted,
				   struct tr_buf *err)
{
	const char *id;
	json_t *e = NULL;
	enum tr_err rc = tr_json_req_str(w->args, "experiment_id", &id, err);
	if (!rc)
		rc = store_experiment_load(tx->db, id, &e, err);
	if (rc)
		return rc;
	bool deleted = !strcmp(json_string_value(json_object_get(e, "lifecycle_stage")), "deleted");
	json_decref(e);
	snprintf(w->resource, sizeof(w->resource), "experiment/%.140s", id);
	if (deleted == to_deleted)
		return TR_OK;
	return to_deleted ? tr_store_experiment_delete(tx, w, err)
			  : tr_store_experiment_restore(tx, w, err);
}

enum tr_err tr_store_kfp_experiment_delete(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	return experiment_move(tx, w, true, err);
}

enum tr_err tr_store_kfp_experiment_restore(struct tr_store_tx *tx, struct tr_write *w,
					    struct tr_buf *err)
{
	return experiment_move(tx, w, false, err);
}

/* ---- pipelines and versions ---- */

static const char *arg_str(json_t *args, const char *key)
{
	const char *v = json_string_value(json_object_get(args, key));
	return v ? v : "";
}

/* Inserts version VID of pipeline PID from ARGS (name, display_name,
 * description, spec_text, code_source_url, tags). */
static enum tr_err insert_version(struct tr_store_tx *tx, json_t *args, const char *pid,
				  const char *vid, struct tr_buf *err)
{
	json_t *tags = json_object_get(args, "tags");
	char *ttext = json_is_object(tags) ? json_dumps(tags, JSON_COMPACT) : tr_xstrdup("{}");
	const char *name = arg_str(args, "name");
	enum tr_err rc = tr_db_run(
	    tx->db, err,
	    "INSERT INTO kfp_pipeline_versions (pipeline_version_id, pipeline_id, name, "
	    "display_name, description, created_ms, spec_text, code_source_url, tags) VALUES "
	    "(?,?,?,?,?,?,?,?,?)",
	    "tttttittt", vid, pid, name,
	    *arg_str(args, "display_name") ? arg_str(args, "display_name") : name,
	    arg_str(args, "description"), tx->now_ms, arg_str(args, "spec_text"),
	    arg_str(args, "code_source_url"), ttext);
	free(ttext);
	if (rc == TR_ERR_RESOURCE_ALREADY_EXISTS)
		rc = tr_fail(err, rc, "pipeline version named '%s' already exists", name);
	return rc;
}

enum tr_err tr_store_kfp_pipeline_upload(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *name;
	enum tr_err rc = tr_json_req_str(w->args, "name", &name, err);
	if (rc)
		return rc;
	char pid[37], vid[37];
	new_uuid(pid);
	new_uuid(vid);
	snprintf(w->resource, sizeof(w->resource), "kfp_pipeline/%s", pid);
	json_t *tags = json_object_get(w->args, "tags");
	char *ttext = json_is_object(tags) ? json_dumps(tags, JSON_COMPACT) : tr_xstrdup("{}");
	const char *display =
	    *arg_str(w->args, "display_name") ? arg_str(w->args, "display_name") : name;
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO kfp_pipelines (pipeline_id, name, display_name, description, "
		       "created_ms, tags) VALUES (?,?,?,?,?,?)",
		       "ttttit", pid, name, display, arg_str(w->args, "description"), tx->now_ms,
		       ttext);
	free(ttext);
	if (rc == TR_ERR_RESOURCE_ALREADY_EXISTS)
		return tr_fail(err, rc, "pipeline named '%s' already exists", name);
	if (!rc)
		rc = insert_version(tx, w->args, pid, vid, err);
	if (!rc)
		rc =
		    get_row(tx->db, "SELECT " PIPE_COLS " FROM kfp_pipelines WHERE pipeline_id = ?",
			    pid, NULL, pipeline_row, "pipeline", &w->result, err);
	return rc;
}

enum tr_err tr_store_kfp_version_upload(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err)
{
	const char *pid, *name;
	json_t *p = NULL;
	enum tr_err rc = tr_json_req_str(w->args, "pipeline_id", &pid, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "name", &name, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_pipeline/%.140s", pid);
	rc = get_row(tx->db, "SELECT " PIPE_COLS " FROM kfp_pipelines WHERE pipeline_id = ?", pid,
		     NULL, pipeline_row, "pipeline", &p, err);
	json_decref(p);
	if (rc)
		return rc;
	char vid[37];
	new_uuid(vid);
	rc = insert_version(tx, w->args, pid, vid, err);
	if (!rc)
		rc = get_row(tx->db,
			     "SELECT " VER_COLS
			     " FROM kfp_pipeline_versions WHERE pipeline_version_id = ?",
			     vid, NULL, version_row, "pipeline version", &w->result, err);
	return rc;
}

enum tr_err tr_store_kfp_pipeline_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *pid;
	enum tr_err rc = tr_json_req_str(w->args, "pipeline_id", &pid, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_pipeline/%.140s", pid);
	rc = tr_db_run(tx->db, err, "DELETE FROM kfp_pipelines WHERE pipeline_id = ?", "t", pid);
	if (!rc && tr_db_changes(tx->db) == 0)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "pipeline '%s' not found", pid);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM kfp_pipeline_versions WHERE pipeline_id = ?", "t", pid);
	return rc;
}

enum tr_err tr_store_kfp_version_delete(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err)
{
	const char *pid, *vid;
	enum tr_err rc = tr_json_req_str(w->args, "pipeline_id", &pid, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "pipeline_version_id", &vid, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_pipeline_version/%.130s", vid);
	rc = tr_db_run(tx->db, err,
		       "DELETE FROM kfp_pipeline_versions WHERE pipeline_id = ? AND "
		       "pipeline_version_id = ?",
		       "tt", pid, vid);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "pipeline version '%s' of pipeline '%s' not found", vid, pid);
	return rc;
}

enum tr_err tr_store_kfp_pipeline_list(struct tr_store *s, const struct tr_store_list *q,
				       json_t **rows, int64_t *total, struct tr_buf *err)
{
	return list_rows(s, PIPE_COLS, "kfp_pipelines", "1=1", NULL, q, pipeline_row, rows, total,
			 err);
}

enum tr_err tr_store_kfp_version_list(struct tr_store *s, const char *pipeline_id,
				      const struct tr_store_list *q, json_t **rows, int64_t *total,
				      struct tr_buf *err)
{
	return list_rows(s, VER_COLS, "kfp_pipeline_versions", "pipeline_id = ?", pipeline_id, q,
			 version_row, rows, total, err);
}

enum tr_err tr_store_kfp_pipeline_get(struct tr_store *s, const char *id, bool by_name,
				      json_t **out, struct tr_buf *err)
{
	struct tr_db *db;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = get_row(db,
		     by_name ? "SELECT " PIPE_COLS " FROM kfp_pipelines WHERE name = ?"
			     : "SELECT " PIPE_COLS " FROM kfp_pipelines WHERE pipeline_id = ?",
		     id, NULL, pipeline_row, "pipeline", out, err);
	store_reader_put(s, db);
	return rc;
}

enum tr_err tr_store_kfp_version_get(struct tr_store *s, const char *pipeline_id,
				     const char *version_id, json_t **out, struct tr_buf *err)
{
	struct tr_db *db;
	json_t *v = NULL;
	char *spec = NULL;
	enum tr_err rc = tr_store_kfp_version_spec(s, pipeline_id, version_id, &spec, NULL, err);
	if (rc)
		return rc;
	rc = store_reader_get(s, &db, err);
	if (rc)
		goto out;
	rc = get_row(db,
		     "SELECT " VER_COLS " FROM kfp_pipeline_versions WHERE pipeline_version_id = ? "
		     "AND pipeline_id = ?",
		     version_id, pipeline_id, version_row, "pipeline version", &v, err);
	store_reader_put(s, db);
	if (!rc) {
		json_object_set_new(v, "spec_text", json_string(spec));
		*out = v;
	}
out:
	free(spec);
	return rc;
}

enum tr_err tr_store_kfp_version_spec(struct tr_store *s, const char *pipeline_id,
				      const char *version_id, char **spec_text,
				      char **resolved_version_id, struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	bool row = false, latest = !version_id || !*version_id;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = tr_db_prepare(db,
			   latest
			       ? "SELECT spec_text, pipeline_version_id FROM kfp_pipeline_versions "
				 "WHERE pipeline_id = ? ORDER BY created_ms DESC, "
				 "pipeline_version_id DESC LIMIT 1"
			       : "SELECT spec_text, pipeline_version_id FROM kfp_pipeline_versions "
				 "WHERE pipeline_id = ? AND pipeline_version_id = ?",
			   &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, pipeline_id ? pipeline_id : "");
		if (!latest)
			tr_db_bind_text(db, st, 2, version_id);
		rc = tr_db_step(db, st, &row, err);
		if (!rc && row) {
			*spec_text = tr_xstrdup(tr_db_col_text(db, st, 0));
			if (resolved_version_id)
				*resolved_version_id = tr_xstrdup(tr_db_col_text(db, st, 1));
		}
		tr_db_done(db, st);
	}
	store_reader_put(s, db);
	if (!rc && !row)
		rc = latest ? tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
				      "pipeline '%s' not found or has no versions",
				      pipeline_id ? pipeline_id : "")
			    : tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
				      "pipeline version '%s' of pipeline '%s' not found",
				      version_id, pipeline_id ? pipeline_id : "");
	return rc;
}

/* ---- pipeline runs, for KFP's runs list ---- */

static json_t *run_id_row(struct tr_db *db, struct tr_db_stmt *st)
{
	return json_string(tr_db_col_text(db, st, 0));
}

enum tr_err tr_store_kfp_run_list(struct tr_store *s, const char *experiment_id,
				  const struct tr_store_list *q, json_t **ids, int64_t *total,
				  struct tr_buf *err)
{
	return list_rows(s, "run_id", "pipeline_runs",
			 experiment_id ? "experiment_id = ?" : "source = 'server'", experiment_id,
			 q, run_id_row, ids, total, err);
}

/* ---- recurring runs ---- */

#define RR_COLS                                                                                    \
	"recurring_run_id, display_name, description, experiment_id, spec_text, pipeline_id, "     \
	"pipeline_version_id, runtime_config, max_concurrency, trigger_spec, enabled, "            \
	"no_catchup, created_ms, updated_ms, next_fire_ms, last_fire_ms, error"

static json_t *object_col(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	json_t *t = tr_db_col_is_null(db, st, col)
			? NULL
			: json_loads(tr_db_col_text(db, st, col), 0, NULL);
	if (!json_is_object(t)) {
		json_decref(t);
		t = json_object();
	}
	return t;
}

static json_t *recurring_row(struct tr_db *db, struct tr_db_stmt *st)
{
	json_t *r = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:o,s:b,s:b,s:I,s:I,s:I,s:I,s:s}", "recurring_run_id",
	    tr_db_col_text(db, st, 0), "display_name", tr_db_col_text(db, st, 1), "description",
	    tr_db_col_text(db, st, 2), "experiment_id", tr_db_col_text(db, st, 3), "pipeline_id",
	    tr_db_col_text(db, st, 5), "pipeline_version_id", tr_db_col_text(db, st, 6),
	    "runtime_config", object_col(db, st, 7), "max_concurrency",
	    (json_int_t)tr_db_col_int64(db, st, 8), "trigger", object_col(db, st, 9), "enabled",
	    (int)tr_db_col_int64(db, st, 10), "no_catchup", (int)tr_db_col_int64(db, st, 11),
	    "created_ms", (json_int_t)tr_db_col_int64(db, st, 12), "updated_ms",
	    (json_int_t)tr_db_col_int64(db, st, 13), "next_fire_ms",
	    (json_int_t)(tr_db_col_is_null(db, st, 14) ? 0 : tr_db_col_int64(db, st, 14)),
	    "last_fire_ms",
	    (json_int_t)(tr_db_col_is_null(db, st, 15) ? 0 : tr_db_col_int64(db, st, 15)), "error",
	    tr_db_col_text(db, st, 16));
	if (!tr_db_col_is_null(db, st, 4))
		json_object_set_new(r, "spec_text", json_string(tr_db_col_text(db, st, 4)));
	return r;
}

static enum tr_err recurring_load(struct tr_db *db, const char *id, json_t **out,
				  struct tr_buf *err)
{
	return get_row(db, "SELECT " RR_COLS " FROM kfp_recurring_runs WHERE recurring_run_id = ?",
		       id, NULL, recurring_row, "recurring run", out, err);
}

/* The next fire time of TRIGGER after NOW_MS (0: none). */
static enum tr_err next_fire(json_t *trigger, int64_t now_ms, int64_t *next, struct tr_buf *err)
{
	return tr_cron_trigger_next(trigger, now_ms, next, err);
}

enum tr_err tr_store_kfp_recurring_create(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	json_t *a = w->args;
	const char *display = json_string_value(json_object_get(a, "display_name"));
	if (!display || !*display)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the recurring run's display_name is empty");
	int64_t maxc = 1;
	bool present = false;
	enum tr_err rc = tr_json_int64(a, "max_concurrency", &maxc, &present, err);
	if (rc)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "max_concurrency must be a whole number");
	if (!present)
		maxc = 1;
	if (maxc < 1 || maxc > 10)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "max_concurrency must be between 1 and 10, not %lld",
			       (long long)maxc);
	json_t *trigger = json_object_get(a, "trigger");
	rc = tr_cron_trigger_check(trigger, err);
	if (rc)
		return rc;
	const char *mode = json_string_value(json_object_get(a, "mode"));
	bool enabled = true;
	if (mode && !strcmp(mode, "DISABLE"))
		enabled = false;
	else if (mode && *mode && strcmp(mode, "ENABLE") && strcmp(mode, "MODE_UNSPECIFIED"))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "mode '%.40s' is not ENABLE or DISABLE", mode);
	bool no_catchup = false;
	rc = tr_json_bool(a, "no_catchup", &no_catchup, &present, err);
	if (rc)
		return rc;
	/* the experiment must exist */
	const char *exp = arg_str(a, "experiment_id");
	if (!*exp)
		exp = "0";
	json_t *e = NULL;
	rc = experiment_row_get(tx->db, exp, &e, err);
	json_decref(e);
	if (rc)
		return rc;
	/* the pipeline: an inline spec, or a version that exists now */
	json_t *spec = json_object_get(a, "spec_text");
	const char *pid = arg_str(a, "pipeline_id"), *vid = arg_str(a, "pipeline_version_id");
	if (json_is_string(spec) && *json_string_value(spec)) {
		pid = vid = "";
	} else if (*pid) {
		spec = NULL;
		struct tr_db_stmt *st;
		bool row = false;
		rc = tr_db_prepare(
		    tx->db,
		    *vid ? "SELECT 1 FROM kfp_pipeline_versions WHERE pipeline_id = ? "
			   "AND pipeline_version_id = ?"
			 : "SELECT 1 FROM kfp_pipeline_versions WHERE pipeline_id = ?",
		    &st, err);
		if (rc)
			return rc;
		tr_db_bind_text(tx->db, st, 1, pid);
		if (*vid)
			tr_db_bind_text(tx->db, st, 2, vid);
		rc = tr_db_step(tx->db, st, &row, err);
		tr_db_done(tx->db, st);
		if (rc)
			return rc;
		if (!row)
			return *vid ? tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
					      "pipeline version '%s' of pipeline '%s' not found",
					      vid, pid)
				    : tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
					      "pipeline '%s' not found or has no versions", pid);
	} else {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "a recurring run needs a pipeline_spec or a "
			       "pipeline_version_reference");
	}
	int64_t next = 0;
	if (enabled) {
		rc = next_fire(trigger, tx->now_ms, &next, err);
		if (rc)
			return rc;
	}
	json_t *rtc = json_object_get(a, "runtime_config");
	char *rtext = json_is_object(rtc) ? json_dumps(rtc, JSON_COMPACT) : tr_xstrdup("{}");
	char *ttext = json_dumps(trigger, JSON_COMPACT);
	char id[37];
	new_uuid(id);
	snprintf(w->resource, sizeof(w->resource), "kfp_recurring_run/%s", id);
	if (spec)
		rc =
		    tr_db_run(tx->db, err,
			      "INSERT INTO kfp_recurring_runs (recurring_run_id, display_name, "
			      "description, experiment_id, spec_text, pipeline_id, "
			      "pipeline_version_id, runtime_config, max_concurrency, trigger_spec, "
			      "enabled, no_catchup, created_ms, updated_ms, next_fire_ms) VALUES "
			      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULLIF(?,0))",
			      "ttttttttitiiiii", id, display, arg_str(a, "description"), exp,
			      json_string_value(spec), pid, vid, rtext, maxc, ttext,
			      (int64_t)enabled, (int64_t)no_catchup, tx->now_ms, tx->now_ms, next);
	else
		rc =
		    tr_db_run(tx->db, err,
			      "INSERT INTO kfp_recurring_runs (recurring_run_id, display_name, "
			      "description, experiment_id, spec_text, pipeline_id, "
			      "pipeline_version_id, runtime_config, max_concurrency, trigger_spec, "
			      "enabled, no_catchup, created_ms, updated_ms, next_fire_ms) VALUES "
			      "(?,?,?,?,NULL,?,?,?,?,?,?,?,?,?,NULLIF(?,0))",
			      "tttttttitiiiii", id, display, arg_str(a, "description"), exp, pid,
			      vid, rtext, maxc, ttext, (int64_t)enabled, (int64_t)no_catchup,
			      tx->now_ms, tx->now_ms, next);
	free(rtext);
	free(ttext);
	if (!rc)
		rc = recurring_load(tx->db, id, &w->result, err);
	return rc;
}

/* Enables (ON) or disables a recurring run. Enabling computes the next fire
 * from now: what was missed while disabled is not caught up. */
static enum tr_err recurring_switch(struct tr_store_tx *tx, struct tr_write *w, bool on,
				    struct tr_buf *err)
{
	const char *id;
	json_t *row = NULL;
	enum tr_err rc = tr_json_req_str(w->args, "recurring_run_id", &id, err);
	if (!rc)
		rc = recurring_load(tx->db, id, &row, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_recurring_run/%.130s", id);
	int64_t next = 0;
	if (on)
		rc = next_fire(json_object_get(row, "trigger"), tx->now_ms, &next, err);
	json_decref(row);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE kfp_recurring_runs SET enabled = ?, updated_ms = ?, "
			       "next_fire_ms = NULLIF(?,0) WHERE recurring_run_id = ?",
			       "iiit", (int64_t)on, tx->now_ms, next, id);
	return rc;
}

enum tr_err tr_store_kfp_recurring_enable(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	return recurring_switch(tx, w, true, err);
}

enum tr_err tr_store_kfp_recurring_disable(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	return recurring_switch(tx, w, false, err);
}

enum tr_err tr_store_kfp_recurring_delete(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_req_str(w->args, "recurring_run_id", &id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_recurring_run/%.130s", id);
	rc = tr_db_run(tx->db, err, "DELETE FROM kfp_recurring_runs WHERE recurring_run_id = ?",
		       "t", id);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "recurring run '%s' not found",
			     id);
	return rc;
}

enum tr_err tr_store_kfp_recurring_fired(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *id, *error = NULL;
	int64_t last = 0, next = 0;
	bool present;
	enum tr_err rc = tr_json_req_str(w->args, "recurring_run_id", &id, err);
	if (!rc)
		rc = tr_json_int64(w->args, "last_fire_ms", &last, &present, err);
	if (!rc)
		rc = tr_json_int64(w->args, "next_fire_ms", &next, &present, err);
	if (!rc)
		rc = tr_json_str(w->args, "error", &error, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "kfp_recurring_run/%.130s", id);
	/* a run disabled meanwhile stays without a next fire */
	rc = tr_db_run(tx->db, err,
		       "UPDATE kfp_recurring_runs SET last_fire_ms = NULLIF(?,0), next_fire_ms = "
		       "CASE WHEN enabled = 1 THEN NULLIF(?,0) ELSE next_fire_ms END, error = ? "
		       "WHERE recurring_run_id = ?",
		       "iitt", last, next, error ? error : "", id);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "recurring run '%s' not found",
			     id);
	return rc;
}

enum tr_err tr_store_kfp_recurring_get(struct tr_store *s, const char *id, json_t **out,
				       struct tr_buf *err)
{
	struct tr_db *db;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = recurring_load(db, id ? id : "", out, err);
	store_reader_put(s, db);
	return rc;
}

enum tr_err tr_store_kfp_recurring_list(struct tr_store *s, const char *experiment_id,
					const struct tr_store_list *q, json_t **rows,
					int64_t *total, struct tr_buf *err)
{
	return list_rows(s, RR_COLS, "kfp_recurring_runs",
			 experiment_id ? "experiment_id = ?" : "1=1", experiment_id, q,
			 recurring_row, rows, total, err);
}

enum tr_err tr_store_kfp_recurring_due(struct tr_store *s, int64_t now_ms, json_t **rows,
				       int64_t *earliest_ms, struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	bool row = false;
	json_t *list = json_array();
	*earliest_ms = 0;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		goto out;
	rc = tr_db_prepare(db,
			   "SELECT " RR_COLS " FROM kfp_recurring_runs WHERE enabled = 1 AND "
			   "next_fire_ms IS NOT NULL ORDER BY next_fire_ms, recurring_run_id",
			   &st, err);
	if (rc)
		goto out_put;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		int64_t next = tr_db_col_int64(db, st, 14);
		if (next > now_ms) {
			*earliest_ms = next;
			break;
		}
		json_array_append_new(list, recurring_row(db, st));
	}
	tr_db_done(db, st);
out_put:
	store_reader_put(s, db);
out:
	if (rc) {
		json_decref(list);
		return rc;
	}
	*rows = list;
	return TR_OK;
}

enum tr_err tr_store_kfp_recurring_active(struct tr_store *s, const char *id, int64_t *count,
					  struct tr_buf *err)
{
	struct tr_db *db;
	struct tr_db_stmt *st;
	bool row = false;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc =
	    tr_db_prepare(db,
			  "SELECT count(*) FROM pipeline_runs WHERE recurring_run_id = ? AND state "
			  "IN ('PENDING', 'RUNNING', 'CANCELING')",
			  &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, id);
		rc = tr_db_step(db, st, &row, err);
		*count = !rc && row ? tr_db_col_int64(db, st, 0) : 0;
		tr_db_done(db, st);
	}
	store_reader_put(s, db);
	return rc;
}
