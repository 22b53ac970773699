/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one in-memory pipeline model, loaded from a KFP v2 IR file (both
 * documents) or from Trellis YAML. It is KFP-shaped: a pipeline is a root
 * component whose DAG holds tasks; a task calls a component, which either
 * runs an executor (a container or an importer) or is itself a DAG (a nested
 * pipeline, a condition branch or a ParallelFor body). Trellis YAML is lowered
 * into the same shapes, so the resolver and the scheduler walk one model.
 *
 * Lifecycle: tr_pipeline_load_file() (or _load_buf) -> read with the
 * accessors below -> tr_pipeline_spec_free(). A loaded spec is validated and
 * immutable, so it may be read from several threads at once. Every pointer an
 * accessor returns is borrowed and valid until the spec is freed.
 *
 * Invariants of a loaded spec: every task names an existing component; every
 * component has exactly one of an executor or a DAG; every producer a binding
 * or a DAG output names is a sibling task; each DAG's tasks, in the order of
 * tr_pipeline_dag_task(), are topologically sorted (dependencies first); every
 * condition and selector is parsed.
 */
#ifndef TR_PIPELINE_SPEC_H
#define TR_PIPELINE_SPEC_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_diags;
struct tr_cel;

struct tr_pipeline_spec;
struct tr_pipeline_component;
struct tr_pipeline_dag;
struct tr_pipeline_task;
struct tr_pipeline_executor;

/* Limits applied while loading. A file over a limit is refused with a clear
 * message; the defaults are documented in docs/pipelines.md. */
struct tr_pipeline_limits {
	size_t max_bytes;   /* file size (10 MiB) */
	int max_depth;	    /* YAML nesting (40) */
	size_t max_aliases; /* YAML alias uses (256) */
	size_t max_nodes;   /* YAML nodes with aliases expanded (2,000,000) */
	size_t max_tasks;   /* tasks in all DAGs together (10,000) */
};

#define TR_PIPELINE_MAX_TASKS 10000
#define TR_PIPELINE_LIMITS_INIT                                                                    \
	{                                                                                          \
		10u * 1024 * 1024, 40, 256, 2000000, TR_PIPELINE_MAX_TASKS                         \
	}

enum tr_pipeline_format { TR_PIPELINE_KFP, TR_PIPELINE_TRELLIS };

/* KFP parameter types (ParameterType.ParameterTypeEnum). */
enum tr_param_type {
	TR_PARAM_STRING,
	TR_PARAM_INT,	 /* NUMBER_INTEGER */
	TR_PARAM_DOUBLE, /* NUMBER_DOUBLE */
	TR_PARAM_BOOL,
	TR_PARAM_LIST,
	TR_PARAM_STRUCT,
	TR_PARAM_TASK_FINAL_STATUS,
	TR_PARAM_TASK_CONFIG,
};

/* A declared input or output of a component. */
struct tr_pipeline_io {
	const char *name;
	bool artifact;		    /* an artifact, else a parameter */
	enum tr_param_type type;    /* parameters */
	const char *schema_title;   /* artifacts: "system.Dataset", ... */
	const char *schema_version; /* artifacts */
	bool is_list;		    /* artifacts: isArtifactList */
	bool optional;		    /* isOptional */
	bool loop_item;		    /* a loop's item input: the KFP compiler declares an untyped
				       list's items STRING, so its type is not checked */
	json_t *default_value;	    /* parameters: NULL when none; borrowed */
	const char *description;    /* or NULL */
	int line, col;
};

enum tr_binding_kind {
	TR_BIND_CONSTANT,	 /* runtimeValue.constant (may hold {{$...}} placeholders) */
	TR_BIND_COMPONENT_INPUT, /* componentInputParameter / componentInputArtifact */
	TR_BIND_TASK_OUTPUT,	 /* taskOutputParameter / taskOutputArtifact */
	TR_BIND_TASK_FINAL_STATUS,
};

