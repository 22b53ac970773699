/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model registry: registered models with tags and aliases, and their
 * numbered versions with tags and stages, in MLflow's REST shapes.
 *
 * Rows are keyed by model name; a rename updates every table in the writer's
 * transaction. A deleted version keeps its row as stage 'Deleted_Internal' so
 * its number is never given out again, and every read hides it.
 *
 * A version's source is attacker input (the LFI/SSRF class of MLflow CVEs,
 * CVE-2026-2614): it is accepted only as an mlflow-artifacts:, runs: or
 * models: URI naming something this server stores, and is resolved here, in
 * the transaction, to the storage location that get-download-uri answers.
 */
#include "api/validate.h"
#include "artifact/artifact.h"
#include "core/alloc.h"
#include "core/json.h"
#include "store/store_internal.h"

#include <string.h>

#define DELETED_STAGE "Deleted_Internal"

#define MV_COLS                                                                                    \
	"mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, "            \
	"mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.model_id, "           \
	"mv.status, mv.status_message, mv.storage_location"

#define RM_COLS "rm.name, rm.creation_time, rm.last_updated_time, rm.description, rm.user_id"

/* ---- arguments --------------------------------------------------------- */

static enum tr_err arg_name(json_t *args, const char *key, const char **out, struct tr_buf *err)
{
	enum tr_err rc = tr_json_str(args, key, out, err);
	if (!rc && (!*out || !**out))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Missing value for required parameter '%s'. See the API docs for more "
			     "information about request parameters.",
			     key);
	return rc ? rc : tr_validate_model_name(*out, err);
}

/* "version" as a string or an integer. */
static enum tr_err arg_version(json_t *args, int64_t *out, struct tr_buf *err)
{
	json_t *v = json_object_get(args, "version");
	if (json_is_integer(v) && json_integer_value(v) >= 1) {
		*out = json_integer_value(v);
		return TR_OK;
	}
	if (!v || json_is_null(v))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing value for required parameter 'version'. See the API docs "
			       "for more information about request parameters.");
	return tr_validate_model_version(json_is_string(v) ? json_string_value(v) : "", out, err);
}

/* ---- reading ----------------------------------------------------------- */

static void put_nonempty(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		tr_json_put_str(o, key, v);
}

/* A ModelVersion from a row of MV_COLS, without tags and aliases. */
static json_t *mv_from_row(struct tr_db *db, struct tr_db_stmt *st)
{
	char ver[24];
	snprintf(ver, sizeof(ver), "%lld", (long long)tr_db_col_int64(db, st, 1));
	json_t *mv = json_pack(
	    "{s:s,s:s,s:I,s:I,s:s,s:s,s:s}", "name", tr_db_col_text(db, st, 0), "version", ver,
	    "creation_timestamp", (json_int_t)tr_db_col_int64(db, st, 2), "last_updated_timestamp",
	    (json_int_t)tr_db_col_int64(db, st, 3), "current_stage", tr_db_col_text(db, st, 6),
	    "source", tr_db_col_text(db, st, 7), "status", tr_db_col_text(db, st, 11));
	put_nonempty(mv, "description", tr_db_col_text(db, st, 4));
	put_nonempty(mv, "user_id", tr_db_col_text(db, st, 5));
	put_nonempty(mv, "run_id", tr_db_col_text(db, st, 8));
	put_nonempty(mv, "run_link", tr_db_col_text(db, st, 9));
	put_nonempty(mv, "model_id", tr_db_col_text(db, st, 10));
	put_nonempty(mv, "status_message", tr_db_col_text(db, st, 12));
	return mv;
}

/* Adds tags and aliases to MV (a ModelVersion object). */
static enum tr_err mv_fill(struct tr_db *db, json_t *mv, struct tr_buf *err)
{
	const char *name = json_string_value(json_object_get(mv, "name"));
	int64_t version = strtoll(json_string_value(json_object_get(mv, "version")), NULL, 10);
	json_t *tags = json_array();
	json_object_set_new(mv, "tags", tags);
	enum tr_err rc =
	    store_kv_rows(db,
			  "SELECT key, value FROM model_version_tags WHERE name = ? AND "
			  "version = ? ORDER BY key",
			  name, version, tags, err);
	if (rc)
		return rc;
	struct tr_db_stmt *st;
	rc = tr_db_prepare(db,
			   "SELECT alias FROM registered_model_aliases WHERE name = ? AND "
			   "version = ? ORDER BY alias",
			   &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	tr_db_bind_int64(db, st, 2, version);
	json_t *aliases = json_array();
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(aliases, json_string(tr_db_col_text(db, st, 0)));
	}
	tr_db_done(db, st);
	json_object_set_new(mv, "aliases", aliases);
	return rc;
}

/* Loads version VERSION of NAME (not deleted) into *OUT, a new object with
 * tags and aliases; *STORAGE (optional) gets a new copy of its storage
 * location. */
static enum tr_err mv_load(struct tr_db *db, const char *name, int64_t version, json_t **out,
			   char **storage, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT " MV_COLS " FROM model_versions mv WHERE mv.name = ? "
			  "AND mv.version = ? AND mv.current_stage <> '" DELETED_STAGE "'",
			  &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	tr_db_bind_int64(db, st, 2, version);
	json_t *mv = NULL;
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row) {
		mv = mv_from_row(db, st);
		if (storage)
			*storage = tr_xstrdup(tr_db_col_text(db, st, 13));
	}
	tr_db_done(db, st);
	if (!rc && !mv)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "Model Version (name=%s, version=%lld) not found", name,
			       (long long)version);
	if (!rc)
		rc = mv_fill(db, mv, err);
	if (rc) {
		json_decref(mv);
		if (storage) {
			free(*storage);
			*storage = NULL;
		}
		return rc;
	}
	*out = mv;
	return TR_OK;
}

