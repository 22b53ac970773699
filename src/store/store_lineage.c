/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lineage graph: edges (src, dst, relation) between nodes named
 * "<kind>:<id>" in the lineage_edges table. Store writes that create what a
 * node stands for (a model version, a logged model, an artifact record, a
 * dataset input) add their edges in the same transaction, so the graph never
 * disagrees with the data; the pipeline service adds task edges through
 * tr_store_lineage_link().
 *
 * Reads walk the graph breadth-first from one node, following edges backwards
 * (upstream: what made this) or forwards (downstream: what used this), with a
 * depth limit and a cap on nodes, so cycles and huge graphs stay bounded.
 * "same_content" (dataset <-> artifact) says two names are one content and is
 * followed both ways in either direction.
 */
#include "core/alloc.h"
#include "core/json.h"
#include "store/store_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NODE_MAX	   512	 /* longest node name */
#define QUERY_MAX_NODES	   5000	 /* a walk stops here and says "truncated" */
#define LINK_MAX_EDGES	   10000 /* edges in one tr_store_lineage_link write */
#define ARTIFACT_PATHS_MAX 20

static const char *const kinds[] = {"artifact",	    "run",	     "pipeline_run", "task",
				    "logged_model", "model_version", "dataset"};
static const char *const relations[] = {"produced", "consumed",	  "registered_from", "logged_model",
					"part_of",  "tracked_as", "same_content"};

/* Whether S is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned char c = *s;
		size_t n = c < 0x80		    ? 0
			   : c >= 0xc2 && c <= 0xdf ? 1
			   : (c & 0xf0) == 0xe0	    ? 2
			   : c >= 0xf0 && c <= 0xf4 ? 3
						    : 4;
		if (n == 4)
			return false;
		unsigned cp = n == 0 ? c : n == 1 ? c & 0x1fu : n == 2 ? c & 0x0fu : c & 0x07u;
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3fu);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += n + 1;
	}
	return true;
}

bool store_lineage_node_valid(const char *node, struct tr_buf *why)
{
	size_t len = node ? strlen(node) : 0;
	const char *colon = node ? strchr(node, ':') : NULL;
	if (!len || !colon) {
		if (why)
			tr_buf_appendf(why, "lineage node '%.100s' is not '<kind>:<id>'",
				       node ? node : "");
		return false;
	}
	if (len > NODE_MAX) {
		if (why)
			tr_buf_appendf(why, "lineage node '%.100s...' is longer than %d bytes",
				       node, NODE_MAX);
		return false;
	}
	for (const char *p = node; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			if (why)
				tr_buf_appendf(why, "lineage node has a control character");
			return false;
		}
	if (!utf8_valid((const unsigned char *)node)) {
		if (why)
			tr_buf_appendf(why, "lineage node is not valid UTF-8");
		return false;
	}
	size_t klen = (size_t)(colon - node);
	bool known = false;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == klen && !strncmp(kinds[i], node, klen))
			known = true;
	if (!known) {
		if (why)
			tr_buf_appendf(why, "lineage node '%.100s' has an unknown kind '%.*s'",
				       node, (int)(klen > 40 ? 40 : klen), node);
		return false;
	}
	if (!colon[1]) {
		if (why)
			tr_buf_appendf(why, "lineage node '%.100s' has an empty id", node);
		return false;
	}
	return true;
}

static bool relation_valid(const char *rel)
{
	for (size_t i = 0; rel && i < sizeof(relations) / sizeof(relations[0]); i++)
		if (!strcmp(relations[i], rel))
			return true;
	return false;
}

enum tr_err store_lineage_link(struct tr_store_tx *tx, const char *src, const char *dst,
			       const char *relation, struct tr_buf *err)
{
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	if (!store_lineage_node_valid(src, &why) || !store_lineage_node_valid(dst, &why))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&why));
	else if (!relation_valid(relation))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "unknown lineage relation '%.64s'", relation ? relation : "");
	tr_buf_release(&why);
	if (rc)
		return rc;
	return tr_db_run(
	    tx->db, err,
	    "INSERT INTO lineage_edges (src, dst, relation, created_ms) VALUES (?,?,?,?)"
	    " ON CONFLICT (src, dst, relation) DO NOTHING",
	    "ttti", src, dst, relation, tx->now_ms);
}

/* Links "<skind>:<sid>" to "<dkind>:<did>" when both names are valid; a name
 * that is not (an over-long id) is skipped: lineage never fails the write it
 * describes. */
