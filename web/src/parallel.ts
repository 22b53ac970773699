// The compare page's parallel-coordinates plot: one axis per param or metric
// that differs between the runs (numbers on value axes, other strings on
// category axes), one line per run coloured by a chosen metric. Drawn by
// Apache ECharts, imported piece by piece so the bundle carries only the
// parallel chart; this module is loaded on demand by compare.ts. The axes
// and the colour metric are kept in the URL (axes=, color=); the plotted
// values are also in a visually hidden table for screen readers.
import { init, use, type EChartsType } from "echarts/core";
import { ParallelChart } from "echarts/charts";
import { ParallelComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { fmtNumber, h } from "./dom";

use([ParallelChart, ParallelComponent, VisualMapComponent, TooltipComponent, CanvasRenderer]);

export const DEFAULT_AXES = 8;

export interface PlotRun {
  id: string;
  label: string;
  params: Map<string, string>;
  metrics: Map<string, number>;
}

interface Dim {
  id: string; // "params.<key>" or "metrics.<key>"
  name: string;
  numeric: boolean;
  values: (string | number | undefined)[]; // one per run
}

const isNum = (s: string) => s.trim() !== "" && Number.isFinite(Number(s));

function dims(runs: PlotRun[]): Dim[] {
  const out: Dim[] = [];
  const paramKeys = [...new Set(runs.flatMap((r) => [...r.params.keys()]))].sort();
  for (const k of paramKeys) {
    const raw = runs.map((r) => r.params.get(k));
    const present = raw.filter((v): v is string => v !== undefined);
    const numeric = present.length > 0 && present.every(isNum);
    out.push({ id: `params.${k}`, name: k, numeric, values: numeric ? raw.map((v) => (v === undefined ? v : Number(v))) : raw });
  }
  const metricKeys = [...new Set(runs.flatMap((r) => [...r.metrics.keys()]))].sort();
  for (const k of metricKeys) out.push({ id: `metrics.${k}`, name: k, numeric: true, values: runs.map((r) => r.metrics.get(k)) });
  return out;
}

const varies = (d: Dim) => new Set(d.values.map((v) => (v === undefined ? "\u0000" : String(v)))).size > 1;

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/**
 * The plot with its controls. AXES and COLOR come from the URL (undefined:
 * the defaults); ONCHANGE gets the new choice to put back in the URL. The
 * chart is disposed once ALIVE() turns false.
 */
export function parallelSection(
  runs: PlotRun[],
  axesFromUrl: string[] | undefined,
  colorFromUrl: string | undefined,
  alive: () => boolean,
  onChange: (axes: string[], color: string) => void,
): HTMLElement {
  const all = dims(runs);
  const candidates = all.filter(varies);
  const section = h("div", { class: "parallel", id: "parallel" });
  if (runs.length < 2 || !candidates.length) {
    section.append(h("p", { id: "parallel-empty" }, "No parameter or metric differs between these runs, so there is nothing to plot."));
    return section;
  }
  const byId = new Map(all.map((d) => [d.id, d]));
  let axes = (axesFromUrl ?? []).filter((id) => byId.has(id));
  if (!axesFromUrl) axes = candidates.slice(0, DEFAULT_AXES).map((d) => d.id);
  const metricDims = all.filter((d) => d.id.startsWith("metrics."));
  let color =
    colorFromUrl !== undefined
      ? metricDims.some((d) => d.name === colorFromUrl)
        ? colorFromUrl
        : ""
      : (metricDims.find(varies) ?? metricDims[0])?.name ?? "";

  // the controls: which axes, which colour
  const boxes = new Map<string, HTMLInputElement>();
  const shown = [...candidates, ...axes.map((id) => byId.get(id)!).filter((d) => !candidates.includes(d))];
  const axisList = h(
    "div",
    { class: "axes" },
    ...shown.map((d, i) => {
      const box = h("input", { type: "checkbox", id: `axis-${i}`, value: d.id }) as HTMLInputElement;
      box.checked = axes.includes(d.id);
      boxes.set(d.id, box);
      return h("span", { class: "choice" }, box, h("label", { for: `axis-${i}` }, `${d.id.startsWith("params.") ? "param" : "metric"} ${d.name}`));
    }),
  );
  const colorSel = h(
    "select",
    { id: "parallel-color" },
    h("option", { value: "" }, "(one colour)"),
    ...metricDims.map((d) => h("option", { value: d.name }, d.name)),
  ) as HTMLSelectElement;
  colorSel.value = color;
  const controls = h(
    "div",
    { class: "parallel-controls" },
    h("fieldset", {}, h("legend", {}, "Axes (params and metrics that differ)"), axisList),
    h("p", { class: "color-choice" }, h("label", { for: "parallel-color" }, "Colour lines by metric"), colorSel),
  );
  const plot = h("div", { class: "parallel-plot", id: "parallel-plot", role: "img" });
  const note = h("p", { class: "muted chart-note", id: "parallel-note" });
  const summary = h("table", { class: "sr-only", id: "parallel-values" });
  const figure = h("figure", { class: "parallel" }, h("figcaption", {}, "One line per run"), plot, note, summary);
  section.append(controls, figure);

  let chart: EChartsType | undefined;
  const draw = () => {
    // the colour metric is always on an axis: the line colours read it there
    const ids = [...axes];
    if (color && !ids.includes(`metrics.${color}`)) ids.push(`metrics.${color}`);
    const used = ids.map((id) => byId.get(id)!).filter(Boolean);
    const names = used.map((d) => `${d.id.startsWith("params.") ? "param" : "metric"} ${d.name}`);
    plot.setAttribute("aria-label", `Parallel coordinates of ${runs.length} runs over ${used.length} axes: ${names.join(", ")}`);
    note.textContent = used.length
      ? `${runs.length} runs · ${used.length} axes${color ? ` · colour: metric ${color}` : ""}`
      : "Choose at least one axis.";
    summary.replaceChildren(
      h("caption", {}, "Plotted values"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Run"), ...names.map((n) => h("th", { scope: "col" }, n)))),
      h(
        "tbody",
        {},
        ...runs.map((r, i) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, r.label),
            ...used.map((d) => {
              const v = d.values[i];
              return h("td", {}, v === undefined ? "—" : typeof v === "number" ? fmtNumber(v) : v);
            }),
          ),
        ),
      ),
    );
    if (!used.length) {
      chart?.clear();
      return;
    }
    const fg = cssVar("--fg", "#1b1f24");
    const muted = cssVar("--muted", "#57606a");
    const line = cssVar("--line", "#d0d7de");
    const parallelAxis = used.map((d, dim) => {
      const base = {
        dim,
        name: names[dim],
        nameLocation: "end" as const,
        nameTextStyle: { color: fg, fontSize: 12 },
        axisLine: { lineStyle: { color: muted } },
        axisTick: { lineStyle: { color: muted } },
        axisLabel: { color: fg },
        splitLine: { show: false },
      };
      if (d.numeric) return { ...base, type: "value" as const, scale: true };
      const cats = [...new Set(d.values.map((v) => (v === undefined ? "—" : String(v))))].sort();
      return { ...base, type: "category" as const, data: cats };
    });
    const data = runs.map((r, i) => ({
      name: r.label,
      value: used.map((d) => {
        const v = d.values[i];
        return d.numeric ? (v === undefined ? "-" : (v as number)) : v === undefined ? "—" : String(v);
      }),
    }));
    const colorDim = color ? used.findIndex((d) => d.id === `metrics.${color}`) : -1;
    const cvals = colorDim >= 0 ? used[colorDim].values.filter((v): v is number => typeof v === "number") : [];
    let lo = cvals.length ? Math.min(...cvals) : 0;
    let hi = cvals.length ? Math.max(...cvals) : 1;
    if (lo === hi) hi = lo + 1;
    if (!chart) chart = init(plot, undefined, { renderer: "canvas" });
    chart.setOption(
      {
        animation: false,
        backgroundColor: "transparent",
        tooltip: { trigger: "item", confine: true },
        parallel: { left: 60, right: colorDim >= 0 ? 110 : 60, top: 50, bottom: 30 },
        parallelAxis,
        visualMap:
          colorDim >= 0
            ? {
                type: "continuous",
                dimension: colorDim,
                seriesIndex: 0,
                min: lo,
                max: hi,
                right: 10,
                top: "middle",
                itemHeight: 200,
                text: [fmtNumber(hi), fmtNumber(lo)],
                textStyle: { color: fg },
                inRange: { color: ["#3b6fd4", "#22a884", "#e0a100", "#d1443a"] },
              }
            : undefined,
        series: [
          {
            type: "parallel",
            lineStyle: { width: 2, opacity: 0.85, color: colorDim >= 0 ? undefined : cssVar("--link", "#0550ae") },
            emphasis: { lineStyle: { width: 4 } },
            data,
          },
        ],
        textStyle: { color: fg },
        color: [line],
      },
      { notMerge: true },
    );
  };
  const changed = () => {
    axes = shown.map((d) => d.id).filter((id) => boxes.get(id)!.checked);
    color = colorSel.value;
    onChange(axes, color);
    draw();
  };
  for (const b of boxes.values()) b.addEventListener("change", changed);
  colorSel.addEventListener("change", changed);
  // drawn once the section is in the page (ECharts measures its box)
  requestAnimationFrame(() => {
    if (!alive()) return;
    draw();
    const ro = new ResizeObserver(() => {
      if (!alive()) {
        ro.disconnect();
        chart?.dispose();
        return;
      }
      chart?.resize();
    });
    ro.observe(plot);
    // the canvas' colours come from the CSS variables: draw again when they change
    const scheme = matchMedia("(prefers-color-scheme: dark)");
    const recolour = () => (alive() ? draw() : scheme.removeEventListener("change", recolour));
    scheme.addEventListener("change", recolour);
  });
  return section;
}
