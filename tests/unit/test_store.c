/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store conformance suite. Every test takes a fresh store from the driver
 * under test (struct driver_case); main() runs the suite for each driver this
 * build has (SQLite now; PostgreSQL joins the table when its driver lands).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/log_batch_json.h"
#include "core/arena.h"
#include "core/json.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"

/* tr_db_run refuses a bind list that does not match the statement before
 * reading any argument (a wrong list once bound a string as a double). */
static void bind_list_must_match_the_sql(void **state)
{
	struct fixture *f = *state;
	struct tr_db *db;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(store_reader_get(f->s, &db, &err), TR_OK);
	assert_int_equal(tr_db_run(db, &err, "SELECT ?, ?", "t", "x"), TR_ERR_INTERNAL_ERROR);
	assert_non_null(strstr(tr_buf_str(&err), "1 binds given for 2 parameters"));
	tr_buf_reset(&err);
	assert_int_equal(tr_db_run(db, &err, "SELECT ?1, ?1", "t", "x"), TR_OK);
	store_reader_put(f->s, db);
	tr_buf_release(&err);
}

struct opener {
	const char *uri;
	enum tr_err rc;
	char msg[256];
};

static void *open_store(void *arg)
{
	struct opener *o = arg;
	struct tr_store *s = NULL;
	struct tr_buf err = TR_BUF_INIT;
	o->rc = tr_store_open(o->uri, NULL, &s, &err);
	snprintf(o->msg, sizeof(o->msg), "%s", tr_buf_str(&err));
	tr_store_close(s);
	tr_buf_release(&err);
	return NULL;
}

/* A server and `trellis run` may create the same new store at the same
 * moment: both must open it (once refused as "older schema, upgrade"). */
