/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local executor and its supervisor, for real: every test starts
 * `trellis task-shim` (TRELLIS_BIN, set by `make unit`) on a real step and
 * checks what the attempt folder says afterwards and what /proc shows. On
 * this project's machines (root, cgroup v1 writable) nothing is skipped: a
 * missing mechanism fails the test that needs it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "exec/exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char base[64];  /* this run's folder under /tmp */
static int attempt_no; /* a fresh attempt folder per start */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int setup(void **state)
{
	snprintf(base, sizeof(base), "/tmp/trellis-exec-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	chmod(base, 0755); /* the step's user may pass through, as through runs/ */
	return 0;
}

static int teardown(void **state)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct tr_executor *executor(void)
{
	const char *bin = getenv("TRELLIS_BIN");
	if (!bin)
		fail_msg("TRELLIS_BIN is not set (run through `make unit`)");
	struct tr_executor_config cfg = {.shim_path = bin};
	struct tr_executor *ex = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_executor_open("local", &cfg, &ex, &err))
		fail_msg("open: %s", tr_buf_str(&err));
	tr_buf_release(&err);
	return ex;
}

static char *new_dir(void)
{
	static char dir[128];
	snprintf(dir, sizeof(dir), "%s/attempt-%d", base, ++attempt_no);
	return dir;
}

static struct tr_attempt *start(struct tr_executor *ex, struct tr_exec_request *req)
{
	struct tr_attempt *a = NULL;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_exec_start(ex, req, &a, &err))
		fail_msg("start: %s", tr_buf_str(&err));
	tr_buf_release(&err);
	return a;
}

static char *read_text(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	struct tr_buf b = TR_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tr_buf_append(&b, chunk, n);
	fclose(f);
	tr_buf_appends(&b, "");
	return tr_buf_detach(&b);
}

static void finish(struct tr_attempt *a, struct tr_exec_result *r)
{
	struct tr_buf err = TR_BUF_INIT;
	bool done = false;
	assert_int_equal(tr_exec_wait(a, 60000, &done, &err), TR_OK);
	assert_true(done);
	assert_int_equal(tr_exec_fd(a), -1);
	if (tr_exec_result(a, r, &err))
		fail_msg("result: %s", tr_buf_str(&err));
	tr_buf_release(&err);
	/* the supervisor's own stderr: empty, also under the sanitizers */
	char *complaints = read_text(a->dir, "supervisor.err");
	if (*complaints)
		fail_msg("the supervisor wrote to stderr:\n%s", complaints);
	free(complaints);
}

/* Runs REQ to its end. */
static void run(struct tr_exec_request *req, struct tr_exec_result *r)
{
	struct tr_executor *ex = executor();
	struct tr_attempt *a = start(ex, req);
	finish(a, r);
	tr_exec_free(a);
	tr_executor_close(ex);
}

/* How many running processes have exactly ARGV0 ARG1 as their command line
 * (zombies have none). */
static int count_procs(const char *argv0, const char *arg1)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		char path[300], buf[256];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		size_t l0 = strlen(buf);
		if (!strcmp(buf, argv0) && (ssize_t)l0 + 1 < len && !strcmp(buf + l0 + 1, arg1))
			n++;
	}
	closedir(d);
	return n;
}

/* A sleep duration no other process on the machine uses: the marker by which
 * the tests find what a step left behind. */
static const char *marker(void)
{
	static char m[32];
	static int k;
	snprintf(m, sizeof(m), "%d", 700000 + (int)(getpid() % 10000) * 10 + ++k);
	return m;
}

