/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML into a positioned tree, from libfyaml's events. The central idea: we
 * never let libfyaml build or resolve a document (which expands aliases);
 * we build the tree ourselves and share an aliased node instead of copying
 * it, while counting its full size into every ancestor's weight. The first
 * limit crossed stops the read with a clear message at the offending place.
 * Anchors are registered when their node is complete, so an alias inside its
 * own anchor (a cycle) is an unknown alias.
 */
#include "pipeline/yaml.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "pipeline/diag.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct anchor {
	const char *name;
	struct tr_yaml_node *node;
};

struct frame {
	struct tr_yaml_node *node;
	struct tr_yaml_node **items;
	size_t n, cap;
	const char *anchor;
};

struct reader {
	struct tr_arena *arena;
	const struct tr_yaml_limits *lim;
	struct tr_diags *diags;
	struct frame *stack;
	int depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t aliases;
	size_t nodes;
	struct tr_yaml_node **docs;
	size_t ndocs;
	bool failed;
	/* libfyaml's first error, taken from its diagnostic output */
	bool fy_error;
	int fy_line, fy_col;
	char fy_msg[200];
};

static void fail_at(struct reader *r, const struct fy_mark *m, const char *msg)
{
	tr_diags_add(r->diags, TR_DIAG_ERROR, m ? m->line + 1 : 0, m ? m->column + 1 : 0, "%s",
		     msg);
	r->failed = true;
}

static struct tr_yaml_node *new_node(struct reader *r, enum tr_yaml_kind kind,
				     const struct fy_mark *m)
{
	struct tr_yaml_node *n = tr_arena_alloc(r->arena, sizeof(*n));
	n->kind = kind;
	n->line = m ? m->line + 1 : 0;
	n->col = m ? m->column + 1 : 0;
	n->weight = 1;
	return n;
}

static const char *token_text(struct reader *r, struct fy_token *t, size_t *len)
{
	size_t n = 0;
	const char *s = t ? fy_token_get_text(t, &n) : NULL;
	if (!s)
		s = "", n = 0;
	if (len)
		*len = n;
	return tr_arena_strndup(r->arena, s, n);
}

/* libfyaml 0.7.12 (Debian 12) decodes some multi-line quoted scalars with
 * escapes ('' or \) into more bytes than the length it measured while
 * scanning; fy_token_get_text() then returns truncated text and leaks its
 * chunk buffer (found by fuzz_pipeline). Such a scalar is refused rather than
 * read wrong: its decoded chunks must add up to the measured length. */
static bool scalar_decodes_consistently(struct fy_token *t)
{
	if (!t || fy_token_scalar_style(t) == FYSS_PLAIN)
		return true;
	size_t want = fy_token_get_text_length(t), got = 0;
	struct fy_token_iter *it = fy_token_iter_create(t);
	if (!it)
		abort();
	const struct fy_iter_chunk *c = NULL;
	int err = 0;
	while ((c = fy_token_iter_chunk_next(it, c, &err)) != NULL)
		got += c->len;
	fy_token_iter_destroy(it);
	return err == 0 && got == want;
}

/* Adds a finished node to its parent (or makes it a document root). */
static void attach(struct reader *r, struct tr_yaml_node *n, const struct fy_mark *m)
{
	if (r->depth == 0) {
		r->docs = tr_xrealloc(r->docs, (r->ndocs + 1) * sizeof(*r->docs));
		r->docs[r->ndocs++] = n;
		return;
	}
	struct frame *f = &r->stack[r->depth - 1];
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->items = tr_xrealloc(f->items, f->cap * sizeof(*f->items));
	}
	f->items[f->n++] = n;
	f->node->weight += n->weight;
	if (f->node->weight > r->lim->max_nodes && !r->failed) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "yaml too large: more than %zu nodes with aliases expanded",
			 r->lim->max_nodes);
		fail_at(r, m, msg);
	}
}

static void add_anchor(struct reader *r, const char *name, struct tr_yaml_node *n)
{
	if (!name)
		return;
	if (r->n_anchors == r->cap_anchors) {
		r->cap_anchors = r->cap_anchors ? r->cap_anchors * 2 : 8;
		r->anchors = tr_xrealloc(r->anchors, r->cap_anchors * sizeof(*r->anchors));
	}
	r->anchors[r->n_anchors++] = (struct anchor){name, n};
}

static struct tr_yaml_node *find_anchor(struct reader *r, const char *name)
{
	for (size_t i = r->n_anchors; i-- > 0;) /* the latest definition wins */
		if (!strcmp(r->anchors[i].name, name))
			return r->anchors[i].node;
	return NULL;
}

static void push(struct reader *r, enum tr_yaml_kind kind, const struct fy_mark *m,
		 struct fy_token *anchor)
{
	if (r->depth >= r->lim->max_depth) {
		char msg[120];
		snprintf(msg, sizeof(msg), "yaml nested too deeply (limit %d levels)",
			 r->lim->max_depth);
		fail_at(r, m, msg);
		return;
	}
	r->stack = tr_xrealloc(r->stack, (size_t)(r->depth + 1) * sizeof(*r->stack));
	r->stack[r->depth++] = (struct frame){new_node(r, kind, m), NULL, 0, 0,
					      anchor ? token_text(r, anchor, NULL) : NULL};
}

