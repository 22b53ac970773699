/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web UI's files, embedded in the binary at build time (tools/embed.c
 * writes the table from web/dist), and the route serving them: GET/HEAD of
 * "/" (index.html) and "/assets/...", with ETag and If-None-Match, long cache
 * lifetimes for Vite's content-hashed assets, and a Content-Security-Policy
 * that allows no remote origin.
 */
#ifndef TR_API_UI_H
#define TR_API_UI_H

#include "http/server.h"

#include <stdbool.h>
#include <stddef.h>

/* One embedded file. Everything points at static data. */
struct tr_ui_asset {
	const char *path;	  /* relative to web/dist, e.g. "assets/index-3f2a.js" */
	const char *content_type; /* chosen from the extension by the generator */
	const unsigned char *data;
	size_t len;
	const char *etag; /* the quoted SHA-256 of DATA in hex */
	bool immutable;	  /* under assets/: the name carries a content hash */
};

/* A generated table; BUILT is false for the placeholder page written when
 * web/dist did not exist. */
struct tr_ui_assets {
	const struct tr_ui_asset *assets;
	size_t n;
	bool built;
};

/* The table embedded in this binary (build/gen/ui_assets.c). */
extern const struct tr_ui_assets tr_ui_embedded;

/* What to answer for a request, decided without touching the connection. */
struct tr_ui_answer {
	int status;			 /* 200, 304 or 404 */
	const struct tr_ui_asset *asset; /* with 200 and 304 */
	const char *cache_control;	 /* with 200 and 304 */
};

/* The Content-Security-Policy every UI response carries. */
#define TR_UI_CSP                                                                                  \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                \
	"frame-ancestors 'none'; form-action 'self'"

/* The asset at PATH ("index.html", "assets/x.js"), or NULL. Borrowed from T. */
const struct tr_ui_asset *tr_ui_find(const struct tr_ui_assets *t, const char *path);

/* Decides the answer to METHOD on URL PATH with the If-None-Match header
 * IF_NONE_MATCH (may be NULL). Returns false when PATH is not the UI's ("/",
 * "/index.html", "/assets/..."), or METHOD is not GET or HEAD. */
bool tr_ui_resolve(const struct tr_ui_assets *t, const char *method, const char *path,
		   const char *if_none_match, struct tr_ui_answer *out /* OUT */);

/* Answers R from T when it is a UI request; false otherwise. */
bool tr_ui_serve(const struct tr_ui_assets *t, struct tr_req *r);

#endif
