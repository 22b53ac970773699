/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/api/validate.c: MLflow's field rules and Trellis's artifact_location policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/validate.h"
#include "core/buf.h"

/* ---- helpers --------------------------------------------------------- */

/* Returns a new string of N copies of UNIT; free with free(). */
static char *repeat(const char *unit, size_t n)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appends(&b, "");
	for (size_t i = 0; i < n; i++)
		tr_buf_appends(&b, unit);
	return tr_buf_detach(&b);
}

/* Asserts RC is TR_OK and that ERR kept its previous text. */
static void expect_ok(enum tr_err rc, struct tr_buf *err, const char *input)
{
	if (rc != TR_OK)
		print_error("unexpected failure for '%s': %s\n", input, tr_buf_str(err));
	assert_int_equal(rc, TR_OK);
	assert_string_equal(tr_buf_str(err), "untouched");
	tr_buf_release(err);
}

/* Asserts RC is INVALID_PARAMETER_VALUE with a message containing WANT. */
static void expect_bad(enum tr_err rc, struct tr_buf *err, const char *input, const char *want)
{
	if (rc != TR_ERR_INVALID_PARAMETER_VALUE || !strstr(tr_buf_str(err), want))
		print_error("input '%s': rc %d, message '%s', wanted '%s'\n", input, (int)rc,
			    tr_buf_str(err), want);
	assert_int_equal(rc, TR_ERR_INVALID_PARAMETER_VALUE);
	assert_non_null(strstr(tr_buf_str(err), want));
	tr_buf_release(err);
}

static struct tr_buf fresh(void)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appends(&b, "untouched");
	return b;
}

static void key_ok(const char *what, const char *key)
{
	struct tr_buf e = fresh();
	expect_ok(tr_validate_key(what, key, &e), &e, key);
}

static void key_bad(const char *what, const char *key, const char *want)
{
	struct tr_buf e = fresh();
	expect_bad(tr_validate_key(what, key, &e), &e, key ? key : "(null)", want);
}

static void loc_ok(const char *loc)
{
	struct tr_buf e = fresh();
	expect_ok(tr_validate_artifact_location(loc, &e), &e, loc ? loc : "(null)");
}

static void loc_bad(const char *loc, const char *want)
{
	struct tr_buf e = fresh();
	expect_bad(tr_validate_artifact_location(loc, &e), &e, loc, want);
}

static const char BAD_CHARS[] = "Names may only contain alphanumerics, underscores (_), dashes "
				"(-), periods (.), spaces ( ), colon(:) and slashes (/).";
static const char BAD_PATH[] = "Names may be treated as files in certain cases";

/* ---- keys ------------------------------------------------------------ */

static void test_key_good(void **state)
{
	(void)state;
	key_ok("metric", "a");
	key_ok("metric", "Ab-5_");
	key_ok("metric", "a/b/c");
	key_ok("metric", "a.b");
	key_ok("metric", ".a");
	key_ok("metric", "a..b");
	key_ok("metric", "a/..b");
	key_ok("metric", "a/b.");
	key_ok("metric", "a b");
	key_ok("metric", " a ");
	key_ok("metric", "train/loss:epoch 1");
	key_ok("param", "learning_rate");
	key_ok("tag", "mlflow.runName");
	key_ok("tag", "mlflow.source.git.commit");
	/* Unicode word characters */
	key_ok("metric", "métrica");
	key_ok("metric", "损失");
	key_ok("metric", "Ωmega/δ");
	key_ok("metric", "x²");
	key_ok("metric", "ｆｕｌｌ１");
	key_ok("metric", "ª_µ_º");
	key_ok("metric", "\xf0\x9d\x90\x80"); /* U+1D400 MATHEMATICAL BOLD CAPITAL A */
}

