// KFP pipelines, versions, experiments and run creation (/apis/v2beta1), and
// Trellis's multiplexed pipeline stream (/api/2.0/trellis/pipelines/stream).
import { PIPELINES, fetchJson, q, requestUrl } from "./api";

const KFP = "/apis/v2beta1";

export interface KfpPipeline {
  pipeline_id: string;
  display_name?: string;
  name?: string;
  description?: string;
  created_at?: string;
}
export interface KfpVersion {
  pipeline_id?: string;
  pipeline_version_id: string;
  display_name?: string;
  name?: string;
  description?: string;
  created_at?: string;
  pipeline_spec?: any;
}
export interface KfpExperiment {
  experiment_id: string;
  display_name?: string;
  storage_state?: string;
}

// A compiled pipeline file as KFP's multipart upload (field `uploadfile`).
function upload<T>(url: string, file: File): Promise<T> {
  const form = new FormData();
  form.append("uploadfile", file, file.name);
  return fetchJson<T>(url, { method: "POST", body: form });
}

const nameFilter = (name: string) =>
  JSON.stringify({ predicates: [{ key: "display_name", operation: "IS_SUBSTRING", string_value: name }] });

export const kfpApi = {
  listPipelines: (name: string, pageToken?: string) =>
    requestUrl<{ pipelines?: KfpPipeline[]; total_size?: number; next_page_token?: string }>(
      "GET",
      `${KFP}/pipelines?${q({
        sort_by: "created_at desc",
        page_size: "50",
        ...(name ? { filter: nameFilter(name) } : {}),
        ...(pageToken ? { page_token: pageToken } : {}),
      })}`,
    ),
  getPipeline: (id: string) => requestUrl<KfpPipeline>("GET", `${KFP}/pipelines/${encodeURIComponent(id)}`),
  listVersions: (id: string, pageSize = 100, pageToken?: string) =>
    requestUrl<{ pipeline_versions?: KfpVersion[]; total_size?: number; next_page_token?: string }>(
      "GET",
      `${KFP}/pipelines/${encodeURIComponent(id)}/versions?${q({
        sort_by: "created_at desc",
        page_size: String(pageSize),
        ...(pageToken ? { page_token: pageToken } : {}),
      })}`,
    ),
  getVersion: (id: string, vid: string) =>
    requestUrl<KfpVersion>("GET", `${KFP}/pipelines/${encodeURIComponent(id)}/versions/${encodeURIComponent(vid)}`),
  uploadPipeline: (file: File, name: string) =>
    upload<KfpPipeline>(`${KFP}/pipelines/upload?${q(name ? { name } : {})}`, file),
  uploadVersion: (id: string, file: File, name: string) =>
    upload<KfpVersion>(`${KFP}/pipelines/upload_version?${q({ pipelineid: id, ...(name ? { name } : {}) })}`, file),
  listExperiments: () =>
    requestUrl<{ experiments?: KfpExperiment[] }>("GET", `${KFP}/experiments?${q({ page_size: "200", sort_by: "created_at desc" })}`),
  createRun: (body: unknown) => requestUrl<{ run_id: string }>("POST", `${KFP}/runs`, body),
};

// One stream per page: a run's task and run events and the log lines of one
// task attempt (or, without a run, every run's state changes).
// Without `after`, from now on.
export function streamUrl(o: { runId?: string; after?: number; logTask?: string; logAttempt?: number }): string {
  const p: Record<string, string> = o.after === undefined ? {} : { after: String(o.after) };
  if (o.runId) p.run_id = o.runId;
  if (o.runId && o.logTask) {
    p.log_task = o.logTask;
    if (o.logAttempt) p.log_attempt = String(o.logAttempt);
  }
  return `${PIPELINES}/stream?${q(p)}`;
}
