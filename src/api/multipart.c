/* SPDX-License-Identifier: Apache-2.0 */
/*
 * multipart/form-data, as KFP uploads send it: the part of one field found in
 * a buffered body, walked with explicit lengths and never copied (see
 * tr_kfp_multipart_find() in kfp.h). Standalone, so the fuzzer links it alone.
 */
#include "api/kfp.h"

#include <string.h>
#include <strings.h>

/* ---- multipart/form-data ---- */

/* The parameter KEY of a header value like `form-data; name="x"; filename=y`
 * into OUT (N bytes, truncated); false when absent. */
static bool header_param(const char *v, size_t len, const char *key, char *out, size_t n)
{
	const char *end = v + len, *p = memchr(v, ';', len);
	size_t klen = strlen(key);
	while (p && p < end) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *next = NULL;
		if ((size_t)(end - p) > klen && !strncasecmp(p, key, klen) && p[klen] == '=') {
			const char *s = p + klen + 1;
			size_t w = 0;
			if (s < end && *s == '"') {
				for (s++; s < end && *s != '"'; s++) {
					if (*s == '\\' && s + 1 < end)
						s++;
					if (w + 1 < n)
						out[w++] = *s;
				}
			} else {
				for (; s < end && *s != ';' && *s != ' '; s++)
					if (w + 1 < n)
						out[w++] = *s;
			}
			out[w] = '\0';
			return true;
		}
		/* skip to the next ';' outside quotes */
		bool quoted = false;
		for (const char *s = p; s < end; s++) {
			if (*s == '"')
				quoted = !quoted;
			else if (*s == '\\' && quoted && s + 1 < end)
				s++;
			else if (*s == ';' && !quoted) {
				next = s;
				break;
			}
		}
		p = next;
	}
	return false;
}

/* The headers of one part, [P, END): finds Content-Disposition's name and filename. */
static void part_headers(const char *p, const char *end, char *name, size_t nn, char *file,
			 size_t fn)
{
	static const char cd[] = "content-disposition:";
	name[0] = file[0] = '\0';
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		size_t len = (size_t)(eol - p);
		if (len > strlen(cd) && !strncasecmp(p, cd, strlen(cd))) {
			header_param(p, len, "name", name, nn);
			header_param(p, len, "filename", file, fn);
		}
		p = eol + 2;
	}
}

enum tr_err tr_kfp_multipart_find(const char *content_type, const char *body, size_t len,
				  const char *field, struct tr_kfp_part *out, struct tr_buf *err)
{
	char boundary[204];
	const char *ct = content_type ? content_type : "";
	if (!body || !len) /* an empty body: no pointer arithmetic on NULL */
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the request has no multipart body");
	if (strncasecmp(ct, "multipart/form-data", strlen("multipart/form-data")) ||
	    !header_param(ct, strlen(ct), "boundary", boundary, sizeof(boundary)) || !*boundary ||
	    strlen(boundary) > 200)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "the request must be multipart/form-data with a boundary");
	char delim[208];
	int dlen = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	const char *end = body + len;
	/* the first delimiter may open the body, without the CRLF before it */
	const char *p;
	if (len >= (size_t)dlen - 2 && !memcmp(body, delim + 2, (size_t)dlen - 2))
		p = body + dlen - 2;
	else if ((p = memmem(body, len, delim, (size_t)dlen)))
		p += dlen;
	else
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "malformed multipart body: no boundary");
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break; /* the closing delimiter */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "malformed multipart body: bad delimiter line");
		p += 2;
		const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (p + 2 <= end && p[0] == '\r' && p[1] == '\n')
			hend = p - 2; /* a part with no headers */
		if (!hend)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "malformed multipart body: unterminated part headers");
		char name[128], file[256];
		if (hend > p)
			part_headers(p, hend, name, sizeof(name), file, sizeof(file));
		else
			name[0] = file[0] = '\0';
		const char *data = hend + 4;
		const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dlen);
		if (!next)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "malformed multipart body: unterminated part");
		if (!strcmp(name, field)) {
			out->data = data;
			out->len = (size_t)(next - data);
			/* only the last path component of the name the client gave */
			const char *base = file;
			for (const char *s = file; *s; s++)
				if (*s == '/' || *s == '\\')
					base = s + 1;
			snprintf(out->filename, sizeof(out->filename), "%s", base);
			return TR_OK;
		}
		p = next + dlen;
	}
	return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
		       "the multipart body has no '%s' file field", field);
}
