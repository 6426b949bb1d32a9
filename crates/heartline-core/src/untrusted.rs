//! Text that comes from outside — close reasons, HTTP status lines and bodies, application
//! replies quoted in errors, TLS and I/O error strings — is untrusted. Two rules apply to it:
//!
//! 1. **No secret goes back out.** A server may echo a credential it was sent (auth middleware
//!    that answers `401 invalid credentials: Bearer …`). [`Redactor`] knows one endpoint's
//!    secret values and their obvious encodings and masks them by value, not by field name.
//!    [`Redactor::clean`] (mask, then bound the length) is applied where such text enters the
//!    process, so every consumer — store, exports, terminal, UI, notifications — receives it
//!    already clean.
//! 2. **No control character reaches a terminal or a document raw.** [`escape_controls`] is
//!    applied where text is rendered for a person (readable CLI output, Markdown, CSV, HTML,
//!    notifications, the tray): a hostile close reason cannot retitle a terminal or forge a log
//!    line. JSON outputs pass through [`escape_json_text`]: the encoder escapes C0 controls
//!    itself, and that escapes the rest (DEL, C1, bidi) while the text reads back the same.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

use crate::endpoint::{looks_secret, Endpoint};

/// Shown in place of a secret.
pub const MASK: &str = "••••••";

/// Secret values shorter than this are not masked inside other text: a two-character secret
/// would mask every coincidental occurrence of those characters and make errors unreadable.
pub const MIN_SECRET_LEN: usize = 4;

/// Longest server-supplied text kept for one field (an HTTP body quoted in an error, an I/O
/// error string). A close reason is at most 123 bytes by RFC 6455.
pub const MAX_UNTRUSTED_LEN: usize = 512;

/// Masks one endpoint's secret values, in every form a server is likely to echo them, out of
/// any text. `Debug` shows how many values it knows, never the values.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The needles, longest first (kept for `needles()` and equality of construction).
    needles: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.needles.len())
            .finish()
    }
}

impl PartialEq for Redactor {
    fn eq(&self, other: &Self) -> bool {
        self.needles == other.needles
    }
}

impl Redactor {
    /// A redactor for `endpoint`: its secret header values, the values of its
    /// secret-looking query parameters (`token=`, `key=`, …) and its secret values for
    /// payloads (`{{secret:NAME}}`), with their encodings.
    pub fn for_endpoint(endpoint: &Endpoint) -> Self {
        let headers = endpoint
            .headers
            .iter()
            .filter(|h| h.secret)
            .map(|h| h.value.as_str());
        let query = secret_query_values(&endpoint.url);
        let vars = endpoint.secret_vars.iter().map(|v| v.value.clone());
        Redactor::from_secrets(headers.map(str::to_owned).chain(query).chain(vars))
    }

    /// A redactor for these secret values (each also in its obvious encodings).
    pub fn from_secrets<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut needles = Vec::new();
        for s in secrets {
            forms_of(s.as_ref(), &mut needles);
        }
        needles.retain(|n| n.chars().count() >= MIN_SECRET_LEN);
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        let matcher = if needles.is_empty() {
            None
        } else {
            // Leftmost-longest: where one form contains another, the whole longer form goes.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&needles)
                .ok()
        };
        Redactor { needles, matcher }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Every form that is masked (for tests that assert nothing leaked).
    pub fn needles(&self) -> &[String] {
        &self.needles
    }

    /// `text` with every known secret form replaced by [`MASK`].
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![MASK; self.needles.len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Like [`Redactor::scrub`], for text that may have been cut short before it was ever
    /// scrubbed (history written before text was cleaned where it enters): a tail that is the
    /// start of a secret form, at least [`MIN_SECRET_LEN`] characters of it, is masked too, so
    /// a credential cut in the middle leaves no readable half behind.
    pub fn scrub_truncated<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let scrubbed = self.scrub(text);
        // The earliest start of a tail that begins some secret form.
        let start = self
            .needles
            .iter()
            .filter_map(|n| {
                n.char_indices()
                    .skip(MIN_SECRET_LEN)
                    .map(|(i, _)| i)
                    .filter(|&i| scrubbed.ends_with(&n[..i]))
                    .last()
                    .map(|i| scrubbed.len() - i)
            })
            .min();
        match start {
            Some(at) => Cow::Owned(format!("{}{MASK}", &scrubbed[..at])),
            None => scrubbed,
        }
    }

