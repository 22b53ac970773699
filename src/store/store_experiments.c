/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Experiments: create, rename, delete/restore (cascading the lifecycle to
 * their runs, as MLflow does), tags, get, get-by-name and search. Names are
 * unique across active and deleted experiments; ids are increasing integers
 * rendered as strings; experiment "0" is "Default".
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/json.h"
#include "store/search.h"
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EXP_COLS                                                                                   \
	"e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "       \
	"e.last_update_time"

/* Parses an experiment id; false for anything that is not a plain integer. */
static bool parse_exp_id(const char *id, int64_t *out)
{
	if (!id || !*id || strlen(id) > 18)
		return false;
	for (const char *p = id; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	*out = strtoll(id, NULL, 10);
	return errno == 0;
}

static enum tr_err exp_tags(struct tr_db *db, int64_t id, json_t *exp, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key", &st,
	    err);
	if (rc)
		return rc;
	tr_db_bind_int64(db, st, 1, id);
	json_t *tags = json_array();
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", tr_db_col_text(db, st, 0),
						      "value", tr_db_col_text(db, st, 1)));
	}
	tr_db_done(db, st);
	if (json_array_size(tags))
		json_object_set_new(exp, "tags", tags);
	else
		json_decref(tags);
	return rc;
}

/* Builds the Experiment JSON from a row of EXP_COLS. Returns a new object. */
static enum tr_err exp_from_row(struct tr_db *db, struct tr_db_stmt *st, json_t **out,
				struct tr_buf *err)
{
	int64_t id = tr_db_col_int64(db, st, 0);
	char idbuf[24];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	json_t *e = json_pack(
	    "{s:s,s:s,s:s,s:s,s:I,s:I}", "experiment_id", idbuf, "name", tr_db_col_text(db, st, 1),
	    "artifact_location", tr_db_col_text(db, st, 2), "lifecycle_stage",
	    tr_db_col_text(db, st, 3), "creation_time", (json_int_t)tr_db_col_int64(db, st, 4),
	    "last_update_time", (json_int_t)tr_db_col_int64(db, st, 5));
	*out = e;
	return TR_OK;
}

/* Loads experiment ID on DB into *OUT (new object, with tags). */
static enum tr_err exp_load(struct tr_db *db, const char *sql, const char *key_text,
			    int64_t key_int, bool by_text, json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	if (by_text)
		tr_db_bind_text(db, st, 1, key_text);
	else
		tr_db_bind_int64(db, st, 1, key_int);
	rc = tr_db_step(db, st, &row, err);
	json_t *e = NULL;
	int64_t id = 0;
	if (!rc && row) {
		rc = exp_from_row(db, st, &e, err);
		id = tr_db_col_int64(db, st, 0);
	}
	tr_db_done(db, st);
	if (!rc && !e)
		rc = by_text ? tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
				       "Could not find experiment with name '%s'", key_text)
			     : tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
				       "No Experiment with id=%lld exists", (long long)key_int);
	if (!rc)
		rc = exp_tags(db, id, e, err);
	if (rc) {
		json_decref(e);
		return rc;
	}
	*out = e;
	return TR_OK;
}

static enum tr_err exp_by_id(struct tr_db *db, const char *id, json_t **out, struct tr_buf *err)
{
	int64_t n;
	if (!parse_exp_id(id, &n))
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "No Experiment with id=%s exists", id ? id : "");
	return exp_load(db, "SELECT " EXP_COLS " FROM experiments e WHERE e.experiment_id = ?",
			NULL, n, false, out, err);
}

enum tr_err store_experiment_load(struct tr_db *db, const char *id, json_t **out,
				  struct tr_buf *err)
{
	return exp_by_id(db, id, out, err);
}

enum tr_err tr_store_experiment_get(struct tr_store *s, const char *id, json_t **out,
				    struct tr_buf *err)
{
	struct tr_db *db;
	json_t *e = NULL;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = exp_by_id(db, id, &e, err);
	store_reader_put(s, db);
	if (!rc)
		*out = json_pack("{s:o}", "experiment", e);
	return rc;
}

enum tr_err tr_store_experiment_get_by_name(struct tr_store *s, const char *name, json_t **out,
					    struct tr_buf *err)
{
	struct tr_db *db;
	json_t *e = NULL;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = exp_load(db, "SELECT " EXP_COLS " FROM experiments e WHERE e.name = ?", name, 0, true,
		      &e, err);
	store_reader_put(s, db);
	if (!rc)
		*out = json_pack("{s:o}", "experiment", e);
	return rc;
}

