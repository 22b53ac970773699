/* SPDX-License-Identifier: Apache-2.0 */
/* `trellis db upgrade|check`: schema migrations and a quick integrity check. */
#include "cmd.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: trellis db upgrade|check [--backend-store-uri URI]\n\n"
		"  upgrade   migrate the store to this trellis' schema version\n"
		"  check     report the store's schema version; exit 1 if it needs an upgrade\n");
	return code;
}

static const char *uri_arg(int argc, char **argv, int from)
{
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--backend-store-uri") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--backend-store-uri=", 20))
			return argv[i] + 20;
	}
	return TR_DEFAULT_STORE_URI;
}

int cmd_db(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help"))
		return usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *uri = uri_arg(argc, argv, 2);
	struct tr_buf err = TR_BUF_INIT;
	int version = 0, code = 1;
	if (!strcmp(argv[1], "check")) {
		if (tr_store_schema_version(uri, &version, &err)) {
			fprintf(stderr, "trellis db check: %s\n", tr_buf_str(&err));
		} else {
			printf("schema version %d (this trellis: %d)%s\n", version,
			       TR_SCHEMA_VERSION,
			       version < TR_SCHEMA_VERSION ? ": run `trellis db upgrade`" : "");
			code = version == TR_SCHEMA_VERSION ? 0 : 1;
		}
	} else if (!strcmp(argv[1], "upgrade")) {
		struct tr_store_opts opts = {.upgrade = true};
		struct tr_store *s = NULL;
		if (tr_store_open(uri, &opts, &s, &err)) {
			fprintf(stderr, "trellis db upgrade: %s\n", tr_buf_str(&err));
		} else {
			printf("store is at schema version %d\n", TR_SCHEMA_VERSION);
			code = 0;
		}
		tr_store_close(s);
	} else {
		code = usage(stderr, 2);
	}
	tr_buf_release(&err);
	return code;
}
