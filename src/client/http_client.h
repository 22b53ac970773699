/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small JSON-over-HTTP client for talking to a `trellis server` (libcurl).
 * One handle is reused across requests so connections are kept alive.
 * Everything the server answers is untrusted: bodies are bounded
 * (TR_CLIENT_MAX_BODY) and parsed as JSON with errors returned as values.
 * TLS peers are always verified.
 *
 * Lifecycle: tr_client_new() -> tr_client_request()... -> tr_client_free().
 * A client is used by one thread at a time.
 */
#ifndef TR_CLIENT_HTTP_CLIENT_H
#define TR_CLIENT_HTTP_CLIENT_H

#include "core/buf.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>

#define TR_CLIENT_MAX_BODY ((size_t)64 << 20) /* a response body at most this big */

struct tr_client;

/* Returns a new client; free with tr_client_free(). Fails only when libcurl
 * cannot be initialised. */
enum tr_err tr_client_new(struct tr_client **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Frees C and its connections; NULL is a no-op. */
void tr_client_free(struct tr_client *c);

/*
 * Sends METHOD URL with BODY (borrowed; NULL: none, and a POST then sends an
 * empty body) as application/json, waiting at most TIMEOUT_MS for the whole
 * exchange. On TR_OK *STATUS has the HTTP status and *JSON_OUT the parsed
 * answer (a new reference; json_decref() it) or NULL when the body was empty
 * or, for a status other than 2xx, not JSON. Errors: the server could not be
 * reached or the exchange broke off (IO_ERROR, libcurl's message in ERR),
 * a body over TR_CLIENT_MAX_BODY (TOO_LARGE), a 2xx body that is not JSON
 * (BAD_REQUEST).
 */
enum tr_err tr_client_request(struct tr_client *c, const char *method, const char *url,
			      json_t *body, long timeout_ms, long *status /* OUT */,
			      json_t **json_out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* The text of a server's error answer (MLflow {"error_code", "message"} or
 * KFP {"message"}) into OUT, or "HTTP <status>" when it has none. */
void tr_client_error_text(long status, json_t *answer, struct tr_buf *out);

#endif
