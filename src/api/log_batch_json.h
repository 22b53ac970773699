/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runs/log-batch request bodies read straight into a struct tr_log_batch with
 * yajl's streaming (SAX) parser. The ingest hot path: a 1,000-metric body is
 * ~80 KB of JSON, which jansson turns into ~10,000 heap objects in ~2.5 ms;
 * streaming it into arrays takes ~0.4 ms (docs/benchmarks.md).
 */
#ifndef TR_API_LOG_BATCH_JSON_H
#define TR_API_LOG_BATCH_JSON_H

#include "core/err.h"
#include "store/store.h"

#include <stddef.h>

struct tr_arena;
struct tr_buf;

/*
 * Parses the LEN bytes at BODY (MLflow's LogBatch message as JSON: run_id,
 * metrics, params, tags; unknown fields ignored, as protobuf's parser does)
 * into OUT. Strings and arrays are allocated from ARENA. Numbers may be JSON
 * numbers or numeric strings; metric values also "NaN", "Infinity",
 * "-Infinity". A malformed body or a field of the wrong type is an
 * INVALID_PARAMETER_VALUE with a message in ERR.
 */
enum tr_err tr_log_batch_parse(const char *body, size_t len, struct tr_arena *arena,
			       struct tr_log_batch *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
