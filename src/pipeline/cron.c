/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cron expressions and KFP triggers (cron.h). A parsed expression is a bit
 * set per field; the next fire time is found by walking forward from the
 * given time, jumping to the start of the next month, day, hour or minute
 * whenever a field does not match, so every step strictly advances the time
 * and the walk ends at a fixed horizon: an expression that never matches
 * ("0 0 0 30 2 *") answers "never" instead of searching forever.
 *
 * Calendar arithmetic is done here on day numbers (proleptic Gregorian, UTC)
 * rather than with timegm()/gmtime_r(), so results do not depend on the C
 * library's time_t range or the process's time zone.
 */
#include "pipeline/cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INTERVAL_S	(100LL * 365 * 86400)	/* 100 years */
#define MAX_TIME_MS	(221845392000000LL)	/* 9000-01-01T00:00:00Z */
#define MAX_DURATION_NS (9223372036854775807LL) /* Go's time.Duration range */

/* ---- calendar ---------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of Y-M-D (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* ---- fields -------------------------------------------------------------------- */

struct field {
	const char *name;
	int min, max;
	const char *const *names; /* 3-letter names for min.., or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
					  "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field fields[6] = {
    {"second", 0, 59, NULL},	   {"minute", 0, 59, NULL},	  {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL}, {"month", 1, 12, month_names}, {"day of week", 0, 6, dow_names},
};

/* A number or (for F with names) a name in S[0..N) into *V. */
static enum tr_err value(const struct field *f, const char *s, size_t n, int *v, struct tr_buf *err)
{
	if (!n)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "cron field '%s': a value is missing", f->name);
	if (isdigit((unsigned char)s[0])) {
		long x = 0;
		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "cron field '%s': '%.*s' is not a number", f->name,
					       (int)n, s);
			if (x < 100000)
				x = x * 10 + (s[i] - '0');
		}
		if (x < f->min || x > f->max)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron field '%s': value %.*s is outside %d-%d", f->name,
				       (int)(n > 12 ? 12 : n), s, f->min, f->max);
		*v = (int)x;
		return TR_OK;
	}
	if (f->names && n == 3) {
		for (int i = 0; i <= f->max - f->min; i++) {
			if (!strncasecmp(s, f->names[i], 3)) {
				*v = f->min + i;
				return TR_OK;
			}
		}
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "cron field '%s': '%.*s' is not %s",
		       f->name, (int)(n > 20 ? 20 : n), s,
		       f->names ? "a number or a name" : "a number");
}

/* One comma-separated part S[0..N) of field F: ORs its values into *BITS;
 * *ANY when it is a bare '*' or '?'. */
static enum tr_err part(const struct field *f, const char *s, size_t n, uint64_t *bits, bool *any,
			struct tr_buf *err)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	int lo, hi, step = 1;
	enum tr_err rc;
	bool star = rn == 1 && (s[0] == '*' || s[0] == '?');
	if (slash) {
		const char *st = slash + 1;
		size_t sn = n - rn - 1;
		if (memchr(st, '/', sn))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron field '%s': too many '/' in '%.*s'", f->name,
				       (int)(n > 20 ? 20 : n), s);
		long x = 0;
		if (!sn)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron field '%s': the step after '/' is missing", f->name);
		for (size_t i = 0; i < sn; i++) {
			if (!isdigit((unsigned char)st[i]))
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "cron field '%s': step '%.*s' is not a number",
					       f->name, (int)(sn > 12 ? 12 : sn), st);
			if (x < 100000)
				x = x * 10 + (st[i] - '0');
		}
		if (x < 1)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron field '%s': step must be at least 1", f->name);
		step = (int)(x > 1000 ? 1000 : x);
	}
	if (star) {
		lo = f->min;
		hi = f->max;
		if (step == 1)
			*any = true;
	} else {
		const char *dash = memchr(s, '-', rn);
		if (dash) {
			size_t ln = (size_t)(dash - s);
			if (memchr(dash + 1, '-', rn - ln - 1))
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "cron field '%s': too many '-' in '%.*s'", f->name,
					       (int)(rn > 20 ? 20 : rn), s);
			rc = value(f, s, ln, &lo, err);
			if (!rc)
				rc = value(f, dash + 1, rn - ln - 1, &hi, err);
			if (rc)
				return rc;
			if (lo > hi)
				return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
					       "cron field '%s': range %d-%d runs backwards",
					       f->name, lo, hi);
		} else {
			rc = value(f, s, rn, &lo, err);
			if (rc)
				return rc;
			hi = slash ? f->max : lo; /* "a/n" is a to the maximum */
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return TR_OK;
}

