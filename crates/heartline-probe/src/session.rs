//! One open session: heartbeats, staleness, message counting and exactly one classified end.

use std::collections::VecDeque;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use heartline_core::protocol::{Beat, Refusal, SessionParams};
use heartline_core::{
    CloseCause, Endpoint, EventKind, Frame, PingKind, Protocol, ProtocolSession, ReplyMatcher,
    Script, SessionEnd, SessionStats, Signal, Step,
};

use crate::connect::WsStream;
use crate::watch::{Control, Reporter};
use crate::ControlReceiver;

/// How a session ended, and the control message that ended it, if one did.
pub(crate) struct Outcome {
    pub end: SessionEnd,
    pub stats: SessionStats,
    pub control: Option<Control>,
    /// Whether any heartbeat (protocol or application) was answered: the session was healthy
    /// at least once, so its end does not count as one more failed attempt.
    pub answered: bool,
}

/// Longest wait for the server's answer to our close frame before we drop the connection.
const CLOSE_REPLY_DEADLINE: Duration = Duration::from_secs(1);
/// The same for a peer that stopped answering heartbeats.
const DEAD_PEER_CLOSE_DEADLINE: Duration = Duration::from_millis(100);

/// Runs one session until it ends; emits heartbeat events through `rep` as they happen.
///
/// A session is one future per watched endpoint, so this function awaits in three places
/// only: a write, the `select!` over controls, messages and the one timer, and the end (a
/// close or a drain, boxed). Everything a message, a control or a deadline causes is decided
/// synchronously by [`Session`], which queues frames and at most one way out: the future
/// keeps its state once instead of once per await (it was 2.5 KB with an await per send).
pub(crate) fn run<'a>(
    ws: Box<WsStream>,
    endpoint: &'a Endpoint,
    matcher: Option<&'a ReplyMatcher>,
    rep: &'a mut Reporter,
    controls: &'a mut ControlReceiver,
) -> impl std::future::Future<Output = Outcome> + Send + 'a {
    // A plain function returning `async move`, not an `async fn`: an async fn keeps each
    // argument twice in its future (as passed and as bound).
    let mut ws = ws;
    async move {
        let mut s = Session::new(endpoint, matcher, rep.endpoint_id().0);
        s.open();
        // Writes to a peer that stopped reading must not hang the loop: bound each by the
        // pong timeout, the time we would have waited for an answer anyway.
        let write_deadline = endpoint.heartbeat.pong_timeout;
        let mut timer = pin!(sleep_until(far_future()));
        let mut armed: Option<Instant> = None;

        let exit = loop {
            loop {
                let (message, stalled, then) = match s.next_out() {
                    Some(out) => (out.message, out.stalled, out.then),
                    None => break,
                };
                let len = match &message {
                    Message::Ping(_) => None,
                    m => Some(m.len() as u64),
                };
                // The write's deadline is on the session's one timer; the loop re-arms it for
                // the session's own deadlines afterwards.
                let deadline = Instant::now() + write_deadline;
                armed = Some(deadline);
                timer.as_mut().reset(deadline);
                let written = tokio::select! {
                    biased;
                    written = ws.send(message) => Some(written),
                    () = &mut timer => None,
                };
                match written {
                    Some(Ok(())) => s.sent(len, then),
                    Some(Err(e)) => s.exit(Exit::End(lost_or_closed(e))),
                    None => s.close(stalled, "write stalled"),
                }
                if s.exit.is_some() {
                    break;
                }
            }
            if let Some(exit) = s.exit.take() {
                break *exit;
            }
            let wake = s.next_deadline();
            if wake != armed {
                armed = wake;
                timer.as_mut().reset(wake.unwrap_or_else(far_future));
            }
            tokio::select! {
                biased;
                control = controls.recv() => s.on_control(control),
                message = ws.next() => s.on_message(message, rep),
                () = &mut timer, if armed.is_some() => {
                    if !s.on_timer(rep) {
                        // Nothing was due yet: arm the timer again on the next turn.
                        armed = None;
                    }
                }
            }
        };

        let end = match exit {
            Exit::Close {
                cause,
                code,
                reason,
                refused,
            } => {
                let end = close_with(&mut ws, cause, code, &reason).await;
                match refused {
                    Some(refusal) => SessionEnd::Refused {
                        protocol: endpoint.protocol,
                        class: refusal.class,
                        code: end.code(),
                        reason: refusal.reason,
                    },
                    None => end,
                }
            }
            Exit::Drain(end) => {
                // tungstenite has queued our answering close frame; let it go out and the
                // server end the TCP connection, within a deadline.
                drain(&mut ws).await;
                end
            }
            Exit::End(end) => end,
        };
        let now = Instant::now();
        s.stats.duration = now.saturating_duration_since(s.started);
        s.stats.silent_for = now.saturating_duration_since(s.last_message);
        Outcome {
            end,
            stats: s.stats,
            control: s.control,
            answered: s.answered,
        }
    }
}

