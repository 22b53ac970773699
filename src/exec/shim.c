/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task supervisor (`trellis task-shim DIR`): runs one attempt as
 * DIR/spec.json says and writes DIR/status.json when it ends. It is started
 * by the local executor in a session of its own and outlives a server crash;
 * the server re-attaches through DIR/pid (see local.c).
 *
 * Central ideas:
 *  - Limits apply to the step, never to the supervisor: the step's process
 *    joins its cgroups (limits.c) after fork and before exec, so everything it
 *    forks is inside, and an OOM kill cannot take the supervisor (which also
 *    sets its own oom_score_adj to -1000) and with it the status.
 *  - The supervisor is a child subreaper, so every orphan of the step, even
 *    one that called setsid(), is reparented here and reaped here; with a
 *    cgroup the tree is whatever cgroup.procs lists, killed with the freezer
 *    held (or cgroup.kill) until the cgroup is empty; without one, the step's
 *    process group and then the supervisor's children, round after round.
 *  - When the step's main process ends, whatever it left behind is killed:
 *    an attempt leaves no process behind, and its pipes reach end of file.
 *  - The step is the only process started, with clone(CLONE_VM|CLONE_VFORK)
 *    + execve() from this small single-threaded process (what posix_spawn()
 *    does inside, but posix_spawn() cannot join a cgroup before exec or change
 *    credentials, and a trampoline re-exec of trellis costs about 5 ms). The
 *    child only reads our memory and makes system calls until it execs. No
 *    shell is involved unless argv says `sh -c`.
 *  - When running as root, the step runs as an unprivileged user (default
 *    `nobody`) with no supplementary groups and no_new_privs; the log, pid
 *    and status files are written by the supervisor and stay root's.
 *  - status.json is written last and atomically; everything else (the log)
 *    is fsynced before it, so a status names a complete attempt.
 *
 * This path is lean: no store, no server, no allocator beyond what the spec
 * needs.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "exec/exec.h"
#include "exec/exec_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE	 (64 * 1024) /* a longer line is split */
#define DEFAULT_LOG_MAX	 (64LL * 1024 * 1024)
#define DEFAULT_GRACE_MS 5000
#define DRAIN_MS	 2000 /* after the tree is gone, to read what the pipes hold */
#define DEFAULT_PATH	 "/usr/local/bin:/usr/bin:/bin"
#define SPEC_MAX	 (1 << 20)

static const char *const env_allow[] = {"PATH", "HOME", "LANG", "TMPDIR"};

struct stream {
	int fd; /* -1 at end of file */
	const char *tag;
	struct tr_buf line; /* an incomplete line */
};

/* Where the step failed before exec, sent over a close-on-exec pipe. */
struct start_failure {
	int stage; /* enum stage */
	int err;
};
enum stage { ST_CGROUP, ST_STDIO, ST_HIDE, ST_CWD, ST_USER, ST_EXEC };

struct shim {
	int dfd;
	json_t *spec;
	const char *const *argv;
	const char *cwd, *memory, *cpu, *user_name, *mechanism;
	uint64_t memory_bytes, cpu_m, pids;
	int64_t timeout_ms, grace_ms, log_max;
	char **envp;

	bool switch_user;
	uid_t uid;
	gid_t gid;
	char user[64];

	struct tr_limits lim;
	bool limits_set;

	int log_fd;
	int64_t log_bytes, dropped;
	bool truncated;
	struct tr_buf pending; /* log text not yet written */

	struct stream streams[2];
	pid_t step;
	int wstatus;
	bool step_done, cancelled, timed_out, started;
	uint64_t deadline_us, kill_at_us, drain_until_us;
	int64_t start_ms, end_ms;
	struct tr_buf failure; /* why the step did not start */
};

/* ---- the log ---- */

