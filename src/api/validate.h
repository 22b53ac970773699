/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request-field validation the way MLflow's tracking server does it
 * (mlflow/utils/validation.py), plus Trellis's stricter rule for
 * artifact_location. Pure functions: no I/O, no database, thread-safe.
 *
 * Every check returns TR_OK or an enum tr_err (almost always
 * TR_ERR_INVALID_PARAMETER_VALUE, i.e. HTTP 400) and writes a message into the
 * caller-owned ERR (which may be NULL); ERR is untouched on success.
 *
 * Messages. These texts go to MLflow clients in the "message" field, so they
 * follow MLflow's wording ("Invalid metric name: 'x'. Names may only contain
 * ...") rather than the project's lowercase style. Any user text echoed in a
 * message is cut to 250 code points, and control characters and bytes that
 * are not UTF-8 are shown as \xNN, so a message is always valid UTF-8 of
 * bounded size whatever the input.
 *
 * Lengths are counted in Unicode code points of the UTF-8 input, as Python's
 * len() does; input that is not valid UTF-8 (overlong forms, surrogates,
 * code points above U+10FFFF, truncated sequences) is rejected.
 *
 * Strings are C strings: a JSON string with an embedded \u0000 is cut short
 * before it reaches us, so the JSON layer must reject (or flag) those.
 */
#ifndef TR_API_VALIDATE_H
#define TR_API_VALIDATE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_buf;

/* Limits (mlflow/utils/validation.py; the mlflow-api.md §3.7 table). Lengths
 * are in code points unless the name says BYTES. */
#define TR_MAX_KEY_LEN		     250  /* metric, param, run-tag and experiment-tag keys */
#define TR_MAX_PARAM_VALUE	     6000 /* truncated, not refused */
#define TR_MAX_TAG_VALUE	     8000 /* run tags: truncated, not refused */
#define TR_MAX_EXP_TAG_VALUE	     5000 /* experiment tags: refused */
#define TR_MAX_EXP_NAME		     500
#define TR_MAX_ARTIFACT_LOCATION     2048
#define TR_MAX_MODEL_TAG_KEY	     250
#define TR_MAX_MODEL_TAG_VALUE	     100000
#define TR_MAX_ALIAS_LEN	     255
#define TR_MAX_MODEL_NAME	     256
#define TR_MAX_TRACE_TAG_KEY	     250
#define TR_MAX_TRACE_TAG_VALUE	     8000
#define TR_MAX_RUN_ID_LEN	     256
#define TR_MAX_EXPERIMENT_ID_LEN     64
#define TR_MAX_BATCH_METRICS	     1000
#define TR_MAX_BATCH_PARAMS	     100
#define TR_MAX_BATCH_TAGS	     100
#define TR_MAX_BATCH_ENTITIES	     1000
#define TR_MAX_BATCH_DATASETS	     1000
#define TR_MAX_LOG_BATCH_BYTES	     1000000		   /* MLflow's int(1e6), not 1 MiB */
#define TR_MAX_BODY_BYTES	     (16u * 1024u * 1024u) /* any other request body */
#define TR_MAX_DATASET_NAME	     500
#define TR_MAX_DATASET_DIGEST	     36
#define TR_MAX_DATASET_SOURCE	     65535
#define TR_MAX_DATASET_SCHEMA	     1048575
#define TR_MAX_DATASET_PROFILE	     16777215
#define TR_MAX_INPUT_TAG_KEY	     255
#define TR_MAX_INPUT_TAG_VALUE	     500
#define TR_MAX_PERCENT_DECODE_ROUNDS 10

/* RunStatus and ViewType (service.proto). */
enum tr_run_status {
	TR_RUN_RUNNING = 1,
	TR_RUN_SCHEDULED = 2,
	TR_RUN_FINISHED = 3,
	TR_RUN_FAILED = 4,
	TR_RUN_KILLED = 5,
};

enum tr_view_type {
	TR_VIEW_ACTIVE_ONLY = 1,
	TR_VIEW_DELETED_ONLY = 2,
	TR_VIEW_ALL = 3,
};

/* ---- UTF-8 helpers ---------------------------------------------------- */

/* True if S is well-formed UTF-8; then *NCHARS (if not NULL) is its length in
 * code points. */
bool tr_utf8_valid(const char *s, size_t *nchars /* OUT */);

/*
 * Byte length of the first MAX_CHARS code points of S (all of S if shorter),
 * so `tr_xstrndup(s, tr_utf8_prefix_bytes(s, n))` truncates without splitting
 * a character. Never reads past S's NUL; a byte that does not start a valid
 * sequence counts as one code point.
 */
