// The public REST APIs the UI reads: MLflow's /api/2.0/mlflow. Errors come
// back as MLflow's {error_code, message}, shown to the user as they are.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const BASE = "/api/2.0/mlflow";
const TRELLIS = "/api/2.0/trellis";

function request<T>(method: string, path: string, body?: unknown, base = BASE): Promise<T> {
  return requestUrl<T>(method, base + path, body);
}

// Any JSON API on this server: MLflow's errors ({error_code, message}),
// KFP's ({code, message}) and KFP uploads' ({error_message, error_details}).
export async function fetchJson<T>(url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, "NETWORK", 0);
  }
  const text = await res.text();
  let json: any = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`the server answered ${res.status} with a body that is not JSON`, "BAD_RESPONSE", res.status);
  }
  if (!res.ok)
    throw new ApiError(
      json.message || json.error_message || json.error_details || `HTTP ${res.status}`,
      json.error_code || String(json.code ?? "UNKNOWN"),
      res.status,
    );
  return json as T;
}

// A JSON request (BODY sent as JSON when given) to any API on this server.
export function requestUrl<T>(method: string, url: string, body?: unknown): Promise<T> {
  return fetchJson<T>(url, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: { key: string; value: string }[];
}

export interface KV {
  key: string;
  value: string;
}
export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
export interface Run {
  info: {
    run_id: string;
    run_name?: string;
    experiment_id: string;
    status: string;
    start_time?: number;
    end_time?: number;
    artifact_uri?: string;
    lifecycle_stage?: string;
    user_id?: string;
  };
  data: { params?: KV[]; metrics?: Metric[]; tags?: KV[] };
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  run_link?: string;
  model_id?: string;
  status?: string;
  status_message?: string;
  tags?: KV[];
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KV[];
  aliases?: { alias: string; version: string }[];
}

// A node of the lineage graph (docs/api.md "Lineage"): id is "<kind>:<id>";
// the other fields depend on the kind.
export interface LineageNode {
  id: string;
  kind: string;
  exists?: boolean;
  name?: string;
  experiment_id?: string;
  status?: string;
  state?: string;
  pipeline_run_id?: string;
  path?: string;
  mlflow_run_id?: string;
  source_run_id?: string;
  paths?: string[];
  size?: number;
  [k: string]: unknown;
}
export interface ModelVersionLineage {
  root: string;
  nodes: LineageNode[];
  edges?: { src: string; dst: string; relation: string }[];
  truncated?: boolean;
  summary: {
    runs?: string[];
    pipeline_runs?: string[];
    tasks?: string[];
    logged_models?: string[];
    artifacts?: string[];
    input_digests?: string[];
  };
}

// A string literal of MLflow's search language.
export function quote(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/'/g, "\\'")}'`;
}

export const q = (o: Record<string, string>) => new URLSearchParams(o).toString();

export const api = {
  searchExperiments: (pageToken?: string) =>
    request<{ experiments?: Experiment[]; next_page_token?: string }>("POST", "/experiments/search", {
      max_results: 1000,
      order_by: ["last_update_time DESC"],
      ...(pageToken ? { page_token: pageToken } : {}),
    }),
  createExperiment: (name: string) =>
    request<{ experiment_id: string }>("POST", "/experiments/create", { name }),
  getExperiment: (id: string) =>
    request<{ experiment: Experiment }>("GET", `/experiments/get?${q({ experiment_id: id })}`),
  searchRuns: (experimentId: string, filter: string, pageToken?: string, maxResults = 100) =>
    request<{ runs?: Run[]; next_page_token?: string }>("POST", "/runs/search", {
      experiment_ids: [experimentId],
      filter,
      max_results: maxResults,
      order_by: ["attributes.start_time DESC"],
      ...(pageToken ? { page_token: pageToken } : {}),
    }),
  getRun: (runId: string) => request<{ run: Run }>("GET", `/runs/get?${q({ run_id: runId })}`),
  // Up to MAX_POINTS points per run of one metric (steps sampled evenly by
  // the server, first and last kept), for up to 100 runs in one request.
  metricBulkInterval: (runIds: string[], key: string) => {
    const p = new URLSearchParams({ metric_key: key, max_results: String(MAX_POINTS) });
    for (const id of runIds) p.append("run_ids", id);
    return request<{ metrics?: (Metric & { run_id: string })[] }>(
      "GET",
      `/metrics/get-history-bulk-interval?${p.toString()}`,
    );
  },

  searchModels: (nameLike: string, pageToken?: string, maxResults = 50) =>
    request<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
      "GET",
      `/registered-models/search?${q({
        max_results: String(maxResults),
        order_by: "name ASC",
        ...(nameLike ? { filter: `name ILIKE ${quote(`%${nameLike}%`)}` } : {}),
        ...(pageToken ? { page_token: pageToken } : {}),
      })}`,
    ),
  getModel: (name: string) =>
    request<{ registered_model: RegisteredModel }>("GET", `/registered-models/get?${q({ name })}`),
  searchVersions: (name: string, pageToken?: string, maxResults = 100) =>
    request<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      "GET",
      `/model-versions/search?${q({
        filter: `name = ${quote(name)}`,
        max_results: String(maxResults),
        order_by: "version_number DESC",
        ...(pageToken ? { page_token: pageToken } : {}),
      })}`,
    ),
  getVersion: (name: string, version: string) =>
    request<{ model_version: ModelVersion }>("GET", `/model-versions/get?${q({ name, version })}`),
  setAlias: (name: string, alias: string, version: string) =>
    request<{}>("POST", "/registered-models/alias", { name, alias, version }),
  deleteAlias: (name: string, alias: string) => request<{}>("DELETE", "/registered-models/alias", { name, alias }),
  transitionStage: (name: string, version: string, stage: string, archiveExisting: boolean) =>
    request<{ model_version: ModelVersion }>("POST", "/model-versions/transition-stage", {
      name,
      version,
      stage,
      archive_existing_versions: archiveExisting,
    }),
  setVersionTag: (name: string, version: string, key: string, value: string) =>
    request<{}>("POST", "/model-versions/set-tag", { name, version, key, value }),
  deleteVersionTag: (name: string, version: string, key: string) =>
    request<{}>("DELETE", "/model-versions/delete-tag", { name, version, key }),
  versionLineage: (name: string, version: string) =>
    request<ModelVersionLineage>("GET", `/lineage/model-version?${q({ name, version })}`, undefined, TRELLIS),
};

