//! The control stream: one length-prefixed JSON message after another from the peer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::protocol::{frame_message, Control, MAX_CONTROL_LEN};

fuzz_target!(|data: &[u8]| {
    // As the reader sees the stream: a 4-byte length, then the body, repeatedly.
    let mut rest = data;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_CONTROL_LEN {
            break; // the reader refuses it: a protocol violation
        }
        let Some(body) = rest.get(4..4 + len) else {
            break;
        };
        rest = &rest[4 + len..];
        if let Ok(msg) = serde_json::from_slice::<Control>(body) {
            if let Control::CursorShape(picture) = &msg {
                let _ = picture.is_valid();
            }
            let _ = msg.is_lossy();
            // What was read can be written back within the limit it was read under.
            let framed = frame_message(&msg).expect("a message read can be framed");
            assert!(framed.len() <= 4 + MAX_CONTROL_LEN * 6);
        }
    }
});
