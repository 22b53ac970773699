/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for src/store/search.c: golden SQL and binds for representative
 * filters and order_by lists, error messages, hostile input (SQL injection,
 * 1 MB filters, deep nesting), and execution of the generated SQL against an
 * in-memory SQLite database to check the semantics, not just the text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "store/search.h"

/* ---- helpers ------------------------------------------------------------- */

/* The WHERE and ORDER BY binds as one line: 'text', i:42, d:0.5 */
static char *render_binds(const struct tr_search_query *q)
{
	struct tr_buf b = TR_BUF_INIT;
	for (size_t i = 0; i < q->n_where_binds + q->n_order_binds; i++) {
		const struct tr_bind *x = &q->binds[i];
		if (i)
			tr_buf_appends(&b, " ");
		if (i == q->n_where_binds && i)
			tr_buf_appends(&b, "| ");
		switch (x->type) {
		case TR_BIND_TEXT:
			tr_buf_appendf(&b, "'%s'", x->text);
			break;
		case TR_BIND_INT64:
			tr_buf_appendf(&b, "i:%lld", (long long)x->i64);
			break;
		case TR_BIND_DOUBLE:
			tr_buf_appendf(&b, "d:%g", x->f64);
			break;
		}
	}
	return tr_buf_detach(&b);
}

static size_t count_marks(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '?';
	return n;
}

/* Compiles and checks that the query is internally consistent. */
static void compile_ok(enum tr_search_target t, const char *filter, const char *const *order,
		       size_t n_order, struct tr_search_query *q)
{
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_search_compile(t, filter, order, n_order, q, &err);
	if (rc != TR_OK)
		fail_msg("filter \"%.200s\" failed: %s", filter ? filter : "(null)",
			 tr_buf_str(&err));
	assert_int_equal(count_marks(q->where), q->n_where_binds);
	assert_int_equal(count_marks(q->order_by), q->n_order_binds);
	if (q->lead_key) {
		assert_int_equal(count_marks(q->lead_where), q->n_lead_binds);
		assert_int_equal(count_marks(q->order_rest), q->n_rest_binds);
		assert_int_equal(count_marks(q->lead_filter),
				 q->n_binds - q->n_where_binds - q->n_order_binds -
				     q->n_lead_binds - q->n_rest_binds);
	} else {
		assert_int_equal(q->n_binds, q->n_where_binds + q->n_order_binds);
	}
	tr_buf_release(&err);
}

/* The lead-metric plan: the first order_by key is a metric. */
static void test_lead_metric_plan(void **state)
{
	(void)state;
	struct tr_search_query q;
	const char *order[] = {"metrics.m3 DESC", "params.p ASC"};
	compile_ok(TR_SEARCH_RUNS, "metrics.m3 < 0.5 and params.p2 = '7' and metrics.m3 >= 0.1",
		   order, 2, &q);
	assert_string_equal(q.lead_key, "m3");
	assert_false(q.lead_asc);
	assert_string_equal(q.lead_where, "om.value < ? AND om.value >= ?");
	assert_int_equal(q.n_lead_binds, 2);
	assert_non_null(strstr(q.order_rest, "p.key = ?"));
	assert_null(strstr(q.order_rest, "latest_metrics"));
	/* the walk applies the bounds; the rest of the filter keeps only the param */
	assert_null(strstr(q.lead_filter, "latest_metrics"));
	assert_non_null(strstr(q.lead_filter, "FROM params p"));
	tr_search_query_release(&q);
	/* an OR at the top bounds nothing; a second-place metric is no lead */
	compile_ok(TR_SEARCH_RUNS, "metrics.m3 < 0.5 OR params.p2 = '7'", order, 1, &q);
	assert_string_equal(q.lead_where, "1=1");
	assert_string_equal(q.order_rest, "r.start_time DESC, r.run_uuid ASC");
	tr_search_query_release(&q);
	/* a param first: walked on params' index, no metric bound moved into it */
	compile_ok(TR_SEARCH_RUNS, "metrics.p < 0.5", order + 1, 1, &q);
	assert_string_equal(q.lead_key, "p");
	assert_int_equal(q.lead_kind, TR_SEARCH_LEAD_PARAM);
	assert_true(q.lead_asc);
	assert_string_equal(q.lead_where, "1=1");
	assert_int_equal(q.n_lead_binds, 0);
	assert_non_null(strstr(q.lead_filter, "latest_metrics"));
	tr_search_query_release(&q);
	const char *tag_order[] = {"tags.team DESC"};
	compile_ok(TR_SEARCH_RUNS, NULL, tag_order, 1, &q);
	assert_string_equal(q.lead_key, "team");
	assert_int_equal(q.lead_kind, TR_SEARCH_LEAD_TAG);
	assert_false(q.lead_asc);
	tr_search_query_release(&q);
	const char *attr_order[] = {"attributes.start_time"};
	compile_ok(TR_SEARCH_RUNS, NULL, attr_order, 1, &q);
	assert_null(q.lead_key);
	tr_search_query_release(&q);
	const char *exp_order[] = {"name"};
	compile_ok(TR_SEARCH_EXPERIMENTS, NULL, exp_order, 1, &q);
	assert_null(q.lead_key);
	tr_search_query_release(&q);
}

/* Compiles expecting failure; returns the message (free it). */
static char *compile_err(enum tr_search_target t, const char *filter, const char *const *order,
			 size_t n_order)
{
	struct tr_search_query q;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_search_compile(t, filter, order, n_order, &q, &err);
	if (rc == TR_OK)
		fail_msg("filter \"%.200s\" unexpectedly compiled to: %s",
			 filter ? filter : "(null)", q.where);
	assert_int_equal(rc, TR_ERR_INVALID_PARAMETER_VALUE);
	/* OUT is left empty on error */
	assert_null(q.where);
	assert_null(q.order_by);
	assert_null(q.binds);
	assert_int_equal(q.n_binds, 0);
	return tr_buf_detach(&err);
}

/* ---- golden filters ------------------------------------------------------ */

#define EM "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ?"
#define EP "EXISTS (SELECT 1 FROM params p WHERE p.run_uuid = r.run_uuid AND p.key = ?"
#define ET "EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = ?"
#define EET                                                                                        \
	"EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND "     \
	"t.key = ?"
#define ED                                                                                         \
	"EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE "    \
	"i.destination_type = 'RUN' AND i.destination_id = r.run_uuid AND "
#define EDC                                                                                        \
	"EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id JOIN "     \
	"input_tags it ON it.input_uuid = i.input_uuid WHERE i.destination_type = 'RUN' AND "      \
	"i.destination_id = r.run_uuid AND it.key = 'mlflow.data.context' AND "

#define RM  TR_SEARCH_REGISTERED_MODELS
#define MV  TR_SEARCH_MODEL_VERSIONS
#define LM  TR_SEARCH_LOGGED_MODELS
#define ERT "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = rm.name AND t.key = ?"
#define EMVT                                                                                       \
	"EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = mv.name AND t.version = "       \
	"mv.version AND t.key = ?"
/* the prompt rule: a missing tag reads as 'false' */
#define PRT                                                                                        \
	"COALESCE((SELECT t.value FROM registered_model_tags t WHERE t.name = rm.name AND t.key "  \
	"= "                                                                                       \
	"?), 'false')"
#define PMVT                                                                                       \
	"COALESCE((SELECT t.value FROM model_version_tags t WHERE t.name = mv.name AND t.version " \
	"= mv.version AND t.key = ?), 'false')"
#define LMM    "logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ?"
#define LATEST " ORDER BY m.step DESC, m.timestamp DESC LIMIT 1"
#define LMV    "(SELECT CASE WHEN m.is_nan = 1 THEN NULL ELSE m.value END FROM " LMM LATEST ")"
#define ELP                                                                                        \
	"EXISTS (SELECT 1 FROM logged_model_params p WHERE p.model_id = lm.model_id AND p.key = ?"
#define ELT "EXISTS (SELECT 1 FROM logged_model_tags t WHERE t.model_id = lm.model_id AND t.key = ?"

struct golden {
	enum tr_search_target target;
	const char *filter;
	const char *where;
	const char *binds;
};

