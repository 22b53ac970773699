/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store lifecycle: open (driver by URI, schema check or migration, writer
 * start), the pool of read connections, and small helpers shared by the
 * store files (page tokens, run ids from request args).
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/json.h"
#include "governance/audit.h"
#include "store/store_internal.h"

#include <sodium.h>
#include <string.h>

static enum tr_err open_checked(struct tr_store *s, const struct tr_store_opts *opts,
				struct tr_buf *err)
{
	int version = -1;
	enum tr_err rc = tr_db_open(s->driver, s->path, false, &s->wdb, err);
	if (rc)
		return rc;
	rc = store_schema_version(s->wdb, &version, err);
	if (rc)
		return rc;
	if (version > TR_SCHEMA_VERSION)
		return tr_fail(err, TR_ERR_INVALID_STATE,
			       "store '%s' has schema version %d, newer than this trellis (%d)",
			       s->path, version, TR_SCHEMA_VERSION);
	if (version < TR_SCHEMA_VERSION) {
		/* -1: an empty store, migrated automatically */
		if (version >= 0 && !(opts && opts->upgrade))
			return tr_fail(
			    err, TR_ERR_INVALID_STATE,
			    "store '%s' has schema version %d, this trellis needs %d: run "
			    "`trellis db upgrade`",
			    s->path, version, TR_SCHEMA_VERSION);
		rc = store_migrate(s->wdb, version, err);
	}
	return rc;
}

enum tr_err tr_store_open(const char *uri, const struct tr_store_opts *opts, struct tr_store **out,
			  struct tr_buf *err)
{
	if (sodium_init() < 0)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "libsodium failed to initialise");
	struct tr_store *s = tr_xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->q_lock, NULL);
	pthread_cond_init(&s->q_cond, NULL);
	s->artifact_root =
	    tr_xstrdup(opts && opts->artifact_root ? opts->artifact_root : "mlflow-artifacts:");
	enum tr_err rc = tr_store_uri_parse(uri, &s->driver, &s->path, err);
	if (!rc)
		rc = open_checked(s, opts, err);
	if (!rc)
		rc = store_writer_start(s, err);
	if (rc) {
		tr_store_close(s);
		return rc;
	}
	*out = s;
	return TR_OK;
}

void tr_store_drain(struct tr_store *s)
{
	if (s)
		store_writer_stop(s);
}

void tr_store_close(struct tr_store *s)
{
	if (!s)
		return;
	store_writer_stop(s);
	tr_db_close(s->wdb);
	while (s->free_readers) {
		struct reader *r = s->free_readers;
		s->free_readers = r->next;
		tr_db_close(r->db);
		free(r);
	}
	pthread_mutex_destroy(&s->pool_lock);
	pthread_mutex_destroy(&s->q_lock);
	pthread_cond_destroy(&s->q_cond);
	free(s->path);
	free(s->artifact_root);
	free(s);
}

enum tr_err tr_store_schema_version(const char *uri, int *out, struct tr_buf *err)
{
	const struct tr_db_ops *driver;
	char *path;
	struct tr_db *db = NULL;
	enum tr_err rc = tr_store_uri_parse(uri, &driver, &path, err);
	if (rc)
		return rc;
	rc = tr_db_open(driver, path, false, &db, err);
	if (!rc)
		rc = store_schema_version(db, out, err);
	tr_db_close(db);
	free(path);
	return rc;
}

enum tr_err tr_store_backup(struct tr_store *s, const char *path, struct tr_buf *err)
{
	struct tr_db *db;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = tr_db_backup(db, path, err);
	store_reader_put(s, db);
	return rc;
}

void tr_store_stats(struct tr_store *s, uint64_t *batches, uint64_t *writes)
{
	pthread_mutex_lock(&s->q_lock);
	*batches = s->n_batches;
	*writes = s->n_writes;
	pthread_mutex_unlock(&s->q_lock);
}

enum tr_err store_reader_get(struct tr_store *s, struct tr_db **out, struct tr_buf *err)
{
	pthread_mutex_lock(&s->pool_lock);
	struct reader *r = s->free_readers;
	if (r)
		s->free_readers = r->next;
	pthread_mutex_unlock(&s->pool_lock);
	if (r) {
		*out = r->db;
		free(r);
		return TR_OK;
	}
	return tr_db_open(s->driver, s->path, true, out, err);
}

void store_reader_put(struct tr_store *s, struct tr_db *db)
{
	struct reader *r = tr_xmalloc(sizeof(*r));
	r->db = db;
	pthread_mutex_lock(&s->pool_lock);
	r->next = s->free_readers;
	s->free_readers = r;
	pthread_mutex_unlock(&s->pool_lock);
}

enum tr_err store_page_token_parse(const char *token, int64_t *offset, struct tr_buf *err)
{
	*offset = 0;
	if (!token || !*token)
		return TR_OK;
	size_t n = strlen(token);
	if (n > 4096)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid page token");
	unsigned char *raw = tr_xmalloc(n + 1);
	size_t len = 0;
	enum tr_err rc = TR_OK;
	if (sodium_base642bin(raw, n, token, n, " \n", &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) &&
	    sodium_base642bin(raw, n, token, n, " \n", &len, NULL, sodium_base64_VARIANT_URLSAFE)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid page token, could not base64-decode");
		goto out;
	}
	json_t *j = json_loadb((const char *)raw, len, 0, NULL);
	json_t *o = j ? json_object_get(j, "offset") : NULL;
	if (!o || !json_is_integer(o) || json_integer_value(o) < 0)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid page token");
	else
		*offset = json_integer_value(o);
	json_decref(j);
out:
	free(raw);
	return rc;
}

