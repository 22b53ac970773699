/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/pipeline/cron.c: cron parsing (with its error messages),
 * next fire times across month and year ends and leap years, the day-of-month
 * / day-of-week OR rule, steps, names, descriptors and @every, the horizon
 * for expressions that never fire, RFC3339 times and KFP triggers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "pipeline/cron.h"

/* An RFC3339 time as epoch milliseconds (the test fails when malformed). */
static int64_t T(const char *s)
{
	int64_t ms = -1;
	assert_true(tr_cron_parse_time(s, &ms));
	return ms;
}

/* The next fire of EXPR after AFTER, as a time string compared to WANT
 * (NULL: never fires). */
static void next_is(const char *expr, const char *after, const char *want)
{
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_cron_parse(expr, &c, &err) != TR_OK)
		fail_msg("'%s' does not parse: %s", expr, tr_buf_str(&err));
	int64_t next = 0;
	bool ok = tr_cron_next(&c, T(after), &next);
	if (!want) {
		if (ok)
			fail_msg("'%s' after %s fires at %lld; expected never", expr, after,
				 (long long)next);
	} else {
		if (!ok)
			fail_msg("'%s' after %s never fires; expected %s", expr, after, want);
		if (next != T(want))
			fail_msg("'%s' after %s: got %lld, expected %s (%lld)", expr, after,
				 (long long)next, want, (long long)T(want));
	}
	tr_buf_release(&err);
}

