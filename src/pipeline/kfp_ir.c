/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP v2 IR loader: a compiled pipeline file (PipelineSpec, and optionally a
 * PlatformSpec as a second YAML document) into the pipeline model. It reads
 * the shapes of api/v2alpha1/pipeline_spec.proto in protobuf-JSON spelling,
 * refuses fields it does not know (running while ignoring one could change
 * what a step does), and records platform settings it cannot honour (secrets,
 * volumes, node selectors) as warnings. Cross-references are left to
 * check.c, which treats both formats alike.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "pipeline/diag.h"
#include "pipeline/fields.h"
#include "pipeline/spec_impl.h"
#include "pipeline/yaml.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ld {
	struct tr_pipeline_spec *s;
	struct tr_diags *d;
};

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *ctx(struct ld *l, const char *fmt, const char *name)
{
	return tr_arena_sprintf(l->s->arena, fmt, name);
}

static const char *str(struct ld *l, const struct tr_yaml_node *n, const char *what)
{
	return tr_fields_str(l->d, n, what);
}

static void error_at(struct ld *l, const struct tr_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_at(struct ld *l, const struct tr_yaml_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr_diags_vadd(l->d, TR_DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

/* ---- component interfaces ---- */

static void load_param_defs(struct ld *l, struct tr_pipeline_component *c,
			    const struct tr_yaml_node *m, bool output)
{
	if (!tr_fields_map(l->d, m, "parameters"))
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct tr_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		const char *name = k->str;
		const char *where = ctx(l, "parameter '%s'", name);
		if (!tr_fields_check(l->d, v, where,
				     output ? FIELDS("parameterType", "description")
					    : FIELDS("parameterType", "defaultValue", "isOptional",
						     "description", "literals"),
				     false))
			continue;
		struct tr_pipeline_io *io =
		    output ? TR_VEC_PUSH(l->s->arena, c->outputs, c->n_outputs, c->cap_outputs)
			   : TR_VEC_PUSH(l->s->arena, c->inputs, c->n_inputs, c->cap_inputs);
		io->name = name;
		io->line = k->line;
		io->col = k->col;
		const struct tr_yaml_node *t = tr_yaml_get(v, "parameterType");
		const char *tn = str(l, t, "parameterType");
		if (!t)
			error_at(l, k, "parameter '%s' has no parameterType", name);
		else if (tn && !tr_param_type_parse(tn, &io->type))
			error_at(l, t, "unknown parameterType '%s'", tn);
		const struct tr_yaml_node *dv = tr_yaml_get(v, "defaultValue");
		if (dv)
			io->default_value = tr_pipeline_keep(l->s, tr_yaml_to_json(dv));
		const struct tr_yaml_node *opt = tr_yaml_get(v, "isOptional");
		if (opt)
			tr_fields_bool(l->d, opt, "isOptional", &io->optional);
		io->description = str(l, tr_yaml_get(v, "description"), "description");
	}
}

static void load_artifact_defs(struct ld *l, struct tr_pipeline_component *c,
			       const struct tr_yaml_node *m, bool output)
{
	if (!tr_fields_map(l->d, m, "artifacts"))
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct tr_yaml_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		const char *where = ctx(l, "artifact '%s'", k->str);
		if (!tr_fields_check(l->d, v, where,
				     FIELDS("artifactType", "isArtifactList", "isOptional",
					    "description", "metadata"),
				     false))
			continue;
		struct tr_pipeline_io *io =
		    output ? TR_VEC_PUSH(l->s->arena, c->outputs, c->n_outputs, c->cap_outputs)
			   : TR_VEC_PUSH(l->s->arena, c->inputs, c->n_inputs, c->cap_inputs);
		io->name = k->str;
		io->artifact = true;
		io->line = k->line;
		io->col = k->col;
		const struct tr_yaml_node *at = tr_yaml_get(v, "artifactType");
		if (at && tr_fields_check(l->d, at, "artifactType",
					  FIELDS("schemaTitle", "schemaVersion", "instanceSchema"),
					  false)) {
			io->schema_title = str(l, tr_yaml_get(at, "schemaTitle"), "schemaTitle");
			io->schema_version =
			    str(l, tr_yaml_get(at, "schemaVersion"), "schemaVersion");
		}
		if (!io->schema_title)
			io->schema_title = "system.Artifact";
		const struct tr_yaml_node *n;
		if ((n = tr_yaml_get(v, "isArtifactList")))
			tr_fields_bool(l->d, n, "isArtifactList", &io->is_list);
		if ((n = tr_yaml_get(v, "isOptional")))
			tr_fields_bool(l->d, n, "isOptional", &io->optional);
		io->description = str(l, tr_yaml_get(v, "description"), "description");
		if ((n = tr_yaml_get(v, "metadata")))
			io->default_value = tr_pipeline_keep(l->s, tr_yaml_to_json(n));
	}
}

static void load_io(struct ld *l, struct tr_pipeline_component *c, const struct tr_yaml_node *m,
		    bool output)
{
	if (!m || !tr_fields_check(l->d, m, output ? "outputDefinitions" : "inputDefinitions",
				   FIELDS("parameters", "artifacts"), false))
		return;
	const struct tr_yaml_node *n;
	if ((n = tr_yaml_get(m, "parameters")))
		load_param_defs(l, c, n, output);
	if ((n = tr_yaml_get(m, "artifacts")))
		load_artifact_defs(l, c, n, output);
}

/* ---- tasks ---- */

static struct tr_pipeline_ref ref(struct ld *l, const struct tr_yaml_node *n, const char *what)
{
	return (struct tr_pipeline_ref){str(l, n, what), n ? n->line : 0, n ? n->col : 0};
}

static void load_param_binding(struct ld *l, struct tr_pipeline_task *t,
			       const struct tr_yaml_node *k, const struct tr_yaml_node *v)
{
	const char *where = ctx(l, "input parameter '%s'", k->str);
	if (!tr_fields_check(l->d, v, where,
			     FIELDS("componentInputParameter", "taskOutputParameter",
				    "runtimeValue", "taskFinalStatus",
				    "parameterExpressionSelector"),
			     false))
		return;
	struct tr_pipeline_binding *b =
	    TR_VEC_PUSH(l->s->arena, t->bindings, t->n_bindings, t->cap_bindings);
	b->name = k->str;
	b->line = k->line;
	b->col = k->col;
	int kinds = 0;
	const struct tr_yaml_node *n;
	if ((n = tr_yaml_get(v, "componentInputParameter"))) {
		kinds++;
		b->kind = TR_BIND_COMPONENT_INPUT;
		b->parent_input = str(l, n, "componentInputParameter");
	}
	if ((n = tr_yaml_get(v, "taskOutputParameter"))) {
		kinds++;
		b->kind = TR_BIND_TASK_OUTPUT;
		if (tr_fields_check(l->d, n, "taskOutputParameter",
				    FIELDS("producerTask", "outputParameterKey"), false)) {
			b->producer = str(l, tr_yaml_get(n, "producerTask"), "producerTask");
			b->output_key =
			    str(l, tr_yaml_get(n, "outputParameterKey"), "outputParameterKey");
			if (!b->producer || !b->output_key)
				error_at(l, n, "%s needs producerTask and outputParameterKey",
					 "taskOutputParameter");
		}
	}
	if ((n = tr_yaml_get(v, "runtimeValue"))) {
		kinds++;
		b->kind = TR_BIND_CONSTANT;
		if (tr_fields_check(l->d, n, "runtimeValue", FIELDS("constant"), false)) {
			const struct tr_yaml_node *cn = tr_yaml_get(n, "constant");
			if (!cn)
				error_at(l, n, "%s needs a constant", "runtimeValue");
			b->constant =
			    tr_pipeline_keep(l->s, cn ? tr_yaml_to_json(cn) : json_null());
			b->has_placeholders = json_is_string(b->constant) &&
					      strstr(json_string_value(b->constant), "{{$");
		}
	}
	if ((n = tr_yaml_get(v, "taskFinalStatus"))) {
		kinds++;
		b->kind = TR_BIND_TASK_FINAL_STATUS;
		if (tr_fields_check(l->d, n, "taskFinalStatus", FIELDS("producerTask"), false))
			b->producer = str(l, tr_yaml_get(n, "producerTask"), "producerTask");
	}
	if ((n = tr_yaml_get(v, "parameterExpressionSelector")))
		b->selector = str(l, n, "parameterExpressionSelector");
	if (kinds != 1)
		error_at(l, k, "input parameter '%s' needs exactly one source", k->str);
}

static void load_artifact_binding(struct ld *l, struct tr_pipeline_task *t,
				  const struct tr_yaml_node *k, const struct tr_yaml_node *v)
{
	const char *where = ctx(l, "input artifact '%s'", k->str);
	if (!tr_fields_check(l->d, v, where, FIELDS("taskOutputArtifact", "componentInputArtifact"),
			     false))
		return;
	struct tr_pipeline_binding *b =
	    TR_VEC_PUSH(l->s->arena, t->bindings, t->n_bindings, t->cap_bindings);
	b->name = k->str;
	b->artifact = true;
	b->line = k->line;
	b->col = k->col;
	const struct tr_yaml_node *n;
	int kinds = 0;
	if ((n = tr_yaml_get(v, "componentInputArtifact"))) {
		kinds++;
		b->kind = TR_BIND_COMPONENT_INPUT;
		b->parent_input = str(l, n, "componentInputArtifact");
	}
	if ((n = tr_yaml_get(v, "taskOutputArtifact"))) {
		kinds++;
		b->kind = TR_BIND_TASK_OUTPUT;
		if (tr_fields_check(l->d, n, "taskOutputArtifact",
				    FIELDS("producerTask", "outputArtifactKey"), false)) {
			b->producer = str(l, tr_yaml_get(n, "producerTask"), "producerTask");
			b->output_key =
			    str(l, tr_yaml_get(n, "outputArtifactKey"), "outputArtifactKey");
			if (!b->producer || !b->output_key)
				error_at(l, n, "%s needs producerTask and outputArtifactKey",
					 "taskOutputArtifact");
		}
	}
	if (kinds != 1)
		error_at(l, k, "input artifact '%s' needs exactly one source", k->str);
}

static void load_iterator(struct ld *l, struct tr_pipeline_task *t, const struct tr_yaml_node *it,
			  bool artifact)
{
	t->iter_line = it->line;
	t->iter_col = it->col;
	if (t->iterator.kind != TR_ITER_NONE)
		error_at(l, it, "task '%s' has two iterators", t->name);
	t->iterator.kind = artifact ? TR_ITER_ARTIFACT : TR_ITER_PARAMETER;
	const char *what = artifact ? "artifactIterator" : "parameterIterator";
	if (!tr_fields_check(l->d, it, what, FIELDS("items", "itemInput"), false))
		return;
	const struct tr_yaml_node *items = tr_yaml_get(it, "items");
	t->iterator.item_input = str(l, tr_yaml_get(it, "itemInput"), "itemInput");
	if (!t->iterator.item_input)
		error_at(l, it, "%s needs itemInput", what);
	if (!items) {
		error_at(l, it, "%s needs items", what);
		return;
	}
	if (artifact) {
		if (tr_fields_check(l->d, items, "items", FIELDS("inputArtifact"), false))
			t->iterator.items_input =
			    str(l, tr_yaml_get(items, "inputArtifact"), "inputArtifact");
		return;
	}
	if (!tr_fields_check(l->d, items, "items", FIELDS("raw", "inputParameter"), false))
		return;
	const struct tr_yaml_node *raw = tr_yaml_get(items, "raw");
	t->iterator.items_input = str(l, tr_yaml_get(items, "inputParameter"), "inputParameter");
	if (raw) {
		const char *text = str(l, raw, "raw");
		json_error_t je;
		json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
		if (text && !json_is_array(v))
			error_at(l, raw, "%s: raw items must be a JSON list", what);
		else
			t->iterator.raw_items = tr_pipeline_keep(l->s, v), v = NULL;
		json_decref(v);
	}
	if (!raw == !t->iterator.items_input)
		error_at(l, items, "%s needs exactly one of raw and inputParameter", what);
}

static void load_retry(struct ld *l, struct tr_pipeline_task *t, const struct tr_yaml_node *r)
{
	if (!tr_fields_check(
		l->d, r, "retryPolicy",
		FIELDS("maxRetryCount", "backoffDuration", "backoffFactor", "backoffMaxDuration"),
		false))
		return;
	t->has_retry = true;
	t->retry = (struct tr_pipeline_retry){0, 0, 2.0, 3600000};
	const struct tr_yaml_node *n;
	if ((n = tr_yaml_get(r, "maxRetryCount")))
		tr_fields_int(l->d, n, "maxRetryCount", &t->retry.max_retries);
	if ((n = tr_yaml_get(r, "backoffDuration")))
		tr_fields_duration(l->d, n, "backoffDuration", &t->retry.backoff_ms);
	if ((n = tr_yaml_get(r, "backoffFactor")))
		tr_fields_double(l->d, n, "backoffFactor", &t->retry.factor);
	if ((n = tr_yaml_get(r, "backoffMaxDuration")))
		tr_fields_duration(l->d, n, "backoffMaxDuration", &t->retry.max_backoff_ms);
	if (t->retry.max_retries < 0)
		error_at(l, r, "%s: maxRetryCount must not be negative", "retryPolicy");
}

static void load_task(struct ld *l, struct tr_pipeline_dag *d, const struct tr_yaml_node *k,
		      const struct tr_yaml_node *v)
{
	const char *where = ctx(l, "task '%s'", k->str);
	if (!tr_fields_check(l->d, v, where,
			     FIELDS("taskInfo", "inputs", "dependentTasks", "cachingOptions",
				    "componentRef", "triggerPolicy", "parameterIterator",
				    "artifactIterator", "iteratorPolicy", "retryPolicy"),
			     false))
		return;
	struct tr_pipeline_task *t = tr_pipeline_add_task(l->s, d, k->str, k);
	const struct tr_yaml_node *n, *m;
	if ((n = tr_yaml_get(v, "taskInfo")) &&
	    tr_fields_check(l->d, n, "taskInfo", FIELDS("name"), false) &&
	    (m = tr_yaml_get(n, "name")))
		t->display_name = str(l, m, "taskInfo.name");
	if ((n = tr_yaml_get(v, "componentRef")) &&
	    tr_fields_check(l->d, n, "componentRef", FIELDS("name"), false))
		t->component_ref = ref(l, tr_yaml_get(n, "name"), "componentRef.name");
	if (!t->component_ref.name)
		error_at(l, k, "task '%s' has no componentRef.name", k->str);
	if ((n = tr_yaml_get(v, "inputs")) &&
	    tr_fields_check(l->d, n, "inputs", FIELDS("parameters", "artifacts"), false)) {
		if ((m = tr_yaml_get(n, "parameters")) && tr_fields_map(l->d, m, "parameters"))
			for (size_t i = 0; i < m->n; i++)
				load_param_binding(l, t, m->items[2 * i], m->items[2 * i + 1]);
		if ((m = tr_yaml_get(n, "artifacts")) && tr_fields_map(l->d, m, "artifacts"))
			for (size_t i = 0; i < m->n; i++)
				load_artifact_binding(l, t, m->items[2 * i], m->items[2 * i + 1]);
	}
	if ((n = tr_yaml_get(v, "dependentTasks")) && tr_fields_seq(l->d, n, "dependentTasks"))
		for (size_t i = 0; i < n->n; i++) {
			struct tr_pipeline_ref r = ref(l, n->items[i], "dependentTasks item");
			if (r.name)
				*TR_VEC_PUSH(l->s->arena, t->after, t->n_after, t->cap_after) = r;
		}
	if ((n = tr_yaml_get(v, "cachingOptions")) &&
	    tr_fields_check(l->d, n, "cachingOptions", FIELDS("enableCache", "cacheKey"), false)) {
		if ((m = tr_yaml_get(n, "enableCache")))
			tr_fields_bool(l->d, m, "enableCache", &t->cache_enabled);
		t->cache_key = str(l, tr_yaml_get(n, "cacheKey"), "cacheKey");
	}
	if ((n = tr_yaml_get(v, "triggerPolicy")) &&
	    tr_fields_check(l->d, n, "triggerPolicy", FIELDS("condition", "strategy"), false)) {
		if ((m = tr_yaml_get(n, "condition"))) {
			t->condition_text = str(l, m, "condition");
			t->cond_line = m->line;
			t->cond_col = m->col;
		}
		const char *st = str(l, tr_yaml_get(n, "strategy"), "strategy");
		if (!st || !strcmp(st, "ALL_UPSTREAM_TASKS_SUCCEEDED") ||
		    !strcmp(st, "TRIGGER_STRATEGY_UNSPECIFIED"))
			t->strategy = TR_TRIGGER_ALL_UPSTREAM_SUCCEEDED;
		else if (!strcmp(st, "ALL_UPSTREAM_TASKS_COMPLETED"))
			t->strategy = TR_TRIGGER_ALL_UPSTREAM_COMPLETED;
		else
			error_at(l, tr_yaml_get(n, "strategy"), "unknown trigger strategy '%s'",
				 st);
	}
	if ((n = tr_yaml_get(v, "parameterIterator")))
		load_iterator(l, t, n, false);
	if ((n = tr_yaml_get(v, "artifactIterator")))
		load_iterator(l, t, n, true);
	if ((n = tr_yaml_get(v, "iteratorPolicy")) &&
	    tr_fields_check(l->d, n, "iteratorPolicy", FIELDS("parallelismLimit"), false) &&
	    (m = tr_yaml_get(n, "parallelismLimit"))) {
		tr_fields_int(l->d, m, "parallelismLimit", &t->iterator.parallelism);
		if (t->iterator.parallelism < 0)
			error_at(l, m, "%s must not be negative", "parallelismLimit");
	}
	if ((n = tr_yaml_get(v, "retryPolicy")))
		load_retry(l, t, n);
}

static void load_selectors(struct ld *l, struct tr_pipeline_dag_output *o,
			   const struct tr_yaml_node *seq, const char *key_field)
{
	if (!tr_fields_seq(l->d, seq, "selectors"))
		return;
	struct tr_pipeline_selector *v = tr_arena_alloc(l->s->arena, (seq->n + 1) * sizeof(*v));
	for (size_t i = 0; i < seq->n; i++) {
		const struct tr_yaml_node *s = seq->items[i];
		if (!tr_fields_check(l->d, s, "selector", FIELDS("producerSubtask", key_field),
				     false))
			continue;
		v[o->n_selectors].producer =
		    str(l, tr_yaml_get(s, "producerSubtask"), "producerSubtask");
		v[o->n_selectors].output_key = str(l, tr_yaml_get(s, key_field), key_field);
		if (v[o->n_selectors].producer && v[o->n_selectors].output_key)
			o->n_selectors++;
		else
			error_at(l, s, "selector needs producerSubtask and %s", key_field);
	}
	o->selectors = v;
}

static void load_dag_outputs(struct ld *l, struct tr_pipeline_dag *d, const struct tr_yaml_node *m)
{
	if (!tr_fields_check(l->d, m, "dag outputs", FIELDS("parameters", "artifacts"), false))
		return;
	const struct tr_yaml_node *p = tr_yaml_get(m, "parameters");
	if (p && tr_fields_map(l->d, p, "parameters"))
		for (size_t i = 0; i < p->n; i++) {
			const struct tr_yaml_node *k = p->items[2 * i], *v = p->items[2 * i + 1];
			if (!tr_fields_check(l->d, v, ctx(l, "dag output '%s'", k->str),
					     FIELDS("valueFromParameter", "valueFromOneof"), false))
				continue;
			struct tr_pipeline_dag_output *o =
			    TR_VEC_PUSH(l->s->arena, d->outputs, d->n_outputs, d->cap_outputs);
			o->name = k->str;
			o->line = k->line;
			o->col = k->col;
			const struct tr_yaml_node *n;
			if ((n = tr_yaml_get(v, "valueFromParameter"))) {
				struct tr_yaml_node one = {.kind = TR_YAML_SEQ, .n = 1};
				struct tr_yaml_node *items[1] = {(struct tr_yaml_node *)n};
				one.items = items;
				load_selectors(l, o, &one, "outputParameterKey");
			} else if ((n = tr_yaml_get(v, "valueFromOneof")) &&
				   tr_fields_check(l->d, n, "valueFromOneof",
						   FIELDS("parameterSelectors"), false)) {
				load_selectors(l, o, tr_yaml_get(n, "parameterSelectors"),
					       "outputParameterKey");
			}
			if (!o->n_selectors)
				error_at(l, k, "dag output '%s' selects nothing", k->str);
		}
	const struct tr_yaml_node *a = tr_yaml_get(m, "artifacts");
	if (a && tr_fields_map(l->d, a, "artifacts"))
		for (size_t i = 0; i < a->n; i++) {
			const struct tr_yaml_node *k = a->items[2 * i], *v = a->items[2 * i + 1];
			if (!tr_fields_check(l->d, v, ctx(l, "dag output '%s'", k->str),
					     FIELDS("artifactSelectors"), false))
				continue;
			struct tr_pipeline_dag_output *o =
			    TR_VEC_PUSH(l->s->arena, d->outputs, d->n_outputs, d->cap_outputs);
			o->name = k->str;
			o->artifact = true;
			o->line = k->line;
			o->col = k->col;
			load_selectors(l, o, tr_yaml_get(v, "artifactSelectors"),
				       "outputArtifactKey");
			if (!o->n_selectors)
				error_at(l, k, "dag output '%s' selects nothing", k->str);
		}
}

static void load_component(struct ld *l, const char *name, const struct tr_yaml_node *k,
			   const struct tr_yaml_node *v, bool root)
{
	const char *where = ctx(l, "component '%s'", name);
	if (!tr_fields_check(l->d, v, where,
			     FIELDS("inputDefinitions", "outputDefinitions", "executorLabel", "dag",
				    "singlePlatformSpecs", "taskConfigPassthroughs", "description"),
			     false))
		return;
	struct tr_pipeline_component *c = tr_pipeline_add_component(l->s, name, k);
	if (root)
		l->s->root = c;
	load_io(l, c, tr_yaml_get(v, "inputDefinitions"), false);
	load_io(l, c, tr_yaml_get(v, "outputDefinitions"), true);
	const struct tr_yaml_node *n;
	if ((n = tr_yaml_get(v, "executorLabel")))
		c->executor_label = ref(l, n, "executorLabel");
	if ((n = tr_yaml_get(v, "dag")) && tr_fields_check(l->d, n, ctx(l, "the dag of '%s'", name),
							   FIELDS("tasks", "outputs"), false)) {
		struct tr_pipeline_dag *d = tr_pipeline_add_dag(l->s, c, n);
		const struct tr_yaml_node *tasks = tr_yaml_get(n, "tasks");
		if (tasks && tr_fields_map(l->d, tasks, "tasks"))
			for (size_t i = 0; i < tasks->n; i++)
				load_task(l, d, tasks->items[2 * i], tasks->items[2 * i + 1]);
		if (!d->n_tasks)
			error_at(l, n, "the dag of '%s' has no tasks", name);
		const struct tr_yaml_node *o = tr_yaml_get(n, "outputs");
		if (o)
			load_dag_outputs(l, d, o);
	}
	bool has_exec = tr_yaml_get(v, "executorLabel"), has_dag = tr_yaml_get(v, "dag");
	if (!has_exec && !has_dag)
		error_at(l, k, "component '%s' needs an executorLabel or a dag", name);
	else if (has_exec && has_dag)
		error_at(l, k, "component '%s' has both an executorLabel and a dag", name);
	if ((n = tr_yaml_get(v, "singlePlatformSpecs")) ||
	    (n = tr_yaml_get(v, "taskConfigPassthroughs")))
		tr_diags_add(l->d, TR_DIAG_WARNING, n->line, n->col,
			     "platform settings of component '%s' are ignored by trellis", name);
}

/* ---- executors ---- */

static bool parse_struct_arg(struct ld *l, json_t *j, struct tr_pipeline_arg *a,
			     const struct tr_yaml_node *at, int depth);

static bool parse_arg_list(struct ld *l, json_t *arr, struct tr_pipeline_arg **out, size_t *n,
			   const struct tr_yaml_node *at, int depth)
{
	if (!json_is_array(arr)) {
		error_at(l, at, "%s: expected a list of arguments", "placeholder structure");
		return false;
	}
	*n = json_array_size(arr);
	*out = tr_arena_alloc(l->s->arena, (*n + 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		if (!parse_struct_arg(l, json_array_get(arr, i), &(*out)[i], at, depth + 1))
			return false;
	return true;
}

/* One element of a Concat/IfPresent structure, already JSON. */
static bool parse_struct_arg(struct ld *l, json_t *j, struct tr_pipeline_arg *a,
			     const struct tr_yaml_node *at, int depth)
{
	if (depth > 16) {
		error_at(l, at, "%s nested too deeply", "placeholder structure");
		return false;
	}
	a->line = at ? at->line : 0;
	a->col = at ? at->col : 0;
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		if (!strncmp(s, "{\"Concat\"", 9) || !strncmp(s, "{\"IfPresent\"", 12)) {
			json_error_t je;
			json_t *inner = json_loads(s, 0, &je);
			bool ok = inner && parse_struct_arg(l, inner, a, at, depth + 1);
			if (!inner)
				error_at(l, at, "bad placeholder structure: %s", je.text);
			json_decref(inner);
			return ok;
		}
		a->kind = TR_ARG_STRING;
		a->text = tr_arena_strdup(l->s->arena, s);
		return true;
	}
	json_t *v;
	if (json_is_object(j) && json_object_size(j) == 1 && (v = json_object_get(j, "Concat"))) {
		a->kind = TR_ARG_CONCAT;
		return parse_arg_list(l, v, &a->items, &a->n_items, at, depth);
	}
	if (json_is_object(j) && json_object_size(j) == 1 &&
	    (v = json_object_get(j, "IfPresent"))) {
		a->kind = TR_ARG_IF_PRESENT;
		json_t *name = json_object_get(v, "InputName");
		json_t *then = json_object_get(v, "Then"), *els = json_object_get(v, "Else");
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			if (strcmp(key, "InputName") && strcmp(key, "Then") &&
			    strcmp(key, "Else")) {
				error_at(l, at, "unknown field '%s' in IfPresent", key);
				return false;
			}
		}
		if (!json_is_string(name) || !then) {
			error_at(l, at, "%s needs InputName and Then", "IfPresent");
			return false;
		}
		a->input_name = tr_arena_strdup(l->s->arena, json_string_value(name));
		/* Then/Else are a list, or a single item */
		json_t *tl = json_is_array(then) ? json_incref(then) : json_pack("[O]", then);
		bool ok = parse_arg_list(l, tl, &a->items, &a->n_items, at, depth);
		json_decref(tl);
		if (ok && els) {
			json_t *el = json_is_array(els) ? json_incref(els) : json_pack("[O]", els);
			a->has_else = true;
			ok = parse_arg_list(l, el, &a->else_items, &a->n_else, at, depth);
			json_decref(el);
		}
		return ok;
	}
	error_at(l, at, "%s: expected a string, Concat or IfPresent", "placeholder structure");
	return false;
}

static void load_args(struct ld *l, const struct tr_yaml_node *seq, const char *what,
		      const struct tr_pipeline_arg **out, size_t *n)
{
	if (!seq || !tr_fields_seq(l->d, seq, what))
		return;
	struct tr_pipeline_arg *v = tr_arena_alloc(l->s->arena, (seq->n + 1) * sizeof(*v));
	for (size_t i = 0; i < seq->n; i++) {
		const char *s = str(l, seq->items[i], what);
		if (!s)
			continue;
		json_t *j = json_string(s);
		if (!j) {
			error_at(l, seq->items[i], "%s item is not valid UTF-8", what);
			continue;
		}
		parse_struct_arg(l, j, &v[i], seq->items[i], 0);
		json_decref(j);
	}
	*out = v;
	*n = seq->n;
}

static const char *number_text(struct ld *l, const struct tr_yaml_node *n, const char *suffix)
{
	if (!n)
		return NULL;
	const char *s = str(l, n, "resource");
	return s ? tr_arena_sprintf(l->s->arena, "%s%s", s, suffix) : NULL;
}

static void load_resources(struct ld *l, struct tr_pipeline_resources *r,
			   const struct tr_yaml_node *m)
{
	if (!tr_fields_check(l->d, m, "resources",
			     FIELDS("cpuLimit", "memoryLimit", "cpuRequest", "memoryRequest",
				    "resourceCpuLimit", "resourceCpuRequest", "resourceMemoryLimit",
				    "resourceMemoryRequest", "accelerator"),
			     false))
		return;
	/* the string fields (possibly placeholders) win over the deprecated numbers,
	 * whose memory unit is GB */
	r->cpu_limit = str(l, tr_yaml_get(m, "resourceCpuLimit"), "resourceCpuLimit");
	if (!r->cpu_limit)
		r->cpu_limit = number_text(l, tr_yaml_get(m, "cpuLimit"), "");
	r->cpu_request = str(l, tr_yaml_get(m, "resourceCpuRequest"), "resourceCpuRequest");
	if (!r->cpu_request)
		r->cpu_request = number_text(l, tr_yaml_get(m, "cpuRequest"), "");
	r->memory_limit = str(l, tr_yaml_get(m, "resourceMemoryLimit"), "resourceMemoryLimit");
	if (!r->memory_limit)
		r->memory_limit = number_text(l, tr_yaml_get(m, "memoryLimit"), "G");
	r->memory_request =
	    str(l, tr_yaml_get(m, "resourceMemoryRequest"), "resourceMemoryRequest");
	if (!r->memory_request)
		r->memory_request = number_text(l, tr_yaml_get(m, "memoryRequest"), "G");
	const struct tr_yaml_node *acc = tr_yaml_get(m, "accelerator");
	if (acc &&
	    tr_fields_check(l->d, acc, "accelerator",
			    FIELDS("type", "count", "resourceType", "resourceCount"), false)) {
		r->accelerator_type = str(l, tr_yaml_get(acc, "resourceType"), "resourceType");
		if (!r->accelerator_type)
			r->accelerator_type = str(l, tr_yaml_get(acc, "type"), "type");
		r->accelerator_count = str(l, tr_yaml_get(acc, "resourceCount"), "resourceCount");
		if (!r->accelerator_count)
			r->accelerator_count = str(l, tr_yaml_get(acc, "count"), "count");
	}
}

static void load_container(struct ld *l, struct tr_pipeline_executor *e,
			   const struct tr_yaml_node *m)
{
	e->kind = TR_EXEC_CONTAINER;
	if (!tr_fields_check(l->d, m, ctx(l, "the container of '%s'", e->label),
			     FIELDS("image", "command", "args", "env", "resources", "lifecycle",
				    "configMapAsEnv"),
			     false))
		return;
	struct tr_pipeline_container *c = &e->container;
	c->image = str(l, tr_yaml_get(m, "image"), "image");
	if (!c->image)
		error_at(l, m, "the container of '%s' has no image", e->label);
	load_args(l, tr_yaml_get(m, "command"), "command", &c->command, &c->n_command);
	load_args(l, tr_yaml_get(m, "args"), "args", &c->args, &c->n_args);
	const struct tr_yaml_node *env = tr_yaml_get(m, "env"), *n;
	if (env && tr_fields_seq(l->d, env, "env")) {
		struct tr_pipeline_env *v = tr_arena_alloc(l->s->arena, (env->n + 1) * sizeof(*v));
		for (size_t i = 0; i < env->n; i++) {
			n = env->items[i];
			if (!tr_fields_check(l->d, n, "env item", FIELDS("name", "value"), false))
				continue;
			v[c->n_env].name = str(l, tr_yaml_get(n, "name"), "env name");
			v[c->n_env].value = str(l, tr_yaml_get(n, "value"), "env value");
			if (!v[c->n_env].value)
				v[c->n_env].value = "";
			if (v[c->n_env].name)
				c->n_env++;
			else
				error_at(l, n, "%s needs a name", "env item");
		}
		c->env = v;
	}
	if ((n = tr_yaml_get(m, "resources")))
		load_resources(l, &c->resources, n);
	if ((n = tr_yaml_get(m, "lifecycle")))
		tr_diags_add(l->d, TR_DIAG_WARNING, n->line, n->col,
			     "container lifecycle hooks of '%s' are ignored", e->label);
	if ((n = tr_yaml_get(m, "configMapAsEnv")))
		tr_diags_add(l->d, TR_DIAG_WARNING, n->line, n->col,
			     "configMapAsEnv of '%s' is not honoured by trellis", e->label);
}

static void load_importer(struct ld *l, struct tr_pipeline_executor *e,
			  const struct tr_yaml_node *m)
{
	e->kind = TR_EXEC_IMPORTER;
	if (!tr_fields_check(
		l->d, m, ctx(l, "the importer '%s'", e->label),
		FIELDS("artifactUri", "typeSchema", "metadata", "reimport", "downloadToWorkspace"),
		false))
		return;
	struct tr_pipeline_importer *im = &e->importer;
	const struct tr_yaml_node *n = tr_yaml_get(m, "artifactUri");
	if (n && tr_fields_check(l->d, n, "artifactUri", FIELDS("constant", "runtimeParameter"),
				 false)) {
		const struct tr_yaml_node *c = tr_yaml_get(n, "constant");
		if (c)
			im->uri_constant = tr_pipeline_keep(l->s, tr_yaml_to_json(c));
		im->uri_parameter = str(l, tr_yaml_get(n, "runtimeParameter"), "runtimeParameter");
		if (!c == !im->uri_parameter)
			error_at(l, n, "%s needs exactly one of constant and runtimeParameter",
				 "artifactUri");
	} else if (!n) {
		error_at(l, m, "the importer '%s' has no artifactUri", e->label);
	}
	if ((n = tr_yaml_get(m, "typeSchema")) &&
	    tr_fields_check(l->d, n, "typeSchema",
			    FIELDS("schemaTitle", "schemaVersion", "instanceSchema"), false)) {
		im->schema_title = str(l, tr_yaml_get(n, "schemaTitle"), "schemaTitle");
		im->schema_version = str(l, tr_yaml_get(n, "schemaVersion"), "schemaVersion");
	}
	if (!im->schema_title)
		im->schema_title = "system.Artifact";
	if ((n = tr_yaml_get(m, "metadata")))
		im->metadata = tr_pipeline_keep(l->s, tr_yaml_to_json(n));
	if ((n = tr_yaml_get(m, "reimport")))
		tr_fields_bool(l->d, n, "reimport", &im->reimport);
	if ((n = tr_yaml_get(m, "downloadToWorkspace")))
		tr_fields_bool(l->d, n, "downloadToWorkspace", &im->download_to_workspace);
}

static void load_executors(struct ld *l, const struct tr_yaml_node *ds)
{
	if (!tr_fields_check(l->d, ds, "deploymentSpec", FIELDS("executors"), false))
		return;
	const struct tr_yaml_node *ex = tr_yaml_get(ds, "executors");
	if (!ex || !tr_fields_map(l->d, ex, "executors"))
		return;
	for (size_t i = 0; i < ex->n; i++) {
		const struct tr_yaml_node *k = ex->items[2 * i], *v = ex->items[2 * i + 1];
		if (!tr_fields_check(l->d, v, ctx(l, "executor '%s'", k->str),
				     FIELDS("container", "importer", "resolver", "customJob"),
				     false))
			continue;
		struct tr_pipeline_executor *e = tr_pipeline_add_executor(l->s, k->str, k);
		const struct tr_yaml_node *n;
		if ((n = tr_yaml_get(v, "container")))
			load_container(l, e, n);
		else if ((n = tr_yaml_get(v, "importer")))
			load_importer(l, e, n);
		else if ((n = tr_yaml_get(v, "resolver")) || (n = tr_yaml_get(v, "customJob")))
			error_at(l, n,
				 "executor '%s': resolver and customJob executors are not "
				 "supported (Vertex AI only)",
				 k->str);
		else
			error_at(l, k, "executor '%s' has no container or importer", k->str);
	}
}

/* ---- the platform document ---- */

static void load_platform(struct ld *l, const struct tr_yaml_node *doc)
{
	if (tr_yaml_is_null(doc))
		return;
	if (!tr_fields_check(l->d, doc, "the platform spec", FIELDS("platforms"), false))
		return;
	const struct tr_yaml_node *ps = tr_yaml_get(doc, "platforms");
	if (!ps || !tr_fields_map(l->d, ps, "platforms"))
		return;
	for (size_t i = 0; i < ps->n; i++) {
		const struct tr_yaml_node *k = ps->items[2 * i], *v = ps->items[2 * i + 1];
		if (strcmp(k->str, "kubernetes")) {
			tr_diags_add(l->d, TR_DIAG_WARNING, k->line, k->col,
				     "platform '%s' is ignored by trellis", k->str);
			continue;
		}
		if (!tr_fields_check(l->d, v, "platforms.kubernetes",
				     FIELDS("deploymentSpec", "pipelineConfig"), false))
			continue;
		const struct tr_yaml_node *pc = tr_yaml_get(v, "pipelineConfig");
		if (pc && tr_fields_map(l->d, pc, "pipelineConfig"))
			for (size_t j = 0; j < pc->n; j++)
				tr_diags_add(l->d, TR_DIAG_WARNING, pc->items[2 * j]->line,
					     pc->items[2 * j]->col,
					     "kubernetes pipeline setting '%s' is not honoured by "
					     "trellis",
					     pc->items[2 * j]->str);
		const struct tr_yaml_node *ds = tr_yaml_get(v, "deploymentSpec");
		if (!ds || !tr_fields_check(l->d, ds, "deploymentSpec", FIELDS("executors"), false))
			continue;
		const struct tr_yaml_node *ex = tr_yaml_get(ds, "executors");
		if (!ex || !tr_fields_map(l->d, ex, "executors"))
			continue;
		for (size_t j = 0; j < ex->n; j++) {
			const struct tr_yaml_node *ek = ex->items[2 * j],
						  *ev = ex->items[2 * j + 1];
			if (!tr_pipeline_executor_find(l->s, ek->str))
				error_at(l, ek, "platform settings for unknown executor '%s'",
					 ek->str);
			if (!tr_fields_map(l->d, ev, "executor settings"))
				continue;
			for (size_t f = 0; f < ev->n; f++)
				tr_diags_add(l->d, TR_DIAG_WARNING, ev->items[2 * f]->line,
					     ev->items[2 * f]->col,
					     "kubernetes setting '%s' of executor '%s' is not "
					     "honoured by trellis",
					     ev->items[2 * f]->str, ek->str);
		}
	}
}

void tr_pipeline_load_kfp(struct tr_pipeline_spec *s, struct tr_yaml_node **docs, size_t ndocs,
			  struct tr_diags *diags)
{
	struct ld l = {s, diags};
	const struct tr_yaml_node *doc = docs[0], *n;
	if (!tr_fields_check(diags, doc, "the pipeline spec",
			     FIELDS("pipelineInfo", "root", "components", "deploymentSpec",
				    "schemaVersion", "sdkVersion", "defaultPipelineRoot"),
			     false))
		return;
	const char *sv = str(&l, tr_yaml_get(doc, "schemaVersion"), "schemaVersion");
	s->schema_version = sv;
	if (!tr_yaml_get(doc, "schemaVersion"))
		error_at(&l, doc, "%s", "the pipeline spec has no schemaVersion");
	else if (sv && strcmp(sv, "2.0.0") && strcmp(sv, "2.1.0"))
		error_at(&l, tr_yaml_get(doc, "schemaVersion"),
			 "unsupported schemaVersion '%s' (trellis reads 2.0.0 and 2.1.0)", sv);
	s->sdk_version = str(&l, tr_yaml_get(doc, "sdkVersion"), "sdkVersion");
	s->default_root = str(&l, tr_yaml_get(doc, "defaultPipelineRoot"), "defaultPipelineRoot");
	if ((n = tr_yaml_get(doc, "pipelineInfo")) &&
	    tr_fields_check(diags, n, "pipelineInfo", FIELDS("name", "displayName", "description"),
			    false)) {
		s->name = str(&l, tr_yaml_get(n, "name"), "pipelineInfo.name");
		s->description = str(&l, tr_yaml_get(n, "description"), "pipelineInfo.description");
	}
	if (!s->name)
		error_at(&l, n ? n : doc, "%s", "pipelineInfo.name is required");
	if ((n = tr_yaml_get(doc, "deploymentSpec")))
		load_executors(&l, n);
	const struct tr_yaml_node *comps = tr_yaml_get(doc, "components");
	if (comps && tr_fields_map(diags, comps, "components"))
		for (size_t i = 0; i < comps->n; i++)
			load_component(&l, comps->items[2 * i]->str, comps->items[2 * i],
				       comps->items[2 * i + 1], false);
	const struct tr_yaml_node *root = tr_yaml_get(doc, "root");
	if (!root)
		error_at(&l, doc, "%s", "the pipeline spec has no root");
	else
		load_component(&l, "root", root, root, true);
	if (s->root && !s->root->dag)
		error_at(&l, root, "%s", "root must have a dag");
	if (ndocs > 1)
		load_platform(&l, docs[1]);
}