static void check_duplicates(struct reader *r, struct tr_yaml_node *map)
{
	for (size_t i = 1; i < map->n; i++) {
		const struct tr_yaml_node *k = map->items[2 * i];
		if (k->kind != TR_YAML_SCALAR)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct tr_yaml_node *o = map->items[2 * j];
			if (o->kind == TR_YAML_SCALAR && o->len == k->len &&
			    !memcmp(o->str, k->str, k->len)) {
				tr_diags_add(r->diags, TR_DIAG_ERROR, k->line, k->col,
					     "duplicate key '%s' (first at line %d)", k->str,
					     o->line);
				break;
			}
		}
	}
}

static void pop(struct reader *r, const struct fy_mark *m)
{
	struct frame f = r->stack[--r->depth];
	struct tr_yaml_node *n = f.node;
	n->n = n->kind == TR_YAML_MAP ? f.n / 2 : f.n;
	if (f.n) {
		n->items = tr_arena_alloc(r->arena, f.n * sizeof(*n->items));
		memcpy(n->items, f.items, f.n * sizeof(*n->items));
	}
	free(f.items);
	if (n->kind == TR_YAML_MAP)
		check_duplicates(r, n);
	add_anchor(r, f.anchor, n);
	attach(r, n, m);
}

static void on_event(struct reader *r, struct fy_event *e)
{
	const struct fy_mark *m = fy_event_start_mark(e);
	switch (e->type) {
	case FYET_MAPPING_START:
		push(r, TR_YAML_MAP, m, e->mapping_start.anchor);
		break;
	case FYET_SEQUENCE_START:
		push(r, TR_YAML_SEQ, m, e->sequence_start.anchor);
		break;
	case FYET_MAPPING_END:
	case FYET_SEQUENCE_END:
		pop(r, m);
		break;
	case FYET_SCALAR: {
		if (!scalar_decodes_consistently(e->scalar.value)) {
			fail_at(r, m,
				"yaml: this quoted scalar is not read reliably by libfyaml 0.7 "
				"(a multi-line quoted string with escapes); write it on one "
				"line or as a block scalar (|)");
			break;
		}
		struct tr_yaml_node *n = new_node(r, TR_YAML_SCALAR, m);
		n->str = token_text(r, e->scalar.value, &n->len);
		n->plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
		if (e->scalar.tag) {
			const char *tag = token_text(r, e->scalar.tag, NULL);
			if (strstr(tag, "str"))
				n->plain = false;
		}
		if (e->scalar.anchor)
			add_anchor(r, token_text(r, e->scalar.anchor, NULL), n);
		attach(r, n, m);
		break;
	}
	case FYET_ALIAS: {
		const char *name = token_text(r, e->alias.anchor, NULL);
		struct tr_yaml_node *n = find_anchor(r, name);
		char msg[200];
		if (!n) {
			snprintf(msg, sizeof(msg), "unknown yaml alias '*%.100s'", name);
			fail_at(r, m, msg);
			break;
		}
		if (++r->aliases > r->lim->max_aliases) {
			snprintf(msg, sizeof(msg), "too many yaml aliases (limit %zu)",
				 r->lim->max_aliases);
			fail_at(r, m, msg);
			break;
		}
		attach(r, n, m);
		break;
	}
	case FYET_DOCUMENT_START:
		if ((int)r->ndocs >= r->lim->max_documents)
			fail_at(r, m, "too many yaml documents");
		r->n_anchors = 0; /* anchors are per document */
		break;
	default:
		break;
	}
}

/* libfyaml formats each diagnostic as "INPUT:LINE:COL: error: MSG" (1-based)
 * followed by source lines. Its collected-errors list leaks in the Debian
 * version (0.7.12), so the first error is read from this output instead. */
static void on_fy_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	struct reader *r = user;
	char text[512];
	snprintf(text, sizeof(text), "%.*s", (int)len, buf);
	char *e = strstr(text, ": error: ");
	if (r->fy_error || !e)
		return;
	*e = '\0';
	char *msg = e + strlen(": error: ");
	msg[strcspn(msg, "\n")] = '\0';
	char *c = strrchr(text, ':');
	if (!c)
		return;
	*c = '\0';
	char *l = strrchr(text, ':');
	if (!l)
		return;
	r->fy_line = (int)strtol(l + 1, NULL, 10);
	r->fy_col = (int)strtol(c + 1, NULL, 10);
	snprintf(r->fy_msg, sizeof(r->fy_msg), "%s", msg);
	r->fy_error = true;
}

static void report_parser_error(struct reader *r)
{
	if (r->fy_error)
		tr_diags_add(r->diags, TR_DIAG_ERROR, r->fy_line, r->fy_col, "yaml: %s", r->fy_msg);
	else
		tr_diags_add(r->diags, TR_DIAG_ERROR, 0, 0, "yaml: malformed document");
	r->failed = true;
}

