/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP's runs under /apis/v2beta1/runs (reference/kfp-api.md §2 (7), §4.1):
 * create (an inline pipeline_spec, or a pipeline version reference), get with
 * run_details.task_details and the state history, terminate, retry, archive,
 * unarchive, delete. A KFP run is a Trellis pipeline run, and its id is its
 * parent MLflow run's id, so one id works in both APIs. Execution is the
 * pipeline service's (src/pipeline/service.h).
 */
#include "api/api.h"
#include "api/kfp.h"
#include "core/alloc.h"
#include "pipeline/service.h"

#include <string.h>
#include <time.h>

/* "1970-01-01T00:00:00Z" style; MS 0 is the epoch, as KFP shows an unset time. */
static json_t *rfc3339(int64_t ms)
{
	char out[32];
	tr_kfp_time(ms, out);
	return json_string(out);
}

/* KFP's task state for a Trellis task state. */
static const char *task_state(const char *st)
{
	if (!strcmp(st, "CANCELLED"))
		return "CANCELED";
	return st; /* PENDING RUNNING SUCCEEDED FAILED SKIPPED */
}

/* The Run message for a stored pipeline run REC (borrowed). */
static json_t *run_json(json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "run_id"));
	int64_t created = json_integer_value(json_object_get(rec, "created_ms"));
	json_t *run =
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "run_id", id, "experiment_id",
		      json_string_value(json_object_get(rec, "experiment_id")), "display_name",
		      json_string_value(json_object_get(rec, "display_name")), "storage_state",
		      json_string_value(json_object_get(rec, "storage_state")), "state",
		      json_string_value(json_object_get(rec, "state")));
	const char *desc = json_string_value(json_object_get(rec, "description"));
	if (desc && *desc)
		json_object_set_new(run, "description", json_string(desc));
	json_object_set_new(run, "created_at", rfc3339(created));
	json_object_set_new(run, "scheduled_at", rfc3339(created));
	json_object_set_new(run, "finished_at",
			    rfc3339(json_integer_value(json_object_get(rec, "finished_ms"))));
	const char *pid = json_string_value(json_object_get(rec, "pipeline_id"));
	const char *vid = json_string_value(json_object_get(rec, "pipeline_version_id"));
	if (pid && *pid) {
		json_object_set_new(run, "pipeline_version_reference",
				    json_pack("{s:s,s:s}", "pipeline_id", pid,
					      "pipeline_version_id", vid ? vid : ""));
	} else {
		/* an inline spec was stored as the JSON it came as */
		const char *text = json_string_value(json_object_get(rec, "spec_text"));
		json_t *spec = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(spec))
			json_object_set_new(run, "pipeline_spec", spec);
		else
			json_decref(spec);
	}
	json_t *rtc = json_object_get(rec, "runtime_config");
	if (json_object_size(rtc))
		json_object_set(run, "runtime_config", rtc);
	const char *rr = json_string_value(json_object_get(rec, "recurring_run_id"));
	if (rr && *rr)
		json_object_set_new(run, "recurring_run_id", json_string(rr));
	json_t *hist = json_array(), *h;
	size_t i;
	json_array_foreach(json_object_get(rec, "state_history"), i, h)
	{
		json_array_append_new(
		    hist, json_pack("{s:o,s:O}", "update_time",
				    rfc3339(json_integer_value(json_object_get(h, "update_ms"))),
				    "state", json_object_get(h, "state")));
	}
	json_object_set_new(run, "state_history", hist);
	const char *error = json_string_value(json_object_get(rec, "error"));
	if (error && *error)
		json_object_set_new(
		    run, "error",
		    json_pack("{s:i,s:s,s:[]}", "code", 2, "message", error, "details"));
	/* the tasks, in path order */
	json_t *details = json_array();
	const char *path;
	json_t *t;
	json_object_foreach(json_object_get(rec, "tasks"), path, t)
	{
		const char *mrun = json_string_value(json_object_get(t, "mlflow_run_id"));
		json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "run_id", id, "task_id",
				      mrun ? mrun : path, "display_name", path, "state",
				      task_state(json_string_value(json_object_get(t, "state"))));
		int64_t start = json_integer_value(json_object_get(t, "start_ms"));
		int64_t end = json_integer_value(json_object_get(t, "end_ms"));
		if (start) {
			json_object_set_new(d, "create_time", rfc3339(start));
			json_object_set_new(d, "start_time", rfc3339(start));
		}
		if (end)
			json_object_set_new(d, "end_time", rfc3339(end));
		const char *msg = json_string_value(json_object_get(t, "message"));
		if (msg && *msg &&
		    strcmp(json_string_value(json_object_get(t, "state")), "SUCCEEDED"))
			json_object_set_new(
			    d, "error",
			    json_pack("{s:i,s:s,s:[]}", "code", 2, "message", msg, "details"));
		json_array_append_new(details, d);
	}
	json_object_set_new(run, "run_details", json_pack("{s:o}", "task_details", details));
	return run;
}

