// Metric charts drawn by uPlot (no chart drawing here): one chart per metric
// key, one series per run, with shared controls (x = step or relative time,
// exponential-moving-average smoothing, log-scale y). This file only turns
// MLflow metric points into uPlot's columns and options.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api, MAX_POINTS, type Metric } from "./api";
import { errorBox, fmtNumber, h, loading } from "./dom";

export interface Series {
  label: string;
  points: Metric[];
}
export interface ChartOptions {
  x: "step" | "time";
  smoothing: number; // 0 (none) .. 0.99
  log: boolean;
}

/** Exponential moving average with TensorBoard's debiasing (the first
 * points are not pulled towards 0); nulls (gaps, NaN) pass through. */
export function ema(ys: (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return ys.slice();
  let acc = 0;
  let n = 0;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y)) return null;
    acc = weight * acc + (1 - weight) * y;
    n++;
    return acc / (1 - Math.pow(weight, n));
  });
}

/** One series as sorted, de-duplicated x and y columns (the last value
 * logged at an x wins). Time is seconds since the series' first point. */
export function columns(points: Metric[], o: ChartOptions): [number[], (number | null)[]] {
  const t0 = points.reduce((m, p) => Math.min(m, Number(p.timestamp)), Infinity);
  const xOf = (p: Metric) => (o.x === "step" ? Number(p.step ?? 0) : (Number(p.timestamp) - t0) / 1000);
  const sorted = points
    .map((p, i) => ({ x: xOf(p), y: Number(p.value), i }))
    .sort((a, b) => a.x - b.x || a.i - b.i);
  const xs: number[] = [];
  const raw: (number | null)[] = [];
  for (const p of sorted) {
    const y = Number.isFinite(p.y) ? p.y : null;
    if (xs.length && xs[xs.length - 1] === p.x) raw[raw.length - 1] = y;
    else {
      xs.push(p.x);
      raw.push(y);
    }
  }
  const ys = ema(raw, o.smoothing).map((y) => (o.log && y !== null && !(y > 0) ? null : y));
  return [xs, ys];
}

const PALETTE_LIGHT = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#bf3989", "#0a7b83", "#57606a"];
const PALETTE_DARK = ["#58a6ff", "#ff7b72", "#3fb950", "#d2a8ff", "#ffa657", "#ff9bce", "#39c5cf", "#8b949e"];
const dark = () => window.matchMedia("(prefers-color-scheme: dark)").matches;
const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Draws (or redraws) one chart into `plot`; returns the uPlot instance. */
export function drawChart(plot: HTMLElement, series: Series[], o: ChartOptions): uPlot {
  const cols = series.map((s) => columns(s.points, o));
  const data: uPlot.AlignedData =
    cols.length === 1 ? [cols[0][0], cols[0][1]] : uPlot.join(cols.map(([x, y]) => [x, y] as uPlot.AlignedData));
  const fg = cssVar("--fg") || "#1b1f24";
  const line = cssVar("--line") || "#d0d7de";
  const palette = dark() ? PALETTE_DARK : PALETTE_LIGHT;
  const longest = Math.max(0, ...cols.map((c) => c[0].length));
  const xLabel = o.x === "step" ? "Step" : "Seconds since first point";
  const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const opts: uPlot.Options = {
    width: Math.max(280, plot.clientWidth || 560),
    height: 240,
    scales: { x: { time: false }, y: o.log ? { distr: 3, log: 10 } : { distr: 1 } },
    axes: [
      { ...axis, label: xLabel },
      { ...axis, size: 64, values: (_u, vals) => vals.map((v) => (v === null ? "" : fmtNumber(v))) },
    ],
    series: [
      { label: o.x === "step" ? "step" : "seconds" },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: palette[i % palette.length],
        width: 1.5,
        spanGaps: true,
        points: { show: longest <= 60, size: 4 },
        value: (_u: uPlot, v: number | null) => (v === null ? "—" : fmtNumber(v)),
      })),
    ],
  };
  plot.replaceChildren();
  const u = new uPlot(opts, data, plot);
  const fig = plot.closest("figure");
  if (fig) {
    fig.dataset.series = String(series.length);
    fig.dataset.points = cols.map(([, ys]) => ys.filter((y) => y !== null).length).join(",");
    fig.dataset.x = o.x;
    fig.dataset.log = String(o.log);
    fig.dataset.last = cols.map(([, ys]) => String(ys.filter((y) => y !== null).pop() ?? "")).join(",");
    fig.dataset.xMax = String(Math.max(...cols.map(([xs]) => (xs.length ? xs[xs.length - 1] : 0))));
  }
  return u;
}

let panelSeq = 0;

/** A "Metrics" panel: the controls and one chart per key, each loaded with
 * get-history-bulk-interval for `runs` (label = run name). */
