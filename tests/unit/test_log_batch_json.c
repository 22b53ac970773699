/* SPDX-License-Identifier: Apache-2.0 */
/* The streaming LogBatch parser: shapes MLflow clients send, and every way a body can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/log_batch_json.h"
#include "core/arena.h"
#include "core/buf.h"

#include <math.h>
#include <string.h>

static enum tr_err parse(const char *body, struct tr_arena *a, struct tr_log_batch *b,
			 struct tr_buf *err)
{
	return tr_log_batch_parse(body, strlen(body), a, b, err);
}

static void reads_what_clients_send(void **state)
{
	struct tr_arena *a = tr_arena_new();
	struct tr_buf err = TR_BUF_INIT;
	struct tr_log_batch b;
	const char *body =
	    "{\"run_id\":\"abc\",\"metrics\":["
	    "{\"key\":\"loss\",\"value\":0.5,\"timestamp\":1700000000000,\"step\":3},"
	    "{\"key\":\"acc\",\"value\":\"NaN\",\"timestamp\":\"17\",\"model_id\":\"m-1\","
	    "\"extra\":{\"deep\":[1,{\"x\":[]}]}},"
	    "{\"key\":\"big\",\"value\":\"-Infinity\",\"timestamp\":1,\"step\":"
	    "\"9007199254740993\"}],"
	    "\"params\":[{\"key\":\"lr\",\"value\":\"0.1\"},{\"key\":\"empty\"}],"
	    "\"tags\":[{\"key\":\"t\",\"value\":\"v\",\"unknown\":null}],"
	    "\"unknown_top\":[{\"a\":1}]}";
	assert_int_equal(parse(body, a, &b, &err), TR_OK);
	assert_string_equal(b.run_id, "abc");
	assert_int_equal(b.n_metrics, 3);
	assert_string_equal(b.metrics[0].key, "loss");
	assert_true(b.metrics[0].value == 0.5);
	assert_int_equal(b.metrics[0].timestamp, 1700000000000LL);
	assert_int_equal(b.metrics[0].step, 3);
	assert_true(isnan(b.metrics[1].value));
	assert_int_equal(b.metrics[1].timestamp, 17);
	assert_int_equal(b.metrics[1].step, 0);
	assert_string_equal(b.metrics[1].model_id, "m-1");
	assert_true(isinf(b.metrics[2].value) && b.metrics[2].value < 0);
	assert_int_equal(b.metrics[2].step, 9007199254740993LL); /* exact beyond 2^53 */
	assert_int_equal(b.n_params, 2);
	assert_string_equal(b.params[1].value, "");
	assert_int_equal(b.n_tags, 1);
	assert_string_equal(b.tags[0].value, "v");
	/* the legacy run_uuid, and an empty batch */
	assert_int_equal(parse("{\"run_uuid\":\"r2\"}", a, &b, &err), TR_OK);
	assert_string_equal(b.run_id, "r2");
	assert_int_equal(b.n_metrics + b.n_params + b.n_tags, 0);
	tr_buf_release(&err);
	tr_arena_free(a);
}

static void grows_past_the_first_allocation(void **state)
{
	struct tr_arena *a = tr_arena_new();
	struct tr_buf body = TR_BUF_INIT, err = TR_BUF_INIT;
	struct tr_log_batch b;
	tr_buf_appends(&body, "{\"run_id\":\"r\",\"metrics\":[");
	for (int i = 0; i < 1000; i++)
		tr_buf_appendf(&body,
			       "%s{\"key\":\"m%d\",\"value\":%d,\"timestamp\":1,\"step\":%d}",
			       i ? "," : "", i % 10, i, i);
	tr_buf_appends(&body, "]}");
	assert_int_equal(tr_log_batch_parse(body.data, body.len, a, &b, &err), TR_OK);
	assert_int_equal(b.n_metrics, 1000);
	assert_int_equal(b.metrics[999].step, 999);
	assert_string_equal(b.metrics[999].key, "m9");
	tr_buf_release(&body);
	tr_buf_release(&err);
	tr_arena_free(a);
}

static void refuses_bad_bodies(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "\"{}\"",
	    "42",
	    "{",
	    "{\"run_id\":\"r\",\"metrics\":{\"key\":\"m\"}}",
	    "{\"run_id\":\"r\",\"metrics\":[\"not an object\"]}",
	    "{\"run_id\":\"r\",\"metrics\":[[1]]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"value\":1,\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":\"abc\",\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":true,\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":1,\"timestamp\":\"soon\"}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":1,\"timestamp\":1,\"step\":1."
	    "5}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"m\",\"value\":1,\"timestamp\":"
	    "99999999999999999999999}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":5,\"value\":1,\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"metrics\":[{\"key\":\"a\\u0000b\",\"value\":1,\"timestamp\":1}]}",
	    "{\"run_id\":\"r\",\"params\":[{\"key\":\"p\",\"value\":{\"nested\":1}}]}",
	    "{\"run_id\":[\"r\"]}",
	    "{\"run_id\":\"r\",\"tags\":[{\"key\":\"t\",\"value\":\"\\udc00\"}]}", /* lone low
										      surrogate */
	    "{\"run_id\":\"r\"} trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tr_arena *a = tr_arena_new();
		struct tr_buf err = TR_BUF_INIT;
		struct tr_log_batch b;
		enum tr_err rc = parse(bad[i], a, &b, &err);
		if (rc != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("body %zu accepted: %s", i, bad[i]);
		assert_true(err.len > 0);
		assert_int_equal(b.n_metrics, 0); /* nothing half-read is handed on */
		tr_buf_release(&err);
		tr_arena_free(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_what_clients_send),
	    cmocka_unit_test(grows_past_the_first_allocation),
	    cmocka_unit_test(refuses_bad_bodies),
	};
	return cmocka_run_group_tests_name("log-batch json", tests, NULL, NULL);
}
