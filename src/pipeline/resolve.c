/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resolver's input side: one task attempt's bound inputs become the KFP
 * ExecutorInput, and the executor's command and args become the argv that
 * runs (reference/kfp-ir.md §2, §3.1, §8).
 *
 * The central idea is one substitution routine for every place a `{{$...}}`
 * may appear (f-string constants, argv elements, importer and resource
 * strings), reading only the ExecutorInput and the run values, so a value
 * means the same wherever it is used. Substitution is one left-to-right pass:
 * a substituted value is never scanned again, so text a step produced can
 * never turn into a placeholder. {{$}} therefore needs no special ordering;
 * it is simply replaced by the ExecutorInput as it stands, f-strings already
 * resolved in it.
 *
 * Value text follows kfp.local (what users compare against): a string is
 * inserted raw, anything else as JSON, floats written as Python writes them
 * (0.1, 1.0, 1e-05), JSON compact. A placeholder naming something the
 * ExecutorInput does not hold is an error, never the text "null" that
 * kfp.local would insert (see resolve.h).
 */
#include "pipeline/resolve.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "pipeline/placeholder.h"
#include "pipeline/resolve_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON text ---- */

const char *tr_resolve_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a struct";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a double";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* D as Python's repr() writes it: the shortest digits that read back as D,
 * fixed notation for exponents -5 < e < 16 (with ".0" when integral),
 * scientific outside ("1e-05", "1.5e+20"). */
static void append_double(struct tr_buf *b, double d)
{
	char tmp[40];
	if (!isfinite(d)) {
		tr_buf_appends(b, isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	const char *s = tmp;
	if (*s == '-') {
		tr_buf_appendc(b, '-');
		s++;
	}
	char dig[24];
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (isdigit((unsigned char)*s) && nd < sizeof(dig))
			dig[nd++] = *s;
	int exp = *s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (exp < -4 || exp >= 16) {
		tr_buf_appendc(b, dig[0]);
		if (nd > 1) {
			tr_buf_appendc(b, '.');
			tr_buf_append(b, dig + 1, nd - 1);
		}
		tr_buf_appendf(b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
	} else if (exp < 0) {
		tr_buf_appends(b, "0.");
		for (int i = -1; i > exp; i--)
			tr_buf_appendc(b, '0');
		tr_buf_append(b, dig, nd);
	} else {
		for (int i = 0; i <= exp; i++)
			tr_buf_appendc(b, (size_t)i < nd ? dig[i] : '0');
		tr_buf_appendc(b, '.');
		if (nd > (size_t)exp + 1)
			tr_buf_append(b, dig + exp + 1, nd - (size_t)exp - 1);
		else
			tr_buf_appendc(b, '0');
	}
}

static void append_json_string(struct tr_buf *b, const char *s, size_t n)
{
	tr_buf_appendc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			tr_buf_appends(b, "\\\"");
			break;
		case '\\':
			tr_buf_appends(b, "\\\\");
			break;
		case '\n':
			tr_buf_appends(b, "\\n");
			break;
		case '\r':
			tr_buf_appends(b, "\\r");
			break;
		case '\t':
			tr_buf_appends(b, "\\t");
			break;
		case '\b':
			tr_buf_appends(b, "\\b");
			break;
		case '\f':
			tr_buf_appends(b, "\\f");
			break;
		default:
			if (c < 0x20)
				tr_buf_appendf(b, "\\u%04x", c);
			else
				tr_buf_appendc(b, (char)c);
		}
	}
	tr_buf_appendc(b, '"');
}

/* Compact JSON (no spaces), UTF-8 kept, object keys in insertion order. */
static void append_json(struct tr_buf *b, const json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;
	bool first = true;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		tr_buf_appendc(b, '{');
		json_object_foreach((json_t *)v, key, x)
		{
			if (!first)
				tr_buf_appendc(b, ',');
			first = false;
			append_json_string(b, key, strlen(key));
			tr_buf_appendc(b, ':');
			append_json(b, x);
		}
		tr_buf_appendc(b, '}');
		break;
	case JSON_ARRAY:
		tr_buf_appendc(b, '[');
		json_array_foreach(v, i, x)
		{
			if (i)
				tr_buf_appendc(b, ',');
			append_json(b, x);
		}
		tr_buf_appendc(b, ']');
		break;
	case JSON_STRING:
		append_json_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		tr_buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		append_double(b, json_real_value(v));
		break;
	case JSON_TRUE:
		tr_buf_appends(b, "true");
		break;
	case JSON_FALSE:
		tr_buf_appends(b, "false");
		break;
	default:
		tr_buf_appends(b, "null");
	}
}

