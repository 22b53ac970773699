// The lineage graph (/api/2.0/trellis/lineage) and a run's artifacts
// (MLflow's artifacts/list, and downloads through /get-artifact, which
// honours a single HTTP Range).
import { ApiError, requestUrl, type LineageNode } from "./api";

export interface LineageEdge {
  src: string;
  dst: string;
  relation: string;
}
export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges?: LineageEdge[];
  truncated?: boolean;
}
export type Direction = "upstream" | "downstream" | "both";

export interface ArtifactFile {
  path: string; // relative to the run's artifact root
  is_dir?: boolean;
  file_size?: number;
}

const q = (o: Record<string, string>) => new URLSearchParams(o).toString();

export const lineageApi = {
  walk: (node: string, direction: Direction, depth: number) =>
    requestUrl<LineageGraph>(
      "GET",
      `/api/2.0/trellis/lineage?${q({ node, direction, depth: String(depth) })}`,
    ),
  listArtifacts: (runId: string, path: string) =>
    requestUrl<{ root_uri?: string; files?: ArtifactFile[] }>(
      "GET",
      `/api/2.0/mlflow/artifacts/list?${q({ run_id: runId, ...(path ? { path } : {}) })}`,
    ),
};

/** The download URL of a run's artifact (relative to the run's artifact root). */
export const artifactUrl = (runId: string, path: string) => `/get-artifact?${q({ run_id: runId, path })}`;

/** The proxy URL of a stored artifact path (as lineage's artifact `paths` name them). */
export const proxyUrl = (path: string) =>
  `/api/2.0/mlflow-artifacts/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;

export interface Head {
  bytes: Uint8Array;
  total: number; // the file's size
  truncated: boolean;
}

/** At most `max` bytes from the start of a run's artifact (one Range request). */
export async function artifactHead(runId: string, path: string, max: number, size?: number): Promise<Head> {
  const headers: Record<string, string> = size !== undefined && size <= max ? {} : { Range: `bytes=0-${max - 1}` };
  let res: Response;
  try {
    res = await fetch(artifactUrl(runId, path), { headers });
  } catch (e) {
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, "NETWORK", 0);
  }
  if (res.status === 416) return { bytes: new Uint8Array(), total: 0, truncated: false }; // an empty file
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      const j = JSON.parse(await res.text());
      message = j.message || message;
    } catch {}
    throw new ApiError(message, "HTTP", res.status);
  }
  const all = new Uint8Array(await res.arrayBuffer());
  const range = /\/(\d+)$/.exec(res.headers.get("Content-Range") ?? "");
  const total = res.status === 206 && range ? Number(range[1]) : all.length;
  const bytes = all.length > max ? all.slice(0, max) : all;
  return { bytes, total, truncated: total > bytes.length };
}