static void concurrent_creation_migrates_once(void **state)
{
	char dir[] = "/tmp/trellis-unit-cc-XXXXXX", uri[128], path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:///%s/t.db", dir);
	struct opener o[6];
	pthread_t th[6];
	for (int i = 0; i < 6; i++) {
		o[i] = (struct opener){.uri = uri};
		assert_int_equal(pthread_create(&th[i], NULL, open_store, &o[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		if (o[i].rc)
			fail_msg("opener %d: %s", i, o[i].msg);
	}
	int v = -2;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_schema_version(uri, &v, &err), TR_OK);
	assert_int_equal(v, TR_SCHEMA_VERSION);
	tr_buf_release(&err);
	const char *files[] = {"t.db", "t.db-wal", "t.db-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void durability_settings(void **state)
{
	struct fixture *f = *state;
	struct tr_db *db;
	struct tr_db_stmt *st;
	struct tr_buf err = TR_BUF_INIT;
	bool row;
	char path[128];
	snprintf(path, sizeof(path), "%s/t.db", f->dir);
	assert_int_equal(tr_db_open(&tr_db_sqlite_ops, path, false, &db, &err), TR_OK);
	assert_int_equal(tr_db_prepare(db, "PRAGMA synchronous", &st, &err), TR_OK);
	assert_int_equal(tr_db_step(db, st, &row, &err), TR_OK);
	assert_int_equal(tr_db_col_int64(db, st, 0), 2); /* FULL */
	tr_db_done(db, st);
	assert_int_equal(tr_db_prepare(db, "PRAGMA journal_mode", &st, &err), TR_OK);
	assert_int_equal(tr_db_step(db, st, &row, &err), TR_OK);
	assert_string_equal(tr_db_col_text(db, st, 0), "wal");
	tr_db_done(db, st);
	tr_db_close(db);
	tr_buf_release(&err);
}

static void default_experiment_exists(void **state)
{
	struct fixture *f = *state;
	json_t *out;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_experiment_get(f->s, "0", &out, &err), TR_OK);
	json_t *e = json_object_get(out, "experiment");
	assert_string_equal(json_string_value(json_object_get(e, "name")), "Default");
	assert_string_equal(json_string_value(json_object_get(e, "artifact_location")),
			    "mlflow-artifacts:/0");
	assert_string_equal(json_string_value(json_object_get(e, "lifecycle_stage")), "active");
	json_decref(out);
	assert_int_equal(tr_store_experiment_get(f->s, "42", &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(tr_store_experiment_get(f->s, "x'; --", &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	tr_buf_release(&err);
}

static void experiment_lifecycle(void **state)
{
	struct fixture *f = *state;
	json_t *res, *out;
	char msg[512];
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(
	    write_json(f->s, tr_store_experiment_create,
		       "{\"name\":\"e1\",\"tags\":[{\"key\":\"team\",\"value\":\"ml\"}]}", &res,
		       NULL, 0),
	    TR_OK);
	assert_string_equal(json_string_value(json_object_get(res, "experiment_id")), "1");
	json_decref(res);
	assert_int_equal(write_json(f->s, tr_store_experiment_create, "{\"name\":\"e1\"}", NULL,
				    msg, sizeof(msg)),
			 TR_ERR_RESOURCE_ALREADY_EXISTS);
	assert_int_equal(
	    write_json(f->s, tr_store_experiment_create,
		       "{\"name\":\"e2\",\"artifact_location\":\"http:///#/../../etc/\"}", NULL,
		       NULL, 0),
	    TR_ERR_INVALID_PARAMETER_VALUE);
	char *run = create_run(f->s, "1");
	assert_int_equal(write_json(f->s, tr_store_experiment_delete, "{\"experiment_id\":\"1\"}",
				    NULL, NULL, 0),
			 TR_OK);
	assert_int_equal(tr_store_run_get(f->s, run, &out, &err), TR_OK);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_object_get(out, "run"), "info"),
					      "lifecycle_stage")),
	    "deleted");
	json_decref(out);
	/* renaming a deleted experiment is a client error (400), not MLflow's 500 */
	assert_int_equal(write_json(f->s, tr_store_experiment_update,
				    "{\"experiment_id\":\"1\",\"new_name\":\"z\"}", NULL, NULL, 0),
			 TR_ERR_INVALID_STATE);
	assert_int_equal(write_json(f->s, tr_store_experiment_restore, "{\"experiment_id\":\"1\"}",
				    NULL, NULL, 0),
			 TR_OK);
	assert_int_equal(tr_store_run_get(f->s, run, &out, &err), TR_OK);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_object_get(out, "run"), "info"),
					      "lifecycle_stage")),
	    "active");
	json_decref(out);
	assert_int_equal(write_json(f->s, tr_store_experiment_update,
				    "{\"experiment_id\":\"1\",\"new_name\":\"e1b\"}", NULL, NULL,
				    0),
			 TR_OK);
	assert_int_equal(tr_store_experiment_get_by_name(f->s, "e1b", &out, &err), TR_OK);
	json_t *tags = json_object_get(json_object_get(out, "experiment"), "tags");
	assert_int_equal(json_array_size(tags), 1);
	json_decref(out);
	assert_int_equal(tr_store_experiment_get_by_name(f->s, "e1", &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(write_json(f->s, tr_store_experiment_delete, "{\"experiment_id\":\"0\"}",
				    NULL, NULL, 0),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	free(run);
	tr_buf_release(&err);
}

static void params_are_write_once_and_batches_atomic(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	char body[2048], msg[512];
	json_t *out;
	struct tr_buf err = TR_BUF_INIT;
	snprintf(body, sizeof(body), "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.1\"}", run);
	assert_int_equal(write_json(f->s, tr_store_run_log_param, body, NULL, NULL, 0), TR_OK);
	assert_int_equal(write_json(f->s, tr_store_run_log_param, body, NULL, NULL, 0), TR_OK);
	snprintf(body, sizeof(body), "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.2\"}", run);
	assert_int_equal(write_json(f->s, tr_store_run_log_param, body, NULL, msg, sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_non_null(strstr(msg, "Changing param values is not allowed"));
	/* one bad metric: nothing of the batch is stored */
	snprintf(body, sizeof(body),
		 "{\"run_id\":\"%s\",\"params\":[{\"key\":\"p\",\"value\":\"1\"}],\"metrics\":["
		 "{\"key\":\"m\",\"value\":1,\"timestamp\":5,\"step\":1},"
		 "{\"key\":\"../bad\",\"value\":1,\"timestamp\":5}]}",
		 run);
	assert_int_equal(write_json(f->s, tr_store_run_log_batch, body, NULL, NULL, 0),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_store_run_get(f->s, run, &out, &err), TR_OK);
	json_t *data = json_object_get(json_object_get(out, "run"), "data");
	assert_null(json_object_get(data, "metrics"));
	assert_int_equal(json_array_size(json_object_get(data, "params")), 1); /* only lr */
	json_decref(out);
	/* a good batch: latest value by (step, timestamp), NaN kept */
	snprintf(body, sizeof(body),
		 "{\"run_id\":\"%s\",\"metrics\":["
		 "{\"key\":\"m\",\"value\":3,\"timestamp\":5,\"step\":2},"
		 "{\"key\":\"m\",\"value\":9,\"timestamp\":9,\"step\":1},"
		 "{\"key\":\"n\",\"value\":\"NaN\",\"timestamp\":5,\"step\":0},"
		 "{\"key\":\"m\",\"value\":3,\"timestamp\":5,\"step\":2}]}",
		 run);
	assert_int_equal(write_json(f->s, tr_store_run_log_batch, body, NULL, NULL, 0), TR_OK);
	assert_int_equal(tr_store_run_get(f->s, run, &out, &err), TR_OK);
	json_t *ms =
	    json_object_get(json_object_get(json_object_get(out, "run"), "data"), "metrics");
	assert_int_equal(json_array_size(ms), 2);
	json_t *m0 = json_array_get(ms, 0), *m1 = json_array_get(ms, 1);
	assert_string_equal(json_string_value(json_object_get(m0, "key")), "m");
	assert_true(json_real_value(json_object_get(m0, "value")) == 3.0);
	assert_int_equal(json_integer_value(json_object_get(m0, "step")), 2);
	assert_string_equal(json_string_value(json_object_get(m1, "value")), "NaN");
	json_decref(out);
	/* history: every point once (the duplicate collapsed), ordered by timestamp, step */
	char args[256];
	snprintf(args, sizeof(args), "{\"run_id\":\"%s\",\"metric_key\":\"m\",\"max_results\":1}",
		 run);
	json_t *a = json_loads(args, 0, NULL);
	assert_int_equal(tr_store_metric_history(f->s, a, &out, &err), TR_OK);
	assert_int_equal(json_array_size(json_object_get(out, "metrics")), 1);
	const char *tok = json_string_value(json_object_get(out, "next_page_token"));
	assert_non_null(tok);
	json_object_set_new(a, "page_token", json_string(tok));
	json_decref(out);
	assert_int_equal(tr_store_metric_history(f->s, a, &out, &err), TR_OK);
	assert_int_equal(json_array_size(json_object_get(out, "metrics")), 1);
	assert_null(json_object_get(out, "next_page_token"));
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(out, "metrics"), 0), "timestamp")),
			 9);
	json_decref(out);
	json_decref(a);
	free(run);
	tr_buf_release(&err);
}

