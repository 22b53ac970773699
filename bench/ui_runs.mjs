// Benchmark of the runs table at 100k runs (not a test): starts a real
// `trellis server` (build/trellis) on a fresh store, fills one experiment with
// N runs through the REST API (bench/ui_fill.mjs: 3 params, 3 metrics, 2 tags
// each; every 20th run a parent of the next 3), then measures in headless
// Chromium (playwright-core from web/node_modules, /usr/bin/chromium):
//   (a) navigation start -> first row of the runs table visible
//   (b) click on a column header (metrics.acc, params.lr, Started) -> first row changed
//   (c) scrolling: jump to the end of the loaded rows until row 50,000 is loaded
//       (each jump -> the next page's rows drawn), and a jump within the loaded
//       rows (to row 25,000) -> rows visible
// and the server alone: runs/search (first page of 100) per order.
// Prints median / p95 of REPEATS repetitions.
//   node bench/ui_runs.mjs [--runs 100000] [--repeats 7] [--store DIR]
//                          [--reference [--reference-runs N]] [--reference-only]
// --store DIR keeps the filled store in DIR (and reuses it when it exists).
// --reference does the same against `mlflow server` (.venv/bench, else
// .venv/mlflow3) and its UI, on a store holding the same runs written by
// bench/ui_reference_fill.py (MLflow's schema and template rows, bulk inserts);
// its (c) is MLflow's "Load more" (100 runs a click) instead of scrolling.
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fillRuns } from "./ui_fill.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const require = createRequire(join(repo, "web/package.json"));
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt("--runs", 100000));
const REPEATS = Number(opt("--repeats", 7));
const STORE = opt("--store", null);
const REFERENCE = args.includes("--reference");
const REF_N = Number(opt("--reference-runs", N));
const REF_ONLY = args.includes("--reference-only");
const REF_TIMEOUT_S = Number(opt("--reference-timeout", 60));
const REF_SKIP_SERVER = args.includes("--reference-ui-only"); // skip its server-alone searches
const DEEP = Math.min(50000, N);
const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

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

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p95: q(0.95), n: s.length };
};
const fmt = (xs) => {
  const s = stats(xs);
  return `median ${s.median.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms (n=${s.n})`;
};

