/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serves the embedded web UI. The decision (which asset, 200, 304 or 404,
 * which cache lifetime) is a pure function of the table and the request's
 * method, path and If-None-Match, so it is tested without a socket; the
 * route only turns it into a response. Paths are looked up in the table and
 * never reach the file system, so "/assets/../x" can only miss.
 */
#include "api/ui.h"

#include <string.h>

#define ASSETS_PREFIX "/assets/"

const struct tr_ui_asset *tr_ui_find(const struct tr_ui_assets *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->assets[i].path, path))
			return &t->assets[i];
	return NULL;
}

/* True when the comma-separated If-None-Match list names ETAG (or is "*"). */
static bool etag_matches(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!strncmp(p, "W/", 2))
			p += 2;
		size_t k = strcspn(p, ",");
		size_t end = k;
		while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if ((end == 1 && p[0] == '*') || (end == n && !strncmp(p, etag, n)))
			return true;
		p += k;
	}
	return false;
}

bool tr_ui_resolve(const struct tr_ui_assets *t, const char *method, const char *path,
		   const char *if_none_match, struct tr_ui_answer *out)
{
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return false;
	const char *name;
	if (!strcmp(path, "/") || !strcmp(path, "/index.html"))
		name = "index.html";
	else if (!strncmp(path, ASSETS_PREFIX, strlen(ASSETS_PREFIX)))
		name = path + 1;
	else
		return false;
	*out = (struct tr_ui_answer){.status = 404};
	/* the table holds no such names, but say so rather than rely on it */
	if (strstr(name, "..") || strchr(name, '\\'))
		return true;
	const struct tr_ui_asset *a = tr_ui_find(t, name);
	if (!a)
		return true;
	out->asset = a;
	out->cache_control = a->immutable ? "public, max-age=31536000, immutable" : "no-cache";
	out->status = if_none_match && etag_matches(if_none_match, a->etag) ? 304 : 200;
	return true;
}

bool tr_ui_serve(const struct tr_ui_assets *t, struct tr_req *r)
{
	struct tr_ui_answer a;
	if (!tr_ui_resolve(t, r->method, r->path, tr_req_header(r, "If-None-Match"), &a))
		return false;
	r->route = "ui";
	if (a.status == 404) {
		tr_req_text(r, 404, "text/plain; charset=utf-8", "not found\n");
		return true;
	}
	if (a.status == 304)
		tr_req_static(r, 304, a.asset->content_type, "", 0);
	else
		tr_req_static(r, 200, a.asset->content_type, a.asset->data, a.asset->len);
	tr_req_add_header(r, "ETag", a.asset->etag);
	tr_req_add_header(r, "Cache-Control", a.cache_control);
	tr_req_add_header(r, "Content-Security-Policy", TR_UI_CSP);
	tr_req_add_header(r, "Referrer-Policy", "no-referrer");
	tr_req_add_header(r, "X-Frame-Options", "DENY");
	return true;
}
