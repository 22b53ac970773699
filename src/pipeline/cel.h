/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subset of CEL (the Common Expression Language) that the KFP compiler
 * emits in triggerPolicy.condition and parameterExpressionSelector, and that
 * Trellis YAML uses in `when:`:
 *   literals      1  2.5  'a'  "b"  true  false  null
 *   names         inputs.parameter_values['pipelinechannel--x']  string_value  a.b['c']
 *   calls         int(x)  double(x)  string(x)  bool(x)  size(x)  parseJson(s)
 *   operators     ! -x  * / %  + -  == != < <= > >=  in  &&  ||  ( )
 *   indexing      e[k] on lists and maps, e.f on maps
 * Expressions are parsed once (at load time, so a bad one is a validation
 * error with its position) and evaluated later against a JSON context, the
 * resolved inputs: {"inputs": {"parameter_values": {...}}} for conditions,
 * {"string_value": "<json text>"} for selectors.
 * A parsed expression lives in the arena it was parsed into; evaluation only
 * reads it, so one expression may be evaluated from several threads.
 */
#ifndef TR_PIPELINE_CEL_H
#define TR_PIPELINE_CEL_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tr_arena;
struct tr_buf;
struct tr_cel;

#define TR_CEL_MAX_LEN	 65536
#define TR_CEL_MAX_DEPTH 64

/*
 * Parses SRC into *OUT, allocated from ARENA (valid until it is freed). On a
 * syntax error returns TR_ERR_INVALID_PARAMETER_VALUE, the message in ERR and
 * the 0-based byte offset of the problem in *ERR_POS.
 */
enum tr_err tr_cel_parse(struct tr_arena *arena, const char *src, struct tr_cel **out /* OUT */,
			 size_t *err_pos /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Evaluates E against CTX; *OUT gets a new reference (free with json_decref).
 * Type errors, missing keys and bad conversions are TR_ERR_INVALID_PARAMETER_VALUE. */
enum tr_err tr_cel_eval(const struct tr_cel *e, json_t *ctx, json_t **out /* OUT */,
			struct tr_buf *err) __attribute__((warn_unused_result));
/* Evaluates a condition: the result must be a boolean. */
enum tr_err tr_cel_eval_bool(const struct tr_cel *e, json_t *ctx, bool *out /* OUT */,
			     struct tr_buf *err) __attribute__((warn_unused_result));

/*
 * A name chain in an expression: `inputs.parameter_values['x']` is the path
 * {"inputs", "parameter_values", "x"}. Visitors may replace SEG and N (with
 * strings that outlive the expression), which is how a loader maps its own
 * names onto the inputs a task receives.
 */
struct tr_cel_path {
	const char **seg;
	size_t n;
	size_t pos; /* byte offset in the source */
};
typedef void tr_cel_path_fn(void *ud, struct tr_cel_path *p);
/* Calls FN for each path of E, in source order. */
void tr_cel_each_path(struct tr_cel *e, tr_cel_path_fn *fn, void *ud);

#endif
