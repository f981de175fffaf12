//! The default store: one process, nothing to install.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{mailbox_queue, MailboxEvent, MailboxSender, Side, Store, StoreError, Subscription};
use async_trait::async_trait;
use tandem_crypto::{Nameplate, RoomId};

/// How long a used or expired nameplate is remembered, so that a late sharer is told
/// "expired" or "used" rather than "unknown", and the nameplate is not handed out again soon.
const TOMBSTONE_FOR: Duration = Duration::from_secs(3600);
const ALLOCATION_ATTEMPTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Paired,
    Burned,
    Retired,
}

struct Entry {
    state: State,
    expires_at: Instant,
    forget_at: Instant,
    helper: Option<MailboxSender>,
    sharer: Option<MailboxSender>,
}

impl Entry {
    fn live(&self) -> bool {
        self.helper.is_some() || self.sharer.is_some()
    }
}

/// Who is in a resumption room. A room exists only while someone is in it.
#[derive(Default)]
struct Room {
    helper: Option<MailboxSender>,
    sharer: Option<MailboxSender>,
}

impl Room {
    fn side(&mut self, side: Side) -> &mut Option<MailboxSender> {
        match side {
            Side::Helper => &mut self.helper,
            Side::Sharer => &mut self.sharer,
        }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<Nameplate, Entry>>,
    rooms: Mutex<HashMap<RoomId, Room>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Nameplate, Entry>> {
        // A panic while holding the lock cannot leave a half-updated entry behind (every
        // mutation is a single assignment), so a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, Room>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn allocate(&self, ttl: Duration) -> Result<(Nameplate, Subscription), StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        for _ in 0..ALLOCATION_ATTEMPTS {
            let nameplate = Nameplate::random();
            if entries.contains_key(&nameplate) {
                continue;
            }
            let (tx, rx) = mailbox_queue();
            entries.insert(
                nameplate,
                Entry {
                    state: State::Pending,
                    expires_at: now + ttl,
                    forget_at: now + ttl + TOMBSTONE_FOR,
                    helper: Some(tx),
                    sharer: None,
                },
            );
            return Ok((nameplate, rx));
        }
        Err(StoreError::Exhausted)
    }

    async fn claim(&self, nameplate: Nameplate) -> Result<Subscription, StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(&nameplate).ok_or(StoreError::Unknown)?;
        match entry.state {
            State::Pending if now >= entry.expires_at => {
                entry.state = State::Retired;
                Err(StoreError::Expired)
            }
            State::Pending => {
                let (tx, rx) = mailbox_queue();
                entry.state = State::Paired;
                entry.sharer = Some(tx);
                entry.forget_at = now + TOMBSTONE_FOR;
                Ok(rx)
            }
            State::Paired | State::Burned => Err(StoreError::Used),
            State::Retired => Err(StoreError::Expired),
        }
    }

    async fn publish(
        &self,
        nameplate: Nameplate,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError> {
        let entries = self.lock();
        if let Some(entry) = entries.get(&nameplate) {
            let target = match to {
                Side::Helper => &entry.helper,
                Side::Sharer => &entry.sharer,
            };
            if let Some(tx) = target {
                // A side that fell behind is told by its own queue.
                tx.deliver(event);
            }
        }
        Ok(())
    }

    async fn burn(&self, nameplate: Nameplate) -> Result<(), StoreError> {
        if let Some(entry) = self.lock().get_mut(&nameplate) {
            entry.state = State::Burned;
        }
        Ok(())
    }

    async fn leave(&self, nameplate: Nameplate, side: Side) {
        if let Some(entry) = self.lock().get_mut(&nameplate) {
            match side {
                Side::Helper => entry.helper = None,
                Side::Sharer => entry.sharer = None,
            }
            if entry.state == State::Pending {
                entry.state = State::Retired;
            }
        }
    }

    async fn meet(
        &self,
        room: RoomId,
        side: Side,
        _ttl: Duration,
    ) -> Result<(Subscription, bool), StoreError> {
        // The server's relay ends a stay after its lifetime; nothing here outlives it.
        let mut rooms = self.rooms();
        let entry = rooms.entry(room).or_default();
        if entry.side(side).is_some() {
            return Err(StoreError::Used);
        }
        let (tx, rx) = mailbox_queue();
        *entry.side(side) = Some(tx);
        let present = entry.side(side.peer()).is_some();
        Ok((rx, present))
    }

    async fn publish_room(
        &self,
        room: RoomId,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError> {
        if let Some(tx) = self
            .rooms()
            .get_mut(&room)
            .and_then(|r| r.side(to).as_ref())
        {
            tx.deliver(event);
        }
        Ok(())
    }

    async fn leave_room(&self, room: RoomId, side: Side) {
        let mut rooms = self.rooms();
        if let Some(entry) = rooms.get_mut(&room) {
            *entry.side(side) = None;
            if entry.helper.is_none() && entry.sharer.is_none() {
                rooms.remove(&room);
            }
        }
    }

    async fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, e| e.live() || now < e.forget_at);
    }

    async fn active_mailboxes(&self) -> usize {
        self.lock().values().filter(|e| e.live()).count() + self.rooms().len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    #[tokio::test]
    async fn claim_is_single_use_with_distinct_errors() {
        conformance::claim_is_single_use_with_distinct_errors(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn expired_and_abandoned_nameplates() {
        conformance::expired_and_abandoned_nameplates(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn nameplates_are_random_not_sequential() {
        conformance::nameplates_are_random_not_sequential(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_two_sides_of_a_session_meet_again_in_their_room() {
        conformance::the_two_sides_of_a_session_meet_again_in_their_room(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn a_side_that_stops_reading_is_bounded() {
        conformance::a_side_that_stops_reading_is_bounded(&MemoryStore::new()).await;
    }
}
