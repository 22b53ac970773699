/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor zygote (`trellis task-zygote`): one process per executor,
 * started once, that forks a supervisor for each attempt instead of the
 * scheduler exec'ing `trellis task-shim` every time. An exec of trellis maps
 * and relocates some twenty shared libraries (about 7 ms on a small machine);
 * a fork of this small, already-linked process costs a fraction of one.
 *
 * The protocol, over a SOCK_SEQPACKET pair (one message each way per attempt):
 *   scheduler -> zygote: the attempt folder, NUL-terminated
 *   zygote -> scheduler: struct zygote_reply, with the supervisor's pidfd
 *                        attached (SCM_RIGHTS) when err is 0
 * The zygote opens the pidfd right after fork, before it could reap the child,
 * so the pidfd names the supervisor even if the pid is reused later; the
 * scheduler follows it like an adopted supervisor (it is not its child).
 *
 * A supervisor forked here starts as `trellis task-shim DIR` would: in a
 * session of its own, stdin and stdout on /dev/null, stderr the
 * scheduler's (an error it returns goes to DIR's supervisor.err, as from
 * `trellis task-shim`), no other descriptors, SIGTERM/SIGINT/SIGHUP/SIGCHLD blocked
 * (the zygote was spawned that way and keeps it). The zygote reaps its
 * children and ends when the scheduler closes its end; running supervisors
 * carry on without it.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "exec/exec.h"
#include "exec/exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct zygote_reply {
	int32_t pid;
	int32_t err; /* errno of a failed fork; 0: the pidfd is attached */
};

/* ---- the zygote's side ---- */

/* In the forked child: becomes the supervisor of the attempt in DIR. */
static void become_supervisor(const char *dir)
{
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		_exit(127);
	/* stderr stays the scheduler's: a supervisor that crashes (or a
	 * sanitizer's report) is seen in the scheduler's log */
	close_range(3, ~0U, 0);
	struct tr_buf err = TR_BUF_INIT;
	if (!tr_exec_shim_run(dir, &err))
		_exit(0);
	/* made only when there is something to say: one file less per task */
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, TR_EXEC_SHIM_ERR);
	FILE *f = fopen(path, "ae");
	if (f) {
		fprintf(f, "trellis task-shim: %s\n", tr_buf_str(&err));
		fclose(f);
	}
	_exit(1);
}

static void reply(int sock, pid_t pid, int e, int pidfd)
{
	struct zygote_reply r = {.pid = (int32_t)pid, .err = e};
	struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (pidfd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
	}
	while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
	}
}

int tr_exec_zygote_serve(int sock, const char *user)
{
	tr_exec_shim_prime_users(user);
	tzset(); /* the time zone is read here once, not in every supervisor */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "trellis task-zygote: signalfd: %s\n", strerror(errno));
		return 1;
	}
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0) {
			}
			while (waitpid(-1, NULL, WNOHANG) > 0) {
			}
		}
		if (!p[0].revents)
			continue;
		char dir[4097];
		ssize_t n = recv(sock, dir, sizeof(dir) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the scheduler is gone */
		dir[n] = '\0';
		if (strlen(dir) != (size_t)n - 1 || dir[0] != '/') {
			reply(sock, 0, EINVAL, -1);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0)
			become_supervisor(dir);
		if (pid < 0) {
			reply(sock, 0, errno, -1);
			continue;
		}
		/* not reaped before this: the pid still names our child */
		int pidfd = pidfd_open(pid, 0);
		if (pidfd < 0) {
			int e = errno;
			kill(pid, SIGKILL);
			reply(sock, 0, e, -1);
			continue;
		}
		reply(sock, pid, 0, pidfd);
		close(pidfd);
	}
	close(sfd);
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	return 0;
}

/* ---- the scheduler's side ---- */

enum tr_err tr_exec_zygote_start(const char *exe, const char *user, char *const *env,
				 struct tr_zygote *z, struct tr_buf *err)
{
	int sv[2];
	z->sock = -1;
	z->pid = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "socketpair: %s", strerror(errno));
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	tr_exec_supervisor_attrs(&attr);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	char *argv[] = {"trellis", "task-zygote", (char *)user, NULL};
	/* every library's symbols bound at its start, once, rather than lazily
	 * in each supervisor it forks (steps do not inherit this: a supervisor
	 * builds their environment from an allow-list) */
	size_t n = 0;
	while (env && env[n])
		n++;
	char **zenv = tr_xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		zenv[i] = env[i];
	zenv[n] = "LD_BIND_NOW=1";
	pid_t pid;
	int e = posix_spawn(&pid, exe, &fa, &attr, argv, zenv);
	free(zenv);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (e) {
		close(sv[0]);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start '%s task-zygote': %s", exe,
			       strerror(e));
	}
	z->sock = sv[0];
	z->pid = pid;
	return TR_OK;
}

enum tr_err tr_exec_zygote_spawn(struct tr_zygote *z, const char *dir, pid_t *pid, int *pidfd,
				 struct tr_buf *err)
{
	*pidfd = -1;
	if (z->sock < 0)
		return tr_fail(err, TR_ERR_INVALID_STATE, "the zygote is not running");
	size_t len = strlen(dir) + 1;
	if (len > 4096)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "attempt folder name too long");
	ssize_t n;
	while ((n = send(z->sock, dir, len, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
	}
	if (n != (ssize_t)len)
		goto broken;
	struct zygote_reply r;
	struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl)};
	while ((n = recvmsg(z->sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
	}
	if (n != (ssize_t)sizeof(r))
		goto broken;
	int fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (r.err || fd < 0) {
		if (fd >= 0)
			close(fd);
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot start the supervisor: %s",
			       strerror(r.err ? r.err : EPROTO));
	}
	*pid = (pid_t)r.pid;
	*pidfd = fd;
	return TR_OK;
broken:
	tr_exec_zygote_stop(z);
	return tr_fail(err, TR_ERR_TEMPORARILY_UNAVAILABLE, "the zygote stopped answering");
}

void tr_exec_zygote_stop(struct tr_zygote *z)
{
	if (z->sock >= 0)
		close(z->sock); /* it sees end of file and exits */
	z->sock = -1;
	if (z->pid > 0)
		while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR) {
		}
	z->pid = 0;
}
