/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubeflow Pipelines REST API v2beta1 under /apis/v2beta1, as the
 * official kfp.Client (kfp 2.x) calls it: healthz, experiments (which are
 * MLflow experiments), pipelines and pipeline versions, runs (kfp_runs.c)
 * and recurring runs (kfp_recurring.c). The wire reference is
 * /work/shared/reference/kfp-api.md.
 *
 * Wire conventions every handler follows: snake_case proto names, zero values
 * omitted, enums as name strings, int64 as strings, timestamps RFC3339 UTC
 * with 'Z' (tr_kfp_time()). Errors are google.rpc.Status bodies
 * {"code": <gRPC code>, "message", "details": []} (tr_kfp_error()), except on
 * the two upload routes, which answer {"error_message", "error_details"}
 * (tr_kfp_upload_error()). Empty query values count as absent. 401 is never
 * sent (it would make kfp.Client try a GCP token refresh).
 *
 * Writes go through the store's group-commit writer with
 * tr_req_submit_render(), so they are audited like MLflow writes.
 */
#ifndef TR_API_KFP_H
#define TR_API_KFP_H

#include "api/api.h"
#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define TR_KFP_PREFIX "/apis/v2beta1"

/* Handles every request whose path starts with /apis/v2beta1/ (unknown ones
 * get 404 {"code": 5, "message": "Not Found"}); false for other paths.
 * Called by tr_api_dispatch() before the MLflow routes. */
bool tr_api_kfp(struct tr_api *api, struct tr_req *r);

/* The handlers of each part; SUB is the path after /apis/v2beta1 ("/runs/x").
 * Each answers and returns true when SUB is one of its paths, else false. */
bool tr_api_kfp_experiments(struct tr_api *api, struct tr_req *r, const char *sub);
bool tr_api_kfp_pipelines(struct tr_api *api, struct tr_req *r, const char *sub);
/* POST /pipelines/upload and /pipelines/upload_version (kfp_upload.c). */
bool tr_api_kfp_upload(struct tr_api *api, struct tr_req *r, const char *sub);
/* /runs (kfp_runs.c). Reads r->path itself. */
bool tr_api_kfp_runs(struct tr_api *api, struct tr_req *r);
/* /recurringruns (kfp_recurring.c). Reads r->path itself. */
bool tr_api_kfp_recurring(struct tr_api *api, struct tr_req *r);

/* ---- responses ---- */

/* The gRPC status code KFP's server would give for CODE, and its HTTP status
 * (grpc-gateway's table; TOO_LARGE is ResourceExhausted with 413, and
 * UNAUTHENTICATED becomes PermissionDenied/403, never 401). */
int tr_kfp_grpc_code(enum tr_err code);
int tr_kfp_http_status(enum tr_err code);
/* Answers {"code", "message", "details": []} with CODE's HTTP status; MSG
 * NULL or "" uses CODE's default text. */
void tr_kfp_error(struct tr_req *r, enum tr_err code, const char *msg);
/* The upload routes' error: {"error_message": MSG, "error_details": DETAILS
 * (MSG when NULL)} with CODE's HTTP status. */
void tr_kfp_upload_error(struct tr_req *r, enum tr_err code, const char *msg, const char *details);
/* Answers 200 with BODY (stolen). */
void tr_kfp_json(struct tr_req *r, json_t *body);
/* MS (milliseconds since the epoch) as RFC3339 UTC, seconds precision, e.g.
 * "2024-05-01T10:00:00Z". */
void tr_kfp_time(int64_t ms, char out[32]);
/* Sets OBJ[KEY] to S unless S is NULL or "" (zero values are omitted). */
void tr_kfp_put_str(json_t *obj, const char *key, const char *s);
/* Parses an RFC3339 timestamp ("2024-05-01T10:00:00Z", fractions and
 * offsets allowed; no zone means UTC) into *MS. False when malformed. */
bool tr_kfp_parse_time(const char *s, int64_t *ms);
/* The non-empty string query or body argument KEY of ARGS, or NULL when
 * absent, empty or not a string. Borrowed from ARGS. */
const char *tr_kfp_arg(json_t *args, const char *key);

/* A store pipeline row as KFP's Pipeline, and a version row as its
 * PipelineVersion (with pipeline_spec when the row has spec_text). Return a
 * new object. (kfp_pipelines.c) */
json_t *tr_kfp_pipeline_json(json_t *row);
json_t *tr_kfp_version_json(json_t *row);

/* ---- list requests: filter, sort, paging ---- */

enum tr_kfp_kind {
	TR_KFP_TEXT,   /* compared as text; string values (numbers are turned into text) */
	TR_KFP_INT,    /* int_value / long_value (number or decimal string) */
	TR_KFP_TIME_MS /* a column of epoch milliseconds, filtered with timestamp_value
			  (RFC3339) or long_value/int_value seconds, compared in seconds */
};

/* One filterable and sortable field: the API name and the SQL expression it
 * stands for (trusted text from a static table, never from the request).
 * Tables end with an entry whose NAME is NULL. The first entry must be the
 * resource's unique id: it breaks ties in every sort, so pages are stable. */
