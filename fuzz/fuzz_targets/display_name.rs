//! An identity provider's claims → the name a sharer sees: whatever the claims hold, the
//! name is short and made only of letters, marks, spaces and `-'.`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rendezvous::display_name::{abbreviate, NameClaims};
use tandem_rendezvous::introduction::clean_affiliation;

fn check(shown: &str) {
    assert!(shown.chars().count() <= 32, "{shown:?}");
    assert!(!shown.starts_with(' ') && !shown.ends_with(' '));
    for c in shown.chars() {
        assert!(
            c == ' ' || "-'.".contains(c) || c.is_alphabetic() || !c.is_control(),
            "{shown:?}"
        );
        assert!(!c.is_control() && !c.is_whitespace() || c == ' ', "{shown:?}");
        assert!(!matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{2800}' | '\u{3164}' | '\u{115f}' | '\u{1160}' | '\u{ffa0}'), "{shown:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = serde_json::from_slice::<NameClaims>(data) {
        if let Some(shown) = claims.shown_name() {
            check(&shown);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(shown) = abbreviate(text) {
            check(&shown);
            // Cleaning twice changes nothing: the sharer's app cleans what the rendezvous did.
            assert_eq!(abbreviate(&shown).as_deref(), Some(shown.as_str()));
        }
        if let Some(org) = clean_affiliation(text) {
            assert!(org.chars().count() <= 64);
            assert!(!org.chars().any(char::is_control));
        }
    }
});
