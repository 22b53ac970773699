/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP's recurring runs under /apis/v2beta1/recurringruns (reference/
 * kfp-api.md §2 (8), §4.4): create, list, get, enable, disable, delete. The
 * store keeps them (store_kfp.c) and the scheduler (pipeline/schedule.c)
 * fires them; this file checks requests and renders the RecurringRun
 * message. The list answers under the camelCase key "recurringRuns", as the
 * proto field is named and kfp.Client reads it.
 */
#include "api/api.h"
#include "api/kfp.h"
#include "pipeline/diag.h"
#include "pipeline/spec.h"

#include <stdlib.h>
#include <string.h>

/* The RecurringRun message for a store row REC (borrowed); a new object. */
static json_t *recurring_json(json_t *rec)
{
	char t[32];
	bool enabled = json_is_true(json_object_get(rec, "enabled"));
	json_t *out = json_object();
	tr_kfp_put_str(out, "recurring_run_id",
		       json_string_value(json_object_get(rec, "recurring_run_id")));
	tr_kfp_put_str(out, "display_name",
		       json_string_value(json_object_get(rec, "display_name")));
	tr_kfp_put_str(out, "description", json_string_value(json_object_get(rec, "description")));
	tr_kfp_put_str(out, "experiment_id",
		       json_string_value(json_object_get(rec, "experiment_id")));
	const char *pid = json_string_value(json_object_get(rec, "pipeline_id"));
	const char *text = json_string_value(json_object_get(rec, "spec_text"));
	if (pid && *pid) {
		json_t *ref = json_pack("{s:s}", "pipeline_id", pid);
		tr_kfp_put_str(ref, "pipeline_version_id",
			       json_string_value(json_object_get(rec, "pipeline_version_id")));
		json_object_set_new(out, "pipeline_version_reference", ref);
	} else if (text) {
		json_t *spec = json_loads(text, 0, NULL);
		if (json_is_object(spec))
			json_object_set_new(out, "pipeline_spec", spec);
		else
			json_decref(spec);
	}
	json_t *rtc = json_object_get(rec, "runtime_config");
	if (json_object_size(rtc))
		json_object_set(out, "runtime_config", rtc);
	snprintf(t, sizeof(t), "%lld",
		 (long long)json_integer_value(json_object_get(rec, "max_concurrency")));
	json_object_set_new(out, "max_concurrency", json_string(t));
	/* the trigger as given, with int64 interval_second as a string */
	json_t *trig = json_deep_copy(json_object_get(rec, "trigger"));
	json_t *per = json_object_get(trig, "periodic_schedule");
	json_t *iv = json_object_get(per, "interval_second");
	if (json_is_integer(iv)) {
		snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(iv));
		json_object_set_new(per, "interval_second", json_string(t));
	}
	json_object_set_new(out, "trigger", trig ? trig : json_object());
	json_object_set_new(out, "mode", json_string(enabled ? "ENABLE" : "DISABLE"));
	json_object_set_new(out, "status", json_string(enabled ? "ENABLED" : "DISABLED"));
	tr_kfp_time(json_integer_value(json_object_get(rec, "created_ms")), t);
	json_object_set_new(out, "created_at", json_string(t));
	tr_kfp_time(json_integer_value(json_object_get(rec, "updated_ms")), t);
	json_object_set_new(out, "updated_at", json_string(t));
	if (json_is_true(json_object_get(rec, "no_catchup")))
		json_object_set_new(out, "no_catchup", json_true());
	const char *error = json_string_value(json_object_get(rec, "error"));
	if (error && *error)
		json_object_set_new(
		    out, "error",
		    json_pack("{s:i,s:s,s:[]}", "code", 2, "message", error, "details"));
	return out;
}

static const struct tr_kfp_field recurring_fields[] = {
    {"recurring_run_id", "recurring_run_id", TR_KFP_TEXT},
    {"id", "recurring_run_id", TR_KFP_TEXT},
    {"display_name", "display_name", TR_KFP_TEXT},
    {"name", "display_name", TR_KFP_TEXT},
    {"description", "description", TR_KFP_TEXT},
    {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"updated_at", "updated_ms", TR_KFP_TIME_MS},
    {"experiment_id", "experiment_id", TR_KFP_TEXT},
    {"namespace", "''", TR_KFP_TEXT},
    {NULL, NULL, TR_KFP_TEXT},
};

static void list_recurring(struct tr_api *api, struct tr_req *r)
{
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	json_t *rows = NULL, *row;
	int64_t total = 0;
	const char *exp = tr_kfp_arg(tr_req_query(r), "experiment_id");
	enum tr_err rc = tr_kfp_list_parse(r, recurring_fields, &l, &err);
	if (!rc)
		rc = tr_store_kfp_recurring_list(api->store, exp, &l.q, &rows, &total, &err);
	if (rc) {
		tr_kfp_error(r, rc, tr_buf_str(&err));
		goto out;
	}
	json_t *list = json_array();
	size_t i;
	json_array_foreach(rows, i, row) json_array_append_new(list, recurring_json(row));
	tr_kfp_list_answer(r, &l, total, "recurringRuns", list); /* camelCase: the proto's name */
out:
	json_decref(rows);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
}

static void answer_recurring(struct tr_api *api, struct tr_req *r, const char *id)
{
	json_t *rec = NULL;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_store_kfp_recurring_get(api->store, id, &rec, &err);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, recurring_json(rec));
	json_decref(rec);
	tr_buf_release(&err);
}

