//! The peer's pairing messages (SPAKE2, then the Noise handshake), as they arrive through
//! the rendezvous. The first byte picks this side's role; then each chunk is one message (a
//! length byte, then the bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_crypto::{Pairing, PairingRole, SessionCode};

fuzz_target!(|data: &[u8]| {
    let Some((&role, mut rest)) = data.split_first() else {
        return;
    };
    let role = if role & 1 == 0 {
        PairingRole::Helper
    } else {
        PairingRole::Sharer
    };
    let code = SessionCode::parse("ABC-DEF-GH3").expect("code");
    let mut pairing = Pairing::new(role, &code);
    while pairing.poll_transmit().is_some() {}
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (msg, tail) = tail.split_at(len);
        rest = tail;
        if pairing.handle_message(msg).is_err() {
            break;
        }
        while pairing.poll_transmit().is_some() {}
    }
    if pairing.is_established() {
        let _ = pairing.into_channel();
    }
});
