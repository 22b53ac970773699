// The component library (Shoelace) under the server's real CSP: the badges,
// alerts, spinners and the switch render (their shadow roots exist, with our
// colours), nothing is fetched from another origin, no request fails, no CSP
// violation, and the dark theme class follows prefers-color-scheme.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, fill, openBrowser, axe, screenshots } from "./harness.mjs";

let srv, base, browser, page, fixture;

const FILL = `
import json, time
import mlflow
from mlflow.entities import Metric
c = mlflow.MlflowClient()
eid = c.create_experiment("comp")
now = int(time.time() * 1000)
ids = {}
for name, status in [("ok-run", "FINISHED"), ("bad-run", "FAILED"), ("live-run", None)]:
    r = c.create_run(eid, run_name=name, start_time=now - 60000)
    c.log_batch(r.info.run_id, metrics=[Metric("loss", 1 / (s + 1), now + s, s) for s in range(20)])
    if status:
        c.set_terminated(r.info.run_id, status, end_time=now)
    ids[name] = r.info.run_id
print(json.dumps({"experiment_id": eid, "runs": ids}))
`;

before(async () => {
  srv = await startServer();
  base = srv.base;
  fixture = fill(base, srv.tmp, FILL);
  ({ browser, page } = await openBrowser());
});

after(async () => {
  await browser?.close();
  srv?.stop();
});

// A page in a context that keeps the server's CSP (no bypassCSP), recording
// every request, failed response, console error and CSP violation.
async function strictPage(colorScheme = "light") {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme });
  const p = await ctx.newPage();
  const log = { requests: [], failed: [], errors: [] };
  p.on("request", (r) => log.requests.push(r.url()));
  p.on("requestfailed", (r) => log.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  p.on("response", (r) => r.status() >= 400 && !r.url().includes("/api/") && log.failed.push(`${r.url()} ${r.status()}`));
  p.on("console", (m) => m.type() === "error" && log.errors.push(m.text()));
  p.on("pageerror", (e) => log.errors.push(String(e)));
  await p.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { ctx, p, log };
}

// the computed style of a shadow part of the first element matching `sel`
const partStyle = (p, sel, part, prop) =>
  p.evaluate(
    ([s, pt, pr]) => {
      const el = document.querySelector(s);
      const base = el?.shadowRoot?.querySelector(`[part~="${pt}"]`);
      return base ? getComputedStyle(base)[pr] : null;
    },
    [sel, part, prop],
  );