/* Runs the store write APPLY with ARGS (borrowed), audited as ACTION; *RESULT
 * (when not NULL) gets its result. */
static enum tr_err store_write(struct tr_api *api, tr_write_fn apply, json_t *args,
			       const char *action, json_t **result, struct tr_buf *err)
{
	struct tr_write w = {0};
	w.apply = apply;
	w.args = args;
	w.action = action;
	w.actor = "anonymous";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(api->store, &w);
	if (rc)
		tr_buf_appendf(err, "%s", tr_buf_str(&w.err));
	else if (result)
		*result = json_incref(w.result);
	tr_write_release(&w);
	return rc;
}

/* The inline pipeline of a create body as text (a new string, free with
 * free()), checked to load as a pipeline. */
static enum tr_err inline_spec(json_t *spec, char **out, struct tr_buf *err)
{
	json_t *inner = json_object_get(spec, "pipeline_spec"); /* {pipeline_spec, platform_spec} */
	char *text = json_dumps(json_is_object(inner) ? inner : spec, JSON_COMPACT);
	struct tr_pipeline_spec *ps = NULL;
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = "pipeline";
	enum tr_err rc = tr_pipeline_load_buf(text, strlen(text), NULL, &ps, &d);
	if (rc) {
		tr_diags_format(&d, err);
		free(text);
		rc = TR_ERR_INVALID_PARAMETER_VALUE;
	} else {
		*out = text;
	}
	tr_diags_release(&d);
	tr_pipeline_spec_free(ps);
	return rc;
}

static void create_recurring(struct tr_api *api, struct tr_req *r)
{
	json_t *a = r->args;
	struct tr_buf err = TR_BUF_INIT;
	json_t *spec = json_object_get(a, "pipeline_spec");
	json_t *ref = json_object_get(a, "pipeline_version_reference");
	const char *pid = json_string_value(json_object_get(ref, "pipeline_id"));
	const char *vid = json_string_value(json_object_get(ref, "pipeline_version_id"));
	if (!vid) /* the deprecated form */
		vid = json_string_value(json_object_get(a, "pipeline_version_id"));
	json_t *rtc = json_object_get(a, "runtime_config");
	json_t *params = json_object_get(rtc, "parameters");
	json_t *args = json_object(), *res = NULL;
	char *text = NULL;
	enum tr_err rc = TR_OK;
	if (rtc && !json_is_object(rtc) && !json_is_null(rtc))
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "runtime_config must be an object");
	else if (params && !json_is_object(params) && !json_is_null(params))
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "runtime_config.parameters must be an object");
	else if (json_is_object(spec))
		rc = inline_spec(spec, &text, &err);
	if (rc)
		goto out;
	static const char *const copy[] = {"display_name",    "description",	"experiment_id",
					   "max_concurrency", "trigger",	"mode",
					   "no_catchup",      "runtime_config", NULL};
	for (size_t i = 0; copy[i]; i++) {
		json_t *v = json_object_get(a, copy[i]);
		if (v && !json_is_null(v))
			json_object_set(args, copy[i], v);
	}
	if (text)
		json_object_set_new(args, "spec_text", json_string(text));
	else if (pid && *pid) {
		json_object_set_new(args, "pipeline_id", json_string(pid));
		json_object_set_new(args, "pipeline_version_id", json_string(vid ? vid : ""));
	}
	rc = store_write(api, tr_store_kfp_recurring_create, args, "kfp.recurringruns.create", &res,
			 &err);
out:
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, recurring_json(res));
	free(text);
	json_decref(args);
	json_decref(res);
	tr_buf_release(&err);
}

/* enable, disable or delete (VERB) recurring run ID: answers {}. */
static void change(struct tr_api *api, struct tr_req *r, const char *id, const char *verb)
{
	struct tr_buf err = TR_BUF_INIT;
	json_t *args = json_pack("{s:s}", "recurring_run_id", id);
	enum tr_err rc;
	if (!strcmp(verb, "enable"))
		rc = store_write(api, tr_store_kfp_recurring_enable, args,
				 "kfp.recurringruns.enable", NULL, &err);
	else if (!strcmp(verb, "disable"))
		rc = store_write(api, tr_store_kfp_recurring_disable, args,
				 "kfp.recurringruns.disable", NULL, &err);
	else if (!strcmp(verb, "delete"))
		rc = store_write(api, tr_store_kfp_recurring_delete, args,
				 "kfp.recurringruns.delete", NULL, &err);
	else
		rc = tr_fail(&err, TR_ERR_ENDPOINT_NOT_FOUND, "Not Found");
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, json_object());
	json_decref(args);
	tr_buf_release(&err);
}

static void remove_recurring(struct tr_api *api, struct tr_req *r, const char *id)
{
	change(api, r, id, "delete");
}

/* POST /recurringruns/{id}:enable or :disable */
static void recurring_verb(struct tr_api *api, struct tr_req *r, const char *id, const char *verb)
{
	if (strcmp(verb, "enable") && strcmp(verb, "disable"))
		tr_kfp_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "Not Found");
	else
		change(api, r, id, verb);
}

bool tr_api_kfp_recurring(struct tr_api *api, struct tr_req *r)
{
	static const struct tr_kfp_resource recurring = {
	    .prefix = "/apis/v2beta1/recurringruns",
	    .route = "kfp.recurringruns",
	    .create = create_recurring,
	    .list = list_recurring,
	    .get = answer_recurring,
	    .remove = remove_recurring,
	    .verb = recurring_verb,
	};
	return tr_kfp_resource_dispatch(api, r, &recurring);
}
