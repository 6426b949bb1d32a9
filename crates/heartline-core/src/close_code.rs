//! Close codes in classes, each with one colour everywhere, and their meanings.

/// The class of a close code (or HTTP status on upgrade), for charts and diagnosis. Serialized
/// by its [`CloseClass::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CloseClass {
    /// 1000.
    Normal,
    /// 1001 going away, 1012 service restart.
    GoingAway,
    /// 1013 try again later.
    TryAgain,
    /// 1006: no close frame (the connection was lost).
    Abnormal,
    /// 1008 policy violation (credentials, authorisation, rate limits).
    Policy,
    /// 1011 internal error.
    ServerError,
    /// 1002, 1003, 1007, 1009, 1010: someone broke the protocol or a limit.
    Protocol,
    /// 4000–4999: defined by the application; shown by number.
    Application,
    /// Anything else (1005 no status, 1015, unknown).
    Other,
}

impl CloseClass {
    /// Every class, in legend order.
    pub const ALL: [CloseClass; 9] = [
        CloseClass::Normal,
        CloseClass::GoingAway,
        CloseClass::TryAgain,
        CloseClass::Abnormal,
        CloseClass::Policy,
        CloseClass::ServerError,
        CloseClass::Protocol,
        CloseClass::Application,
        CloseClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseClass::Normal => "normal",
            CloseClass::GoingAway => "going_away",
            CloseClass::TryAgain => "try_again",
            CloseClass::Abnormal => "abnormal",
            CloseClass::Policy => "policy",
            CloseClass::ServerError => "server_error",
            CloseClass::Protocol => "protocol",
            CloseClass::Application => "application",
            CloseClass::Other => "other",
        }
    }
}

/// The class of a WebSocket close code.
pub fn classify(code: u16) -> CloseClass {
    match code {
        1000 => CloseClass::Normal,
        1001 | 1012 => CloseClass::GoingAway,
        1013 => CloseClass::TryAgain,
        1006 => CloseClass::Abnormal,
        1008 => CloseClass::Policy,
        1011 | 1014 => CloseClass::ServerError,
        1002 | 1003 | 1007 | 1009 | 1010 => CloseClass::Protocol,
        4000..=4999 => CloseClass::Application,
        _ => CloseClass::Other,
    }
}

/// The class of how a session ended. The server's close frame is classed by its code; a lost
/// connection is abnormal (1006); Heartline's own closes are classed by their *cause*, not by
/// the code Heartline sent: a pong timeout closed with 1001 is a dead peer (abnormal), not a
/// server going away, and a close the user asked for is normal.
pub fn class_of_end(end: &crate::event::SessionEnd) -> CloseClass {
    use crate::event::{CloseCause, SessionEnd};
    match end {
        SessionEnd::ClosedByServer { code, .. } => classify(*code),
        SessionEnd::Lost { .. } => CloseClass::Abnormal,
        // The application refused us: classed by what it said, whatever frame carried it.
        SessionEnd::Refused { class, .. } => {
            use crate::protocol::RefusalClass;
            match class {
                RefusalClass::Credentials | RefusalClass::Policy => CloseClass::Policy,
                RefusalClass::Overload => CloseClass::TryAgain,
                RefusalClass::ServerRestart => CloseClass::GoingAway,
                RefusalClass::Protocol => CloseClass::Protocol,
                RefusalClass::Other => CloseClass::Application,
            }
        }
        SessionEnd::ClosedByClient { cause, .. } => match cause {
            CloseCause::PongTimeout
            | CloseCause::AppPongTimeout
            | CloseCause::Stale
            | CloseCause::ServerBeatMissed => CloseClass::Abnormal,
            CloseCause::MessageTooBig
            | CloseCause::ProtocolError
            | CloseCause::ProtocolHandshakeTimeout => CloseClass::Protocol,
            CloseCause::User
            | CloseCause::Shutdown
            | CloseCause::DurationElapsed
            | CloseCause::Reconfigured => CloseClass::Normal,
        },
    }
}

/// What a close code means, in a few words (the registry's names).
pub fn meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure, no close frame",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal server error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake failure",
        3000 => "unauthorized",
        3003 => "forbidden",
        3008 => "timeout",
        3001..=3002 | 3004..=3007 | 3009..=3999 => "registered by a library or framework",
        4000..=4999 => "application-defined",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the UI and the exports know the classes by (palette keys, CSS variables).
    #[test]
    fn classes_serialize_by_their_names() {
        let names = [
            (CloseClass::Normal, "normal"),
            (CloseClass::GoingAway, "going_away"),
            (CloseClass::TryAgain, "try_again"),
            (CloseClass::Abnormal, "abnormal"),
            (CloseClass::Policy, "policy"),
            (CloseClass::ServerError, "server_error"),
            (CloseClass::Protocol, "protocol"),
            (CloseClass::Application, "application"),
            (CloseClass::Other, "other"),
        ];
        assert_eq!(names.map(|(c, _)| c), CloseClass::ALL);
        for (class, name) in names {
            assert_eq!(class.as_str(), name);
            let json = serde_json::to_value(class).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(serde_json::from_value::<CloseClass>(json).ok(), Some(class));
        }
        assert!(serde_json::from_str::<CloseClass>("\"GoingAway\"").is_err());
    }

    #[test]
    fn classes_and_meanings() {
        for (code, class, words) in [
            (1000, CloseClass::Normal, "normal closure"),
            (1001, CloseClass::GoingAway, "going away"),
            (1012, CloseClass::GoingAway, "service restart"),
            (1013, CloseClass::TryAgain, "try again later"),
            (1006, CloseClass::Abnormal, "abnormal"),
            (1008, CloseClass::Policy, "policy violation"),
            (1011, CloseClass::ServerError, "internal server error"),
            (1007, CloseClass::Protocol, "invalid payload"),
            (1009, CloseClass::Protocol, "too big"),
            (4001, CloseClass::Application, "application-defined"),
            (1005, CloseClass::Other, "no status"),
            (3000, CloseClass::Other, "unauthorized"),
        ] {
            assert_eq!(classify(code), class, "{code}");
            assert!(meaning(code).contains(words), "{code}: {}", meaning(code));
        }
    }

    #[test]
    fn our_own_closes_are_classed_by_cause() {
        use crate::event::{CloseCause, SessionEnd};
        let ours = |cause| SessionEnd::ClosedByClient {
            cause,
            code: 1001,
            reason: String::new(),
            clean: false,
        };
        for (end, class) in [
            (ours(CloseCause::PongTimeout), CloseClass::Abnormal),
            (ours(CloseCause::Stale), CloseClass::Abnormal),
            (ours(CloseCause::MessageTooBig), CloseClass::Protocol),
            (ours(CloseCause::User), CloseClass::Normal),
            (
                SessionEnd::ClosedByServer {
                    code: 1001,
                    reason: String::new(),
                },
                CloseClass::GoingAway,
            ),
            (
                SessionEnd::Lost {
                    error: String::new(),
                },
                CloseClass::Abnormal,
            ),
        ] {
            assert_eq!(class_of_end(&end), class, "{end}");
        }
    }
}
