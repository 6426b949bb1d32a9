//! Property tests for the endpoint file: whatever text arrives — arbitrary, or a valid file
//! with a slip of the hand in it — reading it never panics, and every error points at a
//! line or a key the user can find.

use heartline_config::{parse_json, parse_toml, EndpointSpec, Error};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../heartline.example.toml");

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

fn no_env(_: &str) -> Option<String> {
    None
}

/// The example file in its JSON form (the same tree).
fn example_json() -> String {
    parse_toml(EXAMPLE, "heartline.example.toml")
        .expect("the example file is valid")
        .to_json()
}

/// Checks that an error locates itself: a syntax error by a line and column inside the
/// text, every other problem by a line or a key.
fn assert_located(err: &Error, text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count() + 1;
    match err {
        Error::Syntax { line, column, .. } => {
            prop_assert!(
                *line >= 1 && *line <= lines,
                "line {} of {}: {}",
                line,
                lines,
                err
            );
            prop_assert!(*column >= 1, "{}", err);
        }
        Error::Invalid(problems) => {
            prop_assert!(!problems.is_empty());
            for p in problems {
                prop_assert!(
                    p.line.is_some() || !p.field.is_empty(),
                    "neither line nor key: {:?}",
                    p
                );
                if let Some(line) = p.line {
                    prop_assert!(
                        line >= 1 && line <= lines,
                        "line {} of {}: {}",
                        line,
                        lines,
                        p
                    );
                }
                prop_assert!(!p.message.is_empty(), "{:?}", p);
            }
        }
        Error::Read { .. } => prop_assert!(false, "no file was read: {}", err),
    }
    Ok(())
}

/// Reads `text` both ways and, when it parses, resolves it; checks every error found.
fn check(text: &str) -> Result<(), TestCaseError> {
    for parsed in [
        parse_toml(text, "heartline.toml"),
        parse_json(text, "heartline.json"),
    ] {
        match parsed {
            Err(err) => assert_located(&err, text)?,
            Ok(file) => {
                if let Err(err) = file.resolve(&no_env) {
                    assert_located(&err, text)?;
                }
                // What was read writes back out without panicking.
                let _ = file.to_toml();
                let _ = file.to_json();
            }
        }
    }
    if let Err(err) = EndpointSpec::from_json(text) {
        // A store row has no file name; its errors still name a line or a key.
        assert_located(&err, text)?;
    }
    Ok(())
}

/// One slip of the hand, applied to the text as characters (never inside one).
#[derive(Debug, Clone)]
enum Slip {
    Delete {
        at: prop::sample::Index,
        len: usize,
    },
    Insert {
        at: prop::sample::Index,
        text: String,
    },
    Replace {
        at: prop::sample::Index,
        len: usize,
        text: String,
    },
    DuplicateLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    Truncate(prop::sample::Index),
}

/// What hands insert: the format's own punctuation, quotes, newlines, or anything at all.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"",
            "'",
            "[",
            "]",
            "[[",
            "]]",
            "{",
            "}",
            "=",
            ",",
            ":",
            "#",
            "\n",
            "\\",
            "'''",
            "\"\"\"",
            "0",
            "-1",
            "1e400",
            "true",
            "null",
            "[endpoint]",
            "[[endpoint]]",
            "name = \"x\"",
            "url = 1",
            "\u{0}",
            "\u{feff}",
            "é",
            "🦀",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn slip() -> impl Strategy<Value = Slip> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1usize..40).prop_map(|(at, len)| Slip::Delete { at, len }),
        (any::<prop::sample::Index>(), fragment()).prop_map(|(at, text)| Slip::Insert { at, text }),
        (any::<prop::sample::Index>(), 1usize..10, fragment())
            .prop_map(|(at, len, text)| Slip::Replace { at, len, text }),
        any::<prop::sample::Index>().prop_map(Slip::DuplicateLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Slip::SwapLines(a, b)),
        any::<prop::sample::Index>().prop_map(Slip::Truncate),
    ]
}

fn apply(text: &str, slip: &Slip) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |i: &prop::sample::Index, len: usize| i.index(len + 1);
    match slip {
        Slip::Delete { at: i, len } => {
            let start = at(i, chars.len());
            let end = (start + len).min(chars.len());
            chars.drain(start..end);
        }
        Slip::Insert { at: i, text } => {
            let start = at(i, chars.len());
            chars.splice(start..start, text.chars());
        }
        Slip::Replace { at: i, len, text } => {
            let start = at(i, chars.len());
            let end = (start + len).min(chars.len());
            chars.splice(start..end, text.chars());
        }
        Slip::DuplicateLine(i) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let k = i.index(lines.len());
            lines.insert(k, lines[k]);
            return lines.join("\n");
        }
        Slip::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            return lines.join("\n");
        }
        Slip::Truncate(i) => chars.truncate(at(i, chars.len())),
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn text_shaped_like_a_config_never_panics(
        text in "(\\[\\[?(endpoint|defaults)(\\.reconnect)?\\]\\]?\\n|[a-z_]{1,12} = (\"[^\"\\n]{0,10}\"|[0-9.e-]{1,5}|true|\\[\\]|\\{\\})\\n|\\{|\\}|\\[|\\]|,|\"[a-z]{0,6}\": ?){0,24}",
    ) {
        check(&text)?;
    }

    #[test]
    fn a_valid_toml_file_with_slips_never_panics(slips in prop::collection::vec(slip(), 1..4)) {
        let mut text = EXAMPLE.to_owned();
        for s in &slips {
            text = apply(&text, s);
        }
        check(&text)?;
    }

    #[test]
    fn a_valid_json_file_with_slips_never_panics(slips in prop::collection::vec(slip(), 1..4)) {
        let mut text = example_json();
        for s in &slips {
            text = apply(&text, s);
        }
        check(&text)?;
    }
}

#[test]
fn the_unchanged_files_read_cleanly() {
    // The mutations above start from files that are valid: a failure there is a slip's doing.
    let env = |_: &str| Some("s3cret-from-env".to_owned());
    parse_toml(EXAMPLE, "heartline.example.toml")
        .unwrap()
        .resolve(&env)
        .unwrap();
    parse_json(&example_json(), "heartline.json")
        .unwrap()
        .resolve(&env)
        .unwrap();
}

#[test]
fn a_json_top_level_that_is_not_an_object_is_located() {
    let err = parse_json("\n  [1, 2]\n", "heartline.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        "heartline.json:2: the top level must be an object with the keys `defaults` and `endpoint`"
    );
}

#[test]
fn json_syntax_errors_count_columns_from_one() {
    // serde_json says column 0 for an end of input right after a newline.
    let Error::Syntax { line, column, .. } =
        parse_json("{\"endpoint\": [\n", "heartline.json").unwrap_err()
    else {
        panic!("a syntax error");
    };
    assert_eq!((line, column), (2, 1));
}