static const struct golden goldens[] = {
    {TR_SEARCH_RUNS, NULL, "1=1", ""},
    {TR_SEARCH_RUNS, " \t\n", "1=1", ""},
    /* metrics, each numeric comparator, number forms */
    {TR_SEARCH_RUNS, "metrics.rmse < 1", EM " AND m.is_nan = 0 AND m.value < ?)", "'rmse' d:1"},
    {TR_SEARCH_RUNS, "metric.acc >= 0.5", EM " AND m.is_nan = 0 AND m.value >= ?)", "'acc' d:0.5"},
    {TR_SEARCH_RUNS, "metrics.loss <= -1.5e-3", EM " AND m.is_nan = 0 AND m.value <= ?)",
     "'loss' d:-0.0015"},
    {TR_SEARCH_RUNS, "metrics.a > +2E2", EM " AND m.is_nan = 0 AND m.value > ?)", "'a' d:200"},
    {TR_SEARCH_RUNS, "metrics.a != .5", EM " AND m.is_nan = 0 AND m.value != ?)", "'a' d:0.5"},
    {TR_SEARCH_RUNS, "metrics.a <> 3", EM " AND m.is_nan = 0 AND m.value != ?)", "'a' d:3"},
    {TR_SEARCH_RUNS, "metrics.\"model class\" = 7", EM " AND m.is_nan = 0 AND m.value = ?)",
     "'model class' d:7"},
    {TR_SEARCH_RUNS, "metrics.x IS NULL", "NOT " EM ")", "'x'"},
    {TR_SEARCH_RUNS, "metrics.x is not null", EM ")", "'x'"},
    /* params, tags: quoting styles, LIKE / ILIKE, '' escape, dots in keys */
    {TR_SEARCH_RUNS, "params.model_class = 'LogisticRegression'", EP " AND p.value = ?)",
     "'model_class' 'LogisticRegression'"},
    {TR_SEARCH_RUNS, "parameters.`a b` != \"x\"", EP " AND p.value != ?)", "'a b' 'x'"},
    {TR_SEARCH_RUNS, "param.lr like '0.0%'", EP " AND p.value LIKE ?)", "'lr' '0.0%'"},
    {TR_SEARCH_RUNS, "params.opt ILIKE '%Adam%'", EP " AND lower(p.value) LIKE lower(?))",
     "'opt' '%Adam%'"},
    {TR_SEARCH_RUNS, "tags.\"mlflow.source.type\" = 'LOCAL'", ET " AND t.value = ?)",
     "'mlflow.source.type' 'LOCAL'"},
    {TR_SEARCH_RUNS, "tags.mlflow.runName = 'it''s'", ET " AND t.value = ?)",
     "'mlflow.runName' 'it's'"},
    {TR_SEARCH_RUNS, "`tag`.`extra-key` = 'x'", ET " AND t.value = ?)", "'extra-key' 'x'"},
    {TR_SEARCH_RUNS, "tags.team IS NULL", "NOT " ET ")", "'team'"},
    /* attributes and their aliases */
    {TR_SEARCH_RUNS, "attributes.status = 'FINISHED'", "r.status = ?", "'FINISHED'"},
    {TR_SEARCH_RUNS, "run_name ILIKE '%baseline%'", "lower(r.name) LIKE lower(?)", "'%baseline%'"},
    {TR_SEARCH_RUNS, "attr.`run name` = 'a'", "r.name = ?", "'a'"},
    {TR_SEARCH_RUNS, "\"Run name\" LIKE 'a%'", "r.name LIKE ?", "'a%'"},
    {TR_SEARCH_RUNS, "run.user_id != 'bob'", "r.user_id != ?", "'bob'"},
    {TR_SEARCH_RUNS, "artifact_uri LIKE 's3://%'", "r.artifact_uri LIKE ?", "'s3://%'"},
    {TR_SEARCH_RUNS, "attributes.start_time > 1700000000000", "r.start_time > ?",
     "i:1700000000000"},
    {TR_SEARCH_RUNS, "Created <= 1.5", "r.start_time <= ?", "d:1.5"},
    {TR_SEARCH_RUNS, "end_time = -3", "r.end_time = ?", "i:-3"},
    /* IN lists; run ids with upper case are dropped */
    {TR_SEARCH_RUNS, "attributes.run_id IN ('a1b2', 'C3d4', \"ef\",)", "r.run_uuid IN (?, ?)",
     "'a1b2' 'ef'"},
    {TR_SEARCH_RUNS, "run_id not in ('x')", "r.run_uuid NOT IN (?)", "'x'"},
    {TR_SEARCH_RUNS, "run_id IN ('ABC')", "1=0", ""},
    {TR_SEARCH_RUNS, "run_id NOT IN ('ABC')", "1=1", ""},
    {TR_SEARCH_RUNS, "run_id = 'abc'", "r.run_uuid = ?", "'abc'"},
    /* datasets */
    {TR_SEARCH_RUNS, "datasets.name IN ('train', 'Eval')", ED "d.name IN (?, ?))",
     "'train' 'Eval'"},
    {TR_SEARCH_RUNS, "dataset.digest = 'abc'", ED "d.digest = ?)", "'abc'"},
    {TR_SEARCH_RUNS, "datasets.context = 'training'", EDC "it.value = ?)", "'training'"},
    /* AND / OR / parentheses: AND binds tighter; OR groups always parenthesised */
    {TR_SEARCH_RUNS, "metrics.a > 1 and params.b = 'x'",
     EM " AND m.is_nan = 0 AND m.value > ?) AND " EP " AND p.value = ?)", "'a' d:1 'b' 'x'"},
    {TR_SEARCH_RUNS, "status = 'A' OR user_id = 'b' AND end_time > 1",
     "(r.status = ? OR (r.user_id = ? AND r.end_time > ?))", "'A' 'b' i:1"},
    {TR_SEARCH_RUNS, "(status = 'A' OR user_id = 'b') AND end_time > 1",
     "(r.status = ? OR r.user_id = ?) AND r.end_time > ?", "'A' 'b' i:1"},
    {TR_SEARCH_RUNS, "((status = 'A'))", "r.status = ?", "'A'"},
    {TR_SEARCH_RUNS, "status='A'And(user_id='b'oR(run_id='c'))",
     "r.status = ? AND (r.user_id = ? OR r.run_uuid = ?)", "'A' 'b' 'c'"},
    {TR_SEARCH_RUNS, "(status = 'A' AND user_id = 'b') AND (end_time > 1 AND run_id = 'c')",
     "r.status = ? AND r.user_id = ? AND r.end_time > ? AND r.run_uuid = ?", "'A' 'b' i:1 'c'"},
    /* experiments */
    {TR_SEARCH_EXPERIMENTS, "name LIKE 'test-%' AND tags.team = 'ml'",
     "e.name LIKE ? AND " EET " AND t.value = ?)", "'test-%' 'team' 'ml'"},
    {TR_SEARCH_EXPERIMENTS, "attribute.creation_time >= 10 OR tag.x IS NOT NULL",
     "(e.creation_time >= ? OR " EET "))", "i:10 'x'"},
    {TR_SEARCH_EXPERIMENTS, "last_update_time < 5 AND name ILIKE 'A%'",
     "e.last_update_time < ? AND lower(e.name) LIKE lower(?)", "i:5 'A%'"},
    /* registered models */
    {RM, "name = 'fraud'", "rm.name = ?", "'fraud'"},
    {RM, "attributes.name ILIKE '%Fraud%'", "lower(rm.name) LIKE lower(?)", "'%Fraud%'"},
    {RM, "attr.name != 'a' AND tags.team LIKE 'ml%'",
     "rm.name != ? AND " ERT " AND t.value LIKE ?)", "'a' 'team' 'ml%'"},
    {RM, "attribute.name = 'a' OR tag.team IS NULL", "(rm.name = ? OR NOT " ERT "))", "'a' 'team'"},
    {RM, "tag.`mlflow.prompt.is_prompt` != 'true'", PRT " != ?",
     "'mlflow.prompt.is_prompt' 'true'"},
    {RM, "name LIKE 'a%' AND tags.mlflow.prompt.is_prompt = 'false'",
     "rm.name LIKE ? AND " PRT " = ?", "'a%' 'mlflow.prompt.is_prompt' 'false'"},
    {RM, "tags.`mlflow.prompt.is_prompt` ILIKE 'TRUE'", "lower(" PRT ") LIKE lower(?)",
     "'mlflow.prompt.is_prompt' 'TRUE'"},
    /* IS NULL stays a test of the tag's presence */
    {RM, "tags.`mlflow.prompt.is_prompt` IS NULL", "NOT " ERT ")", "'mlflow.prompt.is_prompt'"},
    /* other keys keep the run semantics: the tag must exist */
    {RM, "tags.`mlflow.prompt.other` != 'true'", ERT " AND t.value != ?)",
     "'mlflow.prompt.other' 'true'"},
    /* model versions */
    {MV, "name = 'm' AND version_number >= 2", "mv.name = ? AND mv.version >= ?", "'m' i:2"},
    {MV, "attributes.version_number != -1", "mv.version != ?", "i:-1"},
    {MV, "run_id IN ('abc', 'DEF', 'ghi')", "mv.run_id IN (?, ?)", "'abc' 'ghi'"},
    {MV, "run_id NOT IN ('abc')", "mv.run_id NOT IN (?)", "'abc'"},
    {MV, "run_id ILIKE 'AB%'", "lower(mv.run_id) LIKE lower(?)", "'AB%'"},
    {MV, "source_path LIKE 's3://%'", "mv.source LIKE ?", "'s3://%'"},
    {MV, "tags.stage_owner = 'alice'", EMVT " AND t.value = ?)", "'stage_owner' 'alice'"},
    {MV, "tags.`mlflow.prompt.is_prompt` != 'true'", PMVT " != ?",
     "'mlflow.prompt.is_prompt' 'true'"},
    /* logged models: upper-case list values are kept */
    {LM, "name = 'model' AND status IN ('LOGGED_MODEL_READY', 'LOGGED_MODEL_PENDING')",
     "lm.name = ? AND lm.status IN (?, ?)", "'model' 'LOGGED_MODEL_READY' 'LOGGED_MODEL_PENDING'"},
    {LM, "model_id NOT IN ('m-1') AND source_run_id = 'r'",
     "lm.model_id NOT IN (?) AND lm.source_run_id = ?", "'m-1' 'r'"},
    {LM, "model_type ILIKE 'Agent%'", "lower(lm.model_type) LIKE lower(?)", "'Agent%'"},
    {LM, "creation_time >= 100 AND last_updated_timestamp < 2.5",
     "lm.creation_timestamp >= ? AND lm.last_updated_timestamp < ?", "i:100 d:2.5"},
    {LM, "attributes.last_updated_time = 7", "lm.last_updated_timestamp = ?", "i:7"},
    {LM, "metrics.accuracy > 0.9", LMV " > ?", "'accuracy' d:0.9"},
    {LM, "metric.loss IS NULL", "NOT EXISTS (SELECT 1 FROM " LMM ")", "'loss'"},
    {LM, "params.lr = '0.1' AND tags.`k x` != 'v'",
     ELP " AND p.value = ?) AND " ELT " AND t.value != ?)", "'lr' '0.1' 'k x' 'v'"},
    /* user text that looks like SQL stays in the binds */
    {TR_SEARCH_RUNS, "metrics.`a;DROP TABLE runs` > 1", EM " AND m.is_nan = 0 AND m.value > ?)",
     "'a;DROP TABLE runs' d:1"},
    {TR_SEARCH_RUNS, "params.a = 'x'' OR 1=1 --'", EP " AND p.value = ?)", "'a' 'x' OR 1=1 --'"},
    {TR_SEARCH_RUNS, "tags.\"k') OR (1=1\" = ';'", ET " AND t.value = ?)", "'k') OR (1=1' ';'"},
};

