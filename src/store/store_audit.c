/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads of the audit log for /api/2.0/trellis/audit/entries: entries newest
 * first, filtered by actor, action (exact, or a prefix given as "x.*"),
 * resource type and id ("<type>/<id>" in the resource column) and a time
 * range, in pages. Every filter value is a bound parameter; each filter has
 * an index ending in seq (migration 6). An exact filter (actor, action,
 * resource id) reads its index in seq order and stops at the page's end; a
 * range (an action prefix, a resource type, a time range) reads its index
 * range and keeps the newest seqs in a bounded sort (200,000 matching
 * entries: 0.1 s in sqlite3, 0.3-0.5 s a page through the server on a busy
 * machine), then the page's rows are read by seq.
 *
 * A page token is base64url of {"before_seq": N, "filter": "<digest>"}: the
 * next page starts below seq N, and the digest ties the token to the filters
 * that made it, so a token used with other filters, or one not made here, is
 * INVALID_PARAMETER_VALUE. A hand-made token with a matching digest can only
 * move the page start, which any client may do by filtering on time.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "governance/audit.h"
#include "store/store_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUE_LEN 1024
#define MAX_TOKEN_LEN 512

struct filter {
	const char *actor;
	const char *action; /* without the trailing '*' when a prefix */
	size_t action_len;  /* bytes of ACTION that count */
	bool action_prefix;
	const char *res_type; /* [A-Za-z0-9_-]+ */
	const char *res_id;
	bool has_from, has_to;
	int64_t from_ms, to_ms;
	int64_t max_results;
	int64_t before_seq; /* 0: from the newest */
	char digest[65];
};

static const char *const known_args[] = {"actor",   "action", "resource_type", "resource_id",
					 "from_ms", "to_ms",  "max_results",   "page_token"};

/* The argument KEY as a string (borrowed) in *OUT, NULL when absent or empty. */
static enum tr_err arg_str(json_t *args, const char *key, const char **out, struct tr_buf *err)
{
	json_t *v = json_object_get(args, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return TR_OK;
	if (!json_is_string(v))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'%s' must be given once, as a string", key);
	const char *s = json_string_value(v);
	if (strlen(s) > MAX_VALUE_LEN)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "'%s' is longer than %d bytes",
			       key, MAX_VALUE_LEN);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "'%s' has a control character", key);
	*out = *s ? s : NULL;
	return TR_OK;
}

/* A decimal integer from LO to HI (a JSON integer is accepted too). */
static enum tr_err arg_int(json_t *args, const char *key, int64_t lo, int64_t hi, bool *present,
			   int64_t *out, struct tr_buf *err)
{
	json_t *v = json_object_get(args, key);
	*present = false;
	if (!v || json_is_null(v))
		return TR_OK;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else {
		const char *s;
		enum tr_err rc = arg_str(args, key, &s, err);
		if (rc)
			return rc;
		if (!s)
			return TR_OK;
		char *end = NULL;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (*end || errno || !(*s == '-' || (*s >= '0' && *s <= '9')))
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "'%s' must be an integer, not '%.32s'", key, s);
		*out = n;
	}
	if (*out < lo || *out > hi)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'%s' must be from %lld to %lld, not %lld", key, (long long)lo,
			       (long long)hi, (long long)*out);
	*present = true;
	return TR_OK;
}

/* The digest of the filters (not the page position) that a token carries. */
static void filter_digest(struct filter *f)
{
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_appendf(&b, "%s\n%.*s\n%d\n%s\n%s\n%d:%lld\n%d:%lld", f->actor ? f->actor : "",
		       (int)f->action_len, f->action ? f->action : "", f->action_prefix,
		       f->res_type ? f->res_type : "", f->res_id ? f->res_id : "", f->has_from,
		       (long long)f->from_ms, f->has_to, (long long)f->to_ms);
	char full[65];
	tr_sha256_hex(tr_buf_str(&b), b.len, full);
	memcpy(f->digest, full, 32);
	f->digest[32] = 0;
	tr_buf_release(&b);
}

static enum tr_err token_parse(const char *token, struct filter *f, struct tr_buf *err)
{
	size_t n = strlen(token);
	if (n > MAX_TOKEN_LEN)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "invalid page token");
	unsigned char raw[MAX_TOKEN_LEN];
	size_t len = 0;
	if (sodium_base642bin(raw, sizeof(raw), token, n, NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "invalid page token, could not base64-decode");
	json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *seq = json_object_get(j, "before_seq");
	json_t *dig = json_object_get(j, "filter");
	enum tr_err rc = TR_OK;
	if (!json_is_object(j) || json_object_size(j) != 2 || !json_is_integer(seq) ||
	    json_integer_value(seq) < 1 || !json_is_string(dig))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "invalid page token");
	else if (strcmp(json_string_value(dig), f->digest))
		rc = tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			     "the page token was made for other filters");
	else
		f->before_seq = json_integer_value(seq);
	json_decref(j);
	return rc;
}

