/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow's artifact proxy, /api/2.0/mlflow-artifacts/artifacts (and the
 * /ajax-api form): upload (PUT), download (GET), list (GET ?path=) and delete.
 * Paths are checked by tr_artifact_path_check() and resolved beneath the
 * artifact root by the backend; every upload and delete is recorded (size and
 * SHA-256) and audited through the store's writer, and answered after commit.
 * Uploads are streamed: the claim hook takes a PUT's body when its headers
 * arrive, decides the path (refused paths are refused before any byte is
 * written), and each piece goes straight into the artifact store's writer, so
 * memory stays flat whatever the file's size; only --max-artifact-bytes bounds
 * it. Downloads are served with nosniff, and active content (HTML, SVG, XML,
 * JavaScript) as an attachment under a CSP sandbox.
 */
#include "api/api.h"
#include "artifact/artifact.h"
#include "core/arena.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const prefixes[] = {"/api/2.0/mlflow-artifacts/artifacts",
				       "/ajax-api/2.0/mlflow-artifacts/artifacts"};

static const struct {
	const char *ext, *type;
	bool active; /* could run script if rendered in the server's origin */
} types[] = {
    {".txt", "text/plain; charset=utf-8", false},
    {".log", "text/plain; charset=utf-8", false},
    {".yaml", "text/plain; charset=utf-8", false},
    {".yml", "text/plain; charset=utf-8", false},
    {".md", "text/plain; charset=utf-8", false},
    {".csv", "text/csv; charset=utf-8", false},
    {".json", "application/json", false},
    {".png", "image/png", false},
    {".jpg", "image/jpeg", false},
    {".jpeg", "image/jpeg", false},
    {".gif", "image/gif", false},
    {".html", "text/html; charset=utf-8", true},
    {".htm", "text/html; charset=utf-8", true},
    {".svg", "image/svg+xml", true},
    {".xml", "application/xml", true},
    {".js", "text/javascript", true},
    {".pdf", "application/pdf", true},
};

static const char *content_type(const char *path, bool *active)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!strcmp(base, "MLmodel")) {
		*active = false;
		return "text/plain; charset=utf-8";
	}
	const char *dot = strrchr(base, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
		if (!strcasecmp(dot, types[i].ext)) {
			*active = types[i].active;
			return types[i].type;
		}
	}
	*active = false;
	return "application/octet-stream";
}

/* Records an upload or delete of PATH through the writer; answered after commit. */
static void record(struct tr_api *api, struct tr_req *r, const char *action, json_t *args)
{
	json_decref(r->args);
	r->args = args;
	tr_req_submit(r, api->store, tr_store_artifact_record, action, TR_AUDIT_DATA);
}

/* A refusal of a write, audited like any other rejected write. */
static void refuse_write(struct tr_api *api, struct tr_req *r, const char *action, enum tr_err rc)
{
	r->write.reject = rc;
	tr_req_submit(r, api->store, tr_store_reject, action, TR_AUDIT_DATA);
}

/* PATH's part after the artifact proxy prefix ("" for the list route, else
 * "/<path>"), or NULL when PATH is not under it. */
static const char *proxy_rest(const char *path)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(path, prefixes[i], n) && (path[n] == '/' || path[n] == '\0'))
			return path + n;
	}
	return NULL;
}

/* An upload in progress: a PUT's body streamed into the artifact store. */
struct upload {
	struct tr_api *api;
	const char *path;	      /* borrowed from the request */
	struct tr_artifact_writer *w; /* NULL once committed or dropped */
	enum tr_err rc;		      /* a refusal decided at the headers, or a failed write */
};

static void upload_drop(struct upload *u)
{
	tr_artifact_writer_abort(u->w);
	u->w = NULL;
}

static enum tr_err upload_write(struct tr_req *r, const void *data, size_t len)
{
	struct upload *u = r->sink_ctx;
	uint64_t max = u->api->max_artifact_bytes;
	if (!u->rc && max && u->w->size + len > max)
		u->rc = tr_fail(&r->write.err, TR_ERR_TOO_LARGE,
				"artifact '%s' is larger than --max-artifact-bytes (%llu bytes)",
				u->path, (unsigned long long)max);
	if (!u->rc)
		u->rc = tr_artifact_writer_write(u->w, data, len, &r->write.err);
	if (u->rc)
		upload_drop(u); /* free the space now; the rest of the body is dropped */
	return u->rc;
}

static void upload_done(struct tr_req *r, enum tr_err rc)
{
	struct upload *u = r->sink_ctx;
	uint64_t size = 0;
	char sha[65];
	if (!rc)
		rc = u->rc;
	if (!rc) {
		rc = tr_artifact_writer_commit(u->w, &size, sha, &r->write.err);
		u->w = NULL;
	}
	upload_drop(u);
	if (rc) {
		refuse_write(u->api, r, "artifacts.upload", rc);
		return;
	}
	record(
	    u->api, r, "artifacts.upload",
	    json_pack("{s:s,s:I,s:s}", "path", u->path, "size", (json_int_t)size, "sha256", sha));
}