static void test_golden_filters(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct tr_search_query q;
		compile_ok(g->target, g->filter, NULL, 0, &q);
		char *binds = render_binds(&q);
		if (strcmp(q.where, g->where) != 0 || strcmp(binds, g->binds) != 0)
			fail_msg("case %zu \"%s\":\n got where: %s\nwant where: %s\n got binds: "
				 "%s\nwant binds: %s",
				 i, g->filter ? g->filter : "(null)", q.where, g->where, binds,
				 g->binds);
		assert_int_equal(q.n_where_binds, q.n_binds);
		free(binds);
		tr_search_query_release(&q);
	}
}

/* ---- golden order_by ----------------------------------------------------- */

#define OM_RANK                                                                                    \
	"COALESCE((SELECT CASE WHEN m.is_nan = 1 THEN 1 ELSE 0 END FROM latest_metrics m "         \
	"WHERE m.run_uuid = r.run_uuid AND m.key = ?), 2), (SELECT m.value FROM "                  \
	"latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ?)"
#define OP_RANK                                                                                    \
	"CASE WHEN (SELECT p.value FROM params p WHERE p.run_uuid = r.run_uuid AND p.key = ?) "    \
	"IS NULL THEN 1 ELSE 0 END, (SELECT p.value FROM params p WHERE p.run_uuid = "             \
	"r.run_uuid AND p.key = ?)"
#define OT_RANK                                                                                    \
	"CASE WHEN (SELECT t.value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = ?) "      \
	"IS NULL THEN 1 ELSE 0 END, (SELECT t.value FROM tags t WHERE t.run_uuid = "               \
	"r.run_uuid AND t.key = ?)"

struct golden_order {
	enum tr_search_target target;
	const char *order[3];
	const char *sql;
	const char *binds;
};

static const struct golden_order golden_orders[] = {
    {TR_SEARCH_RUNS, {NULL}, "r.start_time DESC, r.run_uuid ASC", ""},
    {TR_SEARCH_RUNS,
     {"metrics.acc DESC", "params.`lr x`"},
     OM_RANK " DESC, " OP_RANK " ASC, r.start_time DESC, r.run_uuid ASC",
     "'acc' 'acc' 'lr x' 'lr x'"},
    {TR_SEARCH_RUNS,
     {"tags.\"mlflow.user\" asc"},
     OT_RANK " ASC, r.start_time DESC, r.run_uuid ASC",
     "'mlflow.user' 'mlflow.user'"},
    {TR_SEARCH_RUNS, {"created"}, "r.start_time ASC NULLS LAST, r.run_uuid ASC", ""},
    {TR_SEARCH_RUNS, {"timestamp DESC"}, "r.start_time DESC, r.run_uuid ASC", ""},
    {TR_SEARCH_RUNS,
     {"  attributes.run_name   Desc ", "end_time"},
     "r.name DESC, r.end_time ASC NULLS LAST, r.start_time DESC, r.run_uuid ASC",
     ""},
    {TR_SEARCH_EXPERIMENTS, {NULL}, "e.creation_time DESC, e.experiment_id ASC", ""},
    {TR_SEARCH_EXPERIMENTS, {"name"}, "e.name ASC, e.experiment_id DESC", ""},
    {TR_SEARCH_EXPERIMENTS,
     {"attribute.last_update_time DESC", "experiment_id"},
     "e.last_update_time DESC, e.experiment_id ASC",
     ""},
};

#define LM_RANK                                                                                    \
	"COALESCE((SELECT CASE WHEN m.is_nan = 1 THEN 1 ELSE 0 END FROM " LMM LATEST "), 2), "     \
	"(SELECT m.value FROM " LMM LATEST ")"

static const struct golden_order golden_orders_registry[] = {
    {RM, {NULL}, "rm.name ASC", ""},
    {RM, {"name DESC"}, "rm.name DESC", ""},
    {RM, {"timestamp DESC"}, "rm.last_updated_time DESC, rm.name ASC", ""},
    {RM, {"last_updated_timestamp"}, "rm.last_updated_time ASC, rm.name ASC", ""},
    {RM, {"attribute.creation_timestamp DESC", "name"}, "rm.creation_time DESC, rm.name ASC", ""},
    {MV, {NULL}, "mv.last_updated_time DESC, mv.name ASC, mv.version DESC", ""},
    {MV, {"version_number"}, "mv.version ASC, mv.name ASC", ""},
    {MV, {"creation_timestamp DESC"}, "mv.creation_time DESC, mv.name ASC, mv.version DESC", ""},
    {MV, {"name DESC", "version_number ASC"}, "mv.name DESC, mv.version ASC", ""},
    {MV, {"last_updated_timestamp"}, "mv.last_updated_time ASC, mv.name ASC, mv.version DESC", ""},
    {LM, {NULL}, "lm.creation_timestamp DESC, lm.model_id ASC", ""},
    {LM, {"creation_time ASC"}, "lm.creation_timestamp ASC, lm.model_id ASC", ""},
    {LM, {"model_id DESC"}, "lm.model_id DESC, lm.creation_timestamp DESC", ""},
    {LM,
     {"metrics.`val acc` DESC", "name"},
     LM_RANK " DESC, lm.name ASC, lm.creation_timestamp DESC, lm.model_id ASC",
     "'val acc' 'val acc'"},
};

static void check_golden_orders(const struct golden_order *golden, size_t n_golden)
{
	for (size_t i = 0; i < n_golden; i++) {
		const struct golden_order *g = &golden[i];
		size_t n = 0;
		while (n < 3 && g->order[n])
			n++;
		struct tr_search_query q;
		compile_ok(g->target, "", g->order, n, &q);
		char *binds = render_binds(&q);
		if (strcmp(q.order_by, g->sql) != 0 || strcmp(binds, g->binds) != 0)
			fail_msg("case %zu:\n got: %s\nwant: %s\n got binds: %s\nwant binds: %s", i,
				 q.order_by, g->sql, binds, g->binds);
		assert_int_equal(q.n_where_binds, 0);
		if (g->target != TR_SEARCH_RUNS)
			assert_null(q.lead_key); /* the lead-metric plan is for runs only */
		free(binds);
		tr_search_query_release(&q);
	}
}

static void test_golden_order_by(void **state)
{
	(void)state;
	check_golden_orders(golden_orders, sizeof(golden_orders) / sizeof(golden_orders[0]));
	check_golden_orders(golden_orders_registry,
			    sizeof(golden_orders_registry) / sizeof(golden_orders_registry[0]));
}

/* WHERE binds come first, then ORDER BY binds. */
static void test_bind_numbering(void **state)
{
	(void)state;
	const char *order[] = {"metrics.m DESC"};
	struct tr_search_query q;
	compile_ok(TR_SEARCH_RUNS, "params.p = 'v'", order, 1, &q);
	char *binds = render_binds(&q);
	assert_string_equal(binds, "'p' 'v' | 'm' 'm'");
	assert_int_equal(q.n_where_binds, 2);
	assert_int_equal(q.n_order_binds, 2);
	/* a metric lead key adds its plan's binds after those: none for LEAD_WHERE
	 * (no bound on m), none for ORDER_REST, the param's two for LEAD_FILTER */
	assert_int_equal(q.n_lead_binds, 0);
	assert_int_equal(q.n_rest_binds, 0);
	assert_int_equal(q.n_binds, 6);
	free(binds);
	tr_search_query_release(&q);
	tr_search_query_release(&q); /* released twice: a no-op */
}

/* ---- errors -------------------------------------------------------------- */

struct bad {
	enum tr_search_target target;
	const char *filter;
	const char *order; /* NULL: filter test */
	const char *message;
};

