// A run's artifacts: a tree whose folders are listed when opened
// (artifacts/list), each file with its size and a download link, and a
// preview of the selected file. Text, JSON, CSV/TSV and HTML are read with
// one Range request for their first bytes; images load as <img> (SVG too:
// never inlined, so its scripts cannot run); HTML is shown in an
// <iframe sandbox> with no allow-scripts and no allow-same-origin (its
// scripts do not run and it cannot reach this origin). The server sends
// active content (HTML, SVG, ...) as an attachment under `CSP: sandbox`.
import { artifactHead, artifactUrl, lineageApi, type ArtifactFile } from "./api_lineage";
import { clear, errorBox, h, loading } from "./dom";
import "./lineage.css";

const TEXT_MAX = 64 * 1024;
const DATA_MAX = 512 * 1024;
const CSV_ROWS = 100;

export function fmtBytes(n?: number): string {
  if (n === undefined || n === null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

type Kind = "image" | "html" | "json" | "csv" | "tsv" | "text";

export function previewKind(path: string): Kind {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const ext = base.includes(".") ? base.slice(base.lastIndexOf(".") + 1).toLowerCase() : "";
  if (["png", "jpg", "jpeg", "gif", "svg", "webp"].includes(ext)) return "image";
  if (ext === "html" || ext === "htm") return "html";
  if (ext === "json") return "json";
  if (ext === "csv") return "csv";
  if (ext === "tsv") return "tsv";
  return "text"; // MLmodel, YAML, logs, code, anything else (binary is detected)
}

const baseName = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/**
 * The artifacts section of a run's page. `selected` is a file path to open
 * at once (from the URL); `onSelect` is told each selection (to keep it in
 * the URL).
 */
export function artifactsSection(
  runId: string,
  alive: () => boolean,
  selected: string,
  onSelect: (path: string) => void,
): HTMLElement {
  const tree = h("div", { class: "art-tree", id: "artifact-tree" }, loading("artifacts"));
  const preview = h(
    "div",
    { class: "art-preview", id: "artifact-preview", "aria-live": "polite" },
    h("p", { class: "muted" }, "Select a file to preview it."),
  );
  const section = h(
    "section",
    { "aria-labelledby": "h-artifacts", id: "artifacts" },
    h("h2", { id: "h-artifacts" }, "Artifacts"),
    h("div", { class: "art-layout" }, tree, preview),
  );
  let current: HTMLButtonElement | null = null;
  let previewGen = 0;

  const select = (f: ArtifactFile, button: HTMLButtonElement) => {
    current?.classList.remove("selected");
    current?.removeAttribute("aria-current");
    current = button;
    button.classList.add("selected");
    button.setAttribute("aria-current", "true");
    onSelect(f.path);
    const gen = ++previewGen;
    showPreview(preview, runId, f, () => alive() && gen === previewGen);
  };

  // what opens a folder (by path) and selects a file (by path), once listed
  const folders = new Map<string, () => Promise<void>>();
  const fileOpens = new Map<string, () => void>();

  const fill = async (ul: HTMLElement, path: string): Promise<void> => {
    const files = (await lineageApi.listArtifacts(runId, path)).files ?? [];
    if (!alive()) return;
    files.sort((a, b) => Number(!!b.is_dir) - Number(!!a.is_dir) || a.path.localeCompare(b.path));
    clear(ul);
    if (!files.length) ul.append(h("li", { class: "muted" }, path ? "Empty folder." : "No artifacts."));
    for (const f of files) {
      const name = baseName(f.path);
      if (f.is_dir) {
        const children = h("ul", { class: "art-children", hidden: true });
        const twisty = h("span", { class: "art-twisty", "aria-hidden": "true" }, "▸");
        const btn = h("button", { type: "button", class: "art-dir", "aria-expanded": "false", "data-path": f.path }, twisty, `${name}/`);
        let loaded: Promise<void> | null = null;
        const open = async (want?: boolean) => {
          const expand = want ?? btn.getAttribute("aria-expanded") !== "true";
          btn.setAttribute("aria-expanded", String(expand));
          twisty.textContent = expand ? "▾" : "▸";
          children.hidden = !expand;
          if (expand && !loaded) {
            children.append(h("li", {}, loading(`${name}/`)));
            loaded = fill(children, f.path).catch((e) => {
              loaded = null;
              children.replaceChildren(h("li", {}, errorBox(`Could not list ${f.path}: ${(e as Error).message}`)));
            });
          }
          await loaded;
        };
        btn.addEventListener("click", () => void open());
        folders.set(f.path, () => open(true));
        ul.append(h("li", {}, btn, children));
      } else {
        const btn = h(
          "button",
          { type: "button", class: "art-file", "data-path": f.path },
          h("span", { class: "art-name" }, name),
          h("span", { class: "art-size muted" }, fmtBytes(f.file_size)),
        );
        btn.addEventListener("click", () => select(f, btn));
        fileOpens.set(f.path, () => select(f, btn));
        ul.append(
          h(
            "li",
            { class: "art-file-row" },
            btn,
            h("a", { href: artifactUrl(runId, f.path), download: name, class: "art-dl", "aria-label": `Download ${f.path}`, title: "Download" }, "⤓"),
          ),
        );
      }
    }
  };

  const top = h("ul", { class: "art-root", "aria-label": "Artifacts of the run" });
  void (async () => {
    try {
      await fill(top, "");
      if (!alive()) return;
      tree.replaceChildren(top);
      // open the folders down to the selected file (from the URL)
      const parts = selected.split("/").filter(Boolean);
      for (let i = 1; i < parts.length; i++) await folders.get(parts.slice(0, i).join("/"))?.();
      if (alive()) fileOpens.get(parts.join("/"))?.();
    } catch (e) {
      if (!alive()) return;
      tree.replaceChildren(errorBox(`Could not list the artifacts: ${(e as Error).message}`));
    }
  })();
  return section;
}

function truncNote(shown: number, total: number, what = "bytes"): HTMLElement {
  return h(
    "p",
    { class: "muted art-note", id: "preview-note" },
    `Showing the first ${fmtBytes(shown)} of ${fmtBytes(total)} (${total.toLocaleString("en")} ${what}); download the file for the rest.`,
  );
}

async function showPreview(box: HTMLElement, runId: string, f: ArtifactFile, current: () => boolean) {
  const kind = previewKind(f.path);
  const url = artifactUrl(runId, f.path);
  const headLine = h(
    "div",
    { class: "art-preview-head" },
    h("h3", { id: "h-preview" }, baseName(f.path)),
    h("span", { class: "muted" }, fmtBytes(f.file_size)),
    h("a", { href: url, download: baseName(f.path), id: "preview-download" }, "Download"),
  );
  box.replaceChildren(headLine, loading(f.path));
  box.dataset.kind = kind;
  box.dataset.path = f.path;
  const show = (...nodes: (Node | null)[]) => {
    if (!current()) return;
    box.replaceChildren(headLine, ...nodes.filter((n): n is Node => !!n));
  };
  try {
    if (kind === "image") {
      const img = h("img", { src: url, alt: `Preview of ${f.path}`, class: "art-img", id: "preview-image" });
      img.addEventListener("error", () => show(errorBox(`Could not load the image ${f.path}.`)), { once: true });
      show(img);
      return;
    }
    const max = kind === "text" ? TEXT_MAX : DATA_MAX;
    const head = await artifactHead(runId, f.path, max, f.file_size);
    if (!current()) return;
    const note = head.truncated ? truncNote(head.bytes.length, head.total) : null;
    if (head.bytes.includes(0)) {
      show(h("p", { class: "muted" }, "A binary file: no preview. Download it instead."));
      return;
    }
    const text = new TextDecoder("utf-8", { fatal: false }).decode(head.bytes);
    if (kind === "html") {
      // no tokens: no scripts, no forms, no popups, an opaque origin
      const frame = h("iframe", { sandbox: "", class: "art-frame", id: "preview-frame", title: `Preview of ${f.path} (sandboxed)` });
      frame.srcdoc = text;
      show(h("p", { class: "muted art-note" }, "Rendered in a sandbox: scripts do not run."), note, frame);
    } else if (kind === "json") {
      let pretty: string | null = null;
      if (!head.truncated) {
        try {
          pretty = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          pretty = null;
        }
      }
      show(
        pretty === null ? h("p", { class: "muted art-note" }, head.truncated ? "Too large to format: the raw text." : "Not valid JSON: the raw text.") : null,
        note,
        h("pre", { class: "art-text", id: "preview-text", tabindex: 0, "aria-labelledby": "h-preview" }, pretty ?? text),
      );
    } else if (kind === "csv" || kind === "tsv") {
      const rows = parseDelimited(text, kind === "csv" ? "," : "\t", head.truncated);
      const shown = rows.slice(0, CSV_ROWS + 1);
      const [header, ...body] = shown;
      show(
        rows.length > CSV_ROWS + 1 || head.truncated
          ? h("p", { class: "muted art-note", id: "preview-rows-note" }, `The first ${body.length} rows.`)
          : null,
        note,
        header
          ? h(
              "div",
              { class: "art-table-wrap", tabindex: 0, role: "region", "aria-label": `Table ${f.path}` },
              h(
                "table",
                { class: "grid", id: "preview-table" },
                h("thead", {}, h("tr", {}, ...header.map((c) => h("th", { scope: "col" }, c)))),
                h("tbody", {}, ...body.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
              ),
            )
          : h("p", { class: "muted" }, "Empty file."),
      );
    } else {
      show(note, h("pre", { class: "art-text", id: "preview-text", tabindex: 0, "aria-labelledby": "h-preview" }, text || "(empty file)"));
    }
  } catch (e) {
    show(errorBox(`Could not read ${f.path}: ${(e as Error).message}`));
  }
}

/** Rows of CSV/TSV text (RFC 4180 quotes); a cut last line is dropped. */
export function parseDelimited(text: string, sep: string, cut: boolean): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === "") quoted = true;
    else if (c === sep) {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      if (rows.length > CSV_ROWS + 1) return rows;
    } else cell += c;
  }
  if (!cut && (cell !== "" || row.length)) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
