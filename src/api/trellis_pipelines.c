/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trellis' own pipeline API under /api/2.0/trellis/pipelines (MLflow's error
 * format), for what KFP's lacks: validation with line:column problems, runs
 * of Trellis YAML, the run's event stream (task state changes), and task logs
 * by offset or as a live stream, and one stream multiplexing a run's events
 * with one task's log (a page needs one connection, not two). Streams are
 * Server-Sent Events; the same data is available as JSON polls (`wait_ms`
 * long-polls the events).
 */
#include "api/api.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "pipeline/diag.h"
#include "pipeline/service.h"
#include "pipeline/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_CHUNK_MAX (1 << 20) /* a log poll answers at most this much */
#define KEEPALIVE_MS  15000

static const char *arg_str(json_t *args, const char *k)
{
	const char *v = json_string_value(json_object_get(args, k));
	return v && *v ? v : NULL;
}

/* An integer argument (a JSON number or, from a query string, decimal text). */
static bool arg_int(json_t *args, const char *k, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(args, k);
	if (!v)
		return true;
	int64_t n;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v) && *json_string_value(v)) {
		char *end;
		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (errno || *end)
			return false;
	} else {
		return false;
	}
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

static bool arg_true(json_t *args, const char *k)
{
	json_t *v = json_object_get(args, k);
	return json_is_true(v) || (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
							 !strcmp(json_string_value(v), "1")));
}

/* ---- validate ---------------------------------------------------------------- */

static void validate(struct tr_req *r)
{
	const char *text = arg_str(r->args, "pipeline_yaml");
	if (!text) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE, "pipeline_yaml is required");
		return;
	}
	struct tr_diags d = TR_DIAGS_INIT;
	struct tr_pipeline_spec *spec = NULL;
	enum tr_err rc = tr_pipeline_load_buf(text, strlen(text), NULL, &spec, &d);
	json_t *problems = json_array();
	for (size_t i = 0; i < d.n; i++) {
		json_t *p = json_pack("{s:s,s:s}", "severity",
				      d.v[i].level == TR_DIAG_ERROR ? "error" : "warning",
				      "message", d.v[i].msg);
		if (d.v[i].line) {
			json_object_set_new(p, "line", json_integer(d.v[i].line));
			json_object_set_new(p, "column", json_integer(d.v[i].col));
		}
		json_array_append_new(problems, p);
	}
	json_t *out = json_pack("{s:b,s:o}", "valid", rc == TR_OK, "problems", problems);
	if (spec) {
		json_object_set_new(out, "name", json_string(tr_pipeline_name(spec)));
		json_object_set_new(
		    out, "format",
		    json_string(tr_pipeline_format(spec) == TR_PIPELINE_KFP ? "kfp" : "trellis"));
	}
	tr_pipeline_spec_free(spec);
	tr_diags_release(&d);
	tr_req_json(r, 200, out);
}

/* ---- runs ------------------------------------------------------------------- */

static void submit(struct tr_api *api, struct tr_req *r)
{
	const char *text = arg_str(r->args, "pipeline_yaml");
	json_t *params = json_object_get(r->args, "params");
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	if (!text)
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "pipeline_yaml is required");
	else if (params && !json_is_object(params))
		rc = tr_fail(&err, TR_ERR_INVALID_PARAMETER_VALUE, "params must be an object");
	else if (!api->pipelines)
		rc = tr_fail(&err, TR_ERR_TEMPORARILY_UNAVAILABLE,
			     "pipelines are not running on this server");
	char run_id[64];
	if (!rc) {
		const char *name = arg_str(r->args, "run_name");
		char gen[64];
		if (!name) {
			snprintf(gen, sizeof(gen), "run-%lld", (long long)tr_clock_now_ms());
			name = gen;
		}
		struct tr_pipeline_submit req = {
		    .spec_text = text,
		    .spec_len = strlen(text),
		    .experiment_id = arg_str(r->args, "experiment_id"),
		    .display_name = name,
		    .description = arg_str(r->args, "description"),
		    .params = params,
		    .no_cache = arg_true(r->args, "no_cache"),
		    .actor = "anonymous",
		};
		rc = tr_pipelines_submit(api->pipelines, &req, run_id, &err);
	}
	if (rc)
		tr_req_error(r, rc, tr_buf_str(&err));
	else
		tr_req_json(r, 200, json_pack("{s:s}", "run_id", run_id));
	tr_buf_release(&err);
}

