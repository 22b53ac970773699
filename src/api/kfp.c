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
		return 7;		/* PermissionDenied: never Unauthenticated, see kfp.h */
	case TR_ERR_METHOD_NOT_ALLOWED: /* a method the path does not serve: grpc-gateway's */
	case TR_ERR_NOT_IMPLEMENTED:	/* answer is gRPC code 12, which KFP clients expect */
		return 12;
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

void tr_kfp_list_answer(struct tr_req *r, const struct tr_kfp_list *l, int64_t total,
			const char *key, json_t *items)
{
	json_t *out = json_object();
	if (json_array_size(items))
		json_object_set_new(out, key, items);
	else
		json_decref(items);
	tr_kfp_list_finish(l, total, out);
	tr_kfp_json(r, out);
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

enum tr_err tr_kfp_list_parse(struct tr_req *r, const struct tr_kfp_field *fields,
			      struct tr_kfp_list *out, struct tr_buf *err)
{
	return tr_kfp_list_parse_args(tr_req_query(r), fields, out, err);
}

static void not_allowed(struct tr_req *r)
{
	tr_kfp_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed");
}

bool tr_kfp_resource_dispatch(struct tr_api *api, struct tr_req *r,
			      const struct tr_kfp_resource *res)
{
	size_t n = strlen(res->prefix);
	if (strncmp(r->path, res->prefix, n) || (r->path[n] && r->path[n] != '/'))
		return false;
	const char *rest = r->path + n;
	if (*rest && (!rest[1] || strchr(rest + 1, '/')))
		return false;
	r->route = res->route;
	struct tr_buf perr = TR_BUF_INIT;
	if (tr_req_parse_args(r, &perr)) {
		tr_kfp_error(r, TR_ERR_INVALID_PARAMETER_VALUE, tr_buf_str(&perr));
		tr_buf_release(&perr);
		return true;
	}
	tr_buf_release(&perr);
	bool post = !strcmp(r->method, "POST"), get = !strcmp(r->method, "GET");
	if (!*rest) {
		if (post && res->create)
			res->create(api, r);
		else if (get && res->list)
			res->list(api, r);
		else
			not_allowed(r);
		return true;
	}
	char id[128];
	snprintf(id, sizeof(id), "%s", rest + 1);
	char *colon = strrchr(id, ':');
	if (colon) { /* a custom method: POST /runs/{id}:terminate */
		*colon = '\0';
		if (post && res->verb)
			res->verb(api, r, id, colon + 1);
		else
			not_allowed(r);
	} else if (get && res->get) {
		res->get(api, r, id);
	} else if (!strcmp(r->method, "DELETE") && res->remove) {
		res->remove(api, r, id);
	} else {
		not_allowed(r);
	}
	return true;
}
