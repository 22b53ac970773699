// Browser tests of the web UI: a real `trellis server` (TRELLIS_BIN) on a
// free port with a fresh store, filled by the official mlflow client
// (MLFLOW_PYTHON, default ../.venv/mlflow3/bin/python), driven by
// playwright-core on Debian's chromium (/usr/bin/chromium, or CHROMIUM).
// Pipeline runs are compiled by the official kfp SDK (KFP_PYTHON, default
// ../.venv/kfp/bin/python, also the server's --step-python) and run by the
// server as the step user, so the server's folders are under /tmp, mode 0755.
// Each page is checked with axe-core (no serious or critical violations) and
// screenshotted in light and dark under build/ui-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { here, kfpPython, python, startServer, fill, openBrowser, axe as axeOn, screenshots as shotsOf } from "./harness.mjs";

let srv, base, browser, page, fixture, pipelineSpec;
let consoleErrors = [];

const FILL = `
import json, time
import mlflow
from mlflow.entities import Metric, Param
client = mlflow.MlflowClient()
eid = client.create_experiment("ui-test")
ids = []
now = int(time.time() * 1000)
for i in range(30):
    r = client.create_run(eid, run_name=f"run-{i:02d}", start_time=now - (30 - i) * 60000)
    client.log_batch(r.info.run_id,
        metrics=[Metric("acc", i / 29, now, 0), Metric("loss", 1 - i / 29, now, 0)],
        params=[Param("lr", str(0.01 * (i % 3 + 1))), Param("depth", str(i % 5))])
    client.set_tag(r.info.run_id, "team", "vision")
    client.set_terminated(r.info.run_id, "FINISHED" if i % 7 else "FAILED", end_time=now - (30 - i) * 60000 + 1500 * i)
    ids.append(r.info.run_id)
# two runs with 50-step curves, for the charts and the comparison
cid = client.create_experiment("ui-charts")
cids = []
for j, lr in enumerate(["0.1", "0.2"]):
    r = client.create_run(cid, run_name=f"curve-{j}", start_time=now)
    client.log_batch(r.info.run_id,
        metrics=[Metric("loss", 2.0 / (1 + s * (j + 1) * 0.2) + 0.01 * (s % 3), now + s * 500, s) for s in range(50)]
              + [Metric("acc", min(1.0, s / (60 - 10 * j)), now + s * 500, s) for s in range(50)],
        params=[Param("lr", lr), Param("optimizer", "adam")])
    client.set_terminated(r.info.run_id, "FINISHED", end_time=now + 25000)
    cids.append(r.info.run_id)

# the model registry: "clf" version 1 and 2, each from a run logging a scikit-learn model
import warnings
warnings.filterwarnings("ignore")
from sklearn.linear_model import LogisticRegression
mlflow.set_experiment("ui-registry")
reg_runs = []
for i in range(2):
    with mlflow.start_run(run_name=f"train-{i}") as r:
        mlflow.log_param("C", str(1.0 + i))
        m = LogisticRegression(C=1.0 + i).fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])
        mlflow.sklearn.log_model(m, name="model", registered_model_name="clf")
        reg_runs.append(r.info.run_id)
print(json.dumps({"experiment_id": eid, "run_ids": ids, "chart_experiment_id": cid, "chart_run_ids": cids, "reg_experiment_id": r.info.experiment_id, "reg_run_ids": reg_runs}))
`;