test("under the server's CSP: badges, switch, alert and spinner render; nothing leaves the origin", async () => {
  const { ctx, p, log } = await strictPage();
  try {
    const { experiment_id: eid, runs } = fixture;
    // runs table: status badges as sl-badge, with their text and our colours
    await p.goto(`${base}/#/experiments/${eid}`);
    await p.locator("#runs-table tbody tr.run-row").first().waitFor();
    const badges = p.locator("#runs-table sl-badge.badge");
    assert.equal(await badges.count(), 3);
    assert.deepEqual((await badges.allInnerTexts()).sort(), ["FAILED", "FINISHED", "RUNNING"]);
    await p.waitForFunction(() => !!document.querySelector("sl-badge.badge-finished")?.shadowRoot?.querySelector('[part~="base"]'));
    const okBg = await partStyle(p, "sl-badge.badge-finished", "base", "backgroundColor");
    const failBg = await partStyle(p, "sl-badge.badge-failed", "base", "backgroundColor");
    assert.equal(okBg, "rgb(218, 251, 225)"); // --ok-bg
    assert.equal(failBg, "rgb(255, 235, 233)"); // --fail-bg
    assert.equal(await p.locator("sl-badge.badge-failed").getAttribute("variant"), "danger");

    // run page: the log-scale switch, with the keyboard
    await p.goto(`${base}/#/experiments/${eid}/runs/${runs["ok-run"]}`);
    const loss = p.locator('#metric-charts figure.chart[data-metric="loss"][data-points="20"]');
    await loss.waitFor();
    const sw = p.getByRole("switch", { name: "Log scale (y)" });
    assert.equal(await sw.isChecked(), false);
    await sw.focus();
    await p.keyboard.press("Space");
    await p.locator('#metric-charts figure.chart[data-metric="loss"][data-log="true"]').waitFor();
    assert.equal(await sw.isChecked(), true);
    assert.equal(await p.locator("dl.overview sl-badge").innerText(), "FINISHED");

    // an error: one role=alert, the server's message as its text, a danger sl-alert
    await p.goto(`${base}/#/experiments/${eid}?filter=${encodeURIComponent("metrics.loss >>> 1")}`);
    const alert = p.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Search failed: .{5,}/);
    assert.equal(await alert.evaluate((el) => el.localName), "sl-alert");
    assert.equal(await alert.getAttribute("variant"), "danger");
    assert.equal(await p.getByRole("alert").count(), 1, "one alert, not the host and its part");
    assert.equal(await partStyle(p, "sl-alert.error", "base", "color"), "rgb(130, 7, 30)"); // --err-fg

    // loading: a spinner with an accessible name, while the runs are slow to come
    let release;
    const held = new Promise((r) => (release = r));
    await p.route("**/api/2.0/mlflow/runs/search", async (route) => {
      await held;
      await route.continue();
    });
    await p.goto(`${base}/#/experiments/${eid}/runs/${runs["bad-run"]}`);
    await p.goto(`${base}/#/experiments/${eid}`);
    const spinner = p.locator("p.loading sl-spinner");
    await spinner.waitFor();
    assert.ok(await p.getByRole("progressbar", { name: "Loading" }).first().isVisible());
    assert.match(await p.locator("p.loading").first().innerText(), /Loading .+…/);
    release();
    await p.locator("#runs-table tbody tr.run-row").first().waitFor();
    await p.unroute("**/api/2.0/mlflow/runs/search");

    // the experiments' rename form: an sl-input labelled for screen readers, sl-buttons
    await p.goto(`${base}/#/experiments?q=comp`);
    await p.getByRole("button", { name: "Rename comp" }).click();
    const input = p.getByLabel("New name for comp");
    await p.waitForFunction(() => document.activeElement?.localName === "sl-input"); // focused, as before
    await input.fill("comp-renamed");
    assert.equal(await p.locator("form.rename-form sl-button").count(), 2);
    assert.ok(await p.getByRole("button", { name: "Save" }).isVisible());
    await input.press("Enter");
    await p.getByRole("link", { name: "comp-renamed" }).waitFor();
    assert.equal(await p.locator("form.rename-form").count(), 0, "the form closes once renamed");

    const origin = new URL(base).origin;
    assert.ok(log.requests.length > 5);
    assert.deepEqual(log.requests.filter((u) => new URL(u).origin !== origin), [], "requests to another origin");
    assert.deepEqual(log.failed, [], "failed requests");
    assert.deepEqual(await p.evaluate(() => window.__csp), [], "CSP violations");
    assert.deepEqual(log.errors.filter((e) => !/400 \(Bad Request\)/.test(e)), [], "console errors");
  } finally {
    await ctx.close();
  }
});

test("the dark theme class follows prefers-color-scheme, also when it changes", async () => {
  const { ctx, p, log } = await strictPage("dark");
  try {
    await p.goto(`${base}/#/experiments/${fixture.experiment_id}`);
    await p.locator("#runs-table sl-badge.badge-finished").waitFor();
    assert.equal(await p.evaluate(() => document.documentElement.classList.contains("sl-theme-dark")), true);
    await p.waitForFunction(() => !!document.querySelector("sl-badge.badge-finished")?.shadowRoot?.querySelector('[part~="base"]'));
    assert.equal(await partStyle(p, "sl-badge.badge-finished", "base", "backgroundColor"), "rgb(18, 54, 31)"); // dark --ok-bg
    await p.emulateMedia({ colorScheme: "light" });
    await p.waitForFunction(() => !document.documentElement.classList.contains("sl-theme-dark"));
    assert.equal(await partStyle(p, "sl-badge.badge-finished", "base", "backgroundColor"), "rgb(218, 251, 225)");
    await p.emulateMedia({ colorScheme: "dark" });
    await p.waitForFunction(() => document.documentElement.classList.contains("sl-theme-dark"));
    assert.deepEqual(await p.evaluate(() => window.__csp), []);
    assert.deepEqual(log.errors, []);
  } finally {
    await ctx.close();
  }
});

test("axe and screenshots: the components on the runs, run and error pages", async () => {
  const { experiment_id: eid, runs } = fixture;
  await page.goto(`${base}/#/experiments/${eid}`);
  await page.locator("#runs-table sl-badge").first().waitFor();
  await axe(page, "comp-runs");
  await page.goto(`${base}/#/experiments/${eid}/runs/${runs["bad-run"]}`);
  await page.locator('#metric-charts figure.chart[data-points="20"]').waitFor();
  await axe(page, "comp-run");
  await screenshots(page, "comp-run");
  await page.goto(`${base}/#/experiments/${eid}?filter=${encodeURIComponent("metrics.loss >>> 1")}`);
  await page.getByRole("alert").waitFor();
  await axe(page, "comp-error");
  await screenshots(page, "comp-error");
});
