/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Executors: where one attempt of one pipeline task runs. A backend is an ops
 * table (`local` today; `slurm` and `kubernetes` later) behind the tr_exec_*()
 * wrappers; the scheduler speaks only to the wrappers.
 *
 * An attempt lives in its folder DIR (runs/<run>/<task>/<attempt>/), which is
 * the whole contract between the scheduler and the attempt's supervisor:
 *   spec.json    what to run, written by tr_exec_start() before the spawn
 *   pid          "<pid> <starttime>\n" of the supervisor, written when it starts
 *   log          the step's stdout and stderr, one timestamped line each
 *   status.json  how it ended, written last (temp file, fsync, rename, fsync
 *                folder): its presence means the attempt finished
 * so a scheduler that restarts re-attaches with tr_exec_adopt(DIR).
 *
 * Lifecycle: tr_executor_open() → tr_exec_start() or tr_exec_adopt() →
 * tr_exec_fd()/tr_exec_poll()/tr_exec_wait() until done → tr_exec_result() →
 * tr_exec_free() → tr_executor_close(). An executor and its attempts belong to
 * one thread (the scheduler's event loop).
 */
#ifndef TR_EXEC_EXEC_H
#define TR_EXEC_EXEC_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

struct tr_buf;

/* What the scheduler asks for: one attempt. Strings are borrowed for the call. */
struct tr_exec_request {
	const char *dir;	     /* attempt folder; made if missing (its parent must exist) */
	const char *const *argv;     /* NULL-terminated; argv[0] is searched on the step's PATH;
					never run through a shell unless it says `sh -c` itself */
	const char *const *env;	     /* NULL-terminated "NAME=value" added to the allow-list */
	const char *cwd;	     /* NULL: DIR */
	const char *memory;	     /* "64M", "500Mi", "1Gi"; NULL: no limit */
	const char *cpu;	     /* "500m", "2"; NULL: no limit */
	int64_t pids;		     /* most processes at once; 0: no limit */
	int64_t timeout_ms;	     /* 0: none */
	int64_t grace_ms;	     /* SIGTERM to SIGKILL on timeout/cancel; 0: 5 s */
	int64_t log_max_bytes;	     /* cap of the log file; 0: 64 MiB */
	const char *const *writable; /* paths under DIR handed to the step's user while it runs */
	const char *const *hide;     /* absolute folders the step must not see (the store's, the
					artifact root): empty in its mount namespace, but for DIR;
					ignored when the supervisor is not root */
	const char *const *keep;     /* absolute folders inside HIDE ones the step still sees
					(its own run's folder) */
	const char
	    *limit_mechanism; /* NULL or "auto"; "cgroup-v2", "cgroup-v1", "rlimit" force one */
};

/* Why an attempt ended (status.json "reason"). */
#define TR_EXEC_REASON_MAP(X)                                                                      \
	X(EXITED, "exited")                                                                        \
	X(KILLED, "killed")                                                                        \
	X(OOM, "oom")                                                                              \
	X(TIMEOUT, "timeout")                                                                      \
	X(CANCELLED, "cancelled")                                                                  \
	X(FAILED, "failed") /* could not start the step, or the supervisor broke */

enum tr_exec_reason {
#define TR_EXEC_REASON_ENUM(name, text) TR_EXEC_##name,
	TR_EXEC_REASON_MAP(TR_EXEC_REASON_ENUM)
#undef TR_EXEC_REASON_ENUM
};

/* The end of an attempt, from its status.json. Caller storage, no heap. */
struct tr_exec_result {
	enum tr_exec_reason reason;
	int exit_code;		  /* the step's exit code; -1 when it died of a signal */
	int signal;		  /* the signal that ended it; 0 when it exited */
	char message[256];	  /* "exit code 3", "out of memory (limit 64M)", ... */
	uint64_t peak_rss_bytes;  /* the cgroup's peak, else the largest process's */
	int64_t start_ms, end_ms; /* Unix epoch milliseconds */
	char mechanism[16];	  /* "cgroup-v2", "cgroup-v1" or "rlimit" */
	char user[64];		  /* who the step ran as */
	bool log_truncated;	  /* the log reached its cap; the rest was dropped */
};

/* Defaults of the local executor. */
struct tr_executor_config {
	const char *shim_path; /* the trellis binary; NULL: /proc/self/exe */
	const char *user;      /* when root, steps run as this user; NULL: "nobody"; "": as root */
};

/* ---- for backends: base structs and the ops table ---- */

struct tr_executor {
	const struct tr_executor_ops *ops; /* first member of every backend's struct */
};

struct tr_attempt {
	struct tr_executor *ex; /* first member of every backend's attempt */
	char *dir;
	bool done; /* the supervisor is gone: status.json (if any) is final */
};

struct tr_executor_ops {
	const char *name; /* "local" */
	enum tr_err (*open)(const struct tr_executor_config *cfg, struct tr_executor **out,
			    struct tr_buf *err);
	void (*close)(struct tr_executor *ex);
	enum tr_err (*start)(struct tr_executor *ex, const struct tr_exec_request *req,
			     struct tr_attempt **out, struct tr_buf *err);
	enum tr_err (*adopt)(struct tr_executor *ex, const char *dir, struct tr_attempt **out,
			     struct tr_buf *err);
	int (*fd)(struct tr_attempt *a);
	enum tr_err (*poll)(struct tr_attempt *a, struct tr_buf *err); /* sets a->done */
	enum tr_err (*cancel)(struct tr_attempt *a, struct tr_buf *err);
	void (*free)(struct tr_attempt *a);
};

extern const struct tr_executor_ops tr_exec_local_ops;

/* ---- the API ---- */

/* Opens the executor named NAME ("local"); CFG may be NULL. Returns a new
 * executor; close with tr_executor_close(). */
enum tr_err tr_executor_open(const char *name, const struct tr_executor_config *cfg,
			     struct tr_executor **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Closes EX (NULL is a no-op). Running attempts keep running. */
void tr_executor_close(struct tr_executor *ex);

/*
 * Starts one attempt: checks REQ, writes DIR/spec.json, spawns the supervisor
 * and returns. Returns a new attempt; free with tr_exec_free(). A step that
 * cannot start (no such program) is not an error here: the attempt ends with
 * reason FAILED.
 */
enum tr_err tr_exec_start(struct tr_executor *ex, const struct tr_exec_request *req,
			  struct tr_attempt **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/*
 * Re-attaches to the attempt in DIR after a restart. A live supervisor (its
 * pid file names a process with the same start time) is followed; an attempt
 * with status.json is returned done. Neither: TR_ERR_RESOURCE_DOES_NOT_EXIST
 * (the attempt died with its supervisor: a failed attempt for the retry
 * policy). Returns a new attempt; free with tr_exec_free().
 */
enum tr_err tr_exec_adopt(struct tr_executor *ex, const char *dir, struct tr_attempt **out,
			  struct tr_buf *err) __attribute__((warn_unused_result));
/* A descriptor that polls readable when the attempt may have finished (a
 * pidfd for epoll); -1 once done. Borrowed; valid until tr_exec_free(). */
int tr_exec_fd(struct tr_attempt *a);
/* Checks without blocking whether the attempt finished; sets *DONE. */
enum tr_err tr_exec_poll(struct tr_attempt *a, bool *done /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Waits up to TIMEOUT_MS (-1: forever) for the attempt to finish; sets *DONE. */
enum tr_err tr_exec_wait(struct tr_attempt *a, int timeout_ms, bool *done /* OUT */,
			 struct tr_buf *err) __attribute__((warn_unused_result));
/* Asks the supervisor to stop the attempt: the step's whole tree gets SIGTERM,
 * then SIGKILL after the grace period; the reason becomes "cancelled". */
enum tr_err tr_exec_cancel(struct tr_attempt *a, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Reads the end of a finished attempt. Before it is done: TR_ERR_INVALID_STATE
 * (a running attempt's files are not trusted); done without status.json:
 * TR_ERR_DATA_LOSS (the supervisor died). */
enum tr_err tr_exec_result(struct tr_attempt *a, struct tr_exec_result *out /* OUT */,
			   struct tr_buf *err) __attribute__((warn_unused_result));
/* Frees the handle (NULL is a no-op); the attempt itself keeps running. */
void tr_exec_free(struct tr_attempt *a);

/* "exited", "oom", ...; static. */
const char *tr_exec_reason_name(enum tr_exec_reason r);

/*
 * Resource strings, Kubernetes style. Memory: a number with an optional
 * fraction and suffix k K M G T P E (powers of 1000) or Ki Mi Gi Ti Pi Ei
 * (powers of 1024): "64M", "500Mi", "1.5Gi", "1000000". CPU: cores ("2",
 * "0.5") or millicores ("500m"). For the pipeline validator as well.
 */
enum tr_err tr_exec_parse_memory(const char *s, uint64_t *bytes /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_exec_parse_cpu(const char *s, uint64_t *millicores /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * The supervisor: runs the attempt in DIR as DIR/spec.json says, in the
 * calling process, and returns when DIR/status.json is written (TR_OK) or
 * could not be. `trellis task-shim DIR` is this call; see shim.c.
 */
enum tr_err tr_exec_shim_run(const char *dir, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
