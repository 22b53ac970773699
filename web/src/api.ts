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

function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return requestUrl<T>(method, BASE + path, body);
}

// Any JSON API on this server: MLflow's errors ({error_code, message}) and
// KFP's ({code, message}) both carry `message`.
async function requestUrl<T>(method: string, url: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
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
      json.message || json.error_message || `HTTP ${res.status}`,
      json.error_code || String(json.code ?? "UNKNOWN"),
      res.status,
    );
  return json as T;
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

const q = (o: Record<string, string>) => new URLSearchParams(o).toString();

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
};

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
