//! Where nameplates and mailboxes live. In memory by default; the trait is what a shared
//! store (Redis, for several instances) implements.

pub mod conformance;
pub mod memory;
pub mod queue;
pub mod redis_store;

use std::time::Duration;

use async_trait::async_trait;
use tandem_crypto::{Nameplate, RoomId};

use crate::introduction::IntroducerKey;
pub use queue::{mailbox_queue, MailboxSender, Subscription};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Helper,
    Sharer,
}

impl Side {
    pub fn peer(self) -> Side {
        match self {
            Side::Helper => Side::Sharer,
            Side::Sharer => Side::Helper,
        }
    }
}

/// What one side of a mailbox receives from the other (via the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxEvent {
    PeerJoined,
    /// An opaque body, still base64 as it arrived: the server never decodes it.
    Message(String),
    PeerLeft,
    PairingFailed,
    /// A side stopped reading while its peer kept sending: the mailbox is closed for both.
    Overflowed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no such code")]
    Unknown,
    #[error("this code has expired")]
    Expired,
    #[error("this code has already been used")]
    Used,
    #[error("no free code right now, try again")]
    Exhausted,
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A fresh random nameplate for a helper, valid for `ttl`, with the helper subscribed.
    /// Nothing about the helper is stored: who it is travels signed, through the helper.
    async fn allocate(&self, ttl: Duration) -> Result<(Nameplate, Subscription), StoreError>;

    /// Single-use claim by a sharer, who is subscribed. A second claim, an expired or
    /// unknown nameplate each give their own error.
    async fn claim(&self, nameplate: Nameplate) -> Result<Subscription, StoreError>;

    /// Delivers an event to one side; silently dropped when that side is gone.
    async fn publish(
        &self,
        nameplate: Nameplate,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError>;

    /// Marks a nameplate as burned after a failed pairing (it was already single use; this
    /// keeps the reason).
    async fn burn(&self, nameplate: Nameplate) -> Result<(), StoreError>;

    /// One side has left: unsubscribe it. A pending nameplate whose helper left is retired.
    async fn leave(&self, nameplate: Nameplate, side: Side);

    /// A session's side arriving in its resumption room (after a network change), with
    /// `ttl` as the longest it may stay there. Returns its subscription and whether the
    /// other side is there already (who is then told `PeerJoined`, by the caller). A side
    /// already in the room is refused with [`StoreError::Used`]: only the two parties of
    /// the session know the room, and each comes once at a time.
    async fn meet(
        &self,
        room: RoomId,
        side: Side,
        ttl: Duration,
    ) -> Result<(Subscription, bool), StoreError>;

    /// [`Self::publish`] for a room.
    async fn publish_room(
        &self,
        room: RoomId,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError>;

    /// One side has left the room.
    async fn leave_room(&self, room: RoomId, side: Side);

    /// Forgets tombstones that are old enough; called periodically.
    async fn sweep(&self);

    /// Number of live (pending or paired) mailboxes, for metrics.
    async fn active_mailboxes(&self) -> usize;

    /// Whether the store can serve requests now (`/readyz`).
    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Makes this instance's introduction key known to the other instances (called at
    /// start and periodically). A store for one process has nobody to tell.
    async fn announce_introducer_key(&self, _key: &IntroducerKey) -> Result<(), StoreError> {
        Ok(())
    }

    /// The introduction keys other instances announced recently.
    async fn introducer_keys(&self) -> Vec<IntroducerKey> {
        Vec::new()
    }
}