size_t tr_utf8_prefix_bytes(const char *s, size_t max_chars);

/* ---- keys and values -------------------------------------------------- */

/*
 * Checks a metric, param or tag key. WHAT is "metric", "param" or "tag" (any
 * other text is used as is) and only shapes the message. Rules, in order:
 *   - not NULL ("A key name must be provided");
 *   - valid UTF-8, at most TR_MAX_KEY_LEN code points (checked before the
 *     character rule so no huge key is echoed back);
 *   - characters from MLflow's `^[/\w.\- :]*$` (the non-Windows server rule);
 *   - equal to its own POSIX normpath and not starting with ".." or "/": so
 *     not empty, not ".", no empty segment ("a//b", "a/"), no "." or ".."
 *     segment.
 *
 * \w here is ASCII [A-Za-z0-9_] plus every non-ASCII code point except those
 * in ranges that hold no letters or digits: C1 controls, Latin-1 punctuation
 * and symbols, spaces (U+00A0, U+1680, U+2000-U+200A, U+3000, ...), format and
 * bidi controls (zero-width chars, U+202A-U+202E, U+2066-U+2069, BOM),
 * combining marks (U+0300-U+036F, U+20D0-U+20FF, U+FE20-U+FE2F), the general
 * and CJK punctuation blocks, arrows/math/box-drawing/dingbat/emoji symbol
 * blocks, fullwidth ASCII punctuation, variation selectors, tag characters,
 * private use and noncharacters. It errs on the side of accepting: Python
 * rejects a few symbols and unassigned code points that we accept, and we
 * accept no key that a client could not have logged to MLflow by design.
 */
