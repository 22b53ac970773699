// One registered model: its description, tags and aliases
// (registered-models/get) and every version (model-versions/search, newest
// first, 100 a page) with stage, aliases, tags and the run behind it.
import { api, type ModelVersion } from "./api";
import { clear, errorBox, fmtTime, h, loading } from "./dom";
import { aliasChip, stageBadge, versionHref } from "./models";

const PAGE = 100;

export const runHref = (experimentId: string, runId: string) =>
  `#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`;

// The run a version came from, linked to its page once runs/get says which
// experiment holds it; the bare id when the run is gone.
export function runLink(runId: string): HTMLElement {
  const cell = h("span", { class: "mono" }, runId);
  api
    .getRun(runId)
    .then((r) =>
      cell.replaceChildren(
        h("a", { href: runHref(r.run.info.experiment_id, runId) }, r.run.info.run_name || runId),
      ),
    )
    .catch(() => cell.append(" (not found)"));
  return cell;
}

export async function modelPage(root: HTMLElement, alive: () => boolean, name: string): Promise<void> {
  document.title = `${name} · Trellis`;
  const meta = h("div", {}, loading("the model"));
  const body = h("div", { id: "versions" }, loading("versions"));
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "Models")),
    h("h1", {}, name),
    meta,
    h("h2", { id: "h-versions" }, "Versions"),
    body,
  );

  api
    .getModel(name)
    .then((r) => {
      if (!alive()) return;
      const m = r.registered_model;
      const tags = (m.tags ?? []).filter((t) => !t.key.startsWith("mlflow."));
      clear(meta);
      meta.append(
        h(
          "dl",
          { class: "overview" },
          h("dt", {}, "Description"),
          h("dd", {}, m.description || "—"),
          h("dt", {}, "Created"),
          h("dd", {}, fmtTime(m.creation_timestamp)),
          h("dt", {}, "Last updated"),
          h("dd", {}, fmtTime(m.last_updated_timestamp)),
          h("dt", {}, "Aliases"),
          h(
            "dd",
            {},
            (m.aliases ?? []).length
              ? h(
                  "ul",
                  { class: "inline-list" },
                  ...(m.aliases ?? []).map((a) =>
                    h("li", {}, h("a", { href: versionHref(name, a.version) }, aliasChip(a.alias), ` → v${a.version}`)),
                  ),
                )
              : "—",
          ),
          h("dt", {}, "Tags"),
          h("dd", {}, tags.length ? tags.map((t) => `${t.key}=${t.value}`).join(", ") : "—"),
        ),
      );
    })
    .catch((e) => {
      if (!alive()) return;
      meta.replaceChildren(errorBox(`Could not load model ${name}: ${(e as Error).message}`));
    });

  const tbody = h("tbody");
  const caption = h("caption", {});
  const more = h("div", { class: "more" });
  let shown = 0;
  async function page(token?: string): Promise<void> {
    const r = await api.searchVersions(name, token, PAGE);
    if (!alive()) return;
    const vs = r.model_versions ?? [];
    for (const v of vs) tbody.append(row(v));
    shown += vs.length;
    caption.textContent = `${shown} version${shown === 1 ? "" : "s"}`;
    clear(more);
    if (r.next_page_token && vs.length) {
      const btn = h("button", { type: "button" }, `Load ${PAGE} more`);
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          await page(r.next_page_token);
        } catch (e) {
          btn.disabled = false;
          more.append(errorBox(`Could not load more versions: ${(e as Error).message}`));
        }
      });
      more.append(btn);
    }
  }
  try {
    await page();
  } catch (e) {
    if (!alive()) return;
    body.replaceChildren(errorBox(`Could not load versions: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  clear(body);
  if (!shown) {
    body.append(h("p", {}, "No versions."));
    return;
  }
  body.append(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "grid", id: "versions-table", "aria-labelledby": "h-versions" },
        caption,
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Version", "Stage", "Aliases", "Tags", "Source run", "Created"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        tbody,
      ),
    ),
    more,
  );
}

function row(v: ModelVersion): HTMLElement {
  const tags = (v.tags ?? []).filter((t) => !t.key.startsWith("mlflow."));
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: versionHref(v.name, v.version) }, `Version ${v.version}`)),
    h("td", {}, stageBadge(v.current_stage)),
    h("td", {}, (v.aliases ?? []).length ? h("span", { class: "chips" }, ...(v.aliases ?? []).map(aliasChip)) : "—"),
    h("td", {}, tags.length ? tags.map((t) => `${t.key}=${t.value}`).join(", ") : "—"),
    h("td", {}, v.run_id ? runLink(v.run_id) : "—"),
    h("td", {}, fmtTime(v.creation_timestamp)),
  );
}