/* One input of a task: where its value comes from. */
struct tr_pipeline_binding {
	const char *name; /* the input's name (may be an undeclared pipelinechannel--) */
	bool artifact;
	enum tr_binding_kind kind;
	json_t *constant;		    /* CONSTANT; borrowed */
	bool has_placeholders;		    /* CONSTANT is a string with {{$...}} (f-string) */
	const char *parent_input;	    /* COMPONENT_INPUT: the enclosing DAG's input */
	const char *producer;		    /* TASK_OUTPUT, TASK_FINAL_STATUS: a sibling task */
	const char *output_key;		    /* TASK_OUTPUT */
	const char *selector;		    /* parameterExpressionSelector source, or NULL */
	const struct tr_cel *selector_expr; /* parsed selector, or NULL */
	int line, col;
};

/* A command or args element. KFP's {"Concat": [...]} and {"IfPresent": ...}
 * structures are parsed at load time. */
enum tr_arg_kind { TR_ARG_STRING, TR_ARG_CONCAT, TR_ARG_IF_PRESENT };
struct tr_pipeline_arg {
	enum tr_arg_kind kind;
	const char *text;	       /* STRING: may hold {{$...}} placeholders */
	const char *input_name;	       /* IF_PRESENT */
	struct tr_pipeline_arg *items; /* CONCAT items; IF_PRESENT "Then" */
	size_t n_items;
	struct tr_pipeline_arg *else_items; /* IF_PRESENT "Else" */
	size_t n_else;
	bool has_else;
	int line, col; /* where the element is written */
};

struct tr_pipeline_env {
	const char *name, *value;
};

/* Resource strings as written ("500m", "1Gi", "2"); NULL when unset. */
struct tr_pipeline_resources {
	const char *cpu_limit, *cpu_request;
	const char *memory_limit, *memory_request;
	const char *accelerator_type, *accelerator_count;
};

enum tr_executor_kind { TR_EXEC_CONTAINER, TR_EXEC_IMPORTER };

struct tr_pipeline_container {
	const char *image; /* NULL: run on the host */
	const struct tr_pipeline_arg *command;
	size_t n_command;
	const struct tr_pipeline_arg *args;
	size_t n_args;
	const struct tr_pipeline_env *env;
	size_t n_env;
	struct tr_pipeline_resources resources;
};

struct tr_pipeline_importer {
	json_t *uri_constant;	   /* artifactUri.constant, or NULL; borrowed */
	const char *uri_parameter; /* artifactUri.runtimeParameter, or NULL */
	const char *schema_title, *schema_version;
	json_t *metadata; /* may hold placeholders; NULL when none; borrowed */
	bool reimport;
	bool download_to_workspace;
};

enum tr_trigger_strategy {
	TR_TRIGGER_ALL_UPSTREAM_SUCCEEDED, /* the default */
	TR_TRIGGER_ALL_UPSTREAM_COMPLETED, /* exit handlers, ignore_upstream_failure */
};

enum tr_iterator_kind { TR_ITER_NONE, TR_ITER_PARAMETER, TR_ITER_ARTIFACT };

struct tr_pipeline_iterator {
	enum tr_iterator_kind kind;
	json_t *raw_items;	 /* PARAMETER over a constant list (parsed `raw`), or NULL */
	const char *items_input; /* the task's input holding the list, or NULL */
	const char *item_input;	 /* the body DAG's input receiving one item */
	int64_t parallelism;	 /* 0: unlimited */
};

struct tr_pipeline_retry {
	int64_t max_retries;	/* 0: no retry */
	int64_t backoff_ms;	/* first delay (default 0) */
	double factor;		/* default 2 */
	int64_t max_backoff_ms; /* default 3,600,000 */
};

/* One output of a DAG (dag.outputs): values selected from its tasks. With
 * several selectors exactly one must have produced a value (dsl.OneOf). */
struct tr_pipeline_selector {
	const char *producer, *output_key;
};
struct tr_pipeline_dag_output {
	const char *name;
	bool artifact;
	const struct tr_pipeline_selector *selectors;
	size_t n_selectors;
	int line, col;
};

