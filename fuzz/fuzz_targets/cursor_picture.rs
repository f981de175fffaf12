//! The pointer's picture from the sharer: checked before anyone draws it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::protocol::CursorPicture;
use tandem_proto::screen::MAX_CURSOR_SIDE;

fuzz_target!(|data: &[u8]| {
    if let Ok(picture) = serde_json::from_slice::<CursorPicture>(data) {
        if picture.is_valid() {
            assert!(picture.width <= MAX_CURSOR_SIDE && picture.height <= MAX_CURSOR_SIDE);
            assert!(picture.hot_x < picture.width && picture.hot_y < picture.height);
        }
    }
});
