/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow 3 logged models: create (PENDING), finalize (READY or
 * UPLOAD_FAILED), get, soft delete, tags, params, search; and runs/outputs,
 * which links a model to the run that produced it. A model's files live
 * under <experiment artifact location>/models/<model_id>/artifacts and are
 * uploaded through the artifact proxy like any run's.
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/ids.h"
#include "core/json.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

#define LM_COLS                                                                                    \
	"lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp, "    \
	"lm.last_updated_timestamp, lm.status, lm.model_type, lm.source_run_id, "                  \
	"lm.status_message"

static const char *const statuses[] = {"LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING",
				       "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"};

/* A LoggedModelStatus by name (any case) or number; NULL when unknown. */
static const char *status_name(json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return i >= 0 && i < 4 ? statuses[i] : NULL;
	}
	const char *s = json_string_value(v);
	for (size_t i = 0; s && i < 4; i++)
		if (!strcasecmp(s, statuses[i]) || (s[0] == (char)('0' + i) && !s[1]))
			return statuses[i];
	return NULL;
}

/* The metrics logged with this model id (the latest point per key and dataset). */
static enum tr_err model_metrics(struct tr_db *db, const char *id, json_t *list, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(
	    db,
	    "SELECT key, value, is_nan, timestamp, step, run_id, dataset_name, dataset_digest FROM "
	    "logged_model_metrics WHERE model_id = ? ORDER BY key, step, timestamp",
	    &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, id);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_t *m = json_pack(
		    "{s:s,s:o,s:I,s:I,s:s,s:s}", "key", tr_db_col_text(db, st, 0), "value",
		    tr_json_from_double(tr_db_col_int64(db, st, 2) ? NAN
								   : tr_db_col_double(db, st, 1)),
		    "timestamp", (json_int_t)tr_db_col_int64(db, st, 3), "step",
		    (json_int_t)tr_db_col_int64(db, st, 4), "run_id", tr_db_col_text(db, st, 5),
		    "model_id", id);
		const char *dn = tr_db_col_text(db, st, 6), *dd = tr_db_col_text(db, st, 7);
		if (dn && *dn)
			tr_json_put_str(m, "dataset_name", dn);
		if (dd && *dd)
			tr_json_put_str(m, "dataset_digest", dd);
		json_array_append_new(list, m);
	}
	tr_db_done(db, st);
	return rc;
}

/* The model versions registered from this model: [{name, version}]. */
static enum tr_err registrations(struct tr_db *db, const char *id, json_t *list, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT name, version FROM model_versions WHERE model_id = ? "
			  "AND current_stage <> 'Deleted_Internal' ORDER BY name, version",
			  &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, id);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		char ver[24];
		snprintf(ver, sizeof(ver), "%lld", (long long)tr_db_col_int64(db, st, 1));
		json_array_append_new(list, json_pack("{s:s,s:s}", "name",
						      tr_db_col_text(db, st, 0), "version", ver));
	}
	tr_db_done(db, st);
	return rc;
}

/* A LoggedModel {info, data} from a row of LM_COLS (a new object), with
 * empty tags, registrations, params and metrics that lm_fill() loads. */
static json_t *lm_from_row(struct tr_db *db, struct tr_db_stmt *st)
{
	char exp[24];
	snprintf(exp, sizeof(exp), "%lld", (long long)tr_db_col_int64(db, st, 1));
	json_t *info =
	    json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "model_id", tr_db_col_text(db, st, 0),
		      "experiment_id", exp, "name", tr_db_col_text(db, st, 2), "artifact_uri",
		      tr_db_col_text(db, st, 3), "creation_timestamp_ms",
		      (json_int_t)tr_db_col_int64(db, st, 4), "last_updated_timestamp_ms",
		      (json_int_t)tr_db_col_int64(db, st, 5), "status", tr_db_col_text(db, st, 6));
	static const struct {
		int col;
		const char *key;
	} optional[] = {{7, "model_type"}, {8, "source_run_id"}, {9, "status_message"}};
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		const char *v = tr_db_col_text(db, st, optional[i].col);
		if (v && *v)
			tr_json_put_str(info, optional[i].key, v);
	}
	json_t *tags = json_array(), *regs = json_array(), *params = json_array(),
	       *metrics = json_array();
	json_object_set_new(info, "tags", tags);
	json_object_set_new(info, "registrations", regs);
	json_t *model = json_pack("{s:o,s:{s:o,s:o}}", "info", info, "data", "params", params,
				  "metrics", metrics);
	return model;
}

