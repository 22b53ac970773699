/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline model and its loaders: real KFP-compiled fixtures
 * (tests/pipeline/fixtures, made by the official kfp SDK), Trellis YAML,
 * golden validation errors, the loader limits, and the CEL subset.
 * Run from the repository root (as `make unit` does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "pipeline/cel.h"
#include "pipeline/diag.h"
#include "pipeline/graph.h"
#include "pipeline/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/pipeline/fixtures/"

static struct tr_pipeline_spec *load_ok(const char *path)
{
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	enum tr_err rc = tr_pipeline_load_file(path, NULL, &s, &d);
	if (rc) {
		struct tr_buf b = TR_BUF_INIT;
		tr_diags_format(&d, &b);
		fail_msg("%s did not load:\n%s", path, tr_buf_str(&b));
	}
	assert_int_equal(d.errors, 0);
	tr_diags_release(&d);
	return s;
}

/* Loads YAML text expecting failure; returns the formatted diagnostics
 * (free with free()). */
static char *load_bad(const char *yaml, const struct tr_pipeline_limits *lim)
{
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = "t.yaml";
	struct tr_pipeline_spec *s = NULL;
	enum tr_err rc = tr_pipeline_load_buf(yaml, strlen(yaml), lim, &s, &d);
	assert_int_not_equal(rc, TR_OK);
	assert_null(s);
	assert_true(d.errors > 0);
	struct tr_buf b = TR_BUF_INIT;
	tr_diags_format(&d, &b);
	tr_diags_release(&d);
	return tr_buf_detach(&b);
}

static const struct tr_pipeline_dag *root_dag(const struct tr_pipeline_spec *s)
{
	return tr_pipeline_component_dag(tr_pipeline_root(s));
}

static const struct tr_pipeline_task *task(const struct tr_pipeline_dag *d, const char *name)
{
	const struct tr_pipeline_task *t = tr_pipeline_dag_task_find(d, name);
	if (!t)
		fail_msg("no task '%s'", name);
	return t;
}

static const struct tr_pipeline_dag *sub_dag(const struct tr_pipeline_spec *s, const char *comp)
{
	const struct tr_pipeline_component *c = tr_pipeline_component_find(s, comp);
	assert_non_null(c);
	assert_non_null(tr_pipeline_component_dag(c));
	return tr_pipeline_component_dag(c);
}

/* Every task comes after its dependencies. */
static void assert_topological(const struct tr_pipeline_dag *d)
{
	for (size_t i = 0; i < tr_pipeline_dag_n_tasks(d); i++) {
		const struct tr_pipeline_task *t = tr_pipeline_dag_task(d, i);
		assert_int_equal(tr_pipeline_task_index(t), i);
		for (size_t j = 0; j < tr_pipeline_task_n_deps(t); j++)
			assert_true(tr_pipeline_task_dep(t, j) < i);
		const struct tr_pipeline_dag *sub =
		    tr_pipeline_component_dag(tr_pipeline_task_component(t));
		if (sub)
			assert_topological(sub);
	}
}

static bool depends_on(const struct tr_pipeline_dag *d, const char *a, const char *b)
{
	const struct tr_pipeline_task *t = task(d, a), *p = task(d, b);
	for (size_t j = 0; j < tr_pipeline_task_n_deps(t); j++)
		if (tr_pipeline_task_dep(t, j) == tr_pipeline_task_index(p))
			return true;
	return false;
}

static bool cond_eval(const struct tr_pipeline_task *t, const char *ctx_json)
{
	json_t *ctx = json_loads(ctx_json, 0, NULL);
	assert_non_null(ctx);
	struct tr_buf err = TR_BUF_INIT;
	bool v = false;
	if (tr_cel_eval_bool(tr_pipeline_task_condition(t), ctx, &v, &err))
		fail_msg("condition of '%s': %s", tr_pipeline_task_name(t), tr_buf_str(&err));
	json_decref(ctx);
	tr_buf_release(&err);
	return v;
}

/* ---- KFP fixtures ---- */

static void kfp_params_and_artifacts(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "params_and_artifacts.yaml");
	assert_int_equal(tr_pipeline_format(s), TR_PIPELINE_KFP);
	assert_string_equal(tr_pipeline_name(s), "params-and-artifacts");
	assert_string_equal(tr_pipeline_schema_version(s), "2.1.0");
	assert_string_equal(tr_pipeline_sdk_version(s), "kfp-2.17.3");
	const struct tr_pipeline_component *root = tr_pipeline_root(s);
	const struct tr_pipeline_io *rows = tr_pipeline_component_input_find(root, "rows");
	assert_int_equal(rows->type, TR_PARAM_INT);
	assert_true(rows->optional);
	assert_int_equal((int)json_number_value(rows->default_value), 5);
	assert_int_equal(tr_pipeline_component_input_find(root, "learning_rate")->type,
			 TR_PARAM_DOUBLE);
	const struct tr_pipeline_dag *d = root_dag(s);
	assert_int_equal(tr_pipeline_dag_n_tasks(d), 5);
	assert_topological(d);
	assert_true(depends_on(d, "train", "make-data"));
	assert_true(depends_on(d, "print-msg", "train")); /* .after() */
	assert_true(depends_on(d, "print-msg", "stats"));
	const struct tr_pipeline_binding *b =
	    tr_pipeline_task_binding_find(task(d, "train"), "data", true);
	assert_non_null(b);
	assert_int_equal(b->kind, TR_BIND_TASK_OUTPUT);
	assert_string_equal(b->producer, "make-data");
	assert_string_equal(b->output_key, "data");
	/* the artifact types along the edge */
	const struct tr_pipeline_component *train = tr_pipeline_task_component(task(d, "train"));
	assert_string_equal(tr_pipeline_component_input_find(train, "data")->schema_title,
			    "system.Dataset");
	assert_string_equal(tr_pipeline_component_output_find(train, "model")->schema_title,
			    "system.Model");
	/* an f-string: a constant with placeholders plus an undeclared channel input */
	const struct tr_pipeline_task *fs = task(d, "print-msg-2");
	b = tr_pipeline_task_binding_find(fs, "msg", false);
	assert_int_equal(b->kind, TR_BIND_CONSTANT);
	assert_true(b->has_placeholders);
	assert_non_null(strstr(json_string_value(b->constant),
			       "{{$.inputs.parameters['pipelinechannel--learning_rate']}}"));
	assert_non_null(tr_pipeline_task_binding_find(fs, "pipelinechannel--learning_rate", false));
	/* NamedTuple outputs */
	const struct tr_pipeline_component *st = tr_pipeline_task_component(task(d, "stats"));
	assert_int_equal(tr_pipeline_component_output_find(st, "total")->type, TR_PARAM_INT);
	assert_int_equal(tr_pipeline_component_output_find(st, "label")->type, TR_PARAM_STRING);
	/* the lightweight python executor, kept raw */
	const struct tr_pipeline_container *c =
	    tr_pipeline_executor_container(tr_pipeline_component_executor(train));
	assert_string_equal(c->image, "python:3.11");
	assert_int_equal(c->n_command, 7); /* sh -c INSTALL sh -ec LOADER SOURCE */
	assert_string_equal(c->command[0].text, "sh");
	assert_string_equal(c->args[1].text, "{{$}}");
	assert_true(tr_pipeline_task_cache_enabled(task(d, "train")));
	tr_pipeline_spec_free(s);
}