/* A value as a placeholder inserts it: strings raw, the rest as JSON. */
static void append_value(struct tr_buf *b, const json_t *v)
{
	if (json_is_string(v))
		tr_buf_append(b, json_string_value(v), json_string_length(v));
	else
		append_json(b, v);
}

/* ---- types ---- */

enum tr_err tr_resolve_coerce(json_t *v, enum tr_param_type t, const char *what, json_t **out,
			      struct tr_buf *err)
{
	bool ok;
	switch (t) {
	case TR_PARAM_INT:
		if (json_is_integer(v))
			break;
		if (json_is_real(v)) {
			double d = json_real_value(v);
			if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
				*out = json_integer((json_int_t)d);
				return TR_OK;
			}
		}
		return tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE, "%s is NUMBER_INTEGER but the value is %s",
		    what, json_is_real(v) ? "the non-integral double" : tr_resolve_json_kind(v));
	case TR_PARAM_DOUBLE:
		if (json_is_integer(v)) {
			*out = json_real((double)json_integer_value(v));
			return TR_OK;
		}
		ok = json_is_real(v);
		goto check;
	case TR_PARAM_STRING:
		if (!json_is_string(v) && !json_is_null(v)) {
			/* a number, bool, list or struct where text is declared (a Trellis
			 * YAML `{{ item }}`, a selected field) becomes the text a
			 * placeholder would insert for it */
			struct tr_buf b = TR_BUF_INIT;
			append_value(&b, v);
			*out = json_string(tr_buf_str(&b));
			tr_buf_release(&b);
			if (*out)
				return TR_OK;
		}
		ok = json_is_string(v);
		goto check;
	case TR_PARAM_BOOL:
		ok = json_is_boolean(v);
		goto check;
	case TR_PARAM_LIST:
		ok = json_is_array(v);
		goto check;
	case TR_PARAM_STRUCT:
	case TR_PARAM_TASK_FINAL_STATUS:
		ok = json_is_object(v);
	check:
		if (!ok)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "%s is %s but the value is %s", what, tr_param_type_name(t),
				       tr_resolve_json_kind(v));
		break;
	case TR_PARAM_TASK_CONFIG:
		break;
	}
	*out = json_incref(v);
	return TR_OK;
}

/* ---- substitution ---- */

struct subst {
	json_t *ei;			 /* the ExecutorInput; NULL outside a task */
	json_t *params;			 /* what {{$.inputs.parameters[...]}} reads */
	const struct tr_run_values *run; /* may be NULL */
	bool whole;			 /* {{$}} allowed */
	bool lenient;			 /* an unknown {{$ form stays text */
	const char *where;		 /* "argument 3", "input 'msg'" */
};

static const char *run_value(const struct tr_run_values *r, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
	    {"pipeline_job_name", offsetof(struct tr_run_values, job_name)},
	    {"pipeline_job_resource_name", offsetof(struct tr_run_values, job_resource_name)},
	    {"pipeline_job_uuid", offsetof(struct tr_run_values, job_uuid)},
	    {"pipeline_task_name", offsetof(struct tr_run_values, task_name)},
	    {"pipeline_task_uuid", offsetof(struct tr_run_values, task_uuid)},
	    {"pipeline_root", offsetof(struct tr_run_values, pipeline_root)},
	    {"pipeline_job_create_time_utc", offsetof(struct tr_run_values, create_time_utc)},
	    {"pipeline_job_schedule_time_utc", offsetof(struct tr_run_values, schedule_time_utc)},
	    {"workspace_path", offsetof(struct tr_run_values, workspace_path)},
	};
	if (!r)
		return NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == n && !strncmp(map[i].name, name, n))
			return *(const char *const *)((const char *)r + map[i].off);
	return NULL;
}