static const struct bad bads[] = {
    {TR_SEARCH_RUNS, "params.a = 'x' OR 1=1 --", NULL,
     "Invalid clause(s) in filter string: expected an identifier, found '1' at position 18"},
    {TR_SEARCH_RUNS, "params.a = 'x'; DROP TABLE runs", NULL,
     "Invalid clause(s) in filter string: multiple statements (';') are not allowed at "
     "position 14"},
    {TR_SEARCH_RUNS, "params.a = 'x' -- comment", NULL,
     "Invalid clause(s) in filter string: expected 'AND', 'OR' or the end, found '-' at "
     "position 15"},
    {TR_SEARCH_RUNS, "metrics.a > 1 UNION SELECT 1", NULL,
     "Invalid clause(s) in filter string: expected 'AND', 'OR' or the end, found 'UNION ' at "
     "position 14"},
    {TR_SEARCH_RUNS, "((metrics.a > 1)", NULL,
     "Invalid clause(s) in filter string: unbalanced parentheses: '(' is never closed at "
     "position 0"},
    {TR_SEARCH_RUNS, "metrics.a > 1)", NULL,
     "Invalid clause(s) in filter string: unbalanced parentheses: unexpected ')' at position "
     "13"},
    {TR_SEARCH_RUNS, "()", NULL,
     "Invalid clause(s) in filter string: empty clause '()' at "
     "position 0"},
    {TR_SEARCH_RUNS, "metrics.a > 1 AND", NULL,
     "Invalid clause(s) in filter string: empty clause at the end at position 17"},
    {TR_SEARCH_RUNS, "AND metrics.a > 1", NULL,
     "Invalid clause(s) in filter string: empty clause before 'AND' at position 0"},
    {TR_SEARCH_RUNS, "metrics.a > 1 OR OR metrics.b > 1", NULL,
     "Invalid clause(s) in filter string: empty clause before 'OR' at position 17"},
    {TR_SEARCH_RUNS, "metrics.a", NULL,
     "Invalid clause(s) in filter string: expected a comparator after 'metrics.a', found the "
     "end at position 9"},
    {TR_SEARCH_RUNS, "metrics.a == 1", NULL,
     "Invalid clause(s) in filter string: expected a comparator after 'metrics.a', found '=' "
     "at position 10"},
    {TR_SEARCH_RUNS, "params.a NOT LIKE 'x'", NULL,
     "Invalid clause(s) in filter string: expected a comparator after 'params.a', found "
     "'NOT ' at position 9"},
    {TR_SEARCH_RUNS, "params.a = 'x", NULL,
     "Invalid clause(s) in filter string: unterminated quoted string at position 11"},
    {TR_SEARCH_RUNS, "metrics.a > 1e", NULL,
     "Invalid clause(s) in filter string: malformed number '1e' at position 12"},
    {TR_SEARCH_RUNS, "metrics.a > 12abc", NULL,
     "Invalid clause(s) in filter string: malformed number '12a' at position 12"},
    {TR_SEARCH_RUNS, "metrics. > 1", NULL,
     "Invalid clause(s) in filter string: expected a key after 'metrics.' at position 8"},
    {TR_SEARCH_RUNS, "tags.\"a\"b = 'x'", NULL,
     "Invalid clause(s) in filter string: unexpected 'b' in identifier at position 8"},
    {TR_SEARCH_RUNS, "foo.bar = 'x'", NULL,
     "Invalid entity type 'foo'. Valid values are 'metric', 'metrics', 'param', 'params', "
     "'parameter', 'parameters', 'tag', 'tags', 'attribute', 'attributes', 'attr', 'run', "
     "'dataset', 'datasets'"},
    {TR_SEARCH_RUNS, "lifecycle_stage = 'active'", NULL,
     "Invalid attribute key 'lifecycle_stage' specified. Valid keys are 'run_id', "
     "'run_name', 'run name', 'Run name', 'Run Name', 'status', 'user_id', 'artifact_uri', "
     "'start_time', 'created', 'Created', 'end_time'"},
    {TR_SEARCH_RUNS, "datasets.size = 'x'", NULL,
     "Invalid dataset key 'size' specified. Valid keys are 'name', 'digest', 'context'"},
    {TR_SEARCH_RUNS, "metrics.a LIKE 'x'", NULL,
     "Invalid comparator 'LIKE' not one of '=', '!=', '<', '<=', '>', '>=', 'IS NULL', 'IS "
     "NOT NULL' for metric 'a'"},
    {TR_SEARCH_RUNS, "params.a > 'x'", NULL,
     "Invalid comparator '>' not one of '=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT "
     "NULL' for param 'a'"},
    {TR_SEARCH_RUNS, "start_time IS NULL", NULL,
     "Invalid comparator 'IS NULL' not one of '=', '!=', '<', '<=', '>', '>=' for attribute "
     "'start_time'"},
    {TR_SEARCH_RUNS, "metrics.a = '1'", NULL, "Expected numeric value type for metric. Found '1'"},
    {TR_SEARCH_RUNS, "start_time > '5'", NULL,
     "Expected numeric type value for numeric attribute: start_time. Found '5'"},
    {TR_SEARCH_RUNS, "params.a = 1", NULL,
     "Expected a quoted string value for param (e.g. 'my-value'). Got value 1"},
    {TR_SEARCH_RUNS, "status = FINISHED", NULL,
     "Expected a quoted string value for attribute (e.g. 'my-value'). Got value FINISHED"},
    {TR_SEARCH_RUNS, "status IN ('a')", NULL,
     "Only the 'run_id' attribute supports comparison with a list of quoted string values"},
    {TR_SEARCH_RUNS, "run_id = ('a')", NULL,
     "Invalid clause(s) in filter string: a list of values needs 'IN' or 'NOT IN', not '='"},
    {TR_SEARCH_RUNS, "run_id IN 'a'", NULL,
     "Invalid clause(s) in filter string: 'IN' needs a list of quoted strings such as ('a', "
     "'b'), found 'a'"},
    {TR_SEARCH_RUNS, "run_id IN ()", NULL,
     "Invalid clause(s) in filter string: expected a non-empty list of quoted strings, found "
     "')' at position 11"},
    {TR_SEARCH_RUNS, "run_id IN ('a', 1)", NULL,
     "Invalid clause(s) in filter string: expected a non-empty list of quoted strings, found "
     "'1' at position 16"},
    {TR_SEARCH_RUNS, "run_id IN ('a'", NULL,
     "Invalid clause(s) in filter string: unterminated list at position 10"},
    {TR_SEARCH_EXPERIMENTS, "metrics.a > 1", NULL,
     "Invalid entity type 'metrics'. Valid values are 'tag', 'tags', 'attribute'"},
    {TR_SEARCH_EXPERIMENTS, "status = 'x'", NULL,
     "Invalid attribute key 'status' specified. Valid keys are 'name', 'creation_time', "
     "'last_update_time'"},
    {TR_SEARCH_EXPERIMENTS, "creation_time = 'x'", NULL,
     "Expected numeric type value for numeric attribute: creation_time. Found 'x'"},
    /* registered models */
    {RM, "run_id = 'x'", NULL, "Invalid attribute key 'run_id' specified. Valid keys are 'name'"},
    {RM, "metrics.a > 1", NULL,
     "Invalid entity type 'metrics'. Valid values are 'tag', 'tags', 'attribute', "
     "'attributes', 'attr'"},
    {RM, "run.name = 'a'", NULL,
     "Invalid entity type 'run'. Valid values are 'tag', 'tags', 'attribute', 'attributes', "
     "'attr'"},
    {RM, "name > 'a'", NULL,
     "Invalid comparator '>' not one of '=', '!=', 'LIKE', 'ILIKE' for attribute 'name'"},
    {RM, "name IN ('a', 'b')", NULL,
     "Invalid comparator 'IN' not one of '=', '!=', 'LIKE', 'ILIKE' for attribute 'name'"},
    {RM, "tags.`mlflow.prompt.is_prompt` IN ('true')", NULL,
     "Invalid comparator 'IN' not one of '=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT "
     "NULL' for tag 'mlflow.prompt.is_prompt'"},
    {RM, "tags.`mlflow.prompt.is_prompt` != true", NULL,
     "Expected a quoted string value for tag (e.g. 'my-value'). Got value true"},
    {RM, "creation_timestamp > 1", NULL,
     "Invalid attribute key 'creation_timestamp' specified. Valid keys are 'name'"},
    {RM, "", "tags.team",
     "Invalid order_by clause 'tags.team': only attributes can be used for ordering "
     "registered models"},
    {RM, "", "version_number",
     "Invalid order_by clause 'version_number': invalid attribute key 'version_number' "
     "specified. Valid keys are 'name', 'timestamp', 'last_updated_timestamp', "
     "'creation_timestamp'"},
    /* model versions */
    {MV, "version_number = '1'", NULL,
     "Expected numeric type value for numeric attribute: version_number. Found '1'"},
    {MV, "version_number > 1.5", NULL,
     "Expected an integer value for numeric attribute: version_number. Found 1.5"},
    {MV, "version_number LIKE '1%'", NULL,
     "Invalid comparator 'LIKE' not one of '=', '!=', '<', '<=', '>', '>=' for attribute "
     "'version_number'"},
    {MV, "name IN ('a')", NULL,
     "Only the 'run_id' attribute supports comparison with a list of quoted string values"},
    {MV, "source_path > 'a'", NULL,
     "Invalid comparator '>' not one of '=', '!=', 'LIKE', 'ILIKE' for attribute "
     "'source_path'"},
    {MV, "source = 'a'", NULL,
     "Invalid attribute key 'source' specified. Valid keys are 'name', 'run_id', "
     "'source_path', 'version_number'"},
    {MV, "params.a = 'b'", NULL,
     "Invalid entity type 'params'. Valid values are 'tag', 'tags', 'attribute', "
     "'attributes', 'attr'"},
    {MV, "", "run_id",
     "Invalid order_by clause 'run_id': invalid attribute key 'run_id' specified. Valid keys "
     "are 'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'"},
    {MV, "", "tags.a DESC",
     "Invalid order_by clause 'tags.a DESC': only attributes can be used for ordering model "
     "versions"},
    /* logged models */
    {LM, "datasets.name = 'x'", NULL,
     "Invalid entity type 'datasets'. Valid values are 'metric', 'metrics', 'param', "
     "'params', 'parameter', 'parameters', 'tag', 'tags', 'attribute', 'attributes', 'attr'"},
    {LM, "experiment_id = '1'", NULL,
     "Invalid attribute key 'experiment_id' specified. Valid keys are 'name', 'model_id', "
     "'model_type', 'status', 'source_run_id', 'creation_timestamp', 'creation_time', "
     "'last_updated_timestamp', 'last_updated_time'"},
    {LM, "metrics.a = 'x'", NULL, "Expected numeric value type for metric. Found 'x'"},
    {LM, "status > 'A'", NULL,
     "Invalid comparator '>' not one of '=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN' for "
     "attribute 'status'"},
    {LM, "creation_time IN ('1')", NULL,
     "Only the 'name', 'model_id', 'model_type', 'status', 'source_run_id' attributes support "
     "comparison with a list of quoted string values"},
    {LM, "params.lr > '1'", NULL,
     "Invalid comparator '>' not one of '=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT "
     "NULL' for param 'lr'"},
    {LM, "", "params.lr",
     "Invalid order_by clause 'params.lr': only attributes and metrics can be used for "
     "ordering logged models"},
    {LM, "", "creation_timestamp sideways",
     "Invalid order_by clause 'creation_timestamp sideways': expected 'ASC', 'DESC' or the "
     "end, found 'sideways' at position 19"},
    /* order_by */
    {TR_SEARCH_RUNS, "", "metrics.a sideways",
     "Invalid order_by clause 'metrics.a sideways': expected 'ASC', 'DESC' or the end, "
     "found 'sideways' at position 10"},
    {TR_SEARCH_RUNS, "", "", "Invalid order_by clause '': empty clause at position 0"},
    {TR_SEARCH_RUNS, "", "bogus DESC",
     "Invalid order_by clause 'bogus DESC': invalid attribute key 'bogus' specified. Valid "
     "keys are 'run_id', 'run_name', 'run name', 'Run name', 'Run Name', 'status', "
     "'user_id', 'artifact_uri', 'start_time', 'created', 'Created', 'timestamp', "
     "'end_time'"},
    {TR_SEARCH_RUNS, "", "datasets.name",
     "Invalid order_by clause 'datasets.name': datasets cannot be used for ordering"},
    {TR_SEARCH_EXPERIMENTS, "", "tags.a",
     "Invalid order_by clause 'tags.a': only attributes can be used for ordering "
     "experiments"},
    {TR_SEARCH_EXPERIMENTS, "", "timestamp",
     "Invalid order_by clause 'timestamp': invalid attribute key 'timestamp' specified. "
     "Valid keys are 'name', 'experiment_id', 'creation_time', 'last_update_time'"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		char *msg = b->order ? compile_err(b->target, b->filter, &b->order, 1)
				     : compile_err(b->target, b->filter, NULL, 0);
		if (strcmp(msg, b->message) != 0)
			fail_msg("case %zu \"%s\" / \"%s\":\n got: %s\nwant: %s", i, b->filter,
				 b->order ? b->order : "", msg, b->message);
		free(msg);
	}
}