static void test_key_bad_chars(void **state)
{
	(void)state;
	key_bad("metric", "a(b)", BAD_CHARS);
	key_bad("metric", "a(b)", "Invalid metric name: 'a(b)'");
	key_bad("param", "a#b", "Invalid parameter name: 'a#b'");
	key_bad("tag", "a\\b", "Invalid tag name");
	key_bad("metric", "a\tb", "'a\\x09b'"); /* control chars are escaped in the echo */
	key_bad("metric", "a\nb", BAD_CHARS);
	key_bad("metric", "a@b", BAD_CHARS);
	key_bad("metric", "a,b", BAD_CHARS);
	key_bad("metric",
		"a\xc2\xa0"
		"b",
		BAD_CHARS); /* U+00A0 no-break space */
	key_bad("metric",
		"a\xe2\x80\x8b"
		"b",
		BAD_CHARS); /* U+200B zero-width space */
	key_bad("metric",
		"a\xe2\x80\xae"
		"b",
		BAD_CHARS);				   /* U+202E right-to-left override */
	key_bad("metric", "e\xcc\x81", BAD_CHARS);	   /* combining acute */
	key_bad("metric", "a\xf0\x9f\x98\x80", BAD_CHARS); /* emoji */
	key_bad("metric", "a\xef\xbc\x88", BAD_CHARS);	   /* fullwidth '(' */
	key_bad("metric", "a\xe3\x80\x82", BAD_CHARS);	   /* ideographic full stop */
	key_bad("metric", "a\xef\xbb\xbf", BAD_CHARS);	   /* BOM */
	key_bad("metric", "a\xee\x80\x80", BAD_CHARS);	   /* private use */
	key_bad("metric", "a\xef\xbf\xbe", BAD_CHARS);	   /* U+FFFE noncharacter */
	key_bad("metric", NULL, "A key name must be provided");
}

static void test_key_bad_utf8(void **state)
{
	(void)state;
	key_bad("metric", "a\xff", "must be valid UTF-8");
	key_bad("metric", "a\xff", "'a\\xFF'");
	key_bad("metric", "\xc0\xaf", "must be valid UTF-8");	      /* overlong '/' */
	key_bad("metric", "\xe0\x80\xaf", "must be valid UTF-8");     /* overlong '/' */
	key_bad("metric", "\xed\xa0\x80", "must be valid UTF-8");     /* surrogate */
	key_bad("metric", "\xf4\x90\x80\x80", "must be valid UTF-8"); /* > U+10FFFF */
	key_bad("metric", "\xe6\x97", "must be valid UTF-8");	      /* truncated */
	key_bad("metric", "\x80", "must be valid UTF-8");	      /* lone continuation */
}

static void test_key_bad_paths(void **state)
{
	(void)state;
	key_bad("metric", "", "would resolve to '.'");
	key_bad("metric", ".", "would resolve to '.'");
	key_bad("metric", "..", "would resolve to '..'");
	key_bad("metric", "..a", BAD_PATH);
	key_bad("metric", "../a", "would resolve to '../a'");
	key_bad("metric", "a/..", "would resolve to '.'");
	key_bad("metric", "a/../b", "would resolve to 'b'");
	key_bad("metric", "a/b/../../..", "would resolve to '..'");
	key_bad("metric", "/a", "would resolve to '/a'");
	key_bad("metric", "//a", "would resolve to '//a'");
	key_bad("metric", "///a", "would resolve to '/a'");
	key_bad("metric", "/../a", "would resolve to '/a'");
	key_bad("metric", "a//b", "would resolve to 'a/b'");
	key_bad("metric", "a/", "would resolve to 'a'");
	key_bad("metric", "./a", "would resolve to 'a'");
	key_bad("metric", "a/./b", "would resolve to 'a/b'");
	key_bad("metric", "a/.", "would resolve to 'a'");
	key_bad("param", "a//b", "Invalid parameter name: 'a//b'");
}

