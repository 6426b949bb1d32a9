//! Recognising the reply to an application heartbeat.

use crate::protocol::Frame;

/// How an application heartbeat's reply is recognised among incoming messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyMatch {
    /// The message contains this text; written `hex:…` or `base64:…`, the message contains
    /// these bytes (binary frames, e.g. MQTT's PINGRESP `hex:d000`).
    Contains(String),
    /// The message matches this regular expression.
    Regex(String),
    /// The message is a JSON object whose field at `path` (dot-separated, e.g. `data.type`)
    /// equals `equals` (compared as a string for strings, as JSON text otherwise).
    JsonField { path: String, equals: String },
}

impl ReplyMatch {
    /// Validates the rule (a regex must compile, a JSON path must be non-empty).
    pub fn check(&self) -> Result<(), String> {
        match self {
            ReplyMatch::Contains(s) if s.is_empty() => Err("match text must not be empty".into()),
            ReplyMatch::Contains(s) => match Frame::parse(s) {
                Err(e) => Err(e.0),
                Ok(f) if f.is_empty() => Err("match bytes must not be empty".into()),
                Ok(_) => Ok(()),
            },
            ReplyMatch::Regex(r) => regex::Regex::new(r)
                .map(drop)
                .map_err(|e| format!("invalid regex: {e}")),
            ReplyMatch::JsonField { path, .. } if path.trim().is_empty() => {
                Err("a JSON rule is PATH=VALUE, e.g. `type=connection_ack`".into())
            }
            ReplyMatch::JsonField { path, .. } if path.split('.').any(str::is_empty) => {
                Err(format!("JSON path `{path}` has an empty segment"))
            }
            ReplyMatch::JsonField { .. } => Ok(()),
        }
    }

    /// Compiles the rule once for use on every message.
    pub fn compile(&self) -> Result<ReplyMatcher, String> {
        self.check()?;
        Ok(match self {
            ReplyMatch::Contains(s) => match Frame::parse(s).map_err(|e| e.0)? {
                Frame::Binary(bytes) => ReplyMatcher::Bytes(bytes),
                Frame::Text(text) => ReplyMatcher::Contains(text),
            },
            ReplyMatch::Regex(r) => ReplyMatcher::Regex(
                regex::Regex::new(r).map_err(|e| format!("invalid regex: {e}"))?,
            ),
            ReplyMatch::JsonField { path, equals } => ReplyMatcher::JsonField {
                path: path.split('.').map(str::to_owned).collect(),
                equals: equals.clone(),
            },
        })
    }
}

/// A compiled [`ReplyMatch`].
#[derive(Debug, Clone)]
pub enum ReplyMatcher {
    Contains(String),
    /// Bytes the message (text or binary) must contain.
    Bytes(Vec<u8>),
    Regex(regex::Regex),
    JsonField {
        path: Vec<String>,
        equals: String,
    },
}

impl ReplyMatcher {
    /// Whether a frame, text or binary, is the heartbeat reply. Text rules see binary frames
    /// only when they are UTF-8; byte rules see every frame's bytes.
    pub fn matches_frame(&self, frame: &Frame) -> bool {
        match (self, frame.as_text()) {
            (ReplyMatcher::Bytes(needle), _) => contains_bytes(frame.as_bytes(), needle),
            (_, Some(text)) => self.matches(text),
            (_, None) => false,
        }
    }

    /// Whether `message` is the heartbeat reply.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            ReplyMatcher::Contains(s) => message.contains(s.as_str()),
            ReplyMatcher::Bytes(needle) => contains_bytes(message.as_bytes(), needle),
            ReplyMatcher::Regex(r) => r.is_match(message),
            ReplyMatcher::JsonField { path, equals } => {
                // Cheap pre-filter: the expected value must appear in the text at all. Only
                // when JSON has a single way to write it, though: a server may escape `"`,
                // `\`, `/`, controls and any non-ASCII character (`a\/b`, `\u00e9`).
                let written_one_way = equals
                    .bytes()
                    .all(|b| (b == b' ' || b.is_ascii_graphic()) && !b"\"\\/".contains(&b));
                if written_one_way && !message.contains(equals.as_str()) {
                    return false;
                }
                let Ok(value) = serde_json::from_str::<serde_json::Value>(message) else {
                    return false;
                };
                let mut at = &value;
                for segment in path {
                    match at.get(segment.as_str()) {
                        Some(v) => at = v,
                        None => return false,
                    }
                }
                match at {
                    serde_json::Value::String(s) => s == equals,
                    other => serde_json::from_str::<serde_json::Value>(equals)
                        .is_ok_and(|expected| expected == *other),
                }
            }
        }
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: ReplyMatch, message: &str, expected: bool) {
        let m = rule.compile().unwrap();
        assert_eq!(m.matches(message), expected, "{rule:?} on {message:?}");
    }

    #[test]
    fn rules_match() {
        check(
            ReplyMatch::Contains("pong".into()),
            r#"{"op":"pong"}"#,
            true,
        );
        check(ReplyMatch::Contains("pong".into()), "ping", false);
        check(
            ReplyMatch::Regex(r"^\{.*pong".into()),
            r#"{"op":"pong"}"#,
            true,
        );
        check(ReplyMatch::Regex(r"^pong$".into()), "pong!", false);
        let field = |p: &str, v: &str| ReplyMatch::JsonField {
            path: p.into(),
            equals: v.into(),
        };
        check(field("op", "pong"), r#"{"op":"pong","ts":1}"#, true);
        check(field("op", "pong"), r#"{"op":"ping","note":"pong"}"#, false);
        check(field("data.type", "hb"), r#"{"data":{"type":"hb"}}"#, true);
        check(field("id", "7"), r#"{"id":7}"#, true);
        check(field("ok", "true"), r#"{"ok":true}"#, true);
        check(field("op", "pong"), "pong but not json", false);
        // However the server chose to escape the value, it is the same value.
        check(field("path", "a/b"), r#"{"path":"a\/b"}"#, true);
        check(field("op", "pöng"), r#"{"op":"p\u00f6ng"}"#, true);
        check(field("q", r#"say "hi""#), r#"{"q":"say \"hi\""}"#, true);
        check(field("q", r#"say "hi""#), r#"{"q":"say hi"}"#, false);
    }

    #[test]
    fn byte_rules_match_binary_frames() {
        let m = ReplyMatch::Contains("hex:d0 00".into()).compile().unwrap();
        assert!(m.matches_frame(&Frame::Binary(vec![0xD0, 0x00])));
        assert!(!m.matches_frame(&Frame::Binary(vec![0xC0, 0x00])));
        assert!(!m.matches_frame(&Frame::Text("d000".into())));
        // A text rule sees a binary frame only when it is UTF-8.
        let t = ReplyMatch::Regex("^3$".into()).compile().unwrap();
        assert!(t.matches_frame(&Frame::Binary(b"3".to_vec())));
        assert!(!t.matches_frame(&Frame::Binary(vec![0xff])));
        assert!(ReplyMatch::Contains("hex:0".into())
            .check()
            .unwrap_err()
            .contains("odd number"));
    }

    #[test]
    fn invalid_rules_are_refused() {
        assert!(ReplyMatch::Regex("(".into())
            .check()
            .unwrap_err()
            .contains("invalid regex"));
        assert!(ReplyMatch::Contains(String::new()).check().is_err());
        let bad = ReplyMatch::JsonField {
            path: "a..b".into(),
            equals: "x".into(),
        };
        assert!(bad.check().unwrap_err().contains("empty segment"));
    }
}
