/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request-field checks with MLflow's rules and messages (see validate.h).
 *
 * No regular expressions: each rule is a small scanner over the bytes. Text
 * is UTF-8 and is decoded strictly (no overlong forms, surrogates or values
 * above U+10FFFF); lengths are code points, as Python's len() counts them.
 * Anything user-supplied that a message repeats goes through echo(), which
 * bounds it and escapes control and non-UTF-8 bytes, so messages are always
 * safe to put in a JSON body or a log line.
 *
 * Key paths use MLflow's own rule, literally: a key is valid when it equals
 * posixpath.normpath(key) and that normal form is not "." and starts with
 * neither ".." nor "/". normpath() below follows CPython's algorithm so the
 * "would resolve to" message names the same path MLflow would.
 */
#include "api/validate.h"
#include "core/ids.h"
#include "core/buf.h"
#include <strings.h>

#include <inttypes.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Decodes the sequence at S into *CP and returns its length, or 0 if S does
 * not start a well-formed sequence. A NUL decodes as U+0000 of length 1, and
 * a NUL inside a sequence fails the continuation test, so the scan never
 * passes the terminator.
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0Fu;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07u;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		unsigned char d = s[i];
		if (d < lo || d > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
		v = (v << 6) | (d & 0x3Fu);
	}
	*cp = v;
	return n;
}

bool tr_utf8_valid(const char *s, size_t *nchars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t count = 0;
	uint32_t cp;

	while (*p) {
		size_t k = utf8_decode(p, &cp);
		if (!k)
			return false;
		p += k;
		count++;
	}
	if (nchars)
		*nchars = count;
	return true;
}

size_t tr_utf8_prefix_bytes(const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, chars = 0;
	uint32_t cp;

	while (p[i] && chars < max_chars) {
		size_t k = utf8_decode(p + i, &cp);
		i += k ? k : 1;
		chars++;
	}
	return i;
}

/*
 * Appends S to Q for a message: at most MAX_CHARS code points (then "..."),
 * control characters and bytes that are not UTF-8 as \xNN. Returns Q's text.
 */
static const char *echo(struct tr_buf *q, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	uint32_t cp;

	tr_buf_reset(q);
	tr_buf_appends(q, ""); /* so the result is never NULL */
	for (; *p; n++) {
		size_t k;
		if (n == max_chars) {
			tr_buf_appends(q, "...");
			break;
		}
		k = utf8_decode(p, &cp);
		if (!k || cp < 0x20 || cp == 0x7F) {
			tr_buf_appendf(q, "\\x%02X", *p);
			p++;
		} else {
			tr_buf_append(q, p, k);
			p += k;
		}
	}
	return tr_buf_str(q);
}

#define ECHO_CHARS 250

/* ---- word characters ------------------------------------------------- */

struct cp_range {
	uint32_t lo, hi;
};

/* Non-ASCII ranges holding no letters or digits (sorted; see validate.h). */
static const struct cp_range non_word[] = {
    {0x0080, 0x00A9},	 {0x00AB, 0x00B1},   {0x00B4, 0x00B4},	 {0x00B6, 0x00B8},
    {0x00BB, 0x00BB},	 {0x00BF, 0x00BF},   {0x00D7, 0x00D7},	 {0x00F7, 0x00F7},
    {0x0300, 0x036F},	 {0x037E, 0x037E},   {0x0387, 0x0387},	 {0x0600, 0x0605},
    {0x061C, 0x061C},	 {0x06DD, 0x06DD},   {0x070F, 0x070F},	 {0x0890, 0x0891},
    {0x08E2, 0x08E2},	 {0x1680, 0x1680},   {0x180E, 0x180E},	 {0x2000, 0x206F},
    {0x20A0, 0x20FF},	 {0x2190, 0x245F},   {0x2500, 0x2775},	 {0x2794, 0x2BFF},
    {0x2E00, 0x2E2E},	 {0x2E30, 0x2E7F},   {0x3000, 0x3004},	 {0x3008, 0x3020},
    {0x302A, 0x3030},	 {0x3036, 0x3037},   {0x303D, 0x303F},	 {0xD800, 0xF8FF},
    {0xFDD0, 0xFDEF},	 {0xFE00, 0xFE6F},   {0xFEFF, 0xFEFF},	 {0xFF01, 0xFF0F},
    {0xFF1A, 0xFF20},	 {0xFF3B, 0xFF40},   {0xFF5B, 0xFF65},	 {0xFFE0, 0xFFFF},
    {0x110BD, 0x110BD},	 {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A},	 {0x1F000, 0x1F0FF}, {0x1F10D, 0x1FBEF}, {0xE0000, 0xE0FFF},
    {0xF0000, 0x10FFFF},
};