static enum tr_err link_ids(struct tr_store_tx *tx, const char *skind, const char *sid,
			    const char *dkind, const char *did, const char *relation,
			    struct tr_buf *err)
{
	struct tr_buf src = TR_BUF_INIT, dst = TR_BUF_INIT;
	tr_buf_appendf(&src, "%s:%s", skind, sid);
	tr_buf_appendf(&dst, "%s:%s", dkind, did);
	enum tr_err rc = TR_OK;
	if (store_lineage_node_valid(tr_buf_str(&src), NULL) &&
	    store_lineage_node_valid(tr_buf_str(&dst), NULL))
		rc = store_lineage_link(tx, tr_buf_str(&src), tr_buf_str(&dst), relation, err);
	tr_buf_release(&src);
	tr_buf_release(&dst);
	return rc;
}

enum tr_err tr_store_lineage_link(struct tr_store_tx *tx, struct tr_write *w, struct tr_buf *err)
{
	json_t *edges = NULL;
	enum tr_err rc = tr_json_array(w->args, "edges", &edges, err);
	snprintf(w->resource, sizeof(w->resource), "lineage");
	if (!rc && !edges)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "missing 'edges'");
	if (!rc && json_array_size(edges) > LINK_MAX_EDGES)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "at most %d lineage edges in one write", LINK_MAX_EDGES);
	size_t i;
	json_t *e;
	json_array_foreach(edges, i, e)
	{
		const char *src, *dst, *rel;
		if (rc)
			break;
		if (!json_is_object(e)) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "lineage edges must be objects");
			break;
		}
		rc = tr_json_req_str(e, "src", &src, err);
		if (!rc)
			rc = tr_json_req_str(e, "dst", &dst, err);
		if (!rc)
			rc = tr_json_req_str(e, "relation", &rel, err);
		if (!rc)
			rc = store_lineage_link(tx, src, dst, rel, err);
	}
	json_decref(edges);
	return rc;
}

/* ---- producers inside store writes ---- */

/* An all-digit path segment of length N at P. */
static bool digits(const char *p, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	return true;
}

/* pipelines/<run>/<task path>/<attempt>/out/...: the task that wrote PATH.
 * The task path may hold '/', so the first "/<digits>/out/" after the run
 * ends it. */
static enum tr_err pipeline_output(struct tr_store_tx *tx, const char *path, const char *sha,
				   struct tr_buf *err)
{
	const char *run = path + strlen("pipelines/");
	const char *run_end = strchr(run, '/');
	if (!run_end || run_end == run)
		return TR_OK;
	for (const char *p = run_end; (p = strchr(p, '/')) != NULL; p++) {
		const char *q = strchr(p + 1, '/');
		if (!q)
			break;
		if (p > run_end && digits(p + 1, (size_t)(q - p - 1)) && !strncmp(q, "/out/", 5)) {
			char *task = tr_xstrndup(run, (size_t)(p - run));
			enum tr_err rc =
			    link_ids(tx, "task", task, "artifact", sha, "produced", err);
			free(task);
			return rc;
		}
	}
	return TR_OK;
}

enum tr_err store_lineage_artifact(struct tr_store_tx *tx, const char *path, const char *sha,
				   struct tr_buf *err)
{
	if (!strncmp(path, "pipelines/", 10))
		return pipeline_output(tx, path, sha, err);
	/* <exp>/<run>/artifacts/... or <exp>/models/<model id>/artifacts/...,
	 * checked against the run's or the logged model's stored location */
	bool model;
	char *id, *rootstr;
	const char *rest;
	if (!store_artifact_owner(path, &model, &id, &rootstr, &rest))
		return TR_OK;
	if (strncmp(rest, "/artifacts/", 11)) {
		free(id);
		free(rootstr);
		return TR_OK;
	}
	struct tr_db_stmt *st;
	bool found = false;
	enum tr_err rc = tr_db_prepare(
	    tx->db,
	    model ? "SELECT 1 FROM logged_models WHERE model_id = ? AND artifact_location = ?"
		  : "SELECT 1 FROM runs WHERE run_uuid = ? AND artifact_uri = ?",
	    &st, err);
	if (!rc) {
		tr_db_bind_text(tx->db, st, 1, id);
		tr_db_bind_text(tx->db, st, 2, rootstr);
		rc = tr_db_step(tx->db, st, &found, err);
		tr_db_done(tx->db, st);
	}
	if (!rc && found)
		rc = link_ids(tx, model ? "logged_model" : "run", id, "artifact", sha, "produced",
			      err);
	free(rootstr);
	free(id);
	return rc;
}