static void upload_abort(struct tr_req *r)
{
	upload_drop(r->sink_ctx);
}

static const struct tr_body_sink upload_sink = {
    .write = upload_write,
    .done = upload_done,
    .abort = upload_abort,
};

/* The folder of pipeline runs (<artifact root>/pipelines) is written by the
 * scheduler alone: their files' digests are recorded and lineage and the task
 * cache rely on them, so the proxy serves them read-only. */
static bool scheduler_owned(const char *path)
{
	return !strncmp(path, "pipelines", 9) && (path[9] == '\0' || path[9] == '/');
}

void tr_api_artifacts_claim(struct tr_api *api, struct tr_req *r)
{
	const char *rest = proxy_rest(r->path);
	if (strcmp(r->method, "PUT") || !rest || !*rest)
		return;
	r->route = "artifacts.upload";
	if (scheduler_owned(rest + 1)) {
		tr_fail(&r->write.err, TR_ERR_PERMISSION_DENIED,
			"'%s' is a pipeline run's folder, written by the scheduler only", rest + 1);
		refuse_write(api, r, "artifacts.upload", TR_ERR_PERMISSION_DENIED);
		return;
	}
	struct upload *u = tr_arena_alloc(tr_req_arena(r), sizeof(*u));
	*u = (struct upload){.api = api, .path = rest + 1};
	const char *cl = tr_req_header(r, "Content-Length");
	uint64_t max = api->max_artifact_bytes;
	if (max && cl && strtoull(cl, NULL, 10) > max) {
		/* answer now: the client need not send what would be refused */
		tr_fail(&r->write.err, TR_ERR_TOO_LARGE,
			"artifact '%s' is larger than --max-artifact-bytes (%llu bytes)", u->path,
			(unsigned long long)max);
		refuse_write(api, r, "artifacts.upload", TR_ERR_TOO_LARGE);
		return;
	}
	/* the path is decided here, before any byte; a refusal is answered once
	 * the body has been read, so that the client sees it */
	u->rc = tr_artifacts_put_begin(api->artifacts, u->path, &u->w, &r->write.err);
	tr_req_stream_body(r, &upload_sink, u);
}

static const char *const mpu_prefixes[] = {"/api/2.0/mlflow-artifacts/mpu/",
					   "/ajax-api/2.0/mlflow-artifacts/mpu/"};

/* The proxy path of run RUN_ID's artifact root ("1/<run>/artifacts"), into OUT. */
static enum tr_err run_root(struct tr_api *api, const char *run_id, struct tr_buf *out,
			    struct tr_buf *err)
{
	json_t *run = NULL;
	enum tr_err rc = tr_store_run_get(api->store, run_id, &run, err);
	if (rc)
		return rc;
	const char *uri = json_string_value(
	    json_object_get(json_object_get(json_object_get(run, "run"), "info"), "artifact_uri"));
	static const char scheme[] = "mlflow-artifacts:/";
	if (!uri || strncmp(uri, scheme, sizeof(scheme) - 1))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "run '%s' keeps its artifacts outside this server ('%s')", run_id,
			     uri ? uri : "");
	else
		tr_buf_appends(out, uri + sizeof(scheme) - 1);
	json_decref(run);
	return rc;
}

/* The proxy path of model version (name, version)'s files, into OUT. */
static enum tr_err model_version_root(struct tr_api *api, json_t *args, struct tr_buf *out,
				      struct tr_buf *err)
{
	json_t *res = NULL;
	enum tr_err rc = tr_store_model_version_download_uri(api->store, args, &res, err);
	if (rc)
		return rc;
	const char *uri = json_string_value(json_object_get(res, "artifact_uri"));
	static const char scheme[] = "mlflow-artifacts:/";
	if (!uri || strncmp(uri, scheme, sizeof(scheme) - 1))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "the model version keeps its files outside this server");
	else
		tr_buf_appends(out, uri + sizeof(scheme) - 1);
	json_decref(res);
	return rc;
}

/* The proxy path of logged model ID's files, into OUT. */
static enum tr_err logged_model_root(struct tr_api *api, const char *id, struct tr_buf *out,
				     struct tr_buf *err)
{
	json_t *args = json_pack("{s:s}", "model_id", id), *res = NULL;
	enum tr_err rc = tr_store_logged_model_get(api->store, args, &res, err);
	json_decref(args);
	if (rc)
		return rc;
	const char *uri = json_string_value(json_object_get(
	    json_object_get(json_object_get(res, "model"), "info"), "artifact_uri"));
	static const char scheme[] = "mlflow-artifacts:/";
	if (!uri || strncmp(uri, scheme, sizeof(scheme) - 1))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "the logged model keeps its files outside this server");
	else
		tr_buf_appends(out, uri + sizeof(scheme) - 1);
	json_decref(res);
	return rc;
}

