//! The queue between a mailbox and one side's connection, bounded in messages and bytes.
//!
//! A side that stops reading while its peer keeps sending must not grow the server: once
//! [`MAX_QUEUED_MESSAGES`] or [`MAX_QUEUED_BYTES`] wait, what waits is dropped and the
//! reader gets [`MailboxEvent::Overflowed`] instead, which closes the mailbox for both sides
//! with a clear error. Events that end a mailbox (the peer left, pairing failed, overflow)
//! are few and tiny, and always delivered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::MailboxEvent;

/// Messages that may wait for one side (pairing and trickled candidates need a few dozen,
/// and a reading side takes each one as it arrives).
pub const MAX_QUEUED_MESSAGES: usize = 64;
/// Bytes of message bodies that may wait for one side.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

#[derive(Default)]
struct State {
    events: VecDeque<MailboxEvent>,
    bytes: usize,
    overflowed: bool,
    overflow_reported: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is complete before the lock is released: a poisoned state is whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the store delivers one side's events. Cloned where the store needs it; the
/// reader sees the end of the queue when every clone is gone.
#[derive(Clone)]
pub struct MailboxSender(Arc<Shared>);

/// One side's events, in order.
pub struct Subscription(Arc<Shared>);

pub fn mailbox_queue() -> (MailboxSender, Subscription) {
    let shared = Arc::new(Shared::default());
    (MailboxSender(Arc::clone(&shared)), Subscription(shared))
}

impl MailboxSender {
    /// Queues `event`; false when the reader has fallen too far behind (it is then told).
    pub fn deliver(&self, event: MailboxEvent) -> bool {
        let delivered = {
            let mut state = self.0.lock();
            match &event {
                _ if state.overflowed => false,
                MailboxEvent::Message(body) => {
                    if state.events.len() >= MAX_QUEUED_MESSAGES
                        || state.bytes + body.len() > MAX_QUEUED_BYTES
                    {
                        // What waits is of no use any more: the mailbox is going away.
                        state.events.clear();
                        state.bytes = 0;
                        state.overflowed = true;
                        false
                    } else {
                        state.bytes += body.len();
                        state.events.push_back(event);
                        true
                    }
                }
                _ => {
                    state.events.push_back(event);
                    true
                }
            }
        };
        self.0.notify.notify_one();
        delivered
    }
}

impl Drop for MailboxSender {
    fn drop(&mut self) {
        self.0.notify.notify_one();
    }
}

impl Subscription {
    /// The next event; [`MailboxEvent::Overflowed`] once after an overflow; `None` when the
    /// store let go of this side. Cancel-safe.
    pub async fn recv(&mut self) -> Option<MailboxEvent> {
        loop {
            {
                let mut state = self.0.lock();
                if state.overflowed {
                    // The mailbox ends with this event; nothing is delivered after it.
                    if state.overflow_reported {
                        return None;
                    }
                    state.overflow_reported = true;
                    return Some(MailboxEvent::Overflowed);
                }
                if let Some(event) = state.events.pop_front() {
                    if let MailboxEvent::Message(body) = &event {
                        state.bytes -= body.len();
                    }
                    return Some(event);
                }
                if Arc::strong_count(&self.0) == 1 {
                    return None;
                }
            }
            self.0.notify.notified().await;
        }
    }

    /// Whether this side fell too far behind (what waits was dropped).
    pub fn overflowed(&self) -> bool {
        self.0.lock().overflowed
    }

    /// Bytes of message bodies waiting now.
    pub fn queued_bytes(&self) -> usize {
        self.0.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_falls_behind_gets_an_overflow_not_a_growing_queue() {
        let (tx, mut rx) = mailbox_queue();
        let body = "x".repeat(64 * 1024);
        let mut accepted = 0;
        while tx.deliver(MailboxEvent::Message(body.clone())) {
            accepted += 1;
            assert!(rx.queued_bytes() <= MAX_QUEUED_BYTES);
            assert!(accepted <= MAX_QUEUED_MESSAGES, "no bound");
        }
        assert_eq!(accepted, MAX_QUEUED_BYTES / body.len());
        assert!(
            !tx.deliver(MailboxEvent::Message("y".into())),
            "stays closed"
        );
        assert_eq!(rx.recv().await, Some(MailboxEvent::Overflowed));
        assert_eq!(rx.queued_bytes(), 0);
        assert!(
            !tx.deliver(MailboxEvent::PeerLeft),
            "nothing after an overflow"
        );
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn many_small_messages_are_bounded_too_and_a_reading_side_never_overflows() {
        let (tx, mut rx) = mailbox_queue();
        for i in 0..10_000 {
            assert!(tx.deliver(MailboxEvent::Message(format!("{i}"))));
            assert_eq!(rx.recv().await, Some(MailboxEvent::Message(format!("{i}"))));
        }
        for _ in 0..MAX_QUEUED_MESSAGES {
            assert!(tx.deliver(MailboxEvent::Message("m".into())));
        }
        // Ending events still arrive past the bound.
        assert!(tx.deliver(MailboxEvent::PeerLeft));
        assert!(!tx.deliver(MailboxEvent::Message("m".into())));
        assert_eq!(rx.recv().await, Some(MailboxEvent::Overflowed));
    }

    #[tokio::test]
    async fn the_reader_wakes_for_each_event_and_for_the_end() {
        let (tx, mut rx) = mailbox_queue();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(event) = rx.recv().await {
                got.push(event);
            }
            got
        });
        tokio::task::yield_now().await;
        tx.deliver(MailboxEvent::PeerJoined);
        tokio::task::yield_now().await;
        tx.deliver(MailboxEvent::Message("a".into()));
        drop(tx);
        assert_eq!(
            reader.await.expect("reader"),
            vec![MailboxEvent::PeerJoined, MailboxEvent::Message("a".into())]
        );
    }
}
