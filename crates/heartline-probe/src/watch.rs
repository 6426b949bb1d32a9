//! Watching one endpoint for as long as asked: connect, run the session, classify its end,
//! back off, reconnect — while obeying pause, resume, reconnect-now, update and stop.

use std::sync::Arc;
use std::time::SystemTime;

use heartline_core::{
    CloseCause, Ended, Endpoint, EndpointId, Event, EventKind, HandshakeFailure, Health, Redactor,
    ReplyMatcher, Retry, SessionEnd, Signal, Timestamp,
};

use crate::connect::{Connector, Resolve};
use crate::{session, ControlReceiver, Error, Result};

/// Where a watched endpoint's events go (the trait lives in heartline-core so that its
/// implementors, the store's recorder and the metrics, need not depend on the probe).
pub use heartline_core::Sink;

/// Instructions to a running watch.
#[derive(Debug)]
pub enum Control {
    /// Close the session (cause: user) and wait for `Resume`.
    Pause,
    Resume,
    /// Close the current session (cause: user) or skip the backoff wait, and connect now.
    Reconnect,
    /// Replace the endpoint's configuration; the session restarts (cause: reconfigured).
    Update(Box<Probe>),
    /// Close with this cause and end the watch.
    Stop(CloseCause),
}

/// A validated endpoint ready to be watched: configuration, connector and compiled rules.
///
/// Invariant: every event a watch emits carries outside text (close reasons, handshake and
/// network errors, give-up reasons that quote them, subprotocol and extensions) already
/// cleaned with the endpoint's [`Redactor`] — its secrets masked, its length bounded — so
/// sinks, the store, exports and screens never see an echoed credential. Rendering for a
/// person still escapes control characters.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Shared with whoever keeps the configuration (the engine): one copy per endpoint.
    endpoint: Arc<Endpoint>,
    connector: Connector,
    matcher: Option<ReplyMatcher>,
}

