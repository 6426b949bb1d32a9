//! Scripted conversations after the handshake: an ordered list of steps, each sending a
//! message or waiting (within a deadline) for a message that matches a rule, so a protocol
//! no preset knows can still be spoken (`connection_init` → wait for `connection_ack` →
//! `subscribe`). Pure: the probe owns the socket and the clock, [`Script`] says what is due.

use std::fmt;
use std::time::Duration;

use crate::protocol::Frame;
use crate::reply::{ReplyMatch, ReplyMatcher};

/// One step of the conversation that follows every successful handshake (and the protocol
/// preset's own handshake, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this payload (`hex:`/`base64:` for a binary frame, [`Frame::parse`]).
    Send(String),
    /// Wait for a message matching `reply` before going on; the session ends (as a protocol
    /// handshake timeout) when none arrives `within` (unset: the endpoint's handshake timeout).
    Expect {
        reply: ReplyMatch,
        within: Option<Duration>,
    },
}

impl From<&str> for Step {
    fn from(payload: &str) -> Self {
        Step::Send(payload.to_owned())
    }
}

impl From<String> for Step {
    fn from(payload: String) -> Self {
        Step::Send(payload)
    }
}

impl Step {
    /// The payload when this step sends one.
    pub fn payload(&self) -> Option<&str> {
        match self {
            Step::Send(p) => Some(p),
            Step::Expect { .. } => None,
        }
    }
}

impl fmt::Display for ReplyMatch {
    /// The rule as a person reads it in a close reason or an error: `"connection_ack"`,
    /// `regex ^ok$`, `json type=connection_ack`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyMatch::Contains(text) => write!(f, "{text:?}"),
            ReplyMatch::Regex(re) => write!(f, "regex {re}"),
            ReplyMatch::JsonField { path, equals } => write!(f, "json {path}={equals}"),
        }
    }
}

/// A wait the script is in: which step, for what, until when (relative to its start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The step's index in the endpoint's list (`on_connect[i]`).
    pub step: usize,
    pub rule: String,
    pub within: Duration,
}

/// One session's run through the steps (the default has none).
#[derive(Debug, Clone, Default)]
pub struct Script {
    steps: Vec<Compiled>,
    /// The next step to act on (an index into `steps`).
    at: usize,
    /// Steps left out at the front (a preset took the first message as its own handshake):
    /// [`Waiting::step`] counts from the endpoint's list.
    offset: usize,
    default_within: Duration,
    /// Whether [`Script::advance`] has run: before it (the preset's handshake still under
    /// way) the script waits for nothing, even when its first step is a wait.
    started: bool,
}

#[derive(Debug, Clone)]
enum Compiled {
    Send(Frame),
    Expect {
        matcher: ReplyMatcher,
        rule: String,
        within: Option<Duration>,
    },
}

impl Script {
    /// Compiles `steps` after leaving out the first `skip`. The endpoint's validation checks
    /// the same things; an error here names the step (`on_connect[2]: invalid regex …`).
    pub fn new(steps: &[Step], skip: usize, default_within: Duration) -> Result<Script, String> {
        let mut compiled = Vec::with_capacity(steps.len().saturating_sub(skip));
        for (i, step) in steps.iter().enumerate().skip(skip) {
            compiled.push(match step {
                Step::Send(payload) => Compiled::Send(
                    Frame::parse(payload).map_err(|e| format!("on_connect[{i}]: {}", e.0))?,
                ),
                Step::Expect { reply, within } => Compiled::Expect {
                    matcher: reply
                        .compile()
                        .map_err(|e| format!("on_connect[{i}]: {e}"))?,
                    rule: reply.to_string(),
                    within: *within,
                },
            });
        }
        Ok(Script {
            steps: compiled,
            at: 0,
            offset: skip,
            default_within,
            started: false,
        })
    }

    /// Runs the steps that are due: the frames to send now, up to the next wait (returned,
    /// with its deadline) or the end. Call once the session may talk (after the preset's
    /// handshake), then after every [`Script::offer`] that returned true.
    pub fn advance(&mut self) -> (Vec<Frame>, Option<Waiting>) {
        self.started = true;
        let mut frames = Vec::new();
        while let Some(step) = self.steps.get(self.at) {
            match step {
                Compiled::Send(frame) => {
                    frames.push(frame.clone());
                    self.at += 1;
                }
                Compiled::Expect { .. } => return (frames, self.waiting()),
            }
        }
        (frames, None)
    }

    /// The wait the script is in, if any.
    pub fn waiting(&self) -> Option<Waiting> {
        match self.current()? {
            Compiled::Expect { rule, within, .. } => Some(Waiting {
                step: self.offset + self.at,
                rule: rule.clone(),
                within: within.unwrap_or(self.default_within),
            }),
            Compiled::Send(_) => None,
        }
    }

    /// Whether the script is waiting for a message (the probe then looks at bodies).
    pub fn is_waiting(&self) -> bool {
        matches!(self.current(), Some(Compiled::Expect { .. }))
    }

