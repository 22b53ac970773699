/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local executor: each attempt runs under its own supervisor,
 * `trellis task-shim DIR` (shim.c), started with posix_spawn() from this
 * binary (/proc/self/exe, which names the running program even after an
 * upgrade replaced the file) in a session of its own.
 *
 * A handle follows its supervisor through a pidfd, which epoll can wait on
 * and which cannot be confused by a reused pid. A supervisor we started is
 * our child and is reaped here with waitid(P_PIDFD); one adopted after a
 * restart is not, and its pidfd polls readable when it exits.
 *
 * Adopting trusts the pid file only together with the start time it records:
 * the pidfd is opened first and the process behind the pid is checked after,
 * so the pidfd is known to refer to the supervisor that wrote the file
 * (kill(pid, 0) would also succeed for a zombie or a stranger with a reused
 * pid).
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "exec/exec.h"
#include "exec/exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What the supervisor may see of our environment (it passes the same names
 * on to steps, plus the spec's variables). */
static const char *const env_allow[] = {"PATH", "HOME", "LANG", "TMPDIR"};

struct local_executor {
	struct tr_executor base;
	char *shim_path;
	char *user;
	struct tr_zygote zygote; /* started at the first attempt */
	bool zygote_failed;	 /* could not start or broke: spawn each supervisor */
};

struct local_attempt {
	struct tr_attempt base;
	pid_t pid;
	int pidfd;
};

static enum tr_err local_open(const struct tr_executor_config *cfg, struct tr_executor **out,
			      struct tr_buf *err)
{
	struct local_executor *ex = tr_xcalloc(1, sizeof(*ex));
	ex->base.ops = &tr_exec_local_ops;
	ex->shim_path = tr_xstrdup(cfg->shim_path ? cfg->shim_path : "/proc/self/exe");
	ex->user = tr_xstrdup(cfg->user ? cfg->user : "nobody");
	ex->zygote.sock = -1;
	*out = &ex->base;
	return TR_OK;
}

static void local_close(struct tr_executor *base)
{
	struct local_executor *ex = (struct local_executor *)base;
	tr_exec_zygote_stop(&ex->zygote);
	free(ex->shim_path);
	free(ex->user);
	free(ex);
}

static json_t *string_list(const char *const *list)
{
	json_t *a = json_array();
	for (size_t i = 0; list && list[i]; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

static char *spec_text(struct local_executor *ex, const struct tr_exec_request *req)
{
	json_t *j = json_object();
	json_object_set_new(j, "argv", string_list(req->argv));
	json_object_set_new(j, "env", string_list(req->env));
	json_object_set_new(j, "writable", string_list(req->writable));
	json_object_set_new(j, "hide", string_list(req->hide));
	json_object_set_new(j, "keep", string_list(req->keep));
	if (req->cwd)
		json_object_set_new(j, "cwd", json_string(req->cwd));
	if (req->memory)
		json_object_set_new(j, "memory", json_string(req->memory));
	if (req->cpu)
		json_object_set_new(j, "cpu", json_string(req->cpu));
	if (req->limit_mechanism)
		json_object_set_new(j, "limit_mechanism", json_string(req->limit_mechanism));
	json_object_set_new(j, "user", json_string(ex->user));
	json_object_set_new(j, "pids", json_integer(req->pids));
	json_object_set_new(j, "timeout_ms", json_integer(req->timeout_ms));
	json_object_set_new(j, "grace_ms", json_integer(req->grace_ms));
	json_object_set_new(j, "log_max_bytes", json_integer(req->log_max_bytes));
	char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	return text;
}

/* The allow-listed part of our environment; free each entry and the array. */
static char **shim_env(void)
{
	size_t n = sizeof(env_allow) / sizeof(env_allow[0]), k = 0;
	char **env = tr_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *v = getenv(env_allow[i]);
		if (v) {
			struct tr_buf b = TR_BUF_INIT;
			tr_buf_appendf(&b, "%s=%s", env_allow[i], v);
			env[k++] = tr_buf_detach(&b);
		}
	}
	return env;
}

static struct local_attempt *attempt_new(struct tr_executor *ex, const char *dir, pid_t pid,
					 int pidfd)
{
	struct local_attempt *a = tr_xcalloc(1, sizeof(*a));
	a->base.ex = ex;
	a->base.dir = tr_xstrdup(dir);
	a->pid = pid;
	a->pidfd = pidfd;
	a->base.done = pidfd < 0;
	return a;
}

static enum tr_err local_start(struct tr_executor *base, const struct tr_exec_request *req,
			       struct tr_attempt **out, struct tr_buf *err)
{
	struct local_executor *ex = (struct local_executor *)base;
	enum tr_err rc = TR_OK;
	char *spec = NULL, **env = NULL;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	bool have_attr = false, have_fa = false;
	if (mkdir(req->dir, 0755) && errno != EEXIST)
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot make attempt folder '%s': %s",
			       req->dir, strerror(errno));
	int dfd = open(req->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tr_fail(err, TR_ERR_IO_ERROR, "attempt folder '%s': %s", req->dir,
			       strerror(errno));
	/* an attempt folder serves one attempt: a retry gets a new one */
	if (!faccessat(dfd, TR_EXEC_PID_FILE, F_OK, 0) ||
	    !faccessat(dfd, TR_EXEC_STATUS_FILE, F_OK, 0)) {
		rc = tr_fail(err, TR_ERR_RESOURCE_ALREADY_EXISTS,
			     "attempt folder '%s' was used already", req->dir);
		goto out;
	}
	spec = spec_text(ex, req);
	/* 0600: the spec's variables may carry tokens the step alone should see */
	if ((rc = tr_exec_write_atomic(dfd, TR_EXEC_SPEC_FILE, spec, strlen(spec), 0600, false,
				       err)))
		goto out;
	env = shim_env();
	pid_t pid;
	int pidfd = -1;
	/* through the zygote: a fork instead of an exec of trellis */
	if (!ex->zygote_failed && ex->zygote.sock < 0 &&
	    tr_exec_zygote_start(ex->shim_path, ex->user, env, &ex->zygote, err)) {
		tr_buf_reset(err);
		ex->zygote_failed = true;
	}
	if (!ex->zygote_failed && req->dir[0] == '/') {
		struct tr_buf why = TR_BUF_INIT;
		if (!tr_exec_zygote_spawn(&ex->zygote, req->dir, &pid, &pidfd, &why)) {
			tr_buf_release(&why);
			goto started;
		}
		ex->zygote_failed = ex->zygote.sock < 0; /* broken, not a failed fork */
		tr_buf_release(&why);
	}
	struct tr_buf errpath = TR_BUF_INIT;
	tr_buf_appendf(&errpath, "%s/%s", req->dir, TR_EXEC_SHIM_ERR);
	tr_exec_supervisor_attrs(&attr);
	have_attr = true;
	posix_spawn_file_actions_init(&fa);
	have_fa = true;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, errpath.data, O_WRONLY | O_CREAT | O_APPEND, 0640);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	char *argv[] = {"trellis", "task-shim", (char *)req->dir, NULL};
	int e = posix_spawn(&pid, ex->shim_path, &fa, &attr, argv, env);
	tr_buf_release(&errpath);
	if (e) {
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start the supervisor '%s': %s",
			     ex->shim_path, strerror(e));
		goto out;
	}
	/* our unreaped child: its pid cannot be reused before we open the pidfd */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
