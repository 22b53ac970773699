// KFP pipelines: the list (name, description, created, versions count and
// latest; search by name; upload a compiled pipeline YAML) and one
// pipeline's versions, newest first (upload a new version).
import { clear, errorBox, fmtTime, h, loading } from "./dom";
import { kfpApi, type KfpPipeline, type KfpVersion } from "./api_pipelines";
import { ts } from "./pipeline_runs";
import "./pipelines.css";

export const pipelineHref = (id: string) => `#/pipelines/${encodeURIComponent(id)}`;
export const versionHref = (id: string, vid: string) =>
  `#/pipelines/${encodeURIComponent(id)}/versions/${encodeURIComponent(vid)}`;

// A form uploading a compiled pipeline (a file input and an optional name);
// ONDONE gets what the server made.
function uploadForm<T>(
  id: string,
  label: string,
  alive: () => boolean,
  send: (file: File, name: string) => Promise<T>,
  onDone: (made: T) => void,
): HTMLElement {
  const file = h("input", { id: `${id}-file`, type: "file", accept: ".yaml,.yml,.json", required: true }) as HTMLInputElement;
  const name = h("input", { id: `${id}-name`, type: "text", autocomplete: "off", placeholder: "from the file name" }) as HTMLInputElement;
  const submit = h("button", { type: "submit", id: `${id}-submit` }, "Upload") as HTMLButtonElement;
  const msg = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "inline-form upload-form", id, "aria-label": label },
    h("label", { for: `${id}-file` }, label),
    file,
    h("label", { for: `${id}-name` }, "Name"),
    name,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    const f = file.files?.[0];
    if (!f) {
      msg.append(errorBox("choose a compiled pipeline file (YAML) first"));
      return;
    }
    submit.disabled = true;
    try {
      const made = await send(f, name.value.trim());
      if (!alive()) return;
      onDone(made);
    } catch (e) {
      if (!alive()) return;
      msg.append(errorBox(`Upload failed: ${(e as Error).message}`));
    } finally {
      submit.disabled = false;
    }
  });
  return h("div", {}, form, msg);
}

export async function pipelinesPage(root: HTMLElement, alive: () => boolean, query: string) {
  document.title = "Pipelines · Trellis";
  const body = h("div", {}, loading("the pipelines"));
  const search = h("input", { id: "pipeline-search", type: "search", autocomplete: "off" }) as HTMLInputElement;
  search.value = query;
  const searchForm = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Search pipelines" },
    h("label", { for: "pipeline-search" }, "Name contains"),
    search,
    h("button", { type: "submit" }, "Search"),
  );
  searchForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = search.value.trim();
    location.hash = v ? `#/pipelines?q=${encodeURIComponent(v)}` : "#/pipelines";
  });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/pipeline-runs" }, "Pipeline runs")),
    h("h1", {}, "Pipelines"),
    uploadForm("upload-pipeline", "Upload a compiled pipeline", alive, kfpApi.uploadPipeline, (p) => {
      location.hash = pipelineHref(p.pipeline_id);
    }),
    searchForm,
    body,
  );
  const tbody = h("tbody", {});
  const more = h("p", { class: "more" });
  let shown = 0;
  const load = async (token?: string) => {
    const res = await kfpApi.listPipelines(query, token);
    if (!alive()) return;
    const list = res.pipelines ?? [];
    if (shown === 0) {
      clear(body);
      if (!list.length) {
        body.append(h("p", {}, query ? `No pipeline's name contains “${query}”.` : "No pipelines yet: upload one above, or with kfp.Client.upload_pipeline."));
        return;
      }
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid", id: "pipelines-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Pipeline"),
                h("th", { scope: "col" }, "Description"),
                h("th", { scope: "col" }, "Created"),
                h("th", { scope: "col" }, "Versions"),
                h("th", { scope: "col" }, "Latest version"),
              ),
            ),
            tbody,
          ),
        ),
        more,
      );
    }
    for (const p of list) tbody.append(row(p));
    shown += list.length;
    clear(more);
    if (res.next_page_token) {
      const b = h("button", { type: "button" }, "Load 50 more") as HTMLButtonElement;
      b.addEventListener("click", () => {
        b.disabled = true;
        load(res.next_page_token).catch((e) => alive() && more.replaceChildren(errorBox(`Could not load more: ${e.message}`)));
      });
      more.append(b);
    }
  };
  const row = (p: KfpPipeline) => {
    const count = h("td", {}, "…");
    const latest = h("td", {}, "…");
    // the count and the newest version: one small request per pipeline
    kfpApi
      .listVersions(p.pipeline_id, 1)
      .then((r) => {
        if (!alive()) return;
        const v = r.pipeline_versions?.[0];
        count.textContent = String(r.total_size ?? (r.pipeline_versions ?? []).length);
        latest.replaceChildren(
          v ? h("a", { href: versionHref(p.pipeline_id, v.pipeline_version_id) }, v.display_name || v.name || v.pipeline_version_id) : "—",
        );
      })
      .catch((e) => {
        if (!alive()) return;
        count.textContent = "?";
        latest.replaceChildren(h("span", { class: "error-text" }, e.message));
      });
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: pipelineHref(p.pipeline_id) }, p.display_name || p.name || p.pipeline_id)),
      h("td", {}, p.description || "—"),
      h("td", {}, fmtTime(ts(p.created_at))),
      count,
      latest,
    );
  };
  try {
    await load();
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(errorBox(`Could not list the pipelines: ${(e as Error).message}`));
  }
}

