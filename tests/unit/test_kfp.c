/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/api/kfp.c and kfp_upload.c: the KFP list-request parser
 * (filter, sort, paging; the WHERE it builds is run on a real SQLite table),
 * RFC3339 times, and the multipart/form-data parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api/kfp.h"
#include "core/buf.h"

static const struct tr_kfp_field fields[] = {
    {"id", "id", TR_KFP_TEXT},
    {"display_name", "name", TR_KFP_TEXT},
    {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"count", "n", TR_KFP_INT},
    {NULL, NULL, TR_KFP_TEXT},
};

/* A table t(id, name, created_ms, n) with rows a..e: names "alpha", "beta",
 * "gamma", "alphabet", "Alpha"; created at 1000 s + i; n = i. */
static sqlite3 *make_db(void)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		db,
		"CREATE TABLE t (id TEXT, name TEXT, created_ms INTEGER, n INTEGER);"
		"INSERT INTO t VALUES ('a','alpha',1000000,0),('b','beta',1001000,1),"
		"('c','gamma',1002000,2),('d','alphabet',1003000,3),('e','Alpha',1004000,4);",
		NULL, NULL, NULL),
	    SQLITE_OK);
	return db;
}

/* Runs the list L on DB; returns the ids in order, comma separated (new string). */
static char *run_list(sqlite3 *db, const struct tr_kfp_list *l)
{
	struct tr_buf sql = TR_BUF_INIT, out = TR_BUF_INIT;
	tr_buf_appendf(&sql, "SELECT id FROM t WHERE (%s) ORDER BY %s LIMIT ? OFFSET ?",
		       l->q.where && *l->q.where ? l->q.where : "1=1", l->q.order_by);
	sqlite3_stmt *st;
	int prc = sqlite3_prepare_v2(db, tr_buf_str(&sql), -1, &st, NULL);
	if (prc != SQLITE_OK)
		fail_msg("bad SQL '%s': %s", tr_buf_str(&sql), sqlite3_errmsg(db));
	int idx = 1;
	size_t i;
	json_t *v;
	json_array_foreach(l->q.binds, i, v)
	{
		if (json_is_integer(v))
			sqlite3_bind_int64(st, idx++, json_integer_value(v));
		else
			sqlite3_bind_text(st, idx++, json_string_value(v), -1, SQLITE_TRANSIENT);
	}
	assert_int_equal(sqlite3_bind_parameter_count(st), idx + 1);
	sqlite3_bind_int64(st, idx++, l->q.limit);
	sqlite3_bind_int64(st, idx++, l->q.offset);
	tr_buf_appends(&out, "");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (out.len)
			tr_buf_appendc(&out, ',');
		tr_buf_appends(&out, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	tr_buf_release(&sql);
	return tr_buf_detach(&out);
}

/* Parses ARGS (a JSON object text) and expects the ids EXPECT. */
static void expect_ids(sqlite3 *db, const char *args, const char *expect)
{
	json_t *a = json_loads(args, 0, NULL);
	assert_non_null(a);
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_kfp_list_parse_args(a, fields, &l, &err);
	if (rc)
		fail_msg("%s: %s", args, tr_buf_str(&err));
	char *got = run_list(db, &l);
	if (strcmp(got, expect))
		fail_msg("%s: got '%s', want '%s'", args, got, expect);
	free(got);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
	json_decref(a);
}

/* Expects ARGS to be refused with INVALID_PARAMETER_VALUE and a message holding WANT. */
static void expect_bad(const char *args, const char *want)
{
	json_t *a = json_loads(args, 0, NULL);
	assert_non_null(a);
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_kfp_list_parse_args(a, fields, &l, &err);
	if (rc != TR_ERR_INVALID_PARAMETER_VALUE)
		fail_msg("%s: accepted (rc %d)", args, rc);
	if (!strstr(tr_buf_str(&err), want))
		fail_msg("%s: message '%s' lacks '%s'", args, tr_buf_str(&err), want);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
	json_decref(a);
}

static void test_list_defaults(void **state)
{
	sqlite3 *db = make_db();
	expect_ids(db, "{}", "a,b,c,d,e");
	expect_ids(db, "{\"filter\": \"\", \"sort_by\": \"\", \"page_token\": \"\"}", "a,b,c,d,e");
	json_t *a = json_object();
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	assert_int_equal(tr_kfp_list_parse_args(a, fields, &l, NULL), TR_OK);
	assert_int_equal(l.page_size, 20);
	assert_int_equal(l.offset, 0);
	assert_string_equal(l.q.order_by, "created_ms ASC, id ASC");
	tr_kfp_list_release(&l);
	json_decref(a);
	sqlite3_close(db);
}

static void test_list_filter_ops(void **state)
{
	sqlite3 *db = make_db();
	/* what kfp.Client sends: operation 1, camelCase stringValue; exact and case-sensitive */
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"display_name\\\", \\\"stringValue\\\": \\\"alpha\\\"}]}\"}",
		   "a");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": \\\"NOT_EQUALS\\\", "
		   "\\\"key\\\": \\\"display_name\\\", \\\"string_value\\\": \\\"alpha\\\"}]}\"}",
		   "b,c,d,e");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": \\\"IS_SUBSTRING\\\", "
		   "\\\"key\\\": \\\"display_name\\\", \\\"string_value\\\": \\\"lph\\\"}]}\"}",
		   "a,d,e");
	/* '%' and '_' are not wildcards */
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 9, \\\"key\\\": "
		   "\\\"display_name\\\", \\\"string_value\\\": \\\"%\\\"}]}\"}",
		   "");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 8, \\\"key\\\": "
		   "\\\"display_name\\\", \\\"stringValues\\\": {\\\"values\\\": [\\\"beta\\\", "
		   "\\\"gamma\\\", \\\"x\\\"]}}]}\"}",
		   "b,c");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 8, \\\"key\\\": "
		   "\\\"display_name\\\", \\\"string_values\\\": {\\\"values\\\": []}}]}\"}",
		   "");
	/* ints as numbers or strings; GREATER_THAN_EQUALS is 5 */
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 5, \\\"key\\\": "
		   "\\\"count\\\", \\\"long_value\\\": \\\"3\\\"}]}\"}",
		   "d,e");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 6, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_value\\\": 1}, {\\\"operation\\\": 7, \\\"key\\\": "
		   "\\\"count\\\", \\\"intValue\\\": 0}]}\"}",
		   "a");
	/* timestamps compare in seconds: 1001 s is b; the ms column is divided */
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 3, \\\"key\\\": "
		   "\\\"created_at\\\", \\\"timestamp_value\\\": "
		   "\\\"1970-01-01T00:16:41Z\\\"}]}\"}",
		   "c,d,e");
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"created_at\\\", \\\"timestampValue\\\": "
		   "\\\"1970-01-01T01:16:41+01:00\\\"}]}\"}",
		   "b");
	/* an injection attempt is only a value */
	expect_ids(db,
		   "{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"display_name\\\", \\\"string_value\\\": \\\"x' OR '1'='1\\\"}]}\"}",
		   "");
	sqlite3_close(db);
}

