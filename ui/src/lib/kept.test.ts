import { describe, expect, it } from "vitest";
import { keep, recall } from "./kept";

describe("kept view state", () => {
  it("gives back what was kept, as a copy, and the initial value otherwise", () => {
    expect(recall("overview", { sort: "state" })).toEqual({ sort: "state" });
    const q = { sort: "name", states: ["Down"] };
    keep("overview", q);
    q.states.push("Up");
    const back = recall("overview", { sort: "state", states: [] as string[] });
    expect(back).toEqual({ sort: "name", states: ["Down"] });
    back.states.push("Degraded");
    expect(recall("overview", null)).toEqual({ sort: "name", states: ["Down"] });
    expect(recall("timeline", "1h")).toBe("1h");
    // What a view keeps may be a state proxy (structuredClone refuses those).
    keep("zoom", new Proxy({ from: 1, to: 2 }, {}));
    expect(recall("zoom", null)).toEqual({ from: 1, to: 2 });
  });
});
