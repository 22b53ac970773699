/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLflow's artifact proxy, /api/2.0/mlflow-artifacts/artifacts (and the
 * /ajax-api form): upload (PUT), download (GET), list (GET ?path=) and delete.
 * Paths are checked by tr_artifact_path_check() and resolved beneath the
 * artifact root by the backend; every upload and delete is recorded (size and
 * SHA-256) and audited through the store's writer, and answered after commit.
 * Downloads are served with nosniff, and active content (HTML, SVG, XML,
 * JavaScript) as an attachment under a CSP sandbox.
 */
#include "api/api.h"
#include "artifact/artifact.h"
#include "core/json.h"

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

bool tr_api_artifacts(struct tr_api *api, struct tr_req *r)
{
	const char *rest = NULL;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]) && !rest; i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(r->path, prefixes[i], n) && (r->path[n] == '/' || r->path[n] == '\0'))
			rest = r->path + n;
	}
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
	if (is_put) {
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