static enum tr_err field(const struct field *f, const char *s, size_t n, uint64_t *bits, bool *any,
			 struct tr_buf *err)
{
	*bits = 0;
	*any = false;
	size_t i = 0;
	while (i <= n) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t pn = comma ? (size_t)(comma - (s + i)) : n - i;
		if (!pn)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron field '%s': empty item in the list", f->name);
		enum tr_err rc = part(f, s + i, pn, bits, any, err);
		if (rc)
			return rc;
		i += pn + 1;
	}
	return TR_OK;
}

/* ---- @every durations ------------------------------------------------------------ */

/* A Go duration ("1h30m", "1.5s", "300ms") into *NS; only non-negative. */
static enum tr_err go_duration(const char *s, int64_t *ns, struct tr_buf *err)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
	    {"ns", 1},
	    {"us", 1000},
	    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
	    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
	    {"ms", 1000000},
	    {"s", 1000000000LL},
	    {"m", 60LL * 1000000000LL},
	    {"h", 3600LL * 1000000000LL},
	};
	const char *orig = s;
	if (*s == '+')
		s++;
	else if (*s == '-')
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "@every duration '%.40s' is negative", orig);
	if (!strcmp(s, "0"))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "@every duration must be at least 1s");
	if (!*s)
		goto bad;
	double total = 0;
	while (*s) {
		double whole = 0, frac = 0, scale = 1;
		bool digits = false;
		while (isdigit((unsigned char)*s)) {
			whole = whole * 10 + (*s++ - '0');
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				if (scale < 1e18) {
					frac = frac * 10 + (*s - '0');
					scale *= 10;
				}
				s++;
				digits = true;
			}
		}
		if (!digits)
			goto bad;
		size_t ul = 0;
		while (s[ul] && s[ul] != '.' && !isdigit((unsigned char)s[ul]))
			ul++;
		int64_t mult = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ul && !strncmp(s, units[i].unit, ul))
				mult = units[i].ns;
		if (!mult)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       ul ? "@every duration '%.40s': unknown unit"
					  : "@every duration '%.40s': a number needs a unit "
					    "(ns, us, ms, s, m, h)",
				       orig);
		s += ul;
		total += (whole + frac / scale) * (double)mult;
		if (total > (double)MAX_DURATION_NS)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "@every duration '%.40s' is too long", orig);
	}
	*ns = (int64_t)total;
	return TR_OK;
bad:
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "@every duration '%.40s' is not a Go duration like 1h30m or 10s", orig);
}

/* ---- parsing ---------------------------------------------------------------------- */

