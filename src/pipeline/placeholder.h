/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KFP placeholders, `{{$...}}` inside command/args strings, f-string
 * constants and resource fields. This module recognises them (for
 * validation now; the resolver substitutes them in a later step): the forms
 * are those of reference/kfp-ir.md §2.
 */
#ifndef TR_PIPELINE_PLACEHOLDER_H
#define TR_PIPELINE_PLACEHOLDER_H

#include <stdbool.h>
#include <stddef.h>

enum tr_ph_kind {
	TR_PH_EXECUTOR_INPUT,  /* {{$}} */
	TR_PH_INPUT_PARAM,     /* {{$.inputs.parameters['x']}} */
	TR_PH_INPUT_ARTIFACT,  /* {{$.inputs.artifacts['x']}}, .uri, .path, .metadata[...] */
	TR_PH_OUTPUT_PARAM,    /* {{$.outputs.parameters['x'].output_file}} */
	TR_PH_OUTPUT_ARTIFACT, /* {{$.outputs.artifacts['x'].uri}}, .path, .metadata */
	TR_PH_OUTPUT_FILE,     /* {{$.outputs.output_file}}, {{$.outputMetadataUri}} */
	TR_PH_RUNTIME,	       /* {{$.pipeline_job_name}} and the other run values */
};

struct tr_placeholder {
	enum tr_ph_kind kind;
	const char *start; /* the "{{$" in the scanned string */
	size_t len;	   /* through the closing "}}" */
	const char *name;  /* input/output name or runtime value name; not NUL-terminated */
	size_t name_len;
	const char *field; /* "uri", "path", "metadata", "output_file" or NULL */
	const char *key;   /* metadata key of .metadata['k'], not NUL-terminated, or NULL */
	size_t key_len;
};

/*
 * Finds the next placeholder at or after *CURSOR. Returns true and fills PH
 * (advancing *CURSOR past it); returns false at the end. A `{{$` that starts
 * no known form also returns true, with *BAD set and PH->start/len covering
 * the unknown text, so callers can report it.
 */
bool tr_placeholder_next(const char **cursor, struct tr_placeholder *ph, bool *bad);

#endif