enum tr_err store_lineage_model_version(struct tr_store_tx *tx, const char *name, int64_t version,
					const char *run_id, const char *model_id,
					const char *storage, struct tr_buf *err)
{
	struct tr_buf mv = TR_BUF_INIT;
	tr_buf_appendf(&mv, "%s/%lld", name, (long long)version);
	const char *mvid = tr_buf_str(&mv);
	enum tr_err rc = TR_OK;
	if (run_id && *run_id)
		rc = link_ids(tx, "run", run_id, "model_version", mvid, "registered_from", err);
	if (!rc && model_id && *model_id) {
		/* only a logged model this store holds */
		struct tr_db_stmt *st;
		bool found = false;
		rc = tr_db_prepare(tx->db, "SELECT 1 FROM logged_models WHERE model_id = ?", &st,
				   err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, model_id);
			rc = tr_db_step(tx->db, st, &found, err);
			tr_db_done(tx->db, st);
		}
		if (!rc && found)
			rc = link_ids(tx, "logged_model", model_id, "model_version", mvid,
				      "registered_from", err);
	}
	/* the files the version is made of: every artifact at or beneath its
	 * storage location */
	static const char prefix[] = "mlflow-artifacts:/";
	if (!rc && storage && !strncmp(storage, prefix, sizeof(prefix) - 1) &&
	    storage[sizeof(prefix) - 1]) {
		const char *path = storage + sizeof(prefix) - 1;
		/* "<path>/" <= p < "<path>0" ('0' follows '/') walks the key
		 * range only; substr keeps the answer exact under any collation */
		struct tr_buf under = TR_BUF_INIT, past = TR_BUF_INIT;
		tr_buf_appendf(&under, "%s/", path);
		tr_buf_appendf(&past, "%s0", path);
		struct tr_db_stmt *st;
		rc = tr_db_prepare(tx->db,
				   "SELECT DISTINCT sha256 FROM artifacts WHERE path = ? OR"
				   " (path > ? AND path < ? AND substr(path, 1, ?) = ?) LIMIT 1000",
				   &st, err);
		json_t *shas = json_array();
		if (!rc) {
			bool row = true;
			tr_db_bind_text(tx->db, st, 1, path);
			tr_db_bind_text(tx->db, st, 2, tr_buf_str(&under));
			tr_db_bind_text(tx->db, st, 3, tr_buf_str(&past));
			tr_db_bind_int64(tx->db, st, 4, (int64_t)under.len);
			tr_db_bind_text(tx->db, st, 5, tr_buf_str(&under));
			while (!rc) {
				rc = tr_db_step(tx->db, st, &row, err);
				if (rc || !row)
					break;
				json_array_append_new(shas,
						      json_string(tr_db_col_text(tx->db, st, 0)));
			}
			tr_db_done(tx->db, st);
		}
		size_t i;
		json_t *sha;
		json_array_foreach(shas, i, sha) if (!rc) rc =
		    link_ids(tx, "artifact", json_string_value(sha), "model_version", mvid,
			     "registered_from", err);
		json_decref(shas);
		tr_buf_release(&under);
		tr_buf_release(&past);
	}
	tr_buf_release(&mv);
	return rc;
}

enum tr_err store_lineage_logged_model(struct tr_store_tx *tx, const char *run_id,
				       const char *model_id, struct tr_buf *err)
{
	if (!run_id || !*run_id)
		return TR_OK;
	return link_ids(tx, "run", run_id, "logged_model", model_id, "logged_model", err);
}

/* The stored artifact path a dataset source URI names: mlflow-artifacts:/<p>,
 * runs:/<run>/<p> (through the run's artifact location), or an http(s) URL
 * of the artifact proxy's download route .../api/2.0/mlflow-artifacts/
 * artifacts/<p> (the host is not checked: a server does not know every name
 * it is reached by), or a local path into a pipeline run's folder. A new
 * string or NULL. */