    /// The step to act on, once the script has started.
    fn current(&self) -> Option<&Compiled> {
        self.steps.get(self.at).filter(|_| self.started)
    }

    /// A message arrived: true when it is the one the current wait expects (the wait is then
    /// over; [`Script::advance`] gives what follows). Other messages leave the wait as it is.
    pub fn offer(&mut self, frame: &Frame) -> bool {
        match self.current() {
            Some(Compiled::Expect { matcher, .. }) if matcher.matches_frame(frame) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.at >= self.steps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(text: &str) -> Step {
        Step::Expect {
            reply: ReplyMatch::Contains(text.into()),
            within: None,
        }
    }

    fn text(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| f.as_text().unwrap_or("<binary>"))
            .collect()
    }

    /// graphql-transport-ws without its preset: init, wait for the ack, then subscribe.
    #[test]
    fn sends_wait_for_the_expected_reply() {
        let steps = vec![
            Step::from(r#"{"type":"connection_init"}"#),
            Step::Expect {
                reply: ReplyMatch::JsonField {
                    path: "type".into(),
                    equals: "connection_ack".into(),
                },
                within: Some(Duration::from_secs(3)),
            },
            Step::from(r#"{"id":"1","type":"subscribe"}"#),
            Step::from("hex:c000"),
        ];
        let mut script = Script::new(&steps, 0, Duration::from_secs(10)).unwrap();
        let (frames, wait) = script.advance();
        assert_eq!(text(&frames), [r#"{"type":"connection_init"}"#]);
        let wait = wait.expect("waits for the ack");
        assert_eq!(wait.step, 1);
        assert_eq!(wait.within, Duration::from_secs(3));
        assert_eq!(wait.rule, "json type=connection_ack");
        assert!(script.is_waiting());

        // Other traffic does not end the wait; the ack does.
        assert!(!script.offer(&Frame::Text(r#"{"type":"ping"}"#.into())));
        assert!(!script.offer(&Frame::Text(r#"{"note":"connection_ack"}"#.into())));
        assert!(script.is_waiting());
        assert!(script.offer(&Frame::Text(r#"{"type":"connection_ack"}"#.into())));

        let (frames, wait) = script.advance();
        assert_eq!(wait, None);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], Frame::Binary(vec![0xc0, 0x00]));
        assert!(script.is_done());
        assert!(!script.offer(&Frame::Text("anything".into())));
    }

    /// Consecutive waits each need their own message, in order; the default deadline applies
    /// where a step has none, and indices count the steps a preset took.
    #[test]
    fn waits_run_in_order_and_count_from_the_endpoints_list() {
        let steps = vec![
            Step::from("40"),
            expect("first"),
            expect("second"),
            Step::from("go"),
        ];
        let mut script = Script::new(&steps, 1, Duration::from_secs(7)).unwrap();
        let (frames, wait) = script.advance();
        assert!(frames.is_empty());
        assert_eq!(
            wait,
            Some(Waiting {
                step: 1,
                rule: "\"first\"".into(),
                within: Duration::from_secs(7)
            })
        );
        assert!(!script.offer(&Frame::Text("second".into())), "out of order");
        assert!(script.offer(&Frame::Text("the first one".into())));
        let (frames, wait) = script.advance();
        assert!(frames.is_empty());
        assert_eq!(wait.map(|w| w.step), Some(2));
        assert!(script.offer(&Frame::Text("second".into())));
        let (frames, wait) = script.advance();
        assert_eq!(text(&frames), ["go"]);
        assert_eq!(wait, None);
    }

    /// A script whose first step is a wait waits for nothing before it is started: messages
    /// of the preset's own handshake are not offered to it, nor does its deadline run.
    #[test]
    fn nothing_is_awaited_before_the_script_starts() {
        let mut script = Script::new(
            &[expect("hello"), Step::from("go")],
            0,
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!script.is_waiting());
        assert_eq!(script.waiting(), None);
        assert!(!script.offer(&Frame::Text("hello".into())));
        let (frames, wait) = script.advance();
        assert!(frames.is_empty());
        assert_eq!(wait.map(|w| w.step), Some(0));
        assert!(script.offer(&Frame::Text("hello".into())));
        assert_eq!(text(&script.advance().0), ["go"]);
    }

    #[test]
    fn a_bad_step_is_named() {
        let steps = vec![
            Step::from("ok"),
            Step::Expect {
                reply: ReplyMatch::Regex("(".into()),
                within: None,
            },
        ];
        let err = Script::new(&steps, 0, Duration::from_secs(1)).unwrap_err();
        assert!(err.starts_with("on_connect[1]: invalid regex"), "{err}");
        let err = Script::new(&[Step::from("hex:0")], 0, Duration::from_secs(1)).unwrap_err();
        assert!(err.starts_with("on_connect[0]:"), "{err}");
    }

    #[test]
    fn no_steps_no_waits() {
        let mut script = Script::new(&[], 0, Duration::from_secs(1)).unwrap();
        assert_eq!(script.advance(), (Vec::new(), None));
        assert!(script.is_done());
        assert!(!script.is_waiting());
    }
}