static void get_run(struct tr_api *api, struct tr_req *r)
{
	const char *id = arg_str(r->args, "run_id");
	if (!id) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE, "run_id is required");
		return;
	}
	json_t *rec = NULL;
	struct tr_buf err = TR_BUF_INIT;
	enum tr_err rc = tr_store_pipeline_run_get(api->store, id, &rec, &err);
	if (rc) {
		tr_req_error(r, rc, tr_buf_str(&err));
	} else {
		if (!arg_true(r->args, "include_spec"))
			json_object_del(rec, "spec_text");
		tr_req_json(r, 200, json_pack("{s:o}", "run", rec));
	}
	tr_buf_release(&err);
}

/* ---- the event stream ----------------------------------------------------------- */

/* Copies what is left of PENDING after *SENT into BUF (at most MAX bytes). */
static long drain(struct tr_buf *pending, size_t *sent, char *buf, size_t max)
{
	size_t n = pending->len - *sent;
	if (n > max)
		n = max;
	if (n)
		memcpy(buf, pending->data + *sent, n);
	*sent += n;
	return (long)n;
}

struct event_stream {
	struct tr_pipelines *p;
	char *run_id; /* NULL: every run */
	uint64_t after;
	struct tr_buf pending; /* SSE text not sent yet */
	size_t sent;
	int64_t last_ms;
};

static long events_read(void *ctx, char *buf, size_t max)
{
	struct event_stream *es = ctx;
	if (es->sent == es->pending.len) {
		tr_buf_reset(&es->pending);
		es->sent = 0;
		json_t *evs = tr_pipelines_events(es->p, es->run_id, es->after, 256, 0);
		size_t i;
		json_t *e;
		json_array_foreach(evs, i, e)
		{
			uint64_t seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
			if (seq > es->after)
				es->after = seq;
			char *text = json_dumps(e, JSON_COMPACT);
			tr_buf_appendf(&es->pending, "id: %llu\nevent: %s\ndata: %s\n\n",
				       (unsigned long long)seq,
				       json_string_value(json_object_get(e, "kind")), text);
			free(text);
		}
		json_decref(evs);
		int64_t now = tr_clock_now_ms();
		if (!es->pending.len && now - es->last_ms >= KEEPALIVE_MS)
			tr_buf_appends(&es->pending, ": keepalive\n\n");
		if (es->pending.len)
			es->last_ms = now;
	}
	return drain(&es->pending, &es->sent, buf, max);
}

static void events_free(void *ctx)
{
	struct event_stream *es = ctx;
	free(es->run_id);
	tr_buf_release(&es->pending);
	free(es);
}

static const struct tr_stream_source events_source = {events_read, events_free};

static void events(struct tr_api *api, struct tr_req *r)
{
	int64_t after = 0, wait_ms = 0;
	const char *last = tr_req_header(r, "Last-Event-ID"); /* an SSE reconnect */
	if (last && *last) {
		char *end;
		after = strtoll(last, &end, 10);
		if (*end || after < 0)
			after = 0;
	}
	if (!arg_int(r->args, "after", 0, INT64_MAX, &after) ||
	    !arg_int(r->args, "wait_ms", 0, 60000, &wait_ms)) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE,
			     "after must be a sequence number and wait_ms 0..60000");
		return;
	}
	if (!api->pipelines) {
		tr_req_error(r, TR_ERR_TEMPORARILY_UNAVAILABLE,
			     "pipelines are not running on this server");
		return;
	}
	const char *run_id = arg_str(r->args, "run_id");
	const char *accept = tr_req_header(r, "Accept");
	if (arg_true(r->args, "stream") || (accept && strstr(accept, "text/event-stream"))) {
		struct event_stream *es = tr_xcalloc(1, sizeof(*es));
		es->p = api->pipelines;
		es->run_id = run_id ? tr_xstrdup(run_id) : NULL;
		es->after = (uint64_t)after;
		tr_buf_init(&es->pending);
		es->last_ms = tr_clock_now_ms();
		/* the first bytes at once, so clients see the stream is open */
		tr_buf_appends(&es->pending, ": trellis events\n\n");
		tr_req_stream(r, 200, "text/event-stream", &events_source, es);
		return;
	}
	/* a poll; waiting here holds a worker, so it is short */
	json_t *evs = tr_pipelines_events(api->pipelines, run_id, (uint64_t)after, 1000,
					  (int)(wait_ms > 5000 ? 5000 : wait_ms));
	json_int_t lastseq = after;
	size_t i;
	json_t *e;
	json_array_foreach(evs, i, e)
	{
		json_int_t s = json_integer_value(json_object_get(e, "seq"));
		if (s > lastseq)
			lastseq = s;
	}
	tr_req_json(r, 200, json_pack("{s:o,s:I}", "events", evs, "last_seq", lastseq));
}

