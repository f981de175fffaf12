//! End-to-end sessions between real processes: `tandem-rendezvous` and two `tandem`s.

use std::time::{Duration, Instant};

use tandem_tests::hostile::{Attack, HostileRendezvous};
use tandem_tests::{helper_with_code, mistyped, wrong_secret, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

fn is_frame(v: &serde_json::Value) -> bool {
    v["event"] == "frame_received"
}

#[test]
fn full_session_with_chat_pause_resume_and_end() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    assert!(
        code.len() == 11 && code.as_bytes()[3] == b'-' && code.as_bytes()[7] == b'-',
        "code {code} should read as three groups of three"
    );

    // The sharer types the code the way people do when listening on the phone.
    let typed = code.to_lowercase().replace('-', " ");
    let mut sharer = Peer::share(&rv.url, &typed, &[]);
    let asked = sharer.wait_for("consent_requested", T);
    assert_eq!(asked["helper_name"], "Anna R.");
    helper.wait_for("paired", T);
    sharer.type_line("y");
    helper.wait_for("consent_given", T);
    let connected = helper.wait_for("connected", T);
    assert_eq!(connected["path"]["kind"], "direct");

    // At least 60 decoded frames, with sane content.
    let mut last_seq = None;
    for _ in 0..60 {
        let f = helper.wait_for("frame_received", T);
        assert_eq!(
            (f["width"].as_u64(), f["height"].as_u64()),
            (Some(640), Some(360))
        );
        assert!(f["bytes"].as_u64().unwrap_or(0) > 0);
        let seq = f["seq"].as_u64().expect("seq");
        if let Some(prev) = last_seq {
            assert!(seq > prev, "frames decoded in order: {prev} then {seq}");
        }
        last_seq = Some(seq);
    }

    // Chat both ways.
    helper.type_line("Can you open the settings?");
    let chat = sharer.wait_for("chat", T);
    assert_eq!(chat["from"], "helper");
    assert_eq!(chat["text"], "Can you open the settings?");
    sharer.type_line("Sure, one moment");
    let chat = helper
        .wait_until(T, |v| v["event"] == "chat")
        .expect("chat to helper");
    assert_eq!(chat["from"], "sharer");
    assert_eq!(chat["text"], "Sure, one moment");

    // Pause stops frames (a few already in flight may still land), resume restarts them.
    sharer.type_line("/pause");
    helper.wait_for("paused", T);
    helper.count_for(Duration::from_millis(300), is_frame);
    let during_pause = helper.count_for(Duration::from_millis(1500), is_frame);
    assert_eq!(during_pause, 0, "frames kept coming while paused");
    sharer.type_line("/resume");
    helper.wait_for("resumed", T);
    // Frames come again (a moving picture: every one new).
    for n in 0..5 {
        helper
            .wait_until(T, is_frame)
            .unwrap_or_else(|| panic!("only {n} frames after the resume: {}", helper.history()));
    }

    // The helper ends; both exit cleanly and say why.
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
    assert_eq!(
        helper.find("ended").expect("helper ended")["reason"],
        "helper_ended"
    );
    assert_eq!(
        sharer.find("ended").expect("sharer ended")["reason"],
        "helper_ended"
    );
}

/// A misheard symbol is caught by the sharer's own `tandem` before it asks anything of
/// the rendezvous: a listener in its place sees no connection, the helper's code is not
/// spent, and the corrected code opens the session.
#[test]
fn a_mistyped_code_is_refused_locally_and_the_code_still_works() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let typo = mistyped(&code);

    let watcher = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    watcher.set_nonblocking(true).expect("nonblocking");
    let watched = format!("ws://{}", watcher.local_addr().expect("address"));
    for rendezvous in [watched.as_str(), rv.url.as_str()] {
        let mut sharer = Peer::share(rendezvous, &typo, &[]);
        assert_eq!(sharer.wait_exit(T).code(), Some(2));
        let err = sharer.find("error").expect("an error event");
        assert_eq!(err["kind"], "mistyped_code", "{err}");
        assert_eq!(err["typed"], typo.as_str(), "{err}");
    }
    assert!(
        matches!(watcher.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the rendezvous must not be contacted for a typo"
    );

    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    helper.wait_for("paired", T);
    assert_eq!(helper.count("code_retired"), 0);
}

