//! The engine: many watched endpoints at once, changed at run time, their events fanned out to
//! any number of subscribers without a slow one ever stalling a session.
//!
//! ```text
//! Engine::add ─▶ Probe::watch task per endpoint ─▶ sink ─┬▶ live Status (per endpoint)
//!      ▲                                                 └▶ broadcast ring ─▶ Subscription…
//!      └── pause / resume / reconnect / update / remove (Control, queued)
//! ```
//! Invariant: sessions never wait on subscribers. The ring overwrites the oldest events and a
//! lagging subscriber is told how many it missed ([`Delivery::Missed`]).
//!
//! Endpoints started together ([`Engine::insert_all`], a monitor opening its stored fleet)
//! make their first connects in a ramp ([`Ramp`]): the first [`Ramp::burst`] at once, the
//! rest at [`Ramp::per_second`], so that 10,000 handshakes do not all land on the machine in
//! the same instant. One endpoint inserted alone connects at once.

mod status;

pub use status::Status;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use heartline_core::{CloseCause, Endpoint, EndpointId, Event};
use heartline_probe::{Control, Controls, Probe, Resolve, Sink, SystemResolver};

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Probe(#[from] heartline_probe::Error),
    #[error("no endpoint {0}")]
    UnknownEndpoint(EndpointId),
    #[error("endpoint {0} already exists")]
    DuplicateId(EndpointId),
    #[error("endpoint {0} stopped unexpectedly")]
    Stopped(EndpointId),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Engine settings.
#[derive(Clone)]
pub struct EngineOptions {
    /// Events kept for subscribers that fall behind; older ones are counted as missed.
    pub event_capacity: usize,
    pub resolver: Arc<dyn Resolve>,
    /// Called with every event, in order, before subscribers see it — for consumers that must
    /// not lose any (the store's recorder, metrics). They must return at once: never block.
    pub observers: Vec<Arc<dyn Sink>>,
    /// How endpoints started together spread their first connect.
    pub ramp: Ramp,
}

/// How [`Engine::insert_all`] spreads the first connects of the endpoints it starts: the
/// first `burst` (not paused) connect at once, each later one `1 / per_second` after the one
/// before it. Only the first connect waits its turn: reconnects follow each endpoint's own
/// backoff, and a control (stop, pause, resume, reconnect, update) is obeyed during the wait.
/// The wait precedes the first attempt, so it counts in no handshake timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    pub burst: usize,
    pub per_second: f64,
}

impl Ramp {
    /// No ramp: every endpoint connects at once.
    pub const NONE: Ramp = Ramp {
        burst: usize::MAX,
        per_second: f64::INFINITY,
    };

    /// How long after the start the `k`-th endpoint (from 0, paused ones not counted)
    /// makes its first connect.
    pub fn delay(&self, k: usize) -> Duration {
        if k < self.burst || !self.per_second.is_finite() || self.per_second <= 0.0 {
            return Duration::ZERO;
        }
        let behind = (k - self.burst + 1) as f64;
        Duration::try_from_secs_f64(behind / self.per_second).unwrap_or(Duration::MAX)
    }

    /// How long the whole ramp of `n` endpoints takes.
    pub fn span(&self, n: usize) -> Duration {
        n.checked_sub(1).map_or(Duration::ZERO, |k| self.delay(k))
    }
}

impl Default for Ramp {
    /// A few hundred endpoints connect at once, as without a ramp; 10,000 spread over about
    /// 2.4 s (the agent's goal is all 10,000 connected within 5 s; unramped, 0.8 s on two
    /// cores, every handshake at once).
    fn default() -> Self {
        Ramp {
            burst: 500,
            per_second: 4000.0,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("event_capacity", &self.event_capacity)
            .field("resolver", &self.resolver)
            .field("observers", &self.observers.len())
            .field("ramp", &self.ramp)
            .finish()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            event_capacity: 8192,
            resolver: Arc::new(SystemResolver),
            observers: Vec::new(),
            ramp: Ramp::default(),
        }
    }
}

/// Watches many endpoints. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Engine {
    /// The subscribers' ring, made by the first [`Engine::subscribe`]: an engine nobody
    /// subscribes to (the agent's; its observers are the recorder and the metrics) does not
    /// keep `event_capacity` events of room, and its sessions clone nothing into it.
    events: Arc<OnceLock<broadcast::Sender<Event>>>,
    event_capacity: usize,
    endpoints: Mutex<BTreeMap<EndpointId, Entry>>,
    next_id: AtomicU64,
    resolver: Arc<dyn Resolve>,
    observers: Arc<[Arc<dyn Sink>]>,
    ramp: Ramp,
}