static void exit_code_and_log_lines(void **state)
{
	const char *argv[] = {"sh", "-c",
			      "echo hello; echo oops >&2; echo; printf 'no newline'; exit 3", NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv};
	struct tr_exec_result r;
	run(&req, &r);
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.signal, 0);
	assert_string_equal(r.message, "exit code 3");
	assert_string_equal(r.mechanism, "cgroup-v1"); /* this machine: v2 has no controllers */
	assert_string_equal(r.user, "nobody");
	assert_true(r.start_ms > 0 && r.end_ms >= r.start_ms);
	assert_false(r.log_truncated);
	char *log = read_text(req.dir, "log");
	assert_non_null(strstr(log, "Z stdout hello\n"));
	assert_non_null(strstr(log, "Z stderr oops\n"));
	assert_non_null(strstr(log, "Z stdout \n"));
	assert_non_null(strstr(log, "Z stdout no newline\n"));
	assert_non_null(strstr(log, "Z trellis exited: exit code 3\n"));
	/* "2025-01-31T12:34:56.789Z stdout hello" */
	assert_true(log[4] == '-' && log[10] == 'T' && log[19] == '.' && log[23] == 'Z');
	free(log);
	char *pid = read_text(req.dir, "pid");
	int p;
	unsigned long long t;
	assert_int_equal(sscanf(pid, "%d %llu", &p, &t), 2);
	free(pid);
}

static void start_failure_is_reported(void **state)
{
	const char *argv[] = {"no-such-program-for-trellis", NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv};
	struct tr_exec_result r;
	run(&req, &r);
	assert_int_equal(r.reason, TR_EXEC_FAILED);
	assert_int_equal(r.exit_code, 127);
	assert_string_equal(r.message,
			    "cannot run 'no-such-program-for-trellis': No such file or directory");
	/* a used folder is not started twice */
	struct tr_executor *ex = executor();
	struct tr_attempt *a = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_exec_start(ex, &req, &a, &err), TR_ERR_RESOURCE_ALREADY_EXISTS);
	/* bad requests never reach a process */
	req.dir = new_dir();
	req.memory = "64MB";
	assert_int_equal(tr_exec_start(ex, &req, &a, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	assert_string_equal(tr_buf_str(&err), "memory '64MB' is not a size like 64M, 500Mi or 1Gi");
	tr_buf_release(&err);
	tr_executor_close(ex);
}

/* The memory cgroup of this process (the supervisor's too). */
/* Our own cgroup in the v1 hierarchy HIER ("memory", "freezer"). */
static void own_v1_cgroup(const char *hier, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512], key[32];
	snprintf(key, sizeof(key), ":%s:", hier);
	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);
		if (p) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(out, cap, "/sys/fs/cgroup/%s%s", hier, p + strlen(key));
		}
	}
	if (f)
		fclose(f);
}

static void own_memory_cgroup(char *out, size_t cap)
{
	own_v1_cgroup("memory", out, cap);
}

/* The step cgroups of supervisor PID in DIR ("trellis-<pid>-<start time>"). */
static int count_step_cgroups(const char *dir, int pid)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char prefix[32];
	int n = 0;
	snprintf(prefix, sizeof(prefix), "trellis-%d-", pid);
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

/* The pids in the step cgroup of supervisor PID, as text. */
static char *step_cgroup_procs(const char *dir, int pid)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char prefix[32], path[1024];
	char *procs = strdup("");
	snprintf(prefix, sizeof(prefix), "trellis-%d-", pid);
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			free(procs);
			procs = read_text(path, "cgroup.procs");
		}
	if (d)
		closedir(d);
	return procs;
}

static void memory_hog_is_oom_killed_through_cgroup_v1(void **state)
{
	char cg[512];
	own_memory_cgroup(cg, sizeof(cg));
	assert_true(cg[0]);
	/* dd fills one 256 MiB buffer: deterministic, no interpreter involved */
	const char *argv[] = {"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1", NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv, .memory = "64M"};
	struct tr_exec_result r;
	run(&req, &r);
	assert_string_equal(r.mechanism, "cgroup-v1");
	assert_int_equal(r.reason, TR_EXEC_OOM);
	assert_string_equal(r.message, "out of memory (limit 64M)");
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.peak_rss_bytes > 32000000 && r.peak_rss_bytes <= 64000000 + 4096);
	char *log = read_text(req.dir, "log");
	assert_non_null(strstr(log, "trellis oom: out of memory (limit 64M)\n"));
	free(log);
	char *status = read_text(req.dir, "status.json");
	assert_non_null(strstr(status, "\"memory\": \"64M\""));
	const char *sp = strstr(status, "\"supervisor_pid\": ");
	assert_non_null(sp);
	assert_int_equal(count_step_cgroups(cg, (int)strtol(sp + 18, NULL, 10)),
			 0); /* removed at the end */
	free(status);
}

