//! The one palette: every state and close-code class has one colour, and every format (charts,
//! HTML, the desktop app later) takes it from here so a red means the same thing everywhere.
//!
//! Colours were picked to stay apart for the common forms of colour blindness where it matters
//! most (Up vs Down, normal vs abnormal close) and to print legibly; a colour is never the only
//! carrier of meaning — the state's word or the close code's number always sits beside it.

use heartline_core::{CloseClass, State};

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, as CSS and SVG write it.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The colour of a health state.
pub fn state(state: State) -> Rgb {
    match state {
        State::Up => Rgb(0x2e, 0x9e, 0x5b),
        State::Degraded => Rgb(0xe0, 0xa0, 0x1f),
        State::Unstable => Rgb(0xc2, 0x41, 0x0c),
        State::Down => Rgb(0xd6, 0x3b, 0x3b),
        State::Paused => Rgb(0x8a, 0x8f, 0x98),
        State::Connecting => Rgb(0x4a, 0x7f, 0xd6),
    }
}

/// Time when no agent was recording, or no state is known.
pub const UNKNOWN: Rgb = Rgb(0xe4, 0xe6, 0xea);

/// The colour of a close-code class (also used for HTTP refusals of the same meaning).
pub fn close_class(class: CloseClass) -> Rgb {
    match class {
        CloseClass::Normal => Rgb(0x1b, 0x7f, 0x4b),
        CloseClass::GoingAway => Rgb(0x2f, 0x6f, 0xd0),
        CloseClass::TryAgain => Rgb(0x8b, 0x5c, 0xf6),
        CloseClass::Abnormal => Rgb(0xe8, 0x5d, 0x1a),
        CloseClass::Policy => Rgb(0xc0, 0x26, 0xd3),
        CloseClass::ServerError => Rgb(0x9f, 0x12, 0x39),
        CloseClass::Protocol => Rgb(0xb8, 0x86, 0x0b),
        CloseClass::Application => Rgb(0x0e, 0x94, 0xa6),
        CloseClass::Other => Rgb(0x5b, 0x63, 0x70),
    }
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
