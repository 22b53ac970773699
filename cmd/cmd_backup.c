/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis backup DEST`: a consistent copy of the store (SQLite's online
 * backup API: one snapshot, while a server keeps writing) and of the artifact
 * folder, into a new folder DEST that `trellis server` can run on directly
 * (docs/operations.md has the restore steps). The store is copied first:
 * artifacts are written before they are recorded, so every file the copied
 * store names is in the copied folder.
 */
#include "artifact/artifact.h"
#include "cmd.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cmd_backup(int argc, char **argv)
{
	const char *uri = TR_DEFAULT_STORE_URI, *artifacts = TR_DEFAULT_ARTIFACTS;
	enum { O_STORE = 256, O_DEST, O_HELP };
	static const struct option opts[] = {
	    {"backend-store-uri", required_argument, NULL, O_STORE},
	    {"artifacts-destination", required_argument, NULL, O_DEST},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_STORE)
			uri = optarg;
		else if (c == O_DEST)
			artifacts = optarg;
		else {
			FILE *out = c == O_HELP ? stdout : stderr;
			fprintf(out,
				"usage: trellis backup DEST [--backend-store-uri URI]"
				" [--artifacts-destination DIR]\n\n"
				"Writes DEST/trellis.db (a consistent snapshot of the store, also"
				" while a server\nis writing) and DEST/artifacts/. Run a server on"
				" it with\n  trellis server --backend-store-uri sqlite:///DEST/"
				"trellis.db --artifacts-destination DEST/artifacts\n");
			return c == O_HELP ? 0 : 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "trellis backup: name one destination folder (see --help)\n");
		return 2;
	}
	const char *dest = argv[optind];
	if (mkdir(dest, 0755)) {
		fprintf(stderr, "trellis backup: cannot create '%s': %s (it must not exist yet)\n",
			dest, strerror(errno));
		return 1;
	}
	struct tr_buf err = TR_BUF_INIT, path = TR_BUF_INIT;
	struct tr_store *s = NULL;
	struct tr_artifacts *a = NULL;
	uint64_t files = 0, bytes = 0;
	int code = 1;
	if (tr_store_open(uri, NULL, &s, &err))
		goto out;
	tr_buf_appendf(&path, "%s/trellis.db", dest);
	if (tr_store_backup(s, tr_buf_str(&path), &err))
		goto out;
	if (tr_artifacts_open(artifacts, &a, &err))
		goto out;
	tr_buf_reset(&path);
	tr_buf_appendf(&path, "%s/artifacts", dest);
	if (tr_artifacts_copy_to(a, tr_buf_str(&path), &files, &bytes, &err))
		goto out;
	printf("backup written to %s: store snapshot and %llu artifact files (%llu bytes)\n", dest,
	       (unsigned long long)files, (unsigned long long)bytes);
	code = 0;
out:
	if (code)
		fprintf(stderr, "trellis backup: %s\n", tr_buf_str(&err));
	tr_artifacts_close(a);
	tr_store_close(s);
	tr_buf_release(&err);
	tr_buf_release(&path);
	return code;
}
