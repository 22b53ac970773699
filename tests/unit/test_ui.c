/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the embedded UI: the generator's table (tools/embed.c run on
 * tests/unit/ui_fixture and on a missing folder), the route's decisions
 * (src/api/ui.c: content types, ETag and 304, cache lifetimes, unknown
 * assets, traversal), and the same over a real socket on 127.0.0.1 with
 * libcurl (headers, HEAD, 304 without a body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/ui.h"
#include "core/buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

extern const struct tr_ui_assets tr_ui_fixture;
extern const struct tr_ui_assets tr_ui_missing;

static void test_generator_table(void **state)
{
	const struct tr_ui_assets *t = &tr_ui_fixture;
	assert_true(t->built);
	assert_int_equal(t->n, 5);
	for (size_t i = 1; i < t->n; i++) /* sorted */
		assert_true(strcmp(t->assets[i - 1].path, t->assets[i].path) < 0);
	const struct tr_ui_asset *a = tr_ui_find(t, "index.html");
	assert_non_null(a);
	assert_string_equal(a->content_type, "text/html; charset=utf-8");
	assert_int_equal(a->len, strlen("<!doctype html><title>fixture</title>\n"));
	assert_memory_equal(a->data, "<!doctype html><title>fixture</title>\n", a->len);
	assert_false(a->immutable);
	assert_int_equal(strlen(a->etag), 66); /* quoted hex SHA-256 */
	assert_int_equal(a->etag[0], '"');
	a = tr_ui_find(t, "assets/app-Ab12Cd34.js");
	assert_non_null(a);
	assert_string_equal(a->content_type, "text/javascript; charset=utf-8");
	assert_true(a->immutable);
	assert_string_equal(tr_ui_find(t, "assets/app-Ef56.css")->content_type,
			    "text/css; charset=utf-8");
	assert_string_equal(tr_ui_find(t, "favicon.svg")->content_type, "image/svg+xml");
	a = tr_ui_find(t, "assets/empty.bin");
	assert_non_null(a);
	assert_int_equal(a->len, 0);
	assert_string_equal(a->content_type, "application/octet-stream");
	/* SHA-256 of nothing */
	assert_string_equal(a->etag,
			    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"");
	assert_null(tr_ui_find(t, "nope.js"));
}

static void test_generator_missing_dir(void **state)
{
	const struct tr_ui_assets *t = &tr_ui_missing;
	assert_false(t->built);
	assert_int_equal(t->n, 1);
	const struct tr_ui_asset *a = tr_ui_find(t, "index.html");
	assert_non_null(a);
	char page[1024];
	snprintf(page, sizeof(page), "%.*s", (int)a->len, (const char *)a->data);
	assert_non_null(strstr(page, "make ui"));
}

static struct tr_ui_answer resolve(const char *method, const char *path, const char *inm,
				   bool *mine)
{
	struct tr_ui_answer a = {0};
	*mine = tr_ui_resolve(&tr_ui_fixture, method, path, inm, &a);
	return a;
}

static void test_resolve(void **state)
{
	bool mine;
	struct tr_ui_answer a = resolve("GET", "/", NULL, &mine);
	assert_true(mine);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.asset->path, "index.html");
	assert_string_equal(a.cache_control, "no-cache");
	a = resolve("HEAD", "/index.html", NULL, &mine);
	assert_true(mine);
	assert_int_equal(a.status, 200);
	a = resolve("GET", "/assets/app-Ab12Cd34.js", NULL, &mine);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.cache_control, "immutable"));
	/* ETag round trip, also in a list and weak */
	const char *etag = a.asset->etag;
	assert_int_equal(resolve("GET", "/assets/app-Ab12Cd34.js", etag, &mine).status, 304);
	char list[200];
	snprintf(list, sizeof(list), "\"x\", W/%s", etag);
	assert_int_equal(resolve("GET", "/assets/app-Ab12Cd34.js", list, &mine).status, 304);
	assert_int_equal(resolve("GET", "/assets/app-Ab12Cd34.js", "*", &mine).status, 304);
	assert_int_equal(resolve("GET", "/assets/app-Ab12Cd34.js", "\"other\"", &mine).status, 200);
	assert_int_equal(resolve("GET", "/assets/app-Ab12Cd34.js", "", &mine).status, 200);
	/* unknown assets and traversal: 404 from the UI */
	a = resolve("GET", "/assets/nope.js", NULL, &mine);
	assert_true(mine);
	assert_int_equal(a.status, 404);
	assert_null(a.asset);
	a = resolve("GET", "/assets/../../etc/passwd", NULL, &mine);
	assert_true(mine);
	assert_int_equal(a.status, 404);
	a = resolve("GET", "/assets/..%2f..%2fetc/passwd", NULL, &mine);
	assert_int_equal(a.status, 404);
	a = resolve("GET", "/assets/..\\index.html", NULL, &mine);
	assert_int_equal(a.status, 404);
	/* not the UI's: other paths and methods */
	resolve("GET", "/favicon.svg", NULL, &mine); /* only "/" and "/assets/" */
	assert_false(mine);
	resolve("GET", "/api/2.0/mlflow/nope", NULL, &mine);
	assert_false(mine);
	resolve("POST", "/", NULL, &mine);
	assert_false(mine);
	resolve("GET", "/assetsX", NULL, &mine);
	assert_false(mine);
}