/* Loads the rest of MODEL (built by lm_from_row) once its statement is done. */
static enum tr_err lm_fill(struct tr_db *db, json_t *model, struct tr_buf *err)
{
	json_t *info = json_object_get(model, "info"), *data = json_object_get(model, "data");
	const char *id = json_string_value(json_object_get(info, "model_id"));
	enum tr_err rc =
	    store_kv_rows(db,
			  "SELECT key, value FROM logged_model_tags WHERE model_id = ? "
			  "ORDER BY key",
			  id, -1, json_object_get(info, "tags"), err);
	if (!rc)
		rc = registrations(db, id, json_object_get(info, "registrations"), err);
	if (!rc)
		rc = store_kv_rows(db,
				   "SELECT key, value FROM logged_model_params WHERE model_id = ? "
				   "ORDER BY key",
				   id, -1, json_object_get(data, "params"), err);
	if (!rc)
		rc = model_metrics(db, id, json_object_get(data, "metrics"), err);
	return rc;
}

static enum tr_err lm_load(struct tr_db *db, const char *id, json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT " LM_COLS " FROM logged_models lm WHERE lm.model_id = ? "
			  "AND lm.lifecycle_stage = 'active'",
			  &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, id);
	json_t *m = NULL;
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		m = lm_from_row(db, st);
	tr_db_done(db, st);
	if (!rc && !m)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "Logged model with ID '%.64s' not found.", id);
	if (!rc && out)
		rc = lm_fill(db, m, err);
	if (rc || !out) {
		json_decref(m);
		return rc;
	}
	*out = m;
	return TR_OK;
}

static enum tr_err arg_model_id(json_t *args, const char **id, struct tr_buf *err)
{
	return tr_json_req_str(args, "model_id", id, err);
}

enum tr_err tr_store_logged_model_get(struct tr_store *s, json_t *args, json_t **out,
				      struct tr_buf *err)
{
	const char *id;
	json_t *m = NULL;
	struct tr_db *db;
	enum tr_err rc = arg_model_id(args, &id, err);
	if (rc)
		return rc;
	rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = lm_load(db, id, &m, err);
	store_reader_put(s, db);
	if (!rc)
		*out = json_pack("{s:o}", "model", m);
	return rc;
}

/* ---- writes ------------------------------------------------------------ */

static enum tr_err put_kvs(struct tr_store_tx *tx, const char *sql, const char *id, json_t *list,
			   const char *what, struct tr_buf *err)
{
	size_t i;
	json_t *t;
	enum tr_err rc = TR_OK;
	json_array_foreach(list, i, t)
	{
		const char *k, *v;
		rc = store_kv_parse(t, what, &k, &v, err);
		if (!rc)
			rc = !strcmp(what, "tag") ? tr_validate_model_tag(k, v, err)
						  : tr_validate_value_len("Param value", k, v,
									  TR_MAX_PARAM_VALUE, err);
		if (!rc)
			rc = tr_db_run(tx->db, err, sql, "ttt", id, k, v);
		if (rc)
			break;
	}
	return rc;
}

#define PUT_TAG_SQL                                                                                \
	"INSERT INTO logged_model_tags (model_id, key, value) VALUES (?,?,?) ON CONFLICT "         \
	"(model_id, key) DO UPDATE SET value = excluded.value"
#define PUT_PARAM_SQL                                                                              \
	"INSERT INTO logged_model_params (model_id, key, value) VALUES (?,?,?) ON CONFLICT "       \
	"(model_id, key) DO UPDATE SET value = excluded.value"

static void lm_resource(struct tr_write *w, const char *id)
{
	snprintf(w->resource, sizeof(w->resource), "logged_model/%.140s", id);
}

static enum tr_err lm_result(struct tr_store_tx *tx, struct tr_write *w, const char *id,
			     struct tr_buf *err)
{
	json_t *m = NULL;
	enum tr_err rc = lm_load(tx->db, id, &m, err);
	if (!rc)
		w->result = json_pack("{s:o}", "model", m);
	return rc;
}