static bool ascii_alnum(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Python's \w on str, approximately: see tr_validate_key in validate.h. */
static bool is_word_cp(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(non_word) / sizeof(non_word[0]);

	if (cp < 0x80)
		return ascii_alnum(cp) || cp == '_';
	if ((cp & 0xFFFEu) == 0xFFFEu)
		return false; /* noncharacters U+xFFFE, U+xFFFF in every plane */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < non_word[mid].lo)
			hi = mid;
		else if (cp > non_word[mid].hi)
			lo = mid + 1;
		else
			return false;
	}
	return true;
}

/* ---- keys ------------------------------------------------------------ */

static const char BAD_CHARACTERS[] =
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
    "spaces ( ), colon(:) and slashes (/).";

static const char *key_noun(const char *what)
{
	if (!what)
		return "key";
	if (!strcmp(what, "param"))
		return "parameter";
	return what;
}

/* Drops the last component of OUT (which begins at BASE). */
static void pop_component(struct tr_buf *out, size_t base)
{
	size_t i = out->len;
	while (i > base && out->data[i - 1] != '/')
		i--;
	out->len = i > base ? i - 1 : base;
	out->data[out->len] = '\0';
}

/* posixpath.normpath(PATH) into OUT, by CPython's algorithm. */
static void normpath(const char *path, struct tr_buf *out)
{
	size_t lead = 0, base, ncomp = 0, ndotdot = 0;
	const char *p = path;

	tr_buf_reset(out);
	tr_buf_appends(out, "");
	if (!*path) {
		tr_buf_appends(out, ".");
		return;
	}
	if (path[0] == '/')
		lead = (path[1] == '/' && path[2] != '/') ? 2 : 1; /* POSIX keeps exactly "//" */
	for (size_t i = 0; i < lead; i++)
		tr_buf_appendc(out, '/');
	base = out->len;
	while (*p) {
		const char *q;
		size_t n;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		for (q = p; *q && *q != '/'; q++)
			;
		n = (size_t)(q - p);
		if (n == 1 && p[0] == '.') {
			/* "." vanishes */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (ncomp > ndotdot) {
				pop_component(out, base);
				ncomp--;
			} else if (!lead) {
				if (ncomp)
					tr_buf_appendc(out, '/');
				tr_buf_appends(out, "..");
				ncomp++;
				ndotdot++;
			} /* else ".." above the root vanishes */
		} else {
			if (ncomp)
				tr_buf_appendc(out, '/');
			tr_buf_append(out, p, n);
			ncomp++;
		}
		p = q;
	}
	if (!out->len)
		tr_buf_appends(out, ".");
}

