/* SPDX-License-Identifier: Apache-2.0 */
/* Wall-clock and monotonic time. */
#ifndef TR_CORE_CLOCK_H
#define TR_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Unix epoch milliseconds (MLflow's timestamp unit). */
int64_t tr_clock_now_ms(void);
/* Monotonic microseconds, for durations. */
uint64_t tr_clock_mono_us(void);
/* An age on the command line ("30d", "12h", "45m", "10s" or plain seconds)
 * into milliseconds; false when S is not one. */
bool tr_clock_parse_age(const char *s, int64_t *ms);

#endif