static void stamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void log_flush(struct shim *s)
{
	size_t off = 0;
	while (s->log_fd >= 0 && off < s->pending.len) {
		ssize_t n = write(s->log_fd, s->pending.data + off, s->pending.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a full disk loses log text, never the status */
		off += (size_t)n;
	}
	tr_buf_reset(&s->pending);
}

/* One line of the log: "<UTC time> <tag> <text>\n". Step output counts
 * against the cap; the supervisor's own lines always go in. */
static void log_line(struct shim *s, const char *tag, const char *text, size_t len)
{
	char ts[40];
	size_t add = len + strlen(tag) + 32;
	if (strcmp(tag, "trellis")) {
		if (s->truncated || s->log_bytes + (int64_t)add > s->log_max) {
			if (!s->truncated) {
				s->truncated = true;
				char note[128];
				int n = snprintf(note, sizeof(note),
						 "log truncated at %lld bytes: further output "
						 "dropped",
						 (long long)s->log_max);
				log_line(s, "trellis", note, (size_t)n);
			}
			s->dropped += (int64_t)len + 1;
			return;
		}
	}
	stamp(ts, sizeof(ts));
	size_t before = s->pending.len;
	tr_buf_appendf(&s->pending, "%s %s ", ts, tag);
	tr_buf_append(&s->pending, text, len);
	tr_buf_appendc(&s->pending, '\n');
	s->log_bytes += (int64_t)(s->pending.len - before);
}

static void note(struct shim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct shim *s, const char *fmt, ...)
{
	struct tr_buf b = TR_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	tr_buf_vappendf(&b, fmt, ap);
	va_end(ap);
	log_line(s, "trellis", b.data, b.len);
	tr_buf_release(&b);
}

/* Reads what STREAM holds; cuts complete lines into the log. */
static void stream_read(struct shim *s, struct stream *st)
{
	char buf[16384];
	ssize_t n = read(st->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (st->line.len)
			log_line(s, st->tag, st->line.data, st->line.len);
		tr_buf_reset(&st->line);
		close(st->fd);
		st->fd = -1;
		return;
	}
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = (size_t)((nl ? nl : end) - p);
		if (st->line.len + take > MAX_LINE)
			take = MAX_LINE - st->line.len;
		tr_buf_append(&st->line, p, take);
		p += take;
		if (p < end && *p == '\n')
			p++;
		else if (st->line.len < MAX_LINE)
			break; /* incomplete: wait for the rest */
		log_line(s, st->tag, st->line.data, st->line.len);
		tr_buf_reset(&st->line);
	}
}

/* ---- the spec ---- */

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static enum tr_err read_spec(struct shim *s, struct tr_buf *err)
{
	struct tr_buf text = TR_BUF_INIT;
	enum tr_err rc = tr_exec_read_file(s->dfd, TR_EXEC_SPEC_FILE, SPEC_MAX, &text, err);
	if (rc)
		goto out;
	json_error_t jerr;
	s->spec = json_loadb(text.data, text.len, 0, &jerr);
	json_t *argv = json_object_get(s->spec, "argv");
	size_t n = json_array_size(argv);
	if (!json_is_object(s->spec) || !n) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "spec has no argv");
		goto out;
	}
	const char **args = tr_xcalloc(n + 1, sizeof(*args));
	for (size_t i = 0; i < n; i++)
		if (!(args[i] = json_string_value(json_array_get(argv, i))))
			args[i] = "";
	s->argv = args;
	s->cwd = jstr(s->spec, "cwd");
	s->memory = jstr(s->spec, "memory");
	s->cpu = jstr(s->spec, "cpu");
	s->user_name = jstr(s->spec, "user");
	s->mechanism = jstr(s->spec, "limit_mechanism");
	s->pids = (uint64_t)json_integer_value(json_object_get(s->spec, "pids"));
	s->timeout_ms = json_integer_value(json_object_get(s->spec, "timeout_ms"));
	s->grace_ms = json_integer_value(json_object_get(s->spec, "grace_ms"));
	s->log_max = json_integer_value(json_object_get(s->spec, "log_max_bytes"));
	if (s->grace_ms <= 0)
		s->grace_ms = DEFAULT_GRACE_MS;
	if (s->log_max <= 0)
		s->log_max = DEFAULT_LOG_MAX;
	if ((s->memory && (rc = tr_exec_parse_memory(s->memory, &s->memory_bytes, err))) ||
	    (s->cpu && (rc = tr_exec_parse_cpu(s->cpu, &s->cpu_m, err))))
		goto out;
	/* the environment: the allow-list from ours, then the spec's variables */
	json_t *env = json_object_get(s->spec, "env");
	size_t cap = sizeof(env_allow) / sizeof(env_allow[0]) + json_array_size(env) + 2, k = 0;
	s->envp = tr_xcalloc(cap, sizeof(char *));
	bool have_path = false;
	for (size_t i = 0; i < sizeof(env_allow) / sizeof(env_allow[0]); i++) {
		const char *v = getenv(env_allow[i]);
		if (!v)
			continue;
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appendf(&b, "%s=%s", env_allow[i], v);
		s->envp[k++] = tr_buf_detach(&b);
		have_path |= !strcmp(env_allow[i], "PATH");
	}
	if (!have_path)
		s->envp[k++] = tr_xstrdup("PATH=" DEFAULT_PATH);
	size_t i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *kv = json_string_value(v), *eq = kv ? strchr(kv, '=') : NULL;
		if (!eq || eq == kv)
			continue;
		for (size_t j = 0; j < k; j++) /* the spec's value wins */
			if (!strncmp(s->envp[j], kv, (size_t)(eq - kv) + 1)) {
				free(s->envp[j]);
				s->envp[j] = s->envp[--k];
				s->envp[k] = NULL;
				break;
			}
		s->envp[k++] = tr_xstrdup(kv);
	}
