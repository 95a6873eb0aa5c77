/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Vigil serves the build at /console (api/console.py). `npm run dev` serves it at
// http://localhost:5173/console/ and forwards the API to a Vigil on VIGIL_URL (default :8000).
const vigil = process.env.VIGIL_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600, // raw kB; the budget that matters is gzip, checked by scripts/size.mjs
  },
  server: {
    proxy: {
      "/graphql": { target: vigil, ws: true, changeOrigin: true },
      "/people": { target: vigil, changeOrigin: true },
      "/evidence": { target: vigil, changeOrigin: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    setupFiles: ["src/test-setup.ts"],
  },
});
