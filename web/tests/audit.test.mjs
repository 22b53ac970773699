// Browser tests of the audit log page (#/audit) and the compare page's
// parallel-coordinates plot, on a real `trellis server` filled by the official
// mlflow client: experiments, runs with params and metrics, a registered model
// with an alias. The plot is checked under the server's real CSP (a context
// without bypassCSP), through its hidden table of plotted values and a
// non-blank canvas. axe-core and light/dark screenshots for both pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bin, freePort, waitHealthy, python, startServer, fill, openBrowser, axe, screenshots } from "./harness.mjs";

let srv, base, browser, page, errors, fixture;

const FILL = `
import json, time
import mlflow
from mlflow.entities import Metric, Param
c = mlflow.MlflowClient()
now = int(time.time() * 1000)
e1 = c.create_experiment("audit-a")
e2 = c.create_experiment("audit-b")
runs = []
for i, (lr, opt) in enumerate([("0.1", "adam"), ("0.01", "sgd"), ("0.001", "adam"), ("0.05", "rmsprop")]):
    r = c.create_run(e1, run_name=f"pc-{i}")
    c.log_batch(r.info.run_id,
        metrics=[Metric("acc", 0.5 + i / 10, now, 0), Metric("loss", 1.0 / (i + 1), now, 0)],
        params=[Param("lr", lr), Param("optimizer", opt), Param("seed", "7")])
    c.set_terminated(r.info.run_id, "FINISHED")
    runs.append(r.info.run_id)
for i in range(40):
    c.create_run(e2, run_name=f"bulk-{i}")
c.log_text(runs[0], "flavors: {}\\n", "model/MLmodel")
c.create_registered_model("audit-model")
v = c.create_model_version("audit-model", "runs:/%s/model" % runs[0], run_id=runs[0])
c.set_registered_model_alias("audit-model", "champion", v.version)
print(json.dumps({"e1": e1, "e2": e2, "runs": runs}))
`;