enum tr_err tr_validate_key(const char *what, const char *key, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * Refuses VALUE if it is not UTF-8 or longer than MAX_CHARS code points. A
 * NULL VALUE passes: an absent proto2 string reads as "" in MLflow. WHAT names
 * the field in the message ("Tag value"); KEY (may be NULL) says which entry.
 * Use for values MLflow refuses rather than truncates (experiment tags).
 */
enum tr_err tr_validate_value_len(const char *what, const char *key, const char *value,
				  size_t max_chars, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * A run param: tr_validate_key("param", KEY) and a UTF-8 VALUE. MLflow's
 * server truncates values over TR_MAX_PARAM_VALUE code points instead of
 * failing (MLFLOW_TRUNCATE_LONG_VALUES defaults to true); *KEEP_BYTES is how
 * many bytes of VALUE to store (strlen(VALUE) when it fits). A NULL VALUE
 * means "" (an absent proto2 string, as MLflow reads it): *KEEP_BYTES is 0 and
 * the caller stores "".
 */
enum tr_err tr_validate_param(const char *key, const char *value, size_t *keep_bytes /* OUT */,
			      struct tr_buf *err) __attribute__((warn_unused_result));

/* A run tag: like tr_validate_param with TR_MAX_TAG_VALUE. */
enum tr_err tr_validate_run_tag(const char *key, const char *value, size_t *keep_bytes /* OUT */,
				struct tr_buf *err) __attribute__((warn_unused_result));

/* An experiment tag: tag key rules, and a value over TR_MAX_EXP_TAG_VALUE is
 * refused (no truncation for experiment tags). */
enum tr_err tr_validate_experiment_tag(const char *key, const char *value, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* ---- model registry ---------------------------------------------------- */

/* A registered model name: 1..256 code points of UTF-8 without control
 * characters ("Registered model name cannot be empty."). */
enum tr_err tr_validate_model_name(const char *name, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* A registered-model or model-version tag: tag key rules and a value of at
 * most TR_MAX_MODEL_TAG_VALUE code points (refused, not truncated). */
enum tr_err tr_validate_model_tag(const char *key, const char *value, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* An alias: `^[\w\-]*$` (ASCII word characters and '-'), 1..255 long, and
 * not one of the names MLflow reserves: "latest" in any case, "v<digits>". */
enum tr_err tr_validate_model_alias(const char *alias, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* A model version number given as a string ("3") or integer; *OUT >= 1. */
enum tr_err tr_validate_model_version(const char *s, int64_t *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* The canonical stage name ("None", "Staging", "Production", "Archived") for
 * S in any case, or NULL. */
const char *tr_model_stage_canonical(const char *s);

/* ---- log-batch -------------------------------------------------------- */

/* The log-batch counts: at most 1000 metrics, 100 params, 100 tags and
 * 1000 entities in all, with MLflow's "A batch logging request can contain at
 * most ..." message. */
enum tr_err tr_validate_batch_sizes(size_t n_metrics, size_t n_params, size_t n_tags,
				    struct tr_buf *err) __attribute__((warn_unused_result));

/* The log-batch body: at most TR_MAX_LOG_BATCH_BYTES bytes. */
enum tr_err tr_validate_batch_body_size(size_t n_bytes, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* A metric timestamp (ms since the epoch) must be >= 0. KEY (may be NULL)
 * names the metric in the message. */
enum tr_err tr_validate_metric_timestamp(int64_t ts, const char *key, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* ---- experiments, runs, datasets -------------------------------------- */

/* 1..TR_MAX_EXP_NAME code points of UTF-8. Like MLflow, a name of spaces is
 * accepted; only NULL, "" and over-long names are refused. */
enum tr_err tr_validate_experiment_name(const char *name, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* `^[a-zA-Z0-9][A-Za-z0-9_-]{0,255}$` (ASCII; no trailing newline either). */
enum tr_err tr_validate_run_id(const char *id, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* `^[a-zA-Z0-9][A-Za-z0-9_-]{0,63}$`. Trellis mints decimal ids, but any id of
 * this shape passes so the store can answer RESOURCE_DOES_NOT_EXIST. */
enum tr_err tr_validate_experiment_id(const char *id, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * A Dataset (log-inputs): NAME, DIGEST, SOURCE_TYPE and SOURCE required;
 * SCHEMA and PROFILE may be NULL; each within its TR_MAX_DATASET_* limit.
 */
enum tr_err tr_validate_dataset(const char *name, const char *digest, const char *source_type,
				const char *source, const char *schema, const char *profile,
				struct tr_buf *err) __attribute__((warn_unused_result));

/* An InputTag: KEY and VALUE required, within 255 and 500 code points. */
enum tr_err tr_validate_input_tag(const char *key, const char *value, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* ---- enums ------------------------------------------------------------ */

/*
 * A RunStatus given as its name (any case: "FINISHED", "finished") or its
 * number as a decimal string ("3"). *OUT is the enum tr_run_status value.
 */
enum tr_err tr_validate_run_status(const char *s, int *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * A ViewType: NULL or "" means ACTIVE_ONLY (the proto default); otherwise a
 * name in any case or "1"/"2"/"3". *OUT is the enum tr_view_type value.
 */
enum tr_err tr_validate_view_type(const char *s, int *out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Wire names of the enums ("RUNNING", "ALL"); NULL for an unknown value. */
const char *tr_run_status_name(int status);
const char *tr_view_type_name(int view_type);

/* ---- artifact_location ------------------------------------------------ */

/*
 * The experiments/create artifact_location.
 *
 * POLICY (stricter than MLflow): artifact_location is attacker input
 * (CVE-2023-6909, CVE-2024-2928, CVE-2024-1593, CVE-2024-8859,
 * CVE-2023-43472 and the huntr SSRF report in known-attacks.md). Trellis
 * accepts only NULL or "" (the server chooses the location) or an
 * `mlflow-artifacts:` URI with an empty authority and an absolute path:
 * "mlflow-artifacts:/path" or "mlflow-artifacts:///path" (lower-case scheme).
 * Every other scheme (http, https, file, dbfs, s3, gs, runs, ...), schemeless
 * paths, and an authority naming a host ("mlflow-artifacts://host/..", which
 * would send clients' uploads elsewhere) are refused, so the server never
 * reads, writes or fetches anything a client pointed it at.
 *
 * Also refused, each with its own message, checked before the scheme so the
 * reason is precise: more than TR_MAX_ARTIFACT_LOCATION code points, invalid
 * UTF-8, control characters (U+0000-U+001F, U+007F), backslashes, a fragment
 * ('#'), ';' parameters, a query containing "..", any query at all, and in the
 * path an empty interior segment, a "." or ".." segment, or any of those
 * characters, after each of up to TR_MAX_PERCENT_DECODE_ROUNDS rounds of
 * percent-decoding; a value still changing after that many rounds is refused.
 *
 * Note: this does not stop one experiment naming another's server-minted
 * location (e.g. "mlflow-artifacts:/0"); whether that is allowed is the
 * store's and the authorization layer's decision.
 */
enum tr_err tr_validate_artifact_location(const char *loc, struct tr_buf *err)
    __attribute__((warn_unused_result));

#endif