/* ---- task logs ----------------------------------------------------------------------- */

/* The log file of attempt ATTEMPT (0: the last) of task PATH in run RUN_ID:
 * its path in OUT, and whether that attempt has ended (*DONE). */
static enum tr_err log_path(struct tr_api *api, const char *run_id, const char *path,
			    int64_t attempt, struct tr_buf *out, bool *done, struct tr_buf *err)
{
	json_t *rec = NULL;
	enum tr_err rc = tr_store_pipeline_run_get(api->store, run_id, &rec, err);
	if (rc)
		return rc;
	json_t *t = json_object_get(json_object_get(rec, "tasks"), path);
	const char *dir = json_string_value(json_object_get(t, "attempt_dir"));
	int64_t last = json_integer_value(json_object_get(t, "attempts"));
	if (!t || !dir || !*dir || last < 1) {
		json_decref(rec);
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			       "task '%s' of run %s has no attempt (yet)", path, run_id);
	}
	if (attempt > last) {
		json_decref(rec);
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "task '%s' has %lld attempts",
			       path, (long long)last);
	}
	/* attempt folders are <task folder>/<n>: the last one is recorded */
	const char *slash = strrchr(dir, '/');
	if (attempt && attempt != last)
		tr_buf_appendf(out, "%.*s/%lld/log", (int)(slash - dir), dir, (long long)attempt);
	else
		tr_buf_appendf(out, "%s/log", dir);
	const char *state = json_string_value(json_object_get(t, "state"));
	*done = (attempt && attempt != last) || strcmp(state, "RUNNING");
	json_decref(rec);
	return TR_OK;
}

struct log_stream {
	struct tr_api *api;
	char *run_id, *path, *file;
	int64_t attempt;
	int fd;
	uint64_t offset;
	bool done; /* the attempt has ended: end at end of file */
	int64_t check_ms;
	int64_t last_ms;
	struct tr_buf pending;
	size_t sent;
	struct tr_buf partial; /* a line not yet complete */
};

/* Turns log bytes into SSE events, one per complete line. */
static void log_lines(struct log_stream *ls, const char *data, size_t n)
{
	tr_buf_append(&ls->partial, data, n);
	size_t start = 0;
	for (size_t i = 0; i < ls->partial.len; i++) {
		if (ls->partial.data[i] != '\n')
			continue;
		tr_buf_appends(&ls->pending, "data: ");
		for (size_t k = start; k < i; k++) /* no CR: it would end the SSE line */
			tr_buf_appendc(&ls->pending,
				       ls->partial.data[k] == '\r' ? ' ' : ls->partial.data[k]);
		tr_buf_appends(&ls->pending, "\n\n");
		start = i + 1;
	}
	memmove(ls->partial.data, ls->partial.data + start, ls->partial.len - start);
	ls->partial.len -= start;
}

static long log_read(void *ctx, char *buf, size_t max)
{
	struct log_stream *ls = ctx;
	if (ls->sent == ls->pending.len) {
		tr_buf_reset(&ls->pending);
		ls->sent = 0;
		int64_t now = tr_clock_now_ms();
		if (ls->fd < 0)
			ls->fd = open(ls->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		bool was_done = ls->done;
		if (!ls->done && now - ls->check_ms >= 500) { /* has the attempt ended? */
			struct tr_buf p = TR_BUF_INIT, e = TR_BUF_INIT;
			bool done = false;
			if (!log_path(ls->api, ls->run_id, ls->path, ls->attempt, &p, &done, &e))
				ls->done = done;
			tr_buf_release(&p);
			tr_buf_release(&e);
			ls->check_ms = now;
		}
		if (ls->fd >= 0) {
			char chunk[16384];
			ssize_t n;
			while ((n = pread(ls->fd, chunk, sizeof(chunk), (off_t)ls->offset)) > 0) {
				ls->offset += (uint64_t)n;
				log_lines(ls, chunk, (size_t)n);
				if (ls->pending.len > 64 * 1024)
					break;
			}
		}
		if (!ls->pending.len && was_done) { /* all read, and no more coming */
			if (ls->partial.len) {
				log_lines(ls, "\n", 1);
			} else {
				return -1;
			}
		}
		if (!ls->pending.len && now - ls->last_ms >= KEEPALIVE_MS)
			tr_buf_appends(&ls->pending, ": keepalive\n\n");
		if (ls->pending.len)
			ls->last_ms = now;
	}
	return drain(&ls->pending, &ls->sent, buf, max);
}

static void log_free(void *ctx)
{
	struct log_stream *ls = ctx;
	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->run_id);
	free(ls->path);
	free(ls->file);
	tr_buf_release(&ls->pending);
	tr_buf_release(&ls->partial);
	free(ls);
}