enum tr_err tr_store_logged_model_create(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *exp_id, *name, *model_type, *run_id;
	json_t *exp = NULL, *params = NULL, *tags = NULL;
	char id[40] = "m-", gen_name[64];
	tr_ids_run_id(id + 2);
	enum tr_err rc = tr_json_req_str(w->args, "experiment_id", &exp_id, err);
	if (!rc)
		rc = tr_json_str(w->args, "name", &name, err);
	if (!rc)
		rc = tr_json_str(w->args, "model_type", &model_type, err);
	if (!rc)
		rc = tr_json_str(w->args, "source_run_id", &run_id, err);
	if (!rc)
		rc = tr_json_array(w->args, "params", &params, err);
	if (!rc)
		rc = tr_json_array(w->args, "tags", &tags, err);
	if (!rc && name && *name)
		rc = tr_validate_value_len("Logged model name", NULL, name, 500, err);
	if (!rc && run_id && *run_id) {
		rc = tr_validate_run_id(run_id, err);
		if (!rc)
			rc = store_run_check_active(tx->db, run_id, err);
	}
	if (!rc)
		rc = store_experiment_load(tx->db, exp_id, &exp, err);
	if (!rc && strcmp(json_string_value(json_object_get(exp, "lifecycle_stage")), "active"))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "The experiment %s must be in the 'active' state to create a logged "
			     "model.",
			     exp_id);
	if (rc)
		goto out;
	lm_resource(w, id);
	if (!name || !*name) {
		tr_ids_run_name(gen_name, sizeof(gen_name));
		name = gen_name;
	}
	struct tr_buf loc = TR_BUF_INIT;
	tr_buf_appendf(&loc, "%s/models/%s/artifacts",
		       json_string_value(json_object_get(exp, "artifact_location")), id);
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO logged_models (model_id, experiment_id, name, "
		       "artifact_location, creation_timestamp, last_updated_timestamp, status, "
		       "model_type, source_run_id) VALUES (?,?,?,?,?,?,'LOGGED_MODEL_PENDING',?,?)",
		       "tittiitt", id, (int64_t)strtoll(exp_id, NULL, 10), name, tr_buf_str(&loc),
		       tx->now_ms, tx->now_ms, model_type ? model_type : "", run_id ? run_id : "");
	tr_buf_release(&loc);
	if (!rc)
		rc = store_lineage_logged_model(tx, run_id, id, err);
	if (!rc)
		rc = put_kvs(tx, PUT_PARAM_SQL, id, params, "param", err);
	if (!rc)
		rc = put_kvs(tx, PUT_TAG_SQL, id, tags, "tag", err);
	if (!rc)
		rc = lm_result(tx, w, id, err);
out:
	json_decref(exp);
	json_decref(params);
	json_decref(tags);
	return rc;
}

/* The model id from ARGS, checked to name a live model. */
static enum tr_err tx_model(struct tr_store_tx *tx, struct tr_write *w, const char **id,
			    struct tr_buf *err)
{
	enum tr_err rc = arg_model_id(w->args, id, err);
	if (rc)
		return rc;
	lm_resource(w, *id);
	return lm_load(tx->db, *id, NULL, err);
}

static enum tr_err touch(struct tr_store_tx *tx, const char *id, struct tr_buf *err)
{
	return tr_db_run(tx->db, err,
			 "UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?",
			 "it", tx->now_ms, id);
}

enum tr_err tr_store_logged_model_finalize(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	const char *id, *status;
	enum tr_err rc = tx_model(tx, w, &id, err);
	if (rc)
		return rc;
	status = status_name(json_object_get(w->args, "status"));
	if (!status || status == statuses[0])
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid value for parameter 'status': expected "
			       "LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED or "
			       "LOGGED_MODEL_PENDING.");
	rc = tr_db_run(tx->db, err,
		       "UPDATE logged_models SET status = ?, last_updated_timestamp = ? WHERE "
		       "model_id = ?",
		       "tit", status, tx->now_ms, id);
	return rc ? rc : lm_result(tx, w, id, err);
}

enum tr_err tr_store_logged_model_delete(struct tr_store_tx *tx, struct tr_write *w,
					 struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tx_model(tx, w, &id, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE logged_models SET lifecycle_stage = 'deleted', "
			       "last_updated_timestamp = ? WHERE model_id = ?",
			       "it", tx->now_ms, id);
	return rc;
}