static const struct tr_kfp_field run_fields[] = {
    {"run_id", "run_id", TR_KFP_TEXT},
    {"id", "run_id", TR_KFP_TEXT},
    {"display_name", "display_name", TR_KFP_TEXT},
    {"name", "display_name", TR_KFP_TEXT},
    {"state", "state", TR_KFP_TEXT},
    {"status", "state", TR_KFP_TEXT},
    {"experiment_id", "experiment_id", TR_KFP_TEXT},
    {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"scheduled_at", "created_ms", TR_KFP_TIME_MS},
    {"finished_at", "finished_ms", TR_KFP_TIME_MS},
    {"storage_state", "storage_state", TR_KFP_TEXT},
    {"description", "description", TR_KFP_TEXT},
    {"recurring_run_id", "recurring_run_id", TR_KFP_TEXT},
    {"namespace", "''", TR_KFP_TEXT},
    {NULL, NULL, TR_KFP_TEXT},
};

static void list_runs(struct tr_api *api, struct tr_req *r)
{
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	json_t *ids = NULL;
	int64_t total = 0;
	json_t *q = tr_req_query(r);
	const char *exp = tr_kfp_arg(q, "experiment_id");
	enum tr_err rc = tr_kfp_list_parse(r, run_fields, &l, &err);
	if (!rc)
		rc = tr_store_kfp_run_list(api->store, exp, &l.q, &ids, &total, &err);
	if (rc) {
		tr_kfp_error(r, rc, tr_buf_str(&err));
		goto out;
	}
	json_t *runs = json_array(), *id;
	size_t i;
	json_array_foreach(ids, i, id)
	{
		json_t *rec = NULL;
		struct tr_buf e = TR_BUF_INIT;
		if (!tr_store_pipeline_run_get(api->store, json_string_value(id), &rec, &e))
			json_array_append_new(runs, run_json(rec));
		json_decref(rec);
		tr_buf_release(&e);
	}
	tr_kfp_list_answer(r, &l, total, "runs", runs);
out:
	json_decref(ids);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
}

static void answer_run(struct tr_api *api, struct tr_req *r, const char *run_id)
{
	json_t *rec = NULL;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_store_pipeline_run_get(api->store, run_id, &rec, &err);
	if (!rc && strcmp(json_string_value(json_object_get(rec, "source")), "server")) {
		/* a `trellis run` on this store: shown too, with what it has */
		json_object_set_new(rec, "display_name",
				    json_string(json_string_value(json_object_get(rec, "name"))));
	}
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, run_json(rec));
	json_decref(rec);
	tr_buf_release(&err);
}

