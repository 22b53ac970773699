/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resolver against real compiled pipelines (tests/pipeline/fixtures, made
 * by the official kfp SDK) and one hand-written file with every placeholder
 * form (tests/pipeline/resolve/placeholders.yaml): ExecutorInput JSON, argv,
 * the kfp install skip, output collection and its precedence, and end to end
 * the SDK's own executor (`python3 -m kfp.dsl.executor_main` from
 * .venv/kfp, made by scripts/install-deps.sh --test) running the argv we
 * produce. Run from the repository root (as `make unit` does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "pipeline/diag.h"
#include "pipeline/resolve.h"
#include "pipeline/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIXTURES   "tests/pipeline/fixtures/"
#define KFP_BIN	   ".venv/kfp/bin"
#define KFP_PYTHON KFP_BIN "/python3"

static const struct tr_run_values run = {
    .job_name = "params-and-artifacts-20260101",
    .job_resource_name = "runs/r1",
    .job_uuid = "r1",
    .task_name = "t",
    .task_uuid = "t1",
    .pipeline_root = "/tmp/root",
    .create_time_utc = "2026-01-01T00:00:00Z",
    .schedule_time_utc = "2026-01-01T00:00:00Z",
    .workspace_path = "/tmp/ws",
};

/* ---- helpers ---- */

static struct tr_pipeline_spec *load_ok(const char *path)
{
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	if (tr_pipeline_load_file(path, NULL, &s, &d)) {
		struct tr_buf b = TR_BUF_INIT;
		tr_diags_format(&d, &b);
		fail_msg("%s did not load:\n%s", path, tr_buf_str(&b));
	}
	tr_diags_release(&d);
	return s;
}

static const struct tr_pipeline_task *task(const struct tr_pipeline_spec *s, const char *name)
{
	const struct tr_pipeline_task *t =
	    tr_pipeline_dag_task_find(tr_pipeline_component_dag(tr_pipeline_root(s)), name);
	if (!t)
		fail_msg("no task '%s'", name);
	return t;
}

static const struct tr_pipeline_component *comp(const struct tr_pipeline_spec *s,
						const char *task_name)
{
	return tr_pipeline_task_component(task(s, task_name));
}

static const struct tr_pipeline_container *container(const struct tr_pipeline_component *c)
{
	const struct tr_pipeline_container *ct =
	    tr_pipeline_executor_container(tr_pipeline_component_executor(c));
	assert_non_null(ct);
	return ct;
}

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad test JSON (%s): %s", je.text, text);
	return v;
}

static void assert_json(json_t *got, const char *want_text)
{
	json_t *want = js(want_text);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("JSON differs\n got: %s\nwant: %s", g, w);
	}
	json_decref(want);
}

/* ExecutorInput for PARAMS/ARTIFACTS (JSON text, NULL for none); must succeed. */
static json_t *ei_ok(const struct tr_pipeline_component *c, const char *params,
		     const char *artifacts, const char *root)
{
	json_t *p = params ? js(params) : NULL, *a = artifacts ? js(artifacts) : NULL, *ei = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_resolve_executor_input(c, p, a, &run, root, &ei, &err))
		fail_msg("executor input of '%s': %s", tr_pipeline_component_name(c),
			 tr_buf_str(&err));
	json_decref(p);
	json_decref(a);
	tr_buf_release(&err);
	return ei;
}

/* The error message of a failing executor input (free with free()). */
static char *ei_fail(const struct tr_pipeline_component *c, const char *params,
		     const char *artifacts, const struct tr_run_values *rv)
{
	json_t *p = params ? js(params) : NULL, *a = artifacts ? js(artifacts) : NULL, *ei = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_resolve_executor_input(c, p, a, rv, "/tmp/x", &ei, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_null(ei);
	json_decref(p);
	json_decref(a);
	return tr_buf_detach(&err);
}

static void assert_contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s, part);
}