static void test_key_length(void **state)
{
	char *k250 = repeat("a", 250), *k251 = repeat("a", 251);
	char *u250 = repeat("\xc3\xa9", 250), *u251 = repeat("\xc3\xa9", 251); /* é */
	char *c250 = repeat("\xe6\x8d\x9f", 250);			       /* 损, 3 bytes */
	char *e251 = repeat("(", 251);
	(void)state;
	key_ok("metric", k250);
	key_ok("metric", u250); /* 500 bytes, 250 characters */
	key_ok("metric", c250); /* 750 bytes, 250 characters */
	key_bad("metric", k251, "exceeds the maximum length of 250 characters");
	key_bad("metric", u251, "Name of length 251");
	/* length is checked before the character rule, and the echo is bounded */
	{
		struct tr_buf e = TR_BUF_INIT;
		assert_int_equal(tr_validate_key("metric", e251, &e),
				 TR_ERR_INVALID_PARAMETER_VALUE);
		assert_non_null(strstr(tr_buf_str(&e), "(((...'"));
		assert_true(e.len < 400);
		tr_buf_release(&e);
	}
	free(k250);
	free(k251);
	free(u250);
	free(u251);
	free(c250);
	free(e251);
}

/* ---- values ---------------------------------------------------------- */

static void test_utf8_helpers(void **state)
{
	const char *s = "a\xc3\xa9\xf0\x9f\x98\x80"
			"b"; /* a é 😀 b */
	size_t n = 0;
	(void)state;
	assert_true(tr_utf8_valid(s, &n));
	assert_int_equal(n, 4);
	assert_true(tr_utf8_valid("", &n));
	assert_int_equal(n, 0);
	assert_false(tr_utf8_valid("\xc3", NULL));
	assert_int_equal(tr_utf8_prefix_bytes(s, 0), 0);
	assert_int_equal(tr_utf8_prefix_bytes(s, 1), 1);
	assert_int_equal(tr_utf8_prefix_bytes(s, 2), 3);
	assert_int_equal(tr_utf8_prefix_bytes(s, 3), 7);
	assert_int_equal(tr_utf8_prefix_bytes(s, 4), 8);
	assert_int_equal(tr_utf8_prefix_bytes(s, 100), 8);
	/* invalid bytes count as one character each and never run past the NUL */
	assert_int_equal(tr_utf8_prefix_bytes("\xff\xfe"
					      "a",
					      2),
			 2);
	assert_int_equal(tr_utf8_prefix_bytes("\xe6\x97", 5), 2);
}

static void test_value_truncation(void **state)
{
	char *ascii = repeat("x", 6001);
	char *multi = repeat("\xe6\x8d\x9f", 6001); /* 18003 bytes */
	char *tag = repeat("\xf0\x9f\x98\x80", 8001);
	char *fits = repeat("\xc3\xa9", 6000);
	size_t keep = 0;
	struct tr_buf e = fresh();
	(void)state;

	expect_ok(tr_validate_param("p", ascii, &keep, &e), &e, "6001 x");
	assert_int_equal(keep, 6000);
	e = fresh();
	expect_ok(tr_validate_param("p", multi, &keep, &e), &e, "6001 CJK");
	assert_int_equal(keep, 18000); /* cut at a code-point boundary */
	e = fresh();
	expect_ok(tr_validate_param("p", fits, &keep, &e), &e, "6000 é");
	assert_int_equal(keep, strlen(fits));
	e = fresh();
	expect_ok(tr_validate_run_tag("t", tag, &keep, &e), &e, "8001 emoji");
	assert_int_equal(keep, 8000 * 4);
	e = fresh();
	expect_ok(tr_validate_param("p", NULL, &keep, &e), &e, "NULL value");
	assert_int_equal(keep, 0);
	e = fresh();
	expect_ok(tr_validate_param("p", "", &keep, &e), &e, "empty value");
	assert_int_equal(keep, 0);

	e = fresh();
	expect_bad(tr_validate_param("p", "a\xff", &keep, &e), &e, "bad utf8",
		   "Param value for key 'p' must be valid UTF-8");
	e = fresh();
	expect_bad(tr_validate_param("a//b", "v", &keep, &e), &e, "bad key",
		   "Invalid parameter name");
	e = fresh();
	expect_bad(tr_validate_run_tag("/t", "v", &keep, &e), &e, "bad key", "Invalid tag name");

	free(ascii);
	free(multi);
	free(tag);
	free(fits);
}