/* The local path of a RuntimeArtifact, as the SDK's Artifact.path computes
 * it: customPath, else the uri with gs:// s3:// minio:// mapped onto their
 * mount points, else the uri itself (a local run's uri is a path). */
static void artifact_path(struct tr_buf *b, json_t *a)
{
	static const char *const mounts[][2] = {
	    {"gs://", "/gcs/"}, {"s3://", "/s3/"}, {"minio://", "/minio/"}};
	const char *cp = json_string_value(json_object_get(a, "customPath"));
	if (cp && *cp) {
		tr_buf_appends(b, cp);
		return;
	}
	const char *uri = json_string_value(json_object_get(a, "uri"));
	if (!uri)
		uri = "";
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		size_t n = strlen(mounts[i][0]);
		if (!strncmp(uri, mounts[i][0], n)) {
			tr_buf_appends(b, mounts[i][1]);
			tr_buf_appends(b, uri + n);
			return;
		}
	}
	tr_buf_appends(b, uri);
}

static json_t *get2(json_t *o, const char *a, const char *b)
{
	return json_object_get(json_object_get(o, a), b);
}

/* Appends the value of placeholder PH (NAME is its NUL-terminated name). */
static enum tr_err one(const struct subst *sx, const struct tr_placeholder *ph, const char *name,
		       struct tr_buf *out, struct tr_buf *err)
{
	int pl = (int)ph->len;
	const char *ps = ph->start;
	json_t *v, *list, *a;
	switch (ph->kind) {
	case TR_PH_EXECUTOR_INPUT:
		if (sx->lenient && !sx->whole) {
			tr_buf_append(out, ps, ph->len); /* data, not a reference */
			return TR_OK;
		}
		if (!sx->ei || !sx->whole)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "placeholder '{{$}}' in %s: the executor input is not "
				       "available there",
				       sx->where);
		append_json(out, sx->ei);
		return TR_OK;
	case TR_PH_INPUT_PARAM:
		v = json_object_get(sx->params, name);
		if (!v)
			return tr_fail(
			    err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "placeholder '%.*s' in %s: input parameter '%s' has no value "
			    "(an optional input belongs inside IfPresent)",
			    pl, ps, sx->where, name);
		append_value(out, v);
		return TR_OK;
	case TR_PH_INPUT_ARTIFACT:
	case TR_PH_OUTPUT_ARTIFACT: {
		bool input = ph->kind == TR_PH_INPUT_ARTIFACT;
		list = get2(
		    json_object_get(get2(sx->ei, input ? "inputs" : "outputs", "artifacts"), name),
		    "artifacts", NULL);
		list = json_object_get(
		    json_object_get(get2(sx->ei, input ? "inputs" : "outputs", "artifacts"), name),
		    "artifacts");
		a = json_array_get(list, 0);
		if (!a)
			return tr_fail(
			    err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "placeholder '%.*s' in %s: %s artifact '%s' is not present%s", pl, ps,
			    sx->where, input ? "input" : "output", name,
			    input ? " (an optional input belongs inside IfPresent)" : "");
		if (!ph->field) {
			append_json(out, list);
		} else if (!strcmp(ph->field, "path")) {
			artifact_path(out, a);
		} else if (!strcmp(ph->field, "uri")) {
			v = json_object_get(a, "uri");
			tr_buf_appends(out, json_is_string(v) ? json_string_value(v) : "");
		} else if (!ph->key) {
			v = json_object_get(a, "metadata");
			if (v)
				append_json(out, v);
			else
				tr_buf_appends(out, "{}");
		} else {
			char *k = tr_xstrndup(ph->key, ph->key_len);
			v = json_object_get(json_object_get(a, "metadata"), k);
			if (!v) {
				enum tr_err rc = tr_fail(
				    err, TR_ERR_INVALID_PARAMETER_VALUE,
				    "placeholder '%.*s' in %s: artifact '%s' has no metadata '%s'",
				    pl, ps, sx->where, name, k);
				free(k);
				return rc;
			}
			free(k);
			append_value(out, v);
		}
		return TR_OK;
	}
	case TR_PH_OUTPUT_PARAM:
		v = json_object_get(json_object_get(get2(sx->ei, "outputs", "parameters"), name),
				    "outputFile");
		if (!json_is_string(v))
			return tr_fail(
			    err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "placeholder '%.*s' in %s: there is no output parameter '%s'", pl, ps,
			    sx->where, name);
		tr_buf_appends(out, json_string_value(v));
		return TR_OK;
	case TR_PH_OUTPUT_FILE:
		v = get2(sx->ei, "outputs", "outputFile");
		if (!json_is_string(v))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "placeholder '%.*s' in %s: there is no executor output file "
				       "outside a task",
				       pl, ps, sx->where);
		tr_buf_appends(out, json_string_value(v));
		return TR_OK;
	case TR_PH_RUNTIME: {
		const char *r = run_value(sx->run, ph->name, ph->name_len);
		if (!r)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "placeholder '%.*s' in %s: run value '%s' is not set", pl,
				       ps, sx->where, name);
		tr_buf_appends(out, r);
		return TR_OK;
	}
	}
	return tr_fail(err, TR_ERR_INTERNAL_ERROR, "placeholder kind %d", (int)ph->kind);
}