static const struct tr_stream_source log_source = {log_read, log_free};

static void task_log(struct tr_api *api, struct tr_req *r)
{
	const char *run_id = arg_str(r->args, "run_id"), *path = arg_str(r->args, "path");
	int64_t attempt = 0, offset = 0, max_bytes = 256 * 1024;
	if (!run_id || !path) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE, "run_id and path are required");
		return;
	}
	if (!arg_int(r->args, "attempt", 0, 1000000, &attempt) ||
	    !arg_int(r->args, "offset", 0, INT64_MAX, &offset) ||
	    !arg_int(r->args, "max_bytes", 1, LOG_CHUNK_MAX, &max_bytes)) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE,
			     "attempt, offset and max_bytes must be numbers in range");
		return;
	}
	struct tr_buf file = TR_BUF_INIT, err = TR_BUF_INIT;
	bool done = false;
	enum tr_err rc = log_path(api, run_id, path, attempt, &file, &done, &err);
	if (rc) {
		tr_req_error(r, rc, tr_buf_str(&err));
		goto out;
	}
	const char *accept = tr_req_header(r, "Accept");
	if (arg_true(r->args, "stream") || (accept && strstr(accept, "text/event-stream"))) {
		struct log_stream *ls = tr_xcalloc(1, sizeof(*ls));
		ls->api = api;
		ls->run_id = tr_xstrdup(run_id);
		ls->path = tr_xstrdup(path);
		ls->file = tr_buf_detach(&file);
		ls->attempt = attempt;
		ls->fd = -1;
		ls->offset = (uint64_t)offset;
		ls->done = done;
		ls->last_ms = ls->check_ms = tr_clock_now_ms();
		tr_buf_init(&ls->pending);
		tr_buf_init(&ls->partial);
		tr_buf_appends(&ls->pending, ": trellis log\n\n");
		tr_req_stream(r, 200, "text/event-stream", &log_source, ls);
		goto out;
	}
	int fd = open(tr_buf_str(&file), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct tr_buf data = TR_BUF_INIT;
	if (fd >= 0) {
		tr_buf_grow(&data, (size_t)max_bytes);
		ssize_t n = pread(fd, data.data, (size_t)max_bytes, (off_t)offset);
		if (n > 0)
			data.len = (size_t)n;
		close(fd);
	}
	/* text as it is where it is valid UTF-8; jansson refuses the rest */
	json_t *text = json_stringn(data.data ? data.data : "", data.len);
	if (!text) {
		for (size_t i = 0; i < data.len; i++)
			if ((unsigned char)data.data[i] >= 0x80)
				data.data[i] = '?';
		text = json_stringn(data.data ? data.data : "", data.len);
	}
	tr_req_json(r, 200,
		    json_pack("{s:o,s:I,s:b}", "data", text, "offset",
			      (json_int_t)(offset + (int64_t)data.len), "done",
			      done && data.len < (size_t)max_bytes));
	tr_buf_release(&data);
out:
	tr_buf_release(&file);
	tr_buf_release(&err);
}

/* ---- one multiplexed stream: a run's events and one task's log --------------------- */

#define MUX_PENDING_MAX	 (64 * 1024) /* SSE text made per round, about */
#define MUX_LINE_MAX	 (16 * 1024) /* a longer log line is cut */
#define MUX_CHECK_MS	 500
#define MUX_END_GRACE_MS 1000

