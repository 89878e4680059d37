import { defineConfig } from "vite";
import { sodiumWasm } from "./build/sodium-wasm.js";
import { precompress } from "./build/precompress.js";

// The server serves dist/ at "/" under a strict CSP (no inline script or style, wasm via 'wasm-unsafe-eval'),
// so the build must emit only external module scripts and stylesheets. Every asset name carries its content
// hash (served immutable); libsodium is its own lazily imported chunk with a binary .wasm (build/sodium-wasm.js);
// every text asset gets .br and .gz copies (build/precompress.js).
export default defineConfig({
  base: "/",
  plugins: [sodiumWasm(), precompress()],
  worker: {
    format: "es",
    plugins: () => [sodiumWasm()],
  },
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
