//! Reading TOML and JSON text into the spec types while remembering where every key was, so
//! that problems found at any stage name a line, an endpoint and a key.
//!
//! Each section (`[defaults]`, every `[[endpoint]]`) is deserialized on its own, so one
//! broken endpoint does not hide the problems of the others.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{Error, Problem, Result};
use crate::spec::{Defaults, EndpointSpec};

/// One step of a key path: a table key or an array position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where the keys of a parsed document are, by path; empty for a file built in code.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Source {
    pub origin: String,
    lines: HashMap<Vec<Seg>, usize>,
}

/// What a successful read yields besides the values: the source locations.
pub(crate) struct Read {
    pub defaults: Defaults,
    pub endpoints: Vec<EndpointSpec>,
    pub source: Source,
}

impl Source {
    /// The line of `path`, or of its nearest enclosing table that was written out.
    pub fn line(&self, path: &[Seg]) -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.lines.get(&path[..n]).copied())
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("origin", &self.origin)
            .field("keys", &self.lines.len())
            .finish()
    }
}

/// A path for display: `reconnect.cap`, `on_connect[0]`, `headers."X.Odd"`.
pub(crate) fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                }
            }
        }
    }
    out
}

pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

/// Splits an absolute path into the endpoint it lies in (if any) and the rest.
pub(crate) fn split_endpoint(path: &[Seg]) -> Option<(usize, &[Seg])> {
    match path {
        [Seg::Key(k), Seg::Index(i), rest @ ..] if k == "endpoint" => Some((*i, rest)),
        _ => None,
    }
}