static void test_duplicate_order_by(void **state)
{
	(void)state;
	const char *same_metric[] = {"metrics.a", "metric.a DESC"};
	const char *alias[] = {"start_time DESC", "created"};
	const char *name_alias[] = {"run_name", "`Run name`"};
	const char *distinct[] = {"metrics.a", "params.a", "tags.a"};
	char *msg = compile_err(TR_SEARCH_RUNS, NULL, same_metric, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'metric.a DESC'");
	free(msg);
	msg = compile_err(TR_SEARCH_RUNS, NULL, alias, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'created'");
	free(msg);
	msg = compile_err(TR_SEARCH_RUNS, NULL, name_alias, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: '`Run name`'");
	free(msg);

	struct tr_search_query q;
	compile_ok(TR_SEARCH_RUNS, NULL, distinct, 3, &q);
	tr_search_query_release(&q);

	/* the registry's aliases of one column are one key */
	const char *rm_time[] = {"timestamp", "last_updated_timestamp DESC"};
	const char *mv_version[] = {"version_number", "attribute.version_number DESC"};
	const char *lm_time[] = {"creation_time", "creation_timestamp DESC"};
	const char *lm_metric[] = {"metrics.acc", "metric.acc DESC"};
	msg = compile_err(RM, NULL, rm_time, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'last_updated_timestamp "
				 "DESC'");
	free(msg);
	msg = compile_err(MV, NULL, mv_version, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'attribute.version_number "
				 "DESC'");
	free(msg);
	msg = compile_err(LM, NULL, lm_time, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'creation_timestamp DESC'");
	free(msg);
	msg = compile_err(LM, NULL, lm_metric, 2);
	assert_string_equal(msg, "`order_by` contains duplicate fields: 'metric.acc DESC'");
	free(msg);
}

/* An error in order_by after a good filter frees what the filter produced. */
static void test_error_after_where(void **state)
{
	(void)state;
	const char *order[] = {"metrics.x", "nope"};
	char *msg =
	    compile_err(TR_SEARCH_RUNS, "params.a = 'b' AND run_id IN ('x', 'y')", order, 2);
	assert_non_null(strstr(msg, "Invalid order_by clause 'nope'"));
	free(msg);
}

/* The error buffer is optional. */
static void test_null_err(void **state)
{
	(void)state;
	struct tr_search_query q;
	assert_int_equal(tr_search_compile(TR_SEARCH_RUNS, "(", NULL, 0, &q, NULL),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_null(q.where);
	/* a target outside the enum is the caller's bug, not the user's */
	assert_int_equal(tr_search_compile((enum tr_search_target)99, "", NULL, 0, &q, NULL),
			 TR_ERR_INTERNAL_ERROR);
	assert_null(q.where);
}

/* ---- hostile input ------------------------------------------------------- */

/* No user text may reach the SQL: check the SQL for tell-tale fragments. */
static void test_injection_stays_in_binds(void **state)
{
	(void)state;
	static const char *const filters[] = {
	    "metrics.`a;DROP TABLE runs` > 1",
	    "params.\"x' OR '1'='1\" = 'y'",
	    "tags.`t` = 'v''; DROP TABLE runs; --'",
	    "run_id IN ('a); DROP TABLE runs; --', 'b')",
	    "datasets.context = 'x'' OR ''1''=''1'",
	    "`run name` LIKE '%'' UNION SELECT password FROM users --'",
	};
	static const char *const orders[] = {"metrics.`x) DESC; DROP TABLE runs; --`",
					     "tags.\"EVIL_MARKER\" DESC"};
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		struct tr_search_query q;
		compile_ok(TR_SEARCH_RUNS, filters[i], orders, 2, &q);
		const char *sqls[] = {q.where, q.order_by};
		for (int k = 0; k < 2; k++) {
			assert_null(strstr(sqls[k], "DROP"));
			assert_null(strstr(sqls[k], "UNION"));
			assert_null(strstr(sqls[k], "--"));
			assert_null(strstr(sqls[k], ";"));
			assert_null(strstr(sqls[k], "EVIL_MARKER"));
			assert_null(strstr(sqls[k], "'1'"));
		}
		tr_search_query_release(&q);
	}
}

static void test_registry_injection_stays_in_binds(void **state)
{
	(void)state;
	static const struct {
		enum tr_search_target target;
		const char *filter, *order;
	} cases[] = {
	    {RM, "name = 'x''; DROP TABLE registered_models; --'", "name DESC"},
	    {RM, "tags.`k') OR (1=1` != 'EVIL_MARKER'", "timestamp"},
	    {RM, "tags.`mlflow.prompt.is_prompt` != 'x'' OR ''1''=''1'", NULL},
	    {MV, "run_id IN ('a); DROP TABLE model_versions; --')", "version_number"},
	    {MV, "tags.\"EVIL_MARKER\" LIKE '%'' UNION SELECT 1 --'", NULL},
	    {LM, "metrics.`x) > 0; DROP TABLE logged_models; --` > 1",
	     "metrics.`x) DESC; DROP TABLE logged_models; --` DESC"},
	    {LM, "params.\"EVIL_MARKER\" = 'v' AND status IN ('a'')--', 'UNION')", "model_id"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tr_search_query q;
		compile_ok(cases[i].target, cases[i].filter, &cases[i].order,
			   cases[i].order ? 1 : 0, &q);
		const char *sqls[] = {q.where, q.order_by};
		for (int k = 0; k < 2; k++) {
			assert_null(strstr(sqls[k], "DROP"));
			assert_null(strstr(sqls[k], "UNION"));
			assert_null(strstr(sqls[k], "--"));
			assert_null(strstr(sqls[k], ";"));
			assert_null(strstr(sqls[k], "EVIL_MARKER"));
			assert_null(strstr(sqls[k], "'1'"));
		}
		assert_null(q.lead_key);
		tr_search_query_release(&q);
	}
}

static char *repeat(const char *unit, size_t min_len, const char *sep, size_t *n_units)
{
	struct tr_buf b = TR_BUF_INIT;
	size_t n = 0;
	while (b.len < min_len) {
		if (n)
			tr_buf_appends(&b, sep);
		tr_buf_appends(&b, unit);
		n++;
	}
	if (n_units)
		*n_units = n;
	return tr_buf_detach(&b);
}

static void test_one_megabyte_filters(void **state)
{
	(void)state;
	char msg_want[200];
	/* ~60,000 clauses: refused cleanly, early, by the clause cap */
	char *f = repeat("metrics.a > 1", 1 << 20, " AND ", NULL);
	char *msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	snprintf(msg_want, sizeof(msg_want), "more than %d clauses", TR_SEARCH_MAX_CLAUSES);
	assert_non_null(strstr(msg, msg_want));
	free(msg);
	free(f);

	/* one huge IN list: refused by the list-value cap */
	f = repeat("'abcdef'", 1 << 20, ",", NULL);
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "run_id IN (%s)", f);
	msg = compile_err(TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0);
	snprintf(msg_want, sizeof(msg_want), "more than %d list values", TR_SEARCH_MAX_LIST_VALUES);
	assert_non_null(strstr(msg, msg_want));
	free(msg);
	free(f);
	tr_buf_release(&b);

	/* one 1 MB string value is fine: it is a single bind */
	f = repeat("x", 1 << 20, "", NULL);
	tr_buf_appendf(&b, "params.big = '%s'", f);
	struct tr_search_query q;
	compile_ok(TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0, &q);
	assert_string_equal(q.where, EP " AND p.value = ?)");
	assert_int_equal(strlen(q.binds[1].text), strlen(f));
	tr_search_query_release(&q);
	free(f);
	tr_buf_release(&b);

	/* 1 MB of unterminated string, of whitespace, of '(' and of ')' */
	f = repeat("x", 1 << 20, "", NULL);
	tr_buf_appendf(&b, "params.big = '%s", f);
	msg = compile_err(TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0);
	assert_non_null(strstr(msg, "unterminated quoted string"));
	free(msg);
	free(f);
	tr_buf_release(&b);

	f = repeat(" ", 1 << 20, "", NULL);
	compile_ok(TR_SEARCH_RUNS, f, NULL, 0, &q);
	assert_string_equal(q.where, "1=1");
	tr_search_query_release(&q);
	free(f);

	f = repeat("(", 1 << 20, "", NULL);
	msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	assert_non_null(strstr(msg, "parentheses nested deeper than 100"));
	free(msg);
	free(f);

	f = repeat(")", 1 << 20, "", NULL);
	msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	assert_non_null(strstr(msg, "expected an identifier, found ')'") ||
			strstr(msg, "empty clause"));
	free(msg);
	free(f);
}

/* Exactly the caps: TR_SEARCH_MAX_CLAUSES clauses compile, one more does not. */
static void test_clause_cap_boundary(void **state)
{
	(void)state;
	struct tr_buf b = TR_BUF_INIT;
	for (int i = 0; i < TR_SEARCH_MAX_CLAUSES; i++)
		tr_buf_appendf(&b, "%sparams.p%d = 'v' ", i ? (i % 2 ? "OR " : "AND ") : "", i);
	struct tr_search_query q;
	compile_ok(TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0, &q);
	assert_int_equal(q.n_where_binds, 2 * TR_SEARCH_MAX_CLAUSES);
	tr_search_query_release(&q);
	tr_buf_appends(&b, "AND params.last = 'v'");
	char *msg = compile_err(TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0);
	assert_non_null(strstr(msg, "clauses"));
	free(msg);
	tr_buf_release(&b);
}

static char *nested(int depth, const char *clause)
{
	struct tr_buf b = TR_BUF_INIT;
	for (int i = 0; i < depth; i++)
		tr_buf_appends(&b, "(");
	tr_buf_appends(&b, clause);
	for (int i = 0; i < depth; i++)
		tr_buf_appends(&b, ")");
	return tr_buf_detach(&b);
}

/* DEPTH groups alternating OR / AND, none of which can be flattened. */
static char *alternating(int depth, const char *leaf)
{
	struct tr_buf b = TR_BUF_INIT;
	for (int i = 0; i < depth; i++)
		tr_buf_appendf(&b, "(run_id = 'run%d' %s ", i % 4 + 1, i % 2 ? "AND" : "OR");
	tr_buf_appends(&b, leaf);
	for (int i = 0; i < depth; i++)
		tr_buf_appends(&b, ")");
	return tr_buf_detach(&b);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	/* TR_SEARCH_MAX_DEPTH levels are fine and collapse to the clause */
	char *f = nested(TR_SEARCH_MAX_DEPTH, "status = 'A'");
	struct tr_search_query q;
	compile_ok(TR_SEARCH_RUNS, f, NULL, 0, &q);
	assert_string_equal(q.where, "r.status = ?");
	tr_search_query_release(&q);
	free(f);

	f = nested(TR_SEARCH_MAX_DEPTH + 1, "status = 'A'");
	char *msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	assert_string_equal(msg, "Invalid clause(s) in filter string: parentheses nested deeper "
				 "than 100 at position 100");
	free(msg);
	free(f);

	/* groups that cannot be flattened are capped lower: SQLite's parser stack */
	f = alternating(TR_SEARCH_MAX_SQL_DEPTH + 1, "status = 'A'");
	msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	assert_string_equal(msg, "Invalid clause(s) in filter string: AND/OR groups nested "
				 "deeper than 20");
	free(msg);
	free(f);

	f = nested(100000, "status = 'A'");
	msg = compile_err(TR_SEARCH_RUNS, f, NULL, 0);
	assert_non_null(strstr(msg, "parentheses nested deeper than 100"));
	free(msg);
	free(f);
}

/* ---- execution against SQLite --------------------------------------------- */

static const char schema[] =
    "PRAGMA case_sensitive_like=ON;"
    "CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, name TEXT, experiment_id INTEGER,"
    " user_id TEXT, status TEXT, start_time INTEGER, end_time INTEGER,"
    " lifecycle_stage TEXT, artifact_uri TEXT);"
    "CREATE TABLE params (run_uuid TEXT, key TEXT, value TEXT, PRIMARY KEY (run_uuid, key));"
    "CREATE TABLE tags (run_uuid TEXT, key TEXT, value TEXT, PRIMARY KEY (run_uuid, key));"
    "CREATE TABLE latest_metrics (run_uuid TEXT, key TEXT, step INTEGER, timestamp INTEGER,"
    " value REAL, is_nan INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_uuid, key));"
    "CREATE TABLE datasets (dataset_uuid TEXT PRIMARY KEY, experiment_id INTEGER, name TEXT,"
    " digest TEXT);"
    "CREATE TABLE inputs (input_uuid TEXT PRIMARY KEY, source_type TEXT, source_id TEXT,"
    " destination_type TEXT, destination_id TEXT);"
    "CREATE TABLE input_tags (input_uuid TEXT, key TEXT, value TEXT);"
    "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT,"
    " artifact_location TEXT, lifecycle_stage TEXT, creation_time INTEGER,"
    " last_update_time INTEGER);"
    "CREATE TABLE experiment_tags (experiment_id INTEGER, key TEXT, value TEXT);"
    /* run1..run4; start times 100, 200, 300, 150 */
    "INSERT INTO runs VALUES"
    " ('run1', 'Alpha', 1, 'alice', 'FINISHED', 100, 200, 'active', 's3://b/1'),"
    " ('run2', 'beta', 1, 'bob', 'RUNNING', 200, NULL, 'active', 's3://b/2'),"
    " ('run3', 'gamma', 1, 'alice', 'FINISHED', 300, 400, 'active', 'file:///3'),"
    " ('run4', 'delta', 1, 'carol', 'FAILED', 150, 160, 'active', NULL);"
    "INSERT INTO params VALUES ('run1', 'model', 'LogReg'), ('run2', 'model', 'logreg'),"
    " ('run3', 'model', 'Tree'), ('run1', 'lr', '0.1');"
    "INSERT INTO tags VALUES ('run1', 'team', 'ml'), ('run3', 'team', 'research'),"
    " ('run4', 'team', 'ml'), ('run1', 'mlflow.runName', 'Alpha');"
    /* run2's acc is NaN (SQLite stores the value as NULL), run4 has no metrics */
    "INSERT INTO latest_metrics VALUES ('run1', 'acc', 1, 1, 0.9, 0),"
    " ('run2', 'acc', 1, 1, NULL, 1), ('run3', 'acc', 1, 1, 0.5, 0),"
    " ('run1', 'loss', 1, 1, 0.1, 0), ('run2', 'loss', 1, 1, 0.5, 0);"
    "INSERT INTO datasets VALUES ('d1', 1, 'train', 'abc'), ('d2', 1, 'eval', 'def');"
    "INSERT INTO inputs VALUES ('i1', 'DATASET', 'd1', 'RUN', 'run1'),"
    " ('i2', 'DATASET', 'd2', 'RUN', 'run3'), ('i3', 'DATASET', 'd1', 'RUN', 'run3');"
    "INSERT INTO input_tags VALUES ('i1', 'mlflow.data.context', 'training'),"
    " ('i2', 'mlflow.data.context', 'eval'), ('i3', 'mlflow.data.context', 'training');"
    "INSERT INTO experiments VALUES (1, 'exp-a', 'x', 'active', 10, 11),"
    " (2, 'exp-b', 'x', 'active', 20, 21), (3, 'other', 'x', 'active', 20, 5);"
    "INSERT INTO experiment_tags VALUES (1, 'team', 'ml'), (2, 'team', 'cv');"
    /* the registry and logged models, as migration 3 makes them */
    "CREATE TABLE registered_models (name TEXT PRIMARY KEY, creation_time BIGINT NOT NULL,"
    " last_updated_time BIGINT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    " user_id TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE TABLE registered_model_tags (name TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (name, key)) WITHOUT ROWID;"
    "CREATE TABLE model_versions (name TEXT NOT NULL, version INTEGER NOT NULL,"
    " creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',"
    " current_stage TEXT NOT NULL DEFAULT 'None', source TEXT NOT NULL,"
    " storage_location TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',"
    " run_link TEXT NOT NULL DEFAULT '', model_id TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'READY', status_message TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (name, version)) WITHOUT ROWID;"
    "CREATE TABLE model_version_tags (name TEXT NOT NULL, version INTEGER NOT NULL,"
    " key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, version, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_models (model_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL,"
    " name TEXT NOT NULL, artifact_location TEXT NOT NULL,"
    " creation_timestamp BIGINT NOT NULL, last_updated_timestamp BIGINT NOT NULL,"
    " status TEXT NOT NULL, lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
    " model_type TEXT NOT NULL DEFAULT '', source_run_id TEXT NOT NULL DEFAULT '',"
    " status_message TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE TABLE logged_model_params (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (model_id, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_model_tags (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (model_id, key)) WITHOUT ROWID;"
    "CREATE TABLE logged_model_metrics (model_id TEXT NOT NULL, key TEXT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,"
    " timestamp BIGINT NOT NULL, step BIGINT NOT NULL, run_id TEXT NOT NULL,"
    " dataset_name TEXT NOT NULL DEFAULT '', dataset_digest TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (model_id, key, step, timestamp, dataset_name, dataset_digest, run_id))"
    " WITHOUT ROWID;"
    /* Beta and delta share a last_updated_time; 'prompt1' is a prompt, 'gamma'
     * says explicitly that it is not, alpha, Beta and delta have no such tag */
    "INSERT INTO registered_models (name, creation_time, last_updated_time) VALUES"
    " ('alpha', 10, 50), ('Beta', 20, 40), ('delta', 30, 40), ('gamma', 40, 60),"
    " ('prompt1', 50, 70);"
    "INSERT INTO registered_model_tags VALUES ('Beta', 'team', 'ml'),"
    " ('delta', 'team', 'cv'), ('gamma', 'mlflow.prompt.is_prompt', 'false'),"
    " ('prompt1', 'mlflow.prompt.is_prompt', 'true'), ('prompt1', 'team', 'ml');"
    /* alpha/2 and Beta/1 share a last_updated_time; alpha/4 is deleted */
    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, source,"
    " storage_location, run_id, current_stage) VALUES"
    " ('alpha', 1, 1, 10, 's3://b/a1', 'x', 'r1', 'None'),"
    " ('alpha', 2, 2, 30, 'S3://B/a2', 'x', 'r2', 'Production'),"
    " ('alpha', 3, 3, 20, 'file:///a3', 'x', 'r1', 'None'),"
    " ('alpha', 4, 4, 90, 's3://b/a4', 'x', 'r1', 'Deleted_Internal'),"
    " ('Beta', 1, 5, 30, 's3://b/b1', 'x', 'r3', 'None'),"
    " ('prompt1', 1, 6, 5, 'models:/p', 'x', '', 'None');"
    "INSERT INTO model_version_tags VALUES ('alpha', 2, 'owner', 'alice'),"
    " ('prompt1', 1, 'mlflow.prompt.is_prompt', 'true'),"
    " ('prompt1', 1, 'mlflow.prompt.text', 'Hi {{name}}');"
    /* m1 and m2 share a creation time; m5 is deleted */
    "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location,"
    " creation_timestamp, last_updated_timestamp, status, lifecycle_stage, model_type,"
    " source_run_id) VALUES"
    " ('m1', 1, 'model', 'x', 100, 110, 'LOGGED_MODEL_READY', 'active', 'Agent', 'run1'),"
    " ('m2', 1, 'model', 'x', 100, 120, 'LOGGED_MODEL_PENDING', 'active', 'agent', 'run2'),"
    " ('m3', 1, 'other', 'x', 300, 130, 'LOGGED_MODEL_READY', 'active', '', 'run1'),"
    " ('m4', 1, 'model', 'x', 200, 140, 'LOGGED_MODEL_UPLOAD_FAILED', 'active', '', ''),"
    " ('m5', 1, 'model', 'x', 500, 150, 'LOGGED_MODEL_READY', 'deleted', '', 'run1');"
    "INSERT INTO logged_model_params VALUES ('m1', 'lr', '0.1'), ('m2', 'lr', '0.01'),"
    " ('m3', 'opt', 'Adam');"
    "INSERT INTO logged_model_tags VALUES ('m1', 'team', 'ml'), ('m4', 'team', 'cv');"
    /* m1's latest acc is 0.9 (step 2) after 0.5 (step 1); m2's 0.7 on two
     * datasets, the later timestamp wins; m3's is NaN, m4 has none */
    "INSERT INTO logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_id,"
    " dataset_name) VALUES"
    " ('m1', 'acc', 0.5, 0, 900, 1, 'run1', ''), ('m1', 'acc', 0.9, 0, 100, 2, 'run1', ''),"
    " ('m2', 'acc', 0.2, 0, 10, 0, 'run2', 'train'), ('m2', 'acc', 0.7, 0, 20, 0, 'run2', 'eval'),"
    " ('m3', 'acc', 0, 1, 10, 0, 'run1', ''), ('m4', 'loss', 0.3, 0, 10, 0, '', '');";

static int setup_db(void **state)
{
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	char *msg = NULL;
	if (sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "schema: %s\n", msg);
		sqlite3_free(msg);
		sqlite3_close(db);
		return -1;
	}
	*state = db;
	return 0;
}

static int teardown_db(void **state)
{
	sqlite3_close(*state);
	return 0;
}

/* Runs the compiled query and returns the ids, space-separated (free it). */
static char *run_query(sqlite3 *db, enum tr_search_target t, const char *filter,
		       const char *const *order, size_t n_order)
{
	struct tr_search_query q;
	compile_ok(t, filter, order, n_order, &q);
	struct tr_buf sql = TR_BUF_INIT;
	/* as the store will: its own conditions ANDed with WHERE */
	static const char *const selects[] = {
	    [TR_SEARCH_RUNS] = "SELECT r.run_uuid FROM runs r WHERE 1=1",
	    [TR_SEARCH_EXPERIMENTS] = "SELECT e.name FROM experiments e WHERE e.experiment_id > 0",
	    [TR_SEARCH_REGISTERED_MODELS] = "SELECT rm.name FROM registered_models rm WHERE 1=1",
	    [TR_SEARCH_MODEL_VERSIONS] = "SELECT mv.name || '/' || mv.version FROM model_versions "
					 "mv WHERE mv.current_stage != 'Deleted_Internal'",
	    [TR_SEARCH_LOGGED_MODELS] = "SELECT lm.model_id FROM logged_models lm WHERE "
					"lm.lifecycle_stage = 'active' AND lm.experiment_id IN (1)",
	};
	tr_buf_appendf(&sql, "%s AND %s ORDER BY %s", selects[t], q.where, q.order_by);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, tr_buf_str(&sql), -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare failed: %s\nSQL: %.2000s", sqlite3_errmsg(db), tr_buf_str(&sql));
	for (size_t i = 0; i < q.n_binds; i++) {
		const struct tr_bind *b = &q.binds[i];
		int rc = b->type == TR_BIND_TEXT
			     ? sqlite3_bind_text(st, (int)i + 1, b->text, -1, SQLITE_TRANSIENT)
			 : b->type == TR_BIND_INT64 ? sqlite3_bind_int64(st, (int)i + 1, b->i64)
						    : sqlite3_bind_double(st, (int)i + 1, b->f64);
		assert_int_equal(rc, SQLITE_OK);
	}
	struct tr_buf ids = TR_BUF_INIT;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ids.len)
			tr_buf_appends(&ids, " ");
		tr_buf_appends(&ids, (const char *)sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		fail_msg("step failed: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	tr_buf_release(&sql);
	tr_search_query_release(&q);
	return tr_buf_detach(&ids);
}

struct exec_case {
	enum tr_search_target target;
	const char *filter;
	const char *order[2];
	const char *want;
};

static const struct exec_case exec_cases[] = {
    /* default order: start_time DESC -> run3 (300), run2 (200), run4 (150), run1 (100) */
    {TR_SEARCH_RUNS, "", {NULL}, "run3 run2 run4 run1"},
    /* LIKE is case-sensitive, ILIKE is not */
    {TR_SEARCH_RUNS, "params.model LIKE 'Log%'", {NULL}, "run1"},
    {TR_SEARCH_RUNS, "params.model ILIKE 'log%'", {NULL}, "run2 run1"},
    {TR_SEARCH_RUNS, "params.model = 'logreg'", {NULL}, "run2"},
    /* NaN never compares true; a missing metric is false, also for != */
    {TR_SEARCH_RUNS, "metrics.acc > 0.4", {NULL}, "run3 run1"},
    {TR_SEARCH_RUNS, "metrics.acc != 0.9", {NULL}, "run3"},
    {TR_SEARCH_RUNS, "metrics.acc IS NULL", {NULL}, "run4"},
    /* != needs the tag; IS NULL finds runs without it */
    {TR_SEARCH_RUNS, "tags.team != 'ml'", {NULL}, "run3"},
    {TR_SEARCH_RUNS, "tags.team IS NULL", {NULL}, "run2"},
    {TR_SEARCH_RUNS, "tags.mlflow.runName = 'Alpha'", {NULL}, "run1"},
    /* NULL end_time never matches */
    {TR_SEARCH_RUNS, "end_time > 0", {NULL}, "run3 run4 run1"},
    {TR_SEARCH_RUNS, "end_time != 160", {NULL}, "run3 run1"},
    {TR_SEARCH_RUNS, "attributes.run_id IN ('run1', 'run3', 'RUN2')", {NULL}, "run3 run1"},
    {TR_SEARCH_RUNS, "run_id NOT IN ('run1', 'run3')", {NULL}, "run2 run4"},
    {TR_SEARCH_RUNS, "\"Run name\" ILIKE 'ALPHA' OR `run name` = 'beta'", {NULL}, "run2 run1"},
    {TR_SEARCH_RUNS,
     "status = 'FINISHED' AND (metrics.loss < 0.2 OR user_id = 'alice') AND created > 100",
     {NULL},
     "run3"},
    {TR_SEARCH_RUNS,
     "status = 'RUNNING' OR status = 'FAILED' AND user_id = 'carol'",
     {NULL},
     "run2 run4"},
    {TR_SEARCH_RUNS,
     "(status = 'RUNNING' OR status = 'FAILED') AND user_id = 'bob'",
     {NULL},
     "run2"},
    {TR_SEARCH_RUNS, "artifact_uri LIKE 's3://%'", {NULL}, "run2 run1"},
    /* datasets */
    {TR_SEARCH_RUNS, "datasets.context = 'training'", {NULL}, "run3 run1"},
    {TR_SEARCH_RUNS, "datasets.name = 'eval' AND datasets.digest = 'abc'", {NULL}, "run3"},
    {TR_SEARCH_RUNS, "datasets.name IN ('eval', 'nope')", {NULL}, "run3"},
    /* metric order: real values, then NaN, then missing, both directions */
    {TR_SEARCH_RUNS, "", {"metrics.acc DESC"}, "run1 run3 run2 run4"},
    {TR_SEARCH_RUNS, "", {"metrics.acc"}, "run3 run1 run2 run4"},
    /* param order: byte order, missing last both directions */
    {TR_SEARCH_RUNS, "", {"params.model ASC"}, "run1 run3 run2 run4"},
    {TR_SEARCH_RUNS, "", {"params.model DESC"}, "run2 run3 run1 run4"},
    /* tags: ties broken by start_time DESC, missing last */
    {TR_SEARCH_RUNS, "", {"tags.team"}, "run4 run1 run3 run2"},
    {TR_SEARCH_RUNS, "", {"tags.team DESC"}, "run3 run4 run1 run2"},
    /* NULL attributes last too */
    {TR_SEARCH_RUNS, "", {"end_time ASC"}, "run4 run1 run3 run2"},
    {TR_SEARCH_RUNS, "", {"end_time DESC"}, "run3 run1 run4 run2"},
    {TR_SEARCH_RUNS, "", {"start_time"}, "run1 run4 run2 run3"},
    {TR_SEARCH_RUNS, "", {"user_id DESC", "metrics.loss"}, "run4 run2 run1 run3"},
    {TR_SEARCH_RUNS, "metrics.acc >= 0", {"run_name DESC"}, "run3 run1"},
    /* experiments */
    {TR_SEARCH_EXPERIMENTS, "name LIKE 'exp-%' AND tags.team = 'ml'", {NULL}, "exp-a"},
    {TR_SEARCH_EXPERIMENTS, "", {NULL}, "exp-b other exp-a"},
    {TR_SEARCH_EXPERIMENTS, "tags.team IS NULL OR name = 'exp-a'", {"name DESC"}, "other exp-a"},
    {TR_SEARCH_EXPERIMENTS, "creation_time >= 20", {"last_update_time"}, "other exp-b"},
    {TR_SEARCH_EXPERIMENTS, "NAME ilike 'EXP%'", {NULL}, NULL}, /* error: see below */
    /* registered models; default order name ASC, in byte order */
    {RM, "", {NULL}, "Beta alpha delta gamma prompt1"},
    /* the prompt rule: a missing tag reads as 'false' (what MLflow >= 2.21 sends) */
    {RM, "tag.`mlflow.prompt.is_prompt` != 'true'", {NULL}, "Beta alpha delta gamma"},
    {RM, "tags.`mlflow.prompt.is_prompt` = 'false'", {NULL}, "Beta alpha delta gamma"},
    {RM, "tags.`mlflow.prompt.is_prompt` = 'true'", {NULL}, "prompt1"},
    {RM, "tags.`mlflow.prompt.is_prompt` ILIKE 'FALSE'", {NULL}, "Beta alpha delta gamma"},
    {RM, "tags.`mlflow.prompt.is_prompt` IS NOT NULL", {NULL}, "gamma prompt1"},
    {RM, "name LIKE '%ta' AND tag.`mlflow.prompt.is_prompt` != 'true'", {NULL}, "Beta delta"},
    {RM, "tags.team = 'ml' AND tag.`mlflow.prompt.is_prompt` != 'true'", {NULL}, "Beta"},
    /* other keys: the tag must exist, also for != */
    {RM, "tags.team != 'ml'", {NULL}, "delta"},
    {RM, "tags.team IS NULL OR name = 'delta'", {NULL}, "alpha delta gamma"},
    {RM, "name LIKE 'b%'", {NULL}, ""},
    {RM, "name ILIKE 'b%'", {NULL}, "Beta"},
    {RM, "name != 'alpha' AND name LIKE '_e%'", {NULL}, "Beta delta"},
    /* ties on last_updated_time broken by name ASC */
    {RM, "", {"timestamp DESC"}, "prompt1 gamma alpha Beta delta"},
    {RM, "", {"last_updated_timestamp ASC"}, "Beta delta alpha gamma prompt1"},
    {RM, "", {"creation_timestamp DESC"}, "prompt1 gamma delta Beta alpha"},
    {RM, "tag.`mlflow.prompt.is_prompt` != 'true'", {"name DESC"}, "gamma delta alpha Beta"},
    /* model versions; default last_updated DESC, name ASC, version DESC; the
     * deleted alpha/4 is the store's condition */
    {MV, "", {NULL}, "Beta/1 alpha/2 alpha/3 alpha/1 prompt1/1"},
    {MV, "run_id IN ('r1', 'r3', 'R2')", {NULL}, "Beta/1 alpha/3 alpha/1"},
    {MV, "run_id NOT IN ('r1', 'r2')", {NULL}, "Beta/1 prompt1/1"},
    {MV, "run_id = 'r1' OR run_id ILIKE 'R2'", {NULL}, "alpha/2 alpha/3 alpha/1"},
    {MV, "version_number > 1", {NULL}, "alpha/2 alpha/3"},
    {MV, "version_number = 1", {NULL}, "Beta/1 alpha/1 prompt1/1"},
    {MV, "name = 'alpha' AND version_number <= 2", {NULL}, "alpha/2 alpha/1"},
    {MV,
     "version_number != 2 AND version_number >= 1",
     {"version_number"},
     "Beta/1 alpha/1 prompt1/1 alpha/3"},
    {MV, "source_path LIKE 's3://%'", {NULL}, "Beta/1 alpha/1"},
    {MV, "source_path ILIKE 's3://%'", {NULL}, "Beta/1 alpha/2 alpha/1"},
    {MV, "tags.owner = 'alice'", {NULL}, "alpha/2"},
    {MV, "tags.owner != 'bob'", {NULL}, "alpha/2"},
    {MV, "tags.`mlflow.prompt.is_prompt` != 'true'", {NULL}, "Beta/1 alpha/2 alpha/3 alpha/1"},
    {MV, "tags.`mlflow.prompt.is_prompt` = 'true'", {NULL}, "prompt1/1"},
    {MV, "", {"name DESC"}, "prompt1/1 alpha/3 alpha/2 alpha/1 Beta/1"},
    {MV, "", {"version_number DESC"}, "alpha/3 alpha/2 Beta/1 alpha/1 prompt1/1"},
    {MV, "", {"creation_timestamp"}, "alpha/1 alpha/2 alpha/3 Beta/1 prompt1/1"},
    {MV,
     "",
     {"last_updated_timestamp", "version_number"},
     "prompt1/1 alpha/1 alpha/3 Beta/1 alpha/2"},
    /* logged models; default creation_timestamp DESC, model_id ASC; m5 is deleted */
    {LM, "", {NULL}, "m3 m4 m1 m2"},
    {LM, "name = 'model'", {NULL}, "m4 m1 m2"},
    {LM, "status IN ('LOGGED_MODEL_READY', 'LOGGED_MODEL_UPLOAD_FAILED')", {NULL}, "m3 m4 m1"},
    {LM, "status NOT IN ('LOGGED_MODEL_READY')", {NULL}, "m4 m2"},
    {LM, "model_type LIKE 'a%'", {NULL}, "m2"},
    {LM, "model_type ILIKE 'a%'", {NULL}, "m1 m2"},
    {LM, "source_run_id = 'run1' AND creation_time < 300", {NULL}, "m1"},
    {LM, "last_updated_timestamp >= 130", {NULL}, "m3 m4"},
    /* a metric clause reads the latest value: by step, then timestamp */
    {LM, "metrics.acc > 0.8", {NULL}, "m1"},
    {LM, "metrics.acc < 0.6", {NULL}, ""},
    {LM, "metrics.acc = 0.7", {NULL}, "m2"},
    /* NaN never compares true, a missing metric is false also for != */
    {LM, "metrics.acc != 0.7", {NULL}, "m1"},
    {LM, "metrics.acc IS NULL", {NULL}, "m4"},
    {LM, "params.lr LIKE '0.1%'", {NULL}, "m1"},
    {LM, "params.lr != '0.1' OR tags.team = 'cv'", {NULL}, "m4 m2"},
    {LM, "tags.team IS NOT NULL AND name = 'model'", {NULL}, "m4 m1"},
    /* metric order: real values, then NaN, then missing, both directions */
    {LM, "", {"metrics.acc DESC"}, "m1 m2 m3 m4"},
    {LM, "", {"metrics.acc ASC"}, "m2 m1 m3 m4"},
    {LM, "", {"creation_time ASC"}, "m1 m2 m4 m3"},
    {LM, "", {"model_id DESC"}, "m4 m3 m2 m1"},
    {LM, "name = 'model'", {"last_updated_time DESC"}, "m4 m2 m1"},
    {LM, "", {"metrics.loss", "name DESC"}, "m4 m3 m1 m2"},
};

static void test_execute(void **state)
{
	sqlite3 *db = *state;
	for (size_t i = 0; i < sizeof(exec_cases) / sizeof(exec_cases[0]); i++) {
		const struct exec_case *c = &exec_cases[i];
		if (!c->want)
			continue;
		size_t n = c->order[0] ? (c->order[1] ? 2 : 1) : 0;
		char *got = run_query(db, c->target, c->filter, c->order, n);
		if (strcmp(got, c->want) != 0)
			fail_msg("case %zu \"%s\" order \"%s\": got \"%s\", want \"%s\"", i,
				 c->filter, c->order[0] ? c->order[0] : "", got, c->want);
		free(got);
	}
	/* attribute names are case-sensitive, like MLflow's */
	char *msg = compile_err(TR_SEARCH_EXPERIMENTS, "NAME ilike 'EXP%'", NULL, 0);
	assert_non_null(strstr(msg, "Invalid attribute key 'NAME'"));
	free(msg);
}

/* The deepest nesting we emit and a long flat list stay executable in SQLite. */
static void test_execute_large(void **state)
{
	sqlite3 *db = *state;
	struct tr_buf b = TR_BUF_INIT;
	char *f = alternating(TR_SEARCH_MAX_SQL_DEPTH, "metrics.acc > 0 AND datasets.context "
						       "IN ('training', 'x')");
	char *got = run_query(db, TR_SEARCH_RUNS, f, NULL, 0);
	assert_string_equal(got, "run1");
	free(got);
	free(f);

	/* the most clauses we take, OR-ed: chunked so SQLite's expression depth holds */
	tr_buf_reset(&b);
	for (int i = 0; i < TR_SEARCH_MAX_CLAUSES - 1; i++)
		tr_buf_appendf(&b, "%smetrics.acc = %d", i ? " OR " : "", i);
	got = run_query(db, TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0);
	assert_string_equal(got, "");
	free(got);
	tr_buf_appends(&b, " OR tags.team = 'research'");
	got = run_query(db, TR_SEARCH_RUNS, tr_buf_str(&b), NULL, 0);
	assert_string_equal(got, "run3");
	free(got);
	tr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_filters),
	    cmocka_unit_test(test_golden_order_by),
	    cmocka_unit_test(test_lead_metric_plan),
	    cmocka_unit_test(test_bind_numbering),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_duplicate_order_by),
	    cmocka_unit_test(test_error_after_where),
	    cmocka_unit_test(test_null_err),
	    cmocka_unit_test(test_injection_stays_in_binds),
	    cmocka_unit_test(test_registry_injection_stays_in_binds),
	    cmocka_unit_test(test_one_megabyte_filters),
	    cmocka_unit_test(test_clause_cap_boundary),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test_setup_teardown(test_execute, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_execute_large, setup_db, teardown_db),
	};
	return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
