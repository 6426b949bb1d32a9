//! What an accepted WebSocket session does: echo, close, drop, mute, tick, ...
//!
//! One task per session runs [`run`]: a single loop that reads the client (which also lets
//! tungstenite answer pings) and wakes up on one timer for whatever is due next (scheduled
//! ending, idle timeout, delayed echo, next tick).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame, Utf8Bytes};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use crate::hostile;
use crate::scenario::{BadClose, Scenario};
use crate::state::{truncate_text, Shared};
use crate::stream::{peer_gone, set_reset_on_close, Prefixed, Transport};
use crate::LabRecord;

/// Most delayed echoes queued per session; more are dropped.
pub(crate) const MAX_PENDING_ECHOES: usize = 64;
/// How long a muted session is held open at most.
pub(crate) const MUTE_LIMIT: Duration = Duration::from_secs(600);
/// How long we wait for the client's close frame after sending ours.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a graceful transport shutdown (TLS close_notify, FIN) may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// Most ticks sent in one burst when the timer fell behind.
const MAX_TICK_BURST: u32 = 1_000;

type Ws<S> = WebSocketStream<Prefixed<S>>;

/// Runs the session until it is over, then disposes of the connection as the scenario says.
pub(crate) async fn run<S: Transport>(
    conn: u64,
    mut ws: Ws<S>,
    scenario: &Scenario,
    up_until: Option<Instant>,
    shared: &Shared,
) {
    let mut session = Session::new(conn, scenario, up_until, shared);
    let outcome = match session.open(&mut ws, scenario).await {
        Ok(()) => session.drive(&mut ws).await,
        Err(err) => {
            debug!(conn, %err, "opening message failed");
            Outcome::Failed
        }
    };
    match outcome {
        Outcome::Closed => {
            // The close handshake is complete: close TLS (close_notify) and TCP (FIN).
            let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, ws.get_mut().shutdown()).await;
        }
        Outcome::Drop { rst } => {
            debug!(conn, rst, "dropping the connection without a close frame");
            if rst {
                set_reset_on_close(ws.get_ref().inner().tcp());
            }
        }
        Outcome::Mute => {
            debug!(conn, "muted: not reading any more");
            tokio::select! {
                () = tokio::time::sleep(MUTE_LIMIT) => debug!(conn, "mute limit reached"),
                () = peer_gone(ws.get_ref().inner().tcp()) => debug!(conn, "muted peer went away"),
            }
        }
        Outcome::Failed => {}
    }
}

/// How a session ended.
enum Outcome {
    /// The close handshake completed (either side started it).
    Closed,
    /// Drop the TCP connection without a close frame.
    Drop { rst: bool },
    /// Stop reading but keep the connection.
    Mute,
    /// An I/O or protocol error; just drop the connection.
    Failed,
}

/// What to do when the scheduled moment comes.
#[derive(Debug, Clone)]
enum Ending {
    Close(Option<CloseFrame>),
    /// A close frame tungstenite would not send, written to the transport as it is.
    RawClose(BadClose),
    Drop {
        rst: bool,
    },
    Mute,
}

struct Echo {
    delay: Duration,
    reply: Option<Utf8Bytes>,
}

struct Idle {
    after: Duration,
    ignore_pings: bool,
    close: bool,
    deadline: Instant,
}

enum TickPayload {
    /// `tick N`, counting from 1.
    Counter,
    /// The same text every time.
    Fixed(Utf8Bytes),
}

struct Ticks {
    interval: Duration,
    next: Instant,
    until: Option<Instant>,
    sent: u64,
    payload: TickPayload,
}

struct Session<'a> {
    conn: u64,
    shared: &'a Shared,
    echo: Option<Echo>,
    end: Option<(Instant, Ending)>,
    idle: Option<Idle>,
    ticks: Option<Ticks>,
    pending: VecDeque<(Instant, Message)>,
    /// A close frame went out (ours or tungstenite's reply); nothing more may be sent.
    closing: bool,
}