/* Appends S to OUT with every placeholder replaced. */
static enum tr_err subst(const struct subst *sx, const char *s, struct tr_buf *out,
			 struct tr_buf *err)
{
	const char *cur = s, *done = s;
	struct tr_placeholder ph;
	bool bad;
	tr_buf_grow(out, strlen(s));
	while (tr_placeholder_next(&cur, &ph, &bad)) {
		tr_buf_append(out, done, (size_t)(ph.start - done));
		done = cur;
		if (bad) {
			if (sx->lenient) {
				tr_buf_append(out, ph.start, ph.len);
				continue;
			}
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "unknown placeholder '%.*s' in %s", (int)ph.len, ph.start,
				       sx->where);
		}
		char *name = ph.name ? tr_xstrndup(ph.name, ph.name_len) : NULL;
		enum tr_err rc = one(sx, &ph, name ? name : "", out, err);
		free(name);
		if (rc)
			return rc;
	}
	tr_buf_appends(out, done);
	return TR_OK;
}

/* ---- the ExecutorInput ---- */

/* One input artifact's list: RuntimeArtifacts with name, type, uri and
 * metadata filled in. V is one object or an array of them; an empty result
 * means absent. */
static enum tr_err artifact_list(const struct tr_pipeline_io *io, const char *cname, json_t *v,
				 json_t **out, struct tr_buf *err)
{
	json_t *list = json_array(), *x;
	size_t i;
	json_t *one_item = NULL;
	if (json_is_object(v)) {
		one_item = json_array();
		json_array_append(one_item, v);
		v = one_item;
	}
	if (!json_is_array(v)) {
		json_decref(list);
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "input artifact '%s' of '%s' is bound to %s, not artifacts",
			       io->name, cname, tr_resolve_json_kind(v));
	}
	json_array_foreach(v, i, x)
	{
		json_t *uri = json_object_get(x, "uri");
		if (!json_is_string(uri)) {
			json_decref(one_item);
			json_decref(list);
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "input artifact '%s' of '%s': artifact %zu has no uri",
				       io->name, cname, i);
		}
		json_t *a = json_deep_copy(x);
		if (!json_is_string(json_object_get(a, "name")))
			json_object_set_new(a, "name", json_string(io->name));
		if (!json_is_object(json_object_get(a, "type")))
			json_object_set_new(
			    a, "type",
			    json_pack("{s:s,s:s}", "schemaTitle",
				      io->schema_title ? io->schema_title : "system.Artifact",
				      "schemaVersion",
				      io->schema_version ? io->schema_version : "0.0.1"));
		if (!json_is_object(json_object_get(a, "metadata")))
			json_object_set_new(a, "metadata", json_object());
		json_array_append_new(list, a);
	}
	json_decref(one_item);
	*out = list;
	return TR_OK;
}