char *store_page_token_make(int64_t offset)
{
	char json[64];
	int n = snprintf(json, sizeof(json), "{\"offset\": %lld}", (long long)offset);
	size_t cap = sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_ORIGINAL);
	char *out = tr_xmalloc(cap);
	sodium_bin2base64(out, cap, (const unsigned char *)json, (size_t)n,
			  sodium_base64_VARIANT_ORIGINAL);
	return out;
}

enum tr_err store_args_run_id(json_t *args, const char **out, struct tr_buf *err)
{
	enum tr_err rc = tr_json_str(args, "run_id", out, err);
	if (rc)
		return rc;
	if (!*out || !**out) {
		rc = tr_json_str(args, "run_uuid", out, err);
		if (rc)
			return rc;
	}
	if (!*out || !**out)
		return tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Missing value for required parameter 'run_id'. See the API docs for "
		    "more information about request parameters.");
	return TR_OK;
}

enum tr_err tr_store_audit_verify(struct tr_store *s, int64_t *count, int64_t *bad_seq,
				  struct tr_buf *err)
{
	struct tr_db *db;
	enum tr_err rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = tr_audit_verify(db, count, bad_seq, err);
	store_reader_put(s, db);
	return rc;
}

enum tr_err store_search_parse(json_t *args, enum tr_search_target target, const char *view_key,
			       struct store_search *out, struct tr_buf *err)
{
	return store_search_parse_limits(args, target, view_key, 1000, 50000, out, err);
}

enum tr_err store_search_parse_limits(json_t *args, enum tr_search_target target,
				      const char *view_key, int64_t def_max, int64_t cap,
				      struct store_search *out, struct tr_buf *err)
{
	const char *filter, *token;
	bool present;
	json_t *order = NULL;
	const char **order_v = NULL;
	size_t n_order = 0;
	memset(out, 0, sizeof(*out));
	out->view_type = 1;
	enum tr_err rc = tr_json_str(args, "filter", &filter, err);
	if (!rc)
		rc = tr_json_str(args, "page_token", &token, err);
	if (!rc)
		rc = tr_json_int64(args, "max_results", &out->max_results, &present, err);
	if (!rc && !present)
		out->max_results = def_max;
	if (!rc && (out->max_results < 1 || out->max_results > cap))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid value %lld for parameter 'max_results' supplied. It must be "
			     "at most %lld and at least 1",
			     (long long)out->max_results, (long long)cap);
	if (!rc && view_key) {
		json_t *v = json_object_get(args, view_key);
		if (json_is_integer(v)) {
			out->view_type = (int)json_integer_value(v);
			if (out->view_type < 1 || out->view_type > 3)
				rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid %s",
					     view_key);
		} else if (v && !json_is_string(v) && !json_is_null(v)) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid %s", view_key);
		} else {
			rc = tr_validate_view_type(json_is_string(v) ? json_string_value(v) : NULL,
						   &out->view_type, err);
		}
	}
	if (!rc)
		rc = store_page_token_parse(token, &out->offset, err);
	if (!rc)
		rc = tr_json_array(args, "order_by", &order, err);
	if (rc)
		goto out;
	order_v = tr_xcalloc(json_array_size(order) + 1, sizeof(char *));
	size_t i;
	json_t *x;
	json_array_foreach(order, i, x)
	{
		if (!json_is_string(x)) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "order_by must be a list of strings");
			goto out;
		}
		order_v[n_order++] = json_string_value(x); /* borrowed from ARGS */
	}
	rc = tr_search_compile(target, filter, order_v, n_order, &out->q, err);
out:
	free(order_v);
	json_decref(order);
	return rc;
}

void store_search_release(struct store_search *ss)
{
	tr_search_query_release(&ss->q);
}

const char *store_search_view_sql(const struct store_search *ss, bool runs)
{
	if (ss->view_type == 3)
		return "1=1";
	if (runs)
		return ss->view_type == 2 ? "r.lifecycle_stage = 'deleted'"
					  : "r.lifecycle_stage = 'active'";
	return ss->view_type == 2 ? "e.lifecycle_stage = 'deleted'"
				  : "e.lifecycle_stage = 'active'";
}

void store_search_bind(struct tr_db *db, struct tr_db_stmt *st, const struct store_search *ss,
		       int *idx)
{
	for (size_t i = 0; i < ss->q.n_binds; i++, (*idx)++) {
		const struct tr_bind *b = &ss->q.binds[i];
		if (b->type == TR_BIND_TEXT)
			tr_db_bind_text(db, st, *idx, b->text);
		else if (b->type == TR_BIND_INT64)
			tr_db_bind_int64(db, st, *idx, b->i64);
		else
			tr_db_bind_double(db, st, *idx, b->f64);
	}
}

enum tr_err store_kv_parse(json_t *obj, const char *what, const char **key, const char **value,
			   struct tr_buf *err)
{
	if (!json_is_object(obj))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "each %s must be an object with key and value", what);
	enum tr_err rc = tr_json_req_str(obj, "key", key, err);
	if (!rc)
		rc = tr_json_str(obj, "value", value, err);
	if (!rc && !*value)
		*value = "";
	if (!rc)
		rc = tr_validate_key(what, *key, err);
	return rc;
}

enum tr_err store_kv_rows(struct tr_db *db, const char *sql, const char *id, int64_t version,
			  json_t *list, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, id);
	if (version >= 0)
		tr_db_bind_int64(db, st, 2, version);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(list, json_pack("{s:s,s:s}", "key", tr_db_col_text(db, st, 0),
						      "value", tr_db_col_text(db, st, 1)));
	}
	tr_db_done(db, st);
	return rc;
}