static char **argv_ok(const struct tr_pipeline_component *c, json_t *ei, size_t *argc)
{
	char **argv = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_resolve_argv(container(c), ei, &run, &argv, argc, &err))
		fail_msg("argv of '%s': %s", tr_pipeline_component_name(c), tr_buf_str(&err));
	tr_buf_release(&err);
	assert_null(argv[*argc]);
	return argv;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct tr_buf b = TR_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tr_buf_append(&b, chunk, n);
	fclose(f);
	tr_buf_grow(&b, 0);
	return tr_buf_detach(&b);
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *path_in(const char *dir, const char *name)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "%s/%s", dir, name);
	return tr_buf_detach(&b);
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/trellis-resolve-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return strdup(tmpl);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void rm_rf(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* ---- ExecutorInput ---- */

static void executor_input_shape(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "params_and_artifacts.yaml");
	json_t *ei = ei_ok(comp(s, "train"), "{\"learning_rate\": 0.1}",
			   "{\"data\": [{\"name\": \"data\", \"uri\": \"/r/make-data/data\","
			   " \"type\": {\"schemaTitle\": \"system.Dataset\", \"schemaVersion\":"
			   " \"0.0.1\"}, \"metadata\": {}}]}",
			   "/tmp/r/train/");
	assert_json(ei, "{\"inputs\": {\"parameterValues\": {\"learning_rate\": 0.1},"
			" \"artifacts\": {\"data\": {\"artifacts\": [{\"name\": \"data\", \"uri\":"
			" \"/r/make-data/data\", \"type\": {\"schemaTitle\": \"system.Dataset\","
			" \"schemaVersion\": \"0.0.1\"}, \"metadata\": {}}]}}},"
			" \"outputs\": {\"parameters\": {\"Output\": {\"outputFile\":"
			" \"/tmp/r/train/Output\"}}, \"artifacts\": {\"model\": {\"artifacts\":"
			" [{\"name\": \"model\", \"type\": {\"schemaTitle\": \"system.Model\","
			" \"schemaVersion\": \"0.0.1\"}, \"uri\": \"/tmp/r/train/model\","
			" \"metadata\": {}}]}}, \"outputFile\":"
			" \"/tmp/r/train/executor_output.json\"}}");
	json_decref(ei);

	/* an artifact bound as one object, without type or metadata: both filled in */
	ei = ei_ok(comp(s, "train"), "{\"learning_rate\": 1}", "{\"data\": {\"uri\": \"/d\"}}",
		   "/tmp/r/train");
	assert_json(json_object_get(json_object_get(ei, "inputs"), "artifacts"),
		    "{\"data\": {\"artifacts\": [{\"uri\": \"/d\", \"name\": \"data\", \"type\":"
		    " {\"schemaTitle\": \"system.Dataset\", \"schemaVersion\": \"0.0.1\"},"
		    " \"metadata\": {}}]}}");
	/* NUMBER_DOUBLE given an integer is a double, as protobuf carries it */
	assert_true(json_is_real(json_object_get(
	    json_object_get(json_object_get(ei, "inputs"), "parameterValues"), "learning_rate")));
	json_decref(ei);

	/* NUMBER_INTEGER: 5.0 (how the compiler writes int defaults) is the integer 5 */
	ei = ei_ok(comp(s, "make-data"), "{\"rows\": 5.0}", NULL, "/tmp/r/make-data");
	json_t *rows = json_object_get(
	    json_object_get(json_object_get(ei, "inputs"), "parameterValues"), "rows");
	assert_true(json_is_integer(rows));
	assert_int_equal(json_integer_value(rows), 5);
	size_t argc;
	char **argv = argv_ok(comp(s, "make-data"), ei, &argc);
	assert_int_equal(argc, 11);
	assert_string_equal(argv[7], "--executor_input");
	/* {{$}} is the compact JSON, in protobuf-JSON names */
	assert_string_equal(argv[8],
			    "{\"inputs\":{\"parameterValues\":{\"rows\":5},\"artifacts\":{}},"
			    "\"outputs\":{\"parameters\":{\"Output\":{\"outputFile\":"
			    "\"/tmp/r/make-data/Output\"}},\"artifacts\":{\"data\":{\"artifacts\":"
			    "[{\"name\":\"data\",\"type\":{\"schemaTitle\":\"system.Dataset\","
			    "\"schemaVersion\":\"0.0.1\"},\"uri\":\"/tmp/r/make-data/data\","
			    "\"metadata\":{}}]}},\"outputFile\":"
			    "\"/tmp/r/make-data/executor_output.json\"}}");
	assert_string_equal(argv[10], "make_data");
	tr_resolve_argv_free(argv);
	json_decref(ei);

	/* errors */
	char *msg = ei_fail(comp(s, "make-data"), "{}", NULL, &run);
	assert_string_equal(msg, "input 'rows' of 'comp-make-data' is required but has no value");
	free(msg);
	msg = ei_fail(comp(s, "make-data"), "{\"rows\": 2.5}", NULL, &run);
	assert_contains(msg, "input 'rows' of 'comp-make-data' is NUMBER_INTEGER");
	free(msg);
	msg = ei_fail(comp(s, "make-data"), "{\"rows\": \"5\"}", NULL, &run);
	assert_contains(msg, "is NUMBER_INTEGER but the value is a string");
	free(msg);
	msg = ei_fail(comp(s, "train"), "{\"learning_rate\": 0.1}", NULL, &run);
	assert_string_equal(msg,
			    "input artifact 'data' of 'comp-train' is required but has no value");
	free(msg);
	msg = ei_fail(comp(s, "train"), "{\"learning_rate\": 0.1}",
		      "{\"data\": [{\"uri\": \"/d\"}], \"nope\": []}", &run);
	assert_string_equal(msg, "'nope' is not an input artifact of 'comp-train'");
	free(msg);
	msg = ei_fail(comp(s, "train"), "{\"learning_rate\": 0.1}", "{\"data\": [{}]}", &run);
	assert_contains(msg, "has no uri");
	free(msg);
	json_t *e2 = NULL, *p1 = js("{\"rows\": 1}");
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_resolve_executor_input(comp(s, "make-data"), p1, NULL, &run,
						   "relative/root", &e2, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	json_decref(p1);
	assert_contains(tr_buf_str(&err), "not an absolute path");
	tr_buf_release(&err);
	tr_pipeline_spec_free(s);
}

/* Defaults, optional inputs left out, null as absent (importer.yaml). */
static void executor_input_optional(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "importer.yaml");
	/* optional_inputs(name, greeting="hello", suffix=None, data=None) */
	const struct tr_pipeline_component *c = comp(s, "optional-inputs-2");
	json_t *ei = ei_ok(c, "{\"name\": \"y\"}", NULL, "/tmp/r/o");
	assert_json(json_object_get(ei, "inputs"),
		    "{\"parameterValues\": {\"name\": \"y\", \"greeting\": \"hello\"},"
		    " \"artifacts\": {}}");
	json_decref(ei);
	/* null is absent: the default applies, an optional input stays out */
	ei = ei_ok(c, "{\"name\": \"y\", \"greeting\": null, \"suffix\": null}", "{\"data\": null}",
		   "/tmp/r/o");
	assert_json(json_object_get(ei, "inputs"),
		    "{\"parameterValues\": {\"name\": \"y\", \"greeting\": \"hello\"},"
		    " \"artifacts\": {}}");
	json_decref(ei);
	ei = ei_ok(c, "{\"name\": \"y\", \"suffix\": \"!\"}",
		   "{\"data\": [{\"name\": \"artifact\", \"uri\": \"/tmp/data.txt\", \"metadata\":"
		   " {\"source\": \"fixture\"}}]}",
		   "/tmp/r/o");
	assert_json(json_object_get(ei, "inputs"),
		    "{\"parameterValues\": {\"name\": \"y\", \"greeting\": \"hello\","
		    " \"suffix\": \"!\"}, \"artifacts\": {\"data\": {\"artifacts\": [{\"name\":"
		    " \"artifact\", \"uri\": \"/tmp/data.txt\", \"metadata\": {\"source\":"
		    " \"fixture\"}, \"type\": {\"schemaTitle\": \"system.Dataset\","
		    " \"schemaVersion\": \"0.0.1\"}}]}}}");
	json_decref(ei);
	tr_pipeline_spec_free(s);
}

