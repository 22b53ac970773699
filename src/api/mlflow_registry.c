/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow model registry routes (registered models, model versions, aliases)
 * and the MLflow 3 logged-model routes. Logged-model paths carry the model id
 * (and a tag key) in the URL; the dispatcher matches them against the
 * "{id}" patterns below and copies the values into the arguments.
 */
#include "api/api.h"

#define READ(name, fn)                                                                             \
	static enum tr_err name(struct tr_api *api, json_t *args, json_t **out,                    \
				struct tr_buf *err)                                                \
	{                                                                                          \
		return fn(api->store, args, out, err);                                             \
	}

READ(rm_get, tr_store_registered_model_get)
READ(rm_search, tr_store_registered_model_search)
READ(rm_latest, tr_store_registered_model_latest_versions)
READ(mv_by_alias, tr_store_model_version_by_alias)
READ(mv_get, tr_store_model_version_get)
READ(mv_search, tr_store_model_version_search)
READ(mv_download_uri, tr_store_model_version_download_uri)
READ(lm_get, tr_store_logged_model_get)
READ(lm_search, tr_store_logged_model_search)

#define R(m, p, fn, act)                                                                           \
	{                                                                                          \
		m, p, fn, NULL, act, TR_AUDIT_CONTROL, false                                       \
	}
#define W(m, p, fn, act)                                                                           \
	{                                                                                          \
		m, p, NULL, fn, act, TR_AUDIT_CONTROL, false                                       \
	}

const struct tr_route tr_mlflow_registry_routes[] = {
    W("POST", "/registered-models/create", tr_store_registered_model_create,
      "registered-models.create"),
    W("POST", "/registered-models/rename", tr_store_registered_model_rename,
      "registered-models.rename"),
    W("PATCH", "/registered-models/update", tr_store_registered_model_update,
      "registered-models.update"),
    W("DELETE", "/registered-models/delete", tr_store_registered_model_delete,
      "registered-models.delete"),
    R("GET", "/registered-models/get", rm_get, "registered-models.get"),
    R("GET", "/registered-models/search", rm_search, "registered-models.search"),
    R("POST", "/registered-models/get-latest-versions", rm_latest,
      "registered-models.get-latest-versions"),
    R("GET", "/registered-models/get-latest-versions", rm_latest,
      "registered-models.get-latest-versions"),
    W("POST", "/registered-models/set-tag", tr_store_registered_model_set_tag,
      "registered-models.set-tag"),
    W("DELETE", "/registered-models/delete-tag", tr_store_registered_model_delete_tag,
      "registered-models.delete-tag"),
    W("POST", "/registered-models/alias", tr_store_registered_model_set_alias,
      "registered-models.set-alias"),
    W("DELETE", "/registered-models/alias", tr_store_registered_model_delete_alias,
      "registered-models.delete-alias"),
    R("GET", "/registered-models/alias", mv_by_alias, "registered-models.get-by-alias"),
    W("POST", "/model-versions/create", tr_store_model_version_create, "model-versions.create"),
    W("PATCH", "/model-versions/update", tr_store_model_version_update, "model-versions.update"),
    W("DELETE", "/model-versions/delete", tr_store_model_version_delete, "model-versions.delete"),
    R("GET", "/model-versions/get", mv_get, "model-versions.get"),
    R("GET", "/model-versions/search", mv_search, "model-versions.search"),
    R("GET", "/model-versions/get-download-uri", mv_download_uri,
      "model-versions.get-download-uri"),
    W("POST", "/model-versions/set-tag", tr_store_model_version_set_tag, "model-versions.set-tag"),
    W("DELETE", "/model-versions/delete-tag", tr_store_model_version_delete_tag,
      "model-versions.delete-tag"),
    W("POST", "/model-versions/transition-stage", tr_store_model_version_transition_stage,
      "model-versions.transition-stage"),
    /* MLflow 3 logged models */
    W("POST", "/logged-models", tr_store_logged_model_create, "logged-models.create"),
    R("POST", "/logged-models/search", lm_search, "logged-models.search"),
    R("GET", "/logged-models/{id}", lm_get, "logged-models.get"),
    W("PATCH", "/logged-models/{id}", tr_store_logged_model_finalize, "logged-models.finalize"),
    W("DELETE", "/logged-models/{id}", tr_store_logged_model_delete, "logged-models.delete"),
    W("PATCH", "/logged-models/{id}/tags", tr_store_logged_model_set_tags,
      "logged-models.set-tags"),
    W("DELETE", "/logged-models/{id}/tags/{key}", tr_store_logged_model_delete_tag,
      "logged-models.delete-tag"),
    W("POST", "/logged-models/{id}/params", tr_store_logged_model_log_params,
      "logged-models.log-params"),
    W("POST", "/runs/outputs", tr_store_run_log_outputs, "runs.log-outputs"),
};

const size_t tr_mlflow_registry_n_routes =
    sizeof(tr_mlflow_registry_routes) / sizeof(tr_mlflow_registry_routes[0]);
