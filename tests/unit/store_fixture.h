/* SPDX-License-Identifier: Apache-2.0 */
/* Store test fixture shared by the store and registry suites: a fresh store
 * in a temporary folder per test, and synchronous writes. Include after
 * cmocka.h. */
#ifndef TR_TEST_STORE_FIXTURE_H
#define TR_TEST_STORE_FIXTURE_H

#include "api/log_batch_json.h"
#include "core/arena.h"
#include "core/json.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char uri[128];
	struct tr_store *s;
};

static inline int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/trellis-unit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uri, sizeof(f->uri), "sqlite:///%s/t.db", f->dir);
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_open(f->uri, NULL, &f->s, &err), TR_OK);
	tr_buf_release(&err);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fixture *f = *state;
	char path[256];
	tr_store_close(f->s);
	const char *files[] = {"t.db", "t.db-wal", "t.db-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs one write synchronously; returns its code; *RESULT (if given) gets w.result. */
static inline enum tr_err write_json(struct tr_store *s, tr_write_fn fn, const char *json, json_t **result,
			      char *msg, size_t msg_len)
{
	struct tr_write w = {0};
	struct tr_arena *arena = tr_arena_new();
	struct tr_log_batch batch;
	w.apply = fn;
	w.args = json_loads(json, 0, NULL);
	assert_non_null(w.args);
	if (fn == tr_store_run_log_batch) { /* the HTTP layer streams these into structs */
		struct tr_buf perr = TR_BUF_INIT;
		assert_int_equal(tr_log_batch_parse(json, strlen(json), arena, &batch, &perr),
				 TR_OK);
		tr_buf_release(&perr);
		w.payload = &batch;
	}
	w.action = "test";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(s, &w);
	if (msg)
		snprintf(msg, msg_len, "%s", tr_buf_str(&w.err));
	if (result) {
		*result = w.result;
		w.result = NULL;
	}
	tr_write_release(&w);
	json_decref(w.args);
	tr_arena_free(arena);
	return rc;
}

static inline char *create_run(struct tr_store *s, const char *exp)
{
	char body[128];
	json_t *res = NULL;
	snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"start_time\":1000}", exp);
	assert_int_equal(write_json(s, tr_store_run_create, body, &res, NULL, 0), TR_OK);
	const char *id = json_string_value(
	    json_object_get(json_object_get(json_object_get(res, "run"), "info"), "run_id"));
	char *out = strdup(id);
	json_decref(res);
	return out;
}

#endif
