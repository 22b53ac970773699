/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP pipelines and pipeline versions: list, get (also by name), delete.
 * Deleting a pipeline deletes its versions too (the official server refuses
 * unless cascade=true; every upload creates a version, so kfp.Client's
 * delete_pipeline() would always fail there). A version's pipeline_spec is
 * its stored YAML turned into JSON: the first document, or
 * {"pipeline_spec", "platform_spec"} when a second non-empty one follows.
 * Uploads are in kfp_upload.c.
 */
#include "api/kfp.h"
#include "core/arena.h"
#include "pipeline/diag.h"
#include "pipeline/yaml.h"

#include <string.h>

static const struct tr_kfp_field pipeline_fields[] = {
    {"pipeline_id", "pipeline_id", TR_KFP_TEXT},
    {"id", "pipeline_id", TR_KFP_TEXT},
    {"display_name", "display_name", TR_KFP_TEXT},
    {"name", "name", TR_KFP_TEXT},
    {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"description", "description", TR_KFP_TEXT},
    {"namespace", "''", TR_KFP_TEXT},
    {NULL, NULL, TR_KFP_TEXT},
};

static const struct tr_kfp_field version_fields[] = {
    {"pipeline_version_id", "pipeline_version_id", TR_KFP_TEXT},
    {"id", "pipeline_version_id", TR_KFP_TEXT},
    {"display_name", "display_name", TR_KFP_TEXT},
    {"name", "name", TR_KFP_TEXT},
    {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"description", "description", TR_KFP_TEXT},
    {NULL, NULL, TR_KFP_TEXT},
};

static void put_common(json_t *out, json_t *row)
{
	char created[32];
	tr_kfp_time(json_integer_value(json_object_get(row, "created_ms")), created);
	tr_kfp_put_str(out, "name", json_string_value(json_object_get(row, "name")));
	tr_kfp_put_str(out, "display_name",
		       json_string_value(json_object_get(row, "display_name")));
	tr_kfp_put_str(out, "description", json_string_value(json_object_get(row, "description")));
	json_object_set_new(out, "created_at", json_string(created));
	json_t *tags = json_object_get(row, "tags");
	if (json_object_size(tags))
		json_object_set(out, "tags", tags);
}

json_t *tr_kfp_pipeline_json(json_t *row)
{
	json_t *p = json_object();
	tr_kfp_put_str(p, "pipeline_id", json_string_value(json_object_get(row, "pipeline_id")));
	put_common(p, row);
	return p;
}

/* The stored YAML TEXT as the version's pipeline_spec (new value), or NULL
 * when it does not read (it was validated on upload, so only on corruption). */
static json_t *spec_json(const char *text)
{
	struct tr_arena *a = tr_arena_new();
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_yaml_node **docs = NULL;
	size_t n = 0;
	json_t *out = NULL;
	if (tr_yaml_load_buf(text, strlen(text), NULL, a, &docs, &n, &d) && n > 0) {
		out = tr_yaml_to_json(docs[0]);
		if (n > 1 && docs[1] && !tr_yaml_is_null(docs[1]) &&
		    !(docs[1]->kind != TR_YAML_SCALAR && docs[1]->n == 0)) {
			json_t *platform = tr_yaml_to_json(docs[1]);
			out =
			    json_pack("{s:o,s:o}", "pipeline_spec", out, "platform_spec", platform);
		}
	}
	tr_diags_release(&d);
	tr_arena_free(a);
	return out;
}

json_t *tr_kfp_version_json(json_t *row)
{
	json_t *v = json_object();
	tr_kfp_put_str(v, "pipeline_id", json_string_value(json_object_get(row, "pipeline_id")));
	tr_kfp_put_str(v, "pipeline_version_id",
		       json_string_value(json_object_get(row, "pipeline_version_id")));
	put_common(v, row);
	tr_kfp_put_str(v, "code_source_url",
		       json_string_value(json_object_get(row, "code_source_url")));
	const char *spec = json_string_value(json_object_get(row, "spec_text"));
	json_t *js = spec ? spec_json(spec) : NULL;
	if (js)
		json_object_set_new(v, "pipeline_spec", js);
	return v;
}

