/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /api/2.0/trellis/lineage: reads of the lineage graph (store_lineage.c).
 *   GET lineage?node=<kind>:<id>&direction=upstream|downstream|both&depth=N
 *   GET lineage/model-version?name=&version=   what made a model version
 *   GET lineage/dataset?digest=                 what used a dataset or file
 * Errors in MLflow's {"error_code", "message"} shape. A node nothing links
 * answers 200 with just itself ("exists" says whether its table holds it);
 * only the model-version route answers 404 for a version that does not exist.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_DEPTH 10

/* The query argument KEY as a string (borrowed) or NULL. */
static const char *arg(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* DEPTH from "1".."20"; DEFAULT_DEPTH when absent. */
static enum tr_err parse_depth(const char *s, int *out, struct tr_buf *err)
{
	*out = DEFAULT_DEPTH;
	if (!s)
		return TR_OK;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > TR_LINEAGE_MAX_DEPTH)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "depth must be an integer from 1 to %d, not '%.32s'",
			       TR_LINEAGE_MAX_DEPTH, s);
	*out = (int)v;
	return TR_OK;
}

bool tr_api_lineage(struct tr_api *api, struct tr_req *r)
{
	const char *rest = tr_api_trellis_rest(r->path, "lineage");
	if (!rest)
		return false;
	bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	int which = !strcmp(rest, "") || !strcmp(rest, "/") ? 0
		    : !strcmp(rest, "/model-version")	    ? 1
		    : !strcmp(rest, "/dataset")		    ? 2
							    : -1;
	if (which < 0) {
		tr_req_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "No API endpoint at this path.");
		return true;
	}
	static const char *const routes[] = {"trellis.lineage", "trellis.lineage.model-version",
					     "trellis.lineage.dataset"};
	r->route = routes[which];
	if (!get) {
		tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED,
			     "The method is not allowed for the requested URL.");
		return true;
	}
	struct tr_buf err = TR_BUF_INIT;
	json_t *out = NULL;
	enum tr_err rc;
	if (which == 0) {
		int depth;
		const char *node = arg(r->args, "node");
		rc = parse_depth(arg(r->args, "depth"), &depth, &err);
		if (!rc && !node)
			rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "missing 'node'");
		if (!rc)
			rc = tr_store_lineage_query(api->store, node, arg(r->args, "direction"),
						    depth, &out, &err);
	} else if (which == 1) {
		rc = tr_store_lineage_model_version(api->store, arg(r->args, "name"),
						    arg(r->args, "version"), &out, &err);
	} else {
		rc = tr_store_lineage_dataset(api->store, arg(r->args, "digest"), &out, &err);
	}
	if (rc)
		tr_req_error(r, rc, tr_buf_str(&err));
	else
		tr_req_json(r, 200, out);
	tr_buf_release(&err);
	return true;
}
