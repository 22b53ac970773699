// Browser tests of the experiments page and the runs table: a real `trellis
// server` filled by the official mlflow client with 2 experiments (300 runs
// in "runs-a", among them 20 parents with 3 nested children each; 5 runs in
// "runs-b"), driven by playwright-core on Debian's chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, fill, openBrowser, axe, screenshots } from "./harness.mjs";

let srv, base, browser, page, errors, fx;

const FILL = `
import json, time
import mlflow
from mlflow.entities import Metric, Param, RunTag
c = mlflow.MlflowClient()
a = c.create_experiment("runs-a")
b = c.create_experiment("runs-b")
c.create_experiment("to-rename")
c.create_experiment("to-delete")
now = int(time.time() * 1000)
ids = []
parent = None
for i in range(300):
    tags = [RunTag("team", f"t{i % 3}")]
    k = i % 15
    if k == 0:
        parent = None
    elif k <= 3 and i < 300:
        tags.append(RunTag("mlflow.parentRunId", parent))
    r = c.create_run(a, run_name=f"a-{i:03d}", start_time=now - (300 - i) * 1000)
    c.log_batch(r.info.run_id,
        metrics=[Metric("acc", ((i * 37) % 300) / 300, now, 0), Metric("loss", 1 - i / 300, now, 0)],
        params=[Param("lr", f"{(i % 10) / 100:.2f}"), Param("depth", str(i % 4))],
        tags=tags)
    c.set_terminated(r.info.run_id, "FAILED" if i % 11 == 0 else "FINISHED")
    if k == 0:
        parent = r.info.run_id
    ids.append(r.info.run_id)
bids = []
for i in range(5):
    r = c.create_run(b, run_name=f"b-{i}", start_time=now + i)
    c.log_batch(r.info.run_id, metrics=[Metric("acc", 2.0 + i, now, 0)], params=[Param("lr", "0.5")])
    c.set_terminated(r.info.run_id, "FINISHED")
    bids.append(r.info.run_id)
print(json.dumps({"a": a, "b": b, "ids": ids, "bids": bids}))
`;

// mlflow client reading an experiment back
function readExperiment(id) {
  return fill(
    base,
    srv.tmp,
    `import json, mlflow
x = mlflow.MlflowClient().get_experiment("${id}")
print(json.dumps({"name": x.name, "stage": x.lifecycle_stage}))`,
  );
}

