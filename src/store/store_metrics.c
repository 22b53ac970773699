/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric points: one row per point (see docs/ARCHITECTURE.md for why, and the
 * measurements), NaN kept with an is_nan flag (SQL stores NaN as NULL), ±Inf
 * kept as IEEE infinities. latest_metrics holds each key's newest point by
 * (step, timestamp, value) and is updated once per key per write, so searches
 * and sorts on metrics never scan history. History is served in MLflow's
 * order (timestamp, step, value), paged; the bulk-interval read samples
 * steps evenly for charts.
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/json.h"
#include "store/store_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum tr_err store_metric_parse(json_t *obj, struct tr_metric *m, struct tr_buf *err)
{
	bool present;
	memset(m, 0, sizeof(*m));
	enum tr_err rc = tr_json_req_str(obj, "key", &m->key, err);
	if (!rc)
		rc = tr_validate_key("metric", m->key, err);
	if (!rc)
		rc = tr_json_double(obj, "value", &m->value, &present, err);
	if (!rc && !present)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Missing value for required parameter 'value'. See the API docs for more "
			     "information about request parameters.");
	if (!rc)
		rc = tr_json_int64(obj, "timestamp", &m->timestamp, &present, err);
	if (!rc && !present)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Missing value for required parameter 'timestamp'. See the API docs for "
			     "more information about request parameters.");
	if (!rc)
		rc = tr_validate_metric_timestamp(m->timestamp, m->key, err);
	if (!rc)
		rc = tr_json_int64(obj, "step", &m->step, &present, err);
	if (!rc && !present)
		m->step = 0;
	if (!rc)
		rc = tr_json_str(obj, "model_id", &m->model_id, err);
	if (!rc)
		rc = tr_json_str(obj, "dataset_name", &m->dataset_name, err);
	if (!rc)
		rc = tr_json_str(obj, "dataset_digest", &m->dataset_digest, err);
	return rc;
}

/* (step, timestamp, value) ordering used for "latest"; NaN compares as 0. */
static int newer(const struct tr_metric *a, const struct tr_metric *b)
{
	if (a->step != b->step)
		return a->step > b->step ? 1 : -1;
	if (a->timestamp != b->timestamp)
		return a->timestamp > b->timestamp ? 1 : -1;
	double va = isnan(a->value) ? 0 : a->value, vb = isnan(b->value) ? 0 : b->value;
	return va > vb ? 1 : va < vb ? -1 : 0;
}

static int by_key(const void *x, const void *y)
{
	const struct tr_metric *const *a = x, *const *b = y;
	return strcmp((*a)->key, (*b)->key);
}

