/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The executor wrappers over the backends' ops tables, the resource-string
 * parsers, and the small file and /proc helpers the local executor and the
 * supervisor share. The wrappers check arguments and hold the rules every
 * backend keeps: a result is read only from a finished attempt.
 */
#include "exec/exec.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "exec/exec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct tr_executor_ops *const backends[] = {&tr_exec_local_ops};

enum tr_err tr_executor_open(const char *name, const struct tr_executor_config *cfg,
			     struct tr_executor **out, struct tr_buf *err)
{
	static const struct tr_executor_config none = {0};
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name ? name : "local"))
			return backends[i]->open(cfg ? cfg : &none, out, err);
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "unknown executor '%s'", name);
}

void tr_executor_close(struct tr_executor *ex)
{
	if (ex)
		ex->ops->close(ex);
}

enum tr_err tr_exec_start(struct tr_executor *ex, const struct tr_exec_request *req,
			  struct tr_attempt **out, struct tr_buf *err)
{
	if (!req->dir || !*req->dir)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "an attempt needs a folder");
	if (!req->argv || !req->argv[0] || !*req->argv[0])
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "an attempt needs a command");
	if (req->timeout_ms < 0 || req->grace_ms < 0 || req->log_max_bytes < 0 || req->pids < 0)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "timeouts and limits cannot be negative");
	uint64_t v;
	enum tr_err rc;
	if (req->memory && (rc = tr_exec_parse_memory(req->memory, &v, err)))
		return rc;
	if (req->cpu && (rc = tr_exec_parse_cpu(req->cpu, &v, err)))
		return rc;
	if (req->env)
		for (size_t i = 0; req->env[i]; i++)
			if (!strchr(req->env[i], '=') || req->env[i][0] == '=')
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "environment entry '%s' is not NAME=value",
					       req->env[i]);
	return ex->ops->start(ex, req, out, err);
}

enum tr_err tr_exec_adopt(struct tr_executor *ex, const char *dir, struct tr_attempt **out,
			  struct tr_buf *err)
{
	if (!dir || !*dir)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "an attempt needs a folder");
	return ex->ops->adopt(ex, dir, out, err);
}

int tr_exec_fd(struct tr_attempt *a)
{
	return a->done ? -1 : a->ex->ops->fd(a);
}

enum tr_err tr_exec_poll(struct tr_attempt *a, bool *done, struct tr_buf *err)
{
	enum tr_err rc = a->done ? TR_OK : a->ex->ops->poll(a, err);
	*done = a->done;
	return rc;
}

enum tr_err tr_exec_wait(struct tr_attempt *a, int timeout_ms, bool *done, struct tr_buf *err)
{
	enum tr_err rc = tr_exec_poll(a, done, err);
	while (!rc && !*done) {
		struct pollfd p = {.fd = a->ex->ops->fd(a), .events = POLLIN};
		int n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tr_fail(err, TR_ERR_INTERNAL_ERROR, "poll: %s", strerror(errno));
		rc = tr_exec_poll(a, done, err);
		if (n == 0)
			break;
	}
	return rc;
}

enum tr_err tr_exec_cancel(struct tr_attempt *a, struct tr_buf *err)
{
	return a->done ? TR_OK : a->ex->ops->cancel(a, err);
}

void tr_exec_free(struct tr_attempt *a)
{
	if (a)
		a->ex->ops->free(a);
}

const char *tr_exec_reason_name(enum tr_exec_reason r)
{
	static const char *const names[] = {
#define TR_EXEC_REASON_NAME(name, text) text,
	    TR_EXEC_REASON_MAP(TR_EXEC_REASON_NAME)
#undef TR_EXEC_REASON_NAME
	};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "failed";
}