static char *dataset_artifact_path(struct tr_db *db, const char *uri)
{
	static const char ma[] = "mlflow-artifacts:/", runs[] = "runs:/",
			  proxy[] = "/api/2.0/mlflow-artifacts/artifacts/";
	if (!strncmp(uri, ma, sizeof(ma) - 1) && uri[sizeof(ma) - 1] != '/')
		return tr_xstrdup(uri + sizeof(ma) - 1);
	if (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8)) {
		const char *host = strstr(uri, "://") + 3, *path = strchr(host, '/');
		if (!path || strncmp(path, proxy, sizeof(proxy) - 1) || strpbrk(path, "?#%") ||
		    !path[sizeof(proxy) - 1])
			return NULL;
		return tr_xstrdup(path + sizeof(proxy) - 1);
	}
	/* a local file in a pipeline run's folder (a step logging the file it
	 * read, as `Dataset.path` names it): <anything>/pipelines/<run id>/... is
	 * recorded by that suffix when the task that wrote it succeeded */
	const char *local = !strncmp(uri, "file://", 7) ? uri + 7 : uri;
	if (local[0] == '/') {
		const char *p = strstr(local, "/pipelines/");
		size_t idlen = p ? strspn(p + 11, "0123456789abcdef") : 0;
		if (p && idlen == 32 && p[11 + idlen] == '/' && !strstr(p, "/../") &&
		    !strpbrk(p, "?#%"))
			return tr_xstrdup(p + 1);
		return NULL;
	}
	if (strncmp(uri, runs, sizeof(runs) - 1))
		return NULL;
	const char *id = uri + sizeof(runs) - 1, *slash = strchr(id, '/');
	if (!slash || slash == id || !slash[1])
		return NULL;
	char *run = tr_xstrndup(id, (size_t)(slash - id));
	char *out = NULL;
	struct tr_db_stmt *st;
	bool row = false;
	struct tr_buf ignore = TR_BUF_INIT;
	if (!tr_db_prepare(db, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", &st, &ignore)) {
		tr_db_bind_text(db, st, 1, run);
		if (!tr_db_step(db, st, &row, &ignore) && row &&
		    !strncmp(tr_db_col_text(db, st, 0), ma, sizeof(ma) - 1)) {
			struct tr_buf p = TR_BUF_INIT;
			tr_buf_appendf(&p, "%s%s", tr_db_col_text(db, st, 0) + sizeof(ma) - 1,
				       slash);
			out = tr_buf_detach(&p);
		}
		tr_db_done(db, st);
	}
	tr_buf_release(&ignore);
	free(run);
	return out;
}

enum tr_err store_lineage_dataset(struct tr_store_tx *tx, const char *run_id, const char *digest,
				  const char *source, struct tr_buf *err)
{
	enum tr_err rc = link_ids(tx, "dataset", digest, "run", run_id, "consumed", err);
	if (rc)
		return rc;
	/* MLflow's dataset source is JSON, e.g. {"uri": "..."}; a URI that names
	 * one file this server stores is the same content as that file */
	json_t *src = json_loads(source, 0, NULL);
	const char *uri = NULL;
	static const char *const keys[] = {"uri", "url", "path"};
	for (size_t i = 0; json_is_object(src) && !uri && i < 3; i++)
		uri = json_string_value(json_object_get(src, keys[i]));
	char *path = uri ? dataset_artifact_path(tx->db, uri) : NULL;
	if (path) {
		struct tr_db_stmt *st;
		bool row = false;
		rc = tr_db_prepare(tx->db, "SELECT sha256 FROM artifacts WHERE path = ?", &st, err);
		if (!rc) {
			tr_db_bind_text(tx->db, st, 1, path);
			rc = tr_db_step(tx->db, st, &row, err);
			char *sha = !rc && row ? tr_xstrdup(tr_db_col_text(tx->db, st, 0)) : NULL;
			tr_db_done(tx->db, st);
			if (sha)
				rc = link_ids(tx, "dataset", digest, "artifact", sha,
					      "same_content", err);
			free(sha);
		}
	}
	free(path);
	json_decref(src);
	return rc;
}

/* ---- reads ---- */

struct walk {
	struct tr_db *db;
	json_t *index; /* node name -> true: seen */
	json_t *nodes; /* names in discovery order */
	json_t *seen_edges;
	json_t *edges;
	bool truncated;
};

static bool walk_add_node(struct walk *wk, const char *node)
{
	if (json_object_get(wk->index, node))
		return false;
	if (json_array_size(wk->nodes) >= QUERY_MAX_NODES) {
		wk->truncated = true;
		return false;
	}
	json_object_set_new(wk->index, node, json_true());
	json_array_append_new(wk->nodes, json_string(node));
	return true;
}

static void walk_add_edge(struct walk *wk, const char *src, const char *dst, const char *rel)
{
	struct tr_buf key = TR_BUF_INIT;
	tr_buf_appendf(&key, "%s\n%s\n%s", src, dst, rel);
	if (!json_object_get(wk->seen_edges, tr_buf_str(&key))) {
		json_object_set_new(wk->seen_edges, tr_buf_str(&key), json_true());
		json_array_append_new(
		    wk->edges, json_pack("{s:s,s:s,s:s}", "src", src, "dst", dst, "relation", rel));
	}
	tr_buf_release(&key);
}

