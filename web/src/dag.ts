// A pipeline's graph from its KFP IR spec: tasks as boxes, sub-DAGs
// (conditions, loops, exit handlers) as labelled group boxes holding their
// tasks, a loop's iterations (as the run's task paths show them) one group
// each. dagre lays it out (a compound graph: setParent); this file only
// turns dagre's positions into SVG elements.
//
// Task ids are the engine's task paths: "a", "condition-1/b", and inside a
// loop "for-loop-2/0/c" (iteration 0). The version page uses the same ids
// without iterations ("for-loop-2/c").
import dagre from "@dagrejs/dagre";
import "./dag.css";

const SVG = "http://www.w3.org/2000/svg";
export const NODE_W = 210;
export const NODE_H = 66;
const LABEL_H = 22; // a group's label, above what it holds
const MAX_ITERATIONS = 20; // loops with more show the first ones and say so

export interface GraphNode {
  id: string;
  label: string;
  parent?: string;
  group?: "condition" | "loop" | "iteration" | "exit" | "dag";
  depth: number;
}
export interface GraphModel {
  nodes: GraphNode[];
  edges: [string, string][];
  fromSpec: boolean;
  hidden: Set<string>; // run task paths not drawn (iterations past the first MAX_ITERATIONS)
}

// The PipelineSpec in a run's or version's pipeline_spec (bare, or wrapped
// with a platform spec).
export function irOf(spec: any): any {
  return spec && spec.pipeline_spec && !spec.root ? spec.pipeline_spec : spec;
}

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const iterationsOf = (id: string, paths: string[]): number[] => {
  const set = new Set<number>();
  const pre = id + "/";
  for (const p of paths) {
    if (!p.startsWith(pre)) continue;
    const m = /^(\d+)(\/|$)/.exec(p.slice(pre.length));
    if (m) set.add(Number(m[1]));
  }
  return [...set].sort((a, b) => a - b);
};

// The graph of SPEC, with the iterations and extra tasks PATHS (a run's
// task paths; [] for a version) show.
export function graphModel(spec: any, paths: string[]): GraphModel {
  const ir = irOf(spec);
  const model: GraphModel = { nodes: [], edges: [], fromSpec: false, hidden: new Set() };
  const rootDag = ir?.root?.dag;
  if (rootDag && typeof rootDag.tasks === "object") {
    model.fromSpec = true;
    const walk = (dag: any, prefix: string, parent: string | undefined, depth: number, seen: Set<string>) => {
      for (const [name, t] of Object.entries<any>(dag?.tasks ?? {})) {
        const id = prefix ? `${prefix}/${name}` : name;
        const compName = t?.componentRef?.name;
        const comp = ir.components?.[compName];
        const label = String(t?.taskInfo?.name || name);
        for (const dep of t?.dependentTasks ?? t?.dependent_tasks ?? [])
          model.edges.push([prefix ? `${prefix}/${dep}` : String(dep), id]);
        if (comp?.dag && !seen.has(compName)) {
          const inner = new Set(seen).add(compName); // a spec looping on itself stops here
          const loop = !!(t.parameterIterator || t.artifactIterator);
          const kind = loop
            ? "loop"
            : name.startsWith("exit-handler")
              ? "exit"
              : t?.triggerPolicy?.condition || name.startsWith("condition")
                ? "condition"
                : "dag";
          const node: GraphNode = { id, label, parent, group: kind, depth };
          model.nodes.push(node);
          const iters = loop ? iterationsOf(id, paths) : [];
          if (iters.length) {
            const shown = iters.slice(0, MAX_ITERATIONS);
            node.label = `${label} · ${iters.length} iteration${iters.length === 1 ? "" : "s"}${
              iters.length > shown.length ? ` (first ${shown.length} shown)` : ""
            }`;
            for (const i of shown) {
              const iid = `${id}/${i}`;
              model.nodes.push({ id: iid, label: `iteration ${i}`, parent: id, group: "iteration", depth: depth + 1 });
              walk(comp.dag, iid, iid, depth + 2, inner);
            }
          } else {
            walk(comp.dag, id, id, depth + 1, inner);
          }
        } else {
          model.nodes.push({ id, label, parent, depth });
        }
      }
    };
    walk(rootDag, "", undefined, 0, new Set());
  }
  // tasks the spec does not place (no spec, or paths it does not know)
  const known = new Map(model.nodes.map((n) => [n.id, n]));
  for (const p of paths) {
    if (known.has(p)) continue;
    let parent: GraphNode | undefined;
    for (let i = p.lastIndexOf("/"); i > 0 && !parent; i = p.lastIndexOf("/", i - 1)) {
      const anc = known.get(p.slice(0, i));
      if (anc?.group) parent = anc;
    }
    if ((!parent && model.fromSpec && p.includes("/")) || parent?.group === "loop") {
      model.hidden.add(p); // inside an iteration not shown
      continue;
    }
    const n: GraphNode = { id: p, label: parent ? p.slice(parent.id.length + 1) : p, parent: parent?.id, depth: (parent?.depth ?? -1) + 1 };
    model.nodes.push(n);
    known.set(p, n);
  }
  return model;
}

