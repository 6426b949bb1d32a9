import { describe, expect, it } from "vitest";
import type { LiveStatus, StatusDelta } from "./bindings";
import { followLive } from "./follow";

const status = (id: number): LiveStatus => ({
  id, state: "Up", since: 0, rtt_us: 1, app_rtt_us: null, last_close: null, last_failure: null, sessions: 1,
});

describe("followLive", () => {
  it("listens after the first answer, then applies one snapshot", async () => {
    const steps: string[] = [];
    let answer!: () => void;
    const first = new Promise<void>((r) => (answer = () => r()));
    let deliver: ((d: StatusDelta) => void) | undefined;
    const applied: StatusDelta[] = [];
    const following = followLive(
      first,
      async (f) => {
        steps.push("listen");
        deliver = f;
        return () => steps.push("stop");
      },
      async () => {
        steps.push("snapshot");
        return [status(1), status(2)];
      },
      (d) => applied.push(d),
    );
    await Promise.resolve();
    expect(steps).toEqual([]);
    answer();
    const stop = await following;
    expect(steps).toEqual(["listen", "snapshot"]);
    expect(applied).toEqual([{ statuses: [status(1), status(2)], missed: 0 }]);
    deliver?.({ statuses: [status(3)], missed: 0 });
    expect(applied).toHaveLength(2);
    stop();
    expect(steps).toEqual(["listen", "snapshot", "stop"]);
  });

  it("follows even when the first answer failed", async () => {
    const applied: StatusDelta[] = [];
    await followLive(Promise.reject(new Error("no")), async () => () => {}, async () => [status(1)], (d) => applied.push(d));
    expect(applied).toHaveLength(1);
  });
});
