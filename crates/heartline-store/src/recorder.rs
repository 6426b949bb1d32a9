//! The recorder: an engine observer that never blocks. Round trips, and the intervals between
//! a server's own heartbeats (under their own kind, never as round trips), are folded into
//! per-minute rollups in memory; every other event, and every minute once it is over, goes to
//! the writer through one bounded queue (the writer never reaches back into the recorder).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use heartline_core::{
    EndpointId, Event, EventKind, IncidentChange, IncidentTracker, PingKind, Rollup,
};

use crate::writer::Writer;
use crate::{Result, Store};

/// Writer tuning. The defaults suit 10,000 endpoints pinged every second.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Events waiting for the writer; beyond this they are dropped and counted.
    pub queue: usize,
    /// How often the writer commits what it has.
    pub flush_every: Duration,
    /// A batch this large is committed at once rather than at the next tick.
    pub batch: usize,
    /// Events kept for retry while the disk refuses writes (full, read-only, locked).
    pub max_pending: usize,
    /// How often retention runs (from the writer, so there is still one writer).
    pub retention_every: Duration,
    pub retention: crate::Retention,
    /// Largest database file in bytes (`None`: as large as the disk allows). Reaching it
    /// behaves like a full disk: writes are held and retried until the limit is raised or
    /// retention frees space.
    pub max_size: Option<u64>,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            queue: 100_000,
            flush_every: Duration::from_secs(1),
            batch: 5_000,
            max_pending: 1_000_000,
            retention_every: Duration::from_secs(3600),
            retention: crate::Retention::default(),
            max_size: None,
        }
    }
}

/// One minute of one endpoint's round trips of one kind, or (kind [`PingKind::Server`]) of the
/// intervals between its server's heartbeats.
#[derive(Debug, Clone)]
pub(crate) struct MinuteRollup {
    pub endpoint: EndpointId,
    pub kind: PingKind,
    /// Unix minute.
    pub minute: i64,
    pub rollup: Rollup,
}

/// What goes from the recorder to the writer.
#[derive(Debug)]
pub(crate) enum Op {
    Event(Event),
    Incident(IncidentChange),
    /// Minutes of round trips (or of server-beat intervals) that are over: every endpoint's
    /// at a minute's end in one message, so a minute closing for 10,000 endpoints is one
    /// vector on the queue rather than 10,000 slots of the size of an event.
    Minutes(Vec<MinuteRollup>),
}

impl Op {
    /// How many records it carries (what is lost if it is dropped).
    pub(crate) fn records(&self) -> u64 {
        match self {
            Op::Minutes(minutes) => minutes.len() as u64,
            Op::Event(_) | Op::Incident(_) => 1,
        }
    }
}

/// The observer half. Cheap to call from every session's task.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    minutes: Mutex<Minutes>,
    /// Sees every event (round trips too, for the RTT before an incident) and hands the
    /// writer only the incidents that open and close.
    incidents: Mutex<IncidentTracker>,
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Minutes {
    open: HashMap<(EndpointId, PingKind), OpenMinute>,
    /// The latest Unix minute an event was stamped in: when an event of a later one arrives,
    /// every minute before it is over and is sent (once a minute, not once an event).
    latest: i64,
}

/// The minute an endpoint's round trips of one kind are being folded into.
#[derive(Debug)]
struct OpenMinute {
    /// Unix minute.
    minute: i64,
    rollup: Rollup,
}

impl OpenMinute {
    /// The minute for the writer, if anything was recorded in it, moved out (its histogram
    /// cut to its buckets while it waits for the writer); this one is left empty.
    fn finish(&mut self, endpoint: EndpointId, kind: PingKind) -> Option<MinuteRollup> {
        if self.rollup.count == 0 {
            return None;
        }
        let mut rollup = std::mem::take(&mut self.rollup);
        rollup.histogram.shrink_to_fit();
        Some(MinuteRollup {
            endpoint,
            kind,
            minute: self.minute,
            rollup,
        })
    }
}

