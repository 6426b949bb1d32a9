//! The human-edited endpoint file (`heartline.toml`, or the same tree as JSON) and its exact
//! mapping to and from [`heartline_core::Endpoint`].
//!
//! Reading is two steps so each can report everything it finds at once:
//! [`parse_toml`] / [`parse_json`] check syntax, keys and value types;
//! [`ConfigFile::resolve`] applies `[defaults]`, reads secrets and runs the core validation.
//! Every problem names the file, line, endpoint and key as the user wrote them.
//!
//! Secrets: `secret_headers` values, `secret_query` values (credentials a service expects
//! in the URL, `?token=…`) and `secret_vars` values (credentials inside payloads, used as
//! `{{secret:NAME}}`) are never written out by [`ConfigFile::from_endpoints`] (they
//! become `{ stored = true }`, the URL keeping the parameter with an empty value), never
//! appear in error or warning messages and are masked in `Debug` output. A credential written
//! in the URL itself, or as a literal in `secret_query` or `secret_vars`, still works but
//! comes with a warning
//! ([`Resolved::warnings`]) that names the endpoint and parameter, never the value.

mod error;
mod query;
mod resolve;
mod source;
mod spec;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::{Error, Problem, Result};
pub use query::{fill_query, is_secret_param, query_secrets, strip_query_secrets};
pub use spec::{
    AppHeartbeatSpec, ByteSize, Defaults, EndpointSpec, ExpectSpec, HumanDuration, MaxAttempts,
    ReconnectSpec, SecretValue, StepSpec,
};

use resolve::{scrub, SetIn};
use source::{display_path, key, Seg, Source};

/// A whole configuration file: `[defaults]` and the `[[endpoint]]` tables, in file order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    #[serde(default, rename = "endpoint", skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointSpec>,
    /// Where each key was read from, so problems found later still name their line.
    #[serde(skip)]
    source: Source,
}

/// One endpoint ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Secret header, query and `secret_vars` values are filled for literal and `{ env = … }`
    /// secrets (a `{ stored = true }` secret value is there with an empty value); a
    /// `{ stored = true }` header has an empty value, and a `{ stored = true }` query
    /// parameter is in the URL with an empty value (`token=`), until the caller fills it.
    pub endpoint: heartline_core::Endpoint,
    /// Names of the headers whose value the caller must fill from its secret store.
    pub stored_secrets: Vec<String>,
    /// Names of the query parameters whose value the caller must fill from its secret store
    /// (with [`fill_query`]).
    pub stored_query: Vec<String>,
    /// Names of the secret values (`secret_vars`) the caller must fill from its secret store
    /// (they are in `endpoint.secret_vars` with an empty value).
    pub stored_vars: Vec<String>,
    /// What works but should change: a credential written in the URL or as a literal in
    /// `secret_query`. Each names the key (and, read from a file, the file, line and
    /// endpoint), never the value. Callers show them (the CLI on standard error).
    pub warnings: Vec<Problem>,
}

/// Reads a TOML configuration. `origin` (usually the file name) prefixes every message.
pub fn parse_toml(text: &str, origin: &str) -> Result<ConfigFile> {
    source::read_toml(text, origin).map(ConfigFile::from_read)
}

/// Reads the JSON form of a configuration (the same tree as the TOML form).
pub fn parse_json(text: &str, origin: &str) -> Result<ConfigFile> {
    source::read_json(text, origin).map(ConfigFile::from_read)
}

/// Reads a configuration file: JSON when the name ends in `.json`, TOML otherwise.
pub fn load(path: &Path) -> Result<ConfigFile> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        origin: origin.clone(),
        source,
    })?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        parse_json(&text, &origin)
    } else {
        parse_toml(&text, &origin)
    }
}

impl ConfigFile {
    /// A configuration built in code (no source lines for problems).
    pub fn new(defaults: Defaults, endpoints: Vec<EndpointSpec>) -> Self {
        ConfigFile {
            defaults,
            endpoints,
            source: Source::default(),
        }
    }

    /// The name given when parsing; empty for a configuration built in code.
    pub fn origin(&self) -> &str {
        &self.source.origin
    }

