// Performance marks for ui/e2e/bench.mjs, which reads them over WebDriver. A mark is set once
// Svelte has applied the change to the DOM and the browser has had a frame to paint it.
import { tick } from "svelte";

/** Marks `name` after the next paint, replacing an earlier mark of that name. */
export function markPainted(name: string) {
  tick().then(() =>
    requestAnimationFrame(() =>
      setTimeout(() => {
        performance.clearMarks(name);
        performance.mark(name);
      }, 0),
    ),
  );
}

/** Marks `name` after the next paint unless it was marked before (e.g. the first overview). */
const once = new Set<string>();
export function markPaintedOnce(name: string) {
  if (once.has(name)) return;
  once.add(name);
  markPainted(name);
}