/* F-strings resolve against the same task's values; run values in constants. */
static void executor_input_fstrings(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "params_and_artifacts.yaml");
	const struct tr_pipeline_task *t = task(s, "print-msg-2");
	const struct tr_pipeline_binding *b = tr_pipeline_task_binding_find(t, "msg", false);
	assert_non_null(b);
	assert_true(b->has_placeholders);
	json_t *p = json_pack("{s:O,s:f,s:i}", "msg", b->constant, "pipelinechannel--learning_rate",
			      0.1, "pipelinechannel--stats-total", 10);
	json_t *ei = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_resolve_executor_input(tr_pipeline_task_component(t), p, NULL, &run,
						   "/tmp/r/p", &ei, &err),
			 TR_OK);
	/* the injected pipelinechannel-- inputs stay, as the SDK's executor expects */
	assert_json(json_object_get(json_object_get(ei, "inputs"), "parameterValues"),
		    "{\"msg\": \"lr is 0.1 and total 10\", \"pipelinechannel--learning_rate\":"
		    " 0.1, \"pipelinechannel--stats-total\": 10}");
	json_decref(ei);
	json_decref(p);

	/* run values inside a constant, next to text */
	const struct tr_pipeline_component *c = tr_pipeline_task_component(t);
	ei = ei_ok(c,
		   "{\"msg\": \"{{$.pipeline_job_name}}/{{$.pipeline_task_name}}"
		   " {{$.pipeline_job_uuid}}:{{$.pipeline_task_uuid}}@{{$.pipeline_root}}\"}",
		   NULL, "/tmp/r/p");
	assert_json(json_object_get(json_object_get(ei, "inputs"), "parameterValues"),
		    "{\"msg\": \"params-and-artifacts-20260101/t r1:t1@/tmp/root\"}");
	json_decref(ei);
	/* a substituted value is never scanned again */
	ei = ei_ok(c, "{\"msg\": \"<{{$.inputs.parameters['x']}}>\", \"x\": \"{{$}}\"}", NULL,
		   "/tmp/r/p");
	assert_json(json_object_get(json_object_get(ei, "inputs"), "parameterValues"),
		    "{\"msg\": \"<{{$}}>\", \"x\": \"{{$}}\"}");
	json_decref(ei);

	char *msg = ei_fail(c, "{\"msg\": \"a {{$.inputs.parameters['pipelinechannel--gone']}}\"}",
			    NULL, &run);
	assert_string_equal(msg,
			    "placeholder '{{$.inputs.parameters['pipelinechannel--gone']}}' in "
			    "input 'msg': input parameter 'pipelinechannel--gone' has no "
			    "value (an optional input belongs inside IfPresent)");
	free(msg);
	struct tr_run_values partial = {.job_name = "j"};
	msg = ei_fail(c, "{\"msg\": \"{{$.pipeline_job_create_time_utc}}\"}", NULL, &partial);
	assert_string_equal(msg, "placeholder '{{$.pipeline_job_create_time_utc}}' in input 'msg': "
				 "run value 'pipeline_job_create_time_utc' is not set");
	free(msg);
	tr_buf_release(&err);
	tr_pipeline_spec_free(s);
}

/* ---- argv ---- */

