/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The /apis/v2beta1 dispatcher and what every KFP handler shares: the error
 * bodies and status mapping, RFC3339 times, and the list-request parser that
 * turns KFP's filter JSON, sort_by and paging into a SQL WHERE fragment over
 * a field table, with every value bound (see kfp.h).
 */
#include "api/kfp.h"
#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- responses ---- */

int tr_kfp_grpc_code(enum tr_err code)
{
	switch (code) {
	case TR_OK:
		return 0;
	case TR_ERR_INVALID_PARAMETER_VALUE:
	case TR_ERR_BAD_REQUEST:
		return 3; /* InvalidArgument */
	case TR_ERR_RESOURCE_DOES_NOT_EXIST:
	case TR_ERR_ENDPOINT_NOT_FOUND:
		return 5; /* NotFound */
	case TR_ERR_RESOURCE_ALREADY_EXISTS:
		return 6; /* AlreadyExists */
	case TR_ERR_INVALID_STATE:
		return 9; /* FailedPrecondition */
	case TR_ERR_UNAUTHENTICATED:
	case TR_ERR_PERMISSION_DENIED:
		return 7; /* PermissionDenied: never Unauthenticated, see kfp.h */
	case TR_ERR_METHOD_NOT_ALLOWED:
	case TR_ERR_NOT_IMPLEMENTED:
		return 12; /* Unimplemented */
	case TR_ERR_TOO_LARGE:
		return 8; /* ResourceExhausted */
	case TR_ERR_RANGE_NOT_SATISFIABLE:
		return 11; /* OutOfRange */
	case TR_ERR_DATA_LOSS:
		return 15;
	case TR_ERR_TEMPORARILY_UNAVAILABLE:
		return 14; /* Unavailable */
	default:
		return 13; /* Internal */
	}
}

int tr_kfp_http_status(enum tr_err code)
{
	switch (tr_kfp_grpc_code(code)) {
	case 0:
		return 200;
	case 3:
	case 9:
	case 11:
		return 400;
	case 5:
		return 404;
	case 6:
		return 409;
	case 7:
		return 403;
	case 8:
		return 413; /* a body over a limit: retrying (429) will not help */
	case 12:
		return code == TR_ERR_METHOD_NOT_ALLOWED ? 405 : 501;
	case 14:
		return 503;
	default:
		return 500;
	}
}

void tr_kfp_error(struct tr_req *r, enum tr_err code, const char *msg)
{
	if (!msg || !*msg)
		msg = tr_strerror(code);
	json_t *body =
	    json_pack("{s:i,s:s,s:[]}", "code", tr_kfp_grpc_code(code), "message", msg, "details");
	if (!body) /* MSG not UTF-8 */
		body = json_pack("{s:i,s:s,s:[]}", "code", tr_kfp_grpc_code(code), "message",
				 tr_strerror(code), "details");
	tr_req_json(r, tr_kfp_http_status(code), body);
}

void tr_kfp_upload_error(struct tr_req *r, enum tr_err code, const char *msg, const char *details)
{
	if (!msg || !*msg)
		msg = tr_strerror(code);
	json_t *body = json_pack("{s:s,s:s}", "error_message", msg, "error_details",
				 details && *details ? details : msg);
	if (!body)
		body = json_pack("{s:s,s:s}", "error_message", tr_strerror(code), "error_details",
				 tr_strerror(code));
	tr_req_json(r, tr_kfp_http_status(code), body);
}

void tr_kfp_json(struct tr_req *r, json_t *body)
{
	tr_req_json(r, 200, body);
}

