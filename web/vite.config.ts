import { defineConfig } from "vite";

// The build is embedded in the trellis binary (tools/embed.c): everything
// under dist/, hashed names under dist/assets/, no inline scripts (the
// server's Content-Security-Policy is default-src 'self').
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    // the parallel-coordinates chunk (ECharts, about 510 kB, 174 kB gzipped)
    // is loaded only by the compare page
    chunkSizeWarningLimit: 600,
  },
  server: { proxy: { "/api": "http://127.0.0.1:5000" } },
});
