//! The helper's input stream, as the sharer reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::input::{InputEvent, PointerButton, MAX_INPUT_LEN};

fuzz_target!(|data: &[u8]| {
    if data.len() <= MAX_INPUT_LEN {
        if let Ok(event) = serde_json::from_slice::<InputEvent>(data) {
            let again = serde_json::to_vec(&event).expect("encodes");
            assert_eq!(
                serde_json::from_slice::<InputEvent>(&again).expect("decodes"),
                event
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<PointerButton>();
    }
});
