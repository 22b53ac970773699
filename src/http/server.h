/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server over libmicrohttpd: a pool of worker threads, one request
 * struct per request, bodies bounded, request arguments presented as one JSON
 * object (the JSON body, or the query string with repeated keys as arrays),
 * and the protections every route shares: allowed Host headers (DNS
 * rebinding), CORS origins, JSON-only writes (CSRF). A handler answers at once
 * or hands a write to the store's group-commit writer; the connection is then
 * suspended, never holding a worker, and resumed by the writer after commit.
 *
 * A route may instead take its body as a stream (artifact uploads): the claim
 * hook sees each request once its headers are in and the shared checks have
 * passed, and may hand the body to a sink, which gets it piece by piece as it
 * arrives, unbounded by max_body and never buffered whole.
 */
#ifndef TR_HTTP_SERVER_H
#define TR_HTTP_SERVER_H

#include "core/buf.h"
#include "core/err.h"
#include "governance/audit.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct tr_http;
struct tr_req;

/* Extra response headers a handler may add (tr_req_add_header()). */
#define TR_REQ_MAX_HEADERS 8

/*
 * Where a streamed body goes (see tr_req_stream_body()). All three run on the
 * connection's worker thread, so writing to disk there is fine.
 * - write: takes the next LEN bytes. A non-OK return (message in
 *   r->write.err) ends the stream: no more writes come and the rest of the
 *   body is read and dropped, so the client still gets the answer.
 * - done: the body has ended; RC is TR_OK or the code write returned. Must
 *   answer the request (tr_req_error(), tr_req_submit(), ...). Called once.
 * - abort: called instead of done when the request ends first (client gone,
 *   timeout, malformed chunking, shutdown): drop what was written.
 */
struct tr_body_sink {
	enum tr_err (*write)(struct tr_req *r, const void *data, size_t len);
	void (*done)(struct tr_req *r, enum tr_err rc);
	void (*abort)(struct tr_req *r);
};

struct tr_http_opts {
	const char *host;	   /* bind address, default 127.0.0.1 */
	int port;		   /* default 5000; 0 picks a free port */
	int workers;		   /* worker threads, default: number of cores */
	const char *allowed_hosts; /* comma list of Host values; "*" allows any */
	const char *cors_origins;  /* comma list of origins; "*" allows any */
	size_t max_body;	   /* bytes; larger bodies get 413 (streamed ones excepted) */
};

/* One request. Borrowed by the dispatcher for the request's lifetime. */
struct tr_req {
	const char *method;
	const char *path;     /* decoded path, without the query string */
	json_t *args;	      /* arguments object (body or query); never NULL at dispatch */
	bool args_from_query; /* ARGS came from the query string: lists may be lone strings */
	struct tr_buf body;   /* raw body */
	const char *route;    /* route name for /metrics, set by the dispatcher */
	struct tr_http *http;
	/* internal */
	void *conn;
	int status;
	char *resp;
	size_t resp_len;
	const char *resp_type;
	int state;
	bool body_too_large;
	bool is_json_body;
	const char *origin_ok; /* the Origin to echo in Access-Control-Allow-Origin */
	uint64_t started_us;
	struct tr_arena *arena; /* per-request allocations, see tr_req_arena() */
	int resp_fd;		/* with has_fd: a file to send (closed by MHD) */
	uint64_t resp_fd_size;
	uint64_t resp_fd_offset;
	uint64_t resp_fd_total; /* the whole file's size, for Content-Range */
	bool has_fd;
	const struct tr_stream_source *stream_src; /* with tr_req_stream() */
	void *stream_ctx;
	bool attachment;	   /* Content-Disposition: attachment */
	bool sandbox;		   /* Content-Security-Policy: sandbox */
	const char *content_range; /* Content-Range header, in the request's arena */
	struct tr_write write;
	const struct tr_body_sink *sink;      /* with tr_req_stream_body(): until done or abort */
	void *sink_ctx;			      /* the sink's state, see tr_req_stream_body() */
	enum tr_err sink_rc;		      /* the error sink->write returned, if any */
	bool body_streamed;		      /* the body went to a sink, not to BODY */
	uint64_t body_received;		      /* bytes of a streamed body so far */
	struct tr_request_digest body_digest; /* of a streamed body, for the audit */
	json_t *query;			      /* the query arguments, see tr_req_query() */
	void (*render)(struct tr_req *r, struct tr_write *w); /* see tr_req_submit_render() */
	const void *resp_static; /* with tr_req_static(): borrowed body of RESP_LEN bytes */
	struct {
		const char *name, *value;
	} headers[TR_REQ_MAX_HEADERS]; /* see tr_req_add_header() */
	int n_headers;
};

typedef void (*tr_http_dispatch_fn)(void *ctx, struct tr_req *req);
/* The claim hook: called once per request when its headers are complete and
 * the shared checks (Host, CORS) passed, before any body byte is read. It may
 * take the body as a stream (tr_req_stream_body()), answer at once
 * (tr_req_error(), tr_req_submit(): the body is then not read), or do
 * nothing: the body is buffered and the request dispatched as usual. */
