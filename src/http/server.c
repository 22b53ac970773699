/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue. Each connection's request goes through: receive (body
 * bounded by max_body) -> checks shared by every route (Host allow-list, CORS
 * origin, JSON content type for writes) -> arguments as one JSON object ->
 * dispatch. A handler that submits a write suspends the connection; the
 * writer thread fills the response and resumes it, and MHD calls us once more
 * to queue the response. Workers never block on the database writer.
 *
 * Streamed bodies: on MHD's first call (headers complete) the Host and CORS
 * checks run and the claim hook may hand the body to a sink; each piece MHD
 * then delivers goes to the sink, and the sink's done answers once the body
 * has ended. MHD can queue a response only on that first call or after the
 * whole body, so a sink that fails midway has the rest read and dropped and
 * answers at the end; a request that ends early (the client went away) gets
 * the sink's abort from the completion callback.
 */
#include "http/server.h"
#include "core/ids.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "governance/audit.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ST_RECEIVING, ST_SUSPENDED, ST_READY, ST_SENT };

struct tr_http {
	struct MHD_Daemon *d;
	tr_http_dispatch_fn dispatch;
	tr_http_claim_fn claim;
	void *ctx;
	char **hosts;
	size_t n_hosts;
	bool any_host;
	char **origins;
	size_t n_origins;
	bool any_origin;
	size_t max_body;
	int port;
	atomic_int in_flight;
	/* streamed responses: suspended ones are resumed by the ticker */
	pthread_mutex_t streams_lock;
	struct stream *streams;
	atomic_bool streams_end; /* quiescing: every stream ends */
	atomic_bool ticker_stop;
	pthread_t ticker;
	bool ticker_started;
};

struct stream {
	struct tr_http *h;
	struct MHD_Connection *conn;
	const struct tr_stream_source *src;
	void *ctx;
	bool suspended; /* under h->streams_lock */
	struct stream *next;
};

static void split_list(const char *list, char ***out, size_t *n, bool *any)
{
	*out = NULL;
	*n = 0;
	*any = false;
	if (!list)
		return;
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ",");
		while (len && (*p == ' ')) {
			p++;
			len--;
		}
		size_t l = len;
		while (l && p[l - 1] == ' ')
			l--;
		if (l == 1 && *p == '*')
			*any = true;
		else if (l) {
			*out = tr_xrealloc(*out, (*n + 1) * sizeof(char *));
			(*out)[(*n)++] = tr_xstrndup(p, l);
		}
		p += len;
		if (*p == ',')
			p++;
	}
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * An --allowed-hosts entry with a port ("h:8080", "h:*") is matched against
 * the whole Host header, one without against the host part; both may use
 * shell wildcards ("*.example.com"), as MLflow's do.
 */
static bool pattern_has_port(const char *pat)
{
	const char *colon = strrchr(pat, ':');
	if (!colon)
		return false;
	if (pat[0] == '[') {
		const char *close = strchr(pat, ']');
		return close && colon > close;
	}
	return strchr(pat, ':') == colon; /* a bare IPv6 address has several colons */
}

static bool host_allowed(const struct tr_http *h, const char *host)
{
	if (h->any_host)
		return true;
	if (!host || !*host || strlen(host) > 255)
		return false;
	for (size_t i = 0; i < h->n_hosts; i++) {
		const char *pat = h->hosts[i];
		if (pattern_has_port(pat) && !fnmatch(pat, host, FNM_CASEFOLD))
			return true;
	}
	size_t len = strlen(host);
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		len = end ? (size_t)(end - host) + 1 : len;
	} else {
		const char *colon = strrchr(host, ':');
		if (colon)
			len = (size_t)(colon - host);
	}
	char name[256];
	snprintf(name, sizeof(name), "%.*s", (int)len, host);
	for (size_t i = 0; i < h->n_hosts; i++)
		if (!fnmatch(h->hosts[i], name, FNM_CASEFOLD))
			return true;
	return false;
}

