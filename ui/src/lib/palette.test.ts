import { describe, expect, it } from "vitest";
import { ALL_CLOSE_CLASSES } from "./bindings";
import { CLOSE_CLASSES, STATE_COLORS, closeColor, closeLabel, cssVariables, stateColor } from "./palette";

describe("palette", () => {
  it("gives every state a distinct colour in each theme", () => {
    for (const theme of ["light", "dark"] as const) {
      const colours = Object.keys(STATE_COLORS).map((s) => stateColor(s as keyof typeof STATE_COLORS, theme));
      expect(new Set(colours).size).toBe(colours.length);
    }
  });

  it("covers every close-code class heartline-core names, and nothing else", () => {
    expect(Object.keys(CLOSE_CLASSES).sort()).toEqual([...ALL_CLOSE_CLASSES].sort());
    for (const cls of ALL_CLOSE_CLASSES) {
      expect(closeLabel(cls), cls).toMatch(/^[A-Z]/);
      expect(closeColor(cls, "light"), cls).toMatch(/^#[0-9a-f]{6}$/);
    }
    expect(closeLabel("other")).toBe("Other (1005, …)");
    // A lost connection (1006) is drawn apart from the Down state it may lead to.
    expect(closeColor("abnormal", "light")).not.toBe(STATE_COLORS.Down.light);
    expect(closeColor("abnormal", "dark")).not.toBe(STATE_COLORS.Down.dark);
  });

  it("exposes the palette as CSS variables", () => {
    const vars = cssVariables("dark");
    expect(vars["--state-down"]).toBe(STATE_COLORS.Down.dark);
    expect(vars["--close-abnormal"]).toBe(CLOSE_CLASSES.abnormal.dark);
  });
});
