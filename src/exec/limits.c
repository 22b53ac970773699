/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource limits for one step, by the best mechanism this machine offers:
 *
 *  - cgroup v2, when the memory and pids controllers (and cpu, if asked for)
 *    are delegated to the supervisor's own cgroup;
 *  - else cgroup v1, when the memory hierarchy is mounted and writable (as on
 *    hosts where v2 exists but carries no controllers); the step also joins
 *    the pids, freezer and cpu hierarchies where they are mounted;
 *  - else rlimits: RLIMIT_AS for memory, so an allocation fails with ENOMEM
 *    instead of an OOM kill, and no tree tracking (the supervisor then finds
 *    the tree as a child subreaper, see shim.c).
 *
 * The step's cgroups are made under the supervisor's own cgroups, so limits
 * set on the server still bound its steps. The supervisor itself never joins
 * them: only the step's process does, before exec, so nothing it forks is
 * outside, and an OOM kill can only hit the step.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "exec/exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Reads a small file (a cgroup knob) into BUF; false on any failure. */
static bool read_small(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return true;
}

/* Writes VALUE to DIR/FILE; 0 or an errno. */
static int write_knob(const char *dir, const char *file, const char *value)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t len = strlen(value);
	int e = write(fd, value, len) == (ssize_t)len ? 0 : errno ? errno : EIO;
	close(fd);
	return e;
}

/* The number after "KEY " in a flat-keyed cgroup file, or -1. */
static int64_t keyed_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
	return -1;
}

/* Whether the comma-separated LIST holds WORD. */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p;) {
		if (!strncmp(p, word, n) &&
		    (p[n] == ',' || p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
		p = strpbrk(p, ", ");
		if (p)
			p++;
	}
	return false;
}

/*
 * This process's cgroup folder in the v1 hierarchy holding CONTROLLER (or the
 * v2 one when CONTROLLER is NULL), from /proc/self/cgroup and mountinfo.
 * Returns a new string (free with free()) or NULL.
 */
static char *own_cgroup_dir(const char *controller)
{
	char *result = NULL, *cgpath = NULL, line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return NULL;
	while (!cgpath && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0'; /* "id:controllers:path" */
		const char *ctrls = c1 + 1;
		if (controller ? list_has(ctrls, controller) : !strcmp(line, "0") && !*ctrls)
			cgpath = tr_xstrdup(c2 + 1);
	}
	fclose(f);
	if (!cgpath)
		return NULL;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && !result && fgets(line, sizeof(line), f)) {
		/* id parent dev root mountpoint opts [optional...] - fstype source superopts */
		char root[1024], mnt[1024], fstype[64], super[1024];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (controller ? strcmp(fstype, "cgroup") || !list_has(super, controller)
			       : strcmp(fstype, "cgroup2"))
			continue;
		size_t rlen = strcmp(root, "/") ? strlen(root) : 0;
		if (rlen && (strncmp(cgpath, root, rlen) || (cgpath[rlen] && cgpath[rlen] != '/')))
			continue; /* our cgroup is not visible in this mount */
		struct tr_buf b = TR_BUF_INIT;
		tr_buf_appendf(&b, "%s%s", mnt, strcmp(cgpath + rlen, "/") ? cgpath + rlen : "");
		result = tr_buf_detach(&b);
	}
	if (f)
		fclose(f);
	free(cgpath);
	return result;
}

static char *make_child(const char *parent, const char *name, struct tr_buf *err)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "%s/%s", parent, name);
	if (mkdir(b.data, 0755)) {
		tr_fail(err, TR_ERR_IO_ERROR, "cannot make cgroup '%s': %s", b.data,
			strerror(errno));
		tr_buf_release(&b);
		return NULL;
	}
	return tr_buf_detach(&b);
}