static bool origin_allowed(const struct tr_http *h, const char *origin)
{
	if (h->any_origin)
		return true;
	for (size_t i = 0; i < h->n_origins; i++) {
		const char *pat = h->origins[i];
		size_t pl = strlen(pat);
		/* "http://localhost:*" matches any port */
		if (pl > 2 && !strcmp(pat + pl - 2, ":*")) {
			if (!strncasecmp(origin, pat, pl - 1) && origin[pl - 1] &&
			    strspn(origin + pl - 1, "0123456789") == strlen(origin + pl - 1))
				return true;
			if (strlen(origin) == pl - 2 && !strncasecmp(origin, pat, pl - 2))
				return true;
		} else if (!strcasecmp(pat, origin)) {
			return true;
		}
	}
	return false;
}

void tr_req_text(struct tr_req *r, int status, const char *content_type, const char *text)
{
	free(r->resp);
	r->status = status;
	r->resp_len = strlen(text);
	r->resp = tr_xstrndup(text, r->resp_len);
	r->resp_type = content_type;
	r->state = ST_READY;
}

void tr_req_static(struct tr_req *r, int status, const char *content_type, const void *data,
		   size_t len)
{
	free(r->resp);
	r->resp = NULL;
	r->status = status;
	r->resp_static = data;
	r->resp_len = len;
	r->resp_type = content_type;
	r->state = ST_READY;
}

void tr_req_add_header(struct tr_req *r, const char *name, const char *value)
{
	if (r->n_headers >= TR_REQ_MAX_HEADERS) /* a handler's bug; the response still goes */
		return;
	r->headers[r->n_headers].name = name;
	r->headers[r->n_headers].value = value;
	r->n_headers++;
}

const char *tr_req_header(struct tr_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/*
 * A single "Range: bytes=a-b" (or "a-", or "-n") against TOTAL bytes:
 * 1 and the span when satisfiable, 0 when absent or not a single byte range
 * (the whole file is sent), -1 when unsatisfiable (416).
 */
static int parse_range(const char *h, uint64_t total, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	const char *p = h + 6, *dash = strchr(p, '-');
	if (!dash)
		return 0;
	char *end;
	if (dash == p) { /* suffix: the last N bytes */
		unsigned long long n = strtoull(dash + 1, &end, 10);
		if (*end || !dash[1] || n == 0)
			return n == 0 && dash[1] && !*end ? -1 : 0;
		*off = n >= total ? 0 : total - n;
		*len = total - *off;
		return total ? 1 : -1;
	}
	unsigned long long a = strtoull(p, &end, 10), b = total ? total - 1 : 0;
	if (end != dash)
		return 0;
	if (dash[1]) {
		b = strtoull(dash + 1, &end, 10);
		if (*end)
			return 0;
	}
	if (a >= total || b < a)
		return -1;
	if (b >= total)
		b = total - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

void tr_req_file(struct tr_req *r, int fd, uint64_t size, const char *content_type, bool attachment,
		 bool sandbox)
{
	uint64_t off = 0, len = size;
	int range = parse_range(tr_req_header(r, "Range"), size, &off, &len);
	if (range < 0) {
		close(fd);
		char total[48];
		snprintf(total, sizeof(total), "bytes */%llu", (unsigned long long)size);
		tr_req_error(r, TR_ERR_RANGE_NOT_SATISFIABLE,
			     "the requested range is outside the file");
		r->content_range = tr_arena_strdup(tr_req_arena(r), total);
		return;
	}
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->status = range ? 206 : 200;
	r->resp_fd = fd;
	r->resp_fd_size = len;
	r->resp_fd_offset = off;
	r->resp_fd_total = size;
	r->has_fd = true;
	if (range) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)size);
		r->content_range = tr_arena_strdup(tr_req_arena(r), cr);
	}
	r->resp_type = content_type;
	r->attachment = attachment;
	r->sandbox = sandbox;
	r->state = ST_READY;
}

void tr_req_json(struct tr_req *r, int status, json_t *body)
{
	free(r->resp);
	r->status = status;
	r->resp = tr_json_dump(body);
	r->resp_len = strlen(r->resp);
	r->resp_type = "application/json";
	r->state = ST_READY;
	json_decref(body);
}