/// How an open session ends.
enum Exit {
    /// We close: send our close frame and wait a moment for the server's. The session ends as
    /// that close, or as the application's refusal with the code we sent.
    Close {
        cause: CloseCause,
        code: CloseCode,
        reason: String,
        refused: Option<Refusal>,
    },
    /// The server closed: let our answer go out, read to the end, and end so.
    Drain(SessionEnd),
    /// Nothing more to send or read.
    End(SessionEnd),
}

/// A frame waiting to be written, and what its write means.
struct Out {
    message: Message,
    /// The cause to close with if the peer stops reading.
    stalled: CloseCause,
    then: Sent,
}

/// What a completed write starts.
#[derive(Clone, Copy)]
enum Sent {
    Nothing,
    /// Our protocol ping: its round trip runs from here.
    Ping,
    /// The preset's own heartbeat, answered by the protocol.
    Preset,
    /// The application heartbeat.
    App,
}

/// The session's deadlines, in the order they are served when several are due at once.
#[derive(Clone, Copy)]
enum Due {
    Pong,
    AppReply,
    Handshake,
    PresetReply,
    Beat,
    PresetTick,
    Stale,
    Ping,
    AppTick,
}

/// Everything an open session knows, and what it decides, without I/O: [`run`] writes what
/// it queues and carries out its exit.
///
/// Every deadline is a plain instant and one timer wakes the loop for the earliest that
/// applies ([`Session::deadlines`]): each tokio timer is ~110 bytes in every session, an
/// instant 16.
struct Session<'a> {
    endpoint: &'a Endpoint,
    /// The endpoint's id, for logs.
    id: u64,
    hb: heartline_core::Heartbeat,
    /// The application heartbeat, with its compiled reply rule and its frame (secret values
    /// filled in: it goes on the wire only, never into an event).
    app: Option<(&'a heartline_core::AppHeartbeat, &'a ReplyMatcher)>,
    app_frame: Option<Frame>,
    proto: ProtocolSession,
    bare: bool,
    script: Script,
    stats: SessionStats,
    /// Whether any heartbeat (protocol or application) was answered.
    answered: bool,
    started: Instant,
    last_message: Instant,
    outbox: VecDeque<Out>,
    /// Boxed: set once per session, and 64 bytes inline in every session otherwise.
    exit: Option<Box<Exit>>,
    control: Option<Control>,

    /// The user's `on_connect` waits for the protocol's handshake.
    on_connect_pending: bool,
    /// The protocol's handshake, then the script's waits, share one deadline.
    handshake_at: Option<Instant>,

    // The preset's own client heartbeat (graphql `ping`, MQTT PINGREQ, …): a round trip,
    // measured from send to the matching reply.
    preset_next: Option<Instant>,
    /// The period of those pings and how long each waits for its reply: the endpoint's,
    /// shortened when the server sets a keep-alive that needs more frequent pings (MQTT 5).
    preset_every: Duration,
    preset_timeout: Duration,
    preset_sent: Option<Instant>,
    preset_misses: u32,

    // The server's own heartbeat: intervals between beats, and a deadline for the next sign
    // of life, learnt from the protocol (Engine.IO's open packet) or the preset's default.
    beat_deadline: Option<Duration>,
    last_beat: Option<Instant>,
    last_interval: Option<Duration>,
    beat_misses: u32,
    beat_at: Option<Instant>,

    // Protocol (RFC 6455) heartbeat.
    ping_next: Instant,
    ping_seq: u64,
    /// A ping is due to be written (see [`Session::next_out`]).
    ping_pending: bool,
    ping_sent: Option<Instant>,
    pong_misses: u32,

    // Application heartbeat.
    app_next: Option<Instant>,
    app_sent: Option<Instant>,
    app_misses: u32,

    // Staleness: re-armed lazily from `last_message` so a busy stream costs no timer churn.
    stale_reported: bool,
    stale_at: Option<Instant>,
}

