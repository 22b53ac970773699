/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the streaming log-batch parser on arbitrary bodies. */
#include "api/log_batch_json.h"
#include "api/validate.h"
#include "core/arena.h"
#include "core/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_arena *a = tr_arena_new();
	struct tr_buf err = TR_BUF_INIT;
	struct tr_log_batch b;
	if (tr_log_batch_parse((const char *)data, size, a, &b, &err) == TR_OK) {
		/* everything handed on is a valid C string of valid UTF-8 */
		for (size_t i = 0; i < b.n_metrics; i++)
			if (!b.metrics[i].key || !tr_utf8_valid(b.metrics[i].key, NULL))
				abort();
		for (size_t i = 0; i < b.n_params; i++)
			if (!b.params[i].key || !tr_utf8_valid(b.params[i].value, NULL))
				abort();
		for (size_t i = 0; i < b.n_tags; i++)
			if (!b.tags[i].key || !tr_utf8_valid(b.tags[i].value, NULL))
				abort();
	} else if (err.len == 0 || b.n_metrics || b.n_params || b.n_tags) {
		abort();
	}
	tr_buf_release(&err);
	tr_arena_free(a);
	return 0;
}