static void kfp_conditions(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "conditions.yaml");
	const struct tr_pipeline_dag *d = root_dag(s);
	assert_topological(d);
	assert_false(tr_pipeline_task_cache_enabled(task(d, "flip-coin")));
	const struct tr_pipeline_dag *br = sub_dag(s, "comp-condition-branches-1");
	const struct tr_pipeline_task *heads = task(br, "condition-5");
	const struct tr_pipeline_task *elif = task(br, "condition-6");
	const struct tr_pipeline_task *els = task(br, "condition-7");
	const char *h = "{\"inputs\":{\"parameter_values\":{\"pipelinechannel--flip-coin-Output\":"
			"\"heads\",\"pipelinechannel--seed\":1}}}";
	const char *t = "{\"inputs\":{\"parameter_values\":{\"pipelinechannel--flip-coin-Output\":"
			"\"tails\"}}}";
	const char *e = "{\"inputs\":{\"parameter_values\":{\"pipelinechannel--flip-coin-Output\":"
			"\"edge\"}}}";
	assert_true(cond_eval(heads, h));
	assert_false(cond_eval(elif, h));
	assert_false(cond_eval(els, h));
	assert_false(cond_eval(heads, t));
	assert_true(cond_eval(elif, t));
	assert_true(cond_eval(els, e));
	/* int() around a NUMBER_INTEGER channel, which arrives as a double */
	const struct tr_pipeline_dag *br2 = sub_dag(s, "comp-condition-branches-2");
	const char *big =
	    "{\"inputs\":{\"parameter_values\":{\"pipelinechannel--square-Output\":9.0}}}";
	assert_true(cond_eval(task(br2, "condition-3"), big));
	assert_false(cond_eval(task(br2, "condition-4"), big));
	/* a pipeline parameter compared with a double literal */
	assert_true(
	    cond_eval(task(d, "condition-8"),
		      "{\"inputs\":{\"parameter_values\":{\"pipelinechannel--threshold\":0.5}}}"));
	tr_pipeline_spec_free(s);
}

