/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small state machine over yajl's callbacks for the LogBatch message:
 *
 *   TOP   { "run_id": str, "metrics": [ ELEM... ], "params": [...], "tags": [...] }
 *   ELEM  { "key": str, "value": num|str, "timestamp": int, "step": int, ... }
 *
 * Values of unknown fields (of any shape) are skipped by counting nesting.
 * Arrays grow by doubling in the request's arena. Every string is checked for
 * an embedded NUL (a C string would silently end there).
 */
#include "api/log_batch_json.h"
#include "api/validate.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

enum list { L_NONE, L_METRICS, L_PARAMS, L_TAGS };

enum field {
	F_NONE,
	F_RUN_ID,
	F_KEY,
	F_VALUE,
	F_TIMESTAMP,
	F_STEP,
	F_MODEL_ID,
	F_DATASET_NAME,
	F_DATASET_DIGEST,
	F_SKIP, /* an unknown field: its value is skipped */
};

struct state {
	struct tr_log_batch *out;
	struct tr_arena *arena;
	struct tr_buf *err;
	enum tr_err rc;
	int depth;	/* 1 inside the top object, 2 inside a list, 3 inside an element */
	int skip;	/* > 0 while skipping the value of an unknown field */
	enum list list; /* the list being read (depth >= 2) */
	enum field field;
	size_t cap[4];
	bool has_value, has_timestamp, has_key;
};

static int fail(struct state *s, const char *fmt, const char *what)
{
	s->rc = tr_fail(s->err, TR_ERR_INVALID_PARAMETER_VALUE, fmt, what);
	return 0;
}

static const char *list_name(enum list l)
{
	return l == L_METRICS ? "metrics" : l == L_PARAMS ? "params" : "tags";
}

static void *grow(struct state *s, void *items, size_t size, size_t n, size_t *cap)
{
	if (n < *cap)
		return items;
	size_t ncap = *cap ? 2 * *cap : 64;
	void *p = tr_arena_alloc(s->arena, ncap * size);
	if (n)
		memcpy(p, items, n * size);
	*cap = ncap;
	return p;
}

/* A value arrived (scalar, or the start of a container) while SKIP is 0. */
static bool skipping_scalar(struct state *s)
{
	if (s->skip)
		return true;
	if (s->field == F_SKIP) {
		s->field = F_NONE;
		return true;
	}
	return false;
}

static int on_start_map(void *ctx)
{
	struct state *s = ctx;
	if (s->skip || s->field == F_SKIP) {
		s->skip++;
		s->field = F_NONE;
		return 1;
	}
	if (s->depth == 0) {
		s->depth = 1;
		return 1;
	}
	if (s->depth == 2) { /* a new element of the current list */
		struct tr_log_batch *b = s->out;
		s->depth = 3;
		s->has_value = s->has_timestamp = s->has_key = false;
		if (s->list == L_METRICS) {
			b->metrics = grow(s, b->metrics, sizeof(*b->metrics), b->n_metrics,
					  &s->cap[L_METRICS]);
			memset(&b->metrics[b->n_metrics], 0, sizeof(*b->metrics));
		} else if (s->list == L_PARAMS) {
			b->params =
			    grow(s, b->params, sizeof(*b->params), b->n_params, &s->cap[L_PARAMS]);
			b->params[b->n_params] = (struct tr_kv){NULL, ""};
		} else {
			b->tags = grow(s, b->tags, sizeof(*b->tags), b->n_tags, &s->cap[L_TAGS]);
			b->tags[b->n_tags] = (struct tr_kv){NULL, ""};
		}
		return 1;
	}
	return fail(s, "Invalid value for parameter '%s': expected a scalar",
		    s->depth == 1 ? "run_id" : "metrics");
}