/* EXPR fails to parse with a message containing WANT. */
static void bad(const char *expr, const char *want)
{
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_cron_parse(expr, &c, &err);
	if (rc == TR_OK)
		fail_msg("'%s' parsed; expected an error with '%s'", expr, want);
	assert_int_equal(rc, TR_ERR_INVALID_PARAMETER_VALUE);
	if (!strstr(tr_buf_str(&err), want))
		fail_msg("'%s': message '%s' lacks '%s'", expr, tr_buf_str(&err), want);
	tr_buf_release(&err);
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(T("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(T("2024-05-01T00:00:00Z"), 1714521600000LL);
	assert_int_equal(T("2024-05-01T00:00:00"), 1714521600000LL); /* no zone: UTC */
	assert_int_equal(T("2024-05-01 02:00:00+02:00"), 1714521600000LL);
	assert_int_equal(T("2024-04-30T23:00:00-01:00"), 1714521600000LL);
	assert_int_equal(T("2024-05-01T00:00:00.250Z"), 1714521600250LL);
	assert_int_equal(T("2024-05-01T00:00:00.123456789Z"), 1714521600123LL);
	assert_int_equal(T("2024-02-29T00:00:00Z"), 1709164800000LL);
	int64_t ms;
	const char *badtimes[] = {"",
				  "2024-05-01",
				  "2024-13-01T00:00:00Z",
				  "2023-02-29T00:00:00Z",
				  "2024-05-01T24:00:00Z",
				  "2024-05-01T00:00:00Zx",
				  "2024-05-01T00:00:00+2",
				  "2024-05-01T00:00:00.Z",
				  "24-05-01T00:00:00Z",
				  NULL};
	for (int i = 0; badtimes[i]; i++)
		if (tr_cron_parse_time(badtimes[i], &ms))
			fail_msg("'%s' parsed as a time", badtimes[i]);
	assert_false(tr_cron_parse_time(NULL, &ms));
}

static void test_parse_errors(void **state)
{
	(void)state;
	bad("", "empty");
	bad("   ", "empty");
	bad("* * * *", "has 4 fields");
	bad("* * * * * * *", "has 7 fields");
	bad("60 * * * * *", "'second': value 60 is outside 0-59");
	bad("* 60 * * * *", "'minute': value 60");
	bad("* * 24 * * *", "'hour': value 24 is outside 0-23");
	bad("* * * 0 * *", "'day of month': value 0 is outside 1-31");
	bad("* * * 32 * *", "'day of month'");
	bad("* * * * 13 *", "'month': value 13 is outside 1-12");
	bad("* * * * * 7", "'day of week': value 7 is outside 0-6");
	bad("5-1 * * * * *", "range 5-1 runs backwards");
	bad("*/0 * * * * *", "step must be at least 1");
	bad("*/ * * * * *", "step after '/' is missing");
	bad("*/x * * * * *", "step 'x' is not a number");
	bad("*/2/3 * * * * *", "too many '/'");
	bad("1-2-3 * * * * *", "too many '-'");
	bad("a * * * * *", "'second': 'a' is not a number");
	bad("1x * * * * *", "'1x' is not a number");
	bad("* * * * FOO *", "'month': 'FOO' is not a number or a name");
	bad("* * * * * MONDAY", "'day of week': 'MONDAY'");
	bad("1,,2 * * * * *", "empty item");
	bad(",1 * * * * *", "empty item");
	bad("1, * * * * *", "empty item");
	bad("- * * * * *", "a value is missing");
	bad("99999999999999999999 * * * * *", "outside 0-59");
	bad("@fortnightly", "unknown cron descriptor '@fortnightly'");
	bad("@every", "@every needs a duration");
	bad("@every ", "@every needs a duration");
	bad("@everyday", "unknown cron descriptor");
	bad("@every -1s", "is negative");
	bad("@every 10", "needs a unit");
	bad("@every 1x", "unknown unit");
	bad("@every 0", "at least 1s");
	bad("@every 1h30", "needs a unit");
	bad("@every 99999999999h", "too long");
	char longx[400];
	memset(longx, '*', sizeof(longx) - 1);
	longx[sizeof(longx) - 1] = 0;
	bad(longx, "longer than");
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_cron_parse(NULL, &c, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	tr_buf_release(&err);
}

static void test_next_basic(void **state)
{
	(void)state;
	next_is("* * * * * *", "2024-05-01T00:00:00Z", "2024-05-01T00:00:01Z");
	/* strictly after, from a fraction of a second */
	next_is("* * * * * *", "2024-05-01T00:00:00.900Z", "2024-05-01T00:00:01Z");
	next_is("0 * * * * *", "2024-05-01T00:00:00Z", "2024-05-01T00:01:00Z");
	next_is("30 15 10 * * *", "2024-05-01T10:15:30Z", "2024-05-02T10:15:30Z");
	next_is("30 15 10 * * *", "2024-05-01T10:15:29Z", "2024-05-01T10:15:30Z");
	/* hours and minutes roll over */
	next_is("0 0 * * * *", "2024-05-01T23:59:59Z", "2024-05-02T00:00:00Z");
	next_is("59 59 23 * * *", "2024-05-01T23:59:59Z", "2024-05-02T23:59:59Z");
	/* 5 fields: robfig v1 reads them as sec min hour dom month, dow '*' */
	next_is("0 30 * * *", "2024-05-01T10:31:00Z", "2024-05-01T11:30:00Z");
	/* whitespace around and between fields */
	next_is("  0\t0  12 * * *  ", "2024-05-01T00:00:00Z", "2024-05-01T12:00:00Z");
}

static void test_next_month_ends_and_leap_years(void **state)
{
	(void)state;
	next_is("0 0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z");
	next_is("0 0 0 31 * *", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z");
	next_is("0 0 0 1 * *", "2024-12-15T00:00:00Z", "2025-01-01T00:00:00Z");
	next_is("0 0 0 1 1 *", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z");
	next_is("0 0 0 30 * *", "2024-01-30T00:00:00Z", "2024-03-30T00:00:00Z");
	/* February 29th: leap years only; 2100 is not one */
	next_is("0 0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z");
	next_is("0 0 0 29 2 *", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z");
	next_is("0 0 12 29 2 *", "2096-02-29T12:00:00Z", NULL); /* 2104 is past the horizon */
	next_is("0 0 0 28 2 *", "2100-02-28T00:00:01Z", "2101-02-28T00:00:00Z");
	next_is("0 0 0 * 2 *", "2100-02-28T00:00:00Z", "2101-02-01T00:00:00Z");
	next_is("0 0 0 * 2 *", "2000-02-28T00:00:00Z", "2000-02-29T00:00:00Z");
	/* never: the horizon answers instead of an endless search */
	next_is("0 0 0 30 2 *", "2024-01-01T00:00:00Z", NULL);
	next_is("0 0 0 31 4,6,9,11 *", "2024-01-01T00:00:00Z", NULL);
	next_is("0 0 0 31 FEB ?", "2024-01-01T00:00:00Z", NULL);
}

static void test_next_dom_dow(void **state)
{
	(void)state;
	/* 2024-09-01 is a Sunday; the 6th, 13th, 20th and 27th are Fridays */
	next_is("0 0 0 * * MON", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z");
	next_is("0 0 0 * * 0", "2024-09-01T00:00:00Z", "2024-09-08T00:00:00Z");
	next_is("0 0 0 ? * sun", "2024-09-01T00:00:00Z", "2024-09-08T00:00:00Z");
	/* both restricted: either matches (the 10th is a Tuesday) */
	next_is("0 0 0 10 * FRI", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z");
	next_is("0 0 0 10 * FRI", "2024-09-06T00:00:00Z", "2024-09-10T00:00:00Z");
	next_is("0 0 0 10 * FRI", "2024-09-10T00:00:00Z", "2024-09-13T00:00:00Z");
	/* one unrestricted ('*' or '?'): the other decides */
	next_is("0 0 0 15 * ?", "2024-09-01T00:00:00Z", "2024-09-15T00:00:00Z");
	next_is("0 0 0 15 * *", "2024-09-01T00:00:00Z", "2024-09-15T00:00:00Z");
	next_is("0 0 0 ? * 5", "2024-09-07T00:00:00Z", "2024-09-13T00:00:00Z");
	/* KFP's docs example: weekdays Tue-Sat at 9:00 */
	next_is("0 0 9 ? * 2-6", "2024-09-01T00:00:00Z", "2024-09-03T09:00:00Z");
	next_is("0 0 9 ? * 2-6", "2024-09-07T09:00:00Z", "2024-09-10T09:00:00Z");
	/* names in ranges, across a year: 2024-03-29 is a Friday */
	next_is("0 0 9 ? JAN-MAR MON-FRI", "2024-03-29T09:00:00Z", "2025-01-01T09:00:00Z");
	next_is("0 0 9 ? jan-mar mon-fri", "2024-03-28T09:00:00Z", "2024-03-29T09:00:00Z");
}

static void test_next_steps_and_lists(void **state)
{
	(void)state;
	next_is("*/15 * * * * *", "2024-05-01T00:00:07Z", "2024-05-01T00:00:15Z");
	next_is("*/15 * * * * *", "2024-05-01T00:00:45Z", "2024-05-01T00:01:00Z");
	next_is("*/2 * * * * *", "2024-05-01T00:00:01Z", "2024-05-01T00:00:02Z");
	next_is("*/2 * * * * *", "2024-05-01T00:00:02Z", "2024-05-01T00:00:04Z");
	next_is("0 10-20/5 * * * *", "2024-05-01T12:21:00Z", "2024-05-01T13:10:00Z");
	next_is("0 10-20/5 * * * *", "2024-05-01T12:10:00Z", "2024-05-01T12:15:00Z");
	next_is("5/20 * * * * *", "2024-05-01T00:00:26Z", "2024-05-01T00:00:45Z");
	next_is("5/20 * * * * *", "2024-05-01T00:00:45Z", "2024-05-01T00:01:05Z");
	next_is("0 0 1,13,22 * * *", "2024-05-01T13:00:00Z", "2024-05-01T22:00:00Z");
	next_is("0 0 1,13,22 * * *", "2024-05-01T22:00:00Z", "2024-05-02T01:00:00Z");
	next_is("0 0 0 1 */3 *", "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z");
	next_is("0 0 0 1 1-12/4 *", "2024-05-01T00:00:00Z", "2024-09-01T00:00:00Z");
	next_is("0 0 0 * * 1-5/2", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z");
	next_is("0 0 0 * * 1-5/2", "2024-09-02T00:00:00Z", "2024-09-04T00:00:00Z");
	/* a step past the range keeps its start only */
	next_is("7/100 * * * * *", "2024-05-01T00:00:07Z", "2024-05-01T00:01:07Z");
}

static void test_descriptors_and_every(void **state)
{
	(void)state;
	next_is("@hourly", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z");
	next_is("@daily", "2024-01-01T10:30:00Z", "2024-01-02T00:00:00Z");
	next_is("@midnight", "2024-12-31T10:30:00Z", "2025-01-01T00:00:00Z");
	next_is("@weekly", "2024-09-02T00:00:00Z", "2024-09-08T00:00:00Z");
	next_is("@monthly", "2024-02-15T00:00:00Z", "2024-03-01T00:00:00Z");
	next_is("@yearly", "2024-02-15T00:00:00Z", "2025-01-01T00:00:00Z");
	next_is("@annually", "2024-02-15T00:00:00Z", "2025-01-01T00:00:00Z");
	next_is("@every 10s", "2024-01-01T00:00:00Z", "2024-01-01T00:00:10Z");
	next_is("@every 1h30m", "2024-01-01T00:00:00.500Z", "2024-01-01T01:30:00Z");
	next_is("@every 1.5h", "2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z");
	next_is("@every 500ms", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z");
	next_is("@every 2500ms", "2024-01-01T00:00:00Z", "2024-01-01T00:00:02Z");
	next_is("@every   1m", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z");
	next_is("@every 1h0m0s", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z");
	next_is("@every 1\xc2\xb5s", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z");
	next_is("@every 24h", "2024-02-28T12:00:00Z", "2024-02-29T12:00:00Z");
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_cron_parse("@every 90m", &c, &err), TR_OK);
	assert_int_equal(c.every_ms, 5400000);
	tr_buf_release(&err);
}

static void test_next_bounds(void **state)
{
	(void)state;
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	int64_t next = 0;
	assert_int_equal(tr_cron_parse("* * * * * *", &c, &err), TR_OK);
	assert_false(tr_cron_next(&c, -5, &next));
	assert_false(tr_cron_next(&c, INT64_MAX, &next));
	assert_true(tr_cron_next(&c, 0, &next));
	assert_int_equal(next, 1000);
	tr_buf_release(&err);
}

/* TRIGGER (JSON text) checks, or fails with a message containing WANT. */
static void trigger_bad(const char *text, const char *want)
{
	json_t *t = json_loads(text, 0, NULL);
	struct tr_buf err = TR_BUF_INIT;
	assert_non_null(t);
	enum tr_err rc = tr_cron_trigger_check(t, &err);
	if (!rc)
		fail_msg("trigger %s checked; expected '%s'", text, want);
	if (!strstr(tr_buf_str(&err), want))
		fail_msg("trigger %s: message '%s' lacks '%s'", text, tr_buf_str(&err), want);
	json_decref(t);
	tr_buf_release(&err);
}

static int64_t trigger_next(const char *text, const char *after)
{
	json_t *t = json_loads(text, 0, NULL);
	struct tr_buf err = TR_BUF_INIT;
	int64_t next = -1;
	assert_non_null(t);
	if (tr_cron_trigger_next(t, T(after), &next, &err))
		fail_msg("trigger %s: %s", text, tr_buf_str(&err));
	json_decref(t);
	tr_buf_release(&err);
	return next;
}

static void test_triggers(void **state)
{
	(void)state;
	trigger_bad("{}", "neither");
	trigger_bad("{\"cron_schedule\": null}", "neither");
	trigger_bad("{\"cron_schedule\": {\"cron\": \"* * * * * *\"}, \"periodic_schedule\": "
		    "{\"interval_second\": 5}}",
		    "both");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": 0}}", "at least 1");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": -3}}", "at least 1");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": \"0\"}}", "at least 1");
	trigger_bad("{\"periodic_schedule\": {}}", "at least 1");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": 1.5}}", "whole number");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": \"x\"}}", "whole number");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": 9999999999999}}", "100 years");
	trigger_bad("{\"cron_schedule\": {}}", "cron_schedule.cron is missing");
	trigger_bad("{\"cron_schedule\": {\"cron\": \"* * *\"}}", "has 3 fields");
	trigger_bad("{\"cron_schedule\": 5}", "must be an object");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": 5, \"start_time\": \"soon\"}}",
		    "start_time is not an RFC3339 time");
	trigger_bad("{\"periodic_schedule\": {\"interval_second\": 5, \"start_time\": "
		    "\"2024-05-02T00:00:00Z\", \"end_time\": \"2024-05-01T00:00:00Z\"}}",
		    "end_time is before its start_time");

	/* periodic: after + interval; before the start, the start itself */
	assert_int_equal(trigger_next("{\"periodic_schedule\": {\"interval_second\": \"60\"}}",
				      "2024-05-01T00:00:00Z"),
			 T("2024-05-01T00:01:00Z"));
	const char *ps = "{\"periodic_schedule\": {\"interval_second\": 60, \"start_time\": "
			 "\"2024-05-01T12:00:00Z\", \"end_time\": \"2024-05-01T13:00:00\"}}";
	assert_int_equal(trigger_next(ps, "2024-05-01T00:00:00Z"), T("2024-05-01T12:00:00Z"));
	assert_int_equal(trigger_next(ps, "2024-05-01T12:30:00Z"), T("2024-05-01T12:31:00Z"));
	assert_int_equal(trigger_next(ps, "2024-05-01T12:59:00Z"), T("2024-05-01T13:00:00Z"));
	assert_int_equal(trigger_next(ps, "2024-05-01T12:59:30Z"), 0); /* past the end: done */
	/* cron: the first match at or after the start */
	const char *cs = "{\"cron_schedule\": {\"cron\": \"0 0 * * * *\", \"start_time\": "
			 "\"2024-05-01T12:00:00Z\", \"end_time\": \"\"}}";
	assert_int_equal(trigger_next(cs, "2024-05-01T00:00:00Z"), T("2024-05-01T12:00:00Z"));
	assert_int_equal(trigger_next(cs, "2024-05-01T12:00:00Z"), T("2024-05-01T13:00:00Z"));
	assert_int_equal(trigger_next("{\"cron_schedule\": {\"cron\": \"0 0 0 30 2 *\"}}",
				      "2024-05-01T00:00:00Z"),
			 0); /* never fires */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_next_basic),
	    cmocka_unit_test(test_next_month_ends_and_leap_years),
	    cmocka_unit_test(test_next_dom_dow),
	    cmocka_unit_test(test_next_steps_and_lists),
	    cmocka_unit_test(test_descriptors_and_every),
	    cmocka_unit_test(test_next_bounds),
	    cmocka_unit_test(test_triggers),
	};
	return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
