// The audit log (#/audit?actor=&action=&resource=&from=&to=): the hash
// chain's verification at the top, a filter form, and the entries newest
// first, 50 a page. "resource" is "<type>" or "<type>/<id>"; "from" and "to"
// are ms since the epoch (the form shows them in local time).
import { api } from "./api";
import { auditApi, type AuditEntry, type AuditFilter } from "./api_audit";
import { badge, clear, errorBox, fmtTime, h, loading } from "./dom";
import "./audit.css";

const PAGE = 50;

export interface AuditQuery {
  actor: string;
  action: string;
  resource: string;
  from?: number;
  to?: number;
}

export function auditQuery(params: URLSearchParams): AuditQuery {
  const ms = (k: string) => {
    const v = params.get(k);
    if (!v) return undefined;
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    return Number.isFinite(n) ? n : undefined;
  };
  return {
    actor: params.get("actor") ?? "",
    action: params.get("action") ?? "",
    resource: params.get("resource") ?? "",
    from: ms("from"),
    to: ms("to"),
  };
}

function toFilter(q: AuditQuery): AuditFilter {
  const slash = q.resource.indexOf("/");
  return {
    actor: q.actor || undefined,
    action: q.action || undefined,
    resource_type: (slash < 0 ? q.resource : q.resource.slice(0, slash)) || undefined,
    resource_id: slash < 0 ? undefined : q.resource.slice(slash + 1) || undefined,
    from_ms: q.from,
    to_ms: q.to,
  };
}

function toHash(q: AuditQuery): string {
  const p = new URLSearchParams();
  if (q.actor) p.set("actor", q.actor);
  if (q.action) p.set("action", q.action);
  if (q.resource) p.set("resource", q.resource);
  if (q.from !== undefined) p.set("from", String(q.from));
  if (q.to !== undefined) p.set("to", String(q.to));
  const s = p.toString();
  return s ? `#/audit?${s}` : "#/audit";
}

// ms since the epoch <-> the value of an <input type="datetime-local"> (local time)
function toLocalInput(ms?: number): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
function fromLocalInput(v: string): number | undefined {
  if (!v) return undefined;
  const n = new Date(v).getTime();
  return Number.isFinite(n) ? n : undefined;
}

/** The UI page of an audited resource, where there is one. */
export function resourceHref(type: string, id: string): string | undefined {
  const e = encodeURIComponent;
  switch (type) {
    case "experiment":
      return /^\d+$/.test(id) ? `#/experiments/${e(id)}` : undefined;
    case "run":
      return `#/runs/${e(id)}`;
    case "registered_model":
      return `#/models/${e(id)}`;
    case "model_version": {
      const slash = id.lastIndexOf("/");
      return slash > 0 ? `#/models/${e(id.slice(0, slash))}/versions/${e(id.slice(slash + 1))}` : undefined;
    }
    case "pipeline_run":
      return `#/pipeline-runs/${e(id)}`;
    default:
      return undefined;
  }
}

/** #/runs/<id>: a run's page found from its id alone (audit entries name runs without their experiment). */
export async function runRedirect(root: HTMLElement, alive: () => boolean, runId: string): Promise<void> {
  root.append(loading("the run"));
  try {
    const { run } = await api.getRun(runId);
    if (!alive()) return;
    location.replace(`#/experiments/${encodeURIComponent(run.info.experiment_id)}/runs/${encodeURIComponent(runId)}`);
  } catch (e) {
    if (!alive()) return;
    clear(root);
    root.append(h("h1", {}, "Run"), errorBox(`Could not load run ${runId}: ${(e as Error).message}`));
  }
}

function verifyBox(alive: () => boolean): HTMLElement {
  const box = h("section", { class: "audit-verify", id: "audit-verify", "aria-labelledby": "h-verify" });
  const status = h("div", { role: "status", "aria-live": "polite" }, loading("the chain's status"));
  const again = h("button", { type: "button", class: "small" }, "Check again") as HTMLButtonElement;
  box.append(h("h2", { id: "h-verify" }, "Chain verification"), status, again);
  const run = async () => {
    again.disabled = true;
    status.replaceChildren(loading("the chain's status"));
    try {
      const v = await auditApi.verify();
      if (!alive()) return;
      box.classList.toggle("broken", !v.ok);
      box.classList.toggle("intact", v.ok);
      const when = `checked ${fmtTime(v.checked_at_ms)} in ${v.duration_ms} ms`;
      status.replaceChildren(
        v.ok
          ? h("p", { class: "verify-line" }, h("strong", {}, "Intact"), ` · ${v.count} ${v.count === 1 ? "entry" : "entries"} · ${when}`)
          : h(
              "p",
              { class: "verify-line" },
              h("strong", {}, `Broken at entry ${v.first_bad_seq}`),
              ` · ${v.count} ${v.count === 1 ? "entry" : "entries"} intact before it · ${when}`,
              v.message ? h("span", { class: "verify-msg" }, ` · ${v.message}`) : null,
            ),
      );
    } catch (e) {
      if (alive()) status.replaceChildren(errorBox(`Could not verify the chain: ${(e as Error).message}`));
    } finally {
      again.disabled = false;
    }
  };
  again.addEventListener("click", () => void run());
  void run();
  return box;
}