/* GET /api/2.0/mlflow/logged-models/<id>/artifacts/directories
 * ?artifact_directory_path=: a logged model's files, paths relative to its
 * artifact root. Sets *ID to the id segment (in the request's arena) when
 * PATH is that route. */
static bool logged_model_listing(struct tr_req *r, const char **id)
{
	static const char *const bases[] = {"/api/2.0/mlflow/logged-models/",
					    "/ajax-api/2.0/mlflow/logged-models/"};
	static const char tail[] = "/artifacts/directories";
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		size_t n = strlen(bases[i]);
		if (strncmp(r->path, bases[i], n))
			continue;
		const char *start = r->path + n, *slash = strchr(start, '/');
		if (!slash || slash == start || strcmp(slash, tail))
			return false;
		char *v = tr_arena_alloc(tr_req_arena(r), (size_t)(slash - start) + 1);
		memcpy(v, start, (size_t)(slash - start));
		v[slash - start] = 0;
		*id = v;
		return true;
	}
	return false;
}

static bool path_is(const char *path, const char *suffix)
{
	static const char *const bases[] = {"", "/ajax-api/2.0/mlflow", "/api/2.0/mlflow"};
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		size_t n = strlen(bases[i]);
		if (!strncmp(path, bases[i], n) && !strcmp(path + n, suffix))
			return true;
	}
	return false;
}

/* The routes the MLflow UI, older clients and published attacks use, addressed
 * by run or by model version rather than by proxy path:
 *   GET /get-artifact?run_id=&path=                    (and /ajax-api/2.0/mlflow/...)
 *   GET /api/2.0/mlflow/artifacts/list?run_id=&path=   (and /ajax-api)
 *   GET /model-versions/get-artifact?name=&version=&path= (and /ajax-api/2.0/mlflow/...)
 * with the same path rules as the proxy. */
static bool legacy(struct tr_api *api, struct tr_req *r)
{
	bool by_version =
	    path_is(r->path, "/model-versions/get-artifact") && strncmp(r->path, "/api/", 5);
	bool download =
	    by_version || (path_is(r->path, "/get-artifact") && strncmp(r->path, "/api/", 5));
	const char *model_id = NULL;
	bool by_model = !download && logged_model_listing(r, &model_id);
	bool list = by_model || (!download && strcmp(r->path, "/artifacts/list") &&
				 path_is(r->path, "/artifacts/list"));
	if (!download && !list)
		return false;
	r->route = by_model	? "logged-models.list-artifacts"
		   : by_version ? "model-versions.get-artifact"
		   : download	? "artifacts.get-artifact"
				: "artifacts.list-by-run";
	struct tr_buf *err = &r->write.err, root = TR_BUF_INIT, full = TR_BUF_INIT;
	const char *run_id = NULL, *p = NULL;
	enum tr_err rc = r->write.reject;
	if (!rc && strcmp(r->method, "GET"))
		rc = tr_fail(err, TR_ERR_METHOD_NOT_ALLOWED, "only GET is allowed here");
	if (!rc)
		rc = tr_req_parse_args(r, err);
	if (!rc && !by_version && !by_model) {
		rc = tr_json_str(r->args, "run_id", &run_id, err);
		if (!rc && (!run_id || !*run_id))
			rc = tr_json_str(r->args, "run_uuid", &run_id, err);
		if (!rc && (!run_id || !*run_id))
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "Missing value for required parameter 'run_id'. See the API "
				     "docs for more information about request parameters.");
	}
	if (!rc)
		rc = tr_json_str(r->args, by_model ? "artifact_directory_path" : "path", &p, err);
	if (!rc)
		rc = tr_artifact_path_check(p ? p : "", list, err);
	if (!rc)
		rc = by_model	  ? logged_model_root(api, model_id, &root, err)
		     : by_version ? model_version_root(api, r->args, &root, err)
				  : run_root(api, run_id, &root, err);
	if (!rc) {
		tr_buf_append(&full, root.data, root.len);
		if (p && *p)
			tr_buf_appendf(&full, "/%s", p);
	}
	if (!rc && download) {
		int fd;
		uint64_t size;
		bool active;
		rc = tr_artifacts_open_read(api->artifacts, tr_buf_str(&full), &fd, &size, err);
		if (!rc) {
			const char *type = content_type(tr_buf_str(&full), &active);
			tr_req_file(r, fd, size, type, active, active);
		}
	} else if (!rc) {
		json_t *files = NULL;
		rc = tr_artifacts_list(api->artifacts, tr_buf_str(&full), &files, err);
		if (!rc) {
			/* here paths are relative to the run's artifact root */
			size_t i;
			json_t *f;
			json_array_foreach(files, i, f)
			{
				const char *base = json_string_value(json_object_get(f, "path"));
				struct tr_buf rel = TR_BUF_INIT;
				tr_buf_appendf(&rel, "%s%s%s", p && *p ? p : "", p && *p ? "/" : "",
					       base);
				json_object_set_new(f, "path", json_string(tr_buf_str(&rel)));
				tr_buf_release(&rel);
			}
			json_t *out = json_pack("{s:s+}", "root_uri", "mlflow-artifacts:/",
						tr_buf_str(&root));
			if (json_array_size(files))
				json_object_set_new(out, "files", files);
			else
				json_decref(files);
			tr_req_json(r, 200, out);
		}
	}
	if (rc)
		tr_req_error(r, rc, tr_buf_str(err));
	tr_buf_release(&root);
	tr_buf_release(&full);
	return true;
}

