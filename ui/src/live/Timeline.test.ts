// @vitest-environment jsdom
// The timeline as a component: which window it asks the app for, from a preset and from a
// range dragged on a lane (issue: a dashboard a monitoring engineer would choose, section 2).
import "../test/dom";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Lane, Window } from "../lib/bindings";

const asked = vi.hoisted(() => [] as Window[]);
vi.mock("../lib/ipc", () => ({
  api: {
    timeline: async (w: Window): Promise<Lane[]> => {
      asked.push(w);
      return [{ id: 1, name: "feed", states: [{ at: w.from, state: "Up" }], closes: [] }];
    },
  },
  toIpcError: (e: unknown) => ({ code: "engine", message: String(e), fields: [] }),
}));

import Timeline from "./Timeline.svelte";

const span = (w: Window | undefined) => (w ? w.to - w.from : NaN);
const last = () => asked[asked.length - 1];

describe("Timeline", () => {
  beforeEach(() => {
    asked.length = 0;
    localStorage.clear();
  });

  it("asks for the preset's window, then for the range dragged on a lane, and back", async () => {
    render(Timeline, { props: { theme: "light", onopen() {} } });
    // The default window is the last hour (one more millisecond: "now" included).
    await waitFor(() => expect(span(last())).toBe(3_600_001));

    await fireEvent.click(screen.getByRole("button", { name: "5 min" }));
    await waitFor(() => expect(span(last())).toBe(300_001));
    const five = last();
    expect(screen.getByRole("button", { name: "5 min" }).getAttribute("aria-pressed")).toBe("true");

    // Drag from a quarter to a half of the lane: that stretch of the five minutes, once.
    const lane = await screen.findByRole("img", { name: "feed: states and closes" });
    // jsdom lays nothing out: the lane is 1000 px wide at x = 0.
    lane.getBoundingClientRect = () => ({ left: 0, top: 0, width: 1000, height: 22, right: 1000, bottom: 22, x: 0, y: 0, toJSON() {} });
    await fireEvent.pointerDown(lane, { button: 0, clientX: 250, pointerId: 1 });
    await fireEvent.pointerMove(lane, { clientX: 500, pointerId: 1 });
    await fireEvent.pointerUp(lane, { clientX: 500, pointerId: 1 });
    await waitFor(() => expect(last().from).toBe(Math.round(five.from + 0.25 * 300_001)));
    expect(last().to).toBe(Math.round(five.from + 0.5 * 300_001));
    expect(screen.getByText("Zoomed")).toBeTruthy();
    expect(screen.getByRole("button", { name: "5 min" }).getAttribute("aria-pressed")).toBe("false");

    // The zoomed range's button goes back to the preset, which follows now again.
    await fireEvent.click(screen.getByTitle("Back to the 5 min window"));
    await waitFor(() => expect(span(last())).toBe(300_001));
    expect(screen.queryByText("Zoomed")).toBeNull();
  });
});
