/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filesystem artifact backend. One directory descriptor for the root;
 * every lookup is openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) relative to it, and folders are created one segment
 * at a time from descriptors obtained that way, so no path component, symlink
 * or race can lead outside the root. Writes go to a temporary file in the
 * target folder, are fsynced, renamed over the name and the folder is fsynced.
 * Temporary names begin with TR_ARTIFACT_TMP_PREFIX: listings and copies skip
 * them, the path rules refuse them, and the start-up sweep removes those a
 * crash left.
 */
#include "artifact/artifact.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/ids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct fs_store {
	struct tr_artifacts base;
	int root;
};

static int beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .mode = (flags & O_CREAT) ? mode : 0,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static enum tr_err io_error(struct tr_buf *err, const char *what, const char *path)
{
	int e = errno;
	if (e == ENOSPC || e == EDQUOT)
		return tr_fail(err, TR_ERR_IO_ERROR, "no space left to store '%s'", path);
	if (e == ENOENT || e == ENOTDIR)
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "artifact '%s' does not exist",
			       path);
	if (e == EXDEV || e == ELOOP)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE,
			       "Invalid path: '%s' leaves the artifact root", path);
	return tr_fail(err, TR_ERR_IO_ERROR, "cannot %s artifact '%s': %s", what, path,
		       strerror(e));
}

static enum tr_err fs_open(const char *root, struct tr_artifacts **out, struct tr_buf *err)
{
	if (mkdir(root, 0755) && errno != EEXIST)
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot create artifact root '%s': %s", root,
			       strerror(errno));
	int fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot open artifact root '%s': %s", root,
			       strerror(errno));
	struct fs_store *s = tr_xcalloc(1, sizeof(*s));
	s->base.ops = &tr_artifact_fs_ops;
	s->root = fd;
	*out = &s->base;
	return TR_OK;
}

static void fs_close(struct tr_artifacts *a)
{
	struct fs_store *s = (struct fs_store *)a;
	close(s->root);
	free(s);
}

/*
 * Opens (creating) the folder DIR beneath the root, one segment at a time.
 * A folder made here is fsynced into its parent, so a committed file's path
 * survives a crash. *CREATED is the offset in DIR of the first folder made
 * here, or SIZE_MAX when all existed.
 */
static int open_dirs(struct fs_store *s, const char *dir, size_t *created)
{
	int fd = dup(s->root);
	char *copy = tr_xstrdup(dir), *seg = copy;
	*created = SIZE_MAX;
	while (fd >= 0 && *seg) {
		char *slash = strchr(seg, '/');
		if (slash)
			*slash = '\0';
		if (!mkdirat(fd, seg, 0755)) {
			if (*created == SIZE_MAX)
				*created = (size_t)(seg - copy);
			fsync(fd);
		} else if (errno != EEXIST) {
			close(fd);
			fd = -1;
			break;
		}
		int next = beneath(fd, seg, O_DIRECTORY | O_RDONLY, 0);
		close(fd);
		fd = next;
		seg = slash ? slash + 1 : seg + strlen(seg);
	}
	free(copy);
	return fd;
}

/* Removes the folders of DIR from offset FROM on, deepest first, while empty:
 * the ones an aborted upload created. DIR is modified. */
static void remove_created_dirs(struct fs_store *s, char *dir, size_t from)
{
	size_t len = strlen(dir);
	while (from != SIZE_MAX && len > from) {
		dir[len] = '\0';
		char *slash = strrchr(dir, '/');
		size_t seg = slash ? (size_t)(slash - dir) + 1 : 0;
		if (seg < from)
			break;
		int pfd;
		if (slash) {
			*slash = '\0';
			pfd = beneath(s->root, dir, O_DIRECTORY | O_RDONLY, 0);
		} else {
			pfd = dup(s->root);
		}
		int gone = pfd >= 0 && !unlinkat(pfd, dir + seg, AT_REMOVEDIR);
		if (pfd >= 0)
			close(pfd);
		if (!gone)
			break; /* not empty: another upload is using it */
		len = slash ? (size_t)(slash - dir) : 0;
	}
}

struct fs_writer {
	struct tr_artifact_writer base;
	int dfd, fd;
	char *path;	  /* as the client named it, for messages */
	char *dir;	  /* the folder part of PATH */
	const char *name; /* the file name part, in PATH */
	size_t created;	  /* see open_dirs() */
	char tmp[64];
};

static void writer_free(struct fs_writer *w, bool remove)
{
	if (w->fd >= 0)
		close(w->fd);
	if (remove && w->dfd >= 0)
		unlinkat(w->dfd, w->tmp, 0);
	if (w->dfd >= 0)
		close(w->dfd);
	if (remove)
		remove_created_dirs((struct fs_store *)w->base.a, w->dir, w->created);
	free(w->dir);
	free(w->path);
	free(w);
}

