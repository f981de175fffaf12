//! A TURN client's byte stream over TLS as the embedded server splits it into messages,
//! and each message through the relay guard (both directions).
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tandem_rendezvous::turn_framing::{frame_len, MAX_FRAME};
use tandem_rendezvous::turn_guard::{PeerPolicy, TurnGuard, TurnQuotas};

fuzz_target!(|data: &[u8]| {
    let guard = TurnGuard::new(
        PeerPolicy {
            allow: vec![],
            own: vec!["203.0.113.1".parse().expect("ip")],
        },
        TurnQuotas::default(),
    );
    let local: SocketAddr = "203.0.113.1:443".parse().expect("addr");
    let client: SocketAddr = "198.51.100.7:50000".parse().expect("addr");
    let now = Instant::now();
    let mut rest = data;
    loop {
        match frame_len(rest) {
            Ok(Some(len)) => {
                assert!(len <= rest.len() && len <= MAX_FRAME && len > 0);
                let (frame, tail) = rest.split_at(len);
                let _ = guard.inbound(local, client, frame, now);
                let _ = guard.outbound(local, client, frame, now);
                rest = tail;
            }
            Ok(None) | Err(_) => break,
        }
    }
    // Any bytes at all, as one UDP datagram.
    let _ = guard.inbound(local, client, data, now);
    let _ = guard.outbound(local, client, data, now);
});
