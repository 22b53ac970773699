/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runs/search. The general plan filters the experiments' runs with the
 * compiled WHERE and sorts them. When the first order_by key is a metric
 * (the common "best runs by accuracy" query), sorting every match is the
 * cost that grows with the experiment; instead the query walks
 * latest_metrics' (key, is_nan, value) index in the requested direction,
 * joins each run, applies the filter and stops at the page's end. MLflow's
 * order puts runs with a NaN value after real values and runs without the
 * metric last, so the result is three tiers read in turn: real values (the
 * index walk), NaN, missing. Pages are offsets into that concatenation. A
 * param or tag first in order_by is walked the same way on params' or tags'
 * (key, value) index: two tiers, the runs having it, then the others.
 */
#include "core/alloc.h"
#include "core/json.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

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

struct plan {
	struct store_search ss;
	int64_t *exp_ids;
	size_t n_ids;
	struct tr_buf scope;	  /* "r.experiment_id IN (?,..) AND <view> AND (<where>)" */
	struct tr_buf lead_scope; /* the same with the lead-bounding clauses left out */
};

static void bind_range(struct tr_db *db, struct tr_db_stmt *st, const struct tr_bind *b, size_t n,
		       int *idx)
{
	for (size_t i = 0; i < n; i++, (*idx)++) {
		if (b[i].type == TR_BIND_TEXT)
			tr_db_bind_text(db, st, *idx, b[i].text);
		else if (b[i].type == TR_BIND_INT64)
			tr_db_bind_int64(db, st, *idx, b[i].i64);
		else
			tr_db_bind_double(db, st, *idx, b[i].f64);
	}
}

/* Binds the scope's values: experiment ids, then WHERE's (or, for the lead
 * walk, LEAD_FILTER's). */
static void bind_scope(struct tr_db *db, struct tr_db_stmt *st, const struct plan *p, bool lead,
		       int *idx)
{
	const struct tr_search_query *q = &p->ss.q;
	for (size_t i = 0; i < p->n_ids; i++)
		tr_db_bind_int64(db, st, (*idx)++, p->exp_ids[i]);
	if (!lead) {
		bind_range(db, st, q->binds, q->n_where_binds, idx);
		return;
	}
	size_t skip = q->n_where_binds + q->n_order_binds + q->n_lead_binds + q->n_rest_binds;
	bind_range(db, st, q->binds + skip, q->n_binds - skip, idx);
}

enum tier { TIER_ALL, TIER_REAL, TIER_NAN, TIER_MISSING };

/* The table whose (key, value) index the lead walk reads. */
static const char *lead_table(const struct tr_search_query *q)
{
	switch (q->lead_kind) {
	case TR_SEARCH_LEAD_PARAM:
		return "params";
	case TR_SEARCH_LEAD_TAG:
		return "tags";
	default:
		return "latest_metrics";
	}
}

/* Builds the SQL of TIER: SELECT of RUN_COLS, or of count(*) when COUNT. */
static void tier_sql(const struct plan *p, enum tier t, bool count, struct tr_buf *sql)
{
	const struct tr_search_query *q = &p->ss.q;
	const char *cols = count ? "count(*)" : RUN_COLS;
	switch (t) {
	case TIER_ALL:
		tr_buf_appendf(sql, "SELECT %s FROM runs r WHERE %s", cols, tr_buf_str(&p->scope));
		if (!count)
			tr_buf_appendf(sql, " ORDER BY %s", q->order_by);
		break;
	case TIER_REAL:
		/* CROSS JOIN keeps latest_metrics the outer loop: the index walk */
		tr_buf_appendf(sql,
			       "SELECT %s FROM %s om CROSS JOIN runs r WHERE om.key = ?%s"
			       " AND (%s) AND r.run_uuid = om.run_uuid AND %s",
			       cols, lead_table(q),
			       q->lead_kind == TR_SEARCH_LEAD_METRIC ? " AND om.is_nan = 0" : "",
			       q->lead_where, tr_buf_str(&p->lead_scope));
		if (!count)
			tr_buf_appendf(sql, " ORDER BY om.value %s, %s",
				       q->lead_asc ? "ASC" : "DESC", q->order_rest);
		break;
	case TIER_NAN:
		tr_buf_appendf(sql,
			       "SELECT %s FROM latest_metrics om CROSS JOIN runs r WHERE om.key = ?"
			       " AND om.is_nan = 1 AND r.run_uuid = om.run_uuid AND %s",
			       cols, tr_buf_str(&p->scope));
		if (!count)
			tr_buf_appendf(sql, " ORDER BY %s", q->order_rest);
		break;
	case TIER_MISSING:
		tr_buf_appendf(sql,
			       "SELECT %s FROM runs r WHERE NOT EXISTS (SELECT 1 FROM %s om"
			       " WHERE om.run_uuid = r.run_uuid AND om.key = ?) AND %s",
			       cols, lead_table(q), tr_buf_str(&p->scope));
		if (!count)
			tr_buf_appendf(sql, " ORDER BY %s", q->order_rest);
		break;
	}
	if (!count)
		tr_buf_appends(sql, " LIMIT ? OFFSET ?");
}