static void kfp_loops(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "loops.yaml");
	const struct tr_pipeline_dag *d = root_dag(s);
	assert_topological(d);
	const struct tr_pipeline_iterator *it = tr_pipeline_task_iterator(task(d, "for-loop-2"));
	assert_int_equal(it->kind, TR_ITER_PARAMETER);
	assert_int_equal(json_array_size(it->raw_items), 3);
	assert_int_equal(it->parallelism, 2);
	assert_string_equal(it->item_input, "pipelinechannel--loop-item-param-1");
	it = tr_pipeline_task_iterator(task(d, "for-loop-3"));
	assert_null(it->raw_items);
	assert_string_equal(it->items_input, "pipelinechannel--make-list-Output");
	assert_int_equal(it->parallelism, 1);
	assert_true(depends_on(d, "for-loop-3", "make-list"));
	assert_int_equal(tr_pipeline_task_iterator(task(d, "make-list"))->kind, TR_ITER_NONE);
	/* Collected fan-in: the loop DAG's output is a list read by `total` */
	assert_true(depends_on(d, "total", "for-loop-2"));
	const struct tr_pipeline_dag *body = sub_dag(s, "comp-for-loop-2");
	assert_int_equal(tr_pipeline_dag_n_outputs(body), 1);
	const struct tr_pipeline_dag_output *o = tr_pipeline_dag_output(body, 0);
	assert_string_equal(o->selectors[0].producer, "square");
	const struct tr_pipeline_component *loop = tr_pipeline_component_find(s, "comp-for-loop-2");
	assert_int_equal(tr_pipeline_component_output_find(loop, o->name)->type, TR_PARAM_LIST);
	/* struct items and their parseJson selectors */
	const struct tr_pipeline_dag *b5 = sub_dag(s, "comp-for-loop-5");
	const struct tr_pipeline_binding *b =
	    tr_pipeline_task_binding_find(task(b5, "square-4"), "x", false);
	assert_string_equal(b->selector, "parseJson(string_value)[\"b\"]");
	json_t *ctx = json_pack("{s:s}", "string_value", "{\"a\": 1, \"b\": 20}"), *v;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_cel_eval(b->selector_expr, ctx, &v, &err), TR_OK);
	assert_int_equal(json_integer_value(v), 20);
	json_decref(v);
	json_decref(ctx);
	tr_buf_release(&err);
	tr_pipeline_spec_free(s);
}

static void kfp_nested_exit_retry(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "nested.yaml");
	const struct tr_pipeline_dag *d = root_dag(s);
	assert_true(depends_on(d, "square", "inner"));
	const struct tr_pipeline_dag *inner = sub_dag(s, "comp-inner");
	assert_string_equal(tr_pipeline_dag_output(inner, 0)->name, "Output");
	tr_pipeline_spec_free(s);

	s = load_ok(FIXTURES "exit_handler.yaml");
	d = root_dag(s);
	const struct tr_pipeline_task *rep = task(d, "report");
	assert_int_equal(tr_pipeline_task_strategy(rep), TR_TRIGGER_ALL_UPSTREAM_COMPLETED);
	const struct tr_pipeline_binding *b = tr_pipeline_task_binding_find(rep, "status", false);
	assert_int_equal(b->kind, TR_BIND_TASK_FINAL_STATUS);
	assert_string_equal(b->producer, "exit-handler-1");
	assert_true(depends_on(d, "report", "exit-handler-1"));
	assert_int_equal(
	    tr_pipeline_component_input_find(tr_pipeline_task_component(rep), "status")->type,
	    TR_PARAM_TASK_FINAL_STATUS);
	/* ignore_upstream_failure: the same strategy without a final status */
	assert_int_equal(tr_pipeline_task_strategy(task(d, "print-msg-2")),
			 TR_TRIGGER_ALL_UPSTREAM_COMPLETED);
	tr_pipeline_spec_free(s);

	s = load_ok(FIXTURES "retry_and_cache.yaml");
	d = root_dag(s);
	const struct tr_pipeline_retry *r = tr_pipeline_task_retry(task(d, "flaky"));
	assert_non_null(r);
	assert_int_equal(r->max_retries, 3);
	assert_int_equal(r->backoff_ms, 1000);
	assert_true(r->factor == 2.0);
	assert_int_equal(r->max_backoff_ms, 10000);
	assert_false(tr_pipeline_task_cache_enabled(task(d, "flaky")));
	assert_null(tr_pipeline_task_retry(task(d, "print-msg")));
	const struct tr_pipeline_container *c = tr_pipeline_executor_container(
	    tr_pipeline_component_executor(tr_pipeline_task_component(task(d, "print-msg"))));
	assert_string_equal(c->resources.cpu_limit, "500m");
	assert_string_equal(c->resources.memory_limit, "1Gi");
	assert_int_equal(c->n_env, 1);
	assert_string_equal(c->env[0].name, "GREETING");
	assert_string_equal(c->env[0].value, "hi");
	tr_pipeline_spec_free(s);
}