static int on_end_map(void *ctx)
{
	struct state *s = ctx;
	if (s->skip) {
		s->skip--;
		return 1;
	}
	if (s->depth == 3) {
		struct tr_log_batch *b = s->out;
		s->depth = 2;
		const char *name = list_name(s->list);
		if (!s->has_key)
			return fail(
			    s,
			    "Missing value for required parameter '%s.key'. See the API docs "
			    "for more information about request parameters.",
			    name);
		if (s->list == L_METRICS) {
			if (!s->has_value)
				return fail(s,
					    "Missing value for required parameter '%s.value'. See "
					    "the API docs for more information about request "
					    "parameters.",
					    name);
			if (!s->has_timestamp)
				return fail(s,
					    "Missing value for required parameter '%s.timestamp'. "
					    "See the API docs for more information about request "
					    "parameters.",
					    name);
			b->n_metrics++;
		} else if (s->list == L_PARAMS) {
			b->n_params++;
		} else {
			b->n_tags++;
		}
		return 1;
	}
	s->depth = 0;
	return 1;
}

static int on_start_array(void *ctx)
{
	struct state *s = ctx;
	if (s->skip || s->field == F_SKIP) {
		s->skip++;
		s->field = F_NONE;
		return 1;
	}
	if (s->depth == 1 && s->list != L_NONE) {
		s->depth = 2;
		return 1;
	}
	if (s->depth == 2)
		return fail(s, "Invalid value for parameter '%s': expected a list of objects",
			    list_name(s->list));
	return fail(s, "Invalid value for parameter '%s': unexpected list", "run_id");
}

static int on_end_array(void *ctx)
{
	struct state *s = ctx;
	if (s->skip) {
		s->skip--;
		return 1;
	}
	s->depth = 1;
	s->list = L_NONE;
	return 1;
}

static int on_key(void *ctx, const unsigned char *k, size_t n)
{
	struct state *s = ctx;
	if (s->skip)
		return 1;
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(k, lit, n))
	s->field = F_SKIP;
	s->list = s->depth == 1 ? L_NONE : s->list;
	if (s->depth == 1) {
		if (IS("run_id") || IS("run_uuid"))
			s->field = F_RUN_ID;
		else if (IS("metrics"))
			s->list = L_METRICS, s->field = F_NONE;
		else if (IS("params"))
			s->list = L_PARAMS, s->field = F_NONE;
		else if (IS("tags"))
			s->list = L_TAGS, s->field = F_NONE;
	} else if (s->depth == 3) {
		if (IS("key"))
			s->field = F_KEY;
		else if (IS("value"))
			s->field = F_VALUE;
		else if (s->list == L_METRICS && IS("timestamp"))
			s->field = F_TIMESTAMP;
		else if (s->list == L_METRICS && IS("step"))
			s->field = F_STEP;
		else if (s->list == L_METRICS && IS("model_id"))
			s->field = F_MODEL_ID;
		else if (s->list == L_METRICS && IS("dataset_name"))
			s->field = F_DATASET_NAME;
		else if (s->list == L_METRICS && IS("dataset_digest"))
			s->field = F_DATASET_DIGEST;
	}
#undef IS
	return 1;
}

static const char *field_name(enum field f)
{
	static const char *const names[] = {
	    "",	    "run_id",	"key",		"value",	  "timestamp",
	    "step", "model_id", "dataset_name", "dataset_digest", ""};
	return names[f];
}

static bool parse_i64(const char *t, size_t n, int64_t *out)
{
	char buf[32];
	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	errno = 0;
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end) {
		/* 1e3 or 5.0: an integral double is accepted, as protobuf's parser does */
		double d = strtod(buf, &end);
		if (*end || d != floor(d) || fabs(d) > 9.2e18)
			return false;
		v = (long long)d;
	}
	*out = v;
	return true;
}

/* A number or numeric string for the current field. */
static int take_number(struct state *s, const char *t, size_t n, bool quoted)
{
	struct tr_log_batch *b = s->out;
	enum field f = s->field;
	s->field = F_NONE;
	if (s->depth != 3 || s->list != L_METRICS ||
	    (f != F_VALUE && f != F_TIMESTAMP && f != F_STEP))
		return fail(s, "Invalid value for parameter '%s': expected a string",
			    field_name(f == F_NONE ? F_KEY : f));
	struct tr_metric *m = &b->metrics[b->n_metrics];
	if (f == F_VALUE) {
		char buf[64];
		if (n >= sizeof(buf))
			return fail(s, "Invalid value for parameter '%s': expected a number",
				    "value");
		memcpy(buf, t, n);
		buf[n] = '\0';
		json_t *v = quoted ? json_string(buf) : NULL;
		double d;
		enum tr_err rc;
		if (v) {
			rc = tr_json_value_double(v, &d);
			json_decref(v);
		} else {
			char *end;
			errno = 0;
			d = strtod(buf, &end);
			rc = *end ? TR_ERR_INVALID_PARAMETER_VALUE : TR_OK;
		}
		if (rc)
			return fail(s, "Invalid value for parameter '%s': expected a number",
				    "value");
		m->value = d;
		s->has_value = true;
		return 1;
	}
	int64_t v;
	if (!parse_i64(t, n, &v))
		return fail(s, "Invalid value for parameter '%s': expected an integer",
			    field_name(f));
	if (f == F_TIMESTAMP) {
		m->timestamp = v;
		s->has_timestamp = true;
	} else {
		m->step = v;
	}
	return 1;
}