/// What the writer reports about itself.
#[derive(Debug, Default)]
pub struct WriterHealth {
    last_error: Mutex<Option<String>>,
    batches: AtomicU64,
    rows: AtomicU64,
    pending: AtomicU64,
    dropped: AtomicU64,
}

impl WriterHealth {
    /// The last write error, until a write succeeds again.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }
    /// Events and rollups waiting to be written.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }
    /// Events lost because the queue or the retry buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn failed(&self, error: String) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(error);
        }
    }
    pub(crate) fn wrote(&self, rows: u64, pending: u64) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = None;
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.pending.store(pending, Ordering::Relaxed);
    }
    pub(crate) fn set_pending(&self, pending: u64) {
        self.pending.store(pending, Ordering::Relaxed);
    }
    pub(crate) fn lost(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// The running writer: ask it to stop to flush everything and close the connection.
#[derive(Debug)]
pub struct WriterHandle {
    /// Its minutes still open are sent before the writer stops.
    recorder: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    max_size: tokio::sync::watch::Sender<Option<u64>>,
    task: JoinHandle<Result<()>>,
    health: Arc<WriterHealth>,
}

impl WriterHandle {
    pub fn health(&self) -> &Arc<WriterHealth> {
        &self.health
    }

    /// Changes the largest database size while recording (`None`: no limit).
    pub fn set_max_size(&self, bytes: Option<u64>) {
        self.max_size.send_replace(bytes);
    }

    /// Flushes everything still queued and closes the connection.
    pub async fn shutdown(mut self) -> Result<()> {
        self.recorder.close_minutes(None);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(crate::Error::Stopped(format!(
                "the writer task failed: {e}"
            ))),
        }
    }
}

impl Store {
    /// Starts the writer and returns the recorder to hand to the engine as an observer.
    /// Refused when the integrity check has already found damage.
    pub async fn record(&self, options: RecorderOptions) -> Result<(Arc<Recorder>, WriterHandle)> {
        if let crate::Integrity::Damaged(detail) = self.integrity() {
            return Err(crate::Error::Corrupt {
                path: self.path().to_owned(),
                detail,
            });
        }
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let mut tracker = IncidentTracker::new();
        for incident in self.open_incidents().await? {
            tracker.resume(incident);
        }
        let recorder = Arc::new(Recorder {
            tx,
            minutes: Mutex::new(Minutes::default()),
            incidents: Mutex::new(tracker),
            dropped: AtomicU64::new(0),
        });
        let health = Arc::new(WriterHealth::default());
        let (stop, stopped) = oneshot::channel();
        let (max_size, max_size_rx) = tokio::sync::watch::channel(options.max_size);
        let writer = Writer::start(self, rx, health.clone(), options, max_size_rx).await?;
        let task = tokio::spawn(writer.run(stopped));
        Ok((
            recorder.clone(),
            WriterHandle {
                recorder,
                stop: Some(stop),
                max_size,
                task,
                health,
            },
        ))
    }
}

impl Recorder {
    /// Events that never reached the writer because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The cause of the endpoint's open incident as the live tracker knows it now (it has seen
    /// every event the engine delivered before this call), or `None` without an open incident
    /// or without an explanation. The title quotes outside text: escape it where it is shown.
    pub fn open_cause(&self, endpoint: EndpointId) -> Option<heartline_core::IncidentCause> {
        let tracker = self.incidents.lock().ok()?;
        let open = tracker.open().find(|i| i.endpoint == endpoint)?;
        open.cause.clone()
    }

    /// Every open incident now: its endpoint, kind and the rule that explains it (if any).
    pub fn open_incidents(
        &self,
    ) -> Vec<(
        EndpointId,
        heartline_core::IncidentKind,
        Option<heartline_core::Rule>,
    )> {
        let Ok(tracker) = self.incidents.lock() else {
            return Vec::new();
        };
        tracker
            .open()
            .map(|i| (i.endpoint, i.kind, i.cause.as_ref().map(|c| c.rule)))
            .collect()
    }

