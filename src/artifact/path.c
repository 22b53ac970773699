/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client artifact paths: one set of rules, applied to the path as given and
 * to every stage of its repeated percent-decoding, so that traversal cannot
 * hide behind any number of encodings (MLflow's CVE-2023-6831 and friends).
 * Names of uploads in progress are refused too, so no client can read,
 * overwrite or delete a partial file.
 */
#include "artifact/artifact.h"
#include "core/ids.h"
#include "core/buf.h"

#include <string.h>

#define MAX_PATH_LEN	  4096
#define MAX_SEGMENT	  255
#define MAX_DECODE_ROUNDS 10

/* Percent-decodes S into OUT (same size or shorter); true when anything changed. */
static int decode_once(const char *s, char *out)
{
	int changed = 0;
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		int h, l;
		if (s[i] == '%' && (h = tr_hex_digit(s[i + 1])) >= 0 &&
		    (l = tr_hex_digit(s[i + 2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
			changed = 1;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return changed;
}

/* The rules for one form of the path; LEN is its length up to an embedded NUL. */
static enum tr_err check_form(const char *p, size_t len, size_t full_len, int allow_root,
			      struct tr_buf *err)
{
	if (len != full_len)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid path: NUL character");
	if (len == 0)
		return allow_root
			   ? TR_OK
			   : tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid path: empty");
	if (p[0] == '/')
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid path: absolute path");
	if (len >= 2 && p[1] == ':' && ((p[0] | 32) >= 'a' && (p[0] | 32) <= 'z'))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "Invalid path: drive letter");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '\\' || c == '#' || c == '?' || c == ';')
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Invalid path: character 0x%02x is not allowed", c);
	}
	const char *seg = p;
	while (1) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Invalid path: empty, '.' or '..' segment");
		if (n >= strlen(TR_ARTIFACT_TMP_PREFIX) &&
		    !strncmp(seg, TR_ARTIFACT_TMP_PREFIX, strlen(TR_ARTIFACT_TMP_PREFIX)))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Invalid path: names beginning with '" TR_ARTIFACT_TMP_PREFIX
				       "' are reserved for uploads in progress");
		if (n > MAX_SEGMENT)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Invalid path: a segment is longer than %d bytes",
				       MAX_SEGMENT);
		if (!end)
			break;
		seg = end + 1;
	}
	return TR_OK;
}

enum tr_err tr_artifact_path_check(const char *path, int allow_root, struct tr_buf *err)
{
	size_t len = strlen(path);
	if (len > MAX_PATH_LEN)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid path: longer than %d bytes", MAX_PATH_LEN);
	char a[MAX_PATH_LEN + 1], b[MAX_PATH_LEN + 1];
	memcpy(a, path, len + 1);
	enum tr_err rc = check_form(a, len, len, allow_root, err);
	for (int round = 0; !rc; round++) {
		if (!decode_once(a, b))
			return TR_OK;
		if (round == MAX_DECODE_ROUNDS)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "Invalid path: encoded more than %d times",
				       MAX_DECODE_ROUNDS);
		/* the decoded form may hold a NUL: compare lengths to see it */
		size_t blen = strlen(b);
		size_t full = 0;
		for (size_t i = 0; a[i]; i++, full++)
			if (a[i] == '%' && tr_hex_digit(a[i + 1]) >= 0 &&
			    tr_hex_digit(a[i + 2]) >= 0)
				i += 2;
		rc = check_form(b, blen, full, allow_root, err);
		memcpy(a, b, blen + 1);
	}
	return rc;
}
