/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drawing a pipeline's DAG as text: Graphviz dot or a Mermaid flowchart.
 * Nested DAGs (sub-pipelines, condition branches, loop bodies) are drawn as
 * clusters headed by the task that runs them; edges are dependencies.
 */
#ifndef TR_PIPELINE_GRAPH_H
#define TR_PIPELINE_GRAPH_H

struct tr_buf;
struct tr_pipeline_spec;

enum tr_graph_format { TR_GRAPH_DOT, TR_GRAPH_MERMAID };

/* Appends the drawing of S to OUT. */
void tr_pipeline_graph(const struct tr_pipeline_spec *s, enum tr_graph_format fmt,
		       struct tr_buf *out);

#endif
