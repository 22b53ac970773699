/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit chain: append and verify. Each entry stores the previous entry's hash
 * and its own; verify recomputes every hash in sequence order and checks that
 * sequence numbers are contiguous from 1, so an edit, an insertion or a removal
 * in the middle is detected (removing the newest entries needs a checkpoint
 * kept outside the store).
 */
#include "governance/audit.h"
#include "core/buf.h"
#include "core/ids.h"
#include "store/db.h"

#include <sodium.h>
#include <string.h>

void tr_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	tr_ids_hex(h, sizeof(h), out);
}

void tr_request_digest_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	tr_ids_hex(h, sizeof(h), out);
}

/* libsodium wants its BLAKE2b state 64-byte aligned; the caller's storage
 * has room to align it inside. */
static crypto_generichash_state *digest_state(struct tr_request_digest *d)
{
	_Static_assert(sizeof(d->opaque) >= sizeof(crypto_generichash_state) + 63,
		       "struct tr_request_digest too small for libsodium's state");
	uintptr_t p = ((uintptr_t)d->opaque + 63) & ~(uintptr_t)63;
	return (crypto_generichash_state *)p;
}

void tr_request_digest_init(struct tr_request_digest *d)
{
	crypto_generichash_init(digest_state(d), NULL, 0, 32);
}

void tr_request_digest_update(struct tr_request_digest *d, const void *data, size_t len)
{
	crypto_generichash_update(digest_state(d), data, len);
}

void tr_request_digest_final(struct tr_request_digest *d, char out[65])
{
	unsigned char h[32];
	crypto_generichash_final(digest_state(d), h, sizeof(h));
	tr_ids_hex(h, sizeof(h), out);
}

static void put_u64(crypto_hash_sha256_state *st, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	crypto_hash_sha256_update(st, b, 8);
}

static void put_str(crypto_hash_sha256_state *st, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8), (unsigned char)n};
	crypto_hash_sha256_update(st, b, 4);
	if (n)
		crypto_hash_sha256_update(st, (const unsigned char *)s, n);
}

void tr_audit_hash(const struct tr_audit_entry *e, int64_t seq, const char *prev_hash, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)"TRAUDIT1", 8);
	put_u64(&st, (uint64_t)seq);
	put_u64(&st, (uint64_t)e->time_ms);
	put_str(&st, e->actor);
	put_str(&st, e->action);
	put_str(&st, e->resource);
	put_str(&st, e->outcome);
	put_str(&st, e->detail);
	put_str(&st, e->request_digest);
	put_str(&st, prev_hash);
	crypto_hash_sha256_final(&st, h);
	tr_ids_hex(h, sizeof(h), out);
}

enum tr_err tr_audit_append(struct tr_db *db, const struct tr_audit_entry *e, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row;
	int64_t seq = 0;
	char prev[65];
	memcpy(prev, TR_AUDIT_GENESIS, sizeof(prev));
	enum tr_err rc = tr_db_prepare(
	    db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &st, err);
	if (rc)
		return rc;
	rc = tr_db_step(db, st, &row, err);
	if (!rc && row) {
		seq = tr_db_col_int64(db, st, 0);
		const char *h = tr_db_col_text(db, st, 1);
		if (strlen(h) == 64)
			memcpy(prev, h, 65);
	}
	tr_db_done(db, st);
	if (rc)
		return rc;
	seq++;
	char hash[65];
	tr_audit_hash(e, seq, prev, hash);
	return tr_db_run(
	    db, err,
	    "INSERT INTO audit_log (seq, time_ms, actor, action, resource, outcome, detail,"
	    " request_digest, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
	    "iittttttt"
	    "t",
	    seq, e->time_ms, e->actor, e->action, e->resource, e->outcome,
	    e->detail ? e->detail : "", e->request_digest ? e->request_digest : "", prev, hash);
}

enum tr_err tr_audit_verify(struct tr_db *db, int64_t *count, int64_t *bad_seq, struct tr_buf *err)
{
	struct tr_db_stmt *st;
	bool row = true;
	char prev[65];
	memcpy(prev, TR_AUDIT_GENESIS, sizeof(prev));
	int64_t expect = 1;
	*count = 0;
	*bad_seq = 0;
	enum tr_err rc =
	    tr_db_prepare(db,
			  "SELECT seq, time_ms, actor, action, resource, outcome, detail,"
			  " request_digest, prev_hash, hash FROM audit_log ORDER BY seq",
			  &st, err);
	if (rc)
		return rc;
	while (!rc) {
		rc = tr_db_step(db, st, &row, err);
		if (rc || !row)
			break;
		int64_t seq = tr_db_col_int64(db, st, 0);
		struct tr_audit_entry e = {
		    .time_ms = tr_db_col_int64(db, st, 1),
		    .actor = tr_db_col_text(db, st, 2),
		    .action = tr_db_col_text(db, st, 3),
		    .resource = tr_db_col_text(db, st, 4),
		    .outcome = tr_db_col_text(db, st, 5),
		    .detail = tr_db_col_text(db, st, 6),
		    .request_digest = tr_db_col_text(db, st, 7),
		};
		const char *stored_prev = tr_db_col_text(db, st, 8);
		const char *stored = tr_db_col_text(db, st, 9);
		char hash[65];
		tr_audit_hash(&e, seq, prev, hash);
		if (seq != expect) {
			*bad_seq = expect;
			rc = tr_fail(err, TR_ERR_DATA_LOSS, "audit entry %lld is missing",
				     (long long)expect);
		} else if (strcmp(stored_prev, prev)) {
			*bad_seq = seq;
			rc = tr_fail(err, TR_ERR_DATA_LOSS,
				     "audit entry %lld does not chain to the entry before it",
				     (long long)seq);
		} else if (strcmp(stored, hash)) {
			*bad_seq = seq;
			rc = tr_fail(err, TR_ERR_DATA_LOSS, "audit entry %lld was altered",
				     (long long)seq);
		} else {
			memcpy(prev, hash, sizeof(prev));
			expect++;
			(*count)++;
		}
	}
	tr_db_done(db, st);
	return rc;
}