static void argv_every_placeholder(void **state)
{
	struct tr_pipeline_spec *s = load_ok("tests/pipeline/resolve/placeholders.yaml");
	const struct tr_pipeline_component *c = comp(s, "all");
	json_t *ei = ei_ok(c, "{\"n\": 3}",
			   "{\"a\": [{\"name\": \"a\", \"uri\": \"/data/a.csv\", \"metadata\":"
			   " {\"rows\": 7, \"by\": \"me\"}}]}",
			   "/tmp/r/all");
	size_t argc;
	char **argv = argv_ok(c, ei, &argc);
	const char *want[] = {
	    "prog",
	    "s=x y",
	    "3",
	    "0.5",
	    "true",
	    "[1,2.5,\"a\"]",
	    "{\"k\":1}",
	    "/data/a.csv",
	    "/data/a.csv",
	    "{\"rows\":7,\"by\":\"me\"}",
	    "7",
	    ("[{\"name\":\"a\",\"uri\":\"/data/a.csv\",\"metadata\":{\"rows\":7,\"by\":\"me\"},"
	     "\"type\":{\"schemaTitle\":\"system.Dataset\",\"schemaVersion\":\"0.0.1\"}}]"),
	    "/tmp/r/all/o",
	    "/tmp/r/all/met",
	    "/tmp/r/all/met",
	    "{}",
	    "/tmp/r/all/executor_output.json",
	    "/tmp/r/all/executor_output.json",
	    "params-and-artifacts-20260101|r1|t|t1|/tmp/root",
	    "--n=3",
	    "--no-g",
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	assert_int_equal(argc, n + 1);
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[i], want[i]))
			fail_msg("argv[%zu] is '%s', want '%s'", i, argv[i], want[i]);
	json_t *back = js(argv[n]);
	assert_true(json_equal(back, ei));
	json_decref(back);
	tr_resolve_argv_free(argv);
	json_decref(ei);

	/* present: IfPresent takes Then, also inside Concat; a gs:// uri's path is
	 * its /gcs/ mount, as the SDK's Artifact.path gives it */
	ei = ei_ok(c, "{\"n\": 3, \"opt\": \"o\\\"k\", \"d\": 0.1, \"l\": [], \"b\": false}",
		   "{\"a\": [{\"uri\": \"/a\", \"metadata\": {\"rows\": \"r\"}}], \"g\":"
		   " [{\"uri\": \"gs://bucket/m\"}]}",
		   "/tmp/r/all");
	argv = argv_ok(c, ei, &argc);
	assert_string_equal(argv[3], "0.1");
	assert_string_equal(argv[4], "false");
	assert_string_equal(argv[5], "[]");
	assert_string_equal(argv[8], "/a");
	assert_string_equal(argv[9], "{\"rows\":\"r\"}");
	assert_string_equal(argv[10], "r");
	assert_string_equal(argv[19], "--n=3,opt=o\"k");
	assert_string_equal(argv[20], "--g");
	assert_string_equal(argv[21], "/gcs/bucket/m");
	assert_string_equal(argv[22], "--opt");
	assert_string_equal(argv[23], "o\"k");
	assert_int_equal(argc, 25);
	tr_resolve_argv_free(argv);
	json_decref(ei);

	/* a metadata key the artifact lacks, an optional input used bare */
	struct tr_buf err = TR_BUF_INIT;
	ei = ei_ok(c, "{\"n\": 3}", "{\"a\": [{\"uri\": \"/a\"}]}", "/tmp/r/all");
	argv = NULL;
	assert_int_equal(tr_resolve_argv(container(c), ei, &run, &argv, &argc, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_null(argv);
	assert_string_equal(tr_buf_str(&err),
			    "placeholder '{{$.inputs.artifacts['a'].metadata['rows']}}' in the "
			    "arguments: artifact 'a' has no metadata 'rows'");
	json_decref(ei);
	ei = ei_ok(c, "{\"n\": 3}", NULL, "/tmp/r/all");
	assert_int_equal(tr_resolve_argv(container(c), ei, &run, &argv, &argc, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_contains(tr_buf_str(&err), "input artifact 'a' is not present");
	json_decref(ei);
	c = comp(s, "bad");
	ei = ei_ok(c, "{}", NULL, "/tmp/r/bad");
	assert_int_equal(tr_resolve_argv(container(c), ei, &run, &argv, &argc, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_string_equal(tr_buf_str(&err),
			    "placeholder '{{$.inputs.parameters['opt']}}' in the command: input "
			    "parameter 'opt' has no value (an optional input belongs inside "
			    "IfPresent)");
	json_decref(ei);
	/* a run value the caller did not set */
	c = comp(s, "all");
	ei = ei_ok(c, "{\"n\": 3}", "{\"a\": [{\"uri\": \"/a\", \"metadata\": {\"rows\": 1}}]}",
		   "/tmp/r/all");
	struct tr_run_values partial = run;
	partial.pipeline_root = NULL;
	assert_int_equal(tr_resolve_argv(container(c), ei, &partial, &argv, &argc, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_contains(tr_buf_str(&err), "run value 'pipeline_root' is not set");
	json_decref(ei);
	tr_buf_release(&err);
	tr_pipeline_spec_free(s);
}

/* containers.yaml: output files, Concat, IfPresent with the input present,
 * absent and null. */
static void argv_containers(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "containers.yaml");
	const struct tr_pipeline_component *c = comp(s, "say");
	json_t *ei = ei_ok(c, "{\"text\": \"hello\"}", NULL, "/tmp/r/say");
	size_t argc;
	char **argv = argv_ok(c, ei, &argc);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[0], "sh");
	assert_string_equal(argv[1], "-c");
	assert_string_equal(argv[2], "mkdir -p \"$(dirname \"$1\")\" && echo \"$0\" > \"$1\"");
	assert_string_equal(argv[3], "hello");
	assert_string_equal(argv[4], "/tmp/r/say/out");
	tr_resolve_argv_free(argv);
	json_decref(ei);

	const char *data = "{\"data\": [{\"uri\": \"/tmp/r/make-data/data\"}]}";
	c = comp(s, "cat-file");
	ei = ei_ok(c, "{\"prefix\": \"p\"}", data, "/tmp/r/cat-file");
	argv = argv_ok(c, ei, &argc);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[2], "cat /tmp/r/make-data/data");
	assert_string_equal(argv[3], "--prefix");
	assert_string_equal(argv[4], "p");
	tr_resolve_argv_free(argv);
	json_decref(ei);
	const char *absent[] = {"{}", "{\"prefix\": null}"};
	for (size_t i = 0; i < 2; i++) {
		c = comp(s, "cat-file-2");
		ei = ei_ok(c, absent[i], data, "/tmp/r/cat-file-2");
		argv = argv_ok(c, ei, &argc);
		assert_int_equal(argc, 4);
		assert_string_equal(argv[2], "cat /tmp/r/make-data/data");
		assert_string_equal(argv[3], "--no-prefix");
		tr_resolve_argv_free(argv);
		json_decref(ei);
	}
	tr_pipeline_spec_free(s);
}

/* A Trellis YAML step lowers onto the same placeholders. */
static void argv_trellis(void **state)
{
	struct tr_pipeline_spec *s = load_ok("tests/pipeline/trellis/example.yaml");
	const struct tr_pipeline_task *t = task(s, "report");
	const struct tr_pipeline_component *c = tr_pipeline_task_component(t);
	json_t *p = json_object();
	for (size_t i = 0; i < tr_pipeline_task_n_bindings(t); i++) {
		const struct tr_pipeline_binding *b = tr_pipeline_task_binding(t, i);
		if (b->kind == TR_BIND_CONSTANT)
			json_object_set(p, b->name, b->constant);
		else
			json_object_set_new(p, b->name, json_integer(1200));
	}
	json_t *ei = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_resolve_executor_input(c, p, NULL, &run, "/tmp/r/report", &ei, &err))
		fail_msg("%s", tr_buf_str(&err));
	size_t argc;
	char **argv = argv_ok(c, ei, &argc);
	assert_string_equal(argv[0], "sh");
	assert_string_equal(argv[1], "-c");
	/* the values are arguments, never shell text */
	bool saw_count = false, saw_run = false;
	for (size_t i = 3; i < argc; i++) {
		saw_count |= !strcmp(argv[i], "1200");
		saw_run |= !strcmp(argv[i], "r1");
	}
	assert_true(saw_count);
	assert_true(saw_run);
	assert_false(tr_resolve_skip_kfp_install(argv, &argc));
	tr_resolve_argv_free(argv);
	json_decref(ei);
	json_decref(p);
	tr_buf_release(&err);
	tr_pipeline_spec_free(s);
}

static void resolve_string(void **state)
{
	json_t *p = js("{\"x\": 0.1, \"s\": \"a b\", \"i\": 3, \"l\": [true, null]}");
	struct tr_buf err = TR_BUF_INIT;
	char *out = NULL;
	assert_int_equal(
	    tr_resolve_string("{{$.pipeline_root}}/{{$.inputs.parameters['s']}}/"
			      "{{$.inputs.parameters['x']}}/{{$.inputs.parameters['i']}}/"
			      "{{$.inputs.parameters['l']}}/{{$.workspace_path}}",
			      p, &run, &out, &err),
	    TR_OK);
	assert_string_equal(out, "/tmp/root/a b/0.1/3/[true,null]//tmp/ws");
	free(out);
	assert_int_equal(tr_resolve_string("plain", NULL, NULL, &out, &err), TR_OK);
	assert_string_equal(out, "plain");
	free(out);
	/* doubles as Python writes them (kfp.local json.dumps) */
	static const struct {
		double d;
		const char *text;
	} dbl[] = {{1.0, "1.0"},
		   {0.1, "0.1"},
		   {1e-05, "1e-05"},
		   {0.0001, "0.0001"},
		   {1e16, "1e+16"},
		   {1e15, "1000000000000000.0"},
		   {-2.5, "-2.5"},
		   {123.456, "123.456"},
		   {1.5e300, "1.5e+300"},
		   {-0.0, "-0.0"},
		   {1.0 / 3, "0.3333333333333333"},
		   {2e-7, "2e-07"},
		   {12345678.9, "12345678.9"}};
	for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
		json_object_set_new(p, "x", json_real(dbl[i].d));
		assert_int_equal(
		    tr_resolve_string("{{$.inputs.parameters['x']}}", p, &run, &out, &err), TR_OK);
		if (strcmp(out, dbl[i].text))
			fail_msg("%.17g is '%s', want '%s'", dbl[i].d, out, dbl[i].text);
		free(out);
	}
	const char *bad[][2] = {
	    {"{{$}}", "placeholder '{{$}}' in the string: the executor input is not available "
		      "there"},
	    {"{{$.outputs.output_file}}", "there is no executor output file outside a task"},
	    {"{{$.inputs.parameters['nope']}}", "input parameter 'nope' has no value"},
	    {"{{$.nonsense}}", "unknown placeholder '{{$.nonsense}}' in the string"},
	    {"{{$.inputs.artifacts['a'].uri}}", "input artifact 'a' is not present"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = NULL;
		assert_int_equal(tr_resolve_string(bad[i][0], p, &run, &out, &err),
				 TR_ERR_INVALID_PARAMETER_VALUE);
		assert_null(out);
		assert_contains(tr_buf_str(&err), bad[i][1]);
	}
	json_decref(p);
	tr_buf_release(&err);
}

/* ---- the kfp install ---- */

static char **argv_of(const struct tr_pipeline_spec *s, const char *task_name, size_t *argc)
{
	const struct tr_pipeline_component *c = comp(s, task_name);
	json_t *ei = ei_ok(c, "{\"x\": 1}", NULL, "/tmp/r/x");
	char **argv = argv_ok(c, ei, argc);
	json_decref(ei);
	return argv;
}

#define ENSUREPIP                                                                                  \
	"\nif ! [ -x \"$(command -v pip)\" ]; then\n    python3 -m ensurepip || python3 -m "       \
	"ensurepip --user || apt-get install python3-pip\nfi\n\nPIP_DISABLE_PIP_VERSION_CHECK=1 "

static void skip_kfp_install(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "packages.yaml");
	size_t argc;
	char **argv;
	/* kfp only (in a venv): the whole prefix goes, argv starts at sh -ec */
	argv = argv_of(s, "in-venv", &argc);
	assert_int_equal(argc, 11);
	assert_true(tr_resolve_skip_kfp_install(argv, &argc));
	assert_int_equal(argc, 8);
	assert_string_equal(argv[0], "sh");
	assert_string_equal(argv[1], "-ec");
	assert_non_null(strstr(argv[2], "kfp.dsl.executor_main"));
	assert_string_equal(argv[4], "--executor_input");
	assert_int_equal(argv[5][0], '{');
	assert_string_equal(argv[6], "--function_to_execute");
	assert_string_equal(argv[7], "in_venv");
	assert_null(argv[8]);
	assert_false(tr_resolve_skip_kfp_install(argv, &argc)); /* nothing left to drop */
	tr_resolve_argv_free(argv);

	/* user packages stay; the kfp install (and its venv) goes */
	static const struct {
		const char *task, *script;
	} keep[] = {
	    {"with-packages", ENSUREPIP "python3 -m pip install --quiet --no-warn-script-location "
					"'six==1.16.0' && \"$0\" \"$@\"\n"},
	    {"with-index", ENSUREPIP "python3 -m pip install --quiet --no-warn-script-location "
				     "--index-url https://pypi.org/simple --trusted-host "
				     "https://pypi.org/simple 'six' && \"$0\" \"$@\"\n"},
	    {"in-venv-with-packages", ENSUREPIP "python3 -m pip install --quiet "
						"--no-warn-script-location 'six' && \"$0\" "
						"\"$@\"\n"},
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		argv = argv_of(s, keep[i].task, &argc);
		assert_true(tr_resolve_skip_kfp_install(argv, &argc));
		assert_int_equal(argc, 11);
		assert_string_equal(argv[2], keep[i].script);
		assert_string_equal(argv[3], "sh");
		assert_false(tr_resolve_skip_kfp_install(argv, &argc));
		tr_resolve_argv_free(argv);
	}
	/* install_kfp_package=False: no prefix at all */
	argv = argv_of(s, "without-kfp", &argc);
	assert_int_equal(argc, 8);
	assert_false(tr_resolve_skip_kfp_install(argv, &argc));
	tr_resolve_argv_free(argv);
	tr_pipeline_spec_free(s);

	/* a container's own `sh -c` is never touched */
	s = load_ok(FIXTURES "containers.yaml");
	json_t *ei = ei_ok(comp(s, "say"), "{\"text\": \"hi\"}", NULL, "/tmp/r/say");
	argv = argv_ok(comp(s, "say"), ei, &argc);
	assert_false(tr_resolve_skip_kfp_install(argv, &argc));
	assert_int_equal(argc, 5);
	tr_resolve_argv_free(argv);
	json_decref(ei);
	tr_pipeline_spec_free(s);
}

/* ---- outputs ---- */

static json_t *collect_ok(const struct tr_pipeline_component *c, json_t *ei)
{
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_resolve_collect_outputs(c, ei, &out, &err))
		fail_msg("outputs of '%s': %s", tr_pipeline_component_name(c), tr_buf_str(&err));
	tr_buf_release(&err);
	return out;
}

static char *collect_fail(const struct tr_pipeline_component *c, json_t *ei)
{
	json_t *out = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_not_equal(tr_resolve_collect_outputs(c, ei, &out, &err), TR_OK);
	assert_null(out);
	return tr_buf_detach(&err);
}

static void collect_precedence(void **state)
{
	struct tr_pipeline_spec *s = load_ok("tests/pipeline/resolve/placeholders.yaml");
	const struct tr_pipeline_component *c = comp(s, "outs");
	char *root = make_tmpdir();
	json_t *ei = ei_ok(c, NULL, NULL, root);
	char *eo = path_in(root, "executor_output.json");
	char *art = path_in(root, "art");
	const char *names[] = {"i", "f", "b", "s", "l", "m"};
	char *files[6];
	for (size_t i = 0; i < 6; i++)
		files[i] = path_in(root, names[i]);

	/* nothing written at all: the first declared output is missing */
	char *msg = collect_fail(c, ei);
	assert_contains(msg, "output 'i' of 'comp-outs' has no value");
	free(msg);

	/* files only, typed by outputDefinitions */
	spit(files[0], "42\n");
	spit(files[1], "2");
	spit(files[2], "True");
	spit(files[3], "hello\n");
	spit(files[4], "[1, \"a\"]");
	spit(files[5], "{\"k\": [1]}");
	json_t *out = collect_ok(c, ei);
	json_t *pv = json_object_get(out, "parameters");
	assert_true(json_is_integer(json_object_get(pv, "i")));
	assert_int_equal(json_integer_value(json_object_get(pv, "i")), 42);
	assert_true(json_is_real(json_object_get(pv, "f")));
	assert_true(json_is_true(json_object_get(pv, "b")));
	assert_string_equal(json_string_value(json_object_get(pv, "s")), "hello\n");
	assert_json(json_object_get(pv, "l"), "[1, \"a\"]");
	assert_json(json_object_get(pv, "m"), "{\"k\": [1]}");
	json_t *a0 = json_array_get(json_object_get(json_object_get(out, "artifacts"), "art"), 0);
	assert_string_equal(json_string_value(json_object_get(a0, "uri")), art);
	assert_json(json_object_get(a0, "metadata"), "{}");
	json_decref(out);

	/* executor_output.json wins over a file; files fill the keys it lacks;
	 * integers that protobuf made doubles are integers again; artifact
	 * metadata, uri and custom path come from it */
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b,
		       "{\"parameterValues\": {\"i\": 7.0, \"s\": \"from eo\", \"extra\": 1},"
		       " \"artifacts\": {\"art\": {\"artifacts\": [{\"name\": \"art\", \"uri\":"
		       " \"%s/elsewhere\", \"metadata\": {\"accuracy\": 0.9}, \"custom_path\":"
		       " \"/cp\"}]}}}",
		       root);
	spit(eo, tr_buf_str(&b));
	out = collect_ok(c, ei);
	pv = json_object_get(out, "parameters");
	assert_true(json_is_integer(json_object_get(pv, "i")));
	assert_int_equal(json_integer_value(json_object_get(pv, "i")), 7);
	assert_string_equal(json_string_value(json_object_get(pv, "s")), "from eo");
	assert_true(json_is_true(json_object_get(pv, "b"))); /* from its file */
	assert_null(json_object_get(pv, "extra"));	     /* undeclared: ignored */
	a0 = json_array_get(json_object_get(json_object_get(out, "artifacts"), "art"), 0);
	assert_json(json_object_get(a0, "metadata"), "{\"accuracy\": 0.9}");
	assert_string_equal(json_string_value(json_object_get(a0, "customPath")), "/cp");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(a0, "type"), "schemaTitle")),
	    "system.Metrics");
	tr_buf_reset(&b);
	tr_buf_appendf(&b, "%s/elsewhere", root);
	assert_string_equal(json_string_value(json_object_get(a0, "uri")), tr_buf_str(&b));
	json_decref(out);

	/* a declared output in neither place */
	remove(files[2]);
	msg = collect_fail(c, ei);
	assert_contains(msg, "output 'b' of 'comp-outs' has no value");
	free(msg);
	/* bad values */
	spit(files[2], "yes");
	msg = collect_fail(c, ei);
	assert_contains(msg, "holds neither true nor false");
	free(msg);
	spit(files[2], "false");
	spit(files[1], "not json");
	msg = collect_fail(c, ei);
	assert_contains(msg, "output 'f': ");
	assert_contains(msg, "is not valid JSON for NUMBER_DOUBLE");
	free(msg);
	spit(files[1], "1.5");
	spit(eo, "{\"parameterValues\": {\"i\": 7.5}}");
	msg = collect_fail(c, ei);
	assert_contains(msg, "output 'i' of 'comp-outs' is NUMBER_INTEGER but the value is the "
			     "non-integral double");
	free(msg);
	spit(eo, "{\"parameterValues\": {\"l\": \"x\"}}");
	spit(files[0], "1");
	msg = collect_fail(c, ei);
	assert_string_equal(msg, "output 'l' of 'comp-outs' is LIST but the value is a string");
	free(msg);
	spit(eo, "[1]");
	msg = collect_fail(c, ei);
	assert_contains(msg, "is not a JSON object");
	free(msg);
	spit(eo, "{");
	msg = collect_fail(c, ei);
	assert_contains(msg, "is not a JSON object: ");
	free(msg);
	spit(eo, "{}");
	out = collect_ok(c, ei);
	assert_false(json_is_true(json_object_get(json_object_get(out, "parameters"), "b")));
	json_decref(out);

	tr_buf_release(&b);
	for (size_t i = 0; i < 6; i++)
		free(files[i]);
	free(art);
	free(eo);
	json_decref(ei);
	rm_rf(root);
	tr_pipeline_spec_free(s);
}

