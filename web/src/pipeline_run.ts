// One pipeline run as a graph: dagre lays the tasks out, the boxes and edges
// are SVG elements made here. Edges come from the run's KFP pipeline_spec
// (root.dag.tasks[*].dependentTasks); without one the tasks stand in start
// order, unconnected. States follow the server's event stream live; a task's
// panel streams its log.
import dagre from "@dagrejs/dagre";
import { pipelinesApi, type KfpRun, type PipelineRun, type PipelineTask } from "./api";
import { append, clear, errorBox, fmtDuration, fmtTime, h, loading, statusBadge } from "./dom";
import { ts } from "./pipeline_runs";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 210;
const NODE_H = 66;
// tasks say CANCELLED where runs say CANCELED
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "CANCELLED", "SKIPPED"]);

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// The DAG of a KFP IR spec (as kfp.Client sends it, or wrapped with a platform spec).
function specEdges(spec: any): { tasks: string[]; edges: [string, string][] } | null {
  const ir = spec && spec.pipeline_spec && !spec.root ? spec.pipeline_spec : spec;
  const tasks = ir?.root?.dag?.tasks;
  if (!tasks || typeof tasks !== "object") return null;
  const edges: [string, string][] = [];
  for (const [name, t] of Object.entries<any>(tasks))
    for (const dep of t?.dependentTasks ?? t?.dependent_tasks ?? []) edges.push([String(dep), name]);
  return { tasks: Object.keys(tasks), edges };
}

