/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hardened YAML reader for pipeline files: libfyaml's event parser builds a
 * small tree in an arena, every node carrying its line and column. Limits are
 * enforced while reading, before anything is expanded: file size, nesting
 * depth, number of aliases and the size of the tree with every alias counted
 * at its full size (so a "billion laughs" file is refused, not expanded).
 * Duplicate mapping keys are errors. Not thread-safe per call; separate calls
 * are independent.
 */
#ifndef TR_PIPELINE_YAML_H
#define TR_PIPELINE_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tr_arena;
struct tr_diags;

enum tr_yaml_kind { TR_YAML_SCALAR, TR_YAML_SEQ, TR_YAML_MAP };

struct tr_yaml_node {
	enum tr_yaml_kind kind;
	int line, col;	 /* 1-based */
	const char *str; /* scalar text, NUL-terminated (may hold NULs: see len) */
	size_t len;
	bool plain; /* an unquoted scalar: null, booleans and numbers are typed */
	/* SEQ: n items in items[]; MAP: n pairs, items[2i] key, items[2i+1] value */
	size_t n;
	struct tr_yaml_node **items;
	size_t weight; /* nodes below, aliases counted at full size */
};

struct tr_yaml_limits {
	size_t max_bytes;   /* file size */
	int max_depth;	    /* nesting of sequences and mappings */
	size_t max_aliases; /* alias uses */
	size_t max_nodes;   /* nodes, aliases expanded */
	int max_documents;  /* documents in the stream */
};

#define TR_YAML_MAX_BYTES (10u * 1024 * 1024)
#define TR_YAML_LIMITS_DEFAULT                                                                     \
	{                                                                                          \
		TR_YAML_MAX_BYTES, 40, 256, 2000000, 2                                             \
	}

/*
 * Reads the YAML stream in BUF (LEN bytes, not necessarily NUL-terminated)
 * into a tree allocated from ARENA (valid until the arena is freed). *DOCS
 * gets the document roots, *NDOCS their number. Every problem is added to
 * DIAGS; returns false when the text could not be read (too large, malformed,
 * over a limit). LIM may be NULL for the defaults.
 */
bool tr_yaml_load_buf(const char *buf, size_t len, const struct tr_yaml_limits *lim,
		      struct tr_arena *arena, struct tr_yaml_node ***docs, size_t *ndocs,
		      struct tr_diags *diags);

/* The value at KEY of mapping MAP, or NULL (also when MAP is not a mapping). */
struct tr_yaml_node *tr_yaml_get(const struct tr_yaml_node *map, const char *key);
/* True when N is a plain null scalar (null, ~, empty). */
bool tr_yaml_is_null(const struct tr_yaml_node *n);
/* N as JSON (YAML 1.2 core schema for plain scalars). Returns a new reference. */
json_t *tr_yaml_to_json(const struct tr_yaml_node *n);
/* A name for N's kind, for messages: "a string", "a list", "a mapping". */
const char *tr_yaml_kind_name(const struct tr_yaml_node *n);

#endif