enum tr_err store_metrics_insert(struct tr_db *db, const char *run_id, const struct tr_metric *ms,
				 size_t n, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	enum tr_err rc = tr_db_prepare(
		db,
		"INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id,"
		" dataset_name, dataset_digest) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
		&st, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct tr_metric *m = &ms[i];
		bool row, nan = isnan(m->value);
		tr_db_bind_text(db, st, 1, run_id);
		tr_db_bind_text(db, st, 2, m->key);
		tr_db_bind_int64(db, st, 3, m->step);
		tr_db_bind_int64(db, st, 4, m->timestamp);
		tr_db_bind_double(db, st, 5, nan ? 0.0 : m->value);
		tr_db_bind_int64(db, st, 6, nan);
		tr_db_bind_text(db, st, 7, m->model_id);
		tr_db_bind_text(db, st, 8, m->dataset_name);
		tr_db_bind_text(db, st, 9, m->dataset_digest);
		rc = tr_db_step(db, st, &row, err);
		tr_db_reset(db, st);
	}
	tr_db_done(db, st);
	if (rc)
		return rc;
	/* one latest-value upsert per distinct key */
	const struct tr_metric **sorted = tr_xmalloc((n ? n : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ms[i];
	qsort(sorted, n, sizeof(*sorted), by_key);
	for (size_t i = 0; i < n && !rc;) {
		const struct tr_metric *best = sorted[i];
		size_t j = i + 1;
		for (; j < n && !strcmp(sorted[j]->key, best->key); j++)
			if (newer(sorted[j], best) > 0)
				best = sorted[j];
		i = j;
		bool nan = isnan(best->value);
		rc = tr_db_run(db, err,
			       "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan)"
			       " VALUES (?,?,?,?,?,?) ON CONFLICT (run_uuid, key) DO UPDATE SET"
			       " step = excluded.step, timestamp = excluded.timestamp,"
			       " value = excluded.value, is_nan = excluded.is_nan"
			       " WHERE (excluded.step, excluded.timestamp, excluded.value) >"
			       " (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
			       "ttiidi", run_id, best->key, best->step, best->timestamp, nan ? 0.0 : best->value,
			       (int64_t)nan);
	}
	free(sorted);
	return rc;
}

static json_t *point_json(struct tr_db *db, struct tr_db_stmt *st, int c_key)
{
	double v = tr_db_col_int64(db, st, c_key + 4) ? NAN : tr_db_col_double(db, st, c_key + 3);
	return json_pack("{s:s,s:o,s:I,s:I}", "key", tr_db_col_text(db, st, c_key), "value",
			 tr_json_from_double(v), "timestamp", (json_int_t)tr_db_col_int64(db, st, c_key + 2),
			 "step", (json_int_t)tr_db_col_int64(db, st, c_key + 1));
}

json_t *store_latest_metrics_json(struct tr_db *db, const char *run_id, struct tr_buf *err,
				  enum tr_err *rc)
{
	struct tr_db_stmt *st;
	*rc = tr_db_prepare(db,
			    "SELECT key, step, timestamp, value, is_nan FROM latest_metrics"
			    " WHERE run_uuid = ? ORDER BY key",
			    &st, err);
	if (*rc)
		return NULL;
	tr_db_bind_text(db, st, 1, run_id);
	json_t *list = json_array();
	bool row = true;
	while (!*rc) {
		*rc = tr_db_step(db, st, &row, err);
		if (*rc || !row)
			break;
		json_array_append_new(list, point_json(db, st, 0));
	}
	tr_db_done(db, st);
	return list;
}

static enum tr_err run_exists(struct tr_db *db, const char *run_id, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	enum tr_err rc = tr_db_prepare(db, "SELECT 1 FROM runs WHERE run_uuid = ?", &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	rc = tr_db_step(db, st, &row, err);
	tr_db_done(db, st);
	if (!rc && !row)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
	return rc;
}

enum tr_err tr_store_metric_history(struct tr_store *s, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *run_id, *key, *token;
	int64_t max_results = 0, offset = 0;
	bool present;
	struct tr_db *db = NULL;
	enum tr_err rc = store_args_run_id(args, &run_id, err);
	if (!rc)
		rc = tr_json_req_str(args, "metric_key", &key, err);
	if (!rc)
		rc = tr_json_str(args, "page_token", &token, err);
	if (!rc)
		rc = tr_json_int64(args, "max_results", &max_results, &present, err);
	if (!rc && max_results < 0)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "max_results must be at least 0");
	if (!rc)
		rc = store_page_token_parse(token, &offset, err);
	if (!rc)
		rc = store_reader_get(s, &db, err);
	if (rc)
		return rc;
	rc = run_exists(db, run_id, err);
	struct tr_db_stmt *st = NULL;
	if (!rc)
		rc = tr_db_prepare(db,
				   "SELECT key, step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?"
				   " AND key = ? ORDER BY timestamp, step, value LIMIT ? OFFSET ?",
				   &st, err);
	json_t *list = json_array();
	bool more = false;
	if (!rc) {
		tr_db_bind_text(db, st, 1, run_id);
		tr_db_bind_text(db, st, 2, key);
		tr_db_bind_int64(db, st, 3, max_results > 0 ? max_results + 1 : -1);
		tr_db_bind_int64(db, st, 4, offset);
		bool row = true;
		while (!rc) {
			rc = tr_db_step(db, st, &row, err);
			if (rc || !row)
				break;
			if (max_results > 0 && (int64_t)json_array_size(list) == max_results) {
				more = true;
				break;
			}
			json_array_append_new(list, point_json(db, st, 0));
		}
		tr_db_done(db, st);
	}
	store_reader_put(s, db);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = json_object();
	if (json_array_size(list))
		json_object_set(*out, "metrics", list);
	json_decref(list);
	if (more) {
		char *t = store_page_token_make(offset + max_results);
		json_object_set_new(*out, "next_page_token", json_string(t));
		free(t);
	}
	return TR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

enum tr_err tr_store_metric_history_bulk_interval(struct tr_store *s, json_t *args, json_t **out,
						  struct tr_buf *err)
{
	const char *key;
	json_t *runs = NULL;
	int64_t start = INT64_MIN, end = INT64_MAX, max_results = 320;
	bool has;
	struct tr_db *db = NULL;
	int64_t *steps = NULL;
	size_t n_steps = 0, cap = 0;
	enum tr_err rc = tr_json_req_str(args, "metric_key", &key, err);
	if (!rc)
		rc = tr_json_array(args, "run_ids", &runs, err);
	if (!rc && (!runs || !json_array_size(runs)))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Missing value for required parameter 'run_ids'. See the API docs for "
			     "more information about request parameters.");
	if (!rc && json_array_size(runs) > 100)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. "
			     "Received %zu run_ids.",
			     json_array_size(runs));
	if (!rc)
		rc = tr_json_int64(args, "start_step", &start, &has, err);
	if (!rc && !has)
		start = INT64_MIN;
	if (!rc)
		rc = tr_json_int64(args, "end_step", &end, &has, err);
	if (!rc && !has)
		end = INT64_MAX;
	if (!rc)
		rc = tr_json_int64(args, "max_results", &max_results, &has, err);
	if (!rc && !has)
		max_results = 320;
	if (!rc && (max_results < 1 || max_results > 2500))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "max_results must be between 1 and 2500, got %lld", (long long)max_results);
	if (!rc && start > end)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "end_step must be greater than start_step");
	if (!rc)
		rc = store_reader_get(s, &db, err);
	if (rc) {
		json_decref(runs);
		return rc;
	}
	json_t *list = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(runs, i, r) {
		if (!json_is_string(r)) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "run_ids must be strings");
			break;
		}
		const char *run_id = json_string_value(r);
		rc = run_exists(db, run_id, err);
		if (rc)
			break;
		/* sample this run's distinct steps evenly, keeping the first and last */
		struct tr_db_stmt *st;
		n_steps = 0;
		rc = tr_db_prepare(db,
				   "SELECT DISTINCT step FROM metrics WHERE run_uuid = ? AND key = ?"
				   " AND step >= ? AND step <= ? ORDER BY step",
				   &st, err);
		if (rc)
			break;
		tr_db_bind_text(db, st, 1, run_id);
		tr_db_bind_text(db, st, 2, key);
		tr_db_bind_int64(db, st, 3, start);
		tr_db_bind_int64(db, st, 4, end);
		bool row = true;
		while (!rc) {
			rc = tr_db_step(db, st, &row, err);
			if (rc || !row)
				break;
			if (n_steps == cap) {
				cap = cap ? 2 * cap : 256;
				steps = tr_xrealloc(steps, cap * sizeof(*steps));
			}
			steps[n_steps++] = tr_db_col_int64(db, st, 0);
		}
		tr_db_done(db, st);
		if (rc)
			break;
		if ((int64_t)n_steps > max_results) {
			size_t m = (size_t)max_results;
			for (size_t k = 0; k < m; k++)
				steps[k] = steps[m == 1 ? 0 : k * (n_steps - 1) / (m - 1)];
			n_steps = m;
		}
		qsort(steps, n_steps, sizeof(*steps), cmp_i64);
		for (size_t k = 0; k < n_steps && !rc; k++) {
			rc = tr_db_prepare(db,
					   "SELECT key, step, timestamp, value, is_nan FROM metrics WHERE"
					   " run_uuid = ? AND key = ? AND step = ? ORDER BY timestamp, value",
					   &st, err);
			if (rc)
				break;
			tr_db_bind_text(db, st, 1, run_id);
			tr_db_bind_text(db, st, 2, key);
			tr_db_bind_int64(db, st, 3, steps[k]);
			row = true;
			while (!rc) {
				rc = tr_db_step(db, st, &row, err);
				if (rc || !row)
					break;
				json_t *p = point_json(db, st, 0);
				json_object_set_new(p, "run_id", json_string(run_id));
				json_array_append_new(list, p);
			}
			tr_db_done(db, st);
		}
		if (rc)
			break;
	}
	store_reader_put(s, db);
	free(steps);
	json_decref(runs);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*out = json_object();
	if (json_array_size(list))
		json_object_set(*out, "metrics", list);
	json_decref(list);
	return TR_OK;
}