static void test_value_len_and_experiment_tags(void **state)
{
	char *v5000 = repeat("\xc3\xa9", 5000), *v5001 = repeat("v", 5001);
	struct tr_buf e = fresh();
	(void)state;

	expect_ok(tr_validate_experiment_tag("k", v5000, &e), &e, "5000");
	e = fresh();
	expect_bad(tr_validate_experiment_tag("k", v5001, &e), &e, "5001",
		   "Tag value for key 'k' had length 5001, which exceeded length limit of 5000");
	e = fresh();
	expect_bad(tr_validate_experiment_tag("a/../b", "v", &e), &e, "key", BAD_PATH);
	e = fresh();
	expect_ok(tr_validate_value_len("Value", NULL, "abc", 3, &e), &e, "abc");
	e = fresh();
	expect_bad(tr_validate_value_len("Value", NULL, "abcd", 3, &e), &e, "abcd",
		   "Value had length 4");
	e = fresh();
	expect_bad(tr_validate_value_len("Value", "k", "\xed\xa0\x80", 3, &e), &e, "surrogate",
		   "must be valid UTF-8");
	free(v5000);
	free(v5001);
}

/* ---- batches, metrics ------------------------------------------------ */

static void test_batch_limits(void **state)
{
	struct tr_buf e = fresh();
	(void)state;
	expect_ok(tr_validate_batch_sizes(0, 0, 0, &e), &e, "0");
	e = fresh();
	expect_ok(tr_validate_batch_sizes(1000, 0, 0, &e), &e, "1000 metrics");
	e = fresh();
	expect_ok(tr_validate_batch_sizes(800, 100, 100, &e), &e, "1000 total");
	e = fresh();
	expect_bad(tr_validate_batch_sizes(1001, 0, 0, &e), &e, "1001 metrics",
		   "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. "
		   "Please split up metrics across multiple requests and try again.");
	e = fresh();
	expect_bad(tr_validate_batch_sizes(0, 101, 0, &e), &e, "101 params",
		   "at most 100 params. Got 101 params.");
	e = fresh();
	expect_bad(tr_validate_batch_sizes(0, 0, 101, &e), &e, "101 tags",
		   "at most 100 tags. Got 101 tags.");
	e = fresh();
	expect_bad(tr_validate_batch_sizes(801, 100, 100, &e), &e, "1001 total",
		   "at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags.");
	e = fresh();
	expect_bad(tr_validate_batch_sizes(SIZE_MAX, SIZE_MAX, SIZE_MAX, &e), &e, "huge",
		   "at most 1000 metrics");

	e = fresh();
	expect_ok(tr_validate_batch_body_size(TR_MAX_LOG_BATCH_BYTES, &e), &e, "1e6 bytes");
	e = fresh();
	expect_bad(tr_validate_batch_body_size(TR_MAX_LOG_BATCH_BYTES + 1, &e), &e, "1e6+1",
		   "Batched logging API requests must be at most 1000000 bytes, got a request "
		   "of size 1000001.");
}

static void test_metric_timestamp(void **state)
{
	struct tr_buf e = fresh();
	(void)state;
	expect_ok(tr_validate_metric_timestamp(0, "m", &e), &e, "0");
	e = fresh();
	expect_ok(tr_validate_metric_timestamp(INT64_MAX, "m", &e), &e, "max");
	e = fresh();
	expect_bad(tr_validate_metric_timestamp(-1, "m", &e), &e, "-1",
		   "Got invalid timestamp -1 for metric 'm'. Timestamp must be a nonnegative long");
	e = fresh();
	expect_bad(tr_validate_metric_timestamp(INT64_MIN, NULL, &e), &e, "min",
		   "-9223372036854775808");
}

/* ---- experiments, runs, datasets ------------------------------------- */

