// The experiments page: experiments searched by name (MLflow's
// experiments/search, `name LIKE '%x%'`) in a lifecycle view (Active, Deleted,
// All); rename (experiments/update), delete and restore, each with the
// server's error inline; several selected experiments open their runs together
// (#/runs?experiments=1,2); a form creating one (experiments/create).
// URL: #/experiments?q=<part of the name>&view=active|deleted|all
import { api, ApiError, type Experiment } from "./api";
import { runsApi, type ViewType } from "./api_runs";
import { badge, clear, errorBox, fmtTime, h, loading } from "./dom";
import "./runs.css";

const VIEWS: { id: string; label: string; api: ViewType }[] = [
  { id: "active", label: "Active", api: "ACTIVE_ONLY" },
  { id: "deleted", label: "Deleted", api: "DELETED_ONLY" },
  { id: "all", label: "All", api: "ALL" },
];

function hashFor(q: string, view: string): string {
  const p = new URLSearchParams();
  if (q) p.set("q", q);
  if (view !== "active") p.set("view", view);
  const s = p.toString();
  return s ? `#/experiments?${s}` : "#/experiments";
}

export async function experimentsPage(
  root: HTMLElement,
  alive: () => boolean,
  query = "",
  viewId = "active",
): Promise<void> {
  const view = VIEWS.find((v) => v.id === viewId) ?? VIEWS[0];
  const list = h("div", { id: "experiment-list" });
  const formError = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "new-experiment", name: "name", type: "text", required: true, autocomplete: "off" });
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Create experiment" },
    h("label", { for: "new-experiment" }, "New experiment"),
    name,
    h("button", { type: "submit" }, "Create"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(formError);
    const n = name.value.trim();
    if (!n) {
      formError.append(errorBox("give the experiment a name"));
      return;
    }
    try {
      const r = await api.createExperiment(n);
      location.hash = `#/experiments/${encodeURIComponent(r.experiment_id)}`;
    } catch (e) {
      formError.append(errorBox((e as ApiError).message));
    }
  });

  const search = h("input", {
    id: "experiment-search",
    name: "q",
    type: "search",
    value: query,
    placeholder: "part of the name",
    autocomplete: "off",
  });
  const viewSel = h(
    "select",
    { id: "experiment-view", name: "view" },
    ...VIEWS.map((v) => h("option", { value: v.id, selected: v.id === view.id }, v.label)),
  );
  const searchForm = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Search experiments" },
    h("label", { for: "experiment-search" }, "Name contains"),
    search,
    h("label", { for: "experiment-view" }, "Show"),
    viewSel,
    h("button", { type: "submit" }, "Search"),
  );
  const go = () => {
    const next = hashFor(search.value.trim(), viewSel.value);
    if (location.hash !== next) location.hash = next;
  };
  searchForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go();
  });
  viewSel.addEventListener("change", go);
  root.append(h("h1", {}, "Experiments"), searchForm, form, formError, list);

  list.append(loading("experiments"));
  let experiments: Experiment[] = [];
  try {
    let token: string | undefined;
    do {
      const r = await runsApi.searchExperiments(query, view.api, token);
      experiments = experiments.concat(r.experiments ?? []);
      token = r.next_page_token;
    } while (token && experiments.length < 10000 && alive());
  } catch (e) {
    if (!alive()) return;
    clear(list);
    list.append(errorBox(`Could not load experiments: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  clear(list);
  if (!experiments.length) {
    list.append(h("p", {}, query ? "No experiments match this name." : "No experiments in this view."));
    return;
  }

  const selected = new Set<string>();
  const openRuns = h("button", { type: "button", id: "open-runs", disabled: true }, "Open runs of selected");
  const selInfo = h("span", { class: "muted", role: "status", "aria-live": "polite" }, "Select experiments to see their runs together.");
  openRuns.addEventListener("click", () => {
    if (selected.size) location.hash = `#/runs?experiments=${[...selected].map(encodeURIComponent).join(",")}`;
  });
  const onSelect = (id: string, on: boolean) => {
    if (on) selected.add(id);
    else selected.delete(id);
    openRuns.disabled = selected.size === 0;
    selInfo.textContent = `${selected.size} selected.`;
  };

  const tbody = h("tbody");
  for (const x of experiments) tbody.append(experimentRow(x, onSelect, () => alive()));
  list.append(
    h("div", { class: "toolbar" }, openRuns, selInfo),
    h(
      "table",
      { class: "grid", id: "experiments-table" },
      h(
        "caption",
        {},
        `${experiments.length} experiment${experiments.length === 1 ? "" : "s"}${query ? ` whose name contains “${query}”` : ""} (${view.label.toLowerCase()})`,
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Select")),
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "ID"),
          h("th", { scope: "col" }, "Created"),
          h("th", { scope: "col" }, "Last update"),
          h("th", { scope: "col" }, "State"),
          h("th", { scope: "col" }, "Actions"),
        ),
      ),
      tbody,
    ),
  );
}