/* The latest version per stage of NAME (MLflow's latest_versions). Returns
 * a new array, in stage order. */
static enum tr_err latest_versions(struct tr_db *db, const char *name, json_t *stages_filter,
				   json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(
	    db,
	    "SELECT " MV_COLS " FROM model_versions mv WHERE mv.name = ? AND mv.version = "
	    "(SELECT max(x.version) FROM model_versions x WHERE x.name = mv.name AND "
	    "x.current_stage = mv.current_stage) AND mv.current_stage <> '" DELETED_STAGE "'"
	    " ORDER BY mv.version",
	    &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	json_t *list = json_array();
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		const char *stage = tr_db_col_text(db, st, 6);
		bool want = !json_array_size(stages_filter);
		size_t i;
		json_t *x;
		json_array_foreach(stages_filter, i, x) if (!strcmp(json_string_value(x), stage))
		    want = true;
		if (want)
			json_array_append_new(list, mv_from_row(db, st));
	}
	tr_db_done(db, st);
	size_t i;
	json_t *mv;
	json_array_foreach(list, i, mv) if (!rc) rc = mv_fill(db, mv, err);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return TR_OK;
}

/* A RegisteredModel from a row of RM_COLS (a new object); rm_fill() adds
 * its latest versions, tags and aliases. */
static json_t *rm_from_row(struct tr_db *db, struct tr_db_stmt *st)
{
	json_t *rm = json_pack("{s:s,s:I,s:I}", "name", tr_db_col_text(db, st, 0),
			       "creation_timestamp", (json_int_t)tr_db_col_int64(db, st, 1),
			       "last_updated_timestamp", (json_int_t)tr_db_col_int64(db, st, 2));
	put_nonempty(rm, "description", tr_db_col_text(db, st, 3));
	put_nonempty(rm, "user_id", tr_db_col_text(db, st, 4));
	return rm;
}

static enum tr_err rm_fill(struct tr_db *db, json_t *rm, struct tr_buf *err)
{
	const char *name = json_string_value(json_object_get(rm, "name"));
	json_t *latest = NULL;
	enum tr_err rc = latest_versions(db, name, NULL, &latest, err);
	if (rc)
		return rc;
	if (json_array_size(latest))
		json_object_set_new(rm, "latest_versions", latest);
	else
		json_decref(latest);
	json_t *tags = json_array();
	json_object_set_new(rm, "tags", tags);
	rc = store_kv_rows(
	    db, "SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key", name,
	    -1, tags, err);
	if (rc)
		return rc;
	struct tr_db_stmt *st;
	rc = tr_db_prepare(db,
			   "SELECT alias, version FROM registered_model_aliases WHERE name = ? "
			   "ORDER BY alias",
			   &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	json_t *aliases = json_array();
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		char ver[24];
		snprintf(ver, sizeof(ver), "%lld", (long long)tr_db_col_int64(db, st, 1));
		json_array_append_new(
		    aliases,
		    json_pack("{s:s,s:s}", "alias", tr_db_col_text(db, st, 0), "version", ver));
	}
	tr_db_done(db, st);
	json_object_set_new(rm, "aliases", aliases);
	return rc;
}

static enum tr_err rm_load(struct tr_db *db, const char *name, json_t **out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT " RM_COLS " FROM registered_models rm WHERE rm.name = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	json_t *rm = NULL;
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		rm = rm_from_row(db, st);
	tr_db_done(db, st);
	if (!rc && !rm)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "Registered Model with name=%s not found", name);
	if (!rc && out)
		rc = rm_fill(db, rm, err);
	if (rc || !out) {
		json_decref(rm);
		return rc;
	}
	*out = rm;
	return TR_OK;
}

static enum tr_err rm_exists(struct tr_db *db, const char *name, struct tr_buf *err)
{
	return rm_load(db, name, NULL, err);
}

/* Runs FN on a pooled read connection. */
#define WITH_READER(s, err, body)                                                                  \
	do {                                                                                       \
		struct tr_db *db;                                                                  \
		enum tr_err rc_ = store_reader_get((s), &db, (err));                               \
		if (rc_)                                                                           \
			return rc_;                                                                \
		rc_ = (body);                                                                      \
		store_reader_put((s), db);                                                         \
		return rc_;                                                                        \
	} while (0)

static enum tr_err rm_get(struct tr_db *db, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *name;
	json_t *rm;
	enum tr_err rc = arg_name(args, "name", &name, err);
	if (!rc)
		rc = rm_load(db, name, &rm, err);
	if (!rc)
		*out = json_pack("{s:o}", "registered_model", rm);
	return rc;
}

enum tr_err tr_store_registered_model_get(struct tr_store *s, json_t *args, json_t **out,
					  struct tr_buf *err)
{
	WITH_READER(s, err, rm_get(db, args, out, err));
}

static enum tr_err mv_get(struct tr_db *db, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *name;
	int64_t version;
	json_t *mv;
	enum tr_err rc = arg_name(args, "name", &name, err);
	if (!rc)
		rc = arg_version(args, &version, err);
	if (!rc)
		rc = mv_load(db, name, version, &mv, NULL, err);
	if (!rc)
		*out = json_pack("{s:o}", "model_version", mv);
	return rc;
}

enum tr_err tr_store_model_version_get(struct tr_store *s, json_t *args, json_t **out,
				       struct tr_buf *err)
{
	WITH_READER(s, err, mv_get(db, args, out, err));
}