enum tr_err tr_store_logged_model_set_tags(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	const char *id;
	json_t *tags = NULL;
	enum tr_err rc = tx_model(tx, w, &id, err);
	if (!rc)
		rc = tr_json_array(w->args, "tags", &tags, err);
	if (!rc)
		rc = put_kvs(tx, PUT_TAG_SQL, id, tags, "tag", err);
	if (!rc)
		rc = touch(tx, id, err);
	json_decref(tags);
	return rc ? rc : lm_result(tx, w, id, err);
}

enum tr_err tr_store_logged_model_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *id, *key;
	enum tr_err rc = tx_model(tx, w, &id, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "tag_key", &key, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", "tt",
			       id, key);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "No tag with key '%.250s' found for model with ID '%.64s'.", key, id);
	return rc;
}

enum tr_err tr_store_logged_model_log_params(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *id;
	json_t *params = NULL;
	enum tr_err rc = tx_model(tx, w, &id, err);
	if (!rc)
		rc = tr_json_array(w->args, "params", &params, err);
	if (!rc)
		rc = put_kvs(tx, PUT_PARAM_SQL, id, params, "param", err);
	if (!rc)
		rc = touch(tx, id, err);
	json_decref(params);
	return rc;
}

enum tr_err tr_store_run_log_outputs(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *run_id;
	json_t *models = NULL;
	enum tr_err rc = store_args_run_id(w->args, &run_id, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "run/%.150s", run_id);
	rc = store_run_check_active(tx->db, run_id, err);
	if (!rc)
		rc = tr_json_array(w->args, "models", &models, err);
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m)
	{
		const char *id;
		int64_t step = 0;
		bool has_step;
		if (!rc && !json_is_object(m))
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "each model output must be an object with model_id and step");
		if (!rc)
			rc = tr_json_req_str(m, "model_id", &id, err);
		if (!rc)
			rc = tr_json_int64(m, "step", &step, &has_step, err);
		if (!rc)
			rc = lm_load(tx->db, id, NULL, err);
		if (!rc)
			rc =
			    tr_db_run(tx->db, err,
				      "INSERT INTO run_outputs (run_uuid, model_id, step) VALUES "
				      "(?,?,?) ON CONFLICT (run_uuid, model_id) DO UPDATE SET step "
				      "= excluded.step",
				      "tti", run_id, id, step);
		if (!rc)
			rc = store_lineage_logged_model(tx, run_id, id, err);
		if (rc)
			break;
	}
	json_decref(models);
	return rc;
}

enum tr_err store_logged_model_metrics(struct tr_store_tx *tx, const char *run_id,
				       const struct tr_metric *ms, size_t n, struct tr_buf *err)
{
	enum tr_err rc = TR_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		const struct tr_metric *m = &ms[i];
		if (!m->model_id || !*m->model_id)
			continue;
		bool nan = isnan(m->value);
		rc =
		    tr_db_run(tx->db, err,
			      "INSERT INTO logged_model_metrics (model_id, key, value, is_nan, "
			      "timestamp, step, run_id, dataset_name, dataset_digest) SELECT "
			      "?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM logged_models WHERE "
			      "model_id = ?) ON CONFLICT DO UPDATE SET value = excluded.value, "
			      "is_nan = excluded.is_nan",
			      "ttdiiitttt", m->model_id, m->key, nan ? 0.0 : m->value, (int64_t)nan,
			      m->timestamp, m->step, run_id, m->dataset_name ? m->dataset_name : "",
			      m->dataset_digest ? m->dataset_digest : "", m->model_id);
	}
	return rc;
}

/* ---- search -------------------------------------------------------------- */

/* order_by arrives as objects {field_name, ascending}; the compiler takes
 * "field ASC|DESC" strings. Returns a new array. */