before(async () => {
  srv = await startServer();
  base = srv.base;
  fixture = fill(base, srv.tmp, FILL);
  ({ browser, page, errors } = await openBrowser());
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

const rows = () => page.locator("#audit-table tbody tr");

test("the audit page lists the actions, newest first, with the chain intact", async () => {
  errors.length = 0;
  await page.goto(base + "/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await page.locator("#audit-table").waitFor();
  assert.equal(await page.locator("h1").innerText(), "Audit log");
  // 50 a page: the first page is full and offers more
  assert.equal(await rows().count(), 50);
  const text = await page.locator("#audit-table").innerText();
  for (const a of ["registered-models.set-alias", "runs.create"]) assert.ok(text.includes(a), a);
  // newest first: the alias was the last action
  assert.match(await rows().first().innerText(), /alias/);
  const seqs = await rows().evaluateAll((trs) => trs.map((t) => Number(t.dataset.seq)));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
  // the verify status at the top
  const verify = page.locator("#audit-verify");
  await verify.getByText("Intact").waitFor();
  assert.match(await verify.innerText(), /Intact · \d+ entries · checked/);
  assert.ok(await verify.evaluate((el) => el.classList.contains("intact")));
  // a resource links to its page
  const modelLink = page.locator("#audit-table a", { hasText: "registered_model/audit-model" }).first();
  assert.equal(await modelLink.getAttribute("href"), "#/models/audit-model");
  // details expand
  const first = rows().first().locator("details");
  await first.locator("summary").click();
  assert.match(await first.innerText(), /Hash\s+[0-9a-f]{64}/);
  await axe(page, "audit");
  await screenshots(page, "audit");
  assert.deepEqual(errors, []);
});

test("paging loads the rest, each entry once", async () => {
  errors.length = 0;
  await page.goto("about:blank");
  await page.goto(base + "/#/audit");
  await page.locator("#audit-table").waitFor();
  const total = (await (await fetch(`${base}/api/2.0/trellis/audit/verify`)).json()).count;
  assert.ok(total > 50 && total <= 150, `total ${total}`);
  while (await page.locator("#audit-more").count()) {
    const before = await rows().count();
    await page.locator("#audit-more").click();
    await page.waitForFunction((n) => document.querySelectorAll("#audit-table tbody tr").length > n, before);
  }
  const seqs = await rows().evaluateAll((trs) => trs.map((t) => Number(t.dataset.seq)));
  assert.equal(seqs.length, total);
  assert.equal(new Set(seqs).size, total);
  assert.equal(Math.min(...seqs), 1);
  assert.match(await page.locator("#audit-table caption").innerText(), new RegExp(`^${total} entries shown`));
  assert.deepEqual(errors, []);
});

test("filters narrow the table and stay in the URL", async () => {
  errors.length = 0;
  await page.goto("about:blank");
  await page.goto(base + "/#/audit");
  await page.locator("#audit-table").waitFor();
  await page.getByLabel("Action", { exact: true }).fill("registered-models.*");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForFunction(() => location.hash.includes("action=registered-models.*"));
  await page.waitForFunction(() => {
    const trs = [...document.querySelectorAll("#audit-table tbody tr")];
    return trs.length > 0 && trs.every((t) => t.children[2].textContent.startsWith("registered-models."));
  });
  const actions = await rows().evaluateAll((trs) => trs.map((t) => t.children[2].textContent));
  assert.ok(actions.includes("registered-models.create"), actions.join());
  assert.ok(actions.some((a) => a.includes("alias")), actions.join());
  assert.equal(await page.locator("#audit-more").count(), 0);

  // by resource: one run's entries only (its create, its batch, its end)
  const run = fixture.runs[1];
  await page.goto(`${base}/#/audit?resource=${encodeURIComponent("run/" + run)}`);
  await page.waitForFunction(
    (r) => {
      const trs = [...document.querySelectorAll("#audit-table tbody tr")];
      return trs.length > 0 && trs.every((t) => t.children[3].textContent === r);
    },
    "run/" + run,
  );
  assert.equal(await page.getByLabel("Resource").inputValue(), "run/" + run);
  assert.ok((await rows().count()) >= 2);
  // the run's link opens the run's page
  await rows().first().locator("td.resource a").click();
  await page.waitForFunction((r) => location.hash === `#/experiments/${r.e}/runs/${r.id}`, { e: fixture.e1, id: run });

  // by actor, and a filter nothing matches
  await page.goto(`${base}/#/audit?actor=nobody-at-all`);
  await page.locator("#audit-empty").waitFor();
  // a refused filter shows the server's message
  await page.goto(`${base}/#/audit?action=ru*ns`);
  await page.getByText("'action' may have '*' only at its end").waitFor();
  assert.deepEqual(errors.filter((e) => !e.includes("400")), []);
});

test("a chain altered in the database file shows as broken at that entry", async () => {
  // a server of its own whose file outlives it: fill, stop, tamper, start again
  const tmp = mkdtempSync("/tmp/trellis-ui-audit-");
  const db = join(tmp, "t.db");
  let proc;
  const start = async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    proc = spawn(bin, ["server", "--port", String(port), "--backend-store-uri", `sqlite:///${db}`,
      "--artifacts-destination", join(tmp, "artifacts")], { cwd: tmp, stdio: "ignore" });
    await waitHealthy(url);
    return url;
  };
  const stop = async () => {
    if (proc && proc.exitCode === null) {
      const done = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await done;
    }
  };
  try {
    let url = await start();
    fill(url, tmp, `
import json, mlflow
c = mlflow.MlflowClient()
for i in range(4):
    c.create_experiment(f"t-{i}")
print(json.dumps({}))
`);
    await stop();
    // as an attacker with the file would: the append-only trigger goes first
    execFileSync(python, ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER audit_log_no_update")
db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
db.commit()
`, db]);
    url = await start();
    errors.length = 0;
    await page.goto(`${url}/#/audit`);
    const verify = page.locator("#audit-verify");
    await verify.getByText("Broken at entry 2").waitFor();
    assert.match(await verify.innerText(), /1 entry intact before it/);
    assert.match(await verify.innerText(), /audit entry 2 was altered/);
    assert.ok(await verify.evaluate((el) => el.classList.contains("broken")));
    assert.equal(await page.locator('#audit-table tr[data-seq="2"] td').nth(1).innerText(), "mallory");
    await screenshots(page, "audit-broken");
    assert.deepEqual(errors, []);
  } finally {
    await stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the compare page draws a parallel-coordinates plot under the server's CSP", async () => {
  const strict = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const p = await strict.newPage();
    const errs = [];
    p.on("console", (m) => m.type() === "error" && errs.push(m.text()));
    p.on("pageerror", (e) => errs.push(String(e)));
    await p.goto(`${base}/#/compare?runs=${fixture.runs.join(",")}`);
    await p.locator("#parallel-plot canvas").waitFor();
    const table = p.locator("#parallel-values");
    await table.locator("tbody tr").first().waitFor({ state: "attached" });
    // the axes: what differs (lr, optimizer, acc, loss), not seed (the same in every run)
    const head = await table.locator("thead th").allTextContents();
    assert.deepEqual(head, ["Run", "param lr", "param optimizer", "metric acc", "metric loss"]);
    const body = await table.locator("tbody tr").evaluateAll((trs) => trs.map((t) => [...t.children].map((c) => c.textContent)));
    assert.deepEqual(body, [
      ["pc-0", "0.1", "adam", "0.5", "1"],
      ["pc-1", "0.01", "sgd", "0.6", "0.5"],
      ["pc-2", "0.001", "adam", "0.7", "0.333333"],
      ["pc-3", "0.05", "rmsprop", "0.8", "0.25"],
    ]);
    assert.match(await p.locator("#parallel-note").innerText(), /4 runs · 4 axes · colour: metric acc/);
    // the canvas has coloured pixels (lines drawn)
    const painted = async () =>
      p.locator("#parallel-plot canvas").first().evaluate((c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      });
    assert.ok((await painted()) > 2000, "the canvas is painted");
    // choosing axes: the choice goes into the URL and the plot follows
    await p.getByRole("checkbox", { name: "param optimizer" }).uncheck();
    await p.waitForFunction(() => location.hash.includes("axes=params.lr,metrics.acc,metrics.loss"));
    assert.deepEqual(await table.locator("thead th").allTextContents(), ["Run", "param lr", "metric acc", "metric loss"]);
    await p.getByLabel("Colour lines by metric").selectOption("loss");
    await p.waitForFunction(() => location.hash.includes("color=loss"));
    // a shared URL opens with the same choice
    await p.goto("about:blank");
    await p.goto(`${base}/#/compare?runs=${fixture.runs.join(",")}&axes=params.optimizer&color=acc`);
    await p.locator("#parallel-plot canvas").waitFor();
    await p.waitForFunction(() => document.querySelectorAll("#parallel-values thead th").length === 3);
    assert.deepEqual(await p.locator("#parallel-values thead th").allTextContents(), ["Run", "param optimizer", "metric acc"]);
    assert.equal(await p.getByRole("checkbox", { name: "param lr" }).isChecked(), false);
    assert.ok((await painted()) > 1000);
    await p.locator("#parallel-plot").hover(); // the tooltip under the CSP too
    assert.deepEqual(errs, []);
  } finally {
    await strict.close();
  }
});

test("the compare page's plot: axe and screenshots", async () => {
  errors.length = 0;
  await page.goto("about:blank");
  await page.goto(`${base}/#/compare?runs=${fixture.runs.join(",")}`);
  await page.locator("#parallel-plot canvas").waitFor();
  await page.locator("#parallel-values tbody tr").first().waitFor({ state: "attached" });
  await axe(page, "compare-parallel");
  await page.locator("#compare-parallel").scrollIntoViewIfNeeded();
  await screenshots(page, "compare-parallel");
  assert.deepEqual(errors, []);
});
