/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the cron parser and the next-fire search on arbitrary
 * text; a parsed expression must answer quickly (the search is bounded) and
 * strictly after the time asked, and an error must carry a message. */
#include "core/buf.h"
#include "pipeline/cron.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * TR_CRON_MAX_LEN)
		return 0;
	char *src = malloc(size + 1);
	memcpy(src, data, size);
	src[size] = 0;
	struct tr_cron c;
	struct tr_buf err = TR_BUF_INIT;
	if (tr_cron_parse(src, &c, &err) == TR_OK) {
		static const int64_t afters[] = {0, 951782400000LL, 1714521600123LL,
						 4107542399000LL};
		for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
			int64_t next = 0;
			if (tr_cron_next(&c, afters[i], &next) &&
			    (next <= afters[i] || next % 1000))
				abort();
		}
	} else if (!*tr_buf_str(&err)) {
		abort();
	}
	int64_t ms;
	(void)tr_cron_parse_time(src, &ms);
	tr_buf_release(&err);
	free(src);
	return 0;
}
