import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import "uplot/dist/uPlot.min.css";
import { prefetchOverview } from "./lib/ipc";

// The bundle has been fetched, parsed and its imports evaluated (ui/e2e/bench.mjs).
performance.mark("heartline:script");
prefetchOverview();

const target = document.getElementById("app");
if (!target) throw new Error("no #app element");

/** A failure before or outside the app's own error handling, shown instead of a blank window. */
function fatal(e: unknown) {
  const pre = document.createElement("pre");
  pre.className = "fatal";
  pre.setAttribute("role", "alert");
  pre.textContent = `Heartline's window failed: ${e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e)}`;
  document.body.prepend(pre);
}
addEventListener("error", (e) => fatal(e.error ?? e.message));
addEventListener("unhandledrejection", (e) => fatal(e.reason));

let app: ReturnType<typeof mount> | undefined;
try {
  app = mount(App, { target });
} catch (e) {
  fatal(e);
}
export default app;
