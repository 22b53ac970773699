/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resolver's output side: a finished attempt's files become typed output
 * values (reference/kfp-ir.md §3.5).
 *
 * Precedence is the KFP spec's, which the backend launcher implements
 * (collectOutputParameters): executor_output.json wins; a declared output
 * parameter it lacks is read from the parameter's own file; a declared output
 * found in neither is an error. (kfp.local merges the other way round and
 * skips missing files; a step that writes both with different values is
 * ambiguous there, and a missing output only fails later downstream.)
 * Values are typed by outputDefinitions, because protobuf numbers arrive as
 * doubles and files as text. Undeclared keys in executor_output.json are
 * ignored: only declared outputs can be wired downstream.
 */
#include "pipeline/resolve.h"

#include "core/buf.h"
#include "pipeline/resolve_impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Output files are read whole; a step writing more is refused, not loaded. */
#define MAX_EXECUTOR_OUTPUT (64u * 1024 * 1024)
#define MAX_PARAMETER_FILE  (16u * 1024 * 1024)

/* Reads the file at PATH into B. *EXISTS is false (and TR_OK returned) when
 * there is no such file. */
static enum tr_err read_file(const char *path, size_t max, struct tr_buf *b, bool *exists,
			     struct tr_buf *err)
{
	*exists = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return TR_OK;
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot open '%s': %s", path, strerror(errno));
	}
	struct stat st;
	enum tr_err rc = TR_OK;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = tr_fail(err, TR_ERR_IO_ERROR, "'%s' is not a regular file", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = tr_fail(err, TR_ERR_TOO_LARGE, "'%s' is larger than %zu bytes", path, max);
		goto out_close;
	}
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = tr_fail(err, TR_ERR_IO_ERROR, "cannot read '%s': %s", path,
				     strerror(errno));
			goto out_close;
		}
		if (b->len + (size_t)n > max) {
			rc = tr_fail(err, TR_ERR_TOO_LARGE, "'%s' is larger than %zu bytes", path,
				     max);
			goto out_close;
		}
		tr_buf_append(b, chunk, (size_t)n);
	}
	tr_buf_grow(b, 0);
	*exists = true;
out_close:
	close(fd);
	return rc;
}

/* A parameter file's text as a value: STRING raw, BOOLEAN true/false in any
 * case, everything else JSON. Typing is left to the caller. */
static enum tr_err parse_param_file(const struct tr_pipeline_io *io, const char *path,
				    const struct tr_buf *text, json_t **out, struct tr_buf *err)
{
	if (io->type == TR_PARAM_STRING) {
		*out = json_stringn(text->data, text->len);
		if (!*out)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "output '%s': '%s' is not valid UTF-8 text", io->name, path);
		return TR_OK;
	}
	if (io->type == TR_PARAM_BOOL) {
		const char *s = text->data, *e = text->data + text->len;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (e - s == 4 && !strncasecmp(s, "true", 4)) {
			*out = json_true();
			return TR_OK;
		}
		if (e - s == 5 && !strncasecmp(s, "false", 5)) {
			*out = json_false();
			return TR_OK;
		}
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "output '%s': '%s' holds neither true nor false", io->name, path);
	}
	json_error_t je;
	*out = json_loadb(text->data, text->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!*out)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "output '%s': '%s' is not valid JSON for %s: %s", io->name, path,
			       tr_param_type_name(io->type), je.text);
	return TR_OK;
}

static enum tr_err collect_parameter(const struct tr_pipeline_component *c,
				     const struct tr_pipeline_io *io, json_t *ei, json_t *eo_params,
				     const char *eo_path, json_t *params, struct tr_buf *err)
{
	const char *cname = tr_pipeline_component_name(c);
	json_t *v = json_incref(json_object_get(eo_params, io->name));
	enum tr_err rc = TR_OK;
	struct tr_buf text = TR_BUF_INIT, what = TR_BUF_INIT;
	const char *file = json_string_value(json_object_get(
	    json_object_get(json_object_get(json_object_get(ei, "outputs"), "parameters"),
			    io->name),
	    "outputFile"));
	if (!v && file) {
		bool exists;
		rc = read_file(file, MAX_PARAMETER_FILE, &text, &exists, err);
		if (rc)
			goto out;
		if (exists) {
			rc = parse_param_file(io, file, &text, &v, err);
			if (rc)
				goto out;
		}
	}
	if (!v) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "output '%s' of '%s' has no value: neither '%s' nor '%s' holds it",
			     io->name, cname, eo_path, file ? file : "(no output file)");
		goto out;
	}
	tr_buf_appendf(&what, "output '%s' of '%s'", io->name, cname);
	json_t *typed = NULL;
	rc = tr_resolve_coerce(v, io->type, tr_buf_str(&what), &typed, err);
	if (rc)
		goto out;
	json_object_set_new(params, io->name, typed);
