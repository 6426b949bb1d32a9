//! The channel a watch takes its orders on (pause, resume, reconnect, update, stop).
//!
//! futures-channel's unbounded mpsc rather than tokio's bounded one: a tokio channel allocates
//! its shared state padded to cache lines and a first block of 32 message slots up front,
//! about 1 KiB per watched endpoint for a channel that carries a handful of messages in a
//! session's life; this one allocates about 100 bytes up front and a node per message. At
//! 10,000 endpoints that is ~9 MiB. Unbounded is safe here: controls are sent one per call of
//! the engine's (or a shell's) methods, and the watch takes them between heartbeats.

use futures_channel::mpsc;
use futures_util::StreamExt;

use crate::Control;

/// A new channel: the [`Controls`] to keep, the [`ControlReceiver`] to give the watch.
pub fn controls() -> (Controls, ControlReceiver) {
    let (tx, rx) = mpsc::unbounded();
    (Controls(tx), ControlReceiver(rx))
}

/// The sending end. Cheap to clone; the watch ends (cause: shutdown) once every clone is gone.
#[derive(Debug, Clone)]
pub struct Controls(mpsc::UnboundedSender<Control>);

/// The watch has ended: nobody is reading controls any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the watch has ended")]
pub struct Stopped;

impl Controls {
    /// Queues a control for the watch; it never waits.
    pub fn send(&self, control: Control) -> Result<(), Stopped> {
        self.0.unbounded_send(control).map_err(|_| Stopped)
    }
}

/// The receiving end, held by the watch.
#[derive(Debug)]
pub struct ControlReceiver(mpsc::UnboundedReceiver<Control>);

impl ControlReceiver {
    /// The next control, or `None` once every sender is gone. Cancel-safe: a control is
    /// taken only by a call that returns it.
    pub async fn recv(&mut self) -> Option<Control> {
        self.0.next().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartline_core::CloseCause;

    #[tokio::test]
    async fn controls_arrive_in_order_and_the_end_is_seen() {
        let (tx, mut rx) = controls();
        tx.send(Control::Pause).unwrap();
        let other = tx.clone();
        other.send(Control::Resume).unwrap();
        tx.send(Control::Stop(CloseCause::User)).unwrap();
        assert!(matches!(rx.recv().await, Some(Control::Pause)));
        assert!(matches!(rx.recv().await, Some(Control::Resume)));
        assert!(matches!(
            rx.recv().await,
            Some(Control::Stop(CloseCause::User))
        ));
        drop(tx);
        // One clone left: still open, nothing queued.
        let pending = tokio::time::timeout(std::time::Duration::ZERO, rx.recv()).await;
        assert!(pending.is_err(), "{pending:?}");
        drop(other);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn sending_to_an_ended_watch_fails() {
        let (tx, rx) = controls();
        drop(rx);
        assert_eq!(tx.send(Control::Reconnect), Err(Stopped));
    }

    #[tokio::test]
    async fn a_cancelled_receive_loses_nothing() {
        let (tx, mut rx) = controls();
        // A receive dropped while waiting (as a select! branch that lost) takes nothing.
        let waited = tokio::time::timeout(std::time::Duration::ZERO, rx.recv()).await;
        assert!(waited.is_err());
        tx.send(Control::Reconnect).unwrap();
        assert!(matches!(rx.recv().await, Some(Control::Reconnect)));
    }
}
