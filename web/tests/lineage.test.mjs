// Browser tests of a run's artifacts browser, the run's lineage and the
// lineage graph page, against a real `trellis server` filled by the official
// mlflow client: a "prep" run storing a CSV, and a "train" run that logs that
// CSV as its input dataset (by its proxy URL), logs text, JSON, CSV, PNG, SVG,
// HTML (with a script that would mark the page if it ran), a large text file
// in nested folders, and a scikit-learn model registered as "lin-clf".
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { here, kfpPython, shots, startServer, fill, openBrowser, axe as axeOn, screenshots as shotsOf } from "./harness.mjs";

let srv, base, browser, page, fx;
let consoleErrors = [];

const FILL = `
import base64, json, os, tempfile, warnings
warnings.filterwarnings("ignore")
import mlflow, pandas as pd
from sklearn.linear_model import LogisticRegression
tracking = os.environ["MLFLOW_TRACKING_URI"]
mlflow.set_experiment("lineage-prep")
with mlflow.start_run(run_name="prep") as p:
    mlflow.log_text("a,b\\n1,2\\n3,4\\n", "data/train.csv")
    url = f"{tracking}/api/2.0/mlflow-artifacts/artifacts/{p.info.experiment_id}/{p.info.run_id}/artifacts/data/train.csv"
mlflow.set_experiment("lineage-ui")
with mlflow.start_run(run_name="train") as r:
    mlflow.log_param("C", "1.0")
    mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"a": [1, 3], "b": [2, 4]}), source=url, name="train-data"), context="training")
    mlflow.log_text("hello lineage\\n" + "line\\n" * 10, "notes/readme.txt")
    mlflow.log_dict({"alpha": 1, "nested": {"beta": [1, 2, 3]}}, "config/params.json")
    mlflow.log_text("flavors:\\n  sklearn: {}\\n", "config/MLmodel")
    mlflow.log_text("city,count\\nOslo,3\\n\\"Bergen, west\\",5\\n", "data/table.csv")
    mlflow.log_text("<!doctype html><html><head><title>Report</title></head><body><h1 id='t'>Report title</h1>"
                    "<script>document.getElementById('t').textContent = 'EXECUTED'; try { parent.document.body.dataset.xss = '1'; } catch (e) {}</script>"
                    "</body></html>", "reports/report.html")
    mlflow.log_text("<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'><script>alert(1)</script><rect width='40' height='20' fill='teal'/></svg>", "plots/shape.svg")
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "plot.png"), "wb") as f:
        f.write(base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg=="))
    mlflow.log_artifact(os.path.join(d, "plot.png"), "plots/deep/er")
    mlflow.log_text("x" * 300000, "big/large.txt")
    m = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])
    mlflow.sklearn.log_model(m, name="model", registered_model_name="lin-clf")
print(json.dumps({"prep_run_id": p.info.run_id, "run_id": r.info.run_id, "experiment_id": r.info.experiment_id}))
`;

