//! Availability over a window, read for the core's one definition
//! ([`heartline_core::Availability`]): the states, the sessions and the agent runs of each
//! endpoint, three statements for any number of endpoints. The overview, exports and the CLI
//! all read it here, so they cannot disagree.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use heartline_core::{Availability, EndpointId, SessionSpan, State, Timestamp, Watch};

use crate::export::{Scope, IDS};
use crate::query::{cause_from, state_from};
use crate::{Result, Store};

/// Whether a session that ended with this closed event's initiator and cause ended without
/// anybody choosing it (no closed event recorded: not counted as a drop).
pub(crate) fn unexpected(initiator: Option<&str>, cause: Option<&str>) -> bool {
    match (initiator, cause) {
        (None, _) => false,
        (Some("client"), Some(cause)) => cause_from(cause).is_none_or(|c| c.is_unexpected()),
        (Some(_), _) => true,
    }
}

fn endpoint_id(id: i64) -> EndpointId {
    EndpointId(id.max(0).unsigned_abs())
}

/// States and sessions of one endpoint, gathered before the fold.
#[derive(Default)]
struct Gathered {
    before: Option<State>,
    states: Vec<(Timestamp, State)>,
    sessions: Vec<SessionSpan>,
}

impl Store {
    /// Uptime and session stability of one endpoint over `[from, to)`.
    pub async fn availability(
        &self,
        endpoint: EndpointId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Availability> {
        let mut all = self
            .availability_of(Scope::Only(&[endpoint]), from, to)
            .await?;
        Ok(all.remove(&endpoint).unwrap_or_default())
    }

    /// Uptime and session stability of every endpoint of `scope` over `[from, to)`.
    /// Endpoints with neither a state nor a session are left out.
    pub async fn availability_of(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<EndpointId, Availability>> {
        let mut out = HashMap::new();
        if to <= from {
            return Ok(out);
        }
        let runs: Vec<(Timestamp, Timestamp)> = self
            .runs_between(from, to)
            .await?
            .into_iter()
            .map(|(a, b)| (Timestamp(a), Timestamp(b)))
            .collect();
        let mut gathered: HashMap<i64, Gathered> = HashMap::new();

        // The state before the window (ord 0), then the changes in it.
        let states_sql = format!(
            "{IDS} SELECT id, 0 AS ord, ?1 AS ts, 0 AS seq, \
               (SELECT state FROM states WHERE endpoint_id = id AND ts < ?1 \
                ORDER BY ts DESC, seq DESC LIMIT 1) AS state FROM ids \
             UNION ALL \
             SELECT endpoint_id, 1, ts, seq, state FROM states \
               WHERE endpoint_id IN (SELECT id FROM ids) AND ts >= ?1 AND ts < ?2 \
             ORDER BY 1, 2, 3, 4"
        );
        let mut rows = sqlx::query_as::<_, (i64, i64, i64, i64, Option<String>)>(&states_sql)
            .bind(from.0)
            .bind(to.0)
            .bind(scope.param())
            .fetch(self.reader());
        while let Some((id, ord, ts, _, state)) = rows.try_next().await? {
            let Some(state) = state.as_deref().and_then(state_from) else {
                continue;
            };
            let g = gathered.entry(id).or_default();
            if ord == 0 {
                g.before = Some(state);
            } else {
                g.states.push((Timestamp(ts), state));
            }
        }
        drop(rows);

        // Sessions that started in the window, and the last one before it (sessions of one
        // endpoint do not overlap, so only that one can reach into the window). How each
        // ended is its closed event's, at the session's end (a primary-key seek).
        let sessions_sql = format!(
            "{IDS} SELECT s.endpoint_id, s.started_at, s.ended_at, e.initiator, e.cause \
               FROM sessions s LEFT JOIN events e ON e.endpoint_id = s.endpoint_id \
                 AND e.ts = s.ended_at AND e.kind = 'closed' \
               WHERE s.endpoint_id IN (SELECT id FROM ids) AND s.started_at >= ?1 AND s.started_at < ?2 \
             UNION ALL \
             SELECT s.endpoint_id, s.started_at, s.ended_at, e.initiator, e.cause \
               FROM ids JOIN sessions s ON s.endpoint_id = ids.id AND s.started_at = \
                 (SELECT max(started_at) FROM sessions WHERE endpoint_id = ids.id AND started_at < ?1) \
               LEFT JOIN events e ON e.endpoint_id = s.endpoint_id \
                 AND e.ts = s.ended_at AND e.kind = 'closed' \
               WHERE s.ended_at IS NULL OR s.ended_at > ?1 \
             ORDER BY 1, 2"
        );
        type SessionRow = (i64, i64, Option<i64>, Option<String>, Option<String>);
        let mut rows = sqlx::query_as::<_, SessionRow>(&sessions_sql)
            .bind(from.0)
            .bind(to.0)
            .bind(scope.param())
            .fetch(self.reader());
        while let Some((id, started, ended, initiator, cause)) = rows.try_next().await? {
            gathered.entry(id).or_default().sessions.push(SessionSpan {
                started: Timestamp(started),
                ended: ended.map(Timestamp),
                unexpected: unexpected(initiator.as_deref(), cause.as_deref()),
            });
        }
        drop(rows);

        for (id, g) in gathered {
            let watch = Watch {
                from,
                to,
                state_before: g.before,
                states: &g.states,
                sessions: &g.sessions,
                recorded: Some(&runs),
            };
            out.insert(endpoint_id(id), Availability::of(&watch));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::unexpected;

    #[test]
    fn ends_we_chose_are_not_drops() {
        for (initiator, cause, drop) in [
            (Some("client"), Some("user"), false),
            (Some("client"), Some("shutdown"), false),
            (Some("client"), Some("reconfigured"), false),
            (Some("client"), Some("duration_elapsed"), false),
            (Some("client"), Some("pong_timeout"), true),
            (Some("client"), Some("stale"), true),
            (Some("client"), Some("something new"), true),
            (Some("server"), None, true),
            (Some("network"), None, true),
            (None, None, false),
        ] {
            assert_eq!(
                unexpected(initiator, cause),
                drop,
                "{initiator:?} {cause:?}"
            );
        }
    }
}
