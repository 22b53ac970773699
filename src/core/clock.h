/* SPDX-License-Identifier: Apache-2.0 */
/* Wall-clock and monotonic time. */
#ifndef TR_CORE_CLOCK_H
#define TR_CORE_CLOCK_H

#include <stdint.h>

/* Unix epoch milliseconds (MLflow's timestamp unit). */
int64_t tr_clock_now_ms(void);
/* Monotonic microseconds, for durations. */
uint64_t tr_clock_mono_us(void);

#endif