export async function pipelinePage(root: HTMLElement, alive: () => boolean, id: string) {
  const body = h("div", {}, loading("the pipeline"));
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/pipelines" }, "Pipelines")), body);
  let p: KfpPipeline;
  let versions: KfpVersion[];
  let next: string | undefined;
  try {
    const [pp, vs] = await Promise.all([kfpApi.getPipeline(id), kfpApi.listVersions(id)]);
    p = pp;
    versions = vs.pipeline_versions ?? [];
    next = vs.next_page_token;
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(h("h1", {}, "Pipeline"), errorBox(`Could not load pipeline ${id}: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  const name = p.display_name || p.name || id;
  document.title = `${name} · Pipelines · Trellis`;
  clear(body);
  const tbody = h("tbody", {});
  const addRows = (vs: KfpVersion[]) => {
    for (const v of vs)
      tbody.append(
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: versionHref(id, v.pipeline_version_id) }, v.display_name || v.name || v.pipeline_version_id)),
          h("td", {}, v.description || "—"),
          h("td", {}, fmtTime(ts(v.created_at))),
          h("td", {}, h("span", { class: "mono" }, v.pipeline_version_id)),
        ),
      );
  };
  addRows(versions);
  const more = h("p", { class: "more" });
  const moreButton = (token?: string) => {
    clear(more);
    if (!token) return;
    const b = h("button", { type: "button" }, "Load 100 more") as HTMLButtonElement;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const r = await kfpApi.listVersions(id, 100, token);
        if (!alive()) return;
        addRows(r.pipeline_versions ?? []);
        moreButton(r.next_page_token);
      } catch (e) {
        if (alive()) more.replaceChildren(errorBox(`Could not load more: ${(e as Error).message}`));
      }
    });
    more.append(b);
  };
  moreButton(next);
  body.append(
    h("h1", {}, name),
    h(
      "dl",
      { class: "overview" },
      h("dt", {}, "Pipeline ID"),
      h("dd", {}, h("span", { class: "mono" }, id)),
      h("dt", {}, "Description"),
      h("dd", {}, p.description || "—"),
      h("dt", {}, "Created"),
      h("dd", {}, fmtTime(ts(p.created_at))),
    ),
    uploadForm("upload-version", "Upload a new version", alive, (f, n) => kfpApi.uploadVersion(id, f, n), (v) => {
      location.hash = versionHref(id, v.pipeline_version_id);
    }),
    h("h2", {}, "Versions"),
    versions.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid", id: "versions-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Version"),
                h("th", { scope: "col" }, "Description"),
                h("th", { scope: "col" }, "Created"),
                h("th", { scope: "col" }, "ID"),
              ),
            ),
            tbody,
          ),
        )
      : h("p", {}, "No versions."),
    more,
  );
}
