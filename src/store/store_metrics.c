/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric points, stored in chunks: each (run, key) has a sequence of blobs of
 * packed points (metric_chunk.h). A write of k points for one key appends
 * them to the key's small tail chunk (while it stays under TAIL_MAX points) or
 * adds new chunks of up to CHUNK_MAX points, so a 1,000-point log-batch costs a
 * handful of row writes instead of 1,000. Reads decode a key's chunks, then
 * sort and de-duplicate exactly as MLflow's primary key does. NaN and ±Inf are
 * kept as themselves. latest_metrics holds each key's newest point by
 * (step, timestamp, value), updated once per key per write, so metric filters
 * and sorts never touch history.
 */
#include "api/validate.h"
#include "core/alloc.h"
#include "core/json.h"
#include "store/metric_chunk.h"
#include "store/store_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum tr_err store_metric_check(const struct tr_metric *m, struct tr_buf *err)
{
	enum tr_err rc = tr_validate_key("metric", m->key, err);
	if (!rc)
		rc = tr_validate_metric_timestamp(m->timestamp, m->key, err);
	return rc;
}

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
		rc = tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Missing value for required parameter 'value'. See the API docs for more "
		    "information about request parameters.");
	if (!rc)
		rc = tr_json_int64(obj, "timestamp", &m->timestamp, &present, err);
	if (!rc && !present)
		rc = tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
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

#define TAIL_MAX  64
#define CHUNK_MAX 4096

