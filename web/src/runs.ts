// The runs of one or more experiments (MLflow runs/search) as a virtual
// table: only the rows in view (and a few around them) are in the DOM, so an
// experiment with 100k runs scrolls as one with 100. The first page holds 100
// runs; further pages of 1000 are fetched with `page_token` when the view
// comes near the end of what is loaded. Sorting is the server's (`order_by`,
// by clicking a column header); the filter takes MLflow's search language
// (the server's error is shown inline); the columns are chosen among the
// params, metrics, tags and attributes of the loaded runs. Runs carrying the
// tag mlflow.parentRunId are folded under their parent when it is loaded.
// URL: #/experiments/<id> or #/runs?experiments=<id>,<id>, with
//   filter=<search>  cols=<col>,<col> (params.lr, metrics.acc, tags.team,
//   attributes.user_id; "cols=" for none)  order=<col>:asc|desc
import { api, type Run } from "./api";
import { runsApi } from "./api_runs";
import { MAX_COMPARE } from "./compare";
import { clear, errorBox, fmtDuration, fmtNumber, fmtTime, h, loading, statusBadge } from "./dom";
import "./runs.css";

const FIRST_PAGE = 100;
const PAGE = 1000;
const MAX_DEFAULT_COLUMNS = 4;
const ROW_H = 36; // px; must match `#runs-table tr.run-row` in runs.css
const OVERSCAN = 10;
const PARENT_TAG = "mlflow.parentRunId";

type Kind = "attributes" | "params" | "metrics" | "tags";
interface Col {
  id: string; // "params.lr"
  kind: Kind;
  key: string;
  label: string;
  sortable: boolean;
  num?: boolean;
}

// attributes the picker offers (run name, status, start and duration are always shown)
const ATTRS: Record<string, { label: string; sortable: boolean }> = {
  end_time: { label: "Ended", sortable: true },
  user_id: { label: "User", sortable: true },
  run_id: { label: "Run ID", sortable: true },
  experiment_id: { label: "Experiment", sortable: false },
};

function colOf(id: string): Col | null {
  const dot = id.indexOf(".");
  if (dot < 1) return null;
  const kind = id.slice(0, dot) as Kind;
  const key = id.slice(dot + 1);
  if (!key) return null;
  if (kind === "attributes") {
    const a = ATTRS[key];
    return a ? { id, kind, key, label: a.label, sortable: a.sortable } : null;
  }
  if (kind !== "params" && kind !== "metrics" && kind !== "tags") return null;
  return { id, kind, key, label: key, sortable: true, num: kind === "metrics" };
}

// the fixed columns' sort ids
const FIXED_SORT: Record<string, string> = {
  name: "attributes.run_name",
  status: "attributes.status",
  start: "attributes.start_time",
};

function orderBy(sortId: string, asc: boolean): string[] {
  const dot = sortId.indexOf(".");
  const kind = sortId.slice(0, dot);
  const key = sortId.slice(dot + 1);
  const dir = asc ? "ASC" : "DESC";
  if (kind === "attributes") return [`attributes.${key} ${dir}`];
  return [`${kind}.\`${key.replace(/`/g, "")}\` ${dir}`];
}

interface State {
  filter: string;
  cols: string[] | null; // null: the default (first params and metrics)
  sort: string | null; // a column id
  asc: boolean;
}

function queryOf(s: State, experimentIds: string[] | null): string {
  const p = new URLSearchParams();
  if (experimentIds) p.set("experiments", experimentIds.join(","));
  if (s.filter) p.set("filter", s.filter);
  if (s.cols) p.set("cols", s.cols.map(encodeURIComponent).join(","));
  if (s.sort) p.set("order", `${s.sort}:${s.asc ? "asc" : "desc"}`);
  return p.toString();
}

export function parseRunsQuery(params: URLSearchParams): State {
  const cols = params.get("cols");
  const order = params.get("order") ?? "";
  const m = /^(.+):(asc|desc)$/.exec(order);
  return {
    filter: params.get("filter") ?? "",
    cols: cols === null ? null : cols.split(",").filter(Boolean).map(decodeURIComponent),
    sort: m ? m[1] : null,
    asc: m ? m[2] === "asc" : false,
  };
}

