// The pipeline runs, newest first (KFP's GET /apis/v2beta1/runs), 100 a page;
// states change live from one stream (every run's state changes), and new
// runs appear at the top. "New run" picks a pipeline and version and shows
// the version's run form (run_form.ts).
import { pipelinesApi, type KfpRun } from "./api";
import { kfpApi, streamUrl } from "./api_pipelines";
import { clear, errorBox, fmtDuration, fmtTime, h, loading, statusBadge } from "./dom";
import { runForm } from "./run_form";

export const ts = (s?: string): number | undefined => {
  if (!s || s.startsWith("1970-01-01")) return undefined;
  const v = Date.parse(s);
  return Number.isNaN(v) ? undefined : v;
};

export async function pipelineRunsPage(
  root: HTMLElement,
  alive: () => boolean,
  onLeave: (f: () => void) => void,
  params: URLSearchParams,
) {
  document.title = "Pipeline runs · Trellis";
  const body = h("div", {}, loading("the pipeline runs"));
  const newOpen = params.get("new") === "1";
  const newRun = h(
    "a",
    { href: newOpen ? "#/pipeline-runs" : "#/pipeline-runs?new=1", class: "button-link", id: "new-run", "aria-expanded": String(newOpen) },
    newOpen ? "Close the new run form" : "New run",
  );
  const newPanel = h("div", {});
  root.append(
    h("h1", {}, "Pipeline runs"),
    h("p", { class: "actions" }, newRun, h("a", { href: "#/pipelines", class: "button-link" }, "Pipelines and versions")),
    newPanel,
    body,
  );
  if (newOpen) newRunPanel(newPanel, alive, params.get("pipeline") ?? "", params.get("version") ?? "");
  const tbody = h("tbody", {});
  const rows = new Map<string, HTMLElement>();
  // one stream, opened before the list is read: every run's state changes from now on
  const latest = new Map<string, string>();
  let loaded = false;
  const setState = (tr: HTMLElement, state: string) => {
    const cell = tr.querySelector("td.state");
    if (cell && tr.getAttribute("data-state") !== state) {
      cell.replaceChildren(statusBadge(state));
      tr.setAttribute("data-state", state);
    }
  };
  const src = new EventSource(streamUrl({}));
  onLeave(() => src.close());
  src.addEventListener("run", async (e: Event) => {
    let ev: any;
    try {
      ev = JSON.parse((e as MessageEvent).data);
    } catch {
      return;
    }
    if (!alive() || typeof ev.run_id !== "string" || typeof ev.state !== "string") return;
    latest.set(ev.run_id, ev.state);
    const tr = rows.get(ev.run_id);
    if (tr) return setState(tr, ev.state);
    if (!loaded || ev.state !== "PENDING" || !tbody.isConnected) return;
    // a run made after the list was read: at the top
    rows.set(ev.run_id, h("tr", {}));
    try {
      const r = await pipelinesApi.getKfpRun(ev.run_id);
      if (!alive()) return;
      const fresh = row(r);
      rows.set(ev.run_id, fresh);
      setState(fresh, latest.get(ev.run_id) ?? ev.state);
      tbody.prepend(fresh);
    } catch {
      rows.delete(ev.run_id);
    }
  });
  const more = h("p", { class: "more" });
  let shown = 0;
  const load = async (token?: string) => {
    const res = await pipelinesApi.listRuns(token);
    if (!alive()) return;
    if (shown === 0) {
      clear(body);
      if (!(res.runs ?? []).length) {
        body.append(h("p", {}, "No pipeline runs yet. Submit one with kfp.Client or `trellis run --server`."));
        return;
      }
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid", id: "pipeline-runs-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Run"),
                h("th", { scope: "col" }, "State"),
                h("th", { scope: "col" }, "Created"),
                h("th", { scope: "col" }, "Duration"),
                h("th", { scope: "col" }, "Experiment"),
              ),
            ),
            tbody,
          ),
        ),
        more,
      );
    }
    for (const r of res.runs ?? []) {
      const tr = row(r);
      rows.set(r.run_id, tr);
      const now = latest.get(r.run_id);
      if (now) setState(tr, now);
      tbody.append(tr);
    }
    shown += (res.runs ?? []).length;
    clear(more);
    if (res.next_page_token) {
      const b = h("button", { type: "button" }, "Load 100 more") as HTMLButtonElement;
      b.addEventListener("click", () => {
        b.disabled = true;
        load(res.next_page_token).catch((e) => alive() && more.replaceChildren(errorBox(`Could not load more: ${e.message}`)));
      });
      more.append(b);
    }
  };
  try {
    await load();
    loaded = true;
  } catch (e) {
    if (!alive()) return;
    src.close();
    clear(body);
    body.append(errorBox(`Could not list the pipeline runs: ${(e as Error).message}`));
  }
}