enum tr_err tr_validate_key(const char *what, const char *key, struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT, norm = TR_BUF_INIT;
	const char *noun = key_noun(what);
	enum tr_err rc = TR_OK;
	size_t nchars;
	const char *n;

	if (!key)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing %s name. A key name must be provided.", noun);
	if (!tr_utf8_valid(key, &nchars)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid %s name: '%s'. Names must be valid UTF-8.", noun,
			     echo(&q, key, ECHO_CHARS));
		goto out;
	}
	if (nchars > TR_MAX_KEY_LEN) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid %s name: '%s'. Name of length %zu exceeds the maximum length "
			     "of %d characters",
			     noun, echo(&q, key, ECHO_CHARS), nchars, TR_MAX_KEY_LEN);
		goto out;
	}
	for (const unsigned char *p = (const unsigned char *)key; *p;) {
		uint32_t cp;
		size_t k = utf8_decode(p, &cp); /* valid: checked above */
		if (!(cp == '/' || cp == '.' || cp == '-' || cp == ' ' || cp == ':' ||
		      is_word_cp(cp))) {
			rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				     "Invalid %s name: '%s'. %s", noun, echo(&q, key, ECHO_CHARS),
				     BAD_CHARACTERS);
			goto out;
		}
		p += k;
	}
	normpath(key, &norm);
	n = tr_buf_str(&norm);
	if (strcmp(n, key) || !strcmp(n, ".") || !strncmp(n, "..", 2) || n[0] == '/') {
		struct tr_buf q2 = TR_BUF_INIT;
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid %s name: '%s'. Names may be treated as files in certain "
			     "cases, and must not resolve to other names when treated as such. "
			     "This name would resolve to '%s'",
			     noun, echo(&q, key, ECHO_CHARS), echo(&q2, n, ECHO_CHARS));
		tr_buf_release(&q2);
		goto out;
	}
out:
	tr_buf_release(&norm);
	tr_buf_release(&q);
	return rc;
}

/* ---- values ---------------------------------------------------------- */

enum tr_err tr_validate_value_len(const char *what, const char *key, const char *value,
				  size_t max_chars, struct tr_buf *err)
{
	struct tr_buf subj = TR_BUF_INIT, q = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	size_t nchars;

	if (!value)
		return TR_OK; /* an absent proto2 string reads as "" */
	tr_buf_appends(&subj, what ? what : "Value");
	if (key)
		tr_buf_appendf(&subj, " for key '%s'", echo(&q, key, ECHO_CHARS));
	if (!tr_utf8_valid(value, &nchars))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s must be valid UTF-8",
			     tr_buf_str(&subj));
	else if (nchars > max_chars)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "%s had length %zu, which exceeded length limit of %zu",
			     tr_buf_str(&subj), nchars, max_chars);
	tr_buf_release(&q);
	tr_buf_release(&subj);
	return rc;
}

/* Key rules, then a UTF-8 value cut to MAX code points. */
static enum tr_err key_and_truncated_value(const char *what, const char *value_what,
					   const char *key, const char *value, size_t max,
					   size_t *keep_bytes, struct tr_buf *err)
{
	enum tr_err rc = tr_validate_key(what, key, err);
	if (rc)
		return rc;
	if (!value) {
		*keep_bytes = 0; /* an absent proto2 string reads as "" */
		return TR_OK;
	}
	/* Validity only; length is handled by truncation. */
	rc = tr_validate_value_len(value_what, key, value, SIZE_MAX, err);
	if (rc)
		return rc;
	*keep_bytes = tr_utf8_prefix_bytes(value, max);
	return TR_OK;
}

enum tr_err tr_validate_param(const char *key, const char *value, size_t *keep_bytes,
			      struct tr_buf *err)
{
	return key_and_truncated_value("param", "Param value", key, value, TR_MAX_PARAM_VALUE,
				       keep_bytes, err);
}

enum tr_err tr_validate_run_tag(const char *key, const char *value, size_t *keep_bytes,
				struct tr_buf *err)
{
	return key_and_truncated_value("tag", "Tag value", key, value, TR_MAX_TAG_VALUE, keep_bytes,
				       err);
}

enum tr_err tr_validate_experiment_tag(const char *key, const char *value, struct tr_buf *err)
{
	enum tr_err rc = tr_validate_key("tag", key, err);
	if (rc)
		return rc;
	return tr_validate_value_len("Tag value", key, value, TR_MAX_EXP_TAG_VALUE, err);
}

/* ---- model registry -------------------------------------------------- */