static void bind_tier(struct tr_db *db, struct tr_db_stmt *st, const struct plan *p, enum tier t,
		      bool count, int *idx)
{
	const struct tr_search_query *q = &p->ss.q;
	const struct tr_bind *lead = q->binds + q->n_where_binds + q->n_order_binds;
	const struct tr_bind *rest = lead + q->n_lead_binds;
	if (t != TIER_ALL)
		tr_db_bind_text(db, st, (*idx)++, q->lead_key);
	if (t == TIER_REAL)
		bind_range(db, st, lead, q->n_lead_binds, idx);
	bind_scope(db, st, p, t == TIER_REAL, idx);
	if (count)
		return;
	if (t == TIER_ALL)
		bind_range(db, st, q->binds + q->n_where_binds, q->n_order_binds, idx);
	else
		bind_range(db, st, rest, q->n_rest_binds, idx);
}

/* Appends up to LIMIT runs of TIER from OFFSET to LIST, as skeletons. */
static enum tr_err read_tier(struct tr_db *db, const struct plan *p, enum tier t, int64_t limit,
			     int64_t offset, json_t *list, struct tr_buf *err)
{
	struct tr_buf sql = TR_BUF_INIT;
	struct tr_db_stmt *st;
	tier_sql(p, t, false, &sql);
	enum tr_err rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	tr_buf_release(&sql);
	if (rc)
		return rc;
	int idx = 1;
	bind_tier(db, st, p, t, false, &idx);
	tr_db_bind_int64(db, st, idx++, limit);
	tr_db_bind_int64(db, st, idx++, offset);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		json_array_append_new(list, store_run_skeleton(db, st)); /* filled at the end */
	}
	tr_db_done(db, st);
	return rc;
}

static enum tr_err count_tier(struct tr_db *db, const struct plan *p, enum tier t, int64_t *out,
			      struct tr_buf *err)
{
	struct tr_buf sql = TR_BUF_INIT;
	struct tr_db_stmt *st;
	bool row;
	tier_sql(p, t, true, &sql);
	enum tr_err rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	tr_buf_release(&sql);
	if (rc)
		return rc;
	int idx = 1;
	bind_tier(db, st, p, t, true, &idx);
	rc = tr_db_step(db, st, &row, err);
	*out = !rc && row ? tr_db_col_int64(db, st, 0) : 0;
	tr_db_done(db, st);
	return rc;
}

/* Reads the page [offset, offset + limit) of the tiers' concatenation. */
static enum tr_err read_tiers(struct tr_db *db, const struct plan *p, json_t *list,
			      struct tr_buf *err)
{
	const struct tr_search_query *q = &p->ss.q;
	/* a top-level clause bounding the lead metric excludes NaN and missing
	 * runs; params and tags have no NaN tier */
	int n_tiers = q->n_lead_binds ? 1 : q->lead_kind == TR_SEARCH_LEAD_METRIC ? 3 : 2;
	static const enum tier metric_tiers[] = {TIER_REAL, TIER_NAN, TIER_MISSING};
	static const enum tier kv_tiers[] = {TIER_REAL, TIER_MISSING};
	const enum tier *tiers = q->lead_kind == TR_SEARCH_LEAD_METRIC ? metric_tiers : kv_tiers;
	int64_t offset = p->ss.offset, want = p->ss.max_results;
	for (int i = 0; i < n_tiers && want > 0; i++) {
		size_t before = json_array_size(list);
		enum tr_err rc = read_tier(db, p, tiers[i], want, offset, list, err);
		if (rc)
			return rc;
		int64_t got = (int64_t)(json_array_size(list) - before);
		want -= got;
		if (want == 0 || i + 1 == n_tiers)
			break;
		/* this tier is exhausted: the next one starts after its last row */
		if (got > 0) {
			offset = 0;
		} else if (offset > 0) {
			int64_t size;
			rc = count_tier(db, p, tiers[i], &size, err);
			if (rc)
				return rc;
			offset = offset > size ? offset - size : 0;
		}
	}
	return TR_OK;
}