static void test_experiment_name(void **state)
{
	char *n500 = repeat("\xe6\x8d\x9f", 500), *n501 = repeat("n", 501);
	struct tr_buf e = fresh();
	(void)state;
	expect_ok(tr_validate_experiment_name("Default", &e), &e, "Default");
	e = fresh();
	expect_ok(tr_validate_experiment_name("/Users/me/exp #1 (α)", &e), &e, "free text");
	e = fresh();
	expect_ok(tr_validate_experiment_name("   ", &e), &e, "spaces"); /* MLflow allows it */
	e = fresh();
	expect_ok(tr_validate_experiment_name(n500, &e), &e, "500");
	e = fresh();
	expect_bad(tr_validate_experiment_name(n501, &e), &e, "501",
		   "'name' exceeds the maximum length of 500 characters");
	e = fresh();
	expect_bad(tr_validate_experiment_name("", &e), &e, "empty", "Invalid experiment name: ''");
	e = fresh();
	expect_bad(tr_validate_experiment_name(NULL, &e), &e, "NULL",
		   "Missing value for required parameter 'name'");
	e = fresh();
	expect_bad(tr_validate_experiment_name("x\xc0\x80", &e), &e, "overlong NUL",
		   "must be valid UTF-8");
	free(n500);
	free(n501);
}

static void id_ok(enum tr_err (*fn)(const char *, struct tr_buf *), const char *id)
{
	struct tr_buf e = fresh();
	expect_ok(fn(id, &e), &e, id);
}

static void id_bad(enum tr_err (*fn)(const char *, struct tr_buf *), const char *id,
		   const char *want)
{
	struct tr_buf e = fresh();
	expect_bad(fn(id, &e), &e, id ? id : "(null)", want);
}

static void test_run_ids(void **state)
{
	char *r256 = repeat("a", 256), *r257 = repeat("a", 257);
	(void)state;
	id_ok(tr_validate_run_id, "0123456789abcdef0123456789abcdef");
	id_ok(tr_validate_run_id, "a");
	id_ok(tr_validate_run_id, "A-b_c");
	id_ok(tr_validate_run_id, "9");
	id_ok(tr_validate_run_id, r256);
	id_bad(tr_validate_run_id, r257, "Invalid run ID");
	id_bad(tr_validate_run_id, "", "Invalid run ID: ''");
	id_bad(tr_validate_run_id, "-a", "Invalid run ID: '-a'");
	id_bad(tr_validate_run_id, "_a", "Invalid run ID");
	id_bad(tr_validate_run_id, "a/b", "Invalid run ID");
	id_bad(tr_validate_run_id, "a.b", "Invalid run ID");
	id_bad(tr_validate_run_id, "a b", "Invalid run ID");
	id_bad(tr_validate_run_id, "abc\n",
	       "Invalid run ID: 'abc\\x0A'"); /* Python's $ would pass it */
	id_bad(tr_validate_run_id, "ab\xc3\xa9", "Invalid run ID");
	id_bad(tr_validate_run_id, "../../etc/passwd", "Invalid run ID");
	id_bad(tr_validate_run_id, "1' OR '1'='1", "Invalid run ID");
	id_bad(tr_validate_run_id, NULL, "Missing value for required parameter 'run_id'");
	free(r256);
	free(r257);
}

static void test_experiment_ids(void **state)
{
	char *x64 = repeat("7", 64), *x65 = repeat("7", 65);
	(void)state;
	id_ok(tr_validate_experiment_id, "0");
	id_ok(tr_validate_experiment_id, "123");
	id_ok(tr_validate_experiment_id, "abc-DEF_1");
	id_ok(tr_validate_experiment_id, x64);
	id_bad(tr_validate_experiment_id, x65, "Invalid experiment ID");
	id_bad(tr_validate_experiment_id, "", "Invalid experiment ID: ''");
	id_bad(tr_validate_experiment_id, "-1", "Invalid experiment ID: '-1'");
	id_bad(tr_validate_experiment_id, "1 OR 1=1", "Invalid experiment ID");
	id_bad(tr_validate_experiment_id, NULL, "'experiment_id'");
	free(x64);
	free(x65);
}