static void deleted_runs_refuse_writes(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	char body[256];
	snprintf(body, sizeof(body), "{\"run_id\":\"%s\"}", run);
	assert_int_equal(write_json(f->s, tr_store_run_delete, body, NULL, NULL, 0), TR_OK);
	snprintf(body, sizeof(body), "{\"run_id\":\"%s\",\"key\":\"t\",\"value\":\"v\"}", run);
	assert_int_equal(write_json(f->s, tr_store_run_set_tag, body, NULL, NULL, 0),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(write_json(f->s, tr_store_run_set_tag,
				    "{\"run_id\":\"nope\",\"key\":\"t\",\"value\":\"v\"}", NULL,
				    NULL, 0),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	free(run);
}

static void search_runs_filters_and_orders(void **state)
{
	struct fixture *f = *state;
	char *ids[4];
	char body[512];
	for (int i = 0; i < 4; i++) {
		ids[i] = create_run(f->s, "0");
		snprintf(body, sizeof(body),
			 "{\"run_id\":\"%s\",\"params\":[{\"key\":\"p\",\"value\":\"%d\"}],"
			 "\"metrics\":[{\"key\":\"acc\",\"value\":%d,\"timestamp\":1}]}",
			 ids[i], i % 2, i);
		assert_int_equal(write_json(f->s, tr_store_run_log_batch, body, NULL, NULL, 0),
				 TR_OK);
	}
	json_t *a = json_loads(
		   "{\"experiment_ids\":[\"0\"],\"filter\":\"params.p = '1' OR metrics.acc < 1\","
		   "\"order_by\":[\"metrics.acc DESC\"],\"max_results\":2}",
		   0, NULL),
	       *out;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_run_search(f->s, a, &out, &err), TR_OK);
	json_t *runs = json_object_get(out, "runs");
	assert_int_equal(json_array_size(runs), 2);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_array_get(runs, 0), "info"), "run_id")),
			    ids[3]);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_array_get(runs, 1), "info"), "run_id")),
			    ids[1]);
	assert_non_null(json_object_get(out, "next_page_token"));
	json_object_set(a, "page_token", json_object_get(out, "next_page_token"));
	json_decref(out);
	assert_int_equal(tr_store_run_search(f->s, a, &out, &err), TR_OK);
	runs = json_object_get(out, "runs");
	assert_int_equal(json_array_size(runs), 1);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_array_get(runs, 0), "info"), "run_id")),
			    ids[0]);
	json_decref(out);
	json_object_set_new(a, "filter", json_string("params.p = 'x' OR"));
	assert_int_equal(tr_store_run_search(f->s, a, &out, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	json_decref(a);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	tr_buf_release(&err);
}

/* Ordering by a metric walks its index in tiers (real values, NaN, missing);
 * paging across the tiers must give MLflow's order exactly. */
static void search_by_metric_pages_across_tiers(void **state)
{
	struct fixture *f = *state;
	const char *vals[] = {"3", "1", "2", "\"NaN\"", NULL, NULL};
	char *ids[6], body[512];
	for (int i = 0; i < 6; i++) {
		ids[i] = create_run(f->s, "0");
		if (!vals[i])
			continue;
		snprintf(body, sizeof(body),
			 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":%s,"
			 "\"timestamp\":1}]}",
			 ids[i], vals[i]);
		assert_int_equal(write_json(f->s, tr_store_run_log_batch, body, NULL, NULL, 0),
				 TR_OK);
	}
	/* missing runs tie on start_time: run_uuid ASC breaks the tie */
	const char *miss_lo = strcmp(ids[4], ids[5]) < 0 ? ids[4] : ids[5];
	const char *miss_hi = miss_lo == ids[4] ? ids[5] : ids[4];
	const char *want_desc[] = {ids[0], ids[2], ids[1], ids[3], miss_lo, miss_hi};
	const char *want_asc[] = {ids[1], ids[2], ids[0], ids[3], miss_lo, miss_hi};
	for (int dir = 0; dir < 2; dir++) {
		const char **want = dir ? want_asc : want_desc;
		json_t *a =
		    json_pack("{s:[s],s:[s],s:i}", "experiment_ids", "0", "order_by",
			      dir ? "metrics.acc ASC" : "metrics.acc DESC", "max_results", 2);
		struct tr_buf err = TR_BUF_INIT;
		for (int page = 0; page < 4; page++) {
			json_t *out = NULL;
			assert_int_equal(tr_store_run_search(f->s, a, &out, &err), TR_OK);
			json_t *runs = json_object_get(out, "runs");
			if (page == 3) { /* the page after a full last page is empty */
				assert_int_equal(json_array_size(runs), 0);
				json_decref(out);
				break;
			}
			assert_int_equal(json_array_size(runs), 2);
			for (int k = 0; k < 2; k++)
				assert_string_equal(
				    json_string_value(json_object_get(
					json_object_get(json_array_get(runs, (size_t)k), "info"),
					"run_id")),
				    want[page * 2 + k]);
			json_object_set(a, "page_token", json_object_get(out, "next_page_token"));
			json_decref(out);
		}
		/* a bound on the metric excludes NaN and missing runs */
		json_object_set_new(a, "filter", json_string("metrics.acc >= 2"));
		json_object_del(a, "page_token");
		json_object_set_new(a, "max_results", json_integer(10));
		json_t *out = NULL;
		assert_int_equal(tr_store_run_search(f->s, a, &out, &err), TR_OK);
		assert_int_equal(json_array_size(json_object_get(out, "runs")), 2);
		json_decref(out);
		json_decref(a);
		tr_buf_release(&err);
	}
	for (int i = 0; i < 6; i++)
		free(ids[i]);
}

/* The plans behind runs/search: ordering by a metric walks its index and
 * looks runs up by key; the default order walks the experiment index. A
 * regression to a scan of every run would pass the functional tests. */
static void search_query_plans(void **state)
{
	struct fixture *f = *state;
	struct tr_buf plan = TR_BUF_INIT, err = TR_BUF_INIT;
	json_t *a = json_pack("{s:[s],s:s,s:[s],s:i}", "experiment_ids", "0", "filter",
			      "metrics.m3 < 0.5 and params.p2 = '7'", "order_by", "metrics.m3 DESC",
			      "max_results", 100);
	assert_int_equal(store_run_search_explain(f->s, a, &plan, &err), TR_OK);
	assert_non_null(strstr(tr_buf_str(&plan),
			       "SEARCH om USING COVERING INDEX latest_metrics_key_value "
			       "(key=? AND is_nan=? AND value<?)"));
	assert_non_null(strstr(tr_buf_str(&plan), "SEARCH r USING PRIMARY KEY (run_uuid=?)"));
	assert_null(strstr(tr_buf_str(&plan), "SCAN r"));
	json_decref(a);
	tr_buf_reset(&plan);
	a = json_pack("{s:[s],s:s}", "experiment_ids", "0", "filter", "params.p2 = '7'");
	assert_int_equal(store_run_search_explain(f->s, a, &plan, &err), TR_OK);
	assert_non_null(strstr(tr_buf_str(&plan), "SEARCH r USING INDEX runs_experiment"));
	assert_null(strstr(tr_buf_str(&plan), "SCAN r"));
	json_decref(a);
	tr_buf_release(&plan);
	tr_buf_release(&err);
}

static void audit_chain_verifies_and_is_append_only(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	free(run);
	assert_int_equal(
	    write_json(f->s, tr_store_experiment_create, "{\"name\":\"\"}", NULL, NULL, 0),
	    TR_ERR_INVALID_PARAMETER_VALUE); /* rejected: audited too */
	int64_t count = 0, bad = 0;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_audit_verify(f->s, &count, &bad, &err), TR_OK);
	assert_int_equal(count, 2);
	/* UPDATE and DELETE on the audit table are refused by the store */
	struct tr_db *db;
	char path[128];
	snprintf(path, sizeof(path), "%s/t.db", f->dir);
	assert_int_equal(tr_db_open(&tr_db_sqlite_ops, path, false, &db, &err), TR_OK);
	assert_int_not_equal(tr_db_exec(db, "UPDATE audit_log SET actor = 'mallory'", &err), TR_OK);
	assert_int_not_equal(tr_db_exec(db, "DELETE FROM audit_log WHERE seq = 1", &err), TR_OK);
	/* tampering with the triggers dropped is detected by verify */
	assert_int_equal(tr_db_exec(db,
				    "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET "
				    "outcome = 'ok' WHERE seq = 2",
				    &err),
			 TR_OK);
	tr_db_close(db);
	assert_int_equal(tr_store_audit_verify(f->s, &count, &bad, &err), TR_ERR_DATA_LOSS);
	assert_int_equal(bad, 2);
	tr_buf_release(&err);
}