/* Lists pipelines (PIPELINE_ID NULL) or the versions of PIPELINE_ID. */
static void list(struct tr_api *api, struct tr_req *r, const char *pipeline_id)
{
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	json_t *rows = NULL, *p = NULL;
	int64_t total = 0;
	enum tr_err rc =
	    tr_kfp_list_parse(r, pipeline_id ? version_fields : pipeline_fields, &l, &err);
	/* an unknown pipeline is a 404, not an empty list */
	if (!rc && pipeline_id)
		rc = tr_store_kfp_pipeline_get(api->store, pipeline_id, false, &p, &err);
	if (!rc)
		rc = pipeline_id
			 ? tr_store_kfp_version_list(api->store, pipeline_id, &l.q, &rows, &total,
						     &err)
			 : tr_store_kfp_pipeline_list(api->store, &l.q, &rows, &total, &err);
	if (rc) {
		tr_kfp_error(r, rc, tr_buf_str(&err));
		goto out;
	}
	json_t *items = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) json_array_append_new(
	    items, pipeline_id ? tr_kfp_version_json(row) : tr_kfp_pipeline_json(row));
	tr_kfp_list_answer(r, &l, total, pipeline_id ? "pipeline_versions" : "pipelines", items);
out:
	json_decref(p);
	json_decref(rows);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
}

static void get_pipeline(struct tr_api *api, struct tr_req *r, const char *key, bool by_name)
{
	struct tr_buf err = TR_BUF_INIT;
	json_t *row = NULL;
	enum tr_err rc = tr_store_kfp_pipeline_get(api->store, key, by_name, &row, &err);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, tr_kfp_pipeline_json(row));
	json_decref(row);
	tr_buf_release(&err);
}

static void get_version(struct tr_api *api, struct tr_req *r, const char *pid, const char *vid)
{
	struct tr_buf err = TR_BUF_INIT;
	json_t *row = NULL;
	enum tr_err rc = tr_store_kfp_version_get(api->store, pid, vid, &row, &err);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, tr_kfp_version_json(row));
	json_decref(row);
	tr_buf_release(&err);
}

static void render_empty(struct tr_req *r, struct tr_write *w)
{
	if (w->rc)
		tr_kfp_error(r, w->rc, tr_buf_str(&w->err));
	else
		tr_kfp_json(r, json_object());
}

static void submit_delete(struct tr_api *api, struct tr_req *r, const char *pid, const char *vid)
{
	json_decref(r->args);
	r->args = vid ? json_pack("{s:s,s:s}", "pipeline_id", pid, "pipeline_version_id", vid)
		      : json_pack("{s:s}", "pipeline_id", pid);
	const char *action = vid ? "kfp.pipeline_versions.delete" : "kfp.pipelines.delete";
	r->route = action;
	tr_req_submit_render(r, api->store,
			     vid ? tr_store_kfp_version_delete : tr_store_kfp_pipeline_delete,
			     action, TR_AUDIT_CONTROL, render_empty);
}

/* Splits SUB (after "/pipelines") into at most MAX non-empty segments in the
 * request's arena; -1 for an empty segment or too many. */
static int split(struct tr_req *r, const char *sub, char **seg, int max)
{
	int n = 0;
	while (*sub == '/') {
		sub++;
		size_t len = strcspn(sub, "/");
		if (!len || n == max || len > 256)
			return -1;
		seg[n++] = tr_arena_strndup(tr_req_arena(r), sub, len);
		sub += len;
	}
	return *sub ? -1 : n;
}

bool tr_api_kfp_pipelines(struct tr_api *api, struct tr_req *r, const char *sub)
{
	static const char base[] = "/pipelines";
	size_t n = strlen(base);
	if (strncmp(sub, base, n) || (sub[n] != '/' && sub[n] != '\0'))
		return false;
	char *seg[4];
	int ns = split(r, sub + n, seg, 4);
	bool get = !strcmp(r->method, "GET"), del = !strcmp(r->method, "DELETE");
	if (ns < 0)
		return false;
	if (ns == 2 && !strcmp(seg[0], "names")) {
		if (!get)
			goto not_allowed;
		r->route = "kfp.pipelines.get-by-name";
		get_pipeline(api, r, seg[1], true);
		return true;
	}
	if (ns == 0 || (ns == 2 && !strcmp(seg[1], "versions"))) {
		if (!get)
			goto not_allowed;
		r->route = ns ? "kfp.pipeline_versions.list" : "kfp.pipelines.list";
		list(api, r, ns ? seg[0] : NULL);
		return true;
	}
	if (ns == 1) {
		if (get) {
			r->route = "kfp.pipelines.get";
			get_pipeline(api, r, seg[0], false);
		} else if (del) {
			submit_delete(api, r, seg[0], NULL);
		} else {
			goto not_allowed;
		}
		return true;
	}
	if (ns == 3 && !strcmp(seg[1], "versions")) {
		if (get) {
			r->route = "kfp.pipeline_versions.get";
			get_version(api, r, seg[0], seg[2]);
		} else if (del) {
			submit_delete(api, r, seg[0], seg[2]);
		} else {
			goto not_allowed;
		}
		return true;
	}
	return false;
not_allowed:
	tr_kfp_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed");
	return true;
}
