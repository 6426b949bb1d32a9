//! Diagnosis: rules that turn patterns in a history into causes an engineer can act on.
//!
//! Each rule is a function from a history to findings, testable alone; [`diagnose`] runs them
//! all. A finding states its evidence in words — counts, ranges, times of day in UTC — and
//! suggests what to change, because its reader is deciding what to do, not reading a chart.
//! Every threshold is a named constant beside its rule, with the reason for its value.
//!
//! Rules are grouped in files by what they look at: how sessions end (`idle_timeout`,
//! `session_ends`, `server_closes`), why connection attempts fail (`handshake`), and what happens to many
//! sessions or attempts at once (`bursts`); `text` words durations and times.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::endpoint::EndpointId;
use crate::event::{Event, Timestamp};
use crate::incident::between;

mod bursts;
mod handshake;
mod idle_timeout;
mod server_closes;
mod session_ends;
mod text;

pub(crate) use text::{clock, date};

#[cfg(test)]
mod fixtures;

/// What the rules need to know about an endpoint beyond its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFacts {
    pub id: EndpointId,
    pub name: String,
    /// Host name from the URL: endpoints sharing it share whatever stands in front of it.
    pub host: String,
    /// The protocol ping interval now configured.
    pub ping_interval: Duration,
    /// The application heartbeat interval now configured, if any.
    pub app_heartbeat_interval: Option<Duration>,
}

/// The rule behind a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Sessions die after the same silence: an intermediary's idle timeout.
    IdleTimeout,
    /// Heartbeats stopped while TCP stayed open: a half-open (zombie) connection.
    HalfOpen,
    /// A going-away or restart close followed by a quick recovery.
    RestartOrDeploy,
    /// HTTP 401/403 on upgrade, close 1008, or giving up over credentials.
    Credentials,
    /// The TLS handshake fails.
    Tls,
    /// The host name does not resolve.
    Dns,
    /// Several endpoints lose their sessions at the same moment.
    SharedPath,
    /// Reconnects faster than a working backoff allows.
    ReconnectStorm,
    /// The server closes sessions with the same application code (4xxx) again and again.
    ApplicationKick,
    /// The server says try again later (1013): it sheds load.
    Overloaded,
    /// Sessions end at the same age whatever the traffic: a lifetime cap or a fixed deadline.
    LifetimeCap,
    /// The upgrade is refused with one HTTP status (not 401/403), perhaps flapping.
    UpgradeRefused,
}

impl Rule {
    /// The rule named by [`Rule::as_str`].
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub const ALL: [Rule; 12] = [
        Rule::IdleTimeout,
        Rule::HalfOpen,
        Rule::RestartOrDeploy,
        Rule::Credentials,
        Rule::Tls,
        Rule::Dns,
        Rule::SharedPath,
        Rule::ReconnectStorm,
        Rule::ApplicationKick,
        Rule::Overloaded,
        Rule::LifetimeCap,
        Rule::UpgradeRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::IdleTimeout => "idle_timeout",
            Rule::HalfOpen => "half_open",
            Rule::RestartOrDeploy => "restart_or_deploy",
            Rule::Credentials => "credentials",
            Rule::Tls => "tls",
            Rule::Dns => "dns",
            Rule::SharedPath => "shared_path",
            Rule::ReconnectStorm => "reconnect_storm",
            Rule::ApplicationKick => "application_kick",
            Rule::Overloaded => "overloaded",
            Rule::LifetimeCap => "lifetime_cap",
            Rule::UpgradeRefused => "upgrade_refused",
        }
    }
}

/// One diagnosed cause, in plain language, with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// The endpoints it concerns, in id order.
    pub endpoints: Vec<EndpointId>,
    /// One line, e.g. "Idle timeout of about 60 s on the path to feed-1".
    pub title: String,
    /// What is going on, for an engineer, in one to three sentences.
    pub explanation: String,
    /// Facts from the history, one per line, with times of day in UTC.
    pub evidence: Vec<String>,
    pub suggestion: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// How many times the pattern occurred (sessions, failures, clusters or storms: see the
    /// rule).
    pub occurrences: u32,
}

