/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis run PIPELINE.yaml [-p name=value ...]`: loads a KFP-compiled or
 * Trellis YAML pipeline, runs it on this machine through the local executor
 * and shows progress: one line per task state change (timestamped), then a
 * summary with outputs and failures; --json prints the machine-readable
 * summary instead. Exit status 0 only when the pipeline succeeded; 1 when it
 * failed or was cancelled; 2 for a usage or load error.
 */
#include "cmd.h"
#include "client/http_client.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/ids.h"
#include "exec/exec.h"
#include "pipeline/diag.h"
#include "pipeline/digest.h"
#include "pipeline/recorder.h"
#include "pipeline/run.h"
#include "pipeline/spec.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int usage(FILE *out, int code)
{
	fprintf(
	    out,
	    "usage: trellis run PIPELINE.yaml [-p NAME=VALUE ...] [options]\n"
	    "       trellis run --resume RUN_ID [options]\n"
	    "       trellis run --server URL PIPELINE.yaml [-p NAME=VALUE ...] [--experiment-id "
	    "ID]\n"
	    "                   [--run-name NAME] [--no-cache] [--json]\n\n"
	    "Runs a pipeline compiled by the kfp SDK (KFP v2 IR YAML) or written in\n"
	    "Trellis YAML (docs/pipelines.md) on this machine, or with --server on a\n"
	    "running `trellis server`, showing the same progress and summary.\n\n"
	    "  -p, --param NAME=VALUE       a pipeline parameter (repeatable); typed by the\n"
	    "                               pipeline's declaration (ints, floats, bools, JSON\n"
	    "                               lists and structs)\n"
	    "  --parallelism N              running tasks at most (default: number of cores)\n"
	    "  --keep-going                 after a failure, still start independent tasks\n"
	    "  --python PATH                the python3 steps use (its folder goes first on\n"
	    "                               their PATH)\n"
	    "  --artifacts-destination DIR  where run folders go: DIR/pipelines/<run id>/\n"
	    "                               (default %s)\n"
	    "  --run-id ID                  the run's id (default: a new one)\n"
	    "  --step-user USER             when root, steps run as USER (default nobody;\n"
	    "                               \"\" runs them as root)\n"
	    "  --backend-store-uri URI      the store recording runs, tasks and the task cache\n"
	    "                               (default %s)\n"
	    "  --no-cache                   run every task, even when a cached result exists\n"
	    "  --resume RUN_ID              finish a killed or failed run: tasks that succeeded\n"
	    "                               keep their outputs and are not run again\n"
	    "  --stats                      print a histogram of the scheduler's overhead\n"
	    "  --json                       print a JSON summary instead of the progress view\n\n"
	    "On a server (the pipeline is checked here first, then submitted):\n"
	    "  --server URL                 the server, e.g. http://127.0.0.1:5000; only -p,\n"
	    "                               --no-cache and --json of the options above apply\n"
	    "  --experiment-id ID           the MLflow experiment of the run (default \"0\")\n"
	    "  --run-name NAME              the run's display name\n"
	    "Ctrl-C asks the server to stop the run and waits until it is canceled;\n"
	    "a second Ctrl-C leaves at once (exit 130), the run going on there.\n",
	    TR_DEFAULT_ARTIFACTS, TR_DEFAULT_STORE_URI);
	return code;
}

/* NAME=VALUE typed by the root input's declaration, into PARAMS. */
static bool add_param(const struct tr_pipeline_spec *spec, json_t *params, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		fprintf(stderr, "trellis run: -p wants NAME=VALUE, got '%s'\n", arg);
		return false;
	}
	char *name = strndup(arg, (size_t)(eq - arg));
	const char *text = eq + 1;
	const struct tr_pipeline_io *io =
	    tr_pipeline_component_input_find(tr_pipeline_root(spec), name);
	json_t *v = NULL;
	if (!io || io->artifact) {
		fprintf(stderr, "trellis run: the pipeline has no parameter '%s'\n", name);
		free(name);
		return false;
	}
	switch (io->type) {
	case TR_PARAM_STRING:
		v = json_string(text);
		break;
	case TR_PARAM_BOOL:
		if (!strcasecmp(text, "true") || !strcmp(text, "1"))
			v = json_true();
		else if (!strcasecmp(text, "false") || !strcmp(text, "0"))
			v = json_false();
		break;
	default:
		v = json_loads(text, JSON_DECODE_ANY, NULL);
		if (io->type == TR_PARAM_INT && !json_is_integer(v)) {
			json_decref(v);
			v = NULL;
		} else if (io->type == TR_PARAM_DOUBLE && !json_is_number(v)) {
			json_decref(v);
			v = NULL;
		} else if (io->type == TR_PARAM_LIST && !json_is_array(v)) {
			json_decref(v);
			v = NULL;
		} else if (io->type == TR_PARAM_STRUCT && !json_is_object(v)) {
			json_decref(v);
			v = NULL;
		}
		break;
	}
	if (!v) {
		fprintf(stderr, "trellis run: parameter '%s' must be %s, got '%s'\n", name,
			tr_param_type_name(io->type), text);
		free(name);
		return false;
	}
	json_object_set_new(params, name, v);
	free(name);
	return true;
}

/* Loads FILE into *SPEC (free with tr_pipeline_spec_free()), printing its
 * problems with file:line:col to stderr. */
static enum tr_err load_pipeline(const char *file, struct tr_pipeline_spec **spec)
{
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = file;
	enum tr_err rc = tr_pipeline_load_file(file, NULL, spec, &d);
	struct tr_buf msg = TR_BUF_INIT;
	tr_diags_format(&d, &msg);
	fputs(tr_buf_str(&msg), stderr);
	tr_buf_release(&msg);
	tr_diags_release(&d);
	return rc;
}

/* Progress: on a terminal a compact live view redrawn in place (counts per
 * state, the running tasks with their durations, retries); otherwise one
 * timestamped line per state change. */
struct live_task {
	char *path;
	enum tr_task_state state;
	int64_t since_ms;
	bool retried;
};

struct progress {
	bool quiet, tty;
	struct live_task *v;
	size_t n, cap;
	int drawn; /* lines of the last redraw */
	int64_t started_ms, drawn_ms;
	size_t counts[TR_TASK_CANCELLED + 1];
	size_t cached, retries;
};

static struct live_task *live_find(struct progress *p, const char *path)
{
	for (size_t i = p->n; i-- > 0;)
		if (!strcmp(p->v[i].path, path))
			return &p->v[i];
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		if (!p->v)
			abort();
	}
	p->v[p->n] = (struct live_task){.path = strdup(path), .state = TR_TASK_PENDING};
	p->counts[TR_TASK_PENDING]++;
	return &p->v[p->n++];
}

static void redraw(struct progress *p, bool final)
{
	int64_t now = tr_clock_now_ms();
	if (!final && now - p->drawn_ms < 100)
		return; /* at most ten redraws a second */
	p->drawn_ms = now;
	if (p->drawn)
		fprintf(stderr, "\033[%dF\033[J", p->drawn);
	int lines = 0;
	fprintf(stderr,
		"\033[1m%zu running\033[0m  %zu succeeded  %zu failed  %zu skipped  %zu cached  "
		"%zu retried  %.1fs\n",
		p->counts[TR_TASK_RUNNING], p->counts[TR_TASK_SUCCEEDED], p->counts[TR_TASK_FAILED],
		p->counts[TR_TASK_SKIPPED] + p->counts[TR_TASK_CANCELLED], p->cached, p->retries,
		(double)(now - p->started_ms) / 1000.0);
	lines++;
	size_t shown = 0;
	for (size_t i = 0; i < p->n && !final; i++) {
		struct live_task *t = &p->v[i];
		if (t->state != TR_TASK_RUNNING)
			continue;
		if (++shown > 8) {
			fprintf(stderr, "  ... and %zu more running\n",
				p->counts[TR_TASK_RUNNING] - 8);
			lines++;
			break;
		}
		fprintf(stderr, "  \033[36m>\033[0m %-48s %6.1fs%s\n", t->path,
			(double)(now - t->since_ms) / 1000.0, t->retried ? "  (retry)" : "");
		lines++;
	}
	p->drawn = final ? 0 : lines;
}

static void on_change(void *ctx, const char *path, enum tr_task_state st, const char *message)
{
	struct progress *p = ctx;
	if (p->quiet)
		return;
	if (!p->tty) {
		if (st == TR_TASK_PENDING)
			return;
		char ts[16];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		fprintf(stderr, "%s  %-10s %s%s%s\n", ts, tr_task_state_name(st), path,
			message ? "  " : "", message ? message : "");
		return;
	}
	struct live_task *t = live_find(p, path);
	p->counts[t->state]--;
	if (t->state == TR_TASK_RUNNING && st == TR_TASK_PENDING) {
		t->retried = true;
		p->retries++;
	}
	if (st == TR_TASK_SUCCEEDED && message && !strcmp(message, "cached"))
		p->cached++;
	t->state = st;
	t->since_ms = tr_clock_now_ms();
	p->counts[st]++;
	if (st == TR_TASK_FAILED) { /* failures stay on screen, above the live view */
		if (p->drawn)
			fprintf(stderr, "\033[%dF\033[J", p->drawn);
		p->drawn = 0;
		fprintf(stderr, "\033[31mFAILED\033[0m %s%s%s\n", path, message ? "  " : "",
			message ? message : "");
	}
	redraw(p, false);
}

static void progress_end(struct progress *p)
{
	if (p->tty && !p->quiet && p->n)
		redraw(p, true);
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].path);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

/* When steps run as an unprivileged user (trellis run as root), every folder
 * above the run folders must let others through, or each step fails with a
 * bare "Permission denied": say so up front. */
static bool reachable_by_steps(const char *root, const char *step_user)
{
	if (geteuid() != 0 || (step_user && !*step_user))
		return true;
	char *p = strdup(root);
	bool ok = true;
	for (char *slash = strrchr(p, '/'); ok && slash; slash = strrchr(p, '/')) {
		struct stat sb;
		if (!stat(*p ? p : "/", &sb) && !(sb.st_mode & S_IXOTH)) {
			fprintf(stderr,
				"trellis run: steps run as user '%s' and cannot reach %s: folder "
				"%s is mode %03o; choose an --artifacts-destination they can reach "
				"(or --step-user \"\" to run steps as root)\n",
				step_user ? step_user : "nobody", root, *p ? p : "/",
				(unsigned)(sb.st_mode & 0777));
			ok = false;
		}
		*slash = 0;
	}
	free(p);
	return ok;
}

/* --stats: a histogram of the scheduler's per-attempt overhead. */
static void print_stats(const struct tr_run *run)
{
	size_t n;
	const int64_t *v = tr_run_overheads(run, &n);
	static const int64_t edges[] = {100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000};
	size_t counts[sizeof(edges) / sizeof(edges[0]) + 1] = {0};
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		size_t b = 0;
		while (b < sizeof(edges) / sizeof(edges[0]) && v[i] >= edges[b])
			b++;
		counts[b]++;
		sum += v[i];
	}
	fprintf(
	    stderr,
	    "scheduler overhead (inputs ready -> spawn returned), %zu attempts, mean %.3f ms:\n", n,
	    n ? (double)sum / (double)n / 1000.0 : 0.0);
	for (size_t b = 0; b <= sizeof(edges) / sizeof(edges[0]); b++) {
		if (b < sizeof(edges) / sizeof(edges[0]))
			fprintf(stderr, "  < %8.2f ms %8zu\n", (double)edges[b] / 1000.0,
				counts[b]);
		else
			fprintf(stderr, "  >=%8.2f ms %8zu\n", (double)edges[b - 1] / 1000.0,
				counts[b]);
	}
}

static void print_summary(json_t *sum)
{
	json_t *tasks = json_object_get(sum, "tasks");
	size_t i;
	json_t *t;
	printf("run %s: %s\n", json_string_value(json_object_get(sum, "run_id")),
	       json_string_value(json_object_get(sum, "state")));
	json_array_foreach(tasks, i, t)
	{
		int64_t s = json_integer_value(json_object_get(t, "start_ms"));
		int64_t e = json_integer_value(json_object_get(t, "end_ms"));
		int attempts = (int)json_integer_value(json_object_get(t, "attempts"));
		printf("  %-10s %-40s", json_string_value(json_object_get(t, "state")),
		       json_string_value(json_object_get(t, "path")));
		if (s && e)
			printf(" %7.2fs", (double)(e - s) / 1000.0);
		if (attempts > 1)
			printf("  (%d attempts)", attempts);
		if (json_is_true(json_object_get(t, "cached")))
			printf("  (cached)");
		const char *msg = json_string_value(json_object_get(t, "message"));
		if (msg && strcmp(json_string_value(json_object_get(t, "state")), "SUCCEEDED"))
			printf("  %s", msg);
		printf("\n");
	}
	json_t *outs = json_object_get(sum, "outputs");
	if (json_object_size(json_object_get(outs, "parameters")) ||
	    json_object_size(json_object_get(outs, "artifacts"))) {
		char *text = json_dumps(outs, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("outputs: %s\n", text);
		free(text);
	}
}

/* ---- --server: the run on a trellis server ------------------------------------------ */

/* The first SIGINT/SIGTERM asks the server to stop the run (the follow loop
 * sees the count); a second one leaves at once, the run going on there. */
static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	(void)sig;
	if (++interrupts > 1) {
		static const char msg[] =
		    "\ntrellis run: interrupted again; the run keeps its state on the server\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(130);
	}
}

/* A server-given string fit for a terminal: control characters become '?'.
 * Returns a new string or NULL when S is NULL or empty; free() it. */
static char *clean(const char *s)
{
	if (!s || !*s)
		return NULL;
	char *c = strdup(s);
	if (!c)
		abort();
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

/* Run ids go into URLs: only what the server makes (hex, dashes). */
static bool good_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && !(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static bool task_state_parse(const char *s, enum tr_task_state *out)
{
	if (!s)
		return false;
	for (int i = TR_TASK_PENDING; i <= TR_TASK_CANCELLED; i++)
		if (!strcmp(s, tr_task_state_name((enum tr_task_state)i))) {
			*out = (enum tr_task_state)i;
			return true;
		}
	if (!strcmp(s, "CANCELED")) {
		*out = TR_TASK_CANCELLED;
		return true;
	}
	return false;
}

static bool run_state_final(const char *s)
{
	return s && (!strcmp(s, "SUCCEEDED") || !strcmp(s, "FAILED") || !strcmp(s, "CANCELED"));
}

struct remote {
	struct tr_client *c;
	const char *url; /* the server, without a final slash */
	char run_id[64];
	struct progress *prog;
	json_t *shown; /* task path -> the state last shown */
};

/* One exchange expecting a 2xx JSON object: *OUT gets it (json_decref() it).
 * A transport failure is IO_ERROR ("cannot reach the server at URL: ..."),
 * an error answer or a malformed one BAD_REQUEST, with the detail in ERR. */
static enum tr_err call(struct remote *r, const char *method, const char *url, json_t *body,
			long timeout_ms, json_t **out, struct tr_buf *err)
{
	long status = 0;
	json_t *ans = NULL;
	struct tr_buf e = TR_BUF_INIT;
	enum tr_err rc = tr_client_request(r->c, method, url, body, timeout_ms, &status, &ans, &e);
	if (rc == TR_ERR_IO_ERROR)
		rc = tr_fail(err, rc, "cannot reach the server at %s: %s", r->url, tr_buf_str(&e));
	else if (rc)
		rc = tr_fail(err, TR_ERR_BAD_REQUEST, "bad answer from %s: %s", r->url,
			     tr_buf_str(&e));
	else if (status < 200 || status > 299) {
		tr_buf_reset(&e);
		tr_client_error_text(status, ans, &e);
		char *text = clean(tr_buf_str(&e));
		rc = tr_fail(err, TR_ERR_BAD_REQUEST, "the server answered: %s", text ? text : "?");
		free(text);
	} else if (!json_is_object(ans))
		rc = tr_fail(err, TR_ERR_BAD_REQUEST, "the server's answer is not a JSON object");
	tr_buf_release(&e);
	if (rc)
		json_decref(ans);
	else
		*out = ans;
	return rc;
}

/* Shows a task's state change, unless it is already shown or stale (a task
 * that ended does not go back). */
static void show_task(struct remote *r, const char *path, const char *state, const char *message)
{
	enum tr_task_state st, prev;
	if (!path || !*path || !task_state_parse(state, &st))
		return;
	const char *was = json_string_value(json_object_get(r->shown, path));
	if (was && task_state_parse(was, &prev) && (prev == st || prev >= TR_TASK_SUCCEEDED))
		return;
	json_object_set_new(r->shown, path, json_string(tr_task_state_name(st)));
	char *cpath = clean(path), *cmsg = clean(message);
	on_change(r->prog, cpath, st, cmsg);
	free(cpath);
	free(cmsg);
}

/* The run as the server has it (GET runs/get): *RUN gets its record. */
static enum tr_err get_run(struct remote *r, json_t **run, struct tr_buf *err)
{
	struct tr_buf u = TR_BUF_INIT;
	tr_buf_appendf(&u, "%s/api/2.0/trellis/pipelines/runs/get?run_id=%s", r->url, r->run_id);
	json_t *ans = NULL;
	enum tr_err rc = call(r, "GET", tr_buf_str(&u), NULL, 30000, &ans, err);
	tr_buf_release(&u);
	if (rc)
		return rc;
	json_t *rec = json_object_get(ans, "run");
	if (!json_is_object(rec) || !json_is_object(json_object_get(rec, "tasks")) ||
	    !json_is_string(json_object_get(rec, "state"))) {
		json_decref(ans);
		return tr_fail(err, TR_ERR_BAD_REQUEST, "the server's run record is malformed");
	}
	*run = json_incref(rec);
	json_decref(ans);
	return TR_OK;
}

/* After lost events: shows the tasks' states from the run record. *FINAL
 * gets the run's state when it has ended (a new string; free() it). */
static enum tr_err resync(struct remote *r, char **final, struct tr_buf *err)
{
	json_t *run = NULL;
	enum tr_err rc = get_run(r, &run, err);
	if (rc)
		return rc;
	const char *path;
	json_t *t;
	json_object_foreach(json_object_get(run, "tasks"), path, t)
	{
		show_task(r, path, json_string_value(json_object_get(t, "state")),
			  json_string_value(json_object_get(t, "message")));
	}
	const char *state = json_string_value(json_object_get(run, "state"));
	if (run_state_final(state) && !*final)
		*final = clean(state);
	json_decref(run);
	return TR_OK;
}

static int64_t int_or0(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int by_start(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t sx = int_or0(x, "start_ms"), sy = int_or0(y, "start_ms");
	if (!sx != !sy) /* tasks that never started last */
		return sx ? -1 : 1;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "path")),
		      json_string_value(json_object_get(y, "path")));
}

/* The summary of a server's run record in the shape of tr_run_summary():
 * {"run_id", "state", "tasks": [{"path", "state", "attempts", "cached",
 * "start_ms"?, "end_ms"?, "message"?}]} in start order, every string
 * cleaned. Returns a new object. */
static json_t *remote_summary(const char *run_id, const char *state, json_t *run)
{
	json_t *tasks = json_object_get(run, "tasks");
	size_t n = 0, cap = json_object_size(tasks);
	json_t **v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		abort();
	const char *path;
	json_t *t;
	json_object_foreach(tasks, path, t)
	{
		if (!json_is_object(t) || n == cap)
			continue;
		char *cpath = clean(path),
		     *cstate = clean(json_string_value(json_object_get(t, "state")));
		char *cmsg = clean(json_string_value(json_object_get(t, "message")));
		json_t *o = json_pack("{s:s,s:s,s:I,s:b}", "path", cpath ? cpath : "?", "state",
				      cstate ? cstate : "UNKNOWN", "attempts",
				      (json_int_t)int_or0(t, "attempts"), "cached",
				      json_is_true(json_object_get(t, "cached")));
		if (int_or0(t, "start_ms") > 0)
			json_object_set_new(o, "start_ms", json_integer(int_or0(t, "start_ms")));
		if (int_or0(t, "end_ms") > 0)
			json_object_set_new(o, "end_ms", json_integer(int_or0(t, "end_ms")));
		if (cmsg)
			json_object_set_new(o, "message", json_string(cmsg));
		free(cpath);
		free(cstate);
		free(cmsg);
		if (o)
			v[n++] = o;
	}
	qsort(v, n, sizeof(*v), by_start);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
	return json_pack("{s:s,s:s,s:o}", "run_id", run_id, "state", state, "tasks", arr);
}

/* FILE's text into OUT; a new string through the buffer. */
static bool read_text(const char *file, struct tr_buf *out)
{
	FILE *f = fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "trellis run: %s: %s\n", file, strerror(errno));
		return false;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tr_buf_append(out, chunk, n);
	bool ok = !ferror(f);
	if (!ok)
		fprintf(stderr, "trellis run: %s: %s\n", file, strerror(errno));
	fclose(f);
	return ok;
}

struct server_options {
	const char *url, *file, *experiment_id, *run_name;
	const char **raw_params;
	size_t n_params;
	bool no_cache, as_json;
};

/* `trellis run --server URL FILE`: loads and checks FILE here, submits it,
 * follows its events into the progress view until it ends, then prints the
 * server's summary. Returns the exit code. */
static int run_on_server(const struct server_options *so)
{
	int code = 2;
	struct tr_pipeline_spec *spec = NULL;
	json_t *params = json_object(), *body = NULL, *ans = NULL, *run = NULL;
	struct tr_buf err = TR_BUF_INIT, text = TR_BUF_INIT, url = TR_BUF_INIT, u = TR_BUF_INIT;
	struct progress prog = {0};
	struct remote r = {.prog = &prog, .shown = json_object()};
	char *final = NULL;
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	bool handlers = false;

	if (load_pipeline(so->file, &spec))
		goto out;
	for (size_t i = 0; i < so->n_params; i++)
		if (!add_param(spec, params, so->raw_params[i]))
			goto out;
	if (tr_pipeline_check_params(spec, params, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	if (!read_text(so->file, &text))
		goto out;
	json_t *yaml = json_stringn(text.data ? text.data : "", text.len);
	if (!yaml) {
		fprintf(stderr, "trellis run: %s is not UTF-8 text\n", so->file);
		goto out;
	}
	body = json_pack("{s:o,s:O}", "pipeline_yaml", yaml, "params", params);
	if (so->experiment_id)
		json_object_set_new(body, "experiment_id", json_string(so->experiment_id));
	if (so->run_name)
		json_object_set_new(body, "run_name", json_string(so->run_name));
	if (so->no_cache)
		json_object_set_new(body, "no_cache", json_true());

	tr_buf_appends(&url, so->url);
	while (url.len && url.data[url.len - 1] == '/')
		url.data[--url.len] = 0;
	r.url = tr_buf_str(&url);
	if (tr_client_new(&r.c, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	tr_buf_appendf(&u, "%s/api/2.0/trellis/pipelines/runs", r.url);
	if (call(&r, "POST", tr_buf_str(&u), body, 60000, &ans, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	const char *id = json_string_value(json_object_get(ans, "run_id"));
	if (!good_id(id)) {
		fprintf(stderr, "trellis run: the server's answer has no valid run_id\n");
		goto out;
	}
	snprintf(r.run_id, sizeof(r.run_id), "%s", id);
	if (!so->as_json)
		fprintf(stderr, "run %s of %s on %s\n", r.run_id, tr_pipeline_name(spec), r.url);

	sigemptyset(&sa.sa_mask); /* no SA_RESTART: a poll may end early */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	handlers = true;
	prog.quiet = so->as_json;
	prog.tty = isatty(2);
	prog.started_ms = tr_clock_now_ms();
	uint64_t after = 0;
	int failures = 0;
	bool stopping = false;
	while (!final) {
		if (interrupts && !stopping) {
			stopping = true;
			tr_buf_reset(&u);
			tr_buf_appendf(&u, "%s/apis/v2beta1/runs/%s:terminate", r.url, r.run_id);
			json_t *t = NULL;
			tr_buf_reset(&err);
			if (call(&r, "POST", tr_buf_str(&u), NULL, 30000, &t, &err))
				fprintf(stderr, "trellis run: cannot stop run %s: %s\n", r.run_id,
					tr_buf_str(&err));
			else
				fprintf(stderr,
					"trellis run: stopping run %s on the server (Ctrl-C again "
					"to leave it running)\n",
					r.run_id);
			json_decref(t);
		}
		tr_buf_reset(&u);
		tr_buf_appendf(&u,
			       "%s/api/2.0/trellis/pipelines/runs/events?run_id=%s&after=%llu"
			       "&wait_ms=2000",
			       r.url, r.run_id, (unsigned long long)after);
		json_decref(ans);
		ans = NULL;
		tr_buf_reset(&err);
		enum tr_err rc = call(&r, "GET", tr_buf_str(&u), NULL, 30000, &ans, &err);
		if (rc == TR_ERR_IO_ERROR && ++failures < 5) { /* a blip: try again */
			sleep(1);
			continue;
		}
		if (rc) {
			progress_end(&prog);
			fprintf(stderr, "trellis run: %s (run %s)\n", tr_buf_str(&err), r.run_id);
			goto out;
		}
		failures = 0;
		json_t *evs = json_object_get(ans, "events");
		if (!json_is_array(evs)) {
			progress_end(&prog);
			fprintf(stderr, "trellis run: the server's events are malformed\n");
			goto out;
		}
		size_t i;
		json_t *e;
		json_array_foreach(evs, i, e)
		{
			json_t *seq = json_object_get(e, "seq");
			if (json_is_integer(seq) && json_integer_value(seq) > 0 &&
			    (uint64_t)json_integer_value(seq) > after)
				after = (uint64_t)json_integer_value(seq);
			const char *kind = json_string_value(json_object_get(e, "kind"));
			const char *state = json_string_value(json_object_get(e, "state"));
			if (!kind)
				continue;
			if (!strcmp(kind, "task")) {
				show_task(&r, json_string_value(json_object_get(e, "path")), state,
					  json_string_value(json_object_get(e, "message")));
			} else if (!strcmp(kind, "run") && run_state_final(state)) {
				if (!final)
					final = clean(state);
			} else if (!strcmp(kind, "gap")) {
				tr_buf_reset(&err);
				if (resync(&r, &final, &err)) {
					progress_end(&prog);
					fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
					goto out;
				}
			}
		}
		json_t *last = json_object_get(ans, "last_seq");
		if (json_is_integer(last) && json_integer_value(last) > 0 &&
		    (uint64_t)json_integer_value(last) > after)
			after = (uint64_t)json_integer_value(last);
	}
	progress_end(&prog); /* the final counts, before the summary */
	tr_buf_reset(&err);
	if (get_run(&r, &run, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	json_t *sum = remote_summary(r.run_id, final, run);
	if (so->as_json) {
		char *out_text = json_dumps(sum, JSON_INDENT(2));
		printf("%s\n", out_text);
		free(out_text);
	} else {
		print_summary(sum);
	}
	json_decref(sum);
	code = !strcmp(final, "SUCCEEDED") ? 0 : 1;
out:
	if (handlers) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	progress_end(&prog);
	tr_client_free(r.c);
	tr_pipeline_spec_free(spec);
	json_decref(params);
	json_decref(body);
	json_decref(ans);
	json_decref(run);
	json_decref(r.shown);
	free(final);
	tr_buf_release(&err);
	tr_buf_release(&text);
	tr_buf_release(&url);
	tr_buf_release(&u);
	return code;
}

int cmd_run(int argc, char **argv)
{
	const char *artifacts = TR_DEFAULT_ARTIFACTS, *run_id = NULL, *python = NULL;
	const char *step_user = NULL, *store_uri = TR_DEFAULT_STORE_URI, *resume = NULL;
	int parallelism = 0;
	bool keep_going = false, as_json = false, no_cache = false, stats = false;
	enum {
		O_PAR = 256,
		O_KEEP,
		O_PY,
		O_DEST,
		O_ID,
		O_USER,
		O_JSON,
		O_STORE,
		O_NOCACHE,
		O_RESUME,
		O_STATS,
		O_SERVER,
		O_EXP,
		O_NAME,
		O_HELP
	};
	static const struct option opts[] = {
	    {"param", required_argument, NULL, 'p'},
	    {"parallelism", required_argument, NULL, O_PAR},
	    {"keep-going", no_argument, NULL, O_KEEP},
	    {"python", required_argument, NULL, O_PY},
	    {"artifacts-destination", required_argument, NULL, O_DEST},
	    {"run-id", required_argument, NULL, O_ID},
	    {"step-user", required_argument, NULL, O_USER},
	    {"json", no_argument, NULL, O_JSON},
	    {"backend-store-uri", required_argument, NULL, O_STORE},
	    {"no-cache", no_argument, NULL, O_NOCACHE},
	    {"resume", required_argument, NULL, O_RESUME},
	    {"stats", no_argument, NULL, O_STATS},
	    {"server", required_argument, NULL, O_SERVER},
	    {"experiment-id", required_argument, NULL, O_EXP},
	    {"run-name", required_argument, NULL, O_NAME},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	/* parameters are checked once the pipeline is loaded */
	const char **raw_params = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_params = 0;
	const char *server = NULL, *experiment_id = NULL, *run_name = NULL;
	const char *local_only = NULL; /* an option --server cannot take */
	int c, idx = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:", opts, &idx)) != -1) {
		if (c >= O_PAR && c != O_JSON && c != O_NOCACHE && c != O_SERVER && c != O_EXP &&
		    c != O_NAME && c != O_HELP && idx >= 0)
			local_only = opts[idx].name;
		idx = -1;
		switch (c) {
		case 'p':
			raw_params[n_params++] = optarg;
			break;
		case O_PAR: {
			char *end;
			long v = strtol(optarg, &end, 10);
			parallelism = *end || v < 1 || v > 100000 ? 0 : (int)v;
			if (parallelism < 1) {
				free(raw_params);
				return usage(stderr, 2);
			}
			break;
		}
		case O_KEEP:
			keep_going = true;
			break;
		case O_PY:
			python = optarg;
			break;
		case O_DEST:
			artifacts = optarg;
			break;
		case O_ID:
			run_id = optarg;
			break;
		case O_USER:
			step_user = optarg;
			break;
		case O_JSON:
			as_json = true;
			break;
		case O_STORE:
			store_uri = optarg;
			break;
		case O_NOCACHE:
			no_cache = true;
			break;
		case O_RESUME:
			resume = optarg;
			break;
		case O_STATS:
			stats = true;
			break;
		case O_SERVER:
			server = optarg;
			break;
		case O_EXP:
			experiment_id = optarg;
			break;
		case O_NAME:
			run_name = optarg;
			break;
		default:
			free(raw_params);
			return usage(c == O_HELP ? stdout : stderr, c == O_HELP ? 0 : 2);
		}
	}
	if (server || experiment_id || run_name) {
		int code = 2;
		if (!server)
			fprintf(stderr, "trellis run: --%s goes with --server\n",
				experiment_id ? "experiment-id" : "run-name");
		else if (local_only)
			fprintf(stderr,
				"trellis run: --%s is for local runs; it cannot be used "
				"with --server\n",
				local_only);
		else if (optind != argc - 1)
			code = usage(stderr, 2);
		else
			code = run_on_server(&(struct server_options){
			    .url = server,
			    .file = argv[optind],
			    .experiment_id = experiment_id,
			    .run_name = run_name,
			    .raw_params = raw_params,
			    .n_params = n_params,
			    .no_cache = no_cache,
			    .as_json = as_json,
			});
		free(raw_params);
		return code;
	}
	if (optind != argc - 1 && !(resume && optind == argc)) {
		free(raw_params);
		return usage(stderr, 2);
	}
	int code = 2;
	struct progress prog = {0};
	struct tr_recorder *recorder = NULL;
	json_t *params = json_object(), *prior = NULL, *stored = NULL;
	struct tr_executor *ex = NULL;
	struct tr_run *run = NULL;
	struct tr_store *store = NULL;
	struct tr_pipeline_spec *spec = NULL;
	char *python_dir = NULL, spec_abs[PATH_MAX], sha[65], artifact_root[PATH_MAX] = "";
	struct tr_buf err = TR_BUF_INIT, root = TR_BUF_INIT;
	const char *file = optind < argc ? argv[optind] : NULL;
	/* SIGINT and SIGTERM cancel the run through the engine's signalfd: blocked
	 * before the store starts its threads, so that none of them takes one */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* a resume needs the store first; a new run opens it once the pipeline
	 * and its parameters are known to be good, so a mistake leaves nothing */
	if (resume && tr_store_open(store_uri, NULL, &store, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	if (resume) { /* the run's pipeline, parameters and folder, as recorded */
		if (tr_store_pipeline_run_get(store, resume, &stored, &err)) {
			fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
			goto out;
		}
		if (!file)
			file = json_string_value(json_object_get(stored, "spec_path"));
		run_id = resume;
		prior = json_object_get(stored, "tasks");
	}
	enum tr_err rc = load_pipeline(file, &spec);
	if (rc)
		goto out;
	if (!realpath(file, spec_abs) || tr_digest_path(spec_abs, sha, &err)) {
		fprintf(stderr, "trellis run: %s: %s\n", file,
			err.len ? tr_buf_str(&err) : strerror(errno));
		goto out;
	}
	if (resume) {
		if (strcmp(sha, json_string_value(json_object_get(stored, "spec_sha256")))) {
			fprintf(stderr,
				"trellis run: %s changed since run %s started; a run resumes only "
				"with the pipeline it started with\n",
				file, resume);
			goto out;
		}
		json_decref(params);
		params = json_incref(json_object_get(stored, "params"));
		if (n_params)
			fprintf(stderr, "trellis run: -p is ignored with --resume (the run keeps "
					"its parameters)\n");
	}
	for (size_t i = 0; !resume && i < n_params; i++)
		if (!add_param(spec, params, raw_params[i]))
			goto out;
	if (!resume && tr_pipeline_check_params(spec, params, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	if (!store && tr_store_open(store_uri, NULL, &store, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	if (python) {
		char *slash = strrchr(python, '/');
		python_dir = slash ? strndup(python, (size_t)(slash - python)) : NULL;
	}
	if (resume) {
		tr_buf_appends(&root, json_string_value(json_object_get(stored, "root")));
		/* the run folders are <artifact root>/pipelines */
		const char *slash = strrchr(tr_buf_str(&root), '/');
		if (slash && !strcmp(slash, "/pipelines"))
			snprintf(artifact_root, sizeof(artifact_root), "%.*s",
				 (int)(slash - tr_buf_str(&root)), tr_buf_str(&root));
	} else { /* the run folders live in the artifact store, by absolute path */
		char abs[PATH_MAX];
		if (mkdir(artifacts, 0755) && errno != EEXIST) {
			fprintf(stderr, "trellis run: cannot create %s: %s\n", artifacts,
				strerror(errno));
			goto out;
		}
		if (!realpath(artifacts, abs)) {
			fprintf(stderr, "trellis run: %s: %s\n", artifacts, strerror(errno));
			goto out;
		}
		tr_buf_appendf(&root, "%s/pipelines", abs);
		snprintf(artifact_root, sizeof(artifact_root), "%s", abs);
		if (mkdir(tr_buf_str(&root), 0755) && errno != EEXIST) {
			fprintf(stderr, "trellis run: cannot create %s: %s\n", tr_buf_str(&root),
				strerror(errno));
			goto out;
		}
	}
	if (!reachable_by_steps(tr_buf_str(&root), step_user))
		goto out;
	char id[33];
	if (!run_id) {
		tr_ids_run_id(id);
		run_id = id;
	}
	struct tr_executor_config cfg = {.user = step_user};
	if (tr_executor_open("local", &cfg, &ex, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	prog.quiet = as_json;
	prog.tty = isatty(2);
	prog.started_ms = tr_clock_now_ms();
	recorder = tr_recorder_new(store, run_id, tr_pipeline_name(spec),
				   *artifact_root ? artifact_root : NULL, "trellis run");
	struct tr_run_hooks hooks = {0};
	tr_recorder_hooks(recorder, &hooks);
	struct tr_run_options o = {
	    .run_id = run_id,
	    .root = tr_buf_str(&root),
	    .params = params,
	    .parallelism = parallelism,
	    .keep_going = keep_going,
	    .python_dir = python_dir,
	    .ex = ex,
	    .hooks = &hooks,
	    .no_cache = no_cache,
	    .prior = prior,
	    .on_change = on_change,
	    .ctx = &prog,
	};
	if (tr_run_new(spec, &o, &run, &err)) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:s}", "run_id", run_id, "name",
				tr_pipeline_name(spec), "spec_path", spec_abs, "spec_sha256", sha,
				"params", params, "root", tr_buf_str(&root), "state", "RUNNING");
	rc = tr_recorder_put_run(store, rec, "trellis run", &err);
	if (rc) {
		fprintf(stderr, "trellis run: cannot record the run: %s\n", tr_buf_str(&err));
		json_decref(rec);
		goto out;
	}
	if (!as_json)
		fprintf(stderr, "%s %s of %s: %s/%s\n", resume ? "resuming run" : "run", run_id,
			tr_pipeline_name(spec), tr_buf_str(&root), run_id);
	code = 1;
	rc = tr_run_execute(run, &err);
	progress_end(&prog); /* the final counts, before the summary */
	struct tr_buf ferr = TR_BUF_INIT;
	if (tr_recorder_flush(recorder, &ferr) && !rc) /* the last records */
		rc = tr_fail(&err, TR_ERR_IO_ERROR, "cannot record the run: %s", tr_buf_str(&ferr));
	tr_buf_release(&ferr);
	json_object_set_new(rec, "state",
			    json_string(rc ? "FAILED" : tr_task_state_name(tr_run_state(run))));
	struct tr_buf err2 = TR_BUF_INIT;
	if (tr_recorder_put_run(store, rec, "trellis run", &err2))
		fprintf(stderr, "trellis run: cannot record the run's end: %s\n",
			tr_buf_str(&err2));
	tr_buf_release(&err2);
	json_decref(rec);
	if (rc) {
		fprintf(stderr, "trellis run: %s\n", tr_buf_str(&err));
		goto out;
	}
	json_t *sum = tr_run_summary(run);
	if (as_json) {
		char *text = json_dumps(sum, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
	} else {
		print_summary(sum);
	}
	json_decref(sum);
	if (stats)
		print_stats(run);
	code = tr_run_state(run) == TR_TASK_SUCCEEDED ? 0 : 1;
out:
	tr_run_free(run);
	tr_executor_close(ex);
	tr_pipeline_spec_free(spec);
	tr_recorder_free(recorder); /* waits for its last writes */
	tr_store_close(store);
	progress_end(&prog);
	json_decref(params);
	json_decref(stored);
	free(python_dir);
	free(raw_params);
	tr_buf_release(&err);
	tr_buf_release(&root);
	return code;
}