static enum tr_err bind_inputs(const struct tr_pipeline_component *c, json_t *params,
			       json_t *artifacts, json_t *pv, json_t *av, struct tr_buf *err)
{
	const char *cname = tr_pipeline_component_name(c), *key;
	json_t *v;
	struct tr_buf what = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	if ((params && !json_is_object(params)) || (artifacts && !json_is_object(artifacts)))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "inputs of '%s' must be JSON objects", cname);
	json_object_foreach(params, key, v)
	{
		const struct tr_pipeline_io *io = tr_pipeline_component_input_find(c, key);
		if (io && io->artifact) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "'%s' is an input artifact of '%s', bound as a parameter", key,
				     cname);
			goto out;
		}
		if (json_is_null(v) || !io) {
			/* null: a default may replace it (below); undeclared
			 * pipelinechannel-- inputs pass through as bound */
			json_object_set(pv, key, v);
			continue;
		}
		json_t *typed = NULL;
		tr_buf_reset(&what);
		tr_buf_appendf(&what, "input '%s' of '%s'", key, cname);
		rc = tr_resolve_coerce(v, io->type, tr_buf_str(&what), &typed, err);
		if (rc)
			goto out;
		json_object_set_new(pv, key, typed);
	}
	json_object_foreach(artifacts, key, v)
	{
		const struct tr_pipeline_io *io = tr_pipeline_component_input_find(c, key);
		if (!io || !io->artifact) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "'%s' is not an input artifact of '%s'", key, cname);
			goto out;
		}
		if (json_is_null(v))
			continue;
		json_t *list = NULL;
		rc = artifact_list(io, cname, v, &list, err);
		if (rc)
			goto out;
		if (json_array_size(list))
			json_object_set_new(av, key, json_pack("{s:o}", "artifacts", list));
		else
			json_decref(list);
	}
	/* defaults, and what is missing */
	for (size_t i = 0; i < tr_pipeline_component_n_inputs(c); i++) {
		const struct tr_pipeline_io *io = tr_pipeline_component_input(c, i);
		if (io->artifact) {
			if (!json_object_get(av, io->name) && !io->optional) {
				rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					     "input artifact '%s' of '%s' is required but has no "
					     "value",
					     io->name, cname);
				goto out;
			}
			continue;
		}
		v = json_object_get(pv, io->name);
		if (v && !json_is_null(v))
			continue;
		if (io->default_value && !json_is_null(io->default_value)) {
			json_t *typed = NULL;
			tr_buf_reset(&what);
			tr_buf_appendf(&what, "the default of input '%s' of '%s'", io->name, cname);
			rc = tr_resolve_coerce(io->default_value, io->type, tr_buf_str(&what),
					       &typed, err);
			if (rc)
				goto out;
			json_object_set_new(pv, io->name, typed);
		} else if (io->optional) {
			json_object_del(pv, io->name); /* absent, as the KFP backend has it */
		} else if (!v) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "input '%s' of '%s' is required but has no value", io->name,
				     cname);
			goto out;
		}
		/* a required input bound to null keeps its null */
	}
out:
	tr_buf_release(&what);
	return rc;
}