static void kfp_containers_importer_platform(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "containers.yaml");
	const struct tr_pipeline_dag *d = root_dag(s);
	const struct tr_pipeline_container *c = tr_pipeline_executor_container(
	    tr_pipeline_component_executor(tr_pipeline_task_component(task(d, "cat-file"))));
	assert_string_equal(c->image, "alpine");
	assert_int_equal(c->n_args, 2);
	assert_int_equal(c->args[0].kind, TR_ARG_CONCAT);
	assert_int_equal(c->args[0].n_items, 2);
	assert_string_equal(c->args[0].items[1].text, "{{$.inputs.artifacts['data'].path}}");
	assert_int_equal(c->args[1].kind, TR_ARG_IF_PRESENT);
	assert_string_equal(c->args[1].input_name, "prefix");
	assert_int_equal(c->args[1].n_items, 2);
	assert_true(c->args[1].has_else);
	assert_string_equal(c->args[1].else_items[0].text, "--no-prefix");
	/* an optional input: set on one task, absent on the other */
	assert_true(tr_pipeline_component_input_find(
			tr_pipeline_task_component(task(d, "cat-file")), "prefix")
			->optional);
	tr_pipeline_spec_free(s);

	s = load_ok(FIXTURES "importer.yaml");
	d = root_dag(s);
	const struct tr_pipeline_executor *e =
	    tr_pipeline_component_executor(tr_pipeline_task_component(task(d, "importer")));
	assert_int_equal(tr_pipeline_executor_kind(e), TR_EXEC_IMPORTER);
	const struct tr_pipeline_importer *im = tr_pipeline_executor_importer(e);
	assert_string_equal(im->uri_parameter, "uri");
	assert_string_equal(im->schema_title, "system.Dataset");
	assert_string_equal(json_string_value(json_object_get(im->metadata, "source")), "fixture");
	assert_true(depends_on(d, "cat-file", "importer"));
	assert_null(tr_pipeline_task_binding_find(task(d, "optional-inputs-2"), "data", true));
	tr_pipeline_spec_free(s);

	struct tr_diags diags = TR_DIAGS_INIT;
	assert_int_equal(tr_pipeline_load_file(FIXTURES "platform.yaml", NULL, &s, &diags), TR_OK);
	assert_int_equal(diags.errors, 0);
	assert_int_equal(diags.warnings, 2); /* nodeSelector, secretAsEnv */
	assert_non_null(strstr(diags.v[0].msg, "not honoured"));
	tr_diags_release(&diags);
	tr_pipeline_spec_free(s);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct tr_buf b = TR_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tr_buf_append(&b, chunk, n);
	fclose(f);
	return tr_buf_detach(&b);
}

static void kfp_schema_versions(void **state)
{
	char *text = read_file(FIXTURES "nested.yaml");
	char *v = strstr(text, "schemaVersion: 2.1.0");
	assert_non_null(v);
	memcpy(v + strlen("schemaVersion: "), "2.0.0", 5);
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	assert_int_equal(tr_pipeline_load_buf(text, strlen(text), NULL, &s, &d), TR_OK);
	assert_string_equal(tr_pipeline_schema_version(s), "2.0.0");
	tr_pipeline_spec_free(s);
	memcpy(v + strlen("schemaVersion: "), "3.0.0", 5);
	char *msg = load_bad(text, NULL);
	assert_non_null(strstr(msg, "unsupported schemaVersion '3.0.0'"));
	free(msg);
	tr_diags_release(&d);
	free(text);
}

static void kfp_recursion(void **state)
{
	/* a DAG that contains itself would make every walk over nested DAGs loop */
	char *msg = load_bad("components:\n"
			     "  comp-a:\n    dag:\n      tasks:\n        b:\n"
			     "          componentRef: {name: comp-b}\n"
			     "  comp-b:\n    dag:\n      tasks:\n        a:\n"
			     "          componentRef: {name: comp-a}\n"
			     "pipelineInfo: {name: rec}\n"
			     "root:\n  dag:\n    tasks:\n      a:\n"
			     "        componentRef: {name: comp-a}\n"
			     "schemaVersion: 2.1.0\n",
			     NULL);
	assert_string_equal(
	    msg, "t.yaml:10:9: error: task 'a' runs component 'comp-a', which contains it\n");
	free(msg);
}

/* ---- golden validation errors ---- */

