/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP pipeline uploads: POST /pipelines/upload and /pipelines/upload_version
 * with the file in the multipart/form-data field `uploadfile` and the other
 * parameters in the query string. The body was buffered by the HTTP layer
 * (bounded by --max-body-bytes); the multipart parser below walks it with
 * explicit lengths and never copies the file. The file must be a pipeline the
 * loader accepts (its line:column messages go back in error_details); it is
 * stored verbatim. Zip and tar.gz packages are refused with a clear 400: only
 * YAML (or JSON) files are taken. Errors use the upload routes' shape
 * {"error_message", "error_details"}; refused uploads are audited too.
 */
#include "api/kfp.h"
#include "pipeline/diag.h"
#include "pipeline/spec.h"

#include <string.h>
#include <strings.h>

#define MAX_NAME 255

/* ---- the upload routes ---- */

/* Answers a finished (or refused) upload: the Pipeline, the PipelineVersion,
 * or the upload error shape with error_details from the arguments. */
static void render(struct tr_req *r, struct tr_write *w, bool version)
{
	if (w->rc)
		tr_kfp_upload_error(r, w->rc, tr_buf_str(&w->err),
				    json_string_value(json_object_get(w->args, "error_details")));
	else
		tr_kfp_json(r, version ? tr_kfp_version_json(w->result)
				       : tr_kfp_pipeline_json(w->result));
}

static void render_pipeline(struct tr_req *r, struct tr_write *w)
{
	render(r, w, false);
}

static void render_version(struct tr_req *r, struct tr_write *w)
{
	render(r, w, true);
}

/* Refuses the upload with CODE, MSG and DETAILS (may be NULL), audited as ACTION. */
static void refuse(struct tr_api *api, struct tr_req *r, bool version, enum tr_err code,
		   const char *msg, const char *details)
{
	const char *action = version ? "kfp.pipelines.upload_version" : "kfp.pipelines.upload";
	tr_buf_reset(&r->write.err);
	tr_buf_appends(&r->write.err, msg);
	r->write.reject = code;
	json_decref(r->args);
	r->args = json_object();
	if (details)
		json_object_set_new(r->args, "error_details", json_string(details));
	tr_req_submit_render(r, api->store, tr_store_reject, action, TR_AUDIT_CONTROL,
			     version ? render_version : render_pipeline);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Checks the tags query parameter: a JSON object of at most 20 string values,
 * keys and values at most 63 characters, no '.' in keys. New object in *OUT. */
static enum tr_err parse_tags(const char *text, json_t **out, struct tr_buf *err)
{
	*out = json_object();
	if (!text)
		return TR_OK;
	json_decref(*out);
	*out = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*out) || json_object_size(*out) > 20)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "tags must be a JSON object of at most 20 string values");
	const char *k;
	json_t *v;
	json_object_foreach(*out, k, v)
	{
		if (!json_is_string(v) || !*k || strlen(k) > 63 || strchr(k, '.') ||
		    json_string_length(v) > 63)
			return tr_fail(
			    err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "invalid tag '%.63s': keys and values are strings of at most "
			    "63 characters, keys without '.'",
			    k);
	}
	return TR_OK;
}

bool tr_api_kfp_upload(struct tr_api *api, struct tr_req *r, const char *sub)
{
	bool version = !strcmp(sub, "/pipelines/upload_version");
	if (!version && strcmp(sub, "/pipelines/upload"))
		return false;
	r->route = version ? "kfp.pipelines.upload_version" : "kfp.pipelines.upload";
	if (strcmp(r->method, "POST")) {
		tr_kfp_upload_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed", NULL);
		return true;
	}
	json_t *q = tr_req_query(r), *tags = NULL;
	struct tr_buf err = TR_BUF_INIT, details = TR_BUF_INIT;
	struct tr_kfp_part part;
	struct tr_diags diags = TR_DIAGS_INIT;
	struct tr_pipeline_spec *spec = NULL;
	enum tr_err rc =
	    tr_kfp_multipart_find(tr_req_header(r, "Content-Type"), tr_buf_str(&r->body),
				  r->body.len, "uploadfile", &part, &err);
	if (!rc)
		rc = parse_tags(tr_kfp_arg(q, "tags"), &tags, &err);
	if (rc)
		goto refuse;
	const char *pid = tr_kfp_arg(q, "pipelineid");
	if (version && !pid) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "pipelineid is required to upload a pipeline version");
		goto refuse;
	}
	const char *name = tr_kfp_arg(q, "name");
	if (!name)
		name = tr_kfp_arg(q, "display_name");
	if (!name)
		name = *part.filename ? part.filename : NULL;
	if (!name || strlen(name) > MAX_NAME) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     name ? "the name is longer than %d characters"
				  : "the pipeline has no name: give name= (or a file name)",
			     MAX_NAME);
		goto refuse;
	}
	bool text_name = has_suffix(part.filename, ".yaml") || has_suffix(part.filename, ".yml") ||
			 has_suffix(part.filename, ".json");
	if (!text_name && part.len >= 2 &&
	    ((part.data[0] == 'P' && part.data[1] == 'K') ||
	     ((unsigned char)part.data[0] == 0x1f && (unsigned char)part.data[1] == 0x8b))) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "pipeline packages (zip, tar.gz) are not supported: upload the "
			     "pipeline's YAML file");
		goto refuse;
	}
	if (!part.len || memchr(part.data, '\0', part.len)) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     part.len ? "the uploaded file is not text (it holds NUL bytes)"
				      : "the uploaded file is empty");
		goto refuse;
	}
	json_t *text = json_stringn(part.data, part.len);
	if (!text) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "the uploaded file is not UTF-8 text");
		goto refuse;
	}
	diags.file = *part.filename ? part.filename : "pipeline.yaml";
	rc = tr_pipeline_load_buf(part.data, part.len, NULL, &spec, &diags);
	tr_pipeline_spec_free(spec);
	if (rc) {
		json_decref(text);
		tr_diags_format(&diags, &details);
		size_t first = strcspn(tr_buf_str(&details), "\n");
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "invalid pipeline: %.*s",
			     (int)first, tr_buf_str(&details));
		goto refuse;
	}
	json_t *args = json_pack(
	    "{s:s,s:s,s:s,s:o,s:o,s:s}", "name", name, "display_name",
	    tr_kfp_arg(q, "display_name") ? tr_kfp_arg(q, "display_name") : name, "description",
	    tr_kfp_arg(q, "description") ? tr_kfp_arg(q, "description") : "", "tags", tags,
	    "spec_text", text, "code_source_url",
	    tr_kfp_arg(q, "code_source_url") ? tr_kfp_arg(q, "code_source_url") : "");
	tags = NULL;
	if (!args) { /* a query value that is not UTF-8 */
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "invalid query parameters");
		goto refuse;
	}
	if (pid)
		json_object_set_new(args, "pipeline_id", json_string(pid));
	json_decref(r->args);
	r->args = args;
	tr_req_submit_render(
	    r, api->store, version ? tr_store_kfp_version_upload : tr_store_kfp_pipeline_upload,
	    r->route, TR_AUDIT_CONTROL, version ? render_version : render_pipeline);
	goto out;
refuse:
	refuse(api, r, version, rc, tr_buf_str(&err), details.len ? tr_buf_str(&details) : NULL);
out:
	json_decref(tags);
	tr_diags_release(&diags);
	tr_buf_release(&err);
	tr_buf_release(&details);
	return true;
}