struct mux_stream {
	struct tr_api *api;
	char *run_id; /* NULL: every run's run events */
	uint64_t after;
	char *log_task;	     /* NULL: no log */
	int64_t log_attempt; /* asked for; 0: the last one when it starts */
	char *log_file;	     /* NULL: the attempt has not started (yet) */
	int64_t attempt;     /* the attempt being followed */
	int fd;
	uint64_t offset;   /* read from the file */
	uint64_t consumed; /* sent as complete lines */
	bool log_done;	   /* the attempt has ended: the file is complete */
	bool log_over;	   /* log_end sent (or no log asked for) */
	struct tr_buf partial;
	int64_t check_ms;
	int64_t terminal_ms; /* when the run was first seen ended; 0: not yet */
	bool terminal_event;
	char state[32];
	bool ending; /* `end` queued: close when sent */
	struct tr_buf pending;
	size_t sent;
	int64_t last_ms;
};

static bool run_ended(const char *state)
{
	return !strcmp(state, "SUCCEEDED") || !strcmp(state, "FAILED") ||
	       !strcmp(state, "CANCELED");
}

/* Appends an SSE event NAME with DATA (stolen) and the stream's position as id. */
static void mux_event(struct mux_stream *ms, const char *name, json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT);
	tr_buf_appendf(&ms->pending, "id: %llu:%llu\nevent: %s\ndata: %s\n\n",
		       (unsigned long long)ms->after, (unsigned long long)ms->consumed, name,
		       text ? text : "{}");
	free(text);
	json_decref(data);
}

static void mux_line(struct mux_stream *ms, const char *p, size_t n)
{
	json_t *line = json_stringn(p, n);
	if (!line) { /* not UTF-8: the bytes above ASCII become '?' */
		char *c = tr_xmalloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			c[i] = (unsigned char)p[i] >= 0x80 ? '?' : p[i];
		line = json_stringn(c, n);
		free(c);
	}
	mux_event(ms, "log",
		  json_pack("{s:s,s:I,s:o}", "path", ms->log_task, "attempt",
			    (json_int_t)ms->attempt, "line", line ? line : json_string("")));
}

/* Log bytes into `log` events, one per complete line (or MUX_LINE_MAX bytes). */
static void mux_log_bytes(struct mux_stream *ms, const char *data, size_t n, bool flush)
{
	tr_buf_append(&ms->partial, data, n);
	size_t start = 0;
	for (size_t i = 0; i < ms->partial.len; i++) {
		bool nl = ms->partial.data[i] == '\n';
		if (!nl && i - start + 1 < MUX_LINE_MAX)
			continue;
		size_t end = i;
		if (end > start && ms->partial.data[end - 1] == '\r')
			end--;
		ms->consumed += i + 1 - start;
		mux_line(ms, ms->partial.data + start, nl ? end - start : i + 1 - start);
		start = i + 1;
	}
	if (flush && start < ms->partial.len) {
		ms->consumed += ms->partial.len - start;
		mux_line(ms, ms->partial.data + start, ms->partial.len - start);
		start = ms->partial.len;
	}
	memmove(ms->partial.data, ms->partial.data + start, ms->partial.len - start);
	ms->partial.len -= start;
}

/* Reads the run's record: its state, and where the followed log is. */
static void mux_check(struct mux_stream *ms, int64_t now)
{
	json_t *rec = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_store_pipeline_run_get(ms->api->store, ms->run_id, &rec, &err)) {
		tr_buf_release(&err);
		return;
	}
	tr_buf_release(&err);
	const char *state = json_string_value(json_object_get(rec, "state"));
	if (state) {
		snprintf(ms->state, sizeof(ms->state), "%s", state);
		if (run_ended(state) && !ms->terminal_ms)
			ms->terminal_ms = now;
		else if (!run_ended(state))
			ms->terminal_ms = 0;
	}
	if (ms->log_task && !ms->log_over) {
		json_t *t = json_object_get(json_object_get(rec, "tasks"), ms->log_task);
		const char *dir = json_string_value(json_object_get(t, "attempt_dir"));
		int64_t last = json_integer_value(json_object_get(t, "attempts"));
		const char *tstate = json_string_value(json_object_get(t, "state"));
		if (!ms->log_file && dir && *dir && last >= 1 && ms->log_attempt <= last) {
			ms->attempt = ms->log_attempt ? ms->log_attempt : last;
			const char *slash = strrchr(dir, '/');
			struct tr_buf f = TR_BUF_INIT;
			if (ms->attempt != last && slash)
				tr_buf_appendf(&f, "%.*s/%lld/log", (int)(slash - dir), dir,
					       (long long)ms->attempt);
			else
				tr_buf_appendf(&f, "%s/log", dir);
			ms->log_file = tr_buf_detach(&f);
		}
		if (ms->log_file)
			ms->log_done = ms->attempt != last || !tstate || strcmp(tstate, "RUNNING");
	}
	json_decref(rec);
}

