/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line-oriented logging. Each line is formatted into a local buffer and
 * written with one write(2) so concurrent threads never interleave.
 */
#include "core/log.h"
#include "core/buf.h"
#include "core/clock.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static enum tr_log_level min_level = TR_LOG_INFO;
static bool as_json;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void tr_log_set_level(enum tr_log_level level)
{
	min_level = level;
}
void tr_log_set_json(bool json)
{
	as_json = json;
}
bool tr_log_enabled(enum tr_log_level level)
{
	return level >= min_level;
}

static void stamp(char *out, size_t n)
{
	int64_t ms = tr_clock_now_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void emit(struct tr_buf *line)
{
	tr_buf_appendc(line, '\n');
	ssize_t off = 0;
	while ((size_t)off < line->len) {
		ssize_t n = write(STDERR_FILENO, line->data + off, line->len - (size_t)off);
		if (n <= 0)
			break;
		off += n;
	}
}

void tr_log(enum tr_log_level level, const char *fmt, ...)
{
	if (level < min_level)
		return;
	char ts[64];
	stamp(ts, sizeof(ts));
	struct tr_buf msg = TR_BUF_INIT, line = TR_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	tr_buf_vappendf(&msg, fmt, ap);
	va_end(ap);
	if (as_json) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "time", ts, "level", level_names[level],
				      "msg", tr_buf_str(&msg));
		char *s = json_dumps(o, JSON_COMPACT);
		tr_buf_appends(&line, s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		tr_buf_appendf(&line, "%s %s %s", ts, level_names[level], tr_buf_str(&msg));
	}
	emit(&line);
	tr_buf_release(&msg);
	tr_buf_release(&line);
}

void tr_log_access(const char *method, const char *path, int status, uint64_t micros)
{
	if (TR_LOG_INFO < min_level)
		return;
	char ts[64];
	stamp(ts, sizeof(ts));
	struct tr_buf line = TR_BUF_INIT;
	if (as_json) {
		json_t *o =
		    json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "time", ts, "level", "info", "method",
			      method, "path", path, "status", status, "micros", (json_int_t)micros);
		char *s = json_dumps(o, JSON_COMPACT);
		tr_buf_appends(&line, s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		tr_buf_appendf(&line, "%s access %s %s %d %lluus", ts, method, path, status,
			       (unsigned long long)micros);
	}
	emit(&line);
	tr_buf_release(&line);
}