static void test_list_filter_bad(void **state)
{
	expect_bad("{\"filter\": \"not json\"}", "filter");
	expect_bad("{\"filter\": \"[]\"}", "filter");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": 3}\"}", "predicates");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"secret\\\", \\\"string_value\\\": \\\"x\\\"}]}\"}",
		   "unrecognized field 'secret'");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"name; DROP TABLE t\\\", \\\"string_value\\\": \\\"x\\\"}]}\"}",
		   "unrecognized");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"\\\", \\\"string_value\\\": \\\"x\\\"}]}\"}",
		   "no key");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 4, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_value\\\": 1}]}\"}",
		   "invalid operation");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 0, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_value\\\": 1}]}\"}",
		   "invalid operation");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 8, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_value\\\": 1}]}\"}",
		   "needs a list");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_values\\\": {\\\"values\\\": [1]}}]}\"}",
		   "single value");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 9, \\\"key\\\": "
		   "\\\"count\\\", \\\"int_value\\\": 1}]}\"}",
		   "IS_SUBSTRING");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"count\\\", \\\"string_value\\\": \\\"x\\\"}]}\"}",
		   "wrong type");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"created_at\\\", \\\"timestamp_value\\\": \\\"yesterday\\\"}]}\"}",
		   "wrong type");
	expect_bad("{\"filter\": \"{\\\"predicates\\\": [{\\\"operation\\\": 1, \\\"key\\\": "
		   "\\\"count\\\"}]}\"}",
		   "no value");
	expect_bad("{\"filter\": [\"a\", \"b\"]}", "once");
}

