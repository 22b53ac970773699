/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resolver: turns one task attempt of a loaded pipeline into what the
 * executor runs, and a finished attempt's files back into output values,
 * following KFP's executor contract (reference/kfp-ir.md §2, §3, §8):
 *
 *   inputs (already bound by the scheduler) -> defaults -> f-string
 *   self-references -> ExecutorInput JSON with outputs placed in the task
 *   root -> IfPresent/Concat -> string placeholders -> {{$}}  => argv
 *
 *   executor_output.json (wins, as the KFP spec and backend apply it) ->
 *   outputs.parameters[*].outputFile for declared keys still missing ->
 *   values typed by outputDefinitions  => outputs
 *
 * Locally an artifact's uri is its absolute path (as kfp.local does), so
 * Artifact.path and dsl.get_uri() work inside steps; outputs live under the
 * attempt's task root, which the caller creates.
 *
 * All functions are pure apart from reading the output files, and thread-safe.
 */
#ifndef TR_PIPELINE_RESOLVE_H
#define TR_PIPELINE_RESOLVE_H

#include "core/err.h"
#include "pipeline/spec.h"

#include <jansson.h>
#include <stddef.h>

struct tr_buf;

/* The run values the {{$.pipeline_*}} placeholders name. Strings borrowed. */
struct tr_run_values {
	const char *job_name;	       /* {{$.pipeline_job_name}}: the run's name */
	const char *job_resource_name; /* {{$.pipeline_job_resource_name}} */
	const char *job_uuid;	       /* {{$.pipeline_job_uuid}}: the run id */
	const char *task_name;	       /* {{$.pipeline_task_name}} */
	const char *task_uuid;	       /* {{$.pipeline_task_uuid}}: the attempt's task id */
	const char *pipeline_root;     /* {{$.pipeline_root}} */
	const char *create_time_utc;   /* {{$.pipeline_job_create_time_utc}} (RFC 3339) */
	const char *schedule_time_utc; /* {{$.pipeline_job_schedule_time_utc}} */
	const char *workspace_path;    /* {{$.workspace_path}} */
};

/*
 * The inputs of a task as the scheduler bound them:
 *   PARAMS     {"name": JSON value, ...} (task outputs, parent inputs, constants;
 *              constants may still hold {{$...}} f-string placeholders)
 *   ARTIFACTS  {"name": [RuntimeArtifact, ...], ...} where a RuntimeArtifact is
 *              {"name", "uri", "type": {"schemaTitle", "schemaVersion"}, "metadata"}
 * Applies defaults from C's inputDefinitions (an optional input without value
 * or default is left out), resolves f-string self-references and run values
 * in string parameters, and returns the ExecutorInput JSON (protobuf-JSON
 * names: inputs.parameterValues, inputs.artifacts.<n>.artifacts[],
 * outputs.parameters.<n>.outputFile, outputs.artifacts.<n>.artifacts[],
 * outputs.outputFile) with every output placed under TASK_ROOT (absolute):
 * parameter files TASK_ROOT/<name>, artifacts TASK_ROOT/<name>, the
 * executor output TASK_ROOT/executor_output.json. A missing required input
 * is INVALID_PARAMETER_VALUE. *OUT is a new reference.
 */
enum tr_err tr_resolve_executor_input(const struct tr_pipeline_component *c, json_t *params,
				      json_t *artifacts, const struct tr_run_values *run,
				      const char *task_root, json_t **out /* OUT */,
				      struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * The argv of container CT for EXECUTOR_INPUT: command then args, with
 * IfPresent (an input is present when it has a non-null value) and Concat
 * expanded, every {{$.inputs...}}, {{$.outputs...}} and run-value
 * placeholder replaced (strings raw, other values as JSON, ints as ints),
 * and {{$}} replaced last by the ExecutorInput JSON. *ARGV is a new
 * NULL-terminated array of new strings (free with tr_resolve_argv_free);
 * *ARGC its length.
 */
enum tr_err tr_resolve_argv(const struct tr_pipeline_container *ct, json_t *executor_input,
			    const struct tr_run_values *run, char ***argv /* OUT */,
			    size_t *argc /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
void tr_resolve_argv_free(char **argv);

/*
 * Lightweight Python components start with `sh -c "<pip install ...
 * 'kfp==X' ...>" && "$0" "$@"`. When the step's interpreter already imports
 * kfp (the caller checks once), drop only the kfp install from that script,
 * keeping the user's packages_to_install; when nothing is left to install,
 * drop the install prefix altogether. ARGV is edited in place (strings are
 * replaced with new ones). Returns true when it changed something.
 */
bool tr_resolve_skip_kfp_install(char **argv, size_t *argc);

/*
 * Reads a finished attempt's outputs for component C, as the KFP spec and
 * backend apply them: executor_output.json (at outputs.outputFile) first;
 * then, for declared output parameters it does not hold, the parameter's
 * outputFile (a STRING read raw, other types parsed as JSON; bools also
 * True/False); values typed by outputDefinitions (NUMBER_INTEGER as integers).
 * Artifacts are the ExecutorInput's output artifacts with metadata (and uri)
 * updated from executor_output.json. A declared output with no value is
 * INVALID_PARAMETER_VALUE naming it. *OUT is a new object
 * {"parameters": {...}, "artifacts": {"name": [RuntimeArtifact...]}}.
 */
enum tr_err tr_resolve_collect_outputs(const struct tr_pipeline_component *c,
				       json_t *executor_input, json_t **out /* OUT */,
				       struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * Resolves a string with placeholders outside any task's ExecutorInput
 * (an importer's URI or metadata, a resource field): run values and
 * {{$.inputs.parameters['x']}} against PARAMS. *OUT is a new string.
 */
enum tr_err tr_resolve_string(const char *s, json_t *params, const struct tr_run_values *run,
			      char **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