static void test_datasets(void **state)
{
	char *name501 = repeat("n", 501), *digest37 = repeat("d", 37);
	char *tkey256 = repeat("k", 256), *tval501 = repeat("v", 501), *tval500 = repeat("v", 500);
	struct tr_buf e = fresh();
	(void)state;
	expect_ok(tr_validate_dataset("ds", "abc123", "local", "{\"uri\":\"x\"}", NULL, NULL, &e),
		  &e, "dataset");
	e = fresh();
	expect_bad(tr_validate_dataset(name501, "d", "local", "s", NULL, NULL, &e), &e, "name",
		   "'name' exceeds the maximum length of 500 characters");
	e = fresh();
	expect_bad(tr_validate_dataset("ds", digest37, "local", "s", NULL, NULL, &e), &e, "digest",
		   "'digest' exceeds the maximum length of 36 characters");
	e = fresh();
	expect_bad(tr_validate_dataset("ds", "d", "local", NULL, NULL, NULL, &e), &e, "source",
		   "'dataset.source'");
	e = fresh();
	expect_ok(tr_validate_input_tag("mlflow.data.context", "training", &e), &e, "input tag");
	e = fresh();
	expect_ok(tr_validate_input_tag("k", tval500, &e), &e, "500");
	e = fresh();
	expect_bad(tr_validate_input_tag(tkey256, "v", &e), &e, "key 256",
		   "'key' exceeds the maximum length of 255 characters");
	e = fresh();
	expect_bad(tr_validate_input_tag("k", tval501, &e), &e, "value 501",
		   "'value' exceeds the maximum length of 500 characters");
	e = fresh();
	expect_bad(tr_validate_input_tag("k", NULL, &e), &e, "NULL", "'tags.value'");
	free(name501);
	free(digest37);
	free(tkey256);
	free(tval501);
	free(tval500);
}

/* ---- enums ----------------------------------------------------------- */

static void status_is(const char *s, int want)
{
	struct tr_buf e = fresh();
	int v = -1;
	expect_ok(tr_validate_run_status(s, &v, &e), &e, s);
	assert_int_equal(v, want);
}

static void status_bad(const char *s)
{
	struct tr_buf e = fresh();
	int v = -1;
	expect_bad(tr_validate_run_status(s, &v, &e), &e, s ? s : "(null)",
		   s ? "Expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED" : "status");
	assert_int_equal(v, -1);
}

static void test_run_status(void **state)
{
	(void)state;
	status_is("RUNNING", TR_RUN_RUNNING);
	status_is("SCHEDULED", TR_RUN_SCHEDULED);
	status_is("FINISHED", TR_RUN_FINISHED);
	status_is("FAILED", TR_RUN_FAILED);
	status_is("KILLED", TR_RUN_KILLED);
	status_is("finished", 3);
	status_is("Killed", 5);
	status_is("1", 1);
	status_is("5", 5);
	status_bad("0");
	status_bad("6");
	status_bad("01");
	status_bad("-1");
	status_bad("");
	status_bad("RUNNINGX");
	status_bad("RUN");
	status_bad(NULL);
	assert_string_equal(tr_run_status_name(3), "FINISHED");
	assert_null(tr_run_status_name(0));
	assert_null(tr_run_status_name(6));
}

static void view_is(const char *s, int want)
{
	struct tr_buf e = fresh();
	int v = -1;
	expect_ok(tr_validate_view_type(s, &v, &e), &e, s ? s : "(null)");
	assert_int_equal(v, want);
}

static void view_bad(const char *s)
{
	struct tr_buf e = fresh();
	int v = -1;
	expect_bad(tr_validate_view_type(s, &v, &e), &e, s,
		   "Expected one of ACTIVE_ONLY, DELETED_ONLY, ALL");
	assert_int_equal(v, -1);
}

static void test_view_type(void **state)
{
	(void)state;
	view_is(NULL, TR_VIEW_ACTIVE_ONLY);
	view_is("", TR_VIEW_ACTIVE_ONLY);
	view_is("ACTIVE_ONLY", 1);
	view_is("active_only", 1);
	view_is("DELETED_ONLY", 2);
	view_is("Deleted_Only", 2);
	view_is("ALL", 3);
	view_is("all", 3);
	view_is("1", 1);
	view_is("2", 2);
	view_is("3", 3);
	view_bad("0");
	view_bad("4");
	view_bad("ACTIVE");
	view_bad("all ");
	view_bad("foo");
	assert_string_equal(tr_view_type_name(2), "DELETED_ONLY");
	assert_null(tr_view_type_name(4));
}

