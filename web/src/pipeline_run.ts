// One pipeline run as a graph (dag.ts: dagre's layout, sub-DAGs and loop
// iterations as group boxes). Edges come from the run's KFP pipeline_spec
// (dependentTasks); without one the tasks stand in start order, unconnected.
// States and the selected task's log arrive on ONE stream (pipelines/stream),
// reopened when the selected task changes.
import { pipelinesApi, type KfpRun, type PipelineRun, type PipelineTask } from "./api";
import { kfpApi, streamUrl } from "./api_pipelines";
import { drawDag, graphModel } from "./dag";
import { append, clear, errorBox, fmtDuration, fmtTime, h, loading, statusBadge } from "./dom";
import { ts } from "./pipeline_runs";

// tasks say CANCELLED where runs say CANCELED
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED", "CANCELLED", "SKIPPED"]);

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
    // a run of a stored version carries a reference, not the spec
    const ref = kfp.pipeline_version_reference;
    if (!kfp.pipeline_spec && ref?.pipeline_id && ref.pipeline_version_id)
      kfp.pipeline_spec = await kfpApi
        .getVersion(ref.pipeline_id, ref.pipeline_version_id)
        .then((v) => v.pipeline_spec)
        .catch(() => undefined);
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
  // task boxes are remade when the run shows tasks the graph lacks (a loop's iterations)
  const taskPaths = () =>
    Object.entries(tasks)
      .sort((a, b) => (a[1].start_ms ?? Infinity) - (b[1].start_ms ?? Infinity))
      .map(([n]) => n);
  let model = graphModel(kfp.pipeline_spec, taskPaths());
  let view = drawDag(model, title, (n) => select(n));
  let names = [...view.nodes.keys()];
  const dagWrap = h("div", { class: "dag-wrap" }, view.svg);
  const relayout = () => {
    const focused = (document.activeElement as Element | null)?.getAttribute?.("data-task");
    model = graphModel(kfp.pipeline_spec, taskPaths());
    view = drawDag(model, title, (n) => select(n));
    names = [...view.nodes.keys()];
    dagWrap.replaceChildren(view.svg);
    for (const n of names) paintNode(n);
    paintGroups();
    if (focused) (view.nodes.get(focused)?.g as SVGGElement | undefined)?.focus();
  };
  const known = (n: string) => view.nodes.has(n) || view.groups.has(n) || model.hidden.has(n);

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
      ...(kfp.pipeline_version_reference?.pipeline_id && kfp.pipeline_version_reference.pipeline_version_id
        ? [
            h("dt", {}, "Pipeline version"),
            h(
              "dd",
              {},
              h(
                "a",
                {
                  id: "run-version-link",
                  href: `#/pipelines/${encodeURIComponent(kfp.pipeline_version_reference.pipeline_id)}/versions/${encodeURIComponent(kfp.pipeline_version_reference.pipeline_version_id)}`,
                },
                kfp.pipeline_version_reference.pipeline_version_id,
              ),
            ),
          ]
        : []),
    ),
    actions,
    actionMsg,
    h("h2", {}, "Tasks"),
    model.fromSpec ? null : h("p", { class: "muted" }, "No pipeline spec with this run: tasks in start order, without edges."),
    h("div", { class: "dag-layout" }, dagWrap, panel),
  );

  const paintGroups = () => {
    for (const [id, gr] of view.groups) {
      const t = tasks[id];
      const kind = gr.g.getAttribute("data-kind");
      gr.g.setAttribute("class", `dag-group group-${kind}${t ? ` state-${t.state.toLowerCase()}` : ""}`);
      if (t) gr.g.setAttribute("data-state", t.state);
    }
  };
  const paintNode = (n: string) => {
    const el = view.nodes.get(n);
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
  // the task attempt whose log the page's one stream carries
  let logWanted: { path: string; attempt: number } | null = null;
  let logPre: HTMLElement | null = null;
  const closeLog = () => {
    logWanted = null;
    syncStream();
  };
  const openLog = (n: string) => {
    if (!logPre) return;
    logPre.replaceChildren();
    logWanted = { path: n, attempt: tasks[n]?.attempts ?? 0 };
    syncStream();
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
      view.nodes.get(prev)?.g.focus();
    }
  };

  for (const n of names) paintNode(n);
  paintRun();

  // ---- live ----
  let refreshTimer = 0;
  // events counted, and the count when each task's ("" the run's) state last came by event
  let evN = 0;
  const stateAt = new Map<string, number>();
  const refresh = () => {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(async () => {
      try {
        const mark = evN;
        const r = (await pipelinesApi.getRun(runId)).run;
        if (!alive()) return;
        // an event that came while this read was under way is newer: its state stays
        for (const [n, t] of Object.entries(r.tasks ?? {})) {
          const cur = tasks[n];
          tasks[n] =
            cur && (stateAt.get(n) ?? 0) > mark ? { ...t, state: cur.state, start_ms: cur.start_ms, end_ms: cur.end_ms } : t;
        }
        if ((stateAt.get("") ?? 0) <= mark) {
          runState = r.state || runState;
          runError = r.error || "";
        }
        if (Object.keys(r.tasks ?? {}).some((n) => !known(n))) relayout();
        else {
          for (const n of names) paintNode(n);
          paintGroups();
        }
        paintRun();
        if (selected) renderPanel();
        // the run goes on (a Retry) after its stream ended: a new one
        if (!TERMINAL.has(runState) && !stream) {
          endedKey = "";
          syncStream();
        }
      } catch {
        /* the next event tries again */
      }
    }, 250);
  };
  // ---- the page's one stream: the run's events and the selected task's log ----
  let stream: EventSource | null = null;
  let streamKey = ""; // what the open stream carries
  let endedKey = ""; // a stream the server ended (the run is over): not reopened
  let syncQueued = false;
  const wantKey = () => (logWanted ? `log:${logWanted.path}#${logWanted.attempt}` : "events");
  const closeStream = () => {
    stream?.close();
    stream = null;
    streamKey = "";
  };
  // (re)opens the stream when what it should carry changed; one at a time
  const syncStream = () => {
    if (syncQueued) return;
    syncQueued = true;
    queueMicrotask(() => {
      syncQueued = false;
      if (!alive()) return;
      const key = wantKey();
      if (stream && key === streamKey) return;
      closeStream();
      if (key === endedKey || (TERMINAL.has(runState) && !logWanted)) return;
      openStream(key);
    });
  };
  const openStream = (key: string) => {
    const want = logWanted;
    const src = new EventSource(
      streamUrl({ runId, after: lastSeq, logTask: want?.path, logAttempt: want?.attempt || undefined }),
    );
    stream = src;
    streamKey = key;
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
        stateAt.set(ev.path, ++evN);
        const t: PipelineTask = (tasks[ev.path] = { ...(tasks[ev.path] ?? { state: "PENDING" }) });
        t.state = ev.state;
        if (ev.message) t.message = ev.message;
        if (ev.state === "RUNNING" && (!t.start_ms || (prev && TERMINAL.has(prev)))) t.start_ms = ev.time_ms;
        if (TERMINAL.has(ev.state)) t.end_ms = ev.time_ms;
        if (!known(ev.path)) relayout();
        else {
          paintNode(ev.path);
          paintGroups();
        }
        if (selected === ev.path) renderPanel();
      } else if (ev.kind === "run") {
        stateAt.set("", ++evN);
        runState = ev.state;
        if (ev.message) runError = ev.message;
        paintRun();
      }
      refresh();
    };
    src.addEventListener("task", onEvent as EventListener);
    src.addEventListener("run", onEvent as EventListener);
    src.addEventListener("log", ((e: MessageEvent) => {
      let ev: any;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!alive() || !want || !logPre || ev.path !== want.path || logWanted !== want) return;
      logPre.append(document.createTextNode(String(ev.line) + "\n"));
      logPre.scrollTop = logPre.scrollHeight;
    }) as EventListener);
    // the run is over and everything is sent: the browser must not reconnect
    src.addEventListener("end", () => {
      src.close();
      if (stream === src) {
        stream = null;
        streamKey = "";
        endedKey = key;
      }
      refresh();
    });
    // a refused stream (e.g. 404) stays closed; otherwise EventSource
    // reconnects by itself, resuming after Last-Event-ID
    src.onerror = () => {
      if (src.readyState === EventSource.CLOSED && stream === src) {
        stream = null;
        streamKey = "";
      }
    };
  };
  // after a Retry: the run's state (re-read by refresh) reopens the stream
  const openEvents = () => {
    endedKey = "";
    closeStream();
    syncStream();
  };
  syncStream();
  // running tasks' durations tick
  const tick = window.setInterval(() => {
    for (const n of names) if (tasks[n]?.state === "RUNNING") paintNode(n);
  }, 1000);
  onLeave(() => {
    closeStream();
    clearInterval(tick);
    clearTimeout(refreshTimer);
  });
}

function fmtValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
