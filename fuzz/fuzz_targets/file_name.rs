//! The name a file offer arrives under: the receiver's check never panics, whatever a
//! sender cleans is accepted, and a name already accepted is cleaned to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_proto::file::{check_file_name, clean_file_name};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let clean = clean_file_name(name);
    assert_eq!(check_file_name(&clean), Ok(()), "{name:?} → {clean:?}");
    if check_file_name(name).is_ok() {
        assert_eq!(clean, name);
    }
});
