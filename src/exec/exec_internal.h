/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the executor backends and the supervisor (not for the scheduler):
 * the attempt folder's file names, atomic files, /proc reading, and the
 * resource-limit mechanisms of limits.c.
 */
#ifndef TR_EXEC_INTERNAL_H
#define TR_EXEC_INTERNAL_H

#include "core/err.h"

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tr_buf;

#define TR_EXEC_SPEC_FILE   "spec.json"
#define TR_EXEC_PID_FILE    "pid"
#define TR_EXEC_LOG_FILE    "log"
#define TR_EXEC_STATUS_FILE "status.json"
#define TR_EXEC_SHIM_ERR    "supervisor.err" /* the supervisor's own stderr */

/* Writes NAME (permissions MODE) in the folder DFD atomically: .NAME.tmp,
 * rename; with DURABLE, fsync before the rename and fsync the folder after.
 * Readers see the old file, or the whole new one. Files that only matter
 * while the machine is up (the spec read at once, the pid file) skip the
 * fsyncs; status.json, which must survive a crash, does not. */
enum tr_err tr_exec_write_atomic(int dfd, const char *name, const void *data, size_t len, int mode,
				 bool durable, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Reads NAME in DFD (at most MAX bytes, else TR_ERR_TOO_LARGE) into OUT.
 * A missing file is TR_ERR_RESOURCE_DOES_NOT_EXIST. */
enum tr_err tr_exec_read_file(int dfd, const char *name, size_t max, struct tr_buf *out,
			      struct tr_buf *err) __attribute__((warn_unused_result));
/* The state letter and start time (clock ticks after boot) of PID from
 * /proc/PID/stat; false when there is no such process. PID 0: this process. */
bool tr_exec_proc_stat(pid_t pid, char *state /* OUT */, uint64_t *starttime /* OUT */);

/* The attributes every supervisor (and the zygote) is spawned with: a
 * session of its own, SIGTERM/SIGINT/SIGHUP/SIGCHLD blocked (it reads them
 * through a signalfd; a cancel that comes early must not kill it), the other
 * common signals at their defaults. Destroy with posix_spawnattr_destroy(). */
void tr_exec_supervisor_attrs(posix_spawnattr_t *attr /* OUT */);

/* ---- zygote.c: forks supervisors from one long-lived process ---- */

struct tr_zygote {
	int sock; /* -1: not running */
	pid_t pid;
};

/* Starts `EXE task-zygote USER` with environment ENV. Z is caller storage. */
enum tr_err tr_exec_zygote_start(const char *exe, const char *user, char *const *env,
				 struct tr_zygote *z, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Has the zygote fork the supervisor of the attempt in DIR (absolute).
 * Returns its pid and a new pidfd (the caller closes it). A zygote that does
 * not answer is stopped: TR_ERR_TEMPORARILY_UNAVAILABLE. */
enum tr_err tr_exec_zygote_spawn(struct tr_zygote *z, const char *dir, pid_t *pid /* OUT */,
				 int *pidfd /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Closes the zygote's socket and reaps it (supervisors keep running). */
void tr_exec_zygote_stop(struct tr_zygote *z);
/* `trellis task-zygote [USER]`: looks USER (the steps' usual user) up once,
 * then serves requests on SOCK until it closes; the exit code. */
int tr_exec_zygote_serve(int sock, const char *user);
/* shim.c: looks up our own name and USER's ids for the supervisors forked
 * after it (a spec naming another user is looked up as usual). */
void tr_exec_shim_prime_users(const char *user);

/* ---- limits.c: cgroup v2, cgroup v1 or rlimits for one step ---- */

#define TR_LIMITS_MAX_CG 5

struct tr_limits {
	char mechanism[16];	      /* "cgroup-v2", "cgroup-v1", "rlimit" */
	char *dirs[TR_LIMITS_MAX_CG]; /* cgroups made for the step, one per hierarchy */
	int n_dirs;
	const char *procs;	/* the folder whose cgroup.procs lists the whole tree */
	const char *memory_dir; /* holds the memory controller's files, or NULL */
	const char *freezer;	/* v1 freezer cgroup, or NULL */
	bool v2;
	uint64_t memory_bytes, cpu_millicores, pids; /* 0: none */
	int64_t oom_kills_before;		     /* v2 memory.events at setup */
};

/*
 * Picks the mechanism (FORCE NULL/"auto": cgroup v2 when the controllers
 * needed are delegated to our cgroup, else cgroup v1 where writable, else
 * rlimits) and makes the step's cgroups, named NAME, under this process's
 * own cgroups (so outer limits still hold). L is caller storage.
 */
enum tr_err tr_exec_limits_setup(struct tr_limits *l, const char *name, const char *force,
				 uint64_t memory_bytes, uint64_t cpu_millicores, uint64_t pids,
				 struct tr_buf *err) __attribute__((warn_unused_result));
/* In the step's process before exec: joins the cgroups or sets the rlimits.
 * 0 or an errno. */
int tr_exec_limits_enter(const struct tr_limits *l);
/* True when the tree is tracked by a cgroup (kills reach setsid escapees). */
bool tr_exec_limits_has_tree(const struct tr_limits *l);
/* Sends SIG to every process in the step's cgroup (freezing it first for
 * SIGKILL where a freezer exists, so nobody forks meanwhile). Returns how
 * many processes it signalled; 0 when the cgroup is empty. */
int tr_exec_limits_kill(const struct tr_limits *l, int sig);
/* OOM kills seen in the cgroup, and its peak memory (0 when unknown). */
void tr_exec_limits_stats(const struct tr_limits *l, bool *oom /* OUT */, uint64_t *peak /* OUT */);
/* Removes the cgroups (they must be empty) and frees L's strings. */
void tr_exec_limits_release(struct tr_limits *l);

#endif
