/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow tracking routes: the table, and the read handlers that pick their
 * arguments out of the request. Writes go straight to the store's write
 * operations, which validate inside the writer's transaction.
 */
#include "api/api.h"
#include "core/json.h"

static enum tr_err experiments_get(struct tr_api *api, json_t *args, json_t **out,
				   struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_req_str(args, "experiment_id", &id, err);
	return rc ? rc : tr_store_experiment_get(api->store, id, out, err);
}

static enum tr_err experiments_get_by_name(struct tr_api *api, json_t *args, json_t **out,
					   struct tr_buf *err)
{
	const char *name;
	enum tr_err rc = tr_json_req_str(args, "experiment_name", &name, err);
	return rc ? rc : tr_store_experiment_get_by_name(api->store, name, out, err);
}

static enum tr_err experiments_search(struct tr_api *api, json_t *args, json_t **out,
				      struct tr_buf *err)
{
	return tr_store_experiment_search(api->store, args, out, err);
}

static enum tr_err runs_get(struct tr_api *api, json_t *args, json_t **out, struct tr_buf *err)
{
	const char *id;
	enum tr_err rc = tr_json_str(args, "run_id", &id, err);
	if (!rc && (!id || !*id))
		rc = tr_json_str(args, "run_uuid", &id, err);
	if (!rc && (!id || !*id))
		rc = tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Missing value for required parameter 'run_id'. See the API docs for more "
		    "information about request parameters.");
	return rc ? rc : tr_store_run_get(api->store, id, out, err);
}

static enum tr_err runs_search(struct tr_api *api, json_t *args, json_t **out, struct tr_buf *err)
{
	return tr_store_run_search(api->store, args, out, err);
}

static enum tr_err metrics_history(struct tr_api *api, json_t *args, json_t **out,
				   struct tr_buf *err)
{
	return tr_store_metric_history(api->store, args, out, err);
}

static enum tr_err metrics_bulk_interval(struct tr_api *api, json_t *args, json_t **out,
					 struct tr_buf *err)
{
	return tr_store_metric_history_bulk_interval(api->store, args, out, err);
}

#define R(m, p, fn, act)                                                                           \
	{                                                                                          \
		m, p, fn, NULL, act, TR_AUDIT_CONTROL, false                                       \
	}
#define WC(m, p, fn, act)                                                                          \
	{                                                                                          \
		m, p, NULL, fn, act, TR_AUDIT_CONTROL, false                                       \
	}
#define WD(m, p, fn, act)                                                                          \
	{                                                                                          \
		m, p, NULL, fn, act, TR_AUDIT_DATA, false                                          \
	}

const struct tr_route tr_mlflow_tracking_routes[] = {
    R("GET", "/experiments/get", experiments_get, "experiments.get"),
    R("GET", "/experiments/get-by-name", experiments_get_by_name, "experiments.get-by-name"),
    R("POST", "/experiments/search", experiments_search, "experiments.search"),
    R("GET", "/experiments/search", experiments_search, "experiments.search"),
    WC("POST", "/experiments/create", tr_store_experiment_create, "experiments.create"),
    WC("POST", "/experiments/update", tr_store_experiment_update, "experiments.update"),
    WC("POST", "/experiments/delete", tr_store_experiment_delete, "experiments.delete"),
    WC("POST", "/experiments/restore", tr_store_experiment_restore, "experiments.restore"),
    WC("POST", "/experiments/set-experiment-tag", tr_store_experiment_set_tag,
       "experiments.set-tag"),
    WC("POST", "/experiments/delete-experiment-tag", tr_store_experiment_delete_tag,
       "experiments.delete-tag"),
    R("GET", "/runs/get", runs_get, "runs.get"),
    R("POST", "/runs/search", runs_search, "runs.search"),
    R("GET", "/runs/search", runs_search, "runs.search"),
    WC("POST", "/runs/create", tr_store_run_create, "runs.create"),
    WC("POST", "/runs/update", tr_store_run_update, "runs.update"),
    WC("POST", "/runs/delete", tr_store_run_delete, "runs.delete"),
    WC("POST", "/runs/restore", tr_store_run_restore, "runs.restore"),
    WD("POST", "/runs/log-metric", tr_store_run_log_metric, "runs.log-metric"),
    WD("POST", "/runs/log-parameter", tr_store_run_log_param, "runs.log-parameter"),
    WD("POST", "/runs/set-tag", tr_store_run_set_tag, "runs.set-tag"),
    WD("POST", "/runs/delete-tag", tr_store_run_delete_tag, "runs.delete-tag"),
    {"POST", "/runs/log-batch", NULL, tr_store_run_log_batch, "runs.log-batch", TR_AUDIT_DATA,
     true},
    WD("POST", "/runs/log-inputs", tr_store_run_log_inputs, "runs.log-inputs"),
    WD("POST", "/runs/log-model", tr_store_run_log_model, "runs.log-model"),
    R("GET", "/metrics/get-history", metrics_history, "metrics.get-history"),
    R("GET", "/metrics/get-history-bulk-interval", metrics_bulk_interval,
      "metrics.get-history-bulk-interval"),
};

const size_t tr_mlflow_tracking_n_routes =
    sizeof(tr_mlflow_tracking_routes) / sizeof(tr_mlflow_tracking_routes[0]);