void tr_kfp_time(int64_t ms, char out[32])
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	struct tm tm;
	if (!gmtime_r(&secs, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

void tr_kfp_put_str(json_t *obj, const char *key, const char *s)
{
	if (s && *s)
		json_object_set_new(obj, key, json_string(s));
}

const char *tr_kfp_arg(json_t *args, const char *key)
{
	const char *v = json_string_value(json_object_get(args, key));
	return v && *v ? v : NULL;
}

/* Reads N decimal digits at *P into *OUT. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

bool tr_kfp_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, frac_ms = 0;
	const char *p = s;
	if (!s || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return false;
	if (*p == '.') {
		p++;
		int scale = 100, nd = 0;
		while (*p >= '0' && *p <= '9') {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
			p++;
			nd++;
		}
		if (!nd)
			return false;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return false;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	*ms = ((int64_t)t - off) * 1000 + frac_ms;
	return true;
}

/* ---- the dispatcher ---- */

static void healthz(struct tr_req *r)
{
	tr_kfp_json(r, json_pack("{s:b,s:s,s:s,s:s}", "multi_user", 0, "pipeline_store", "database",
				 "commit_sha", "unknown", "tag_name", TR_VERSION));
}

static bool is_upload(const char *sub)
{
	return !strcmp(sub, "/pipelines/upload") || !strcmp(sub, "/pipelines/upload_version");
}

/* Answers a request the HTTP layer refused (content type, size, origin) in
 * KFP's shape; writes are audited as rejected, like MLflow's. */
static void render_rejected(struct tr_req *r, struct tr_write *w)
{
	if (is_upload(r->path + strlen(TR_KFP_PREFIX)))
		tr_kfp_upload_error(r, w->rc, tr_buf_str(&w->err), NULL);
	else
		tr_kfp_error(r, w->rc, tr_buf_str(&w->err));
}

bool tr_api_kfp(struct tr_api *api, struct tr_req *r)
{
	size_t n = strlen(TR_KFP_PREFIX);
	if (strncmp(r->path, TR_KFP_PREFIX, n) || (r->path[n] != '/' && r->path[n] != '\0'))
		return false;
	const char *sub = r->path + n;
	r->route = "kfp";
	if (r->write.reject) {
		if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
			r->route = "kfp.rejected";
			tr_req_submit_render(r, api->store, tr_store_reject, "kfp.rejected",
					     TR_AUDIT_CONTROL, render_rejected);
		} else {
			tr_kfp_error(r, r->write.reject, tr_buf_str(&r->write.err));
		}
		return true;
	}
	if (!strcmp(sub, "/healthz")) {
		r->route = "kfp.healthz";
		healthz(r);
		return true;
	}
	if (tr_api_kfp_upload(api, r, sub) || tr_api_kfp_experiments(api, r, sub) ||
	    tr_api_kfp_pipelines(api, r, sub))
		return true;
	/* Runs (kfp_runs.c) and recurring runs (kfp_recurring.c). */
	if (tr_api_kfp_runs(api, r) || tr_api_kfp_recurring(api, r))
		return true;
	r->route = "kfp.not_found";
	tr_kfp_error(r, TR_ERR_RESOURCE_DOES_NOT_EXIST, "Not Found");
	return true;
}

/* ---- list requests ---- */

static const struct {
	const char *name;
	int num;
	const char *sql;
} ops[] = {
    {"EQUALS", 1, "="},	      {"NOT_EQUALS", 2, "<>"},
    {"GREATER_THAN", 3, ">"}, {"GREATER_THAN_EQUALS", 5, ">="},
    {"LESS_THAN", 6, "<"},    {"LESS_THAN_EQUALS", 7, "<="},
    {"IN", 8, NULL},	      {"IS_SUBSTRING", 9, NULL},
};

enum { OP_IN = 8, OP_SUBSTRING = 9 };

/* The predicate member named SNAKE or its camelCase form CAMEL. */
static json_t *member(json_t *p, const char *snake, const char *camel)
{
	json_t *v = json_object_get(p, snake);
	return v ? v : json_object_get(p, camel);
}

static const struct tr_kfp_field *find_field(const struct tr_kfp_field *fields, const char *name)
{
	for (const struct tr_kfp_field *f = fields; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

/* An integer from a JSON number or a decimal string. */
static bool int_value(json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > 20)
		return false;
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

/* Converts the scalar V (given under value key VKEY) to the bind value for
 * field F: a new JSON string or integer. */
static enum tr_err bind_value(const struct tr_kfp_field *f, const char *vkey, json_t *v,
			      json_t **out, struct tr_buf *err)
{
	int64_t n;
	switch (f->kind) {
	case TR_KFP_TEXT:
		if (json_is_string(v)) {
			*out = json_string(json_string_value(v));
			return TR_OK;
		}
		if (int_value(v, &n)) {
			char b[24];
			snprintf(b, sizeof(b), "%lld", (long long)n);
			*out = json_string(b);
			return TR_OK;
		}
		break;
	case TR_KFP_INT:
		if (int_value(v, &n)) {
			*out = json_integer(n);
			return TR_OK;
		}
		break;
	case TR_KFP_TIME_MS:
		if (!strcmp(vkey, "timestamp_value") && json_is_string(v) &&
		    tr_kfp_parse_time(json_string_value(v), &n)) {
			/* compared in whole seconds, as KFP does */
			*out = json_integer(n >= 0 ? n / 1000 : -((-n + 999) / 1000));
			return TR_OK;
		}
		if (strcmp(vkey, "timestamp_value") && int_value(v, &n)) {
			*out = json_integer(n);
			return TR_OK;
		}
		break;
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "filter: the value of '%s' has the wrong type", f->name);
}

/* The left-hand side of a predicate on F. */
static void lhs(struct tr_buf *b, const struct tr_kfp_field *f)
{
	if (f->kind == TR_KFP_TIME_MS)
		tr_buf_appendf(b, "((%s) / 1000)", f->column);
	else
		tr_buf_appendf(b, "(%s)", f->column);
}

static enum tr_err parse_predicate(json_t *p, const struct tr_kfp_field *fields,
				   struct tr_kfp_list *l, struct tr_buf *err)
{
	if (!json_is_object(p))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: each predicate must be an object");
	const char *key = json_string_value(json_object_get(p, "key"));
	if (!key || !*key)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: a predicate has no key");
	const struct tr_kfp_field *f = find_field(fields, key);
	if (!f)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: no support for filtering on unrecognized field '%.100s'",
			       key);
	json_t *jop = json_object_get(p, "operation");
	int op = 0;
	const char *sql = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if ((json_is_integer(jop) && json_integer_value(jop) == ops[i].num) ||
		    (json_is_string(jop) && !strcmp(json_string_value(jop), ops[i].name))) {
			op = ops[i].num;
			sql = ops[i].sql;
		}
	}
	if (!op)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: invalid operation for key '%.100s'", key);
	static const char *const scalars[][2] = {{"string_value", "stringValue"},
						 {"int_value", "intValue"},
						 {"long_value", "longValue"},
						 {"timestamp_value", "timestampValue"}};
	static const char *const lists[][2] = {{"string_values", "stringValues"},
					       {"int_values", "intValues"},
					       {"long_values", "longValues"}};
	json_t *v = NULL;
	const char *vkey = NULL;
	bool is_list = false;
	for (size_t i = 0; i < 4 && !v; i++)
		if ((v = member(p, scalars[i][0], scalars[i][1])))
			vkey = scalars[i][0];
	for (size_t i = 0; i < 3 && !v; i++)
		if ((v = member(p, lists[i][0], lists[i][1]))) {
			vkey = lists[i][0];
			is_list = true;
		}
	if (!v)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: the predicate on '%.100s' has no value", key);
	if ((op == OP_IN) != is_list)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       op == OP_IN ? "filter: IN on '%.100s' needs a list of values"
					   : "filter: '%.100s' takes a single value, not a list",
			       key);
	if (op == OP_SUBSTRING && (!json_is_string(v) || f->kind != TR_KFP_TEXT))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "filter: IS_SUBSTRING on '%.100s' needs a string value", key);
	if (l->where.len)
		tr_buf_appends(&l->where, " AND ");
	if (op == OP_IN) {
		json_t *vals = json_object_get(v, "values");
		if (!vals)
			vals = v; /* a bare list is accepted too */
		if (!json_is_array(vals))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "filter: IN on '%.100s' needs {\"values\": [...]}", key);
		if (!json_array_size(vals)) {
			tr_buf_appends(&l->where, "0");
			return TR_OK;
		}
		if (json_array_size(vals) > 1000)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "filter: IN on '%.100s' has more than 1000 values", key);
		lhs(&l->where, f);
		tr_buf_appends(&l->where, " IN (");
		size_t i;
		json_t *x;
		const char *scalar_key =
		    !strcmp(vkey, "string_values") ? "string_value" : "long_value";
		json_array_foreach(vals, i, x)
		{
			json_t *b;
			enum tr_err rc = bind_value(f, scalar_key, x, &b, err);
			if (rc)
				return rc;
			json_array_append_new(l->binds, b);
			tr_buf_appends(&l->where, i ? ", ?" : "?");
		}
		tr_buf_appendc(&l->where, ')');
		return TR_OK;
	}
	json_t *b;
	enum tr_err rc = bind_value(f, vkey, v, &b, err);
	if (rc)
		return rc;
	json_array_append_new(l->binds, b);
	if (op == OP_SUBSTRING) {
		tr_buf_appends(&l->where, "instr(");
		lhs(&l->where, f);
		tr_buf_appends(&l->where, ", ?) > 0");
	} else {
		lhs(&l->where, f);
		tr_buf_appendf(&l->where, " %s ?", sql);
	}
	return TR_OK;
}

