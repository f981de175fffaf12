//! The rendezvous's WebSocket messages, both ways (the server reads clients', the apps read
//! the server's), and the introduction a helper forwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_rendezvous::introduction::IntroducerKey;
use tandem_rendezvous::wire::{ClientMessage, ServerMessage, SignedIntroduction};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json::from_str::<ClientMessage>(text);
    if let Ok(ServerMessage::Allocated { introduction, .. }) =
        serde_json::from_str::<ServerMessage>(text)
    {
        let keys = [IntroducerKey {
            id: introduction.key_id.clone(),
            public_key: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        }];
        let _ = introduction.verify(&keys, "ABCD", 0);
    }
    if let Ok(introduction) = serde_json::from_str::<SignedIntroduction>(text) {
        let keys = [IntroducerKey {
            id: introduction.key_id.clone(),
            public_key: introduction.statement.chars().take(43).collect(),
        }];
        let _ = introduction.verify(&keys, "ABCD", 0);
    }
});