    /// Folds one duration into its minute: a round trip of `kind`, or for [`PingKind::Server`]
    /// the interval before a server heartbeat.
    fn record_minute(&self, endpoint: EndpointId, kind: PingKind, at_ms: i64, value: Duration) {
        let minute = at_ms.div_euclid(60_000);
        let Ok(mut m) = self.minutes.lock() else {
            return;
        };
        let slot = m
            .open
            .entry((endpoint, kind))
            .or_insert_with(|| OpenMinute {
                minute,
                rollup: Rollup::default(),
            });
        let mut finished = None;
        if slot.minute != minute {
            finished = slot.finish(endpoint, kind);
            slot.minute = minute;
        }
        slot.rollup.record(value);
        drop(m);
        if let Some(finished) = finished {
            self.send_minutes(vec![finished]);
        }
    }

    /// Sends the writer every minute before `before_minute` (all of them, at shutdown), in one
    /// message. An endpoint that recorded nothing in a whole minute (quiet, or removed) loses
    /// its entry; the others keep theirs (without a histogram until the next value).
    fn close_minutes(&self, before_minute: Option<i64>) {
        let Ok(mut m) = self.minutes.lock() else {
            return;
        };
        let over_now = |slot: &OpenMinute| before_minute.is_none_or(|b| slot.minute < b);
        // Exactly as many as go: at a minute's end that is every endpoint's.
        let going = m
            .open
            .values()
            .filter(|slot| over_now(slot) && slot.rollup.count > 0)
            .count();
        let mut over = Vec::with_capacity(going);
        m.open.retain(|&(endpoint, kind), slot| {
            if !over_now(slot) {
                return true;
            }
            match slot.finish(endpoint, kind) {
                Some(finished) => {
                    over.push(finished);
                    before_minute.is_some()
                }
                None => false,
            }
        });
        drop(m);
        if !over.is_empty() {
            self.send_minutes(over);
        }
    }

    /// Called with every event's minute: the first event of a new minute closes the earlier
    /// ones of every endpoint (an endpoint that stopped answering has its last minute written
    /// too, not only those that roll over with a new round trip).
    fn advance(&self, minute: i64) {
        let newer = match self.minutes.lock() {
            Ok(mut m) if minute > m.latest => {
                m.latest = minute;
                true
            }
            _ => false,
        };
        if newer {
            self.close_minutes(Some(minute));
        }
    }
}

impl heartline_core::Sink for Recorder {
    fn emit(&self, event: Event) {
        self.advance(event.at.0.div_euclid(60_000));
        let changes = match self.incidents.lock() {
            Ok(mut tracker) => tracker.observe(&event),
            Err(_) => Vec::new(),
        };
        for change in changes {
            self.send(Op::Incident(change));
        }
        match event.kind {
            // No round trip is ever of kind `Server` (the probe never measures one); one that
            // claimed to be would land among the beat intervals, so it is dropped.
            EventKind::Rtt {
                kind: PingKind::Server,
                ..
            } => {}
            EventKind::Rtt { kind, rtt } => {
                self.record_minute(event.endpoint, kind, event.at.0, rtt);
            }
            // A server's heartbeat is rolled up like a raw ping, by its interval, under its own
            // kind: count, min/mean/max and percentiles of the time between beats (their
            // spread is the jitter). Never a round trip. A missed one is an event, stored.
            EventKind::ServerBeat { interval, .. } => {
                self.record_minute(event.endpoint, PingKind::Server, event.at.0, interval);
            }
            // Attempts are visible through their outcome (connected / handshake_failed).
            EventKind::Connecting { .. } => {}
            _ => self.send(Op::Event(event)),
        }
    }
}

impl Recorder {
    fn send(&self, op: Op) {
        let lost = op.records();
        if self.tx.try_send(op).is_err() {
            self.dropped.fetch_add(lost, Ordering::Relaxed);
        }
    }

    fn send_minutes(&self, minutes: Vec<MinuteRollup>) {
        self.send(Op::Minutes(minutes));
    }
}
