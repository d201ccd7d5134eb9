/// <reference types="vitest/config" />
// Vite builds the terminal into dist/, which `exness server` serves at `/` (same origin as
// the API). In development, `npm run dev` serves the sources and proxies the API and its
// WebSocket to a running backend: BACKEND_URL, default http://127.0.0.1:8002.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const backend = process.env.BACKEND_URL ?? "http://127.0.0.1:8002";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: backend, changeOrigin: false, ws: true },
      "/health": { target: backend },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