/* Returns a new string; free with free(). */
static char *token_make(const struct filter *f, int64_t before_seq)
{
	char json[128];
	int n = snprintf(json, sizeof(json), "{\"before_seq\":%lld,\"filter\":\"%s\"}",
			 (long long)before_seq, f->digest);
	size_t cap = sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = tr_xmalloc(cap);
	sodium_bin2base64(out, cap, (const unsigned char *)json, (size_t)n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static bool type_valid(const char *s)
{
	if (strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static enum tr_err filter_parse(json_t *args, struct filter *f, struct tr_buf *err)
{
	memset(f, 0, sizeof(*f));
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < sizeof(known_args) / sizeof(known_args[0]); i++)
			known |= !strcmp(key, known_args[i]);
		if (!known)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "unknown parameter '%.64s'", key);
	}
	const char *token = NULL;
	bool present;
	enum tr_err rc = arg_str(args, "actor", &f->actor, err);
	if (!rc)
		rc = arg_str(args, "action", &f->action, err);
	if (!rc)
		rc = arg_str(args, "resource_type", &f->res_type, err);
	if (!rc)
		rc = arg_str(args, "resource_id", &f->res_id, err);
	if (!rc)
		rc = arg_str(args, "page_token", &token, err);
	if (!rc)
		rc = arg_int(args, "from_ms", 0, INT64_MAX, &f->has_from, &f->from_ms, err);
	if (!rc)
		rc = arg_int(args, "to_ms", 0, INT64_MAX, &f->has_to, &f->to_ms, err);
	f->max_results = TR_AUDIT_DEFAULT_RESULTS;
	if (!rc)
		rc = arg_int(args, "max_results", 1, TR_AUDIT_MAX_RESULTS, &present,
			     &f->max_results, err);
	if (rc)
		return rc;
	if (f->has_from && f->has_to && f->from_ms > f->to_ms)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'from_ms' (%lld) is after 'to_ms' (%lld)", (long long)f->from_ms,
			       (long long)f->to_ms);
	if (f->res_type && !type_valid(f->res_type))
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'resource_type' must be letters, digits, '_' or '-', not '%.64s'",
			       f->res_type);
	if (f->res_id && !f->res_type)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "'resource_id' needs 'resource_type'");
	if (f->action) {
		f->action_len = strlen(f->action);
		const char *star = strchr(f->action, '*');
		if (star && star != f->action + f->action_len - 1)
			return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
				       "'action' may have '*' only at its end, for a prefix");
		if (star) {
			f->action_prefix = true;
			f->action_len--;
		}
	}
	filter_digest(f);
	return token ? token_parse(token, f, err) : TR_OK;
}

/* PREFIX's upper bound in byte order (PREFIX with its last byte below 0xff
 * incremented, the rest dropped) into OUT; false when there is none. */