static void rlimit_gives_enomem_instead(void **state)
{
	const char *argv[] = {"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1", NULL};
	struct tr_exec_request req = {
	    .dir = new_dir(), .argv = argv, .memory = "64Mi", .limit_mechanism = "rlimit"};
	struct tr_exec_result r;
	run(&req, &r);
	assert_string_equal(r.mechanism, "rlimit");
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_equal(r.exit_code, 1);
	char *log = read_text(req.dir, "log");
	assert_non_null(strstr(log, "stderr dd: memory exhausted"));
	free(log);
}

/* Runs a step that leaves a setsid escapee and a plain background child, with
 * MECHANISM; TIMEOUT_MS 0 lets the main process exit at once. */
static void tree_is_killed(const char *mechanism, int64_t timeout_ms)
{
	const char *m = marker();
	char script[512];
	/* prints its own session, then the escapee's, from /proc/PID/stat field 6 */
	snprintf(script, sizeof(script),
		 "echo main $(cut -d' ' -f6 /proc/$$/stat); "
		 "setsid sh -c 'echo escapee $(cut -d\" \" -f6 /proc/$$/stat); touch out/ready; "
		 "exec sleep %s' & sleep %s & "
		 "while [ ! -e out/ready ]; do sleep 0.01; done; %s",
		 m, m, timeout_ms ? "sleep 100" : "echo leaving");
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *writable[] = {"out", NULL};
	struct tr_exec_request req = {.dir = new_dir(),
				      .argv = argv,
				      .writable = writable,
				      .timeout_ms = timeout_ms,
				      .grace_ms = 200,
				      .limit_mechanism = mechanism};
	struct tr_exec_result r;
	run(&req, &r);
	assert_string_equal(r.mechanism, mechanism);
	char *log = read_text(req.dir, "log");
	const char *a = strstr(log, "stdout main "), *b = strstr(log, "stdout escapee ");
	if (!a || !b)
		fail_msg("no session lines in the log:\n%s", log);
	assert_true(strtol(a + 12, NULL, 10) != strtol(b + 15, NULL, 10)); /* it escaped */
	if (timeout_ms) {
		assert_int_equal(r.reason, TR_EXEC_TIMEOUT);
		assert_string_equal(r.message, "timed out after 1 s");
		assert_non_null(strstr(log, "trellis timed out after 1000 ms: stopping the task"));
	} else {
		assert_int_equal(r.reason, TR_EXEC_EXITED);
		assert_int_equal(r.exit_code, 0);
		assert_non_null(strstr(log, "killed 2 processes the step left running"));
	}
	free(log);
	assert_int_equal(count_procs("sleep", m), 0);
}

static void timeout_kills_tree_with_setsid_escapee(void **state)
{
	tree_is_killed("cgroup-v1", 1000);
}

static void forked_children_are_not_left_behind(void **state)
{
	tree_is_killed("cgroup-v1", 0);
}

static void without_cgroup_the_subreaper_finds_the_tree(void **state)
{
	tree_is_killed("rlimit", 1000);
	tree_is_killed("rlimit", 0);
}

