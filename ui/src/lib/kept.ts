// What a view was showing (sort, filters, window), kept for the app's run so that coming back
// to a view finds it as it was left. Plain data, copied in and out through JSON (a Svelte
// state proxy cannot be structured-cloned).

const kept = new Map<string, unknown>();

/** The value last kept under `key`, or `initial`. */
export function recall<T>(key: string, initial: T): T {
  return kept.has(key) ? (JSON.parse(kept.get(key) as string) as T) : initial;
}

/** Keeps a copy of `value` under `key`. */
export function keep<T>(key: string, value: T): void {
  kept.set(key, JSON.stringify(value ?? null));
}