static enum tr_err mv_download_uri(struct tr_db *db, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *name;
	int64_t version;
	json_t *mv = NULL;
	char *storage = NULL;
	enum tr_err rc = arg_name(args, "name", &name, err);
	if (!rc)
		rc = arg_version(args, &version, err);
	if (!rc)
		rc = mv_load(db, name, version, &mv, &storage, err);
	if (!rc && !*storage)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Model version %s/%lld has no stored files (a prompt version).", name,
			     (long long)version);
	if (!rc)
		*out = json_pack("{s:s}", "artifact_uri", storage);
	json_decref(mv);
	free(storage);
	return rc;
}

enum tr_err tr_store_model_version_download_uri(struct tr_store *s, json_t *args, json_t **out,
						struct tr_buf *err)
{
	WITH_READER(s, err, mv_download_uri(db, args, out, err));
}

static enum tr_err rm_latest(struct tr_db *db, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *name;
	json_t *stages = NULL, *canon = json_array(), *list = NULL;
	enum tr_err rc = arg_name(args, "name", &name, err);
	if (!rc)
		rc = tr_json_array(args, "stages", &stages, err);
	size_t i;
	json_t *x;
	json_array_foreach(stages, i, x)
	{
		const char *c =
		    json_is_string(x) ? tr_model_stage_canonical(json_string_value(x)) : NULL;
		if (!rc && !c)
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "Invalid Model Version stage: %.64s. Value must be one of "
				     "None, Staging, Production, Archived.",
				     json_is_string(x) ? json_string_value(x) : "(not a string)");
		if (c)
			json_array_append_new(canon, json_string(c));
	}
	if (!rc)
		rc = rm_exists(db, name, err);
	if (!rc)
		rc = latest_versions(db, name, canon, &list, err);
	if (!rc)
		*out = json_pack("{s:o}", "model_versions", list);
	json_decref(stages);
	json_decref(canon);
	return rc;
}

enum tr_err tr_store_registered_model_latest_versions(struct tr_store *s, json_t *args,
						      json_t **out, struct tr_buf *err)
{
	WITH_READER(s, err, rm_latest(db, args, out, err));
}

/* The version ALIAS of NAME points at; RESOURCE_DOES_NOT_EXIST when unset. */
static enum tr_err alias_version(struct tr_db *db, const char *name, const char *alias,
				 int64_t *version, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", &st,
	    err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	tr_db_bind_text(db, st, 2, alias);
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		*version = tr_db_col_int64(db, st, 0);
	tr_db_done(db, st);
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "Registered model alias %.255s not found.", alias);
	return rc;
}

static enum tr_err rm_by_alias(struct tr_db *db, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *name, *alias;
	int64_t version = 0;
	json_t *mv;
	enum tr_err rc = arg_name(args, "name", &name, err);
	if (!rc)
		rc = tr_json_req_str(args, "alias", &alias, err);
	if (!rc)
		rc = rm_exists(db, name, err);
	if (!rc)
		rc = alias_version(db, name, alias, &version, err);
	if (!rc)
		rc = mv_load(db, name, version, &mv, NULL, err);
	if (!rc)
		*out = json_pack("{s:o}", "model_version", mv);
	return rc;
}

enum tr_err tr_store_model_version_by_alias(struct tr_store *s, json_t *args, json_t **out,
					    struct tr_buf *err)
{
	WITH_READER(s, err, rm_by_alias(db, args, out, err));
}

/* ---- writes: registered models ----------------------------------------- */

static void rm_resource(struct tr_write *w, const char *name)
{
	snprintf(w->resource, sizeof(w->resource), "registered_model/%.140s", name);
}

static void mv_resource(struct tr_write *w, const char *name, int64_t version)
{
	snprintf(w->resource, sizeof(w->resource), "model_version/%.120s/%lld", name,
		 (long long)version);
}

static enum tr_err tag_list_parse(json_t *args, json_t **tags, struct tr_buf *err)
{
	enum tr_err rc = tr_json_array(args, "tags", tags, err);
	size_t i;
	json_t *t;
	json_array_foreach(*tags, i, t)
	{
		const char *k, *v;
		if (!rc)
			rc = store_kv_parse(t, "tag", &k, &v, err);
		if (!rc)
			rc = tr_validate_model_tag(k, v, err);
	}
	return rc;
}

static enum tr_err touch_model(struct tr_store_tx *tx, const char *name, struct tr_buf *err)
{
	return tr_db_run(tx->db, err,
			 "UPDATE registered_models SET last_updated_time = ? WHERE name = ?", "it",
			 tx->now_ms, name);
}

enum tr_err tr_store_registered_model_create(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *name, *desc;
	json_t *tags = NULL, *rm = NULL;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_str(w->args, "description", &desc, err);
	if (!rc)
		rc = tag_list_parse(w->args, &tags, err);
	if (!rc && rm_exists(tx->db, name, err) == TR_OK)
		rc = tr_fail(err, TR_ERR_RESOURCE_ALREADY_EXISTS,
			     "Registered Model (name=%s) already exists.", name);
	else if (!rc)
		tr_buf_reset(err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO registered_models (name, creation_time, "
			       "last_updated_time, description) VALUES (?,?,?,?)",
			       "tiit", name, tx->now_ms, tx->now_ms, desc ? desc : "");
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) if (!rc) rc =
	    tr_db_run(tx->db, err,
		      "INSERT INTO registered_model_tags (name, key, value) VALUES (?,?,?)"
		      " ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
		      "ttt", name, json_string_value(json_object_get(t, "key")),
		      json_is_string(json_object_get(t, "value"))
			  ? json_string_value(json_object_get(t, "value"))
			  : "");
	if (!rc)
		rc = rm_load(tx->db, name, &rm, err);
	if (!rc)
		w->result = json_pack("{s:o}", "registered_model", rm);
	json_decref(tags);
	return rc;
}