static void cancel_stops_the_attempt(void **state)
{
	const char *m = marker();
	const char *argv[] = {"sleep", m, NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv, .grace_ms = 200};
	struct tr_executor *ex = executor();
	struct tr_attempt *a = start(ex, &req);
	struct tr_buf err = TR_BUF_INIT;
	struct tr_exec_result r;
	bool done = true;
	assert_int_equal(tr_exec_wait(a, 300, &done, &err), TR_OK);
	assert_false(done);
	assert_true(tr_exec_fd(a) >= 0);
	assert_int_equal(count_procs("sleep", m), 1);
	/* the step, not the supervisor, is in the attempt's cgroup */
	char cg[512], *pidfile = read_text(req.dir, "pid");
	int shim = (int)strtol(pidfile, NULL, 10);
	free(pidfile);
	/* no memory limit: no memory cgroup, the freezer's holds the tree */
	own_memory_cgroup(cg, sizeof(cg));
	assert_int_equal(count_step_cgroups(cg, shim), 0);
	own_v1_cgroup("freezer", cg, sizeof(cg));
	assert_true(cg[0]);
	assert_int_equal(count_step_cgroups(cg, shim), 1);
	char *procs = step_cgroup_procs(cg, shim), self[32];
	snprintf(self, sizeof(self), "%d\n", shim);
	assert_int_equal(strspn(procs, "0123456789\n"), strlen(procs));
	assert_true(strlen(procs) > 1 && !strchr(strchr(procs, '\n') + 1, '\n')); /* one: sleep */
	assert_true(strncmp(procs, self, strlen(self)));
	free(procs);
	assert_int_equal(tr_exec_result(a, &r, &err), TR_ERR_INVALID_STATE);
	assert_int_equal(tr_exec_cancel(a, &err), TR_OK);
	finish(a, &r);
	assert_int_equal(r.reason, TR_EXEC_CANCELLED);
	assert_string_equal(r.message, "cancelled");
	assert_int_equal(count_step_cgroups(cg, shim), 0);
	assert_int_equal(r.signal, SIGTERM);
	assert_int_equal(count_procs("sleep", m), 0);
	tr_buf_release(&err);
	tr_exec_free(a);
	tr_executor_close(ex);
}

/* The command line of process PID, NULs as spaces. */
static void cmdline_of(int pid, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	if (f)
		fclose(f);
	for (size_t i = 0; i < n; i++)
		out[i] = out[i] ? out[i] : ' ';
	out[n] = '\0';
}

static int parent_of(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'), st;
	int ppid = 0;
	if (!p || sscanf(p + 1, " %c %d", &st, &ppid) != 2)
		return 0;
	return ppid;
}

/* The supervisor's pid, once it has written its pid file. */
static int supervisor_pid(const char *dir)
{
	int pid = 0;
	for (int i = 0; i < 500 && pid <= 0; i++) {
		char *text = read_text(dir, "pid");
		pid = (int)strtol(text, NULL, 10);
		free(text);
		if (pid <= 0)
			usleep(10000);
	}
	return pid;
}

/* Supervisors are forked by one zygote per executor, not exec'd each time;
 * when the zygote is gone, attempts still start (a supervisor of their own). */
static void supervisors_come_from_the_zygote(void **state)
{
	const char *m = marker();
	const char *argv[] = {"sleep", m, NULL};
	struct tr_executor *ex = executor();
	struct tr_exec_request req1 = {.dir = new_dir(), .argv = argv, .grace_ms = 100};
	struct tr_attempt *a = start(ex, &req1);
	int shim1 = supervisor_pid(req1.dir);
	struct tr_exec_request req2 = {.dir = new_dir(), .argv = argv, .grace_ms = 100};
	struct tr_attempt *b = start(ex, &req2);
	int shim2 = supervisor_pid(req2.dir);
	int zygote = parent_of(shim1);
	char cmd[512];
	cmdline_of(zygote, cmd, sizeof(cmd));
	assert_non_null(strstr(cmd, "task-zygote"));
	assert_int_equal(parent_of(shim2), zygote); /* the same one */
	/* the zygote dies: running supervisors carry on, new attempts start */
	assert_int_equal(kill(zygote, SIGKILL), 0);
	struct tr_exec_request req3 = {.dir = new_dir(), .argv = argv, .grace_ms = 100};
	struct tr_attempt *c = start(ex, &req3);
	struct tr_exec_result r;
	struct tr_buf err = TR_BUF_INIT;
	for (int i = 0; i < 500 && count_procs("sleep", m) < 3; i++)
		usleep(10000); /* the steps start a moment after their supervisors */
	assert_int_equal(count_procs("sleep", m), 3);
	struct tr_attempt *all[] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tr_exec_cancel(all[i], &err), TR_OK);
		finish(all[i], &r);
		assert_int_equal(r.reason, TR_EXEC_CANCELLED);
		tr_exec_free(all[i]);
	}
	assert_int_equal(count_procs("sleep", m), 0);
	tr_buf_release(&err);
	tr_executor_close(ex);
}

