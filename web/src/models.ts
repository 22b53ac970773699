// The model registry: registered models (MLflow registered-models/search),
// searched by name (`name ILIKE '%x%'`), 50 a page with "Load more".
import { api, type RegisteredModel } from "./api";
import { clear, errorBox, fmtTime, h, loading } from "./dom";

const PAGE = 50;

export const modelHref = (name: string) => `#/models/${encodeURIComponent(name)}`;
export const versionHref = (name: string, version: string) =>
  `${modelHref(name)}/versions/${encodeURIComponent(version)}`;

export function stageBadge(stage?: string): HTMLElement {
  const s = stage || "None";
  return h("span", { class: `badge stage-${s.toLowerCase()}` }, s);
}

export function aliasChip(alias: string): HTMLElement {
  return h("span", { class: "chip" }, `@${alias}`);
}

export async function modelsPage(root: HTMLElement, alive: () => boolean, search: string): Promise<void> {
  document.title = "Models · Trellis";
  const input = h("input", {
    id: "model-search",
    name: "q",
    type: "search",
    value: search,
    placeholder: "part of a name",
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Search models" },
    h("label", { for: "model-search" }, "Name contains"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
  const body = h("div", { id: "models" });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const s = input.value.trim();
    const next = s ? `#/models?q=${encodeURIComponent(s)}` : "#/models";
    if (location.hash === next) void load();
    else location.hash = next;
  });
  root.append(h("h1", {}, "Models"), form, body);

  const tbody = h("tbody");
  const caption = h("caption", {});
  const table = h(
    "table",
    { class: "grid", id: "models-table" },
    caption,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Latest versions"),
        h("th", { scope: "col" }, "Aliases"),
        h("th", { scope: "col" }, "Last updated"),
      ),
    ),
    tbody,
  );
  const more = h("div", { class: "more" });
  let shown = 0;

  async function page(token?: string): Promise<void> {
    const r = await api.searchModels(search, token, PAGE);
    if (!alive()) return;
    const models = r.registered_models ?? [];
    for (const m of models) tbody.append(row(m));
    shown += models.length;
    caption.textContent = `${shown} model${shown === 1 ? "" : "s"}${r.next_page_token ? " (more below)" : ""}`;
    clear(more);
    if (r.next_page_token) {
      const btn = h("button", { type: "button" }, `Load ${PAGE} more`);
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        btn.textContent = "Loading…";
        try {
          await page(r.next_page_token);
        } catch (e) {
          btn.disabled = false;
          btn.textContent = `Load ${PAGE} more`;
          more.append(errorBox(`Could not load more models: ${(e as Error).message}`));
        }
      });
      more.append(btn);
    }
  }

  async function load(): Promise<void> {
    clear(body);
    clear(tbody);
    shown = 0;
    body.append(loading("models"));
    try {
      await page();
    } catch (e) {
      if (!alive()) return;
      clear(body);
      body.append(errorBox(`Could not load models: ${(e as Error).message}`));
      return;
    }
    if (!alive()) return;
    clear(body);
    if (!shown) body.append(h("p", {}, search ? `No model name contains “${search}”.` : "No registered models yet."));
    else body.append(h("div", { class: "table-wrap" }, table), more);
  }
  await load();
}

function row(m: RegisteredModel): HTMLElement {
  const latest = [...(m.latest_versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version));
  const aliases = [...(m.aliases ?? [])].sort((a, b) => a.alias.localeCompare(b.alias));
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: modelHref(m.name) }, m.name)),
    h(
      "td",
      {},
      latest.length
        ? h(
            "ul",
            { class: "inline-list" },
            ...latest.map((v) =>
              h("li", {}, h("a", { href: versionHref(m.name, v.version) }, `Version ${v.version}`), " ", stageBadge(v.current_stage)),
            ),
          )
        : "—",
    ),
    h(
      "td",
      {},
      aliases.length
        ? h(
            "ul",
            { class: "inline-list" },
            ...aliases.map((a) => h("li", {}, h("a", { href: versionHref(m.name, a.version) }, aliasChip(a.alias), ` → v${a.version}`))),
          )
        : "—",
    ),
    h("td", {}, fmtTime(m.last_updated_timestamp)),
  );
}