enum tr_err tr_store_registered_model_rename(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *name, *new_name;
	json_t *rm = NULL;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = arg_name(w->args, "new_name", &new_name, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc && strcmp(name, new_name)) {
		if (rm_exists(tx->db, new_name, err) == TR_OK)
			rc = tr_fail(err, TR_ERR_RESOURCE_ALREADY_EXISTS,
				     "Registered Model (name=%s) already exists.", new_name);
		else
			tr_buf_reset(err);
		static const char *const timed[] = {
		    "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
		    "UPDATE model_versions SET name = ?, last_updated_time = ? WHERE name = ?",
		};
		static const char *const plain[] = {
		    "UPDATE registered_model_tags SET name = ? WHERE name = ?",
		    "UPDATE model_version_tags SET name = ? WHERE name = ?",
		    "UPDATE registered_model_aliases SET name = ? WHERE name = ?",
		};
		for (size_t i = 0; !rc && i < sizeof(timed) / sizeof(timed[0]); i++)
			rc = tr_db_run(tx->db, err, timed[i], "tit", new_name, tx->now_ms, name);
		for (size_t i = 0; !rc && i < sizeof(plain) / sizeof(plain[0]); i++)
			rc = tr_db_run(tx->db, err, plain[i], "tt", new_name, name);
	}
	if (!rc)
		rc = rm_load(tx->db, new_name, &rm, err);
	if (!rc)
		w->result = json_pack("{s:o}", "registered_model", rm);
	return rc;
}

enum tr_err tr_store_registered_model_update(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *name, *desc;
	json_t *rm = NULL;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_str(w->args, "description", &desc, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc && desc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE registered_models SET description = ?, last_updated_time = ?"
			       " WHERE name = ?",
			       "tit", desc, tx->now_ms, name);
	if (!rc)
		rc = rm_load(tx->db, name, &rm, err);
	if (!rc)
		w->result = json_pack("{s:o}", "registered_model", rm);
	return rc;
}

enum tr_err tr_store_registered_model_delete(struct tr_store_tx *tx, struct tr_write *w,
					     struct tr_buf *err)
{
	const char *name;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = rm_exists(tx->db, name, err);
	static const char *const del[] = {
	    "DELETE FROM registered_model_aliases WHERE name = ?",
	    "DELETE FROM model_version_tags WHERE name = ?",
	    "DELETE FROM model_versions WHERE name = ?",
	    "DELETE FROM registered_model_tags WHERE name = ?",
	    "DELETE FROM registered_models WHERE name = ?",
	};
	for (size_t i = 0; !rc && i < sizeof(del) / sizeof(del[0]); i++)
		rc = tr_db_run(tx->db, err, del[i], "t", name);
	return rc;
}

enum tr_err tr_store_registered_model_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					      struct tr_buf *err)
{
	const char *name, *k, *v;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = store_kv_parse(w->args, "tag", &k, &v, err);
	if (!rc)
		rc = tr_validate_model_tag(k, v, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO registered_model_tags (name, key, value) VALUES (?,?,?)"
			       " ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
			       "ttt", name, k, v);
	return rc;
}

enum tr_err tr_store_registered_model_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
						 struct tr_buf *err)
{
	const char *name, *k;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_req_str(w->args, "key", &k, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM registered_model_tags WHERE name = ? AND key = ?", "tt",
			       name, k);
	return rc;
}

enum tr_err tr_store_registered_model_set_alias(struct tr_store_tx *tx, struct tr_write *w,
						struct tr_buf *err)
{
	const char *name, *alias;
	int64_t version;
	json_t *mv = NULL;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_str(w->args, "alias", &alias, err);
	if (!rc)
		rc = tr_validate_model_alias(alias, err);
	if (!rc)
		rc = arg_version(w->args, &version, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc)
		rc = mv_load(tx->db, name, version, &mv, NULL, err);
	json_decref(mv);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO registered_model_aliases (name, alias, version) VALUES "
			       "(?,?,?) ON CONFLICT (name, alias) DO UPDATE SET version = "
			       "excluded.version",
			       "tti", name, alias, version);
	return rc;
}

enum tr_err tr_store_registered_model_delete_alias(struct tr_store_tx *tx, struct tr_write *w,
						   struct tr_buf *err)
{
	const char *name, *alias;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_req_str(w->args, "alias", &alias, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
			       "tt", name, alias);
	return rc;
}

/* ---- model version sources ---------------------------------------------- */

/* Whether the artifacts table holds PATH or anything beneath it. */
static enum tr_err artifact_exists(struct tr_db *db, const char *path, bool *yes,
				   struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	struct tr_buf prefix = TR_BUF_INIT;
	tr_buf_appendf(&prefix, "%s/", path);
	enum tr_err rc = tr_db_prepare(db,
				       "SELECT 1 FROM artifacts WHERE path = ? OR (path > ? AND "
				       "substr(path, 1, ?) = ?) LIMIT 1",
				       &st, err);
	if (!rc) {
		tr_db_bind_text(db, st, 1, path);
		tr_db_bind_text(db, st, 2, tr_buf_str(&prefix));
		tr_db_bind_int64(db, st, 3, (int64_t)prefix.len);
		tr_db_bind_text(db, st, 4, tr_buf_str(&prefix));
		rc = tr_db_step(db, st, &row, err);
		*yes = !rc && row;
		tr_db_done(db, st);
	}
	tr_buf_release(&prefix);
	return rc;
}

