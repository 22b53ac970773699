/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model registry store suite: model version sources (the LFI/SSRF class of
 * MLflow CVEs must fail here), versions, stages, aliases, rename, delete and
 * search with MLflow's prompt-tag rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

/* A run of experiment 0 with one stored file at <run>/artifacts/model/MLmodel. */
static char *run_with_model(struct tr_store *s)
{
	char *run = create_run(s, "0");
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"path\":\"0/%s/artifacts/model/MLmodel\",\"size\":3,\"sha256\":\"00\"}", run);
	assert_int_equal(write_json(s, tr_store_artifact_record, body, NULL, NULL, 0), TR_OK);
	return run;
}

static enum tr_err create_version(struct tr_store *s, const char *name, const char *source,
				  const char *extra, char *msg, size_t msg_len)
{
	json_t *body = json_pack("{s:s,s:s}", "name", name, "source", source);
	if (extra) {
		json_t *more = json_loads(extra, 0, NULL);
		assert_non_null(more);
		json_object_update(body, more);
		json_decref(more);
	}
	char *text = json_dumps(body, 0);
	enum tr_err rc = write_json(s, tr_store_model_version_create, text, NULL, msg, msg_len);
	free(text);
	json_decref(body);
	return rc;
}

static json_t *read_ok(enum tr_err (*fn)(struct tr_store *, json_t *, json_t **, struct tr_buf *),
		       struct tr_store *s, const char *args)
{
	json_t *a = json_loads(args, 0, NULL), *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_non_null(a);
	enum tr_err rc = fn(s, a, &out, &err);
	if (rc)
		fail_msg("%s: %s", args, tr_buf_str(&err));
	tr_buf_release(&err);
	json_decref(a);
	return out;
}