static long mux_read(void *ctx, char *buf, size_t max)
{
	struct mux_stream *ms = ctx;
	if (ms->sent < ms->pending.len)
		return drain(&ms->pending, &ms->sent, buf, max);
	if (ms->ending)
		return -1;
	tr_buf_reset(&ms->pending);
	ms->sent = 0;
	int64_t now = tr_clock_now_ms();
	bool was_done = ms->log_done;
	if (ms->run_id && now - ms->check_ms >= MUX_CHECK_MS) {
		mux_check(ms, now);
		ms->check_ms = now;
	}
	/* the run's events */
	json_t *evs = tr_pipelines_events(ms->api->pipelines, ms->run_id, ms->after, 256, 0);
	size_t i;
	json_t *e;
	json_array_foreach(evs, i, e)
	{
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
		if (seq > ms->after)
			ms->after = seq;
		const char *kind = json_string_value(json_object_get(e, "kind"));
		if (!kind || (!ms->run_id && strcmp(kind, "run")))
			continue; /* the feed of every run carries run states only */
		if (ms->run_id && !strcmp(kind, "run") &&
		    run_ended(json_string_value(json_object_get(e, "state"))))
			ms->terminal_event = true;
		mux_event(ms, kind, json_incref(e));
	}
	json_decref(evs);
	/* the task's log */
	if (ms->log_file && !ms->log_over) {
		if (ms->fd < 0)
			ms->fd = open(ms->log_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		bool more = false;
		if (ms->fd >= 0) {
			char chunk[16384];
			ssize_t n;
			while ((n = pread(ms->fd, chunk, sizeof(chunk), (off_t)ms->offset)) > 0) {
				ms->offset += (uint64_t)n;
				mux_log_bytes(ms, chunk, (size_t)n, false);
				if (ms->pending.len > MUX_PENDING_MAX) {
					more = true;
					break;
				}
			}
		}
		if (!more && was_done) { /* all read, and no more coming */
			mux_log_bytes(ms, "", 0, true);
			ms->log_over = true;
			mux_event(ms, "log_end",
				  json_pack("{s:s,s:I}", "path", ms->log_task, "attempt",
					    (json_int_t)ms->attempt));
		}
	}
	/* the end: the run has ended, its events are sent, and the log too */
	if (ms->run_id && ms->terminal_ms && !json_array_size(evs) &&
	    (ms->terminal_event || now - ms->terminal_ms >= MUX_END_GRACE_MS) &&
	    (ms->log_over || !ms->log_file)) {
		mux_event(ms, "end",
			  json_pack("{s:s,s:s}", "run_id", ms->run_id, "state", ms->state));
		ms->ending = true;
	}
	if (!ms->pending.len && now - ms->last_ms >= KEEPALIVE_MS)
		tr_buf_appends(&ms->pending, ": keepalive\n\n");
	if (ms->pending.len)
		ms->last_ms = now;
	return drain(&ms->pending, &ms->sent, buf, max);
}

static void mux_free(void *ctx)
{
	struct mux_stream *ms = ctx;
	if (ms->fd >= 0)
		close(ms->fd);
	free(ms->run_id);
	free(ms->log_task);
	free(ms->log_file);
	tr_buf_release(&ms->partial);
	tr_buf_release(&ms->pending);
	free(ms);
}

static const struct tr_stream_source mux_source = {mux_read, mux_free};

/* "SEQ" or "SEQ:OFFSET" (an SSE id this stream sent). */
static bool parse_position(const char *s, int64_t *seq, int64_t *offset)
{
	char *end;
	errno = 0;
	long long a = strtoll(s, &end, 10);
	if (errno || end == s || a < 0)
		return false;
	long long b = *offset;
	if (*end == ':') {
		const char *o = end + 1;
		b = strtoll(o, &end, 10);
		if (errno || end == o || b < 0)
			return false;
	}
	if (*end)
		return false;
	*seq = a;
	*offset = b;
	return true;
}

static void stream(struct tr_api *api, struct tr_req *r)
{
	int64_t after = 0, log_attempt = 0, log_offset = 0;
	const char *run_id = arg_str(r->args, "run_id"), *log_task = arg_str(r->args, "log_task");
	bool from_now = !json_object_get(r->args, "after"); /* the feed, from now on */
	if (!arg_int(r->args, "after", 0, INT64_MAX, &after) ||
	    !arg_int(r->args, "log_attempt", 0, 1000000, &log_attempt) ||
	    !arg_int(r->args, "log_offset", 0, INT64_MAX, &log_offset)) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE,
			     "after, log_attempt and log_offset must be numbers in range");
		return;
	}
	const char *last = tr_req_header(r, "Last-Event-ID"); /* a reconnect resumes */
	if (last && *last && !parse_position(last, &after, &log_offset)) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Last-Event-ID must be an id this stream sent (SEQ:OFFSET)");
		return;
	}
	if (last && *last)
		from_now = false;
	if (log_task && !run_id) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE, "log_task needs run_id");
		return;
	}
	if (log_task && strlen(log_task) > 1024) {
		tr_req_error(r, TR_ERR_INVALID_PARAMETER_VALUE, "log_task is too long");
		return;
	}
	if (!api->pipelines) {
		tr_req_error(r, TR_ERR_TEMPORARILY_UNAVAILABLE,
			     "pipelines are not running on this server");
		return;
	}
	if (run_id) {
		json_t *rec = NULL;
		struct tr_buf err = TR_BUF_INIT;
		enum tr_err rc = tr_store_pipeline_run_get(api->store, run_id, &rec, &err);
		json_decref(rec);
		if (rc) {
			tr_req_error(r, rc, tr_buf_str(&err));
			tr_buf_release(&err);
			return;
		}
		tr_buf_release(&err);
	}
	struct mux_stream *ms = tr_xcalloc(1, sizeof(*ms));
	ms->api = api;
	ms->run_id = run_id ? tr_xstrdup(run_id) : NULL;
	ms->after = from_now && !run_id ? tr_pipelines_last_seq(api->pipelines) : (uint64_t)after;
	ms->log_task = log_task ? tr_xstrdup(log_task) : NULL;
	ms->log_attempt = log_attempt;
	ms->log_over = !log_task;
	ms->fd = -1;
	ms->offset = ms->consumed = (uint64_t)log_offset;
	tr_buf_init(&ms->partial);
	tr_buf_init(&ms->pending);
	ms->last_ms = tr_clock_now_ms();
	if (run_id)
		mux_check(ms, ms->last_ms);
	ms->check_ms = ms->last_ms;
	/* the first bytes at once, so clients see the stream is open; the
	 * position (an id without data) is where a reconnect resumes */
	tr_buf_appendf(&ms->pending, "retry: 2000\nid: %llu:%llu\n\n",
		       (unsigned long long)ms->after, (unsigned long long)ms->consumed);
	tr_req_stream(r, 200, "text/event-stream", &mux_source, ms);
}