struct resolved {
	char *storage;	/* new string */
	char *run_id;	/* new string or NULL */
	char *model_id; /* new string or NULL */
};

static void resolved_release(struct resolved *r)
{
	free(r->storage);
	free(r->run_id);
	free(r->model_id);
}

/* A logged model that is not deleted: its artifact location and source run. */
static enum tr_err logged_model_find(struct tr_db *db, const char *sql, const char *a,
				     const char *b, struct resolved *out, bool *found,
				     struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, a);
	if (b)
		tr_db_bind_text(db, st, 2, b);
	rc = tr_db_step(db, st, &row, err);
	*found = !rc && row;
	if (*found) {
		out->model_id = tr_xstrdup(tr_db_col_text(db, st, 0));
		out->storage = tr_xstrdup(tr_db_col_text(db, st, 1));
		const char *run = tr_db_col_text(db, st, 2);
		out->run_id = run && *run ? tr_xstrdup(run) : NULL;
	}
	tr_db_done(db, st);
	return rc;
}

static enum tr_err bad_source(struct tr_buf *err, const char *source, const char *why)
{
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "Invalid model version source '%.200s': %s. Sources must be "
		       "'mlflow-artifacts:', 'runs:' or 'models:' URIs of objects this server "
		       "stores.",
		       source, why);
}

/* The run (<exp>/<run>/artifacts/...) or logged model
 * (<exp>/models/<id>/artifacts/...) whose files PATH names, if any, into
 * OUT's run_id / model_id: the lineage a version made from them carries. */
static enum tr_err artifacts_owner(struct tr_db *db, const char *path, struct resolved *out,
				   struct tr_buf *err)
{
	bool model;
	char *id, *rootstr;
	const char *rest;
	if (!store_artifact_owner(path, &model, &id, &rootstr, &rest))
		return TR_OK;
	bool found = false;
	enum tr_err rc;
	if (model) {
		struct resolved lm = {0};
		rc = logged_model_find(db,
				       "SELECT model_id, artifact_location, source_run_id FROM "
				       "logged_models WHERE model_id = ? AND artifact_location = ?",
				       id, rootstr, &lm, &found, err);
		if (!rc && found) {
			out->model_id = lm.model_id;
			out->run_id = lm.run_id;
			lm.model_id = lm.run_id = NULL;
		}
		resolved_release(&lm);
	} else {
		struct tr_db_stmt *st;
		rc = tr_db_prepare(db, "SELECT 1 FROM runs WHERE run_uuid = ? AND artifact_uri = ?",
				   &st, err);
		if (!rc) {
			tr_db_bind_text(db, st, 1, id);
			tr_db_bind_text(db, st, 2, rootstr);
			rc = tr_db_step(db, st, &found, err);
			tr_db_done(db, st);
		}
		if (!rc && found)
			out->run_id = tr_xstrdup(id);
	}
	free(rootstr);
	free(id);
	return rc;
}

/* mlflow-artifacts:/<path>: a safe path that names stored files. */
static enum tr_err resolve_artifacts_uri(struct tr_db *db, const char *source, struct resolved *out,
					 struct tr_buf *err)
{
	const char *path = source + strlen("mlflow-artifacts:/");
	if (*path == '/')
		return bad_source(err, source, "a host or an absolute path is not allowed");
	struct tr_buf why = TR_BUF_INIT;
	bool yes = false;
	enum tr_err rc = TR_OK;
	if (tr_artifact_path_check(path, 0, &why))
		rc = bad_source(err, source, tr_buf_str(&why));
	if (!rc)
		rc = artifact_exists(db, path, &yes, err);
	if (!rc && !yes)
		rc = bad_source(err, source, "no artifact is stored at that path");
	tr_buf_release(&why);
	if (!rc)
		out->storage = tr_xstrdup(source);
	if (!rc)
		rc = artifacts_owner(db, path, out, err);
	return rc;
}

/* runs:/<run_id>[/<path>]: the run's artifacts at PATH, or else (MLflow 3)
 * the logged model named PATH that the run produced. */
