/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed reads of YAML fields for the loaders, each reporting a wrong shape at
 * the node's position ("'retry' must be an integer") and carrying on, so one
 * validation run lists every problem. WHAT names the field in messages.
 */
#ifndef TR_PIPELINE_FIELDS_H
#define TR_PIPELINE_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

struct tr_diags;
struct tr_yaml_node;

/* Reports each key of MAP not in ALLOWED (NULL-terminated) as an error, or as
 * a warning when WARN_ONLY; CONTEXT says where ("task 'train'"). Returns false
 * (with an error) when MAP is not a mapping. */
bool tr_fields_check(struct tr_diags *d, const struct tr_yaml_node *map, const char *context,
		     const char *const *allowed, bool warn_only);
/* True when N is a mapping; else reports "WHAT must be a mapping". */
bool tr_fields_map(struct tr_diags *d, const struct tr_yaml_node *n, const char *what);
/* True when N is a list; else reports. */
bool tr_fields_seq(struct tr_diags *d, const struct tr_yaml_node *n, const char *what);
/* N's text when N is a scalar (not null), else reports and returns NULL. */
const char *tr_fields_str(struct tr_diags *d, const struct tr_yaml_node *n, const char *what);
/* A boolean (true/false); reports otherwise and leaves *OUT. */
bool tr_fields_bool(struct tr_diags *d, const struct tr_yaml_node *n, const char *what, bool *out);
/* An integer; an integral float ("3.0") is accepted. Reports otherwise. */
bool tr_fields_int(struct tr_diags *d, const struct tr_yaml_node *n, const char *what,
		   int64_t *out);
/* A number. Reports otherwise. */
bool tr_fields_double(struct tr_diags *d, const struct tr_yaml_node *n, const char *what,
		      double *out);
/* A duration ("30s", "1.5h", "500ms", or seconds as a number) in ms. */
bool tr_fields_duration(struct tr_diags *d, const struct tr_yaml_node *n, const char *what,
			int64_t *ms);

#endif