/* ---- artifact_location ----------------------------------------------- */

static void test_artifact_location_good(void **state)
{
	(void)state;
	loc_ok(NULL);
	loc_ok("");
	loc_ok("mlflow-artifacts:/1");
	loc_ok("mlflow-artifacts:/team/exp-7");
	loc_ok("mlflow-artifacts:///1");
	loc_ok("mlflow-artifacts:/my%20exp");
	loc_ok("mlflow-artifacts:/a..b/c");
	loc_ok("mlflow-artifacts:/exp/");
	loc_ok("mlflow-artifacts:/données");
	loc_ok("mlflow-artifacts:/100%"); /* malformed escapes stay as they are */
}

static void test_artifact_location_cves(void **state)
{
	(void)state;
	/* CVE-2023-6909: traversal in the query string */
	loc_bad("http:///?/../../../../etc/", "must not contain '..' in its query");
	/* CVE-2024-2928 / -3848 / -1594 / -1483: fragment bypass of the query fix */
	loc_bad("http:///#/../../../../etc/", "must not contain a URL fragment ('#')");
	/* CVE-2024-1593: traversal smuggled after ';' URL parameters */
	loc_bad("http:///;/../../../../etc/", "must not contain URL parameters (';')");
	loc_bad("mlflow-artifacts:/x;/../../../../etc/", "URL parameters (';')");
	/* CVE-2024-8859: dbfs:/ location, later combined with a%3f/../ traversal */
	loc_bad("dbfs:/", "accepts only mlflow-artifacts:/<path>");
	loc_bad("mlflow-artifacts:/a%3f/../../../../", "'..' path segments");
	/* CVE-2023-43472: drive-by rename pointing the Default experiment at an attacker host */
	loc_bad("http://attacker.example/artifacts", "accepts only mlflow-artifacts:/<path>");
	loc_bad("mlflow-artifacts://attacker.example:8080/x", "must not name a host");
	/* huntr SSRF report: artifact_location aimed at an attacker's HTTP server */
	loc_bad("https://169.254.169.254/latest/meta-data/", "accepts only mlflow-artifacts");
	/* runs: URIs (MLflow's own check) */
	loc_bad("runs:/0123456789abcdef/artifacts", "Artifact location cannot be a runs:/ URI");
}

static void test_artifact_location_schemes(void **state)
{
	(void)state;
	loc_bad("file:///etc/", "accepts only mlflow-artifacts");
	loc_bad("file://./etc", "accepts only mlflow-artifacts");
	loc_bad("/etc/passwd", "accepts only mlflow-artifacts");
	loc_bad("//proc/self/root", "accepts only mlflow-artifacts");
	loc_bad("relative/dir", "accepts only mlflow-artifacts");
	loc_bad("s3://bucket/prefix", "accepts only mlflow-artifacts");
	loc_bad("gs://bucket/prefix", "accepts only mlflow-artifacts");
	loc_bad("C:/", "accepts only mlflow-artifacts");
	loc_bad("MLFLOW-ARTIFACTS:/1", "accepts only mlflow-artifacts");
	loc_bad(" mlflow-artifacts:/1", "accepts only mlflow-artifacts");
	loc_bad("mlflow-artifacts:", "needs an absolute path");
	loc_bad("mlflow-artifacts:1", "needs an absolute path");
	loc_bad("mlflow-artifacts://", "needs an absolute path");
}