export async function pipelineRunPage(
  root: HTMLElement,
  alive: () => boolean,
  runId: string,
  onLeave: (f: () => void) => void,
) {
  const body = h("div", {}, loading("the pipeline run"));
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/pipeline-runs" }, "Pipeline runs")), body);
  let kfp: KfpRun;
  let run: PipelineRun;
  // the stream starts after the events the snapshot below already holds
  let lastSeq = 0;
  try {
    lastSeq = await pipelinesApi.lastSeq(runId);
    [kfp, run] = await Promise.all([pipelinesApi.getKfpRun(runId), pipelinesApi.getRun(runId).then((r) => r.run)]);
  } catch (e) {
    if (!alive()) return;
    clear(body);
    body.append(h("h1", {}, "Pipeline run"), errorBox(`Could not load pipeline run ${runId}: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;
  clear(body);
  const title = kfp.display_name || run.display_name || run.name || runId;
  document.title = `${title} · Trellis`;
  const experimentId = kfp.experiment_id || run.experiment_id || "0";
  const tasks: Record<string, PipelineTask> = { ...(run.tasks ?? {}) };
  let runState = run.state || kfp.state || "UNKNOWN";
  let runError = run.error || kfp.error?.message || "";

  // ---- the graph ----
  const dag = specEdges(kfp.pipeline_spec);
  const names = [...(dag?.tasks ?? [])];
  const byStart = Object.entries(tasks).sort((a, b) => (a[1].start_ms ?? Infinity) - (b[1].start_ms ?? Infinity));
  for (const [n] of byStart) if (!names.includes(n)) names.push(n);
  const edges = (dag?.edges ?? []).filter(([a, b]) => names.includes(a) && names.includes(b));
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of names) g.setNode(n, { width: NODE_W, height: NODE_H });
  for (const [a, b] of edges) g.setEdge(a, b);
  if (!dag) for (let i = 1; i < names.length; i++) g.setEdge(names[i - 1], names[i], { minlen: 0, weight: 0 });
  dagre.layout(g);
  const gl = g.graph();
  const svg = s("svg", {
    class: "dag",
    id: "dag",
    role: "group",
    "aria-label": `Tasks of ${title}`,
    width: Math.ceil(gl.width ?? 0),
    height: Math.ceil(gl.height ?? 0),
    viewBox: `0 0 ${Math.ceil(gl.width ?? 0)} ${Math.ceil(gl.height ?? 0)}`,
  });
  const marker = s("marker", { id: "dag-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto" });
  marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", class: "dag-arrowhead" }));
  const defs = s("defs");
  defs.append(marker);
  svg.append(defs);
  for (const [a, b] of edges) {
    const pts = g.edge(a, b)?.points ?? [];
    if (!pts.length) continue;
    const d = pts.map((p: { x: number; y: number }, i: number) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: "dag-edge", "data-from": a, "data-to": b, "marker-end": "url(#dag-arrow)" }));
  }
  const nodeEls = new Map<string, { g: SVGGElement; state: SVGTextElement; meta: SVGTextElement }>();
  for (const n of names) {
    const p = g.node(n);
    const x = p.x - NODE_W / 2;
    const y = p.y - NODE_H / 2;
    const node = s("g", { class: "dag-node", "data-task": n, tabindex: 0, role: "button", transform: `translate(${x},${y})` });
    node.append(s("rect", { width: NODE_W, height: NODE_H, rx: 8, class: "dag-box" }));
    node.append(s("rect", { width: 6, height: NODE_H, rx: 3, class: "dag-stripe" }));
    const label = n.length > 26 ? n.slice(0, 25) + "…" : n;
    node.append(s("text", { x: 16, y: 22, class: "dag-name" }, label));
    const st = s("text", { x: 16, y: 41, class: "dag-state" });
    const meta = s("text", { x: 16, y: 58, class: "dag-meta" });
    node.append(st, meta);
    node.addEventListener("click", () => select(n));
    node.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        select(n);
      }
    });
    svg.append(node);
    nodeEls.set(n, { g: node, state: st, meta });
  }

  const stateLine = h("span", {});
  const actions = h("div", { class: "actions" });
  const actionMsg = h("div", { "aria-live": "polite" });
  const panel = h("aside", { class: "task-panel", id: "task-panel", "aria-label": "Task", hidden: true });
  append(
    body,
    h("h1", {}, title),
    h(
      "dl",
      { class: "overview" },
      h("dt", {}, "Run ID"),
      h("dd", {}, h("span", { class: "mono" }, runId)),
      h("dt", {}, "State"),
      h("dd", { id: "run-state" }, stateLine),
      h("dt", {}, "Experiment"),
      h("dd", {}, h("a", { href: `#/experiments/${encodeURIComponent(experimentId)}` }, experimentId)),
      h("dt", {}, "Created"),
      h("dd", {}, fmtTime(run.created_ms ?? ts(kfp.created_at))),
    ),
    actions,
    actionMsg,
    h("h2", {}, "Tasks"),
    dag ? null : h("p", { class: "muted" }, "No pipeline spec with this run: tasks in start order, without edges."),
    h("div", { class: "dag-layout" }, h("div", { class: "dag-wrap" }, svg), panel),
  );

  const paintNode = (n: string) => {
    const el = nodeEls.get(n);
    if (!el) return;
    const t = tasks[n];
    const state = t?.state || "PENDING";
    el.g.setAttribute("class", `dag-node state-${state.toLowerCase()}${selected === n ? " selected" : ""}`);
    el.g.setAttribute("data-state", state);
    el.state.textContent = state;
    const marks = [t?.cached ? "cached" : "", (t?.attempts ?? 0) > 1 ? `retried ×${(t?.attempts ?? 1) - 1}` : ""].filter(Boolean);
    const dur = t?.start_ms ? fmtDuration(t.start_ms, TERMINAL.has(state) ? t.end_ms || t.start_ms : undefined) : "";
    el.meta.textContent = [dur, ...marks].filter(Boolean).join(" · ");
    el.g.setAttribute("aria-label", `${n}: ${state}${dur ? `, ${dur}` : ""}${marks.length ? `, ${marks.join(", ")}` : ""}`);
  };
  const paintRun = () => {
    stateLine.replaceChildren(statusBadge(runState), runError ? ` ${runError}` : "");
    clear(actions);
    if (runState === "RUNNING" || runState === "PENDING")
      actions.append(button("Terminate", () => pipelinesApi.terminate(runId)));
    if (runState === "FAILED" || runState === "CANCELED") actions.append(button("Retry", () => pipelinesApi.retry(runId)));
  };
  const button = (label: string, call: () => Promise<unknown>) => {
    const b = h("button", { type: "button", id: `run-${label.toLowerCase()}` }, label) as HTMLButtonElement;
    b.addEventListener("click", async () => {
      b.disabled = true;
      actionMsg.replaceChildren();
      try {
        await call();
        if (!alive()) return;
        actionMsg.replaceChildren(h("p", { class: "muted" }, `${label}: requested.`));
        if (label === "Retry") openEvents();
        refresh();
      } catch (e) {
        if (!alive()) return;
        b.disabled = false;
        actionMsg.replaceChildren(errorBox(`${label} failed: ${(e as Error).message}`));
      }
    });
    return b;
  };

  // ---- the task panel ----
  let selected: string | null = null;
  let logSource: EventSource | null = null;
  let logPre: HTMLElement | null = null;
  const closeLog = () => {
    logSource?.close();
    logSource = null;
  };
  const openLog = (n: string) => {
    closeLog();
    if (!logPre) return;
    logPre.replaceChildren();
    const src = new EventSource(pipelinesApi.logUrl(runId, n));
    logSource = src;
    const pre = logPre;
    src.onmessage = (e) => {
      pre.append(document.createTextNode(e.data + "\n"));
      pre.scrollTop = pre.scrollHeight;
    };
    // the stream ends with the attempt; EventSource would reconnect and replay it
    src.onerror = () => {
      src.close();
      if (logSource === src) logSource = null;
    };
  };
  // the attempt whose log is shown: a new attempt (a retry) starts a new log
  let logFor = "";
  const renderPanel = () => {
    if (!selected) return;
    const n = selected;
    const t = tasks[n];
    const state = t?.state || "PENDING";
    const started = state !== "PENDING" || (t?.attempts ?? 0) > 0;
    const key = started ? `${n}#${t?.attempts ?? "?"}` : "";
    const reopenLog = key !== logFor;
    const params = Object.entries(t?.outputs?.parameters ?? {});
    const artifacts = Object.entries(t?.outputs?.artifacts ?? {});
    const keepPre = !reopenLog && logPre ? logPre : h("pre", { class: "log", id: "task-log", tabindex: 0, "aria-label": `Log of ${n}` });
    logPre = keepPre;
    panel.replaceChildren(
      h("h2", { id: "task-title" }, n),
      h("p", {}, h("a", { id: "task-lineage-link", href: `#/lineage?node=${encodeURIComponent(`task:${runId}/${n}`)}` }, "Open lineage graph")),
      h(
        "dl",
        { class: "overview" },
        h("dt", {}, "State"),
        h("dd", { id: "task-state" }, statusBadge(state), t?.cached ? " cached" : ""),
        h("dt", {}, "Attempts"),
        h("dd", {}, String(t?.attempts ?? 0)),
        h("dt", {}, "Started"),
        h("dd", {}, fmtTime(t?.start_ms)),
        h("dt", {}, "Duration"),
        h("dd", {}, t?.start_ms ? fmtDuration(t.start_ms, TERMINAL.has(state) ? t.end_ms || t.start_ms : undefined) : "—"),
        h("dt", {}, "Message"),
        h("dd", {}, t?.message || "—"),
        h("dt", {}, "MLflow run"),
        h(
          "dd",
          {},
          t?.mlflow_run_id
            ? h(
                "a",
                {
                  id: "task-mlflow-link",
                  href: `#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(t.mlflow_run_id)}`,
                },
                t.mlflow_run_id,
              )
            : "—",
        ),
      ),
      h("h3", {}, "Outputs"),
      params.length || artifacts.length
        ? h(
            "table",
            { class: "grid kv", id: "task-outputs" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
            h(
              "tbody",
              {},
              ...params.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "value" }, fmtValue(v)))),
              ...artifacts.map(([k, v]) =>
                h("tr", {}, h("th", { scope: "row" }, `${k} (artifact)`), h("td", { class: "value" }, fmtValue(v))),
              ),
            ),
          )
        : h("p", {}, "None yet."),
      h("h3", {}, "Log"),
      keepPre,
      h("button", { type: "button", class: "close", onclick: () => deselect() }, "Close"),
    );
    panel.hidden = false;
    logFor = key;
    if (reopenLog && started) openLog(n);
  };
  const select = (n: string) => {
    const prev = selected;
    selected = n;
    if (prev) paintNode(prev);
    paintNode(n);
    if (prev !== n) {
      closeLog();
      logPre = null;
      logFor = "";
    }
    renderPanel();
  };
  const deselect = () => {
    const prev = selected;
    selected = null;
    closeLog();
    logPre = null;
    logFor = "";
    panel.hidden = true;
    if (prev) {
      paintNode(prev);
      nodeEls.get(prev)?.g.focus();
    }
  };

  for (const n of names) paintNode(n);
  paintRun();

  // ---- live ----
  let refreshTimer = 0;
  const refresh = () => {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(async () => {
      try {
        const r = (await pipelinesApi.getRun(runId)).run;
        if (!alive()) return;
        for (const [n, t] of Object.entries(r.tasks ?? {})) tasks[n] = t;
        runState = r.state || runState;
        runError = r.error || "";
        for (const n of names) paintNode(n);
        paintRun();
        if (selected) renderPanel();
      } catch {
        /* the next event tries again */
      }
    }, 250);
  };
  let events: EventSource | null = null;
  const openEvents = () => {
    events?.close();
    const src = new EventSource(pipelinesApi.eventsUrl(runId, lastSeq));
    events = src;
    const onEvent = (e: MessageEvent) => {
      let ev: any;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!alive() || ev.run_id !== runId) return;
      if (typeof ev.seq === "number") {
        if (ev.seq <= lastSeq) return;
        lastSeq = ev.seq;
      }
      if (ev.kind === "task" && ev.path) {
        const prev = tasks[ev.path]?.state;
        const t: PipelineTask = (tasks[ev.path] = { ...(tasks[ev.path] ?? { state: "PENDING" }) });
        t.state = ev.state;
        if (ev.message) t.message = ev.message;
        if (ev.state === "RUNNING" && (!t.start_ms || (prev && TERMINAL.has(prev)))) t.start_ms = ev.time_ms;
        if (TERMINAL.has(ev.state)) t.end_ms = ev.time_ms;
        paintNode(ev.path);
        if (selected === ev.path) renderPanel();
      } else if (ev.kind === "run") {
        runState = ev.state;
        if (ev.message) runError = ev.message;
        paintRun();
        if (TERMINAL.has(ev.state)) {
          src.close();
          if (events === src) events = null;
        }
      }
      refresh();
    };
    src.addEventListener("task", onEvent as EventListener);
    src.addEventListener("run", onEvent as EventListener);
    src.onmessage = onEvent;
  };
  if (!TERMINAL.has(runState)) openEvents();
  // running tasks' durations tick
  const tick = window.setInterval(() => {
    for (const n of names) if (tasks[n]?.state === "RUNNING") paintNode(n);
  }, 1000);
  onLeave(() => {
    events?.close();
    closeLog();
    clearInterval(tick);
    clearTimeout(refreshTimer);
  });
}

function fmtValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