typedef void (*tr_http_claim_fn)(void *ctx, struct tr_req *req);

/* Starts serving: DISPATCH handles requests once their body is in, CLAIM (may
 * be NULL) sees them first; both get CTX. Returns a new server; stop with
 * tr_http_stop(). */
enum tr_err tr_http_start(const struct tr_http_opts *opts, tr_http_dispatch_fn dispatch,
			  tr_http_claim_fn claim, void *ctx, struct tr_http **out,
			  struct tr_buf *err) __attribute__((warn_unused_result));
/* The port actually bound. */
int tr_http_port(const struct tr_http *h);
/* Stops accepting connections; requests in flight continue. */
void tr_http_quiesce(struct tr_http *h);
/* Waits up to TIMEOUT_MS for requests in flight to finish; true when idle. */
bool tr_http_wait_idle(struct tr_http *h, int timeout_ms);
/* Stops the server and frees it. NULL is a no-op. */
void tr_http_stop(struct tr_http *h);

/* Builds r->args: the JSON body, or for GET with a query string the query
 * (repeated keys as arrays). Returns TR_OK, or INVALID_PARAMETER_VALUE with a
 * message in MSG for a malformed body. Handlers that read the raw body
 * (r->body) instead need not call it. */
enum tr_err tr_req_parse_args(struct tr_req *r, struct tr_buf *msg)
    __attribute__((warn_unused_result));
/* The request's arena, created on first use and freed with the request. */
struct tr_arena *tr_req_arena(struct tr_req *r);

/* Responses; exactly one per request. BODY is stolen. */
void tr_req_json(struct tr_req *r, int status, json_t *body);
void tr_req_text(struct tr_req *r, int status, const char *content_type, const char *text);
/* LEN bytes of DATA, borrowed and never freed: DATA must outlive the response
 * (static data, such as the embedded UI). */
void tr_req_static(struct tr_req *r, int status, const char *content_type, const void *data,
		   size_t len);
/* Adds the response header NAME: VALUE, both borrowed until the response is
 * sent (static strings, or the request's arena). At most TR_REQ_MAX_HEADERS;
 * more are dropped. */
void tr_req_add_header(struct tr_req *r, const char *name, const char *value);
/*
 * A response streamed for as long as its source has something to say (Server-
 * Sent Events, a log that grows). READ fills BUF with at most MAX bytes and
 * returns how many; 0 when nothing is there yet (the connection is suspended,
 * holding no worker, and READ is asked again about every 200 ms); -1 at the
 * end. It runs on a worker thread and must not block. FREE releases CTX when
 * the response is done (or the client left). When the server stops, streams
 * end.
 */
struct tr_stream_source {
	long (*read)(void *ctx, char *buf, size_t max);
	void (*free)(void *ctx);
};
void tr_req_stream(struct tr_req *r, int status, const char *content_type,
		   const struct tr_stream_source *src, void *ctx);
/* Sends SIZE bytes of FD (taken over, closed after sending) as CONTENT_TYPE.
 * ATTACHMENT adds Content-Disposition: attachment, SANDBOX a CSP sandbox,
 * so stored HTML or SVG cannot run script in the server's origin. */
void tr_req_file(struct tr_req *r, int fd, uint64_t size, const char *content_type, bool attachment,
		 bool sandbox);
/* From the claim hook: the body goes to SINK as it arrives, with SINK_CTX
 * stored in r->sink_ctx (borrowed; the sink frees it in done or abort, or
 * it lives in the request's arena). max_body does not apply. */
void tr_req_stream_body(struct tr_req *r, const struct tr_body_sink *sink, void *sink_ctx);
/* The request header NAME, or NULL. Borrowed for the request's lifetime. */
const char *tr_req_header(struct tr_req *r, const char *name);
/* MLflow's error body {"error_code","message"} with the table's HTTP status. */
void tr_req_error(struct tr_req *r, enum tr_err code, const char *message);
/* Hands a write to the store's writer; the response ({} or w->result, or the
 * error) is sent after the commit. */
void tr_req_submit(struct tr_req *r, struct tr_store *s, tr_write_fn apply, const char *action,
		   enum tr_audit_class cls);

/* Like tr_req_submit(), but RENDER answers the request from the finished
 * write (on the writer thread, after commit; it must call one of the
 * response functions and must not release W), for APIs whose response and
 * error shapes are not MLflow's (the KFP API). */
void tr_req_submit_render(struct tr_req *r, struct tr_store *s, tr_write_fn apply,
			  const char *action, enum tr_audit_class cls,
			  void (*render)(struct tr_req *r, struct tr_write *w));
/* The query-string arguments as one object (repeated keys as arrays), also
 * for requests with a body. Borrowed; valid for the request's lifetime. */
json_t *tr_req_query(struct tr_req *r);

/* ---- /metrics (Prometheus text) ---- */
/* Appends the HTTP metrics: requests by route and status, latency histogram. */
void tr_http_metrics_render(struct tr_buf *out);
/* Records one finished request. Thread-safe. */
void tr_http_metrics_observe(const char *route, int status, uint64_t micros);

#endif
