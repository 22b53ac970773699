/* SPDX-License-Identifier: Apache-2.0 */
/* The artifact store: client path rules, and the filesystem backend confined to its root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "artifact/artifact.h"
#include "core/buf.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void path_rules(void **state)
{
	static const char *const good[] = {
	    "a.txt",	"dir/sub/file.bin", "model/MLmodel", "with space/ünïcode.txt",
	    "100%.txt", "a..b/c...d",	    "a%2fb"};
	static const char *const bad[] = {"",
					  ".trellis-upload-0123",
					  "a/.trellis-upload-x/b",
					  "a/%2etrellis-upload-x",
					  "/etc/passwd",
					  "../x",
					  "a/../../x",
					  "a//b",
					  "a/./b",
					  "a/",
					  ".",
					  "..",
					  "a\\b",
					  "C:/x",
					  "c:",
					  "a#b",
					  "a?b",
					  "a;b",
					  "a\x01",
					  "%2e%2e/x",
					  "a/%2E%2E/b",
					  "..%2fx",
					  "%252e%252e/x",
					  "..%252f..%252fx",
					  "%25252e%25252e/x",
					  "a%00b",
					  "%5c..%5cx",
					  "x%2f..%2f..%2fy"};
	struct tr_buf err = TR_BUF_INIT;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (tr_artifact_path_check(good[i], 0, &err) != TR_OK)
			fail_msg("good path refused: '%s': %s", good[i], tr_buf_str(&err));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tr_artifact_path_check(bad[i], 0, &err) != TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("bad path accepted: '%s'", bad[i]);
	assert_int_equal(tr_artifact_path_check("", 1, &err), TR_OK); /* the root, for listing */
	/* encoded eleven times over: refused */
	struct tr_buf enc = TR_BUF_INIT;
	tr_buf_appends(&enc, "x/%2e%2e");
	for (int i = 0; i < 11; i++) {
		struct tr_buf next = TR_BUF_INIT;
		for (size_t k = 0; k < enc.len; k++)
			if (enc.data[k] == '%')
				tr_buf_appends(&next, "%25");
			else
				tr_buf_appendc(&next, enc.data[k]);
		tr_buf_release(&enc);
		enc = next;
	}
	assert_int_equal(tr_artifact_path_check(enc.data, 0, &err), TR_ERR_INVALID_PARAMETER_VALUE);
	tr_buf_release(&enc);
	tr_buf_release(&err);
}