bool tr_api_trellis_pipelines(struct tr_api *api, struct tr_req *r)
{
	static const char *const prefixes[] = {"/api/2.0/trellis/pipelines/",
					       "/ajax-api/2.0/trellis/pipelines/"};
	const char *sub = NULL;
	for (size_t i = 0; i < 2 && !sub; i++)
		if (!strncmp(r->path, prefixes[i], strlen(prefixes[i])))
			sub = r->path + strlen(prefixes[i]);
	if (!sub)
		return false;
	bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
	r->route = "trellis.pipelines";
	if (!strcmp(sub, "validate") && post)
		validate(r);
	else if (!strcmp(sub, "runs") && post)
		submit(api, r);
	else if (!strcmp(sub, "runs/get") && get)
		get_run(api, r);
	else if (!strcmp(sub, "runs/events") && get)
		events(api, r);
	else if (!strcmp(sub, "tasks/log") && get)
		task_log(api, r);
	else if (!strcmp(sub, "stream") && get)
		stream(api, r);
	else if (!strcmp(sub, "validate") || !strcmp(sub, "runs") || !strcmp(sub, "runs/get") ||
		 !strcmp(sub, "runs/events") || !strcmp(sub, "tasks/log") || !strcmp(sub, "stream"))
		tr_req_error(r, TR_ERR_METHOD_NOT_ALLOWED,
			     "The method is not allowed for the requested URL.");
	else
		tr_req_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "No API endpoint at this path.");
	return true;
}
