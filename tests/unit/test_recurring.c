/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the recurring-run store ops (src/store/store_kfp.c) and one
 * scheduler tick (src/pipeline/schedule.c) on a real SQLite store: create
 * checks, next fire times, enable/disable/delete, the list, the due query,
 * and a fire whose pipeline version was deleted (recorded, schedule goes on). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/clock.h"
#include "pipeline/schedule.h"
#include "store_fixture.h"

#define SPEC "\"spec_text\": \"{}\""

static json_t *create(struct tr_store *s, const char *json, enum tr_err want, const char *msg)
{
	json_t *res = NULL;
	char m[512] = "";
	enum tr_err rc = write_json(s, tr_store_kfp_recurring_create, json, &res, m, sizeof(m));
	if (rc != want)
		fail_msg("create %s: got %d (%s), wanted %d", json, rc, m, want);
	if (msg && !strstr(m, msg))
		fail_msg("create %s: message '%s' lacks '%s'", json, m, msg);
	return res;
}

static void test_create_checks(void **state)
{
	struct fixture *f = *state;
	const enum tr_err BAD = TR_ERR_INVALID_PARAMETER_VALUE;
	create(f->s,
	       "{\"display_name\": \"\", " SPEC
	       ", \"trigger\": {\"periodic_schedule\": {\"interval_second\": 5}}}",
	       BAD, "display_name is empty");
	create(f->s, "{\"display_name\": \"a\", " SPEC ", \"trigger\": {}}", BAD, "neither");
	create(f->s,
	       "{\"display_name\": \"a\", " SPEC
	       ", \"trigger\": {\"periodic_schedule\": {\"interval_second\": 5}, "
	       "\"cron_schedule\": {\"cron\": \"* * * * * *\"}}}",
	       BAD, "both");
	create(f->s,
	       "{\"display_name\": \"a\", " SPEC
	       ", \"max_concurrency\": 11, \"trigger\": {\"periodic_schedule\": "
	       "{\"interval_second\": 5}}}",
	       BAD, "between 1 and 10");
	create(f->s,
	       "{\"display_name\": \"a\", " SPEC
	       ", \"max_concurrency\": \"x\", \"trigger\": {\"periodic_schedule\": "
	       "{\"interval_second\": 5}}}",
	       BAD, "whole number");
	create(f->s,
	       "{\"display_name\": \"a\", \"trigger\": {\"periodic_schedule\": "
	       "{\"interval_second\": 5}}}",
	       BAD, "needs a pipeline_spec");
	create(f->s,
	       "{\"display_name\": \"a\", " SPEC
	       ", \"mode\": \"MAYBE\", \"trigger\": {\"periodic_schedule\": "
	       "{\"interval_second\": 5}}}",
	       BAD, "mode 'MAYBE'");
	create(f->s,
	       "{\"display_name\": \"a\", " SPEC
	       ", \"experiment_id\": \"42\", \"trigger\": {\"periodic_schedule\": "
	       "{\"interval_second\": 5}}}",
	       TR_ERR_RESOURCE_DOES_NOT_EXIST, "experiment '42'");
	create(f->s,
	       "{\"display_name\": \"a\", \"pipeline_id\": \"p\", \"trigger\": "
	       "{\"periodic_schedule\": {\"interval_second\": 5}}}",
	       TR_ERR_RESOURCE_DOES_NOT_EXIST, "pipeline 'p' not found");
}

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct tr_buf err = TR_BUF_INIT;
	int64_t before = tr_clock_now_ms();
	json_t *r = create(f->s,
			   "{\"display_name\": \"p\", " SPEC
			   ", \"max_concurrency\": \"3\", \"no_catchup\": true, "
			   "\"runtime_config\": {\"parameters\": {\"a\": 1}}, "
			   "\"trigger\": {\"periodic_schedule\": {\"interval_second\": 60}}}",
			   TR_OK, NULL);
	const char *id = json_string_value(json_object_get(r, "recurring_run_id"));
	assert_int_equal(strlen(id), 36);
	assert_true(json_is_true(json_object_get(r, "enabled")));
	assert_true(json_is_true(json_object_get(r, "no_catchup")));
	assert_int_equal(json_integer_value(json_object_get(r, "max_concurrency")), 3);
	assert_string_equal(json_string_value(json_object_get(r, "experiment_id")), "0");
	int64_t next = json_integer_value(json_object_get(r, "next_fire_ms"));
	assert_true(next >= before + 60000 && next <= tr_clock_now_ms() + 60000);
	json_t *d = create(f->s,
			   "{\"display_name\": \"c\", " SPEC ", \"mode\": \"DISABLE\", "
			   "\"trigger\": {\"cron_schedule\": {\"cron\": \"@hourly\"}}}",
			   TR_OK, NULL);
	assert_false(json_is_true(json_object_get(d, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(d, "next_fire_ms")), 0);
	char body[128];
	snprintf(body, sizeof(body), "{\"recurring_run_id\": \"%s\"}",
		 json_string_value(json_object_get(d, "recurring_run_id")));
	assert_int_equal(write_json(f->s, tr_store_kfp_recurring_enable, body, NULL, NULL, 0),
			 TR_OK);
	json_t *g = NULL;
	assert_int_equal(
	    tr_store_kfp_recurring_get(
		f->s, json_string_value(json_object_get(d, "recurring_run_id")), &g, &err),
	    TR_OK);
	assert_true(json_is_true(json_object_get(g, "enabled")));
	next = json_integer_value(json_object_get(g, "next_fire_ms"));
	assert_true(next > before && next % 3600000 == 0);
	json_decref(g);
	/* nothing due yet; the earliest is the periodic one */
	json_t *due = NULL;
	int64_t earliest = 0;
	assert_int_equal(tr_store_kfp_recurring_due(f->s, tr_clock_now_ms(), &due, &earliest, &err),
			 TR_OK);
	assert_int_equal(json_array_size(due), 0);
	assert_true(earliest > 0);
	json_decref(due);
	assert_int_equal(
	    tr_store_kfp_recurring_due(f->s, tr_clock_now_ms() + 3600001, &due, &earliest, &err),
	    TR_OK);
	assert_int_equal(json_array_size(due), 2);
	json_decref(due);
	/* disable: no next fire */
	assert_int_equal(write_json(f->s, tr_store_kfp_recurring_disable, body, NULL, NULL, 0),
			 TR_OK);
	/* list */
	struct tr_store_list q = {"", json_array(), "created_ms DESC, recurring_run_id", 10, 0};
	json_t *rows = NULL;
	int64_t total = 0;
	assert_int_equal(tr_store_kfp_recurring_list(f->s, NULL, &q, &rows, &total, &err), TR_OK);
	assert_int_equal(total, 2);
	json_decref(rows);
	assert_int_equal(tr_store_kfp_recurring_list(f->s, "77", &q, &rows, &total, &err), TR_OK);
	assert_int_equal(total, 0);
	json_decref(rows);
	json_decref(q.binds);
	/* delete, twice */
	assert_int_equal(write_json(f->s, tr_store_kfp_recurring_delete, body, NULL, NULL, 0),
			 TR_OK);
	assert_int_equal(write_json(f->s, tr_store_kfp_recurring_delete, body, NULL, NULL, 0),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(write_json(f->s, tr_store_kfp_recurring_enable, body, NULL, NULL, 0),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(tr_store_kfp_recurring_get(f->s, "nope", &g, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	json_decref(r);
	json_decref(d);
	tr_buf_release(&err);
}

static void test_fire_of_a_deleted_version(void **state)
{
	struct fixture *f = *state;
	struct tr_buf err = TR_BUF_INIT;
	json_t *p = NULL;
	assert_int_equal(write_json(f->s, tr_store_kfp_pipeline_upload,
				    "{\"name\": \"pl\", \"spec_text\": \"x\"}", &p, NULL, 0),
			 TR_OK);
	const char *pid = json_string_value(json_object_get(p, "pipeline_id"));
	char *spec = NULL, *vid = NULL;
	assert_int_equal(tr_store_kfp_version_spec(f->s, pid, NULL, &spec, &vid, &err), TR_OK);
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"display_name\": \"v\", \"pipeline_id\": \"%s\", \"pipeline_version_id\": "
		 "\"%s\", \"trigger\": {\"periodic_schedule\": {\"interval_second\": 1}}}",
		 pid, vid);
	json_t *r = create(f->s, body, TR_OK, NULL);
	snprintf(body, sizeof(body), "{\"pipeline_id\": \"%s\", \"pipeline_version_id\": \"%s\"}",
		 pid, vid);
	assert_int_equal(write_json(f->s, tr_store_kfp_version_delete, body, NULL, NULL, 0), TR_OK);
	int64_t now = tr_clock_now_ms() + 5000;
	/* the fire fails before reaching the service: NULL is never used */
	int64_t earliest = tr_schedule_tick(f->s, NULL, now);
	assert_int_equal(earliest, 0);
	json_t *g = NULL;
	const char *id = json_string_value(json_object_get(r, "recurring_run_id"));
	assert_int_equal(tr_store_kfp_recurring_get(f->s, id, &g, &err), TR_OK);
	assert_non_null(strstr(json_string_value(json_object_get(g, "error")), "not found"));
	assert_int_equal(json_integer_value(json_object_get(g, "last_fire_ms")), now);
	/* next from now, not from the missed time */
	assert_int_equal(json_integer_value(json_object_get(g, "next_fire_ms")), now + 1000);
	json_decref(g);
	assert_int_equal(tr_schedule_tick(f->s, NULL, now + 10), now + 1000);
	free(spec);
	free(vid);
	json_decref(p);
	json_decref(r);
	tr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fire_of_a_deleted_version, setup, teardown),
	};
	return cmocka_run_group_tests_name("recurring", tests, NULL, NULL);
}
