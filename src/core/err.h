/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error table. Every fallible function returns enum tr_err; TR_OK is 0.
 * Each entry gives the MLflow error_code name sent on the wire and the HTTP
 * status. Client mistakes are always 4xx: the MLflow client retries 5xx for
 * minutes, so INVALID_STATE is a 400 here (MLflow answers 500).
 * Detail goes into a caller-owned struct tr_buf, untouched on success.
 */
#ifndef TR_CORE_ERR_H
#define TR_CORE_ERR_H

#include <stdarg.h>

struct tr_buf;

/* X(enum suffix, wire error_code, HTTP status, default text) */
#define TR_ERR_MAP(X)                                                                              \
	X(OK, "OK", 200, "ok")                                                                     \
	X(INVALID_PARAMETER_VALUE, "INVALID_PARAMETER_VALUE", 400, "invalid parameter value")      \
	X(BAD_REQUEST, "BAD_REQUEST", 400, "malformed request")                                    \
	X(RESOURCE_ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS", 400, "resource already exists")      \
	X(INVALID_STATE, "INVALID_STATE", 400, "invalid state")                                    \
	X(UNAUTHENTICATED, "UNAUTHENTICATED", 401, "unauthenticated")                              \
	X(PERMISSION_DENIED, "PERMISSION_DENIED", 403, "permission denied")                        \
	X(RESOURCE_DOES_NOT_EXIST, "RESOURCE_DOES_NOT_EXIST", 404, "resource does not exist")      \
	X(ENDPOINT_NOT_FOUND, "ENDPOINT_NOT_FOUND", 404, "endpoint not found")                     \
	X(METHOD_NOT_ALLOWED, "BAD_REQUEST", 405, "method not allowed")                            \
	X(TOO_LARGE, "REQUEST_LIMIT_EXCEEDED", 413, "request too large")                           \
	X(RANGE_NOT_SATISFIABLE, "INVALID_PARAMETER_VALUE", 416, "range not satisfiable")          \
	X(INTERNAL_ERROR, "INTERNAL_ERROR", 500, "internal error")                                 \
	X(IO_ERROR, "IO_ERROR", 500, "i/o error")                                                  \
	X(DATA_LOSS, "DATA_LOSS", 500, "data loss")                                                \
	X(NOT_IMPLEMENTED, "NOT_IMPLEMENTED", 501, "unsupported by this server")                   \
	X(TEMPORARILY_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE", 503, "temporarily unavailable")

enum tr_err {
#define TR_ERR_ENUM(name, code, status, text) TR_ERR_##name,
	TR_ERR_MAP(TR_ERR_ENUM)
#undef TR_ERR_ENUM
	    TR_ERR__COUNT
};

#define TR_OK TR_ERR_OK

/* Default text of E (static, never NULL). */
const char *tr_strerror(enum tr_err e);
/* MLflow error_code name of E (static). */
const char *tr_err_code_name(enum tr_err e);
/* HTTP status of E. */
int tr_err_http_status(enum tr_err e);

/*
 * Sets ERR (if not NULL) to the formatted message and returns CODE, so that a
 * failure reads `return tr_fail(err, TR_ERR_..., "key '%s' is too long", k);`.
 */
enum tr_err tr_fail(struct tr_buf *err, enum tr_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
