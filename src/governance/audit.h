/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tamper-evident audit log: entries hash-chained with SHA-256 over a fixed
 * byte encoding (identical on every database driver). The chain head is read
 * inside the writing transaction, never cached, because `trellis` CLI
 * processes and the server may write the same store.
 *
 * Encoding hashed for entry N ("TRAUDIT1" magic, then big-endian integers and
 * u32-length-prefixed strings): magic, seq (u64), time_ms (i64), actor,
 * action, resource, outcome, detail, request_digest, prev_hash (hex text).
 */
#ifndef TR_GOVERNANCE_AUDIT_H
#define TR_GOVERNANCE_AUDIT_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct tr_buf;
struct tr_db;

struct tr_audit_entry {
	int64_t time_ms;
	const char *actor;
	const char *action;
	const char *resource;
	const char *outcome;	    /* "ok" or "rejected: <code>" */
	const char *detail;	    /* counts, message; may be "" */
	const char *request_digest; /* hex SHA-256 of the request, or "" */
};

#define TR_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* Computes the hex hash (65 bytes with NUL) of entry E at SEQ after PREV_HASH. */
void tr_audit_hash(const struct tr_audit_entry *e, int64_t seq, const char *prev_hash,
		   char out[65]);
/* Appends E on DB, which must be inside a write transaction. */
enum tr_err tr_audit_append(struct tr_db *db, const struct tr_audit_entry *e, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Verifies the whole chain on DB; see tr_store_audit_verify(). */
enum tr_err tr_audit_verify(struct tr_db *db, int64_t *count, int64_t *bad_seq, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Hex SHA-256 of LEN bytes at DATA into OUT (65 bytes). */
void tr_sha256_hex(const void *data, size_t len, char out[65]);
/* Hex BLAKE2b-256 of LEN bytes at DATA into OUT (65 bytes): the request
 * digest recorded in audit entries. BLAKE2b, not SHA-256, because it is
 * computed over every request body on the ingest path and is ~3x faster in
 * software; the chain itself stays SHA-256. */
void tr_request_digest_hex(const void *data, size_t len, char out[65]);

/* The same digest over a body that arrives in pieces (a streamed upload):
 * init, update per piece, final. Caller storage; no release needed. */
struct tr_request_digest {
	unsigned char opaque[384 + 64]; /* libsodium's state, aligned inside */
};
void tr_request_digest_init(struct tr_request_digest *d);
void tr_request_digest_update(struct tr_request_digest *d, const void *data, size_t len);
void tr_request_digest_final(struct tr_request_digest *d, char out[65]);

#endif
