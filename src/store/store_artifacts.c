/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The artifacts table: every stored file's size and SHA-256 digest, which
 * lineage and caching use to name content. Written through the group-commit
 * writer, so each upload and delete is audited like any other write.
 */
#include "core/json.h"
#include "core/alloc.h"
#include "store/store_internal.h"

#include <string.h>

enum tr_err tr_store_artifact_record(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	const char *path, *sha;
	int64_t size = 0;
	bool has_size, deleted = false, has_deleted;
	enum tr_err rc = tr_json_req_str(w->args, "path", &path, err);
	if (!rc)
		rc = tr_json_bool(w->args, "deleted", &deleted, &has_deleted, err);
	if (rc)
		return rc;
	snprintf(w->resource, sizeof(w->resource), "artifact/%.140s", path);
	if (deleted) {
		/* the path itself and everything beneath it ("path/...") */
		struct tr_buf prefix = TR_BUF_INIT;
		tr_buf_appendf(&prefix, "%s/", path);
		rc = tr_db_run(tx->db, err,
			       "DELETE FROM artifacts WHERE path = ? OR substr(path, 1, ?) = ?",
			       "tit", path, (int64_t)prefix.len, tr_buf_str(&prefix));
		tr_buf_release(&prefix);
		return rc;
	}
	rc = tr_json_req_str(w->args, "sha256", &sha, err);
	if (!rc)
		rc = tr_json_int64(w->args, "size", &size, &has_size, err);
	if (rc)
		return rc;
	rc = tr_db_run(tx->db, err,
		       "INSERT INTO artifacts (path, size, sha256, updated_ms) VALUES (?,?,?,?)"
		       " ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
		       " sha256 = excluded.sha256, updated_ms = excluded.updated_ms",
		       "titi", path, size, sha, tx->now_ms);
	if (!rc) /* the run, logged model or pipeline task that wrote it */
		rc = store_lineage_artifact(tx, path, sha, err);
	return rc;
}

bool store_artifact_owner(const char *path, bool *model, char **id, char **root, const char **rest)
{
	const char *s1 = strchr(path, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2)
		return false;
	*model = !strncmp(s1 + 1, "models/", 7);
	const char *id_start = *model ? s2 + 1 : s1 + 1;
	const char *id_end = *model ? strchr(id_start, '/') : s2;
	if (!id_end)
		return false;
	*id = tr_xstrndup(id_start, (size_t)(id_end - id_start));
	struct tr_buf r = TR_BUF_INIT;
	tr_buf_appendf(&r, "mlflow-artifacts:/%.*s/artifacts", (int)(id_end - path), path);
	*root = tr_buf_detach(&r);
	*rest = id_end;
	return true;
}