interface Row {
  run: Run;
  depth: number;
}

export async function runsPage(
  root: HTMLElement,
  alive: () => boolean,
  experimentIds: string[],
  state: State,
  multi: boolean,
): Promise<void> {
  const ids = experimentIds.filter(Boolean);
  const base = () => (multi ? "#/runs" : `#/experiments/${encodeURIComponent(ids[0])}`);
  const urlOf = (s: State) => {
    const q = queryOf(s, multi ? ids : null);
    return q ? `${base()}?${q}` : base();
  };
  const title = h("h1", {}, multi ? `Runs of ${ids.length} experiments` : `Experiment ${ids[0]}`);
  const meta = h("p", { class: "muted" });
  const input = h("input", {
    id: "run-filter",
    name: "filter",
    type: "search",
    value: state.filter,
    placeholder: "metrics.acc > 0.5 and (params.lr = '0.01' or params.lr = '0.1')",
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
    const next = urlOf({ ...state, filter: input.value.trim() });
    if (location.hash === next) void reload();
    else location.hash = next;
  });
  const picker = h("details", { id: "column-picker", class: "column-picker" });
  const body = h("div", { id: "runs" });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments")),
    title,
    meta,
    form,
    picker,
    body,
  );

  if (ids.length === 0) {
    body.append(errorBox("No experiment given: open runs from the experiments page."));
    return;
  }
  Promise.all(ids.map((id) => api.getExperiment(id).then((r) => r.experiment)))
    .then((xs) => {
      if (!alive()) return;
      if (!multi) {
        const x = xs[0];
        title.textContent = x.name;
        meta.textContent = `ID ${x.experiment_id} · artifacts at ${x.artifact_location ?? "—"}`;
        document.title = `${x.name} · Trellis`;
      } else {
        meta.replaceChildren(
          "Experiments: ",
          ...xs.flatMap((x, i) => [
            i ? ", " : "",
            h("a", { href: `#/experiments/${encodeURIComponent(x.experiment_id)}` }, x.name),
          ]),
        );
        document.title = `Runs of ${xs.map((x) => x.name).join(", ")} · Trellis`;
      }
    })
    .catch((e) => alive() && meta.replaceChildren(errorBox(`Could not load the experiment: ${e.message}`)));

  // --- the data -----------------------------------------------------------
  let runs: Run[] = [];
  const byId = new Map<string, Run>();
  const parentOf = new Map<string, string>();
  const children = new Map<string, Run[]>();
  let rows: Row[] = [];
  let token: string | undefined;
  let fetching = false;
  let generation = 0;
  const expanded = new Set<string>();
  const selected = new Set<string>();
  const keys: Record<"params" | "metrics" | "tags", Set<string>> = {
    params: new Set(),
    metrics: new Set(),
    tags: new Set(),
  };
  let cols: Col[] = [];

  // --- the table ----------------------------------------------------------
  const status = h("p", { class: "muted runs-count", role: "status", "aria-live": "polite" });
  const compare = h("button", { type: "button", id: "compare-runs", disabled: true }, "Compare");
  const chosen = h("span", { class: "muted", "aria-live": "polite" }, "Select 2 or more runs to compare.");
  compare.addEventListener("click", () => {
    if (selected.size >= 2) location.hash = `#/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
  });
  const onSelect = (id: string, on: boolean) => {
    if (on) selected.add(id);
    else selected.delete(id);
    compare.disabled = selected.size < 2 || selected.size > MAX_COMPARE;
    chosen.textContent =
      selected.size > MAX_COMPARE
        ? `${selected.size} selected; at most ${MAX_COMPARE} can be compared.`
        : `${selected.size} selected.`;
  };
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "grid", id: "runs-table" }, h("caption", { class: "sr-only" }, "Runs"), thead, tbody);
  const scroller = h("div", { class: "runs-scroller", id: "runs-scroller" }, table);
  const more = h("div", { class: "more" });

  const showExperiment = ids.length > 1;
  const ncols = () => 5 + (showExperiment ? 1 : 0) + cols.length;

  function sortHeader(label: string, sortId: string | null, cls = ""): HTMLElement {
    if (!sortId) return h("th", { scope: "col", class: cls }, label);
    const active = state.sort === sortId;
    const th = h("th", {
      scope: "col",
      class: `${cls} sortable`,
      "aria-sort": active ? (state.asc ? "ascending" : "descending") : "none",
      "data-sort": sortId,
    });
    const btn = h(
      "button",
      { type: "button", class: "sort", "data-fkey": `sort:${sortId}` },
      label,
      h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (state.asc ? " ▲" : " ▼") : ""),
    );
    btn.addEventListener("click", () => {
      if (state.sort === sortId) state.asc = !state.asc;
      else {
        state.sort = sortId;
        state.asc = false;
      }
      history.replaceState(null, "", urlOf(state));
      void reload();
    });
    th.append(btn);
    return th;
  }

  function paintHead(): void {
    thead.replaceChildren(
      h(
        "tr",
        {},
        h("th", { scope: "col", class: "select" }, h("span", { class: "sr-only" }, "Select")),
        sortHeader("Run", FIXED_SORT.name),
        showExperiment ? h("th", { scope: "col" }, "Experiment") : null,
        sortHeader("Status", FIXED_SORT.status),
        sortHeader("Started", FIXED_SORT.start),
        h("th", { scope: "col", class: "num" }, "Duration"),
        ...cols.map((c) =>
          sortHeader(c.label, c.sortable ? c.id : null, `${c.kind === "metrics" ? "metric num" : c.kind === "params" ? "param" : c.kind}`),
        ),
      ),
    );
  }

  function cell(r: Run, c: Col): HTMLElement {
    let v = "";
    if (c.kind === "params") v = r.data.params?.find((p) => p.key === c.key)?.value ?? "";
    else if (c.kind === "tags") v = r.data.tags?.find((p) => p.key === c.key)?.value ?? "";
    else if (c.kind === "metrics") {
      const m = r.data.metrics?.find((p) => p.key === c.key);
      v = m ? fmtNumber(m.value) : "";
    } else if (c.key === "end_time") v = r.info.end_time ? fmtTime(r.info.end_time) : "";
    else v = String((r.info as Record<string, unknown>)[c.key] ?? "");
    return h("td", { class: c.num ? "num" : "", title: v.length > 24 ? v : undefined }, v);
  }

  function rowEl(row: Row, index: number): HTMLElement {
    const i = row.run.info;
    const box = h("input", {
      type: "checkbox",
      class: "select-run",
      "aria-label": `Select ${i.run_name || i.run_id}`,
      "data-fkey": `sel:${i.run_id}`,
    });
    box.checked = selected.has(i.run_id);
    box.addEventListener("change", () => onSelect(i.run_id, box.checked));
    const kids = children.get(i.run_id);
    const nameCell = h("td", { class: `run-name depth-${Math.min(row.depth, 4)}` });
    if (kids?.length) {
      const open = expanded.has(i.run_id);
      const fold = h(
        "button",
        {
          type: "button",
          class: "fold",
          "aria-expanded": open ? "true" : "false",
          "aria-label": `${open ? "Hide" : "Show"} ${kids.length} child run${kids.length === 1 ? "" : "s"} of ${i.run_name || i.run_id}`,
          "data-fkey": `fold:${i.run_id}`,
        },
        open ? "▾" : "▸",
      );
      fold.addEventListener("click", () => {
        if (expanded.has(i.run_id)) expanded.delete(i.run_id);
        else expanded.add(i.run_id);
        rebuild();
        paint(true);
      });
      nameCell.append(fold, " ");
    } else if (row.depth === 0) nameCell.append(h("span", { class: "fold-space", "aria-hidden": "true" }));
    nameCell.append(
      h(
        "a",
        { href: `#/experiments/${encodeURIComponent(i.experiment_id)}/runs/${encodeURIComponent(i.run_id)}` },
        i.run_name || i.run_id,
      ),
    );
    if (kids?.length) nameCell.append(h("span", { class: "muted kids" }, ` (${kids.length})`));
    return h(
      "tr",
      {
        class: `run-row${row.depth ? " child-row" : ""}`,
        "data-run": i.run_id,
        "aria-rowindex": index + 2,
        ...(row.depth ? { "data-parent": parentOf.get(i.run_id) } : {}),
      },
      h("td", { class: "select" }, box),
      nameCell,
      showExperiment ? h("td", { class: "mono" }, i.experiment_id) : null,
      h("td", {}, statusBadge(i.status)),
      h("td", {}, fmtTime(i.start_time)),
      h("td", { class: "num" }, i.status === "RUNNING" ? "running" : fmtDuration(i.start_time, i.end_time)),
      ...cols.map((c) => cell(row.run, c)),
    );
  }

  function spacer(px: number): HTMLElement {
    const td = h("td", { colspan: ncols() });
    const tr = h("tr", { class: "spacer", "aria-hidden": "true" }, td);
    tr.style.height = `${px}px`;
    return tr;
  }

  let painted = "";
  function paint(force = false): void {
    const top = scroller.scrollTop;
    const view = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + view) / ROW_H) + OVERSCAN);
    const sig = `${first}:${last}:${rows.length}`;
    if (force || sig !== painted) {
      painted = sig;
      const focused = document.activeElement as HTMLElement | null;
      const focusKey = focused?.dataset?.fkey;
      const out: HTMLElement[] = [];
      if (first > 0) out.push(spacer(first * ROW_H));
      for (let k = first; k < last; k++) out.push(rowEl(rows[k], k));
      if (last < rows.length) out.push(spacer((rows.length - last) * ROW_H));
      tbody.replaceChildren(...out);
      if (focusKey && !focused!.isConnected)
        (tbody.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`) as HTMLElement | null)?.focus();
    }
    // near the end of what is loaded: the next page
    if (token && !fetching && last >= rows.length - OVERSCAN * 3) void fetchPage();
  }
  let frame = 0;
  scroller.addEventListener("scroll", () => {
    if (!frame)
      frame = requestAnimationFrame(() => {
        frame = 0;
        paint();
      });
  });

  function rebuild(): void {
    const out: Row[] = [];
    const push = (r: Run, depth: number) => {
      out.push({ run: r, depth });
      if (depth < 8 && expanded.has(r.info.run_id)) for (const c of children.get(r.info.run_id) ?? []) push(c, depth + 1);
    };
    for (const r of runs) {
      const p = parentOf.get(r.info.run_id);
      if (p && byId.has(p) && p !== r.info.run_id) continue;
      push(r, 0);
    }
    rows = out;
    table.setAttribute("aria-rowcount", String(rows.length + 1));
  }

  function paintCount(): void {
    const n = runs.length;
    const top = rows.length;
    status.textContent =
      `${n.toLocaleString("en")} run${n === 1 ? "" : "s"} loaded` +
      (top !== n ? ` (${top.toLocaleString("en")} rows, child runs folded)` : "") +
      (token ? "; more load as you scroll" : "") +
      (state.filter ? ` · matching ${state.filter}` : "");
    table.dataset.loaded = String(n);
    table.dataset.complete = token ? "false" : "true";
  }

  function learnKeys(rs: Run[]): boolean {
    let grew = false;
    const add = (set: Set<string>, k: string) => {
      if (!set.has(k)) {
        set.add(k);
        grew = true;
      }
    };
    for (const r of rs) {
      for (const p of r.data.params ?? []) add(keys.params, p.key);
      for (const m of r.data.metrics ?? []) add(keys.metrics, m.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith("mlflow.") || t.key === "mlflow.user" || t.key === "mlflow.source.name") add(keys.tags, t.key);
    }
    return grew;
  }

  function paintPicker(): void {
    const open = picker.open;
    const current = new Set(cols.map((c) => c.id));
    const group = (legend: string, ids: string[]) => {
      if (!ids.length) return null;
      return h(
        "fieldset",
        {},
        h("legend", {}, legend),
        ...ids.map((id) => {
          const c = colOf(id)!;
          const box = h("input", { type: "checkbox", id: `col-${id}`, "data-col": id, "data-fkey": `col:${id}` });
          box.checked = current.has(id);
          box.addEventListener("change", () => {
            const now = cols.map((x) => x.id).filter((x) => x !== id);
            if (box.checked) now.push(id);
            state.cols = now;
            cols = now.map(colOf).filter((x): x is Col => !!x);
            history.replaceState(null, "", urlOf(state));
            paintHead();
            paint(true);
            summary.textContent = `Columns (${cols.length})`;
          });
          return h("label", { class: "col-choice" }, box, ` ${c.label}`);
        }),
      );
    };
    const sorted = (s: Set<string>, kind: string) => [...s].sort().map((k) => `${kind}.${k}`);
    const summary = h("summary", {}, `Columns (${cols.length})`);
    const focusKey = (document.activeElement as HTMLElement | null)?.dataset?.fkey;
    picker.replaceChildren(
      summary,
      h(
        "div",
        { class: "col-groups" },
        group("Attributes", Object.keys(ATTRS).map((k) => `attributes.${k}`)),
        group("Parameters", sorted(keys.params, "params")),
        group("Metrics", sorted(keys.metrics, "metrics")),
        group("Tags", sorted(keys.tags, "tags")),
      ),
    );
    picker.open = open;
    if (focusKey?.startsWith("col:")) (picker.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`) as HTMLElement | null)?.focus();
  }

  function add(rs: Run[]): void {
    for (const r of rs) {
      const id = r.info.run_id;
      if (byId.has(id)) continue;
      byId.set(id, r);
      runs.push(r);
      const p = r.data.tags?.find((t) => t.key === PARENT_TAG)?.value;
      if (p) {
        parentOf.set(id, p);
        const list = children.get(p);
        if (list) list.push(r);
        else children.set(p, [r]);
      }
    }
    if (learnKeys(rs)) paintPicker();
  }

  async function fetchPage(): Promise<void> {
    if (fetching || !token) return;
    fetching = true;
    const gen = generation;
    clear(more);
    more.append(loading("more runs"));
    try {
      const r = await runsApi.searchRuns(ids, state.filter, sortOrder(), token, PAGE);
      if (!alive() || gen !== generation) return;
      token = r.next_page_token;
      add(r.runs ?? []);
      rebuild();
      clear(more);
      paintCount();
    } catch (e) {
      if (!alive() || gen !== generation) return;
      clear(more);
      more.append(errorBox(`Could not load more runs: ${(e as Error).message}`));
      const retry = h("button", { type: "button" }, "Try again");
      retry.addEventListener("click", () => void fetchPage());
      more.append(retry);
      return;
    } finally {
      if (gen === generation) fetching = false;
    }
    paint(true);
  }

  const sortOrder = () => (state.sort ? orderBy(state.sort, state.asc) : []);

  async function reload(): Promise<void> {
    const gen = ++generation;
    fetching = false;
    const focusKey = (document.activeElement as HTMLElement | null)?.dataset?.fkey;
    if (scroller.isConnected) status.textContent = "Loading runs…";
    else {
      clear(body);
      body.append(loading("runs"));
    }
    let first;
    try {
      first = await runsApi.searchRuns(ids, state.filter, sortOrder(), undefined, FIRST_PAGE);
    } catch (e) {
      if (!alive() || gen !== generation) return;
      clear(body);
      body.append(errorBox(`Search failed: ${(e as Error).message}`));
      return;
    }
    if (!alive() || gen !== generation) return;
    runs = [];
    byId.clear();
    parentOf.clear();
    children.clear();
    token = first.next_page_token;
    add(first.runs ?? []);
    if (state.cols === null) {
      // the default: the first params and metrics seen on the first page
      const pk = [...keys.params].sort().slice(0, MAX_DEFAULT_COLUMNS).map((k) => `params.${k}`);
      const mk = [...keys.metrics].sort().slice(0, MAX_DEFAULT_COLUMNS).map((k) => `metrics.${k}`);
      cols = [...pk, ...mk].map(colOf).filter((x): x is Col => !!x);
    } else cols = state.cols.map(colOf).filter((x): x is Col => !!x);
    paintPicker();
    rebuild();
    clear(body);
    if (!runs.length) {
      body.append(h("p", {}, state.filter ? "No runs match this filter." : "No runs in this experiment yet."));
      return;
    }
    paintHead();
    paintCount();
    body.append(h("div", { class: "toolbar" }, compare, chosen), status, scroller, more);
    scroller.scrollTop = 0;
    paint(true);
    if (focusKey) (table.querySelector(`[data-fkey="${CSS.escape(focusKey)}"]`) as HTMLElement | null)?.focus();
  }
  await reload();
}