#[test]
fn wrong_code_burns_the_nameplate_and_tells_the_helper() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &wrong_secret(&code), &[]);
    assert!(!sharer.wait_exit(T).success());
    let err = sharer.find("error").expect("sharer error");
    assert_eq!(err["kind"], "wrong_code", "{err}");
    assert_eq!(sharer.count("consent_requested"), 0);

    // The helper is told, and gets a fresh code at once instead of having to start again.
    let retired = helper.wait_for("code_retired", T);
    assert_eq!(retired["reason"], "wrong_code", "{retired}");
    let fresh = helper.code(T);
    assert_ne!(fresh, code);

    // The right code no longer works: one guess per code.
    let mut again = Peer::share(&rv.url, &code, &[]);
    assert!(!again.wait_exit(T).success());
    assert_eq!(again.find("error").expect("error")["kind"], "used_code");

    // The new one does: the same helper process, a normal session.
    let mut sharer = Peer::share(&rv.url, &fresh, &[]);
    let asked = sharer.wait_for("consent_requested", T);
    assert_eq!(asked["helper_name"], "Anna R.");
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

#[test]
fn unknown_and_expired_codes_get_distinct_errors() {
    let rv = Rendezvous::start(&["--code-ttl-secs", "1"]);
    let (mut helper, code) = helper_with_code(&rv.url);
    std::thread::sleep(Duration::from_millis(1500));
    let mut late = Peer::share(&rv.url, &code, &[]);
    assert!(!late.wait_exit(T).success());
    assert_eq!(late.find("error").expect("error")["kind"], "expired_code");
    assert!(!helper.wait_exit(T).success());
    assert_eq!(helper.find("error").expect("error")["kind"], "expired_code");

    // Nameplate nobody allocated (the rendezvous is fresh apart from the one above).
    let unknown = if code.starts_with("ZZZ-Z") {
        "YYY-YYY-YYW"
    } else {
        "ZZZ-ZZZ-ZZR"
    };
    let mut nobody = Peer::share(&rv.url, unknown, &[]);
    assert!(!nobody.wait_exit(T).success());
    assert_eq!(nobody.find("error").expect("error")["kind"], "unknown_code");
}

#[test]
fn declining_consent_sends_zero_frames() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    // Let the path come up while the question is on screen: declining must still send nothing.
    std::thread::sleep(Duration::from_millis(500));
    sharer.type_line("n");
    assert!(sharer.wait_exit(T).success());
    assert!(helper.wait_exit(T).success());
    assert_eq!(sharer.count("frame_sent"), 0);
    assert_eq!(helper.count("frame_received"), 0);
    assert!(
        helper.find("consent_declined").is_some(),
        "{}",
        helper.history()
    );
    assert_eq!(helper.find("ended").expect("ended")["reason"], "declined");
    assert_eq!(sharer.find("ended").expect("ended")["frames"], 0);
}

fn start_streaming(rv: &Rendezvous) -> (Peer, Peer) {
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    for _ in 0..10 {
        helper.wait_for("frame_received", T);
    }
    (helper, sharer)
}

#[test]
fn killed_sharer_ends_the_helper_with_a_reason() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, mut sharer) = start_streaming(&rv);
    let killed = Instant::now();
    sharer.kill();
    let ended = helper
        .wait_until(T, |v| v["event"] == "ended")
        .unwrap_or_else(|| panic!("helper did not end: {}", helper.history()));
    assert_eq!(ended["reason"], "peer_lost");
    eprintln!(
        "helper ended {:?} after the sharer was killed",
        killed.elapsed()
    );
    let status = helper.wait_exit(T);
    assert_eq!(status.code(), Some(3));
}

#[test]
fn killed_helper_ends_the_sharer_with_a_reason() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, mut sharer) = start_streaming(&rv);
    helper.kill();
    let ended = sharer
        .wait_until(T, |v| v["event"] == "ended")
        .unwrap_or_else(|| panic!("sharer did not end: {}", sharer.history()));
    assert_eq!(ended["reason"], "peer_lost");
}

