/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis cache purge [--older-than AGE]`: forgets pipeline task cache
 * entries (all of them, or those recorded longer ago than AGE), so the next
 * runs execute those tasks again. The outputs' files stay where the runs
 * wrote them. One audited write.
 */
#include "cmd.h"
#include "core/clock.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *out, int code)
{
	fprintf(out, "usage: trellis cache purge [--older-than AGE] [--backend-store-uri URI]\n\n"
		     "Forgets the pipeline task cache: every entry, or those recorded longer\n"
		     "ago than AGE (30d, 12h, 45m, 10s or seconds).\n");
	return code;
}

int cmd_cache(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "purge"))
		return usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			     argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2);
	const char *uri = TR_DEFAULT_STORE_URI;
	int64_t age = -1;
	enum { O_STORE = 256, O_AGE, O_HELP };
	static const struct option opts[] = {
	    {"backend-store-uri", required_argument, NULL, O_STORE},
	    {"older-than", required_argument, NULL, O_AGE},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (c == O_STORE)
			uri = optarg;
		else if (c == O_AGE && tr_clock_parse_age(optarg, &age))
			continue;
		else
			return usage(c == O_HELP ? stdout : stderr, c == O_HELP ? 0 : 2);
	}
	if (optind != argc - 1)
		return usage(stderr, 2);
	struct tr_buf err = TR_BUF_INIT;
	struct tr_store *s = NULL;
	int code = 1;
	if (!tr_store_open(uri, NULL, &s, &err)) {
		struct tr_write w = {0};
		w.apply = tr_store_pipeline_cache_purge;
		w.args = age >= 0 ? json_pack("{s:I}", "before_ms",
					      (json_int_t)(tr_clock_now_ms() - age))
				  : json_object();
		w.action = "pipelines.cache-purge";
		w.actor = "trellis cache";
		w.audit_class = TR_AUDIT_CONTROL;
		if (!tr_store_write_sync(s, &w)) {
			printf("removed %lld cache entries\n",
			       (long long)json_integer_value(json_object_get(w.result, "removed")));
			code = 0;
		} else {
			tr_buf_append(&err, w.err.data ? w.err.data : "", w.err.len);
		}
		json_decref(w.args);
		tr_write_release(&w);
	}
	if (code)
		fprintf(stderr, "trellis cache: %s\n", tr_buf_str(&err));
	tr_store_close(s);
	tr_buf_release(&err);
	return code;
}