enum tr_err tr_validate_model_name(const char *name, struct tr_buf *err)
{
	size_t n;
	if (!name || !*name)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Registered model name cannot be empty.");
	if (!tr_utf8_valid(name, &n) || n > TR_MAX_MODEL_NAME)
		return tr_fail(
		    err, TR_ERR_INVALID_PARAMETER_VALUE,
		    "Registered model name must be valid UTF-8 of at most %d characters.",
		    TR_MAX_MODEL_NAME);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return tr_fail(
			    err, TR_ERR_INVALID_PARAMETER_VALUE,
			    "Registered model name must not contain control characters.");
	return TR_OK;
}

enum tr_err tr_validate_model_tag(const char *key, const char *value, struct tr_buf *err)
{
	enum tr_err rc = tr_validate_key("tag", key, err);
	if (rc)
		return rc;
	return tr_validate_value_len("Tag value", key, value, TR_MAX_MODEL_TAG_VALUE, err);
}

enum tr_err tr_validate_model_alias(const char *alias, struct tr_buf *err)
{
	if (!alias || !*alias)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Alias name cannot be empty.");
	size_t n = strlen(alias);
	bool ok = n <= TR_MAX_ALIAS_LEN;
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char c = (unsigned char)alias[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '-';
	}
	if (!ok)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid alias name '%.64s'. Names may only contain alphanumerics, "
			       "underscores (_) and dashes (-), at most %d characters.",
			       alias, TR_MAX_ALIAS_LEN);
	bool v_digits = n >= 2 && (alias[0] == 'v' || alias[0] == 'V');
	for (size_t i = 1; v_digits && i < n; i++)
		v_digits = alias[i] >= '0' && alias[i] <= '9';
	if (!strcasecmp(alias, "latest") || v_digits)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'%s' alias name (case insensitive) is reserved.", alias);
	return TR_OK;
}

enum tr_err tr_validate_model_version(const char *s, int64_t *out, struct tr_buf *err)
{
	bool ok = s && *s && strlen(s) <= 18;
	for (const char *p = s; ok && *p; p++)
		ok = *p >= '0' && *p <= '9';
	if (ok)
		*out = strtoll(s, NULL, 10);
	if (!ok || *out < 1)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Parameter 'version' must be an integer, got '%.64s'.", s ? s : "");
	return TR_OK;
}

const char *tr_model_stage_canonical(const char *s)
{
	static const char *const stages[] = {"None", "Staging", "Production", "Archived"};
	for (size_t i = 0; s && i < sizeof(stages) / sizeof(stages[0]); i++)
		if (!strcasecmp(s, stages[i]))
			return stages[i];
	return NULL;
}

/* ---- log-batch ------------------------------------------------------- */

static enum tr_err batch_limit(const char *entity, size_t limit, size_t n, struct tr_buf *err)
{
	if (n <= limit)
		return TR_OK;
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "A batch logging request can contain at most %zu %s. Got %zu %s. Please "
		       "split up %s across multiple requests and try again.",
		       limit, entity, n, entity, entity);
}

enum tr_err tr_validate_batch_sizes(size_t n_metrics, size_t n_params, size_t n_tags,
				    struct tr_buf *err)
{
	enum tr_err rc;
	size_t total;

	rc = batch_limit("metrics", TR_MAX_BATCH_METRICS, n_metrics, err);
	if (rc)
		return rc;
	rc = batch_limit("params", TR_MAX_BATCH_PARAMS, n_params, err);
	if (rc)
		return rc;
	rc = batch_limit("tags", TR_MAX_BATCH_TAGS, n_tags, err);
	if (rc)
		return rc;
	/* Each count is within its limit here, so the sum cannot overflow. */
	total = n_metrics + n_params + n_tags;
	return batch_limit("metrics, params, and tags", TR_MAX_BATCH_ENTITIES, total, err);
}

enum tr_err tr_validate_batch_body_size(size_t n_bytes, struct tr_buf *err)
{
	if (n_bytes <= TR_MAX_LOG_BATCH_BYTES)
		return TR_OK;
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "Batched logging API requests must be at most %d bytes, got a request of "
		       "size %zu.",
		       TR_MAX_LOG_BATCH_BYTES, n_bytes);
}

