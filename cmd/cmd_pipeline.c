/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `trellis pipeline validate FILE` and `trellis pipeline graph FILE
 * [--format dot|mermaid]`: load a KFP IR or Trellis YAML pipeline, print
 * every problem as FILE:LINE:COL, and draw the DAG. Exit status 0 when the
 * pipeline is valid, 1 when it is not, 2 for a usage error.
 */
#include "cmd.h"
#include "core/buf.h"
#include "pipeline/diag.h"
#include "pipeline/graph.h"
#include "pipeline/spec.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int usage(FILE *out, int code)
{
	fprintf(out, "usage: trellis pipeline validate FILE\n"
		     "       trellis pipeline graph FILE [--format dot|mermaid]\n\n"
		     "FILE is a pipeline compiled by the kfp SDK (KFP v2 IR YAML) or a\n"
		     "Trellis YAML pipeline (docs/pipelines.md). validate lists every problem\n"
		     "as FILE:LINE:COL and exits non-zero when there is one; graph prints the\n"
		     "DAG as Graphviz dot (default) or a Mermaid flowchart.\n");
	return code;
}

static int load(const char *path, struct tr_pipeline_spec **spec)
{
	struct tr_diags d = TR_DIAGS_INIT;
	d.file = path;
	enum tr_err rc = tr_pipeline_load_file(path, NULL, spec, &d);
	struct tr_buf out = TR_BUF_INIT;
	tr_diags_format(&d, &out);
	fputs(tr_buf_str(&out), stderr);
	if (rc)
		fprintf(stderr, "%s: %zu error%s\n", path, d.errors, d.errors == 1 ? "" : "s");
	tr_buf_release(&out);
	tr_diags_release(&d);
	return rc ? 1 : 0;
}

int cmd_pipeline(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"))
		return usage(stdout, 0);
	bool graph = !strcmp(sub, "graph");
	if (!graph && strcmp(sub, "validate")) {
		fprintf(stderr, "trellis pipeline: unknown command '%s'\n", sub);
		return usage(stderr, 2);
	}
	enum tr_graph_format fmt = TR_GRAPH_DOT;
	enum { O_FORMAT = 256, O_HELP };
	static const struct option opts[] = {
	    {"format", required_argument, NULL, O_FORMAT},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (c == O_FORMAT && graph && !strcmp(optarg, "dot"))
			fmt = TR_GRAPH_DOT;
		else if (c == O_FORMAT && graph && !strcmp(optarg, "mermaid"))
			fmt = TR_GRAPH_MERMAID;
		else
			return usage(c == O_HELP ? stdout : stderr, c == O_HELP ? 0 : 2);
	}
	/* getopt saw argv[1..]: exactly one operand, the file */
	if (optind != argc - 2)
		return usage(stderr, 2);
	const char *path = argv[1 + optind];
	struct tr_pipeline_spec *spec = NULL;
	int code = load(path, &spec);
	if (!code && graph) {
		struct tr_buf out = TR_BUF_INIT;
		tr_pipeline_graph(spec, fmt, &out);
		fputs(tr_buf_str(&out), stdout);
		tr_buf_release(&out);
	} else if (!code) {
		printf("%s: valid (%s, %zu tasks)\n", path,
		       tr_pipeline_format(spec) == TR_PIPELINE_KFP ? "kfp ir" : "trellis yaml",
		       tr_pipeline_task_count(spec));
	}
	tr_pipeline_spec_free(spec);
	return code;
}