static bool prefix_upper(const char *prefix, size_t n, struct tr_buf *out)
{
	while (n && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (!n)
		return false;
	tr_buf_append(out, prefix, n - 1);
	char last = (char)((unsigned char)prefix[n - 1] + 1);
	tr_buf_append(out, &last, 1);
	return true;
}

enum tr_err tr_store_audit_entries(struct tr_store *s, json_t *args, json_t **out,
				   struct tr_buf *err)
{
	struct filter f;
	*out = NULL;
	enum tr_err rc = filter_parse(args, &f, err);
	if (rc)
		return rc;
	struct tr_buf sql = TR_BUF_INIT, act = TR_BUF_INIT, act_hi = TR_BUF_INIT, res = TR_BUF_INIT,
		      res_lo = TR_BUF_INIT, res_hi = TR_BUF_INIT;
	/* the page's seqs first, from one index alone (a range filter sorts the
	 * seqs it matches, not whole rows), then those rows */
	tr_buf_appendf(&sql, "SELECT seq, time_ms, actor, action, resource, outcome, detail,"
			     " request_digest, prev_hash, hash FROM audit_log WHERE seq IN"
			     " (SELECT seq FROM audit_log WHERE 1=1");
	/* the bound values, in order: text (t) or integer (i) */
	const char *texts[8];
	int64_t ints[8];
	char kinds[8];
	int n = 0;
	if (f.actor) {
		tr_buf_appendf(&sql, " AND actor = ?");
		kinds[n] = 't', texts[n++] = f.actor;
	}
	if (f.action) {
		tr_buf_append(&act, f.action, f.action_len);
		if (!f.action_prefix) {
			tr_buf_appendf(&sql, " AND action = ?");
			kinds[n] = 't', texts[n++] = tr_buf_str(&act);
		} else if (f.action_len) {
			tr_buf_appendf(&sql, " AND action >= ?");
			kinds[n] = 't', texts[n++] = tr_buf_str(&act);
			if (prefix_upper(f.action, f.action_len, &act_hi)) {
				tr_buf_appendf(&sql, " AND action < ?");
				kinds[n] = 't', texts[n++] = tr_buf_str(&act_hi);
			}
		}
	}
	if (f.res_type && f.res_id) {
		tr_buf_appendf(&res, "%s/%s", f.res_type, f.res_id);
		tr_buf_appendf(&sql, " AND resource = ?");
		kinds[n] = 't', texts[n++] = tr_buf_str(&res);
	} else if (f.res_type) {
		/* "<type>" alone, or "<type>/..." ('0' follows '/') */
		tr_buf_appendf(&res, "%s", f.res_type);
		tr_buf_appendf(&res_lo, "%s/", f.res_type);
		tr_buf_appendf(&res_hi, "%s0", f.res_type);
		tr_buf_appendf(&sql, " AND (resource = ? OR (resource >= ? AND resource < ?))");
		kinds[n] = 't', texts[n++] = tr_buf_str(&res);
		kinds[n] = 't', texts[n++] = tr_buf_str(&res_lo);
		kinds[n] = 't', texts[n++] = tr_buf_str(&res_hi);
	}
	if (f.has_from) {
		tr_buf_appendf(&sql, " AND time_ms >= ?");
		kinds[n] = 'i', ints[n++] = f.from_ms;
	}
	if (f.has_to) {
		tr_buf_appendf(&sql, " AND time_ms <= ?");
		kinds[n] = 'i', ints[n++] = f.to_ms;
	}
	if (f.before_seq) {
		tr_buf_appendf(&sql, " AND seq < ?");
		kinds[n] = 'i', ints[n++] = f.before_seq;
	}
	tr_buf_appendf(&sql, " ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC");
	kinds[n] = 'i', ints[n++] = f.max_results + 1;

	struct tr_db *db;
	struct tr_db_stmt *st = NULL;
	rc = store_reader_get(s, &db, err);
	if (rc)
		goto out_bufs;
	rc = tr_db_prepare(db, tr_buf_str(&sql), &st, err);
	if (rc)
		goto out_reader;
	for (int i = 0; i < n; i++) {
		if (kinds[i] == 't')
			tr_db_bind_text(db, st, i + 1, texts[i]);
		else
			tr_db_bind_int64(db, st, i + 1, ints[i]);
	}
	json_t *entries = json_array();
	int64_t last_seq = 0;
	bool more = false;
	for (;;) {
		bool row;
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		if ((int64_t)json_array_size(entries) == f.max_results) {
			more = true;
			break;
		}
		last_seq = tr_db_col_int64(db, st, 0);
		const char *resource = tr_db_col_text(db, st, 4);
		const char *slash = strchr(resource, '/');
		json_t *e = json_pack(
		    "{s:I,s:I,s:s,s:s,s:s,s:s%,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
		    (json_int_t)last_seq, "time_ms", (json_int_t)tr_db_col_int64(db, st, 1),
		    "actor", tr_db_col_text(db, st, 2), "action", tr_db_col_text(db, st, 3),
		    "resource", resource, "resource_type", resource,
		    slash ? (size_t)(slash - resource) : strlen(resource), "resource_id",
		    slash ? slash + 1 : "", "outcome", tr_db_col_text(db, st, 5), "detail",
		    tr_db_col_text(db, st, 6), "request_digest", tr_db_col_text(db, st, 7),
		    "prev_hash", tr_db_col_text(db, st, 8), "hash", tr_db_col_text(db, st, 9));
		if (!e) /* a stored string that is not UTF-8: never fail the page for it */
			e = json_pack("{s:I,s:s}", "seq", (json_int_t)last_seq, "detail",
				      "(entry not valid UTF-8)");
		json_array_append_new(entries, e);
	}
	tr_db_done(db, st);
	if (rc) {
		json_decref(entries);
		goto out_reader;
	}
	*out = json_pack("{s:o}", "entries", entries);
	if (more) {
		char *tok = token_make(&f, last_seq);
		json_object_set_new(*out, "next_page_token", json_string(tok));
		free(tok);
	}
out_reader:
	store_reader_put(s, db);
out_bufs:
	tr_buf_release(&sql);
	tr_buf_release(&act);
	tr_buf_release(&act_hi);
	tr_buf_release(&res);
	tr_buf_release(&res_lo);
	tr_buf_release(&res_hi);
	return rc;
}