/* ---- end to end: the SDK's executor runs our argv ---- */

/* Runs ARGV with PATH_PREFIX first in $PATH, stdout and stderr into
 * LOG and TMPDIR set to TMPDIR; returns the exit status (-1 on a signal or a 120 s timeout). */
static int run_step(char **argv, const char *path_prefix, const char *tmpdir, const char *log)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		/* the SDK's script writes the component to $(mktemp -d): keep it
		 * in the task root, which the test removes */
		setenv("TMPDIR", tmpdir, 1);
		if (path_prefix) {
			const char *old = getenv("PATH");
			struct tr_buf p = TR_BUF_INIT;
			tr_buf_appendf(&p, "%s:%s", path_prefix, old ? old : "/usr/bin:/bin");
			setenv("PATH", tr_buf_str(&p), 1);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
		if (waited > 12000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct step {
	char *root;
	json_t *ei;
	json_t *outputs;
	char *log;
};

/* Resolves, runs and collects one task of S under BASE/<task>. */
static void run_task(const struct tr_pipeline_spec *s, const char *task_name, json_t *params,
		     json_t *artifacts, const char *base, const char *path_prefix, struct step *st)
{
	const struct tr_pipeline_component *c = comp(s, task_name);
	struct tr_buf err = TR_BUF_INIT;
	st->root = path_in(base, task_name);
	assert_int_equal(mkdir(st->root, 0755), 0);
	st->log = path_in(st->root, "log.txt");
	if (tr_resolve_executor_input(c, params, artifacts, &run, st->root, &st->ei, &err))
		fail_msg("%s: %s", task_name, tr_buf_str(&err));
	char **argv;
	size_t argc;
	if (tr_resolve_argv(container(c), st->ei, &run, &argv, &argc, &err))
		fail_msg("%s: %s", task_name, tr_buf_str(&err));
	if (!strcmp(argv[0], "sh") && !strcmp(argv[1], "-c") && strstr(argv[2], "'kfp=="))
		assert_true(tr_resolve_skip_kfp_install(argv, &argc));
	int rc = run_step(argv, path_prefix, st->root, st->log);
	if (rc != 0) {
		char *log = slurp(st->log);
		fail_msg("task '%s' exited with %d:\n%s", task_name, rc, log ? log : "");
	}
	tr_resolve_argv_free(argv);
	if (tr_resolve_collect_outputs(c, st->ei, &st->outputs, &err))
		fail_msg("%s: %s", task_name, tr_buf_str(&err));
	tr_buf_release(&err);
}

static void step_release(struct step *st)
{
	json_decref(st->ei);
	json_decref(st->outputs);
	free(st->root);
	free(st->log);
}

static json_t *out_param(const struct step *st, const char *name)
{
	json_t *v = json_object_get(json_object_get(st->outputs, "parameters"), name);
	if (!v)
		fail_msg("no output '%s'", name);
	return v;
}

/* The venv's bin directory, absolute (not the interpreter's resolved
 * symlink: python3 must start from the venv to see its packages). */
static char *venv_bin(void)
{
	char path[PATH_MAX];
	if (access(KFP_PYTHON, X_OK) || !realpath(KFP_BIN, path))
		return NULL;
	return strdup(path);
}

static void end_to_end_python(void **state)
{
	char *bin = venv_bin();
	if (!bin) {
		print_message("SKIP: no %s (scripts/install-deps.sh --test creates it); the "
			      "end-to-end run of the kfp SDK's executor is skipped\n",
			      KFP_PYTHON);
		skip();
	}
	struct tr_pipeline_spec *s = load_ok(FIXTURES "params_and_artifacts.yaml");
	char *base = make_tmpdir();
	struct step md = {0}, tr = {0}, st = {0}, pm = {0};

	/* make_data(rows) -> int, Output[Dataset] */
	json_t *p = js("{\"rows\": 3}");
	run_task(s, "make-data", p, NULL, base, bin, &md);
	json_decref(p);
	json_t *v = out_param(&md, "Output");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 3);
	json_t *data = json_object_get(json_object_get(md.outputs, "artifacts"), "data");
	const char *data_uri = json_string_value(json_object_get(json_array_get(data, 0), "uri"));
	char *want_uri = path_in(md.root, "data");
	assert_string_equal(data_uri, want_uri);
	char *text = slurp(data_uri);
	assert_non_null(text);
	assert_string_equal(text, "0\n1\n2\n");
	free(text);
	free(want_uri);

	/* train(Input[Dataset], float) -> float, Output[Model], the artifact
	 * passed on exactly as collected */
	p = json_pack("{s:f}", "learning_rate", 0.5);
	json_t *a = json_pack("{s:O}", "data", data);
	run_task(s, "train", p, a, base, bin, &tr);
	json_decref(p);
	json_decref(a);
	v = out_param(&tr, "Output");
	assert_true(json_is_real(v));
	assert_true(json_real_value(v) == 1.5);
	const char *model = json_string_value(json_object_get(
	    json_array_get(json_object_get(json_object_get(tr.outputs, "artifacts"), "model"), 0),
	    "uri"));
	text = slurp(model);
	assert_non_null(text);
	assert_string_equal(text, "lr=0.5 n=3\n");
	free(text);

	/* stats(int) -> NamedTuple(total: int, label: str), fed the collected int */
	p = json_pack("{s:O}", "x", out_param(&md, "Output"));
	run_task(s, "stats", p, NULL, base, bin, &st);
	json_decref(p);
	v = out_param(&st, "total");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 6);
	assert_string_equal(json_string_value(out_param(&st, "label")), "x3");

	/* print_msg(f"lr is {learning_rate} and total {stats.total}") */
	const struct tr_pipeline_binding *b =
	    tr_pipeline_task_binding_find(task(s, "print-msg-2"), "msg", false);
	p = json_pack("{s:O,s:f,s:O}", "msg", b->constant, "pipelinechannel--learning_rate", 0.5,
		      "pipelinechannel--stats-total", out_param(&st, "total"));
	run_task(s, "print-msg-2", p, NULL, base, bin, &pm);
	json_decref(p);
	text = slurp(pm.log);
	assert_non_null(text);
	assert_contains(text, "lr is 0.5 and total 6\n");
	free(text);
	assert_json(pm.outputs, "{\"parameters\": {}, \"artifacts\": {}}");

	step_release(&md);
	step_release(&tr);
	step_release(&st);
	step_release(&pm);
	rm_rf(base);
	free(bin);
	tr_pipeline_spec_free(s);
}