static void environment_is_an_allow_list(void **state)
{
	setenv("TRELLIS_TEST_SECRET", "leaked", 1);
	setenv("LANG", "C.UTF-8", 1);
	const char *argv[] = {"env", NULL};
	const char *env[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv, .env = env};
	struct tr_exec_result r;
	run(&req, &r);
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_equal(r.exit_code, 0);
	char *log = read_text(req.dir, "log");
	assert_non_null(strstr(log, " stdout FOO=bar\n"));
	assert_non_null(strstr(log, " stdout PATH=/usr/bin:/bin\n")); /* the spec's wins */
	assert_non_null(strstr(log, " stdout LANG=C.UTF-8\n"));
	assert_null(strstr(log, "TRELLIS_TEST_SECRET"));
	/* nothing but the allow-list and the spec's variables */
	static const char *const allowed[] = {"PATH=", "HOME=", "LANG=", "TMPDIR=", "FOO="};
	for (char *p = strstr(log, " stdout "); p; p = strstr(p + 1, " stdout ")) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok |= !strncmp(p + 8, allowed[i], strlen(allowed[i]));
		if (!ok)
			fail_msg("unexpected variable: %.40s", p + 8);
	}
	free(log);
	unsetenv("TRELLIS_TEST_SECRET");
}

static void adopt_after_the_parent_died(void **state)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s", new_dir());
	pid_t parent = fork();
	assert_true(parent >= 0);
	if (parent == 0) { /* a scheduler that starts the attempt and dies */
		const char *argv[] = {"sh", "-c", "sleep 0.5; echo adopted", NULL};
		struct tr_exec_request req = {.dir = dir, .argv = argv};
		struct tr_executor *ex = executor();
		struct tr_attempt *a = NULL;
		struct tr_buf err = TR_BUF_INIT;
		_exit(tr_exec_start(ex, &req, &a, &err) ? 1 : 0);
	}
	int st;
	assert_int_equal(waitpid(parent, &st, 0), parent);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	struct tr_executor *ex = executor();
	struct tr_attempt *a = NULL;
	struct tr_buf err = TR_BUF_INIT;
	/* the supervisor may not have written its pid file yet */
	enum tr_err rc = TR_ERR_RESOURCE_DOES_NOT_EXIST;
	for (int i = 0; i < 200 && rc == TR_ERR_RESOURCE_DOES_NOT_EXIST; i++) {
		rc = tr_exec_adopt(ex, dir, &a, &err);
		if (rc)
			usleep(5000);
	}
	if (rc)
		fail_msg("adopt: %s", tr_buf_str(&err));
	bool done = true;
	assert_int_equal(tr_exec_poll(a, &done, &err), TR_OK);
	assert_false(done); /* re-attached to a live supervisor, not to its status */
	struct tr_exec_result r;
	finish(a, &r);
	tr_exec_free(a);
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_equal(r.exit_code, 0);
	char *log = read_text(dir, "log");
	assert_non_null(strstr(log, "stdout adopted\n"));
	free(log);
	/* adopting a finished attempt reads its status */
	assert_int_equal(tr_exec_adopt(ex, dir, &a, &err), TR_OK);
	finish(a, &r);
	tr_exec_free(a);
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	/* a pid file naming a live process with another start time is not proof */
	char *fake = new_dir(), path[256];
	mkdir(fake, 0755);
	snprintf(path, sizeof(path), "%s/pid", fake);
	FILE *f = fopen(path, "w");
	fprintf(f, "%d 1\n", (int)getpid());
	fclose(f);
	assert_int_equal(tr_exec_adopt(ex, fake, &a, &err), TR_ERR_RESOURCE_DOES_NOT_EXIST);
	tr_buf_release(&err);
	tr_executor_close(ex);
}