static void test_artifact_location_traversal(void **state)
{
	char *long_loc, *enc10, *enc11;
	(void)state;
	loc_bad("mlflow-artifacts:/../../etc", "'..' path segments");
	loc_bad("mlflow-artifacts:/a/../../etc", "'..' path segments");
	loc_bad("mlflow-artifacts:/a/..", "'..' path segments");
	loc_bad("mlflow-artifacts:/a/./b", "'.' path segments");
	loc_bad("mlflow-artifacts:/a//b", "empty path segments");
	loc_bad("mlflow-artifacts:////etc", "empty path segments");
	loc_bad("mlflow-artifacts:/a/%2e%2e/%2E%2E/etc",
		"'..' path segments (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a/%252e%252e/etc", "(after percent-decoding)");
	loc_bad("mlflow-artifacts:/a%2F..%2Fetc", "'..' path segments (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a/b?x=1", "must not contain a query");
	loc_bad("mlflow-artifacts:/a%3Fx=..", "in its query (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a%23b", "fragment ('#') (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a\\..\\b", "backslashes");
	loc_bad("mlflow-artifacts:/a%5c..%5cb", "backslashes (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a%00b", "NUL or control characters (after percent-decoding)");
	loc_bad("mlflow-artifacts:/a%2500b", "NUL or control characters");
	loc_bad("mlflow-artifacts:/a\x01"
		"b",
		"NUL or control characters");
	loc_bad("mlflow-artifacts:/a\nb", "'mlflow-artifacts:/a\\x0Ab'");
	loc_bad("mlflow-artifacts:/a\x7f", "control characters");
	loc_bad("mlflow-artifacts:/\xff", "must be valid UTF-8");

	/* "A" percent-encoded 10 times decodes in 10 rounds; 11 times is refused */
	{
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appends(&b, "mlflow-artifacts:/x%");
		for (int i = 1; i < 10; i++)
			tr_buf_appends(&b, "25");
		tr_buf_appends(&b, "41");
		enc10 = tr_buf_detach(&b);
		tr_buf_appends(&b, "mlflow-artifacts:/x%");
		for (int i = 1; i < 11; i++)
			tr_buf_appends(&b, "25");
		tr_buf_appends(&b, "41");
		enc11 = tr_buf_detach(&b);
	}
	loc_ok(enc10);
	loc_bad(enc11, "percent-encoded too many times");

	long_loc = repeat("a", TR_MAX_ARTIFACT_LOCATION - 18);
	{
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appends(&b, "mlflow-artifacts:/");
		tr_buf_appends(&b, long_loc);
		loc_ok(tr_buf_str(&b)); /* exactly 2048 */
		tr_buf_appendc(&b, 'a');
		loc_bad(tr_buf_str(&b), "cannot be greater than 2048 characters");
		tr_buf_release(&b);
	}
	free(long_loc);
	free(enc10);
	free(enc11);
}

/* A NULL error buffer is allowed: the code still comes back. */
static void test_null_err(void **state)
{
	int v;
	(void)state;
	assert_int_equal(tr_validate_key("metric", "a//b", NULL), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_validate_artifact_location("file:///", NULL),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_validate_view_type("x", &v, NULL), TR_ERR_INVALID_PARAMETER_VALUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_good),
	    cmocka_unit_test(test_key_bad_chars),
	    cmocka_unit_test(test_key_bad_utf8),
	    cmocka_unit_test(test_key_bad_paths),
	    cmocka_unit_test(test_key_length),
	    cmocka_unit_test(test_utf8_helpers),
	    cmocka_unit_test(test_value_truncation),
	    cmocka_unit_test(test_value_len_and_experiment_tags),
	    cmocka_unit_test(test_batch_limits),
	    cmocka_unit_test(test_metric_timestamp),
	    cmocka_unit_test(test_experiment_name),
	    cmocka_unit_test(test_run_ids),
	    cmocka_unit_test(test_experiment_ids),
	    cmocka_unit_test(test_datasets),
	    cmocka_unit_test(test_run_status),
	    cmocka_unit_test(test_view_type),
	    cmocka_unit_test(test_artifact_location_good),
	    cmocka_unit_test(test_artifact_location_cves),
	    cmocka_unit_test(test_artifact_location_schemes),
	    cmocka_unit_test(test_artifact_location_traversal),
	    cmocka_unit_test(test_null_err),
	};
	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
