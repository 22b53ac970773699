/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /api/2.0/trellis/audit: reads of the audit log.
 *   GET audit/entries?actor=&action=&resource_type=&resource_id=&from_ms=&to_ms=
 *                     &max_results=&page_token=     entries newest first (store_audit.c)
 *   GET audit/verify                                 the hash chain's status
 * Errors in MLflow's {"error_code", "message"} shape. A verification reads the
 * whole chain in one read transaction, which in WAL mode never blocks the
 * writer, but costs one SHA-256 per entry; one runs at a time and a second
 * concurrent request is answered 503 TEMPORARILY_UNAVAILABLE at once rather
 * than holding another HTTP worker.
 */
#include "api/api.h"
#include "core/clock.h"

#include <stdatomic.h>
#include <string.h>

static atomic_bool verifying;

static enum tr_err verify(struct tr_api *api, json_t *args, json_t **out, struct tr_buf *err)
{
	if (json_object_size(args))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "audit/verify takes no parameters");
	bool idle = false;
	if (!atomic_compare_exchange_strong(&verifying, &idle, true))
		return tr_fail(err, TR_ERR_TEMPORARILY_UNAVAILABLE,
			       "an audit verification is already running; try again shortly");
	int64_t count = 0, bad = 0, start = tr_clock_now_ms();
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = tr_store_audit_verify(api->store, &count, &bad, &why);
	atomic_store(&verifying, false);
	int64_t end = tr_clock_now_ms();
	if (rc == TR_OK || rc == TR_ERR_DATA_LOSS) {
		*out = json_pack("{s:b,s:I,s:I,s:I}", "ok", rc == TR_OK, "count", (json_int_t)count,
				 "checked_at_ms", (json_int_t)end, "duration_ms",
				 (json_int_t)(end - start));
		if (rc) {
			json_object_set_new(*out, "first_bad_seq", json_integer(bad));
			json_object_set_new(*out, "message", json_string(tr_buf_str(&why)));
		}
		rc = TR_OK;
	} else {
		rc = tr_fail(err, rc, "%s", tr_buf_str(&why));
	}
	tr_buf_release(&why);
	return rc;
}

bool tr_api_audit(struct tr_api *api, struct tr_req *r)
{
	const char *rest = tr_api_trellis_rest(r->path, "audit");
	if (!rest)
		return false;
	int which = !strcmp(rest, "/entries") ? 0 : !strcmp(rest, "/verify") ? 1 : -1;
	if (which < 0) {
		tr_req_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "No API endpoint at this path.");
		return true;
	}
	r->route = which == 0 ? "trellis.audit.entries" : "trellis.audit.verify";
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED,
			     "The method is not allowed for the requested URL.");
		return true;
	}
	struct tr_buf err = TR_BUF_INIT;
	json_t *out = NULL;
	enum tr_err rc = which == 0 ? tr_store_audit_entries(api->store, r->args, &out, &err)
				    : verify(api, r->args, &out, &err);
	if (rc)
		tr_req_error(r, rc, tr_buf_str(&err));
	else
		tr_req_json(r, 200, out);
	tr_buf_release(&err);
	return true;
}
