/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline model's lifecycle and accessors, and the entry point that
 * reads a file, picks the loader by the file's shape and runs the checks.
 * A spec is only handed out when the checks found no error, so everything
 * downstream may rely on the invariants stated in spec.h.
 */
#include "pipeline/spec.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "pipeline/cel.h"
#include "pipeline/diag.h"
#include "pipeline/spec_impl.h"
#include "pipeline/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void *tr_pipeline_vec_grow(struct tr_arena *a, void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *q = tr_arena_alloc(a, ncap * size);
	if (n)
		memcpy(q, p, n * size);
	*cap = ncap;
	return q;
}

struct tr_pipeline_spec *tr_pipeline_spec_new(enum tr_pipeline_format format)
{
	struct tr_pipeline_spec *s = tr_xcalloc(1, sizeof(*s));
	s->arena = tr_arena_new();
	s->format = format;
	s->max_tasks = TR_PIPELINE_MAX_TASKS;
	return s;
}

void tr_pipeline_spec_free(struct tr_pipeline_spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_owned; i++)
		json_decref(s->owned[i]);
	free(s->owned);
	tr_arena_free(s->arena);
	free(s);
}

json_t *tr_pipeline_keep(struct tr_pipeline_spec *s, json_t *v)
{
	if (!v)
		return NULL;
	if (s->n_owned == s->cap_owned) {
		s->cap_owned = s->cap_owned ? s->cap_owned * 2 : 32;
		s->owned = tr_xrealloc(s->owned, s->cap_owned * sizeof(*s->owned));
	}
	s->owned[s->n_owned++] = v;
	return v;
}

struct tr_pipeline_component *tr_pipeline_add_component(struct tr_pipeline_spec *s,
							const char *name,
							const struct tr_yaml_node *n)
{
	struct tr_pipeline_component *c = tr_arena_alloc(s->arena, sizeof(*c));
	c->name = name;
	c->line = n ? n->line : 0;
	c->col = n ? n->col : 0;
	*TR_VEC_PUSH(s->arena, s->components, s->n_components, s->cap_components) = c;
	return c;
}

struct tr_pipeline_executor *tr_pipeline_add_executor(struct tr_pipeline_spec *s, const char *label,
						      const struct tr_yaml_node *n)
{
	struct tr_pipeline_executor *e = tr_arena_alloc(s->arena, sizeof(*e));
	e->label = label;
	e->line = n ? n->line : 0;
	e->col = n ? n->col : 0;
	*TR_VEC_PUSH(s->arena, s->executors, s->n_executors, s->cap_executors) = e;
	return e;
}

struct tr_pipeline_dag *tr_pipeline_add_dag(struct tr_pipeline_spec *s,
					    struct tr_pipeline_component *owner,
					    const struct tr_yaml_node *n)
{
	struct tr_pipeline_dag *d = tr_arena_alloc(s->arena, sizeof(*d));
	d->owner = owner;
	d->line = n ? n->line : 0;
	d->col = n ? n->col : 0;
	owner->dag = d;
	return d;
}

struct tr_pipeline_task *tr_pipeline_add_task(struct tr_pipeline_spec *s, struct tr_pipeline_dag *d,
					      const char *name, const struct tr_yaml_node *n)
{
	struct tr_pipeline_task *t = tr_arena_alloc(s->arena, sizeof(*t));
	t->name = name;
	t->display_name = name;
	t->dag = d;
	t->cache_enabled = false;
	t->line = n ? n->line : 0;
	t->col = n ? n->col : 0;
	t->index = d->n_tasks;
	*TR_VEC_PUSH(s->arena, d->tasks, d->n_tasks, d->cap_tasks) = t;
	s->n_tasks++;
	return t;
}

struct tr_pipeline_executor *tr_pipeline_executor_find(const struct tr_pipeline_spec *s,
						       const char *label)
{
	for (size_t i = 0; i < s->n_executors; i++)
		if (!strcmp(s->executors[i]->label, label))
			return s->executors[i];
	return NULL;
}

