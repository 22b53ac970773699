/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: KFP's untrusted request parsers. The first byte picks one:
 * the multipart/form-data walk of an upload body, the list request's filter
 * JSON and sort_by (with a page token), or an RFC3339 time. Nothing may crash,
 * leak, or read outside the input; a part found must lie inside the body.
 */
#include "api/kfp.h"
#include "core/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct tr_kfp_field fields[] = {
    {"run_id", "run_id", TR_KFP_TEXT}, {"display_name", "display_name", TR_KFP_TEXT},
    {"state", "state", TR_KFP_TEXT},   {"created_at", "created_ms", TR_KFP_TIME_MS},
    {"count", "n", TR_KFP_INT},	       {NULL, NULL, TR_KFP_TEXT},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t mode = data[0] % 3;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct tr_buf err = TR_BUF_INIT;
	if (mode == 0) {
		struct tr_kfp_part part;
		if (tr_kfp_multipart_find("multipart/form-data; boundary=XyZ", body, len,
					  "uploadfile", &part, &err) == TR_OK &&
		    (part.data < body || part.data + part.len > body + len))
			abort();
	} else {
		char *text = malloc(len + 1);
		memcpy(text, body, len);
		text[len] = '\0';
		if (mode == 1) {
			/* text = filter, up to a NUL-free split: "<filter>\n<sort>\n<token>" */
			char *sort = strchr(text, '\n'), *token = NULL;
			if (sort) {
				*sort++ = '\0';
				token = strchr(sort, '\n');
				if (token)
					*token++ = '\0';
			}
			json_t *args = json_pack("{s:s,s:s,s:s,s:s}", "filter", text, "sort_by",
						 sort ? sort : "", "page_token", token ? token : "",
						 "page_size", "7");
			if (args) {
				struct tr_kfp_list l = TR_KFP_LIST_INIT;
				if (tr_kfp_list_parse_args(args, fields, &l, &err) == TR_OK) {
					char *t = tr_kfp_list_token(&l, 7);
					free(t);
				}
				tr_kfp_list_release(&l);
				json_decref(args);
			}
		} else {
			int64_t ms;
			(void)tr_kfp_parse_time(text, &ms);
		}
		free(text);
	}
	tr_buf_release(&err);
	return 0;
}
