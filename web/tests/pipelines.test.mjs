// Browser tests of the pipelines pages (#/pipelines, a pipeline, a version
// with its graph and run form), starting runs from the UI, sub-DAG and loop
// groups in the run graph, kfp.Client's URLs, and the page's single event
// stream. A real `trellis server` runs the kfp-compiled fixtures of
// pipelines_fixture.py (compiled by the official kfp SDK, KFP_PYTHON).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { here, kfpPython, startServer, openBrowser, axe as axeOn, screenshots as shotsOf } from "./harness.mjs";

let srv, base, browser, page, dir;
let consoleErrors = [];
const axe = (name) => axeOn(page, name);
const screenshots = (name) => shotsOf(page, name);

before(async () => {
  dir = mkdtempSync("/tmp/trellis-pipes-");
  execFileSync(kfpPython, [join(here, "pipelines_fixture.py"), dir], { stdio: ["ignore", "inherit", "inherit"] });
  writeFileSync(join(dir, "bad.yaml"), "pipelineInfo: [1, 2\n");
  srv = await startServer();
  base = srv.base;
  const b = await openBrowser();
  browser = b.browser;
  page = b.page;
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  // counts the EventSources the app has open at once (closed: close() or CLOSED)
  await page.addInitScript(() => {
    const Orig = window.EventSource;
    const st = (window.__es = { open: 0, max: 0, created: 0, urls: [] });
    class Counted extends Orig {
      constructor(url, opts) {
        super(url, opts);
        this.__live = true;
        st.created++;
        st.urls.push(String(url));
        st.open++;
        st.max = Math.max(st.max, st.open);
        this.addEventListener("error", () => {
          if (this.readyState === Orig.CLOSED && this.__live) {
            this.__live = false;
            st.open--;
          }
        });
      }
      close() {
        if (this.__live) {
          this.__live = false;
          st.open--;
        }
        super.close();
      }
    }
    window.EventSource = Counted;
  });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const es = () => page.evaluate(() => ({ ...window.__es }));

async function waitTask(task, ...states) {
  const sel = states.map((st) => `svg.dag .dag-node[data-task="${task}"][data-state="${st}"]`).join(", ");
  try {
    await page.waitForSelector(sel, { timeout: 60000 });
  } catch (e) {
    const now = await page.locator(`svg.dag .dag-node[data-task="${task}"]`).getAttribute("data-state").catch(() => "absent");
    throw new Error(`${task} never showed ${states.join(" or ")}: it shows ${now}; run: ${await page.locator("#run-state").innerText()}`);
  }
}

// the box of SEL (an SVG element) in page coordinates
const box = async (sel) => {
  const b = await page.locator(sel).first().boundingBox();
  assert.ok(b, `${sel} is drawn`);
  return b;
};
const inside = (a, b) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5;

let pipelineId, versionId;

test("pipelines: upload through the file input, errors inline, the pipeline and its version listed", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/pipelines`);
  await page.getByText(/No pipelines yet/).waitFor();
  // a file the server refuses: its message inline
  await page.locator("#upload-pipeline-file").setInputFiles(join(dir, "bad.yaml"));
  await page.locator("#upload-pipeline-submit").click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /^Upload failed: .+/);
  assert.doesNotMatch(await alert.innerText(), /HTTP 400$/, "the server's own message");
  await page.locator("#upload-pipeline-file").setInputFiles(join(dir, "two_steps.yaml"));
  await page.locator("#upload-pipeline-name").fill("ui-two-steps-uploaded");
  await page.locator("#upload-pipeline-submit").click();
  await page.waitForURL(/#\/pipelines\/[^/]+$/);
  pipelineId = decodeURIComponent(new URL(page.url()).hash.split("/")[2]);
  await page.locator("#versions-table").waitFor();
  assert.match(await page.locator("h1").innerText(), /ui-two-steps-uploaded/);
  assert.equal(await page.locator("#versions-table tbody tr").count(), 1);
  await axe("pipeline");
  await screenshots("pipeline");
  // the list: name, versions count and latest version
  await page.goto(`${base}/#/pipelines`);
  const row = page.locator("#pipelines-table tbody tr").filter({ hasText: "ui-two-steps-uploaded" });
  await row.waitFor();
  await page.waitForFunction(() => !/…/.test(document.querySelector("#pipelines-table tbody tr")?.textContent ?? "…"));
  const cells = await row.locator("td").allInnerTexts();
  assert.equal(cells[3], "1");
  assert.match(cells[4], /ui-two-steps-uploaded/);
  // search by name, in the URL
  await page.locator("#pipeline-search").fill("no-such-thing");
  await page.locator("#pipeline-search").press("Enter");
  await page.getByText(/No pipeline's name contains/).waitFor();
  assert.match(new URL(page.url()).hash, /\?q=no-such-thing$/);
  await page.goto(`${base}/#/pipelines?q=two-steps`);
  await row.waitFor();
  await axe("pipelines");
  await screenshots("pipelines");
  assert.deepEqual(
    consoleErrors.filter((e) => !/status of 400/.test(e)),
    [],
  );
});

test("version page: graph and parameters; a run started from the form with a non-default parameter goes live", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/pipelines`);
  const row = page.locator("#pipelines-table tbody tr").filter({ hasText: "ui-two-steps-uploaded" });
  await row.locator("td").nth(4).getByRole("link").click();
  await page.locator("#version-graph svg.dag").waitFor();
  versionId = decodeURIComponent(new URL(page.url()).hash.split("/")[4]);
  assert.equal(await page.locator("#version-graph .dag-node").count(), 2);
  assert.equal(await page.locator("#version-graph .dag-edge").getAttribute("data-from"), "make-greeting");
  assert.match(await page.locator("#version-params").innerText(), /name\s+STRING\s+trellis\s+no/);
  assert.equal(await page.locator("#param-name").inputValue(), "trellis", "the default filled in");
  await axe("pipeline-version");
  await screenshots("pipeline-version");
  await page.locator("#param-name").fill("from-ui");
  await page.locator("#run-name").fill("ui-form-run");
  await page.locator("#run-submit").click();
  await page.waitForURL(/#\/pipeline-runs\/[^/]+$/);
  const runId = decodeURIComponent(new URL(page.url()).hash.split("/")[2]);
  // the run as KFP has it: the version and the parameter
  const kfp = await (await fetch(`${base}/apis/v2beta1/runs/${runId}`)).json();
  assert.deepEqual(kfp.pipeline_version_reference, { pipeline_id: pipelineId, pipeline_version_id: versionId });
  assert.equal(kfp.runtime_config.parameters.name, "from-ui");
  assert.equal(kfp.display_name, "ui-form-run");
  assert.equal(
    await page.locator("#run-version-link").getAttribute("href"),
    `#/pipelines/${encodeURIComponent(pipelineId)}/versions/${encodeURIComponent(versionId)}`,
  );
  // the graph from the version's spec, states live, the log on the same stream
  await page.locator(`svg.dag .dag-edge[data-from="make-greeting"][data-to="slow-echo"]`).waitFor({ state: "attached" });
  await waitTask("slow-echo", "RUNNING");
  await page.locator('svg.dag .dag-node[data-task="slow-echo"]').click();
  await page.waitForFunction(() => /line 0: hello from-ui/.test(document.querySelector("#task-log")?.textContent ?? ""), null, { timeout: 30000 });
  await waitTask("slow-echo", "SUCCEEDED");
  await page.waitForFunction(() => /line 7: hello from-ui/.test(document.querySelector("#task-log")?.textContent ?? ""));
  const log = await page.locator("#task-log").textContent();
  assert.equal((log.match(/line 3: hello from-ui/g) ?? []).length, 1, "each line once");
  await page.locator("#task-outputs").waitFor();
  assert.match(await page.locator("#task-outputs").innerText(), /HELLO FROM-UI/);
  await page.locator('svg.dag .dag-node[data-task="make-greeting"]').click();
  await page.waitForFunction(() => /hello from-ui/.test(document.querySelector("#task-outputs")?.textContent ?? ""));
  const s = await es();
  assert.equal(s.max, 1, `one EventSource at a time: ${JSON.stringify(s)}`);
  assert.ok(s.urls.every((u) => u.includes("/api/2.0/trellis/pipelines/stream")), s.urls.join(" "));
  assert.ok(s.urls.some((u) => u.includes("log_task=slow-echo")), "the log came on the one stream");
  assert.deepEqual(consoleErrors, []);
});

