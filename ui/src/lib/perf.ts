// Performance marks for ui/e2e/bench.mjs, which reads them over WebDriver. A mark is set once
// Svelte has applied the change to the DOM and the browser has had a frame to paint it.
import { tick } from "svelte";

/** Marks `name` after the next paint, replacing an earlier mark of that name. With `steps`,
 *  also `name:dom` (Svelte has updated the DOM) and `name:frame` (the frame callback ran),
 *  to tell building the view from the browser's style, layout and paint. */
export function markPainted(name: string, steps = false) {
  const mark = (n: string) => {
    performance.clearMarks(n);
    performance.mark(n);
  };
  tick().then(() => {
    if (steps) mark(`${name}:dom`);
    requestAnimationFrame(() => {
      if (steps) mark(`${name}:frame`);
      setTimeout(() => mark(name), 0);
    });
  });
}

/** Marks `name` (and its steps) after the next paint unless it was marked before (e.g. the
 *  first overview). */
const once = new Set<string>();
export function markPaintedOnce(name: string, steps = true) {
  if (once.has(name)) return;
  once.add(name);
  markPainted(name, steps);
}