/// Runs every rule over a history (events sorted by time, any endpoints); the most recent
/// findings first. Endpoints missing from `endpoints` are named by id and treated as having a
/// host of their own.
pub fn diagnose(events: &[Event], endpoints: &[EndpointFacts]) -> Vec<Finding> {
    let facts = Facts::new(endpoints);
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|rule| rule(events, &facts)).collect();
    sort_findings(&mut findings);
    findings
}

/// Runs every rule over one endpoint's recent history, naming it `name` in the findings'
/// words (the incident tracker knows ids, not names).
pub fn diagnose_named(events: &[Event], name: &str) -> Vec<Finding> {
    let mut facts = Facts::new(&[]);
    facts.anonymous = Some(name);
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|rule| rule(events, &facts)).collect();
    sort_findings(&mut findings);
    findings
}

/// The order findings are shown in: the most recent first, then by rule and endpoints, so
/// findings merged from several histories read like one diagnosis.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.last_seen
            .cmp(&a.last_seen)
            .then(a.rule.cmp(&b.rule))
            .then_with(|| a.endpoints.cmp(&b.endpoints))
    });
}

/// The shape of every rule: a history and the endpoints' facts in, findings out.
type RuleFn = fn(&[Event], &Facts<'_>) -> Vec<Finding>;

/// Every rule, in the order they run.
const RULES: &[RuleFn] = &[
    idle_timeout::idle_timeout,
    session_ends::half_open,
    session_ends::restart_or_deploy,
    handshake::credentials,
    handshake::tls,
    handshake::dns,
    bursts::shared_path,
    bursts::reconnect_storm,
    server_closes::application_kicks,
    server_closes::overload,
    server_closes::lifetime_cap,
    server_closes::upgrade_refused,
];

/// The endpoint facts by id, with fallbacks for endpoints the caller did not describe.
struct Facts<'a> {
    by_id: BTreeMap<EndpointId, &'a EndpointFacts>,
    /// The name of an undescribed endpoint (else its id).
    anonymous: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn new(endpoints: &'a [EndpointFacts]) -> Self {
        Facts {
            by_id: endpoints.iter().map(|f| (f.id, f)).collect(),
            anonymous: None,
        }
    }

    fn get(&self, id: EndpointId) -> Option<&'a EndpointFacts> {
        self.by_id.get(&id).copied()
    }

    fn name(&self, id: EndpointId) -> String {
        match (self.get(id), self.anonymous) {
            (Some(f), _) => f.name.clone(),
            (None, Some(name)) => name.to_owned(),
            (None, None) => id.to_string(),
        }
    }

    /// The host, or `None` when unknown (such an endpoint shares its host with nobody).
    fn host(&self, id: EndpointId) -> Option<&'a str> {
        self.get(id)
            .map(|f| f.host.as_str())
            .filter(|h| !h.is_empty())
    }
}

/// Each endpoint's events, in order.
fn by_endpoint(events: &[Event]) -> BTreeMap<EndpointId, Vec<&Event>> {
    let mut out: BTreeMap<EndpointId, Vec<&Event>> = BTreeMap::new();
    for e in events {
        out.entry(e.endpoint).or_default().push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::event::CloseCause;

    #[test]
    fn diagnose_runs_every_rule_newest_first() {
        let mut history = History::default();
        // An idle timeout on #1 early on, then a half-open connection on #2 later.
        for i in 0..4 {
            history = history.lost(1, 100.0 + 70.0 * f64::from(i), 60.0, 60.0);
        }
        history = history.client_close(2, 900.0, CloseCause::PongTimeout, false, 30.0);
        let findings = diagnose(
            &history.events(),
            &facts(&[(1, "a.example"), (2, "b.example")]),
        );
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["half_open", "idle_timeout"]);
        assert!(findings[0].last_seen > findings[1].last_seen);
    }

    #[test]
    fn unknown_endpoints_are_named_by_id() {
        let history = History::default().client_close(9, 1.0, CloseCause::PongTimeout, false, 5.0);
        let findings = diagnose(&history.events(), &[]);
        assert!(findings[0].title.contains("#9"), "{}", findings[0].title);
    }

    #[test]
    fn rule_names_are_distinct_snake_case() {
        let names: std::collections::BTreeSet<&str> =
            Rule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
