/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Glue over jansson for MLflow's JSON conventions: int64 fields arrive as
 * numbers or numeric strings, doubles may be "NaN"/"Infinity"/"-Infinity",
 * booleans from query strings are "True"/"False". Request arguments (body or
 * query string) are always a json_t object, so handlers read both the same way.
 */
#ifndef TR_CORE_JSON_H
#define TR_CORE_JSON_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct tr_buf;

/* The string at KEY, or NULL when absent or JSON null. Borrowed from OBJ.
 * A present non-string value is an INVALID_PARAMETER_VALUE. */
enum tr_err tr_json_str(json_t *obj, const char *key, const char **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Like tr_json_str, but a missing or empty value is an error with MLflow's
 * "Missing value for required parameter" message. */
enum tr_err tr_json_req_str(json_t *obj, const char *key, const char **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* int64 from a number or a decimal string; *PRESENT false when absent. */
enum tr_err tr_json_int64(json_t *obj, const char *key, int64_t *out, bool *present,
			  struct tr_buf *err) __attribute__((warn_unused_result));
/* double from a number, a numeric string, or "NaN"/"Infinity"/"-Infinity". */
enum tr_err tr_json_double(json_t *obj, const char *key, double *out, bool *present,
			   struct tr_buf *err) __attribute__((warn_unused_result));
/* bool from true/false or the strings "true"/"false" in any case. */
enum tr_err tr_json_bool(json_t *obj, const char *key, bool *out, bool *present, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The array at KEY; NULL when absent. Returns a new reference. (Query-string
 * lists are turned into arrays by the dispatcher before handlers read them.) */
enum tr_err tr_json_array(json_t *obj, const char *key, json_t **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Parses a double given as JSON value V (number, numeric or special string). */
enum tr_err tr_json_value_double(json_t *v, double *out) __attribute__((warn_unused_result));
/* A new JSON value for D: a real, or "NaN"/"Infinity"/"-Infinity". */
json_t *tr_json_from_double(double d);
/* Sets OBJ[KEY] (KEY a static, valid UTF-8 name) to a new string holding S,
 * which must be valid UTF-8 already (text the store validated on the way in).
 * Skips jansson's re-validation and format parsing on hot read paths. */
void tr_json_put_str(json_t *obj, const char *key, const char *s);
void tr_json_put_int(json_t *obj, const char *key, int64_t v);
/* Serialises V compactly; returns a new string, free with free(). */
char *tr_json_dump(const json_t *v);
/* Deepest nesting of V (1 for a scalar). */
int tr_json_depth(const json_t *v);

#endif