static void fs_backend_stays_beneath_its_root(void **state)
{
	char root[] = "/tmp/trellis-art-XXXXXX", outside[300], link[300];
	assert_non_null(mkdtemp(root));
	struct tr_artifacts *a;
	struct tr_buf err = TR_BUF_INIT;
	char sha[65];
	assert_int_equal(tr_artifacts_open(root, &a, &err), TR_OK);
	assert_int_equal(tr_artifacts_put(a, "d/e/f.txt", "hello", 5, sha, &err), TR_OK);
	assert_string_equal(sha,
			    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	assert_int_equal(tr_artifacts_put(a, "d/e/f.txt", "bye", 3, sha, &err),
			 TR_OK); /* overwrite */
	int fd;
	uint64_t size;
	char buf[16] = {0};
	assert_int_equal(tr_artifacts_open_read(a, "d/e/f.txt", &fd, &size, &err), TR_OK);
	assert_int_equal(size, 3);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "bye");
	close(fd);
	assert_int_equal(tr_artifacts_open_read(a, "d/e", &fd, &size, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	assert_int_equal(tr_artifacts_open_read(a, "nope", &fd, &size, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	json_t *files;
	assert_int_equal(tr_artifacts_list(a, "d", &files, &err), TR_OK);
	assert_int_equal(json_array_size(files), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "path")),
			    "e");
	assert_true(json_is_true(json_object_get(json_array_get(files, 0), "is_dir")));
	json_decref(files);
	for (int i = 0; i < 2; i++) { /* the root, twice: each listing reads it afresh */
		assert_int_equal(tr_artifacts_list(a, "", &files, &err), TR_OK);
		assert_int_equal(json_array_size(files), 1);
		json_decref(files);
	}
	assert_int_equal(tr_artifacts_list(a, "d/e/f.txt", &files, &err),
			 TR_OK); /* a file: empty */
	assert_int_equal(json_array_size(files), 0);
	json_decref(files);
	/* a symlink pointing out of the root is never followed */
	snprintf(outside, sizeof(outside), "%s-outside", root);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(link, sizeof(link), "%s/escape", root);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(tr_artifacts_put(a, "escape/x", "x", 1, sha, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	assert_int_equal(tr_artifacts_open_read(a, "escape/x", &fd, &size, &err),
			 TR_ERR_INVALID_PARAMETER_VALUE);
	char probe[320];
	snprintf(probe, sizeof(probe), "%s/x", outside);
	assert_int_not_equal(access(probe, F_OK), 0);
	/* a failed write leaves nothing behind: the parent is a file */
	assert_int_not_equal(tr_artifacts_put(a, "d/e/f.txt/g", "x", 1, sha, &err), TR_OK);
	assert_int_equal(tr_artifacts_remove(a, "d", &err), TR_OK);
	assert_int_equal(tr_artifacts_remove(a, "d", &err), TR_OK); /* already gone */
	assert_int_equal(tr_artifacts_remove(a, "escape", &err),
			 TR_OK); /* the link, not its target */
	assert_int_equal(access(outside, F_OK), 0);
	DIR *d = opendir(root);
	struct dirent *e;
	int entries = 0;
	while ((e = readdir(d)))
		entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	assert_int_equal(entries, 0); /* no temp files left anywhere */
	tr_artifacts_close(a);
	rmdir(outside);
	rmdir(root);
	tr_buf_release(&err);
}

/* Entries of folder PATH (without "." and ".."), counted; 0 for a missing folder. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The number of upload temporary files anywhere under ROOT. */
static int count_temp(struct tr_artifacts *a)
{
	uint64_t files = 0, bytes = 0;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_artifacts_sweep(a, 0, false, &files, &bytes, &err), TR_OK);
	tr_buf_release(&err);
	return (int)files;
}

static void streaming_writer_commits_atomically(void **state)
{
	char root[] = "/tmp/trellis-art-XXXXXX", path[300];
	assert_non_null(mkdtemp(root));
	struct tr_artifacts *a;
	struct tr_artifact_writer *w;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_artifacts_open(root, &a, &err), TR_OK);
	assert_int_equal(tr_artifacts_put_begin(a, "m/weights.bin", &w, &err), TR_OK);
	/* in progress: a hidden file, neither listed nor readable */
	assert_int_equal(count_temp(a), 1);
	json_t *files;
	assert_int_equal(tr_artifacts_list(a, "m", &files, &err), TR_OK);
	assert_int_equal(json_array_size(files), 0);
	json_decref(files);
	int fd;
	uint64_t size;
	assert_int_equal(tr_artifacts_open_read(a, "m/weights.bin", &fd, &size, &err),
			 TR_ERR_RESOURCE_DOES_NOT_EXIST);
	/* "hello world" in three pieces, and an empty one */
	assert_int_equal(tr_artifact_writer_write(w, "hello", 5, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, "", 0, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, " ", 1, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, "world", 5, &err), TR_OK);
	char sha[65];
	assert_int_equal(tr_artifact_writer_commit(w, &size, sha, &err), TR_OK);
	assert_int_equal(size, 11);
	assert_string_equal(sha,
			    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	assert_int_equal(count_temp(a), 0);
	char buf[32] = {0};
	assert_int_equal(tr_artifacts_open_read(a, "m/weights.bin", &fd, &size, &err), TR_OK);
	assert_int_equal(read(fd, buf, sizeof(buf)), 11);
	close(fd);
	assert_string_equal(buf, "hello world");
	/* an empty upload is an empty file, with the digest of nothing */
	assert_int_equal(tr_artifacts_put_begin(a, "m/empty", &w, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_commit(w, &size, sha, &err), TR_OK);
	assert_int_equal(size, 0);
	assert_string_equal(sha,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* two uploads of one path at once: each whole, the last commit wins */
	struct tr_artifact_writer *w2;
	assert_int_equal(tr_artifacts_put_begin(a, "m/weights.bin", &w, &err), TR_OK);
	assert_int_equal(tr_artifacts_put_begin(a, "m/weights.bin", &w2, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, "first", 5, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w2, "second", 6, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_commit(w, &size, sha, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_commit(w2, &size, sha, &err), TR_OK);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(tr_artifacts_open_read(a, "m/weights.bin", &fd, &size, &err), TR_OK);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	assert_string_equal(buf, "second");
	snprintf(path, sizeof(path), "%s/m", root);
	assert_int_equal(count_entries(path), 2); /* weights.bin, empty: no temp files */
	assert_int_equal(tr_artifacts_remove(a, "m", &err), TR_OK);
	tr_artifacts_close(a);
	assert_int_equal(rmdir(root), 0);
	tr_buf_release(&err);
}

static void streaming_writer_abort_leaves_nothing(void **state)
{
	char root[] = "/tmp/trellis-art-XXXXXX", path[300];
	assert_non_null(mkdtemp(root));
	struct tr_artifacts *a;
	struct tr_artifact_writer *w;
	struct tr_buf err = TR_BUF_INIT;
	char sha[65];
	assert_int_equal(tr_artifacts_open(root, &a, &err), TR_OK);
	assert_int_equal(tr_artifacts_put(a, "keep/old.txt", "old", 3, sha, &err), TR_OK);
	/* aborted in new folders: the file and the folders it made go */
	assert_int_equal(tr_artifacts_put_begin(a, "keep/new/deeper/x.bin", &w, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, "partial", 7, &err), TR_OK);
	tr_artifact_writer_abort(w);
	snprintf(path, sizeof(path), "%s/keep", root);
	assert_int_equal(count_entries(path), 1); /* old.txt only */
	/* aborted over an existing file: the old one stays as it was */
	assert_int_equal(tr_artifacts_put_begin(a, "keep/old.txt", &w, &err), TR_OK);
	assert_int_equal(tr_artifact_writer_write(w, "new content", 11, &err), TR_OK);
	tr_artifact_writer_abort(w);
	int fd;
	uint64_t size;
	char buf[16] = {0};
	assert_int_equal(tr_artifacts_open_read(a, "keep/old.txt", &fd, &size, &err), TR_OK);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	close(fd);
	assert_string_equal(buf, "old");
	assert_int_equal(count_entries(path), 1);
	tr_artifact_writer_abort(NULL); /* a no-op */
	/* a write that fails midway (here the file size limit: EFBIG, as ENOSPC
	 * would) is reported, and aborting leaves nothing */
	struct rlimit old_lim, lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
	lim.rlim_max = old_lim.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	static char big[8192];
	assert_int_equal(tr_artifacts_put_begin(a, "keep/big.bin", &w, &err), TR_OK);
	enum tr_err rc = tr_artifact_writer_write(w, big, sizeof(big), &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
	signal(SIGXFSZ, old_sig);
	assert_int_equal(rc, TR_ERR_IO_ERROR);
	assert_non_null(strstr(tr_buf_str(&err), "keep/big.bin"));
	tr_artifact_writer_abort(w);
	assert_int_equal(count_entries(path), 1);
	assert_int_equal(count_temp(a), 0);
	assert_int_equal(tr_artifacts_remove(a, "keep", &err), TR_OK);
	tr_artifacts_close(a);
	assert_int_equal(rmdir(root), 0);
	tr_buf_release(&err);
}

static void streaming_writer_refuses_paths_before_writing(void **state)
{
	char root[] = "/tmp/trellis-art-XXXXXX", outside[300], link[300];
	assert_non_null(mkdtemp(root));
	struct tr_artifacts *a;
	struct tr_artifact_writer *w = (struct tr_artifact_writer *)&w;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_artifacts_open(root, &a, &err), TR_OK);
	snprintf(outside, sizeof(outside), "%s-outside", root);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(link, sizeof(link), "%s/escape", root);
	assert_int_equal(symlink(outside, link), 0);
	static const char *const refused[] = {"../x",
					      "a/../../x",
					      "/etc/x",
					      "%2e%2e/x",
					      "new/.trellis-upload-0123",
					      "new/%2etrellis-upload-0123",
					      "escape/x",
					      "escape/deeper/x",
					      ""};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (tr_artifacts_put_begin(a, refused[i], &w, &err) !=
		    TR_ERR_INVALID_PARAMETER_VALUE)
			fail_msg("upload to '%s' not refused", refused[i]);
		assert_null(w);
	}
	assert_int_equal(count_entries(outside), 0); /* nothing created through the link */
	assert_int_equal(count_entries(root), 1);    /* the link itself: no "new" folder */
	assert_int_equal(unlink(link), 0);
	tr_artifacts_close(a);
	assert_int_equal(rmdir(outside), 0);
	assert_int_equal(rmdir(root), 0);
	tr_buf_release(&err);
}

static void sweep_removes_crash_leftovers(void **state)
{
	char root[] = "/tmp/trellis-art-XXXXXX", path[300];
	assert_non_null(mkdtemp(root));
	struct tr_artifacts *a;
	struct tr_artifact_writer *live;
	struct tr_buf err = TR_BUF_INIT;
	char sha[65];
	assert_int_equal(tr_artifacts_open(root, &a, &err), TR_OK);
	assert_int_equal(tr_artifacts_put(a, "r/a/file.txt", "kept", 4, sha, &err), TR_OK);
	/* what a kill -9 leaves: two old temporary files */
	static const char *const left[] = {"r/.trellis-upload-1", "r/a/.trellis-upload-2"};
	struct timeval old[2] = {{.tv_sec = time(NULL) - 7200}, {.tv_sec = time(NULL) - 7200}};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, left[i]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs("partial", f);
		fclose(f);
		assert_int_equal(utimes(path, old), 0);
	}
	assert_int_equal(tr_artifacts_put_begin(a, "r/a/live.bin", &live, &err), TR_OK);
	uint64_t files, bytes;
	/* older than an hour: the two leftovers, not the live upload */
	assert_int_equal(tr_artifacts_sweep(a, 3600, false, &files, &bytes, &err), TR_OK);
	assert_int_equal(files, 2);
	assert_int_equal(bytes, 14);
	assert_int_equal(count_temp(a), 3); /* a dry run removes nothing */
	assert_int_equal(tr_artifacts_sweep(a, 3600, true, &files, &bytes, &err), TR_OK);
	assert_int_equal(files, 2);
	assert_int_equal(count_temp(a), 1);
	tr_artifact_writer_abort(live);
	assert_int_equal(count_temp(a), 0);
	int fd;
	uint64_t size;
	assert_int_equal(tr_artifacts_open_read(a, "r/a/file.txt", &fd, &size, &err), TR_OK);
	close(fd);
	assert_int_equal(tr_artifacts_remove(a, "r", &err), TR_OK);
	tr_artifacts_close(a);
	assert_int_equal(rmdir(root), 0);
	tr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_rules),
	    cmocka_unit_test(fs_backend_stays_beneath_its_root),
	    cmocka_unit_test(streaming_writer_commits_atomically),
	    cmocka_unit_test(streaming_writer_abort_leaves_nothing),
	    cmocka_unit_test(streaming_writer_refuses_paths_before_writing),
	    cmocka_unit_test(sweep_removes_crash_leftovers),
	};
	return cmocka_run_group_tests_name("artifacts", tests, NULL, NULL);
}
