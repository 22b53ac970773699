// One model version (model-versions/get): overview, the run behind it, and
// the registry's writes: set and delete an alias (registered-models/alias),
// transition the stage (model-versions/transition-stage), set and delete a
// tag (model-versions/set-tag, delete-tag). "Lineage" lists what
// /api/2.0/trellis/lineage/model-version says made it.
import { api, type LineageNode, type ModelVersion, type ModelVersionLineage } from "./api";
import { clear, errorBox, fmtTime, h, loading } from "./dom";
import { lineageHref } from "./lineage_common";
import { runHref, runLink } from "./model";
import { aliasChip, modelHref, stageBadge } from "./models";

const STAGES = ["None", "Staging", "Production", "Archived"];

export async function versionPage(root: HTMLElement, alive: () => boolean, name: string, version: string) {
  document.title = `${name} v${version} · Trellis`;
  const body = h("div", {}, loading("the version"));
  root.append(
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "#/models" }, "Models"),
      " / ",
      h("a", { href: modelHref(name) }, name),
    ),
    h("h1", {}, `${name} · version ${version}`),
    body,
  );
  const lineage = h("section", { "aria-labelledby": "h-lineage", id: "lineage" }, h("h2", { id: "h-lineage" }, "Lineage"));

  // Re-reads the version and redraws everything but the lineage.
  async function refresh(): Promise<void> {
    let v: ModelVersion;
    try {
      v = (await api.getVersion(name, version)).model_version;
    } catch (e) {
      if (!alive()) return;
      body.replaceChildren(errorBox(`Could not load ${name} version ${version}: ${(e as Error).message}`));
      return;
    }
    if (!alive()) return;
    clear(body);
    body.append(overview(v), aliasesSection(v, refresh), stageSection(v, refresh), tagsSection(v, refresh), lineage);
  }
  await refresh();
  if (!alive() || !body.contains(lineage)) return;
  lineage.append(loading("lineage"));
  try {
    const l = await api.versionLineage(name, version);
    if (!alive()) return;
    clear(lineage);
    lineage.append(
      h("h2", { id: "h-lineage" }, "Lineage"),
      h("p", {}, h("a", { href: lineageHref(`model_version:${name}/${version}`), id: "open-lineage-graph" }, "Open lineage graph")),
      ...lineageLists(l),
    );
  } catch (e) {
    if (!alive()) return;
    clear(lineage);
    lineage.append(h("h2", { id: "h-lineage" }, "Lineage"), errorBox(`Could not load lineage: ${(e as Error).message}`));
  }
}

function pair(k: string, v: Node | string): HTMLElement[] {
  return [h("dt", {}, k), h("dd", {}, v)];
}

function overview(v: ModelVersion): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "h-overview" },
    h("h2", { id: "h-overview" }, "Overview"),
    h(
      "dl",
      { class: "overview", id: "version-overview" },
      ...pair("Stage", stageBadge(v.current_stage)),
      ...pair("Status", v.status || "—"),
      ...pair("Source run", v.run_id ? runLink(v.run_id) : "—"),
      ...pair("Source", h("span", { class: "mono" }, v.source || "—")),
      ...pair("Model ID", h("span", { class: "mono" }, v.model_id || "—")),
      ...pair("Description", v.description || "—"),
      ...pair("Created", fmtTime(v.creation_timestamp)),
      ...pair("Last updated", fmtTime(v.last_updated_timestamp)),
    ),
  );
}

// A form whose submit runs `act`, showing the server's error inline and
// redrawing the page on success.
function actionForm(label: string, id: string, fields: Node[], submit: string, act: () => Promise<unknown>, done: () => Promise<void>) {
  const err = h("div", { "aria-live": "polite" });
  const btn = h("button", { type: "submit" }, submit);
  const form = h("form", { class: "inline-form", "aria-label": label, id }, ...fields, btn);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(err);
    btn.disabled = true;
    try {
      await act();
    } catch (e) {
      btn.disabled = false;
      err.append(errorBox(`${label} failed: ${(e as Error).message}`));
      return;
    }
    await done();
  });
  return h("div", {}, form, err);
}