    /// TOML that [`parse_toml`] reads back to an equal configuration. Keys left unset (the
    /// defaults) are not written.
    ///
    /// Laid out like a hand-written file: one `[[endpoint]]` section per endpoint, headers
    /// as inline tables (which also keeps literal and `{ env = … }` secrets in their order).
    pub fn to_toml(&self) -> String {
        // Every value is a string, number, boolean, array or table with string keys, all of
        // which TOML can express, so conversion cannot fail.
        let table =
            toml::Table::try_from(self).expect("a ConfigFile is always expressible in TOML");
        let mut out = String::new();
        write_toml_table(&mut out, "", &table);
        out
    }

    /// Pretty JSON that [`parse_json`] reads back to an equal configuration.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a ConfigFile is always expressible in JSON")
    }

    /// Applies defaults, reads `{ env = … }` secrets through `env`, converts and validates
    /// every endpoint (including [`heartline_core::Endpoint::validate`]).
    ///
    /// All problems come at once, each with its line (when parsed from text), endpoint and
    /// the key as written in the file. A bad `[defaults]` value is reported once, at
    /// `defaults.…`, not once per endpoint that inherits it.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Resolved>> {
        let mut problems = Vec::new();
        let mut secrets = Vec::new();

        // The defaults on their own, through a stand-in endpoint that sets nothing.
        let stand_in = EndpointSpec::new("defaults", "ws://localhost/");
        let alone = resolve::resolve(&stand_in, &self.defaults, env);
        let mut known: HashSet<(Vec<Seg>, String)> = HashSet::new();
        for issue in alone.issues {
            let mut path = vec![key("defaults")];
            path.extend(issue.path.iter().cloned());
            let message = match issue.set_in {
                SetIn::Builtin => issue.describe(),
                _ => issue.message.clone(),
            };
            problems.push(self.problem(&path, None, message));
            known.insert((issue.path, issue.message));
        }

        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut resolved = Vec::with_capacity(self.endpoints.len());
        for (i, spec) in self.endpoints.iter().enumerate() {
            let at = vec![key("endpoint"), Seg::Index(i)];
            let endpoint = Some((i, spec.name.clone()));
            let mut outcome = resolve::resolve(spec, &self.defaults, env);
            for warning in &outcome.warnings {
                let path = [at.clone(), warning.path.clone()].concat();
                let mut p = self.problem(&path, endpoint.clone(), warning.message.clone());
                p.field = display_path(&warning.path);
                p.message = scrub(&p.message, &outcome.secrets);
                outcome.resolved.warnings.push(p);
            }
            secrets.extend(outcome.secrets);
            for issue in outcome.issues {
                let line_path = match issue.set_in {
                    SetIn::Endpoint => [at.clone(), issue.path.clone()].concat(),
                    _ if known.contains(&(issue.path.clone(), issue.message.clone())) => continue,
                    // Inherited: the endpoint is what combines it with the bad partner value.
                    _ => at.clone(),
                };
                let mut p = self.problem(&line_path, endpoint.clone(), issue.describe());
                p.field = display_path(&issue.path);
                problems.push(p);
            }
            let name = spec.name.trim();
            if !name.is_empty() {
                if let Some(first) = names.get(name) {
                    let mut p = self.problem(
                        &[at.clone(), vec![key("name")]].concat(),
                        endpoint.clone(),
                        format!(
                            "`{name}` is already the name of endpoint {}; names must be unique",
                            first + 1
                        ),
                    );
                    p.field = "name".into();
                    problems.push(p);
                } else {
                    names.insert(name, i);
                }
            }
            resolved.push(outcome.resolved);
        }

        if problems.is_empty() {
            Ok(resolved)
        } else {
            for p in &mut problems {
                p.message = scrub(&p.message, &secrets);
            }
            Err(Error::Invalid(problems))
        }
    }

    /// The configuration describing `endpoints` exactly, with empty `[defaults]`. Secret
    /// header values become `{ stored = true }`: secrets are never written out.
    pub fn from_endpoints(endpoints: &[heartline_core::Endpoint]) -> ConfigFile {
        ConfigFile::new(
            Defaults::default(),
            endpoints.iter().map(EndpointSpec::from_endpoint).collect(),
        )
    }

    fn from_read(read: source::Read) -> Self {
        ConfigFile {
            defaults: read.defaults,
            endpoints: read.endpoints,
            source: read.source,
        }
    }

    /// A problem at absolute `path`; the field defaults to the whole path.
    fn problem(&self, path: &[Seg], endpoint: Option<(usize, String)>, message: String) -> Problem {
        Problem {
            origin: self.source.origin.clone(),
            line: self.source.line(path),
            endpoint,
            field: display_path(path),
            message,
        }
    }
}