static int on_number(void *ctx, const char *t, size_t n)
{
	struct state *s = ctx;
	if (skipping_scalar(s))
		return 1;
	return take_number(s, t, n, false);
}

static int on_string(void *ctx, const unsigned char *t, size_t n)
{
	struct state *s = ctx;
	if (skipping_scalar(s))
		return 1;
	if (memchr(t, '\0', n))
		return fail(s, "Invalid value for parameter '%s': NUL characters are not allowed",
			    field_name(s->field == F_NONE ? F_KEY : s->field));
	const char *text = tr_arena_strndup(s->arena, (const char *)t, n);
	/* yajl decodes a lone surrogate escape into bytes that are not UTF-8 */
	if (!tr_utf8_valid(text, NULL))
		return fail(s, "Invalid value for parameter '%s': not valid UTF-8",
			    field_name(s->field == F_NONE ? F_KEY : s->field));
	struct tr_log_batch *b = s->out;
	enum field f = s->field;
	if (s->depth == 3 && s->list == L_METRICS &&
	    (f == F_VALUE || f == F_TIMESTAMP || f == F_STEP))
		return take_number(s, (const char *)t, n, true);
	s->field = F_NONE;
	const char *str = text;
	if (s->depth == 1 && f == F_RUN_ID) {
		if (!b->run_id || !*b->run_id)
			b->run_id = str;
		return 1;
	}
	if (s->depth != 3 || f == F_NONE)
		return fail(s, "Invalid value for parameter '%s': unexpected string", "metrics");
	if (s->list == L_METRICS) {
		struct tr_metric *m = &b->metrics[b->n_metrics];
		if (f == F_KEY) {
			m->key = str;
			s->has_key = n > 0;
		} else if (f == F_MODEL_ID) {
			m->model_id = str;
		} else if (f == F_DATASET_NAME) {
			m->dataset_name = str;
		} else {
			m->dataset_digest = str;
		}
		return 1;
	}
	struct tr_kv *kv = s->list == L_PARAMS ? &b->params[b->n_params] : &b->tags[b->n_tags];
	if (f == F_KEY) {
		kv->key = str;
		s->has_key = n > 0;
	} else {
		kv->value = str;
	}
	return 1;
}

static int on_null(void *ctx)
{
	struct state *s = ctx;
	if (!skipping_scalar(s))
		s->field = F_NONE; /* null is an absent field */
	return 1;
}

static int on_bool(void *ctx, int v)
{
	struct state *s = ctx;
	if (skipping_scalar(s))
		return 1;
	return fail(s, "Invalid value for parameter '%s': unexpected boolean",
		    field_name(s->field == F_NONE ? F_KEY : s->field));
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

enum tr_err tr_log_batch_parse(const char *body, size_t len, struct tr_arena *arena,
			       struct tr_log_batch *out, struct tr_buf *err)
{
	struct state s = {.out = out, .arena = arena, .err = err};
	memset(out, 0, sizeof(*out));
	yajl_handle h = yajl_alloc(&callbacks, NULL, &s);
	yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok && !s.rc) {
		unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)body, len);
		s.rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "malformed JSON body: %s",
			       msg ? (const char *)msg : "parse error");
		yajl_free_error(h, msg);
	}
	yajl_free(h);
	if (!s.rc && len && s.depth != 0)
		s.rc =
		    tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "the JSON body must be an object");
	if (s.rc)
		memset(out, 0, sizeof(*out));
	return s.rc;
}