impl<'a> Session<'a> {
    fn new(conn: u64, scenario: &Scenario, up_until: Option<Instant>, shared: &'a Shared) -> Self {
        let now = Instant::now();
        let at = |d: Duration| now.checked_add(d);
        let plain_echo = || {
            Some(Echo {
                delay: Duration::ZERO,
                reply: None,
            })
        };
        let mut s = Session {
            conn,
            shared,
            echo: None,
            end: None,
            idle: None,
            ticks: None,
            pending: VecDeque::new(),
            closing: false,
        };
        match scenario {
            Scenario::Echo { delay, reply } => {
                s.echo = Some(Echo {
                    delay: *delay,
                    reply: reply.as_deref().map(Utf8Bytes::from),
                });
            }
            Scenario::Close {
                after,
                code,
                reason,
            } => {
                s.echo = plain_echo();
                let frame = code.map(|code| CloseFrame {
                    code: CloseCode::from(code),
                    reason: Utf8Bytes::from(reason.as_str()),
                });
                s.end = at(*after).map(|t| (t, Ending::Close(frame)));
            }
            Scenario::Drop { after, rst } => {
                s.echo = plain_echo();
                s.end = at(*after).map(|t| (t, Ending::Drop { rst: *rst }));
            }
            Scenario::Mute { after } => {
                s.echo = plain_echo();
                s.end = at(*after).map(|t| (t, Ending::Mute));
            }
            Scenario::Silent { rate, after } => {
                s.ticks = Some(Ticks::new(now, *rate, at(*after), TickPayload::Counter));
            }
            Scenario::Stream { rate, size } => {
                let text = Utf8Bytes::from("x".repeat(*size));
                s.ticks = Some(Ticks::new(now, *rate, None, TickPayload::Fixed(text)));
            }
            Scenario::Idle {
                after,
                ignore_pings,
                close,
            } => {
                s.echo = plain_echo();
                if let Some(deadline) = at(*after) {
                    s.idle = Some(Idle {
                        after: *after,
                        ignore_pings: *ignore_pings,
                        close: *close,
                        deadline,
                    });
                }
            }
            Scenario::Flap { .. } => {
                s.echo = plain_echo();
                s.end = up_until.map(|t| (t, Ending::Drop { rst: false }));
            }
            Scenario::BadClose { after, kind } => {
                s.echo = plain_echo();
                s.end = at(*after).map(|t| (t, Ending::RawClose(*kind)));
            }
            Scenario::Slow { .. }
            | Scenario::Oversized { .. }
            | Scenario::Deflate { .. }
            | Scenario::ManyHeaders { .. }
            | Scenario::HugeHeader { .. } => s.echo = plain_echo(),
            // Rejections and endless headers never get here; keep reading like invalid-utf8.
            Scenario::InvalidUtf8
            | Scenario::Reject { .. }
            | Scenario::Unauthorized { .. }
            | Scenario::EndlessHeaders { .. } => {}
        }
        s
    }

