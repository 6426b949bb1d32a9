//! Property tests for what users and servers feed the core: durations, header lines, reply
//! rules, and the scrubber and escaper that stand between server text and everything else.
//! Case counts stay modest so the whole file runs in a few seconds.

use std::time::Duration;

use heartline_core::untrusted::{bound, escape_controls, is_unsafe_char, MASK, MIN_SECRET_LEN};
use heartline_core::{format_duration, parse_duration, Header, Redactor, ReplyMatch};
use proptest::prelude::*;
use serde_json::{json, Value};

/// 256 cases keep `make test` fast; `PROPTEST_CASES=10000` digs deeper by hand.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// Durations.

/// Strings shaped like durations, with the mistakes people make: missing or unknown units,
/// spaces, numbers too large for any unit.
fn duration_like() -> impl Strategy<Value = String> {
    "( ?[0-9]{0,22} ?(ms|s|m|min|h|d|w|us|S|)){0,4} ?"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_duration_never_panics(text in any::<String>(), shaped in duration_like()) {
        let _ = parse_duration(&text);
        let _ = parse_duration(&shaped);
    }

    /// Every whole number of milliseconds a u64 holds survives formatting and parsing back.
    #[test]
    fn whole_milliseconds_round_trip(ms in any::<u64>()) {
        let d = Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    #[test]
    fn round_number_units_round_trip(n in 0u64..1_000_000, unit in 0usize..5) {
        let ms = n * [1, 1000, 60_000, 3_600_000, 86_400_000][unit];
        let d = Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }

    /// What parses formats back to the same duration, wherever the format is defined (the
    /// total fits a u64 of milliseconds).
    #[test]
    fn parsed_durations_reformat_to_themselves(shaped in duration_like()) {
        if let Ok(d) = parse_duration(&shaped) {
            if u64::try_from(d.as_millis()).is_ok() {
                prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{:?}", shaped);
            }
        }
    }
}

// Header lines.

/// Names that look like credentials (so the header is secret), in mixed case, sometimes
/// illegal (a space inside) or reserved.
fn secret_name() -> impl Strategy<Value = String> {
    (
        "(X-|Proxy-|)",
        prop::sample::select(vec![
            "Authorization",
            "Cookie",
            "Api-Key",
            "Token",
            "Secret",
            "Password",
            "Auth",
            "Session",
            "Signature",
            "Sig",
        ]),
        "(|-Id|-V2| Bad|\\(x\\))",
        any::<bool>(),
    )
        .prop_map(|(prefix, word, suffix, upper)| {
            let name = format!("{prefix}{word}{suffix}");
            if upper {
                name.to_ascii_uppercase()
            } else {
                name
            }
        })
}

/// Credential-like values: long enough to be distinctive, sometimes with a control
/// character or far too long.
fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9+/=._~-]{6,48}",
        1 => "[A-Za-z0-9]{6,12}[\\x00-\\x08\\x0b\\x7f][A-Za-z0-9]{0,6}",
        1 => "[a-z]{8}".prop_map(|s| s.repeat(1100)),
        1 => "(Bearer|Basic|Token) [A-Za-z0-9+/=._~-]{6,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn header_lines_never_panic(line in any::<String>(), shaped in "[ -~\\t]{0,60}") {
        let _ = Header::parse_line(&line);
        let _ = Header::parse_line(&shaped);
    }

    /// Whatever is wrong with `Name: value`, the message never quotes the value of a header
    /// whose name looks like a credential.
    #[test]
    fn header_errors_never_quote_a_secret_value(
        name in secret_name(),
        value in secret_value(),
        sep in prop::sample::select(vec![": ", ":", " : ", ":\t"]),
    ) {
        prop_assume!(!name.contains(value.trim()));
        if let Err(message) = Header::parse_line(&format!("{name}{sep}{value}")) {
            prop_assert!(!message.contains(value.trim()), "{}", message);
        }
    }

    /// The same for a line typed without its colon (`Authorization Bearer …`,
    /// `X-Api-Key=…`): it cannot be a header, and the error must not quote what follows
    /// the name.
    #[test]
    fn lines_without_a_colon_never_quote_the_value(
        name in "(X-|)(Authorization|Api-Key|Token|Cookie)",
        value in "[A-Za-z0-9+/=._~ -]{3,60}[A-Za-z0-9]",
        sep in prop::sample::select(vec![" ", "=", "\t", "  "]),
    ) {
        let value = value.replace(':', "");
        prop_assume!(value.trim().len() >= MIN_SECRET_LEN);
        let message = Header::parse_line(&format!("{name}{sep}{value}")).unwrap_err();
        prop_assert!(message.contains("Name: value"), "{}", message);
        prop_assert!(!message.contains(value.trim()), "{}", message);
    }
}

// Reply rules.

