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
	    "       trellis run --resume RUN_ID [options]\n\n"
	    "Runs a pipeline compiled by the kfp SDK (KFP v2 IR YAML) or written in\n"
	    "Trellis YAML (docs/pipelines.md) on this machine.\n\n"
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
	    "  --json                       print a JSON summary instead of the progress view\n",
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
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	/* parameters are checked once the pipeline is loaded */
	const char **raw_params = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_params = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
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
		default:
			free(raw_params);
			return usage(c == O_HELP ? stdout : stderr, c == O_HELP ? 0 : 2);
		}
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
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = file;
	enum tr_err rc = tr_pipeline_load_file(file, NULL, &spec, &d);
	struct tr_buf msg = TR_BUF_INIT;
	tr_diags_format(&d, &msg);
	fputs(tr_buf_str(&msg), stderr);
	tr_buf_release(&msg);
	tr_diags_release(&d);
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
