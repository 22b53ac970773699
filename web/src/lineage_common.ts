// Names, labels and links of lineage nodes (docs/api.md "Lineage": a node
// is "<kind>:<id>").
import type { LineageNode } from "./api";
import { proxyUrl } from "./api_lineage";

export const KINDS: Record<string, string> = {
  artifact: "Artifact",
  run: "Run",
  pipeline_run: "Pipeline run",
  task: "Task",
  logged_model: "Logged model",
  model_version: "Model version",
  dataset: "Dataset",
};

export const kindOf = (id: string) => id.slice(0, Math.max(0, id.indexOf(":")));
export const idOf = (id: string) => id.slice(id.indexOf(":") + 1);

export const lineageHref = (node: string, depth?: number) =>
  `#/lineage?${new URLSearchParams({ node, ...(depth ? { depth: String(depth) } : {}) }).toString()}`;

const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");

/** A short label for a node. */
export function nodeLabel(n: LineageNode): string {
  const id = idOf(n.id);
  switch (n.kind) {
    case "artifact": {
      const p = n.paths?.[0];
      return p ? p.slice(p.lastIndexOf("/") + 1) : id.slice(0, 12);
    }
    case "run":
      return n.name ? `${n.name}` : id.slice(0, 12);
    case "model_version":
      return `${str(n.name) || id.slice(0, id.lastIndexOf("/"))} v${str(n.version) || id.slice(id.lastIndexOf("/") + 1)}`;
    case "task":
      return str(n.path) || id.slice(id.indexOf("/") + 1);
    case "pipeline_run":
    case "logged_model":
    case "dataset":
      return str(n.name) || id.slice(0, 12);
    default:
      return id;
  }
}

/** The UI page of a node, when it has one. */
export function nodeHref(n: LineageNode): string | null {
  const id = idOf(n.id);
  const enc = encodeURIComponent;
  switch (n.kind) {
    case "run":
      return n.experiment_id ? `#/experiments/${enc(str(n.experiment_id))}/runs/${enc(id)}` : null;
    case "model_version": {
      const slash = id.lastIndexOf("/");
      return `#/models/${enc(id.slice(0, slash))}/versions/${enc(id.slice(slash + 1))}`;
    }
    case "pipeline_run":
      return `#/pipeline-runs/${enc(id)}`;
    case "task":
      return `#/pipeline-runs/${enc(str(n.pipeline_run_id) || id.slice(0, id.indexOf("/")))}`;
    case "logged_model":
      return null;
    case "artifact":
      return n.paths?.length ? proxyUrl(n.paths[0]) : null;
    default:
      return null;
  }
}