async function main() {
  console.log(`trellis: ${N.toLocaleString("en")} runs in one experiment`);
  const dir = STORE ? resolve(STORE) : mkdtempSync("/tmp/trellis-uibench-");
  mkdirSync(join(dir, "artifacts"), { recursive: true });
  const reuse = existsSync(join(dir, "t.db"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(
    join(repo, "build/trellis"),
    ["server", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/t.db`, "--artifacts-destination", join(dir, "artifacts")],
    { stdio: "ignore" },
  );
  const stop = async () => {
    if (server.exitCode === null) {
      const done = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await done;
    }
    if (!STORE) rmSync(dir, { recursive: true, force: true });
  };
  let browser;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(base + "/health")).ok) break;
      } catch {}
      if (i > 100) throw new Error("server did not come up");
      await new Promise((r) => setTimeout(r, 100));
    }
    let exp;
    if (reuse) {
      const r = await (await fetch(`${base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench-ui`)).json();
      exp = r.experiment.experiment_id;
      log(`reusing ${dir} (experiment ${exp})`);
    } else {
      log(`filling ${N} runs`);
      const f = await fillRuns(base, N, { log });
      exp = f.experiment_id;
      log(`filled ${N} runs in ${f.seconds.toFixed(1)} s (${(N / f.seconds).toFixed(0)} runs/s)`);
    }

    // the server alone
    const server_ms = {};
    for (const [label, order_by] of [
      ["default (start_time DESC)", []],
      ["metrics.acc DESC", ["metrics.`acc` DESC"]],
      ["params.lr ASC", ["params.`lr` ASC"]],
      ["tags.team ASC", ["tags.`team` ASC"]],
      ["attributes.start_time ASC", ["attributes.start_time ASC"]],
      ["attributes.run_name ASC", ["attributes.run_name ASC"]],
    ]) {
      const t = [];
      for (let i = 0; i < REPEATS; i++) {
        const t0 = performance.now();
        const r = await fetch(`${base}/api/2.0/mlflow/runs/search`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ experiment_ids: [exp], max_results: 100, order_by }),
        });
        const j = await r.json();
        if (!r.ok || j.runs?.length !== 100) throw new Error(`runs/search ${label}: ${JSON.stringify(j).slice(0, 200)}`);
        t.push(performance.now() - t0);
      }
      server_ms[label] = t;
      console.log(`server runs/search, first 100, ${label}: ${fmt(t)}`);
    }

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const url = `${base}/#/experiments/${exp}`;
    const firstRow = () =>
      page.evaluate(() => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent ?? "");

    // (a) navigation start -> first row visible
    const a = [];
    for (let i = 0; i < REPEATS; i++) {
      await page.goto("about:blank");
      await page.goto(url, { waitUntil: "commit" });
      await page.locator("#runs-table tbody tr.run-row").first().waitFor({ state: "visible" });
      a.push(await page.evaluate(() => performance.now())); // since this document's navigation start
    }
    console.log(`(a) navigation start -> first row visible: ${fmt(a)}`);

    // (b) header click -> first row changed
    const b = {};
    for (const col of ["metrics.acc", "params.lr", "attributes.start_time"]) {
      b[col] = [];
      for (let i = 0; i < REPEATS; i++) {
        const before = await firstRow();
        const t = await page.evaluate(async (c) => {
          const first = () => document.querySelector("#runs-table tbody tr.run-row td.run-name a")?.textContent ?? "";
          const was = first();
          const t0 = performance.now();
          document.querySelector(`#runs-table th[data-sort="${c}"] button`).click();
          return await new Promise((ok) => {
            const tick = () => (first() && first() !== was ? ok(performance.now() - t0) : requestAnimationFrame(tick));
            tick();
          });
        }, col);
        b[col].push(t);
        if (before === (await firstRow())) throw new Error("the first row did not change");
      }
      console.log(`(b) click on ${col} header -> first row changed: ${fmt(b[col])}`);
    }

    // (c) scrolling: to row DEEP by jumps to the end of what is loaded
    await page.goto("about:blank");
    await page.goto(url);
    await page.locator("#runs-table tbody tr.run-row").first().waitFor();
    const c = await page.evaluate(async (deep) => {
      const sc = document.querySelector("#runs-scroller");
      const table = document.querySelector("#runs-table");
      const loaded = () => Number(table.dataset.loaded);
      const steps = [];
      const t0 = performance.now();
      while (loaded() < deep && table.dataset.complete !== "true") {
        const n = loaded();
        const s0 = performance.now();
        sc.scrollTop = sc.scrollHeight;
        await new Promise((ok) => {
          const tick = () => (loaded() > n ? ok() : requestAnimationFrame(tick));
          tick();
        });
        await new Promise((ok) => requestAnimationFrame(ok));
        steps.push(performance.now() - s0);
      }
      const total = performance.now() - t0;
      // a jump within the loaded rows: to the middle, rows drawn in the next frame(s)
      const jumps = [];
      for (let i = 0; i < 15; i++) {
        const target = Math.floor(((i % 2 ? 0.25 : 0.5) * loaded()) / 1) * 36;
        const s0 = performance.now();
        sc.scrollTop = target;
        await new Promise((ok) => {
          const tick = () => {
            const rows = sc.querySelectorAll("tr.run-row");
            const r = rows[rows.length >> 1]?.getBoundingClientRect();
            const box = sc.getBoundingClientRect();
            r && r.top >= box.top && r.bottom <= box.bottom ? ok() : requestAnimationFrame(tick);
          };
          requestAnimationFrame(tick);
        });
        jumps.push(performance.now() - s0);
      }
      return { total, steps, jumps, loaded: loaded(), dom: sc.querySelectorAll("tr.run-row").length };
    }, DEEP);
    console.log(
      `(c) scrolling to row ${DEEP.toLocaleString("en")}: ${(c.total / 1000).toFixed(1)} s for ${c.steps.length} pages (${c.loaded} runs loaded, ${c.dom} rows in the DOM); per page (jump to end -> new rows drawn): ${fmt(c.steps)}`,
    );
    console.log(`(c) jump within ${c.loaded.toLocaleString("en")} loaded rows -> rows visible: ${fmt(c.jumps)}`);
    const mem = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
    if (mem) console.log(`    JS heap with ${c.loaded} runs loaded: ${(mem / 1048576).toFixed(0)} MiB`);
  } finally {
    await browser?.close();
    await stop();
  }
}

// The same measurements against MLflow's server and UI.
async function reference() {
  const venv = existsSync(join(repo, ".venv/bench/bin/mlflow")) ? ".venv/bench" : ".venv/mlflow3";
  const dir = mkdtempSync("/tmp/mlflow-uibench-");
  mkdirSync(join(dir, "art"));
  console.log(`reference: mlflow server, ${REF_N.toLocaleString("en")} runs in one experiment`);
  log(`reference: filling MLflow's store with ${REF_N} runs (${venv})`);
  const t0 = performance.now();
  const out = execFileSync(join(repo, venv, "bin/python"), [join(here, "ui_reference_fill.py"), join(dir, "m.db"), join(dir, "art"), String(REF_N)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exp = JSON.parse(out.trim().split("\n").pop()).experiment_id;
  log(`reference: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = null;
  const startServer = async () => {
    server = spawn(
      join(repo, venv, "bin/mlflow"),
      ["server", "--backend-store-uri", `sqlite:///${dir}/m.db`, "--default-artifact-root", join(dir, "art"), "--host", "127.0.0.1", "--port", String(port)],
      { stdio: "ignore", detached: true },
    );
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(base + "/health")).ok) break;
      } catch {}
      if (i > 1200) throw new Error("mlflow server did not come up");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopServer = async () => {
    if (server && server.exitCode === null) {
      const done = new Promise((r) => server.once("exit", r));
      process.kill(-server.pid, "SIGTERM"); // its workers are in its process group
      // a worker busy with a long query does not stop on SIGTERM
      const t = setTimeout(() => process.kill(-server.pid, "SIGKILL"), 10000);
      await done;
      clearTimeout(t);
      try {
        process.kill(-server.pid, "SIGKILL"); // workers left behind by the parent
      } catch {}
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  let browser;
  try {
    await startServer();
    for (const [label, order_by] of REF_SKIP_SERVER ? [] : [
      ["default (start_time DESC)", []],
      ["metrics.acc DESC", ["metrics.`acc` DESC"]],
      ["params.lr ASC", ["params.`lr` ASC"]],
      ["tags.team ASC", ["tags.`team` ASC"]],
      ["attributes.start_time ASC", ["attributes.start_time ASC"]],
      ["attributes.run_name ASC", ["attributes.run_name ASC"]],
    ]) {
      // MLflow takes seconds to minutes per query here: 3 repetitions, each given REF_TIMEOUT_S
      const t = [];
      let timedOut = false;
      for (let i = 0; i < Math.min(REPEATS, 3) && !timedOut; i++) {
        const s0 = performance.now();
        try {
          const r = await fetch(`${base}/api/2.0/mlflow/runs/search`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ experiment_ids: [exp], max_results: 100, order_by }),
            signal: AbortSignal.timeout(REF_TIMEOUT_S * 1000),
          });
          const j = await r.json();
          if (!r.ok || j.runs?.length !== 100) throw new Error(`mlflow runs/search ${label}: ${JSON.stringify(j).slice(0, 200)}`);
          t.push(performance.now() - s0);
        } catch (e) {
          if (e.name !== "TimeoutError") throw e;
          timedOut = true;
        }
      }
      console.log(
        `reference: server runs/search, first 100, ${label}: ${timedOut ? `no answer within ${REF_TIMEOUT_S} s` : fmt(t)}`,
      );
      if (timedOut) {
        // the abandoned query still runs in MLflow's worker: restart the server
        await stopServer();
        await startServer();
      }
    }
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
    });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const url = `${base}/#/experiments/${exp}/runs`;
    const firstRow = page.locator(".ag-row", { hasText: /run-\d{6}/ }).first();
    const a = [];
    for (let i = 0; i < REPEATS; i++) {
      await page.goto("about:blank");
      await page.goto(url, { waitUntil: "commit" });
      await firstRow.waitFor({ state: "visible", timeout: 120000 });
      a.push(await page.evaluate(() => performance.now()));
    }
    console.log(`reference (a) navigation start -> first row visible: ${fmt(a)}`);
    // (b) a real click on the Created header; the time from the click event
    // to the first row's name changing
    const b = [];
    const header = page.locator(".ag-header-cell", { hasText: "Created" }).first();
    for (let i = 0; i < REPEATS; i++) {
      const done = page.evaluate(
        () =>
          new Promise((ok, fail) => {
            const first = () =>
              [...document.querySelectorAll('.ag-row[row-index="0"]')].map((r) => r.textContent).join(" ").match(/run-\d{6}/)?.[0] ?? "";
            const was = first();
            let t0 = 0;
            document.addEventListener("click", (ev) => (t0 = ev.timeStamp), { capture: true, once: true });
            const start = performance.now();
            const tick = () =>
              t0 && first() && first() !== was
                ? ok(performance.now() - t0)
                : performance.now() - start > 120000
                  ? fail(new Error("no change"))
                  : requestAnimationFrame(tick);
            tick();
          }),
      );
      await header.click();
      b.push(await done);
    }
    console.log(`reference (b) click on the Created header -> first row changed: ${fmt(b)}`);
    const c = [];
    const rowCount = () => page.evaluate(() => Number(document.querySelector('[role="grid"]')?.getAttribute("aria-rowcount") ?? 0));
    for (let i = 0; i < REPEATS; i++) {
      const n = await rowCount();
      const more = page.getByRole("button", { name: "Load more" });
      const s0 = Date.now();
      await more.click();
      await page.waitForFunction((k) => Number(document.querySelector('[role="grid"]')?.getAttribute("aria-rowcount") ?? 0) > k, n, { timeout: 120000, polling: "raf" });
      c.push(Date.now() - s0);
    }
    console.log(`reference (c) "Load more" click -> more rows (100 a page): ${fmt(c)}`);
  } finally {
    await browser?.close();
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function all() {
  if (!REF_ONLY) await main();
  if (REFERENCE || REF_ONLY) await reference();
}

all().catch((e) => {
  console.error(e);
  process.exit(1);
});
