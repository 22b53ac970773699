/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow's proto-JSON conventions over jansson. Numbers are accepted as JSON
 * numbers or strings because the Python client sends numbers and GET query
 * strings (and other clients) send strings.
 */
#include "core/json.h"
#include "core/buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tr_err tr_json_str(json_t *obj, const char *key, const char **out, struct tr_buf *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return TR_OK;
	if (!json_is_string(v))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid value for parameter '%s': expected a string", key);
	*out = json_string_value(v);
	return TR_OK;
}

enum tr_err tr_json_req_str(json_t *obj, const char *key, const char **out, struct tr_buf *err)
{
	enum tr_err rc = tr_json_str(obj, key, out, err);
	if (rc)
		return rc;
	if (!*out || !**out)
		return tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Missing value for required parameter '%s'. See the API docs for more "
		    "information about request parameters.",
		    key);
	return TR_OK;
}

static bool parse_int64(const char *s, int64_t *out)
{
	if (!*s)
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

enum tr_err tr_json_int64(json_t *obj, const char *key, int64_t *out, bool *present,
			  struct tr_buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return TR_OK;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
		   fabs(json_real_value(v)) < 9.2e18) {
		*out = (int64_t)json_real_value(v);
	} else if (!json_is_string(v) || !parse_int64(json_string_value(v), out)) {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid value for parameter '%s': expected an integer", key);
	}
	if (present)
		*present = true;
	return TR_OK;
}

enum tr_err tr_json_value_double(json_t *v, double *out)
{
	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
		return TR_OK;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v);
		return TR_OK;
	}
	if (!json_is_string(v))
		return TR_ERR_INVALID_PARAMETER_VALUE;
	const char *s = json_string_value(v);
	if (!strcmp(s, "NaN") || !strcmp(s, "nan")) {
		*out = NAN;
		return TR_OK;
	}
	if (!strcmp(s, "Infinity") || !strcmp(s, "inf")) {
		*out = INFINITY;
		return TR_OK;
	}
	if (!strcmp(s, "-Infinity") || !strcmp(s, "-inf")) {
		*out = -INFINITY;
		return TR_OK;
	}
	if (!*s)
		return TR_ERR_INVALID_PARAMETER_VALUE;
	errno = 0;
	char *end;
	double d = strtod(s, &end);
	if (errno == EINVAL || *end)
		return TR_ERR_INVALID_PARAMETER_VALUE;
	*out = d;
	return TR_OK;
}

enum tr_err tr_json_double(json_t *obj, const char *key, double *out, bool *present,
			   struct tr_buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return TR_OK;
	if (tr_json_value_double(v, out))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid value for parameter '%s': expected a number", key);
	if (present)
		*present = true;
	return TR_OK;
}

enum tr_err tr_json_bool(json_t *obj, const char *key, bool *out, bool *present, struct tr_buf *err)
{
	json_t *v = json_object_get(obj, key);
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return TR_OK;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
	} else if (json_is_string(v) && !strcasecmp(json_string_value(v), "true")) {
		*out = true;
	} else if (json_is_string(v) && !strcasecmp(json_string_value(v), "false")) {
		*out = false;
	} else {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid value for parameter '%s': expected a boolean", key);
	}
	if (present)
		*present = true;
	return TR_OK;
}

enum tr_err tr_json_array(json_t *obj, const char *key, json_t **out, struct tr_buf *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return TR_OK;
	if (json_is_array(v)) {
		*out = json_incref(v);
		return TR_OK;
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "Invalid value for parameter '%s': expected a list", key);
}

json_t *tr_json_from_double(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

void tr_json_put_str(json_t *obj, const char *key, const char *s)
{
	json_object_set_new_nocheck(obj, key, json_string_nocheck(s));
}

void tr_json_put_int(json_t *obj, const char *key, int64_t v)
{
	json_object_set_new_nocheck(obj, key, json_integer(v));
}

char *tr_json_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY);
	return s ? s : strdup("null");
}

int tr_json_depth(const json_t *v)
{
	int best = 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			int d = tr_json_depth(x);
			if (d > best)
				best = d;
		}
		return best + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			int d = tr_json_depth(x);
			if (d > best)
				best = d;
		}
		return best + 1;
	}
	return 1;
}
