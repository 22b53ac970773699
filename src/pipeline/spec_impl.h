/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The concrete pipeline model, shared by the files that build and check it
 * (spec.c, kfp_ir.c, trellis_yaml.c, check.c). Everything lives in the
 * spec's arena, the YAML tree it was read from included (names and texts
 * point into it), except the JSON values, which the spec holds one reference
 * to each (spec->owned) and releases when it is freed.
 */
#ifndef TR_PIPELINE_SPEC_IMPL_H
#define TR_PIPELINE_SPEC_IMPL_H

#include "pipeline/spec.h"

struct tr_arena;
struct tr_yaml_node;

/* A name written in the file, with its position (for "unknown X" errors). */
struct tr_pipeline_ref {
	const char *name;
	int line, col;
};

struct tr_pipeline_executor {
	const char *label;
	enum tr_executor_kind kind;
	struct tr_pipeline_container container;
	struct tr_pipeline_importer importer;
	int line, col;
};

struct tr_pipeline_component {
	const char *name;
	struct tr_pipeline_io *inputs;
	size_t n_inputs, cap_inputs;
	struct tr_pipeline_io *outputs;
	size_t n_outputs, cap_outputs;
	struct tr_pipeline_ref executor_label; /* name NULL when a DAG */
	struct tr_pipeline_executor *executor;
	struct tr_pipeline_dag *dag;
	int line, col;
	int visit; /* check.c: 0 new, 1 on the walk, 2 done */
};

struct tr_pipeline_dag {
	struct tr_pipeline_component *owner;
	struct tr_pipeline_task **tasks; /* topological order once checked */
	size_t n_tasks, cap_tasks;
	struct tr_pipeline_dag_output *outputs;
	size_t n_outputs, cap_outputs;
	int line, col;
};

struct tr_pipeline_task {
	const char *name;
	const char *display_name;
	struct tr_pipeline_ref component_ref;
	struct tr_pipeline_component *component;
	struct tr_pipeline_dag *dag; /* the DAG this task belongs to */
	struct tr_pipeline_binding *bindings;
	size_t n_bindings, cap_bindings;
	struct tr_pipeline_ref *after; /* dependentTasks / needs, as written */
	size_t n_after, cap_after;
	size_t *deps; /* resolved, indices into dag->tasks */
	size_t n_deps;
	size_t index;
	const char *condition_text;
	struct tr_cel *condition;
	int cond_line, cond_col;
	enum tr_trigger_strategy strategy;
	struct tr_pipeline_iterator iterator;
	int iter_line, iter_col;
	struct tr_pipeline_retry retry;
	bool has_retry;
	bool cache_enabled;
	const char *cache_key;
	int64_t timeout_ms;
	int line, col;
};

struct tr_pipeline_spec {
	struct tr_arena *arena;
	enum tr_pipeline_format format;
	const char *name, *description, *schema_version, *sdk_version, *default_root;
	int64_t timeout_ms;
	struct tr_pipeline_component *root;
	struct tr_pipeline_component **components;
	size_t n_components, cap_components;
	struct tr_pipeline_executor **executors;
	size_t n_executors, cap_executors;
	json_t **owned;
	size_t n_owned, cap_owned;
	size_t n_tasks;
	size_t max_tasks;
};

/* Grows an arena array P of *CAP elements of SIZE bytes so that one more
 * fits after N; returns the (possibly moved) array. */
void *tr_pipeline_vec_grow(struct tr_arena *a, void *p, size_t n, size_t *cap, size_t size);
#define TR_VEC_PUSH(arena, arr, n, cap)                                                            \
	((arr) = tr_pipeline_vec_grow((arena), (arr), (n), &(cap), sizeof(*(arr))), &(arr)[(n)++])

/* A new empty spec with its arena. */
struct tr_pipeline_spec *tr_pipeline_spec_new(enum tr_pipeline_format format);
/* Keeps V (a new reference) until the spec is freed; returns V. */
json_t *tr_pipeline_keep(struct tr_pipeline_spec *s, json_t *v);
/* A new component/executor/dag/task in S (zeroed, positioned at N). */
struct tr_pipeline_component *tr_pipeline_add_component(struct tr_pipeline_spec *s,
							const char *name,
							const struct tr_yaml_node *n);
struct tr_pipeline_executor *tr_pipeline_add_executor(struct tr_pipeline_spec *s, const char *label,
						      const struct tr_yaml_node *n);
struct tr_pipeline_dag *tr_pipeline_add_dag(struct tr_pipeline_spec *s,
					    struct tr_pipeline_component *owner,
					    const struct tr_yaml_node *n);
struct tr_pipeline_task *tr_pipeline_add_task(struct tr_pipeline_spec *s, struct tr_pipeline_dag *d,
					      const char *name, const struct tr_yaml_node *n);
struct tr_pipeline_executor *tr_pipeline_executor_find(const struct tr_pipeline_spec *s,
						       const char *label);
/* Parses a KFP type name ("NUMBER_INTEGER"); false when unknown. */
bool tr_param_type_parse(const char *name, enum tr_param_type *out);
/* Parses "10s", "1.5s", "500ms", "2m", "1h", "1d" (a bare number is seconds). */
bool tr_pipeline_parse_duration(const char *s, int64_t *ms);

/* The loaders: fill S from the YAML documents; every problem goes to DIAGS. */
void tr_pipeline_load_kfp(struct tr_pipeline_spec *s, struct tr_yaml_node **docs, size_t ndocs,
			  struct tr_diags *diags);
void tr_pipeline_load_trellis(struct tr_pipeline_spec *s, struct tr_yaml_node *doc,
			      struct tr_diags *diags);
/* Format-independent checks (check.c): resolves references, orders each DAG
 * topologically, parses conditions and selectors, checks types. */
void tr_pipeline_check(struct tr_pipeline_spec *s, struct tr_diags *diags);

#endif