static enum tr_err setup_v2(struct tr_limits *l, const char *name, struct tr_buf *err)
{
	char ctl[512] = "", sub[512] = "", val[64];
	char *base = own_cgroup_dir(NULL);
	enum tr_err rc = TR_ERR_NOT_IMPLEMENTED;
	const char *need[] = {"memory", "pids", l->cpu_millicores ? "cpu" : NULL};
	if (!base || !read_small(base, "cgroup.controllers", ctl, sizeof(ctl))) {
		tr_fail(err, rc, "no cgroup v2 mount holds this process");
		goto out;
	}
	read_small(base, "cgroup.subtree_control", sub, sizeof(sub));
	for (size_t i = 0; i < 3; i++) {
		if (!need[i] || list_has(sub, need[i]))
			continue;
		snprintf(val, sizeof(val), "+%s", need[i]);
		int e = list_has(ctl, need[i]) ? write_knob(base, "cgroup.subtree_control", val)
					       : ENOENT;
		if (e) {
			tr_fail(err, rc, "cgroup v2 controller '%s' is not delegated to '%s'",
				need[i], base);
			goto out;
		}
	}
	if (!(l->dirs[0] = make_child(base, name, err)))
		goto out;
	l->n_dirs = 1;
	l->v2 = true;
	l->procs = l->memory_dir = l->dirs[0];
	if (l->memory_bytes) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)l->memory_bytes);
		if (write_knob(l->dirs[0], "memory.max", val)) {
			tr_fail(err, TR_ERR_IO_ERROR, "cannot set memory.max in '%s'", l->dirs[0]);
			goto out;
		}
		write_knob(l->dirs[0], "memory.swap.max", "0"); /* absent without swap */
	}
	if (l->pids) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)l->pids);
		write_knob(l->dirs[0], "pids.max", val);
	}
	if (l->cpu_millicores) {
		snprintf(
		    val, sizeof(val), "%llu 100000",
		    (unsigned long long)(l->cpu_millicores < 10 ? 1000 : l->cpu_millicores * 100));
		write_knob(l->dirs[0], "cpu.max", val);
	}
	snprintf(l->mechanism, sizeof(l->mechanism), "cgroup-v2");
	rc = TR_OK;
out:
	free(base);
	return rc;
}

static enum tr_err setup_v1(struct tr_limits *l, const char *name, struct tr_buf *err)
{
	/* Only the hierarchies a limit needs, and the freezer: each cgroup costs
	 * a mkdir, a join and an rmdir per task. The tree is the memory cgroup
	 * when there is one, else the freezer's. Without a memory limit the peak
	 * comes from the largest process (getrusage), not from a cgroup. */
	static const char *const hier[] = {"memory", "pids", "freezer", "cpu"};
	const bool wanted[] = {l->memory_bytes > 0, l->pids > 0, true, l->cpu_millicores > 0};
	char val[64];
	for (size_t i = 0; i < sizeof(hier) / sizeof(hier[0]); i++) {
		if (!wanted[i])
			continue;
		char *base = own_cgroup_dir(hier[i]);
		if (!base || access(base, W_OK)) {
			free(base);
			if (i == 0)
				return tr_fail(err, TR_ERR_NOT_IMPLEMENTED,
					       "no writable cgroup v1 memory hierarchy");
			continue;
		}
		char *dir = make_child(base, name, err);
		free(base);
		if (!dir && i == 0)
			return TR_ERR_IO_ERROR;
		if (!dir)
			continue; /* the others help; the limits are in the memory hierarchy */
		l->dirs[l->n_dirs++] = dir;
		if (!strcmp(hier[i], "memory")) {
			l->procs = l->memory_dir = dir;
			if (l->memory_bytes) {
				snprintf(val, sizeof(val), "%llu",
					 (unsigned long long)l->memory_bytes);
				if (write_knob(dir, "memory.limit_in_bytes", val))
					return tr_fail(err, TR_ERR_IO_ERROR,
						       "cannot set memory.limit_in_bytes in '%s'",
						       dir);
				/* no swapping past the limit, where swap accounting exists */
				write_knob(dir, "memory.memsw.limit_in_bytes", val);
			}
		} else if (!strcmp(hier[i], "pids") && l->pids) {
			snprintf(val, sizeof(val), "%llu", (unsigned long long)l->pids);
			write_knob(dir, "pids.max", val);
		} else if (!strcmp(hier[i], "freezer")) {
			l->freezer = dir;
			if (!l->procs)
				l->procs = dir;
		} else if (!strcmp(hier[i], "cpu")) {
			write_knob(dir, "cpu.cfs_period_us", "100000");
			snprintf(val, sizeof(val), "%llu",
				 (unsigned long long)(l->cpu_millicores < 10
							  ? 1000
							  : l->cpu_millicores * 100));
			write_knob(dir, "cpu.cfs_quota_us", val);
		}
	}
	if (!l->procs)
		return tr_fail(err, TR_ERR_NOT_IMPLEMENTED,
			       "no writable cgroup v1 memory or freezer hierarchy");
	snprintf(l->mechanism, sizeof(l->mechanism), "cgroup-v1");
	return TR_OK;
}