static enum tr_err order_strings(json_t *args, json_t **out, struct tr_buf *err)
{
	json_t *order = NULL, *list = json_array();
	enum tr_err rc = tr_json_array(args, "order_by", &order, err);
	size_t i;
	json_t *o;
	json_array_foreach(order, i, o)
	{
		if (rc)
			break;
		if (json_is_string(o)) { /* from a query string: already "field [ASC|DESC]" */
			json_array_append(list, o);
			continue;
		}
		const char *field;
		bool asc = true, has_asc;
		if (!json_is_object(o))
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "each order_by entry must be an object with field_name");
		if (!rc)
			rc = tr_json_req_str(o, "field_name", &field, err);
		if (!rc)
			rc = tr_json_bool(o, "ascending", &asc, &has_asc, err);
		if (!rc) {
			struct tr_buf b = TR_BUF_INIT;
			/* quote the key part of metrics.<k> so any key survives the parser */
			const char *dot = strchr(field, '.');
			if (dot && !strchr(field, '`'))
				tr_buf_appendf(&b, "%.*s.`%s` %s", (int)(dot - field), field,
					       dot + 1, asc ? "ASC" : "DESC");
			else
				tr_buf_appendf(&b, "%s %s", field, asc ? "ASC" : "DESC");
			json_array_append_new(list, json_string(tr_buf_str(&b)));
			tr_buf_release(&b);
		}
	}
	json_decref(order);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return TR_OK;
}

enum tr_err tr_store_logged_model_search(struct tr_store *s, json_t *args, json_t **out,
					 struct tr_buf *err)
{
	json_t *exp_ids = NULL, *order = NULL, *copy = NULL, *list = json_array();
	struct store_search ss;
	bool parsed = false, more = false;
	struct tr_buf sql = TR_BUF_INIT;
	enum tr_err rc = tr_json_array(args, "experiment_ids", &exp_ids, err);
	if (!rc)
		rc = order_strings(args, &order, err);
	if (!rc) {
		copy = json_copy(args);
		json_object_set(copy, "order_by", order);
		rc = store_search_parse_limits(copy, TR_SEARCH_LOGGED_MODELS, NULL, 100, 1000, &ss,
					       err);
		parsed = true;
	}
	if (rc)
		goto out;
	/* experiment ids are integers; anything else matches nothing */
	tr_buf_appends(&sql, "SELECT " LM_COLS " FROM logged_models lm WHERE lm.lifecycle_stage = "
			     "'active' AND lm.experiment_id IN (NULL");
	size_t i, n_ids = 0;
	json_t *x;
	int64_t *ids = tr_xcalloc(json_array_size(exp_ids) + 1, sizeof(*ids));
	json_array_foreach(exp_ids, i, x)
	{
		const char *v = json_string_value(x);
		char *end;
		if (v && *v && strlen(v) < 19) {
			long long n = strtoll(v, &end, 10);
			if (!*end && n >= 0) {
				ids[n_ids++] = n;
				tr_buf_appends(&sql, ",?");
			}
		}
	}
	tr_buf_appendf(&sql, ") AND (%s) ORDER BY %s LIMIT ? OFFSET ?", ss.q.where, ss.q.order_by);
	struct tr_db *db;
	rc = store_reader_get(s, &db, err);
	if (!rc) {
		struct tr_db_stmt *st;
		rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
		if (!rc) {
			int idx = 1;
			for (i = 0; i < n_ids; i++)
				tr_db_bind_int64(db, st, idx++, ids[i]);
			store_search_bind(db, st, &ss, &idx);
			tr_db_bind_int64(db, st, idx++, ss.max_results + 1);
			tr_db_bind_int64(db, st, idx++, ss.offset);
			bool row = true;
			while (!rc) {
				rc = tr_db_step(db, st, &row, err);
				if (rc || !row)
					break;
				if ((int64_t)json_array_size(list) == ss.max_results) {
					more = true;
					break;
				}
				json_array_append_new(list, lm_from_row(db, st));
			}
			tr_db_done(db, st);
		}
		json_array_foreach(list, i, x) if (!rc) rc = lm_fill(db, x, err);
		store_reader_put(s, db);
	}
	free(ids);
	if (!rc) {
		*out = json_pack("{s:O}", "models", list);
		if (more) {
			char *t = store_page_token_make(ss.offset + ss.max_results);
			json_object_set_new(*out, "next_page_token", json_string(t));
			free(t);
		}
	}
out:
	if (parsed)
		store_search_release(&ss);
	tr_buf_release(&sql);
	json_decref(exp_ids);
	json_decref(order);
	json_decref(copy);
	json_decref(list);
	return rc;
}