static void copy_str(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

enum tr_err tr_exec_result(struct tr_attempt *a, struct tr_exec_result *out, struct tr_buf *err)
{
	if (!a->done)
		return tr_fail(err, TR_ERR_INVALID_STATE, "attempt '%s' is still running", a->dir);
	struct tr_buf text = TR_BUF_INIT;
	enum tr_err rc;
	int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return tr_fail(err, TR_ERR_DATA_LOSS, "attempt folder '%s': %s", a->dir,
			       strerror(errno));
	rc = tr_exec_read_file(dfd, TR_EXEC_STATUS_FILE, 1 << 16, &text, err);
	close(dfd);
	if (rc == TR_ERR_RESOURCE_DOES_NOT_EXIST)
		rc = tr_fail(err, TR_ERR_DATA_LOSS,
			     "the supervisor of '%s' ended without writing its status", a->dir);
	if (rc)
		goto out;
	json_error_t jerr;
	json_t *j = json_loadb(text.data, text.len, 0, &jerr);
	const char *reason = json_string_value(json_object_get(j, "reason"));
	if (!reason) {
		rc = tr_fail(err, TR_ERR_DATA_LOSS, "unreadable status in '%s'", a->dir);
		json_decref(j);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->reason = TR_EXEC_FAILED;
	for (int r = TR_EXEC_EXITED; r <= TR_EXEC_FAILED; r++)
		if (!strcmp(reason, tr_exec_reason_name((enum tr_exec_reason)r)))
			out->reason = (enum tr_exec_reason)r;
	out->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	out->signal = (int)json_integer_value(json_object_get(j, "signal"));
	out->peak_rss_bytes = (uint64_t)json_integer_value(json_object_get(j, "peak_rss_bytes"));
	out->start_ms = json_integer_value(json_object_get(j, "start_time_ms"));
	out->end_ms = json_integer_value(json_object_get(j, "end_time_ms"));
	out->log_truncated = json_is_true(json_object_get(j, "log_truncated"));
	copy_str(out->message, sizeof(out->message),
		 json_string_value(json_object_get(j, "message")));
	copy_str(out->mechanism, sizeof(out->mechanism),
		 json_string_value(json_object_get(j, "limit_mechanism")));
	copy_str(out->user, sizeof(out->user), json_string_value(json_object_get(j, "user")));
	json_decref(j);
out:
	tr_buf_release(&text);
	return rc;
}

/* digits[.digits] as MANTISSA / 10^SCALE, exactly; false when not a number
 * or too long. *END is the first character after it. */
static bool parse_decimal(const char *s, const char **end, uint64_t *mantissa, unsigned *scale)
{
	const char *p = s;
	uint64_t m = 0;
	unsigned digits = 0, frac = 0;
	bool dot = false;
	for (;; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		if (++digits > 18)
			return false;
		m = m * 10 + (uint64_t)(*p - '0');
		frac += dot;
	}
	*end = p;
	*mantissa = m;
	*scale = frac;
	return digits > 0;
}

static uint64_t pow10u(unsigned n)
{
	uint64_t v = 1;
	while (n--)
		v *= 10;
	return v;
}

enum tr_err tr_exec_parse_memory(const char *s, uint64_t *bytes, struct tr_buf *err)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
	    {"", 1},
	    {"k", 1000ULL},
	    {"K", 1000ULL},
	    {"M", 1000000ULL},
	    {"G", 1000000000ULL},
	    {"T", 1000000000000ULL},
	    {"P", 1000000000000000ULL},
	    {"E", 1000000000000000000ULL},
	    {"Ki", 1ULL << 10},
	    {"Mi", 1ULL << 20},
	    {"Gi", 1ULL << 30},
	    {"Ti", 1ULL << 40},
	    {"Pi", 1ULL << 50},
	    {"Ei", 1ULL << 60},
	};
	const char *end;
	uint64_t m;
	unsigned scale;
	if (s && parse_decimal(s, &end, &m, &scale))
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].suffix)) {
				unsigned __int128 d = pow10u(scale);
				unsigned __int128 b =
				    ((unsigned __int128)m * units[i].mult + d - 1) / d;
				if (b < 1 || b > INT64_MAX)
					break;
				*bytes = (uint64_t)b;
				return TR_OK;
			}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "memory '%s' is not a size like 64M, 500Mi or 1Gi", s ? s : "");
}

enum tr_err tr_exec_parse_cpu(const char *s, uint64_t *millicores, struct tr_buf *err)
{
	const char *end;
	uint64_t m;
	unsigned scale;
	if (s && parse_decimal(s, &end, &m, &scale) && (!*end || !strcmp(end, "m"))) {
		unsigned __int128 num = (unsigned __int128)m * (*end ? 1 : 1000);
		uint64_t d = pow10u(scale);
		if (num % d == 0 && num / d >= 1 && num / d <= 1000000000ULL) {
			*millicores = (uint64_t)(num / d);
			return TR_OK;
		}
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "cpu '%s' is not a core count like 2, 0.5 or 500m", s ? s : "");
}

enum tr_err tr_exec_write_atomic(int dfd, const char *name, const void *data, size_t len, int mode,
				 bool durable, struct tr_buf *err)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return tr_fail(err, TR_ERR_IO_ERROR, "create '%s': %s", tmp, strerror(errno));
	if (fchmod(fd, (mode_t)mode)) /* a stale temporary file keeps its old mode */
		goto fail;
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		left -= (size_t)n;
	}
	if (durable && fsync(fd))
		goto fail;
	close(fd);
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) || (durable && fsync(dfd)))
		goto fail;
	return TR_OK;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return tr_fail(err, TR_ERR_IO_ERROR, "write '%s': %s", name, strerror(e));
}

enum tr_err tr_exec_read_file(int dfd, const char *name, size_t max, struct tr_buf *out,
			      struct tr_buf *err)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tr_fail(err,
			       errno == ENOENT ? TR_ERR_RESOURCE_DOES_NOT_EXIST : TR_ERR_IO_ERROR,
			       "open '%s': %s", name, strerror(errno));
	enum tr_err rc = TR_OK;
	tr_buf_reset(out);
	for (;;) {
		tr_buf_grow(out, 4096);
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tr_fail(err, TR_ERR_IO_ERROR, "read '%s': %s", name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len > max) {
			rc = tr_fail(err, TR_ERR_TOO_LARGE, "'%s' is larger than %zu bytes", name,
				     max);
			break;
		}
	}
	close(fd);
	return rc;
}

bool tr_exec_proc_stat(pid_t pid, char *state, uint64_t *starttime)
{
	char path[64], buf[1024];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ppid ..."; comm may hold spaces and parentheses */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return false;
	*state = p[2];
	p += 3;
	/* field 3 was the state; the start time is field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long t = strtoull(p, &end, 10);
	if (errno || end == p)
		return false;
	*starttime = t;
	return true;
}

void tr_exec_supervisor_attrs(posix_spawnattr_t *attr)
{
	sigset_t blocked, dfl;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGCHLD);
	sigemptyset(&dfl);
	static const int reset[] = {SIGPIPE, SIGTERM, SIGINT,  SIGHUP, SIGQUIT,
				    SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		sigaddset(&dfl, reset[i]);
	posix_spawnattr_init(attr);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(attr, &blocked);
	posix_spawnattr_setsigdefault(attr, &dfl);
}
