/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP experiments, which are MLflow experiments: the same rows, seen through
 * KFP's shape. experiment_id is MLflow's id ("0" is Default), display_name
 * its name, description the tag mlflow.note.content, storage_state ARCHIVED
 * for a deleted experiment. :archive and DELETE are MLflow's delete (the
 * experiment and its runs move to the deleted lifecycle; `trellis gc` and
 * MLflow's own rules decide when it goes for good); :unarchive is restore.
 * All three are idempotent. namespace is ignored (single user).
 */
#include "api/kfp.h"
#include "core/arena.h"
#include "core/json.h"

#include <string.h>

#define STORAGE_STATE_SQL                                                                          \
	"CASE WHEN e.lifecycle_stage = 'deleted' THEN 'ARCHIVED' ELSE 'AVAILABLE' END"

static const struct tr_kfp_field fields[] = {
    {"experiment_id", "e.experiment_id", TR_KFP_TEXT},
    {"id", "e.experiment_id", TR_KFP_TEXT},
    {"display_name", "e.name", TR_KFP_TEXT},
    {"name", "e.name", TR_KFP_TEXT},
    {"created_at", "e.creation_time", TR_KFP_TIME_MS},
    {"last_run_created_at", "0", TR_KFP_TIME_MS},
    {"description",
     "COALESCE((SELECT t.value FROM experiment_tags t WHERE t.experiment_id = "
     "e.experiment_id AND t.key = 'mlflow.note.content'), '')",
     TR_KFP_TEXT},
    {"namespace", "''", TR_KFP_TEXT},
    {"storage_state", STORAGE_STATE_SQL, TR_KFP_TEXT},
    {NULL, NULL, TR_KFP_TEXT},
};

/* A store experiment row as KFP's Experiment (new object). */
static json_t *to_kfp(json_t *row)
{
	char created[32], epoch[32];
	tr_kfp_time(json_integer_value(json_object_get(row, "creation_time")), created);
	tr_kfp_time(0, epoch);
	const char *stage = json_string_value(json_object_get(row, "lifecycle_stage"));
	json_t *e = json_object();
	tr_kfp_put_str(e, "experiment_id",
		       json_string_value(json_object_get(row, "experiment_id")));
	tr_kfp_put_str(e, "display_name", json_string_value(json_object_get(row, "name")));
	tr_kfp_put_str(e, "description", json_string_value(json_object_get(row, "description")));
	json_object_set_new(e, "created_at", json_string(created));
	json_object_set_new(
	    e, "storage_state",
	    json_string(stage && !strcmp(stage, "deleted") ? "ARCHIVED" : "AVAILABLE"));
	json_object_set_new(e, "last_run_created_at", json_string(epoch));
	return e;
}

static void list(struct tr_api *api, struct tr_req *r)
{
	struct tr_kfp_list l = TR_KFP_LIST_INIT;
	struct tr_buf err = TR_BUF_INIT;
	json_t *rows = NULL;
	int64_t total = 0;
	enum tr_err rc = tr_kfp_list_parse(r, fields, &l, &err);
	if (!rc)
		rc = tr_store_kfp_experiment_list(api->store, &l.q, &rows, &total, &err);
	if (rc) {
		tr_kfp_error(r, rc, tr_buf_str(&err));
		goto out;
	}
	json_t *list = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) json_array_append_new(list, to_kfp(row));
	tr_kfp_list_answer(r, &l, total, "experiments", list);
out:
	json_decref(rows);
	tr_kfp_list_release(&l);
	tr_buf_release(&err);
}

static void get(struct tr_api *api, struct tr_req *r, const char *id)
{
	struct tr_buf err = TR_BUF_INIT;
	json_t *row = NULL;
	enum tr_err rc = tr_store_kfp_experiment_get(api->store, id, &row, &err);
	if (rc)
		tr_kfp_error(r, rc, tr_buf_str(&err));
	else
		tr_kfp_json(r, to_kfp(row));
	json_decref(row);
	tr_buf_release(&err);
}

static void render_experiment(struct tr_req *r, struct tr_write *w)
{
	if (w->rc)
		tr_kfp_error(r, w->rc, tr_buf_str(&w->err));
	else
		tr_kfp_json(r, to_kfp(w->result));
}

static void render_empty(struct tr_req *r, struct tr_write *w)
{
	if (w->rc)
		tr_kfp_error(r, w->rc, tr_buf_str(&w->err));
	else
		tr_kfp_json(r, json_object());
}

static void create(struct tr_api *api, struct tr_req *r)
{
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_req_parse_args(r, &err);
	const char *name = rc ? NULL : tr_kfp_arg(r->args, "display_name");
	if (!rc && !name)
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "experiment display_name is empty or missing");
	if (rc) {
		tr_kfp_error(r, rc, tr_buf_str(&err));
		tr_buf_release(&err);
		return;
	}
	/* experiments/create's arguments: the description becomes the MLflow note */
	json_t *args = json_pack("{s:s,s:[]}", "name", name, "tags");
	const char *desc = tr_kfp_arg(r->args, "description");
	if (desc)
		json_array_append_new(
		    json_object_get(args, "tags"),
		    json_pack("{s:s,s:s}", "key", "mlflow.note.content", "value", desc));
	json_decref(r->args);
	r->args = args;
	r->route = "kfp.experiments.create";
	tr_req_submit_render(r, api->store, tr_store_kfp_experiment_create,
			     "kfp.experiments.create", TR_AUDIT_CONTROL, render_experiment);
	tr_buf_release(&err);
}

static void lifecycle(struct tr_api *api, struct tr_req *r, const char *id, bool archive,
		      const char *action)
{
	json_decref(r->args);
	r->args = json_pack("{s:s}", "experiment_id", id);
	r->route = action;
	tr_req_submit_render(r, api->store,
			     archive ? tr_store_kfp_experiment_delete
				     : tr_store_kfp_experiment_restore,
			     action, TR_AUDIT_CONTROL, render_empty);
}

bool tr_api_kfp_experiments(struct tr_api *api, struct tr_req *r, const char *sub)
{
	static const char base[] = "/experiments";
	size_t n = strlen(base);
	if (strncmp(sub, base, n) || (sub[n] != '/' && sub[n] != '\0'))
		return false;
	const char *m = r->method;
	if (!sub[n]) {
		if (!strcmp(m, "GET")) {
			r->route = "kfp.experiments.list";
			list(api, r);
		} else if (!strcmp(m, "POST")) {
			create(api, r);
		} else {
			tr_kfp_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed");
		}
		return true;
	}
	const char *id = sub + n + 1;
	if (!*id || strchr(id, '/') || strlen(id) > 64)
		return false;
	const char *colon = strrchr(id, ':');
	if (colon) {
		char *eid = tr_arena_strndup(tr_req_arena(r), id, (size_t)(colon - id));
		bool archive = !strcmp(colon, ":archive");
		if (!archive && strcmp(colon, ":unarchive"))
			return false;
		if (strcmp(m, "POST"))
			tr_kfp_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed");
		else
			lifecycle(api, r, eid, archive,
				  archive ? "kfp.experiments.archive"
					  : "kfp.experiments.unarchive");
		return true;
	}
	if (!strcmp(m, "GET")) {
		r->route = "kfp.experiments.get";
		get(api, r, id);
	} else if (!strcmp(m, "DELETE")) {
		lifecycle(api, r, id, true, "kfp.experiments.delete");
	} else {
		tr_kfp_error(r, TR_ERR_METHOD_NOT_ALLOWED, "Method Not Allowed");
	}
	return true;
}
