import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app loads ui/dist from its own protocol: relative asset paths, no remote content.
export default defineConfig({
  plugins: [svelte()],
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { outDir: "dist", target: "es2021", sourcemap: false, chunkSizeWarningLimit: 800 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
