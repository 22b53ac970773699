// Compare runs (#/compare?runs=<id>,<id>,...): a table of params and latest
// metrics (rows = keys, columns = runs) whose differing rows are marked in
// text and colour, a parallel-coordinates plot of what differs (parallel.ts,
// loaded on demand; axes= and color= in the URL), then one overlaid chart per
// metric key (one series per run).
import { api, type Run } from "./api";
import { metricsPanel } from "./charts";
import { clear, errorBox, fmtNumber, h, loading, statusBadge } from "./dom";

/** The most runs one comparison shows (get-history-bulk-interval takes 100). */
export const MAX_COMPARE = 20;

export async function comparePage(
  root: HTMLElement,
  alive: () => boolean,
  ids: string[],
  params: URLSearchParams = new URLSearchParams(),
): Promise<void> {
  const runIds = [...new Set(ids.map((s) => s.trim()).filter(Boolean))];
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"));
  const body = h("div", {}, loading("the runs"));
  root.append(crumbs, h("h1", {}, "Compare runs"), body);
  document.title = "Compare runs · Trellis";
  if (runIds.length < 1 || runIds.length > MAX_COMPARE) {
    clear(body);
    body.append(errorBox(`Give 1 to ${MAX_COMPARE} run IDs: #/compare?runs=<id>,<id>`));
    return;
  }
  const got = await Promise.allSettled(runIds.map((id) => api.getRun(id)));
  if (!alive()) return;
  clear(body);
  const runs: Run[] = [];
  got.forEach((g, i) => {
    if (g.status === "fulfilled") runs.push(g.value.run);
    else body.append(errorBox(`Could not load run ${runIds[i]}: ${(g.reason as Error).message}`));
  });
  if (!runs.length) return;
  const exp = runs[0].info.experiment_id;
  crumbs.append(" / ", h("a", { href: `#/experiments/${encodeURIComponent(exp)}` }, `Experiment ${exp}`));
  const label = (r: Run) => r.info.run_name || r.info.run_id;

  type Row = { kind: "param" | "metric"; key: string; values: (string | undefined)[] };
  const rows: Row[] = [];
  const collect = (kind: Row["kind"], get: (r: Run) => Map<string, string>) => {
    const maps = runs.map(get);
    const keys = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort();
    for (const key of keys) rows.push({ kind, key, values: maps.map((m) => m.get(key)) });
  };
  collect("param", (r) => new Map((r.data.params ?? []).map((p) => [p.key, p.value])));
  collect("metric", (r) => new Map((r.data.metrics ?? []).map((m) => [m.key, fmtNumber(Number(m.value))])));
  const differs = (row: Row) => new Set(row.values.map((v) => v ?? "\u0000missing")).size > 1;
  const nDiff = rows.filter(differs).length;

  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Key"),
    h("th", { scope: "col" }, "Same?"),
    ...runs.map((r) =>
      h(
        "th",
        { scope: "col" },
        h(
          "a",
          {
            href: `#/experiments/${encodeURIComponent(r.info.experiment_id)}/runs/${encodeURIComponent(r.info.run_id)}`,
          },
          label(r),
        ),
        " ",
        statusBadge(r.info.status),
      ),
    ),
  );
  const section = (kind: Row["kind"], title: string) => {
    const mine = rows.filter((r) => r.kind === kind);
    if (!mine.length) return [];
    return [
      h("tr", { class: "group" }, h("th", { scope: "rowgroup", colspan: runs.length + 2 }, title)),
      ...mine.map((row) => {
        const d = differs(row);
        return h(
          "tr",
          { class: d ? "differs" : "same", "data-key": `${kind}s.${row.key}` },
          h("th", { scope: "row" }, row.key),
          h("td", { class: "marker" }, d ? "≠ differs" : "same"),
          ...row.values.map((v) =>
            h("td", { class: kind === "metric" ? "num value" : "value" }, v ?? h("span", { class: "muted" }, "—")),
          ),
        );
      }),
    ];
  };
  const onlyDiff = h("input", { type: "checkbox", id: "only-differences" });
  const table = h(
    "table",
    { class: "grid diff", id: "diff-table" },
    h(
      "caption",
      {},
      `${runs.length} runs · ${rows.length} keys · ${nDiff} differ${nDiff === 1 ? "s" : ""} (marked “≠ differs”)`,
    ),
    h("thead", {}, head),
    h("tbody", {}, ...section("param", "Parameters"), ...section("metric", "Latest metrics")),
  );
  onlyDiff.addEventListener("change", () => table.classList.toggle("only-differences", onlyDiff.checked));
  const parallel = h(
    "section",
    { "aria-labelledby": "h-parallel", id: "compare-parallel" },
    h("h2", { id: "h-parallel" }, "Parallel coordinates"),
    loading("the plot"),
  );
  const plotRuns = runs.map((r) => ({
    id: r.info.run_id,
    label: label(r),
    params: new Map((r.data.params ?? []).map((p) => [p.key, p.value])),
    metrics: new Map((r.data.metrics ?? []).map((m) => [m.key, Number(m.value)])),
  }));
  const axesParam = params.get("axes");
  import("./parallel")
    .then((m) => {
      if (!alive()) return;
      parallel.replaceChildren(
        parallel.firstChild!,
        m.parallelSection(
          plotRuns,
          axesParam === null ? undefined : axesParam.split(",").filter(Boolean),
          params.get("color") ?? undefined,
          alive,
          (axes, color) => {
            const p = new URLSearchParams(params);
            p.set("axes", axes.join(","));
            p.set("color", color);
            history.replaceState(null, "", `#/compare?${p.toString().replace(/%2C/g, ",")}`);
          },
        ),
      );
    })
    .catch((e) => alive() && parallel.replaceChildren(parallel.firstChild!, errorBox(`Could not draw the plot: ${(e as Error).message}`)));
  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  body.append(
    h(
      "section",
      { "aria-labelledby": "h-diff" },
      h("h2", { id: "h-diff" }, "Parameters and metrics"),
      h("p", { class: "choice" }, onlyDiff, h("label", { for: "only-differences" }, "Show only rows that differ")),
      h("div", { class: "table-wrap" }, table),
    ),
    parallel,
    h(
      "section",
      { "aria-labelledby": "h-compare-charts", id: "compare-charts" },
      h("h2", { id: "h-compare-charts" }, "Metric charts"),
      metricKeys.length
        ? metricsPanel(
            metricKeys,
            runs.map((r) => ({ id: r.info.run_id, label: label(r) })),
            alive,
          )
        : h("p", {}, "No metrics."),
    ),
  );
}
