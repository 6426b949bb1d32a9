import { describe, expect, it } from "vitest";
import { latest } from "./latest";

/** A request answered when the test says so. */
function pending<T>() {
  let answer!: (v: T) => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    answer = res;
    fail = rej;
  });
  return { promise, answer, fail };
}

describe("latest", () => {
  it("drops an older answer that arrives after a newer request", async () => {
    const asked = [pending<string>(), pending<string>()];
    let n = 0;
    const ask = latest(() => asked[n++].promise);
    const first = ask();
    const second = ask();
    asked[1].answer("new");
    asked[0].answer("old");
    expect(await second).toBe("new");
    expect(await first).toBeUndefined();
  });

  it("rejects with the newest request's error only", async () => {
    const asked = [pending<string>(), pending<string>()];
    let n = 0;
    const ask = latest(() => asked[n++].promise);
    const first = ask();
    const second = ask();
    asked[0].fail(new Error("stale"));
    asked[1].fail(new Error("now"));
    expect(await first).toBeUndefined();
    await expect(second).rejects.toThrow("now");
  });
});
