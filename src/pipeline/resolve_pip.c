/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dropping the runtime `pip install kfp` of lightweight Python components
 * (reference/kfp-ir.md §3.6, §7). The SDK prefixes every such step with
 *
 *   sh -c "<ensurepip lines>\nPIP_DISABLE_PIP_VERSION_CHECK=1 <installs> && \"$0\" \"$@\"\n"
 *
 * where <installs> is, as kfp's component_factory builds it:
 *   kfp only              KFP
 *   user packages first   USER  &&  KFP
 *   with use_venv=True    [USER  &&  ]VENV KFP
 * and KFP is exactly `python3 -m pip install --quiet --no-warn-script-location
 * [index options]'kfp==V' '--no-deps' 'typing-extensions>=3.7.4,<5;
 * python_version<"3.9"'`. Only that exact shape is rewritten: anything else
 * (kfp_package_path, a kfp pin among the user's packages, a hand-written
 * script) is left alone, which costs a pip run but never breaks a step.
 *
 * The venv part only exists to hold the kfp install, so it goes with it.
 * When no user packages remain the three `sh -c SCRIPT` elements are
 * dropped: the script would only run "$0" "$@", which is exactly the argv
 * that follows them.
 */
#include "pipeline/resolve.h"

#include "core/alloc.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

static const char head[] = "\nif ! [ -x \"$(command -v pip)\" ]; then\n"
			   "    python3 -m ensurepip || python3 -m ensurepip --user || apt-get "
			   "install python3-pip\nfi\n\nPIP_DISABLE_PIP_VERSION_CHECK=1 ";
static const char tail[] = " && \"$0\" \"$@\"\n";
static const char pip[] = "python3 -m pip install --quiet --no-warn-script-location ";
static const char kfp_tail[] =
    "' '--no-deps' 'typing-extensions>=3.7.4,<5; python_version<\"3.9\"'";
static const char venv[] = "\nexport PIP_DISABLE_PIP_VERSION_CHECK=1\ntmp=$(mktemp -d)\n"
			   "python3 -m venv \"$tmp/venv\" --system-site-packages\n"
			   ". \"$tmp/venv/bin/activate\"\n ";
static const char sep[] = "  &&  ";

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* Skips pip's index options ("--index-url URL ", "--extra-index-url URL ",
 * "--trusted-host HOST ") at P, up to END. */
static const char *skip_index_options(const char *p, const char *end)
{
	static const char *const opts[] = {"--index-url ", "--extra-index-url ", "--trusted-host "};
	for (;;) {
		size_t i, n = 0;
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			n = strlen(opts[i]);
			if ((size_t)(end - p) > n && !strncmp(p, opts[i], n))
				break;
		}
		if (i == sizeof(opts) / sizeof(opts[0]))
			return p;
		const char *sp = memchr(p + n, ' ', (size_t)(end - p - (ptrdiff_t)n));
		if (!sp)
			return p;
		p = sp + 1;
	}
}

/* Whether [P, END) is exactly the SDK's kfp install command. */
static bool is_kfp_install(const char *p, const char *end)
{
	size_t n = strlen(pip);
	if ((size_t)(end - p) < n || strncmp(p, pip, n))
		return false;
	p = skip_index_options(p + n, end);
	if ((size_t)(end - p) < 6 || strncmp(p, "'kfp==", 6))
		return false;
	p += 6;
	const char *q = memchr(p, '\'', (size_t)(end - p));
	if (!q || q == p)
		return false;
	for (const char *v = p; v < q; v++)
		if (*v == ' ' || *v == '"')
			return false;
	return (size_t)(end - q) == strlen(kfp_tail) && !strncmp(q, kfp_tail, strlen(kfp_tail));
}

bool tr_resolve_skip_kfp_install(char **argv, size_t *argc)
{
	if (*argc < 4 || strcmp(argv[0], "sh") || strcmp(argv[1], "-c"))
		return false;
	const char *s = argv[2];
	size_t len = strlen(s), hl = strlen(head), tl = strlen(tail);
	if (len < hl + tl || strncmp(s, head, hl) || !ends_with(s, len, tail))
		return false;
	const char *body = s + hl, *end = s + len - tl;
	/* the kfp install is the last command: find where it starts */
	const char *k = NULL;
	for (const char *p = body; (p = strstr(p, pip)) && p < end; p++)
		if (is_kfp_install(p, end)) {
			k = p;
			break;
		}
	if (!k)
		return false;
	size_t keep = (size_t)(k - body);
	if (ends_with(body, keep, venv))
		keep -= strlen(venv);
	if (keep == 0) {
		free(argv[0]);
		free(argv[1]);
		free(argv[2]);
		memmove(argv, argv + 3, (*argc - 3 + 1) * sizeof(*argv));
		*argc -= 3;
		return true;
	}
	if (!ends_with(body, keep, sep))
		return false;
	keep -= strlen(sep);
	struct tr_buf b = TR_BUF_INIT;
	tr_buf_append(&b, s, hl + keep);
	tr_buf_appends(&b, tail);
	free(argv[2]);
	argv[2] = tr_buf_detach(&b);
	return true;
}
