/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schedules of KFP recurring runs: cron expressions in the form KFP's
 * scheduled workflows use (robfig/cron v1) and KFP triggers (a cron or a
 * periodic schedule between an optional start and end time). Times are UTC.
 *
 * A cron expression is six fields "sec min hour dom month dow" (five fields
 * leave the day of week '*', as robfig v1 does). A field is '*', '?' (the
 * same as '*'), a number or name, a range "a-b", a step "* /n", "a-b/n" or
 * "a/n" (a to the field's maximum), or a comma list of those. Months take
 * JAN..DEC, weekdays SUN..SAT (0..6), case-insensitive. When both the day of
 * month and the day of week are restricted, a day matching either fires.
 * Descriptors: @yearly @annually @monthly @weekly @daily @midnight @hourly,
 * and "@every <Go duration>" ("1h30m", "10s"; rounded down to whole seconds,
 * at least 1 s).
 *
 * Every function is pure and thread-safe; none allocates on success except
 * where it says so.
 */
#ifndef TR_PIPELINE_CRON_H
#define TR_PIPELINE_CRON_H

#include "core/buf.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The longest expression accepted. */
#define TR_CRON_MAX_LEN 256
/* How far tr_cron_next() looks before it gives up ("never fires"). */
#define TR_CRON_HORIZON_MS (5LL * 366 * 86400 * 1000)

/* A parsed expression: one bit per allowed value of each field. */
struct tr_cron {
	uint64_t sec, min;     /* bits 0..59 */
	uint32_t hour;	       /* bits 0..23 */
	uint32_t dom;	       /* bits 1..31 */
	uint32_t month;	       /* bits 1..12 */
	uint32_t dow;	       /* bits 0..6, 0 is Sunday */
	bool dom_any, dow_any; /* the field was '*' or '?' (unrestricted) */
	int64_t every_ms;      /* > 0: "@every", and the bits are unused */
};

/* Parses TEXT into OUT. INVALID_PARAMETER_VALUE with a message naming the
 * field and the problem in ERR (e.g. "cron field 'hour': value 24 is above
 * the maximum 23"). */
enum tr_err tr_cron_parse(const char *text, struct tr_cron *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* The first time C fires strictly after AFTER_MS (epoch milliseconds, UTC),
 * whole seconds, into *NEXT_MS. False when it does not fire within
 * TR_CRON_HORIZON_MS ("0 0 0 30 2 *" never does) or AFTER_MS is outside
 * years 1970..9000. */
bool tr_cron_next(const struct tr_cron *c, int64_t after_ms, int64_t *next_ms /* OUT */);

/* Parses an RFC3339 time ("2024-05-01T10:00:00Z", with fractions or an
 * offset; no zone is UTC; a space may stand for 'T') into *MS. False when
 * malformed. */
bool tr_cron_parse_time(const char *s, int64_t *ms /* OUT */);

/*
 * A KFP trigger, {"cron_schedule": {"cron", "start_time"?, "end_time"?}} or
 * {"periodic_schedule": {"interval_second", "start_time"?, "end_time"?}}
 * (interval a number or a decimal string).
 *
 * tr_cron_trigger_check() validates TRIGGER: exactly one schedule, a valid
 * cron or an interval of 1 s to 100 years, valid times, end not before
 * start. INVALID_PARAMETER_VALUE with a message in ERR.
 *
 * tr_cron_trigger_next() gives the next fire time after AFTER_MS: before the
 * start time, the first fire at or after the start (a periodic schedule fires
 * at the start itself); otherwise the cron's next time, or AFTER_MS plus the
 * interval. *NEXT_MS is 0 when the schedule is done (past its end time) or
 * never fires. Errors as tr_cron_trigger_check().
 */
enum tr_err tr_cron_trigger_check(json_t *trigger, struct tr_buf *err)
    __attribute__((warn_unused_result));
enum tr_err tr_cron_trigger_next(json_t *trigger, int64_t after_ms, int64_t *next_ms /* OUT */,
				 struct tr_buf *err) __attribute__((warn_unused_result));

#endif
