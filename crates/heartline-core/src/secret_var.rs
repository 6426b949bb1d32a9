//! Named secret values used inside payloads: a token that must travel in a message (a graphql
//! `connection_init` `{"payload":{"authToken":"…"}}`, a Socket.IO `40{"token":"…"}`, an
//! application heartbeat) is written as a placeholder, `{{secret:NAME}}`, and the endpoint's
//! [`SecretVar`] of that name supplies the value. The configuration, the form and exports only
//! ever hold the placeholder; the value lives where secret header values live and is put in by
//! [`expand`] right before a frame is sent.

use std::borrow::Cow;
use std::fmt;

/// Opens a placeholder: `{{secret:NAME}}`.
pub const PLACEHOLDER_OPEN: &str = "{{secret:";
/// Closes a placeholder.
pub const PLACEHOLDER_CLOSE: &str = "}}";
/// Longest accepted name.
pub const MAX_VAR_NAME: usize = 64;
/// The most secret values one endpoint may have.
pub const MAX_SECRET_VARS: usize = 32;

/// One named secret value. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVar {
    /// Letters, digits, `_` and `-` (see [`check_var_name`]).
    pub name: String,
    /// Empty until the caller fills it from its secret store.
    pub value: String,
}

impl SecretVar {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        SecretVar {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for SecretVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVar")
            .field("name", &self.name)
            .field("value", &crate::untrusted::MASK)
            .finish()
    }
}

/// Why a payload's placeholders cannot be filled. Never contains a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `{{secret:NAME}}` names no secret value of the endpoint.
    #[error("no secret value \"{0}\"")]
    Unknown(String),
    /// `{{secret:` without `}}` after it.
    #[error("`{{{{secret:` has no closing `}}}}`")]
    Unclosed,
    /// The text between `{{secret:` and `}}` is not a name.
    #[error("`{{{{secret:…}}}}` must hold a name: {0}")]
    BadName(String),
}

/// Whether `name` can name a secret value: 1 to [`MAX_VAR_NAME`] ASCII letters, digits, `_`
/// or `-`.
pub fn check_var_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("must not be empty".into())
    } else if name.len() > MAX_VAR_NAME {
        Err(format!("must be at most {MAX_VAR_NAME} characters"))
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Err("may hold only letters, digits, `_` and `-`".into())
    } else {
        Ok(())
    }
}

/// The names `text` refers to, in order (repeats included).
pub fn placeholders(text: &str) -> Result<Vec<&str>, ExpandError> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(PLACEHOLDER_OPEN) {
        let after = &rest[open + PLACEHOLDER_OPEN.len()..];
        let close = after.find(PLACEHOLDER_CLOSE).ok_or(ExpandError::Unclosed)?;
        let name = &after[..close];
        check_var_name(name).map_err(ExpandError::BadName)?;
        names.push(name);
        rest = &after[close + PLACEHOLDER_CLOSE.len()..];
    }
    Ok(names)
}

/// `text` with every `{{secret:NAME}}` replaced by the value of the var named NAME. Values are
/// put in as they are and never read again for placeholders (a value holding `{{` stays as
/// it is). Text without placeholders is returned borrowed.
pub fn expand<'a>(text: &'a str, vars: &[SecretVar]) -> Result<Cow<'a, str>, ExpandError> {
    if !text.contains(PLACEHOLDER_OPEN) {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(PLACEHOLDER_OPEN) {
        out.push_str(&rest[..open]);
        let after = &rest[open + PLACEHOLDER_OPEN.len()..];
        let close = after.find(PLACEHOLDER_CLOSE).ok_or(ExpandError::Unclosed)?;
        let name = &after[..close];
        check_var_name(name).map_err(ExpandError::BadName)?;
        let var = vars
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| ExpandError::Unknown(name.to_owned()))?;
        out.push_str(&var.value);
        rest = &after[close + PLACEHOLDER_CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<SecretVar> {
        vec![
            SecretVar::new("token", "t0k-secret"),
            SecretVar::new("user_id", "u-42"),
            SecretVar::new("tricky", "{{secret:token}} }}"),
        ]
    }

    #[test]
    fn several_placeholders_are_filled() {
        let text = r#"{"type":"connection_init","payload":{"authToken":"{{secret:token}}","user":"{{secret:user_id}}","again":"{{secret:token}}"}}"#;
        assert_eq!(
            expand(text, &vars()).unwrap(),
            r#"{"type":"connection_init","payload":{"authToken":"t0k-secret","user":"u-42","again":"t0k-secret"}}"#
        );
        assert_eq!(placeholders(text).unwrap(), ["token", "user_id", "token"]);
        // At the very start and end, back to back.
        assert_eq!(
            expand("{{secret:token}}{{secret:user_id}}", &vars()).unwrap(),
            "t0k-secretu-42"
        );
    }

    #[test]
    fn no_placeholder_is_borrowed() {
        let text = r#"40{"room":"a"} {{not a secret}} {{secret"#;
        let got = expand(text, &vars()).unwrap();
        assert!(matches!(got, Cow::Borrowed(_)));
        assert_eq!(got, text);
        assert_eq!(placeholders(text).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn a_value_holding_braces_is_put_in_as_it_is() {
        assert_eq!(
            expand("x={{secret:tricky}}", &vars()).unwrap(),
            "x={{secret:token}} }}"
        );
    }

    #[test]
    fn unknown_names_and_bad_placeholders_are_errors_without_values() {
        let err = expand("{{secret:token}} {{secret:nope}}", &vars()).unwrap_err();
        assert_eq!(err, ExpandError::Unknown("nope".into()));
        assert_eq!(err.to_string(), "no secret value \"nope\"");
        assert_eq!(
            expand("a {{secret:token", &vars()).unwrap_err().to_string(),
            "`{{secret:` has no closing `}}`"
        );
        let err = expand("{{secret:}}", &vars()).unwrap_err();
        assert!(matches!(err, ExpandError::BadName(_)), "{err}");
        let err = placeholders("{{secret:a b}}").unwrap_err();
        assert!(err.to_string().contains("only letters"), "{err}");
        for e in [
            expand("{{secret:token}} {{secret:nope}}", &vars()).unwrap_err(),
            expand("{{secret:token}} {{secret:", &vars()).unwrap_err(),
        ] {
            assert!(!e.to_string().contains("t0k-secret"), "{e}");
        }
    }

    #[test]
    fn names_are_checked_and_values_never_debug_printed() {
        assert!(check_var_name("api-key_2").is_ok());
        assert!(check_var_name("").is_err());
        assert!(check_var_name("a.b").is_err());
        assert!(check_var_name(&"x".repeat(MAX_VAR_NAME + 1)).is_err());
        let shown = format!("{:?}", SecretVar::new("token", "t0k-secret"));
        assert!(
            shown.contains("token") && !shown.contains("t0k-secret"),
            "{shown}"
        );
    }
}
