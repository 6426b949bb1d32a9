//! The one palette: every state and close-code class has one colour, and every format (charts,
//! HTML, the desktop app later) takes it from here so a red means the same thing everywhere.
//!
//! Colours were picked to stay apart for the common forms of colour blindness where it matters
//! most (Up vs Down, normal vs abnormal close) and to print legibly; a colour is never the only
//! carrier of meaning — the state's word or the close code's number always sits beside it.

use heartline_core::{CloseClass, State};

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, as CSS and SVG write it.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// A colour for each theme: exports and charts print on white and use `light`; the desktop
/// app follows the system theme. Generated into the UI (`ui/src/lib/palette.generated.ts`)
/// and used by the tray, so one state or close class has one colour everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swatch {
    pub light: Rgb,
    pub dark: Rgb,
}

const fn swatch(light: u32, dark: u32) -> Swatch {
    const fn rgb(v: u32) -> Rgb {
        Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }
    Swatch {
        light: rgb(light),
        dark: rgb(dark),
    }
}

/// The colours of a health state.
pub fn state_swatch(state: State) -> Swatch {
    match state {
        State::Up => swatch(0x16a34a, 0x4ade80),
        State::Degraded => swatch(0xd97706, 0xfbbf24),
        State::Unstable => swatch(0xc2410c, 0xfdba74),
        State::Down => swatch(0xdc2626, 0xf87171),
        State::Paused => swatch(0x6b7280, 0x9ca3af),
        State::Connecting => swatch(0x2563eb, 0x60a5fa),
    }
}

/// The colour of a health state on a light background.
pub fn state(state: State) -> Rgb {
    state_swatch(state).light
}

/// Time when no agent was recording, or no state is known.
pub const UNKNOWN: Rgb = Rgb(0xe4, 0xe6, 0xea);

/// The colours of a close-code class (also used for HTTP refusals of the same meaning).
/// An abnormal close (1006) is orange, apart from Down's red: a lost connection is a cause
/// to read next to the state, not the state itself.
pub fn close_class_swatch(class: CloseClass) -> Swatch {
    match class {
        CloseClass::Normal => swatch(0x15803d, 0x86efac),
        CloseClass::GoingAway => swatch(0x0891b2, 0x22d3ee),
        CloseClass::TryAgain => swatch(0x9333ea, 0xc084fc),
        CloseClass::Abnormal => swatch(0xea580c, 0xfb923c),
        CloseClass::Policy => swatch(0xc026d3, 0xf0abfc),
        CloseClass::ServerError => swatch(0x9f1239, 0xfb7185),
        CloseClass::Protocol => swatch(0xa16207, 0xfacc15),
        CloseClass::Application => swatch(0x4f46e5, 0xa5b4fc),
        CloseClass::Other => swatch(0x5b6370, 0x9ca3af),
    }
}

/// The colour of a close-code class on a light background.
pub fn close_class(class: CloseClass) -> Rgb {
    close_class_swatch(class).light
}

/// Every close class in legend order, with the words a legend shows.
pub const CLOSE_CLASSES: [(CloseClass, &str); 9] = [
    (CloseClass::Normal, "normal (1000)"),
    (CloseClass::GoingAway, "going away / restart (1001, 1012)"),
    (CloseClass::TryAgain, "try again (1013)"),
    (CloseClass::Abnormal, "abnormal (1006)"),
    (CloseClass::Policy, "policy / auth (1008, 4xxx auth)"),
    (CloseClass::ServerError, "server error (1011)"),
    (CloseClass::Protocol, "protocol (1002, 1007, 1009)"),
    (CloseClass::Application, "application (4xxx)"),
    (CloseClass::Other, "other (1005, …)"),
];

/// Every state in legend order.
pub const STATES: [State; 6] = [
    State::Up,
    State::Degraded,
    State::Unstable,
    State::Down,
    State::Paused,
    State::Connecting,
];

