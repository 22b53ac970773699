// The component library: Shoelace (web components on Lit, no framework).
// Only the components the UI uses are imported, one module each, never the
// whole bundle. None of them renders an <sl-icon>: that element fetches its
// SVG (even the "system" ones, as data: URLs), which the server's CSP
// (default-src 'self') blocks. Light and dark themes follow
// prefers-color-scheme through the sl-theme-dark class on <html>.
import "@shoelace-style/shoelace/dist/themes/light.css";
import "@shoelace-style/shoelace/dist/themes/dark.css";
import "@shoelace-style/shoelace/dist/components/alert/alert.js";
import "@shoelace-style/shoelace/dist/components/badge/badge.js";
import "@shoelace-style/shoelace/dist/components/button/button.js";
import "@shoelace-style/shoelace/dist/components/input/input.js";
import "@shoelace-style/shoelace/dist/components/spinner/spinner.js";
import "@shoelace-style/shoelace/dist/components/switch/switch.js";
import "./components.css";

export function followColorScheme(): void {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => document.documentElement.classList.toggle("sl-theme-dark", dark.matches);
  apply();
  dark.addEventListener("change", apply);
}