    /// Untrusted text made fit to keep: secrets masked, then bounded to
    /// [`MAX_UNTRUSTED_LEN`] bytes. Control characters are kept (escaped when rendered).
    pub fn clean(&self, text: &str) -> String {
        self.clean_to(text, MAX_UNTRUSTED_LEN)
    }

    /// Like [`Redactor::clean`] with a bound of `max` bytes.
    pub fn clean_to(&self, text: &str, max: usize) -> String {
        let Some(matcher) = &self.matcher else {
            return bound(text, max).into_owned();
        };
        // Masks change lengths, so where the kept text ends in `text` is only known while
        // masking. Build the output a stretch at a time and search each stretch a little past
        // its end: a secret that starts inside it is masked whole, and a secret cut at the
        // end of a search window can never slide into what is kept (as it could when a huge
        // body was cut once up front and long secrets before the cut shrank to the mask).
        // Nothing past the kept text plus the longest secret form is read.
        let longest = self.needles.first().map_or(0, String::len);
        let mut out = String::new();
        let mut pos = 0;
        while out.len() <= max && pos < text.len() {
            let need = max.saturating_add(1) - out.len();
            let window_end = pos.saturating_add(need.saturating_add(longest));
            let window = &text[pos..floor_char_boundary(text, window_end)];
            match matcher.find(window) {
                Some(m) if m.start() < need => {
                    out.push_str(&window[..m.start()]);
                    out.push_str(MASK);
                    pos += m.end();
                }
                _ => {
                    let end = floor_char_boundary(text, pos.saturating_add(need));
                    out.push_str(&text[pos..end]);
                    pos = end;
                    break;
                }
            }
        }
        if out.len() > max {
            bound(&out, max).into_owned()
        } else if pos < text.len() {
            out.push('…');
            out
        } else {
            out
        }
    }
}

/// The secret value and the forms a server is likely to echo it in: the credential after an
/// auth scheme (`Bearer x` → `x`), what a Basic credential decodes to (`user:pass`, `pass`),
/// percent-encoded and base64 copies.
fn forms_of(secret: &str, out: &mut Vec<String>) {
    let secret = secret.trim();
    if secret.is_empty() {
        return;
    }
    let add = |s: String, out: &mut Vec<String>| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    add(secret.to_owned(), out);
    let credential = match secret.split_once(' ') {
        Some((scheme, rest)) if is_scheme(scheme) => {
            let rest = rest.trim();
            add(rest.to_owned(), out);
            if scheme.eq_ignore_ascii_case("basic") {
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) {
                    if let Ok(plain) = String::from_utf8(decoded) {
                        if let Some((_, pass)) = plain.split_once(':') {
                            add(pass.to_owned(), out);
                        }
                        add(plain, out);
                    }
                }
            }
            rest
        }
        _ => secret,
    };
    for s in [secret, credential] {
        let encoded = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        add(encoded, out);
        add(base64::engine::general_purpose::STANDARD.encode(s), out);
        add(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s),
            out,
        );
    }
    if let Ok(decoded) = percent_encoding::percent_decode_str(secret).decode_utf8() {
        add(decoded.into_owned(), out);
    }
}

/// An HTTP auth scheme word (`Bearer`, `Basic`, `Token`, …): a short RFC 9110 token.
fn is_scheme(word: &str) -> bool {
    (2..=20).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The values of secret-looking query parameters in `url` (raw and percent-decoded).
pub fn secret_query_values(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = rest.split_once('#').map_or(rest, |(q, _)| q);
    let mut out = Vec::new();
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
            if looks_secret(&k) && !v.is_empty() {
                out.push(v.to_owned());
                let plus = v.replace('+', " ");
                if let Ok(d) = percent_encoding::percent_decode_str(&plus).decode_utf8() {
                    if d != v {
                        out.push(d.into_owned());
                    }
                }
            }
        }
    }
    out
}

