// Generated from crates/heartline-report/src/palette.rs; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings

import type { CloseClass, StateName } from "./bindings";

/** A colour for each theme. */
export type Swatch = { light: string; dark: string };

/** The colour of each health state. */
export const STATE_COLORS: Record<StateName, Swatch> = {
  Up: { light: "#16a34a", dark: "#4ade80" },
  Degraded: { light: "#d97706", dark: "#fbbf24" },
  Unstable: { light: "#c2410c", dark: "#fdba74" },
  Down: { light: "#dc2626", dark: "#f87171" },
  Paused: { light: "#6b7280", dark: "#9ca3af" },
  Connecting: { light: "#2563eb", dark: "#60a5fa" },
};

/** Close-code classes as heartline-core names them: legend words and colours. */
export const CLOSE_CLASSES: Record<CloseClass, Swatch & { label: string }> = {
  normal: { label: "normal (1000)", light: "#15803d", dark: "#86efac" },
  going_away: { label: "going away / restart (1001, 1012)", light: "#0891b2", dark: "#22d3ee" },
  try_again: { label: "try again (1013)", light: "#9333ea", dark: "#c084fc" },
  abnormal: { label: "abnormal (1006)", light: "#ea580c", dark: "#fb923c" },
  policy: { label: "policy / auth (1008, 4xxx auth)", light: "#c026d3", dark: "#f0abfc" },
  server_error: { label: "server error (1011)", light: "#9f1239", dark: "#fb7185" },
  protocol: { label: "protocol (1002, 1007, 1009)", light: "#a16207", dark: "#facc15" },
  application: { label: "application (4xxx)", light: "#4f46e5", dark: "#a5b4fc" },
  other: { label: "other (1005, …)", light: "#5b6370", dark: "#9ca3af" },
};

/** Time with no known state. */
export const UNKNOWN = "#e4e6ea";
