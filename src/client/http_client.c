/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over HTTP with libcurl, for the command line talking to a server. The
 * response body is collected into a buffer that refuses to grow past
 * TR_CLIENT_MAX_BODY (the write callback aborts the transfer), then parsed by
 * jansson, which rejects malformed input without trusting lengths or depths
 * from the peer. libcurl is told not to use signals (CURLOPT_NOSIGNAL), so
 * the caller's signal handlers stay its own.
 */
#include "client/http_client.h"
#include "core/alloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

struct tr_client {
	CURL *h;
	struct tr_buf body;
	bool too_large;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum tr_err tr_client_new(struct tr_client **out, struct tr_buf *err)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot initialise libcurl: %s",
			       curl_easy_strerror(global_rc));
	CURL *h = curl_easy_init();
	if (!h)
		return tr_fail(err, TR_ERR_INTERNAL_ERROR, "cannot initialise libcurl");
	struct tr_client *c = tr_xcalloc(1, sizeof(*c));
	c->h = h;
	tr_buf_init(&c->body);
	*out = c;
	return TR_OK;
}

void tr_client_free(struct tr_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	tr_buf_release(&c->body);
	free(c);
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct tr_client *c = ctx;
	size_t len = size * n;
	if (len > TR_CLIENT_MAX_BODY - c->body.len) {
		c->too_large = true;
		return 0; /* anything but LEN aborts the transfer */
	}
	tr_buf_append(&c->body, data, len);
	return len;
}

enum tr_err tr_client_request(struct tr_client *c, const char *method, const char *url,
			      json_t *body, long timeout_ms, long *status, json_t **json_out,
			      struct tr_buf *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *headers = NULL;
	enum tr_err rc = TR_OK;
	CURL *h = c->h;

	*json_out = NULL;
	*status = 0;
	tr_buf_reset(&c->body);
	c->too_large = false;
	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TR_CLIENT_MAX_BODY);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "trellis/" TR_VERSION);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(text ? strlen(text) : 0));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

	CURLcode cc = curl_easy_perform(h);
	if (c->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = tr_fail(err, TR_ERR_TOO_LARGE, "the answer is larger than %zu MiB",
			     TR_CLIENT_MAX_BODY >> 20);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = tr_fail(err, TR_ERR_IO_ERROR, "%s", *errbuf ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (c->body.len) {
		json_error_t jerr;
		*json_out = json_loadb(c->body.data, c->body.len, JSON_DECODE_ANY, &jerr);
		if (!*json_out && *status >= 200 && *status < 300)
			rc = tr_fail(err, TR_ERR_BAD_REQUEST,
				     "the answer (HTTP %ld) is not JSON: %s", *status, jerr.text);
	}
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
	free(text);
	if (c->body.cap > (1 << 20)) /* do not keep a big answer's memory around */
		tr_buf_release(&c->body);
	return rc;
}

void tr_client_error_text(long status, json_t *answer, struct tr_buf *out)
{
	const char *msg = json_string_value(json_object_get(answer, "message"));
	const char *code = json_string_value(json_object_get(answer, "error_code"));
	if (msg && *msg && code && *code)
		tr_buf_appendf(out, "%s: %s", code, msg);
	else if (msg && *msg)
		tr_buf_appends(out, msg);
	else
		tr_buf_appendf(out, "HTTP %ld", status);
}