static void test_list_sort(void **state)
{
	sqlite3 *db = make_db();
	expect_ids(db, "{\"sort_by\": \"created_at desc\"}", "e,d,c,b,a");
	expect_ids(db, "{\"sort_by\": \"display_name\"}", "e,a,d,b,c");
	expect_ids(db, "{\"sort_by\": \"display_name DESC\"}", "c,b,d,a,e");
	expect_ids(db, "{\"sort_by\": \"count Asc\"}", "a,b,c,d,e");
	expect_bad("{\"sort_by\": \"secret\"}", "cannot sort on 'secret'");
	expect_bad("{\"sort_by\": \"created_at sideways\"}", "asc or desc");
	expect_bad("{\"sort_by\": \"created_at desc now\"}", "invalid sort_by");
	sqlite3_close(db);
}

static void test_list_paging(void **state)
{
	sqlite3 *db = make_db();
	expect_ids(db, "{\"page_size\": \"2\"}", "a,b");
	expect_ids(db, "{\"page_size\": \"0\"}", "a,b,c,d,e");
	expect_bad("{\"page_size\": \"-1\"}", "page_size");
	expect_bad("{\"page_size\": \"ten\"}", "page_size");
	json_t *a = json_pack("{s:s}", "page_size", "1000");
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	assert_int_equal(tr_kfp_list_parse_args(a, fields, &l, NULL), TR_OK);
	assert_int_equal(l.page_size, 200);
	tr_kfp_list_release(&l);
	json_decref(a);

	/* walk the pages with the tokens the responses carry */
	const char *sort = "display_name desc";
	char *token = NULL;
	struct tr_buf seen = TR_BUF_INIT;
	tr_buf_appends(&seen, "");
	for (int page = 0; page < 10; page++) {
		a = json_pack("{s:s,s:s,s:s}", "page_size", "2", "sort_by", sort, "page_token",
			      token ? token : "");
		struct tr_kfp_list pl = TR_KFP_LIST_INIT;
		struct tr_buf err = TR_BUF_INIT;
		if (tr_kfp_list_parse_args(a, fields, &pl, &err))
			fail_msg("page %d: %s", page, tr_buf_str(&err));
		char *ids = run_list(db, &pl);
		tr_buf_appendf(&seen, "%s%s", seen.len ? "|" : "", ids);
		free(ids);
		json_t *resp = json_object();
		tr_kfp_list_finish(&pl, 5, resp);
		assert_int_equal(json_integer_value(json_object_get(resp, "total_size")), 5);
		free(token);
		const char *next = json_string_value(json_object_get(resp, "next_page_token"));
		token = next ? strdup(next) : NULL;
		json_decref(resp);
		json_decref(a);
		tr_kfp_list_release(&pl);
		tr_buf_release(&err);
		if (!token)
			break;
	}
	assert_string_equal(tr_buf_str(&seen), "c,b|d,a|e");
	tr_buf_release(&seen);

	/* a token is only good with the sort and filter it was made for */
	a = json_pack("{s:s,s:s}", "page_size", "2", "sort_by", sort);
	l = (struct tr_kfp_list)TR_KFP_LIST_INIT;
	assert_int_equal(tr_kfp_list_parse_args(a, fields, &l, NULL), TR_OK);
	token = tr_kfp_list_token(&l, 2);
	tr_kfp_list_release(&l);
	json_decref(a);
	a = json_pack("{s:s,s:s}", "page_token", token, "sort_by", "created_at");
	l = (struct tr_kfp_list)TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_kfp_list_parse_args(a, fields, &l, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_non_null(strstr(tr_buf_str(&err), "does not match"));
	tr_kfp_list_release(&l);
	json_decref(a);
	free(token);
	tr_buf_release(&err);
	expect_bad("{\"page_token\": \"garbage\"}", "invalid page_token");
	expect_bad("{\"page_token\": \"t1.-5.0000000000000000\"}", "invalid page_token");
	/* no next token on the last page, no total when nothing matched */
	a = json_object();
	l = (struct tr_kfp_list)TR_KFP_LIST_INIT;
	assert_int_equal(tr_kfp_list_parse_args(a, fields, &l, NULL), TR_OK);
	json_t *resp = json_object();
	tr_kfp_list_finish(&l, 0, resp);
	assert_int_equal(json_object_size(resp), 0);
	json_decref(resp);
	tr_kfp_list_release(&l);
	json_decref(a);
	sqlite3_close(db);
}

static void test_time(void **state)
{
	char out[32];
	tr_kfp_time(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	tr_kfp_time(1714557600123, out);
	assert_string_equal(out, "2024-05-01T10:00:00Z");
	int64_t ms;
	assert_true(tr_kfp_parse_time("2024-05-01T10:00:00Z", &ms));
	assert_int_equal(ms, 1714557600000);
	assert_true(tr_kfp_parse_time("2024-05-01T12:00:00.5+02:00", &ms));
	assert_int_equal(ms, 1714557600500);
	assert_true(tr_kfp_parse_time("2024-05-01T10:00:00", &ms)); /* no zone: UTC */
	assert_int_equal(ms, 1714557600000);
	assert_false(tr_kfp_parse_time("2024-05-01", &ms));
	assert_false(tr_kfp_parse_time("2024-13-01T10:00:00Z", &ms));
	assert_false(tr_kfp_parse_time("2024-05-01T10:00:00Zjunk", &ms));
	assert_false(tr_kfp_parse_time("", &ms));
	assert_false(tr_kfp_parse_time(NULL, &ms));
}

static void test_error_mapping(void **state)
{
	assert_int_equal(tr_kfp_grpc_code(TR_ERR_INVALID_PARAMETER_VALUE), 3);
	assert_int_equal(tr_kfp_http_status(TR_ERR_INVALID_PARAMETER_VALUE), 400);
	assert_int_equal(tr_kfp_grpc_code(TR_ERR_RESOURCE_DOES_NOT_EXIST), 5);
	assert_int_equal(tr_kfp_http_status(TR_ERR_RESOURCE_DOES_NOT_EXIST), 404);
	assert_int_equal(tr_kfp_grpc_code(TR_ERR_RESOURCE_ALREADY_EXISTS), 6);
	assert_int_equal(tr_kfp_http_status(TR_ERR_RESOURCE_ALREADY_EXISTS), 409);
	assert_int_equal(tr_kfp_grpc_code(TR_ERR_INTERNAL_ERROR), 13);
	assert_int_equal(tr_kfp_http_status(TR_ERR_INTERNAL_ERROR), 500);
	assert_int_equal(tr_kfp_http_status(TR_ERR_TOO_LARGE), 413);
	/* never 401: kfp.Client would try a GCP token refresh */
	for (int e = 0; e < TR_ERR__COUNT; e++)
		assert_int_not_equal(tr_kfp_http_status((enum tr_err)e), 401);
}

/* ---- multipart ---- */

static const char body_ok[] = "preamble\r\n"
			      "--XyZ\r\n"
			      "Content-Disposition: form-data; name=\"other\"\r\n\r\n"
			      "value\r\n"
			      "--XyZ\r\n"
			      "Content-Disposition: form-data; name=\"uploadfile\"; "
			      "filename=\"dir/pipe line.yaml\"\r\n"
			      "Content-Type: application/octet-stream\r\n\r\n"
			      "a: 1\r\nb: --XyZno\r\n"
			      "\r\n--XyZ--\r\n";

static void test_multipart_ok(void **state)
{
	struct tr_kfp_part p;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_kfp_multipart_find("multipart/form-data; boundary=XyZ", body_ok,
					       strlen(body_ok), "uploadfile", &p, &err);
	if (rc)
		fail_msg("%s", tr_buf_str(&err));
	assert_int_equal(p.len, strlen("a: 1\r\nb: --XyZno\r\n"));
	assert_memory_equal(p.data, "a: 1\r\nb: --XyZno\r\n", p.len);
	assert_string_equal(p.filename, "pipe line.yaml");
	/* quoted boundary, other field */
	rc = tr_kfp_multipart_find("Multipart/Form-Data; charset=x; boundary=\"XyZ\"", body_ok,
				   strlen(body_ok), "other", &p, &err);
	assert_int_equal(rc, TR_OK);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "value", 5);
	assert_string_equal(p.filename, "");
	/* what urllib3 sends: no preamble, an empty file */
	const char *b = "--b1\r\nContent-Disposition: form-data; name=\"uploadfile\"; "
			"filename=\"x.yaml\"\r\n\r\n\r\n--b1--\r\n";
	rc = tr_kfp_multipart_find("multipart/form-data; boundary=b1", b, strlen(b), "uploadfile",
				   &p, &err);
	assert_int_equal(rc, TR_OK);
	assert_int_equal(p.len, 0);
	tr_buf_release(&err);
}

static void expect_mp_bad(const char *ct, const char *body, size_t len, const char *want)
{
	struct tr_kfp_part p;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_kfp_multipart_find(ct, body, len, "uploadfile", &p, &err);
	assert_int_equal(rc, TR_ERR_INVALID_PARAMETER_VALUE);
	if (!strstr(tr_buf_str(&err), want))
		fail_msg("message '%s' lacks '%s'", tr_buf_str(&err), want);
	tr_buf_release(&err);
}

static void test_multipart_bad(void **state)
{
	const char *ct = "multipart/form-data; boundary=XyZ";
	expect_mp_bad(NULL, body_ok, strlen(body_ok), "boundary");
	expect_mp_bad("application/json", body_ok, strlen(body_ok), "boundary");
	expect_mp_bad("multipart/form-data", body_ok, strlen(body_ok), "boundary");
	expect_mp_bad("multipart/form-data; boundary=", body_ok, strlen(body_ok), "boundary");
	expect_mp_bad("multipart/form-data; boundary=nothere", body_ok, strlen(body_ok),
		      "no boundary");
	expect_mp_bad(ct, "", 0, "no multipart body");
	expect_mp_bad(ct, NULL, 0, "no multipart body");
	const char *nofile = "--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n"
			     "--XyZ--\r\n";
	expect_mp_bad(ct, nofile, strlen(nofile), "no 'uploadfile'");
	const char *unterminated = "--XyZ\r\nContent-Disposition: form-data; "
				   "name=\"uploadfile\"\r\n\r\nabc";
	expect_mp_bad(ct, unterminated, strlen(unterminated), "unterminated part");
	const char *noheaders_end = "--XyZ\r\nContent-Disposition: form-data";
	expect_mp_bad(ct, noheaders_end, strlen(noheaders_end), "unterminated");
	/* every truncation of a good body is refused or parsed, never read past (ASan) */
	size_t n = strlen(body_ok);
	for (size_t i = 0; i < n; i++) {
		char *cut = malloc(i ? i : 1);
		memcpy(cut, body_ok, i);
		struct tr_kfp_part p;
		struct tr_buf err = TR_BUF_INIT;
		enum tr_err rc = tr_kfp_multipart_find(ct, cut, i, "uploadfile", &p, &err);
		if (!rc)
			assert_true(p.data >= cut && p.data + p.len <= cut + i);
		tr_buf_release(&err);
		free(cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_defaults),   cmocka_unit_test(test_list_filter_ops),
	    cmocka_unit_test(test_list_filter_bad), cmocka_unit_test(test_list_sort),
	    cmocka_unit_test(test_list_paging),	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_error_mapping),   cmocka_unit_test(test_multipart_ok),
	    cmocka_unit_test(test_multipart_bad),
	};
	return cmocka_run_group_tests_name("kfp", tests, NULL, NULL);
}
