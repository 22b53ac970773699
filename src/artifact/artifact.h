/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The artifact store: files under one root, behind an ops table so an
 * S3-compatible backend can join the filesystem one. Every path a client
 * sends is checked by tr_artifact_path_check() and then resolved beneath the
 * root by the backend (the fs backend with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS)), so neither "..", an absolute path, an encoded
 * separator nor a symlink can reach outside it.
 */
#ifndef TR_ARTIFACT_ARTIFACT_H
#define TR_ARTIFACT_ARTIFACT_H

#include "core/err.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_buf;
struct tr_artifacts;
struct tr_artifact_writer;

/*
 * Names beginning with this are uploads in progress (or left by a crash):
 * listings, downloads and copies skip them, and client paths with a segment
 * that begins with it are refused, so a partial file is never visible.
 */
#define TR_ARTIFACT_TMP_PREFIX ".trellis-upload-"

struct tr_artifact_ops {
	const char *name;
	enum tr_err (*open)(const char *root, struct tr_artifacts **out, struct tr_buf *err);
	void (*close)(struct tr_artifacts *a);
	/* streaming upload: see tr_artifacts_put_begin() */
	enum tr_err (*put_begin)(struct tr_artifacts *a, const char *path,
				 struct tr_artifact_writer **out, struct tr_buf *err);
	enum tr_err (*writer_write)(struct tr_artifact_writer *w, const void *data, size_t len,
				    struct tr_buf *err);
	enum tr_err (*writer_commit)(struct tr_artifact_writer *w, struct tr_buf *err);
	void (*writer_abort)(struct tr_artifact_writer *w);
	enum tr_err (*open_read)(struct tr_artifacts *a, const char *path, int *fd, uint64_t *size,
				 struct tr_buf *err);
	enum tr_err (*list)(struct tr_artifacts *a, const char *path, json_t **files,
			    struct tr_buf *err);
	enum tr_err (*remove)(struct tr_artifacts *a, const char *path, struct tr_buf *err);
	enum tr_err (*copy_to)(struct tr_artifacts *a, const char *dest, uint64_t *files,
			       uint64_t *bytes, struct tr_buf *err);
	enum tr_err (*sweep)(struct tr_artifacts *a, int64_t older_than_s, bool remove,
			     uint64_t *files, uint64_t *bytes, struct tr_buf *err);
};

struct tr_artifacts {
	const struct tr_artifact_ops *ops; /* first member of every backend's struct */
};

/* An upload in progress; first member of every backend's writer. The
 * wrappers keep the size and digest, so backends only store bytes. */
struct tr_artifact_writer {
	struct tr_artifacts *a;
	uint64_t size;
	crypto_hash_sha256_state sha256;
};

extern const struct tr_artifact_ops tr_artifact_fs_ops;

/*
 * Checks a client's artifact path (already URL-decoded once by the HTTP
 * layer): relative, '/'-separated, no empty, "." or ".." segment, no
 * backslash, control character, '#', '?' or ';', no drive letter, no segment
 * beginning with TR_ARTIFACT_TMP_PREFIX; the same holds after repeated
 * percent-decoding, so "%2e%2e" and "..%252f" are refused as well. "" (the
 * root) is allowed only when ALLOW_ROOT.
 */
enum tr_err tr_artifact_path_check(const char *path, int allow_root, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Opens the store rooted at ROOT (a folder, created if missing). Returns a
 * new store; close with tr_artifacts_close(). */
enum tr_err tr_artifacts_open(const char *root, struct tr_artifacts **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
void tr_artifacts_close(struct tr_artifacts *a);

/*
 * Streaming upload of the file at PATH, in three steps: tr_artifacts_put_begin()
 * checks PATH (tr_artifact_path_check(), then resolution beneath the root:
 * a refused path fails here, before any byte is written), creates missing
 * folders and a hidden temporary file (TR_ARTIFACT_TMP_PREFIX) in the target
 * folder; tr_artifact_writer_write() appends; tr_artifact_writer_commit()
 * fsyncs the file, renames it over PATH and fsyncs the folder, so readers see
 * the old file or the new one, never a part. tr_artifact_writer_abort() removes
 * the temporary file and the folders this upload created. Size and SHA-256
 * are computed as the bytes pass.
 *
 * Returns a new writer in *OUT; it ends with exactly one commit or abort,
 * which free it (commit also on failure; after a failed write only abort).
 * A writer is used by one thread at a time; writers of one store may run on
 * any threads at once.
 */
enum tr_err tr_artifacts_put_begin(struct tr_artifacts *a, const char *path,
				   struct tr_artifact_writer **out /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Appends LEN bytes. ENOSPC and EDQUOT are IO_ERROR "no space left to store ...". */
enum tr_err tr_artifact_writer_write(struct tr_artifact_writer *w, const void *data, size_t len,
				     struct tr_buf *err) __attribute__((warn_unused_result));
/* Makes the file visible at its path; *SIZE and SHA256_HEX (64 hex digits and
 * a NUL) describe it. Frees W; on failure nothing of the upload is left. */
enum tr_err tr_artifact_writer_commit(struct tr_artifact_writer *w, uint64_t *size /* OUT */,
				      char sha256_hex[65] /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Drops the upload: nothing of it stays visible or on disk. Frees W; NULL is a no-op. */
void tr_artifact_writer_abort(struct tr_artifact_writer *w);
/* The whole-buffer form: begin, one write, commit. */
enum tr_err tr_artifacts_put(struct tr_artifacts *a, const char *path, const void *data, size_t len,
			     char sha256_hex[65] /* OUT */, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* Opens the file at PATH for reading; *FD is the caller's to close.
 * RESOURCE_DOES_NOT_EXIST for a missing file or a folder. */
enum tr_err tr_artifacts_open_read(struct tr_artifacts *a, const char *path, int *fd,
				   uint64_t *size, struct tr_buf *err)
    __attribute__((warn_unused_result));
/* The entries of folder PATH as MLflow FileInfo objects {path: basename,
 * is_dir, file_size}, sorted; a file or a missing path lists as empty. */
enum tr_err tr_artifacts_list(struct tr_artifacts *a, const char *path, json_t **files,
			      struct tr_buf *err) __attribute__((warn_unused_result));
/* Removes the file or folder (recursively) at PATH; a missing path is fine. */
enum tr_err tr_artifacts_remove(struct tr_artifacts *a, const char *path, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Copies every stored file to the folder DEST (created; must not exist yet),
 * fsyncing as it goes; counts in *FILES and *BYTES. For `trellis backup`. */
enum tr_err tr_artifacts_copy_to(struct tr_artifacts *a, const char *dest, uint64_t *files,
				 uint64_t *bytes, struct tr_buf *err)
    __attribute__((warn_unused_result));

/*
 * Finds the temporary files of uploads that never finished (a crash, kill -9)
 * last modified more than OLDER_THAN_S seconds ago (0: any), counts them in
 * *FILES and *BYTES and, with REMOVE, deletes them. At server start, before
 * any upload can begin, with 0; beside a running server (`trellis gc`) only
 * with an age no live upload can reach.
 */
enum tr_err tr_artifacts_sweep(struct tr_artifacts *a, int64_t older_than_s, bool remove,
			       uint64_t *files /* OUT */, uint64_t *bytes /* OUT */,
			       struct tr_buf *err) __attribute__((warn_unused_result));

#endif
