//! Credentials in a URL's query (`wss://h/ws?token=…`, as services that check a token on the
//! handshake expect): which parameters are secret, and moving their values out of the URL and
//! back into it.
//!
//! A parameter is secret when its name (percent-decoded) looks like a credential to
//! [`heartline_core::endpoint::looks_secret`] — the same rule that masks it on screen and that
//! [`heartline_core::Redactor`] scrubs by. Names and values are handled as written (still
//! percent-encoded), so taking a value out and putting it back gives the URL exactly as it was.

use heartline_core::endpoint::looks_secret;

/// Whether the query parameter `name` (as written in a URL) names a credential.
pub fn is_secret_param(name: &str) -> bool {
    looks_secret(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
}

/// The secret parameters of `url` that carry a value, each `(name, value)` as written, in
/// order (a name written twice comes twice).
pub fn query_secrets(url: &str) -> Vec<(String, String)> {
    let parts = Parts::of(url);
    parts
        .pairs()
        .filter_map(|(name, value)| match value {
            Some(v) if !v.is_empty() && is_secret_param(name) => Some((name.into(), v.into())),
            _ => None,
        })
        .collect()
}

/// `url` with the value of every secret parameter taken out (`token=abc` becomes `token=`),
/// and the names of those parameters, once each, in order. A parameter written without `=`
/// has no value to take and is left alone.
pub fn strip_query_secrets(url: &str) -> (String, Vec<String>) {
    let parts = Parts::of(url);
    let mut names: Vec<String> = Vec::new();
    let Some(query) = parts.query else {
        return (url.to_owned(), names);
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
                format!("{name}=")
            }
            _ => pair.to_owned(),
        })
        .collect();
    (parts.join(Some(&pairs)), names)
}

/// `url` with `value` given to every occurrence of the parameter `name` that has no value
/// (`name=` or a bare `name`); `name=value` is appended when the URL does not have the
/// parameter at all. Occurrences that already carry a value are left alone.
///
/// `value` goes in as it is: it must already be what the URL should carry (percent-encoded
/// where needed), as a value written in the URL would be.
pub fn fill_query(url: &str, name: &str, value: &str) -> String {
    let parts = Parts::of(url);
    let mut found = false;
    let mut pairs: Vec<String> = match parts.query {
        Some(query) => query
            .split('&')
            .map(|pair| {
                let (key, current) = match pair.split_once('=') {
                    Some((k, v)) => (k, v),
                    None => (pair, ""),
                };
                if key != name {
                    return pair.to_owned();
                }
                found = true;
                if current.is_empty() {
                    format!("{name}={value}")
                } else {
                    pair.to_owned()
                }
            })
            .collect(),
        None => Vec::new(),
    };
    if !found {
        // `ws://h/?` has one empty pair: replace it rather than writing `?&token=`.
        if pairs.len() == 1 && pairs[0].is_empty() {
            pairs.clear();
        }
        pairs.push(format!("{name}={value}"));
    }
    parts.join(Some(&pairs))
}

/// Why `value` cannot be put in a query as it is (it would end the parameter, start a
/// fragment or break the request line), described without quoting the value.
pub(crate) fn unfit_for_query(value: &str) -> Option<String> {
    value.chars().find_map(|c| match c {
        '&' => Some("`&`, which would end the parameter (write it as %26)".to_owned()),
        '#' => Some("`#`, which would start a fragment (write it as %23)".to_owned()),
        ' ' => Some("a space (write it as %20)".to_owned()),
        c if c.is_whitespace() || c.is_control() => Some(format!(
            "the character U+{:04X}, which cannot stand in a URL",
            c as u32
        )),
        _ => None,
    })
}

/// A URL cut around its query, the way [`heartline_core::endpoint::redact_url`] and the
/// redactor read it: everything before the first `?`, the query, and the `#fragment`.
struct Parts<'a> {
    base: &'a str,
    query: Option<&'a str>,
    /// With its `#`, or empty.
    fragment: &'a str,
}

impl<'a> Parts<'a> {
    fn of(url: &'a str) -> Self {
        let Some((base, rest)) = url.split_once('?') else {
            return Parts {
                base: url,
                query: None,
                fragment: "",
            };
        };
        let (query, fragment) = match rest.find('#') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        Parts {
            base,
            query: Some(query),
            fragment,
        }
    }

    /// `(name, value)` of every non-empty pair; `None` for a name written without `=`.
    fn pairs(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (pair, None),
            })
    }

    fn join(&self, pairs: Option<&[String]>) -> String {
        let mut out = self.base.to_owned();
        if let Some(pairs) = pairs {
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out.push_str(self.fragment);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_come_out_and_go_back_exactly() {
        for url in [
            "wss://h/ws?token=abc.def-ghi&room=1",
            "wss://h/ws?room=1&access_token=q%2Fs%3D&sig=",
            "wss://h/ws?api_key=k1&api_key=k1",
            "ws://h/?token",
            "ws://h/",
            "ws://h/?",
            "ws://h/a?b=c&&d",
        ] {
            let (stripped, names) = strip_query_secrets(url);
            assert!(query_secrets(&stripped).is_empty(), "{url} → {stripped}");
            let mut back = stripped.clone();
            for (name, value) in query_secrets(url) {
                back = fill_query(&back, &name, &value);
            }
            assert_eq!(back, url, "{url} → {stripped} ({names:?})");
        }
        let (stripped, names) = strip_query_secrets("wss://h/ws?room=1&access_token=q%2Fs&sig=");
        assert_eq!(stripped, "wss://h/ws?room=1&access_token=&sig=");
        assert_eq!(names, ["access_token", "sig"]);
    }

    #[test]
    fn names_are_judged_decoded_and_kept_as_written() {
        assert!(is_secret_param("%74oken"));
        assert!(is_secret_param("X-Api-Key"));
        assert!(!is_secret_param("room"));
        assert_eq!(
            query_secrets("ws://h/?%74oken=v&room=r&key="),
            [("%74oken".to_owned(), "v".to_owned())]
        );
    }

    #[test]
    fn fill_appends_a_missing_parameter_and_keeps_given_values() {
        assert_eq!(fill_query("ws://h/", "token", "t"), "ws://h/?token=t");
        assert_eq!(fill_query("ws://h/?", "token", "t"), "ws://h/?token=t");
        assert_eq!(
            fill_query("ws://h/?a=1", "token", "t"),
            "ws://h/?a=1&token=t"
        );
        assert_eq!(
            fill_query("ws://h/?token=old&x=1#f", "token", "t"),
            "ws://h/?token=old&x=1#f"
        );
        assert_eq!(
            fill_query("ws://h/?token&x=1&token=", "token", "t"),
            "ws://h/?token=t&x=1&token=t"
        );
    }

    #[test]
    fn unfit_values_are_described_without_quoting_them() {
        assert_eq!(unfit_for_query("eyJhbGciOi.J9-_=="), None);
        let why = unfit_for_query("se&cret").unwrap();
        assert!(why.contains("%26") && !why.contains("se&cret"), "{why}");
        assert!(unfit_for_query("a#b").unwrap().contains("%23"));
        assert!(unfit_for_query("a b").unwrap().contains("%20"));
        assert!(unfit_for_query("a\nb").unwrap().contains("U+000A"));
    }
}
