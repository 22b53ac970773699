// One run: overview, params, metrics (latest values, and a chart of each
// metric's history), tags (MLflow runs/get, metrics/get-history-bulk-interval),
// its artifacts (browsed and previewed, artifacts.ts) and its lineage
// (run_lineage.ts). `?artifact=<path>` opens that file's preview.
import { api, type KV, type Run } from "./api";
import { artifactsSection } from "./artifacts";
import { runLineageSection } from "./run_lineage";
import { metricsPanel } from "./charts";
import { clear, errorBox, fmtDuration, fmtNumber, fmtTime, h, loading, statusBadge } from "./dom";

export async function runPage(root: HTMLElement, alive: () => boolean, experimentId: string, runId: string, artifact = "") {
  const body = h("div", {}, loading("the run"));
  root.append(
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "#/experiments" }, "Experiments"),
      " / ",
      h("a", { href: `#/experiments/${encodeURIComponent(experimentId)}` }, `Experiment ${experimentId}`),
    ),
    body,
  );
  let run: Run;
  try {
    run = (await api.getRun(runId)).run;
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(h("h1", {}, "Run"), errorBox(`Could not load run ${runId}: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  clear(body);
  const i = run.info;
  document.title = `${i.run_name || i.run_id} · Trellis`;
  const userTags = (run.data.tags ?? []).filter((t) => !t.key.startsWith("mlflow."));
  const systemTags = (run.data.tags ?? []).filter((t) => t.key.startsWith("mlflow."));
  body.append(
    h("h1", {}, i.run_name || i.run_id),
    h(
      "section",
      { "aria-labelledby": "h-overview" },
      h("h2", { id: "h-overview" }, "Overview"),
      h(
        "dl",
        { class: "overview" },
        ...pair("Run ID", h("span", { class: "mono" }, i.run_id)),
        ...pair("Status", statusBadge(i.status)),
        ...pair("Experiment", h("a", { href: `#/experiments/${encodeURIComponent(i.experiment_id)}` }, i.experiment_id)),
        ...pair("Started", fmtTime(i.start_time)),
        ...pair("Ended", fmtTime(i.end_time)),
        ...pair("Duration", i.status === "RUNNING" ? "running" : fmtDuration(i.start_time, i.end_time)),
        ...pair("User", i.user_id || "—"),
        ...pair("Artifacts", h("span", { class: "mono" }, i.artifact_uri || "—")),
      ),
    ),
    kvSection("params", "Parameters", run.data.params ?? [], "No parameters."),
    h(
      "section",
      { "aria-labelledby": "h-metrics" },
      h("h2", { id: "h-metrics" }, "Metrics"),
      (run.data.metrics ?? []).length
        ? h(
            "table",
            { class: "grid", id: "metrics-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Key"),
                h("th", { scope: "col", class: "num" }, "Latest value"),
                h("th", { scope: "col", class: "num" }, "Step"),
                h("th", { scope: "col" }, "Logged"),
              ),
            ),
            h(
              "tbody",
              {},
              ...[...(run.data.metrics ?? [])]
                .sort((a, b) => a.key.localeCompare(b.key))
                .map((m) =>
                  h(
                    "tr",
                    {},
                    h("th", { scope: "row" }, m.key),
                    h("td", { class: "num" }, fmtNumber(m.value)),
                    h("td", { class: "num" }, m.step ?? 0),
                    h("td", {}, fmtTime(m.timestamp)),
                  ),
                ),
            ),
          )
        : h("p", {}, "No metrics."),
      (run.data.metrics ?? []).length
        ? h(
            "section",
            { "aria-labelledby": "h-charts", id: "metric-charts" },
            h("h3", { id: "h-charts" }, "Charts"),
            metricsPanel(
              [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort(),
              [{ id: i.run_id, label: i.run_name || i.run_id }],
              alive,
            ),
          )
        : null,
    ),
    kvSection("tags", "Tags", userTags, "No tags."),
    kvSection("system-tags", "System tags", systemTags, "None."),
    artifactsSection(i.run_id, alive, artifact, (path) => {
      // the selected file in the URL, without reloading the page
      const base = `#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;
      if (alive()) history.replaceState(null, "", `${base}?${new URLSearchParams({ artifact: path }).toString()}`);
    }),
    runLineageSection(run, alive),
  );
}

function pair(k: string, v: Node | string): HTMLElement[] {
  return [h("dt", {}, k), h("dd", {}, v)];
}

function kvSection(id: string, title: string, rows: KV[], empty: string): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": `h-${id}` },
    h("h2", { id: `h-${id}` }, title),
    rows.length
      ? h(
          "table",
          { class: "grid kv", id: `${id}-table` },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"))),
          h(
            "tbody",
            {},
            ...[...rows]
              .sort((a, b) => a.key.localeCompare(b.key))
              .map((p) => h("tr", {}, h("th", { scope: "row" }, p.key), h("td", { class: "value" }, p.value))),
          ),
        )
      : h("p", {}, empty),
  );
}
