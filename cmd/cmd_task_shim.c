/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis task-shim DIR`: the supervisor of one task attempt (src/exec/shim.c),
 * started by the local executor. A lean start path: no store, no server, no
 * configuration beyond DIR/spec.json.
 */
#include "cmd.h"
#include "core/buf.h"
#include "exec/exec.h"

#include <stdio.h>
#include <string.h>

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
