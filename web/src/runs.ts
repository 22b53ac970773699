// The runs of one experiment: MLflow runs/search, 100 runs a page (so an
// experiment with 100k runs costs one page), a filter in MLflow's search
// language whose errors the server explains inline, and "Load more" paging.
import { api, type Run } from "./api";
import { MAX_COMPARE } from "./compare";
import { clear, errorBox, fmtDuration, fmtNumber, fmtTime, h, loading, statusBadge } from "./dom";

const PAGE = 100;
const MAX_COLUMNS = 4;

export async function runsPage(
  root: HTMLElement,
  alive: () => boolean,
  experimentId: string,
  filter: string,
): Promise<void> {
  const title = h("h1", {}, `Experiment ${experimentId}`);
  const meta = h("p", { class: "muted" });
  const input = h("input", {
    id: "run-filter",
    name: "filter",
    type: "search",
    value: filter,
    placeholder: "metrics.acc > 0.5 and params.lr = '0.01'",
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Filter runs" },
    h("label", { for: "run-filter" }, "Filter"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = input.value.trim();
    const base = `#/experiments/${encodeURIComponent(experimentId)}`;
    const next = f ? `${base}?filter=${encodeURIComponent(f)}` : base;
    if (location.hash === next) render();
    else location.hash = next;
  });
  const body = h("div", { id: "runs" });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments")),
    title,
    meta,
    form,
    body,
  );

  api
    .getExperiment(experimentId)
    .then((r) => {
      if (!alive()) return;
      title.textContent = r.experiment.name;
      meta.textContent = `ID ${r.experiment.experiment_id} · artifacts at ${r.experiment.artifact_location ?? "—"}`;
      document.title = `${r.experiment.name} · Trellis`;
    })
    .catch((e) => alive() && meta.replaceChildren(errorBox(`Could not load the experiment: ${e.message}`)));

  async function render(): Promise<void> {
    clear(body);
    body.append(loading("runs"));
    let first;
    try {
      first = await api.searchRuns(experimentId, filter, undefined, PAGE);
    } catch (e) {
      if (!alive()) return;
      clear(body);
      body.append(errorBox(`Search failed: ${(e as Error).message}`));
      return;
    }
    if (!alive()) return;
    clear(body);
    const runs = first.runs ?? [];
    if (!runs.length) {
      body.append(h("p", {}, filter ? "No runs match this filter." : "No runs in this experiment yet."));
      return;
    }
    // the columns: the first params and metrics seen on the first page
    const paramKeys = keysOf(runs, (r) => r.data.params?.map((p) => p.key));
    const metricKeys = keysOf(runs, (r) => r.data.metrics?.map((m) => m.key));
    const caption = h("caption", {});
    const tbody = h("tbody");
    const selected = new Set<string>();
    const compare = h("button", { type: "button", id: "compare-runs", disabled: true }, "Compare");
    const chosen = h("span", { class: "muted", role: "status", "aria-live": "polite" }, "Select 2 or more runs to compare.");
    const onSelect = (id: string, on: boolean) => {
      if (on) selected.add(id);
      else selected.delete(id);
      compare.disabled = selected.size < 2 || selected.size > MAX_COMPARE;
      chosen.textContent =
        selected.size > MAX_COMPARE
          ? `${selected.size} selected; at most ${MAX_COMPARE} can be compared.`
          : `${selected.size} selected.`;
    };
    compare.addEventListener("click", () => {
      if (selected.size >= 2) location.hash = `#/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
    });
    const head = h(
      "tr",
      {},
      h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Select")),
      h("th", { scope: "col" }, "Run"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "Started"),
      h("th", { scope: "col" }, "Duration"),
      ...paramKeys.map((k) => h("th", { scope: "col", class: "param" }, k)),
      ...metricKeys.map((k) => h("th", { scope: "col", class: "metric num" }, k)),
    );
    let count = 0;
    const add = (rs: Run[]) => {
      for (const r of rs) tbody.append(row(experimentId, r, paramKeys, metricKeys, onSelect));
      count += rs.length;
      caption.textContent = `${count} run${count === 1 ? "" : "s"} shown${filter ? ` matching ${filter}` : ""}`;
    };
    add(runs);
    const table = h("table", { class: "grid", id: "runs-table" }, caption, h("thead", {}, head), tbody);
    const more = h("div", { class: "more" });
    body.append(h("div", { class: "toolbar" }, compare, chosen), h("div", { class: "table-wrap" }, table), more);
    let token = first.next_page_token;
    const showMore = () => {
      clear(more);
      if (!token) return;
      const btn = h("button", { type: "button" }, `Load ${PAGE} more`);
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        btn.textContent = "Loading…";
        try {
          const r = await api.searchRuns(experimentId, filter, token, PAGE);
          if (!alive()) return;
          add(r.runs ?? []);
          token = r.next_page_token;
          showMore();
        } catch (e) {
          clear(more);
          more.append(errorBox(`Could not load more runs: ${(e as Error).message}`));
        }
      });
      more.append(btn);
    };
    showMore();
  }
  await render();
}

function keysOf(runs: Run[], get: (r: Run) => string[] | undefined): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const k of get(r) ?? []) if (seen.size < MAX_COLUMNS) seen.add(k);
  return [...seen].sort();
}

function row(
  experimentId: string,
  r: Run,
  paramKeys: string[],
  metricKeys: string[],
  onSelect: (id: string, on: boolean) => void,
): HTMLElement {
  const params = new Map((r.data.params ?? []).map((p) => [p.key, p.value]));
  const metrics = new Map((r.data.metrics ?? []).map((m) => [m.key, m.value]));
  const i = r.info;
  const box = h("input", { type: "checkbox", class: "select-run", "aria-label": `Select ${i.run_name || i.run_id}` });
  box.addEventListener("change", () => onSelect(i.run_id, box.checked));
  return h(
    "tr",
    {},
    h("td", { class: "select" }, box),
    h(
      "td",
      {},
      h(
        "a",
        { href: `#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(i.run_id)}` },
        i.run_name || i.run_id,
      ),
    ),
    h("td", {}, statusBadge(i.status)),
    h("td", {}, fmtTime(i.start_time)),
    h("td", { class: "num" }, i.status === "RUNNING" ? "running" : fmtDuration(i.start_time, i.end_time)),
    ...paramKeys.map((k) => h("td", { class: "param" }, params.get(k) ?? "")),
    ...metricKeys.map((k) => h("td", { class: "num" }, metrics.has(k) ? fmtNumber(metrics.get(k)!) : "")),
  );
}
