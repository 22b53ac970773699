// What every browser test file shares: a real `trellis server` (TRELLIS_BIN)
// on a free port with a fresh store under /tmp (mode 0755: pipeline steps run
// as `nobody`), filled by a script run with the official mlflow client
// (MLFLOW_PYTHON, default ../.venv/mlflow3/bin/python); Debian's chromium
// (/usr/bin/chromium, or CHROMIUM) driven by playwright-core; axe-core checks
// and light/dark screenshots under build/ui-screenshots/.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, mkdirSync, rmSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

export const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const shots = join(repo, "build/ui-screenshots");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const bin = process.env.TRELLIS_BIN || join(repo, "build/trellis");
export const python = process.env.MLFLOW_PYTHON || join(repo, ".venv/mlflow3/bin/python");
// not resolved: the venv is found from this path (its bin/python is a symlink)
export const kfpPython = process.env.KFP_PYTHON || join(repo, ".venv/kfp/bin/python");

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export async function waitHealthy(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url + "/health")).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("trellis server did not come up");
}

// Starts a server on a fresh store; `extraArgs` go to `trellis server`.
// Returns {base, tmp, proc, stop()}; stop() ends it and removes its folder.
export async function startServer(extraArgs = []) {
  const tmp = mkdtempSync("/tmp/trellis-ui-");
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "artifacts"), { mode: 0o755 });
  chmodSync(join(tmp, "artifacts"), 0o755);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(
    bin,
    ["server", "--port", String(port), "--backend-store-uri", `sqlite:///${tmp}/t.db`,
     "--artifacts-destination", join(tmp, "artifacts"), "--step-python", kfpPython, ...extraArgs],
    { cwd: tmp, stdio: "ignore" },
  );
  await waitHealthy(base);
  return {
    base,
    tmp,
    proc,
    stop: async () => {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await done;
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// Runs a Python script with the mlflow client against `base`; returns the
// JSON object its last line prints.
export function fill(base, cwd, script, py = python) {
  const out = execFileSync(py, ["-c", script], {
    cwd,
    env: { ...process.env, MLFLOW_TRACKING_URI: base },
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.trim().split("\n").pop());
}

// A headless browser and one page at 1280×800 whose console errors are
// collected in `errors` (clear it at the start of a test).
export async function openBrowser() {
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  // bypassCSP: only so axe-core can be injected; the app itself runs under the server's CSP
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await ctx.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, ctx, page, errors };
}

// axe-core on the page: no serious or critical violations.
export async function axe(page, name) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe on ${name}`,
  );
}

// Full-page screenshots in light and dark at the page's size (1280×800):
// build/ui-screenshots/<name>-<scheme>.png, and at 1920×1080:
// <name>-<scheme>-1920.png. At both sizes the page must be readable without
// scrolling sideways: wide content (tables, graphs) scrolls in its own box.
export async function screenshots(page, name) {
  const size = page.viewportSize();
  try {
    for (const [w, h, suffix] of [[size.width, size.height, ""], [1920, 1080, "-1920"]]) {
      await page.setViewportSize({ width: w, height: h });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} at ${w}x${h}: the page scrolls sideways by ${overflow}px`);
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.screenshot({ path: join(shots, `${name}-${scheme}${suffix}.png`), fullPage: true });
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize(size);
  }
}