static enum tr_err descriptor(const char *t, struct tr_cron *out, struct tr_buf *err)
{
	static const struct {
		const char *name, *expr;
	} d[] = {
	    {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
	    {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
	    {"@hourly", "0 0 * * * *"},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (!strcmp(t, d[i].name))
			return tr_cron_parse(d[i].expr, out, err);
	if (!strcmp(t, "@every"))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "@every needs a duration like 1h30m or 10s");
	if (!strncmp(t, "@every", 6) && (t[6] == ' ' || t[6] == '\t')) {
		const char *s = t + 6;
		while (*s == ' ' || *s == '\t')
			s++;
		int64_t ns = 0;
		enum tr_err rc = go_duration(s, &ns, err);
		if (rc)
			return rc;
		memset(out, 0, sizeof(*out));
		/* robfig: whole seconds, at least one */
		out->every_ms = ns < 1000000000LL ? 1000 : ns / 1000000000LL * 1000;
		return TR_OK;
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "unknown cron descriptor '%.40s'", t);
}

enum tr_err tr_cron_parse(const char *text, struct tr_cron *out, struct tr_buf *err)
{
	if (!text)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "the cron expression is empty");
	size_t len = strnlen(text, TR_CRON_MAX_LEN + 1);
	if (len > TR_CRON_MAX_LEN)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the cron expression is longer than %d characters", TR_CRON_MAX_LEN);
	char t[TR_CRON_MAX_LEN + 1];
	/* trimmed copy */
	while (len && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	memcpy(t, text, len);
	t[len] = '\0';
	if (!len)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "the cron expression is empty");
	if (t[0] == '@')
		return descriptor(t, out, err);
	const char *start[7];
	size_t n[7], nf = 0;
	for (size_t i = 0; i < len;) {
		if (isspace((unsigned char)t[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && !isspace((unsigned char)t[j]))
			j++;
		if (nf < 7) {
			start[nf] = t + i;
			n[nf] = j - i;
		}
		nf++;
		i = j;
	}
	if (nf != 5 && nf != 6)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the cron expression has %zu fields; expected 6 (second minute hour "
			       "day-of-month month day-of-week) or 5",
			       nf);
	struct tr_cron c = {0};
	uint64_t bits[6];
	bool any[6];
	for (size_t i = 0; i < 6; i++) {
		if (i == 5 && nf == 5) {
			bits[5] = 0x7f;
			any[5] = true;
			break;
		}
		enum tr_err rc = field(&fields[i], start[i], n[i], &bits[i], &any[i], err);
		if (rc)
			return rc;
	}
	c.sec = bits[0];
	c.min = bits[1];
	c.hour = (uint32_t)bits[2];
	c.dom = (uint32_t)bits[3];
	c.month = (uint32_t)bits[4];
	c.dow = (uint32_t)bits[5];
	c.dom_any = any[3];
	c.dow_any = any[5];
	*out = c;
	return TR_OK;
}

/* ---- next fire time ------------------------------------------------------------- */

/* The smallest value >= FROM (and <= MAX) whose bit is set in BITS, or -1. */
static int next_bit(uint64_t bits, int from, int max)
{
	for (int v = from; v <= max; v++)
		if (bits >> v & 1)
			return v;
	return -1;
}

/* robfig v1: with '*' or '?' in either day field both must match, else either. */
static bool day_matches(const struct tr_cron *c, int dom, int dow)
{
	bool a = c->dom >> dom & 1, b = c->dow >> dow & 1;
	if (c->dom_any || c->dow_any)
		return a && b;
	return a || b;
}

bool tr_cron_next(const struct tr_cron *c, int64_t after_ms, int64_t *next_ms)
{
	if (after_ms < 0 || after_ms >= MAX_TIME_MS)
		return false;
	if (c->every_ms > 0) {
		int64_t next = floor_div(after_ms, 1000) * 1000 + c->every_ms;
		if (next >= MAX_TIME_MS + TR_CRON_HORIZON_MS)
			return false;
		*next_ms = next;
		return true;
	}
	int64_t t = floor_div(after_ms, 1000) + 1;
	int64_t limit = t + TR_CRON_HORIZON_MS / 1000;
	while (t <= limit) {
		int64_t days = floor_div(t, 86400), y;
		int sod = (int)(t - days * 86400), m, d;
		civil_from_days(days, &y, &m, &d);
		int64_t day0 = days * 86400;
		if (!(c->month >> m & 1)) {
			t = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
			continue;
		}
		int dow = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
		if (d > month_days(y, m) || !day_matches(c, d, dow)) {
			t = day0 + 86400;
			continue;
		}
		int h = sod / 3600, mi = sod / 60 % 60, s = sod % 60;
		int nh = next_bit(c->hour, h, 23);
		if (nh < 0) {
			t = day0 + 86400;
			continue;
		}
		if (nh > h) {
			t = day0 + nh * 3600;
			continue;
		}
		int nm = next_bit(c->min, mi, 59);
		if (nm < 0) {
			t = day0 + (h + 1) * 3600;
			continue;
		}
		if (nm > mi) {
			t = day0 + h * 3600 + nm * 60;
			continue;
		}
		int ns = next_bit(c->sec, s, 59);
		if (ns < 0) {
			t = day0 + h * 3600 + (mi + 1) * 60;
			continue;
		}
		*next_ms = (day0 + h * 3600 + mi * 60 + ns) * 1000;
		return true;
	}
	return false;
}

/* ---- times and triggers ------------------------------------------------------------ */

/* N digits at *S as a number; advances *S. */
static bool digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

bool tr_cron_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, frac = 0;
	if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' '))
		return false;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' ||
	    !digits(&s, 2, &sec))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
		return false;
	if (*s == '.') {
		s++;
		int nd = 0;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s)) {
			if (nd < 3)
				frac = frac * 10 + (*s - '0');
			nd++;
			s++;
		}
		for (; nd < 3; nd++)
			frac *= 10;
	}
	int off = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return false;
		off = sign * (oh * 60 + om);
	}
	if (*s)
		return false;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) -
		    off * 60;
	*ms = t * 1000 + frac;
	return true;
}

