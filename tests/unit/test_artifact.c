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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void path_rules(void **state)
{
	static const char *const good[] = {
	    "a.txt",	"dir/sub/file.bin", "model/MLmodel", "with space/ünïcode.txt",
	    "100%.txt", "a..b/c...d",	    "a%2fb"};
	static const char *const bad[] = {"",
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_rules),
	    cmocka_unit_test(fs_backend_stays_beneath_its_root),
	};
	return cmocka_run_group_tests_name("artifacts", tests, NULL, NULL);
}