function experimentRow(
  x: Experiment,
  onSelect: (id: string, on: boolean) => void,
  alive: () => boolean,
): HTMLElement {
  const id = x.experiment_id;
  let deleted = x.lifecycle_stage === "deleted";
  let currentName = x.name;
  const box = h("input", { type: "checkbox", class: "select-experiment", "aria-label": `Select ${x.name}` });
  box.addEventListener("change", () => onSelect(id, box.checked));
  const link = h("a", { href: `#/experiments/${encodeURIComponent(id)}` }, x.name);
  const nameCell = h("td", { class: "exp-name" }, link);
  const state = h("td", {}, badge(deleted ? "deleted" : "active", deleted ? "failed" : "finished"));
  const msg = h("div", { class: "row-error", "aria-live": "polite" });
  const rename = h("button", { type: "button", class: "rename" }, "Rename");
  const lifecycle = h("button", { type: "button", class: "lifecycle" });
  const actions = h("td", { class: "actions" }, rename, lifecycle, msg);
  const tr = h(
    "tr",
    { "data-experiment": id },
    h("td", { class: "select" }, box),
    nameCell,
    h("td", { class: "mono" }, id),
    h("td", {}, fmtTime(x.creation_time)),
    h("td", {}, fmtTime(x.last_update_time)),
    state,
    actions,
  );
  const paint = () => {
    lifecycle.textContent = deleted ? "Restore" : "Delete";
    lifecycle.setAttribute("aria-label", `${deleted ? "Restore" : "Delete"} ${currentName}`);
    rename.setAttribute("aria-label", `Rename ${currentName}`);
    state.replaceChildren(
      badge(deleted ? "deleted" : "active", deleted ? "failed" : "finished"),
    );
  };
  paint();
  lifecycle.addEventListener("click", async () => {
    clear(msg);
    lifecycle.disabled = true;
    try {
      if (deleted) await runsApi.restoreExperiment(id);
      else await runsApi.deleteExperiment(id);
      if (!alive()) return;
      deleted = !deleted;
      paint();
      msg.append(h("span", { class: "muted" }, deleted ? "Deleted." : "Restored."));
    } catch (e) {
      msg.append(errorBox((e as Error).message));
    } finally {
      lifecycle.disabled = false;
    }
  });
  rename.addEventListener("click", () => {
    clear(msg);
    // Shoelace's input and buttons: Enter in the input submits the form; the
    // input's label is its accessible name (shown to screen readers only)
    const input = h("sl-input" as "input", {
      value: currentName,
      label: `New name for ${currentName}`,
      class: "rename-input",
      autocomplete: "off",
      size: "small",
    });
    const f = h(
      "form",
      { class: "inline-form rename-form", "aria-label": `Rename ${currentName}` },
      input,
      h("sl-button" as "button", { type: "submit", size: "small" }, "Save"),
      h("sl-button" as "button", { type: "button", class: "cancel", size: "small" }, "Cancel"),
    );
    const close = () => {
      nameCell.replaceChildren(link);
      rename.focus();
    };
    f.querySelector(".cancel")!.addEventListener("click", close);
    f.addEventListener("keydown", (ev) => {
      if ((ev as KeyboardEvent).key === "Escape") close();
    });
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(msg);
      const n = input.value.trim();
      if (!n) {
        msg.append(errorBox("give the experiment a name"));
        return;
      }
      try {
        await runsApi.renameExperiment(id, n);
        if (!alive()) return;
        currentName = n;
        link.textContent = n;
        box.setAttribute("aria-label", `Select ${n}`);
        paint();
        close();
        msg.append(h("span", { class: "muted" }, "Renamed."));
      } catch (e) {
        msg.append(errorBox((e as Error).message));
      }
    });
    nameCell.replaceChildren(f);
    // the sl-input's own <input> exists once it has rendered
    (input as HTMLInputElement & { updateComplete: Promise<unknown> }).updateComplete.then(() => {
      input.focus();
      input.select();
    });
  });
  return tr;
}