/* Appends points [FROM, TO) of SORTED (all one key) to the key's chunks. */
static enum tr_err append_points(struct tr_db *db, const char *run_id,
				 const struct tr_metric **sorted, size_t from, size_t to,
				 struct tr_buf *err)
{
	const char *key = sorted[from]->key;
	struct tr_db_stmt *st;
	bool row;
	int64_t last_seq = -1, last_n = 0;
	struct tr_buf data = TR_BUF_INIT;
	enum tr_err rc = tr_db_prepare(
	    db,
	    "SELECT seq, n, min_step, max_step, data FROM metric_chunks WHERE run_uuid = ?"
	    " AND key = ? ORDER BY seq DESC LIMIT 1",
	    &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	tr_db_bind_text(db, st, 2, key);
	rc = tr_db_step(db, st, &row, err);
	size_t k = to - from;
	bool extend = false;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	if (!rc && row) {
		last_seq = tr_db_col_int64(db, st, 0);
		last_n = tr_db_col_int64(db, st, 1);
		if (last_n + (int64_t)k <= TAIL_MAX) {
			size_t len;
			const void *blob = tr_db_col_blob(db, st, 4, &len);
			lo = tr_db_col_int64(db, st, 2);
			hi = tr_db_col_int64(db, st, 3);
			tr_buf_append(&data, blob, len);
			extend = true;
		}
	}
	tr_db_done(db, st);
	for (size_t i = from; !rc && i < to;) {
		size_t end = i + CHUNK_MAX < to ? i + CHUNK_MAX : to;
		for (size_t j = i; j < end; j++) {
			const struct tr_metric *m = sorted[j];
			struct tr_point p = {m->step,	  m->timestamp,	   m->value,
					     m->model_id, m->dataset_name, m->dataset_digest};
			tr_chunk_append(&data, &p);
			lo = m->step < lo ? m->step : lo;
			hi = m->step > hi ? m->step : hi;
		}
		if (extend) {
			rc = tr_db_prepare(
			    db,
			    "UPDATE metric_chunks SET n = ?, min_step = ?, max_step = ?, data = ?"
			    " WHERE run_uuid = ? AND key = ? AND seq = ?",
			    &st, err);
			if (!rc) {
				tr_db_bind_int64(db, st, 1, last_n + (int64_t)(end - i));
				tr_db_bind_int64(db, st, 2, lo);
				tr_db_bind_int64(db, st, 3, hi);
				tr_db_bind_blob(db, st, 4, data.data, data.len);
				tr_db_bind_text(db, st, 5, run_id);
				tr_db_bind_text(db, st, 6, key);
				tr_db_bind_int64(db, st, 7, last_seq);
				rc = tr_db_step(db, st, &row, err);
				tr_db_done(db, st);
			}
			extend = false;
		} else {
			rc = tr_db_prepare(db,
					   "INSERT INTO metric_chunks (run_uuid, key, seq, n, "
					   "min_step, max_step, data)"
					   " VALUES (?,?,?,?,?,?,?)",
					   &st, err);
			if (!rc) {
				tr_db_bind_text(db, st, 1, run_id);
				tr_db_bind_text(db, st, 2, key);
				tr_db_bind_int64(db, st, 3, ++last_seq);
				tr_db_bind_int64(db, st, 4, (int64_t)(end - i));
				tr_db_bind_int64(db, st, 5, lo);
				tr_db_bind_int64(db, st, 6, hi);
				tr_db_bind_blob(db, st, 7, data.data, data.len);
				rc = tr_db_step(db, st, &row, err);
				tr_db_done(db, st);
			}
		}
		tr_buf_reset(&data);
		lo = INT64_MAX;
		hi = INT64_MIN;
		i = end;
	}
	tr_buf_release(&data);
	return rc;
}

enum tr_err store_metrics_insert(struct tr_db *db, const char *run_id, const struct tr_metric *ms,
				 size_t n, struct tr_buf *err)
{
	enum tr_err rc = TR_OK;
	const struct tr_metric **sorted = tr_xmalloc((n ? n : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ms[i];
	qsort(sorted, n, sizeof(*sorted), by_key);
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i + 1;
		while (j < n && !strcmp(sorted[j]->key, sorted[i]->key))
			j++;
		rc = append_points(db, run_id, sorted, i, j, err);
		i = j;
	}
	/* one latest-value upsert per distinct key */
	for (size_t i = 0; i < n && !rc;) {
		const struct tr_metric *best = sorted[i];
		size_t j = i + 1;
		for (; j < n && !strcmp(sorted[j]->key, best->key); j++)
			if (newer(sorted[j], best) > 0)
				best = sorted[j];
		i = j;
		bool nan = isnan(best->value);
		rc = tr_db_run(
		    db, err,
		    "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan)"
		    " VALUES (?,?,?,?,?,?) ON CONFLICT (run_uuid, key) DO UPDATE SET"
		    " step = excluded.step, timestamp = excluded.timestamp,"
		    " value = excluded.value, is_nan = excluded.is_nan"
		    " WHERE (excluded.step, excluded.timestamp, excluded.value) >"
		    " (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
		    "ttiidi", run_id, best->key, best->step, best->timestamp,
		    nan ? 0.0 : best->value, (int64_t)nan);
	}
	free(sorted);
	return rc;
}

json_t *store_metric_row_json(struct tr_db *db, struct tr_db_stmt *st, int col)
{
	double v = tr_db_col_int64(db, st, col + 4) ? NAN : tr_db_col_double(db, st, col + 3);
	json_t *m = json_object();
	tr_json_put_str(m, "key", tr_db_col_text(db, st, col));
	json_object_set_new_nocheck(m, "value", tr_json_from_double(v));
	tr_json_put_int(m, "timestamp", tr_db_col_int64(db, st, col + 2));
	tr_json_put_int(m, "step", tr_db_col_int64(db, st, col + 1));
	return m;
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
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found",
			     run_id);
	return rc;
}

static json_t *point_to_json(const char *key, const struct tr_point *p)
{
	return json_pack("{s:s,s:o,s:I,s:I}", "key", key, "value", tr_json_from_double(p->value),
			 "timestamp", (json_int_t)p->timestamp, "step", (json_int_t)p->step);
}

/* Decodes the points of (RUN_ID, KEY) with LO <= step <= HI into *OUT (new
 * array, free with free()), sorted and de-duplicated in MLflow's order. */
static enum tr_err load_points(struct tr_db *db, const char *run_id, const char *key, int64_t lo,
			       int64_t hi, struct tr_point **out, size_t *n_out, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	struct tr_point *pts = NULL;
	size_t n = 0, cap = 0;
	bool row = true;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT data FROM metric_chunks WHERE run_uuid = ? AND key = ?"
			  " AND max_step >= ? AND min_step <= ? ORDER BY seq",
			  &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, run_id);
	tr_db_bind_text(db, st, 2, key);
	tr_db_bind_int64(db, st, 3, lo);
	tr_db_bind_int64(db, st, 4, hi);
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		size_t len, before = n;
		const unsigned char *blob = tr_db_col_blob(db, st, 0, &len);
		if (tr_chunk_decode(blob, len, &pts, &n, &cap)) {
			rc = tr_fail(err, TR_ERR_DATA_LOSS,
				     "metric '%s' of run '%s' has a corrupt chunk", key, run_id);
			break;
		}
		size_t w = before; /* keep only the points inside the step range */
		for (size_t r = before; r < n; r++)
			if (pts[r].step >= lo && pts[r].step <= hi)
				pts[w++] = pts[r];
		n = w;
	}
	tr_db_done(db, st);
	if (rc) {
		free(pts);
		return rc;
	}
	*n_out = tr_chunk_sort_unique(pts, n);
	*out = pts;
	return TR_OK;
}