/// Reads a TOML document section by section.
pub(crate) fn read_toml(text: &str, origin: &str) -> Result<Read> {
    let root = DeTable::parse(text).map_err(|e| {
        let (line, column) = Lines::new(text).position(e.span().map_or(0, |s| s.start));
        Error::Syntax {
            origin: origin.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let mut doc = Document::new(text, origin);
    for (k, v) in root.get_ref().iter() {
        doc.walk_toml(&mut vec![key(k.get_ref())], k.span(), v);
    }

    let mut read = Read {
        defaults: Defaults::default(),
        endpoints: Vec::new(),
        source: Source::default(),
    };
    let mut problems = Vec::new();
    for (k, v) in root.get_ref().iter() {
        let name = k.get_ref().as_ref();
        let path = vec![key(name)];
        match name {
            "defaults" => match Defaults::deserialize(ValueDeserializer::from(v.clone())) {
                Ok(d) => read.defaults = d,
                Err(e) => problems.push(doc.deserialize_problem(&path, e.span(), e.message())),
            },
            "endpoint" => match v.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let at = vec![key("endpoint"), Seg::Index(i)];
                        match EndpointSpec::deserialize(ValueDeserializer::from(item.clone())) {
                            Ok(spec) => read.endpoints.push(spec),
                            Err(e) => {
                                problems.push(doc.deserialize_problem(&at, e.span(), e.message()))
                            }
                        }
                    }
                }
                _ => problems.push(doc.problem(
                    &path,
                    "write each endpoint as an [[endpoint]] table (double brackets)".into(),
                )),
            },
            _ => problems.push(doc.problem(&path, unknown_key(name, &["defaults", "endpoint"]))),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    read.source = doc.into_source();
    Ok(read)
}

/// Reads a JSON document (the same tree as TOML) section by section.
pub(crate) fn read_json(text: &str, origin: &str) -> Result<Read> {
    let (doc, top) = scan_json(text, origin)?;
    let mut read = Read {
        defaults: Defaults::default(),
        endpoints: Vec::new(),
        source: Source::default(),
    };
    if !text[top.clone()].starts_with('{') {
        // No key to name: point at the line where the top-level value starts.
        return Err(Error::Invalid(vec![doc.problem_with_line(
            &[],
            Some(doc.lines.position(top.start).0),
            "the top level must be an object with the keys `defaults` and `endpoint`".into(),
        )]));
    }
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for entry in doc.entries.iter().filter(|e| e.path.len() == 1) {
        let Some(Seg::Key(name)) = entry.path.first() else {
            continue;
        };
        if seen.contains(&name) {
            // JSON allows repeated keys; TOML does not, and neither does this format.
            problems.push(doc.problem_with_line(
                &entry.path,
                Some(doc.lines.position(entry.key.start).0),
                "appears twice; give each key once".into(),
            ));
            continue;
        }
        seen.push(name);
        match name.as_str() {
            "defaults" => match doc.json_section::<Defaults>(entry.value.clone(), &entry.path) {
                Ok(d) => read.defaults = d,
                Err(p) => problems.push(p),
            },
            "endpoint" if text[entry.value.clone()].starts_with('[') => {
                let items = doc
                    .entries
                    .iter()
                    .filter(|e| e.path.len() == 2 && e.path[0] == entry.path[0]);
                for item in items {
                    match doc.json_section::<EndpointSpec>(item.value.clone(), &item.path) {
                        Ok(spec) => read.endpoints.push(spec),
                        Err(p) => problems.push(p),
                    }
                }
            }
            "endpoint" => problems
                .push(doc.problem(&entry.path, "must be an array of endpoint objects".into())),
            _ => problems
                .push(doc.problem(&entry.path, unknown_key(name, &["defaults", "endpoint"]))),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    read.source = doc.into_source();
    Ok(read)
}

/// Reads one endpoint stored as a JSON object (a row of the store).
pub(crate) fn read_json_endpoint(text: &str) -> Result<EndpointSpec> {
    let (doc, top) = scan_json(text, "")?;
    doc.json_section::<EndpointSpec>(top, &[])
        .map_err(|p| Error::Invalid(vec![p]))
}

/// A key's path with the spans of the key and of its value.
struct Located {
    path: Vec<Seg>,
    key: Range<usize>,
    value: Range<usize>,
}

/// A parsed text with every key located, used to attribute errors to keys.
struct Document<'t> {
    text: &'t str,
    origin: &'t str,
    lines: Lines<'t>,
    entries: Vec<Located>,
    /// Endpoint names as written, to name an endpoint whose table failed to deserialize.
    names: HashMap<usize, String>,
}

impl<'t> Document<'t> {
    fn new(text: &'t str, origin: &'t str) -> Self {
        Document {
            text,
            origin,
            lines: Lines::new(text),
            entries: Vec::new(),
            names: HashMap::new(),
        }
    }

    fn walk_toml(
        &mut self,
        path: &mut Vec<Seg>,
        key: Range<usize>,
        value: &toml::Spanned<DeValue<'_>>,
    ) {
        self.entries.push(Located {
            path: path.clone(),
            key,
            value: value.span(),
        });
        match value.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    path.push(Seg::Key(k.get_ref().to_string()));
                    self.walk_toml(path, k.span(), v);
                    path.pop();
                }
            }
            DeValue::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.walk_toml(path, v.span(), v);
                    path.pop();
                }
            }
            DeValue::String(s) => {
                if let Some((i, [Seg::Key(k)])) = split_endpoint(path) {
                    if k == "name" {
                        self.names.insert(i, s.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// The deepest key whose key or value span holds `offset`.
    fn innermost(&self, offset: usize) -> Option<&Located> {
        let holds = |r: &Range<usize>| offset >= r.start && offset < r.end.max(r.start + 1);
        self.entries
            .iter()
            .filter(|e| holds(&e.key) || holds(&e.value))
            .max_by_key(|e| e.path.len())
    }

    /// A problem at `path` (absolute), with the line of its key when written.
    fn problem(&self, path: &[Seg], message: String) -> Problem {
        let line = self
            .entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| self.lines.position(e.key.start).0);
        self.problem_with_line(path, line, message)
    }

    fn problem_with_line(&self, path: &[Seg], line: Option<usize>, message: String) -> Problem {
        let (endpoint, field) = match split_endpoint(path) {
            Some((i, rest)) => (
                Some((i, self.names.get(&i).cloned().unwrap_or_default())),
                display_path(rest),
            ),
            None => (None, display_path(path)),
        };
        Problem {
            origin: self.origin.to_owned(),
            line,
            endpoint,
            field,
            message,
        }
    }

    /// Turns a serde error inside the section at `base` into a problem at the key it names.
    fn deserialize_problem(&self, base: &[Seg], span: Option<Range<usize>>, raw: &str) -> Problem {
        let offset = span.map(|s| s.start);
        let mut path = offset
            .and_then(|o| self.innermost(o))
            .map(|e| e.path.clone())
            .filter(|p| p.starts_with(base))
            .unwrap_or_else(|| base.to_vec());
        let line = offset.map(|o| self.lines.position(o).0);
        let message = polish(raw.trim(), &mut path);
        self.problem_with_line(&path, line, message)
    }

    /// Deserializes the JSON value at `span` on its own (a section of the file).
    fn json_section<T: DeserializeOwned>(
        &self,
        span: Range<usize>,
        base: &[Seg],
    ) -> std::result::Result<T, Problem> {
        let part = &self.text[span.clone()];
        serde_json::from_str::<T>(part).map_err(|e| {
            // serde_json reports the position just after what it was reading.
            let offset = (e.line() > 0).then(|| {
                let inner = Lines::new(part).offset(e.line(), e.column());
                span.start + inner.saturating_sub(1)
            });
            self.deserialize_problem(base, offset.map(|o| o..o + 1), &json_message(&e))
        })
    }

    fn into_source(self) -> Source {
        let mut lines = HashMap::new();
        for e in &self.entries {
            lines
                .entry(e.path.clone())
                .or_insert_with(|| self.lines.position(e.key.start).0);
        }
        Source {
            origin: self.origin.to_owned(),
            lines,
        }
    }
}

/// Rewrites serde's messages in the file's words; adds the key an error is about to `path`.
///
/// Type errors drop the offending value: it might be a secret in the wrong place.
fn polish(raw: &str, path: &mut Vec<Seg>) -> String {
    if let Some(rest) = raw.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        let name = name.trim_matches('`');
        if path.last() != Some(&Seg::Key(name.to_owned())) {
            path.push(key(name));
        }
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return unknown_key(name, &expected);
    }
    if let Some(rest) = raw.strip_prefix("missing field ") {
        path.push(key(rest.trim_matches('`')));
        return "is required".into();
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, "?"));
            let found = found.split([' ', '`', '"']).next().unwrap_or(found);
            let found = match found {
                "map" => "a table",
                "sequence" => "an array",
                "string" => "a string",
                "integer" => "an integer",
                "floating" => "a decimal number",
                "boolean" => "a boolean",
                other => other,
            };
            return format!("must be {} (found {found})", expected_words(expected));
        }
    }
    raw.to_owned()
}