static json_t *outputs_under(const struct tr_pipeline_component *c, const char *root)
{
	json_t *op = json_object(), *oa = json_object();
	struct tr_buf path = TR_BUF_INIT;
	for (size_t i = 0; i < tr_pipeline_component_n_outputs(c); i++) {
		const struct tr_pipeline_io *io = tr_pipeline_component_output(c, i);
		tr_buf_reset(&path);
		tr_buf_appendf(&path, "%s/%s", root, io->name);
		if (!io->artifact) {
			json_object_set_new(op, io->name,
					    json_pack("{s:s}", "outputFile", tr_buf_str(&path)));
			continue;
		}
		json_t *a =
		    json_pack("{s:s,s:{s:s,s:s},s:s,s:{}}", "name", io->name, "type", "schemaTitle",
			      io->schema_title ? io->schema_title : "system.Artifact",
			      "schemaVersion", io->schema_version ? io->schema_version : "0.0.1",
			      "uri", tr_buf_str(&path), "metadata");
		json_object_set_new(oa, io->name, json_pack("{s:[o]}", "artifacts", a));
	}
	tr_buf_reset(&path);
	tr_buf_appendf(&path, "%s/executor_output.json", root);
	json_t *o = json_pack("{s:o,s:o,s:s}", "parameters", op, "artifacts", oa, "outputFile",
			      tr_buf_str(&path));
	tr_buf_release(&path);
	return o;
}

/* F-strings: string values holding {{$...}} are resolved against the same
 * task's values (as they were before this pass, so the order of keys does
 * not matter) and the run values. */
static enum tr_err self_references(json_t *ei, const struct tr_run_values *run, struct tr_buf *err)
{
	json_t *pv = get2(ei, "inputs", "parameterValues"), *v;
	json_t *done = json_object();
	const char *key;
	struct tr_buf where = TR_BUF_INIT, text = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	json_object_foreach(pv, key, v)
	{
		if (!json_is_string(v) || !strstr(json_string_value(v), "{{$"))
			continue;
		tr_buf_reset(&where);
		tr_buf_appendf(&where, "input '%s'", key);
		struct subst sx = {ei, pv, run, false, true, tr_buf_str(&where)};
		tr_buf_reset(&text);
		rc = subst(&sx, json_string_value(v), &text, err);
		if (rc)
			goto out;
		json_t *s = json_stringn(text.data, text.len);
		if (!s) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "input '%s' is not valid UTF-8 once resolved", key);
			goto out;
		}
		json_object_set_new(done, key, s);
	}
	json_object_update(pv, done);
out:
	json_decref(done);
	tr_buf_release(&where);
	tr_buf_release(&text);
	return rc;
}

enum tr_err tr_resolve_executor_input(const struct tr_pipeline_component *c, json_t *params,
				      json_t *artifacts, const struct tr_run_values *run,
				      const char *task_root, json_t **out, struct tr_buf *err)
{
	if (!task_root || task_root[0] != '/')
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "task root '%s' is not an absolute path",
			       task_root ? task_root : "");
	char *root = tr_xstrdup(task_root);
	for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--)
		root[n - 1] = '\0';
	json_t *pv = json_object(), *av = json_object();
	enum tr_err rc = bind_inputs(c, params, artifacts, pv, av, err);
	if (rc) {
		json_decref(pv);
		json_decref(av);
		goto out;
	}
	json_t *ei = json_pack("{s:{s:o,s:o},s:o}", "inputs", "parameterValues", pv, "artifacts",
			       av, "outputs", outputs_under(c, root));
	rc = self_references(ei, run, err);
	if (rc) {
		json_decref(ei);
		goto out;
	}
	*out = ei;
out:
	free(root);
	return rc;
}

/* ---- argv ---- */

struct argvec {
	char **v;
	size_t n, cap;
};