/* Resolves the experiment named by args' experiment_id on the writer's connection. */
static enum tr_err tx_exp(struct tr_store_tx *tx, struct tr_write *w, int64_t *id, json_t **exp,
			  struct tr_buf *err)
{
	const char *sid;
	enum tr_err rc = tr_json_req_str(w->args, "experiment_id", &sid, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "experiment/%.140s", sid);
	if (!parse_exp_id(sid, id))
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "No Experiment with id=%s exists", sid);
	return exp_by_id(tx->db, sid, exp, err);
}

/* Sets tag K of experiment ID to V (insert or overwrite). */
static enum tr_err put_exp_tag(struct tr_store_tx *tx, int64_t id, const char *k, const char *v,
			       struct tr_buf *err)
{
	return tr_db_run(tx->db, err,
			 "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?,?,?)"
			 " ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
			 "itt", id, k, v);
}

static bool exp_active(json_t *exp)
{
	return !strcmp(json_string_value(json_object_get(exp, "lifecycle_stage")), "active");
}

static enum tr_err validate_exp_tag(json_t *tag, const char **k, const char **v, struct tr_buf *err)
{
	enum tr_err rc = store_kv_parse(tag, "tag", k, v, err);
	return rc ? rc : tr_validate_experiment_tag(*k, *v, err);
}

enum tr_err tr_store_experiment_create(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err)
{
	const char *name, *loc;
	json_t *tags = NULL;
	enum tr_err rc = tr_json_req_str(w->args, "name", &name, err);
	if (!rc)
		rc = tr_validate_experiment_name(name, err);
	if (!rc)
		rc = tr_json_str(w->args, "artifact_location", &loc, err);
	if (!rc && loc && *loc)
		rc = tr_validate_artifact_location(loc, err);
	if (!rc)
		rc = tr_json_array(w->args, "tags", &tags, err);
	if (rc)
		goto out;
	snprintf(w->resource, sizeof(w->resource), "experiment-name/%.140s", name);
	struct tr_db_stmt *st;
	bool row;
	rc = tr_db_prepare(tx->db, "SELECT COALESCE(MAX(experiment_id), 0) + 1 FROM experiments",
			   &st, err);
	if (rc)
		goto out;
	rc = tr_db_step(tx->db, st, &row, err);
	int64_t id = row ? tr_db_col_int64(tx->db, st, 0) : 1;
	tr_db_done(tx->db, st);
	if (rc)
		goto out;
	char *location = (loc && *loc) ? tr_xstrdup(loc) : NULL;
	if (!location) {
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appendf(&b, "%s/%lld", tx->s->artifact_root, (long long)id);
		location = tr_buf_detach(&b);
	}
	rc = tr_db_run(
	    tx->db, err,
	    "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,"
	    " creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
	    "ittii", id, name, location, tx->now_ms, tx->now_ms);
	free(location);
	if (rc == TR_ERR_RESOURCE_ALREADY_EXISTS)
		rc = tr_fail(err, rc, "Experiment(name=%s) already exists.", name);
	if (rc)
		goto out;
	/* a bad tag fails the whole write: the writer rolls its savepoint back */
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *k, *v;
		rc = validate_exp_tag(t, &k, &v, err);
		if (!rc)
			rc = put_exp_tag(tx, id, k, v, err);
		if (rc)
			goto out;
	}
	char idbuf[24];
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	snprintf(w->resource, sizeof(w->resource), "experiment/%s", idbuf);
	w->result = json_pack("{s:s}", "experiment_id", idbuf);
out:
	json_decref(tags);
	return rc;
}

enum tr_err tr_store_experiment_update(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err)
{
	int64_t id;
	json_t *exp = NULL;
	const char *new_name;
	enum tr_err rc = tx_exp(tx, w, &id, &exp, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "new_name", &new_name, err);
	if (!rc)
		rc = tr_validate_experiment_name(new_name, err);
	if (!rc && !exp_active(exp))
		rc = tr_fail(err, TR_ERR_INVALID_STATE,
			     "Cannot rename a non-active experiment. Experiment %lld is deleted",
			     (long long)id);
	if (!rc) {
		rc = tr_db_run(
		    tx->db, err,
		    "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
		    "tii", new_name, tx->now_ms, id);
		if (rc == TR_ERR_RESOURCE_ALREADY_EXISTS)
			rc = tr_fail(err, rc, "Experiment(name=%s) already exists.", new_name);
	}
	json_decref(exp);
	return rc;
}

