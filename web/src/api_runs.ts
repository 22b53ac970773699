// The REST calls of the experiments and runs pages (MLflow's
// /api/2.0/mlflow): experiments searched by name and lifecycle, renamed,
// deleted and restored; runs of several experiments in a chosen order.
import { quote, type Experiment, type Run } from "./api";
import { ApiError } from "./api";

const BASE = "/api/2.0/mlflow";

async function post<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
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
  if (!res.ok) throw new ApiError(json.message || `HTTP ${res.status}`, json.error_code || "UNKNOWN", res.status);
  return json as T;
}

export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

export const runsApi = {
  searchExperiments: (nameLike: string, view: ViewType, pageToken?: string) =>
    post<{ experiments?: Experiment[]; next_page_token?: string }>("/experiments/search", {
      max_results: 1000,
      order_by: ["last_update_time DESC"],
      view_type: view,
      ...(nameLike ? { filter: `name LIKE ${quote(`%${nameLike}%`)}` } : {}),
      ...(pageToken ? { page_token: pageToken } : {}),
    }),
  renameExperiment: (id: string, name: string) =>
    post<{}>("/experiments/update", { experiment_id: id, new_name: name }),
  deleteExperiment: (id: string) => post<{}>("/experiments/delete", { experiment_id: id }),
  restoreExperiment: (id: string) => post<{}>("/experiments/restore", { experiment_id: id }),
  searchRuns: (experimentIds: string[], filter: string, orderBy: string[], pageToken?: string, maxResults = 100) =>
    post<{ runs?: Run[]; next_page_token?: string }>("/runs/search", {
      experiment_ids: experimentIds,
      filter,
      max_results: maxResults,
      order_by: orderBy,
      ...(pageToken ? { page_token: pageToken } : {}),
    }),
};