impl<'a> Session<'a> {
    fn new(endpoint: &'a Endpoint, matcher: Option<&'a ReplyMatcher>, id: u64) -> Self {
        let now = Instant::now();
        let hb = endpoint.heartbeat;
        let app = endpoint.app_heartbeat.as_deref().zip(matcher);
        let proto = ProtocolSession::new(
            endpoint.protocol,
            SessionParams {
                host: endpoint.target().map(|t| t.host).unwrap_or_default(),
                client_id: format!("heartline{}x{id}", std::process::id()),
                heartbeat: hb.ping_interval,
            },
        );
        Session {
            endpoint,
            id,
            hb,
            app,
            app_frame: None,
            beat_deadline: proto.default_beat_deadline(),
            preset_next: proto.has_client_ping().then_some(now),
            proto,
            bare: endpoint.protocol == Protocol::WebSocket,
            script: Script::default(),
            stats: SessionStats::default(),
            answered: false,
            started: now,
            last_message: now,
            outbox: VecDeque::new(),
            exit: None,
            control: None,
            on_connect_pending: true,
            handshake_at: None,
            preset_every: hb.ping_interval,
            preset_timeout: hb.pong_timeout,
            preset_sent: None,
            preset_misses: 0,
            last_beat: None,
            last_interval: None,
            beat_misses: 0,
            beat_at: None,
            // The first ping goes out at once so RTT and Up arrive immediately.
            ping_next: now,
            ping_seq: 0,
            ping_pending: false,
            ping_sent: None,
            pong_misses: 0,
            app_next: app.map(|_| now),
            app_sent: None,
            app_misses: 0,
            stale_reported: false,
            stale_at: endpoint.staleness.map(|s| now + s.after),
        }
    }

    /// The application protocol's handshake first; the user's `on_connect` messages wait
    /// until it completed (graphql's `subscribe` must not leave before `connection_ack`).
    fn open(&mut self) {
        let endpoint = self.endpoint;
        // Payloads with their `{{secret:NAME}}` placeholders filled, right before they are
        // framed. This text goes on the wire only: never into an event, a close reason or a
        // log (an error names the step and the secret's name, never a value). The expanded
        // steps only live until they are compiled into the script.
        let prepared = expanded_payloads(endpoint).and_then(|(steps, app_frame)| {
            // A first `on_connect` message that is the protocol's own handshake message
            // (auth in a Socket.IO `40{…}` or a graphql `connection_init`) replaces the
            // preset's.
            let skip = match steps.first() {
                Some(Step::Send(first)) if !self.bare && self.proto.take_init(&payload(first)) => 1,
                _ => 0,
            };
            // The user's conversation (sends, and waits for the replies they expect),
            // validated with the endpoint.
            Script::new(&steps, skip, endpoint.handshake_timeout).map(|script| (script, app_frame))
        });
        match prepared {
            Ok((script, app_frame)) => {
                self.script = script;
                self.app_frame = app_frame;
            }
            Err(why) => return self.close(CloseCause::ProtocolError, &why),
        }
        for frame in self.proto.on_open() {
            self.queue(frame, CloseCause::PongTimeout, Sent::Nothing);
        }
        if self.proto.is_ready() {
            self.on_connect_pending = false;
            self.run_script();
        } else {
            self.handshake_at = Some(Instant::now() + endpoint.handshake_timeout);
        }
    }

    /// The next frame to write: our protocol ping first (it has a slot of its own, so a bare
    /// WebSocket never allocates a queue), then the queue, which is given back once empty
    /// (most sessions queue a frame a minute or none; 256 bytes kept per session add up).
    fn next_out(&mut self) -> Option<Out> {
        if std::mem::take(&mut self.ping_pending) {
            return Some(Out {
                message: Message::Ping(self.ping_seq.to_be_bytes().to_vec().into()),
                stalled: CloseCause::PongTimeout,
                then: Sent::Ping,
            });
        }
        let out = self.outbox.pop_front();
        if self.outbox.is_empty() && self.outbox.capacity() > 0 {
            self.outbox = VecDeque::new();
        }
        out
    }