void tr_req_error(struct tr_req *r, enum tr_err code, const char *message)
{
	tr_req_json(r, tr_err_http_status(code),
		    json_pack("{s:s,s:s}", "error_code", tr_err_code_name(code), "message",
			      message && *message ? message : tr_strerror(code)));
}

static void write_done(struct tr_write *w, void *ctx)
{
	struct tr_req *r = ctx;
	if (r->render)
		r->render(r, w);
	else if (w->rc)
		tr_req_error(r, w->rc, tr_buf_str(&w->err));
	else
		tr_req_json(r, 200, w->result ? json_incref(w->result) : json_object());
	tr_write_release(w);
	MHD_resume_connection(r->conn);
}

struct tr_arena *tr_req_arena(struct tr_req *r)
{
	if (!r->arena)
		r->arena = tr_arena_new();
	return r->arena;
}

void tr_req_submit(struct tr_req *r, struct tr_store *s, tr_write_fn apply, const char *action,
		   enum tr_audit_class cls)
{
	struct tr_write *w = &r->write;
	w->apply = apply;
	if (!r->args)
		r->args = json_object();
	w->args = r->args;
	w->action = action;
	w->audit_class = cls;
	w->actor = "anonymous";
	if (r->body_streamed)
		tr_request_digest_final(&r->body_digest, w->request_digest);
	else
		tr_request_digest_hex(r->body.data ? r->body.data : "", r->body.len,
				      w->request_digest);
	w->on_done = write_done;
	w->ctx = r;
	r->state = ST_SUSPENDED;
	MHD_suspend_connection(r->conn);
	tr_store_submit(s, w);
}

void tr_req_submit_render(struct tr_req *r, struct tr_store *s, tr_write_fn apply,
			  const char *action, enum tr_audit_class cls,
			  void (*render)(struct tr_req *r, struct tr_write *w))
{
	r->render = render;
	tr_req_submit(r, s, apply, action, cls);
}

void tr_req_stream_body(struct tr_req *r, const struct tr_body_sink *sink, void *sink_ctx)
{
	r->sink = sink;
	r->sink_ctx = sink_ctx;
	r->body_streamed = true;
	tr_request_digest_init(&r->body_digest);
}

void tr_req_stream(struct tr_req *r, int status, const char *content_type,
		   const struct tr_stream_source *src, void *ctx)
{
	free(r->resp);
	r->resp = NULL;
	r->status = status;
	r->resp_type = content_type;
	r->stream_src = src;
	r->stream_ctx = ctx;
	r->state = ST_READY;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	(void)pos;
	if (atomic_load(&st->h->streams_end))
		return MHD_CONTENT_READER_END_OF_STREAM;
	long n = st->src->read(st->ctx, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > 0)
		return (ssize_t)n;
	/* nothing yet: wait without a worker, the ticker resumes us */
	pthread_mutex_lock(&st->h->streams_lock);
	st->suspended = true;
	MHD_suspend_connection(st->conn);
	pthread_mutex_unlock(&st->h->streams_lock);
	return 0;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	struct tr_http *h = st->h;
	pthread_mutex_lock(&h->streams_lock);
	for (struct stream **q = &h->streams; *q; q = &(*q)->next)
		if (*q == st) {
			*q = st->next;
			break;
		}
	pthread_mutex_unlock(&h->streams_lock);
	if (st->src->free)
		st->src->free(st->ctx);
	free(st);
}

/* Resumes every suspended stream, so that it looks for news. */
static void streams_resume(struct tr_http *h)
{
	pthread_mutex_lock(&h->streams_lock);
	for (struct stream *st = h->streams; st; st = st->next)
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->conn);
		}
	pthread_mutex_unlock(&h->streams_lock);
}

static void *ticker(void *arg)
{
	struct tr_http *h = arg;
	while (!atomic_load(&h->ticker_stop)) {
		usleep(200 * 1000);
		streams_resume(h);
	}
	return NULL;
}