static void golden(const char *name)
{
	char yaml[256], expect[256];
	snprintf(yaml, sizeof(yaml), "tests/pipeline/invalid/%s.yaml", name);
	snprintf(expect, sizeof(expect), "tests/pipeline/invalid/%s.err", name);
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	assert_int_equal(tr_pipeline_load_file(yaml, NULL, &s, &d), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_null(s);
	struct tr_buf got = TR_BUF_INIT;
	tr_diags_format(&d, &got);
	char *want = read_file(expect);
	if (strcmp(tr_buf_str(&got), want))
		fail_msg("%s: diagnostics differ from %s; got:\n%s", yaml, expect,
			 tr_buf_str(&got));
	free(want);
	tr_buf_release(&got);
	tr_diags_release(&d);
}

static void golden_errors(void **state)
{
	golden("trellis_errors");
	golden("kfp_errors");
}

/* ---- limits ---- */

static void limits(void **state)
{
	/* directives never reach libfyaml, whose 0.7.12 scanner can loop forever on
	 * malformed ones (fuzz_pipeline hung there) */
	char *dmsg = load_bad("%YAML 1.2\n---\nname: x\nsteps: {}\n", NULL);
	assert_non_null(strstr(dmsg, "t.yaml:1:1: error: yaml: directives (%YAML, %TAG) are not "
				     "supported"));
	free(dmsg);
	dmsg = load_bad("name: x\n%TAG ! tag:x,2000:\n", NULL);
	assert_non_null(strstr(dmsg, "t.yaml:2:1: error: yaml: directives"));
	free(dmsg);
	/* a multi-line quoted scalar libfyaml 0.7.12 decodes longer than it
	 * measured (it returned truncated text and leaked; fuzz_pipeline) */
	dmsg = load_bad("name: x\nsteps: {}\nd: 'a''''''''1\n  '\n", NULL);
	assert_non_null(strstr(dmsg, "t.yaml:3:5: error: yaml: this quoted scalar is not read "
				     "reliably by libfyaml"));
	free(dmsg);
	/* billion laughs: nine levels of ten aliases */
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appends(&b, "a0: &a0 [lol]\n");
	for (int i = 1; i < 10; i++) {
		tr_buf_appendf(&b, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			tr_buf_appendf(&b, "%s*a%d", j ? ", " : "", i - 1);
		tr_buf_appends(&b, "]\n");
	}
	char *msg = load_bad(tr_buf_str(&b), NULL);
	assert_non_null(strstr(msg, "t.yaml:7:56: error: yaml too large: more than 2000000 nodes "
				    "with aliases expanded"));
	free(msg);
	/* and the number of aliases is capped on its own */
	struct tr_pipeline_limits lim = TR_PIPELINE_LIMITS_INIT;
	lim.max_aliases = 50;
	msg = load_bad(tr_buf_str(&b), &lim);
	assert_non_null(strstr(msg, "too many yaml aliases (limit 50)"));
	free(msg);
	tr_buf_release(&b);

	/* nesting depth */
	for (int i = 0; i < 100; i++)
		tr_buf_appendc(&b, '[');
	for (int i = 0; i < 100; i++)
		tr_buf_appendc(&b, ']');
	msg = load_bad(tr_buf_str(&b), NULL);
	assert_non_null(strstr(msg, "nested too deeply (limit 40 levels)"));
	free(msg);
	tr_buf_release(&b);

	/* an alias inside its own anchor is refused, not followed */
	msg = load_bad("a: &x [1, *x]\n", NULL);
	assert_non_null(strstr(msg, "unknown yaml alias '*x'"));
	free(msg);
	msg = load_bad("name: a\nname: b\nsteps: {}\n", NULL);
	assert_non_null(strstr(msg, "t.yaml:2:1: error: duplicate key 'name' (first at line 1)"));
	free(msg);

	/* file size: buffers and files */
	lim = (struct tr_pipeline_limits)TR_PIPELINE_LIMITS_INIT;
	lim.max_bytes = 1000;
	char *text = read_file(FIXTURES "loops.yaml");
	msg = load_bad(text, &lim);
	assert_non_null(strstr(msg, "file too large"));
	assert_non_null(strstr(msg, "(limit 1000)"));
	free(msg);
	free(text);
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	assert_int_not_equal(tr_pipeline_load_file(FIXTURES "loops.yaml", &lim, &s, &d), TR_OK);
	assert_non_null(strstr(d.v[0].msg, "file too large"));
	tr_diags_release(&d);

	/* the task cap */
	lim = (struct tr_pipeline_limits)TR_PIPELINE_LIMITS_INIT;
	lim.max_tasks = 9;
	assert_int_not_equal(tr_pipeline_load_file(FIXTURES "loops.yaml", &lim, &s, &d), TR_OK);
	assert_string_equal(d.v[0].msg, "too many tasks: 10 (limit 9 per run)");
	tr_diags_release(&d);
	tr_buf_appends(&b, "name: many\nsteps:\n");
	for (int i = 0; i < 20; i++)
		tr_buf_appendf(&b, "  s%d: {run: 'true'}\n", i);
	lim.max_tasks = 10;
	msg = load_bad(tr_buf_str(&b), &lim);
	assert_non_null(strstr(msg, "too many steps: 20 (limit 10 per run)"));
	free(msg);
	lim.max_tasks = 20;
	assert_int_equal(tr_pipeline_load_buf(b.data, b.len, &lim, &s, &d), TR_OK);
	tr_pipeline_spec_free(s);
	tr_diags_release(&d);
	tr_buf_release(&b);

	/* malformed YAML has a position too */
	msg = load_bad("name: x\nsteps: b: c\n", NULL);
	assert_string_equal(
	    msg, "t.yaml:2:9: error: yaml: invalid nested block mapping on the same line\n");
	free(msg);
	msg = load_bad("name: x\nsteps:\n  a:\n    run: echo\n    when: 'params.x =='\n", NULL);
	assert_string_equal(msg, "t.yaml:5:23: error: step 'a': bad 'when' expression: unexpected "
				 "end of expression\n");
	free(msg);
}

/* ---- CEL ---- */

struct cel_case {
	const char *expr;
	const char *want; /* JSON of the result, or NULL for an evaluation error */
};

static void cel_eval_cases(void **state)
{
	static const struct cel_case cases[] = {
	    {"1 + 2 * 3", "7"},
	    {"(1 + 2) * 3", "9"},
	    {"7 / 2", "3"},
	    {"7.0 / 2", "3.5"},
	    {"-3 < 2", "true"},
	    {"1 == 1.0", "true"},
	    {"'a' < 'b'", "true"},
	    {"\"x\" + 'y'", "\"xy\""},
	    {"!true || false", "false"},
	    {"!(1 > 2) && 2 >= 2", "true"},
	    {"int(3.9)", "3"},
	    {"int(-3.9)", "-3"},
	    {"int('42')", "42"},
	    {"double(2) == 2.0", "true"},
	    {"double('2.5')", "2.5"},
	    {"string(3)", "\"3\""},
	    {"string(2.5)", "\"2.5\""},
	    {"string(3.0)", "\"3\""},
	    {"string(true)", "\"true\""},
	    {"size('abc')", "3"},
	    {"size(p.list)", "3"},
	    {"2 in p.list", "true"},
	    {"'k' in p.map", "true"},
	    {"p.map.k", "\"v\""},
	    {"p['map']['k'] == 'v'", "true"},
	    {"p.list[1]", "2"},
	    {"parseJson('{\"a\": [1, 2]}')['a'][1]", "2"},
	    {"parseJson(s)[\"A_a\"]", "\"x\""},
	    {"inputs.parameter_values['pipelinechannel--n'] > 3", "true"},
	    {"int(inputs.parameter_values['pipelinechannel--n']) == 4", "true"},
	    {"inputs.parameter_values['pipelinechannel--s'] == 'it\\'s'", "true"},
	    {"false && (1 / 0 == 1)", "false"},
	    {"true || missing.x", "true"},
	    {"1 / 0", NULL},
	    {"'a' < 1", NULL},
	    {"missing.x", NULL},
	    {"int('x')", NULL},
	    {"int(1e300)", NULL},
	    {"!1", NULL},
	    {"p.list[5]", NULL},
	    {"9223372036854775807 + 1", NULL},
	};
	json_t *ctx = json_loads(
	    "{\"p\":{\"list\":[1,2,3],\"map\":{\"k\":\"v\"}},\"s\":\"{\\\"A_a\\\":\\\"x\\\"}\","
	    "\"inputs\":{\"parameter_values\":{\"pipelinechannel--n\":4.0,"
	    "\"pipelinechannel--s\":\"it's\"}}}",
	    0, NULL);
	assert_non_null(ctx);
	struct tr_arena *a = tr_arena_new();
	struct tr_buf err = TR_BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tr_cel *e;
		size_t pos;
		if (tr_cel_parse(a, cases[i].expr, &e, &pos, &err))
			fail_msg("'%s' did not parse: %s", cases[i].expr, tr_buf_str(&err));
		json_t *v = NULL;
		enum tr_err rc = tr_cel_eval(e, ctx, &v, &err);
		if (!cases[i].want) {
			if (rc == TR_OK)
				fail_msg("'%s' should fail", cases[i].expr);
			continue;
		}
		if (rc)
			fail_msg("'%s': %s", cases[i].expr, tr_buf_str(&err));
		json_t *want = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
		bool same =
		    json_equal(v, want) || (json_is_number(v) && json_is_number(want) &&
					    json_number_value(v) == json_number_value(want));
		if (!same) {
			char *got = json_dumps(v, JSON_ENCODE_ANY);
			fail_msg("'%s' gave %s, want %s", cases[i].expr, got, cases[i].want);
		}
		json_decref(want);
		json_decref(v);
	}
	tr_buf_release(&err);
	tr_arena_free(a);
	json_decref(ctx);
}

static void cel_parse_errors(void **state)
{
	static const struct {
		const char *expr;
		size_t pos;
		const char *msg;
	} cases[] = {
	    {"a ==", 4, "unexpected end of expression"},
	    {"(1 + 2", 6, "expected ')'"},
	    {"1 < 2 < 3", 6, "comparisons do not chain; use &&"},
	    {"'abc", 0, "unterminated string literal"},
	    {"foo(1)", 0, "unknown function"},
	    {"int(1, 2)", 0, "function takes exactly one argument"},
	    {"a b", 2, "unexpected text after expression"},
	    {"x[1", 3, "expected ']'"},
	    {"1 # 2", 2, "unexpected text after expression"},
	    {"'\\q'", 1, "unsupported escape in string literal"},
	    /* found by fuzz_cel: JSON holds only UTF-8, jansson gave NULL for it */
	    {"'\xb3\xb3'", 0, "string literal is not valid UTF-8"},
	    {"", 0, "unexpected end of expression"},
	};
	struct tr_arena *a = tr_arena_new();
	struct tr_buf err = TR_BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tr_cel *e;
		size_t pos = 99;
		if (tr_cel_parse(a, cases[i].expr, &e, &pos, &err) == TR_OK)
			fail_msg("'%s' should not parse", cases[i].expr);
		if (pos != cases[i].pos || strcmp(tr_buf_str(&err), cases[i].msg))
			fail_msg("'%s': got '%s' at %zu, want '%s' at %zu", cases[i].expr,
				 tr_buf_str(&err), pos, cases[i].msg, cases[i].pos);
	}
	/* found by fuzz_cel: results JSON cannot hold are errors, never a NULL value */
	json_t *ctx = json_object();
	const char *nonfinite[] = {"1.0 / 0.0", "3333./37./3/3/33./3/33/0", "double('inf')",
				   "double('nan')", "-1.0 / 0.0"};
	for (size_t i = 0; i < sizeof(nonfinite) / sizeof(nonfinite[0]); i++) {
		struct tr_cel *x;
		size_t at;
		json_t *v = NULL;
		assert_int_equal(tr_cel_parse(a, nonfinite[i], &x, &at, &err), TR_OK);
		if (tr_cel_eval(x, ctx, &v, &err) != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("'%s' should not evaluate", nonfinite[i]);
		assert_null(v);
	}
	json_decref(ctx);
	/* nesting is bounded */
	struct tr_buf deep = TR_BUF_INIT;
	for (int i = 0; i < 200; i++)
		tr_buf_appendc(&deep, '(');
	tr_buf_appendc(&deep, '1');
	for (int i = 0; i < 200; i++)
		tr_buf_appendc(&deep, ')');
	struct tr_cel *e;
	size_t pos;
	assert_int_equal(tr_cel_parse(a, tr_buf_str(&deep), &e, &pos, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_string_equal(tr_buf_str(&err), "expression nested too deeply");
	tr_buf_release(&deep);
	tr_buf_release(&err);
	tr_arena_free(a);
}

/* ---- Trellis YAML ---- */

static const char *arg(const struct tr_pipeline_container *c, size_t i)
{
	assert_true(i < c->n_command);
	return c->command[i].text;
}

static void trellis_example(void **state)
{
	struct tr_pipeline_spec *s = load_ok("tests/pipeline/trellis/example.yaml");
	assert_int_equal(tr_pipeline_format(s), TR_PIPELINE_TRELLIS);
	assert_string_equal(tr_pipeline_name(s), "train-and-evaluate");
	assert_int_equal(tr_pipeline_timeout_ms(s), 2 * 3600 * 1000);
	const struct tr_pipeline_component *root = tr_pipeline_root(s);
	assert_int_equal(tr_pipeline_component_input_find(root, "rows")->type, TR_PARAM_INT);
	assert_int_equal(tr_pipeline_component_input_find(root, "learning_rates")->type,
			 TR_PARAM_LIST);
	const struct tr_pipeline_io *mode = tr_pipeline_component_input_find(root, "mode");
	assert_string_equal(json_string_value(mode->default_value), "full");
	assert_string_equal(mode->description, "quick or full");
	const struct tr_pipeline_dag *d = root_dag(s);
	assert_topological(d);
	assert_string_equal(tr_pipeline_task_name(tr_pipeline_dag_task(d, 0)), "prepare");

	/* a shell string: references become positional parameters */
	const struct tr_pipeline_task *prep = task(d, "prepare");
	const struct tr_pipeline_container *c = tr_pipeline_executor_container(
	    tr_pipeline_component_executor(tr_pipeline_task_component(prep)));
	assert_string_equal(c->image, "python:3.11");
	assert_string_equal(arg(c, 0), "sh");
	assert_string_equal(arg(c, 1), "-c");
	assert_string_equal(arg(c, 2),
			    "python3 prepare.py --rows \"${1}\" --out \"${2}\" --count \"${3}\"");
	assert_string_equal(arg(c, 3), "sh");
	assert_string_equal(arg(c, 4), "{{$.inputs.parameters['pipelinechannel--rows']}}");
	assert_string_equal(arg(c, 5), "{{$.outputs.artifacts['data'].path}}");
	assert_string_equal(arg(c, 6), "{{$.outputs.parameters['count'].output_file}}");
	const struct tr_pipeline_binding *b =
	    tr_pipeline_task_binding_find(prep, "pipelinechannel--rows", false);
	assert_int_equal(b->kind, TR_BIND_COMPONENT_INPUT);
	assert_string_equal(b->parent_input, "rows");
	assert_true(tr_pipeline_task_cache_enabled(prep));

	/* foreach: a loop task around a body DAG holding the step */
	const struct tr_pipeline_task *loop = task(d, "train");
	const struct tr_pipeline_iterator *it = tr_pipeline_task_iterator(loop);
	assert_int_equal(it->kind, TR_ITER_PARAMETER);
	assert_int_equal(it->parallelism, 2);
	b = tr_pipeline_task_binding_find(loop, it->items_input, false);
	assert_string_equal(b->parent_input, "learning_rates");
	assert_true(depends_on(d, "train", "prepare"));
	const struct tr_pipeline_dag *body =
	    tr_pipeline_component_dag(tr_pipeline_task_component(loop));
	assert_non_null(body);
	const struct tr_pipeline_task *inner = tr_pipeline_dag_task(body, 0);
	assert_int_equal(tr_pipeline_task_retry(inner)->max_retries, 2);
	assert_int_equal(tr_pipeline_task_retry(inner)->backoff_ms, 5000);
	assert_int_equal(tr_pipeline_task_retry(inner)->max_backoff_ms, 60000);
	assert_int_equal(tr_pipeline_task_timeout_ms(inner), 30 * 60 * 1000);
	b = tr_pipeline_task_binding_find(inner, "data", true);
	assert_int_equal(b->kind, TR_BIND_COMPONENT_INPUT);
	b = tr_pipeline_task_binding_find(inner, "tag", false);
	assert_int_equal(b->kind, TR_BIND_CONSTANT);
	assert_string_equal(json_string_value(b->constant),
			    "lr-{{$.inputs.parameters['pipelinechannel--item']}}");
	c = tr_pipeline_executor_container(
	    tr_pipeline_component_executor(tr_pipeline_task_component(inner)));
	assert_string_equal(arg(c, 0), "python3");
	assert_string_equal(arg(c, 3), "{{$.inputs.artifacts['data'].path}}");
	assert_string_equal(arg(c, 5), "{{$.inputs.parameters['lr']}}");
	assert_string_equal(c->resources.cpu_limit, "2");
	assert_string_equal(c->resources.memory_limit, "4Gi");
	assert_string_equal(c->resources.accelerator_count, "0");
	assert_string_equal(c->env[0].name, "PYTHONUNBUFFERED");
	/* collected outputs: lists on the loop */
	const struct tr_pipeline_component *lc = tr_pipeline_task_component(loop);
	assert_int_equal(tr_pipeline_component_output_find(lc, "score")->type, TR_PARAM_LIST);
	assert_true(tr_pipeline_component_output_find(lc, "model")->is_list);

	/* when: rewritten onto the task's own inputs */
	const struct tr_pipeline_task *pick = task(d, "pick");
	assert_true(depends_on(d, "pick", "prepare"));
	assert_true(depends_on(d, "pick", "train"));
	assert_true(cond_eval(pick, "{\"inputs\":{\"parameter_values\":{"
				    "\"pipelinechannel--prepare-count\":500,"
				    "\"pipelinechannel--mode\":\"full\"}}}"));
	assert_false(cond_eval(pick, "{\"inputs\":{\"parameter_values\":{"
				     "\"pipelinechannel--prepare-count\":50,"
				     "\"pipelinechannel--mode\":\"full\"}}}"));
	/* needs plus data */
	assert_true(depends_on(d, "report", "pick"));
	assert_true(depends_on(d, "report", "prepare"));
	c = tr_pipeline_executor_container(
	    tr_pipeline_component_executor(tr_pipeline_task_component(task(d, "report"))));
	assert_string_equal(arg(c, 2), "echo \"trained on ${1} rows in run ${2}\"");
	assert_string_equal(arg(c, 5), "{{$.pipeline_job_uuid}}");
	assert_null(c->image);
	tr_pipeline_spec_free(s);
}

static void trellis_small_cases(void **state)
{
	/* the shortest pipeline */
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *s = NULL;
	const char *y = "name: one\nsteps:\n  hello:\n    run: [echo, hi]\n";
	assert_int_equal(tr_pipeline_load_buf(y, strlen(y), NULL, &s, &d), TR_OK);
	assert_int_equal(tr_pipeline_task_count(s), 1);
	tr_pipeline_spec_free(s);
	/* a struct item field through a selector */
	y = "name: f\nsteps:\n  s:\n    foreach: [{a: 1}, {a: 2}]\n    run: echo {{ item.a }}\n";
	assert_int_equal(tr_pipeline_load_buf(y, strlen(y), NULL, &s, &d), TR_OK);
	const struct tr_pipeline_task *inner = tr_pipeline_dag_task(
	    tr_pipeline_component_dag(tr_pipeline_task_component(task(root_dag(s), "s"))), 0);
	const struct tr_pipeline_binding *b =
	    tr_pipeline_task_binding_find(inner, "pipelinechannel--item-a", false);
	assert_string_equal(b->selector, "parseJson(string_value)[\"a\"]");
	assert_non_null(b->selector_expr);
	tr_pipeline_spec_free(s);
	tr_diags_release(&d);
	/* errors with positions */
	char *msg =
	    load_bad("name: x\nsteps:\n  a:\n    run: echo hi\n    when: params.nope == 1\n", NULL);
	assert_string_equal(msg, "t.yaml:5:11: error: step 'a' reads unknown parameter 'nope'\n");
	free(msg);
	msg = load_bad("name: x\nsteps:\n  a: {run: 'echo {{ bogus }}'}\n", NULL);
	assert_string_equal(msg, "t.yaml:3:13: error: step 'a': unknown reference '{{ bogus }}'\n");
	free(msg);
	msg = load_bad("steps: {}\nextra: 1\n", NULL);
	assert_non_null(strstr(msg, "t.yaml:1:1: error: the pipeline has no 'name'"));
	assert_non_null(strstr(msg, "t.yaml:2:1: error: unknown field 'extra' in the pipeline"));
	free(msg);
}

static void graph_output(void **state)
{
	struct tr_pipeline_spec *s = load_ok(FIXTURES "exit_handler.yaml");
	struct tr_buf b = TR_BUF_INIT;
	tr_pipeline_graph(s, TR_GRAPH_DOT, &b);
	assert_non_null(strstr(b.data, "digraph \"exit-handler\" {"));
	assert_non_null(strstr(b.data, "subgraph cluster_"));
	assert_non_null(strstr(b.data, "runs after upstream completes"));
	tr_buf_reset(&b);
	tr_pipeline_graph(s, TR_GRAPH_MERMAID, &b);
	assert_true(!strncmp(b.data, "flowchart TD\n", 13));
	assert_non_null(strstr(b.data, " --> "));
	tr_buf_release(&b);
	tr_pipeline_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kfp_params_and_artifacts),
	    cmocka_unit_test(kfp_conditions),
	    cmocka_unit_test(kfp_loops),
	    cmocka_unit_test(kfp_nested_exit_retry),
	    cmocka_unit_test(kfp_containers_importer_platform),
	    cmocka_unit_test(kfp_schema_versions),
	    cmocka_unit_test(kfp_recursion),
	    cmocka_unit_test(golden_errors),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(cel_eval_cases),
	    cmocka_unit_test(cel_parse_errors),
	    cmocka_unit_test(trellis_example),
	    cmocka_unit_test(trellis_small_cases),
	    cmocka_unit_test(graph_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
