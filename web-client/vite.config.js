import { defineConfig } from "vite";

// The server serves dist/ at "/" under a strict CSP (no inline script or style, wasm via 'wasm-unsafe-eval'),
// so the build must emit only external module scripts and stylesheets.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/socket.io": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
});