    fn queue(&mut self, frame: Frame, stalled: CloseCause, then: Sent) {
        self.outbox.push_back(Out {
            message: to_message(frame),
            stalled,
            then,
        });
    }

    /// A write went out: count data frames, start the round trip a heartbeat starts.
    fn sent(&mut self, data_len: Option<u64>, then: Sent) {
        if let Some(len) = data_len {
            self.stats.messages_out += 1;
            self.stats.bytes_out += len;
        }
        let now = Some(Instant::now());
        match then {
            Sent::Nothing => {}
            Sent::Ping => self.ping_sent = now,
            Sent::Preset => self.preset_sent = now,
            Sent::App => self.app_sent = now,
        }
    }

    /// Queues the steps that are due and arms the deadline of the wait that follows, if any.
    fn run_script(&mut self) {
        let (frames, wait) = self.script.advance();
        for frame in frames {
            self.queue(frame, CloseCause::PongTimeout, Sent::Nothing);
        }
        self.handshake_at = wait.map(|w| Instant::now() + w.within);
    }

    fn exit(&mut self, exit: Exit) {
        self.exit.get_or_insert_with(|| Box::new(exit));
    }

    /// We close for `cause`, with the code that cause calls for.
    fn close(&mut self, cause: CloseCause, reason: &str) {
        let code = match cause {
            CloseCause::User | CloseCause::DurationElapsed | CloseCause::Reconfigured => {
                CloseCode::Normal
            }
            _ => CloseCode::Away,
        };
        self.close_with(cause, code, reason);
    }

    fn close_with(&mut self, cause: CloseCause, code: CloseCode, reason: &str) {
        self.exit(Exit::Close {
            cause,
            code,
            reason: reason.to_owned(),
            refused: None,
        });
    }

    fn on_control(&mut self, control: Option<Control>) {
        let (cause, control) = match control {
            None => (CloseCause::Shutdown, None),
            Some(Control::Resume) => return,
            Some(Control::Stop(cause)) => (cause, Some(Control::Stop(cause))),
            Some(c @ (Control::Pause | Control::Reconnect)) => (CloseCause::User, Some(c)),
            Some(c @ Control::Update(_)) => (CloseCause::Reconfigured, Some(c)),
        };
        self.control = control;
        self.close(cause, cause.as_str());
    }

