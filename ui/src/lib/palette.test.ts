import { describe, expect, it } from "vitest";
import { CLOSE_CLASSES, STATE_COLORS, closeColor, closeLabel, cssVariables, stateColor } from "./palette";

describe("palette", () => {
  it("gives every state a distinct colour in each theme", () => {
    for (const theme of ["light", "dark"] as const) {
      const colours = Object.keys(STATE_COLORS).map((s) => stateColor(s as keyof typeof STATE_COLORS, theme));
      expect(new Set(colours).size).toBe(colours.length);
    }
  });

  it("covers every close-code class heartline-core names", () => {
    for (const cls of ["normal", "going_away", "try_again", "abnormal", "policy", "server_error", "protocol", "application", "other"]) {
      expect(CLOSE_CLASSES[cls], cls).toBeDefined();
    }
    // A lost connection (1006) is drawn apart from the Down state it may lead to.
    expect(closeColor("abnormal", "light")).not.toBe(STATE_COLORS.Down.light);
    expect(closeColor("abnormal", "dark")).not.toBe(STATE_COLORS.Down.dark);
  });

  it("falls back to 'other' for an unknown class", () => {
    expect(closeColor("martian", "dark")).toBe(CLOSE_CLASSES.other.dark);
    expect(closeLabel("martian")).toBe("Other (1005, …)");
  });

  it("exposes the palette as CSS variables", () => {
    const vars = cssVariables("dark");
    expect(vars["--state-down"]).toBe(STATE_COLORS.Down.dark);
    expect(vars["--close-abnormal"]).toBe(CLOSE_CLASSES.abnormal.dark);
  });
});