    /// Sends whatever the scenario sends right after the handshake.
    async fn open<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
        scenario: &Scenario,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        match scenario {
            Scenario::Oversized { size } => {
                debug!(conn = self.conn, size, "sending oversized binary message");
                // Nothing has been sent yet, so tungstenite's write buffer is empty and we may
                // write one raw, unmasked binary frame straight to the transport, streaming
                // the payload from a static buffer instead of allocating it.
                write_zero_binary_frame(ws.get_mut(), *size).await?;
            }
            Scenario::Deflate { size } => {
                debug!(conn = self.conn, size, "sending a permessage-deflate bomb");
                // Nothing sent yet, as for `/oversized`: tungstenite would refuse to write a
                // frame with RSV1 set, so it goes straight to the transport.
                let frame = hostile::deflate_frame(*size);
                let transport = ws.get_mut();
                transport.write_all(&frame).await?;
                transport.flush().await?;
            }
            Scenario::InvalidUtf8 => {
                let payload = Bytes::from_static(&[0xC3, 0x28]);
                let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
                ws.send(Message::Frame(frame)).await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn drive<S: Transport>(&mut self, ws: &mut Ws<S>) -> Outcome {
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        loop {
            let next = self.next_deadline();
            if let Some(next) = next {
                if timer.deadline().into_std() != next {
                    timer.as_mut().reset(next.into());
                }
            }
            tokio::select! {
                incoming = ws.next() => match incoming {
                    None => return Outcome::Closed,
                    Some(Err(err)) => {
                        debug!(conn = self.conn, %err, "read failed");
                        return Outcome::Failed;
                    }
                    Some(Ok(msg)) => {
                        if let Err(err) = self.on_message(ws, msg).await {
                            debug!(conn = self.conn, %err, "write failed");
                            return Outcome::Failed;
                        }
                    }
                },
                () = &mut timer, if next.is_some() => {
                    match self.on_timer(ws).await {
                        Ok(Some(outcome)) => return outcome,
                        Ok(None) => {}
                        Err(err) => {
                            debug!(conn = self.conn, %err, "write failed");
                            return Outcome::Failed;
                        }
                    }
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.end.as_ref().map(|(t, _)| *t),
            self.idle.as_ref().map(|i| i.deadline),
            self.pending.front().map(|(t, _)| *t),
            self.ticks.as_ref().map(|t| t.next),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn on_message<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
        msg: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let conn = self.conn;
        let is_ping = matches!(msg, Message::Ping(_));
        if let Some(idle) = &mut self.idle {
            if !(is_ping && idle.ignore_pings) {
                idle.deadline = Instant::now()
                    .checked_add(idle.after)
                    .unwrap_or(idle.deadline);
            }
        }
        match &msg {
            Message::Text(text) => {
                self.shared.record(LabRecord::Text {
                    conn,
                    text: truncate_text(text.as_str()),
                });
            }
            Message::Binary(data) => self.shared.record(LabRecord::Binary {
                conn,
                len: data.len(),
            }),
            Message::Ping(_) => {
                self.shared.record(LabRecord::Ping { conn });
                // Tungstenite queued the pong while reading; it would go out on the next read,
                // but flush now so it never waits behind anything.
                return ws.flush().await;
            }
            Message::Pong(_) | Message::Frame(_) => return Ok(()),
            Message::Close(frame) => {
                self.shared.record(LabRecord::CloseReceived {
                    conn,
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame
                        .as_ref()
                        .map(|f| f.reason.to_string())
                        .unwrap_or_default(),
                });
                // Tungstenite replies (or already completed the handshake we started); the
                // next read ends the stream.
                self.stop_sending();
                return Ok(());
            }
        }
        let Some(echo) = &self.echo else {
            return Ok(());
        };
        if self.closing {
            return Ok(());
        }
        let reply = match &echo.reply {
            Some(text) => Message::Text(text.clone()),
            None => msg,
        };
        if echo.delay.is_zero() {
            ws.send(reply).await
        } else if self.pending.len() < MAX_PENDING_ECHOES {
            let due = Instant::now()
                .checked_add(echo.delay)
                .unwrap_or_else(Instant::now);
            self.pending.push_back((due, reply));
            Ok(())
        } else {
            debug!(conn, "too many delayed echoes pending; dropping one");
            Ok(())
        }
    }

    async fn on_timer<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
    ) -> Result<Option<Outcome>, tokio_tungstenite::tungstenite::Error> {
        let now = Instant::now();
        if let Some((at, ending)) = &self.end {
            if *at <= now {
                match ending.clone() {
                    Ending::Close(frame) => self.start_close(ws, frame, now).await?,
                    Ending::RawClose(kind) => self.raw_close(ws, kind, now).await?,
                    Ending::Drop { rst } => return Ok(Some(Outcome::Drop { rst })),
                    Ending::Mute => return Ok(Some(Outcome::Mute)),
                }
            }
        }
        if let Some(idle) = &self.idle {
            if idle.deadline <= now {
                debug!(conn = self.conn, "idle timeout");
                if !idle.close {
                    return Ok(Some(Outcome::Drop { rst: false }));
                }
                let frame = CloseFrame {
                    code: CloseCode::Away,
                    reason: "idle timeout".into(),
                };
                self.start_close(ws, Some(frame), now).await?;
            }
        }
        let mut wrote = false;
        while self.pending.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, msg)) = self.pending.pop_front() {
                ws.feed(msg).await?;
                wrote = true;
            }
        }
        if let Some(ticks) = &mut self.ticks {
            wrote |= ticks.send_due(ws, now).await?;
            if ticks.until.is_some_and(|until| ticks.next > until) {
                debug!(conn = self.conn, sent = ticks.sent, "ticks over");
                self.ticks = None;
            }
        }
        if wrote {
            ws.flush().await?;
        }
        Ok(None)
    }

    /// Sends our close frame and waits (bounded) for the client's reply.
    async fn start_close<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
        frame: Option<CloseFrame>,
        now: Instant,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        debug!(conn = self.conn, ?frame, "sending close frame");
        self.stop_sending();
        self.end = now
            .checked_add(CLOSE_HANDSHAKE_TIMEOUT)
            .map(|t| (t, Ending::Drop { rst: false }));
        ws.send(Message::Close(frame)).await
    }

