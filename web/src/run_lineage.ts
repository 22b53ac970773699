// A run's lineage on its page: the pipeline task it tracks, what went in
// (datasets, artifacts its task consumed, the runs that produced them) and
// what came out of it (logged models, model versions, the pipeline run it is
// part of), from two walks of /api/2.0/trellis/lineage around `run:<id>`.
import type { LineageNode, Run } from "./api";
import { lineageApi, type LineageEdge, type LineageGraph } from "./api_lineage";
import { errorBox, h, loading } from "./dom";
import { lineageHref, nodeHref, nodeLabel } from "./lineage_common";

export function runLineageSection(run: Run, alive: () => boolean): HTMLElement {
  const runId = run.info.run_id;
  const node = `run:${runId}`;
  const tags = new Map((run.data.tags ?? []).map((t) => [t.key, t.value]));
  const body = h("div", {}, loading("lineage"));
  const section = h(
    "section",
    { "aria-labelledby": "h-run-lineage", id: "run-lineage" },
    h("h2", { id: "h-run-lineage" }, "Lineage"),
    h("p", {}, h("a", { href: lineageHref(node), id: "open-lineage-graph" }, "Open lineage graph")),
    body,
  );
  void (async () => {
    let up: LineageGraph, down: LineageGraph;
    try {
      [up, down] = await Promise.all([lineageApi.walk(node, "upstream", 4), lineageApi.walk(node, "downstream", 2)]);
    } catch (e) {
      if (alive()) body.replaceChildren(errorBox(`Could not load the lineage: ${(e as Error).message}`));
      return;
    }
    if (!alive()) return;
    const nodes = new Map<string, LineageNode>();
    for (const n of [...up.nodes, ...down.nodes]) nodes.set(n.id, n);
    const upEdges = up.edges ?? [];
    const downEdges = down.edges ?? [];
    const into = (dst: string, rel?: string) => upEdges.filter((e) => e.dst === dst && (!rel || e.relation === rel));

    // the pipeline task: tracked_as edge, else the run's tags
    const tasks = into(node, "tracked_as").map((e) => e.src);
    const pr = tags.get("trellis.pipeline_run_id");
    const tp = tags.get("trellis.task_path");
    if (!tasks.length && pr && tp) tasks.push(`task:${pr}/${tp}`);
    // inputs: datasets consumed by the run; artifacts its tasks consumed;
    // the runs and tasks upstream of those (what produced them)
    const datasets = into(node, "consumed").map((e) => e.src);
    // (a dataset whose source is a stored file names that file's content)
    const consumed = [
      ...new Set([
        ...tasks.flatMap((t) => into(t, "consumed").map((e) => e.src)),
        ...upEdges.filter((e) => e.relation === "same_content" && datasets.includes(e.src)).map((e) => e.dst),
      ]),
    ];
    const upstreamRuns = up.nodes.filter((n) => n.kind === "run" && n.id !== node).map((n) => n.id);
    // outputs
    const from = (rel: string, src = node) => downEdges.filter((e: LineageEdge) => e.src === src && e.relation === rel).map((e) => e.dst);
    const loggedModels = from("logged_model");
    const versions = [...new Set([...from("registered_from"), ...loggedModels.flatMap((m) => from("registered_from", m))])].filter(
      (id) => id.startsWith("model_version:"),
    );
    const pipelineRuns = from("part_of");
    const produced = from("produced").length;

    const item = (id: string) => {
      const n = nodes.get(id) ?? ({ id, kind: id.slice(0, id.indexOf(":")) } as LineageNode);
      const href = nodeHref(n);
      const label = nodeLabel(n);
      return h(
        "li",
        { "data-node": id },
        href ? h("a", { href }, label) : h("span", { class: "mono" }, label),
        n.kind === "artifact" ? h("span", { class: "muted mono", title: id.slice(9) }, ` sha256:${id.slice(9, 21)}…`) : "",
        " ",
        h("a", { href: lineageHref(id), class: "muted small-link", "aria-label": `Lineage graph of ${label}` }, "graph"),
      );
    };
    const group = (id: string, title: string, ids: string[], empty: string) => [
      h("dt", { id: `h-${id}` }, `${title} (${ids.length})`),
      h(
        "dd",
        {},
        ids.length
          ? h("ul", { class: "plain", id, "aria-labelledby": `h-${id}` }, ...ids.map(item))
          : h("span", { class: "muted" }, empty),
      ),
    ];
    body.replaceChildren(
      ...(up.truncated || down.truncated ? [h("p", { class: "muted" }, "The walk was cut at 5,000 nodes: these lists may be incomplete.")] : []),
      h(
        "dl",
        { class: "lin-run" },
        ...group("run-lineage-task", "Pipeline task", tasks, "not run by a pipeline"),
        ...group("run-lineage-pipeline-runs", "Pipeline runs", [...new Set([...pipelineRuns, ...(pr ? [`pipeline_run:${pr}`] : [])])], "none"),
        ...group("run-lineage-datasets", "Input datasets", datasets, "none logged (mlflow.log_input)"),
        ...group("run-lineage-consumed", "Consumed artifacts", consumed, "none recorded"),
        ...group("run-lineage-upstream-runs", "Upstream runs", upstreamRuns, "none"),
        ...group("run-lineage-logged-models", "Logged models", loggedModels, "none"),
        ...group("run-lineage-versions", "Model versions", versions, "none registered from this run"),
        h("dt", {}, "Produced files"),
        h("dd", {}, `${produced} (see Artifacts)`),
      ),
    );
  })();
  return section;
}