/// The largest character boundary of `text` at or before `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    let mut end = at;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when it was cut.
pub fn bound(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// Whether `c` must not reach a terminal or a document raw: C0 and C1 controls, DEL, and the
/// Unicode bidirectional overrides and isolates that reorder what a reader sees.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as an escape: `\n`, `\r`, `\t`, `\x1b`,
/// `\u{9b}`. Everything else, including non-ASCII letters, is kept as it is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && is_unsafe_char(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A character that serde_json writes raw inside a string but that a terminal acts on: DEL,
/// the C1 controls (U+009B is an 8-bit CSI) and the bidi overrides. (It escapes C0 itself.)
pub fn json_leaves_raw(c: char) -> bool {
    u32::from(c) >= 0x7f && is_unsafe_char(c)
}

/// `json`, a JSON text an encoder wrote, with every [`json_leaves_raw`] character as a
/// `\uXXXX` escape. Outside its strings JSON is printable ASCII and whitespace, so each such
/// character is inside a string, where the escape stands for the same character: a reader
/// gets exactly the text back, and a terminal showing the line is not driven by it.
pub fn escape_json_text(json: &str) -> Cow<'_, str> {
    if !json.chars().any(json_leaves_raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if json_leaves_raw(c) {
            // All of them lie in the Basic Multilingual Plane: one escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Header;

    fn redactor(secrets: &[&str]) -> Redactor {
        Redactor::from_secrets(secrets.iter().copied())
    }

    #[test]
    fn masks_each_form_a_server_echoes() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["Bearer s3cr3t-token"],
                "401 Unauthorized: invalid credentials: Bearer s3cr3t-token",
                "401 Unauthorized: invalid credentials: ••••••",
            ),
            (
                &["Bearer s3cr3t-token"],
                "token s3cr3t-token is expired",
                "token •••••• is expired",
            ),
            // Basic: the base64 credential, what it decodes to, and the password alone.
            (
                &["Basic YWxpY2U6aHVudGVyMg=="],
                "bad user alice:hunter2 (YWxpY2U6aHVudGVyMg==), password hunter2",
                "bad user •••••• (••••••), password ••••••",
            ),
            // Percent-encoded as it would come back in a URL.
            (&["a b/c+d"], "GET /?t=a%20b%2Fc%2Bd", "GET /?t=••••••"),
            // Shorter than MIN_SECRET_LEN: left alone rather than masking every "ab".
            (&["ab"], "abc ab", "abc ab"),
            (&[], "nothing to hide", "nothing to hide"),
        ];
        for (secrets, text, expected) in cases {
            assert_eq!(
                redactor(secrets).scrub(text),
                *expected,
                "{secrets:?} in {text:?}"
            );
        }
    }

    #[test]
    fn endpoint_secrets_are_headers_marked_secret_and_secret_query_values() {
        let mut e = Endpoint::new("x", "wss://h/ws?room=lobby&access_token=q%2Fsecret1&sig=");
        e.headers
            .push(Header::new("Authorization", "Bearer tok-1234"));
        e.headers.push(Header::new("X-Trace", "visible-value"));
        let r = Redactor::for_endpoint(&e);
        let text = "echo: Bearer tok-1234 q%2Fsecret1 q/secret1 visible-value lobby";
        assert_eq!(
            r.scrub(text),
            "echo: •••••• •••••• •••••• visible-value lobby"
        );
        assert!(format!("{r:?}").starts_with("Redactor { values: "));
        assert!(!format!("{r:?}").contains("tok-1234"));
    }

    #[test]
    fn endpoint_secret_values_for_payloads_are_masked() {
        let mut e = Endpoint::new("x", "wss://h/ws");
        e.secret_vars
            .push(crate::SecretVar::new("token", "gql-t0ken-99"));
        e.secret_vars.push(crate::SecretVar::new("empty", ""));
        let r = Redactor::for_endpoint(&e);
        assert_eq!(
            r.scrub("4403 Forbidden: bad authToken gql-t0ken-99 (gql-t0ken-99)"),
            "4403 Forbidden: bad authToken •••••• (••••••)"
        );
        // Its base64 copy too, like a header value's.
        assert_eq!(r.scrub("b64 Z3FsLXQwa2VuLTk5 end"), "b64 •••••• end");
    }

    #[test]
    fn clean_bounds_without_leaving_a_cut_secret() {
        let secret = "0123456789abcdef";
        let r = redactor(&[secret]);
        // The secret straddles the bound: it is masked whole before the cut.
        let text = format!("{}{secret}{}", "x".repeat(10), "y".repeat(100));
        let got = r.clean_to(&text, 20);
        assert!(!got.contains("0123"), "{got}");
        assert!(got.ends_with('…'));
        assert!(got.len() <= 20 + '…'.len_utf8());
        // A huge body is bounded.
        let body = "z".repeat(1 << 20);
        assert_eq!(r.clean(&body).len(), MAX_UNTRUSTED_LEN + '…'.len_utf8());
        // A multi-byte character at the bound is not split.
        assert_eq!(bound("ééé", 3), "é…");
    }

    #[test]
    fn a_secret_cut_before_it_was_scrubbed_is_masked_at_the_end() {
        let r = redactor(&["Bearer 0123456789abcdef"]);
        let cases = [
            // Cut inside the credential: the tail that starts it goes.
            ("401: invalid Bearer 0123456", "401: invalid ••••••"),
            // Whole ones are masked as `scrub` does, then a cut one at the end.
            ("0123456789abcdef then 01234567", "•••••• then ••••••"),
            // Shorter than MIN_SECRET_LEN, or not at the end: left alone.
            ("ends with 012", "ends with 012"),
            ("01234 in the middle", "01234 in the middle"),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(r.scrub_truncated(text), expected, "{text:?}");
        }
        assert_eq!(Redactor::default().scrub_truncated("abc"), "abc");
    }

    #[test]
    fn clean_keeps_no_piece_of_a_secret_echoed_several_times() {
        // Masks are shorter than these secrets, so what follows them moves up: a copy cut at
        // the end of a window searched once up front would move into the kept text.
        let secret = "0aaAAaA0aa00a0aA0aa0AaAAaAaAA";
        let r = redactor(&[secret]);
        let text = format!("{}{secret} {secret} {secret} ", "_ ".repeat(10));
        for max in 0..text.len() + 2 {
            let got = r.clean_to(&text, max);
            assert!(!got.contains("0aaA"), "{max}: {got}");
            assert!(got.len() <= max + '…'.len_utf8(), "{max}: {got}");
        }
        assert_eq!(
            r.clean_to(&text, 200),
            format!("{}{MASK} {MASK} {MASK} ", "_ ".repeat(10)),
            "short enough: masked, not cut"
        );
        assert_eq!(r.clean_to("ab", 1), "a…");
        assert_eq!(r.clean_to("é", 1), "…");
        assert_eq!(Redactor::default().clean_to("abc", 2), "ab…");
    }

    #[test]
    fn json_text_keeps_its_meaning_with_no_raw_terminal_control() {
        let text = "{\"r\":\"\u{9b}31m \u{7f} \u{202e}exe ünï\"}";
        let escaped = escape_json_text(text);
        assert_eq!(escaped, "{\"r\":\"\\u009b31m \\u007f \\u202eexe ünï\"}");
        assert!(!escaped.chars().any(is_unsafe_char));
        assert_eq!(escape_json_text("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn escapes_controls_and_bidi_overrides() {
        let cases = [
            ("plain text, ünïcode", "plain text, ünïcode"),
            ("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07"),
            ("\u{1b}[31mred", "\\x1b[31mred"),
            ("line\nforged: ok\r\tz", "line\\nforged: ok\\r\\tz"),
            ("c1\u{9b}31m del\u{7f}", "c1\\u{9b}31m del\\x7f"),
            ("abc\u{202e}cba", "abc\\u{202e}cba"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_controls(input), expected, "{input:?}");
        }
    }
}
