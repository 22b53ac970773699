// A tiny element builder: h("a", {href: "#/"}, "text", child). Text is
// always set as text, never parsed as HTML.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.className = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function fmtTime(ms?: number): string {
  if (!ms) return "—";
  const d = new Date(Number(ms));
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(start?: number, end?: number): string {
  if (!start) return "—";
  const ms = Number(end || Date.now()) - Number(start);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(4) : String(+v.toFixed(6));
}

// The shared widgets are Shoelace components (see components.ts): a status
// badge, a danger alert, a spinner. Their text is the same as before.
export function statusBadge(status: string): HTMLElement {
  return badge(status, status);
}

// A badge showing `text` coloured as the status `kind` (e.g. "deleted" as failed).
export function badge(text: string, kind: string): HTMLElement {
  return h("sl-badge" as "span", { class: `badge badge-${kind.toLowerCase()}`, variant: badgeVariant(kind), pill: true }, text);
}

function badgeVariant(status: string): string {
  const s = status.toLowerCase();
  if (s === "finished" || s === "succeeded") return "success";
  if (s === "failed" || s === "killed" || s === "canceled" || s === "cancelled") return "danger";
  if (s === "running" || s === "scheduled" || s === "pending" || s === "canceling") return "primary";
  return "neutral";
}

// The alert itself carries role="alert", so the announced (and tested) text is
// its own text. sl-alert also puts role="alert" on its shadow part, which holds
// only a <slot>: that one is dropped once rendered (same task, before anything
// can read the page), so there is one alert, not two nested ones.
export function errorBox(message: string): HTMLElement {
  // the text in a span of its own: multi-line messages keep their lines
  const el = h("sl-alert" as "div", { class: "error", variant: "danger", open: true, role: "alert" }, h("span", { class: "alert-text" }, message));
  const lit = el as HTMLElement & { updateComplete?: Promise<unknown> };
  lit.updateComplete?.then(() => el.shadowRoot?.querySelector('[part~="base"]')?.removeAttribute("role"));
  return el;
}

export function loading(what: string): HTMLElement {
  return h(
    "p",
    { class: "loading", role: "status", "aria-live": "polite" },
    h("sl-spinner" as "span"),
    `Loading ${what}…`,
  );
}