static enum tr_err fs_put_begin(struct tr_artifacts *a, const char *path,
				struct tr_artifact_writer **out, struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	struct fs_writer *w = tr_xcalloc(1, sizeof(*w));
	const char *slash = strrchr(path, '/');
	w->base.a = a;
	w->fd = -1;
	w->path = tr_xstrdup(path);
	w->dir = slash ? tr_xstrndup(path, (size_t)(slash - path)) : tr_xstrdup("");
	w->name = slash ? w->path + (slash - path) + 1 : w->path;
	/* a folder can vanish while we make or enter it (an aborted upload
	 * removing the empty folders it made, a delete): then try again */
	for (int attempt = 0;; attempt++) {
		w->dfd = open_dirs(s, w->dir, &w->created);
		if (w->dfd >= 0) {
			char id[33];
			tr_ids_run_id(id);
			snprintf(w->tmp, sizeof(w->tmp), TR_ARTIFACT_TMP_PREFIX "%s", id);
			w->fd = openat(w->dfd, w->tmp,
				       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
			if (w->fd >= 0) {
				*out = &w->base;
				return TR_OK;
			}
		}
		if (errno != ENOENT || attempt == 2)
			break;
		if (w->dfd >= 0)
			close(w->dfd);
		w->dfd = -1;
	}
	enum tr_err rc = io_error(err, w->dfd < 0 ? "create the folder of" : "write", path);
	writer_free(w, true);
	return rc;
}

static enum tr_err fs_writer_write(struct tr_artifact_writer *base, const void *data, size_t len,
				   struct tr_buf *err)
{
	struct fs_writer *w = (struct fs_writer *)base;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(w->fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC; /* write(2) makes no progress only when full */
			return io_error(err, "write", w->path);
		}
		off += (size_t)n;
	}
	return TR_OK;
}

static enum tr_err fs_writer_commit(struct tr_artifact_writer *base, struct tr_buf *err)
{
	struct fs_writer *w = (struct fs_writer *)base;
	enum tr_err rc = TR_OK;
	int failed = fsync(w->fd), e = errno;
	/* close() reports write-back errors some file systems only find then */
	if (close(w->fd) && !failed) {
		failed = 1;
		e = errno;
	}
	w->fd = -1;
	if (!failed && renameat(w->dfd, w->tmp, w->dfd, w->name)) {
		failed = 1;
		e = errno;
	}
	if (failed) {
		errno = e;
		rc = io_error(err, "write", w->path);
		writer_free(w, true);
		return rc;
	}
	if (fsync(w->dfd)) { /* renamed, but maybe not durably: take it back */
		rc = io_error(err, "write", w->path);
		unlinkat(w->dfd, w->name, 0);
	}
	writer_free(w, false);
	return rc;
}

static void fs_writer_abort(struct tr_artifact_writer *base)
{
	writer_free((struct fs_writer *)base, true);
}

static enum tr_err fs_open_read(struct tr_artifacts *a, const char *path, int *fd, uint64_t *size,
				struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	struct stat st;
	int f = beneath(s->root, path, O_RDONLY, 0);
	if (f < 0)
		return io_error(err, "read", path);
	if (fstat(f, &st) || !S_ISREG(st.st_mode)) {
		close(f);
		return tr_fail(err, TR_ERR_RESOURCE_DOES_NOT_EXIST, "artifact '%s' is not a file",
			       path);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return TR_OK;
}

/* A directory stream of its own over folder DFD (which stays the caller's):
 * a dup() would share its read position with DFD and every other dup of it,
 * so a second walk of the root would find it already read to the end. */
static DIR *open_dir_stream(int dfd)
{
	int fd = openat(dfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	return d;
}

static int by_path(const void *x, const void *y)
{
	const char *a = json_string_value(json_object_get(*(json_t *const *)x, "path"));
	const char *b = json_string_value(json_object_get(*(json_t *const *)y, "path"));
	return strcmp(a, b);
}

static enum tr_err fs_list(struct tr_artifacts *a, const char *path, json_t **files,
			   struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	*files = NULL;
	/* not dup(): a dup shares its read position with the root's descriptor */
	int dfd = *path ? beneath(s->root, path, O_DIRECTORY | O_RDONLY, 0)
			: openat(s->root, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return io_error(err, "list", path);
		*files = json_array(); /* a file or a missing path lists as empty, as MLflow's */
		return TR_OK;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return io_error(err, "list", path);
	}
	*files = json_array();
	struct dirent *e;
	size_t n = 0, cap = 0;
	json_t **items = NULL;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strncmp(e->d_name, TR_ARTIFACT_TMP_PREFIX, strlen(TR_ARTIFACT_TMP_PREFIX)))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue; /* symlinks and devices are not artifacts */
		json_t *fi =
		    json_pack("{s:s,s:b}", "path", e->d_name, "is_dir", S_ISDIR(st.st_mode));
		if (!fi)
			continue; /* a name that is not UTF-8 */
		if (S_ISREG(st.st_mode))
			json_object_set_new(fi, "file_size", json_integer((json_int_t)st.st_size));
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			items = tr_xrealloc(items, cap * sizeof(*items));
		}
		items[n++] = fi;
	}
	closedir(d);
	if (n) /* qsort(NULL, 0, ...) is undefined */
		qsort(items, n, sizeof(*items), by_path);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*files, items[i]);
	free(items);
	return TR_OK;
}

