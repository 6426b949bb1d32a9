// @vitest-environment jsdom
// The overview as a component: rows hold their order while the pointer is over the list, and
// move to their place when it leaves (issue: a dashboard a monitoring engineer would choose,
// "things move under the pointer").
import "../test/dom";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { EndpointRow, LiveStatus, Strips, Window } from "../lib/bindings";
import { LiveModel } from "../lib/live";

// The history strips' poll is the overview's only call; none recorded here.
vi.mock("../lib/ipc", () => ({
  api: { historyStrips: async (window: Window, cells: number): Promise<Strips> => ({ window, cells, strips: [] }) },
  toIpcError: (e: unknown) => ({ code: "engine", message: String(e), fields: [] }),
}));

import Overview from "./Overview.svelte";
import { row, status } from "../test/rows";

const order = () => [...document.querySelectorAll<HTMLElement>("[data-endpoint]")].map((e) => e.dataset.endpoint);

describe("Overview", () => {
  it("holds the order under the pointer, marks the changed row, and sorts when the pointer leaves", async () => {
    const rows = [row(1, "alpha"), row(2, "bravo"), row(3, "charlie")];
    const model = new LiveModel(rows);
    const props = { rows, model, version: 0, theme: "light" as const, selected: null, onadd() {}, onedit() {}, onchanged() {}, onerror() {} };
    const view = render(Overview, { props });
    await waitFor(() => expect(order()).toEqual(["alpha", "bravo", "charlie"]));

    const list = screen.getByRole("grid");
    await fireEvent.pointerEnter(list);
    model.apply({ statuses: [status(3, { state: "Down", rtt_us: null })], missed: 0 });
    await view.rerender({ ...props, version: 1 });
    // Down sorts first, but not while the pointer is over the list: charlie stays put, marked.
    expect(order()).toEqual(["alpha", "bravo", "charlie"]);
    const charlie = document.querySelector('[data-endpoint="charlie"]');
    expect(charlie?.classList.contains("changed")).toBe(true);
    expect(charlie?.querySelector("[data-state]")?.getAttribute("data-state")).toBe("Down");

    await fireEvent.pointerLeave(list);
    await waitFor(() => expect(order()).toEqual(["charlie", "alpha", "bravo"]));
    expect(document.querySelector('[data-endpoint="charlie"]')?.classList.contains("changed")).toBe(false);
  });

  it("shows rows at once with their history loading, then the figures; unknown is never healthy", async () => {
    const bare = (id: number, name: string, state: LiveStatus["state"]): EndpointRow => ({
      ...row(id, name),
      live: status(id, { state, rtt_us: null }),
      history: null,
    });
    const rows = [bare(1, "dying", "Down"), bare(2, "fresh", "Connecting")];
    const model = new LiveModel(rows);
    const props = { rows, model, version: 0, theme: "light" as const, selected: null, onadd() {}, onedit() {}, onchanged() {}, onerror() {} };
    const view = render(Overview, { props });
    await waitFor(() => expect(order()).toEqual(["dying", "fresh"]));
    const cells = (name: string) => document.querySelector(`[data-endpoint="${name}"]`)!;
    // First answer: the state is there, the history cells say they are loading, no figure.
    expect(cells("dying").querySelector("[data-state]")?.getAttribute("data-state")).toBe("Down");
    const pending = cells("dying").querySelectorAll("[data-pending]");
    expect([...pending].map((c) => c.getAttribute("data-pending"))).toEqual(["p95", "uptime", "drops"]);
    expect([...pending].every((c) => c.getAttribute("aria-busy") === "true" && c.textContent === "…")).toBe(true);
    expect(cells("dying").textContent).not.toContain("%");

    // The history: a known uptime for one, none known for the other.
    model.setHistory([
      { id: 1, uptime_24h: 0.42, drops_per_hour: 6, connected_share: 0.5, median_session_ms: 1000, cause: "Proxy idle timeout", p95_us: 2000, since: null, last_close: null },
      { id: 2, uptime_24h: null, drops_per_hour: null, connected_share: null, median_session_ms: null, cause: null, p95_us: null, since: null, last_close: null },
    ]);
    await view.rerender({ ...props, version: 1 });
    await waitFor(() => expect(cells("dying").querySelector("[data-pending]")).toBeNull());
    expect(cells("dying").textContent).toContain("42.0 %");
    expect(cells("dying").querySelector(".cause")?.textContent).toBe("Proxy idle timeout");
    // Unknown uptime reads as unknown: a dash, never 100 %.
    expect(cells("fresh").querySelector("[data-pending]")).toBeNull();
    expect(cells("fresh").textContent).not.toContain("%");
  });
});