static enum tr_err parse_filter(const char *text, const struct tr_kfp_field *fields,
				struct tr_kfp_list *l, struct tr_buf *err)
{
	json_error_t jerr;
	json_t *f = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	enum tr_err rc = TR_OK;
	if (!json_is_object(f)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "filter: not a JSON object: %.200s", f ? "" : jerr.text);
		goto out;
	}
	json_t *preds = json_object_get(f, "predicates");
	if (preds && !json_is_array(preds)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "filter: 'predicates' must be a list");
		goto out;
	}
	if (json_array_size(preds) > 100) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "filter: more than 100 predicates");
		goto out;
	}
	size_t i;
	json_t *p;
	json_array_foreach(preds, i, p)
	{
		rc = parse_predicate(p, fields, l, err);
		if (rc)
			goto out;
	}
out:
	json_decref(f);
	return rc;
}

static enum tr_err parse_sort(const char *text, const struct tr_kfp_field *fields,
			      struct tr_kfp_list *l, struct tr_buf *err)
{
	const struct tr_kfp_field *f = NULL;
	bool desc = false;
	if (text) {
		char name[128], dir[16], extra[2];
		int n = sscanf(text, "%127s %15s %1s", name, dir, extra);
		if (n < 1 || n > 2 || strlen(text) > 200)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "invalid sort_by '%.100s': use \"field\", \"field asc\" or "
				       "\"field desc\"",
				       text);
		if (n == 2 && strcasecmp(dir, "asc") && strcasecmp(dir, "desc"))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "invalid sort_by '%.100s': the order must be asc or desc",
				       text);
		desc = n == 2 && !strcasecmp(dir, "desc");
		f = find_field(fields, name);
		if (!f)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "invalid sort_by '%.100s': cannot sort on '%s'", text, name);
	} else {
		f = find_field(fields, "created_at");
		if (!f)
			f = fields;
	}
	const char *dir = desc ? "DESC" : "ASC";
	tr_buf_appendf(&l->order_by, "%s %s", f->column, dir);
	if (f != fields)
		tr_buf_appendf(&l->order_by, ", %s %s", fields->column, dir);
	return TR_OK;
}