static const char *const type_names[] = {
    [TR_PARAM_STRING] = "STRING",
    [TR_PARAM_INT] = "NUMBER_INTEGER",
    [TR_PARAM_DOUBLE] = "NUMBER_DOUBLE",
    [TR_PARAM_BOOL] = "BOOLEAN",
    [TR_PARAM_LIST] = "LIST",
    [TR_PARAM_STRUCT] = "STRUCT",
    [TR_PARAM_TASK_FINAL_STATUS] = "TASK_FINAL_STATUS",
    [TR_PARAM_TASK_CONFIG] = "TASK_CONFIG",
};

const char *tr_param_type_name(enum tr_param_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

bool tr_param_type_parse(const char *name, enum tr_param_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (!strcmp(name, type_names[i])) {
			*out = (enum tr_param_type)i;
			return true;
		}
	return false;
}

bool tr_pipeline_parse_duration(const char *s, int64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0 || strchr("+-", *s))
		return false;
	double unit = 1000;
	if (!strcmp(end, "ms"))
		unit = 1;
	else if (!strcmp(end, "m"))
		unit = 60000;
	else if (!strcmp(end, "h"))
		unit = 3600000;
	else if (!strcmp(end, "d"))
		unit = 86400000;
	else if (*end && strcmp(end, "s"))
		return false;
	if (v * unit > 9.2e15)
		return false;
	*ms = (int64_t)llround(v * unit);
	return true;
}

/* ---- loading ---- */

enum tr_err tr_pipeline_load_buf(const char *buf, size_t len,
				 const struct tr_pipeline_limits *limits,
				 struct tr_pipeline_spec **out, struct tr_diags *diags)
{
	static const struct tr_pipeline_limits deflim = TR_PIPELINE_LIMITS_INIT;
	if (!limits)
		limits = &deflim;
	*out = NULL;
	struct tr_yaml_limits ylim = {limits->max_bytes, limits->max_depth, limits->max_aliases,
				      limits->max_nodes, 2};
	/* The YAML tree lives in the spec's arena: the model's names and texts
	 * point into it, so the parse and the spec share one lifetime. */
	struct tr_pipeline_spec *s = tr_pipeline_spec_new(TR_PIPELINE_KFP);
	struct tr_yaml_node **docs;
	size_t ndocs;
	enum tr_err rc = TR_ERR_INVALID_PARAMETER_VALUE;
	size_t before = diags->errors; /* the reader reports duplicate keys and goes on */
	if (!tr_yaml_load_buf(buf, len, &ylim, s->arena, &docs, &ndocs, diags))
		goto out;
	if (!ndocs || docs[0]->kind != TR_YAML_MAP) {
		tr_diags_add(diags, TR_DIAG_ERROR, ndocs ? docs[0]->line : 1,
			     ndocs ? docs[0]->col : 1, "a pipeline file holds a mapping");
		goto out;
	}
	bool kfp = tr_yaml_get(docs[0], "pipelineInfo") || tr_yaml_get(docs[0], "root") ||
		   tr_yaml_get(docs[0], "deploymentSpec");
	s->format = kfp ? TR_PIPELINE_KFP : TR_PIPELINE_TRELLIS;
	s->max_tasks = limits->max_tasks;
	if (kfp) {
		tr_pipeline_load_kfp(s, docs, ndocs, diags);
	} else if (ndocs > 1) {
		tr_diags_add(diags, TR_DIAG_ERROR, docs[1]->line, docs[1]->col,
			     "a trellis pipeline is one yaml document");
	} else {
		tr_pipeline_load_trellis(s, docs[0], diags);
	}
	if (s->n_tasks > s->max_tasks) {
		tr_diags_add(diags, TR_DIAG_ERROR, 0, 0, "too many tasks: %zu (limit %zu per run)",
			     s->n_tasks, s->max_tasks);
	} else if (s->root) {
		tr_pipeline_check(s, diags);
	}
	if (diags->errors == before) {
		*out = s;
		s = NULL;
		rc = TR_OK;
	}
out:
	tr_pipeline_spec_free(s);
	return rc;
}

