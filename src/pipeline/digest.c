/* SPDX-License-Identifier: Apache-2.0 */
/* Content digests of artifact files and folders (see digest.h). */
#include "pipeline/digest.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/ids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64

static enum tr_err digest_at(int dirfd, const char *name, const char *shown, int depth,
			     unsigned char out[crypto_hash_sha256_BYTES], bool *is_dir,
			     struct tr_buf *err);

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum tr_err digest_dir(int fd, const char *shown, int depth,
			      unsigned char out[crypto_hash_sha256_BYTES], struct tr_buf *err)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot read %s: %s", shown, strerror(errno));
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			names = tr_xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = tr_xstrdup(e->d_name);
	}
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	enum tr_err rc = TR_OK;
	for (size_t i = 0; i < n; i++) {
		unsigned char sub[crypto_hash_sha256_BYTES];
		char hex[65];
		bool sub_dir = false;
		if (!rc)
			rc = digest_at(dirfd(d), names[i], names[i], depth + 1, sub, &sub_dir, err);
		if (!rc) {
			tr_ids_hex(sub, sizeof(sub), hex);
			struct tr_buf line = TR_BUF_INIT;
			tr_buf_appendf(&line, "%c %s %s\n", sub_dir ? 'd' : 'f', names[i], hex);
			crypto_hash_sha256_update(&st, (const unsigned char *)line.data, line.len);
			tr_buf_release(&line);
		}
		free(names[i]);
	}
	free(names);
	closedir(d);
	if (!rc)
		crypto_hash_sha256_final(&st, out);
	return rc;
}

static enum tr_err digest_at(int dirfd, const char *name, const char *shown, int depth,
			     unsigned char out[crypto_hash_sha256_BYTES], bool *is_dir,
			     struct tr_buf *err)
{
	if (depth > MAX_DEPTH)
		return tr_fail(err, TR_ERR_INVALID_PARAMETER_VALUE, "%s is nested too deeply",
			       shown);
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tr_fail(err,
			       errno == ENOENT ? TR_ERR_RESOURCE_DOES_NOT_EXIST : TR_ERR_IO_ERROR,
			       "cannot open %s: %s", shown, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb)) {
		close(fd);
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot stat %s: %s", shown, strerror(errno));
	}
	*is_dir = S_ISDIR(sb.st_mode);
	if (*is_dir)
		return digest_dir(fd, shown, depth, out, err);
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[65536];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
	int saved = errno;
	close(fd);
	if (got < 0)
		return tr_fail(err, TR_ERR_IO_ERROR, "cannot read %s: %s", shown, strerror(saved));
	crypto_hash_sha256_final(&st, out);
	return TR_OK;
}

enum tr_err tr_digest_path(const char *path, char hex[65], struct tr_buf *err)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	bool is_dir;
	enum tr_err rc = digest_at(AT_FDCWD, path, path, 0, d, &is_dir, err);
	if (!rc)
		tr_ids_hex(d, sizeof(d), hex);
	return rc;
}