/* ---- loading ---- */

/*
 * Loads and validates the pipeline in the file at PATH, detecting its format
 * (a KFP IR file has `pipelineInfo` and `root`; a Trellis file `steps`).
 * LIMITS may be NULL for the defaults. Every problem and warning is added to
 * DIAGS with its position. On success returns TR_OK and a new spec in *OUT;
 * free with tr_pipeline_spec_free(). An invalid pipeline gives
 * TR_ERR_INVALID_PARAMETER_VALUE and no spec; an unreadable file
 * TR_ERR_IO_ERROR.
 */
enum tr_err tr_pipeline_load_file(const char *path, const struct tr_pipeline_limits *limits,
				  struct tr_pipeline_spec **out /* OUT */, struct tr_diags *diags)
    __attribute__((warn_unused_result));
/* The same from LEN bytes of YAML text. */
enum tr_err tr_pipeline_load_buf(const char *buf, size_t len,
				 const struct tr_pipeline_limits *limits,
				 struct tr_pipeline_spec **out /* OUT */, struct tr_diags *diags)
    __attribute__((warn_unused_result));
/* Frees SPEC and everything it holds. NULL is a no-op. */
void tr_pipeline_spec_free(struct tr_pipeline_spec *spec);

/* ---- the pipeline ---- */

enum tr_pipeline_format tr_pipeline_format(const struct tr_pipeline_spec *s);
/* pipelineInfo.name, or the Trellis `name:`. */
const char *tr_pipeline_name(const struct tr_pipeline_spec *s);
/* Description, or NULL. */
const char *tr_pipeline_description(const struct tr_pipeline_spec *s);
/* schemaVersion ("2.0.0", "2.1.0"), or NULL for Trellis YAML. */
const char *tr_pipeline_schema_version(const struct tr_pipeline_spec *s);
/* sdkVersion, or NULL. */
const char *tr_pipeline_sdk_version(const struct tr_pipeline_spec *s);
/* defaultPipelineRoot, or NULL. */
const char *tr_pipeline_default_root(const struct tr_pipeline_spec *s);
/* The pipeline-level timeout in milliseconds; 0 when none. */
int64_t tr_pipeline_timeout_ms(const struct tr_pipeline_spec *s);
/* The root component: its inputs are the pipeline parameters, its DAG the pipeline. */
const struct tr_pipeline_component *tr_pipeline_root(const struct tr_pipeline_spec *s);
/* Tasks in all DAGs together (what the task cap counts). */
size_t tr_pipeline_task_count(const struct tr_pipeline_spec *s);
size_t tr_pipeline_component_count(const struct tr_pipeline_spec *s);
const struct tr_pipeline_component *tr_pipeline_component_at(const struct tr_pipeline_spec *s,
							     size_t i);
/* The component named NAME ("comp-train"), or NULL. */
const struct tr_pipeline_component *tr_pipeline_component_find(const struct tr_pipeline_spec *s,
							       const char *name);

/* ---- components ---- */

const char *tr_pipeline_component_name(const struct tr_pipeline_component *c);
/* Inputs (parameters first, then artifacts) and outputs, as declared. */
size_t tr_pipeline_component_n_inputs(const struct tr_pipeline_component *c);
const struct tr_pipeline_io *tr_pipeline_component_input(const struct tr_pipeline_component *c,
							 size_t i);
/* The declared input NAME, or NULL. */
const struct tr_pipeline_io *tr_pipeline_component_input_find(const struct tr_pipeline_component *c,
							      const char *name);
size_t tr_pipeline_component_n_outputs(const struct tr_pipeline_component *c);
const struct tr_pipeline_io *tr_pipeline_component_output(const struct tr_pipeline_component *c,
							  size_t i);
const struct tr_pipeline_io *
tr_pipeline_component_output_find(const struct tr_pipeline_component *c, const char *name);
/* Exactly one of these is non-NULL. */
const struct tr_pipeline_executor *
tr_pipeline_component_executor(const struct tr_pipeline_component *c);
const struct tr_pipeline_dag *tr_pipeline_component_dag(const struct tr_pipeline_component *c);