enum tr_err tr_store_metric_history(struct tr_store *s, json_t *args, json_t **out,
				    struct tr_buf *err)
{
	const char *run_id, *key, *token;
	int64_t max_results = 0, offset = 0;
	bool present;
	struct tr_db *db = NULL;
	struct tr_point *pts = NULL;
	size_t n = 0;
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
	if (!rc)
		rc = load_points(db, run_id, key, INT64_MIN, INT64_MAX, &pts, &n, err);
	store_reader_put(s, db);
	if (rc)
		return rc;
	size_t from = offset < (int64_t)n ? (size_t)offset : n;
	size_t to =
	    max_results > 0 && (size_t)max_results < n - from ? from + (size_t)max_results : n;
	json_t *list = json_array();
	for (size_t i = from; i < to; i++)
		json_array_append_new(list, point_to_json(key, &pts[i]));
	free(pts);
	*out = json_object();
	if (json_array_size(list))
		json_object_set(*out, "metrics", list);
	json_decref(list);
	if (to < n) {
		char *t = store_page_token_make((int64_t)to);
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
	enum tr_err rc = tr_json_req_str(args, "metric_key", &key, err);
	if (!rc)
		rc = tr_json_array(args, "run_ids", &runs, err);
	if (!rc && (!runs || !json_array_size(runs)))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Missing value for required parameter 'run_ids'. See the API docs for "
			     "more information about request parameters.");
	if (!rc && json_array_size(runs) > 100)
		rc = tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
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
			     "max_results must be between 1 and 2500, got %lld",
			     (long long)max_results);
	if (!rc && start > end)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "end_step must be greater than start_step");
	if (!rc)
		rc = store_reader_get(s, &db, err);
	if (rc) {
		json_decref(runs);
		return rc;
	}
	json_t *list = json_array();
	int64_t *steps = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		if (!json_is_string(r)) {
			rc =
			    tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "run_ids must be strings");
			break;
		}
		const char *run_id = json_string_value(r);
		struct tr_point *pts = NULL;
		size_t n = 0;
		rc = run_exists(db, run_id, err);
		if (!rc)
			rc = load_points(db, run_id, key, start, end, &pts, &n, err);
		if (rc)
			break;
		/* the run's distinct steps, sampled evenly keeping the first and last */
		steps = tr_xrealloc(steps, (n ? n : 1) * sizeof(*steps));
		for (size_t k = 0; k < n; k++)
			steps[k] = pts[k].step;
		qsort(steps, n, sizeof(*steps), cmp_i64);
		size_t n_steps = 0;
		for (size_t k = 0; k < n; k++)
			if (!n_steps || steps[k] != steps[n_steps - 1])
				steps[n_steps++] = steps[k];
		if ((int64_t)n_steps > max_results) {
			size_t m = (size_t)max_results;
			for (size_t k = 0; k < m; k++)
				steps[k] = steps[m == 1 ? 0 : k * (n_steps - 1) / (m - 1)];
			n_steps = m;
		}
		/* points at the chosen steps, in (step, timestamp) order */
		for (size_t sidx = 0; sidx < n_steps; sidx++) {
			for (size_t k = 0; k < n; k++) {
				if (pts[k].step != steps[sidx])
					continue;
				json_t *p = point_to_json(key, &pts[k]);
				json_object_set_new(p, "run_id", json_string(run_id));
				json_array_append_new(list, p);
			}
		}
		free(pts);
	}
	free(steps);
	store_reader_put(s, db);
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
