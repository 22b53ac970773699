/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the search compiler on arbitrary filters and order_by clauses,
 * for every search target. Input: filter, then optionally "\n" and one order_by clause. */
#include "core/buf.h"
#include "store/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *order = strchr(text, '\n');
	if (order)
		*order++ = '\0';
	const char *orders[1] = {order};
	for (int t = TR_SEARCH_RUNS; t <= TR_SEARCH_LOGGED_MODELS; t++) {
		struct tr_search_query q;
		struct tr_buf err = TR_BUF_INIT;
		enum tr_search_target target = (enum tr_search_target)t;
		if (tr_search_compile(target, text, orders, order ? 1 : 0, &q, &err) == TR_OK) {
			/* every '?' has a bind and no input text reaches the SQL */
			size_t marks = 0;
			for (const char *p = q.where; *p; p++)
				marks += *p == '?';
			if (marks != q.n_where_binds)
				abort();
			tr_search_query_release(&q);
		} else if (err.len == 0) {
			abort(); /* an error always says why */
		}
		tr_buf_release(&err);
	}
	free(text);
	return 0;
}
