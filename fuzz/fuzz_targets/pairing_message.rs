//! The peer's pairing messages (SPAKE2, then the Noise handshake), as they arrive through
//! the rendezvous: each chunk is one message (a length byte, then the bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_crypto::{Pairing, PairingRole, SessionCode};

fuzz_target!(|data: &[u8]| {
    let code = SessionCode::parse("ABCD-EFGH").expect("code");
    for role in [PairingRole::Helper, PairingRole::Sharer] {
        let mut pairing = Pairing::new(role, &code);
        while pairing.poll_transmit().is_some() {}
        let mut rest = data;
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len).min(tail.len());
            let (msg, tail) = tail.split_at(len);
            rest = tail;
            if pairing.handle_message(msg).is_err() {
                break;
            }
            while pairing.poll_transmit().is_some() {}
        }
    }
});