/* Edges at NODE: forwards (NODE is src) or backwards (NODE is dst), plus
 * same_content both ways; ONLY, when set, keeps one relation. Each far node
 * is appended to NEXT once it is new. */
static enum tr_err walk_step(struct walk *wk, const char *node, bool forwards, const char *only,
			     json_t *next, struct tr_buf *err)
{
	static const char *const sql[] = {
	    "SELECT src, dst, relation FROM lineage_edges WHERE dst = ?",
	    "SELECT src, dst, relation FROM lineage_edges WHERE src = ?",
	    "SELECT src, dst, relation FROM lineage_edges WHERE dst = ? AND relation = "
	    "'same_content'",
	    "SELECT src, dst, relation FROM lineage_edges WHERE src = ? AND relation = "
	    "'same_content'",
	};
	for (int q = 0; q < 2; q++) {
		int which = q == 0 ? (forwards ? 1 : 0) : (forwards ? 2 : 3);
		if (q == 1 && only)
			break;
		struct tr_db_stmt *st;
		enum tr_err rc = tr_db_prepare(wk->db, sql[which], &st, err);
		if (rc)
			return rc;
		tr_db_bind_text(wk->db, st, 1, node);
		bool row = true;
		while (!rc) {
			rc = tr_db_step(wk->db, st, &row, err);
			if (rc || !row)
				break;
			const char *src = tr_db_col_text(wk->db, st, 0);
			const char *dst = tr_db_col_text(wk->db, st, 1);
			const char *rel = tr_db_col_text(wk->db, st, 2);
			if (only && strcmp(rel, only))
				continue;
			const char *far = !strcmp(src, node) ? dst : src;
			bool seen = json_object_get(wk->index, far) != NULL;
			if (!seen && !walk_add_node(wk, far))
				continue; /* the node cap */
			walk_add_edge(wk, src, dst, rel);
			if (!seen && next)
				json_object_set_new(next, far, json_true());
		}
		tr_db_done(wk->db, st);
		if (rc)
			return rc;
	}
	return TR_OK;
}

/* Breadth-first from ROOT, DEPTH levels, one direction. */
static enum tr_err walk_dir(struct walk *wk, const char *root, bool forwards, int depth,
			    struct tr_buf *err)
{
	json_t *frontier = json_object();
	json_object_set_new(frontier, root, json_true());
	enum tr_err rc = TR_OK;
	for (int d = 0; !rc && d < depth && json_object_size(frontier); d++) {
		json_t *next = json_object();
		const char *node;
		json_t *v;
		json_object_foreach(frontier, node, v)
		{
			rc = walk_step(wk, node, forwards, NULL, next, err);
			if (rc)
				break;
		}
		json_decref(frontier);
		frontier = next;
	}
	json_decref(frontier);
	return rc;
}

/* The part of NODE after "<kind>:" (borrowed) when it is of KIND, else NULL. */
static const char *node_id(const char *node, const char *kind)
{
	size_t n = strlen(kind);
	return !strncmp(node, kind, n) && node[n] == ':' ? node + n + 1 : NULL;
}

/* One row of SQL with ID (and ID2 when given) bound: COLS[i] from column i. */
static enum tr_err detail_row(struct tr_db *db, json_t *obj, const char *sql, const char *id,
			      const char *id2, const char *const *cols, size_t n,
			      struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row = false;
	enum tr_err rc = tr_db_prepare(db, sql, &st, err);
	if (rc)
		return rc;
	tr_db_bind_text(db, st, 1, id);
	if (id2)
		tr_db_bind_text(db, st, 2, id2);
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row)
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(cols[i], "outputs")) {
				json_t *o = json_loads(tr_db_col_text(db, st, (int)i), 0, NULL);
				if (o)
					json_object_set_new(obj, "outputs", o);
			} else {
				tr_json_put_str(obj, cols[i], tr_db_col_text(db, st, (int)i));
			}
		}
	if (!rc)
		json_object_set_new(obj, "exists", json_boolean(row));
	tr_db_done(db, st);
	return rc;
}

/* The details of NODE (a new object with id and kind). Artifacts get theirs
 * in one pass later (artifact_details). */