struct trigger {
	bool cron;
	struct tr_cron c;
	int64_t interval_s, start_ms, end_ms; /* 0: none */
};

static enum tr_err trigger_time(json_t *sched, const char *key, int64_t *ms, struct tr_buf *err)
{
	json_t *v = json_object_get(sched, key);
	*ms = 0;
	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
		return TR_OK;
	if (!json_is_string(v) || !tr_cron_parse_time(json_string_value(v), ms))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "trigger %s is not an RFC3339 time like 2024-05-01T00:00:00Z", key);
	if (*ms < 0 || *ms >= MAX_TIME_MS)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "trigger %s is outside years 1970..8999", key);
	if (!*ms)
		*ms = 1; /* the epoch itself still counts as set */
	return TR_OK;
}

static enum tr_err trigger_load(json_t *trigger, struct trigger *t, struct tr_buf *err)
{
	memset(t, 0, sizeof(*t));
	if (!json_is_object(trigger))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "a recurring run needs a trigger with a cron_schedule or a "
			       "periodic_schedule");
	json_t *cron = json_object_get(trigger, "cron_schedule");
	json_t *per = json_object_get(trigger, "periodic_schedule");
	if (json_is_null(cron))
		cron = NULL;
	if (json_is_null(per))
		per = NULL;
	if (cron && per)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the trigger has both a cron_schedule and a periodic_schedule; "
			       "give exactly one");
	if (!cron && !per)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the trigger has neither a cron_schedule nor a periodic_schedule; "
			       "give exactly one");
	json_t *sched = cron ? cron : per;
	if (!json_is_object(sched))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "trigger %s must be an object",
			       cron ? "cron_schedule" : "periodic_schedule");
	enum tr_err rc;
	if (cron) {
		t->cron = true;
		const char *expr = json_string_value(json_object_get(cron, "cron"));
		if (!expr || !*expr)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "cron_schedule.cron is missing");
		rc = tr_cron_parse(expr, &t->c, err);
		if (rc)
			return rc;
	} else {
		json_t *iv = json_object_get(per, "interval_second");
		int64_t n = -1;
		if (json_is_integer(iv)) {
			n = json_integer_value(iv) < 0 ? 0 : json_integer_value(iv);
		} else if (json_is_string(iv)) {
			const char *s = json_string_value(iv);
			size_t len = strlen(s);
			if (len && len <= 18 && strspn(s, "0123456789") == len)
				n = strtoll(s, NULL, 10);
			else if (len && len <= 19 && s[0] == '-' &&
				 strspn(s + 1, "0123456789") == len - 1)
				n = 0;
		} else if (!iv || json_is_null(iv)) {
			n = 0; /* proto3: an absent int64 is 0 */
		}
		if (n < 0)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "periodic_schedule.interval_second must be a whole number");
		if (n < 1)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "periodic_schedule.interval_second must be at least 1");
		if (n > MAX_INTERVAL_S)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "periodic_schedule.interval_second is above 100 years");
		t->interval_s = n;
	}
	rc = trigger_time(sched, "start_time", &t->start_ms, err);
	if (!rc)
		rc = trigger_time(sched, "end_time", &t->end_ms, err);
	if (!rc && t->start_ms && t->end_ms && t->end_ms < t->start_ms)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "trigger end_time is before its start_time");
	return rc;
}

enum tr_err tr_cron_trigger_check(json_t *trigger, struct tr_buf *err)
{
	struct trigger t;
	return trigger_load(trigger, &t, err);
}

enum tr_err tr_cron_trigger_next(json_t *trigger, int64_t after_ms, int64_t *next_ms,
				 struct tr_buf *err)
{
	struct trigger t;
	enum tr_err rc = trigger_load(trigger, &t, err);
	if (rc)
		return rc;
	int64_t next = 0;
	bool before_start = t.start_ms && after_ms < t.start_ms;
	if (!t.cron) {
		next = before_start ? t.start_ms : after_ms + t.interval_s * 1000;
	} else if (!tr_cron_next(&t.c, before_start ? t.start_ms - 1 : after_ms, &next)) {
		next = 0;
	}
	if (next && t.end_ms && next > t.end_ms)
		next = 0;
	if (next >= MAX_TIME_MS)
		next = 0;
	*next_ms = next;
	return TR_OK;
}
