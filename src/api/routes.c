/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher: strips the API prefix, finds the route, and either answers
 * a read, hands a write to the store, or records a rejected write (refused by
 * the HTTP layer's checks) in the audit log before answering its error.
 */
#include "api/api.h"
#include "api/kfp.h"
#include "api/log_batch_json.h"
#include "core/arena.h"

#include <string.h>

static const char *const prefixes[] = {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"};

static const char *mlflow_suffix(const char *path)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(path, prefixes[i], n) && path[n] == '/')
			return path + n;
	}
	return NULL;
}

const char *tr_api_trellis_rest(const char *path, const char *name)
{
	static const char *const trellis[] = {"/api/2.0/trellis/", "/ajax-api/2.0/trellis/"};
	size_t len = strlen(name);
	for (size_t i = 0; i < sizeof(trellis) / sizeof(trellis[0]); i++) {
		size_t n = strlen(trellis[i]);
		if (strncmp(path, trellis[i], n) || strncmp(path + n, name, len))
			continue;
		const char *rest = path + n + len;
		return *rest == '/' || *rest == '\0' ? rest : NULL;
	}
	return NULL;
}

/* Fields that are lists in MLflow's request messages. From a query string a
 * single value arrives as a lone string; make it the list it stands for. */
static const char *const repeated_fields[] = {"experiment_ids", "order_by", "run_ids", "stages"};

static void lists_from_query(json_t *args)
{
	for (size_t i = 0; i < sizeof(repeated_fields) / sizeof(repeated_fields[0]); i++) {
		json_t *v = json_object_get(args, repeated_fields[i]);
		if (json_is_string(v))
			json_object_set_new(args, repeated_fields[i], json_pack("[O]", v));
	}
}

/* Matches PATTERN against PATH segment by segment; "{id}" and "{key}" match
 * one non-empty segment, copied (in the request's arena) to *ID / *KEY. */
static bool route_match(struct tr_req *r, const char *pattern, const char *path, const char **id,
			const char **key)
{
	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *close = strchr(pattern, '}');
			size_t n = strcspn(path, "/");
			if (!close || !n)
				return false;
			char *v = tr_arena_alloc(tr_req_arena(r), n + 1);
			memcpy(v, path, n);
			v[n] = 0;
			if (!strncmp(pattern, "{id}", 4))
				*id = v;
			else
				*key = v;
			pattern = close + 1;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

static const struct {
	const struct tr_route *routes;
	const size_t *n;
} tables[] = {
    {tr_mlflow_tracking_routes, &tr_mlflow_tracking_n_routes},
    {tr_mlflow_registry_routes, &tr_mlflow_registry_n_routes},
};

/* The route for (method, SUFFIX); *PATH_KNOWN when another method has it. */
static const struct tr_route *find_route(struct tr_req *r, const char *suffix, bool *path_known,
					 const char **id, const char **key)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < *tables[t].n; i++) {
			const struct tr_route *x = &tables[t].routes[i];
			const char *mid = NULL, *mkey = NULL;
			if (strchr(x->path, '{') ? !route_match(r, x->path, suffix, &mid, &mkey)
						 : strcmp(x->path, suffix) != 0)
				continue;
			*path_known = true;
			if (!strcmp(x->method, r->method)) {
				*id = mid;
				*key = mkey;
				return x;
			}
		}
	}
	return NULL;
}

void tr_api_claim(void *ctx, struct tr_req *r)
{
	tr_api_artifacts_claim(ctx, r);
}

void tr_api_dispatch(void *ctx, struct tr_req *r)
{
	struct tr_api *api = ctx;
	if (tr_api_artifacts(api, r))
		return;
	if (tr_api_kfp(api, r)) /* /apis/v2beta1/...: Kubeflow Pipelines (kfp.c) */
		return;
	const char *suffix = mlflow_suffix(r->path);
	const struct tr_route *route = NULL;
	const char *path_id = NULL, *path_key = NULL;
	bool path_known = false;
	/* exact paths first, so "/logged-models/search" is not taken for an id */
	if (suffix)
		route = find_route(r, suffix, &path_known, &path_id, &path_key);
	if (route)
		r->route = route->action;
	/* the arguments: a LogBatch streamed into structs, or one JSON object */
	if (!r->write.reject && route && route->log_batch) {
		struct tr_log_batch *b = tr_arena_alloc(tr_req_arena(r), sizeof(*b));
		r->write.reject = tr_log_batch_parse(r->body.data ? r->body.data : "", r->body.len,
						     r->arena, b, &r->write.err);
		r->write.payload = b;
	} else if (!r->write.reject) {
		r->write.reject = tr_req_parse_args(r, &r->write.err);
		if (!r->write.reject && r->args_from_query)
			lists_from_query(r->args);
		/* ids in the URL path win over the body's */
		if (!r->write.reject && path_id)
			json_object_set_new(r->args, "model_id", json_string(path_id));
		if (!r->write.reject && path_key)
			json_object_set_new(r->args, "tag_key", json_string(path_key));
	}
	if (r->write.reject) {
		if (route && route->write) {
			tr_req_submit(r, api->store, tr_store_reject, route->action, route->audit);
			return;
		}
		tr_req_error(r, r->write.reject, tr_buf_str(&r->write.err));
		return;
	}
	if (!suffix && tr_api_admin(api, r))
		return;
	if (!route) {
		if (path_known) {
			r->route = "method_not_allowed";
			tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED,
				     "The method is not allowed for the requested URL.");
		} else {
			tr_req_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "No API endpoint at this path.");
		}
		return;
	}
	if (route->write) {
		tr_req_submit(r, api->store, route->write, route->action, route->audit);
		return;
	}
	struct tr_buf err = TR_BUF_INIT;
	json_t *out = NULL;
	enum tr_err rc = route->read(api, r->args, &out, &err);
	if (rc)
		tr_req_error(r, rc, tr_buf_str(&err));
	else
		tr_req_json(r, 200, out);
	tr_buf_release(&err);
}