enum tr_err tr_validate_metric_timestamp(int64_t ts, const char *key, struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT;
	enum tr_err rc;

	if (ts >= 0)
		return TR_OK;
	rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		     "Got invalid timestamp %" PRId64 " for metric '%s'. Timestamp must be a "
		     "nonnegative long (64-bit integer)",
		     ts, key ? echo(&q, key, ECHO_CHARS) : "");
	tr_buf_release(&q);
	return rc;
}

/* ---- experiments, runs, datasets ------------------------------------- */

enum tr_err tr_validate_experiment_name(const char *name, struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	size_t nchars;

	if (!name)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing value for required parameter 'name'.");
	if (!*name)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid experiment name: ''");
	if (!tr_utf8_valid(name, &nchars))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid experiment name: '%s'. Names must be valid UTF-8.",
			     echo(&q, name, ECHO_CHARS));
	else if (nchars > TR_MAX_EXP_NAME)
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "'name' exceeds the maximum length of %d characters", TR_MAX_EXP_NAME);
	tr_buf_release(&q);
	return rc;
}

/* `^[a-zA-Z0-9][A-Za-z0-9_-]{0,MAX-1}$` over bytes. */
static bool id_shape(const char *id, size_t max)
{
	size_t i;

	if (!ascii_alnum((unsigned char)id[0]))
		return false;
	for (i = 1; id[i]; i++) {
		unsigned char c = (unsigned char)id[i];
		if (i >= max || !(ascii_alnum(c) || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static enum tr_err check_id(const char *id, size_t max, const char *field, const char *label,
			    struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT;
	enum tr_err rc;

	if (!id)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing value for required parameter '%s'.", field);
	if (id_shape(id, max))
		return TR_OK;
	rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid %s: '%s'", label,
		     echo(&q, id, ECHO_CHARS));
	tr_buf_release(&q);
	return rc;
}

enum tr_err tr_validate_run_id(const char *id, struct tr_buf *err)
{
	return check_id(id, TR_MAX_RUN_ID_LEN, "run_id", "run ID", err);
}

enum tr_err tr_validate_experiment_id(const char *id, struct tr_buf *err)
{
	return check_id(id, TR_MAX_EXPERIMENT_ID_LEN, "experiment_id", "experiment ID", err);
}

/* A required (or, if !REQUIRED, optional) UTF-8 field of at most MAX code points. */
static enum tr_err bounded_field(const char *prefix, const char *field, const char *value,
				 bool required, size_t max, struct tr_buf *err)
{
	size_t nchars;

	if (!value) {
		if (!required)
			return TR_OK;
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing value for required parameter '%s%s'.", prefix, field);
	}
	if (!tr_utf8_valid(value, &nchars))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "'%s%s' must be valid UTF-8",
			       prefix, field);
	if (nchars > max)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'%s' exceeds the maximum length of %zu characters", field, max);
	return TR_OK;
}

enum tr_err tr_validate_dataset(const char *name, const char *digest, const char *source_type,
				const char *source, const char *schema, const char *profile,
				struct tr_buf *err)
{
	enum tr_err rc;

	rc = bounded_field("dataset.", "name", name, true, TR_MAX_DATASET_NAME, err);
	if (!rc)
		rc = bounded_field("dataset.", "digest", digest, true, TR_MAX_DATASET_DIGEST, err);
	if (!rc)
		rc = bounded_field("dataset.", "source_type", source_type, true, SIZE_MAX, err);
	if (!rc)
		rc = bounded_field("dataset.", "source", source, true, TR_MAX_DATASET_SOURCE, err);
	if (!rc)
		rc = bounded_field("dataset.", "schema", schema, false, TR_MAX_DATASET_SCHEMA, err);
	if (!rc)
		rc = bounded_field("dataset.", "profile", profile, false, TR_MAX_DATASET_PROFILE,
				   err);
	return rc;
}

enum tr_err tr_validate_input_tag(const char *key, const char *value, struct tr_buf *err)
{
	enum tr_err rc = bounded_field("tags.", "key", key, true, TR_MAX_INPUT_TAG_KEY, err);
	if (!rc)
		rc = bounded_field("tags.", "value", value, true, TR_MAX_INPUT_TAG_VALUE, err);
	return rc;
}

/* ---- enums ----------------------------------------------------------- */

static const char *const run_status_names[] = {NULL,	   "RUNNING", "SCHEDULED",
					       "FINISHED", "FAILED",  "KILLED"};
static const char *const view_type_names[] = {NULL, "ACTIVE_ONLY", "DELETED_ONLY", "ALL"};

static bool ascii_caseeq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'a' && x <= 'z')
			x = (unsigned char)(x - 'a' + 'A');
		if (y >= 'a' && y <= 'z')
			y = (unsigned char)(y - 'a' + 'A');
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* NAMES[1..N-1] by name (any case) or by a decimal number without leading zeros. */
static int enum_lookup(const char *s, const char *const *names, int n)
{
	if (s[0] >= '1' && s[0] <= '9' && s[1] == '\0') {
		int v = s[0] - '0';
		return v < n ? v : 0;
	}
	for (int i = 1; i < n; i++)
		if (ascii_caseeq(s, names[i]))
			return i;
	return 0;
}

enum tr_err tr_validate_run_status(const char *s, int *out, struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT;
	enum tr_err rc;
	int v;

	if (!s)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Missing value for required parameter 'status'.");
	v = enum_lookup(s, run_status_names, 6);
	if (v) {
		*out = v;
		return TR_OK;
	}
	rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		     "Invalid value '%s' for parameter 'status' supplied. Expected one of RUNNING, "
		     "SCHEDULED, FINISHED, FAILED, KILLED.",
		     echo(&q, s, ECHO_CHARS));
	tr_buf_release(&q);
	return rc;
}