out:
	tr_buf_release(&text);
	return rc;
}

/* Users looked up before the fork by the zygote (tr_exec_shim_prime_users):
 * the name service (files, maybe more) is not asked again for every task. */
static struct {
	char self[64]; /* our own name, "" until known */
	char name[64]; /* the steps' usual user */
	uid_t uid;
	gid_t gid;
} user_cache;

void tr_exec_shim_prime_users(const char *name)
{
	struct passwd *pw = getpwuid(geteuid());
	snprintf(user_cache.self, sizeof(user_cache.self), "%s", pw ? pw->pw_name : "?");
	char buf[4096];
	struct passwd pwd;
	pw = NULL;
	if (name && *name && strlen(name) < sizeof(user_cache.name) &&
	    !getpwnam_r(name, &pwd, buf, sizeof(buf), &pw) && pw) {
		snprintf(user_cache.name, sizeof(user_cache.name), "%s", name);
		user_cache.uid = pw->pw_uid;
		user_cache.gid = pw->pw_gid;
	}
}

/* Whom the step runs as: the spec's user when we are root, else ourselves. */
static enum tr_err resolve_user(struct shim *s, struct tr_buf *err)
{
	const char *name = s->user_name;
	if (geteuid() != 0 || !name || !*name) {
		if (user_cache.self[0]) {
			snprintf(s->user, sizeof(s->user), "%s", user_cache.self);
			return TR_OK;
		}
		struct passwd *pw = getpwuid(geteuid());
		snprintf(s->user, sizeof(s->user), "%s", pw ? pw->pw_name : "?");
		return TR_OK;
	}
	char buf[4096];
	struct passwd pwd, *pw = NULL;
	char *end;
	unsigned long id = strtoul(name, &end, 10);
	if (end != name && (!*end || *end == ':')) { /* "uid" or "uid:gid" */
		s->uid = (uid_t)id;
		s->gid = (gid_t)(*end ? strtoul(end + 1, NULL, 10) : id);
	} else if (user_cache.name[0] && !strcmp(name, user_cache.name)) {
		s->uid = user_cache.uid;
		s->gid = user_cache.gid;
	} else if (!getpwnam_r(name, &pwd, buf, sizeof(buf), &pw) && pw) {
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
	} else {
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "unknown user '%s'", name);
	}
	if (s->uid == 0)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "steps may not run as root (user '%s')", name);
	s->switch_user = true;
	snprintf(s->user, sizeof(s->user), "%s", name);
	return TR_OK;
}

/* The spec's writable paths: relative, inside DIR, no "..". */
static bool writable_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *seg = p; seg; seg = strchr(seg, '/'), seg = seg ? seg + 1 : NULL)
		if (!strncmp(seg, "..", 2) && (seg[2] == '/' || !seg[2]))
			return false;
	return true;
}

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	lchown(path, chown_uid, chown_gid);
	return 0;
}

/* Makes the writable paths if missing and hands them to UID:GID (-1: no
 * change), or takes them back: a finished attempt's files are root's again,
 * out of reach of later steps. */
