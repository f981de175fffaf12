//! The behaviour every store must have: run against the in-memory store by its unit tests
//! and against Redis by `tests/tests/e2e/redis.rs`. They panic on a failure.

use std::time::Duration;

use tandem_crypto::{Nameplate, RoomId};

use super::queue::{MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES};
use super::{MailboxEvent, Side, Store, StoreError};

pub async fn claim_is_single_use_with_distinct_errors(store: &dyn Store) {
    let (np, mut helper_rx) = store
        .allocate(Duration::from_secs(60))
        .await
        .expect("allocate");
    let mut sharer_rx = store.claim(np).await.expect("claim");
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Used));
    let unknown = Nameplate::parse("ZZZZ").expect("valid");
    if unknown != np {
        assert_eq!(store.claim(unknown).await.err(), Some(StoreError::Unknown));
    }
    store
        .publish(np, Side::Helper, MailboxEvent::PeerJoined)
        .await
        .expect("publish");
    store
        .publish(np, Side::Sharer, MailboxEvent::Message("aGk=".into()))
        .await
        .expect("publish");
    assert_eq!(helper_rx.recv().await, Some(MailboxEvent::PeerJoined));
    assert_eq!(
        sharer_rx.recv().await,
        Some(MailboxEvent::Message("aGk=".into()))
    );
    assert_eq!(store.active_mailboxes().await, 1);
    store.leave(np, Side::Helper).await;
    store.leave(np, Side::Sharer).await;
    assert_eq!(store.active_mailboxes().await, 0);
    store.burn(np).await.expect("burn");
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Used));
}

pub async fn expired_and_abandoned_nameplates(store: &dyn Store) {
    let (np, _rx) = store
        .allocate(Duration::from_millis(0))
        .await
        .expect("allocate");
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Expired));
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Expired));

    let (np, _rx) = store
        .allocate(Duration::from_secs(60))
        .await
        .expect("allocate");
    store.leave(np, Side::Helper).await;
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Expired));
}

pub async fn nameplates_are_random_not_sequential(store: &dyn Store) {
    let mut seen = std::collections::HashSet::new();
    let mut keep = Vec::new();
    for _ in 0..200 {
        let (np, rx) = store
            .allocate(Duration::from_secs(60))
            .await
            .expect("allocate");
        assert!(seen.insert(np), "duplicate live nameplate");
        keep.push(rx);
    }
    // 200 draws out of 32^4: the first symbols should spread over the alphabet.
    let firsts: std::collections::HashSet<u8> =
        seen.iter().map(|n| n.as_str().as_bytes()[0]).collect();
    assert!(firsts.len() > 20, "first symbols {firsts:?}");
}

/// A helper that stops reading while the sharer sends 64 KiB messages: the store keeps at
/// most its bound for it, then tells it the mailbox overflowed.
pub async fn a_side_that_stops_reading_is_bounded(store: &dyn Store) {
    let (np, mut helper_rx) = store
        .allocate(Duration::from_secs(60))
        .await
        .expect("allocate");
    let _sharer_rx = store.claim(np).await.expect("claim");
    let body = "A".repeat(64 * 1024);
    for _ in 0..(MAX_QUEUED_MESSAGES * 4) {
        store
            .publish(np, Side::Helper, MailboxEvent::Message(body.clone()))
            .await
            .expect("publish");
    }
    // Delivery may be asynchronous (Redis pub/sub): wait until it is done (a hang guard,
    // not a measure).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !helper_rx.overflowed() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Delivered in order up to the bound, then the overflow and nothing else.
    let mut received = 0usize;
    let ended = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), helper_rx.recv())
            .await
            .expect("an event");
        match event {
            Some(MailboxEvent::Message(b)) => {
                assert_eq!(b.len(), body.len());
                received += 1;
            }
            other => break other,
        }
    };
    assert_eq!(ended, Some(MailboxEvent::Overflowed));
    assert!(
        received * body.len() <= MAX_QUEUED_BYTES,
        "{received} messages were kept for a reader that did not read"
    );
    store.leave(np, Side::Helper).await;
    store.leave(np, Side::Sharer).await;
}

/// A session's sides find each other in their room, once each; the room empties when both
/// leave, and another room hears nothing.
pub async fn the_two_sides_of_a_session_meet_again_in_their_room(store: &dyn Store) {
    let room = RoomId(rand::random());
    let other = RoomId(rand::random());
    let ttl = Duration::from_secs(60);
    let (mut sharer_rx, present) = store.meet(room, Side::Sharer, ttl).await.expect("meet");
    assert!(!present, "nobody there yet");
    assert_eq!(
        store.meet(room, Side::Sharer, ttl).await.err(),
        Some(StoreError::Used),
        "a second sharer in the same room"
    );
    let (mut stranger_rx, alone) = store.meet(other, Side::Helper, ttl).await.expect("meet");
    assert!(!alone);
    let (mut helper_rx, present) = store.meet(room, Side::Helper, ttl).await.expect("meet");
    assert!(present, "the sharer is there");
    store
        .publish_room(room, Side::Sharer, MailboxEvent::PeerJoined)
        .await
        .expect("publish");
    store
        .publish_room(room, Side::Helper, MailboxEvent::Message("aGk=".into()))
        .await
        .expect("publish");
    assert_eq!(sharer_rx.recv().await, Some(MailboxEvent::PeerJoined));
    assert_eq!(
        helper_rx.recv().await,
        Some(MailboxEvent::Message("aGk=".into()))
    );
    store.leave_room(room, Side::Sharer).await;
    store.leave_room(room, Side::Helper).await;
    store.leave_room(other, Side::Helper).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), stranger_rx.recv())
            .await
            .map_or(true, |e| e.is_none()),
        "another room heard something"
    );
    // Empty again: the sharer may come back.
    let (_again, present) = store
        .meet(room, Side::Sharer, ttl)
        .await
        .expect("meet again");
    assert!(!present, "the helper left");
    store.leave_room(room, Side::Sharer).await;
}