function filterForm(q: AuditQuery): HTMLFormElement {
  const field = (id: string, label: string, value: string, attrs: Record<string, string> = {}, hint?: string) =>
    h(
      "div",
      { class: "audit-field" },
      h("label", { for: id }, label),
      h("input", { id, name: id, value, ...attrs, ...(hint ? { "aria-describedby": `${id}-hint` } : {}) }),
      hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null,
    );
  const form = h(
    "form",
    { class: "audit-filter", id: "audit-filter", "aria-label": "Filter the audit log" },
    field("f-actor", "Actor", q.actor, { type: "text", placeholder: "anonymous" }),
    field("f-action", "Action", q.action, { type: "text", placeholder: "runs.create or runs.*" }, "exact, or a prefix ending in *"),
    field("f-resource", "Resource", q.resource, { type: "text", placeholder: "run or run/<id>" }, "a type, or type/id"),
    field("f-from", "From", toLocalInput(q.from), { type: "datetime-local" }),
    field("f-to", "To", toLocalInput(q.to), { type: "datetime-local" }),
    h(
      "div",
      { class: "audit-buttons" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: "#/audit", class: "clear-filters" }, "Clear"),
    ),
  ) as HTMLFormElement;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const val = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value.trim();
    const next: AuditQuery = {
      actor: val("f-actor"),
      action: val("f-action"),
      resource: val("f-resource"),
      from: fromLocalInput(val("f-from")),
      // a minute input: "to" covers the whole minute it names
      to: val("f-to") ? (fromLocalInput(val("f-to")) ?? 0) + 59_999 : undefined,
    };
    const hash = toHash(next);
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  });
  return form;
}

function entryRow(e: AuditEntry): HTMLElement {
  const href = resourceHref(e.resource_type, e.resource_id);
  const details = h(
    "details",
    { class: "audit-details" },
    h("summary", {}, e.detail ? e.detail : `entry ${e.seq}`),
    h(
      "dl",
      { class: "overview" },
      h("dt", {}, "Entry"),
      h("dd", {}, String(e.seq)),
      h("dt", {}, "Outcome"),
      h("dd", {}, e.outcome),
      h("dt", {}, "Detail"),
      h("dd", {}, e.detail || "—"),
      h("dt", {}, "Request digest"),
      h("dd", { class: "mono hash" }, e.request_digest || "—"),
      h("dt", {}, "Hash"),
      h("dd", { class: "mono hash" }, e.hash),
      h("dt", {}, "Previous hash"),
      h("dd", { class: "mono hash" }, e.prev_hash),
    ),
  );
  return h(
    "tr",
    { "data-seq": String(e.seq) },
    h("td", { class: "nowrap" }, h("time", { datetime: new Date(e.time_ms).toISOString() }, fmtTime(e.time_ms))),
    h("td", {}, e.actor),
    h("td", { class: "mono nowrap" }, e.action),
    h("td", { class: "mono resource" }, href ? h("a", { href }, e.resource) : e.resource),
    h("td", {}, e.outcome === "ok" ? "ok" : badge(e.outcome, "failed")),
    h("td", {}, details),
  );
}

export async function auditPage(root: HTMLElement, alive: () => boolean, params: URLSearchParams): Promise<void> {
  document.title = "Audit log · Trellis";
  const q = auditQuery(params);
  const body = h("div", {}, loading("the audit log"));
  root.append(
    h("h1", {}, "Audit log"),
    verifyBox(alive),
    h("section", { "aria-labelledby": "h-entries" }, h("h2", { id: "h-entries" }, "Entries"), filterForm(q), body),
  );
  const filter = toFilter(q);
  const tbody = h("tbody", {});
  const more = h("p", { class: "more" });
  const caption = h("caption", {});
  let shown = 0;
  const load = async (token?: string) => {
    const res = await auditApi.entries(filter, PAGE, token);
    if (!alive()) return;
    const list = res.entries ?? [];
    if (!token) {
      clear(body);
      if (!list.length) {
        body.append(h("p", { id: "audit-empty" }, "No audit entries match these filters."));
        return;
      }
      body.append(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid audit", id: "audit-table" },
            caption,
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Time"),
                h("th", { scope: "col" }, "Actor"),
                h("th", { scope: "col" }, "Action"),
                h("th", { scope: "col" }, "Resource"),
                h("th", { scope: "col" }, "Outcome"),
                h("th", { scope: "col" }, "Details"),
              ),
            ),
            tbody,
          ),
        ),
        more,
      );
    }
    for (const e of list) tbody.append(entryRow(e));
    shown += list.length;
    caption.textContent = `${shown} entr${shown === 1 ? "y" : "ies"} shown, newest first${res.next_page_token ? " (more below)" : ""}`;
    clear(more);
    if (res.next_page_token) {
      const b = h("button", { type: "button", id: "audit-more" }, `Load ${PAGE} more`) as HTMLButtonElement;
      b.addEventListener("click", () => {
        b.disabled = true;
        load(res.next_page_token).catch((e) => alive() && more.replaceChildren(errorBox(`Could not load more: ${e.message}`)));
      });
      more.append(b);
    }
  };
  try {
    await load();
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(errorBox(`Could not list the audit log: ${(e as Error).message}`));
  }
}