// Pick a pipeline and version, then the version's run form.
async function newRunPanel(panel: HTMLElement, alive: () => boolean, pipelineId: string, versionId: string) {
  const pick = h("select", { id: "new-run-pipeline" }, h("option", { value: "" }, "Loading…")) as HTMLSelectElement;
  const pickV = h("select", { id: "new-run-version", disabled: true }, h("option", { value: "" }, "—")) as HTMLSelectElement;
  const msg = h("div", { "aria-live": "polite" });
  const formBox = h("div", {});
  panel.append(
    h(
      "section",
      { class: "new-run", "aria-label": "New run" },
      h("h2", {}, "New run"),
      h(
        "div",
        { class: "inline-form" },
        h("label", { for: "new-run-pipeline" }, "Pipeline"),
        pick,
        h("label", { for: "new-run-version" }, "Version"),
        pickV,
      ),
      msg,
      formBox,
    ),
  );
  const go = (p: string, v: string) => {
    location.hash = `#/pipeline-runs?${new URLSearchParams({ new: "1", ...(p ? { pipeline: p } : {}), ...(v ? { version: v } : {}) })}`;
  };
  pick.addEventListener("change", () => go(pick.value, ""));
  pickV.addEventListener("change", () => go(pick.value, pickV.value));
  try {
    const ps = (await kfpApi.listPipelines("")).pipelines ?? [];
    if (!alive()) return;
    pick.replaceChildren(
      h("option", { value: "" }, ps.length ? "Choose a pipeline" : "No pipelines: upload one first"),
      ...ps.map((p) => h("option", { value: p.pipeline_id }, p.display_name || p.name || p.pipeline_id)),
    );
    pick.value = pipelineId;
    if (!pipelineId) return;
    const vs = (await kfpApi.listVersions(pipelineId)).pipeline_versions ?? [];
    if (!alive()) return;
    pickV.disabled = false;
    pickV.replaceChildren(
      h("option", { value: "" }, "Choose a version"),
      ...vs.map((v) => h("option", { value: v.pipeline_version_id }, v.display_name || v.name || v.pipeline_version_id)),
    );
    const vid = versionId || vs[0]?.pipeline_version_id || "";
    pickV.value = vid;
    if (!vid) return;
    // the latest version, chosen for the user: in the URL too (no reload)
    if (!versionId)
      history.replaceState(null, "", `#/pipeline-runs?${new URLSearchParams({ new: "1", pipeline: pipelineId, version: vid })}`);
    const [p, v] = await Promise.all([kfpApi.getPipeline(pipelineId), kfpApi.getVersion(pipelineId, vid)]);
    if (!alive()) return;
    formBox.append(runForm({ pipelineId, versionId: vid, spec: v.pipeline_spec, pipelineName: p.display_name || p.name || pipelineId }, alive));
  } catch (e) {
    if (alive()) msg.replaceChildren(errorBox(`Could not load the pipelines: ${(e as Error).message}`));
  }
}

function row(r: KfpRun): HTMLElement {
  const state = r.state || "UNKNOWN";
  const running = state === "RUNNING" || state === "PENDING" || state === "CANCELING";
  return h(
    "tr",
    { "data-run": r.run_id, "data-state": state },
    h("td", {}, h("a", { href: `#/pipeline-runs/${encodeURIComponent(r.run_id)}` }, r.display_name || r.run_id)),
    h("td", { class: "state" }, statusBadge(state)),
    h("td", {}, fmtTime(ts(r.created_at))),
    h("td", {}, running ? "running" : fmtDuration(ts(r.created_at), ts(r.finished_at))),
    h(
      "td",
      {},
      r.experiment_id ? h("a", { href: `#/experiments/${encodeURIComponent(r.experiment_id)}` }, r.experiment_id) : "—",
    ),
  );
}