static enum tr_err resolve_runs_uri(struct tr_db *db, const char *source, struct resolved *out,
				    struct tr_buf *err)
{
	const char *p = source + strlen("runs:/");
	const char *slash = strchr(p, '/');
	size_t id_len = slash ? (size_t)(slash - p) : strlen(p);
	char run_id[TR_MAX_RUN_ID_LEN + 1];
	if (!id_len || id_len > TR_MAX_RUN_ID_LEN)
		return bad_source(err, source, "no run id");
	memcpy(run_id, p, id_len);
	run_id[id_len] = 0;
	const char *sub = slash ? slash + 1 : "";
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = tr_validate_run_id(run_id, &why);
	if (!rc && *sub && tr_artifact_path_check(sub, 0, &why))
		rc = TR_ERR_INVALID_PARAMETER_VALUE;
	if (rc) {
		rc = bad_source(err, source, tr_buf_str(&why));
		tr_buf_release(&why);
		return rc;
	}
	tr_buf_release(&why);
	struct tr_db_stmt *st;
	bool row;
	rc = tr_db_prepare(db, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	rc = tr_db_step(db, st, &row, err);
	char *root = !rc && row ? tr_xstrdup(tr_db_col_text(db, st, 0)) : NULL;
	tr_db_done(db, st);
	if (!rc && !root)
		rc = bad_source(err, source, "no such run");
	struct tr_buf loc = TR_BUF_INIT;
	bool yes = false;
	if (!rc) {
		tr_buf_appendf(&loc, "%s%s%s", root, *sub ? "/" : "", sub);
		const char *pre = "mlflow-artifacts:/";
		if (!strncmp(tr_buf_str(&loc), pre, strlen(pre)))
			rc = artifact_exists(db, tr_buf_str(&loc) + strlen(pre), &yes, err);
	}
	if (!rc && yes) {
		out->storage = tr_xstrdup(tr_buf_str(&loc));
		out->run_id = tr_xstrdup(run_id);
	} else if (!rc && *sub) {
		rc =
		    logged_model_find(db,
				      "SELECT model_id, artifact_location, source_run_id FROM "
				      "logged_models WHERE name = ? AND source_run_id = ? AND "
				      "lifecycle_stage = 'active' ORDER BY creation_timestamp DESC",
				      sub, run_id, out, &yes, err);
		if (!rc && !yes)
			rc = bad_source(err, source,
					"the run has no artifacts or logged model at that path");
	} else if (!rc) {
		rc = bad_source(err, source, "the run has no artifacts");
	}
	free(root);
	tr_buf_release(&loc);
	return rc;
}

/* models:/<model_id> (a logged model) or models:/<name>/<version>. */
static enum tr_err resolve_models_uri(struct tr_db *db, const char *source, struct resolved *out,
				      struct tr_buf *err)
{
	const char *p = source + strlen("models:/");
	const char *slash = strrchr(p, '/');
	bool found = false;
	enum tr_err rc;
	if (!slash) {
		rc = logged_model_find(db,
				       "SELECT model_id, artifact_location, source_run_id FROM "
				       "logged_models WHERE model_id = ? AND lifecycle_stage = "
				       "'active'",
				       p, NULL, out, &found, err);
		if (!rc && !found)
			rc = bad_source(err, source, "no such logged model");
		return rc;
	}
	char *name = tr_xstrndup(p, (size_t)(slash - p));
	int64_t version;
	json_t *mv = NULL;
	struct tr_buf why = TR_BUF_INIT;
	if (tr_validate_model_version(slash + 1, &version, &why))
		rc = bad_source(err, source, "the version must be a number");
	else
		rc = mv_load(db, name, version, &mv, &out->storage, &why)
			 ? bad_source(err, source, "no such model version")
			 : TR_OK;
	if (!rc) {
		const char *run = json_string_value(json_object_get(mv, "run_id"));
		const char *mid = json_string_value(json_object_get(mv, "model_id"));
		out->run_id = run ? tr_xstrdup(run) : NULL;
		out->model_id = mid ? tr_xstrdup(mid) : NULL;
	}
	json_decref(mv);
	tr_buf_release(&why);
	free(name);
	return rc;
}

static enum tr_err resolve_source(struct tr_db *db, const char *source, struct resolved *out,
				  struct tr_buf *err)
{
	for (const unsigned char *c = (const unsigned char *)source; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '\\')
			return bad_source(err, "(not shown)", "control characters or backslashes");
	if (strlen(source) > 4096)
		return bad_source(err, "(not shown)", "longer than 4096 bytes");
	if (!strncmp(source, "mlflow-artifacts:/", strlen("mlflow-artifacts:/")))
		return resolve_artifacts_uri(db, source, out, err);
	if (!strncmp(source, "runs:/", strlen("runs:/")))
		return resolve_runs_uri(db, source, out, err);
	if (!strncmp(source, "models:/", strlen("models:/")))
		return resolve_models_uri(db, source, out, err);
	return bad_source(err, source, "the scheme is not allowed");
}

/* MLflow's prompt registry creates versions of a prompt (a registered model
 * tagged mlflow.prompt.is_prompt = 'true' in the store, whatever the request
 * says) with the client's placeholder source "dummy-source" or
 * "prompt-template". Only those two literals, only for a prompt: they resolve
 * to no storage at all, so nothing is ever read through them. */
static enum tr_err prompt_placeholder(struct tr_db *db, const char *name, const char *source,
				      bool *yes, struct tr_buf *err)
{
	*yes = false;
	if (strcmp(source, "dummy-source") && strcmp(source, "prompt-template"))
		return TR_OK;
	struct tr_db_stmt *st;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT 1 FROM registered_model_tags WHERE name = ? AND key = "
			  "'mlflow.prompt.is_prompt' AND lower(value) = 'true'",
			  &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, name);
	rc = tr_db_step(db, st, yes, err);
	tr_db_done(db, st);
	return rc;
}

/* ---- writes: model versions --------------------------------------------- */