/* ---- over a real socket ---- */

static void dispatch(void *ctx, struct tr_req *r)
{
	if (!tr_ui_serve(&tr_ui_fixture, r))
		tr_req_error(r, TR_ERR_ENDPOINT_NOT_FOUND, "No API endpoint at this path.");
}

struct reply {
	long status;
	struct tr_buf head, body;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	tr_buf_append(&((struct reply *)ctx)->body, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	tr_buf_append(&((struct reply *)ctx)->head, p, size * n);
	return size * n;
}

static void get(int port, const char *method, const char *path, const char *inm, struct reply *out)
{
	*out = (struct reply){.head = TR_BUF_INIT, .body = TR_BUF_INIT};
	char url[512], h[300];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	CURL *c = curl_easy_init();
	struct curl_slist *hs = NULL;
	if (inm) {
		snprintf(h, sizeof(h), "If-None-Match: %s", inm);
		hs = curl_slist_append(hs, h);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(hs);
	curl_easy_cleanup(c);
}

static void reply_release(struct reply *r)
{
	tr_buf_release(&r->head);
	tr_buf_release(&r->body);
}

static bool has_header(struct reply *r, const char *line)
{
	return strcasestr(tr_buf_str(&r->head), line) != NULL;
}

static void test_over_socket(void **state)
{
	struct tr_http_opts o = {.port = 0, .workers = 2};
	struct tr_http *h = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_http_start(&o, dispatch, NULL, NULL, &h, &err), TR_OK);
	int port = tr_http_port(h);
	struct reply r;

	get(port, "GET", "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(tr_buf_str(&r.body), "<!doctype html><title>fixture</title>\n");
	assert_true(has_header(&r, "Content-Type: text/html; charset=utf-8"));
	assert_true(has_header(&r, "Content-Security-Policy: default-src 'self'"));
	assert_true(has_header(&r, "Cache-Control: no-cache"));
	assert_true(has_header(&r, "X-Content-Type-Options: nosniff"));
	reply_release(&r);

	const struct tr_ui_asset *js = tr_ui_find(&tr_ui_fixture, "assets/app-Ab12Cd34.js");
	get(port, "GET", "/assets/app-Ab12Cd34.js", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, js->len);
	assert_true(has_header(&r, "Content-Type: text/javascript; charset=utf-8"));
	assert_true(has_header(&r, "Cache-Control: public, max-age=31536000, immutable"));
	char etag[120];
	snprintf(etag, sizeof(etag), "ETag: %s", js->etag);
	assert_true(has_header(&r, etag));
	reply_release(&r);

	get(port, "GET", "/assets/app-Ab12Cd34.js", js->etag, &r);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body.len, 0);
	reply_release(&r);

	get(port, "HEAD", "/assets/app-Ef56.css", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	assert_true(has_header(&r, "Content-Type: text/css; charset=utf-8"));
	reply_release(&r);

	get(port, "GET", "/assets/nope.js", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_true(has_header(&r, "Content-Type: text/plain"));
	reply_release(&r);

	get(port, "GET", "/assets/../../etc/passwd", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(tr_buf_str(&r.body), "root:"));
	reply_release(&r);

	get(port, "GET", "/api/2.0/mlflow/nope", NULL, &r); /* the API's JSON error */
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(tr_buf_str(&r.body), "ENDPOINT_NOT_FOUND"));
	reply_release(&r);

	tr_http_stop(h);
	tr_buf_release(&err);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generator_table),
	    cmocka_unit_test(test_generator_missing_dir),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_over_socket),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
