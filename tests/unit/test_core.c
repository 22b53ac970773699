/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/core: buffers, arenas, the error table, JSON glue, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/ids.h"
#include "core/json.h"

#include <math.h>
#include <string.h>

static void buf_appends_and_formats(void **state)
{
	struct tr_buf b = TR_BUF_INIT;
	assert_string_equal(tr_buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		tr_buf_appendf(&b, "%d,", i);
	assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
	assert_int_equal(b.len, strlen(b.data));
	tr_buf_reset(&b);
	assert_int_equal(b.len, 0);
	tr_buf_appends(&b, "x");
	char *s = tr_buf_detach(&b);
	assert_string_equal(s, "x");
	assert_null(b.data);
	free(s);
}

static void arena_allocates_aligned_and_large(void **state)
{
	struct tr_arena *a = tr_arena_new();
	char *p = tr_arena_strdup(a, "hello");
	void *big = tr_arena_alloc(a, 100000);
	void *small = tr_arena_alloc(a, 3);
	assert_string_equal(p, "hello");
	assert_int_equal((uintptr_t)big % 16, 0);
	assert_int_equal((uintptr_t)small % 16, 0);
	assert_string_equal(tr_arena_sprintf(a, "%s-%d", "a", 7), "a-7");
	tr_arena_free(a);
	tr_arena_free(NULL);
}

static void err_table_maps_codes_to_status(void **state)
{
	assert_int_equal(TR_OK, 0);
	assert_int_equal(tr_err_http_status(TR_ERR_INVALID_PARAMETER_VALUE), 400);
	assert_int_equal(tr_err_http_status(TR_ERR_RESOURCE_ALREADY_EXISTS), 400);
	assert_int_equal(tr_err_http_status(TR_ERR_RESOURCE_DOES_NOT_EXIST), 404);
	assert_int_equal(tr_err_http_status(TR_ERR_ENDPOINT_NOT_FOUND), 404);
	/* a client mistake is never 5xx: MLflow's client retries those */
	assert_int_equal(tr_err_http_status(TR_ERR_INVALID_STATE), 400);
	assert_int_equal(tr_err_http_status(TR_ERR_TEMPORARILY_UNAVAILABLE), 503);
	assert_string_equal(tr_err_code_name(TR_ERR_RESOURCE_DOES_NOT_EXIST),
			    "RESOURCE_DOES_NOT_EXIST");
	assert_string_equal(tr_err_code_name((enum tr_err)9999), "INTERNAL_ERROR");
	for (int e = 0; e < TR_ERR__COUNT; e++) {
		int st = tr_err_http_status((enum tr_err)e);
		assert_true(st >= 200 && st < 600);
		assert_non_null(tr_strerror((enum tr_err)e));
	}
	struct tr_buf msg = TR_BUF_INIT;
	assert_int_equal(tr_fail(&msg, TR_ERR_BAD_REQUEST, "key '%s'", "k"), TR_ERR_BAD_REQUEST);
	assert_string_equal(tr_buf_str(&msg), "key 'k'");
	tr_buf_release(&msg);
}

static void json_reads_mlflow_conventions(void **state)
{
	json_t *o =
	    json_loads("{\"a\":\"12\",\"b\":13,\"c\":\"x\",\"d\":\"NaN\",\"e\":\"-Infinity\","
		       "\"f\":\"True\",\"g\":1.5,\"h\":[\"p\",\"q\"],\"i\":\"\",\"j\":2.0}",
		       0, NULL);
	struct tr_buf err = TR_BUF_INIT;
	int64_t i64;
	double d;
	bool b, present;
	const char *s;
	json_t *arr;
	assert_int_equal(tr_json_int64(o, "a", &i64, &present, &err), TR_OK);
	assert_true(present);
	assert_int_equal(i64, 12);
	assert_int_equal(tr_json_int64(o, "b", &i64, &present, &err), TR_OK);
	assert_int_equal(i64, 13);
	assert_int_equal(tr_json_int64(o, "j", &i64, &present, &err), TR_OK);
	assert_int_equal(i64, 2);
	assert_int_equal(tr_json_int64(o, "c", &i64, &present, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_json_int64(o, "g", &i64, &present, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_json_int64(o, "zz", &i64, &present, &err), TR_OK);
	assert_false(present);
	assert_int_equal(tr_json_double(o, "d", &d, &present, &err), TR_OK);
	assert_true(isnan(d));
	assert_int_equal(tr_json_double(o, "e", &d, &present, &err), TR_OK);
	assert_true(isinf(d) && d < 0);
	assert_int_equal(tr_json_double(o, "c", &d, &present, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_json_bool(o, "f", &b, &present, &err), TR_OK);
	assert_true(b);
	assert_int_equal(tr_json_req_str(o, "i", &s, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_non_null(strstr(tr_buf_str(&err), "Missing value for required parameter 'i'"));
	assert_int_equal(tr_json_str(o, "b", &s, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_json_array(o, "h", &arr, &err), TR_OK);
	assert_int_equal(json_array_size(arr), 2);
	json_decref(arr);
	assert_int_equal(tr_json_array(o, "c", &arr, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	json_t *nan = tr_json_from_double(NAN), *inf = tr_json_from_double(INFINITY);
	assert_string_equal(json_string_value(nan), "NaN");
	assert_string_equal(json_string_value(inf), "Infinity");
	json_decref(nan);
	json_decref(inf);
	assert_int_equal(tr_json_depth(o), 3);
	json_decref(o);
	tr_buf_release(&err);
}

static void ids_are_lowercase_hex(void **state)
{
	char id[33], id2[33], name[64];
	tr_ids_run_id(id);
	tr_ids_run_id(id2);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_string_not_equal(id, id2);
	tr_ids_run_name(name, sizeof(name));
	assert_non_null(strchr(name, '-'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buf_appends_and_formats),
	    cmocka_unit_test(arena_allocates_aligned_and_large),
	    cmocka_unit_test(err_table_maps_codes_to_status),
	    cmocka_unit_test(json_reads_mlflow_conventions),
	    cmocka_unit_test(ids_are_lowercase_hex),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
