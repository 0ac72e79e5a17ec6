import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API and the ingest to a local stack on the default ingress port.
const stack = process.env.USACTAR_INGRESS ?? "http://localhost:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: stack, ws: true, changeOrigin: true },
      "/input": { target: stack, changeOrigin: true },
    },
  },
  build: { outDir: "dist", sourcemap: true },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
