// One palette for states and close-code classes, used by the list, charts and timeline. The
// colours are generated from the Rust palette the exports and the tray use
// (crates/heartline-report/src/palette.rs), so a colour means the same thing everywhere.
import type { CloseClass, StateName } from "./bindings";
import { CLOSE_CLASSES, STATE_COLORS } from "./palette.generated";

export type Theme = "light" | "dark";

export { CLOSE_CLASSES, STATE_COLORS, UNKNOWN } from "./palette.generated";

export const STATE_ORDER: StateName[] = ["Down", "Unstable", "Degraded", "Connecting", "Up", "Paused"];

export function stateColor(s: StateName, theme: Theme): string {
  return STATE_COLORS[s][theme];
}

export function closeColor(cls: CloseClass, theme: Theme): string {
  return CLOSE_CLASSES[cls][theme];
}

/** The legend words of a close class, capitalised for a UI label. */
export function closeLabel(cls: CloseClass): string {
  const label = CLOSE_CLASSES[cls].label;
  return label.charAt(0).toUpperCase() + label.slice(1);
}

export function currentTheme(): Theme {
  return typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches
    ? "dark"
    : "light";
}

/** CSS custom properties (--state-up, --close-abnormal, …) for a theme. */
export function cssVariables(theme: Theme): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [s, c] of Object.entries(STATE_COLORS)) vars[`--state-${s.toLowerCase()}`] = c[theme];
  for (const [k, c] of Object.entries(CLOSE_CLASSES)) vars[`--close-${k}`] = c[theme];
  return vars;
}