static void step_cannot_open_the_store(void **state)
{
	char store[256], pub[256], script[1024];
	snprintf(store, sizeof(store), "%s/store.db", base);
	snprintf(pub, sizeof(pub), "%s/public.txt", base);
	FILE *f = fopen(store, "w");
	fputs("secret\n", f);
	fclose(f);
	chmod(store, 0600);
	f = fopen(pub, "w");
	fputs("public\n", f);
	fclose(f);
	chmod(pub, 0644);
	snprintf(script, sizeof(script),
		 "id -un; cat %s; cat %s; echo appended >> %s; echo result > out/r.txt && echo "
		 "wrote; echo x > not-writable.txt",
		 pub, store, store);
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *writable[] = {"out", NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv, .writable = writable};
	struct tr_exec_result r;
	run(&req, &r);
	assert_string_equal(r.user, "nobody");
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_not_equal(r.exit_code, 0);
	char *log = read_text(req.dir, "log");
	assert_non_null(strstr(log, "stdout nobody\n"));
	assert_non_null(strstr(log, "stdout public\n")); /* the folder itself is reachable */
	assert_null(strstr(log, "secret"));
	char want[300];
	snprintf(want, sizeof(want), "cat: %s: Permission denied", store);
	assert_non_null(strstr(log, want)); /* EACCES */
	assert_non_null(strstr(log, "stdout wrote\n"));
	assert_non_null(strstr(log, "not-writable.txt: Permission denied"));
	free(log);
	char *s = read_text(base, "store.db");
	assert_string_equal(s, "secret\n");
	free(s);
	/* the attempt's outputs are root's again once it ended */
	struct stat st;
	char out[300];
	snprintf(out, sizeof(out), "%s/out/r.txt", req.dir);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_uid, 0);
}

static void hidden_folders_are_empty_but_the_attempts_own(void **state)
{
	char other[256], script[1024];
	snprintf(other, sizeof(other), "%s/other-run", base);
	mkdir(other, 0755);
	snprintf(other, sizeof(other), "%s/other-run/output.txt", base);
	FILE *f = fopen(other, "w");
	fputs("other\n", f);
	fclose(f);
	chmod(other, 0666); /* even world-writable files of other runs are out of reach */
	const char *dir = new_dir();
	snprintf(script, sizeof(script),
		 "echo listing $(ls -A %s); cat %s; echo x > %s/new.txt; "
		 "echo mine > %s/out/r.txt && cat %s/out/r.txt",
		 base, other, base, dir, dir);
	const char *argv[] = {"sh", "-c", script, NULL};
	const char *writable[] = {"out", NULL};
	const char *hide[] = {base, "/nonexistent-folder", NULL};
	struct tr_exec_request req = {.dir = dir, .argv = argv, .writable = writable, .hide = hide};
	struct tr_exec_result r;
	run(&req, &r);
	char *log = read_text(req.dir, "log");
	char want[300];
	snprintf(want, sizeof(want), "stdout listing %s\n", strrchr(dir, '/') + 1);
	assert_non_null(strstr(log, want)); /* only the way to its own folder */
	assert_non_null(strstr(log, "output.txt: No such file or directory"));
	assert_non_null(strstr(log, "new.txt: Read-only file system"));
	assert_non_null(strstr(log, "stdout mine\n"));
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_int_equal(r.exit_code, 0);
	free(log);
	char *o = read_text(base, "other-run/output.txt");
	assert_string_equal(o, "other\n");
	free(o);
}

