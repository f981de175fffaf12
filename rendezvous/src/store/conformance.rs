//! The behaviour every store must have: run against the in-memory store by its unit tests
//! and against Redis by `tests/tests/redis.rs`. They panic on a failure.

use std::time::Duration;

use tandem_crypto::Nameplate;

use super::{MailboxEvent, Side, Store, StoreError};

pub async fn claim_is_single_use_with_distinct_errors(store: &dyn Store) {
    let (np, mut helper_rx) = store
        .allocate("Anna R.".into(), Duration::from_secs(60))
        .await
        .expect("allocate");
    let (name, mut sharer_rx) = store.claim(np).await.expect("claim");
    assert_eq!(name, "Anna R.");
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
        .allocate("Anna R.".into(), Duration::from_millis(0))
        .await
        .expect("allocate");
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Expired));
    assert_eq!(store.claim(np).await.err(), Some(StoreError::Expired));

    let (np, _rx) = store
        .allocate("Anna R.".into(), Duration::from_secs(60))
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
            .allocate("A".into(), Duration::from_secs(60))
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