/* FNV-1a over S, continuing from H. */
static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

char *tr_kfp_list_token(const struct tr_kfp_list *l, int64_t offset)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "t1.%lld.%016llx", (long long)offset, (unsigned long long)l->sig);
	return tr_buf_detach(&b);
}

static enum tr_err parse_token(const char *t, struct tr_kfp_list *l, struct tr_buf *err)
{
	long long off;
	unsigned long long sig;
	int used = 0;
	if (strlen(t) > 64 || sscanf(t, "t1.%lld.%16llx%n", &off, &sig, &used) != 2 || t[used] ||
	    off < 0 || off > (1LL << 40))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "invalid page_token '%.64s'",
			       t);
	if (sig != l->sig)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "page_token does not match the filter and sort_by of this request");
	l->offset = off;
	return TR_OK;
}

/* The string argument KEY of ARGS; NULL when absent or empty; an error when
 * it is not a single string (a repeated query key). */
static enum tr_err one_arg(json_t *args, const char *key, const char **out, struct tr_buf *err)
{
	json_t *v = json_object_get(args, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return TR_OK;
	if (!json_is_string(v))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "'%s' must be given once", key);
	*out = *json_string_value(v) ? json_string_value(v) : NULL;
	return TR_OK;
}

enum tr_err tr_kfp_list_parse_args(json_t *args, const struct tr_kfp_field *fields,
				   struct tr_kfp_list *out, struct tr_buf *err)
{
	const char *filter, *sort, *size, *token;
	enum tr_err rc = one_arg(args, "filter", &filter, err);
	if (!rc)
		rc = one_arg(args, "sort_by", &sort, err);
	if (!rc)
		rc = one_arg(args, "page_size", &size, err);
	if (!rc)
		rc = one_arg(args, "page_token", &token, err);
	if (rc)
		return rc;
	out->binds = json_array();
	out->page_size = 20;
	if (size) {
		char *end;
		errno = 0;
		long long n = strtoll(size, &end, 10);
		if (errno || *end || n < 0 || strlen(size) > 18)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "invalid page_size '%.40s': must be a non-negative integer",
				       size);
		out->page_size = n == 0 ? 20 : n > 200 ? 200 : n;
	}
	if (filter) {
		rc = parse_filter(filter, fields, out, err);
		if (rc)
			return rc;
	}
	rc = parse_sort(sort, fields, out, err);
	if (rc)
		return rc;
	out->sig = fnv(fnv(fnv(14695981039346656037ULL, filter), "\n"), sort);
	if (token) {
		rc = parse_token(token, out, err);
		if (rc)
			return rc;
	}
	out->q.where = tr_buf_str(&out->where);
	out->q.binds = out->binds;
	out->q.order_by = tr_buf_str(&out->order_by);
	out->q.limit = out->page_size;
	out->q.offset = out->offset;
	return TR_OK;
}

enum tr_err tr_kfp_list_parse(struct tr_req *r, const struct tr_kfp_field *fields,
			      struct tr_kfp_list *out, struct tr_buf *err)
{
	return tr_kfp_list_parse_args(tr_req_query(r), fields, out, err);
}

void tr_kfp_list_finish(const struct tr_kfp_list *l, int64_t total, json_t *out)
{
	if (total > 0)
		json_object_set_new(out, "total_size", json_integer(total));
	if (l->offset + l->page_size < total) {
		char *t = tr_kfp_list_token(l, l->offset + l->page_size);
		json_object_set_new(out, "next_page_token", json_string(t));
		free(t);
	}
}

void tr_kfp_list_release(struct tr_kfp_list *l)
{
	tr_buf_release(&l->where);
	tr_buf_release(&l->order_by);
	json_decref(l->binds);
	l->binds = NULL;
}