#[test]
fn hostile_rendezvous_substituting_pake_messages_gets_no_session() {
    let rv = HostileRendezvous::start(Attack::SubstitutePake);
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--pairing-timeout-secs", "3"]);
    let code = helper.code(T);
    let mut sharer = Peer::share(&rv.url, &code, &["--pairing-timeout-secs", "3"]);
    // Feed a "yes" in case anything asks: nothing may.
    sharer.type_line("y");
    assert!(!sharer.wait_exit(T).success());
    assert_eq!(
        sharer.find("error").expect("sharer error")["kind"],
        "wrong_code"
    );
    // The helper's code is spent: it offers a fresh one instead of giving up. (The hostile
    // server hides the failure from the helper, which then sees a sharer that joined and
    // left, or a pairing that failed, whichever came first.)
    let retired = helper.wait_for("code_retired", T);
    assert!(
        retired["reason"] == "wrong_code" || retired["reason"] == "abandoned",
        "{retired}"
    );
    helper.wait_for("code_issued", T);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    for peer in [&helper, &sharer] {
        for forbidden in [
            "paired",
            "consent_requested",
            "connected",
            "frame_sent",
            "frame_received",
        ] {
            assert_eq!(
                peer.count(forbidden),
                0,
                "[{}] saw {forbidden}: {}",
                peer.name,
                peer.history()
            );
        }
    }
}

#[test]
fn hostile_rendezvous_tampering_with_signals_gets_no_session() {
    let rv = HostileRendezvous::start(Attack::TamperAfterPairing);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    // The code was right, so the sharer may be asked; even a "yes" must not start anything.
    // (It may also have refused the tampered signal already and exited.)
    if sharer
        .wait_until(Duration::from_secs(5), |v| {
            v["event"] == "consent_requested" || v["event"] == "error"
        })
        .is_some_and(|v| v["event"] == "consent_requested")
    {
        sharer.try_type_line("y");
    }
    assert!(!sharer.wait_exit(T).success());
    assert!(!helper.wait_exit(T).success());
    for peer in [&helper, &sharer] {
        assert_eq!(
            peer.find("error").expect("error")["kind"],
            "protocol",
            "[{}]",
            peer.name
        );
        for forbidden in ["connected", "frame_sent", "frame_received"] {
            assert_eq!(
                peer.count(forbidden),
                0,
                "[{}] saw {forbidden}: {}",
                peer.name,
                peer.history()
            );
        }
    }
    // The sharer's own "yes" is local; an altered consent never convinces the helper.
    assert_eq!(helper.count("consent_given"), 0, "{}", helper.history());
}

#[test]
fn a_name_the_sharers_rendezvous_did_not_sign_is_refused() {
    let rv = HostileRendezvous::start(Attack::ForeignIntroduction);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    assert!(!sharer.wait_exit(T).success());
    let error = sharer.find("error").expect("sharer error");
    assert_eq!(error["kind"], "introduction_refused", "{error}");
    for forbidden in ["paired", "consent_requested", "connected"] {
        assert_eq!(sharer.count(forbidden), 0, "{}", sharer.history());
    }
    // The sharer said why it stopped; the helper ends without a session.
    helper.try_type_line("/end");
    helper.wait_exit(T);
    assert_eq!(helper.count("consent_given"), 0, "{}", helper.history());
    assert_eq!(helper.count("connected"), 0, "{}", helper.history());
}

#[test]
fn annotations_reach_the_sharer_in_its_pixels_and_not_while_paused() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("monitors", T);
    helper.wait_for("frame_received", T);

    // In a 320×180 view of the 640×360 picture: the sharer gets ×2.
    helper.type_line("/view 320x180");
    helper.type_line("/pen blue 10 20 30 40 50 60");
    let start = sharer.wait_for("annotation", T);
    assert_eq!(start["op"], "stroke_start");
    assert_eq!(start["colour"], "blue");
    assert_eq!(
        (start["x"].as_u64(), start["y"].as_u64()),
        (Some(20), Some(40))
    );
    let to = sharer.wait_for("annotation", T);
    assert_eq!(to["op"], "stroke_to");
    assert_eq!(to["id"], start["id"]);
    assert_eq!(to["points"], serde_json::json!([[60, 80], [100, 120]]));
    helper.type_line("/laser 160 90");
    let laser = sharer.wait_for("annotation", T);
    assert_eq!(
        (
            laser["op"].as_str(),
            laser["x"].as_u64(),
            laser["y"].as_u64()
        ),
        (Some("laser"), Some(320), Some(180))
    );
    helper.type_line("/clear");
    assert_eq!(sharer.wait_for("annotation", T)["op"], "clear");

    // Paused by the sharer: nothing is drawn on its screen.
    sharer.type_line("/pause");
    helper.wait_for("paused", T);
    helper.type_line("/pen 1 1 2 2");
    let drawn = sharer.count_for(Duration::from_millis(1500), |v| v["event"] == "annotation");
    assert_eq!(drawn, 0, "annotations while paused");
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}