started:
	*out = &attempt_new(base, req->dir, pid, pidfd)->base;
out:
	if (have_attr)
		posix_spawnattr_destroy(&attr);
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
	free(spec);
	close(dfd);
	return rc;
}

static enum tr_err local_adopt(struct tr_executor *ex, const char *dir, struct tr_attempt **out,
			       struct tr_buf *err)
{
	struct tr_buf text = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	int pidfd = -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "attempt folder '%s': %s", dir,
			       strerror(errno));
	long long pid = 0;
	unsigned long long recorded = 0;
	if (!tr_exec_read_file(dfd, TR_EXEC_PID_FILE, 256, &text, NULL) &&
	    sscanf(text.data, "%lld %llu", &pid, &recorded) == 2 && pid > 0 && pid < INT32_MAX) {
		pidfd = pidfd_open((pid_t)pid, 0);
		char state;
		uint64_t started;
		if (pidfd >= 0 && !(tr_exec_proc_stat((pid_t)pid, &state, &started) &&
				    started == recorded && state != 'Z' && state != 'X')) {
			close(pidfd); /* gone, a zombie, or somebody else now */
			pidfd = -1;
		}
	}
	/* alive: follow it; else its status, written last, says it finished */
	if (pidfd < 0 && faccessat(dfd, TR_EXEC_STATUS_FILE, F_OK, 0)) {
		rc = tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST,
			     "attempt '%s' has neither a live supervisor nor a status", dir);
		goto out;
	}
	*out = &attempt_new(ex, dir, (pid_t)pid, pidfd)->base;
out:
	close(dfd);
	tr_buf_release(&text);
	return rc;
}

static int local_fd(struct tr_attempt *base)
{
	return ((struct local_attempt *)base)->pidfd;
}

static enum tr_err local_poll(struct tr_attempt *base, struct tr_buf *err)
{
	struct local_attempt *a = (struct local_attempt *)base;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	/* our child: reap it (only this one: the pidfd names it) */
	if (!waitid(P_PIDFD, (id_t)a->pidfd, &si, WEXITED | WNOHANG)) {
		if (!si.si_pid)
			return TR_OK;
	} else if (errno == ECHILD) { /* adopted: not ours to reap */
		struct pollfd p = {.fd = a->pidfd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			return TR_OK;
	} else if (errno != EINTR) {
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "waitid: %s", strerror(errno));
	} else {
		return TR_OK;
	}
	close(a->pidfd);
	a->pidfd = -1;
	a->base.done = true;
	return TR_OK;
}

static enum tr_err local_cancel(struct tr_attempt *base, struct tr_buf *err)
{
	struct local_attempt *a = (struct local_attempt *)base;
	if (pidfd_send_signal(a->pidfd, SIGTERM, NULL, 0) && errno != ESRCH)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot signal the supervisor: %s",
			       strerror(errno));
	return TR_OK;
}

static void local_free(struct tr_attempt *base)
{
	struct local_attempt *a = (struct local_attempt *)base;
	if (a->pidfd >= 0)
		close(a->pidfd);
	free(a->base.dir);
	free(a);
}

const struct tr_executor_ops tr_exec_local_ops = {
    .name = "local",
    .open = local_open,
    .close = local_close,
    .start = local_start,
    .adopt = local_adopt,
    .fd = local_fd,
    .poll = local_poll,
    .cancel = local_cancel,
    .free = local_free,
};
