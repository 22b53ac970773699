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
#include <stddef.h>
#include <stdint.h>

struct tr_buf;
struct tr_artifacts;

struct tr_artifact_ops {
	const char *name;
	enum tr_err (*open)(const char *root, struct tr_artifacts **out, struct tr_buf *err);
	void (*close)(struct tr_artifacts *a);
	enum tr_err (*put)(struct tr_artifacts *a, const char *path, const void *data, size_t len,
			   char sha256_hex[65], struct tr_buf *err);
	enum tr_err (*open_read)(struct tr_artifacts *a, const char *path, int *fd, uint64_t *size,
				 struct tr_buf *err);
	enum tr_err (*list)(struct tr_artifacts *a, const char *path, json_t **files,
			    struct tr_buf *err);
	enum tr_err (*remove)(struct tr_artifacts *a, const char *path, struct tr_buf *err);
	enum tr_err (*copy_to)(struct tr_artifacts *a, const char *dest, uint64_t *files,
			       uint64_t *bytes, struct tr_buf *err);
};

struct tr_artifacts {
	const struct tr_artifact_ops *ops; /* first member of every backend's struct */
};

extern const struct tr_artifact_ops tr_artifact_fs_ops;

/*
 * Checks a client's artifact path (already URL-decoded once by the HTTP
 * layer): relative, '/'-separated, no empty, "." or ".." segment, no
 * backslash, control character, '#', '?' or ';', no drive letter; the same
 * holds after repeated percent-decoding, so "%2e%2e" and "..%252f" are refused
 * as well. "" (the root) is allowed only when ALLOW_ROOT.
 */
enum tr_err tr_artifact_path_check(const char *path, int allow_root, struct tr_buf *err)
    __attribute__((warn_unused_result));

/* Opens the store rooted at ROOT (a folder, created if missing). Returns a
 * new store; close with tr_artifacts_close(). */
enum tr_err tr_artifacts_open(const char *root, struct tr_artifacts **out, struct tr_buf *err)
    __attribute__((warn_unused_result));
void tr_artifacts_close(struct tr_artifacts *a);
/* Writes LEN bytes atomically at PATH (temp file, fsync, rename, fsync of the
 * folder): readers see the old file or the new one, never a part. */
enum tr_err tr_artifacts_put(struct tr_artifacts *a, const char *path, const void *data, size_t len,
			     char sha256_hex[65], struct tr_buf *err)
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

#endif