    fn on_message(&mut self, message: Option<Result<Message, WsError>>, rep: &mut Reporter) {
        let message = match message {
            Some(Ok(m)) => m,
            Some(Err(WsError::Capacity(c))) => {
                let why = capacity_text(&c, self.endpoint.limits);
                return self.close_with(CloseCause::MessageTooBig, CloseCode::Size, &why);
            }
            Some(Err(WsError::Utf8(_))) => {
                return self.close_with(
                    CloseCause::ProtocolError,
                    CloseCode::Invalid,
                    "invalid UTF-8 in a text message",
                )
            }
            Some(Err(WsError::Protocol(p))) if !is_connection_loss(&p) => {
                return self.close_with(
                    CloseCause::ProtocolError,
                    CloseCode::Protocol,
                    &p.to_string(),
                )
            }
            Some(Err(other)) => return self.exit(Exit::End(lost_or_closed(other))),
            None => {
                return self.exit(Exit::End(SessionEnd::Lost {
                    error: "connection closed".into(),
                }))
            }
        };
        match message {
            Message::Pong(payload) => {
                let expected = self.ping_seq.to_be_bytes();
                if let Some(sent) = self.ping_sent.filter(|_| payload.as_ref() == expected) {
                    let rtt = sent.elapsed();
                    self.ping_sent = None;
                    self.pong_misses = 0;
                    self.answered = true;
                    rep.emit(EventKind::Rtt {
                        kind: PingKind::Protocol,
                        rtt,
                    });
                    rep.signal(Signal::Heartbeat { rtt });
                }
            }
            Message::Text(_) | Message::Binary(_) => self.on_data(message, rep),
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                    None => (1005, String::new()),
                };
                // A code the protocol gives a refusal meaning (graphql-ws 4401, Pusher 4009,
                // …) ends the session as that refusal.
                let protocol = self.endpoint.protocol;
                let end = match protocol.close_meaning(code).and_then(|m| m.refusal) {
                    Some(class) => SessionEnd::Refused {
                        protocol,
                        class,
                        code,
                        reason,
                    },
                    None => SessionEnd::ClosedByServer { code, reason },
                };
                self.exit(Exit::Drain(end));
            }
            Message::Ping(_) | Message::Frame(_) => {}
        }
    }

    /// A text or binary message: the protocol's, a script's awaited reply, an application
    /// heartbeat's reply, or the stream the user watches.
    fn on_data(&mut self, message: Message, rep: &mut Reporter) {
        let len = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        self.stats.messages_in += 1;
        self.stats.bytes_in += len as u64;
        let now = Instant::now();
        // Any message is a sign of life: the next server beat is due from now.
        if let Some(d) = self.beat_deadline.filter(|_| self.proto.is_ready()) {
            self.beat_at = Some(now + d);
        }
        // Bodies are looked at only when a preset or a reply rule needs them.
        let frame = (!self.bare || self.app.is_some() || self.script.is_waiting())
            .then(|| to_frame(message));
        let reaction = match (&frame, self.bare) {
            (Some(f), false) => self.proto.on_message(f),
            _ => heartline_core::protocol::Reaction {
                app: true,
                ..Default::default()
            },
        };
        for reply in reaction.replies {
            self.queue(reply, CloseCause::PongTimeout, Sent::Nothing);
        }
        if let Some(d) = reaction.beat_deadline {
            self.beat_deadline = Some(d);
            if self.proto.is_ready() || reaction.ready {
                self.beat_at = Some(now + d);
            }
        }
        if let Some(keep_alive) = reaction.keep_alive.filter(|_| self.preset_next.is_some()) {
            // MQTT 5 Server Keep Alive replaces the keep-alive we asked for: ping well within
            // it, and wait no longer than a ping's period.
            let every =
                heartline_core::protocol::client_beat_within(self.hb.ping_interval, keep_alive);
            tracing::info!(
                endpoint = self.id,
                server_keep_alive_s = keep_alive.as_secs(),
                ping_every_ms = every.as_millis() as u64,
                "the server set the keep-alive"
            );
            if every < self.hb.ping_interval {
                // A new period from now, its first ping at once (as a new ticker's would be).
                self.preset_next = Some(now);
                self.preset_every = every;
                self.preset_timeout = self.preset_timeout.min(every);
            }
        }
        if let Some(refusal) = reaction.refused {
            return self.exit(Exit::Close {
                cause: CloseCause::User,
                code: CloseCode::Normal,
                reason: "refused by the application".to_owned(),
                refused: Some(refusal),
            });
        }
        if reaction.ready {
            self.handshake_at = None;
            self.last_beat = Some(now);
            if let Some(d) = self.beat_deadline {
                self.beat_at = Some(now + d);
            }
            if self.on_connect_pending {
                self.on_connect_pending = false;
                self.run_script();
            }
        } else if self.script.is_waiting() && frame.as_ref().is_some_and(|f| self.script.offer(f)) {
            // The reply the user's script waited for: on to its next steps.
            self.run_script();
        }
        match reaction.beat {
            Some(Beat::Pong) => {
                if let Some(sent) = self.preset_sent.take() {
                    let rtt = sent.elapsed();
                    self.preset_misses = 0;
                    self.answered = true;
                    rep.emit(EventKind::Rtt {
                        kind: PingKind::App,
                        rtt,
                    });
                    rep.signal(Signal::Heartbeat { rtt });
                }
            }
            Some(Beat::Server) => {
                // Answered above; recorded as an interval, never as a round trip.
                let since = self.last_beat.unwrap_or(self.started);
                let interval = now.saturating_duration_since(since);
                let jitter = self
                    .last_interval
                    .map_or(Duration::ZERO, |prev| prev.abs_diff(interval));
                self.last_beat = Some(now);
                self.last_interval = Some(interval);
                self.beat_misses = 0;
                self.answered = true;
                rep.emit(EventKind::ServerBeat { interval, jitter });
            }
            None => {}
        }
        if !reaction.app {
            return;
        }
        if let (Some(sent), Some((_, m)), Some(frame)) = (self.app_sent, self.app, &frame) {
            if m.matches_frame(frame) {
                let rtt = sent.elapsed();
                self.app_sent = None;
                self.app_misses = 0;
                self.answered = true;
                rep.emit(EventKind::Rtt {
                    kind: PingKind::App,
                    rtt,
                });
                rep.signal(Signal::Heartbeat { rtt });
                // A heartbeat reply is not the stream the user expects.
                return;
            }
        }
        self.last_message = Instant::now();
        if self.stale_reported {
            self.stale_reported = false;
            if let Some(s) = self.endpoint.staleness {
                self.stale_at = Some(self.last_message + s.after);
            }
        }
    }

    /// Every deadline, each only while it applies, in the order they are served.
    fn deadlines(&self) -> [(Due, Option<Instant>); 9] {
        let ready = self.proto.is_ready();
        [
            (Due::Pong, self.ping_sent.map(|s| s + self.hb.pong_timeout)),
            (
                Due::AppReply,
                self.app_sent.zip(self.app).map(|(s, (a, _))| s + a.timeout),
            ),
            (
                Due::Handshake,
                self.handshake_at
                    .filter(|_| (self.on_connect_pending && !ready) || self.script.is_waiting()),
            ),
            (
                Due::PresetReply,
                self.preset_sent.map(|s| s + self.preset_timeout),
            ),
            (
                Due::Beat,
                self.beat_at
                    .filter(|_| self.beat_deadline.is_some() && ready),
            ),
            (
                Due::PresetTick,
                self.preset_next
                    .filter(|_| ready && self.preset_sent.is_none()),
            ),
            (Due::Stale, self.stale_at.filter(|_| !self.stale_reported)),
            (Due::Ping, Some(self.ping_next)),
            (Due::AppTick, self.app_next.filter(|_| ready)),
        ]
    }

    /// When the loop must wake next.
    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines().into_iter().filter_map(|(_, at)| at).min()
    }

    /// Serves the first deadline that is due; false when none is yet.
    fn on_timer(&mut self, rep: &mut Reporter) -> bool {
        let now = Instant::now();
        let due = self
            .deadlines()
            .into_iter()
            .find(|(_, at)| at.is_some_and(|at| at <= now))
            .map(|(due, _)| due);
        let Some(due) = due else { return false };
        let hb = self.hb;
        match due {
            Due::Pong => {
                self.ping_sent = None;
                self.pong_misses += 1;
                let missed = self.pong_misses;
                rep.emit(EventKind::PongMissed {
                    kind: PingKind::Protocol,
                    missed,
                });
                if missed > hb.misses_allowed {
                    return self.dead(CloseCause::PongTimeout, "pong timeout");
                }
                rep.signal(Signal::Unwell);
            }
            Due::AppReply => {
                self.app_sent = None;
                self.app_misses += 1;
                let missed = self.app_misses;
                rep.emit(EventKind::PongMissed {
                    kind: PingKind::App,
                    missed,
                });
                let allowed = self.app.map_or(0, |(a, _)| a.misses_allowed);
                if missed > allowed {
                    return self.dead(CloseCause::AppPongTimeout, "application heartbeat timeout");
                }
                rep.signal(Signal::Unwell);
            }
            Due::Handshake => {
                let why = match self.script.waiting() {
                    Some(w) => format!(
                        "no reply matching {} within {} (on_connect[{}])",
                        w.rule,
                        heartline_core::format_duration(w.within),
                        w.step,
                    ),
                    None => format!(
                        "no {} handshake reply within {}",
                        self.endpoint.protocol.as_str(),
                        heartline_core::format_duration(self.endpoint.handshake_timeout)
                    ),
                };
                self.close(CloseCause::ProtocolHandshakeTimeout, &why);
            }
            Due::PresetReply => {
                self.preset_sent = None;
                self.preset_misses += 1;
                let missed = self.preset_misses;
                rep.emit(EventKind::PongMissed {
                    kind: PingKind::App,
                    missed,
                });
                if missed > hb.misses_allowed {
                    let why = format!("{} heartbeat timeout", self.endpoint.protocol.as_str());
                    return self.dead(CloseCause::AppPongTimeout, &why);
                }
                rep.signal(Signal::Unwell);
            }
            Due::Beat => {
                self.beat_misses += 1;
                let missed = self.beat_misses;
                rep.emit(EventKind::PongMissed {
                    kind: PingKind::Server,
                    missed,
                });
                if missed > hb.misses_allowed {
                    return self.dead(CloseCause::ServerBeatMissed, "server heartbeat missed");
                }
                self.beat_at = self.beat_deadline.map(|d| now + d);
                rep.signal(Signal::Unwell);
            }
            Due::PresetTick => {
                self.preset_next = self
                    .preset_next
                    .map(|at| next_tick(at, self.preset_every, now));
                if let Some(frame) = self.proto.ping() {
                    let then = if self.proto.ping_expects_reply() {
                        Sent::Preset
                    } else {
                        Sent::Nothing
                    };
                    self.queue(frame, CloseCause::AppPongTimeout, then);
                }
            }
            Due::Stale => {
                let after = self.endpoint.staleness.map_or(Duration::MAX, |s| s.after);
                let silent = self.last_message.elapsed();
                if silent < after {
                    self.stale_at = Some(self.last_message + after);
                    return true;
                }
                rep.emit(EventKind::Stale { silent });
                if self.endpoint.staleness.is_some_and(|s| s.reconnect) {
                    self.close(CloseCause::Stale, "no message within the staleness window");
                    return true;
                }
                self.stale_reported = true;
                rep.signal(Signal::Unwell);
            }
            Due::Ping => {
                self.ping_next = next_tick(self.ping_next, hb.ping_interval, now);
                self.ping_seq = self.ping_seq.wrapping_add(1);
                self.ping_pending = true;
            }
            // The application heartbeat talks to the application: only once its protocol
            // handshake completed (at once for a bare WebSocket).
            Due::AppTick => match (self.app, &self.app_frame) {
                (Some((cfg, _)), Some(frame)) => {
                    let at = self.app_next.unwrap_or(now);
                    self.app_next = Some(next_tick(at, cfg.interval, now));
                    let frame = frame.clone();
                    self.queue(frame, CloseCause::AppPongTimeout, Sent::App);
                }
                _ => self.app_next = None,
            },
        }
        true
    }

    /// A heartbeat went unanswered once too often: close for `cause` (true: served).
    fn dead(&mut self, cause: CloseCause, reason: &str) -> bool {
        self.close(cause, reason);
        true
    }
}