out:
	json_decref(v);
	tr_buf_release(&text);
	tr_buf_release(&what);
	return rc;
}

/* One output artifact: the ExecutorInput's, with what the step reported
 * (metadata, a new uri, a custom path; a pythonic list may be longer). */
static enum tr_err collect_artifact(const struct tr_pipeline_component *c,
				    const struct tr_pipeline_io *io, json_t *ei, json_t *eo_arts,
				    json_t *arts, struct tr_buf *err)
{
	json_t *declared = json_object_get(
	    json_object_get(json_object_get(json_object_get(ei, "outputs"), "artifacts"), io->name),
	    "artifacts");
	json_t *first = json_array_get(declared, 0);
	if (!first)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the executor input has no output artifact '%s' of '%s'", io->name,
			       tr_pipeline_component_name(c));
	json_t *got = json_object_get(json_object_get(eo_arts, io->name), "artifacts");
	if (!json_array_size(got)) {
		json_object_set_new(arts, io->name, json_deep_copy(declared));
		return TR_OK;
	}
	json_t *list = json_array(), *g;
	size_t i;
	json_array_foreach(got, i, g)
	{
		json_t *base = json_array_get(declared, i);
		json_t *a = json_deep_copy(base ? base : first);
		json_t *v = json_object_get(g, "name");
		if (json_is_string(v) && *json_string_value(v))
			json_object_set(a, "name", v);
		v = json_object_get(g, "uri");
		if (json_is_string(v) && *json_string_value(v))
			json_object_set(a, "uri", v);
		v = json_object_get(g, "metadata");
		if (json_is_object(v))
			json_object_set(a, "metadata", v);
		v = json_object_get(g, "customPath");
		if (!v)
			v = json_object_get(g, "custom_path");
		if (json_is_string(v) && *json_string_value(v))
			json_object_set(a, "customPath", v);
		json_array_append_new(list, a);
	}
	json_object_set_new(arts, io->name, list);
	return TR_OK;
}

enum tr_err tr_resolve_collect_outputs(const struct tr_pipeline_component *c,
				       json_t *executor_input, json_t **out, struct tr_buf *err)
{
	const char *eo_path = json_string_value(
	    json_object_get(json_object_get(executor_input, "outputs"), "outputFile"));
	if (!eo_path)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the executor input has no outputs.outputFile");
	struct tr_buf text = TR_BUF_INIT;
	bool exists;
	json_t *eo = NULL, *params = NULL, *arts = NULL;
	enum tr_err rc = read_file(eo_path, MAX_EXECUTOR_OUTPUT, &text, &exists, err);
	if (rc)
		goto out;
	if (exists) {
		json_error_t je;
		eo = json_loadb(text.data, text.len, 0, &je);
		if (!json_is_object(eo)) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "executor output '%s' is not a JSON object%s%s", eo_path,
				     eo ? "" : ": ", eo ? "" : je.text);
			goto out;
		}
	}
	/* protobuf JSON parsers accept both spellings; the SDK writes camelCase */
	json_t *eo_params = json_object_get(eo, "parameterValues");
	if (!eo_params)
		eo_params = json_object_get(eo, "parameter_values");
	json_t *eo_arts = json_object_get(eo, "artifacts");
	params = json_object();
	arts = json_object();
	for (size_t i = 0; i < tr_pipeline_component_n_outputs(c); i++) {
		const struct tr_pipeline_io *io = tr_pipeline_component_output(c, i);
		if (io->artifact)
			rc = collect_artifact(c, io, executor_input, eo_arts, arts, err);
		else
			rc = collect_parameter(c, io, executor_input, eo_params, eo_path, params,
					       err);
		if (rc)
			goto out;
	}
	*out = json_pack("{s:o,s:o}", "parameters", params, "artifacts", arts);
	params = arts = NULL;
out:
	json_decref(params);
	json_decref(arts);
	json_decref(eo);
	tr_buf_release(&text);
	return rc;
}