/** The most points a chart asks the server for, per run and metric. */
export const MAX_POINTS = 2500;
// Pipelines: KFP's /apis/v2beta1 and Trellis's /api/2.0/trellis/pipelines.
export interface KfpTaskDetail {
  task_id: string;
  display_name: string;
  state: string;
  start_time?: string;
  end_time?: string;
}
export interface KfpRun {
  run_id: string;
  display_name?: string;
  experiment_id?: string;
  state?: string;
  created_at?: string;
  finished_at?: string;
  error?: { message?: string };
  pipeline_spec?: any;
  pipeline_version_reference?: { pipeline_id?: string; pipeline_version_id?: string };
  run_details?: { task_details?: KfpTaskDetail[] };
}
export interface PipelineTask {
  state: string;
  attempts?: number;
  message?: string;
  cached?: boolean;
  outputs?: { parameters?: Record<string, unknown>; artifacts?: Record<string, unknown> };
  mlflow_run_id?: string;
  start_ms?: number;
  end_ms?: number;
}
export interface PipelineRun {
  run_id: string;
  name?: string;
  display_name?: string;
  state: string;
  experiment_id?: string;
  error?: string;
  created_ms?: number;
  finished_ms?: number;
  tasks?: Record<string, PipelineTask>;
}

const KFP = "/apis/v2beta1";
export const PIPELINES = "/api/2.0/trellis/pipelines";

export const pipelinesApi = {
  listRuns: (pageToken?: string) =>
    requestUrl<{ runs?: KfpRun[]; total_size?: number; next_page_token?: string }>(
      "GET",
      `${KFP}/runs?${q({ sort_by: "created_at desc", page_size: "100", ...(pageToken ? { page_token: pageToken } : {}) })}`,
    ),
  getKfpRun: (id: string) => requestUrl<KfpRun>("GET", `${KFP}/runs/${encodeURIComponent(id)}`),
  getRun: (id: string) => requestUrl<{ run: PipelineRun }>("GET", `${PIPELINES}/runs/get?${q({ run_id: id })}`),
  terminate: (id: string) => requestUrl<unknown>("POST", `${KFP}/runs/${encodeURIComponent(id)}:terminate`, {}),
  retry: (id: string) => requestUrl<unknown>("POST", `${KFP}/runs/${encodeURIComponent(id)}:retry`, {}),
  lastSeq: (id: string) =>
    requestUrl<{ last_seq?: number }>("GET", `${PIPELINES}/runs/events?${q({ run_id: id })}`).then((r) => r.last_seq ?? 0),
  eventsUrl: (id: string, after: number) =>
    `${PIPELINES}/runs/events?${q({ stream: "true", run_id: id, after: String(after) })}`,
  logUrl: (id: string, path: string) => `${PIPELINES}/tasks/log?${q({ run_id: id, path, stream: "true" })}`,
};
