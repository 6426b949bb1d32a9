// Requests whose answers only count while no newer request has been made: a slow answer that
// arrives after a newer one was asked for is dropped rather than folded in over it.

/** Wraps `ask`: each call starts a request and resolves with its answer, or with `undefined`
 *  when another call was made before it answered. Errors of the newest request reject;
 *  errors of an older one resolve with `undefined` too. */
export function latest<T>(ask: () => Promise<T>): () => Promise<T | undefined> {
  let generation = 0;
  return async () => {
    const mine = ++generation;
    try {
      const answer = await ask();
      return mine === generation ? answer : undefined;
    } catch (e) {
      if (mine !== generation) return undefined;
      throw e;
    }
  };
}