static void push(struct argvec *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? 2 * a->cap : 16;
		a->v = tr_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* IfPresent: a parameter with a non-null value, or at least one artifact. */
static bool present(json_t *ei, const char *name)
{
	json_t *in = json_object_get(ei, "inputs");
	json_t *v = get2(in, "parameterValues", name);
	if (v && !json_is_null(v))
		return true;
	return json_array_size(get2(get2(in, "artifacts", name), "artifacts", NULL)) > 0 ||
	       json_array_size(json_object_get(get2(in, "artifacts", name), "artifacts")) > 0;
}

static enum tr_err expand(const struct subst *sx, const struct tr_pipeline_arg *v, size_t n,
			  struct argvec *out, struct tr_buf *err);

/* Concat: the items' texts joined, an IfPresent inside contributing all of
 * its items. */
static enum tr_err concat(const struct subst *sx, const struct tr_pipeline_arg *v, size_t n,
			  struct tr_buf *b, struct tr_buf *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct tr_pipeline_arg *a = &v[i];
		enum tr_err rc;
		if (a->kind == TR_ARG_STRING) {
			rc = subst(sx, a->text, b, err);
		} else if (a->kind == TR_ARG_CONCAT) {
			rc = concat(sx, a->items, a->n_items, b, err);
		} else {
			struct argvec tmp = {NULL, 0, 0};
			rc = expand(sx, a, 1, &tmp, err);
			for (size_t j = 0; j < tmp.n; j++) {
				if (!rc)
					tr_buf_appends(b, tmp.v[j]);
				free(tmp.v[j]);
			}
			free(tmp.v);
		}
		if (rc)
			return rc;
	}
	return TR_OK;
}

static enum tr_err expand(const struct subst *sx, const struct tr_pipeline_arg *v, size_t n,
			  struct argvec *out, struct tr_buf *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct tr_pipeline_arg *a = &v[i];
		enum tr_err rc = TR_OK;
		struct tr_buf b = TR_BUF_INIT;
		switch (a->kind) {
		case TR_ARG_STRING:
			rc = subst(sx, a->text, &b, err);
			break;
		case TR_ARG_CONCAT:
			rc = concat(sx, a->items, a->n_items, &b, err);
			break;
		case TR_ARG_IF_PRESENT:
			if (present(sx->ei, a->input_name))
				rc = expand(sx, a->items, a->n_items, out, err);
			else
				rc = expand(sx, a->else_items, a->n_else, out, err);
			if (rc)
				return rc;
			continue;
		}
		if (rc) {
			tr_buf_release(&b);
			return rc;
		}
		tr_buf_grow(&b, 0);
		push(out, tr_buf_detach(&b));
	}
	return TR_OK;
}

enum tr_err tr_resolve_argv(const struct tr_pipeline_container *ct, json_t *executor_input,
			    const struct tr_run_values *run, char ***argv, size_t *argc,
			    struct tr_buf *err)
{
	struct argvec out = {NULL, 0, 0};
	struct subst sx = {
	    executor_input, get2(executor_input, "inputs", "parameterValues"), run, true, false,
	    "the command"};
	enum tr_err rc = expand(&sx, ct->command, ct->n_command, &out, err);
	if (!rc) {
		sx.where = "the arguments";
		rc = expand(&sx, ct->args, ct->n_args, &out, err);
	}
	if (!rc && !out.n)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "the container has no command");
	if (rc) {
		if (out.v)
			tr_resolve_argv_free(out.v);
		return rc;
	}
	*argv = out.v;
	*argc = out.n;
	return TR_OK;
}

void tr_resolve_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* ---- strings outside a task ---- */

enum tr_err tr_resolve_string(const char *s, json_t *params, const struct tr_run_values *run,
			      char **out, struct tr_buf *err)
{
	struct tr_buf b = TR_BUF_INIT;
	struct subst sx = {NULL, params, run, false, false, "the string"};
	enum tr_err rc = subst(&sx, s, &b, err);
	if (rc) {
		tr_buf_release(&b);
		return rc;
	}
	tr_buf_grow(&b, 0);
	*out = tr_buf_detach(&b);
	return TR_OK;
}
