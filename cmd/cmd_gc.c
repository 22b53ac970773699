/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis gc`: removes, for good, the runs deleted longer ago than
 * --older-than, with their metrics, params, tags, inputs and artifacts.
 * A dry run (the default) only reports; --yes removes. Artifacts go first,
 * then the store rows in one audited write per run, so an interrupted gc
 * leaves records only for files already gone, never files nobody can reach.
 * It also removes the temporary files of uploads a crash interrupted, when
 * older than STALE_UPLOAD_S: gc may run beside a live server, whose uploads
 * in progress are younger (an idle connection is closed after 120 s).
 */
#include "artifact/artifact.h"
#include "cmd.h"
#include "core/clock.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_UPLOAD_S 3600

/* "30d", "12h", "45m", "10s" or plain seconds, into milliseconds. */
int cmd_gc(int argc, char **argv)
{
	const char *uri = TR_DEFAULT_STORE_URI, *artifacts = TR_DEFAULT_ARTIFACTS;
	int64_t age_ms = 30LL * 86400000LL;
	bool yes = false;
	enum { O_STORE = 256, O_DEST, O_AGE, O_YES, O_HELP };
	static const struct option opts[] = {
	    {"backend-store-uri", required_argument, NULL, O_STORE},
	    {"artifacts-destination", required_argument, NULL, O_DEST},
	    {"older-than", required_argument, NULL, O_AGE},
	    {"yes", no_argument, NULL, O_YES},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_STORE) {
			uri = optarg;
		} else if (c == O_DEST) {
			artifacts = optarg;
		} else if (c == O_YES) {
			yes = true;
		} else if (c == O_AGE && tr_clock_parse_age(optarg, &age_ms)) {
			continue;
		} else {
			FILE *out = c == O_HELP ? stdout : stderr;
			fprintf(
			    out,
			    "usage: trellis gc [--older-than 30d] [--yes] [--backend-store-uri URI]"
			    " [--artifacts-destination DIR]\n\n"
			    "Lists the runs deleted longer ago than --older-than (d, h, m or s;"
			    " default 30d)\nand what removing them would free; with --yes removes"
			    " their data and artifacts,\nand the temporary files of uploads"
			    " interrupted more than an hour ago.\n");
			return c == O_HELP ? 0 : 2;
		}
	}
	struct tr_buf err = TR_BUF_INIT;
	struct tr_store *s = NULL;
	struct tr_artifacts *a = NULL;
	json_t *runs = NULL;
	int code = 1;
	if (tr_store_open(uri, NULL, &s, &err) || tr_artifacts_open(artifacts, &a, &err) ||
	    tr_store_runs_deleted_before(s, tr_clock_now_ms() - age_ms, &runs, &err))
		goto out;
	uint64_t files = 0, bytes = 0;
	size_t i, n_removed = 0;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		const char *id = json_string_value(json_object_get(r, "run_id"));
		const char *auri = json_string_value(json_object_get(r, "artifact_uri"));
		const char *mv = json_string_value(json_object_get(r, "model_version"));
		if (mv) { /* a registered model needs it: never removed */
			printf("keeping run %s: model version %s uses it\n", id, mv);
			continue;
		}
		printf("%s run %s (deleted at %lld ms)\n", yes ? "removing" : "would remove", id,
		       (long long)json_integer_value(json_object_get(r, "deleted_time")));
		n_removed++;
		files += (uint64_t)json_integer_value(json_object_get(r, "artifact_files"));
		bytes += (uint64_t)json_integer_value(json_object_get(r, "artifact_bytes"));
		if (!yes)
			continue;
		/* the records first: the purge re-checks, in its transaction, that no
		 * model version came to use the run meanwhile */
		struct tr_write w = {0};
		w.apply = tr_store_run_purge;
		w.args = json_pack("{s:s}", "run_id", id);
		w.action = "runs.purge";
		w.actor = "trellis gc";
		w.audit_class = TR_AUDIT_CONTROL;
		enum tr_err rc = tr_store_write_sync(s, &w);
		if (rc == TR_ERR_INVALID_STATE) {
			printf("keeping run %s: %s\n", id, tr_buf_str(&w.err));
			n_removed--;
			files -= (uint64_t)json_integer_value(json_object_get(r, "artifact_files"));
			bytes -= (uint64_t)json_integer_value(json_object_get(r, "artifact_bytes"));
			rc = TR_OK;
		} else if (!rc) {
			static const char scheme[] = "mlflow-artifacts:/";
			if (auri && !strncmp(auri, scheme, sizeof(scheme) - 1))
				rc = tr_artifacts_remove(a, auri + sizeof(scheme) - 1, &err);
		} else {
			tr_buf_append(&err, w.err.data ? w.err.data : "", w.err.len);
		}
		tr_write_release(&w);
		json_decref(w.args);
		if (rc)
			goto out;
	}
	uint64_t stale = 0, stale_bytes = 0;
	if (tr_artifacts_sweep(a, STALE_UPLOAD_S, yes, &stale, &stale_bytes, &err))
		goto out;
	if (stale)
		printf("%s %llu unfinished uploads (%llu bytes) older than 1 h\n",
		       yes ? "removed" : "would remove", (unsigned long long)stale,
		       (unsigned long long)stale_bytes);
	printf("%s %zu deleted runs, %llu artifact files, %llu bytes\n",
	       yes ? "freed:" : "dry run (use --yes to remove):", n_removed,
	       (unsigned long long)files, (unsigned long long)bytes);
	code = 0;
out:
	if (code)
		fprintf(stderr, "trellis gc: %s\n", tr_buf_str(&err));
	json_decref(runs);
	tr_artifacts_close(a);
	tr_store_close(s);
	tr_buf_release(&err);
	return code;
}
