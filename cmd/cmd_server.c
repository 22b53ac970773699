/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis server`: flags follow `mlflow server` where they overlap. Signals
 * are blocked in every thread and taken by sigwait() here, so SIGTERM/SIGINT
 * shut down in order: stop accepting, finish requests in flight, drain and
 * commit the writer queue, exit 0.
 */
#include "api/api.h"
#include "artifact/artifact.h"
#include "pipeline/schedule.h"
#include "pipeline/service.h"
#include "cmd.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: trellis server [options]\n\n"
	    "Serves MLflow's tracking REST API (/api/2.0/mlflow/...) on an embedded SQLite "
	    "store.\n\n"
	    "  -h, --host HOST                  bind address (default 127.0.0.1)\n"
	    "  -p, --port PORT                  port (default 5000)\n"
	    "      --backend-store-uri URI      sqlite:///relative.db or sqlite:////abs.db\n"
	    "                                   (default " TR_DEFAULT_STORE_URI ")\n"
	    "      --default-artifact-root URI  prefix of new experiments' artifact locations\n"
	    "                                   (default mlflow-artifacts:)\n"
	    "      --artifacts-destination DIR  where proxied artifacts are stored\n"
	    "                                   (default " TR_DEFAULT_ARTIFACTS ")\n"
	    "  -w, --workers N                  HTTP worker threads (default: number of cores)\n"
	    "      --allowed-hosts LIST         Host header values accepted, comma separated, '*' "
	    "for any\n"
	    "                                   (default localhost,127.0.0.1,[::1] and --host)\n"
	    "      --cors-allowed-origins LIST  origins allowed cross-origin, comma separated;\n"
	    "                                   'http://h:*' matches any port (default localhost "
	    "origins)\n"
	    "      --max-body-bytes N           largest request body other than an artifact "
	    "upload\n"
	    "                                   (default 16777216)\n"
	    "      --max-artifact-bytes N       largest artifact upload (default 0: no limit;\n"
	    "                                   uploads are streamed to disk)\n"
	    "      --step-user USER             pipeline steps' user when the server runs as root\n"
	    "                                   (default nobody; \"\" runs them as root)\n"
	    "      --step-python PATH           the Python that runs lightweight KFP components\n"
	    "                                   (its folder goes first on the steps' PATH)\n"
	    "      --max-pipeline-runs N        pipeline runs executing at once (default 4)\n"
	    "      --pipeline-parallelism N     running tasks per pipeline run (default: cores)\n"
	    "      --log-json                   log lines as JSON\n"
	    "      --quiet                      no access log lines\n"
	    "      --help                       this text\n");
}

static long parse_num(const char *s, const char *flag, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "trellis server: %s needs a number between %ld and %ld, got '%s'\n",
			flag, min, max, s);
		exit(2);
	}
	return v;
}

int cmd_server(int argc, char **argv)
{
	struct tr_http_opts hopts = {.host = "127.0.0.1", .port = 5000};
	const char *store_uri = TR_DEFAULT_STORE_URI, *artifact_root = "mlflow-artifacts:";
	const char *artifacts_dest = TR_DEFAULT_ARTIFACTS;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	hopts.workers = n > 0 ? (int)n : 2;
	enum {
		O_STORE = 256,
		O_ROOT,
		O_DEST,
		O_HOSTS,
		O_CORS,
		O_JSON,
		O_HELP,
		O_BODY,
		O_ARTIFACT,
		O_QUIET,
		O_STEP_USER,
		O_STEP_PY,
		O_MAX_RUNS,
		O_PAR
	};
	const char *step_user = NULL, *step_python = NULL;
	int max_runs = 0, parallelism = 0;
	uint64_t max_artifact = 0;
	static const struct option opts[] = {
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"workers", required_argument, NULL, 'w'},
	    {"backend-store-uri", required_argument, NULL, O_STORE},
	    {"default-artifact-root", required_argument, NULL, O_ROOT},
	    {"artifacts-destination", required_argument, NULL, O_DEST},
	    {"allowed-hosts", required_argument, NULL, O_HOSTS},
	    {"cors-allowed-origins", required_argument, NULL, O_CORS},
	    {"max-body-bytes", required_argument, NULL, O_BODY},
	    {"max-artifact-bytes", required_argument, NULL, O_ARTIFACT},
	    {"log-json", no_argument, NULL, O_JSON},
	    {"quiet", no_argument, NULL, O_QUIET},
	    {"step-user", required_argument, NULL, O_STEP_USER},
	    {"step-python", required_argument, NULL, O_STEP_PY},
	    {"max-pipeline-runs", required_argument, NULL, O_MAX_RUNS},
	    {"pipeline-parallelism", required_argument, NULL, O_PAR},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h:p:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			hopts.host = optarg;
			break;
		case 'p':
			hopts.port = (int)parse_num(optarg, "--port", 0, 65535);
			break;
		case 'w':
			hopts.workers = (int)parse_num(optarg, "--workers", 1, 1024);
			break;
		case O_STORE:
			store_uri = optarg;
			break;
		case O_ROOT:
			artifact_root = optarg;
			break;
		case O_DEST:
			artifacts_dest = optarg;
			break;
		case O_HOSTS:
			hopts.allowed_hosts = optarg;
			break;
		case O_CORS:
			hopts.cors_origins = optarg;
			break;
		case O_BODY:
			hopts.max_body =
			    (size_t)parse_num(optarg, "--max-body-bytes", 1024, 1L << 30);
			break;
		case O_ARTIFACT:
			max_artifact =
			    (uint64_t)parse_num(optarg, "--max-artifact-bytes", 0, LONG_MAX);
			break;
		case O_JSON:
			tr_log_set_json(true);
			break;
		case O_QUIET:
			tr_log_set_level(TR_LOG_WARN);
			break;
		case O_STEP_USER:
			step_user = optarg;
			break;
		case O_STEP_PY:
			step_python = optarg;
			break;
		case O_MAX_RUNS:
			max_runs = (int)parse_num(optarg, "--max-pipeline-runs", 1, 1000);
			break;
		case O_PAR:
			parallelism = (int)parse_num(optarg, "--pipeline-parallelism", 1, 100000);
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trellis server: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* Block the shutdown signals in every thread; this one takes them with sigwait. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct tr_buf err = TR_BUF_INIT;
	struct tr_store_opts sopts = {.artifact_root = artifact_root};
	struct tr_api api = {.started_ms = tr_clock_now_ms(), .max_artifact_bytes = max_artifact};
	struct tr_http *http = NULL;
	int status = 1;
	if (tr_store_open(store_uri, &sopts, &api.store, &err)) {
		tr_log_error("cannot open store: %s", tr_buf_str(&err));
		goto out;
	}
	if (tr_artifacts_open(artifacts_dest, &api.artifacts, &err)) {
		tr_log_error("%s", tr_buf_str(&err));
		goto out;
	}
	/* before serving, no upload is in progress: every temporary file left
	 * is a crash's */
	uint64_t stale = 0, stale_bytes = 0;
	if (tr_artifacts_sweep(api.artifacts, 0, true, &stale, &stale_bytes, &err)) {
		tr_log_error("%s", tr_buf_str(&err));
		goto out;
	}
	if (stale)
		tr_log_info("removed %llu unfinished uploads (%llu bytes) left by a crash",
			    (unsigned long long)stale, (unsigned long long)stale_bytes);
	if (tr_http_start(&hopts, tr_api_dispatch, tr_api_claim, &api, &http, &err)) {
		tr_log_error("%s", tr_buf_str(&err));
		goto out;
	}
	tr_log_info("trellis %s serving http://%s:%d (store %s, artifacts %s, %d workers)",
		    TR_VERSION, hopts.host, tr_http_port(http), store_uri, artifacts_dest,
		    hopts.workers);
	/* pipelines: steps talk to this server's MLflow API */
	char abs_artifacts[PATH_MAX], tracking[300], *py_dir = NULL;
	if (!realpath(artifacts_dest, abs_artifacts)) {
		tr_log_error("%s: %s", artifacts_dest, strerror(errno));
		goto out;
	}
	const char *th = hopts.host;
	if (!strcmp(th, "0.0.0.0") || !strcmp(th, "::") || !*th)
		th = "127.0.0.1";
	snprintf(tracking, sizeof(tracking), strchr(th, ':') ? "http://[%s]:%d" : "http://%s:%d",
		 th, tr_http_port(http));
	if (step_python) {
		const char *slash = strrchr(step_python, '/');
		py_dir = slash ? strndup(step_python, (size_t)(slash - step_python)) : NULL;
	}
	struct tr_pipelines_config pcfg = {.store = api.store,
					   .artifact_root = abs_artifacts,
					   .tracking_uri = tracking,
					   .max_runs = max_runs,
					   .parallelism = parallelism,
					   .step_user = step_user,
					   .python_dir = py_dir};
	struct tr_pipelines *pipelines = NULL;
	enum tr_err prc = tr_pipelines_start(&pcfg, &pipelines, &err);
	free(py_dir);
	if (prc) {
		tr_log_error("cannot start pipelines: %s", tr_buf_str(&err));
		goto out;
	}
	api.pipelines = pipelines;
	struct tr_schedule *schedule = NULL;
	if (tr_schedule_start(api.store, pipelines, &schedule, &err)) {
		tr_log_error("cannot start the recurring-run scheduler: %s", tr_buf_str(&err));
		api.pipelines = NULL;
		tr_pipelines_stop(pipelines);
		goto out;
	}
	atomic_store(&api.ready, true);
	int sig = 0;
	sigwait(&set, &sig);
	tr_log_info("received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	tr_http_quiesce(http);
	if (!tr_http_wait_idle(http, 10000))
		tr_log_warn("requests still in flight after 10 s; stopping anyway");
	/* running pipeline runs are left to their supervisors; the next start
	 * resumes them */
	tr_schedule_stop(schedule);
	api.pipelines = NULL;
	tr_pipelines_stop(pipelines);
	/* commit and answer every queued write while the HTTP server can still
	 * send the answers; only then stop it */
	tr_store_drain(api.store);
	status = 0;
out:
	tr_http_stop(http);
	tr_store_close(api.store); /* drains and commits the writer queue */
	tr_artifacts_close(api.artifacts);
	tr_buf_release(&err);
	if (status == 0)
		tr_log_info("stopped");
	return status;
}
