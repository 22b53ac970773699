// The Trellis web UI: hash routes, so the links the mlflow client prints
// (http://host/#/experiments/<id>/runs/<run id>) open the right page.
//   #/ and #/experiments[?q=&view=] the experiments (name search, lifecycle view)
//   #/experiments/<id>[?filter=&cols=&order=]  the runs of one experiment
//   #/runs?experiments=<id>,<id>[&filter=&cols=&order=]  runs of several
//   #/experiments/<id>/runs/<run>   one run
//   #/compare?runs=<id>,<id>        runs side by side
//   #/models[?q=...]                registered models
//   #/models/<name>                 one model's versions
//   #/models/<name>/versions/<v>    one version: alias, stage, tags, lineage
//   #/pipeline-runs                 the pipeline runs
//   #/pipeline-runs/<id>            one pipeline run: its DAG, live
import "./style.css";
import { comparePage } from "./compare";
import { experimentsPage } from "./experiments";
import { runPage } from "./run";
import { parseRunsQuery, runsPage } from "./runs";
import { modelsPage } from "./models";
import { modelPage } from "./model";
import { versionPage } from "./version";
import { pipelineRunsPage } from "./pipeline_runs";
import { pipelineRunPage } from "./pipeline_run";
import { errorBox, h } from "./dom";

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
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "experiments")) {
    page = experimentsPage(app, alive, params.get("q") ?? "", params.get("view") ?? "active");
  } else if (parts[0] === "experiments" && parts.length === 2) {
    page = runsPage(app, alive, [parts[1]], parseRunsQuery(params), false);
  } else if (parts[0] === "runs" && parts.length === 1) {
    page = runsPage(app, alive, (params.get("experiments") ?? "").split(","), parseRunsQuery(params), true);
  } else if (parts[0] === "experiments" && parts.length === 4 && parts[2] === "runs") {
    page = runPage(app, alive, parts[1], parts[3]);
  } else if (parts.length === 1 && parts[0] === "compare") {
    page = comparePage(app, alive, (params.get("runs") ?? "").split(","));
  } else if (parts[0] === "models" && parts.length === 1) {
    page = modelsPage(app, alive, params.get("q") ?? "");
  } else if (parts[0] === "models" && parts.length === 2) {
    page = modelPage(app, alive, parts[1]);
  } else if (parts[0] === "models" && parts.length === 4 && parts[2] === "versions") {
    page = versionPage(app, alive, parts[1], parts[3]);
  } else if (parts[0] === "pipeline-runs" && parts.length === 1) {
    page = pipelineRunsPage(app, alive);
  } else if (parts[0] === "pipeline-runs" && parts.length === 2) {
    page = pipelineRunPage(app, alive, parts[1], (f) => (alive() ? leaving.push(f) : f()));
  } else {
    app.append(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, raw), ". "), h("a", { href: "#/" }, "Experiments"));
    page = Promise.resolve();
  }
  page.catch((e) => alive() && app.append(errorBox(`Something went wrong: ${(e as Error).message}`)));
}

window.addEventListener("hashchange", route);
route();
