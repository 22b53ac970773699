// The lineage graph around one node (#/lineage?node=<kind>:<id>&depth=N):
// /api/2.0/trellis/lineage walks both ways from the node; @dagrejs/dagre lays
// the graph out (left to right: what made a thing stands left of it) and the
// boxes, arrows and edge labels are SVG elements made here from its
// positions. Selecting a node (click, or Enter on it) shows its details and
// puts it in the URL; "Expand upstream/downstream" asks the API for one more
// level around it and merges the answer into the graph.
import dagre from "@dagrejs/dagre";
import type { LineageNode } from "./api";
import { lineageApi, type Direction, type LineageEdge, type LineageGraph } from "./api_lineage";
import { append, errorBox, h, loading } from "./dom";
import { KINDS, kindOf, lineageHref, nodeHref, nodeLabel } from "./lineage_common";
import "./lineage.css";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 200;
const NODE_H = 54;
const MAX_DRAWN = 300;
const DEPTHS = [1, 2, 3, 4, 5, 10, 20];

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const cut = (t: string, n: number) => (t.length > n ? t.slice(0, n - 1) + "…" : t);
const edgeKey = (e: LineageEdge) => `${e.src}\u0000${e.relation}\u0000${e.dst}`;

export async function lineagePage(root: HTMLElement, alive: () => boolean, start: string, depthArg: string) {
  const depth = DEPTHS.includes(Number(depthArg)) ? Number(depthArg) : 1;
  document.title = "Lineage · Trellis";
  const nodeInput = h("input", { id: "lineage-node", name: "node", type: "text", value: start, autocomplete: "off", spellcheck: "false", placeholder: "run:<id>" });
  const depthSel = h(
    "select",
    { id: "lineage-depth", name: "depth" },
    ...DEPTHS.map((d) => h("option", { value: String(d), selected: d === depth }, String(d))),
  );
  const form = h(
    "form",
    { class: "inline-form", id: "lineage-form" },
    h("label", { for: "lineage-node" }, "Node"),
    nodeInput,
    h("label", { for: "lineage-depth" }, "Depth"),
    depthSel,
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = lineageHref(nodeInput.value.trim(), Number(depthSel.value));
  });
  depthSel.addEventListener("change", () => (location.hash = lineageHref(nodeInput.value.trim(), Number(depthSel.value))));
  const body = h("div", {});
  root.append(
    h("h1", {}, "Lineage"),
    h("p", { class: "muted" }, "What made a thing stands to its left, what used it to its right. Select a node to see it and expand the graph around it."),
    form,
    legend(),
    body,
  );
  if (!start) {
    body.append(h("p", {}, "Name a node as ", h("code", {}, "<kind>:<id>"), ", e.g. ", h("code", {}, "run:<run id>"), " or ", h("code", {}, "model_version:<name>/<version>"), "."));
    return;
  }
  body.append(loading("the lineage"));
  let first: LineageGraph;
  try {
    first = await lineageApi.walk(start, "both", depth);
  } catch (e) {
    if (!alive()) return;
    body.replaceChildren(errorBox(`Could not load the lineage of ${start}: ${(e as Error).message}`));
    return;
  }
  if (!alive()) return;

  const nodes = new Map<string, LineageNode>();
  const edges = new Map<string, LineageEdge>();
  let truncated = false;
  const merge = (g: LineageGraph): number => {
    const before = nodes.size;
    for (const n of g.nodes) nodes.set(n.id, { ...nodes.get(n.id), ...n });
    for (const e of g.edges ?? []) edges.set(edgeKey(e), e);
    truncated ||= !!g.truncated;
    return nodes.size - before;
  };
  merge(first);
  let selected = nodes.has(start) ? start : first.root;

  const wrap = h("div", { class: "dag-wrap lin-wrap" });
  const panel = h("aside", { class: "task-panel lin-panel", id: "lineage-panel", "aria-label": "Selected node" });
  const status = h("p", { class: "muted", id: "lineage-status", role: "status", "aria-live": "polite" });
  body.replaceChildren(status, h("div", { class: "dag-layout" }, wrap, panel));
  const nodeEls = new Map<string, SVGGElement>();

  const draw = () => {
    const drawn = [...nodes.keys()].slice(0, MAX_DRAWN);
    if (!drawn.includes(selected)) drawn[drawn.length - 1] = selected;
    const inDraw = new Set(drawn);
    const es = [...edges.values()].filter((e) => inDraw.has(e.src) && inDraw.has(e.dst));
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 70, edgesep: 12, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const id of drawn) g.setNode(id, { width: NODE_W, height: NODE_H });
    for (const e of es) g.setEdge(e.src, e.dst, { label: e.relation, width: e.relation.length * 6.6 + 8, height: 16, labelpos: "c" }, e.relation);
    dagre.layout(g);
    const gl = g.graph();
    const W = Math.ceil(gl.width ?? 0);
    const H = Math.ceil(gl.height ?? 0);
    const svg = s("svg", {
      class: "dag lin-graph",
      id: "lineage-graph",
      role: "group",
      "aria-label": `Lineage around ${selected}`,
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      "data-nodes": drawn.length,
      "data-edges": es.length,
    });
    const marker = s("marker", { id: "lin-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto" });
    marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", class: "dag-arrowhead" }));
    const defs = s("defs");
    defs.append(marker);
    svg.append(defs);
    for (const e of es) {
      const lab = g.edge({ v: e.src, w: e.dst, name: e.relation });
      const pts: { x: number; y: number }[] = lab?.points ?? [];
      if (!pts.length) continue;
      const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
      svg.append(s("path", { d, class: `dag-edge lin-edge rel-${e.relation}`, "data-from": e.src, "data-to": e.dst, "data-relation": e.relation, "marker-end": "url(#lin-arrow)" }));
      if (lab.x !== undefined) svg.append(s("text", { x: lab.x.toFixed(1), y: (lab.y + 4).toFixed(1), class: "lin-edge-label", "text-anchor": "middle" }, e.relation));
    }
    nodeEls.clear();
    for (const id of drawn) {
      const n = nodes.get(id)!;
      const p = g.node(id);
      const kind = n.kind || kindOf(id);
      const label = nodeLabel(n);
      const el = s("g", {
        class: `dag-node lin-node kind-${kind}${id === selected ? " selected" : ""}${n.exists === false ? " missing" : ""}`,
        "data-node": id,
        "data-kind": kind,
        tabindex: 0,
        role: "button",
        "aria-pressed": String(id === selected),
        "aria-label": `${KINDS[kind] ?? kind} ${label}`,
        transform: `translate(${(p.x - NODE_W / 2).toFixed(1)},${(p.y - NODE_H / 2).toFixed(1)})`,
      });
      el.append(s("rect", { width: NODE_W, height: NODE_H, rx: 8, class: "dag-box" }));
      el.append(s("rect", { width: 6, height: NODE_H, rx: 3, class: "lin-stripe" }));
      el.append(s("text", { x: 16, y: 20, class: "lin-kind" }, KINDS[kind] ?? kind));
      el.append(s("text", { x: 16, y: 40, class: "dag-name" }, cut(label, 24)));
      const title = s("title", {}, id);
      el.append(title);
      el.addEventListener("click", () => select(id));
      el.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          select(id, true);
        }
      });
      svg.append(el);
      nodeEls.set(id, el);
    }
    wrap.replaceChildren(svg);
    // a graph a little wider than its box is scaled to fit; a much wider one scrolls
    const room = wrap.clientWidth - 20;
    if (room > 0 && W > room && room / W >= 0.6) {
      svg.setAttribute("width", String(Math.floor(room)));
      svg.setAttribute("height", String(Math.ceil((H * room) / W)));
    }
    status.textContent =
      `${nodes.size} node${nodes.size === 1 ? "" : "s"}, ${edges.size} edge${edges.size === 1 ? "" : "s"}` +
      (nodes.size > MAX_DRAWN ? ` (the first ${MAX_DRAWN} drawn)` : "") +
      (truncated ? "; the server cut a walk at 5,000 nodes" : "");
  };

  const expand = async (dir: Direction, btn: HTMLButtonElement, msg: HTMLElement) => {
    btn.disabled = true;
    msg.replaceChildren(loading(`one more level ${dir}`));
    try {
      const added = merge(await lineageApi.walk(selected, dir, 1));
      if (!alive()) return;
      draw();
      showPanel();
      nodeEls.get(selected)?.scrollIntoView({ block: "nearest", inline: "nearest" });
      const m = panel.querySelector("#lineage-expand-msg");
      m?.replaceChildren(added ? `Added ${added} node${added === 1 ? "" : "s"} ${dir}.` : `Nothing more ${dir}.`);
      // the panel was redrawn: keep the keyboard on the same button
      panel.querySelector<HTMLButtonElement>(`#expand-${dir}`)?.focus();
    } catch (e) {
      if (!alive()) return;
      btn.disabled = false;
      msg.replaceChildren(errorBox(`Could not expand: ${(e as Error).message}`));
    }
  };

  const showPanel = () => {
    const n = nodes.get(selected)!;
    const kind = n.kind || kindOf(selected);
    const href = nodeHref(n);
    const details: HTMLElement[] = [];
    for (const [k, v] of Object.entries(n)) {
      if (k === "id" || k === "kind" || v === null || v === undefined || v === "") continue;
      const text = Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v);
      details.push(h("dt", {}, k), h("dd", { class: k === "paths" || k === "source" || k === "storage_location" ? "mono wrap" : "" }, text));
    }
    const msg = h("div", { id: "lineage-expand-msg", "aria-live": "polite" });
    const up = h("button", { type: "button", id: "expand-upstream" }, "Expand upstream");
    const down = h("button", { type: "button", id: "expand-downstream" }, "Expand downstream");
    up.addEventListener("click", () => void expand("upstream", up, msg));
    down.addEventListener("click", () => void expand("downstream", down, msg));
    const edgesIn = [...edges.values()].filter((e) => e.dst === selected).length;
    const edgesOut = [...edges.values()].filter((e) => e.src === selected).length;
    panel.replaceChildren();
    append(
      panel,
      h("h2", { id: "lineage-selected" }, `${KINDS[kind] ?? kind}: ${nodeLabel(n)}`),
      h("p", { class: "mono wrap" }, selected),
      href
        ? h("p", {}, h("a", { href, id: "lineage-node-link", ...(kind === "artifact" ? { download: nodeLabel(n) } : {}) }, kind === "artifact" ? "Download" : `Open the ${(KINDS[kind] ?? kind).toLowerCase()}'s page`))
        : null,
      h("div", { class: "actions" }, up, down),
      msg,
      h("p", { class: "muted" }, `${edgesIn} edge${edgesIn === 1 ? "" : "s"} in, ${edgesOut} out, in this graph.`),
      details.length ? h("dl", { class: "overview" }, ...details) : null,
    );
  };

  const select = (id: string, focus = false) => {
    selected = id;
    for (const [k, el] of nodeEls) {
      el.classList.toggle("selected", k === id);
      el.setAttribute("aria-pressed", String(k === id));
    }
    showPanel();
    nodeInput.value = id;
    // the focused node in the URL, without reloading the page
    history.replaceState(null, "", lineageHref(id, depth));
    if (focus) nodeEls.get(id)?.focus();
  };

  draw();
  showPanel();
}

function legend(): HTMLElement {
  return h(
    "ul",
    { class: "lin-legend", "aria-label": "Node kinds" },
    ...Object.entries(KINDS).map(([k, label]) => h("li", {}, h("span", { class: `lin-swatch kind-${k}`, "aria-hidden": "true" }), label)),
  );
}