/// Writes `table`'s plain keys, then its sub-tables as `[header.key]` sections and arrays
/// of tables as `[[header.key]]` sections. Keys are the spec's field names, all bare.
fn write_toml_table(out: &mut String, header: &str, table: &toml::Table) {
    use std::fmt::Write as _;

    let is_section = |key: &str, value: &toml::Value| match value {
        toml::Value::Table(_) => {
            !["headers", "secret_headers", "secret_query", "secret_vars"].contains(&key)
        }
        toml::Value::Array(items) => !items.is_empty() && items.iter().all(toml::Value::is_table),
        _ => false,
    };
    for (key, value) in table {
        if !is_section(key, value) {
            let _ = writeln!(out, "{key} = {value}");
        }
    }
    for (key, value) in table {
        if !is_section(key, value) {
            continue;
        }
        let name = if header.is_empty() {
            key.clone()
        } else {
            format!("{header}.{key}")
        };
        let sections: Vec<(&toml::Table, bool)> = match value {
            toml::Value::Table(t) => vec![(t, false)],
            toml::Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_table().map(|t| (t, true)))
                .collect(),
            _ => Vec::new(),
        };
        for (t, array) in sections {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = if array {
                writeln!(out, "[[{name}]]")
            } else {
                writeln!(out, "[{name}]")
            };
            write_toml_table(out, &name, t);
        }
    }
}

impl PartialEq for ConfigFile {
    /// Compares content only, not where it was read from.
    fn eq(&self, other: &Self) -> bool {
        self.defaults == other.defaults && self.endpoints == other.endpoints
    }
}

impl EndpointSpec {
    /// The spec describing `e` exactly (keys equal to the built-in defaults left out);
    /// secret header values become `{ stored = true }`, and so do the values of secret query
    /// parameters, taken out of the URL (`?token=abc` becomes `?token=` plus
    /// `secret_query = { token = { stored = true } }`).
    pub fn from_endpoint(e: &heartline_core::Endpoint) -> Self {
        resolve::spec_from(e)
    }

    /// Applies `defaults`, reads `{ env = … }` secrets through `env`, converts and
    /// validates. Problems carry no origin, line or endpoint: the caller knows which
    /// endpoint it asked about.
    pub fn resolve(
        &self,
        defaults: &Defaults,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Resolved> {
        let mut outcome = resolve::resolve(self, defaults, env);
        if outcome.issues.is_empty() {
            outcome.resolved.warnings = outcome
                .warnings
                .iter()
                .map(|warning| Problem {
                    origin: String::new(),
                    line: None,
                    endpoint: None,
                    field: display_path(&warning.path),
                    message: scrub(&warning.message, &outcome.secrets),
                })
                .collect();
            return Ok(outcome.resolved);
        }
        Err(Error::Invalid(
            outcome
                .issues
                .iter()
                .map(|issue| Problem {
                    origin: String::new(),
                    line: None,
                    endpoint: None,
                    field: display_path(&issue.path),
                    message: scrub(&issue.describe(), &outcome.secrets),
                })
                .collect(),
        ))
    }

    /// Compact JSON, one endpoint per store row.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an EndpointSpec is always expressible in JSON")
    }

    /// Reads what [`EndpointSpec::to_json`] wrote (or a hand-written endpoint object).
    pub fn from_json(text: &str) -> Result<Self> {
        source::read_json_endpoint(text)
    }
}
