// "Start a run" form for a pipeline version: one input per parameter of the
// spec's root.inputDefinitions.parameters (STRING text, NUMBER_* number,
// BOOLEAN checkbox, LIST/STRUCT JSON checked here before sending), defaults
// filled in, required ones marked; a run name and a KFP experiment. Submits
// KFP's POST /apis/v2beta1/runs and goes to the new run's page.
import { errorBox, h } from "./dom";
import { irOf } from "./dag";
import { kfpApi } from "./api_pipelines";
import "./pipelines.css";

export interface ParamDef {
  name: string;
  type: string;
  default?: unknown;
  optional: boolean;
  description?: string;
}

export function paramDefs(spec: any): ParamDef[] {
  const params = irOf(spec)?.root?.inputDefinitions?.parameters ?? {};
  return Object.entries<any>(params).map(([name, d]) => ({
    name,
    type: String(d?.parameterType ?? d?.type ?? "STRING"),
    default: d?.defaultValue,
    optional: !!d?.isOptional,
    description: d?.description,
  }));
}

export const fmtDefault = (p: ParamDef): string =>
  p.default === undefined ? "—" : typeof p.default === "string" ? p.default : JSON.stringify(p.default);

// A param's value read from its input, or an error message.
function readValue(p: ParamDef, el: HTMLInputElement | HTMLTextAreaElement): { value?: unknown; error?: string } {
  if (p.type === "BOOLEAN") return { value: (el as HTMLInputElement).checked };
  const raw = el.value;
  if (raw.trim() === "") {
    if (p.type === "STRING" && p.default === undefined && !p.optional) return { value: "" };
    return p.optional || p.default !== undefined ? {} : { error: "required" };
  }
  switch (p.type) {
    case "NUMBER_INTEGER": {
      const n = Number(raw);
      return Number.isInteger(n) ? { value: n } : { error: "must be a whole number" };
    }
    case "NUMBER_DOUBLE": {
      const n = Number(raw);
      return Number.isFinite(n) ? { value: n } : { error: "must be a number" };
    }
    case "LIST":
    case "STRUCT": {
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch (e) {
        return { error: `is not JSON: ${(e as Error).message}` };
      }
      if (p.type === "LIST" ? !Array.isArray(v) : v === null || typeof v !== "object" || Array.isArray(v))
        return { error: p.type === "LIST" ? "must be a JSON list ([...])" : "must be a JSON object ({...})" };
      return { value: v };
    }
    default:
      return { value: raw };
  }
}

export function runForm(
  o: { pipelineId: string; versionId: string; spec: any; pipelineName: string },
  alive: () => boolean,
): HTMLElement {
  const defs = paramDefs(o.spec);
  const inputs = new Map<string, { el: HTMLInputElement | HTMLTextAreaElement; msg: HTMLElement }>();
  const rows = defs.map((p) => {
    const id = `param-${p.name}`;
    const required = p.default === undefined && !p.optional;
    let el: HTMLInputElement | HTMLTextAreaElement;
    if (p.type === "BOOLEAN") {
      el = h("input", { id, type: "checkbox", name: p.name });
      (el as HTMLInputElement).checked = p.default === true;
    } else if (p.type === "LIST" || p.type === "STRUCT") {
      el = h("textarea", { id, name: p.name, rows: 3, spellcheck: "false", class: "json-input" });
      el.value = p.default === undefined ? "" : JSON.stringify(p.default);
    } else {
      const num = p.type === "NUMBER_INTEGER" || p.type === "NUMBER_DOUBLE";
      el = h("input", { id, name: p.name, type: num ? "number" : "text", autocomplete: "off" });
      if (num) el.setAttribute("step", p.type === "NUMBER_INTEGER" ? "1" : "any");
      el.value = p.default === undefined ? "" : String(p.default);
    }
    if (required) el.setAttribute("aria-required", "true");
    const msg = h("span", { class: "field-error", id: `${id}-error`, "aria-live": "polite" });
    el.setAttribute("aria-describedby", `${id}-error`);
    inputs.set(p.name, { el, msg });
    return h(
      "div",
      { class: "field" },
      h(
        "label",
        { for: id },
        p.name,
        required ? h("span", { class: "required", title: "required" }, " *") : null,
        h("span", { class: "muted" }, ` ${p.type}`),
      ),
      el,
      p.description ? h("span", { class: "muted" }, p.description) : null,
      msg,
    );
  });
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  const runName = h("input", {
    id: "run-name",
    name: "run_name",
    type: "text",
    autocomplete: "off",
    required: true,
  }) as HTMLInputElement;
  runName.value = `${o.pipelineName} ${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  const experiment = h("select", { id: "run-experiment", name: "experiment" }, h("option", { value: "" }, "Loading…")) as HTMLSelectElement;
  kfpApi
    .listExperiments()
    .then((r) => {
      if (!alive()) return;
      const exps = (r.experiments ?? []).filter((e) => e.storage_state !== "ARCHIVED");
      experiment.replaceChildren(
        ...exps.map((e) => h("option", { value: e.experiment_id }, `${e.display_name || e.experiment_id} (${e.experiment_id})`)),
      );
      experiment.value = exps.some((e) => e.experiment_id === "0") ? "0" : (exps[0]?.experiment_id ?? "");
    })
    .catch((e) => {
      if (!alive()) return;
      experiment.replaceChildren(h("option", { value: "" }, "Default"));
      formError.replaceChildren(errorBox(`Could not list the experiments: ${e.message}`));
    });
  const formError = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: "run-submit" }, "Start run") as HTMLButtonElement;
  const form = h(
    "form",
    { class: "run-form", id: "run-form", "aria-label": "Start a run", novalidate: true },
    h("h2", {}, "Start a run"),
    defs.length ? h("fieldset", {}, h("legend", {}, "Parameters"), ...rows) : h("p", { class: "muted" }, "This pipeline takes no parameters."),
    h("div", { class: "field" }, h("label", { for: "run-name" }, "Run name", h("span", { class: "required" }, " *")), runName),
    h("div", { class: "field" }, h("label", { for: "run-experiment" }, "Experiment"), experiment),
    h("p", { class: "muted" }, "* required"),
    submit,
    formError,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.replaceChildren();
    const parameters: Record<string, unknown> = {};
    let bad = 0;
    for (const p of defs) {
      const { el, msg } = inputs.get(p.name)!;
      const r = readValue(p, el);
      msg.textContent = r.error ? `${p.name} ${r.error}` : "";
      el.setAttribute("aria-invalid", r.error ? "true" : "false");
      if (r.error) bad++;
      else if (r.value !== undefined) parameters[p.name] = r.value;
    }
    if (!runName.value.trim()) {
      formError.replaceChildren(errorBox("give the run a name"));
      return;
    }
    if (bad) {
      formError.replaceChildren(errorBox(`${bad} parameter${bad > 1 ? "s are" : " is"} not valid`));
      return;
    }
    submit.disabled = true;
    try {
      const body: any = {
        display_name: runName.value.trim(),
        pipeline_version_reference: { pipeline_id: o.pipelineId, pipeline_version_id: o.versionId },
        runtime_config: { parameters },
      };
      if (experiment.value) body.experiment_id = experiment.value;
      const run = await kfpApi.createRun(body);
      if (!alive()) return;
      location.hash = `#/pipeline-runs/${encodeURIComponent(run.run_id)}`;
    } catch (e) {
      if (!alive()) return;
      submit.disabled = false;
      formError.replaceChildren(errorBox(`Could not start the run: ${(e as Error).message}`));
    }
  });
  return form;
}
