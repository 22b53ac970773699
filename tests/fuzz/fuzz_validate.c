/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: key, name and artifact-location validation on arbitrary strings. */
#include "api/validate.h"
#include "core/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct tr_buf err = TR_BUF_INIT;
	if (tr_validate_key("metric", s, &err) == TR_OK) {
		/* a valid key never resolves elsewhere as a path */
		if (s[0] == '/' || strstr(s, "//") || !strcmp(s, "..") || !strncmp(s, "../", 3) ||
		    strstr(s, "/../") || (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
			abort();
	}
	if (tr_validate_artifact_location(s, &err) == TR_OK &&
	    (strchr(s, '#') || strchr(s, '?') || strchr(s, ';') || strchr(s, '\\')))
		abort(); /* fragments, queries, params and backslashes never pass */
	(void)tr_validate_experiment_name(s, &err);
	(void)tr_validate_run_id(s, &err);
	size_t n = tr_utf8_prefix_bytes(s, 7);
	if (n > size)
		abort();
	tr_buf_release(&err);
	free(s);
	return 0;
}
