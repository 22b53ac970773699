/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP API: MLflow's REST 2.0 tracking routes under /api/2.0/mlflow/ and
 * /ajax-api/2.0/mlflow/, Trellis' own under /api/2.0/trellis/, and /health,
 * /version, /metrics. One route table maps (method, path) to a read handler
 * (answered on the worker thread) or a store write (answered after commit).
 */
#ifndef TR_API_API_H
#define TR_API_API_H

#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "store/store.h"

#include <jansson.h>
#include <stdatomic.h>

struct tr_artifacts;
struct tr_pipelines;

struct tr_api {
	struct tr_store *store;
	struct tr_pipelines *pipelines; /* runs pipelines; NULL until started */
	struct tr_artifacts *artifacts; /* the artifact proxy's store */
	uint64_t max_artifact_bytes;	/* largest upload; 0: no limit */
	int64_t started_ms;
	/* set once everything is started (pipelines, the scheduler): until then
	 * /health answers 503, so a client waiting for it never meets a server
	 * that refuses pipeline runs as "not running" */
	atomic_bool ready;
};

/* Read handlers: fill *OUT with a new response object. */
typedef enum tr_err (*tr_read_fn)(struct tr_api *api, json_t *args, json_t **out,
				  struct tr_buf *err);

struct tr_route {
	const char *method;
	const char *path;   /* after /api/2.0/mlflow */
	tr_read_fn read;    /* either read ... */
	tr_write_fn write;  /* ... or write */
	const char *action; /* audit action and /metrics route name */
	enum tr_audit_class audit;
	bool log_batch; /* the body is a LogBatch, streamed into a struct tr_log_batch */
};

/* The dispatcher given to tr_http_start(); CTX is a struct tr_api. */
void tr_api_dispatch(void *ctx, struct tr_req *req);
/* The claim hook given to tr_http_start(): takes the bodies of artifact
 * uploads as streams. CTX is a struct tr_api. */
void tr_api_claim(void *ctx, struct tr_req *req);
/* The artifact proxy's part of tr_api_claim(): a PUT of a file streams into
 * the artifact store (see mlflow_artifacts.c). */
void tr_api_artifacts_claim(struct tr_api *api, struct tr_req *req);
/* Handles the artifact proxy under /api/2.0/mlflow-artifacts/artifacts; false
 * when PATH is not there. */
bool tr_api_artifacts(struct tr_api *api, struct tr_req *req);
/* Handles /health, /version, /metrics and /api/2.0/trellis/...; false when PATH is not one. */
bool tr_api_admin(struct tr_api *api, struct tr_req *req);

/* PATH's part after /api/2.0/trellis/NAME (or its /ajax-api twin) when that
 * is followed by '/' or the end ("" or "/..."); NULL when PATH is elsewhere. */
const char *tr_api_trellis_rest(const char *path, const char *name);
/* Trellis' pipeline API under /api/2.0/trellis/pipelines/ (trellis_pipelines.c):
 * validate, runs of Trellis YAML, the run event stream, task logs; false when
 * PATH is not there. */
bool tr_api_trellis_pipelines(struct tr_api *api, struct tr_req *r);
/* Handles /api/2.0/trellis/lineage[/model-version|/dataset] (trellis_lineage.c);
 * false when PATH is not there. */
bool tr_api_lineage(struct tr_api *api, struct tr_req *req);
/* Handles /api/2.0/trellis/audit/entries and /audit/verify (trellis_audit.c);
 * false when PATH is not there. */
bool tr_api_audit(struct tr_api *api, struct tr_req *req);

/* The MLflow tracking route table (mlflow_tracking.c). */
extern const struct tr_route tr_mlflow_tracking_routes[];
extern const size_t tr_mlflow_tracking_n_routes;
/* The model registry and logged-model route table (mlflow_registry.c). */
extern const struct tr_route tr_mlflow_registry_routes[];
extern const size_t tr_mlflow_registry_n_routes;

/* The MLflow server version /version reports: below 3.4, so clients do not
 * switch on OTLP span export, which Trellis does not serve yet. */
#define TR_MLFLOW_COMPAT_VERSION "3.3.2"

#endif
