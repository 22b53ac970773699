/* SPDX-License-Identifier: Apache-2.0 */
/* Clock helpers over clock_gettime(2). */
#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t tr_clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tr_clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool tr_clock_parse_age(const char *s, int64_t *ms)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return false;
	long long unit = !strcmp(end, "d")	      ? 86400000LL
			 : !strcmp(end, "h")	      ? 3600000LL
			 : !strcmp(end, "m")	      ? 60000LL
			 : !*end || !strcmp(end, "s") ? 1000LL
						      : 0;
	if (!unit || v > INT64_MAX / unit)
		return false;
	*ms = v * unit;
	return true;
}