/* Reads the search arguments and builds the query's scope. Release P with
 * plan_release(), also on failure. *EMPTY is set when no experiment id can
 * match (MLflow: no experiments, no runs). */
static enum tr_err plan_open(json_t *args, struct plan *p, bool *empty, struct tr_buf *err)
{
	json_t *exp_ids = NULL;
	*empty = false;
	enum tr_err rc = store_search_parse(args, TR_SEARCH_RUNS, "run_view_type", &p->ss, err);
	if (!rc)
		rc = tr_json_array(args, "experiment_ids", &exp_ids, err);
	if (rc)
		goto out;
	/* experiment ids are integers here; anything else matches nothing */
	p->exp_ids = tr_xcalloc(json_array_size(exp_ids) + 1, sizeof(*p->exp_ids));
	size_t i;
	json_t *x;
	json_array_foreach(exp_ids, i, x)
	{
		if (numeric_id(x, &p->exp_ids[p->n_ids]))
			p->n_ids++;
	}
	*empty = p->n_ids == 0;
	tr_buf_appends(&p->scope, "r.experiment_id IN (");
	for (i = 0; i < p->n_ids; i++)
		tr_buf_appends(&p->scope, i ? ",?" : "?");
	tr_buf_append(&p->lead_scope, p->scope.data, p->scope.len);
	tr_buf_appendf(&p->scope, ") AND %s AND (%s)", store_search_view_sql(&p->ss, true),
		       p->ss.q.where);
	if (p->ss.q.lead_key)
		tr_buf_appendf(&p->lead_scope, ") AND %s AND (%s)",
			       store_search_view_sql(&p->ss, true), p->ss.q.lead_filter);
out:
	json_decref(exp_ids);
	return rc;
}

static void plan_release(struct plan *p)
{
	store_search_release(&p->ss);
	tr_buf_release(&p->scope);
	tr_buf_release(&p->lead_scope);
	free(p->exp_ids);
}

enum tr_err tr_store_run_search(struct tr_store *s, json_t *args, json_t **out, struct tr_buf *err)
{
	struct plan p = {.scope = TR_BUF_INIT, .lead_scope = TR_BUF_INIT};
	json_t *list = json_array();
	struct tr_db *db = NULL;
	bool empty;
	enum tr_err rc = plan_open(args, &p, &empty, err);
	if (rc || empty)
		goto done;
	rc = store_reader_get(s, &db, err);
	if (rc)
		goto done;
	if (p.ss.q.lead_key)
		rc = read_tiers(db, &p, list, err);
	else
		rc = read_tier(db, &p, TIER_ALL, p.ss.max_results, p.ss.offset, list, err);
	if (!rc)
		rc = store_runs_fill(db, list, err);
done:
	if (!rc) {
		*out = json_object();
		/* as MLflow: a full page may be followed by more */
		if ((int64_t)json_array_size(list) == p.ss.max_results) {
			char *t = store_page_token_make(p.ss.offset + p.ss.max_results);
			json_object_set_new(*out, "next_page_token", json_string(t));
			free(t);
		}
		if (json_array_size(list))
			json_object_set(*out, "runs", list);
	}
	json_decref(list);
	if (db)
		store_reader_put(s, db);
	plan_release(&p);
	return rc;
}

enum tr_err store_run_search_explain(struct tr_store *s, json_t *args, struct tr_buf *plan,
				     struct tr_buf *err)
{
	struct plan p = {.scope = TR_BUF_INIT, .lead_scope = TR_BUF_INIT};
	struct tr_buf sql = TR_BUF_INIT;
	struct tr_db *db = NULL;
	bool empty;
	enum tr_err rc = plan_open(args, &p, &empty, err);
	if (!rc && empty)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "no experiment id to search");
	if (!rc)
		rc = store_reader_get(s, &db, err);
	if (rc)
		goto out;
	enum tier t = p.ss.q.lead_key ? TIER_REAL : TIER_ALL;
	tr_buf_appends(&sql, "EXPLAIN QUERY PLAN ");
	tier_sql(&p, t, false, &sql);
	struct tr_db_stmt *st;
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out;
	int idx = 1;
	bind_tier(db, st, &p, t, false, &idx);
	tr_db_bind_int64(db, st, idx++, p.ss.max_results);
	tr_db_bind_int64(db, st, idx++, p.ss.offset);
	bool row = true;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		tr_buf_appendf(plan, "%s\n", tr_db_col_text(db, st, 3));
	}
	tr_db_done(db, st);
out:
	if (db)
		store_reader_put(s, db);
	tr_buf_release(&sql);
	plan_release(&p);
	return rc;
}