static void log_is_capped(void **state)
{
	const char *argv[] = {"sh", "-c",
			      "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); "
			      "done; echo done >&2",
			      NULL};
	struct tr_exec_request req = {.dir = new_dir(), .argv = argv, .log_max_bytes = 2000};
	struct tr_exec_result r;
	run(&req, &r);
	assert_int_equal(r.reason, TR_EXEC_EXITED);
	assert_true(r.log_truncated);
	char *log = read_text(req.dir, "log");
	assert_true(strlen(log) < 2000 + 400);
	assert_non_null(strstr(log, "stdout line 0\n"));
	assert_null(strstr(log, "stdout line 499\n"));
	assert_non_null(strstr(log, "trellis log truncated at 2000 bytes: further output dropped"));
	assert_non_null(strstr(log, "bytes of output were dropped"));
	assert_non_null(strstr(log, "trellis exited: exit code 0\n"));
	free(log);
}

static void resource_strings(void **state)
{
	struct tr_buf err = TR_BUF_INIT;
	uint64_t v;
	static const struct {
		const char *s;
		uint64_t bytes;
	} mem[] = {{"64M", 64000000},	{"64Mi", 67108864},    {"500Mi", 524288000},
		   {"1Gi", 1073741824}, {"1.5Gi", 1610612736}, {"1000", 1000},
		   {"1k", 1000},	{"0.5Ki", 512}};
	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
		assert_int_equal(tr_exec_parse_memory(mem[i].s, &v, &err), TR_OK);
		assert_int_equal(v, mem[i].bytes);
	}
	static const char *const bad_mem[] = {"", "M", "64MB", "-1", "1..2M", "0", "1 Gi", "9E9"};
	for (size_t i = 0; i < sizeof(bad_mem) / sizeof(bad_mem[0]); i++)
		if (tr_exec_parse_memory(bad_mem[i], &v, &err) != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("memory '%s' accepted", bad_mem[i]);
	static const struct {
		const char *s;
		uint64_t m;
	} cpu[] = {{"500m", 500}, {"2", 2000}, {"0.5", 500}, {"1.25", 1250}, {"0.001", 1}};
	for (size_t i = 0; i < sizeof(cpu) / sizeof(cpu[0]); i++) {
		assert_int_equal(tr_exec_parse_cpu(cpu[i].s, &v, &err), TR_OK);
		assert_int_equal(v, cpu[i].m);
	}
	static const char *const bad_cpu[] = {"", "m", "0", "0.0001", "1.5m", "2 cores", "-1"};
	for (size_t i = 0; i < sizeof(bad_cpu) / sizeof(bad_cpu[0]); i++)
		if (tr_exec_parse_cpu(bad_cpu[i], &v, &err) != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("cpu '%s' accepted", bad_cpu[i]);
	tr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(resource_strings),
	    cmocka_unit_test(exit_code_and_log_lines),
	    cmocka_unit_test(start_failure_is_reported),
	    cmocka_unit_test(memory_hog_is_oom_killed_through_cgroup_v1),
	    cmocka_unit_test(rlimit_gives_enomem_instead),
	    cmocka_unit_test(timeout_kills_tree_with_setsid_escapee),
	    cmocka_unit_test(forked_children_are_not_left_behind),
	    cmocka_unit_test(without_cgroup_the_subreaper_finds_the_tree),
	    cmocka_unit_test(cancel_stops_the_attempt),
	    cmocka_unit_test(supervisors_come_from_the_zygote),
	    cmocka_unit_test(environment_is_an_allow_list),
	    cmocka_unit_test(adopt_after_the_parent_died),
	    cmocka_unit_test(step_cannot_open_the_store),
	    cmocka_unit_test(hidden_folders_are_empty_but_the_attempts_own),
	    cmocka_unit_test(log_is_capped),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