/* Optional inputs through the SDK's executor: a default, a left-out None, an
 * optional artifact present (importer.yaml's optional_inputs). */
static void end_to_end_optional(void **state)
{
	char *bin = venv_bin();
	if (!bin) {
		print_message("SKIP: no %s\n", KFP_PYTHON);
		skip();
	}
	struct tr_pipeline_spec *s = load_ok(FIXTURES "importer.yaml");
	char *base = make_tmpdir();
	char *data = path_in(base, "data.txt");
	spit(data, "x");
	struct step a = {0}, b = {0};
	json_t *p = js("{\"name\": \"y\"}");
	run_task(s, "optional-inputs-2", p, NULL, base, bin, &a);
	assert_string_equal(json_string_value(out_param(&a, "Output")), "hello y");
	json_decref(p);
	p = js("{\"name\": \"x\", \"suffix\": \"!\"}");
	json_t *art = json_pack("{s:[{s:s,s:s}]}", "data", "name", "artifact", "uri", data);
	run_task(s, "optional-inputs", p, art, base, bin, &b);
	assert_string_equal(json_string_value(out_param(&b, "Output")), "hello x! +data");
	json_decref(p);
	json_decref(art);
	step_release(&a);
	step_release(&b);
	free(data);
	rm_rf(base);
	free(bin);
	tr_pipeline_spec_free(s);
}