before(async () => {
  srv = await startServer();
  base = srv.base;
  fx = fill(base, srv.tmp, FILL);
  ({ browser, page, errors } = await openBrowser());
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

const fresh = async (hash) => {
  await page.goto("about:blank");
  await page.goto(`${base}/${hash}`);
};
const loaded = () => page.locator("#runs-table").getAttribute("data-loaded");
const firstName = () => page.locator("#runs-table tbody tr.run-row td.run-name a").first().innerText();

test("experiments: search by name in the URL, a view switch, selecting two opens their runs", async () => {
  errors.length = 0;
  await fresh("#/experiments");
  await page.locator("#experiments-table").waitFor();
  await page.locator("#experiment-search").fill("runs-");
  await page.locator("#experiment-search").press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#experiments-table tbody tr").length === 2);
  assert.match(decodeURIComponent(page.url()), /#\/experiments\?q=runs-/);
  const names = await page.locator("#experiments-table tbody td.exp-name").allInnerTexts();
  assert.deepEqual(names.sort(), ["runs-a", "runs-b"]);
  await axe(page, "experiments-search");
  await screenshots(page, "experiments-search");
  await page.getByLabel("Select runs-a").check();
  await page.getByLabel("Select runs-b").check();
  await page.getByRole("button", { name: "Open runs of selected" }).click();
  await page.locator("#runs-table tbody tr.run-row").first().waitFor();
  assert.match(decodeURIComponent(page.url()), /#\/runs\?experiments=\d+,\d+/);
  assert.deepEqual(errors, []);
});

test("experiments: rename, delete and restore; the mlflow client reads them back; errors inline", async () => {
  errors.length = 0;
  await fresh("#/experiments?q=to-");
  await page.getByRole("button", { name: "Rename to-rename" }).click();
  const input = page.getByLabel("New name for to-rename");
  await input.fill("renamed-x");
  await input.press("Enter");
  await page.getByRole("link", { name: "renamed-x" }).waitFor();
  const row = page.locator("#experiments-table tr", { hasText: "renamed-x" });
  const id = await row.getAttribute("data-experiment");
  assert.equal(readExperiment(id).name, "renamed-x");

  // a name that exists: the server's error inline
  await page.getByRole("button", { name: "Rename renamed-x" }).click();
  await page.getByLabel("New name for renamed-x").fill("runs-a");
  await page.getByLabel("New name for renamed-x").press("Enter");
  const err = page.locator(`#experiments-table tr[data-experiment="${id}"]`).getByRole("alert");
  await err.waitFor();
  assert.match(await err.innerText(), /runs-a/);
  await page.getByLabel("New name for renamed-x").press("Escape");

  const del = page.locator("#experiments-table tr", { hasText: "to-delete" });
  const delId = await del.getAttribute("data-experiment");
  await page.getByRole("button", { name: "Delete to-delete" }).click();
  await page.getByRole("button", { name: "Restore to-delete" }).waitFor();
  assert.equal(readExperiment(delId).stage, "deleted");
  // the Deleted view lists it; Active does not
  await fresh("#/experiments?view=deleted");
  await page.getByRole("link", { name: "to-delete" }).waitFor();
  assert.equal(await page.locator("#experiments-table tbody tr").count(), 1);
  await axe(page, "experiments-deleted");
  await screenshots(page, "experiments-deleted");
  await page.getByRole("button", { name: "Restore to-delete" }).click();
  await page.getByRole("button", { name: "Delete to-delete" }).waitFor();
  assert.equal(readExperiment(delId).stage, "active");
  await page.locator("#experiment-view").selectOption("all");
  await page.waitForFunction(() => /view=all/.test(location.hash));
  await page.getByRole("link", { name: "runs-a" }).waitFor();
  // deleting an experiment twice: the second answer is the server's error
  await fresh("#/experiments?q=to-delete");
  await page.getByRole("button", { name: "Delete to-delete" }).waitFor();
  const r = await fetch(`${base}/api/2.0/mlflow/experiments/delete`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ experiment_id: delId }),
  });
  assert.equal(r.status, 200);
  await page.getByRole("button", { name: "Delete to-delete" }).click();
  const err2 = page.locator(`#experiments-table tr[data-experiment="${delId}"]`).getByRole("alert");
  await err2.waitFor();
  assert.ok((await err2.innerText()).length > 5);
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});

test("runs: a virtual table renders far fewer rows than runs, and scrolling reaches the last run", async () => {
  errors.length = 0;
  // 50 runs a page, so 300 runs take several page_token requests
  let pages = 0;
  await page.route("**/api/2.0/mlflow/runs/search", (route) => {
    const body = JSON.parse(route.request().postData() || "{}");
    if (body.page_token) pages++;
    route.continue({ postData: JSON.stringify({ ...body, max_results: 50 }) });
  });
  try {
    await fresh(`#/experiments/${fx.a}`);
    await page.locator("#runs-table tbody tr.run-row").first().waitFor();
    assert.equal(await firstName(), "a-299"); // newest first
    const scroller = page.locator("#runs-scroller");
    for (let i = 0; i < 40 && (await page.locator("#runs-table").getAttribute("data-complete")) !== "true"; i++) {
      await scroller.evaluate((e) => (e.scrollTop = e.scrollHeight));
      await page.waitForTimeout(100);
    }
    assert.equal(await loaded(), "300");
    assert.ok(pages >= 5, `pages fetched by token: ${pages}`);
    await scroller.evaluate((e) => (e.scrollTop = e.scrollHeight));
    // a-000 is the oldest parent: the last top-level row
    await page.getByRole("link", { name: "a-000", exact: true }).waitFor();
    const domRows = await page.locator("#runs-table tbody tr.run-row").count();
    assert.ok(domRows < 80, `DOM rows: ${domRows}`);
    assert.match(await page.locator(".runs-count").innerText(), /300 runs loaded/);
    // 300 runs, 60 of them children folded under their parents
    assert.equal(await page.locator("#runs-table").getAttribute("aria-rowcount"), String(240 + 1));
  } finally {
    await page.unroute("**/api/2.0/mlflow/runs/search");
  }
  assert.deepEqual(errors, []);
});

test("runs: nested child runs unfold under their parent, by keyboard", async () => {
  errors.length = 0;
  await fresh(`#/experiments/${fx.a}`);
  const fold = page.getByRole("button", { name: "Show 3 child runs of a-285" });
  await fold.waitFor();
  assert.equal(await fold.getAttribute("aria-expanded"), "false");
  await fold.focus();
  await page.keyboard.press("Enter");
  const hide = page.getByRole("button", { name: "Hide 3 child runs of a-285" });
  await hide.waitFor();
  assert.equal(await hide.getAttribute("aria-expanded"), "true");
  // focus stays on the toggle after the rows are redrawn
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Hide 3 child runs of a-285");
  const parentId = fx.ids[285];
  const kids = page.locator(`#runs-table tr.child-row[data-parent="${parentId}"]`);
  assert.equal(await kids.count(), 3);
  const names = await kids.locator("td.run-name a").allInnerTexts();
  assert.deepEqual(names.sort(), ["a-286", "a-287", "a-288"]);
  // they come right after the parent's row
  const order = await page.locator("#runs-table tbody tr.run-row td.run-name a").allInnerTexts();
  const at = order.indexOf("a-285");
  assert.deepEqual(order.slice(at + 1, at + 4).sort(), ["a-286", "a-287", "a-288"]);
  await axe(page, "runs-nested");
  await screenshots(page, "runs-nested");
  await page.keyboard.press("Space");
  await page.getByRole("button", { name: "Show 3 child runs of a-285" }).waitFor();
  assert.equal(await kids.count(), 0);
  assert.deepEqual(errors, []);
});

test("runs: clicking a column header sorts on the server; aria-sort; keyboard", async () => {
  errors.length = 0;
  await fresh(`#/experiments/${fx.a}`);
  await page.locator("#runs-table tbody tr.run-row").first().waitFor();
  const acc = page.locator('#runs-table th[data-sort="metrics.acc"]');
  assert.equal(await acc.getAttribute("aria-sort"), "none");
  const wantTop = (dir) => {
    // top-level runs (parents and unnested) by acc; children are folded
    const top = [];
    for (let i = 0; i < 300; i++) if (i % 15 === 0 || i % 15 > 3) top.push(i);
    top.sort((x, y) => dir * ((((x * 37) % 300) / 300) - (((y * 37) % 300) / 300)));
    return `a-${String(top[0]).padStart(3, "0")}`;
  };
  await acc.getByRole("button").click();
  await page.waitForFunction(() => document.querySelector('#runs-table th[data-sort="metrics.acc"]')?.getAttribute("aria-sort") === "descending");
  await page.waitForFunction((n) => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent === n, wantTop(-1));
  assert.match(decodeURIComponent(page.url()), /order=metrics\.acc:desc/);
  // the header button keeps the focus; Enter sorts the other way
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector('#runs-table th[data-sort="metrics.acc"]')?.getAttribute("aria-sort") === "ascending");
  await page.waitForFunction((n) => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent === n, wantTop(1));
  // by a param: lr "0.00" first ascending; then start time ascending
  await page.locator('#runs-table th[data-sort="params.lr"] button').click();
  await page.locator('#runs-table th[data-sort="params.lr"] button').click();
  await page.waitForFunction(() => document.querySelector('#runs-table th[data-sort="params.lr"]')?.getAttribute("aria-sort") === "ascending");
  await page.waitForFunction(() => {
    const heads = [...document.querySelectorAll("#runs-table thead th")];
    const at = heads.findIndex((th) => th.getAttribute("data-sort") === "params.lr");
    return document.querySelector("#runs-table tbody tr.run-row")?.children[at]?.textContent === "0.00";
  });
  await page.locator('#runs-table th[data-sort="attributes.start_time"] button').click();
  await page.locator('#runs-table th[data-sort="attributes.start_time"] button').click();
  await page.waitForFunction(() => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent === "a-000");
  // the order is in the URL: a fresh load keeps it
  await fresh(new URL(page.url()).hash);
  await page.waitForFunction(() => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent === "a-000");
  assert.equal(await page.locator('#runs-table th[data-sort="attributes.start_time"]').getAttribute("aria-sort"), "ascending");
  await axe(page, "runs-sorted");
  await screenshots(page, "runs-sorted");
  assert.deepEqual(errors, []);
});

