// The REST calls of the experiments and runs pages (MLflow's
// /api/2.0/mlflow): experiments searched by name and lifecycle, renamed,
// deleted and restored; runs of several experiments in a chosen order.
import { quote, requestUrl, type Experiment, type Run } from "./api";

const BASE = "/api/2.0/mlflow";

const post = <T>(path: string, body: unknown): Promise<T> => requestUrl<T>("POST", BASE + path, body);

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