/// Protocol ping round trips (median line).
pub const RTT_PROTOCOL: Rgb = Rgb(0x25, 0x63, 0xeb);
/// The p95 band and line around the protocol round trips.
pub const RTT_P95: Rgb = Rgb(0x93, 0xb4, 0xf5);
/// Application heartbeat round trips.
pub const RTT_APP: Rgb = Rgb(0x0d, 0x94, 0x88);
/// Reconnect attempts.
pub const RECONNECT: Rgb = Rgb(0x7c, 0x3a, 0xed);
/// Body text, axes and grid on a light background.
pub const TEXT: Rgb = Rgb(0x1f, 0x23, 0x28);
pub const MUTED: Rgb = Rgb(0x5f, 0x66, 0x70);
pub const GRID: Rgb = Rgb(0xe6, 0xe8, 0xeb);
pub const BACKGROUND: Rgb = Rgb(0xff, 0xff, 0xff);

/// The palette as the desktop UI reads it (`ui/src/lib/palette.generated.ts`, which the app's
/// bindings test keeps current): a colour per state and per close class for each theme, with
/// the legend words of the close classes. States are keyed by their variant names, which is
/// how the app's `StateName` union spells them; close classes by `as_str`.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from crates/heartline-report/src/palette.rs; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings\n\n\
         import type { CloseClass, StateName } from \"./bindings\";\n\n\
         /** A colour for each theme. */\n\
         export type Swatch = { light: string; dark: string };\n\n\
         /** The colour of each health state. */\n\
         export const STATE_COLORS: Record<StateName, Swatch> = {\n",
    );
    for state in STATES {
        let s = state_swatch(state);
        out.push_str(&format!(
            "  {state:?}: {{ light: {:?}, dark: {:?} }},\n",
            s.light.hex(),
            s.dark.hex()
        ));
    }
    out.push_str(
        "};\n\n/** Close-code classes as heartline-core names them: legend words and colours. */\n\
         export const CLOSE_CLASSES: Record<CloseClass, Swatch & { label: string }> = {\n",
    );
    for (class, label) in CLOSE_CLASSES {
        let s = close_class_swatch(class);
        out.push_str(&format!(
            "  {}: {{ label: {label:?}, light: {:?}, dark: {:?} }},\n",
            class.as_str(),
            s.light.hex(),
            s.dark.hex()
        ));
    }
    out.push_str(&format!(
        "}};\n\n/** Time with no known state. */\nexport const UNKNOWN = {:?};\n",
        UNKNOWN.hex()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state is in `STATES` (the match fails to compile when a state is added).
    #[test]
    fn the_legend_lists_every_state_and_close_class() {
        for state in [
            State::Connecting,
            State::Up,
            State::Degraded,
            State::Unstable,
            State::Down,
            State::Paused,
        ] {
            match state {
                State::Connecting
                | State::Up
                | State::Degraded
                | State::Unstable
                | State::Down
                | State::Paused => {}
            }
            assert!(STATES.contains(&state), "{state:?} missing from STATES");
        }
        let classes: Vec<CloseClass> = CLOSE_CLASSES.iter().map(|(c, _)| *c).collect();
        for class in classes.iter().copied() {
            assert_eq!(
                crate::palette::close_class(class),
                close_class_swatch(class).light
            );
        }
        let distinct: std::collections::HashSet<&str> =
            classes.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), 9);
    }

    #[test]
    fn states_and_close_classes_are_told_apart_in_both_themes() {
        for theme in [|s: Swatch| s.light, |s: Swatch| s.dark] {
            let states: std::collections::HashSet<Rgb> =
                STATES.iter().map(|s| theme(state_swatch(*s))).collect();
            assert_eq!(states.len(), STATES.len());
            let classes: std::collections::HashSet<Rgb> = CLOSE_CLASSES
                .iter()
                .map(|(c, _)| theme(close_class_swatch(*c)))
                .collect();
            assert_eq!(classes.len(), CLOSE_CLASSES.len());
            // A lost connection is drawn apart from the Down state it may cause.
            assert_ne!(
                theme(close_class_swatch(CloseClass::Abnormal)),
                theme(state_swatch(State::Down))
            );
        }
    }
}