enum tr_err tr_validate_view_type(const char *s, int *out, struct tr_buf *err)
{
	struct tr_buf q = TR_BUF_INIT;
	enum tr_err rc;
	int v;

	if (!s || !*s) {
		*out = TR_VIEW_ACTIVE_ONLY;
		return TR_OK;
	}
	v = enum_lookup(s, view_type_names, 4);
	if (v) {
		*out = v;
		return TR_OK;
	}
	rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		     "Invalid view type '%s'. Expected one of ACTIVE_ONLY, DELETED_ONLY, ALL.",
		     echo(&q, s, ECHO_CHARS));
	tr_buf_release(&q);
	return rc;
}

const char *tr_run_status_name(int status)
{
	return status >= 1 && status <= 5 ? run_status_names[status] : NULL;
}

const char *tr_view_type_name(int view_type)
{
	return view_type >= 1 && view_type <= 3 ? view_type_names[view_type] : NULL;
}

/* ---- artifact_location ----------------------------------------------- */

static const char ARTIFACTS_SCHEME[] = "mlflow-artifacts:";

/* One round of percent-decoding of B in place (malformed escapes stay as
 * they are, as urllib.parse.unquote leaves them). True if B changed. */
static bool percent_decode(struct tr_buf *b)
{
	size_t r = 0, w = 0;
	bool changed = false;

	while (r < b->len) {
		int h = -1, l = -1;
		if (b->data[r] == '%' && r + 2 < b->len) {
			h = tr_hex_digit(b->data[r + 1]);
			l = tr_hex_digit(b->data[r + 2]);
		}
		if (h >= 0 && l >= 0) {
			b->data[w++] = (char)(h * 16 + l);
			r += 3;
			changed = true;
		} else {
			b->data[w++] = b->data[r++];
		}
	}
	b->len = w;
	b->data[w] = '\0';
	return changed;
}

static bool has_dotdot(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return true;
	return false;
}

/*
 * Why the path of URI S (N bytes; after any scheme and authority) is not
 * canonical, or NULL: a "." or ".." segment, or an empty segment other than
 * a trailing one.
 */
