/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lineage store suite: edges added through the write op and by the store's
 * own writes (artifact records, model versions, logged models, dataset
 * inputs), walks up and down with depth limits, cycles, name validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static enum tr_err link_edges(struct tr_store *s, const char *edges_json)
{
	char body[2048];
	snprintf(body, sizeof(body), "{\"edges\":%s}", edges_json);
	return write_json(s, tr_store_lineage_link, body, NULL, NULL, 0);
}

static json_t *query(struct tr_store *s, const char *node, const char *dir, int depth)
{
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_store_lineage_query(s, node, dir, depth, &out, &err);
	if (rc)
		fail_msg("%s: %s", node, tr_buf_str(&err));
	tr_buf_release(&err);
	return out;
}

/* Whether OUT's nodes hold ID. */
static bool has_node(json_t *out, const char *id)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(out, "nodes"), i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "id")), id))
			return true;
	}
	return false;
}

static bool has_edge(json_t *out, const char *src, const char *dst, const char *rel)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(out, "edges"), i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "src")), src) &&
		    !strcmp(json_string_value(json_object_get(e, "dst")), dst) &&
		    !strcmp(json_string_value(json_object_get(e, "relation")), rel))
			return true;
	}
	return false;
}

static bool list_has(json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (!strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

/* task:p/a produced artifact A, consumed by task:p/b, which produced B,
 * consumed by task:p/c: a chain of five nodes. */
static void chain(struct tr_store *s)
{
	assert_int_equal(
	    link_edges(
		s,
		"[{\"src\":\"task:p/a\",\"dst\":\"artifact:" SHA_A "\",\"relation\":\"produced\"},"
		"{\"src\":\"artifact:" SHA_A "\",\"dst\":\"task:p/b\",\"relation\":\"consumed\"},"
		"{\"src\":\"task:p/b\",\"dst\":\"artifact:" SHA_B "\",\"relation\":\"produced\"},"
		"{\"src\":\"artifact:" SHA_B "\",\"dst\":\"task:p/c\",\"relation\":\"consumed\"},"
		"{\"src\":\"task:p/a\",\"dst\":\"pipeline_run:p\",\"relation\":\"part_of\"}]"),
	    TR_OK);
}

static void walks_follow_depth_and_direction(void **state)
{
	struct fixture *f = *state;
	chain(f->s);
	/* linking again changes nothing */
	chain(f->s);
	json_t *out = query(f->s, "task:p/c", "upstream", 1);
	assert_int_equal(json_array_size(json_object_get(out, "nodes")), 2);
	assert_true(has_node(out, "artifact:" SHA_B));
	assert_true(has_edge(out, "artifact:" SHA_B, "task:p/c", "consumed"));
	assert_false(json_is_true(json_object_get(out, "truncated")));
	json_decref(out);
	out = query(f->s, "task:p/c", "upstream", 4);
	assert_int_equal(json_array_size(json_object_get(out, "nodes")), 5);
	assert_true(has_node(out, "task:p/a"));
	assert_false(has_node(out, "pipeline_run:p")); /* downstream of a, not upstream of c */
	assert_int_equal(json_array_size(json_object_get(out, "edges")), 4);
	json_decref(out);
	out = query(f->s, "task:p/a", "downstream", 2);
	assert_int_equal(json_array_size(json_object_get(out, "nodes")), 4);
	assert_true(has_node(out, "task:p/b"));
	assert_true(has_node(out, "pipeline_run:p"));
	assert_false(has_node(out, "artifact:" SHA_B));
	json_decref(out);
	out = query(f->s, "artifact:" SHA_B, "both", 20);
	assert_int_equal(json_array_size(json_object_get(out, "nodes")), 5);
	assert_true(has_node(out, "task:p/a"));
	assert_true(has_node(out, "task:p/c"));
	json_decref(out);
	/* a node nothing links: itself only */
	out = query(f->s, "run:nothing", "both", 3);
	assert_int_equal(json_array_size(json_object_get(out, "nodes")), 1);
	assert_int_equal(json_array_size(json_object_get(out, "edges")), 0);
	assert_false(json_is_true(
	    json_object_get(json_array_get(json_object_get(out, "nodes"), 0), "exists")));
	json_decref(out);
}

static void cycles_end(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
	    link_edges(
		f->s,
		"[{\"src\":\"task:p/x\",\"dst\":\"artifact:" SHA_C "\",\"relation\":\"produced\"},"
		"{\"src\":\"artifact:" SHA_C "\",\"dst\":\"task:p/x\",\"relation\":\"consumed\"},"
		"{\"src\":\"task:p/x\",\"dst\":\"task:p/x\",\"relation\":\"tracked_as\"}]"),
	    TR_OK);
	const char *dirs[] = {"upstream", "downstream", "both"};
	for (int i = 0; i < 3; i++) {
		json_t *out = query(f->s, "task:p/x", dirs[i], 20);
		assert_int_equal(json_array_size(json_object_get(out, "nodes")), 2);
		assert_int_equal(json_array_size(json_object_get(out, "edges")), 3);
		json_decref(out);
	}
}

static void names_and_relations_are_checked(void **state)
{
	struct fixture *f = *state;
	char big[700];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "run:", 4);
	const char *bad_nodes[] = {"",	       "run",	   "run:",     "thing:1",	   ":x",
				   "run:a\tb", "run:a\nb", "run:\xc3", "run:\xed\xa0\x80", big};
	for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++) {
		if (i != 7 && i != 8) { /* JSON cannot carry bad UTF-8; the query can */
			json_t *body =
			    json_pack("{s:[{s:s,s:s,s:s}]}", "edges", "src", bad_nodes[i], "dst",
				      "run:ok", "relation", "consumed");
			char *text = json_dumps(body, 0);
			assert_int_equal(
			    write_json(f->s, tr_store_lineage_link, text, NULL, NULL, 0),
			    TR_ERR_INVALID_PARAMETER_VALUE);
			free(text);
			json_decref(body);
		}
		json_t *out = NULL;
		struct tr_buf err = TR_BUF_INIT;
		assert_int_equal(tr_store_lineage_query(f->s, bad_nodes[i], "both", 1, &out, &err),
				 TR_ERR_INVALID_PARAMETER_VALUE);
		assert_null(out);
		tr_buf_release(&err);
	}
	assert_int_equal(
	    link_edges(f->s, "[{\"src\":\"run:a\",\"dst\":\"run:b\",\"relation\":\"begat\"}]"),
	    TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(link_edges(f->s, "[{\"src\":\"run:a\",\"dst\":\"run:b\"}]"),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(link_edges(f->s, "[\"run:a\"]"), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(write_json(f->s, tr_store_lineage_link, "{}", NULL, NULL, 0),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	/* a bad edge fails the whole write: the good one before it is not kept */
	assert_int_equal(
	    link_edges(f->s, "[{\"src\":\"run:a\",\"dst\":\"run:b\",\"relation\":\"consumed\"},"
			     "{\"src\":\"run:a\",\"dst\":\"nope\",\"relation\":\"consumed\"}]"),
	    TR_ERR_INVALID_PARAMETER_VALUE);
	json_t *out = query(f->s, "run:a", "both", 1);
	assert_int_equal(json_array_size(json_object_get(out, "edges")), 0);
	json_decref(out);
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_lineage_query(f->s, "run:a", "both", 0, &out, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_store_lineage_query(f->s, "run:a", "both", 21, &out, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_store_lineage_query(f->s, "run:a", "sideways", 1, &out, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	tr_buf_release(&err);
}

static void record(struct tr_store *s, const char *path, const char *sha)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"path\":\"%s\",\"size\":7,\"sha256\":\"%s\"}", path, sha);
	assert_int_equal(write_json(s, tr_store_artifact_record, body, NULL, NULL, 0), TR_OK);
}

static void registry_version_reaches_run_and_files(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	char path[256], body[1024];
	snprintf(path, sizeof(path), "0/%s/artifacts/model/model.pkl", run);
	record(f->s, path, SHA_A);
	snprintf(path, sizeof(path), "0/%s/artifacts/data.csv", run);
	record(f->s, path, SHA_B);
	/* a dataset whose source is the stored CSV */
	snprintf(body, sizeof(body),
		 "{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"d\",\"digest\":"
		 "\"1a2b3c\",\"source_type\":\"http\",\"source\":\"{\\\"uri\\\": "
		 "\\\"mlflow-artifacts:/0/%s/artifacts/data.csv\\\"}\"}}]}",
		 run, run);
	char msg[256];
	assert_int_equal(write_json(f->s, tr_store_run_log_inputs, body, NULL, msg, sizeof(msg)),
			 TR_OK);
	assert_int_equal(
	    write_json(f->s, tr_store_registered_model_create, "{\"name\":\"m\"}", NULL, NULL, 0),
	    TR_OK);
	snprintf(body, sizeof(body), "{\"name\":\"m\",\"source\":\"runs:/%s/model\"}", run);
	assert_int_equal(
	    write_json(f->s, tr_store_model_version_create, body, NULL, msg, sizeof(msg)), TR_OK);
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_store_lineage_model_version(f->s, "m", "1", &out, &err), TR_OK);
	char node[128];
	snprintf(node, sizeof(node), "run:%s", run);
	assert_true(has_edge(out, node, "model_version:m/1", "registered_from"));
	assert_true(has_edge(out, "artifact:" SHA_A, "model_version:m/1", "registered_from"));
	assert_true(has_edge(out, "dataset:1a2b3c", node, "consumed"));
	assert_true(has_edge(out, "dataset:1a2b3c", "artifact:" SHA_B, "same_content"));
	assert_true(has_edge(out, node, "artifact:" SHA_B, "produced")); /* context */
	json_t *sum = json_object_get(out, "summary");
	assert_true(list_has(json_object_get(sum, "runs"), run));
	assert_true(list_has(json_object_get(sum, "artifacts"), SHA_A));
	assert_true(list_has(json_object_get(sum, "input_digests"), "1a2b3c"));
	json_t *art = NULL;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(out, "nodes"), i, n)
	{
		if (!strcmp(json_string_value(json_object_get(n, "id")), "artifact:" SHA_A))
			art = n;
		if (!strcmp(json_string_value(json_object_get(n, "id")), node))
			assert_string_equal(json_string_value(json_object_get(n, "status")),
					    "RUNNING");
	}
	assert_non_null(art);
	assert_int_equal(json_integer_value(json_object_get(art, "size")), 7);
	snprintf(path, sizeof(path), "0/%s/artifacts/model/model.pkl", run);
	assert_string_equal(json_string_value(json_array_get(json_object_get(art, "paths"), 0)),
			    path);
	json_decref(out);
	out = NULL;
	/* what used the data: by MLflow digest and by the file's SHA-256 */
	const char *digests[] = {"1a2b3c", SHA_B};
	for (int k = 0; k < 2; k++) {
		assert_int_equal(tr_store_lineage_dataset(f->s, digests[k], &out, &err), TR_OK);
		sum = json_object_get(out, "summary");
		assert_true(list_has(json_object_get(sum, "runs"), run));
		assert_true(list_has(json_object_get(sum, "model_versions"), "m/1"));
		json_decref(out);
		out = NULL;
	}
	assert_int_equal(tr_store_lineage_model_version(f->s, "m", "2", &out, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(tr_store_lineage_model_version(f->s, "m", "x", &out, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_null(out);
	tr_buf_release(&err);
	free(run);
}

static void logged_models_and_pipeline_outputs_link(void **state)
{
	struct fixture *f = *state;
	char *run = create_run(f->s, "0");
	char body[512];
	json_t *res = NULL;
	snprintf(body, sizeof(body), "{\"experiment_id\":\"0\",\"source_run_id\":\"%s\"}", run);
	assert_int_equal(write_json(f->s, tr_store_logged_model_create, body, &res, NULL, 0),
			 TR_OK);
	const char *mid = json_string_value(
	    json_object_get(json_object_get(json_object_get(res, "model"), "info"), "model_id"));
	assert_non_null(mid);
	char path[256], node[128], rnode[64];
	snprintf(path, sizeof(path), "0/models/%s/artifacts/model.pkl", mid);
	record(f->s, path, SHA_C);
	snprintf(node, sizeof(node), "logged_model:%s", mid);
	snprintf(rnode, sizeof(rnode), "run:%s", run);
	json_t *out = query(f->s, node, "both", 1);
	assert_true(has_edge(out, rnode, node, "logged_model"));
	assert_true(has_edge(out, node, "artifact:" SHA_C, "produced"));
	json_decref(out);
	json_decref(res);
	/* pipeline task outputs; a path that is not one links nothing */
	record(f->s, "pipelines/r1/outer/train/2/out/model/weights.bin", SHA_A);
	record(f->s, "pipelines/r1/notatask.txt", SHA_B);
	out = query(f->s, "artifact:" SHA_A, "upstream", 1);
	assert_true(has_edge(out, "task:r1/outer/train", "artifact:" SHA_A, "produced"));
	json_decref(out);
	out = query(f->s, "artifact:" SHA_B, "upstream", 1);
	assert_int_equal(json_array_size(json_object_get(out, "edges")), 0);
	json_decref(out);
	/* an artifact outside any run's folder links nothing either */
	record(f->s, "0/ffffffffffffffffffffffffffffffff/artifacts/x", SHA_B);
	out = query(f->s, "artifact:" SHA_B, "upstream", 1);
	assert_int_equal(json_array_size(json_object_get(out, "edges")), 0);
	json_decref(out);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(walks_follow_depth_and_direction, setup, teardown),
	    cmocka_unit_test_setup_teardown(cycles_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(names_and_relations_are_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(registry_version_reaches_run_and_files, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(logged_models_and_pipeline_outputs_link, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
