//! A WebSocket data frame's payload, text or binary, and the `hex:`/`base64:` notation that
//! lets configuration files and command lines carry binary frames.

use base64::Engine as _;

/// One data message, as sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// A payload written in the `hex:`/`base64:` notation that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl Frame {
    /// Reads a configured payload: `hex:c0 00` and `base64:wAA=` are binary frames, `text:…`
    /// is text taken literally (for text that itself starts with `hex:`), anything else is
    /// a text frame as written.
    pub fn parse(s: &str) -> Result<Frame, PayloadError> {
        if let Some(hex) = strip_prefix_ci(s, "hex:") {
            return decode_hex(hex).map(Frame::Binary);
        }
        if let Some(b64) = strip_prefix_ci(s, "base64:") {
            let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            return base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map(Frame::Binary)
                .map_err(|e| PayloadError(format!("invalid base64 payload: {e}")));
        }
        if let Some(text) = strip_prefix_ci(s, "text:") {
            return Ok(Frame::Text(text.to_owned()));
        }
        Ok(Frame::Text(s.to_owned()))
    }

    /// The frame in the notation [`Frame::parse`] reads back.
    pub fn to_notation(&self) -> String {
        match self {
            Frame::Binary(b) => format!("hex:{}", to_hex(b)),
            Frame::Text(t)
                if strip_prefix_ci(t, "hex:").is_some()
                    || strip_prefix_ci(t, "base64:").is_some()
                    || strip_prefix_ci(t, "text:").is_some() =>
            {
                format!("text:{t}")
            }
            Frame::Text(t) => t.clone(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload as text, when it is text (or binary that happens to be UTF-8).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Frame::Text(t) => Some(t),
            Frame::Binary(b) => std::str::from_utf8(b).ok(),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Frame::Text(t) => t.as_bytes(),
            Frame::Binary(b) => b,
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Hex digits in pairs; spaces, `:` and `-` between bytes are allowed (`c0 00`, `C0:00`).
pub(crate) fn decode_hex(s: &str) -> Result<Vec<u8>, PayloadError> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':' && *b != b'-')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(PayloadError(format!(
            "hex payload has an odd number of digits ({})",
            digits.len()
        )));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = hex_value(pair[0]);
            let lo = hex_value(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(PayloadError(format!(
                    "`{}` is not a hex byte",
                    String::from_utf8_lossy(pair)
                ))),
            }
        })
        .collect()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
