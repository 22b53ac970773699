/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the CEL subset's parser and evaluator on arbitrary text. */
#include "core/arena.h"
#include "core/buf.h"
#include "pipeline/cel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > TR_CEL_MAX_LEN)
		return 0;
	char *src = malloc(size + 1);
	memcpy(src, data, size);
	src[size] = 0;
	struct tr_arena *a = tr_arena_new();
	struct tr_cel *e = NULL;
	struct tr_buf err = TR_BUF_INIT;
	size_t pos = 0;
	if (tr_cel_parse(a, src, &e, &pos, &err) == TR_OK) {
		json_t *ctx =
		    json_pack("{s:{s:{s:i,s:s,s:[i,i]}},s:s}", "inputs", "parameter_values", "a", 1,
			      "b", "x", "c", 1, 2, "string_value", "{\"k\": [1, 2]}");
		json_t *out = NULL;
		if (tr_cel_eval(e, ctx, &out, &err) == TR_OK && !out)
			abort();
		json_decref(out);
		json_decref(ctx);
	} else if (pos > size) {
		abort(); /* an error position inside the text */
	}
	tr_buf_release(&err);
	tr_arena_free(a);
	free(src);
	return 0;
}