/* Removes NAME in folder DFD, recursing into folders without following links. */
static int remove_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0);
	int sub = beneath(dfd, name, O_DIRECTORY | O_RDONLY, 0);
	if (sub < 0)
		return -1;
	DIR *d = fdopendir(sub);
	if (!d) {
		close(sub);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = remove_at(dirfd(d), e->d_name);
	closedir(d);
	return rc ? rc : unlinkat(dfd, name, AT_REMOVEDIR);
}

static enum tr_err fs_remove(struct tr_artifacts *a, const char *path, struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	const char *slash = strrchr(path, '/');
	char *dir = slash ? tr_xstrndup(path, (size_t)(slash - path)) : tr_xstrdup("");
	int dfd = *dir ? beneath(s->root, dir, O_DIRECTORY | O_RDONLY, 0) : dup(s->root);
	enum tr_err rc = TR_OK;
	if (dfd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = io_error(err, "delete", path);
	} else {
		if (remove_at(dfd, slash ? slash + 1 : path))
			rc = io_error(err, "delete", path);
		close(dfd);
	}
	free(dir);
	return rc;
}

/* Copies the tree under folder SRC into the new folder DST (both descriptors
 * stay the caller's); links and special files are not followed or copied. */
static int copy_tree(int src, int dst, uint64_t *files, uint64_t *bytes)
{
	DIR *d = open_dir_stream(src);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	char buf[65536];
	while (!rc && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strncmp(e->d_name, TR_ARTIFACT_TMP_PREFIX, strlen(TR_ARTIFACT_TMP_PREFIX)) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int in = beneath(dirfd(d), e->d_name, O_DIRECTORY | O_RDONLY, 0), out = -1;
			if (in < 0 || mkdirat(dst, e->d_name, 0755) ||
			    (out = openat(dst, e->d_name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW)) < 0)
				rc = -1;
			if (!rc)
				rc = copy_tree(in, out, files, bytes);
			if (!rc)
				rc = fsync(out);
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		} else if (S_ISREG(st.st_mode)) {
			int in = beneath(dirfd(d), e->d_name, O_RDONLY, 0);
			int out =
			    openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
			ssize_t n = 0;
			if (in < 0 || out < 0)
				rc = -1;
			while (!rc && (n = read(in, buf, sizeof(buf))) > 0) {
				for (ssize_t off = 0; off < n;) {
					ssize_t w = write(out, buf + off, (size_t)(n - off));
					if (w <= 0) {
						rc = -1;
						break;
					}
					off += w;
				}
				*bytes += (uint64_t)n;
			}
			if (!rc && (n < 0 || fsync(out)))
				rc = -1;
			if (!rc)
				(*files)++;
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		}
	}
	closedir(d);
	return rc;
}

static enum tr_err fs_copy_to(struct tr_artifacts *a, const char *dest, uint64_t *files,
			      uint64_t *bytes, struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	*files = *bytes = 0;
	if (mkdir(dest, 0755))
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot create '%s': %s", dest,
			       strerror(errno));
	int out = open(dest, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (out < 0)
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot open '%s': %s", dest, strerror(errno));
	int rc = copy_tree(s->root, out, files, bytes);
	if (!rc)
		rc = fsync(out);
	close(out);
	return rc ? tr_fail(err, TR_ERR_IO_ERROR, "copying artifacts to '%s' failed: %s", dest,
			    strerror(errno))
		  : TR_OK;
}

/* Counts (and with REMOVE deletes) upload leftovers under folder DFD whose
 * mtime is before CUTOFF; folders are walked without following links. */
static int sweep_tree(int dfd, time_t cutoff, bool remove, uint64_t *files, uint64_t *bytes)
{
	DIR *d = open_dir_stream(dfd);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = beneath(dirfd(d), e->d_name, O_DIRECTORY | O_RDONLY, 0);
			if (sub >= 0) {
				rc = sweep_tree(sub, cutoff, remove, files, bytes);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode) &&
			   !strncmp(e->d_name, TR_ARTIFACT_TMP_PREFIX,
				    strlen(TR_ARTIFACT_TMP_PREFIX)) &&
			   st.st_mtime < cutoff) {
			if (remove && unlinkat(dirfd(d), e->d_name, 0) && errno != ENOENT) {
				rc = -1;
				break;
			}
			(*files)++;
			*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	return rc;
}

