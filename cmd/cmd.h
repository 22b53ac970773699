/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommands of the trellis binary. Each returns the process exit code. */
#ifndef TR_CMD_H
#define TR_CMD_H

int cmd_server(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_task_shim(int argc, char **argv);
int cmd_task_zygote(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_cache(int argc, char **argv);

#define TR_DEFAULT_STORE_URI "sqlite:///trellis.db"
#define TR_DEFAULT_ARTIFACTS "./trellis-artifacts"

#endif