function aliasesSection(v: ModelVersion, done: () => Promise<void>): HTMLElement {
  const aliases = [...(v.aliases ?? [])].sort();
  const err = h("div", { "aria-live": "polite" });
  const input = h("input", { id: "alias-name", name: "alias", type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  return h(
    "section",
    { "aria-labelledby": "h-aliases" },
    h("h2", { id: "h-aliases" }, "Aliases"),
    aliases.length
      ? h(
          "ul",
          { class: "plain", id: "alias-list" },
          ...aliases.map((a) => {
            const del = h("button", { type: "button", class: "small", "aria-label": `Delete alias ${a}` }, "Delete");
            del.addEventListener("click", async () => {
              clear(err);
              del.disabled = true;
              try {
                await api.deleteAlias(v.name, a);
              } catch (e) {
                del.disabled = false;
                err.append(errorBox(`Delete alias failed: ${(e as Error).message}`));
                return;
              }
              await done();
            });
            return h("li", {}, aliasChip(a), " ", del);
          }),
        )
      : h("p", {}, "No aliases."),
    err,
    actionForm(
      "Set alias",
      "alias-form",
      [h("label", { for: "alias-name" }, "Alias"), input],
      "Set alias",
      () => api.setAlias(v.name, input.value.trim(), v.version),
      done,
    ),
    h("p", { class: "muted" }, "An alias names one version of the model: setting it here moves it from any other version."),
  );
}

function stageSection(v: ModelVersion, done: () => Promise<void>): HTMLElement {
  const current = v.current_stage || "None";
  const select = h("select", { id: "stage-select", name: "stage" }, ...STAGES.map((s) => h("option", { value: s, selected: s === current }, s)));
  const archive = h("input", { id: "archive-existing", type: "checkbox", name: "archive" });
  return h(
    "section",
    { "aria-labelledby": "h-stage" },
    h("h2", { id: "h-stage" }, "Stage"),
    h("p", {}, "Current stage: ", stageBadge(current)),
    actionForm(
      "Transition stage",
      "stage-form",
      [
        h("label", { for: "stage-select" }, "New stage"),
        select,
        h("span", { class: "check" }, archive, h("label", { for: "archive-existing" }, "Archive the other versions in this stage")),
      ],
      "Transition",
      () => api.transitionStage(v.name, v.version, select.value, archive.checked && (select.value === "Staging" || select.value === "Production")),
      done,
    ),
  );
}

function tagsSection(v: ModelVersion, done: () => Promise<void>): HTMLElement {
  const tags = [...(v.tags ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const err = h("div", { "aria-live": "polite" });
  const key = h("input", { id: "tag-key", name: "key", type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  const value = h("input", { id: "tag-value", name: "value", type: "text", autocomplete: "off", spellcheck: "false" });
  return h(
    "section",
    { "aria-labelledby": "h-vtags" },
    h("h2", { id: "h-vtags" }, "Tags"),
    tags.length
      ? h(
          "table",
          { class: "grid kv", id: "version-tags" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
          h(
            "tbody",
            {},
            ...tags.map((t) => {
              const del = h("button", { type: "button", class: "small", "aria-label": `Delete tag ${t.key}` }, "Delete");
              del.addEventListener("click", async () => {
                clear(err);
                del.disabled = true;
                try {
                  await api.deleteVersionTag(v.name, v.version, t.key);
                } catch (e) {
                  del.disabled = false;
                  err.append(errorBox(`Delete tag failed: ${(e as Error).message}`));
                  return;
                }
                await done();
              });
              return h("tr", {}, h("th", { scope: "row" }, t.key), h("td", { class: "value" }, t.value), h("td", {}, del));
            }),
          ),
        )
      : h("p", {}, "No tags."),
    err,
    actionForm(
      "Set tag",
      "tag-form",
      [h("label", { for: "tag-key" }, "Key"), key, h("label", { for: "tag-value" }, "Value"), value],
      "Set tag",
      () => api.setVersionTag(v.name, v.version, key.value.trim(), value.value),
      done,
    ),
  );
}

const after = (id: string) => id.slice(id.indexOf(":") + 1);

function lineageLists(l: ModelVersionLineage): HTMLElement[] {
  const nodes = new Map<string, LineageNode>(l.nodes.map((n) => [n.id, n]));
  const s = l.summary ?? {};
  const out: HTMLElement[] = [];
  if (l.truncated) out.push(h("p", { class: "muted" }, "The graph was cut at 5,000 nodes: these lists may be incomplete."));
  const list = (id: string, title: string, ids: string[] | undefined, item: (x: string) => Node | string, empty: string) => {
    const xs = ids ?? [];
    out.push(
      h("h3", { id: `h-${id}` }, `${title} (${xs.length})`),
      xs.length
        ? h("ul", { class: "plain", id, "aria-labelledby": `h-${id}` }, ...xs.map((x) => h("li", {}, item(x))))
        : h("p", { class: "muted" }, empty),
    );
  };
  // The runs the version was registered from (directly, or through the
  // logged model it was registered from); other runs are in the walk because
  // they produced content the version shares (artifacts are named by digest).
  const edges = l.edges ?? [];
  const fromRoot = new Set(edges.filter((e) => e.dst === l.root && e.relation === "registered_from").map((e) => e.src));
  for (const e of edges) if (e.relation === "logged_model" && fromRoot.has(e.dst)) fromRoot.add(e.src);
  list("lineage-runs", "Runs", s.runs, (id) => {
    const n = nodes.get(`run:${id}`);
    const label = n?.name ? `${n.name} (${id})` : id;
    return h(
      "span",
      {},
      n?.experiment_id ? h("a", { href: runHref(n.experiment_id, id) }, label) : h("span", { class: "mono" }, label),
      fromRoot.has(`run:${id}`) ? " · registered from this run" : " · produced content this version shares",
    );
  }, "No runs.");
  list("lineage-pipeline-runs", "Pipeline runs", s.pipeline_runs, (id) => {
    const n = nodes.get(`pipeline_run:${id}`);
    return h("span", {}, h("span", { class: "mono" }, id), n?.name ? ` ${n.name}` : "", n?.state ? ` · ${n.state}` : "");
  }, "No pipeline runs.");
  list("lineage-tasks", "Tasks", s.tasks, (id) => {
    const n = nodes.get(`task:${id}`);
    const tracked = n?.mlflow_run_id ? nodes.get(`run:${n.mlflow_run_id}`) : undefined;
    return h(
      "span",
      {},
      h("span", { class: "mono" }, id),
      n?.state ? ` · ${n.state}` : "",
      tracked?.experiment_id ? h("span", {}, " · run ", h("a", { href: runHref(tracked.experiment_id, n!.mlflow_run_id as string) }, tracked.name || (n!.mlflow_run_id as string))) : "",
    );
  }, "No tasks.");
  list("lineage-logged-models", "Logged models", s.logged_models, (id) => {
    const n = nodes.get(`logged_model:${id}`);
    return h("span", {}, h("span", { class: "mono" }, id), n?.name ? ` ${n.name}` : "");
  }, "No logged models.");
  list("lineage-inputs", "Input digests", s.input_digests, (d) => {
    const n = nodes.get(`dataset:${d}`) ?? nodes.get(`artifact:${d}`);
    const label = n?.kind === "dataset" && n.name ? ` dataset ${n.name}` : n?.kind === "artifact" && n.paths?.length ? ` ${n.paths[0]}` : "";
    return h("span", {}, h("span", { class: "mono" }, d), label);
  }, "No inputs recorded (log them with mlflow.log_input, or run the training as a pipeline).");
  const arts = s.artifacts ?? [];
  out.push(
    h(
      "details",
      { id: "lineage-artifacts" },
      h("summary", {}, `Artifacts (${arts.length})`),
      h(
        "ul",
        { class: "plain" },
        ...arts.map((d) => {
          const n = nodes.get(`artifact:${d}`);
          return h("li", {}, h("span", { class: "mono" }, after(`artifact:${d}`).slice(0, 12)), " ", (n?.paths ?? []).join(", "), n?.size !== undefined ? ` · ${n.size} B` : "");
        }),
      ),
    ),
  );
  return out;
}
