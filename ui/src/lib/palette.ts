// One palette for states and close-code classes, used by the list, charts and timeline
// (the tray uses the same colours, in src-tauri/src/tray.rs).
import type { StateName } from "./bindings";

export type Theme = "light" | "dark";

export const STATE_COLORS: Record<StateName, Record<Theme, string>> = {
  Up: { light: "#16a34a", dark: "#4ade80" },
  Degraded: { light: "#d97706", dark: "#fbbf24" },
  Down: { light: "#dc2626", dark: "#f87171" },
  Connecting: { light: "#2563eb", dark: "#60a5fa" },
  Paused: { light: "#6b7280", dark: "#9ca3af" },
};

export const STATE_ORDER: StateName[] = ["Down", "Degraded", "Connecting", "Up", "Paused"];

/** Close-code classes as heartline-core names them, with a label and a colour. */
export const CLOSE_CLASSES: Record<string, { label: string; light: string; dark: string }> = {
  normal: { label: "Normal", light: "#16a34a", dark: "#4ade80" },
  going_away: { label: "Going away / restart", light: "#0891b2", dark: "#22d3ee" },
  try_again: { label: "Try again later", light: "#7c3aed", dark: "#a78bfa" },
  abnormal: { label: "Abnormal (no close frame)", light: "#dc2626", dark: "#f87171" },
  policy: { label: "Policy / auth", light: "#c2410c", dark: "#fb923c" },
  application: { label: "Application (4xxx)", light: "#c026d3", dark: "#e879f9" },
  server_error: { label: "Server error", light: "#9f1239", dark: "#fb7185" },
  protocol: { label: "Protocol", light: "#a16207", dark: "#facc15" },
  other: { label: "Other", light: "#6b7280", dark: "#9ca3af" },
};

export function stateColor(s: StateName, theme: Theme): string {
  return STATE_COLORS[s][theme];
}

export function closeColor(cls: string, theme: Theme): string {
  return (CLOSE_CLASSES[cls] ?? CLOSE_CLASSES.other)[theme];
}

export function closeLabel(cls: string): string {
  return (CLOSE_CLASSES[cls] ?? CLOSE_CLASSES.other).label;
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
