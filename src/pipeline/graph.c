/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DAG drawing. Every task gets a node named n<N> in walk order; a task that
 * runs a DAG also opens a cluster holding its node and, recursively, the
 * DAG's tasks, with edges from the header to the tasks that wait for nothing
 * inside. Labels carry what the scheduler will do differently: a condition,
 * a loop and its parallelism, an exit handler, retries.
 */
#include "pipeline/graph.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "pipeline/spec.h"

#include <stdlib.h>
#include <string.h>

struct drawer {
	enum tr_graph_format fmt;
	struct tr_buf *out;
	size_t next_id;
};

static void append_escaped(struct tr_buf *b, const char *s, enum tr_graph_format fmt)
{
	for (; *s; s++) {
		if (*s == '"')
			tr_buf_appends(b, fmt == TR_GRAPH_DOT ? "\\\"" : "#quot;");
		else if (*s == '\\' && fmt == TR_GRAPH_DOT)
			tr_buf_appends(b, "\\\\");
		else if (*s == '\n')
			tr_buf_appendc(b, ' ');
		else
			tr_buf_appendc(b, *s);
	}
}

static void label(struct drawer *g, struct tr_buf *b, const struct tr_pipeline_task *t)
{
	append_escaped(b, tr_pipeline_task_display_name(t), g->fmt);
	const struct tr_pipeline_iterator *it = tr_pipeline_task_iterator(t);
	const char *nl = g->fmt == TR_GRAPH_DOT ? "\\n" : "<br/>";
	if (it->kind != TR_ITER_NONE) {
		tr_buf_appendf(b, "%sfor each", nl);
		if (it->parallelism)
			tr_buf_appendf(b, " (parallelism %lld)", (long long)it->parallelism);
	}
	if (tr_pipeline_task_condition_text(t)) {
		tr_buf_appendf(b, "%sif ", nl);
		const char *c = tr_pipeline_task_condition_text(t);
		struct tr_buf tmp = TR_BUF_INIT;
		tr_buf_append(&tmp, c, strlen(c) > 60 ? 60 : strlen(c));
		if (strlen(c) > 60)
			tr_buf_appends(&tmp, "...");
		append_escaped(b, tr_buf_str(&tmp), g->fmt);
		tr_buf_release(&tmp);
	}
	if (tr_pipeline_task_strategy(t) == TR_TRIGGER_ALL_UPSTREAM_COMPLETED)
		tr_buf_appendf(b, "%sruns after upstream completes", nl);
	const struct tr_pipeline_retry *r = tr_pipeline_task_retry(t);
	if (r && r->max_retries)
		tr_buf_appendf(b, "%sretries %lld", nl, (long long)r->max_retries);
}

static void indent(struct drawer *g, int depth)
{
	for (int i = 0; i <= depth; i++)
		tr_buf_appends(g->out, "  ");
}

/* Draws the tasks of D; IDS gets each task's node id (by DAG order). */
static void draw_dag(struct drawer *g, const struct tr_pipeline_dag *d, int depth, size_t *ids)
{
	size_t n = tr_pipeline_dag_n_tasks(d);
	for (size_t i = 0; i < n; i++) {
		const struct tr_pipeline_task *t = tr_pipeline_dag_task(d, i);
		size_t id = ids[i] = g->next_id++;
		struct tr_buf lb = TR_BUF_INIT;
		label(g, &lb, t);
		const struct tr_pipeline_dag *sub =
		    tr_pipeline_component_dag(tr_pipeline_task_component(t));
		if (sub) {
			indent(g, depth);
			if (g->fmt == TR_GRAPH_DOT)
				tr_buf_appendf(g->out, "subgraph cluster_%zu {\n", id);
			else
				tr_buf_appendf(g->out, "subgraph c%zu[\" \"]\n", id);
		}
		indent(g, depth + !!sub);
		if (g->fmt == TR_GRAPH_DOT)
			tr_buf_appendf(g->out, "n%zu [label=\"%s\"%s];\n", id, tr_buf_str(&lb),
				       sub ? ", style=dashed" : "");
		else
			tr_buf_appendf(g->out, sub ? "n%zu{{\"%s\"}}\n" : "n%zu[\"%s\"]\n", id,
				       tr_buf_str(&lb));
		tr_buf_release(&lb);
		if (!sub)
			continue;
		size_t m = tr_pipeline_dag_n_tasks(sub);
		size_t *sub_ids = tr_xcalloc(m + 1, sizeof(*sub_ids));
		draw_dag(g, sub, depth + 1, sub_ids);
		for (size_t j = 0; j < m; j++)
			if (!tr_pipeline_task_n_deps(tr_pipeline_dag_task(sub, j))) {
				indent(g, depth + 1);
				tr_buf_appendf(g->out,
					       g->fmt == TR_GRAPH_DOT ? "n%zu -> n%zu;\n"
								      : "n%zu --> n%zu\n",
					       id, sub_ids[j]);
			}
		free(sub_ids);
		indent(g, depth);
		tr_buf_appends(g->out, g->fmt == TR_GRAPH_DOT ? "}\n" : "end\n");
	}
	for (size_t i = 0; i < n; i++) {
		const struct tr_pipeline_task *t = tr_pipeline_dag_task(d, i);
		for (size_t j = 0; j < tr_pipeline_task_n_deps(t); j++) {
			indent(g, depth);
			tr_buf_appendf(
			    g->out, g->fmt == TR_GRAPH_DOT ? "n%zu -> n%zu;\n" : "n%zu --> n%zu\n",
			    ids[tr_pipeline_task_dep(t, j)], ids[i]);
		}
	}
}

void tr_pipeline_graph(const struct tr_pipeline_spec *s, enum tr_graph_format fmt,
		       struct tr_buf *out)
{
	struct drawer g = {fmt, out, 0};
	const struct tr_pipeline_dag *d = tr_pipeline_component_dag(tr_pipeline_root(s));
	if (fmt == TR_GRAPH_DOT) {
		tr_buf_appends(out, "digraph \"");
		append_escaped(out, tr_pipeline_name(s), fmt);
		tr_buf_appends(out, "\" {\n  rankdir=TB;\n  node [shape=box];\n");
	} else {
		tr_buf_appends(out, "flowchart TD\n");
	}
	size_t *ids = tr_xcalloc(tr_pipeline_dag_n_tasks(d) + 1, sizeof(*ids));
	draw_dag(&g, d, 0, ids);
	free(ids);
	if (fmt == TR_GRAPH_DOT)
		tr_buf_appends(out, "}\n");
}
