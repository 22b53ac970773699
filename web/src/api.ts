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

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(BASE + path, {
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
    throw new ApiError(json.message || `HTTP ${res.status}`, json.error_code || "UNKNOWN", res.status);
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
};

/** The most points a chart asks the server for, per run and metric. */
export const MAX_POINTS = 2500;