test("New run from the runs list; the condition + loop + exit handler run drawn in group boxes; KFP's URLs", async () => {
  consoleErrors = [];
  // the second pipeline, uploaded as kfp.Client would
  const form = new FormData();
  form.append("uploadfile", new Blob([readFileSync(join(dir, "control_flow.yaml"))]), "control_flow.yaml");
  const up = await fetch(`${base}/apis/v2beta1/pipelines/upload?name=ui-control-flow`, { method: "POST", body: form });
  assert.equal(up.status, 200, await up.clone().text());
  const cfId = (await up.json()).pipeline_id;
  await page.goto(`${base}/#/pipeline-runs`);
  await page.locator("#new-run").click();
  await page.locator("#new-run-pipeline").selectOption({ label: "ui-control-flow" });
  await page.waitForFunction(() => /version=/.test(location.hash));
  await page.locator("#run-form").waitFor();
  assert.equal(await page.locator("#param-n").inputValue(), "3");
  assert.equal(await page.locator("#param-n").getAttribute("type"), "number");
  assert.equal(JSON.parse(await page.locator("#param-items").inputValue()).length, 3);
  await axe("pipeline-runs-new");
  await screenshots("pipeline-runs-new");
  // a LIST that is not a list: refused here, before any request
  await page.locator("#param-items").fill("{not json");
  await page.locator("#run-submit").click();
  await page.locator("#param-items-error").filter({ hasText: /not JSON/ }).waitFor();
  assert.match(page.url(), /pipeline-runs\?new=1/);
  await page.locator("#param-items").fill("[4, 5, 6]");
  await page.locator("#run-name").fill("ui-control-flow-run");
  await page.locator("#run-submit").click();
  await page.waitForURL(/#\/pipeline-runs\/[^/?]+$/);
  const runId = decodeURIComponent(new URL(page.url()).hash.split("/")[2]);
  // the URL kfp.Client prints for a run opens it
  await page.goto(`${base}/#/runs/details/${runId}`);
  await page.locator("svg.dag").waitFor();
  assert.match(await page.locator("h1").innerText(), /ui-control-flow-run/);
  await waitTask("goodbye", "SUCCEEDED");
  await page.waitForFunction(() => /SUCCEEDED/.test(document.querySelector("#run-state")?.textContent ?? ""), null, { timeout: 30000 });
  const exitG = 'svg.dag g.dag-group[data-group="exit-handler-1"]';
  const loopG = 'svg.dag g.dag-group[data-group="exit-handler-1/for-loop-3"]';
  const condG = 'svg.dag g.dag-group[data-group="exit-handler-1/condition-2"]';
  assert.equal(await page.locator(exitG).getAttribute("data-kind"), "exit");
  assert.equal(await page.locator(loopG).getAttribute("data-kind"), "loop");
  assert.equal(await page.locator(condG).getAttribute("data-kind"), "condition");
  assert.match(await page.locator(`${loopG} > text`).textContent(), /each · 3 iterations/);
  assert.equal(await page.locator('svg.dag g.dag-group[data-kind="iteration"]').count(), 3);
  for (const i of [0, 1, 2]) {
    const t = `exit-handler-1/for-loop-3/${i}/square`;
    await waitTask(t, "SUCCEEDED");
    assert.ok(inside(await box(`svg.dag .dag-node[data-task="${t}"]`), await box(`svg.dag g.dag-group[data-group="exit-handler-1/for-loop-3/${i}"] > rect`)));
    assert.ok(inside(await box(`svg.dag .dag-node[data-task="${t}"]`), await box(`${loopG} > rect`)));
  }
  assert.ok(inside(await box('svg.dag .dag-node[data-task="exit-handler-1/condition-2/say"]'), await box(`${condG} > rect`)));
  assert.ok(inside(await box(`${loopG} > rect`), await box(`${exitG} > rect`)));
  assert.ok(!inside(await box('svg.dag .dag-node[data-task="goodbye"]'), await box(`${exitG} > rect`)));
  // the loop's items came from the form: squares of 4, 5, 6
  await page.locator('svg.dag .dag-node[data-task="exit-handler-1/for-loop-3/2/square"]').click();
  try {
    await page.waitForFunction(() => /\b36\b/.test(document.querySelector("#task-outputs")?.innerText ?? ""), null, { timeout: 15000 });
  } catch (e) {
    throw new Error(`no 36 in the panel: ${await page.locator("#task-panel").innerText().catch(() => "(none)")}`);
  }
  await axe("pipeline-run-groups");
  await screenshots("pipeline-run-groups");
  // the version graph of the same pipeline: the groups without iterations
  await page.goto(`${base}/#/pipelines/details/${cfId}`);
  await page.locator("#versions-table a").first().click();
  await page.locator("#version-graph svg.dag").waitFor();
  assert.equal(await page.locator('#version-graph g.dag-group[data-kind="loop"]').count(), 1);
  assert.ok(inside(await box('#version-graph .dag-node[data-task="exit-handler-1/for-loop-3/square"]'), await box('#version-graph g.dag-group[data-kind="loop"] > rect')));
  await screenshots("pipeline-version-groups");
  const s = await es();
  assert.equal(s.max, 1, `one EventSource at a time: ${JSON.stringify(s)}`);
  assert.deepEqual(consoleErrors, []);
});

test("runs list: one stream for every run's state; kfp.Client's pipeline URL", async () => {
  consoleErrors = [];
  await page.goto(`${base}/#/pipeline-runs`);
  await page.locator("#pipeline-runs-table").waitFor();
  // a run started now appears and turns SUCCEEDED without a reload
  const r = await fetch(`${base}/apis/v2beta1/runs`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      display_name: "ui-live-row",
      pipeline_version_reference: { pipeline_id: pipelineId, pipeline_version_id: versionId },
      runtime_config: { parameters: { name: "row" } },
    }),
  });
  assert.equal(r.status, 200);
  const id = (await r.json()).run_id;
  await page.waitForSelector(`#pipeline-runs-table tr[data-run="${id}"][data-state="SUCCEEDED"]`, { timeout: 60000 });
  const s = await es();
  assert.equal(s.open, 1);
  assert.equal(s.max, 1);
  await page.goto(`${base}/#/pipelines/details/${pipelineId}/version/${versionId}`);
  await page.locator("#version-graph").waitFor();
  assert.equal((await es()).open, 0, "the list's stream closed when it was left");
  assert.deepEqual(consoleErrors, []);
});