enum tr_err tr_pipeline_load_file(const char *path, const struct tr_pipeline_limits *limits,
				  struct tr_pipeline_spec **out, struct tr_diags *diags)
{
	static const struct tr_pipeline_limits deflim = TR_PIPELINE_LIMITS_INIT;
	if (!limits)
		limits = &deflim;
	*out = NULL;
	if (!diags->file)
		diags->file = path;
	FILE *f = fopen(path, "rb");
	if (!f) {
		tr_diags_add(diags, TR_DIAG_ERROR, 0, 0, "cannot open '%s': %s", path,
			     strerror(errno));
		return TR_ERR_IO_ERROR;
	}
	/* refuse before reading: the size limit protects memory too */
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		if (size >= 0 && (size_t)size > limits->max_bytes) {
			tr_diags_add(diags, TR_DIAG_ERROR, 0, 0,
				     "file too large: %ld bytes (limit %zu)", size,
				     limits->max_bytes);
			fclose(f);
			return TR_ERR_INVALID_PARAMETER_VALUE;
		}
		rewind(f);
	}
	char *buf = tr_xmalloc(limits->max_bytes + 1);
	size_t len = fread(buf, 1, limits->max_bytes + 1, f);
	bool bad = ferror(f);
	fclose(f);
	enum tr_err rc;
	if (bad) {
		tr_diags_add(diags, TR_DIAG_ERROR, 0, 0, "cannot read '%s'", path);
		rc = TR_ERR_IO_ERROR;
	} else {
		rc = tr_pipeline_load_buf(buf, len, limits, out, diags);
	}
	free(buf);
	return rc;
}

/* ---- accessors ---- */

enum tr_pipeline_format tr_pipeline_format(const struct tr_pipeline_spec *s)
{
	return s->format;
}
const char *tr_pipeline_name(const struct tr_pipeline_spec *s)
{
	return s->name;
}
const char *tr_pipeline_description(const struct tr_pipeline_spec *s)
{
	return s->description;
}
const char *tr_pipeline_schema_version(const struct tr_pipeline_spec *s)
{
	return s->schema_version;
}
const char *tr_pipeline_sdk_version(const struct tr_pipeline_spec *s)
{
	return s->sdk_version;
}
const char *tr_pipeline_default_root(const struct tr_pipeline_spec *s)
{
	return s->default_root;
}
int64_t tr_pipeline_timeout_ms(const struct tr_pipeline_spec *s)
{
	return s->timeout_ms;
}
const struct tr_pipeline_component *tr_pipeline_root(const struct tr_pipeline_spec *s)
{
	return s->root;
}
size_t tr_pipeline_task_count(const struct tr_pipeline_spec *s)
{
	return s->n_tasks;
}
size_t tr_pipeline_component_count(const struct tr_pipeline_spec *s)
{
	return s->n_components;
}
const struct tr_pipeline_component *tr_pipeline_component_at(const struct tr_pipeline_spec *s,
							     size_t i)
{
	return i < s->n_components ? s->components[i] : NULL;
}
const struct tr_pipeline_component *tr_pipeline_component_find(const struct tr_pipeline_spec *s,
							       const char *name)
{
	for (size_t i = 0; i < s->n_components; i++)
		if (!strcmp(s->components[i]->name, name))
			return s->components[i];
	return NULL;
}

const char *tr_pipeline_component_name(const struct tr_pipeline_component *c)
{
	return c->name;
}
size_t tr_pipeline_component_n_inputs(const struct tr_pipeline_component *c)
{
	return c->n_inputs;
}
const struct tr_pipeline_io *tr_pipeline_component_input(const struct tr_pipeline_component *c,
							 size_t i)
{
	return i < c->n_inputs ? &c->inputs[i] : NULL;
}
const struct tr_pipeline_io *tr_pipeline_component_input_find(const struct tr_pipeline_component *c,
							      const char *name)
{
	for (size_t i = 0; i < c->n_inputs; i++)
		if (!strcmp(c->inputs[i].name, name))
			return &c->inputs[i];
	return NULL;
}
size_t tr_pipeline_component_n_outputs(const struct tr_pipeline_component *c)
{
	return c->n_outputs;
}
const struct tr_pipeline_io *tr_pipeline_component_output(const struct tr_pipeline_component *c,
							  size_t i)
{
	return i < c->n_outputs ? &c->outputs[i] : NULL;
}
const struct tr_pipeline_io *
tr_pipeline_component_output_find(const struct tr_pipeline_component *c, const char *name)
{
	for (size_t i = 0; i < c->n_outputs; i++)
		if (!strcmp(c->outputs[i].name, name))
			return &c->outputs[i];
	return NULL;
}
const struct tr_pipeline_executor *
tr_pipeline_component_executor(const struct tr_pipeline_component *c)
{
	return c->executor;
}
const struct tr_pipeline_dag *tr_pipeline_component_dag(const struct tr_pipeline_component *c)
{
	return c->dag;
}

