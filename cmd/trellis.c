/* SPDX-License-Identifier: Apache-2.0 */
/* main: parse the subcommand and hand over; no logic here. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trellis <command> [options]\n\n"
		"commands:\n"
		"  server    serve the MLflow-compatible tracking API (default 127.0.0.1:5000)\n"
		"  db        upgrade|check the store schema\n"
		"  audit     verify the tamper-evident audit log\n"
		"  backup    copy the store and the artifacts consistently to a folder\n"
		"  gc        remove the data and artifacts of runs deleted long ago\n"
		"  run       run a KFP-compiled or Trellis YAML pipeline on this machine\n"
		"  cache     purge the pipeline task cache\n"
		"  pipeline  validate|graph a KFP-compiled or Trellis YAML pipeline\n"
		"  task-shim supervise one task attempt (started by the scheduler)\n\n"
		"  trellis --version        print the version\n"
		"  trellis <command> --help describe a command's options\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *c = argv[1];
	if (!strcmp(c, "task-shim")) /* first: the start path of every task attempt */
		return cmd_task_shim(argc - 1, argv + 1);
	if (!strcmp(c, "task-zygote")) /* forks supervisors for the local executor */
		return cmd_task_zygote(argc - 1, argv + 1);
	if (!strcmp(c, "--version") || !strcmp(c, "version")) {
		printf("trellis %s\n", TR_VERSION);
		return 0;
	}
	if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(c, "server"))
		return cmd_server(argc - 1, argv + 1);
	if (!strcmp(c, "db"))
		return cmd_db(argc - 1, argv + 1);
	if (!strcmp(c, "audit"))
		return cmd_audit(argc - 1, argv + 1);
	if (!strcmp(c, "backup"))
		return cmd_backup(argc - 1, argv + 1);
	if (!strcmp(c, "gc"))
		return cmd_gc(argc - 1, argv + 1);
	if (!strcmp(c, "cache"))
		return cmd_cache(argc - 1, argv + 1);
	if (!strcmp(c, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(c, "pipeline"))
		return cmd_pipeline(argc - 1, argv + 1);
	fprintf(stderr, "trellis: unknown command '%s'\n\n", c);
	usage(stderr);
	return 2;
}
