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
 * Placeholder text follows kfp.local: a string is inserted raw, any other
 * value as compact JSON with doubles written as Python writes them (0.1, 1.0,
 * 1e-05). A placeholder naming something this attempt does not have (an
 * optional input left out and used outside IfPresent, a metadata key the
 * artifact lacks, a run value the caller left NULL) is
 * INVALID_PARAMETER_VALUE naming it: kfp.local would insert the text "null"
 * and the KFP backend would leave the placeholder in place, both silently.
 * (Undeclared names cannot get here: loading rejects them.) Substitution is
 * one pass; substituted text is never scanned for placeholders again.
 *
 * Usage per attempt: mkdir TASK_ROOT; tr_resolve_executor_input ->
 * tr_resolve_argv -> (kfp importable) tr_resolve_skip_kfp_install -> run with
 * the container's env -> tr_resolve_collect_outputs, when the step
 * exited 0.
 *
 * All functions are pure apart from reading the output files, and thread-safe.
 */
#ifndef TR_PIPELINE_RESOLVE_H
#define TR_PIPELINE_RESOLVE_H

#include "core/err.h"
#include "pipeline/spec.h"

#include <jansson.h>
#include <stdbool.h>
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
 * A JSON null counts as no value. Declared parameters are typed by C's
 * inputDefinitions (NUMBER_INTEGER as JSON integers, 5.0 becoming 5;
 * NUMBER_DOUBLE as doubles; a mismatch is an error); undeclared ones (the
 * compiler's injected pipelinechannel-- inputs) pass through as bound, and
 * an undeclared artifact is an error. Artifacts may be one object or a list;
 * name, type and metadata are filled in when missing.
 * Applies defaults from C's inputDefinitions (an optional input without value
 * or default is left out, as the KFP backend does; a required one bound to
 * null keeps its null), resolves f-string self-references and run values
 * in string parameters (against the values as bound, so key order does not
 * matter; text that is no placeholder, and {{$}}, stay as they are), and
 * returns the ExecutorInput JSON (protobuf-JSON
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
 * and {{$}} replaced last by the ExecutorInput JSON. An artifact's .path is
 * its customPath, else its uri with gs:// s3:// minio:// mapped to /gcs/
 * /s3/ /minio/ as the SDK maps them, else the uri; {{$.inputs.artifacts['x']}}
 * alone is the JSON list of its artifacts. Missing values are errors (see
 * above). *ARGV is a new NULL-terminated array of new strings (free with
 * tr_resolve_argv_free); *ARGC its length.
 */
enum tr_err tr_resolve_argv(const struct tr_pipeline_container *ct, json_t *executor_input,
			    const struct tr_run_values *run, char ***argv /* OUT */,
			    size_t *argc /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
void tr_resolve_argv_free(char **argv);

/*
 * Lightweight Python components start with `sh -c "<pip install ...
 * 'kfp==X' ...>" && "$0" "$@"`. When the step's interpreter already imports
 * kfp (the caller checks once), drop only the kfp install from that script
 * (with its typing-extensions companion and the use_venv=True venv that only
 * holds it), keeping the user's packages_to_install and index options; when
 * nothing is left to install, the three `sh -c SCRIPT` elements are removed,
 * so argv starts at the SDK's `sh -ec ... executor_main` part (the script
 * would only have run "$0" "$@", which is exactly that). Only the SDK's
 * exact text is recognised; anything else is left alone. ARGV (from
 * tr_resolve_argv) is edited in place: a replaced or removed string is
 * freed, the rest move down, *ARGC is updated and ARGV stays
 * NULL-terminated. Returns true when it changed something.
 */
bool tr_resolve_skip_kfp_install(char **argv, size_t *argc);

/*
 * Reads a finished attempt's outputs for component C, as the KFP spec and
 * backend apply them: executor_output.json (at outputs.outputFile; absent
 * means {}) first; then, for declared output parameters it does not hold,
 * the parameter's outputFile (a STRING read raw, a trailing newline kept as
 * KFP keeps it; BOOLEAN true/false in any case; other types parsed as JSON);
 * values typed by outputDefinitions (NUMBER_INTEGER as integers, a mismatch
 * is an error). Keys C does not declare are ignored.
 * Artifacts are the ExecutorInput's output artifacts with name, uri,
 * metadata and customPath updated from executor_output.json (whose list may
 * be longer); their files are not checked, as a Metrics artifact has none.
 * A declared output with no value is INVALID_PARAMETER_VALUE naming it;
 * a file over 64 MiB (executor output) or 16 MiB (parameter) is TOO_LARGE.
 * *OUT is a new object
 * {"parameters": {...}, "artifacts": {"name": [RuntimeArtifact...]}}.
 */
enum tr_err tr_resolve_collect_outputs(const struct tr_pipeline_component *c,
				       json_t *executor_input, json_t **out /* OUT */,
				       struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * Resolves a string with placeholders outside any task's ExecutorInput
 * (an importer's URI or metadata, a resource field): run values and
 * {{$.inputs.parameters['x']}} against PARAMS (may be NULL). Any other
 * placeholder, an unknown one, or a missing value is
 * INVALID_PARAMETER_VALUE. *OUT is a new string; free with free().
 */
enum tr_err tr_resolve_string(const char *s, json_t *params, const struct tr_run_values *run,
			      char **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