static void create_run(struct tr_api *api, struct tr_req *r)
{
	json_t *a = r->args;
	struct tr_buf err = TR_BUF_INIT;
	char *text = NULL, *version_spec = NULL, *version_id = NULL;
	const char *display = json_string_value(json_object_get(a, "display_name"));
	json_t *spec = json_object_get(a, "pipeline_spec");
	json_t *ref = json_object_get(a, "pipeline_version_reference");
	const char *pid = json_string_value(json_object_get(ref, "pipeline_id"));
	const char *vid = json_string_value(json_object_get(ref, "pipeline_version_id"));
	if (!vid) /* the deprecated form */
		vid = json_string_value(json_object_get(a, "pipeline_version_id"));
	json_t *rtc = json_object_get(a, "runtime_config");
	json_t *params = json_object_get(rtc, "parameters");
	enum tr_err rc = TR_OK;
	if (!display || !*display) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "The run name is empty");
	} else if (params && !json_is_object(params)) {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "runtime_config.parameters must be an object");
	} else if (json_is_object(spec)) {
		/* MessageToDict output, maybe wrapped with the platform spec */
		json_t *inner = json_object_get(spec, "pipeline_spec");
		text = json_dumps(json_is_object(inner) ? inner : spec, JSON_COMPACT);
	} else if (pid && *pid) {
		rc = tr_store_kfp_version_spec(api->store, pid, vid, &version_spec, &version_id,
					       &err);
		text = version_spec;
		version_spec = NULL;
	} else {
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "a run needs a pipeline_spec or a pipeline_version_reference");
	}
	if (!rc && !api->pipelines)
		rc = tr_fail(&err, TR_ERR_TEMPORARILY_UNAVAILABLE,
			     "pipelines are not running on this server");
	char run_id[64];
	if (!rc) {
		struct tr_pipeline_submit req = {
		    .spec_text = text,
		    .spec_len = strlen(text),
		    .experiment_id = json_string_value(json_object_get(a, "experiment_id")),
		    .display_name = display,
		    .description = json_string_value(json_object_get(a, "description")),
		    .params = params,
		    .runtime_config = json_is_object(rtc) ? rtc : NULL,
		    .pipeline_id = pid && *pid ? pid : NULL,
		    .pipeline_version_id = version_id,
		    .actor = "anonymous",
		};
		rc = tr_pipelines_submit(api->pipelines, &req, run_id, &err);
	}
	free(text);
	free(version_spec);
	free(version_id);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		answer_run(api, r, run_id);
	tr_buf_release(&err);
}

/* Applies store write APPLY with ARGS (stolen) as ACTION and answers {} or
 * KFP's error. */
static void write_and_answer(struct tr_api *api, struct tr_req *r, tr_write_fn apply, json_t *args,
			     const char *action)
{
	struct tr_write w = {0};
	w.apply = apply;
	w.args = args;
	w.action = action;
	w.actor = "anonymous";
	w.audit_class = TR_AUDIT_CONTROL;
	enum tr_err rc = tr_store_write_sync(api->store, &w);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&w.err));
	else
		tr_kfp_json(r, json_object());
	json_decref(w.args);
	tr_write_release(&w);
}

static void set_storage(struct tr_api *api, struct tr_req *r, const char *run_id, const char *state)
{
	write_and_answer(api, r, tr_store_pipeline_run_update,
			 json_pack("{s:s,s:s}", "run_id", run_id, "storage_state", state),
			 !strcmp(state, "ARCHIVED") ? "kfp.runs.archive" : "kfp.runs.unarchive");
}

static void delete_run(struct tr_api *api, struct tr_req *r, const char *run_id)
{
	struct tr_buf ignore = TR_BUF_INIT;
	/* a running run stops first (a finished one has nothing to stop) */
	if (api->pipelines && tr_pipelines_terminate(api->pipelines, run_id, "anonymous", &ignore))
		tr_buf_reset(&ignore);
	tr_buf_release(&ignore);
	write_and_answer(api, r, tr_store_pipeline_run_delete, json_pack("{s:s}", "run_id", run_id),
			 "kfp.runs.delete");
}

static void run_verb(struct tr_api *api, struct tr_req *r, const char *run_id, const char *verb)
{
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	if (!strcmp(verb, "archive") || !strcmp(verb, "unarchive")) {
		set_storage(api, r, run_id, !strcmp(verb, "archive") ? "ARCHIVED" : "AVAILABLE");
		return;
	}
	if (!api->pipelines)
		rc = tr_fail(&err, TR_ERR_TEMPORARILY_UNAVAILABLE,
			     "pipelines are not running on this server");
	else if (!strcmp(verb, "terminate"))
		rc = tr_pipelines_terminate(api->pipelines, run_id, "anonymous", &err);
	else if (!strcmp(verb, "retry"))
		rc = tr_pipelines_retry(api->pipelines, run_id, "anonymous", &err);
	else
		rc = tr_fail(&err, TR_ERR_ENDPOINT_NOT_FOUND, "Not Found");
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, json_object());
	tr_buf_release(&err);
}

bool tr_api_kfp_runs(struct tr_api *api, struct tr_req *r)
{
	static const struct tr_kfp_resource runs = {
	    .prefix = "/apis/v2beta1/runs",
	    .route = "kfp.runs",
	    .create = create_run,
	    .list = list_runs,
	    .get = answer_run,
	    .remove = delete_run,
	    .verb = run_verb,
	};
	return tr_kfp_resource_dispatch(api, r, &runs);
}