before(async () => {
  srv = await startServer();
  base = srv.base;
  fx = fill(base, srv.tmp, FILL);
  const b = await openBrowser();
  browser = b.browser;
  page = b.page;
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

const runUrl = () => `${base}/#/experiments/${fx.experiment_id}/runs/${fx.run_id}`;
const file = (p) => page.locator(`#artifact-tree button.art-file[data-path="${p}"]`);
const dir = (p) => page.locator(`#artifact-tree button.art-dir[data-path="${p}"]`);
// Chromium reports the script it refused to run in the sandboxed preview as a
// console error: that report is the expected outcome, anything else is not.
const blocked = (e) => /Blocked script execution in 'about:srcdoc'.*sandboxed.*allow-scripts/.test(e);

test("the server sends HTML and SVG artifacts as sandboxed attachments, and honours Range", async () => {
  for (const [p, type] of [["reports/report.html", /text\/html/], ["plots/shape.svg", /image\/svg\+xml/]]) {
    const r = await fetch(`${base}/get-artifact?run_id=${fx.run_id}&path=${p}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), type);
    assert.equal(r.headers.get("content-security-policy"), "sandbox");
    assert.match(r.headers.get("content-disposition"), /^attachment/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  }
  const r = await fetch(`${base}/get-artifact?run_id=${fx.run_id}&path=big/large.txt`, { headers: { Range: "bytes=0-9" } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get("content-range"), "bytes 0-9/300000");
  assert.equal(await r.text(), "xxxxxxxxxx");
});

test("artifacts: folders open lazily, each type previews", async () => {
  consoleErrors = [];
  const lists = [];
  page.on("request", (q) => q.url().includes("/artifacts/list") && lists.push(new URL(q.url()).searchParams.get("path") ?? ""));
  await page.goto(runUrl());
  await dir("config").waitFor();
  // only the top level was listed
  assert.deepEqual(lists, [""]);
  const top = await page.locator("#artifact-tree > ul > li > button").allInnerTexts();
  for (const d of ["big/", "config/", "data/", "notes/", "plots/", "reports/"]) assert.ok(top.some((t) => t.includes(d)), d);
  assert.equal(await dir("config").getAttribute("aria-expanded"), "false");

  // JSON, pretty-printed
  await dir("config").click();
  await file("config/params.json").click();
  await page.locator("#preview-text").waitFor();
  assert.equal(await page.locator("#preview-text").innerText(), JSON.stringify({ alpha: 1, nested: { beta: [1, 2, 3] } }, null, 2));
  assert.ok(lists.includes("config"));
  assert.match(await file("config/params.json").innerText(), /81 B/);
  // the selection is in the URL
  assert.match(page.url(), /\?artifact=config%2Fparams\.json$/);

  // MLmodel (YAML) as text
  await file("config/MLmodel").click();
  await page.waitForFunction(() => document.querySelector("#artifact-preview")?.dataset.path === "config/MLmodel" && document.querySelector("#preview-text"));
  assert.match(await page.locator("#preview-text").innerText(), /^flavors:\n {2}sklearn: \{\}\n?$/);

  // CSV as a table (a quoted cell with a comma stays one cell)
  await dir("data").click();
  await file("data/table.csv").click();
  await page.locator("#preview-table").waitFor();
  assert.deepEqual(await page.locator("#preview-table thead th").allInnerTexts(), ["city", "count"]);
  assert.deepEqual(await page.locator("#preview-table tbody tr:nth-child(2) td").allInnerTexts(), ["Bergen, west", "5"]);

  // text
  await dir("notes").click();
  await file("notes/readme.txt").click();
  await page.waitForFunction(() => document.querySelector("#artifact-preview")?.dataset.path === "notes/readme.txt" && document.querySelector("#preview-text"));
  assert.match(await page.locator("#preview-text").innerText(), /^hello lineage\nline\n/);
  assert.equal(await page.locator("#preview-note").count(), 0);

  // a large text file: the first 64 KB only (one Range request), with a note
  const ranges = [];
  page.on("request", (q) => q.url().includes("large.txt") && ranges.push(q.headers()["range"]));
  await dir("big").click();
  await file("big/large.txt").click();
  await page.locator("#preview-note").waitFor();
  assert.match(await page.locator("#preview-note").innerText(), /first 64\.0 KB of 293\.0 KB \(300,000 bytes\)/);
  assert.equal((await page.locator("#preview-text").innerText()).length, 65536);
  assert.deepEqual(ranges, ["bytes=0-65535"]);

  // nested folders and images: PNG and SVG, as <img>, loaded
  await dir("plots").click();
  await dir("plots/deep").click();
  await dir("plots/deep/er").click();
  await file("plots/deep/er/plot.png").click();
  await page.waitForFunction(() => document.querySelector("#preview-image")?.complete && document.querySelector("#preview-image").naturalWidth > 0);
  assert.equal(await page.locator("#preview-image").evaluate((i) => i.naturalWidth), 4);
  await file("plots/shape.svg").click();
  await page.waitForFunction(() => document.querySelector("#preview-image")?.src.includes("shape.svg") && document.querySelector("#preview-image").naturalWidth > 0);
  assert.equal(await page.locator("#preview-image").evaluate((i) => i.naturalWidth), 40);
  assert.equal(await page.locator("#artifact-preview svg").count(), 0); // never inlined

  // download links: same origin, the file's name
  const dl = page.locator("#preview-download");
  assert.equal(await dl.getAttribute("download"), "shape.svg");
  assert.match(await dl.getAttribute("href"), /^\/get-artifact\?run_id=/);

  assert.deepEqual(consoleErrors, []);
  await axeOn(page, "run-artifacts");
});

test("HTML previews in a sandboxed iframe whose script does not run", async () => {
  consoleErrors = [];
  await page.goto("about:blank");
  // a fresh load of the URL opens the folders down to the file and previews it
  await page.goto(`${runUrl()}?artifact=reports%2Freport.html`);
  const frame = page.locator("#preview-frame");
  await frame.waitFor();
  assert.equal(await dir("reports").getAttribute("aria-expanded"), "true");
  assert.equal(await frame.getAttribute("sandbox"), ""); // no allow-scripts, no allow-same-origin
  const child = await (await frame.elementHandle()).contentFrame();
  await child.waitForSelector("#t");
  await page.waitForTimeout(300);
  assert.equal(await child.locator("#t").innerText(), "Report title");
  assert.equal(await page.evaluate(() => document.body.dataset.xss ?? null), null);
  assert.equal(await page.evaluate(() => { try { return document.querySelector("#preview-frame").contentDocument; } catch { return "threw"; } }), null); // opaque origin
  assert.ok(consoleErrors.length >= 1 && consoleErrors.every(blocked), consoleErrors.join("\n"));
  // full-page screenshots leave the sandboxed frame (another process) blank: the viewport shows it
  await frame.scrollIntoViewIfNeeded();
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(shots, `run-artifacts-html-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
  // and the page with a table previewed
  await dir("data").click();
  await file("data/table.csv").click();
  await page.locator("#preview-table").waitFor();
  await screenshots("run-artifacts");
});

test("the HTML preview works under the server's CSP too (no bypass)", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await ctx.newPage();
  const errs = [];
  p.on("console", (m) => m.type() === "error" && errs.push(m.text()));
  p.on("pageerror", (e) => errs.push(String(e)));
  try {
    await p.goto(`${runUrl()}?artifact=reports%2Freport.html`);
    const frame = p.locator("#preview-frame");
    await frame.waitFor();
    const child = await (await frame.elementHandle()).contentFrame();
    await child.waitForSelector("#t");
    assert.equal(await child.locator("#t").innerText(), "Report title");
    assert.ok(errs.every(blocked), errs.join("\n"));
  } finally {
    await ctx.close();
  }
});

test("the run's lineage lists its input, the upstream run and the model version", async () => {
  consoleErrors = [];
  await page.goto(runUrl());
  const versions = page.locator("#run-lineage-versions");
  await versions.waitFor();
  assert.equal(await versions.locator("a", { hasText: "lin-clf v1" }).getAttribute("href"), "#/models/lin-clf/versions/1");
  assert.match(await page.locator("#run-lineage-datasets").innerText(), /train-data/);
  assert.match(await page.locator("#run-lineage-consumed").innerText(), /train\.csv/);
  const up = page.locator("#run-lineage-upstream-runs a", { hasText: "prep" });
  assert.match(await up.getAttribute("href"), new RegExp(`/runs/${fx.prep_run_id}$`));
  assert.match(await page.locator("#run-lineage-logged-models").innerText(), /model/);
  assert.equal(await page.locator("#open-lineage-graph").getAttribute("href"), `#/lineage?node=run%3A${fx.run_id}`);
  assert.deepEqual(consoleErrors, []);
});

const count = () => page.locator("#lineage-graph").getAttribute("data-nodes").then(Number);

test("lineage graph: from the model version, expand upstream to the prep run and its artifact", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/models/lin-clf/versions/1`);
  await page.locator("#lineage-runs").waitFor(); // the version page keeps its lists
  await page.locator("#open-lineage-graph").click();
  await page.locator("#lineage-graph").waitFor();
  assert.equal(new URL(page.url()).hash, "#/lineage?node=model_version%3Alin-clf%2F1");
  const mv = page.locator('[data-node="model_version:lin-clf/1"]');
  assert.match(await mv.getAttribute("class"), /selected/);
  // depth 1: the version, its run, its logged model and the model's files
  const n0 = await count();
  assert.ok(n0 >= 4, String(n0));
  const runNode = page.locator(`[data-node="run:${fx.run_id}"]`);
  assert.equal(await runNode.getAttribute("data-kind"), "run");
  assert.ok((await page.locator('#lineage-graph [data-kind="artifact"]').count()) >= 1);
  assert.ok((await page.locator('#lineage-graph .lin-edge-label', { hasText: "registered_from" }).count()) >= 3);

  // keyboard: focus the run's node, Enter selects it
  await runNode.focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction((id) => document.querySelector("#lineage-selected")?.textContent?.includes("train") && location.hash.includes(encodeURIComponent(id)), `run:${fx.run_id}`);
  assert.equal(await page.locator("#lineage-node-link").getAttribute("href"), `#/experiments/${fx.experiment_id}/runs/${fx.run_id}`);

  // upstream of the run: its input dataset
  await page.locator("#expand-upstream").click();
  await page.waitForFunction((n) => Number(document.querySelector("#lineage-graph")?.dataset.nodes) > n, n0);
  const n1 = await count();
  const ds = page.locator('#lineage-graph [data-kind="dataset"]');
  assert.equal(await ds.count(), 1);
  assert.ok((await page.locator('#lineage-graph .lin-edge-label', { hasText: "consumed" }).count()) >= 1);
  // upstream of the dataset: the stored file with its content
  await ds.click();
  await page.locator("#expand-upstream").click();
  await page.waitForFunction((n) => Number(document.querySelector("#lineage-graph")?.dataset.nodes) > n, n1);
  const n2 = await count();
  const csv = page.locator("#lineage-graph .lin-node", { hasText: "train.csv" });
  assert.equal(await csv.getAttribute("data-kind"), "artifact");
  // upstream of the file: the prep run that produced it
  await csv.click();
  await page.locator("#expand-upstream").click();
  const prep = page.locator(`[data-node="run:${fx.prep_run_id}"]`);
  await prep.waitFor();
  assert.ok((await count()) > n2);
  assert.ok((await page.locator('#lineage-graph .lin-edge-label', { hasText: "produced" }).count()) >= 1);
  await prep.click();
  assert.match(await page.locator("#lineage-panel").innerText(), /prep/);
  assert.deepEqual(consoleErrors, []);
  await axeOn(page, "lineage");
  await screenshots("lineage");

  // the URL names the selected node: a fresh load centres on it
  await page.goto("about:blank");
  await page.goto(`${base}/#/lineage?node=${encodeURIComponent(`run:${fx.prep_run_id}`)}&depth=2`);
  await page.locator("#lineage-graph").waitFor();
  assert.match(await page.locator(`[data-node="run:${fx.prep_run_id}"]`).getAttribute("class"), /selected/);
  assert.equal(await page.locator("#lineage-depth").inputValue(), "2");
  assert.ok((await count()) >= 3); // the run, its file, the dataset (same content)
  assert.deepEqual(consoleErrors, []);
});

test("lineage graph: a malformed node shows the server's error", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/lineage?node=bogus`);
  const err = page.locator(".error");
  await err.waitFor();
  assert.match(await err.innerText(), /lineage node 'bogus' is not '<kind>:<id>'/);
  await axeOn(page, "lineage-error");
});

test("a pipeline task's run: its task and pipeline run linked; the task's graph", async () => {
  const spec = JSON.parse(
    execFileSync(kfpPython, [join(here, "pipeline_fixture.py")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
  );
  const r = await fetch(`${base}/apis/v2beta1/runs`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ display_name: "lin-pipeline", pipeline_spec: spec, runtime_config: { parameters: { name: "lin" } } }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const prId = (await r.json()).run_id;
  let run;
  for (let i = 0; i < 240; i++) {
    run = (await (await fetch(`${base}/api/2.0/trellis/pipelines/runs/get?run_id=${prId}`)).json()).run;
    if (["SUCCEEDED", "FAILED", "CANCELED"].includes(run.state) && run.tasks?.["slow-echo"]?.mlflow_run_id) break;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  assert.equal(run.state, "SUCCEEDED", JSON.stringify(run));
  const mlflowRun = run.tasks["slow-echo"].mlflow_run_id;

  consoleErrors = [];
  await page.goto(`${base}/#/pipeline-runs/${prId}`);
  await page.locator('svg.dag .dag-node[data-task="slow-echo"]').click();
  const taskLink = page.locator("#task-lineage-link");
  assert.equal(await taskLink.getAttribute("href"), `#/lineage?node=${encodeURIComponent(`task:${prId}/slow-echo`)}`);
  await page.locator("#task-mlflow-link").click();
  const task = page.locator("#run-lineage-task");
  await task.waitFor();
  assert.equal(await task.locator("a", { hasText: "slow-echo" }).getAttribute("href"), `#/pipeline-runs/${prId}`);
  assert.equal(await page.locator("#run-lineage-pipeline-runs a").first().getAttribute("href"), `#/pipeline-runs/${prId}`);

  await page.goto(`${base}/#/pipeline-runs/${prId}`);
  await page.locator('svg.dag .dag-node[data-task="slow-echo"]').click();
  await page.locator("#task-lineage-link").click();
  await page.locator("#lineage-graph").waitFor();
  const sel = page.locator(`[data-node="task:${prId}/slow-echo"]`);
  assert.match(await sel.getAttribute("class"), /selected/);
  assert.equal(await sel.getAttribute("data-kind"), "task");
  assert.equal(await page.locator(`[data-node="run:${mlflowRun}"]`).getAttribute("data-kind"), "run");
  assert.equal(await page.locator(`[data-node="pipeline_run:${prId}"]`).getAttribute("data-kind"), "pipeline_run");
  assert.ok((await page.locator('#lineage-graph .lin-edge-label', { hasText: "tracked_as" }).count()) >= 1);
  assert.equal(await page.locator("#lineage-node-link").getAttribute("href"), `#/pipeline-runs/${prId}`);
  await axeOn(page, "lineage-task");
  assert.deepEqual(consoleErrors, []);
});

async function screenshots(name) {
  await shotsOf(page, name);
}
