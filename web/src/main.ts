// The Trellis web UI: hash routes, so the links the mlflow client prints
// (http://host/#/experiments/<id>/runs/<run id>) open the right page.
//   #/ and #/experiments[?q=&view=] the experiments (name search, lifecycle view)
//   #/experiments/<id>[?filter=&cols=&order=]  the runs of one experiment
//   #/runs?experiments=<id>,<id>[&filter=&cols=&order=]  runs of several
//   #/experiments/<id>/runs/<run>[?artifact=<path>]  one run (and a previewed artifact)
//   #/compare?runs=<id>,<id>[&axes=params.k,metrics.k&color=<metric>]
//                                   runs side by side, with a parallel-coordinates plot
//   #/runs/<id>                     a run found by its id alone (opens its page)
//   #/models[?q=...]                registered models
//   #/models/<name>                 one model's versions
//   #/models/<name>/versions/<v>    one version: alias, stage, tags, lineage
//   #/pipeline-runs[?new=1&pipeline=<id>&version=<vid>]
//                                   the pipeline runs (and the New run form)
//   #/pipeline-runs/<id>            one pipeline run: its DAG, live
//   #/pipelines[?q=...]             KFP pipelines; upload one
//   #/pipelines/<id>                one pipeline's versions; upload one
//   #/pipelines/<id>/versions/<vid> one version: graph, parameters, start a run
// and the links kfp.Client prints: #/runs/details/<id>,
// #/pipelines/details/<id>[/version/<vid>], #/experiments/details/<id>
//   #/lineage?node=<kind>:<id>[&depth=N]  the lineage graph around a node
//   #/audit?actor=&action=&resource=&from=&to=
//                                   the audit log and the hash chain's status
import "./style.css";
import { followColorScheme } from "./components";
import { comparePage } from "./compare";
import { experimentsPage } from "./experiments";
import { runPage } from "./run";
import { parseRunsQuery, runsPage } from "./runs";
import { modelsPage } from "./models";
import { modelPage } from "./model";
import { versionPage } from "./version";
import { pipelineRunsPage } from "./pipeline_runs";
import { pipelineRunPage } from "./pipeline_run";
import { pipelinePage, pipelinesPage } from "./pipelines";
import { pipelineVersionPage } from "./pipeline_version";
import { lineagePage } from "./lineage";
import { auditPage, runRedirect } from "./audit";
import { errorBox, h } from "./dom";

followColorScheme();
const app = document.getElementById("app") as HTMLElement;
let generation = 0;
// what the current page must stop when it is left (event streams, timers)
let leaving: (() => void)[] = [];

function route(): void {
  const gen = ++generation;
  const alive = () => gen === generation;
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  for (const f of leaving.splice(0)) f();
  app.replaceChildren();
  document.title = "Trellis";
  let page: Promise<void>;
  const onLeave = (f: () => void) => (alive() ? leaving.push(f) : f());
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "experiments")) {
    page = experimentsPage(app, alive, params.get("q") ?? "", params.get("view") ?? "active");
  } else if (parts[0] === "experiments" && parts.length === 2) {
    page = runsPage(app, alive, [parts[1]], parseRunsQuery(params), false);
  } else if (parts[0] === "runs" && parts.length === 1) {
    page = runsPage(app, alive, (params.get("experiments") ?? "").split(","), parseRunsQuery(params), true);
  } else if (parts[0] === "experiments" && parts.length === 4 && parts[2] === "runs") {
    page = runPage(app, alive, parts[1], parts[3], params.get("artifact") ?? "");
  } else if (parts.length === 1 && parts[0] === "compare") {
    page = comparePage(app, alive, (params.get("runs") ?? "").split(","), params);
  } else if (parts[0] === "runs" && parts.length === 2) {
    page = runRedirect(app, alive, parts[1]);
  } else if (parts[0] === "audit" && parts.length === 1) {
    page = auditPage(app, alive, params);
  } else if (parts[0] === "models" && parts.length === 1) {
    page = modelsPage(app, alive, params.get("q") ?? "");
  } else if (parts[0] === "models" && parts.length === 2) {
    page = modelPage(app, alive, parts[1]);
  } else if (parts[0] === "models" && parts.length === 4 && parts[2] === "versions") {
    page = versionPage(app, alive, parts[1], parts[3]);
  } else if (parts[0] === "pipeline-runs" && parts.length === 1) {
    page = pipelineRunsPage(app, alive, onLeave, params);
  } else if (parts[0] === "pipeline-runs" && parts.length === 2) {
    page = pipelineRunPage(app, alive, parts[1], onLeave);
  } else if (parts[0] === "runs" && parts.length === 3 && parts[1] === "details") {
    page = pipelineRunPage(app, alive, parts[2], onLeave);
  } else if (parts[0] === "experiments" && parts.length === 3 && parts[1] === "details") {
    page = runsPage(app, alive, [parts[2]], parseRunsQuery(params), false);
  } else if (parts[0] === "pipelines" && parts.length === 1) {
    page = pipelinesPage(app, alive, params.get("q") ?? "");
  } else if (parts[0] === "pipelines" && parts.length === 3 && parts[1] === "details") {
    page = pipelinePage(app, alive, parts[2]);
  } else if (parts[0] === "pipelines" && parts.length === 5 && parts[1] === "details" && parts[3] === "version") {
    page = pipelineVersionPage(app, alive, parts[2], parts[4]);
  } else if (parts[0] === "pipelines" && parts.length === 2) {
    page = pipelinePage(app, alive, parts[1]);
  } else if (parts[0] === "pipelines" && parts.length === 4 && parts[2] === "versions") {
    page = pipelineVersionPage(app, alive, parts[1], parts[3]);
  } else if (parts.length === 1 && parts[0] === "lineage") {
    page = lineagePage(app, alive, params.get("node") ?? "", params.get("depth") ?? "");
  } else {
    app.append(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, raw), ". "), h("a", { href: "#/" }, "Experiments"));
    page = Promise.resolve();
  }
  page.catch((e) => alive() && app.append(errorBox(`Something went wrong: ${(e as Error).message}`)));
}

window.addEventListener("hashchange", route);
route();
