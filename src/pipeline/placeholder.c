/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placeholder recognition: a small hand-written matcher over the fixed KFP
 * forms. Names are quoted with ' or " inside [...]; anything else after "{{$"
 * is reported as unknown rather than passed through, because a typo in a
 * placeholder would otherwise reach the step as literal text.
 */
#include "pipeline/placeholder.h"

#include <string.h>

static const char *const runtime_names[] = {"pipeline_job_name",
					    "pipeline_job_resource_name",
					    "pipeline_job_uuid",
					    "pipeline_task_name",
					    "pipeline_task_uuid",
					    "pipeline_root",
					    "pipeline_job_create_time_utc",
					    "pipeline_job_schedule_time_utc",
					    "workspace_path",
					    NULL};

static bool lit(const char **p, const char *s)
{
	size_t n = strlen(s);
	if (strncmp(*p, s, n))
		return false;
	*p += n;
	return true;
}

/* ['name'] or ["name"] */
static bool quoted(const char **p, const char **name, size_t *len)
{
	const char *s = *p;
	if (*s++ != '[')
		return false;
	char q = *s++;
	if (q != '\'' && q != '"')
		return false;
	const char *end = strchr(s, q);
	if (!end || end[1] != ']' || end == s)
		return false;
	*name = s;
	*len = (size_t)(end - s);
	*p = end + 2;
	return true;
}

static bool parse(const char *p, struct tr_placeholder *ph, const char **after)
{
	const char *f = NULL;
	if (lit(&p, "}}")) {
		ph->kind = TR_PH_EXECUTOR_INPUT;
		goto done;
	}
	if (!lit(&p, "."))
		return false;
	if (lit(&p, "inputs.parameters")) {
		ph->kind = TR_PH_INPUT_PARAM;
		if (!quoted(&p, &ph->name, &ph->name_len))
			return false;
	} else if (lit(&p, "inputs.artifacts")) {
		ph->kind = TR_PH_INPUT_ARTIFACT;
		if (!quoted(&p, &ph->name, &ph->name_len))
			return false;
		if (lit(&p, ".uri"))
			f = "uri";
		else if (lit(&p, ".path"))
			f = "path";
		else if (lit(&p, ".metadata")) {
			f = "metadata";
			quoted(&p, &ph->key, &ph->key_len);
		}
	} else if (lit(&p, "outputs.parameters")) {
		ph->kind = TR_PH_OUTPUT_PARAM;
		if (!quoted(&p, &ph->name, &ph->name_len) || !lit(&p, ".output_file"))
			return false;
		f = "output_file";
	} else if (lit(&p, "outputs.artifacts")) {
		ph->kind = TR_PH_OUTPUT_ARTIFACT;
		if (!quoted(&p, &ph->name, &ph->name_len))
			return false;
		if (lit(&p, ".uri"))
			f = "uri";
		else if (lit(&p, ".path"))
			f = "path";
		else if (lit(&p, ".metadata"))
			f = "metadata";
		else
			return false;
	} else if (lit(&p, "outputs.output_file") || lit(&p, "outputMetadataUri")) {
		ph->kind = TR_PH_OUTPUT_FILE;
	} else {
		const char *const *r;
		for (r = runtime_names; *r; r++) {
			size_t n = strlen(*r);
			if (!strncmp(p, *r, n) && p[n] == '}') {
				ph->kind = TR_PH_RUNTIME;
				ph->name = p;
				ph->name_len = n;
				p += n;
				break;
			}
		}
		if (!*r)
			return false;
	}
	if (!lit(&p, "}}"))
		return false;
done:
	ph->field = f;
	*after = p;
	return true;
}

bool tr_placeholder_next(const char **cursor, struct tr_placeholder *ph, bool *bad)
{
	const char *s = strstr(*cursor, "{{$");
	*bad = false;
	if (!s)
		return false;
	memset(ph, 0, sizeof(*ph));
	ph->start = s;
	const char *after;
	if (parse(s + 3, ph, &after)) {
		ph->len = (size_t)(after - s);
		*cursor = after;
		return true;
	}
	*bad = true;
	const char *end = strstr(s, "}}");
	ph->len = end ? (size_t)(end + 2 - s) : strlen(s);
	*cursor = s + ph->len;
	return true;
}