/* Store URIs as SQLAlchemy reads them. */
static void store_uris(void **state)
{
	static const struct {
		const char *uri, *path; /* path NULL: refused */
	} cases[] = {
	    {"sqlite:///trellis.db", "trellis.db"},
	    {"sqlite:///dir/x.db", "dir/x.db"},
	    {"sqlite:////abs/x.db", "/abs/x.db"},
	    {"sqlite:////abs/x.db?mode=rwc", "/abs/x.db"},
	    {"plain/path.db", "plain/path.db"},
	    {"sqlite://", NULL},
	    {"sqlite:///", NULL},
	    {"postgresql://u@h/db", NULL},
	    {"mysql://h/db", NULL},
	    {"http://h/x", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tr_db_ops *driver = NULL;
		char *path = NULL;
		struct tr_buf err = TR_BUF_INIT;
		enum tr_err rc = tr_store_uri_parse(cases[i].uri, &driver, &path, &err);
		if (cases[i].path) {
			assert_int_equal(rc, TR_OK);
			assert_string_equal(path, cases[i].path);
			assert_ptr_equal(driver, &tr_db_sqlite_ops);
		} else {
			assert_int_equal(rc, TR_ERR_INVALID_PARAMETER_VALUE);
			assert_true(err.len > 0);
		}
		free(path);
		tr_buf_release(&err);
	}
}

static void older_schema_is_refused(void **state)
{
	char dir[] = "/tmp/trellis-unit-old-XXXXXX", path[128], uri[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/old.db", dir);
	snprintf(uri, sizeof(uri), "sqlite:///%s", path);
	struct tr_db *db;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_db_open(&tr_db_sqlite_ops, path, false, &db, &err), TR_OK);
	assert_int_equal(tr_db_exec(db,
				    "CREATE TABLE schema_version (version INTEGER NOT NULL); "
				    "INSERT INTO schema_version VALUES (0);",
				    &err),
			 TR_OK);
	tr_db_close(db);
	struct tr_store *s = NULL;
	assert_int_not_equal(tr_store_open(uri, NULL, &s, &err), TR_OK);
	assert_non_null(strstr(tr_buf_str(&err), "trellis db upgrade"));
	struct tr_store_opts up = {.upgrade = true};
	assert_int_equal(tr_store_open(uri, &up, &s, &err), TR_OK);
	tr_store_close(s);
	int v = 0;
	assert_int_equal(tr_store_schema_version(uri, &v, &err), TR_OK);
	assert_int_equal(v, TR_SCHEMA_VERSION);
	tr_buf_release(&err);
	char f2[160];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(f2, sizeof(f2), "%s%s", path, sfx[i]);
		unlink(f2);
	}
	rmdir(dir);
}

int main(void)
{
	/* One entry per driver in this build; the suite is the same for each. */
	const struct CMUnitTest sqlite_suite[] = {
	    cmocka_unit_test_setup_teardown(durability_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(bind_list_must_match_the_sql, setup, teardown),
	    cmocka_unit_test(concurrent_creation_migrates_once),
	    cmocka_unit_test_setup_teardown(default_experiment_exists, setup, teardown),
	    cmocka_unit_test_setup_teardown(experiment_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(params_are_write_once_and_batches_atomic, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(deleted_runs_refuse_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(search_runs_filters_and_orders, setup, teardown),
	    cmocka_unit_test_setup_teardown(search_by_metric_pages_across_tiers, setup, teardown),
	    cmocka_unit_test_setup_teardown(search_query_plans, setup, teardown),
	    cmocka_unit_test_setup_teardown(audit_chain_verifies_and_is_append_only, setup,
					    teardown),
	    cmocka_unit_test(older_schema_is_refused),
	    cmocka_unit_test(store_uris),
	};
	return cmocka_run_group_tests_name("store (sqlite)", sqlite_suite, NULL, NULL);
}
