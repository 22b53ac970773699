/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit log reads (store_audit.c) on a real SQLite store: each filter alone
 * and combined, paging newest first that returns every entry exactly once,
 * refused arguments and page tokens, and the chain's verification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#include <sodium.h>

/* Applies FN with ARGS_JSON as ACTOR doing ACTION; returns the result (new). */
static json_t *act(struct tr_store *s, tr_write_fn fn, const char *args_json, const char *actor,
		   const char *action)
{
	struct tr_write w = {0};
	w.apply = fn;
	w.args = json_loads(args_json, 0, NULL);
	assert_non_null(w.args);
	w.actor = actor;
	w.action = action;
	w.audit_class = TR_AUDIT_CONTROL;
	if (tr_store_write_sync(s, &w))
		fail_msg("%s: %s", action, tr_buf_str(&w.err));
	json_t *res = w.result;
	w.result = NULL;
	tr_write_release(&w);
	json_decref(w.args);
	return res;
}

/* Three experiments by alice, then four runs in the first by bob: 7 entries. */
static void fill_round(struct tr_store *s, char exp_id[32], int round)
{
	for (int i = 0; i < 3; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"name\":\"exp-%d-%d\"}", round, i);
		json_t *r = act(s, tr_store_experiment_create, body, "alice", "experiments.create");
		if (i == 0)
			snprintf(exp_id, 32, "%s",
				 json_string_value(json_object_get(r, "experiment_id")));
		json_decref(r);
	}
	for (int i = 0; i < 4; i++) {
		char body[96];
		snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"start_time\":1}", exp_id);
		json_decref(act(s, tr_store_run_create, body, "bob", "runs.create"));
	}
}

static void fill(struct tr_store *s, char exp_id[32])
{
	fill_round(s, exp_id, 0);
}

/* The entries for the query string QUERY ("k=v&k=v"); fails on an error. */
static json_t *entries(struct tr_store *s, const char *query)
{
	json_t *args = json_object();
	char *q = strdup(query);
	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		assert_non_null(eq);
		*eq = 0;
		json_object_set_new(args, kv, json_string(eq + 1));
	}
	free(q);
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_store_audit_entries(s, args, &out, &err))
		fail_msg("%s: %s", query, tr_buf_str(&err));
	tr_buf_release(&err);
	json_decref(args);
	return out;
}

static size_t count(struct tr_store *s, const char *query)
{
	json_t *out = entries(s, query);
	size_t n = json_array_size(json_object_get(out, "entries"));
	json_decref(out);
	return n;
}

/* The code for ARGS (a JSON object text); the message in MSG. */
static enum tr_err refused(struct tr_store *s, const char *args_json, char msg[256])
{
	json_t *args = json_loads(args_json, 0, NULL);
	assert_non_null(args);
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_store_audit_entries(s, args, &out, &err);
	snprintf(msg, 256, "%s", tr_buf_str(&err));
	assert_null(out);
	tr_buf_release(&err);
	json_decref(args);
	return rc;
}

static void filters_narrow(void **state)
{
	struct fixture *f = *state;
	char exp[32], q[128];
	fill(f->s, exp);
	assert_int_equal(count(f->s, ""), 7);
	assert_int_equal(count(f->s, "actor=alice"), 3);
	assert_int_equal(count(f->s, "actor=bob"), 4);
	assert_int_equal(count(f->s, "actor=carol"), 0);
	assert_int_equal(count(f->s, "action=runs.create"), 4);
	assert_int_equal(count(f->s, "action=runs"), 0); /* exact unless it ends in '*' */
	assert_int_equal(count(f->s, "action=runs.*"), 4);
	assert_int_equal(count(f->s, "action=exp*"), 3);
	assert_int_equal(count(f->s, "action=*"), 7);
	assert_int_equal(count(f->s, "resource_type=run"), 4);
	assert_int_equal(count(f->s, "resource_type=ru"), 0); /* a type, not a prefix */
	assert_int_equal(count(f->s, "resource_type=experiment"), 3);
	snprintf(q, sizeof(q), "resource_type=experiment&resource_id=%s", exp);
	assert_int_equal(count(f->s, q), 1);
	assert_int_equal(count(f->s, "actor=alice&action=runs.create"), 0);

	/* each entry has the chain fields and its resource split in two */
	json_t *out = entries(f->s, "resource_type=run&max_results=1");
	json_t *e = json_array_get(json_object_get(out, "entries"), 0);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 7);
	assert_string_equal(json_string_value(json_object_get(e, "actor")), "bob");
	assert_string_equal(json_string_value(json_object_get(e, "resource_type")), "run");
	const char *rid = json_string_value(json_object_get(e, "resource_id"));
	assert_int_equal(strlen(rid), 32);
	assert_int_equal(strlen(json_string_value(json_object_get(e, "hash"))), 64);
	assert_int_equal(strlen(json_string_value(json_object_get(e, "prev_hash"))), 64);
	snprintf(q, sizeof(q), "resource_type=run&resource_id=%s", rid);
	assert_int_equal(count(f->s, q), 1);

	/* a time range: the newest entry's time alone, then everything up to it */
	int64_t t = json_integer_value(json_object_get(e, "time_ms"));
	snprintf(q, sizeof(q), "from_ms=%lld", (long long)(t + 1));
	assert_int_equal(count(f->s, q), 0);
	snprintf(q, sizeof(q), "from_ms=0&to_ms=%lld", (long long)t);
	assert_int_equal(count(f->s, q), 7);
	snprintf(q, sizeof(q), "to_ms=%lld&actor=bob", (long long)t);
	assert_int_equal(count(f->s, q), 4);
	json_decref(out);
}