bool tr_yaml_load_buf(const char *buf, size_t len, const struct tr_yaml_limits *lim,
		      struct tr_arena *arena, struct tr_yaml_node ***docs, size_t *ndocs,
		      struct tr_diags *diags)
{
	static const struct tr_yaml_limits deflim = TR_YAML_LIMITS_DEFAULT;
	struct reader r = {.arena = arena, .lim = lim ? lim : &deflim, .diags = diags};
	*docs = NULL;
	*ndocs = 0;
	if (len > r.lim->max_bytes) {
		tr_diags_add(diags, TR_DIAG_ERROR, 0, 0, "file too large: %zu bytes (limit %zu)",
			     len, r.lim->max_bytes);
		return false;
	}
	/* libfyaml 0.7.12 (Debian 12) can loop forever scanning some malformed
	 * directives (found by fuzz_pipeline), and pipeline files come from
	 * users: a line starting with '%' (a %YAML or %TAG directive, never in a
	 * compiled pipeline) is refused before libfyaml sees the text, as is NUL */
	for (size_t i = 0, line = 1; i < len; i++) {
		if (buf[i] == '\0') {
			tr_diags_add(diags, TR_DIAG_ERROR, (int)line, 0,
				     "yaml: NUL byte in the file");
			return false;
		}
		if (buf[i] == '%' && (i == 0 || buf[i - 1] == '\n')) {
			tr_diags_add(diags, TR_DIAG_ERROR, (int)line, 1,
				     "yaml: directives (%%YAML, %%TAG) are not supported");
			return false;
		}
		line += buf[i] == '\n';
	}
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = on_fy_output;
	dcfg.user = &r;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	dcfg.show_position = true;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (!diag)
		abort();
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_NONE, .diag = diag};
	struct fy_parser *p = fy_parser_create(&cfg);
	if (!p)
		abort();
	/* libfyaml reads the buffer in place: keep a NUL-terminated copy alive */
	char *copy = tr_arena_strndup(arena, buf, len);
	if (fy_parser_set_string(p, copy, len))
		abort();
	struct fy_event *e;
	while (!r.failed && (e = fy_parser_parse(p)) != NULL) {
		on_event(&r, e);
		fy_parser_event_free(p, e);
	}
	if (!r.failed && fy_parser_get_stream_error(p))
		report_parser_error(&r);
	for (int i = 0; i < r.depth; i++)
		free(r.stack[i].items);
	free(r.stack);
	free(r.anchors);
	fy_parser_destroy(p);
	fy_diag_unref(diag);
	if (r.failed) {
		free(r.docs);
		return false;
	}
	if (r.ndocs) {
		*docs = tr_arena_alloc(arena, r.ndocs * sizeof(**docs));
		memcpy(*docs, r.docs, r.ndocs * sizeof(**docs));
	}
	*ndocs = r.ndocs;
	free(r.docs);
	return true;
}

struct tr_yaml_node *tr_yaml_get(const struct tr_yaml_node *map, const char *key)
{
	if (!map || map->kind != TR_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct tr_yaml_node *k = map->items[2 * i];
		if (k->kind == TR_YAML_SCALAR && !strcmp(k->str, key))
			return map->items[2 * i + 1];
	}
	return NULL;
}

bool tr_yaml_is_null(const struct tr_yaml_node *n)
{
	return n && n->kind == TR_YAML_SCALAR && n->plain &&
	       (!n->len || !strcmp(n->str, "null") || !strcmp(n->str, "Null") ||
		!strcmp(n->str, "NULL") || !strcmp(n->str, "~"));
}

static json_t *plain_scalar(const struct tr_yaml_node *n)
{
	const char *s = n->str;
	if (tr_yaml_is_null(n))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s && !*end && !errno && !strchr(s, ' '))
		return json_integer(v);
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN") || !strcmp(s, ".inf") ||
	    !strcmp(s, ".Inf") || !strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "+.inf"))
		return json_string(s); /* JSON has no NaN/Inf: keep the text */
	errno = 0;
	double d = strtod(s, &end);
	if (*s && !*end && !errno && isfinite(d) && strspn(s, "+-0123456789.eE") == strlen(s))
		return json_real(d);
	return json_stringn(s, n->len);
}

json_t *tr_yaml_to_json(const struct tr_yaml_node *n)
{
	switch (n->kind) {
	case TR_YAML_SCALAR:
		return n->plain ? plain_scalar(n) : json_stringn(n->str, n->len);
	case TR_YAML_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, tr_yaml_to_json(n->items[i]));
		return a;
	}
	case TR_YAML_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; i < n->n; i++) {
			const struct tr_yaml_node *k = n->items[2 * i];
			json_object_set_new(o, k->kind == TR_YAML_SCALAR ? k->str : "?",
					    tr_yaml_to_json(n->items[2 * i + 1]));
		}
		return o;
	}
	}
	return json_null();
}

const char *tr_yaml_kind_name(const struct tr_yaml_node *n)
{
	if (!n)
		return "nothing";
	if (n->kind == TR_YAML_SEQ)
		return "a list";
	if (n->kind == TR_YAML_MAP)
		return "a mapping";
	return "a scalar";
}
