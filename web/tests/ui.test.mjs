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
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, mkdirSync, rmSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const shots = join(repo, "build/ui-screenshots");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const bin = process.env.TRELLIS_BIN || join(repo, "build/trellis");
const python = process.env.MLFLOW_PYTHON || join(repo, ".venv/mlflow3/bin/python");
// not resolved: the venv is found from this path (its bin/python is a symlink)
const kfpPython = process.env.KFP_PYTHON || join(repo, ".venv/kfp/bin/python");

let server, tmp, base, browser, ctx, page, fixture, pipelineSpec;
let consoleErrors = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitHealthy(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url + "/health")).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("trellis server did not come up");
}

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
print(json.dumps({"experiment_id": eid, "run_ids": ids}))
`;

before(async () => {
  // the pipeline steps run as `nobody`: it must reach the artifact folder
  tmp = mkdtempSync("/tmp/trellis-ui-");
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "artifacts"), { mode: 0o755 });
  chmodSync(join(tmp, "artifacts"), 0o755);
  pipelineSpec = JSON.parse(
    execFileSync(kfpPython, [join(here, "pipeline_fixture.py")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    bin,
    ["server", "--port", String(port), "--backend-store-uri", `sqlite:///${tmp}/t.db`,
     "--artifacts-destination", join(tmp, "artifacts"), "--step-python", kfpPython],
    { cwd: tmp, stdio: "ignore" },
  );
  await waitHealthy(base);
  const out = execFileSync(python, ["-c", FILL], {
    env: { ...process.env, MLFLOW_TRACKING_URI: base },
    encoding: "utf8",
  });
  fixture = JSON.parse(out.trim().split("\n").pop());
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  // bypassCSP: only so axe-core can be injected; the app itself runs under the server's CSP
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  page = await ctx.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function axe(name) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe on ${name}`,
  );
}

async function screenshots(name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(shots, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

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
  await page.locator("#runs-table tbody tr").first().waitFor();
  assert.equal(await page.locator("#runs-table tbody tr").count(), 30);
  const head = await page.locator("#runs-table thead").innerText();
  for (const col of ["Run", "Status", "Started", "Duration", "lr", "acc"]) assert.ok(head.includes(col), col);
  assert.equal(await page.locator("h1").innerText(), "ui-test");
  await axe("runs");
  await screenshots("runs");
  assert.deepEqual(consoleErrors, []);
});

test("paging: page_token brings the next pages until all 30 are shown", async () => {
  // 10 runs a page instead of 100, so 30 runs take three pages
  await page.route("**/api/2.0/mlflow/runs/search", (route) => {
    const body = JSON.parse(route.request().postData() || "{}");
    route.continue({ postData: JSON.stringify({ ...body, max_results: 10 }) });
  });
  try {
    await page.goto("about:blank"); // a fresh load, not a hash change to the same page
    await page.goto(`${base}/#/experiments/${fixture.experiment_id}`);
    const rows = page.locator("#runs-table tbody tr");
    await rows.first().waitFor();
    assert.equal(await rows.count(), 10);
    for (const want of [20, 30]) {
      await page.getByRole("button", { name: /Load .* more/ }).click();
      await page.waitForFunction((n) => document.querySelectorAll("#runs-table tbody tr").length === n, want);
    }
    const names = await page.locator("#runs-table tbody tr td:first-child").allInnerTexts();
    assert.equal(new Set(names).size, 30);
    // a full last page may still carry a token (as MLflow's does): the next page is empty
    const more = page.getByRole("button", { name: /Load .* more/ });
    if (await more.count()) {
      await more.click();
      await more.waitFor({ state: "detached" });
    }
    assert.equal(await rows.count(), 30);
  } finally {
    await page.unroute("**/api/2.0/mlflow/runs/search");
  }
});

test("a filter narrows the table", async () => {
  await page.locator("#run-filter").fill("metrics.acc > 0.5");
  await page.locator("#run-filter").press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#runs-table tbody tr").length === 15);
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
  assert.match(await page.locator("#run-state").innerText(), /SUCCEEDED/);
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
