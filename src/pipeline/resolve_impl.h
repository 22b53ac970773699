/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the resolver's files (resolve.c, resolve_outputs.c,
 * resolve_pip.c); not part of the contract in resolve.h.
 */
#ifndef TR_PIPELINE_RESOLVE_IMPL_H
#define TR_PIPELINE_RESOLVE_IMPL_H

#include "core/err.h"
#include "pipeline/spec.h"

#include <jansson.h>

struct tr_buf;

/*
 * V as a value of parameter type T, the way protobuf Values reach a step:
 * NUMBER_INTEGER as a JSON integer (an integral double is converted, 2.5 is
 * refused), NUMBER_DOUBLE as a JSON real (an integer is converted), the
 * other types checked. WHAT names the value in messages ("input 'x' of
 * 'comp-a'"). *OUT is a new reference.
 */
enum tr_err tr_resolve_coerce(json_t *v, enum tr_param_type t, const char *what,
			      json_t **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* What V is, for messages: "a string", "an integer", "null", ... */
const char *tr_resolve_json_kind(const json_t *v);

#endif