enum tr_err tr_store_model_version_create(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	const char *name, *source, *run_id = NULL, *run_link = NULL, *desc = NULL, *model_id = NULL;
	json_t *tags = NULL, *mv = NULL;
	struct resolved res = {0};
	int64_t version = 0;
	enum tr_err rc = arg_name(w->args, "name", &name, err);
	if (rc)
		return rc;
	rm_resource(w, name);
	rc = tr_json_req_str(w->args, "source", &source, err);
	if (!rc)
		rc = tr_json_str(w->args, "run_id", &run_id, err);
	if (!rc)
		rc = tr_json_str(w->args, "run_link", &run_link, err);
	if (!rc)
		rc = tr_json_str(w->args, "description", &desc, err);
	if (!rc)
		rc = tr_json_str(w->args, "model_id", &model_id, err);
	if (!rc)
		rc = tag_list_parse(w->args, &tags, err);
	if (!rc && run_id && *run_id)
		rc = tr_validate_run_id(run_id, err);
	if (!rc)
		rc = rm_exists(tx->db, name, err);
	bool placeholder = false;
	if (!rc)
		rc = prompt_placeholder(tx->db, name, source, &placeholder, err);
	if (!rc && placeholder)
		res.storage = tr_xstrdup(""); /* nothing stored, nothing to read */
	else if (!rc)
		rc = resolve_source(tx->db, source, &res, err);
	if (!rc && run_id && *run_id && res.run_id && strcmp(run_id, res.run_id))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "run_id '%.64s' does not match the run '%.64s' the source belongs to",
			     run_id, res.run_id);
	if (!rc && run_id && *run_id) {
		struct tr_db_stmt *st;
		bool row = false;
		rc = tr_db_prepare(tx->db, "SELECT 1 FROM runs WHERE run_uuid = ?", &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, run_id);
			rc = tr_db_step(tx->db, st, &row, err);
			tr_db_done(tx->db, st);
		}
		if (!rc && !row)
			rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
				     "Run with id=%s not found", run_id);
	}
	if (!rc && model_id && *model_id && res.model_id && strcmp(model_id, res.model_id))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "model_id '%.64s' does not match the source's logged model '%.64s'",
			     model_id, res.model_id);
	if (!rc) {
		struct tr_db_stmt *st;
		bool row;
		rc = tr_db_prepare(
		    tx->db, "SELECT coalesce(max(version), 0) FROM model_versions WHERE name = ?",
		    &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, name);
			rc = tr_db_step(tx->db, st, &row, err);
			version = row ? tr_db_col_int64(tx->db, st, 0) + 1 : 1;
			tr_db_done(tx->db, st);
		}
	}
	const char *final_run = run_id && *run_id ? run_id : res.run_id ? res.run_id : "";
	const char *final_model = model_id && *model_id ? model_id
				  : res.model_id	? res.model_id
							: "";
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO model_versions (name, version, creation_time, "
			       "last_updated_time, description, current_stage, source, "
			       "storage_location, run_id, run_link, model_id, status) VALUES "
			       "(?,?,?,?,?,'None',?,?,?,?,?,'READY')",
			       "tiiitttttt", name, version, tx->now_ms, tx->now_ms,
			       desc ? desc : "", source, res.storage, final_run,
			       run_link ? run_link : "", final_model);
	if (!rc) /* what it was made from, in the same transaction */
		rc = store_lineage_model_version(tx, name, version, final_run, final_model,
						 res.storage, err);
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) if (!rc) rc =
	    tr_db_run(tx->db, err,
		      "INSERT INTO model_version_tags (name, version, key, value) VALUES (?,?,?,?)"
		      " ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
		      "titt", name, version, json_string_value(json_object_get(t, "key")),
		      json_is_string(json_object_get(t, "value"))
			  ? json_string_value(json_object_get(t, "value"))
			  : "");
	if (!rc)
		rc = touch_model(tx, name, err);
	if (!rc) {
		mv_resource(w, name, version);
		rc = mv_load(tx->db, name, version, &mv, NULL, err);
	}
	if (!rc)
		w->result = json_pack("{s:o}", "model_version", mv);
	resolved_release(&res);
	json_decref(tags);
	return rc;
}

/* Reads name and version of an existing (not deleted) version. */
static enum tr_err tx_version(struct tr_store_tx *tx, struct tr_write *w, const char **name,
			      int64_t *version, struct tr_buf *err)
{
	json_t *mv = NULL;
	enum tr_err rc = arg_name(w->args, "name", name, err);
	if (rc)
		return rc;
	rm_resource(w, *name);
	rc = arg_version(w->args, version, err);
	if (rc)
		return rc;
	mv_resource(w, *name, *version);
	rc = mv_load(tx->db, *name, *version, &mv, NULL, err);
	json_decref(mv);
	return rc;
}

static enum tr_err mv_result(struct tr_store_tx *tx, struct tr_write *w, const char *name,
			     int64_t version, struct tr_buf *err)
{
	json_t *mv = NULL;
	enum tr_err rc = mv_load(tx->db, name, version, &mv, NULL, err);
	if (!rc)
		w->result = json_pack("{s:o}", "model_version", mv);
	return rc;
}

enum tr_err tr_store_model_version_update(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	const char *name, *desc;
	int64_t version;
	enum tr_err rc = tx_version(tx, w, &name, &version, err);
	if (!rc)
		rc = tr_json_str(w->args, "description", &desc, err);
	if (!rc && desc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE model_versions SET description = ?, last_updated_time = ?"
			       " WHERE name = ? AND version = ?",
			       "titi", desc, tx->now_ms, name, version);
	return rc ? rc : mv_result(tx, w, name, version, err);
}

enum tr_err tr_store_model_version_delete(struct tr_store_tx *tx, struct tr_write *w,
					  struct tr_buf *err)
{
	const char *name;
	int64_t version;
	enum tr_err rc = tx_version(tx, w, &name, &version, err);
	/* the row stays (the number is never reused) with its content removed */
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE model_versions SET current_stage = '" DELETED_STAGE "',"
			       " description = '', user_id = '', source = 'REDACTED-SOURCE-PATH',"
			       " storage_location = '', run_id = '', run_link = '', model_id = '',"
			       " status_message = '', last_updated_time = ?"
			       " WHERE name = ? AND version = ?",
			       "iti", tx->now_ms, name, version);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM model_version_tags WHERE name = ? AND version = ?",
			       "ti", name, version);
	if (!rc)
		rc =
		    tr_db_run(tx->db, err,
			      "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
			      "ti", name, version);
	if (!rc)
		rc = touch_model(tx, name, err);
	return rc;
}

enum tr_err tr_store_model_version_set_tag(struct tr_store_tx *tx, struct tr_write *w,
					   struct tr_buf *err)
{
	const char *name, *k, *v;
	int64_t version;
	enum tr_err rc = tx_version(tx, w, &name, &version, err);
	if (!rc)
		rc = store_kv_parse(w->args, "tag", &k, &v, err);
	if (!rc)
		rc = tr_validate_model_tag(k, v, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "INSERT INTO model_version_tags (name, version, key, value) VALUES "
			       "(?,?,?,?) ON CONFLICT (name, version, key) DO UPDATE SET value = "
			       "excluded.value",
			       "titt", name, version, k, v);
	return rc;
}