before(async () => {
  pipelineSpec = JSON.parse(
    execFileSync(kfpPython, [join(here, "pipeline_fixture.py")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
  );
  srv = await startServer();
  base = srv.base;
  fixture = fill(base, srv.tmp, FILL);
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

const axe = (name) => axeOn(page, name);
const screenshots = (name) => shotsOf(page, name);

test("the UI's files are served with a CSP and no remote origins", async () => {
  const r = await fetch(base + "/");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-security-policy"), /default-src 'self'/);
  const html = await r.text();
  assert.doesNotMatch(html, /https?:\/\//);
});

test("experiments page lists the experiment, without console errors", async () => {
  consoleErrors = [];
  await page.goto(base + "/");
  await page.getByRole("link", { name: "ui-test" }).waitFor();
  assert.ok(await page.getByRole("link", { name: "Default" }).isVisible());
  await axe("experiments");
  await screenshots("experiments");
  assert.deepEqual(consoleErrors, []);
});

test("runs page shows all 30 runs with params and metrics", async () => {
  consoleErrors = [];
  await page.getByRole("link", { name: "ui-test" }).click();
  await page.locator("#runs-table tbody tr.run-row").first().waitFor();
  // a virtual table: all 30 loaded, the rows in view in the DOM
  assert.equal(await page.locator("#runs-table").getAttribute("data-loaded"), "30");
  const head = await page.locator("#runs-table thead").innerText();
  for (const col of ["Run", "Status", "Started", "Duration", "lr", "acc"]) assert.ok(head.includes(col), col);
  assert.equal(await page.locator("h1").innerText(), "ui-test");
  await axe("runs");
  await screenshots("runs");
  assert.deepEqual(consoleErrors, []);
});

test("paging: page_token brings the next pages as the table scrolls until all 30 are loaded", async () => {
  // 10 runs a page instead of 100/1000, so 30 runs take three pages (the
  // table asks for the next page when its view nears the end of the loaded runs)
  const tokens = [];
  await page.route("**/api/2.0/mlflow/runs/search", (route) => {
    const body = JSON.parse(route.request().postData() || "{}");
    if (body.page_token) tokens.push(body.page_token);
    route.continue({ postData: JSON.stringify({ ...body, max_results: 10 }) });
  });
  try {
    await page.goto("about:blank"); // a fresh load, not a hash change to the same page
    await page.goto(`${base}/#/experiments/${fixture.experiment_id}`);
    const table = page.locator("#runs-table");
    await table.locator("tbody tr.run-row").first().waitFor();
    for (let i = 0; i < 20 && (await table.getAttribute("data-complete")) !== "true"; i++) {
      await page.locator("#runs-scroller").evaluate((e) => (e.scrollTop = e.scrollHeight));
      await page.waitForTimeout(100);
    }
    assert.equal(await table.getAttribute("data-loaded"), "30");
    assert.ok(tokens.length >= 2, `requests with a page_token: ${tokens.length}`);
    // the last page may have arrived while the view was still above its rows
    // (only the rows in view are drawn): scroll to the end to see the last run
    await page.locator("#runs-scroller").evaluate((e) => (e.scrollTop = e.scrollHeight));
    await table.locator("tbody tr.run-row td.run-name a", { hasText: "run-00" }).waitFor({ timeout: 5000 });
    const names = await page.locator("#runs-table tbody tr.run-row td.run-name a").allInnerTexts();
    assert.ok(names.includes("run-00"), names.join(","));
    assert.equal(new Set(names).size, names.length);
  } finally {
    await page.unroute("**/api/2.0/mlflow/runs/search");
  }
});

test("a filter narrows the table", async () => {
  await page.locator("#run-filter").fill("metrics.acc > 0.5");
  await page.locator("#run-filter").press("Enter");
  await page.waitForFunction(() => document.querySelector("#runs-table")?.getAttribute("data-loaded") === "15");
  assert.match(location_hash(await page.url()), /filter=metrics\.acc/);
  await screenshots("runs-filtered");
});

function location_hash(url) {
  return decodeURIComponent(new URL(url).hash);
}

test("a bad filter shows the server's error inline", async () => {
  await page.locator("#run-filter").fill("metrics.acc >>> nope");
  await page.getByRole("button", { name: "Search" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const text = await alert.innerText();
  assert.match(text, /Search failed: .+/);
  assert.ok(text.length > "Search failed: ".length + 5);
  await axe("runs-bad-filter");
  await screenshots("runs-bad-filter");
});

test("run page shows overview, params, metrics and tags", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/experiments/${fixture.experiment_id}`);
  await page.getByRole("link", { name: "run-29" }).click();
  await page.locator("#params-table").waitFor();
  const params = await page.locator("#params-table").innerText();
  assert.match(params, /depth/);
  assert.match(params, /lr/);
  assert.match(await page.locator("#metrics-table").innerText(), /acc/);
  assert.match(await page.locator("#tags-table").innerText(), /team\s+vision/);
  await axe("run");
  await screenshots("run");
  assert.deepEqual(consoleErrors, []);
});

test("the URL the mlflow client prints opens the run directly", async () => {
  consoleErrors = [];
  const id = fixture.run_ids[0];
  await page.goto(`${base}/#/experiments/${fixture.experiment_id}/runs/${id}`);
  await page.locator("h1", { hasText: "run-00" }).waitFor();
  assert.match(await page.locator("dl.overview").innerText(), new RegExp(id));
  assert.match(await page.locator("dl.overview").innerText(), /FAILED/);
  assert.deepEqual(consoleErrors, []);
});

test("keyboard: the filter and links are reachable with Tab", async () => {
  await page.goto(`${base}/#/experiments/${fixture.experiment_id}`);
  await page.locator("#runs-table").waitFor();
  const seen = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));
  }
  assert.ok(seen.includes("run-filter"), seen.join(","));
});

const chart = (key) => page.locator(`#metric-charts figure.chart[data-metric="${key}"]`);

test("run page: one uPlot chart per metric, with step/time, smoothing and log scale", async () => {
  consoleErrors = [];
  const [a] = fixture.chart_run_ids;
  await page.goto(`${base}/#/experiments/${fixture.chart_experiment_id}/runs/${a}`);
  const loss = chart("loss");
  await loss.and(page.locator("[data-points]")).waitFor();
  assert.equal(await page.locator("#metric-charts figure.chart").count(), 2); // acc and loss
  assert.equal(await loss.getAttribute("data-points"), "50");
  assert.equal(await loss.getAttribute("data-series"), "1");
  assert.equal(await loss.getAttribute("data-x"), "step");
  assert.equal(await loss.getAttribute("data-x-max"), "49");
  assert.equal(await loss.locator("canvas").count(), 1);
  assert.match(await loss.innerText(), /50 points, last .* at step 49/);
  await axe("run-metrics");
  await screenshots("run-metrics");

  // log scale, with the keyboard
  await page.getByRole("switch", { name: "Log scale (y)" }).focus(); // an sl-switch: its label is slotted text
  await page.keyboard.press("Space");
  await page.waitForFunction(() => document.querySelector('figure[data-metric="loss"]')?.dataset.log === "true");
  assert.equal(await loss.getAttribute("data-points"), "50"); // every loss value is > 0
  // acc starts at 0: that point cannot be drawn on a log scale
  assert.equal(await chart("acc").getAttribute("data-points"), "49");

  // x = relative time: 50 points logged 0.5 s apart
  await page.getByLabel("Relative time").check();
  await page.waitForFunction(() => document.querySelector('figure[data-metric="loss"]')?.dataset.x === "time");
  assert.equal(await loss.getAttribute("data-x-max"), "24.5");
  assert.match(await loss.locator(".u-legend").innerText(), /seconds/); // the x series' label
  await page.getByLabel("Step", { exact: true }).check();
  await page.waitForFunction(() => document.querySelector('figure[data-metric="loss"]')?.dataset.x === "step");

  // smoothing with the arrow keys: loss falls, so its smoothed end lies above the raw one
  const rawLast = Number(await loss.getAttribute("data-last"));
  const slider = page.getByLabel("Smoothing");
  await slider.focus();
  for (let i = 0; i < 60; i++) await page.keyboard.press("ArrowRight");
  assert.equal(await slider.inputValue(), "0.6");
  assert.equal(await page.locator("#metric-charts output").innerText(), "0.60");
  assert.equal(await loss.getAttribute("data-points"), "50");
  assert.ok(Number(await loss.getAttribute("data-last")) > rawLast, "smoothed");
  assert.deepEqual(consoleErrors, []);
});

test("compare: select 2 runs, a diff table marking the differing param, overlaid charts", async () => {
  consoleErrors = [];
  await page.goto("about:blank");
  await page.goto(`${base}/#/experiments/${fixture.chart_experiment_id}`);
  await page.locator("#runs-table tbody tr.run-row").first().waitFor();
  const compare = page.getByRole("button", { name: "Compare" });
  assert.ok(await compare.isDisabled());
  await page.getByLabel("Select curve-0").check();
  assert.ok(await compare.isDisabled());
  await page.getByLabel("Select curve-1").check();
  await compare.click();
  await page.locator("#diff-table").waitFor();
  const hash = location_hash(page.url());
  assert.match(hash, /^#\/compare\?runs=/);
  assert.deepEqual(hash.split("=")[1].split(",").sort(), [...fixture.chart_run_ids].sort());

  const lr = page.locator('#diff-table tr[data-key="params.lr"]');
  assert.match(await lr.getAttribute("class"), /differs/);
  assert.match(await lr.innerText(), /≠ differs/);
  assert.match(await lr.innerText(), /0\.1\s+0\.2|0\.2\s+0\.1/);
  const opt = page.locator('#diff-table tr[data-key="params.optimizer"]');
  assert.match(await opt.getAttribute("class"), /same/);
  assert.doesNotMatch(await opt.innerText(), /differs/);
  const bg = (l) => l.evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(await bg(lr), await bg(opt));

  const loss = page.locator('#compare-charts figure.chart[data-metric="loss"]');
  await loss.and(page.locator("[data-points]")).waitFor();
  assert.equal(await loss.getAttribute("data-series"), "2");
  assert.equal(await loss.getAttribute("data-points"), "50,50");
  assert.match(await loss.innerText(), /curve-0/);
  assert.match(await loss.innerText(), /curve-1/);
  await axe("compare");
  await screenshots("compare");

  // the URL is shareable: a fresh load shows the same comparison
  const url = page.url();
  await page.goto("about:blank");
  await page.goto(url);
  await page.locator('#diff-table tr[data-key="params.lr"].differs').waitFor();
  await page.locator('#compare-charts figure.chart[data-metric="acc"][data-series="2"]').waitFor();
  // only the rows that differ
  await page.getByLabel("Show only rows that differ").check();
  assert.ok(!(await opt.isVisible()));
  assert.ok(await lr.isVisible());
  assert.deepEqual(consoleErrors, []);
});

test("the charts draw under the server's CSP (no inline styles or scripts refused)", async () => {
  const strict = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const p = await strict.newPage();
    const errors = [];
    p.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    p.on("pageerror", (e) => errors.push(String(e)));
    await p.goto(`${base}/#/compare?runs=${fixture.chart_run_ids.join(",")}`);
    await p.locator('#compare-charts figure.chart[data-metric="loss"][data-series="2"]').waitFor();
    await p.locator("sl-switch.log-scale").click(); // an sl-switch: a click on it (its input lies under its thumb)
    await p.locator('#compare-charts figure.chart[data-metric="loss"][data-log="true"]').waitFor();
    assert.ok(await p.getByRole("switch", { name: "Log scale (y)" }).isChecked());
    assert.deepEqual(errors, []);
  } finally {
    await strict.close();
  }
});

// Runs Python with the official mlflow client against the test server.
function client(code) {
  return execFileSync(python, ["-c", "import mlflow\nc = mlflow.MlflowClient()\n" + code], {
    env: { ...process.env, MLFLOW_TRACKING_URI: base },
    encoding: "utf8",
  }).trim();
}

test("models page lists the registered model, its latest version, and searches by name", async () => {
  consoleErrors = [];
  await page.goto(base + "/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Models" }).click();
  await page.locator("#models-table").waitFor();
  const row = page.locator("#models-table tbody tr", { hasText: "clf" });
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /Version 2/);
  await axe("models");
  await screenshots("models");
  await page.locator("#model-search").fill("zzz");
  await page.locator("#model-search").press("Enter");
  await page.getByText("No model name contains").waitFor();
  await page.locator("#model-search").fill("CL");
  await page.locator("#model-search").press("Enter");
  await page.locator("#models-table tbody tr", { hasText: "clf" }).waitFor();
  assert.match(location_hash(page.url()), /q=CL/);
  assert.deepEqual(consoleErrors, []);
});

test("model page lists both versions with their source runs", async () => {
  consoleErrors = [];
  await page.getByRole("link", { name: "clf", exact: true }).click();
  const rows = page.locator("#versions-table tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 2);
  await page.getByRole("link", { name: "train-0" }).waitFor();
  assert.equal(
    await page.getByRole("link", { name: "train-0" }).getAttribute("href"),
    `#/experiments/${fixture.reg_experiment_id}/runs/${fixture.reg_run_ids[0]}`,
  );
  await axe("model");
  assert.deepEqual(consoleErrors, []);
});

test("version page: source run, lineage, set alias, transition stage, set tag", async () => {
  consoleErrors = [];
  await page.getByRole("link", { name: "Version 1" }).click();
  const overview = page.locator("#version-overview");
  await overview.waitFor();
  await overview.getByRole("link", { name: "train-0" }).waitFor();
  // lineage: the run behind the version, linked to its page
  const lineageRun = page.locator("#lineage-runs").getByRole("link", { name: new RegExp(fixture.reg_run_ids[0]) });
  await lineageRun.waitFor();
  assert.equal(await lineageRun.getAttribute("href"), `#/experiments/${fixture.reg_experiment_id}/runs/${fixture.reg_run_ids[0]}`);
  assert.match(await page.locator("#lineage-runs li", { hasText: fixture.reg_run_ids[0] }).innerText(), /registered from this run/);

  // a reserved alias: the server's error inline
  await page.locator("#alias-name").fill("latest");
  await page.getByRole("button", { name: "Set alias" }).click();
  await page.getByRole("alert").filter({ hasText: /Set alias failed: .*reserved/ }).waitFor();
  consoleErrors = []; // the browser logs the 400 itself

  await page.locator("#alias-name").fill("champion");
  await page.getByRole("button", { name: "Set alias" }).click();
  await page.locator("#alias-list", { hasText: "@champion" }).waitFor();
  assert.equal(client("print(c.get_model_version_by_alias('clf', 'champion').version)"), "1");

  await page.locator("#stage-select").selectOption("Staging");
  await page.getByRole("button", { name: "Transition" }).click();
  await page.getByText("Current stage: Staging").waitFor();
  await page.reload();
  await page.locator("#version-overview", { hasText: "Staging" }).waitFor();
  assert.equal(client("print(c.get_model_version('clf', '1').current_stage)"), "Staging");

  await page.locator("#tag-key").fill("validated");
  await page.locator("#tag-value").fill("yes");
  await page.getByRole("button", { name: "Set tag" }).click();
  await page.locator("#version-tags", { hasText: "validated" }).waitFor();
  assert.equal(client("print(c.get_model_version('clf', '1').tags['validated'])"), "yes");

  await page.locator("#lineage-runs").waitFor();
  await axe("version");
  await screenshots("model-version");
  assert.deepEqual(consoleErrors, []);
});

test("deleting the alias in the UI removes it for the client", async () => {
  await page.getByRole("button", { name: "Delete alias champion" }).click();
  await page.getByText("No aliases.").waitFor();
  assert.equal(client("print(c.get_registered_model('clf').aliases)"), "{}");
});

test("a version that does not exist shows the server's error", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/models/clf/versions/99`);
  await page.getByRole("alert").filter({ hasText: /not found/i }).waitFor();
});

// waits for a node of the run's graph to show a state (no reload)
async function waitTask(task, ...states) {
  const state = states.join(" or ");
  const sel = states.map((st) => `svg.dag .dag-node[data-task="${task}"][data-state="${st}"]`).join(", ");
  try {
    await page.waitForSelector(sel, { timeout: 30000 });
  } catch (e) {
    const now = await page.locator(`svg.dag .dag-node[data-task="${task}"]`).getAttribute("data-state");
    const run = await page.locator("#run-state").innerText();
    throw new Error(`${task} never showed ${state}: it shows ${now}; the run: ${run}`);
  }
}

// `who` is the pipeline's parameter: a new value is a run the cache cannot answer
async function submitPipelineRun(name, who) {
  const r = await fetch(`${base}/apis/v2beta1/runs`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ display_name: name, pipeline_spec: pipelineSpec, runtime_config: { parameters: { name: who } } }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).run_id;
}

test("pipeline run: the DAG, live states, a task's live log, its MLflow run", async () => {
  consoleErrors = [];
  const runId = await submitPipelineRun("ui-pipeline", "ui");
  await page.goto(`${base}/#/pipeline-runs`);
  await page.getByRole("link", { name: "ui-pipeline" }).click();
  await page.locator("svg.dag .dag-node").first().waitFor();
  assert.equal(new URL(page.url()).hash, `#/pipeline-runs/${runId}`);
  // marks this document: a reload would lose it
  await page.evaluate(() => (window.__sameDocument = true));
  assert.equal(await page.locator("svg.dag .dag-node").count(), 2);
  assert.equal(await page.locator("svg.dag .dag-edge").count(), 1);
  const edge = page.locator("svg.dag .dag-edge");
  assert.equal(await edge.getAttribute("data-from"), "make-greeting");
  assert.equal(await edge.getAttribute("data-to"), "slow-echo");

  const slow = page.locator('svg.dag .dag-node[data-task="slow-echo"]');
  await waitTask("slow-echo", "RUNNING");
  assert.match(await slow.textContent(), /RUNNING/);
  await slow.click();
  await page.locator("#task-panel").waitFor();
  assert.equal(await page.locator("#task-title").innerText(), "slow-echo");
  // log lines arrive while the task runs
  await page.waitForFunction(() => /line 0: hello ui/.test(document.querySelector("#task-log")?.textContent ?? ""), null, {
    timeout: 15000,
  });
  const early = await page.locator("#task-log").textContent();
  assert.equal(await slow.getAttribute("data-state"), "RUNNING", "the first lines came while it ran");
  await page.waitForFunction((n) => (document.querySelector("#task-log")?.textContent ?? "").length > n, early.length, {
    timeout: 15000,
  });
  // then the node turns SUCCEEDED without a reload
  await waitTask("slow-echo", "SUCCEEDED");
  assert.equal(await page.evaluate(() => window.__sameDocument), true);
  assert.match(await slow.textContent(), /SUCCEEDED/);
  await page.waitForFunction(() => /line 7: hello ui/.test(document.querySelector("#task-log")?.textContent ?? ""));
  const log = await page.locator("#task-log").textContent();
  assert.equal((log.match(/line 0: hello ui/g) ?? []).length, 1, "each line once");
  // the run's own SUCCEEDED comes (as its own event) a moment after its last task's
  await page.waitForFunction(() => /SUCCEEDED/.test(document.querySelector("#run-state")?.textContent ?? ""), null, {
    timeout: 15000,
  });
  assert.equal(await page.locator("#run-terminate, #run-retry").count(), 0);

  const link = page.locator("#task-mlflow-link");
  await link.waitFor();
  assert.match(await link.getAttribute("href"), /^#\/experiments\/0\/runs\/[0-9a-f]{32}$/);
  await page.locator("#task-outputs").waitFor();
  assert.match(await page.locator("#task-outputs").innerText(), /HELLO UI/);

  await axe("pipeline-run");
  await screenshots("pipeline-run");
  await link.click();
  await page.locator("dl.overview").waitFor();
  assert.match(await page.locator("dl.overview").innerText(), /FINISHED/);
  assert.deepEqual(consoleErrors, []);
});

test("pipeline runs list: newest first, states, links; Pipelines in the nav", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/`);
  await page.getByRole("navigation").getByRole("link", { name: "Pipelines" }).click();
  await page.locator("#pipeline-runs-table").waitFor();
  const first = page.locator("#pipeline-runs-table tbody tr").first();
  assert.match(await first.innerText(), /ui-pipeline\s+SUCCEEDED/);
  await axe("pipeline-runs");
  await screenshots("pipeline-runs");
  assert.deepEqual(consoleErrors, []);
});

test("pipeline run: Terminate while it runs, then Retry; errors shown inline", async () => {
  consoleErrors = [];
  const runId = await submitPipelineRun("ui-cancel", "cancel");
  await page.goto(`${base}/#/pipeline-runs/${runId}`);
  await waitTask("slow-echo", "RUNNING");
  await page.locator("#run-terminate").click();
  await page.waitForFunction(() => /CANCELED/.test(document.querySelector("#run-state")?.textContent ?? ""), null, {
    timeout: 30000,
  });
  // the task records spell it CANCELLED, the runs CANCELED
  await waitTask("slow-echo", "CANCELED", "CANCELLED");
  // a refused retry: the server's message inline
  await page.route(`**/apis/v2beta1/runs/${runId}:retry`, (route) =>
    route.fulfill({ status: 400, contentType: "application/json", body: '{"code":9,"message":"nope: not now","details":[]}' }),
  );
  await page.locator("#run-retry").click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /Retry failed: nope: not now/);
  await page.unroute(`**/apis/v2beta1/runs/${runId}:retry`);
  await page.locator("#run-retry").click();
  await waitTask("slow-echo", "SUCCEEDED");
  const slow = page.locator('svg.dag .dag-node[data-task="slow-echo"]');
  await page.waitForFunction(() =>
    /retried/.test(document.querySelector('svg.dag .dag-node[data-task="slow-echo"]')?.textContent ?? ""),
  );
  assert.match(await slow.textContent(), /retried ×1/);
  assert.match(await page.locator('svg.dag .dag-node[data-task="make-greeting"]').textContent(), /SUCCEEDED/);
  // the refused request's 400 is the only console error
  assert.deepEqual(
    consoleErrors.filter((e) => !/status of 400/.test(e)),
    [],
  );
});
