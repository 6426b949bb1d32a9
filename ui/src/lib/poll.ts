// The one poll loop of the history views (timeline, incidents, an endpoint's detail): load
// one window, keep the last good answer, map failures to an IpcError, say when the first
// answer came, and load again every few seconds until stopped.
import type { IpcError, Window } from "./bindings";
import { toIpcError } from "./ipc";

export interface Polled<T> {
  /** The last answer (kept when a later load fails). */
  data: T | null;
  /** The window `data` answers for. */
  window: Window | null;
  error: IpcError | null;
  /** An answer or an error has come at least once. */
  loaded: boolean;
  /** A load is under way. */
  loading: boolean;
}

export function idle<T>(): Polled<T> {
  return { data: null, window: null, error: null, loaded: false, loading: false };
}

export interface Timers {
  every: (f: () => void, ms: number) => unknown;
  cancel: (handle: unknown) => void;
}

const realTimers: Timers = {
  every: (f, ms) => setInterval(f, ms),
  cancel: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

export interface PollOptions {
  /** Reload period in ms; null loads once. */
  every: number | null;
  timers?: Timers;
}

/**
 * Loads `load(windowOf())` now and every `every` ms, reporting each state to `report`.
 * Answers that arrive after `stop()` (or after a newer load answered) are dropped, so a
 * slow answer for an old window never replaces a newer one. Returns `stop`.
 */
export function pollWindow<T>(
  load: (w: Window) => Promise<T>,
  windowOf: () => Window,
  report: (s: Polled<T>) => void,
  options: PollOptions,
): () => void {
  const timers = options.timers ?? realTimers;
  let state: Polled<T> = idle<T>();
  let stopped = false;
  let issued = 0;
  let answered = 0;
  const set = (next: Partial<Polled<T>>) => {
    state = { ...state, ...next };
    report(state);
  };

  async function tick() {
    const n = ++issued;
    const w = windowOf();
    set({ loading: true });
    try {
      const data = await load(w);
      if (stopped || n < answered) return;
      answered = n;
      set({ data, window: w, error: null, loaded: true, loading: n < issued });
    } catch (e) {
      if (stopped || n < answered) return;
      answered = n;
      set({ error: toIpcError(e), loaded: true, loading: n < issued });
    }
  }

  tick();
  const handle = options.every == null ? null : timers.every(tick, options.every);
  return () => {
    stopped = true;
    if (handle != null) timers.cancel(handle);
  };
}

/** Items whose text contains the search text, ignoring case and surrounding spaces. */
export function matching<T>(items: T[], search: string, text: (item: T) => string): T[] {
  const needle = search.trim().toLowerCase();
  if (!needle) return items;
  return items.filter((i) => text(i).toLowerCase().includes(needle));
}