    /// Writes a malformed close frame past tungstenite, then waits (bounded) for whatever the
    /// client does about it: its own close frame (which tungstenite answers), or leaving.
    async fn raw_close<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
        kind: BadClose,
        now: Instant,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        debug!(conn = self.conn, ?kind, "sending a malformed close frame");
        self.stop_sending();
        self.end = now
            .checked_add(CLOSE_HANDSHAKE_TIMEOUT)
            .map(|t| (t, Ending::Drop { rst: false }));
        // Whatever tungstenite holds (a pong) goes first, so the raw bytes do not split a frame.
        ws.flush().await?;
        let transport = ws.get_mut();
        transport
            .write_all(&hostile::raw_close_frame(&kind.payload()))
            .await?;
        transport.flush().await?;
        Ok(())
    }

    /// After a close frame nothing else may be sent; forget everything scheduled.
    fn stop_sending(&mut self) {
        self.closing = true;
        self.echo = None;
        self.idle = None;
        self.ticks = None;
        self.pending.clear();
        if matches!(
            self.end,
            Some((_, Ending::Close(_) | Ending::RawClose(_) | Ending::Mute))
        ) {
            self.end = None;
        }
    }
}

impl Ticks {
    fn new(now: Instant, rate: u32, until: Option<Instant>, payload: TickPayload) -> Self {
        let interval = Duration::from_secs(1) / rate.max(1);
        Self {
            interval,
            next: now + interval,
            until,
            sent: 0,
            payload,
        }
    }

    /// Queues every tick that is due (at most a burst's worth). Returns whether it wrote.
    async fn send_due<S: Transport>(
        &mut self,
        ws: &mut Ws<S>,
        now: Instant,
    ) -> Result<bool, tokio_tungstenite::tungstenite::Error> {
        let mut burst = 0;
        while self.next <= now && self.until.is_none_or(|until| self.next <= until) {
            if burst == MAX_TICK_BURST {
                break;
            }
            self.sent += 1;
            let msg = match &self.payload {
                TickPayload::Counter => Message::text(format!("tick {}", self.sent)),
                TickPayload::Fixed(text) => Message::Text(text.clone()),
            };
            ws.feed(msg).await?;
            self.next += self.interval;
            burst += 1;
        }
        // Far behind (slow client or a stalled runtime): skip ahead instead of flooding.
        if now.saturating_duration_since(self.next) > Duration::from_secs(1) {
            self.next = now + self.interval;
        }
        Ok(burst > 0)
    }
}

/// Writes one unfragmented, unmasked binary frame of `size` zero bytes.
async fn write_zero_binary_frame<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    size: usize,
) -> std::io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    w.write_all(&binary_frame_header(size)).await?;
    let mut left = size;
    while left > 0 {
        let n = left.min(ZEROS.len());
        w.write_all(&ZEROS[..n]).await?;
        left -= n;
    }
    w.flush().await
}

/// Header of a final, unmasked binary frame with a payload of `len` bytes.
fn binary_frame_header(len: usize) -> Vec<u8> {
    hostile::frame_header(0x82, len) // FIN + opcode 2 (binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers() {
        assert_eq!(binary_frame_header(5), vec![0x82, 5]);
        assert_eq!(binary_frame_header(125), vec![0x82, 125]);
        assert_eq!(binary_frame_header(126), vec![0x82, 126, 0, 126]);
        assert_eq!(binary_frame_header(65_535), vec![0x82, 126, 0xff, 0xff]);
        assert_eq!(
            binary_frame_header(65_536),
            vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[tokio::test]
    async fn zero_frame_is_complete() {
        let mut out = Vec::new();
        write_zero_binary_frame(&mut out, 70_000).await.unwrap();
        assert_eq!(out.len(), 10 + 70_000);
        assert!(out[10..].iter().all(|&b| b == 0));
    }
}
