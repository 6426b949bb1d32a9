//! One open session: heartbeats, staleness, message counting and exactly one classified end.

use std::pin::pin;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{sleep_until, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use heartline_core::protocol::{Beat, SessionParams};
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
pub(crate) async fn run(
    mut ws: Box<WsStream>,
    endpoint: &Endpoint,
    matcher: Option<&ReplyMatcher>,
    rep: &mut Reporter,
    controls: &mut ControlReceiver,
) -> Outcome {
    let started = Instant::now();
    let mut stats = SessionStats::default();
    let mut answered = false;
    let hb = endpoint.heartbeat;
    // Writes to a peer that stopped reading must not hang the loop: bound each by the
    // pong timeout, the time we would have waited for an answer anyway.
    let write_deadline = hb.pong_timeout;

    let mut last_message = Instant::now();
    // Every way out of the session goes through here, so the stats are finished once.
    macro_rules! ended {
        ($end:expr, $control:expr) => {{
            let now = Instant::now();
            stats.duration = now.saturating_duration_since(started);
            stats.silent_for = now.saturating_duration_since(last_message);
            return Outcome {
                end: $end,
                stats,
                control: $control,
                answered,
            };
        }};
    }

    // Sends one data frame within the write deadline, counting it; ends the session on failure.
    macro_rules! send {
        ($frame:expr, $stalled:expr) => {{
            let frame: Frame = $frame;
            let len = frame.len() as u64;
            match tokio::time::timeout(write_deadline, ws.send(to_message(frame))).await {
                Ok(Ok(())) => {
                    stats.messages_out += 1;
                    stats.bytes_out += len;
                }
                Ok(Err(e)) => ended!(lost_or_closed(e), None),
                Err(_) => {
                    let end = close(&mut ws, $stalled, "write stalled").await;
                    ended!(end, None)
                }
            }
        }};
    }

    // The application protocol: its handshake first; the user's `on_connect` messages wait
    // until it completed (graphql's `subscribe` must not leave before `connection_ack`).
    let mut proto = ProtocolSession::new(
        endpoint.protocol,
        SessionParams {
            host: endpoint.target().map(|t| t.host).unwrap_or_default(),
            client_id: format!("heartline{}x{}", std::process::id(), rep.endpoint_id().0),
            heartbeat: hb.ping_interval,
        },
    );
    let bare = endpoint.protocol == Protocol::WebSocket;
    // Payloads with their `{{secret:NAME}}` placeholders filled, right before they are
    // framed. This text goes on the wire only: never into an event, a close reason or a log
    // (an error names the step and the secret's name, never a value).
    //
    // The expanded steps only live until they are compiled into the script: nothing of them
    // stays in the session's state (a session is one future per endpoint, kept small).
    let prepared = expanded_payloads(endpoint).and_then(|(steps, app_frame)| {
        // A first `on_connect` message that is the protocol's own handshake message (auth in
        // a Socket.IO `40{…}` or a graphql `connection_init`) replaces the preset's.
        let skip = match steps.first() {
            Some(Step::Send(first)) if !bare && proto.take_init(&payload(first)) => 1,
            _ => 0,
        };
        // The user's conversation (sends, and waits for the replies they expect), validated
        // with the endpoint.
        Script::new(&steps, skip, endpoint.handshake_timeout).map(|script| (script, app_frame))
    });
    let (mut script, app_frame) = match prepared {
        Ok(prepared) => prepared,
        Err(why) => {
            let end = close(&mut ws, CloseCause::ProtocolError, &why).await;
            ended!(end, None)
        }
    };

    for frame in proto.on_open() {
        send!(frame, CloseCause::PongTimeout);
    }
    let mut on_connect_pending = true;
    let mut handshake_deadline = pin!(sleep_until(if proto.is_ready() {
        far_future()
    } else {
        Instant::now() + endpoint.handshake_timeout
    }));
    // Sends the steps that are due and arms the deadline of the wait that follows, if any.
    // The script's waits start once the protocol's handshake is done, so they share its
    // deadline timer.
    macro_rules! run_script {
        () => {{
            let (frames, wait) = script.advance();
            for frame in frames {
                send!(frame, CloseCause::PongTimeout);
            }
            handshake_deadline
                .as_mut()
                .reset(wait.map_or_else(far_future, |w| Instant::now() + w.within));
        }};
    }
    if proto.is_ready() {
        on_connect_pending = false;
        run_script!();
    }

    // The preset's own client heartbeat (graphql `ping`, MQTT PINGREQ, …): a round trip,
    // measured from send to the matching reply.
    let preset_pings = proto.has_client_ping();
    // Only when there is such a heartbeat: an interval allocates its timer.
    let mut preset_tick = preset_pings.then(|| heartbeat_interval(hb.ping_interval));
    // How long each of those pings waits for its reply: the pong timeout, shortened when the
    // server sets a keep-alive that needs more frequent pings.
    let mut preset_timeout = hb.pong_timeout;
    let mut preset_sent: Option<Instant> = None;
    let mut preset_misses: u32 = 0;
    let mut preset_deadline = pin!(sleep_until(far_future()));

    // The server's own heartbeat: intervals between beats, and a deadline for the next sign
    // of life, learnt from the protocol (Engine.IO's open packet) or the preset's default.
    let mut beat_deadline = proto.default_beat_deadline();
    let mut last_beat: Option<Instant> = None;
    let mut last_interval: Option<Duration> = None;
    let mut beat_misses: u32 = 0;
    let mut beat_timer = pin!(sleep_until(far_future()));

    // Protocol heartbeat: the first ping goes out at once so RTT and Up arrive immediately.
    let mut ping_tick = heartbeat_interval(hb.ping_interval);
    let mut ping_seq: u64 = 0;
    let mut ping_sent: Option<Instant> = None;
    let mut pong_misses: u32 = 0;
    let mut pong_deadline = pin!(sleep_until(far_future()));

    // Application heartbeat.
    let app = endpoint.app_heartbeat.as_ref().zip(matcher);
    let mut app_tick = app.map(|(a, _)| heartbeat_interval(a.interval));
    let mut app_sent: Option<Instant> = None;
    let mut app_misses: u32 = 0;
    let mut app_deadline = pin!(sleep_until(far_future()));

    // Staleness: re-armed lazily from `last_message` so a busy stream costs no timer churn.
    let staleness = endpoint.staleness;
    let mut stale_reported = false;
    let mut stale_timer = pin!(sleep_until(
        staleness.map_or(far_future(), |s| last_message + s.after)
    ));

    loop {
        tokio::select! {
            biased;

            control = controls.recv() => {
                let (cause, control) = match control {
                    None => (CloseCause::Shutdown, None),
                    Some(Control::Resume) => continue,
                    Some(Control::Stop(cause)) => (cause, Some(Control::Stop(cause))),
                    Some(c @ (Control::Pause | Control::Reconnect)) => (CloseCause::User, Some(c)),
                    Some(c @ Control::Update(_)) => (CloseCause::Reconfigured, Some(c)),
                };
                let end = close(&mut ws, cause, cause.as_str()).await;
                ended!(end, control)
            }

            message = ws.next() => {
                let message = match message {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        let end = match e {
                            WsError::Capacity(c) => {
                                let why = capacity_text(&c, endpoint.limits);
                                close_with(&mut ws, CloseCause::MessageTooBig, CloseCode::Size, &why).await
                            }
                            WsError::Utf8(_) => {
                                close_with(&mut ws, CloseCause::ProtocolError, CloseCode::Invalid, "invalid UTF-8 in a text message").await
                            }
                            WsError::Protocol(p) if !is_connection_loss(&p) => {
                                let why = p.to_string();
                                close_with(&mut ws, CloseCause::ProtocolError, CloseCode::Protocol, &why).await
                            }
                            other => lost_or_closed(other),
                        };
                        ended!(end, None)
                    }
                    None => {
                        ended!(SessionEnd::Lost { error: "connection closed".into() }, None)
                    }
                };
                match message {
                    Message::Pong(payload) => {
                        let expected = ping_seq.to_be_bytes();
                        if let Some(sent) = ping_sent.filter(|_| payload.as_ref() == expected) {
                            let rtt = sent.elapsed();
                            ping_sent = None;
                            pong_misses = 0;
                            pong_deadline.as_mut().reset(far_future());
                            answered = true;
                            rep.emit(EventKind::Rtt { kind: PingKind::Protocol, rtt });
                            rep.signal(Signal::Heartbeat { rtt });
                        }
                    }
                    Message::Text(_) | Message::Binary(_) => {
                        let len = match &message {
                            Message::Text(t) => t.len(),
                            Message::Binary(b) => b.len(),
                            _ => 0,
                        };
                        stats.messages_in += 1;
                        stats.bytes_in += len as u64;
                        let now = Instant::now();
                        // Any message is a sign of life: the next server beat is due from now.
                        if let Some(d) = beat_deadline.filter(|_| proto.is_ready()) {
                            beat_timer.as_mut().reset(now + d);
                        }
                        // Bodies are looked at only when a preset or a reply rule needs them.
                        let frame = (!bare || app.is_some() || script.is_waiting()).then(|| to_frame(message));
                        let reaction = match (&frame, bare) {
                            (Some(f), false) => proto.on_message(f),
                            _ => heartline_core::protocol::Reaction { app: true, ..Default::default() },
                        };
                        for reply in reaction.replies {
                            send!(reply, CloseCause::PongTimeout);
                        }
                        if let Some(d) = reaction.beat_deadline {
                            beat_deadline = Some(d);
                            if proto.is_ready() || reaction.ready {
                                beat_timer.as_mut().reset(now + d);
                            }
                        }
                        if let (Some(keep_alive), Some(ticker)) = (reaction.keep_alive, preset_tick.as_mut()) {
                            // MQTT 5 Server Keep Alive replaces the keep-alive we asked for:
                            // ping well within it, and wait no longer than a ping's period.
                            let every = heartline_core::protocol::client_beat_within(hb.ping_interval, keep_alive);
                            tracing::info!(
                                endpoint = rep.endpoint_id().0,
                                server_keep_alive_s = keep_alive.as_secs(),
                                ping_every_ms = every.as_millis() as u64,
                                "the server set the keep-alive"
                            );
                            if every < hb.ping_interval {
                                *ticker = heartbeat_interval(every);
                                preset_timeout = preset_timeout.min(every);
                            }
                        }
                        if let Some(refusal) = reaction.refused {
                            let end = close(&mut ws, CloseCause::User, "refused by the application").await;
                            ended!(SessionEnd::Refused {
                                protocol: endpoint.protocol,
                                class: refusal.class,
                                code: end.code(),
                                reason: refusal.reason,
                            }, None)
                        }
                        if reaction.ready {
                            handshake_deadline.as_mut().reset(far_future());
                            last_beat = Some(now);
                            if let Some(d) = beat_deadline {
                                beat_timer.as_mut().reset(now + d);
                            }
                            if on_connect_pending {
                                on_connect_pending = false;
                                run_script!();
                            }
                        } else if script.is_waiting() && frame.as_ref().is_some_and(|f| script.offer(f)) {
                            // The reply the user's script waited for: on to its next steps.
                            run_script!();
                        }
                        match reaction.beat {
                            Some(Beat::Pong) => {
                                if let Some(sent) = preset_sent.take() {
                                    let rtt = sent.elapsed();
                                    preset_misses = 0;
                                    preset_deadline.as_mut().reset(far_future());
                                    answered = true;
                                    rep.emit(EventKind::Rtt { kind: PingKind::App, rtt });
                                    rep.signal(Signal::Heartbeat { rtt });
                                }
                            }
                            Some(Beat::Server) => {
                                // Answered above; recorded as an interval, never as a round trip.
                                let since = last_beat.unwrap_or(started);
                                let interval = now.saturating_duration_since(since);
                                let jitter = last_interval.map_or(Duration::ZERO, |prev| prev.abs_diff(interval));
                                last_beat = Some(now);
                                last_interval = Some(interval);
                                beat_misses = 0;
                                answered = true;
                                rep.emit(EventKind::ServerBeat { interval, jitter });
                            }
                            None => {}
                        }
                        if !reaction.app {
                            continue;
                        }
                        if let (Some(sent), Some((_, m)), Some(frame)) = (app_sent, app, &frame) {
                            if m.matches_frame(frame) {
                                let rtt = sent.elapsed();
                                app_sent = None;
                                app_misses = 0;
                                app_deadline.as_mut().reset(far_future());
                                answered = true;
                                rep.emit(EventKind::Rtt { kind: PingKind::App, rtt });
                                rep.signal(Signal::Heartbeat { rtt });
                                // A heartbeat reply is not the stream the user expects.
                                continue;
                            }
                        }
                        last_message = Instant::now();
                        if stale_reported {
                            stale_reported = false;
                            if let Some(s) = staleness {
                                stale_timer.as_mut().reset(last_message + s.after);
                            }
                        }
                    }
                    Message::Close(frame) => {
                        let (code, reason) = match frame {
                            Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                            None => (1005, String::new()),
                        };
                        // tungstenite has queued our answering close frame; let it go out and
                        // the server end the TCP connection, within a deadline.
                        drain(&mut ws).await;
                        // A code the protocol gives a refusal meaning (graphql-ws 4401, Pusher
                        // 4009, …) ends the session as that refusal.
                        let refusal = endpoint.protocol.close_meaning(code).and_then(|m| m.refusal);
                        let end = match refusal {
                            Some(class) => SessionEnd::Refused { protocol: endpoint.protocol, class, code, reason },
                            None => SessionEnd::ClosedByServer { code, reason },
                        };
                        ended!(end, None)
                    }
                    Message::Ping(_) | Message::Frame(_) => {}
                }
            }

            _ = &mut pong_deadline, if ping_sent.is_some() => {
                ping_sent = None;
                pong_deadline.as_mut().reset(far_future());
                pong_misses += 1;
                rep.emit(EventKind::PongMissed { kind: PingKind::Protocol, missed: pong_misses });
                if pong_misses > hb.misses_allowed {
                    let end = close(&mut ws, CloseCause::PongTimeout, "pong timeout").await;
                    ended!(end, None)
                }
                rep.signal(Signal::Unwell);
            }

            _ = &mut app_deadline, if app_sent.is_some() => {
                app_sent = None;
                app_deadline.as_mut().reset(far_future());
                app_misses += 1;
                rep.emit(EventKind::PongMissed { kind: PingKind::App, missed: app_misses });
                let allowed = app.map_or(0, |(a, _)| a.misses_allowed);
                if app_misses > allowed {
                    let end = close(&mut ws, CloseCause::AppPongTimeout, "application heartbeat timeout").await;
                    ended!(end, None)
                }
                rep.signal(Signal::Unwell);
            }

            // The protocol's handshake, then the script's waits, on one timer.
            _ = &mut handshake_deadline, if (on_connect_pending && !proto.is_ready()) || script.is_waiting() => {
                let why = match script.waiting() {
                    Some(w) => format!(
                        "no reply matching {} within {} (on_connect[{}])",
                        w.rule,
                        heartline_core::format_duration(w.within),
                        w.step,
                    ),
                    None => format!("no {} handshake reply within {}", endpoint.protocol.as_str(), heartline_core::format_duration(endpoint.handshake_timeout)),
                };
                let end = close(&mut ws, CloseCause::ProtocolHandshakeTimeout, &why).await;
                ended!(end, None)
            }

            _ = &mut preset_deadline, if preset_sent.is_some() => {
                preset_sent = None;
                preset_deadline.as_mut().reset(far_future());
                preset_misses += 1;
                rep.emit(EventKind::PongMissed { kind: PingKind::App, missed: preset_misses });
                if preset_misses > hb.misses_allowed {
                    let why = format!("{} heartbeat timeout", endpoint.protocol.as_str());
                    let end = close(&mut ws, CloseCause::AppPongTimeout, &why).await;
                    ended!(end, None)
                }
                rep.signal(Signal::Unwell);
            }

            _ = &mut beat_timer, if beat_deadline.is_some() && proto.is_ready() => {
                beat_misses += 1;
                rep.emit(EventKind::PongMissed { kind: PingKind::Server, missed: beat_misses });
                if beat_misses > hb.misses_allowed {
                    let end = close(&mut ws, CloseCause::ServerBeatMissed, "server heartbeat missed").await;
                    ended!(end, None)
                }
                if let Some(d) = beat_deadline {
                    beat_timer.as_mut().reset(Instant::now() + d);
                }
                rep.signal(Signal::Unwell);
            }

            () = tick(&mut preset_tick), if preset_pings && proto.is_ready() && preset_sent.is_none() => {
                if let Some(frame) = proto.ping() {
                    send!(frame, CloseCause::AppPongTimeout);
                    if proto.ping_expects_reply() {
                        let now = Instant::now();
                        preset_sent = Some(now);
                        preset_deadline.as_mut().reset(now + preset_timeout);
                    }
                }
            }

            _ = &mut stale_timer, if staleness.is_some() && !stale_reported => {
                let after = staleness.map_or(Duration::MAX, |s| s.after);
                let silent = last_message.elapsed();
                if silent < after {
                    stale_timer.as_mut().reset(last_message + after);
                    continue;
                }
                rep.emit(EventKind::Stale { silent });
                if staleness.is_some_and(|s| s.reconnect) {
                    let end = close(&mut ws, CloseCause::Stale, "no message within the staleness window").await;
                    ended!(end, None)
                }
                stale_reported = true;
                rep.signal(Signal::Unwell);
            }

            _ = ping_tick.tick() => {
                ping_seq = ping_seq.wrapping_add(1);
                let payload = ping_seq.to_be_bytes().to_vec();
                match tokio::time::timeout(write_deadline, ws.send(Message::Ping(payload.into()))).await {
                    Ok(Ok(())) => {
                        let now = Instant::now();
                        ping_sent = Some(now);
                        pong_deadline.as_mut().reset(now + hb.pong_timeout);
                    }
                    Ok(Err(e)) => ended!(lost_or_closed(e), None),
                    Err(_) => {
                        let end = close(&mut ws, CloseCause::PongTimeout, "write stalled").await;
                        ended!(end, None)
                    }
                }
            }

            // The application heartbeat talks to the application: only once its protocol
            // handshake completed (at once for a bare WebSocket).
            () = tick(&mut app_tick), if app.is_some() && proto.is_ready() => {
                let (Some((cfg, _)), Some(frame)) = (app, &app_frame) else { continue };
                send!(frame.clone(), CloseCause::AppPongTimeout);
                let now = Instant::now();
                app_sent = Some(now);
                app_deadline.as_mut().reset(now + cfg.timeout);
            }
        }
    }
}

/// A heartbeat's ticker: the first tick at once, later ones delayed rather than bunched.
fn heartbeat_interval(period: Duration) -> Interval {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// The next tick of a heartbeat that may not be configured (then never).
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
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

/// Closes the session from our side for `cause`, with the code that cause calls for.
async fn close(ws: &mut WsStream, cause: CloseCause, reason: &str) -> SessionEnd {
    let code = match cause {
        CloseCause::User | CloseCause::DurationElapsed | CloseCause::Reconfigured => {
            CloseCode::Normal
        }
        _ => CloseCode::Away,
    };
    close_with(ws, cause, code, reason).await
}

/// Sends our close frame and waits a bounded time for the server's answer. A dead peer is
/// abandoned at the deadline: dropping the stream closes the TCP connection.
async fn close_with(
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
async fn drain(ws: &mut WsStream) {
    let deadline = Instant::now() + CLOSE_REPLY_DEADLINE;
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, ws.next()).await {}
}