static const char *path_reason(const char *s, size_t n)
{
	size_t i = 0, start;

	if (n && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
		size_t j = 1;
		while (j < n && (ascii_alnum((unsigned char)s[j]) || s[j] == '+' || s[j] == '-' ||
				 s[j] == '.'))
			j++;
		if (j < n && s[j] == ':')
			i = j + 1;
	}
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		i += 2;
		while (i < n && s[i] != '/')
			i++;
	}
	if (i < n && s[i] == '/')
		i++;
	for (start = i;;) {
		size_t e = start;
		while (e < n && s[e] != '/')
			e++;
		if (e - start == 2 && s[start] == '.' && s[start + 1] == '.')
			return "must not contain '..' path segments";
		if (e - start == 1 && s[start] == '.')
			return "must not contain '.' path segments";
		if (e == start && e < n)
			return "must not contain empty path segments ('//')";
		if (e >= n)
			return NULL;
		start = e + 1;
	}
}

/* Why one form (raw or percent-decoded) of a location is refused, or NULL. */
static const char *form_reason(const char *s, size_t n)
{
	const char *qm;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			return "must not contain NUL or control characters";
	}
	if (memchr(s, '\\', n))
		return "must not contain backslashes";
	if (memchr(s, '#', n))
		return "must not contain a URL fragment ('#')";
	if (memchr(s, ';', n))
		return "must not contain URL parameters (';')";
	qm = memchr(s, '?', n);
	if (qm) {
		if (has_dotdot(qm, n - (size_t)(qm - s)))
			return "must not contain '..' in its query";
		return "must not contain a query ('?')";
	}
	return path_reason(s, n);
}

enum tr_err tr_validate_artifact_location(const char *loc, struct tr_buf *err)
{
	struct tr_buf cur = TR_BUF_INIT, q = TR_BUF_INIT;
	enum tr_err rc = TR_OK;
	const char *reason = NULL, *after = "", *rest;
	size_t nchars, len;

	if (!loc || !*loc)
		return TR_OK; /* the server chooses */
	if (!tr_utf8_valid(loc, &nchars)) {
		reason = "must be valid UTF-8";
		goto refuse;
	}
	if (nchars > TR_MAX_ARTIFACT_LOCATION) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Invalid artifact path length. The length of the artifact path cannot "
			     "be greater than %d characters.",
			     TR_MAX_ARTIFACT_LOCATION);
		goto out;
	}
	len = strlen(loc);
	reason = form_reason(loc, len);
	if (reason)
		goto refuse;

	tr_buf_append(&cur, loc, len);
	for (int round = 0; percent_decode(&cur); round++) {
		if (round == TR_MAX_PERCENT_DECODE_ROUNDS) {
			reason = "is percent-encoded too many times";
			goto refuse;
		}
		reason = form_reason(cur.data, cur.len);
		if (reason) {
			after = " (after percent-decoding)";
			goto refuse;
		}
	}

	if (!strncmp(loc, "runs:", 5)) {
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "Artifact location cannot be a runs:/ URI. Given: '%s'",
			     echo(&q, loc, ECHO_CHARS));
		goto out;
	}
	if (strncmp(loc, ARTIFACTS_SCHEME, sizeof(ARTIFACTS_SCHEME) - 1)) {
		reason = "this server accepts only mlflow-artifacts:/<path> URIs, or no "
			 "artifact_location to let the server choose";
		goto refuse;
	}
	rest = loc + sizeof(ARTIFACTS_SCHEME) - 1;
	if (rest[0] == '/' && rest[1] == '/') {
		if (rest[2] && rest[2] != '/') {
			reason = "an mlflow-artifacts: URI must not name a host; use "
				 "mlflow-artifacts:/<path>";
			goto refuse;
		}
		rest += 2;
	}
	if (rest[0] != '/') {
		reason =
		    "an mlflow-artifacts: URI needs an absolute path: mlflow-artifacts:/<path>";
		goto refuse;
	}
	goto out;

refuse:
	rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid artifact location '%s': %s%s",
		     echo(&q, loc, ECHO_CHARS), reason, after);
out:
	tr_buf_release(&q);
	tr_buf_release(&cur);
	return rc;
}
