/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow's search language (filter_string and order_by), plus OR and
 * parentheses, parsed once into an AST and compiled to parameterised SQL.
 * User text never reaches the SQL text: every literal and every key becomes a
 * bind value. The SQL is portable between SQLite and PostgreSQL; LIKE is
 * case-sensitive (the SQLite driver turns on case_sensitive_like) and ILIKE is
 * compiled as lower(x) LIKE lower(?).
 *
 * Schema the SQL refers to (see migrations.c):
 *   runs r(run_uuid, name, experiment_id, user_id, status, start_time, end_time,
 *          lifecycle_stage, artifact_uri)
 *   params(run_uuid, key, value)  tags(run_uuid, key, value)
 *   latest_metrics(run_uuid, key, step, timestamp, value, is_nan)
 *   datasets(dataset_uuid, experiment_id, name, digest, ...)
 *   inputs(input_uuid, source_type, source_id, destination_type, destination_id)
 *   input_tags(input_uuid, key, value)
 *   experiments e(experiment_id, name, artifact_location, lifecycle_stage,
 *          creation_time, last_update_time)
 *   experiment_tags(experiment_id, key, value)
 *   registered_models rm(name, creation_time, last_updated_time, description, user_id)
 *   registered_model_tags(name, key, value)
 *   model_versions mv(name, version, creation_time, last_updated_time, source, run_id,
 *          current_stage, ...)
 *   model_version_tags(name, version, key, value)
 *   logged_models lm(model_id, experiment_id, name, creation_timestamp,
 *          last_updated_timestamp, status, lifecycle_stage, model_type, source_run_id)
 *   logged_model_params(model_id, key, value)  logged_model_tags(model_id, key, value)
 *   logged_model_metrics(model_id, key, value, is_nan, timestamp, step, ...)
 *
 * The caller's FROM clause must give the target's table the alias shown
 * (r, e, rm, mv, lm) and add its own conditions: lifecycle stage, experiment
 * ids, and for model versions current_stage != 'Deleted_Internal'.
 */
#ifndef TR_STORE_SEARCH_H
#define TR_STORE_SEARCH_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_buf;

enum tr_search_target {
	TR_SEARCH_RUNS,
	TR_SEARCH_EXPERIMENTS,
	TR_SEARCH_REGISTERED_MODELS, /* alias rm */
	TR_SEARCH_MODEL_VERSIONS,    /* alias mv */
	TR_SEARCH_LOGGED_MODELS,     /* alias lm */
};

/* Limits on one compilation; exceeding one is TR_ERR_INVALID_PARAMETER_VALUE. */
#define TR_SEARCH_MAX_DEPTH	  100	/* nested parentheses in a filter */
#define TR_SEARCH_MAX_SQL_DEPTH	  20	/* nested AND/OR groups left after flattening */
#define TR_SEARCH_MAX_CLAUSES	  1000	/* comparisons in a filter (see search.c) */
#define TR_SEARCH_MAX_LIST_VALUES 10000 /* values in all IN lists of a filter together */
#define TR_SEARCH_MAX_ORDER_BY	  100	/* order_by clauses */

enum tr_bind_type { TR_BIND_TEXT, TR_BIND_INT64, TR_BIND_DOUBLE };

struct tr_bind {
	enum tr_bind_type type;
	const char *text; /* TR_BIND_TEXT; owned by the query */
	int64_t i64;
	double f64;
};

/*
 * A compiled query. WHERE is a boolean SQL expression over the target's alias
 * (see above), "1=1" for an empty filter, self-contained (a top-level OR
 * is parenthesised) so that the caller may AND it with its own conditions;
 * ORDER_BY is the full ORDER BY
 * list including MLflow's tie-breakers, without the ORDER BY keyword. Binds
 * are numbered in order of appearance: first all of WHERE's '?', then all of
 * ORDER_BY's '?'.
 */
/* The kind of the first order_by key a runs search can walk an index for. */
enum tr_search_lead { TR_SEARCH_LEAD_METRIC, TR_SEARCH_LEAD_PARAM, TR_SEARCH_LEAD_TAG };

struct tr_search_query {
	char *where;
	char *order_by;
	struct tr_bind *binds;
	size_t n_binds;
	size_t n_where_binds; /* the first n_where_binds binds belong to WHERE */

	/*
	 * When the first order_by key of a runs search is a metric, the store can
	 * walk latest_metrics' (key, is_nan, value) index in order and stop at the
	 * page's end, instead of sorting every match; the same for a param or a
	 * tag with the (key, value) index of params or tags (LEAD_KIND says which;
	 * LEAD_WHERE is then "1=1": only metric bounds are moved into the walk).
	 * For that plan:
	 * LEAD_KEY is the metric's key and LEAD_ASC its direction; LEAD_WHERE
	 * holds conditions on "om.value" taken from top-level AND clauses of the
	 * filter on that same metric ("1=1" when none), and ORDER_REST the ORDER BY
	 * list without the lead key (with the tie-breakers). Their binds follow
	 * the others: n_order_binds after WHERE's, then n_lead_binds for
	 * LEAD_WHERE, then n_rest_binds for ORDER_REST, then the rest for
	 * LEAD_FILTER: the WHERE without the clauses LEAD_WHERE already applies,
	 * so the walk does not test them twice. LEAD_KEY is NULL otherwise.
	 */
	char *lead_key;
	enum tr_search_lead lead_kind; /* what LEAD_KEY names */
	bool lead_asc;
	char *lead_where;
	char *order_rest;
	char *lead_filter;
	size_t n_order_binds;
	size_t n_lead_binds;
	size_t n_rest_binds;
};

/*
 * Compiles FILTER (may be NULL or empty) and the N_ORDER order_by clauses for
 * TARGET into OUT. On error returns TR_ERR_INVALID_PARAMETER_VALUE with an
 * MLflow-style message in ERR and leaves OUT empty.
 * OUT must be released with tr_search_query_release().
 */
enum tr_err tr_search_compile(enum tr_search_target target, const char *filter,
			      const char *const *order_by, size_t n_order,
			      struct tr_search_query *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

void tr_search_query_release(struct tr_search_query *q);

#endif
