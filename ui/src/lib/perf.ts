// Performance marks of the page. A mark is set once Svelte has applied the change to the DOM
// and the browser has had a frame to paint it. ui/e2e/bench.mjs reads them over WebDriver; the
// start-up's are also sent to the app (`pageMarks`), which logs how long the first overview
// took, so a launch can be timed without WebDriver too.
import { tick } from "svelte";
import type { StartupMark } from "./bindings";

/** Marks `name` after the next paint, replacing an earlier mark of that name; resolves once
 *  it is set. With `steps`, also `name:dom` (Svelte has updated the DOM) and `name:frame`
 *  (the frame callback ran), to tell building the view from the browser's style, layout and
 *  paint. */
export function markPainted(name: string, steps = false): Promise<void> {
  const mark = (n: string) => {
    performance.clearMarks(n);
    performance.mark(n);
  };
  return tick().then(
    () =>
      new Promise<void>((done) => {
        if (steps) mark(`${name}:dom`);
        requestAnimationFrame(() => {
          if (steps) mark(`${name}:frame`);
          setTimeout(() => {
            mark(name);
            done();
          }, 0);
        });
      }),
  );
}

/** Marks `name` (and its steps) after the next paint unless it was marked before (e.g. the
 *  first overview); resolves once set, or is null if it was marked before. */
const once = new Set<string>();
export function markPaintedOnce(name: string, steps = true): Promise<void> | null {
  if (once.has(name)) return null;
  once.add(name);
  return markPainted(name, steps);
}

/** The page's start-up on the wall clock (ms since the Unix epoch): navigation start, the
 *  document's response and DOMContentLoaded, and every `heartline:` mark so far. */
export function startupMarks(p: Pick<Performance, "timeOrigin" | "getEntriesByType"> = performance): StartupMark[] {
  const at = (name: string, ms: number): StartupMark => ({ name, at_ms: p.timeOrigin + ms });
  const out = [at("navigation-start", 0)];
  const nav = p.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  if (nav) out.push(at("response-end", nav.responseEnd), at("dom-content-loaded", nav.domContentLoadedEventEnd));
  for (const m of p.getEntriesByType("mark")) if (m.name.startsWith("heartline:")) out.push(at(m.name, m.startTime));
  return out;
}