static void sources_resolve_only_to_stored_objects(void **state)
{
	struct fixture *f = *state;
	char *run = run_with_model(f->s);
	char msg[512], src[256];
	assert_int_equal(
	    write_json(f->s, tr_store_registered_model_create, "{\"name\":\"m\"}", NULL, NULL, 0),
	    TR_OK);
	const char *bad[] = {
	    "file:///etc/passwd",
	    "/etc/passwd",
	    "../../etc/passwd",
	    "etc/passwd",
	    "http://169.254.169.254/latest/meta-data",
	    "https://example.com/model",
	    "dbfs:/x",
	    "s3://bucket/key",
	    "mlflow-artifacts:/../../etc",
	    "mlflow-artifacts://evil.example/0/x",
	    "mlflow-artifacts:/0/%2e%2e/%2e%2e/etc",
	    "mlflow-artifacts:/0/nonexistent/artifacts/model",
	    "mlflow-artifacts:/0/x/artifacts/model?x=1",
	    "mlflow-artifacts:/0/x/artifacts/model#frag",
	    "runs:/ffffffffffffffffffffffffffffffff/model",
	    "runs:/../model",
	    "models:/m-00000000000000000000000000000000",
	    "models:/m/7",
	    "models:/m/one",
	    "RUNS:/x/model",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum tr_err rc = create_version(f->s, "m", bad[i], NULL, msg, sizeof(msg));
		if (rc != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("source '%s' gave %d (%s)", bad[i], rc, msg);
	}
	/* tags do not change the verdict (CVE-2026-2614) */
	assert_int_equal(create_version(f->s, "m", "file:///etc/passwd",
					"{\"tags\":[{\"key\":\"mlflow.prompt.is_prompt\","
					"\"value\":\"true\"}]}",
					msg, sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	/* a run path without files, sources under another run's files */
	snprintf(src, sizeof(src), "runs:/%s/nothing-here", run);
	assert_int_equal(create_version(f->s, "m", src, NULL, msg, sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	/* nothing was created by the refusals: the first good one is version 1 */
	snprintf(src, sizeof(src), "mlflow-artifacts:/0/%s/artifacts/model", run);
	assert_int_equal(create_version(f->s, "m", src, NULL, msg, sizeof(msg)), TR_OK);
	snprintf(src, sizeof(src), "runs:/%s/model", run);
	assert_int_equal(create_version(f->s, "m", src, NULL, msg, sizeof(msg)), TR_OK);
	assert_int_equal(create_version(f->s, "m", "models:/m/1", NULL, msg, sizeof(msg)), TR_OK);
	json_t *v2 =
	    read_ok(tr_store_model_version_get, f->s, "{\"name\":\"m\",\"version\":\"2\"}");
	json_t *mv = json_object_get(v2, "model_version");
	assert_string_equal(json_string_value(json_object_get(mv, "source")), src); /* echoed */
	assert_string_equal(json_string_value(json_object_get(mv, "run_id")), run);
	assert_string_equal(json_string_value(json_object_get(mv, "status")), "READY");
	json_decref(v2);
	for (int v = 1; v <= 3; v++) {
		char args[64], want[256];
		snprintf(args, sizeof(args), "{\"name\":\"m\",\"version\":\"%d\"}", v);
		json_t *u = read_ok(tr_store_model_version_download_uri, f->s, args);
		snprintf(want, sizeof(want), "mlflow-artifacts:/0/%s/artifacts/model", run);
		assert_string_equal(json_string_value(json_object_get(u, "artifact_uri")), want);
		json_decref(u);
	}
	/* a run id other than the source's run (lineage must be true) */
	snprintf(src, sizeof(src), "mlflow-artifacts:/0/%s/artifacts/model", run);
	assert_int_equal(create_version(f->s, "m", src,
					"{\"run_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", msg,
					sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	snprintf(src, sizeof(src), "runs:/%s/model", run);
	assert_int_equal(create_version(f->s, "m", src,
					"{\"run_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", msg,
					sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	/* prompt placeholders only for a prompt */
	assert_int_equal(create_version(f->s, "m", "dummy-source", NULL, msg, sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	/* an unknown registered model */
	assert_int_equal(create_version(f->s, "nope", src, NULL, msg, sizeof(msg)),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	free(run);
}

static void logged_model_sources(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	char body[256], src[128], msg[256];
	json_t *res = NULL;
	snprintf(body, sizeof(body),
		 "{\"experiment_id\":\"0\",\"name\":\"model\",\"source_run_id\":\"%s\"}", run);
	assert_int_equal(
	    write_json(f->s, tr_store_logged_model_create, body, &res, msg, sizeof(msg)), TR_OK);
	json_t *info = json_object_get(json_object_get(res, "model"), "info");
	const char *id = json_string_value(json_object_get(info, "model_id"));
	assert_int_equal(strncmp(id, "m-", 2), 0);
	assert_int_equal(strlen(id), 34);
	assert_string_equal(json_string_value(json_object_get(info, "status")),
			    "LOGGED_MODEL_PENDING");
	char loc[128];
	snprintf(loc, sizeof(loc), "mlflow-artifacts:/0/models/%s/artifacts", id);
	assert_string_equal(json_string_value(json_object_get(info, "artifact_uri")), loc);
	assert_int_equal(
	    write_json(f->s, tr_store_registered_model_create, "{\"name\":\"lm\"}", NULL, NULL, 0),
	    TR_OK);
	snprintf(src, sizeof(src), "models:/%s", id);
	assert_int_equal(create_version(f->s, "lm", src, NULL, msg, sizeof(msg)), TR_OK);
	/* runs:/<run>/<name> falls back to the logged model the run produced */
	snprintf(src, sizeof(src), "runs:/%s/model", run);
	assert_int_equal(create_version(f->s, "lm", src, NULL, msg, sizeof(msg)), TR_OK);
	json_t *mv =
	    read_ok(tr_store_model_version_get, f->s, "{\"name\":\"lm\",\"version\":\"1\"}");
	json_t *v = json_object_get(mv, "model_version");
	assert_string_equal(json_string_value(json_object_get(v, "run_id")), run);
	assert_string_equal(json_string_value(json_object_get(v, "model_id")), id);
	json_decref(mv);
	json_t *u = read_ok(tr_store_model_version_download_uri, f->s,
			    "{\"name\":\"lm\",\"version\":\"2\"}");
	assert_string_equal(json_string_value(json_object_get(u, "artifact_uri")), loc);
	json_decref(u);
	/* the logged model lists its registrations */
	char args[64];
	snprintf(args, sizeof(args), "{\"model_id\":\"%s\"}", id);
	json_t *got = read_ok(tr_store_logged_model_get, f->s, args);
	json_t *regs = json_object_get(json_object_get(json_object_get(got, "model"), "info"),
				       "registrations");
	assert_int_equal(json_array_size(regs), 2);
	json_decref(got);
	/* a deleted logged model is no source any more */
	assert_int_equal(write_json(f->s, tr_store_logged_model_delete, args, NULL, NULL, 0),
			 TR_OK);
	snprintf(src, sizeof(src), "models:/%s", id);
	assert_int_equal(create_version(f->s, "lm", src, NULL, msg, sizeof(msg)),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	json_decref(res);
	free(run);
}

static void versions_stages_aliases_rename_delete(void **state)
{
	struct fixture *f = *state;
	char *run = run_with_model(f->s);
	char src[256], msg[256];
	snprintf(src, sizeof(src), "runs:/%s/model", run);
	assert_int_equal(write_json(f->s, tr_store_registered_model_create,
				    "{\"name\":\"m\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}",
				    NULL, NULL, 0),
			 TR_OK);
	assert_int_equal(write_json(f->s, tr_store_registered_model_create, "{\"name\":\"m\"}",
				    NULL, msg, sizeof(msg)),
			 TR_ERR_RESOURCE_ALREADY_EXISTS);
	for (int i = 0; i < 3; i++)
		assert_int_equal(create_version(f->s, "m", src, NULL, msg, sizeof(msg)), TR_OK);
	/* stages: canonical names, archive_existing_versions */
	const char *t1 = "{\"name\":\"m\",\"version\":\"1\",\"stage\":\"production\","
			 "\"archive_existing_versions\":false}";
	assert_int_equal(
	    write_json(f->s, tr_store_model_version_transition_stage, t1, NULL, NULL, 0), TR_OK);
	const char *t2 = "{\"name\":\"m\",\"version\":\"2\",\"stage\":\"Production\","
			 "\"archive_existing_versions\":true}";
	assert_int_equal(
	    write_json(f->s, tr_store_model_version_transition_stage, t2, NULL, NULL, 0), TR_OK);
	const char *t3 = "{\"name\":\"m\",\"version\":\"3\",\"stage\":\"Archived\","
			 "\"archive_existing_versions\":true}";
	assert_int_equal(
	    write_json(f->s, tr_store_model_version_transition_stage, t3, NULL, NULL, 0),
	    TR_ERR_INVALID_PARAMETER_VALUE);
	const char *t4 = "{\"name\":\"m\",\"version\":\"3\",\"stage\":\"Live\","
			 "\"archive_existing_versions\":false}";
	assert_int_equal(
	    write_json(f->s, tr_store_model_version_transition_stage, t4, NULL, NULL, 0),
	    TR_ERR_INVALID_PARAMETER_VALUE);
	json_t *v1 =
	    read_ok(tr_store_model_version_get, f->s, "{\"name\":\"m\",\"version\":\"1\"}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v1, "model_version"),
							      "current_stage")),
			    "Archived");
	json_decref(v1);
	json_t *latest = read_ok(tr_store_registered_model_latest_versions, f->s,
				 "{\"name\":\"m\",\"stages\":[\"production\"]}");
	json_t *list = json_object_get(latest, "model_versions");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "version")),
			    "2");
	json_decref(latest);
	/* aliases: reserved names, unknown versions, moving */
	const char *bad_alias[] = {"latest", "LATEST", "v1", "V22", "", "a b", "a/b"};
	for (size_t i = 0; i < sizeof(bad_alias) / sizeof(bad_alias[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"name\":\"m\",\"alias\":\"%s\",\"version\":\"1\"}",
			 bad_alias[i]);
		assert_int_equal(
		    write_json(f->s, tr_store_registered_model_set_alias, body, NULL, NULL, 0),
		    TR_ERR_INVALID_PARAMETER_VALUE);
	}
	assert_int_equal(write_json(f->s, tr_store_registered_model_set_alias,
				    "{\"name\":\"m\",\"alias\":\"champ\",\"version\":\"9\"}", NULL,
				    NULL, 0),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(write_json(f->s, tr_store_registered_model_set_alias,
				    "{\"name\":\"m\",\"alias\":\"champ\",\"version\":\"1\"}", NULL,
				    NULL, 0),
			 TR_OK);
	assert_int_equal(write_json(f->s, tr_store_registered_model_set_alias,
				    "{\"name\":\"m\",\"alias\":\"champ\",\"version\":3}", NULL,
				    NULL, 0),
			 TR_OK);
	json_t *by =
	    read_ok(tr_store_model_version_by_alias, f->s, "{\"name\":\"m\",\"alias\":\"champ\"}");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(by, "model_version"), "version")),
	    "3");
	json_decref(by);
	/* rename carries versions, tags and aliases */
	assert_int_equal(write_json(f->s, tr_store_registered_model_rename,
				    "{\"name\":\"m\",\"new_name\":\"n\"}", NULL, NULL, 0),
			 TR_OK);
	json_t *rm = read_ok(tr_store_registered_model_get, f->s, "{\"name\":\"n\"}");
	json_t *r = json_object_get(rm, "registered_model");
	assert_int_equal(json_array_size(json_object_get(r, "tags")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "aliases")), 1);
	json_decref(rm);
	by = read_ok(tr_store_model_version_by_alias, f->s, "{\"name\":\"n\",\"alias\":\"champ\"}");
	json_decref(by);
	/* a deleted version is gone everywhere and its number is not reused */
	assert_int_equal(write_json(f->s, tr_store_model_version_delete,
				    "{\"name\":\"n\",\"version\":\"3\"}", NULL, NULL, 0),
			 TR_OK);
	struct tr_buf err = TR_BUF_INIT;
	json_t *a = json_loads("{\"name\":\"n\",\"alias\":\"champ\"}", 0, NULL), *out = NULL;
	assert_int_equal(tr_store_model_version_by_alias(f->s, a, &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	json_decref(a);
	tr_buf_release(&err);
	assert_int_equal(create_version(f->s, "n", src, NULL, msg, sizeof(msg)), TR_OK);
	json_t *v4 =
	    read_ok(tr_store_model_version_get, f->s, "{\"name\":\"n\",\"version\":\"4\"}");
	json_decref(v4);
	/* version numbers must be integers */
	assert_int_equal(write_json(f->s, tr_store_model_version_update,
				    "{\"name\":\"n\",\"version\":\"1.5\",\"description\":\"x\"}",
				    NULL, NULL, 0),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(
	    write_json(f->s, tr_store_registered_model_delete, "{\"name\":\"n\"}", NULL, NULL, 0),
	    TR_OK);
	a = json_loads("{\"name\":\"n\",\"version\":\"4\"}", 0, NULL);
	assert_int_equal(tr_store_model_version_get(f->s, a, &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	json_decref(a);
	tr_buf_release(&err);
	free(run);
}

static void search_keeps_models_without_the_prompt_tag(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(write_json(f->s, tr_store_registered_model_create, "{\"name\":\"plain\"}",
				    NULL, NULL, 0),
			 TR_OK);
	assert_int_equal(write_json(f->s, tr_store_registered_model_create,
				    "{\"name\":\"prompt\",\"tags\":[{\"key\":"
				    "\"mlflow.prompt.is_prompt\",\"value\":\"true\"}]}",
				    NULL, NULL, 0),
			 TR_OK);
	json_t *res = read_ok(tr_store_registered_model_search, f->s,
			      "{\"filter\":\"tag.`mlflow.prompt.is_prompt` != 'true'\"}");
	json_t *list = json_object_get(res, "registered_models");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "plain");
	assert_null(json_object_get(res, "next_page_token"));
	json_decref(res);
	/* paging: a token only when more remain */
	res = read_ok(tr_store_registered_model_search, f->s,
		      "{\"max_results\":1,\"order_by\":[\"name DESC\"]}");
	list = json_object_get(res, "registered_models");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "prompt");
	const char *tok = json_string_value(json_object_get(res, "next_page_token"));
	assert_non_null(tok);
	char args[256];
	snprintf(args, sizeof(args),
		 "{\"max_results\":1,\"order_by\":[\"name DESC\"],\"page_token\":\"%s\"}", tok);
	json_decref(res);
	res = read_ok(tr_store_registered_model_search, f->s, args);
	list = json_object_get(res, "registered_models");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "plain");
	assert_null(json_object_get(res, "next_page_token"));
	json_decref(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(sources_resolve_only_to_stored_objects, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(logged_model_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(versions_stages_aliases_rename_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(search_keeps_models_without_the_prompt_tag, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
