/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis task-shim DIR`: the supervisor of one task attempt (src/exec/shim.c),
 * started by the local executor. A lean start path: no store, no server, no
 * configuration beyond DIR/spec.json.
 */
#include "cmd.h"
#include "core/buf.h"
#include "exec/exec.h"
#include "exec/exec_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cmd_task_shim(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help") || argv[1][0] == '-') {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: trellis task-shim DIR\n\n"
			"Runs the task attempt described by DIR/spec.json under limits, logs its\n"
			"output to DIR/log and writes DIR/status.json when it ends. Started by\n"
			"the scheduler; SIGTERM cancels the attempt.\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	struct tr_buf err = TR_BUF_INIT;
	int code = 0;
	if (tr_exec_shim_run(argv[1], &err)) {
		fprintf(stderr, "trellis task-shim: %s\n", tr_buf_str(&err));
		code = 1;
	}
	tr_buf_release(&err);
	return code;
}

int cmd_task_zygote(int argc, char **argv)
{
	struct stat st;
	if (argc > 2 || fstat(3, &st) || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
			"usage: trellis task-zygote [USER] (with its socket on descriptor 3)\n\n"
			"Forks task supervisors on request of the scheduler that started it.\n");
		return 2;
	}
	return tr_exec_zygote_serve(3, argc == 2 ? argv[1] : NULL);
}