export function metricsPanel(
  keys: string[],
  runs: { id: string; label: string }[],
  alive: () => boolean,
): HTMLElement {
  const id = `charts-${++panelSeq}`;
  const o: ChartOptions = { x: "step", smoothing: 0, log: false };
  const charts: { plot: HTMLElement; series?: Series[]; u?: uPlot }[] = [];
  const redraw = () => {
    for (const c of charts) {
      if (!c.series) continue;
      c.u?.destroy();
      c.u = drawChart(c.plot, c.series, o);
    }
  };

  const radio = (value: "step" | "time", text: string) => {
    const input = h("input", {
      type: "radio",
      name: `${id}-x`,
      id: `${id}-x-${value}`,
      value,
      checked: value === o.x,
    });
    input.addEventListener("change", () => {
      if (input.checked) {
        o.x = value;
        redraw();
      }
    });
    return h("span", { class: "choice" }, input, h("label", { for: `${id}-x-${value}` }, text));
  };
  const slider = h("input", {
    type: "range",
    id: `${id}-smoothing`,
    class: "smoothing",
    min: 0,
    max: 0.99,
    step: 0.01,
    value: 0,
  });
  const shown = h("output", { for: `${id}-smoothing`, id: `${id}-smoothing-value` }, "0 (off)");
  slider.addEventListener("input", () => {
    o.smoothing = Number(slider.value);
    shown.textContent = o.smoothing ? o.smoothing.toFixed(2) : "0 (off)";
    redraw();
  });
  // a Shoelace switch: its text is its label (a native checkbox inside)
  const log = h("sl-switch" as "span", { id: `${id}-log`, class: "log-scale" }, "Log scale (y)") as HTMLElement & {
    checked: boolean;
  };
  log.addEventListener("sl-change", () => {
    o.log = log.checked;
    redraw();
  });
  const controls = h(
    "div",
    { class: "chart-controls" },
    h("fieldset", { class: "x-axis" }, h("legend", {}, "X axis"), radio("step", "Step"), radio("time", "Relative time")),
    h("span", { class: "choice" }, h("label", { for: `${id}-smoothing` }, "Smoothing"), slider, shown),
    log,
  );

  const grid = h("div", { class: "charts" });
  for (const key of keys) {
    const plot = h("div", { class: "plot" }, loading(key));
    const note = h("p", { class: "muted chart-note" });
    const fig = h("figure", { class: "chart", "data-metric": key }, h("figcaption", {}, key), plot, note);
    grid.append(fig);
    const c: (typeof charts)[number] = { plot };
    charts.push(c);
    queue(async () => {
      if (!alive()) return;
      try {
        const r = await api.metricBulkInterval(
          runs.map((x) => x.id),
          key,
        );
        if (!alive()) return;
        const byRun = new Map<string, Metric[]>();
        for (const m of r.metrics ?? []) {
          if (!byRun.has(m.run_id)) byRun.set(m.run_id, []);
          byRun.get(m.run_id)!.push(m);
        }
        c.series = runs.filter((x) => byRun.has(x.id)).map((x) => ({ label: x.label, points: byRun.get(x.id)! }));
        if (!c.series.length) {
          plot.replaceChildren(h("p", {}, "No points."));
          return;
        }
        c.u = drawChart(plot, c.series, o);
        note.textContent = c.series
          .map((s) => {
            const last = s.points.reduce((a, b) => (Number(b.step) >= Number(a.step) ? b : a));
            const n = s.points.length;
            return `${runs.length > 1 ? `${s.label}: ` : ""}${n} point${n === 1 ? "" : "s"}${n >= MAX_POINTS ? " (sampled)" : ""}, last ${fmtNumber(Number(last.value))} at step ${last.step}`;
          })
          .join("; ");
      } catch (e) {
        if (alive()) plot.replaceChildren(errorBox(`Could not load ${key}: ${(e as Error).message}`));
      }
    });
  }

  // follow the width of the page and the colour scheme
  let width = 0;
  const ro = new ResizeObserver(() => {
    if (!grid.isConnected) return ro.disconnect();
    const w = grid.clientWidth;
    if (w === width) return;
    width = w;
    for (const c of charts) c.u?.setSize({ width: Math.max(280, c.plot.clientWidth), height: 240 });
  });
  ro.observe(grid);
  const mq = window.matchMedia("(prefers-color-scheme: dark)");
  const onScheme = () => (grid.isConnected ? redraw() : mq.removeEventListener("change", onScheme));
  mq.addEventListener("change", onScheme);

  return h("div", { class: "metrics-panel", id }, controls, grid);
}

// at most 4 history requests at a time
const WIDTH = 4;
let running = 0;
const waiting: (() => Promise<void>)[] = [];
function queue(job: () => Promise<void>): void {
  waiting.push(job);
  pump();
}
function pump(): void {
  while (running < WIDTH && waiting.length) {
    const job = waiting.shift()!;
    running++;
    job().finally(() => {
      running--;
      pump();
    });
  }
}