/* ---- executors ---- */

/* The deploymentSpec label ("exec-train"). */
const char *tr_pipeline_executor_label(const struct tr_pipeline_executor *e);
enum tr_executor_kind tr_pipeline_executor_kind(const struct tr_pipeline_executor *e);
/* Non-NULL for the matching kind only. */
const struct tr_pipeline_container *
tr_pipeline_executor_container(const struct tr_pipeline_executor *e);
const struct tr_pipeline_importer *
tr_pipeline_executor_importer(const struct tr_pipeline_executor *e);

/* ---- DAGs ---- */

/* Tasks in topological order: every task comes after the tasks it depends on. */
size_t tr_pipeline_dag_n_tasks(const struct tr_pipeline_dag *d);
const struct tr_pipeline_task *tr_pipeline_dag_task(const struct tr_pipeline_dag *d, size_t i);
/* The task named NAME in this DAG (not in nested ones), or NULL. */
const struct tr_pipeline_task *tr_pipeline_dag_task_find(const struct tr_pipeline_dag *d,
							 const char *name);
size_t tr_pipeline_dag_n_outputs(const struct tr_pipeline_dag *d);
const struct tr_pipeline_dag_output *tr_pipeline_dag_output(const struct tr_pipeline_dag *d,
							    size_t i);

/* ---- tasks ---- */

/* The name other tasks use (the map key, or the Trellis step name). */
const char *tr_pipeline_task_name(const struct tr_pipeline_task *t);
/* taskInfo.name; the name when none. */
const char *tr_pipeline_task_display_name(const struct tr_pipeline_task *t);
const struct tr_pipeline_component *tr_pipeline_task_component(const struct tr_pipeline_task *t);
/* This task's position in its DAG's topological order. */
size_t tr_pipeline_task_index(const struct tr_pipeline_task *t);
size_t tr_pipeline_task_n_bindings(const struct tr_pipeline_task *t);
const struct tr_pipeline_binding *tr_pipeline_task_binding(const struct tr_pipeline_task *t,
							   size_t i);
const struct tr_pipeline_binding *tr_pipeline_task_binding_find(const struct tr_pipeline_task *t,
								const char *name, bool artifact);
/* Sibling tasks to wait for, as indices into the DAG's order (always smaller
 * than this task's index): dependentTasks plus every data producer. */
size_t tr_pipeline_task_n_deps(const struct tr_pipeline_task *t);
size_t tr_pipeline_task_dep(const struct tr_pipeline_task *t, size_t i);
/* triggerPolicy.condition: parsed expression and its source; NULL when none. */
const struct tr_cel *tr_pipeline_task_condition(const struct tr_pipeline_task *t);
const char *tr_pipeline_task_condition_text(const struct tr_pipeline_task *t);
enum tr_trigger_strategy tr_pipeline_task_strategy(const struct tr_pipeline_task *t);
/* Never NULL; kind TR_ITER_NONE for a task that is not a loop. */
const struct tr_pipeline_iterator *tr_pipeline_task_iterator(const struct tr_pipeline_task *t);
/* NULL when the task has no retry policy. */
const struct tr_pipeline_retry *tr_pipeline_task_retry(const struct tr_pipeline_task *t);
/* cachingOptions.enableCache (Trellis `cache:`), and cacheKey or NULL. */
bool tr_pipeline_task_cache_enabled(const struct tr_pipeline_task *t);
const char *tr_pipeline_task_cache_key(const struct tr_pipeline_task *t);
/* Per-task timeout in milliseconds (Trellis `timeout:`); 0 when none. */
int64_t tr_pipeline_task_timeout_ms(const struct tr_pipeline_task *t);
/* Where the task is defined in the file. */
int tr_pipeline_task_line(const struct tr_pipeline_task *t);

/* ---- names ---- */

const char *tr_param_type_name(enum tr_param_type t);

#endif