static enum MHD_Result queue(struct MHD_Connection *c, struct tr_req *r)
{
	struct MHD_Response *resp;
	if (r->stream_src) {
		struct stream *st = tr_xcalloc(1, sizeof(*st));
		st->h = r->http;
		st->conn = c;
		st->src = r->stream_src;
		st->ctx = r->stream_ctx;
		r->stream_src = NULL; /* the stream owns the context now */
		pthread_mutex_lock(&st->h->streams_lock);
		st->next = st->h->streams;
		st->h->streams = st;
		pthread_mutex_unlock(&st->h->streams_lock);
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read,
							 st, stream_free);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	} else if (r->has_fd) {
		resp = MHD_create_response_from_fd_at_offset64(r->resp_fd_size, r->resp_fd,
							       r->resp_fd_offset);
		r->has_fd = false; /* MHD closes it now */
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
		if (r->attachment)
			MHD_add_response_header(resp, "Content-Disposition", "attachment");
		if (r->sandbox)
			MHD_add_response_header(resp, "Content-Security-Policy", "sandbox");
	} else if (!r->resp && r->resp_static) {
		resp = MHD_create_response_from_buffer(r->resp_len, (void *)r->resp_static,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
		r->resp = NULL;
	}
	for (int i = 0; i < r->n_headers; i++)
		MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
	MHD_add_response_header(resp, "Content-Type", r->resp_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->content_range)
		MHD_add_response_header(resp, "Content-Range", r->content_range);
	if (r->origin_ok) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin_ok);
		MHD_add_response_header(resp, "Vary", "Origin");
	}
	if (!strcmp(r->method, "OPTIONS") && r->origin_ok) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
					"GET, POST, PUT, PATCH, DELETE, OPTIONS");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
					"Content-Type, Authorization, X-MLflow-Client-Version");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	}
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	r->state = ST_SENT;
	return ret;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	json_t *args = cls;
	if (!key)
		return MHD_YES;
	json_t *v = json_string(value ? value : "");
	if (!v) /* not UTF-8: keep it out rather than fail the whole request */
		return MHD_YES;
	json_t *old = json_object_get(args, key);
	if (!old) {
		json_object_set_new(args, key, v);
	} else if (json_is_array(old)) {
		json_array_append_new(old, v);
	} else {
		json_t *arr = json_array();
		json_array_append(arr, old);
		json_array_append_new(arr, v);
		json_object_set_new(args, key, arr);
	}
	return MHD_YES;
}

json_t *tr_req_query(struct tr_req *r)
{
	if (!r->query) {
		r->query = json_object();
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, r->query);
	}
	return r->query;
}

/* Content-Type CT is TYPE (parameters after ';' ignored, case-insensitive). */
static bool is_type(const char *ct, const char *type)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	return n == strlen(type) && !strncasecmp(ct, type, n);
}

/* The only writes that may be multipart/form-data: KFP's pipeline uploads,
 * whose official client sends files that way. Everywhere else a write must be
 * JSON, which a cross-site HTML form cannot send (CSRF); these two are
 * covered by the Origin check, as browsers send Origin on cross-origin POSTs. */
static const char *const multipart_paths[] = {"/apis/v2beta1/pipelines/upload",
					      "/apis/v2beta1/pipelines/upload_version"};

static bool multipart_allowed(const struct tr_req *r, const char *ct)
{
	if (strcmp(r->method, "POST") || !is_type(ct, "multipart/form-data"))
		return false;
	for (size_t i = 0; i < sizeof(multipart_paths) / sizeof(multipart_paths[0]); i++)
		if (!strcmp(r->path, multipart_paths[i]))
			return true;
	return false;
}

static bool is_json_type(const char *ct)
{
	return is_type(ct, "application/json");
}

