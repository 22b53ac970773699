/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field readers shared by the KFP IR and Trellis YAML loaders: the one place
 * that turns a YAML scalar into a typed value and a wrong shape into a
 * positioned message.
 */
#include "pipeline/fields.h"
#include "pipeline/diag.h"
#include "pipeline/spec_impl.h"
#include "pipeline/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool tr_fields_map(struct tr_diags *d, const struct tr_yaml_node *n, const char *what)
{
	if (n && n->kind == TR_YAML_MAP)
		return true;
	if (n)
		tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be a mapping, not %s",
			     what, tr_yaml_kind_name(n));
	return false;
}

bool tr_fields_seq(struct tr_diags *d, const struct tr_yaml_node *n, const char *what)
{
	if (n && n->kind == TR_YAML_SEQ)
		return true;
	if (n)
		tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be a list, not %s", what,
			     tr_yaml_kind_name(n));
	return false;
}

bool tr_fields_check(struct tr_diags *d, const struct tr_yaml_node *map, const char *context,
		     const char *const *allowed, bool warn_only)
{
	if (!tr_fields_map(d, map, context))
		return false;
	for (size_t i = 0; i < map->n; i++) {
		const struct tr_yaml_node *k = map->items[2 * i];
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = k->kind == TR_YAML_SCALAR && !strcmp(k->str, *a);
		if (!ok)
			tr_diags_add(d, warn_only ? TR_DIAG_WARNING : TR_DIAG_ERROR, k->line,
				     k->col, "unknown field '%s' in %s",
				     k->kind == TR_YAML_SCALAR ? k->str : "?", context);
	}
	return true;
}

const char *tr_fields_str(struct tr_diags *d, const struct tr_yaml_node *n, const char *what)
{
	if (!n)
		return NULL;
	if (n->kind == TR_YAML_SCALAR && !tr_yaml_is_null(n)) {
		if (strlen(n->str) != n->len) {
			tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s holds a NUL byte",
				     what);
			return NULL;
		}
		return n->str;
	}
	tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be a string, not %s", what,
		     tr_yaml_is_null(n) ? "null" : tr_yaml_kind_name(n));
	return NULL;
}

bool tr_fields_bool(struct tr_diags *d, const struct tr_yaml_node *n, const char *what, bool *out)
{
	if (!n)
		return false;
	if (n->kind == TR_YAML_SCALAR && (!strcmp(n->str, "true") || !strcmp(n->str, "false"))) {
		*out = n->str[0] == 't';
		return true;
	}
	tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be true or false", what);
	return false;
}

bool tr_fields_double(struct tr_diags *d, const struct tr_yaml_node *n, const char *what,
		      double *out)
{
	if (!n)
		return false;
	if (n->kind == TR_YAML_SCALAR && n->len) {
		char *end;
		errno = 0;
		double v = strtod(n->str, &end);
		if (!errno && !*end && isfinite(v)) {
			*out = v;
			return true;
		}
	}
	tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be a number", what);
	return false;
}

bool tr_fields_int(struct tr_diags *d, const struct tr_yaml_node *n, const char *what, int64_t *out)
{
	if (!n)
		return false;
	if (n->kind == TR_YAML_SCALAR && n->len) {
		char *end;
		errno = 0;
		long long v = strtoll(n->str, &end, 10);
		if (!errno && !*end) {
			*out = v;
			return true;
		}
		errno = 0;
		double f = strtod(n->str, &end);
		if (!errno && !*end && f == floor(f) && fabs(f) < 9e15) {
			*out = (int64_t)f;
			return true;
		}
	}
	tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col, "%s must be an integer", what);
	return false;
}

bool tr_fields_duration(struct tr_diags *d, const struct tr_yaml_node *n, const char *what,
			int64_t *ms)
{
	if (!n)
		return false;
	if (n->kind == TR_YAML_SCALAR && tr_pipeline_parse_duration(n->str, ms))
		return true;
	tr_diags_add(d, TR_DIAG_ERROR, n->line, n->col,
		     "%s must be a duration such as '30s', '5m', '2h' or '500ms'", what);
	return false;
}