impl Probe {
    /// Validates the endpoint and prepares TLS and the handshake request.
    pub fn new(endpoint: Endpoint, resolver: Arc<dyn Resolve>) -> Result<Self> {
        let connector = Connector::new(&endpoint, resolver)?;
        let matcher = match &endpoint.app_heartbeat {
            Some(app) => Some(app.reply.compile().map_err(|problem| {
                Error::Invalid(heartline_core::ConfigErrors(vec![
                    heartline_core::FieldError {
                        field: "app_heartbeat.reply".into(),
                        problem,
                    },
                ]))
            })?),
            None => None,
        };
        Ok(Probe {
            endpoint: Arc::new(endpoint),
            connector,
            matcher,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The configuration, shared rather than copied.
    pub fn shared_endpoint(&self) -> Arc<Endpoint> {
        self.endpoint.clone()
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// Watches the endpoint until `Stop` arrives or `controls` closes (cause: shutdown).
    ///
    /// A plain function returning `async move`, not an `async fn`: an async fn keeps each
    /// argument twice in its future (as passed and as bound), and 10,000 watches pay for it.
    pub fn watch(
        self,
        id: EndpointId,
        controls: ControlReceiver,
        sink: Arc<dyn Sink>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.watch_from(id, controls, sink, None)
    }

    /// Like [`Probe::watch`], with the first attempt held until `first_connect` (an engine
    /// spreading the first connects of many endpoints started together). The wait comes
    /// before the first `Connecting` event, so no attempt, handshake or timing includes it;
    /// controls are obeyed meanwhile: `Stop` ends the watch at once, `Pause` pauses it, and
    /// `Resume`, `Reconnect` and `Update` connect at once.
    pub fn watch_from(
        self,
        id: EndpointId,
        controls: ControlReceiver,
        sink: Arc<dyn Sink>,
        first_connect: Option<tokio::time::Instant>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut probe = self;
        let mut controls = controls;
        async move {
            let mut rep = Reporter {
                id,
                sink,
                health: Health::new(probe.endpoint.health),
                redactor: probe.connector.shared_redactor(),
            };
            if let Some(at) = first_connect {
                tokio::select! {
                    biased;
                    control = controls.recv() => {
                        if let Flow::Exit = Box::pin(Flow::after(control, &mut probe, &mut rep, &mut controls)).await {
                            return;
                        }
                    }
                    // Boxed: the timer exists only while the watch waits its turn.
                    () = Box::pin(tokio::time::sleep_until(at)) => {}
                }
            }
            // Failed attempts since the last healthy session; the next attempt is this + 1.
            let mut streak: u32 = 0;
            loop {
                let attempt = streak + 1;
                rep.emit(EventKind::Connecting { attempt });
                let connected = tokio::select! {
                    biased;
                    control = controls.recv() => {
                        match Box::pin(Flow::after(control, &mut probe, &mut rep, &mut controls)).await {
                            Flow::Exit => return,
                            Flow::Restart => { streak = 0; continue; }
                        }
                    }
                    // Boxed: the handshake's large state is freed once connected instead of
                    // staying reserved in every watch for the whole session.
                    result = Box::pin(probe.connector.connect()) => result,
                };
                // Only the stream is kept across the session (the handshake's figures go out
                // in the event at once, a failure is boxed): this value stays reserved in the
                // watch's future for as long as the session runs.
                let connected = match connected {
                    Ok((ws, handshake)) => {
                        rep.emit(EventKind::Connected { attempt, handshake });
                        Ok(ws)
                    }
                    Err(failure) => Err(Box::new(failure)),
                };

                let last = match connected {
                    Err(failure) => {
                        rep.emit(EventKind::HandshakeFailed((*failure).clone()));
                        rep.signal(Signal::Failure);
                        streak += 1;
                        Last::Handshake(failure)
                    }
                    Ok(ws) => {
                        let outcome = Box::pin(session::run(
                            ws,
                            &probe.endpoint,
                            probe.matcher.as_ref(),
                            &mut rep,
                            &mut controls,
                        ))
                        .await;
                        let fault = outcome.end.cause().is_none_or(CloseCause::is_fault);
                        rep.emit(EventKind::Closed {
                            end: outcome.end.clone(),
                            stats: outcome.stats,
                        });
                        if let Some(control) = outcome.control {
                            match Box::pin(Flow::apply(
                                control,
                                &mut probe,
                                &mut rep,
                                &mut controls,
                            ))
                            .await
                            {
                                Flow::Exit => return,
                                Flow::Restart => {
                                    streak = 0;
                                    continue;
                                }
                            }
                        }
                        if !fault {
                            // Closed by us without a control (controls channel gone): shut down.
                            return;
                        }
                        // An unexpected end: a failure, and a drop the instability rule
                        // counts.
                        rep.signal(Signal::Dropped);
                        // A session that answered a heartbeat was healthy: whatever ended it
                        // (a proxy's idle timeout, a kick), the next attempt waits only the
                        // initial delay, so the endpoint that keeps dropping stays watched.
                        // One that dies before its first answer (accept-then-close) counts as
                        // a failed attempt and backs off.
                        if outcome.answered
                            || outcome.stats.duration >= probe.endpoint.reconnect.reset_after
                        {
                            streak = 0;
                        } else {
                            streak += 1;
                        }
                        Last::Session(outcome.end)
                    }
                };

                let ended = match &last {
                    Last::Session(end) => Ended::Session(end),
                    Last::Handshake(failure) => Ended::Handshake(failure),
                };
                let decision =
                    probe
                        .endpoint
                        .reconnect
                        .decide(streak.max(1), ended, rand::random::<f64>());
                match decision {
                    Retry::Stop { reason } => {
                        rep.emit(EventKind::GaveUp { reason });
                        rep.signal(Signal::GaveUp);
                        // Nothing more happens until someone says so.
                        let control = controls.recv().await;
                        match Box::pin(Flow::after(control, &mut probe, &mut rep, &mut controls))
                            .await
                        {
                            Flow::Exit => return,
                            Flow::Restart => streak = 0,
                        }
                    }
                    Retry::After { delay, reason } => {
                        rep.emit(EventKind::ReconnectScheduled {
                            attempt: streak + 1,
                            delay,
                            reason,
                        });
                        tokio::select! {
                            biased;
                            control = controls.recv() => {
                                match Box::pin(Flow::after(control, &mut probe, &mut rep, &mut controls)).await {
                                    Flow::Exit => return,
                                    Flow::Restart => streak = 0,
                                }
                            }
                            // Boxed: one timer per backoff, not one reserved in every watch.
                            () = Box::pin(tokio::time::sleep(delay)) => {}
                        }
                    }
                }
            }
        }
    }
}

/// What ended the last attempt, owned.
enum Last {
    Session(SessionEnd),
    Handshake(Box<HandshakeFailure>),
}

/// What the watch loop does after a control message.
enum Flow {
    Exit,
    Restart,
}

impl Flow {
    /// A control received while no session is open (connecting, backing off, given up).
    async fn after(
        control: Option<Control>,
        probe: &mut Probe,
        rep: &mut Reporter,
        controls: &mut ControlReceiver,
    ) -> Flow {
        match control {
            None => Flow::Exit,
            Some(c) => Flow::apply(c, probe, rep, controls).await,
        }
    }

    async fn apply(
        control: Control,
        probe: &mut Probe,
        rep: &mut Reporter,
        controls: &mut ControlReceiver,
    ) -> Flow {
        match control {
            Control::Stop(_) => Flow::Exit,
            Control::Reconnect | Control::Resume => {
                rep.signal(Signal::Resume);
                Flow::Restart
            }
            Control::Update(next) => {
                rep.update(&next);
                *probe = *next;
                Flow::Restart
            }
            Control::Pause => {
                rep.signal(Signal::Pause);
                loop {
                    match controls.recv().await {
                        None | Some(Control::Stop(_)) => return Flow::Exit,
                        Some(Control::Resume | Control::Reconnect) => {
                            rep.signal(Signal::Resume);
                            return Flow::Restart;
                        }
                        Some(Control::Update(next)) => {
                            rep.update(&next);
                            *probe = *next;
                        }
                        Some(Control::Pause) => {}
                    }
                }
            }
        }
    }
}

/// Stamps, cleans and sends events, and keeps the health state machine in step with them.
pub(crate) struct Reporter {
    id: EndpointId,
    sink: Arc<dyn Sink>,
    health: Health,
    /// The watched endpoint's secrets: the one door events leave by masks them.
    redactor: Arc<Redactor>,
}

impl Reporter {
    pub(crate) fn endpoint_id(&self) -> EndpointId {
        self.id
    }

    /// Every event leaves through here, its outside text cleaned (see [`Probe`]). Text that
    /// `connect` already cleaned comes through unchanged: cleaning twice is cleaning once.
    pub(crate) fn emit(&self, mut kind: EventKind) {
        kind.map_untrusted(|t| self.redactor.clean(t));
        self.sink.emit(Event {
            at: Timestamp::from_system(SystemTime::now()),
            endpoint: self.id,
            kind,
        });
    }

    /// A new configuration: its health policy and its secrets from now on.
    fn update(&mut self, next: &Probe) {
        self.health.set_policy(next.endpoint.health);
        self.redactor = next.connector.shared_redactor();
    }

    pub(crate) fn signal(&mut self, signal: Signal) {
        let at = Timestamp::from_system(SystemTime::now());
        if let Some(t) = self.health.apply(signal, at) {
            self.emit(EventKind::StateChanged {
                from: t.from,
                to: t.to,
            });
        }
    }
}