/// JSON values a server might send, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z.]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn reply_rule() -> impl Strategy<Value = ReplyMatch> {
    prop_oneof![
        any::<String>().prop_map(ReplyMatch::Contains),
        any::<String>().prop_map(ReplyMatch::Regex),
        "[\\[\\](){}.*+?|^$\\\\a-c0-9,]{0,24}".prop_map(ReplyMatch::Regex),
        (any::<String>(), any::<String>())
            .prop_map(|(path, equals)| ReplyMatch::JsonField { path, equals }),
        ("[a-z]{1,3}(\\.[a-z]{1,3}){0,3}", "\\PC{0,8}")
            .prop_map(|(path, equals)| ReplyMatch::JsonField { path, equals }),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any rule either compiles or is refused with a reason, the same way `check` says; a
    /// compiled rule answers any message, JSON or not, without panicking.
    #[test]
    fn reply_rules_never_panic(
        rule in reply_rule(),
        text in any::<String>(),
        value in json_value(),
    ) {
        let compiled = rule.compile();
        prop_assert_eq!(compiled.is_ok(), rule.check().is_ok());
        match compiled {
            Ok(matcher) => {
                let _ = matcher.matches(&text);
                let _ = matcher.matches(&value.to_string());
            }
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    /// A JSON field rule matches a message whose field at its path holds the expected
    /// string, wherever that field sits among others.
    #[test]
    fn json_field_rules_find_their_field(
        path in prop::collection::vec("[a-z]{1,4}", 1..4),
        expected in "\\PC{1,10}",
        noise in json_value(),
    ) {
        let mut message = json!(expected);
        for key in path.iter().rev() {
            message = json!({ "noise": noise.clone(), key.as_str(): message });
        }
        let rule = ReplyMatch::JsonField { path: path.join("."), equals: expected.clone() };
        prop_assert!(rule.compile().unwrap().matches(&message.to_string()), "{}", message);
    }
}

// The scrubber and the escaper.

/// Secrets of at least [`MIN_SECRET_LEN`] characters with no surrounding whitespace. They
/// never contain the mask's own character: a secret made of bullets could be re-formed by
/// the mask next to the text around it, and no header value can hold one.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9+/=._~-]{4,40}",
        "[^\\s•][^•]{2,30}[^\\s•]",
        "(Bearer|Basic|Token) [A-Za-z0-9+/=._~-]{4,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scrubbed_text_never_contains_the_secret(
        secret in secret(),
        before in any::<String>(),
        after in any::<String>(),
        twice in any::<bool>(),
    ) {
        let r = Redactor::from_secrets([secret.as_str()]);
        let text = if twice {
            format!("{before}{secret}{after}{secret}")
        } else {
            format!("{before}{secret}{after}")
        };
        let scrubbed = r.scrub(&text);
        prop_assert!(!scrubbed.contains(secret.as_str()), "{:?}", scrubbed);
        prop_assert!(scrubbed.contains(MASK));
    }

    /// The bound holds for any text and any limit, and no secret survives it whole.
    #[test]
    fn cleaned_text_is_bounded_and_scrubbed(
        secret in secret(),
        text in any::<String>(),
        at in any::<prop::sample::Index>(),
        max in 0usize..200,
    ) {
        let r = Redactor::from_secrets([secret.as_str()]);
        let cut = at.index(text.chars().count() + 1);
        let (head, tail): (String, String) = {
            let chars: Vec<char> = text.chars().collect();
            (chars[..cut].iter().collect(), chars[cut..].iter().collect())
        };
        let text = format!("{head}{secret}{tail}");
        let cleaned = r.clean_to(&text, max);
        prop_assert!(cleaned.len() <= max + '…'.len_utf8(), "{} > {}", cleaned.len(), max);
        prop_assert!(!cleaned.contains(secret.as_str()), "{:?}", cleaned);
        prop_assert!(r.clean(&text).len() <= heartline_core::untrusted::MAX_UNTRUSTED_LEN + 3);
    }

    /// No prefix of a secret is left at the end of a bounded text either: a server that
    /// echoes a token several times must not have the cut fall inside one that is kept.
    #[test]
    fn cleaned_text_keeps_no_piece_of_a_secret(
        secret in "[A-Za-z0-9]{20,60}",
        gap in "[ :,]{0,3}",
        copies in 2usize..6,
        lead in "[_ ]{0,30}",
        max in 1usize..300,
    ) {
        let r = Redactor::from_secrets([secret.as_str()]);
        let mut text = lead;
        for _ in 0..copies {
            text.push_str(&secret);
            text.push_str(&gap);
        }
        let cleaned = r.clean_to(&text, max);
        let piece = &secret[..MIN_SECRET_LEN];
        prop_assert!(!cleaned.contains(piece), "{:?} keeps {:?}", cleaned, piece);
    }

    #[test]
    fn bound_is_a_prefix_within_the_limit(text in any::<String>(), max in 0usize..64) {
        let b = bound(&text, max);
        prop_assert!(b.len() <= max + '…'.len_utf8());
        let kept = b.strip_suffix('…').filter(|_| text.len() > max).unwrap_or(&b);
        prop_assert!(text.starts_with(kept));
    }

    #[test]
    fn escaped_text_has_no_unsafe_character(text in any::<String>()) {
        let escaped = escape_controls(&text);
        prop_assert!(!escaped.chars().any(is_unsafe_char), "{:?}", escaped);
        // Nothing safe is touched.
        if !text.chars().any(is_unsafe_char) {
            prop_assert_eq!(escaped.as_ref(), text.as_str());
        }
    }

    #[test]
    fn escaping_keeps_every_safe_character_in_order(text in "(\\PC|[\\x00-\\x1f\\x7f-\\x9f\\u{202a}-\\u{202e}]){0,40}") {
        let escaped = escape_controls(&text);
        let safe: String = text.chars().filter(|c| !is_unsafe_char(*c)).collect();
        let mut rest = escaped.as_ref();
        for c in safe.chars() {
            let at = rest.find(c);
            prop_assert!(at.is_some(), "{:?} lost {:?}", escaped, c);
            rest = &rest[at.unwrap_or(0) + c.len_utf8()..];
        }
    }
}
