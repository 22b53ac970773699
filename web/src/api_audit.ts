// Trellis' audit log API (/api/2.0/trellis/audit): entries newest first with
// filters and page tokens, and the hash chain's verification.
import { requestUrl } from "./api";

const AUDIT = "/api/2.0/trellis/audit";

export interface AuditEntry {
  seq: number;
  time_ms: number;
  actor: string;
  action: string;
  resource: string;
  resource_type: string;
  resource_id: string;
  outcome: string;
  detail: string;
  request_digest: string;
  prev_hash: string;
  hash: string;
}

export interface AuditFilter {
  actor?: string;
  action?: string; // exact, or a prefix ending in "*"
  resource_type?: string;
  resource_id?: string;
  from_ms?: number;
  to_ms?: number;
}

export interface AuditVerify {
  ok: boolean;
  count: number;
  checked_at_ms: number;
  duration_ms: number;
  first_bad_seq?: number;
  message?: string;
}

export const auditApi = {
  entries: (f: AuditFilter, maxResults: number, pageToken?: string) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== "") p.set(k, String(v));
    p.set("max_results", String(maxResults));
    if (pageToken) p.set("page_token", pageToken);
    return requestUrl<{ entries?: AuditEntry[]; next_page_token?: string }>("GET", `${AUDIT}/entries?${p}`);
  },
  verify: () => requestUrl<AuditVerify>("GET", `${AUDIT}/verify`),
};
