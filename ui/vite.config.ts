import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The app loads ui/dist from its own protocol: relative asset paths, no remote content.
export default defineConfig({
  // svelteTesting only acts under vitest: Svelte's browser build and a DOM cleaned after each
  // component test (those pick jsdom with a `@vitest-environment jsdom` line).
  plugins: [svelte(), svelteTesting()],
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { outDir: "dist", target: "es2021", sourcemap: false, chunkSizeWarningLimit: 800 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
