// One pipeline version: its graph (dag.ts, laid out like a run's), its
// parameters with their types and defaults, and the form starting a run.
import { clear, errorBox, fmtTime, h, loading } from "./dom";
import { kfpApi, type KfpPipeline, type KfpVersion } from "./api_pipelines";
import { drawDag, graphModel } from "./dag";
import { fmtDefault, paramDefs, runForm } from "./run_form";
import { pipelineHref } from "./pipelines";
import { ts } from "./pipeline_runs";

export async function pipelineVersionPage(root: HTMLElement, alive: () => boolean, id: string, vid: string) {
  const body = h("div", {}, loading("the pipeline version"));
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/pipelines" }, "Pipelines"));
  root.append(crumbs, body);
  let p: KfpPipeline, v: KfpVersion;
  try {
    [p, v] = await Promise.all([kfpApi.getPipeline(id), kfpApi.getVersion(id, vid)]);
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(h("h1", {}, "Pipeline version"), errorBox(`Could not load version ${vid} of pipeline ${id}: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  const pname = p.display_name || p.name || id;
  const vname = v.display_name || v.name || vid;
  document.title = `${vname} · ${pname} · Trellis`;
  crumbs.append(" / ", h("a", { href: pipelineHref(id) }, pname));
  clear(body);
  const model = graphModel(v.pipeline_spec, []);
  const defs = paramDefs(v.pipeline_spec);
  let graph: HTMLElement;
  if (model.fromSpec && model.nodes.length) {
    const view = drawDag(model, vname);
    for (const [n, el] of view.nodes) {
      el.g.setAttribute("class", "dag-node state-none");
      el.state.textContent = "task";
      el.g.setAttribute("aria-label", `task ${n}`);
    }
    graph = h("div", { class: "dag-wrap", id: "version-graph" }, view.svg);
  } else {
    graph = h("p", { class: "muted" }, "This version has no KFP pipeline spec to draw.");
  }
  body.append(
    h("h1", {}, `${pname} · ${vname}`),
    h(
      "dl",
      { class: "overview" },
      h("dt", {}, "Version ID"),
      h("dd", {}, h("span", { class: "mono" }, vid)),
      h("dt", {}, "Description"),
      h("dd", {}, v.description || "—"),
      h("dt", {}, "Created"),
      h("dd", {}, fmtTime(ts(v.created_at))),
    ),
    h("h2", {}, "Graph"),
    graph,
    h("h2", {}, "Parameters"),
    defs.length
      ? h(
          "table",
          { class: "grid", id: "version-params" },
          h(
            "thead",
            {},
            h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Default"), h("th", { scope: "col" }, "Required")),
          ),
          h(
            "tbody",
            {},
            ...defs.map((d) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, d.name),
                h("td", {}, d.type),
                h("td", { class: "value" }, fmtDefault(d)),
                h("td", {}, d.default === undefined && !d.optional ? "yes" : "no"),
              ),
            ),
          ),
        )
      : h("p", {}, "None."),
    runForm({ pipelineId: id, versionId: vid, spec: v.pipeline_spec, pipelineName: pname }, alive),
  );
}