enum tr_err tr_store_model_version_delete_tag(struct tr_store_tx *tx, struct tr_write *w,
					      struct tr_buf *err)
{
	const char *name, *k;
	int64_t version;
	enum tr_err rc = tx_version(tx, w, &name, &version, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "key", &k, err);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND "
			       "key = ?",
			       "tit", name, version, k);
	return rc;
}

enum tr_err tr_store_model_version_transition_stage(struct tr_store_tx *tx, struct tr_write *w,
						    struct tr_buf *err)
{
	const char *name, *stage_in, *stage;
	int64_t version;
	bool archive = false, has_archive;
	enum tr_err rc = tx_version(tx, w, &name, &version, err);
	if (!rc)
		rc = tr_json_req_str(w->args, "stage", &stage_in, err);
	if (!rc)
		rc =
		    tr_json_bool(w->args, "archive_existing_versions", &archive, &has_archive, err);
	if (rc)
		return rc;
	stage = tr_model_stage_canonical(stage_in);
	if (!stage)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid Model Version stage: %.64s. Value must be one of None, "
			       "Staging, Production, Archived.",
			       stage_in);
	if (archive && strcmp(stage, "Staging") && strcmp(stage, "Production"))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Model version transition cannot archive existing model versions "
			       "because '%s' is not an Active stage. Valid stages are Staging and "
			       "Production.",
			       stage);
	if (archive)
		rc = tr_db_run(tx->db, err,
			       "UPDATE model_versions SET current_stage = 'Archived', "
			       "last_updated_time = ? WHERE name = ? AND current_stage = ? AND "
			       "version <> ?",
			       "itti", tx->now_ms, name, stage, version);
	if (!rc)
		rc = tr_db_run(tx->db, err,
			       "UPDATE model_versions SET current_stage = ?, last_updated_time = ?"
			       " WHERE name = ? AND version = ?",
			       "titi", stage, tx->now_ms, name, version);
	if (!rc)
		rc = touch_model(tx, name, err);
	return rc ? rc : mv_result(tx, w, name, version, err);
}

/* ---- searches -------------------------------------------------------------- */

/* Runs a registry search: SELECT COLS FROM TABLE ALIAS WHERE EXTRA AND filter
 * ORDER BY ... LIMIT max+1 OFFSET offset; one row more than the page tells
 * whether a next page exists (MLflow's registry searches answer a token only
 * then). */
static enum tr_err registry_search(struct tr_db *db, const struct store_search *ss,
				   const char *select, const char *extra, bool versions,
				   json_t *list, bool *more, struct tr_buf *err)
{
	struct tr_buf sql = TR_BUF_INIT;
	tr_buf_appendf(&sql, "%s WHERE %s AND (%s) ORDER BY %s LIMIT ? OFFSET ?", select, extra,
		       ss->q.where, ss->q.order_by);
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	tr_buf_release(&sql);
	if (rc)
		return rc;
	int idx = 1;
	store_search_bind(db, st, ss, &idx);
	tr_db_bind_int64(db, st, idx++, ss->max_results + 1);
	tr_db_bind_int64(db, st, idx++, ss->offset);
	bool row = true;
	*more = false;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		if ((int64_t)json_array_size(list) == ss->max_results) {
			*more = true;
			break;
		}
		json_array_append_new(list, versions ? mv_from_row(db, st) : rm_from_row(db, st));
	}
	tr_db_done(db, st);
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) if (!rc) rc =
	    versions ? mv_fill(db, x, err) : rm_fill(db, x, err);
	return rc;
}

static enum tr_err search_common(struct tr_store *s, json_t *args, enum tr_search_target target,
				 int64_t def_max, int64_t cap, const char *list_key,
				 const char *select, const char *extra, json_t **out,
				 struct tr_buf *err)
{
	struct store_search ss;
	json_t *list = json_array();
	bool more = false;
	enum tr_err rc = store_search_parse_limits(args, target, NULL, def_max, cap, &ss, err);
	if (!rc) {
		struct tr_db *db;
		rc = store_reader_get(s, &db, err);
		if (!rc) {
			rc = registry_search(db, &ss, select, extra,
					     target == TR_SEARCH_MODEL_VERSIONS, list, &more, err);
			store_reader_put(s, db);
		}
	}
	if (!rc) {
		*out = json_pack("{s:O}", list_key, list);
		if (more) {
			char *t = store_page_token_make(ss.offset + ss.max_results);
			json_object_set_new(*out, "next_page_token", json_string(t));
			free(t);
		}
	}
	json_decref(list);
	store_search_release(&ss);
	return rc;
}

enum tr_err tr_store_registered_model_search(struct tr_store *s, json_t *args, json_t **out,
					     struct tr_buf *err)
{
	return search_common(s, args, TR_SEARCH_REGISTERED_MODELS, 100, 1000, "registered_models",
			     "SELECT " RM_COLS " FROM registered_models rm", "1=1", out, err);
}

enum tr_err tr_store_model_version_search(struct tr_store *s, json_t *args, json_t **out,
					  struct tr_buf *err)
{
	return search_common(s, args, TR_SEARCH_MODEL_VERSIONS, 10000, 200000, "model_versions",
			     "SELECT " MV_COLS " FROM model_versions mv",
			     "mv.current_stage <> '" DELETED_STAGE "'", out, err);
}