static enum tr_err fs_sweep(struct tr_artifacts *a, int64_t older_than_s, bool remove,
			    uint64_t *files, uint64_t *bytes, struct tr_buf *err)
{
	struct fs_store *s = (struct fs_store *)a;
	*files = *bytes = 0;
	time_t cutoff = older_than_s > 0 ? time(NULL) - (time_t)older_than_s : (time_t)INT64_MAX;
	if (sweep_tree(s->root, cutoff, remove, files, bytes))
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot remove unfinished uploads: %s",
			       strerror(errno));
	return TR_OK;
}

const struct tr_artifact_ops tr_artifact_fs_ops = {
    .name = "fs",
    .open = fs_open,
    .close = fs_close,
    .put_begin = fs_put_begin,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_abort = fs_writer_abort,
    .open_read = fs_open_read,
    .list = fs_list,
    .remove = fs_remove,
    .copy_to = fs_copy_to,
    .sweep = fs_sweep,
};

enum tr_err tr_artifacts_open(const char *root, struct tr_artifacts **out, struct tr_buf *err)
{
	return tr_artifact_fs_ops.open(root, out, err);
}

void tr_artifacts_close(struct tr_artifacts *a)
{
	if (a)
		a->ops->close(a);
}

enum tr_err tr_artifacts_put_begin(struct tr_artifacts *a, const char *path,
				   struct tr_artifact_writer **out, struct tr_buf *err)
{
	*out = NULL;
	enum tr_err rc = tr_artifact_path_check(path, 0, err);
	if (!rc)
		rc = a->ops->put_begin(a, path, out, err);
	if (rc)
		return rc;
	(*out)->a = a;
	(*out)->size = 0;
	crypto_hash_sha256_init(&(*out)->sha256);
	return TR_OK;
}

enum tr_err tr_artifact_writer_write(struct tr_artifact_writer *w, const void *data, size_t len,
				     struct tr_buf *err)
{
	if (!len)
		return TR_OK;
	enum tr_err rc = w->a->ops->writer_write(w, data, len, err);
	if (!rc) {
		crypto_hash_sha256_update(&w->sha256, data, len);
		w->size += len;
	}
	return rc;
}

enum tr_err tr_artifact_writer_commit(struct tr_artifact_writer *w, uint64_t *size,
				      char sha256_hex[65], struct tr_buf *err)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&w->sha256, h);
	uint64_t n = w->size;
	enum tr_err rc = w->a->ops->writer_commit(w, err); /* frees W */
	if (!rc) {
		*size = n;
		tr_ids_hex(h, sizeof(h), sha256_hex);
	}
	return rc;
}

void tr_artifact_writer_abort(struct tr_artifact_writer *w)
{
	if (w)
		w->a->ops->writer_abort(w);
}

enum tr_err tr_artifacts_put(struct tr_artifacts *a, const char *path, const void *data, size_t len,
			     char sha256_hex[65], struct tr_buf *err)
{
	struct tr_artifact_writer *w;
	uint64_t size;
	enum tr_err rc = tr_artifacts_put_begin(a, path, &w, err);
	if (rc)
		return rc;
	rc = tr_artifact_writer_write(w, data, len, err);
	if (rc) {
		tr_artifact_writer_abort(w);
		return rc;
	}
	return tr_artifact_writer_commit(w, &size, sha256_hex, err);
}

enum tr_err tr_artifacts_open_read(struct tr_artifacts *a, const char *path, int *fd,
				   uint64_t *size, struct tr_buf *err)
{
	enum tr_err rc = tr_artifact_path_check(path, 0, err);
	return rc ? rc : a->ops->open_read(a, path, fd, size, err);
}

enum tr_err tr_artifacts_list(struct tr_artifacts *a, const char *path, json_t **files,
			      struct tr_buf *err)
{
	enum tr_err rc = tr_artifact_path_check(path, 1, err);
	return rc ? rc : a->ops->list(a, path, files, err);
}

enum tr_err tr_artifacts_remove(struct tr_artifacts *a, const char *path, struct tr_buf *err)
{
	enum tr_err rc = tr_artifact_path_check(path, 0, err);
	return rc ? rc : a->ops->remove(a, path, err);
}

enum tr_err tr_artifacts_copy_to(struct tr_artifacts *a, const char *dest, uint64_t *files,
				 uint64_t *bytes, struct tr_buf *err)
{
	return a->ops->copy_to(a, dest, files, bytes, err);
}

enum tr_err tr_artifacts_sweep(struct tr_artifacts *a, int64_t older_than_s, bool remove,
			       uint64_t *files, uint64_t *bytes, struct tr_buf *err)
{
	return a->ops->sweep(a, older_than_s, remove, files, bytes, err);
}