struct Entry {
    endpoint: Arc<Endpoint>,
    controls: Controls,
    status: Arc<Mutex<Status>>,
    task: JoinHandle<()>,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Event(Event),
    /// The subscriber fell behind and this many events were dropped for it.
    Missed(u64),
}

/// A stream of every endpoint's events.
#[derive(Debug)]
pub struct Subscription(broadcast::Receiver<Event>);

impl Subscription {
    /// The next event, or how many were missed; `None` once the engine is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        match self.0.recv().await {
            Ok(e) => Some(Delivery::Event(e)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Delivery::Missed(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// How long `remove` and `shutdown` wait for sessions to close before abandoning them.
pub const STOP_DEADLINE: Duration = Duration::from_secs(3);

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Engine {
            events: Arc::new(OnceLock::new()),
            event_capacity: options.event_capacity.max(16),
            endpoints: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            resolver: options.resolver,
            observers: options.observers.into(),
            ramp: options.ramp,
        }
    }

    /// Subscribes to every event from now on.
    pub fn subscribe(&self) -> Subscription {
        let ring = self
            .events
            .get_or_init(|| broadcast::channel(self.event_capacity).0);
        Subscription(ring.subscribe())
    }

    /// Starts watching a new endpoint; returns its id. Must run inside a tokio runtime.
    pub fn add(&self, endpoint: Endpoint) -> Result<EndpointId> {
        let id = EndpointId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.insert(id, endpoint)?;
        Ok(id)
    }

    /// Starts watching an endpoint under a caller-chosen id (e.g. one from a database).
    pub fn insert(&self, id: EndpointId, endpoint: Endpoint) -> Result<()> {
        self.insert_as(id, endpoint, false, None)
    }

    /// Like [`Engine::insert`], for an endpoint stored as paused: its watch starts paused (the
    /// pause is queued before the task runs, so it never dials) and its status says `Paused`
    /// from the start rather than `Connecting`.
    pub fn insert_paused(&self, id: EndpointId, endpoint: Endpoint) -> Result<()> {
        self.insert_as(id, endpoint, true, None)
    }

    /// Starts many endpoints together, `(id, endpoint, paused)` in order, with their first
    /// connects spread by the engine's [`Ramp`] (the paused ones take no turn). Returns each
    /// one's result, in the same order; a refused endpoint takes no turn either.
    pub fn insert_all(
        &self,
        endpoints: impl IntoIterator<Item = (EndpointId, Endpoint, bool)>,
    ) -> Vec<Result<()>> {
        let start = tokio::time::Instant::now();
        let mut turn = 0;
        endpoints
            .into_iter()
            .map(|(id, endpoint, paused)| {
                let first = (!paused)
                    .then(|| self.ramp.delay(turn))
                    .filter(|d| !d.is_zero())
                    .map(|d| start + d);
                let inserted = self.insert_as(id, endpoint, paused, first);
                if inserted.is_ok() && !paused {
                    turn += 1;
                }
                inserted
            })
            .collect()
    }

    fn insert_as(
        &self,
        id: EndpointId,
        endpoint: Endpoint,
        paused: bool,
        first_connect: Option<tokio::time::Instant>,
    ) -> Result<()> {
        let probe = Probe::new(endpoint, self.resolver.clone())?;
        let endpoint = probe.shared_endpoint();
        let mut map = self.lock();
        if map.contains_key(&id) {
            return Err(Error::DuplicateId(id));
        }
        self.next_id.fetch_max(id.0 + 1, Ordering::Relaxed);
        let mut initial = Status::default();
        let (controls, rx) = heartline_probe::controls();
        if paused {
            initial.state = heartline_core::State::Paused;
            // Queued before the watch runs: it reads this before it dials.
            let _ = controls.send(Control::Pause);
        }
        let status = Arc::new(Mutex::new(initial));
        let events = self.events.clone();
        let live = status.clone();
        let observers = self.observers.clone();
        let sink = Arc::new(move |event: Event| {
            if let Ok(mut s) = live.lock() {
                s.observe(&event);
            }
            for observer in observers.iter() {
                observer.emit(event.clone());
            }
            // No ring yet, or no receivers: nobody is listening right now.
            if let Some(ring) = events.get() {
                let _ = ring.send(event);
            }
        });
        let task = tokio::spawn(probe.watch_from(id, rx, sink, first_connect));
        map.insert(
            id,
            Entry {
                endpoint,
                controls,
                status,
                task,
            },
        );
        Ok(())
    }

    /// Replaces an endpoint's configuration; its session restarts with the new one.
    pub async fn update(&self, id: EndpointId, endpoint: Endpoint) -> Result<()> {
        let probe = Probe::new(endpoint, self.resolver.clone())?;
        let endpoint = probe.shared_endpoint();
        let controls = {
            let mut map = self.lock();
            let entry = map.get_mut(&id).ok_or(Error::UnknownEndpoint(id))?;
            entry.endpoint = endpoint;
            entry.controls.clone()
        };
        send(id, &controls, Control::Update(Box::new(probe)))
    }

    /// Pauses an endpoint. Its status says `Paused` as soon as the pause is queued (the
    /// watch's own state change follows), so that a view read right after shows it.
    pub async fn pause(&self, id: EndpointId) -> Result<()> {
        self.control(id, Control::Pause)?;
        if let Some(entry) = self.lock().get(&id) {
            if let Ok(mut status) = entry.status.lock() {
                status.state = heartline_core::State::Paused;
            }
        }
        Ok(())
    }

    pub async fn resume(&self, id: EndpointId) -> Result<()> {
        self.control(id, Control::Resume)
    }

    /// Closes the current session (or skips the backoff wait) and connects now.
    pub async fn reconnect(&self, id: EndpointId) -> Result<()> {
        self.control(id, Control::Reconnect)
    }

    /// Stops watching an endpoint; its session closes with cause `user`.
    pub async fn remove(&self, id: EndpointId) -> Result<Endpoint> {
        let entry = self.lock().remove(&id).ok_or(Error::UnknownEndpoint(id))?;
        stop(id, entry.controls, entry.task, CloseCause::User).await;
        Ok(Arc::unwrap_or_clone(entry.endpoint))
    }

    /// The watched endpoints, by id.
    pub fn endpoints(&self) -> Vec<(EndpointId, Endpoint)> {
        self.lock()
            .iter()
            .map(|(id, e)| (*id, Endpoint::clone(&e.endpoint)))
            .collect()
    }

    /// The live status of every endpoint, by id.
    pub fn statuses(&self) -> Vec<(EndpointId, Status)> {
        self.lock()
            .iter()
            .map(|(id, e)| (*id, e.status.lock().map(|s| s.clone()).unwrap_or_default()))
            .collect()
    }

    /// Stops every endpoint with `cause` (shutdown, or duration elapsed) and waits for their
    /// sessions to close, at most [`STOP_DEADLINE`] in all.
    pub async fn stop_all(&self, cause: CloseCause) {
        let entries = std::mem::take(&mut *self.lock());
        for entry in entries.values() {
            let _ = entry.controls.send(Control::Stop(cause));
        }
        // The tasks close concurrently; awaiting them in turn costs only the slowest.
        let deadline = tokio::time::Instant::now() + STOP_DEADLINE;
        for (id, mut entry) in entries {
            if tokio::time::timeout_at(deadline, &mut entry.task)
                .await
                .is_err()
            {
                tracing::warn!(endpoint = %id, "session did not close in time; abandoning it");
                entry.task.abort();
            }
        }
    }

    fn control(&self, id: EndpointId, control: Control) -> Result<()> {
        let controls = self
            .lock()
            .get(&id)
            .map(|e| e.controls.clone())
            .ok_or(Error::UnknownEndpoint(id))?;
        send(id, &controls, control)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<EndpointId, Entry>> {
        // A panic while holding this lock leaves plain data behind; keep going with it.
        self.endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for entry in self.lock().values() {
            entry.task.abort();
        }
    }
}

fn send(id: EndpointId, controls: &Controls, control: Control) -> Result<()> {
    controls.send(control).map_err(|_| Error::Stopped(id))
}

async fn stop(id: EndpointId, controls: Controls, mut task: JoinHandle<()>, cause: CloseCause) {
    let _ = controls.send(Control::Stop(cause));
    if tokio::time::timeout(STOP_DEADLINE, &mut task)
        .await
        .is_err()
    {
        tracing::warn!(endpoint = %id, "session did not close in time; abandoning it");
        task.abort();
    }
}