static enum tr_err node_json(struct tr_db *db, const char *node, json_t **out, struct tr_buf *err)
{
	const char *colon = strchr(node, ':');
	json_t *o = json_object();
	tr_json_put_str(o, "id", node);
	json_object_set_new(o, "kind", json_stringn(node, colon ? (size_t)(colon - node) : 0));
	enum tr_err rc = TR_OK;
	const char *id;
	if ((id = node_id(node, "run"))) {
		static const char *const c[] = {"experiment_id", "name", "status",
						"lifecycle_stage"};
		rc = detail_row(db, o,
				"SELECT CAST(experiment_id AS TEXT), name, status, lifecycle_stage"
				" FROM runs WHERE run_uuid = ?",
				id, NULL, c, 4, err);
		/* its parameters: a task's resolved inputs, when it is a task's run */
		struct tr_db_stmt *st = NULL;
		if (!rc)
			rc = tr_db_prepare(
			    db,
			    "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY "
			    "key LIMIT 100",
			    &st, err);
		if (!rc) {
			json_t *params = json_object();
			tr_db_bind_text(db, st, 1, id);
			for (;;) {
				bool row = false;
				rc = tr_db_step(db, st, &row, err);
				if (rc || !row)
					break;
				json_object_set_new(params, tr_db_col_text(db, st, 0),
						    json_string(tr_db_col_text(db, st, 1)));
			}
			tr_db_done(db, st);
			if (json_object_size(params))
				json_object_set_new(o, "params", params);
			else
				json_decref(params);
		}
	} else if ((id = node_id(node, "model_version"))) {
		const char *slash = strrchr(id, '/');
		char *name = slash ? tr_xstrndup(id, (size_t)(slash - id)) : NULL;
		if (name) {
			tr_json_put_str(o, "name", name);
			tr_json_put_str(o, "version", slash + 1);
			static const char *const c[] = {"source", "storage_location",
							"current_stage"};
			rc = detail_row(db, o,
					"SELECT source, storage_location, current_stage FROM "
					"model_versions WHERE name = ? AND CAST(version AS TEXT) = "
					"? AND current_stage <> 'Deleted_Internal'",
					name, slash + 1, c, 3, err);
		}
		free(name);
	} else if ((id = node_id(node, "task"))) {
		const char *slash = strchr(id, '/');
		char *run = slash ? tr_xstrndup(id, (size_t)(slash - id)) : NULL;
		if (run) {
			tr_json_put_str(o, "pipeline_run_id", run);
			tr_json_put_str(o, "path", slash + 1);
			static const char *const c[] = {"state", "mlflow_run_id", "outputs"};
			rc = detail_row(db, o,
					"SELECT state, mlflow_run_id, outputs FROM pipeline_tasks "
					"WHERE run_id = ? AND path = ?",
					run, slash + 1, c, 3, err);
		}
		free(run);
	} else if ((id = node_id(node, "pipeline_run"))) {
		static const char *const c[] = {"name", "state"};
		rc = detail_row(db, o, "SELECT name, state FROM pipeline_runs WHERE run_id = ?", id,
				NULL, c, 2, err);
	} else if ((id = node_id(node, "logged_model"))) {
		static const char *const c[] = {"name", "experiment_id", "status", "source_run_id"};
		rc = detail_row(db, o,
				"SELECT name, CAST(experiment_id AS TEXT), status, source_run_id"
				" FROM logged_models WHERE model_id = ?",
				id, NULL, c, 4, err);
	} else if ((id = node_id(node, "dataset"))) {
		static const char *const c[] = {"name", "source_type", "source"};
		rc = detail_row(db, o,
				"SELECT name, source_type, source FROM datasets WHERE digest = ?"
				" LIMIT 1",
				id, NULL, c, 3, err);
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return TR_OK;
}

/* Paths and size of every artifact node in NODES (objects), by SHA-256; the
 * artifacts table has no index on sha256, so this is one scan per batch of
 * 64 digests rather than one per node. */
static enum tr_err artifact_details(struct tr_db *db, json_t *nodes, struct tr_buf *err)
{
	json_t *by_sha = json_object(); /* sha -> node object (borrowed) */
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
	{
		const char *id = node_id(json_string_value(json_object_get(n, "id")), "artifact");
		if (id) {
			json_object_set(by_sha, id, n);
			json_object_set_new(n, "paths", json_array());
			json_object_set_new(n, "exists", json_false());
		}
	}
	enum tr_err rc = TR_OK;
	const char *keys[64];
	size_t nk = 0;
	void *it = json_object_iter(by_sha);
	while (!rc && (it || nk)) {
		if (it) {
			keys[nk++] = json_object_iter_key(it);
			it = json_object_iter_next(by_sha, it);
		}
		if (nk < 64 && it)
			continue;
		struct tr_buf sql = TR_BUF_INIT;
		tr_buf_appends(&sql, "SELECT sha256, path, size FROM artifacts WHERE sha256 IN (");
		for (size_t k = 0; k < nk; k++)
			tr_buf_appends(&sql, k ? ",?" : "?");
		tr_buf_appends(&sql, ") ORDER BY path");
		struct tr_db_stmt *st;
		rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
		tr_buf_release(&sql);
		if (rc)
			break;
		for (size_t k = 0; k < nk; k++)
			tr_db_bind_text(db, st, (int)k + 1, keys[k]);
		bool row = true;
		while (!rc) {
			rc = tr_db_step(db, st, &row, err);
			if (rc || !row)
				break;
			json_t *node = json_object_get(by_sha, tr_db_col_text(db, st, 0));
			json_t *paths = json_object_get(node, "paths");
			if (!node)
				continue;
			json_object_set_new(node, "exists", json_true());
			tr_json_put_int(node, "size", tr_db_col_int64(db, st, 2));
			if (json_array_size(paths) < ARTIFACT_PATHS_MAX)
				json_array_append_new(paths,
						      json_string(tr_db_col_text(db, st, 1)));
		}
		tr_db_done(db, st);
		nk = 0;
	}
	json_decref(by_sha);
	return rc;
}

/* The answer for a finished walk from ROOT: a new object. */
static enum tr_err walk_result(struct walk *wk, const char *root, json_t **out, struct tr_buf *err)
{
	json_t *nodes = json_array();
	size_t i;
	json_t *n;
	enum tr_err rc = TR_OK;
	json_array_foreach(wk->nodes, i, n)
	{
		json_t *o = NULL;
		rc = node_json(wk->db, json_string_value(n), &o, err);
		if (rc)
			break;
		json_array_append_new(nodes, o);
	}
	if (!rc)
		rc = artifact_details(wk->db, nodes, err);
	if (rc) {
		json_decref(nodes);
		return rc;
	}
	*out = json_pack("{s:s,s:o,s:O,s:b}", "root", root, "nodes", nodes, "edges", wk->edges,
			 "truncated", wk->truncated);
	return TR_OK;
}

static void walk_release(struct walk *wk)
{
	json_decref(wk->index);
	json_decref(wk->nodes);
	json_decref(wk->seen_edges);
	json_decref(wk->edges);
}

static enum tr_err walk_open(struct tr_store *s, struct walk *wk, const char *root,
			     struct tr_buf *err)
{
	memset(wk, 0, sizeof(*wk));
	enum tr_err rc = store_reader_get(s, &wk->db, err);
	if (rc)
		return rc;
	wk->index = json_object();
	wk->nodes = json_array();
	wk->seen_edges = json_object();
	wk->edges = json_array();
	walk_add_node(wk, root);
	return TR_OK;
}

enum tr_err tr_store_lineage_query(struct tr_store *s, const char *node, const char *direction,
				   int depth, json_t **out, struct tr_buf *err)
{
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	bool up = false, down = false;
	if (!store_lineage_node_valid(node, &why))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&why));
	else if (!direction || !strcmp(direction, "both"))
		up = down = true;
	else if (!strcmp(direction, "upstream"))
		up = true;
	else if (!strcmp(direction, "downstream"))
		down = true;
	else
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "direction must be 'upstream', 'downstream' or 'both', not '%.32s'",
			     direction);
	if (!rc && (depth < 1 || depth > TR_LINEAGE_MAX_DEPTH))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "depth must be 1 to %d, not %d",
			     TR_LINEAGE_MAX_DEPTH, depth);
	tr_buf_release(&why);
	if (rc)
		return rc;
	struct walk wk;
	rc = walk_open(s, &wk, node, err);
	if (rc)
		return rc;
	if (up)
		rc = walk_dir(&wk, node, false, depth, err);
	if (!rc && down)
		rc = walk_dir(&wk, node, true, depth, err);
	if (!rc)
		rc = walk_result(&wk, node, out, err);
	store_reader_put(s, wk.db);
	walk_release(&wk);
	return rc;
}