test("runs: the column picker adds a tag column and removes a metric, kept in the URL", async () => {
  errors.length = 0;
  await fresh(`#/experiments/${fx.a}`);
  await page.locator("#runs-table tbody tr.run-row").first().waitFor();
  await page.locator("#column-picker summary").click();
  await page.getByLabel("team", { exact: true }).check();
  await page.locator('#runs-table th[data-sort="tags.team"]').waitFor();
  assert.equal(await page.locator("#runs-table tbody tr.run-row").first().locator("td").last().innerText(), "t2"); // a-299
  await page.getByLabel("loss", { exact: true }).uncheck();
  assert.equal(await page.locator('#runs-table th[data-sort="metrics.loss"]').count(), 0);
  const hash = decodeURIComponent(new URL(page.url()).hash);
  assert.match(hash, /cols=.*tags\.team/);
  assert.doesNotMatch(hash, /metrics\.loss/);
  await axe(page, "runs-columns");
  await screenshots(page, "runs-columns");
  await fresh(new URL(page.url()).hash);
  await page.locator('#runs-table th[data-sort="tags.team"]').waitFor();
  assert.equal(await page.locator('#runs-table th[data-sort="metrics.loss"]').count(), 0);
  assert.deepEqual(errors, []);
});

test("runs: two experiments in one table; a filter with OR and parentheses", async () => {
  errors.length = 0;
  await fresh(`#/runs?experiments=${fx.a},${fx.b}&order=metrics.acc:desc`);
  await page.waitForFunction(() => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent === "b-4");
  assert.equal(await loaded(), "100"); // the first page
  await page.locator("p.muted a", { hasText: "runs-b" }).waitFor();
  const meta = await page.locator("p.muted").first().innerText();
  assert.match(meta, /runs-a/);
  assert.match(meta, /runs-b/);
  await page.locator("#run-filter").fill("params.lr = '0.5' or (metrics.acc < 0.01 and params.depth = '0')");
  await page.locator("#run-filter").press("Enter");
  // b-0..b-4 (lr 0.5) and a-000 (acc 0, depth 0)
  await page.waitForFunction(() => document.querySelector("#runs-table")?.getAttribute("data-loaded") === "6");
  const names = await page.locator("#runs-table tbody tr.run-row td.run-name a").allInnerTexts();
  assert.deepEqual(names.sort(), ["a-000", "b-0", "b-1", "b-2", "b-3", "b-4"]);
  assert.match(decodeURIComponent(page.url()), /experiments=\d+,\d+.*filter=params\.lr/);
  await axe(page, "runs-two-experiments");
  await screenshots(page, "runs-two-experiments");
  // an unbalanced parenthesis: the server's error inline
  await page.locator("#run-filter").fill("(params.lr = '0.5'");
  await page.locator("#run-filter").press("Enter");
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /Search failed: .{5,}/);
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});

test("runs: selecting two runs still opens the comparison with the virtual table", async () => {
  errors.length = 0;
  await fresh(`#/experiments/${fx.b}`);
  await page.getByLabel("Select b-1").check();
  await page.getByLabel("Select b-3").check();
  await page.getByRole("button", { name: "Compare" }).click();
  await page.waitForFunction(() => location.hash.startsWith("#/compare?runs="));
  const ids = decodeURIComponent(new URL(page.url()).hash).split("=")[1].split(",").sort();
  assert.deepEqual(ids, [fx.bids[1], fx.bids[3]].sort());
  assert.deepEqual(errors, []);
});