struct tr_kfp_field {
	const char *name;
	const char *column;
	enum tr_kfp_kind kind;
};

/*
 * A parsed list request. Lifecycle: tr_kfp_list_parse() (or
 * tr_kfp_list_parse_args()) -> hand l.q to a store list function ->
 * tr_kfp_list_finish() on the response -> tr_kfp_list_release() (also after a
 * failed parse).
 *
 * The filter is KFP's Filter JSON {"predicates": [{key, operation, value}]}
 * (ANDed; operation a name or its number; values in snake_case or camelCase:
 * string_value, int_value, long_value, timestamp_value, and for IN
 * string_values/int_values/long_values {"values": [...]}). Each predicate
 * becomes "<column> <op> ?" with its value bound (IN: "IN (?, ...)";
 * IS_SUBSTRING: "instr(<column>, ?) > 0", case-sensitive). sort_by is
 * "field", "field asc" or "field desc"; the default is created_at ascending
 * (when the table has it, else the id). page_size: absent or 0 is 20, above
 * 200 is 200, negative is an error. page_token is opaque and only valid with
 * the filter and sort it was made for.
 */
struct tr_kfp_list {
	struct tr_buf where;	/* SQL boolean expression; "" for no filter */
	struct tr_buf order_by; /* e.g. "e.name DESC, e.experiment_id DESC" */
	json_t *binds;		/* one value per '?' in WHERE */
	int64_t page_size;	/* 1..200 */
	int64_t offset;		/* from the page token */
	uint64_t sig;		/* hash of the filter and sort, kept in page tokens */
	struct tr_store_list q; /* the store's view of the above (valid until release) */
};

#define TR_KFP_LIST_INIT                                                                           \
	{                                                                                          \
		TR_BUF_INIT, TR_BUF_INIT, NULL, 20, 0, 0,                                          \
		{                                                                                  \
			NULL, NULL, NULL, 0, 0                                                     \
		}                                                                                  \
	}

/* Parses the list request in R's query string (filter, sort_by, page_size,
 * page_token) against FIELDS into OUT. INVALID_PARAMETER_VALUE with a
 * message in ERR for a bad filter, sort, size or token. */
enum tr_err tr_kfp_list_parse(struct tr_req *r, const struct tr_kfp_field *fields,
			      struct tr_kfp_list *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The same from an arguments object ARGS (values strings; the unit tests'
 * entry point). */
enum tr_err tr_kfp_list_parse_args(json_t *args, const struct tr_kfp_field *fields,
				   struct tr_kfp_list *out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Sets "total_size" (when TOTAL > 0) and "next_page_token" (when rows remain
 * after this page) on the list response OUT. */
void tr_kfp_list_finish(const struct tr_kfp_list *l, int64_t total, json_t *out);
/* Answers a list request: ITEMS (taken) under KEY when it is not empty (KFP
 * leaves an empty list out), then tr_kfp_list_finish(). */
void tr_kfp_list_answer(struct tr_req *r, const struct tr_kfp_list *l, int64_t total,
			const char *key, json_t *items);
/* The page token for the page starting at OFFSET: a new string, free with free(). */
char *tr_kfp_list_token(const struct tr_kfp_list *l, int64_t offset);
void tr_kfp_list_release(struct tr_kfp_list *l);

/* ---- multipart/form-data (kfp_upload.c) ---- */

/* One part of a multipart body: its bytes (borrowed from the body) and its
 * file name ("" when none; truncated to fit). */
struct tr_kfp_part {
	const char *data;
	size_t len;
	char filename[256];
};

/* Finds the part named FIELD in the multipart/form-data BODY (LEN bytes)
 * whose Content-Type header is CONTENT_TYPE (which carries the boundary).
 * INVALID_PARAMETER_VALUE with a message for a missing boundary, a malformed
 * body or no such part. Never reads outside BODY. */
enum tr_err tr_kfp_multipart_find(const char *content_type, const char *body, size_t len,
				  const char *field, struct tr_kfp_part *out /* OUT */,
				  struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * One KFP resource collection (/runs, /recurringruns): POST and GET on the
 * collection, GET and DELETE on {id}, POST on {id}:verb (Google's custom
 * methods). A NULL handler answers 405. tr_kfp_resource_dispatch() parses
 * R's arguments first (a malformed body is answered in KFP's shape) and
 * returns false when R's path is not under RES->prefix.
 */
struct tr_kfp_resource {
	const char *prefix; /* "/apis/v2beta1/runs" */
	const char *route;  /* the route name for /metrics */
	void (*create)(struct tr_api *api, struct tr_req *r);
	void (*list)(struct tr_api *api, struct tr_req *r);
	void (*get)(struct tr_api *api, struct tr_req *r, const char *id);
	void (*remove)(struct tr_api *api, struct tr_req *r, const char *id);
	void (*verb)(struct tr_api *api, struct tr_req *r, const char *id, const char *verb);
};
bool tr_kfp_resource_dispatch(struct tr_api *api, struct tr_req *r,
			      const struct tr_kfp_resource *res);

#endif
