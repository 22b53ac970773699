// The pipeline runs, newest first (KFP's GET /apis/v2beta1/runs), 100 a page.
import { pipelinesApi, type KfpRun } from "./api";
import { clear, errorBox, fmtDuration, fmtTime, h, loading, statusBadge } from "./dom";

export const ts = (s?: string): number | undefined => {
  if (!s || s.startsWith("1970-01-01")) return undefined;
  const v = Date.parse(s);
  return Number.isNaN(v) ? undefined : v;
};

export async function pipelineRunsPage(root: HTMLElement, alive: () => boolean) {
  document.title = "Pipeline runs · Trellis";
  const body = h("div", {}, loading("the pipeline runs"));
  root.append(h("h1", {}, "Pipeline runs"), body);
  const tbody = h("tbody", {});
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
    for (const r of res.runs ?? []) tbody.append(row(r));
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
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(errorBox(`Could not list the pipeline runs: ${(e as Error).message}`));
  }
}

function row(r: KfpRun): HTMLElement {
  const state = r.state || "UNKNOWN";
  const running = state === "RUNNING" || state === "PENDING" || state === "CANCELING";
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: `#/pipeline-runs/${encodeURIComponent(r.run_id)}` }, r.display_name || r.run_id)),
    h("td", {}, statusBadge(state)),
    h("td", {}, fmtTime(ts(r.created_at))),
    h("td", {}, running ? "running" : fmtDuration(ts(r.created_at), ts(r.finished_at))),
    h(
      "td",
      {},
      r.experiment_id ? h("a", { href: `#/experiments/${encodeURIComponent(r.experiment_id)}` }, r.experiment_id) : "—",
    ),
  );
}