bool tr_api_artifacts(struct tr_api *api, struct tr_req *r)
{
	for (size_t i = 0; i < sizeof(mpu_prefixes) / sizeof(mpu_prefixes[0]); i++) {
		if (!strncmp(r->path, mpu_prefixes[i], strlen(mpu_prefixes[i]))) {
			/* the folder backend has no multipart uploads: MLflow's answer for
			 * a local store, on which the client falls back to a single PUT */
			r->route = "artifacts.multipart";
			tr_req_error(r, TR_ERR_NOT_IMPLEMENTED,
				     "Multipart upload is not supported for the current artifact "
				     "repository");
			return true;
		}
	}
	if (legacy(api, r))
		return true;
	const char *rest = proxy_rest(r->path);
	if (!rest)
		return false;
	bool is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	bool is_put = !strcmp(r->method, "PUT"), is_delete = !strcmp(r->method, "DELETE");
	const char *action = is_put	 ? "artifacts.upload"
			     : is_delete ? "artifacts.delete"
					 : "artifacts.download";
	r->route = *rest ? action : "artifacts.list";
	if (r->write.reject) { /* refused by the HTTP layer's checks */
		if (is_put || is_delete)
			refuse_write(api, r, action, r->write.reject);
		else
			tr_req_error(r, r->write.reject, tr_buf_str(&r->write.err));
		return true;
	}
	struct tr_buf *err = &r->write.err;
	const char *path = *rest ? rest + 1 : "";
	enum tr_err rc;
	if ((is_put || is_delete) && scheduler_owned(path)) {
		tr_fail(err, TR_ERR_PERMISSION_DENIED,
			"'%s' is a pipeline run's folder, written by the scheduler only", path);
		refuse_write(api, r, action, TR_ERR_PERMISSION_DENIED);
		return true;
	}
	if (!*rest) { /* list: GET .../artifacts?path=p */
		const char *p = NULL;
		json_t *files = NULL;
		if (!is_get) {
			tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED, "only GET lists artifacts");
			return true;
		}
		rc = tr_req_parse_args(r, err);
		if (!rc)
			rc = tr_json_str(r->args, "path", &p, err);
		if (!rc)
			rc = tr_artifacts_list(api->artifacts, p ? p : "", &files, err);
		if (rc) {
			tr_req_error(r, rc, tr_buf_str(err));
			return true;
		}
		json_t *out = json_object();
		if (json_array_size(files))
			json_object_set_new(out, "files", files);
		else
			json_decref(files);
		tr_req_json(r, 200, out);
		return true;
	}
	if (is_get) {
		int fd;
		uint64_t size;
		bool active;
		rc = tr_artifacts_open_read(api->artifacts, path, &fd, &size, err);
		if (rc) {
			tr_req_error(r, rc, tr_buf_str(err));
			return true;
		}
		const char *type = content_type(path, &active);
		tr_req_file(r, fd, size, type, active, active);
		return true;
	}
	if (is_put) { /* only when the claim hook did not take the body */
		char sha[65];
		rc = tr_artifacts_put(api->artifacts, path, r->body.data ? r->body.data : "",
				      r->body.len, sha, err);
		if (rc) {
			refuse_write(api, r, action, rc);
			return true;
		}
		record(api, r, action,
		       json_pack("{s:s,s:I,s:s}", "path", path, "size", (json_int_t)r->body.len,
				 "sha256", sha));
		return true;
	}
	if (is_delete) {
		rc = tr_artifacts_remove(api->artifacts, path, err);
		if (rc) {
			refuse_write(api, r, action, rc);
			return true;
		}
		record(api, r, action, json_pack("{s:s,s:b}", "path", path, "deleted", 1));
		return true;
	}
	tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED,
		     "The method is not allowed for the requested URL.");
	return true;
}