fn expected_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "an array".into(),
        "a boolean" | "a string" => expected.into(),
        e if e.starts_with("struct ") => "a table".into(),
        e => e.into(),
    }
}

/// "unknown key", with the likely intended key or the accepted ones.
pub(crate) fn unknown_key(name: &str, expected: &[&str]) -> String {
    let close = expected
        .iter()
        .map(|e| (edit_distance(name, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min();
    match close {
        Some((_, e)) => format!("unknown key; did you mean `{e}`?"),
        None if expected.is_empty() => "unknown key".into(),
        None if expected.len() <= 6 => format!(
            "unknown key; expected {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "unknown key (heartline.example.toml lists every key)".into(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// serde_json's message without its " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Checks JSON syntax, then locates every key. Returns the document and the top value's span.
fn scan_json<'t>(text: &'t str, origin: &'t str) -> Result<(Document<'t>, Range<usize>)> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(Error::Syntax {
            origin: origin.to_owned(),
            // serde_json counts from 1 but says column 0 at the start of a line (an end of
            // input after a newline); columns here count from 1 like TOML's.
            line: e.line().max(1),
            column: e.column().max(1),
            message: json_message(&e),
        });
    }
    let mut doc = Document::new(text, origin);
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.ws();
    let top = scanner
        .value(&mut doc, &mut Vec::new())
        .unwrap_or(0..text.len());
    Ok((doc, top))
}

/// A minimal JSON walker over text serde_json already accepted, recording key spans.
struct Scanner<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.bytes.get(self.pos) == Some(&b)).then(|| self.pos += 1)
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.pos).copied()
    }

    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        self.eat(b'"')?;
        loop {
            match self.bytes.get(self.pos)? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Some(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
    }

    fn value(&mut self, doc: &mut Document<'_>, path: &mut Vec<Seg>) -> Option<Range<usize>> {
        self.ws();
        let start = self.pos;
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                if self.eat(b'}').is_none() {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        let name: String = serde_json::from_str(&doc.text[k.clone()]).ok()?;
                        self.eat(b':')?;
                        path.push(Seg::Key(name));
                        let v = self.value(doc, path)?;
                        self.record(doc, path, k, v);
                        path.pop();
                        if self.eat(b',').is_none() {
                            self.eat(b'}')?;
                            break;
                        }
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                if self.eat(b']').is_none() {
                    for i in 0.. {
                        path.push(Seg::Index(i));
                        self.ws();
                        let v = self.value(doc, path)?;
                        self.record(doc, path, v.clone(), v);
                        path.pop();
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| !b",]} \t\r\n".contains(b))
                {
                    self.pos += 1;
                }
            }
        }
        Some(start..self.pos)
    }

    fn record(&self, doc: &mut Document<'_>, path: &[Seg], key: Range<usize>, value: Range<usize>) {
        if let Some((i, [Seg::Key(k)])) = split_endpoint(path) {
            if k == "name" {
                if let Ok(name) = serde_json::from_str::<String>(&doc.text[value.clone()]) {
                    doc.names.insert(i, name);
                }
            }
        }
        doc.entries.push(Located {
            path: path.to_vec(),
            key,
            value,
        });
    }
}

/// Byte offsets of line starts, for turning offsets into 1-based lines and columns.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }

    /// Byte offset of a 1-based line and byte column (serde_json's counting).
    fn offset(&self, line: usize, column: usize) -> usize {
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        (start + column).min(self.text.len())
    }
}
