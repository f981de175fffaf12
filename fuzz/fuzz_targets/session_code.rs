//! What a sharer types into the code box (or the terminal).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_crypto::SessionCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = SessionCode::parse(text) {
        // A code that parses prints as one that parses to itself.
        let shown = code.to_string();
        assert_eq!(SessionCode::parse(&shown).expect("round trip").to_string(), shown);
    }
});
