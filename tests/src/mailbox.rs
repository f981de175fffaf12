//! Mailbox scenarios run against more than one store.

use std::time::Duration;

use tandem_rendezvous::client::Allocation;
use tandem_rendezvous::wire::{ErrorCode, HelperIdentity};
use tandem_rendezvous::{ClientError, MailboxClient};

/// A helper's mailbox connection with a code, identified by a bare `name` (the test
/// rendezvous allows it).
pub async fn dev_helper(url: &str, name: &str) -> (MailboxClient, Allocation) {
    let mut helper = MailboxClient::connect(url, None).await.expect("connect");
    let allocation = helper
        .allocate(HelperIdentity::Dev { name: name.into() })
        .await
        .expect("allocate");
    (helper, allocation)
}

/// A helper that stops reading while the sharer sends 64 KiB messages: the sharer is told
/// `mailbox_overflow` long before the server has taken everything it sent. Run with the
/// memory store (`tests/tests/e2e/security.rs`) and Redis (`tests/tests/e2e/redis.rs`).
pub async fn stalled_reader_is_refused(helper_url: &str, sharer_url: &str) {
    let (helper, allocation) = dev_helper(helper_url, "Anna Rossi").await;
    let mut sharer = MailboxClient::connect(sharer_url, None)
        .await
        .expect("connect");
    sharer.join(&allocation.nameplate).await.expect("join");
    // From here the helper reads nothing. The sharer sends 400 × 64 KiB (26 MB as
    // base64): far more than the server may keep for a reader that does not read.
    let body = vec![0x5au8; 64 * 1024];
    let mut sent = 0usize;
    while sent < 400 && sharer.send(&body).await.is_ok() {
        sent += 1;
    }
    let answer = tokio::time::timeout(Duration::from_secs(60), sharer.recv())
        .await
        .expect("an answer within the hang guard");
    match answer {
        Err(ClientError::Refused { code, .. }) => {
            assert_eq!(code, ErrorCode::MailboxOverflow, "after {sent} messages")
        }
        other => panic!("expected mailbox_overflow after {sent} messages, got {other:?}"),
    }
    drop(helper);
}
