// The experiments page: every experiment (MLflow experiments/search), and a
// form creating one (experiments/create).
import { api, ApiError, type Experiment } from "./api";
import { clear, errorBox, fmtTime, h, loading } from "./dom";

export async function experimentsPage(root: HTMLElement, alive: () => boolean): Promise<void> {
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
  root.append(h("h1", {}, "Experiments"), form, formError, list);

  list.append(loading("experiments"));
  let experiments: Experiment[] = [];
  try {
    let token: string | undefined;
    do {
      const r = await api.searchExperiments(token);
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
    list.append(h("p", {}, "No experiments yet."));
    return;
  }
  const tbody = h("tbody");
  for (const x of experiments)
    tbody.append(
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: `#/experiments/${encodeURIComponent(x.experiment_id)}` }, x.name)),
        h("td", { class: "mono" }, x.experiment_id),
        h("td", {}, fmtTime(x.creation_time)),
        h("td", {}, fmtTime(x.last_update_time)),
      ),
    );
  list.append(
    h(
      "table",
      { class: "grid" },
      h("caption", {}, `${experiments.length} experiment${experiments.length === 1 ? "" : "s"}`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "ID"),
          h("th", { scope: "col" }, "Created"),
          h("th", { scope: "col" }, "Last update"),
        ),
      ),
      tbody,
    ),
  );
}