static void pages_cover_everything_once(void **state)
{
	struct fixture *f = *state;
	char exp[32];
	fill(f->s, exp);
	fill_round(f->s, exp, 1);
	int64_t seen[32] = {0};
	int64_t last = INT64_MAX;
	int pages = 0, n = 0;
	char q[512] = "max_results=3";
	for (;;) {
		json_t *out = entries(f->s, q);
		json_t *list = json_object_get(out, "entries");
		pages++;
		for (size_t i = 0; i < json_array_size(list); i++) {
			int64_t seq =
			    json_integer_value(json_object_get(json_array_get(list, i), "seq"));
			assert_true(seq < last); /* newest first, no repeats */
			assert_true(seq >= 1 && seq < 32);
			seen[seq]++;
			last = seq;
			n++;
		}
		const char *tok = json_string_value(json_object_get(out, "next_page_token"));
		if (!tok) {
			json_decref(out);
			break;
		}
		assert_int_equal(json_array_size(list), 3);
		snprintf(q, sizeof(q), "max_results=3&page_token=%s", tok);
		json_decref(out);
	}
	json_t *all = entries(f->s, "max_results=1000");
	size_t total = json_array_size(json_object_get(all, "entries"));
	json_decref(all);
	assert_int_equal(n, (int)total);
	assert_int_equal(pages, (int)((total + 2) / 3));
	for (size_t i = 1; i <= total; i++)
		assert_int_equal(seen[i], 1);

	/* a filtered walk in pages of one */
	int runs = 0;
	snprintf(q, sizeof(q), "actor=bob&max_results=1");
	for (;;) {
		json_t *out = entries(f->s, q);
		runs += (int)json_array_size(json_object_get(out, "entries"));
		const char *tok = json_string_value(json_object_get(out, "next_page_token"));
		if (!tok) {
			json_decref(out);
			break;
		}
		snprintf(q, sizeof(q), "actor=bob&max_results=1&page_token=%s", tok);
		json_decref(out);
	}
	assert_int_equal(runs, count(f->s, "actor=bob&max_results=1000"));
}

static void bad_arguments_are_refused(void **state)
{
	struct fixture *f = *state;
	char exp[32], msg[256];
	fill(f->s, exp);
	static const char *const bad[] = {
	    "{\"foo\":\"1\"}",
	    "{\"max_results\":\"0\"}",
	    "{\"max_results\":\"1001\"}",
	    "{\"max_results\":\"99999999999999999999\"}",
	    "{\"max_results\":\"12abc\"}",
	    "{\"max_results\":\"\\u00201\"}",
	    "{\"from_ms\":\"-1\"}",
	    "{\"to_ms\":\"x\"}",
	    "{\"from_ms\":\"10\",\"to_ms\":\"5\"}",
	    "{\"action\":\"ru*ns\"}",
	    "{\"resource_id\":\"abc\"}",
	    "{\"resource_type\":\"run' OR '1'='1\"}",
	    "{\"actor\":[\"a\",\"b\"]}",
	    "{\"actor\":\"a\\u0001b\"}",
	    "{\"page_token\":\"not base64!\"}",
	    "{\"page_token\":\"' OR 1=1 --\"}",
	    "{\"page_token\":\"e30\"}", /* {} */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum tr_err rc = refused(f->s, bad[i], msg);
		if (rc != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("%s: code %d", bad[i], rc);
		assert_true(strlen(msg) > 0);
	}
	/* a token made for other filters, and one forged with a wrong digest */
	json_t *out = entries(f->s, "actor=bob&max_results=1");
	const char *tok = json_string_value(json_object_get(out, "next_page_token"));
	assert_non_null(tok);
	char args[512];
	snprintf(args, sizeof(args), "{\"actor\":\"alice\",\"page_token\":\"%s\"}", tok);
	assert_int_equal(refused(f->s, args, msg), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_non_null(strstr(msg, "other filters"));
	json_decref(out);
	const char *forged = "{\"before_seq\":3,\"filter\":\"00000000000000000000000000000000\"}";
	char b64[256];
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)forged, strlen(forged),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(args, sizeof(args), "{\"page_token\":\"%s\"}", b64);
	assert_int_equal(refused(f->s, args, msg), TR_ERR_INVALID_PARAMETER_VALUE);
	/* the table is still whole */
	assert_int_equal(count(f->s, ""), 7);
}

static void verify_counts_the_chain(void **state)
{
	struct fixture *f = *state;
	char exp[32];
	fill(f->s, exp);
	int64_t n = 0, bad = -1;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_audit_verify(f->s, &n, &bad, &err), TR_OK);
	assert_int_equal(n, 7);
	assert_int_equal(bad, 0);
	tr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(filters_narrow, setup, teardown),
	    cmocka_unit_test_setup_teardown(pages_cover_everything_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_arguments_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(verify_counts_the_chain, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
