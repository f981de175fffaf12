//! SIGTERM: the rendezvous stops taking connections, lets the mailboxes in flight finish,
//! then exits.

use std::time::Duration;

use tandem_tests::{helper_with_code, Peer, Rendezvous};

/// A hang guard, never the thing tested.
const T: Duration = Duration::from_secs(20);

#[test]
fn sigterm_lets_live_mailboxes_finish_and_refuses_new_ones() {
    let mut rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    // A session in the middle of its set-up: paired, the sharer asked for consent, the
    // mailbox still carrying signals.
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &rv.pid().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    rv.wait_for_log("draining", 1, T);

    // No new connection during the drain…
    let mut late = Peer::assist(&rv.url, "Marco Bianchi", &[]);
    let error = late.wait_for("error", T);
    assert_eq!(error["kind"], "rendezvous_unreachable", "{error}");
    assert!(rv.try_wait().is_none(), "exited with a mailbox in flight");

    // …but the live mailbox finishes: the person's answer still travels through it, and
    // the session starts.
    sharer.type_line("y");
    helper.wait_for("consent_given", T);
    helper.wait_for("frame_received", T);

    // The session no longer needs the mailbox: the server exits on its own.
    let deadline = std::time::Instant::now() + T;
    let status = loop {
        if let Some(status) = rv.try_wait() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after the drain"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // And the session goes on without it.
    helper.drain();
    helper.wait_for("frame_received", T);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}