/* A container component writing its output file (containers.yaml), then
 * Concat + IfPresent reading the artifact. Needs only sh. */
static void end_to_end_container(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "containers.yaml");
	char *base = make_tmpdir();
	struct step say = {0}, cat = {0};
	json_t *p = js("{\"text\": \"hello world\"}");
	run_task(s, "say", p, NULL, base, NULL, &say);
	json_decref(p);
	/* a STRING output file is read raw, as KFP reads it: echo's newline stays */
	assert_string_equal(json_string_value(out_param(&say, "out")), "hello world\n");

	char *data = path_in(base, "data.txt");
	spit(data, "line 1\nline 2\n");
	p = json_pack("{s:O}", "prefix", out_param(&say, "out"));
	json_t *art = json_pack("{s:[{s:s,s:s}]}", "data", "name", "data", "uri", data);
	run_task(s, "cat-file", p, art, base, NULL, &cat);
	char *log = slurp(cat.log);
	assert_string_equal(log, "line 1\nline 2\n");
	free(log);
	assert_json(cat.outputs, "{\"parameters\": {}, \"artifacts\": {}}");
	json_decref(p);
	json_decref(art);
	step_release(&say);
	step_release(&cat);
	free(data);
	rm_rf(base);
	tr_pipeline_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(executor_input_shape),    cmocka_unit_test(executor_input_optional),
	    cmocka_unit_test(executor_input_fstrings), cmocka_unit_test(argv_every_placeholder),
	    cmocka_unit_test(argv_containers),	       cmocka_unit_test(argv_trellis),
	    cmocka_unit_test(resolve_string),	       cmocka_unit_test(skip_kfp_install),
	    cmocka_unit_test(collect_precedence),      cmocka_unit_test(end_to_end_python),
	    cmocka_unit_test(end_to_end_optional),     cmocka_unit_test(end_to_end_container),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
