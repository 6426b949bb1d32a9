// How the overview starts following live changes. The page evaluates every status delta on
// its one thread, and in the first seconds (every session connecting) each delta carries
// every endpoint: listening before the first overview has arrived only delays that answer.
// So: the first overview, then the listener, then one snapshot of the live statuses for what
// changed in between (anything after the listener was registered arrives as a delta too).
import type { LiveStatus, StatusDelta } from "./bindings";

export async function followLive(
  first: Promise<unknown>,
  listen: (f: (d: StatusDelta) => void) => Promise<() => void>,
  snapshot: () => Promise<LiveStatus[]>,
  apply: (d: StatusDelta) => void,
): Promise<() => void> {
  await first.catch(() => {}); // a failed first answer is shown by its caller; follow anyway
  const stop = await listen(apply);
  apply({ statuses: await snapshot(), missed: 0 });
  return stop;
}