/// A heartbeat's next tick after the one `due` served at `now`: one period later, or one
/// period from now when the tick was served late, so late ticks are delayed rather than
/// bunched (tokio's `MissedTickBehavior::Delay`, with its 5 ms of grace).
fn next_tick(due: Instant, period: Duration, now: Instant) -> Instant {
    if now.saturating_duration_since(due) > Duration::from_millis(5) {
        now + period
    } else {
        due + period
    }
}

/// The `on_connect` steps and the application heartbeat's frame with their secret values
/// put in. An error (validation refuses these first) names the field and the secret's name.
fn expanded_payloads(endpoint: &Endpoint) -> Result<(Vec<Step>, Option<Frame>), String> {
    let steps = endpoint
        .on_connect
        .iter()
        .enumerate()
        .map(|(i, step)| match step {
            Step::Send(text) => endpoint
                .expand_secrets(text)
                .map(|t| Step::Send(t.into_owned()))
                .map_err(|e| format!("on_connect[{i}]: {e}")),
            expect => Ok(expect.clone()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let app = match &endpoint.app_heartbeat {
        Some(app) => Some(payload(
            &endpoint
                .expand_secrets(&app.payload)
                .map_err(|e| format!("app_heartbeat.payload: {e}"))?,
        )),
        None => None,
    };
    Ok((steps, app))
}

/// A configured payload as a frame: `hex:`/`base64:` are binary (validated with the endpoint).
fn payload(text: &str) -> Frame {
    Frame::parse(text).unwrap_or_else(|_| Frame::Text(text.to_owned()))
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(t) => Message::text(t),
        Frame::Binary(b) => Message::binary(b),
    }
}

fn to_frame(message: Message) -> Frame {
    match message {
        Message::Text(t) => Frame::Text(t.as_str().to_owned()),
        Message::Binary(b) => Frame::Binary(b.to_vec()),
        _ => Frame::Binary(Vec::new()),
    }
}

fn far_future() -> Instant {
    // Far enough never to fire, near enough not to overflow the timer wheel.
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Errors that mean the connection is simply gone (no close frame): 1006.
fn is_connection_loss(p: &ProtocolError) -> bool {
    matches!(p, ProtocolError::ResetWithoutClosingHandshake)
}

fn lost_or_closed(e: WsError) -> SessionEnd {
    let error = match e {
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "connection closed without a close frame".to_owned()
        }
        WsError::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
            std::io::ErrorKind::BrokenPipe => "broken pipe".to_owned(),
            std::io::ErrorKind::UnexpectedEof => "unexpected end of stream".to_owned(),
            _ => io.to_string(),
        },
        WsError::ConnectionClosed | WsError::AlreadyClosed => "connection closed".to_owned(),
        other => other.to_string(),
    };
    SessionEnd::Lost { error }
}

/// The 1009 reason, quoting the limit that applied: tungstenite reports a frame over
/// `max_frame_size` and a message over `max_message_size` alike, with the limit it checked.
fn capacity_text(c: &CapacityError, limits: heartline_core::Limits) -> String {
    match c {
        CapacityError::MessageTooLong { size, max_size } => {
            let (what, key) =
                if *max_size == limits.max_frame_size && *max_size != limits.max_message_size {
                    ("frame", "max_frame_size")
                } else {
                    ("message", "max_message_size")
                };
            format!("{what} of {size} bytes over the {key} limit of {max_size} bytes")
        }
        other => other.to_string(),
    }
}

/// How long to wait for the server's close reply. A peer that stopped answering heartbeats is
/// presumed dead: it gets only a moment before the connection is dropped.
fn close_reply_deadline(cause: CloseCause) -> Duration {
    match cause {
        CloseCause::PongTimeout | CloseCause::AppPongTimeout | CloseCause::ServerBeatMissed => {
            DEAD_PEER_CLOSE_DEADLINE
        }
        _ => CLOSE_REPLY_DEADLINE,
    }
}

/// Sends our close frame and waits a bounded time for the server's answer. A dead peer is
/// abandoned at the deadline: dropping the stream closes the TCP connection.
///
/// Boxed, like [`drain`]: a session closes once, and the closing's state (timers, the close
/// frame) would otherwise be reserved in every session's future for its whole life.
fn close_with<'a>(
    ws: &'a mut WsStream,
    cause: CloseCause,
    code: CloseCode,
    reason: &'a str,
) -> BoxFuture<'a, SessionEnd> {
    Box::pin(closing(ws, cause, code, reason))
}