/* Appends the ids of NODES of KIND (the part after "<kind>:") to a new array. */
static json_t *ids_of(json_t *nodes, const char *kind)
{
	json_t *list = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
	{
		const char *id = node_id(json_string_value(json_object_get(n, "id")), kind);
		if (id)
			json_array_append_new(list, json_string(id));
	}
	return list;
}

enum tr_err tr_store_lineage_model_version(struct tr_store *s, const char *name,
					   const char *version, json_t **out, struct tr_buf *err)
{
	if (!name || !*name || !version || !*version)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "model version lineage needs 'name' and 'version'");
	char *end = NULL;
	long long v = strtoll(version, &end, 10);
	if (*end || v < 1)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "version must be a positive integer, not '%.32s'", version);
	struct tr_buf root = TR_BUF_INIT;
	tr_buf_appendf(&root, "model_version:%s/%lld", name, v);
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	if (!store_lineage_node_valid(tr_buf_str(&root), &why))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s", tr_buf_str(&why));
	tr_buf_release(&why);
	struct walk wk = {0};
	if (!rc)
		rc = walk_open(s, &wk, tr_buf_str(&root), err);
	if (rc) {
		tr_buf_release(&root);
		return rc;
	}
	json_t *res = NULL;
	struct tr_db_stmt *st;
	bool found = false;
	rc = tr_db_prepare(wk.db,
			   "SELECT 1 FROM model_versions WHERE name = ? AND version = ? AND "
			   "current_stage <> 'Deleted_Internal'",
			   &st, err);
	if (!rc) {
		tr_db_bind_text(wk.db, st, 1, name);
		tr_db_bind_int64(wk.db, st, 2, v);
		rc = tr_db_step(wk.db, st, &found, err);
		tr_db_done(wk.db, st);
	}
	if (!rc && !found)
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "Model Version (name=%.256s, version=%lld) not found", name, v);
	if (!rc)
		rc = walk_dir(&wk, tr_buf_str(&root), false, TR_LINEAGE_MAX_DEPTH, err);
	/* context: what the runs and tasks that made it also produced, and the
	 * pipeline runs they are part of (one step forwards) */
	size_t n_up = json_array_size(wk.nodes);
	for (size_t i = 0; !rc && i < n_up; i++) {
		const char *node = json_string_value(json_array_get(wk.nodes, i));
		if (!node_id(node, "run") && !node_id(node, "task"))
			continue;
		rc = walk_step(&wk, node, true, "produced", NULL, err);
		if (!rc)
			rc = walk_step(&wk, node, true, "part_of", NULL, err);
	}
	if (!rc)
		rc = walk_result(&wk, tr_buf_str(&root), &res, err);
	if (!rc) {
		json_t *nodes = json_object_get(res, "nodes");
		json_t *inputs = ids_of(nodes, "dataset");
		/* artifacts read by something upstream */
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(res, "edges"), i, e)
		{
			const char *src = json_string_value(json_object_get(e, "src"));
			const char *sha = node_id(src, "artifact");
			if (sha &&
			    !strcmp(json_string_value(json_object_get(e, "relation")), "consumed"))
				json_array_append_new(inputs, json_string(sha));
		}
		json_object_set_new(
		    res, "summary",
		    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "runs", ids_of(nodes, "run"),
			      "pipeline_runs", ids_of(nodes, "pipeline_run"), "tasks",
			      ids_of(nodes, "task"), "logged_models", ids_of(nodes, "logged_model"),
			      "artifacts", ids_of(nodes, "artifact"), "input_digests", inputs));
		*out = res;
	}
	store_reader_put(s, wk.db);
	walk_release(&wk);
	tr_buf_release(&root);
	return rc;
}

enum tr_err tr_store_lineage_dataset(struct tr_store *s, const char *digest, json_t **out,
				     struct tr_buf *err)
{
	if (!digest || !*digest)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "missing 'digest'");
	size_t len = strlen(digest);
	bool sha = len == 64;
	for (size_t i = 0; sha && i < len; i++)
		sha = isxdigit((unsigned char)digest[i]) != 0;
	struct tr_buf root = TR_BUF_INIT;
	tr_buf_appendf(&root, "%s:%s", sha ? "artifact" : "dataset", digest);
	json_t *res = NULL;
	enum tr_err rc = tr_store_lineage_query(s, tr_buf_str(&root), "downstream",
						TR_LINEAGE_MAX_DEPTH, &res, err);
	if (!rc) {
		json_t *nodes = json_object_get(res, "nodes");
		json_object_set_new(res, "summary",
				    json_pack("{s:o,s:o,s:o}", "runs", ids_of(nodes, "run"),
					      "tasks", ids_of(nodes, "task"), "model_versions",
					      ids_of(nodes, "model_version")));
		*out = res;
	}
	tr_buf_release(&root);
	return rc;
}