export interface DagView {
  svg: SVGSVGElement;
  nodes: Map<string, { g: SVGGElement; state: SVGTextElement; meta: SVGTextElement }>;
  groups: Map<string, { g: SVGGElement; label: SVGTextElement }>;
  edges: [string, string][];
}

// Lays MODEL out and draws it; ONSELECT (if any) makes the task boxes buttons.
export function drawDag(model: GraphModel, title: string, onSelect?: (id: string) => void): DagView {
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  const children = new Map<string, GraphNode[]>();
  for (const n of model.nodes) if (n.parent) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  const leavesOf = (id: string): string[] => {
    const n = byId.get(id);
    if (!n) return [];
    if (!n.group) return [id];
    return (children.get(id) ?? []).flatMap((c) => leavesOf(c.id));
  };
  const inside = (id: string, group: string) => id.startsWith(group + "/");
  // edges between boxes: a group's edge goes to its first tasks, from its last ones
  const leafEdges = new Set<string>();
  for (const [a, b] of model.edges) {
    if (!byId.has(a) || !byId.has(b)) continue;
    const ga = byId.get(a)!.group,
      gb = byId.get(b)!.group;
    const from = ga
      ? leavesOf(a).filter((x) => !model.edges.some(([p, q]) => inside(q, a) && inside(p, a) && (x === p || inside(x, p))))
      : [a];
    const to = gb
      ? leavesOf(b).filter((x) => !model.edges.some(([p, q]) => inside(p, b) && inside(q, b) && (x === q || inside(x, q))))
      : [b];
    for (const f of from) for (const t of to) leafEdges.add(JSON.stringify([f, t]));
  }
  const edges = [...leafEdges].map((e) => JSON.parse(e) as [string, string]);

  const g = new dagre.graphlib.Graph({ compound: true });
  // dagre keeps half of nodesep between a group's border and what it holds:
  // with groups, room for their labels
  const hasGroups = model.nodes.some((n) => n.group);
  g.setGraph({ rankdir: "LR", nodesep: hasGroups ? 2 * LABEL_H + 8 : 24, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of model.nodes) g.setNode(n.id, n.group ? { width: NODE_W, height: 40 } : { width: NODE_W, height: NODE_H });
  for (const n of model.nodes) if (n.parent && byId.has(n.parent)) g.setParent(n.id, n.parent);
  for (const [a, b] of edges) g.setEdge(a, b);
  if (!model.fromSpec) {
    const leaves = model.nodes.filter((n) => !n.group).map((n) => n.id);
    for (let i = 1; i < leaves.length; i++) g.setEdge(leaves[i - 1], leaves[i], { minlen: 0, weight: 0 });
  }
  dagre.layout(g);
  let minX = 0,
    minY = 0,
    maxX = g.graph().width ?? 0,
    maxY = g.graph().height ?? 0;
  const boxes = new Map<string, { x: number; y: number; w: number; h: number }>();
  for (const n of model.nodes) {
    const p = g.node(n.id);
    if (!p) continue;
    let { x, y, width: w, height: hh } = p as { x: number; y: number; width: number; height: number };
    x -= w / 2;
    y -= hh / 2;
    if (n.group) {
      x -= 8;
      w += 16;
    }
    boxes.set(n.id, { x, y, w, h: hh });
    minX = Math.min(minX, x - 4);
    minY = Math.min(minY, y - 4);
    maxX = Math.max(maxX, x + w + 4);
    maxY = Math.max(maxY, y + hh + 4);
  }
  const W = Math.ceil(maxX - minX),
    H = Math.ceil(maxY - minY);
  const svg = s("svg", {
    class: "dag",
    id: "dag",
    role: "group",
    "aria-label": `Tasks of ${title}`,
    width: W,
    height: H,
    viewBox: `${Math.floor(minX)} ${Math.floor(minY)} ${W} ${H}`,
  }) as SVGSVGElement;
  const marker = s("marker", { id: "dag-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto" });
  marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", class: "dag-arrowhead" }));
  const defs = s("defs");
  defs.append(marker);
  svg.append(defs);
  const groups = new Map<string, { g: SVGGElement; label: SVGTextElement }>();
  for (const n of [...model.nodes].filter((x) => x.group).sort((a, b) => a.depth - b.depth)) {
    const b = boxes.get(n.id);
    if (!b) continue;
    const el = s("g", {
      class: `dag-group group-${n.group}`,
      "data-group": n.id,
      "data-kind": n.group!,
      role: "group",
      "aria-label": `${n.group === "iteration" ? "" : n.group + " "}${n.label}`,
      transform: `translate(${b.x},${b.y})`,
    }) as SVGGElement;
    el.append(s("rect", { width: b.w, height: b.h, rx: 10, class: "dag-group-box" }));
    const kindText = n.group === "loop" ? "loop" : n.group === "condition" ? "if" : n.group === "exit" ? "exit handler" : "";
    const label = s("text", { x: 10, y: 16, class: "dag-group-label" }, `${kindText ? kindText + ": " : ""}${n.label}`);
    el.append(label);
    svg.append(el);
    groups.set(n.id, { g: el, label });
  }
  for (const [a, b] of edges) {
    const pts = g.edge(a, b)?.points ?? [];
    if (!pts.length) continue;
    const d = pts.map((p: { x: number; y: number }, i: number) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: "dag-edge", "data-from": a, "data-to": b, "marker-end": "url(#dag-arrow)" }));
  }
  const nodes = new Map<string, { g: SVGGElement; state: SVGTextElement; meta: SVGTextElement }>();
  for (const n of model.nodes) {
    if (n.group) continue;
    const b = boxes.get(n.id);
    if (!b) continue;
    const attrs: Record<string, string | number> = { class: "dag-node", "data-task": n.id, transform: `translate(${b.x},${b.y})` };
    if (onSelect) Object.assign(attrs, { tabindex: 0, role: "button" });
    else Object.assign(attrs, { role: "img", "aria-label": n.label });
    const node = s("g", attrs) as SVGGElement;
    node.append(s("rect", { width: NODE_W, height: NODE_H, rx: 8, class: "dag-box" }));
    node.append(s("rect", { width: 6, height: NODE_H, rx: 3, class: "dag-stripe" }));
    node.append(s("text", { x: 16, y: 22, class: "dag-name" }, n.label.length > 26 ? n.label.slice(0, 25) + "…" : n.label));
    const st = s("text", { x: 16, y: 41, class: "dag-state" });
    const meta = s("text", { x: 16, y: 58, class: "dag-meta" });
    node.append(st, meta);
    if (onSelect) {
      node.addEventListener("click", () => onSelect(n.id));
      node.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onSelect(n.id);
        }
      });
    }
    svg.append(node);
    nodes.set(n.id, { g: node, state: st, meta });
  }
  return { svg, nodes, groups, edges };
}