const char *tr_pipeline_executor_label(const struct tr_pipeline_executor *e)
{
	return e->label;
}
enum tr_executor_kind tr_pipeline_executor_kind(const struct tr_pipeline_executor *e)
{
	return e->kind;
}
const struct tr_pipeline_container *
tr_pipeline_executor_container(const struct tr_pipeline_executor *e)
{
	return e->kind == TR_EXEC_CONTAINER ? &e->container : NULL;
}
const struct tr_pipeline_importer *
tr_pipeline_executor_importer(const struct tr_pipeline_executor *e)
{
	return e->kind == TR_EXEC_IMPORTER ? &e->importer : NULL;
}

size_t tr_pipeline_dag_n_tasks(const struct tr_pipeline_dag *d)
{
	return d->n_tasks;
}
const struct tr_pipeline_task *tr_pipeline_dag_task(const struct tr_pipeline_dag *d, size_t i)
{
	return i < d->n_tasks ? d->tasks[i] : NULL;
}
const struct tr_pipeline_task *tr_pipeline_dag_task_find(const struct tr_pipeline_dag *d,
							 const char *name)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (!strcmp(d->tasks[i]->name, name))
			return d->tasks[i];
	return NULL;
}
size_t tr_pipeline_dag_n_outputs(const struct tr_pipeline_dag *d)
{
	return d->n_outputs;
}
const struct tr_pipeline_dag_output *tr_pipeline_dag_output(const struct tr_pipeline_dag *d,
							    size_t i)
{
	return i < d->n_outputs ? &d->outputs[i] : NULL;
}

const char *tr_pipeline_task_name(const struct tr_pipeline_task *t)
{
	return t->name;
}
const char *tr_pipeline_task_display_name(const struct tr_pipeline_task *t)
{
	return t->display_name ? t->display_name : t->name;
}
const struct tr_pipeline_component *tr_pipeline_task_component(const struct tr_pipeline_task *t)
{
	return t->component;
}
size_t tr_pipeline_task_index(const struct tr_pipeline_task *t)
{
	return t->index;
}
size_t tr_pipeline_task_n_bindings(const struct tr_pipeline_task *t)
{
	return t->n_bindings;
}
const struct tr_pipeline_binding *tr_pipeline_task_binding(const struct tr_pipeline_task *t,
							   size_t i)
{
	return i < t->n_bindings ? &t->bindings[i] : NULL;
}
const struct tr_pipeline_binding *tr_pipeline_task_binding_find(const struct tr_pipeline_task *t,
								const char *name, bool artifact)
{
	for (size_t i = 0; i < t->n_bindings; i++)
		if (t->bindings[i].artifact == artifact && !strcmp(t->bindings[i].name, name))
			return &t->bindings[i];
	return NULL;
}
size_t tr_pipeline_task_n_deps(const struct tr_pipeline_task *t)
{
	return t->n_deps;
}
size_t tr_pipeline_task_dep(const struct tr_pipeline_task *t, size_t i)
{
	return t->deps[i];
}
const struct tr_cel *tr_pipeline_task_condition(const struct tr_pipeline_task *t)
{
	return t->condition;
}
const char *tr_pipeline_task_condition_text(const struct tr_pipeline_task *t)
{
	return t->condition_text;
}
enum tr_trigger_strategy tr_pipeline_task_strategy(const struct tr_pipeline_task *t)
{
	return t->strategy;
}
const struct tr_pipeline_iterator *tr_pipeline_task_iterator(const struct tr_pipeline_task *t)
{
	return &t->iterator;
}
const struct tr_pipeline_retry *tr_pipeline_task_retry(const struct tr_pipeline_task *t)
{
	return t->has_retry ? &t->retry : NULL;
}
bool tr_pipeline_task_cache_enabled(const struct tr_pipeline_task *t)
{
	return t->cache_enabled;
}
const char *tr_pipeline_task_cache_key(const struct tr_pipeline_task *t)
{
	return t->cache_key;
}
int64_t tr_pipeline_task_timeout_ms(const struct tr_pipeline_task *t)
{
	return t->timeout_ms;
}
int tr_pipeline_task_line(const struct tr_pipeline_task *t)
{
	return t->line;
}