enum tr_err tr_exec_limits_setup(struct tr_limits *l, const char *name, const char *force,
				 uint64_t memory_bytes, uint64_t cpu_millicores, uint64_t pids,
				 struct tr_buf *err)
{
	memset(l, 0, sizeof(*l));
	l->memory_bytes = memory_bytes;
	l->cpu_millicores = cpu_millicores;
	l->pids = pids;
	bool any = !force || !*force || !strcmp(force, "auto");
	struct tr_buf why = TR_BUF_INIT;
	enum tr_err rc = TR_ERR_NOT_IMPLEMENTED;
	if (any || !strcmp(force, "cgroup-v2")) {
		rc = setup_v2(l, name, &why);
		if (rc && l->n_dirs)
			tr_exec_limits_release(l);
		if (!rc || !any)
			goto out;
	}
	if (any || !strcmp(force, "cgroup-v1")) {
		l->memory_bytes = memory_bytes;
		l->cpu_millicores = cpu_millicores;
		l->pids = pids;
		rc = setup_v1(l, name, &why);
		if (rc)
			tr_exec_limits_release(l);
		if (!rc || !any)
			goto out;
	}
	if (any || !strcmp(force, "rlimit")) {
		l->memory_bytes = memory_bytes;
		l->cpu_millicores = cpu_millicores;
		l->pids = pids;
		snprintf(l->mechanism, sizeof(l->mechanism), "rlimit");
		rc = TR_OK;
		goto out;
	}
	tr_buf_reset(&why);
	tr_buf_appendf(&why, "unknown limit mechanism '%s'", force);
	rc = TR_ERR_INVALID_PARAMETER_VALUE;
out:
	if (rc)
		tr_fail(err, rc, "%s", tr_buf_str(&why));
	tr_buf_release(&why);
	return rc;
}

int tr_exec_limits_enter(const struct tr_limits *l)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	for (int i = 0; i < l->n_dirs; i++) {
		int e = write_knob(l->dirs[i], "cgroup.procs", pid);
		if (e)
			return e;
	}
	if (!l->n_dirs && l->memory_bytes) {
		struct rlimit r = {.rlim_cur = l->memory_bytes, .rlim_max = l->memory_bytes};
		if (setrlimit(RLIMIT_AS, &r))
			return errno;
	}
	return 0;
}

bool tr_exec_limits_has_tree(const struct tr_limits *l)
{
	return l->procs != NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Signals every pid listed in DIR/cgroup.procs; how many were listed. */
static int signal_procs(const char *dir, int sig)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int n = 0, pid;
	while (fscanf(f, "%d", &pid) == 1) {
		if (pid > 0)
			kill(pid, sig);
		n++;
	}
	fclose(f);
	return n;
}

int tr_exec_limits_kill(const struct tr_limits *l, int sig)
{
	if (!l->procs)
		return 0;
	if (sig == SIGKILL && l->v2 && !write_knob(l->procs, "cgroup.kill", "1"))
		return signal_procs(l->procs, 0);
	bool frozen = false;
	/* an empty cgroup needs no freezing (which is not free: the kernel
	 * patches code when the first cgroup freezes) */
	if (sig == SIGKILL && l->freezer && !signal_procs(l->procs, 0))
		return 0;
	if (sig == SIGKILL && l->freezer && !write_knob(l->freezer, "freezer.state", "FROZEN")) {
		/* a frozen tree cannot fork between our read of the list and the kill */
		char state[32] = "";
		for (int i = 0; i < 200; i++) {
			if (read_small(l->freezer, "freezer.state", state, sizeof(state)) &&
			    !strncmp(state, "FROZEN", 6))
				break;
			pause_ms(1);
		}
		frozen = true;
	}
	int n = signal_procs(l->procs, sig);
	if (frozen)
		write_knob(l->freezer, "freezer.state", "THAWED");
	return n;
}

void tr_exec_limits_stats(const struct tr_limits *l, bool *oom, uint64_t *peak)
{
	char text[4096];
	*oom = false;
	*peak = 0;
	if (!l->memory_dir)
		return;
	if (l->v2) {
		if (read_small(l->memory_dir, "memory.events", text, sizeof(text)))
			*oom = keyed_value(text, "oom_kill") > 0;
		if (read_small(l->memory_dir, "memory.peak", text, sizeof(text)))
			*peak = strtoull(text, NULL, 10);
		return;
	}
	if (read_small(l->memory_dir, "memory.oom_control", text, sizeof(text))) {
		int64_t kills = keyed_value(text, "oom_kill");
		if (kills >= 0)
			*oom = kills > 0;
		else if (read_small(l->memory_dir, "memory.failcnt", text, sizeof(text)))
			*oom = strtoll(text, NULL, 10) > 0; /* kernels before 4.13 */
	}
	if (read_small(l->memory_dir, "memory.max_usage_in_bytes", text, sizeof(text)))
		*peak = strtoull(text, NULL, 10);
}

void tr_exec_limits_release(struct tr_limits *l)
{
	for (int i = 0; i < l->n_dirs; i++) {
		/* a killed process leaves its cgroup a moment after it is reaped */
		for (int tries = 0; rmdir(l->dirs[i]) && errno == EBUSY && tries < 500; tries++)
			pause_ms(2);
		free(l->dirs[i]);
		l->dirs[i] = NULL;
	}
	l->n_dirs = 0;
	l->procs = l->memory_dir = l->freezer = NULL;
	l->v2 = false;
}