enum tr_err tr_req_parse_args(struct tr_req *r, struct tr_buf *msg)
{
	struct MHD_Connection *c = r->conn;
	if (r->args)
		return TR_OK;
	bool has_query = false;
	json_t *q = json_object();
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, q);
	has_query = json_object_size(q) > 0;
	if (r->body.len == 0 || (!strcmp(r->method, "GET") && has_query)) {
		r->args = q;
		r->args_from_query = true;
		return TR_OK;
	}
	json_decref(q);
	json_error_t jerr;
	json_t *v = json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, &jerr);
	if (v && json_is_string(v)) { /* old clients double-encode */
		json_t *inner = json_loads(json_string_value(v), JSON_DECODE_ANY, &jerr);
		json_decref(v);
		v = inner;
	}
	if (!v)
		return tr_fail(msg, TR_ERR_INVALID_PARAMETER_VALUE,
			       "malformed JSON body: %s (line %d, column %d)", jerr.text, jerr.line,
			       jerr.column);
	if (!json_is_object(v)) {
		json_decref(v);
		return tr_fail(msg, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the JSON body must be an object");
	}
	r->args = v;
	return TR_OK;
}

/* The checks that need only the headers: the Host allow-list and cross-origin
 * writes. Sets r->origin_ok. */
static enum tr_err header_checks(struct tr_http *h, struct tr_req *r, struct tr_buf *msg)
{
	const char *host = tr_req_header(r, "Host");
	const char *origin = tr_req_header(r, "Origin");
	bool writes =
	    strcmp(r->method, "GET") && strcmp(r->method, "HEAD") && strcmp(r->method, "OPTIONS");
	if (origin && origin_allowed(h, origin))
		r->origin_ok = origin;
	/* health checks come from load balancers with their own Host, as MLflow allows */
	bool probe = !strcmp(r->path, "/health") || !strcmp(r->path, "/version");
	if (!probe && !host_allowed(h, host))
		return tr_fail(
		    msg, TR_ERR_PERMISSION_DENIED,
		    "Invalid Host header '%s': not in --allowed-hosts (DNS rebinding protection)",
		    host ? host : "");
	if (origin && !r->origin_ok && writes)
		return tr_fail(
		    msg, TR_ERR_PERMISSION_DENIED,
		    "Cross-origin request from '%s' is not allowed (--cors-allowed-origins)",
		    origin);
	return TR_OK;
}

static void dispatch(struct tr_http *h, struct MHD_Connection *c, struct tr_req *r)
{
	struct tr_buf msg = TR_BUF_INIT;
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	enum tr_err rc = header_checks(h, r, &msg);
	if (!rc && !strcmp(r->method, "OPTIONS")) {
		if (origin && !r->origin_ok)
			rc = tr_fail(&msg, TR_ERR_PERMISSION_DENIED, "origin '%s' is not allowed",
				     origin);
		else {
			r->args = json_object();
			tr_req_text(r, 204, "text/plain", "");
			goto out;
		}
	} else if (!rc && r->body_too_large) {
		rc = tr_fail(&msg, TR_ERR_TOO_LARGE, "request body larger than %zu bytes",
			     h->max_body);
	} else if (!rc &&
		   (!strcmp(r->method, "POST") || !strcmp(r->method, "PATCH") ||
		    (!strcmp(r->method, "DELETE") && r->body.len)) &&
		   !is_json_type(ctype) && !multipart_allowed(r, ctype)) {
		rc = tr_fail(
		    &msg, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Invalid content type: '%.100s'. Requests that change state must be sent "
		    "with Content-Type: application/json",
		    ctype ? ctype : "");
	}
	r->write.reject = rc;
	if (rc)
		tr_buf_append(&r->write.err, msg.data ? msg.data : "", msg.len);
	h->dispatch(h->ctx, r);
out:
	tr_buf_release(&msg);
}

/*
 * True when the client closed its side while a streamed body is still
 * incomplete (fewer bytes than its Content-Length, or a chunked body before
 * its end). Needed because MHD, on edge-triggered epoll, takes a short read
 * for "drained": a FIN that came in with the last data raises no new event,
 * and the connection would sit, its upload open, until the idle timeout. A
 * peek after each piece sees it at once; the data MHD already holds has been
 * passed to us, so an empty, closed socket means the body can never end.
 */