static enum tr_err set_lifecycle(struct tr_store_tx *tx, struct tr_write *w, const char *from,
				 const char *to, struct tr_buf *err)
{
	int64_t id;
	json_t *exp = NULL;
	enum tr_err rc = tx_exp(tx, w, &id, &exp, err);
	if (rc)
		return rc;
	bool in_from = !strcmp(json_string_value(json_object_get(exp, "lifecycle_stage")), from);
	json_decref(exp);
	if (!strcmp(to, "deleted") && id == 0)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Cannot delete the default experiment '0'. This is an internally "
			       "reserved experiment.");
	if (!in_from)
		return tr_fail(err, TR_ERR_INVALID_STATE, "Cannot %s experiment %lld: it is not %s",
			       !strcmp(to, "deleted") ? "delete" : "restore", (long long)id, from);
	rc = tr_db_run(tx->db, err,
		       "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE "
		       "experiment_id = ?",
		       "tii", to, tx->now_ms, id);
	if (!rc && !strcmp(to, "deleted"))
		rc = tr_db_run(tx->db, err,
			       "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?"
			       " WHERE experiment_id = ? AND lifecycle_stage = 'active'",
			       "ii", tx->now_ms, id);
	else if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL"
			       " WHERE experiment_id = ? AND lifecycle_stage = 'deleted'",
			       "i", id);
	return rc;
}

enum tr_err tr_store_experiment_delete(struct tr_store_tx *tx, struct tr_write *w,
				       struct tr_buf *err)
{
	return set_lifecycle(tx, w, "active", "deleted", err);
}

enum tr_err tr_store_experiment_restore(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err)
{
	return set_lifecycle(tx, w, "deleted", "active", err);
}

enum tr_err tr_store_experiment_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					struct tr_buf *err)
{
	int64_t id;
	json_t *exp = NULL;
	const char *k, *v;
	enum tr_err rc = tx_exp(tx, w, &id, &exp, err);
	if (!rc)
		rc = validate_exp_tag(w->args, &k, &v, err);
	if (!rc && !exp_active(exp))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "The experiment %lld must be in the 'active' state.", (long long)id);
	if (!rc)
		rc = put_exp_tag(tx, id, k, v, err);
	json_decref(exp);
	return rc;
}

enum tr_err tr_store_experiment_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	int64_t id;
	json_t *exp = NULL;
	const char *k;
	enum tr_err rc = tx_exp(tx, w, &id, &exp, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "key", &k, err);
	if (!rc && !exp_active(exp))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "The experiment %lld must be in the 'active' state.", (long long)id);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
			       "it", id, k);
	if (!rc && tr_db_changes(tx->db) == 0)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "No tag with name: %s in experiment with id %lld", k, (long long)id);
	json_decref(exp);
	return rc;
}

enum tr_err tr_store_experiment_search(struct tr_store *s, json_t *args, json_t **out,
				       struct tr_buf *err)
{
	struct store_search ss;
	struct tr_db *db = NULL;
	struct tr_buf sql = TR_BUF_INIT;
	enum tr_err rc = store_search_parse(args, TR_SEARCH_EXPERIMENTS, "view_type", &ss, err);
	if (rc)
		goto out;
	tr_buf_appendf(&sql,
		       "SELECT " EXP_COLS
		       " FROM experiments e WHERE %s AND (%s) ORDER BY %s LIMIT ? OFFSET ?",
		       store_search_view_sql(&ss, false), ss.q.where, ss.q.order_by);
	rc = store_reader_get(s, &db, err);
	if (rc)
		goto out;
	struct tr_db_stmt *st;
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out;
	int idx = 1;
	store_search_bind(db, st, &ss, &idx);
	tr_db_bind_int64(db, st, idx++, ss.max_results + 1);
	tr_db_bind_int64(db, st, idx++, ss.offset);
	json_t *list = json_array();
	bool row = true, more = false;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		if ((int64_t)json_array_size(list) == ss.max_results) {
			more = true;
			break;
		}
		json_t *e;
		rc = exp_from_row(db, st, &e, err);
		if (!rc)
			json_array_append_new(list, e);
	}
	tr_db_done(db, st);
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		int64_t id =
		    strtoll(json_string_value(json_object_get(e, "experiment_id")), NULL, 10);
		if (!rc)
			rc = exp_tags(db, id, e, err);
	}
	if (rc) {
		json_decref(list);
		goto out;
	}
	*out = json_object();
	if (json_array_size(list))
		json_object_set_new(*out, "experiments", list);
	else
		json_decref(list);
	if (more) {
		char *t = store_page_token_make(ss.offset + ss.max_results);
		json_object_set_new(*out, "next_page_token", json_string(t));
		free(t);
	}
out:
	if (db)
		store_reader_put(s, db);
	store_search_release(&ss);
	tr_buf_release(&sql);
	return rc;
}