static void chown_writable(struct shim *s, const char *dir, uid_t uid, gid_t gid)
{
	json_t *w = json_object_get(s->spec, "writable"), *v;
	size_t i;
	chown_uid = uid;
	chown_gid = gid;
	json_array_foreach(w, i, v)
	{
		const char *rel = json_string_value(v);
		if (!rel || !writable_ok(rel))
			continue;
		struct tr_buf p = TR_BUF_INIT;
		tr_buf_appendf(&p, "%s/%s", dir, rel);
		for (char *c = p.data + strlen(dir) + 1; (c = strchr(c, '/')); c++) {
			*c = '\0';
			mkdir(p.data, 0755);
			*c = '/';
		}
		mkdir(p.data, 0755);
		if (uid != (uid_t)-1)
			nftw(p.data, chown_one, 16, FTW_PHYS);
		tr_buf_release(&p);
	}
}

/* ---- the step ---- */

/* Mounts the folder open as FD back at PATH, which lies inside the tmpfs at H
 * (HL bytes): the folders on the way are made in the tmpfs first. */
static int bind_back(const char *h, size_t hl, const char *path, int fd)
{
	char target[4096];
	snprintf(target, sizeof(target), "%s", path);
	for (char *c = target + hl + 1; (c = strchr(c, '/')); c++) {
		*c = '\0';
		mkdir(target, 0755);
		*c = '/';
	}
	mkdir(target, 0755);
	char src[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	return mount(src, target, NULL, MS_BIND | MS_REC, NULL) ? errno : 0;
}

/* Makes each folder in the spec's "hide" list an empty read-only tmpfs in a
 * mount namespace of the step's own, then mounts back the folders of its
 * "keep" list (the run's folder) and the attempt folder DIR where they were,
 * should they lie inside one. In the step's process, as root. 0 or an errno. */
static int hide_paths(struct shim *s, const char *dir)
{
	json_t *hide = json_object_get(s->spec, "hide"), *v;
	json_t *keeps = json_object_get(s->spec, "keep");
	size_t i;
	/* only a root supervisor can make the namespace; an unprivileged one runs
	 * the step as itself (no user switch either), which file modes govern */
	if (!json_array_size(hide) || geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return errno;
	int keep = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (keep < 0)
		return errno;
	/* the kept folders are opened before anything hides them */
	enum { MAX_KEEP = 8 };
	int kfd[MAX_KEEP];
	char kpath[MAX_KEEP][4096];
	size_t nk = 0;
	json_array_foreach(keeps, i, v)
	{
		const char *name = json_string_value(v);
		if (nk == MAX_KEEP || !name || name[0] != '/' || !realpath(name, kpath[nk]))
			continue;
		kfd[nk] = open(kpath[nk], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (kfd[nk] >= 0)
			nk++;
	}
	json_array_foreach(hide, i, v)
	{
		const char *name = json_string_value(v);
		char h[4096];
		struct stat st;
		if (!name || name[0] != '/' || !realpath(name, h) || stat(h, &st) ||
		    !S_ISDIR(st.st_mode))
			continue; /* absent: nothing to hide */
		if (mount("tmpfs", h, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=64k,mode=755"))
			return errno;
		size_t hl = strlen(h);
		for (size_t k = 0; k < nk; k++) {
			if (strncmp(kpath[k], h, hl) || kpath[k][hl] != '/')
				continue;
			int e = bind_back(h, hl, kpath[k], kfd[k]);
			if (e)
				return e;
		}
		if (!strncmp(dir, h, hl) && dir[hl] == '/') {
			/* the attempt's own folder stays: a mount point in the tmpfs */
			int e = bind_back(h, hl, dir, keep);
			if (e)
				return e;
		}
		if (mount(NULL, h, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL))
			return errno;
	}
	close(keep);
	for (size_t k = 0; k < nk; k++)
		close(kfd[k]);
	return 0;
}

static void exec_search(const char *const *argv, char **envp)
{
	const char *file = argv[0], *path = NULL;
	if (strchr(file, '/')) {
		execve(file, (char **)argv, envp);
		return;
	}
	for (char **e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	int found = ENOENT;
	char full[4096];
	for (const char *p = path ? path : DEFAULT_PATH;; p++) {
		const char *colon = strchrnul(p, ':');
		int n = snprintf(full, sizeof(full), "%.*s%s%s", (int)(colon - p), p,
				 colon == p ? "" : "/", file);
		if (n > 0 && (size_t)n < sizeof(full)) {
			struct stat st;
			execve(full, (char **)argv, envp);
			/* a folder on PATH we may not search is not "permission denied" */
			if (errno == EACCES) {
				if (!stat(full, &st))
					found = EACCES;
			} else if (errno != ENOENT && errno != ENOTDIR) {
				found = errno;
			}
		}
		if (!*colon)
			break;
		p = colon;
	}
	errno = found;
}

/* The step's process, between clone and exec, on our memory: system calls
 * and reads only (errno aside), no allocation, no stdio. Never returns. */
static void step_child(struct shim *s, const char *dir, int out_w, int err_w, int report)
{
	struct start_failure f = {ST_CGROUP, 0};
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid(); /* its own session and process group: the tree's handle without a cgroup */
	if ((f.err = tr_exec_limits_enter(&s->lim)))
		goto fail;
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) { /* the supervisor's -1000 is not the step's */
		if (write(fd, "0", 1) < 0) {
		}
		close(fd);
	}
	f.stage = ST_STDIO;
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		goto fail_errno;
	f.stage = ST_HIDE;
	if ((f.err = hide_paths(s, dir)))
		goto fail;
	f.stage = ST_CWD;
	if (chdir(s->cwd ? s->cwd : dir))
		goto fail_errno;
	f.stage = ST_USER;
	if (s->switch_user && (setgroups(1, &s->gid) || setresgid(s->gid, s->gid, s->gid) ||
			       setresuid(s->uid, s->uid, s->uid)))
		goto fail_errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		goto fail_errno;
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	f.stage = ST_EXEC;
	exec_search(s->argv, s->envp);
fail_errno:
	f.err = errno;
fail:
	if (write(report, &f, sizeof(f)) < 0) {
	}
	_exit(127);
}

static void describe_failure(struct shim *s, const struct start_failure *f)
{
	const char *e = strerror(f->err);
	switch (f->stage) {
	case ST_CGROUP:
		tr_buf_appendf(&s->failure, "cannot join the step's cgroup: %s", e);
		break;
	case ST_STDIO:
		tr_buf_appendf(&s->failure, "cannot set up the step's output: %s", e);
		break;
	case ST_HIDE:
		tr_buf_appendf(&s->failure, "cannot hide the server's folders from the step: %s",
			       e);
		break;
	case ST_CWD:
		tr_buf_appendf(&s->failure, "cannot enter folder '%s': %s", s->cwd ? s->cwd : ".",
			       e);
		break;
	case ST_USER:
		tr_buf_appendf(&s->failure, "cannot switch to user '%s': %s", s->user, e);
		break;
	default:
		tr_buf_appendf(&s->failure, "cannot run '%s': %s", s->argv[0], e);
	}
}

struct step_args {
	struct shim *s;
	const char *dir;
	int out_w, err_w, report;
};

static int step_entry(void *p)
{
	struct step_args *a = p;
	step_child(a->s, a->dir, a->out_w, a->err_w, a->report);
	return 127;
}

static enum tr_err start_step(struct shim *s, const char *dir, struct tr_buf *err)
{
	int out[2], errp[2], rep[2];
	if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "pipe: %s", strerror(errno));
	s->start_ms = tr_clock_now_ms();
	/* CLONE_VM|CLONE_VFORK (as posix_spawn does): the child borrows our memory
	 * until it execs, on a stack of its own, so no page tables are copied and
	 * no page is copied on write; we wait meanwhile. All signals are blocked
	 * around it so that no handler runs in the child on our memory. */
	const size_t stack_size = 256 * 1024; /* hide_paths() keeps paths on it */
	void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "mmap: %s", strerror(errno));
	struct step_args args = {s, dir, out[1], errp[1], rep[1]};
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid =
	    clone(step_entry, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
	int clone_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	munmap(stack, stack_size);
	if (pid < 0)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "clone: %s", strerror(clone_errno));
	close(out[1]);
	close(errp[1]);
	close(rep[1]);
	s->step = pid;
	s->streams[0] = (struct stream){.fd = out[0], .tag = "stdout"};
	s->streams[1] = (struct stream){.fd = errp[0], .tag = "stderr"};
	struct start_failure f;
	ssize_t n;
	while ((n = read(rep[0], &f, sizeof(f))) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (n == (ssize_t)sizeof(f)) {
		describe_failure(s, &f);
		note(s, "%s", s->failure.data);
	} else {
		s->started = true;
	}
	uint64_t now = tr_clock_mono_us();
	if (s->timeout_ms > 0)
		s->deadline_us = now + (uint64_t)s->timeout_ms * 1000;
	return TR_OK;
}

/* ---- the tree ---- */

/* Sends SIG to the supervisor's children that are still running (orphans of
 * the step land here: we are a subreaper). Returns how many. */
static int signal_children(int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	pid_t self = getpid();
	while (d && (e = readdir(d))) {
		char path[300], buf[512];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		char *p = strrchr(buf, ')'), state;
		int ppid;
		if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != self ||
		    state == 'Z' || state == 'X')
			continue;
		kill((pid_t)strtol(e->d_name, NULL, 10), sig);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Signals the whole tree; returns how many processes were still in it. */
static int tree_signal(struct shim *s, int sig)
{
	if (tr_exec_limits_has_tree(&s->lim))
		return tr_exec_limits_kill(&s->lim, sig);
	int n = 0;
	if (!s->step_done && kill(-s->step, sig) == 0)
		n++;
	return n + signal_children(sig);
}

static void reap(struct shim *s)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == s->step) {
			s->wstatus = st;
			s->step_done = true;
			s->end_ms = tr_clock_now_ms();
		}
}

/* Stops the tree for a timeout or a cancel: SIGTERM now, SIGKILL after the
 * grace period. */
static void stop_tree(struct shim *s)
{
	if (s->kill_at_us)
		return;
	tree_signal(s, SIGTERM);
	s->kill_at_us = tr_clock_mono_us() + (uint64_t)s->grace_ms * 1000;
}

/* ---- the end ---- */

static const char *reason_and_message(struct shim *s, bool oom, struct tr_buf *msg)
{
	int st = s->wstatus;
	if (!s->started) {
		tr_buf_appends(msg, s->failure.data);
		return "failed";
	}
	if (s->cancelled) {
		tr_buf_appends(msg, "cancelled");
		return "cancelled";
	}
	if (s->timed_out) {
		if (s->timeout_ms % 1000)
			tr_buf_appendf(msg, "timed out after %.3f s", (double)s->timeout_ms / 1000);
		else
			tr_buf_appendf(msg, "timed out after %lld s",
				       (long long)(s->timeout_ms / 1000));
		return "timeout";
	}
	if (oom && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		if (s->memory)
			tr_buf_appendf(msg, "out of memory (limit %s)", s->memory);
		else
			tr_buf_appends(msg, "out of memory");
		return "oom";
	}
	if (WIFSIGNALED(st)) {
		tr_buf_appendf(msg, "killed by signal %d (%s)", WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
		return "killed";
	}
	tr_buf_appendf(msg, "exit code %d", WEXITSTATUS(st));
	return "exited";
}

static enum tr_err write_status(struct shim *s, const char *reason, const char *msg, uint64_t peak,
				struct tr_buf *err)
{
	int st = s->wstatus;
	bool ran = s->started && s->step_done;
	json_t *j = json_pack("{s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:s, s:s, s:b, s:I, s:I}",
			      "reason", reason, "exit_code",
			      !ran	      ? 127
			      : WIFEXITED(st) ? WEXITSTATUS(st)
					      : -1,
			      "signal", ran && WIFSIGNALED(st) ? WTERMSIG(st) : 0, "message", msg,
			      "peak_rss_bytes", (json_int_t)peak, "start_time_ms",
			      (json_int_t)s->start_ms, "end_time_ms", (json_int_t)s->end_ms,
			      "limit_mechanism", s->lim.mechanism[0] ? s->lim.mechanism : "",
			      "user", s->user, "log_truncated", s->truncated, "log_dropped_bytes",
			      (json_int_t)s->dropped, "supervisor_pid", (json_int_t)getpid());
	json_t *limits = json_object();
	if (s->memory)
		json_object_set_new(limits, "memory", json_string(s->memory));
	if (s->cpu)
		json_object_set_new(limits, "cpu", json_string(s->cpu));
	if (s->pids)
		json_object_set_new(limits, "pids", json_integer((json_int_t)s->pids));
	if (s->timeout_ms)
		json_object_set_new(limits, "timeout_ms", json_integer(s->timeout_ms));
	/* rlimits cannot hold a cpu share or a process count for one step */
	if (!strcmp(s->lim.mechanism, "rlimit") && (s->cpu || s->pids))
		json_object_set_new(limits, "not_enforced",
				    json_string(s->cpu && s->pids ? "cpu, pids"
						: s->cpu	  ? "cpu"
								  : "pids"));
	json_object_set_new(j, "limits", limits);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	enum tr_err rc =
	    tr_exec_write_atomic(s->dfd, TR_EXEC_STATUS_FILE, text, strlen(text), 0644, true, err);
	free(text);
	return rc;
}

/* A status for an attempt whose step never ran (bad spec, no cgroup...). */
static enum tr_err fail_early(struct shim *s, const char *why, struct tr_buf *err)
{
	tr_buf_reset(&s->failure);
	tr_buf_appends(&s->failure, why);
	note(s, "%s", why);
	log_flush(s);
	s->start_ms = s->start_ms ? s->start_ms : tr_clock_now_ms();
	s->end_ms = tr_clock_now_ms();
	return write_status(s, "failed", why, 0, err);
}

/* ---- the loop ---- */

static void handle_signals(struct shim *s, int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(s);
		} else if (!s->step_done && !s->cancelled && !s->timed_out) {
			s->cancelled = true;
			note(s, "cancelled (signal %u): stopping the task", si.ssi_signo);
			stop_tree(s);
		}
	}
}

static void run_loop(struct shim *s, int sfd)
{
	bool leftovers_killed = false;
	for (;;) {
		uint64_t now = tr_clock_mono_us();
		if (s->step_done) {
			/* kill what the step left behind, until nothing is left */
			int n = tree_signal(s, SIGKILL);
			if (n && !leftovers_killed && !s->cancelled && !s->timed_out)
				note(s, "killed %d process%s the step left running", n,
				     n == 1 ? "" : "es");
			leftovers_killed = true;
			reap(s);
			if (!n && !s->drain_until_us)
				s->drain_until_us = now + DRAIN_MS * 1000;
		} else if (s->deadline_us && now >= s->deadline_us && !s->timed_out &&
			   !s->cancelled) {
			s->timed_out = true;
			note(s, "timed out after %lld ms: stopping the task",
			     (long long)s->timeout_ms);
			stop_tree(s);
		}
		if (s->kill_at_us && now >= s->kill_at_us)
			tree_signal(s, SIGKILL); /* again each round until the step is reaped */
		bool open = s->streams[0].fd >= 0 || s->streams[1].fd >= 0;
		if (s->drain_until_us && (!open || now >= s->drain_until_us))
			break;
		/* wake for the next deadline; every 10 ms while killing */
		int timeout = -1;
		uint64_t next = 0;
		if (!s->step_done && s->deadline_us && !s->timed_out)
			next = s->deadline_us;
		if (s->kill_at_us && !s->step_done)
			next = next && next < s->kill_at_us ? next : s->kill_at_us;
		if (next)
			timeout = next > now ? (int)((next - now) / 1000) + 1 : 0;
		if (s->step_done || (s->kill_at_us && now >= s->kill_at_us))
			timeout = 10;
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
				      {.fd = s->streams[0].fd, .events = POLLIN},
				      {.fd = s->streams[1].fd, .events = POLLIN}};
		int r = poll(p, 3, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && p[0].revents)
			handle_signals(s, sfd);
		for (int i = 0; i < 2; i++)
			if (r > 0 && p[i + 1].revents)
				stream_read(s, &s->streams[i]);
		log_flush(s);
	}
	for (int i = 0; i < 2; i++)
		if (s->streams[i].fd >= 0) {
			note(s,
			     "%s still held open by a process outside the task: not read further",
			     s->streams[i].tag);
			close(s->streams[i].fd);
			s->streams[i].fd = -1;
		}
}

enum tr_err tr_exec_shim_run(const char *dir_arg, struct tr_buf *err)
{
	char dir[4096];
	struct shim s = {.dfd = -1, .log_fd = -1, .streams = {{.fd = -1}, {.fd = -1}}};
	enum tr_err rc;
	struct tr_buf why = TR_BUF_INIT, msg = TR_BUF_INIT;
	int sfd = -1;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (getsid(0) != getpid())
		setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) { /* best effort: only root may lower it */
		if (write(fd, "-1000", 5) < 0) {
		}
		close(fd);
	}
	/* absolute from here on: the step's cwd, and hidden folders' exceptions */
	if (!realpath(dir_arg, dir) || (s.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "attempt folder '%s': %s",
			       dir_arg, strerror(errno));
	/* who we are, for tr_exec_adopt(): pid and start time (pids are reused) */
	char state, pidline[64];
	uint64_t started = 0;
	if (!tr_exec_proc_stat(0, &state, &started)) {
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot read /proc/self/stat");
		goto out;
	}
	int n = snprintf(pidline, sizeof(pidline), "%d %llu\n", (int)getpid(),
			 (unsigned long long)started);
	if ((rc = tr_exec_write_atomic(s.dfd, TR_EXEC_PID_FILE, pidline, (size_t)n, 0644, false,
				       err)))
		goto out;
	s.log_fd = openat(s.dfd, TR_EXEC_LOG_FILE,
			  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (s.log_fd < 0) {
		rc = tr_fail(err, TR_ERR_IO_ERROR, "cannot open the log: %s", strerror(errno));
		goto out;
	}
	s.log_max = DEFAULT_LOG_MAX;
	if (read_spec(&s, &why) || resolve_user(&s, &why)) {
		rc = fail_early(&s, why.data, err);
		goto out;
	}
	char cgname[64];
	snprintf(cgname, sizeof(cgname), "trellis-%d-%llu", (int)getpid(),
		 (unsigned long long)started);
	if (tr_exec_limits_setup(&s.lim, cgname, s.mechanism, s.memory_bytes, s.cpu_m, s.pids,
				 &why)) {
		rc = fail_early(&s, why.data, err);
		goto out;
	}
	s.limits_set = true;
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		rc = tr_fail(err, TR_ERR_INTERNAL_ERROR, "signalfd: %s", strerror(errno));
		goto out;
	}
	chown_writable(&s, dir, s.switch_user ? s.uid : (uid_t)-1,
		       s.switch_user ? s.gid : (gid_t)-1);
	if (start_step(&s, dir, &why)) {
		rc = fail_early(&s, why.data, err);
		goto out;
	}
	run_loop(&s, sfd);
	if (!s.end_ms)
		s.end_ms = tr_clock_now_ms();
	bool oom = false;
	uint64_t peak = 0;
	tr_exec_limits_stats(&s.lim, &oom, &peak);
	if (!peak) { /* no cgroup: the largest process the supervisor reaped */
		struct rusage ru;
		if (!getrusage(RUSAGE_CHILDREN, &ru))
			peak = (uint64_t)ru.ru_maxrss * 1024;
	}
	const char *reason = reason_and_message(&s, oom, &msg);
	note(&s, "%s: %s", reason, msg.data);
	if (s.truncated)
		note(&s, "%lld bytes of output were dropped", (long long)s.dropped);
	log_flush(&s);
	if (s.log_bytes) /* an empty log has nothing to lose */
		fsync(s.log_fd);
	if (s.switch_user) {
		struct stat st;
		if (!fstat(s.dfd, &st))
			chown_writable(&s, dir, geteuid(), st.st_gid);
	}
	tr_exec_limits_release(&s.lim);
	s.limits_set = false;
	rc = write_status(&s, reason, msg.data, peak, err);
out:
	if (s.limits_set) {
		tree_signal(&s, SIGKILL);
		tr_exec_limits_release(&s.lim);
	}
	if (sfd >= 0)
		close(sfd);
	if (s.log_fd >= 0)
		close(s.log_fd);
	close(s.dfd);
	json_decref(s.spec);
	free((void *)s.argv);
	for (size_t i = 0; s.envp && s.envp[i]; i++)
		free(s.envp[i]);
	free(s.envp);
	for (int i = 0; i < 2; i++)
		tr_buf_release(&s.streams[i].line);
	tr_buf_release(&s.pending);
	tr_buf_release(&s.failure);
	tr_buf_release(&why);
	tr_buf_release(&msg);
	return rc;
}
