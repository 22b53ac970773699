/* SPDX-License-Identifier: Apache-2.0 */
/* TEMPORARY stand-ins until the KFP API branch lands. */
#include "api/kfp.h"

#include <time.h>

static int grpc_code(enum tr_err code)
{
	switch (code) {
	case TR_ERR_INVALID_PARAMETER_VALUE:
	case TR_ERR_BAD_REQUEST:
	case TR_ERR_INVALID_STATE:
		return code == TR_ERR_INVALID_STATE ? 9 : 3;
	case TR_ERR_RESOURCE_DOES_NOT_EXIST:
	case TR_ERR_ENDPOINT_NOT_FOUND:
		return 5;
	case TR_ERR_RESOURCE_ALREADY_EXISTS:
		return 6;
	case TR_ERR_TEMPORARILY_UNAVAILABLE:
		return 14;
	case TR_ERR_NOT_IMPLEMENTED:
		return 12;
	default:
		return 13;
	}
}

void tr_kfp_error(struct tr_req *r, enum tr_err code, const char *msg)
{
	tr_req_json(r, tr_err_http_status(code),
		    json_pack("{s:i,s:s,s:[]}", "code", grpc_code(code), "message", msg ? msg : "",
			      "details"));
}

void tr_kfp_json(struct tr_req *r, json_t *body)
{
	tr_req_json(r, 200, body);
}

void tr_kfp_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void tr_api_kfp_runs_list(struct tr_api *api, struct tr_req *r)
{
	(void)api;
	tr_kfp_json(r, json_object());
}

enum tr_err tr_store_kfp_version_spec(struct tr_store *s, const char *pipeline_id,
				      const char *version_id, char **spec_text,
				      char **resolved_version_id, struct tr_buf *err)
{
	(void)s;
	(void)pipeline_id;
	(void)version_id;
	*spec_text = NULL;
	*resolved_version_id = NULL;
	return tr_fail(err, TR_ERR_NOT_IMPLEMENTED, "pipeline versions are not stored yet");
}