static bool client_left_mid_body(struct MHD_Connection *c, struct tr_req *r)
{
	const char *cl = tr_req_header(r, "Content-Length");
	if (cl && r->body_received >= strtoull(cl, NULL, 10))
		return false;
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	char b;
	return info && recv(info->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct tr_http *h = cls;
	struct tr_req *r = *con_cls;
	if (!r) {
		r = tr_xcalloc(1, sizeof(*r));
		r->http = h;
		r->conn = c;
		r->method = method;
		r->path = url;
		r->route = "unmatched";
		r->started_us = tr_clock_mono_us();
		*con_cls = r;
		atomic_fetch_add(&h->in_flight, 1);
		if (h->claim && strcmp(method, "OPTIONS")) {
			struct tr_buf msg = TR_BUF_INIT;
			if (!header_checks(h, r, &msg))
				h->claim(h->ctx, r);
			tr_buf_release(&msg);
			if (r->state == ST_READY)
				return queue(c, r);
			if (r->body_streamed || r->state == ST_SUSPENDED)
				return MHD_YES;
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
		if (declared && declared <= h->max_body)
			tr_buf_grow(&r->body, (size_t)declared); /* one allocation for the body */
		if (declared > h->max_body) {
			/* answer now rather than wait for a body we would refuse */
			r->body_too_large = true;
			dispatch(h, c, r);
			if (r->state == ST_READY)
				return queue(c, r);
		}
		return MHD_YES;
	}
	if (r->state == ST_RECEIVING && *upload_data_size && r->body_streamed) {
		tr_request_digest_update(&r->body_digest, upload_data, *upload_data_size);
		r->body_received += *upload_data_size;
		if (r->sink && !r->sink_rc)
			r->sink_rc = r->sink->write(r, upload_data, *upload_data_size);
		*upload_data_size = 0; /* after a failed write: read and dropped */
		/* MHD_NO closes the connection; on_completed then aborts the sink */
		return client_left_mid_body(c, r) ? MHD_NO : MHD_YES;
	}
	if (r->state == ST_RECEIVING && *upload_data_size) {
		if (r->body.len + *upload_data_size > h->max_body)
			r->body_too_large = true;
		else
			tr_buf_append(&r->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->state == ST_RECEIVING && r->body_streamed && r->sink) {
		const struct tr_body_sink *sink = r->sink;
		r->sink = NULL;
		sink->done(r, r->sink_rc);
	} else if (r->state == ST_RECEIVING) {
		dispatch(h, c, r);
	}
	*upload_data_size = 0; /* a body still arriving after the answer is discarded */
	if (r->state == ST_READY)
		return queue(c, r);
	if (r->state == ST_SUSPENDED)
		return MHD_YES;
	return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct tr_http *h = cls;
	struct tr_req *r = *con_cls;
	if (!r)
		return;
	if (r->sink) { /* the body never ended: the client went away, or we stopped */
		const struct tr_body_sink *sink = r->sink;
		r->sink = NULL;
		sink->abort(r);
	}
	uint64_t us = tr_clock_mono_us() - r->started_us;
	int status = r->state == ST_SENT ? r->status : 0;
	tr_log_access(r->method, r->path, status, us);
	tr_http_metrics_observe(r->route, status, us);
	json_decref(r->args);
	json_decref(r->query);
	if (r->has_fd)
		close(r->resp_fd);		  /* answered with a file that was never queued */
	if (r->stream_src && r->stream_src->free) /* a stream that was never queued */
		r->stream_src->free(r->stream_ctx);
	tr_arena_free(r->arena);
	tr_buf_release(&r->body);
	tr_buf_release(&r->write.err);
	free(r->resp);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&h->in_flight, 1);
}

/*
 * Percent-decoding of the URL path and query arguments, in place, as MHD's
 * default does, except that "%00" stays as it is: a NUL would silently cut
 * the C string (so "a%00b" would name "a"); kept literal, the artifact path
 * check refuses it and anywhere else it is just text.
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int h, l;
		if (*r == '%' && (h = tr_hex_digit(r[1])) >= 0 && (l = tr_hex_digit(r[2])) >= 0 &&
		    (h || l)) {
			*w++ = (char)(h * 16 + l);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_vappendf(&b, fmt, ap);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	tr_log_warn("http: %s", tr_buf_str(&b));
	tr_buf_release(&b);
}

enum tr_err tr_http_start(const struct tr_http_opts *opts, tr_http_dispatch_fn dispatch_fn,
			  tr_http_claim_fn claim, void *ctx, struct tr_http **out,
			  struct tr_buf *err)
{
	struct tr_http *h = tr_xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->streams_lock, NULL);
	h->dispatch = dispatch_fn;
	h->claim = claim;
	h->ctx = ctx;
	h->max_body = opts->max_body ? opts->max_body : 16u << 20;
	const char *host = opts->host ? opts->host : "127.0.0.1";
	struct tr_buf hosts = TR_BUF_INIT;
	if (opts->allowed_hosts)
		tr_buf_appends(&hosts, opts->allowed_hosts);
	else
		tr_buf_appendf(&hosts, "localhost,127.0.0.1,[::1],%s", host);
	split_list(tr_buf_str(&hosts), &h->hosts, &h->n_hosts, &h->any_host);
	tr_buf_release(&hosts);
	split_list(opts->cors_origins ? opts->cors_origins
				      : "http://localhost:*,http://127.0.0.1:*,http://[::1]:*",
		   &h->origins, &h->n_origins, &h->any_origin);

	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", opts->port);
	const char *bind_host = host;
	char stripped[256];
	if (host[0] == '[') { /* [::1] */
		snprintf(stripped, sizeof(stripped), "%s", host + 1);
		char *e = strchr(stripped, ']');
		if (e)
			*e = '\0';
		bind_host = stripped;
	}
	if (getaddrinfo(bind_host, port, &hints, &ai) || !ai) {
		tr_http_stop(h);
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "cannot resolve --host '%s'",
			       host);
	}
	/* poll(), not epoll: with epoll and a thread pool, MHD_quiesce_daemon()
	 * races the workers' own removal of the listen socket from their epoll
	 * sets and MHD aborts the process ("Failed to remove listen FD from epoll
	 * set", an open libmicrohttpd defect; seen here as a SIGABRT on SIGTERM).
	 * The poll() side of quiescing has no such race. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned workers = opts->workers > 0 ? (unsigned)opts->workers : 2;
	h->d = MHD_start_daemon(
	    flags, (uint16_t)opts->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
	    log_mhd, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, workers,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
	    NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		tr_http_stop(h);
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot listen on %s:%d (in use?)", host,
			       opts->port);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : opts->port;
	if (pthread_create(&h->ticker, NULL, ticker, h)) {
		tr_http_stop(h);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start the stream ticker");
	}
	h->ticker_started = true;
	*out = h;
	return TR_OK;
}

int tr_http_port(const struct tr_http *h)
{
	return h->port;
}

void tr_http_quiesce(struct tr_http *h)
{
	if (h) { /* streams end now, so that they do not hold the stop */
		atomic_store(&h->streams_end, true);
		streams_resume(h);
	}
	if (h && h->d) {
		MHD_socket s = MHD_quiesce_daemon(h->d);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
}

bool tr_http_wait_idle(struct tr_http *h, int timeout_ms)
{
	for (int waited = 0; atomic_load(&h->in_flight) > 0; waited += 10) {
		if (waited >= timeout_ms)
			return false;
		usleep(10000);
	}
	return true;
}

void tr_http_stop(struct tr_http *h)
{
	if (!h)
		return;
	atomic_store(&h->streams_end, true);
	if (h->ticker_started) {
		atomic_store(&h->ticker_stop, true);
		pthread_join(h->ticker, NULL);
	}
	streams_resume(h); /* MHD stops only with no connection suspended */
	if (h->d)
		MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->streams_lock);
	free_list(h->hosts, h->n_hosts);
	free_list(h->origins, h->n_origins);
	free(h);
}