async fn closing(
    ws: &mut WsStream,
    cause: CloseCause,
    code: CloseCode,
    reason: &str,
) -> SessionEnd {
    // A close frame's reason has room for 123 bytes (RFC 6455 §5.5): the wire gets the
    // longest prefix that fits on a character boundary, the record keeps the whole reason.
    let mut fits = reason.len().min(123);
    while !reason.is_char_boundary(fits) {
        fits -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..fits].to_owned().into(),
    };
    let deadline = Instant::now() + close_reply_deadline(cause);
    let sent = tokio::time::timeout_at(deadline, ws.close(Some(frame))).await;
    let clean = matches!(sent, Ok(Ok(()))) && wait_close_reply(ws, deadline).await;
    SessionEnd::ClosedByClient {
        cause,
        code: u16::from(code),
        reason: reason.to_owned(),
        clean,
    }
}

/// Reads until the server's close frame (true) or the end, an error or the deadline (false).
async fn wait_close_reply(ws: &mut WsStream, deadline: Instant) -> bool {
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
            _ => return false,
        }
    }
}

/// After the server's close frame: flush our reply and read to the end, within a deadline.
fn drain(ws: &mut WsStream) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        let deadline = Instant::now() + CLOSE_REPLY_DEADLINE;
        while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, ws.next()).await {}
    })
}
